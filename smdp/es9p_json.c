/* es9p_json.c - the ES9+ JSON binding (SGP.22 6.5 common rules, 6.6.x
 * functions): HTTP request -> C structs -> es9p_* -> JSON response. One
 * skeleton for all five functions, driven by a table. */
#include "smdp.h"
#include "lab.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ES9_PREFIX "/gsma/rsp2/es9plus/"
/* ES9+ bodies nest two levels (header object); anything deeper is refused
 * before cJSON's recursive parser sees it (worker stacks are small). */
#define ES9_MAX_JSON_DEPTH 8
#define ADMIN_PROTOCOL "gsma/rsp/v2.5.0"

/* --- decoding helpers: every field bounded, every failure a status --- */

static enum rsp_status get_str(const cJSON *o, const char *name, size_t max, const char **out)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!f)
		return RSP_ERR_MISSING_ELEMENT;
	if (!cJSON_IsString(f) || strlen(f->valuestring) > max)
		return RSP_ERR_INVALID_REQUEST;
	*out = f->valuestring;
	return RSP_OK;
}

static enum rsp_status get_b64(const cJSON *o, const char *name, struct buf *out)
{
	const char *s;
	enum rsp_status st = get_str(o, name, SMDP_MAX_B64, &s);

	if (st)
		return st;
	if (b64_decode(s, strlen(s), out) || out->len == 0)
		return RSP_ERR_INVALID_REQUEST;
	return RSP_OK;
}

/* transactionId: hex text of 1..16 bytes, either case (SGP.22 6.5.2.1) */
static enum rsp_status get_txid(const cJSON *o, uint8_t txid[16], size_t *len)
{
	const char *s;
	enum rsp_status st = get_str(o, "transactionId", 32, &s);
	int n;

	if (st)
		return st;
	n = hex_decode(s, txid, 16);
	if (n < 1)
		return RSP_ERR_INVALID_REQUEST;
	*len = (size_t)n;
	return RSP_OK;
}

/* --- encoding helpers --- */

/* A base64 field goes in as raw JSON text, quotes included: the alphabet
 * needs no escaping, and cJSON prints a raw value with one copy where a
 * string is scanned twice for escapes (for the 27 KB boundProfilePackage
 * of a TS.48 profile, about 4% of the server's instructions per download).
 * The encoded text becomes the item's own (cJSON frees it with free(), its
 * default allocator, which smdp never replaces). */
static int put_b64(cJSON *o, const char *name, const uint8_t *p, size_t n)
{
	char *s = b64_encode_quoted(p, n);
	cJSON *item = s ? cJSON_CreateRaw("") : NULL;

	if (!item) {
		free(s);
		return -1;
	}
	cJSON_free(item->valuestring);
	item->valuestring = s;
	return cJSON_AddItemToObject(o, name, item) ? 0 : -1;
}

/* A value wrapped in a short TLV header (5F37 40 signature, 04 14 SKI). */
static int put_b64_tlv(cJSON *o, const char *name, const uint8_t *hdr, size_t hl,
		       const uint8_t *p, size_t n)
{
	struct buf b = { 0 };
	int rc = -1;

	if (buf_set(&b, hdr, hl) || buf_append(&b, p, n))
		goto out;
	rc = put_b64(o, name, b.p, b.len);
out:
	buf_free(&b);
	return rc;
}

static int put_txid(cJSON *o, const uint8_t *txid, size_t n)
{
	char hex[33];

	hex_encode(txid, n, hex, sizeof(hex));
	return cJSON_AddStringToObject(o, "transactionId", hex) ? 0 : -1;
}

static const uint8_t sig_hdr[3] = { 0x5F, 0x37, 0x40 };

/* --- the five functions: decode, call, encode --- */

static enum rsp_status run_initiate_auth(struct smdp *d, const cJSON *rq, int port, cJSON *rs,
				 struct lab_call *lc)
{
	struct es9_ia_req in;
	struct es9_ia_resp out;
	struct buf chal = { 0 }, info1 = { 0 };
	const char *addr;
	uint8_t ski_hdr[2] = { 0x04, 0 };
	enum rsp_status st;

	memset(&in, 0, sizeof(in));
	in.after = lab_call_after(lc);   /* lab: the session as the call left it */
	memset(&out, 0, sizeof(out));
	if ((st = get_b64(rq, "euiccChallenge", &chal)) ||
	    (st = get_b64(rq, "euiccInfo1", &info1)) ||
	    (st = get_str(rq, "smdpAddress", SMDP_MAX_ADDRESS, &addr)))
		goto out;
	if (chal.len != SMDP_CHAL_LEN) {
		st = RSP_ERR_INVALID_REQUEST;
		goto out;
	}
	if ((st = der_decode_euicc_info1(info1.p, info1.len, &in.info1)))
		goto out;
	memcpy(in.euicc_challenge, chal.p, SMDP_CHAL_LEN);
	str_copy(in.smdp_address, sizeof(in.smdp_address), addr);
	in.port = port;
	if ((st = es9p_initiate_authentication(d, &in, &out)))
		goto out;
	ski_hdr[1] = (uint8_t)out.ci.len;
	st = RSP_ERR_INTERNAL;
	if (put_txid(rs, out.txid, out.txid_len) ||
	    put_b64(rs, "serverSigned1", out.server_signed1.p, out.server_signed1.len) ||
	    put_b64_tlv(rs, "serverSignature1", sig_hdr, 3, out.server_signature1, SMDP_SIG_LEN) ||
	    put_b64_tlv(rs, "euiccCiPKIdToBeUsed", ski_hdr, 2, out.ci.id, out.ci.len) ||
	    put_b64(rs, "serverCertificate", out.server_cert, out.server_cert_len))
		goto out;
	lab_call_txid(lc, out.txid, out.txid_len);   /* the trace's key */
	st = RSP_OK;
out:
	buf_free(&chal);
	buf_free(&info1);
	es9_ia_resp_free(&out);
	return st;
}

static enum rsp_status run_authenticate_client(struct smdp *d, const cJSON *rq, int port,
					       cJSON *rs, struct lab_call *lc)
{
	struct es9_ac_req in;
	struct es9_ac_resp out;
	struct buf asr = { 0 };
	enum rsp_status st;

	(void)port;
	memset(&in, 0, sizeof(in));
	in.after = lab_call_after(lc);   /* lab: the session as the call left it */
	memset(&out, 0, sizeof(out));
	if ((st = get_txid(rq, in.txid, &in.txid_len)) ||
	    (st = get_b64(rq, "authenticateServerResponse", &asr)) ||
	    (st = der_decode_auth_server_resp(asr.p, asr.len, &in.asr)) ||
	    (st = es9p_authenticate_client(d, &in, &out)))
		goto out;
	st = RSP_ERR_INTERNAL;
	if (put_txid(rs, out.txid, out.txid_len) ||
	    put_b64(rs, "profileMetadata", out.profile_metadata.p, out.profile_metadata.len) ||
	    put_b64(rs, "smdpSigned2", out.smdp_signed2.p, out.smdp_signed2.len) ||
	    put_b64_tlv(rs, "smdpSignature2", sig_hdr, 3, out.smdp_signature2, SMDP_SIG_LEN) ||
	    put_b64(rs, "smdpCertificate", out.smdp_cert, out.smdp_cert_len))
		goto out;
	st = RSP_OK;
out:
	buf_free(&asr);
	auth_server_resp_free(&in.asr);
	es9_ac_resp_free(&out);
	return st;
}

static enum rsp_status run_get_bpp(struct smdp *d, const cJSON *rq, int port, cJSON *rs,
				 struct lab_call *lc)
{
	struct es9_gbpp_req in;
	struct es9_gbpp_resp out;
	struct buf pdr = { 0 };
	enum rsp_status st;

	(void)port;
	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	in.fault = lab_call_bpp_fault(lc);   /* lab: a BPP wrong on purpose, NULL none */
	in.after = lab_call_after(lc);
	if ((st = get_txid(rq, in.txid, &in.txid_len)) ||
	    (st = get_b64(rq, "prepareDownloadResponse", &pdr)) ||
	    (st = der_decode_prepare_download_resp(pdr.p, pdr.len, &in.pdr)) ||
	    (st = es9p_get_bpp(d, &in, &out)))
		goto out;
	st = RSP_ERR_INTERNAL;
	if (put_txid(rs, out.txid, out.txid_len) ||
	    put_b64(rs, "boundProfilePackage", out.bpp.p, out.bpp.len))
		goto out;
	lab_call_bpp(lc, out.txid, out.txid_len, out.bpp.p, out.bpp.len);   /* the trace's summary */
	st = RSP_OK;
out:
	buf_free(&pdr);
	prepare_download_resp_free(&in.pdr);
	es9_gbpp_resp_free(&out);
	return st;
}

static enum rsp_status run_handle_notification(struct smdp *d, const cJSON *rq, int port,
					       cJSON *rs, struct lab_call *lc)
{
	struct pending_notification pn;
	struct buf raw = { 0 };
	enum rsp_status st;

	(void)port;
	(void)rs;
	memset(&pn, 0, sizeof(pn));
	if ((st = get_b64(rq, "pendingNotification", &raw)) ||
	    (st = der_decode_pending_notification(raw.p, raw.len, &pn))) {
		log_info("handleNotification: undecodable pendingNotification (%s)",
			 rsp_status_info(st)->name);
		goto out;
	}
	es9p_handle_notification(d, raw.p, raw.len, &pn, lab_call_after(lc));
out:
	buf_free(&raw);
	pending_notification_free(&pn);
	return st;
}

static enum rsp_status run_cancel_session(struct smdp *d, const cJSON *rq, int port, cJSON *rs,
				 struct lab_call *lc)
{
	struct es9_cs_req in;
	struct buf csr = { 0 };
	enum rsp_status st;

	(void)port;
	(void)rs;
	memset(&in, 0, sizeof(in));
	in.after = lab_call_after(lc);   /* lab: the session as the call left it */
	if ((st = get_txid(rq, in.txid, &in.txid_len)) ||
	    (st = get_b64(rq, "cancelSessionResponse", &csr)) ||
	    (st = der_decode_cancel_session_resp(csr.p, csr.len, &in.csr)))
		goto out;
	st = es9p_cancel_session(d, &in);
out:
	buf_free(&csr);
	cancel_session_resp_free(&in.csr);
	return st;
}

/* The function table: path, handler, and whether it answers 204 (5.6.4). */
static const struct es9_route {
	const char *name;
	enum rsp_status (*run)(struct smdp *d, const cJSON *rq, int port, cJSON *rs,
			       struct lab_call *lc);   /* lc: lab hooks (lab.h), may be NULL */
	int no_content;
} routes[] = {
	{ "initiateAuthentication", run_initiate_auth, 0 },
	{ "authenticateClient", run_authenticate_client, 0 },
	{ "getBoundProfilePackage", run_get_bpp, 0 },
	{ "handleNotification", run_handle_notification, 1 },
	{ "cancelSession", run_cancel_session, 0 },
};

/* Bytes to print a response object into: its fields' names and text (the
 * base64 fields are raw text) with room for the punctuation, the header
 * and numbers; cJSON grows the buffer should it be short. */
static int print_size(const cJSON *o)
{
	size_t n = 256;

	for (const cJSON *c = o->child; c; c = c->next) {
		n += 8 + (c->string ? strlen(c->string) : 0);
		if ((cJSON_IsString(c) || cJSON_IsRaw(c)) && c->valuestring)
			n += strlen(c->valuestring);
		else if (cJSON_IsObject(c))
			n += 512;   /* the header */
	}
	return n > INT_MAX ? INT_MAX : (int)n;
}

static void plain_error(struct http_response *rs, int status, const char *msg)
{
	rs->status = status;
	snprintf(rs->content_type, sizeof(rs->content_type), "text/plain");
	buf_set(&rs->body, msg, strlen(msg));
}

/* functionExecutionStatus header (SGP.22 6.5.1.4); failures carry only it. */
static cJSON *status_header(cJSON *root, enum rsp_status st)
{
	cJSON *hdr = cJSON_AddObjectToObject(root, "header");
	cJSON *fes = hdr ? cJSON_AddObjectToObject(hdr, "functionExecutionStatus") : NULL;

	if (!fes)
		return NULL;
	if (st == RSP_OK) {
		cJSON_AddStringToObject(fes, "status", "Executed-Success");
	} else {
		const struct rsp_status_info *i = rsp_status_info(st);
		cJSON *scd;
		cJSON_AddStringToObject(fes, "status", "Failed");
		scd = cJSON_AddObjectToObject(fes, "statusCodeData");
		if (!scd)
			return NULL;
		cJSON_AddStringToObject(scd, "subjectCode", i->subject);
		cJSON_AddStringToObject(scd, "reasonCode", i->reason);
		cJSON_AddStringToObject(scd, "message", i->message);
	}
	return hdr;
}

void es9p_json_handle(struct smdp *d, const struct http_request *rq, int port,
		      struct http_response *rs)
{
	const struct es9_route *r = NULL;
	const char *fn = rq->path + strlen(ES9_PREFIX);
	cJSON *in = NULL, *out = NULL, *fields = NULL;
	struct lab_call *lc = NULL;
	enum rsp_status st;
	char *text = NULL;

	snprintf(rs->admin_protocol, sizeof(rs->admin_protocol), ADMIN_PROTOCOL);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(fn, routes[i].name))
			r = &routes[i];
	if (!r) {
		plain_error(rs, 404, "unknown ES9+ function\n");
		goto out;
	}
	/* lab (lab.h): trace, faults, metrics; NULL and no-ops when d->lab is */
	/* parsed first, so the lab reads the request's keys from this parse */
	if (json_depth(rq->body, rq->body_len) <= ES9_MAX_JSON_DEPTH)
		in = cJSON_ParseWithLength((const char *)rq->body, rq->body_len);
	lc = lab_call_begin(d->lab, d, (enum es9_fn)(r - routes), LAB_JSON, rq, in);
	if (lab_call_answer(lc, rs))
		goto out;
	if (strcmp(rq->method, "POST")) {
		plain_error(rs, 405, "ES9+ functions take POST\n");
		goto out;
	}
	if (strncasecmp(rq->content_type, "application/json", 16)) {
		plain_error(rs, 415, "Content-Type must be application/json\n");
		goto out;
	}
	if (!in || !cJSON_IsObject(in)) {
		if (r->no_content) {   /* handleNotification never answers an error */
			log_info("handleNotification: body is not a JSON object");
			rs->status = 204;
			goto out;
		}
		plain_error(rs, 400, "body is not a JSON object\n");
		goto out;
	}
	out = cJSON_CreateObject();
	if (!out) {
		plain_error(rs, 500, "out of memory\n");
		goto out;
	}
	/* X-Admin-Protocol (6.5.1.1): the versions both bindings serve;
	 * absent is tolerated for hand-made requests. */
	if (!es9p_admin_protocol_supported(rq->admin_protocol))
		st = RSP_ERR_UNSUPPORTED_PROTOCOL;
	else
		st = r->run(d, in, port, out, lc);
	if (r->no_content) {
		rs->status = 204;
		goto out;
	}
	if (st != RSP_OK) {
		/* on failure the body is the header alone (SGP.22 6.5.1.4) */
		const struct rsp_status_info *i = rsp_status_info(st);
		log_info("%s -> %s/%s %s", r->name, i->subject, i->reason, i->name);
	}
	/* header first, then the function's fields in their order */
	fields = out;
	out = cJSON_CreateObject();
	if (!out || !status_header(out, st)) {
		plain_error(rs, 500, "out of memory\n");
		goto out;
	}
	while (st == RSP_OK && fields->child) {
		cJSON *c = cJSON_DetachItemViaPointer(fields, fields->child);
		cJSON_AddItemToObject(out, c->string, c);
	}
	/* printed into one buffer sized for the fields, which becomes the
	 * body as it is: no growing copies, no copy into the response */
	if (!(text = cJSON_PrintBuffered(out, print_size(out), 0))) {
		plain_error(rs, 500, "out of memory\n");
		goto out;
	}
	rs->status = 200;
	snprintf(rs->content_type, sizeof(rs->content_type), "application/json;charset=UTF-8");
	buf_free(&rs->body);
	rs->body.p = (uint8_t *)text;
	rs->body.len = strlen(text);
	text = NULL;
	lab_call_result(lc, st);
out:
	lab_call_end(lc, rs);
	free(text);
	cJSON_Delete(in);
	cJSON_Delete(out);
	cJSON_Delete(fields);
}
