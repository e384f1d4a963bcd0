/* store_test.c - tests for store.c on temporary database files, cross-checked with the sqlite3 CLI. */
#include "../smdp.h"
#include "../lab.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXPECTED_SCHEMA_VERSION 6
#define N_THREADS 8
#define PER_THREAD 200
#define CLI_OUT 4096

struct tally {
	int pass, fail;
};

static void check(struct tally *t, int cond, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void check(struct tally *t, int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (cond)
		t->pass++;
	else
		t->fail++;
}

/* Append s to out as one single-quoted shell word. -1 if out is too small. */
static int shell_quote(char *out, size_t outsz, const char *s)
{
	size_t o = strlen(out);

	if (o + 1 >= outsz)
		return -1;
	out[o++] = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			if (o + 4 >= outsz)
				return -1;
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = *s;
		}
	}
	if (o + 2 > outsz)
		return -1;
	out[o++] = '\'';
	out[o] = '\0';
	return 0;
}

/* Run one SQL text with the sqlite3 command-line shell (a separate process,
 * independent of store.c) and return its output, trailing newline removed.
 * 0 / -1 if the shell failed. */
static int cli(const char *db, const char *sql, char *out, size_t outsz)
{
	char *cmd = calloc(1, 8192);
	FILE *p = NULL;
	size_t n = 0;
	int rc = -1, status;

	out[0] = '\0';
	if (!cmd)
		goto out;
	snprintf(cmd, 8192, "sqlite3 -batch ");
	if (shell_quote(cmd, 8192, db))
		goto out;
	strncat(cmd, " ", 8192 - strlen(cmd) - 1);
	if (shell_quote(cmd, 8192, sql))
		goto out;
	strncat(cmd, " 2>&1", 8192 - strlen(cmd) - 1);
	p = popen(cmd, "r");
	if (!p)
		goto out;
	n = fread(out, 1, outsz - 1, p);
	out[n] = '\0';
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	status = pclose(p);
	p = NULL;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
out:
	if (p)
		pclose(p);
	free(cmd);
	return rc;
}

/* 1 if the CLI answered exactly want. */
static int cli_is(const char *db, const char *sql, const char *want)
{
	char out[CLI_OUT];

	if (cli(db, sql, out, sizeof(out)))
		return 0;
	if (strcmp(out, want) != 0) {
		printf("# sqlite3 said \"%s\", expected \"%s\"\n", out, want);
		return 0;
	}
	return 1;
}

static void fill_bytes(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (i % 5 == 0) ? 0 : (uint8_t)(seed * 31 + i * 7 + 1);
}

static int fill_buf(struct buf *b, size_t n, unsigned seed)
{
	uint8_t *tmp = malloc(n);
	int rc;

	if (!tmp)
		return -1;
	fill_bytes(tmp, n, seed);
	rc = buf_set(b, tmp, n);
	free(tmp);
	return rc;
}

static void fill_str(char *s, size_t cap, char base, unsigned seed)
{
	for (size_t i = 0; i + 1 < cap; i++)
		s[i] = (char)(base + (seed + i) % 26);
	s[cap - 1] = '\0';
}

/* Every field set, strings at their maximum length, blobs with zero bytes
 * (the first byte of each is 0). */
static int fill_session(struct session *s, unsigned seed)
{
	memset(s, 0, sizeof(*s));
	fill_bytes(s->txid, sizeof(s->txid), seed);
	s->txid[1] = (uint8_t)seed;
	s->txid[2] = (uint8_t)(seed >> 8);
	s->txid_len = sizeof(s->txid);
	s->state = SESSION_BPP_SENT;
	s->created = 0x100000000LL + seed;      /* needs more than 32 bits */
	s->expires = s->created + 3600;
	fill_str(s->ci_name, sizeof(s->ci_name), 'a', seed);
	fill_bytes(s->euicc_challenge, sizeof(s->euicc_challenge), seed + 1);
	fill_bytes(s->server_challenge, sizeof(s->server_challenge), seed + 2);
	s->svn[0] = 2;
	s->svn[1] = 0;
	s->svn[2] = 3;
	for (size_t i = 0; i < SMDP_EID_LEN; i++)
		s->eid[i] = (char)('0' + (seed + i) % 10);
	s->eid[SMDP_EID_LEN] = '\0';
	fill_str(s->matching_id, sizeof(s->matching_id), 'A', seed);
	fill_str(s->profile_id, sizeof(s->profile_id), 'a', seed + 3);
	s->euicc_signature1[0] = 1;
	fill_bytes(s->euicc_signature1, sizeof(s->euicc_signature1), seed + 4);
	fill_bytes(s->smdp_signature2, sizeof(s->smdp_signature2), seed + 5);
	s->cc_required = 1;
	s->has_bound_otpk = 1;
	fill_bytes(s->bound_otpk, sizeof(s->bound_otpk), seed + 6);
	s->close_reason = CLOSE_ERROR;
	if (fill_buf(&s->euicc_cert, 512 + seed % 7, seed + 7) ||
	    fill_buf(&s->eum_cert, 600, seed + 8) ||
	    fill_buf(&s->smdp_signed2, 150, seed + 9) ||
	    fill_buf(&s->profile_metadata, 80, seed + 10))
		return -1;
	return 0;
}

static int buf_eq(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Field by field (padding and pointers make a memcmp meaningless). */
static int session_eq(const struct session *a, const struct session *b)
{
	return a->txid_len == b->txid_len && memcmp(a->txid, b->txid, a->txid_len) == 0 &&
	       a->state == b->state && a->created == b->created &&
	       a->expires == b->expires && strcmp(a->ci_name, b->ci_name) == 0 &&
	       memcmp(a->euicc_challenge, b->euicc_challenge, SMDP_CHAL_LEN) == 0 &&
	       memcmp(a->server_challenge, b->server_challenge, SMDP_CHAL_LEN) == 0 &&
	       memcmp(a->svn, b->svn, 3) == 0 && strcmp(a->eid, b->eid) == 0 &&
	       strcmp(a->matching_id, b->matching_id) == 0 &&
	       strcmp(a->profile_id, b->profile_id) == 0 &&
	       buf_eq(&a->euicc_cert, &b->euicc_cert) && buf_eq(&a->eum_cert, &b->eum_cert) &&
	       memcmp(a->euicc_signature1, b->euicc_signature1, SMDP_SIG_LEN) == 0 &&
	       buf_eq(&a->smdp_signed2, &b->smdp_signed2) &&
	       memcmp(a->smdp_signature2, b->smdp_signature2, SMDP_SIG_LEN) == 0 &&
	       a->cc_required == b->cc_required && a->has_bound_otpk == b->has_bound_otpk &&
	       memcmp(a->bound_otpk, b->bound_otpk, SMDP_POINT_LEN) == 0 &&
	       buf_eq(&a->profile_metadata, &b->profile_metadata) &&
	       a->close_reason == b->close_reason;
}

/* "X'..'" blob literal of n bytes, for SQL given to the CLI. */
static void sql_blob(const uint8_t *p, size_t n, char *out, size_t outsz)
{
	char hex[2 * SMDP_TXID_LEN + 1];

	hex_encode(p, n, hex, sizeof(hex));
	snprintf(out, outsz, "X'%s'", hex);
}

/* A minimal session: only what the sweep looks at. */
static int put_simple(struct store *st, uint8_t tag, enum session_state state,
		      int close_reason, int64_t expires)
{
	struct session s;

	memset(&s, 0, sizeof(s));
	s.txid[0] = tag;
	s.txid_len = 1;
	s.state = state;
	s.close_reason = close_reason;
	s.created = expires - 600;
	s.expires = expires;
	return store_session_insert(st, &s);
}

static int get_state(struct store *st, uint8_t tag, int *state, int *reason)
{
	struct session s;
	int r = store_session_get(st, &tag, 1, &s);

	*state = s.state;
	*reason = s.close_reason;
	session_free(&s);
	return r;
}

/* ------------------------------------------------------------------ */

struct collector {
	struct store *st;
	int n;
	int reentry_failed;     /* a store call from inside the callback failed */
	char events[200][32];
	char details[200][16];
	uint8_t txids[200][16];
	size_t txid_lens[200];
};

static void collect(void *arg, const struct history_event *e)
{
	struct collector *c = arg;

	/* the callback must be allowed to use the store (no lock held) */
	if (store_notification_count(c->st) < 0)
		c->reentry_failed = 1;
	if (c->n >= 200)
		return;
	snprintf(c->events[c->n], sizeof(c->events[0]), "%s", e->event);
	snprintf(c->details[c->n], sizeof(c->details[0]), "%.15s", e->detail);
	memcpy(c->txids[c->n], e->txid, e->txid_len);
	c->txid_lens[c->n] = e->txid_len;
	c->n++;
}

static int add_event(struct store *st, int64_t t, const uint8_t *txid, size_t txid_len,
		     const char *event, const char *detail)
{
	struct history_event e;

	memset(&e, 0, sizeof(e));
	e.time = t;
	if (txid_len)
		memcpy(e.txid, txid, txid_len);
	e.txid_len = txid_len;
	snprintf(e.eid, sizeof(e.eid), "89049032123451234512345678901235");
	snprintf(e.profile_id, sizeof(e.profile_id), "ts48v5");
	snprintf(e.event, sizeof(e.event), "%s", event);
	snprintf(e.detail, sizeof(e.detail), "%s", detail);
	return store_history_add(st, &e);
}

/* ------------------------------------------------------------------ */

struct worker {
	struct store *st;
	uint8_t tag;            /* first txid byte: which writer */
	int id;
	int errors;
};

static void worker_txid(const struct worker *w, int i, uint8_t txid[16])
{
	memset(txid, 0, 16);
	txid[0] = w->tag;
	txid[1] = (uint8_t)w->id;
	txid[2] = (uint8_t)(i >> 8);
	txid[3] = (uint8_t)i;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct session s, got;

	for (int i = 0; i < PER_THREAD; i++) {
		if (fill_session(&s, (unsigned)(w->id * 1000 + i))) {
			w->errors++;
			continue;
		}
		worker_txid(w, i, s.txid);
		if (store_session_insert(w->st, &s) != 0)
			w->errors++;
		else if (store_session_get(w->st, s.txid, s.txid_len, &got) != 1 ||
			 !session_eq(&s, &got))
			w->errors++;
		session_free(&got);
		session_free(&s);
	}
	/* read everything back once more while the other writers go on */
	for (int i = 0; i < PER_THREAD; i++) {
		uint8_t txid[16];

		worker_txid(w, i, txid);
		if (store_session_get(w->st, txid, 16, &got) != 1 ||
		    got.txid[1] != (uint8_t)w->id)
			w->errors++;
		session_free(&got);
	}
	return NULL;
}

/* 8 threads on one handle and one more on a second handle of the same
 * file, all inserting and reading at once. */
static void test_concurrency(struct tally *t, const char *dir)
{
	char path[512], sql[128];
	struct store *h1, *h2;
	struct worker w[N_THREADS + 1];
	pthread_t th[N_THREADS + 1];
	char err[256];
	int started = 0, errors = 0, found1 = 0, found2 = 0;

	snprintf(path, sizeof(path), "%s/concurrent.db", dir);
	h1 = store_open(path, err, sizeof(err));
	h2 = store_open(path, err, sizeof(err));
	check(t, h1 && h2, "concurrency: two handles on one file open");
	if (!h1 || !h2)
		goto out;
	for (int i = 0; i <= N_THREADS; i++) {
		w[i].st = i < N_THREADS ? h1 : h2;
		w[i].tag = i < N_THREADS ? 0xC0 : 0xD0;
		w[i].id = i;
		w[i].errors = 0;
		if (pthread_create(&th[i], NULL, worker_run, &w[i]) != 0)
			break;
		started++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		errors += w[i].errors;
	}
	check(t, started == N_THREADS + 1 && errors == 0,
	      "concurrency: %d threads x %d insert+get on handle 1 and 1 thread on handle 2, "
	      "%d errors", N_THREADS, PER_THREAD, errors);
	for (int i = 0; i < N_THREADS; i++) {
		for (int k = 0; k < PER_THREAD; k++) {
			uint8_t txid[16];
			struct session s;

			worker_txid(&w[i], k, txid);
			found1 += store_session_get(h1, txid, 16, &s) == 1;
			session_free(&s);
			found2 += store_session_get(h2, txid, 16, &s) == 1;
			session_free(&s);
		}
	}
	check(t, found1 == N_THREADS * PER_THREAD, "concurrency: all %d sessions present on "
	      "handle 1 (%d)", N_THREADS * PER_THREAD, found1);
	check(t, found2 == N_THREADS * PER_THREAD, "concurrency: second handle sees all %d "
	      "committed sessions (%d)", N_THREADS * PER_THREAD, found2);
	snprintf(sql, sizeof(sql), "%d", N_THREADS * PER_THREAD);
	check(t, cli_is(path, "SELECT count(*) FROM sessions WHERE hex(substr(txid, 1, 1)) = 'C0'",
			sql), "concurrency: sqlite3 CLI counts %s sessions from handle 1", sql);
	check(t, cli_is(path, "SELECT count(*) FROM sessions WHERE hex(substr(txid, 1, 1)) = 'D0'",
			"200"), "concurrency: sqlite3 CLI counts 200 sessions from handle 2");
out:
	store_close(h1);
	store_close(h2);
	check(t, cli_is(path, "PRAGMA integrity_check", "ok"),
	      "concurrency: integrity_check ok after close");
}

/* ------------------------------------------------------------------ */

/* One ES9+ call's rows in one transaction (issue 8): all kept together,
 * or none when one of them is invalid. Counted with the sqlite3 CLI. */
static int fn_fail(struct store_tx *tx, void *arg)
{
	(void)tx;
	(void)arg;
	return 7;
}

static void test_es9_write(struct tally *t, const char *dir)
{
	char path[512], err[256];
	struct store *st;
	struct session s;
	struct history_event ev;
	struct binding b;
	struct notification_row n;
	struct store_es9_writes w;
	const char *count = "SELECT (SELECT count(*) FROM sessions) || ',' || (SELECT count(*) "
		"FROM history) || ',' || (SELECT count(*) FROM bindings) || ',' || "
		"(SELECT count(*) FROM notifications)";

	snprintf(path, sizeof(path), "%s/es9write.db", dir);
	st = store_open(path, err, sizeof(err));
	check(t, st != NULL, "es9 write: store opened %s", st ? "" : err);
	if (!st)
		return;
	memset(&ev, 0, sizeof(ev));
	memset(&b, 0, sizeof(b));
	memset(&n, 0, sizeof(n));
	memset(&w, 0, sizeof(w));
	fill_session(&s, 9);
	memcpy(ev.txid, s.txid, s.txid_len);
	ev.txid_len = sizeof(ev.txid) + 1;          /* invalid: the whole call is refused */
	snprintf(ev.event, sizeof(ev.event), "initiated");
	w.session = &s;
	w.session_insert = 1;
	w.history = &ev;
	check(t, store_es9_write(st, &w) == -1 && cli_is(path, count, "0,0,0,0"),
	      "es9 write with an invalid history row keeps nothing, not even the session");
	ev.txid_len = s.txid_len;
	w.fn = fn_fail;
	check(t, store_es9_write(st, &w) == 7 && cli_is(path, count, "0,0,0,0"),
	      "es9 write: the orders part refusing rolls the rows back, its value returned");
	w.fn = NULL;
	check(t, store_es9_write(st, &w) == 0 && cli_is(path, count, "1,1,0,0"),
	      "es9 write: session inserted with its history event");
	snprintf(b.eid, sizeof(b.eid), "%s", s.eid);
	snprintf(b.profile_id, sizeof(b.profile_id), "%s", s.profile_id);
	s.state = SESSION_BPP_SENT;
	w.session_insert = 0;
	w.binding_put = &b;
	check(t, store_es9_write(st, &w) == 0 && cli_is(path, count, "1,2,1,0") &&
	      cli_is(path, "SELECT state FROM sessions", "3"),
	      "es9 write: session update, binding and history together");
	w.binding_put = NULL;
	w.binding_del_eid = b.eid;
	w.binding_del_profile = b.profile_id;
	n.kind = NOTIF_PIR;
	memcpy(n.txid, s.txid, s.txid_len);
	n.txid_len = s.txid_len;
	w.notification = &n;
	s.state = SESSION_CLOSED;
	check(t, store_es9_write(st, &w) == 0 && cli_is(path, count, "1,3,0,1") &&
	      cli_is(path, "SELECT state FROM sessions", "4"),
	      "es9 write: PIR rows: session closed, binding dropped, history, notification");
	session_free(&s);
	store_close(st);
}

/* A file from before the merge of the lab's tables (issue 7): schema 2 plus
 * lab_* tables and lab_schema_version written by a second connection. The
 * sqlite3 CLI makes one from a fresh file; opening it migrates to 3. */
static void test_lab_seam(struct tally *t, const char *dir)
{
	char path[512], err[256], want[16];
	struct store *st;
	int made;

	snprintf(path, sizeof(path), "%s/seam.db", dir);
	st = store_open(path, err, sizeof(err));
	made = st != NULL;
	store_close(st);
	made = made && cli_is(path, "UPDATE schema_version SET version = 2; "
			      "ALTER TABLE lab_trace_events DROP COLUMN body; "
			      "CREATE TABLE lab_schema_version (id INTEGER PRIMARY KEY CHECK "
			      "(id = 1), version INTEGER NOT NULL); INSERT INTO lab_schema_version "
			      "VALUES (1, 1); INSERT INTO lab_faults (name, spec, enabled, origin, "
			      "created) VALUES ('kept', 'action=drop', 1, 'cli', 1)", "");
	check(t, made, "sqlite3 CLI builds a schema-2 file with the old lab tables");
	st = store_open(path, err, sizeof(err));
	check(t, st && store_schema_version(st) == EXPECTED_SCHEMA_VERSION,
	      "it opens and migrates to %d %s", EXPECTED_SCHEMA_VERSION, st ? "" : err);
	store_close(st);
	snprintf(want, sizeof(want), "%d", EXPECTED_SCHEMA_VERSION);
	check(t, cli_is(path, "SELECT version FROM schema_version", want) &&
	      cli_is(path, "SELECT count(*) FROM sqlite_master WHERE name = 'lab_schema_version'",
		     "0") &&
	      cli_is(path, "SELECT name || '|' || spec FROM lab_faults", "kept|action=drop") &&
	      cli_is(path, "SELECT count(*) FROM pragma_table_info('lab_trace_events') "
		     "WHERE name = 'body'", "1"),
	      "sqlite3 CLI: lab_schema_version gone, the old lab rows kept, trace bodies added");
}

/* Schema 5 rebuilds history and notifications without AUTOINCREMENT and
 * drops indexes no query uses: a schema-4 file keeps its rows and ids, and
 * the next id follows the largest. The sqlite3 CLI turns a fresh file back
 * into the version-4 shape (AUTOINCREMENT tables, the old indexes); schema
 * 6 then swaps the transactions' index on updated for one on started. */
static void test_v5_rebuild(struct tally *t, const char *dir)
{
	static const uint8_t tx[3] = { 0x0a, 0x0b, 0x0c };
	char path[512], err[256];
	struct store *st;
	int made;

	snprintf(path, sizeof(path), "%s/v4.db", dir);
	st = store_open(path, err, sizeof(err));
	made = st != NULL;
	store_close(st);
	made = made && cli_is(path, "UPDATE schema_version SET version = 4; "
			      "DROP TABLE history; CREATE TABLE history (id INTEGER PRIMARY KEY "
			      "AUTOINCREMENT, time INTEGER NOT NULL, txid BLOB NOT NULL, eid TEXT "
			      "NOT NULL, profile_id TEXT NOT NULL, event TEXT NOT NULL, detail TEXT "
			      "NOT NULL); CREATE INDEX history_txid ON history(txid, id); "
			      "CREATE INDEX history_eid ON history(eid, id); "
			      "INSERT INTO history VALUES (7, 1, x'0a0b0c', 'e', 'p', 'first', ''); "
			      "INSERT INTO history VALUES (9, 2, x'0a0b0c', 'e', 'p', 'second', ''); "
			      "DROP INDEX sessions_expires; "
			      "CREATE INDEX sessions_expires ON sessions(expires, state); "
			      "CREATE INDEX sessions_eid ON sessions(eid); "
			      "CREATE INDEX lab_trace_events_time ON lab_trace_events(time_us); "
			      "DROP INDEX lab_transactions_started; "
			      "CREATE INDEX lab_transactions_updated ON lab_transactions(updated)", "");
	check(t, made, "sqlite3 CLI builds a schema-4 file with history rows 7 and 9");
	st = store_open(path, err, sizeof(err));
	check(t, st && store_schema_version(st) == EXPECTED_SCHEMA_VERSION,
	      "the schema-4 file migrates to %d %s", EXPECTED_SCHEMA_VERSION, st ? "" : err);
	check(t, st && add_event(st, 3, tx, sizeof(tx), "third", "") == 0,
	      "a history event is added after the migration");
	store_close(st);
	check(t, cli_is(path, "SELECT group_concat(id || ':' || event, ',') FROM history",
			"7:first,9:second,10:third"),
	      "history keeps its rows and ids; the next id follows the largest");
	check(t, cli_is(path, "SELECT count(*) FROM sqlite_master WHERE sql LIKE '%AUTOINCREMENT%'"
			" AND name IN ('history', 'notifications')", "0") &&
	      cli_is(path, "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master "
		     "WHERE type = 'index' AND name IN ('history_eid', 'sessions_eid', "
		     "'notifications_eid', 'notifications_txid', 'lab_trace_events_time', "
		     "'history_txid', 'sessions_expires', 'lab_transactions_updated', "
		     "'lab_transactions_started') ORDER BY name)",
		     "history_txid,lab_transactions_started,sessions_expires") &&
	      cli_is(path, "SELECT sql FROM sqlite_master WHERE name = 'sessions_expires'",
		     "CREATE INDEX sessions_expires ON sessions(expires)"),
	      "no AUTOINCREMENT left; unused indexes gone; the expiry index without the state; "
	      "transactions indexed by started, not updated");
}

/* The lab's transaction list (console, smdp-lab sessions): newest first,
 * each row with the session its key names. Keys: 900 upper-case hex txids
 * with a session, 300 without one, a lower-case key of a stored session
 * (which names none: keys are written upper case) and "none-..." keys. */
struct list_seen {
	int n, order_ok, rows_ok;
	int64_t last;
};

static int list_expect(int i, int *state)
{
	*state = i % 3;                 /* SESSION_* values 0..2 */
	return i < 900;
}

static void list_row(void *arg, const struct lab_tx_summary *s)
{
	struct list_seen *a = arg;
	int64_t k = s->started_us - 1000000;   /* the index the row was stored with */
	int state;

	if (a->n && s->started_us >= a->last)
		a->order_ok = 0;
	a->last = s->started_us;
	a->n++;
	if (k >= 0 && k < 1200) {
		int i = (int)k;
		int has = list_expect(i, &state);
		if (s->has_session != has ||
		    (has && (s->state != state || s->close_reason != i % 7 ||
			     s->expires != 5000 + i)))
			a->rows_ok = 0;
	} else if (s->has_session) {    /* the lower-case and "none-" keys */
		a->rows_ok = 0;
	}
}

static void test_trace_list(struct tally *t, const char *dir)
{
	char path[512], err[256], plan[CLI_OUT];
	struct lab_tx_summary sum, got;
	struct list_seen seen = { 0, 1, 1, 0 };
	struct lab_event ev;
	struct session s;
	struct store *st;
	int ok = 1, state;

	snprintf(path, sizeof(path), "%s/list.db", dir);
	st = store_open(path, err, sizeof(err));
	check(t, st != NULL, "store for the transaction list %s", st ? "" : err);
	if (!st)
		return;
	memset(&ev, 0, sizeof(ev));
	str_copy(ev.kind, sizeof(ev.kind), "request");
	ev.detail = "{}";
	for (int i = 0; i < 1200 && ok; i++) {
		uint8_t txid[16] = { 0x5a, 0x10 };

		txid[14] = (uint8_t)(i >> 8);
		txid[15] = (uint8_t)i;
		if (list_expect(i, &state)) {
			memset(&s, 0, sizeof(s));
			memcpy(s.txid, txid, sizeof(txid));
			s.txid_len = sizeof(txid);
			s.state = (enum session_state)state;
			s.close_reason = i % 7;
			s.created = 1000;
			s.expires = 5000 + i;
			ok = store_session_insert(st, &s) == 0;
		}
		memset(&sum, 0, sizeof(sum));
		hex_encode(txid, sizeof(txid), sum.txid, sizeof(sum.txid));
		sum.started_us = sum.updated_us = 1000000 + i;
		sum.calls = 1;
		str_copy(ev.txid, sizeof(ev.txid), sum.txid);
		ok = ok && store_trace_add(st, &ev, 1, &sum) == 0;
	}
	/* newer than all of the above: a lower-case key of session 0 and
	 * keys that are no txid */
	memset(&sum, 0, sizeof(sum));
	str_copy(sum.txid, sizeof(sum.txid), "5a100000000000000000000000000000");
	sum.started_us = sum.updated_us = 3000000;
	ok = ok && store_trace_add(st, &ev, 0, &sum) == 0;
	str_copy(sum.txid, sizeof(sum.txid), "none-3000001");
	sum.started_us = sum.updated_us = 3000001;
	ok = ok && store_trace_add(st, &ev, 0, &sum) == 0;
	check(t, ok, "900 sessions and 1,202 traced transactions stored");
	ok = store_trace_list(st, LAB_MAX_LIST, list_row, &seen) == 0;
	check(t, ok && seen.n == LAB_MAX_LIST && seen.order_ok && seen.rows_ok,
	      "list: %d rows (want %d), newest first, each with its own session or none",
	      seen.n, LAB_MAX_LIST);
	check(t, store_trace_get(st, "5A10000000000000000000000000012C", &got) == 1 &&
	      got.has_session && got.state == 300 % 3 && got.close_reason == 300 % 7 &&
	      got.expires == 5300 && got.started_us == 1000300,
	      "get: transaction 300 with its session");
	check(t, store_trace_get(st, "5A1000000000000000000000000003E8", &got) == 1 &&
	      !got.has_session && got.started_us == 1001000,
	      "get: transaction 1000 has no session");
	check(t, store_trace_get(st, "5a100000000000000000000000000000", &got) == 1 &&
	      !got.has_session, "get: a lower-case key names no session");
	store_close(st);
	/* the list's shape reads the index backwards: no sort of the table */
	check(t, cli(path, "EXPLAIN QUERY PLAN SELECT txid FROM lab_transactions "
		     "ORDER BY started DESC LIMIT 5", plan, sizeof(plan)) == 0 &&
	      strstr(plan, "USING INDEX lab_transactions_started") &&
	      !strstr(plan, "TEMP B-TREE"),
	      "sqlite3 CLI: newest first through lab_transactions_started (%s)", plan);
}

static void test_open_errors(struct tally *t, const char *dir)
{
	char path[512], err[256], sql[128];
	struct store *st;
	int opened;
	FILE *f;

	snprintf(path, sizeof(path), "%s/missing-dir/smdp.db", dir);
	err[0] = '\0';
	st = store_open(path, err, sizeof(err));
	check(t, !st && strstr(err, "does not exist"),
	      "open in a missing directory fails clearly: %s", err);
	store_close(st);

	snprintf(path, sizeof(path), "%s/garbage.db", dir);
	f = fopen(path, "w");
	if (f) {
		for (int i = 0; i < 200; i++)
			fputs("this is not an SQLite database file\n", f);
		fclose(f);
	}
	err[0] = '\0';
	st = store_open(path, err, sizeof(err));
	check(t, !st && err[0], "a file that is not a database is refused: %s", err);
	store_close(st);

	/* a database written by a newer smdp */
	snprintf(path, sizeof(path), "%s/newer.db", dir);
	st = store_open(path, err, sizeof(err));
	opened = st != NULL;
	store_close(st);
	snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d",
		 EXPECTED_SCHEMA_VERSION + 1);
	check(t, opened && cli_is(path, sql, ""), "schema version bumped with the sqlite3 CLI");
	err[0] = '\0';
	st = store_open(path, err, sizeof(err));
	check(t, !st && strstr(err, "newer"),
	      "a database with a newer schema version is refused: %s", err);
	store_close(st);
	snprintf(sql, sizeof(sql), "%d", EXPECTED_SCHEMA_VERSION + 1);
	check(t, cli_is(path, "SELECT version FROM schema_version", sql),
	      "the refused database is left untouched");
}

static void test_sweep(struct tally *t, struct store *st, const char *path)
{
	const int64_t now = 1700000000;
	int state, reason, r, ok;

	ok = put_simple(st, 0xA1, SESSION_AUTH_STARTED, CLOSE_NONE, now + 100) == 0 &&
	     put_simple(st, 0xA2, SESSION_CLIENT_AUTHED, CLOSE_NONE, now - 10) == 0 &&
	     put_simple(st, 0xA3, SESSION_CLOSED, CLOSE_INSTALLED, now - 1000) == 0 &&
	     put_simple(st, 0xA4, SESSION_BPP_SENT, CLOSE_NONE, now - 1000) == 0 &&
	     put_simple(st, 0xA5, SESSION_CLOSED, CLOSE_INSTALLED, now - 100) == 0 &&
	     put_simple(st, 0xA6, SESSION_AUTH_STARTED, CLOSE_NONE, now) == 0;
	check(t, ok, "sweep: six sessions inserted");
	r = store_session_sweep(st, now, 500);
	check(t, r == 3, "sweep returns 3 changed rows (1 expired, 2 deleted): %d", r);
	r = get_state(st, 0xA1, &state, &reason);
	check(t, r == 1 && state == SESSION_AUTH_STARTED && reason == CLOSE_NONE,
	      "sweep: session not yet expired is untouched");
	r = get_state(st, 0xA6, &state, &reason);
	check(t, r == 1 && state == SESSION_AUTH_STARTED,
	      "sweep: session expiring exactly now is untouched");
	r = get_state(st, 0xA2, &state, &reason);
	check(t, r == 1 && state == SESSION_CLOSED && reason == CLOSE_EXPIRED,
	      "sweep: expired open session becomes CLOSED/EXPIRED");
	r = get_state(st, 0xA5, &state, &reason);
	check(t, r == 1 && state == SESSION_CLOSED && reason == CLOSE_INSTALLED,
	      "sweep: recently closed session kept with its close reason");
	check(t, get_state(st, 0xA3, &state, &reason) == 0,
	      "sweep: closed session older than keep_seconds deleted");
	check(t, get_state(st, 0xA4, &state, &reason) == 0,
	      "sweep: open session expired longer than keep_seconds ago deleted");
	check(t, cli_is(path, "SELECT group_concat(hex(txid) || ':' || state || ':' || "
			"close_reason, ' ') FROM (SELECT * FROM sessions WHERE length(txid) = 1 "
			"ORDER BY txid)", "A1:1:0 A2:4:5 A5:4:1 A6:1:0"),
	      "sweep: sqlite3 CLI sees exactly the expected rows");
	r = store_session_sweep(st, now, 500);
	check(t, r == 0, "sweep again at the same time changes nothing: %d", r);
}

static void test_bindings(struct tally *t, struct store *st, const char *path)
{
	struct binding b, got;
	int r;

	memset(&b, 0, sizeof(b));
	snprintf(b.eid, sizeof(b.eid), "89049032123451234512345678901235");
	snprintf(b.profile_id, sizeof(b.profile_id), "ts48v5-saip2.3");
	fill_bytes(b.euicc_otpk, sizeof(b.euicc_otpk), 40);
	fill_bytes(b.dp_otpk, sizeof(b.dp_otpk), 41);
	b.created = 1700000123;
	if (fill_buf(&b.segments, 70000, 42))
		return;
	check(t, store_binding_get(st, b.eid, b.profile_id, &got) == 0,
	      "binding get before put: 0");
	check(t, store_binding_put(st, &b) == 0, "binding put");
	r = store_binding_get(st, b.eid, b.profile_id, &got);
	check(t, r == 1 && strcmp(got.eid, b.eid) == 0 &&
	      strcmp(got.profile_id, b.profile_id) == 0 &&
	      memcmp(got.euicc_otpk, b.euicc_otpk, SMDP_POINT_LEN) == 0 &&
	      memcmp(got.dp_otpk, b.dp_otpk, SMDP_POINT_LEN) == 0 &&
	      buf_eq(&got.segments, &b.segments) && got.created == b.created,
	      "binding round trip (70000-byte segments with zero bytes)");
	binding_free(&got);
	check(t, store_binding_get(st, b.eid, "other-profile", &got) == 0,
	      "binding of another profile: 0");
	/* replace: same key, new otPK and segments */
	fill_bytes(b.euicc_otpk, sizeof(b.euicc_otpk), 50);
	b.created++;
	fill_buf(&b.segments, 1000, 51);
	check(t, store_binding_put(st, &b) == 0, "binding put again (replace)");
	r = store_binding_get(st, b.eid, b.profile_id, &got);
	check(t, r == 1 && memcmp(got.euicc_otpk, b.euicc_otpk, SMDP_POINT_LEN) == 0 &&
	      buf_eq(&got.segments, &b.segments) && got.created == b.created,
	      "binding replaced");
	binding_free(&got);
	check(t, cli_is(path, "SELECT count(*), length(segments) FROM bindings", "1|1000"),
	      "sqlite3 CLI: one binding row after replace, 1000-byte segments");
	check(t, store_binding_delete(st, b.eid, b.profile_id) == 0, "binding delete");
	check(t, store_binding_get(st, b.eid, b.profile_id, &got) == 0,
	      "binding gone after delete");
	check(t, store_binding_delete(st, b.eid, b.profile_id) == 0,
	      "deleting an absent binding is not an error");
	/* keep one for the persistence check */
	check(t, store_binding_put(st, &b) == 0, "binding put for the reopen check");
	binding_free(&b);
}

static void test_history(struct tally *t, struct store *st)
{
	static const uint8_t tx1[3] = { 0x01, 0x00, 0x01 }, tx2[3] = { 0x01, 0x00, 0x02 };
	static const uint8_t tx3[16] = { 0x03 };
	struct collector *c = calloc(1, sizeof(*c));
	char detail[16];
	int ok = 1, r;

	if (!c)
		return;
	c->st = st;
	ok &= add_event(st, 100, tx1, 3, "initiated", "") == 0;
	ok &= add_event(st, 101, tx2, 3, "initiated", "") == 0;
	ok &= add_event(st, 102, tx1, 3, "authenticated", "") == 0;
	ok &= add_event(st, 103, tx2, 3, "failed", "8.1.2/6.3") == 0;
	ok &= add_event(st, 104, tx1, 3, "bpp-sent", "") == 0;
	ok &= add_event(st, 105, NULL, 0, "note", "no txid") == 0;
	check(t, ok, "history: six events added");

	check(t, store_history_each(st, tx1, 3, collect, c) == 0 && c->n == 3 &&
	      strcmp(c->events[0], "initiated") == 0 &&
	      strcmp(c->events[1], "authenticated") == 0 &&
	      strcmp(c->events[2], "bpp-sent") == 0 && c->txid_lens[0] == 3 &&
	      memcmp(c->txids[2], tx1, 3) == 0, "history filtered by txid, oldest first");
	c->n = 0;
	check(t, store_history_each(st, tx2, 3, collect, c) == 0 && c->n == 2 &&
	      strcmp(c->events[1], "failed") == 0 && strcmp(c->details[1], "8.1.2/6.3") == 0,
	      "history of another txid, with its detail");
	c->n = 0;
	r = store_history_each(st, NULL, 0, collect, c);
	check(t, r == 0 && c->n == 6 &&
	      strcmp(c->events[0], "initiated") == 0 && memcmp(c->txids[1], tx2, 3) == 0 &&
	      strcmp(c->events[5], "note") == 0 && c->txid_lens[5] == 0,
	      "history of all txids in order (%d)", c->n);
	c->n = 0;
	for (int i = 0; i < 150; i++) {
		snprintf(detail, sizeof(detail), "%d", i);
		ok &= add_event(st, 200 + i, tx3, 16, "retry", detail) == 0;
	}
	r = store_history_each(st, tx3, 16, collect, c);
	check(t, r == 0 && c->n == 150,
	      "history of 150 events (several batches): %d", c->n);
	for (int i = 0; i < c->n; i++) {
		snprintf(detail, sizeof(detail), "%d", i);
		ok &= strcmp(c->details[i], detail) == 0;
	}
	check(t, ok, "history: all 150 in insertion order");
	check(t, !c->reentry_failed, "history callback may call the store (no deadlock)");
	c->n = 0;
	check(t, store_history_each(st, (const uint8_t *)"\x77", 1, collect, c) == 0 &&
	      c->n == 0, "history of an unknown txid is empty");
	free(c);
}

static void test_notifications(struct tally *t, struct store *st, const char *path)
{
	struct notification_row n;
	int ok = 1;

	check(t, store_notification_count(st) == 0, "no notifications at first");
	for (int i = 0; i < 3; i++) {
		memset(&n, 0, sizeof(n));
		n.time = 1700000000 + i;
		n.txid[0] = (uint8_t)i;
		n.txid_len = i == 2 ? 0 : 16;
		snprintf(n.eid, sizeof(n.eid), "89049032123451234512345678901235");
		n.kind = i == 2 ? NOTIF_OTHER : NOTIF_PIR;
		n.seq_number = 10 + i;
		n.operation = i;
		n.verified = 1;
		if (buf_set(&n.raw, "\xBF\x37\x03\x00\x00\x00", 6))
			ok = 0;
		ok &= store_notification_add(st, &n) == 0;
		buf_free(&n.raw);
	}
	check(t, ok, "three notifications added");
	check(t, store_notification_count(st) == 3, "notification count is 3");
	check(t, cli_is(path, "SELECT group_concat(hex(raw) || '/' || length(txid) || '/' || "
			"kind || '/' || seq_number, ' ') FROM notifications",
			"BF3703000000/16/1/10 BF3703000000/16/1/11 BF3703000000/0/2/12"),
	      "sqlite3 CLI: notification rows kept verbatim");
}

int main(void)
{
	struct tally t = { 0, 0 };
	char tmpl[] = "/tmp/store_test.XXXXXX", path[512], err[256], out[CLI_OUT];
	char want[2048], lit[64], sql[2048];
	struct session s, got, other;
	struct store *st = NULL, *h2 = NULL;
	const char *dir;
	int r;

	log_set_level(LOG_ERROR);
	memset(&s, 0, sizeof(s));
	memset(&got, 0, sizeof(got));
	dir = mkdtemp(tmpl);
	if (!dir) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/smdp.db", dir);
	check(&t, cli("/dev/null", "SELECT 1", out, sizeof(out)) == 0 && strcmp(out, "1") == 0,
	      "sqlite3 command-line shell available");

	/* open and schema */
	st = store_open(path, err, sizeof(err));
	check(&t, st != NULL, "store_open creates %s %s", path, st ? "" : err);
	if (!st)
		goto out;
	check(&t, store_schema_version(st) == EXPECTED_SCHEMA_VERSION, "schema version is %d",
	      EXPECTED_SCHEMA_VERSION);
	snprintf(want, sizeof(want), "%d", EXPECTED_SCHEMA_VERSION);
	check(&t, cli_is(path, "SELECT version FROM schema_version", want),
	      "sqlite3 CLI reads schema_version %s", want);
	check(&t, cli_is(path, "SELECT group_concat(name, ',') FROM (SELECT name FROM "
			 "sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
			 "ORDER BY name)", "bindings,history,lab_fault_gen,lab_faults,lab_trace_events,lab_transactions,"
			 "notifications,op_notifications,orders,"
			 "profiles,schema_version,sessions"),
	      "sqlite3 CLI lists the expected tables");
	check(&t, cli_is(path, "PRAGMA journal_mode", "wal"), "journal_mode is wal");

	/* sessions */
	check(&t, fill_session(&s, 7) == 0, "fully populated session built");
	check(&t, store_session_get(st, s.txid, s.txid_len, &got) == 0,
	      "get of an unknown txid returns 0");
	check(&t, store_session_insert(st, &s) == 0, "session insert");
	r = store_session_get(st, s.txid, s.txid_len, &got);
	check(&t, r == 1 && session_eq(&s, &got), "session get returns every field as inserted");
	session_free(&got);
	sql_blob(s.txid, s.txid_len, lit, sizeof(lit));
	snprintf(sql, sizeof(sql), "SELECT hex(euicc_cert) FROM sessions WHERE txid = %s", lit);
	if (cli(path, sql, out, sizeof(out)) == 0) {
		char *hex = malloc(2 * s.euicc_cert.len + 1);
		check(&t, hex && hex_encode(s.euicc_cert.p, s.euicc_cert.len, hex,
					    2 * s.euicc_cert.len + 1) > 0 &&
		      strcmp(hex, out) == 0, "sqlite3 CLI reads the certificate blob byte for byte");
		free(hex);
	} else {
		check(&t, 0, "sqlite3 CLI reads the certificate blob byte for byte");
	}
	check(&t, store_session_insert(st, &s) == -1, "duplicate insert fails");
	s.state = SESSION_CLOSED;
	s.close_reason = CLOSE_INSTALLED;
	s.expires += 10;
	s.eid[0] = '9';
	s.profile_id[0] = '\0';
	fill_buf(&s.smdp_signed2, 33, 99);
	buf_free(&s.profile_metadata);
	check(&t, store_session_update(st, &s) == 0, "session update");
	r = store_session_get(st, s.txid, s.txid_len, &got);
	check(&t, r == 1 && session_eq(&s, &got) && got.profile_metadata.len == 0 &&
	      got.profile_metadata.p == NULL, "update replaced fields (emptied buffer stays empty)");
	session_free(&got);
	{
		struct session_brief b;
		uint8_t unknown[16] = { 0xEE };

		check(&t, store_session_brief(st, s.txid, s.txid_len, &b) == 1 &&
		      b.state == SESSION_CLOSED && b.close_reason == CLOSE_INSTALLED &&
		      b.expires == s.expires && !strcmp(b.eid, s.eid) &&
		      !strcmp(b.matching_id, s.matching_id) && b.profile_id[0] == '\0',
		      "session brief: state, close reason, expiry, EID, matchingId, profile as stored");
		check(&t, store_session_brief(st, unknown, sizeof(unknown), &b) == 0 &&
		      b.eid[0] == '\0', "session brief of an unknown txid: 0, zeroed");
	}
	/* the expiry is written by a statement of its own, only when it moved:
	 * an update that keeps it changes the rest, and the index agrees */
	s.state = SESSION_CLIENT_AUTHED;
	s.close_reason = 0;
	check(&t, store_session_update(st, &s) == 0, "update that keeps the expiry");
	r = store_session_get(st, s.txid, s.txid_len, &got);
	check(&t, r == 1 && session_eq(&s, &got), "update that keeps the expiry: every field as written");
	session_free(&got);
	s.expires += 7;
	check(&t, store_session_update(st, &s) == 0, "update that moves only the expiry");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM sessions INDEXED BY sessions_expires "
		 "WHERE expires = %lld", (long long)s.expires);
	check(&t, cli_is(path, sql, "1") && cli_is(path, "PRAGMA integrity_check", "ok"),
	      "the expiry index finds the moved expiry; integrity_check ok");
	r = store_session_get(st, s.txid, s.txid_len, &got);
	check(&t, r == 1 && session_eq(&s, &got), "moved expiry read back");
	session_free(&got);
	fill_session(&other, 8);
	check(&t, store_session_update(st, &other) == -1, "update of an unknown txid fails");
	other.txid_len = 0;
	check(&t, store_session_insert(st, &other) == -1, "insert with an empty txid fails");
	other.txid_len = 17;
	check(&t, store_session_insert(st, &other) == -1, "insert with a 17-byte txid fails");
	other.txid_len = 16;
	memset(other.eid, '1', sizeof(other.eid));
	check(&t, store_session_insert(st, &other) == -1, "insert with an unterminated eid fails");
	session_free(&other);
	check(&t, cli_is(path, "SELECT count(*) FROM sessions", "1"),
	      "failed writes left no rows behind");

	/* a second handle sees committed rows at once */
	h2 = store_open(path, err, sizeof(err));
	r = h2 ? store_session_get(h2, s.txid, s.txid_len, &got) : -1;
	check(&t, r == 1 && session_eq(&s, &got), "a second handle reads the committed session");
	session_free(&got);
	s.state = SESSION_CLIENT_AUTHED;
	store_session_update(st, &s);
	r = h2 ? store_session_get(h2, s.txid, s.txid_len, &got) : -1;
	check(&t, r == 1 && got.state == SESSION_CLIENT_AUTHED,
	      "the second handle sees a later update");
	session_free(&got);
	store_close(h2);

	test_sweep(&t, st, path);
	test_bindings(&t, st, path);
	test_history(&t, st);
	test_notifications(&t, st, path);

	/* persistence */
	store_close(st);
	st = store_open(path, err, sizeof(err));
	check(&t, st && store_schema_version(st) == EXPECTED_SCHEMA_VERSION,
	      "reopen keeps the schema version");
	if (!st)
		goto out;
	r = store_session_get(st, s.txid, s.txid_len, &got);
	check(&t, r == 1 && session_eq(&s, &got), "reopen: session intact");
	session_free(&got);
	{
		struct binding b;
		r = store_binding_get(st, "89049032123451234512345678901235", "ts48v5-saip2.3", &b);
		check(&t, r == 1 && b.segments.len == 1000, "reopen: binding intact");
		binding_free(&b);
	}
	{
		struct collector *c = calloc(1, sizeof(*c));
		if (c) {
			c->st = st;
			r = store_history_each(st, NULL, 0, collect, c);
		}
		check(&t, c && r == 0 && c->n == 156, "reopen: 156 history events kept");
		free(c);
	}
	check(&t, store_notification_count(st) == 3, "reopen: 3 notifications kept");
	check(&t, cli_is(path, "PRAGMA integrity_check", "ok"), "integrity_check ok (store open)");
	store_close(st);
	st = NULL;
	check(&t, cli_is(path, "PRAGMA integrity_check", "ok"), "integrity_check ok after close");
	check(&t, cli_is(path, "PRAGMA journal_mode", "wal"), "journal_mode still wal after close");

	/* tests of other modules may use a throw-away in-memory store */
	st = store_open(":memory:", err, sizeof(err));
	r = st ? store_session_insert(st, &s) : -1;
	check(&t, st && r == 0 && store_schema_version(st) == EXPECTED_SCHEMA_VERSION,
	      "an in-memory store opens and takes writes");
	store_close(st);
	st = NULL;

	test_open_errors(&t, dir);
	test_lab_seam(&t, dir);
	test_v5_rebuild(&t, dir);
	test_trace_list(&t, dir);
	test_es9_write(&t, dir);
	test_concurrency(&t, dir);
out:
	store_close(st);
	session_free(&s);
	snprintf(sql, sizeof(sql), "rm -rf '%s'", dir);
	if (t.fail == 0 && system(sql) != 0)
		printf("# could not remove %s\n", dir);
	else if (t.fail)
		printf("# database files kept in %s\n", dir);
	printf("%d passed, %d failed\n", t.pass, t.fail);
	return t.fail ? 1 : 0;
}
