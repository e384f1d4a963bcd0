/* sslshim.c - a tiny library with SONAME libssl.so that gives civetweb 1.15
 * the OpenSSL 1.1 symbol it still looks up on OpenSSL 3 (civetweb issue 1334;
 * see STACK-NOTES "civetweb 1.15 with OpenSSL 3"). */
#include <openssl/ssl.h>

/* OpenSSL 3 turned this function into a macro for SSL_get1_peer_certificate
 * and stopped exporting it. civetweb resolves its libssl functions with
 * dlsym() on dlopen("libssl.so"), which returns this library once it is
 * linked into the program (the loader matches the SONAME); its dependency,
 * the real libssl.so.3, supplies every other SSL_* symbol through the same
 * handle. */
#undef SSL_get_peer_certificate

/* Same contract as in OpenSSL 1.1: returns a new reference to the peer's
 * certificate (the caller, civetweb, frees it with X509_free) or NULL. */
X509 *SSL_get_peer_certificate(const SSL *s);

X509 *SSL_get_peer_certificate(const SSL *s)
{
	return SSL_get1_peer_certificate(s);
}
