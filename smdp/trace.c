/* trace.c - what a session trace shows (issue 7): every ES9+ object of a
 * request or response decoded with der.c into readable JSON, certificates
 * summarised with crypto.c, and the checks of SGP.22 5.6.x with their
 * outcome. Secrets never enter a trace: hashCc (derived from the
 * confirmation code) is only reported as present, and the BPP, which is
 * ciphertext around keys and the profile, is summarised, never copied. */
#include "lab.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_MAX_TEXT 256      /* a JSON member copied as text (unknown fields) */

int lab_json_depth_ok(const uint8_t *p, size_t n, int max)
{
	/* cJSON parses recursively and worker stacks are small: nesting is
	 * measured before any parse */
	return json_depth(p, n) <= max;
}

/* --- small helpers --- */

/* Integers (sizes, counts, codes) as raw JSON text: what cJSON would
 * print for them, without its printing of a double (two sprintf and an
 * sscanf each; the segment sizes of a BPP summary were 25 of them per
 * download). Trace objects are only ever printed, never read back as
 * numbers before that. */
static cJSON *int_item(long long v)
{
	char t[24], *p = t + sizeof(t) - 1;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	*p = '\0';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return cJSON_CreateRaw(p);
}

static void add_int(cJSON *o, const char *name, long long v)
{
	cJSON_AddItemToObject(o, name, int_item(v));
}

static void add_hex(cJSON *o, const char *name, const uint8_t *p, size_t n)
{
	char *h = malloc(2 * n + 1);

	if (!h)
		return;
	hex_encode(p, n, h, 2 * n + 1);
	cJSON_AddStringToObject(o, name, h);
	free(h);
}

static void add_time(cJSON *o, const char *name, time_t t)
{
	char s[32];
	struct tm tm;

	if (t == (time_t)-1 || !gmtime_r(&t, &tm)) {
		cJSON_AddStringToObject(o, name, "?");
		return;
	}
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(o, name, s);
}

static void add_version(cJSON *o, const char *name, const uint8_t v[3])
{
	char s[16];

	snprintf(s, sizeof(s), "%u.%u.%u", v[0], v[1], v[2]);
	cJSON_AddStringToObject(o, name, s);
}

static cJSON *undecodable(enum rsp_status st, size_t n)
{
	cJSON *o = cJSON_CreateObject();

	if (o) {
		cJSON_AddStringToObject(o, "undecodable", rsp_status_info(st)->name);
		add_int(o, "bytes", (long long)n);
	}
	return o;
}

/* A value that travels as 5F37 40 r||s or 04 len SKI: the value without its
 * TLV header when it has one. */
static void add_tlv_value(cJSON *o, const char *name, const uint8_t *p, size_t n)
{
	uint32_t tag;
	size_t hl, vl;

	if (!der_tlv(p, n, &tag, &hl, &vl) && hl + vl == n)
		add_hex(o, name, p + hl, vl);
	else
		add_hex(o, name, p, n);
}

static const char *enum_name(const char *const *names, size_t count, long v)
{
	return (v >= 0 && (size_t)v < count && names[v]) ? names[v] : NULL;
}

static void add_enum(cJSON *o, const char *name, const char *const *names, size_t count, long v)
{
	const char *s = enum_name(names, count, v);
	char t[64];

	if (s)
		snprintf(t, sizeof(t), "%s(%ld)", s, v);
	else
		snprintf(t, sizeof(t), "%ld", v);
	cJSON_AddStringToObject(o, name, t);
}

/* RSPDefinitions enums (SGP.22 5.7.x) */
static const char *const auth_errors[128] = {
	[1] = "invalidCertificate", [2] = "invalidSignature", [3] = "unsupportedCurve",
	[4] = "noSessionContext", [5] = "invalidOid", [6] = "euiccChallengeMismatch",
	[7] = "ciPKUnknown", [127] = "undefinedError",
};
static const char *const download_errors[128] = {
	[1] = "invalidCertificate", [2] = "invalidSignature", [3] = "unsupportedCurve",
	[4] = "noSessionContext", [5] = "invalidTransactionId", [127] = "undefinedError",
};
static const char *const cancel_reasons[128] = {
	[0] = "endUserRejection", [1] = "postponed", [2] = "timeout", [3] = "pprNotAllowed",
	[4] = "metadataMismatch", [5] = "loadBppExecutionError", [127] = "undefinedReason",
};
static const char *const bpp_commands[] = {
	"initialiseSecureChannel", "configureISDP", "storeMetadata", "storeMetadata2",
	"replaceSessionKeys", "loadProfileElements",
};
static const char *const error_reasons[128] = {
	[1] = "incorrectInputValues", [2] = "invalidSignature", [3] = "invalidTransactionId",
	[4] = "unsupportedCrtValues", [5] = "unsupportedRemoteOperationType",
	[6] = "unsupportedProfileClass", [7] = "scp03tStructureError",
	[8] = "scp03tSecurityError", [9] = "installFailedDueToIccidAlreadyExistsOnEuicc",
	[10] = "installFailedDueToInsufficientMemoryForProfile",
	[11] = "installFailedDueToInterruption", [12] = "installFailedDueToPEProcessingError",
	[13] = "installFailedDueToIccidMismatch", [14] = "testProfileInstallFailedDueToInvalidNaaKey",
	[15] = "pprNotAllowed", [127] = "installFailedDueToUnknownError",
};
static const char *const notif_events[] = {
	"notificationInstall", "notificationEnable", "notificationDisable", "notificationDelete",
};
static const char *const profile_classes[] = { "test", "provisioning", "operational" };

/* --- certificates --- */

/* GSMA role policies (SGP.22 4.5.2.1, id-rspRole and the v3 variants). */
static const struct { const char *oid, *name; } role_oids[] = {
	{ "2.23.146.1.2.1.0", "id-rspRole-ci" },
	{ "2.23.146.1.2.1.1", "id-rspRole-euicc" },
	{ "2.23.146.1.2.1.2", "id-rspRole-eum" },
	{ "2.23.146.1.2.1.3", "id-rspRole-dp-tls" },
	{ "2.23.146.1.2.1.4", "id-rspRole-dp-auth" },
	{ "2.23.146.1.2.1.5", "id-rspRole-dp-pb" },
	{ "2.23.146.1.2.1.6", "id-rspRole-ds-tls" },
	{ "2.23.146.1.2.1.7", "id-rspRole-ds-auth" },
	{ "2.23.146.1.2.1.0.0.0", "id-rspRole-eum-v3" },
	{ "2.23.146.1.2.1.0.0.1.0", "id-rspRole-dp-tls-v3" },
	{ "2.23.146.1.2.1.0.0.1.1", "id-rspRole-dp-auth-v3" },
	{ "2.23.146.1.2.1.0.0.1.2", "id-rspRole-dp-pb-v3" },
	{ "2.23.146.1.2.1.0.0.0.0.0", "id-rspRole-euicc-v3" },
};

cJSON *trace_cert(const uint8_t *der, size_t n)
{
	crypto_cert *c = crypto_cert_from_der(der, n);
	cJSON *o, *pol, *ku;
	char text[1024], *iss, *end;
	uint8_t id[64];
	long bits;
	int k;

	if (!c)
		return undecodable(RSP_ERR_INVALID_REQUEST, n);
	if (!(o = cJSON_CreateObject()))
		goto out;
	crypto_cert_subject(c, text, sizeof(text));
	cJSON_AddStringToObject(o, "subject", text);
	/* crypto.c has no issuer accessor: take it out of the one-line summary
	 * "subject=... / issuer=... / notAfter=..." */
	crypto_cert_describe(c, text, sizeof(text));
	iss = strstr(text, " / issuer=");
	end = iss ? strstr(iss + 10, " / notAfter=") : NULL;
	if (iss && end) {
		*end = '\0';
		cJSON_AddStringToObject(o, "issuer", iss + 10);
	}
	add_time(o, "notBefore", crypto_cert_not_before(c));
	add_time(o, "notAfter", crypto_cert_not_after(c));
	pol = cJSON_AddArrayToObject(o, "policies");
	for (size_t i = 0; pol && i < sizeof(role_oids) / sizeof(role_oids[0]); i++)
		if (crypto_cert_has_policy(c, role_oids[i].oid) == 1) {
			snprintf(text, sizeof(text), "%s (%s)", role_oids[i].oid, role_oids[i].name);
			cJSON_AddItemToArray(pol, cJSON_CreateString(text));
		}
	cJSON_AddStringToObject(o, "curve", crypto_curve_name(crypto_cert_curve(c)));
	if ((k = crypto_cert_ski(c, id, sizeof(id))) > 0)
		add_hex(o, "subjectKeyIdentifier", id, (size_t)k);
	if ((k = crypto_cert_aki(c, id, sizeof(id))) > 0)
		add_hex(o, "authorityKeyIdentifier", id, (size_t)k);
	bits = crypto_cert_key_usage(c);
	if (bits >= 0 && (ku = cJSON_AddArrayToObject(o, "keyUsage"))) {
		if (bits & CRYPTO_KU_DIGITAL_SIGNATURE)
			cJSON_AddItemToArray(ku, cJSON_CreateString("digitalSignature"));
		if (bits & CRYPTO_KU_KEY_CERT_SIGN)
			cJSON_AddItemToArray(ku, cJSON_CreateString("keyCertSign"));
		if (bits & CRYPTO_KU_CRL_SIGN)
			cJSON_AddItemToArray(ku, cJSON_CreateString("cRLSign"));
	}
	cJSON_AddBoolToObject(o, "ca", crypto_cert_is_ca(c) == 1);
	if (!crypto_cert_subject_serial(c, text, sizeof(text)))
		cJSON_AddStringToObject(o, "serialNumberAttribute", text);
	if (!crypto_cert_san_rid(c, text, sizeof(text)))
		cJSON_AddStringToObject(o, "registeredId", text);
	crypto_cert_san_dns_list(c, text, sizeof(text));
	if (text[0])
		cJSON_AddStringToObject(o, "dnsNames", text);
	add_int(o, "bytes", (long long)n);
out:
	crypto_cert_free(c);
	return o;
}

/* --- the ES9+ objects --- */

static void add_ci_list(cJSON *o, const char *name, const struct ci_id *v, size_t n)
{
	cJSON *a = cJSON_AddArrayToObject(o, name);
	char h[65];

	for (size_t i = 0; a && i < n; i++) {
		hex_encode(v[i].id, v[i].len, h, sizeof(h));
		cJSON_AddItemToArray(a, cJSON_CreateString(h));
	}
}

static cJSON *obj_euicc_info1(const uint8_t *der, size_t n)
{
	struct euicc_info1 in;
	enum rsp_status st;
	cJSON *o;

	memset(&in, 0, sizeof(in));
	if ((st = der_decode_euicc_info1(der, n, &in)))
		return undecodable(st, n);
	if ((o = cJSON_CreateObject())) {
		add_version(o, "svn", in.svn);
		add_ci_list(o, "euiccCiPKIdListForVerification", in.verif, in.n_verif);
		add_ci_list(o, "euiccCiPKIdListForSigning", in.sign, in.n_sign);
	}
	return o;
}

static cJSON *obj_euicc_info2(const uint8_t *der, size_t n)
{
	struct euicc_info2 in;
	enum rsp_status st;
	cJSON *o, *caps;

	memset(&in, 0, sizeof(in));
	if ((st = der_decode_euicc_info2(der, n, &in)))
		return undecodable(st, n);
	if (!(o = cJSON_CreateObject()))
		return NULL;
	add_version(o, "profileVersion", in.profile_version);
	add_version(o, "svn", in.svn);
	add_version(o, "euiccFirmwareVer", in.firmware);
	if ((caps = cJSON_AddArrayToObject(o, "rspCapabilityBits")))
		for (int i = 0; i < 32; i++)
			if (in.rsp_capability & (1u << i))
				cJSON_AddItemToArray(caps, int_item((long long)i));
	if (in.has_ipa_mode)
		cJSON_AddStringToObject(o, "ipaMode", in.ipa_mode == 0 ? "ipad(0)" :
					in.ipa_mode == 1 ? "ipae(1)" : "?");
	if (in.has_iot_info) {
		cJSON *iot = cJSON_AddObjectToObject(o, "iotSpecificInfo");
		cJSON *v = iot ? cJSON_AddArrayToObject(iot, "iotVersion") : NULL;
		char s[16];
		for (size_t i = 0; v && i < in.n_iot_versions; i++) {
			snprintf(s, sizeof(s), "%u.%u.%u", in.iot_versions[i][0], in.iot_versions[i][1],
				 in.iot_versions[i][2]);
			cJSON_AddItemToArray(v, cJSON_CreateString(s));
		}
		if (iot) {
			cJSON_AddBoolToObject(iot, "ecallSupported", in.ecall_supported);
			cJSON_AddBoolToObject(iot, "fallbackSupported", in.fallback_supported);
		}
	}
	if (in.has_highest_svn)
		add_version(o, "highestSvn", in.highest_svn);
	add_int(o, "bytes", (long long)n);
	return o;
}

static cJSON *obj_device_info(const uint8_t *der, size_t n)
{
	struct device_info in;
	enum rsp_status st;
	cJSON *o;

	memset(&in, 0, sizeof(in));
	if ((st = der_decode_device_info(der, n, &in)))
		return undecodable(st, n);
	if (!(o = cJSON_CreateObject()))
		return NULL;
	add_hex(o, "tac", in.tac, in.tac_len);
	if (in.has_imei)
		add_hex(o, "imei", in.imei, sizeof(in.imei));
	add_int(o, "deviceCapabilities", (long long)in.n_capabilities);
	if (in.has_lpa_svn)
		add_version(o, "lpaSvn", in.lpa_svn);
	if (in.has_form_factor)
		add_int(o, "euiccFormFactorType", (long long)in.form_factor);
	return o;
}

static cJSON *obj_server_signed1(const uint8_t *der, size_t n)
{
	struct server_signed1 in;
	enum rsp_status st;
	cJSON *o;

	memset(&in, 0, sizeof(in));
	if ((st = der_decode_server_signed1(der, n, &in)))
		return undecodable(st, n);
	if ((o = cJSON_CreateObject())) {
		add_hex(o, "transactionId", in.txid, in.txid_len);
		add_hex(o, "euiccChallenge", in.euicc_challenge, SMDP_CHAL_LEN);
		cJSON_AddStringToObject(o, "serverAddress", in.server_address);
		add_hex(o, "serverChallenge", in.server_challenge, SMDP_CHAL_LEN);
	}
	return o;
}

static cJSON *obj_auth_server_resp(const uint8_t *der, size_t n)
{
	struct auth_server_resp in;
	enum rsp_status st;
	cJSON *o = NULL, *e, *s1, *ctx;

	memset(&in, 0, sizeof(in));
	if ((st = der_decode_auth_server_resp(der, n, &in))) {
		o = undecodable(st, n);
		goto out;
	}
	if (!(o = cJSON_CreateObject()))
		goto out;
	if (in.is_error) {
		if ((e = cJSON_AddObjectToObject(o, "authenticateResponseError"))) {
			add_hex(e, "transactionId", in.error_txid, in.error_txid_len);
			add_enum(e, "authenticateErrorCode", auth_errors, 128, in.error_code);
		}
		goto out;
	}
	if ((s1 = cJSON_AddObjectToObject(o, "euiccSigned1"))) {
		add_hex(s1, "transactionId", in.signed1.txid, in.signed1.txid_len);
		cJSON_AddStringToObject(s1, "serverAddress", in.signed1.server_address);
		add_hex(s1, "serverChallenge", in.signed1.server_challenge, SMDP_CHAL_LEN);
		cJSON_AddItemToObject(s1, "euiccInfo2", obj_euicc_info2(in.signed1.euicc_info2.p,
									 in.signed1.euicc_info2.len));
		if ((ctx = cJSON_AddObjectToObject(s1, "ctxParamsForCommonAuthentication"))) {
			if (in.signed1.ctx.has_matching_id)
				cJSON_AddStringToObject(ctx, "matchingId", in.signed1.ctx.matching_id);
			cJSON_AddItemToObject(ctx, "deviceInfo",
					      obj_device_info(in.signed1.ctx.device_info.p,
							      in.signed1.ctx.device_info.len));
		}
	}
	add_hex(o, "euiccSignature1", in.signature1, SMDP_SIG_LEN);
	cJSON_AddItemToObject(o, "euiccCertificate", trace_cert(in.euicc_cert.p, in.euicc_cert.len));
	cJSON_AddItemToObject(o, "eumCertificate", trace_cert(in.eum_cert.p, in.eum_cert.len));
out:
	auth_server_resp_free(&in);
	return o;
}

static cJSON *obj_store_metadata(const uint8_t *der, size_t n)
{
	struct profile_metadata m;
	enum rsp_status st;
	cJSON *o, *a;
	char iccid[21];

	memset(&m, 0, sizeof(m));
	if ((st = der_decode_store_metadata(der, n, &m)))
		return undecodable(st, n);
	if (!(o = cJSON_CreateObject()))
		goto out;
	saip_iccid_text(m.iccid, iccid);   /* EF.ICCID coding, SGP.22 Iccid */
	cJSON_AddStringToObject(o, "iccid", iccid);
	cJSON_AddStringToObject(o, "serviceProviderName", m.spn);
	cJSON_AddStringToObject(o, "profileName", m.name);
	if (m.profile_class >= 0)
		add_enum(o, "profileClass", profile_classes, 3, m.profile_class);
	if (m.icon_type >= 0) {
		add_int(o, "iconType", (long long)m.icon_type);
		add_int(o, "iconBytes", (long long)m.icon.len);
	}
	if (m.has_ppr) {
		a = cJSON_AddArrayToObject(o, "profilePolicyRules");
		if (a && (m.ppr & 0x40))
			cJSON_AddItemToArray(a, cJSON_CreateString("ppr1"));
		if (a && (m.ppr & 0x20))
			cJSON_AddItemToArray(a, cJSON_CreateString("ppr2"));
	}
	if (m.n_notif && (a = cJSON_AddArrayToObject(o, "notificationConfigurationInfo"))) {
		for (size_t i = 0; i < m.n_notif; i++) {
			cJSON *e = cJSON_CreateObject(), *ops;
			if (!e)
				break;
			ops = cJSON_AddArrayToObject(e, "profileManagementOperation");
			for (int b = 0; ops && b < 4; b++)
				if (m.notif[i].ops & (0x80 >> b))
					cJSON_AddItemToArray(ops, cJSON_CreateString(notif_events[b]));
			cJSON_AddStringToObject(e, "notificationAddress", m.notif[i].address);
			cJSON_AddItemToArray(a, e);
		}
	}
	if (m.has_ecall_indication)
		cJSON_AddBoolToObject(o, "ecallIndication", m.ecall_indication);
	if (m.has_fallback_allowed)
		cJSON_AddBoolToObject(o, "fallbackAllowed", m.fallback_allowed);
	add_int(o, "bytes", (long long)n);
out:
	buf_free(&m.icon);
	return o;
}

static cJSON *obj_smdp_signed2(const uint8_t *der, size_t n)
{
	struct smdp_signed2 in;
	enum rsp_status st;
	cJSON *o;

	memset(&in, 0, sizeof(in));
	if ((st = der_decode_smdp_signed2(der, n, &in)))
		return undecodable(st, n);
	if ((o = cJSON_CreateObject())) {
		add_hex(o, "transactionId", in.txid, in.txid_len);
		cJSON_AddBoolToObject(o, "ccRequiredFlag", in.cc_required);
		if (in.has_otpk)
			add_hex(o, "bppEuiccOtpk", in.otpk, SMDP_POINT_LEN);
	}
	return o;
}

static cJSON *obj_prepare_download_resp(const uint8_t *der, size_t n)
{
	struct prepare_download_resp in;
	enum rsp_status st;
	cJSON *o = NULL, *e;

	memset(&in, 0, sizeof(in));
	if ((st = der_decode_prepare_download_resp(der, n, &in))) {
		o = undecodable(st, n);
		goto out;
	}
	if (!(o = cJSON_CreateObject()))
		goto out;
	if (in.is_error) {
		if ((e = cJSON_AddObjectToObject(o, "downloadResponseError"))) {
			add_hex(e, "transactionId", in.txid, in.txid_len);
			add_enum(e, "downloadErrorCode", download_errors, 128, in.error_code);
		}
		goto out;
	}
	if ((e = cJSON_AddObjectToObject(o, "euiccSigned2"))) {
		add_hex(e, "transactionId", in.txid, in.txid_len);
		add_hex(e, "euiccOtpk", in.euicc_otpk, in.euicc_otpk_len);
		/* derived from the confirmation code: never in a trace */
		if (in.has_hash_cc)
			cJSON_AddStringToObject(e, "hashCc", "present (not recorded)");
	}
	add_hex(o, "euiccSignature2", in.signature2, SMDP_SIG_LEN);
out:
	prepare_download_resp_free(&in);
	return o;
}

/* One sequence of segments: count and sizes; the bytes are ciphertext and
 * stay out of the trace. */
static void add_segments(cJSON *o, const char *name, const struct buf *v, size_t n)
{
	cJSON *s, *sizes;
	size_t total = 0, max = 0;

	if (!(s = cJSON_AddObjectToObject(o, name)))
		return;
	add_int(s, "segments", (long long)n);
	sizes = cJSON_AddArrayToObject(s, "sizes");
	for (size_t i = 0; i < n; i++) {
		total += v[i].len;
		if (v[i].len > max)
			max = v[i].len;
		if (sizes)
			cJSON_AddItemToArray(sizes, int_item((long long)v[i].len));
	}
	add_int(s, "bytes", (long long)total);
	add_int(s, "largest", (long long)max);
}

static cJSON *obj_bpp(const uint8_t *der, size_t n)
{
	struct bpp_parts p;
	struct bf23 b;
	struct buf tbs = { 0 };
	enum rsp_status st;
	cJSON *o = NULL, *i;

	memset(&p, 0, sizeof(p));
	memset(&b, 0, sizeof(b));
	if ((st = der_decode_bpp(der, n, &p))) {
		o = undecodable(st, n);
		goto out;
	}
	if (!(o = cJSON_CreateObject()))
		goto out;
	if (der_decode_bf23(p.bf23.p, p.bf23.len, &b, &tbs) == RSP_OK &&
	    (i = cJSON_AddObjectToObject(o, "initialiseSecureChannelRequest"))) {
		add_hex(i, "transactionId", b.txid, b.txid_len);
		add_hex(i, "hostId", b.host_id, b.host_id_len);
		add_hex(i, "smdpOtpk", b.dp_otpk, SMDP_POINT_LEN);
		add_hex(i, "smdpSign", b.signature, SMDP_SIG_LEN);
	} else {
		cJSON_AddItemToObject(o, "initialiseSecureChannelRequest",
				      undecodable(RSP_ERR_INVALID_REQUEST, p.bf23.len));
	}
	add_segments(o, "firstSequenceOf87", p.seg87a, p.n87a);
	add_segments(o, "sequenceOf88", p.seg88, p.n88);
	if (p.n87b)
		add_segments(o, "secondSequenceOf87", p.seg87b, p.n87b);
	add_segments(o, "sequenceOf86", p.seg86, p.n86);
	add_int(o, "bytes", (long long)n);
out:
	buf_free(&tbs);
	bpp_parts_free(&p);
	return o;
}

static cJSON *obj_pending_notification(const uint8_t *der, size_t n)
{
	struct pending_notification in;
	enum rsp_status st;
	cJSON *o = NULL, *m, *r, *f;
	char iccid[21];

	memset(&in, 0, sizeof(in));
	if ((st = der_decode_pending_notification(der, n, &in))) {
		o = undecodable(st, n);
		goto out;
	}
	if (!(o = cJSON_CreateObject()))
		goto out;
	cJSON_AddStringToObject(o, "kind", in.kind == NOTIF_PIR ? "profileInstallationResult" :
				"otherSignedNotification");
	if ((m = cJSON_AddObjectToObject(o, "notificationMetadata"))) {
		add_int(m, "seqNumber", (long long)in.meta.seq_number);
		if (in.meta.operation >= 0 && in.meta.operation < 4)
			cJSON_AddStringToObject(m, "profileManagementOperation",
						notif_events[in.meta.operation]);
		cJSON_AddStringToObject(m, "notificationAddress", in.meta.address);
		if (in.meta.has_iccid) {
			saip_iccid_text(in.meta.iccid, iccid);
			cJSON_AddStringToObject(m, "iccid", iccid);
		}
	}
	if (in.kind == NOTIF_PIR) {
		if ((r = cJSON_AddObjectToObject(o, "profileInstallationResultData"))) {
			add_hex(r, "transactionId", in.txid, in.txid_len);
			cJSON_AddStringToObject(r, "smdpOid", in.smdp_oid);
			if ((f = cJSON_AddObjectToObject(r, in.success ? "successResult" :
							 "errorResult"))) {
				if (in.success) {
					add_hex(f, "aid", in.aid, in.aid_len);
					add_int(f, "simaResponseBytes", (long long)in.sima_response.len);
				} else {
					add_enum(f, "bppCommandId", bpp_commands, 6, in.bpp_command_id);
					add_enum(f, "errorReason", error_reasons, 128, in.error_reason);
				}
			}
		}
		add_hex(o, "euiccSignPIR", in.signature, SMDP_SIG_LEN);
	} else {
		add_hex(o, "euiccNotificationSignature", in.signature, SMDP_SIG_LEN);
		cJSON_AddItemToObject(o, "euiccCertificate",
				      trace_cert(in.euicc_cert.p, in.euicc_cert.len));
		cJSON_AddItemToObject(o, "eumCertificate", trace_cert(in.eum_cert.p, in.eum_cert.len));
	}
out:
	pending_notification_free(&in);
	return o;
}

static cJSON *obj_cancel_session_resp(const uint8_t *der, size_t n)
{
	struct cancel_session_resp in;
	enum rsp_status st;
	cJSON *o = NULL, *s;

	memset(&in, 0, sizeof(in));
	if ((st = der_decode_cancel_session_resp(der, n, &in))) {
		o = undecodable(st, n);
		goto out;
	}
	if (!(o = cJSON_CreateObject()))
		goto out;
	if (in.is_error) {
		add_int(o, "cancelSessionResponseError", (long long)in.error_code);
		goto out;
	}
	if ((s = cJSON_AddObjectToObject(o, "euiccCancelSessionSigned"))) {
		add_hex(s, "transactionId", in.txid, in.txid_len);
		cJSON_AddStringToObject(s, "smdpOid", in.smdp_oid);
		add_enum(s, "reason", cancel_reasons, 128, in.reason);
	}
	add_hex(o, "euiccCancelSessionSignature", in.signature, SMDP_SIG_LEN);
out:
	cancel_session_resp_free(&in);
	return o;
}

cJSON *trace_object(const char *name, const uint8_t *der, size_t n)
{
	cJSON *o;

	if (!strcmp(name, "euiccInfo1"))
		return obj_euicc_info1(der, n);
	if (!strcmp(name, "serverSigned1"))
		return obj_server_signed1(der, n);
	if (!strcmp(name, "serverCertificate") || !strcmp(name, "smdpCertificate"))
		return trace_cert(der, n);
	if (!strcmp(name, "authenticateServerResponse"))
		return obj_auth_server_resp(der, n);
	if (!strcmp(name, "profileMetadata"))
		return obj_store_metadata(der, n);
	if (!strcmp(name, "smdpSigned2"))
		return obj_smdp_signed2(der, n);
	if (!strcmp(name, "prepareDownloadResponse"))
		return obj_prepare_download_resp(der, n);
	if (!strcmp(name, "boundProfilePackage"))
		return obj_bpp(der, n);
	if (!strcmp(name, "pendingNotification"))
		return obj_pending_notification(der, n);
	if (!strcmp(name, "cancelSessionResponse"))
		return obj_cancel_session_resp(der, n);
	if ((o = cJSON_CreateObject())) {
		if (!strcmp(name, "serverSignature1") || !strcmp(name, "smdpSignature2") ||
		    !strcmp(name, "euiccCiPKIdToBeUsed") || !strcmp(name, "euiccChallenge"))
			add_tlv_value(o, "value", der, n);
		add_int(o, "bytes", (long long)n);
	}
	return o;
}

/* Members that carry base64 DER (SGP.22 6.6). */
static int is_b64_member(const char *name)
{
	static const char *const names[] = {
		"euiccChallenge", "euiccInfo1", "serverSigned1", "serverSignature1",
		"euiccCiPKIdToBeUsed", "serverCertificate", "authenticateServerResponse",
		"profileMetadata", "smdpSigned2", "smdpSignature2", "smdpCertificate",
		"prepareDownloadResponse", "boundProfilePackage", "pendingNotification",
		"cancelSessionResponse",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return 1;
	return 0;
}

/* A JSON-binding body with each base64 member replaced by its decoding. */
static cJSON *json_body(const uint8_t *body, size_t n)
{
	cJSON *in = NULL, *o = NULL, *it;
	int deep = !lab_json_depth_ok(body, n, LAB_MAX_JSON_DEPTH);

	if (!deep)
		in = cJSON_ParseWithLength((const char *)body, n);
	if (!in || !cJSON_IsObject(in)) {
		if ((o = cJSON_CreateObject())) {
			cJSON_AddStringToObject(o, "unparsable", deep ? "nested too deeply" :
						"not a JSON object");
			add_int(o, "bytes", (long long)n);
		}
		goto out;
	}
	if (!(o = cJSON_CreateObject()))
		goto out;
	cJSON_ArrayForEach(it, in) {
		const char *name = it->string ? it->string : "?";
		if (cJSON_IsString(it) && is_b64_member(name)) {
			struct buf der = { 0 };
			if (b64_decode(it->valuestring, strlen(it->valuestring), &der) == 0) {
				if (!strcmp(name, "euiccChallenge"))
					add_hex(o, name, der.p, der.len);
				else if (!strcmp(name, "serverSignature1") ||
					 !strcmp(name, "smdpSignature2") ||
					 !strcmp(name, "euiccCiPKIdToBeUsed"))
					add_tlv_value(o, name, der.p, der.len);
				else
					cJSON_AddItemToObject(o, name, trace_object(name, der.p, der.len));
			} else {
				cJSON_AddStringToObject(o, name, "(invalid base64)");
			}
			buf_free(&der);
		} else if (cJSON_IsString(it) && strlen(it->valuestring) > TRACE_MAX_TEXT) {
			cJSON_AddStringToObject(o, name, "(long text not recorded)");
		} else {
			cJSON_AddItemToObject(o, name, cJSON_Duplicate(it, 1));
		}
	}
out:
	cJSON_Delete(in);
	return o;
}

cJSON *trace_gbpp_answer(const uint8_t *txid, size_t txid_len, const uint8_t *bpp, size_t n)
{
	cJSON *o = cJSON_CreateObject(), *h, *f;
	char hex[2 * 16 + 1];

	if (!o || txid_len > 16)
		goto fail;
	/* the members in the order es9p_json.c writes them (SGP.22 6.5.2.3) */
	if (!(h = cJSON_AddObjectToObject(o, "header")) ||
	    !(f = cJSON_AddObjectToObject(h, "functionExecutionStatus")) ||
	    !cJSON_AddStringToObject(f, "status", "Executed-Success"))
		goto fail;
	hex_encode(txid, txid_len, hex, sizeof(hex));
	if (!cJSON_AddStringToObject(o, "transactionId", hex))
		goto fail;
	cJSON_AddItemToObject(o, "boundProfilePackage", trace_object("boundProfilePackage", bpp, n));
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* JSON member name of the object each ASN.1 request carries. */
static const char *const req_object[ES9_FN_COUNT] = {
	"euiccInfo1", "authenticateServerResponse", "prepareDownloadResponse",
	"pendingNotification", "cancelSessionResponse",
};

cJSON *trace_request(int fn, enum lab_binding b, const uint8_t *body, size_t n)
{
	struct es9_asn1_req rq;
	enum rsp_status st;
	cJSON *o;

	if (b == LAB_JSON)
		return json_body(body, n);
	memset(&rq, 0, sizeof(rq));
	st = der_decode_es9_request(body, n, &rq);
	if (!(o = cJSON_CreateObject()))
		goto out;
	if (st != RSP_OK)
		cJSON_AddStringToObject(o, "undecodable", rsp_status_info(st)->name);
	cJSON_AddStringToObject(o, "function", fault_fn_name(rq.fn < ES9_FN_COUNT ? (int)rq.fn : fn));
	if (rq.fn == ES9_INITIATE_AUTH) {
		add_hex(o, "euiccChallenge", rq.euicc_challenge, SMDP_CHAL_LEN);
		cJSON_AddStringToObject(o, "smdpAddress", rq.smdp_address);
	}
	if (rq.txid_len)
		add_hex(o, "transactionId", rq.txid, rq.txid_len);
	if (rq.fn < ES9_FN_COUNT && rq.obj.len)
		cJSON_AddItemToObject(o, req_object[rq.fn],
				      trace_object(req_object[rq.fn], rq.obj.p, rq.obj.len));
	add_int(o, "bytes", (long long)n);
out:
	es9_asn1_req_free(&rq);
	return o;
}

cJSON *trace_response(int fn, enum lab_binding b, int http_status, const uint8_t *body,
		      size_t n)
{
	struct es9_asn1_resp r;
	cJSON *o = NULL;

	(void)fn;
	memset(&r, 0, sizeof(r));
	if (http_status != 200) {
		if ((o = cJSON_CreateObject()))
			add_int(o, "bytes", (long long)n);
		return o;
	}
	if (b == LAB_JSON)
		return json_body(body, n);
	if (!(o = cJSON_CreateObject()))
		goto out;
	if (der_decode_es9_response(body, n, &r) != RSP_OK) {
		cJSON_AddStringToObject(o, "undecodable", "RemoteProfileProvisioningResponse");
		goto out;
	}
	if (r.error >= 0) {
		add_int(o, "error", (long long)r.error);
		goto out;
	}
	if (r.txid_len)
		add_hex(o, "transactionId", r.txid, r.txid_len);
#define OBJ(field, name) \
	if (r.field.len) \
		cJSON_AddItemToObject(o, name, trace_object(name, r.field.p, r.field.len))
	OBJ(server_signed1, "serverSigned1");
	if (r.server_signature1.len)
		add_tlv_value(o, "serverSignature1", r.server_signature1.p, r.server_signature1.len);
	if (r.ci_pkid.len)
		add_tlv_value(o, "euiccCiPKIdToBeUsed", r.ci_pkid.p, r.ci_pkid.len);
	OBJ(server_cert, "serverCertificate");
	OBJ(profile_metadata, "profileMetadata");
	OBJ(smdp_signed2, "smdpSigned2");
	if (r.smdp_signature2.len)
		add_tlv_value(o, "smdpSignature2", r.smdp_signature2.p, r.smdp_signature2.len);
	OBJ(smdp_cert, "smdpCertificate");
	OBJ(bpp, "boundProfilePackage");
#undef OBJ
out:
	es9_asn1_resp_free(&r);
	return o;
}

/* Keys inside the DER object a request carries (authenticateClient's
 * AuthenticateServerResponse, handleNotification's PendingNotification). */
static void object_keys(int fn, const uint8_t *der, size_t n, struct trace_keys *k)
{
	if (fn == ES9_AUTH_CLIENT) {
		struct auth_server_resp in;

		memset(&in, 0, sizeof(in));
		if (der_decode_auth_server_resp(der, n, &in) == RSP_OK && !in.is_error) {
			if (in.signed1.ctx.has_matching_id) {
				str_copy(k->matching_id, sizeof(k->matching_id), in.signed1.ctx.matching_id);
				k->has_matching_id = 1;
			}
			if (der_cert_subject_serial(in.euicc_cert.p, in.euicc_cert.len, k->eid,
						    sizeof(k->eid)))
				k->eid[0] = '\0';
		}
		auth_server_resp_free(&in);
	} else if (fn == ES9_HANDLE_NOTIF) {
		struct pending_notification in;

		memset(&in, 0, sizeof(in));
		if (der_decode_pending_notification(der, n, &in) == RSP_OK &&
		    in.kind == NOTIF_PIR && in.txid_len && !k->txid[0])
			hex_encode(in.txid, in.txid_len, k->txid, sizeof(k->txid));
		pending_notification_free(&in);
	}
}

void trace_request_keys_json(int fn, const cJSON *in, int ids, struct trace_keys *k)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(in, "transactionId");
	const char *member = fn == ES9_AUTH_CLIENT && ids ? "authenticateServerResponse" :
			     fn == ES9_HANDLE_NOTIF ? "pendingNotification" : NULL;
	const cJSON *o = member ? cJSON_GetObjectItemCaseSensitive(in, member) : NULL;

	memset(k, 0, sizeof(*k));
	if (cJSON_IsString(t) && strlen(t->valuestring) < sizeof(k->txid))
		str_copy(k->txid, sizeof(k->txid), t->valuestring);
	if (cJSON_IsString(o)) {
		struct buf der = { 0 };
		if (b64_decode(o->valuestring, strlen(o->valuestring), &der) == 0)
			object_keys(fn, der.p, der.len, k);
		buf_free(&der);
	}
}

void trace_request_keys(int fn, enum lab_binding b, const uint8_t *body, size_t n, int ids,
			struct trace_keys *k)
{
	memset(k, 0, sizeof(*k));
	if (b == LAB_JSON) {
		cJSON *in = lab_json_depth_ok(body, n, LAB_MAX_JSON_DEPTH) ?
			    cJSON_ParseWithLength((const char *)body, n) : NULL;

		trace_request_keys_json(fn, in, ids, k);
		cJSON_Delete(in);
	} else {
		struct es9_asn1_req rq;

		memset(&rq, 0, sizeof(rq));
		if (der_decode_es9_request(body, n, &rq) == RSP_OK) {
			if (rq.txid_len)
				hex_encode(rq.txid, rq.txid_len, k->txid, sizeof(k->txid));
			if (rq.fn < ES9_FN_COUNT && rq.obj.len && (ids || rq.fn != ES9_AUTH_CLIENT))
				object_keys((int)rq.fn, rq.obj.p, rq.obj.len, k);
		}
		es9_asn1_req_free(&rq);
	}
}

void trace_response_txid(enum lab_binding b, int http_status, const uint8_t *body, size_t n,
			 char txid[LAB_TXID_TEXT])
{
	txid[0] = '\0';
	if (http_status != 200)
		return;
	if (b == LAB_JSON) {
		cJSON *o = lab_json_depth_ok(body, n, LAB_MAX_JSON_DEPTH) ?
			   cJSON_ParseWithLength((const char *)body, n) : NULL;
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "transactionId");

		if (cJSON_IsString(t) && strlen(t->valuestring) < LAB_TXID_TEXT)
			str_copy(txid, LAB_TXID_TEXT, t->valuestring);
		cJSON_Delete(o);
	} else {
		struct es9_asn1_resp r;

		memset(&r, 0, sizeof(r));
		if (der_decode_es9_response(body, n, &r) == RSP_OK && r.error < 0 && r.txid_len)
			hex_encode(r.txid, r.txid_len, txid, LAB_TXID_TEXT);
		es9_asn1_resp_free(&r);
	}
}

int trace_status(int fn, enum lab_binding b, int http_status, const uint8_t *body, size_t n,
		 char subject[16], char reason[16])
{
	int st = -1;

	subject[0] = reason[0] = '\0';
	if (fn == ES9_HANDLE_NOTIF && http_status == 204)
		return RSP_OK;
	if (http_status != 200)
		return -1;
	if (b == LAB_JSON) {
		cJSON *j = lab_json_depth_ok(body, n, LAB_MAX_JSON_DEPTH) ?
			   cJSON_ParseWithLength((const char *)body, n) : NULL;
		const cJSON *fes = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(j, "header"), "functionExecutionStatus");
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(fes, "status");
		const cJSON *scd = cJSON_GetObjectItemCaseSensitive(fes, "statusCodeData");
		const cJSON *sc = cJSON_GetObjectItemCaseSensitive(scd, "subjectCode");
		const cJSON *rc = cJSON_GetObjectItemCaseSensitive(scd, "reasonCode");

		if (cJSON_IsString(s) && !strcmp(s->valuestring, "Executed-Success")) {
			st = RSP_OK;
		} else if (cJSON_IsString(sc) && cJSON_IsString(rc)) {
			str_copy(subject, 16, sc->valuestring);
			str_copy(reason, 16, rc->valuestring);
			st = RSP_STATUS_COUNT;   /* a code the table does not have */
			for (int i = 1; i < RSP_STATUS_COUNT; i++) {
				const struct rsp_status_info *in = rsp_status_info((enum rsp_status)i);
				if (!strcmp(in->subject, subject) && !strcmp(in->reason, reason)) {
					st = i;
					break;
				}
			}
		}
		cJSON_Delete(j);
		return st;
	}
	{
		struct es9_asn1_resp r;

		memset(&r, 0, sizeof(r));
		if (der_decode_es9_response(body, n, &r) == RSP_OK) {
			if (r.error < 0) {
				st = RSP_OK;
			} else {
				st = RSP_STATUS_COUNT;
				snprintf(subject, 16, "asn1");
				snprintf(reason, 16, "%ld", r.error);
				for (int i = 1; i < RSP_STATUS_COUNT && fn >= 0 && fn < ES9_FN_COUNT; i++) {
					const struct rsp_status_info *in =
						rsp_status_info((enum rsp_status)i);
					if (in->asn1[fn] == r.error) {
						str_copy(subject, 16, in->subject);
						str_copy(reason, 16, in->reason);
						st = i;
						break;
					}
				}
			}
		}
		es9_asn1_resp_free(&r);
	}
	return st;
}

/* --- checks: SGP.22 5.6.x in the order es9p.c performs them --- */

#define MAX_CHECK_ST 8
struct check {
	const char *name;
	enum rsp_status fails[MAX_CHECK_ST];   /* statuses that mean this check failed; 0 ends */
};

static const struct check common[] = {
	{ "X-Admin-Protocol is SGP.22 v2 (6.5.1.1)", { RSP_ERR_UNSUPPORTED_PROTOCOL } },
	{ "request well-formed, mandatory elements present (6.5)",
	  { RSP_ERR_INVALID_REQUEST, RSP_ERR_MISSING_ELEMENT } },
};
static const struct check ia_checks[] = {
	{ "smdpAddress is this SM-DP+ (5.6.1)", { RSP_ERR_INVALID_DP_ADDRESS } },
	{ "eUICC SVN supported (5.6.1)", { RSP_ERR_EUICC_VERSION } },
	{ "a CI of the eUICC's lists is supported, CERT.DPauth chains to it (5.6.1)",
	  { RSP_ERR_CI_PK_NOT_SUPPORTED, RSP_ERR_NO_DPAUTH_FOR_CI } },
	{ "serverSigned1 signed with SK.DPauth, session created (5.6.1)", { 0 } },
};
static const struct check ac_checks[] = {
	{ "transactionId names an open session in the right state (5.6.3)",
	  { RSP_ERR_TRANSACTION_UNKNOWN } },
	{ "eUICC answered AuthenticateServer without error (5.6.3)", { RSP_ERR_EUICC_AUTH_ERROR } },
	{ "CERT.EUM chains to the selected CI, valid, role policy (4.5.2)",
	  { RSP_ERR_EUM_CERT_INVALID, RSP_ERR_EUM_CERT_EXPIRED, RSP_ERR_CI_PK_UNKNOWN } },
	{ "CERT.EUICC issued by the EUM, valid, EID in the EUM's range (4.5.2)",
	  { RSP_ERR_EUICC_CERT_INVALID, RSP_ERR_EUICC_CERT_EXPIRED } },
	{ "euiccSignature1 verifies, serverChallenge is the one sent (5.6.3)",
	  { RSP_ERR_EUICC_SIGNATURE } },
	{ "matchingId / EID select a releasable profile (5.6.3, 3.1.1)",
	  { RSP_ERR_MATCHING_ID_REFUSED, RSP_ERR_EID_MISMATCH, RSP_ERR_PROFILE_NOT_RELEASED,
	    RSP_ERR_NO_ELIGIBLE_PROFILE, RSP_ERR_ORDER_EXPIRED, RSP_ERR_ORDER_MAX_ATTEMPTS,
	    RSP_ERR_INSUFFICIENT_MEMORY } },
	{ "smdpSigned2 signed with SK.DPpb (5.6.3)", { 0 } },
};
static const struct check gbpp_checks[] = {
	{ "transactionId names an open session in the right state (5.6.2)",
	  { RSP_ERR_TRANSACTION_UNKNOWN } },
	{ "eUICC answered PrepareDownload without error (5.6.2)", { RSP_ERR_EUICC_DOWNLOAD_ERROR } },
	{ "euiccSignature2 verifies over euiccSigned2 || smdpSignature2 (5.6.2)",
	  { RSP_ERR_EUICC_SIGNATURE } },
	{ "confirmation code (hashCc) when required (5.6.2)",
	  { RSP_ERR_CC_MISSING, RSP_ERR_CC_WRONG, RSP_ERR_CC_RETRIES } },
	{ "order still valid, binding allowed (5.6.2)",
	  { RSP_ERR_ORDER_EXPIRED, RSP_ERR_BPP_REBINDING_REFUSED } },
	{ "BPP bound to otPK.EUICC and sent (2.5.5, 3.1.3)", { 0 } },
};
static const struct check hn_checks[] = {
	{ "notification stored; PIR signature checked against the session (5.6.4)", { 0 } },
};
static const struct check cs_checks[] = {
	{ "transactionId names an open session in the right state (5.6.5)",
	  { RSP_ERR_TRANSACTION_UNKNOWN } },
	{ "euiccCancelSessionSignature verifies (5.6.5)", { RSP_ERR_EUICC_SIGNATURE } },
	{ "smdpOid is this SM-DP+'s (5.6.5)", { RSP_ERR_SMDP_OID_MISMATCH } },
};

static int check_fails(const struct check *c, enum rsp_status st)
{
	for (int i = 0; i < MAX_CHECK_ST && c->fails[i]; i++)
		if (c->fails[i] == st)
			return 1;
	return 0;
}

static void add_check(cJSON *arr, const char *name, const char *outcome, const char *detail)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return;
	cJSON_AddStringToObject(o, "check", name);
	cJSON_AddStringToObject(o, "outcome", outcome);
	if (detail)
		cJSON_AddStringToObject(o, "detail", detail);
	cJSON_AddItemToArray(arr, o);
}

void trace_checks(int fn, enum rsp_status st, cJSON *arr)
{
	const struct check *list = NULL;
	size_t n = 0, i;
	int failed = 0, known = 0;
	char detail[96];

	switch (fn) {
	case ES9_INITIATE_AUTH: list = ia_checks; n = sizeof(ia_checks) / sizeof(ia_checks[0]); break;
	case ES9_AUTH_CLIENT: list = ac_checks; n = sizeof(ac_checks) / sizeof(ac_checks[0]); break;
	case ES9_GET_BPP: list = gbpp_checks; n = sizeof(gbpp_checks) / sizeof(gbpp_checks[0]); break;
	case ES9_HANDLE_NOTIF: list = hn_checks; n = sizeof(hn_checks) / sizeof(hn_checks[0]); break;
	case ES9_CANCEL_SESSION: list = cs_checks; n = sizeof(cs_checks) / sizeof(cs_checks[0]); break;
	default: return;
	}
	if (st != RSP_OK && (int)st < RSP_STATUS_COUNT) {
		const struct rsp_status_info *in = rsp_status_info(st);
		snprintf(detail, sizeof(detail), "%s/%s %s", in->subject, in->reason, in->name);
		for (i = 0; i < 2; i++)
			known |= check_fails(&common[i], st);
		for (i = 0; i < n; i++)
			known |= check_fails(&list[i], st);
	} else {
		str_copy(detail, sizeof(detail), st == RSP_OK ? "" : "code outside the table");
	}
	for (i = 0; i < 2 + n; i++) {
		const struct check *c = i < 2 ? &common[i] : &list[i - 2];
		if (failed) {
			add_check(arr, c->name, "not reached", NULL);
		} else if (st != RSP_OK && (check_fails(c, st) || (!known && i == 1 + n))) {
			/* an error no check names (internal) fails the last step */
			add_check(arr, c->name, "failed", detail);
			failed = 1;
		} else {
			add_check(arr, c->name, "passed", NULL);
		}
	}
}

const char *trace_state_name(int state)
{
	switch (state) {
	case SESSION_NONE: return "none";
	case SESSION_AUTH_STARTED: return "AUTH_STARTED";
	case SESSION_CLIENT_AUTHED: return "CLIENT_AUTHED";
	case SESSION_BPP_SENT: return "BPP_SENT";
	case SESSION_CLOSED: return "CLOSED";
	default: return "?";
	}
}

const char *trace_close_name(int reason)
{
	switch (reason) {
	case CLOSE_NONE: return "";
	case CLOSE_INSTALLED: return "installed";
	case CLOSE_INSTALL_FAILED: return "install_failed";
	case CLOSE_CANCELLED: return "cancelled";
	case CLOSE_ERROR: return "failed";
	case CLOSE_EXPIRED: return "expired";
	default: return "?";
	}
}
