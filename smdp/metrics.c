/* metrics.c - lab metrics in the Prometheus text exposition format 0.0.4:
 * ES9+ calls and their latency per function, errors by subjectCode/
 * reasonCode, downloads by outcome, injected faults, sessions in flight.
 * Counters live behind one mutex; label sets are bounded. */
#include "lab.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Latency buckets, seconds (upper bounds; +Inf is implicit). */
static const double buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))
#define METRICS_MAX_ERRORS 64   /* distinct (function, subject, reason) series */

static const char *const outcomes[] = { "installed", "install_failed", "cancelled", "failed",
					"expired" };
#define N_OUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))

struct err_series {
	int fn;
	char subject[16], reason[16];
	unsigned long long n;
};

struct lab_metrics {
	pthread_mutex_t mu;
	unsigned long long calls[ES9_FN_COUNT];
	unsigned long long bucket[ES9_FN_COUNT][N_BUCKETS];   /* cumulative at render */
	double sum[ES9_FN_COUNT];
	struct err_series err[METRICS_MAX_ERRORS];
	size_t n_err;
	unsigned long long err_other;   /* series beyond METRICS_MAX_ERRORS */
	unsigned long long downloads[N_OUTCOMES];
	unsigned long long faults[FA_COUNT];
};

struct lab_metrics *metrics_new(void)
{
	struct lab_metrics *m = calloc(1, sizeof(*m));

	if (m && pthread_mutex_init(&m->mu, NULL)) {
		free(m);
		m = NULL;
	}
	return m;
}

void metrics_free(struct lab_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

void metrics_call(struct lab_metrics *m, int fn, double seconds, const char *subject,
		  const char *reason)
{
	if (!m || fn < 0 || fn >= ES9_FN_COUNT)
		return;
	pthread_mutex_lock(&m->mu);
	m->calls[fn]++;
	m->sum[fn] += seconds;
	for (size_t i = 0; i < N_BUCKETS; i++)
		if (seconds <= buckets[i]) {
			m->bucket[fn][i]++;
			break;
		}
	if (subject && subject[0]) {
		size_t i;
		for (i = 0; i < m->n_err; i++)
			if (m->err[i].fn == fn && !strcmp(m->err[i].subject, subject) &&
			    !strcmp(m->err[i].reason, reason))
				break;
		if (i == m->n_err && m->n_err < METRICS_MAX_ERRORS) {
			m->err[i].fn = fn;
			str_copy(m->err[i].subject, sizeof(m->err[i].subject), subject);
			str_copy(m->err[i].reason, sizeof(m->err[i].reason), reason);
			m->n_err++;
		}
		if (i < m->n_err)
			m->err[i].n++;
		else
			m->err_other++;
	}
	pthread_mutex_unlock(&m->mu);
}

void metrics_download(struct lab_metrics *m, const char *outcome)
{
	if (!m || !outcome)
		return;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < N_OUTCOMES; i++)
		if (!strcmp(outcomes[i], outcome))
			m->downloads[i]++;
	pthread_mutex_unlock(&m->mu);
}

void metrics_fault(struct lab_metrics *m, enum fault_action a)
{
	if (!m || a < 0 || a >= FA_COUNT)
		return;
	pthread_mutex_lock(&m->mu);
	m->faults[a]++;
	pthread_mutex_unlock(&m->mu);
}

struct out {
	struct buf *b;
	int failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) || buf_append(o->b, line, (size_t)n))
		o->failed = 1;
}

int metrics_render(struct lab_metrics *m, long sessions_in_flight, struct buf *out)
{
	struct lab_metrics snap;
	struct out o = { out, 0 };

	buf_free(out);
	if (!m)
		return -1;
	/* a consistent copy, formatted without the lock */
	pthread_mutex_lock(&m->mu);
	memcpy(&snap, m, sizeof(snap));
	pthread_mutex_unlock(&m->mu);

	put(&o, "# HELP smdp_es9_requests_total ES9+ calls answered, by function.\n"
		"# TYPE smdp_es9_requests_total counter\n");
	for (int f = 0; f < ES9_FN_COUNT; f++)
		put(&o, "smdp_es9_requests_total{function=\"%s\"} %llu\n", fault_fn_name(f),
		    snap.calls[f]);
	put(&o, "# HELP smdp_es9_request_duration_seconds Time from request to response, "
		"by ES9+ function (injected delays included).\n"
		"# TYPE smdp_es9_request_duration_seconds histogram\n");
	for (int f = 0; f < ES9_FN_COUNT; f++) {
		unsigned long long cum = 0;
		for (size_t i = 0; i < N_BUCKETS; i++) {
			cum += snap.bucket[f][i];
			put(&o, "smdp_es9_request_duration_seconds_bucket{function=\"%s\",le=\"%g\"} "
			    "%llu\n", fault_fn_name(f), buckets[i], cum);
		}
		put(&o, "smdp_es9_request_duration_seconds_bucket{function=\"%s\",le=\"+Inf\"} %llu\n",
		    fault_fn_name(f), snap.calls[f]);
		put(&o, "smdp_es9_request_duration_seconds_sum{function=\"%s\"} %.6f\n",
		    fault_fn_name(f), snap.sum[f]);
		put(&o, "smdp_es9_request_duration_seconds_count{function=\"%s\"} %llu\n",
		    fault_fn_name(f), snap.calls[f]);
	}
	put(&o, "# HELP smdp_es9_errors_total ES9+ calls answered with an error, by function, "
		"subjectCode and reasonCode (SGP.22 5.2.6).\n"
		"# TYPE smdp_es9_errors_total counter\n");
	for (size_t i = 0; i < snap.n_err; i++)
		put(&o, "smdp_es9_errors_total{function=\"%s\",subject=\"%s\",reason=\"%s\"} %llu\n",
		    fault_fn_name(snap.err[i].fn), snap.err[i].subject, snap.err[i].reason,
		    snap.err[i].n);
	if (snap.err_other)
		put(&o, "smdp_es9_errors_total{function=\"other\",subject=\"other\",reason=\"other\"} "
		    "%llu\n", snap.err_other);
	put(&o, "# HELP smdp_downloads_total Downloads that ended, by outcome.\n"
		"# TYPE smdp_downloads_total counter\n");
	for (size_t i = 0; i < N_OUTCOMES; i++)
		put(&o, "smdp_downloads_total{outcome=\"%s\"} %llu\n", outcomes[i],
		    snap.downloads[i]);
	put(&o, "# HELP smdp_faults_injected_total Lab faults applied, by action.\n"
		"# TYPE smdp_faults_injected_total counter\n");
	for (int a = 0; a < FA_COUNT; a++)
		put(&o, "smdp_faults_injected_total{action=\"%s\"} %llu\n",
		    fault_action_name((enum fault_action)a), snap.faults[a]);
	if (sessions_in_flight >= 0)
		put(&o, "# HELP smdp_sessions_in_flight RSP sessions open (not closed, not "
			"expired).\n# TYPE smdp_sessions_in_flight gauge\n"
			"smdp_sessions_in_flight %ld\n", sessions_in_flight);
	if (o.failed) {
		buf_free(out);
		return -1;
	}
	return 0;
}
