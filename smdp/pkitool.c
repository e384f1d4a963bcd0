/* pkitool.c - smdp-pki: makes GSMA eSIM test certificate hierarchies (SGP.22
 * 4.5.2, SGP.26 profiles) in the layout smdp reads from certs/, renews
 * certificates from an existing CI key, makes the negative variants that
 * LPAs, eUICCs and SM-DP+ servers must refuse, CRLs, and runs the
 * --check-config report. All certificate encoding is in crypto.c. */
#include "smdp.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EX_OK     0
#define EX_FAIL   1
#define EX_USAGE  64

#define PATH_LEN        1024
#define PKI_MAX_FQDN    64        /* X.520 ub-common-name: the DPtls CN is the FQDN */
#define PKI_MAX_ORG     64        /* X.520 ub-organization-name */
#define PKI_MAX_NAME    48        /* CI directory name */
#define PKI_MAX_REVOKE  64        /* certificates listed in one CRL */
#define DAY             86400
#define NOT_AFTER_FOREVER ((time_t)253402300799)  /* 9999-12-31T23:59:59Z */

/* SGP.22 4.5.2.1 role policy OIDs (id-rspRole, 2.23.146.1.2.1.x). */
#define OID_ROLE_CI     "2.23.146.1.2.1.0"
#define OID_ROLE_EUICC  "2.23.146.1.2.1.1"
#define OID_ROLE_EUM    "2.23.146.1.2.1.2"
#define OID_ROLE_DPTLS  "2.23.146.1.2.1.3"
#define OID_ROLE_DPAUTH "2.23.146.1.2.1.4"
#define OID_ROLE_DPPB   "2.23.146.1.2.1.5"
/* SGP.26 registeredIDs of the CI and the EUM (the SM-DP+ OID is --oid). */
#define OID_CI_RID      "2.999.1"
#define OID_EUM_RID     "2.999.5"

/* Default lifetimes, after the SGP.26 test certificates (SMDP-REFERENCE 5):
 * CI 35 years, EUM 34, DPauth/DPpb 10, DPtls about 13 months; the eUICC
 * certificate never expires (notAfter 99991231235959Z). */
#define DAYS_CI     12784
#define DAYS_EUM    12418
#define DAYS_DP     3650
#define DAYS_DPTLS  395

enum role { R_CI, R_DPAUTH, R_DPPB, R_DPTLS, R_EUM, R_EUICC, R_COUNT };
static const char *const role_names[R_COUNT] = { "ci", "dpauth", "dppb", "dptls", "eum", "euicc" };

/* A flaw put into one certificate for a negative variant. */
enum flaw { F_NONE, F_EXPIRED, F_NOT_YET_VALID, F_POLICY, F_KEY_USAGE, F_CURVE, F_EID_RANGE,
	    F_OID, F_FQDN };

/* One CI directory: its certificates and keys, and what they are made of. */
struct hier {
	char name[PKI_MAX_NAME + 1];
	enum crypto_curve curve;
	char fqdn[PKI_MAX_FQDN + 1];
	char oid[SMDP_MAX_OID + 1];
	char org[PKI_MAX_ORG + 1];
	char eid[SMDP_EID_LEN + 1];
	char prefix[SMDP_EID_LEN + 1];
	char crl_url[256];
	crypto_cert *cert[R_COUNT];
	crypto_key *key[R_COUNT];
	time_t now;
};

static void hier_free(struct hier *h)
{
	for (int i = 0; i < R_COUNT; i++) {
		crypto_cert_free(h->cert[i]);
		crypto_key_free(h->key[i]);
		h->cert[i] = NULL;
		h->key[i] = NULL;
	}
}

static int fail(const char *fmt, const char *a)
{
	fprintf(stderr, "smdp-pki: ");
	fprintf(stderr, fmt, a ? a : "");
	fprintf(stderr, "\n");
	return EX_FAIL;
}

/* ------------------------------------------------------------------ */
/* Small helpers */

static int digits_only(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* EID check digits (GSMA SGP.29, ISO 7064 MOD 97-10 as in IBAN): with the
 * last two digits set to 00, the number mod 97 gives check = 98 - rest. */
static void eid_fix_check_digits(char eid[SMDP_EID_LEN + 1])
{
	unsigned rest = 0;

	eid[30] = eid[31] = '0';
	for (int i = 0; i < SMDP_EID_LEN; i++)
		rest = (rest * 10 + (unsigned)(eid[i] - '0')) % 97;
	rest = 98 - rest;
	eid[30] = (char)('0' + rest / 10);
	eid[31] = (char)('0' + rest % 10);
}

/* An EID under prefix: the prefix, then the digits of the SGP.23 test EID
 * 89049032123451234512345678901235 at the same positions, then check digits. */
static void eid_make(const char *prefix, char eid[SMDP_EID_LEN + 1])
{
	static const char base[] = "89049032123451234512345678901235";
	size_t n = strlen(prefix);

	memcpy(eid, base, SMDP_EID_LEN + 1);
	memcpy(eid, prefix, n > 30 ? 30 : n);
	eid_fix_check_digits(eid);
}

/* "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" or "@UNIXTIME" -> time_t; -1 bad. */
static time_t parse_time(const char *s)
{
	struct tm tm;
	char z = 0;
	long long u;
	int n = 0;

	memset(&tm, 0, sizeof(tm));
	if (s[0] == '@') {
		if (sscanf(s + 1, "%lld%n", &u, &n) == 1 && s[1 + n] == '\0' && u >= 0)
			return (time_t)u;
		return -1;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3)
		return -1;
	if (s[n] == 'T' && sscanf(s + n, "T%2d:%2d:%2d%c", &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
				  &z) == 4 && z == 'Z')
		n = (int)strlen(s);
	if (s[n] != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_year < 1950 || tm.tm_year > 9999)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static int parse_curve(const char *s, enum crypto_curve *c)
{
	if (!strcmp(s, "nist") || !strcmp(s, "p256") || !strcmp(s, "prime256v1"))
		*c = CURVE_NIST_P256;
	else if (!strcmp(s, "brainpool") || !strcmp(s, "brp") || !strcmp(s, "brainpoolP256r1"))
		*c = CURVE_BRAINPOOL_P256R1;
	else
		return -1;
	return 0;
}

static enum crypto_curve other_curve(enum crypto_curve c)
{
	return c == CURVE_NIST_P256 ? CURVE_BRAINPOOL_P256R1 : CURVE_NIST_P256;
}

/* Fresh serial: 8 random bytes, positive, no leading zero byte (RFC 5280
 * 4.1.2.2: unique per issuer, at most 20 bytes). */
static int new_serial(uint8_t serial[8])
{
	if (crypto_random(serial, 8))
		return -1;
	serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x10);
	return 0;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_LEN];

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s", path) >= sizeof(tmp))
		return -1;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0755) && errno != EEXIST)
		return -1;
	return 0;
}

static int write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int rc = -1;

	if (!f)
		return -1;
	if (fwrite(p, 1, n, f) == n)
		rc = 0;
	if (fclose(f))
		rc = -1;
	return rc;
}

/* stem.der and stem.pem side by side. */
static int write_cert(const char *stem, const crypto_cert *c)
{
	char path[PATH_LEN];
	struct buf pem = { 0 };
	const uint8_t *der;
	size_t n;
	int rc = -1;

	der = crypto_cert_der(c, &n);
	if (!der || (size_t)snprintf(path, sizeof(path), "%s.der", stem) >= sizeof(path) ||
	    write_file(path, der, n))
		goto out;
	snprintf(path, sizeof(path), "%s.pem", stem);
	if (crypto_cert_pem(c, &pem) || write_file(path, pem.p, pem.len))
		goto out;
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "smdp-pki: cannot write %s.der/.pem\n", stem);
	buf_free(&pem);
	return rc;
}

static int write_key(const char *stem, const crypto_key *k)
{
	char path[PATH_LEN];

	if ((size_t)snprintf(path, sizeof(path), "%s.key.pem", stem) >= sizeof(path) ||
	    crypto_key_save(k, path)) {
		fprintf(stderr, "smdp-pki: cannot write %s.key.pem\n", stem);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Certificate profiles (SGP.22 4.5.2.1, SGP.26; SMDP-REFERENCE.md 5) */

static time_t default_days(enum role r)
{
	switch (r) {
	case R_CI:
		return DAYS_CI;
	case R_EUM:
		return DAYS_EUM;
	case R_DPTLS:
		return DAYS_DPTLS;
	case R_EUICC:
		return 0;   /* no expiry */
	default:
		return DAYS_DP;
	}
}

/* The template of role r in hierarchy h, with flaw f applied. */
static int make_tmpl(const struct hier *h, enum role r, enum flaw f, long days,
		     struct crypto_cert_tmpl *t, char *cn, size_t cnsz, char *eum_org,
		     size_t eosz, char *eid, char *oid, size_t oidsz)
{
	struct crypto_name_attr *a = t->subject;
	time_t d = days > 0 ? (time_t)days : default_days(r);

	memset(t, 0, sizeof(*t));
	t->pathlen = -1;
	t->ski = 1;
	t->aki = r != R_CI;
	t->policy_critical = 1;
	t->crl_url = h->crl_url[0] ? h->crl_url : NULL;
	/* one minute of slack for clocks of other machines in the lab */
	t->not_before = h->now - 60;
	t->not_after = d ? h->now + d * DAY : CRYPTO_TIME_FOREVER;
	snprintf(eum_org, eosz, "%.50s EUM", h->org);
	str_copy(oid, oidsz, h->oid);
	if (new_serial(t->serial))
		return -1;
	t->serial_len = 8;
	switch (r) {
	case R_CI:
		snprintf(cn, cnsz, "%.40s CI", h->name);
		a[0] = (struct crypto_name_attr){ "O", h->org };
		a[1] = (struct crypto_name_attr){ "OU", "TESTCERT" };
		a[2] = (struct crypto_name_attr){ "CN", cn };
		t->ca = 1;
		t->key_usage = CRYPTO_KU_KEY_CERT_SIGN | CRYPTO_KU_CRL_SIGN;
		t->policy = OID_ROLE_CI;
		t->san_rid = OID_CI_RID;
		break;
	case R_DPAUTH:
	case R_DPPB:
		snprintf(cn, cnsz, "TEST SM-DP+");
		a[0] = (struct crypto_name_attr){ "O", h->org };
		a[1] = (struct crypto_name_attr){ "CN", cn };
		t->key_usage = CRYPTO_KU_DIGITAL_SIGNATURE;
		t->policy = r == R_DPAUTH ? OID_ROLE_DPAUTH : OID_ROLE_DPPB;
		t->san_rid = oid;
		break;
	case R_DPTLS:
		str_copy(cn, cnsz, h->fqdn);
		a[0] = (struct crypto_name_attr){ "O", h->org };
		a[1] = (struct crypto_name_attr){ "CN", cn };
		t->key_usage = CRYPTO_KU_DIGITAL_SIGNATURE;
		t->eku_tls = 1;
		t->policy = OID_ROLE_DPTLS;
		t->policy_critical = 0;   /* SGP.26: TLS libraries must not choke on it */
		t->san_dns = cn;
		t->san_rid = oid;
		break;
	case R_EUM:
		snprintf(cn, cnsz, "EUM %.40s", h->name);
		a[0] = (struct crypto_name_attr){ "C", "XX" };
		a[1] = (struct crypto_name_attr){ "O", eum_org };
		a[2] = (struct crypto_name_attr){ "CN", cn };
		t->ca = 1;
		t->pathlen = 0;
		t->key_usage = CRYPTO_KU_KEY_CERT_SIGN;
		t->policy = OID_ROLE_EUM;
		t->san_rid = OID_EUM_RID;
		t->eid_org = eum_org;
		t->eid_prefixes[0] = h->prefix;
		t->n_eid_prefixes = 1;
		break;
	case R_EUICC:
		snprintf(cn, cnsz, "Test eUICC");
		memcpy(eid, h->eid, SMDP_EID_LEN + 1);
		a[0] = (struct crypto_name_attr){ "C", "XX" };
		a[1] = (struct crypto_name_attr){ "O", eum_org };
		a[2] = (struct crypto_name_attr){ "serialNumber", eid };
		a[3] = (struct crypto_name_attr){ "CN", cn };
		t->key_usage = CRYPTO_KU_DIGITAL_SIGNATURE;
		t->policy = OID_ROLE_EUICC;
		break;
	default:
		return -1;
	}

	switch (f) {
	case F_EXPIRED:
		t->not_before = h->now - 2 * 365 * DAY;
		t->not_after = h->now - 1 * DAY;
		break;
	case F_NOT_YET_VALID:
		t->not_before = h->now + 365 * DAY;
		t->not_after = h->now + 2 * 365 * DAY;
		break;
	case F_POLICY:
		/* a real role policy, of the wrong role */
		t->policy = r == R_EUM ? OID_ROLE_EUICC : r == R_EUICC ? OID_ROLE_EUM :
			    r == R_DPAUTH ? OID_ROLE_DPPB : r == R_DPPB ? OID_ROLE_DPAUTH :
			    OID_ROLE_DPAUTH;
		break;
	case F_KEY_USAGE:
		t->key_usage = r == R_EUM || r == R_CI ? CRYPTO_KU_DIGITAL_SIGNATURE : 0x08;
		break;
	case F_EID_RANGE: {
		/* the last digit of the permitted prefix changed */
		size_t i = strlen(h->prefix) - 1;
		eid[i] = eid[i] == '9' ? '0' : (char)(eid[i] + 1);
		eid_fix_check_digits(eid);
		break;
	}
	case F_OID:
		if ((size_t)snprintf(oid, oidsz, "%.*s.1", (int)oidsz - 3, h->oid) >= oidsz)
			return -1;
		break;
	case F_FQDN:
		snprintf(cn, cnsz, "wrong.%.50s", h->fqdn);
		break;
	default:
		break;
	}
	return 0;
}

/* Issue role r of h with key k (subject key) under issuer/issuer_key. */
static crypto_cert *issue(const struct hier *h, enum role r, enum flaw f, long days,
			  const crypto_key *k, const crypto_cert *issuer,
			  const crypto_key *issuer_key)
{
	struct crypto_cert_tmpl t;
	char cn[PKI_MAX_FQDN + 16], eum_org[PKI_MAX_ORG + 8], eid[SMDP_EID_LEN + 1];
	char oid[SMDP_MAX_OID + 1];

	if (make_tmpl(h, r, f, days, &t, cn, sizeof(cn), eum_org, sizeof(eum_org), eid, oid,
		      sizeof(oid)))
		return NULL;
	return crypto_cert_issue(&t, k, issuer, issuer_key);
}

/* Issuer of role r within h: the CI, or the EUM for the eUICC. */
static enum role issuer_of(enum role r)
{
	return r == R_EUICC ? R_EUM : R_CI;
}

/* Make every piece of h that is missing, with fresh keys, in issuing order. */
static int hier_build(struct hier *h)
{
	for (int r = 0; r < R_COUNT; r++) {
		enum role by = issuer_of((enum role)r);
		if (h->cert[r])
			continue;
		if (!h->key[r] && !(h->key[r] = crypto_key_generate(h->curve)))
			return -1;
		h->cert[r] = issue(h, (enum role)r, F_NONE, 0, h->key[r], r == R_CI ? NULL : h->cert[by],
				   r == R_CI ? h->key[r] : h->key[by]);
		if (!h->cert[r])
			return fail("cannot issue the %s certificate", role_names[r]);
	}
	return 0;
}

/* Write h as a CI directory: dir/ci.*, dpauth.*, dppb.*, dptls.*, and
 * dir/euicc/{eum,euicc}.* - the layout of certs/ and of smdp-client --pki. */
static int hier_write(const struct hier *h, const char *dir)
{
	char sub[PATH_LEN], stem[PATH_LEN + 16];

	if ((size_t)snprintf(sub, sizeof(sub), "%s/euicc", dir) >= sizeof(sub) - 16 || mkdir_p(sub))
		return fail("cannot create %s", sub);
	for (int r = 0; r < R_COUNT; r++) {
		if (!h->cert[r])
			continue;
		snprintf(stem, sizeof(stem), "%s/%s", r >= R_EUM ? sub : dir, role_names[r]);
		if (write_cert(stem, h->cert[r]) || (h->key[r] && write_key(stem, h->key[r])))
			return EX_FAIL;
	}
	return 0;
}

/* Read what a CI directory holds (pieces that are absent stay NULL) and
 * recover the parameters it was made with. */
static int hier_read(struct hier *h, const char *dir)
{
	char path[PATH_LEN + 32], prefixes[CRYPTO_MAX_PREFIXES][SMDP_EID_LEN + 1], dns[256];
	const char *slash;
	int n;

	if (strlen(dir) > PATH_LEN - 64)
		return fail("%s: path too long", dir);
	for (int r = 0; r < R_COUNT; r++) {
		const char *sub = r >= R_EUM ? "/euicc" : "";
		struct stat st;
		snprintf(path, sizeof(path), "%s%s/%s.der", dir, sub, role_names[r]);
		if (stat(path, &st) == 0 && !(h->cert[r] = crypto_cert_load(path)))
			return fail("cannot read %s", path);
		snprintf(path, sizeof(path), "%s%s/%s.key.pem", dir, sub, role_names[r]);
		if (stat(path, &st) == 0 && !(h->key[r] = crypto_key_load(path)))
			return fail("cannot read %s", path);
	}
	if (!h->cert[R_CI] || !h->key[R_CI])
		return fail("%s: needs ci.der and ci.key.pem", dir);
	h->curve = crypto_cert_curve(h->cert[R_CI]);
	slash = strrchr(dir, '/');
	str_copy(h->name, sizeof(h->name), slash && slash[1] ? slash + 1 : dir);
	if (h->cert[R_DPAUTH] && crypto_cert_san_rid(h->cert[R_DPAUTH], h->oid, sizeof(h->oid)))
		h->oid[0] = '\0';
	if (h->cert[R_DPTLS]) {
		crypto_cert_san_dns_list(h->cert[R_DPTLS], dns, sizeof(dns));
		dns[strcspn(dns, ",")] = '\0';
		if (dns[0] && strlen(dns) <= PKI_MAX_FQDN)
			str_copy(h->fqdn, sizeof(h->fqdn), dns);
	}
	if (h->cert[R_EUM]) {
		n = crypto_cert_eid_prefixes(h->cert[R_EUM], prefixes, CRYPTO_MAX_PREFIXES);
		if (n > 0)
			str_copy(h->prefix, sizeof(h->prefix), prefixes[0]);
	}
	if (h->cert[R_EUICC] && crypto_cert_subject_serial(h->cert[R_EUICC], h->eid, sizeof(h->eid)))
		h->eid[0] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ */
/* Options shared by the commands */

struct opts {
	const char *out, *ci_dir, *key, *issuer_cert, *issuer_key, *certs, *now;
	char curve_arg[16];
	int both;
	long days;
	int by_eum;
	const char *not_before, *not_after;
	struct hier h;                   /* parameters for new certificates */
	struct http_listener_cfg ls[4];
	size_t nls;
	int fqdn_set, oid_set, prefix_set;
};

enum {
	O_CURVE = 256, O_NAME, O_FQDN, O_OID, O_EID, O_PREFIX, O_ORG, O_CRL_URL, O_CI, O_OUT,
	O_KEY, O_DAYS, O_ISSUER, O_ISSUER_KEY, O_NOT_BEFORE, O_NOT_AFTER, O_CERTS, O_NOW,
	O_LISTEN, O_BY_EUM
};

static const struct option long_opts[] = {
	{ "curve", required_argument, NULL, O_CURVE },
	{ "name", required_argument, NULL, O_NAME },
	{ "fqdn", required_argument, NULL, O_FQDN },
	{ "oid", required_argument, NULL, O_OID },
	{ "eid", required_argument, NULL, O_EID },
	{ "eid-prefix", required_argument, NULL, O_PREFIX },
	{ "org", required_argument, NULL, O_ORG },
	{ "crl-url", required_argument, NULL, O_CRL_URL },
	{ "ci", required_argument, NULL, O_CI },
	{ "out", required_argument, NULL, O_OUT },
	{ "key", required_argument, NULL, O_KEY },
	{ "days", required_argument, NULL, O_DAYS },
	{ "issuer", required_argument, NULL, O_ISSUER },
	{ "issuer-key", required_argument, NULL, O_ISSUER_KEY },
	{ "not-before", required_argument, NULL, O_NOT_BEFORE },
	{ "not-after", required_argument, NULL, O_NOT_AFTER },
	{ "certs", required_argument, NULL, O_CERTS },
	{ "now", required_argument, NULL, O_NOW },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "by-eum", no_argument, NULL, O_BY_EUM },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
"usage: smdp-pki init OUT [--curve nist|brainpool|both] [--name NAME] [--fqdn FQDN]\n"
"                [--oid OID] [--eid-prefix DIGITS] [--eid EID] [--org ORG] [--crl-url URL]\n"
"       smdp-pki issue ROLE --ci DIR --out STEM [--key KEY] [--days N]\n"
"                [--not-before DATE --not-after DATE] [--fqdn ..] [--oid ..] [--eid ..]\n"
"       smdp-pki renew CERT --ci DIR --out STEM [--key KEY] [--days N]\n"
"                [--issuer CERT --issuer-key KEY]\n"
"       smdp-pki negative OUT --ci DIR\n"
"       smdp-pki revoke --ci DIR --out FILE.crl [--by-eum] [--days N] CERT...\n"
"       smdp-pki check [--certs DIR] [--fqdn FQDN] [--now DATE]\n"
"                [--listen NAME=CERT,KEY]...\n"
"\n"
"Test certificate hierarchies for the GSMA eSIM PKI (SGP.22 4.5.2, SGP.26),\n"
"written in the layout smdp reads from certs/: DIR/ci, dpauth, dppb, dptls and\n"
"DIR/euicc/{eum,euicc}, each as .der and .pem, keys as .key.pem (mode 0600).\n"
"\n"
"  init      a new CI (NIST P-256 or brainpoolP256r1) and everything under it in\n"
"            OUT/NAME (NAME: lab-nist / lab-brp); --curve both makes both.\n"
"            Defaults: --fqdn testsmdpplus1.example.com, --oid 2.999.10,\n"
"            --eid-prefix 89049032, EID = SGP.23 EID1 under that prefix.\n"
"  issue     one certificate (ROLE: dpauth dppb dptls eum euicc) from the CI key\n"
"            in DIR (the eUICC from DIR/euicc/eum.*), for KEY or a new key.\n"
"  renew     re-issue CERT (same subject, key and extensions) from DIR/ci.key.pem,\n"
"            e.g. an expired SGP.26 DPtls: smdp-pki renew certs/sgp26-nist/dptls.der\n"
"            --ci certs/sgp26-nist --out /tmp/dptls. Default lifetime: CERT's.\n"
"  negative  every negative variant of the hierarchy in DIR, each a full copy\n"
"            OUT/VARIANT/NAME with one certificate broken; OUT/VARIANTS.txt says\n"
"            what each one is and what SGP.22 says the verifier answers.\n"
"  revoke    a CRL from DIR's CI (or, --by-eum, from DIR/euicc/eum) listing CERTs;\n"
"            put it in the CI directory as *.crl and smdp applies it.\n"
"  check     the report of smdp --check-config (exit 0 fine, 1 warnings, 2 errors).\n"
"\n"
"DATE: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @UNIXTIME.\n";

static int usage_error(const char *msg)
{
	fprintf(stderr, "smdp-pki: %s (see --help)\n", msg);
	return EX_USAGE;
}

static int parse_listen(struct opts *o, const char *arg)
{
	struct http_listener_cfg *l;
	const char *eq = strchr(arg, '='), *comma = eq ? strchr(eq, ',') : NULL;

	if (o->nls >= sizeof(o->ls) / sizeof(o->ls[0]) || !eq || !comma || eq == arg ||
	    (size_t)(eq - arg) >= sizeof(l->name) || (size_t)(comma - eq - 1) >= sizeof(l->cert) ||
	    strlen(comma + 1) >= sizeof(l->key))
		return -1;
	l = &o->ls[o->nls++];
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%.*s", (int)(eq - arg), arg);
	snprintf(l->cert, sizeof(l->cert), "%.*s", (int)(comma - eq - 1), eq + 1);
	str_copy(l->key, sizeof(l->key), comma + 1);
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o, int *first_arg)
{
	struct hier *h = &o->h;
	char *end;
	int opt;

	h->now = time(NULL);
	snprintf(h->fqdn, sizeof(h->fqdn), "testsmdpplus1.example.com");
	snprintf(h->oid, sizeof(h->oid), "2.999.10");
	snprintf(h->org, sizeof(h->org), "smdp lab");
	snprintf(h->prefix, sizeof(h->prefix), "89049032");
	h->curve = CURVE_NIST_P256;
	optind = 2;   /* argv[1] is the command */
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (opt) {
		case O_CURVE:
			if (!strcmp(optarg, "both"))
				o->both = 1;
			else if (parse_curve(optarg, &h->curve))
				return usage_error("--curve is nist, brainpool or both");
			break;
		case O_NAME:
			if (!optarg[0] || strlen(optarg) > PKI_MAX_NAME || strchr(optarg, '/'))
				return usage_error("--name: 1..48 characters, no '/'");
			str_copy(h->name, sizeof(h->name), optarg);
			break;
		case O_FQDN:
			if (!optarg[0] || strlen(optarg) > PKI_MAX_FQDN)
				return usage_error("--fqdn: 1..64 characters");
			str_copy(h->fqdn, sizeof(h->fqdn), optarg);
			o->fqdn_set = 1;
			break;
		case O_OID:
			if (!optarg[0] || strlen(optarg) > SMDP_MAX_OID - 4 ||
			    strspn(optarg, "0123456789.") != strlen(optarg))
				return usage_error("--oid: a dotted OID");
			str_copy(h->oid, sizeof(h->oid), optarg);
			o->oid_set = 1;
			break;
		case O_EID:
			if (!digits_only(optarg, SMDP_EID_LEN, SMDP_EID_LEN))
				return usage_error("--eid: 32 digits");
			str_copy(h->eid, sizeof(h->eid), optarg);
			break;
		case O_PREFIX:
			if (!digits_only(optarg, 1, 30))
				return usage_error("--eid-prefix: 1..30 digits");
			str_copy(h->prefix, sizeof(h->prefix), optarg);
			o->prefix_set = 1;
			break;
		case O_ORG:
			if (!optarg[0] || strlen(optarg) > PKI_MAX_ORG - 8)
				return usage_error("--org: 1..56 characters");
			str_copy(h->org, sizeof(h->org), optarg);
			break;
		case O_CRL_URL:
			if (strlen(optarg) >= sizeof(h->crl_url) - 8)
				return usage_error("--crl-url too long");
			str_copy(h->crl_url, sizeof(h->crl_url), optarg);
			break;
		case O_CI:
			o->ci_dir = optarg;
			break;
		case O_OUT:
			o->out = optarg;
			break;
		case O_KEY:
			o->key = optarg;
			break;
		case O_DAYS:
			errno = 0;
			o->days = strtol(optarg, &end, 10);
			if (errno || *end || o->days < 1 || o->days > 2914000)
				return usage_error("--days: 1..2914000");
			break;
		case O_ISSUER:
			o->issuer_cert = optarg;
			break;
		case O_ISSUER_KEY:
			o->issuer_key = optarg;
			break;
		case O_NOT_BEFORE:
			o->not_before = optarg;
			break;
		case O_NOT_AFTER:
			o->not_after = optarg;
			break;
		case O_CERTS:
			o->certs = optarg;
			break;
		case O_NOW:
			o->now = optarg;
			break;
		case O_LISTEN:
			if (parse_listen(o, optarg))
				return usage_error("--listen NAME=CERT,KEY (at most 4)");
			break;
		case O_BY_EUM:
			o->by_eum = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(EX_OK);
		default:
			return usage_error("unknown option");
		}
	}
	if (!h->eid[0])
		eid_make(h->prefix, h->eid);
	else if (strncmp(h->eid, h->prefix, strlen(h->prefix)))
		return usage_error("--eid is outside --eid-prefix");
	*first_arg = optind;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Commands */

static int cmd_init(struct opts *o, int argc, char **argv, int ai)
{
	enum crypto_curve curves[2];
	int nc = 0, rc = EX_FAIL;
	char dir[PATH_LEN];

	if (ai != argc - 1)
		return usage_error("init takes one output directory");
	if (o->both) {
		curves[nc++] = CURVE_NIST_P256;
		curves[nc++] = CURVE_BRAINPOOL_P256R1;
		if (o->h.name[0])
			return usage_error("--name does not go with --curve both");
	} else {
		curves[nc++] = o->h.curve;
	}
	for (int i = 0; i < nc; i++) {
		struct hier h = o->h;
		h.curve = curves[i];
		if (!o->h.name[0])
			str_copy(h.name, sizeof(h.name), h.curve == CURVE_NIST_P256 ? "lab-nist" : "lab-brp");
		if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", argv[ai], h.name) >= sizeof(dir) - 64) {
			rc = fail("%s: path too long", argv[ai]);
			goto next;
		}
		if (hier_build(&h) || hier_write(&h, dir)) {
			rc = EX_FAIL;
			hier_free(&h);
			goto out;
		}
		printf("%s: CI on %s, SM-DP+ %s (OID %s), EUM range %s, eUICC EID %s\n", dir,
		       crypto_curve_name(h.curve), h.fqdn, h.oid, h.prefix, h.eid);
		rc = EX_OK;
next:
		hier_free(&h);
		if (rc)
			goto out;
	}
out:
	return rc;
}

static int role_from(const char *s, enum role *r)
{
	for (int i = R_DPAUTH; i < R_COUNT; i++)
		if (!strcmp(s, role_names[i])) {
			*r = (enum role)i;
			return 0;
		}
	return -1;
}

/* Explicit --not-before/--not-after: the certificate is re-issued with them. */
static int apply_dates(const struct opts *o, crypto_cert **c, const crypto_cert *issuer,
		       const crypto_key *issuer_key)
{
	time_t nb, na;
	uint8_t serial[8];
	crypto_cert *n;

	if (!o->not_before && !o->not_after)
		return 0;
	nb = o->not_before ? parse_time(o->not_before) : crypto_cert_not_before(*c);
	na = o->not_after ? parse_time(o->not_after) : crypto_cert_not_after(*c);
	if (nb == (time_t)-1 || na == (time_t)-1 || na <= nb)
		return usage_error("--not-before/--not-after: bad DATE or not after before");
	if (new_serial(serial) ||
	    !(n = crypto_cert_reissue(*c, serial, sizeof(serial), nb, na, issuer, issuer_key)))
		return fail("cannot set the dates%s", NULL);
	crypto_cert_free(*c);
	*c = n;
	return 0;
}

static int cmd_issue(struct opts *o, int argc, char **argv, int ai)
{
	struct hier h;
	enum role r;
	crypto_key *k = NULL;
	crypto_cert *c = NULL;
	int rc = EX_FAIL, by;

	memset(&h, 0, sizeof(h));
	if (ai != argc - 1 || role_from(argv[ai], &r))
		return usage_error("issue takes one ROLE: dpauth dppb dptls eum euicc");
	if (!o->ci_dir || !o->out)
		return usage_error("issue needs --ci DIR and --out STEM");
	if (hier_read(&h, o->ci_dir))
		goto out;
	/* what the command line gives wins over what the directory holds */
	str_copy(h.org, sizeof(h.org), o->h.org);
	str_copy(h.crl_url, sizeof(h.crl_url), o->h.crl_url);
	if (o->fqdn_set || !h.fqdn[0])
		str_copy(h.fqdn, sizeof(h.fqdn), o->h.fqdn);
	if (o->oid_set || !h.oid[0])
		str_copy(h.oid, sizeof(h.oid), o->h.oid);
	if (o->prefix_set || !h.prefix[0])
		str_copy(h.prefix, sizeof(h.prefix), o->h.prefix);
	str_copy(h.eid, sizeof(h.eid), o->h.eid);
	if (r == R_EUICC && strncmp(h.eid, h.prefix, strlen(h.prefix)))
		eid_make(h.prefix, h.eid);
	h.now = o->h.now;
	by = issuer_of(r);
	if (!h.cert[by] || !h.key[by]) {
		fail("%s: the issuer's certificate and key are missing", o->ci_dir);
		goto out;
	}
	k = o->key ? crypto_key_load(o->key) : crypto_key_generate(h.curve);
	if (!k) {
		fail("cannot load or make the key %s", o->key);
		goto out;
	}
	c = issue(&h, r, F_NONE, o->days, k, h.cert[by], h.key[by]);
	if (!c) {
		fail("cannot issue the %s certificate", role_names[r]);
		goto out;
	}
	if (apply_dates(o, &c, h.cert[by], h.key[by]))
		goto out;
	if (write_cert(o->out, c) || write_key(o->out, k))
		goto out;
	printf("%s.der/.pem/.key.pem: %s issued by %s\n", o->out, role_names[r],
	       by == R_EUM ? "the EUM" : "the CI");
	rc = EX_OK;
out:
	crypto_cert_free(c);
	crypto_key_free(k);
	hier_free(&h);
	return rc;
}

static int cmd_renew(struct opts *o, int argc, char **argv, int ai)
{
	char path[PATH_LEN], desc[512];
	crypto_cert *old = NULL, *issuer = NULL, *c = NULL;
	crypto_key *ikey = NULL, *k = NULL;
	uint8_t serial[8], aki[32], ski[32];
	time_t nb, na, life;
	int rc = EX_FAIL, na_len, ns_len;

	if (ai != argc - 1)
		return usage_error("renew takes one certificate");
	if (!o->out || (!o->ci_dir && (!o->issuer_cert || !o->issuer_key)))
		return usage_error("renew needs --out STEM and --ci DIR (or --issuer and --issuer-key)");
	if (!(old = crypto_cert_load(argv[ai]))) {
		fail("cannot read %s", argv[ai]);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/ci.der", o->ci_dir ? o->ci_dir : "");
	issuer = crypto_cert_load(o->issuer_cert ? o->issuer_cert : path);
	snprintf(path, sizeof(path), "%s/ci.key.pem", o->ci_dir ? o->ci_dir : "");
	ikey = crypto_key_load(o->issuer_key ? o->issuer_key : path);
	if (!issuer || !ikey || !crypto_key_matches_cert(ikey, issuer)) {
		fail("the issuer certificate and key %s do not load or do not match",
		     o->issuer_cert ? o->issuer_cert : o->ci_dir);
		goto out;
	}
	na_len = crypto_cert_aki(old, aki, sizeof(aki));
	ns_len = crypto_cert_ski(issuer, ski, sizeof(ski));
	if (na_len > 0 && (na_len != ns_len || memcmp(aki, ski, (size_t)na_len)))
		fprintf(stderr, "smdp-pki: note: %s was issued by another key; the new certificate "
			"is issued by this issuer\n", argv[ai]);
	if (o->key) {
		if (!(k = crypto_key_load(o->key)) || !crypto_key_matches_cert(k, old)) {
			fail("%s is not the key of the certificate", o->key);
			goto out;
		}
	}
	/* same lifetime as before, from now on, unless told otherwise */
	nb = o->h.now - 60;
	life = crypto_cert_not_after(old) - crypto_cert_not_before(old);
	if (crypto_cert_not_after(old) >= NOT_AFTER_FOREVER)
		na = CRYPTO_TIME_FOREVER;
	else
		na = nb + (o->days ? (time_t)o->days * DAY : life);
	if (new_serial(serial) ||
	    !(c = crypto_cert_reissue(old, serial, sizeof(serial), nb, na, issuer, ikey))) {
		fail("cannot re-issue %s", argv[ai]);
		goto out;
	}
	if (apply_dates(o, &c, issuer, ikey) || write_cert(o->out, c) || (k && write_key(o->out, k)))
		goto out;
	crypto_cert_describe(c, desc, sizeof(desc));
	printf("%s.der/.pem: %s\n", o->out, desc);
	rc = EX_OK;
out:
	crypto_cert_free(old);
	crypto_cert_free(issuer);
	crypto_cert_free(c);
	crypto_key_free(ikey);
	crypto_key_free(k);
	return rc;
}

/* The negative variants: which certificate, which flaw, and what a
 * verifier that follows SGP.22 answers. */
struct variant {
	const char *name;
	enum role role;
	enum flaw flaw;
	const char *what;
	const char *expect;
};
static const struct variant variants[] = {
	{ "eum-expired", R_EUM, F_EXPIRED, "CERT.EUM expired",
	  "SM-DP+ authenticateClient 8.1.2/6.3" },
	{ "eum-not-yet-valid", R_EUM, F_NOT_YET_VALID, "CERT.EUM valid from next year",
	  "SM-DP+ authenticateClient 8.1.2/6.1" },
	{ "eum-wrong-policy", R_EUM, F_POLICY, "CERT.EUM with the eUICC role policy",
	  "SM-DP+ authenticateClient 8.1.2/6.1" },
	{ "eum-wrong-key-usage", R_EUM, F_KEY_USAGE, "CERT.EUM with digitalSignature, no keyCertSign",
	  "SM-DP+ authenticateClient 8.1.2/6.1" },
	{ "eum-wrong-curve", R_EUM, F_CURVE, "CERT.EUM key on the other curve",
	  "SM-DP+ authenticateClient 8.1.2/6.1" },
	{ "eum-unknown-ci", R_EUM, F_NONE, "CERT.EUM signed by a look-alike CI (same name, other key)",
	  "SM-DP+ authenticateClient 8.11.1/3.9" },
	{ "euicc-expired", R_EUICC, F_EXPIRED, "CERT.EUICC expired",
	  "SM-DP+ authenticateClient 8.1.3/6.3" },
	{ "euicc-not-yet-valid", R_EUICC, F_NOT_YET_VALID, "CERT.EUICC valid from next year",
	  "SM-DP+ authenticateClient 8.1.3/6.1" },
	{ "euicc-wrong-policy", R_EUICC, F_POLICY, "CERT.EUICC with the EUM role policy",
	  "SM-DP+ authenticateClient 8.1.3/6.1" },
	{ "euicc-wrong-key-usage", R_EUICC, F_KEY_USAGE, "CERT.EUICC with keyAgreement only",
	  "SM-DP+ authenticateClient 8.1.3/6.1" },
	{ "euicc-wrong-curve", R_EUICC, F_CURVE, "CERT.EUICC key on the other curve",
	  "SM-DP+ authenticateClient 8.1.3/6.1" },
	{ "euicc-eid-out-of-range", R_EUICC, F_EID_RANGE, "EID outside the EUM's permitted prefix",
	  "SM-DP+ authenticateClient 8.1.3/6.1" },
	{ "unknown-ci", R_CI, F_NONE, "every certificate under a look-alike CI the SM-DP+ lacks",
	  "SM-DP+ initiateAuthentication 8.8.2/3.1" },
	{ "dpauth-expired", R_DPAUTH, F_EXPIRED, "CERT.DPauth expired",
	  "eUICC AuthenticateServer invalidCertificate(1)" },
	{ "dpauth-not-yet-valid", R_DPAUTH, F_NOT_YET_VALID, "CERT.DPauth valid from next year",
	  "eUICC AuthenticateServer invalidCertificate(1)" },
	{ "dpauth-wrong-policy", R_DPAUTH, F_POLICY, "CERT.DPauth with the DPpb role policy",
	  "eUICC AuthenticateServer invalidCertificate(1)" },
	{ "dpauth-wrong-key-usage", R_DPAUTH, F_KEY_USAGE, "CERT.DPauth with keyAgreement only",
	  "eUICC AuthenticateServer invalidCertificate(1)" },
	{ "dpauth-wrong-curve", R_DPAUTH, F_CURVE, "CERT.DPauth key on the other curve",
	  "eUICC AuthenticateServer unsupportedCurve(3)" },
	{ "dpauth-unknown-ci", R_DPAUTH, F_NONE, "CERT.DPauth signed by a look-alike CI",
	  "smdp refuses to start; eUICC AuthenticateServer ciPKUnknown(7)" },
	{ "dppb-expired", R_DPPB, F_EXPIRED, "CERT.DPpb expired",
	  "eUICC PrepareDownload invalidCertificate(1)" },
	{ "dppb-not-yet-valid", R_DPPB, F_NOT_YET_VALID, "CERT.DPpb valid from next year",
	  "eUICC PrepareDownload invalidCertificate(1)" },
	{ "dppb-wrong-policy", R_DPPB, F_POLICY, "CERT.DPpb with the DPauth role policy",
	  "eUICC PrepareDownload invalidCertificate(1)" },
	{ "dppb-wrong-key-usage", R_DPPB, F_KEY_USAGE, "CERT.DPpb with keyAgreement only",
	  "eUICC PrepareDownload invalidCertificate(1)" },
	{ "dppb-wrong-curve", R_DPPB, F_CURVE, "CERT.DPpb key on the other curve",
	  "eUICC PrepareDownload unsupportedCurve(3)" },
	{ "dpauth-dppb-oid-mismatch", R_DPPB, F_OID, "CERT.DPpb with another SM-DP+ OID than DPauth",
	  "smdp refuses to start; eUICC PrepareDownload invalidCertificate(1)" },
	{ "dptls-expired", R_DPTLS, F_EXPIRED, "CERT.DP.TLS expired",
	  "LPA: TLS handshake fails (certificate expired)" },
	{ "dptls-wrong-fqdn", R_DPTLS, F_FQDN, "CERT.DP.TLS for another host name",
	  "LPA: TLS handshake fails (host name mismatch)" },
};

/* c again, same validity, new serial, under issuer. */
static crypto_cert *reissue_same(const crypto_cert *c, const crypto_cert *issuer,
				 const crypto_key *issuer_key)
{
	uint8_t serial[8];
	time_t na = crypto_cert_not_after(c);

	if (new_serial(serial))
		return NULL;
	return crypto_cert_reissue(c, serial, sizeof(serial), crypto_cert_not_before(c),
				   na >= NOT_AFTER_FOREVER ? CRYPTO_TIME_FOREVER : na, issuer,
				   issuer_key);
}

/* One variant: a copy of base with the flawed certificate (and whatever
 * must be re-issued under it to keep the rest of the chain intact). */
static int make_variant(const struct hier *base, const struct variant *v, const char *dir)
{
	struct hier h = *base;
	crypto_key *lookalike_key = NULL, *fresh = NULL;
	crypto_cert *lookalike = NULL;
	enum role r = v->role, by = issuer_of(v->role);
	int rc = EX_FAIL;

	/* share nothing with base: h's pointers are borrowed, never freed here
	 * except those replaced below (tracked in the locals) */
	crypto_cert *made[R_COUNT] = { NULL };

	if (v->flaw == F_CURVE) {
		if (!(fresh = crypto_key_generate(other_curve(base->curve))))
			goto out;
		h.key[r] = fresh;
	}
	if (!strcmp(v->name, "unknown-ci") || !strcmp(v->name, "eum-unknown-ci") ||
	    !strcmp(v->name, "dpauth-unknown-ci")) {
		/* same subject, same curve, another key: only the key id and the
		 * signature tell the two CIs apart */
		if (!(lookalike_key = crypto_key_generate(base->curve)) ||
		    !(lookalike = issue(base, R_CI, F_NONE, 0, lookalike_key, NULL, lookalike_key)))
			goto out;
		if (!strcmp(v->name, "unknown-ci")) {
			h.cert[R_CI] = lookalike;
			h.key[R_CI] = lookalike_key;
			for (int i = R_DPAUTH; i < R_COUNT; i++) {
				enum role ib = issuer_of((enum role)i);
				if (!h.cert[i] || !h.key[i])
					continue;
				if (!(made[i] = reissue_same(base->cert[i], h.cert[ib], h.key[ib])))
					goto out;
				h.cert[i] = made[i];
			}
		} else {
			if (!(made[r] = reissue_same(base->cert[r], lookalike, lookalike_key)))
				goto out;
			h.cert[r] = made[r];
		}
	} else {
		made[r] = issue(&h, r, v->flaw, 0, h.key[r], h.cert[by], h.key[by]);
		if (!made[r])
			goto out;
		h.cert[r] = made[r];
		/* a new EUM (other key or other extensions): its eUICC again */
		if (r == R_EUM) {
			made[R_EUICC] = issue(&h, R_EUICC, F_NONE, 0, h.key[R_EUICC], h.cert[R_EUM],
					      h.key[R_EUM]);
			if (!made[R_EUICC])
				goto out;
			h.cert[R_EUICC] = made[R_EUICC];
		}
	}
	if (hier_write(&h, dir))
		goto out;
	rc = EX_OK;
out:
	if (rc)
		fprintf(stderr, "smdp-pki: cannot make variant %s\n", v->name);
	for (int i = 0; i < R_COUNT; i++)
		crypto_cert_free(made[i]);
	crypto_cert_free(lookalike);
	crypto_key_free(lookalike_key);
	crypto_key_free(fresh);
	return rc;
}

static int cmd_negative(struct opts *o, int argc, char **argv, int ai)
{
	struct hier h;
	char dir[PATH_LEN], path[PATH_LEN + 32];
	FILE *f = NULL;
	int rc = EX_FAIL;

	memset(&h, 0, sizeof(h));
	if (ai != argc - 1 || !o->ci_dir)
		return usage_error("negative takes OUT and --ci DIR");
	if (hier_read(&h, o->ci_dir))
		goto out;
	for (int r = 0; r < R_COUNT; r++)
		if (!h.cert[r] || !h.key[r]) {
			fail("%s: a complete hierarchy with every key is needed (smdp-pki init)",
			     o->ci_dir);
			goto out;
		}
	str_copy(h.org, sizeof(h.org), o->h.org);
	h.now = o->h.now;
	if (!h.prefix[0] || !h.eid[0] || !h.oid[0] || !h.fqdn[0]) {
		fail("%s: cannot recover the EID range, EID, OID or FQDN", o->ci_dir);
		goto out;
	}
	if (mkdir_p(argv[ai]) ||
	    (size_t)snprintf(path, sizeof(path), "%s/VARIANTS.txt", argv[ai]) >= sizeof(path) ||
	    !(f = fopen(path, "w"))) {
		fail("cannot write into %s", argv[ai]);
		goto out;
	}
	fprintf(f, "# smdp-pki negative variants of %s (%s). Each OUT/VARIANT/%s is a\n"
		"# complete CI directory: smdp --certs OUT/VARIANT, smdp-client --pki\n"
		"# OUT/VARIANT/%s. Columns: variant, what is wrong, what SGP.22 says.\n",
		h.name, crypto_curve_name(h.curve), h.name, h.name);
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		const struct variant *v = &variants[i];
		if ((size_t)snprintf(dir, sizeof(dir), "%s/%s/%s", argv[ai], v->name, h.name) >=
		    sizeof(dir) - 64) {
			fail("%s: path too long", argv[ai]);
			goto out;
		}
		if (make_variant(&h, v, dir))
			goto out;
		fprintf(f, "%-26s %-58s %s\n", v->name, v->what, v->expect);
		printf("%-26s %s\n", v->name, v->expect);
	}
	rc = EX_OK;
out:
	if (f && fclose(f))
		rc = EX_FAIL;
	hier_free(&h);
	return rc;
}

static int cmd_revoke(struct opts *o, int argc, char **argv, int ai)
{
	struct hier h;
	crypto_cert *list[PKI_MAX_REVOKE] = { NULL };
	struct buf der = { 0 }, pem = { 0 };
	char path[PATH_LEN + 8];
	size_t n = 0;
	enum role by = o->by_eum ? R_EUM : R_CI;
	int rc = EX_FAIL;
	time_t next;

	memset(&h, 0, sizeof(h));
	if (!o->ci_dir || !o->out || ai >= argc)
		return usage_error("revoke needs --ci DIR, --out FILE and at least one CERT");
	if (argc - ai > PKI_MAX_REVOKE)
		return usage_error("at most 64 certificates per CRL");
	if (hier_read(&h, o->ci_dir))
		goto out;
	if (!h.cert[by] || !h.key[by]) {
		fail("%s: the issuer's certificate and key are missing", o->ci_dir);
		goto out;
	}
	for (int i = ai; i < argc; i++, n++)
		if (!(list[n] = crypto_cert_load(argv[i]))) {
			fail("cannot read %s", argv[i]);
			goto out;
		}
	/* SGP.22 leaves the CRL period to the CI; a week unless told */
	next = o->h.now + (o->days ? o->days : 7) * (time_t)DAY;
	if (crypto_crl_make(h.cert[by], h.key[by], (const crypto_cert *const *)list, n,
			    o->h.now - 60, next, (long)o->h.now, &der) ||
	    write_file(o->out, der.p, der.len)) {
		fail("cannot make or write the CRL %s", o->out);
		goto out;
	}
	snprintf(path, sizeof(path), "%s.pem", o->out);
	if (crypto_crl_pem(&der, &pem) || write_file(path, pem.p, pem.len)) {
		fail("cannot write %s", path);
		goto out;
	}
	printf("%s (+ .pem): CRL of the %s listing %zu certificate(s)\n", o->out,
	       by == R_EUM ? "EUM" : "CI", n);
	rc = EX_OK;
out:
	for (size_t i = 0; i < n; i++)
		crypto_cert_free(list[i]);
	buf_free(&der);
	buf_free(&pem);
	hier_free(&h);
	return rc;
}

static int cmd_check(struct opts *o, int argc, int ai)
{
	time_t now = o->h.now;
	int rc;

	if (ai != argc)
		return usage_error("check takes options only");
	if (o->now && (now = parse_time(o->now)) == (time_t)-1)
		return usage_error("--now: bad DATE");
	rc = pki_check_config(o->certs ? o->certs : "certs", o->h.fqdn, o->ls, o->nls, NULL, 0, 0,
			      now, stdout);
	return rc < 0 ? EX_FAIL : rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	const char *cmd = argc > 1 ? argv[1] : "";
	int ai = 0, rc;

	memset(&o, 0, sizeof(o));
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		fputs(usage_text, stdout);
		return EX_OK;
	}
	/* warnings of the library code are worth seeing; info is noise here */
	log_set_level(LOG_WARN);
	rc = parse_opts(argc, argv, &o, &ai);
	if (rc >= 0)
		return rc;
	if (!strcmp(cmd, "init"))
		return cmd_init(&o, argc, argv, ai);
	if (!strcmp(cmd, "issue"))
		return cmd_issue(&o, argc, argv, ai);
	if (!strcmp(cmd, "renew"))
		return cmd_renew(&o, argc, argv, ai);
	if (!strcmp(cmd, "negative"))
		return cmd_negative(&o, argc, argv, ai);
	if (!strcmp(cmd, "revoke"))
		return cmd_revoke(&o, argc, argv, ai);
	if (!strcmp(cmd, "check"))
		return cmd_check(&o, argc, ai);
	return usage_error("command is init, issue, renew, negative, revoke or check");
}
