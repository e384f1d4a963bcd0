/*
 * fuzz_es9p_json.c - libFuzzer target for the whole ES9+ JSON request path:
 * es9p_json_handle (es9p_json.c) -> JSON, base64 and DER decoding -> es9p.c
 * (session store, certificate and signature checks, profile binding) ->
 * the JSON response, on a real server context (certs/, profiles/, a SQLite
 * store in a temp file).
 *
 * Input: byte 0 selects the function (low 3 bits mod 5, in SGP.22 6.6
 * order: initiateAuthentication, authenticateClient,
 * getBoundProfilePackage, handleNotification, cancelSession) and, with bit
 * 7, drops the X-Admin-Protocol header; the rest is the POST body.
 *
 * Before every input the ES9+ fixture (fuzz_common.h) is written back, so
 * requests naming its transactionIds find a session in the state they
 * need, whatever the previous input did; seeds from gen_seeds.c carry
 * valid eUICC signatures over those sessions and reach the end of each
 * function. Every RESET_EVERY inputs the store is recreated so the history
 * and notification tables do not grow without bound.
 *
 * The response must be one the binding defines: 204 for
 * handleNotification, else 200 with a JSON header.functionExecutionStatus
 * or 400 for a body that is not a JSON object.
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESET_EVERY 20000

#define REQUIRE(c) do { if (!(c)) { \
	fprintf(stderr, "fuzz_es9p_json: contract broken: %s (line %d)\n", #c, __LINE__); \
	abort(); } } while (0)

static const char *const functions[5] = {
	"initiateAuthentication", "authenticateClient", "getBoundProfilePackage",
	"handleNotification", "cancelSession",
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
	es9_fuzz_open(&ctx.f, &ctx.fx, ctx.db, "fuzz_es9p_json");
}

/* libFuzzer start-up: go to the repo root, open the server context
 * (fuzz_server_init: FUZZ_LOG_LEVEL, where the database goes). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	fuzz_server_init(*argv, "fuzz_es9p_json", "es9p", ctx.db, sizeof(ctx.db));
	open_server();
	atexit(cleanup);
	return 0;
}

static void check_response(int fn, const struct http_response *rs)
{
	cJSON *j, *st;

	if (fn == 3) {   /* handleNotification never answers an error (5.6.4) */
		REQUIRE(rs->status == 204 && rs->body.len == 0);
		return;
	}
	REQUIRE(rs->status == 200 || rs->status == 400);
	if (rs->status == 400)
		return;
	j = cJSON_ParseWithLength((const char *)rs->body.p, rs->body.len);
	st = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "header"),
						 "functionExecutionStatus"),
		"status");
	REQUIRE(cJSON_IsString(st));
	REQUIRE(!strcmp(st->valuestring, "Executed-Success") || !strcmp(st->valuestring, "Failed"));
	cJSON_Delete(j);
}

/* One input: selector byte + POST body. Always 0 (findings abort). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request rq;
	struct http_response rs;
	char path[128];
	uint8_t *body;
	int fn;

	if (size < 1 || size - 1 > SMDP_MAX_BODY)
		return 0;
	if (++ctx.inputs % RESET_EVERY == 0) {
		fuzz_smdp_close(&ctx.f);
		open_server();
	}
	if (es9_fixture_install(&ctx.f, &ctx.fx))
		abort();
	fn = (data[0] & 7) % 5;
	/* http.c hands over a NUL-terminated copy of exactly body_len bytes */
	body = malloc(size);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	snprintf(path, sizeof(path), "/gsma/rsp2/es9plus/%s", functions[fn]);
	rq.method = "POST";
	rq.path = path;
	rq.content_type = "application/json";
	rq.admin_protocol = data[0] & 0x80 ? "" : "gsma/rsp/v2.5.0";
	rq.remote_addr = "127.0.0.1";
	rq.body = body;
	rq.body_len = size - 1;
	rs.status = 500;
	es9p_json_handle(&ctx.f.d, &rq, 8443, &rs);
	check_response(fn, &rs);
	buf_free(&rs.body);
	free(body);
	return 0;
}
