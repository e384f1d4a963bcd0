/* tls.c - OpenSSL helpers shared by http.c (server) and httpc.c (client). */
#include "smdp.h"
#include "tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>

STACK_OF(X509) *tls_load_certs(const char *path, size_t max)
{
	STACK_OF(X509) *sk = NULL, *ret = NULL;
	struct buf f = { 0 };
	BIO *bio = NULL;
	X509 *x = NULL;

	if (file_read(path, max, &f) != 0 || f.len == 0)
		goto out;
	sk = sk_X509_new_null();
	if (!sk)
		goto out;
	if (!(f.len > 4 && f.p[0] == 0x30 && f.p[1] >= 0x81 && f.p[1] <= 0x84)) {
		/* not a DER SEQUENCE with a long-form length: PEM text */
		bio = BIO_new_mem_buf(f.p, (int)f.len);
		if (!bio)
			goto out;
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			if (!sk_X509_push(sk, x))
				goto out;
			x = NULL;
		}
		ERR_clear_error(); /* the end of the file reads as an error */
	} else {
		const unsigned char *p = f.p;

		x = d2i_X509(NULL, &p, (long)f.len);
		if (!x || p != f.p + f.len || !sk_X509_push(sk, x))
			goto out;
		x = NULL;
	}
	if (sk_X509_num(sk) == 0)
		goto out;
	ret = sk;
	sk = NULL;
out:
	X509_free(x);
	sk_X509_pop_free(sk, X509_free);
	BIO_free(bio);
	buf_free(&f);
	return ret;
}

const char *tls_err_text(char *buf, size_t n)
{
	unsigned long e = ERR_get_error();

	buf[0] = '\0';
	if (e)
		ERR_error_string_n(e, buf, n);
	ERR_clear_error();
	return buf;
}
