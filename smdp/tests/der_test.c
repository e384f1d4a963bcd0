/* der_test.c - tests for der.c against hand-built SGP.22 bytes, the BSP test vectors and real certificates. */
#include "smdp.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "AuthenticateClientRequest.h"
#include "GetBoundProfilePackageResponse.h"
#include "HandleNotification.h"


static int n_pass, n_fail;

/* Read root/rel (root = repo root, argv[1] or "."). */
static int read_rel(const char *root, const char *rel, size_t max, struct buf *out)
{
	char path[1024];

	if (snprintf(path, sizeof(path), "%s/%s", root, rel) >= (int)sizeof(path))
		return -1;
	return file_read(path, max, out);
}

static void check(int cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void check(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (cond)
		n_pass++;
	else
		n_fail++;
}

/* Hex with optional spaces -> heap buffer (aborts on a typo in the test). */
static struct buf H(const char *hex)
{
	size_t n = strlen(hex), j = 0;
	char *s = malloc(n + 1);
	struct buf b = { 0 };
	int len;

	if (!s)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (hex[i] != ' ')
			s[j++] = hex[i];
	}
	s[j] = '\0';
	b.p = malloc(j / 2 + 1);
	if (!b.p)
		abort();
	len = hex_decode(s, b.p, j / 2 + 1);
	if (len < 0) {
		fprintf(stderr, "bad hex in test: %s\n", hex);
		abort();
	}
	b.len = (size_t)len;
	free(s);
	return b;
}

static int eq(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static int eqm(const struct buf *a, const void *p, size_t n)
{
	return a->len == n && (n == 0 || memcmp(a->p, p, n) == 0);
}

/* A tiny independent TLV writer (definite DER lengths) for building test
 * input by hand. tag is 1..3 bytes, e.g. 0x30, 0xBF38, 0x5F37. */
static void put_tlv(struct buf *b, uint32_t tag, const void *v, size_t n)
{
	uint8_t h[8];
	size_t k = 0;

	if (tag > 0xFFFF)
		h[k++] = (uint8_t)(tag >> 16);
	if (tag > 0xFF)
		h[k++] = (uint8_t)(tag >> 8);
	h[k++] = (uint8_t)tag;
	if (n < 0x80) {
		h[k++] = (uint8_t)n;
	} else if (n < 0x100) {
		h[k++] = 0x81;
		h[k++] = (uint8_t)n;
	} else if (n < 0x10000) {
		h[k++] = 0x82;
		h[k++] = (uint8_t)(n >> 8);
		h[k++] = (uint8_t)n;
	} else {
		h[k++] = 0x83;
		h[k++] = (uint8_t)(n >> 16);
		h[k++] = (uint8_t)(n >> 8);
		h[k++] = (uint8_t)n;
	}
	if (buf_append(b, h, k) < 0 || buf_append(b, v, n) < 0)
		abort();
}

/* Wrap b in a TLV with the given tag, in place. */
static void wrap(struct buf *b, uint32_t tag)
{
	struct buf w = { 0 };

	put_tlv(&w, tag, b->p, b->len);
	buf_free(b);
	*b = w;
}

static void cat(struct buf *b, const struct buf *x)
{
	if (buf_append(b, x->p, x->len) < 0)
		abort();
}

#define TXID_HEX   "000102030405060708090A0B0C0D0E0F"
#define ECHAL_HEX  "101112131415161718191A1B1C1D1E1F"
#define SCHAL_HEX  "202122232425262728292A2B2C2D2E2F"
#define ADDR       "testsmdpplus1.example.com"
#define ADDR_HEX   "74657374736D6470706C7573312E6578616D706C652E636F6D"  /* 25 bytes */
/* SKI of certs/sgp26-nist/ci.der (openssl x509 -ext subjectKeyIdentifier) */
#define CI_SKI_HEX "F54172BDF98A95D65CBEB88A38A1C11D800A85C3"
/* SM-DP+ OID in the SGP.26 CERT.DPauth SAN: 2.999.10 = 06 03 88 37 0A */
#define DP_OID     "2.999.10"
#define DP_OID_HEX "88370A"
#define ICCID_HEX  "89000123456789012341"

static const uint8_t TXID[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static uint8_t ECHAL[16], SCHAL[16], OTPK[65], SIG[64], HASH[32];

static void init_consts(void)
{
	for (int i = 0; i < 16; i++) {
		ECHAL[i] = (uint8_t)(0x10 + i);
		SCHAL[i] = (uint8_t)(0x20 + i);
	}
	OTPK[0] = 0x04;
	for (int i = 1; i < 65; i++)
		OTPK[i] = (uint8_t)(0x3F + i);          /* 40 .. 7F */
	for (int i = 0; i < 64; i++)
		SIG[i] = (uint8_t)(0x80 + i);           /* 80 .. BF */
	for (int i = 0; i < 32; i++)
		HASH[i] = (uint8_t)(0xC0 + i);          /* C0 .. DF */
}

#define OTPK_HEX "04" \
	"404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F" \
	"606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F"
#define SIG_HEX \
	"808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9F" \
	"A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF"
#define HASH_HEX "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"

/* ------------------------------------------------------------------ */
/* Robustness: a decoder under test, as one function shape. */
typedef enum rsp_status (*dec_fn)(const uint8_t *der, size_t n);

static enum rsp_status d_info1(const uint8_t *d, size_t n)
{
	struct euicc_info1 o;
	return der_decode_euicc_info1(d, n, &o);
}
static enum rsp_status d_asr(const uint8_t *d, size_t n)
{
	struct auth_server_resp o;
	enum rsp_status st = der_decode_auth_server_resp(d, n, &o);
	auth_server_resp_free(&o);
	return st;
}
static enum rsp_status d_pdr(const uint8_t *d, size_t n)
{
	struct prepare_download_resp o;
	enum rsp_status st = der_decode_prepare_download_resp(d, n, &o);
	prepare_download_resp_free(&o);
	return st;
}
static enum rsp_status d_pn(const uint8_t *d, size_t n)
{
	struct pending_notification o;
	enum rsp_status st = der_decode_pending_notification(d, n, &o);
	pending_notification_free(&o);
	return st;
}
static enum rsp_status d_csr(const uint8_t *d, size_t n)
{
	struct cancel_session_resp o;
	enum rsp_status st = der_decode_cancel_session_resp(d, n, &o);
	cancel_session_resp_free(&o);
	return st;
}
static enum rsp_status d_ss1(const uint8_t *d, size_t n)
{
	struct server_signed1 o;
	return der_decode_server_signed1(d, n, &o);
}
static enum rsp_status d_sds2(const uint8_t *d, size_t n)
{
	struct smdp_signed2 o;
	return der_decode_smdp_signed2(d, n, &o);
}
static enum rsp_status d_meta(const uint8_t *d, size_t n)
{
	struct profile_metadata o;
	enum rsp_status st = der_decode_store_metadata(d, n, &o);
	buf_free(&o.icon);
	return st;
}
static enum rsp_status d_bf23(const uint8_t *d, size_t n)
{
	struct bf23 o;
	struct buf tbs = { 0 };
	enum rsp_status st = der_decode_bf23(d, n, &o, &tbs);
	buf_free(&tbs);
	return st;
}
static enum rsp_status d_bpp(const uint8_t *d, size_t n)
{
	struct bpp_parts o;
	enum rsp_status st = der_decode_bpp(d, n, &o);
	bpp_parts_free(&o);
	return st;
}
static enum rsp_status d_rsk(const uint8_t *d, size_t n)
{
	uint8_t a[16], b[16], c[16];
	return der_decode_replace_session_keys(d, n, a, b, c);
}

/* Child boundaries of the outer TLV's value (independent walker). */
static int at_child_boundary(const struct buf *b, size_t hdr, size_t cut)
{
	size_t off = hdr;

	while (off < hdr + cut) {
		uint32_t tag;
		size_t h, v;

		if (der_tlv(b->p + off, b->len - off, &tag, &h, &v) < 0)
			return 0;
		off += h + v;
	}
	return off == hdr + cut;
}

/* Every truncation, trailing garbage, a wrong outer tag, and every inner
 * truncation with a fixed-up outer length must be rejected without a crash
 * (the run under ASan/UBSan is what proves the latter). */
static void robustness(const char *name, dec_fn f, const struct buf *good)
{
	struct buf b = { 0 };
	int bad = 0;
	uint32_t tag;
	size_t hdr, vlen;

	check(f(good->p, good->len) == RSP_OK, "%s: valid encoding accepted", name);
	for (size_t k = 0; k < good->len; k++) {
		/* a copy of exactly k bytes, so ASan sees any over-read */
		uint8_t *p = malloc(k ? k : 1);

		if (!p)
			abort();
		memcpy(p, good->p, k);
		if (f(k ? p : NULL, k) != RSP_ERR_INVALID_REQUEST)
			bad++;
		free(p);
	}
	check(bad == 0, "%s: all %zu truncations rejected with INVALID_REQUEST", name, good->len);

	if (buf_set(&b, good->p, good->len) < 0 || buf_append(&b, "\0", 1) < 0)
		abort();
	check(f(b.p, b.len) == RSP_ERR_INVALID_REQUEST, "%s: trailing byte rejected", name);
	b.p[0] ^= 0x01;   /* e.g. BF38 -> BE38, 30 -> 31 */
	b.len--;
	check(f(b.p, b.len) == RSP_ERR_INVALID_REQUEST, "%s: wrong outer tag rejected", name);
	buf_free(&b);

	if (der_tlv(good->p, good->len, &tag, &hdr, &vlen) < 0)
		abort();
	bad = 0;
	for (size_t k = 0; k < vlen; k++) {
		enum rsp_status st;

		put_tlv(&b, tag, good->p + hdr, k);
		st = f(b.p, b.len);
		if (st != RSP_ERR_INVALID_REQUEST && st != RSP_ERR_MISSING_ELEMENT &&
		    !(st == RSP_OK && at_child_boundary(good, hdr, k)))
			bad++;
		buf_free(&b);
	}
	check(bad == 0, "%s: all %zu inner truncations rejected", name, vlen);

	/* Single-byte mutations: any status is fine, crashing is not (ASan). */
	{
		static const uint8_t flips[] = { 0x01, 0x20, 0x80, 0xFF };
		size_t runs = 0;

		if (buf_set(&b, good->p, good->len) < 0)
			abort();
		for (size_t i = 0; i < b.len && i < 4096; i++) {
			for (size_t k = 0; k < sizeof(flips); k++) {
				enum rsp_status st;

				b.p[i] ^= flips[k];
				st = f(b.p, b.len);
				b.p[i] ^= flips[k];
				runs += st == RSP_OK || st == RSP_ERR_INVALID_REQUEST ||
					st == RSP_ERR_MISSING_ELEMENT;
			}
		}
		check(runs == 4 * (b.len < 4096 ? b.len : 4096),
		      "%s: %zu single-byte mutations decoded without a crash", name, runs);
		buf_free(&b);
	}
}

/* ------------------------------------------------------------------ */

static void test_der_tlv(void)
{
	struct buf a = H("BF3682010000");   /* BF36, 2-byte length 0x0100 */
	struct buf big = { 0 };
	uint32_t tag;
	size_t hdr, vlen;
	int rc;

	if (buf_set(&big, a.p, a.len) < 0)
		abort();
	big.p = realloc(big.p, 5 + 256);
	memset(big.p + 5, 0, 256);
	big.len = 5 + 256;
	rc = der_tlv(big.p, big.len, &tag, &hdr, &vlen);
	check(rc == 0 && tag == 0xBF36 && hdr == 5 && vlen == 256, "der_tlv: BF36 82 0100");
	check(der_tlv(big.p, big.len - 1, &tag, &hdr, &vlen) < 0, "der_tlv: truncated value rejected");
	buf_free(&big);
	buf_free(&a);

	a = H("5F3702AABB");
	check(der_tlv(a.p, a.len, &tag, &hdr, &vlen) == 0 && tag == 0x5F37 && hdr == 3 && vlen == 2,
	      "der_tlv: 5F37");
	buf_free(&a);
	a = H("BF814001FF");
	check(der_tlv(a.p, a.len, &tag, &hdr, &vlen) == 0 && tag == 0xBF8140 && hdr == 4 && vlen == 1,
	      "der_tlv: 3-byte tag BF8140");
	buf_free(&a);
	a = H("BF81818101FF");
	check(der_tlv(a.p, a.len, &tag, &hdr, &vlen) < 0, "der_tlv: 4-byte tag rejected");
	buf_free(&a);
	a = H("30800000");
	check(der_tlv(a.p, a.len, &tag, &hdr, &vlen) < 0, "der_tlv: indefinite length rejected");
	buf_free(&a);
	a = H("3085000000000100");
	check(der_tlv(a.p, a.len, &tag, &hdr, &vlen) < 0, "der_tlv: 5 length bytes rejected");
	buf_free(&a);
	a = H("308400000001FF");
	check(der_tlv(a.p, a.len, &tag, &hdr, &vlen) == 0 && hdr == 6 && vlen == 1,
	      "der_tlv: 4 length bytes accepted");
	buf_free(&a);
	a = H("30");
	check(der_tlv(a.p, a.len, &tag, &hdr, &vlen) < 0, "der_tlv: lone tag rejected");
	buf_free(&a);
	a = H("BF");
	check(der_tlv(a.p, a.len, &tag, &hdr, &vlen) < 0, "der_tlv: cut inside tag rejected");
	buf_free(&a);
}

static void test_server_signed1(void)
{
	/* SGP.22 ServerSigned1: 30 L 80 10 txid 81 10 euiccChallenge 83 L
	 * serverAddress 84 10 serverChallenge; L = 18 + 18 + 27 + 18 = 0x51. */
	struct buf want = H("3051 8010" TXID_HEX " 8110" ECHAL_HEX " 8319" ADDR_HEX " 8410" SCHAL_HEX);
	struct buf got = { 0 };
	struct server_signed1 s;

	check(der_encode_server_signed1(TXID, 16, ECHAL, ADDR, SCHAL, &got) == 0 && eq(&got, &want),
	      "ServerSigned1 encodes to the hand-built bytes");
	check(der_decode_server_signed1(want.p, want.len, &s) == RSP_OK && s.txid_len == 16 &&
	      !memcmp(s.txid, TXID, 16) && !memcmp(s.euicc_challenge, ECHAL, 16) &&
	      !memcmp(s.server_challenge, SCHAL, 16) && !strcmp(s.server_address, ADDR),
	      "ServerSigned1 decodes with the right fields");
	robustness("ServerSigned1", d_ss1, &want);
	buf_free(&got);
	buf_free(&want);

	/* serverChallenge missing */
	want = H("303F 8010" TXID_HEX " 8110" ECHAL_HEX " 8319" ADDR_HEX);
	check(der_decode_server_signed1(want.p, want.len, &s) == RSP_ERR_MISSING_ELEMENT,
	      "ServerSigned1 without serverChallenge: MISSING_ELEMENT");
	buf_free(&want);
	{
		char *addr = malloc(SMDP_MAX_ADDRESS + 2);

		memset(addr, 'a', SMDP_MAX_ADDRESS + 1);
		addr[SMDP_MAX_ADDRESS + 1] = '\0';
		check(der_encode_server_signed1(TXID, 16, ECHAL, addr, SCHAL, &got) < 0,
		      "ServerSigned1 refuses an over-long serverAddress");
		addr[SMDP_MAX_ADDRESS] = '\0';
		check(der_encode_server_signed1(TXID, 16, ECHAL, addr, SCHAL, &got) == 0 &&
		      der_decode_server_signed1(got.p, got.len, &s) == RSP_OK &&
		      strlen(s.server_address) == SMDP_MAX_ADDRESS,
		      "ServerSigned1 serverAddress of exactly SMDP_MAX_ADDRESS round-trips");
		/* hand-made: 256-byte address must be refused on decode */
		buf_free(&got);
		{
			struct buf v = { 0 };

			put_tlv(&v, 0x80, TXID, 16);
			put_tlv(&v, 0x81, ECHAL, 16);
			memset(addr, 'a', SMDP_MAX_ADDRESS + 1);
			put_tlv(&v, 0x83, addr, SMDP_MAX_ADDRESS + 1);
			put_tlv(&v, 0x84, SCHAL, 16);
			wrap(&v, 0x30);
			check(der_decode_server_signed1(v.p, v.len, &s) == RSP_ERR_INVALID_REQUEST,
			      "ServerSigned1 with a 256-byte serverAddress: INVALID_REQUEST");
			buf_free(&v);
		}
		free(addr);
	}
	check(der_encode_server_signed1(TXID, 0, ECHAL, ADDR, SCHAL, &got) < 0,
	      "ServerSigned1 refuses an empty transactionId");
	{
		uint8_t txid17[17] = { 0 };

		check(der_encode_server_signed1(txid17, 17, ECHAL, ADDR, SCHAL, &got) < 0,
		      "ServerSigned1 refuses a 17-byte transactionId");
	}
	buf_free(&got);
}

static void test_smdp_signed2(void)
{
	struct buf w1 = H("3015 8010" TXID_HEX " 010100");
	struct buf w2 = H("3059 8010" TXID_HEX " 0101FF 5F4941" OTPK_HEX);
	struct buf got = { 0 };
	struct smdp_signed2 s;

	check(der_encode_smdp_signed2(TXID, 16, 0, NULL, 0, &got) == 0 && eq(&got, &w1),
	      "SmdpSigned2 (no CC, no otpk) encodes to the hand-built bytes");
	check(der_decode_smdp_signed2(w1.p, w1.len, &s) == RSP_OK && !s.cc_required && !s.has_otpk &&
	      s.txid_len == 16, "SmdpSigned2 (short) decodes");
	check(der_encode_smdp_signed2(TXID, 16, 1, OTPK, 65, &got) == 0 && eq(&got, &w2),
	      "SmdpSigned2 (CC, bppEuiccOtpk) encodes to the hand-built bytes");
	check(der_decode_smdp_signed2(w2.p, w2.len, &s) == RSP_OK && s.cc_required && s.has_otpk &&
	      !memcmp(s.otpk, OTPK, 65), "SmdpSigned2 (long) decodes");
	robustness("SmdpSigned2", d_sds2, &w2);
	buf_free(&w1);
	buf_free(&w2);
	buf_free(&got);
}

static void test_euicc_info(struct buf *info2_out)
{
	/* EUICCInfo1: BF20 35 82 03 svn A9 16 {04 14 ski} AA 16 {04 14 ski} */
	struct buf w1 = H("BF2035 8203020200 A9160414" CI_SKI_HEX " AA160414" CI_SKI_HEX);
	/* EUICCInfo2 built by hand from the tag layout (see der.c's comment
	 * for the values): 81 profileVersion, 82 svn, 83 firmware, 84
	 * extCardResource, 85 uiccCapability (bits 1,2,4,6,8,14,19,20), 88
	 * rspCapability (bits 0,3,4), A9/AA CI lists, 04 ppVersion, 0C SAS. */
	struct buf w2 = H("BF2268 8103020300 8203020200 8303010000"
			  " 840D 810100 820400010000 83022200"
			  " 8504036A8218 88020398"
			  " A9160414" CI_SKI_HEX " AA160414" CI_SKI_HEX
			  " 0403000001 0C09534D44502D54455354");
	struct buf got = { 0 }, ski = H(CI_SKI_HEX);
	struct euicc_info1 in, d;
	static const uint8_t svn[3] = { 2, 2, 0 };

	memset(&in, 0, sizeof(in));
	memcpy(in.svn, svn, 3);
	memcpy(in.verif[0].id, ski.p, 20);
	in.verif[0].len = 20;
	in.n_verif = 1;
	in.sign[0] = in.verif[0];
	in.n_sign = 1;
	check(der_encode_euicc_info1(&in, &got) == 0 && eq(&got, &w1),
	      "EUICCInfo1 encodes to the hand-built bytes");
	check(der_decode_euicc_info1(w1.p, w1.len, &d) == RSP_OK && !memcmp(d.svn, svn, 3) &&
	      d.n_verif == 1 && d.n_sign == 1 && d.verif[0].len == 20 &&
	      !memcmp(d.verif[0].id, ski.p, 20) && !memcmp(d.sign[0].id, ski.p, 20),
	      "EUICCInfo1 decodes with svn and both CI lists");
	robustness("EUICCInfo1", d_info1, &w1);
	{
		/* more CI ids than SMDP_MAX_CI_IDS */
		struct buf v = { 0 }, l = { 0 };

		for (int i = 0; i <= SMDP_MAX_CI_IDS; i++)
			put_tlv(&l, 0x04, ski.p, ski.len);
		put_tlv(&v, 0x82, svn, 3);
		put_tlv(&v, 0xA9, l.p, l.len);
		put_tlv(&v, 0xAA, "", 0);
		wrap(&v, 0xBF20);
		check(der_decode_euicc_info1(v.p, v.len, &d) == RSP_ERR_INVALID_REQUEST,
		      "EUICCInfo1 with %d CI ids: INVALID_REQUEST", SMDP_MAX_CI_IDS + 1);
		buf_free(&v);
		buf_free(&l);
		v = H("BF2009 8203020200 A900 AA00 ");
		check(der_decode_euicc_info1(v.p, v.len, &d) == RSP_OK && d.n_verif == 0,
		      "EUICCInfo1 with empty lists decodes");
		buf_free(&v);
		v = H("BF2005 8203020200");
		check(der_decode_euicc_info1(v.p, v.len, &d) == RSP_ERR_MISSING_ELEMENT,
		      "EUICCInfo1 without CI lists: MISSING_ELEMENT");
		buf_free(&v);
		v = H("BF200E 8203020200 A900 AA00 9F7F00 8100");
		check(der_decode_euicc_info1(v.p, v.len, &d) == RSP_OK,
		      "EUICCInfo1 with unknown extension fields decodes");
		buf_free(&v);
	}
	check(der_encode_euicc_info2(svn, &in, &got) == 0 && eq(&got, &w2),
	      "EUICCInfo2 encodes to the hand-built bytes");
	*info2_out = w2;
	buf_free(&w1);
	buf_free(&got);
	buf_free(&ski);
}

/* Hand-built EuiccSigned1 with matchingId mid (NULL = none) and the given
 * raw EUICCInfo2 and DeviceInfo value (the part inside A1). */
static struct buf build_signed1(const char *mid, size_t mid_len, const struct buf *info2,
				const struct buf *devinfo_val)
{
	struct buf s = { 0 }, ctx = { 0 };

	put_tlv(&s, 0x80, TXID, 16);
	put_tlv(&s, 0x83, ADDR, strlen(ADDR));
	put_tlv(&s, 0x84, SCHAL, 16);
	cat(&s, info2);
	if (mid)
		put_tlv(&ctx, 0x80, mid, mid_len);
	put_tlv(&ctx, 0xA1, devinfo_val->p, devinfo_val->len);
	put_tlv(&s, 0xA0, ctx.p, ctx.len);
	wrap(&s, 0x30);
	buf_free(&ctx);
	return s;
}

static struct buf build_asr(const struct buf *signed1, const struct buf *euicc,
			    const struct buf *eum, const char *extra_hex)
{
	struct buf r = { 0 };

	cat(&r, signed1);
	put_tlv(&r, 0x5F37, SIG, 64);
	cat(&r, euicc);
	cat(&r, eum);
	if (extra_hex) {
		struct buf x = H(extra_hex);

		cat(&r, &x);
		buf_free(&x);
	}
	wrap(&r, 0xA0);
	wrap(&r, 0xBF38);
	return r;
}

static void test_auth_server_resp(const struct buf *info2, const char *root)
{
	struct buf euicc = { 0 }, eum = { 0 }, got = { 0 }, got2 = { 0 }, s1 = { 0 }, want = { 0 };
	struct buf dev = H("8004 35290611 A100");   /* DeviceInfo value: tac, empty caps */
	struct euicc_signed1 in;
	struct auth_server_resp r, d;
	enum rsp_status st;

	if (read_rel(root, "certs/sgp26-nist/euicc/euicc.der", SMDP_MAX_CERT, &euicc) < 0 ||
	    read_rel(root, "certs/sgp26-nist/euicc/eum.der", SMDP_MAX_CERT, &eum) < 0) {
		check(0, "read the SGP.26 eUICC/EUM certificates (run from the repo root)");
		return;
	}
	memset(&in, 0, sizeof(in));
	memcpy(in.txid, TXID, 16);
	in.txid_len = 16;
	snprintf(in.server_address, sizeof(in.server_address), "%s", ADDR);
	memcpy(in.server_challenge, SCHAL, 16);
	if (buf_set(&in.euicc_info2, info2->p, info2->len) < 0)
		abort();
	in.ctx.has_matching_id = 1;
	snprintf(in.ctx.matching_id, sizeof(in.ctx.matching_id), "%s", "QR-G-5C-KR-1EF7HK");
	memcpy(in.ctx.tac, "\x35\x29\x06\x11", 4);
	in.ctx.tac_len = 4;

	want = build_signed1(in.ctx.matching_id, strlen(in.ctx.matching_id), info2, &dev);
	check(der_encode_euicc_signed1(&in, &s1) == 0 && eq(&s1, &want),
	      "EuiccSigned1 (DeviceInfo made from tac) encodes to the hand-built bytes");
	buf_free(&want);

	memset(&r, 0, sizeof(r));
	if (buf_set(&r.signed1_raw, s1.p, s1.len) < 0 || buf_set(&r.euicc_cert, euicc.p, euicc.len) < 0 ||
	    buf_set(&r.eum_cert, eum.p, eum.len) < 0)
		abort();
	memcpy(r.signature1, SIG, 64);
	want = build_asr(&s1, &euicc, &eum, NULL);
	check(der_encode_auth_server_resp(&r, &got) == 0 && eq(&got, &want),
	      "AuthenticateServerResponse with the SGP.26 certificates encodes to the hand-built bytes");
	st = der_decode_auth_server_resp(got.p, got.len, &d);
	check(st == RSP_OK, "AuthenticateServerResponse decodes (status %d)", st);
	check(!d.is_error && eq(&d.euicc_cert, &euicc) && eq(&d.eum_cert, &eum),
	      "decoded euiccCertificate/eumCertificate are byte-identical to the .der files");
	check(eq(&d.signed1_raw, &s1), "signed1_raw is the exact euiccSigned1 TLV");
	check(!memcmp(d.signature1, SIG, 64), "euiccSignature1 decoded");
	check(d.signed1.txid_len == 16 && !memcmp(d.signed1.txid, TXID, 16) &&
	      !strcmp(d.signed1.server_address, ADDR) && !memcmp(d.signed1.server_challenge, SCHAL, 16),
	      "euiccSigned1 transactionId/serverAddress/serverChallenge decoded");
	check(eq(&d.signed1.euicc_info2, info2) && !memcmp(d.signed1.euicc_info2_svn, "\x02\x02\x00", 3),
	      "euiccInfo2 raw TLV and svn decoded");
	check(d.signed1.ctx.has_matching_id && !strcmp(d.signed1.ctx.matching_id, "QR-G-5C-KR-1EF7HK") &&
	      d.signed1.ctx.tac_len == 4 && !memcmp(d.signed1.ctx.tac, "\x35\x29\x06\x11", 4),
	      "ctxParams1 matchingId and tac decoded");
	{
		struct buf a1 = H("A108 8004 35290611 A100");

		check(eq(&d.signed1.ctx.device_info, &a1), "device_info is the exact DeviceInfo TLV (A1)");
		buf_free(&a1);
	}
	/* re-encode from what was decoded: identical bytes */
	check(der_encode_euicc_signed1(&d.signed1, &got2) == 0 && eq(&got2, &s1),
	      "EuiccSigned1 re-encoded from the decoded struct is identical");
	check(der_encode_auth_server_resp(&d, &got2) == 0 && eq(&got2, &got),
	      "AuthenticateServerResponse re-encoded from the decoded struct is identical");
	robustness("AuthenticateServerResponse", d_asr, &got);
	{
		/* The ES9+ ASN.1 binding wrapper: AuthenticateClientRequest
		 * BF3B { 80 txid, BF38 ... } through the generated code. */
		struct buf w = { 0 }, back = { 0 };
		AuthenticateClientRequest_t *acr = NULL;
		asn_dec_rval_t rv;
		asn_enc_rval_t er;

		put_tlv(&w, 0x80, TXID, 16);
		cat(&w, &got);
		wrap(&w, 0xBF3B);
		rv = ber_decode(NULL, &asn_DEF_AuthenticateClientRequest, (void **)&acr, w.p, w.len);
		back.p = malloc(w.len);
		back.len = w.len;
		er = der_encode_to_buffer(&asn_DEF_AuthenticateClientRequest, acr, back.p, back.len);
		check(rv.code == RC_OK && rv.consumed == w.len && acr &&
		      acr->authenticateServerResponse.present ==
		      AuthenticateServerResponse_PR_authenticateResponseOk &&
		      er.encoded == (ssize_t)w.len && eq(&back, &w),
		      "generated AuthenticateClientRequest (BF3B) round-trips byte-identical");
		ASN_STRUCT_FREE(asn_DEF_AuthenticateClientRequest, acr);
		buf_free(&w);
		buf_free(&back);
	}
	auth_server_resp_free(&d);
	buf_free(&want);
	buf_free(&got2);

	/* DeviceInfo given raw as a plain SEQUENCE, with an 8-byte TAC (older
	 * v2 module) and capabilities: embedded with its A1 tag. */
	{
		struct buf dv = H("8008 3529061100000000 A10A 8003020000 8503050000");
		struct buf seq = { 0 };

		cat(&seq, &dv);
		wrap(&seq, 0x30);
		buf_free(&in.ctx.device_info);
		in.ctx.device_info = seq;
		in.ctx.has_matching_id = 0;
		want = build_signed1(NULL, 0, info2, &dv);
		check(der_encode_euicc_signed1(&in, &got2) == 0 && eq(&got2, &want),
		      "EuiccSigned1 with a raw 30-tagged DeviceInfo (8-byte TAC) embeds it as A1");
		buf_free(&r.signed1_raw);
		r.signed1_raw = got2;
		got2.p = NULL;
		got2.len = 0;
		buf_free(&got);
		check(der_encode_auth_server_resp(&r, &got) == 0 &&
		      der_decode_auth_server_resp(got.p, got.len, &d) == RSP_OK &&
		      d.signed1.ctx.tac_len == 8 && !d.signed1.ctx.has_matching_id,
		      "8-byte TAC and absent matchingId decode");
		auth_server_resp_free(&d);
		buf_free(&want);
		buf_free(&dv);
	}
	{
		struct buf dv = H("8005 3529061100 A100");

		want = build_signed1(NULL, 0, info2, &dv);
		buf_free(&got);
		got = build_asr(&want, &euicc, &eum, NULL);
		check(der_decode_auth_server_resp(got.p, got.len, &d) == RSP_ERR_INVALID_REQUEST,
		      "5-byte TAC: INVALID_REQUEST");
		buf_free(&want);
		buf_free(&dv);
	}

	/* matchingId limits */
	{
		char *mid = malloc(SMDP_MAX_MATCHING_ID + 2);

		memset(mid, 'M', SMDP_MAX_MATCHING_ID + 1);
		want = build_signed1(mid, SMDP_MAX_MATCHING_ID, info2, &dev);
		buf_free(&got);
		got = build_asr(&want, &euicc, &eum, NULL);
		st = der_decode_auth_server_resp(got.p, got.len, &d);
		check(st == RSP_OK && strlen(d.signed1.ctx.matching_id) == SMDP_MAX_MATCHING_ID,
		      "matchingId of exactly SMDP_MAX_MATCHING_ID bytes accepted");
		auth_server_resp_free(&d);
		buf_free(&want);
		want = build_signed1(mid, SMDP_MAX_MATCHING_ID + 1, info2, &dev);
		buf_free(&got);
		got = build_asr(&want, &euicc, &eum, NULL);
		st = der_decode_auth_server_resp(got.p, got.len, &d);
		check(st == RSP_ERR_INVALID_REQUEST, "over-long matchingId: INVALID_REQUEST (got %d)", st);
		buf_free(&want);
		want = build_signed1("a\0b", 3, info2, &dev);
		buf_free(&got);
		got = build_asr(&want, &euicc, &eum, NULL);
		check(der_decode_auth_server_resp(got.p, got.len, &d) == RSP_ERR_INVALID_REQUEST,
		      "matchingId with an embedded NUL: INVALID_REQUEST");
		buf_free(&want);
		want = build_signed1("\xC3\x28", 2, info2, &dev);
		buf_free(&got);
		got = build_asr(&want, &euicc, &eum, NULL);
		check(der_decode_auth_server_resp(got.p, got.len, &d) == RSP_ERR_INVALID_REQUEST,
		      "matchingId that is not UTF-8: INVALID_REQUEST");
		buf_free(&want);
		free(mid);
	}

	/* Unknown extension fields (EXTENSIBILITY IMPLIED): in EUICCInfo2,
	 * DeviceInfo, DeviceCapabilities, EuiccSigned1, AuthenticateResponseOk. */
	{
		struct buf i2 = { 0 }, dv = H("8004 35290611 A108 8003020000 9F7F00 830100");
		struct buf tail;

		cat(&i2, info2);
		tail = H("900101 BF7F00");
		i2.p = realloc(i2.p, i2.len + tail.len);
		memcpy(i2.p + i2.len, tail.p, tail.len);
		i2.len += tail.len;
		i2.p[2] = (uint8_t)(i2.p[2] + tail.len);   /* BF22 short length */
		buf_free(&tail);
		want = build_signed1("X", 1, &i2, &dv);
		/* EuiccSigned1 extension: append 85 01 00 inside the 30 */
		tail = H("850100");
		{
			struct buf v = { 0 };
			uint32_t tag;
			size_t hdr, vlen;

			der_tlv(want.p, want.len, &tag, &hdr, &vlen);
			if (buf_set(&v, want.p + hdr, vlen) < 0)
				abort();
			cat(&v, &tail);
			wrap(&v, 0x30);
			buf_free(&want);
			want = v;
		}
		buf_free(&tail);
		buf_free(&got);
		got = build_asr(&want, &euicc, &eum, "8600");
		st = der_decode_auth_server_resp(got.p, got.len, &d);
		check(st == RSP_OK, "unknown extension fields in 5 places are skipped (status %d)", st);
		check(st == RSP_OK && eq(&d.signed1_raw, &want) && eq(&d.signed1.euicc_info2, &i2) &&
		      d.signed1.ctx.device_info.len == dv.len + 2,
		      "raw slices keep the unknown fields (signatures cover them)");
		check(st == RSP_OK && eq(&d.euicc_cert, &euicc) && eq(&d.eum_cert, &eum),
		      "certificates still exact with an extension after them");
		/* re-encoding cannot reproduce unknown fields: must refuse, not alter */
		check(der_encode_euicc_signed1(&d.signed1, &got2) < 0,
		      "EuiccSigned1 re-encode refuses a euiccInfo2 with unknown fields");
		auth_server_resp_free(&d);
		buf_free(&want);
		buf_free(&i2);
		buf_free(&dv);
	}

	/* missing elements */
	{
		struct buf r2 = { 0 };

		cat(&r2, &s1);
		cat(&r2, &euicc);
		cat(&r2, &eum);
		wrap(&r2, 0xA0);
		wrap(&r2, 0xBF38);
		st = der_decode_auth_server_resp(r2.p, r2.len, &d);
		check(st == RSP_ERR_MISSING_ELEMENT, "no euiccSignature1: MISSING_ELEMENT (got %d)", st);
		buf_free(&r2);
		want = build_signed1("X", 1, info2, &dev);
		/* drop serverChallenge (84 10 ..) from euiccSigned1 */
		{
			struct buf v = { 0 }, ctx = { 0 };

			put_tlv(&v, 0x80, TXID, 16);
			put_tlv(&v, 0x83, ADDR, strlen(ADDR));
			cat(&v, info2);
			put_tlv(&ctx, 0xA1, dev.p, dev.len);
			put_tlv(&v, 0xA0, ctx.p, ctx.len);
			wrap(&v, 0x30);
			r2 = build_asr(&v, &euicc, &eum, NULL);
			st = der_decode_auth_server_resp(r2.p, r2.len, &d);
			check(st == RSP_ERR_MISSING_ELEMENT,
			      "euiccSigned1 without serverChallenge: MISSING_ELEMENT (got %d)", st);
			buf_free(&r2);
			buf_free(&v);
			buf_free(&ctx);
		}
		buf_free(&want);
		r2 = H("BF3804 A5020500");
		check(der_decode_auth_server_resp(r2.p, r2.len, &d) == RSP_ERR_INVALID_REQUEST,
		      "unknown CHOICE alternative: INVALID_REQUEST");
		buf_free(&r2);
		r2 = H("BF3880 A115 8010" TXID_HEX " 020107 0000");
		check(der_decode_auth_server_resp(r2.p, r2.len, &d) == RSP_ERR_INVALID_REQUEST,
		      "indefinite outer length: INVALID_REQUEST");
		buf_free(&r2);
		r2 = H("BF3819 A180 8010" TXID_HEX " 020107 0000");
		check(der_decode_auth_server_resp(r2.p, r2.len, &d) == RSP_ERR_INVALID_REQUEST,
		      "indefinite inner length: INVALID_REQUEST");
		buf_free(&r2);
		/* 60 nested constructed TLVs */
		for (int i = 0; i < 60; i++)
			wrap(&r2, 0xA0);
		wrap(&r2, 0xBF38);
		check(der_decode_auth_server_resp(r2.p, r2.len, &d) == RSP_ERR_INVALID_REQUEST,
		      "60-deep nesting: INVALID_REQUEST");
		buf_free(&r2);
	}
	/* 63-byte signature */
	{
		struct buf r2 = { 0 };

		cat(&r2, &s1);
		put_tlv(&r2, 0x5F37, SIG, 63);
		cat(&r2, &euicc);
		cat(&r2, &eum);
		wrap(&r2, 0xA0);
		wrap(&r2, 0xBF38);
		check(der_decode_auth_server_resp(r2.p, r2.len, &d) == RSP_ERR_INVALID_REQUEST,
		      "63-byte euiccSignature1: INVALID_REQUEST");
		buf_free(&r2);
	}

	/* error form */
	{
		struct buf w = H("BF3817 A115 8010" TXID_HEX " 020107");

		auth_server_resp_free(&r);   /* also zeroes r */
		r.is_error = 1;
		r.error_code = 7;   /* ciPKUnknown */
		memcpy(r.error_txid, TXID, 16);
		r.error_txid_len = 16;
		check(der_encode_auth_server_resp(&r, &got2) == 0 && eq(&got2, &w),
		      "AuthenticateResponseError encodes to the hand-built bytes");
		check(der_decode_auth_server_resp(w.p, w.len, &d) == RSP_OK && d.is_error &&
		      d.error_code == 7 && d.error_txid_len == 16 && !memcmp(d.error_txid, TXID, 16),
		      "AuthenticateResponseError decodes");
		auth_server_resp_free(&d);
		robustness("AuthenticateResponseError", d_asr, &w);
		buf_free(&w);
	}

	auth_server_resp_free(&r);
	free(in.euicc_info2.p);
	free(in.ctx.device_info.p);
	buf_free(&got);
	buf_free(&got2);
	buf_free(&s1);
	buf_free(&dev);
	buf_free(&euicc);
	buf_free(&eum);
}

static void test_prepare_download(void)
{
	struct buf w2 = H("3078 8010" TXID_HEX " 5F4941" OTPK_HEX " 0420" HASH_HEX);
	struct buf got = { 0 }, got2 = { 0 };
	struct prepare_download_resp in, d;

	check(der_encode_euicc_signed2(TXID, 16, OTPK, HASH, &got) == 0 && eq(&got, &w2),
	      "EUICCSigned2 encodes to the hand-built bytes");
	memset(&in, 0, sizeof(in));
	in.signed2_raw = got;
	memcpy(in.signature2, SIG, 64);
	got.p = NULL;
	check(der_encode_prepare_download_resp(&in, &got) == 0 && got.len == 4 + 3 + 189 &&
	      !memcmp(got.p, "\xBF\x21\x81\xC0\xA0\x81\xBD", 7) && !memcmp(got.p + 7, w2.p, w2.len),
	      "PrepareDownloadResponse = BF21 81C0 A0 81BD {EUICCSigned2, 5F37 sig}");
	check(der_decode_prepare_download_resp(got.p, got.len, &d) == RSP_OK && !d.is_error &&
	      eq(&d.signed2_raw, &w2) && d.txid_len == 16 && !memcmp(d.txid, TXID, 16) &&
	      d.euicc_otpk_len == 65 && !memcmp(d.euicc_otpk, OTPK, 65) && d.has_hash_cc &&
	      !memcmp(d.hash_cc, HASH, 32) && !memcmp(d.signature2, SIG, 64),
	      "PrepareDownloadResponse decodes with the right fields");
	check(der_encode_prepare_download_resp(&d, &got2) == 0 && eq(&got2, &got),
	      "PrepareDownloadResponse re-encoded from the decoded struct is identical");
	robustness("PrepareDownloadResponse", d_pdr, &got);
	prepare_download_resp_free(&d);
	prepare_download_resp_free(&in);
	buf_free(&got2);
	buf_free(&w2);

	/* without hashCc */
	w2 = H("3056 8010" TXID_HEX " 5F4941" OTPK_HEX);
	check(der_encode_euicc_signed2(TXID, 16, OTPK, NULL, &got2) == 0 && eq(&got2, &w2),
	      "EUICCSigned2 without hashCc encodes to the hand-built bytes");
	buf_free(&w2);
	buf_free(&got2);

	/* error form */
	w2 = H("BF2117 A115 8010" TXID_HEX " 020105");
	memset(&in, 0, sizeof(in));
	in.is_error = 1;
	in.error_code = 5;
	memcpy(in.txid, TXID, 16);
	in.txid_len = 16;
	check(der_encode_prepare_download_resp(&in, &got2) == 0 && eq(&got2, &w2),
	      "PrepareDownloadResponseError encodes to the hand-built bytes");
	check(der_decode_prepare_download_resp(w2.p, w2.len, &d) == RSP_OK && d.is_error &&
	      d.error_code == 5 && d.txid_len == 16, "PrepareDownloadResponseError decodes");
	prepare_download_resp_free(&d);
	buf_free(&w2);
	w2 = H("BF2138 A036 3034 8010" TXID_HEX " 0420" HASH_HEX);
	check(der_decode_prepare_download_resp(w2.p, w2.len, &d) == RSP_ERR_MISSING_ELEMENT,
	      "EUICCSigned2 without euiccOtpk, no signature: MISSING_ELEMENT");
	buf_free(&w2);
	buf_free(&got2);
	buf_free(&got);
}

static void test_pir(void)
{
	/* ProfileInstallationResultData BF27 by hand: 80 txid, BF2F {80 seq,
	 * 81 NotificationEvent install = 07 80, 0C address, 5A iccid}, 06 smdpOid,
	 * A2 (explicit finalResult) {A0 successResult {4F aid, 04 simaResponse}}. */
	struct buf wd = H("BF2762 8010" TXID_HEX
			  " BF2F2E 800105 81020780 0C19" ADDR_HEX " 5A0A" ICCID_HEX
			  " 0603" DP_OID_HEX
			  " A218 A016 4F10A0000005591010FFFFFFFF8900001000 04029000");
	/* errorResult: A2 { A1 { 80 bppCommandId, 81 errorReason } } */
	struct buf we = H("BF2752 8010" TXID_HEX
			  " BF2F2E 800105 81020780 0C19" ADDR_HEX " 5A0A" ICCID_HEX
			  " 0603" DP_OID_HEX " A208 A106 800105 810108");
	struct buf got = { 0 }, got2 = { 0 }, sima = H("9000"), aid = H("A0000005591010FFFFFFFF8900001000");
	struct buf iccid = H(ICCID_HEX);
	struct pending_notification in, d;

	memset(&in, 0, sizeof(in));
	in.kind = NOTIF_PIR;
	memcpy(in.txid, TXID, 16);
	in.txid_len = 16;
	in.meta.seq_number = 5;
	in.meta.operation = 0;
	snprintf(in.meta.address, sizeof(in.meta.address), "%s", ADDR);
	in.meta.has_iccid = 1;
	memcpy(in.meta.iccid, iccid.p, 10);
	snprintf(in.smdp_oid, sizeof(in.smdp_oid), "%s", DP_OID);
	in.success = 1;
	memcpy(in.aid, aid.p, 16);
	in.aid_len = 16;
	in.sima_response = sima;
	sima.p = NULL;
	check(der_encode_pir_data(&in, &got) == 0 && eq(&got, &wd),
	      "ProfileInstallationResultData (success) encodes to the hand-built bytes");
	in.pir_data_raw = got;
	got.p = NULL;
	memcpy(in.signature, SIG, 64);
	check(der_encode_pir(&in, &got) == 0 && got.len == 4 + wd.len + 67 &&
	      !memcmp(got.p, "\xBF\x37\x81\xA8", 4) && !memcmp(got.p + 4, wd.p, wd.len),
	      "ProfileInstallationResult = BF37 81A8 {BF27, 5F37 sig}");
	check(der_decode_pending_notification(got.p, got.len, &d) == RSP_OK && d.kind == NOTIF_PIR &&
	      eq(&d.pir_data_raw, &wd) && d.txid_len == 16 && !memcmp(d.txid, TXID, 16) &&
	      d.meta.seq_number == 5 && d.meta.operation == 0 && !strcmp(d.meta.address, ADDR) &&
	      d.meta.has_iccid && !memcmp(d.meta.iccid, iccid.p, 10) &&
	      !strcmp(d.smdp_oid, DP_OID) && d.success && d.aid_len == 16 &&
	      !memcmp(d.aid, aid.p, 16) && eqm(&d.sima_response, "\x90\x00", 2) &&
	      !memcmp(d.signature, SIG, 64),
	      "PIR (success) decodes with the right fields");
	check(der_encode_pir(&d, &got2) == 0 && eq(&got2, &got),
	      "PIR re-encoded from the decoded struct is identical");
	robustness("ProfileInstallationResult", d_pn, &got);
	pending_notification_free(&d);

	buf_free(&in.sima_response);
	in.success = 0;
	in.bpp_command_id = 5;
	in.error_reason = 8;
	check(der_encode_pir_data(&in, &got2) == 0 && eq(&got2, &we),
	      "ProfileInstallationResultData (error) encodes to the hand-built bytes");
	buf_free(&in.pir_data_raw);
	in.pir_data_raw = got2;
	got2.p = NULL;
	buf_free(&got);
	check(der_encode_pir(&in, &got) == 0 &&
	      der_decode_pending_notification(got.p, got.len, &d) == RSP_OK && !d.success &&
	      d.bpp_command_id == 5 && d.error_reason == 8 && d.sima_response.len == 0,
	      "PIR (error) decodes with bppCommandId and errorReason");
	pending_notification_free(&d);
	{
		/* smdpOid missing */
		struct buf v = H("BF27 57 8010" TXID_HEX
				 " BF2F2E 800105 81020780 0C19" ADDR_HEX " 5A0A" ICCID_HEX
				 " A208 A106 800105 810108");
		struct buf p = { 0 };

		v.p[2] = (uint8_t)(v.len - 3);
		cat(&p, &v);
		put_tlv(&p, 0x5F37, SIG, 64);
		wrap(&p, 0xBF37);
		check(der_decode_pending_notification(p.p, p.len, &d) == RSP_ERR_MISSING_ELEMENT,
		      "PIR without smdpOid: MISSING_ELEMENT");
		buf_free(&p);
		buf_free(&v);
	}
	pending_notification_free(&in);
	buf_free(&got);
	buf_free(&got2);
	buf_free(&wd);
	buf_free(&we);
	buf_free(&aid);
	buf_free(&iccid);
}

static void test_other_notification(const char *root)
{
	struct buf euicc = { 0 }, eum = { 0 }, tbs, n = { 0 };
	struct pending_notification d;
	enum rsp_status st;

	if (read_rel(root, "certs/sgp26-nist/euicc/euicc.der", SMDP_MAX_CERT, &euicc) < 0 ||
	    read_rel(root, "certs/sgp26-nist/euicc/eum.der", SMDP_MAX_CERT, &eum) < 0) {
		check(0, "read certificates");
		return;
	}
	/* NotificationMetadata: seq 7, notificationDelete (bit 3: 04 10), no iccid */
	tbs = H("BF2F22 800107 81020410 0C19" ADDR_HEX);
	cat(&n, &tbs);
	put_tlv(&n, 0x5F37, SIG, 64);
	cat(&n, &euicc);
	cat(&n, &eum);
	wrap(&n, 0x30);
	st = der_decode_pending_notification(n.p, n.len, &d);
	check(st == RSP_OK && d.kind == NOTIF_OTHER && eq(&d.tbs_raw, &tbs) &&
	      d.meta.seq_number == 7 && d.meta.operation == 3 && !d.meta.has_iccid &&
	      !strcmp(d.meta.address, ADDR) && !memcmp(d.signature, SIG, 64) &&
	      eq(&d.euicc_cert, &euicc) && eq(&d.eum_cert, &eum),
	      "OtherSignedNotification decodes: tbs_raw exact, delete event, certificates exact");
	pending_notification_free(&d);
	robustness("OtherSignedNotification", d_pn, &n);
	buf_free(&n);
	{
		/* two event bits set */
		struct buf t2 = H("BF2F22 800107 81020430 0C19" ADDR_HEX);

		cat(&n, &t2);
		put_tlv(&n, 0x5F37, SIG, 64);
		cat(&n, &euicc);
		cat(&n, &eum);
		wrap(&n, 0x30);
		check(der_decode_pending_notification(n.p, n.len, &d) == RSP_ERR_INVALID_REQUEST,
		      "NotificationMetadata with two event bits: INVALID_REQUEST");
		buf_free(&n);
		buf_free(&t2);
	}
	{
		/* NotificationEvent BIT STRING with an unused-bits octet of 35 */
		struct buf t2 = H("BF2F22 800107 81022380 0C19" ADDR_HEX);

		cat(&n, &t2);
		put_tlv(&n, 0x5F37, SIG, 64);
		cat(&n, &euicc);
		cat(&n, &eum);
		wrap(&n, 0x30);
		check(der_decode_pending_notification(n.p, n.len, &d) == RSP_ERR_INVALID_REQUEST,
		      "BIT STRING with 35 unused bits: INVALID_REQUEST");
		buf_free(&n);
		buf_free(&t2);
	}
	{
		/* negative seqNumber: decodes as a long (the generated INTEGER
		 * code is where UBSan used to complain) */
		struct buf t2 = H("BF2F22 8001FF 81020410 0C19" ADDR_HEX);

		cat(&n, &t2);
		put_tlv(&n, 0x5F37, SIG, 64);
		cat(&n, &euicc);
		cat(&n, &eum);
		wrap(&n, 0x30);
		check(der_decode_pending_notification(n.p, n.len, &d) == RSP_OK && d.meta.seq_number == -1,
		      "negative seqNumber decodes as -1");
		pending_notification_free(&d);
		buf_free(&n);
		buf_free(&t2);
	}
	buf_free(&tbs);
	buf_free(&euicc);
	buf_free(&eum);
}

static void test_cancel(void)
{
	struct buf ws = H("301A 8010" TXID_HEX " 8103" DP_OID_HEX " 820101");
	struct buf got = { 0 }, got2 = { 0 };
	struct cancel_session_resp in, d;

	check(der_encode_cancel_signed(TXID, 16, DP_OID, 1, &got) == 0 && eq(&got, &ws),
	      "EuiccCancelSessionSigned encodes to the hand-built bytes");
	check(der_encode_cancel_signed(TXID, 16, "2.999.010", 1, &got2) < 0 &&
	      der_encode_cancel_signed(TXID, 16, "2", 1, &got2) < 0 &&
	      der_encode_cancel_signed(TXID, 16, "1.40.1", 1, &got2) < 0 &&
	      der_encode_cancel_signed(TXID, 16, "2.999.", 1, &got2) < 0,
	      "malformed dotted OIDs refused");
	memset(&in, 0, sizeof(in));
	in.signed_raw = got;
	got.p = NULL;
	memcpy(in.signature, SIG, 64);
	check(der_encode_cancel_session_resp(&in, &got) == 0 && got.len == 3 + 2 + ws.len + 67 &&
	      !memcmp(got.p, "\xBF\x41\x61\xA0\x5F", 5),
	      "CancelSessionResponse = BF41 61 A0 5F {signed, 5F37 sig}");
	check(der_decode_cancel_session_resp(got.p, got.len, &d) == RSP_OK && !d.is_error &&
	      eq(&d.signed_raw, &ws) && d.txid_len == 16 && !strcmp(d.smdp_oid, DP_OID) &&
	      d.reason == 1 && !memcmp(d.signature, SIG, 64),
	      "CancelSessionResponse decodes with the right fields");
	check(der_encode_cancel_session_resp(&d, &got2) == 0 && eq(&got2, &got),
	      "CancelSessionResponse re-encoded from the decoded struct is identical");
	robustness("CancelSessionResponse", d_csr, &got);
	cancel_session_resp_free(&d);
	cancel_session_resp_free(&in);
	buf_free(&ws);
	buf_free(&got2);
	{
		/* OID longer than SMDP_MAX_OID characters when dotted */
		struct buf s = { 0 }, oid = { 0 }, r = { 0 };
		uint8_t arc[4] = { 0x81, 0x80, 0x80, 0x01 };   /* 2097153 */

		if (buf_append(&oid, "\x2A", 1) < 0)
			abort();
		for (int i = 0; i < 10; i++) {
			if (buf_append(&oid, arc, 4) < 0)
				abort();
		}
		put_tlv(&s, 0x80, TXID, 16);
		put_tlv(&s, 0x81, oid.p, oid.len);
		put_tlv(&s, 0x82, "\x01", 1);
		wrap(&s, 0x30);
		cat(&r, &s);
		put_tlv(&r, 0x5F37, SIG, 64);
		wrap(&r, 0xA0);
		wrap(&r, 0xBF41);
		check(der_decode_cancel_session_resp(r.p, r.len, &d) == RSP_ERR_INVALID_REQUEST,
		      "smdpOid longer than SMDP_MAX_OID as text: INVALID_REQUEST");
		buf_free(&s);
		buf_free(&oid);
		buf_free(&r);
	}
	ws = H("BF4103 810105");
	memset(&in, 0, sizeof(in));
	in.is_error = 1;
	in.error_code = 5;
	check(der_encode_cancel_session_resp(&in, &got2) == 0 && eq(&got2, &ws),
	      "CancelSessionResponseError encodes to the hand-built bytes");
	check(der_decode_cancel_session_resp(ws.p, ws.len, &d) == RSP_OK && d.is_error &&
	      d.error_code == 5, "CancelSessionResponseError decodes");
	cancel_session_resp_free(&d);
	buf_free(&ws);
	buf_free(&got);
	buf_free(&got2);
}

static void test_small_es8(const cJSON *vec)
{
	const cJSON *bd = cJSON_GetObjectItemCaseSensitive(vec, "bpp_decode");
	const cJSON *smp = cJSON_GetObjectItemCaseSensitive(bd, "store_metadata_plain");
	const cJSON *cip = cJSON_GetObjectItemCaseSensitive(bd, "configure_isdp_plain");
	struct buf got = { 0 }, w = { 0 };
	struct profile_metadata m, d;
	uint8_t mcv[16], enc[16], mac[16], k1[16], k2[16], k3[16];

	/* ConfigureISDPRequest: the vector's plaintext and a hand-built one */
	if (cJSON_IsString(cip)) {
		w = H(cip->valuestring);
		check(der_encode_configure_isdp(NULL, &got) == 0 && eq(&got, &w),
		      "ConfigureISDPRequest (empty) equals bsp.json configure_isdp_plain");
		buf_free(&w);
	} else {
		check(0, "bsp.json has bpp_decode.configure_isdp_plain");
	}
	w = H("BF2407 B805 8003" DP_OID_HEX);
	check(der_encode_configure_isdp(DP_OID, &got) == 0 && eq(&got, &w),
	      "ConfigureISDPRequest with dpOid encodes to the hand-built bytes");
	buf_free(&w);

	/* StoreMetadataRequest from the vector: decode, re-encode identical */
	if (cJSON_IsString(smp)) {
		w = H(smp->valuestring);
		check(der_decode_store_metadata(w.p, w.len, &d) == RSP_OK &&
		      !strcmp(d.spn, "OsmocomSPN") && !strcmp(d.name, "OsmocomProfile") &&
		      !memcmp(d.iccid, "\x89\x00\x01\x23\x45\x67\x89\x01\x23\x41", 10) &&
		      d.profile_class == -1 && d.icon_type == -1 && !d.has_ppr,
		      "bsp.json store_metadata_plain decodes (iccid, spn, name)");
		check(der_encode_store_metadata(&d, &got) == 0 && eq(&got, &w),
		      "bsp.json store_metadata_plain re-encodes byte-identical");
		robustness("StoreMetadataRequest", d_meta, &w);
		buf_free(&d.icon);
		buf_free(&w);
	} else {
		check(0, "bsp.json has bpp_decode.store_metadata_plain");
	}
	/* all our fields */
	memset(&m, 0, sizeof(m));
	memcpy(m.iccid, "\x89\x00\x01\x23\x45\x67\x89\x01\x23\x41", 10);
	snprintf(m.spn, sizeof(m.spn), "SPN");
	snprintf(m.name, sizeof(m.name), "Name");
	m.profile_class = 0;
	m.icon_type = 1;
	if (buf_set(&m.icon, "\x89PNG", 4) < 0)
		abort();
	m.has_ppr = 1;
	m.ppr = 0x40;   /* ppr1 */
	w = H("BF2527 5A0A" ICCID_HEX " 910353504E 92044E616D65 930101 940489504E47 950100 99020640");
	check(der_encode_store_metadata(&m, &got) == 0 && eq(&got, &w),
	      "StoreMetadataRequest with icon, class test and ppr1 encodes to the hand-built bytes");
	check(der_decode_store_metadata(w.p, w.len, &d) == RSP_OK && d.profile_class == 0 &&
	      d.icon_type == 1 && eqm(&d.icon, "\x89PNG", 4) && d.has_ppr && d.ppr == 0x40,
	      "StoreMetadataRequest with all our fields decodes");
	buf_free(&d.icon);
	buf_free(&w);
	m.profile_class = 2;   /* DEFAULT: must be left out */
	m.icon_type = -1;
	buf_free(&m.icon);
	m.ppr = 0x60;
	w = H("BF251B 5A0A" ICCID_HEX " 910353504E 92044E616D65 99020560");
	check(der_encode_store_metadata(&m, &got) == 0 && eq(&got, &w),
	      "profileClass operational (DEFAULT) omitted; ppr1+ppr2 = 99 02 05 60");
	buf_free(&w);
	m.spn[0] = 'S';
	memset(m.spn, 'S', 32);
	m.spn[32] = '\0';
	check(der_encode_store_metadata(&m, &got) == 0, "32-byte serviceProviderName accepted");
	{
		/* notificationConfigurationInfo and profileOwner are accepted */
		struct buf v = H("BF252E 5A0A" ICCID_HEX " 910353504E 92044E616D65"
				 " B60E 300C 80020780 8106736D64702E78"
				 " B705 8003 21F354");
		check(der_decode_store_metadata(v.p, v.len, &d) == RSP_OK && !strcmp(d.spn, "SPN"),
		      "StoreMetadataRequest with notificationConfigurationInfo/profileOwner decodes");
		buf_free(&d.icon);
		buf_free(&v);
		/* serviceSpecificDataStoredInEuicc BF22 { 30 { 80 vendorOid, A1 { any } } } */
		v = H("BF2527 5A0A" ICCID_HEX " 910353504E 92044E616D65"
		      " BF220D 300B 8003" DP_OID_HEX " A104 0402AABB");
		check(der_decode_store_metadata(v.p, v.len, &d) == RSP_OK && !strcmp(d.name, "Name"),
		      "StoreMetadataRequest with serviceSpecificData (VendorSpecificExtension) decodes");
		buf_free(&d.icon);
		buf_free(&v);
		v = H("BF2511 5A0A" ICCID_HEX " 910353504E");
		check(der_decode_store_metadata(v.p, v.len, &d) == RSP_ERR_MISSING_ELEMENT,
		      "StoreMetadataRequest without profileName: MISSING_ELEMENT");
		buf_free(&v);
	}

	/* ReplaceSessionKeysRequest */
	for (int i = 0; i < 16; i++) {
		mcv[i] = (uint8_t)i;
		enc[i] = (uint8_t)(0x10 + i);
		mac[i] = (uint8_t)(0x20 + i);
	}
	w = H("BF2636 8010" TXID_HEX " 8110" ECHAL_HEX " 8210" SCHAL_HEX);
	check(der_encode_replace_session_keys(mcv, enc, mac, &got) == 0 && eq(&got, &w),
	      "ReplaceSessionKeysRequest encodes to the hand-built bytes");
	check(der_decode_replace_session_keys(w.p, w.len, k1, k2, k3) == RSP_OK &&
	      !memcmp(k1, mcv, 16) && !memcmp(k2, enc, 16) && !memcmp(k3, mac, 16),
	      "ReplaceSessionKeysRequest decodes");
	robustness("ReplaceSessionKeysRequest", d_rsk, &w);
	buf_free(&w);
	w = H("BF2635 8010" TXID_HEX " 810F" "1112131415161718191A1B1C1D1E1F" " 8210" SCHAL_HEX);
	check(der_decode_replace_session_keys(w.p, w.len, k1, k2, k3) == RSP_ERR_INVALID_REQUEST,
	      "ReplaceSessionKeysRequest with a 15-byte key: INVALID_REQUEST");
	buf_free(&w);
	buf_free(&got);
}

static void test_bf23(void)
{
	/* InitialiseSecureChannelRequest by hand: 82 01 01 remoteOpId, 80 txid,
	 * A6 {80 01 88, 81 01 10, 84 08 hostId}, 5F49 41 otPK, 5F37 40 sign;
	 * value 3 + 18 + 18 + 68 + 67 = 174 = 81 AE. */
#define TBS_HEX "820101 8010" TXID_HEX " A610 800188 810110 84086D61686C7A656974 5F4941" OTPK_HEX
	struct buf want = H("BF2381AE " TBS_HEX " 5F3740" SIG_HEX);
	struct buf tbs_want = H(TBS_HEX);
	struct buf whole = { 0 }, tbs = { 0 }, again = { 0 };
	struct bf23 in, d;

	memset(&in, 0, sizeof(in));
	memcpy(in.txid, TXID, 16);
	in.txid_len = 16;
	memcpy(in.host_id, "mahlzeit", 8);
	in.host_id_len = 8;
	memcpy(in.dp_otpk, OTPK, 65);
	memcpy(in.signature, SIG, 64);
	check(der_encode_bf23(&in, &whole, &tbs) == 0 && eq(&whole, &want),
	      "InitialiseSecureChannelRequest encodes to the hand-built bytes");
	check(eq(&tbs, &tbs_want), "BF23 tbs = remoteOpId..smdpOtpk TLVs");
	buf_free(&tbs);
	check(der_decode_bf23(want.p, want.len, &d, &tbs) == RSP_OK && d.txid_len == 16 &&
	      !memcmp(d.txid, TXID, 16) && d.host_id_len == 8 && !memcmp(d.host_id, "mahlzeit", 8) &&
	      !memcmp(d.dp_otpk, OTPK, 65) && !memcmp(d.signature, SIG, 64) && eq(&tbs, &tbs_want),
	      "InitialiseSecureChannelRequest decodes, tbs as defined");
	check(der_encode_bf23(&d, &again, NULL) == 0 && eq(&again, &want),
	      "BF23 re-encoded from the decoded struct is identical");
	robustness("InitialiseSecureChannelRequest", d_bf23, &want);
	buf_free(&again);
	{
		struct buf v = H("BF2381AE 820102 8010" TXID_HEX " A610 800188 810110 84086D61686C7A656974 5F4941"
				 OTPK_HEX " 5F3740" SIG_HEX);
		check(der_decode_bf23(v.p, v.len, &d, NULL) == RSP_ERR_INVALID_REQUEST,
		      "BF23 with remoteOpId 2: INVALID_REQUEST");
		buf_free(&v);
		v = H("BF2381AE 820101 8010" TXID_HEX " A610 800188 810120 84086D61686C7A656974 5F4941"
		      OTPK_HEX " 5F3740" SIG_HEX);
		check(der_decode_bf23(v.p, v.len, &d, NULL) == RSP_ERR_INVALID_REQUEST,
		      "BF23 with keyLen 0x20: INVALID_REQUEST");
		buf_free(&v);
		v = H("BF236B " TBS_HEX);
		check(der_decode_bf23(v.p, v.len, &d, NULL) == RSP_ERR_MISSING_ELEMENT,
		      "BF23 without smdpSign: MISSING_ELEMENT");
		buf_free(&v);
	}
	buf_free(&want);
	buf_free(&tbs_want);
	buf_free(&whole);
	buf_free(&tbs);
#undef TBS_HEX
}

static void test_bpp(const cJSON *vec)
{
	const cJSON *bd = cJSON_GetObjectItemCaseSensitive(vec, "bpp_decode");
	const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(bd, "bpp_b64");
	struct buf bpp = { 0 }, got = { 0 }, tbs = { 0 };
	struct bpp_parts p;
	struct bf23 b;
	uint32_t tag;
	size_t hdr, vlen, h2, v2;
	enum rsp_status st;

	if (!cJSON_IsString(b64) ||
	    b64_decode(b64->valuestring, strlen(b64->valuestring), &bpp) < 0) {
		check(0, "bsp.json bpp_decode.bpp_b64 is base64");
		return;
	}
	st = der_decode_bpp(bpp.p, bpp.len, &p);
	check(st == RSP_OK, "bsp.json BPP decodes (%zu bytes, status %d)", bpp.len, st);
	if (st != RSP_OK)
		goto out;
	check(p.n87a == 1 && p.n88 == 1 && p.n87b == 0 && p.n86 == 13,
	      "BPP parts: 1 x 87, 1 x 88, no second 87, 13 x 86 (got %zu/%zu/%zu/%zu)",
	      p.n87a, p.n88, p.n87b, p.n86);
	/* BF36 82 327B then BF23 81 AE: the BF23 slice starts at offset 5 */
	check(der_tlv(bpp.p, bpp.len, &tag, &hdr, &vlen) == 0 && hdr == 5 &&
	      der_tlv(bpp.p + hdr, vlen, &tag, &h2, &v2) == 0 && tag == 0xBF23 &&
	      p.bf23.len == h2 + v2 && !memcmp(p.bf23.p, bpp.p + 5, p.bf23.len),
	      "BPP bf23 is the exact BF23 TLV of the input");
	check(p.seg87a[0].len > 0 && p.seg87a[0].p[0] == 0x87 && p.seg88[0].p[0] == 0x88 &&
	      p.seg86[0].p[0] == 0x86 && p.seg86[0].len == 1040 && p.seg86[12].len == 174,
	      "BPP segments are complete 87/88/86 TLVs");
	check(der_encode_bpp(&p, &got) == 0 && eq(&got, &bpp),
	      "BPP re-encoded with der_encode_bpp is byte-identical to bsp.json");
	st = der_decode_bf23(p.bf23.p, p.bf23.len, &b, &tbs);
	check(st == RSP_OK && b.txid_len == 16 && b.host_id_len == 8 &&
	      !memcmp(b.host_id, "mahlzeit", 8) && b.dp_otpk[0] == 0x04,
	      "its BF23 decodes (hostId 'mahlzeit')");
	/* BF23 81 AE: the value starts at offset 4 */
	check(st == RSP_OK && tbs.len > 0 && p.bf23.len > 4 + tbs.len &&
	      !memcmp(tbs.p, p.bf23.p + 4, tbs.len) &&
	      !memcmp(p.bf23.p + 4 + tbs.len, "\x5F\x37\x40", 3) &&
	      !memcmp(tbs.p, "\x82\x01\x01\x80\x10", 5),
	      "BF23 tbs is the prefix of the BF23 value up to smdpSign");
	{
		struct buf again = { 0 };

		check(der_encode_bf23(&b, &again, NULL) == 0 && eq(&again, &p.bf23),
		      "the vector's BF23 re-encodes byte-identical");
		buf_free(&again);
	}
	{
		/* a wrong segment tag must be refused by the encoder */
		uint8_t save = p.seg88[0].p[0];

		p.seg88[0].p[0] = 0x87;
		check(der_encode_bpp(&p, &got) < 0, "der_encode_bpp refuses an 87 TLV among the 88s");
		p.seg88[0].p[0] = save;
		p.seg88[0].len--;
		check(der_encode_bpp(&p, &got) < 0, "der_encode_bpp refuses a segment with a bad length");
		p.seg88[0].len++;
	}
	{
		/* the ES9+ binding GetBoundProfilePackageResponse BF3A {A0 {80 txid, BF36}} */
		struct buf w = { 0 }, back = { 0 };
		GetBoundProfilePackageResponse_t *r = NULL;
		asn_dec_rval_t rv;
		asn_enc_rval_t er;

		put_tlv(&w, 0x80, TXID, 16);
		cat(&w, &bpp);
		wrap(&w, 0xA0);
		wrap(&w, 0xBF3A);
		rv = ber_decode(NULL, &asn_DEF_GetBoundProfilePackageResponse, (void **)&r, w.p, w.len);
		back.p = malloc(w.len);
		back.len = w.len;
		er = der_encode_to_buffer(&asn_DEF_GetBoundProfilePackageResponse, r, back.p, back.len);
		check(rv.code == RC_OK && rv.consumed == w.len && r &&
		      r->present == GetBoundProfilePackageResponse_PR_getBoundProfilePackageOk &&
		      er.encoded == (ssize_t)w.len && eq(&back, &w),
		      "generated GetBoundProfilePackageResponse (BF3A) round-trips byte-identical");
		ASN_STRUCT_FREE(asn_DEF_GetBoundProfilePackageResponse, r);
		buf_free(&w);
		buf_free(&back);
	}
	robustness("BoundProfilePackage", d_bpp, &bpp);
	bpp_parts_free(&p);
	{
		/* no sequenceOf86 */
		struct buf v = { 0 };

		if (der_tlv(bpp.p, bpp.len, &tag, &hdr, &vlen) < 0)
			abort();
		/* keep BF23, A0, A1 (everything before A3) */
		{
			const uint8_t *q = bpp.p + hdr;
			size_t left = vlen;

			while (left > 0 && q[0] != 0xA3) {
				if (der_tlv(q, left, &tag, &h2, &v2) < 0)
					abort();
				if (buf_append(&v, q, h2 + v2) < 0)
					abort();
				q += h2 + v2;
				left -= h2 + v2;
			}
		}
		wrap(&v, 0xBF36);
		check(der_decode_bpp(v.p, v.len, &p) == RSP_ERR_MISSING_ELEMENT,
		      "BPP without sequenceOf86: MISSING_ELEMENT");
		buf_free(&v);
	}
out:
	bpp_parts_free(&p);
	buf_free(&tbs);
	buf_free(&got);
	buf_free(&bpp);
}

static void test_handle_notification_binding(void)
{
	/* HandleNotification BF3D: pendingNotification gets the automatic
	 * tag [0], explicit since it is a CHOICE: BF3D { A0 { BF37 ... } }. */
	struct buf pir = { 0 }, w = { 0 }, back = { 0 }, data = { 0 };
	struct pending_notification in;
	HandleNotification_t *h = NULL;
	asn_dec_rval_t rv;
	asn_enc_rval_t er;

	memset(&in, 0, sizeof(in));
	memcpy(in.txid, TXID, 16);
	in.txid_len = 16;
	in.meta.seq_number = 1;
	snprintf(in.meta.address, sizeof(in.meta.address), "%s", ADDR);
	snprintf(in.smdp_oid, sizeof(in.smdp_oid), "%s", DP_OID);
	in.success = 0;
	in.bpp_command_id = 1;
	in.error_reason = 1;
	if (der_encode_pir_data(&in, &in.pir_data_raw) < 0 || der_encode_pir(&in, &pir) < 0) {
		check(0, "build a PIR for the HandleNotification binding");
		goto out;
	}
	cat(&w, &pir);
	wrap(&w, 0xA0);
	wrap(&w, 0xBF3D);
	rv = ber_decode(NULL, &asn_DEF_HandleNotification, (void **)&h, w.p, w.len);
	back.p = malloc(w.len);
	back.len = w.len;
	er = der_encode_to_buffer(&asn_DEF_HandleNotification, h, back.p, back.len);
	check(rv.code == RC_OK && rv.consumed == w.len && h &&
	      h->pendingNotification.present == PendingNotification_PR_profileInstallationResult &&
	      er.encoded == (ssize_t)w.len && eq(&back, &w),
	      "generated HandleNotification (BF3D A0 BF37) round-trips byte-identical");
out:
	if (h)
		ASN_STRUCT_FREE(asn_DEF_HandleNotification, h);
	pending_notification_free(&in);
	buf_free(&w);
	buf_free(&back);
	buf_free(&pir);
	buf_free(&data);
}

/* ------------------------------------------------------------------ */
/* SGP.32 v1.2 IoT fields of StoreMetadataRequest: absent unless asked for
 * (every byte of the SGP.22 metadata above stays as it was). */
static void test_iot_metadata(void)
{
	struct profile_metadata m, d;
	struct buf w, got = { 0 };

	memset(&m, 0, sizeof(m));
	memcpy(m.iccid, "\x89\x00\x01\x23\x45\x67\x89\x01\x23\x41", 10);
	snprintf(m.spn, sizeof(m.spn), "SPN");
	snprintf(m.name, sizeof(m.name), "Name");
	m.profile_class = -1;
	m.icon_type = -1;
	m.has_ecall_indication = 1;
	m.ecall_indication = 1;
	m.has_fallback_allowed = 1;
	m.fallback_allowed = 0;
	/* 9F7B ecallIndication TRUE (DER: FF), then 9F67 fallbackAllowed FALSE */
	w = H("BF251F 5A0A" ICCID_HEX " 910353504E 92044E616D65 9F7B01FF 9F670100");
	check(der_encode_store_metadata(&m, &got) == 0 && eq(&got, &w),
	      "StoreMetadataRequest with ecallIndication TRUE, fallbackAllowed FALSE: hand-built bytes");
	check(der_decode_store_metadata(w.p, w.len, &d) == RSP_OK && d.has_ecall_indication &&
	      d.ecall_indication == 1 && d.has_fallback_allowed && d.fallback_allowed == 0,
	      "StoreMetadataRequest IoT fields decode");
	robustness("StoreMetadataRequest (IoT)", d_meta, &w);
	buf_free(&w);
	m.has_ecall_indication = 0;
	m.fallback_allowed = 1;
	w = H("BF251B 5A0A" ICCID_HEX " 910353504E 92044E616D65 9F6701FF");
	check(der_encode_store_metadata(&m, &got) == 0 && eq(&got, &w),
	      "only fallbackAllowed TRUE: 9F67 01 FF, no 9F7B");
	check(der_decode_store_metadata(w.p, w.len, &d) == RSP_OK && !d.has_ecall_indication &&
	      d.has_fallback_allowed && d.fallback_allowed == 1, "it decodes as such");
	buf_free(&w);
	m.has_fallback_allowed = 0;
	w = H("BF2517 5A0A" ICCID_HEX " 910353504E 92044E616D65");
	check(der_encode_store_metadata(&m, &got) == 0 && eq(&got, &w) &&
	      der_decode_store_metadata(w.p, w.len, &d) == RSP_OK && !d.has_ecall_indication &&
	      !d.has_fallback_allowed, "without IoT fields: plain SGP.22 bytes, decoded as absent");
	buf_free(&w);
	buf_free(&got);
}

/* ------------------------------------------------------------------ */
/* Golden device descriptions (test-vectors/devices/): each .hex (one
 * comment per TLV, built by hand from the ASN.1 of its generation) is the
 * .der; decoded values are the ones the comments give. */

/* Hex text with '#' comments and whitespace -> bytes (test's own parser). */
static int hex_file(const char *root, const char *rel, struct buf *out)
{
	struct buf t = { 0 };
	char *clean;
	size_t k = 0;
	int rc = -1;

	if (read_rel(root, rel, 64 * 1024, &t) < 0)
		return -1;
	clean = malloc(t.len + 1);
	if (!clean)
		abort();
	for (size_t i = 0; i < t.len; i++) {
		if (t.p[i] == '#')
			while (i < t.len && t.p[i] != '\n')
				i++;
		else if (!strchr(" \t\r\n", t.p[i]))
			clean[k++] = (char)t.p[i];
	}
	clean[k] = '\0';
	*out = H(clean);
	rc = out->len == k / 2 ? 0 : -1;
	free(clean);
	buf_free(&t);
	return rc;
}

static enum rsp_status d_info2(const uint8_t *d, size_t n)
{
	struct euicc_info2 o;
	return der_decode_euicc_info2(d, n, &o);
}
static enum rsp_status d_devinfo(const uint8_t *d, size_t n)
{
	struct device_info o;
	return der_decode_device_info(d, n, &o);
}

struct device_case {
	const char *dir;
	const char *svn;             /* hex, EUICCInfo1 and EUICCInfo2 */
	const char *pv, *fw;         /* profileVersion, euiccFirmwareVer */
	uint32_t rsp_caps;           /* RspCapability bits */
	int ipa_mode;                /* -1 absent */
	int iot;                     /* iotSpecificInfo with v1.2.0, ecall, fallback */
	size_t tac_len;
	int imei;
	int n_caps;
	int known;                   /* every field known to our module */
};

static const struct device_case devices[] = {
	{ "sgp22-v2.1", "020100", "020100", "010203", 0x09, -1, 0, 8, 0, 3, 1 },
	{ "sgp22-v2.2.2", "020202", "020200", "030001", 0x09, -1, 0, 4, 0, 3, 1 },
	{ "sgp22-v2.5", "020500", "020300", "040100", 0x19, -1, 0, 4, 1, 6, 1 },
	{ "sgp32-v1.2", "020500", "020300", "010000", 0x19, 1, 1, 4, 0, 1, 1 },
	{ "newer-extensions", "020500", "020300", "050000", 0x39, 0, 1, 4, 1, 4, 0 },
};

static void test_devices(const char *root)
{
	struct buf euicc = { 0 }, eum = { 0 }, nist = H(CI_SKI_HEX);
	struct buf brp = H("C0BC70BA36929D43B467FF57570530E57AB8FCD8");

	if (read_rel(root, "certs/sgp26-nist/euicc/euicc.der", SMDP_MAX_CERT, &euicc) < 0 ||
	    read_rel(root, "certs/sgp26-nist/euicc/eum.der", SMDP_MAX_CERT, &eum) < 0) {
		check(0, "read the SGP.26 eUICC/EUM certificates (run from the repo root)");
		goto out;
	}
	for (size_t c = 0; c < sizeof(devices) / sizeof(devices[0]); c++) {
		const struct device_case *v = &devices[c];
		const char *names[3] = { "euicc-info1", "euicc-info2", "device-info" };
		struct buf hex[3] = { { 0 } }, der[3] = { { 0 } }, svn = H(v->svn), pv = H(v->pv);
		struct buf fw = H(v->fw), want = { 0 }, got = { 0 }, asr = { 0 }, dvalue = { 0 };
		struct euicc_info1 i1;
		struct euicc_info2 i2;
		struct device_info di;
		struct euicc_signed1 in;
		struct auth_server_resp r, d;
		int files = 1;
		char rel[128];

		for (int k = 0; k < 3; k++) {
			snprintf(rel, sizeof(rel), "test-vectors/devices/%s/%s.hex", v->dir, names[k]);
			files &= hex_file(root, rel, &hex[k]) == 0;
			snprintf(rel, sizeof(rel), "test-vectors/devices/%s/%s.der", v->dir, names[k]);
			files &= read_rel(root, rel, 64 * 1024, &der[k]) == 0 && eq(&hex[k], &der[k]);
		}
		check(files, "%s: the three .der files are their .hex", v->dir);
		if (!files)
			goto next;
		check(der_decode_euicc_info1(der[0].p, der[0].len, &i1) == RSP_OK &&
		      !memcmp(i1.svn, svn.p, 3) && i1.n_verif == 2 && i1.n_sign == 2 &&
		      eqm(&nist, i1.sign[0].id, i1.sign[0].len) &&
		      eqm(&brp, i1.sign[1].id, i1.sign[1].len) &&
		      eqm(&brp, i1.verif[1].id, i1.verif[1].len),
		      "%s: EUICCInfo1 decodes (svn %s, NIST and brainpool CI ids)", v->dir, v->svn);
		check(der_decode_euicc_info2(der[1].p, der[1].len, &i2) == RSP_OK &&
		      !memcmp(i2.svn, svn.p, 3) && !memcmp(i2.profile_version, pv.p, 3) &&
		      !memcmp(i2.firmware, fw.p, 3) && i2.rsp_capability == v->rsp_caps,
		      "%s: EUICCInfo2 decodes (svn, profileVersion, firmware, rspCapability %02X)",
		      v->dir, v->rsp_caps);
		check(v->ipa_mode < 0 ? !i2.has_ipa_mode : i2.has_ipa_mode && i2.ipa_mode == v->ipa_mode,
		      "%s: ipaMode %s", v->dir, v->ipa_mode < 0 ? "absent" : v->ipa_mode ? "ipae" : "ipad");
		check(v->iot ? i2.has_iot_info && i2.n_iot_versions == 1 &&
			       !memcmp(i2.iot_versions[0], "\x01\x02\x00", 3) && i2.ecall_supported &&
			       i2.fallback_supported : !i2.has_iot_info,
		      "%s: iotSpecificInfo %s", v->dir, v->iot ? "v1.2.0, ecall and fallback" : "absent");
		check(der_decode_device_info(der[2].p, der[2].len, &di) == RSP_OK &&
		      di.tac_len == v->tac_len && !memcmp(di.tac, v->dir[3] == '3' ?
							   "\x35\x17\x42\x09" : "\x35\x29\x06\x11", 4) &&
		      di.has_imei == v->imei && di.n_capabilities == v->n_caps,
		      "%s: DeviceInfo decodes (%zu-byte TAC, imei %s, %d capabilities)", v->dir,
		      v->tac_len, v->imei ? "yes" : "no", v->n_caps);
		robustness(v->dir, d_info2, &der[1]);
		robustness(v->dir, d_devinfo, &der[2]);

		/* euiccSigned1 as the eUICC signs it around these two TLVs */
		memset(&in, 0, sizeof(in));
		memcpy(in.txid, TXID, 16);
		in.txid_len = 16;
		snprintf(in.server_address, sizeof(in.server_address), "%s", ADDR);
		memcpy(in.server_challenge, SCHAL, 16);
		in.ctx.has_matching_id = 1;
		snprintf(in.ctx.matching_id, sizeof(in.ctx.matching_id), "M");
		if (buf_set(&in.euicc_info2, der[1].p, der[1].len) < 0 ||
		    buf_set(&in.ctx.device_info, der[2].p, der[2].len) < 0)
			abort();
		{
			uint32_t tag;
			size_t h, vl;

			der_tlv(der[2].p, der[2].len, &tag, &h, &vl);
			if (buf_set(&dvalue, der[2].p + h, vl) < 0)
				abort();
		}
		want = build_signed1("M", 1, &der[1], &dvalue);
		check(der_encode_euicc_signed1_verbatim(&in, &got) == 0 && eq(&got, &want),
		      "%s: euiccSigned1 (verbatim) is the hand-built bytes", v->dir);
		if (v->known)
			check(der_encode_euicc_signed1(&in, &got) == 0 && eq(&got, &want),
			      "%s: our module re-encodes it identically (no field unknown to it)", v->dir);
		else
			check(der_encode_euicc_signed1(&in, &got) < 0,
			      "%s: re-encoding refuses the unknown fields (the verbatim path keeps them)",
			      v->dir);
		memset(&r, 0, sizeof(r));
		if (buf_set(&r.signed1_raw, want.p, want.len) < 0 ||
		    buf_set(&r.euicc_cert, euicc.p, euicc.len) < 0 || buf_set(&r.eum_cert, eum.p, eum.len) < 0)
			abort();
		memcpy(r.signature1, SIG, 64);
		buf_free(&got);
		got = build_asr(&want, &euicc, &eum, NULL);
		check(der_encode_auth_server_resp(&r, &asr) == 0 && eq(&asr, &got),
		      "%s: AuthenticateServerResponse keeps euiccSigned1 byte for byte", v->dir);
		{
			struct buf a1 = { 0 };

			put_tlv(&a1, 0xA1, dvalue.p, dvalue.len);
			check(der_decode_auth_server_resp(asr.p, asr.len, &d) == RSP_OK &&
			      eq(&d.signed1_raw, &want) && eq(&d.signed1.euicc_info2, &der[1]) &&
			      eq(&d.signed1.ctx.device_info, &a1) &&
			      !memcmp(d.signed1.euicc_info2_svn, svn.p, 3) &&
			      d.signed1.ctx.tac_len == v->tac_len,
			      "%s: the SM-DP+ decodes it, raw slices exact (signature input)", v->dir);
			buf_free(&a1);
		}
		auth_server_resp_free(&d);
		auth_server_resp_free(&r);
		buf_free(&in.euicc_info2);
		buf_free(&in.ctx.device_info);
next:
		for (int k = 0; k < 3; k++) {
			buf_free(&hex[k]);
			buf_free(&der[k]);
		}
		buf_free(&svn);
		buf_free(&pv);
		buf_free(&fw);
		buf_free(&want);
		buf_free(&got);
		buf_free(&asr);
		buf_free(&dvalue);
	}
	{
		/* one-line summaries for the session log */
		static const struct { const char *dir, *want; } sums[] = {
			{ "sgp22-v2.1", "eUICC SGP.22 v2.1.0; device TAC 35290611" },
			{ "sgp22-v2.5", "eUICC SGP.22 v2.5.0; device TAC 35290611" },
			{ "sgp32-v1.2", "eUICC SGP.22 v2.5.0, SGP.32 IPAe (IoT v1.2.0, eCall, fallback); "
					"device TAC 35174209" },
			{ "newer-extensions", "eUICC SGP.22 v2.5.0, SGP.32 IPAd (IoT v1.2.0, eCall, "
					      "fallback); device TAC 35290611" },
		};
		char line[160], rel[128];

		for (size_t k = 0; k < sizeof(sums) / sizeof(sums[0]); k++) {
			struct buf i2 = { 0 }, dv = { 0 };

			snprintf(rel, sizeof(rel), "test-vectors/devices/%s/euicc-info2.der", sums[k].dir);
			if (read_rel(root, rel, 4096, &i2) < 0)
				abort();
			snprintf(rel, sizeof(rel), "test-vectors/devices/%s/device-info.der", sums[k].dir);
			if (read_rel(root, rel, 4096, &dv) < 0)
				abort();
			dv.p[0] = 0xA1;   /* as kept from ctxParams1 */
			der_device_summary(i2.p, i2.len, dv.p, dv.len, line, sizeof(line));
			check(!strcmp(line, sums[k].want), "%s summary: %s", sums[k].dir, line);
			buf_free(&i2);
			buf_free(&dv);
		}
		der_device_summary(NULL, 0, (const uint8_t *)"\x30\x00", 2, line, 20);
		check(!strcmp(line, "eUICC ?; DeviceInfo"), "summary truncated to the buffer: '%s'", line);
	}
	{
		/* what the newer device adds, field by field */
		struct buf i2 = { 0 }, dv = { 0 };
		struct euicc_info2 e;
		struct device_info di;

		if (hex_file(root, "test-vectors/devices/newer-extensions/euicc-info2.hex", &i2) == 0 &&
		    hex_file(root, "test-vectors/devices/newer-extensions/device-info.hex", &dv) == 0) {
			check(der_decode_euicc_info2(i2.p, i2.len, &e) == RSP_OK && e.n_ci_sign_v3 == 1 &&
			      e.has_additional_info && e.additional_info_len == 2 &&
			      e.additional_info[1] == 1 && e.has_highest_svn &&
			      !memcmp(e.highest_svn, "\x03\x01\x00", 3),
			      "newer-extensions: euiccCiPKIdListForSigningV3, additionalEuiccInfo, highestSvn");
			check(der_decode_device_info(dv.p, dv.len, &di) == RSP_OK && di.has_lpa_svn &&
			      !memcmp(di.lpa_svn, "\x03\x01\x00", 3) && di.has_form_factor &&
			      di.form_factor == 1, "newer-extensions: lpaSvn 3.1.0, euiccFormFactorType 1");
			/* the ctxParams1 form 'A1' decodes the same */
			dv.p[0] = 0xA1;
			check(der_decode_device_info(dv.p, dv.len, &di) == RSP_OK && di.tac_len == 4,
			      "DeviceInfo with its ctxParams1 tag A1 decodes");
			dv.p[0] = 0xA2;
			check(der_decode_device_info(dv.p, dv.len, &di) == RSP_ERR_INVALID_REQUEST,
			      "DeviceInfo with another tag: INVALID_REQUEST");
		} else {
			check(0, "read test-vectors/devices/newer-extensions");
		}
		buf_free(&i2);
		buf_free(&dv);
		i2 = H("BF2206 8103020300 82");
		check(der_decode_euicc_info2(i2.p, i2.len, &e) == RSP_ERR_INVALID_REQUEST,
		      "truncated EUICCInfo2: INVALID_REQUEST");
		buf_free(&i2);
		i2 = H("BF220A 8103020300 8203020500");
		check(der_decode_euicc_info2(i2.p, i2.len, &e) == RSP_ERR_MISSING_ELEMENT,
		      "EUICCInfo2 with only two fields: MISSING_ELEMENT");
		buf_free(&i2);
		/* more iotVersion entries than SMDP_MAX_VERSIONS */
		{
			struct buf l = { 0 }, iot = { 0 }, whole = { 0 };

			if (hex_file(root, "test-vectors/devices/sgp22-v2.5/euicc-info2.hex", &whole) < 0)
				abort();
			for (int k = 0; k <= SMDP_MAX_VERSIONS; k++)
				put_tlv(&l, 0x04, "\x01\x02\x00", 3);
			put_tlv(&iot, 0xA0, l.p, l.len);
			wrap(&iot, 0xB4);
			{
				uint32_t tag;
				size_t h, vl;
				struct buf v2 = { 0 };

				der_tlv(whole.p, whole.len, &tag, &h, &vl);
				if (buf_set(&v2, whole.p + h, vl) < 0)
					abort();
				cat(&v2, &iot);
				wrap(&v2, 0xBF22);
				check(der_decode_euicc_info2(v2.p, v2.len, &e) == RSP_ERR_INVALID_REQUEST,
				      "EUICCInfo2 with %d iotVersion entries: INVALID_REQUEST",
				      SMDP_MAX_VERSIONS + 1);
				buf_free(&v2);
			}
			buf_free(&l);
			buf_free(&iot);
			buf_free(&whole);
		}
	}
out:
	buf_free(&euicc);
	buf_free(&eum);
	buf_free(&nist);
	buf_free(&brp);
}

/* ------------------------------------------------------------------ */
/* ES9+ ASN.1 binding: RemoteProfileProvisioningRequest / Response built by
 * hand from RSPDefinitions v2.5 ("Definition for ES9+ ASN.1 Binding"). */

static enum rsp_status d_rpp_req(const uint8_t *d, size_t n)
{
	struct es9_asn1_req o;
	enum rsp_status st = der_decode_es9_request(d, n, &o);
	es9_asn1_req_free(&o);
	return st;
}
static enum rsp_status d_rpp_resp(const uint8_t *d, size_t n)
{
	struct es9_asn1_resp o;
	enum rsp_status st = der_decode_es9_response(d, n, &o);
	es9_asn1_resp_free(&o);
	return st;
}

/* A2 { tag { body } } */
static struct buf rpp(uint32_t tag, const struct buf *body)
{
	struct buf b = { 0 };

	cat(&b, body);
	wrap(&b, tag);
	wrap(&b, 0xA2);
	return b;
}

static void test_es9_requests(void)
{
	struct buf info1 = H("BF2035 8203020500 A9160414" CI_SKI_HEX " AA160414" CI_SKI_HEX);
	struct buf asr = H("BF3817 A115 8010" TXID_HEX " 020102");   /* error form */
	struct buf pdr = H("BF2117 A115 8010" TXID_HEX " 020105");
	struct buf csr = H("BF4103 810105");                          /* error form */
	struct buf pir = { 0 }, body = { 0 }, w = { 0 }, got = { 0 };
	struct pending_notification pn;
	struct es9_asn1_req q, in;
	enum rsp_status st;

	/* initiateAuthentication: BF39 { 81 euiccChallenge, 83 smdpAddress, BF20 } */
	body = H("8110" ECHAL_HEX " 8319" ADDR_HEX);
	cat(&body, &info1);
	w = rpp(0xBF39, &body);
	st = der_decode_es9_request(w.p, w.len, &q);
	check(st == RSP_OK && q.fn == ES9_INITIATE_AUTH && !memcmp(q.euicc_challenge, ECHAL, 16) &&
	      !strcmp(q.smdp_address, ADDR) && eq(&q.obj, &info1),
	      "InitiateAuthenticationRequest A2/BF39 decodes (challenge, address, exact EUICCInfo1)");
	memset(&in, 0, sizeof(in));
	in.fn = ES9_INITIATE_AUTH;
	memcpy(in.euicc_challenge, ECHAL, 16);
	snprintf(in.smdp_address, sizeof(in.smdp_address), "%s", ADDR);
	if (buf_set(&in.obj, info1.p, info1.len) < 0)
		abort();
	check(der_encode_es9_request(&in, &got) == 0 && eq(&got, &w),
	      "InitiateAuthenticationRequest encodes to the hand-built bytes");
	robustness("RemoteProfileProvisioningRequest (initiateAuthentication)", d_rpp_req, &w);
	es9_asn1_req_free(&q);
	buf_free(&w);
	/* an eIM forwarding ESipa's eimTransactionId [2] after euiccInfo1:
	 * an extension field for ES9+, skipped */
	{
		struct buf b2 = { 0 }, x = H("8203 010203");

		cat(&b2, &body);
		cat(&b2, &x);
		w = rpp(0xBF39, &b2);
		check(der_decode_es9_request(w.p, w.len, &q) == RSP_OK && eq(&q.obj, &info1),
		      "InitiateAuthenticationRequest with a trailing [2] field decodes");
		if (buf_set(&in.ext, x.p, x.len) < 0)
			abort();
		check(der_encode_es9_request(&in, &got) == 0 && eq(&got, &w),
		      "in.ext appends the extension bytes inside BF39");
		buf_free(&in.ext);
		es9_asn1_req_free(&q);
		buf_free(&w);
		buf_free(&b2);
		buf_free(&x);
	}
	/* ESipa leaves smdpAddress and euiccInfo1 optional; ES9+ does not */
	buf_free(&body);
	body = H("8110" ECHAL_HEX);
	cat(&body, &info1);
	w = rpp(0xBF39, &body);
	st = der_decode_es9_request(w.p, w.len, &q);
	check(st == RSP_ERR_MISSING_ELEMENT && q.fn == ES9_INITIATE_AUTH,
	      "InitiateAuthenticationRequest without smdpAddress: MISSING_ELEMENT, function known");
	in.smdp_address[0] = '\0';
	check(der_encode_es9_request(&in, &got) == 0 && eq(&got, &w),
	      "an empty smdp_address leaves the field out (negative tests)");
	es9_asn1_req_free(&q);
	buf_free(&w);
	buf_free(&body);
	body = H("8110" ECHAL_HEX " 8319" ADDR_HEX);
	w = rpp(0xBF39, &body);
	check(der_decode_es9_request(w.p, w.len, &q) == RSP_ERR_MISSING_ELEMENT,
	      "InitiateAuthenticationRequest without euiccInfo1: MISSING_ELEMENT");
	es9_asn1_req_free(&q);
	es9_asn1_req_free(&in);
	buf_free(&w);
	buf_free(&body);

	/* authenticateClient: BF3B { 80 transactionId, BF38 } */
	body = H("8010" TXID_HEX);
	cat(&body, &asr);
	w = rpp(0xBF3B, &body);
	check(der_decode_es9_request(w.p, w.len, &q) == RSP_OK && q.fn == ES9_AUTH_CLIENT &&
	      q.txid_len == 16 && !memcmp(q.txid, TXID, 16) && eq(&q.obj, &asr),
	      "AuthenticateClientRequest A2/BF3B decodes (transactionId, exact BF38)");
	memset(&in, 0, sizeof(in));
	in.fn = ES9_AUTH_CLIENT;
	memcpy(in.txid, TXID, 16);
	in.txid_len = 16;
	if (buf_set(&in.obj, asr.p, asr.len) < 0)
		abort();
	check(der_encode_es9_request(&in, &got) == 0 && eq(&got, &w),
	      "AuthenticateClientRequest encodes to the hand-built bytes");
	robustness("RemoteProfileProvisioningRequest (authenticateClient)", d_rpp_req, &w);
	es9_asn1_req_free(&q);
	buf_free(&w);
	buf_free(&body);
	/* a BF21 where the BF38 belongs must be refused by the encoder */
	buf_free(&in.obj);
	if (buf_set(&in.obj, pdr.p, pdr.len) < 0)
		abort();
	check(der_encode_es9_request(&in, &got) < 0, "encoder refuses a BF21 for authenticateClient");
	es9_asn1_req_free(&in);

	/* getBoundProfilePackage: BF3A { 80 transactionId, BF21 } */
	body = H("8010" TXID_HEX);
	cat(&body, &pdr);
	w = rpp(0xBF3A, &body);
	check(der_decode_es9_request(w.p, w.len, &q) == RSP_OK && q.fn == ES9_GET_BPP &&
	      q.txid_len == 16 && eq(&q.obj, &pdr),
	      "GetBoundProfilePackageRequest A2/BF3A decodes (exact BF21)");
	robustness("RemoteProfileProvisioningRequest (getBoundProfilePackage)", d_rpp_req, &w);
	es9_asn1_req_free(&q);
	buf_free(&w);
	buf_free(&body);

	/* cancelSession: BF41 { 80 transactionId, A1 <CancelSessionResponse's
	 * content> } (automatic tag [1] replaces BF41) */
	body = H("8010" TXID_HEX " A103 810105");
	w = rpp(0xBF41, &body);
	check(der_decode_es9_request(w.p, w.len, &q) == RSP_OK && q.fn == ES9_CANCEL_SESSION &&
	      q.txid_len == 16 && eq(&q.obj, &csr),
	      "CancelSessionRequestEs9 A2/BF41 {80, A1} decodes to the standalone BF41");
	memset(&in, 0, sizeof(in));
	in.fn = ES9_CANCEL_SESSION;
	memcpy(in.txid, TXID, 16);
	in.txid_len = 16;
	if (buf_set(&in.obj, csr.p, csr.len) < 0)
		abort();
	check(der_encode_es9_request(&in, &got) == 0 && eq(&got, &w),
	      "CancelSessionRequestEs9 encodes with the [1] tag");
	robustness("RemoteProfileProvisioningRequest (cancelSession)", d_rpp_req, &w);
	es9_asn1_req_free(&q);
	es9_asn1_req_free(&in);
	buf_free(&w);
	buf_free(&body);
	body = H("8010" TXID_HEX);
	cat(&body, &csr);
	w = rpp(0xBF41, &body);
	check(der_decode_es9_request(w.p, w.len, &q) == RSP_OK && eq(&q.obj, &csr),
	      "lenient: a CancelSessionResponse left as BF41 inside is accepted");
	es9_asn1_req_free(&q);
	buf_free(&w);
	buf_free(&body);

	/* handleNotification: BF3D { A0 { BF37 } } */
	memset(&pn, 0, sizeof(pn));
	memcpy(pn.txid, TXID, 16);
	pn.txid_len = 16;
	pn.meta.seq_number = 1;
	snprintf(pn.meta.address, sizeof(pn.meta.address), "%s", ADDR);
	snprintf(pn.smdp_oid, sizeof(pn.smdp_oid), "%s", DP_OID);
	pn.bpp_command_id = 1;
	pn.error_reason = 1;
	if (der_encode_pir_data(&pn, &pn.pir_data_raw) < 0 || der_encode_pir(&pn, &pir) < 0)
		abort();
	cat(&body, &pir);
	wrap(&body, 0xA0);
	w = rpp(0xBF3D, &body);
	check(der_decode_es9_request(w.p, w.len, &q) == RSP_OK && q.fn == ES9_HANDLE_NOTIF &&
	      eq(&q.obj, &pir), "HandleNotification A2/BF3D/A0 decodes to the exact BF37");
	memset(&in, 0, sizeof(in));
	in.fn = ES9_HANDLE_NOTIF;
	if (buf_set(&in.obj, pir.p, pir.len) < 0)
		abort();
	check(der_encode_es9_request(&in, &got) == 0 && eq(&got, &w),
	      "HandleNotification encodes with the explicit [0]");
	robustness("RemoteProfileProvisioningRequest (handleNotification)", d_rpp_req, &w);
	es9_asn1_req_free(&q);
	es9_asn1_req_free(&in);
	buf_free(&w);
	w = rpp(0xBF3D, &pir);
	check(der_decode_es9_request(w.p, w.len, &q) == RSP_OK && eq(&q.obj, &pir),
	      "lenient: a PendingNotification without [0] is accepted");
	es9_asn1_req_free(&q);
	buf_free(&w);
	buf_free(&body);

	/* not a request */
	w = H("A203 BF4000");
	check(der_decode_es9_request(w.p, w.len, &q) == RSP_ERR_INVALID_REQUEST &&
	      q.fn == ES9_FN_COUNT, "an ES11 / unknown alternative: INVALID_REQUEST, no function");
	buf_free(&w);
	w = H("BF3903 810100");
	check(der_decode_es9_request(w.p, w.len, &q) == RSP_ERR_INVALID_REQUEST &&
	      q.fn == ES9_FN_COUNT, "without the A2 wrapper: INVALID_REQUEST, no function");
	buf_free(&w);
	w = H("A20A BF3903810102 BF3900");
	check(der_decode_es9_request(w.p, w.len, &q) == RSP_ERR_INVALID_REQUEST,
	      "two alternatives in one A2: INVALID_REQUEST");
	buf_free(&w);
	pending_notification_free(&pn);
	buf_free(&pir);
	buf_free(&got);
	buf_free(&info1);
	buf_free(&asr);
	buf_free(&pdr);
	buf_free(&csr);
}

static void test_es9_responses(const char *root)
{
	struct buf dpauth = { 0 }, dppb = { 0 }, ss1 = { 0 }, sig = { 0 }, ski = { 0 }, w = { 0 };
	struct buf meta = H("BF2517 5A0A" ICCID_HEX " 910353504E 92044E616D65");
	struct buf sds2 = H("3015 8010" TXID_HEX " 010100");
	struct buf bpp = { 0 }, got = { 0 };
	struct es9_asn1_resp in, d;
	static const struct { enum es9_fn fn; long err; const char *hex; } errs[] = {
		{ ES9_INITIATE_AUTH, 2, "A206 BF3903 810102" },
		{ ES9_INITIATE_AUTH, 127, "A206 BF3903 81017F" },
		{ ES9_AUTH_CLIENT, 6, "A206 BF3B03 810106" },
		{ ES9_GET_BPP, 95, "A206 BF3A03 81015F" },
		{ ES9_CANCEL_SESSION, 2, "A206 BF4103 810102" },
	};

	if (read_rel(root, "certs/sgp26-nist/dpauth.der", SMDP_MAX_CERT, &dpauth) < 0 ||
	    read_rel(root, "certs/sgp26-nist/dppb.der", SMDP_MAX_CERT, &dppb) < 0) {
		check(0, "read the SGP.26 DPauth/DPpb certificates (run from the repo root)");
		goto out;
	}
	put_tlv(&ss1, 0x80, TXID, 16);
	put_tlv(&ss1, 0x81, ECHAL, 16);
	put_tlv(&ss1, 0x83, ADDR, strlen(ADDR));
	put_tlv(&ss1, 0x84, SCHAL, 16);
	wrap(&ss1, 0x30);
	put_tlv(&sig, 0x5F37, SIG, 64);
	ski = H("0414" CI_SKI_HEX);

	/* initiateAuthentication Ok: A2 { BF39 { A0 { 80, 30, 5F37, 04, cert } } } */
	memset(&in, 0, sizeof(in));
	in.fn = ES9_INITIATE_AUTH;
	in.error = -1;
	memcpy(in.txid, TXID, 16);
	in.txid_len = 16;
	in.server_signed1 = ss1;
	in.server_signature1 = sig;
	in.ci_pkid = ski;
	in.server_cert = dpauth;
	put_tlv(&w, 0x80, TXID, 16);
	cat(&w, &ss1);
	cat(&w, &sig);
	cat(&w, &ski);
	cat(&w, &dpauth);
	wrap(&w, 0xA0);
	wrap(&w, 0xBF39);
	wrap(&w, 0xA2);
	check(der_encode_es9_response(&in, &got) == 0 && eq(&got, &w),
	      "InitiateAuthenticationResponse Ok encodes to the hand-built bytes");
	check(der_decode_es9_response(w.p, w.len, &d) == RSP_OK && d.fn == ES9_INITIATE_AUTH &&
	      d.error < 0 && d.txid_len == 16 && eq(&d.server_signed1, &ss1) &&
	      eq(&d.server_signature1, &sig) && eq(&d.ci_pkid, &ski) && eq(&d.server_cert, &dpauth),
	      "InitiateAuthenticationResponse Ok decodes into its exact parts");
	robustness("RemoteProfileProvisioningResponse (initiateAuthentication)", d_rpp_resp, &w);
	es9_asn1_resp_free(&d);
	buf_free(&w);
	in.server_signature1 = ss1;   /* a part of the wrong type */
	check(der_encode_es9_response(&in, &got) < 0, "encoder refuses a 30 as serverSignature1");

	/* authenticateClient Ok: A2 { BF3B { A0 { 80, BF25, 30, 5F37, cert } } } */
	memset(&in, 0, sizeof(in));
	in.fn = ES9_AUTH_CLIENT;
	in.error = -1;
	memcpy(in.txid, TXID, 16);
	in.txid_len = 16;
	in.profile_metadata = meta;
	in.smdp_signed2 = sds2;
	in.smdp_signature2 = sig;
	in.smdp_cert = dppb;
	put_tlv(&w, 0x80, TXID, 16);
	cat(&w, &meta);
	cat(&w, &sds2);
	cat(&w, &sig);
	cat(&w, &dppb);
	wrap(&w, 0xA0);
	wrap(&w, 0xBF3B);
	wrap(&w, 0xA2);
	check(der_encode_es9_response(&in, &got) == 0 && eq(&got, &w),
	      "AuthenticateClientResponseEs9 Ok encodes to the hand-built bytes");
	check(der_decode_es9_response(w.p, w.len, &d) == RSP_OK && d.fn == ES9_AUTH_CLIENT &&
	      d.error < 0 && eq(&d.profile_metadata, &meta) && eq(&d.smdp_signed2, &sds2) &&
	      eq(&d.smdp_signature2, &sig) && eq(&d.smdp_cert, &dppb),
	      "AuthenticateClientResponseEs9 Ok decodes into its exact parts");
	robustness("RemoteProfileProvisioningResponse (authenticateClient)", d_rpp_resp, &w);
	es9_asn1_resp_free(&d);
	buf_free(&w);

	/* getBoundProfilePackage Ok with a small hand-made BF36 */
	{
		struct buf bf23 = { 0 }, crt = H("800188 810110 8403010203");

		put_tlv(&bf23, 0x82, "\x01", 1);
		put_tlv(&bf23, 0x80, TXID, 16);
		put_tlv(&bf23, 0xA6, crt.p, crt.len);
		put_tlv(&bf23, 0x5F49, OTPK, 65);
		put_tlv(&bf23, 0x5F37, SIG, 64);
		wrap(&bf23, 0xBF23);
		cat(&bpp, &bf23);
		put_tlv(&bpp, 0xA0, "\x87\x03\xAA\xBB\xCC", 5);
		put_tlv(&bpp, 0xA1, "\x88\x02\x11\x22", 4);
		put_tlv(&bpp, 0xA3, "\x86\x02\x33\x44", 4);
		wrap(&bpp, 0xBF36);
		buf_free(&bf23);
		buf_free(&crt);
	}
	memset(&in, 0, sizeof(in));
	in.fn = ES9_GET_BPP;
	in.error = -1;
	memcpy(in.txid, TXID, 16);
	in.txid_len = 16;
	in.bpp = bpp;
	put_tlv(&w, 0x80, TXID, 16);
	cat(&w, &bpp);
	wrap(&w, 0xA0);
	wrap(&w, 0xBF3A);
	wrap(&w, 0xA2);
	check(der_encode_es9_response(&in, &got) == 0 && eq(&got, &w),
	      "GetBoundProfilePackageResponse Ok encodes to the hand-built bytes");
	check(der_decode_es9_response(w.p, w.len, &d) == RSP_OK && d.fn == ES9_GET_BPP &&
	      eq(&d.bpp, &bpp), "GetBoundProfilePackageResponse Ok decodes to the exact BF36");
	es9_asn1_resp_free(&d);
	buf_free(&w);

	/* cancelSession Ok: the empty SEQUENCE as [0] */
	memset(&in, 0, sizeof(in));
	in.fn = ES9_CANCEL_SESSION;
	in.error = -1;
	w = H("A205 BF4102 A000");
	check(der_encode_es9_response(&in, &got) == 0 && eq(&got, &w),
	      "CancelSessionResponseEs9 Ok: A2 05 BF41 02 A0 00");
	check(der_decode_es9_response(w.p, w.len, &d) == RSP_OK && d.fn == ES9_CANCEL_SESSION &&
	      d.error < 0, "CancelSessionResponseEs9 Ok decodes");
	es9_asn1_resp_free(&d);
	buf_free(&w);
	in.fn = ES9_HANDLE_NOTIF;
	check(der_encode_es9_response(&in, &got) < 0,
	      "no response alternative for handleNotification (it answers 204)");

	/* the error INTEGERs, [1] in each response CHOICE */
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		memset(&in, 0, sizeof(in));
		in.fn = errs[i].fn;
		in.error = errs[i].err;
		w = H(errs[i].hex);
		check(der_encode_es9_response(&in, &got) == 0 && eq(&got, &w) &&
		      der_decode_es9_response(w.p, w.len, &d) == RSP_OK && d.fn == errs[i].fn &&
		      d.error == errs[i].err,
		      "error %ld of function %d: %s, and back", errs[i].err, (int)errs[i].fn,
		      errs[i].hex);
		es9_asn1_resp_free(&d);
		buf_free(&w);
	}
	w = H("A208 BF4005 810106 0000");
	check(der_decode_es9_response(w.p, w.len, &d) == RSP_ERR_INVALID_REQUEST,
	      "an ES11 AuthenticateClientResponse is not an ES9+ answer");
	es9_asn1_resp_free(&d);
	buf_free(&w);
out:
	buf_free(&dpauth);
	buf_free(&dppb);
	buf_free(&ss1);
	buf_free(&sig);
	buf_free(&ski);
	buf_free(&meta);
	buf_free(&sds2);
	buf_free(&bpp);
	buf_free(&got);
}

/* usage: der_test [repo-root]  (default: the current directory) */
/* Base64 as every JSON-binding object travels (SGP.22 6.6, RFC 4648): the
 * RFC's test vectors, the inputs it must refuse, and a round trip of every
 * length up to 300 bytes checked against the openssl command line. */
/* str_copy against snprintf(dst, cap, "%s", src), which it replaces: every
 * cut of a string into every buffer size, and a NULL source. */
static void test_str_copy(void)
{
	const char *src = "89049032123451234512345678901235";
	char a[40], b[40];
	int ok = 1;

	for (size_t cap = 1; cap <= sizeof(a) && ok; cap++) {
		memset(a, 'x', sizeof(a));
		memset(b, 'x', sizeof(b));
		str_copy(a, cap, src);
		snprintf(b, cap, "%s", src);
		ok = !memcmp(a, b, sizeof(a));
	}
	check(ok, "str_copy writes what snprintf %%s writes, buffer sizes 1..40, nothing past them");
	memset(a, 'x', sizeof(a));
	str_copy(a, sizeof(a), NULL);
	str_copy(b, 0, src);   /* no room: nothing written, no crash */
	check(a[0] == '\0' && a[1] == 'x', "str_copy of NULL is the empty string");
}

static void test_base64(void)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					     "Zm9vYmFy" };
	static const char *const bad[] = { "Zg=", "Zg", "Zh==", "Zm9=", "Z===", "Zg=a", "Zm9v\n",
					   "Zm 9", "Zm9v====", "=Zm9", "Zm-v", "Zm_v" };
	struct buf b = { 0 };
	uint8_t data[300];
	int ok = 1;

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		char *e = b64_encode((const uint8_t *)plain[i], strlen(plain[i]));
		check(e && !strcmp(e, coded[i]) &&
		      b64_decode(coded[i], strlen(coded[i]), &b) == 0 && b.len == strlen(plain[i]) &&
		      !memcmp(b.p ? b.p : (uint8_t *)"", plain[i], b.len),
		      "base64 RFC 4648 vector \"%s\" <-> \"%s\"", plain[i], coded[i]);
		free(e);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check(b64_decode(bad[i], strlen(bad[i]), &b) < 0,
		      "base64 refuses \"%s\" (padding, length, alphabet, trailing bits)", bad[i]);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(data) && ok; n++) {
		char *e = b64_encode(data, n);
		ok = e && b64_decode(e, strlen(e), &b) == 0 && b.len == n && !memcmp(b.p, data, n);
		free(e);
	}
	check(ok, "base64 round trip of every length 0..300");
	for (size_t n = 0; n <= sizeof(data) && ok; n++) {
		char *e = b64_encode(data, n), *q = b64_encode_quoted(data, n);
		size_t el = e ? strlen(e) : 0;
		ok = e && q && strlen(q) == el + 2 && q[0] == '"' && q[el + 1] == '"' &&
		     !memcmp(q + 1, e, el);
		free(e);
		free(q);
	}
	check(ok, "quoted base64 is the same text between two double quotes, every length 0..300");
	{
		/* the same 300 bytes through openssl base64 -A */
		char *e = b64_encode(data, sizeof(data)), line[1024] = "", path[] =
			"/tmp/der_test_b64.XXXXXX", cmd[128];
		int fd = mkstemp(path);
		FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
		FILE *p = NULL;

		if (f) {
			fwrite(data, 1, sizeof(data), f);
			fclose(f);
			snprintf(cmd, sizeof(cmd), "openssl base64 -A -in %s", path);
			p = popen(cmd, "r");
		}
		if (p) {
			if (!fgets(line, sizeof(line), p))
				line[0] = '\0';
			pclose(p);
		}
		line[strcspn(line, "\n")] = '\0';
		check(e && !strcmp(e, line), "base64 of 300 bytes equals openssl base64 -A");
		if (fd >= 0)
			remove(path);
		free(e);
	}
	buf_free(&b);
}

int main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : ".";
	struct buf json = { 0 }, info2 = { 0 };
	cJSON *vec = NULL;

	log_set_level(LOG_ERROR);
	init_consts();
	if (read_rel(root, "test-vectors/bsp.json", 4 * 1024 * 1024, &json) < 0 ||
	    buf_append(&json, "", 1) < 0 || !(vec = cJSON_Parse((const char *)json.p))) {
		check(0, "read and parse test-vectors/bsp.json (run from the repo root)");
	}
	test_der_tlv();
	test_base64();
	test_str_copy();
	test_server_signed1();
	test_smdp_signed2();
	test_euicc_info(&info2);
	test_auth_server_resp(&info2, root);
	test_prepare_download();
	test_pir();
	test_other_notification(root);
	test_cancel();
	if (vec) {
		test_small_es8(vec);
		test_bpp(vec);
	}
	test_bf23();
	test_handle_notification_binding();
	test_iot_metadata();
	test_devices(root);
	test_es9_requests();
	test_es9_responses(root);

	cJSON_Delete(vec);
	buf_free(&json);
	buf_free(&info2);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
