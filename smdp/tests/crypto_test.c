/* crypto_test.c - checks crypto.c against the SGP.26 certificates, the openssl CLI and published AES/CMAC/SHA vectors. */
#include "../smdp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct tally {
	int passed;
	int failed;
};

/* Paths of the test: repository root and a private temporary directory. */
struct env {
	char root[512];
	char tmp[64];
};

static void check(struct tally *t, int cond, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void check(struct tally *t, int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (cond)
		t->passed++;
	else
		t->failed++;
}

/* Run a shell command built from fmt; returns its exit status, -1 if it
 * could not run. Paths are single-quoted by the callers (see main). */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int n, st;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void path_of(const struct env *e, char *out, size_t outsz, const char *rel)
{
	snprintf(out, outsz, "%s/%s", e->root, rel);
}

static void tmp_of(const struct env *e, char *out, size_t outsz, const char *name)
{
	snprintf(out, outsz, "%s/%s", e->tmp, name);
}

static int write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int rc = -1;

	if (!f)
		return -1;
	if (fwrite(p, 1, n, f) == n)
		rc = 0;
	if (fclose(f))
		rc = -1;
	return rc;
}

static int unhex(const char *hex, uint8_t *out, size_t outsz)
{
	return hex_decode(hex, out, outsz);
}

static crypto_cert *cert_at(const struct env *e, const char *rel)
{
	char p[1024];

	path_of(e, p, sizeof(p), rel);
	return crypto_cert_load(p);
}

static crypto_key *key_at(const struct env *e, const char *rel)
{
	char p[1024];

	path_of(e, p, sizeof(p), rel);
	return crypto_key_load(p);
}

static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { 0 };

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

/* ---- minimal DER ECDSA-Sig-Value handling, independent of crypto.c ---- */

/* SEQUENCE { INTEGER r, INTEGER s } -> r||s, 32 bytes each. 0 / -1. */
static int der_sig_to_raw(const uint8_t *d, size_t n, uint8_t raw[64])
{
	size_t i = 2;

	if (n < 8 || d[0] != 0x30 || d[1] >= 0x80 || (size_t)d[1] + 2 != n)
		return -1;
	memset(raw, 0, 64);
	for (int k = 0; k < 2; k++) {
		size_t len;
		if (i + 2 > n || d[i] != 0x02)
			return -1;
		len = d[i + 1];
		i += 2;
		if (len == 0 || i + len > n)
			return -1;
		const uint8_t *v = d + i;
		size_t vl = len;
		while (vl > 1 && v[0] == 0) {
			v++;
			vl--;
		}
		if (vl > 32)
			return -1;
		memcpy(raw + 32 * k + (32 - vl), v, vl);
		i += len;
	}
	return i == n ? 0 : -1;
}

/* r||s -> DER; returns the length (at most 72). */
static size_t raw_sig_to_der(const uint8_t raw[64], uint8_t out[80])
{
	size_t o = 2;

	for (int k = 0; k < 2; k++) {
		const uint8_t *v = raw + 32 * k;
		size_t vl = 32;
		while (vl > 1 && v[0] == 0) {
			v++;
			vl--;
		}
		out[o++] = 0x02;
		out[o++] = (uint8_t)(vl + (v[0] & 0x80 ? 1 : 0));
		if (v[0] & 0x80)
			out[o++] = 0x00;
		memcpy(out + o, v, vl);
		o += vl;
	}
	out[0] = 0x30;
	out[1] = (uint8_t)(o - 2);
	return o;
}

/* ------------------------------------------------------------------ */

static void test_hash_aes_cmac(struct tally *t)
{
	uint8_t key[16], iv[16], pt[64], ct[64], want[64], out[64], mac[16];
	uint8_t h[32], hw[32];

	/* FIPS 180-2 appendix B.1: SHA-256("abc"); split across a and b */
	unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hw, 32);
	crypto_sha256((const uint8_t *)"ab", 2, (const uint8_t *)"c", 1, h);
	check(t, !memcmp(h, hw, 32), "SHA-256(\"ab\"||\"c\") = FIPS 180-2 B.1 digest");
	crypto_sha256((const uint8_t *)"abc", 3, NULL, 0, h);
	check(t, !memcmp(h, hw, 32), "SHA-256(\"abc\") with b = NULL");

	/* FIPS-197 appendix C.1 */
	unhex("000102030405060708090a0b0c0d0e0f", key, 16);
	unhex("00112233445566778899aabbccddeeff", pt, 16);
	unhex("69c4e0d86a7b0430d8cdb78070b4c55a", want, 16);
	check(t, crypto_aes_ecb_block(key, pt, out) == 0 && !memcmp(out, want, 16),
	      "AES-128 block: FIPS-197 C.1");

	/* SP 800-38A F.1.1 ECB-AES128 block 1, F.2.1/F.2.2 CBC-AES128 */
	unhex("2b7e151628aed2a6abf7158809cf4f3c", key, 16);
	unhex("000102030405060708090a0b0c0d0e0f", iv, 16);
	unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
	      "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710", pt, 64);
	unhex("3ad77bb40d7a3660a89ecaf32466ef97", want, 16);
	check(t, crypto_aes_ecb_block(key, pt, out) == 0 && !memcmp(out, want, 16),
	      "AES-128 ECB: SP 800-38A F.1.1 block 1");
	unhex("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
	      "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7", want, 64);
	check(t, crypto_aes_cbc_encrypt(key, iv, pt, 64, ct) == 0 && !memcmp(ct, want, 64),
	      "AES-128-CBC encrypt: SP 800-38A F.2.1");
	check(t, crypto_aes_cbc_decrypt(key, iv, want, 64, out) == 0 && !memcmp(out, pt, 64),
	      "AES-128-CBC decrypt: SP 800-38A F.2.2");
	memcpy(out, pt, 64);
	check(t, crypto_aes_cbc_encrypt(key, iv, out, 64, out) == 0 && !memcmp(out, want, 64),
	      "AES-128-CBC encrypt in place");
	check(t, crypto_aes_cbc_decrypt(key, iv, out, 64, out) == 0 && !memcmp(out, pt, 64),
	      "AES-128-CBC decrypt in place");
	check(t, crypto_aes_cbc_encrypt(key, iv, pt, 15, out) == -1 &&
		      crypto_aes_cbc_decrypt(key, iv, pt, 17, out) == -1,
	      "AES-CBC refuses lengths that are not a multiple of 16");

	/* SP 800-38B D.1 (= RFC 4493 4) AES-128 CMAC examples 1-4 */
	unhex("bb1d6929e95937287fa37d129b756746", want, 16);
	check(t, crypto_cmac(key, pt, 0, mac) == 0 && !memcmp(mac, want, 16),
	      "AES-CMAC: SP 800-38B D.1 example 1 (empty)");
	unhex("070a16b46b4d4144f79bdd9dd04a287c", want, 16);
	check(t, crypto_cmac(key, pt, 16, mac) == 0 && !memcmp(mac, want, 16),
	      "AES-CMAC: SP 800-38B D.1 example 2 (16 bytes)");
	unhex("dfa66747de9ae63030ca32611497c827", want, 16);
	check(t, crypto_cmac(key, pt, 40, mac) == 0 && !memcmp(mac, want, 16),
	      "AES-CMAC: SP 800-38B D.1 example 3 (40 bytes)");
	unhex("51f0bebf7e3b9d92fc49741779363cfe", want, 16);
	check(t, crypto_cmac(key, pt, 64, mac) == 0 && !memcmp(mac, want, 16),
	      "AES-CMAC: SP 800-38B D.1 example 4 (64 bytes)");
}

static void test_random_kdf(struct tally *t, const struct env *e)
{
	uint8_t a[32] = { 0 }, b[32] = { 0 }, z[32], info[24], got[48], want[48];
	char f[600], hz[65], hi[49], line[256];
	FILE *p;

	check(t, crypto_random(a, 32) == 0 && crypto_random(b, 32) == 0 && memcmp(a, b, 32),
	      "crypto_random gives different 32-byte outputs");
	check(t, crypto_random(a, 0) == 0, "crypto_random accepts n = 0");

	/* X9.63 KDF against "openssl kdf X963KDF" with random inputs */
	crypto_random(z, sizeof(z));
	crypto_random(info, sizeof(info));
	hex_encode(z, sizeof(z), hz, sizeof(hz));
	hex_encode(info, sizeof(info), hi, sizeof(hi));
	tmp_of(e, f, sizeof(f), "kdf.txt");
	memset(want, 0, sizeof(want));
	if (run("openssl kdf -keylen 48 -kdfopt digest:SHA256 -kdfopt hexsecret:%s "
		"-kdfopt hexinfo:%s X963KDF > '%s'", hz, hi, f) == 0 &&
	    (p = fopen(f, "r"))) {
		size_t k = 0;
		if (fgets(line, sizeof(line), p)) {
			/* "AB:CD:..." */
			for (char *q = line; *q && k < 48; q++) {
				unsigned v;
				if (sscanf(q, "%2x", &v) == 1 && q[1] && q[1] != ':') {
					want[k++] = (uint8_t)v;
					q++;
				}
			}
		}
		fclose(p);
		check(t, k == 48 && crypto_x963_kdf(z, 32, info, sizeof(info), got, 48) == 0 &&
			      !memcmp(got, want, 48),
		      "X9.63 KDF (SHA-256, 48 bytes) = openssl kdf X963KDF");
	} else {
		check(t, 0, "openssl kdf X963KDF runs");
	}
}

/* Hard-coded values are what `openssl x509 -text` prints for the files. */
static void test_certs(struct tally *t, const struct env *e)
{
	crypto_cert *ci = cert_at(e, "certs/sgp26-nist/ci.der");
	crypto_cert *ci_pem = cert_at(e, "certs/sgp26-nist/ci.pem");
	crypto_cert *eum = cert_at(e, "certs/sgp26-nist/euicc/eum.der");
	crypto_cert *euicc = cert_at(e, "certs/sgp26-nist/euicc/euicc.der");
	crypto_cert *dpauth = cert_at(e, "certs/sgp26-nist/dpauth.der");
	crypto_cert *dppb = cert_at(e, "certs/sgp26-nist/dppb.der");
	crypto_cert *dptls = cert_at(e, "certs/sgp26-nist/dptls.der");
	crypto_cert *old_tls = cert_at(e, "certs/expired/dptls-nist-2024.der");
	crypto_cert *bci = cert_at(e, "certs/sgp26-brp/ci.der");
	crypto_cert *beum = cert_at(e, "certs/sgp26-brp/euicc/eum.der");
	crypto_cert *beuicc = cert_at(e, "certs/sgp26-brp/euicc/euicc.der");
	crypto_cert *bdpauth = cert_at(e, "certs/sgp26-brp/dpauth.der");
	crypto_key *k_auth = key_at(e, "certs/sgp26-nist/dpauth.key.pem");
	crypto_key *k_bauth = key_at(e, "certs/sgp26-brp/dpauth.key.pem");
	uint8_t id[32], want[20];
	char s[128], pref[4][SMDP_EID_LEN + 1], desc[512];
	struct buf file = { 0 };
	const uint8_t *der;
	size_t derlen;
	time_t now = time(NULL);

	check(t, ci && ci_pem && eum && euicc && dpauth && dppb && dptls && old_tls && bci &&
		      beum && beuicc && bdpauth,
	      "load the SGP.26 certificates (DER and PEM)");
	check(t, k_auth && k_bauth, "load dpauth.key.pem (EC PARAMETERS + EC PRIVATE KEY) on both curves");
	if (!(ci && ci_pem && eum && euicc && dpauth && dppb && dptls && old_tls && bci && beum &&
	      beuicc && bdpauth && k_auth && k_bauth))
		goto out;

	/* DER kept exactly; PEM gives the same DER as the .der file */
	{
		char p[1024];
		path_of(e, p, sizeof(p), "certs/sgp26-nist/ci.der");
		der = crypto_cert_der(ci_pem, &derlen);
		check(t, file_read(p, 65536, &file) == 0 && derlen == file.len &&
			      !memcmp(der, file.p, derlen),
		      "ci.pem loads to the bytes of ci.der (%zu)", derlen);
	}
	{
		uint8_t *big = malloc(file.len + 1);
		crypto_cert *x;
		if (big) {
			memcpy(big, file.p, file.len);
			big[file.len] = 0x00;
			x = crypto_cert_from_der(big, file.len + 1);
			check(t, x == NULL, "cert_from_der rejects one trailing byte");
			crypto_cert_free(x);
			x = crypto_cert_from_der(big, file.len - 1);
			check(t, x == NULL, "cert_from_der rejects a truncated certificate");
			crypto_cert_free(x);
			x = crypto_cert_from_der(big, file.len);
			check(t, x != NULL, "cert_from_der takes the exact bytes");
			crypto_cert_free(x);
			free(big);
		}
	}
	check(t, crypto_cert_curve(ci) == CURVE_NIST_P256 &&
		      crypto_cert_curve(bci) == CURVE_BRAINPOOL_P256R1,
	      "certificate curves: NIST P-256 and brainpoolP256r1");
	check(t, !strcmp(crypto_curve_name(CURVE_NIST_P256), "NIST P-256") &&
		      !strcmp(crypto_curve_name(CURVE_BRAINPOOL_P256R1), "brainpoolP256r1") &&
		      !strcmp(crypto_curve_name(CURVE_NONE), "none"),
	      "curve names");

	/* SKI / AKI */
	unhex("F54172BDF98A95D65CBEB88A38A1C11D800A85C3", want, 20);
	check(t, crypto_cert_ski(ci, id, sizeof(id)) == 20 && !memcmp(id, want, 20),
	      "SKI of nist ci.der = F54172BD...0A85C3");
	check(t, crypto_cert_aki(eum, id, sizeof(id)) == 20 && !memcmp(id, want, 20),
	      "AKI of nist eum.der = CI SKI");
	check(t, crypto_cert_aki(dpauth, id, sizeof(id)) == 20 && !memcmp(id, want, 20),
	      "AKI of nist dpauth.der = CI SKI");
	unhex("C0BC70BA36929D43B467FF57570530E57AB8FCD8", want, 20);
	check(t, crypto_cert_ski(bci, id, sizeof(id)) == 20 && !memcmp(id, want, 20),
	      "SKI of brp ci.der = C0BC70BA...B8FCD8");
	check(t, crypto_cert_aki(beum, id, sizeof(id)) == 20 && !memcmp(id, want, 20),
	      "AKI of brp eum.der = brp CI SKI");
	unhex("DD3DA24D350C1CC5D0AF0965F40EC34C5EE409F1", want, 20);
	check(t, crypto_cert_aki(euicc, id, sizeof(id)) == 20 && !memcmp(id, want, 20) &&
		      crypto_cert_ski(eum, id, sizeof(id)) == 20 && !memcmp(id, want, 20),
	      "AKI of nist euicc.der = SKI of eum.der = DD3DA24D...E409F1");
	check(t, crypto_cert_aki(ci, id, sizeof(id)) == 0, "nist ci.der has no AKI (0)");
	check(t, crypto_cert_ski(ci, id, 19) == -1, "SKI into a 19-byte buffer gives -1");

	/* signatures */
	check(t, crypto_cert_signed_by(eum, ci) == 1, "nist EUM signed by CI");
	check(t, crypto_cert_signed_by(euicc, eum) == 1, "nist eUICC signed by EUM");
	check(t, crypto_cert_signed_by(euicc, ci) == 0, "nist eUICC NOT signed by CI");
	check(t, crypto_cert_signed_by(dpauth, ci) == 1 && crypto_cert_signed_by(ci, ci) == 1,
	      "nist DPauth signed by CI; CI self-signed");
	check(t, crypto_cert_signed_by(beum, bci) == 1 && crypto_cert_signed_by(beuicc, beum) == 1,
	      "brp EUM signed by brp CI, brp eUICC by brp EUM");
	check(t, crypto_cert_signed_by(beuicc, bci) == 0 && crypto_cert_signed_by(eum, bci) == 0,
	      "brp eUICC not signed by brp CI; nist EUM not signed by brp CI");
	{
		/* a second handle (pki.c's EUM cache) outlives the first */
		crypto_cert *tmp = crypto_cert_ref(eum), *ref = crypto_cert_ref(tmp);
		size_t l1 = 0, l2 = 0;
		const uint8_t *d1, *d2;

		crypto_cert_free(tmp);
		d1 = crypto_cert_der(eum, &l1);
		d2 = ref ? crypto_cert_der(ref, &l2) : NULL;
		check(t, ref && d2 && l1 == l2 && !memcmp(d1, d2, l1) &&
		      crypto_cert_signed_by(euicc, ref) == 1 && crypto_cert_signed_by(ref, ci) == 1,
		      "crypto_cert_ref: same DER, still verifies after the handle it came from is freed");
		crypto_cert_free(ref);
	}

	/* validity */
	check(t, crypto_cert_not_after(dpauth) == utc(2030, 3, 30, 8, 31, 30),
	      "notAfter of nist dpauth = 2030-03-30 08:31:30 UTC");
	check(t, crypto_cert_not_after(euicc) == utc(7496, 1, 24, 9, 48, 58),
	      "notAfter of nist euicc = 7496-01-24 09:48:58 UTC (GeneralizedTime)");
	check(t, crypto_cert_validity(dpauth, utc(2020, 4, 1, 8, 31, 29)) == 2,
	      "dpauth not yet valid 1 s before notBefore");
	check(t, crypto_cert_validity(dpauth, utc(2020, 4, 1, 8, 31, 31)) == 0,
	      "dpauth valid 1 s after notBefore");
	check(t, crypto_cert_validity(dpauth, utc(2030, 3, 30, 8, 31, 29)) == 0,
	      "dpauth valid 1 s before notAfter");
	check(t, crypto_cert_validity(dpauth, utc(2030, 3, 30, 8, 31, 31)) == 1,
	      "dpauth expired 1 s after notAfter");
	check(t, crypto_cert_validity(old_tls, now) == 1 &&
		      crypto_cert_validity(old_tls, utc(2024, 1, 1, 0, 0, 0)) == 0,
	      "dptls-nist-2024 expired now, valid on 2024-01-01");
	check(t, crypto_cert_validity(euicc, now) == 0 &&
		      crypto_cert_validity(euicc, utc(3000, 1, 1, 0, 0, 0)) == 0,
	      "nist euicc valid now and in year 3000");

	/* policies (SGP.22 4.5.2.1 role OIDs) */
	check(t, crypto_cert_has_policy(euicc, "2.23.146.1.2.1.1") == 1 &&
		      crypto_cert_has_policy(euicc, "2.23.146.1.2.1.2") == 0,
	      "eUICC policy 2.23.146.1.2.1.1 (and not .2)");
	check(t, crypto_cert_has_policy(eum, "2.23.146.1.2.1.2") == 1, "EUM policy 2.23.146.1.2.1.2");
	check(t, crypto_cert_has_policy(dpauth, "2.23.146.1.2.1.4") == 1 &&
		      crypto_cert_has_policy(dpauth, "2.23.146.1.2.1.5") == 0,
	      "DPauth policy 2.23.146.1.2.1.4 (and not .5)");
	check(t, crypto_cert_has_policy(dppb, "2.23.146.1.2.1.5") == 1, "DPpb policy 2.23.146.1.2.1.5");
	check(t, crypto_cert_has_policy(ci, "2.23.146.1.2.1.0") == 1 &&
		      crypto_cert_has_policy(ci, "2.23.146.1.2.1") == 0,
	      "CI policy 2.23.146.1.2.1.0; a prefix OID does not match");
	check(t, crypto_cert_has_policy(bdpauth, "2.23.146.1.2.1.4") == 1, "brp DPauth policy .1.4");

	/* key usage, basicConstraints */
	check(t, crypto_cert_key_usage(euicc) == CRYPTO_KU_DIGITAL_SIGNATURE,
	      "eUICC keyUsage = digitalSignature only");
	check(t, crypto_cert_key_usage(eum) == CRYPTO_KU_KEY_CERT_SIGN, "EUM keyUsage = keyCertSign");
	check(t, crypto_cert_key_usage(ci) == (CRYPTO_KU_KEY_CERT_SIGN | 0x02),
	      "CI keyUsage = keyCertSign | cRLSign");
	check(t, crypto_cert_key_usage(dpauth) == CRYPTO_KU_DIGITAL_SIGNATURE,
	      "DPauth keyUsage = digitalSignature");
	check(t, crypto_cert_is_ca(ci) == 1 && crypto_cert_is_ca(eum) == 1 &&
		      crypto_cert_is_ca(euicc) == 0 && crypto_cert_is_ca(dpauth) == 0,
	      "basicConstraints CA: CI yes, EUM yes, eUICC no, DPauth no (absent)");

	/* subject serialNumber = EID */
	check(t, crypto_cert_subject_serial(euicc, s, sizeof(s)) == 0 &&
		      !strcmp(s, "89049032123451234512345678901235"),
	      "subject serialNumber of nist euicc = 89049032123451234512345678901235");
	check(t, crypto_cert_subject_serial(beuicc, s, sizeof(s)) == 0 &&
		      !strcmp(s, "89049032123451234512345678901235"),
	      "subject serialNumber of brp euicc = same EID");
	check(t, crypto_cert_subject_serial(euicc, s, 32) == -1,
	      "subject serialNumber into 32 bytes (no room for NUL) gives -1");
	check(t, crypto_cert_subject_serial(ci, s, sizeof(s)) == -1, "CI has no subject serialNumber");

	/* SAN registeredID / DNS */
	check(t, crypto_cert_san_rid(dpauth, s, sizeof(s)) == 0 && !strcmp(s, "2.999.10"),
	      "SAN registeredID of nist dpauth = 2.999.10");
	check(t, crypto_cert_san_rid(dptls, s, sizeof(s)) == 0 && !strcmp(s, "2.999.10"),
	      "SAN registeredID of dptls (after a DNS name) = 2.999.10");
	check(t, crypto_cert_san_rid(ci, s, sizeof(s)) == 0 && !strcmp(s, "2.999.1"),
	      "SAN registeredID of CI = 2.999.1");
	check(t, crypto_cert_san_rid(euicc, s, sizeof(s)) == -1, "eUICC has no SAN registeredID");
	check(t, crypto_cert_san_rid(dpauth, s, 8) == -1, "SAN registeredID into 8 bytes gives -1");
	check(t, crypto_cert_san_dns(dptls, "testsmdpplus1.example.com") == 1 &&
		      crypto_cert_san_dns(dptls, "TestSMDPplus1.EXAMPLE.com") == 1,
	      "DNS SAN of dptls = testsmdpplus1.example.com (any case)");
	check(t, crypto_cert_san_dns(dptls, "example.com") == 0 &&
		      crypto_cert_san_dns(dptls, "testsmdpplus1.example.com.evil") == 0 &&
		      crypto_cert_san_dns(dpauth, "testsmdpplus1.example.com") == 0,
	      "DNS SAN: no suffix/prefix matches; dpauth has none");

	/* EID prefixes */
	check(t, crypto_cert_eid_prefixes(eum, pref, 4) == 1 && !strcmp(pref[0], "89049032"),
	      "EID prefixes of nist eum.der = {89049032}");
	check(t, crypto_cert_eid_prefixes(beum, pref, 4) == 1 && !strcmp(pref[0], "89049032"),
	      "EID prefixes of brp eum.der = {89049032}");
	check(t, crypto_cert_eid_prefixes(eum, pref, 0) == -1,
	      "EID prefixes with no room fail instead of reading as unrestricted");
	check(t, crypto_cert_eid_prefixes(euicc, pref, 4) == 0 &&
		      crypto_cert_eid_prefixes(ci, pref, 4) == 0,
	      "no EID prefixes in euicc.der or ci.der");

	/* one-line description */
	crypto_cert_describe(dpauth, desc, sizeof(desc));
	check(t, strstr(desc, "TEST SM-DP+") && strstr(desc, "CN = Test CI") && strstr(desc, "2030") &&
		      !strchr(desc, '\n'),
	      "describe: \"%s\"", desc);
	crypto_cert_describe(dpauth, desc, 10);
	check(t, strlen(desc) == 9, "describe truncates to the buffer");

	/* key / certificate matching */
	{
		crypto_cert *bdppb = cert_at(e, "certs/sgp26-brp/dppb.der");
		check(t, crypto_key_matches_cert(k_auth, dpauth) == 1, "nist dpauth.key.pem matches dpauth.der");
		check(t, crypto_key_matches_cert(k_auth, dppb) == 0, "nist dpauth.key.pem does not match dppb.der");
		check(t, crypto_key_matches_cert(k_bauth, bdpauth) == 1 &&
			      crypto_key_matches_cert(k_bauth, bdppb) == 0,
		      "brp dpauth.key.pem matches brp dpauth.der, not brp dppb.der");
		check(t, crypto_key_matches_cert(k_auth, bdpauth) == 0,
		      "nist key does not match the brp certificate");
		crypto_cert_free(bdppb);
	}
	check(t, crypto_key_curve(k_auth) == CURVE_NIST_P256 &&
		      crypto_key_curve(k_bauth) == CURVE_BRAINPOOL_P256R1,
	      "key curves");
	{
		char p[1024];
		path_of(e, p, sizeof(p), "certs/sgp26-nist/dpauth.pem");
		crypto_key *bad = crypto_key_load(p);
		check(t, bad == NULL, "key_load of a certificate file fails");
		crypto_key_free(bad);
		path_of(e, p, sizeof(p), "certs/does-not-exist.pem");
		bad = crypto_key_load(p);
		check(t, bad == NULL, "key_load of a missing file fails");
		crypto_key_free(bad);
	}
out:
	buf_free(&file);
	crypto_key_free(k_auth);
	crypto_key_free(k_bauth);
	crypto_cert_free(ci);
	crypto_cert_free(ci_pem);
	crypto_cert_free(eum);
	crypto_cert_free(euicc);
	crypto_cert_free(dpauth);
	crypto_cert_free(dppb);
	crypto_cert_free(dptls);
	crypto_cert_free(old_tls);
	crypto_cert_free(bci);
	crypto_cert_free(beum);
	crypto_cert_free(beuicc);
	crypto_cert_free(bdpauth);
}

/* Sign/verify on one curve, in both directions with the openssl CLI. */
static void test_sig_curve(struct tally *t, const struct env *e, const char *dir)
{
	char rel[256], keyp[1024], certp[1024], msgf[600], sigf[600], pubf[600];
	static const char msg[] = "smdp: ServerSigned1 stand-in, signed by SK.DPauth";
	crypto_key *priv = NULL, *pub = NULL, *other = NULL;
	crypto_cert *cert = NULL, *ocert = NULL;
	uint8_t sig[64], bad[65], der[80];
	struct buf cli = { 0 };
	size_t dlen;

	snprintf(rel, sizeof(rel), "certs/%s/dpauth.key.pem", dir);
	path_of(e, keyp, sizeof(keyp), rel);
	snprintf(rel, sizeof(rel), "certs/%s/dpauth.pem", dir);
	path_of(e, certp, sizeof(certp), rel);
	priv = crypto_key_load(keyp);
	cert = crypto_cert_load(certp);
	pub = crypto_cert_pubkey(cert);
	snprintf(rel, sizeof(rel), "certs/%s/dppb.der", dir);
	ocert = cert_at(e, rel);
	other = crypto_cert_pubkey(ocert);
	if (!priv || !cert || !pub || !other) {
		check(t, 0, "%s: load dpauth key, certificate, dppb public key", dir);
		goto out;
	}
	check(t, crypto_sign(priv, (const uint8_t *)msg, sizeof(msg) - 1, sig) == 0,
	      "%s: crypto_sign with dpauth.key.pem", dir);
	check(t, crypto_verify(pub, (const uint8_t *)msg, sizeof(msg) - 1, sig, 64) == 1,
	      "%s: signature verifies with the certificate's public key", dir);
	check(t, crypto_verify(priv, (const uint8_t *)msg, sizeof(msg) - 1, sig, 64) == 1,
	      "%s: and with the private key object", dir);
	check(t, crypto_verify(pub, (const uint8_t *)msg, sizeof(msg) - 2, sig, 64) == 0,
	      "%s: tampered message rejected", dir);
	memcpy(bad, sig, 64);
	bad[40] ^= 0x01;
	check(t, crypto_verify(pub, (const uint8_t *)msg, sizeof(msg) - 1, bad, 64) == 0,
	      "%s: tampered signature rejected", dir);
	memcpy(bad, sig, 64);
	bad[64] = 0;
	check(t, crypto_verify(pub, (const uint8_t *)msg, sizeof(msg) - 1, bad, 65) == 0 &&
		      crypto_verify(pub, (const uint8_t *)msg, sizeof(msg) - 1, sig, 63) == 0,
	      "%s: signature of 63 or 65 bytes rejected", dir);
	memset(bad, 0, 64);
	check(t, crypto_verify(pub, (const uint8_t *)msg, sizeof(msg) - 1, bad, 64) == 0,
	      "%s: all-zero r||s rejected", dir);
	check(t, crypto_verify(other, (const uint8_t *)msg, sizeof(msg) - 1, sig, 64) == 0,
	      "%s: the DPpb key does not verify a DPauth signature", dir);

	/* CLI signs, crypto_verify checks */
	tmp_of(e, msgf, sizeof(msgf), "msg.bin");
	tmp_of(e, sigf, sizeof(sigf), "sig.der");
	tmp_of(e, pubf, sizeof(pubf), "pub.pem");
	if (write_file(msgf, msg, sizeof(msg) - 1) ||
	    run("openssl dgst -sha256 -sign '%s' -out '%s' '%s'", keyp, sigf, msgf) ||
	    file_read(sigf, 256, &cli)) {
		check(t, 0, "%s: openssl dgst -sha256 -sign runs", dir);
		goto out;
	}
	check(t, der_sig_to_raw(cli.p, cli.len, sig) == 0 &&
		      crypto_verify(pub, (const uint8_t *)msg, sizeof(msg) - 1, sig, 64) == 1,
	      "%s: signature made by openssl dgst -sign (DER -> r||s) verifies", dir);
	sig[10] ^= 0x80;
	check(t, crypto_verify(pub, (const uint8_t *)msg, sizeof(msg) - 1, sig, 64) == 0,
	      "%s: ... and fails once one bit is flipped", dir);

	/* crypto_sign signs, the CLI checks */
	if (run("openssl x509 -in '%s' -noout -pubkey > '%s'", certp, pubf) ||
	    crypto_sign(priv, (const uint8_t *)msg, sizeof(msg) - 1, sig)) {
		check(t, 0, "%s: openssl x509 -pubkey runs", dir);
		goto out;
	}
	dlen = raw_sig_to_der(sig, der);
	check(t, write_file(sigf, der, dlen) == 0 &&
		      run("openssl dgst -sha256 -verify '%s' -signature '%s' '%s' > /dev/null", pubf,
			  sigf, msgf) == 0,
	      "%s: crypto_sign output (r||s -> DER) passes openssl dgst -verify", dir);
	sig[63] ^= 0x01;
	dlen = raw_sig_to_der(sig, der);
	check(t, write_file(sigf, der, dlen) == 0 &&
		      run("openssl dgst -sha256 -verify '%s' -signature '%s' '%s' > /dev/null 2>&1",
			  pubf, sigf, msgf) == 1,
	      "%s: ... and openssl rejects it once one bit is flipped", dir);
out:
	unlink(msgf);
	unlink(sigf);
	unlink(pubf);
	buf_free(&cli);
	crypto_key_free(priv);
	crypto_key_free(pub);
	crypto_key_free(other);
	crypto_cert_free(cert);
	crypto_cert_free(ocert);
}

/* Points, ECDH. */
static void test_ecdh_curve(struct tally *t, const struct env *e, const char *dir,
			    enum crypto_curve c)
{
	char rel[256], keyp[1024], dppbp[1024], spki[600], peerf[600];
	crypto_key *a = crypto_key_generate(c), *b = crypto_key_generate(c);
	crypto_key *a2 = NULL, *pub = NULL, *priv = NULL, *dppb = NULL, *wrong = NULL;
	crypto_cert *cert = NULL;
	uint8_t pa[65], pb[65], p2[65], za[32], zb[32], zc[32];
	struct buf sp = { 0 }, cli = { 0 };

	tmp_of(e, spki, sizeof(spki), "spki.der");
	tmp_of(e, peerf, sizeof(peerf), "peer.pem");
	check(t, a && b && crypto_key_curve(a) == c, "%s: generate two key pairs", dir);
	if (!a || !b)
		goto out;
	check(t, crypto_key_point(a, pa) == 0 && crypto_key_point(b, pb) == 0 && pa[0] == 4 &&
		      memcmp(pa, pb, 65),
	      "%s: public points 04||X||Y", dir);
	check(t, crypto_ecdh(a, b, za) == 0 && crypto_ecdh(b, a, zb) == 0 && !memcmp(za, zb, 32),
	      "%s: ECDH of generated keys agrees", dir);
	pub = crypto_key_from_point(c, pb, 65);
	check(t, pub && crypto_ecdh(a, pub, zc) == 0 && !memcmp(za, zc, 32),
	      "%s: ECDH with a key rebuilt from the point agrees", dir);
	check(t, pub && crypto_key_point(pub, p2) == 0 && !memcmp(p2, pb, 65),
	      "%s: from_point / key_point round trip", dir);
	crypto_key_free(pub);
	pub = NULL;

	/* off-curve and malformed points */
	memcpy(p2, pb, 65);
	p2[64] ^= 0x01;
	a2 = crypto_key_from_point(c, p2, 65);
	check(t, a2 == NULL, "%s: point with Y+-1 (off the curve) rejected", dir);
	crypto_key_free(a2);
	memcpy(p2, pb, 65);
	p2[0] = 0x02;
	a2 = crypto_key_from_point(c, p2, 33);
	check(t, a2 == NULL, "%s: compressed point rejected", dir);
	crypto_key_free(a2);
	a2 = crypto_key_from_point(c, pb, 64);
	check(t, a2 == NULL, "%s: 64-byte point rejected", dir);
	crypto_key_free(a2);
	memset(p2, 0, 65);
	p2[0] = 0x04;
	a2 = crypto_key_from_point(c, p2, 65);
	check(t, a2 == NULL, "%s: (0,0) rejected", dir);
	crypto_key_free(a2);
	a2 = crypto_key_from_point(c == CURVE_NIST_P256 ? CURVE_BRAINPOOL_P256R1 : CURVE_NIST_P256,
				   pb, 65);
	check(t, a2 == NULL, "%s: the point is not accepted on the other curve", dir);
	crypto_key_free(a2);
	a2 = NULL;
	wrong = crypto_key_generate(c == CURVE_NIST_P256 ? CURVE_BRAINPOOL_P256R1 : CURVE_NIST_P256);
	check(t, wrong && crypto_ecdh(a, wrong, zc) == -1, "%s: ECDH across curves refused", dir);

	/* key_point against the SubjectPublicKeyInfo printed by openssl, and
	 * ECDH against openssl pkeyutl -derive */
	snprintf(rel, sizeof(rel), "certs/%s/dpauth.key.pem", dir);
	path_of(e, keyp, sizeof(keyp), rel);
	snprintf(rel, sizeof(rel), "certs/%s/dppb.pem", dir);
	path_of(e, dppbp, sizeof(dppbp), rel);
	cert = crypto_cert_load(dppbp);
	dppb = crypto_cert_pubkey(cert);
	priv = crypto_key_load(keyp);
	if (!dppb || !priv ||
	    run("openssl x509 -in '%s' -noout -pubkey > '%s'", dppbp, peerf) ||
	    run("openssl pkey -pubin -in '%s' -outform DER -out '%s'", peerf, spki) ||
	    file_read(spki, 4096, &sp) || sp.len < 65) {
		check(t, 0, "%s: openssl x509 -pubkey / pkey -pubin run", dir);
		goto out;
	}
	check(t, crypto_key_point(dppb, p2) == 0 && !memcmp(p2, sp.p + sp.len - 65, 65),
	      "%s: key_point of dppb = the point in openssl's SubjectPublicKeyInfo", dir);
	pub = crypto_key_from_point(c, sp.p + sp.len - 65, 65);
	check(t, pub && crypto_key_matches_cert(priv, cert) == 0,
	      "%s: point from openssl's SPKI accepted (dpauth key is not dppb's)", dir);
	if (run("openssl pkeyutl -derive -inkey '%s' -peerkey '%s' -out '%s'", keyp, peerf, spki) ||
	    file_read(spki, 4096, &cli)) {
		check(t, 0, "%s: openssl pkeyutl -derive runs", dir);
		goto out;
	}
	check(t, cli.len == 32 && pub && crypto_ecdh(priv, pub, zc) == 0 && !memcmp(zc, cli.p, 32),
	      "%s: ECDH(dpauth key, dppb point) = openssl pkeyutl -derive", dir);
out:
	unlink(spki);
	unlink(peerf);
	buf_free(&sp);
	buf_free(&cli);
	crypto_key_free(a);
	crypto_key_free(b);
	crypto_key_free(pub);
	crypto_key_free(priv);
	crypto_key_free(dppb);
	crypto_key_free(wrong);
	crypto_cert_free(cert);
}

/* An SGP.22 v3 style EUM certificate made by the openssl CLI, carrying
 * both nameConstraints dirName serialNumber and the permittedEins
 * extension 2.23.146.1.2.2.0. */
static void test_v3_eum(struct tally *t, const struct env *e)
{
	static const char cfg_good[] =
		"[req]\ndistinguished_name = dn\n[dn]\n"
		"[v3]\nbasicConstraints = critical,CA:TRUE\n"
		"nameConstraints = critical,permitted;dirName:nc\n"
		"2.23.146.1.2.2.0 = ASN1:SEQUENCE:eins\n"
		"[nc]\nO = Test EUM v3\nserialNumber = 89049033\n"
		"[eins]\np1 = PRINTABLESTRING:89049032\np2 = PRINTABLESTRING:8904903300\n";
	static const char cfg_bad[] =
		"[req]\ndistinguished_name = dn\n[dn]\n"
		"[v3]\n2.23.146.1.2.2.0 = ASN1:SEQUENCE:eins\n"
		"[eins]\np1 = PRINTABLESTRING:8904903A\n";
	static const char cfg_utf8[] =
		"[req]\ndistinguished_name = dn\n[dn]\n"
		"[v3]\n2.23.146.1.2.2.0 = ASN1:SEQUENCE:eins\n"
		"[eins]\np1 = UTF8String:89049032\n";
	const char *cfgs[3] = { cfg_good, cfg_bad, cfg_utf8 };
	char keyp[1024], cfgf[600], certf[600];
	char pref[4][SMDP_EID_LEN + 1];
	crypto_cert *c[3] = { NULL, NULL, NULL };

	path_of(e, keyp, sizeof(keyp), "certs/sgp26-nist/euicc/eum.key.pem");
	tmp_of(e, cfgf, sizeof(cfgf), "v3.cnf");
	tmp_of(e, certf, sizeof(certf), "v3.der");
	for (int i = 0; i < 3; i++) {
		if (write_file(cfgf, cfgs[i], strlen(cfgs[i])) == 0 &&
		    run("openssl req -x509 -new -key '%s' -subj '/O=Test EUM v3/CN=EUM v3' -days 30 "
			"-config '%s' -extensions v3 -outform DER -out '%s' 2>/dev/null",
			keyp, cfgf, certf) == 0)
			c[i] = crypto_cert_load(certf);
		unlink(cfgf);
		unlink(certf);
	}
	check(t, c[0] && c[1] && c[2], "openssl req makes three test EUM certificates");
	if (!c[0] || !c[1] || !c[2])
		goto out;
	check(t, crypto_cert_eid_prefixes(c[0], pref, 4) == 3 && !strcmp(pref[0], "89049033") &&
		      !strcmp(pref[1], "89049032") && !strcmp(pref[2], "8904903300"),
	      "v3 EUM: nameConstraints then permittedEins = {89049033, 89049032, 8904903300}");
	check(t, crypto_cert_eid_prefixes(c[0], pref, 2) == -1,
	      "v3 EUM: three prefixes do not fit in two: -1");
	check(t, crypto_cert_eid_prefixes(c[1], pref, 4) == -1,
	      "permittedEins with a non-digit is malformed: -1");
	check(t, crypto_cert_eid_prefixes(c[2], pref, 4) == -1,
	      "permittedEins with a UTF8String instead of PrintableString: -1");
	check(t, crypto_cert_key_usage(c[0]) == -1, "no keyUsage extension: -1");
	check(t, crypto_cert_validity(c[0], time(NULL)) == 0 &&
		      crypto_cert_validity(c[0], time(NULL) + 31 * 86400) == 1,
	      "a fresh 30-day certificate is valid now, expired in 31 days");
	check(t, crypto_cert_signed_by(c[0], c[0]) == 1, "openssl req -x509 output is self-signed");
out:
	for (int i = 0; i < 3; i++)
		crypto_cert_free(c[i]);
}

/* crypto_cert_from_der_lite (eUICC certificates, parsed without decoding
 * the key): for the SGP.26 eUICC of each curve it must agree with the full
 * parse on everything pki.c asks, verify under its EUM, and refuse the
 * same certificate with one byte changed in the signed part or in the
 * signature, and under another issuer. */
static void test_lite(struct tally *t, const struct env *e, const char *dir)
{
	char path[600];
	struct buf der = { 0 };
	crypto_cert *full = NULL, *lite = NULL, *eum = NULL, *ci = NULL, *bad = NULL;
	crypto_key *kf = NULL, *kl = NULL;
	uint8_t pf[SMDP_POINT_LEN], pl[SMDP_POINT_LEN], af[32], al[32];
	char sf[64], sl[64];
	int naf, nal;

	snprintf(path, sizeof(path), "%s/certs/%s/euicc/euicc.der", e->root, dir);
	if (file_read(path, SMDP_MAX_CERT, &der)) {
		check(t, 0, "%s: read %s", dir, path);
		return;
	}
	snprintf(path, sizeof(path), "certs/%s/euicc/eum.der", dir);
	eum = cert_at(e, path);
	snprintf(path, sizeof(path), "certs/%s/ci.der", dir);
	ci = cert_at(e, path);
	full = crypto_cert_from_der(der.p, der.len);
	lite = crypto_cert_from_der_lite(der.p, der.len);
	kf = crypto_cert_pubkey(full);
	kl = crypto_cert_pubkey(lite);
	naf = crypto_cert_aki(full, af, sizeof(af));
	nal = crypto_cert_aki(lite, al, sizeof(al));
	check(t, full && lite && eum && ci && kf && kl && crypto_key_point(kf, pf) == 0 &&
	      crypto_key_point(kl, pl) == 0 && !memcmp(pf, pl, sizeof(pf)) &&
	      crypto_cert_curve(full) == crypto_cert_curve(lite) &&
	      crypto_cert_curve(lite) != CURVE_NONE &&
	      naf > 0 && naf == nal && !memcmp(af, al, (size_t)naf) &&
	      crypto_cert_key_usage(full) == crypto_cert_key_usage(lite) &&
	      crypto_cert_is_ca(full) == crypto_cert_is_ca(lite) &&
	      crypto_cert_has_policy(lite, "2.23.146.1.2.1.1") == 1 &&
	      crypto_cert_subject_serial(full, sf, sizeof(sf)) == 0 &&
	      crypto_cert_subject_serial(lite, sl, sizeof(sl)) == 0 && !strcmp(sf, sl) &&
	      crypto_cert_not_after(full) == crypto_cert_not_after(lite),
	      "%s: the lite eUICC certificate gives the same key, curve, AKI, key usage, CA flag, "
	      "policy, EID and notAfter as the full parse", dir);
	check(t, crypto_cert_signed_by(lite, eum) == 1 && crypto_cert_signed_by(full, eum) == 1,
	      "%s: the lite certificate verifies under its EUM, as the full one", dir);
	check(t, crypto_cert_signed_by(lite, ci) == 0,
	      "%s: ... and not under the CI", dir);
	/* "Test eUICC" in the subject's CN becomes "Test eUICD": still parses */
	for (size_t i = 0; i + 10 <= der.len; i++)
		if (!memcmp(der.p + i, "Test eUICC", 10)) {
			der.p[i + 9] = 'D';
			bad = crypto_cert_from_der_lite(der.p, der.len);
			check(t, bad && crypto_cert_signed_by(bad, eum) == 0,
			      "%s: one byte changed in the TBSCertificate: refused", dir);
			crypto_cert_free(bad);
			der.p[i + 9] = 'C';
			break;
		}
	/* the last byte belongs to the signature's s */
	der.p[der.len - 1] ^= 0x01;
	bad = crypto_cert_from_der_lite(der.p, der.len);
	check(t, bad && crypto_cert_signed_by(bad, eum) == 0,
	      "%s: one bit changed in the signature: refused", dir);
	crypto_cert_free(bad);
	check(t, !crypto_cert_from_der_lite(der.p, der.len - 1),
	      "%s: a truncated certificate does not parse", dir);
	buf_free(&der);
	crypto_key_free(kf);
	crypto_key_free(kl);
	crypto_cert_free(full);
	crypto_cert_free(lite);
	crypto_cert_free(eum);
	crypto_cert_free(ci);
}

int main(int argc, char **argv)
{
	struct tally t = { 0, 0 };
	struct env e;

	/* argv[1]: repository root (holds certs/); default the current dir */
	snprintf(e.root, sizeof(e.root), "%s", argc > 1 ? argv[1] : ".");
	snprintf(e.tmp, sizeof(e.tmp), "/tmp/crypto_test.XXXXXX");
	if (strchr(e.root, '\'') || !mkdtemp(e.tmp)) {
		check(&t, 0, "set up (root path without quotes, temporary directory)");
		goto out;
	}
	test_hash_aes_cmac(&t);
	test_random_kdf(&t, &e);
	test_certs(&t, &e);
	test_sig_curve(&t, &e, "sgp26-nist");
	test_sig_curve(&t, &e, "sgp26-brp");
	test_ecdh_curve(&t, &e, "sgp26-nist", CURVE_NIST_P256);
	test_ecdh_curve(&t, &e, "sgp26-brp", CURVE_BRAINPOOL_P256R1);
	test_v3_eum(&t, &e);
	test_lite(&t, &e, "sgp26-nist");
	test_lite(&t, &e, "sgp26-brp");
	{
		char f[600];
		tmp_of(&e, f, sizeof(f), "kdf.txt");
		unlink(f);
		rmdir(e.tmp);
	}
out:
	printf("%d passed, %d failed\n", t.passed, t.failed);
	return t.failed ? 1 : 0;
}
