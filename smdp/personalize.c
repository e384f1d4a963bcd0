/* personalize.c - `smdp-admin personalize`: unique profile packages from a
 * template (SAIP), one per ICCID/IMSI of a range, with fresh Ki/OPc, plus
 * the export file an operator loads into its HSS/AuC. All or nothing: the
 * instances and the export appear together or not at all. Secrets (Ki,
 * OPc, PINs, PUKs, ADM) go to the export file only, never to the log. */
#include "smdp.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define PERSO_MAX_COUNT  10000      /* instances in one batch (rows are kept in memory) */
#define PERSO_PATH       512
#define PERSO_SEED_MAX   256        /* --seed text */

#define EX_OK     0
#define EX_FAIL   1
#define EX_USAGE  2

struct perso_opts {
	char template_path[PERSO_PATH];
	char name[SMDP_MAX_ID + 1];     /* instance stem prefix */
	char out_dir[PERSO_PATH];
	char export_path[PERSO_PATH];
	char iccid[20];                 /* first ICCID without the Luhn digit */
	char imsi[16];                  /* first IMSI */
	long count;
	int has_op;
	uint8_t op[16];                 /* Milenage OP (operator variant key) */
	char pin1[17], pin2[17], puk1[17], puk2[17], adm1[17];   /* value or "random" */
	char seed[PERSO_SEED_MAX + 1];  /* "" = CSPRNG */
};

struct perso_row {                  /* what one instance got */
	struct perso_instance in;
	char tmp_der[PERSO_PATH + 16];
	char tmp_json[PERSO_PATH + 16];
	char json[PERSO_PATH + 8];
	int has_json;
	int json_renamed, der_renamed;  /* json / in.path are in place */
};

static const char usage_text[] =
"usage: smdp-admin personalize --template FILE --iccid DIGITS --imsi DIGITS\n"
"           --out DIR --export FILE [options]\n"
"\n"
"Makes --count instances of a profile package template (checked as the server\n"
"checks packages). Instance k (from 0) gets the ICCID --iccid + k with its\n"
"Luhn check digit (ProfileHeader and EF.ICCID), the IMSI --imsi + k (EF.IMSI),\n"
"and a fresh random Ki and OPc of the template's lengths in every AKA\n"
"parameter element; everything else stays byte for byte as in the template.\n"
"Each instance is written to DIR/NAME-ICCID.der (with NAME-ICCID.json if the\n"
"template has a description file), so a server with --profiles DIR serves it\n"
"under the matchingId NAME-ICCID. The export file gets one CSV line per\n"
"instance: iccid,imsi,ki,opc,algorithm[,pin1,pin2,puk1,puk2,adm1].\n"
"\n"
"  --template FILE   template package (DER); FILE's .json is used if present\n"
"  --count N         number of instances (default 1, at most 10000)\n"
"  --iccid DIGITS    first ICCID without its check digit (18 or 19 digits)\n"
"  --imsi DIGITS     first IMSI (6 to 15 digits)\n"
"  --out DIR         directory for the instances (e.g. the server's profiles)\n"
"  --name NAME       instance name prefix (default: the template's file stem)\n"
"  --export FILE     the CSV export, created with mode 0600 (must not exist)\n"
"  --op HEX          Milenage OP (32 hex digits): OPc = AES-128(Ki, OP) xor OP\n"
"                    instead of a random OPc (TS 35.206)\n"
"  --pin1 V, --pin2 V   PIN1 / PIN2 (4 to 8 digits), or 'random'\n"
"  --puk1 V, --puk2 V   PUK1 / PUK2 (8 digits), or 'random'\n"
"  --adm1 V          ADM1 (8 digits or 16 hex digits), or 'random'\n"
"  --seed TEXT       derive every secret from TEXT (reproducible tests only:\n"
"                    the keys are predictable, never use it for real SIMs)\n"
"  -h, --help        this text\n";

/* ------------------------------------------------------------------ */
/* values */

/* base (a digit string) + k, same width; -1 on overflow of the width. */
static int digits_add(const char *base, long k, char *out, size_t outsz)
{
	size_t n = strlen(base);
	unsigned long long v = strtoull(base, NULL, 10), max = 1;

	for (size_t i = 0; i < n; i++)
		max *= 10;      /* n <= 19: fits in 64 bits */
	if (v + (unsigned long long)k >= max || n + 1 > outsz)
		return -1;
	snprintf(out, outsz, "%0*llu", (int)n, v + (unsigned long long)k);
	return 0;
}

static int is_digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* n secret bytes: from the CSPRNG, or with --seed from SHA-256(label, seed,
 * iccid, counter) so that a test can predict them. */
static int secret(const struct perso_opts *o, const char *label, const char *iccid,
		  uint8_t *out, size_t n)
{
	uint8_t h[32], ctr = 0;
	char pre[64 + PERSO_SEED_MAX + 24];

	if (!o->seed[0])
		return crypto_random(out, n);
	for (size_t done = 0; done < n; done += 32, ctr++) {
		int len = snprintf(pre, sizeof(pre), "smdp-perso:%s:%s:%s:%u", label, o->seed,
				   iccid, ctr);

		crypto_sha256((const uint8_t *)pre, (size_t)len, NULL, 0, h);
		memcpy(out + done, h, n - done < 32 ? n - done : 32);
	}
	crypto_cleanse(h, sizeof(h));
	crypto_cleanse(pre, sizeof(pre));
	return 0;
}

/* A PIN/PUK/ADM value: the option's value, or `digits` random digits. */
static int pin_value(const struct perso_opts *o, const char *opt, const char *label,
		     const char *iccid, size_t digits, char *out, size_t outsz)
{
	uint8_t r[64];
	size_t k = 0, used = 0;
	int rc = -1;

	out[0] = '\0';
	if (!opt[0])
		return 0;
	if (strcmp(opt, "random")) {
		str_copy(out, outsz, opt);
		return 0;
	}
	/* Rejection sampling keeps the digits uniform. */
	while (k < digits) {
		if (used == 0 && secret(o, label, iccid, r, sizeof(r)) < 0)
			goto out;
		if (r[used] < 250)
			out[k++] = (char)('0' + r[used] % 10);
		used = (used + 1) % sizeof(r);
		if (used == 0)
			label = "pin-more";
	}
	out[k] = '\0';
	rc = 0;
out:
	crypto_cleanse(r, sizeof(r));
	return rc;
}

static const char *algo_name(long a)
{
	switch (a) {
	case 1: return "milenage";
	case 2: return "tuak";
	case 3: return "usim-test-algorithm";
	default: return "unknown";
	}
}

/* ------------------------------------------------------------------ */
/* files */

/* Create path (must not exist) with mode and write n bytes. 0 / -1. */
static int write_new(const char *path, const void *p, size_t n, mode_t mode)
{
	const uint8_t *b = p;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	int rc = -1;

	if (fd < 0)
		return -1;
	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		b += w;
		n -= (size_t)w;
	}
	rc = fsync(fd);
out:
	if (close(fd) < 0)
		rc = -1;
	if (rc < 0)
		unlink(path);
	return rc;
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* The template's description file with a relative icon path made absolute,
 * so the copy next to each instance still finds the icon. NULL if the
 * template has none; text is a malloc'd string. */
static int desc_for_instances(const char *tmpl_desc, char **text, char *err, size_t errsz)
{
	struct buf b = { 0 };
	cJSON *root = NULL;
	cJSON *icon;
	int rc = -1;

	*text = NULL;
	if (file_read(tmpl_desc, SAIP_MAX_DESC, &b) < 0) {
		if (errno == ENOENT)
			rc = 0;
		else
			snprintf(err, errsz, "%s: cannot read", tmpl_desc);
		goto out;
	}
	root = cJSON_ParseWithLength((const char *)b.p, b.len);
	if (!cJSON_IsObject(root)) {
		snprintf(err, errsz, "%s: not a JSON object", tmpl_desc);
		goto out;
	}
	icon = cJSON_GetObjectItemCaseSensitive(root, "icon");
	if (cJSON_IsString(icon) && icon->valuestring[0] && icon->valuestring[0] != '/') {
		const char *slash = strrchr(tmpl_desc, '/');
		char rel[PERSO_PATH * 2], abs[PATH_MAX];

		snprintf(rel, sizeof(rel), "%.*s%s%s", slash ? (int)(slash - tmpl_desc) : 0,
			 tmpl_desc, slash ? "/" : "", icon->valuestring);
		if (!realpath(rel, abs)) {
			snprintf(err, errsz, "%s: icon %s not found", tmpl_desc, icon->valuestring);
			goto out;
		}
		if (!cJSON_ReplaceItemInObjectCaseSensitive(root, "icon", cJSON_CreateString(abs))) {
			snprintf(err, errsz, "out of memory");
			goto out;
		}
	}
	*text = cJSON_Print(root);
	if (!*text) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	buf_free(&b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* options */

static int hexopt(const char *s, uint8_t *out, size_t n)
{
	return strlen(s) == 2 * n && hex_decode(s, out, n) == (int)n ? 0 : -1;
}

static int copyopt(char *dst, size_t dstsz, const char *v, const char *name)
{
	if (strlen(v) >= dstsz) {
		fprintf(stderr, "personalize: --%s: value too long\n", name);
		return -1;
	}
	str_copy(dst, dstsz, v);
	return 0;
}

/* Parse argv into o. 0 ok, 1 help printed, -1 usage error (printed). */
static int parse(int argc, char **argv, struct perso_opts *o)
{
	enum { O_TEMPLATE = 256, O_COUNT, O_ICCID, O_IMSI, O_OUT, O_NAME, O_EXPORT, O_OP,
	       O_PIN1, O_PIN2, O_PUK1, O_PUK2, O_ADM1, O_SEED };
	static const struct option opts[] = {
		{ "template", required_argument, NULL, O_TEMPLATE },
		{ "count", required_argument, NULL, O_COUNT },
		{ "iccid", required_argument, NULL, O_ICCID },
		{ "imsi", required_argument, NULL, O_IMSI },
		{ "out", required_argument, NULL, O_OUT },
		{ "name", required_argument, NULL, O_NAME },
		{ "export", required_argument, NULL, O_EXPORT },
		{ "op", required_argument, NULL, O_OP },
		{ "pin1", required_argument, NULL, O_PIN1 },
		{ "pin2", required_argument, NULL, O_PIN2 },
		{ "puk1", required_argument, NULL, O_PUK1 },
		{ "puk2", required_argument, NULL, O_PUK2 },
		{ "adm1", required_argument, NULL, O_ADM1 },
		{ "seed", required_argument, NULL, O_SEED },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->count = 1;
	optind = 0;     /* the caller may have used getopt already */
	opterr = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case O_TEMPLATE: bad = copyopt(o->template_path, sizeof(o->template_path), optarg,
					       "template"); break;
		case O_OUT:      bad = copyopt(o->out_dir, sizeof(o->out_dir), optarg, "out"); break;
		case O_NAME:     bad = copyopt(o->name, sizeof(o->name), optarg, "name"); break;
		case O_EXPORT:   bad = copyopt(o->export_path, sizeof(o->export_path), optarg,
					       "export"); break;
		case O_ICCID:    bad = copyopt(o->iccid, sizeof(o->iccid), optarg, "iccid"); break;
		case O_IMSI:     bad = copyopt(o->imsi, sizeof(o->imsi), optarg, "imsi"); break;
		case O_PIN1:     bad = copyopt(o->pin1, sizeof(o->pin1), optarg, "pin1"); break;
		case O_PIN2:     bad = copyopt(o->pin2, sizeof(o->pin2), optarg, "pin2"); break;
		case O_PUK1:     bad = copyopt(o->puk1, sizeof(o->puk1), optarg, "puk1"); break;
		case O_PUK2:     bad = copyopt(o->puk2, sizeof(o->puk2), optarg, "puk2"); break;
		case O_ADM1:     bad = copyopt(o->adm1, sizeof(o->adm1), optarg, "adm1"); break;
		case O_SEED:     bad = copyopt(o->seed, sizeof(o->seed), optarg, "seed"); break;
		case O_COUNT:
			errno = 0;
			o->count = strtol(optarg, &end, 10);
			if (errno || *end || o->count < 1 || o->count > PERSO_MAX_COUNT) {
				fprintf(stderr, "personalize: --count: 1 to %d\n", PERSO_MAX_COUNT);
				bad = 1;
			}
			break;
		case O_OP:
			if (hexopt(optarg, o->op, sizeof(o->op)) < 0) {
				fprintf(stderr, "personalize: --op: 32 hex digits\n");
				bad = 1;
			}
			o->has_op = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		default:
			bad = 1;
			break;
		}
		if (bad)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "personalize: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->template_path[0] || !o->out_dir[0] || !o->export_path[0] || !o->iccid[0] ||
	    !o->imsi[0]) {
		fprintf(stderr, "personalize: --template, --iccid, --imsi, --out and --export "
			"are required (see --help)\n");
		return -1;
	}
	if (!is_digits(o->iccid, 18, 19)) {
		fprintf(stderr, "personalize: --iccid: 18 or 19 digits, without the check digit\n");
		return -1;
	}
	if (!is_digits(o->imsi, 6, 15)) {
		fprintf(stderr, "personalize: --imsi: 6 to 15 digits\n");
		return -1;
	}
	if (!o->name[0]) {
		const char *base = strrchr(o->template_path, '/');
		size_t n;

		base = base ? base + 1 : o->template_path;
		n = strlen(base);
		if (n > 4 && !strcmp(base + n - 4, ".der"))
			n -= 4;
		if (n > SMDP_MAX_ID) {
			fprintf(stderr, "personalize: template name too long: use --name\n");
			return -1;
		}
		snprintf(o->name, sizeof(o->name), "%.*s", (int)n, base);
	}
	if (strchr(o->name, '/') || o->name[0] == '.' || !o->name[0]) {
		fprintf(stderr, "personalize: --name: a file stem, not a path\n");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* the batch */

/* Append to the export; -1 when out of memory (callers OR the results). */
static int csv_add(struct buf *csv, const char *s)
{
	return buf_append(csv, s, strlen(s));
}

static int csv_hex(struct buf *csv, const uint8_t *p, size_t n)
{
	char h[2 * 32 + 1];
	int rc = hex_encode(p, n, h, sizeof(h)) < 0 ? -1 : csv_add(csv, h);

	crypto_cleanse(h, sizeof(h));
	return rc;
}

/* One instance: values, personalization, check, temp file, CSV line. */
static int make_one(const struct perso_opts *o, struct saip_pkg *pkg, const struct saip_info *ti,
		    long k, const char *desc_text, struct perso_row *row, struct buf *csv,
		    char *err, size_t errsz)
{
	struct saip_perso v;
	struct saip_pkg chk = { 0 };
	struct saip_info ci;
	struct buf out = { 0 };
	char base_iccid[20];
	int rc = -1;

	memset(&v, 0, sizeof(v));
	if (digits_add(o->iccid, k, base_iccid, sizeof(base_iccid)) < 0 ||
	    digits_add(o->imsi, k, v.imsi, sizeof(v.imsi)) < 0) {
		snprintf(err, errsz, "instance %ld: the ICCID or IMSI range overflows its digits", k);
		goto out;
	}
	str_copy(v.iccid, sizeof(v.iccid), base_iccid);
	if (saip_iccid_complete(base_iccid, row->in.iccid) < 0) {
		snprintf(err, errsz, "instance %ld: bad ICCID", k);
		goto out;
	}
	str_copy(row->in.imsi, sizeof(row->in.imsi), v.imsi);
	v.ki_len = ti->key_len;
	v.opc_len = ti->opc_len;
	if (secret(o, "ki", row->in.iccid, v.ki, v.ki_len) < 0)
		goto rnd;
	if (o->has_op) {
		uint8_t t[16];

		/* TS 35.206 4.1: OPc = E_K(OP) xor OP. */
		if (crypto_aes_ecb_block(v.ki, o->op, t) < 0)
			goto rnd;
		for (int i = 0; i < 16; i++)
			v.opc[i] = t[i] ^ o->op[i];
		crypto_cleanse(t, sizeof(t));
	} else if (secret(o, "opc", row->in.iccid, v.opc, v.opc_len) < 0) {
		goto rnd;
	}
	if (pin_value(o, o->pin1, "pin1", row->in.iccid, 4, v.pin1, sizeof(v.pin1)) < 0 ||
	    pin_value(o, o->pin2, "pin2", row->in.iccid, 4, v.pin2, sizeof(v.pin2)) < 0 ||
	    pin_value(o, o->puk1, "puk1", row->in.iccid, 8, v.puk1, sizeof(v.puk1)) < 0 ||
	    pin_value(o, o->puk2, "puk2", row->in.iccid, 8, v.puk2, sizeof(v.puk2)) < 0 ||
	    pin_value(o, o->adm1, "adm1", row->in.iccid, 8, v.adm1, sizeof(v.adm1)) < 0)
		goto rnd;
	if (saip_personalize(pkg, &v, err, errsz) < 0 || saip_encode(pkg, 0, &out) < 0)
		goto out;
	/* Check the result the way the server will load it. */
	if (saip_decode(out.p, out.len, &chk, err, errsz) < 0 || saip_info(&chk, &ci) < 0 ||
	    strcmp(ci.iccid, row->in.iccid) || strcmp(ci.imsi, row->in.imsi)) {
		snprintf(err, errsz, "instance %s: the personalized package does not check out",
			 row->in.iccid);
		goto out;
	}
	if (snprintf(row->in.id, sizeof(row->in.id), "%s-%s", o->name, row->in.iccid) >=
	    (int)sizeof(row->in.id)) {
		snprintf(err, errsz, "instance name %s-%s longer than %d characters", o->name,
			 row->in.iccid, SMDP_MAX_ID);
		goto out;
	}
	if (snprintf(row->in.path, sizeof(row->in.path), "%s/%s.der", o->out_dir, row->in.id) >=
		    (int)sizeof(row->in.path) ||
	    snprintf(row->tmp_der, sizeof(row->tmp_der), "%s/.%s.der.tmp", o->out_dir,
		     row->in.id) >= (int)sizeof(row->tmp_der)) {
		snprintf(err, errsz, "--out: path too long");
		row->tmp_der[0] = '\0';
		goto out;
	}
	if (exists(row->in.path)) {
		snprintf(err, errsz, "%s exists: not overwritten", row->in.path);
		goto out;
	}
	if (write_new(row->tmp_der, out.p, out.len, 0600) < 0) {
		snprintf(err, errsz, "%s: cannot write: %s", row->tmp_der, strerror(errno));
		row->tmp_der[0] = '\0';
		goto out;
	}
	if (desc_text) {
		if (snprintf(row->json, sizeof(row->json), "%s/%s.json", o->out_dir, row->in.id) >=
			    (int)sizeof(row->json) ||
		    snprintf(row->tmp_json, sizeof(row->tmp_json), "%s/.%s.json.tmp", o->out_dir,
			     row->in.id) >= (int)sizeof(row->tmp_json)) {
			snprintf(err, errsz, "--out: path too long");
			row->tmp_json[0] = '\0';
			goto out;
		}
		if (exists(row->json) ||
		    write_new(row->tmp_json, desc_text, strlen(desc_text), 0644) < 0) {
			snprintf(err, errsz, "%s: exists or cannot be written", row->json);
			row->tmp_json[0] = '\0';
			goto out;
		}
		row->has_json = 1;
	}
	{
		const char *opt[] = { o->pin1, o->pin2, o->puk1, o->puk2, o->adm1 };
		const char *val[] = { v.pin1, v.pin2, v.puk1, v.puk2, v.adm1 };
		int bad = csv_add(csv, row->in.iccid) | csv_add(csv, ",") |
			csv_add(csv, row->in.imsi) | csv_add(csv, ",") | csv_hex(csv, v.ki, v.ki_len) |
			csv_add(csv, ",") | csv_hex(csv, v.opc, v.opc_len) | csv_add(csv, ",") |
			csv_add(csv, algo_name(ti->algorithm));

		for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
			if (opt[i][0])
				bad |= csv_add(csv, ",") | csv_add(csv, val[i]);
		if (bad | csv_add(csv, "\n")) {
			snprintf(err, errsz, "out of memory");
			goto out;
		}
	}
	rc = 0;
	goto out;
rnd:
	snprintf(err, errsz, "no random numbers");
out:
	crypto_cleanse(&v, sizeof(v));
	saip_pkg_free(&chk);
	buf_wipe(&out);
	return rc;
}

int personalize_run(int argc, char **argv, perso_register_fn reg, void *arg)
{
	struct perso_opts o;
	struct saip_pkg pkg = { 0 };
	struct saip_info ti;
	struct perso_row *rows = NULL;
	struct buf tmpl = { 0 }, csv = { 0 };
	char err[768], tmpl_desc[PERSO_PATH + 8], tmp_csv[PERSO_PATH + 8];
	char *desc_text = NULL;
	long made = 0;
	size_t tl;
	int rc = EX_FAIL, pr, csv_written = 0, bad;

	tmp_csv[0] = '\0';
	pr = parse(argc, argv, &o);
	if (pr != 0) {
		rc = pr > 0 ? EX_OK : EX_USAGE;
		goto out;
	}
	if (o.seed[0])
		log_warn("personalize: --seed makes every key predictable: for tests only");
	if (file_read(o.template_path, SMDP_MAX_PROFILE, &tmpl) < 0) {
		log_error("personalize: %s: cannot read (or larger than %d bytes)", o.template_path,
			  SMDP_MAX_PROFILE);
		goto out;
	}
	if (saip_decode(tmpl.p, tmpl.len, &pkg, err, sizeof(err)) < 0 || saip_info(&pkg, &ti) < 0) {
		log_error("personalize: template %s: %s", o.template_path, err);
		goto out;
	}
	if (ti.n_aka == 0 || ti.key_len == 0) {
		log_error("personalize: template %s has no AKA parameters to personalize",
			  o.template_path);
		goto out;
	}
	if (o.has_op && (ti.algorithm != 1 || ti.key_len != 16 || ti.opc_len != 16)) {
		log_error("personalize: --op applies to Milenage templates; %s uses %s",
			  o.template_path, algo_name(ti.algorithm));
		goto out;
	}
	/* The template's description file: T.json next to T.der. */
	tl = strlen(o.template_path);
	if (tl > 4 && !strcmp(o.template_path + tl - 4, ".der"))
		tl -= 4;
	snprintf(tmpl_desc, sizeof(tmpl_desc), "%.*s.json", (int)tl, o.template_path);
	if (desc_for_instances(tmpl_desc, &desc_text, err, sizeof(err)) < 0) {
		log_error("personalize: %s", err);
		goto out;
	}
	if (exists(o.export_path)) {
		log_error("personalize: %s exists: not overwritten", o.export_path);
		goto out;
	}
	rows = calloc((size_t)o.count, sizeof(*rows));
	if (!rows) {
		log_error("personalize: out of memory");
		goto out;
	}
	bad = csv_add(&csv, "iccid,imsi,ki,opc,algorithm");
	bad |= o.pin1[0] ? csv_add(&csv, ",pin1") : 0;
	bad |= o.pin2[0] ? csv_add(&csv, ",pin2") : 0;
	bad |= o.puk1[0] ? csv_add(&csv, ",puk1") : 0;
	bad |= o.puk2[0] ? csv_add(&csv, ",puk2") : 0;
	bad |= o.adm1[0] ? csv_add(&csv, ",adm1") : 0;
	if (bad | csv_add(&csv, "\n")) {
		log_error("personalize: out of memory");
		goto out;
	}
	for (made = 0; made < o.count; made++) {
		str_copy(rows[made].in.template_id, sizeof(rows[made].in.template_id), o.name);
		if (make_one(&o, &pkg, &ti, made, desc_text, &rows[made], &csv, err,
			     sizeof(err)) < 0) {
			log_error("personalize: %s", err);
			made++;         /* its temp files, if any, are cleaned up too */
			goto out;
		}
	}
	snprintf(tmp_csv, sizeof(tmp_csv), "%s.tmp", o.export_path);
	if (write_new(tmp_csv, csv.p, csv.len, 0600) < 0) {
		log_error("personalize: %s: cannot write: %s", tmp_csv, strerror(errno));
		tmp_csv[0] = '\0';
		goto out;
	}
	/* Everything is written: make it visible, each description before its
	 * package so that a server starting now sees both or neither. */
	for (long i = 0; i < o.count; i++) {
		if (rows[i].has_json) {
			if (rename(rows[i].tmp_json, rows[i].json) < 0) {
				log_error("personalize: %s: cannot rename: %s", rows[i].json,
					  strerror(errno));
				goto out;
			}
			rows[i].tmp_json[0] = '\0';
			rows[i].json_renamed = 1;
		}
		if (rename(rows[i].tmp_der, rows[i].in.path) < 0) {
			log_error("personalize: %s: cannot rename: %s", rows[i].in.path,
				  strerror(errno));
			goto out;
		}
		rows[i].tmp_der[0] = '\0';
		rows[i].der_renamed = 1;
	}
	if (rename(tmp_csv, o.export_path) < 0) {
		log_error("personalize: %s: cannot rename: %s", o.export_path, strerror(errno));
		goto out;
	}
	tmp_csv[0] = '\0';
	csv_written = 1;
	for (long i = 0; i < o.count; i++) {
		if (reg && reg(arg, &rows[i].in) != 0) {
			log_error("personalize: registering %s in the inventory failed", rows[i].in.id);
			goto out;
		}
	}
	log_info("personalize: %ld instance%s of %s in %s (ICCID %s .. %s, IMSI %s .. %s), "
		 "export %s", o.count, o.count == 1 ? "" : "s", o.name, o.out_dir, rows[0].in.iccid,
		 rows[o.count - 1].in.iccid, rows[0].in.imsi, rows[o.count - 1].in.imsi,
		 o.export_path);
	rc = EX_OK;
out:
	/* All or nothing: until the export is in place, a failure removes
	 * whatever this run wrote. The inventory hook runs once instances and
	 * export exist; if it fails they stay (the keys are in the export). */
	if (rc == EX_FAIL && !csv_written) {
		for (long i = 0; i < made && rows; i++) {
			if (rows[i].tmp_der[0])
				unlink(rows[i].tmp_der);
			if (rows[i].tmp_json[0])
				unlink(rows[i].tmp_json);
			if (rows[i].der_renamed)
				unlink(rows[i].in.path);
			if (rows[i].json_renamed)
				unlink(rows[i].json);
		}
		if (tmp_csv[0])
			unlink(tmp_csv);
	}
	free(rows);
	free(desc_text);
	buf_wipe(&csv);
	buf_wipe(&tmpl);
	saip_pkg_free(&pkg);
	return rc;
}

int personalize_main(int argc, char **argv)
{
	return personalize_run(argc, argv, NULL, NULL);
}
