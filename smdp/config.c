/* config.c - smdp configuration: built-in defaults, a "key = value" file and
 * command-line overrides, all through one table of options. */
#include "smdp.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum opt_kind { OPT_STR, OPT_INT, OPT_BOOL, OPT_LISTEN, OPT_LCERT, OPT_LKEY, OPT_HEX,
		OPT_LEVEL };

struct opt {
	const char *key;
	enum opt_kind kind;
	size_t off;          /* offset in struct smdp_config (STR/INT/BOOL) */
	size_t size;         /* buffer size for OPT_STR */
	int listener;        /* index for OPT_LISTEN/LCERT/LKEY */
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
};

static const char *const listener_names[] = { "nist", "brainpool" };

void config_defaults(struct smdp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->fqdn, sizeof(cfg->fqdn), "testsmdpplus1.example.com");
	cfg->n_es9 = 2;
	for (size_t i = 0; i < 2; i++) {
		struct http_listener_cfg *l = &cfg->es9[i];
		const char *dir = i == 0 ? "certs/sgp26-nist" : "certs/sgp26-brp";
		snprintf(l->name, sizeof(l->name), "%s", listener_names[i]);
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
		snprintf(base + o->off, o->size, "%s", value);
		return 0;
	case OPT_INT:
		if (parse_int(value, 1, 100000000, (int *)(base + o->off))) {
			snprintf(err, errsz, "'%s' needs a positive number, not '%s'", key, value);
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
		if (parse_listen(&cfg->es9[o->listener], value)) {
			snprintf(err, errsz, "'%s' needs ADDR:PORT or off, not '%s'", key, value);
			return -1;
		}
		return 0;
	case OPT_LCERT:
	case OPT_LKEY: {
		struct http_listener_cfg *l = &cfg->es9[o->listener];
		char *dst = o->kind == OPT_LCERT ? l->cert : l->key;
		if (strlen(value) >= sizeof(l->cert)) {
			snprintf(err, errsz, "value of '%s' too long", key);
			return -1;
		}
		snprintf(dst, sizeof(l->cert), "%s", value);
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
			snprintf(err, errsz, "%s:%d: line too long", path, lineno);
			goto out;
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
}

void config_usage(FILE *out)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		fprintf(out, "  --%-24s %s\n", opts[i].key, opts[i].help);
}
