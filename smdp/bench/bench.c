/* bench.c - smdp-bench: load an SM-DP+ with complete ES9+ profile downloads
 * (SGP.22 3.1.2 + 3.1.3: initiateAuthentication, authenticateClient,
 * getBoundProfilePackage, handleNotification) from many concurrent software
 * eUICCs, each a thread with its own keep-alive HTTPS connection, and report
 * throughput, latency percentiles, errors, and - for a local server - its
 * CPU per download against the crypto floor and its memory.
 *
 * The LPA and eUICC are smdp-client's own (lpa.c, euicc.c), unchanged. The
 * per-function latency comes from a link-time wrap of httpc_post
 * (-Wl,--wrap=httpc_post, see bench.mk): every ES9+ call the LPA makes goes
 * through __wrap_httpc_post below, which times it. */
#include "bench.h"

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EX_OK     0
#define EX_FAIL   1   /* could not set up or no download succeeded */
#define EX_USAGE  64

#define PATH_LEN               512
#define BENCH_TIMEOUT_MS       120000  /* one HTTP exchange; queues can be long at 256 */
#define BENCH_MAX_CONSEC_ERR   50      /* a worker gives up after this many in a row */
#define BENCH_WORKER_STACK     (1024 * 1024)
#define ES9_PREFIX             "/gsma/rsp2/es9plus/"
#define ES9_HEADERS            "X-Admin-Protocol: gsma/rsp/v2.5.0\r\n"

/* The ES9+ functions timed separately (index into struct worker.lat). */
enum fn { FN_IA, FN_AC, FN_GBPP, FN_HN, FN_OTHER, FN_COUNT };
static const char *const fn_names[FN_COUNT] = {
	"initiateAuthentication", "authenticateClient", "getBoundProfilePackage",
	"handleNotification", "other",
};

enum mode { MODE_RUN, MODE_FLOOR, MODE_INFLIGHT };

struct opts {
	enum mode mode;
	char connect[300];           /* host:port of the SM-DP+ */
	char fqdn[SMDP_MAX_ADDRESS + 1];
	char smdp_address[SMDP_MAX_ADDRESS + 1];   /* "" = fqdn */
	char pki[PATH_LEN];
	char profiles[PATH_LEN];
	char profile[SMDP_MAX_ID + 1];
	char csv[PATH_LEN];
	int concurrency;
	double duration;
	long count;                  /* run: downloads (0 = use duration); inflight: sessions */
	pid_t server_pid;
	double floor_ms;             /* > 0: given, not measured */
	double floor_time;
	int verify_server;
	int verbose;
	long new_euicc;              /* > 0: pool of eUICC identities issued here */
};

struct bench;

struct worker {
	struct bench *b;
	int id;
	pthread_t th;
	int started;
	struct euicc e;
	int e_open;
	struct httpc *h;
	int recording;               /* samples go into lat[] */
	struct samples lat[FN_COUNT];
	struct samples dl;           /* whole downloads */
	long ok, errors, warm_errors;
	char first_error[BENCH_MAX_ERROR_TEXT];
};

struct bench {
	const struct opts *o;
	struct httpc_cfg hc;
	struct euicc_cfg ec;
	struct lpa_opts lo;
	char ci[PATH_LEN], euicc_cert[PATH_LEN], euicc_key[PATH_LEN], eum_cert[PATH_LEN];
	size_t expect_len;           /* profile bytes a download must recover, 0 unknown */
	size_t metadata_len;
	pthread_barrier_t ready, go;
	double deadline;
	atomic_long issued, done;
	atomic_int finished;
	struct worker *w;
	int n;
	/* --new-euicc: the pool, and the next identity to hand out */
	crypto_cert **id_cert;
	crypto_key **id_key;
	long n_ids;
	atomic_long next_id;
	/* busy share of each CPU over the measured window (pinned runs: which
	 * side's cores were full); n_cpu 0 when /proc/stat was unreadable */
	double cpu_busy[BENCH_MAX_CPUS];
	int n_cpu;
};

/* The worker running on this thread. A thread-local pointer because the
 * link-time wrap of httpc_post gets the caller's arguments only. */
static _Thread_local struct worker *current;

int __real_httpc_post(struct httpc *c, const char *path, const char *content_type,
		      const char *extra_headers, const uint8_t *body, size_t n, int *status,
		      struct buf *resp, char *ct, size_t ctsz, char *err, size_t errsz);
int __wrap_httpc_post(struct httpc *c, const char *path, const char *content_type,
		      const char *extra_headers, const uint8_t *body, size_t n, int *status,
		      struct buf *resp, char *ct, size_t ctsz, char *err, size_t errsz);

static enum fn fn_of(const char *path)
{
	size_t plen = strlen(ES9_PREFIX);

	if (strncmp(path, ES9_PREFIX, plen))
		return FN_OTHER;
	for (int i = 0; i < FN_OTHER; i++)
		if (!strcmp(path + plen, fn_names[i]))
			return (enum fn)i;
	return FN_OTHER;
}

/* Every ES9+ request of the LPA (and of the in-flight mode) comes here:
 * time it from the first byte written to the last byte read, which is what
 * a device sees of the SM-DP+ (TLS records, HTTP, server work, queueing). */
int __wrap_httpc_post(struct httpc *c, const char *path, const char *content_type,
		      const char *extra_headers, const uint8_t *body, size_t n, int *status,
		      struct buf *resp, char *ct, size_t ctsz, char *err, size_t errsz)
{
	double t0 = now_s();
	int rc = __real_httpc_post(c, path, content_type, extra_headers, body, n, status, resp,
				   ct, ctsz, err, errsz);

	if (current && current->recording && rc == 0 && *status >= 200 && *status < 300)
		samples_add(&current->lat[fn_of(path)], (now_s() - t0) * 1000.0);
	return rc;
}

static const char usage_text[] =
"usage: smdp-bench run|floor|inflight [options]\n"
"\n"
"  run       complete downloads (initiateAuthentication, authenticateClient,\n"
"            getBoundProfilePackage, handleNotification) from --concurrency\n"
"            software eUICCs, each on its own keep-alive HTTPS connection, for\n"
"            --duration seconds or --count downloads; one warm-up download per\n"
"            connection is not counted\n"
"  floor     the crypto floor of one download on this machine (the server's\n"
"            signatures, verifications, key agreement, KDF and BSP), no server\n"
"  inflight  --count initiateAuthentication calls only: sessions started and\n"
"            never finished; the server's RSS is sampled as they accumulate\n"
"\n"
"One JSON object per invocation goes to stdout; a readable summary to stderr.\n"
"\n"
"  --connect HOST:PORT   SM-DP+ to load (default 127.0.0.1:8443)\n"
"  --fqdn NAME           TLS name and smdpAddress (default testsmdpplus1.example.com)\n"
"  --smdp-address ADDR   smdpAddress to send instead of --fqdn\n"
"  --pki DIR             test PKI of the curve (default certs/sgp26-nist): the\n"
"                        eUICC credentials, the TLS trust (DIR/ci.der) and the\n"
"                        keys the floor is measured with\n"
"  --profiles DIR        profile packages, for the floor sizes and the check of\n"
"                        the recovered length (default profiles)\n"
"  --profile ID          matchingId / profile file stem (default\n"
"                        TS48v2_SAIP2.3_NoBERTLV)\n"
"  --concurrency N       concurrent eUICCs and connections (default 1, max 1024)\n"
"  --duration S          seconds to run (default 10)\n"
"  --count N             run: stop after N downloads instead; inflight: sessions\n"
"                        (default 10000)\n"
"  --server-pid PID      local server process: CPU per download, RSS, threads\n"
"  --floor-ms MS         use this floor instead of measuring it\n"
"  --floor-time S        CPU seconds for measuring the floor (default 1)\n"
"  --verify-server       the eUICC checks the server's certificates and\n"
"                        signatures (default: skipped, so that the client\n"
"                        leaves more of the machine to the server; segment\n"
"                        MACs and the profile length are always checked)\n"
"  --csv FILE            also append one CSV row (header when FILE is new)\n"
"  --new-euicc N         run: N eUICCs of the PKI's EUM (certificates issued here\n"
"                        with DIR/euicc/eum.key.pem, EIDs under its prefix), used in\n"
"                        turn, one per download: with N above the server's cache of\n"
"                        verified eUICCs (512) every download is a device it has not\n"
"                        seen, whose certificate it must verify (default 0: the one\n"
"                        eUICC of DIR/euicc for every download)\n"
"  -v, --verbose         log what the LPA does\n"
"  -h, --help            this text\n";

enum opt_id {
	O_CONNECT = 256, O_FQDN, O_SMDP_ADDRESS, O_PKI, O_PROFILES, O_PROFILE, O_CONC, O_DURATION,
	O_COUNT, O_SERVER_PID, O_FLOOR_MS, O_FLOOR_TIME, O_VERIFY, O_CSV, O_NEW_EUICC,
};

static const struct option long_opts[] = {
	{ "connect", required_argument, NULL, O_CONNECT },
	{ "fqdn", required_argument, NULL, O_FQDN },
	{ "smdp-address", required_argument, NULL, O_SMDP_ADDRESS },
	{ "pki", required_argument, NULL, O_PKI },
	{ "profiles", required_argument, NULL, O_PROFILES },
	{ "profile", required_argument, NULL, O_PROFILE },
	{ "concurrency", required_argument, NULL, O_CONC },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "count", required_argument, NULL, O_COUNT },
	{ "server-pid", required_argument, NULL, O_SERVER_PID },
	{ "floor-ms", required_argument, NULL, O_FLOOR_MS },
	{ "floor-time", required_argument, NULL, O_FLOOR_TIME },
	{ "verify-server", no_argument, NULL, O_VERIFY },
	{ "csv", required_argument, NULL, O_CSV },
	{ "new-euicc", required_argument, NULL, O_NEW_EUICC },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "smdp-bench: %s%s%s\n(see smdp-bench --help)\n", what, arg ? " " : "",
		arg ? arg : "");
	return EX_USAGE;
}

/* Copy a bounded string option. 0 / -1 (too long). */
static int opt_str(char *dst, size_t dstsz, const char *v)
{
	return (size_t)snprintf(dst, dstsz, "%s", v) >= dstsz ? -1 : 0;
}

static int opt_num(const char *v, double lo, double hi, double *out)
{
	char *end;
	double d = strtod(v, &end);

	if (end == v || *end || !(d >= lo && d <= hi))
		return -1;
	*out = d;
	return 0;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	double d;
	int opt;

	memset(o, 0, sizeof(*o));
	snprintf(o->connect, sizeof(o->connect), "127.0.0.1:8443");
	snprintf(o->fqdn, sizeof(o->fqdn), "testsmdpplus1.example.com");
	snprintf(o->pki, sizeof(o->pki), "certs/sgp26-nist");
	snprintf(o->profiles, sizeof(o->profiles), "profiles");
	snprintf(o->profile, sizeof(o->profile), "TS48v2_SAIP2.3_NoBERTLV");
	o->concurrency = 1;
	o->duration = 10;
	o->floor_time = 1;
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(usage_text, stdout);
		return EX_OK;
	}
	if (argc < 2)
		return usage_error("a mode is needed: run, floor or inflight", NULL);
	if (!strcmp(argv[1], "run"))
		o->mode = MODE_RUN;
	else if (!strcmp(argv[1], "floor"))
		o->mode = MODE_FLOOR;
	else if (!strcmp(argv[1], "inflight"))
		o->mode = MODE_INFLIGHT;
	else
		return usage_error("unknown mode", argv[1]);
	optind = 2;
	while ((opt = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		switch (opt) {
		case O_CONNECT:
			if (opt_str(o->connect, sizeof(o->connect), optarg))
				return usage_error("--connect too long", NULL);
			break;
		case O_FQDN:
			if (opt_str(o->fqdn, sizeof(o->fqdn), optarg))
				return usage_error("--fqdn too long", NULL);
			break;
		case O_SMDP_ADDRESS:
			if (opt_str(o->smdp_address, sizeof(o->smdp_address), optarg))
				return usage_error("--smdp-address too long", NULL);
			break;
		case O_PKI:
			if (opt_str(o->pki, sizeof(o->pki) - 32, optarg))
				return usage_error("--pki path too long", NULL);
			break;
		case O_PROFILES:
			if (opt_str(o->profiles, sizeof(o->profiles) - SMDP_MAX_ID - 8, optarg))
				return usage_error("--profiles path too long", NULL);
			break;
		case O_PROFILE:
			if (opt_str(o->profile, sizeof(o->profile), optarg) || !optarg[0] ||
			    strchr(optarg, '/'))
				return usage_error("bad --profile", optarg);
			break;
		case O_CONC:
			if (opt_num(optarg, 1, BENCH_MAX_CONCURRENCY, &d) || d != (int)d)
				return usage_error("bad --concurrency", optarg);
			o->concurrency = (int)d;
			break;
		case O_DURATION:
			if (opt_num(optarg, 0.1, BENCH_MAX_DURATION, &o->duration))
				return usage_error("bad --duration", optarg);
			break;
		case O_COUNT:
			if (opt_num(optarg, 1, BENCH_MAX_COUNT, &d) || d != (long)d)
				return usage_error("bad --count", optarg);
			o->count = (long)d;
			break;
		case O_SERVER_PID:
			if (opt_num(optarg, 1, 1 << 30, &d) || d != (long)d)
				return usage_error("bad --server-pid", optarg);
			o->server_pid = (pid_t)d;
			break;
		case O_FLOOR_MS:
			if (opt_num(optarg, 0.001, 10000, &o->floor_ms))
				return usage_error("bad --floor-ms", optarg);
			break;
		case O_FLOOR_TIME:
			if (opt_num(optarg, 0.05, 60, &o->floor_time))
				return usage_error("bad --floor-time", optarg);
			break;
		case O_VERIFY:
			o->verify_server = 1;
			break;
		case O_CSV:
			if (opt_str(o->csv, sizeof(o->csv), optarg))
				return usage_error("--csv path too long", NULL);
			break;
		case O_NEW_EUICC: {
			double v;
			if (opt_num(optarg, 0, BENCH_MAX_IDENTITIES, &v) || v != (long)v)
				return usage_error("bad --new-euicc (0 to 100000)", optarg);
			o->new_euicc = (long)v;
			break;
		}
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EX_OK;
		default:
			return usage_error("unknown option", NULL);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	if (o->mode == MODE_INFLIGHT && !o->count)
		o->count = 10000;
	return -1;
}

/* "host:port" / "[v6]:port" into hc. 0 / -1. */
static int parse_connect(const char *s, struct httpc_cfg *hc)
{
	const char *colon = strrchr(s, ':'), *h = s;
	size_t hl;
	char *end;
	long port;

	if (!colon)
		return -1;
	hl = (size_t)(colon - s);
	if (*s == '[' && hl >= 2 && s[hl - 1] == ']') {
		h = s + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(hc->host))
		return -1;
	memcpy(hc->host, h, hl);
	hc->host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return -1;
	hc->port = (int)port;
	return 0;
}

/* Profile and StoreMetadataRequest sizes as the server will handle them,
 * from the same profile directory. 0 found, -1 not available locally. */
static int profile_sizes(const struct opts *o, size_t *upp, size_t *md)
{
	struct profile_set ps;
	const struct profile *p;
	struct buf bf25 = { 0 };
	char err[256];
	int rc = -1;

	memset(&ps, 0, sizeof(ps));
	if (saip_load_dir(&ps, o->profiles, err, sizeof(err)))
		goto out;
	if (!(p = saip_find(&ps, o->profile)) || der_encode_store_metadata(&p->meta, &bf25))
		goto out;
	*upp = p->upp.len;
	*md = bf25.len;
	rc = 0;
out:
	buf_free(&bf25);
	saip_free(&ps);
	return rc;
}

static int bench_setup(struct bench *b, const struct opts *o)
{
	memset(b, 0, sizeof(*b));
	b->o = o;
	if (parse_connect(o->connect, &b->hc))
		return usage_error("bad --connect (want HOST:PORT)", o->connect);
	snprintf(b->hc.server_name, sizeof(b->hc.server_name), "%s", o->fqdn);
	snprintf(b->ci, sizeof(b->ci), "%.480s/ci.der", o->pki);
	snprintf(b->euicc_cert, sizeof(b->euicc_cert), "%.480s/euicc/euicc.der", o->pki);
	snprintf(b->euicc_key, sizeof(b->euicc_key), "%.480s/euicc/euicc.key.pem", o->pki);
	snprintf(b->eum_cert, sizeof(b->eum_cert), "%.480s/euicc/eum.der", o->pki);
	snprintf(b->hc.ca_file, sizeof(b->hc.ca_file), "%s", b->ci);
	b->hc.timeout_ms = BENCH_TIMEOUT_MS;
	/* what smdp-client does by default: SGP.22 v2.5.0, TAC 35290611 */
	b->ec.svn[0] = 2;
	b->ec.svn[1] = 5;
	b->ec.tac[0] = 0x35;
	b->ec.tac[1] = 0x29;
	b->ec.tac[2] = 0x06;
	b->ec.tac[3] = 0x11;
	b->ec.ci_cert = b->ci;
	b->ec.euicc_cert = b->euicc_cert;
	b->ec.euicc_key = b->euicc_key;
	b->ec.eum_cert = b->eum_cert;
	b->ec.no_verify_server = !o->verify_server;
	snprintf(b->lo.smdp_address, sizeof(b->lo.smdp_address), "%s", o->fqdn);
	snprintf(b->lo.override_address, sizeof(b->lo.override_address), "%s", o->smdp_address);
	b->lo.has_matching_id = 1;
	snprintf(b->lo.matching_id, sizeof(b->lo.matching_id), "%s", o->profile);
	if (profile_sizes(o, &b->expect_len, &b->metadata_len)) {
		fprintf(stderr, "smdp-bench: profile %s not found under %s: the recovered length "
			"is not checked and the floor assumes 12000 + 100 bytes\n", o->profile,
			o->profiles);
		b->expect_len = 0;
		b->metadata_len = 100;
	}
	return -1;
}

/* --new-euicc: n eUICC identities under the PKI's EUM, as SGP.26 issues its
 * test eUICC (same subject but for the EID, role policy, key usage, key
 * identifiers), each with its own key and an EID made of the EUM's
 * permitted prefix, a counter and the check digits (SGP.29). 0 / -1. */
static int identities_make(struct bench *b, long n)
{
	char eum_key_path[PATH_LEN + 32], eid[SMDP_EID_LEN + 1], prefix[SMDP_EID_LEN + 1];
	crypto_cert *eum = NULL, *own = NULL;
	crypto_key *eum_key = NULL;
	int rc = -1, np;
	time_t now = time(NULL);

	snprintf(eum_key_path, sizeof(eum_key_path), "%s/euicc/eum.key.pem", b->o->pki);
	if (!(eum = crypto_cert_load(b->eum_cert)) || !(eum_key = crypto_key_load(eum_key_path)) ||
	    !(own = crypto_cert_load(b->euicc_cert))) {
		fprintf(stderr, "smdp-bench: --new-euicc needs %s, %s and %s\n", b->eum_cert,
			eum_key_path, b->euicc_cert);
		goto out;
	}
	/* the EUM's first permitted prefix, else that of the PKI's own eUICC */
	np = crypto_cert_eid_prefixes(eum, &prefix, 1);
	if (np < 1 && crypto_cert_subject_serial(own, prefix, sizeof(prefix)) == 0)
		prefix[8] = '\0';
	else if (np < 1)
		goto out;
	if (strlen(prefix) > 16 || !(b->id_cert = calloc((size_t)n, sizeof(*b->id_cert))) ||
	    !(b->id_key = calloc((size_t)n, sizeof(*b->id_key))))
		goto out;
	for (long i = 0; i < n; i++) {
		struct crypto_cert_tmpl t;
		unsigned rest = 0;
		char digits[96];

		memset(&t, 0, sizeof(t));
		/* prefix, then digits from the counter, then the check digits */
		snprintf(digits, sizeof(digits), "%s%0*ld00", prefix, (int)(30 - strlen(prefix)),
			 1000000 + i);
		if (strlen(digits) != SMDP_EID_LEN)
			goto out;
		memcpy(eid, digits, sizeof(eid));
		for (int k = 0; k < SMDP_EID_LEN; k++)
			rest = (rest * 10 + (unsigned)(eid[k] - '0')) % 97;
		eid[30] = (char)('0' + (98 - rest) / 10);
		eid[31] = (char)('0' + (98 - rest) % 10);
		t.subject[0] = (struct crypto_name_attr){ "C", "ES" };
		t.subject[1] = (struct crypto_name_attr){ "O", "RSP Test EUM" };
		t.subject[2] = (struct crypto_name_attr){ "serialNumber", eid };
		t.subject[3] = (struct crypto_name_attr){ "CN", "Test eUICC" };
		if (crypto_random(t.serial, 8))
			goto out;
		t.serial[0] = (uint8_t)((t.serial[0] & 0x7f) | 0x10);
		t.serial_len = 8;
		t.not_before = now - 3600;
		t.not_after = now + 30L * 86400;
		t.pathlen = -1;
		t.key_usage = CRYPTO_KU_DIGITAL_SIGNATURE;
		t.policy = "2.23.146.1.2.1.1";           /* id-rspRole-euicc */
		t.policy_critical = 1;
		t.ski = t.aki = 1;
		if (!(b->id_key[i] = crypto_key_generate(crypto_cert_curve(eum))) ||
		    !(b->id_cert[i] = crypto_cert_issue(&t, b->id_key[i], eum, eum_key))) {
			fprintf(stderr, "smdp-bench: cannot issue eUICC certificate %ld\n", i);
			goto out;
		}
		b->n_ids = i + 1;
	}
	rc = 0;
out:
	crypto_cert_free(eum);
	crypto_cert_free(own);
	crypto_key_free(eum_key);
	return rc;
}

static void identities_free(struct bench *b)
{
	for (long i = 0; i < b->n_ids; i++) {
		crypto_cert_free(b->id_cert[i]);
		crypto_key_free(b->id_key[i]);
	}
	free(b->id_cert);
	free(b->id_key);
	b->id_cert = NULL;
	b->id_key = NULL;
	b->n_ids = 0;
}

/* Open the worker's eUICC and connection (no network yet). 0 / -1. */
static int worker_open(struct worker *w)
{
	struct bench *b = w->b;
	char err[600] = "";

	if (euicc_open(&w->e, &b->ec, err, sizeof(err))) {
		snprintf(w->first_error, sizeof(w->first_error), "eUICC: %s", err);
		return -1;
	}
	w->e_open = 1;
	if (!(w->h = httpc_new(&b->hc))) {
		snprintf(w->first_error, sizeof(w->first_error), "cannot set up HTTPS (CA file?)");
		return -1;
	}
	return 0;
}

static void worker_close(struct worker *w)
{
	httpc_free(w->h);
	w->h = NULL;
	if (w->e_open)
		euicc_close(&w->e);
	w->e_open = 0;
	for (int i = 0; i < FN_COUNT; i++)
		samples_free(&w->lat[i]);
	samples_free(&w->dl);
}

static void note_error(struct worker *w, const struct lpa_result *r, const char *extra)
{
	if (w->first_error[0])
		return;
	if (r && r->outcome == LPA_FAILED)
		snprintf(w->first_error, sizeof(w->first_error), "%.31s failed %.15s/%.15s %.180s",
			 r->function, r->subject, r->reason, r->message);
	else if (r && r->outcome == LPA_ERROR)
		snprintf(w->first_error, sizeof(w->first_error), "%s", r->message);
	else
		snprintf(w->first_error, sizeof(w->first_error), "%s", extra ? extra : "?");
}

/* One complete download; 1 ok, 0 failed (noted). */
static int one_download(struct worker *w, double *ms)
{
	struct lpa_result res;
	double t0 = now_s();

	memset(&res, 0, sizeof(res));
	if (w->b->n_ids) {
		long i = atomic_fetch_add(&w->b->next_id, 1) % w->b->n_ids;
		if (euicc_set_identity(&w->e, w->b->id_cert[i], w->b->id_key[i])) {
			note_error(w, NULL, "cannot switch to the next eUICC identity");
			*ms = 0;
			return 0;
		}
	}
	lpa_download(w->h, &w->e, &w->b->lo, &res);
	*ms = (now_s() - t0) * 1000.0;
	if (res.outcome == LPA_OK && (!w->b->expect_len || res.profile_len == w->b->expect_len))
		return 1;
	if (res.outcome == LPA_OK) {
		char t[96];
		snprintf(t, sizeof(t), "recovered %zu profile bytes, expected %zu", res.profile_len,
			 w->b->expect_len);
		note_error(w, NULL, t);
	} else {
		note_error(w, &res, NULL);
	}
	return 0;
}

static int contains(const struct buf *b, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; b->p && i + k <= b->len; i++)
		if (!memcmp(b->p + i, needle, k))
			return 1;
	return 0;
}

/* ES9+.InitiateAuthentication (SGP.22 5.6.1) alone: a session the server
 * opens and this client never continues. 1 ok, 0 failed (noted). */
static int one_initiate(struct worker *w)
{
	struct bench *b = w->b;
	uint8_t chal[SMDP_CHAL_LEN];
	struct buf info1 = { 0 }, resp = { 0 };
	char *c64 = NULL, *i64 = NULL, *body = NULL, err[256] = "";
	const char *addr = b->lo.override_address[0] ? b->lo.override_address : b->lo.smdp_address;
	size_t cap;
	int status = 0, ok = 0, n;

	if (euicc_get_challenge(&w->e, chal) || euicc_get_info1(&w->e, &info1) ||
	    !(c64 = b64_encode(chal, sizeof(chal))) || !(i64 = b64_encode(info1.p, info1.len))) {
		note_error(w, NULL, "eUICC: cannot make euiccChallenge / EUICCInfo1");
		goto out;
	}
	cap = strlen(c64) + strlen(i64) + strlen(addr) + 128;
	if (!(body = malloc(cap)))
		goto out;
	n = snprintf(body, cap, "{\"euiccChallenge\":\"%s\",\"euiccInfo1\":\"%s\","
		     "\"smdpAddress\":\"%s\"}", c64, i64, addr);
	if (n < 0 || (size_t)n >= cap)
		goto out;
	if (httpc_post(w->h, ES9_PREFIX "initiateAuthentication", "application/json", ES9_HEADERS,
		       (const uint8_t *)body, (size_t)n, &status, &resp, NULL, 0, err, sizeof(err))) {
		note_error(w, NULL, err);
		goto out;
	}
	/* a session exists only after Executed-Success (SGP.22 6.5.1.4) */
	if (status != 200 || !contains(&resp, "\"Executed-Success\"")) {
		snprintf(err, sizeof(err), "initiateAuthentication: HTTP %d %.120s", status,
			 resp.p ? (const char *)resp.p : "");
		note_error(w, NULL, err);
		goto out;
	}
	ok = 1;
out:
	euicc_session_end(&w->e);
	buf_free(&info1);
	buf_free(&resp);
	free(c64);
	free(i64);
	free(body);
	return ok;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	const struct opts *o = b->o;
	double ms;
	int usable, consec = 0;

	current = w;
	usable = worker_open(w) == 0;
	/* warm-up: TLS handshake, server worker and first-use allocations */
	if (usable && !(o->mode == MODE_RUN ? one_download(w, &ms) : one_initiate(w)))
		w->warm_errors++;
	pthread_barrier_wait(&b->ready);
	pthread_barrier_wait(&b->go);
	w->recording = 1;
	while (usable) {
		long k = 0;
		if (o->mode == MODE_INFLIGHT || o->count) {
			k = atomic_fetch_add(&b->issued, 1);
			if (k >= o->count)
				break;
		} else if (now_s() >= b->deadline) {
			break;
		}
		if (o->mode == MODE_RUN ? one_download(w, &ms) : one_initiate(w)) {
			w->ok++;
			consec = 0;
			if (o->mode == MODE_RUN)
				samples_add(&w->dl, ms);
			atomic_fetch_add(&b->done, 1);
		} else {
			w->errors++;
			if (++consec >= BENCH_MAX_CONSEC_ERR)
				break;
		}
	}
	w->recording = 0;
	atomic_fetch_add(&b->finished, 1);
	return NULL;
}

/* Start n workers; returns how many threads started. */
static int start_workers(struct bench *b, int n)
{
	pthread_attr_t attr;
	int started = 0;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, BENCH_WORKER_STACK);
	for (int i = 0; i < n; i++) {
		if (pthread_create(&b->w[i].th, &attr, worker_main, &b->w[i]))
			break;
		b->w[i].started = 1;
		started++;
	}
	pthread_attr_destroy(&attr);
	return started;
}

/* The floor for this curve and profile (given or measured). <= 0 unknown. */
static double get_floor(struct bench *b, struct floor_result *fr, int *have)
{
	struct floor_in in;
	char err[256];

	*have = 0;
	if (b->o->floor_ms > 0)
		return b->o->floor_ms;
	memset(&in, 0, sizeof(in));
	in.pki_dir = b->o->pki;
	in.profile_len = b->expect_len ? b->expect_len : 12000;
	in.metadata_len = b->metadata_len;
	in.seconds = b->o->floor_time;
	if (floor_measure(&in, fr, err, sizeof(err))) {
		fprintf(stderr, "smdp-bench: floor: %s\n", err);
		return 0;
	}
	*have = 1;
	return fr->download_us / 1000.0;
}

static const char *curve_word(const struct bench *b)
{
	return b->hc.brainpool ? "brainpool" : "nist";
}

static void csv_row(const struct bench *b, const struct pct *dl, const struct pct *fn,
		    long downloads, long errors, double secs, double srv_ms, double floor_ms,
		    double ratio, double util, double cli_ms, double others,
		    const struct proc_snap *ps)
{
	FILE *f;
	long size;

	if (!b->o->csv[0])
		return;
	if (!(f = fopen(b->o->csv, "a"))) {
		fprintf(stderr, "smdp-bench: cannot append to %s\n", b->o->csv);
		return;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	if (size == 0)
		fprintf(f, "curve,profile,profile_bytes,concurrency,seconds,downloads,errors,"
			"downloads_per_s,dl_p50_ms,dl_p95_ms,dl_p99_ms,ia_p50_ms,ia_p95_ms,ia_p99_ms,"
			"ac_p50_ms,ac_p95_ms,ac_p99_ms,gbpp_p50_ms,gbpp_p95_ms,gbpp_p99_ms,hn_p50_ms,"
			"hn_p95_ms,hn_p99_ms,server_cpu_ms_per_dl,floor_ms,ratio,server_cpu_util,"
			"client_cpu_ms_per_dl,server_hwm_kb,server_threads,others_cpu_util\n");
	fprintf(f, "%s,%s,%zu,%d,%.3f,%ld,%ld,%.2f,%.2f,%.2f,%.2f", curve_word(b), b->o->profile,
		b->expect_len, b->n, secs, downloads, errors, secs > 0 ? downloads / secs : 0,
		dl->p50, dl->p95, dl->p99);
	for (int i = 0; i < FN_OTHER; i++)
		fprintf(f, ",%.2f,%.2f,%.2f", fn[i].p50, fn[i].p95, fn[i].p99);
	fprintf(f, ",%.3f,%.3f,%.2f,%.2f,%.3f,%ld,%ld,%.2f\n", srv_ms, floor_ms, ratio, util,
		cli_ms, ps->ok ? ps->hwm_kb : -1, ps->ok ? ps->threads : -1, others);
	fclose(f);
}

/* Merge the workers' results into the report. */
static void report(struct bench *b, double secs, const struct proc_snap *s0,
		   const struct proc_snap *s1, double cli_cpu, double machine_cpu, double floor_ms,
		   const struct floor_result *fr, int have_fr, const long *rss_at,
		   const long *done_at, int n_chk)
{
	const struct opts *o = b->o;
	struct samples all[FN_COUNT], dl;
	struct pct p[FN_COUNT], pdl;
	long ok = 0, errors = 0, warm = 0;
	const char *first = "";
	double srv_cpu = 0, srv_ms = 0, ratio = 0, util = 0, cli_ms = 0, others = -1;
	FILE *out = stdout;

	memset(all, 0, sizeof(all));
	memset(&dl, 0, sizeof(dl));
	for (int i = 0; i < b->n; i++) {
		struct worker *w = &b->w[i];
		ok += w->ok;
		errors += w->errors;
		warm += w->warm_errors;
		if (!first[0] && w->first_error[0])
			first = w->first_error;
		for (int k = 0; k < FN_COUNT; k++)
			samples_merge(&all[k], &w->lat[k]);
		samples_merge(&dl, &w->dl);
	}
	for (int k = 0; k < FN_COUNT; k++)
		samples_summary(&all[k], &p[k]);
	samples_summary(&dl, &pdl);
	if (s0->ok && s1->ok) {
		srv_cpu = s1->cpu_s - s0->cpu_s;
		util = secs > 0 ? srv_cpu / secs : 0;
		srv_ms = ok ? srv_cpu * 1000.0 / (double)ok : 0;
		ratio = floor_ms > 0 && o->mode == MODE_RUN ? srv_ms / floor_ms : 0;
	}
	cli_ms = ok ? cli_cpu * 1000.0 / (double)ok : 0;
	/* what the rest of the machine did meanwhile: a disturbed run shows here */
	if (machine_cpu >= 0 && secs > 0)
		others = (machine_cpu - cli_cpu - srv_cpu) / secs;
	if (others < 0 && machine_cpu >= 0)
		others = 0;

	fprintf(out, "{\"mode\":\"%s\",\"curve\":\"%s\",\"connect\":",
		o->mode == MODE_RUN ? "run" : "inflight", curve_word(b));
	json_string(out, o->connect);
	fprintf(out, ",\"profile\":");
	json_string(out, o->profile);
	fprintf(out, ",\"new_euicc\":%ld", b->n_ids);
	fprintf(out, ",\"profile_bytes\":%zu,\"concurrency\":%d,\"seconds\":%.3f,\"%s\":%ld,"
		"\"errors\":%ld,\"warmup_errors\":%ld,\"per_s\":%.2f,\"first_error\":",
		b->expect_len, b->n, secs, o->mode == MODE_RUN ? "downloads" : "sessions", ok, errors,
		warm, secs > 0 ? (double)ok / secs : 0);
	json_string(out, first);
	fprintf(out, ",\"latency_ms\":{");
	if (o->mode == MODE_RUN) {
		json_pct(out, "download", &pdl);
		fputc(',', out);
	}
	for (int k = 0; k < FN_COUNT; k++) {
		json_pct(out, fn_names[k], &p[k]);
		fputc(k + 1 < FN_COUNT ? ',' : '}', out);
	}
	fprintf(out, ",\"client\":{\"cpu_s\":%.3f,\"cpu_ms_per_op\":%.3f,\"verify_server\":%s}",
		cli_cpu, cli_ms, o->verify_server ? "true" : "false");
	if (s0->ok && s1->ok)
		fprintf(out, ",\"server\":{\"pid\":%ld,\"threads\":%ld,\"cpu_s\":%.3f,"
			"\"cpu_ms_per_op\":%.3f,\"cpu_util\":%.3f,\"rss_kb_before\":%ld,"
			"\"rss_kb_after\":%ld,\"hwm_kb\":%ld}", (long)o->server_pid, s1->threads,
			srv_cpu, srv_ms, util, s0->rss_kb, s1->rss_kb, s1->hwm_kb);
	else
		fprintf(out, ",\"server\":null");
	fprintf(out, ",\"machine\":{\"cpus\":%ld,\"busy_cores\":%.3f,\"others_cores\":%.3f,"
		"\"cpu_busy\":[", sysconf(_SC_NPROCESSORS_ONLN),
		secs > 0 && machine_cpu >= 0 ? machine_cpu / secs : -1, others);
	for (int i = 0; i < b->n_cpu; i++)
		fprintf(out, "%s%.3f", i ? "," : "", b->cpu_busy[i]);
	fprintf(out, "]}");
	if (n_chk > 0) {
		fprintf(out, ",\"rss_kb_by_sessions\":[");
		for (int i = 0; i < n_chk; i++)
			fprintf(out, "%s[%ld,%ld]", i ? "," : "", done_at[i], rss_at[i]);
		fputc(']', out);
	}
	if (o->mode == MODE_RUN) {
		fprintf(out, ",\"floor_ms\":%.4f,\"ratio\":%.3f,\"floor\":", floor_ms, ratio);
		if (have_fr)
			floor_json(out, fr);
		else
			fprintf(out, "null");
	}
	fprintf(out, "}\n");
	fflush(out);

	fprintf(stderr, "%s %s %s c=%d: %ld %s in %.2f s = %.1f/s, %ld errors%s%s\n",
		o->mode == MODE_RUN ? "run" : "inflight", curve_word(b), o->profile, b->n, ok,
		o->mode == MODE_RUN ? "downloads" : "sessions", secs,
		secs > 0 ? (double)ok / secs : 0, errors + warm, first[0] ? " - first: " : "", first);
	if (o->mode == MODE_RUN)
		fprintf(stderr, "  download ms p50 %.1f p95 %.1f p99 %.1f\n", pdl.p50, pdl.p95,
			pdl.p99);
	for (int k = 0; k < FN_OTHER; k++)
		if (p[k].n)
			fprintf(stderr, "  %-24s ms p50 %.1f p95 %.1f p99 %.1f\n", fn_names[k],
				p[k].p50, p[k].p95, p[k].p99);
	if (s0->ok && s1->ok)
		fprintf(stderr, "  server: %.2f ms CPU per %s (%.0f%% of one core), floor %.2f ms, "
			"ratio %.2f; RSS %ld -> %ld kB, peak %ld kB, %ld threads\n", srv_ms,
			o->mode == MODE_RUN ? "download" : "session", util * 100, floor_ms, ratio,
			s0->rss_kb, s1->rss_kb, s1->hwm_kb, s1->threads);
	fprintf(stderr, "  client: %.2f ms CPU per %s; other processes: %.0f%% of one core\n",
		cli_ms, o->mode == MODE_RUN ? "download" : "session", others * 100);
	if (o->mode == MODE_RUN)
		csv_row(b, &pdl, p, ok, errors + warm, secs, srv_ms, floor_ms, ratio, util, cli_ms,
			others, s1);
	for (int k = 0; k < FN_COUNT; k++)
		samples_free(&all[k]);
	samples_free(&dl);
}

/* run and inflight: workers, warm-up, measured window, report. */
static int cmd_load(struct bench *b)
{
	const struct opts *o = b->o;
	struct proc_snap s0, s1, chk;
	struct floor_result fr;
	long rss_at[BENCH_CHECKPOINTS + 1], done_at[BENCH_CHECKPOINTS + 1];
	double floor_ms = 0, t0, secs, c0, cli, m0 = 0, m1 = 0, mach = -1;
	double cb0[BENCH_MAX_CPUS], cb1[BENCH_MAX_CPUS];   /* per-CPU busy seconds */
	int n_cpu0, n_cpu1;
	int have_m;
	int have_fr = 0, started = 0, n_chk = 0, rc = EX_FAIL, barriers = 0;
	long ok = 0;

	memset(&fr, 0, sizeof(fr));
	memset(&s0, 0, sizeof(s0));
	memset(&s1, 0, sizeof(s1));
	b->n = o->concurrency;
	if (!(b->w = calloc((size_t)b->n, sizeof(*b->w))))
		goto out;
	for (int i = 0; i < b->n; i++) {
		b->w[i].b = b;
		b->w[i].id = i;
	}
	/* the curve decides the TLS settings: learn it from the eUICC first;
	 * OpenSSL 3.0 does brainpool over TLS 1.2 only, as in smdp-client */
	if (worker_open(&b->w[0])) {
		fprintf(stderr, "smdp-bench: %s\n", b->w[0].first_error);
		goto out;
	}
	b->hc.brainpool = b->w[0].e.curve == CURVE_BRAINPOOL_P256R1;
	b->hc.tls12_only = b->hc.brainpool;
	if (o->mode == MODE_RUN)
		floor_ms = get_floor(b, &fr, &have_fr);
	if (o->server_pid > 0) {
		if (proc_read(o->server_pid, &chk))
			fprintf(stderr, "smdp-bench: cannot read /proc/%ld: no server figures\n",
				(long)o->server_pid);
		else if (chk.threads > 0 && chk.threads < b->n)
			fprintf(stderr, "smdp-bench: warning: the server has %ld threads for %d "
				"keep-alive connections: each one holds a server worker, the rest "
				"wait (start it with --threads %d or more)\n", chk.threads, b->n, b->n + 4);
	}
	worker_close(&b->w[0]);
	memset(&b->w[0], 0, sizeof(b->w[0]));
	b->w[0].b = b;
	if (pthread_barrier_init(&b->ready, NULL, (unsigned)b->n + 1) ||
	    pthread_barrier_init(&b->go, NULL, (unsigned)b->n + 1))
		goto out;
	barriers = 1;
	started = start_workers(b, b->n);
	if (started != b->n) {
		/* the started threads wait at a barrier sized for all of them:
		 * neither going on nor a clean unwind is possible */
		fprintf(stderr, "smdp-bench: could only start %d of %d threads\n", started, b->n);
		exit(EX_FAIL);
	}
	pthread_barrier_wait(&b->ready);
	/* every connection is up and idle: the measured window starts here */
	if (o->server_pid > 0)
		proc_read(o->server_pid, &s0);
	c0 = self_cpu_s();
	n_cpu0 = machine_busy_s(&m0, cb0, BENCH_MAX_CPUS);
	have_m = n_cpu0 >= 0;
	t0 = now_s();
	b->deadline = t0 + o->duration;
	if (o->mode == MODE_INFLIGHT && s0.ok) {
		rss_at[0] = s0.rss_kb;
		done_at[0] = 0;
		n_chk = 1;
	}
	pthread_barrier_wait(&b->go);
	while (atomic_load(&b->finished) < b->n) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		long d = atomic_load(&b->done);
		if (o->mode == MODE_INFLIGHT && s0.ok && n_chk <= BENCH_CHECKPOINTS &&
		    d >= o->count * (n_chk) / BENCH_CHECKPOINTS && proc_read(o->server_pid, &chk) == 0) {
			rss_at[n_chk] = chk.rss_kb;
			done_at[n_chk] = d;
			n_chk++;
		}
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < b->n; i++)
		pthread_join(b->w[i].th, NULL);
	secs = now_s() - t0;
	cli = self_cpu_s() - c0;
	b->n_cpu = 0;
	n_cpu1 = have_m ? machine_busy_s(&m1, cb1, BENCH_MAX_CPUS) : -1;
	if (n_cpu1 >= 0)
		mach = m1 - m0;
	if (n_cpu1 > 0 && n_cpu1 == n_cpu0 && secs > 0) {   /* no CPU came or went */
		for (int i = 0; i < n_cpu1; i++)
			b->cpu_busy[i] = (cb1[i] - cb0[i]) / secs;
		b->n_cpu = n_cpu1;
	}
	if (o->server_pid > 0)
		proc_read(o->server_pid, &s1);
	if (o->mode == MODE_INFLIGHT && s1.ok && n_chk <= BENCH_CHECKPOINTS) {
		rss_at[n_chk] = s1.rss_kb;
		done_at[n_chk] = atomic_load(&b->done);
		n_chk++;
	}
	report(b, secs, &s0, &s1, cli, mach, floor_ms, &fr, have_fr, rss_at, done_at, n_chk);
	for (int i = 0; i < b->n; i++)
		ok += b->w[i].ok;
	rc = ok > 0 ? EX_OK : EX_FAIL;
out:
	if (b->w)
		for (int i = 0; i < b->n; i++)
			worker_close(&b->w[i]);
	if (barriers) {
		pthread_barrier_destroy(&b->ready);
		pthread_barrier_destroy(&b->go);
	}
	free(b->w);
	b->w = NULL;
	return rc;
}

static int cmd_floor(struct bench *b)
{
	struct floor_result fr;
	double f;
	int have;

	memset(&fr, 0, sizeof(fr));
	f = get_floor(b, &fr, &have);
	if (!have)
		return EX_FAIL;
	printf("{\"mode\":\"floor\",\"profile\":");
	json_string(stdout, b->o->profile);
	printf(",\"profile_bytes\":%zu,\"metadata_bytes\":%zu,\"floor_ms\":%.4f,\"floor\":",
	       b->expect_len, b->metadata_len, f);
	floor_json(stdout, &fr);
	printf("}\n");
	fprintf(stderr, "floor %s %s: %.3f ms CPU per download (%d signs x %.0f us, %d verifies "
		"x %.0f us (cert %.0f us), keygen %.0f us, otPK import %.0f us, ECDH %.0f us, KDF "
		"%.1f us, BSP %zu bytes %.0f us); outside the floor: eUICC certificate parse %.0f us\n",
		crypto_curve_name(fr.curve), b->o->profile, f, fr.signs, fr.sign_us, fr.verifies,
		fr.verify_us, fr.cert_verify_us, fr.keygen_us, fr.point_us, fr.ecdh_us, fr.kdf_us,
		fr.bsp_bytes, fr.bsp_us, fr.cert_parse_us);
	return EX_OK;
}

int main(int argc, char **argv)
{
	struct opts *o = calloc(1, sizeof(*o));
	struct bench *b = calloc(1, sizeof(*b));
	int rc = EX_FAIL;

	if (!o || !b)
		goto out;
	rc = parse_args(argc, argv, o);
	if (rc >= 0)
		goto out;
	log_set_level(o->verbose ? LOG_DEBUG : LOG_ERROR);
	rc = bench_setup(b, o);
	if (rc >= 0)
		goto out;
	if (o->new_euicc > 0 && o->mode == MODE_RUN && identities_make(b, o->new_euicc)) {
		rc = EX_FAIL;
		goto out;
	}
	rc = o->mode == MODE_FLOOR ? cmd_floor(b) : cmd_load(b);
out:
	if (b)
		identities_free(b);
	free(o);
	free(b);
	return rc;
}
