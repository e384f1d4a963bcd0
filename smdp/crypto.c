/* crypto.c - the OpenSSL 3.0 seam: EC keys (SGP.22 2.6.5), ECDSA r||s, ECDH, X9.63 KDF, AES, CMAC,
 * X.509 helpers, and certificate/CRL issuance and CRL checks for smdp-pki and pki.c. */
#include "smdp.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Largest PEM file we read for one certificate (base64 plus text around it). */
#define CRYPTO_MAX_PEM_FILE (16 * 1024)
/* Largest private key PEM file. */
#define CRYPTO_MAX_KEY_FILE (16 * 1024)
/* SGP.22 v3 permittedEins extension (SEQUENCE OF PrintableString). */
#define OID_PERMITTED_EINS "2.23.146.1.2.2.0"

struct crypto_key {
	EVP_PKEY *pk;
	enum crypto_curve curve;        /* read once from pk (key_wrap) */
	/* handles on this key (crypto_key_ref): the last crypto_key_free frees
	 * it. Our own count, with release/acquire ordering, rather than
	 * OpenSSL's (whose decrement is relaxed in 3.0, and invisible to
	 * ThreadSanitizer in an uninstrumented libcrypto). */
	atomic_int refs;
};

struct crypto_cert {
	X509 *x;
	uint8_t *der;    /* the bytes we were given, exactly */
	size_t der_len;
	int lite;        /* crypto_cert_from_der_lite: no decoded public key */
};

/* Log the first queued OpenSSL error at debug level and empty the queue:
 * a stale error left on a worker thread would confuse SSL_get_error() in
 * the TLS code that runs on the same thread later. */
static void ossl_fail(const char *what)
{
	unsigned long e = ERR_peek_error();
	char msg[256];

	if (e) {
		ERR_error_string_n(e, msg, sizeof(msg));
		log_debug("crypto: %s: %s", what, msg);
	} else {
		log_debug("crypto: %s failed", what);
	}
	ERR_clear_error();
}

static const char *curve_group(enum crypto_curve c)
{
	switch (c) {
	case CURVE_NIST_P256:
		return "prime256v1";
	case CURVE_BRAINPOOL_P256R1:
		return "brainpoolP256r1";
	default:
		return NULL;
	}
}

static enum crypto_curve pkey_curve(const EVP_PKEY *pk)
{
	char name[64];

	if (!pk || !EVP_PKEY_is_a(pk, "EC"))
		return CURVE_NONE;
	if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, name,
					    sizeof(name), NULL)) {
		ERR_clear_error();
		return CURVE_NONE;
	}
	if (!strcasecmp(name, "prime256v1") || !strcasecmp(name, "P-256") ||
	    !strcasecmp(name, "secp256r1"))
		return CURVE_NIST_P256;
	if (!strcasecmp(name, "brainpoolP256r1"))
		return CURVE_BRAINPOOL_P256R1;
	return CURVE_NONE;
}

static crypto_key *key_wrap(EVP_PKEY *pk)
{
	crypto_key *k;

	if (!pk)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	k->pk = pk;
	k->curve = pkey_curve(pk);
	atomic_init(&k->refs, 1);
	return k;
}

/* Domain parameters of each curve, made once per process: a public key
 * built from a point copies them from here instead of creating the group
 * from its name each time (a fifth of the cost of the key agreement).
 * Immutable after the pthread_once, so shared by all threads; like
 * OpenSSL's own built-in tables, it lives as long as the process. */
static pthread_once_t params_once = PTHREAD_ONCE_INIT;
static EVP_PKEY *curve_params[2];   /* [0] NIST P-256, [1] brainpoolP256r1 */
/* Likewise the symmetric algorithms of SCP03t, fetched once instead of
 * looked up by name for every segment (NULL: fetched at each use). */
static EVP_CIPHER *alg_aes_cbc, *alg_aes_ecb;
static EVP_MAC_CTX *alg_cmac;       /* CMAC with AES-128 chosen */
/* A library context with no algorithms (the "null" provider): certificates
 * parsed in it skip OpenSSL 3.0's decoding of their public key through the
 * provider decoders (crypto_cert_from_der_lite) */
static OSSL_LIB_CTX *lite_ctx;
static OSSL_PROVIDER *lite_null;

static void params_init(void)
{
	static const enum crypto_curve cs[2] = { CURVE_NIST_P256, CURVE_BRAINPOOL_P256R1 };
	static const uint8_t zero_key[16];
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
	char cipher[] = "AES-128-CBC";
	OSSL_PARAM p[2];

	alg_aes_cbc = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
	alg_aes_ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0);
	p[1] = OSSL_PARAM_construct_end();
	/* keyed once with zeros: OpenSSL copies only a keyed CMAC context;
	 * each use sets its own key on the copy */
	if (mac && (alg_cmac = EVP_MAC_CTX_new(mac)) &&
	    EVP_MAC_init(alg_cmac, zero_key, sizeof(zero_key), p) != 1) {
		EVP_MAC_CTX_free(alg_cmac);
		alg_cmac = NULL;
	}
	EVP_MAC_free(mac);
	if ((lite_ctx = OSSL_LIB_CTX_new()) && !(lite_null = OSSL_PROVIDER_load(lite_ctx, "null"))) {
		OSSL_LIB_CTX_free(lite_ctx);
		lite_ctx = NULL;
	}
	ERR_clear_error();
	for (int i = 0; i < 2; i++) {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		if (!ctx || EVP_PKEY_paramgen_init(ctx) != 1 ||
		    EVP_PKEY_CTX_set_group_name(ctx, curve_group(cs[i])) != 1 ||
		    EVP_PKEY_paramgen(ctx, &curve_params[i]) != 1)
			ossl_fail("EC parameters");
		EVP_PKEY_CTX_free(ctx);
	}
}

void crypto_release(void)
{
	for (int i = 0; i < 2; i++) {
		EVP_PKEY_free(curve_params[i]);
		curve_params[i] = NULL;
	}
	EVP_CIPHER_free(alg_aes_cbc);
	EVP_CIPHER_free(alg_aes_ecb);
	EVP_MAC_CTX_free(alg_cmac);
	alg_aes_cbc = alg_aes_ecb = NULL;
	alg_cmac = NULL;
	OSSL_PROVIDER_unload(lite_null);
	OSSL_LIB_CTX_free(lite_ctx);
	lite_null = NULL;
	lite_ctx = NULL;
}

static const EVP_PKEY *params_of(enum crypto_curve c)
{
	pthread_once(&params_once, params_init);
	return c == CURVE_NIST_P256 ? curve_params[0] :
	       c == CURVE_BRAINPOOL_P256R1 ? curve_params[1] : NULL;
}

const char *crypto_curve_name(enum crypto_curve c)
{
	switch (c) {
	case CURVE_NIST_P256:
		return "NIST P-256";
	case CURVE_BRAINPOOL_P256R1:
		return "brainpoolP256r1";
	default:
		return "none";
	}
}

int crypto_random(uint8_t *out, size_t n)
{
	if (n > INT_MAX)
		return -1;
	if (n == 0)
		return 0;
	if (RAND_bytes(out, (int)n) != 1) {
		ossl_fail("RAND_bytes");
		return -1;
	}
	return 0;
}

/* On an internal failure (out of memory) out is zeroed: callers compare
 * hashes, and a zero hash will not match anything real. */
void crypto_sha256(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		   uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int olen = 0;

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    (alen && EVP_DigestUpdate(ctx, a, alen) != 1) ||
	    (blen && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &olen) != 1 || olen != 32) {
		ossl_fail("sha256");
		memset(out, 0, 32);
	}
	EVP_MD_CTX_free(ctx);
}

void crypto_cleanse(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

/* ------------------------------------------------------------------ */
/* Keys */

crypto_key *crypto_key_load(const char *path)
{
	struct buf pem = { 0 };
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;
	crypto_key *k = NULL;

	if (file_read(path, CRYPTO_MAX_KEY_FILE, &pem)) {
		log_error("crypto: cannot read key %s", path);
		goto out;
	}
	if (pem.len > INT_MAX || !(bio = BIO_new_mem_buf(pem.p, (int)pem.len)))
		goto out;
	/* skips an "EC PARAMETERS" block in front of the key, as in SGP.26 files */
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (!pk) {
		ossl_fail("PEM_read_bio_PrivateKey");
		log_error("crypto: no private key in %s", path);
		goto out;
	}
	if (pkey_curve(pk) == CURVE_NONE) {
		log_error("crypto: key %s is not on NIST P-256 or brainpoolP256r1", path);
		goto out;
	}
	k = key_wrap(pk);
	pk = NULL;
out:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	buf_wipe(&pem);
	return k;
}

crypto_key *crypto_key_generate(enum crypto_curve c)
{
	const EVP_PKEY *params = params_of(c);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	crypto_key *k = NULL;

	if (!params)
		goto out;
	/* from the curve's parameters made once (params_of), not its name */
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, (EVP_PKEY *)params, NULL);
	if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_keygen(ctx, &pk) != 1) {
		ossl_fail("EC keygen");
		goto out;
	}
	k = key_wrap(pk);
	pk = NULL;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	return k;
}

crypto_key *crypto_key_from_point(enum crypto_curve c, const uint8_t *pt, size_t len)
{
	const EVP_PKEY *params = params_of(c);
	EVP_PKEY *pk = NULL;
	crypto_key *k = NULL;

	/* 04 || X || Y only: that encoding cannot name the point at infinity,
	 * and OpenSSL refuses a point that is not on the curve. Both curves
	 * have cofactor 1, so every point on the curve is in the prime-order
	 * subgroup: a full public-key check (a scalar multiplication) would
	 * prove nothing more. */
	if (!params || !pt || len != SMDP_POINT_LEN || pt[0] != 0x04)
		goto out;
	pk = EVP_PKEY_new();
	if (!pk || EVP_PKEY_copy_parameters(pk, (EVP_PKEY *)params) != 1 ||
	    EVP_PKEY_set1_encoded_public_key(pk, pt, len) != 1) {
		ossl_fail("EC public key from a point");
		goto out;
	}
	k = key_wrap(pk);
	pk = NULL;
out:
	EVP_PKEY_free(pk);
	return k;
}

int crypto_key_point(const crypto_key *k, uint8_t out[SMDP_POINT_LEN])
{
	BIGNUM *x = NULL, *y = NULL;
	size_t len = 0;
	int rc = -1;

	if (!k || k->curve == CURVE_NONE)
		goto out;
	/* the usual case, generated or built from a point: uncompressed */
	if (EVP_PKEY_get_octet_string_param(k->pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out,
					    SMDP_POINT_LEN, &len) == 1 &&
	    len == SMDP_POINT_LEN && out[0] == 0x04) {
		rc = 0;
		goto out;
	}
	ERR_clear_error();
	/* X and Y separately: the encoded PUB_KEY follows the key's point
	 * format, which may be compressed for keys read from files */
	if (!EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
	    !EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y)) {
		ossl_fail("get EC point");
		goto out;
	}
	out[0] = 0x04;
	if (BN_bn2binpad(x, out + 1, 32) != 32 || BN_bn2binpad(y, out + 33, 32) != 32)
		goto out;
	rc = 0;
out:
	BN_free(x);
	BN_free(y);
	return rc;
}

enum crypto_curve crypto_key_curve(const crypto_key *k)
{
	return k ? k->curve : CURVE_NONE;
}

int crypto_key_matches_cert(const crypto_key *priv, const crypto_cert *cert)
{
	EVP_PKEY *pub;
	EVP_PKEY_CTX *ctx = NULL;
	int rc = 0;

	if (!priv || !cert)
		goto out;
	pub = X509_get0_pubkey(cert->x);
	if (!pub || EVP_PKEY_eq(pub, priv->pk) != 1)
		goto out;
	/* the public part stored in a key file is not checked on load: make
	 * sure the private scalar really produces it */
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv->pk, NULL);
	if (!ctx || EVP_PKEY_pairwise_check(ctx) != 1)
		goto out;
	rc = 1;
out:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

crypto_key *crypto_key_ref(const crypto_key *k)
{
	crypto_key *r = (crypto_key *)(uintptr_t)k;   /* only refs changes */

	if (!r)
		return NULL;
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	return r;
}

void crypto_key_free(crypto_key *k)
{
	if (!k || atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) != 1)
		return;
	EVP_PKEY_free(k->pk);
	free(k);
}

/* ------------------------------------------------------------------ */
/* ECDSA, ECDH, KDF */

int crypto_sign(const crypto_key *k, const uint8_t *msg, size_t n,
		uint8_t sig[SMDP_SIG_LEN])
{
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *es = NULL;
	uint8_t *der = NULL;
	const uint8_t *p;
	const BIGNUM *r, *s;
	size_t derlen = 0;
	int rc = -1;

	if (!k || k->curve == CURVE_NONE)
		goto out;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pk) != 1 ||
	    EVP_DigestSign(md, NULL, &derlen, msg, n) != 1) {
		ossl_fail("EVP_DigestSignInit");
		goto out;
	}
	der = malloc(derlen);
	if (!der || EVP_DigestSign(md, der, &derlen, msg, n) != 1) {
		ossl_fail("EVP_DigestSign");
		goto out;
	}
	/* OpenSSL gives DER; SGP.22 carries the raw r||s of BSI TR-03111 */
	p = der;
	es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	if (!es || p != der + derlen) {
		ossl_fail("d2i_ECDSA_SIG");
		goto out;
	}
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32)
		goto out;
	rc = 0;
out:
	ECDSA_SIG_free(es);
	free(der);
	EVP_MD_CTX_free(md);
	return rc;
}

int crypto_verify(const crypto_key *k, const uint8_t *msg, size_t n,
		  const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	uint8_t *der = NULL;
	int derlen, v, rc = -1;

	if (!k || k->curve == CURVE_NONE)
		goto out;
	if (!sig || siglen != SMDP_SIG_LEN) {
		rc = 0;
		goto out;
	}
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, 32, NULL);
	s = BN_bin2bn(sig + 32, 32, NULL);
	if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL; /* owned by es now */
	derlen = i2d_ECDSA_SIG(es, &der);
	if (derlen <= 0)
		goto out;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pk) != 1)
		goto out;
	v = EVP_DigestVerify(md, der, (size_t)derlen, msg, n);
	/* a well-formed signature that does not verify is "invalid", not an error */
	rc = v == 1 ? 1 : 0;
out:
	if (rc != 1)
		ossl_fail("ECDSA verify");
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	return rc;
}

int crypto_ecdh(const crypto_key *priv, const crypto_key *peer, uint8_t z[32])
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t secret[66];
	size_t slen = sizeof(secret);
	enum crypto_curve c;
	int rc = -1;

	if (!priv || !peer)
		goto out;
	c = priv->curve;
	if (c == CURVE_NONE || c != peer->curve)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv->pk, NULL);
	/* peer keys only come from crypto_key_from_point or certificates,
	 * already checked; skip set_peer's second full validation */
	if (!ctx || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, peer->pk, 0) != 1 ||
	    EVP_PKEY_derive(ctx, secret, &slen) != 1 || slen != 32) {
		ossl_fail("ECDH");
		goto out;
	}
	memcpy(z, secret, 32);
	rc = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* OpenSSL only reads the octet-string parameters; the casts drop const for
 * OSSL_PARAM's sake, nothing is written through them. */
int crypto_x963_kdf(const uint8_t *z, size_t zlen, const uint8_t *info,
		    size_t infolen, uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[4], *p = params;
	char digest[] = "SHA256";
	int rc = -1;

	if (!z || !zlen || !out || !outlen)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, zlen);
	if (info && infolen)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
							 infolen);
	*p = OSSL_PARAM_construct_end();
	kdf = EVP_KDF_fetch(NULL, "X963KDF", NULL);
	ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	if (!ctx || EVP_KDF_derive(ctx, out, outlen, params) != 1) {
		ossl_fail("X963KDF");
		goto out;
	}
	rc = 0;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* ------------------------------------------------------------------ */
/* AES and CMAC */

static int aes_run(const EVP_CIPHER *cipher, int enc, const uint8_t key[16],
		   const uint8_t *iv, const uint8_t *in, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	int l1 = 0, l2 = 0, rc = -1;

	if (n % 16 || n > INT_MAX - 16)
		goto out;
	if (n == 0) {
		rc = 0;
		goto out;
	}
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_CipherUpdate(ctx, out, &l1, in, (int)n) != 1 ||
	    EVP_CipherFinal_ex(ctx, out + l1, &l2) != 1 || (size_t)(l1 + l2) != n) {
		ossl_fail("AES");
		goto out;
	}
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

static const EVP_CIPHER *aes_cbc(void)
{
	pthread_once(&params_once, params_init);
	return alg_aes_cbc ? alg_aes_cbc : EVP_aes_128_cbc();
}

int crypto_aes_cbc_encrypt(const uint8_t key[16], const uint8_t iv[16],
			   const uint8_t *in, size_t n, uint8_t *out)
{
	return aes_run(aes_cbc(), 1, key, iv, in, n, out);
}

int crypto_aes_cbc_decrypt(const uint8_t key[16], const uint8_t iv[16],
			   const uint8_t *in, size_t n, uint8_t *out)
{
	return aes_run(aes_cbc(), 0, key, iv, in, n, out);
}

int crypto_aes_ecb_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16])
{
	pthread_once(&params_once, params_init);
	return aes_run(alg_aes_ecb ? alg_aes_ecb : EVP_aes_128_ecb(), 1, key, NULL, in, 16, out);
}

int crypto_cmac(const uint8_t key[16], const uint8_t *msg, size_t n, uint8_t out[16])
{
	EVP_MAC_CTX *ctx = NULL;
	size_t olen = 0;
	int rc = -1;

	pthread_once(&params_once, params_init);
	/* a copy of the prepared context: the cipher is not looked up again */
	ctx = alg_cmac ? EVP_MAC_CTX_dup(alg_cmac) : NULL;
	if (!ctx || EVP_MAC_init(ctx, key, 16, NULL) != 1 ||
	    (n && EVP_MAC_update(ctx, msg, n) != 1) ||
	    EVP_MAC_final(ctx, out, &olen, 16) != 1 || olen != 16) {
		ossl_fail("CMAC");
		goto out;
	}
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Certificates */

static crypto_cert *cert_parse(const uint8_t *der, size_t n, int lite)
{
	crypto_cert *c = NULL;
	const uint8_t *p = der;
	X509 *x = NULL;

	if (!der || n == 0 || n > SMDP_MAX_CERT)
		goto out;
	if (lite) {
		pthread_once(&params_once, params_init);
		if (!lite_ctx || !(x = X509_new_ex(lite_ctx, NULL)))
			goto out;
	}
	/* reusing x on failure frees it and sets it to NULL */
	if (!d2i_X509(&x, &p, (long)n)) {
		ossl_fail("d2i_X509");
		goto out;
	}
	ERR_clear_error();   /* lite: the undecoded public key's errors */
	if (p != der + n) /* trailing bytes after the certificate */
		goto out;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->der = malloc(n))) {
		free(c);
		c = NULL;
		goto out;
	}
	memcpy(c->der, der, n);
	c->der_len = n;
	c->x = x;
	c->lite = lite;
	x = NULL;
out:
	X509_free(x);
	return c;
}

crypto_cert *crypto_cert_from_der(const uint8_t *der, size_t n)
{
	return cert_parse(der, n, 0);
}

crypto_cert *crypto_cert_from_der_lite(const uint8_t *der, size_t n)
{
	return cert_parse(der, n, 1);
}

crypto_cert *crypto_cert_load(const char *path)
{
	struct buf file = { 0 };
	crypto_cert *c = NULL;
	BIO *bio = NULL;
	X509 *x = NULL;
	uint8_t *der = NULL;
	int derlen;

	if (file_read(path, CRYPTO_MAX_PEM_FILE, &file)) {
		log_error("crypto: cannot read certificate %s", path);
		goto out;
	}
	/* a DER certificate starts with its SEQUENCE tag; anything else is PEM */
	if (file.len > 0 && file.p[0] == 0x30) {
		c = crypto_cert_from_der(file.p, file.len);
		goto out;
	}
	if (file.len > INT_MAX || !(bio = BIO_new_mem_buf(file.p, (int)file.len)))
		goto out;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!x) {
		ossl_fail("PEM_read_bio_X509");
		goto out;
	}
	derlen = i2d_X509(x, &der);
	if (derlen <= 0)
		goto out;
	c = crypto_cert_from_der(der, (size_t)derlen);
out:
	if (!c)
		log_error("crypto: no certificate in %s", path);
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(bio);
	buf_free(&file);
	return c;
}

const uint8_t *crypto_cert_der(const crypto_cert *c, size_t *len)
{
	if (!c) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = c->der_len;
	return c->der;
}

crypto_cert *crypto_cert_ref(const crypto_cert *c)
{
	crypto_cert *r;

	if (!c || !(r = calloc(1, sizeof(*r))))
		return NULL;
	if (!(r->der = malloc(c->der_len ? c->der_len : 1)) || X509_up_ref(c->x) != 1) {
		free(r->der);
		free(r);
		return NULL;
	}
	memcpy(r->der, c->der, c->der_len);
	r->der_len = c->der_len;
	r->x = c->x;
	r->lite = c->lite;
	return r;
}

void crypto_cert_free(crypto_cert *c)
{
	if (!c)
		return;
	X509_free(c->x);
	free(c->der);
	free(c);
}

/* A lite certificate's key, read from its SubjectPublicKeyInfo: the curve
 * (id-ecPublicKey with a named curve we support) and the uncompressed
 * point; the point is checked when a key is made of it. CURVE_NONE when it
 * is anything else. */
static enum crypto_curve spki_ec(const crypto_cert *c, const uint8_t **pt, int *ptlen)
{
	ASN1_OBJECT *alg = NULL;
	X509_ALGOR *a = NULL;
	const void *pval = NULL;
	int ptype = 0, nid;

	if (!X509_PUBKEY_get0_param(&alg, pt, ptlen, &a, X509_get_X509_PUBKEY(c->x)) ||
	    OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey)
		return CURVE_NONE;
	X509_ALGOR_get0(NULL, &ptype, &pval, a);
	if (ptype != V_ASN1_OBJECT)
		return CURVE_NONE;
	nid = OBJ_obj2nid(pval);
	return nid == NID_X9_62_prime256v1 ? CURVE_NIST_P256 :
	       nid == NID_brainpoolP256r1 ? CURVE_BRAINPOOL_P256R1 : CURVE_NONE;
}

crypto_key *crypto_cert_pubkey(const crypto_cert *c)
{
	EVP_PKEY *pk;

	if (c && c->lite) {
		const uint8_t *pt = NULL;
		int n = 0;
		enum crypto_curve cv = spki_ec(c, &pt, &n);
		return cv == CURVE_NONE || n != SMDP_POINT_LEN ? NULL :
		       crypto_key_from_point(cv, pt, (size_t)n);
	}
	if (!c || !(pk = X509_get_pubkey(c->x))) {
		ERR_clear_error();
		return NULL;
	}
	return key_wrap(pk);
}

enum crypto_curve crypto_cert_curve(const crypto_cert *c)
{
	const uint8_t *pt;
	int n;

	if (c && c->lite)
		return spki_ec(c, &pt, &n);
	return c ? pkey_curve(X509_get0_pubkey(c->x)) : CURVE_NONE;
}

static int copy_octets(const ASN1_OCTET_STRING *os, uint8_t *out, size_t outsz)
{
	int len;

	if (!os)
		return 0;
	len = ASN1_STRING_length(os);
	if (len < 0 || (size_t)len > outsz)
		return -1;
	memcpy(out, ASN1_STRING_get0_data(os), (size_t)len);
	return len;
}

int crypto_cert_ski(const crypto_cert *c, uint8_t *out, size_t outsz)
{
	return c ? copy_octets(X509_get0_subject_key_id(c->x), out, outsz) : -1;
}

int crypto_cert_aki(const crypto_cert *c, uint8_t *out, size_t outsz)
{
	if (c && c->lite) {
		/* read directly: the extension cache of a lite certificate
		 * (x509v3_cache_extensions) wants a SHA-1 its context lacks */
		AUTHORITY_KEYID *ak = X509_get_ext_d2i(c->x, NID_authority_key_identifier, NULL,
						       NULL);
		int n = ak ? copy_octets(ak->keyid, out, outsz) : 0;
		AUTHORITY_KEYID_free(ak);
		ERR_clear_error();
		return n;
	}
	return c ? copy_octets(X509_get0_authority_key_id(c->x), out, outsz) : -1;
}

/* The signature of a lite certificate (its library context has no
 * algorithms, so X509_verify cannot run there): ecdsa-with-SHA256, the same
 * algorithm inside and outside the TBSCertificate and without parameters,
 * checked with pk over the TBSCertificate bytes as received. 1 / 0. */
static int lite_signed_by(const crypto_cert *c, EVP_PKEY *pk)
{
	const ASN1_BIT_STRING *sig = NULL;
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *oid = NULL;
	const uint8_t *p = c->der, *tbs;
	long len, tbs_len;
	int tag, cls, ptype = 0, v = 0;
	EVP_MD_CTX *md = NULL;

	X509_get0_signature(&sig, &alg, c->x);
	if (!sig || !alg || X509_ALGOR_cmp(alg, X509_get0_tbs_sigalg(c->x)))
		return 0;
	X509_ALGOR_get0(&oid, &ptype, NULL, alg);
	if (OBJ_obj2nid(oid) != NID_ecdsa_with_SHA256 || ptype != V_ASN1_UNDEF ||
	    (sig->flags & 0x07))   /* a signature is whole bytes */
		return 0;
	/* Certificate ::= SEQUENCE { tbsCertificate, ... }: d2i_X509 accepted
	 * these very bytes, so the two headers are well formed */
	if (ASN1_get_object(&p, &len, &tag, &cls, (long)c->der_len) & 0x80 ||
	    tag != V_ASN1_SEQUENCE)
		return 0;
	tbs = p;
	if (ASN1_get_object(&p, &len, &tag, &cls, (long)(c->der + c->der_len - p)) & 0x80 ||
	    tag != V_ASN1_SEQUENCE)
		return 0;
	tbs_len = (long)(p - tbs) + len;
	if ((md = EVP_MD_CTX_new()) &&
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1)
		v = EVP_DigestVerify(md, sig->data, (size_t)sig->length, tbs, (size_t)tbs_len) == 1;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return v;
}

int crypto_cert_signed_by(const crypto_cert *c, const crypto_cert *issuer)
{
	EVP_PKEY *pk;
	int v;

	if (!c || !issuer || !(pk = X509_get0_pubkey(issuer->x))) {
		ERR_clear_error();
		return -1;
	}
	if (c->lite)
		return lite_signed_by(c, pk);
	/* X509_verify gives -1 for e.g. a key of another curve: for the
	 * caller that is simply "not signed by this issuer" */
	v = X509_verify(c->x, pk);
	ERR_clear_error();
	return v == 1 ? 1 : 0;
}

int crypto_cert_validity(const crypto_cert *c, time_t now)
{
	time_t t = now;
	int nb, na;

	if (!c)
		return -1;
	/* X509_cmp_time: -1 if the certificate time is <= t, 1 if later,
	 * 0 on error; same boundary rule as OpenSSL's chain verification */
	nb = X509_cmp_time(X509_get0_notBefore(c->x), &t);
	na = X509_cmp_time(X509_get0_notAfter(c->x), &t);
	if (nb == 0 || na == 0)
		return -1;
	if (nb > 0)
		return 2;
	if (na < 0)
		return 1;
	return 0;
}

time_t crypto_cert_not_after(const crypto_cert *c)
{
	struct tm tm;

	if (!c || ASN1_TIME_to_tm(X509_get0_notAfter(c->x), &tm) != 1) {
		ERR_clear_error();
		return (time_t)-1;
	}
	return timegm(&tm);
}

int crypto_cert_has_policy(const crypto_cert *c, const char *oid)
{
	CERTIFICATEPOLICIES *pols = NULL;
	ASN1_OBJECT *want = NULL;
	int found = 0;

	if (!c || !oid)
		goto out;
	want = OBJ_txt2obj(oid, 1);
	pols = X509_get_ext_d2i(c->x, NID_certificate_policies, NULL, NULL);
	if (!want || !pols)
		goto out;
	for (int i = 0; i < sk_POLICYINFO_num(pols); i++) {
		const POLICYINFO *pi = sk_POLICYINFO_value(pols, i);
		if (pi && !OBJ_cmp(pi->policyid, want)) {
			found = 1;
			break;
		}
	}
out:
	CERTIFICATEPOLICIES_free(pols);
	ASN1_OBJECT_free(want);
	ERR_clear_error();
	return found;
}

long crypto_cert_key_usage(const crypto_cert *c)
{
	if (!c)
		return -1;
	if (c->lite) {
		/* as crypto_cert_aki: the extension itself, first two bytes as
		 * X509_get_key_usage gives them; absent, twice or malformed: -1 */
		ASN1_BIT_STRING *ku = X509_get_ext_d2i(c->x, NID_key_usage, NULL, NULL);
		long v = -1;
		if (ku && ku->length > 0)
			v = ku->data[0] | (ku->length > 1 ? ku->data[1] << 8 : 0);
		ASN1_BIT_STRING_free(ku);
		ERR_clear_error();
		return v;
	}
	/* X509_get_key_usage reports "all bits" when the extension is absent */
	if (!(X509_get_extension_flags(c->x) & EXFLAG_KUSAGE))
		return -1;
	return (long)(X509_get_key_usage(c->x) & 0xffff);
}

int crypto_cert_is_ca(const crypto_cert *c)
{
	BASIC_CONSTRAINTS *bc;
	int ca = 0;

	if (!c)
		return 0;
	bc = X509_get_ext_d2i(c->x, NID_basic_constraints, NULL, NULL);
	if (bc && bc->ca)
		ca = 1;
	BASIC_CONSTRAINTS_free(bc);
	ERR_clear_error();
	return ca;
}

/* Copy a printable ASN.1 string into out, NUL-terminated; -1 if it is
 * empty, too long, or holds bytes outside printable ASCII. */
static int copy_printable(const ASN1_STRING *s, char *out, size_t outsz)
{
	const unsigned char *d;
	int len;

	if (!s || !out || outsz == 0)
		return -1;
	d = ASN1_STRING_get0_data(s);
	len = ASN1_STRING_length(s);
	if (len <= 0 || (size_t)len >= outsz)
		return -1;
	for (int i = 0; i < len; i++)
		if (d[i] < 0x20 || d[i] > 0x7e)
			return -1;
	memcpy(out, d, (size_t)len);
	out[len] = '\0';
	return 0;
}

int crypto_cert_subject_serial(const crypto_cert *c, char *out, size_t outsz)
{
	const X509_NAME *name;
	int idx;

	if (!c)
		return -1;
	name = X509_get_subject_name(c->x);
	idx = X509_NAME_get_index_by_NID(name, NID_serialNumber, -1);
	if (idx < 0)
		return -1;
	return copy_printable(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)), out,
			      outsz);
}

int crypto_cert_san_rid(const crypto_cert *c, char *out, size_t outsz)
{
	GENERAL_NAMES *gens = NULL;
	int rc = -1;

	if (!c || !out || outsz == 0 || outsz > INT_MAX)
		goto out;
	gens = X509_get_ext_d2i(c->x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int len;
		if (g->type != GEN_RID)
			continue;
		/* no_name=1: always the dotted form, never "sm-dp" style names */
		len = OBJ_obj2txt(out, (int)outsz, g->d.registeredID, 1);
		if (len > 0 && (size_t)len < outsz)
			rc = 0;
		break;
	}
out:
	if (rc && out && outsz)
		out[0] = '\0';
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
	return rc;
}

int crypto_cert_san_dns(const crypto_cert *c, const char *name)
{
	GENERAL_NAMES *gens = NULL;
	size_t nlen;
	int found = 0;

	if (!c || !name)
		goto out;
	nlen = strlen(name);
	gens = X509_get_ext_d2i(c->x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const char *d;
		if (g->type != GEN_DNS)
			continue;
		d = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
		/* the length check also rejects names with an embedded NUL */
		if ((size_t)ASN1_STRING_length(g->d.dNSName) == nlen &&
		    !strncasecmp(d, name, nlen)) {
			found = 1;
			break;
		}
	}
out:
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
	return found;
}

/* An EID prefix is 1..32 decimal digits. */
static int add_prefix(const ASN1_STRING *s, char (*out)[SMDP_EID_LEN + 1], size_t max,
		      size_t *count)
{
	char tmp[SMDP_EID_LEN + 1];

	if (copy_printable(s, tmp, sizeof(tmp)))
		return -1;
	for (const char *q = tmp; *q; q++)
		if (*q < '0' || *q > '9')
			return -1;
	/* more prefixes than the caller has room for: fail closed, since a
	 * short list would read as "fewer permitted ranges" at best and as
	 * "no restriction" (count 0) at worst */
	if (*count >= max)
		return -1;
	str_copy(out[*count], SMDP_EID_LEN + 1, tmp);
	(*count)++;
	return 0;
}

int crypto_cert_eid_prefixes(const crypto_cert *c, char (*out)[SMDP_EID_LEN + 1],
			     size_t max)
{
	NAME_CONSTRAINTS *nc = NULL;
	ASN1_OBJECT *eins_oid = NULL;
	STACK_OF(ASN1_TYPE) *eins = NULL;
	size_t count = 0;
	int crit = 0, idx, rc = -1;

	if (!c)
		goto out;
	/* SGP.26 / SGP.22 v2 variant O: nameConstraints permittedSubtrees
	 * directoryName { ..., serialNumber = <EID prefix> } */
	nc = X509_get_ext_d2i(c->x, NID_name_constraints, &crit, NULL);
	if (!nc && crit != -1)
		goto out; /* present but undecodable, or repeated */
	for (int i = 0; nc && i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); i++) {
		const GENERAL_SUBTREE *st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i);
		const X509_NAME *dn;
		if (!st->base || st->base->type != GEN_DIRNAME)
			continue;
		dn = st->base->d.directoryName;
		for (int j = X509_NAME_get_index_by_NID(dn, NID_serialNumber, -1); j >= 0;
		     j = X509_NAME_get_index_by_NID(dn, NID_serialNumber, j)) {
			if (add_prefix(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(dn, j)), out,
				       max, &count))
				goto out;
		}
	}
	/* SGP.22 v3: permittedEins extension, SEQUENCE OF PrintableString */
	eins_oid = OBJ_txt2obj(OID_PERMITTED_EINS, 1);
	if (!eins_oid)
		goto out;
	idx = X509_get_ext_by_OBJ(c->x, eins_oid, -1);
	if (idx >= 0) {
		const ASN1_OCTET_STRING *os;
		const uint8_t *p, *end;
		if (X509_get_ext_by_OBJ(c->x, eins_oid, idx) >= 0)
			goto out; /* repeated extension */
		os = X509_EXTENSION_get_data(X509_get_ext(c->x, idx));
		p = ASN1_STRING_get0_data(os);
		end = p + ASN1_STRING_length(os);
		eins = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)(end - p));
		if (!eins || p != end)
			goto out;
		for (int i = 0; i < sk_ASN1_TYPE_num(eins); i++) {
			const ASN1_TYPE *t = sk_ASN1_TYPE_value(eins, i);
			if (ASN1_TYPE_get(t) != V_ASN1_PRINTABLESTRING ||
			    add_prefix(t->value.printablestring, out, max, &count))
				goto out;
		}
	}
	rc = (int)count;
out:
	if (rc < 0)
		log_warn("crypto: malformed or oversized EID prefix list in certificate");
	sk_ASN1_TYPE_pop_free(eins, ASN1_TYPE_free);
	ASN1_OBJECT_free(eins_oid);
	NAME_CONSTRAINTS_free(nc);
	ERR_clear_error();
	return rc;
}

void crypto_cert_describe(const crypto_cert *c, char *out, size_t outsz)
{
	/* the form `openssl x509 -text` prints, UTF-8 left as is */
	const unsigned long flags = XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB;
	BIO *bio = NULL;
	char *mem = NULL;
	long len;

	if (!out || outsz == 0)
		return;
	snprintf(out, outsz, "(no certificate)");
	if (!c || !(bio = BIO_new(BIO_s_mem())))
		goto out;
	if (BIO_puts(bio, "subject=") <= 0 ||
	    X509_NAME_print_ex(bio, X509_get_subject_name(c->x), 0, flags) < 0 ||
	    BIO_puts(bio, " / issuer=") <= 0 ||
	    X509_NAME_print_ex(bio, X509_get_issuer_name(c->x), 0, flags) < 0 ||
	    BIO_puts(bio, " / notAfter=") <= 0 ||
	    ASN1_TIME_print(bio, X509_get0_notAfter(c->x)) != 1)
		goto out;
	len = BIO_get_mem_data(bio, &mem);
	if (len < 0 || len > INT_MAX)
		goto out;
	snprintf(out, outsz, "%.*s", (int)len, mem);
	/* names may hold control characters: keep log lines single */
	for (char *q = out; *q; q++)
		if ((unsigned char)*q < 0x20)
			*q = '?';
out:
	BIO_free(bio);
	ERR_clear_error();
}

void crypto_cert_subject(const crypto_cert *c, char *out, size_t outsz)
{
	const unsigned long flags = XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB;
	BIO *bio = NULL;
	char *mem = NULL;
	long len;

	if (!out || outsz == 0)
		return;
	snprintf(out, outsz, "(no certificate)");
	if (!c || !(bio = BIO_new(BIO_s_mem())) ||
	    X509_NAME_print_ex(bio, X509_get_subject_name(c->x), 0, flags) < 0)
		goto out;
	len = BIO_get_mem_data(bio, &mem);
	if (len < 0 || len > INT_MAX)
		goto out;
	snprintf(out, outsz, "%.*s", (int)len, mem);
	for (char *q = out; *q; q++)
		if ((unsigned char)*q < 0x20)
			*q = '?';
out:
	BIO_free(bio);
	ERR_clear_error();
}

time_t crypto_cert_not_before(const crypto_cert *c)
{
	struct tm tm;

	if (!c || ASN1_TIME_to_tm(X509_get0_notBefore(c->x), &tm) != 1) {
		ERR_clear_error();
		return (time_t)-1;
	}
	return timegm(&tm);
}

void crypto_cert_san_dns_list(const crypto_cert *c, char *out, size_t outsz)
{
	GENERAL_NAMES *gens = NULL;
	size_t used = 0;

	if (!out || outsz == 0)
		return;
	out[0] = '\0';
	if (!c)
		return;
	gens = X509_get_ext_d2i(c->x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char name[SMDP_MAX_ADDRESS + 1];
		int n;
		if (g->type != GEN_DNS || copy_printable(g->d.dNSName, name, sizeof(name)))
			continue;
		n = snprintf(out + used, outsz - used, "%s%s", used ? "," : "", name);
		if (n < 0 || (size_t)n >= outsz - used)
			break;   /* truncated: what fits is enough for a message */
		used += (size_t)n;
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
}

/* Copy the contents of a memory BIO into out. */
static int bio_to_buf(BIO *bio, struct buf *out)
{
	char *mem = NULL;
	long len = BIO_get_mem_data(bio, &mem);

	if (len <= 0)
		return -1;
	return buf_set(out, mem, (size_t)len);
}

int crypto_cert_pem(const crypto_cert *c, struct buf *out)
{
	BIO *bio = NULL;
	int rc = -1;

	if (!c || !(bio = BIO_new(BIO_s_mem())) || PEM_write_bio_X509(bio, c->x) != 1)
		goto out;
	rc = bio_to_buf(bio, out);
out:
	if (rc)
		ossl_fail("PEM_write_bio_X509");
	BIO_free(bio);
	return rc;
}

int crypto_key_save(const crypto_key *k, const char *path)
{
	BIO *bio = NULL;
	struct buf pem = { 0 };
	FILE *f = NULL;
	int fd = -1, rc = -1;

	if (!k || !path || !(bio = BIO_new(BIO_s_mem())) ||
	    PEM_write_bio_PrivateKey(bio, k->pk, NULL, NULL, 0, NULL, NULL) != 1 ||
	    bio_to_buf(bio, &pem)) {
		ossl_fail("PEM_write_bio_PrivateKey");
		goto out;
	}
	/* private keys are created unreadable for others from the start */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || fchmod(fd, 0600) || !(f = fdopen(fd, "wb"))) {
		log_error("crypto: cannot write %s", path);
		goto out;
	}
	fd = -1;   /* owned by f */
	if (fwrite(pem.p, 1, pem.len, f) != pem.len)
		goto out;
	rc = 0;
out:
	if (f && fclose(f))
		rc = -1;
	if (fd >= 0)
		close(fd);
	buf_wipe(&pem);
	BIO_free(bio);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Certificate issuance (smdp-pki) */

static int set_time(X509 *x, int after, time_t t)
{
	ASN1_TIME *at;
	int ok;

	if (t == CRYPTO_TIME_FOREVER) {
		at = ASN1_GENERALIZEDTIME_new();
		if (at && ASN1_GENERALIZEDTIME_set_string(at, "99991231235959Z") != 1) {
			ASN1_TIME_free(at);
			at = NULL;
		}
	} else {
		/* UTCTime up to 2049, GeneralizedTime after (RFC 5280 4.1.2.5) */
		at = ASN1_TIME_set(NULL, t);
	}
	if (!at)
		return -1;
	ok = after ? X509_set1_notAfter(x, at) : X509_set1_notBefore(x, at);
	ASN1_TIME_free(at);
	return ok == 1 ? 0 : -1;
}

static int set_serial(X509 *x, const uint8_t *serial, size_t n)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	int rc = -1;

	if (!serial || n == 0 || n > 20 || n > INT_MAX)
		return -1;
	bn = BN_bin2bn(serial, (int)n, NULL);
	if (bn && !BN_is_zero(bn) && (ai = BN_to_ASN1_INTEGER(bn, NULL)) &&
	    X509_set_serialNumber(x, ai) == 1)
		rc = 0;
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return rc;
}

/* Add one extension given in OpenSSL's configuration syntax (the value
 * of an `openssl x509 -extfile` line), no configuration database. */
static int add_conf_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(x, ext, -1) == 1;

	if (!ok)
		ossl_fail(value);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int key_usage_text(long ku, char *out, size_t outsz)
{
	static const struct { long bit; const char *name; } names[] = {
		{ 0x80, "digitalSignature" }, { 0x40, "nonRepudiation" },
		{ 0x20, "keyEncipherment" }, { 0x10, "dataEncipherment" },
		{ 0x08, "keyAgreement" }, { 0x04, "keyCertSign" }, { 0x02, "cRLSign" },
	};
	size_t used = (size_t)snprintf(out, outsz, "critical");

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(ku & names[i].bit))
			continue;
		used += (size_t)snprintf(out + used, outsz > used ? outsz - used : 0, ",%s",
					 names[i].name);
	}
	return used < outsz ? 0 : -1;
}

static int eid_digits(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > SMDP_EID_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* nameConstraints permittedSubtrees of directoryName {O, serialNumber}
 * (SGP.26 EUM, variant O), critical. */
static int add_name_constraints(X509 *x, const struct crypto_cert_tmpl *t)
{
	NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
	int rc = -1;

	if (!nc || !(nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null()))
		goto out;
	for (size_t i = 0; i < t->n_eid_prefixes; i++) {
		GENERAL_SUBTREE *st = GENERAL_SUBTREE_new();
		GENERAL_NAME *gn = GENERAL_NAME_new();
		X509_NAME *dn = X509_NAME_new();
		int ok = st && gn && dn &&
			 (!t->eid_org || X509_NAME_add_entry_by_txt(dn, "O", MBSTRING_UTF8,
				(const unsigned char *)t->eid_org, -1, -1, 0) == 1) &&
			 X509_NAME_add_entry_by_txt(dn, "serialNumber", MBSTRING_ASC,
				(const unsigned char *)t->eid_prefixes[i], -1, -1, 0) == 1;
		if (ok) {
			GENERAL_NAME_set0_value(gn, GEN_DIRNAME, dn);
			dn = NULL;
			GENERAL_NAME_free(st->base);
			st->base = gn;
			gn = NULL;
			ok = sk_GENERAL_SUBTREE_push(nc->permittedSubtrees, st) > 0;
			if (ok)
				st = NULL;
		}
		X509_NAME_free(dn);
		GENERAL_NAME_free(gn);
		GENERAL_SUBTREE_free(st);
		if (!ok)
			goto out;
	}
	if (X509_add1_ext_i2d(x, NID_name_constraints, nc, 1, X509V3_ADD_DEFAULT) != 1)
		goto out;
	rc = 0;
out:
	if (rc)
		ossl_fail("nameConstraints");
	NAME_CONSTRAINTS_free(nc);
	return rc;
}

/* SGP.22 v3 permittedEins: SEQUENCE OF PrintableString, non-critical so
 * that RFC 5280 verifiers that do not know it still accept the chain. */
static int add_permitted_eins(X509 *x, const struct crypto_cert_tmpl *t)
{
	STACK_OF(ASN1_TYPE) *seq = sk_ASN1_TYPE_new_null();
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_PERMITTED_EINS, 1);
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *ext = NULL;
	uint8_t *der = NULL;
	int len, rc = -1;

	if (!seq || !oid)
		goto out;
	for (size_t i = 0; i < t->n_eid_prefixes; i++) {
		ASN1_TYPE *at = ASN1_TYPE_new();
		ASN1_STRING *s = ASN1_STRING_type_new(V_ASN1_PRINTABLESTRING);
		if (!at || !s || ASN1_STRING_set(s, t->eid_prefixes[i], -1) != 1) {
			ASN1_TYPE_free(at);
			ASN1_STRING_free(s);
			goto out;
		}
		ASN1_TYPE_set(at, V_ASN1_PRINTABLESTRING, s);
		if (sk_ASN1_TYPE_push(seq, at) <= 0) {
			ASN1_TYPE_free(at);
			goto out;
		}
	}
	len = i2d_ASN1_SEQUENCE_ANY(seq, &der);
	if (len <= 0 || !(os = ASN1_OCTET_STRING_new()) || ASN1_OCTET_STRING_set(os, der, len) != 1 ||
	    !(ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, os)) || X509_add_ext(x, ext, -1) != 1)
		goto out;
	rc = 0;
out:
	if (rc)
		ossl_fail("permittedEins");
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	OPENSSL_free(der);
	ASN1_OBJECT_free(oid);
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	return rc;
}

/* certificatePolicies with one policy OID and no qualifiers (the
 * configuration syntax of this extension needs a configuration database). */
static int add_policy(X509 *x, const char *oid, int critical)
{
	CERTIFICATEPOLICIES *pols = sk_POLICYINFO_new_null();
	POLICYINFO *pi = POLICYINFO_new();
	int rc = -1;

	if (!pols || !pi)
		goto out;
	ASN1_OBJECT_free(pi->policyid);
	if (!(pi->policyid = OBJ_txt2obj(oid, 1)) || sk_POLICYINFO_push(pols, pi) <= 0)
		goto out;
	pi = NULL;   /* owned by pols */
	if (X509_add1_ext_i2d(x, NID_certificate_policies, pols, critical, X509V3_ADD_DEFAULT) != 1)
		goto out;
	rc = 0;
out:
	if (rc)
		ossl_fail("certificatePolicies");
	POLICYINFO_free(pi);
	CERTIFICATEPOLICIES_free(pols);
	return rc;
}

/* The finished X509 as a crypto_cert (through its DER, like every other). */
static crypto_cert *cert_from_x509(X509 *x)
{
	uint8_t *der = NULL;
	int len = i2d_X509(x, &der);
	crypto_cert *c = NULL;

	if (len > 0)
		c = crypto_cert_from_der(der, (size_t)len);
	OPENSSL_free(der);
	return c;
}

crypto_cert *crypto_cert_issue(const struct crypto_cert_tmpl *t, const crypto_key *subject_pub,
			       const crypto_cert *issuer, const crypto_key *issuer_key)
{
	X509 *x = NULL;
	X509_NAME *name = NULL;
	X509V3_CTX ctx;
	crypto_cert *c = NULL;
	char val[512];

	if (!t || !subject_pub || !issuer_key)
		goto out;
	if (!(x = X509_new()) || X509_set_version(x, X509_VERSION_3) != 1 ||
	    set_serial(x, t->serial, t->serial_len) || set_time(x, 0, t->not_before) ||
	    set_time(x, 1, t->not_after) || X509_set_pubkey(x, subject_pub->pk) != 1)
		goto out;
	if (!(name = X509_NAME_new()))
		goto out;
	for (size_t i = 0; i < CRYPTO_MAX_NAME_ATTRS && t->subject[i].type; i++)
		if (!t->subject[i].value ||
		    X509_NAME_add_entry_by_txt(name, t->subject[i].type, MBSTRING_UTF8,
					       (const unsigned char *)t->subject[i].value, -1, -1,
					       0) != 1) {
			ossl_fail("subject attribute");
			goto out;
		}
	if (X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->x) : name) != 1)
		goto out;

	X509V3_set_ctx(&ctx, issuer ? issuer->x : x, x, NULL, NULL, 0);
	if ((t->aki && issuer && add_conf_ext(x, &ctx, NID_authority_key_identifier, "keyid:always")) ||
	    (t->ski && add_conf_ext(x, &ctx, NID_subject_key_identifier, "hash")))
		goto out;
	if (t->ca) {
		if (t->pathlen >= 0)
			snprintf(val, sizeof(val), "critical,CA:TRUE,pathlen:%d", t->pathlen);
		else
			snprintf(val, sizeof(val), "critical,CA:TRUE");
		if (add_conf_ext(x, &ctx, NID_basic_constraints, val))
			goto out;
	}
	if (t->key_usage && (key_usage_text(t->key_usage, val, sizeof(val)) ||
			     add_conf_ext(x, &ctx, NID_key_usage, val)))
		goto out;
	if (t->eku_tls && add_conf_ext(x, &ctx, NID_ext_key_usage, "critical,serverAuth,clientAuth"))
		goto out;
	if (t->policy && add_policy(x, t->policy, t->policy_critical))
		goto out;
	if (t->san_dns || t->san_rid) {
		if ((size_t)snprintf(val, sizeof(val), "%s%s%s%s%s", t->san_dns ? "DNS:" : "",
				     t->san_dns ? t->san_dns : "", t->san_dns && t->san_rid ? "," : "",
				     t->san_rid ? "RID:" : "", t->san_rid ? t->san_rid : "") >= sizeof(val) ||
		    add_conf_ext(x, &ctx, NID_subject_alt_name, val))
			goto out;
	}
	if (t->crl_url) {
		if ((size_t)snprintf(val, sizeof(val), "URI:%s", t->crl_url) >= sizeof(val) ||
		    add_conf_ext(x, &ctx, NID_crl_distribution_points, val))
			goto out;
	}
	if (t->n_eid_prefixes) {
		if (t->n_eid_prefixes > CRYPTO_MAX_PREFIXES)
			goto out;
		for (size_t i = 0; i < t->n_eid_prefixes; i++)
			if (!eid_digits(t->eid_prefixes[i]))
				goto out;
		if (add_name_constraints(x, t) || add_permitted_eins(x, t))
			goto out;
	}
	if (X509_sign(x, issuer_key->pk, EVP_sha256()) <= 0) {
		ossl_fail("X509_sign");
		goto out;
	}
	c = cert_from_x509(x);
out:
	X509_NAME_free(name);
	X509_free(x);
	ERR_clear_error();
	return c;
}

crypto_cert *crypto_cert_reissue(const crypto_cert *old, const uint8_t *serial,
				 size_t serial_len, time_t not_before, time_t not_after,
				 const crypto_cert *issuer, const crypto_key *issuer_key)
{
	X509 *x = NULL;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX ctx;
	crypto_cert *c = NULL;
	int idx;

	if (!old || !issuer || !issuer_key)
		goto out;
	if (!(x = X509_dup(old->x)) || set_serial(x, serial, serial_len) ||
	    set_time(x, 0, not_before) || set_time(x, 1, not_after) ||
	    X509_set_issuer_name(x, X509_get_subject_name(issuer->x)) != 1)
		goto out;
	/* the new AKI takes the old one's place: the extension order stays as
	 * the original issuer made it */
	idx = X509_get_ext_by_NID(x, NID_authority_key_identifier, -1);
	X509V3_set_ctx(&ctx, issuer->x, x, NULL, NULL, 0);
	if (idx >= 0) {
		X509_EXTENSION_free(X509_delete_ext(x, idx));
		ext = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
		if (!ext || X509_add_ext(x, ext, idx) != 1)
			goto out;
	}
	if (X509_sign(x, issuer_key->pk, EVP_sha256()) <= 0) {
		ossl_fail("X509_sign");
		goto out;
	}
	c = cert_from_x509(x);
out:
	X509_EXTENSION_free(ext);
	X509_free(x);
	ERR_clear_error();
	return c;
}

/* ------------------------------------------------------------------ */
/* CRLs */

struct crypto_crl {
	X509_CRL *crl;
};

crypto_crl *crypto_crl_load(const char *path)
{
	struct buf file = { 0 };
	crypto_crl *r = NULL;
	X509_CRL *crl = NULL;
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *zero;
	BIO *bio = NULL;
	const uint8_t *p;

	if (file_read(path, SMDP_MAX_CRL, &file)) {
		log_error("crypto: cannot read CRL %s", path);
		goto out;
	}
	if (file.len > INT_MAX)
		goto out;
	if (file.len > 0 && file.p[0] == 0x30) {
		p = file.p;
		crl = d2i_X509_CRL(NULL, &p, (long)file.len);
		if (crl && p != file.p + file.len) {   /* trailing bytes */
			X509_CRL_free(crl);
			crl = NULL;
		}
	} else if ((bio = BIO_new_mem_buf(file.p, (int)file.len))) {
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
	}
	if (!crl) {
		ossl_fail("CRL");
		log_error("crypto: no CRL in %s", path);
		goto out;
	}
	/* OpenSSL sorts the revoked list on the first lookup: do that one now,
	 * while only this thread sees the CRL (server workers share it) */
	if ((zero = ASN1_INTEGER_new())) {
		X509_CRL_get0_by_serial(crl, &rev, zero);
		ASN1_INTEGER_free(zero);
	}
	if (!(r = calloc(1, sizeof(*r))))
		goto out;
	r->crl = crl;
	crl = NULL;
out:
	X509_CRL_free(crl);
	BIO_free(bio);
	buf_free(&file);
	ERR_clear_error();
	return r;
}

void crypto_crl_free(crypto_crl *crl)
{
	if (!crl)
		return;
	X509_CRL_free(crl->crl);
	free(crl);
}

int crypto_crl_issued_by(const crypto_crl *crl, const crypto_cert *issuer)
{
	AUTHORITY_KEYID *akid = NULL;
	const ASN1_OCTET_STRING *ski;
	EVP_PKEY *pk;
	int crit = 0, ok = 0;

	if (!crl || !issuer || !(pk = X509_get0_pubkey(issuer->x)))
		goto out;
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl->crl), X509_get_subject_name(issuer->x)))
		goto out;
	ok = -1;   /* from here on the CRL claims to be issuer's */
	akid = X509_CRL_get_ext_d2i(crl->crl, NID_authority_key_identifier, &crit, NULL);
	if (!akid && crit != -1)
		goto out;   /* present but undecodable or repeated */
	if (akid && akid->keyid) {
		ski = X509_get0_subject_key_id(issuer->x);
		if (!ski || ASN1_OCTET_STRING_cmp(ski, akid->keyid))
			goto out;
	}
	if (X509_CRL_verify(crl->crl, pk) == 1)
		ok = 1;
out:
	AUTHORITY_KEYID_free(akid);
	ERR_clear_error();
	return ok;
}

int crypto_crl_revokes(const crypto_crl *crl, const crypto_cert *c)
{
	X509_REVOKED *rev = NULL;
	int found = 0;

	if (!crl || !c)
		return 0;
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl->crl), X509_get_issuer_name(c->x)))
		return 0;
	/* X509_CRL_get0_by_serial: 1 revoked, 2 listed as removeFromCRL */
	found = X509_CRL_get0_by_serial(crl->crl, &rev,
					(ASN1_INTEGER *)X509_get0_serialNumber(c->x)) == 1;
	ERR_clear_error();
	return found;
}

int crypto_crl_count(const crypto_crl *crl)
{
	STACK_OF(X509_REVOKED) *revs = crl ? X509_CRL_get_REVOKED(crl->crl) : NULL;

	return revs ? sk_X509_REVOKED_num(revs) : 0;
}

int crypto_crl_validity(const crypto_crl *crl, time_t now)
{
	time_t t = now;
	const ASN1_TIME *nu;
	int cmp;

	if (!crl)
		return -1;
	cmp = X509_cmp_time(X509_CRL_get0_lastUpdate(crl->crl), &t);
	if (cmp == 0)
		return -1;
	if (cmp > 0)
		return 2;
	nu = X509_CRL_get0_nextUpdate(crl->crl);
	if (!nu)
		return 0;
	cmp = X509_cmp_time(nu, &t);
	if (cmp == 0)
		return -1;
	return cmp < 0 ? 1 : 0;
}

time_t crypto_crl_next_update(const crypto_crl *crl)
{
	const ASN1_TIME *nu = crl ? X509_CRL_get0_nextUpdate(crl->crl) : NULL;
	struct tm tm;

	if (!nu || ASN1_TIME_to_tm(nu, &tm) != 1) {
		ERR_clear_error();
		return (time_t)-1;
	}
	return timegm(&tm);
}

int crypto_crl_make(const crypto_cert *issuer, const crypto_key *issuer_key,
		    const crypto_cert *const *revoked, size_t n, time_t this_update,
		    time_t next_update, long crl_number, struct buf *out)
{
	X509_CRL *crl = NULL;
	ASN1_TIME *tu = NULL, *nu = NULL;
	ASN1_INTEGER *num = NULL;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX ctx;
	uint8_t *der = NULL;
	int len, rc = -1;

	if (!issuer || !issuer_key || !out || (n && !revoked))
		goto out;
	if (!(crl = X509_CRL_new()) || X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer->x)) != 1 ||
	    !(tu = ASN1_TIME_set(NULL, this_update)) || !(nu = ASN1_TIME_set(NULL, next_update)) ||
	    X509_CRL_set1_lastUpdate(crl, tu) != 1 || X509_CRL_set1_nextUpdate(crl, nu) != 1)
		goto out;
	for (size_t i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		if (!r || !revoked[i] ||
		    X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)X509_get0_serialNumber(
							     revoked[i]->x)) != 1 ||
		    X509_REVOKED_set_revocationDate(r, tu) != 1 || X509_CRL_add0_revoked(crl, r) != 1) {
			X509_REVOKED_free(r);
			goto out;
		}
	}
	X509_CRL_sort(crl);
	X509V3_set_ctx(&ctx, issuer->x, NULL, NULL, crl, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	if (!ext || X509_CRL_add_ext(crl, ext, -1) != 1 || !(num = ASN1_INTEGER_new()) ||
	    ASN1_INTEGER_set(num, crl_number) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1)
		goto out;
	if (X509_CRL_sign(crl, issuer_key->pk, EVP_sha256()) <= 0)
		goto out;
	len = i2d_X509_CRL(crl, &der);
	if (len <= 0 || buf_set(out, der, (size_t)len))
		goto out;
	rc = 0;
out:
	if (rc)
		ossl_fail("CRL make");
	OPENSSL_free(der);
	X509_EXTENSION_free(ext);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	X509_CRL_free(crl);
	ERR_clear_error();
	return rc;
}

int crypto_crl_pem(const struct buf *der, struct buf *out)
{
	X509_CRL *crl = NULL;
	BIO *bio = NULL;
	const uint8_t *p;
	int rc = -1;

	if (!der || !der->p || der->len > SMDP_MAX_CRL)
		goto out;
	p = der->p;
	if (!(crl = d2i_X509_CRL(NULL, &p, (long)der->len)) || !(bio = BIO_new(BIO_s_mem())) ||
	    PEM_write_bio_X509_CRL(bio, crl) != 1)
		goto out;
	rc = bio_to_buf(bio, out);
out:
	if (rc)
		ossl_fail("CRL PEM");
	BIO_free(bio);
	X509_CRL_free(crl);
	return rc;
}
