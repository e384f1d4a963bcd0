/*
 * gen_seeds.c - writes the fuzz seed corpora (test-vectors/fuzz-seeds/) from
 * real traffic: the SGP.26 test eUICC of smdp-client (client/euicc.c) runs
 * each ES9+ function in-process against es9p_json_handle on a real server
 * context, over the fixture sessions of fuzz_common.h. Every JSON request
 * is replayed here exactly as the es9p_json target will replay it, and the
 * ones meant to succeed must answer Executed-Success: a seed that stopped
 * reaching the end of its function fails the generator instead of quietly
 * shrinking what the fuzzer covers. The DER seeds are the objects inside
 * that traffic (and the BPP the server returned). Each ES9+ request also
 * goes out in its ASN.1-binding form (RemoteProfileProvisioningRequest,
 * SGP.22 6.7, as der_encode_es9_request builds it for smdp-client), for
 * der_rpp_request and es9p_asn1, replayed through es9p_asn1_handle with the
 * same expectation. The es2p_json seeds are the ES2+ requests of
 * smdp/tests/e2e_es2.sh aimed at the ES2+ fixture (es2_fixture.c), each
 * replayed with its expected outcome.
 *
 * Usage: build/fuzz-gen-seeds DIR   (make fuzz-seeds), from the repo root.
 */
#include "fuzz_common.h"
#include "client.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum es9_fn_index { F_IA = 0, F_AC, F_GBPP, F_HN, F_CS };

struct gen {
	const char *dir;
	struct fuzz_smdp f;
	struct es9_fixture fx;
	const struct pki_set *set;
	struct euicc e;
	int files;
	int failed;
};

static void fail(struct gen *g, const char *what)
{
	fprintf(stderr, "gen_seeds: %s\n", what);
	g->failed = 1;
}

/* Write one seed file DIR/target/name. */
static void put(struct gen *g, const char *target, const char *name, const void *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", g->dir, target);
	if (mkdir(path, 0755) && errno != EEXIST) {
		fail(g, path);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s/%s", g->dir, target, name);
	f = fopen(path, "wb");
	if (!f || (n && fwrite(p, 1, n, f) != n)) {
		fail(g, path);
		if (f)
			fclose(f);
		return;
	}
	fclose(f);
	g->files++;
}

static void put_buf(struct gen *g, const char *target, const char *name, const struct buf *b)
{
	if (!b->len)
		fail(g, name);
	else
		put(g, target, name, b->p, b->len);
}

static const char *const fn_names[] = {
	"initiateAuthentication", "authenticateClient", "getBoundProfilePackage",
	"handleNotification", "cancelSession",
};

/* The JSON request body of ES9+ function fn as the ASN.1 binding carries
 * it (same objects, SGP.22 6.7). 0 / -1. */
static int json_to_rpp(int fn, const char *body, struct buf *der)
{
	static const char *const obj_field[] = {
		"euiccInfo1", "authenticateServerResponse", "prepareDownloadResponse",
		"pendingNotification", "cancelSessionResponse",
	};
	struct es9_asn1_req q;
	struct buf ch = { 0 };
	cJSON *j = cJSON_Parse(body);
	const cJSON *f;
	int rc = -1;

	memset(&q, 0, sizeof(q));
	q.fn = (enum es9_fn)fn;
	if (!j)
		goto out;
	f = cJSON_GetObjectItemCaseSensitive(j, "transactionId");
	if (cJSON_IsString(f)) {
		int n = hex_decode(f->valuestring, q.txid, sizeof(q.txid));
		if (n < 1)
			goto out;
		q.txid_len = (size_t)n;
	}
	f = cJSON_GetObjectItemCaseSensitive(j, "euiccChallenge");
	if (cJSON_IsString(f) && (b64_decode(f->valuestring, strlen(f->valuestring), &ch) ||
				  ch.len != SMDP_CHAL_LEN))
		goto out;
	if (ch.len)
		memcpy(q.euicc_challenge, ch.p, SMDP_CHAL_LEN);
	f = cJSON_GetObjectItemCaseSensitive(j, "smdpAddress");
	if (cJSON_IsString(f))
		snprintf(q.smdp_address, sizeof(q.smdp_address), "%s", f->valuestring);
	f = cJSON_GetObjectItemCaseSensitive(j, obj_field[fn]);
	if (!cJSON_IsString(f) || b64_decode(f->valuestring, strlen(f->valuestring), &q.obj))
		goto out;
	rc = der_encode_es9_request(&q, der);
out:
	cJSON_Delete(j);
	buf_free(&ch);
	es9_asn1_req_free(&q);
	return rc;
}

/* The ASN.1 twin of a JSON seed: save it for der_rpp_request (the DER)
 * and es9p_asn1 (selector byte 0 + the DER), and replay it through
 * es9p_asn1_handle the way that target does, expecting what post()
 * expects of the JSON form. */
static void post_asn1(struct gen *g, int fn, const char *name, const char *body, int want)
{
	struct http_request rq;
	struct http_response rs;
	struct es9_asn1_resp a;
	struct buf der = { 0 }, seed = { 0 };

	memset(&a, 0, sizeof(a));
	if (json_to_rpp(fn, body, &der) || buf_set(&seed, "\0", 1) ||
	    buf_append(&seed, der.p, der.len)) {
		fail(g, name);
		goto out;
	}
	put_buf(g, "der_rpp_request", name, &der);
	put_buf(g, "es9p_asn1", name, &seed);
	if (es9_fixture_install(&g->f, &g->fx)) {
		fail(g, "cannot install the fixture");
		goto out;
	}
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	rq.method = "POST";
	rq.path = ES9P_ASN1_PATH;
	rq.content_type = ES9P_ASN1_CONTENT_TYPE;
	rq.admin_protocol = "gsma/rsp/v2.5.0";
	rq.remote_addr = "127.0.0.1";
	rq.authorization = "";
	rq.body = der.p;
	rq.body_len = der.len;
	rs.status = 500;
	es9p_asn1_handle(&g->f.d, &rq, 8443, &rs);
	if (want < 0 ? rs.status != 204 :
	    rs.status != 200 || der_decode_es9_response(rs.body.p, rs.body.len, &a) != RSP_OK ||
	    (int)a.fn != fn || (want ? a.error >= 0 : a.error < 0)) {
		fprintf(stderr, "gen_seeds: %s (ASN.1): expected %s, got HTTP %d, error %ld\n", name,
			want < 0 ? "204" : want ? "the Ok form" : "an error", rs.status, a.error);
		g->failed = 1;
	}
	buf_free(&rs.body);
out:
	es9_asn1_resp_free(&a);
	buf_free(&der);
	buf_free(&seed);
}

/*
 * Save body as an es9p_json seed (selector byte + JSON) and replay it the
 * way the target does. want: 1 Executed-Success, 0 Failed, -1 no check
 * (handleNotification answers 204 either way). The parsed response is
 * returned in *resp when resp is not NULL (caller deletes).
 */
static void post(struct gen *g, int fn, const char *name, const char *body, int want,
		 cJSON **resp)
{
	struct http_request rq;
	struct http_response rs;
	struct buf seed = { 0 };
	uint8_t sel = (uint8_t)fn;
	char path[128];
	cJSON *j = NULL, *st;

	if (buf_set(&seed, &sel, 1) || buf_append(&seed, body, strlen(body))) {
		fail(g, "out of memory");
		return;
	}
	put_buf(g, "es9p_json", name, &seed);
	buf_free(&seed);
	if (es9_fixture_install(&g->f, &g->fx)) {
		fail(g, "cannot install the fixture");
		return;
	}
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	snprintf(path, sizeof(path), "/gsma/rsp2/es9plus/%s", fn_names[fn]);
	rq.method = "POST";
	rq.path = path;
	rq.content_type = "application/json";
	rq.admin_protocol = "gsma/rsp/v2.5.0";
	rq.remote_addr = "127.0.0.1";
	rq.body = (const uint8_t *)body;
	rq.body_len = strlen(body);
	rs.status = 500;
	es9p_json_handle(&g->f.d, &rq, 8443, &rs);
	if (want >= 0) {
		j = cJSON_ParseWithLength((const char *)rs.body.p, rs.body.len);
		st = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(j, "header"), "functionExecutionStatus"),
			"status");
		if (rs.status != 200 || !cJSON_IsString(st) ||
		    strcmp(st->valuestring, want ? "Executed-Success" : "Failed")) {
			fprintf(stderr, "gen_seeds: %s: expected %s, got HTTP %d %.*s\n", name,
				want ? "success" : "failure", rs.status, (int)rs.body.len,
				rs.body.p ? (const char *)rs.body.p : "");
			g->failed = 1;
		}
	} else if (rs.status != 204) {
		fail(g, name);
	}
	buf_free(&rs.body);
	if (resp)
		*resp = j;
	else
		cJSON_Delete(j);
	post_asn1(g, fn, name, body, want);
}

/* A JSON object of string fields given as name, value pairs (NULL ends);
 * returns the printed text (caller frees). */
static char *json_obj(const char *first, ...)
{
	cJSON *o = cJSON_CreateObject();
	const char *k, *v;
	char *text;
	va_list ap;

	va_start(ap, first);
	for (k = first; k; k = va_arg(ap, const char *)) {
		v = va_arg(ap, const char *);
		cJSON_AddStringToObject(o, k, v);
	}
	va_end(ap);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static char *b64(const struct buf *b)
{
	return b64_encode(b->p, b->len);
}

/* A base64 field of a response, decoded into out. */
static int resp_field(const cJSON *j, const char *name, struct buf *out)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, name);

	return cJSON_IsString(f) ? b64_decode(f->valuestring, strlen(f->valuestring), out) : -1;
}

static void txid_hex(enum fx_session s, char out[33])
{
	uint8_t t[16];

	fx_txid(s, t);
	hex_encode(t, 16, out, 33);
}

/* AuthenticateServer on the test eUICC for the fixture session s: a fresh
 * challenge, serverSigned1 signed with the real SK.DPauth. 0 / -1. */
static int euicc_auth(struct gen *g, enum fx_session s, const char *matching_id,
		      struct buf *bf38, struct buf *ss1_out)
{
	struct euicc_auth_in in;
	struct buf ss1 = { 0 }, sig = { 0 }, ci = { 0 };
	uint8_t chal[SMDP_CHAL_LEN], txid[16], raw[SMDP_SIG_LEN];
	uint8_t ci_hdr[2] = { 0x04, (uint8_t)g->set->ci_id.len };
	char msg[512];
	int rc = -1;

	fx_txid(s, txid);
	g->e.cfg.no_verify_server = 0;
	if (euicc_get_challenge(&g->e, chal) ||
	    der_encode_server_signed1(txid, 16, chal, g->f.cfg.fqdn, fx_server_challenge, &ss1) ||
	    crypto_sign(g->set->dpauth_key, ss1.p, ss1.len, raw) ||
	    buf_set(&sig, "\x5F\x37\x40", 3) || buf_append(&sig, raw, SMDP_SIG_LEN) ||
	    buf_set(&ci, ci_hdr, 2) || buf_append(&ci, g->set->ci_id.id, g->set->ci_id.len))
		goto out;
	memset(&in, 0, sizeof(in));
	in.server_signed1 = ss1.p;
	in.server_signed1_len = ss1.len;
	in.server_signature1 = sig.p;
	in.server_signature1_len = sig.len;
	in.ci_pkid = ci.p;
	in.ci_pkid_len = ci.len;
	in.server_cert = crypto_cert_der(g->set->dpauth, &in.server_cert_len);
	in.smdp_address = g->f.cfg.fqdn;
	in.has_matching_id = matching_id != NULL;
	in.matching_id = matching_id;
	if (euicc_authenticate_server(&g->e, &in, bf38, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "gen_seeds: AuthenticateServer: %s\n", msg);
		goto out;
	}
	if (ss1_out && buf_set(ss1_out, ss1.p, ss1.len))
		goto out;
	rc = 0;
out:
	buf_free(&ss1);
	buf_free(&sig);
	buf_free(&ci);
	return rc;
}

/* PrepareDownload for fixture session s (after euicc_auth on it): the
 * session's smdpSigned2 and the fixture's smdpSignature2, which is not a
 * real signature, so the eUICC's server checks are off for this step. */
static int euicc_prep(struct gen *g, enum fx_session s, struct buf *bf21)
{
	struct euicc_prep_in in;
	struct buf sig = { 0 };
	char msg[512];
	int rc = -1;

	if (buf_set(&sig, "\x5F\x37\x40", 3) ||
	    buf_append(&sig, fx_smdp_signature2, SMDP_SIG_LEN))
		goto out;
	memset(&in, 0, sizeof(in));
	in.smdp_signed2 = g->fx.s[s].smdp_signed2.p;
	in.smdp_signed2_len = g->fx.s[s].smdp_signed2.len;
	in.smdp_signature2 = sig.p;
	in.smdp_signature2_len = sig.len;
	in.smdp_cert = crypto_cert_der(g->set->dppb, &in.smdp_cert_len);
	g->e.cfg.no_verify_server = 1;
	if (euicc_prepare_download(&g->e, &in, bf21, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "gen_seeds: PrepareDownload: %s\n", msg);
		goto out;
	}
	rc = 0;
out:
	g->e.cfg.no_verify_server = 0;
	buf_free(&sig);
	return rc;
}

static void seeds_initiate(struct gen *g)
{
	struct euicc brp;
	struct euicc_cfg c;
	struct buf info = { 0 }, info_brp = { 0 }, chal = { 0 }, ss1 = { 0 };
	uint8_t ch[SMDP_CHAL_LEN];
	char *s_info = NULL, *s_chal = NULL, *body = NULL, err[256], addr[300];
	cJSON *resp = NULL;

	memset(&c, 0, sizeof(c));
	c.ci_cert = "certs/sgp26-brp/ci.der";
	c.euicc_cert = "certs/sgp26-brp/euicc/euicc.der";
	c.euicc_key = "certs/sgp26-brp/euicc/euicc.key.pem";
	c.eum_cert = "certs/sgp26-brp/euicc/eum.der";
	c.svn[0] = 2;
	c.svn[1] = 2;
	if (euicc_open(&brp, &c, err, sizeof(err))) {
		fail(g, err);
		return;
	}
	if (euicc_get_info1(&g->e, &info) || euicc_get_info1(&brp, &info_brp) ||
	    euicc_get_challenge(&g->e, ch) || buf_set(&chal, ch, sizeof(ch))) {
		fail(g, "EUICCInfo1");
		goto out;
	}
	euicc_session_end(&g->e);
	put_buf(g, "der_euicc_info1", "nist", &info);
	put_buf(g, "der_euicc_info1", "brainpool", &info_brp);
	s_chal = b64(&chal);
	s_info = b64(&info);
	body = json_obj("euiccChallenge", s_chal, "euiccInfo1", s_info, "smdpAddress",
			g->f.cfg.fqdn, NULL);
	post(g, F_IA, "ia_nist", body, 1, &resp);
	if (resp_field(resp, "serverSigned1", &ss1))
		fail(g, "initiateAuthentication answered no serverSigned1");
	put_buf(g, "der_server_signed1", "from_server", &ss1);
	free(body);
	free(s_info);
	s_info = b64(&info_brp);
	snprintf(addr, sizeof(addr), "%s:8443", g->f.cfg.fqdn);
	body = json_obj("euiccChallenge", s_chal, "euiccInfo1", s_info, "smdpAddress", addr, NULL);
	post(g, F_IA, "ia_brainpool_port", body, 1, NULL);
	free(body);
	body = json_obj("euiccChallenge", s_chal, "euiccInfo1", s_info, "smdpAddress",
			"other.example.com", NULL);
	post(g, F_IA, "ia_wrong_address", body, 0, NULL);
out:
	cJSON_Delete(resp);
	free(body);
	free(s_info);
	free(s_chal);
	buf_free(&info);
	buf_free(&info_brp);
	buf_free(&chal);
	buf_free(&ss1);
	euicc_close(&brp);
}

static void seeds_authenticate(struct gen *g)
{
	struct buf bf38 = { 0 }, err38 = { 0 }, md = { 0 }, s2 = { 0 };
	char tx[33], *s = NULL, *body = NULL;
	cJSON *resp = NULL;

	txid_hex(FX_AUTH_STARTED, tx);
	if (euicc_auth(g, FX_AUTH_STARTED, FX_PROFILE, &bf38, NULL)) {
		fail(g, "authenticate");
		goto out;
	}
	put_buf(g, "der_auth_server_resp", "ok", &bf38);
	{	/* EUICCInfo2 and DeviceInfo exactly as they travel in euiccSigned1 */
		struct auth_server_resp r;
		if (der_decode_auth_server_resp(bf38.p, bf38.len, &r) != RSP_OK) {
			fail(g, "own AuthenticateServerResponse does not decode");
		} else {
			put_buf(g, "der_euicc_info2", "from_euicc", &r.signed1.euicc_info2);
			put_buf(g, "der_device_info", "from_lpa", &r.signed1.ctx.device_info);
		}
		auth_server_resp_free(&r);
	}
	s = b64(&bf38);
	body = json_obj("transactionId", tx, "authenticateServerResponse", s, NULL);
	post(g, F_AC, "ac_ok", body, 1, &resp);
	if (resp_field(resp, "profileMetadata", &md) || resp_field(resp, "smdpSigned2", &s2))
		fail(g, "authenticateClient answered no profileMetadata/smdpSigned2");
	put_buf(g, "der_store_metadata", "from_server", &md);
	put_buf(g, "der_smdp_signed2", "from_server", &s2);
	/* the error form an eUICC without a session answers (5.7.13) */
	euicc_session_end(&g->e);
	{
		struct auth_server_resp r;
		memset(&r, 0, sizeof(r));
		r.is_error = 1;
		r.error_code = EUICC_AUTH_NO_SESSION;
		fx_txid(FX_AUTH_STARTED, r.error_txid);
		r.error_txid_len = 16;
		if (der_encode_auth_server_resp(&r, &err38))
			fail(g, "AuthenticateResponseError");
	}
	put_buf(g, "der_auth_server_resp", "error", &err38);
	free(s);
	free(body);
	s = b64(&err38);
	body = json_obj("transactionId", tx, "authenticateServerResponse", s, NULL);
	post(g, F_AC, "ac_euicc_error", body, 0, NULL);
	/* no matchingId: the default SM-DP+ case, with no default profile */
	buf_free(&bf38);
	free(s);
	free(body);
	s = NULL;
	body = NULL;
	if (euicc_auth(g, FX_AUTH_STARTED, NULL, &bf38, NULL)) {
		fail(g, "authenticate without matchingId");
		goto out;
	}
	euicc_session_end(&g->e);
	s = b64(&bf38);
	body = json_obj("transactionId", tx, "authenticateServerResponse", s, NULL);
	post(g, F_AC, "ac_no_matching_id", body, 0, NULL);
out:
	cJSON_Delete(resp);
	free(s);
	free(body);
	buf_free(&bf38);
	buf_free(&err38);
	buf_free(&md);
	buf_free(&s2);
}

static void seeds_bpp(struct gen *g)
{
	struct buf bf38 = { 0 }, bf21 = { 0 }, bpp = { 0 }, bf41 = { 0 }, e21 = { 0 }, e41 = { 0 };
	struct buf rsk = { 0 };
	struct bpp_parts parts;
	char tx[33], *s = NULL, *body = NULL;
	cJSON *resp = NULL;
	uint8_t keys[48];

	memset(&parts, 0, sizeof(parts));
	txid_hex(FX_CLIENT_AUTHED, tx);
	if (euicc_auth(g, FX_CLIENT_AUTHED, FX_PROFILE, &bf38, NULL) ||
	    euicc_prep(g, FX_CLIENT_AUTHED, &bf21)) {
		fail(g, "prepare download");
		goto out;
	}
	put_buf(g, "der_prepare_download_resp", "ok", &bf21);
	s = b64(&bf21);
	body = json_obj("transactionId", tx, "prepareDownloadResponse", s, NULL);
	post(g, F_GBPP, "gbpp_ok", body, 1, &resp);
	if (resp_field(resp, "boundProfilePackage", &bpp) ||
	    der_decode_bpp(bpp.p, bpp.len, &parts) != RSP_OK)
		fail(g, "getBoundProfilePackage answered no BPP");
	put_buf(g, "der_bpp", "from_server", &bpp);
	put_buf(g, "der_bf23", "from_server", &parts.bf23);
	cJSON_Delete(resp);
	resp = NULL;
	bpp_parts_free(&parts);
	buf_free(&bpp);
	/* the same with profile protection keys: BF36 with A2 ReplaceSessionKeys */
	g->f.cfg.ppk = 1;
	post(g, F_GBPP, "gbpp_ok_ppk", body, 1, &resp);
	g->f.cfg.ppk = 0;
	if (resp_field(resp, "boundProfilePackage", &bpp))
		fail(g, "getBoundProfilePackage (PPK) answered no BPP");
	put_buf(g, "der_bpp", "from_server_ppk", &bpp);
	/* the eUICC cancels the session it prepared (5.6.5) */
	if (euicc_cancel_session(&g->e, CANCEL_END_USER_REJECTION, NULL, &bf41)) {
		fail(g, "CancelSession");
		goto out;
	}
	put_buf(g, "der_cancel_session_resp", "ok", &bf41);
	free(s);
	free(body);
	s = b64(&bf41);
	body = json_obj("transactionId", tx, "cancelSessionResponse", s, NULL);
	post(g, F_CS, "cs_ok", body, 1, NULL);
	/* error forms of both */
	{
		struct prepare_download_resp p;
		struct cancel_session_resp c;
		memset(&p, 0, sizeof(p));
		p.is_error = 1;
		p.error_code = EUICC_DL_INVALID_SIGNATURE;
		fx_txid(FX_CLIENT_AUTHED, p.txid);
		p.txid_len = 16;
		memset(&c, 0, sizeof(c));
		c.is_error = 1;
		c.error_code = 127;
		if (der_encode_prepare_download_resp(&p, &e21) ||
		    der_encode_cancel_session_resp(&c, &e41))
			fail(g, "error forms");
	}
	put_buf(g, "der_prepare_download_resp", "error", &e21);
	put_buf(g, "der_cancel_session_resp", "error", &e41);
	free(s);
	free(body);
	s = b64(&e21);
	body = json_obj("transactionId", tx, "prepareDownloadResponse", s, NULL);
	post(g, F_GBPP, "gbpp_euicc_error", body, 0, NULL);
	free(s);
	free(body);
	s = b64(&e41);
	body = json_obj("transactionId", tx, "cancelSessionResponse", s, NULL);
	post(g, F_CS, "cs_euicc_error", body, 1, NULL);
	/* ReplaceSessionKeysRequest travels encrypted in the BPP: encode one */
	if (crypto_random(keys, sizeof(keys)) ||
	    der_encode_replace_session_keys(keys, keys + 16, keys + 32, &rsk))
		fail(g, "ReplaceSessionKeys");
	put_buf(g, "der_replace_session_keys", "random_keys", &rsk);
out:
	cJSON_Delete(resp);
	free(s);
	free(body);
	bpp_parts_free(&parts);
	buf_free(&bf38);
	buf_free(&bf21);
	buf_free(&bpp);
	buf_free(&bf41);
	buf_free(&e21);
	buf_free(&e41);
	buf_wipe(&rsk);
}

/* OtherSignedNotification (SGP.22 5.6.4) has no encoder in der.c: built
 * here from its definition (rsp.asn): SEQUENCE { NotificationMetadata BF2F
 * { 80 seqNumber, 81 NotificationEvent, 0C address, 5A iccid }, 5F37
 * signature over the BF2F TLV, CERT.EUICC, CERT.EUM }. */
static int other_notification(struct gen *g, struct buf *out)
{
	static const uint8_t iccid[10] = { 0x98, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF0 };
	struct buf meta = { 0 }, body = { 0 };
	uint8_t hdr[4], sig[SMDP_SIG_LEN];
	const uint8_t *der;
	size_t n, al = strlen(g->f.cfg.fqdn);
	int rc = -1;

	hdr[0] = 0x0C;
	hdr[1] = (uint8_t)al;
	/* seqNumber 7, notificationDelete (bit 3 of a 4-bit string) */
	if (buf_set(&body, "\x80\x01\x07\x81\x02\x04\x10", 7) || buf_append(&body, hdr, 2) ||
	    buf_append(&body, g->f.cfg.fqdn, al) || buf_append(&body, "\x5A\x0A", 2) ||
	    buf_append(&body, iccid, 10))
		goto out;
	hdr[0] = 0xBF;
	hdr[1] = 0x2F;
	hdr[2] = (uint8_t)body.len;
	if (body.len > 127 || buf_set(&meta, hdr, 3) || buf_append(&meta, body.p, body.len) ||
	    crypto_sign(g->e.key, meta.p, meta.len, sig))
		goto out;
	buf_free(&body);
	if (buf_set(&body, meta.p, meta.len) || buf_append(&body, "\x5F\x37\x40", 3) ||
	    buf_append(&body, sig, SMDP_SIG_LEN))
		goto out;
	der = crypto_cert_der(g->e.cert, &n);
	if (buf_append(&body, der, n))
		goto out;
	der = crypto_cert_der(g->e.eum, &n);
	if (buf_append(&body, der, n))
		goto out;
	/* SEQUENCE with a two-byte long-form length */
	hdr[0] = 0x30;
	hdr[1] = 0x82;
	hdr[2] = (uint8_t)(body.len >> 8);
	hdr[3] = (uint8_t)body.len;
	if (body.len < 256 || body.len > 0xFFFF || buf_set(out, hdr, 4) ||
	    buf_append(out, body.p, body.len))
		goto out;
	rc = 0;
out:
	buf_free(&meta);
	buf_free(&body);
	return rc;
}

static void seeds_notification(struct gen *g)
{
	struct buf bf38 = { 0 }, bf21 = { 0 }, pir = { 0 }, pir_err = { 0 }, other = { 0 };
	struct pending_notification pn;
	char *s = NULL, *body = NULL;
	uint8_t iccid[10];

	memcpy(iccid, saip_find(&g->f.d.profiles, FX_PROFILE)->meta.iccid, 10);
	if (euicc_auth(g, FX_BPP_SENT, FX_PROFILE, &bf38, NULL) || euicc_prep(g, FX_BPP_SENT, &bf21) ||
	    euicc_make_pir(&g->e, 1, 0, 0, iccid, &pir)) {
		fail(g, "PIR");
		goto out;
	}
	buf_free(&bf38);
	buf_free(&bf21);
	if (euicc_auth(g, FX_BPP_SENT, FX_PROFILE, &bf38, NULL) || euicc_prep(g, FX_BPP_SENT, &bf21) ||
	    euicc_make_pir(&g->e, 0, BPP_CMD_LOAD_PROFILE_ELEMENTS, BPP_ERR_PE_PROCESSING, NULL,
			   &pir_err) ||
	    other_notification(g, &other) ||
	    der_decode_pending_notification(other.p, other.len, &pn) != RSP_OK) {
		fail(g, "PIR error / other notification");
		goto out;
	}
	pending_notification_free(&pn);
	put_buf(g, "der_pending_notification", "pir_ok", &pir);
	put_buf(g, "der_pending_notification", "pir_error", &pir_err);
	put_buf(g, "der_pending_notification", "other_delete", &other);
	s = b64(&pir);
	body = json_obj("pendingNotification", s, NULL);
	post(g, F_HN, "hn_pir_ok", body, -1, NULL);
	free(s);
	free(body);
	s = b64(&pir_err);
	body = json_obj("pendingNotification", s, NULL);
	post(g, F_HN, "hn_pir_error", body, -1, NULL);
	free(s);
	free(body);
	s = b64(&other);
	body = json_obj("pendingNotification", s, NULL);
	post(g, F_HN, "hn_other", body, -1, NULL);
	/* each went in twice: the JSON seed and its ASN.1 twin */
	if (store_notification_count(g->f.d.store) != 6)
		fail(g, "handleNotification did not store the three notifications twice");
out:
	free(s);
	free(body);
	buf_free(&bf38);
	buf_free(&bf21);
	buf_free(&pir);
	buf_free(&pir_err);
	buf_free(&other);
}

static void seeds_text(struct gen *g)
{
	static const char *const b64s[] = { "", "QQ==", "QUI=", "QUJD", "BF20358203020200" };
	static const char *const hexs[] = {
		"\x10" "A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1",
		"\x20" "89049032123451234512345678901235",
		"\x10" "0123456789abcdefABCDEF",
		"\x03" "5",
	};
	static const char conf[] =
		"# smdp configuration (see build/smdp --help)\n"
		"fqdn = lab.example.org\n"
		"listen.nist = 0.0.0.0:8443\n"
		"listen.brainpool = off\n"
		"ppk = yes\n"
		"host-id = 534D44502D4C4142\n"
		"session-timeout = 300\n"
		"default-profile = TS48v2_SAIP2.3_NoBERTLV\n"
		"log-level = debug\n";
	/* ES2+ operator keys (a build without them stops at line 1) */
	static const char ops[] =
		"mode = orders\n"
		"listen.es2 = 127.0.0.1:8445\n"
		"operator.acme.id = ACME\n"
		"operator.acme.profile-types = TS48-full,TS48-min\n"
		"operator.acme.notify-url = https://ops.example.com:9443/es2\n"
		"order-ttl = 86400\n";
	char name[32], *text = NULL;
	size_t len = 0;
	FILE *m;

	for (size_t i = 0; i < sizeof(b64s) / sizeof(b64s[0]); i++) {
		snprintf(name, sizeof(name), "s%zu", i);
		put(g, "b64_decode", name, b64s[i], strlen(b64s[i]));
	}
	for (size_t i = 0; i < sizeof(hexs) / sizeof(hexs[0]); i++) {
		snprintf(name, sizeof(name), "s%zu", i);
		put(g, "hex_decode", name, hexs[i], strlen(hexs[i]));
	}
	/* the defaults as build/smdp --print-config writes them, and a hand-written file */
	m = open_memstream(&text, &len);
	if (!m) {
		fail(g, "memstream");
		return;
	}
	config_print(&g->f.cfg, m);
	fclose(m);
	put(g, "config_file", "print_config", text, len);
	put(g, "config_file", "hand_written", conf, strlen(conf));
	put(g, "config_file", "operators", ops, strlen(ops));
	free(text);
	/* ProfileHeader of a few packages: selector byte 3 (101-byte buffer) */
	for (size_t i = 0; i < g->f.d.profiles.n && i < 18; i += 5) {
		const struct profile *p = &g->f.d.profiles.v[i];
		uint32_t tag;
		size_t hl, vl;
		struct buf seed = { 0 };
		if (der_tlv(p->upp.p, p->upp.len, &tag, &hl, &vl) || buf_set(&seed, "\x03", 1) ||
		    buf_append(&seed, p->upp.p, hl + vl)) {
			fail(g, p->id);
			buf_free(&seed);
			continue;
		}
		put_buf(g, "saip_header", p->id, &seed);
		buf_free(&seed);
	}
}

/* --- ES2+ (es2p_json): the requests of smdp/tests/e2e_es2.sh aimed at
 * the fixture inventory (es2_fixture.c), each with its expected outcome. */
#define HDR_A "{\"header\":{\"functionRequesterIdentifier\":\"" FX2_OP_A "\"," \
	"\"functionCallIdentifier\":\"call-1\"}"
#define HDR_B "{\"header\":{\"functionRequesterIdentifier\":\"" FX2_OP_B "\"," \
	"\"functionCallIdentifier\":\"call-2\"}"
#define IC(n) "\"iccid\":\"8999000000000002" n "\""

static const struct es2_seed {
	const char *name;
	uint8_t sel;
	const char *body;
	int want;   /* 1 Executed-Success, 0 Failed */
} es2_seeds[] = {
	{ "do_type_eid", FX2_SEL(FX2_DOWNLOAD, 0, 0),
	  HDR_A ",\"eid\":\"" FX2_EID1 "\",\"profileType\":\"pool\"}", 1 },
	{ "do_type", FX2_SEL(FX2_DOWNLOAD, 0, 0), HDR_A ",\"profileType\":\"pool\"}", 1 },
	{ "do_iccid", FX2_SEL(FX2_DOWNLOAD, 2, 2), HDR_A "," IC("0001") "}", 1 },
	{ "do_iccid_type", FX2_SEL(FX2_DOWNLOAD, 0, 0),
	  HDR_A "," IC("0001") ",\"profileType\":\"ta\"}", 1 },
	{ "do_type_mismatch", FX2_SEL(FX2_DOWNLOAD, 0, 0),
	  HDR_A "," IC("0001") ",\"profileType\":\"pool\"}", 0 },
	{ "do_exhausted", FX2_SEL(FX2_DOWNLOAD, 0, 0), HDR_A ",\"profileType\":\"empty\"}", 0 },
	{ "do_unknown_type", FX2_SEL(FX2_DOWNLOAD, 0, 0), HDR_A ",\"profileType\":\"nosuch\"}", 0 },
	{ "do_in_use", FX2_SEL(FX2_DOWNLOAD, 0, 0), HDR_A "," IC("0002") "}", 0 },
	{ "do_not_owner", FX2_SEL(FX2_DOWNLOAD, 0, 0), HDR_A ",\"iccid\":\"89990000000000030001\"}", 0 },
	{ "do_op_b", FX2_SEL(FX2_DOWNLOAD, 0, 0),
	  HDR_B ",\"eid\":\"" FX2_EID2 "\",\"profileType\":\"tb\"}", 1 },
	{ "do_op_b_other_cert", FX2_SEL(FX2_DOWNLOAD, 2, 0), HDR_B ",\"profileType\":\"tb\"}", 0 },
	{ "do_no_cert", FX2_SEL(FX2_DOWNLOAD, 3, 0), HDR_A ",\"profileType\":\"pool\"}", 0 },
	{ "do_no_header", FX2_SEL(FX2_DOWNLOAD, 0, 0), "{\"profileType\":\"pool\"}", 0 },
	{ "do_protocol_v3", FX2_SEL(FX2_DOWNLOAD, 0, 3), HDR_A ",\"profileType\":\"pool\"}", 0 },
	{ "co_release", FX2_SEL(FX2_CONFIRM, 0, 0), HDR_A "," IC("0002") ",\"releaseFlag\":true}", 1 },
	{ "co_linked_cc", FX2_SEL(FX2_CONFIRM, 0, 0),
	  HDR_A "," IC("0003") ",\"eid\":\"" FX2_EID1 "\",\"confirmationCode\":\"" FX2_CC "\","
	  "\"releaseFlag\":false}", 1 },
	{ "co_matching_id", FX2_SEL(FX2_CONFIRM, 0, 0),
	  HDR_A "," IC("0002") ",\"matchingId\":\"ABCDE-12345-ABCDE-12345\",\"releaseFlag\":true}", 1 },
	{ "co_default", FX2_SEL(FX2_CONFIRM, 0, 0),
	  HDR_A "," IC("0003") ",\"matchingId\":\"\",\"releaseFlag\":true}", 1 },
	{ "co_default_no_eid", FX2_SEL(FX2_CONFIRM, 0, 0),
	  HDR_A "," IC("0002") ",\"matchingId\":\"\",\"releaseFlag\":true}", 0 },
	{ "co_smds", FX2_SEL(FX2_CONFIRM, 0, 0),
	  HDR_A "," IC("0003") ",\"smdsAddress\":\"lpa.ds.gsma.com\",\"releaseFlag\":true}", 1 },
	{ "co_conflict", FX2_SEL(FX2_CONFIRM, 0, 0),
	  HDR_A "," IC("0002") ",\"matchingId\":\"FUZZ5-RELSD-00000-00005\",\"releaseFlag\":true}", 0 },
	{ "co_eid_different", FX2_SEL(FX2_CONFIRM, 0, 0),
	  HDR_A "," IC("0003") ",\"eid\":\"" FX2_EID2 "\",\"releaseFlag\":true}", 0 },
	{ "co_wrong_state", FX2_SEL(FX2_CONFIRM, 0, 0), HDR_A "," IC("0004") ",\"releaseFlag\":true}", 0 },
	{ "co_no_release_flag", FX2_SEL(FX2_CONFIRM, 0, 0), HDR_A "," IC("0002") "}", 0 },
	{ "ca_released", FX2_SEL(FX2_CANCEL, 0, 0),
	  HDR_A "," IC("0005") ",\"finalProfileStatusIndicator\":\"Available\"}", 1 },
	{ "ca_confirmed_full", FX2_SEL(FX2_CANCEL, 0, 0),
	  HDR_A "," IC("0004") ",\"eid\":\"" FX2_EID1 "\",\"matchingId\":\"FUZZ4-CONF0-00000-00004\","
	  "\"finalProfileStatusIndicator\":\"Unavailable\"}", 1 },
	{ "ca_allocated", FX2_SEL(FX2_CANCEL, 0, 0),
	  HDR_A "," IC("0002") ",\"finalProfileStatusIndicator\":\"Available\"}", 1 },
	{ "ca_downloaded", FX2_SEL(FX2_CANCEL, 0, 0),
	  HDR_A "," IC("0007") ",\"finalProfileStatusIndicator\":\"Unavailable\"}", 1 },
	{ "ca_error", FX2_SEL(FX2_CANCEL, 0, 0),
	  HDR_A "," IC("0009") ",\"finalProfileStatusIndicator\":\"Available\"}", 1 },
	{ "ca_19_digits", FX2_SEL(FX2_CANCEL, 0, 0),
	  HDR_A ",\"iccid\":\"8999000000000002006F\",\"finalProfileStatusIndicator\":\"Available\"}", 1 },
	{ "ca_installed", FX2_SEL(FX2_CANCEL, 0, 0),
	  HDR_A "," IC("0008") ",\"finalProfileStatusIndicator\":\"Available\"}", 0 },
	{ "ca_mid_mismatch", FX2_SEL(FX2_CANCEL, 0, 0),
	  HDR_A "," IC("0005") ",\"matchingId\":\"X\",\"finalProfileStatusIndicator\":\"Available\"}", 0 },
	{ "ca_bad_final", FX2_SEL(FX2_CANCEL, 0, 0),
	  HDR_A "," IC("0005") ",\"finalProfileStatusIndicator\":\"Installed\"}", 0 },
	{ "rp_confirmed", FX2_SEL(FX2_RELEASE, 0, 0), HDR_A "," IC("0004") "}", 1 },
	{ "rp_confirmed_no_eid", FX2_SEL(FX2_RELEASE, 0, 2), HDR_A "," IC("0012") "}", 1 },
	{ "rp_op_b", FX2_SEL(FX2_RELEASE, 1, 0), HDR_B ",\"iccid\":\"89990000000000030002\"}", 1 },
	{ "rp_wrong_state", FX2_SEL(FX2_RELEASE, 0, 0), HDR_A "," IC("0005") "}", 0 },
	{ "rp_unknown", FX2_SEL(FX2_RELEASE, 0, 0), HDR_A ",\"iccid\":\"89990000000000099999\"}", 0 },
	{ "rp_not_owner", FX2_SEL(FX2_RELEASE, 0, 0), HDR_B "," IC("0004") "}", 0 },
};

static void seeds_es2(struct gen *g)
{
	struct fuzz_smdp f;
	struct es2_fixture fx;
	char err[512];

	if (es2_fixture_open(&f, "build/fuzz-gen-seeds-es2.db", &fx, err, sizeof(err))) {
		fail(g, err);
		return;
	}
	for (size_t i = 0; i < sizeof(es2_seeds) / sizeof(es2_seeds[0]); i++) {
		const struct es2_seed *e = &es2_seeds[i];
		struct http_response rs;
		struct buf seed = { 0 };
		cJSON *j;
		const char *st;

		if (buf_set(&seed, &e->sel, 1) || buf_append(&seed, e->body, strlen(e->body))) {
			fail(g, "out of memory");
			break;
		}
		put_buf(g, "es2p_json", e->name, &seed);
		buf_free(&seed);
		memset(&rs, 0, sizeof(rs));
		if (es2_fixture_call(&f, &fx, e->sel, (const uint8_t *)e->body, strlen(e->body),
				     &rs) != -1) {
			fail(g, "cannot install the ES2+ fixture");
			break;
		}
		j = cJSON_ParseWithLength((const char *)rs.body.p, rs.body.len);
		st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "header"),
							 "functionExecutionStatus"),
			"status"));
		if (rs.status != 200 || !st ||
		    strcmp(st, e->want ? "Executed-Success" : "Failed")) {
			fprintf(stderr, "gen_seeds: %s: expected %s, got HTTP %d %.*s\n", e->name,
				e->want ? "success" : "failure", rs.status, (int)rs.body.len,
				rs.body.p ? (const char *)rs.body.p : "");
			g->failed = 1;
		}
		cJSON_Delete(j);
		buf_free(&rs.body);
	}
	es2_fixture_close(&f, &fx);
}

/* Write every seed corpus under argv[1]. Exit 0 when all seeds were
 * written and behaved as expected, 1 otherwise. */
int main(int argc, char **argv)
{
	struct gen g;
	struct euicc_cfg c;
	char err[512];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	memset(&g, 0, sizeof(g));
	g.dir = argv[1];
	log_set_level(LOG_INFO);
	if (mkdir(g.dir, 0755) && errno != EEXIST) {
		perror(g.dir);
		return 1;
	}
	if (fuzz_smdp_open(&g.f, "build/fuzz-gen-seeds.db", err, sizeof(err)) ||
	    es9_fixture_make(&g.f, &g.fx, err, sizeof(err))) {
		fprintf(stderr, "gen_seeds: %s\n", err);
		return 1;
	}
	g.set = pki_find(&g.f.d.pki, FX_CI);
	memset(&c, 0, sizeof(c));
	c.ci_cert = "certs/sgp26-nist/ci.der";
	c.euicc_cert = FX_EUICC_DIR "/euicc.der";
	c.euicc_key = FX_EUICC_DIR "/euicc.key.pem";
	c.eum_cert = FX_EUICC_DIR "/eum.der";
	c.svn[0] = 2;
	c.svn[1] = 5;
	memcpy(c.tac, "\x35\x29\x06\x11", 4);
	if (euicc_open(&g.e, &c, err, sizeof(err))) {
		fprintf(stderr, "gen_seeds: %s\n", err);
		return 1;
	}
	seeds_initiate(&g);
	seeds_authenticate(&g);
	seeds_bpp(&g);
	seeds_notification(&g);
	seeds_text(&g);
	seeds_es2(&g);
	euicc_close(&g.e);
	es9_fixture_free(&g.fx);
	fuzz_smdp_close(&g.f);
	printf("gen_seeds: %d files under %s%s\n", g.files, g.dir, g.failed ? ", WITH ERRORS" : "");
	return g.failed ? 1 : 0;
}
