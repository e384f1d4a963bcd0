/* lab_cli.c - smdp-lab: the lab's command line (issue 7). Works on the
 * database file directly (the same tables the server and its admin API
 * use), so it needs no token and also works while the server is down; a
 * running server picks up rule changes on its next ES9+ call. */
#include "lab.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CLI_DEFAULT_DB "var/smdp.db"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: smdp-lab [--db FILE] COMMAND ...\n"
		"The lab features of smdp on its database (default " CLI_DEFAULT_DB "):\n\n"
		"  faults                      list the fault rules with their counters\n"
		"  fault-add NAME RULE...      add or replace rule NAME; RULE is key=value words,\n"
		"                              e.g. function=getBoundProfilePackage attempt=1\n"
		"                              action=error status=CC_WRONG\n"
		"  fault-del ID|all            delete a rule (or every rule)\n"
		"  fault-enable ID, fault-disable ID\n"
		"  sessions                    transactions with their outcome, newest first\n"
		"  trace TXID [--json]         print the trace of a transaction\n\n"
		"Rule keys: function eid matchingId attempt action, and per action:\n"
		"  error (status=NAME | subject=S reason=R [message=\"...\"] [asn1=N]),\n"
		"  delay ms=N, drop, drop-after, expire, bad-mac [segment=K], bad-smdpsign,\n"
		"  metadata-mismatch, oversized-segment.\n");
}

static void print_faults(struct store *st)
{
	struct fault_rule *v = calloc(LAB_MAX_FAULTS, sizeof(*v));
	char spec[LAB_MAX_SPEC];
	int n = v ? store_fault_list(st, v, LAB_MAX_FAULTS) : -1;

	if (n < 0) {
		fprintf(stderr, "smdp-lab: cannot read the fault rules\n");
		free(v);
		return;
	}
	printf("%-4s %-20s %-7s %5s %5s  %s\n", "id", "name", "enabled", "seen", "fired", "rule");
	for (int i = 0; i < n; i++) {
		fault_format(&v[i], spec, sizeof(spec));
		printf("%-4lld %-20s %-7s %5lld %5lld  %s\n", (long long)v[i].id, v[i].name,
		       v[i].enabled ? "yes" : "no", (long long)v[i].seen, (long long)v[i].fired, spec);
	}
	free(v);
}

static void session_line(void *arg, const struct lab_tx_summary *s)
{
	cJSON *o = lab_summary_json(s);
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "started");

	(void)arg;
	printf("%-34s %-27s %-14s %-24s %-22s %s\n", s->txid, cJSON_IsString(t) ? t->valuestring : "",
	       cJSON_IsString(st) ? st->valuestring : "", s->last_function, s->outcome, s->eid);
	cJSON_Delete(o);
}

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(it) ? it->valuestring : "";
}

/* Pretty JSON of o, each line indented. */
static void print_indented(const cJSON *o)
{
	char *t = o ? cJSON_Print(o) : NULL, *line, *save = NULL;

	for (line = t ? strtok_r(t, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
		printf("        %s\n", line);
	free(t);
}

static void print_trace(const cJSON *doc)
{
	const cJSON *tx = cJSON_GetObjectItemCaseSensitive(doc, "transaction"), *e;

	printf("transaction %s\n  EID %s, matchingId '%s', profile %s\n  outcome %s, state %s, "
	       "%d calls, %d faults\n", str(tx, "transactionId"), str(tx, "eid"),
	       str(tx, "matchingId"), str(tx, "profile"), str(tx, "outcome"), str(tx, "state"),
	       cJSON_GetObjectItemCaseSensitive(tx, "calls") ?
	       cJSON_GetObjectItemCaseSensitive(tx, "calls")->valueint : 0,
	       cJSON_GetObjectItemCaseSensitive(tx, "faults") ?
	       cJSON_GetObjectItemCaseSensitive(tx, "faults")->valueint : 0);
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "events")) {
		const char *kind = str(e, "kind");
		const cJSON *ms = cJSON_GetObjectItemCaseSensitive(e, "ms"), *c;

		printf("%s +%9.1f ms  %-8s %-24s", str(e, "time"), cJSON_IsNumber(ms) ? ms->valuedouble :
		       0.0, kind, str(e, "function"));
		if (!strcmp(kind, "request")) {
			printf(" %s %s\n", str(e, "binding"), str(e, "path"));
			print_indented(cJSON_GetObjectItemCaseSensitive(e, "body"));
		} else if (!strcmp(kind, "response")) {
			const cJSON *h = cJSON_GetObjectItemCaseSensitive(e, "http");
			printf(" HTTP %d%s%s\n", cJSON_IsNumber(h) ? h->valueint : 0,
			       *str(e, "delivered") ? ", " : "", str(e, "delivered"));
			print_indented(cJSON_GetObjectItemCaseSensitive(e, "body"));
		} else if (!strcmp(kind, "fault")) {
			printf(" rule %s (%s): %s\n", str(e, "name"), str(e, "action"), str(e, "what"));
		} else if (!strcmp(kind, "state")) {
			printf(" %s -> %s%s%s\n", str(e, "from"), str(e, "to"),
			       *str(e, "closeReason") ? " " : "", str(e, "closeReason"));
		} else if (!strcmp(kind, "check")) {
			printf(" %s\n", str(e, "note"));
			cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(e, "checks"))
				printf("        %-11s %s%s%s\n", str(c, "outcome"), str(c, "check"),
				       *str(c, "detail") ? ": " : "", str(c, "detail"));
		} else {
			printf("\n");
		}
	}
}

int main(int argc, char **argv)
{
	const char *db = CLI_DEFAULT_DB;
	struct store *st = NULL;
	char err[512];
	int i = 1, rc = 1;

	if (i + 1 < argc && !strcmp(argv[i], "--db")) {
		db = argv[i + 1];
		i += 2;
	}
	if (i >= argc || !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
		usage(i >= argc ? stderr : stdout);
		return i >= argc ? 64 : 0;
	}
	/* the server's database: the lab's tables are part of its schema */
	if (!(st = store_open(db, err, sizeof(err)))) {
		fprintf(stderr, "smdp-lab: %s\n", err);
		goto out;
	}
	if (!strcmp(argv[i], "faults") && i + 1 == argc) {
		print_faults(st);
		rc = 0;
	} else if (!strcmp(argv[i], "fault-add") && i + 2 < argc) {
		struct fault_rule r;
		char spec[LAB_MAX_SPEC] = "";
		size_t n = 0;

		memset(&r, 0, sizeof(r));
		for (int k = i + 2; k < argc; k++) {
			int w = snprintf(spec + n, sizeof(spec) - n, "%s%s", n ? " " : "", argv[k]);
			if (w < 0 || (size_t)w >= sizeof(spec) - n) {
				fprintf(stderr, "smdp-lab: rule too long\n");
				goto out;
			}
			n += (size_t)w;
		}
		if (!lab_name_ok(argv[i + 1])) {
			fprintf(stderr, "smdp-lab: a rule name is 1..%d of [A-Za-z0-9._-]\n",
				LAB_MAX_NAME);
			goto out;
		}
		if (fault_parse(spec, &r, err, sizeof(err))) {
			fprintf(stderr, "smdp-lab: %s\n", err);
			goto out;
		}
		str_copy(r.name, sizeof(r.name), argv[i + 1]);
		snprintf(r.origin, sizeof(r.origin), "cli");
		r.created = (int64_t)time(NULL);
		if (store_fault_put(st, &r))
			goto out;
		printf("rule %lld %s: %s\n", (long long)r.id, r.name, spec);
		rc = 0;
	} else if ((!strcmp(argv[i], "fault-del") || !strcmp(argv[i], "fault-enable") ||
		    !strcmp(argv[i], "fault-disable")) && i + 2 == argc) {
		char *end;
		long long id = strcmp(argv[i + 1], "all") ? strtoll(argv[i + 1], &end, 10) : 0;
		int r;

		if (id < 0 || (id == 0 && strcmp(argv[i + 1], "all")) ||
		    (id > 0 && *end) || (id == 0 && strcmp(argv[i], "fault-del"))) {
			fprintf(stderr, "smdp-lab: expected a rule id\n");
			rc = 64;
			goto out;
		}
		r = !strcmp(argv[i], "fault-del") ? store_fault_delete(st, id) :
			store_fault_enable(st, id, !strcmp(argv[i], "fault-enable"));
		if (r < 0)
			goto out;
		if (r == 0 && id) {
			fprintf(stderr, "smdp-lab: no rule %lld\n", id);
			goto out;
		}
		rc = 0;
	} else if (!strcmp(argv[i], "sessions") && i + 1 == argc) {
		printf("%-34s %-27s %-14s %-24s %-22s %s\n", "transaction", "started", "state",
		       "last function", "outcome", "EID");
		rc = store_trace_list(st, LAB_MAX_LIST, session_line, NULL) ? 1 : 0;
	} else if (!strcmp(argv[i], "trace") && i + 1 < argc &&
		   (i + 2 == argc || (i + 3 == argc && !strcmp(argv[i + 2], "--json")))) {
		cJSON *doc = strlen(argv[i + 1]) < LAB_TXID_TEXT ? lab_trace_json(st, argv[i + 1]) :
			     NULL;
		if (!doc) {
			fprintf(stderr, "smdp-lab: no trace of transaction %s\n", argv[i + 1]);
			goto out;
		}
		if (i + 3 == argc) {
			char *t = cJSON_Print(doc);
			if (t)
				printf("%s\n", t);
			free(t);
		} else {
			print_trace(doc);
		}
		cJSON_Delete(doc);
		rc = 0;
	} else {
		usage(stderr);
		rc = 64;
	}
out:
	store_close(st);
	return rc;
}
