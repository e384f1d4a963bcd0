/* admin.c - smdp-admin: local administration of the profile inventory and
 * download orders for a lab without an operator system. Every command goes
 * through orders.c, so the same store, the same transactions and the same
 * SGP.22 rules apply as over ES2+ (the administrator owns every profile). */
#include "smdp.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EX_OK      0
#define EX_FAIL    1   /* could not run (database, file, ...) */
#define EX_REFUSED 2   /* the lifecycle refused: subjectCode/reasonCode printed */
#define EX_USAGE   64

static const char usage_text[] =
"usage: smdp-admin [--config FILE] [--KEY VALUE ...] COMMAND [ARGS]\n"
"\n"
"Local administration of smdp's profile inventory and download orders, on\n"
"the same database and with the same rules as ES2+ (SGP.22 5.3). Options\n"
"before COMMAND are smdp configuration keys (--db, --profiles, --fqdn, ...;\n"
"see smdp --help), read from --config FILE first.\n"
"\n"
"Commands:\n"
"  import FILE --type TYPE    register profiles/NAME.der (FILE: a path in the\n"
"                             profiles directory, or NAME) as Available in the\n"
"                             pool TYPE; its ICCID must be new to the inventory\n"
"  list [--state S] [--type T]  profiles with state, type, file and order\n"
"  order (--iccid ICCID | --type TYPE) [--eid EID]\n"
"                             downloadOrder: prints the ICCID (Allocated/Linked)\n"
"  confirm ICCID [--eid EID] [--matching-id ID | --default] [--cc CODE]\n"
"          [--smds ADDRESS] [--release]\n"
"                             confirmOrder: prints matchingId and activation code\n"
"                             (--default: empty matchingId, default SM-DP+ case)\n"
"  release ICCID              releaseProfile: Confirmed -> Released\n"
"  cancel ICCID [--final Available|Unavailable] [--eid EID] [--matching-id ID]\n"
"                             cancelOrder (default final state Available)\n"
"  ac ICCID                   print the activation code of a confirmed order\n"
"  notifications              undelivered operator notifications per operator\n"
"  personalize --help         instances of a template profile (ICCID, IMSI, Ki,\n"
"                             OPc, ...); those written into the profiles\n"
"                             directory are registered as Available, pool = the\n"
"                             template's name\n"
"\n"
"Exit status: 0 done, 2 refused (the line 'error: <subject>/<reason> ...' gives\n"
"the SGP.22 code), 1 could not run, 64 usage.\n";

struct admin {
	struct smdp_config cfg;
	struct smdp d;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "smdp-admin: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see smdp-admin --help)\n");
	return EX_USAGE;
}

/* A refusal of the lifecycle, as an operator would see it over ES2+. */
static int refused(enum rsp_status st)
{
	const struct rsp_status_info *i = rsp_status_info(st);

	if (st == RSP_ERR_INTERNAL) {
		printf("error: %s/%s %s: %s (see the log above)\n", i->subject, i->reason, i->name,
		       i->message);
		return EX_FAIL;
	}
	printf("error: %s/%s %s: %s\n", i->subject, i->reason, i->name, i->message);
	return EX_REFUSED;
}

/* Command options: "--name value" pairs (flags take no value). */
struct cmd_opts {
	const char *type, *state, *iccid, *eid, *matching_id, *cc, *smds, *final;
	int is_default, release;
	const char *pos;             /* the one positional argument */
};

static int parse_cmd(int argc, char **argv, int i, struct cmd_opts *o)
{
	static const struct {
		const char *name;
		size_t off;
	} valued[] = {
		{ "--type", offsetof(struct cmd_opts, type) },
		{ "--state", offsetof(struct cmd_opts, state) },
		{ "--iccid", offsetof(struct cmd_opts, iccid) },
		{ "--eid", offsetof(struct cmd_opts, eid) },
		{ "--matching-id", offsetof(struct cmd_opts, matching_id) },
		{ "--cc", offsetof(struct cmd_opts, cc) },
		{ "--smds", offsetof(struct cmd_opts, smds) },
		{ "--final", offsetof(struct cmd_opts, final) },
	};

	memset(o, 0, sizeof(*o));
	for (; i < argc; i++) {
		const char *a = argv[i];
		size_t k;

		if (!strcmp(a, "--default")) {
			o->is_default = 1;
			continue;
		}
		if (!strcmp(a, "--release")) {
			o->release = 1;
			continue;
		}
		for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			if (!strcmp(a, valued[k].name))
				break;
		if (k < sizeof(valued) / sizeof(valued[0])) {
			if (i + 1 >= argc)
				return usage_error("%s needs a value", a);
			*(const char **)((char *)o + valued[k].off) = argv[++i];
			continue;
		}
		if (!strncmp(a, "--", 2) || o->pos)
			return usage_error("unexpected argument '%s'", a);
		o->pos = a;
	}
	return -1;
}

/* ICCID argument: 19/20 digits (F padding accepted). */
static int arg_iccid(const char *s, char out[SMDP_ICCID_LEN + 1])
{
	return s && orders_iccid_norm(s, out);
}

static int arg_eid(const char *s, char out[SMDP_EID_LEN + 1])
{
	if (!s) {
		out[0] = '\0';
		return 1;
	}
	if (strlen(s) != SMDP_EID_LEN || strspn(s, "0123456789") != SMDP_EID_LEN)
		return 0;
	str_copy(out, SMDP_EID_LEN + 1, s);
	return 1;
}

/* import: the file must be the package smdp serves from its profiles
 * directory, so that the inventory's file name finds it there. */
static int cmd_import(struct admin *a, const struct cmd_opts *o)
{
	char want[PATH_MAX], got[PATH_MAX], path[1024], stem[SMDP_MAX_ID + 1], iccid[21];
	char ptype[101];
	const char *base, *dot;
	struct buf upp = { 0 };
	uint8_t hdr[10];
	char hex[21];
	enum rsp_status st;
	int rc = EX_FAIL;
	size_t n;

	if (!o->pos || !o->type || !o->type[0] || strlen(o->type) > SMDP_MAX_PROFILE_TYPE)
		return usage_error("import needs FILE and --type TYPE (at most %d characters)",
				   SMDP_MAX_PROFILE_TYPE);
	base = strrchr(o->pos, '/');
	base = base ? base + 1 : o->pos;
	dot = strrchr(base, '.');
	n = dot && !strcmp(dot, ".der") ? (size_t)(dot - base) : strlen(base);
	if (n == 0 || n > SMDP_MAX_ID)
		return usage_error("bad profile file name '%s'", o->pos);
	snprintf(stem, sizeof(stem), "%.*s", (int)n, base);
	snprintf(path, sizeof(path), "%s/%s.der", a->cfg.profiles_dir, stem);
	if (!realpath(path, want)) {
		printf("error: %s: %s (import takes packages of the profiles directory %s; copy "
		       "the file there first)\n", path, strerror(errno), a->cfg.profiles_dir);
		goto out;
	}
	if (strchr(o->pos, '/') && (!realpath(o->pos, got) || strcmp(want, got))) {
		printf("error: %s is not %s: import takes packages of the profiles directory %s; "
		       "copy the file there first\n", o->pos, path, a->cfg.profiles_dir);
		goto out;
	}
	if (file_read(path, SMDP_MAX_PROFILE, &upp) ||
	    saip_header(upp.p, upp.len, hdr, ptype, sizeof(ptype))) {
		printf("error: %s: not a profile package with a ProfileHeader ICCID (or larger "
		       "than %d bytes)\n", path, SMDP_MAX_PROFILE);
		goto out;
	}
	/* the header holds the ICCID digits in order, F-padded (SAIP 8.1) */
	hex_encode(hdr, sizeof(hdr), hex, sizeof(hex));
	n = strcspn(hex, "F");
	snprintf(iccid, sizeof(iccid), "%.*s", (int)n, hex);
	st = orders_import(&a->d, iccid, stem, o->type);
	if (st == RSP_ERR_ICCID_IN_USE) {
		printf("error: ICCID %s of %s is already in the inventory: every profile needs its "
		       "own ICCID (personalise a copy first)\n", iccid, path);
		rc = EX_REFUSED;
		goto out;
	}
	if (st) {
		rc = refused(st);
		goto out;
	}
	printf("imported ICCID %s from %s into pool %s: Available\n", iccid, path, o->type);
	rc = EX_OK;
out:
	buf_free(&upp);
	return rc;
}

/* personalize: each instance written into the profiles directory is
 * registered in the inventory as Available, in the pool named after its
 * template (issue: instances "stored in the profile inventory"). Instances
 * written elsewhere are left for a later `import`. */
static int register_instance(void *arg, const struct perso_instance *in)
{
	struct admin *a = arg;
	char dir[PATH_MAX], want[PATH_MAX], got[PATH_MAX];
	char *slash;
	enum rsp_status st;

	str_copy(dir, sizeof(dir), in->path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (!realpath(a->cfg.profiles_dir, want) || !realpath(dir, got) || strcmp(want, got)) {
		printf("note: %s is outside the profiles directory %s: not registered\n", in->path,
		       a->cfg.profiles_dir);
		return 0;
	}
	if (!a->d.store) {   /* opened only when an instance is to be registered */
		char err[512];
		a->d.store = store_open(a->cfg.db_path, err, sizeof(err));
		if (!a->d.store) {
			printf("error: database: %s\n", err);
			return -1;
		}
	}
	st = orders_import(&a->d, in->iccid, in->id, in->template_id);
	if (st) {
		printf("error: registering ICCID %s: %s\n", in->iccid, rsp_status_info(st)->message);
		return -1;
	}
	printf("registered ICCID %s (%s) in pool %s: Available\n", in->iccid, in->id,
	       in->template_id);
	return 0;
}

static int cmd_personalize(struct admin *a, int argc, char **argv)
{
	a->d.cfg = &a->cfg;
	return personalize_run(argc, argv, register_instance, a);
}

struct list_ctx {
	int rows;
};

static void list_row(void *arg, const struct inv_profile *p, const struct order *o)
{
	struct list_ctx *l = arg;

	if (l->rows++ == 0)
		printf("%-20s  %-11s  %-16s  %-24s  %-32s  %s\n", "ICCID", "STATE", "TYPE", "FILE",
		       "EID", "MATCHING-ID");
	printf("%-20s  %-11s  %-16s  %-24s  %-32s  %s\n", p->iccid, orders_state_name(p->state),
	       p->type, p->file, o && o->eid[0] ? o->eid : "-",
	       o && o->confirmed ? (o->matching_id[0] ? o->matching_id : "(default SM-DP+)") : "-");
}

static int cmd_list(struct admin *a, const struct cmd_opts *o)
{
	struct list_ctx l = { 0 };
	enum profile_state s = PS_NONE;

	if (o->pos)
		return usage_error("list takes no argument");
	if (o->state && (s = orders_state_parse(o->state)) == PS_NONE)
		return usage_error("unknown state '%s'", o->state);
	if (store_profile_each(a->d.store, s, o->type, list_row, &l))
		return EX_FAIL;
	if (!l.rows)
		printf("no profiles in the inventory%s\n", o->state || o->type ? " match" : "");
	return EX_OK;
}

static int cmd_order(struct admin *a, const struct cmd_opts *o)
{
	struct es2_download_order rq;
	char iccid[SMDP_ICCID_LEN + 1];
	enum rsp_status st;

	memset(&rq, 0, sizeof(rq));
	if (o->pos || (!o->iccid && !o->type))
		return usage_error("order needs --iccid ICCID or --type TYPE");
	if (o->iccid && !arg_iccid(o->iccid, rq.iccid))
		return usage_error("bad ICCID '%s'", o->iccid);
	if (!arg_eid(o->eid, rq.eid))
		return usage_error("bad EID '%s' (32 digits)", o->eid);
	if (o->type && (!o->type[0] || strlen(o->type) > SMDP_MAX_PROFILE_TYPE))
		return usage_error("bad --type");
	str_copy(rq.profile_type, sizeof(rq.profile_type), o->type ? o->type : "");
	st = orders_download(&a->d, NULL, &rq, iccid);
	if (st)
		return refused(st);
	printf("iccid %s\nstate %s\n", iccid, rq.eid[0] ? "Linked" : "Allocated");
	return EX_OK;
}

static int cmd_confirm(struct admin *a, const struct cmd_opts *o)
{
	struct es2_confirm_order rq;
	struct es2_confirm_result res;
	enum rsp_status st;

	memset(&rq, 0, sizeof(rq));
	if (!arg_iccid(o->pos, rq.iccid))
		return usage_error("confirm needs an ICCID");
	if (!arg_eid(o->eid, rq.eid))
		return usage_error("bad EID '%s' (32 digits)", o->eid);
	if (o->is_default && o->matching_id)
		return usage_error("--default and --matching-id exclude each other");
	if (o->matching_id && (!o->matching_id[0] || strlen(o->matching_id) > SMDP_MAX_MATCHING_ID ||
			       strpbrk(o->matching_id, "$ ")))
		return usage_error("bad --matching-id");
	if (o->cc && (!o->cc[0] || strlen(o->cc) > SMDP_MAX_CC))
		return usage_error("bad --cc (1 to %d characters)", SMDP_MAX_CC);
	if (o->smds && (!o->smds[0] || strlen(o->smds) > SMDP_MAX_ADDRESS))
		return usage_error("bad --smds");
	rq.has_matching_id = o->is_default || o->matching_id;
	str_copy(rq.matching_id, sizeof(rq.matching_id), o->matching_id ? o->matching_id : "");
	rq.has_cc = o->cc != NULL;
	str_copy(rq.cc, sizeof(rq.cc), o->cc ? o->cc : "");
	str_copy(rq.smds_address, sizeof(rq.smds_address), o->smds ? o->smds : "");
	rq.release = o->release;
	st = orders_confirm(&a->d, NULL, &rq, &res);
	crypto_cleanse(rq.cc, sizeof(rq.cc));
	if (st)
		return refused(st);
	printf("matchingId %s\n", res.matching_id[0] ? res.matching_id : "(empty: default SM-DP+)");
	if (res.eid[0])
		printf("eid %s\n", res.eid);
	printf("smdpAddress %s\n", res.smdp_address);
	if (res.activation_code[0])
		printf("activation-code %s\n", res.activation_code);
	printf("state %s\n", rq.release ? "Released" : "Confirmed");
	return EX_OK;
}

static int cmd_release(struct admin *a, const struct cmd_opts *o)
{
	char iccid[SMDP_ICCID_LEN + 1];
	enum rsp_status st;

	if (!arg_iccid(o->pos, iccid))
		return usage_error("release needs an ICCID");
	st = orders_release(&a->d, NULL, iccid);
	if (st)
		return refused(st);
	printf("state Released\n");
	return EX_OK;
}

static int cmd_cancel(struct admin *a, const struct cmd_opts *o)
{
	struct es2_cancel_order rq;
	enum rsp_status st;

	memset(&rq, 0, sizeof(rq));
	if (!arg_iccid(o->pos, rq.iccid))
		return usage_error("cancel needs an ICCID");
	if (!arg_eid(o->eid, rq.eid))
		return usage_error("bad EID '%s' (32 digits)", o->eid);
	rq.final_state = o->final ? orders_state_parse(o->final) : PS_AVAILABLE;
	if (rq.final_state != PS_AVAILABLE && rq.final_state != PS_UNAVAILABLE)
		return usage_error("--final takes Available or Unavailable");
	if (o->matching_id) {
		if (strlen(o->matching_id) > SMDP_MAX_MATCHING_ID)
			return usage_error("bad --matching-id");
		rq.has_matching_id = 1;
		str_copy(rq.matching_id, sizeof(rq.matching_id), o->matching_id);
	}
	st = orders_cancel(&a->d, NULL, &rq);
	if (st)
		return refused(st);
	printf("state %s\n", orders_state_name(rq.final_state));
	return EX_OK;
}

struct ac_ctx {
	const char *iccid;
	int found;
	struct inv_profile p;
	struct order o;
	int has_order;
};

static void ac_row(void *arg, const struct inv_profile *p, const struct order *o)
{
	struct ac_ctx *c = arg;

	if (strcmp(p->iccid, c->iccid))
		return;
	c->found = 1;
	c->p = *p;
	c->has_order = o != NULL;
	if (o)
		c->o = *o;
}

static int cmd_ac(struct admin *a, const struct cmd_opts *o)
{
	struct ac_ctx c;
	char iccid[SMDP_ICCID_LEN + 1], ac[SMDP_MAX_ADDRESS + SMDP_MAX_MATCHING_ID + 16];
	int rc = EX_REFUSED;

	memset(&c, 0, sizeof(c));
	if (!arg_iccid(o->pos, iccid))
		return usage_error("ac needs an ICCID");
	c.iccid = iccid;
	if (store_profile_each(a->d.store, PS_NONE, NULL, ac_row, &c))
		return EX_FAIL;
	if (!c.found) {
		rc = refused(RSP_ERR_ICCID_UNKNOWN);
		goto out;
	}
	if (!c.has_order || !c.o.active || !c.o.confirmed) {
		printf("error: ICCID %s (%s) has no confirmed pending order\n", iccid,
		       orders_state_name(c.p.state));
		goto out;
	}
	orders_activation_code(&a->cfg, &c.o, ac, sizeof(ac));
	if (!ac[0]) {
		printf("error: ICCID %s is ordered for EID %s in the default SM-DP+ case: no "
		       "activation code\n", iccid, c.o.eid);
		goto out;
	}
	printf("%s\n", ac);
	rc = EX_OK;
out:
	crypto_cleanse(c.o.cc_hash, sizeof(c.o.cc_hash));
	return rc;
}

static int cmd_notifications(struct admin *a, const struct cmd_opts *o)
{
	int all;

	if (o->pos)
		return usage_error("notifications takes no argument");
	all = store_notify_count(a->d.store, NULL);
	if (all < 0)
		return EX_FAIL;
	for (size_t i = 0; i < a->cfg.n_operators; i++) {
		const struct operator_cfg *op = &a->cfg.operators[i];
		int n = store_notify_count(a->d.store, op->id);
		struct op_notification h;

		printf("%s (%s): %d undelivered", op->name, op->id, n < 0 ? 0 : n);
		if (n > 0 && store_notify_head(a->d.store, op->id, &h) == 1) {
			printf(", oldest %lld point %d, %d tries%s%s", (long long)h.id, h.point, h.tries,
			       h.last_error[0] ? ", last error: " : "", h.last_error);
			op_notification_free(&h);
		}
		printf("\n");
	}
	printf("total: %d undelivered\n", all);
	return EX_OK;
}

static const struct {
	const char *name;
	int (*run)(struct admin *a, const struct cmd_opts *o);
} commands[] = {
	{ "import", cmd_import }, { "list", cmd_list }, { "order", cmd_order },
	{ "confirm", cmd_confirm }, { "release", cmd_release }, { "cancel", cmd_cancel },
	{ "ac", cmd_ac }, { "notifications", cmd_notifications },
};

int main(int argc, char **argv)
{
	struct admin *a = calloc(1, sizeof(*a));
	struct cmd_opts co;
	char err[512];
	int rc = EX_FAIL, i;
	size_t k;

	if (!a)
		return EX_FAIL;
	config_defaults(&a->cfg);
	/* the config file first, so that options override it (as smdp) */
	for (i = 1; i < argc - 1 && strncmp(argv[i], "--", 2) == 0; i += 2)
		if (!strcmp(argv[i], "--config") &&
		    config_load_file(&a->cfg, argv[i + 1], err, sizeof(err))) {
			fprintf(stderr, "smdp-admin: %s\n", err);
			rc = EX_USAGE;
			goto out;
		}
	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage_text, stdout);
			rc = EX_OK;
			goto out;
		}
		if (i + 1 >= argc) {
			rc = usage_error("%s needs a value", argv[i]);
			goto out;
		}
		if (strcmp(argv[i], "--config") &&
		    config_set(&a->cfg, argv[i] + 2, argv[i + 1], err, sizeof(err))) {
			rc = usage_error("%s", err);
			goto out;
		}
	}
	if (i < argc && (!strcmp(argv[i], "-h") || !strcmp(argv[i], "help"))) {
		fputs(usage_text, stdout);
		rc = EX_OK;
		goto out;
	}
	if (i >= argc) {
		rc = usage_error("a command is needed");
		goto out;
	}
	if (!strcmp(argv[i], "personalize")) {  /* own options: personalize.c */
		rc = cmd_personalize(a, argc - i, argv + i);
		goto out;
	}
	for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(argv[i], commands[k].name))
			break;
	if (k == sizeof(commands) / sizeof(commands[0])) {
		rc = usage_error("unknown command '%s'", argv[i]);
		goto out;
	}
	rc = parse_cmd(argc, argv, i + 1, &co);
	if (rc >= 0)
		goto out;
	rc = EX_FAIL;
	if (config_check(&a->cfg, err, sizeof(err))) {
		fprintf(stderr, "smdp-admin: %s\n", err);
		rc = EX_USAGE;
		goto out;
	}
	/* quiet unless something goes wrong: the output is the command's */
	log_set_level(a->cfg.log_level < LOG_WARN ? a->cfg.log_level : LOG_WARN);
	a->d.cfg = &a->cfg;
	a->d.store = store_open(a->cfg.db_path, err, sizeof(err));
	if (!a->d.store) {
		fprintf(stderr, "smdp-admin: database: %s\n", err);
		goto out;
	}
	rc = commands[k].run(a, &co);
out:
	if (a) {
		store_close(a->d.store);
		free(a);
	}
	return rc;
}
