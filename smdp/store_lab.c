/* store_lab.c - the lab's SQLite tables (issue 7): fault rules, session
 * trace events and per-transaction summaries.
 *
 * TEMPORARY SEAM: smdp keeps all state in one SQLite file behind store.c,
 * but store.c is being reworked for ES2+ right now. Until that lands, this
 * file opens a second connection to the same database file (WAL mode lets
 * both connections read and write safely; writes use BEGIN IMMEDIATE and a
 * busy timeout), keeps its own schema version in lab_schema_version and
 * only creates tables prefixed lab_. It reads store.c's sessions table
 * (never writes it) for the session list and the in-flight gauge. The lead
 * merges this into store.c (same struct store handle, the migrations
 * appended to store.c's list), after which this file goes away. */
#include "lab.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#define LAB_BUSY_MS       5000
#define LAB_MAX_DETAIL    (512 * 1024)   /* one event's JSON text */

/* migrations[i] brings the lab schema from version i to i + 1; append only. */
static const char *const migrations[] = {
	/* 1: fault rules, trace events, transaction summaries */
	"CREATE TABLE lab_faults ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  spec TEXT NOT NULL,"
	"  enabled INTEGER NOT NULL,"
	"  origin TEXT NOT NULL,"
	"  seen INTEGER NOT NULL DEFAULT 0,"
	"  fired INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE lab_transactions ("
	"  txid TEXT NOT NULL PRIMARY KEY,"
	"  started INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  eid TEXT NOT NULL,"
	"  matching_id TEXT NOT NULL,"
	"  profile TEXT NOT NULL,"
	"  last_function TEXT NOT NULL,"
	"  outcome TEXT NOT NULL,"
	"  calls INTEGER NOT NULL,"
	"  faults INTEGER NOT NULL"
	");"
	"CREATE INDEX lab_transactions_updated ON lab_transactions(updated);"
	"CREATE TABLE lab_trace_events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  txid TEXT NOT NULL,"
	"  time_us INTEGER NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  function TEXT NOT NULL,"
	"  detail TEXT NOT NULL"
	");"
	"CREATE INDEX lab_trace_events_txid ON lab_trace_events(txid, id);"
	"CREATE INDEX lab_trace_events_time ON lab_trace_events(time_us);",
};
#define LAB_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define FAULT_COLS "id, name, spec, enabled, origin, seen, fired, created"
#define TX_COLS "t.txid, t.started, t.updated, t.eid, t.matching_id, t.profile, " \
	"t.last_function, t.outcome, t.calls, t.faults, s.state, s.close_reason, s.expires"

enum lab_q {
	L_BEGIN, L_COMMIT, L_ROLLBACK,
	L_FAULT_INSERT, L_FAULT_GET_NAME, L_FAULT_UPDATE, L_FAULT_LIST, L_FAULT_SEEN,
	L_FAULT_FIRED, L_FAULT_DELETE, L_FAULT_DELETE_ALL, L_FAULT_ENABLE,
	L_EVENT_ADD, L_EVENTS, L_TX_UPSERT, L_TX_LIST, L_TX_GET,
	L_SWEEP_EVENTS, L_SWEEP_TX, L_IN_FLIGHT,
	L_COUNT
};

static const char *const lab_sql[L_COUNT] = {
	[L_BEGIN] = "BEGIN IMMEDIATE",
	[L_COMMIT] = "COMMIT",
	[L_ROLLBACK] = "ROLLBACK",
	[L_FAULT_INSERT] = "INSERT INTO lab_faults (name, spec, enabled, origin, created) "
		"VALUES (?1, ?2, ?3, ?4, ?5)",
	[L_FAULT_GET_NAME] = "SELECT id, spec FROM lab_faults WHERE name = ?1",
	/* a changed rule starts counting again: attempt=N refers to its calls */
	[L_FAULT_UPDATE] = "UPDATE lab_faults SET spec = ?2, enabled = ?3, origin = ?4, "
		"seen = CASE WHEN spec = ?2 THEN seen ELSE 0 END, "
		"fired = CASE WHEN spec = ?2 THEN fired ELSE 0 END WHERE id = ?1",
	[L_FAULT_LIST] = "SELECT " FAULT_COLS " FROM lab_faults ORDER BY id LIMIT ?1",
	[L_FAULT_SEEN] = "UPDATE lab_faults SET seen = seen + 1 WHERE id = ?1 RETURNING seen",
	[L_FAULT_FIRED] = "UPDATE lab_faults SET fired = fired + 1 WHERE id = ?1",
	[L_FAULT_DELETE] = "DELETE FROM lab_faults WHERE id = ?1",
	[L_FAULT_DELETE_ALL] = "DELETE FROM lab_faults",
	[L_FAULT_ENABLE] = "UPDATE lab_faults SET enabled = ?2 WHERE id = ?1",
	[L_EVENT_ADD] = "INSERT INTO lab_trace_events (txid, time_us, kind, function, detail) "
		"VALUES (?1, ?2, ?3, ?4, ?5)",
	[L_EVENTS] = "SELECT txid, time_us, kind, function, detail FROM lab_trace_events "
		"WHERE txid = ?1 ORDER BY id",
	/* calls and faults add up; a later call's EID etc. fill what was empty */
	[L_TX_UPSERT] = "INSERT INTO lab_transactions (txid, started, updated, eid, matching_id, "
		"profile, last_function, outcome, calls, faults) VALUES "
		"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (txid) DO UPDATE SET "
		"updated = excluded.updated, "
		"eid = CASE WHEN excluded.eid <> '' THEN excluded.eid ELSE eid END, "
		"matching_id = CASE WHEN excluded.matching_id <> '' THEN excluded.matching_id "
		"ELSE matching_id END, "
		"profile = CASE WHEN excluded.profile <> '' THEN excluded.profile ELSE profile END, "
		"last_function = excluded.last_function, outcome = excluded.outcome, "
		"calls = calls + excluded.calls, faults = faults + excluded.faults",
	[L_TX_LIST] = "SELECT " TX_COLS " FROM lab_transactions t LEFT JOIN sessions s "
		"ON hex(s.txid) = t.txid ORDER BY t.started DESC LIMIT ?1",
	[L_TX_GET] = "SELECT " TX_COLS " FROM lab_transactions t LEFT JOIN sessions s "
		"ON hex(s.txid) = t.txid WHERE t.txid = ?1",
	[L_SWEEP_EVENTS] = "DELETE FROM lab_trace_events WHERE txid IN "
		"(SELECT txid FROM lab_transactions WHERE updated < ?1)",
	[L_SWEEP_TX] = "DELETE FROM lab_transactions WHERE updated < ?1",
	/* SESSION_CLOSED = 4 (smdp.h enum session_state) */
	[L_IN_FLIGHT] = "SELECT count(*) FROM sessions WHERE state < 4 AND expires >= ?1",
};

struct lab_store {
	sqlite3 *db;
	pthread_mutex_t mu;             /* one thread at a time on the connection */
	int version;
	sqlite3_stmt *q[L_COUNT];       /* prepared on first use (sessions may not exist yet) */
};

static void set_err(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errsz)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* The statement id, prepared once and reset; NULL on error (logged).
 * Called with ls->mu held. */
static sqlite3_stmt *stmt(struct lab_store *ls, enum lab_q id)
{
	if (!ls->q[id] && sqlite3_prepare_v3(ls->db, lab_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					     &ls->q[id], NULL) != SQLITE_OK) {
		log_error("store_lab: prepare: %s", sqlite3_errmsg(ls->db));
		return NULL;
	}
	return ls->q[id];
}

static void done(sqlite3_stmt *q)
{
	if (q) {
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
	}
}

static int exec_q(struct lab_store *ls, enum lab_q id)
{
	sqlite3_stmt *q = stmt(ls, id);
	int rc = q && sqlite3_step(q) == SQLITE_DONE ? 0 : -1;

	if (rc)
		log_error("store_lab: %s: %s", lab_sql[id], sqlite3_errmsg(ls->db));
	done(q);
	return rc;
}

static void rollback(struct lab_store *ls)
{
	if (!sqlite3_get_autocommit(ls->db))
		exec_q(ls, L_ROLLBACK);
}

static int bind_text(sqlite3_stmt *q, int i, const char *s)
{
	return sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC) == SQLITE_OK ? 0 : -1;
}

static void col_text(sqlite3_stmt *q, int c, char *out, size_t outsz)
{
	const unsigned char *t = sqlite3_column_text(q, c);

	snprintf(out, outsz, "%s", t ? (const char *)t : "");
}

static int migrate(sqlite3 *db, int *version, char *err, size_t errsz)
{
	char *emsg = NULL;
	int rc = -1, v = 0, in_tx = 0;
	sqlite3_stmt *get = NULL;
	char sql[128];

	for (;;) {
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &emsg) != SQLITE_OK)
			goto fail;
		in_tx = 1;
		if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS lab_schema_version ("
				 "id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
				 NULL, NULL, &emsg) != SQLITE_OK)
			goto fail;
		if (!get && sqlite3_prepare_v2(db, "SELECT version FROM lab_schema_version "
					       "WHERE id = 1", -1, &get, NULL) != SQLITE_OK)
			goto fail;
		v = sqlite3_step(get) == SQLITE_ROW ? sqlite3_column_int(get, 0) : 0;
		sqlite3_reset(get);
		if (v < 0 || v > LAB_SCHEMA_VERSION) {
			set_err(err, errsz, "lab schema version %d is newer than this smdp (%d)", v,
				LAB_SCHEMA_VERSION);
			goto out;
		}
		if (v == LAB_SCHEMA_VERSION)
			break;
		snprintf(sql, sizeof(sql), "INSERT INTO lab_schema_version (id, version) VALUES "
			 "(1, %d) ON CONFLICT (id) DO UPDATE SET version = excluded.version", v + 1);
		if (sqlite3_exec(db, migrations[v], NULL, NULL, &emsg) != SQLITE_OK ||
		    sqlite3_exec(db, sql, NULL, NULL, &emsg) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, &emsg) != SQLITE_OK)
			goto fail;
		in_tx = 0;
		log_info("store_lab: lab schema migrated to version %d", v + 1);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, &emsg) != SQLITE_OK)
		goto fail;
	in_tx = 0;
	*version = v;
	rc = 0;
	goto out;
fail:
	set_err(err, errsz, "lab schema migration failed: %s", emsg ? emsg : sqlite3_errmsg(db));
out:
	sqlite3_free(emsg);
	sqlite3_finalize(get);
	if (in_tx)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

struct lab_store *store_lab_open(const char *path, char *err, size_t errsz)
{
	struct lab_store *ls = calloc(1, sizeof(*ls)), *ret = NULL;
	int mu_ok = 0;

	if (!ls || !path || !path[0]) {
		set_err(err, errsz, "store_lab: no database path or out of memory");
		goto out;
	}
	if (pthread_mutex_init(&ls->mu, NULL)) {
		set_err(err, errsz, "store_lab: cannot create mutex");
		goto out;
	}
	mu_ok = 1;
	if (sqlite3_open_v2(path, &ls->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		set_err(err, errsz, "store_lab: cannot open %s: %s", path,
			ls->db ? sqlite3_errmsg(ls->db) : "out of memory");
		goto out;
	}
	/* store.c set the file to WAL already; asking again is harmless and
	 * makes a lab-only open (smdp-lab on a fresh file) the same */
	if (sqlite3_busy_timeout(ls->db, LAB_BUSY_MS) != SQLITE_OK ||
	    sqlite3_exec(ls->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL,
			 NULL) != SQLITE_OK) {
		set_err(err, errsz, "store_lab: %s: %s", path, sqlite3_errmsg(ls->db));
		goto out;
	}
	if (migrate(ls->db, &ls->version, err, errsz))
		goto out;
	ret = ls;
	ls = NULL;
out:
	if (ls) {
		sqlite3_close(ls->db);
		if (mu_ok)
			pthread_mutex_destroy(&ls->mu);
		free(ls);
	}
	return ret;
}

void store_lab_close(struct lab_store *ls)
{
	if (!ls)
		return;
	for (int i = 0; i < L_COUNT; i++)
		sqlite3_finalize(ls->q[i]);
	sqlite3_close(ls->db);
	pthread_mutex_destroy(&ls->mu);
	free(ls);
}

int store_lab_schema_version(struct lab_store *ls)
{
	return ls ? ls->version : -1;
}

/* ------------------------------------------------------------------ */
/* fault rules */

int store_fault_put(struct lab_store *ls, struct fault_rule *r)
{
	sqlite3_stmt *q;
	struct fault_rule plain = *r;
	char spec[LAB_MAX_SPEC];
	int rc = -1, step;
	int64_t id = 0;

	/* enabled lives in its own column only (store_fault_enable) */
	plain.enabled = 1;
	fault_format(&plain, spec, sizeof(spec));
	pthread_mutex_lock(&ls->mu);
	if (exec_q(ls, L_BEGIN))
		goto out;
	if (!(q = stmt(ls, L_FAULT_GET_NAME)) || bind_text(q, 1, r->name))
		goto fail;
	step = sqlite3_step(q);
	if (step == SQLITE_ROW)
		id = sqlite3_column_int64(q, 0);
	done(q);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		goto fail;
	if (id) {
		if (!(q = stmt(ls, L_FAULT_UPDATE)) || sqlite3_bind_int64(q, 1, id) ||
		    bind_text(q, 2, spec) || sqlite3_bind_int(q, 3, r->enabled) ||
		    bind_text(q, 4, r->origin) || sqlite3_step(q) != SQLITE_DONE) {
			done(q);
			goto fail;
		}
		done(q);
	} else {
		if (!(q = stmt(ls, L_FAULT_INSERT)) || bind_text(q, 1, r->name) ||
		    bind_text(q, 2, spec) || sqlite3_bind_int(q, 3, r->enabled) ||
		    bind_text(q, 4, r->origin) || sqlite3_bind_int64(q, 5, r->created) ||
		    sqlite3_step(q) != SQLITE_DONE) {
			done(q);
			goto fail;
		}
		done(q);
		id = sqlite3_last_insert_rowid(ls->db);
	}
	if (exec_q(ls, L_COMMIT))
		goto fail;
	r->id = id;
	rc = 0;
	goto out;
fail:
	log_error("store_lab: fault %s: %s", r->name, sqlite3_errmsg(ls->db));
	rollback(ls);
out:
	pthread_mutex_unlock(&ls->mu);
	return rc;
}

int store_fault_list(struct lab_store *ls, struct fault_rule *out, size_t max)
{
	sqlite3_stmt *q;
	int n = 0, step;
	char spec[LAB_MAX_SPEC], err[160];

	pthread_mutex_lock(&ls->mu);
	if (!(q = stmt(ls, L_FAULT_LIST)) || sqlite3_bind_int64(q, 1, (sqlite3_int64)max)) {
		n = -1;
		goto out;
	}
	while ((step = sqlite3_step(q)) == SQLITE_ROW && (size_t)n < max) {
		struct fault_rule *r = &out[n];

		memset(r, 0, sizeof(*r));
		col_text(q, 2, spec, sizeof(spec));
		/* a rule written by a newer smdp, or by hand, that we cannot read is
		 * skipped, not acted on */
		if (fault_parse(spec, r, err, sizeof(err))) {
			log_warn("store_lab: fault rule %lld ignored: %s",
				 (long long)sqlite3_column_int64(q, 0), err);
			continue;
		}
		r->id = sqlite3_column_int64(q, 0);
		col_text(q, 1, r->name, sizeof(r->name));
		r->enabled = sqlite3_column_int(q, 3) != 0;
		col_text(q, 4, r->origin, sizeof(r->origin));
		r->seen = sqlite3_column_int64(q, 5);
		r->fired = sqlite3_column_int64(q, 6);
		r->created = sqlite3_column_int64(q, 7);
		n++;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		n = -1;
out:
	done(q);
	pthread_mutex_unlock(&ls->mu);
	return n;
}

int64_t store_fault_seen(struct lab_store *ls, int64_t id)
{
	sqlite3_stmt *q;
	int64_t v = -1;

	pthread_mutex_lock(&ls->mu);
	if ((q = stmt(ls, L_FAULT_SEEN)) && sqlite3_bind_int64(q, 1, id) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	/* RETURNING: the row change is only complete once stepped to the end */
	if (q && v >= 0 && sqlite3_step(q) != SQLITE_DONE)
		v = -1;
	done(q);
	pthread_mutex_unlock(&ls->mu);
	return v;
}

static int exec_id(struct lab_store *ls, enum lab_q id, int64_t rowid, int has2, int v2)
{
	sqlite3_stmt *q;
	int rc = -1;

	pthread_mutex_lock(&ls->mu);
	if ((q = stmt(ls, id)) && (id == L_FAULT_DELETE_ALL || sqlite3_bind_int64(q, 1, rowid) == 0) &&
	    (!has2 || sqlite3_bind_int(q, 2, v2) == SQLITE_OK) && sqlite3_step(q) == SQLITE_DONE)
		rc = sqlite3_changes(ls->db) > 0 ? 1 : 0;
	else
		log_error("store_lab: %s", sqlite3_errmsg(ls->db));
	done(q);
	pthread_mutex_unlock(&ls->mu);
	return rc;
}

int store_fault_fired(struct lab_store *ls, int64_t id)
{
	return exec_id(ls, L_FAULT_FIRED, id, 0, 0) < 0 ? -1 : 0;
}

int store_fault_delete(struct lab_store *ls, int64_t id)
{
	return exec_id(ls, id ? L_FAULT_DELETE : L_FAULT_DELETE_ALL, id, 0, 0);
}

int store_fault_enable(struct lab_store *ls, int64_t id, int enabled)
{
	return exec_id(ls, L_FAULT_ENABLE, id, 1, enabled ? 1 : 0);
}

/* ------------------------------------------------------------------ */
/* traces */

int store_trace_add(struct lab_store *ls, const struct lab_event *ev, size_t n,
		    const struct lab_tx_summary *sum)
{
	sqlite3_stmt *q;
	int rc = -1;

	pthread_mutex_lock(&ls->mu);
	if (exec_q(ls, L_BEGIN))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!ev[i].detail || strlen(ev[i].detail) > LAB_MAX_DETAIL)
			goto fail;
		if (!(q = stmt(ls, L_EVENT_ADD)) || bind_text(q, 1, ev[i].txid) ||
		    sqlite3_bind_int64(q, 2, ev[i].time_us) || bind_text(q, 3, ev[i].kind) ||
		    bind_text(q, 4, ev[i].function) || bind_text(q, 5, ev[i].detail) ||
		    sqlite3_step(q) != SQLITE_DONE) {
			done(q);
			goto fail;
		}
		done(q);
	}
	if (sum) {
		if (!(q = stmt(ls, L_TX_UPSERT)) || bind_text(q, 1, sum->txid) ||
		    sqlite3_bind_int64(q, 2, sum->started_us) ||
		    sqlite3_bind_int64(q, 3, sum->updated_us) || bind_text(q, 4, sum->eid) ||
		    bind_text(q, 5, sum->matching_id) || bind_text(q, 6, sum->profile) ||
		    bind_text(q, 7, sum->last_function) || bind_text(q, 8, sum->outcome) ||
		    sqlite3_bind_int(q, 9, sum->calls) || sqlite3_bind_int(q, 10, sum->faults) ||
		    sqlite3_step(q) != SQLITE_DONE) {
			done(q);
			goto fail;
		}
		done(q);
	}
	if (exec_q(ls, L_COMMIT))
		goto fail;
	rc = 0;
	goto out;
fail:
	log_error("store_lab: trace: %s", sqlite3_errmsg(ls->db));
	rollback(ls);
out:
	pthread_mutex_unlock(&ls->mu);
	return rc;
}

/* Events are copied out under the lock and handed to cb without it, so
 * the callback may use the store. */
int store_trace_each(struct lab_store *ls, const char *txid,
		     void (*cb)(void *arg, const struct lab_event *e), void *arg)
{
	struct lab_event *v = NULL;
	sqlite3_stmt *q;
	size_t n = 0, cap = 0;
	int rc = -1, step;

	pthread_mutex_lock(&ls->mu);
	if (!(q = stmt(ls, L_EVENTS)) || bind_text(q, 1, txid))
		goto unlock;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const unsigned char *d = sqlite3_column_text(q, 4);

		if (n == cap) {
			struct lab_event *t = realloc(v, (cap ? cap * 2 : 32) * sizeof(*v));
			if (!t)
				goto unlock;
			v = t;
			cap = cap ? cap * 2 : 32;
		}
		memset(&v[n], 0, sizeof(v[n]));
		col_text(q, 0, v[n].txid, sizeof(v[n].txid));
		v[n].time_us = sqlite3_column_int64(q, 1);
		col_text(q, 2, v[n].kind, sizeof(v[n].kind));
		col_text(q, 3, v[n].function, sizeof(v[n].function));
		if (!(v[n].detail = strdup(d ? (const char *)d : "{}")))
			goto unlock;
		n++;
	}
	if (step == SQLITE_DONE)
		rc = 0;
unlock:
	done(q);
	pthread_mutex_unlock(&ls->mu);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			cb(arg, &v[i]);
		free(v[i].detail);
	}
	free(v);
	return rc;
}

static void read_summary(sqlite3_stmt *q, struct lab_tx_summary *s)
{
	memset(s, 0, sizeof(*s));
	col_text(q, 0, s->txid, sizeof(s->txid));
	s->started_us = sqlite3_column_int64(q, 1);
	s->updated_us = sqlite3_column_int64(q, 2);
	col_text(q, 3, s->eid, sizeof(s->eid));
	col_text(q, 4, s->matching_id, sizeof(s->matching_id));
	col_text(q, 5, s->profile, sizeof(s->profile));
	col_text(q, 6, s->last_function, sizeof(s->last_function));
	col_text(q, 7, s->outcome, sizeof(s->outcome));
	s->calls = sqlite3_column_int(q, 8);
	s->faults = sqlite3_column_int(q, 9);
	s->has_session = sqlite3_column_type(q, 10) != SQLITE_NULL;
	s->state = sqlite3_column_int(q, 10);
	s->close_reason = sqlite3_column_int(q, 11);
	s->expires = sqlite3_column_int64(q, 12);
}

int store_trace_list(struct lab_store *ls, size_t max,
		     void (*cb)(void *arg, const struct lab_tx_summary *s), void *arg)
{
	struct lab_tx_summary *v = NULL;
	sqlite3_stmt *q;
	size_t n = 0;
	int rc = -1, step;

	if (max > LAB_MAX_LIST)
		max = LAB_MAX_LIST;
	if (!(v = calloc(max ? max : 1, sizeof(*v))))
		return -1;
	pthread_mutex_lock(&ls->mu);
	if (!(q = stmt(ls, L_TX_LIST)) || sqlite3_bind_int64(q, 1, (sqlite3_int64)max))
		goto unlock;
	while (n < max && (step = sqlite3_step(q)) == SQLITE_ROW)
		read_summary(q, &v[n++]);
	rc = 0;
unlock:
	done(q);
	pthread_mutex_unlock(&ls->mu);
	for (size_t i = 0; rc == 0 && i < n; i++)
		cb(arg, &v[i]);
	free(v);
	return rc;
}

int store_trace_get(struct lab_store *ls, const char *txid, struct lab_tx_summary *out)
{
	sqlite3_stmt *q;
	int rc = -1, step;

	pthread_mutex_lock(&ls->mu);
	if ((q = stmt(ls, L_TX_GET)) && bind_text(q, 1, txid) == 0) {
		step = sqlite3_step(q);
		if (step == SQLITE_ROW) {
			read_summary(q, out);
			rc = 1;
		} else if (step == SQLITE_DONE) {
			rc = 0;
		}
	}
	done(q);
	pthread_mutex_unlock(&ls->mu);
	return rc;
}

int store_trace_sweep(struct lab_store *ls, int64_t cutoff_us)
{
	sqlite3_stmt *q;
	int rc = -1, n = 0;

	pthread_mutex_lock(&ls->mu);
	if (exec_q(ls, L_BEGIN))
		goto out;
	if (!(q = stmt(ls, L_SWEEP_EVENTS)) || sqlite3_bind_int64(q, 1, cutoff_us) ||
	    sqlite3_step(q) != SQLITE_DONE) {
		done(q);
		goto fail;
	}
	done(q);
	n += sqlite3_changes(ls->db);
	if (!(q = stmt(ls, L_SWEEP_TX)) || sqlite3_bind_int64(q, 1, cutoff_us) ||
	    sqlite3_step(q) != SQLITE_DONE) {
		done(q);
		goto fail;
	}
	done(q);
	n += sqlite3_changes(ls->db);
	if (exec_q(ls, L_COMMIT))
		goto fail;
	rc = n;
	goto out;
fail:
	rollback(ls);
out:
	pthread_mutex_unlock(&ls->mu);
	return rc;
}

long store_lab_sessions_in_flight(struct lab_store *ls, int64_t now)
{
	sqlite3_stmt *q;
	long v = -1;

	pthread_mutex_lock(&ls->mu);
	if ((q = stmt(ls, L_IN_FLIGHT)) && sqlite3_bind_int64(q, 1, now) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		v = (long)sqlite3_column_int64(q, 0);
	done(q);
	pthread_mutex_unlock(&ls->mu);
	return v;
}
