/*
 * fuzz_es9p_asn1.c - libFuzzer target for the whole ES9+ ASN.1 binding
 * (SGP.22 6.7): es9p_asn1_handle (es9p_asn1.c) -> the
 * RemoteProfileProvisioningRequest decoder -> es9p.c (sessions,
 * certificates, signatures, binding) -> the
 * RemoteProfileProvisioningResponse, on the same server context and ES9+
 * fixture sessions as es9p_json (fuzz_common.h).
 *
 * Input: byte 0 sets the HTTP request around the body
 *   bits 0-1  X-Admin-Protocol: gsma/rsp/v2.5.0, absent, gsma/rsp/v2.2.1,
 *             gsma/rsp/v3.0.0 (refused)
 *   bits 2-3  3: an odd request instead (bit 4: GET, else a JSON
 *             Content-Type); else POST application/x-gsma-rsp-asn1
 * the rest is the body (the function is the CHOICE alternative inside).
 * Seeds from gen_seeds.c are the requests of an in-process download over
 * the fixture sessions, so mutations start from requests that pass the
 * signature checks.
 *
 * The response must be one the binding defines: 405 / 415 for the odd
 * requests, 400 only when no function is recognised, 204 for
 * handleNotification, else 200 with a RemoteProfileProvisioningResponse
 * of the function asked (Ok form or its error INTEGER).
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESET_EVERY 20000

#define REQUIRE(c) do { if (!(c)) { \
	fprintf(stderr, "fuzz_es9p_asn1: contract broken: %s (line %d)\n", #c, __LINE__); \
	abort(); } } while (0)

static const char *const protocols[4] = {
	"gsma/rsp/v2.5.0", "", "gsma/rsp/v2.2.1", "gsma/rsp/v3.0.0",
};

/* libFuzzer gives the callbacks no context argument: the server context
 * lives here for the whole run. */
static struct {
	struct fuzz_smdp f;
	struct es9_fixture fx;
	char db[256];
	unsigned long inputs;
} ctx;

static void cleanup(void)
{
	es9_fixture_free(&ctx.fx);
	fuzz_smdp_close(&ctx.f);
}

static void open_server(void)
{
	es9_fuzz_open(&ctx.f, &ctx.fx, ctx.db, "fuzz_es9p_asn1");
}

/* libFuzzer start-up: go to the repo root, open the server context
 * (fuzz_server_init: FUZZ_LOG_LEVEL, where the database goes). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	fuzz_server_init(*argv, "fuzz_es9p_asn1", "es9p-asn1", ctx.db, sizeof(ctx.db));
	open_server();
	atexit(cleanup);
	return 0;
}

static void check_response(int odd, const uint8_t *body, size_t n,
			   const struct http_response *rs)
{
	struct es9_asn1_req q;
	struct es9_asn1_resp a;

	if (odd >= 0) {
		REQUIRE(rs->status == (odd ? 405 : 415));
		return;
	}
	/* which function the body names (the decoder sets fn even when the
	 * content then fails) */
	der_decode_es9_request(body, n, &q);
	if (q.fn == ES9_FN_COUNT) {
		REQUIRE(rs->status == 400);
	} else if (q.fn == ES9_HANDLE_NOTIF) {
		REQUIRE(rs->status == 204 && rs->body.len == 0);
	} else {
		REQUIRE(rs->status == 200);
		memset(&a, 0, sizeof(a));
		REQUIRE(der_decode_es9_response(rs->body.p, rs->body.len, &a) == RSP_OK);
		REQUIRE(a.fn == q.fn);
		if (a.error < 0 && q.fn != ES9_CANCEL_SESSION)
			REQUIRE(a.txid_len >= 1 && a.txid_len <= sizeof(a.txid));
		es9_asn1_resp_free(&a);
	}
	es9_asn1_req_free(&q);
}

/* One input: selector byte + POST body. Always 0 (findings abort). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request rq;
	struct http_response rs;
	uint8_t *body;
	int odd = -1;

	if (size < 1 || size - 1 > SMDP_MAX_BODY)
		return 0;
	if (++ctx.inputs % RESET_EVERY == 0) {
		fuzz_smdp_close(&ctx.f);
		open_server();
	}
	if (es9_fixture_install(&ctx.f, &ctx.fx))
		abort();
	if (((data[0] >> 2) & 3) == 3)
		odd = (data[0] >> 4) & 1;
	/* http.c hands over a NUL-terminated copy of exactly body_len bytes */
	body = malloc(size);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	rq.method = odd == 1 ? "GET" : "POST";
	rq.path = ES9P_ASN1_PATH;
	rq.content_type = odd == 0 ? "application/json" : ES9P_ASN1_CONTENT_TYPE;
	rq.admin_protocol = protocols[data[0] & 3];
	rq.remote_addr = "127.0.0.1";
	rq.authorization = "";
	rq.body = body;
	rq.body_len = size - 1;
	rs.status = 500;
	es9p_asn1_handle(&ctx.f.d, &rq, 8443, &rs);
	check_response(odd, body, size - 1, &rs);
	buf_free(&rs.body);
	free(body);
	return 0;
}
