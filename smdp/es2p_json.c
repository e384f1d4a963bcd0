/* es2p_json.c - the ES2+ JSON binding (SGP.22 6.5 common rules, 5.3
 * functions): HTTP request -> operator identification -> C structs ->
 * es2p_* -> JSON response; and the body of the handleDownloadProgressInfo
 * requests smdp sends to operators. One skeleton, a table of functions. */
#include "smdp.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ES2_PREFIX "/gsma/rsp2/es2plus/"
/* ES2+ bodies nest two levels (header, notificationPointStatus); deeper
 * input is refused before cJSON's recursive parser sees it. */
#define ES2_MAX_JSON_DEPTH 8
#define ADMIN_PROTOCOL "gsma/rsp/v2.5.0"
#define ES2_MAX_FINAL_STATUS 16   /* "Available" / "Unavailable" (SGP.22 5.3.3) */

/* --- decoding helpers: every field bounded, every failure a status --- */

/* Optional string member: RSP_OK with *out NULL when absent. */
static enum rsp_status opt_str(const cJSON *o, const char *name, size_t max, const char **out)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);

	*out = NULL;
	if (!f)
		return RSP_OK;
	if (!cJSON_IsString(f) || strlen(f->valuestring) > max)
		return RSP_ERR_INVALID_REQUEST;
	*out = f->valuestring;
	return RSP_OK;
}

static enum rsp_status req_str(const cJSON *o, const char *name, size_t max, const char **out)
{
	enum rsp_status st = opt_str(o, name, max, out);

	if (st == RSP_OK && !*out)
		return RSP_ERR_MISSING_ELEMENT;
	return st;
}

/* Printable ASCII without the activation code delimiter '$' (SGP.22 4.1):
 * what may go into an activation code or a log line. */
static int ac_safe(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e || *s == '$')
			return 0;
	return 1;
}

static enum rsp_status get_iccid(const cJSON *o, int mandatory, char out[SMDP_ICCID_LEN + 1])
{
	const char *v;
	enum rsp_status st = (mandatory ? req_str : opt_str)(o, "iccid", SMDP_ICCID_LEN, &v);

	out[0] = '\0';
	if (st || !v)
		return st;
	return orders_iccid_norm(v, out) ? RSP_OK : RSP_ERR_INVALID_REQUEST;
}

/* EID: 32 decimal digits (SGP.22 5.3.1). */
static enum rsp_status get_eid(const cJSON *o, char out[SMDP_EID_LEN + 1])
{
	const char *v;
	enum rsp_status st = opt_str(o, "eid", SMDP_EID_LEN, &v);

	out[0] = '\0';
	if (st || !v)
		return st;
	if (strlen(v) != SMDP_EID_LEN)
		return RSP_ERR_INVALID_REQUEST;
	for (const char *p = v; *p; p++)
		if (!isdigit((unsigned char)*p))
			return RSP_ERR_INVALID_REQUEST;
	str_copy(out, SMDP_EID_LEN + 1, v);
	return RSP_OK;
}

/* matchingId: present (possibly "", the default SM-DP+ case) or absent. */
static enum rsp_status get_matching_id(const cJSON *o, int *has, char out[SMDP_MAX_MATCHING_ID + 1])
{
	const char *v;
	enum rsp_status st = opt_str(o, "matchingId", SMDP_MAX_MATCHING_ID, &v);

	*has = 0;
	out[0] = '\0';
	if (st || !v)
		return st;
	if (!ac_safe(v))
		return RSP_ERR_INVALID_REQUEST;
	*has = 1;
	str_copy(out, SMDP_MAX_MATCHING_ID + 1, v);
	return RSP_OK;
}

/* Printable ASCII (header fields end up in logs). */
static int printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

/* --- encoding helpers --- */

/* ICCID as ES2+ carries it: 20 characters, a 19-digit one F-padded. */
static int put_iccid(cJSON *o, const char *iccid)
{
	char v[SMDP_ICCID_LEN + 2];

	snprintf(v, sizeof(v), "%s%s", iccid, strlen(iccid) == 19 ? "F" : "");
	return cJSON_AddStringToObject(o, "iccid", v) ? 0 : -1;
}

/* functionExecutionStatus (SGP.22 6.5.1.4) into obj. */
static int put_status(cJSON *obj, const char *subject, const char *reason, const char *message)
{
	cJSON *scd;

	if (!subject || !subject[0])
		return cJSON_AddStringToObject(obj, "status", "Executed-Success") ? 0 : -1;
	if (!cJSON_AddStringToObject(obj, "status", "Failed") ||
	    !(scd = cJSON_AddObjectToObject(obj, "statusCodeData")) ||
	    !cJSON_AddStringToObject(scd, "subjectCode", subject) ||
	    !cJSON_AddStringToObject(scd, "reasonCode", reason) ||
	    (message && message[0] && !cJSON_AddStringToObject(scd, "message", message)))
		return -1;
	return 0;
}

/* --- the four functions: decode, call, encode --- */

struct es2_call {
	struct smdp *d;
	const struct operator_cfg *op;
	const char *call_id;
	const cJSON *rq;
	cJSON *rs;
};

static enum rsp_status run_download_order(struct es2_call *c)
{
	struct es2_download_order in;
	char iccid[SMDP_ICCID_LEN + 1];
	const char *pt;
	enum rsp_status st;

	memset(&in, 0, sizeof(in));
	if ((st = get_eid(c->rq, in.eid)) || (st = get_iccid(c->rq, 0, in.iccid)) ||
	    (st = opt_str(c->rq, "profileType", SMDP_MAX_PROFILE_TYPE, &pt)))
		return st;
	if (pt && !pt[0])
		return RSP_ERR_INVALID_REQUEST;
	str_copy(in.profile_type, sizeof(in.profile_type), pt ? pt : "");
	st = es2p_download_order(c->d, c->op, c->call_id, &in, iccid);
	if (st)
		return st;
	return put_iccid(c->rs, iccid) ? RSP_ERR_INTERNAL : RSP_OK;
}

static enum rsp_status run_confirm_order(struct es2_call *c)
{
	struct es2_confirm_order in;
	struct es2_confirm_result out;
	const cJSON *rf = cJSON_GetObjectItemCaseSensitive(c->rq, "releaseFlag");
	const char *cc, *smds;
	enum rsp_status st;

	memset(&in, 0, sizeof(in));
	if ((st = get_iccid(c->rq, 1, in.iccid)) || (st = get_eid(c->rq, in.eid)) ||
	    (st = get_matching_id(c->rq, &in.has_matching_id, in.matching_id)) ||
	    (st = opt_str(c->rq, "confirmationCode", SMDP_MAX_CC, &cc)) ||
	    (st = opt_str(c->rq, "smdsAddress", SMDP_MAX_ADDRESS, &smds)))
		goto out;
	if (!rf) {
		st = RSP_ERR_MISSING_ELEMENT;
		goto out;
	}
	if (!cJSON_IsBool(rf) || (cc && !cc[0]) || (smds && (!smds[0] || !ac_safe(smds)))) {
		st = RSP_ERR_INVALID_REQUEST;
		goto out;
	}
	in.release = cJSON_IsTrue(rf);
	in.has_cc = cc != NULL;
	str_copy(in.cc, sizeof(in.cc), cc ? cc : "");
	str_copy(in.smds_address, sizeof(in.smds_address), smds ? smds : "");
	st = es2p_confirm_order(c->d, c->op, c->call_id, &in, &out);
	if (st)
		goto out;
	/* output: eid (if known), matchingId, smdpAddress (SGP.22 5.3.2) */
	if ((out.eid[0] && !cJSON_AddStringToObject(c->rs, "eid", out.eid)) ||
	    !cJSON_AddStringToObject(c->rs, "matchingId", out.matching_id) ||
	    !cJSON_AddStringToObject(c->rs, "smdpAddress", out.smdp_address))
		st = RSP_ERR_INTERNAL;
out:
	/* the confirmation code lives only for this call */
	crypto_cleanse(in.cc, sizeof(in.cc));
	return st;
}

static enum rsp_status run_cancel_order(struct es2_call *c)
{
	struct es2_cancel_order in;
	const char *fin;
	enum rsp_status st;

	memset(&in, 0, sizeof(in));
	if ((st = get_iccid(c->rq, 1, in.iccid)) || (st = get_eid(c->rq, in.eid)) ||
	    (st = get_matching_id(c->rq, &in.has_matching_id, in.matching_id)) ||
	    (st = req_str(c->rq, "finalProfileStatusIndicator", ES2_MAX_FINAL_STATUS, &fin)))
		return st;
	if (!strcmp(fin, "Available"))
		in.final_state = PS_AVAILABLE;
	else if (!strcmp(fin, "Unavailable"))
		in.final_state = PS_UNAVAILABLE;
	else
		return RSP_ERR_INVALID_REQUEST;
	return es2p_cancel_order(c->d, c->op, c->call_id, &in);
}

static enum rsp_status run_release_profile(struct es2_call *c)
{
	char iccid[SMDP_ICCID_LEN + 1];
	enum rsp_status st = get_iccid(c->rq, 1, iccid);

	if (st)
		return st;
	return es2p_release_profile(c->d, c->op, c->call_id, iccid);
}

static const struct es2_route {
	const char *name;
	enum rsp_status (*run)(struct es2_call *c);
} routes[] = {
	{ "downloadOrder", run_download_order },     /* 5.3.1 */
	{ "confirmOrder", run_confirm_order },       /* 5.3.2 */
	{ "cancelOrder", run_cancel_order },         /* 5.3.3 */
	{ "releaseProfile", run_release_profile },   /* 5.3.4 */
};

static void plain_error(struct http_response *rs, int status, const char *msg)
{
	rs->status = status;
	snprintf(rs->content_type, sizeof(rs->content_type), "text/plain");
	buf_set(&rs->body, msg, strlen(msg));
}

/* The request header (SGP.22 6.5.1.3): who calls, which call. */
static enum rsp_status read_header(const cJSON *in, const char **requester, const char **call_id)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(in, "header");
	enum rsp_status st;

	if (!h)
		return RSP_ERR_MISSING_ELEMENT;
	if (!cJSON_IsObject(h))
		return RSP_ERR_INVALID_REQUEST;
	if ((st = req_str(h, "functionRequesterIdentifier", SMDP_MAX_OP_ID, requester)) ||
	    (st = req_str(h, "functionCallIdentifier", SMDP_MAX_CALL_ID, call_id)))
		return st;
	/* both end up in logs */
	return printable(*requester) && printable(*call_id) ? RSP_OK : RSP_ERR_INVALID_REQUEST;
}

void es2p_json_handle(struct smdp *d, const struct http_request *rq, struct http_response *rs)
{
	const struct es2_route *r = NULL;
	const char *fn = rq->path + strlen(ES2_PREFIX), *requester = "", *call_id = "";
	struct es2_call c;
	cJSON *in = NULL, *out = NULL, *fields = NULL, *hdr, *fes;
	enum rsp_status st;
	char *text = NULL;

	memset(&c, 0, sizeof(c));
	snprintf(rs->admin_protocol, sizeof(rs->admin_protocol), ADMIN_PROTOCOL);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(fn, routes[i].name))
			r = &routes[i];
	if (!r) {
		plain_error(rs, 404, "unknown ES2+ function\n");
		goto out;
	}
	if (strcmp(rq->method, "POST")) {
		plain_error(rs, 405, "ES2+ functions take POST\n");
		goto out;
	}
	if (strncasecmp(rq->content_type, "application/json", 16)) {
		plain_error(rs, 415, "Content-Type must be application/json\n");
		goto out;
	}
	if (json_depth(rq->body, rq->body_len) <= ES2_MAX_JSON_DEPTH)
		in = cJSON_ParseWithLength((const char *)rq->body, rq->body_len);
	if (!in || !cJSON_IsObject(in)) {
		plain_error(rs, 400, "body is not a JSON object\n");
		goto out;
	}
	fields = cJSON_CreateObject();
	if (!fields) {
		plain_error(rs, 500, "out of memory\n");
		goto out;
	}
	c.d = d;
	c.rq = in;
	c.rs = fields;
	if (rq->admin_protocol[0] && strncmp(rq->admin_protocol, "gsma/rsp/v2.", 12))
		st = RSP_ERR_UNSUPPORTED_PROTOCOL;
	else if (!(st = read_header(in, &requester, &call_id)) &&
		 !(st = es2p_identify(d, requester, rq->client_cert, rq->client_cert_len, &c.op))) {
		c.call_id = call_id;
		st = r->run(&c);
	}
	if (st != RSP_OK) {
		const struct rsp_status_info *i = rsp_status_info(st);
		log_info("ES2+ %s from '%s' (%s) -> %s/%s %s", r->name, requester, call_id,
			 i->subject, i->reason, i->name);
	}
	/* header first, then the function's fields; failures: header only */
	out = cJSON_CreateObject();
	hdr = out ? cJSON_AddObjectToObject(out, "header") : NULL;
	fes = hdr ? cJSON_AddObjectToObject(hdr, "functionExecutionStatus") : NULL;
	if (!fes || put_status(fes, st ? rsp_status_info(st)->subject : NULL,
			       rsp_status_info(st)->reason, rsp_status_info(st)->message)) {
		plain_error(rs, 500, "out of memory\n");
		goto out;
	}
	while (st == RSP_OK && fields->child) {
		cJSON *f = cJSON_DetachItemViaPointer(fields, fields->child);
		cJSON_AddItemToObject(out, f->string, f);
	}
	if (!(text = cJSON_PrintUnformatted(out))) {
		plain_error(rs, 500, "out of memory\n");
		goto out;
	}
	rs->status = 200;
	snprintf(rs->content_type, sizeof(rs->content_type), "application/json;charset=UTF-8");
	if (buf_set(&rs->body, text, strlen(text)))
		plain_error(rs, 500, "out of memory\n");
out:
	free(text);
	cJSON_Delete(in);
	cJSON_Delete(out);
	cJSON_Delete(fields);
}

/* ------------------------------------------------------------------ */
/* handleDownloadProgressInfo (SGP.22 5.3.5), SM-DP+ -> operator */

int es2p_json_progress(const struct smdp_config *cfg, const struct op_notification *n,
		       struct buf *out)
{
	cJSON *o = cJSON_CreateObject(), *h, *nps;
	char call_id[32], ts[32], *text = NULL, *b64 = NULL;
	time_t t = (time_t)n->time;
	struct tm tm;
	int rc = -1;

	snprintf(call_id, sizeof(call_id), "smdp-%lld", (long long)n->id);
	/* timestamp: YYYY-MM-DDThh:mm:ssTZD (W3C), in UTC */
	if (!gmtime_r(&t, &tm) || !strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm))
		goto out;
	if (!o || !(h = cJSON_AddObjectToObject(o, "header")) ||
	    !cJSON_AddStringToObject(h, "functionRequesterIdentifier",
				     cfg->requester_id[0] ? cfg->requester_id : cfg->fqdn) ||
	    !cJSON_AddStringToObject(h, "functionCallIdentifier", call_id) ||
	    (n->eid[0] && !cJSON_AddStringToObject(o, "eid", n->eid)) ||
	    put_iccid(o, n->iccid) ||
	    !cJSON_AddStringToObject(o, "profileType", n->profile_type) ||
	    !cJSON_AddStringToObject(o, "timestamp", ts) ||
	    !cJSON_AddNumberToObject(o, "notificationPointId", n->point) ||
	    !(nps = cJSON_AddObjectToObject(o, "notificationPointStatus")) ||
	    put_status(nps, n->subject, n->reason, n->message))
		goto out;
	if (n->result_data.len) {
		b64 = b64_encode(n->result_data.p, n->result_data.len);
		if (!b64 || !cJSON_AddStringToObject(o, "resultData", b64))
			goto out;
	}
	text = cJSON_PrintUnformatted(o);
	if (!text || buf_set(out, text, strlen(text)))
		goto out;
	rc = 0;
out:
	free(text);
	free(b64);
	cJSON_Delete(o);
	return rc;
}
