/*
 * lab.h - the lab features of smdp (issue 7): fault injection, session
 * traces, metrics and the admin listener with its JSON API and web console.
 * None of it is part of SGP.22: it is what a bench needs to make the SM-DP+
 * misbehave on purpose and to see what happened in a session.
 *
 * Files: lab_config.h (the options struct), lab.c (context, configuration,
 * the ES9+ call hooks), faults.c
 * (rules: parse, match, answer), trace.c (ASN.1 -> readable JSON, checks),
 * metrics.c (Prometheus text), store.c (SQLite tables lab_*),
 * console.c (admin listener, API, QR codes; the only lab file that needs
 * http.c), lab_cli.c (smdp-lab). Prototypes are grouped by file as in
 * smdp.h; the lead may move them there.
 */
#ifndef SMDP_LAB_H
#define SMDP_LAB_H

#include "smdp.h"
#include "lab_config.h"

#include <pthread.h>

struct cJSON;

/* Named limits of the lab inputs (config lines, API bodies, CLI). */
#define LAB_MAX_MESSAGE     128     /* message of an injected error */
#define LAB_MAX_FAULTS      64      /* rules held at once */
#define LAB_MAX_DELAY_MS    120000  /* one delay, and all delays of one call */
#define LAB_MAX_API_BODY    (16 * 1024)   /* one admin API request body */
#define LAB_MAX_EVENTS      64      /* trace events of one ES9+ call */
#define LAB_MAX_LIST        500     /* rows in one API list */
#define LAB_MAX_WEB_FILE    (256 * 1024)  /* one console file */
#define LAB_TXID_TEXT       40      /* transaction key: hex txid or "none-<us>" */
#define LAB_MAX_JSON_DEPTH  8       /* ES9+ / API bodies nest 2-3 levels */
#define LAB_MAX_TRACE_DEPTH 24      /* a stored trace event (our own JSON) */
#define LAB_MAX_DETAIL      (512 * 1024)  /* a stored event's JSON text, and its body */

/* ------------------------------------------------------------------ */
/* lab.c: configuration and the hooks the ES9+ bindings call. */

/* 1 if s can name a fault rule: 1..LAB_MAX_NAME of [A-Za-z0-9._-]. */
int lab_name_ok(const char *s);
/* Defaults: admin on 127.0.0.1:8446, traces on, kept 7 days. */
void lab_config_defaults(struct lab_config *c);
/* Set one lab option: admin.listen (ADDR:PORT or off), admin.cert,
 * admin.key, admin.token, admin.token-file, admin.web, trace (yes/no),
 * trace.keep (seconds), fault.NAME (a rule, faults.c syntax). Returns 0,
 * 1 if the key is not a lab key (the caller tries its own), -1 with err
 * for a bad value. */
int lab_config_set(struct lab_config *c, const char *key, const char *value, char *err,
		   size_t errsz);
void lab_config_print(const struct lab_config *c, FILE *out);
void lab_config_usage(FILE *out);

struct lab;            /* the lab context: store, metrics, configuration */
struct lab_call;       /* one ES9+ call under observation */
struct lab_metrics;    /* metrics.c */

/* Open the lab context for server d (d->cfg, d->store, d->pki set): its
 * tables in the database file d->cfg->db_path and the fault rules of the
 * configuration (stored by name, replacing rules of the same name). No
 * listener (see lab_start). NULL with a reason in err. lc is copied. */
struct lab *lab_open(struct smdp *d, const struct lab_config *lc, char *err, size_t errsz);
void lab_close(struct lab *lab);
const struct lab_config *lab_cfg(const struct lab *lab);
struct lab_metrics *lab_metrics(struct lab *lab);

enum lab_binding { LAB_JSON = 0, LAB_ASN1 = 1 };

/* An ES9+ call of function fn arrived on binding b (the route is known).
 * Reads the request for the trace, evaluates the fault rules (counting
 * attempts), sleeps the delays, and prepares what the other hooks apply.
 * json: the JSON binding's own parse of rq->body (NULL when it has none,
 * and on the ASN.1 binding), read for the request's keys instead of
 * parsing the body a second time; read by lab_call_begin only, never kept.
 * NULL when lab is NULL or out of memory: the call then runs unobserved,
 * and every other hook accepts NULL. Thread-safe. */
struct lab_call *lab_call_begin(struct lab *lab, struct smdp *d, enum es9_fn fn,
				enum lab_binding b, const struct http_request *rq,
				const struct cJSON *json);
/* 1 when a fault answers this call in place of the function: rs is filled
 * (an error in the binding's form, or rs->drop) and the binding must skip
 * the function and go on to lab_call_end. 0 otherwise. */
int lab_call_answer(struct lab_call *c, struct http_response *rs);
/* The BPP corruption for this call (getBoundProfilePackage), owned by c;
 * NULL when none. The binding puts it into es9_gbpp_req.fault. */
struct bpp_fault *lab_call_bpp_fault(struct lab_call *c);
/* The JSON binding built the response with status st itself: the trace
 * and the metrics take it from here instead of reading the body back
 * (SGP.22 6.5.1.4 header). NULL is fine. */
void lab_call_result(struct lab_call *c, enum rsp_status st);
/* Where the ES9+ function puts the session as it wrote it (es9_*_req.after,
 * es9p_handle_notification): lab_call_end then takes the session's new
 * state from there instead of reading it back. NULL when c is NULL. */
struct es9_after *lab_call_after(struct lab_call *c);
/* getBoundProfilePackage on the JSON binding succeeded with this
 * transactionId and BPP (DER, not base64): the trace summarises the answer
 * from them rather than parsing the JSON body back. The summary is the
 * same (trace_gbpp_answer); it is only used when the answer sent is that
 * success. NULL is fine. */
void lab_call_bpp(struct lab_call *c, const uint8_t *txid, size_t txid_len, const uint8_t *bpp,
		  size_t n);
/* initiateAuthentication on the JSON binding answered with this
 * transactionId (SGP.22 5.6.1): the trace keys the transaction with it
 * rather than parsing the JSON body back. NULL is fine. */
void lab_call_txid(struct lab_call *c, const uint8_t *txid, size_t txid_len);
/* The call is answered: rs is what goes out. Records the response, the
 * session state change and the checks in the trace, counts metrics, and
 * applies the faults that act afterwards (drop-after sets rs->drop; expire
 * after initiateAuthentication). Frees c. NULL is fine. */
void lab_call_end(struct lab_call *c, struct http_response *rs);
/* Delete traces older than the retention; done by lab_call_end now and
 * then and by the console. Rows deleted or -1. */
int lab_sweep(struct lab *lab, int64_t now);

/* ------------------------------------------------------------------ */
/* faults.c: fault rules. A rule is text of key=value words:
 *   [function=NAME] [eid=DIGITS] [matchingId=ID] [attempt=N] action=A ...
 * function: an ES9+ function name (any if absent); eid / matchingId: the
 * session's (authenticateClient reads them from the request; rules with
 * either never match initiateAuthentication, which carries neither);
 * attempt=N: only the Nth call that matches the other criteria (counted
 * per rule, persisted), 0 or absent = every one. Actions:
 *   error   status=NAME (a row of rsp_status.c) or subject=S reason=R
 *           [message="..."] [asn1=N]  answer with that error
 *   delay   ms=N             wait N ms, then go on (several add up)
 *   drop                     close the connection without answering
 *   drop-after               run the function, then close without answering
 *   expire                   the session expires (before the function; for
 *                            initiateAuthentication, the new session after it)
 *   bad-mac [segment=K]      BPP: MAC of segment K (1 = first, 0 = last) wrong
 *   bad-smdpsign             BPP: smdpSign in BF23 wrong
 *   metadata-mismatch        BPP: StoreMetadata differs from profileMetadata
 *   oversized-segment        BPP: first profile segment above 1020 bytes
 * The first matching non-delay rule (lowest id) acts; delays all apply. */
enum fault_action {
	FA_ERROR = 0, FA_DELAY, FA_DROP, FA_DROP_AFTER, FA_EXPIRE,
	FA_BAD_MAC, FA_BAD_SMDPSIGN, FA_METADATA, FA_OVERSIZED,
	FA_COUNT
};

struct fault_rule {
	int64_t id;                     /* database row, 0 = not stored */
	char name[LAB_MAX_NAME + 1];
	int enabled;
	int fn;                         /* enum es9_fn, -1 any */
	char eid[SMDP_EID_LEN + 1];     /* "" any */
	char matching_id[SMDP_MAX_MATCHING_ID + 1];  /* "" any */
	int has_matching_id;            /* matchingId= given ("" matches only empty) */
	long attempt;                   /* 0 every matching call */
	enum fault_action action;
	char status[32];                /* error: rsp_status name, "" = subject/reason */
	char subject[16], reason[16];
	char message[LAB_MAX_MESSAGE];
	long asn1;                      /* error: ASN.1 binding INTEGER, -1 derive */
	long ms;                        /* delay */
	long segment;                   /* bad-mac */
	int64_t seen;                   /* calls that matched the criteria */
	int64_t fired;                  /* calls it acted on */
	int64_t created;
	char origin[16];                /* "config", "api", "cli" */
};

/* Name of an action ("error", "bad-mac", ...). */
const char *fault_action_name(enum fault_action a);
/* ES9+ function name ("getBoundProfilePackage"), "any" for -1. */
const char *fault_fn_name(int fn);
/* Parse rule text into r (name, id, counters untouched). 0 / -1 with err. */
int fault_parse(const char *spec, struct fault_rule *r, char *err, size_t errsz);
/* Canonical text of r (what fault_parse reads back). */
void fault_format(const struct fault_rule *r, char *out, size_t outsz);
/* 1 if r's criteria (enabled, function, EID, matchingId) match the call. */
int fault_matches(const struct fault_rule *r, int fn, const char *eid, const char *matching_id,
		  int has_matching_id);
/* Fill rs with r's error answer for function fn in binding b (JSON:
 * functionExecutionStatus Failed with r's codes; ASN.1: the error
 * INTEGER). 0 / -1. */
int fault_answer(const struct fault_rule *r, int fn, enum lab_binding b, struct http_response *rs);
/* The BPP corruption of a rule, BPP_FAULT_NONE for other actions. */
enum bpp_fault_kind fault_bpp_kind(enum fault_action a);
/* JSON object of a rule for the API. Caller deletes. */
struct cJSON *fault_to_json(const struct fault_rule *r);

/* ------------------------------------------------------------------ */
/* trace.c: what goes into a session trace. Everything is decoded with the
 * der_decode_* functions; bytes that could help an attacker or reveal a
 * secret (hashCc) are never copied, the BPP is summarised (it is
 * ciphertext). */
struct cJSON;
/* Readable JSON of one ES9+ object by its JSON-binding member name
 * ("euiccInfo1", "authenticateServerResponse", "serverCertificate",
 * "boundProfilePackage", ...). Unknown names: {"bytes": n}. Caller deletes;
 * NULL only when out of memory. */
struct cJSON *trace_object(const char *name, const uint8_t *der, size_t n);
/* Certificate summary: subject, issuer, serial, validity, policies (GSMA
 * role OIDs), key identifiers, curve, EID / SM-DP+ OID / DNS names. */
struct cJSON *trace_cert(const uint8_t *der, size_t n);
/* The request / response body of a call as readable JSON: the JSON
 * binding's members with every base64 object decoded, or the ASN.1
 * binding's RemoteProfileProvisioning* with the same member names. */
struct cJSON *trace_request(int fn, enum lab_binding b, const uint8_t *body, size_t n);
struct cJSON *trace_response(int fn, enum lab_binding b, int http_status, const uint8_t *body,
			     size_t n);
/* The readable JSON-binding answer of a successful getBoundProfilePackage
 * (what trace_response gives for its body) built from the transactionId
 * and the DER BPP. */
struct cJSON *trace_gbpp_answer(const uint8_t *txid, size_t txid_len, const uint8_t *bpp,
				size_t n);
/* What a request says about its session, read while the call runs (for
 * the trace index and the fault rules): the transactionId (the PIR's for
 * handleNotification) as hex text, and for authenticateClient the EID of
 * CERT.EUICC and the matchingId of ctxParams1. Only the DER the keys sit
 * in is decoded; certificates are walked, not parsed, and nothing is
 * verified. Fields left empty when absent or undecodable. */
struct trace_keys {
	char txid[LAB_TXID_TEXT];
	char eid[SMDP_EID_LEN + 1];
	char matching_id[SMDP_MAX_MATCHING_ID + 1];
	int has_matching_id;
};
/* ids 0: the transactionId only (authenticateClient's EID and matchingId,
 * which need its AuthenticateServerResponse decoded, are left empty). */
void trace_request_keys(int fn, enum lab_binding b, const uint8_t *body, size_t n, int ids,
			struct trace_keys *k);
/* The same from a JSON binding request already parsed (in may be NULL). */
void trace_request_keys_json(int fn, const struct cJSON *in, int ids, struct trace_keys *k);
/* transactionId of a successful initiateAuthentication answer (SGP.22
 * 5.6.1) as hex text into txid; "" when the body has none. */
void trace_response_txid(enum lab_binding b, int http_status, const uint8_t *body, size_t n,
			 char txid[LAB_TXID_TEXT]);
/* Append to arr the checks fn performs in SGP.22 order (5.6.x) with their
 * outcome given the function's result st: passed up to the one st names,
 * that one failed, the rest not reached. */
void trace_checks(int fn, enum rsp_status st, struct cJSON *arr);
/* 1 if the JSON text p[0..n) nests objects/arrays at most max deep
 * (strings skipped): checked before cJSON, whose parser recurses. */
int lab_json_depth_ok(const uint8_t *p, size_t n, int max);
/* Status of a response: from its subjectCode/reasonCode (JSON) or error
 * INTEGER (ASN.1) back to the table row; RSP_OK for success, -1 when the
 * response is not an ES9+ answer (HTTP error, drop). */
int trace_status(int fn, enum lab_binding b, int http_status, const uint8_t *body, size_t n,
		 char subject[16], char reason[16]);
/* Session state names for the trace ("AUTH_STARTED", ...). */
const char *trace_state_name(int state);
const char *trace_close_name(int reason);

/* ------------------------------------------------------------------ */
/* metrics.c: Prometheus text exposition (names prefixed smdp_). */
struct lab_metrics *metrics_new(void);
void metrics_free(struct lab_metrics *m);
/* One ES9+ call: function, seconds it took, subject/reason of its error
 * ("" on success). */
void metrics_call(struct lab_metrics *m, int fn, double seconds, const char *subject,
		  const char *reason);
/* A download ended: outcome "installed", "install_failed", "cancelled",
 * "failed", "expired". */
void metrics_download(struct lab_metrics *m, const char *outcome);
void metrics_fault(struct lab_metrics *m, enum fault_action a);
/* The whole exposition into out (replaced); sessions_in_flight < 0 leaves
 * the gauge out. 0 / -1. */
int metrics_render(struct lab_metrics *m, long sessions_in_flight, struct buf *out);

/* ------------------------------------------------------------------ */
/* store.c: the lab's tables (lab_faults, lab_trace_events,
 * lab_transactions) in the server's database, on the one struct store
 * connection (schema version 5). Every function takes the store's lock and
 * writes in one transaction. */

/* Fault rules. put: insert, or replace the rule of the same name (counters
 * kept unless the text changed); writes r->id. 0 / -1. */
int store_fault_put(struct store *st, struct fault_rule *r);
/* All rules (enabled or not) in id order into out[max]; count or -1. */
int store_fault_list(struct store *st, struct fault_rule *out, size_t max);
/* In one read: the fault rules' generation (bumped by every change of
 * lab_faults, from any process) into *fault_gen, and the brief of session
 * txid[0..txid_len) (none asked when txid_len is 0). 1 session found, 0
 * none, -1 error. */
int store_lab_peek(struct store *st, const uint8_t *txid, size_t txid_len, int64_t *fault_gen,
		   struct session_brief *out);
/* Count a matching call for rule id and return the new count (-1 error). */
int64_t store_fault_seen(struct store *st, int64_t id);
int store_fault_fired(struct store *st, int64_t id);
/* 1 deleted, 0 no such rule, -1 error; id 0 = every rule. */
int store_fault_delete(struct store *st, int64_t id);
int store_fault_enable(struct store *st, int64_t id, int enabled);

/* Trace events: one row per event, detail a JSON text. */
struct lab_event {
	char txid[LAB_TXID_TEXT];
	int64_t time_us;                /* unix time in microseconds */
	char kind[16];                  /* request, response, fault, state, check */
	char function[32];
	char *detail;                   /* JSON text, owned by the caller */
	uint8_t *body;                  /* request/response events: the body as it */
	size_t body_len;                /* went over the wire, decoded when read */
};
/* Add events ev[0..n) and update the transaction summary (EID, matchingId,
 * profile, last function, outcome) in one transaction. 0 / -1. */
struct lab_tx_summary {
	char txid[LAB_TXID_TEXT];
	int64_t started_us, updated_us;
	char eid[SMDP_EID_LEN + 1];
	char matching_id[SMDP_MAX_MATCHING_ID + 1];
	char profile[SMDP_MAX_ID + 1];
	char last_function[32];
	char outcome[64];
	int calls;
	int faults;
	/* from the sessions table, when the session is still there */
	int has_session;
	int state;
	int close_reason;
	int64_t expires;
};
int store_trace_add(struct store *st, const struct lab_event *ev, size_t n,
		    const struct lab_tx_summary *sum);
/* The events and summaries of several calls in one transaction (the trace
 * writer's group commit): recs[0..n). 0 / -1 (nothing written). */
struct lab_trace_rec {
	struct lab_trace_rec *next;     /* the writer's queue */
	struct lab_event *ev;
	size_t n_ev;
	struct lab_tx_summary sum;
};
int store_trace_add_batch(struct store *st, struct lab_trace_rec *const *recs, size_t n);
/* Call cb for each event of txid in order (detail valid during the call). */
int store_trace_each(struct store *st, const char *txid,
		     void (*cb)(void *arg, const struct lab_event *e), void *arg);
/* Transactions, newest first, at most max; with their session row when it
 * is still stored (the key in upper-case hex names it). Reads through the
 * index on started, one session lookup per row listed. */
int store_trace_list(struct store *st, size_t max,
		     void (*cb)(void *arg, const struct lab_tx_summary *s), void *arg);
/* 1 and *out filled (with its session row, as above) if txid has a
 * summary, 0 none, -1 error. */
int store_trace_get(struct store *st, const char *txid, struct lab_tx_summary *out);
/* Delete events and summaries last updated before cutoff_us. Rows or -1. */
int store_trace_sweep(struct store *st, int64_t cutoff_us);
/* Sessions still open (state below CLOSED, not expired). */
long store_sessions_in_flight(struct store *st, int64_t now);

/* ------------------------------------------------------------------ */
/* console.c: the admin listener. */
/* Open the lab (lab_open) and start the admin listener (HTTPS, default
 * 127.0.0.1:8446, the certificate of the first ES9+ listener unless
 * admin.cert is set; token-protected JSON API under /api/, the console
 * pages, /metrics open to loopback). d must outlive the lab; main.c sets
 * d->lab to the result. NULL with err on failure; when admin.listen was
 * not given and the default address is taken, a warning and no listener
 * (a second server on the host still serves ES9+). */
struct lab *lab_start(struct smdp *d, const struct lab_config *lc, char *err, size_t errsz);
/* Stop the listener and close the lab. NULL is fine. */
void lab_stop(struct lab *lab);
/* Port the admin listener bound (-1 none). */
int lab_admin_port(const struct lab *lab);
/* The admin request handler (http_handler; ctx is the struct lab). */
void console_handle(void *ctx, const struct http_request *rq, struct http_response *rs);
/* The activation code as a QR code PNG (libqrencode, ECC level M, 8 pixels
 * per module, 4-module quiet zone). out replaced. 0 / -1. */
int console_qr_png(const char *text, struct buf *out);

/* Wait until every trace queued so far is in the database (console reads,
 * shutdown). NULL is fine. */
void lab_trace_flush(struct lab *lab);

/* lab.c, shared by console.c and lab_cli.c: the trace of txid as one JSON
 * object {transaction: summary, events: [...]}. NULL if unknown. */
struct cJSON *lab_trace_json(struct store *st, const char *txid);
/* The summary row as JSON. */
struct cJSON *lab_summary_json(const struct lab_tx_summary *s);

/* Internal state shared by lab.c and console.c. */
struct lab {
	struct smdp *d;
	struct lab_config cfg;
	struct lab_metrics *metrics;
	int64_t last_sweep;             /* unix seconds of the last retention sweep */
	pthread_mutex_t mu;             /* guards last_sweep and the trace queue */
	/* the trace writer (lab.c): calls queue their events; one thread
	 * writes whatever has queued up in one transaction */
	pthread_t writer;
	int writer_running, writer_stop, writer_busy, flush_wanted;
	pthread_cond_t queued, drained;
	struct lab_trace_rec *q_head, *q_tail;
	size_t q_len;
	/* the fault rules as last read, and the generation they were read at
	 * (lab_fault_gen): read again only when it moves */
	pthread_mutex_t rules_mu;
	struct fault_rule rules[LAB_MAX_FAULTS];
	int n_rules, rules_ok;
	int64_t rules_gen;
	/* console.c */
	struct http_server *admin;
	int admin_port;
	char token[LAB_MAX_TOKEN + 1];
};

#endif /* SMDP_LAB_H */
