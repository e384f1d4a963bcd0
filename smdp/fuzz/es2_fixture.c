/* es2_fixture.c - the ES2+ side of the fuzz fixture (see fuzz_common.h):
 * two operators as the mutual-TLS layer identifies them and an inventory
 * holding a profile in every state of the SGP.22 lifecycle (5.3), so that
 * downloadOrder, confirmOrder, cancelOrder and releaseProfile inputs reach
 * their real transitions, not just the "unknown ICCID" answer. */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One inventory row of the fixture and the order it belongs to. */
struct row {
	const char *iccid;
	const char *type;
	enum profile_state state;
	int order;          /* 0 none, 1 an order (fields below) */
	const char *eid;
	int confirmed;
	const char *mid;
	int has_cc;
	int active;
	int expired;
};

/* ICCIDs 8999 0000 0000 000x yyyy; one of 19 digits (F-padded on ES2+). */
static const struct row rows[] = {
	{ "89990000000000020001", "ta", PS_AVAILABLE, 0, "", 0, "", 0, 0, 0 },
	{ "89990000000000020002", "ta", PS_ALLOCATED, 1, "", 0, "", 0, 1, 0 },
	{ "89990000000000020003", "ta", PS_LINKED, 1, FX2_EID1, 0, "", 0, 1, 0 },
	{ "89990000000000020004", "ta", PS_CONFIRMED, 1, FX2_EID1, 1, "FUZZ4-CONF0-00000-00004", 1, 1, 0 },
	{ "89990000000000020005", "ta", PS_RELEASED, 1, "", 1, "FUZZ5-RELSD-00000-00005", 0, 1, 0 },
	{ "8999000000000002006", "ta", PS_RELEASED, 1, FX2_EID2, 1, "", 0, 1, 0 },
	{ "89990000000000020007", "ta", PS_DOWNLOADED, 1, FX2_EID1, 1, "FUZZ7-DWNLD-00000-00007", 0, 1, 0 },
	{ "89990000000000020008", "ta", PS_INSTALLED, 1, FX2_EID1, 1, "FUZZ8-INSTD-00000-00008", 0, 0, 0 },
	{ "89990000000000020009", "ta", PS_ERROR, 1, FX2_EID1, 1, "FUZZ9-ERROR-00000-00009", 0, 1, 0 },
	{ "89990000000000020010", "ta", PS_UNAVAILABLE, 0, "", 0, "", 0, 0, 0 },
	{ "89990000000000020011", "ta", PS_RELEASED, 1, "", 1, "FUZZB-EXPRD-00000-00011", 0, 1, 1 },
	{ "89990000000000020012", "ta", PS_CONFIRMED, 1, "", 1, "FUZZC-CONF0-00000-00012", 0, 1, 0 },
	{ "89990000000000020101", "pool", PS_AVAILABLE, 0, "", 0, "", 0, 0, 0 },
	{ "89990000000000020102", "pool", PS_AVAILABLE, 0, "", 0, "", 0, 0, 0 },
	{ "89990000000000020103", "pool", PS_AVAILABLE, 0, "", 0, "", 0, 0, 0 },
	{ "89990000000000020201", "empty", PS_ALLOCATED, 1, "", 0, "", 0, 1, 0 },
	{ "89990000000000030001", "tb", PS_AVAILABLE, 0, "", 0, "", 0, 0, 0 },
	{ "89990000000000030002", "tb", PS_CONFIRMED, 1, FX2_EID1, 1, "FUZZD-OPBCF-00000-30002", 0, 1, 0 },
	{ "89990000000000040001", "orphan", PS_AVAILABLE, 0, "", 0, "", 0, 0, 0 },
};

static int configure(struct smdp_config *cfg, char *err, size_t errsz)
{
	static const char *const kv[][2] = {
		{ "mode", "orders" },
		{ "operator.a.id", FX2_OP_A },
		{ "operator.a.profile-types", "ta, pool, empty" },
		{ "operator.a.notify-url", "https://127.0.0.1:9/es2" },
		{ "operator.b.id", FX2_OP_B },
		{ "operator.b.profile-types", "tb" },
		{ "operator.b.client-cert", FX2_PIN_CERT },
	};

	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (config_set(cfg, kv[i][0], kv[i][1], err, errsz))
			return -1;
	cfg->max_attempts = 3;
	cfg->cc_max_attempts = 3;
	return config_check(cfg, err, errsz);
}

/* First write: every row, each order inserted before its profile. */
static int tx_make(struct store_tx *tx, void *arg)
{
	struct es2_fixture *fx = arg;
	int64_t now = (int64_t)time(NULL);

	for (size_t i = 0; i < fx->n; i++) {
		const struct row *r = &rows[i];
		struct inv_profile *p = &fx->p[i];
		struct order *o = &fx->o[i];

		memset(p, 0, sizeof(*p));
		memset(o, 0, sizeof(*o));
		snprintf(p->iccid, sizeof(p->iccid), "%s", r->iccid);
		snprintf(p->file, sizeof(p->file), "%s", FX_PROFILE);
		snprintf(p->type, sizeof(p->type), "%s", r->type);
		p->state = PS_AVAILABLE;
		p->updated = now;
		if (store_tx_profile_insert(tx, p))
			return -1;
		p->state = r->state;
		if (r->order) {
			snprintf(o->iccid, sizeof(o->iccid), "%s", r->iccid);
			snprintf(o->eid, sizeof(o->eid), "%s", r->eid);
			snprintf(o->matching_id, sizeof(o->matching_id), "%s", r->mid);
			o->confirmed = r->confirmed;
			o->has_cc = r->has_cc;
			if (r->has_cc)
				crypto_sha256((const uint8_t *)FX2_CC, strlen(FX2_CC), NULL, 0,
					      o->cc_hash);
			o->active = r->active;
			o->created = now;
			o->expires = r->expired ? now - 1 : now + 10 * 365 * 24 * 3600LL;
			/* operator_id as orders_download sets it: the type's owner */
			snprintf(o->operator_id, sizeof(o->operator_id), "%s",
				 !strcmp(r->type, "tb") ? FX2_OP_B : FX2_OP_A);
			if (store_tx_order_insert(tx, o, &o->id))
				return -1;
			p->order_id = o->id;
			if (o->id > fx->max_order_id)
				fx->max_order_id = o->id;
		}
		if (store_tx_profile_update(tx, p))
			return -1;
	}
	return 0;
}

static int cert_der(const char *path, struct buf *out)
{
	crypto_cert *c = crypto_cert_load(path);
	const uint8_t *der;
	size_t n;
	int rc = -1;

	if (c) {
		der = crypto_cert_der(c, &n);
		rc = buf_set(out, der, n);
	}
	crypto_cert_free(c);
	return rc;
}

int es2_fixture_open(struct fuzz_smdp *f, const char *db, struct es2_fixture *fx, char *err,
		     size_t errsz)
{
	memset(fx, 0, sizeof(*fx));
	fx->n = sizeof(rows) / sizeof(rows[0]);
	err[0] = '\0';
	if (fuzz_smdp_open(f, db, err, errsz))
		return -1;
	if (configure(&f->cfg, err, errsz))
		goto fail;
	if (cert_der(FX2_PIN_CERT, &fx->pin) || cert_der(FX_EUICC_DIR "/euicc.der", &fx->other) ||
	    store_transact(f->d.store, tx_make, fx)) {
		snprintf(err, errsz, "es2 fixture: cannot read the certificates or write the inventory");
		goto fail;
	}
	fx->scan_from = fx->max_order_id + 1;
	return 0;
fail:
	es2_fixture_close(f, fx);
	return -1;
}

void es2_fixture_close(struct fuzz_smdp *f, struct es2_fixture *fx)
{
	buf_free(&fx->pin);
	buf_free(&fx->other);
	fuzz_smdp_close(f);
}

/* The reset: retire orders made by inputs, free every fixture order's
 * matchingId (so an input that moved one to another order cannot block
 * the write back), then the template orders and profiles. */
static int tx_reset(struct store_tx *tx, void *arg)
{
	struct es2_fixture *fx = arg;
	struct order o;
	int64_t id;
	int r;

	/* nothing refers to a retired order once the profiles are written
	 * back, so each is looked at once: the next scan starts after it */
	for (id = fx->scan_from;; id++) {
		r = store_tx_order_get(tx, id, &o);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		if (o.active) {
			o.active = 0;
			if (store_tx_order_update(tx, &o))
				return -1;
		}
	}
	fx->scan_from = id;
	for (size_t i = 0; i < fx->n; i++) {
		if (!fx->o[i].id)
			continue;
		o = fx->o[i];
		o.active = 0;
		o.matching_id[0] = '\0';
		if (store_tx_order_update(tx, &o))
			return -1;
	}
	for (size_t i = 0; i < fx->n; i++)
		if ((fx->o[i].id && store_tx_order_update(tx, &fx->o[i])) ||
		    store_tx_profile_update(tx, &fx->p[i]))
			return -1;
	return 0;
}

int es2_fixture_install(struct fuzz_smdp *f, struct es2_fixture *fx)
{
	return store_transact(f->d.store, tx_reset, fx) ? -1 : 0;
}

int es2_fixture_call(struct fuzz_smdp *f, struct es2_fixture *fx, uint8_t sel,
		     const uint8_t *body, size_t n, struct http_response *rs)
{
	static const char *const functions[4] = {
		"downloadOrder", "confirmOrder", "cancelOrder", "releaseProfile",
	};
	static const char *const protocols[4] = {
		"gsma/rsp/v2.5.0", "gsma/rsp/v2.5.0", "", "gsma/rsp/v3.0.0",
	};
	struct http_request rq;
	char path[128];
	uint8_t *copy;
	int cert = (sel >> 2) & 3, odd = -1;

	if (es2_fixture_install(f, fx))
		return -2;
	if ((sel >> 6) == 3) {
		odd = cert;
		cert = 0;
	}
	/* http.c hands over a NUL-terminated copy of exactly body_len bytes */
	copy = malloc(n + 1);
	if (!copy)
		return -2;
	if (n)
		memcpy(copy, body, n);
	copy[n] = '\0';
	memset(&rq, 0, sizeof(rq));
	snprintf(path, sizeof(path), "/gsma/rsp2/es2plus/%s",
		 odd == 0 ? "handleDownloadProgressInfo" : functions[sel & 3]);
	rq.method = odd == 1 ? "GET" : "POST";
	rq.path = path;
	rq.content_type = odd == 2 ? "text/plain" : odd == 3 ? "Application/JSON; charset=UTF-8"
							       : "application/json";
	rq.admin_protocol = protocols[(sel >> 4) & 3];
	rq.remote_addr = "127.0.0.1";
	rq.authorization = "";
	rq.body = copy;
	rq.body_len = n;
	/* what the mutual-TLS layer reports: the peer's certificate or none */
	rq.client_cert = cert < 2 ? fx->pin.p : cert == 2 ? fx->other.p : NULL;
	rq.client_cert_len = cert < 2 ? fx->pin.len : cert == 2 ? fx->other.len : 0;
	rs->status = 500;
	es2p_json_handle(&f->d, &rq, rs);
	free(copy);
	return odd;
}

int es2_fixture_find(const struct es2_fixture *fx, const char *iccid)
{
	for (size_t i = 0; i < fx->n; i++)
		if (!strcmp(fx->p[i].iccid, iccid))
			return (int)i;
	return -1;
}
