/* console.c - the admin listener (issue 7): HTTPS on 127.0.0.1:8446 by
 * default, a JSON admin API under /api/ behind a bearer token, the web
 * console (plain HTML/CSS/JS from admin.web, no build step), activation
 * codes as QR code PNGs (libqrencode + a small PNG writer on zlib), and
 * /metrics, open to loopback clients. */
#include "lab.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define ADMIN_THREADS    4          /* a console and a script or two */
#define QR_SCALE         8          /* pixels per module */
#define QR_MARGIN        4          /* quiet zone, modules (ISO/IEC 18004) */
#define QR_MAX_TEXT      512        /* an activation code is far shorter */
#define TOKEN_BYTES      24         /* random token: 48 hex characters */

/* ------------------------------------------------------------------ */
/* QR code PNG */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One PNG chunk: length, type, data, CRC-32 of type and data (PNG 5.3). */
static int png_chunk(struct buf *b, const char *type, const uint8_t *data, size_t n)
{
	uint8_t hdr[8], crc[4];
	uLong c = crc32(0L, Z_NULL, 0);

	if (n > 0x7fffffff)
		return -1;
	put32(hdr, (uint32_t)n);
	memcpy(hdr + 4, type, 4);
	c = crc32(c, (const Bytef *)type, 4);
	if (n)
		c = crc32(c, data, (uInt)n);
	put32(crc, (uint32_t)c);
	return buf_append(b, hdr, 8) || (n && buf_append(b, data, n)) || buf_append(b, crc, 4) ?
	       -1 : 0;
}

int console_qr_png(const char *text, struct buf *out)
{
	static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	QRcode *qr = NULL;
	uint8_t *raw = NULL, *z = NULL, ihdr[13];
	size_t side, row;
	uLongf zlen;
	int rc = -1;

	buf_free(out);
	if (!text || !text[0] || strlen(text) > QR_MAX_TEXT)
		goto out;
	qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!qr)
		goto out;
	side = ((size_t)qr->width + 2 * QR_MARGIN) * QR_SCALE;
	row = side + 1;                     /* filter byte 0 (None) + 8-bit gray */
	if (!(raw = malloc(row * side)))
		goto out;
	for (size_t y = 0; y < side; y++) {
		uint8_t *r = raw + y * row;
		long my = (long)(y / QR_SCALE) - QR_MARGIN;
		r[0] = 0;
		for (size_t x = 0; x < side; x++) {
			long mx = (long)(x / QR_SCALE) - QR_MARGIN;
			int dark = my >= 0 && mx >= 0 && my < qr->width && mx < qr->width &&
				   (qr->data[my * qr->width + mx] & 1);
			r[1 + x] = dark ? 0x00 : 0xFF;
		}
	}
	zlen = compressBound((uLong)(row * side));
	if (!(z = malloc(zlen)) || compress2(z, &zlen, raw, (uLong)(row * side), 9) != Z_OK)
		goto out;
	put32(ihdr, (uint32_t)side);
	put32(ihdr + 4, (uint32_t)side);
	ihdr[8] = 8;                        /* bit depth */
	ihdr[9] = 0;                        /* greyscale */
	ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filtering, no interlace */
	if (buf_append(out, sig, sizeof(sig)) || png_chunk(out, "IHDR", ihdr, sizeof(ihdr)) ||
	    png_chunk(out, "IDAT", z, zlen) || png_chunk(out, "IEND", NULL, 0))
		goto out;
	rc = 0;
out:
	if (rc)
		buf_free(out);
	QRcode_free(qr);
	free(raw);
	free(z);
	return rc;
}

/* ------------------------------------------------------------------ */
/* responses */

static void respond(struct http_response *rs, int status, const char *ct, const void *p,
		    size_t n)
{
	rs->status = status;
	str_copy(rs->content_type, sizeof(rs->content_type), ct);
	buf_free(&rs->body);
	if (n && buf_set(&rs->body, p, n)) {
		rs->status = 500;
		snprintf(rs->content_type, sizeof(rs->content_type), "text/plain");
	}
}

/* Send o (consumed) as JSON. */
static void respond_json(struct http_response *rs, int status, cJSON *o)
{
	char *t = o ? cJSON_Print(o) : NULL;

	if (!t)
		respond(rs, 500, "text/plain", "out of memory\n", 14);
	else
		respond(rs, status, "application/json", t, strlen(t));
	free(t);
	cJSON_Delete(o);
}

static void respond_error(struct http_response *rs, int status, const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	if (o)
		cJSON_AddStringToObject(o, "error", msg);
	respond_json(rs, status, o);
}

/* ------------------------------------------------------------------ */
/* access */

static int is_loopback(const char *addr)
{
	return addr && (!strncmp(addr, "127.", 4) || !strcmp(addr, "::1") ||
			!strncmp(addr, "::ffff:127.", 11));
}

/* Authorization: Bearer <token>, compared in constant time. */
static int token_ok(const struct lab *lab, const char *auth)
{
	size_t n = strlen(lab->token);

	if (!auth || strncasecmp(auth, "Bearer ", 7))
		return 0;
	auth += 7;
	return strlen(auth) == n && n > 0 && !mem_neq(auth, lab->token, n);
}

/* ------------------------------------------------------------------ */
/* the API */

struct list_arg {
	struct lab *lab;
	cJSON *arr;
	const char *iccid;              /* qr: the profile looked for */
	struct order found;
	int has_found;
};

static void session_cb(void *arg, const struct lab_tx_summary *s)
{
	struct list_arg *a = arg;
	cJSON *o = lab_summary_json(s);

	if (o)
		cJSON_AddItemToArray(a->arr, o);
}

static void api_sessions(struct lab *lab, struct http_response *rs)
{
	struct list_arg a = { lab, NULL, NULL, { 0 }, 0 };
	cJSON *o = cJSON_CreateObject();

	lab_trace_flush(lab);   /* calls answered before this one are listed */
	if (!o || !(a.arr = cJSON_AddArrayToObject(o, "sessions")) ||
	    store_trace_list(lab->d->store, LAB_MAX_LIST, session_cb, &a)) {
		cJSON_Delete(o);
		respond_error(rs, 500, "cannot list sessions");
		return;
	}
	cJSON_AddNumberToObject(o, "inFlight",
				(double)store_sessions_in_flight(lab->d->store, (int64_t)time(NULL)));
	respond_json(rs, 200, o);
}

static void api_trace(struct lab *lab, const char *txid, struct http_response *rs)
{
	cJSON *o;

	if (strlen(txid) >= LAB_TXID_TEXT) {
		respond_error(rs, 404, "no such transaction");
		return;
	}
	lab_trace_flush(lab);
	o = lab_trace_json(lab->d->store, txid);
	if (!o) {
		respond_error(rs, 404, "no such transaction");
		return;
	}
	respond_json(rs, 200, o);
}

static void api_faults(struct lab *lab, struct http_response *rs)
{
	struct fault_rule *v = calloc(LAB_MAX_FAULTS, sizeof(*v));
	cJSON *o = cJSON_CreateObject(), *arr;
	int n;

	if (!v || !o || !(arr = cJSON_AddArrayToObject(o, "faults")) ||
	    (n = store_fault_list(lab->d->store, v, LAB_MAX_FAULTS)) < 0) {
		free(v);
		cJSON_Delete(o);
		respond_error(rs, 500, "cannot list fault rules");
		return;
	}
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, fault_to_json(&v[i]));
	free(v);
	respond_json(rs, 200, o);
}

/* POST /api/faults {"name": "...", "spec": "function=... action=...",
 * "enabled": true}: add or replace the rule of that name. */
static void api_fault_add(struct lab *lab, const struct http_request *rq,
			  struct http_response *rs)
{
	cJSON *in = lab_json_depth_ok(rq->body, rq->body_len, LAB_MAX_JSON_DEPTH) ?
		    cJSON_ParseWithLength((const char *)rq->body, rq->body_len) : NULL;
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(in, "spec");
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(in, "enabled");
	struct fault_rule r;
	char err[256];

	memset(&r, 0, sizeof(r));
	if (!cJSON_IsString(name) || !lab_name_ok(name->valuestring)) {
		respond_error(rs, 400, "name: 1..48 characters of [A-Za-z0-9._-]");
		goto out;
	}
	if (!cJSON_IsString(spec) || fault_parse(spec->valuestring, &r, err, sizeof(err))) {
		respond_error(rs, 400, cJSON_IsString(spec) ? err : "spec: a rule text is required");
		goto out;
	}
	if (cJSON_IsBool(en))
		r.enabled = cJSON_IsTrue(en);
	str_copy(r.name, sizeof(r.name), name->valuestring);
	snprintf(r.origin, sizeof(r.origin), "api");
	r.created = (int64_t)time(NULL);
	if (store_fault_put(lab->d->store, &r)) {
		respond_error(rs, 500, "cannot store the rule");
		goto out;
	}
	log_info("lab: fault rule %s set over the admin API", r.name);
	respond_json(rs, 201, fault_to_json(&r));
out:
	cJSON_Delete(in);
}

/* /api/faults/<id>[/enable|/disable] */
static void api_fault_one(struct lab *lab, const struct http_request *rq, const char *rest,
			  struct http_response *rs)
{
	char *end;
	long long id;
	int r;

	errno = 0;
	id = strtoll(rest, &end, 10);
	if (errno || id <= 0 || (*end && *end != '/')) {
		respond_error(rs, 404, "no such rule");
		return;
	}
	if (!strcmp(rq->method, "DELETE") && !*end)
		r = store_fault_delete(lab->d->store, id);
	else if (!strcmp(rq->method, "POST") && !strcmp(end, "/enable"))
		r = store_fault_enable(lab->d->store, id, 1);
	else if (!strcmp(rq->method, "POST") && !strcmp(end, "/disable"))
		r = store_fault_enable(lab->d->store, id, 0);
	else {
		respond_error(rs, 405, "DELETE /api/faults/ID or POST /api/faults/ID/enable|disable");
		return;
	}
	if (r < 0)
		respond_error(rs, 500, "database error");
	else if (r == 0)
		respond_error(rs, 404, "no such rule");
	else
		api_faults(lab, rs);
}

static void profile_cb(void *arg, const struct inv_profile *p, const struct order *o)
{
	struct list_arg *a = arg;
	cJSON *e, *oo;
	char ac[SMDP_MAX_ADDRESS + SMDP_MAX_MATCHING_ID + 16], url[96];

	if (a->iccid) {
		if (!strcmp(a->iccid, p->iccid) && o) {
			a->found = *o;
			a->has_found = 1;
		}
		return;
	}
	if (!(e = cJSON_CreateObject()))
		return;
	cJSON_AddStringToObject(e, "iccid", p->iccid);
	cJSON_AddStringToObject(e, "file", p->file);
	cJSON_AddStringToObject(e, "type", p->type);
	cJSON_AddStringToObject(e, "state", orders_state_name(p->state));
	cJSON_AddNumberToObject(e, "updated", (double)p->updated);
	if (o && (oo = cJSON_AddObjectToObject(e, "order"))) {
		cJSON_AddNumberToObject(oo, "id", (double)o->id);
		cJSON_AddStringToObject(oo, "operator", o->operator_id);
		cJSON_AddStringToObject(oo, "eid", o->eid);
		cJSON_AddBoolToObject(oo, "confirmed", o->confirmed);
		cJSON_AddStringToObject(oo, "matchingId", o->matching_id);
		cJSON_AddBoolToObject(oo, "confirmationCodeRequired", o->has_cc);
		cJSON_AddNumberToObject(oo, "attempts", (double)o->attempts);
		cJSON_AddNumberToObject(oo, "expires", (double)o->expires);
		cJSON_AddBoolToObject(oo, "active", o->active);
		orders_activation_code(a->lab->d->cfg, o, ac, sizeof(ac));
		if (ac[0] && o->active) {
			cJSON_AddStringToObject(oo, "activationCode", ac);
			snprintf(url, sizeof(url), "/api/qr/order/%s", p->iccid);
			cJSON_AddStringToObject(oo, "qr", url);
		}
	}
	cJSON_AddItemToArray(a->arr, e);
}

/* GET /api/profiles: the inventory with its orders (ES2+ states), and the
 * profile files a lab-mode matchingId names directly. */
static void api_profiles(struct lab *lab, struct http_response *rs)
{
	struct list_arg a = { lab, NULL, NULL, { 0 }, 0 };
	const struct smdp *d = lab->d;
	cJSON *o = cJSON_CreateObject(), *files;
	char ac[SMDP_MAX_ADDRESS + SMDP_MAX_ID + 16], iccid[21], url[96];

	if (!o || !(a.arr = cJSON_AddArrayToObject(o, "inventory")) ||
	    !(files = cJSON_AddArrayToObject(o, "files"))) {
		cJSON_Delete(o);
		respond_error(rs, 500, "out of memory");
		return;
	}
	cJSON_AddStringToObject(o, "mode", d->cfg->mode == MODE_ORDERS ? "orders" : "lab");
	if (store_profile_each(d->store, PS_NONE, NULL, profile_cb, &a))
		cJSON_AddStringToObject(o, "inventoryError", "the inventory could not be read");
	for (size_t i = 0; i < d->profiles.n; i++) {
		const struct profile *p = &d->profiles.v[i];
		cJSON *e = cJSON_CreateObject();
		if (!e)
			break;
		saip_iccid_text(p->meta.iccid, iccid);
		cJSON_AddStringToObject(e, "id", p->id);
		cJSON_AddStringToObject(e, "iccid", iccid);
		cJSON_AddStringToObject(e, "profileName", p->meta.name);
		cJSON_AddStringToObject(e, "serviceProviderName", p->meta.spn);
		cJSON_AddNumberToObject(e, "bytes", (double)p->upp.len);
		if (d->cfg->mode != MODE_ORDERS) {
			snprintf(ac, sizeof(ac), "LPA:1$%s$%s", d->cfg->fqdn, p->id);
			cJSON_AddStringToObject(e, "activationCode", ac);
			snprintf(url, sizeof(url), "/api/qr/profile/%s", p->id);
			cJSON_AddStringToObject(e, "qr", url);
		}
		cJSON_AddItemToArray(files, e);
	}
	respond_json(rs, 200, o);
}

/* GET /api/qr/order/<iccid> and /api/qr/profile/<id>: the activation code
 * as a PNG. The server builds the text itself: no arbitrary QR content. */
static void api_qr(struct lab *lab, const char *rest, struct http_response *rs)
{
	const struct smdp *d = lab->d;
	char ac[SMDP_MAX_ADDRESS + SMDP_MAX_MATCHING_ID + 16] = "";
	struct buf png = { 0 };

	if (!strncmp(rest, "order/", 6) && strlen(rest + 6) <= SMDP_ICCID_LEN) {
		struct list_arg a = { lab, NULL, rest + 6, { 0 }, 0 };
		if (store_profile_each(d->store, PS_NONE, NULL, profile_cb, &a) == 0 &&
		    a.has_found && a.found.active)
			orders_activation_code(d->cfg, &a.found, ac, sizeof(ac));
	} else if (!strncmp(rest, "profile/", 8) && d->cfg->mode != MODE_ORDERS &&
		   saip_find(&d->profiles, rest + 8)) {
		snprintf(ac, sizeof(ac), "LPA:1$%s$%s", d->cfg->fqdn, rest + 8);
	}
	if (!ac[0]) {
		respond_error(rs, 404, "no activation code there");
		return;
	}
	if (console_qr_png(ac, &png)) {
		respond_error(rs, 500, "cannot make the QR code");
		return;
	}
	rs->status = 200;
	snprintf(rs->content_type, sizeof(rs->content_type), "image/png");
	buf_free(&rs->body);
	rs->body = png;
}

static void api_info(struct lab *lab, struct http_response *rs)
{
	const struct smdp_config *cfg = lab->d->cfg;
	cJSON *o = cJSON_CreateObject(), *ls;

	if (o) {
		cJSON_AddStringToObject(o, "fqdn", cfg->fqdn);
		cJSON_AddStringToObject(o, "mode", cfg->mode == MODE_ORDERS ? "orders" : "lab");
		if ((ls = cJSON_AddArrayToObject(o, "es9Listeners")))
			for (size_t i = 0; i < cfg->n_es9; i++) {
				char t[96];
				if (cfg->es9[i].port < 0)
					continue;
				snprintf(t, sizeof(t), "%s %s:%d", cfg->es9[i].name, cfg->es9[i].addr,
					 cfg->es9[i].port);
				cJSON_AddItemToArray(ls, cJSON_CreateString(t));
			}
		cJSON_AddNumberToObject(o, "sessionTimeout", cfg->session_timeout);
		cJSON_AddBoolToObject(o, "traces", lab->cfg.traces);
		cJSON_AddNumberToObject(o, "traceKeep", lab->cfg.trace_keep);
		cJSON_AddNumberToObject(o, "labSchema", store_schema_version(lab->d->store));
		cJSON_AddNumberToObject(o, "sessionsInFlight",
					(double)store_sessions_in_flight(lab->d->store,
									     (int64_t)time(NULL)));
	}
	respond_json(rs, 200, o);
}

static void serve_metrics(struct lab *lab, struct http_response *rs)
{
	struct buf b = { 0 };

	if (metrics_render(lab->metrics,
			   store_sessions_in_flight(lab->d->store, (int64_t)time(NULL)), &b)) {
		respond(rs, 500, "text/plain", "metrics unavailable\n", 20);
		return;
	}
	rs->status = 200;
	snprintf(rs->content_type, sizeof(rs->content_type), "text/plain; version=0.0.4");
	buf_free(&rs->body);
	rs->body = b;
}

/* The console files: a fixed list, so no path from the request reaches
 * the file system. */
static void serve_static(struct lab *lab, const char *path, struct http_response *rs)
{
	static const struct { const char *path, *file, *type; } files[] = {
		{ "/", "index.html", "text/html; charset=utf-8" },
		{ "/index.html", "index.html", "text/html; charset=utf-8" },
		{ "/app.js", "app.js", "text/javascript; charset=utf-8" },
		{ "/style.css", "style.css", "text/css; charset=utf-8" },
	};
	char fp[600];
	struct buf b = { 0 };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (strcmp(path, files[i].path))
			continue;
		snprintf(fp, sizeof(fp), "%s/%s", lab->cfg.web_dir, files[i].file);
		if (file_read(fp, LAB_MAX_WEB_FILE, &b)) {
			log_warn("lab: console file %s: %s", fp, strerror(errno));
			respond(rs, 500, "text/plain", "console file missing\n", 21);
			return;
		}
		rs->status = 200;
		str_copy(rs->content_type, sizeof(rs->content_type), files[i].type);
		buf_free(&rs->body);
		rs->body = b;
		return;
	}
	respond_error(rs, 404, "not found");
}

void console_handle(void *ctx, const struct http_request *rq, struct http_response *rs)
{
	struct lab *lab = ctx;
	const char *p = rq->path;
	int get = !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD");

	if (!strcmp(p, "/metrics")) {
		if (!is_loopback(rq->remote_addr) && !token_ok(lab, rq->authorization))
			respond_error(rs, 401, "token required");
		else if (!get)
			respond_error(rs, 405, "GET only");
		else
			serve_metrics(lab, rs);
		return;
	}
	if (strncmp(p, "/api/", 5)) {
		/* the pages hold no data; everything they show comes from /api/ */
		if (!get)
			respond_error(rs, 405, "GET only");
		else
			serve_static(lab, p, rs);
		return;
	}
	if (!token_ok(lab, rq->authorization)) {
		respond_error(rs, 401, "Authorization: Bearer <admin token> required");
		return;
	}
	p += 5;
	if (!strcmp(p, "info") && get)
		api_info(lab, rs);
	else if (!strcmp(p, "sessions") && get)
		api_sessions(lab, rs);
	else if (!strncmp(p, "traces/", 7) && get)
		api_trace(lab, p + 7, rs);
	else if (!strcmp(p, "faults") && get)
		api_faults(lab, rs);
	else if (!strcmp(p, "faults") && !strcmp(rq->method, "POST"))
		api_fault_add(lab, rq, rs);
	else if (!strcmp(p, "faults") && !strcmp(rq->method, "DELETE")) {
		if (store_fault_delete(lab->d->store, 0) < 0)
			respond_error(rs, 500, "database error");
		else
			api_faults(lab, rs);
	} else if (!strncmp(p, "faults/", 7))
		api_fault_one(lab, rq, p + 7, rs);
	else if (!strcmp(p, "profiles") && get)
		api_profiles(lab, rs);
	else if (!strncmp(p, "qr/", 3) && get)
		api_qr(lab, p + 3, rs);
	else
		respond_error(rs, 404, "no such API");
}

/* ------------------------------------------------------------------ */
/* start / stop */

/* The token: configured, or random and written to the token file (mode
 * 0600) for the CLI and the user; never logged. 0 / -1. */
static int setup_token(struct lab *lab, char *err, size_t errsz)
{
	uint8_t r[TOKEN_BYTES];
	char path[600];
	int fd = -1, rc = -1;
	size_t n;

	if (lab->cfg.admin_token[0]) {
		str_copy(lab->token, sizeof(lab->token), lab->cfg.admin_token);
		return 0;
	}
	if (crypto_random(r, sizeof(r)) || hex_encode(r, sizeof(r), lab->token,
						       sizeof(lab->token)) < 0) {
		snprintf(err, errsz, "cannot make an admin token");
		goto out;
	}
	if (lab->cfg.token_file[0])
		str_copy(path, sizeof(path), lab->cfg.token_file);
	else
		snprintf(path, sizeof(path), "%s.admin-token", lab->d->cfg->db_path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	n = strlen(lab->token);
	if (fd < 0 || fchmod(fd, 0600) || write(fd, lab->token, n) != (ssize_t)n ||
	    write(fd, "\n", 1) != 1) {
		snprintf(err, errsz, "cannot write the admin token to %s: %s", path, strerror(errno));
		goto out;
	}
	log_info("lab: admin token written to %s", path);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	crypto_cleanse(r, sizeof(r));
	return rc;
}

struct lab *lab_start(struct smdp *d, const struct lab_config *lc, char *err, size_t errsz)
{
	struct lab *lab = lab_open(d, lc, err, errsz), *ret = NULL;
	struct http_listener_cfg l;

	if (!lab)
		goto out;
	if (lc->admin_port < 0) {
		log_info("lab: admin listener off");
		ret = lab;
		lab = NULL;
		goto out;
	}
	if (setup_token(lab, err, errsz))
		goto out;
	memset(&l, 0, sizeof(l));
	snprintf(l.name, sizeof(l.name), "admin");
	str_copy(l.addr, sizeof(l.addr), lc->admin_addr);
	l.port = lc->admin_port;
	if (lc->admin_cert[0]) {
		str_copy(l.cert, sizeof(l.cert), lc->admin_cert);
		str_copy(l.key, sizeof(l.key), lc->admin_key);
	} else if (d->cfg->n_es9 > 0 && d->cfg->es9[0].cert[0]) {
		/* the SM-DP+'s own TLS identity (first ES9+ listener, NIST by
		 * default): a browser mapping the FQDN to the admin address sees
		 * a name it knows */
		str_copy(l.cert, sizeof(l.cert), d->cfg->es9[0].cert);
		str_copy(l.key, sizeof(l.key), d->cfg->es9[0].key);
	} else {
		snprintf(err, errsz, "admin listener: no certificate (set admin.cert and admin.key)");
		goto out;
	}
	lab->admin = http_start(&l, 1, ADMIN_THREADS, LAB_MAX_API_BODY, console_handle, lab, err,
				errsz);
	if (!lab->admin && !lc->admin_explicit) {
		/* the default port taken (a second smdp on this host, a test):
		 * serve ES9+ anyway, without console */
		log_warn("lab: admin listener not started (%s); set admin.listen to choose another "
			 "address or 'off'", err);
		err[0] = '\0';
		ret = lab;
		lab = NULL;
		goto out;
	}
	if (!lab->admin)
		goto out;
	lab->admin_port = http_port(lab->admin, 0);
	log_info("lab: admin API and console on https://%s:%d/ (token required; /metrics open "
		 "to loopback)", lc->admin_addr, lab->admin_port);
	ret = lab;
	lab = NULL;
out:
	lab_stop(lab);
	return ret;
}

void lab_stop(struct lab *lab)
{
	if (!lab)
		return;
	http_stop(lab->admin);
	lab_close(lab);
}

int lab_admin_port(const struct lab *lab)
{
	return lab ? lab->admin_port : -1;
}
