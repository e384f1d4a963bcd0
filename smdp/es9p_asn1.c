/* es9p_asn1.c - the ES9+ ASN.1 binding (SGP.22 6.x "ES9+ ASN.1 Binding",
 * used by LPAe and by SGP.32 IPAe / eIMs): RemoteProfileProvisioningRequest
 * -> C structs -> es9p_* -> RemoteProfileProvisioningResponse. The same
 * functions, sessions and checks as the JSON binding (es9p_json.c); one
 * skeleton for all five functions, driven by a table. */
#include "smdp.h"
#include "lab.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ADMIN_PROTOCOL "gsma/rsp/v2.5.0"
/* undefinedError(127): the error INTEGERs of authenticateClient,
 * getBoundProfilePackage and cancelSession name it; initiateAuthentication's
 * v2.5 list does not, SGP.32's InitiateAuthenticationResponseEsipa does. */
#define ERR_UNDEFINED 127

static const uint8_t sig_hdr[3] = { 0x5F, 0x37, 0x40 };   /* [APPLICATION 55], 64 bytes */

/* out = hdr || p: a value in its short TLV header (5F37 40 sig, 04 14 SKI). */
static int tlv_set(struct buf *out, const uint8_t *hdr, size_t hl, const uint8_t *p, size_t n)
{
	return buf_set(out, hdr, hl) < 0 || buf_append(out, p, n) < 0 ? -1 : 0;
}

/* --- the five functions: objects out of the request, call, fill the Ok form --- */

static enum rsp_status run_initiate_auth(struct smdp *d, const struct es9_asn1_req *rq, int port,
					 struct es9_asn1_resp *rs, struct lab_call *lc)
{
	struct es9_ia_req in;
	struct es9_ia_resp out;
	uint8_t ski_hdr[2] = { 0x04, 0 };   /* SubjectKeyIdentifier OCTET STRING */
	enum rsp_status st;

	memset(&in, 0, sizeof(in));
	in.after = lab_call_after(lc);   /* lab: the session as the call left it */
	memset(&out, 0, sizeof(out));
	if ((st = der_decode_euicc_info1(rq->obj.p, rq->obj.len, &in.info1)))
		goto out;
	memcpy(in.euicc_challenge, rq->euicc_challenge, SMDP_CHAL_LEN);
	str_copy(in.smdp_address, sizeof(in.smdp_address), rq->smdp_address);
	in.port = port;
	if ((st = es9p_initiate_authentication(d, &in, &out)))
		goto out;
	st = RSP_ERR_INTERNAL;
	ski_hdr[1] = (uint8_t)out.ci.len;
	memcpy(rs->txid, out.txid, out.txid_len);
	rs->txid_len = out.txid_len;
	if (buf_set(&rs->server_signed1, out.server_signed1.p, out.server_signed1.len) < 0 ||
	    tlv_set(&rs->server_signature1, sig_hdr, 3, out.server_signature1, SMDP_SIG_LEN) < 0 ||
	    tlv_set(&rs->ci_pkid, ski_hdr, 2, out.ci.id, out.ci.len) < 0 ||
	    buf_set(&rs->server_cert, out.server_cert, out.server_cert_len) < 0)
		goto out;
	st = RSP_OK;
out:
	es9_ia_resp_free(&out);
	return st;
}

static enum rsp_status run_authenticate_client(struct smdp *d, const struct es9_asn1_req *rq,
					       int port, struct es9_asn1_resp *rs, struct lab_call *lc)
{
	struct es9_ac_req in;
	struct es9_ac_resp out;
	enum rsp_status st;

	(void)port;
	memset(&in, 0, sizeof(in));
	in.after = lab_call_after(lc);   /* lab: the session as the call left it */
	memset(&out, 0, sizeof(out));
	memcpy(in.txid, rq->txid, rq->txid_len);
	in.txid_len = rq->txid_len;
	if ((st = der_decode_auth_server_resp(rq->obj.p, rq->obj.len, &in.asr)) ||
	    (st = es9p_authenticate_client(d, &in, &out)))
		goto out;
	st = RSP_ERR_INTERNAL;
	memcpy(rs->txid, out.txid, out.txid_len);
	rs->txid_len = out.txid_len;
	if (buf_set(&rs->profile_metadata, out.profile_metadata.p, out.profile_metadata.len) < 0 ||
	    buf_set(&rs->smdp_signed2, out.smdp_signed2.p, out.smdp_signed2.len) < 0 ||
	    tlv_set(&rs->smdp_signature2, sig_hdr, 3, out.smdp_signature2, SMDP_SIG_LEN) < 0 ||
	    buf_set(&rs->smdp_cert, out.smdp_cert, out.smdp_cert_len) < 0)
		goto out;
	st = RSP_OK;
out:
	auth_server_resp_free(&in.asr);
	es9_ac_resp_free(&out);
	return st;
}

static enum rsp_status run_get_bpp(struct smdp *d, const struct es9_asn1_req *rq, int port,
				   struct es9_asn1_resp *rs, struct lab_call *lc)
{
	struct es9_gbpp_req in;
	struct es9_gbpp_resp out;
	enum rsp_status st;

	(void)port;
	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	in.fault = lab_call_bpp_fault(lc);   /* lab: a BPP wrong on purpose, NULL none */
	in.after = lab_call_after(lc);
	memcpy(in.txid, rq->txid, rq->txid_len);
	in.txid_len = rq->txid_len;
	if ((st = der_decode_prepare_download_resp(rq->obj.p, rq->obj.len, &in.pdr)) ||
	    (st = es9p_get_bpp(d, &in, &out)))
		goto out;
	memcpy(rs->txid, out.txid, out.txid_len);
	rs->txid_len = out.txid_len;
	/* hand the BPP over instead of copying it */
	rs->bpp = out.bpp;
	out.bpp.p = NULL;
	out.bpp.len = 0;
out:
	prepare_download_resp_free(&in.pdr);
	es9_gbpp_resp_free(&out);
	return st;
}

static enum rsp_status run_handle_notification(struct smdp *d, const struct es9_asn1_req *rq,
					       int port, struct es9_asn1_resp *rs, struct lab_call *lc)
{
	struct pending_notification pn;
	enum rsp_status st;

	(void)port;
	(void)rs;
	memset(&pn, 0, sizeof(pn));
	if ((st = der_decode_pending_notification(rq->obj.p, rq->obj.len, &pn))) {
		log_info("handleNotification: undecodable pendingNotification (%s)",
			 rsp_status_info(st)->name);
		goto out;
	}
	es9p_handle_notification(d, rq->obj.p, rq->obj.len, &pn, lab_call_after(lc));
out:
	pending_notification_free(&pn);
	return st;
}

static enum rsp_status run_cancel_session(struct smdp *d, const struct es9_asn1_req *rq, int port,
					  struct es9_asn1_resp *rs, struct lab_call *lc)
{
	struct es9_cs_req in;
	enum rsp_status st;

	(void)port;
	(void)rs;
	memset(&in, 0, sizeof(in));
	in.after = lab_call_after(lc);   /* lab: the session as the call left it */
	memcpy(in.txid, rq->txid, rq->txid_len);
	in.txid_len = rq->txid_len;
	if ((st = der_decode_cancel_session_resp(rq->obj.p, rq->obj.len, &in.csr)))
		goto out;
	st = es9p_cancel_session(d, &in);
out:
	cancel_session_resp_free(&in.csr);
	return st;
}

/* The function table: alternative, handler, and whether it answers 204
 * (handleNotification has no RemoteProfileProvisioningResponse alternative). */
static const struct es9_route {
	enum es9_fn fn;
	const char *name;
	enum rsp_status (*run)(struct smdp *d, const struct es9_asn1_req *rq, int port,
			       struct es9_asn1_resp *rs, struct lab_call *lc);   /* lc: lab.h, may be NULL */
	int no_content;
} routes[] = {
	{ ES9_INITIATE_AUTH, "initiateAuthentication", run_initiate_auth, 0 },
	{ ES9_AUTH_CLIENT, "authenticateClient", run_authenticate_client, 0 },
	{ ES9_GET_BPP, "getBoundProfilePackage", run_get_bpp, 0 },
	{ ES9_HANDLE_NOTIF, "handleNotification", run_handle_notification, 1 },
	{ ES9_CANCEL_SESSION, "cancelSession", run_cancel_session, 0 },
};

static void plain_error(struct http_response *rs, int status, const char *msg)
{
	rs->status = status;
	snprintf(rs->content_type, sizeof(rs->content_type), "text/plain");
	buf_set(&rs->body, msg, strlen(msg));
}

int es9p_admin_protocol_supported(const char *hdr)
{
	unsigned minor;
	int used = 0;

	if (!hdr || !hdr[0])
		return 1;   /* absent: tolerated for hand-made requests */
	/* "gsma/rsp/v2.<minor>" then end, or ".<revision...>" */
	if (strncmp(hdr, "gsma/rsp/v2.", 12) || hdr[12] < '0' || hdr[12] > '9' ||
	    sscanf(hdr, "gsma/rsp/v2.%3u%n", &minor, &used) != 1 || used == 0 ||
	    (hdr[used] != '\0' && hdr[used] != '.'))
		return 0;
	return minor >= 1 && minor <= 5;
}

/* The error INTEGER of fn for st, from the one status table. */
static long error_code(enum rsp_status st, const struct es9_route *r)
{
	const struct rsp_status_info *i = rsp_status_info(st);
	int v = i->asn1[r->fn];

	if (v < 0) {
		log_warn("%s: status %s has no ASN.1 error value; sending undefinedError", r->name,
			 i->name);
		v = ERR_UNDEFINED;
	}
	return v;
}

void es9p_asn1_handle(struct smdp *d, const struct http_request *rq, int port,
		      struct http_response *rs)
{
	const struct es9_route *r = NULL;
	struct es9_asn1_req in;
	struct es9_asn1_resp out;
	struct lab_call *lc = NULL;
	enum rsp_status st;

	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	snprintf(rs->admin_protocol, sizeof(rs->admin_protocol), ADMIN_PROTOCOL);
	if (strcmp(rq->method, "POST")) {
		plain_error(rs, 405, "ES9+ functions take POST\n");
		goto out;
	}
	if (strncasecmp(rq->content_type, ES9P_ASN1_CONTENT_TYPE, strlen(ES9P_ASN1_CONTENT_TYPE))) {
		plain_error(rs, 415, "Content-Type must be " ES9P_ASN1_CONTENT_TYPE "\n");
		goto out;
	}
	st = der_decode_es9_request(rq->body, rq->body_len, &in);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (routes[i].fn == in.fn)
			r = &routes[i];
	if (!r) {
		/* no function to answer for: a transport-level fault */
		log_info("ES9+ ASN.1: body is not a RemoteProfileProvisioningRequest (%zu bytes)",
			 rq->body_len);
		plain_error(rs, 400, "body is not a RemoteProfileProvisioningRequest\n");
		goto out;
	}
	/* lab (lab.h): trace, faults, metrics; NULL and no-ops when d->lab is */
	lc = lab_call_begin(d->lab, d, r->fn, LAB_ASN1, rq, NULL);
	if (lab_call_answer(lc, rs))
		goto out;
	if (st == RSP_OK && !es9p_admin_protocol_supported(rq->admin_protocol))
		st = RSP_ERR_UNSUPPORTED_PROTOCOL;
	if (st == RSP_OK)
		st = r->run(d, &in, port, &out, lc);
	if (r->no_content) {   /* handleNotification never answers an error */
		rs->status = 204;
		goto out;
	}
	if (st != RSP_OK) {
		const struct rsp_status_info *i = rsp_status_info(st);

		es9_asn1_resp_free(&out);
		out.error = error_code(st, r);
		log_info("%s (ASN.1) -> %s/%s %s, error %ld", r->name, i->subject, i->reason, i->name,
			 out.error);
	} else {
		out.error = -1;
	}
	out.fn = r->fn;
	if (der_encode_es9_response(&out, &rs->body) < 0) {
		log_error("%s (ASN.1): cannot encode the response", r->name);
		buf_free(&rs->body);
		plain_error(rs, 500, "cannot encode the response\n");
		goto out;
	}
	rs->status = 200;
	snprintf(rs->content_type, sizeof(rs->content_type), ES9P_ASN1_CONTENT_TYPE);
	log_debug("%s (ASN.1): %zu bytes in, %zu bytes out", r->name, rq->body_len, rs->body.len);
out:
	lab_call_end(lc, rs);
	es9_asn1_req_free(&in);
	es9_asn1_resp_free(&out);
}
