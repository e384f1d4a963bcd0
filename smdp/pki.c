/* pki.c - SM-DP+ credentials per CI and the eUICC certificate checks of
 * SGP.22 5.6.3 / 4.5.2 (GSMA rules, done explicitly rather than through
 * X.509 path validation: the role policies and EUM name constraints do not
 * follow RFC 5280 processing), optional CRLs (SGP.22 4.5.2.2), and the
 * --check-config report, which runs the very checks of start-up. */
#include "smdp.h"

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SGP.22 4.5.2.1 role policy OIDs (id-rspRole) and their v3 variants. */
#define OID_ROLE_EUICC     "2.23.146.1.2.1.1"
#define OID_ROLE_EUM       "2.23.146.1.2.1.2"
#define OID_ROLE_DPTLS     "2.23.146.1.2.1.3"
#define OID_ROLE_DPAUTH    "2.23.146.1.2.1.4"
#define OID_ROLE_DPPB      "2.23.146.1.2.1.5"
#define OID_ROLE_EUM_V3    "2.23.146.1.2.1.0.0.0"
#define OID_ROLE_EUICC_V3  "2.23.146.1.2.1.0.0.0.0.0"

#define PKI_WARN_DAYS      30        /* --check-config: "expires soon" */
#define PKI_MAX_DIR_ENTRIES 4096     /* names read from one certs directory */
#define DAY                86400
#define NOT_AFTER_FOREVER  ((time_t)253402300799)  /* 9999-12-31T23:59:59Z */

enum level { L_INFO = 0, L_WARN = 1, L_ERROR = 2 };

/* Where findings go: the --check-config report (out set) or the start-up
 * log (out NULL), where the first error also becomes pki_load's reason. */
struct report {
	FILE *out;
	time_t now;
	const char *fqdn;        /* check DPtls SAN against it; NULL: do not */
	const char *ci;          /* CI directory being checked, for log lines */
	int warnings, errors;
	int allow_loose;         /* allow-loose-key-permissions: loose keys only warn */
	char *err;
	size_t errsz;
};

static void note(struct report *r, enum level lv, const char *item, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void note(struct report *r, enum level lv, const char *item, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lv == L_WARN)
		r->warnings++;
	if (lv == L_ERROR)
		r->errors++;
	if (r->out) {
		if (lv == L_INFO)
			fprintf(r->out, "  %-10s %s\n", item, msg);
		else
			fprintf(r->out, "  %-10s %s: %s\n", "", lv == L_ERROR ? "ERROR" : "WARNING", msg);
		return;
	}
	if (lv == L_WARN) {
		log_warn("%s: %s: %s", r->ci, item, msg);
	} else if (lv == L_ERROR) {
		log_error("%s: %s: %s", r->ci, item, msg);
		if (r->errors == 1 && r->err)
			snprintf(r->err, r->errsz, "%s: %s: %s", r->ci, item, msg);
	} else {
		log_debug("%s: %s: %s", r->ci, item, msg);
	}
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* dir/base.der, else dir/base.pem; which one into path. NULL if neither
 * exists (missing) or it does not parse (*unreadable set). */
static crypto_cert *load_cert(const char *dir, const char *base, char *path, size_t pathsz,
			      int *unreadable)
{
	crypto_cert *c;

	*unreadable = 0;
	snprintf(path, pathsz, "%s/%s.der", dir, base);
	if (!exists(path))
		snprintf(path, pathsz, "%s/%s.pem", dir, base);
	if (!exists(path))
		return NULL;
	c = crypto_cert_load(path);
	*unreadable = !c;
	return c;
}

/* "expires in N days" etc. for the info line of a certificate. */
static void validity_text(const crypto_cert *c, time_t now, char *out, size_t outsz)
{
	time_t na = crypto_cert_not_after(c), nb = crypto_cert_not_before(c);

	if (na == (time_t)-1 || nb == (time_t)-1)
		snprintf(out, outsz, "unreadable validity");
	else if (nb > now)
		snprintf(out, outsz, "valid from in %lld days", (long long)((nb - now + DAY - 1) / DAY));
	else if (na >= NOT_AFTER_FOREVER)
		snprintf(out, outsz, "no expiry (99991231235959Z)");
	else if (na < now)
		snprintf(out, outsz, "expired %lld days ago", (long long)((now - na) / DAY));
	else
		snprintf(out, outsz, "expires in %lld days", (long long)((na - now) / DAY));
}

/* Validity findings: expired or not yet valid, and (report only) expiry
 * within PKI_WARN_DAYS. */
static void check_validity(struct report *r, const char *item, const crypto_cert *c)
{
	time_t na = crypto_cert_not_after(c);
	int v = crypto_cert_validity(c, r->now);

	if (v == 1)
		note(r, L_WARN, item, "expired %lld days ago", (long long)((r->now - na) / DAY));
	else if (v == 2)
		note(r, L_WARN, item, "not yet valid");
	else if (v < 0)
		note(r, L_WARN, item, "validity dates unreadable");
	else if (r->out && na - r->now < (time_t)PKI_WARN_DAYS * DAY)
		note(r, L_WARN, item, "expires in %lld days (less than %d)",
		     (long long)((na - r->now) / DAY), PKI_WARN_DAYS);
}

/* 1 if c names issuer by AKI and issuer's key verifies it. */
static int issued_by(const crypto_cert *c, const crypto_cert *issuer)
{
	uint8_t aki[32], ski[32];
	int na = crypto_cert_aki(c, aki, sizeof(aki));
	int ns = crypto_cert_ski(issuer, ski, sizeof(ski));

	return na > 0 && na == ns && !memcmp(aki, ski, (size_t)na) &&
	       crypto_cert_signed_by(c, issuer) == 1;
}

static struct pki_cache *cache_new(void);
static void cache_free(struct pki_cache *c);

static void set_free(struct pki_set *s)
{
	crypto_cert_free(s->ci);
	crypto_cert_free(s->dpauth);
	crypto_cert_free(s->dppb);
	crypto_key_free(s->dpauth_key);
	crypto_key_free(s->dppb_key);
	for (size_t i = 0; i < s->n_crls; i++)
		crypto_crl_free(s->crls[i]);
	cache_free(s->cache);
	memset(s, 0, sizeof(*s));
}

/* 1 if a CRL of the CI lists c. */
static int revoked_by_ci(const struct pki_set *s, const crypto_cert *c)
{
	for (size_t i = 0; i < s->n_crls; i++)
		if (s->crl_by_ci[i] && crypto_crl_revokes(s->crls[i], c))
			return 1;
	return 0;
}

/* Load one SM-DP+ signing certificate and its key (SGP.22 4.5.2.1: CERT.DPauth
 * / CERT.DPpb) and check them against the CI. Errors are what pki_load
 * refuses; the rest are warnings. */
static void load_dp(struct report *r, struct pki_set *s, const char *dir, const char *base,
		    const char *what, const char *policy, crypto_cert **cert, crypto_key **key,
		    char *oid, size_t oidsz)
{
	char path[1100], info[256], valid[64];
	int unreadable;
	long ku;

	*cert = load_cert(dir, base, path, sizeof(path), &unreadable);
	if (!*cert) {
		note(r, L_INFO, base, "%s: none", what);
		note(r, L_ERROR, base, unreadable ? "%s: not a certificate" :
		     "missing %s.der (%s certificate)", unreadable ? path : base, what);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s.key.pem", dir, base);
	if (crypto_cert_san_rid(*cert, oid, oidsz))
		oid[0] = '\0';
	validity_text(*cert, r->now, valid, sizeof(valid));
	snprintf(info, sizeof(info), "%s, SM-DP+ OID %s, %s", what, oid[0] ? oid : "(none)", valid);
	note(r, L_INFO, base, "%s", info);
	if (!issued_by(*cert, s->ci))
		note(r, L_ERROR, base, "%s is not issued by the CI in this directory "
		     "(authorityKeyIdentifier or signature)", what);
	if (!exists(path))
		note(r, L_ERROR, base, "missing %s.key.pem (%s private key)", base, what);
	else if (!(*key = crypto_key_load(path)))
		note(r, L_ERROR, base, "%s.key.pem: not a usable EC private key", base);
	else if (!crypto_key_matches_cert(*key, *cert))
		note(r, L_ERROR, base, "%s private key does not match its certificate", what);
	if (!oid[0])
		note(r, L_ERROR, base, "%s carries no SM-DP+ OID (subjectAltName registeredID)", what);
	if (!crypto_cert_has_policy(*cert, policy))
		note(r, L_WARN, base, "lacks the role policy %s: eUICCs refuse it", policy);
	ku = crypto_cert_key_usage(*cert);
	if (ku < 0 || !(ku & CRYPTO_KU_DIGITAL_SIGNATURE))
		note(r, L_WARN, base, "key usage lacks digitalSignature: eUICCs refuse it");
	if (crypto_cert_curve(*cert) != s->curve)
		note(r, L_WARN, base, "key on %s, the CI on %s: eUICCs refuse it (unsupportedCurve)",
		     crypto_curve_name(crypto_cert_curve(*cert)), crypto_curve_name(s->curve));
	check_validity(r, base, *cert);
	if (revoked_by_ci(s, *cert))
		note(r, L_WARN, base, "revoked by a CRL of the CI");
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of dir (no dot files) ending in suffix ("" all).
 * NULL with *n 0 if the directory cannot be read; caller frees each and the
 * array. Stops at PKI_MAX_DIR_ENTRIES. */
static char **list_dir(const char *dir, const char *suffix, size_t *n, int *ok)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t sl = strlen(suffix);

	*n = 0;
	*ok = d != NULL;
	while (d && (e = readdir(d)) && *n < PKI_MAX_DIR_ENTRIES) {
		size_t len = strlen(e->d_name);
		char **t;
		if (e->d_name[0] == '.' || len < sl || strcmp(e->d_name + len - sl, suffix))
			continue;
		t = realloc(names, (*n + 1) * sizeof(*names));
		if (!t)
			break;
		names = t;
		if (!(names[*n] = strdup(e->d_name)))
			break;
		(*n)++;
	}
	if (d)
		closedir(d);
	if (*n)
		qsort(names, *n, sizeof(*names), cmp_names);   /* stable, predictable order */
	return names;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* CRLs of a CI directory: every *.crl file (DER or PEM). A CRL that names
 * the CI as issuer must be signed by it (an error otherwise: a revocation
 * list that cannot be trusted must not be ignored silently); any other is
 * kept as an EUM's CRL, checked against the EUM of each request. */
static void load_crls(struct report *r, struct pki_set *s, const char *dir)
{
	char **names, path[1100], item[32];
	size_t n;
	int ok, by;

	names = list_dir(dir, ".crl", &n, &ok);
	for (size_t i = 0; i < n; i++) {
		crypto_crl *crl;
		time_t nu;
		snprintf(item, sizeof(item), "%.31s", names[i]);
		if (s->n_crls == PKI_MAX_CRLS) {
			note(r, L_WARN, item, "more than %d CRL files: ignored", PKI_MAX_CRLS);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		crl = crypto_crl_load(path);
		if (!crl) {
			note(r, L_ERROR, item, "not a CRL (DER or PEM)");
			continue;
		}
		by = crypto_crl_issued_by(crl, s->ci);
		if (by < 0) {
			note(r, L_ERROR, item, "names the CI as issuer but its authorityKeyIdentifier "
			     "or signature does not match the CI");
			crypto_crl_free(crl);
			continue;
		}
		s->crl_by_ci[s->n_crls] = by;
		if (by)
			note(r, L_INFO, item, "CRL of the CI, %d revoked", crypto_crl_count(crl));
		else
			note(r, L_INFO, item, "CRL of another issuer (an EUM's: checked against each "
			     "eUICC's EUM), %d revoked", crypto_crl_count(crl));
		s->crls[s->n_crls++] = crl;
		nu = crypto_crl_next_update(crl);
		switch (crypto_crl_validity(crl, r->now)) {
		case 1:
			note(r, L_WARN, item, "nextUpdate passed %lld days ago (still applied)",
			     (long long)((r->now - nu) / DAY));
			break;
		case 2:
			note(r, L_WARN, item, "thisUpdate is in the future");
			break;
		default:
			break;
		}
	}
	free_names(names, n);
}

/* Load one CI directory; 1 loaded (possibly with warnings), 0 not a CI
 * directory, -1 errors (reported). */
static int load_set(struct report *r, struct pki_set *s, const char *dir, const char *name)
{
	char path[1100], oid2[SMDP_MAX_OID + 1] = "", subj[256], ski_hex[65];
	int n, unreadable, errors0 = r->errors;

	memset(s, 0, sizeof(*s));
	str_copy(s->name, sizeof(s->name), name);
	r->ci = s->name;
	s->ci = load_cert(dir, "ci", path, sizeof(path), &unreadable);
	if (!s->ci && !unreadable)
		return 0;   /* not a CI directory (README, expired/, ...) */
	if (r->out)
		fprintf(r->out, "\nCI %s\n", name);
	if (!s->ci) {
		note(r, L_ERROR, "ci", "%s: not a certificate", path);
		return -1;
	}
	n = crypto_cert_ski(s->ci, s->ci_id.id, sizeof(s->ci_id.id));
	if (n <= 0) {
		note(r, L_ERROR, "ci", "CI certificate has no subjectKeyIdentifier");
		return -1;
	}
	s->ci_id.len = (size_t)n;
	s->curve = crypto_cert_curve(s->ci);
	if (s->curve == CURVE_NONE) {
		note(r, L_ERROR, "ci", "CI key is on neither NIST P-256 nor brainpoolP256r1");
		return -1;
	}
	crypto_cert_subject(s->ci, subj, sizeof(subj));
	hex_encode(s->ci_id.id, s->ci_id.len, ski_hex, sizeof(ski_hex));
	validity_text(s->ci, r->now, path, sizeof(path));
	note(r, L_INFO, "ci", "%s, SKI %s, %s, %s", crypto_curve_name(s->curve), ski_hex, subj, path);
	if (crypto_cert_signed_by(s->ci, s->ci) != 1 || !crypto_cert_is_ca(s->ci))
		note(r, L_WARN, "ci", "not a self-signed CA certificate");
	check_validity(r, "ci", s->ci);

	load_crls(r, s, dir);
	load_dp(r, s, dir, "dpauth", "CERT.DPauth", OID_ROLE_DPAUTH, &s->dpauth, &s->dpauth_key,
		s->smdp_oid, sizeof(s->smdp_oid));
	load_dp(r, s, dir, "dppb", "CERT.DPpb", OID_ROLE_DPPB, &s->dppb, &s->dppb_key, oid2,
		sizeof(oid2));
	/* SGP.22 4.5.2.1: one SM-DP+, one OID; an eUICC compares them */
	if (s->smdp_oid[0] && oid2[0] && strcmp(s->smdp_oid, oid2))
		note(r, L_ERROR, "dppb", "DPauth OID %s differs from DPpb OID %s", s->smdp_oid, oid2);
	if ((size_t)snprintf(s->dptls_cert, sizeof(s->dptls_cert), "%.490s/dptls.der", dir) >=
		    sizeof(s->dptls_cert) ||
	    (size_t)snprintf(s->dptls_key, sizeof(s->dptls_key), "%.490s/dptls.key.pem", dir) >=
		    sizeof(s->dptls_key))
		note(r, L_ERROR, "ci", "directory path too long");
	return r->errors > errors0 ? -1 : 1;
}

int pki_load(struct pki *p, const char *dir, char *err, size_t errsz)
{
	struct report r = { .now = time(NULL), .err = err, .errsz = errsz };
	char **names, path[1024];
	size_t nn;
	int ok, rc = -1;

	memset(p, 0, sizeof(*p));
	names = list_dir(dir, "", &nn, &ok);
	if (!ok) {
		snprintf(err, errsz, "cannot open certificate directory %s", dir);
		return -1;
	}
	p->sets = calloc(nn ? nn : 1, sizeof(*p->sets));
	if (!p->sets) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nn; i++) {
		int res;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		res = load_set(&r, &p->sets[p->n], path, names[i]);
		if (res < 0) {
			set_free(&p->sets[p->n]);
			goto out;
		}
		if (res == 0) {
			set_free(&p->sets[p->n]);
			continue;
		}
		p->sets[p->n].cache = cache_new();
		if (!p->sets[p->n].cache) {
			snprintf(err, errsz, "out of memory");
			set_free(&p->sets[p->n]);
			goto out;
		}
		log_info("CI %s: %s, SM-DP+ OID %s, %zu CRL(s)", names[i],
			 crypto_curve_name(p->sets[p->n].curve), p->sets[p->n].smdp_oid,
			 p->sets[p->n].n_crls);
		p->n++;
	}
	if (p->n == 0) {
		snprintf(err, errsz, "no CI directory (with ci.der) found under %s", dir);
		goto out;
	}
	rc = 0;
out:
	free_names(names, nn);
	if (rc)
		pki_free(p);
	return rc;
}

void pki_free(struct pki *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		set_free(&p->sets[i]);
	free(p->sets);
	p->sets = NULL;
	p->n = 0;
}

const struct pki_set *pki_find(const struct pki *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->sets[i].name, name))
			return &p->sets[i];
	return NULL;
}

static int id_in(const struct ci_id *list, size_t n, const struct ci_id *id)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].len == id->len && !memcmp(list[i].id, id->id, id->len))
			return 1;
	return 0;
}

enum rsp_status pki_select(const struct pki *p, const struct euicc_info1 *info,
			   const struct pki_set **out)
{
	int signing_match = 0;

	/* The eUICC lists CIs in its order of preference (SGP.22 5.6.1). */
	for (size_t i = 0; i < info->n_sign; i++) {
		for (size_t k = 0; k < p->n; k++) {
			const struct pki_set *s = &p->sets[k];
			if (s->ci_id.len != info->sign[i].len ||
			    memcmp(s->ci_id.id, info->sign[i].id, s->ci_id.len))
				continue;
			signing_match = 1;
			if (id_in(info->verif, info->n_verif, &s->ci_id)) {
				*out = s;
				return RSP_OK;
			}
		}
	}
	return signing_match ? RSP_ERR_NO_DPAUTH_FOR_CI : RSP_ERR_CI_PK_NOT_SUPPORTED;
}

/* Common part of the EUM and eUICC checks: issuer key id, signature,
 * validity. Returns RSP_OK, invalid or expired. */
static enum rsp_status check_issued(const crypto_cert *c, const crypto_cert *issuer,
				    time_t now, enum rsp_status invalid, enum rsp_status expired,
				    const char *what)
{
	uint8_t aki[32], ski[32];
	int na = crypto_cert_aki(c, aki, sizeof(aki));
	int ns = crypto_cert_ski(issuer, ski, sizeof(ski));
	int v;

	if (na <= 0 || na != ns || memcmp(aki, ski, (size_t)na)) {
		log_info("%s certificate: authorityKeyIdentifier does not name its issuer", what);
		return invalid;
	}
	if (crypto_cert_signed_by(c, issuer) != 1) {
		log_info("%s certificate: signature does not verify", what);
		return invalid;
	}
	v = crypto_cert_validity(c, now);
	if (v == 1) {
		log_info("%s certificate: expired", what);
		return expired;
	}
	if (v != 0) {
		log_info("%s certificate: not yet valid", what);
		return invalid;
	}
	return RSP_OK;
}

static int eid_valid(const char *eid)
{
	if (strlen(eid) != SMDP_EID_LEN)
		return 0;
	for (const char *c = eid; *c; c++)
		if (*c < '0' || *c > '9')
			return 0;
	return 1;
}

/* The EUM certificate checks of pki_verify_euicc (SGP.22 5.6.3, 4.5.2):
 * issued by the set's CI, role, key usage, CA, curve, not revoked. The
 * parsed certificate into *out. */
static enum rsp_status check_eum(const struct pki_set *set, const struct buf *eum_der,
				 time_t now, crypto_cert **out)
{
	crypto_cert *eum = NULL;
	uint8_t aki[32];
	enum rsp_status st;
	int n;
	long ku;

	*out = NULL;
	/* EUM: issued by the CI selected in initiateAuthentication (5.6.3). */
	eum = crypto_cert_from_der(eum_der->p, eum_der->len);
	if (!eum) {
		st = RSP_ERR_EUM_CERT_INVALID;
		goto out;
	}
	n = crypto_cert_aki(eum, aki, sizeof(aki));
	if (n != (int)set->ci_id.len || memcmp(aki, set->ci_id.id, set->ci_id.len)) {
		log_info("EUM certificate is not issued by CI %s", set->name);
		st = RSP_ERR_CI_PK_UNKNOWN;
		goto out;
	}
	st = check_issued(eum, set->ci, now, RSP_ERR_EUM_CERT_INVALID, RSP_ERR_EUM_CERT_EXPIRED,
			  "EUM");
	if (st)
		goto out;
	ku = crypto_cert_key_usage(eum);
	if ((!crypto_cert_has_policy(eum, OID_ROLE_EUM) &&
	     !crypto_cert_has_policy(eum, OID_ROLE_EUM_V3)) ||
	    ku < 0 || !(ku & CRYPTO_KU_KEY_CERT_SIGN) || !crypto_cert_is_ca(eum)) {
		log_info("EUM certificate: wrong role policy, key usage or basic constraints");
		st = RSP_ERR_EUM_CERT_INVALID;
		goto out;
	}
	/* one curve through the whole chain (SGP.22 2.6.5: the CI's curve) */
	if (crypto_cert_curve(eum) != set->curve) {
		log_info("EUM certificate: key on %s, the CI on %s",
			 crypto_curve_name(crypto_cert_curve(eum)), crypto_curve_name(set->curve));
		st = RSP_ERR_EUM_CERT_INVALID;
		goto out;
	}
	/* SGP.22 4.5.2.2: the CI's CRL revokes EUM certificates */
	if (revoked_by_ci(set, eum)) {
		log_info("EUM certificate is revoked by a CRL of CI %s", set->name);
		st = RSP_ERR_EUM_CERT_INVALID;
		goto out;
	}
	*out = eum;
	eum = NULL;
	st = RSP_OK;
out:
	crypto_cert_free(eum);
	return st;
}

/* The eUICC certificate checks of pki_verify_euicc, under an EUM that
 * check_eum accepted; *not_after receives the earlier notAfter of the two
 * certificates (for the cache). */
static enum rsp_status verify_euicc_cert(const struct pki_set *set, const crypto_cert *eum,
					 const struct buf *euicc_der, time_t now,
					 char eid[SMDP_EID_LEN + 1], crypto_key **pub,
					 time_t *not_after)
{
	crypto_cert *euicc = NULL;
	char (*prefixes)[SMDP_EID_LEN + 1] = NULL;
	char serial[64];
	enum rsp_status st;
	int n, in_range;
	long ku;

	*pub = NULL;
	/* eUICC: issued by the EUM. */
	euicc = crypto_cert_from_der_lite(euicc_der->p, euicc_der->len);
	if (!euicc) {
		st = RSP_ERR_EUICC_CERT_INVALID;
		goto out;
	}
	st = check_issued(euicc, eum, now, RSP_ERR_EUICC_CERT_INVALID, RSP_ERR_EUICC_CERT_EXPIRED,
			  "eUICC");
	if (st)
		goto out;
	ku = crypto_cert_key_usage(euicc);
	if ((!crypto_cert_has_policy(euicc, OID_ROLE_EUICC) &&
	     !crypto_cert_has_policy(euicc, OID_ROLE_EUICC_V3)) ||
	    ku < 0 || !(ku & CRYPTO_KU_DIGITAL_SIGNATURE) || crypto_cert_is_ca(euicc) ||
	    crypto_cert_curve(euicc) != set->curve) {
		log_info("eUICC certificate: wrong role policy, key usage or curve");
		st = RSP_ERR_EUICC_CERT_INVALID;
		goto out;
	}
	/* an EUM's CRL revokes its eUICCs; the list costs a signature check
	 * only when it names this certificate */
	for (size_t i = 0; i < set->n_crls; i++)
		if (!set->crl_by_ci[i] && crypto_crl_revokes(set->crls[i], euicc) &&
		    crypto_crl_issued_by(set->crls[i], eum) == 1) {
			log_info("eUICC certificate is revoked by a CRL of its EUM");
			st = RSP_ERR_EUICC_CERT_INVALID;
			goto out;
		}
	if (crypto_cert_subject_serial(euicc, serial, sizeof(serial)) || !eid_valid(serial)) {
		log_info("eUICC certificate: subject serialNumber is not a 32-digit EID");
		st = RSP_ERR_EUICC_CERT_INVALID;
		goto out;
	}

	/* EID inside the EUM's permitted range (SGP.22 4.5.2.1.0.2). */
	prefixes = calloc(16, sizeof(*prefixes));
	if (!prefixes) {
		st = RSP_ERR_INTERNAL;
		goto out;
	}
	n = crypto_cert_eid_prefixes(eum, prefixes, 16);
	if (n < 0) {
		st = RSP_ERR_EUM_CERT_INVALID;
		goto out;
	}
	in_range = (n == 0);
	for (int i = 0; i < n; i++)
		if (!strncmp(serial, prefixes[i], strlen(prefixes[i])))
			in_range = 1;
	if (!in_range) {
		log_info("EID %s is outside the EUM's permitted range", serial);
		st = RSP_ERR_EUICC_CERT_INVALID;
		goto out;
	}
	*pub = crypto_cert_pubkey(euicc);
	if (!*pub) {
		st = RSP_ERR_INTERNAL;
		goto out;
	}
	memcpy(eid, serial, SMDP_EID_LEN + 1);
	*not_after = crypto_cert_not_after(eum);
	if (crypto_cert_not_after(euicc) < *not_after)
		*not_after = crypto_cert_not_after(euicc);  /* eid_valid: exactly 32 digits */
	st = RSP_OK;
out:
	free(prefixes);
	crypto_cert_free(euicc);
	return st;
}

/* Verified eUICC chains, so that a device's later calls and sessions do not
 * parse and check the same certificates again (parsing one costs ~0.2 ms in
 * OpenSSL 3.0). Entries hold only public results: hashes, EID, the eUICC
 * public key and the validity bound; CRLs are loaded at start-up, so a
 * cached verdict cannot go stale before notAfter. */
#define PKI_CACHE_SLOTS 512

struct pki_cache_entry {
	uint8_t euicc_hash[32];         /* SHA-256 of the eUICC certificate DER */
	uint8_t eum_hash[32];           /* SHA-256 of the EUM certificate DER */
	char eid[SMDP_EID_LEN + 1];
	crypto_key *key;                /* eUICC public key, the cache's handle: a
					 * hit hands out a reference (turning the
					 * point into a key again cost ~40 us) */
	time_t not_after;               /* the earlier notAfter of the two */
	uint64_t used;                  /* LRU stamp, 0 = empty slot */
};

/* EUM certificates that passed check_eum, parsed: a device seen for the
 * first time costs only its own certificate (many eUICCs share an EUM).
 * Valid until the EUM's notAfter; CRLs are loaded at start-up. */
#define PKI_EUM_SLOTS 32

struct pki_eum_entry {
	uint8_t hash[32];               /* SHA-256 of the EUM certificate DER */
	crypto_cert *eum;               /* the cache's handle (crypto_cert_ref) */
	time_t not_after;
	uint64_t used;                  /* LRU stamp, 0 = empty slot */
};

struct pki_cache {
	pthread_mutex_t mu;
	uint64_t tick;
	struct pki_cache_entry e[PKI_CACHE_SLOTS];
	struct pki_eum_entry eum[PKI_EUM_SLOTS];
};

static struct pki_cache *cache_new(void)
{
	struct pki_cache *c = calloc(1, sizeof(*c));

	if (c && pthread_mutex_init(&c->mu, NULL)) {
		free(c);
		c = NULL;
	}
	return c;
}

static void cache_free(struct pki_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < PKI_EUM_SLOTS; i++)
		crypto_cert_free(c->eum[i].eum);
	for (size_t i = 0; i < PKI_CACHE_SLOTS; i++)
		crypto_key_free(c->e[i].key);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* A handle on the cached EUM of that hash, still valid at now; NULL miss. */
static crypto_cert *eum_get(struct pki_cache *c, const uint8_t hash[32], time_t now)
{
	crypto_cert *r = NULL;

	if (!c)
		return NULL;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < PKI_EUM_SLOTS; i++) {
		struct pki_eum_entry *e = &c->eum[i];
		if (e->used && !memcmp(e->hash, hash, 32) && now <= e->not_after) {
			e->used = ++c->tick;
			r = crypto_cert_ref(e->eum);
			break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return r;
}

static void eum_put(struct pki_cache *c, const uint8_t hash[32], const crypto_cert *eum)
{
	struct pki_eum_entry *victim;
	crypto_cert *ref = crypto_cert_ref(eum), *old;

	if (!c || !ref) {
		crypto_cert_free(ref);
		return;
	}
	pthread_mutex_lock(&c->mu);
	victim = &c->eum[0];
	for (size_t i = 0; i < PKI_EUM_SLOTS; i++) {
		if (!memcmp(c->eum[i].hash, hash, 32) || !c->eum[i].used) {
			victim = &c->eum[i];
			break;
		}
		if (c->eum[i].used < victim->used)
			victim = &c->eum[i];
	}
	old = victim->eum;
	memcpy(victim->hash, hash, 32);
	victim->eum = ref;
	victim->not_after = crypto_cert_not_after(eum);
	victim->used = ++c->tick;
	pthread_mutex_unlock(&c->mu);
	crypto_cert_free(old);   /* other threads hold their own handles */
}

/* Find the entry of an eUICC certificate; copies it to *out with out->key
 * a handle of the caller's own (crypto_key_free). 1 hit, 0 miss. */
static int cache_get(struct pki_cache *c, const uint8_t euicc_hash[32],
		     struct pki_cache_entry *out)
{
	int hit = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < PKI_CACHE_SLOTS; i++) {
		struct pki_cache_entry *e = &c->e[i];
		if (e->used && !memcmp(e->euicc_hash, euicc_hash, 32)) {
			*out = *e;
			if ((out->key = crypto_key_ref(e->key))) {
				e->used = ++c->tick;
				hit = 1;
			}
			break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return hit;
}

/* Keep in (the cache takes a handle of its own on in->key). */
static void cache_put(struct pki_cache *c, const struct pki_cache_entry *in)
{
	struct pki_cache_entry *victim;
	crypto_key *ref = c ? crypto_key_ref(in->key) : NULL, *old;

	if (!ref)
		return;
	pthread_mutex_lock(&c->mu);
	victim = &c->e[0];
	for (size_t i = 0; i < PKI_CACHE_SLOTS; i++) {
		if (!memcmp(c->e[i].euicc_hash, in->euicc_hash, 32) || !c->e[i].used) {
			victim = &c->e[i];
			break;
		}
		if (c->e[i].used < victim->used)
			victim = &c->e[i];
	}
	old = victim->key;
	*victim = *in;
	victim->key = ref;
	victim->used = ++c->tick;
	pthread_mutex_unlock(&c->mu);
	crypto_key_free(old);   /* other threads hold their own handles */
}

enum rsp_status pki_verify_euicc(const struct pki_set *set, const struct buf *eum_der,
				 const struct buf *euicc_der, time_t now,
				 char eid[SMDP_EID_LEN + 1], crypto_key **pub)
{
	struct pki_cache_entry e;
	uint8_t euicc_hash[32], eum_hash[32];
	crypto_cert *eum;
	enum rsp_status st;

	*pub = NULL;
	crypto_sha256(euicc_der->p, euicc_der->len, NULL, 0, euicc_hash);
	crypto_sha256(eum_der->p, eum_der->len, NULL, 0, eum_hash);
	if (cache_get(set->cache, euicc_hash, &e)) {
		if (!memcmp(e.eum_hash, eum_hash, 32) && now <= e.not_after) {
			*pub = e.key;
			memcpy(eid, e.eid, SMDP_EID_LEN + 1);
			return RSP_OK;
		}
		crypto_key_free(e.key);
	}
	memset(&e, 0, sizeof(e));
	if (!(eum = eum_get(set->cache, eum_hash, now))) {
		if ((st = check_eum(set, eum_der, now, &eum)))
			return st;
		eum_put(set->cache, eum_hash, eum);
	}
	st = verify_euicc_cert(set, eum, euicc_der, now, eid, pub, &e.not_after);
	crypto_cert_free(eum);
	if (st == RSP_OK) {
		e.key = *pub;
		memcpy(e.euicc_hash, euicc_hash, 32);
		memcpy(e.eum_hash, eum_hash, 32);
		memcpy(e.eid, eid, SMDP_EID_LEN + 1);
		cache_put(set->cache, &e);
	}
	return st;
}

crypto_key *pki_euicc_key(const struct pki_set *set, const struct buf *euicc_der)
{
	struct pki_cache_entry e;
	uint8_t h[32];
	crypto_cert *c;
	crypto_key *k;

	crypto_sha256(euicc_der->p, euicc_der->len, NULL, 0, h);
	if (set && cache_get(set->cache, h, &e))
		return e.key;
	c = crypto_cert_from_der_lite(euicc_der->p, euicc_der->len);
	k = c ? crypto_cert_pubkey(c) : NULL;
	crypto_cert_free(c);
	return k;
}

/* ------------------------------------------------------------------ */
/* --check-config */

static enum crypto_curve listener_curve(const char *name)
{
	if (!strcmp(name, "nist"))
		return CURVE_NIST_P256;
	if (!strcmp(name, "brainpool"))
		return CURVE_BRAINPOOL_P256R1;
	return CURVE_NONE;
}

/* A DPtls certificate and key (CERT.DP.TLS, SGP.22 4.5.2.1; SGP.26 profile):
 * own is the CI directory it sits in (NULL for a listener's, which may come
 * from any loaded CI); missing is an error for a listener (it cannot start)
 * and a warning in a CI directory. want: the listener's curve or CURVE_NONE. */
static void check_tls(struct report *r, const char *item, const char *cert_path,
		      const char *key_path, const struct pki_set *sets, size_t n,
		      const struct pki_set *own, enum crypto_curve want)
{
	enum level miss = own ? L_WARN : L_ERROR;
	const struct pki_set *by = NULL;
	crypto_cert *c = NULL;
	crypto_key *k = NULL;
	char dns[256], oid[SMDP_MAX_OID + 1] = "", valid[64];

	if (!exists(cert_path)) {
		note(r, L_INFO, item, "CERT.DP.TLS: none");
		note(r, miss, item, "missing %s: %s", cert_path,
		     own ? "no TLS certificate chaining to this CI" : "the listener cannot start");
		goto out;
	}
	if (!(c = crypto_cert_load(cert_path))) {
		note(r, L_INFO, item, "CERT.DP.TLS: unreadable");
		note(r, miss, item, "%s: not a certificate", cert_path);
		goto out;
	}
	for (size_t i = 0; !own && i < n; i++)
		if (sets[i].ci && issued_by(c, sets[i].ci))
			by = &sets[i];
	if (own && issued_by(c, own->ci))
		by = own;
	crypto_cert_san_dns_list(c, dns, sizeof(dns));
	if (crypto_cert_san_rid(c, oid, sizeof(oid)))
		oid[0] = '\0';
	validity_text(c, r->now, valid, sizeof(valid));
	note(r, L_INFO, item, "CERT.DP.TLS%s%s, DNS %s, %s%s, %s", own ? "" : " ",
	     own ? "" : cert_path, dns[0] ? dns : "(none)", by ? "issued by CI " : "",
	     by ? by->name : "", valid);
	if (!by)
		note(r, L_WARN, item, "not issued by %s: LPAs trusting the CI refuse the TLS handshake",
		     own ? "the CI of this directory" : "any CI loaded");
	if (!exists(key_path))
		note(r, miss, item, "missing key %s", key_path);
	else if (!(k = crypto_key_load(key_path)))
		note(r, miss, item, "%s: not a usable EC private key", key_path);
	else if (!crypto_key_matches_cert(k, c))
		note(r, miss, item, "private key %s does not match the certificate", key_path);
	if (r->fqdn && !crypto_cert_san_dns(c, r->fqdn))
		note(r, L_WARN, item, "subjectAltName DNS %s does not match the SM-DP+ address %s",
		     dns[0] ? dns : "(none)", r->fqdn);
	if (by && by->smdp_oid[0] && strcmp(oid, by->smdp_oid))
		note(r, L_WARN, item, "subjectAltName OID %s is not the SM-DP+ OID %s of DPauth",
		     oid[0] ? oid : "(none)", by->smdp_oid);
	if (!crypto_cert_has_policy(c, OID_ROLE_DPTLS))
		note(r, L_WARN, item, "lacks the role policy %s", OID_ROLE_DPTLS);
	if (want != CURVE_NONE && crypto_cert_curve(c) != want)
		note(r, L_WARN, item, "key on %s on the %s listener",
		     crypto_curve_name(crypto_cert_curve(c)), crypto_curve_name(want));
	check_validity(r, item, c);
	if (by && revoked_by_ci(by, c))
		note(r, L_WARN, item, "revoked by a CRL of the CI");
out:
	crypto_key_free(k);
	crypto_cert_free(c);
}

/* The euicc/ material smdp-client uses (--pki DIR): what the server would
 * answer to it, through the authenticateClient checks themselves. */
static void check_client(struct report *r, const struct pki_set *s, const char *dir)
{
	char edir[1100], path[1200], eid[SMDP_EID_LEN + 1] = "";
	crypto_cert *eum = NULL, *euicc = NULL;
	crypto_key *key = NULL, *pub = NULL;
	struct buf b1 = { 0 }, b2 = { 0 };
	const uint8_t *der;
	size_t len;
	enum rsp_status st;
	int unreadable;

	snprintf(edir, sizeof(edir), "%.1000s/euicc", dir);
	if (!exists(edir))
		return;
	eum = load_cert(edir, "eum", path, sizeof(path), &unreadable);
	euicc = load_cert(edir, "euicc", path, sizeof(path), &unreadable);
	if (!eum || !euicc) {
		note(r, L_WARN, "euicc/", "needs eum.der and euicc.der (smdp-client --pki)");
		goto out;
	}
	if (crypto_cert_subject_serial(euicc, eid, sizeof(eid)))
		snprintf(eid, sizeof(eid), "(none)");
	note(r, L_INFO, "euicc/", "smdp-client material: EID %s", eid);
	snprintf(path, sizeof(path), "%s/euicc.key.pem", edir);
	if (!(key = crypto_key_load(path)) || !crypto_key_matches_cert(key, euicc))
		note(r, L_WARN, "euicc/", "euicc.key.pem missing or not the key of euicc.der");
	der = crypto_cert_der(eum, &len);
	if (buf_set(&b1, der, len))
		goto out;
	der = crypto_cert_der(euicc, &len);
	if (buf_set(&b2, der, len))
		goto out;
	st = pki_verify_euicc(s, &b1, &b2, r->now, eid, &pub);
	if (st != RSP_OK) {
		const struct rsp_status_info *si = rsp_status_info(st);
		note(r, L_WARN, "euicc/", "authenticateClient would fail with %s/%s (%s)",
		     si->subject, si->reason, si->message);
	}
out:
	buf_free(&b1);
	buf_free(&b2);
	crypto_key_free(key);
	crypto_key_free(pub);
	crypto_cert_free(eum);
	crypto_cert_free(euicc);
}

/* The private keys smdp reads from a CI directory (pki_keys_private). */
static const char *const ci_dir_keys[] = { "dpauth.key.pem", "dppb.key.pem", "dptls.key.pem" };

/* A private key that group or others may read or write: smdp refuses to
 * start with it (pki_key_file_private; the SM-DP+ identity of SGP.22 4.5.2
 * would be anyone's), so it is an error here, with the chmod fix. A key that
 * is missing is reported by the other checks, not here. */
static void check_key_mode(struct report *r, const char *item, const char *path)
{
	char err[1400];

	if (pki_key_file_private(path, 0, err, sizeof(err)))
		note(r, r->allow_loose ? L_WARN : L_ERROR, item, "%s%s", err,
		     r->allow_loose ? " (allowed by allow-loose-key-permissions)" : "");
}

/* check_key_mode on the keys of CI directory dir. */
static void check_ci_key_modes(struct report *r, const char *dir)
{
	char path[1100];

	for (size_t k = 0; k < sizeof(ci_dir_keys) / sizeof(ci_dir_keys[0]); k++) {
		snprintf(path, sizeof(path), "%.1000s/%s", dir, ci_dir_keys[k]);
		check_key_mode(r, "keys", path);
	}
}

/* 1 when path is one of the keys of CI directory dir (the same file, by
 * device and inode): check_ci_key_modes reported it already, and a listener
 * using a CI directory's DPtls key must not repeat the finding. */
static int is_ci_dir_key(const char *path, const char *dir)
{
	struct stat a, b;
	char p[1100];

	if (stat(path, &a) != 0)
		return 0;
	for (size_t k = 0; k < sizeof(ci_dir_keys) / sizeof(ci_dir_keys[0]); k++) {
		snprintf(p, sizeof(p), "%.1000s/%s", dir, ci_dir_keys[k]);
		if (stat(p, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return 1;
	}
	return 0;
}

int pki_check_config(const char *certs_dir, const char *fqdn,
		     const struct http_listener_cfg *ls, size_t nls,
		     const char *const *keys, size_t nkeys, int allow_loose, time_t now, FILE *out)
{
	struct report r = { .out = out, .now = now, .fqdn = fqdn, .allow_loose = allow_loose };
	struct pki_set *sets = NULL;
	int *bad = NULL;
	char **names, **dirs = NULL, path[1024];
	size_t nn, ns = 0;
	int ok, rc = -1, before, own_key;

	fprintf(out, "certificates: %s\nSM-DP+ address: %s\n", certs_dir, fqdn ? fqdn : "(not checked)");
	names = list_dir(certs_dir, "", &nn, &ok);
	if (!ok) {
		fprintf(out, "ERROR: cannot open the certificate directory %s\n", certs_dir);
		r.errors++;
		goto summary;
	}
	sets = calloc(nn ? nn : 1, sizeof(*sets));
	bad = calloc(nn ? nn : 1, sizeof(*bad));
	dirs = calloc(nn ? nn : 1, sizeof(*dirs));
	if (!sets || !bad || !dirs)
		goto out;
	for (size_t i = 0; i < nn; i++) {
		int res;
		snprintf(path, sizeof(path), "%s/%s", certs_dir, names[i]);
		res = load_set(&r, &sets[ns], path, names[i]);
		if (res == 0) {
			set_free(&sets[ns]);
			continue;
		}
		bad[ns] = res < 0;
		if (sets[ns].dptls_cert[0])
			check_tls(&r, "dptls", sets[ns].dptls_cert, sets[ns].dptls_key, NULL, 0,
				  &sets[ns], CURVE_NONE);
		/* loose key modes are this CI's errors, like its other findings */
		snprintf(path, sizeof(path), "%s/%s", certs_dir, names[i]);
		before = r.errors;
		check_ci_key_modes(&r, path);
		if (r.errors > before)
			bad[ns] = 1;
		dirs[ns] = names[i];
		/* the eUICC checks need only the CI (and its CRLs) */
		if (sets[ns].ci && sets[ns].ci_id.len && sets[ns].curve != CURVE_NONE) {
			snprintf(path, sizeof(path), "%s/%s", certs_dir, names[i]);
			check_client(&r, &sets[ns], path);
		}
		ns++;
	}
	if (ns == 0) {
		fprintf(out, "\nERROR: no CI directory (with ci.der or ci.pem) under %s\n", certs_dir);
		r.errors++;
	}
	for (size_t i = 0; ls && i < nls; i++) {
		if (ls[i].port < 0)
			continue;   /* listener off */
		fprintf(out, "\nlistener %s\n", ls[i].name);
		r.ci = ls[i].name;
		check_tls(&r, "tls", ls[i].cert, ls[i].key, sets, ns, NULL,
			  listener_curve(ls[i].name));
		own_key = ls[i].key[0] != '\0';
		for (size_t j = 0; own_key && j < ns; j++) {
			snprintf(path, sizeof(path), "%s/%s", certs_dir, dirs[j]);
			own_key = !is_ci_dir_key(ls[i].key, path);
		}
		if (own_key)
			check_key_mode(&r, "tls", ls[i].key);
	}
	/* the other keys the server reads (ES2+, operators, admin listener) */
	r.ci = "other keys";
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i] && keys[i][0] && access(keys[i], F_OK) == 0)
			check_key_mode(&r, "keys", keys[i]);
summary:
	fprintf(out, "\nsummary\n");
	for (int c = CURVE_NIST_P256; c <= CURVE_BRAINPOOL_P256R1; c++) {
		int any = 0;
		fprintf(out, "  %s:", crypto_curve_name((enum crypto_curve)c));
		for (size_t i = 0; i < ns; i++)
			if (sets[i].curve == (enum crypto_curve)c) {
				fprintf(out, "%s %s (SM-DP+ OID %s%s)", any ? "," : "", sets[i].name,
					sets[i].smdp_oid[0] ? sets[i].smdp_oid : "none",
					bad[i] ? ", ERRORS" : "");
				any = 1;
			}
		fprintf(out, "%s\n", any ? "" : " no CI");
	}
	if (r.errors)
		fprintf(out, "result: %d error(s), %d warning(s): smdp refuses to start\n", r.errors,
			r.warnings);
	else if (r.warnings)
		fprintf(out, "result: %d warning(s): smdp starts\n", r.warnings);
	else
		fprintf(out, "result: no problems found\n");
	rc = r.errors ? 2 : r.warnings ? 1 : 0;
out:
	for (size_t i = 0; i < ns; i++)
		set_free(&sets[i]);
	free(sets);
	free(bad);
	free(dirs);   /* its strings belong to names */
	free_names(names, nn);
	return rc;
}

int pki_key_file_private(const char *path, int allow_loose, char *err, size_t errsz)
{
	struct stat st;

	if (!path || !path[0] || stat(path, &st) != 0 || !(st.st_mode & 077))
		return 0;
	/* a private key that other local users can read is as good as
	 * published: the SM-DP+ identity (SGP.22 4.5.2) would be theirs */
	if (allow_loose) {
		log_warn("private key %s is readable by group or others (mode %04o); "
			 "accepted because of allow-loose-key-permissions", path,
			 (unsigned)(st.st_mode & 07777));
		return 0;
	}
	snprintf(err, errsz, "private key %s is readable by group or others (mode %04o): "
		 "run 'chmod 600 %s', or start with --allow-loose-key-permissions yes", path,
		 (unsigned)(st.st_mode & 07777), path);
	return -1;
}

int pki_keys_private(const struct pki *p, const char *const *paths, size_t n, int allow_loose,
		     char *err, size_t errsz)
{
	static const char *const own[] = { "dpauth.key.pem", "dppb.key.pem", "dptls.key.pem" };
	static const char tls_suffix[] = "/dptls.key.pem";
	char path[1100];

	for (size_t i = 0; p && i < p->n; i++) {
		/* the CI directory is what precedes dptls.key.pem (load_set) */
		const char *k = p->sets[i].dptls_key;
		size_t kl = strlen(k), sl = sizeof(tls_suffix) - 1;

		if (kl < sl || strcmp(k + kl - sl, tls_suffix))
			continue;
		for (size_t j = 0; j < sizeof(own) / sizeof(own[0]); j++) {
			snprintf(path, sizeof(path), "%.*s/%s", (int)(kl - sl), k, own[j]);
			if (pki_key_file_private(path, allow_loose, err, errsz))
				return -1;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (pki_key_file_private(paths[i], allow_loose, err, errsz))
			return -1;
	return 0;
}
