/* es2p.c - ES2+ (Operator <-> SM-DP+, SGP.22 5.3) on C structs: which
 * operator is calling (functionRequesterIdentifier plus the TLS client
 * certificate), the four functions an operator calls, and the sender of
 * handleDownloadProgressInfo (5.3.5) that works through the SQLite queue
 * orders.c fills, in order per operator, retrying with backoff. */
#include "smdp.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ES2P_CALLBACK_TIMEOUT_MS 5000   /* one notification POST */
#define ES2P_IDLE_WAIT_S         1      /* poll the queue (smdp-admin adds to it too) */
#define ES2P_ADMIN_PROTOCOL      "gsma/rsp/v2.5.0"

struct es2p_peer {                  /* one operator's notification endpoint */
	const struct operator_cfg *op;
	struct httpc *hc;               /* NULL: the operator gets no notifications */
	char path[SMDP_MAX_URL];
};

struct es2p {
	struct smdp *d;
	struct buf pins[SMDP_MAX_OPERATORS];    /* DER of operator i's pinned certificate */
	struct es2p_peer peers[SMDP_MAX_OPERATORS];
	size_t n;
	pthread_t th;
	int started;
	pthread_mutex_t mu;             /* guards stop and kicked */
	pthread_cond_t cv;
	int stop, kicked;
	int any_url;                    /* an operator has a notification URL */
};

/* ------------------------------------------------------------------ */
/* who is calling */

/* DER of op's pinned certificate into out (replaced). 0 / -1. */
static int load_pin(const struct operator_cfg *op, struct buf *out)
{
	crypto_cert *c = crypto_cert_load(op->client_cert);
	const uint8_t *der;
	size_t n;
	int rc = -1;

	if (!c)
		goto out;
	der = crypto_cert_der(c, &n);
	rc = buf_set(out, der, n);
out:
	crypto_cert_free(c);
	return rc;
}

enum rsp_status es2p_identify(struct smdp *d, const char *requester, const uint8_t *cert,
			      size_t cert_len, const struct operator_cfg **op)
{
	const struct operator_cfg *o = config_operator(d->cfg, requester);
	struct buf tmp = { 0 };
	const struct buf *pin;
	enum rsp_status st = RSP_ERR_REQUESTER_NOT_ALLOWED;

	*op = NULL;
	/* the TLS layer already refused clients without a certificate of the
	 * client CA; this binds the certificate to the operator it names */
	if (!o || !cert || !cert_len) {
		log_info("ES2+: functionRequesterIdentifier '%s' is not a configured operator",
			 requester);
		goto out;
	}
	if (o->client_cert[0]) {
		size_t i = (size_t)(o - d->cfg->operators);
		pin = d->es2 ? &d->es2->pins[i] : &tmp;
		if (!d->es2 && load_pin(o, &tmp)) {
			log_error("ES2+: cannot read operator.%s.client-cert %s", o->name,
				  o->client_cert);
			st = RSP_ERR_INTERNAL;
			goto out;
		}
		if (pin->len != cert_len || mem_neq(pin->p, cert, cert_len)) {
			log_info("ES2+: the client certificate is not operator %s's", o->name);
			goto out;
		}
	}
	*op = o;
	st = RSP_OK;
out:
	buf_free(&tmp);
	return st;
}

/* ------------------------------------------------------------------ */
/* the four functions: log who asked what, then the lifecycle */

static void log_call(const struct operator_cfg *op, const char *fn, const char *call_id,
		     const char *iccid, enum rsp_status st)
{
	const struct rsp_status_info *i = rsp_status_info(st);
	char what[96];

	if (st)
		snprintf(what, sizeof(what), "%s/%s %s", i->subject, i->reason, i->name);
	else
		snprintf(what, sizeof(what), "ok");
	log_info("ES2+ %s from %s (%s), ICCID %s: %s", fn, op->name, call_id,
		 iccid[0] ? iccid : "-", what);
}

enum rsp_status es2p_download_order(struct smdp *d, const struct operator_cfg *op,
				    const char *call_id, const struct es2_download_order *rq,
				    char iccid[SMDP_ICCID_LEN + 1])
{
	enum rsp_status st = orders_download(d, op, rq, iccid);

	log_call(op, "downloadOrder", call_id, st ? rq->iccid : iccid, st);
	return st;
}

enum rsp_status es2p_confirm_order(struct smdp *d, const struct operator_cfg *op,
				   const char *call_id, const struct es2_confirm_order *rq,
				   struct es2_confirm_result *res)
{
	enum rsp_status st = orders_confirm(d, op, rq, res);

	log_call(op, "confirmOrder", call_id, rq->iccid, st);
	return st;
}

enum rsp_status es2p_cancel_order(struct smdp *d, const struct operator_cfg *op,
				  const char *call_id, const struct es2_cancel_order *rq)
{
	enum rsp_status st = orders_cancel(d, op, rq);

	log_call(op, "cancelOrder", call_id, rq->iccid, st);
	return st;
}

enum rsp_status es2p_release_profile(struct smdp *d, const struct operator_cfg *op,
				     const char *call_id, const char *iccid)
{
	enum rsp_status st = orders_release(d, op, iccid);

	log_call(op, "releaseProfile", call_id, iccid, st);
	return st;
}

/* ------------------------------------------------------------------ */
/* handleDownloadProgressInfo sender */

/* Seconds before try number tries + 1: min, 2 min, 4 min, ... up to max. */
static int64_t backoff(const struct smdp_config *cfg, int tries)
{
	int64_t b = cfg->notify_retry_min;

	for (int i = 1; i < tries && b < cfg->notify_retry_max; i++)
		b *= 2;
	return b < cfg->notify_retry_max ? b : cfg->notify_retry_max;
}

/* POST n to the operator. 0 delivered / -1 with a reason in err. */
static int post_one(struct es2p *e, struct es2p_peer *p, const struct op_notification *n,
		    char *err, size_t errsz)
{
	struct buf body = { 0 }, resp = { 0 };
	int status = 0, rc = -1;

	if (es2p_json_progress(e->d->cfg, n, &body)) {
		snprintf(err, errsz, "cannot encode the notification");
		goto out;
	}
	if (httpc_post(p->hc, p->path, "application/json;charset=UTF-8",
		       "X-Admin-Protocol: " ES2P_ADMIN_PROTOCOL "\r\n", body.p, body.len, &status,
		       &resp, NULL, 0, err, errsz))
		goto out;
	/* SGP.22 6.5: the operator answers 204 (or 200 with a header); its
	 * verdict on the content is not a delivery failure */
	if (status < 200 || status > 299) {
		snprintf(err, errsz, "HTTP %d", status);
		goto out;
	}
	rc = 0;
out:
	buf_free(&body);
	buf_free(&resp);
	return rc;
}

/* Deliver the due head of one operator's queue, then the next, until the
 * queue is empty, a head is not due, or a delivery fails. */
static int deliver_peer(struct es2p *e, struct es2p_peer *p, int64_t now)
{
	struct op_notification n;
	char err[256];
	int done = 0, r;

	for (;;) {
		pthread_mutex_lock(&e->mu);
		r = e->stop;
		pthread_mutex_unlock(&e->mu);
		if (r)
			break;
		r = store_notify_head(e->d->store, p->op->id, &n);
		if (r <= 0)
			break;
		if (n.next_try > now) {
			op_notification_free(&n);
			break;
		}
		if (post_one(e, p, &n, err, sizeof(err)) == 0) {
			if (store_notify_done(e->d->store, n.id))
				log_warn("ES2+ notification %lld delivered but not marked",
					 (long long)n.id);
			log_info("ES2+ handleDownloadProgressInfo %lld to %s: point %d %s ICCID %s",
				 (long long)n.id, p->op->name, n.point,
				 n.subject[0] ? "failed" : "ok", n.iccid);
			done++;
			op_notification_free(&n);
			continue;
		}
		n.tries++;
		log_warn("ES2+ handleDownloadProgressInfo %lld to %s failed (try %d): %s; next "
			 "in %lld s", (long long)n.id, p->op->name, n.tries, err,
			 (long long)backoff(e->d->cfg, n.tries));
		store_notify_retry(e->d->store, n.id, n.tries, now + backoff(e->d->cfg, n.tries),
				   err);
		/* a stale keep-alive connection must not fail the next try too */
		httpc_disconnect(p->hc);
		op_notification_free(&n);
		break;
	}
	return done;
}

/* One pass over every operator's queue at time now. */
static int deliver_due(struct es2p *e, int64_t now)
{
	int done = 0;

	for (size_t i = 0; e && i < e->n; i++)
		if (e->peers[i].hc)
			done += deliver_peer(e, &e->peers[i], now);
	return done;
}

static void *sender(void *arg)
{
	struct es2p *e = arg;
	struct timespec ts;

	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		pthread_mutex_unlock(&e->mu);
		deliver_due(e, (int64_t)time(NULL));
		pthread_mutex_lock(&e->mu);
		if (e->kicked || e->stop) {
			e->kicked = 0;
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ES2P_IDLE_WAIT_S;
		while (!e->kicked && !e->stop &&
		       pthread_cond_timedwait(&e->cv, &e->mu, &ts) != ETIMEDOUT)
			;
		e->kicked = 0;
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/* One operator's endpoint from its configuration. 0 / -1 with err set. */
static int peer_setup(struct es2p_peer *p, const struct operator_cfg *op, char *err,
		      size_t errsz)
{
	struct httpc_cfg hc;

	p->op = op;
	if (!op->notify_url[0])
		return 0;
	memset(&hc, 0, sizeof(hc));
	if (config_parse_url(op->notify_url, hc.host, sizeof(hc.host), &hc.port, p->path,
			     sizeof(p->path))) {
		snprintf(err, errsz, "operator.%s.notify-url is not https://host[:port][/path]",
			 op->name);
		return -1;
	}
	/* the function's path on the operator's server (SGP.22 6.5) */
	if (!strcmp(p->path, "/"))
		snprintf(p->path, sizeof(p->path), "/gsma/rsp2/es2plus/handleDownloadProgressInfo");
	str_copy(hc.server_name, sizeof(hc.server_name), hc.host);
	str_copy(hc.ca_file, sizeof(hc.ca_file), op->notify_ca);
	str_copy(hc.client_cert, sizeof(hc.client_cert), op->notify_cert);
	str_copy(hc.client_key, sizeof(hc.client_key), op->notify_key);
	hc.timeout_ms = ES2P_CALLBACK_TIMEOUT_MS;
	if (!op->notify_ca[0])
		log_warn("operator %s: no notify-ca, its server certificate is not verified",
			 op->name);
	p->hc = httpc_new(&hc);
	if (!p->hc) {
		snprintf(err, errsz, "operator %s: cannot set up HTTPS to %s (notify-ca, "
			 "notify-cert, notify-key?)", op->name, op->notify_url);
		return -1;
	}
	return 0;
}

static void es2p_free(struct es2p *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < SMDP_MAX_OPERATORS; i++) {
		buf_free(&e->pins[i]);
		httpc_free(e->peers[i].hc);
	}
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

struct es2p *es2p_start(struct smdp *d, char *err, size_t errsz)
{
	struct es2p *e = calloc(1, sizeof(*e)), *ret = NULL;
	pthread_condattr_t ca;

	if (!e) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&e->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_cond_init(&e->cv, &ca);
	pthread_condattr_destroy(&ca);
	e->d = d;
	e->n = d->cfg->n_operators;
	for (size_t i = 0; i < e->n; i++) {
		const struct operator_cfg *op = &d->cfg->operators[i];
		if (op->client_cert[0] && load_pin(op, &e->pins[i])) {
			snprintf(err, errsz, "cannot read operator.%s.client-cert %s", op->name,
				 op->client_cert);
			goto out;
		}
		if (peer_setup(&e->peers[i], op, err, errsz))
			goto out;
		if (op->notify_url[0])
			e->any_url = 1;
	}
	if (pthread_create(&e->th, NULL, sender, e)) {
		snprintf(err, errsz, "cannot start the notification sender");
		goto out;
	}
	e->started = 1;
	ret = e;
	e = NULL;
out:
	es2p_free(e);
	return ret;
}

void es2p_kick(struct es2p *e)
{
	/* no operator to tell: nothing is ever queued (orders.c notify), so
	 * no wake-up of the sender at every ES9+ step (issue 8) */
	if (!e || !e->any_url)
		return;
	pthread_mutex_lock(&e->mu);
	e->kicked = 1;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

void es2p_stop(struct es2p *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = 1;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
	if (e->started)
		pthread_join(e->th, NULL);
	es2p_free(e);
}
