/* lab_test.c - unit tests of the lab features (issue 7): fault rule text,
 * matching and answers (checked against the SGP.22 ASN.1 error values and
 * the JSON header rules), the BPP corruptions of bpp.c opened by the
 * software eUICC of smdp-client (client/euicc.c: an independent
 * implementation of the eUICC side), traces (certificates against the
 * SGP.26 values, no secret in the output, the checks' order), metrics
 * (hand-computed exposition), the lab tables (counted with the sqlite3
 * command line) and the QR code PNG (decoded by zbarimg). Run from the
 * repository root. */
#include "lab.h"
#include "client/client.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EID1 "89049032123451234512345678901235"   /* SGP.23 EID1 = CERT.EUICC serialNumber */
#define PROFILE "TS48v2_SAIP2.3_NoBERTLV"

static int pass, fail;

static void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (cond)
		pass++;
	else
		fail++;
}

/* Output of a shell command (first line), "" on failure. */
static void run(const char *cmd, char *out, size_t outsz)
{
	FILE *p = popen(cmd, "r");

	out[0] = '\0';
	if (!p)
		return;
	if (!fgets(out, (int)outsz, p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

/* --- fault rules --- */

static void test_rules(void)
{
	struct fault_rule r, r2;
	char err[256], text[LAB_MAX_SPEC];

	memset(&r, 0, sizeof(r));
	check(fault_parse("function=authenticateClient eid=" EID1 " matchingId=\"A B\" attempt=2 "
			  "action=error subject=8.1.1 reason=3.8 message=\"no way\"", &r, err,
			  sizeof(err)) == 0 && r.fn == ES9_AUTH_CLIENT && !strcmp(r.eid, EID1) &&
	      r.has_matching_id && !strcmp(r.matching_id, "A B") && r.attempt == 2 &&
	      r.action == FA_ERROR && !strcmp(r.subject, "8.1.1") && !strcmp(r.reason, "3.8") &&
	      !strcmp(r.message, "no way"), "a full error rule parses");
	fault_format(&r, text, sizeof(text));
	memset(&r2, 0, sizeof(r2));
	check(fault_parse(text, &r2, err, sizeof(err)) == 0 && r2.fn == r.fn && r2.attempt == 2 &&
	      !strcmp(r2.matching_id, "A B") && !strcmp(r2.message, "no way"),
	      "its canonical text reads back the same (%s)", text);
	check(fault_parse("action=bad-mac segment=3", &r, err, sizeof(err)) == 0 &&
	      r.fn == ES9_GET_BPP && r.segment == 3, "a BPP rule applies to getBoundProfilePackage");
	check(fault_parse("function=initiateAuthentication action=bad-mac", &r, err, sizeof(err)) &&
	      strstr(err, "getBoundProfilePackage"), "a BPP rule on another function is refused");
	check(fault_parse("action=error", &r, err, sizeof(err)) != 0, "error without codes refused");
	check(fault_parse("action=error status=NOT_A_ROW", &r, err, sizeof(err)) != 0,
	      "error with an unknown status refused");
	check(fault_parse("action=error status=eid_mismatch", &r, err, sizeof(err)) == 0 &&
	      !strcmp(r.status, "EID_MISMATCH"), "status names are case-insensitive");
	check(fault_parse("eid=123 action=drop", &r, err, sizeof(err)) != 0, "short EID refused");
	check(fault_parse("action=delay", &r, err, sizeof(err)) != 0, "delay needs ms");
	check(fault_parse("action=delay ms=120001", &r, err, sizeof(err)) != 0,
	      "delay above %d ms refused", LAB_MAX_DELAY_MS);
	check(fault_parse("action=explode", &r, err, sizeof(err)) != 0, "unknown action refused");
	check(fault_parse("function=x action=drop", &r, err, sizeof(err)) != 0,
	      "unknown function refused");
	check(fault_parse("action=drop message=\"open", &r, err, sizeof(err)) != 0,
	      "unterminated quote refused");
	check(fault_parse("action=error subject=8.1 reason=x", &r, err, sizeof(err)) != 0,
	      "reason must be digits and dots");

	/* matching */
	fault_parse("function=getBoundProfilePackage eid=" EID1 " action=drop", &r, err, sizeof(err));
	check(fault_matches(&r, ES9_GET_BPP, EID1, "", 0), "matches its function and EID");
	check(!fault_matches(&r, ES9_AUTH_CLIENT, EID1, "", 0), "not another function");
	check(!fault_matches(&r, ES9_GET_BPP, "89049032123451234512345678901236", "", 0),
	      "not another EID");
	check(!fault_matches(&r, ES9_GET_BPP, NULL, "", 0), "not a call whose EID is unknown");
	fault_parse("matchingId=ABC action=drop", &r, err, sizeof(err));
	check(fault_matches(&r, ES9_INITIATE_AUTH, NULL, "ABC", 1) &&
	      !fault_matches(&r, ES9_INITIATE_AUTH, NULL, "ABD", 1) &&
	      !fault_matches(&r, ES9_INITIATE_AUTH, NULL, "", 0), "matchingId criterion");
	fault_parse("matchingId=\"\" action=drop", &r, err, sizeof(err));
	check(fault_matches(&r, ES9_AUTH_CLIENT, NULL, "", 1) &&
	      !fault_matches(&r, ES9_AUTH_CLIENT, NULL, "", 0),
	      "matchingId=\"\" matches a present empty matchingId only");
	r.enabled = 0;
	check(!fault_matches(&r, ES9_AUTH_CLIENT, NULL, "", 1), "a disabled rule never matches");
}

/* --- the answers a rule makes --- */

static void test_answers(void)
{
	struct fault_rule r;
	struct http_response rs;
	struct es9_asn1_resp ar;
	char err[256];
	cJSON *j;
	const cJSON *scd;

	memset(&r, 0, sizeof(r));
	memset(&rs, 0, sizeof(rs));
	snprintf(r.name, sizeof(r.name), "t1");
	fault_parse("action=error subject=8.2.7 reason=3.8", &r, err, sizeof(err));
	check(fault_answer(&r, ES9_GET_BPP, LAB_JSON, &rs) == 0 && rs.status == 200,
	      "JSON answer built");
	j = cJSON_ParseWithLength((const char *)rs.body.p, rs.body.len);
	scd = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "header"), "functionExecutionStatus"),
		"statusCodeData");
	check(j && !strcmp(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "header"), "functionExecutionStatus"),
		"status")->valuestring, "Failed") &&
	      !strcmp(cJSON_GetObjectItemCaseSensitive(scd, "subjectCode")->valuestring, "8.2.7") &&
	      !strcmp(cJSON_GetObjectItemCaseSensitive(scd, "reasonCode")->valuestring, "3.8") &&
	      cJSON_GetArraySize(j) == 1, "JSON: header alone, Failed, 8.2.7/3.8 (SGP.22 6.5.1.4)");
	check(strstr(cJSON_GetObjectItemCaseSensitive(scd, "message")->valuestring, "lab fault 't1'")
	      != NULL, "the message names the rule");
	cJSON_Delete(j);

	/* ASN.1: confirmationCodeRefused(3) of getBoundProfilePackage for 8.2.7/3.8 */
	check(fault_answer(&r, ES9_GET_BPP, LAB_ASN1, &rs) == 0, "ASN.1 answer built");
	memset(&ar, 0, sizeof(ar));
	{
		int dec = der_decode_es9_response(rs.body.p, rs.body.len, &ar) == RSP_OK;
		check(dec && ar.fn == ES9_GET_BPP && ar.error == 3,
		      "ASN.1: getBoundProfilePackage error confirmationCodeRefused(3) (got %ld)",
		      ar.error);
	}
	es9_asn1_resp_free(&ar);
	/* status row: EID_MISMATCH on authenticateClient = eidMismatch(7) */
	fault_parse("action=error status=EID_MISMATCH", &r, err, sizeof(err));
	memset(&ar, 0, sizeof(ar));
	check(fault_answer(&r, ES9_AUTH_CLIENT, LAB_ASN1, &rs) == 0 &&
	      der_decode_es9_response(rs.body.p, rs.body.len, &ar) == RSP_OK && ar.error == 7,
	      "ASN.1: authenticateClient eidMismatch(7) for status=EID_MISMATCH");
	es9_asn1_resp_free(&ar);
	/* codes no row has: undefinedError(127); an explicit asn1= wins */
	fault_parse("action=error subject=9.9 reason=9.9", &r, err, sizeof(err));
	memset(&ar, 0, sizeof(ar));
	check(fault_answer(&r, ES9_CANCEL_SESSION, LAB_ASN1, &rs) == 0 &&
	      der_decode_es9_response(rs.body.p, rs.body.len, &ar) == RSP_OK && ar.error == 127,
	      "ASN.1: unknown codes answer undefinedError(127)");
	es9_asn1_resp_free(&ar);
	fault_parse("action=error subject=9.9 reason=9.9 asn1=5", &r, err, sizeof(err));
	memset(&ar, 0, sizeof(ar));
	check(fault_answer(&r, ES9_AUTH_CLIENT, LAB_ASN1, &rs) == 0 &&
	      der_decode_es9_response(rs.body.p, rs.body.len, &ar) == RSP_OK && ar.error == 5,
	      "ASN.1: asn1=5 is sent as given");
	es9_asn1_resp_free(&ar);
	buf_free(&rs.body);
}

/* --- BPP corruptions, opened by the software eUICC --- */

struct bpp_env {
	struct pki pki;
	struct profile_set profiles;
	const struct pki_set *set;
	const struct profile *prof;
	struct buf md;
	crypto_key *otsk;               /* otSK.EUICC */
	uint8_t otpk[SMDP_POINT_LEN];
	uint8_t txid[16];
	struct smdp_config cfg;
};

/* Session keys the eUICC derives from BF23 (SGP.22 2.6.6.2). 0 / -1. */
static int euicc_keys(const struct bpp_env *e, const struct buf *bpp, struct scp03t *s,
		      int *sign_ok)
{
	struct bpp_parts p;
	struct bf23 b;
	struct buf tbs = { 0 };
	crypto_key *dp = NULL, *pub = NULL;
	uint8_t z[32], eid[16];
	static const uint8_t otpk_hdr[3] = { 0x5F, 0x49, 0x41 };
	int rc = -1;

	memset(&p, 0, sizeof(p));
	if (der_decode_bpp(bpp->p, bpp->len, &p) != RSP_OK ||
	    der_decode_bf23(p.bf23.p, p.bf23.len, &b, &tbs) != RSP_OK)
		goto out;
	/* smdpSign over the signed TLVs || 5F49 41 otPK.EUICC, with PK.DPpb */
	pub = crypto_cert_pubkey(e->set->dppb);
	if (!pub || buf_append(&tbs, otpk_hdr, 3) || buf_append(&tbs, e->otpk, SMDP_POINT_LEN))
		goto out;
	*sign_ok = crypto_verify(pub, tbs.p, tbs.len, b.signature, SMDP_SIG_LEN) == 1;
	dp = crypto_key_from_point(CURVE_NIST_P256, b.dp_otpk, SMDP_POINT_LEN);
	if (!dp || crypto_ecdh(e->otsk, dp, z) || euicc_eid_to_bin(EID1, eid) ||
	    scp03t_derive(z, e->cfg.host_id, e->cfg.host_id_len, eid, s))
		goto out;
	rc = 0;
out:
	bpp_parts_free(&p);
	buf_free(&tbs);
	crypto_key_free(dp);
	crypto_key_free(pub);
	return rc;
}

/* Build a BPP with fault f (NULL none) and open it as the eUICC would;
 * returns euicc_open_bpp_keys's result, -2 if building failed. */
static int build_open(struct bpp_env *e, struct bpp_fault *f, int ppk, int lax,
		      struct euicc_install *out, int *sign_ok, struct binding *bind_out)
{
	struct bpp_request rq;
	struct buf bpp = { 0 };
	struct binding bind;
	struct scp03t s;
	char msg[512];
	int rc = -2;

	memset(&rq, 0, sizeof(rq));
	memset(&bind, 0, sizeof(bind));
	memset(out, 0, sizeof(*out));
	rq.set = e->set;
	rq.profile = e->prof;
	rq.eid = EID1;
	rq.txid = e->txid;
	rq.txid_len = sizeof(e->txid);
	rq.euicc_otpk = e->otpk;
	rq.host_id = e->cfg.host_id;
	rq.host_id_len = e->cfg.host_id_len;
	rq.metadata = &e->md;
	rq.ppk = ppk;
	rq.fault = f;
	if (bpp_build(&rq, NULL, &bpp, &bind) != RSP_OK || euicc_keys(e, &bpp, &s, sign_ok))
		goto out;
	rc = euicc_open_bpp_keys(bpp.p, bpp.len, &s, NULL, lax, e->md.p, e->md.len, out, msg,
				 sizeof(msg));
	if (bind_out) {
		*bind_out = bind;
		memset(&bind, 0, sizeof(bind));
	}
out:
	buf_free(&bpp);
	binding_free(&bind);
	return rc;
}

static void test_bpp_faults(void)
{
	struct bpp_env e;
	struct euicc_install in;
	struct bpp_fault f;
	struct binding bind;
	char err[256];
	int r, sign_ok = -1;
	size_t total;

	memset(&e, 0, sizeof(e));
	config_defaults(&e.cfg);
	if (pki_load(&e.pki, "certs", err, sizeof(err)) ||
	    saip_load_dir(&e.profiles, "profiles", err, sizeof(err)) ||
	    !(e.set = pki_find(&e.pki, "sgp26-nist")) || !(e.prof = saip_find(&e.profiles, PROFILE)) ||
	    der_encode_store_metadata(&e.prof->meta, &e.md) ||
	    !(e.otsk = crypto_key_generate(CURVE_NIST_P256)) || crypto_key_point(e.otsk, e.otpk) ||
	    crypto_random(e.txid, sizeof(e.txid))) {
		check(0, "BPP test set-up (%s)", err);
		goto out;
	}

	r = build_open(&e, NULL, 0, 0, &in, &sign_ok, NULL);
	check(r == 0 && sign_ok == 1 && in.profile.len == e.prof->upp.len &&
	      !memcmp(in.profile.p, e.prof->upp.p, in.profile.len),
	      "no fault: smdpSign valid, the eUICC recovers the profile (%zu segments)",
	      in.n_segments);
	total = in.n_segments;
	euicc_install_free(&in);

	memset(&f, 0, sizeof(f));
	f.kind = BPP_FAULT_BAD_MAC;
	f.segment = 3;
	memset(&bind, 0, sizeof(bind));
	r = build_open(&e, &f, 0, 0, &in, &sign_ok, &bind);
	check(f.applied && r == 1 && in.error_reason == BPP_ERR_SCP03T_SECURITY &&
	      in.n_segments == 3 && sign_ok == 1,
	      "bad-mac segment=3: the eUICC stops at segment 3 with scp03tSecurityError (%s)",
	      f.detail);
	euicc_install_free(&in);
	{
		/* the binding kept for a retry must be the correct BPP */
		struct bpp_parts p;
		memset(&p, 0, sizeof(p));
		check(bind.segments.len && der_decode_bpp(bind.segments.p, bind.segments.len, &p) ==
		      RSP_OK && p.n86 > 0, "bad-mac: the binding kept for reuse decodes");
		bpp_parts_free(&p);
		binding_free(&bind);
	}

	memset(&f, 0, sizeof(f));
	f.kind = BPP_FAULT_BAD_MAC;
	f.segment = 0;
	r = build_open(&e, &f, 0, 0, &in, &sign_ok, NULL);
	check(f.applied && r == 1 && in.n_segments == total &&
	      in.bpp_command_id == BPP_CMD_LOAD_PROFILE_ELEMENTS,
	      "bad-mac segment=0: the last segment (%zu of %zu) fails", in.n_segments, total);
	euicc_install_free(&in);

	memset(&f, 0, sizeof(f));
	f.kind = BPP_FAULT_BAD_SMDP_SIGN;
	r = build_open(&e, &f, 0, 0, &in, &sign_ok, NULL);
	check(f.applied && sign_ok == 0 && r == 0,
	      "bad-smdpsign: smdpSign fails with PK.DPpb, the segments are intact");
	euicc_install_free(&in);

	memset(&f, 0, sizeof(f));
	f.kind = BPP_FAULT_METADATA;
	r = build_open(&e, &f, 0, 0, &in, &sign_ok, NULL);
	check(f.applied && r == 1 && in.metadata_mismatch &&
	      in.bpp_command_id == BPP_CMD_STORE_METADATA,
	      "metadata-mismatch: MACs valid, the eUICC reports the mismatch (%s)", f.detail);
	euicc_install_free(&in);

	memset(&f, 0, sizeof(f));
	f.kind = BPP_FAULT_OVERSIZED;
	r = build_open(&e, &f, 0, 0, &in, &sign_ok, NULL);
	check(f.applied && r == 1 && in.error_reason == BPP_ERR_SCP03T_STRUCTURE &&
	      in.max_segment > SMDP_SEG_MAX,
	      "oversized-segment: refused by size (%zu > %d bytes)", in.max_segment, SMDP_SEG_MAX);
	euicc_install_free(&in);
	memset(&f, 0, sizeof(f));
	f.kind = BPP_FAULT_OVERSIZED;
	r = build_open(&e, &f, 0, 1, &in, &sign_ok, NULL);
	check(r == 0 && in.max_segment == 1036 && in.profile.len == e.prof->upp.len &&
	      !memcmp(in.profile.p, e.prof->upp.p, in.profile.len),
	      "oversized-segment: a lax eUICC opens it: MACs valid, profile intact");
	euicc_install_free(&in);
	memset(&f, 0, sizeof(f));
	f.kind = BPP_FAULT_OVERSIZED;
	r = build_open(&e, &f, 1, 1, &in, &sign_ok, NULL);
	check(f.applied && r == 0 && in.used_ppk && in.max_segment == 1036 &&
	      in.profile.len == e.prof->upp.len, "oversized-segment in PPK mode: MAC valid under the PPKs");
	euicc_install_free(&in);
out:
	crypto_key_free(e.otsk);
	buf_free(&e.md);
	saip_free(&e.profiles);
	pki_free(&e.pki);
}

/* --- traces --- */

static void test_trace(void)
{
	struct buf der = { 0 }, pdr = { 0 };
	struct prepare_download_resp p;
	cJSON *o, *arr;
	char *text, hex[65];
	const char *outcomes[16];
	int n = 0;

	if (file_read("certs/sgp26-nist/dpauth.der", SMDP_MAX_CERT, &der)) {
		check(0, "read dpauth.der");
		return;
	}
	o = trace_cert(der.p, der.len);
	text = cJSON_PrintUnformatted(o);
	/* SGP.26 DPauth: O=ACME, CN=TEST SM-DP+, policy .1.4, SAN RID 2.999.10,
	 * AKI = SKI of the NIST test CI (SMDP-REFERENCE 5) */
	check(text && strstr(text, "\"subject\":\"O = ACME, CN = \\\"TEST SM-DP+\\\"\"") &&
	      strstr(text, "\"issuer\":\"CN = Test CI, OU = TESTCERT, O = RSPTEST, C = IT\"") &&
	      strstr(text, "2.23.146.1.2.1.4 (id-rspRole-dp-auth)") &&
	      strstr(text, "\"registeredId\":\"2.999.10\"") &&
	      strstr(text, "\"authorityKeyIdentifier\":\"F54172BDF98A95D65CBEB88A38A1C11D800A85C3\"") &&
	      strstr(text, "\"notAfter\":\"2030-03-30T08:31:30Z\""),
	      "certificate summary of CERT.DPauth: subject, issuer, policy, RID, AKI, notAfter");
	free(text);
	cJSON_Delete(o);
	o = trace_cert((const uint8_t *)"\x30\x03\x02\x01\x01", 5);
	check(o && cJSON_GetObjectItemCaseSensitive(o, "undecodable"), "a non-certificate is marked "
	      "undecodable");
	cJSON_Delete(o);
	buf_free(&der);

	/* hashCc is derived from the confirmation code: never in a trace */
	memset(&p, 0, sizeof(p));
	p.txid_len = 16;
	memset(p.txid, 0x11, 16);
	p.euicc_otpk[0] = 0x04;
	memset(p.euicc_otpk + 1, 0x22, 64);
	p.euicc_otpk_len = SMDP_POINT_LEN;
	p.has_hash_cc = 1;
	for (int i = 0; i < 32; i++)
		p.hash_cc[i] = (uint8_t)(0xA0 + i);
	if (der_encode_euicc_signed2(p.txid, p.txid_len, p.euicc_otpk, p.hash_cc, &p.signed2_raw) ||
	    der_encode_prepare_download_resp(&p, &pdr)) {
		check(0, "encode a PrepareDownloadResponse with hashCc");
	} else {
		char *b64 = b64_encode(p.hash_cc, 32);
		o = trace_object("prepareDownloadResponse", pdr.p, pdr.len);
		text = cJSON_PrintUnformatted(o);
		hex_encode(p.hash_cc, 32, hex, sizeof(hex));
		check(text && strstr(text, "\"hashCc\":\"present (not recorded)\"") &&
		      !strstr(text, hex) && !strstr(text, hex + 8) && b64 && !strstr(text, b64),
		      "hashCc appears only as 'present' (neither hex nor base64 of it)");
		free(b64);
		free(text);
		cJSON_Delete(o);
	}
	buf_free(&p.signed2_raw);
	buf_free(&pdr);

	/* a hostile body nested 5000 deep is not handed to cJSON (recursion) */
	{
		size_t dn = 5000;
		uint8_t *deep = malloc(dn);
		if (deep) {
			memset(deep, '[', dn);
			o = trace_request(ES9_INITIATE_AUTH, LAB_JSON, deep, dn);
			check(o && !strcmp(cJSON_GetObjectItemCaseSensitive(o, "unparsable")->valuestring,
					   "nested too deeply"), "5000 nested arrays: recorded as too deep");
			cJSON_Delete(o);
			free(deep);
		}
		check(lab_json_depth_ok((const uint8_t *)"{\"a\":\"[[[[[[[[[[\"}", 18, 1) &&
		      !lab_json_depth_ok((const uint8_t *)"{\"a\":[[]]}", 10, 2),
		      "depth ignores brackets inside strings");
	}

	/* checks: authenticateClient failing 8.1/6.1 (euiccSignature1) */
	arr = cJSON_CreateArray();
	trace_checks(ES9_AUTH_CLIENT, RSP_ERR_EUICC_SIGNATURE, arr);
	for (cJSON *c = arr ? arr->child : NULL; c && n < 16; c = c->next)
		outcomes[n++] = cJSON_GetObjectItemCaseSensitive(c, "outcome")->valuestring;
	check(n == 9 && !strcmp(outcomes[5], "passed") && !strcmp(outcomes[6], "failed") &&
	      !strcmp(outcomes[7], "not reached") && !strcmp(outcomes[8], "not reached"),
	      "authenticateClient 8.1/6.1: 6 checks passed, the signature one failed, 2 not reached");
	cJSON_Delete(arr);
	arr = cJSON_CreateArray();
	trace_checks(ES9_GET_BPP, RSP_ERR_INTERNAL, arr);
	n = cJSON_GetArraySize(arr);
	check(n == 8 && !strcmp(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, n - 1),
								 "outcome")->valuestring, "failed"),
	      "an internal error fails the last step");
	cJSON_Delete(arr);
	{
		char sub[16], rea[16];
		const char *ok = "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}}}";
		const char *bad = "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\","
				  "\"statusCodeData\":{\"subjectCode\":\"8.8.1\",\"reasonCode\":\"3.8\"}}}}";
		check(trace_status(ES9_INITIATE_AUTH, LAB_JSON, 200, (const uint8_t *)ok, strlen(ok),
				   sub, rea) == RSP_OK &&
		      trace_status(ES9_INITIATE_AUTH, LAB_JSON, 200, (const uint8_t *)bad, strlen(bad),
				   sub, rea) == RSP_ERR_INVALID_DP_ADDRESS && !strcmp(sub, "8.8.1"),
		      "response status read back to the table row");
	}
}

/* --- metrics --- */

/* The getBoundProfilePackage answer summarised from the DER BPP the binding
 * hands over (lab_call_bpp) is the very object trace_response makes of the
 * JSON body: here with the BPP of test-vectors/bsp.json (made by another
 * implementation) in a body laid out as es9p_json.c writes it. */
static void test_gbpp_answer(void)
{
	static const uint8_t txid[16] = { 0xA1, 0xB2, 0xC3, 0xD4, 0x05, 0x06, 0x07, 0x08,
					  0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10 };
	struct buf js = { 0 }, bpp = { 0 };
	cJSON *vec = NULL, *fromder = NULL, *frombody = NULL;
	const cJSON *dec, *b64;
	char *body = NULL, *a = NULL, *b = NULL;
	size_t blen;

	if (file_read("test-vectors/bsp.json", 1 << 20, &js) ||
	    !(vec = cJSON_ParseWithLength((const char *)js.p, js.len)) ||
	    !(dec = cJSON_GetObjectItemCaseSensitive(vec, "bpp_decode")) ||
	    !cJSON_IsString(b64 = cJSON_GetObjectItemCaseSensitive(dec, "bpp_b64")) ||
	    b64_decode(b64->valuestring, strlen(b64->valuestring), &bpp)) {
		check(0, "test-vectors/bsp.json has bpp_decode.bpp_b64");
		goto out;
	}
	blen = strlen(b64->valuestring) + 256;
	if (!(body = malloc(blen)))
		goto out;
	snprintf(body, blen, "{\"header\":{\"functionExecutionStatus\":{\"status\":"
		 "\"Executed-Success\"}},\"transactionId\":\"A1B2C3D405060708090A0B0C0D0E0F10\","
		 "\"boundProfilePackage\":\"%s\"}", b64->valuestring);
	fromder = trace_gbpp_answer(txid, sizeof(txid), bpp.p, bpp.len);
	frombody = trace_response(ES9_GET_BPP, LAB_JSON, 200, (const uint8_t *)body, strlen(body));
	a = fromder ? cJSON_PrintUnformatted(fromder) : NULL;
	b = frombody ? cJSON_PrintUnformatted(frombody) : NULL;
	check(a && b && !strcmp(a, b) && strstr(a, "\"sequenceOf86\"") &&
	      strstr(a, "\"transactionId\":\"A1B2C3D405060708090A0B0C0D0E0F10\""),
	      "getBoundProfilePackage answer: the summary from the DER BPP equals the one read "
	      "back from the JSON body (%zu bytes of text)", a ? strlen(a) : 0);
out:
	free(a);
	free(b);
	free(body);
	cJSON_Delete(fromder);
	cJSON_Delete(frombody);
	cJSON_Delete(vec);
	buf_free(&bpp);
	buf_free(&js);
}

static void test_metrics(void)
{
	struct lab_metrics *m = metrics_new();
	struct buf b = { 0 };
	char *t;

	metrics_call(m, ES9_GET_BPP, 0.003, "", "");
	metrics_call(m, ES9_GET_BPP, 0.2, "8.1", "6.1");
	metrics_call(m, ES9_GET_BPP, 3.0, "8.1", "6.1");
	metrics_download(m, "installed");
	metrics_download(m, "installed");
	metrics_download(m, "no-such-outcome");
	metrics_fault(m, FA_DROP);
	if (metrics_render(m, 2, &b) || buf_append(&b, "", 1)) {
		check(0, "metrics render");
		goto out;
	}
	t = (char *)b.p;
	check(strstr(t, "smdp_es9_requests_total{function=\"getBoundProfilePackage\"} 3\n") &&
	      strstr(t, "smdp_es9_requests_total{function=\"initiateAuthentication\"} 0\n"),
	      "requests per function");
	/* cumulative buckets: 0.003 <= 0.005; 0.2 <= 0.25; 3.0 <= 5 */
	check(strstr(t, "smdp_es9_request_duration_seconds_bucket{function=\"getBoundProfilePackage\",le=\"0.005\"} 1\n") &&
	      strstr(t, "smdp_es9_request_duration_seconds_bucket{function=\"getBoundProfilePackage\",le=\"0.1\"} 1\n") &&
	      strstr(t, "smdp_es9_request_duration_seconds_bucket{function=\"getBoundProfilePackage\",le=\"0.25\"} 2\n") &&
	      strstr(t, "smdp_es9_request_duration_seconds_bucket{function=\"getBoundProfilePackage\",le=\"2.5\"} 2\n") &&
	      strstr(t, "smdp_es9_request_duration_seconds_bucket{function=\"getBoundProfilePackage\",le=\"5\"} 3\n") &&
	      strstr(t, "smdp_es9_request_duration_seconds_bucket{function=\"getBoundProfilePackage\",le=\"+Inf\"} 3\n") &&
	      strstr(t, "smdp_es9_request_duration_seconds_sum{function=\"getBoundProfilePackage\"} 3.203000\n") &&
	      strstr(t, "smdp_es9_request_duration_seconds_count{function=\"getBoundProfilePackage\"} 3\n"),
	      "latency histogram (cumulative buckets, sum, count)");
	check(strstr(t, "smdp_es9_errors_total{function=\"getBoundProfilePackage\",subject=\"8.1\",reason=\"6.1\"} 2\n") != NULL,
	      "errors by subjectCode/reasonCode");
	check(strstr(t, "smdp_downloads_total{outcome=\"installed\"} 2\n") &&
	      strstr(t, "smdp_downloads_total{outcome=\"failed\"} 0\n"), "downloads by outcome");
	check(strstr(t, "smdp_faults_injected_total{action=\"drop\"} 1\n") &&
	      strstr(t, "smdp_sessions_in_flight 2\n") &&
	      strstr(t, "# TYPE smdp_es9_request_duration_seconds histogram\n"),
	      "faults, in-flight gauge, TYPE lines");
out:
	buf_free(&b);
	metrics_free(m);
}

/* --- the lab tables --- */

static void test_store(void)
{
	char dir[] = "/tmp/lab_test.XXXXXX", db[64], cmd[256], out[128], err[256];
	struct store *st = NULL, *ls = NULL;   /* ls: the same handle, the lab's tables */
	struct fault_rule r, v[8];
	struct lab_event ev[2];
	struct lab_tx_summary sum, got;
	int n;

	if (!mkdtemp(dir)) {
		check(0, "temp dir");
		return;
	}
	snprintf(db, sizeof(db), "%s/t.db", dir);
	st = store_open(db, err, sizeof(err));
	ls = st;
	check(ls && store_schema_version(ls) == 6, "lab tables created with the store's schema (version 6)");
	if (!ls)
		goto out;
	memset(&r, 0, sizeof(r));
	fault_parse("function=getBoundProfilePackage attempt=2 action=drop", &r, err, sizeof(err));
	snprintf(r.name, sizeof(r.name), "one");
	snprintf(r.origin, sizeof(r.origin), "cli");
	check(store_fault_put(ls, &r) == 0 && r.id > 0, "rule stored");
	check(store_fault_seen(ls, r.id) == 1 && store_fault_seen(ls, r.id) == 2,
	      "attempts are counted");
	store_fault_put(ls, &r);
	n = store_fault_list(ls, v, 8);
	check(n == 1 && v[0].seen == 2 && v[0].attempt == 2 && !strcmp(v[0].origin, "cli"),
	      "same text again keeps the counters");
	fault_parse("function=getBoundProfilePackage attempt=1 action=drop", &r, err, sizeof(err));
	store_fault_put(ls, &r);
	n = store_fault_list(ls, v, 8);
	check(n == 1 && v[0].seen == 0 && v[0].attempt == 1, "a changed rule starts counting anew");
	check(store_fault_enable(ls, r.id, 0) == 1 && store_fault_list(ls, v, 8) == 1 &&
	      !v[0].enabled, "disable");
	snprintf(cmd, sizeof(cmd), "sqlite3 %s 'select name, enabled from lab_faults'", db);
	run(cmd, out, sizeof(out));
	check(!strcmp(out, "one|0"), "the row as sqlite3 sees it (%s)", out);
	check(store_fault_delete(ls, r.id) == 1 && store_fault_delete(ls, r.id) == 0 &&
	      store_fault_list(ls, v, 8) == 0, "delete");

	memset(ev, 0, sizeof(ev));
	memset(&sum, 0, sizeof(sum));
	snprintf(sum.txid, sizeof(sum.txid), "AABB");
	sum.started_us = sum.updated_us = ((int64_t)time(NULL) - 7200) * 1000000;
	snprintf(sum.outcome, sizeof(sum.outcome), "ok");
	sum.calls = 1;
	for (int i = 0; i < 2; i++) {
		snprintf(ev[i].txid, sizeof(ev[i].txid), "AABB");
		ev[i].time_us = sum.started_us + i;
		snprintf(ev[i].kind, sizeof(ev[i].kind), "request");
		ev[i].detail = "{}";
	}
	check(store_trace_add(ls, ev, 2, &sum) == 0 && store_trace_add(ls, ev, 1, &sum) == 0 &&
	      store_trace_get(ls, "AABB", &got) == 1 && got.calls == 2 && !got.has_session,
	      "trace events and the transaction summary (calls add up)");
	snprintf(sum.txid, sizeof(sum.txid), "CCDD");
	sum.started_us = sum.updated_us = (int64_t)time(NULL) * 1000000;
	snprintf(ev[0].txid, sizeof(ev[0].txid), "CCDD");
	store_trace_add(ls, ev, 1, &sum);
	/* retention: one hour keeps CCDD, drops AABB (two hours old) */
	check(store_trace_sweep(ls, ((int64_t)time(NULL) - 3600) * 1000000) == 4,
	      "sweep deletes the old transaction and its 3 events");
	snprintf(cmd, sizeof(cmd), "sqlite3 %s \"select count(*) from lab_trace_events where "
		 "txid='AABB'\" \"select count(*) from lab_transactions\"", db);
	run(cmd, out, sizeof(out));
	check(!strcmp(out, "0"), "sqlite3: no events of the swept transaction (%s)", out);
	check(store_trace_get(ls, "CCDD", &got) == 1, "the recent one stays");
out:
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* --- configuration and QR --- */

static void test_config_qr(void)
{
	struct lab_config c;
	struct buf png = { 0 };
	char err[256], out[256];
	const char *ac = "LPA:1$testsmdpplus1.example.com$04386-AGYFT-A74Y8-3F815";
	char path[] = "/tmp/lab_qr.XXXXXX";
	int fd;

	lab_config_defaults(&c);
	check(c.admin_port == 8446 && !strcmp(c.admin_addr, "127.0.0.1") && !c.admin_explicit,
	      "admin listener defaults to 127.0.0.1:8446 (not explicit)");
	check(lab_config_set(&c, "admin.listen", "0.0.0.0:9000", err, sizeof(err)) == 0 &&
	      c.admin_port == 9000 && !strcmp(c.admin_addr, "0.0.0.0") && c.admin_explicit &&
	      lab_config_set(&c, "admin.listen", "off", err, sizeof(err)) == 0 && c.admin_port == -1,
	      "admin.listen ADDR:PORT and off");
	check(lab_config_set(&c, "fault.slow", "action=delay ms=10", err, sizeof(err)) == 0 &&
	      c.n_faults == 1 && lab_config_set(&c, "fault.slow", "action=delay ms=20", err,
						 sizeof(err)) == 0 && c.n_faults == 1,
	      "fault.NAME from the configuration, replaced by name");
	check(lab_config_set(&c, "fault.bad name", "action=drop", err, sizeof(err)) == -1 &&
	      lab_config_set(&c, "fault.x", "action=nope", err, sizeof(err)) == -1,
	      "bad rule names and rules refused");
	check(lab_config_set(&c, "listen.nist", "x", err, sizeof(err)) == 1,
	      "a server key is left to config_set");
	check(lab_config_set(&c, "trace.keep", "10", err, sizeof(err)) == -1 &&
	      lab_config_set(&c, "trace.keep", "3600", err, sizeof(err)) == 0 && c.trace_keep == 3600,
	      "trace.keep bounds");

	check(console_qr_png(ac, &png) == 0 && png.len > 100 &&
	      !memcmp(png.p, "\x89PNG\r\n\x1a\n", 8), "QR code PNG written");
	fd = mkstemp(path);
	if (fd >= 0 && write(fd, png.p, png.len) == (ssize_t)png.len) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "zbarimg -q --raw %s 2>/dev/null", path);
		run(cmd, out, sizeof(out));
		check(!strcmp(out, ac), "zbarimg reads the activation code back (%s)", out);
	} else {
		check(0, "write the PNG");
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	check(console_qr_png("", &png) == -1, "no QR code of an empty text");
	buf_free(&png);
}

int main(void)
{
	test_rules();
	test_answers();
	test_bpp_faults();
	test_trace();
	test_gbpp_answer();
	test_metrics();
	test_store();
	test_config_qr();
	printf("%d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}
