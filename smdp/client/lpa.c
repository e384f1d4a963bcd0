/* lpa.c - the LPA of smdp-client: the ES9+ functions (SGP.22 5.6) over the
 * JSON binding (v2.5) on httpc, relaying the profile download (3.1.2, 3.1.3)
 * between the SM-DP+ and the software eUICC of euicc.c. */
#include "client.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ES9_PATH    "/gsma/rsp2/es9plus/"
/* httpc adds its own User-Agent (smdp-httpc): a second one would be a
 * duplicate header */
#define ES9_HEADERS "X-Admin-Protocol: gsma/rsp/v2.5.0\r\n"

/* One download in progress. */
struct lpa {
	struct httpc *h;
	struct euicc *e;
	const struct lpa_opts *o;
	struct lpa_result *res;
	const char *address;         /* smdpAddress sent in initiateAuthentication */
	char txid_hex[2 * 16 + 1];   /* transactionId as the SM-DP+ wrote it */
	uint8_t txid[16];
	size_t txid_len;
	struct buf metadata;         /* profileMetadata BF25 from authenticateClient */
};

static void set_error(struct lpa *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A problem the client found: result "error". */
static void set_error(struct lpa *l, const char *fmt, ...)
{
	va_list ap;

	l->res->outcome = LPA_ERROR;
	va_start(ap, fmt);
	vsnprintf(l->res->message, sizeof(l->res->message), fmt, ap);
	va_end(ap);
}

static const char *json_str(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static void dump_json(const char *dir, const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "%s %s\n%.*s\n", dir, what, (int)(n > 0x7fffffff ? 0x7fffffff : n),
		(const char *)p);
}

/* The one ES9+ worker: POST req to function fn and classify the answer.
 * Returns 0 on success (*resp = parsed body, NULL for a 204), 1 when the
 * SM-DP+ reported a failure (res says which), -1 on a transport or format
 * problem (res says what). */
static int es9_call(struct lpa *l, const char *fn, const cJSON *req, cJSON **resp)
{
	struct buf body = { 0 };
	char *out = NULL, path[96], ct[128] = "", err[256] = "", what[160];
	const cJSON *st, *scd;
	const char *status;
	cJSON *json = NULL;
	int rc = -1, http = 0;

	*resp = NULL;
	snprintf(path, sizeof(path), ES9_PATH "%s", fn);
	if (!(out = cJSON_PrintUnformatted(req))) {
		set_error(l, "%s: cannot build the request", fn);
		goto out;
	}
	if (l->o->verbose)
		dump_json(">>", path, (const uint8_t *)out, strlen(out));
	if (httpc_post(l->h, path, "application/json", ES9_HEADERS, (const uint8_t *)out,
		       strlen(out), &http, &body, ct, sizeof(ct), err, sizeof(err))) {
		set_error(l, "%s: transport: %s", fn, err);
		goto out;
	}
	if (l->o->verbose) {
		snprintf(what, sizeof(what), "HTTP %d %s", http, ct);
		dump_json("<<", what, body.p ? body.p : (const uint8_t *)"", body.len);
	}
	if (http == 204 && body.len == 0) {
		l->res->calls++;
		rc = 0;
		goto out;
	}
	if (http != 200) {
		set_error(l, "%s: HTTP status %d", fn, http);
		goto out;
	}
	if (body.len > SMDP_MAX_BODY) {
		set_error(l, "%s: response of %zu bytes exceeds %d", fn, body.len, SMDP_MAX_BODY);
		goto out;
	}
	if (!body.p || !(json = cJSON_ParseWithLength((const char *)body.p, body.len)) ||
	    !cJSON_IsObject(json)) {
		set_error(l, "%s: response is not a JSON object", fn);
		goto out;
	}
	st = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(json, "header"),
					      "functionExecutionStatus");
	if (!(status = json_str(st, "status"))) {
		set_error(l, "%s: response has no header.functionExecutionStatus.status", fn);
		goto out;
	}
	if (!strcmp(status, "Executed-Success") || !strcmp(status, "Executed-WithWarning")) {
		l->res->calls++;
		*resp = json;
		json = NULL;
		rc = 0;
		goto out;
	}
	/* Failed / Expired: report the statusCodeData as given */
	scd = cJSON_GetObjectItemCaseSensitive(st, "statusCodeData");
	l->res->outcome = LPA_FAILED;
	snprintf(l->res->function, sizeof(l->res->function), "%s", fn);
	snprintf(l->res->subject, sizeof(l->res->subject), "%s",
		 json_str(scd, "subjectCode") ? json_str(scd, "subjectCode") : "-");
	snprintf(l->res->reason, sizeof(l->res->reason), "%s",
		 json_str(scd, "reasonCode") ? json_str(scd, "reasonCode") : "-");
	snprintf(l->res->message, sizeof(l->res->message), "%s%s%s",
		 json_str(scd, "message") ? json_str(scd, "message") : "",
		 strcmp(status, "Failed") ? " status=" : "", strcmp(status, "Failed") ? status : "");
	log_info("%s: SM-DP+ answered %s %s/%s %s", fn, status, l->res->subject, l->res->reason,
		 l->res->message);
	rc = 1;
out:
	cJSON_Delete(json);
	cJSON_free(out);
	buf_free(&body);
	return rc;
}

/* A mandatory base64 field of a response, decoded into out. */
static int get_b64(struct lpa *l, const char *fn, const cJSON *o, const char *name,
		   struct buf *out)
{
	const char *s = json_str(o, name);
	size_t n;

	if (!s) {
		set_error(l, "%s: response lacks %s", fn, name);
		return -1;
	}
	n = strlen(s);
	if (n > SMDP_MAX_B64 || b64_decode(s, n, out) || out->len == 0) {
		set_error(l, "%s: %s is not valid base64 (or empty / too long)", fn, name);
		return -1;
	}
	return 0;
}

/* Add a base64 field to a request. */
static int add_b64(cJSON *o, const char *name, const uint8_t *p, size_t n)
{
	char *s = b64_encode(p, n);
	int rc = s && cJSON_AddStringToObject(o, name, s) ? 0 : -1;

	free(s);
	return rc;
}

/* The response's transactionId must be the session's (hex, any case). */
static int check_txid(struct lpa *l, const char *fn, const cJSON *o)
{
	const char *s = json_str(o, "transactionId");
	uint8_t t[16];
	int n;

	if (!s) {
		set_error(l, "%s: response lacks transactionId", fn);
		return -1;
	}
	n = strlen(s) <= 32 ? hex_decode(s, t, sizeof(t)) : -1;
	if (n <= 0 || (size_t)n != l->txid_len || memcmp(t, l->txid, l->txid_len)) {
		set_error(l, "%s: transactionId %.40s is not the session's %s", fn, s, l->txid_hex);
		return -1;
	}
	return 0;
}

/* Request skeleton {"transactionId": <session txid>} (optionally altered). */
static cJSON *txid_request(struct lpa *l, int wrong)
{
	cJSON *req = cJSON_CreateObject();
	char hex[2 * 16 + 1];
	uint8_t t[16];

	if (!req)
		return NULL;
	memcpy(t, l->txid, l->txid_len);
	if (wrong)   /* a transactionId the SM-DP+ never issued */
		for (size_t i = 0; i < l->txid_len; i++)
			t[i] ^= 0x5A;
	hex_encode(t, l->txid_len, hex, sizeof(hex));
	if (!cJSON_AddStringToObject(req, "transactionId", wrong ? hex : l->txid_hex)) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

/* Post a request that carries one DER object besides the transactionId;
 * returns as es9_call. */
static int post_with_object(struct lpa *l, const char *fn, const char *field,
			    const struct buf *obj, int wrong_txid, cJSON **resp)
{
	cJSON *req = txid_request(l, wrong_txid);
	int rc = -1;

	*resp = NULL;
	if (!req || add_b64(req, field, obj->p, obj->len)) {
		set_error(l, "%s: out of memory", fn);
		goto out;
	}
	rc = es9_call(l, fn, req, resp);
out:
	cJSON_Delete(req);
	return rc;
}

/* ES9+.CancelSession (SGP.22 5.6.5) with the eUICC's signed answer. */
static int cancel_session(struct lpa *l, long reason)
{
	struct buf bf41 = { 0 };
	cJSON *resp = NULL;
	int rc = -1;

	if (euicc_cancel_session(l->e, reason, l->o->cancel_oid, &bf41)) {
		set_error(l, "eUICC could not build CancelSessionResponse");
		goto out;
	}
	log_info("eUICC CancelSession: reason %ld, smdpOid %s%s", reason,
		 l->o->cancel_oid ? l->o->cancel_oid : "of CERT.DPauth",
		 l->e->cfg.bad_cancel_signature ? ", signature CORRUPTED" : "");
	rc = post_with_object(l, "cancelSession", "cancelSessionResponse", &bf41, 0, &resp);
	if (rc == 0) {
		log_info("cancelSession: Executed-Success");
		l->res->cancelled = 1;
		l->res->cancel_reason = reason;
	}
out:
	cJSON_Delete(resp);
	buf_free(&bf41);
	return rc;
}

/* ES9+.HandleNotification (SGP.22 5.6.4): post the PIR, expect 204. */
static int send_pir(struct lpa *l, const struct buf *bf37)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	int rc = -1;

	if (!req || add_b64(req, "pendingNotification", bf37->p, bf37->len)) {
		set_error(l, "handleNotification: out of memory");
		goto out;
	}
	rc = es9_call(l, "handleNotification", req, &resp);
	if (rc == 0)
		log_info("handleNotification: %s", resp ? "Executed-Success (200, expected 204)" :
			 "204 No Content");
out:
	cJSON_Delete(req);
	cJSON_Delete(resp);
	return rc;
}

/* 3.1.2 steps up to authenticateClient. 0 to go on, else stop. */
static int authenticate(struct lpa *l, cJSON **ac_resp)
{
	uint8_t chal[SMDP_CHAL_LEN];
	struct buf info1 = { 0 }, signed1 = { 0 }, sig1 = { 0 }, pkid = { 0 }, cert = { 0 };
	struct buf bf38 = { 0 };
	struct euicc_auth_in ain;
	cJSON *req = NULL, *resp = NULL;
	const char *t;
	char msg[768] = "";
	int rc = -1, er, n;

	*ac_resp = NULL;
	if (euicc_get_challenge(l->e, chal) || euicc_get_info1(l->e, &info1)) {
		set_error(l, "eUICC: cannot make euiccChallenge / EUICCInfo1");
		goto out;
	}
	/* ES9+.InitiateAuthentication (SGP.22 5.6.1) */
	if (!(req = cJSON_CreateObject()) || add_b64(req, "euiccChallenge", chal, sizeof(chal)) ||
	    add_b64(req, "euiccInfo1", info1.p, info1.len) ||
	    !cJSON_AddStringToObject(req, "smdpAddress", l->address)) {
		set_error(l, "initiateAuthentication: out of memory");
		goto out;
	}
	if ((rc = es9_call(l, "initiateAuthentication", req, &resp)))
		goto out;
	rc = -1;
	t = json_str(resp, "transactionId");
	n = t && strlen(t) <= 32 ? hex_decode(t, l->txid, sizeof(l->txid)) : -1;
	if (n <= 0) {
		set_error(l, "initiateAuthentication: missing or bad transactionId");
		goto out;
	}
	l->txid_len = (size_t)n;
	snprintf(l->txid_hex, sizeof(l->txid_hex), "%s", t);
	if (get_b64(l, "initiateAuthentication", resp, "serverSigned1", &signed1) ||
	    get_b64(l, "initiateAuthentication", resp, "serverSignature1", &sig1) ||
	    get_b64(l, "initiateAuthentication", resp, "euiccCiPKIdToBeUsed", &pkid) ||
	    get_b64(l, "initiateAuthentication", resp, "serverCertificate", &cert))
		goto out;
	log_info("initiateAuthentication: transactionId %s, CERT.DPauth %zu bytes", l->txid_hex,
		 cert.len);

	/* ES10b.AuthenticateServer (SGP.22 5.7.13) */
	memset(&ain, 0, sizeof(ain));
	ain.server_signed1 = signed1.p;
	ain.server_signed1_len = signed1.len;
	ain.server_signature1 = sig1.p;
	ain.server_signature1_len = sig1.len;
	ain.ci_pkid = pkid.p;
	ain.ci_pkid_len = pkid.len;
	ain.server_cert = cert.p;
	ain.server_cert_len = cert.len;
	ain.smdp_address = l->address;
	ain.has_matching_id = l->o->has_matching_id;
	ain.matching_id = l->o->matching_id;
	er = euicc_authenticate_server(l->e, &ain, &bf38, msg, sizeof(msg));
	if (er < 0) {
		set_error(l, "eUICC AuthenticateServer: %s", msg);
		goto out;
	}
	if (er > 0) {
		/* an LPA forwards the eUICC's error to the SM-DP+ (SGP.22 3.1.2) */
		log_info("eUICC AuthenticateServer REFUSED (error %d): %s", er, msg);
		cJSON_Delete(resp);
		resp = NULL;
		if (post_with_object(l, "authenticateClient", "authenticateServerResponse", &bf38, 0,
				     &resp) == 0)
			log_info("authenticateClient (error forwarded): Executed-Success");
		set_error(l, "AuthenticateServer: %s", msg);
		goto out;
	}
	log_info("eUICC AuthenticateServer: %s", msg);
	log_info("eUICC: EID %s, matchingId %s%s%s", l->e->eid,
		 l->o->has_matching_id ? "'" : "(absent)",
		 l->o->has_matching_id ? l->o->matching_id : "", l->o->has_matching_id ? "'" : "");

	/* ES9+.AuthenticateClient (SGP.22 5.6.3) */
	cJSON_Delete(resp);
	resp = NULL;
	if (l->o->wrong_txid)
		log_info("authenticateClient: sending an unknown transactionId (--wrong-txid)");
	if ((rc = post_with_object(l, "authenticateClient", "authenticateServerResponse", &bf38,
				   l->o->wrong_txid, &resp)))
		goto out;
	rc = -1;
	if (check_txid(l, "authenticateClient", resp))
		goto out;
	*ac_resp = resp;
	resp = NULL;
	rc = 0;
out:
	cJSON_Delete(req);
	cJSON_Delete(resp);
	buf_free(&info1);
	buf_free(&signed1);
	buf_free(&sig1);
	buf_free(&pkid);
	buf_free(&cert);
	buf_free(&bf38);
	return rc;
}

/* Read profileMetadata from the authenticateClient answer, as an LPA does
 * to show the user what is about to be installed. */
static int read_metadata(struct lpa *l, const cJSON *ac)
{
	struct profile_metadata pm;
	int rc = -1;

	memset(&pm, 0, sizeof(pm));
	if (get_b64(l, "authenticateClient", ac, "profileMetadata", &l->metadata))
		goto out;
	if (der_decode_store_metadata(l->metadata.p, l->metadata.len, &pm) != RSP_OK) {
		set_error(l, "authenticateClient: profileMetadata does not decode");
		goto out;
	}
	euicc_iccid_digits(pm.iccid, 1, l->res->iccid, sizeof(l->res->iccid));
	log_info("authenticateClient: profile '%s' by '%s', ICCID %s, class %s, %zu bytes of "
		 "metadata", pm.name, pm.spn, l->res->iccid,
		 pm.profile_class == 0 ? "test" : pm.profile_class == 1 ? "provisioning" :
		 pm.profile_class == 2 ? "operational" : "operational (default)", l->metadata.len);
	rc = 0;
out:
	buf_free(&pm.icon);
	return rc;
}

/* authenticateClient answer -> PrepareDownload -> getBoundProfilePackage.
 * 0 with the BPP in bpp, else stop. */
static int get_bpp(struct lpa *l, const cJSON *ac, struct buf *bpp)
{
	struct buf signed2 = { 0 }, sig2 = { 0 }, cert = { 0 }, bf21 = { 0 };
	struct euicc_prep_in pin;
	cJSON *resp = NULL;
	char msg[768] = "";
	int rc = -1, er;

	if (get_b64(l, "authenticateClient", ac, "smdpSigned2", &signed2) ||
	    get_b64(l, "authenticateClient", ac, "smdpSignature2", &sig2) ||
	    get_b64(l, "authenticateClient", ac, "smdpCertificate", &cert))
		goto out;

	/* ES10b.PrepareDownload (SGP.22 5.7.5) */
	memset(&pin, 0, sizeof(pin));
	pin.smdp_signed2 = signed2.p;
	pin.smdp_signed2_len = signed2.len;
	pin.smdp_signature2 = sig2.p;
	pin.smdp_signature2_len = sig2.len;
	pin.smdp_cert = cert.p;
	pin.smdp_cert_len = cert.len;
	pin.cc = l->o->cc;
	er = euicc_prepare_download(l->e, &pin, &bf21, msg, sizeof(msg));
	if (er < 0) {
		set_error(l, "eUICC PrepareDownload: %s", msg);
		goto out;
	}
	if (er > 0) {
		log_info("eUICC PrepareDownload REFUSED (error %d): %s", er, msg);
		if (post_with_object(l, "getBoundProfilePackage", "prepareDownloadResponse", &bf21, 0,
				     &resp) == 0)
			log_info("getBoundProfilePackage (error forwarded): Executed-Success");
		set_error(l, "PrepareDownload: %s", msg);
		goto out;
	}
	log_info("eUICC PrepareDownload: %s", msg);

	/* ES9+.GetBoundProfilePackage (SGP.22 5.6.2) */
	if ((rc = post_with_object(l, "getBoundProfilePackage", "prepareDownloadResponse", &bf21,
				   0, &resp)))
		goto out;
	rc = -1;
	if (check_txid(l, "getBoundProfilePackage", resp) ||
	    get_b64(l, "getBoundProfilePackage", resp, "boundProfilePackage", bpp))
		goto out;
	log_info("getBoundProfilePackage: BoundProfilePackage %zu bytes", bpp->len);
	rc = 0;
out:
	cJSON_Delete(resp);
	buf_free(&signed2);
	buf_free(&sig2);
	buf_free(&cert);
	buf_free(&bf21);
	return rc;
}

/* Compare the recovered profile with --expect FILE. */
static int compare_expect(struct lpa *l, const struct buf *profile)
{
	struct buf want = { 0 };
	size_t i, n;
	int rc = -1;

	if (file_read(l->o->expect, SMDP_MAX_PROFILE, &want)) {
		set_error(l, "cannot read --expect file %s", l->o->expect);
		goto out;
	}
	n = want.len < profile->len ? want.len : profile->len;
	for (i = 0; i < n && want.p[i] == profile->p[i]; i++)
		;
	if (i != want.len || i != profile->len) {
		set_error(l, "profile differs from %s at byte %zu (%zu vs %zu bytes)", l->o->expect,
			  i, profile->len, want.len);
		goto out;
	}
	log_info("profile equals %s byte for byte", l->o->expect);
	l->res->expect_match = 1;
	rc = 0;
out:
	buf_free(&want);
	return rc;
}

enum lpa_outcome lpa_download(struct httpc *h, struct euicc *e, const struct lpa_opts *o,
			      struct lpa_result *res)
{
	struct lpa l;
	struct buf bpp = { 0 }, pir = { 0 };
	struct euicc_install inst;
	cJSON *ac = NULL;
	char msg[1024] = "";
	int calls = res->calls, er, ok;

	memset(res, 0, sizeof(*res));
	res->calls = calls;
	res->outcome = LPA_ERROR;   /* until a path completes */
	snprintf(res->message, sizeof(res->message), "download incomplete");
	memset(&l, 0, sizeof(l));
	memset(&inst, 0, sizeof(inst));
	l.h = h;
	l.e = e;
	l.o = o;
	l.res = res;
	l.address = o->override_address[0] ? o->override_address : o->smdp_address;

	if (authenticate(&l, &ac) || read_metadata(&l, ac))
		goto out;
	if (o->cancel && !o->cancel_after_bpp) {   /* --cancel REASON@auth */
		if (cancel_session(&l, o->cancel_reason) == 0)
			res->outcome = LPA_OK;
		goto out;
	}
	if (get_bpp(&l, ac, &bpp))
		goto out;
	if (o->cancel) {   /* --cancel REASON@bpp: instead of loading the BPP */
		if (cancel_session(&l, o->cancel_reason) == 0)
			res->outcome = LPA_OK;
		goto out;
	}

	/* ES10b.LoadBoundProfilePackage (SGP.22 5.7.6, ES8+ 5.5) */
	er = euicc_load_bpp(e, bpp.p, bpp.len, l.metadata.p, l.metadata.len, &inst, msg,
			    sizeof(msg));
	if (er < 0) {
		set_error(&l, "eUICC LoadBoundProfilePackage: %s", msg);
		goto out;
	}
	if (er > 0 && inst.metadata_mismatch) {
		/* the LPA stops before installation (CancelSessionReason 4) */
		log_info("eUICC: %s", msg);
		cancel_session(&l, CANCEL_METADATA_MISMATCH);
		set_error(&l, "metadataMismatch: StoreMetadata in the BPP differs from profileMetadata");
		goto out;
	}
	if (er > 0)
		log_info("eUICC LoadBoundProfilePackage REFUSED (bppCommandId %ld, errorReason %ld): %s",
			 inst.bpp_command_id, inst.error_reason, msg);
	else
		log_info("eUICC LoadBoundProfilePackage: %s", msg);
	res->profile_len = inst.profile.len;
	if (er == 0) {
		/* the installed profile's own ICCID is the one to report */
		euicc_iccid_digits(inst.header_iccid, 0, res->iccid, sizeof(res->iccid));
		if (inst.iccid_plain_bcd) {
			char shown[21];
			euicc_iccid_digits(inst.iccid, 1, shown, sizeof(shown));
			log_warn("profileMetadata ICCID copies the SAIP header bytes (plain BCD); "
				 "SGP.22 Iccid is in EF.ICCID coding (nibble-swapped): an LPA "
				 "shows %s instead of %s", shown, res->iccid);
		}
	}

	/* ProfileInstallationResult (SGP.22 2.5.6) */
	ok = er == 0 && !o->pir_error;
	if (!o->skip_pir && o->pir_delay_ms > 0) {
		struct timespec ts = { o->pir_delay_ms / 1000, (long)(o->pir_delay_ms % 1000) * 1000000L };
		log_info("waiting %d ms before the ProfileInstallationResult", o->pir_delay_ms);
		nanosleep(&ts, NULL);
	}
	if (!o->skip_pir) {
		if (euicc_make_pir(e, ok, ok ? 0 : (er ? inst.bpp_command_id : o->pir_bpp_cmd),
				   ok ? 0 : (er ? inst.error_reason : o->pir_reason),
				   inst.has_iccid ? inst.iccid : NULL, &pir)) {
			set_error(&l, "eUICC could not build the ProfileInstallationResult");
			goto out;
		}
		log_info("eUICC ProfileInstallationResult: %s%s, %zu bytes, signed", ok ? "successResult" :
			 "errorResult", o->pir_error && er == 0 ? " (--pir-error)" : "", pir.len);
		if (send_pir(&l, &pir))
			goto out;
	} else {
		log_info("ProfileInstallationResult not sent (--skip-pir)");
		euicc_session_end(e);
	}
	if (er > 0) {
		set_error(&l, "BPP refused: %s", msg);
		goto out;
	}
	if (o->expect && compare_expect(&l, &inst.profile))
		goto out;
	res->outcome = LPA_OK;
out:
	if (res->outcome == LPA_OK)
		res->message[0] = '\0';
	cJSON_Delete(ac);
	buf_free(&bpp);
	buf_free(&pir);
	buf_free(&l.metadata);
	euicc_install_free(&inst);
	return res->outcome;
}
