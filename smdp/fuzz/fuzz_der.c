/*
 * fuzz_der.c - libFuzzer target for one der_decode_* function of der.c,
 * chosen at build time with -DFUZZ_DER=<name> (fuzz.mk builds one binary per
 * decoder). Besides memory safety (ASan/UBSan) each decoder must keep its
 * contract (der.c header comment): on success the struct holds values
 * within the named limits and NUL-terminated strings, and where an encoder
 * exists, what was decoded encodes and decodes again; on failure nothing
 * stays allocated (LeakSanitizer) and the status is one of the two
 * documented ones.
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_DER
#error "build with -DFUZZ_DER=<decoder name> (see smdp/fuzz/fuzz.mk)"
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

/* A broken contract is a finding: abort so libFuzzer keeps the input. */
#define REQUIRE(c) do { if (!(c)) { \
	fprintf(stderr, "fuzz_der %s: contract broken: %s (line %d)\n", STR(FUZZ_DER), #c, \
		__LINE__); abort(); } } while (0)

static int status_ok(enum rsp_status st)
{
	return st == RSP_OK || st == RSP_ERR_INVALID_REQUEST || st == RSP_ERR_MISSING_ELEMENT;
}

static int terminated(const char *s, size_t sz)
{
	return memchr(s, '\0', sz) != NULL;
}

static void run_euicc_info1(const uint8_t *p, size_t n)
{
	struct euicc_info1 v, w;
	struct buf re = { 0 };
	enum rsp_status st = der_decode_euicc_info1(p, n, &v);

	REQUIRE(status_ok(st));
	if (st != RSP_OK)
		return;
	REQUIRE(v.n_verif <= SMDP_MAX_CI_IDS && v.n_sign <= SMDP_MAX_CI_IDS);
	for (size_t i = 0; i < v.n_verif; i++)
		REQUIRE(v.verif[i].len <= sizeof(v.verif[i].id));
	for (size_t i = 0; i < v.n_sign; i++)
		REQUIRE(v.sign[i].len <= sizeof(v.sign[i].id));
	if (der_encode_euicc_info1(&v, &re) == 0) {
		REQUIRE(der_decode_euicc_info1(re.p, re.len, &w) == RSP_OK);
		REQUIRE(w.n_verif == v.n_verif && w.n_sign == v.n_sign &&
			!memcmp(w.svn, v.svn, 3));
	}
	buf_free(&re);
}

static void run_auth_server_resp(const uint8_t *p, size_t n)
{
	struct auth_server_resp v, w;
	struct buf re = { 0 };
	enum rsp_status st = der_decode_auth_server_resp(p, n, &v);

	REQUIRE(status_ok(st));
	if (st != RSP_OK)
		return;
	if (v.is_error) {
		REQUIRE(v.error_txid_len <= sizeof(v.error_txid));
	} else {
		const struct euicc_signed1 *s = &v.signed1;
		REQUIRE(s->txid_len <= sizeof(s->txid));
		REQUIRE(terminated(s->server_address, sizeof(s->server_address)));
		REQUIRE(terminated(s->ctx.matching_id, sizeof(s->ctx.matching_id)));
		REQUIRE(s->ctx.tac_len <= sizeof(s->ctx.tac));
		/* raw slices are what the signature covers: inside the input */
		REQUIRE(v.signed1_raw.len > 0 && v.signed1_raw.len <= n);
		REQUIRE(v.euicc_cert.len > 0 && v.eum_cert.len > 0);
	}
	if (der_encode_auth_server_resp(&v, &re) == 0) {
		REQUIRE(der_decode_auth_server_resp(re.p, re.len, &w) == RSP_OK);
		REQUIRE(w.is_error == v.is_error);
		auth_server_resp_free(&w);
	}
	buf_free(&re);
	auth_server_resp_free(&v);
}

static void run_prepare_download_resp(const uint8_t *p, size_t n)
{
	struct prepare_download_resp v, w;
	struct buf re = { 0 };
	enum rsp_status st = der_decode_prepare_download_resp(p, n, &v);

	REQUIRE(status_ok(st));
	if (st != RSP_OK)
		return;
	REQUIRE(v.txid_len <= sizeof(v.txid));
	REQUIRE(v.euicc_otpk_len <= sizeof(v.euicc_otpk));
	if (!v.is_error)
		REQUIRE(v.signed2_raw.len > 0 && v.signed2_raw.len <= n);
	if (der_encode_prepare_download_resp(&v, &re) == 0) {
		REQUIRE(der_decode_prepare_download_resp(re.p, re.len, &w) == RSP_OK);
		REQUIRE(w.is_error == v.is_error);
		prepare_download_resp_free(&w);
	}
	buf_free(&re);
	prepare_download_resp_free(&v);
}

static void run_pending_notification(const uint8_t *p, size_t n)
{
	struct pending_notification v, w;
	struct buf re = { 0 };
	enum rsp_status st = der_decode_pending_notification(p, n, &v);

	REQUIRE(status_ok(st));
	if (st != RSP_OK)
		return;
	REQUIRE(v.kind == NOTIF_PIR || v.kind == NOTIF_OTHER);
	REQUIRE(terminated(v.meta.address, sizeof(v.meta.address)));
	if (v.kind == NOTIF_PIR) {
		REQUIRE(v.txid_len <= sizeof(v.txid) && v.aid_len <= sizeof(v.aid));
		REQUIRE(terminated(v.smdp_oid, sizeof(v.smdp_oid)));
		REQUIRE(v.pir_data_raw.len > 0 && v.pir_data_raw.len <= n);
		if (der_encode_pir(&v, &re) == 0) {
			REQUIRE(der_decode_pending_notification(re.p, re.len, &w) == RSP_OK);
			REQUIRE(w.kind == NOTIF_PIR && w.success == v.success);
			pending_notification_free(&w);
		}
	} else {
		REQUIRE(v.tbs_raw.len > 0 && v.tbs_raw.len <= n);
	}
	buf_free(&re);
	pending_notification_free(&v);
}

static void run_cancel_session_resp(const uint8_t *p, size_t n)
{
	struct cancel_session_resp v, w;
	struct buf re = { 0 };
	enum rsp_status st = der_decode_cancel_session_resp(p, n, &v);

	REQUIRE(status_ok(st));
	if (st != RSP_OK)
		return;
	REQUIRE(v.txid_len <= sizeof(v.txid));
	REQUIRE(terminated(v.smdp_oid, sizeof(v.smdp_oid)));
	if (!v.is_error)
		REQUIRE(v.signed_raw.len > 0 && v.signed_raw.len <= n);
	if (der_encode_cancel_session_resp(&v, &re) == 0) {
		REQUIRE(der_decode_cancel_session_resp(re.p, re.len, &w) == RSP_OK);
		REQUIRE(w.is_error == v.is_error);
		cancel_session_resp_free(&w);
	}
	buf_free(&re);
	cancel_session_resp_free(&v);
}

static void run_server_signed1(const uint8_t *p, size_t n)
{
	struct server_signed1 v, w;
	struct buf re = { 0 };
	enum rsp_status st = der_decode_server_signed1(p, n, &v);

	REQUIRE(status_ok(st));
	if (st != RSP_OK)
		return;
	REQUIRE(v.txid_len >= 1 && v.txid_len <= sizeof(v.txid));
	REQUIRE(terminated(v.server_address, sizeof(v.server_address)));
	if (der_encode_server_signed1(v.txid, v.txid_len, v.euicc_challenge, v.server_address,
				      v.server_challenge, &re) == 0) {
		REQUIRE(der_decode_server_signed1(re.p, re.len, &w) == RSP_OK);
		REQUIRE(w.txid_len == v.txid_len && !memcmp(w.txid, v.txid, v.txid_len) &&
			!strcmp(w.server_address, v.server_address) &&
			!memcmp(w.server_challenge, v.server_challenge, SMDP_CHAL_LEN) &&
			!memcmp(w.euicc_challenge, v.euicc_challenge, SMDP_CHAL_LEN));
	}
	buf_free(&re);
}

static void run_smdp_signed2(const uint8_t *p, size_t n)
{
	struct smdp_signed2 v, w;
	struct buf re = { 0 };
	enum rsp_status st = der_decode_smdp_signed2(p, n, &v);

	REQUIRE(status_ok(st));
	if (st != RSP_OK)
		return;
	REQUIRE(v.txid_len >= 1 && v.txid_len <= sizeof(v.txid));
	if (der_encode_smdp_signed2(v.txid, v.txid_len, v.cc_required,
				    v.has_otpk ? v.otpk : NULL, v.has_otpk ? SMDP_POINT_LEN : 0,
				    &re) == 0) {
		REQUIRE(der_decode_smdp_signed2(re.p, re.len, &w) == RSP_OK);
		REQUIRE(w.txid_len == v.txid_len && !memcmp(w.txid, v.txid, v.txid_len) &&
			w.cc_required == v.cc_required && w.has_otpk == v.has_otpk);
	}
	buf_free(&re);
}

static void run_store_metadata(const uint8_t *p, size_t n)
{
	struct profile_metadata v, w;
	struct buf re = { 0 };
	enum rsp_status st = der_decode_store_metadata(p, n, &v);

	REQUIRE(status_ok(st));
	if (st != RSP_OK)
		return;
	REQUIRE(terminated(v.spn, sizeof(v.spn)) && terminated(v.name, sizeof(v.name)));
	REQUIRE(v.profile_class >= -1 && v.profile_class <= 2);
	REQUIRE(v.icon_type >= -1 && v.icon_type <= 1);
	if (der_encode_store_metadata(&v, &re) == 0) {
		REQUIRE(der_decode_store_metadata(re.p, re.len, &w) == RSP_OK);
		REQUIRE(!memcmp(w.iccid, v.iccid, 10) && !strcmp(w.spn, v.spn) &&
			!strcmp(w.name, v.name) && w.icon.len == v.icon.len);
		buf_free(&w.icon);
	}
	buf_free(&re);
	buf_free(&v.icon);
}

static void run_bf23(const uint8_t *p, size_t n)
{
	struct bf23 v, w;
	struct buf tbs = { 0 }, whole = { 0 }, tbs2 = { 0 };
	enum rsp_status st = der_decode_bf23(p, n, &v, &tbs);

	REQUIRE(status_ok(st));
	if (st != RSP_OK) {
		REQUIRE(tbs.p == NULL);
		return;
	}
	REQUIRE(v.txid_len >= 1 && v.txid_len <= sizeof(v.txid));
	REQUIRE(v.host_id_len >= 1 && v.host_id_len <= sizeof(v.host_id));
	/* tbs is a slice of the input (what smdpSign covers) */
	REQUIRE(tbs.len > 0 && tbs.len < n);
	if (der_encode_bf23(&v, &whole, &tbs2) == 0) {
		REQUIRE(der_decode_bf23(whole.p, whole.len, &w, NULL) == RSP_OK);
		REQUIRE(w.txid_len == v.txid_len && w.host_id_len == v.host_id_len &&
			!memcmp(w.dp_otpk, v.dp_otpk, SMDP_POINT_LEN));
	}
	buf_free(&tbs);
	buf_free(&tbs2);
	buf_free(&whole);
}

static void run_bpp(const uint8_t *p, size_t n)
{
	struct bpp_parts v, w;
	struct buf re = { 0 };
	enum rsp_status st = der_decode_bpp(p, n, &v);

	REQUIRE(status_ok(st));
	if (st != RSP_OK)
		return;
	REQUIRE(v.bf23.len > 0 && v.bf23.len < n);
	if (der_encode_bpp(&v, &re) == 0) {
		REQUIRE(der_decode_bpp(re.p, re.len, &w) == RSP_OK);
		REQUIRE(w.n87a == v.n87a && w.n88 == v.n88 && w.n87b == v.n87b && w.n86 == v.n86);
		bpp_parts_free(&w);
	}
	buf_free(&re);
	bpp_parts_free(&v);
}

static void run_replace_session_keys(const uint8_t *p, size_t n)
{
	uint8_t k[3][16], k2[3][16];
	struct buf re = { 0 };
	enum rsp_status st = der_decode_replace_session_keys(p, n, k[0], k[1], k[2]);

	REQUIRE(status_ok(st));
	if (st != RSP_OK)
		return;
	if (der_encode_replace_session_keys(k[0], k[1], k[2], &re) == 0) {
		REQUIRE(der_decode_replace_session_keys(re.p, re.len, k2[0], k2[1], k2[2]) == RSP_OK);
		REQUIRE(!memcmp(k, k2, sizeof(k)));
	}
	buf_wipe(&re);
}

/* EUICCInfo2 and DeviceInfo ride inside euiccSigned1 (raw TLVs the server
 * keeps); also through the log summary built from them. */
static void run_euicc_info2(const uint8_t *p, size_t n)
{
	struct euicc_info2 v;
	char line[512];
	enum rsp_status st = der_decode_euicc_info2(p, n, &v);

	REQUIRE(status_ok(st));
	if (st == RSP_OK)
		REQUIRE(v.n_iot_versions <= SMDP_MAX_VERSIONS &&
			v.additional_info_len <= sizeof(v.additional_info));
	memset(line, 0x55, sizeof(line));
	der_device_summary(p, n, NULL, 0, line, sizeof(line));
	REQUIRE(terminated(line, sizeof(line)));
}

static void run_device_info(const uint8_t *p, size_t n)
{
	struct device_info v;
	char line[64];
	enum rsp_status st = der_decode_device_info(p, n, &v);

	REQUIRE(status_ok(st));
	if (st == RSP_OK)
		REQUIRE(v.tac_len == 4 || v.tac_len == 8);
	/* a short buffer: the summary must truncate, not overflow */
	memset(line, 0x55, sizeof(line));
	der_device_summary(NULL, 0, p, n, line, sizeof(line));
	REQUIRE(terminated(line, sizeof(line)));
}

/* RemoteProfileProvisioningRequest (SGP.22 6.7, the ES9+ ASN.1 binding):
 * the server's decoder, checked against the client's encoder. */
static int one_tlv(const struct buf *b)
{
	uint32_t tag;
	size_t hl, vl;

	return b->len && der_tlv(b->p, b->len, &tag, &hl, &vl) == 0 && hl + vl == b->len;
}

static void run_rpp_request(const uint8_t *p, size_t n)
{
	struct es9_asn1_req v, w;
	struct buf re = { 0 };
	enum rsp_status st = der_decode_es9_request(p, n, &v);

	REQUIRE(status_ok(st));
	REQUIRE(v.fn <= ES9_FN_COUNT);
	if (st != RSP_OK) {
		REQUIRE(v.obj.p == NULL && v.obj.len == 0);
		return;
	}
	REQUIRE(v.fn < ES9_FN_COUNT);
	REQUIRE(terminated(v.smdp_address, sizeof(v.smdp_address)));
	if (v.fn == ES9_AUTH_CLIENT || v.fn == ES9_GET_BPP || v.fn == ES9_CANCEL_SESSION)
		REQUIRE(v.txid_len >= 1 && v.txid_len <= sizeof(v.txid));
	else
		REQUIRE(v.txid_len == 0);
	/* the ES10b object: one whole TLV, no bigger than the request (the
	 * cancelSession one is re-tagged BF41 from [1], one byte more) */
	REQUIRE(one_tlv(&v.obj) && v.obj.len <= n);
	/* the client's encoder wraps it again: same function and fields */
	if (v.fn == ES9_INITIATE_AUTH && !v.smdp_address[0]) {
		/* an empty smdpAddress is left out by the encoder (ESipa): the
		 * server then refuses the request as incomplete */
		REQUIRE(der_encode_es9_request(&v, &re) == 0);
		REQUIRE(der_decode_es9_request(re.p, re.len, &w) == RSP_ERR_MISSING_ELEMENT);
	} else {
		REQUIRE(der_encode_es9_request(&v, &re) == 0);
		REQUIRE(der_decode_es9_request(re.p, re.len, &w) == RSP_OK);
		REQUIRE(w.fn == v.fn && w.txid_len == v.txid_len &&
			!memcmp(w.txid, v.txid, v.txid_len) &&
			!memcmp(w.euicc_challenge, v.euicc_challenge, SMDP_CHAL_LEN) &&
			!strcmp(w.smdp_address, v.smdp_address) && w.obj.len == v.obj.len &&
			!memcmp(w.obj.p, v.obj.p, v.obj.len));
	}
	es9_asn1_req_free(&w);
	buf_free(&re);
	es9_asn1_req_free(&v);
}

static const struct der_target {
	const char *name;
	void (*run)(const uint8_t *p, size_t n);
} targets[] = {
	{ "euicc_info1", run_euicc_info1 },
	{ "auth_server_resp", run_auth_server_resp },
	{ "prepare_download_resp", run_prepare_download_resp },
	{ "pending_notification", run_pending_notification },
	{ "cancel_session_resp", run_cancel_session_resp },
	{ "server_signed1", run_server_signed1 },
	{ "smdp_signed2", run_smdp_signed2 },
	{ "store_metadata", run_store_metadata },
	{ "bf23", run_bf23 },
	{ "bpp", run_bpp },
	{ "replace_session_keys", run_replace_session_keys },
	{ "euicc_info2", run_euicc_info2 },
	{ "device_info", run_device_info },
	{ "rpp_request", run_rpp_request },
};

/* The decoder this binary fuzzes, found once by name (libFuzzer gives the
 * callbacks no context argument). */
static const struct der_target *chosen;

/* libFuzzer start-up: pick the decoder named by FUZZ_DER. Always 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		if (!strcmp(targets[i].name, STR(FUZZ_DER)))
			chosen = &targets[i];
	if (!chosen) {
		fprintf(stderr, "fuzz_der: no decoder named %s\n", STR(FUZZ_DER));
		abort();
	}
	return 0;
}

/* One input: the DER bytes as received (libFuzzer passes a heap copy of
 * exactly size bytes, so any over-read is reported). Always 0: findings
 * abort. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	chosen->run(data, size);
	return 0;
}
