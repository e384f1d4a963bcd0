/* pki.c - SM-DP+ credentials per CI and the eUICC certificate checks of
 * SGP.22 5.6.3 / 4.5.2 (GSMA rules, done explicitly rather than through
 * X.509 path validation: the role policies and EUM name constraints do not
 * follow RFC 5280 processing). */
#include "smdp.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* SGP.22 4.5.2.1 role policy OIDs (id-rspRole) and their v3 variants. */
#define OID_ROLE_EUICC     "2.23.146.1.2.1.1"
#define OID_ROLE_EUM       "2.23.146.1.2.1.2"
#define OID_ROLE_DPAUTH    "2.23.146.1.2.1.4"
#define OID_ROLE_DPPB      "2.23.146.1.2.1.5"
#define OID_ROLE_EUM_V3    "2.23.146.1.2.1.0.0.0"
#define OID_ROLE_EUICC_V3  "2.23.146.1.2.1.0.0.0.0.0"

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static crypto_cert *load_cert(const char *dir, const char *base)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s.der", dir, base);
	if (!exists(path))
		snprintf(path, sizeof(path), "%s/%s.pem", dir, base);
	return crypto_cert_load(path);
}

static void set_free(struct pki_set *s)
{
	crypto_cert_free(s->ci);
	crypto_cert_free(s->dpauth);
	crypto_cert_free(s->dppb);
	crypto_key_free(s->dpauth_key);
	crypto_key_free(s->dppb_key);
	memset(s, 0, sizeof(*s));
}

/* Check one SM-DP+ signing certificate against its CI and its key. */
static int check_dp_cert(const struct pki_set *s, const crypto_cert *c, const crypto_key *k,
			 const char *what, const char *policy, char *err, size_t errsz)
{
	uint8_t aki[32];
	int n = crypto_cert_aki(c, aki, sizeof(aki));

	if (n != (int)s->ci_id.len || memcmp(aki, s->ci_id.id, s->ci_id.len) ||
	    crypto_cert_signed_by(c, s->ci) != 1) {
		snprintf(err, errsz, "%s: %s is not issued by the CI in that directory", s->name, what);
		return -1;
	}
	if (!crypto_key_matches_cert(k, c)) {
		snprintf(err, errsz, "%s: %s private key does not match its certificate", s->name, what);
		return -1;
	}
	if (!crypto_cert_has_policy(c, policy))
		log_warn("%s: %s lacks role policy %s", s->name, what, policy);
	if (crypto_cert_validity(c, time(NULL)) != 0)
		log_warn("%s: %s is outside its validity period", s->name, what);
	return 0;
}

/* Load one CI directory; 1 loaded, 0 not a CI directory, -1 error. */
static int load_set(struct pki_set *s, const char *dir, const char *name, char *err,
		    size_t errsz)
{
	char path[1100], oid2[SMDP_MAX_OID + 1];
	int n;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(path, sizeof(path), "%s/ci.der", dir);
	if (!exists(path)) {
		snprintf(path, sizeof(path), "%s/ci.pem", dir);
		if (!exists(path))
			return 0;   /* not a CI directory (README, expired/, ...) */
	}
	s->ci = load_cert(dir, "ci");
	if (!s->ci) {
		snprintf(err, errsz, "%s: cannot read the CI certificate", name);
		return -1;
	}
	n = crypto_cert_ski(s->ci, s->ci_id.id, sizeof(s->ci_id.id));
	if (n <= 0) {
		snprintf(err, errsz, "%s: CI certificate has no subjectKeyIdentifier", name);
		return -1;
	}
	s->ci_id.len = (size_t)n;
	s->curve = crypto_cert_curve(s->ci);
	if (s->curve == CURVE_NONE) {
		snprintf(err, errsz, "%s: CI key is on neither NIST P-256 nor brainpoolP256r1", name);
		return -1;
	}
	s->dpauth = load_cert(dir, "dpauth");
	s->dppb = load_cert(dir, "dppb");
	snprintf(path, sizeof(path), "%s/dpauth.key.pem", dir);
	s->dpauth_key = crypto_key_load(path);
	snprintf(path, sizeof(path), "%s/dppb.key.pem", dir);
	s->dppb_key = crypto_key_load(path);
	if (!s->dpauth || !s->dppb || !s->dpauth_key || !s->dppb_key) {
		snprintf(err, errsz, "%s: needs dpauth.der, dpauth.key.pem, dppb.der and dppb.key.pem",
			 name);
		return -1;
	}
	if (check_dp_cert(s, s->dpauth, s->dpauth_key, "DPauth", OID_ROLE_DPAUTH, err, errsz) ||
	    check_dp_cert(s, s->dppb, s->dppb_key, "DPpb", OID_ROLE_DPPB, err, errsz))
		return -1;
	if (crypto_cert_san_rid(s->dpauth, s->smdp_oid, sizeof(s->smdp_oid)) ||
	    crypto_cert_san_rid(s->dppb, oid2, sizeof(oid2))) {
		snprintf(err, errsz, "%s: DPauth/DPpb certificates carry no SM-DP+ OID", name);
		return -1;
	}
	if (strcmp(s->smdp_oid, oid2)) {
		snprintf(err, errsz, "%s: DPauth OID %s differs from DPpb OID %s", name, s->smdp_oid,
			 oid2);
		return -1;
	}
	if ((size_t)snprintf(s->dptls_cert, sizeof(s->dptls_cert), "%.490s/dptls.der", dir) >=
		    sizeof(s->dptls_cert) ||
	    (size_t)snprintf(s->dptls_key, sizeof(s->dptls_key), "%.490s/dptls.key.pem", dir) >=
		    sizeof(s->dptls_key)) {
		snprintf(err, errsz, "%s: path too long", name);
		return -1;
	}
	return 1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int pki_load(struct pki *p, const char *dir, char *err, size_t errsz)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, path[1024];
	/* path holds dir/name; longer ones are refused below */
	size_t nn = 0;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	if (!d) {
		snprintf(err, errsz, "cannot open certificate directory %s", dir);
		return -1;
	}
	while ((e = readdir(d))) {
		char **t;
		if (e->d_name[0] == '.')
			continue;
		t = realloc(names, (nn + 1) * sizeof(*names));
		if (!t)
			goto out;
		names = t;
		if (!(names[nn] = strdup(e->d_name)))
			goto out;
		nn++;
	}
	qsort(names, nn, sizeof(*names), cmp_names);   /* stable, predictable order */
	p->sets = calloc(nn ? nn : 1, sizeof(*p->sets));
	if (!p->sets)
		goto out;
	for (size_t i = 0; i < nn; i++) {
		int r;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		r = load_set(&p->sets[p->n], path, names[i], err, errsz);
		if (r < 0) {
			set_free(&p->sets[p->n]);
			goto out;
		}
		if (r == 0) {
			set_free(&p->sets[p->n]);
			continue;
		}
		log_info("CI %s: %s, SM-DP+ OID %s", names[i], crypto_curve_name(p->sets[p->n].curve),
			 p->sets[p->n].smdp_oid);
		p->n++;
	}
	if (p->n == 0) {
		snprintf(err, errsz, "no CI directory (with ci.der) found under %s", dir);
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	closedir(d);
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

enum rsp_status pki_verify_euicc(const struct pki_set *set, const struct buf *eum_der,
				 const struct buf *euicc_der, time_t now,
				 char eid[SMDP_EID_LEN + 1], crypto_key **pub)
{
	crypto_cert *eum = NULL, *euicc = NULL;
	char (*prefixes)[SMDP_EID_LEN + 1] = NULL;
	char serial[64];
	uint8_t aki[32];
	enum rsp_status st;
	int n, in_range;
	long ku;

	*pub = NULL;
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

	/* eUICC: issued by the EUM. */
	euicc = crypto_cert_from_der(euicc_der->p, euicc_der->len);
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
	memcpy(eid, serial, SMDP_EID_LEN + 1);  /* eid_valid: exactly 32 digits */
	st = RSP_OK;
out:
	free(prefixes);
	crypto_cert_free(eum);
	crypto_cert_free(euicc);
	return st;
}
