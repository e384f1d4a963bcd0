/* faults.c - lab fault rules (issue 7): the rule text of lab.h, matching a
 * call against a rule, and the error answer a rule makes the SM-DP+ give in
 * either ES9+ binding. Misbehaving on purpose; nothing here is SGP.22. */
#include "lab.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ADMIN_PROTOCOL "gsma/rsp/v2.5.0"
#define ASN1_UNDEFINED 127      /* undefinedError of the ES9+ ASN.1 error enums */
#define FAULT_MAX_WORD 256      /* one key=value word of a rule */

static const char *const action_names[FA_COUNT] = {
	[FA_ERROR] = "error",
	[FA_DELAY] = "delay",
	[FA_DROP] = "drop",
	[FA_DROP_AFTER] = "drop-after",
	[FA_EXPIRE] = "expire",
	[FA_BAD_MAC] = "bad-mac",
	[FA_BAD_SMDPSIGN] = "bad-smdpsign",
	[FA_METADATA] = "metadata-mismatch",
	[FA_OVERSIZED] = "oversized-segment",
};

static const char *const fn_names[ES9_FN_COUNT] = {
	[ES9_INITIATE_AUTH] = "initiateAuthentication",
	[ES9_AUTH_CLIENT] = "authenticateClient",
	[ES9_GET_BPP] = "getBoundProfilePackage",
	[ES9_HANDLE_NOTIF] = "handleNotification",
	[ES9_CANCEL_SESSION] = "cancelSession",
};

const char *fault_action_name(enum fault_action a)
{
	return (a >= 0 && a < FA_COUNT) ? action_names[a] : "?";
}

const char *fault_fn_name(int fn)
{
	return (fn >= 0 && fn < ES9_FN_COUNT) ? fn_names[fn] : "any";
}

enum bpp_fault_kind fault_bpp_kind(enum fault_action a)
{
	switch (a) {
	case FA_BAD_MAC: return BPP_FAULT_BAD_MAC;
	case FA_BAD_SMDPSIGN: return BPP_FAULT_BAD_SMDP_SIGN;
	case FA_METADATA: return BPP_FAULT_METADATA;
	case FA_OVERSIZED: return BPP_FAULT_OVERSIZED;
	default: return BPP_FAULT_NONE;
	}
}

static void set_err(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errsz)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* A decimal number in [min, max]. 0 / -1. */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!*s || !(isdigit((unsigned char)*s) || *s == '-'))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* subjectCode / reasonCode text: digits and dots, like "8.2.6" (SGP.22 5.2.6). */
static int code_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && *s != '.')
			return 0;
	return 1;
}

static int digits_ok(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* The rsp_status row named name (without RSP_ERR_), or -1. */
static int status_by_name(const char *name)
{
	for (int i = 1; i < RSP_STATUS_COUNT; i++)
		if (!strcasecmp(rsp_status_info((enum rsp_status)i)->name, name))
			return i;
	return -1;
}

/* Next word of s into w (a value may be "quoted"); advances *s. 1 word, 0
 * end, -1 too long or unterminated quote. */
static int next_word(const char **s, char *w, size_t wsz)
{
	const char *p = *s;
	size_t n = 0;
	int quoted = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p) {
		*s = p;
		return 0;
	}
	while (*p && (quoted || (*p != ' ' && *p != '\t'))) {
		if (*p == '"') {
			quoted = !quoted;
			p++;
			continue;
		}
		if (n + 1 >= wsz)
			return -1;
		w[n++] = *p++;
	}
	if (quoted)
		return -1;
	w[n] = '\0';
	*s = p;
	return 1;
}

int fault_parse(const char *spec, struct fault_rule *r, char *err, size_t errsz)
{
	char w[FAULT_MAX_WORD];
	const char *p = spec;
	int have_action = 0, rc = -1, k;

	r->enabled = 1;
	r->fn = -1;
	r->eid[0] = r->matching_id[0] = '\0';
	r->has_matching_id = 0;
	r->attempt = 0;
	r->action = FA_ERROR;
	r->status[0] = r->subject[0] = r->reason[0] = r->message[0] = '\0';
	r->asn1 = -1;
	r->ms = 0;
	r->segment = 1;
	if (!spec || strlen(spec) >= LAB_MAX_SPEC) {
		set_err(err, errsz, "rule text missing or longer than %d characters", LAB_MAX_SPEC - 1);
		goto out;
	}
	while ((k = next_word(&p, w, sizeof(w))) == 1) {
		char *eq = strchr(w, '=');
		const char *key = w, *val;

		if (!eq) {
			set_err(err, errsz, "'%s' is not key=value", w);
			goto out;
		}
		*eq = '\0';
		val = eq + 1;
		if (!strcmp(key, "function")) {
			r->fn = -1;
			for (int i = 0; i < ES9_FN_COUNT; i++)
				if (!strcasecmp(val, fn_names[i]))
					r->fn = i;
			if (r->fn < 0 && strcmp(val, "any")) {
				set_err(err, errsz, "unknown ES9+ function '%s'", val);
				goto out;
			}
		} else if (!strcmp(key, "eid")) {
			if (!digits_ok(val, SMDP_EID_LEN, SMDP_EID_LEN)) {
				set_err(err, errsz, "eid must be %d digits", SMDP_EID_LEN);
				goto out;
			}
			str_copy(r->eid, sizeof(r->eid), val);
		} else if (!strcmp(key, "matchingId")) {
			if (strlen(val) > SMDP_MAX_MATCHING_ID) {
				set_err(err, errsz, "matchingId longer than %d", SMDP_MAX_MATCHING_ID);
				goto out;
			}
			if (strchr(val, '"')) {
				set_err(err, errsz, "matchingId with a quote cannot be written back");
				goto out;
			}
			str_copy(r->matching_id, sizeof(r->matching_id), val);
			r->has_matching_id = 1;
		} else if (!strcmp(key, "attempt")) {
			if (parse_long(val, 0, 1000000, &r->attempt)) {
				set_err(err, errsz, "attempt must be a number 0..1000000");
				goto out;
			}
		} else if (!strcmp(key, "action")) {
			int a = -1;
			for (int i = 0; i < FA_COUNT; i++)
				if (!strcmp(val, action_names[i]))
					a = i;
			if (a < 0) {
				set_err(err, errsz, "unknown action '%s'", val);
				goto out;
			}
			r->action = (enum fault_action)a;
			have_action = 1;
		} else if (!strcmp(key, "status")) {
			if (status_by_name(val) < 0) {
				set_err(err, errsz, "status '%s' is not a row of the status table", val);
				goto out;
			}
			str_copy(r->status, sizeof(r->status), rsp_status_info((enum rsp_status)status_by_name(val))->name);
		} else if (!strcmp(key, "subject") || !strcmp(key, "reason")) {
			char *dst = key[0] == 's' ? r->subject : r->reason;
			if (!code_ok(val, sizeof(r->subject) - 1)) {
				set_err(err, errsz, "%s must be digits and dots, like 8.1.1", key);
				goto out;
			}
			str_copy(dst, sizeof(r->subject), val);
		} else if (!strcmp(key, "message")) {
			if (strlen(val) >= sizeof(r->message)) {
				set_err(err, errsz, "message longer than %zu", sizeof(r->message) - 1);
				goto out;
			}
			for (const char *q = val; *q; q++)
				if ((unsigned char)*q < 0x20 || *q == '"' || *q == '\\') {
					set_err(err, errsz, "message: no quotes, backslashes or "
						"control characters");
					goto out;
				}
			str_copy(r->message, sizeof(r->message), val);
		} else if (!strcmp(key, "asn1")) {
			if (parse_long(val, 0, 127, &r->asn1)) {
				set_err(err, errsz, "asn1 must be an error INTEGER 0..127");
				goto out;
			}
		} else if (!strcmp(key, "ms")) {
			if (parse_long(val, 0, LAB_MAX_DELAY_MS, &r->ms)) {
				set_err(err, errsz, "ms must be 0..%d", LAB_MAX_DELAY_MS);
				goto out;
			}
		} else if (!strcmp(key, "segment")) {
			if (parse_long(val, 0, 100000, &r->segment)) {
				set_err(err, errsz, "segment must be 0 (last) or 1..100000");
				goto out;
			}
		} else if (!strcmp(key, "enabled")) {
			if (strcmp(val, "yes") && strcmp(val, "no")) {
				set_err(err, errsz, "enabled must be yes or no");
				goto out;
			}
			r->enabled = !strcmp(val, "yes");
		} else {
			set_err(err, errsz, "unknown key '%s'", key);
			goto out;
		}
	}
	if (k < 0) {
		set_err(err, errsz, "a word is too long or a quote is not closed");
		goto out;
	}
	if (!have_action) {
		set_err(err, errsz, "action= is missing");
		goto out;
	}
	if (r->action == FA_ERROR && !r->status[0] && (!r->subject[0] || !r->reason[0])) {
		set_err(err, errsz, "action=error needs status=NAME or subject= and reason=");
		goto out;
	}
	if (r->action == FA_DELAY && r->ms == 0) {
		set_err(err, errsz, "action=delay needs ms=N");
		goto out;
	}
	if (fault_bpp_kind(r->action) != BPP_FAULT_NONE && r->fn != ES9_GET_BPP) {
		if (r->fn >= 0) {
			set_err(err, errsz, "%s acts on getBoundProfilePackage only",
				action_names[r->action]);
			goto out;
		}
		r->fn = ES9_GET_BPP;   /* the only function that has a BPP */
	}
	rc = 0;
out:
	return rc;
}

void fault_format(const struct fault_rule *r, char *out, size_t outsz)
{
	size_t n = 0;

#define PUT(...) do { \
		int k_ = snprintf(out + n, n < outsz ? outsz - n : 0, __VA_ARGS__); \
		if (k_ > 0) n += (size_t)k_; \
	} while (0)
	if (!outsz)
		return;
	out[0] = '\0';
	if (r->fn >= 0)
		PUT("function=%s ", fn_names[r->fn]);
	if (r->eid[0])
		PUT("eid=%s ", r->eid);
	if (r->has_matching_id)
		PUT("matchingId=\"%s\" ", r->matching_id);
	if (r->attempt)
		PUT("attempt=%ld ", r->attempt);
	PUT("action=%s", action_names[r->action]);
	switch (r->action) {
	case FA_ERROR:
		if (r->status[0])
			PUT(" status=%s", r->status);
		if (r->subject[0])
			PUT(" subject=%s reason=%s", r->subject, r->reason);
		if (r->message[0])
			PUT(" message=\"%s\"", r->message);
		if (r->asn1 >= 0)
			PUT(" asn1=%ld", r->asn1);
		break;
	case FA_DELAY:
		PUT(" ms=%ld", r->ms);
		break;
	case FA_BAD_MAC:
		PUT(" segment=%ld", r->segment);
		break;
	default:
		break;
	}
	if (!r->enabled)
		PUT(" enabled=no");
#undef PUT
	if (n >= outsz)
		out[outsz - 1] = '\0';
}

int fault_matches(const struct fault_rule *r, int fn, const char *eid, const char *matching_id,
		  int has_matching_id)
{
	if (!r->enabled)
		return 0;
	if (r->fn >= 0 && r->fn != fn)
		return 0;
	if (r->eid[0] && (!eid || strcmp(r->eid, eid)))
		return 0;
	if (r->has_matching_id &&
	    (!has_matching_id || !matching_id || strcmp(r->matching_id, matching_id)))
		return 0;
	return 1;
}

/* The codes a rule answers with: its own subject/reason, else its status
 * row's; the message likewise, marked as injected so a test report cannot
 * mistake it for a real check. */
static void rule_codes(const struct fault_rule *r, const char **subject, const char **reason,
		       char *msg, size_t msgsz)
{
	const struct rsp_status_info *i = NULL;
	int st = r->status[0] ? status_by_name(r->status) : -1;

	if (st > 0)
		i = rsp_status_info((enum rsp_status)st);
	*subject = r->subject[0] ? r->subject : i ? i->subject : "";
	*reason = r->reason[0] ? r->reason : i ? i->reason : "";
	snprintf(msg, msgsz, "%s (lab fault '%s')",
		 r->message[0] ? r->message : i ? i->message : "injected error", r->name);
}

/* ASN.1 error INTEGER: the rule's, else the status row's for fn, else the
 * row with the same subject/reason that fn knows, else undefinedError. */
static long rule_asn1(const struct fault_rule *r, int fn, const char *subject, const char *reason)
{
	int st;

	if (r->asn1 >= 0)
		return r->asn1;
	st = r->status[0] ? status_by_name(r->status) : -1;
	if (st > 0 && rsp_status_info((enum rsp_status)st)->asn1[fn] >= 0)
		return rsp_status_info((enum rsp_status)st)->asn1[fn];
	for (int i = 1; i < RSP_STATUS_COUNT; i++) {
		const struct rsp_status_info *in = rsp_status_info((enum rsp_status)i);
		if (!strcmp(in->subject, subject) && !strcmp(in->reason, reason) && in->asn1[fn] >= 0)
			return in->asn1[fn];
	}
	return ASN1_UNDEFINED;
}

int fault_answer(const struct fault_rule *r, int fn, enum lab_binding b, struct http_response *rs)
{
	const char *subject, *reason;
	char msg[LAB_MAX_MESSAGE + LAB_MAX_NAME + 32];
	cJSON *root = NULL, *fes, *scd, *hdr;
	char *text = NULL;
	int rc = -1;

	if (fn < 0 || fn >= ES9_FN_COUNT)
		return -1;
	rule_codes(r, &subject, &reason, msg, sizeof(msg));
	buf_free(&rs->body);
	snprintf(rs->admin_protocol, sizeof(rs->admin_protocol), ADMIN_PROTOCOL);
	if (b == LAB_ASN1) {
		struct es9_asn1_resp out;

		if (fn == ES9_HANDLE_NOTIF) {
			/* no RemoteProfileProvisioningResponse alternative: HTTP error */
			rs->status = 500;
			snprintf(rs->content_type, sizeof(rs->content_type), "text/plain");
			rc = buf_set(&rs->body, msg, strlen(msg));
			goto out;
		}
		memset(&out, 0, sizeof(out));
		out.fn = (enum es9_fn)fn;
		out.error = rule_asn1(r, fn, subject, reason);
		if (der_encode_es9_response(&out, &rs->body) < 0)
			goto out;
		rs->status = 200;
		snprintf(rs->content_type, sizeof(rs->content_type), ES9P_ASN1_CONTENT_TYPE);
		rc = 0;
		goto out;
	}
	/* JSON binding: the header alone, status Failed (SGP.22 6.5.1.4) */
	if (!(root = cJSON_CreateObject()) || !(hdr = cJSON_AddObjectToObject(root, "header")) ||
	    !(fes = cJSON_AddObjectToObject(hdr, "functionExecutionStatus")) ||
	    !cJSON_AddStringToObject(fes, "status", "Failed") ||
	    !(scd = cJSON_AddObjectToObject(fes, "statusCodeData")) ||
	    !cJSON_AddStringToObject(scd, "subjectCode", subject) ||
	    !cJSON_AddStringToObject(scd, "reasonCode", reason) ||
	    !cJSON_AddStringToObject(scd, "message", msg) ||
	    !(text = cJSON_PrintUnformatted(root)))
		goto out;
	if (buf_set(&rs->body, text, strlen(text)))
		goto out;
	rs->status = 200;
	snprintf(rs->content_type, sizeof(rs->content_type), "application/json;charset=UTF-8");
	rc = 0;
out:
	free(text);
	cJSON_Delete(root);
	return rc;
}

cJSON *fault_to_json(const struct fault_rule *r)
{
	cJSON *o = cJSON_CreateObject();
	char spec[LAB_MAX_SPEC];

	if (!o)
		return NULL;
	fault_format(r, spec, sizeof(spec));
	cJSON_AddNumberToObject(o, "id", (double)r->id);
	cJSON_AddStringToObject(o, "name", r->name);
	cJSON_AddStringToObject(o, "spec", spec);
	cJSON_AddBoolToObject(o, "enabled", r->enabled);
	cJSON_AddStringToObject(o, "function", fault_fn_name(r->fn));
	cJSON_AddStringToObject(o, "eid", r->eid);
	if (r->has_matching_id)
		cJSON_AddStringToObject(o, "matchingId", r->matching_id);
	cJSON_AddNumberToObject(o, "attempt", (double)r->attempt);
	cJSON_AddStringToObject(o, "action", fault_action_name(r->action));
	cJSON_AddNumberToObject(o, "seen", (double)r->seen);
	cJSON_AddNumberToObject(o, "fired", (double)r->fired);
	cJSON_AddStringToObject(o, "origin", r->origin);
	cJSON_AddNumberToObject(o, "created", (double)r->created);
	return o;
}
