/* orders.c - the SGP.22 profile lifecycle: the ES2+ transitions of 5.3
 * (downloadOrder, confirmOrder, releaseProfile, cancelOrder) and the checks
 * ES9+ applies to them (5.6.2, 5.6.3), on the SQLite inventory. Every
 * function here is one store transaction; the operator notifications a
 * transition causes (5.3.5 handleDownloadProgressInfo) are queued inside
 * it, so a crash never keeps one without the other. */
#include "smdp.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* notificationPointId values (SGP.22 5.3.5) */
#define NP_ELIGIBILITY  1   /* eligibility and retry limit check */
#define NP_CONFIRMATION 2   /* confirmation code failure */
#define NP_BPP_DOWNLOAD 3
#define NP_BPP_INSTALL  4

/* Tries to find a free generated matchingId before giving up: with 103
 * bits of randomness a second try already means something else is wrong. */
#define MATCHING_ID_TRIES 8

/* The tx callbacks' return values besides 0 (commit). */
#define TX_REFUSED 1   /* roll back; the status is in the context */
#define TX_ERROR  -1

static const char *const state_names[PS_COUNT] = {
	[PS_NONE] = "?", [PS_AVAILABLE] = "Available", [PS_ALLOCATED] = "Allocated",
	[PS_LINKED] = "Linked", [PS_CONFIRMED] = "Confirmed", [PS_RELEASED] = "Released",
	[PS_DOWNLOADED] = "Downloaded", [PS_INSTALLED] = "Installed", [PS_ERROR] = "Error",
	[PS_UNAVAILABLE] = "Unavailable",
};

const char *orders_state_name(enum profile_state s)
{
	return (unsigned)s < PS_COUNT ? state_names[s] : "?";
}

enum profile_state orders_state_parse(const char *name)
{
	for (int i = PS_AVAILABLE; i < PS_COUNT; i++)
		if (!strcasecmp(name, state_names[i]))
			return (enum profile_state)i;
	return PS_NONE;
}

/* ES2+ ICCIDs are 19 or 20 digits, a 19-digit one possibly F-padded
 * (SGP.22 5.3.1, ITU-T E.118). */
int orders_iccid_norm(const char *iccid, char out[SMDP_ICCID_LEN + 1])
{
	size_t n = strnlen(iccid, SMDP_ICCID_LEN + 1);

	if (n == SMDP_ICCID_LEN && (iccid[n - 1] == 'F' || iccid[n - 1] == 'f'))
		n--;
	if (n < 19 || n > SMDP_ICCID_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)iccid[i]))
			return 0;
	snprintf(out, SMDP_ICCID_LEN + 1, "%.*s", (int)n, iccid);
	return 1;
}

int orders_new_matching_id(char out[SMDP_MAX_MATCHING_ID + 1])
{
	static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	uint8_t r[25];
	size_t o = 0;

	if (crypto_random(r, sizeof(r)))
		return -1;
	for (size_t i = 0; i < sizeof(r); i++) {
		if (i && i % 5 == 0)
			out[o++] = '-';
		/* 252 = 7 * 36: reject the top values so every character is
		 * equally likely */
		while (r[i] >= 252)
			if (crypto_random(&r[i], 1))
				return -1;
		out[o++] = alphabet[r[i] % 36];
	}
	out[o] = '\0';
	return 0;
}

void orders_activation_code(const struct smdp_config *cfg, const struct order *o, char *out,
			    size_t outsz)
{
	/* SGP.22 4.1: 1$SM-DP+ address$AC token$SM-DP+ OID$CC required flag */
	if (!o->confirmed || !o->matching_id[0])
		str_copy(out, outsz, "");
	else
		snprintf(out, outsz, "LPA:1$%s$%s%s", cfg->fqdn, o->matching_id,
			 o->has_cc ? "$$1" : "");
}

/* --- helpers used inside transactions --- */

static int owns(const struct operator_cfg *op, const char *type)
{
	return !op || config_owns(op, type);   /* NULL: the local administrator */
}

/* Queue a handleDownloadProgressInfo for the order's operator: nobody to
 * tell for an order without one, or for an operator configured without a
 * notification URL. 0 / -1. */
static int notify(struct store_tx *tx, const struct smdp_config *cfg, const struct order *o,
		  const struct inv_profile *p, const char *eid, int point, enum rsp_status st,
		  const char *message, const uint8_t *result, size_t result_len)
{
	const struct operator_cfg *op = config_operator(cfg, o->operator_id);
	struct op_notification n;

	if (!o->operator_id[0] || !op || !op->notify_url[0])
		return 0;
	memset(&n, 0, sizeof(n));
	str_copy(n.operator_id, sizeof(n.operator_id), o->operator_id);
	str_copy(n.eid, sizeof(n.eid), eid && eid[0] ? eid : o->eid);
	str_copy(n.iccid, sizeof(n.iccid), p->iccid);
	str_copy(n.profile_type, sizeof(n.profile_type), p->type);
	n.time = (int64_t)time(NULL);
	n.next_try = n.time;
	n.point = point;
	if (st != RSP_OK) {
		const struct rsp_status_info *i = rsp_status_info(st);
		str_copy(n.subject, sizeof(n.subject), i->subject);
		str_copy(n.reason, sizeof(n.reason), i->reason);
		str_copy(n.message, sizeof(n.message), message ? message : i->message);
	}
	/* borrowed, not owned: the store only reads it */
	n.result_data.p = (uint8_t *)(uintptr_t)result;
	n.result_data.len = result ? result_len : 0;
	return store_tx_notify_add(tx, &n);
}

/* A lifecycle line in the history (no transaction id: not a session). */
static int history(struct store_tx *tx, const struct inv_profile *p, const char *eid,
		   const char *event, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int history(struct store_tx *tx, const struct inv_profile *p, const char *eid,
		   const char *event, const char *fmt, ...)
{
	struct history_event e;
	va_list ap;

	memset(&e, 0, sizeof(e));
	e.time = (int64_t)time(NULL);
	str_copy(e.eid, sizeof(e.eid), eid ? eid : "");
	str_copy(e.profile_id, sizeof(e.profile_id), p->file);
	str_copy(e.event, sizeof(e.event), event);
	va_start(ap, fmt);
	vsnprintf(e.detail, sizeof(e.detail), fmt, ap);
	va_end(ap);
	return store_tx_history_add(tx, &e);
}

/* Move p to state (with the order it now belongs to) and record it. */
static int transition(struct store_tx *tx, struct inv_profile *p, enum profile_state to,
		      int64_t order_id, const char *eid, const char *why)
{
	enum profile_state from = p->state;

	p->state = to;
	p->order_id = order_id;
	p->updated = (int64_t)time(NULL);
	if (store_tx_profile_update(tx, p))
		return -1;
	return history(tx, p, eid, "lifecycle", "%s: %s -> %s", why, orders_state_name(from),
		       orders_state_name(to));
}

/* The profile and its active order for an ES2+ call on an ICCID, with the
 * ownership rule. TX_REFUSED with *st set, TX_ERROR, or 0. has_order is
 * set when the profile has an active order (o filled). */
static int load_owned(struct store_tx *tx, const struct operator_cfg *op, const char *iccid,
		      struct inv_profile *p, struct order *o, int *has_order, enum rsp_status *st)
{
	int r = store_tx_profile_get(tx, iccid, p);

	*has_order = 0;
	if (r < 0)
		return TX_ERROR;
	if (r == 0) {
		*st = RSP_ERR_ICCID_UNKNOWN;
		return TX_REFUSED;
	}
	if (!owns(op, p->type)) {
		*st = RSP_ERR_ICCID_NOT_OWNER;
		return TX_REFUSED;
	}
	if (p->order_id) {
		r = store_tx_order_get(tx, p->order_id, o);
		if (r < 0)
			return TX_ERROR;
		*has_order = r == 1 && o->active;
	}
	return 0;
}

/* Run fn in a transaction; map its result to a status. */
static enum rsp_status run(struct smdp *d, store_tx_fn fn, void *ctx, enum rsp_status *st)
{
	int r = store_transact(d->store, fn, ctx);

	if (r < 0 || (r > 0 && *st == RSP_OK))
		return RSP_ERR_INTERNAL;
	return *st;
}

/* ------------------------------------------------------------------ */
/* import (smdp-admin) */

struct import_ctx {
	const char *iccid, *file, *type;
	enum rsp_status st;
};

static int tx_import(struct store_tx *tx, void *arg)
{
	struct import_ctx *c = arg;
	struct inv_profile p;
	int r;

	memset(&p, 0, sizeof(p));
	str_copy(p.iccid, sizeof(p.iccid), c->iccid);
	str_copy(p.file, sizeof(p.file), c->file);
	str_copy(p.type, sizeof(p.type), c->type);
	p.state = PS_AVAILABLE;
	p.updated = (int64_t)time(NULL);
	r = store_tx_profile_insert(tx, &p);
	if (r != 0) {
		c->st = r > 0 ? RSP_ERR_ICCID_IN_USE : RSP_ERR_INTERNAL;
		return r > 0 ? TX_REFUSED : TX_ERROR;
	}
	if (history(tx, &p, "", "lifecycle", "imported as %s: Available", p.type))
		return TX_ERROR;
	return 0;
}

enum rsp_status orders_import(struct smdp *d, const char *iccid, const char *file,
			      const char *type)
{
	struct import_ctx c = { iccid, file, type, RSP_OK };
	char norm[SMDP_ICCID_LEN + 1];

	if (!orders_iccid_norm(iccid, norm) || strcmp(norm, iccid) || !file[0] ||
	    strlen(file) > SMDP_MAX_ID || !type[0] || strlen(type) > SMDP_MAX_PROFILE_TYPE)
		return RSP_ERR_INVALID_REQUEST;
	return run(d, tx_import, &c, &c.st);
}

/* ------------------------------------------------------------------ */
/* ES2+ downloadOrder (SGP.22 5.3.1) */

struct download_ctx {
	struct smdp *d;
	const struct operator_cfg *op;
	const struct es2_download_order *rq;
	struct inv_profile p;
	enum rsp_status st;
};

static int tx_download(struct store_tx *tx, void *arg)
{
	struct download_ctx *c = arg;
	const struct es2_download_order *rq = c->rq;
	const struct operator_cfg *owner;
	struct order o;
	int64_t id, now = (int64_t)time(NULL);
	int r;

	if (rq->iccid[0]) {
		r = store_tx_profile_get(tx, rq->iccid, &c->p);
		if (r <= 0) {
			c->st = RSP_ERR_ICCID_UNKNOWN;
			return r < 0 ? TX_ERROR : TX_REFUSED;
		}
		if (!owns(c->op, c->p.type)) {
			c->st = RSP_ERR_ICCID_NOT_OWNER;
			return TX_REFUSED;
		}
		if (rq->profile_type[0] && strcmp(rq->profile_type, c->p.type)) {
			c->st = RSP_ERR_PROFILE_TYPE_MISMATCH;
			return TX_REFUSED;
		}
		if (c->p.state != PS_AVAILABLE) {
			c->st = RSP_ERR_ICCID_IN_USE;
			return TX_REFUSED;
		}
	} else {
		/* an operator does not even learn of pools it does not own */
		if (!owns(c->op, rq->profile_type)) {
			c->st = RSP_ERR_PROFILE_TYPE_UNKNOWN;
			return TX_REFUSED;
		}
		/* inside BEGIN IMMEDIATE: no other writer can pick it too */
		r = store_tx_profile_pick(tx, rq->profile_type, &c->p);
		if (r < 0)
			return TX_ERROR;
		if (r == 0) {
			r = store_tx_profile_type_count(tx, rq->profile_type);
			if (r < 0)
				return TX_ERROR;
			c->st = r ? RSP_ERR_PROFILE_TYPE_EXHAUSTED : RSP_ERR_PROFILE_TYPE_UNKNOWN;
			return TX_REFUSED;
		}
	}
	memset(&o, 0, sizeof(o));
	str_copy(o.iccid, sizeof(o.iccid), c->p.iccid);
	owner = c->op ? c->op : config_type_owner(c->d->cfg, c->p.type);
	str_copy(o.operator_id, sizeof(o.operator_id), owner ? owner->id : "");
	str_copy(o.eid, sizeof(o.eid), rq->eid);
	o.created = now;
	o.expires = now + c->d->cfg->order_ttl;
	o.active = 1;
	if (store_tx_order_insert(tx, &o, &id) ||
	    transition(tx, &c->p, rq->eid[0] ? PS_LINKED : PS_ALLOCATED, id, rq->eid,
		       "downloadOrder"))
		return TX_ERROR;
	return 0;
}

enum rsp_status orders_download(struct smdp *d, const struct operator_cfg *op,
				const struct es2_download_order *rq,
				char iccid[SMDP_ICCID_LEN + 1])
{
	struct download_ctx c;
	enum rsp_status st;

	memset(&c, 0, sizeof(c));
	c.d = d;
	c.op = op;
	c.rq = rq;
	iccid[0] = '\0';
	if (!rq->iccid[0] && !rq->profile_type[0])
		return RSP_ERR_MISSING_ELEMENT;   /* one of the two is mandatory */
	st = run(d, tx_download, &c, &c.st);
	if (st == RSP_OK) {
		str_copy(iccid, SMDP_ICCID_LEN + 1, c.p.iccid);
		log_info("order: ICCID %s (%s) %s%s%s", c.p.iccid, c.p.type,
			 orders_state_name(c.p.state), rq->eid[0] ? " to EID " : "", rq->eid);
	}
	return st;
}

/* ------------------------------------------------------------------ */
/* ES2+ confirmOrder (SGP.22 5.3.2) */

struct confirm_ctx {
	struct smdp *d;
	const struct operator_cfg *op;
	const struct es2_confirm_order *rq;
	struct inv_profile p;
	struct order o;
	enum rsp_status st;
};

static int tx_confirm(struct store_tx *tx, void *arg)
{
	struct confirm_ctx *c = arg;
	const struct es2_confirm_order *rq = c->rq;
	int has_order, r, generated = !rq->has_matching_id;

	r = load_owned(tx, c->op, rq->iccid, &c->p, &c->o, &has_order, &c->st);
	if (r)
		return r;
	if (!has_order || (c->p.state != PS_ALLOCATED && c->p.state != PS_LINKED)) {
		c->st = RSP_ERR_ICCID_WRONG_STATE;
		return TX_REFUSED;
	}
	if (rq->eid[0]) {
		if (c->o.eid[0] && strcmp(c->o.eid, rq->eid)) {
			c->st = RSP_ERR_EID_DIFFERENT;
			return TX_REFUSED;
		}
		str_copy(c->o.eid, sizeof(c->o.eid), rq->eid);
	}
	/* default SM-DP+ (empty matchingId) and SM-DS cases find the order by
	 * EID or announce it for an EID: one is needed (SGP.22 5.3.2) */
	if (!c->o.eid[0] && ((rq->has_matching_id && !rq->matching_id[0]) ||
			     rq->smds_address[0])) {
		c->st = RSP_ERR_EID_REQUIRED;
		return TX_REFUSED;
	}
	str_copy(c->o.smds_address, sizeof(c->o.smds_address), rq->smds_address);
	c->o.has_cc = rq->has_cc;
	if (rq->has_cc)
		crypto_sha256((const uint8_t *)rq->cc, strlen(rq->cc), NULL, 0, c->o.cc_hash);
	c->o.confirmed = 1;
	for (int i = 0;; i++) {
		if (generated && orders_new_matching_id(c->o.matching_id))
			return TX_ERROR;
		if (!generated)
			str_copy(c->o.matching_id, sizeof(c->o.matching_id), rq->matching_id);
		r = store_tx_order_update(tx, &c->o);
		if (r < 0)
			return TX_ERROR;
		if (r == 0)
			break;
		if (!generated || i + 1 >= MATCHING_ID_TRIES) {
			c->st = RSP_ERR_MATCHING_ID_CONFLICT;
			return TX_REFUSED;
		}
	}
	if (transition(tx, &c->p, rq->release ? PS_RELEASED : PS_CONFIRMED, c->o.id, c->o.eid,
		       rq->release ? "confirmOrder (releaseFlag)" : "confirmOrder"))
		return TX_ERROR;
	return 0;
}

enum rsp_status orders_confirm(struct smdp *d, const struct operator_cfg *op,
			       const struct es2_confirm_order *rq, struct es2_confirm_result *res)
{
	struct confirm_ctx c;
	enum rsp_status st;

	memset(&c, 0, sizeof(c));
	memset(res, 0, sizeof(*res));
	c.d = d;
	c.op = op;
	c.rq = rq;
	if (rq->has_cc && !rq->cc[0])
		return RSP_ERR_INVALID_REQUEST;
	st = run(d, tx_confirm, &c, &c.st);
	crypto_cleanse(c.o.cc_hash, sizeof(c.o.cc_hash));
	if (st != RSP_OK)
		return st;
	str_copy(res->eid, sizeof(res->eid), c.o.eid);
	str_copy(res->matching_id, sizeof(res->matching_id), c.o.matching_id);
	str_copy(res->smdp_address, sizeof(res->smdp_address), d->cfg->fqdn);
	orders_activation_code(d->cfg, &c.o, res->activation_code, sizeof(res->activation_code));
	/* the activation code of every confirmed order goes to the log (the
	 * issue's "smdp prints it"); it carries the CC flag, never the CC */
	if (res->activation_code[0])
		log_info("order: ICCID %s %s, activation code %s%s%s", c.p.iccid,
			 orders_state_name(c.p.state), res->activation_code,
			 c.o.smds_address[0] ? ", SM-DS " : "", c.o.smds_address);
	else
		log_info("order: ICCID %s %s for EID %s (default SM-DP+, no activation code)",
			 c.p.iccid, orders_state_name(c.p.state), c.o.eid);
	return RSP_OK;
}

/* ------------------------------------------------------------------ */
/* ES2+ releaseProfile (SGP.22 5.3.4) and cancelOrder (5.3.3) */

struct simple_ctx {
	const struct operator_cfg *op;
	const char *iccid;
	const struct es2_cancel_order *cancel;
	struct inv_profile p;
	struct order o;
	enum rsp_status st;
};

static int tx_release(struct store_tx *tx, void *arg)
{
	struct simple_ctx *c = arg;
	int has_order, r;

	r = load_owned(tx, c->op, c->iccid, &c->p, &c->o, &has_order, &c->st);
	if (r)
		return r;
	if (!has_order || c->p.state != PS_CONFIRMED) {
		c->st = RSP_ERR_ICCID_WRONG_STATE;
		return TX_REFUSED;
	}
	return transition(tx, &c->p, PS_RELEASED, c->o.id, c->o.eid, "releaseProfile") ?
		TX_ERROR : 0;
}

enum rsp_status orders_release(struct smdp *d, const struct operator_cfg *op, const char *iccid)
{
	struct simple_ctx c;
	enum rsp_status st;

	memset(&c, 0, sizeof(c));
	c.op = op;
	c.iccid = iccid;
	st = run(d, tx_release, &c, &c.st);
	if (st == RSP_OK)
		log_info("order: ICCID %s Released", iccid);
	return st;
}

static int tx_cancel(struct store_tx *tx, void *arg)
{
	struct simple_ctx *c = arg;
	const struct es2_cancel_order *rq = c->cancel;
	int has_order, r;

	r = load_owned(tx, c->op, rq->iccid, &c->p, &c->o, &has_order, &c->st);
	if (r)
		return r;
	/* a pending order only: nothing to cancel once installed */
	if (!has_order || c->p.state == PS_AVAILABLE || c->p.state == PS_INSTALLED ||
	    c->p.state == PS_UNAVAILABLE) {
		c->st = RSP_ERR_ICCID_WRONG_STATE;
		return TX_REFUSED;
	}
	if (rq->eid[0] && strcmp(rq->eid, c->o.eid)) {
		c->st = RSP_ERR_EID_DIFFERENT;
		return TX_REFUSED;
	}
	if (rq->has_matching_id && (!c->o.confirmed || strcmp(rq->matching_id, c->o.matching_id))) {
		c->st = RSP_ERR_MATCHING_ID_MISMATCH;
		return TX_REFUSED;
	}
	c->o.active = 0;
	if (store_tx_order_update(tx, &c->o) ||
	    /* a BPP bound for this order must never be offered again */
	    (c->o.eid[0] && store_tx_binding_delete(tx, c->o.eid, c->p.file)) ||
	    transition(tx, &c->p, rq->final_state, 0, c->o.eid, "cancelOrder"))
		return TX_ERROR;
	return 0;
}

enum rsp_status orders_cancel(struct smdp *d, const struct operator_cfg *op,
			      const struct es2_cancel_order *rq)
{
	struct simple_ctx c;
	enum rsp_status st;

	if (rq->final_state != PS_AVAILABLE && rq->final_state != PS_UNAVAILABLE)
		return RSP_ERR_INVALID_REQUEST;
	memset(&c, 0, sizeof(c));
	c.op = op;
	c.cancel = rq;
	st = run(d, tx_cancel, &c, &c.st);
	if (st == RSP_OK)
		log_info("order: ICCID %s cancelled, now %s", rq->iccid,
			 orders_state_name(rq->final_state));
	return st;
}

/* ------------------------------------------------------------------ */
/* ES9+ side */

/* The package an inventory profile names, if it is loaded and still the
 * profile the inventory says (its ICCID); NULL otherwise. */
static const struct profile *package_of(const struct smdp *d, const struct inv_profile *p)
{
	const struct profile *prof = saip_find(&d->profiles, p->file);
	char iccid[SMDP_ICCID_LEN + 1];

	if (!prof)
		return NULL;
	saip_iccid_text(prof->meta.iccid, iccid);
	return strcmp(iccid, p->iccid) ? NULL : prof;
}

struct select_ctx {
	struct smdp *d;
	struct session *s;
	const struct ctx_params1 *ctx;
	const struct profile *prof;
	int found;
	enum rsp_status st;
};

static int tx_select(struct store_tx *tx, void *arg)
{
	struct select_ctx *c = arg;
	struct session *s = c->s;
	const struct smdp_config *cfg = c->d->cfg;
	struct inv_profile p;
	struct order o;
	int r;

	/* SGP.22 5.6.3: a matchingId names the order (AC token or SM-DS
	 * eventId); absent or empty, the default SM-DP+ case looks it up by
	 * the EID the certificate proved */
	if (c->ctx->has_matching_id && c->ctx->matching_id[0])
		r = store_tx_order_by_matching_id(tx, c->ctx->matching_id, &o);
	else
		r = store_tx_order_default(tx, s->eid, &o);
	if (r <= 0)
		return r;
	c->found = 1;
	if (store_tx_profile_get(tx, o.iccid, &p) != 1)
		return TX_ERROR;
	if (o.eid[0] && strcmp(o.eid, s->eid))
		c->st = RSP_ERR_EID_MISMATCH;
	else if (p.order_id != o.id || (p.state != PS_RELEASED && p.state != PS_DOWNLOADED))
		c->st = RSP_ERR_PROFILE_NOT_RELEASED;
	else if ((int64_t)time(NULL) > o.expires)
		c->st = RSP_ERR_ORDER_EXPIRED;
	else if (o.attempts >= cfg->max_attempts)
		c->st = RSP_ERR_ORDER_MAX_ATTEMPTS;
	else if (!(c->prof = package_of(c->d, &p)))
		/* eligibility: the package must be here and still be this
		 * profile; EUICCInfo2/DeviceInfo checks plug in here */
		c->st = RSP_ERR_NO_ELIGIBLE_PROFILE;
	if (c->st != RSP_OK) {
		/* refused: the operator hears of it (point 1), the order stays */
		return notify(tx, c->d->cfg, &o, &p, s->eid, NP_ELIGIBILITY, c->st, NULL, NULL, 0) ?
			TX_ERROR : 0;
	}
	o.attempts++;
	/* the first eUICC to download binds an order made without EID */
	if (!o.eid[0])
		str_copy(o.eid, sizeof(o.eid), s->eid);
	if (store_tx_order_update(tx, &o) ||
	    history(tx, &p, s->eid, "order-selected", "order %lld attempt %d of %d",
		    (long long)o.id, o.attempts, cfg->max_attempts) ||
	    notify(tx, c->d->cfg, &o, &p, s->eid, NP_ELIGIBILITY, RSP_OK, NULL, NULL, 0))
		return TX_ERROR;
	s->order_id = o.id;
	s->cc_required = o.has_cc;
	str_copy(s->profile_id, sizeof(s->profile_id), p.file);
	return 0;
}

/* Lab mode: a matchingId names a profile file; the default SM-DP+ case
 * serves the configured default profile. */
static enum rsp_status select_lab(struct smdp *d, const struct ctx_params1 *ctx,
				  const struct profile **out)
{
	if (ctx->has_matching_id && ctx->matching_id[0]) {
		*out = saip_find(&d->profiles, ctx->matching_id);
		if (!*out) {
			log_info("matchingId '%s' names no order and no profile", ctx->matching_id);
			return RSP_ERR_MATCHING_ID_REFUSED;
		}
		return RSP_OK;
	}
	*out = d->cfg->default_profile[0] ? saip_find(&d->profiles, d->cfg->default_profile) : NULL;
	if (!*out) {
		log_info("default SM-DP+ case: no order for this EID and no default profile");
		return RSP_ERR_EID_MISMATCH;
	}
	return RSP_OK;
}

enum rsp_status orders_es9_select(struct smdp *d, struct session *s,
				  const struct ctx_params1 *ctx, const struct profile **prof)
{
	struct select_ctx c;
	int r;

	memset(&c, 0, sizeof(c));
	c.d = d;
	c.s = s;
	c.ctx = ctx;
	*prof = NULL;
	s->order_id = 0;
	s->cc_required = 0;
	r = store_transact(d->store, tx_select, &c);
	if (r != 0)
		return RSP_ERR_INTERNAL;
	es2p_kick(d->es2);
	if (c.found) {
		if (c.st == RSP_OK) {
			*prof = c.prof;
			str_copy(s->profile_id, sizeof(s->profile_id), c.prof->id);
		} else {
			log_info("order for EID %s refused: %s", s->eid, rsp_status_info(c.st)->name);
		}
		return c.st;
	}
	if (d->cfg->mode == MODE_LAB) {
		c.st = select_lab(d, ctx, prof);
		if (c.st == RSP_OK)
			str_copy(s->profile_id, sizeof(s->profile_id), (*prof)->id);
		return c.st;
	}
	if (ctx->has_matching_id && ctx->matching_id[0]) {
		log_info("matchingId '%s' names no pending order", ctx->matching_id);
		return RSP_ERR_MATCHING_ID_REFUSED;
	}
	log_info("default SM-DP+ case: no released order for EID %s", s->eid);
	return RSP_ERR_EID_MISMATCH;
}

/* The order and profile of an ES9+ session, re-read inside a transaction.
 * 1 when the order is still the profile's pending one, 0 when it is not
 * (cancelled, installed), -1 on error. */
static int session_order(struct store_tx *tx, const struct session *s, struct order *o,
			 struct inv_profile *p)
{
	if (store_tx_order_get(tx, s->order_id, o) != 1 ||
	    store_tx_profile_get(tx, o->iccid, p) != 1)
		return -1;
	return o->active && p->order_id == o->id;
}

struct es9_ctx {
	struct smdp *d;
	struct session *s;
	const struct prepare_download_resp *pdr;
	int point;
	long reason;
	int success;
	const uint8_t *raw;
	size_t raw_len;
	enum rsp_status st;
	int ignored;                    /* tx_pir: the order was not pending */
};

static int tx_check_bpp(struct store_tx *tx, void *arg)
{
	struct es9_ctx *c = arg;
	const struct session *s = c->s;
	struct inv_profile p;
	struct order o;
	uint8_t want[32];
	int r = session_order(tx, s, &o, &p), bad;

	if (r < 0)
		return TX_ERROR;
	if (!r || (p.state != PS_RELEASED && p.state != PS_DOWNLOADED)) {
		c->st = RSP_ERR_PROFILE_NOT_RELEASED;
		return TX_REFUSED;
	}
	if ((int64_t)time(NULL) > o.expires) {
		c->st = RSP_ERR_ORDER_EXPIRED;
		return TX_REFUSED;
	}
	/* what smdpSigned2 announced (ccRequiredFlag) is what is checked */
	if (!s->cc_required)
		return 0;
	if (!o.has_cc)
		return TX_ERROR;
	/* SGP.22 5.7.5 / 5.6.2: hashCc = SHA-256(SHA-256(CC) || transactionId),
	 * the transactionId as the bytes of smdpSigned2 */
	crypto_sha256(o.cc_hash, sizeof(o.cc_hash), s->txid, s->txid_len, want);
	bad = !c->pdr->has_hash_cc || mem_neq(want, c->pdr->hash_cc, sizeof(want));
	crypto_cleanse(want, sizeof(want));
	if (!bad)
		goto out;
	o.cc_failures++;
	c->st = c->pdr->has_hash_cc ? RSP_ERR_CC_WRONG : RSP_ERR_CC_MISSING;
	r = TX_ERROR;
	if (o.cc_failures >= c->d->cfg->cc_max_attempts) {
		/* the order fails; the operator may cancel it (cancelOrder) */
		c->st = RSP_ERR_CC_RETRIES;
		if (transition(tx, &p, PS_ERROR, o.id, s->eid, "confirmation code retries exceeded"))
			goto out;
	}
	if (store_tx_order_update(tx, &o) ||
	    history(tx, &p, s->eid, "cc-failed", "%s, %d of %d", rsp_status_info(c->st)->name,
		    o.cc_failures, c->d->cfg->cc_max_attempts) ||
	    notify(tx, c->d->cfg, &o, &p, s->eid, NP_CONFIRMATION, c->st, NULL, NULL, 0))
		goto out;
	/* committed: the count and the notification stay; the call fails */
	r = 0;
out:
	crypto_cleanse(o.cc_hash, sizeof(o.cc_hash));
	return bad ? r : 0;
}

enum rsp_status orders_es9_check_bpp(struct smdp *d, const struct session *s,
				     const struct prepare_download_resp *p)
{
	struct es9_ctx c;
	enum rsp_status st;

	if (!s->order_id)
		return RSP_OK;
	memset(&c, 0, sizeof(c));
	c.d = d;
	c.s = (struct session *)(uintptr_t)s;
	c.pdr = p;
	st = run(d, tx_check_bpp, &c, &c.st);
	if (st == RSP_ERR_CC_MISSING || st == RSP_ERR_CC_WRONG || st == RSP_ERR_CC_RETRIES)
		es2p_kick(d->es2);
	return st;
}

static int tx_bpp_sent(struct store_tx *tx, void *arg)
{
	struct es9_ctx *c = arg;
	struct inv_profile p;
	struct order o;
	int r = session_order(tx, c->s, &o, &p);

	if (r < 0)
		return TX_ERROR;
	if (!r || (p.state != PS_RELEASED && p.state != PS_DOWNLOADED)) {
		c->st = RSP_ERR_PROFILE_NOT_RELEASED;   /* cancelled meanwhile */
		return TX_REFUSED;
	}
	if ((p.state != PS_DOWNLOADED &&
	     transition(tx, &p, PS_DOWNLOADED, o.id, c->s->eid, "getBoundProfilePackage")) ||
	    notify(tx, c->d->cfg, &o, &p, c->s->eid, NP_BPP_DOWNLOAD, RSP_OK, NULL, NULL, 0))
		return TX_ERROR;
	return 0;
}

enum rsp_status orders_es9_bpp_sent(struct smdp *d, struct session *s,
				    struct store_es9_writes *w)
{
	struct es9_ctx c;
	int r;

	s->state = SESSION_BPP_SENT;
	w->session = s;
	w->session_insert = 0;
	if (!s->order_id)
		return store_es9_write(d->store, w) ? RSP_ERR_INTERNAL : RSP_OK;
	memset(&c, 0, sizeof(c));
	c.d = d;
	c.s = s;
	/* the order is checked before anything is written: a cancelled order
	 * keeps no row of this call (the profile's history row comes first) */
	w->fn = tx_bpp_sent;
	w->arg = &c;
	w->fn_first = 1;
	r = store_es9_write(d->store, w);
	es2p_kick(d->es2);
	if (r < 0 || (r > 0 && c.st == RSP_OK))
		return RSP_ERR_INTERNAL;
	return c.st;
}

static int tx_failed(struct store_tx *tx, void *arg)
{
	struct es9_ctx *c = arg;
	struct inv_profile p;
	struct order o;
	int r = session_order(tx, c->s, &o, &p);

	if (r <= 0)
		return r < 0 ? TX_ERROR : 0;
	return notify(tx, c->d->cfg, &o, &p, c->s->eid, c->point, c->st, NULL, NULL, 0) ?
		TX_ERROR : 0;
}

int orders_es9_failed(struct smdp *d, const struct session *s, int point, enum rsp_status st,
		      struct store_es9_writes *w)
{
	struct es9_ctx c;
	int r;

	if (!s->order_id || point <= 0)
		return store_es9_write(d->store, w) ? -1 : 0;
	memset(&c, 0, sizeof(c));
	c.d = d;
	c.s = (struct session *)(uintptr_t)s;
	c.point = point;
	c.st = st;
	w->fn = tx_failed;
	w->arg = &c;
	w->fn_first = 0;
	r = store_es9_write(d->store, w);
	if (r)
		log_warn("order %lld: could not queue the operator notification",
			 (long long)s->order_id);
	es2p_kick(d->es2);
	return r ? -1 : 0;
}

static int tx_pir(struct store_tx *tx, void *arg)
{
	struct es9_ctx *c = arg;
	struct inv_profile p;
	struct order o;
	int r = session_order(tx, c->s, &o, &p);

	if (r < 0)
		return TX_ERROR;
	/* a repeated PIR, or one for an order cancelled meanwhile: no change
	 * to the order; the call's own rows (session, notification) still go */
	if (!r || (p.state != PS_DOWNLOADED && p.state != PS_RELEASED)) {
		c->ignored = 1;
		return 0;
	}
	if (c->success) {
		o.active = 0;   /* done: its matchingId may be used again */
		if (store_tx_order_update(tx, &o))
			return TX_ERROR;
	}
	if (transition(tx, &p, c->success ? PS_INSTALLED : PS_ERROR, o.id, c->s->eid,
		       c->success ? "PIR successResult" : "PIR errorResult") ||
	    notify(tx, c->d->cfg, &o, &p, c->s->eid, NP_BPP_INSTALL,
		   c->success ? RSP_OK : RSP_ERR_INSTALL_FAILED, NULL, c->raw, c->raw_len))
		return TX_ERROR;
	return 0;
}

int orders_es9_pir(struct smdp *d, const struct session *s, int success, const uint8_t *pir,
		   size_t n, struct store_es9_writes *w)
{
	struct es9_ctx c;
	int r;

	if (!s->order_id)
		return store_es9_write(d->store, w) ? -1 : 0;
	memset(&c, 0, sizeof(c));
	c.d = d;
	c.s = (struct session *)(uintptr_t)s;
	c.success = success;
	c.raw = pir;
	c.raw_len = n;
	/* after the session's rows: its "installed" history event comes
	 * before the profile's transition, as the eUICC reported it first */
	w->fn = tx_pir;
	w->arg = &c;
	w->fn_first = 0;
	r = store_es9_write(d->store, w);
	if (r)
		log_warn("order %lld: could not record the PIR", (long long)s->order_id);
	else if (c.ignored)
		log_info("order %lld: PIR ignored (order no longer pending)", (long long)s->order_id);
	es2p_kick(d->es2);
	return r ? -1 : 0;
}

static int tx_cancel_session(struct store_tx *tx, void *arg)
{
	struct es9_ctx *c = arg;
	struct inv_profile p;
	struct order o;
	char msg[96];
	int r = session_order(tx, c->s, &o, &p);

	if (r <= 0)
		return r < 0 ? TX_ERROR : 0;
	if (p.state == PS_RELEASED || p.state == PS_DOWNLOADED) {
		/* SGP.22 5.6.5: postponed and timeout leave the order for a later
		 * attempt (an eUICC error without a reason too); the other reasons
		 * end it in Error until the operator cancels or re-orders */
		int retry = c->reason == 1 || c->reason == 2 || c->reason < 0;
		enum profile_state to = retry ? PS_RELEASED : PS_ERROR;
		if (to != p.state && transition(tx, &p, to, o.id, c->s->eid, "cancelSession"))
			return TX_ERROR;
	}
	snprintf(msg, sizeof(msg), "cancelSession reason %ld", c->reason);
	return notify(tx, c->d->cfg, &o, &p, c->s->eid, c->point, RSP_ERR_SESSION_CANCELLED, msg,
		      NULL, 0) ? TX_ERROR : 0;
}

int orders_es9_cancel(struct smdp *d, const struct session *s, long reason,
		      struct store_es9_writes *w)
{
	struct es9_ctx c;
	int r;

	if (!s->order_id)
		return store_es9_write(d->store, w) ? -1 : 0;
	memset(&c, 0, sizeof(c));
	c.d = d;
	c.s = (struct session *)(uintptr_t)s;
	c.reason = reason;
	/* where the download stopped: before or after the BPP went out */
	c.point = s->state == SESSION_BPP_SENT ? NP_BPP_INSTALL : NP_BPP_DOWNLOAD;
	/* the profile's transition first, then the session's "cancelled" */
	w->fn = tx_cancel_session;
	w->arg = &c;
	w->fn_first = 1;
	r = store_es9_write(d->store, w);
	if (r)
		log_warn("order %lld: could not apply the cancelSession", (long long)s->order_id);
	es2p_kick(d->es2);
	return r ? -1 : 0;
}
