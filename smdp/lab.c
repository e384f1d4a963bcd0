/* lab.c - the lab context (issue 7) and the hooks the ES9+ bindings call
 * around each function: read the request into the trace, apply the fault
 * rules, then record the response, the session's state change, the
 * checks, and count the metrics. Nothing here changes what a correct
 * request gets unless a fault rule says so. */
#include "lab.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LAB_SWEEP_EVERY 60          /* seconds between retention sweeps */

/* ------------------------------------------------------------------ */
/* configuration */

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

int lab_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LAB_MAX_NAME)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

void lab_config_defaults(struct lab_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->admin_addr, sizeof(c->admin_addr), "127.0.0.1");
	c->admin_port = 8446;
	snprintf(c->web_dir, sizeof(c->web_dir), "smdp/web");
	c->traces = 1;
	c->trace_keep = 7 * 24 * 3600;
}

static int copy_opt(char *dst, size_t dstsz, const char *key, const char *value, char *err,
		    size_t errsz)
{
	if (strlen(value) >= dstsz) {
		set_err(err, errsz, "%s: value longer than %zu characters", key, dstsz - 1);
		return -1;
	}
	str_copy(dst, dstsz, value);
	return 0;
}

int lab_config_set(struct lab_config *c, const char *key, const char *value, char *err,
		   size_t errsz)
{
	char *end;
	long v;

	if (!strcmp(key, "admin.listen")) {
		const char *colon = strrchr(value, ':');
		c->admin_explicit = 1;
		if (!strcmp(value, "off")) {
			c->admin_port = -1;
			return 0;
		}
		if (!colon || colon == value || (size_t)(colon - value) >= sizeof(c->admin_addr)) {
			set_err(err, errsz, "admin.listen: expected ADDR:PORT or off");
			return -1;
		}
		errno = 0;
		v = strtol(colon + 1, &end, 10);
		if (errno || *end || v < 0 || v > 65535) {
			set_err(err, errsz, "admin.listen: bad port '%s'", colon + 1);
			return -1;
		}
		snprintf(c->admin_addr, sizeof(c->admin_addr), "%.*s", (int)(colon - value), value);
		c->admin_port = (int)v;
		return 0;
	}
	if (!strcmp(key, "admin.cert"))
		return copy_opt(c->admin_cert, sizeof(c->admin_cert), key, value, err, errsz);
	if (!strcmp(key, "admin.key"))
		return copy_opt(c->admin_key, sizeof(c->admin_key), key, value, err, errsz);
	if (!strcmp(key, "admin.token")) {
		for (const char *p = value; *p; p++)
			if (!isgraph((unsigned char)*p)) {
				set_err(err, errsz, "admin.token: printable characters only");
				return -1;
			}
		return copy_opt(c->admin_token, sizeof(c->admin_token), key, value, err, errsz);
	}
	if (!strcmp(key, "admin.token-file"))
		return copy_opt(c->token_file, sizeof(c->token_file), key, value, err, errsz);
	if (!strcmp(key, "admin.web"))
		return copy_opt(c->web_dir, sizeof(c->web_dir), key, value, err, errsz);
	if (!strcmp(key, "trace")) {
		if (strcmp(value, "yes") && strcmp(value, "no")) {
			set_err(err, errsz, "trace: yes or no");
			return -1;
		}
		c->traces = !strcmp(value, "yes");
		return 0;
	}
	if (!strcmp(key, "trace.keep")) {
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || *end || v < 60 || v > 366L * 24 * 3600) {
			set_err(err, errsz, "trace.keep: seconds, 60 .. 31622400");
			return -1;
		}
		c->trace_keep = (int)v;
		return 0;
	}
	if (!strncmp(key, "fault.", 6)) {
		struct fault_rule r;
		struct lab_cfg_fault *f = NULL;

		if (!lab_name_ok(key + 6)) {
			set_err(err, errsz, "%s: a rule name is 1..%d of [A-Za-z0-9._-]", key,
				LAB_MAX_NAME);
			return -1;
		}
		memset(&r, 0, sizeof(r));
		if (fault_parse(value, &r, err, errsz))
			return -1;
		for (size_t i = 0; i < c->n_faults; i++)
			if (!strcmp(c->faults[i].name, key + 6))
				f = &c->faults[i];
		if (!f) {
			if (c->n_faults == LAB_MAX_CFG_FAULTS) {
				set_err(err, errsz, "more than %d fault rules in the configuration",
					LAB_MAX_CFG_FAULTS);
				return -1;
			}
			f = &c->faults[c->n_faults++];
		}
		str_copy(f->name, sizeof(f->name), key + 6);
		str_copy(f->spec, sizeof(f->spec), value);
		return 0;
	}
	return 1;
}

void lab_config_print(const struct lab_config *c, FILE *out)
{
	if (c->admin_port < 0)
		fprintf(out, "admin.listen = off\n");
	else
		fprintf(out, "admin.listen = %s:%d\n", c->admin_addr, c->admin_port);
	fprintf(out, "admin.cert = %s\nadmin.key = %s\n", c->admin_cert, c->admin_key);
	fprintf(out, "admin.token = %s\n", c->admin_token[0] ? "(set)" : "");
	fprintf(out, "admin.token-file = %s\nadmin.web = %s\n", c->token_file, c->web_dir);
	fprintf(out, "trace = %s\ntrace.keep = %d\n", c->traces ? "yes" : "no", c->trace_keep);
	for (size_t i = 0; i < c->n_faults; i++)
		fprintf(out, "fault.%s = %s\n", c->faults[i].name, c->faults[i].spec);
}

void lab_config_usage(FILE *out)
{
	fprintf(out,
		"  admin.listen ADDR:PORT|off admin API + console (HTTPS, default 127.0.0.1:8446)\n"
		"  admin.cert FILE, admin.key FILE  (default: those of the first ES9+ listener)\n"
		"  admin.token TOKEN          bearer token of the admin API (default: random,\n"
		"                             written to admin.token-file, default <db>.admin-token)\n"
		"  admin.web DIR              console files (default smdp/web)\n"
		"  trace yes|no               record session traces (default yes)\n"
		"  trace.keep SECONDS         how long traces are kept (default 604800)\n"
		"  fault.NAME RULE            a fault rule, e.g. \"function=getBoundProfilePackage\n"
		"                             attempt=1 action=error status=CC_WRONG\" (see lab.h)\n");
}

/* ------------------------------------------------------------------ */
/* context */

/* ------------------------------------------------------------------ */
/* the trace writer: group commit of the calls' events */

#define LAB_QUEUE_MAX 4096          /* calls waiting; producers wait beyond */
#define LAB_BATCH 32                /* calls the writer waits for ... */
#define LAB_BATCH_WAIT_MS 5         /* ... at most this long */

static void rec_free(struct lab_trace_rec *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_ev; i++) {
		cJSON_free(r->ev[i].detail);
		free(r->ev[i].body);
	}
	free(r->ev);
	free(r);
}

/* Write the queue as it stands in one transaction, again and again; while
 * one batch is written, the next one gathers. */
static void *writer_main(void *arg)
{
	struct lab *lab = arg;
	struct lab_trace_rec **v = NULL;
	size_t cap = 0;

	pthread_mutex_lock(&lab->mu);
	for (;;) {
		struct lab_trace_rec *head, *r;
		size_t n = 0;

		while (!lab->q_head && !lab->writer_stop)
			pthread_cond_wait(&lab->queued, &lab->mu);
		if (!lab->q_head)
			break;                  /* stopping, and nothing left */
		/* let a few more calls join the batch: one commit for all of them
		 * (a reader in this process asks for it at once, lab_trace_flush) */
		if (lab->q_len < LAB_BATCH && !lab->writer_stop && !lab->flush_wanted) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += LAB_BATCH_WAIT_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			while (lab->q_len < LAB_BATCH && !lab->writer_stop && !lab->flush_wanted &&
			       pthread_cond_timedwait(&lab->queued, &lab->mu, &until) == 0)
				;
		}
		lab->flush_wanted = 0;
		head = lab->q_head;
		lab->q_head = lab->q_tail = NULL;
		lab->q_len = 0;
		lab->writer_busy = 1;
		pthread_cond_broadcast(&lab->drained);   /* producers waiting for room */
		pthread_mutex_unlock(&lab->mu);

		for (r = head; r; r = r->next)
			n++;
		if (n > cap) {
			struct lab_trace_rec **t = realloc(v, n * sizeof(*v));
			if (t) {
				v = t;
				cap = n;
			}
		}
		if (n <= cap) {
			size_t i = 0;
			for (r = head; r; r = r->next)
				v[i++] = r;
			if (store_trace_add_batch(lab->d->store, v, n))
				log_warn("lab: could not store the traces of %zu calls", n);
		} else {
			log_warn("lab: out of memory: the traces of %zu calls are lost", n);
		}
		while (head) {
			r = head->next;
			rec_free(head);
			head = r;
		}

		pthread_mutex_lock(&lab->mu);
		lab->writer_busy = 0;
		pthread_cond_broadcast(&lab->drained);
	}
	pthread_mutex_unlock(&lab->mu);
	free(v);
	return NULL;
}

/* Hand the call's events to the writer (or write them here when there is
 * no writer thread). Takes the events whatever happens. */
static void trace_submit(struct lab *lab, struct lab_event *ev, size_t n,
			 const struct lab_tx_summary *sum)
{
	struct lab_trace_rec *r = calloc(1, sizeof(*r));
	struct lab_event *copy = n ? malloc(n * sizeof(*copy)) : NULL;

	if (!r || (n && !copy)) {
		log_warn("lab: out of memory: the trace of %s is lost", sum->txid);
		free(r);
		free(copy);
		for (size_t i = 0; i < n; i++) {
			cJSON_free(ev[i].detail);
			free(ev[i].body);
		}
		return;
	}
	if (n)
		memcpy(copy, ev, n * sizeof(*copy));
	r->ev = copy;
	r->n_ev = n;
	r->sum = *sum;
	pthread_mutex_lock(&lab->mu);
	if (!lab->writer_running) {
		pthread_mutex_unlock(&lab->mu);
		if (store_trace_add_batch(lab->d->store, &r, 1))
			log_warn("lab: could not store the trace of %s", sum->txid);
		rec_free(r);
		return;
	}
	while (lab->q_len >= LAB_QUEUE_MAX && !lab->writer_stop)
		pthread_cond_wait(&lab->drained, &lab->mu);
	if (lab->q_tail)
		lab->q_tail->next = r;
	else
		lab->q_head = r;
	lab->q_tail = r;
	lab->q_len++;
	/* the writer waits for the first call, or for a batch to fill */
	if (lab->q_len == 1 || lab->q_len >= LAB_BATCH)
		pthread_cond_signal(&lab->queued);
	pthread_mutex_unlock(&lab->mu);
}

void lab_trace_flush(struct lab *lab)
{
	if (!lab)
		return;
	pthread_mutex_lock(&lab->mu);
	if (lab->q_head) {
		lab->flush_wanted = 1;
		pthread_cond_signal(&lab->queued);
	}
	while (lab->writer_running && (lab->q_head || lab->writer_busy))
		pthread_cond_wait(&lab->drained, &lab->mu);
	pthread_mutex_unlock(&lab->mu);
}

static int writer_start(struct lab *lab)
{
	if (pthread_create(&lab->writer, NULL, writer_main, lab))
		return -1;
	lab->writer_running = 1;
	return 0;
}

/* Write what is queued, then end the thread. */
static void writer_stop(struct lab *lab)
{
	int running;

	pthread_mutex_lock(&lab->mu);
	running = lab->writer_running;
	lab->writer_stop = 1;
	pthread_cond_broadcast(&lab->queued);
	pthread_mutex_unlock(&lab->mu);
	if (running)
		pthread_join(lab->writer, NULL);
	lab->writer_running = 0;
}

struct lab *lab_open(struct smdp *d, const struct lab_config *lc, char *err, size_t errsz)
{
	struct lab *lab = calloc(1, sizeof(*lab)), *ret = NULL;
	int mu_ok = 0;

	if (!lab) {
		set_err(err, errsz, "out of memory");
		goto out;
	}
	lab->d = d;
	lab->cfg = *lc;
	lab->admin_port = -1;
	if (pthread_mutex_init(&lab->mu, NULL)) {
		set_err(err, errsz, "cannot create mutex");
		goto out;
	}
	if (pthread_cond_init(&lab->queued, NULL)) {
		pthread_mutex_destroy(&lab->mu);
		set_err(err, errsz, "cannot create condition variable");
		goto out;
	}
	if (pthread_cond_init(&lab->drained, NULL)) {
		pthread_cond_destroy(&lab->queued);
		pthread_mutex_destroy(&lab->mu);
		set_err(err, errsz, "cannot create condition variable");
		goto out;
	}
	if (pthread_mutex_init(&lab->rules_mu, NULL)) {
		pthread_cond_destroy(&lab->drained);
		pthread_cond_destroy(&lab->queued);
		pthread_mutex_destroy(&lab->mu);
		set_err(err, errsz, "cannot create mutex");
		goto out;
	}
	mu_ok = 1;
	if (!(lab->metrics = metrics_new())) {
		set_err(err, errsz, "out of memory");
		goto out;
	}
	/* the lab's tables live in the server's database (store.c) */
	if (!d->store) {
		set_err(err, errsz, "the lab needs the server's database open");
		goto out;
	}
	for (size_t i = 0; i < lc->n_faults; i++) {
		struct fault_rule r;

		memset(&r, 0, sizeof(r));
		if (fault_parse(lc->faults[i].spec, &r, err, errsz))
			goto out;
		str_copy(r.name, sizeof(r.name), lc->faults[i].name);
		snprintf(r.origin, sizeof(r.origin), "config");
		r.created = (int64_t)time(NULL);
		if (store_fault_put(lab->d->store, &r)) {
			set_err(err, errsz, "cannot store fault rule %s", r.name);
			goto out;
		}
		log_info("lab: fault rule %s from the configuration: %s", r.name, lc->faults[i].spec);
	}
	if (lab->cfg.traces && writer_start(lab)) {
		set_err(err, errsz, "cannot start the trace writer thread");
		goto out;
	}
	ret = lab;
	lab = NULL;
out:
	if (lab) {
		metrics_free(lab->metrics);
		if (mu_ok) {
			pthread_mutex_destroy(&lab->rules_mu);
			pthread_cond_destroy(&lab->drained);
			pthread_cond_destroy(&lab->queued);
			pthread_mutex_destroy(&lab->mu);
		}
		free(lab);
	}
	return ret;
}

void lab_close(struct lab *lab)
{
	if (!lab)
		return;
	writer_stop(lab);
	metrics_free(lab->metrics);
	pthread_mutex_destroy(&lab->rules_mu);
	pthread_cond_destroy(&lab->drained);
	pthread_cond_destroy(&lab->queued);
	pthread_mutex_destroy(&lab->mu);
	free(lab);
}

const struct lab_config *lab_cfg(const struct lab *lab)
{
	return &lab->cfg;
}

struct lab_metrics *lab_metrics(struct lab *lab)
{
	return lab ? lab->metrics : NULL;
}

int lab_sweep(struct lab *lab, int64_t now)
{
	int n;

	if (!lab)
		return 0;
	n = store_trace_sweep(lab->d->store, (now - lab->cfg.trace_keep) * 1000000);
	pthread_mutex_lock(&lab->mu);
	lab->last_sweep = now;
	pthread_mutex_unlock(&lab->mu);
	if (n > 0)
		log_info("lab: %d trace rows older than %d s deleted", n, lab->cfg.trace_keep);
	return n;
}

/* ------------------------------------------------------------------ */
/* one observed call */

#define LAB_FIRST_EVENTS 8   /* a call has about 4: request, response, state, check */

struct lab_call {
	struct lab *lab;
	struct smdp *d;
	enum es9_fn fn;
	enum lab_binding b;
	struct timespec t0;             /* CLOCK_MONOTONIC at arrival */
	int64_t start_us;               /* wall clock at arrival */
	char txid[LAB_TXID_TEXT];       /* upper-case hex, "" unknown */
	uint8_t txid_bin[16];
	size_t txid_len;
	char eid[SMDP_EID_LEN + 1];
	char matching_id[SMDP_MAX_MATCHING_ID + 1];
	int has_matching_id;
	char profile[SMDP_MAX_ID + 1];
	int had_session, state_before, close_before;
	/* the call's events: in ev_first, then (rare: many fault events) in
	 * a malloc'd array of up to LAB_MAX_EVENTS; the first few inline keep
	 * the struct small, as it is zeroed for every call */
	struct lab_event *ev;
	size_t n_ev, cap_ev;
	struct lab_event ev_first[LAB_FIRST_EVENTS];
	int faults;                     /* fault events recorded */
	int answered;                   /* a rule answered in place of the function */
	int drop, drop_after, expire_after;
	struct fault_rule act;          /* the acting rule, when any */
	int has_act;
	struct bpp_fault bpp;
	int ids_read;                   /* EID/matchingId were read from the request */
	int has_result;                 /* lab_call_result was told the status */
	enum rsp_status result;
	cJSON *gbpp_answer;             /* lab_call_bpp: the success answer, readable */
	char told_txid[LAB_TXID_TEXT];  /* lab_call_txid: the answer's transactionId */
	struct es9_after after;         /* lab_call_after: the session as written */
};

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Add an event whose detail is the JSON text (malloc'd; consumed), with a
 * copy of the body p[0..n) when n > 0 (request/response events: stored as
 * received, decoded into readable JSON only when somebody reads the trace). */
static void add_event_text(struct lab_call *c, const char *kind, char *text, const uint8_t *p,
			   size_t n)
{
	struct lab_event *e;
	uint8_t *copy = NULL;

	if (!text)
		return;
	if (c->n_ev == c->cap_ev && c->cap_ev < LAB_MAX_EVENTS) {
		size_t cap = 2 * c->cap_ev < LAB_MAX_EVENTS ? 2 * c->cap_ev : LAB_MAX_EVENTS;
		struct lab_event *v = malloc(cap * sizeof(*v));
		if (v) {
			memcpy(v, c->ev, c->n_ev * sizeof(*v));
			if (c->ev != c->ev_first)
				free(c->ev);
			c->ev = v;
			c->cap_ev = cap;
		}
	}
	if (c->n_ev == c->cap_ev || (n && !(copy = malloc(n)))) {
		free(text);
		return;
	}
	if (n)
		memcpy(copy, p, n);
	e = &c->ev[c->n_ev++];
	e->time_us = now_us();
	str_copy(e->kind, sizeof(e->kind), kind);
	str_copy(e->function, sizeof(e->function), fault_fn_name(c->fn));
	e->detail = text;
	e->body = copy;
	e->body_len = n;
}

/* The same with the detail as a cJSON object o (consumed). */
static void add_event_body(struct lab_call *c, const char *kind, cJSON *o, const uint8_t *p,
			   size_t n)
{
	char *text;

	if (!o)
		return;
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	add_event_text(c, kind, text, p, n);
}

/* printf into a new string: the details of the common events, written
 * directly (building and printing cJSON objects for them was ~3% of the
 * server's CPU). NULL if out of memory. */
static char *textf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *textf(const char *fmt, ...)
{
	va_list ap;
	char first[512], *t;
	int n;

	/* formatted once when it fits the stack buffer (the common events
	 * do), twice when it does not */
	va_start(ap, fmt);
	n = vsnprintf(first, sizeof(first), fmt, ap);
	va_end(ap);
	if (n < 0 || !(t = malloc((size_t)n + 1)))
		return NULL;
	if ((size_t)n < sizeof(first)) {
		memcpy(t, first, (size_t)n + 1);
		return t;
	}
	va_start(ap, fmt);
	vsnprintf(t, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return t;
}

/* s as the contents of a JSON string (quotes, backslashes and control
 * characters escaped; other bytes as they are, as cJSON prints them),
 * cut to fit out. */
static void json_text(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	for (; s && *s && o + 7 < outsz; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += (size_t)snprintf(out + o, outsz - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
}

static void add_event(struct lab_call *c, const char *kind, cJSON *o)
{
	add_event_body(c, kind, o, NULL, 0);
}

static void add_fault_event(struct lab_call *c, const struct fault_rule *r, const char *what)
{
	cJSON *o = cJSON_CreateObject();
	char spec[LAB_MAX_SPEC];

	if (!o)
		return;
	fault_format(r, spec, sizeof(spec));
	cJSON_AddNumberToObject(o, "rule", (double)r->id);
	cJSON_AddStringToObject(o, "name", r->name);
	cJSON_AddStringToObject(o, "action", fault_action_name(r->action));
	cJSON_AddStringToObject(o, "spec", spec);
	cJSON_AddNumberToObject(o, "attempt", (double)r->seen);
	cJSON_AddStringToObject(o, "what", what);
	add_event(c, "fault", o);
	c->faults++;
}

/* transactionId as the key of the trace: the hex text, upper case. */
static void set_txid(struct lab_call *c, const char *hex)
{
	uint8_t b[16];
	int n;

	if (!hex || c->txid[0])
		return;
	n = hex_decode(hex, b, sizeof(b));
	if (n < 1)
		return;
	memcpy(c->txid_bin, b, (size_t)n);
	c->txid_len = (size_t)n;
	hex_encode(b, (size_t)n, c->txid, sizeof(c->txid));
}

/* What the request says about the session (trace_request_keys); the EID
 * and matchingId of authenticateClient only with ids. json: the binding's
 * parse of body, or NULL to parse it here. */
static void request_keys(struct lab_call *c, const uint8_t *body, size_t n, const cJSON *json,
			 int ids)
{
	struct trace_keys k;

	if (json)
		trace_request_keys_json(c->fn, json, ids, &k);
	else
		trace_request_keys(c->fn, c->b, body, n, ids, &k);
	set_txid(c, k.txid[0] ? k.txid : NULL);
	if (k.eid[0] && !c->eid[0])
		str_copy(c->eid, sizeof(c->eid), k.eid);
	if (k.has_matching_id && !c->has_matching_id) {
		str_copy(c->matching_id, sizeof(c->matching_id), k.matching_id);
		c->has_matching_id = 1;
	}
	c->ids_read |= ids;
}

/* 1 when an enabled rule for this function looks at the EID or the
 * matchingId: only then are they read from the request before the call. */
static int rules_need_ids(const struct fault_rule *r, int n, int fn)
{
	for (int i = 0; i < n; i++)
		if (r[i].enabled && (r[i].fn < 0 || r[i].fn == fn) &&
		    (r[i].eid[0] || r[i].has_matching_id))
			return 1;
	return 0;
}

/* The fault rules into out[LAB_MAX_FAULTS]: the copy in memory when gen
 * (have_gen: it could be read) is the generation it was read at, else read
 * from the store again. Count (0 when they cannot be read). */
static int rules_get(struct lab *lab, int have_gen, int64_t gen, struct fault_rule *out)
{
	int n;

	pthread_mutex_lock(&lab->rules_mu);
	if (!have_gen || !lab->rules_ok || gen != lab->rules_gen) {
		n = store_fault_list(lab->d->store, lab->rules, LAB_MAX_FAULTS);
		lab->n_rules = n < 0 ? 0 : n;
		/* read after gen: at least as new as gen says, perhaps newer, in
		 * which case the next call reads them again */
		lab->rules_ok = have_gen && n >= 0;
		lab->rules_gen = gen;
	}
	n = lab->n_rules;
	if (n)
		memcpy(out, lab->rules, (size_t)n * sizeof(*out));
	pthread_mutex_unlock(&lab->rules_mu);
	return n;
}

/* 1 when the rules in memory are current and there are none (most of the
 * time: then there is nothing to copy). */
static int rules_none(struct lab *lab, int have_gen, int64_t gen)
{
	int none;

	pthread_mutex_lock(&lab->rules_mu);
	none = have_gen && lab->rules_ok && gen == lab->rules_gen && !lab->n_rules;
	pthread_mutex_unlock(&lab->rules_mu);
	return none;
}

/* Where the call's session stands now. 1 found, 0 not. */
static int load_session(struct lab_call *c, struct session_brief *s)
{
	memset(s, 0, sizeof(*s));
	if (!c->txid_len || !c->d->store)
		return 0;
	return store_session_brief(c->d->store, c->txid_bin, c->txid_len, s) == 1;
}

/* Make the call's session expire now (the expiry check of es9p.c then
 * closes it and answers 8.10.1/3.9, as for a real timeout). 0 / -1. */
static int expire_session(struct lab_call *c)
{
	struct session s;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	if (c->txid_len && c->d->store &&
	    store_session_get(c->d->store, c->txid_bin, c->txid_len, &s) == 1) {
		s.expires = (int64_t)time(NULL) - 1;
		rc = store_session_update(c->d->store, &s);
	}
	session_free(&s);
	return rc;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Evaluate the rules for this call: count attempts, apply delays, pick the
 * acting rule. */
static void eval_faults(struct lab_call *c, struct fault_rule *rules, int n)
{
	long delay = 0;

	for (int i = 0; i < n; i++) {
		struct fault_rule *r = &rules[i];
		int64_t seen;

		if (!fault_matches(r, c->fn, c->eid[0] ? c->eid : NULL, c->matching_id,
				   c->has_matching_id))
			continue;
		seen = store_fault_seen(c->lab->d->store, r->id);
		if (seen < 0 || (r->attempt && seen != r->attempt))
			continue;
		r->seen = seen;
		if (r->action == FA_DELAY) {
			long ms = r->ms;
			if (delay + ms > LAB_MAX_DELAY_MS)
				ms = LAB_MAX_DELAY_MS - delay;
			delay += ms;
			add_fault_event(c, r, "delayed the call");
		} else if (c->has_act) {
			add_fault_event(c, r, "matched, but an earlier rule acts on this call");
			continue;
		} else {
			c->act = *r;
			c->has_act = 1;
		}
		store_fault_fired(c->lab->d->store, r->id);
		metrics_fault(c->lab->metrics, r->action);
		log_info("lab: fault %s (%s) on %s%s%s", r->name, fault_action_name(r->action),
			 fault_fn_name(c->fn), c->txid[0] ? " of " : "", c->txid);
	}
	if (delay > 0)
		sleep_ms(delay);
	if (!c->has_act)
		return;
	switch (c->act.action) {
	case FA_ERROR:
		c->answered = 1;
		add_fault_event(c, &c->act, "answered with the rule's error; the function did not run");
		break;
	case FA_DROP:
		c->answered = c->drop = 1;
		add_fault_event(c, &c->act, "closed the connection without answering; the function "
				"did not run");
		break;
	case FA_DROP_AFTER:
		c->drop_after = 1;
		add_fault_event(c, &c->act, "the function runs, its answer is discarded");
		break;
	case FA_EXPIRE:
		if (c->fn == ES9_INITIATE_AUTH) {
			c->expire_after = 1;
			add_fault_event(c, &c->act, "the new session expires as soon as it is created");
		} else if (expire_session(c) == 0) {
			add_fault_event(c, &c->act, "session expired before the function ran");
		} else {
			add_fault_event(c, &c->act, "not applied: no stored session for this "
					"transactionId");
		}
		break;
	default:
		c->bpp.kind = fault_bpp_kind(c->act.action);
		c->bpp.segment = c->act.segment;
		break;
	}
}

struct lab_call *lab_call_begin(struct lab *lab, struct smdp *d, enum es9_fn fn,
				enum lab_binding b, const struct http_request *rq,
				const cJSON *json)
{
	struct lab_call *c;
	struct session_brief s;
	struct fault_rule *rules = NULL;
	int n_rules, peek;
	int64_t gen = 0;
	cJSON *ev;

	if (!lab || (int)fn < 0 || fn >= ES9_FN_COUNT)
		return NULL;
	if (!(c = calloc(1, sizeof(*c))))
		return NULL;
	c->ev = c->ev_first;
	c->cap_ev = LAB_FIRST_EVENTS;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	c->start_us = now_us();
	c->lab = lab;
	c->d = d;
	c->fn = fn;
	c->b = b;
	/* the transactionId, then one read: the rules' generation and the
	 * session; the EID and matchingId only when a rule looks at them */
	if (b != LAB_JSON)
		json = NULL;
	request_keys(c, rq->body, rq->body_len, json, 0);
	peek = d->store ? store_lab_peek(d->store, c->txid_bin, c->txid_len, &gen, &s) : -1;
	if (peek < 0)
		memset(&s, 0, sizeof(s));
	n_rules = 0;
	if (d->store && !rules_none(lab, peek >= 0, gen) &&
	    (rules = malloc(LAB_MAX_FAULTS * sizeof(*rules))))
		n_rules = rules_get(lab, peek >= 0, gen, rules);
	if (rules_need_ids(rules, n_rules, fn))
		request_keys(c, rq->body, rq->body_len, json, 1);
	if ((c->had_session = peek == 1)) {
		c->state_before = s.state;
		c->close_before = s.close_reason;
		if (!c->eid[0])
			str_copy(c->eid, sizeof(c->eid), s.eid);
		if (!c->has_matching_id && (s.matching_id[0] || s.state >= SESSION_CLIENT_AUTHED)) {
			/* an empty stored matchingId after authenticateClient: absent or "" */
			str_copy(c->matching_id, sizeof(c->matching_id), s.matching_id);
			c->has_matching_id = s.matching_id[0] != '\0';
		}
		str_copy(c->profile, sizeof(c->profile), s.profile_id);
	}
	if (lab->cfg.traces && fn != ES9_GET_BPP) {
		char method[64], path[256];
		json_text(rq->method, method, sizeof(method));
		json_text(rq->path, path, sizeof(path));
		add_event_text(c, "request", textf("{\"binding\":\"%s\",\"method\":\"%s\","
						   "\"path\":\"%s\",\"bytes\":%zu}",
						   b == LAB_JSON ? "json" : "asn1", method, path,
						   rq->body_len), rq->body, rq->body_len);
		if (c->n_ev)
			c->ev[c->n_ev - 1].time_us = c->start_us;   /* when it arrived */
	} else if (lab->cfg.traces && (ev = cJSON_CreateObject())) {
		cJSON_AddStringToObject(ev, "binding", b == LAB_JSON ? "json" : "asn1");
		cJSON_AddStringToObject(ev, "method", rq->method ? rq->method : "");
		cJSON_AddStringToObject(ev, "path", rq->path ? rq->path : "");
		cJSON_AddNumberToObject(ev, "bytes", (double)rq->body_len);
		/* getBoundProfilePackage: decoded now, the raw PrepareDownloadResponse
		 * holds hashCc, which must never be stored (trace_object leaves it out) */
		cJSON *body = trace_request(fn, b, rq->body, rq->body_len);
		if (body)
			cJSON_AddItemToObject(ev, "body", body);
		add_event(c, "request", ev);
		if (c->n_ev)
			c->ev[c->n_ev - 1].time_us = c->start_us;   /* when it arrived */
	}
	eval_faults(c, rules, n_rules);
	free(rules);
	return c;
}

int lab_call_answer(struct lab_call *c, struct http_response *rs)
{
	if (!c || !c->answered)
		return 0;
	if (c->drop) {
		buf_free(&rs->body);
		rs->status = 500;
		rs->drop = 1;
		return 1;
	}
	if (fault_answer(&c->act, c->fn, c->b, rs)) {
		/* cannot build the error: fall back to dropping, still a fault */
		rs->status = 500;
		rs->drop = 1;
	}
	return 1;
}

void lab_call_result(struct lab_call *c, enum rsp_status st)
{
	if (!c)
		return;
	c->has_result = 1;
	c->result = st;
}

void lab_call_bpp(struct lab_call *c, const uint8_t *txid, size_t txid_len, const uint8_t *bpp,
		  size_t n)
{
	if (!c || !c->lab->cfg.traces || c->gbpp_answer)
		return;
	c->gbpp_answer = trace_gbpp_answer(txid, txid_len, bpp, n);
}

void lab_call_txid(struct lab_call *c, const uint8_t *txid, size_t txid_len)
{
	char hex[LAB_TXID_TEXT];

	if (!c || c->fn != ES9_INITIATE_AUTH || !txid_len || 2 * txid_len >= sizeof(hex))
		return;
	hex_encode(txid, txid_len, hex, sizeof(hex));
	str_copy(c->told_txid, sizeof(c->told_txid), hex);
}

struct es9_after *lab_call_after(struct lab_call *c)
{
	return c ? &c->after : NULL;
}

struct bpp_fault *lab_call_bpp_fault(struct lab_call *c)
{
	return (c && c->bpp.kind != BPP_FAULT_NONE) ? &c->bpp : NULL;
}

/* Outcome text of the summary. */
static void outcome_text(const struct lab_call *c, int st, const char *subject, const char *reason,
			 char *out, size_t outsz)
{
	if (c->drop || c->drop_after)
		snprintf(out, outsz, "dropped (fault %.40s)", c->act.name);
	else if (st == RSP_OK)
		snprintf(out, outsz, "ok");
	else if (st < 0)
		snprintf(out, outsz, "no ES9+ answer");
	else
		snprintf(out, outsz, "failed %s/%s%s", subject, reason,
			 c->answered ? " (injected)" : "");
}

/* One stored row per call, not one per event (issue 8: each row was an
 * insert with its index entry): the events become a single "call" event
 * whose detail is the JSON array [{"t":time_us,"k":kind,"b":body bytes,
 * "d":detail}, ...] and whose body is the events' bodies one after the
 * other. unpack_call turns it back into the events when the trace is read.
 * Left as they are when the row would be too big, or memory is short. */
static void pack_events(struct lab_call *c)
{
	size_t text = 3, body = 0, off = 0;
	char *d, *p;
	uint8_t *b = NULL;

	if (c->n_ev < 2)
		return;
	for (size_t i = 0; i < c->n_ev; i++) {
		text += strlen(c->ev[i].detail) + sizeof(c->ev[i].kind) + 64;
		body += c->ev[i].body_len;
	}
	if (text > LAB_MAX_DETAIL || body > LAB_MAX_DETAIL || !(d = malloc(text)))
		return;
	if (body && !(b = malloc(body))) {
		free(d);
		return;
	}
	p = d;
	*p++ = '[';
	for (size_t i = 0; i < c->n_ev; i++) {
		struct lab_event *e = &c->ev[i];
		size_t dl = strlen(e->detail);

		/* kind is one of our own words: no escaping needed */
		p += snprintf(p, text - (size_t)(p - d), "%s{\"t\":%lld,\"k\":\"%s\",\"b\":%zu,\"d\":",
			      i ? "," : "", (long long)e->time_us, e->kind, e->body_len);
		memcpy(p, e->detail, dl);
		p += dl;
		*p++ = '}';
		if (e->body_len) {
			memcpy(b + off, e->body, e->body_len);
			off += e->body_len;
		}
		if (i) {
			cJSON_free(e->detail);
			free(e->body);
		}
	}
	*p++ = ']';
	*p = '\0';
	cJSON_free(c->ev[0].detail);
	free(c->ev[0].body);
	c->ev[0].detail = d;
	c->ev[0].body = b;
	c->ev[0].body_len = body;
	snprintf(c->ev[0].kind, sizeof(c->ev[0].kind), "call");
	c->n_ev = 1;
}

void lab_call_end(struct lab_call *c, struct http_response *rs)
{
	struct timespec t1;
	struct session_brief s;
	struct lab_tx_summary sum;
	char subject[16], reason[16];
	double secs;
	int st, have_after = 0;

	if (!c)
		return;
	memset(&s, 0, sizeof(s));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - c->t0.tv_sec) + (double)(t1.tv_nsec - c->t0.tv_nsec) / 1e9;
	if (c->has_result && !c->answered && !rs->drop && rs->status == 200 && c->b == LAB_JSON) {
		/* the binding said what it answered: no need to read it back */
		const struct rsp_status_info *in = rsp_status_info(c->result);
		st = (int)c->result;
		subject[0] = reason[0] = '\0';
		if (c->result != RSP_OK) {
			str_copy(subject, sizeof(subject), in->subject);
			str_copy(reason, sizeof(reason), in->reason);
		}
	} else {
		st = rs->drop ? -1 : trace_status(c->fn, c->b, rs->status, rs->body.p,
						   rs->body.len, subject, reason);
	}
	if (st < 0)
		subject[0] = reason[0] = '\0';
	/* initiateAuthentication: the transaction starts with the answer */
	if (c->fn == ES9_INITIATE_AUTH && !rs->drop) {
		char txid[LAB_TXID_TEXT];
		if (c->told_txid[0] && c->has_result && c->result == RSP_OK && !c->answered &&
		    rs->status == 200 && c->b == LAB_JSON)
			str_copy(txid, sizeof(txid), c->told_txid);   /* the success sent */
		else
			trace_response_txid(c->b, rs->status, rs->body.p, rs->body.len, txid);
		set_txid(c, txid[0] ? txid : NULL);
	}

	if (c->expire_after && expire_session(c))
		add_fault_event(c, &c->act, "not applied: initiateAuthentication created no session");

	/* the response, its body kept as sent (or as it would have been);
	 * durationMs with microsecond precision (cJSON's printing of a double,
	 * two sprintf and an sscanf, was ~2% of the server's CPU) */
	if (c->lab->cfg.traces) {
		int kept = !rs->drop;
		char head[160];
		char *text;
		long long us = (long long)(secs * 1e6 + 0.5);   /* secs >= 0 */

		snprintf(head, sizeof(head), "%s\"http\":%d,\"durationMs\":%lld.%03lld",
			 c->drop || c->drop_after ? "\"delivered\":\"no: connection closed without "
			 "an answer\"," : "", rs->drop || c->drop_after ? 0 : rs->status,
			 us / 1000, us % 1000);
		if (kept && c->fn == ES9_GET_BPP) {
			/* the BPP is summarised now, its contents never stored; when
			 * the binding handed over the success it sent, from that */
			cJSON *body;
			char *bt;
			if (c->gbpp_answer && c->has_result && c->result == RSP_OK &&
			    !c->answered && rs->status == 200 && c->b == LAB_JSON) {
				body = c->gbpp_answer;
				c->gbpp_answer = NULL;
			} else {
				body = trace_response(c->fn, c->b, rs->status, rs->body.p,
						      rs->body.len);
			}
			bt = body ? cJSON_PrintUnformatted(body) : NULL;
			cJSON_Delete(body);
			text = bt ? textf("{%s,\"%s\":%s}", head,
					  c->drop_after ? "discardedBody" : "body", bt) :
				    textf("{%s}", head);
			cJSON_free(bt);
			kept = 0;
		} else if (kept) {
			/* for the decoding when the trace is read (decode_body) */
			text = textf("{%s,\"binding\":\"%s\",\"status\":%d,\"bodyAs\":\"%s\"}", head,
				     c->b == LAB_JSON ? "json" : "asn1", rs->status,
				     c->drop_after ? "discardedBody" : "body");
		} else {
			text = textf("{%s}", head);
		}
		add_event_text(c, "response", text, kept ? rs->body.p : NULL,
			       kept ? rs->body.len : 0);
	}
	if (c->drop_after) {
		rs->drop = 1;
		buf_free(&rs->body);
	}

	/* the BPP corruption, as bpp.c reports it */
	if (c->bpp.kind != BPP_FAULT_NONE) {
		if (c->bpp.applied) {
			add_fault_event(c, &c->act, c->bpp.detail);
		} else {
			char why[160];
			snprintf(why, sizeof(why), "not applied%s%s", c->bpp.detail[0] ? ": " : "",
				 c->bpp.detail[0] ? c->bpp.detail : " (no BPP built: es9p.c does not "
				 "pass es9_gbpp_req.fault to bpp_build, or the call failed first)");
			add_fault_event(c, &c->act, why);
			log_warn("lab: fault %s on getBoundProfilePackage was not applied",
				 c->act.name);
		}
	}

	/* the session's state change: as the function wrote it, else read back */
	if (c->after.set)
		s = c->after.s;
	if ((have_after = c->after.set || load_session(c, &s))) {
		if (!c->eid[0])
			str_copy(c->eid, sizeof(c->eid), s.eid);
		if (!c->matching_id[0])
			str_copy(c->matching_id, sizeof(c->matching_id), s.matching_id);
		str_copy(c->profile, sizeof(c->profile), s.profile_id);
		/* a corrupted BPP must never be offered again as a binding */
		if (c->bpp.applied && s.eid[0] && s.profile_id[0])
			store_binding_delete(c->d->store, s.eid, s.profile_id);
	}
	if (have_after && (!c->had_session || (int)s.state != c->state_before ||
			   s.close_reason != c->close_before)) {
		/* the names are our own words: nothing to escape */
		if (c->lab->cfg.traces && s.state == SESSION_CLOSED)
			add_event_text(c, "state", textf("{\"from\":\"%s\",\"to\":\"%s\","
							 "\"closeReason\":\"%s\"}",
							 c->had_session ?
							 trace_state_name(c->state_before) : "none",
							 trace_state_name(s.state),
							 trace_close_name(s.close_reason)), NULL, 0);
		else if (c->lab->cfg.traces)
			add_event_text(c, "state", textf("{\"from\":\"%s\",\"to\":\"%s\"}",
							 c->had_session ?
							 trace_state_name(c->state_before) : "none",
							 trace_state_name(s.state)), NULL, 0);
		if (s.state == SESSION_CLOSED && s.close_reason != CLOSE_NONE)
			metrics_download(c->lab->metrics, trace_close_name(s.close_reason));
	}

	/* the checks the function made: they follow from the function and its
	 * status (trace_checks), so the status is stored and the list is
	 * written out when the trace is read (decode_body) */
	if (c->lab->cfg.traces) {
		if (c->answered)
			add_event_text(c, "check", textf("{\"checks\":[],\"note\":\"none: the answer "
							 "was injected by a fault rule\"}"), NULL, 0);
		else if (st < 0 && !c->drop_after)
			add_event_text(c, "check", textf("{\"checks\":[],\"note\":\"none: the call "
							 "got no ES9+ answer\"}"), NULL, 0);
		else
			add_event_text(c, "check", textf("{\"checks\":[],\"checksOf\":%d}",
							 c->drop_after ? RSP_OK : st), NULL, 0);
	}
	metrics_call(c->lab->metrics, c->fn, secs, subject, reason);

	/* a call that failed before the session learnt the EID: read it from
	 * the request kept in the trace, for the summary */
	if (c->lab->cfg.traces && c->fn == ES9_AUTH_CLIENT && !c->ids_read &&
	    (!c->eid[0] || !c->matching_id[0])) {
		for (size_t i = 0; i < c->n_ev; i++)
			if (!strcmp(c->ev[i].kind, "request")) {
				request_keys(c, c->ev[i].body, c->ev[i].body_len, NULL, 1);
				break;
			}
	}

	/* into the store */
	memset(&sum, 0, sizeof(sum));
	if (c->txid[0])
		str_copy(sum.txid, sizeof(sum.txid), c->txid);
	else
		snprintf(sum.txid, sizeof(sum.txid), "none-%lld", (long long)c->start_us);
	for (size_t i = 0; i < c->n_ev; i++)
		str_copy(c->ev[i].txid, sizeof(c->ev[i].txid), sum.txid);
	sum.started_us = c->start_us;
	sum.updated_us = now_us();
	str_copy(sum.eid, sizeof(sum.eid), c->eid);
	str_copy(sum.matching_id, sizeof(sum.matching_id), c->matching_id);
	str_copy(sum.profile, sizeof(sum.profile), c->profile);
	str_copy(sum.last_function, sizeof(sum.last_function), fault_fn_name(c->fn));
	outcome_text(c, st, subject, reason, sum.outcome, sizeof(sum.outcome));
	if (have_after && s.state == SESSION_CLOSED && st == RSP_OK)
		str_copy(sum.outcome, sizeof(sum.outcome), trace_close_name(s.close_reason));
	sum.calls = 1;
	sum.faults = c->faults;
	if (c->lab->cfg.traces) {
		pack_events(c);
		trace_submit(c->lab, c->ev, c->n_ev, &sum);   /* takes the events */
		c->n_ev = 0;
	}
	for (size_t i = 0; i < c->n_ev; i++) {
		cJSON_free(c->ev[i].detail);
		free(c->ev[i].body);
	}
	{
		int64_t now = (int64_t)time(NULL), last;
		pthread_mutex_lock(&c->lab->mu);
		last = c->lab->last_sweep;
		if (now - last >= LAB_SWEEP_EVERY)
			c->lab->last_sweep = now;   /* one thread sweeps */
		pthread_mutex_unlock(&c->lab->mu);
		if (now - last >= LAB_SWEEP_EVERY)
			lab_sweep(c->lab, now);
	}
	cJSON_Delete(c->gbpp_answer);
	if (c->ev != c->ev_first)
		free(c->ev);
	free(c);
}

/* ------------------------------------------------------------------ */
/* traces as JSON (console, CLI) */

static void iso_us(int64_t us, char *out, size_t outsz)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	char s[24];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outsz, "%.20s.%06lldZ", s, (long long)(us % 1000000));
}

cJSON *lab_summary_json(const struct lab_tx_summary *s)
{
	cJSON *o = cJSON_CreateObject();
	char t[40];

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "transactionId", s->txid);
	iso_us(s->started_us, t, sizeof(t));
	cJSON_AddStringToObject(o, "started", t);
	iso_us(s->updated_us, t, sizeof(t));
	cJSON_AddStringToObject(o, "updated", t);
	cJSON_AddStringToObject(o, "eid", s->eid);
	cJSON_AddStringToObject(o, "matchingId", s->matching_id);
	cJSON_AddStringToObject(o, "profile", s->profile);
	cJSON_AddStringToObject(o, "lastFunction", s->last_function);
	cJSON_AddStringToObject(o, "outcome", s->outcome);
	cJSON_AddNumberToObject(o, "calls", s->calls);
	cJSON_AddNumberToObject(o, "faults", s->faults);
	if (s->has_session) {
		cJSON_AddStringToObject(o, "state", trace_state_name(s->state));
		if (s->state == SESSION_CLOSED)
			cJSON_AddStringToObject(o, "closeReason", trace_close_name(s->close_reason));
		cJSON_AddBoolToObject(o, "live", s->state < SESSION_CLOSED &&
				      s->expires >= (int64_t)time(NULL));
	} else {
		cJSON_AddStringToObject(o, "state", "gone");
		cJSON_AddBoolToObject(o, "live", 0);
	}
	return o;
}

struct events_arg {
	cJSON *arr;
	int64_t t0;
};

/* A request or response event is stored with its body as it went over
 * the wire; here, when the trace is read, the body becomes the readable
 * "body" (or "discardedBody") member. Events stored decoded already (older
 * databases) are left as they are. */
static void decode_body(const struct lab_event *e, cJSON *d)
{
	const cJSON *bind = cJSON_GetObjectItemCaseSensitive(d, "binding");
	const cJSON *as = cJSON_GetObjectItemCaseSensitive(d, "bodyAs");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(d, "status");
	enum lab_binding b = LAB_JSON;
	int fn = -1;
	cJSON *body = NULL;

	for (int i = 0; i < ES9_FN_COUNT; i++)
		if (!strcmp(e->function, fault_fn_name(i)))
			fn = i;
	if (cJSON_IsString(bind) && !strcmp(bind->valuestring, "asn1"))
		b = LAB_ASN1;
	if (!strcmp(e->kind, "check")) {
		const cJSON *of = cJSON_GetObjectItemCaseSensitive(d, "checksOf");
		cJSON *arr = cJSON_GetObjectItemCaseSensitive(d, "checks");

		if (cJSON_IsNumber(of) && cJSON_IsArray(arr) && of->valueint >= 0 &&
		    of->valueint < RSP_STATUS_COUNT + 1)
			trace_checks(fn, (enum rsp_status)of->valueint, arr);
		cJSON_DeleteItemFromObjectCaseSensitive(d, "checksOf");
	} else if (!strcmp(e->kind, "request") && !cJSON_GetObjectItemCaseSensitive(d, "body")) {
		if ((body = trace_request(fn, b, e->body, e->body_len)))
			cJSON_AddItemToObject(d, "body", body);
	} else if (!strcmp(e->kind, "response") && cJSON_IsString(as) && cJSON_IsNumber(st)) {
		if ((body = trace_response(fn, b, st->valueint, e->body, e->body_len)))
			cJSON_AddItemToObject(d, as->valuestring, body);
		/* kept for the decoding only: the readable event is as before */
		cJSON_DeleteItemFromObjectCaseSensitive(d, "bodyAs");
		cJSON_DeleteItemFromObjectCaseSensitive(d, "status");
		cJSON_DeleteItemFromObjectCaseSensitive(d, "binding");
	}
}

/* One readable event from e and its parsed detail d (consumed). */
static void event_add(struct events_arg *a, const struct lab_event *e, cJSON *d)
{
	cJSON *o = cJSON_CreateObject(), *it;
	char t[40];

	if (!o || !d) {
		cJSON_Delete(d);
		cJSON_Delete(o);
		return;
	}
	if (!a->t0)
		a->t0 = e->time_us;
	iso_us(e->time_us, t, sizeof(t));
	cJSON_AddStringToObject(o, "time", t);
	cJSON_AddNumberToObject(o, "ms", (double)(e->time_us - a->t0) / 1000.0);
	cJSON_AddStringToObject(o, "kind", e->kind);
	cJSON_AddStringToObject(o, "function", e->function);
	decode_body(e, d);
	while ((it = d->child)) {
		cJSON_DetachItemViaPointer(d, it);
		cJSON_AddItemToObject(o, it->string, it);
	}
	cJSON_Delete(d);
	cJSON_AddItemToArray(a->arr, o);
}

/* The events of a "call" row (pack_events): arr is its parsed detail, the
 * bodies follow one another in call->body. A malformed entry ends it. */
static void unpack_call(struct events_arg *a, const struct lab_event *call, cJSON *arr)
{
	size_t off = 0;
	cJSON *it;

	cJSON_ArrayForEach(it, arr) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "t");
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "k");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(it, "b");
		cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "d");
		struct lab_event e = *call;

		if (!cJSON_IsNumber(t) || !cJSON_IsString(k) || !cJSON_IsNumber(b) ||
		    !cJSON_IsObject(d) || b->valuedouble < 0 ||
		    b->valuedouble > (double)(call->body_len - off))
			return;
		e.time_us = (int64_t)t->valuedouble;
		str_copy(e.kind, sizeof(e.kind), k->valuestring);
		e.body_len = (size_t)b->valuedouble;
		e.body = e.body_len ? call->body + off : NULL;
		off += e.body_len;
		event_add(a, &e, cJSON_DetachItemViaPointer(it, d));
	}
}

static void event_cb(void *arg, const struct lab_event *e)
{
	struct events_arg *a = arg;
	int call = !strcmp(e->kind, "call");
	cJSON *d = lab_json_depth_ok((const uint8_t *)e->detail, strlen(e->detail),
				     LAB_MAX_TRACE_DEPTH + (call ? 2 : 0)) ?
		cJSON_Parse(e->detail) : NULL;

	if (!call) {
		event_add(a, e, d);
		return;
	}
	if (cJSON_IsArray(d))
		unpack_call(a, e, d);
	cJSON_Delete(d);
}

cJSON *lab_trace_json(struct store *st, const char *txid)
{
	struct lab_tx_summary s;
	struct events_arg a = { NULL, 0 };
	cJSON *o = NULL;

	if (store_trace_get(st, txid, &s) != 1)
		return NULL;
	if (!(o = cJSON_CreateObject()))
		return NULL;
	cJSON_AddItemToObject(o, "transaction", lab_summary_json(&s));
	if (!(a.arr = cJSON_AddArrayToObject(o, "events")) ||
	    store_trace_each(st, txid, event_cb, &a)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
