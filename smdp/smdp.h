/*
 * smdp.h - types shared by every module of smdp, and the prototypes of each
 * module grouped by the file that implements them.
 *
 * Conventions (see README.md, "Code layout"):
 *   - int functions return 0 on success and -1 on failure unless they say
 *     otherwise; functions returning enum rsp_status return RSP_OK (0) on
 *     success and the protocol error otherwise.
 *   - struct buf is a heap buffer owned by whoever holds the struct; free it
 *     with buf_free() (safe on a zeroed or already freed buf).
 *   - No module keeps hidden global state: the server context is struct smdp.
 */
#ifndef SMDP_H
#define SMDP_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>

#include "lab_config.h"   /* struct lab_config (issue 7) */

/* ------------------------------------------------------------------ */
/* Named input limits (every outside input is bounded by one of these). */
#define SMDP_MAX_BODY         (256 * 1024)  /* one HTTP request body */
#define SMDP_MAX_B64          (200 * 1024)  /* one base64 field, encoded */
#define SMDP_MAX_CERT         4096          /* one DER certificate */
#define SMDP_MAX_ADDRESS      255           /* FQDN[:port] / serverAddress */
#define SMDP_MAX_MATCHING_ID  128           /* matchingId (UTF8String) */
#define SMDP_MAX_OID          64            /* dotted OID text */
#define SMDP_MAX_CI_IDS       8             /* CI key ids per list in EUICCInfo1 */
#define SMDP_MAX_PROFILE      (128 * 1024)  /* one unprotected profile package */
#define SMDP_MAX_ID           64            /* profile id (file stem) */
#define SMDP_MAX_NOTIF_CFG    4             /* notificationConfigurationInfo entries */
#define SMDP_ICCID_LEN        20            /* ICCID digits (19 or 20, E.118) */
#define SMDP_MAX_PROFILE_TYPE 64            /* ES2+ profileType */
#define SMDP_MAX_CC           64            /* ES2+ confirmationCode, characters */
#define SMDP_MAX_OP_ID        64            /* ES2+ functionRequesterIdentifier */
#define SMDP_MAX_CALL_ID      128           /* ES2+ functionCallIdentifier */
#define SMDP_MAX_OPERATORS    16            /* operators in the configuration */
#define SMDP_MAX_OP_TYPES     16            /* profile types one operator owns */
#define SMDP_MAX_URL          512           /* operator notification URL */

#define SMDP_TXID_LEN   16   /* transactionIds we generate */
#define SMDP_CHAL_LEN   16   /* euiccChallenge / serverChallenge */
#define SMDP_SIG_LEN    64   /* raw r||s ECDSA P-256 signature */
#define SMDP_POINT_LEN  65   /* uncompressed EC point 04||X||Y */
#define SMDP_EID_LEN    32   /* EID digits */
#define SMDP_SEG_MAX    1020 /* SGP.22 2.5.5: max BPP segment incl. tag, length, MAC */

/* ------------------------------------------------------------------ */
/* util.c: buffers, hex, base64, files. */
struct buf {
	uint8_t *p;
	size_t len;
};

/* Free b->p and zero the struct. NULL and zeroed bufs are fine. */
void buf_free(struct buf *b);
/* Like buf_free but overwrites the bytes first (keys, secrets). */
void buf_wipe(struct buf *b);
/* Replace b's content with a copy of n bytes at p. 0 / -1 (out of memory). */
int buf_set(struct buf *b, const void *p, size_t n);
/* Append n bytes at p to b. 0 / -1. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Upper-case hex of n bytes into out (NUL-terminated). Returns chars written
 * (2n) or -1 if outsz < 2n+1. */
int hex_encode(const uint8_t *in, size_t n, char *out, size_t outsz);
/* Decode hex text (either case, even length, no separators) into out.
 * Returns the number of bytes or -1 (bad digit, odd length, too long). */
int hex_decode(const char *in, uint8_t *out, size_t outsz);
/* Copy the string src into dst[cap], cut to cap - 1 bytes, always
 * terminated (cap > 0); NULL src copies "". What snprintf(dst, cap, "%s",
 * src) does, without the format machinery (~1,000 instructions a call). */
void str_copy(char *dst, size_t cap, const char *src);
/* Standard base64 with padding; returns a malloc'd NUL-terminated string
 * (caller frees) or NULL. */
char *b64_encode(const uint8_t *in, size_t n);
/* The same inside double quotes: a JSON string that needs no escaping, for
 * adding as raw JSON text (the ES9+ binding's large fields). */
char *b64_encode_quoted(const uint8_t *in, size_t n);
/* Decode standard base64 (padding required, no whitespace inside) of slen
 * chars into out (replaced). 0 / -1 on any invalid input. */
int b64_decode(const char *in, size_t slen, struct buf *out);
/* Read a whole file of at most max bytes into out. 0 / -1 (errno kept). */
int file_read(const char *path, size_t max, struct buf *out);
/* Constant-time compare of n bytes: 0 if equal. */
int mem_neq(const void *a, const void *b, size_t n);
/* Deepest nesting of objects/arrays in a JSON text (strings skipped): the
 * JSON bindings refuse deep bodies before cJSON's recursive parser runs on
 * a small worker stack. */
int json_depth(const uint8_t *p, size_t n);

/* ------------------------------------------------------------------ */
/* log.c: a small logging vocabulary; messages go to stderr. */
enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* ------------------------------------------------------------------ */
/* rsp_status.c: the one table of SGP.22 status codes (SGP.22 5.2.6 and the
 * per-function error lists of 5.6). */
enum rsp_status {
	RSP_OK = 0,
	/* generic request faults */
	RSP_ERR_INVALID_REQUEST,        /* 1.2.1 / 2.1 malformed field */
	RSP_ERR_MISSING_ELEMENT,        /* 1.2.1 / 2.2 mandatory element missing */
	RSP_ERR_UNSUPPORTED_PROTOCOL,   /* 1.2.1 / 3.1 X-Admin-Protocol */
	RSP_ERR_INTERNAL,               /* 1.2.1 / 127 server failure */
	/* initiateAuthentication (SGP.22 5.6.1) */
	RSP_ERR_INVALID_DP_ADDRESS,     /* 8.8.1 / 3.8 */
	RSP_ERR_CI_PK_NOT_SUPPORTED,    /* 8.8.2 / 3.1 */
	RSP_ERR_EUICC_VERSION,          /* 8.8.3 / 3.1 */
	RSP_ERR_NO_DPAUTH_FOR_CI,       /* 8.8.4 / 3.7 */
	/* authenticateClient (SGP.22 5.6.3) */
	RSP_ERR_EUM_CERT_INVALID,       /* 8.1.2 / 6.1 */
	RSP_ERR_EUM_CERT_EXPIRED,       /* 8.1.2 / 6.3 */
	RSP_ERR_EUICC_CERT_INVALID,     /* 8.1.3 / 6.1 */
	RSP_ERR_EUICC_CERT_EXPIRED,     /* 8.1.3 / 6.3 */
	RSP_ERR_EUICC_SIGNATURE,        /* 8.1 / 6.1 */
	RSP_ERR_CI_PK_UNKNOWN,          /* 8.11.1 / 3.9 */
	RSP_ERR_TRANSACTION_UNKNOWN,    /* 8.10.1 / 3.9 */
	RSP_ERR_MATCHING_ID_REFUSED,    /* 8.2.6 / 3.8 */
	RSP_ERR_EID_MISMATCH,           /* 8.1.1 / 3.8 */
	RSP_ERR_PROFILE_NOT_RELEASED,   /* 8.2 / 1.2 */
	RSP_ERR_NO_ELIGIBLE_PROFILE,    /* 8.2.5 / 4.3 */
	RSP_ERR_INSUFFICIENT_MEMORY,    /* 8.1 / 4.8 */
	RSP_ERR_ORDER_EXPIRED,          /* 8.8.5 / 4.10 */
	RSP_ERR_ORDER_MAX_ATTEMPTS,     /* 8.8.5 / 6.4 */
	RSP_ERR_EUICC_AUTH_ERROR,       /* 8.1 / 3.8: eUICC answered AuthenticateResponseError */
	/* getBoundProfilePackage (SGP.22 5.6.2) */
	RSP_ERR_CC_MISSING,             /* 8.2.7 / 2.2 */
	RSP_ERR_CC_WRONG,               /* 8.2.7 / 3.8 */
	RSP_ERR_CC_RETRIES,             /* 8.2.7 / 6.4 */
	RSP_ERR_BPP_REBINDING_REFUSED,  /* 8.2 / 3.7 */
	RSP_ERR_EUICC_DOWNLOAD_ERROR,   /* 8.1 / 3.8: eUICC answered PrepareDownloadResponseError */
	/* cancelSession (SGP.22 5.6.5) */
	RSP_ERR_SMDP_OID_MISMATCH,      /* 8.8 / 3.10 */
	/* ES2+ (SGP.22 5.3) */
	RSP_ERR_REQUESTER_NOT_ALLOWED,  /* 1.1 / 1.2 unknown functionRequesterIdentifier */
	RSP_ERR_ICCID_UNKNOWN,          /* 8.2.1 / 3.9 */
	RSP_ERR_ICCID_IN_USE,           /* 8.2.1 / 3.3 already in use or unavailable */
	RSP_ERR_ICCID_NOT_OWNER,        /* 8.2.1 / 1.2 profile of another operator */
	RSP_ERR_ICCID_WRONG_STATE,      /* 8.2.1 / 3.5 transition not allowed now */
	RSP_ERR_PROFILE_TYPE_UNKNOWN,   /* 8.2.5 / 3.9 */
	RSP_ERR_PROFILE_TYPE_EXHAUSTED, /* 8.2.5 / 3.7 no Available profile left */
	RSP_ERR_PROFILE_TYPE_MISMATCH,  /* 8.2.5 / 3.8 ICCID not of that type */
	RSP_ERR_MATCHING_ID_CONFLICT,   /* 8.2.6 / 3.3 */
	RSP_ERR_MATCHING_ID_MISMATCH,   /* 8.2.6 / 3.10 */
	RSP_ERR_EID_REQUIRED,           /* 8.1.1 / 2.2 */
	RSP_ERR_EID_DIFFERENT,          /* 8.1.1 / 3.10 */
	/* only in handleDownloadProgressInfo (notificationPointStatus) */
	RSP_ERR_INSTALL_FAILED,         /* 8.1 / 4.2 PIR errorResult */
	RSP_ERR_SESSION_CANCELLED,      /* 8.1 / 3.8 cancelSession */
	RSP_STATUS_COUNT
};

/* Which ES9+ function a status is reported by: selects the ASN.1-binding
 * error INTEGER (SGP.22 6.x *Error enums). */
enum es9_fn {
	ES9_INITIATE_AUTH = 0,
	ES9_AUTH_CLIENT,
	ES9_GET_BPP,
	ES9_HANDLE_NOTIF,
	ES9_CANCEL_SESSION,
	ES9_FN_COUNT
};

struct rsp_status_info {
	const char *name;        /* enum name without RSP_ERR_, for logs */
	const char *subject;     /* subjectCode, e.g. "8.8.1" */
	const char *reason;      /* reasonCode, e.g. "3.8" */
	const char *message;     /* human-readable explanation */
	int asn1[ES9_FN_COUNT];  /* ASN.1-binding error INTEGER per function, -1 none */
};

/* Look up a status. Never NULL: out-of-range values map to RSP_ERR_INTERNAL. */
const struct rsp_status_info *rsp_status_info(enum rsp_status st);

/* ------------------------------------------------------------------ */
/* crypto.c: the only file that includes OpenSSL headers (with the TLS
 * set-up in http.c / httpc.c). Curves: SGP.22 2.6.5. */
enum crypto_curve {
	CURVE_NONE = 0,
	CURVE_NIST_P256 = 1,        /* prime256v1 */
	CURVE_BRAINPOOL_P256R1 = 2,
};

typedef struct crypto_key crypto_key;    /* wraps EVP_PKEY */
typedef struct crypto_cert crypto_cert;  /* wraps X509, keeps its DER */

/* Name of a curve for logs ("NIST P-256", "brainpoolP256r1", "none"). */
const char *crypto_curve_name(enum crypto_curve c);
/* Fill out with n bytes from the CSPRNG. 0 / -1. */
int crypto_random(uint8_t *out, size_t n);
/* SHA-256 of the concatenation a||b (b may be NULL with blen 0). */
void crypto_sha256(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		   uint8_t out[32]);
/* Wipe memory in a way the compiler keeps. */
void crypto_cleanse(void *p, size_t n);
/* Free what crypto.c prepares once per process (curve parameters, AES and
 * CMAC handles). Only at exit, after the last use of crypto.c. */
void crypto_release(void);

/* Load a private key from a PEM file (SEC1 or PKCS#8). NULL on error. */
crypto_key *crypto_key_load(const char *path);
/* Generate a one-time key pair on curve c (otSK/otPK, SGP.22 3.1.3). */
crypto_key *crypto_key_generate(enum crypto_curve c);
/* Public key from an uncompressed point 04||X||Y on curve c; NULL if the
 * point is malformed or not on the curve. */
crypto_key *crypto_key_from_point(enum crypto_curve c, const uint8_t *pt, size_t len);
/* Write the public point (04||X||Y, 65 bytes) of key k. 0 / -1. */
int crypto_key_point(const crypto_key *k, uint8_t out[SMDP_POINT_LEN]);
enum crypto_curve crypto_key_curve(const crypto_key *k);
/* 1 if the private key priv belongs to the public key in cert, else 0. */
int crypto_key_matches_cert(const crypto_key *priv, const crypto_cert *cert);
/* A second handle on the same key (reference counted; free each with
 * crypto_key_free). Keys are never changed once made, so threads may
 * verify and agree keys with handles on one key at once. NULL only for
 * k NULL. */
crypto_key *crypto_key_ref(const crypto_key *k);
void crypto_key_free(crypto_key *k);

/* ECDSA with SHA-256 over msg, signature as raw r||s (BSI TR-03111, SGP.22
 * 2.6.5), 64 bytes. 0 / -1. */
int crypto_sign(const crypto_key *k, const uint8_t *msg, size_t n,
		uint8_t sig[SMDP_SIG_LEN]);
/* Verify a raw r||s signature over msg with public key k (a private key also
 * works). 1 valid, 0 invalid, -1 error. */
int crypto_verify(const crypto_key *k, const uint8_t *msg, size_t n,
		  const uint8_t *sig, size_t siglen);
/* ECKA-EG/ECDH: shared secret Z = x-coordinate (32 bytes), SGP.22 3.1.3.
 * priv and peer must be on the same curve. 0 / -1. */
int crypto_ecdh(const crypto_key *priv, const crypto_key *peer, uint8_t z[32]);
/* ANSI X9.63 KDF with SHA-256 (SGP.22 2.6.6.2). 0 / -1. */
int crypto_x963_kdf(const uint8_t *z, size_t zlen, const uint8_t *info,
		    size_t infolen, uint8_t *out, size_t outlen);
/* AES-128-CBC, no padding, n a multiple of 16; in and out may alias. */
int crypto_aes_cbc_encrypt(const uint8_t key[16], const uint8_t iv[16],
			   const uint8_t *in, size_t n, uint8_t *out);
int crypto_aes_cbc_decrypt(const uint8_t key[16], const uint8_t iv[16],
			   const uint8_t *in, size_t n, uint8_t *out);
/* One AES-128-ECB block. */
int crypto_aes_ecb_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]);
/* AES-128-CMAC (full 16-byte MAC). */
int crypto_cmac(const uint8_t key[16], const uint8_t *msg, size_t n, uint8_t out[16]);

/* Parse one certificate from DER (exact length: trailing bytes rejected).
 * NULL on error. */
crypto_cert *crypto_cert_from_der(const uint8_t *der, size_t n);
/* The same for a certificate that is only checked and whose EC key is
 * taken (eUICC certificates, SGP.22 5.6.3): parsed without OpenSSL 3.0
 * decoding its public key through the provider decoders (~0.1 ms idle,
 * several times that under load). crypto_cert_signed_by (as the signed
 * certificate: ecdsa-with-SHA256 only), _curve and _pubkey read the key
 * from the SubjectPublicKeyInfo; the name, validity and extension
 * functions work as for any certificate. */
crypto_cert *crypto_cert_from_der_lite(const uint8_t *der, size_t n);
/* Load a certificate from a DER or PEM file. NULL on error. */
crypto_cert *crypto_cert_load(const char *path);
/* The certificate's DER bytes (owned by cert; valid while cert lives). */
const uint8_t *crypto_cert_der(const crypto_cert *c, size_t *len);
/* A second handle on the same parsed certificate (shared, reference
 * counted; free each with crypto_cert_free). NULL if out of memory. */
crypto_cert *crypto_cert_ref(const crypto_cert *c);
void crypto_cert_free(crypto_cert *c);
/* Public key of the certificate (new reference; caller frees). */
crypto_key *crypto_cert_pubkey(const crypto_cert *c);
enum crypto_curve crypto_cert_curve(const crypto_cert *c);
/* Subject / Authority Key Identifier bytes (no DER wrapper). Return the
 * length, 0 if absent, -1 if longer than outsz. */
int crypto_cert_ski(const crypto_cert *c, uint8_t *out, size_t outsz);
int crypto_cert_aki(const crypto_cert *c, uint8_t *out, size_t outsz);
/* 1 if issuer's key verifies c's signature, 0 if not, -1 on error. */
int crypto_cert_signed_by(const crypto_cert *c, const crypto_cert *issuer);
/* Validity at time now: 0 valid, 1 expired, 2 not yet valid, -1 error. */
int crypto_cert_validity(const crypto_cert *c, time_t now);
/* notAfter as unix time, or -1. */
time_t crypto_cert_not_after(const crypto_cert *c);
/* 1 if the certificatePolicies extension contains the dotted oid, else 0. */
int crypto_cert_has_policy(const crypto_cert *c, const char *oid);
/* Key usage bits as X509v3 KU_* values of OpenSSL (digitalSignature 0x80,
 * keyCertSign 0x04, ...); -1 if the extension is absent. */
long crypto_cert_key_usage(const crypto_cert *c);
#define CRYPTO_KU_DIGITAL_SIGNATURE 0x80
#define CRYPTO_KU_KEY_CERT_SIGN     0x04
/* 1 if basicConstraints CA:TRUE. */
int crypto_cert_is_ca(const crypto_cert *c);
/* Subject serialNumber attribute (the EID in CERT.EUICC, SGP.22 4.5.2.1.0.2)
 * into out (NUL-terminated). 0 / -1 if absent or too long. */
int crypto_cert_subject_serial(const crypto_cert *c, char *out, size_t outsz);
/* First registeredID in subjectAltName (the SM-DP+ OID of CERT.DPauth /
 * CERT.DPpb), dotted, into out. 0 / -1 if absent. */
int crypto_cert_san_rid(const crypto_cert *c, char *out, size_t outsz);
/* 1 if subjectAltName has the DNS name (case-insensitive), else 0. */
int crypto_cert_san_dns(const crypto_cert *c, const char *name);
/* Permitted EID prefixes of an EUM certificate (SGP.22 4.5.2.1.0.2):
 * serialNumber values in the permitted subtrees of nameConstraints (SGP.26
 * variant O) and, if present, the SGP.22 v3 extension 2.23.146.1.2.2.0
 * (SEQUENCE OF PrintableString). Writes up to max prefixes of at most 32
 * digits each. Returns the count (0 = no restriction), -1 on a malformed
 * extension. */
int crypto_cert_eid_prefixes(const crypto_cert *c, char (*out)[SMDP_EID_LEN + 1],
			     size_t max);
/* One-line summary "subject / issuer / notAfter" for logs. */
void crypto_cert_describe(const crypto_cert *c, char *out, size_t outsz);
/* Subject in the one-line form of `openssl x509 -subject` ("C = ES, O = ..."),
 * control characters replaced by '?'. */
void crypto_cert_subject(const crypto_cert *c, char *out, size_t outsz);
/* notBefore as unix time, or -1. */
time_t crypto_cert_not_before(const crypto_cert *c);
/* Every DNS name of subjectAltName, comma-separated, into out ("" if none). */
void crypto_cert_san_dns_list(const crypto_cert *c, char *out, size_t outsz);
/* PEM text ("-----BEGIN CERTIFICATE-----...") of c into out (replaced). 0 / -1. */
int crypto_cert_pem(const crypto_cert *c, struct buf *out);
/* Write private key k to path as PKCS#8 PEM, file mode 0600 (the file is
 * replaced). 0 / -1. */
int crypto_key_save(const crypto_key *k, const char *path);

/* Certificate issuance for the test PKI tool (smdp-pki): the profiles of
 * SGP.22 4.5.2 / SGP.26 (role policy, key usage, SKI/AKI, SAN, name
 * constraints) are chosen by the caller; this only encodes them. */
#define CRYPTO_MAX_NAME_ATTRS  8
#define CRYPTO_MAX_PREFIXES    8
#define CRYPTO_TIME_FOREVER    ((time_t)-2)  /* notAfter 99991231235959Z (RFC 5280 4.1.2.5) */
#define CRYPTO_KU_CRL_SIGN     0x02
struct crypto_name_attr {
	const char *type;               /* "C", "O", "OU", "CN", "serialNumber" */
	const char *value;
};
struct crypto_cert_tmpl {
	struct crypto_name_attr subject[CRYPTO_MAX_NAME_ATTRS];  /* in order; type NULL ends */
	uint8_t serial[20];             /* positive INTEGER, big-endian */
	size_t serial_len;
	time_t not_before, not_after;   /* not_after may be CRYPTO_TIME_FOREVER */
	int ca;                         /* basicConstraints critical CA:TRUE */
	int pathlen;                    /* with ca: pathLenConstraint, -1 none */
	long key_usage;                 /* CRYPTO_KU_* bits, critical; 0 = no extension */
	int eku_tls;                    /* extKeyUsage critical serverAuth, clientAuth */
	const char *policy;             /* certificatePolicies OID, NULL none */
	int policy_critical;
	const char *san_dns;            /* subjectAltName dNSName, NULL none */
	const char *san_rid;            /* subjectAltName registeredID, NULL none */
	const char *crl_url;            /* cRLDistributionPoints URI, NULL none */
	int ski;                        /* subjectKeyIdentifier (SHA-1 of the key, RFC 5280 method 1) */
	int aki;                        /* authorityKeyIdentifier = issuer's SKI */
	/* Permitted EID prefixes (SGP.22 4.5.2.1.0.2): written both as critical
	 * nameConstraints permitted directoryName {O = eid_org, serialNumber =
	 * prefix} (SGP.26 variant O) and as the non-critical SGP.22 v3
	 * permittedEins extension 2.23.146.1.2.2.0. */
	const char *eid_org;
	const char *eid_prefixes[CRYPTO_MAX_PREFIXES];
	size_t n_eid_prefixes;
};
/* Issue a certificate for subject_pub (its public part is used) signed with
 * ECDSA-SHA256 by issuer_key; issuer NULL = self-signed (issuer_key is then
 * the subject's own key). Returns a new certificate (caller frees) or NULL. */
crypto_cert *crypto_cert_issue(const struct crypto_cert_tmpl *t, const crypto_key *subject_pub,
			       const crypto_cert *issuer, const crypto_key *issuer_key);
/* Re-issue old under issuer: same subject, public key and extensions, new
 * serial and validity, issuer name and authorityKeyIdentifier from issuer.
 * New certificate (caller frees) or NULL. */
crypto_cert *crypto_cert_reissue(const crypto_cert *old, const uint8_t *serial,
				 size_t serial_len, time_t not_before, time_t not_after,
				 const crypto_cert *issuer, const crypto_key *issuer_key);

/* Certificate revocation lists (RFC 5280 5; SGP.22 4.5.2.2: the CI's CRL
 * revokes EUM and SM-DP+ certificates, an EUM's CRL revokes eUICCs). */
#define SMDP_MAX_CRL (64 * 1024)      /* one CRL file */
typedef struct crypto_crl crypto_crl;
/* Load a CRL from a DER or PEM file of at most SMDP_MAX_CRL bytes. NULL on error. */
crypto_crl *crypto_crl_load(const char *path);
void crypto_crl_free(crypto_crl *crl);
/* 1 if issuer issued crl: issuer name equal to issuer's subject, AKI (if
 * present) equal to issuer's SKI, and the signature verifies; 0 if the CRL
 * names another issuer; -1 if it names issuer but the AKI or signature do
 * not match (a forged or corrupted CRL). */
int crypto_crl_issued_by(const crypto_crl *crl, const crypto_cert *issuer);
/* 1 if crl lists c (same issuer name and serial number), else 0. */
int crypto_crl_revokes(const crypto_crl *crl, const crypto_cert *c);
/* Revoked entries in the CRL. */
int crypto_crl_count(const crypto_crl *crl);
/* 0 current at now, 1 nextUpdate passed, 2 thisUpdate in the future, -1 error. */
int crypto_crl_validity(const crypto_crl *crl, time_t now);
/* nextUpdate as unix time, -1 if absent or unreadable. */
time_t crypto_crl_next_update(const crypto_crl *crl);
/* Make a v2 CRL signed by issuer_key listing revoked[0..n) (revocation date
 * this_update), with AKI and cRLNumber crl_number. DER into out. 0 / -1. */
int crypto_crl_make(const crypto_cert *issuer, const crypto_key *issuer_key,
		    const crypto_cert *const *revoked, size_t n, time_t this_update,
		    time_t next_update, long crl_number, struct buf *out);
/* PEM text of a DER CRL. 0 / -1. */
int crypto_crl_pem(const struct buf *der, struct buf *out);

/* ------------------------------------------------------------------ */
/* scp03t.c: SGP.22 2.6.6 key derivation and BSP segment protection
 * (SCP03t). Bytes in, bytes out; no knowledge of the BPP structure. */
struct scp03t {
	uint8_t enc[16];   /* S-ENC or PPK-ENC */
	uint8_t mac[16];   /* S-MAC or PPK-MAC */
	uint8_t mcv[16];   /* MAC chaining value */
	uint32_t counter;  /* block counter for the ICV, starts at 1 */
};

/* Derive session keys from the shared secret (SGP.22 2.6.6.2):
 * shared info = key_type(0x88) || key_len(0x10) || len(host_id) || host_id ||
 * len(eid) || eid; the 48-byte KDF output splits into initial MCV, S-ENC,
 * S-MAC in that order. eid is the 16-byte binary EID. 0 / -1. */
int scp03t_derive(const uint8_t z[32], const uint8_t *host_id, size_t host_id_len,
		  const uint8_t eid[16], struct scp03t *out);
/* Start a context from explicit keys (session keys or PPKs), counter 1. */
void scp03t_init(struct scp03t *s, const uint8_t enc[16], const uint8_t mac[16],
		 const uint8_t mcv[16]);
/* Protect one segment (SGP.22 2.6.6.3/2.6.6.4). encrypt=1: pad 80 00.., AES-CBC
 * with ICV = AES-ECB(enc, counter), then MAC; encrypt=0: MAC only. Either way
 * the counter advances. Appends the complete TLV tag||len||data||MAC8 to out.
 * Fails if the TLV would exceed SMDP_SEG_MAX. */
int scp03t_wrap(struct scp03t *s, uint8_t tag, int encrypt, const uint8_t *in,
		size_t n, struct buf *out);
/* Inverse, as the eUICC does it: tlv is one complete segment TLV with the
 * expected tag; check the MAC, decrypt if encrypt, strip the padding, and
 * append the plaintext to out. -1 on MAC failure or bad structure. */
int scp03t_unwrap(struct scp03t *s, uint8_t tag, int encrypt, const uint8_t *tlv,
		  size_t n, struct buf *out);
/* Largest plaintext for one segment: 1007 bytes encrypted, 1008 MAC-only
 * (1020 bytes with tag 1, length 3, MAC 8). */
size_t scp03t_max_plain(int encrypt);
void scp03t_wipe(struct scp03t *s);

/* ------------------------------------------------------------------ */
/* der.c: DER at the edge, through asn1c (asn1/gen). Decoders fill our own
 * structs and copy what they keep; raw slices are exact received bytes, so
 * signatures are always verified over what the peer sent. Each decoder
 * returns RSP_OK or RSP_ERR_INVALID_REQUEST (malformed, trailing bytes,
 * over a limit) / RSP_ERR_MISSING_ELEMENT. Encoders return 0 / -1. */

struct ci_id {                      /* SubjectKeyIdentifier value */
	uint8_t id[32];
	size_t len;
};

struct euicc_info1 {                /* EUICCInfo1, BF20 (SGP.22 4.x ES10b) */
	uint8_t svn[3];
	struct ci_id verif[SMDP_MAX_CI_IDS];
	size_t n_verif;
	struct ci_id sign[SMDP_MAX_CI_IDS];
	size_t n_sign;
};

struct ctx_params1 {                /* CtxParamsForCommonAuthentication */
	int has_matching_id;
	char matching_id[SMDP_MAX_MATCHING_ID + 1];
	uint8_t tac[8];
	size_t tac_len;                 /* 4 (v2.5) or 8 (older module) */
	struct buf device_info;         /* exact DeviceInfo TLV as received */
};

struct euicc_signed1 {              /* EuiccSigned1 */
	uint8_t txid[16];
	size_t txid_len;
	char server_address[SMDP_MAX_ADDRESS + 1];
	uint8_t server_challenge[SMDP_CHAL_LEN];
	struct buf euicc_info2;         /* exact BF22 TLV as received */
	uint8_t euicc_info2_svn[3];     /* svn from EUICCInfo2, 0s if absent */
	struct ctx_params1 ctx;
};

struct auth_server_resp {           /* AuthenticateServerResponse, BF38 */
	int is_error;                   /* 1: AuthenticateResponseError */
	long error_code;                /* AuthenticateErrorCode when is_error */
	uint8_t error_txid[16];
	size_t error_txid_len;
	struct buf signed1_raw;         /* exact euiccSigned1 TLV (30 ...) */
	struct euicc_signed1 signed1;
	uint8_t signature1[SMDP_SIG_LEN];
	struct buf euicc_cert;          /* DER */
	struct buf eum_cert;            /* DER */
};

struct prepare_download_resp {      /* PrepareDownloadResponse, BF21 */
	int is_error;
	long error_code;                /* DownloadErrorCode when is_error */
	uint8_t txid[16];               /* also the error's transactionId */
	size_t txid_len;
	struct buf signed2_raw;         /* exact euiccSigned2 TLV (30 ...) */
	uint8_t euicc_otpk[SMDP_POINT_LEN];
	size_t euicc_otpk_len;
	int has_hash_cc;
	uint8_t hash_cc[32];
	uint8_t signature2[SMDP_SIG_LEN];
};

struct notification_metadata {      /* NotificationMetadata, BF2F */
	long seq_number;
	int operation;                  /* NotificationEvent bit: 0 install .. 3 delete */
	char address[SMDP_MAX_ADDRESS + 1];
	int has_iccid;
	uint8_t iccid[10];
};

enum notif_kind { NOTIF_PIR = 1, NOTIF_OTHER = 2 };

struct pending_notification {       /* PendingNotification */
	enum notif_kind kind;
	struct notification_metadata meta;
	uint8_t signature[SMDP_SIG_LEN];
	/* NOTIF_PIR: ProfileInstallationResult BF37 */
	struct buf pir_data_raw;        /* exact BF27 TLV */
	uint8_t txid[16];
	size_t txid_len;
	char smdp_oid[SMDP_MAX_OID + 1];
	int success;                    /* 1 successResult, 0 errorResult */
	uint8_t aid[16];
	size_t aid_len;
	long bpp_command_id;
	long error_reason;
	struct buf sima_response;
	/* NOTIF_OTHER: OtherSignedNotification */
	struct buf tbs_raw;             /* exact BF2F TLV */
	struct buf euicc_cert;
	struct buf eum_cert;
};

struct cancel_session_resp {        /* CancelSessionResponse, BF41 */
	int is_error;
	long error_code;
	struct buf signed_raw;          /* exact EuiccCancelSessionSigned TLV */
	uint8_t txid[16];
	size_t txid_len;
	char smdp_oid[SMDP_MAX_OID + 1];
	long reason;                    /* CancelSessionReason */
	uint8_t signature[SMDP_SIG_LEN];
};

struct profile_metadata {           /* what goes into StoreMetadataRequest BF25 */
	uint8_t iccid[10];              /* as coded in EF.ICCID (nibble-swapped BCD) */
	char spn[33];                   /* serviceProviderName, <= 32 bytes */
	char name[65];                  /* profileName, <= 64 bytes */
	int profile_class;              /* 0 test, 1 provisioning, 2 operational;
	                                   -1 = omit (DEFAULT operational) */
	int icon_type;                  /* -1 = no icon */
	struct buf icon;
	int has_ppr;                    /* profilePolicyRules present */
	uint8_t ppr;                    /* PprIds bits: bit1 ppr1, bit2 ppr2 (first byte) */
	/* SGP.32 v1.2 IoT fields (SGP32-StoreMetadataRequest); a zeroed struct
	 * leaves them out, so SGP.22 metadata stays byte for byte as before. */
	int has_ecall_indication;       /* ecallIndication 9F7B present */
	int ecall_indication;           /* its value (0 / 1) */
	int has_fallback_allowed;       /* fallbackAllowed 9F67 present */
	int fallback_allowed;           /* its value (0 / 1) */
	/* notificationConfigurationInfo B6 (SGP.22 5.5.3), 0 entries = omitted */
	size_t n_notif;
	struct notif_config {
		uint8_t ops;                /* NotificationEvent bits, first byte: 0x80
		                               install, 0x40 enable, 0x20 disable, 0x10 delete */
		char address[SMDP_MAX_ADDRESS + 1];   /* notificationAddress (FQDN) */
	} notif[SMDP_MAX_NOTIF_CFG];
};

struct bf23 {                       /* InitialiseSecureChannelRequest, BF23 */
	uint8_t txid[16];
	size_t txid_len;
	uint8_t host_id[16];
	size_t host_id_len;
	uint8_t dp_otpk[SMDP_POINT_LEN];
	uint8_t signature[SMDP_SIG_LEN];   /* smdpSign */
};

struct bpp_parts {                  /* BoundProfilePackage, BF36, split */
	struct buf bf23;                /* exact BF23 TLV */
	struct buf *seg87a;             /* firstSequenceOf87: complete 87 TLVs */
	size_t n87a;
	struct buf *seg88;              /* sequenceOf88: complete 88 TLVs */
	size_t n88;
	struct buf *seg87b;             /* secondSequenceOf87 (PPK mode), may be 0 */
	size_t n87b;
	struct buf *seg86;              /* sequenceOf86: complete 86 TLVs */
	size_t n86;
};
void bpp_parts_free(struct bpp_parts *p);

/* --- server side: decode what the eUICC/LPA sends (SGP.22 5.6) --- */
enum rsp_status der_decode_euicc_info1(const uint8_t *der, size_t n, struct euicc_info1 *out);
enum rsp_status der_decode_auth_server_resp(const uint8_t *der, size_t n,
					    struct auth_server_resp *out);
/* Subject serialNumber (the EID of CERT.EUICC, SGP.22 4.5.2.1.0.2) read
 * from certificate DER by walking the TLVs, without parsing the
 * certificate: for indexing and logging only, nothing is verified. 0, or
 * -1 if the DER is not a certificate or it has no printable serialNumber
 * shorter than outsz. */
int der_cert_subject_serial(const uint8_t *der, size_t n, char *out, size_t outsz);

enum rsp_status der_decode_prepare_download_resp(const uint8_t *der, size_t n,
						 struct prepare_download_resp *out);
enum rsp_status der_decode_pending_notification(const uint8_t *der, size_t n,
						struct pending_notification *out);
enum rsp_status der_decode_cancel_session_resp(const uint8_t *der, size_t n,
					       struct cancel_session_resp *out);
void auth_server_resp_free(struct auth_server_resp *r);
void prepare_download_resp_free(struct prepare_download_resp *r);
void pending_notification_free(struct pending_notification *r);
void cancel_session_resp_free(struct cancel_session_resp *r);

/* --- server side: encode what the SM-DP+ sends --- */
/* ServerSigned1 SEQUENCE (SGP.22 5.6.1). */
int der_encode_server_signed1(const uint8_t *txid, size_t txid_len,
			      const uint8_t euicc_challenge[SMDP_CHAL_LEN],
			      const char *server_address,
			      const uint8_t server_challenge[SMDP_CHAL_LEN], struct buf *out);
/* SmdpSigned2 SEQUENCE; otpk NULL = no bppEuiccOtpk. */
int der_encode_smdp_signed2(const uint8_t *txid, size_t txid_len, int cc_required,
			    const uint8_t *otpk, size_t otpk_len, struct buf *out);
/* StoreMetadataRequest BF25 (SGP.22 5.5.3). */
int der_encode_store_metadata(const struct profile_metadata *m, struct buf *out);
/* ConfigureISDPRequest BF24; dp_oid NULL = empty (no dpProprietaryData). */
int der_encode_configure_isdp(const char *dp_oid, struct buf *out);
/* ReplaceSessionKeysRequest BF26 {80 initialMacChainingValue, 81 ppkEnc, 82 ppkCmac}. */
int der_encode_replace_session_keys(const uint8_t mcv[16], const uint8_t enc[16],
				    const uint8_t mac[16], struct buf *out);
/* InitialiseSecureChannelRequest BF23 (SGP.22 5.5.1). tbs receives the
 * data the smdpSign covers before otPK.EUICC is appended: the remoteOpId,
 * transactionId, controlRefTemplate and smdpOtpk TLVs, exactly as they
 * appear inside the encoded BF23 (may be NULL). */
int der_encode_bf23(const struct bf23 *in, struct buf *whole, struct buf *tbs);
/* BoundProfilePackage BF36 from an encoded BF23 and complete segment TLVs. */
int der_encode_bpp(const struct bpp_parts *p, struct buf *out);

/* --- client (eUICC/LPA) side, used by smdp-client and the tests --- */
int der_encode_euicc_info1(const struct euicc_info1 *in, struct buf *out);
/* A minimal valid EUICCInfo2 BF22 for a software eUICC with svn and CI lists. */
int der_encode_euicc_info2(const uint8_t svn[3], const struct euicc_info1 *cis,
			   struct buf *out);
/* EuiccSigned1 SEQUENCE; euiccInfo2 and deviceInfo are embedded from the
 * raw TLVs in in->euicc_info2 / in->ctx.device_info (if device_info is
 * empty, a DeviceInfo with in->ctx.tac and empty capabilities is made). */
int der_encode_euicc_signed1(const struct euicc_signed1 *in, struct buf *out);
/* AuthenticateServerResponse BF38: ok form from raw signed1 + signature +
 * certs, or the error form when in->is_error. */
int der_encode_auth_server_resp(const struct auth_server_resp *in, struct buf *out);
/* EUICCSigned2 SEQUENCE. */
int der_encode_euicc_signed2(const uint8_t *txid, size_t txid_len,
			     const uint8_t otpk[SMDP_POINT_LEN], const uint8_t *hash_cc,
			     struct buf *out);
int der_encode_prepare_download_resp(const struct prepare_download_resp *in, struct buf *out);
/* ProfileInstallationResultData BF27 from in (pir_data_raw ignored). */
int der_encode_pir_data(const struct pending_notification *in, struct buf *out);
/* ProfileInstallationResult BF37 = raw BF27 (in->pir_data_raw) + signature. */
int der_encode_pir(const struct pending_notification *in, struct buf *out);
/* EuiccCancelSessionSigned SEQUENCE. */
int der_encode_cancel_signed(const uint8_t *txid, size_t txid_len, const char *smdp_oid,
			     long reason, struct buf *out);
int der_encode_cancel_session_resp(const struct cancel_session_resp *in, struct buf *out);

struct server_signed1 {
	uint8_t txid[16];
	size_t txid_len;
	uint8_t euicc_challenge[SMDP_CHAL_LEN];
	char server_address[SMDP_MAX_ADDRESS + 1];
	uint8_t server_challenge[SMDP_CHAL_LEN];
};
struct smdp_signed2 {
	uint8_t txid[16];
	size_t txid_len;
	int cc_required;
	int has_otpk;
	uint8_t otpk[SMDP_POINT_LEN];
};
enum rsp_status der_decode_server_signed1(const uint8_t *der, size_t n, struct server_signed1 *out);
enum rsp_status der_decode_smdp_signed2(const uint8_t *der, size_t n, struct smdp_signed2 *out);
enum rsp_status der_decode_store_metadata(const uint8_t *der, size_t n, struct profile_metadata *out);
/* Decode BF23 and also return tbs as der_encode_bf23 defines it. */
enum rsp_status der_decode_bf23(const uint8_t *der, size_t n, struct bf23 *out, struct buf *tbs);
/* Split a BF36 into its parts (copies). */
enum rsp_status der_decode_bpp(const uint8_t *der, size_t n, struct bpp_parts *out);
/* ReplaceSessionKeysRequest BF26 -> keys. */
enum rsp_status der_decode_replace_session_keys(const uint8_t *der, size_t n, uint8_t mcv[16],
						uint8_t enc[16], uint8_t mac[16]);

/* --- what a device says about itself: EUICCInfo2 and DeviceInfo as kept
 * (raw) with a session, decoded for logs and policy (SGP.22 5.7.8 / 4.2,
 * SGP.32 v1.2 SGP32-EUICCInfo2). Unknown trailing fields are skipped. --- */
#define SMDP_MAX_VERSIONS 8         /* iotVersion entries in IoTSpecificInfo */
struct euicc_info2 {                /* EUICCInfo2, BF22 */
	uint8_t profile_version[3];     /* base profile package version */
	uint8_t svn[3];
	uint8_t firmware[3];            /* euiccFirmwareVer */
	uint32_t rsp_capability;        /* RspCapability: bit i = named bit i */
	/* SGP.32 v1.2 additions; has_* 0 = absent (every SGP.22 device) */
	int has_ipa_mode;
	long ipa_mode;                  /* ipaMode [16]: 0 ipad, 1 ipae */
	int has_iot_info;               /* iotSpecificInfo [20] */
	uint8_t iot_versions[SMDP_MAX_VERSIONS][3];   /* iotVersion */
	size_t n_iot_versions;
	int ecall_supported;            /* ecallSupported NULL present */
	int fallback_supported;         /* fallbackSupported NULL present */
	int has_additional_info;        /* additionalEuiccInfo [18] */
	uint8_t additional_info[32];
	size_t additional_info_len;
	int has_highest_svn;            /* highestSvn [19] */
	uint8_t highest_svn[3];
	size_t n_ci_sign_v3;            /* euiccCiPKIdListForSigningV3 [17] entries */
};
struct device_info {                /* DeviceInfo (ctxParamsForCommonAuthentication) */
	uint8_t tac[8];
	size_t tac_len;                 /* 4 (v2.5) or 8 (older v2) */
	int has_imei;
	uint8_t imei[8];
	int has_lpa_svn;                /* deviceCapabilities.lpaSvn */
	uint8_t lpa_svn[3];
	int has_form_factor;            /* deviceCapabilities.euiccFormFactorType */
	long form_factor;
	int n_capabilities;             /* DeviceCapabilities components present */
};
/* EUICCInfo2 BF22 as received (e.g. struct euicc_signed1.euicc_info2). */
enum rsp_status der_decode_euicc_info2(const uint8_t *der, size_t n, struct euicc_info2 *out);
/* DeviceInfo as received: with its ctxParams1 tag 'A1' (struct
 * ctx_params1.device_info) or as a plain SEQUENCE '30'. */
enum rsp_status der_decode_device_info(const uint8_t *der, size_t n, struct device_info *out);
/* One line for logs from the raw EUICCInfo2 and DeviceInfo a session keeps
 * (either may be empty), e.g. "eUICC SGP.22 v2.5.0, SGP.32 IPAe (IoT v1.2.0,
 * eCall, fallback); device TAC 35174209". Undecodable parts are named so. */
void der_device_summary(const uint8_t *info2, size_t n2, const uint8_t *devinfo, size_t nd,
			char *out, size_t outsz);

/* --- ES9+ ASN.1 binding (SGP.22 6.x "ES9+ ASN.1 Binding", SMDP-REFERENCE
 * 1.4): RemoteProfileProvisioningRequest / Response 'A2'. The ES9+ objects
 * inside travel as in the JSON binding, as complete DER TLVs. --- */
struct es9_asn1_req {               /* RemoteProfileProvisioningRequest */
	enum es9_fn fn;                 /* the alternative; ES9_FN_COUNT = none recognised */
	uint8_t txid[16];               /* authenticateClient, getBPP, cancelSession */
	size_t txid_len;
	uint8_t euicc_challenge[SMDP_CHAL_LEN];    /* initiateAuthentication */
	char smdp_address[SMDP_MAX_ADDRESS + 1];   /* initiateAuthentication */
	/* The ES10b object carried, as a standalone TLV: EUICCInfo1 BF20,
	 * AuthenticateServerResponse BF38, PrepareDownloadResponse BF21,
	 * CancelSessionResponse BF41 (sent re-tagged [1], 'A1'), or the
	 * PendingNotification BF37 / 30. Decoding copies the received bytes. */
	struct buf obj;
	struct buf ext;                 /* encoding only: TLVs appended inside the
	                                   function's SEQUENCE (a newer client's
	                                   extension fields, for tests) */
};
struct es9_asn1_resp {              /* RemoteProfileProvisioningResponse */
	enum es9_fn fn;                 /* IA, AUTH_CLIENT, GET_BPP or CANCEL_SESSION */
	long error;                     /* -1: the Ok alternative; else the error INTEGER */
	uint8_t txid[16];               /* Ok forms except cancelSession */
	size_t txid_len;
	/* Ok fields, each the complete TLV as on the wire (the JSON binding
	 * carries the base64 of the same bytes). */
	struct buf server_signed1;      /* IA: ServerSigned1 30 */
	struct buf server_signature1;   /* IA: 5F37 40 r||s */
	struct buf ci_pkid;             /* IA: euiccCiPKIdToBeUsed 04 len SKI */
	struct buf server_cert;         /* IA: CERT.DPauth */
	struct buf profile_metadata;    /* AC: StoreMetadataRequest BF25 */
	struct buf smdp_signed2;        /* AC: SmdpSigned2 30 */
	struct buf smdp_signature2;     /* AC: 5F37 40 r||s */
	struct buf smdp_cert;           /* AC: CERT.DPpb */
	struct buf bpp;                 /* GBPP: BoundProfilePackage BF36 */
};
void es9_asn1_req_free(struct es9_asn1_req *r);
void es9_asn1_resp_free(struct es9_asn1_resp *r);
/* Server side. Decode a request body. out->fn is set as soon as the
 * alternative is recognised, also when its content then fails (the caller
 * answers with that function's error); lenient about two tagging slips of
 * clients (cancelSessionResponse as BF41, pendingNotification without its
 * [0]). RSP_OK / RSP_ERR_INVALID_REQUEST / RSP_ERR_MISSING_ELEMENT. */
enum rsp_status der_decode_es9_request(const uint8_t *der, size_t n, struct es9_asn1_req *out);
/* Server side: the response for in->fn, Ok form when in->error < 0 (every
 * part must be one TLV of its type and comes out byte-identical). 0 / -1. */
int der_encode_es9_response(const struct es9_asn1_resp *in, struct buf *out);
/* Client side: the request (in->obj must be one TLV of the right tag; an
 * empty smdp_address or obj for initiateAuthentication leaves the field out,
 * as ESipa may: negative tests of what SGP.32 says an eIM must fill). */
int der_encode_es9_request(const struct es9_asn1_req *in, struct buf *out);
/* Client side: decode a response; out->fn tells which function answered. */
enum rsp_status der_decode_es9_response(const uint8_t *der, size_t n, struct es9_asn1_resp *out);

/* Client side, other device generations: EuiccSigned1 around in->euicc_info2
 * and in->ctx.device_info copied verbatim (each must decode as its type;
 * fields this module does not know are kept, where der_encode_euicc_signed1
 * refuses them). An empty device_info is made from ctx.tac. 0 / -1. */
int der_encode_euicc_signed1_verbatim(const struct euicc_signed1 *in, struct buf *out);

/* TLV helper for the few places that walk raw BER-TLV (profile headers,
 * segment parsing): read one TLV at p (n bytes available). Fills tag (up to
 * 3 bytes, e.g. 0xBF36), header length and value length. 0 / -1 if
 * truncated, indefinite, or the length does not fit. */
int der_tlv(const uint8_t *p, size_t n, uint32_t *tag, size_t *hdr_len, size_t *val_len);

/* ------------------------------------------------------------------ */
/* http.c: the only civetweb code. HTTPS listeners, request limits, and the
 * hand-over of one decoded request to the application's handler. */
/* Per-client-address limits of one listener (README, "Hostile clients").
 * A field of 0 takes the built-in default, -1 means no limit. Connections
 * and the request rate are counted per address across all listeners. */
struct http_limits {
	int conns_per_addr;         /* open connections (after the TLS handshake) */
	int rps;                    /* requests per second (token bucket refill) */
	int burst;                  /* bucket size: requests in a burst */
	int request_timeout_ms;     /* TLS handshake and request head, in all */
};

struct http_listener_cfg {
	char name[16];              /* "nist", "brainpool", "es2", "admin" (logs) */
	char addr[64];              /* "127.0.0.1" */
	int port;
	char cert[512];             /* certificate (PEM or DER) */
	char key[512];              /* private key (PEM) */
	char chain[512];            /* optional extra chain certificates (PEM), "" none */
	int tls12_only;             /* 1: TLS 1.2 only (brainpool on OpenSSL 3.0) */
	char client_ca[512];        /* mutual TLS: CA bundle (PEM), "" = no client cert */
	struct http_limits limits;  /* all 0: the built-in defaults */
};

struct http_request {
	int listener;               /* index into the listener array */
	int port;                   /* the listener's port, as bound */
	const char *method;
	const char *path;           /* without query string */
	const char *content_type;   /* "" if absent */
	const char *admin_protocol; /* X-Admin-Protocol, "" if absent */
	const char *remote_addr;
	const uint8_t *body;        /* NUL-terminated copy, body_len bytes */
	size_t body_len;
	const uint8_t *client_cert; /* peer certificate DER (mutual TLS), or NULL */
	size_t client_cert_len;
	const char *authorization;  /* Authorization header, "" if absent (admin API) */
};

struct http_response {
	int status;                 /* HTTP status, e.g. 200, 204, 400 */
	char content_type[64];      /* "" = none (204) */
	char admin_protocol[32];    /* X-Admin-Protocol to send, "" = none */
	struct buf body;            /* owned; freed by http.c after sending */
	int drop;                   /* 1: close the connection without answering (lab faults) */
};

/* Handler for every request; runs on a civetweb worker thread, so it must be
 * thread-safe with respect to ctx. It fills resp (status defaults to 500). */
typedef void (*http_handler)(void *ctx, const struct http_request *req,
			     struct http_response *resp);

struct http_server;
/* Start HTTPS listeners l[0..n-1] with num_threads workers. Bodies above
 * max_body get 413 without calling h. Returns NULL and writes a reason into
 * err on failure (bad certificate, port in use, TLS library problem). */
struct http_server *http_start(const struct http_listener_cfg *l, size_t n, int num_threads,
			       size_t max_body, http_handler h, void *ctx, char *err,
			       size_t errsz);
/* Port actually bound by listener i (useful with port 0). -1 if unknown. */
int http_port(const struct http_server *s, size_t i);
/* Stop listeners and wait for workers. NULL is fine. */
void http_stop(struct http_server *s);

/* ------------------------------------------------------------------ */
/* httpc.c: a small HTTPS client (OpenSSL) for smdp-client, the tests and
 * the benchmark: one keep-alive connection, reconnects when the server
 * closes it. Verifies the server chain against ca_file and the host name. */
struct httpc_cfg {
	char host[256];             /* TCP host to connect to, e.g. 127.0.0.1 */
	int port;
	char server_name[256];      /* SNI and name to verify, e.g. testsmdpplus1.example.com */
	char ca_file[512];          /* PEM/DER CA(s) to trust; "" = no verification */
	char client_cert[512];      /* mutual TLS (ES2+): certificate PEM, "" none */
	char client_key[512];
	int tls12_only;             /* offer TLS 1.2 only */
	int brainpool;              /* offer brainpoolP256r1 (and P-256) groups */
	int timeout_ms;             /* connect/read timeout, 0 = 30000 */
};
struct httpc;
struct httpc *httpc_new(const struct httpc_cfg *cfg);
/* POST body to path with the given content type and extra header lines
 * ("Name: value\r\n..." or NULL). On success (-1 = transport/TLS failure,
 * reason in err) fills *status and the response body (content type into ct
 * if not NULL). */
int httpc_post(struct httpc *c, const char *path, const char *content_type,
	       const char *extra_headers, const uint8_t *body, size_t n, int *status,
	       struct buf *resp, char *ct, size_t ctsz, char *err, size_t errsz);
/* Drop the connection (the next post reconnects); used to test resumption
 * and dropped connections. */
void httpc_disconnect(struct httpc *c);
void httpc_free(struct httpc *c);

/* ------------------------------------------------------------------ */
/* store.c: the only file that includes sqlite3.h. All state: sessions,
 * profile bindings, download history, notifications. Thread-safe: one
 * connection per store handle guarded by a mutex; every write is one
 * transaction. */
enum session_state {
	SESSION_NONE = 0,
	SESSION_AUTH_STARTED = 1,   /* after initiateAuthentication */
	SESSION_CLIENT_AUTHED = 2,  /* after authenticateClient */
	SESSION_BPP_SENT = 3,       /* after getBoundProfilePackage */
	SESSION_CLOSED = 4,         /* PIR received, cancelled, failed or expired */
};

struct session {                    /* one RSP session (SGP.22 3.1.2) */
	uint8_t txid[16];
	size_t txid_len;
	enum session_state state;
	int64_t created;                /* unix time */
	int64_t expires;                /* unix time after which calls fail */
	char ci_name[64];               /* which CI/DP credential set was selected */
	uint8_t euicc_challenge[SMDP_CHAL_LEN];
	uint8_t server_challenge[SMDP_CHAL_LEN];
	uint8_t svn[3];
	char eid[SMDP_EID_LEN + 1];     /* after authenticateClient */
	char matching_id[SMDP_MAX_MATCHING_ID + 1];
	char profile_id[SMDP_MAX_ID + 1];
	struct buf euicc_cert;          /* DER, kept to verify later notifications */
	struct buf eum_cert;
	uint8_t euicc_signature1[SMDP_SIG_LEN];
	struct buf smdp_signed2;        /* as sent */
	uint8_t smdp_signature2[SMDP_SIG_LEN];
	int cc_required;
	int has_bound_otpk;             /* bppEuiccOtpk announced in smdpSigned2 */
	uint8_t bound_otpk[SMDP_POINT_LEN];
	struct buf profile_metadata;    /* BF25 exactly as sent in authenticateClient */
	int close_reason;               /* enum session_close when CLOSED */
	int64_t order_id;               /* download order served; 0 = lab mode (file stem) */
	struct buf euicc_info2;         /* EUICCInfo2 BF22 exactly as received (authenticateClient) */
	struct buf device_info;         /* DeviceInfo TLV exactly as received (authenticateClient) */
};

enum session_close {
	CLOSE_NONE = 0,
	CLOSE_INSTALLED = 1,            /* PIR successResult */
	CLOSE_INSTALL_FAILED = 2,       /* PIR errorResult */
	CLOSE_CANCELLED = 3,            /* cancelSession */
	CLOSE_ERROR = 4,                /* a check failed */
	CLOSE_EXPIRED = 5,
};

void session_free(struct session *s);   /* frees the bufs inside */

/* A BPP binding kept for retries with the same otPK.EUICC (SGP.22 3.1.3.3):
 * everything after BF23 is reused, BF23 is rebuilt for the new session. */
struct binding {
	char eid[SMDP_EID_LEN + 1];
	char profile_id[SMDP_MAX_ID + 1];
	uint8_t euicc_otpk[SMDP_POINT_LEN];
	uint8_t dp_otpk[SMDP_POINT_LEN];
	struct buf segments;            /* encoded A0..A3 of the BPP, as sent */
	int64_t created;
};
void binding_free(struct binding *b);

struct store;
/* Open (creating if needed) the database at path, enable WAL and a busy
 * timeout, and run schema migrations. NULL with a reason in err. */
struct store *store_open(const char *path, char *err, size_t errsz);
void store_close(struct store *st);
/* Schema version after migrations. */
int store_schema_version(struct store *st);

/* Insert a new session. 0 / -1 (also if txid exists). */
int store_session_insert(struct store *st, const struct session *s);
/* Replace the stored session with s (same txid). 0 / -1 (unknown txid). */
int store_session_update(struct store *st, const struct session *s);
/* Load a session by txid into out (caller frees with session_free).
 * 1 found, 0 unknown, -1 error. */
int store_session_get(struct store *st, const uint8_t *txid, size_t txid_len,
		      struct session *out);
/* The few columns that say where a session stands, without its
 * certificates and signatures (the lab's trace reads it around each call). */
struct session_brief {
	enum session_state state;
	int close_reason;
	int64_t expires;
	char eid[SMDP_EID_LEN + 1];
	char matching_id[SMDP_MAX_MATCHING_ID + 1];
	char profile_id[SMDP_MAX_ID + 1];
};
/* 1 found, 0 unknown, -1 error. */
int store_session_brief(struct store *st, const uint8_t *txid, size_t txid_len,
			struct session_brief *out);
/* Mark sessions whose expiry passed (state < CLOSED) as CLOSED/EXPIRED;
 * delete closed sessions older than keep_seconds. Returns rows changed or -1. */
int store_session_sweep(struct store *st, int64_t now, int64_t keep_seconds);

/* Binding by (eid, profile_id). 1 found, 0 none, -1 error. */
int store_binding_get(struct store *st, const char *eid, const char *profile_id,
		      struct binding *out);
int store_binding_put(struct store *st, const struct binding *b);   /* insert or replace */
int store_binding_delete(struct store *st, const char *eid, const char *profile_id);

/* Download history: one row per event (SGP.22 notification points). */
struct history_event {
	int64_t time;
	uint8_t txid[16];
	size_t txid_len;
	char eid[SMDP_EID_LEN + 1];
	char profile_id[SMDP_MAX_ID + 1];
	char event[32];             /* "initiated", "authenticated", "bpp-sent", "installed", ... */
	char detail[256];           /* status code or reason */
};
int store_history_add(struct store *st, const struct history_event *e);
/* Call cb for each event of a txid (all txids if txid NULL), oldest first. */
int store_history_each(struct store *st, const uint8_t *txid, size_t txid_len,
		       void (*cb)(void *arg, const struct history_event *e), void *arg);

/* Notifications received over handleNotification (kept verbatim). */
struct notification_row {
	int64_t time;
	uint8_t txid[16];           /* PIR transactionId, or empty */
	size_t txid_len;
	char eid[SMDP_EID_LEN + 1];
	int kind;                   /* enum notif_kind */
	long seq_number;
	int operation;
	int verified;               /* 1 signature verified */
	struct buf raw;             /* the PendingNotification DER */
};
int store_notification_add(struct store *st, const struct notification_row *n);
/* Number of stored notifications (tests, admin). */
int store_notification_count(struct store *st);

/* --- profile inventory, download orders, operator notifications --- */
/* Profile states of SGP.22 (ES2+ 5.3, ES9+ 5.6). The numbers are stored. */
enum profile_state {
	PS_NONE = 0,
	PS_AVAILABLE = 1,    /* in the pool */
	PS_ALLOCATED = 2,    /* downloadOrder without EID */
	PS_LINKED = 3,       /* downloadOrder with EID */
	PS_CONFIRMED = 4,    /* confirmOrder releaseFlag=false */
	PS_RELEASED = 5,     /* releaseProfile / confirmOrder releaseFlag=true */
	PS_DOWNLOADED = 6,   /* BPP delivered (getBoundProfilePackage) */
	PS_INSTALLED = 7,    /* PIR successResult */
	PS_ERROR = 8,        /* PIR errorResult, cancelSession, CC retries exceeded */
	PS_UNAVAILABLE = 9,  /* cancelOrder finalProfileStatusIndicator Unavailable */
	PS_COUNT
};

struct inv_profile {                /* one profile of the inventory */
	char iccid[SMDP_ICCID_LEN + 1]; /* digits; unique */
	char file[SMDP_MAX_ID + 1];     /* package: <profiles>/<file>.der */
	char type[SMDP_MAX_PROFILE_TYPE + 1];  /* profile type (pool) */
	enum profile_state state;
	int64_t order_id;               /* current download order, 0 none */
	int64_t updated;                /* unix time of the last transition */
};

struct order {                      /* one download order (ES2+ downloadOrder) */
	int64_t id;
	char iccid[SMDP_ICCID_LEN + 1];
	char operator_id[SMDP_MAX_OP_ID + 1];   /* told of progress; "" nobody */
	char eid[SMDP_EID_LEN + 1];     /* "" until bound (downloadOrder, confirmOrder or
	                                   the first authenticateClient) */
	int confirmed;                  /* confirmOrder done: matching_id is final */
	char matching_id[SMDP_MAX_MATCHING_ID + 1];  /* "" + confirmed: default SM-DP+ */
	char smds_address[SMDP_MAX_ADDRESS + 1];     /* SM-DS case (eventId = matchingId) */
	int has_cc;
	uint8_t cc_hash[32];            /* SHA-256(confirmation code); the code is never kept */
	int cc_failures;                /* wrong or missing hashCc so far */
	int attempts;                   /* authenticateClient calls that selected the order */
	int64_t created;
	int64_t expires;                /* unix time after which ES9+ refuses it (8.8.5/4.10) */
	int active;                     /* 0 once installed or cancelled */
};

struct op_notification {            /* a queued handleDownloadProgressInfo (SGP.22 5.3.5) */
	int64_t id;                     /* queue order; also the functionCallIdentifier */
	char operator_id[SMDP_MAX_OP_ID + 1];
	char eid[SMDP_EID_LEN + 1];     /* "" = unknown */
	char iccid[SMDP_ICCID_LEN + 1];
	char profile_type[SMDP_MAX_PROFILE_TYPE + 1];
	int64_t time;                   /* when the event happened */
	int point;                      /* notificationPointId */
	char subject[16];               /* "" = Executed-Success, else the failure's code */
	char reason[16];
	char message[128];
	struct buf result_data;         /* e.g. the ProfileInstallationResult (point 4) */
	int tries;                      /* failed deliveries so far */
	int64_t next_try;               /* not before this unix time */
	char last_error[128];
};
void op_notification_free(struct op_notification *n);

/* Transactions over several rows: fn runs inside one BEGIN IMMEDIATE
 * transaction with the store locked, and may call only store_tx_* on tx.
 * fn returns 0 to commit, anything else to roll back. Returns fn's value, or
 * -1 if the transaction could not begin or commit (then nothing is kept).
 * fn must not block on other threads: the store is locked meanwhile. */
struct store_tx;
typedef int (*store_tx_fn)(struct store_tx *tx, void *arg);
int store_transact(struct store *st, store_tx_fn fn, void *arg);

/* Inventory (key: ICCID). get/pick: 1 found, 0 none, -1 error. */
int store_tx_profile_get(struct store_tx *tx, const char *iccid, struct inv_profile *out);
/* The Available profile of type with the lowest ICCID. */
int store_tx_profile_pick(struct store_tx *tx, const char *type, struct inv_profile *out);
/* Number of profiles of type, any state; -1 on error. */
int store_tx_profile_type_count(struct store_tx *tx, const char *type);
/* 0 inserted, 1 the ICCID exists already, -1 error. */
int store_tx_profile_insert(struct store_tx *tx, const struct inv_profile *p);
/* Replace state, order and updated of the row with p's ICCID. 0 / -1. */
int store_tx_profile_update(struct store_tx *tx, const struct inv_profile *p);

/* Orders. get/find: 1 found, 0 none, -1 error. */
int store_tx_order_get(struct store_tx *tx, int64_t id, struct order *out);
/* The active, confirmed order with this non-empty matchingId. */
int store_tx_order_by_matching_id(struct store_tx *tx, const char *mid, struct order *out);
/* The active, confirmed order for eid with an empty matchingId (default
 * SM-DP+ case, SGP.22 3.1.1.3). */
int store_tx_order_default(struct store_tx *tx, const char *eid, struct order *out);
/* Insert o (o->id ignored) and write the new id to *id. 0 / -1. */
int store_tx_order_insert(struct store_tx *tx, const struct order *o, int64_t *id);
/* Replace every field of the order o->id. 0, 1 if an active order already
 * uses o's matchingId (nothing changed), -1 error. */
int store_tx_order_update(struct store_tx *tx, const struct order *o);

/* Append a notification to the operator's queue. 0 / -1. */
int store_tx_notify_add(struct store_tx *tx, const struct op_notification *n);
/* The same as store_session_update / store_history_add / store_binding_delete
 * inside a transaction. */
int store_tx_session_update(struct store_tx *tx, const struct session *s);
int store_tx_history_add(struct store_tx *tx, const struct history_event *e);
int store_tx_binding_delete(struct store_tx *tx, const char *eid, const char *profile_id);

/* The writes of one ES9+ call, committed together by store_es9_write
 * (issue 8: one write transaction per call instead of one per row). Every
 * member is optional: NULL / 0 means none. */
struct store_es9_writes {
	const struct session *session;      /* written as a whole */
	int session_insert;                 /* 1 insert (initiateAuthentication), 0 update */
	const struct history_event *history;
	const struct binding *binding_put;  /* SGP.22 3.1.3.3 binding to keep */
	const char *binding_del_eid;        /* with binding_del_profile: binding to drop */
	const char *binding_del_profile;
	const struct notification_row *notification;
	store_tx_fn fn;                     /* orders.c's part of the call, or NULL */
	void *arg;
	int fn_first;                       /* 1: fn before the rows above, 0: after */
};
/* Apply w in one BEGIN IMMEDIATE transaction with the store locked; the
 * rows go in the order session, binding put, binding delete, history,
 * notification, with fn before or after them (history row order follows).
 * All or nothing: 0 committed; fn's non-zero value (rolled back); -1 if a
 * row is invalid or the transaction fails (rolled back, logged). */
int store_es9_write(struct store *st, const struct store_es9_writes *w);

/* Every inventory profile in ICCID order with its current order (NULL if
 * none), filtered by state (PS_NONE = all) and type (NULL = all). The
 * callback runs without the store lock. 0 / -1. */
int store_profile_each(struct store *st, enum profile_state state, const char *type,
		       void (*cb)(void *arg, const struct inv_profile *p, const struct order *o),
		       void *arg);
/* Oldest undelivered notification of the operator (the queue is delivered
 * in order, so only the head is ever tried). out is overwritten; free with
 * op_notification_free. 1 found, 0 queue empty, -1 error. */
int store_notify_head(struct store *st, const char *operator_id, struct op_notification *out);
/* Delivered: remove it. 0 / -1. */
int store_notify_done(struct store *st, int64_t id);
/* Failed: count the try and set the next one. 0 / -1. */
int store_notify_retry(struct store *st, int64_t id, int tries, int64_t next_try,
		       const char *error);
/* Undelivered notifications of the operator (all operators if NULL); -1 error. */
int store_notify_count(struct store *st, const char *operator_id);

/* ------------------------------------------------------------------ */
/* config.c: configuration file + command-line overrides -> struct smdp_config. */
#define SMDP_MAX_LISTENERS 4

/* How ES9+ finds the profile for a matchingId (README, "Download orders"). */
enum smdp_mode {
	MODE_LAB = 0,      /* orders first, else any profile by its file stem */
	MODE_ORDERS = 1,   /* download orders only (SGP.22 lifecycle) */
};

struct operator_cfg {               /* one operator: operator.NAME.* keys */
	char name[32];                  /* NAME */
	char id[SMDP_MAX_OP_ID + 1];    /* its functionRequesterIdentifier (default NAME) */
	char client_cert[512];          /* certificate it must present on ES2+; "" = any
	                                   certificate of the ES2+ client CA */
	char types[SMDP_MAX_OP_TYPES][SMDP_MAX_PROFILE_TYPE + 1];  /* profile types it owns */
	size_t n_types;
	char notify_url[SMDP_MAX_URL];  /* https://host[:port][/path] for
	                                   handleDownloadProgressInfo; "" = not told */
	char notify_ca[512];            /* CA(s) its HTTPS server chains to */
	char notify_cert[512];          /* client certificate smdp presents to it */
	char notify_key[512];
};

struct smdp_config {
	char fqdn[SMDP_MAX_ADDRESS + 1];    /* the address this SM-DP+ answers for */
	struct http_listener_cfg es9[SMDP_MAX_LISTENERS]; /* ES9+ HTTPS listeners */
	size_t n_es9;
	char db_path[512];
	char certs_dir[512];
	char profiles_dir[512];
	int session_timeout;                /* seconds a session may take between calls */
	int session_keep;                   /* seconds closed sessions are kept */
	int threads;                        /* HTTP worker threads per listener */
	int ppk;                            /* 1: BPP with ReplaceSessionKeys (PPKs) */
	uint8_t host_id[16];                /* hostId of the BSP key derivation */
	size_t host_id_len;
	char default_profile[SMDP_MAX_ID + 1]; /* default-SM-DP+ case, "" none */
	enum log_level log_level;
	enum smdp_mode mode;
	struct http_listener_cfg es2;       /* ES2+ listener, mutual TLS (port -1: off) */
	struct operator_cfg operators[SMDP_MAX_OPERATORS];
	size_t n_operators;
	char requester_id[SMDP_MAX_OP_ID + 1]; /* our functionRequesterIdentifier towards
	                                          operators; "" = the fqdn */
	int order_ttl;                      /* seconds a download order stays valid */
	int max_attempts;                   /* download attempts per order */
	int cc_max_attempts;                /* confirmation code tries per order */
	int notify_retry_min;               /* seconds before the first retry */
	int notify_retry_max;               /* backoff ceiling, seconds */
	struct lab_config lab;              /* lab features (lab.h): admin.*, trace*, fault.* */
	struct http_limits limits;          /* limit.* keys, for every listener */
	int allow_loose_keys;               /* 1: private keys others may read only warn */
};

/* Fill cfg with the built-in defaults (what `make run` uses). */
void config_defaults(struct smdp_config *cfg);
/* Set one option by name ("fqdn", "listen.nist", "db", ...). 0 / -1 with a
 * reason in err (unknown key, bad value). */
int config_set(struct smdp_config *cfg, const char *key, const char *value, char *err,
	       size_t errsz);
/* Read "key = value" lines ('#' comments) from path. 0 / -1 with the file
 * name and line number in err. */
int config_load_file(struct smdp_config *cfg, const char *path, char *err, size_t errsz);
/* Print every option with its current value (for --help / --print-config). */
void config_print(const struct smdp_config *cfg, FILE *out);
/* Print the option list with one-line descriptions. */
void config_usage(FILE *out);
/* Consistency checks after all options are set: operator ids and profile
 * types unique across operators, notification URLs well formed. 0 / -1
 * with a reason in err. */
int config_check(const struct smdp_config *cfg, char *err, size_t errsz);
/* The operator whose functionRequesterIdentifier is id, or NULL. */
const struct operator_cfg *config_operator(const struct smdp_config *cfg, const char *id);
/* The operator owning profile type, or NULL. */
const struct operator_cfg *config_type_owner(const struct smdp_config *cfg, const char *type);
/* 1 if op owns type. */
int config_owns(const struct operator_cfg *op, const char *type);
/* Split an https URL into host, port (443 if absent) and path ("/" if
 * absent). 0 / -1 if it is not https://host[:port][/path]. */
int config_parse_url(const char *url, char *host, size_t hostsz, int *port, char *path,
		     size_t pathsz);

/* ------------------------------------------------------------------ */
/* pki.c: the SM-DP+ credentials per CI (SGP.22 4.5.2) and the checks of the
 * eUICC's certificates. */
#define PKI_MAX_CRLS 16                 /* *.crl files read per CI directory */
struct pki_set {                    /* one CI and the SM-DP+ certificates under it */
	char name[64];                  /* directory name under certs/ */
	enum crypto_curve curve;
	crypto_cert *ci;
	struct ci_id ci_id;             /* CI SubjectKeyIdentifier */
	crypto_cert *dpauth;
	crypto_key *dpauth_key;
	crypto_cert *dppb;
	crypto_key *dppb_key;
	char dptls_cert[512];           /* paths, for the TLS listener */
	char dptls_key[512];
	char smdp_oid[SMDP_MAX_OID + 1];  /* SM-DP+ OID (SAN registeredID of DPauth) */
	crypto_crl *crls[PKI_MAX_CRLS];   /* the *.crl files of the directory */
	int crl_by_ci[PKI_MAX_CRLS];      /* 1: issued by this CI (revokes EUMs); 0: an EUM's */
	size_t n_crls;
	struct pki_cache *cache;          /* verified eUICC chains (pki.c), thread-safe */
};
struct pki {
	struct pki_set *sets;
	size_t n;
};

/* Load every CI directory under dir (a directory with ci.der or ci.pem plus
 * dpauth.der/.key.pem and dppb.der/.key.pem, optionally *.crl files).
 * Checks that keys match their certificates and that DPauth/DPpb chain to
 * the CI and share one SM-DP+ OID; a CRL naming the CI as issuer must be
 * signed by it. Other findings (expiry, policy, curve) are logged as
 * warnings. 0 / -1 with the first error in err. */
int pki_load(struct pki *p, const char *dir, char *err, size_t errsz);
/* Refuse a private key file that group or others may access (mode & 077):
 * -1 with err naming the file and the fix (chmod 600), unless allow_loose,
 * then a warning is logged and 0 returned. 0 also if the file is private or
 * cannot be stat()ed (its loader reports that). */
int pki_key_file_private(const char *path, int allow_loose, char *err, size_t errsz);
/* pki_key_file_private on every key pki_load read (DPauth, DPpb of each CI
 * directory) and on paths[0..n) (DPtls and other keys of the listeners). */
int pki_keys_private(const struct pki *p, const char *const *paths, size_t n, int allow_loose,
		     char *err, size_t errsz);
/* --check-config: the checks of pki_load on every CI directory under
 * certs_dir (without stopping at the first error), plus the DPtls of each
 * CI directory and of each enabled listener in ls[0..nls) (cert, key, SAN
 * DNS = fqdn, chain to a loaded CI, curve), expiry within 30 days of now,
 * CRLs, and the euicc/ client material. Prints a report to out: per CI its
 * curve and what was loaded, one line per finding ("WARNING"/"ERROR"),
 * then a summary. Dates appear only relative to now ("expires in N days").
 * Returns 0 all fine, 1 warnings only, 2 errors (smdp would refuse to
 * start), -1 if out of memory. */
/* Private key files group or others may use are errors (warnings with
 * allow_loose): those of each CI directory and listener, and keys[0..nkeys)
 * (ES2+, operator and admin keys; missing files are skipped). */
int pki_check_config(const char *certs_dir, const char *fqdn,
		     const struct http_listener_cfg *ls, size_t nls,
		     const char *const *keys, size_t nkeys, int allow_loose, time_t now, FILE *out);
void pki_free(struct pki *p);
const struct pki_set *pki_find(const struct pki *p, const char *name);
/* initiateAuthentication CI selection (SGP.22 5.6.1): the first CI of the
 * eUICC's signing list that we hold credentials for, whose CI is also in the
 * verification list. RSP_ERR_CI_PK_NOT_SUPPORTED / RSP_ERR_NO_DPAUTH_FOR_CI. */
enum rsp_status pki_select(const struct pki *p, const struct euicc_info1 *info,
			   const struct pki_set **out);
/* Public key of an eUICC certificate, from the cache of verified chains when
 * pki_verify_euicc has seen it (no certificate parsing), else parsed. set may
 * be NULL. New key for the caller to free, or NULL. */
crypto_key *pki_euicc_key(const struct pki_set *set, const struct buf *euicc_der);
/* authenticateClient certificate checks (SGP.22 5.6.3, 4.5.2.1.0.2): EUM
 * issued by set's CI (AKI, signature, validity, policy, key usage, CA, the
 * CI's curve, not revoked by a CI CRL), eUICC issued by the EUM (same checks,
 * not revoked by a CRL of that EUM), EID (subject serialNumber) inside the
 * EUM's permitted range. On success writes the EID and returns the eUICC
 * public key in *pub (caller frees). */
enum rsp_status pki_verify_euicc(const struct pki_set *set, const struct buf *eum_der,
				 const struct buf *euicc_der, time_t now,
				 char eid[SMDP_EID_LEN + 1], crypto_key **pub);

/* ------------------------------------------------------------------ */
/* saip.c: unprotected profile packages (TCA eUICC Profile Package, SAIP
 * v2.x/v3.x, asn1/pe.asn): decode, check, describe, personalize, re-encode;
 * and the profile inventory the server loads from its profiles directory. */
#define SAIP_MAX_PE        1024         /* ProfileElements in one package */
#define SAIP_MAX_DEPTH     24           /* TLV nesting inside one element */
#define SAIP_MAX_DESC      8192         /* NAME.json description file */
#define SAIP_MAX_ICON      1024         /* icon, StoreMetadataRequest SIZE(0..1024) */

/* ProfileElement alternatives = the context tag number of each element
 * (AUTOMATIC TAGS, SAIP 8.1): A0 header ... AA end, B0 mf ... BF21 opt-iot. */
enum saip_pe_type {
	SAIP_PE_HEADER = 0, SAIP_PE_GFM = 1, SAIP_PE_PIN = 2, SAIP_PE_PUK = 3,
	SAIP_PE_AKA = 4, SAIP_PE_CDMA = 5, SAIP_PE_SD = 6, SAIP_PE_RFM = 7,
	SAIP_PE_APPLICATION = 8, SAIP_PE_NONSTANDARD = 9, SAIP_PE_END = 10,
	SAIP_PE_MF = 16, SAIP_PE_USIM = 19, SAIP_PE_ISIM = 21, SAIP_PE_CSIM = 25,
	SAIP_PE_IOT = 32,
	SAIP_PE_UNKNOWN = -1                /* a newer element: kept opaque */
};

struct saip_pe {                    /* one ProfileElement of a package */
	size_t offset;                  /* of its tag, from the start of the package */
	size_t len;                     /* whole TLV */
	int type;                       /* enum saip_pe_type (context tag number) */
	long id;                        /* PEHeader identification, -1 none */
	int canonical;                  /* asn1c re-encodes it to exactly these bytes */
	void *asn;                      /* decoded ProfileElement_t, NULL if opaque */
	struct buf enc;                 /* new encoding once personalized, else empty */
};
struct saip_pkg {                   /* a decoded, checked package */
	struct buf der;                 /* the package as given */
	struct saip_pe *pe;
	size_t n;
};

/* Decode der (n bytes, at most SMDP_MAX_PROFILE) element by element and
 * check what an eUICC would trip on: TLV structure and lengths, each known
 * element against pe.asn and its constraints, header first and end last,
 * the mandatory elements (header, MF, end; the NAAs the header lists with
 * their AKA parameters), unique identification numbers, ICCID equal in the
 * header and EF.ICCID, file contents within their files. Elements with an
 * unknown tag are kept as they are. On failure returns -1 with err
 * "element I (TYPE) at offset O: what" (or "package: what") and out empty;
 * on success out owns a copy of der (free with saip_pkg_free). */
int saip_decode(const uint8_t *der, size_t n, struct saip_pkg *out, char *err, size_t errsz);
void saip_pkg_free(struct saip_pkg *p);
/* ASN.1 name of an element type ("header", "usim", ...; "unknown"). */
const char *saip_pe_name(int type);
/* The package bytes: each element's new encoding if it was personalized,
 * else its original bytes; with reencode_all, every decoded element is
 * DER-encoded again by asn1c (a test of pe.asn: for a canonical package the
 * result equals the input). out is replaced. 0 / -1. */
int saip_encode(const struct saip_pkg *p, int reencode_all, struct buf *out);

struct saip_info {                  /* what a package says about itself */
	int major, minor;               /* ProfileHeader version */
	char profile_type[101];         /* "" if absent */
	char iccid[21];                 /* header ICCID digits */
	char imsi[16];                  /* first EF.IMSI, "" none */
	char spn[33];                   /* EF.SPN as UTF-8 (USIM), "" none */
	long algorithm;                 /* first AlgoParameter algorithmID (1 milenage,
	                                   2 tuak, 3 test), 0 none */
	size_t key_len, opc_len;        /* its key and opc lengths */
	size_t n_aka;                   /* AKA elements with algoParameter */
};
/* Fill out from a decoded package. 0 / -1. */
int saip_info(const struct saip_pkg *p, struct saip_info *out);

struct saip_perso {                 /* values of one instance; empty = keep */
	char iccid[21];                 /* 18 or 19 digits: the Luhn digit is added */
	char imsi[16];                  /* 6..15 digits (TS 23.003) */
	uint8_t ki[32];                 /* AlgoParameter key, same length as the template's */
	size_t ki_len;
	uint8_t opc[32];                /* AlgoParameter opc (OPc / TOPc) */
	size_t opc_len;
	char pin1[9], pin2[9];          /* 4..8 digits (keyReference 1 / 129) */
	char puk1[9], puk2[9];          /* 8 digits (PUK keyReference 1 / 129) */
	char adm1[17];                  /* 8 digits, or 16 hex digits (keyReference 10) */
};
/* Personalize p in place (SAIP 8.x): header iccid and EF.ICCID (TS 102 221
 * 13.2, nibble-swapped) with the Luhn digit, EF.IMSI (TS 31.102 4.2.2),
 * key/opc of every AKA element with algoParameter, the PIN/PUK/ADM values
 * asked for (TS 102 221 9.5: digits in ASCII, FF padded). Only changed
 * elements are re-encoded, and only if they were canonical, so every other
 * byte stays as it was. -1 with err (e.g. no PIN2 in the template): the
 * checks run before anything changes, so p is unchanged unless memory ran
 * out half-way (then decode it again). */
int saip_personalize(struct saip_pkg *p, const struct saip_perso *v, char *err, size_t errsz);
/* Luhn check digit (ISO/IEC 7812) of a digit string; -1 if not digits. */
int saip_luhn(const char *digits);
/* Complete ICCID (digits + Luhn) from 18 or 19 digits; 0 / -1. */
int saip_iccid_complete(const char *digits, char out[21]);

/* Metadata of a package (SGP.22 5.5.3 StoreMetadataRequest): ICCID from the
 * header, serviceProviderName from EF.SPN, profileName id; then the
 * description file desc (JSON, "" or missing file = none) overrides:
 * serviceProviderName, profileName, profileClass (test/provisioning/
 * operational), icon (file next to desc) and iconType (png/jpg),
 * profilePolicyRules (pprUpdateControl/ppr1/ppr2), notificationConfigurationInfo
 * ([{operations: [install/enable/disable/delete], address}]), and the SGP.32
 * ecallIndication / fallbackAllowed. m is overwritten (free its icon with buf_free).
 * -1 with err naming the file and the key. */
int saip_metadata(const struct saip_pkg *p, const char *id, const char *desc,
		  struct profile_metadata *m, char *err, size_t errsz);

struct profile {
	char id[SMDP_MAX_ID + 1];       /* file stem: the lab matchingId */
	char path[512];
	struct buf upp;                 /* the package, DER sequence of PEs */
	struct profile_metadata meta;
};
struct profile_set {
	struct profile *v;
	size_t n;
};
/* Read the ICCID (10 bytes as the header codes it: BCD digits in order,
 * F-padded, e.g. 89 00 01 ...) and profileType of the ProfileHeader, the
 * first ProfileElement (SAIP 8.1). 0 / -1. */
int saip_header(const uint8_t *upp, size_t n, uint8_t iccid[10], char *profile_type,
		size_t ptsz);
/* Load every *.der in dir (with NAME.json next to it, if any) as a profile,
 * sorted by id. Each package goes through saip_decode and saip_metadata;
 * the first broken one fails the whole load with "FILE: <its error>" in err,
 * and the server refuses to start (a profile it cannot serve is a
 * configuration error, not something to find at download time). 0 / -1. */
int saip_load_dir(struct profile_set *ps, const char *dir, char *err, size_t errsz);
const struct profile *saip_find(const struct profile_set *ps, const char *id);
void saip_free(struct profile_set *ps);
/* ICCID digits (F padding dropped) of a 10-byte EF.ICCID value. */
void saip_iccid_text(const uint8_t iccid[10], char out[21]);

/* personalize.c: `smdp-admin personalize`: instances of a template. */
struct perso_instance {             /* one instance written by personalize */
	char id[SMDP_MAX_ID + 1];       /* file stem = matchingId in lab mode */
	char path[512];                 /* DIR/ID.der */
	char template_id[SMDP_MAX_ID + 1];
	char iccid[21];
	char imsi[16];
};
/* Called once per instance after all files are in place (the inventory
 * hook); non-zero stops the batch and makes personalize fail. */
typedef int (*perso_register_fn)(void *arg, const struct perso_instance *in);
/* The command: argv[0] = "personalize", options as in its --help. Writes
 * DIR/NAME-ICCID.der (+ .json when the template has one) for each instance
 * and the CSV export (ICCID, IMSI, Ki, OPc, ...), all or nothing; secrets
 * go to the export file only, never to the log. Returns the exit status
 * (0 ok, 1 failed, 2 usage). reg may be NULL. */
int personalize_run(int argc, char **argv, perso_register_fn reg, void *arg);
/* personalize_run without an inventory hook. */
int personalize_main(int argc, char **argv);

/* ------------------------------------------------------------------ */
/* bpp.c: Bound Profile Package assembly (SGP.22 2.5.5, 3.1.3, 5.5). */
struct bpp_request {
	const struct pki_set *set;      /* DPpb key and curve */
	const struct profile *profile;
	const char *eid;
	const uint8_t *txid;
	size_t txid_len;
	const uint8_t *euicc_otpk;      /* 65 bytes */
	const uint8_t *host_id;
	size_t host_id_len;
	const struct buf *metadata;     /* StoreMetadataRequest exactly as sent */
	int ppk;                        /* protect the profile with fresh PPKs */
	struct bpp_fault *fault;        /* lab (lab.h): corrupt on purpose; NULL = never */
};
/* Lab fault injection (issue 7, lab.h): a BPP that is wrong on purpose, for
 * testing what an eUICC/LPA detects. bpp_build sets applied and detail; a
 * faulty BPP is never what a binding keeps for reuse. */
enum bpp_fault_kind {
	BPP_FAULT_NONE = 0,
	BPP_FAULT_BAD_MAC,              /* C-MAC of segment `segment` altered */
	BPP_FAULT_BAD_SMDP_SIGN,        /* smdpSign of BF23 altered */
	BPP_FAULT_METADATA,             /* 88 segments carry other metadata (validly MACed) */
	BPP_FAULT_OVERSIZED,            /* first 86 segment above SMDP_SEG_MAX (validly MACed) */
};
struct bpp_fault {
	enum bpp_fault_kind kind;
	long segment;                   /* BAD_MAC: 1 = first segment of the BPP, 0 = last */
	int applied;                    /* out: 1 when bpp_build did it */
	char detail[128];               /* out: what was changed */
};
/* Build the BPP. With reuse (same otPK.EUICC as reuse->euicc_otpk), keep the
 * earlier binding's segments and only make a new BF23 for this transaction;
 * otherwise do a fresh key agreement and fill *bind for later reuse.
 * RSP_OK, RSP_ERR_INVALID_REQUEST (bad otPK) or RSP_ERR_INTERNAL. */
enum rsp_status bpp_build(const struct bpp_request *rq, const struct binding *reuse,
			  struct buf *bpp, struct binding *bind);

/* ------------------------------------------------------------------ */
/* es9p.c: ES9+ functions (SGP.22 5.6) on decoded C structs. The JSON
 * binding (es9p_json.c) decodes requests into these and encodes replies. */
struct smdp {                       /* the server context, passed everywhere */
	const struct smdp_config *cfg;
	struct pki pki;
	struct store *store;
	struct profile_set profiles;
	struct es2p *es2;               /* operator notifications sender, NULL = queue only */
	struct lab *lab;                /* lab features (lab.h), NULL = off */
};

/* The session as an ES9+ call left it, for the lab's trace (lab_call_after):
 * filled when the call wrote the session, left alone otherwise (the lab then
 * reads it back from the store). */
struct es9_after {
	int set;
	struct session_brief s;
};

struct es9_ia_req {                 /* initiateAuthentication (5.6.1) */
	uint8_t euicc_challenge[SMDP_CHAL_LEN];
	struct euicc_info1 info1;
	char smdp_address[SMDP_MAX_ADDRESS + 1];
	int port;                       /* port of the listener the call came in on */
	struct es9_after *after;        /* lab: NULL none */
};
struct es9_ia_resp {
	uint8_t txid[SMDP_TXID_LEN];
	size_t txid_len;
	struct buf server_signed1;
	uint8_t server_signature1[SMDP_SIG_LEN];
	struct ci_id ci;                /* euiccCiPKIdToBeUsed */
	const uint8_t *server_cert;     /* CERT.DPauth DER, owned by the pki */
	size_t server_cert_len;
};
struct es9_ac_req {                 /* authenticateClient (5.6.3) */
	uint8_t txid[16];
	size_t txid_len;
	struct auth_server_resp asr;
	struct es9_after *after;        /* lab: NULL none */
};
struct es9_ac_resp {
	uint8_t txid[16];
	size_t txid_len;
	struct buf profile_metadata;    /* BF25 */
	struct buf smdp_signed2;
	uint8_t smdp_signature2[SMDP_SIG_LEN];
	const uint8_t *smdp_cert;       /* CERT.DPpb DER, owned by the pki */
	size_t smdp_cert_len;
};
struct es9_gbpp_req {               /* getBoundProfilePackage (5.6.2) */
	uint8_t txid[16];
	size_t txid_len;
	struct prepare_download_resp pdr;
	struct bpp_fault *fault;        /* lab: passed to bpp_build, NULL none */
	struct es9_after *after;        /* lab: NULL none */
};
struct es9_gbpp_resp {
	uint8_t txid[16];
	size_t txid_len;
	struct buf bpp;                 /* BF36 */
};
struct es9_cs_req {                 /* cancelSession (5.6.5) */
	uint8_t txid[16];
	size_t txid_len;
	struct cancel_session_resp csr;
	struct es9_after *after;        /* lab: NULL none */
};

enum rsp_status es9p_initiate_authentication(struct smdp *d, const struct es9_ia_req *rq,
					     struct es9_ia_resp *rs);
enum rsp_status es9p_authenticate_client(struct smdp *d, const struct es9_ac_req *rq,
					 struct es9_ac_resp *rs);
enum rsp_status es9p_get_bpp(struct smdp *d, const struct es9_gbpp_req *rq,
			     struct es9_gbpp_resp *rs);
/* handleNotification (5.6.4): never fails towards the caller; what could not
 * be verified is logged and stored as unverified. raw = the
 * PendingNotification DER as received. */
void es9p_handle_notification(struct smdp *d, const uint8_t *raw, size_t n,
			      const struct pending_notification *pn, struct es9_after *after);
enum rsp_status es9p_cancel_session(struct smdp *d, const struct es9_cs_req *rq);
void es9_ia_resp_free(struct es9_ia_resp *r);
void es9_ac_resp_free(struct es9_ac_resp *r);
void es9_gbpp_resp_free(struct es9_gbpp_resp *r);

/* es9p_json.c: the ES9+ JSON binding (SGP.22 6.5/6.6) over HTTP. */
/* Handle one request under /gsma/rsp2/es9plus/; d is struct smdp. */
void es9p_json_handle(struct smdp *d, const struct http_request *rq, int port,
		      struct http_response *rs);

/* ------------------------------------------------------------------ */
/* orders.c: the SGP.22 profile lifecycle (ES2+ 5.3 transitions, the ES9+
 * checks of 5.6) on the SQLite inventory. Each function is one transaction;
 * the operator notifications it causes are queued in that same transaction.
 * op is the operator calling over ES2+, or NULL for the local administrator
 * (smdp-admin), who may touch every profile. */

/* "Available", "Released", ...; "?" for anything else. */
const char *orders_state_name(enum profile_state s);
/* Case-insensitive name -> state, PS_NONE if unknown. */
enum profile_state orders_state_parse(const char *name);
/* 1 if iccid is 19 or 20 digits, optionally F-padded to 20; writes the
 * digits (F dropped) to out. */
int orders_iccid_norm(const char *iccid, char out[SMDP_ICCID_LEN + 1]);
/* A fresh matchingId in the activation code token form of SGP.22 4.1
 * (five groups of five of [0-9A-Z], e.g. 04386-AGYFT-A74Y8-3F815). 0 / -1. */
int orders_new_matching_id(char out[SMDP_MAX_MATCHING_ID + 1]);
/* Activation code of a confirmed order (SGP.22 4.1):
 * LPA:1$<fqdn>$<matchingId>, with "$$1" appended when a confirmation code
 * is required. "" for the default SM-DP+ case (no AC is used there). */
void orders_activation_code(const struct smdp_config *cfg, const struct order *o, char *out,
			    size_t outsz);

/* Register a profile package in the inventory as Available (smdp-admin
 * import). RSP_OK, RSP_ERR_ICCID_IN_USE (ICCID already registered),
 * RSP_ERR_INVALID_REQUEST or RSP_ERR_INTERNAL. */
enum rsp_status orders_import(struct smdp *d, const char *iccid, const char *file,
			      const char *type);

struct es2_download_order {         /* ES2+.DownloadOrder (SGP.22 5.3.1) */
	char eid[SMDP_EID_LEN + 1];     /* "" absent */
	char iccid[SMDP_ICCID_LEN + 1]; /* "" absent */
	char profile_type[SMDP_MAX_PROFILE_TYPE + 1];  /* "" absent */
};
struct es2_confirm_order {          /* ES2+.ConfirmOrder (SGP.22 5.3.2) */
	char iccid[SMDP_ICCID_LEN + 1];
	char eid[SMDP_EID_LEN + 1];     /* "" absent */
	int has_matching_id;            /* present (possibly "": default SM-DP+) */
	char matching_id[SMDP_MAX_MATCHING_ID + 1];
	int has_cc;
	char cc[SMDP_MAX_CC + 1];       /* wiped by the caller after the call */
	char smds_address[SMDP_MAX_ADDRESS + 1];  /* "" absent */
	int release;                    /* releaseFlag */
};
struct es2_confirm_result {
	char eid[SMDP_EID_LEN + 1];     /* "" none */
	char matching_id[SMDP_MAX_MATCHING_ID + 1];
	char smdp_address[SMDP_MAX_ADDRESS + 1];
	char activation_code[SMDP_MAX_ADDRESS + SMDP_MAX_MATCHING_ID + 16];
};
struct es2_cancel_order {           /* ES2+.CancelOrder (SGP.22 5.3.3) */
	char iccid[SMDP_ICCID_LEN + 1];
	char eid[SMDP_EID_LEN + 1];     /* "" absent */
	int has_matching_id;
	char matching_id[SMDP_MAX_MATCHING_ID + 1];
	enum profile_state final_state; /* PS_AVAILABLE or PS_UNAVAILABLE */
};

/* downloadOrder: by ICCID (must be Available and owned) or by profile type
 * (the Available profile of the pool with the lowest ICCID); Linked with an
 * EID, else Allocated. Writes the ICCID. */
enum rsp_status orders_download(struct smdp *d, const struct operator_cfg *op,
				const struct es2_download_order *rq,
				char iccid[SMDP_ICCID_LEN + 1]);
/* confirmOrder: Allocated/Linked -> Confirmed, or Released with releaseFlag;
 * generates the matchingId when absent; stores SHA-256 of the CC only. */
enum rsp_status orders_confirm(struct smdp *d, const struct operator_cfg *op,
			       const struct es2_confirm_order *rq, struct es2_confirm_result *res);
/* releaseProfile: Confirmed -> Released. */
enum rsp_status orders_release(struct smdp *d, const struct operator_cfg *op, const char *iccid);
/* cancelOrder: a pending order ends; the profile goes to final_state. */
enum rsp_status orders_cancel(struct smdp *d, const struct operator_cfg *op,
			      const struct es2_cancel_order *rq);

/* ES9+ side. Each is a no-op returning RSP_OK for a lab-mode session
 * (s->order_id 0). */
/* authenticateClient (SGP.22 5.6.3): find the order by matchingId, or by EID
 * when the matchingId is absent or empty; check EID, state (Released), expiry
 * and attempts; count the attempt, bind the EID, tell the operator
 * (notificationPointId 1). In lab mode, fall back to the file stem / the
 * default profile. Sets s->order_id, s->profile_id, s->cc_required and *prof. */
enum rsp_status orders_es9_select(struct smdp *d, struct session *s,
				  const struct ctx_params1 *ctx, const struct profile **prof);
/* getBoundProfilePackage before binding: order still Released and not
 * expired; hashCc = SHA-256(SHA-256(CC) || transactionId) when required,
 * counting failures (notificationPointId 2) up to cfg->cc_max_attempts,
 * after which the profile goes to Error (RSP_ERR_CC_RETRIES). */
enum rsp_status orders_es9_check_bpp(struct smdp *d, const struct session *s,
				     const struct prepare_download_resp *p);
/* The functions below commit the ES9+ call's other writes w (the session
 * row, its history event, bindings, the notification row) in the same
 * transaction as their lifecycle change (store_es9_write); w's fn/arg are
 * theirs to set. */
/* The BPP is about to be sent: session -> BPP_SENT (w->session = s) and
 * profile -> Downloaded with notificationPointId 3, in one transaction;
 * nothing is kept when the order went meanwhile. */
enum rsp_status orders_es9_bpp_sent(struct smdp *d, struct session *s,
				    struct store_es9_writes *w);
/* A failed ES9+ call: commit w and, for an order's session with point > 0,
 * tell the operator at point. 0 / -1 (nothing kept). */
int orders_es9_failed(struct smdp *d, const struct session *s, int point, enum rsp_status st,
		      struct store_es9_writes *w);
/* A verified PIR: commit w and move Downloaded -> Installed (order done) or
 * Error, told at notificationPointId 4 with the PIR as resultData; a PIR
 * for an order no longer pending changes no order. 0 / -1 (nothing kept). */
int orders_es9_pir(struct smdp *d, const struct session *s, int success, const uint8_t *pir,
		   size_t n, struct store_es9_writes *w);
/* A verified cancelSession (SGP.22 5.6.5): commit w; postponed/timeout keep
 * the profile Released for a retry; any other reason puts it in Error. The
 * operator is told at the point the session had reached (3 or 4). reason
 * -1: an eUICC error instead of a signed reason. 0 / -1 (nothing kept). */
int orders_es9_cancel(struct smdp *d, const struct session *s, long reason,
		      struct store_es9_writes *w);

/* ------------------------------------------------------------------ */
/* es2p.c: ES2+ (SGP.22 5.3) on C structs: who calls (operator by
 * functionRequesterIdentifier and TLS client certificate), the four
 * functions, and the handleDownloadProgressInfo sender with its retry queue. */
struct es2p;
/* Load the operators' pinned certificates and start the notification
 * sender thread: it posts each operator's due queue head in order, and on a
 * failure reschedules it with exponential backoff (notify-retry-min, doubling
 * up to notify-retry-max). NULL with a reason in err. */
struct es2p *es2p_start(struct smdp *d, char *err, size_t errsz);
/* Stop the sender (undelivered notifications stay queued). NULL is fine. */
void es2p_stop(struct es2p *e);
/* Wake the sender: something was queued. NULL is fine. */
void es2p_kick(struct es2p *e);
/* The operator calling: requester must be a configured operator's id and,
 * when the operator pins a certificate, cert (DER of the TLS client
 * certificate) must be that one. RSP_ERR_REQUESTER_NOT_ALLOWED otherwise. */
enum rsp_status es2p_identify(struct smdp *d, const char *requester, const uint8_t *cert,
			      size_t cert_len, const struct operator_cfg **op);
/* The four functions an operator calls (SGP.22 5.3.1 downloadOrder, 5.3.2
 * confirmOrder, 5.3.3 cancelOrder, 5.3.4 releaseProfile), for the operator op
 * that es2p_identify returned: each is logged with its functionCallIdentifier
 * (call_id) and applied by orders_*; the status is the response's. */
enum rsp_status es2p_download_order(struct smdp *d, const struct operator_cfg *op,
				    const char *call_id, const struct es2_download_order *rq,
				    char iccid[SMDP_ICCID_LEN + 1]);
enum rsp_status es2p_confirm_order(struct smdp *d, const struct operator_cfg *op,
				   const char *call_id, const struct es2_confirm_order *rq,
				   struct es2_confirm_result *res);
enum rsp_status es2p_cancel_order(struct smdp *d, const struct operator_cfg *op,
				  const char *call_id, const struct es2_cancel_order *rq);
enum rsp_status es2p_release_profile(struct smdp *d, const struct operator_cfg *op,
				     const char *call_id, const char *iccid);

/* es2p_json.c: the ES2+ JSON binding (SGP.22 6.5 common rules). */
/* Handle one request under /gsma/rsp2/es2plus/ (mutual TLS listener). */
void es2p_json_handle(struct smdp *d, const struct http_request *rq, struct http_response *rs);
/* The handleDownloadProgressInfo request body for n (header with our
 * functionRequesterIdentifier and "smdp-<id>" as functionCallIdentifier).
 * 0 / -1. */
int es2p_json_progress(const struct smdp_config *cfg, const struct op_notification *n,
		       struct buf *out);

/* es9p_asn1.c: the ES9+ ASN.1 binding (SGP.22 6.x "ES9+ ASN.1 Binding",
 * used by LPAe, SGP.32 IPAe and eIMs): POST /gsma/rsp2/asn1 with a
 * RemoteProfileProvisioningRequest, answered with a
 * RemoteProfileProvisioningResponse (Ok or the function's error INTEGER,
 * rsp_status_info()->asn1) or 204 for handleNotification. Same es9p_*
 * functions, sessions and checks as the JSON binding. */
#define ES9P_ASN1_PATH "/gsma/rsp2/asn1"
#define ES9P_ASN1_CONTENT_TYPE "application/x-gsma-rsp-asn1"
void es9p_asn1_handle(struct smdp *d, const struct http_request *rq, int port,
		      struct http_response *rs);
/* X-Admin-Protocol versions served (SGP.22 6.x: "gsma/rsp/v<x.y.z>"): SGP.22
 * v2.1 to v2.5, any revision; an absent header is tolerated. 1 / 0. */
int es9p_admin_protocol_supported(const char *hdr);

#endif /* SMDP_H */
