/* lpa.c - the LPA of smdp-client: the ES9+ functions (SGP.22 5.6) over the
 * JSON binding (v2.5) or the ASN.1 binding (RemoteProfileProvisioningRequest,
 * as an LPAe / SGP.32 IPAe or eIM speaks it) on httpc, relaying the profile
 * download (3.1.2, 3.1.3) between the SM-DP+ and the software eUICC of
 * euicc.c. Both bindings carry the same DER objects; one exchange struct
 * holds them, one function per binding moves it. */
#include "client.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ES9_PATH    "/gsma/rsp2/es9plus/"
/* httpc adds its own User-Agent (smdp-httpc): a second one would be a
 * duplicate header */
#define ES9_HEADERS "X-Admin-Protocol: gsma/rsp/v2.5.0\r\n"
/* --pause: how long to wait for the go-ahead file, and how often to look */
#define PAUSE_MAX_MS  120000
#define PAUSE_POLL_MS 20
#define SAVE_PATH_LEN 512   /* --save DIR/name */

/* One download in progress. */
struct lpa {
	struct httpc *h;
	struct euicc *e;
	const struct lpa_opts *o;
	struct lpa_result *res;
	const char *address;         /* smdpAddress sent in initiateAuthentication */
	char txid_hex[2 * 16 + 1];   /* transactionId as the SM-DP+ wrote it (JSON) */
	uint8_t txid[16];
	size_t txid_len;
	struct buf metadata;         /* profileMetadata BF25 from authenticateClient */
};

/* One ES9+ call, whichever the binding: the request's objects and the
 * response's fields, each a complete DER TLV (the JSON binding carries the
 * base64 of the same bytes). */
struct xchg {
	enum es9_fn fn;
	const char *name;            /* function name (JSON path, logs, results) */
	/* request */
	const uint8_t *chal;         /* initiateAuthentication: euiccChallenge */
	const struct buf *info1;     /*   EUICCInfo1 BF20 (NULL: left out) */
	const char *address;         /*   smdpAddress (NULL: left out) */
	int wrong_txid;              /* send a transactionId the SM-DP+ never issued */
	const char *field;           /* JSON member name of obj */
	const struct buf *obj;       /* BF38 / BF21 / BF41 / PendingNotification */
	/* response */
	struct es9_asn1_resp r;      /* fields of the Ok answer */
	const char *json_txid;       /* initiateAuthentication, JSON: the text as sent */
	int no_content;              /* the answer was 204 No Content */
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

/* The SM-DP+ reported a failure: result "failed". */
static void set_failed(struct lpa *l, const char *fn, const char *subject, const char *reason,
		       const char *message)
{
	l->res->outcome = LPA_FAILED;
	snprintf(l->res->function, sizeof(l->res->function), "%s", fn);
	snprintf(l->res->subject, sizeof(l->res->subject), "%s", subject);
	snprintf(l->res->reason, sizeof(l->res->reason), "%s", reason);
	snprintf(l->res->message, sizeof(l->res->message), "%s", message);
}

/* --save DIR: write one object of the session as DIR/name, complete or
 * not at all (a temporary file renamed), so that a test waiting for the
 * file never reads half of it. 0 / -1 (res says what). */
static int save_obj(struct lpa *l, const char *name, const uint8_t *p, size_t n)
{
	char path[SAVE_PATH_LEN], tmp[SAVE_PATH_LEN + 8];
	FILE *f = NULL;
	int rc = -1;

	if (!l->o->save_dir)
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", l->o->save_dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		set_error(l, "--save path too long");
		goto out;
	}
	if (!(f = fopen(tmp, "wb")) || (n && fwrite(p, 1, n, f) != n)) {
		set_error(l, "--save: cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fclose(f)) {
		f = NULL;
		set_error(l, "--save: cannot write %s", tmp);
		goto out;
	}
	f = NULL;
	if (rename(tmp, path)) {
		set_error(l, "--save: cannot rename %s: %s", tmp, strerror(errno));
		goto out;
	}
	log_info("saved %s (%zu bytes)", path, n);
	rc = 0;
out:
	if (f)
		fclose(f);
	return rc;
}

/* --pause STEP:FILE: before the call of that step, wait until FILE exists
 * (at most PAUSE_MAX_MS). 0 to go on / -1 (res says what). */
static int pause_before(struct lpa *l, int step, const char *fn)
{
	struct timespec ts = { 0, PAUSE_POLL_MS * 1000000L };
	long waited;

	if (l->o->pause_step != step || !l->o->pause_file)
		return 0;
	log_info("paused before %s until %s exists", fn, l->o->pause_file);
	for (waited = 0; access(l->o->pause_file, F_OK) != 0; waited += PAUSE_POLL_MS) {
		if (waited >= PAUSE_MAX_MS) {
			set_error(l, "--pause: %s did not appear within %d s", l->o->pause_file,
				  PAUSE_MAX_MS / 1000);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	log_info("going on with %s", fn);
	return 0;
}

/* The object to send: a replayed one (--replay-*) instead of the fresh one. */
static const struct buf *pick_obj(const struct buf *replay, const struct buf *fresh,
				  const char *what)
{
	if (!replay)
		return fresh;
	log_info("sending the %s given (%zu bytes) instead of the eUICC's own (replay)", what,
		 replay->len);
	return replay;
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

static void dump_hex(const char *dir, const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "%s %s\n", dir, what);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02X%s", p[i], (i % 32 == 31 || i + 1 == n) ? "\n" : "");
}

/* Names of the error INTEGERs of RemoteProfileProvisioningResponse
 * (RSPDefinitions v2.5, "ES9+ ASN.1 Binding"), for the result line. */
struct err_name { enum es9_fn fn; long v; const char *name; };
static const struct err_name asn1_errors[] = {
	{ ES9_INITIATE_AUTH, 1, "invalidDpAddress" },
	{ ES9_INITIATE_AUTH, 2, "euiccVersionNotSupportedByDp" },
	{ ES9_INITIATE_AUTH, 3, "ciPKNotSupported" },
	{ ES9_AUTH_CLIENT, 1, "eumCertificateInvalid" },
	{ ES9_AUTH_CLIENT, 2, "eumCertificateExpired" },
	{ ES9_AUTH_CLIENT, 3, "euiccCertificateInvalid" },
	{ ES9_AUTH_CLIENT, 4, "euiccCertificateExpired" },
	{ ES9_AUTH_CLIENT, 5, "euiccSignatureInvalid" },
	{ ES9_AUTH_CLIENT, 6, "matchingIdRefused" },
	{ ES9_AUTH_CLIENT, 7, "eidMismatch" },
	{ ES9_AUTH_CLIENT, 8, "noEligibleProfile" },
	{ ES9_AUTH_CLIENT, 9, "ciPKUnknown" },
	{ ES9_AUTH_CLIENT, 10, "invalidTransactionId" },
	{ ES9_AUTH_CLIENT, 11, "insufficientMemory" },
	{ ES9_GET_BPP, 1, "euiccSignatureInvalid" },
	{ ES9_GET_BPP, 2, "confirmationCodeMissing" },
	{ ES9_GET_BPP, 3, "confirmationCodeRefused" },
	{ ES9_GET_BPP, 4, "confirmationCodeRetriesExceeded" },
	{ ES9_GET_BPP, 5, "bppRebindingRefused" },
	{ ES9_GET_BPP, 6, "downloadOrderExpired" },
	{ ES9_GET_BPP, 95, "invalidTransactionId" },
	{ ES9_CANCEL_SESSION, 1, "invalidTransactionId" },
	{ ES9_CANCEL_SESSION, 2, "euiccSignatureInvalid" },
};

static const char *asn1_error_name(enum es9_fn fn, long v)
{
	for (size_t i = 0; i < sizeof(asn1_errors) / sizeof(asn1_errors[0]); i++)
		if (asn1_errors[i].fn == fn && asn1_errors[i].v == v)
			return asn1_errors[i].name;
	return v == 127 ? "undefinedError" : "(unnamed)";
}

/* The transactionId to send: the session's, or one never issued. */
static void txid_for(const struct lpa *l, int wrong, uint8_t t[16])
{
	memcpy(t, l->txid, l->txid_len);
	if (wrong)
		for (size_t i = 0; i < l->txid_len; i++)
			t[i] ^= 0x5A;
}

/* A mandatory base64 member of a JSON response, decoded into out. */
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

/* Add a base64 member to a JSON request. */
static int add_b64(cJSON *o, const char *name, const uint8_t *p, size_t n)
{
	char *s = b64_encode(p, n);
	int rc = s && cJSON_AddStringToObject(o, name, s) ? 0 : -1;

	free(s);
	return rc;
}

/* transactionId of a JSON response (hex, any case) into r; initiateAuthentication
 * makes it the session's, later answers must repeat it (check_txid). */
static int json_txid(struct lpa *l, const struct xchg *x, const cJSON *o, struct es9_asn1_resp *r)
{
	const char *s = json_str(o, "transactionId");
	int n = s && strlen(s) <= 32 ? hex_decode(s, r->txid, sizeof(r->txid)) : -1;

	if (n > 0) {
		r->txid_len = (size_t)n;
		return 0;
	}
	if (x->fn == ES9_INITIATE_AUTH)
		set_error(l, "%s: missing or bad transactionId", x->name);
	else if (!s)
		set_error(l, "%s: response lacks transactionId", x->name);
	else
		set_error(l, "%s: transactionId %.40s is not the session's %s", x->name, s, l->txid_hex);
	return -1;
}

static cJSON *json_request(struct lpa *l, const struct xchg *x)
{
	cJSON *req = cJSON_CreateObject();
	char hex[2 * 16 + 1];
	uint8_t t[16];

	if (!req)
		return NULL;
	if (x->fn == ES9_INITIATE_AUTH) {
		if (add_b64(req, "euiccChallenge", x->chal, SMDP_CHAL_LEN) ||
		    (x->info1 && add_b64(req, "euiccInfo1", x->info1->p, x->info1->len)) ||
		    (x->address && !cJSON_AddStringToObject(req, "smdpAddress", x->address)))
			goto fail;
		return req;
	}
	if (x->fn != ES9_HANDLE_NOTIF) {
		txid_for(l, x->wrong_txid, t);
		hex_encode(t, l->txid_len, hex, sizeof(hex));
		if (!cJSON_AddStringToObject(req, "transactionId", x->wrong_txid ? hex : l->txid_hex))
			goto fail;
	}
	if (add_b64(req, x->field, x->obj->p, x->obj->len))
		goto fail;
	return req;
fail:
	cJSON_Delete(req);
	return NULL;
}

/* The Ok fields of a JSON response into x->r. 0 / -1 (res says what). */
static int json_fields(struct lpa *l, const cJSON *o, struct xchg *x)
{
	struct es9_asn1_resp *r = &x->r;
	const char *fn = x->name;

	switch (x->fn) {
	case ES9_INITIATE_AUTH:
		x->json_txid = json_str(o, "transactionId");
		return json_txid(l, x, o, r) ||
		       get_b64(l, fn, o, "serverSigned1", &r->server_signed1) ||
		       get_b64(l, fn, o, "serverSignature1", &r->server_signature1) ||
		       get_b64(l, fn, o, "euiccCiPKIdToBeUsed", &r->ci_pkid) ||
		       get_b64(l, fn, o, "serverCertificate", &r->server_cert) ? -1 : 0;
	case ES9_AUTH_CLIENT:
		return json_txid(l, x, o, r) ||
		       get_b64(l, fn, o, "profileMetadata", &r->profile_metadata) ||
		       get_b64(l, fn, o, "smdpSigned2", &r->smdp_signed2) ||
		       get_b64(l, fn, o, "smdpSignature2", &r->smdp_signature2) ||
		       get_b64(l, fn, o, "smdpCertificate", &r->smdp_cert) ? -1 : 0;
	case ES9_GET_BPP:
		return json_txid(l, x, o, r) ||
		       get_b64(l, fn, o, "boundProfilePackage", &r->bpp) ? -1 : 0;
	default:
		return 0;
	}
}

/* The exchange over the JSON binding (SGP.22 6.5/6.6). Returns 0 on success
 * (x->r filled; for a 204 nothing), 1 when the SM-DP+ reported a failure
 * (res says which), -1 on a transport or format problem (res says what). */
static int call_json(struct lpa *l, struct xchg *x, cJSON **json_out)
{
	struct buf body = { 0 };
	char *out = NULL, path[96], ct[128] = "", err[256] = "", what[160];
	const cJSON *st, *scd;
	const char *status, *fn = x->name;
	cJSON *req = NULL, *json = NULL;
	int rc = -1, http = 0;

	snprintf(path, sizeof(path), ES9_PATH "%s", fn);
	if (!(req = json_request(l, x)) || !(out = cJSON_PrintUnformatted(req))) {
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
		x->no_content = 1;
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
		if (json_fields(l, json, x))
			goto out;
		l->res->calls++;
		rc = 0;
		goto out;
	}
	/* Failed / Expired: report the statusCodeData as given */
	{
		char msg[256];

		scd = cJSON_GetObjectItemCaseSensitive(st, "statusCodeData");
		snprintf(msg, sizeof(msg), "%s%s%s",
			 json_str(scd, "message") ? json_str(scd, "message") : "",
			 strcmp(status, "Failed") ? " status=" : "",
			 strcmp(status, "Failed") ? status : "");
		set_failed(l, fn, json_str(scd, "subjectCode") ? json_str(scd, "subjectCode") : "-",
			   json_str(scd, "reasonCode") ? json_str(scd, "reasonCode") : "-", msg);
		log_info("%s: SM-DP+ answered %s %s/%s %s", fn, status, l->res->subject,
			 l->res->reason, l->res->message);
	}
	rc = 1;
out:
	/* the JSON text of the transactionId lives in json: keep it for the caller */
	if (json_out && rc == 0) {
		*json_out = json;
		json = NULL;
	}
	cJSON_Delete(json);
	cJSON_Delete(req);
	cJSON_free(out);
	buf_free(&body);
	return rc;
}

/* The exchange over the ASN.1 binding: POST /gsma/rsp2/asn1 with a
 * RemoteProfileProvisioningRequest. Returns as call_json. */
static int call_asn1(struct lpa *l, struct xchg *x)
{
	struct es9_asn1_req rq;
	struct buf req = { 0 }, body = { 0 };
	char ct[128] = "", err[256] = "", what[160];
	const char *fn = x->name;
	int rc = -1, http = 0;

	memset(&rq, 0, sizeof(rq));
	rq.fn = x->fn;
	if (x->fn == ES9_INITIATE_AUTH) {
		memcpy(rq.euicc_challenge, x->chal, SMDP_CHAL_LEN);
		if (x->address)
			snprintf(rq.smdp_address, sizeof(rq.smdp_address), "%s", x->address);
		if (x->info1 && buf_set(&rq.obj, x->info1->p, x->info1->len))
			goto oom;
	} else {
		if (x->fn != ES9_HANDLE_NOTIF) {
			txid_for(l, x->wrong_txid, rq.txid);
			rq.txid_len = l->txid_len;
		}
		if (buf_set(&rq.obj, x->obj->p, x->obj->len))
			goto oom;
	}
	if (l->o->asn1_ext && l->o->asn1_ext->len &&
	    buf_set(&rq.ext, l->o->asn1_ext->p, l->o->asn1_ext->len))
		goto oom;
	if (der_encode_es9_request(&rq, &req)) {
		set_error(l, "%s: cannot encode the RemoteProfileProvisioningRequest", fn);
		goto out;
	}
	if (l->o->verbose)
		dump_hex(">>", ES9P_ASN1_PATH, req.p, req.len);
	if (httpc_post(l->h, ES9P_ASN1_PATH, ES9P_ASN1_CONTENT_TYPE, ES9_HEADERS, req.p, req.len,
		       &http, &body, ct, sizeof(ct), err, sizeof(err))) {
		set_error(l, "%s: transport: %s", fn, err);
		goto out;
	}
	if (l->o->verbose) {
		snprintf(what, sizeof(what), "HTTP %d %s", http, ct);
		dump_hex("<<", what, body.p, body.len);
	}
	if (http == 204 && body.len == 0 && x->fn == ES9_HANDLE_NOTIF) {
		x->no_content = 1;
		l->res->calls++;
		rc = 0;
		goto out;
	}
	if (http != 200) {
		set_error(l, "%s: HTTP status %d", fn, http);
		goto out;
	}
	if (der_decode_es9_response(body.p, body.len, &x->r) != RSP_OK) {
		set_error(l, "%s: response is not a RemoteProfileProvisioningResponse", fn);
		goto out;
	}
	if (x->r.fn != x->fn) {
		set_error(l, "%s: the response answers another function", fn);
		goto out;
	}
	if (x->r.error >= 0) {
		char code[24];

		snprintf(code, sizeof(code), "%ld", x->r.error);
		set_failed(l, fn, "asn1", code, asn1_error_name(x->fn, x->r.error));
		log_info("%s: SM-DP+ answered error %ld (%s)", fn, x->r.error, l->res->message);
		rc = 1;
		goto out;
	}
	l->res->calls++;
	rc = 0;
	goto out;
oom:
	set_error(l, "%s: out of memory", fn);
out:
	es9_asn1_req_free(&rq);
	buf_free(&req);
	buf_free(&body);
	return rc;
}

/* One ES9+ call on the binding chosen; an eIM opens a connection per call. */
static int es9_call(struct lpa *l, struct xchg *x)
{
	cJSON *json = NULL;
	int rc;

	if (l->o->eim)
		httpc_disconnect(l->h);
	if (l->o->binding == LPA_BINDING_ASN1)
		return call_asn1(l, x);
	rc = call_json(l, x, &json);
	if (rc == 0 && x->fn == ES9_INITIATE_AUTH && x->json_txid)
		snprintf(l->txid_hex, sizeof(l->txid_hex), "%s", x->json_txid);
	cJSON_Delete(json);
	return rc;
}

static void xchg_free(struct xchg *x)
{
	es9_asn1_resp_free(&x->r);
}

/* The response's transactionId must be the session's. */
static int check_txid(struct lpa *l, const struct xchg *x)
{
	char hex[2 * 16 + 1];

	if (x->r.txid_len != l->txid_len || memcmp(x->r.txid, l->txid, l->txid_len)) {
		hex_encode(x->r.txid, x->r.txid_len, hex, sizeof(hex));
		set_error(l, "%s: transactionId %s is not the session's %s", x->name, hex, l->txid_hex);
		return -1;
	}
	return 0;
}

/* Post a request that carries one DER object besides the transactionId;
 * returns as es9_call, the answer in x. */
static int post_with_object(struct lpa *l, struct xchg *x, enum es9_fn fn, const char *name,
			    const char *field, const struct buf *obj, int wrong_txid)
{
	memset(x, 0, sizeof(*x));
	x->fn = fn;
	x->name = name;
	x->field = field;
	x->obj = obj;
	x->wrong_txid = wrong_txid;
	return es9_call(l, x);
}

/* ES9+.CancelSession (SGP.22 5.6.5) with the eUICC's signed answer. */
static int cancel_session(struct lpa *l, long reason)
{
	struct buf bf41 = { 0 };
	struct xchg x;
	int rc = -1;

	memset(&x, 0, sizeof(x));
	if (euicc_cancel_session(l->e, reason, l->o->cancel_oid, &bf41)) {
		set_error(l, "eUICC could not build CancelSessionResponse");
		goto out;
	}
	log_info("eUICC CancelSession: reason %ld, smdpOid %s%s", reason,
		 l->o->cancel_oid ? l->o->cancel_oid : "of CERT.DPauth",
		 l->e->cfg.bad_cancel_signature ? ", signature CORRUPTED" : "");
	if (save_obj(l, "csr.der", bf41.p, bf41.len) ||
	    pause_before(l, LPA_PAUSE_CANCEL, "cancelSession"))
		goto out;
	rc = post_with_object(l, &x, ES9_CANCEL_SESSION, "cancelSession", "cancelSessionResponse",
			      pick_obj(l->o->replay_csr, &bf41, "CancelSessionResponse"), 0);
	if (rc == 0) {
		log_info("cancelSession: Executed-Success");
		l->res->cancelled = 1;
		l->res->cancel_reason = reason;
	}
out:
	xchg_free(&x);
	buf_free(&bf41);
	return rc;
}

/* ES9+.HandleNotification (SGP.22 5.6.4): post the PIR, expect 204. */
static int send_pir(struct lpa *l, const struct buf *bf37)
{
	struct xchg x;
	int rc;

	rc = post_with_object(l, &x, ES9_HANDLE_NOTIF, "handleNotification", "pendingNotification",
			      bf37, 0);
	if (rc == 0)
		log_info("handleNotification: %s", x.no_content ? "204 No Content" :
			 "Executed-Success (200, expected 204)");
	xchg_free(&x);
	return rc;
}

/* The device description the LPA adds to ctxParams1 and what it announces
 * in initiateAuthentication: the eUICC's own, or the files given. */
static int euicc_info1_for(struct lpa *l, struct buf *info1)
{
	if (l->o->euicc_info1 && l->o->euicc_info1->len)
		return buf_set(info1, l->o->euicc_info1->p, l->o->euicc_info1->len);
	return euicc_get_info1(l->e, info1);
}

/* 3.1.2 steps up to authenticateClient. 0 to go on, else stop; the
 * authenticateClient answer is left in ac. */
static int authenticate(struct lpa *l, struct xchg *ac)
{
	uint8_t chal[SMDP_CHAL_LEN];
	struct buf info1 = { 0 }, bf38 = { 0 };
	struct euicc_auth_in ain;
	struct xchg ia;
	char msg[768] = "";
	int rc = -1, er;

	memset(&ia, 0, sizeof(ia));
	memset(ac, 0, sizeof(*ac));
	/* an eIM has EUICCInfo1 from an earlier IpaEuiccData: read it first */
	if ((l->o->eim && euicc_info1_for(l, &info1)) || euicc_get_challenge(l->e, chal) ||
	    (!l->o->eim && euicc_info1_for(l, &info1))) {
		set_error(l, "eUICC: cannot make euiccChallenge / EUICCInfo1");
		goto out;
	}
	/* ES9+.InitiateAuthentication (SGP.22 5.6.1) */
	ia.fn = ES9_INITIATE_AUTH;
	ia.name = "initiateAuthentication";
	ia.chal = chal;
	ia.info1 = l->o->omit_euicc_info1 ? NULL : &info1;
	ia.address = l->o->omit_smdp_address ? NULL : l->address;
	if (l->o->omit_euicc_info1 || l->o->omit_smdp_address)
		log_info("initiateAuthentication: leaving out%s%s (an eIM that did not fill "
			 "what ESipa makes optional)", l->o->omit_smdp_address ? " smdpAddress" : "",
			 l->o->omit_euicc_info1 ? " euiccInfo1" : "");
	if ((rc = es9_call(l, &ia)))
		goto out;
	rc = -1;
	memcpy(l->txid, ia.r.txid, ia.r.txid_len);
	l->txid_len = ia.r.txid_len;
	if (l->o->binding == LPA_BINDING_ASN1)
		hex_encode(l->txid, l->txid_len, l->txid_hex, sizeof(l->txid_hex));
	log_info("initiateAuthentication: transactionId %s, CERT.DPauth %zu bytes", l->txid_hex,
		 ia.r.server_cert.len);
	if (save_obj(l, "txid.hex", (const uint8_t *)l->txid_hex, strlen(l->txid_hex)))
		goto out;

	/* ES10b.AuthenticateServer (SGP.22 5.7.13) */
	memset(&ain, 0, sizeof(ain));
	ain.server_signed1 = ia.r.server_signed1.p;
	ain.server_signed1_len = ia.r.server_signed1.len;
	ain.server_signature1 = ia.r.server_signature1.p;
	ain.server_signature1_len = ia.r.server_signature1.len;
	ain.ci_pkid = ia.r.ci_pkid.p;
	ain.ci_pkid_len = ia.r.ci_pkid.len;
	ain.server_cert = ia.r.server_cert.p;
	ain.server_cert_len = ia.r.server_cert.len;
	ain.smdp_address = l->address;
	ain.has_matching_id = l->o->has_matching_id;
	ain.matching_id = l->o->matching_id;
	if (l->o->device_info && l->o->device_info->len) {
		ain.device_info = l->o->device_info->p;
		ain.device_info_len = l->o->device_info->len;
	}
	er = euicc_authenticate_server(l->e, &ain, &bf38, msg, sizeof(msg));
	if (er < 0) {
		set_error(l, "eUICC AuthenticateServer: %s", msg);
		goto out;
	}
	if (save_obj(l, "asr.der", bf38.p, bf38.len))
		goto out;
	if (er > 0) {
		/* an LPA forwards the eUICC's error to the SM-DP+ (SGP.22 3.1.2) */
		log_info("eUICC AuthenticateServer REFUSED (error %d): %s", er, msg);
		if (post_with_object(l, ac, ES9_AUTH_CLIENT, "authenticateClient",
				     "authenticateServerResponse", &bf38, 0) == 0)
			log_info("authenticateClient (error forwarded): Executed-Success");
		set_error(l, "AuthenticateServer: %s", msg);
		goto out;
	}
	log_info("eUICC AuthenticateServer: %s", msg);
	log_info("eUICC: EID %s, matchingId %s%s%s", l->e->eid,
		 l->o->has_matching_id ? "'" : "(absent)",
		 l->o->has_matching_id ? l->o->matching_id : "", l->o->has_matching_id ? "'" : "");

	/* ES9+.AuthenticateClient (SGP.22 5.6.3) */
	if (l->o->wrong_txid)
		log_info("authenticateClient: sending an unknown transactionId (--wrong-txid)");
	if (pause_before(l, LPA_PAUSE_AUTH, "authenticateClient"))
		goto out;
	if ((rc = post_with_object(l, ac, ES9_AUTH_CLIENT, "authenticateClient",
				   "authenticateServerResponse",
				   pick_obj(l->o->replay_asr, &bf38, "AuthenticateServerResponse"),
				   l->o->wrong_txid)))
		goto out;
	rc = check_txid(l, ac);
out:
	xchg_free(&ia);
	buf_free(&info1);
	buf_free(&bf38);
	return rc;
}

/* Read profileMetadata from the authenticateClient answer, as an LPA does
 * to show the user what is about to be installed. */
static int read_metadata(struct lpa *l, const struct xchg *ac)
{
	struct profile_metadata pm;
	int rc = -1;

	memset(&pm, 0, sizeof(pm));
	if (buf_set(&l->metadata, ac->r.profile_metadata.p, ac->r.profile_metadata.len))
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
	if (pm.has_ecall_indication || pm.has_fallback_allowed)
		log_info("authenticateClient: IoT metadata: ecallIndication %s, fallbackAllowed %s",
			 pm.has_ecall_indication ? (pm.ecall_indication ? "TRUE" : "FALSE") : "absent",
			 pm.has_fallback_allowed ? (pm.fallback_allowed ? "TRUE" : "FALSE") : "absent");
	rc = 0;
out:
	buf_free(&pm.icon);
	return rc;
}

/* authenticateClient answer -> PrepareDownload -> getBoundProfilePackage.
 * 0 with the BPP in bpp, else stop. */
static int get_bpp(struct lpa *l, const struct xchg *ac, struct buf *bpp)
{
	struct buf bf21 = { 0 };
	struct euicc_prep_in pin;
	struct xchg x;
	char msg[768] = "";
	int rc = -1, er;

	memset(&x, 0, sizeof(x));
	/* ES10b.PrepareDownload (SGP.22 5.7.5) */
	memset(&pin, 0, sizeof(pin));
	pin.smdp_signed2 = ac->r.smdp_signed2.p;
	pin.smdp_signed2_len = ac->r.smdp_signed2.len;
	pin.smdp_signature2 = ac->r.smdp_signature2.p;
	pin.smdp_signature2_len = ac->r.smdp_signature2.len;
	pin.smdp_cert = ac->r.smdp_cert.p;
	pin.smdp_cert_len = ac->r.smdp_cert.len;
	pin.cc = l->o->cc;
	er = euicc_prepare_download(l->e, &pin, &bf21, msg, sizeof(msg));
	if (er < 0) {
		set_error(l, "eUICC PrepareDownload: %s", msg);
		goto out;
	}
	if (save_obj(l, "pdr.der", bf21.p, bf21.len))
		goto out;
	if (er > 0) {
		log_info("eUICC PrepareDownload REFUSED (error %d): %s", er, msg);
		if (post_with_object(l, &x, ES9_GET_BPP, "getBoundProfilePackage",
				     "prepareDownloadResponse", &bf21, 0) == 0)
			log_info("getBoundProfilePackage (error forwarded): Executed-Success");
		set_error(l, "PrepareDownload: %s", msg);
		goto out;
	}
	log_info("eUICC PrepareDownload: %s", msg);

	/* ES9+.GetBoundProfilePackage (SGP.22 5.6.2) */
	if (pause_before(l, LPA_PAUSE_BPP, "getBoundProfilePackage"))
		goto out;
	if ((rc = post_with_object(l, &x, ES9_GET_BPP, "getBoundProfilePackage",
				   "prepareDownloadResponse",
				   pick_obj(l->o->replay_pdr, &bf21, "PrepareDownloadResponse"), 0)))
		goto out;
	rc = -1;
	if (check_txid(l, &x))
		goto out;
	buf_free(bpp);
	*bpp = x.r.bpp;
	x.r.bpp.p = NULL;
	x.r.bpp.len = 0;
	log_info("getBoundProfilePackage: BoundProfilePackage %zu bytes", bpp->len);
	if (save_obj(l, "bpp.der", bpp->p, bpp->len))
		goto out;
	rc = 0;
out:
	xchg_free(&x);
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
	struct xchg ac;
	char msg[1024] = "";
	int calls = res->calls, er, ok;

	memset(res, 0, sizeof(*res));
	res->calls = calls;
	res->outcome = LPA_ERROR;   /* until a path completes */
	snprintf(res->message, sizeof(res->message), "download incomplete");
	memset(&l, 0, sizeof(l));
	memset(&inst, 0, sizeof(inst));
	memset(&ac, 0, sizeof(ac));
	l.h = h;
	l.e = e;
	l.o = o;
	l.res = res;
	l.address = o->override_address[0] ? o->override_address : o->smdp_address;
	if (o->eim)
		log_info("eIM-style indirect download (SGP.32 ES9+'): EUICCInfo1 read ahead, "
			 "a new connection for every call");

	if (authenticate(&l, &ac) || read_metadata(&l, &ac))
		goto out;
	if (o->cancel && !o->cancel_after_bpp) {   /* --cancel REASON@auth */
		if (cancel_session(&l, o->cancel_reason) == 0)
			res->outcome = LPA_OK;
		goto out;
	}
	if (get_bpp(&l, &ac, &bpp))
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
		if (save_obj(&l, "pir.der", pir.p, pir.len) ||
		    pause_before(&l, LPA_PAUSE_PIR, "handleNotification") || send_pir(&l, &pir))
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
	xchg_free(&ac);
	buf_free(&bpp);
	buf_free(&pir);
	buf_free(&l.metadata);
	euicc_install_free(&inst);
	return res->outcome;
}

enum lpa_outcome lpa_send(struct httpc *h, const struct lpa_opts *o, enum es9_fn fn,
			  const uint8_t *txid, size_t txid_len, const struct buf *obj,
			  struct lpa_result *res)
{
	static const struct {
		enum es9_fn fn;
		const char *name, *field;
	} calls[] = {
		{ ES9_AUTH_CLIENT, "authenticateClient", "authenticateServerResponse" },
		{ ES9_GET_BPP, "getBoundProfilePackage", "prepareDownloadResponse" },
		{ ES9_CANCEL_SESSION, "cancelSession", "cancelSessionResponse" },
		{ ES9_HANDLE_NOTIF, "handleNotification", "pendingNotification" },
	};
	struct lpa l;
	struct xchg x;
	size_t i;

	memset(res, 0, sizeof(*res));
	memset(&l, 0, sizeof(l));
	memset(&x, 0, sizeof(x));
	res->outcome = LPA_ERROR;
	l.h = h;
	l.o = o;
	l.res = res;
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]) && calls[i].fn != fn; i++)
		;
	if (i == sizeof(calls) / sizeof(calls[0]) || !obj || !obj->len ||
	    (fn != ES9_HANDLE_NOTIF && (txid_len == 0 || txid_len > sizeof(l.txid)))) {
		set_error(&l, "send: unsupported function, or no object / transactionId");
		goto out;
	}
	memcpy(l.txid, txid, txid_len);
	l.txid_len = txid_len;
	hex_encode(l.txid, l.txid_len, l.txid_hex, sizeof(l.txid_hex));
	log_info("%s: sending %zu bytes of %s with transactionId %s", calls[i].name, obj->len,
		 calls[i].field, fn == ES9_HANDLE_NOTIF ? "(none)" : l.txid_hex);
	if (post_with_object(&l, &x, fn, calls[i].name, calls[i].field, obj, 0) == 0) {
		log_info("%s: %s", calls[i].name, x.no_content ? "204 No Content" : "Executed-Success");
		if (fn == ES9_GET_BPP && save_obj(&l, "bpp.der", x.r.bpp.p, x.r.bpp.len))
			goto out;
		res->outcome = LPA_OK;
		res->message[0] = '\0';
	}
out:
	xchg_free(&x);
	return res->outcome;
}
