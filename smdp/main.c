/* main.c - the smdp server: options, configuration, store, PKI, profiles,
 * then the HTTPS listeners until SIGINT/SIGTERM. */
#include "smdp.h"
#include "lab.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SMDP_VERSION "0.1.0"

struct app {
	struct smdp d;
	struct http_server *srv;
	int es2_listener;                /* index of the ES2+ listener, -1 none */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void handle(void *ctx, const struct http_request *rq, struct http_response *rs)
{
	struct app *a = ctx;
	int es2 = rq->listener == a->es2_listener;

	/* ES9+ on the ES9+ listeners, ES2+ only behind mutual TLS */
	if (!es2 && !strncmp(rq->path, "/gsma/rsp2/es9plus/", 19)) {
		es9p_json_handle(&a->d, rq, rq->port, rs);
		return;
	}
	if (es2 && !strncmp(rq->path, "/gsma/rsp2/es2plus/", 19)) {
		es2p_json_handle(&a->d, rq, rs);
		return;
	}
	if (!es2 && !strcmp(rq->path, "/gsma/rsp2/asn1")) {
		es9p_asn1_handle(&a->d, rq, rq->port, rs);
		return;
	}
	rs->status = 404;
	snprintf(rs->content_type, sizeof(rs->content_type), "text/plain");
	buf_set(&rs->body, "not found\n", 10);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: smdp [options]\n"
		"A GSMA SGP.22 SM-DP+ for labs and CI: ES9+ over HTTPS, SQLite state,\n"
		"the SGP.26 test PKI and TS.48 test profiles by default.\n\n"
		"  --config FILE              read 'key = value' options from FILE first\n"
		"  --print-config             print the effective configuration and exit\n"
		"  --check-config             report on the certificates and TLS listeners, then exit\n"
		"                             (0 all fine, 1 warnings, 2 errors)\n"
		"  -v, --verbose              same as --log-level debug\n"
		"  -h, --help                 this text\n"
		"  --version                  print the version\n\n"
		"Every configuration key is also an option (--key VALUE):\n");
	config_usage(out);
	fprintf(out,
		"\nWith no options smdp serves testsmdpplus1.example.com on 127.0.0.1:8443\n"
		"(NIST P-256) and 127.0.0.1:8444 (brainpoolP256r1); a profile file\n"
		"profiles/NAME.der is downloadable with the activation code\n"
		"LPA:1$testsmdpplus1.example.com$NAME (mode lab). Operators order, confirm,\n"
		"release and cancel downloads over ES2+ on listen.es2 (127.0.0.1:8445) once\n"
		"listen.es2.client-ca and operator.NAME.* are set; build/smdp-admin does the\n"
		"same locally. Example operator keys (in a --config file):\n"
		"  listen.es2.client-ca = lab/operator-ca.pem\n"
		"  operator.acme.profile-types = ts48-pool\n"
		"  operator.acme.notify-url = https://ops.example.net:9443\n"
		"  operator.acme.notify-ca = lab/ops-ca.pem\n"
		"  operator.acme.notify-cert = lab/smdp-to-acme.pem\n"
		"  operator.acme.notify-key = lab/smdp-to-acme.key\n");
}

/* Make the parent directory of the database file (var/ by default). */
static int make_parent(const char *path)
{
	char dir[512];
	char *slash;

	str_copy(dir, sizeof(dir), path);
	slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0750) && errno != EEXIST)
		return -1;
	return 0;
}

/* Every private key file the server reads must be its own (pki.c): the CI
 * directories' keys, the listeners' DPtls keys, the operators' notification
 * client keys and the admin listener's key. 0 / -1 with err set. */
#define MAX_KEY_FILES (SMDP_MAX_LISTENERS + 1 + SMDP_MAX_OPERATORS + 1)

/* The keys besides the CI directories' and the ES9+ listeners': ES2+,
 * operators' notification clients, admin listener. Count into paths. */
static size_t other_key_files(const struct smdp_config *cfg, const char **paths)
{
	size_t n = 0;

	if (cfg->es2.port >= 0 && cfg->es2.client_ca[0])
		paths[n++] = cfg->es2.key;
	for (size_t i = 0; i < cfg->n_operators; i++)
		paths[n++] = cfg->operators[i].notify_key;
	paths[n++] = cfg->lab.admin_key;
	return n;
}

static int check_key_files(const struct pki *p, const struct smdp_config *cfg, char *err,
			   size_t errsz)
{
	const char *paths[MAX_KEY_FILES];
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_es9; i++)
		if (cfg->es9[i].port >= 0)
			paths[n++] = cfg->es9[i].key;
	n += other_key_files(cfg, paths + n);
	return pki_keys_private(p, paths, n, cfg->allow_loose_keys, err, errsz);
}

/* *print_only: 1 --print-config, 2 --check-config. */
static int parse_args(int argc, char **argv, struct smdp_config *cfg, int *print_only)
{
	char err[512];

	/* the config file first, so that options override it */
	for (int i = 1; i < argc - 1; i++)
		if (!strcmp(argv[i], "--config") &&
		    config_load_file(cfg, argv[i + 1], err, sizeof(err))) {
			fprintf(stderr, "smdp: %s\n", err);
			return -1;
		}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--version")) {
			printf("smdp %s\n", SMDP_VERSION);
			exit(0);
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			cfg->log_level = LOG_DEBUG;
		} else if (!strcmp(a, "--print-config")) {
			*print_only = 1;
		} else if (!strcmp(a, "--check-config")) {
			*print_only = 2;
		} else if (!strcmp(a, "--config")) {
			i++;
		} else if (!strncmp(a, "--", 2) && i + 1 < argc) {
			if (config_set(cfg, a + 2, argv[++i], err, sizeof(err))) {
				fprintf(stderr, "smdp: %s\n", err);
				return -1;
			}
		} else {
			fprintf(stderr, "smdp: unexpected argument '%s' (see --help)\n", a);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct smdp_config cfg;
	struct app *a = NULL;
	struct http_listener_cfg ls[SMDP_MAX_LISTENERS];
	size_t nl = 0;
	int print_only = 0, rc = 1;
	char err[512];

	config_defaults(&cfg);
	if (parse_args(argc, argv, &cfg, &print_only))
		return 64;
	if (config_check(&cfg, err, sizeof(err))) {
		fprintf(stderr, "smdp: %s\n", err);
		return 64;
	}
	if (print_only == 1) {
		config_print(&cfg, stdout);
		return 0;
	}
	if (print_only == 2) {
		const char *keys[MAX_KEY_FILES];
		size_t nk = other_key_files(&cfg, keys);

		rc = pki_check_config(cfg.certs_dir, cfg.fqdn, cfg.es9, cfg.n_es9, keys, nk,
				      cfg.allow_loose_keys, time(NULL), stdout);
		return rc < 0 ? 70 : rc;
	}
	log_set_level(cfg.log_level);
	a = calloc(1, sizeof(*a));
	if (!a)
		goto out;
	a->d.cfg = &cfg;
	a->es2_listener = -1;

	if (pki_load(&a->d.pki, cfg.certs_dir, err, sizeof(err))) {
		log_error("certificates: %s", err);
		goto out;
	}
	if (saip_load_dir(&a->d.profiles, cfg.profiles_dir, err, sizeof(err))) {
		log_error("profiles: %s", err);
		goto out;
	}
	if (check_key_files(&a->d.pki, &cfg, err, sizeof(err))) {
		log_error("%s", err);
		goto out;
	}
	log_info("%zu profiles loaded from %s", a->d.profiles.n, cfg.profiles_dir);
	if (cfg.default_profile[0] && !saip_find(&a->d.profiles, cfg.default_profile)) {
		log_error("default-profile '%s' is not in %s", cfg.default_profile, cfg.profiles_dir);
		goto out;
	}
	if (make_parent(cfg.db_path)) {
		log_error("cannot create the directory of %s: %s", cfg.db_path, strerror(errno));
		goto out;
	}
	a->d.store = store_open(cfg.db_path, err, sizeof(err));
	if (!a->d.store) {
		log_error("database: %s", err);
		goto out;
	}
	store_session_sweep(a->d.store, (int64_t)time(NULL), cfg.session_keep);
	/* the operator notification sender: what was queued before a restart
	 * goes out now */
	a->d.es2 = es2p_start(&a->d, err, sizeof(err));
	if (!a->d.es2) {
		log_error("ES2+: %s", err);
		goto out;
	}
	/* lab features (lab.h): before the ES9+ listeners, so that every call
	 * finds d->lab; the admin listener starts here too */
	a->d.lab = lab_start(&a->d, &cfg.lab, err, sizeof(err));
	if (!a->d.lab) {
		log_error("lab: %s", err);
		goto out;
	}

	for (size_t i = 0; i < cfg.n_es9; i++)
		if (cfg.es9[i].port >= 0)
			ls[nl++] = cfg.es9[i];
	if (cfg.es2.port >= 0 && !cfg.es2.client_ca[0]) {
		log_info("ES2+ listener off: listen.es2.client-ca is not set");
	} else if (cfg.es2.port >= 0) {
		if (cfg.n_operators == 0)
			log_warn("ES2+: no operator.NAME.* configured, every call will be refused");
		a->es2_listener = (int)nl;
		ls[nl++] = cfg.es2;
	}
	log_info("mode %s", cfg.mode == MODE_ORDERS ? "orders (download orders only)" :
		 "lab (download orders, else any profile by file stem)");
	if (nl == 0) {
		log_error("every listener is off: nothing to serve");
		goto out;
	}
	for (size_t i = 0; i < nl; i++)
		ls[i].limits = cfg.limits;
	a->srv = http_start(ls, nl, cfg.threads, SMDP_MAX_BODY, handle, a, err, sizeof(err));
	if (!a->srv) {
		log_error("HTTPS: %s", err);
		goto out;
	}
	for (size_t i = 0; i < nl; i++) {
		log_info("listening on https://%s:%d (%s), answering for %s", ls[i].addr,
			 http_port(a->srv, i),
			 ls[i].name, cfg.fqdn);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	for (int tick = 0; !stop_requested; tick++) {
		sleep(1);
		if (tick % 60 == 59)
			store_session_sweep(a->d.store, (int64_t)time(NULL), cfg.session_keep);
	}
	log_info("stopping");
	rc = 0;
out:
	if (a) {
		http_stop(a->srv);          /* no ES9+ call is in a lab hook any more */
		lab_stop(a->d.lab);
		es2p_stop(a->d.es2);
		store_close(a->d.store);
		saip_free(&a->d.profiles);
		pki_free(&a->d.pki);
		free(a);
	}
	crypto_release();
	return rc;
}
