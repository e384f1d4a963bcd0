/* tls.h - OpenSSL helpers shared by the TLS set-up of the HTTPS server
 * (http.c) and client (httpc.c); included by those files only, since it
 * exposes OpenSSL types. */
#ifndef SMDP_TLS_H
#define SMDP_TLS_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Certificates of a PEM file (every CERTIFICATE block) or of a DER file
 * holding exactly one certificate, file at most max bytes. Caller frees with
 * sk_X509_pop_free(sk, X509_free). NULL on error or if there is none. */
STACK_OF(X509) *tls_load_certs(const char *path, size_t max);
/* Text of the oldest queued OpenSSL error into buf ("" if none); clears the
 * error queue so the next TLS call on this thread starts clean. */
const char *tls_err_text(char *buf, size_t n);

#endif /* SMDP_TLS_H */
