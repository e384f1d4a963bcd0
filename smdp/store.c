/* store.c - SQLite persistence: sessions, BPP bindings, history, notifications,
 * the profile inventory with its download orders (SGP.22 lifecycle), the
 * queue of operator notifications (ES2+ handleDownloadProgressInfo) and the
 * lab's fault rules and session traces (lab.h), all on one connection. */
#include "smdp.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "lab.h"   /* the lab's rows: fault rules, trace events */

/* Largest blob we write or accept back from the file: a bound BPP of the
 * largest profile plus segment overhead fits comfortably. */
#define STORE_MAX_BLOB     (4 * SMDP_MAX_PROFILE)
#define STORE_BUSY_MS      5000
/* history_each hands rows to the callback in batches read under the lock,
 * so the callback runs unlocked (it may call the store) and memory stays
 * bounded however long the history is. */
#define STORE_HISTORY_BATCH 64

/*
 * Schema migrations. migrations[i] brings the schema from version i to
 * version i + 1; each one runs in its own transaction together with the
 * version bump, so a crash leaves the schema at a whole version.
 * To change the schema, append a string; never edit a released one.
 * The shape of schema_version itself never changes: it is how an old
 * binary recognises a newer file and refuses it.
 */
static const char *const migrations[] = {
	/* 1: initial schema */
	"CREATE TABLE sessions ("
	"  txid BLOB NOT NULL PRIMARY KEY CHECK (length(txid) BETWEEN 1 AND 16),"
	"  state INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  ci_name TEXT NOT NULL,"
	"  euicc_challenge BLOB NOT NULL,"
	"  server_challenge BLOB NOT NULL,"
	"  svn BLOB NOT NULL,"
	"  eid TEXT NOT NULL,"
	"  matching_id TEXT NOT NULL,"
	"  profile_id TEXT NOT NULL,"
	"  euicc_cert BLOB NOT NULL,"
	"  eum_cert BLOB NOT NULL,"
	"  euicc_signature1 BLOB NOT NULL,"
	"  smdp_signed2 BLOB NOT NULL,"
	"  smdp_signature2 BLOB NOT NULL,"
	"  cc_required INTEGER NOT NULL,"
	"  has_bound_otpk INTEGER NOT NULL,"
	"  bound_otpk BLOB NOT NULL,"
	"  profile_metadata BLOB NOT NULL,"
	"  close_reason INTEGER NOT NULL"
	");"
	/* the sweep scans by expiry; admin/look-ups go by EID */
	"CREATE INDEX sessions_expires ON sessions(expires, state);"
	"CREATE INDEX sessions_eid ON sessions(eid);"
	"CREATE TABLE bindings ("
	"  eid TEXT NOT NULL,"
	"  profile_id TEXT NOT NULL,"
	"  euicc_otpk BLOB NOT NULL,"
	"  dp_otpk BLOB NOT NULL,"
	"  segments BLOB NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (eid, profile_id)"
	");"
	"CREATE TABLE history ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  txid BLOB NOT NULL,"
	"  eid TEXT NOT NULL,"
	"  profile_id TEXT NOT NULL,"
	"  event TEXT NOT NULL,"
	"  detail TEXT NOT NULL"
	");"
	"CREATE INDEX history_txid ON history(txid, id);"
	"CREATE INDEX history_eid ON history(eid, id);"
	"CREATE TABLE notifications ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  txid BLOB NOT NULL,"
	"  eid TEXT NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  seq_number INTEGER NOT NULL,"
	"  operation INTEGER NOT NULL,"
	"  verified INTEGER NOT NULL,"
	"  raw BLOB NOT NULL"
	");"
	"CREATE INDEX notifications_txid ON notifications(txid);"
	"CREATE INDEX notifications_eid ON notifications(eid, seq_number);",
	/* 2: profile inventory, download orders, operator notification queue;
	 * sessions remember their order and the eUICC's EUICCInfo2/DeviceInfo */
	"ALTER TABLE sessions ADD COLUMN order_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN euicc_info2 BLOB NOT NULL DEFAULT x'';"
	"ALTER TABLE sessions ADD COLUMN device_info BLOB NOT NULL DEFAULT x'';"
	"CREATE TABLE profiles ("
	"  iccid TEXT NOT NULL PRIMARY KEY CHECK (length(iccid) BETWEEN 19 AND 20"
	"    AND iccid NOT GLOB '*[^0-9]*'),"
	"  file TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 9),"
	"  order_id INTEGER NOT NULL DEFAULT 0,"
	"  updated INTEGER NOT NULL"
	");"
	/* downloadOrder by profileType: first Available of the pool */
	"CREATE INDEX profiles_pool ON profiles(type, state, iccid);"
	"CREATE TABLE orders ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  iccid TEXT NOT NULL REFERENCES profiles(iccid),"
	"  operator TEXT NOT NULL,"
	"  eid TEXT NOT NULL,"
	"  confirmed INTEGER NOT NULL,"
	"  matching_id TEXT NOT NULL,"
	"  smds_address TEXT NOT NULL,"
	"  cc_hash BLOB CHECK (cc_hash IS NULL OR length(cc_hash) = 32),"
	"  cc_failures INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  active INTEGER NOT NULL"
	");"
	/* the lifecycle's invariants, kept by the database itself: one
	 * pending order per profile, one pending order per matchingId */
	"CREATE UNIQUE INDEX orders_active_iccid ON orders(iccid) WHERE active = 1;"
	"CREATE UNIQUE INDEX orders_active_mid ON orders(matching_id) "
	"  WHERE active = 1 AND matching_id <> '';"
	"CREATE INDEX orders_default ON orders(eid) "
	"  WHERE active = 1 AND confirmed = 1 AND matching_id = '';"
	"CREATE TABLE op_notifications ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  operator TEXT NOT NULL,"
	"  eid TEXT NOT NULL,"
	"  iccid TEXT NOT NULL,"
	"  profile_type TEXT NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  point INTEGER NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  message TEXT NOT NULL,"
	"  result_data BLOB NOT NULL,"
	"  tries INTEGER NOT NULL,"
	"  next_try INTEGER NOT NULL,"
	"  last_error TEXT NOT NULL,"
	"  delivered INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX op_notifications_queue ON op_notifications(operator, delivered, id);",
	/* 3: the lab (issue 7): fault rules, session trace events and per-
	 * transaction summaries. Files written while the lab kept these tables
	 * on a second connection have them already, with the same shape (its
	 * lab_schema_version 1), hence IF NOT EXISTS; that version table goes. */
	"CREATE TABLE IF NOT EXISTS lab_faults ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  spec TEXT NOT NULL,"
	"  enabled INTEGER NOT NULL,"
	"  origin TEXT NOT NULL,"
	"  seen INTEGER NOT NULL DEFAULT 0,"
	"  fired INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE IF NOT EXISTS lab_transactions ("
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
	"CREATE INDEX IF NOT EXISTS lab_transactions_updated ON lab_transactions(updated);"
	"CREATE TABLE IF NOT EXISTS lab_trace_events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  txid TEXT NOT NULL,"
	"  time_us INTEGER NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  function TEXT NOT NULL,"
	"  detail TEXT NOT NULL"
	");"
	"CREATE INDEX IF NOT EXISTS lab_trace_events_txid ON lab_trace_events(txid, id);"
	"CREATE INDEX IF NOT EXISTS lab_trace_events_time ON lab_trace_events(time_us);"
	"DROP TABLE IF EXISTS lab_schema_version;",
	/* 4: request and response bodies kept as received, decoded into the
	 * readable trace only when it is read (issue 8: tracing cost). */
	"ALTER TABLE lab_trace_events ADD COLUMN body BLOB;",
	/* 5: fewer pages written per download (issue 8). Indexes no query
	 * uses go; the expiry index leaves out the state, which every ES9+
	 * call changes; history and notifications drop AUTOINCREMENT (rows are
	 * never deleted, so ids stay max + 1 without the sqlite_sequence row
	 * each insert used to rewrite). */
	"DROP INDEX IF EXISTS lab_trace_events_time;"
	"DROP INDEX IF EXISTS sessions_eid;"
	"DROP INDEX IF EXISTS sessions_expires;"
	"CREATE INDEX sessions_expires ON sessions(expires);"
	"CREATE TABLE history_v5 ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  txid BLOB NOT NULL,"
	"  eid TEXT NOT NULL,"
	"  profile_id TEXT NOT NULL,"
	"  event TEXT NOT NULL,"
	"  detail TEXT NOT NULL"
	");"
	"INSERT INTO history_v5 (id, time, txid, eid, profile_id, event, detail) "
	"  SELECT id, time, txid, eid, profile_id, event, detail FROM history;"
	"DROP TABLE history;"
	"ALTER TABLE history_v5 RENAME TO history;"
	"CREATE INDEX history_txid ON history(txid, id);"
	"CREATE TABLE notifications_v5 ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  txid BLOB NOT NULL,"
	"  eid TEXT NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  seq_number INTEGER NOT NULL,"
	"  operation INTEGER NOT NULL,"
	"  verified INTEGER NOT NULL,"
	"  raw BLOB NOT NULL"
	");"
	"INSERT INTO notifications_v5 (id, time, txid, eid, kind, seq_number, operation, "
	"  verified, raw) SELECT id, time, txid, eid, kind, seq_number, operation, verified, "
	"  raw FROM notifications;"
	"DROP TABLE notifications;"
	"ALTER TABLE notifications_v5 RENAME TO notifications;"
	/* a counter every change of the fault rules bumps, from any process
	 * (smdp-lab writes the file directly): the server keeps the rules in
	 * memory and reads them again only when it moved. Counting a call
	 * (seen, fired) is no change of the rules. */
	"CREATE TABLE IF NOT EXISTS lab_fault_gen (id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  gen INTEGER NOT NULL);"
	"INSERT OR IGNORE INTO lab_fault_gen VALUES (1, 0);"
	"CREATE TRIGGER IF NOT EXISTS lab_faults_added AFTER INSERT ON lab_faults BEGIN "
	"  UPDATE lab_fault_gen SET gen = gen + 1; END;"
	"CREATE TRIGGER IF NOT EXISTS lab_faults_deleted AFTER DELETE ON lab_faults BEGIN "
	"  UPDATE lab_fault_gen SET gen = gen + 1; END;"
	"CREATE TRIGGER IF NOT EXISTS lab_faults_changed AFTER UPDATE OF name, spec, enabled, origin "
	"  ON lab_faults BEGIN UPDATE lab_fault_gen SET gen = gen + 1; END;",
	/* 6: the transaction list reads newest first through an index on
	 * started instead of sorting the whole table. The index on updated
	 * goes: every traced call moved its entry; the sweep finds its rows
	 * through started, which is never later than updated (issue 8). */
	("DROP INDEX IF EXISTS lab_transactions_updated;"
	 "CREATE INDEX IF NOT EXISTS lab_transactions_started ON lab_transactions(started);"),
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Column order of sessions; the bind index of a column is its value + 1 in
 * the insert, update and select statements below. */
enum {
	SC_TXID, SC_STATE, SC_CREATED, SC_EXPIRES, SC_CI_NAME, SC_EUICC_CHALLENGE,
	SC_SERVER_CHALLENGE, SC_SVN, SC_EID, SC_MATCHING_ID, SC_PROFILE_ID,
	SC_EUICC_CERT, SC_EUM_CERT, SC_EUICC_SIGNATURE1, SC_SMDP_SIGNED2,
	SC_SMDP_SIGNATURE2, SC_CC_REQUIRED, SC_HAS_BOUND_OTPK, SC_BOUND_OTPK,
	SC_PROFILE_METADATA, SC_CLOSE_REASON, SC_ORDER_ID, SC_EUICC_INFO2, SC_DEVICE_INFO,
	SC_COUNT
};
#define SESSION_COLS                                                          \
	"txid, state, created, expires, ci_name, euicc_challenge, "           \
	"server_challenge, svn, eid, matching_id, profile_id, euicc_cert, "   \
	"eum_cert, euicc_signature1, smdp_signed2, smdp_signature2, "         \
	"cc_required, has_bound_otpk, bound_otpk, profile_metadata, close_reason, " \
	"order_id, euicc_info2, device_info"

#define PROFILE_COLS "iccid, file, type, state, order_id, updated"
/* Column order of orders; the bind index of a column is its value + 1 in
 * the insert and update statements. */
enum {
	OC_ID, OC_ICCID, OC_OPERATOR, OC_EID, OC_CONFIRMED, OC_MATCHING_ID,
	OC_SMDS_ADDRESS, OC_CC_HASH, OC_CC_FAILURES, OC_ATTEMPTS, OC_CREATED,
	OC_EXPIRES, OC_ACTIVE, OC_COUNT
};
#define ORDER_COLS                                                            \
	"id, iccid, operator, eid, confirmed, matching_id, smds_address, "    \
	"cc_hash, cc_failures, attempts, created, expires, active"
#define ORDER_COLS_O                                                          \
	"o.id, o.iccid, o.operator, o.eid, o.confirmed, o.matching_id, "      \
	"o.smds_address, o.cc_hash, o.cc_failures, o.attempts, o.created, "   \
	"o.expires, o.active"
#define NOTIFY_COLS                                                           \
	"id, operator, eid, iccid, profile_type, time, point, subject, "      \
	"reason, message, result_data, tries, next_try, last_error"
/* store_profile_each hands rows over in batches read under the lock */
#define STORE_PROFILE_BATCH 64

#define HISTORY_COLS "id, time, txid, eid, profile_id, event, detail"

#define FAULT_COLS "id, name, spec, enabled, origin, seen, fired, created"
#define TX_COLS "txid, started, updated, eid, matching_id, profile, last_function, " \
	"outcome, calls, faults"

/* Every statement the store runs after open, prepared once. */
enum stmt_id {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
	Q_SESSION_INSERT, Q_SESSION_UPDATE, Q_SESSION_EXPIRES, Q_SESSION_GET, Q_SESSION_BRIEF,
	Q_SWEEP_DELETE, Q_SWEEP_EXPIRE,
	Q_BINDING_GET, Q_BINDING_PUT, Q_BINDING_DELETE,
	Q_HISTORY_ADD, Q_HISTORY_ALL, Q_HISTORY_TXID,
	Q_NOTIF_ADD, Q_NOTIF_COUNT,
	Q_PROF_GET, Q_PROF_PICK, Q_PROF_TYPE_COUNT, Q_PROF_INSERT, Q_PROF_UPDATE, Q_PROF_EACH,
	Q_ORDER_GET, Q_ORDER_MID, Q_ORDER_DEFAULT, Q_ORDER_INSERT, Q_ORDER_UPDATE,
	Q_OPN_ADD, Q_OPN_HEAD, Q_OPN_DONE, Q_OPN_RETRY, Q_OPN_COUNT,
	/* the lab (lab.h) */
	Q_FAULT_INSERT, Q_FAULT_GET_NAME, Q_FAULT_UPDATE, Q_FAULT_LIST, Q_FAULT_SEEN,
	Q_FAULT_FIRED, Q_FAULT_DELETE, Q_FAULT_DELETE_ALL, Q_FAULT_ENABLE,
	Q_EVENT_ADD, Q_EVENTS, Q_TX_UPSERT, Q_TX_LIST, Q_TX_GET, Q_TX_SESSION,
	Q_SWEEP_EVENTS, Q_SWEEP_TX, Q_IN_FLIGHT, Q_LAB_PEEK,
	Q_COUNT
};

static const char *const stmt_sql[Q_COUNT] = {
	/* IMMEDIATE takes the write lock up front, so a second writer (thread
	 * of another handle, or another process) waits in the busy handler
	 * instead of failing with SQLITE_BUSY half-way through. */
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_SESSION_INSERT] = "INSERT INTO sessions (" SESSION_COLS ") VALUES "
		"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
		"?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
	/* expires apart (Q_SESSION_EXPIRES): naming it here would rewrite
	 * its index entry, one more page, on every call, while only
	 * authenticateClient moves it */
	[Q_SESSION_UPDATE] = "UPDATE sessions SET state = ?2, created = ?3, "
		"ci_name = ?5, euicc_challenge = ?6, "
		"server_challenge = ?7, svn = ?8, eid = ?9, matching_id = ?10, "
		"profile_id = ?11, euicc_cert = ?12, eum_cert = ?13, "
		"euicc_signature1 = ?14, smdp_signed2 = ?15, smdp_signature2 = ?16, "
		"cc_required = ?17, has_bound_otpk = ?18, bound_otpk = ?19, "
		"profile_metadata = ?20, close_reason = ?21, order_id = ?22, "
		"euicc_info2 = ?23, device_info = ?24 WHERE txid = ?1",
	[Q_SESSION_EXPIRES] = "UPDATE sessions SET expires = ?2 WHERE txid = ?1 AND expires <> ?2",
	[Q_SESSION_GET] = "SELECT " SESSION_COLS " FROM sessions WHERE txid = ?1",
	[Q_SESSION_BRIEF] = "SELECT state, close_reason, expires, eid, matching_id, profile_id "
		"FROM sessions WHERE txid = ?1",
	/* ?1 = cutoff (now - keep_seconds). Anything whose expiry is that old
	 * is closed already or would be closed by Q_SWEEP_EXPIRE, so it goes
	 * in one step and every row is counted once. */
	[Q_SWEEP_DELETE] = "DELETE FROM sessions WHERE expires < ?1",
	[Q_SWEEP_EXPIRE] = "UPDATE sessions SET state = ?2, close_reason = ?3 "
		"WHERE expires < ?1 AND state < ?2",
	[Q_BINDING_GET] = "SELECT eid, profile_id, euicc_otpk, dp_otpk, segments, "
		"created FROM bindings WHERE eid = ?1 AND profile_id = ?2",
	/* an upsert rather than INSERT OR REPLACE: REPLACE deletes the row
	 * first, which would fire ON DELETE actions of later foreign keys */
	[Q_BINDING_PUT] = "INSERT INTO bindings (eid, profile_id, euicc_otpk, "
		"dp_otpk, segments, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
		"ON CONFLICT (eid, profile_id) DO UPDATE SET "
		"euicc_otpk = excluded.euicc_otpk, dp_otpk = excluded.dp_otpk, "
		"segments = excluded.segments, created = excluded.created",
	[Q_BINDING_DELETE] = "DELETE FROM bindings WHERE eid = ?1 AND profile_id = ?2",
	[Q_HISTORY_ADD] = "INSERT INTO history (time, txid, eid, profile_id, "
		"event, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_HISTORY_ALL] = "SELECT " HISTORY_COLS " FROM history WHERE id > ?1 "
		"ORDER BY id LIMIT ?2",
	[Q_HISTORY_TXID] = "SELECT " HISTORY_COLS " FROM history WHERE txid = ?3 "
		"AND id > ?1 ORDER BY id LIMIT ?2",
	[Q_NOTIF_ADD] = "INSERT INTO notifications (time, txid, eid, kind, "
		"seq_number, operation, verified, raw) VALUES "
		"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[Q_NOTIF_COUNT] = "SELECT count(*) FROM notifications",
	[Q_PROF_GET] = "SELECT " PROFILE_COLS " FROM profiles WHERE iccid = ?1",
	[Q_PROF_PICK] = "SELECT " PROFILE_COLS " FROM profiles WHERE type = ?1 "
		"AND state = 1 ORDER BY iccid LIMIT 1",
	[Q_PROF_TYPE_COUNT] = "SELECT count(*) FROM profiles WHERE type = ?1",
	[Q_PROF_INSERT] = "INSERT INTO profiles (" PROFILE_COLS ") VALUES "
		"(?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_PROF_UPDATE] = "UPDATE profiles SET state = ?4, order_id = ?5, updated = ?6 "
		"WHERE iccid = ?1",
	/* ?1 last ICCID seen, ?2 state (0 = any), ?3 type (NULL = any), ?4 batch */
	[Q_PROF_EACH] = "SELECT p.iccid, p.file, p.type, p.state, p.order_id, p.updated, "
		ORDER_COLS_O " FROM profiles p LEFT JOIN orders o ON o.id = p.order_id "
		"WHERE p.iccid > ?1 AND (?2 = 0 OR p.state = ?2) AND (?3 IS NULL OR "
		"p.type = ?3) ORDER BY p.iccid LIMIT ?4",
	[Q_ORDER_GET] = "SELECT " ORDER_COLS " FROM orders WHERE id = ?1",
	/* INDEXED BY: otherwise the planner weighs the partial index of default
	 * orders (matching_id = '') against the bound value, and SQLite then
	 * prepares the statement again at every call */
	[Q_ORDER_MID] = "SELECT " ORDER_COLS " FROM orders INDEXED BY orders_active_mid "
		"WHERE active = 1 AND confirmed = 1 AND matching_id = ?1 AND matching_id <> ''",
	/* several default orders for one EID: the released one first, then
	 * the oldest (SGP.22 3.1.1.3 serves one per session) */
	[Q_ORDER_DEFAULT] = "SELECT " ORDER_COLS_O " FROM orders o JOIN profiles p ON "
		"p.iccid = o.iccid WHERE o.active = 1 AND o.confirmed = 1 AND "
		"o.matching_id = '' AND o.eid = ?1 ORDER BY p.state IN (5, 6) DESC, o.id LIMIT 1",
	[Q_ORDER_INSERT] = "INSERT INTO orders (iccid, operator, eid, confirmed, "
		"matching_id, smds_address, cc_hash, cc_failures, attempts, created, "
		"expires, active) VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[Q_ORDER_UPDATE] = "UPDATE orders SET iccid = ?2, operator = ?3, eid = ?4, "
		"confirmed = ?5, matching_id = ?6, smds_address = ?7, cc_hash = ?8, "
		"cc_failures = ?9, attempts = ?10, created = ?11, expires = ?12, "
		"active = ?13 WHERE id = ?1",
	[Q_OPN_ADD] = "INSERT INTO op_notifications (operator, eid, iccid, profile_type, "
		"time, point, subject, reason, message, result_data, tries, next_try, "
		"last_error) VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[Q_OPN_HEAD] = "SELECT " NOTIFY_COLS " FROM op_notifications WHERE operator = ?1 "
		"AND delivered = 0 ORDER BY id LIMIT 1",
	[Q_OPN_DONE] = "UPDATE op_notifications SET delivered = ?2 WHERE id = ?1",
	[Q_OPN_RETRY] = "UPDATE op_notifications SET tries = ?2, next_try = ?3, "
		"last_error = ?4 WHERE id = ?1",
	[Q_OPN_COUNT] = "SELECT count(*) FROM op_notifications WHERE delivered = 0 AND "
		"(?1 IS NULL OR operator = ?1)",
	[Q_FAULT_INSERT] = "INSERT INTO lab_faults (name, spec, enabled, origin, created) "
		"VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_FAULT_GET_NAME] = "SELECT id, spec FROM lab_faults WHERE name = ?1",
	/* a changed rule starts counting again: attempt=N refers to its calls */
	[Q_FAULT_UPDATE] = "UPDATE lab_faults SET spec = ?2, enabled = ?3, origin = ?4, "
		"seen = CASE WHEN spec = ?2 THEN seen ELSE 0 END, "
		"fired = CASE WHEN spec = ?2 THEN fired ELSE 0 END WHERE id = ?1",
	[Q_FAULT_LIST] = "SELECT " FAULT_COLS " FROM lab_faults ORDER BY id LIMIT ?1",
	[Q_FAULT_SEEN] = "UPDATE lab_faults SET seen = seen + 1 WHERE id = ?1 RETURNING seen",
	[Q_FAULT_FIRED] = "UPDATE lab_faults SET fired = fired + 1 WHERE id = ?1",
	[Q_FAULT_DELETE] = "DELETE FROM lab_faults WHERE id = ?1",
	[Q_FAULT_DELETE_ALL] = "DELETE FROM lab_faults",
	[Q_FAULT_ENABLE] = "UPDATE lab_faults SET enabled = ?2 WHERE id = ?1",
	[Q_EVENT_ADD] = "INSERT INTO lab_trace_events (txid, time_us, kind, function, detail, "
		"body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_EVENTS] = "SELECT txid, time_us, kind, function, detail, body FROM lab_trace_events "
		"WHERE txid = ?1 ORDER BY id",
	/* calls and faults add up; a later call's EID etc. fill what was empty */
	[Q_TX_UPSERT] = "INSERT INTO lab_transactions (txid, started, updated, eid, matching_id, "
		"profile, last_function, outcome, calls, faults) VALUES "
		"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (txid) DO UPDATE SET "
		"updated = excluded.updated, "
		"eid = CASE WHEN excluded.eid <> '' THEN excluded.eid ELSE eid END, "
		"matching_id = CASE WHEN excluded.matching_id <> '' THEN excluded.matching_id "
		"ELSE matching_id END, "
		"profile = CASE WHEN excluded.profile <> '' THEN excluded.profile ELSE profile END, "
		"last_function = excluded.last_function, outcome = excluded.outcome, "
		"calls = calls + excluded.calls, faults = faults + excluded.faults",
	/* the session of each row is looked up by its binary txid (Q_TX_SESSION):
	 * a join on hex(sessions.txid) can use no index, so it read every
	 * session for every row listed */
	[Q_TX_LIST] = "SELECT " TX_COLS " FROM lab_transactions ORDER BY started DESC LIMIT ?1",
	[Q_TX_GET] = "SELECT " TX_COLS " FROM lab_transactions WHERE txid = ?1",
	[Q_TX_SESSION] = "SELECT state, close_reason, expires FROM sessions WHERE txid = ?1",
	/* started <= updated: the index on started finds the candidates */
	[Q_SWEEP_EVENTS] = "DELETE FROM lab_trace_events WHERE txid IN "
		"(SELECT txid FROM lab_transactions WHERE started < ?1 AND updated < ?1)",
	[Q_SWEEP_TX] = "DELETE FROM lab_transactions WHERE started < ?1 AND updated < ?1",
	/* ?2 = SESSION_CLOSED */
	[Q_IN_FLIGHT] = "SELECT count(*) FROM sessions WHERE state < ?2 AND expires >= ?1",
	/* one read for what the lab needs before a call: the fault rules'
	 * generation and, when ?1 names one, the session (NULLs if none) */
	[Q_LAB_PEEK] = "SELECT (SELECT gen FROM lab_fault_gen WHERE id = 1), s.state, "
		"s.close_reason, s.expires, s.eid, s.matching_id, s.profile_id "
		"FROM (SELECT 1) LEFT JOIN sessions s ON s.txid = ?1",
};

struct store {
	sqlite3 *db;
	/* Guards db, every statement and sqlite3_errmsg: a write is several
	 * statements (BEGIN, change, COMMIT) that must not interleave with
	 * another thread's on the same connection. */
	pthread_mutex_t mu;
	int version;
	sqlite3_stmt *q[Q_COUNT];
};

/* ------------------------------------------------------------------ */
/* small helpers */

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

/* Reset a statement so it can be reused and drop its bindings, which point
 * at caller memory (SQLITE_STATIC). */
static void stmt_done(sqlite3_stmt *q)
{
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

/* Step a statement that returns no rows; log on failure. 0 / -1. */
static int exec_q(struct store *st, enum stmt_id id, const char *what)
{
	sqlite3_stmt *q = st->q[id];
	int rc = 0;

	if (sqlite3_step(q) != SQLITE_DONE) {
		log_error("store: %s: %s", what, sqlite3_errmsg(st->db));
		rc = -1;
	}
	stmt_done(q);
	return rc;
}

static int tx_begin(struct store *st)
{
	return exec_q(st, Q_BEGIN, "begin transaction");
}

/* Commit; on failure roll back so the connection is usable again. */
static int tx_commit(struct store *st)
{
	if (exec_q(st, Q_COMMIT, "commit") == 0)
		return 0;
	if (!sqlite3_get_autocommit(st->db))
		exec_q(st, Q_ROLLBACK, "rollback");
	return -1;
}

static void tx_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		exec_q(st, Q_ROLLBACK, "rollback");
}

/* Bind a NUL-terminated string that must fit in a char[cap]. */
static int bind_str(sqlite3_stmt *q, int idx, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		return -1;
	return sqlite3_bind_text(q, idx, s, (int)n, SQLITE_STATIC) == SQLITE_OK ? 0 : -1;
}

/* Bind n bytes as a blob (zero-length blob, never NULL, when n is 0). */
static int bind_bytes(sqlite3_stmt *q, int idx, const void *p, size_t n)
{
	if (n > STORE_MAX_BLOB || (n && !p))
		return -1;
	return sqlite3_bind_blob(q, idx, n ? p : "", (int)n, SQLITE_STATIC) ==
		       SQLITE_OK ? 0 : -1;
}

static int bind_i64(sqlite3_stmt *q, int idx, int64_t v)
{
	return sqlite3_bind_int64(q, idx, v) == SQLITE_OK ? 0 : -1;
}

/* Copy a text column into out[outsz]; NULL reads as "". -1 if too long. */
static int col_str(sqlite3_stmt *q, int col, char *out, size_t outsz)
{
	const unsigned char *t = sqlite3_column_text(q, col);
	int n = sqlite3_column_bytes(q, col);

	if (n < 0 || (size_t)n >= outsz)
		return -1;
	if (n)
		memcpy(out, t, (size_t)n);
	out[n] = '\0';
	return 0;
}

/* A blob column of exactly n bytes into out. */
static int col_fixed(sqlite3_stmt *q, int col, uint8_t *out, size_t n)
{
	const void *p = sqlite3_column_blob(q, col);
	int len = sqlite3_column_bytes(q, col);

	if (len < 0 || (size_t)len != n || (n && !p))
		return -1;
	if (n)
		memcpy(out, p, n);
	return 0;
}

/* A blob column of at most max bytes into out, length into *len. */
static int col_var(sqlite3_stmt *q, int col, uint8_t *out, size_t max, size_t *len)
{
	const void *p = sqlite3_column_blob(q, col);
	int n = sqlite3_column_bytes(q, col);

	if (n < 0 || (size_t)n > max || (n && !p))
		return -1;
	if (n)
		memcpy(out, p, (size_t)n);
	*len = (size_t)n;
	return 0;
}

/* A blob column into a fresh heap buffer (empty blob -> zeroed buf). */
static int col_buf(sqlite3_stmt *q, int col, struct buf *b)
{
	const void *p = sqlite3_column_blob(q, col);
	int n = sqlite3_column_bytes(q, col);

	buf_free(b);
	if (n == 0)
		return 0;
	if (n < 0 || n > STORE_MAX_BLOB || !p)
		return -1;
	return buf_set(b, p, (size_t)n);
}

/* An integer column that must fit in an int. */
static int col_int(sqlite3_stmt *q, int col, int *out)
{
	sqlite3_int64 v = sqlite3_column_int64(q, col);

	if (v < INT_MIN || v > INT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* open, migrations, close */

/* Run the pending migrations, one transaction each. The version is re-read
 * inside every transaction, so two processes opening the same file at
 * once cannot apply a migration twice. 0 / -1 with err set. */
static int migrate(sqlite3 *db, int *version, char *err, size_t errsz)
{
	sqlite3_stmt *get = NULL, *set = NULL;
	char *emsg = NULL;
	int rc = -1, v = 0, in_tx = 0;

	for (;;) {
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &emsg) != SQLITE_OK)
			goto fail;
		in_tx = 1;
		if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
				 "id INTEGER PRIMARY KEY CHECK (id = 1), "
				 "version INTEGER NOT NULL)", NULL, NULL, &emsg) != SQLITE_OK)
			goto fail;
		if (!get && sqlite3_prepare_v2(db, "SELECT version FROM schema_version "
					       "WHERE id = 1", -1, &get, NULL) != SQLITE_OK)
			goto fail;
		switch (sqlite3_step(get)) {
		case SQLITE_ROW:
			v = sqlite3_column_int(get, 0);
			break;
		case SQLITE_DONE:
			v = 0;
			break;
		default:
			goto fail;
		}
		sqlite3_reset(get);
		if (v < 0 || v > SCHEMA_VERSION) {
			set_err(err, errsz, "database schema version %d is newer than "
				"this smdp supports (%d); upgrade smdp or use another "
				"database file", v, SCHEMA_VERSION);
			goto out;
		}
		if (v == SCHEMA_VERSION)
			break;
		if (sqlite3_exec(db, migrations[v], NULL, NULL, &emsg) != SQLITE_OK)
			goto fail;
		if (!set && sqlite3_prepare_v2(db, "INSERT INTO schema_version (id, version) "
					       "VALUES (1, ?1) ON CONFLICT (id) DO UPDATE "
					       "SET version = excluded.version", -1, &set,
					       NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_int(set, 1, v + 1);
		if (sqlite3_step(set) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(set);
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, &emsg) != SQLITE_OK)
			goto fail;
		in_tx = 0;
		log_info("store: schema migrated to version %d", v + 1);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, &emsg) != SQLITE_OK)
		goto fail;
	in_tx = 0;
	*version = v;
	rc = 0;
	goto out;
fail:
	set_err(err, errsz, "schema migration failed: %s",
		emsg ? emsg : sqlite3_errmsg(db));
out:
	sqlite3_free(emsg);
	sqlite3_finalize(get);
	sqlite3_finalize(set);
	if (in_tx)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* A reason for a failed open that names the likely cause. */
static void open_reason(const char *path, const char *sqlmsg, char *err, size_t errsz)
{
	char dir[512];
	const char *slash = strrchr(path, '/');
	struct stat sb;

	if (slash && (size_t)(slash - path) < sizeof(dir)) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		if (dir[0] && stat(dir, &sb) != 0 && errno == ENOENT) {
			set_err(err, errsz, "cannot open database: directory %s does not "
				"exist (%s)", dir, sqlmsg);
			return;
		}
	}
	set_err(err, errsz, "cannot open database %s: %s", path, sqlmsg);
}

struct store *store_open(const char *path, char *err, size_t errsz)
{
	struct store *st = NULL, *ret = NULL;
	sqlite3_stmt *jm = NULL;
	const unsigned char *mode;
	char jmode[16];
	int mutex_ok = 0;

	if (err && errsz)
		err[0] = '\0';
	if (!path || !path[0]) {
		set_err(err, errsz, "no database path given");
		goto out;
	}
	/* the store's mutex makes the connection safe across threads, but only
	 * if the library itself was built thread-safe */
	if (!sqlite3_threadsafe()) {
		set_err(err, errsz, "SQLite library built without thread support");
		goto out;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		set_err(err, errsz, "out of memory");
		goto out;
	}
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		set_err(err, errsz, "cannot create mutex");
		goto out;
	}
	mutex_ok = 1;
	/* NOMUTEX: st->mu already serialises every use of the connection */
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		open_reason(path, st->db ? sqlite3_errmsg(st->db) : "out of memory",
			    err, errsz);
		goto out;
	}
	sqlite3_extended_result_codes(st->db, 1);
	if (sqlite3_busy_timeout(st->db, STORE_BUSY_MS) != SQLITE_OK)
		goto sqlfail;
	/* journal_mode answers with the mode in force: a file that cannot do
	 * WAL (e.g. on a filesystem without shared memory) reports another */
	if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &jm, NULL) != SQLITE_OK ||
	    sqlite3_step(jm) != SQLITE_ROW)
		goto sqlfail;
	mode = sqlite3_column_text(jm, 0);
	str_copy(jmode, sizeof(jmode), mode ? (const char *)mode : "unknown");
	/* a statement left open would block the migrations' COMMIT */
	sqlite3_finalize(jm);
	jm = NULL;
	if (strcmp(jmode, "wal") != 0 && strcmp(jmode, "memory") != 0) {
		set_err(err, errsz, "cannot enable WAL on %s (journal mode is %s)", path,
			jmode);
		goto out;
	}
	/* NORMAL is durable in WAL mode except for the last commits before a
	 * power loss; the database itself never corrupts. secure_delete FAST:
	 * Debian builds SQLite with it ON, which zeroes every freed page and
	 * writes it (the overflow pages of each deleted binding: two WAL frames
	 * per download); FAST zeroes deleted cells on pages written anyway. The
	 * rows deleted hold no secret: public keys, certificates, the BPP as
	 * sent (the profile encrypted under session keys that are never stored;
	 * the metadata in clear, as the eUICC's notifications carry it too). */
	if (sqlite3_exec(st->db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
			 "PRAGMA secure_delete=FAST", NULL, NULL, NULL) != SQLITE_OK)
		goto sqlfail;
	if (migrate(st->db, &st->version, err, errsz))
		goto out;
	for (int i = 0; i < Q_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &st->q[i], NULL) != SQLITE_OK)
			goto sqlfail;
	}
	ret = st;
	st = NULL;
	goto out;
sqlfail:
	set_err(err, errsz, "database %s: %s", path, sqlite3_errmsg(st->db));
out:
	sqlite3_finalize(jm);
	if (st) {
		for (int i = 0; i < Q_COUNT; i++)
			sqlite3_finalize(st->q[i]);
		sqlite3_close(st->db);
		if (mutex_ok)
			pthread_mutex_destroy(&st->mu);
		free(st);
	}
	return ret;
}

/* Close the connection (a final WAL checkpoint happens here). No thread may
 * use st any more. NULL is fine. */
void store_close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	if (sqlite3_close(st->db) != SQLITE_OK)
		log_error("store: close: %s", sqlite3_errmsg(st->db));
	pthread_mutex_destroy(&st->mu);
	free(st);
}

int store_schema_version(struct store *st)
{
	return st ? st->version : -1;
}

/* ------------------------------------------------------------------ */
/* sessions */

void session_free(struct session *s)
{
	if (!s)
		return;
	buf_free(&s->euicc_cert);
	buf_free(&s->eum_cert);
	buf_free(&s->smdp_signed2);
	buf_free(&s->profile_metadata);
	buf_free(&s->euicc_info2);
	buf_free(&s->device_info);
}

static int txid_ok(size_t len)
{
	return len >= 1 && len <= SMDP_TXID_LEN;
}

/* Bind every column of s for Q_SESSION_INSERT / Q_SESSION_UPDATE. Also the
 * one place a session is validated before it reaches the file. */
static int bind_session(sqlite3_stmt *q, const struct session *s)
{
	if (!txid_ok(s->txid_len) || s->state < SESSION_NONE || s->state > SESSION_CLOSED)
		return -1;
	if (bind_bytes(q, SC_TXID + 1, s->txid, s->txid_len) ||
	    bind_i64(q, SC_STATE + 1, s->state) ||
	    bind_i64(q, SC_CREATED + 1, s->created) ||
	    bind_i64(q, SC_EXPIRES + 1, s->expires) ||
	    bind_str(q, SC_CI_NAME + 1, s->ci_name, sizeof(s->ci_name)) ||
	    bind_bytes(q, SC_EUICC_CHALLENGE + 1, s->euicc_challenge,
		       sizeof(s->euicc_challenge)) ||
	    bind_bytes(q, SC_SERVER_CHALLENGE + 1, s->server_challenge,
		       sizeof(s->server_challenge)) ||
	    bind_bytes(q, SC_SVN + 1, s->svn, sizeof(s->svn)) ||
	    bind_str(q, SC_EID + 1, s->eid, sizeof(s->eid)) ||
	    bind_str(q, SC_MATCHING_ID + 1, s->matching_id, sizeof(s->matching_id)) ||
	    bind_str(q, SC_PROFILE_ID + 1, s->profile_id, sizeof(s->profile_id)) ||
	    bind_bytes(q, SC_EUICC_CERT + 1, s->euicc_cert.p, s->euicc_cert.len) ||
	    bind_bytes(q, SC_EUM_CERT + 1, s->eum_cert.p, s->eum_cert.len) ||
	    bind_bytes(q, SC_EUICC_SIGNATURE1 + 1, s->euicc_signature1,
		       sizeof(s->euicc_signature1)) ||
	    bind_bytes(q, SC_SMDP_SIGNED2 + 1, s->smdp_signed2.p, s->smdp_signed2.len) ||
	    bind_bytes(q, SC_SMDP_SIGNATURE2 + 1, s->smdp_signature2,
		       sizeof(s->smdp_signature2)) ||
	    bind_i64(q, SC_CC_REQUIRED + 1, s->cc_required) ||
	    bind_i64(q, SC_HAS_BOUND_OTPK + 1, s->has_bound_otpk) ||
	    bind_bytes(q, SC_BOUND_OTPK + 1, s->bound_otpk, sizeof(s->bound_otpk)) ||
	    bind_bytes(q, SC_PROFILE_METADATA + 1, s->profile_metadata.p,
		       s->profile_metadata.len) ||
	    bind_i64(q, SC_CLOSE_REASON + 1, s->close_reason) ||
	    bind_i64(q, SC_ORDER_ID + 1, s->order_id) ||
	    bind_bytes(q, SC_EUICC_INFO2 + 1, s->euicc_info2.p, s->euicc_info2.len) ||
	    bind_bytes(q, SC_DEVICE_INFO + 1, s->device_info.p, s->device_info.len))
		return -1;
	return 0;
}

/* Insert or update one session; the caller holds the lock and a
 * transaction. insert=1: fails if the txid exists; insert=0: fails if it
 * does not. 0 / -1. */
static int session_step(struct store *st, const struct session *s, int insert)
{
	enum stmt_id id = insert ? Q_SESSION_INSERT : Q_SESSION_UPDATE;
	const char *what = insert ? "session insert" : "session update";
	sqlite3_stmt *q = st->q[id];
	int step;

	if (bind_session(q, s)) {
		log_error("store: %s: invalid session field", what);
		stmt_done(q);
		return -1;
	}
	step = sqlite3_step(q);
	stmt_done(q);
	if (step != SQLITE_DONE) {
		if (step == SQLITE_CONSTRAINT_PRIMARYKEY)
			log_warn("store: %s: transaction id already exists", what);
		else
			log_error("store: %s: %s", what, sqlite3_errmsg(st->db));
		return -1;
	}
	if (!insert && sqlite3_changes(st->db) == 0) {
		log_warn("store: session update: unknown transaction id");
		return -1;
	}
	if (!insert) {
		/* writes only when the expiry moved */
		q = st->q[Q_SESSION_EXPIRES];
		if (bind_bytes(q, 1, s->txid, s->txid_len) || bind_i64(q, 2, s->expires)) {
			stmt_done(q);
			return -1;
		}
		step = sqlite3_step(q);
		stmt_done(q);
		if (step != SQLITE_DONE) {
			log_error("store: session expiry update: %s", sqlite3_errmsg(st->db));
			return -1;
		}
	}
	return 0;
}

/* Insert or update one session in its own transaction. 0 / -1. */
static int session_write(struct store *st, const struct session *s, int insert)
{
	int rc = -1, locked = 0, in_tx = 0;

	if (!st || !s)
		goto out;
	pthread_mutex_lock(&st->mu);
	locked = 1;
	if (tx_begin(st))
		goto out;
	in_tx = 1;
	if (session_step(st, s, insert))
		goto out;
	in_tx = 0;
	if (tx_commit(st))
		goto out;
	rc = 0;
out:
	if (in_tx)
		tx_rollback(st);
	if (locked)
		pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_session_insert(struct store *st, const struct session *s)
{
	return session_write(st, s, 1);
}

int store_session_update(struct store *st, const struct session *s)
{
	return session_write(st, s, 0);
}

/* Fill s from the current row of Q_SESSION_GET. 0 / -1 (row malformed). */
static int read_session(sqlite3_stmt *q, struct session *s)
{
	int state;

	if (col_var(q, SC_TXID, s->txid, sizeof(s->txid), &s->txid_len) ||
	    col_int(q, SC_STATE, &state) ||
	    col_str(q, SC_CI_NAME, s->ci_name, sizeof(s->ci_name)) ||
	    col_fixed(q, SC_EUICC_CHALLENGE, s->euicc_challenge,
		      sizeof(s->euicc_challenge)) ||
	    col_fixed(q, SC_SERVER_CHALLENGE, s->server_challenge,
		      sizeof(s->server_challenge)) ||
	    col_fixed(q, SC_SVN, s->svn, sizeof(s->svn)) ||
	    col_str(q, SC_EID, s->eid, sizeof(s->eid)) ||
	    col_str(q, SC_MATCHING_ID, s->matching_id, sizeof(s->matching_id)) ||
	    col_str(q, SC_PROFILE_ID, s->profile_id, sizeof(s->profile_id)) ||
	    col_buf(q, SC_EUICC_CERT, &s->euicc_cert) ||
	    col_buf(q, SC_EUM_CERT, &s->eum_cert) ||
	    col_fixed(q, SC_EUICC_SIGNATURE1, s->euicc_signature1,
		      sizeof(s->euicc_signature1)) ||
	    col_buf(q, SC_SMDP_SIGNED2, &s->smdp_signed2) ||
	    col_fixed(q, SC_SMDP_SIGNATURE2, s->smdp_signature2,
		      sizeof(s->smdp_signature2)) ||
	    col_int(q, SC_CC_REQUIRED, &s->cc_required) ||
	    col_int(q, SC_HAS_BOUND_OTPK, &s->has_bound_otpk) ||
	    col_fixed(q, SC_BOUND_OTPK, s->bound_otpk, sizeof(s->bound_otpk)) ||
	    col_buf(q, SC_PROFILE_METADATA, &s->profile_metadata) ||
	    col_int(q, SC_CLOSE_REASON, &s->close_reason) ||
	    col_buf(q, SC_EUICC_INFO2, &s->euicc_info2) ||
	    col_buf(q, SC_DEVICE_INFO, &s->device_info))
		return -1;
	s->order_id = sqlite3_column_int64(q, SC_ORDER_ID);
	if (state < SESSION_NONE || state > SESSION_CLOSED)
		return -1;
	s->state = (enum session_state)state;
	s->created = sqlite3_column_int64(q, SC_CREATED);
	s->expires = sqlite3_column_int64(q, SC_EXPIRES);
	return 0;
}

/* The brief of a session from columns c0.. of q (state, close_reason,
 * expires, eid, matching_id, profile_id). 0 / -1 malformed. */
static int read_brief(sqlite3_stmt *q, int c0, struct session_brief *out)
{
	int state;

	if (col_int(q, c0, &state) || col_int(q, c0 + 1, &out->close_reason) ||
	    state < SESSION_NONE || state > SESSION_CLOSED ||
	    col_str(q, c0 + 3, out->eid, sizeof(out->eid)) ||
	    col_str(q, c0 + 4, out->matching_id, sizeof(out->matching_id)) ||
	    col_str(q, c0 + 5, out->profile_id, sizeof(out->profile_id))) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->state = (enum session_state)state;
	out->expires = sqlite3_column_int64(q, c0 + 2);
	return 0;
}

int store_session_brief(struct store *st, const uint8_t *txid, size_t txid_len,
			struct session_brief *out)
{
	sqlite3_stmt *q = NULL;
	int rc = -1, step;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!st || !out || !txid || !txid_ok(txid_len))
		return -1;
	pthread_mutex_lock(&st->mu);
	q = st->q[Q_SESSION_BRIEF];
	if (bind_bytes(q, 1, txid, txid_len))
		goto out;
	step = sqlite3_step(q);
	if (step == SQLITE_DONE) {
		rc = 0;
		goto out;
	}
	if (step != SQLITE_ROW || read_brief(q, 0, out)) {
		log_error("store: session brief: %s", step == SQLITE_ROW ? "malformed row" :
			  sqlite3_errmsg(st->db));
		goto out;
	}
	rc = 1;
out:
	stmt_done(q);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_lab_peek(struct store *st, const uint8_t *txid, size_t txid_len, int64_t *fault_gen,
		   struct session_brief *out)
{
	sqlite3_stmt *q = NULL;
	int rc = -1;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!st || !out || !fault_gen || (txid_len && (!txid || !txid_ok(txid_len))))
		return -1;
	pthread_mutex_lock(&st->mu);
	q = st->q[Q_LAB_PEEK];
	if ((txid_len ? bind_bytes(q, 1, txid, txid_len) : sqlite3_bind_null(q, 1)) ||
	    sqlite3_step(q) != SQLITE_ROW) {
		log_error("store: lab: %s", sqlite3_errmsg(st->db));
		goto out;
	}
	*fault_gen = sqlite3_column_int64(q, 0);
	if (sqlite3_column_type(q, 1) == SQLITE_NULL) {
		rc = 0;
	} else if (read_brief(q, 1, out)) {
		log_error("store: session brief: malformed row");
	} else {
		rc = 1;
	}
out:
	stmt_done(q);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* out is overwritten (not freed first); on 0 or -1 it is left zeroed. */
int store_session_get(struct store *st, const uint8_t *txid, size_t txid_len,
		      struct session *out)
{
	sqlite3_stmt *q = NULL;
	int rc = -1, locked = 0, step;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!st || !out || !txid || !txid_ok(txid_len))
		goto out;
	pthread_mutex_lock(&st->mu);
	locked = 1;
	q = st->q[Q_SESSION_GET];
	if (bind_bytes(q, 1, txid, txid_len))
		goto out;
	step = sqlite3_step(q);
	if (step == SQLITE_DONE) {
		rc = 0;
		goto out;
	}
	if (step != SQLITE_ROW) {
		log_error("store: session get: %s", sqlite3_errmsg(st->db));
		goto out;
	}
	if (read_session(q, out)) {
		log_error("store: session get: malformed row");
		session_free(out);
		memset(out, 0, sizeof(*out));
		goto out;
	}
	rc = 1;
out:
	if (q)
		stmt_done(q);
	if (locked)
		pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Expired means now > expires ("expires: unix time after which calls
 * fail"). Sessions whose expiry is more than keep_seconds in the past are
 * deleted whatever their state (an open one would be closed and then be
 * old enough to delete); the rest of the expired open ones become
 * CLOSED/CLOSE_EXPIRED. Each changed row counts once. */
int store_session_sweep(struct store *st, int64_t now, int64_t keep_seconds)
{
	int64_t cutoff;
	int rc = -1, locked = 0, in_tx = 0, changed = 0;

	if (!st)
		goto out;
	if (keep_seconds < 0)
		keep_seconds = 0;
	cutoff = now < INT64_MIN + keep_seconds ? INT64_MIN : now - keep_seconds;
	pthread_mutex_lock(&st->mu);
	locked = 1;
	if (tx_begin(st))
		goto out;
	in_tx = 1;
	if (bind_i64(st->q[Q_SWEEP_DELETE], 1, cutoff) ||
	    exec_q(st, Q_SWEEP_DELETE, "session sweep delete"))
		goto out;
	changed += sqlite3_changes(st->db);
	if (bind_i64(st->q[Q_SWEEP_EXPIRE], 1, now) ||
	    bind_i64(st->q[Q_SWEEP_EXPIRE], 2, SESSION_CLOSED) ||
	    bind_i64(st->q[Q_SWEEP_EXPIRE], 3, CLOSE_EXPIRED) ||
	    exec_q(st, Q_SWEEP_EXPIRE, "session sweep expire"))
		goto out;
	changed += sqlite3_changes(st->db);
	in_tx = 0;
	if (tx_commit(st))
		goto out;
	rc = changed;
out:
	if (in_tx) {
		stmt_done(st->q[Q_SWEEP_DELETE]);
		stmt_done(st->q[Q_SWEEP_EXPIRE]);
		tx_rollback(st);
	}
	if (locked)
		pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ------------------------------------------------------------------ */
/* bindings (SGP.22 3.1.3.3: a BPP bound to one otPK.EUICC may be resent) */

void binding_free(struct binding *b)
{
	if (b)
		buf_free(&b->segments);
}

/* out is overwritten (not freed first); on 0 or -1 it is left zeroed. */
int store_binding_get(struct store *st, const char *eid, const char *profile_id,
		      struct binding *out)
{
	sqlite3_stmt *q = NULL;
	int rc = -1, locked = 0, step;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!st || !eid || !profile_id || !out)
		goto out;
	pthread_mutex_lock(&st->mu);
	locked = 1;
	q = st->q[Q_BINDING_GET];
	if (bind_str(q, 1, eid, sizeof(out->eid)) ||
	    bind_str(q, 2, profile_id, sizeof(out->profile_id)))
		goto out;
	step = sqlite3_step(q);
	if (step == SQLITE_DONE) {
		rc = 0;
		goto out;
	}
	if (step != SQLITE_ROW) {
		log_error("store: binding get: %s", sqlite3_errmsg(st->db));
		goto out;
	}
	if (col_str(q, 0, out->eid, sizeof(out->eid)) ||
	    col_str(q, 1, out->profile_id, sizeof(out->profile_id)) ||
	    col_fixed(q, 2, out->euicc_otpk, sizeof(out->euicc_otpk)) ||
	    col_fixed(q, 3, out->dp_otpk, sizeof(out->dp_otpk)) ||
	    col_buf(q, 4, &out->segments)) {
		log_error("store: binding get: malformed row");
		binding_free(out);
		memset(out, 0, sizeof(*out));
		goto out;
	}
	out->created = sqlite3_column_int64(q, 5);
	rc = 1;
out:
	if (q)
		stmt_done(q);
	if (locked)
		pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Run one prepared write statement (already bound) in its own transaction;
 * the statement is reset either way. 0 / -1. */
static int write_one(struct store *st, enum stmt_id id, const char *what)
{
	int rc = -1;

	if (tx_begin(st)) {
		stmt_done(st->q[id]);
		goto out;
	}
	if (exec_q(st, id, what)) {
		tx_rollback(st);
		goto out;
	}
	if (tx_commit(st))
		goto out;
	rc = 0;
out:
	return rc;
}

/* Bind Q_BINDING_PUT; on failure the statement is reset. 0 / -1. */
static int bind_binding(sqlite3_stmt *q, const struct binding *b)
{
	if (bind_str(q, 1, b->eid, sizeof(b->eid)) ||
	    bind_str(q, 2, b->profile_id, sizeof(b->profile_id)) ||
	    bind_bytes(q, 3, b->euicc_otpk, sizeof(b->euicc_otpk)) ||
	    bind_bytes(q, 4, b->dp_otpk, sizeof(b->dp_otpk)) ||
	    bind_bytes(q, 5, b->segments.p, b->segments.len) ||
	    bind_i64(q, 6, b->created)) {
		log_error("store: binding put: invalid binding field");
		stmt_done(q);
		return -1;
	}
	return 0;
}

int store_binding_put(struct store *st, const struct binding *b)
{
	int rc = -1, locked = 0;

	if (!st || !b)
		goto out;
	pthread_mutex_lock(&st->mu);
	locked = 1;
	if (bind_binding(st->q[Q_BINDING_PUT], b))
		goto out;
	rc = write_one(st, Q_BINDING_PUT, "binding put");
out:
	if (locked)
		pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Bind Q_BINDING_DELETE; on failure the statement is reset. 0 / -1. */
static int bind_binding_key(sqlite3_stmt *q, const char *eid, const char *profile_id)
{
	if (bind_str(q, 1, eid, SMDP_EID_LEN + 1) ||
	    bind_str(q, 2, profile_id, SMDP_MAX_ID + 1)) {
		log_error("store: binding delete: invalid key");
		stmt_done(q);
		return -1;
	}
	return 0;
}

/* Deleting a binding that does not exist is not an error: 0. */
int store_binding_delete(struct store *st, const char *eid, const char *profile_id)
{
	int rc = -1, locked = 0;

	if (!st || !eid || !profile_id)
		goto out;
	pthread_mutex_lock(&st->mu);
	locked = 1;
	if (bind_binding_key(st->q[Q_BINDING_DELETE], eid, profile_id))
		goto out;
	rc = write_one(st, Q_BINDING_DELETE, "binding delete");
out:
	if (locked)
		pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ------------------------------------------------------------------ */
/* history */

/* Bind Q_HISTORY_ADD; on failure the statement is reset. 0 / -1. */
static int bind_history(sqlite3_stmt *q, const struct history_event *e)
{
	if (e->txid_len > sizeof(e->txid) ||
	    bind_i64(q, 1, e->time) ||
	    bind_bytes(q, 2, e->txid, e->txid_len) ||
	    bind_str(q, 3, e->eid, sizeof(e->eid)) ||
	    bind_str(q, 4, e->profile_id, sizeof(e->profile_id)) ||
	    bind_str(q, 5, e->event, sizeof(e->event)) ||
	    bind_str(q, 6, e->detail, sizeof(e->detail))) {
		log_error("store: history add: invalid event field");
		stmt_done(q);
		return -1;
	}
	return 0;
}

int store_history_add(struct store *st, const struct history_event *e)
{
	int rc = -1, locked = 0;

	if (!st || !e)
		goto out;
	pthread_mutex_lock(&st->mu);
	locked = 1;
	if (bind_history(st->q[Q_HISTORY_ADD], e))
		goto out;
	rc = write_one(st, Q_HISTORY_ADD, "history add");
out:
	if (locked)
		pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Events come in insertion order (events are appended as they happen, so
 * this is oldest first). The callback runs without the store lock held and
 * may call the store; rows added meanwhile may or may not be seen.
 * 0 / -1 (a failure after some callbacks leaves those delivered). */
int store_history_each(struct store *st, const uint8_t *txid, size_t txid_len,
		       void (*cb)(void *arg, const struct history_event *e), void *arg)
{
	struct history_event *batch = NULL;
	sqlite3_stmt *q = NULL;
	int64_t last = 0;
	size_t n;
	int rc = -1, locked = 0, step;

	if (!st || !cb || (txid && txid_len > SMDP_TXID_LEN))
		goto out;
	batch = calloc(STORE_HISTORY_BATCH, sizeof(*batch));
	if (!batch)
		goto out;
	q = st->q[txid ? Q_HISTORY_TXID : Q_HISTORY_ALL];
	do {
		n = 0;
		pthread_mutex_lock(&st->mu);
		locked = 1;
		if (bind_i64(q, 1, last) || bind_i64(q, 2, STORE_HISTORY_BATCH) ||
		    (txid && bind_bytes(q, 3, txid, txid_len)))
			goto out;
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			struct history_event *e = &batch[n];

			memset(e, 0, sizeof(*e));
			last = sqlite3_column_int64(q, 0);
			e->time = sqlite3_column_int64(q, 1);
			if (col_var(q, 2, e->txid, sizeof(e->txid), &e->txid_len) ||
			    col_str(q, 3, e->eid, sizeof(e->eid)) ||
			    col_str(q, 4, e->profile_id, sizeof(e->profile_id)) ||
			    col_str(q, 5, e->event, sizeof(e->event)) ||
			    col_str(q, 6, e->detail, sizeof(e->detail))) {
				log_error("store: history: malformed row");
				goto out;
			}
			n++;
		}
		if (step != SQLITE_DONE) {
			log_error("store: history: %s", sqlite3_errmsg(st->db));
			goto out;
		}
		stmt_done(q);
		pthread_mutex_unlock(&st->mu);
		locked = 0;
		for (size_t i = 0; i < n; i++)
			cb(arg, &batch[i]);
	} while (n == STORE_HISTORY_BATCH);
	rc = 0;
out:
	if (locked) {
		stmt_done(q);
		pthread_mutex_unlock(&st->mu);
	}
	free(batch);
	return rc;
}

/* ------------------------------------------------------------------ */
/* notifications (handleNotification, SGP.22 5.6.4) */

/* Bind Q_NOTIF_ADD; on failure the statement is reset. 0 / -1. */
static int bind_notification(sqlite3_stmt *q, const struct notification_row *n)
{
	if (n->txid_len > sizeof(n->txid) ||
	    bind_i64(q, 1, n->time) ||
	    bind_bytes(q, 2, n->txid, n->txid_len) ||
	    bind_str(q, 3, n->eid, sizeof(n->eid)) ||
	    bind_i64(q, 4, n->kind) ||
	    bind_i64(q, 5, n->seq_number) ||
	    bind_i64(q, 6, n->operation) ||
	    bind_i64(q, 7, n->verified) ||
	    bind_bytes(q, 8, n->raw.p, n->raw.len)) {
		log_error("store: notification add: invalid field");
		stmt_done(q);
		return -1;
	}
	return 0;
}

int store_notification_add(struct store *st, const struct notification_row *n)
{
	int rc = -1, locked = 0;

	if (!st || !n)
		goto out;
	pthread_mutex_lock(&st->mu);
	locked = 1;
	if (bind_notification(st->q[Q_NOTIF_ADD], n))
		goto out;
	rc = write_one(st, Q_NOTIF_ADD, "notification add");
out:
	if (locked)
		pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Count, or -1 on error. */
int store_notification_count(struct store *st)
{
	sqlite3_stmt *q = NULL;
	sqlite3_int64 v;
	int rc = -1, locked = 0;

	if (!st)
		goto out;
	pthread_mutex_lock(&st->mu);
	locked = 1;
	q = st->q[Q_NOTIF_COUNT];
	if (sqlite3_step(q) != SQLITE_ROW) {
		log_error("store: notification count: %s", sqlite3_errmsg(st->db));
		goto out;
	}
	v = sqlite3_column_int64(q, 0);
	rc = v > INT_MAX ? INT_MAX : (int)v;
out:
	if (q)
		stmt_done(q);
	if (locked)
		pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ------------------------------------------------------------------ */
/* transactions over several rows (the profile lifecycle, SGP.22 5.3) */

struct store_tx {
	struct store *st;
};

int store_transact(struct store *st, store_tx_fn fn, void *arg)
{
	struct store_tx tx;
	int rc = -1, r;

	if (!st || !fn)
		return -1;
	pthread_mutex_lock(&st->mu);
	if (tx_begin(st))
		goto out;
	tx.st = st;
	r = fn(&tx, arg);
	if (r != 0) {
		tx_rollback(st);
		rc = r;
		goto out;
	}
	if (tx_commit(st))
		goto out;
	rc = 0;
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Step a bound statement that returns no rows, inside a transaction. The
 * statement is reset either way. 0, 1 on a UNIQUE/PRIMARY KEY conflict, -1. */
static int tx_exec(struct store_tx *tx, enum stmt_id id, const char *what)
{
	sqlite3_stmt *q = tx->st->q[id];
	int step = sqlite3_step(q), rc = 0;

	if (step == SQLITE_CONSTRAINT_UNIQUE || step == SQLITE_CONSTRAINT_PRIMARYKEY) {
		rc = 1;
	} else if (step != SQLITE_DONE) {
		log_error("store: %s: %s", what, sqlite3_errmsg(tx->st->db));
		rc = -1;
	}
	stmt_done(q);
	return rc;
}

/* An integer column that must be a profile state. */
static int col_state(sqlite3_stmt *q, int col, enum profile_state *out)
{
	int v;

	if (col_int(q, col, &v) || v <= PS_NONE || v >= PS_COUNT)
		return -1;
	*out = (enum profile_state)v;
	return 0;
}

/* Profile row at columns 0..5 (PROFILE_COLS order). */
static int read_profile(sqlite3_stmt *q, struct inv_profile *p)
{
	memset(p, 0, sizeof(*p));
	if (col_str(q, 0, p->iccid, sizeof(p->iccid)) ||
	    col_str(q, 1, p->file, sizeof(p->file)) ||
	    col_str(q, 2, p->type, sizeof(p->type)) ||
	    col_state(q, 3, &p->state))
		return -1;
	p->order_id = sqlite3_column_int64(q, 4);
	p->updated = sqlite3_column_int64(q, 5);
	return 0;
}

/* Order row starting at column c0 (ORDER_COLS order). */
static int read_order(sqlite3_stmt *q, int c0, struct order *o)
{
	size_t hl = 0;

	memset(o, 0, sizeof(*o));
	o->id = sqlite3_column_int64(q, c0 + OC_ID);
	if (col_str(q, c0 + OC_ICCID, o->iccid, sizeof(o->iccid)) ||
	    col_str(q, c0 + OC_OPERATOR, o->operator_id, sizeof(o->operator_id)) ||
	    col_str(q, c0 + OC_EID, o->eid, sizeof(o->eid)) ||
	    col_int(q, c0 + OC_CONFIRMED, &o->confirmed) ||
	    col_str(q, c0 + OC_MATCHING_ID, o->matching_id, sizeof(o->matching_id)) ||
	    col_str(q, c0 + OC_SMDS_ADDRESS, o->smds_address, sizeof(o->smds_address)) ||
	    col_int(q, c0 + OC_CC_FAILURES, &o->cc_failures) ||
	    col_int(q, c0 + OC_ATTEMPTS, &o->attempts) ||
	    col_int(q, c0 + OC_ACTIVE, &o->active))
		return -1;
	if (sqlite3_column_type(q, c0 + OC_CC_HASH) != SQLITE_NULL) {
		if (col_var(q, c0 + OC_CC_HASH, o->cc_hash, sizeof(o->cc_hash), &hl) ||
		    hl != sizeof(o->cc_hash))
			return -1;
		o->has_cc = 1;
	}
	o->created = sqlite3_column_int64(q, c0 + OC_CREATED);
	o->expires = sqlite3_column_int64(q, c0 + OC_EXPIRES);
	return 0;
}

/* Run a bound single-row query and read it with rd. 1 found, 0 none, -1. */
static int tx_get_row(struct store_tx *tx, enum stmt_id id, const char *what,
		      int (*rd)(sqlite3_stmt *q, void *out), void *out)
{
	sqlite3_stmt *q = tx->st->q[id];
	int step = sqlite3_step(q), rc;

	if (step == SQLITE_DONE) {
		rc = 0;
	} else if (step != SQLITE_ROW) {
		log_error("store: %s: %s", what, sqlite3_errmsg(tx->st->db));
		rc = -1;
	} else if (rd(q, out)) {
		log_error("store: %s: malformed row", what);
		rc = -1;
	} else {
		rc = 1;
	}
	stmt_done(q);
	return rc;
}

static int rd_profile(sqlite3_stmt *q, void *out)
{
	return read_profile(q, out);
}

static int rd_order(sqlite3_stmt *q, void *out)
{
	return read_order(q, 0, out);
}

/* One row by a text key: bind key (at most keysz-1 bytes) as parameter 1 of
 * statement id, then tx_get_row. */
static int tx_get_by_text(struct store_tx *tx, enum stmt_id id, const char *key, size_t keysz,
			  const char *what, int (*rd)(sqlite3_stmt *q, void *out), void *out)
{
	sqlite3_stmt *q = tx->st->q[id];

	if (bind_str(q, 1, key, keysz)) {
		stmt_done(q);
		return -1;
	}
	return tx_get_row(tx, id, what, rd, out);
}

int store_tx_profile_get(struct store_tx *tx, const char *iccid, struct inv_profile *out)
{
	memset(out, 0, sizeof(*out));
	return tx_get_by_text(tx, Q_PROF_GET, iccid, sizeof(out->iccid),
			      "profile get", rd_profile, out);
}

int store_tx_profile_pick(struct store_tx *tx, const char *type, struct inv_profile *out)
{
	memset(out, 0, sizeof(*out));
	return tx_get_by_text(tx, Q_PROF_PICK, type, sizeof(out->type),
			      "profile pick", rd_profile, out);
}

int store_tx_profile_type_count(struct store_tx *tx, const char *type)
{
	sqlite3_stmt *q = tx->st->q[Q_PROF_TYPE_COUNT];
	sqlite3_int64 v = -1;

	if (bind_str(q, 1, type, SMDP_MAX_PROFILE_TYPE + 1) == 0 && sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	stmt_done(q);
	return v > INT_MAX ? INT_MAX : (int)v;
}

/* Bind Q_PROF_INSERT / Q_PROF_UPDATE (same parameter numbers). */
static int bind_profile(sqlite3_stmt *q, const struct inv_profile *p)
{
	if (p->state <= PS_NONE || p->state >= PS_COUNT ||
	    bind_str(q, 1, p->iccid, sizeof(p->iccid)) ||
	    bind_str(q, 2, p->file, sizeof(p->file)) ||
	    bind_str(q, 3, p->type, sizeof(p->type)) ||
	    bind_i64(q, 4, p->state) ||
	    bind_i64(q, 5, p->order_id) ||
	    bind_i64(q, 6, p->updated)) {
		log_error("store: profile: invalid field");
		stmt_done(q);
		return -1;
	}
	return 0;
}

int store_tx_profile_insert(struct store_tx *tx, const struct inv_profile *p)
{
	if (bind_profile(tx->st->q[Q_PROF_INSERT], p))
		return -1;
	return tx_exec(tx, Q_PROF_INSERT, "profile insert");
}

int store_tx_profile_update(struct store_tx *tx, const struct inv_profile *p)
{
	sqlite3_stmt *q = tx->st->q[Q_PROF_UPDATE];

	/* the UPDATE uses ?1 and ?4..?6 only; binding ?2/?3 as well is harmless */
	if (bind_profile(q, p) || tx_exec(tx, Q_PROF_UPDATE, "profile update"))
		return -1;
	return sqlite3_changes(tx->st->db) == 1 ? 0 : -1;
}

int store_tx_order_get(struct store_tx *tx, int64_t id, struct order *out)
{
	sqlite3_stmt *q = tx->st->q[Q_ORDER_GET];

	memset(out, 0, sizeof(*out));
	if (bind_i64(q, 1, id)) {
		stmt_done(q);
		return -1;
	}
	return tx_get_row(tx, Q_ORDER_GET, "order get", rd_order, out);
}

int store_tx_order_by_matching_id(struct store_tx *tx, const char *mid, struct order *out)
{
	memset(out, 0, sizeof(*out));
	return tx_get_by_text(tx, Q_ORDER_MID, mid, sizeof(out->matching_id),
			      "order by matchingId", rd_order, out);
}

int store_tx_order_default(struct store_tx *tx, const char *eid, struct order *out)
{
	memset(out, 0, sizeof(*out));
	return tx_get_by_text(tx, Q_ORDER_DEFAULT, eid, sizeof(out->eid),
			      "default order", rd_order, out);
}

/* Bind Q_ORDER_INSERT / Q_ORDER_UPDATE (?1 = id is unused by the insert). */
static int bind_order(sqlite3_stmt *q, const struct order *o, int with_id)
{
	if ((with_id && bind_i64(q, OC_ID + 1, o->id)) ||
	    bind_str(q, OC_ICCID + 1, o->iccid, sizeof(o->iccid)) ||
	    bind_str(q, OC_OPERATOR + 1, o->operator_id, sizeof(o->operator_id)) ||
	    bind_str(q, OC_EID + 1, o->eid, sizeof(o->eid)) ||
	    bind_i64(q, OC_CONFIRMED + 1, o->confirmed) ||
	    bind_str(q, OC_MATCHING_ID + 1, o->matching_id, sizeof(o->matching_id)) ||
	    bind_str(q, OC_SMDS_ADDRESS + 1, o->smds_address, sizeof(o->smds_address)) ||
	    (o->has_cc ? bind_bytes(q, OC_CC_HASH + 1, o->cc_hash, sizeof(o->cc_hash)) :
	     sqlite3_bind_null(q, OC_CC_HASH + 1) != SQLITE_OK) ||
	    bind_i64(q, OC_CC_FAILURES + 1, o->cc_failures) ||
	    bind_i64(q, OC_ATTEMPTS + 1, o->attempts) ||
	    bind_i64(q, OC_CREATED + 1, o->created) ||
	    bind_i64(q, OC_EXPIRES + 1, o->expires) ||
	    bind_i64(q, OC_ACTIVE + 1, o->active)) {
		log_error("store: order: invalid field");
		stmt_done(q);
		return -1;
	}
	return 0;
}

int store_tx_order_insert(struct store_tx *tx, const struct order *o, int64_t *id)
{
	if (bind_order(tx->st->q[Q_ORDER_INSERT], o, 0) ||
	    tx_exec(tx, Q_ORDER_INSERT, "order insert"))
		return -1;
	*id = sqlite3_last_insert_rowid(tx->st->db);
	return 0;
}

int store_tx_order_update(struct store_tx *tx, const struct order *o)
{
	int r;

	if (bind_order(tx->st->q[Q_ORDER_UPDATE], o, 1))
		return -1;
	r = tx_exec(tx, Q_ORDER_UPDATE, "order update");
	if (r == 0 && sqlite3_changes(tx->st->db) != 1)
		return -1;
	return r;
}

void op_notification_free(struct op_notification *n)
{
	if (n)
		buf_free(&n->result_data);
}

int store_tx_notify_add(struct store_tx *tx, const struct op_notification *n)
{
	sqlite3_stmt *q = tx->st->q[Q_OPN_ADD];

	if (bind_str(q, 2, n->operator_id, sizeof(n->operator_id)) ||
	    bind_str(q, 3, n->eid, sizeof(n->eid)) ||
	    bind_str(q, 4, n->iccid, sizeof(n->iccid)) ||
	    bind_str(q, 5, n->profile_type, sizeof(n->profile_type)) ||
	    bind_i64(q, 6, n->time) ||
	    bind_i64(q, 7, n->point) ||
	    bind_str(q, 8, n->subject, sizeof(n->subject)) ||
	    bind_str(q, 9, n->reason, sizeof(n->reason)) ||
	    bind_str(q, 10, n->message, sizeof(n->message)) ||
	    bind_bytes(q, 11, n->result_data.p, n->result_data.len) ||
	    bind_i64(q, 12, n->tries) ||
	    bind_i64(q, 13, n->next_try) ||
	    bind_str(q, 14, n->last_error, sizeof(n->last_error))) {
		log_error("store: operator notification: invalid field");
		stmt_done(q);
		return -1;
	}
	return tx_exec(tx, Q_OPN_ADD, "operator notification add") ? -1 : 0;
}

int store_tx_session_update(struct store_tx *tx, const struct session *s)
{
	return session_step(tx->st, s, 0);
}

int store_tx_history_add(struct store_tx *tx, const struct history_event *e)
{
	if (bind_history(tx->st->q[Q_HISTORY_ADD], e))
		return -1;
	return tx_exec(tx, Q_HISTORY_ADD, "history add") ? -1 : 0;
}

int store_tx_binding_delete(struct store_tx *tx, const char *eid, const char *profile_id)
{
	if (bind_binding_key(tx->st->q[Q_BINDING_DELETE], eid, profile_id))
		return -1;
	return tx_exec(tx, Q_BINDING_DELETE, "binding delete") ? -1 : 0;
}

/* The plain rows of w, in the documented order; inside a transaction. */
static int es9_rows(struct store_tx *tx, const struct store_es9_writes *w)
{
	struct store *st = tx->st;

	if (w->session && session_step(st, w->session, w->session_insert))
		return -1;
	if (w->binding_put && (bind_binding(st->q[Q_BINDING_PUT], w->binding_put) ||
			       tx_exec(tx, Q_BINDING_PUT, "binding put")))
		return -1;
	if (w->binding_del_eid && w->binding_del_profile &&
	    store_tx_binding_delete(tx, w->binding_del_eid, w->binding_del_profile))
		return -1;
	if (w->history && store_tx_history_add(tx, w->history))
		return -1;
	if (w->notification && (bind_notification(st->q[Q_NOTIF_ADD], w->notification) ||
				tx_exec(tx, Q_NOTIF_ADD, "notification add")))
		return -1;
	return 0;
}

/* Issue 8: a download used to cost about eleven write transactions (each a
 * WAL append and, with synchronous=NORMAL, lock traffic); one per ES9+ call
 * keeps the same rows and makes each call's change atomic. */
int store_es9_write(struct store *st, const struct store_es9_writes *w)
{
	struct store_tx tx;
	int rc = -1, r = 0;

	if (!st || !w)
		return -1;
	pthread_mutex_lock(&st->mu);
	if (tx_begin(st))
		goto out;
	tx.st = st;
	if (w->fn && w->fn_first)
		r = w->fn(&tx, w->arg);
	if (r == 0 && es9_rows(&tx, w))
		r = -1;
	if (r == 0 && w->fn && !w->fn_first)
		r = w->fn(&tx, w->arg);
	if (r != 0) {
		tx_rollback(st);
		rc = r;
		goto out;
	}
	if (tx_commit(st))
		goto out;
	rc = 0;
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ------------------------------------------------------------------ */
/* inventory listing and the operator notification queue */

struct profile_row {
	struct inv_profile p;
	struct order o;
	int has_order;
};

/* Rows come in ICCID order, read in batches under the lock and handed to
 * cb without it (cb may call the store). 0 / -1. */
int store_profile_each(struct store *st, enum profile_state state, const char *type,
		       void (*cb)(void *arg, const struct inv_profile *p, const struct order *o),
		       void *arg)
{
	struct profile_row *batch = NULL;
	sqlite3_stmt *q = NULL;
	char last[SMDP_ICCID_LEN + 1] = "";
	size_t n;
	int rc = -1, locked = 0, step;

	if (!st || !cb || state < PS_NONE || state >= PS_COUNT)
		goto out;
	batch = calloc(STORE_PROFILE_BATCH, sizeof(*batch));
	if (!batch)
		goto out;
	q = st->q[Q_PROF_EACH];
	do {
		n = 0;
		pthread_mutex_lock(&st->mu);
		locked = 1;
		if (bind_str(q, 1, last, sizeof(last)) || bind_i64(q, 2, state) ||
		    (type ? bind_str(q, 3, type, SMDP_MAX_PROFILE_TYPE + 1) :
		     sqlite3_bind_null(q, 3) != SQLITE_OK) ||
		    bind_i64(q, 4, STORE_PROFILE_BATCH))
			goto out;
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			struct profile_row *r = &batch[n];

			if (read_profile(q, &r->p)) {
				log_error("store: profile list: malformed row");
				goto out;
			}
			r->has_order = sqlite3_column_type(q, 6) != SQLITE_NULL;
			if (r->has_order && read_order(q, 6, &r->o)) {
				log_error("store: profile list: malformed order");
				goto out;
			}
			str_copy(last, sizeof(last), r->p.iccid);
			n++;
		}
		if (step != SQLITE_DONE) {
			log_error("store: profile list: %s", sqlite3_errmsg(st->db));
			goto out;
		}
		stmt_done(q);
		pthread_mutex_unlock(&st->mu);
		locked = 0;
		for (size_t i = 0; i < n; i++)
			cb(arg, &batch[i].p, batch[i].has_order ? &batch[i].o : NULL);
	} while (n == STORE_PROFILE_BATCH);
	rc = 0;
out:
	if (locked) {
		stmt_done(q);
		pthread_mutex_unlock(&st->mu);
	}
	free(batch);
	return rc;
}

int store_notify_head(struct store *st, const char *operator_id, struct op_notification *out)
{
	sqlite3_stmt *q = NULL;
	int rc = -1, locked = 0, step;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!st || !operator_id || !out)
		goto out;
	pthread_mutex_lock(&st->mu);
	locked = 1;
	q = st->q[Q_OPN_HEAD];
	if (bind_str(q, 1, operator_id, sizeof(out->operator_id)))
		goto out;
	step = sqlite3_step(q);
	if (step == SQLITE_DONE) {
		rc = 0;
		goto out;
	}
	if (step != SQLITE_ROW) {
		log_error("store: notification head: %s", sqlite3_errmsg(st->db));
		goto out;
	}
	out->id = sqlite3_column_int64(q, 0);
	out->time = sqlite3_column_int64(q, 5);
	out->next_try = sqlite3_column_int64(q, 12);
	if (col_str(q, 1, out->operator_id, sizeof(out->operator_id)) ||
	    col_str(q, 2, out->eid, sizeof(out->eid)) ||
	    col_str(q, 3, out->iccid, sizeof(out->iccid)) ||
	    col_str(q, 4, out->profile_type, sizeof(out->profile_type)) ||
	    col_int(q, 6, &out->point) ||
	    col_str(q, 7, out->subject, sizeof(out->subject)) ||
	    col_str(q, 8, out->reason, sizeof(out->reason)) ||
	    col_str(q, 9, out->message, sizeof(out->message)) ||
	    col_buf(q, 10, &out->result_data) ||
	    col_int(q, 11, &out->tries) ||
	    col_str(q, 13, out->last_error, sizeof(out->last_error))) {
		log_error("store: notification head: malformed row");
		op_notification_free(out);
		memset(out, 0, sizeof(*out));
		goto out;
	}
	rc = 1;
out:
	if (q)
		stmt_done(q);
	if (locked)
		pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_notify_done(struct store *st, int64_t id)
{
	int rc = -1, locked = 0;

	if (!st)
		goto out;
	pthread_mutex_lock(&st->mu);
	locked = 1;
	if (bind_i64(st->q[Q_OPN_DONE], 1, id) ||
	    bind_i64(st->q[Q_OPN_DONE], 2, (int64_t)time(NULL))) {
		stmt_done(st->q[Q_OPN_DONE]);
		goto out;
	}
	rc = write_one(st, Q_OPN_DONE, "notification done");
out:
	if (locked)
		pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_notify_retry(struct store *st, int64_t id, int tries, int64_t next_try,
		       const char *error)
{
	char e[128];
	sqlite3_stmt *q;
	int rc = -1, locked = 0;

	if (!st || !error)
		goto out;
	/* a transport error text may be longer than the column is meant to be */
	str_copy(e, sizeof(e), error);
	pthread_mutex_lock(&st->mu);
	locked = 1;
	q = st->q[Q_OPN_RETRY];
	if (bind_i64(q, 1, id) || bind_i64(q, 2, tries) || bind_i64(q, 3, next_try) ||
	    bind_str(q, 4, e, sizeof(e))) {
		stmt_done(q);
		goto out;
	}
	rc = write_one(st, Q_OPN_RETRY, "notification retry");
out:
	if (locked)
		pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_notify_count(struct store *st, const char *operator_id)
{
	sqlite3_stmt *q = NULL;
	sqlite3_int64 v;
	int rc = -1, locked = 0;

	if (!st)
		goto out;
	pthread_mutex_lock(&st->mu);
	locked = 1;
	q = st->q[Q_OPN_COUNT];
	if (operator_id ? bind_str(q, 1, operator_id, SMDP_MAX_OP_ID + 1) :
	    sqlite3_bind_null(q, 1) != SQLITE_OK)
		goto out;
	if (sqlite3_step(q) != SQLITE_ROW) {
		log_error("store: notification count: %s", sqlite3_errmsg(st->db));
		goto out;
	}
	v = sqlite3_column_int64(q, 0);
	rc = v > INT_MAX ? INT_MAX : (int)v;
out:
	if (q)
		stmt_done(q);
	if (locked)
		pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ------------------------------------------------------------------ */
/* the lab's tables (lab.h): fault rules, trace events, summaries */

/* Bind a caller's NUL-terminated text (the lab's structs bound it). */
static int bind_text_lab(sqlite3_stmt *q, int i, const char *s)
{
	return sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC) == SQLITE_OK ? 0 : -1;
}

/* Copy a text column, truncated to out[outsz]: the lab's rows are shown,
 * never acted on, so a long value is cut rather than refused. */
static void col_text_lab(sqlite3_stmt *q, int c, char *out, size_t outsz)
{
	const unsigned char *t = sqlite3_column_text(q, c);

	str_copy(out, outsz, t ? (const char *)t : "");
}

/* fault rules */

int store_fault_put(struct store *st, struct fault_rule *r)
{
	sqlite3_stmt *q;
	struct fault_rule plain = *r;
	char spec[LAB_MAX_SPEC];
	int rc = -1, step;
	int64_t id = 0;

	/* enabled lives in its own column only (store_fault_enable) */
	plain.enabled = 1;
	fault_format(&plain, spec, sizeof(spec));
	pthread_mutex_lock(&st->mu);
	if (tx_begin(st))
		goto out;
	if (!(q = st->q[Q_FAULT_GET_NAME]) || bind_text_lab(q, 1, r->name))
		goto fail;
	step = sqlite3_step(q);
	if (step == SQLITE_ROW)
		id = sqlite3_column_int64(q, 0);
	stmt_done(q);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		goto fail;
	if (id) {
		if (!(q = st->q[Q_FAULT_UPDATE]) || sqlite3_bind_int64(q, 1, id) ||
		    bind_text_lab(q, 2, spec) || sqlite3_bind_int(q, 3, r->enabled) ||
		    bind_text_lab(q, 4, r->origin) || sqlite3_step(q) != SQLITE_DONE) {
			stmt_done(q);
			goto fail;
		}
		stmt_done(q);
	} else {
		if (!(q = st->q[Q_FAULT_INSERT]) || bind_text_lab(q, 1, r->name) ||
		    bind_text_lab(q, 2, spec) || sqlite3_bind_int(q, 3, r->enabled) ||
		    bind_text_lab(q, 4, r->origin) || sqlite3_bind_int64(q, 5, r->created) ||
		    sqlite3_step(q) != SQLITE_DONE) {
			stmt_done(q);
			goto fail;
		}
		stmt_done(q);
		id = sqlite3_last_insert_rowid(st->db);
	}
	if (tx_commit(st))
		goto fail;
	r->id = id;
	rc = 0;
	goto out;
fail:
	log_error("store: lab: fault %s: %s", r->name, sqlite3_errmsg(st->db));
	tx_rollback(st);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_fault_list(struct store *st, struct fault_rule *out, size_t max)
{
	sqlite3_stmt *q;
	int n = 0, step;
	char spec[LAB_MAX_SPEC], err[160];

	pthread_mutex_lock(&st->mu);
	if (!(q = st->q[Q_FAULT_LIST]) || sqlite3_bind_int64(q, 1, (sqlite3_int64)max)) {
		n = -1;
		goto out;
	}
	while ((step = sqlite3_step(q)) == SQLITE_ROW && (size_t)n < max) {
		struct fault_rule *r = &out[n];

		memset(r, 0, sizeof(*r));
		col_text_lab(q, 2, spec, sizeof(spec));
		/* a rule written by a newer smdp, or by hand, that we cannot read is
		 * skipped, not acted on */
		if (fault_parse(spec, r, err, sizeof(err))) {
			log_warn("store: lab: fault rule %lld ignored: %s",
				 (long long)sqlite3_column_int64(q, 0), err);
			continue;
		}
		r->id = sqlite3_column_int64(q, 0);
		col_text_lab(q, 1, r->name, sizeof(r->name));
		r->enabled = sqlite3_column_int(q, 3) != 0;
		col_text_lab(q, 4, r->origin, sizeof(r->origin));
		r->seen = sqlite3_column_int64(q, 5);
		r->fired = sqlite3_column_int64(q, 6);
		r->created = sqlite3_column_int64(q, 7);
		n++;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		n = -1;
out:
	stmt_done(q);
	pthread_mutex_unlock(&st->mu);
	return n;
}

int64_t store_fault_seen(struct store *st, int64_t id)
{
	sqlite3_stmt *q;
	int64_t v = -1;

	pthread_mutex_lock(&st->mu);
	if ((q = st->q[Q_FAULT_SEEN]) && sqlite3_bind_int64(q, 1, id) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	/* RETURNING: the row change is only complete once stepped to the end */
	if (q && v >= 0 && sqlite3_step(q) != SQLITE_DONE)
		v = -1;
	stmt_done(q);
	pthread_mutex_unlock(&st->mu);
	return v;
}

static int exec_id(struct store *st, enum stmt_id id, int64_t rowid, int has2, int v2)
{
	sqlite3_stmt *q;
	int rc = -1;

	pthread_mutex_lock(&st->mu);
	if ((q = st->q[id]) && (id == Q_FAULT_DELETE_ALL || sqlite3_bind_int64(q, 1, rowid) == 0) &&
	    (!has2 || sqlite3_bind_int(q, 2, v2) == SQLITE_OK) && sqlite3_step(q) == SQLITE_DONE)
		rc = sqlite3_changes(st->db) > 0 ? 1 : 0;
	else
		log_error("store: lab: %s", sqlite3_errmsg(st->db));
	stmt_done(q);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_fault_fired(struct store *st, int64_t id)
{
	return exec_id(st, Q_FAULT_FIRED, id, 0, 0) < 0 ? -1 : 0;
}

int store_fault_delete(struct store *st, int64_t id)
{
	return exec_id(st, id ? Q_FAULT_DELETE : Q_FAULT_DELETE_ALL, id, 0, 0);
}

int store_fault_enable(struct store *st, int64_t id, int enabled)
{
	return exec_id(st, Q_FAULT_ENABLE, id, 1, enabled ? 1 : 0);
}

/* ------------------------------------------------------------------ */
/* traces */

/* 1 if a call's rows can be written (each event within LAB_MAX_DETAIL). */
static int trace_fits(const struct lab_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!ev[i].detail || strlen(ev[i].detail) > LAB_MAX_DETAIL ||
		    ev[i].body_len > LAB_MAX_DETAIL)
			return 0;
	return 1;
}

/* One call's events and its summary row, inside the caller's transaction
 * (the caller checked trace_fits). */
static int trace_rows(struct store *st, const struct lab_event *ev, size_t n,
		      const struct lab_tx_summary *sum)
{
	sqlite3_stmt *q;

	for (size_t i = 0; i < n; i++) {
		if (!(q = st->q[Q_EVENT_ADD]) || bind_text_lab(q, 1, ev[i].txid) ||
		    sqlite3_bind_int64(q, 2, ev[i].time_us) || bind_text_lab(q, 3, ev[i].kind) ||
		    bind_text_lab(q, 4, ev[i].function) || bind_text_lab(q, 5, ev[i].detail) ||
		    (ev[i].body_len ? sqlite3_bind_blob(q, 6, ev[i].body, (int)ev[i].body_len,
							SQLITE_STATIC) :
				      sqlite3_bind_null(q, 6)) ||
		    sqlite3_step(q) != SQLITE_DONE) {
			stmt_done(q);
			return -1;
		}
		stmt_done(q);
	}
	if (sum) {
		if (!(q = st->q[Q_TX_UPSERT]) || bind_text_lab(q, 1, sum->txid) ||
		    sqlite3_bind_int64(q, 2, sum->started_us) ||
		    sqlite3_bind_int64(q, 3, sum->updated_us) || bind_text_lab(q, 4, sum->eid) ||
		    bind_text_lab(q, 5, sum->matching_id) || bind_text_lab(q, 6, sum->profile) ||
		    bind_text_lab(q, 7, sum->last_function) || bind_text_lab(q, 8, sum->outcome) ||
		    sqlite3_bind_int(q, 9, sum->calls) || sqlite3_bind_int(q, 10, sum->faults) ||
		    sqlite3_step(q) != SQLITE_DONE) {
			stmt_done(q);
			return -1;
		}
		stmt_done(q);
	}
	return 0;
}

int store_trace_add(struct store *st, const struct lab_event *ev, size_t n,
		    const struct lab_tx_summary *sum)
{
	int rc = -1;

	pthread_mutex_lock(&st->mu);
	if (!trace_fits(ev, n) || tx_begin(st))
		goto out;
	if (trace_rows(st, ev, n, sum) || tx_commit(st)) {
		log_error("store: lab: trace: %s", sqlite3_errmsg(st->db));
		tx_rollback(st);
		goto out;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* A call whose rows cannot be written (too big) is left out and the others
 * go in; a failing transaction writes nothing. */
int store_trace_add_batch(struct store *st, struct lab_trace_rec *const *recs, size_t n)
{
	int rc = -1;

	pthread_mutex_lock(&st->mu);
	if (tx_begin(st))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!trace_fits(recs[i]->ev, recs[i]->n_ev)) {
			log_warn("store: lab: trace of %s not stored: an event is over %d bytes",
				 recs[i]->sum.txid, LAB_MAX_DETAIL);
			continue;
		}
		if (trace_rows(st, recs[i]->ev, recs[i]->n_ev, &recs[i]->sum))
			goto fail;
	}
	if (tx_commit(st))
		goto fail;
	rc = 0;
	goto out;
fail:
	log_error("store: lab: trace: %s", sqlite3_errmsg(st->db));
	tx_rollback(st);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Events are copied out under the lock and handed to cb without it, so
 * the callback may use the store. */
int store_trace_each(struct store *st, const char *txid,
		     void (*cb)(void *arg, const struct lab_event *e), void *arg)
{
	struct lab_event *v = NULL;
	sqlite3_stmt *q;
	size_t n = 0, cap = 0;
	int rc = -1, step;

	pthread_mutex_lock(&st->mu);
	if (!(q = st->q[Q_EVENTS]) || bind_text_lab(q, 1, txid))
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
		col_text_lab(q, 0, v[n].txid, sizeof(v[n].txid));
		v[n].time_us = sqlite3_column_int64(q, 1);
		col_text_lab(q, 2, v[n].kind, sizeof(v[n].kind));
		col_text_lab(q, 3, v[n].function, sizeof(v[n].function));
		if (!(v[n].detail = strdup(d ? (const char *)d : "{}")))
			goto unlock;
		n++;
		if ((v[n - 1].body_len = (size_t)sqlite3_column_bytes(q, 5)) > 0) {
			const void *b = sqlite3_column_blob(q, 5);
			if (!b || !(v[n - 1].body = malloc(v[n - 1].body_len)))
				goto unlock;
			memcpy(v[n - 1].body, b, v[n - 1].body_len);
		}
	}
	if (step == SQLITE_DONE)
		rc = 0;
unlock:
	stmt_done(q);
	pthread_mutex_unlock(&st->mu);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			cb(arg, &v[i]);
		free(v[i].detail);
		free(v[i].body);
	}
	free(v);
	return rc;
}

static void read_summary(sqlite3_stmt *q, struct lab_tx_summary *s)
{
	memset(s, 0, sizeof(*s));
	col_text_lab(q, 0, s->txid, sizeof(s->txid));
	s->started_us = sqlite3_column_int64(q, 1);
	s->updated_us = sqlite3_column_int64(q, 2);
	col_text_lab(q, 3, s->eid, sizeof(s->eid));
	col_text_lab(q, 4, s->matching_id, sizeof(s->matching_id));
	col_text_lab(q, 5, s->profile, sizeof(s->profile));
	col_text_lab(q, 6, s->last_function, sizeof(s->last_function));
	col_text_lab(q, 7, s->outcome, sizeof(s->outcome));
	s->calls = sqlite3_column_int(q, 8);
	s->faults = sqlite3_column_int(q, 9);
}

/* The session a summary's key names, if it is still stored (under st->mu).
 * The key is the txid in upper-case hex (lab.c); any other key ("none-...",
 * lower case) names no session. 0 done (has_session set or not), -1 error. */
static int read_tx_session(struct store *st, struct lab_tx_summary *s)
{
	uint8_t bin[LAB_TXID_TEXT / 2];
	size_t len = strlen(s->txid);
	sqlite3_stmt *q;
	int n, step, rc = -1;

	s->has_session = 0;
	if (strspn(s->txid, "0123456789ABCDEF") != len ||
	    (n = hex_decode(s->txid, bin, sizeof(bin))) <= 0)
		return 0;
	q = st->q[Q_TX_SESSION];
	if (sqlite3_bind_blob(q, 1, bin, n, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		s->has_session = 1;
		s->state = sqlite3_column_int(q, 0);
		s->close_reason = sqlite3_column_int(q, 1);
		s->expires = sqlite3_column_int64(q, 2);
	}
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		rc = 0;
out:
	stmt_done(q);
	return rc;
}

int store_trace_list(struct store *st, size_t max,
		     void (*cb)(void *arg, const struct lab_tx_summary *s), void *arg)
{
	struct lab_tx_summary *v = NULL;
	sqlite3_stmt *q;
	size_t n = 0;
	int rc = -1, step = SQLITE_DONE;

	if (max > LAB_MAX_LIST)
		max = LAB_MAX_LIST;
	if (!(v = calloc(max ? max : 1, sizeof(*v))))
		return -1;
	pthread_mutex_lock(&st->mu);
	q = st->q[Q_TX_LIST];
	if (sqlite3_bind_int64(q, 1, (sqlite3_int64)max)) {
		stmt_done(q);
		goto unlock;
	}
	while (n < max && (step = sqlite3_step(q)) == SQLITE_ROW)
		read_summary(q, &v[n++]);
	stmt_done(q);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		goto unlock;
	for (size_t i = 0; i < n; i++)
		if (read_tx_session(st, &v[i]))
			goto unlock;
	rc = 0;
unlock:
	pthread_mutex_unlock(&st->mu);
	for (size_t i = 0; rc == 0 && i < n; i++)
		cb(arg, &v[i]);
	free(v);
	return rc;
}

int store_trace_get(struct store *st, const char *txid, struct lab_tx_summary *out)
{
	sqlite3_stmt *q;
	int rc = -1, step;

	pthread_mutex_lock(&st->mu);
	if ((q = st->q[Q_TX_GET]) && bind_text_lab(q, 1, txid) == 0) {
		step = sqlite3_step(q);
		if (step == SQLITE_ROW) {
			read_summary(q, out);
			rc = 1;
		} else if (step == SQLITE_DONE) {
			rc = 0;
		}
	}
	stmt_done(q);
	if (rc == 1 && read_tx_session(st, out))
		rc = -1;
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_trace_sweep(struct store *st, int64_t cutoff_us)
{
	sqlite3_stmt *q;
	int rc = -1, n = 0;

	pthread_mutex_lock(&st->mu);
	if (tx_begin(st))
		goto out;
	if (!(q = st->q[Q_SWEEP_EVENTS]) || sqlite3_bind_int64(q, 1, cutoff_us) ||
	    sqlite3_step(q) != SQLITE_DONE) {
		stmt_done(q);
		goto fail;
	}
	stmt_done(q);
	n += sqlite3_changes(st->db);
	if (!(q = st->q[Q_SWEEP_TX]) || sqlite3_bind_int64(q, 1, cutoff_us) ||
	    sqlite3_step(q) != SQLITE_DONE) {
		stmt_done(q);
		goto fail;
	}
	stmt_done(q);
	n += sqlite3_changes(st->db);
	if (tx_commit(st))
		goto fail;
	rc = n;
	goto out;
fail:
	tx_rollback(st);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

long store_sessions_in_flight(struct store *st, int64_t now)
{
	sqlite3_stmt *q;
	long v = -1;

	pthread_mutex_lock(&st->mu);
	if ((q = st->q[Q_IN_FLIGHT]) && sqlite3_bind_int64(q, 1, now) == SQLITE_OK &&
	    sqlite3_bind_int(q, 2, SESSION_CLOSED) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		v = (long)sqlite3_column_int64(q, 0);
	stmt_done(q);
	pthread_mutex_unlock(&st->mu);
	return v;
}
