/* config.c - smdp configuration: built-in defaults, a "key = value" file and
 * command-line overrides, all through one table of options. */
#include "smdp.h"
#include "lab.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum opt_kind { OPT_STR, OPT_INT, OPT_BOOL, OPT_LISTEN, OPT_LCERT, OPT_LKEY, OPT_HEX,
		OPT_LEVEL, OPT_LCA, OPT_MODE, OPT_LIMIT };

struct opt {
	const char *key;
	enum opt_kind kind;
	size_t off;          /* offset in struct smdp_config (STR/INT/BOOL) */
	size_t size;         /* buffer size for OPT_STR */
	int listener;        /* OPT_LISTEN/LCERT/LKEY/LCA: 0 nist, 1 brainpool, 2 es2 */
	const char *help;
};

#define S(f) offsetof(struct smdp_config, f), sizeof(((struct smdp_config *)0)->f)
#define I(f) offsetof(struct smdp_config, f), 0

static const struct opt opts[] = {
	{ "fqdn", OPT_STR, S(fqdn), 0,
	  "address this SM-DP+ answers for; smdpAddress must match (add :port to require it)" },
	{ "listen.nist", OPT_LISTEN, 0, 0, 0, "ES9+ HTTPS listener for the NIST P-256 DPtls, ADDR:PORT or 'off'" },
	{ "listen.nist.cert", OPT_LCERT, 0, 0, 0, "its TLS certificate (DER or PEM)" },
	{ "listen.nist.key", OPT_LKEY, 0, 0, 0, "its TLS private key (PEM)" },
	{ "listen.brainpool", OPT_LISTEN, 0, 0, 1, "ES9+ HTTPS listener for the brainpoolP256r1 DPtls (TLS 1.2), or 'off'" },
	{ "listen.brainpool.cert", OPT_LCERT, 0, 0, 1, "its TLS certificate" },
	{ "listen.brainpool.key", OPT_LKEY, 0, 0, 1, "its TLS private key" },
	{ "db", OPT_STR, S(db_path), 0, "SQLite database file" },
	{ "certs", OPT_STR, S(certs_dir), 0, "directory with one sub-directory per CI" },
	{ "profiles", OPT_STR, S(profiles_dir), 0, "directory of profile packages (*.der)" },
	{ "session-timeout", OPT_INT, I(session_timeout), 0, "seconds a download session stays open" },
	{ "session-keep", OPT_INT, I(session_keep), 0, "seconds closed sessions are kept (late notifications)" },
	{ "threads", OPT_INT, I(threads), 0, "HTTP worker threads per listener" },
	{ "ppk", OPT_BOOL, I(ppk), 0, "protect profiles with ReplaceSessionKeys/PPKs (yes/no)" },
	{ "host-id", OPT_HEX, 0, 0, 0, "hostId for the BSP key derivation, 1..16 bytes hex" },
	{ "default-profile", OPT_STR, S(default_profile), 0,
	  "profile served in the default-SM-DP+ case (empty matchingId), '' for none" },
	{ "log-level", OPT_LEVEL, 0, 0, 0, "error, warn, info or debug" },
	{ "mode", OPT_MODE, 0, 0, 0,
	  "lab: download orders first, else any profile by file stem; orders: orders only" },
	{ "listen.es2", OPT_LISTEN, 0, 0, 2,
	  "ES2+ HTTPS listener for operators (mutual TLS), ADDR:PORT or 'off'" },
	{ "listen.es2.cert", OPT_LCERT, 0, 0, 2, "its TLS certificate" },
	{ "listen.es2.key", OPT_LKEY, 0, 0, 2, "its TLS private key" },
	{ "listen.es2.client-ca", OPT_LCA, 0, 0, 2,
	  "CA bundle (PEM) operators' client certificates must chain to; ES2+ is off without it" },
	{ "requester-id", OPT_STR, S(requester_id), 0,
	  "our functionRequesterIdentifier in handleDownloadProgressInfo ('' = the fqdn)" },
	{ "order-ttl", OPT_INT, I(order_ttl), 0, "seconds a download order stays valid" },
	{ "max-download-attempts", OPT_INT, I(max_attempts), 0,
	  "download attempts (authenticateClient) allowed per order" },
	{ "cc-max-attempts", OPT_INT, I(cc_max_attempts), 0,
	  "confirmation code tries per order before it fails" },
	{ "notify-retry-min", OPT_INT, I(notify_retry_min), 0,
	  "seconds before an undelivered operator notification is retried (doubles each time)" },
	{ "notify-retry-max", OPT_INT, I(notify_retry_max), 0, "ceiling of that backoff, seconds" },
	/* hostile and broken clients (README, "Hostile clients") */
	{ "limit.connections-per-address", OPT_LIMIT, I(limits.conns_per_addr), 0,
	  "open connections per client address; more get 429 and are closed ('off': no limit)" },
	{ "limit.requests-per-second", OPT_LIMIT, I(limits.rps), 0,
	  "requests per second per client address; more get 429 ('off': no limit)" },
	{ "limit.burst", OPT_LIMIT, I(limits.burst), 0,
	  "requests one address may send at once ('auto': twice the rate)" },
	{ "limit.request-timeout-ms", OPT_INT, I(limits.request_timeout_ms), 0,
	  "ms for the TLS handshake and for a request head (cuts slow clients off)" },
	{ "allow-loose-key-permissions", OPT_BOOL, I(allow_loose_keys), 0,
	  "yes: start even if a private key file is readable by group/others (warns)" },
};

/* operator.NAME.FIELD keys (README, "Operators") */
enum op_field { OPF_ID, OPF_CLIENT_CERT, OPF_TYPES, OPF_NOTIFY_URL, OPF_NOTIFY_CA,
		OPF_NOTIFY_CERT, OPF_NOTIFY_KEY };
static const struct {
	const char *name;
	enum op_field f;
	const char *help;
} op_fields[] = {
	{ "id", OPF_ID, "its functionRequesterIdentifier (default NAME)" },
	{ "client-cert", OPF_CLIENT_CERT,
	  "the certificate it must present on ES2+ (default: any of the client CA)" },
	{ "profile-types", OPF_TYPES, "comma-separated profile types (pools) it owns" },
	{ "notify-url", OPF_NOTIFY_URL,
	  "https://host[:port][/path] receiving handleDownloadProgressInfo" },
	{ "notify-ca", OPF_NOTIFY_CA, "CA(s) its HTTPS server certificate chains to" },
	{ "notify-cert", OPF_NOTIFY_CERT, "client certificate smdp presents to it (PEM)" },
	{ "notify-key", OPF_NOTIFY_KEY, "its private key (PEM)" },
};

static const char *const listener_names[] = { "nist", "brainpool", "es2" };

static struct http_listener_cfg *listener_of(struct smdp_config *cfg, int i)
{
	return i == 2 ? &cfg->es2 : &cfg->es9[i];
}

void config_defaults(struct smdp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	lab_config_defaults(&cfg->lab);
	snprintf(cfg->fqdn, sizeof(cfg->fqdn), "testsmdpplus1.example.com");
	cfg->n_es9 = 2;
	for (size_t i = 0; i < 2; i++) {
		struct http_listener_cfg *l = &cfg->es9[i];
		const char *dir = i == 0 ? "certs/sgp26-nist" : "certs/sgp26-brp";
		str_copy(l->name, sizeof(l->name), listener_names[i]);
		snprintf(l->addr, sizeof(l->addr), "127.0.0.1");
		l->port = 8443 + (int)i;
		snprintf(l->cert, sizeof(l->cert), "%s/dptls.der", dir);
		snprintf(l->key, sizeof(l->key), "%s/dptls.key.pem", dir);
		l->tls12_only = (i == 1);
	}
	snprintf(cfg->db_path, sizeof(cfg->db_path), "var/smdp.db");
	snprintf(cfg->certs_dir, sizeof(cfg->certs_dir), "certs");
	snprintf(cfg->profiles_dir, sizeof(cfg->profiles_dir), "profiles");
	cfg->session_timeout = 600;
	cfg->session_keep = 7 * 24 * 3600;
	cfg->threads = 16;
	cfg->ppk = 0;
	memcpy(cfg->host_id, "SMDP-LAB", 8);
	cfg->host_id_len = 8;
	cfg->log_level = LOG_INFO;
	cfg->mode = MODE_LAB;
	snprintf(cfg->es2.name, sizeof(cfg->es2.name), "es2");
	snprintf(cfg->es2.addr, sizeof(cfg->es2.addr), "127.0.0.1");
	cfg->es2.port = 8445;
	snprintf(cfg->es2.cert, sizeof(cfg->es2.cert), "certs/sgp26-nist/dptls.der");
	snprintf(cfg->es2.key, sizeof(cfg->es2.key), "certs/sgp26-nist/dptls.key.pem");
	cfg->order_ttl = 30 * 24 * 3600;
	cfg->max_attempts = 5;
	cfg->cc_max_attempts = 3;
	cfg->notify_retry_min = 5;
	cfg->notify_retry_max = 600;
	/* one address is one LPA or a NAT with a few dozen behind it; the
	 * test suite stays below these, scripts/bench (256 keep-alive
	 * connections, ~1000 requests/s from 127.0.0.1) turns them off */
	cfg->limits.conns_per_addr = 64;
	cfg->limits.rps = 200;
	cfg->limits.burst = 0;          /* auto: twice the rate */
	cfg->limits.request_timeout_ms = 30000;
	cfg->allow_loose_keys = 0;
}

/* The operator named name, created if new. NULL if the table is full or
 * the name is not [A-Za-z0-9_-]{1,31}. */
static struct operator_cfg *operator_slot(struct smdp_config *cfg, const char *name, size_t len)
{
	struct operator_cfg *op;

	if (len == 0 || len >= sizeof(op->name))
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
			return NULL;
	for (size_t i = 0; i < cfg->n_operators; i++)
		if (strlen(cfg->operators[i].name) == len &&
		    !strncmp(cfg->operators[i].name, name, len))
			return &cfg->operators[i];
	if (cfg->n_operators >= SMDP_MAX_OPERATORS)
		return NULL;
	op = &cfg->operators[cfg->n_operators++];
	memset(op, 0, sizeof(*op));
	snprintf(op->name, sizeof(op->name), "%.*s", (int)len, name);
	snprintf(op->id, sizeof(op->id), "%.*s", (int)len, name);
	return op;
}

/* Copy value into dst[dstsz]; -1 (err set) if it does not fit. */
static int set_path(char *dst, size_t dstsz, const char *key, const char *value, char *err,
		    size_t errsz)
{
	if (strlen(value) >= dstsz) {
		snprintf(err, errsz, "value of '%s' too long", key);
		return -1;
	}
	str_copy(dst, dstsz, value);
	return 0;
}

/* "a, b,c" -> op->types. 0 / -1. */
static int set_types(struct operator_cfg *op, const char *value)
{
	const char *p = value;

	op->n_types = 0;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		while (len && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (len == 0 || len > SMDP_MAX_PROFILE_TYPE || op->n_types >= SMDP_MAX_OP_TYPES)
			return -1;
		snprintf(op->types[op->n_types++], sizeof(op->types[0]), "%.*s", (int)len, p);
		p = e ? e + 1 : p + strlen(p);
		if (e && !*p)
			return -1;
	}
	return 0;
}

/* operator.NAME.FIELD = value. 0 / -1 with err set. */
static int set_operator(struct smdp_config *cfg, const char *key, const char *value, char *err,
			size_t errsz)
{
	const char *name = key + strlen("operator."), *dot = strrchr(name, '.');
	struct operator_cfg *op;
	size_t i;

	if (!dot) {
		snprintf(err, errsz, "'%s': want operator.NAME.FIELD", key);
		return -1;
	}
	for (i = 0; i < sizeof(op_fields) / sizeof(op_fields[0]); i++)
		if (!strcmp(dot + 1, op_fields[i].name))
			break;
	if (i == sizeof(op_fields) / sizeof(op_fields[0])) {
		snprintf(err, errsz, "unknown operator field in '%s' (see --help)", key);
		return -1;
	}
	op = operator_slot(cfg, name, (size_t)(dot - name));
	if (!op) {
		snprintf(err, errsz, "'%s': operator names are [A-Za-z0-9_-], at most 31, "
			 "and at most %d operators", key, SMDP_MAX_OPERATORS);
		return -1;
	}
	switch (op_fields[i].f) {
	case OPF_ID:
		if (!value[0]) {
			snprintf(err, errsz, "'%s' may not be empty", key);
			return -1;
		}
		return set_path(op->id, sizeof(op->id), key, value, err, errsz);
	case OPF_CLIENT_CERT:
		return set_path(op->client_cert, sizeof(op->client_cert), key, value, err, errsz);
	case OPF_TYPES:
		if (set_types(op, value)) {
			snprintf(err, errsz, "'%s': want up to %d comma-separated types of at most "
				 "%d characters", key, SMDP_MAX_OP_TYPES, SMDP_MAX_PROFILE_TYPE);
			return -1;
		}
		return 0;
	case OPF_NOTIFY_URL:
		return set_path(op->notify_url, sizeof(op->notify_url), key, value, err, errsz);
	case OPF_NOTIFY_CA:
		return set_path(op->notify_ca, sizeof(op->notify_ca), key, value, err, errsz);
	case OPF_NOTIFY_CERT:
		return set_path(op->notify_cert, sizeof(op->notify_cert), key, value, err, errsz);
	case OPF_NOTIFY_KEY:
		return set_path(op->notify_key, sizeof(op->notify_key), key, value, err, errsz);
	}
	return -1;
}

static int parse_int(const char *v, int min, int max, int *out)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < min || x > max)
		return -1;
	*out = (int)x;
	return 0;
}

static int parse_listen(struct http_listener_cfg *l, const char *v)
{
	const char *colon = strrchr(v, ':');
	int port;

	if (!strcmp(v, "off")) {
		l->port = -1;
		return 0;
	}
	if (!colon || colon == v || (size_t)(colon - v) >= sizeof(l->addr))
		return -1;
	if (parse_int(colon + 1, 0, 65535, &port))
		return -1;
	snprintf(l->addr, sizeof(l->addr), "%.*s", (int)(colon - v), v);
	l->port = port;
	return 0;
}

int config_set(struct smdp_config *cfg, const char *key, const char *value, char *err,
	       size_t errsz)
{
	const struct opt *o = NULL;
	char *base = (char *)cfg;
	int lab = lab_config_set(&cfg->lab, key, value, err, errsz);   /* 1: not a lab key */

	if (lab != 1)
		return lab;
	if (!strncmp(key, "operator.", 9))
		return set_operator(cfg, key, value, err, errsz);
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (!strcmp(opts[i].key, key))
			o = &opts[i];
	if (!o) {
		snprintf(err, errsz, "unknown option '%s' (see --help)", key);
		return -1;
	}
	switch (o->kind) {
	case OPT_STR:
		if (strlen(value) >= o->size) {
			snprintf(err, errsz, "value of '%s' too long", key);
			return -1;
		}
		str_copy(base + o->off, o->size, value);
		return 0;
	case OPT_INT:
		if (parse_int(value, 1, 100000000, (int *)(base + o->off))) {
			snprintf(err, errsz, "'%s' needs a positive number, not '%s'", key, value);
			return -1;
		}
		return 0;
	case OPT_LIMIT:
		if (!strcmp(value, "off") || !strcmp(value, "auto")) {
			*(int *)(base + o->off) = value[0] == 'o' ? -1 : 0;
			return 0;
		}
		if (parse_int(value, 1, 100000000, (int *)(base + o->off))) {
			snprintf(err, errsz, "'%s' needs a positive number or off, not '%s'", key,
				 value);
			return -1;
		}
		return 0;
	case OPT_BOOL: {
		int *b = (int *)(base + o->off);
		if (!strcmp(value, "yes") || !strcmp(value, "1") || !strcmp(value, "on"))
			*b = 1;
		else if (!strcmp(value, "no") || !strcmp(value, "0") || !strcmp(value, "off"))
			*b = 0;
		else {
			snprintf(err, errsz, "'%s' needs yes or no, not '%s'", key, value);
			return -1;
		}
		return 0;
	}
	case OPT_LISTEN:
		if (parse_listen(listener_of(cfg, o->listener), value)) {
			snprintf(err, errsz, "'%s' needs ADDR:PORT or off, not '%s'", key, value);
			return -1;
		}
		return 0;
	case OPT_LCERT:
	case OPT_LKEY:
	case OPT_LCA: {
		struct http_listener_cfg *l = listener_of(cfg, o->listener);
		char *dst = o->kind == OPT_LCERT ? l->cert : o->kind == OPT_LKEY ? l->key :
			    l->client_ca;
		if (strlen(value) >= sizeof(l->cert)) {
			snprintf(err, errsz, "value of '%s' too long", key);
			return -1;
		}
		str_copy(dst, sizeof(l->cert), value);
		return 0;
	}
	case OPT_HEX: {
		uint8_t tmp[16];
		int n = hex_decode(value, tmp, sizeof(tmp));
		if (n < 1) {
			snprintf(err, errsz, "'%s' needs 1 to 16 bytes of hex", key);
			return -1;
		}
		memcpy(cfg->host_id, tmp, (size_t)n);
		cfg->host_id_len = (size_t)n;
		return 0;
	}
	case OPT_LEVEL: {
		static const char *const names[] = { "error", "warn", "info", "debug" };
		for (int i = 0; i < 4; i++)
			if (!strcmp(value, names[i])) {
				cfg->log_level = (enum log_level)i;
				return 0;
			}
		snprintf(err, errsz, "'%s' needs error, warn, info or debug", key);
		return -1;
	}
	case OPT_MODE:
		if (!strcmp(value, "lab")) {
			cfg->mode = MODE_LAB;
		} else if (!strcmp(value, "orders")) {
			cfg->mode = MODE_ORDERS;
		} else {
			snprintf(err, errsz, "'%s' needs lab or orders", key);
			return -1;
		}
		return 0;
	}
	return -1;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int config_load_file(struct smdp_config *cfg, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	char line[1024], why[256];
	int lineno = 0, rc = -1;

	if (!f) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq;
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			/* a full buffer: too long, unless the file ends right here */
			int c = getc(f);
			if (c != EOF) {
				snprintf(err, errsz, "%s:%d: line too long (at most %zu characters)",
					 path, lineno, sizeof(line) - 2);
				goto out;
			}
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errsz, "%s:%d: expected 'key = value'", path, lineno);
			goto out;
		}
		*eq = '\0';
		if (config_set(cfg, trim(s), trim(eq + 1), why, sizeof(why))) {
			snprintf(err, errsz, "%s:%d: %s", path, lineno, why);
			goto out;
		}
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

static void print_limit(FILE *out, const char *key, int v)
{
	if (v < 0)
		fprintf(out, "%s = off\n", key);
	else if (v == 0)
		fprintf(out, "%s = auto\n", key);
	else
		fprintf(out, "%s = %d\n", key, v);
}

void config_print(const struct smdp_config *cfg, FILE *out)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	char hex[33];

	fprintf(out, "fqdn = %s\n", cfg->fqdn);
	for (size_t i = 0; i < cfg->n_es9; i++) {
		const struct http_listener_cfg *l = &cfg->es9[i];
		if (l->port < 0)
			fprintf(out, "listen.%s = off\n", l->name);
		else
			fprintf(out, "listen.%s = %s:%d\n", l->name, l->addr, l->port);
		fprintf(out, "listen.%s.cert = %s\nlisten.%s.key = %s\n", l->name, l->cert,
			l->name, l->key);
	}
	hex_encode(cfg->host_id, cfg->host_id_len, hex, sizeof(hex));
	fprintf(out,
		"db = %s\ncerts = %s\nprofiles = %s\nsession-timeout = %d\n"
		"session-keep = %d\nthreads = %d\nppk = %s\nhost-id = %s\n"
		"default-profile = %s\nlog-level = %s\n",
		cfg->db_path, cfg->certs_dir, cfg->profiles_dir, cfg->session_timeout,
		cfg->session_keep, cfg->threads, cfg->ppk ? "yes" : "no", hex,
		cfg->default_profile, levels[cfg->log_level]);
	fprintf(out, "mode = %s\n", cfg->mode == MODE_ORDERS ? "orders" : "lab");
	if (cfg->es2.port < 0)
		fprintf(out, "listen.es2 = off\n");
	else
		fprintf(out, "listen.es2 = %s:%d\n", cfg->es2.addr, cfg->es2.port);
	fprintf(out,
		"listen.es2.cert = %s\nlisten.es2.key = %s\nlisten.es2.client-ca = %s\n"
		"requester-id = %s\norder-ttl = %d\nmax-download-attempts = %d\n"
		"cc-max-attempts = %d\nnotify-retry-min = %d\nnotify-retry-max = %d\n",
		cfg->es2.cert, cfg->es2.key, cfg->es2.client_ca, cfg->requester_id,
		cfg->order_ttl, cfg->max_attempts, cfg->cc_max_attempts, cfg->notify_retry_min,
		cfg->notify_retry_max);
	for (size_t i = 0; i < cfg->n_operators; i++) {
		const struct operator_cfg *op = &cfg->operators[i];
		const char *n = op->name;

		fprintf(out, "operator.%s.id = %s\noperator.%s.client-cert = %s\n"
			"operator.%s.profile-types = ", n, op->id, n, op->client_cert, n);
		for (size_t t = 0; t < op->n_types; t++)
			fprintf(out, "%s%s", t ? "," : "", op->types[t]);
		fprintf(out, "\noperator.%s.notify-url = %s\noperator.%s.notify-ca = %s\n"
			"operator.%s.notify-cert = %s\noperator.%s.notify-key = %s\n", n,
			op->notify_url, n, op->notify_ca, n, op->notify_cert, n, op->notify_key);
	}
	print_limit(out, "limit.connections-per-address", cfg->limits.conns_per_addr);
	print_limit(out, "limit.requests-per-second", cfg->limits.rps);
	print_limit(out, "limit.burst", cfg->limits.burst);
	fprintf(out, "limit.request-timeout-ms = %d\nallow-loose-key-permissions = %s\n",
		cfg->limits.request_timeout_ms, cfg->allow_loose_keys ? "yes" : "no");
	lab_config_print(&cfg->lab, out);
}

void config_usage(FILE *out)
{
	char key[64];

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		fprintf(out, "  --%-24s %s\n", opts[i].key, opts[i].help);
	fprintf(out, "Operators (ES2+ callers), one set of keys per NAME:\n");
	for (size_t i = 0; i < sizeof(op_fields) / sizeof(op_fields[0]); i++) {
		snprintf(key, sizeof(key), "operator.NAME.%s", op_fields[i].name);
		fprintf(out, "  --%-24s %s\n", key, op_fields[i].help);
	}
	fprintf(out, "Lab features (fault injection, traces, admin API and console):\n");
	lab_config_usage(out);
}

int config_parse_url(const char *url, char *host, size_t hostsz, int *port, char *path,
		     size_t pathsz)
{
	const char *h, *hend, *pstart, *colon = NULL;
	size_t hl;
	int pt = 443;

	if (strncasecmp(url, "https://", 8))
		return -1;
	h = url + 8;
	pstart = h + strcspn(h, "/?#");
	if (*pstart && *pstart != '/')
		return -1;
	if (*h == '[') {                    /* [v6]:port */
		hend = memchr(h, ']', (size_t)(pstart - h));
		if (!hend)
			return -1;
		if (hend + 1 < pstart) {
			if (hend[1] != ':')
				return -1;
			colon = hend + 1;
		}
		h++;
	} else {
		colon = memchr(h, ':', (size_t)(pstart - h));
		hend = colon ? colon : pstart;
	}
	hl = (size_t)(hend - h);
	if (hl == 0 || hl >= hostsz)
		return -1;
	if (colon) {
		char num[8];
		size_t nl = (size_t)(pstart - colon - 1);
		if (nl == 0 || nl >= sizeof(num))
			return -1;
		snprintf(num, sizeof(num), "%.*s", (int)nl, colon + 1);
		if (parse_int(num, 1, 65535, &pt))
			return -1;
	}
	if (strlen(*pstart ? pstart : "/") >= pathsz || strpbrk(pstart, " \r\n"))
		return -1;
	snprintf(host, hostsz, "%.*s", (int)hl, h);
	*port = pt;
	str_copy(path, pathsz, *pstart ? pstart : "/");
	return 0;
}

int config_owns(const struct operator_cfg *op, const char *type)
{
	for (size_t i = 0; op && i < op->n_types; i++)
		if (!strcmp(op->types[i], type))
			return 1;
	return 0;
}

const struct operator_cfg *config_operator(const struct smdp_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->n_operators; i++)
		if (!strcmp(cfg->operators[i].id, id))
			return &cfg->operators[i];
	return NULL;
}

const struct operator_cfg *config_type_owner(const struct smdp_config *cfg, const char *type)
{
	for (size_t i = 0; i < cfg->n_operators; i++)
		if (config_owns(&cfg->operators[i], type))
			return &cfg->operators[i];
	return NULL;
}

int config_check(const struct smdp_config *cfg, char *err, size_t errsz)
{
	char host[256], path[SMDP_MAX_URL];
	int port;

	if (cfg->notify_retry_max < cfg->notify_retry_min) {
		snprintf(err, errsz, "notify-retry-max (%d) is below notify-retry-min (%d)",
			 cfg->notify_retry_max, cfg->notify_retry_min);
		return -1;
	}
	for (size_t i = 0; i < cfg->n_operators; i++) {
		const struct operator_cfg *a = &cfg->operators[i];

		/* one owner per profile and one operator per identifier: the
		 * ownership rule of ES2+ would be ambiguous otherwise */
		for (size_t j = 0; j < i; j++) {
			const struct operator_cfg *b = &cfg->operators[j];
			if (!strcmp(a->id, b->id)) {
				snprintf(err, errsz, "operators %s and %s share the identifier '%s'",
					 b->name, a->name, a->id);
				return -1;
			}
			for (size_t t = 0; t < a->n_types; t++)
				if (config_owns(b, a->types[t])) {
					snprintf(err, errsz, "profile type '%s' is owned by both "
						 "operator %s and %s", a->types[t], b->name, a->name);
					return -1;
				}
		}
		if (a->notify_url[0] &&
		    config_parse_url(a->notify_url, host, sizeof(host), &port, path, sizeof(path))) {
			snprintf(err, errsz, "operator.%s.notify-url '%s' is not "
				 "https://host[:port][/path]", a->name, a->notify_url);
			return -1;
		}
		if (!a->notify_cert[0] != !a->notify_key[0]) {
			snprintf(err, errsz, "operator.%s: notify-cert and notify-key go together",
				 a->name);
			return -1;
		}
	}
	return 0;
}
