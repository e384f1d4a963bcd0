/* es2p_test.c - tests of orders.c, es2p.c, es2p_json.c and the ES2+ parts
 * of config.c and store.c on temporary databases: the SGP.22 lifecycle and
 * its error codes, read back with the sqlite3 CLI; concurrent downloadOrders
 * from threads and from separate processes; the confirmation code hash
 * against the openssl CLI; the JSON binding on hand-made requests; the
 * handleDownloadProgressInfo body. Run from the repository root (it loads
 * profiles/). */
#include "smdp.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EID1 "89049032123451234512345678901235"
#define EID2 "89049032123451234512345678909999"
#define N_THREADS 16
#define PER_THREAD 4
#define THREAD_POOL 20
#define N_PROCS 4
#define PER_PROC 10
#define PROC_POOL 25

static int n_pass, n_fail;
static char tmpdir[64];

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		n_pass++;
	else
		n_fail++;
}

/* Run a shell command and keep its first output line (newline removed). */
static int sh(char *out, size_t outsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int sh(char *out, size_t outsz, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	out[0] = '\0';
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fgets(out, (int)outsz, p))
		out[strcspn(out, "\n")] = '\0';
	while (fgetc(p) != EOF)
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One SQL query with the sqlite3 CLI (independent of store.c). */
static const char *cli(const char *db, const char *sql)
{
	static char out[1024];
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/q.sql", tmpdir);
	f = fopen(path, "w");
	if (!f)
		return "";
	fprintf(f, "%s;\n", sql);
	fclose(f);
	sh(out, sizeof(out), "sqlite3 %s < %s 2>&1", db, path);
	return out;
}

static int cli_is(const char *db, const char *sql, const char *want)
{
	const char *got = cli(db, sql);

	if (!strcmp(got, want))
		return 1;
	printf("    sqlite3: %s -> '%s', expected '%s'\n", sql, got, want);
	return 0;
}

static void iccid_n(int n, char out[SMDP_ICCID_LEN + 1])
{
	snprintf(out, SMDP_ICCID_LEN + 1, "8999000000000001%04d", n);
}

/* ------------------------------------------------------------------ */

struct env {
	struct smdp_config cfg;
	struct smdp d;
	char db[128];
	const struct operator_cfg *opa, *opb;
};

static int env_open(struct env *e, const char *name)
{
	char err[256];

	memset(e, 0, sizeof(*e));
	config_defaults(&e->cfg);
	snprintf(e->db, sizeof(e->db), "%s/%s.db", tmpdir, name);
	e->cfg.log_level = LOG_WARN;
	e->cfg.mode = MODE_ORDERS;
	e->cfg.max_attempts = 3;
	e->cfg.cc_max_attempts = 3;
	if (config_set(&e->cfg, "operator.a.id", "OP-A", err, sizeof(err)) ||
	    config_set(&e->cfg, "operator.a.profile-types", "ta, tcc, pool, t48", err,
		       sizeof(err)) ||
	    config_set(&e->cfg, "operator.a.notify-url", "https://127.0.0.1:9/x", err,
		       sizeof(err)) ||
	    config_set(&e->cfg, "operator.b.id", "OP-B", err, sizeof(err)) ||
	    config_set(&e->cfg, "operator.b.profile-types", "tb", err, sizeof(err)))
		return -1;
	e->opa = config_operator(&e->cfg, "OP-A");
	e->opb = config_operator(&e->cfg, "OP-B");
	e->d.cfg = &e->cfg;
	e->d.store = store_open(e->db, err, sizeof(err));
	return e->d.store && e->opa && e->opb ? 0 : -1;
}

static void env_close(struct env *e)
{
	store_close(e->d.store);
	saip_free(&e->d.profiles);
}

static enum rsp_status do_order(struct env *e, const struct operator_cfg *op, const char *iccid,
				const char *type, const char *eid, char got[SMDP_ICCID_LEN + 1])
{
	struct es2_download_order rq;

	memset(&rq, 0, sizeof(rq));
	snprintf(rq.iccid, sizeof(rq.iccid), "%s", iccid ? iccid : "");
	snprintf(rq.profile_type, sizeof(rq.profile_type), "%s", type ? type : "");
	snprintf(rq.eid, sizeof(rq.eid), "%s", eid ? eid : "");
	return orders_download(&e->d, op, &rq, got);
}

static enum rsp_status do_confirm(struct env *e, const struct operator_cfg *op, const char *iccid,
				  const char *eid, const char *mid, const char *cc, int release,
				  struct es2_confirm_result *res)
{
	struct es2_confirm_order rq;

	memset(&rq, 0, sizeof(rq));
	snprintf(rq.iccid, sizeof(rq.iccid), "%s", iccid);
	snprintf(rq.eid, sizeof(rq.eid), "%s", eid ? eid : "");
	rq.has_matching_id = mid != NULL;
	snprintf(rq.matching_id, sizeof(rq.matching_id), "%s", mid ? mid : "");
	rq.has_cc = cc != NULL;
	snprintf(rq.cc, sizeof(rq.cc), "%s", cc ? cc : "");
	rq.release = release;
	return orders_confirm(&e->d, op, &rq, res);
}

static enum rsp_status do_cancel(struct env *e, const struct operator_cfg *op, const char *iccid,
				 const char *eid, const char *mid, enum profile_state fin)
{
	struct es2_cancel_order rq;

	memset(&rq, 0, sizeof(rq));
	snprintf(rq.iccid, sizeof(rq.iccid), "%s", iccid);
	snprintf(rq.eid, sizeof(rq.eid), "%s", eid ? eid : "");
	rq.has_matching_id = mid != NULL;
	snprintf(rq.matching_id, sizeof(rq.matching_id), "%s", mid ? mid : "");
	rq.final_state = fin;
	return orders_cancel(&e->d, op, &rq);
}

static const char *sname(enum rsp_status st)
{
	return rsp_status_info(st)->name;
}

#define EXPECT(call, want, what) do { \
	enum rsp_status st_ = (call); \
	check(st_ == (want), "%s -> %s (got %s)", what, sname(want), sname(st_)); \
} while (0)

static void test_helpers(void)
{
	char out[SMDP_MAX_MATCHING_ID + 1], host[64], path[64], seen[200][32];
	int ok = 1, port = 0, dup = 0;

	check(orders_iccid_norm("8999000000000001001F", out) && !strcmp(out, "8999000000000001001"),
	      "ICCID with F padding -> 19 digits");
	check(orders_iccid_norm("89990000000000010012", out) && !strcmp(out, "89990000000000010012"),
	      "20-digit ICCID kept");
	check(!orders_iccid_norm("899900000000000100", out) && !orders_iccid_norm("8999A000000000010012", out) &&
	      !orders_iccid_norm("899900000000000100123", out), "short, non-digit, long ICCIDs refused");
	for (int i = 0; i < 200; i++) {
		if (orders_new_matching_id(out) || strlen(out) != 29)
			ok = 0;
		for (int g = 0; g < 29; g++) {
			char c = out[g];
			if (g % 6 == 5 ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')))
				ok = 0;
		}
		for (int j = 0; j < i; j++)
			dup += !strcmp(seen[j], out);
		snprintf(seen[i], sizeof(seen[i]), "%s", out);
	}
	check(ok, "matchingIds have the form XXXXX-XXXXX-XXXXX-XXXXX-XXXXX over [0-9A-Z] (%s)", out);
	check(dup == 0, "200 matchingIds, no duplicate");
	check(orders_state_parse("released") == PS_RELEASED && orders_state_parse("x") == PS_NONE &&
	      !strcmp(orders_state_name(PS_UNAVAILABLE), "Unavailable"), "state names");
	check(config_parse_url("https://op.example:9443/cb", host, sizeof(host), &port, path,
			       sizeof(path)) == 0 && !strcmp(host, "op.example") && port == 9443 &&
	      !strcmp(path, "/cb"), "URL with port and path");
	check(config_parse_url("https://[::1]", host, sizeof(host), &port, path, sizeof(path)) == 0 &&
	      !strcmp(host, "::1") && port == 443 && !strcmp(path, "/"), "IPv6 URL, default port");
	check(config_parse_url("http://op", host, sizeof(host), &port, path, sizeof(path)) &&
	      config_parse_url("https://op:0/", host, sizeof(host), &port, path, sizeof(path)) &&
	      config_parse_url("https://op:x/", host, sizeof(host), &port, path, sizeof(path)) &&
	      config_parse_url("https:///p", host, sizeof(host), &port, path, sizeof(path)),
	      "http, port 0, bad port, empty host refused");
}

static void test_config(void)
{
	struct smdp_config c;
	char err[256], line[256];
	FILE *f;
	int seen = 0;

	config_defaults(&c);
	check(c.mode == MODE_LAB && c.es2.port == 8445 && !c.es2.client_ca[0],
	      "defaults: lab mode, ES2+ on 8445 without a client CA (off)");
	check(config_set(&c, "operator.x.profile-types", "a,b", err, sizeof(err)) == 0 &&
	      config_set(&c, "operator.y.profile-types", "c, b", err, sizeof(err)) == 0 &&
	      config_check(&c, err, sizeof(err)) == -1 && strstr(err, "'b' is owned by both"),
	      "a profile type owned by two operators is refused: %s", err);
	config_defaults(&c);
	check(config_set(&c, "operator.x.id", "SAME", err, sizeof(err)) == 0 &&
	      config_set(&c, "operator.y.id", "SAME", err, sizeof(err)) == 0 &&
	      config_check(&c, err, sizeof(err)) == -1, "two operators with one identifier refused");
	config_defaults(&c);
	check(config_set(&c, "operator.x.notify-url", "ftp://x", err, sizeof(err)) == 0 &&
	      config_check(&c, err, sizeof(err)) == -1, "bad notify-url refused at check");
	check(config_set(&c, "operator.bad name.id", "x", err, sizeof(err)) == -1 &&
	      config_set(&c, "operator.x.nosuch", "x", err, sizeof(err)) == -1 &&
	      config_set(&c, "mode", "fast", err, sizeof(err)) == -1,
	      "bad operator name, unknown field, bad mode refused");
	config_defaults(&c);
	config_set(&c, "mode", "orders", err, sizeof(err));
	config_set(&c, "listen.es2", "off", err, sizeof(err));
	config_set(&c, "operator.acme.profile-types", "p1,p2", err, sizeof(err));
	f = tmpfile();
	if (f) {
		config_print(&c, f);
		rewind(f);
		while (fgets(line, sizeof(line), f))
			seen += !strcmp(line, "mode = orders\n") + !strcmp(line, "listen.es2 = off\n") +
				!strcmp(line, "operator.acme.profile-types = p1,p2\n") +
				!strcmp(line, "operator.acme.id = acme\n");
		fclose(f);
	}
	check(seen == 4, "--print-config shows mode, listen.es2 and the operator keys");
}

static void test_lifecycle(void)
{
	struct env e;
	struct es2_confirm_result res;
	char iccid[SMDP_ICCID_LEN + 1], got[SMDP_ICCID_LEN + 1], sql[256];
	char mid[SMDP_MAX_MATCHING_ID + 1];

	if (env_open(&e, "life")) {
		check(0, "environment");
		return;
	}
	check(cli_is(e.db, "SELECT version FROM schema_version", "6"), "schema migrated to 6 (orders in 2, the lab in 3, trace bodies in 4, fewer indexes in 5, the list index in 6)");
	check(cli_is(e.db, "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master WHERE "
		     "type='table' AND name IN ('profiles','orders','op_notifications') ORDER BY name)",
		     "op_notifications,orders,profiles"), "inventory, orders and queue tables exist");
	for (int i = 1; i <= 6; i++) {
		iccid_n(i, iccid);
		EXPECT(orders_import(&e.d, iccid, "f", i <= 4 ? "ta" : "tb"), RSP_OK, "import");
	}
	iccid_n(1, iccid);
	EXPECT(orders_import(&e.d, iccid, "f", "ta"), RSP_ERR_ICCID_IN_USE, "import a known ICCID");
	EXPECT(orders_import(&e.d, "123", "f", "ta"), RSP_ERR_INVALID_REQUEST, "import a bad ICCID");
	check(cli_is(e.db, "SELECT count(*) FROM profiles WHERE state = 1", "6"), "6 Available");

	/* downloadOrder */
	EXPECT(do_order(&e, e.opa, NULL, NULL, NULL, got), RSP_ERR_MISSING_ELEMENT,
	       "downloadOrder without ICCID or type");
	EXPECT(do_order(&e, e.opa, NULL, "tx", NULL, got), RSP_ERR_PROFILE_TYPE_UNKNOWN,
	       "downloadOrder of an unknown type");
	EXPECT(do_order(&e, e.opa, NULL, "tb", NULL, got), RSP_ERR_PROFILE_TYPE_UNKNOWN,
	       "downloadOrder of another operator's type");
	EXPECT(do_order(&e, e.opa, "89990000000000019999", NULL, NULL, got), RSP_ERR_ICCID_UNKNOWN,
	       "downloadOrder of an unknown ICCID");
	iccid_n(5, iccid);
	EXPECT(do_order(&e, e.opa, iccid, NULL, NULL, got), RSP_ERR_ICCID_NOT_OWNER,
	       "downloadOrder of another operator's ICCID");
	EXPECT(do_order(&e, NULL, iccid, NULL, NULL, got), RSP_OK,
	       "the administrator may order any ICCID");
	check(cli_is(e.db, "SELECT operator FROM orders WHERE iccid = '89990000000000010005'",
		     "OP-B"), "an administrator's order is told to the owner of the type");
	iccid_n(1, iccid);
	EXPECT(do_order(&e, e.opa, iccid, "tcc", NULL, got), RSP_ERR_PROFILE_TYPE_MISMATCH,
	       "downloadOrder ICCID of another type");
	EXPECT(do_order(&e, e.opa, NULL, "ta", EID1, got), RSP_OK, "downloadOrder(ta, EID)");
	check(!strcmp(got, iccid), "the lowest Available ICCID of the pool (%s)", got);
	check(cli_is(e.db, "SELECT state FROM profiles WHERE iccid = '89990000000000010001'", "3"),
	      "... Linked");
	EXPECT(do_order(&e, e.opa, iccid, NULL, NULL, got), RSP_ERR_ICCID_IN_USE,
	       "downloadOrder of an ICCID in use");

	/* confirmOrder / releaseProfile / cancelOrder */
	iccid_n(2, iccid);
	EXPECT(do_confirm(&e, e.opa, iccid, NULL, NULL, NULL, 1, &res), RSP_ERR_ICCID_WRONG_STATE,
	       "confirmOrder of an Available profile");
	EXPECT(orders_release(&e.d, e.opa, iccid), RSP_ERR_ICCID_WRONG_STATE,
	       "releaseProfile of an Available profile");
	EXPECT(do_cancel(&e, e.opa, iccid, NULL, NULL, PS_AVAILABLE), RSP_ERR_ICCID_WRONG_STATE,
	       "cancelOrder without an order");
	iccid_n(1, iccid);
	EXPECT(do_confirm(&e, e.opb, iccid, NULL, NULL, NULL, 1, &res), RSP_ERR_ICCID_NOT_OWNER,
	       "confirmOrder of another operator's profile");
	EXPECT(do_confirm(&e, e.opa, iccid, EID2, NULL, NULL, 1, &res), RSP_ERR_EID_DIFFERENT,
	       "confirmOrder with another EID");
	EXPECT(do_confirm(&e, e.opa, iccid, NULL, "MID-1", "", 0, &res), RSP_ERR_INVALID_REQUEST,
	       "confirmOrder with an empty confirmation code");
	EXPECT(do_confirm(&e, e.opa, iccid, NULL, "MID-1", "4711", 0, &res), RSP_OK,
	       "confirmOrder(matchingId, CC, no release)");
	check(!strcmp(res.matching_id, "MID-1") && !strcmp(res.eid, EID1) &&
	      !strcmp(res.activation_code, "LPA:1$testsmdpplus1.example.com$MID-1$$1"),
	      "result: matchingId, EID, activation code with the CC flag (%s)", res.activation_code);
	sh(sql, sizeof(sql), "printf 4711 | openssl dgst -sha256 -r | cut -c1-64 | tr a-f A-F");
	check(cli_is(e.db, "SELECT hex(cc_hash) FROM orders WHERE matching_id = 'MID-1'", sql),
	      "the stored hash is SHA-256 of the code (openssl dgst)");
	check(cli_is(e.db, "SELECT state FROM profiles WHERE iccid = '89990000000000010001'", "4"),
	      "... Confirmed");
	EXPECT(do_confirm(&e, e.opa, iccid, NULL, NULL, NULL, 1, &res), RSP_ERR_ICCID_WRONG_STATE,
	       "confirmOrder twice");
	iccid_n(2, iccid);
	EXPECT(do_order(&e, e.opa, iccid, NULL, NULL, got), RSP_OK, "downloadOrder by ICCID (no EID)");
	EXPECT(do_confirm(&e, e.opa, iccid, NULL, "", NULL, 1, &res), RSP_ERR_EID_REQUIRED,
	       "default SM-DP+ confirmOrder without an EID");
	EXPECT(do_confirm(&e, e.opa, iccid, NULL, "MID-1", NULL, 1, &res),
	       RSP_ERR_MATCHING_ID_CONFLICT, "confirmOrder with a matchingId in use");
	check(cli_is(e.db, "SELECT state FROM profiles WHERE iccid = '89990000000000010002'", "2"),
	      "a refused confirmOrder changes nothing (Allocated)");
	EXPECT(do_confirm(&e, e.opa, iccid, EID2, NULL, NULL, 0, &res), RSP_OK,
	       "confirmOrder generating the matchingId");
	snprintf(mid, sizeof(mid), "%s", res.matching_id);
	EXPECT(orders_release(&e.d, e.opa, iccid), RSP_OK, "releaseProfile");
	EXPECT(orders_release(&e.d, e.opa, iccid), RSP_ERR_ICCID_WRONG_STATE, "releaseProfile twice");
	EXPECT(do_cancel(&e, e.opa, iccid, EID1, NULL, PS_AVAILABLE), RSP_ERR_EID_DIFFERENT,
	       "cancelOrder with another EID");
	EXPECT(do_cancel(&e, e.opa, iccid, NULL, "MID-1", PS_AVAILABLE), RSP_ERR_MATCHING_ID_MISMATCH,
	       "cancelOrder with another order's matchingId");
	EXPECT(do_cancel(&e, e.opa, iccid, EID2, mid, PS_NONE), RSP_ERR_INVALID_REQUEST,
	       "cancelOrder with a bad final state");
	EXPECT(do_cancel(&e, e.opa, iccid, EID2, mid, PS_UNAVAILABLE), RSP_OK, "cancelOrder(Unavailable)");
	check(cli_is(e.db, "SELECT p.state || ',' || p.order_id || ',' || o.active FROM profiles p, "
		     "orders o WHERE p.iccid = '89990000000000010002' AND o.iccid = p.iccid", "9,0,0"),
	      "Unavailable, no order, the order inactive");
	EXPECT(do_order(&e, e.opa, iccid, NULL, NULL, got), RSP_ERR_ICCID_IN_USE,
	       "an Unavailable profile cannot be ordered");
	check(cli_is(e.db, "SELECT count(*) FROM history WHERE event = 'lifecycle'", "13"),
	      "every transition is in the history (6 imports, 7 changes)");
	/* the database refuses a second pending order of one profile itself */
	check(strstr(cli(e.db, "INSERT INTO orders (iccid, operator, eid, confirmed, matching_id, "
			 "smds_address, cc_failures, attempts, created, expires, active) VALUES "
			 "('89990000000000010001', '', '', 0, '', '', 0, 0, 0, 0, 1)"),
		     "UNIQUE constraint failed") != NULL,
	      "UNIQUE index: one active order per ICCID (sqlite3 CLI)");
	env_close(&e);
}

/* --- concurrency: threads on one handle, processes on their own --- */

struct race {
	struct env *e;
	int ok, exhausted, other;
	char got[PER_THREAD][SMDP_ICCID_LEN + 1];
};

static void *race_thread(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		char got[SMDP_ICCID_LEN + 1];
		enum rsp_status st = do_order(r->e, r->e->opa, NULL, "pool", NULL, got);
		if (st == RSP_OK)
			snprintf(r->got[r->ok++], sizeof(r->got[0]), "%s", got);
		else if (st == RSP_ERR_PROFILE_TYPE_EXHAUSTED)
			r->exhausted++;
		else
			r->other++;
	}
	return NULL;
}

static void test_concurrency(void)
{
	struct env e;
	struct race r[N_THREADS];
	pthread_t th[N_THREADS];
	char iccid[SMDP_ICCID_LEN + 1], want[32];
	int ok = 0, exh = 0, other = 0, dup = 0, failed = 0;
	pid_t pids[N_PROCS];
	struct timespec t0, t1;

	if (env_open(&e, "race")) {
		check(0, "environment");
		return;
	}
	for (int i = 0; i < THREAD_POOL; i++) {
		iccid_n(100 + i, iccid);
		orders_import(&e.d, iccid, "f", "pool");
	}
	memset(r, 0, sizeof(r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < N_THREADS; i++) {
		r[i].e = &e;
		pthread_create(&th[i], NULL, race_thread, &r[i]);
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(th[i], NULL);
		ok += r[i].ok;
		exh += r[i].exhausted;
		other += r[i].other;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# %d downloadOrders from %d threads in %.1f ms\n", N_THREADS * PER_THREAD,
	       N_THREADS, (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	for (int a = 0; a < N_THREADS; a++)
		for (int i = 0; i < r[a].ok; i++)
			for (int b = 0; b < N_THREADS; b++)
				for (int j = 0; j < r[b].ok; j++)
					dup += (a != b || i != j) && !strcmp(r[a].got[i], r[b].got[j]);
	check(ok == THREAD_POOL && exh == N_THREADS * PER_THREAD - THREAD_POOL && other == 0,
	      "%d threads x %d downloadOrders on a pool of %d: %d allocated, %d exhausted",
	      N_THREADS, PER_THREAD, THREAD_POOL, ok, exh);
	check(dup == 0, "no ICCID handed out twice");
	snprintf(want, sizeof(want), "%d", THREAD_POOL);
	check(cli_is(e.db, "SELECT count(DISTINCT iccid) FROM orders WHERE active = 1", want),
	      "sqlite3 CLI: %d distinct ordered ICCIDs", THREAD_POOL);
	env_close(&e);

	/* separate processes, each with its own connection: BEGIN IMMEDIATE
	 * is what keeps them apart */
	if (env_open(&e, "procs")) {
		check(0, "environment");
		return;
	}
	for (int i = 0; i < PROC_POOL; i++) {
		iccid_n(200 + i, iccid);
		orders_import(&e.d, iccid, "f", "pool");
	}
	env_close(&e);
	for (int p = 0; p < N_PROCS; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			struct env c;
			char got[SMDP_ICCID_LEN + 1];
			int n = 0;
			if (env_open(&c, "procs"))
				_exit(100);
			for (int i = 0; i < PER_PROC; i++)
				n += do_order(&c, c.opa, NULL, "pool", NULL, got) == RSP_OK;
			env_close(&c);
			_exit(n);
		}
	}
	ok = 0;
	for (int p = 0; p < N_PROCS; p++) {
		int st = 0;
		if (pids[p] < 0 || waitpid(pids[p], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) > PER_PROC)
			failed++;
		else
			ok += WEXITSTATUS(st);
	}
	check(!failed && ok == PROC_POOL, "%d processes x %d downloadOrders on a pool of %d: %d "
	      "allocated", N_PROCS, PER_PROC, PROC_POOL, ok);
	snprintf(want, sizeof(want), "%d|%d", PROC_POOL, PROC_POOL);
	check(cli_is(e.db, "SELECT count(DISTINCT iccid) || '|' || count(*) FROM orders", want),
	      "sqlite3 CLI: %d orders on %d distinct ICCIDs", PROC_POOL, PROC_POOL);
}

/* --- ES9+ side: selection, eligibility, CC check, PIR, queue --- */

static void fake_session(struct session *s, const char *eid)
{
	memset(s, 0, sizeof(*s));
	s->txid_len = SMDP_TXID_LEN;
	crypto_random(s->txid, s->txid_len);
	snprintf(s->eid, sizeof(s->eid), "%s", eid);
	s->state = SESSION_CLIENT_AUTHED;
	s->expires = (int64_t)time(NULL) + 60;
}

/* hashCc computed by the openssl CLI: SHA-256(SHA-256(cc) || txid) */
static int cli_hash_cc(const char *cc, const struct session *s, uint8_t out[32])
{
	char tx[33], hex[80];

	hex_encode(s->txid, s->txid_len, tx, sizeof(tx));
	if (sh(hex, sizeof(hex), "(printf '%%s' '%s' | openssl dgst -sha256 -binary; printf %s | "
	       "xxd -r -p) | openssl dgst -sha256 -r | cut -c1-64", cc, tx))
		return -1;
	return hex_decode(hex, out, 32) == 32 ? 0 : -1;
}

static void tx_hex(const struct session *s, char *out)
{
	hex_encode(s->txid, s->txid_len, out, 2 * SMDP_TXID_LEN + 1);
}

static void test_es9(void)
{
	struct env e;
	struct es2_confirm_result res;
	struct session s;
	struct ctx_params1 ctx;
	struct prepare_download_resp pdr;
	const struct profile *prof = NULL;
	struct op_notification n;
	struct buf body = { 0 };
	char err[256], got[SMDP_ICCID_LEN + 1], mid[SMDP_MAX_MATCHING_ID + 1];
	cJSON *j = NULL;

	if (env_open(&e, "es9") || saip_load_dir(&e.d.profiles, "profiles", err, sizeof(err))) {
		check(0, "environment: %s", err);
		return;
	}
	/* every TS.48 file has the ICCID 89000123456789012341: one in the inventory */
	EXPECT(orders_import(&e.d, "89000123456789012341", "TS48v1_A", "t48"), RSP_OK, "import TS48v1_A");
	EXPECT(orders_import(&e.d, "89990000000000019001", "TS48v1_B", "t48"), RSP_OK,
	       "import with an ICCID its package does not have");
	memset(&ctx, 0, sizeof(ctx));

	/* lab mode: a file stem still works when no order matches */
	e.cfg.mode = MODE_LAB;
	fake_session(&s, EID1);
	ctx.has_matching_id = 1;
	snprintf(ctx.matching_id, sizeof(ctx.matching_id), "TS48v2_SAIP2.3_NoBERTLV");
	EXPECT(orders_es9_select(&e.d, &s, &ctx, &prof), RSP_OK, "lab mode: matchingId = file stem");
	check(prof && s.order_id == 0 && !strcmp(s.profile_id, "TS48v2_SAIP2.3_NoBERTLV"),
	      "... served without an order");
	e.cfg.mode = MODE_ORDERS;
	EXPECT(orders_es9_select(&e.d, &s, &ctx, &prof), RSP_ERR_MATCHING_ID_REFUSED,
	       "orders mode: the file stem is refused");
	ctx.has_matching_id = 0;
	EXPECT(orders_es9_select(&e.d, &s, &ctx, &prof), RSP_ERR_EID_MISMATCH,
	       "orders mode: no default order for the EID");

	/* the order with a CC */
	EXPECT(do_order(&e, e.opa, "89000123456789012341", NULL, EID1, got), RSP_OK, "downloadOrder");
	EXPECT(do_confirm(&e, e.opa, got, NULL, NULL, "2468", 0, &res), RSP_OK, "confirmOrder(CC)");
	snprintf(mid, sizeof(mid), "%s", res.matching_id);
	ctx.has_matching_id = 1;
	snprintf(ctx.matching_id, sizeof(ctx.matching_id), "%s", mid);
	EXPECT(orders_es9_select(&e.d, &s, &ctx, &prof), RSP_ERR_PROFILE_NOT_RELEASED,
	       "Confirmed, not released");
	EXPECT(orders_release(&e.d, e.opa, got), RSP_OK, "releaseProfile");
	fake_session(&s, EID2);
	EXPECT(orders_es9_select(&e.d, &s, &ctx, &prof), RSP_ERR_EID_MISMATCH, "another EID");
	fake_session(&s, EID1);
	EXPECT(orders_es9_select(&e.d, &s, &ctx, &prof), RSP_OK, "the order's EID");
	check(s.order_id > 0 && s.cc_required == 1 && !strcmp(s.profile_id, "TS48v1_A") && prof &&
	      !strcmp(prof->id, "TS48v1_A"), "session bound to the order, CC required");
	check(cli_is(e.db, "SELECT attempts FROM orders WHERE active = 1 AND iccid = "
		     "'89000123456789012341'", "1"), "one attempt counted");

	memset(&pdr, 0, sizeof(pdr));
	EXPECT(orders_es9_check_bpp(&e.d, &s, &pdr), RSP_ERR_CC_MISSING, "hashCc absent");
	pdr.has_hash_cc = 1;
	cli_hash_cc("2469", &s, pdr.hash_cc);
	EXPECT(orders_es9_check_bpp(&e.d, &s, &pdr), RSP_ERR_CC_WRONG, "hashCc of another code");
	check(cli_is(e.db, "SELECT cc_failures FROM orders WHERE id = (SELECT order_id FROM "
		     "profiles WHERE iccid = '89000123456789012341')", "2"), "two failures counted");
	check(cli_hash_cc("2468", &s, pdr.hash_cc) == 0, "hashCc computed with the openssl CLI");
	EXPECT(orders_es9_check_bpp(&e.d, &s, &pdr), RSP_OK,
	       "hashCc = SHA-256(SHA-256(CC) || transactionId)");
	EXPECT(orders_es9_bpp_sent(&e.d, &s, &(struct store_es9_writes){ 0 }), RSP_ERR_INTERNAL,
	       "BPP delivery without a stored session fails (nothing half-done)");
	check(cli_is(e.db, "SELECT state FROM profiles WHERE iccid = '89000123456789012341'", "5"),
	      "... and the profile stays Released");
	s.state = SESSION_AUTH_STARTED;
	buf_set(&s.euicc_info2, "\xBF\x22\x01\x07", 4);
	buf_set(&s.device_info, "\xA1\x00", 2);
	check(store_session_insert(e.d.store, &s) == 0, "session with EUICCInfo2/DeviceInfo stored");
	{
		struct session g;
		tx_hex(&s, mid);
		check(store_session_get(e.d.store, s.txid, s.txid_len, &g) == 1 &&
		      g.order_id == s.order_id && g.euicc_info2.len == 4 &&
		      !memcmp(g.euicc_info2.p, "\xBF\x22\x01\x07", 4) && g.device_info.len == 2,
		      "... read back with its order, EUICCInfo2 and DeviceInfo");
		session_free(&g);
	}
	{
		char q[300];
		snprintf(q, sizeof(q), "SELECT hex(euicc_info2) || '|' || hex(device_info) FROM "
			 "sessions WHERE hex(txid) = '%s'", mid);
		check(cli_is(e.db, q, "BF220107|A100"), "sqlite3 CLI sees the raw TLVs");
	}
	EXPECT(orders_es9_bpp_sent(&e.d, &s, &(struct store_es9_writes){ 0 }), RSP_OK,
	       "BPP delivery recorded");
	check(cli_is(e.db, "SELECT p.state || ',' || s.state FROM profiles p, sessions s WHERE "
		     "p.iccid = '89000123456789012341' AND s.order_id = p.order_id", "6,3"),
	      "profile Downloaded and session BPP_SENT together");
	orders_es9_pir(&e.d, &s, 1, (const uint8_t *)"\xBF\x37\x00", 3,
		       &(struct store_es9_writes){ 0 });
	check(cli_is(e.db, "SELECT state FROM profiles WHERE iccid = '89000123456789012341'", "7"),
	      "PIR successResult: Installed");
	session_free(&s);
	orders_es9_pir(&e.d, &s, 0, (const uint8_t *)"\xBF\x37\x00", 3,
		       &(struct store_es9_writes){ 0 });
	check(cli_is(e.db, "SELECT state FROM profiles WHERE iccid = '89000123456789012341'", "7"),
	      "a later errorResult PIR changes nothing");
	check(cli_is(e.db, "SELECT group_concat(point || ':' || subject, ' ') FROM (SELECT * FROM "
		     "op_notifications ORDER BY id)",
		     "1:8.2 1:8.1.1 1: 2:8.2.7 2:8.2.7 3: 4:"),
	      "queued for the operator in order: refusals, eligibility, 2 CC failures, BPP, PIR");

	/* the handleDownloadProgressInfo body of the queue head */
	if (store_notify_head(e.d.store, "OP-A", &n) == 1 && es2p_json_progress(&e.cfg, &n, &body) == 0)
		j = cJSON_ParseWithLength((const char *)body.p, body.len);
	{
		const cJSON *h = cJSON_GetObjectItem(j, "header");
		const cJSON *ps = cJSON_GetObjectItem(j, "notificationPointStatus");
		const cJSON *scd = cJSON_GetObjectItem(ps, "statusCodeData");
		const cJSON *ts = cJSON_GetObjectItem(j, "timestamp");
		char want_id[32];

		snprintf(want_id, sizeof(want_id), "smdp-%lld", (long long)n.id);
		check(j && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(h,
			"functionRequesterIdentifier")), "testsmdpplus1.example.com") &&
		      !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(h, "functionCallIdentifier")),
			      want_id), "progress header: our identifier and smdp-<queue id>");
		check(j && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "iccid")),
				   "89000123456789012341") &&
		      !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "eid")), EID1) &&
		      !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "profileType")), "t48") &&
		      cJSON_GetNumberValue(cJSON_GetObjectItem(j, "notificationPointId")) == 1,
		      "progress body: iccid, eid, profileType, notificationPointId");
		check(j && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(ps, "status")), "Failed") &&
		      !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(scd, "subjectCode")), "8.2") &&
		      !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(scd, "reasonCode")), "1.2"),
		      "progress status: Failed 8.2/1.2");
		check(ts && cJSON_IsString(ts) && strlen(ts->valuestring) == 20 &&
		      ts->valuestring[10] == 'T' && ts->valuestring[19] == 'Z',
		      "timestamp YYYY-MM-DDThh:mm:ssZ (%s)", ts ? ts->valuestring : "-");
	}
	cJSON_Delete(j);
	buf_free(&body);
	op_notification_free(&n);
	check(store_notify_count(e.d.store, "OP-A") == 7 && store_notify_count(e.d.store, "OP-B") == 0,
	      "7 undelivered for OP-A, none for OP-B");

	/* eligibility: a package whose ICCID is not the inventory's */
	EXPECT(do_order(&e, e.opa, "89990000000000019001", NULL, NULL, got), RSP_OK, "order TS48v1_B");
	EXPECT(do_confirm(&e, e.opa, got, NULL, NULL, NULL, 1, &res), RSP_OK, "confirm + release");
	snprintf(ctx.matching_id, sizeof(ctx.matching_id), "%s", res.matching_id);
	fake_session(&s, EID1);
	EXPECT(orders_es9_select(&e.d, &s, &ctx, &prof), RSP_ERR_NO_ELIGIBLE_PROFILE,
	       "package ICCID differs from the inventory's -> no eligible profile");
	env_close(&e);
}

/* --- the JSON binding on hand-made requests --- */

static enum rsp_status json_call(struct env *e, const char *fn, const char *body,
				 const struct buf *cert, cJSON **out)
{
	struct http_request rq;
	struct http_response rs;
	char path[128];
	const cJSON *fes, *scd;
	enum rsp_status st = RSP_ERR_INTERNAL;

	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	snprintf(path, sizeof(path), "/gsma/rsp2/es2plus/%s", fn);
	rq.method = "POST";
	rq.path = path;
	rq.content_type = "application/json";
	rq.admin_protocol = "gsma/rsp/v2.5.0";
	rq.remote_addr = "127.0.0.1";
	rq.body = (const uint8_t *)body;
	rq.body_len = strlen(body);
	rq.client_cert = cert ? cert->p : NULL;
	rq.client_cert_len = cert ? cert->len : 0;
	es2p_json_handle(&e->d, &rq, &rs);
	*out = rs.status == 200 ? cJSON_ParseWithLength((const char *)rs.body.p, rs.body.len) : NULL;
	fes = cJSON_GetObjectItem(cJSON_GetObjectItem(*out, "header"), "functionExecutionStatus");
	scd = cJSON_GetObjectItem(fes, "statusCodeData");
	if (fes && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(fes, "status")), "Executed-Success")) {
		st = RSP_OK;
	} else if (scd) {
		/* map the codes back through the table */
		for (int i = 1; i < RSP_STATUS_COUNT; i++) {
			const struct rsp_status_info *inf = rsp_status_info((enum rsp_status)i);
			if (!strcmp(inf->subject, cJSON_GetStringValue(cJSON_GetObjectItem(scd, "subjectCode"))) &&
			    !strcmp(inf->reason, cJSON_GetStringValue(cJSON_GetObjectItem(scd, "reasonCode")))) {
				st = (enum rsp_status)i;
				break;
			}
		}
		/* failures carry the header alone (SGP.22 6.5.1.4) */
		if (cJSON_GetArraySize(*out) != 1)
			st = RSP_ERR_INTERNAL;
	}
	buf_free(&rs.body);
	return st;
}

static void test_json(void)
{
	struct env e;
	struct buf pin = { 0 }, other = { 0 };
	crypto_cert *c;
	cJSON *o = NULL;
	char err[256], path[256], cmd[512], body[512];
	const uint8_t *der;
	size_t n;
	int rc;

	if (env_open(&e, "json")) {
		check(0, "environment");
		return;
	}
	for (int i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd), "cd %s && openssl req -x509 -newkey ec -pkeyopt "
			 "ec_paramgen_curve:P-256 -nodes -subj /CN=op%d -days 2 -keyout op%d.key "
			 "-out op%d.pem 2>/dev/null", tmpdir, i, i, i);
		rc = system(cmd);
		snprintf(path, sizeof(path), "%s/op%d.pem", tmpdir, i);
		c = rc == 0 ? crypto_cert_load(path) : NULL;
		der = c ? crypto_cert_der(c, &n) : NULL;
		if (der)
			buf_set(i ? &other : &pin, der, n);
		crypto_cert_free(c);
	}
	check(pin.len && other.len, "two operator certificates made with the openssl CLI");
	snprintf(path, sizeof(path), "%s/op0.pem", tmpdir);
	config_set(&e.cfg, "operator.a.client-cert", path, err, sizeof(err));
	orders_import(&e.d, "89990000000000017001", "f", "ta");

#define HDR(req) "{\"header\":{\"functionRequesterIdentifier\":\"" req "\",\"functionCallIdentifier\":\"c1\"}"
	EXPECT(json_call(&e, "downloadOrder", "{\"profileType\":\"ta\"}", &pin, &o),
	       RSP_ERR_MISSING_ELEMENT, "JSON: no header");
	cJSON_Delete(o);
	EXPECT(json_call(&e, "downloadOrder", HDR("OP-A") ",\"profileType\":\"ta\"}", &other, &o),
	       RSP_ERR_REQUESTER_NOT_ALLOWED, "JSON: a certificate other than the pinned one");
	cJSON_Delete(o);
	EXPECT(json_call(&e, "downloadOrder", HDR("OP-A") ",\"profileType\":\"ta\"}", NULL, &o),
	       RSP_ERR_REQUESTER_NOT_ALLOWED, "JSON: no client certificate");
	cJSON_Delete(o);
	EXPECT(json_call(&e, "downloadOrder", HDR("OP-C") ",\"profileType\":\"ta\"}", &pin, &o),
	       RSP_ERR_REQUESTER_NOT_ALLOWED, "JSON: unknown requester");
	cJSON_Delete(o);
	EXPECT(json_call(&e, "downloadOrder", HDR("OP-A") ",\"profileType\":\"\"}", &pin, &o),
	       RSP_ERR_INVALID_REQUEST, "JSON: empty profileType");
	cJSON_Delete(o);
	EXPECT(json_call(&e, "downloadOrder", HDR("OP-A") ",\"profileType\":7}", &pin, &o),
	       RSP_ERR_INVALID_REQUEST, "JSON: profileType not a string");
	cJSON_Delete(o);
	EXPECT(json_call(&e, "downloadOrder", HDR("OP-A") ",\"iccid\":\"8999000000000001700\"}",
			 &pin, &o), RSP_ERR_ICCID_UNKNOWN, "JSON: 19-digit ICCID not in the inventory");
	cJSON_Delete(o);
	EXPECT(json_call(&e, "downloadOrder", HDR("OP-A") ",\"profileType\":\"ta\"}", &pin, &o),
	       RSP_OK, "JSON: downloadOrder");
	check(o && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "iccid")) ?
			   cJSON_GetStringValue(cJSON_GetObjectItem(o, "iccid")) : "",
			   "89990000000000017001") && cJSON_GetArraySize(o) == 2,
	      "JSON: success carries header and iccid only");
	cJSON_Delete(o);
	snprintf(body, sizeof(body), HDR("OP-A") ",\"iccid\":\"89990000000000017001\","
		 "\"matchingId\":\"A$B\",\"releaseFlag\":true}");
	EXPECT(json_call(&e, "confirmOrder", body, &pin, &o), RSP_ERR_INVALID_REQUEST,
	       "JSON: matchingId with the AC delimiter '$'");
	cJSON_Delete(o);
	snprintf(body, sizeof(body), HDR("OP-A") ",\"iccid\":\"89990000000000017001\","
		 "\"releaseFlag\":\"yes\"}");
	EXPECT(json_call(&e, "confirmOrder", body, &pin, &o), RSP_ERR_INVALID_REQUEST,
	       "JSON: releaseFlag not a boolean");
	cJSON_Delete(o);
	snprintf(body, sizeof(body), HDR("OP-A") ",\"iccid\":\"89990000000000017001\","
		 "\"eid\":\"" EID1 "\",\"releaseFlag\":true}");
	EXPECT(json_call(&e, "confirmOrder", body, &pin, &o), RSP_OK, "JSON: confirmOrder");
	check(o && cJSON_GetObjectItem(o, "matchingId") && cJSON_GetObjectItem(o, "smdpAddress") &&
	      !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "eid")), EID1) &&
	      cJSON_GetArraySize(o) == 4, "JSON: confirmOrder answers eid, matchingId, smdpAddress");
	cJSON_Delete(o);
	snprintf(body, sizeof(body), HDR("OP-A") ",\"iccid\":\"89990000000000017001\","
		 "\"finalProfileStatusIndicator\":\"Available\"}");
	EXPECT(json_call(&e, "cancelOrder", body, &pin, &o), RSP_OK, "JSON: cancelOrder");
	check(o && cJSON_GetArraySize(o) == 1, "JSON: cancelOrder answers the header only");
	cJSON_Delete(o);
	buf_free(&pin);
	buf_free(&other);
	env_close(&e);
}

int main(void)
{
	char cmd[128];
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/es2p_test.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	log_set_level(LOG_ERROR);
	test_helpers();
	test_config();
	test_lifecycle();
	test_concurrency();
	test_es9();
	test_json();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	rc = system(cmd);
	(void)rc;
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
