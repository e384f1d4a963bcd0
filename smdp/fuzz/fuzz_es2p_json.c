/*
 * fuzz_es2p_json.c - libFuzzer target for the whole ES2+ JSON request path:
 * es2p_json_handle (es2p_json.c) -> operator identification (es2p.c) ->
 * the lifecycle transitions (orders.c) on the SQLite inventory -> the JSON
 * response (SGP.22 5.3, 6.5), on a real server context.
 *
 * Input: byte 0 selects
 *   bits 0-1  the function: downloadOrder, confirmOrder, cancelOrder,
 *             releaseProfile (SGP.22 5.3.1 - 5.3.4)
 *   bits 2-3  the TLS client certificate: 0/1 the one OP-B pins (OP-A
 *             takes any), 2 another certificate, 3 none
 *   bits 4-5  X-Admin-Protocol: 0/1 gsma/rsp/v2.5.0, 2 absent, 3 v3.0.0
 *   bits 6-7  3: an odd HTTP request instead, bits 2-3 say which (unknown
 *             function, GET, wrong Content-Type, Content-Type in other case)
 * the rest is the POST body.
 *
 * es2_fixture_call (es2_fixture.c) builds the request as http.c would,
 * after writing the ES2+ fixture back: a profile in every lifecycle state
 * with its order, owned by OP-A or OP-B, so that
 * confirm/cancel/release on a fixture ICCID run the real transition. Every
 * RESET_EVERY inputs the store is recreated (history and the operator
 * notification queue grow otherwise).
 *
 * Checked beyond the sanitizers: the HTTP status is one es2p_json.c
 * documents for the request; a 200 body is JSON with
 * header.functionExecutionStatus; a failure carries a subject/reason pair
 * of the status table and nothing but the header (SGP.22 6.5.1.4); a
 * success left the store in the state the function promises (5.3.x), on a
 * profile of a type the calling operator owns.
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESET_EVERY 20000

#define REQUIRE(c) do { if (!(c)) { \
	fprintf(stderr, "fuzz_es2p_json: contract broken: %s (line %d)\n", #c, __LINE__); \
	abort(); } } while (0)

/* libFuzzer gives the callbacks no context argument: the server context
 * lives here for the whole run. */
static struct {
	struct fuzz_smdp f;
	struct es2_fixture fx;
	char db[256];
	unsigned long inputs;
} ctx;

static void cleanup(void)
{
	es2_fixture_close(&ctx.f, &ctx.fx);
}

static void open_server(void)
{
	char err[512] = "";

	if (es2_fixture_open(&ctx.f, ctx.db, &ctx.fx, err, sizeof(err))) {
		fprintf(stderr, "fuzz_es2p_json: %s\n", err);
		abort();
	}
}

/* libFuzzer start-up: go to the repo root, open the server context
 * (fuzz_server_init: FUZZ_LOG_LEVEL, where the database goes). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	fuzz_server_init(*argv, "fuzz_es2p_json", "es2p", ctx.db, sizeof(ctx.db));
	open_server();
	atexit(cleanup);
	return 0;
}

/* --- what a success must have left in the store --- */

struct lookup {
	const char *iccid;
	struct inv_profile p;
	struct order o;
	int found, has_order;
};

static int tx_lookup(struct store_tx *tx, void *arg)
{
	struct lookup *l = arg;
	int r = store_tx_profile_get(tx, l->iccid, &l->p);

	if (r < 0)
		return -1;
	l->found = r;
	if (r && l->p.order_id) {
		r = store_tx_order_get(tx, l->p.order_id, &l->o);
		if (r < 0)
			return -1;
		l->has_order = r;
	}
	return 1;   /* read only: roll back */
}

/* A string member of o, or "" (not NULL) when absent or not a string. */
static const char *str_of(const cJSON *o, const char *name)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(f) ? f->valuestring : "";
}

static void check_success(int fn, const cJSON *rq, const cJSON *rs)
{
	const struct operator_cfg *op = config_operator(
		&ctx.f.cfg,
		str_of(cJSON_GetObjectItemCaseSensitive(rq, "header"), "functionRequesterIdentifier"));
	char iccid[SMDP_ICCID_LEN + 1];
	struct lookup l;

	REQUIRE(op != NULL);
	/* the ICCID worked on: the answer's (downloadOrder) or the request's */
	REQUIRE(orders_iccid_norm(str_of(fn == FX2_DOWNLOAD ? rs : rq, "iccid"), iccid));
	memset(&l, 0, sizeof(l));
	l.iccid = iccid;
	REQUIRE(store_transact(ctx.f.d.store, tx_lookup, &l) == 1 && l.found == 1);
	/* no operator ever gets or changes a profile of another's type */
	REQUIRE(config_owns(op, l.p.type));
	switch (fn) {
	case FX2_DOWNLOAD:
		REQUIRE(strlen(str_of(rs, "iccid")) == 20);
		REQUIRE(l.p.state == PS_ALLOCATED || l.p.state == PS_LINKED);
		REQUIRE(l.has_order && l.o.active && !l.o.confirmed);
		REQUIRE(!strcmp(l.o.operator_id, op->id));
		break;
	case FX2_CONFIRM:
		REQUIRE(l.p.state == PS_CONFIRMED || l.p.state == PS_RELEASED);
		REQUIRE(l.has_order && l.o.active && l.o.confirmed);
		REQUIRE(!strcmp(str_of(rs, "matchingId"), l.o.matching_id));
		REQUIRE(!strcmp(str_of(rs, "smdpAddress"), ctx.f.cfg.fqdn));
		REQUIRE(!strcmp(str_of(rs, "eid"), l.o.eid));
		REQUIRE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rq, "releaseFlag")) ==
			(l.p.state == PS_RELEASED));
		break;
	case FX2_CANCEL:
		REQUIRE(l.p.state == PS_AVAILABLE || l.p.state == PS_UNAVAILABLE);
		REQUIRE(l.p.order_id == 0);
		REQUIRE(cJSON_GetArraySize(rs) == 1);
		break;
	default:
		REQUIRE(l.p.state == PS_RELEASED && l.has_order && l.o.active);
		REQUIRE(cJSON_GetArraySize(rs) == 1);
		break;
	}
}

/* The failure's code pair must be a row of the one status table. */
static void check_failure(const cJSON *rs, const cJSON *fes)
{
	const cJSON *scd = cJSON_GetObjectItemCaseSensitive(fes, "statusCodeData");
	const char *subject = str_of(scd, "subjectCode"), *reason = str_of(scd, "reasonCode");
	int known = 0;

	for (int i = 1; i < RSP_STATUS_COUNT && !known; i++) {
		const struct rsp_status_info *inf = rsp_status_info((enum rsp_status)i);
		known = !strcmp(inf->subject, subject) && !strcmp(inf->reason, reason);
	}
	REQUIRE(known);
	REQUIRE(cJSON_GetArraySize(rs) == 1);
}

static void check_response(int fn, int odd, const uint8_t *body, size_t n,
			   const struct http_response *rs)
{
	cJSON *rq = NULL, *j = NULL;
	const cJSON *fes;
	const char *st;
	size_t opens = 0;

	if (odd >= 0 && odd < 3) {   /* refused before the body is read */
		REQUIRE(rs->status == (odd == 0 ? 404 : odd == 1 ? 405 : 415));
		return;
	}
	REQUIRE(rs->status == 200 || rs->status == 400);
	rq = cJSON_ParseWithLength((const char *)body, n);
	if (rs->status == 400) {
		/* not a JSON object, or nested deeper than es2p_json.c takes */
		for (size_t i = 0; i < n; i++)
			opens += body[i] == '{' || body[i] == '[';
		REQUIRE(!cJSON_IsObject(rq) || opens > 8);
		goto out;
	}
	REQUIRE(cJSON_IsObject(rq));
	j = cJSON_ParseWithLength((const char *)rs->body.p, rs->body.len);
	REQUIRE(cJSON_IsObject(j));
	fes = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "header"),
					       "functionExecutionStatus");
	st = str_of(fes, "status");
	if (!strcmp(st, "Executed-Success"))
		check_success(fn, rq, j);
	else if (!strcmp(st, "Failed"))
		check_failure(j, fes);
	else
		REQUIRE(!"functionExecutionStatus.status is Executed-Success or Failed");
out:
	cJSON_Delete(rq);
	cJSON_Delete(j);
}

/* One input: selector byte + POST body. Always 0 (findings abort). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response rs;
	int odd;

	if (size < 1 || size - 1 > SMDP_MAX_BODY)
		return 0;
	if (++ctx.inputs % RESET_EVERY == 0) {
		es2_fixture_close(&ctx.f, &ctx.fx);
		open_server();
	}
	memset(&rs, 0, sizeof(rs));
	odd = es2_fixture_call(&ctx.f, &ctx.fx, data[0], data + 1, size - 1, &rs);
	REQUIRE(odd >= -1);
	check_response(data[0] & 3, odd, data + 1, size - 1, &rs);
	buf_free(&rs.body);
	return 0;
}
