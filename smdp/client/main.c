/* main.c - smdp-client command line: a software LPA + eUICC that downloads
 * a profile from an SM-DP+ over ES9+ (SGP.22 v2.5, JSON or ASN.1 binding)
 * for tests and demos. */
#include "client.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EX_OK      0
#define EX_CLIENT  1   /* the client found a problem */
#define EX_SERVER  2   /* the SM-DP+ reported a failure */
#define EX_USAGE   64

#define PATH_LEN 512
#define DEVICE_FILE_MAX (16 * 1024)   /* --euicc-info1/2, --device-info files */
#define OBJECT_FILE_MAX (64 * 1024)   /* --replay-*, send --object files */

static const char usage_text[] =
"usage: smdp-client download --ac AC [options]\n"
"       smdp-client send --ac AC --function F [--txid HEX] --object FILE [options]\n"
"       smdp-client info [--pki DIR ...]\n"
"\n"
"A software LPA and eUICC (SGP.22 v2.5): runs initiateAuthentication,\n"
"authenticateClient, getBoundProfilePackage and handleNotification against an\n"
"SM-DP+, verifying everything an eUICC verifies and recovering the profile.\n"
"Progress goes to stderr; stdout gets one final line:\n"
"  result: ok <calls> iccid=<ICCID> profile=<n> bytes[ match=yes]   (exit 0)\n"
"  result: failed <function> <subjectCode>/<reasonCode> <message>  (exit 2)\n"
"  result: error <what>                                            (exit 1)\n"
"<calls> counts the ES9+ functions that succeeded. Usage errors exit 64.\n"
"\n"
"Connection:\n"
"  --ac AC              activation code LPA:1$host[:port]$matchingId[$...]\n"
"                       (\"LPA:\" optional); host[:port] is sent as smdpAddress\n"
"  --matching-id ID     matchingId to send instead of the AC's ('' = present\n"
"                       but empty); without either, matchingId is absent\n"
"  --connect IP[:PORT]  TCP destination (like curl --resolve); SNI, Host and\n"
"                       the certificate check still use the AC host\n"
"  --tls-ca FILE        CA to verify the TLS server with (default: the CI\n"
"                       certificate; '' = no verification)\n"
"  --brainpool          offer brainpoolP256r1 over TLS 1.2 (automatic when the\n"
"                       CI is on brainpool)\n"
"  --timeout MS         connect/read timeout (default 30000)\n"
"  --binding B          ES9+ binding: json (default, /gsma/rsp2/es9plus/...) or\n"
"                       asn1 (/gsma/rsp2/asn1, RemoteProfileProvisioningRequest,\n"
"                       as an LPAe or an SGP.32 IPAe/eIM); with asn1 a failure\n"
"                       reads 'failed <function> asn1/<error> <enum name>'\n"
"  --asn1-extension HEX TLVs appended inside every ASN.1 request's function\n"
"                       SEQUENCE (extension fields of a newer client)\n"
"\n"
"eUICC credentials and announced capabilities:\n"
"  --pki DIR            test PKI directory (default certs/sgp26-nist): uses\n"
"                       DIR/ci.der, DIR/euicc/euicc.der, euicc.key.pem, eum.der\n"
"  --ci FILE            CI certificate the eUICC trusts\n"
"  --euicc-cert FILE, --euicc-key FILE, --eum-cert FILE\n"
"  --ci-list-sign HEX[,HEX]    euiccCiPKIdListForSigning ('' = empty list)\n"
"  --ci-list-verify HEX[,HEX]  euiccCiPKIdListForVerification\n"
"                       (default for both: the CI's subjectKeyIdentifier)\n"
"  --svn X.Y.Z          SGP.22 version in EUICCInfo1/2 (default 2.5.0)\n"
"  --euicc-info1 FILE   send this EUICCInfo1 (BF20) in initiateAuthentication\n"
"  --euicc-info2 FILE   sign this EUICCInfo2 (BF22) into euiccSigned1\n"
"  --device-info FILE   give this DeviceInfo (30 or A1) in ctxParams1\n"
"                       (FILE: DER, or hex text if it ends in .hex, '#' starts\n"
"                       a comment; see test-vectors/devices/ for SGP.22 v2.1,\n"
"                       v2.2.2, v2.5 and SGP.32 v1.2 devices)\n"
"  --cc CODE            confirmation code, hashed when ccRequiredFlag is set\n"
"\n"
"Checks and outcome:\n"
"  --expect FILE        compare the recovered profile with FILE byte for byte\n"
"  --cancel REASON[@STEP]  cancelSession instead of going on; STEP 'auth'\n"
"                       (default: after authenticateClient) or 'bpp' (after\n"
"                       getBoundProfilePackage, instead of loading it);\n"
"                       REASON: a number or endUserRejection, postponed,\n"
"                       timeout, pprNotAllowed, metadataMismatch,\n"
"                       loadBppExecutionError, undefinedReason\n"
"  --cancel-oid OID     smdpOid in the cancel (default: CERT.DPauth's)\n"
"  --cancel-bad-signature  corrupt euiccCancelSessionSignature\n"
"  --retry              after the first attempt (typically --cancel), run a\n"
"                       second full download in the same process; the eUICC\n"
"                       keeps otSK.EUICC and reuses it if the SM-DP+ announces\n"
"                       it (bppEuiccOtpk). Misbehaviour options apply to the\n"
"                       first attempt only; <calls> counts both.\n"
"  --pir-error CMD:REASON  send errorResult{bppCommandId, errorReason} in the\n"
"                       PIR even though the profile loaded (numbers or names:\n"
"                       initialiseSecureChannel configureISDP storeMetadata\n"
"                       storeMetadata2 replaceSessionKeys loadProfileElements)\n"
"  --skip-pir           do not send the ProfileInstallationResult\n"
"  --pir-delay MS       wait MS milliseconds before sending the PIR\n"
"  --repeat N           run N complete downloads one after the other on one\n"
"                       keep-alive connection and print their timing\n"
"  --eim                play an SGP.32 eIM doing an indirect download (ES9+'):\n"
"                       EUICCInfo1 read ahead, a new connection for every call\n"
"  --eim-unfilled FIELD leave out smdpAddress or euiccInfo1 in\n"
"                       initiateAuthentication, as an eIM forwarding ESipa's\n"
"                       optional fields unfilled (the SM-DP+ must refuse)\n"
"\n"
"Misbehaviour (each corrupts one thing, for negative tests of the SM-DP+):\n"
"  --bad-signature1     corrupt euiccSignature1\n"
"  --bad-signature2     corrupt euiccSignature2\n"
"  --wrong-challenge    alter serverChallenge inside euiccSigned1\n"
"  --wrong-txid         send an unknown transactionId to authenticateClient\n"
"  --smdp-address ADDR  send ADDR as smdpAddress instead of the AC's\n"
"  --no-verify-server   skip the eUICC's checks of SM-DP+ certificates and\n"
"                       signatures (debugging only)\n"
"\n"
"Replays (a signed structure of one session sent in another):\n"
"  --save DIR           write the session's objects into DIR as they are made,\n"
"                       before they are sent: txid.hex, asr.der (BF38),\n"
"                       pdr.der (BF21), csr.der (BF41), pir.der (BF37);\n"
"                       and the BPP received, bpp.der (BF36; send too)\n"
"  --replay-asr FILE    send FILE as authenticateServerResponse\n"
"  --replay-pdr FILE    send FILE as prepareDownloadResponse\n"
"  --replay-csr FILE    send FILE as cancelSessionResponse (with --cancel)\n"
"                       (FILE: DER, or hex text if it ends in .hex)\n"
"  --pause STEP:FILE    before the call of STEP (auth, bpp, cancel or pir)\n"
"                       wait until FILE exists (at most 120 s)\n"
"  send                 one call, no eUICC: --function authenticateClient,\n"
"                       getBoundProfilePackage, cancelSession or\n"
"                       handleNotification; --txid HEX (not for\n"
"                       handleNotification; default: a made-up one);\n"
"                       --object FILE the DER object sent as it is.\n"
"                       'result: ok 1 ...' when the SM-DP+ accepted it\n"
"\n"
"When the eUICC refuses something it answers with an error object that the\n"
"LPA forwards (authenticateClient / getBoundProfilePackage error forms, or an\n"
"errorResult PIR); a metadata mismatch leads to cancelSession(metadataMismatch).\n"
"The result is then 'error'.\n"
"\n"
"  -v, --verbose        print the JSON (or DER, in hex) exchanged, debug logs\n"
"  -h, --help           this text\n";

enum opt_id {
	O_AC = 256, O_MATCHING_ID, O_CONNECT, O_TLS_CA, O_BRAINPOOL, O_TIMEOUT, O_PKI, O_CI,
	O_EUICC_CERT, O_EUICC_KEY, O_EUM_CERT, O_CI_LIST_SIGN, O_CI_LIST_VERIFY, O_SVN, O_CC,
	O_EXPECT, O_CANCEL, O_CANCEL_OID, O_CANCEL_BAD_SIG, O_RETRY, O_PIR_ERROR, O_SKIP_PIR,
	O_PIR_DELAY, O_REPEAT, O_BAD_SIG1, O_BAD_SIG2, O_WRONG_CHALLENGE, O_WRONG_TXID, O_SMDP_ADDRESS, O_NO_VERIFY,
	O_BINDING, O_ASN1_EXT, O_EUICC_INFO1, O_EUICC_INFO2, O_DEVICE_INFO, O_EIM, O_EIM_UNFILLED,
	O_SAVE, O_REPLAY_ASR, O_REPLAY_PDR, O_REPLAY_CSR, O_PAUSE, O_FUNCTION, O_TXID, O_OBJECT,
};

static const struct option long_opts[] = {
	{ "ac", required_argument, NULL, O_AC },
	{ "matching-id", required_argument, NULL, O_MATCHING_ID },
	{ "connect", required_argument, NULL, O_CONNECT },
	{ "tls-ca", required_argument, NULL, O_TLS_CA },
	{ "brainpool", no_argument, NULL, O_BRAINPOOL },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "pki", required_argument, NULL, O_PKI },
	{ "ci", required_argument, NULL, O_CI },
	{ "euicc-cert", required_argument, NULL, O_EUICC_CERT },
	{ "euicc-key", required_argument, NULL, O_EUICC_KEY },
	{ "eum-cert", required_argument, NULL, O_EUM_CERT },
	{ "ci-list-sign", required_argument, NULL, O_CI_LIST_SIGN },
	{ "ci-list-verify", required_argument, NULL, O_CI_LIST_VERIFY },
	{ "svn", required_argument, NULL, O_SVN },
	{ "cc", required_argument, NULL, O_CC },
	{ "expect", required_argument, NULL, O_EXPECT },
	{ "cancel", required_argument, NULL, O_CANCEL },
	{ "cancel-oid", required_argument, NULL, O_CANCEL_OID },
	{ "cancel-bad-signature", no_argument, NULL, O_CANCEL_BAD_SIG },
	{ "retry", no_argument, NULL, O_RETRY },
	{ "pir-error", required_argument, NULL, O_PIR_ERROR },
	{ "skip-pir", no_argument, NULL, O_SKIP_PIR },
	{ "pir-delay", required_argument, NULL, O_PIR_DELAY },
	{ "repeat", required_argument, NULL, O_REPEAT },
	{ "bad-signature1", no_argument, NULL, O_BAD_SIG1 },
	{ "bad-signature2", no_argument, NULL, O_BAD_SIG2 },
	{ "wrong-challenge", no_argument, NULL, O_WRONG_CHALLENGE },
	{ "wrong-txid", no_argument, NULL, O_WRONG_TXID },
	{ "smdp-address", required_argument, NULL, O_SMDP_ADDRESS },
	{ "no-verify-server", no_argument, NULL, O_NO_VERIFY },
	{ "binding", required_argument, NULL, O_BINDING },
	{ "asn1-extension", required_argument, NULL, O_ASN1_EXT },
	{ "euicc-info1", required_argument, NULL, O_EUICC_INFO1 },
	{ "euicc-info2", required_argument, NULL, O_EUICC_INFO2 },
	{ "device-info", required_argument, NULL, O_DEVICE_INFO },
	{ "eim", no_argument, NULL, O_EIM },
	{ "eim-unfilled", required_argument, NULL, O_EIM_UNFILLED },
	{ "save", required_argument, NULL, O_SAVE },
	{ "replay-asr", required_argument, NULL, O_REPLAY_ASR },
	{ "replay-pdr", required_argument, NULL, O_REPLAY_PDR },
	{ "replay-csr", required_argument, NULL, O_REPLAY_CSR },
	{ "pause", required_argument, NULL, O_PAUSE },
	{ "function", required_argument, NULL, O_FUNCTION },
	{ "txid", required_argument, NULL, O_TXID },
	{ "object", required_argument, NULL, O_OBJECT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Named values of the small INTEGER enums the options take. */
struct named { const char *name; long value; };

static const struct named cancel_reasons[] = {
	{ "endUserRejection", 0 }, { "postponed", 1 }, { "timeout", 2 }, { "pprNotAllowed", 3 },
	{ "metadataMismatch", 4 }, { "loadBppExecutionError", 5 }, { "undefinedReason", 127 },
	{ NULL, 0 },
};
static const struct named bpp_commands[] = {
	{ "initialiseSecureChannel", 0 }, { "configureISDP", 1 }, { "storeMetadata", 2 },
	{ "storeMetadata2", 3 }, { "replaceSessionKeys", 4 }, { "loadProfileElements", 5 },
	{ NULL, 0 },
};
static const struct named error_reasons[] = {
	{ "incorrectInputValues", 1 }, { "invalidSignature", 2 }, { "invalidTransactionId", 3 },
	{ "unsupportedCrtValues", 4 }, { "unsupportedRemoteOperationType", 5 },
	{ "unsupportedProfileClass", 6 }, { "scp03tStructureError", 7 },
	{ "scp03tSecurityError", 8 }, { "installFailedDueToIccidAlreadyExistsOnEuicc", 9 },
	{ "installFailedDueToInsufficientMemoryForProfile", 10 },
	{ "installFailedDueToInterruption", 11 }, { "installFailedDueToPEProcessingError", 12 },
	{ "installFailedDueToDataMismatch", 13 }, { "testProfileInstallFailedDueToInvalidNaaKey", 14 },
	{ "pprNotAllowed", 15 }, { "installFailedDueToUnknownError", 127 },
	{ NULL, 0 },
};

/* Everything the command line sets. */
struct cli {
	char pki[PATH_LEN];
	char ci[PATH_LEN], euicc_cert[PATH_LEN], euicc_key[PATH_LEN], eum_cert[PATH_LEN];
	char tls_ca[PATH_LEN];
	int tls_ca_set;
	const char *ac;
	const char *connect;
	int brainpool;
	int timeout_ms;
	int retry;
	int repeat;                  /* --repeat N, 0 = once */
	struct euicc_cfg ecfg;
	struct lpa_opts lo;
	/* device description files and extension bytes (lo / ecfg point here) */
	struct buf info1, info2, devinfo, asn1_ext;
	/* replays: --replay-* objects (lo points here) and the send command */
	struct buf replay_asr, replay_pdr, replay_csr, object;
	int send_fn;                 /* --function: an enum es9_fn, -1 = none */
	uint8_t txid[16];            /* --txid */
	size_t txid_len;
};

/* Hex text: digits in pairs, whitespace ignored, '#' to the end of the line
 * a comment. Replaces out. 0 / -1. */
static int hex_text(const char *s, size_t n, struct buf *out)
{
	char *digits = malloc(n + 1);
	uint8_t *bytes = malloc(n / 2 + 1);
	size_t k = 0;
	int len, rc = -1;

	if (!digits || !bytes)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '#') {
			while (i < n && s[i] != '\n')
				i++;
		} else if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
			digits[k++] = s[i];
		}
	}
	digits[k] = '\0';
	len = k ? hex_decode(digits, bytes, n / 2 + 1) : -1;
	if (len <= 0)
		goto out;
	buf_free(out);
	out->p = bytes;
	out->len = (size_t)len;
	bytes = NULL;
	rc = 0;
out:
	free(digits);
	free(bytes);
	return rc;
}

/* A DER object file of at most max bytes, or hex text when the name ends
 * in .hex. 0 / -1 (also when empty). */
static int read_der_file(const char *path, size_t max, struct buf *out)
{
	struct buf raw = { 0 };
	size_t n = strlen(path);
	int rc;

	buf_free(out);
	if (file_read(path, n > 4 && !strcmp(path + n - 4, ".hex") ? 4 * max : max, &raw))
		return -1;
	if (n > 4 && !strcmp(path + n - 4, ".hex")) {
		rc = hex_text((const char *)raw.p, raw.len, out);
		buf_free(&raw);
		return rc;
	}
	*out = raw;
	return raw.len ? 0 : -1;
}

/* A device description file (--euicc-info1/2, --device-info). */
static int read_device_file(const char *path, struct buf *out)
{
	return read_der_file(path, DEVICE_FILE_MAX, out);
}

/* ES9+ functions the send command can replay, by their JSON path name. */
static const struct named send_functions[] = {
	{ "authenticateClient", ES9_AUTH_CLIENT }, { "getBoundProfilePackage", ES9_GET_BPP },
	{ "cancelSession", ES9_CANCEL_SESSION }, { "handleNotification", ES9_HANDLE_NOTIF },
	{ NULL, 0 },
};

/* A number (decimal) or one of the names in t. 0 / -1. */
static int parse_named(const char *s, size_t len, const struct named *t, long *out)
{
	char *end;
	long v;

	for (; t->name; t++)
		if (strlen(t->name) == len && !strncasecmp(s, t->name, len)) {
			*out = t->value;
			return 0;
		}
	if (len == 0 || len > 10)
		return -1;
	v = strtol(s, &end, 10);
	if (end != s + len || v < 0 || v > 255)
		return -1;
	*out = v;
	return 0;
}

/* "HEX[,HEX]" into a CI key id list ("" = empty list). 0 / -1. */
static int parse_ci_list(const char *s, struct ci_id *ids, size_t *n)
{
	char item[2 * 32 + 2];
	const char *p = s, *comma;
	size_t len;
	int k;

	*n = 0;
	while (*p) {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (*n >= SMDP_MAX_CI_IDS || len == 0 || len >= sizeof(item))
			return -1;
		memcpy(item, p, len);
		item[len] = '\0';
		k = hex_decode(item, ids[*n].id, sizeof(ids[*n].id));
		if (k <= 0)
			return -1;
		ids[(*n)++].len = (size_t)k;
		p += len + (comma ? 1 : 0);
		if (comma && !*p)
			return -1;
	}
	return 0;
}

static int parse_svn(const char *s, uint8_t svn[3])
{
	unsigned a, b, c;
	char tail;

	if (sscanf(s, "%u.%u.%u%c", &a, &b, &c, &tail) != 3 || a > 255 || b > 255 || c > 255)
		return -1;
	svn[0] = (uint8_t)a;
	svn[1] = (uint8_t)b;
	svn[2] = (uint8_t)c;
	return 0;
}

/* "host[:port]" / "[v6]:port" into host and port (0 when absent). 0 / -1. */
static int split_host_port(const char *s, char *host, size_t hostsz, int *port)
{
	const char *colon, *hend;
	char *end;
	long p;

	*port = 0;
	if (*s == '[') {
		hend = strchr(s, ']');
		if (!hend)
			return -1;
		colon = hend[1] == ':' ? hend + 1 : NULL;
		if (hend[1] && !colon)
			return -1;
		s++;
	} else {
		colon = strrchr(s, ':');
		hend = colon ? colon : s + strlen(s);
	}
	if (hend == s || (size_t)(hend - s) >= hostsz)
		return -1;
	memcpy(host, s, (size_t)(hend - s));
	host[hend - s] = '\0';
	if (colon) {
		p = strtol(colon + 1, &end, 10);
		if (*end || end == colon + 1 || p < 1 || p > 65535)
			return -1;
		*port = (int)p;
	}
	return 0;
}

/* Activation code (SGP.22 4.1, AC format): [LPA:]1$SM-DP+ address$AC token[$...].
 * An empty or missing token leaves matchingId absent. 0 / -1. */
static int parse_ac(const char *ac, struct lpa_opts *lo)
{
	const char *p = ac, *d1, *d2;
	size_t len;

	if (!strncasecmp(p, "LPA:", 4))
		p += 4;
	if (strncmp(p, "1$", 2))
		return -1;
	p += 2;
	d1 = strchr(p, '$');
	len = d1 ? (size_t)(d1 - p) : strlen(p);
	if (len == 0 || len > SMDP_MAX_ADDRESS)
		return -1;
	memcpy(lo->smdp_address, p, len);
	lo->smdp_address[len] = '\0';
	if (!d1)
		return 0;
	p = d1 + 1;
	d2 = strchr(p, '$');
	len = d2 ? (size_t)(d2 - p) : strlen(p);
	if (len > SMDP_MAX_MATCHING_ID)
		return -1;
	if (len && !lo->has_matching_id) {
		memcpy(lo->matching_id, p, len);
		lo->matching_id[len] = '\0';
		lo->has_matching_id = 1;
	}
	return 0;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "smdp-client: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see smdp-client --help)\n");
	return EX_USAGE;
}

/* Parse argv into c. Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct cli *c)
{
	const char *at, *colon, *ci = NULL, *ecert = NULL, *ekey = NULL, *eum = NULL;
	long v;
	int opt;

	snprintf(c->pki, sizeof(c->pki), "certs/sgp26-nist");
	c->send_fn = -1;
	c->ecfg.svn[0] = 2;
	c->ecfg.svn[1] = 5;
	c->ecfg.svn[2] = 0;
	c->ecfg.tac[0] = 0x35;   /* TAC 35290611 */
	c->ecfg.tac[1] = 0x29;
	c->ecfg.tac[2] = 0x06;
	c->ecfg.tac[3] = 0x11;
	while ((opt = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		switch (opt) {
		case O_AC:
			c->ac = optarg;
			break;
		case O_MATCHING_ID:
			if (strlen(optarg) > SMDP_MAX_MATCHING_ID)
				return usage_error("--matching-id too long");
			snprintf(c->lo.matching_id, sizeof(c->lo.matching_id), "%s", optarg);
			c->lo.has_matching_id = 1;
			break;
		case O_CONNECT:
			c->connect = optarg;
			break;
		case O_TLS_CA:
			snprintf(c->tls_ca, sizeof(c->tls_ca), "%s", optarg);
			c->tls_ca_set = 1;
			break;
		case O_BRAINPOOL:
			c->brainpool = 1;
			break;
		case O_TIMEOUT:
			v = strtol(optarg, NULL, 10);
			if (v <= 0 || v > 3600000)
				return usage_error("bad --timeout '%s'", optarg);
			c->timeout_ms = (int)v;
			break;
		case O_PKI:
			snprintf(c->pki, sizeof(c->pki), "%s", optarg);
			break;
		case O_CI:
			ci = optarg;
			break;
		case O_EUICC_CERT:
			ecert = optarg;
			break;
		case O_EUICC_KEY:
			ekey = optarg;
			break;
		case O_EUM_CERT:
			eum = optarg;
			break;
		case O_CI_LIST_SIGN:
			if (parse_ci_list(optarg, c->ecfg.ci_sign, &c->ecfg.n_ci_sign))
				return usage_error("bad --ci-list-sign '%s'", optarg);
			c->ecfg.ci_sign_set = 1;
			break;
		case O_CI_LIST_VERIFY:
			if (parse_ci_list(optarg, c->ecfg.ci_verif, &c->ecfg.n_ci_verif))
				return usage_error("bad --ci-list-verify '%s'", optarg);
			c->ecfg.ci_verif_set = 1;
			break;
		case O_SVN:
			if (parse_svn(optarg, c->ecfg.svn))
				return usage_error("bad --svn '%s' (want X.Y.Z)", optarg);
			break;
		case O_CC:
			c->lo.cc = optarg;
			break;
		case O_EXPECT:
			c->lo.expect = optarg;
			break;
		case O_CANCEL:
			at = strchr(optarg, '@');
			if (parse_named(optarg, at ? (size_t)(at - optarg) : strlen(optarg),
					cancel_reasons, &c->lo.cancel_reason))
				return usage_error("bad --cancel reason in '%s'", optarg);
			if (at && !strcmp(at + 1, "bpp"))
				c->lo.cancel_after_bpp = 1;
			else if (at && strcmp(at + 1, "auth"))
				return usage_error("bad --cancel step in '%s' (auth or bpp)", optarg);
			c->lo.cancel = 1;
			break;
		case O_CANCEL_OID:
			if (strlen(optarg) > SMDP_MAX_OID)
				return usage_error("--cancel-oid too long");
			c->lo.cancel_oid = optarg;
			break;
		case O_CANCEL_BAD_SIG:
			c->ecfg.bad_cancel_signature = 1;
			break;
		case O_RETRY:
			c->retry = 1;
			break;
		case O_PIR_ERROR:
			colon = strchr(optarg, ':');
			if (!colon ||
			    parse_named(optarg, (size_t)(colon - optarg), bpp_commands, &c->lo.pir_bpp_cmd) ||
			    parse_named(colon + 1, strlen(colon + 1), error_reasons, &c->lo.pir_reason))
				return usage_error("bad --pir-error '%s' (want CMD:REASON)", optarg);
			c->lo.pir_error = 1;
			break;
		case O_SKIP_PIR:
			c->lo.skip_pir = 1;
			break;
		case O_PIR_DELAY:
			c->lo.pir_delay_ms = atoi(optarg);
			if (c->lo.pir_delay_ms < 0 || c->lo.pir_delay_ms > 600000)
				return usage_error("--pir-delay takes 0..600000 ms");
			break;
		case O_REPEAT:
			c->repeat = atoi(optarg);
			if (c->repeat < 1 || c->repeat > 1000000)
				return usage_error("--repeat takes 1..1000000");
			break;
		case O_BAD_SIG1:
			c->ecfg.bad_signature1 = 1;
			break;
		case O_BAD_SIG2:
			c->ecfg.bad_signature2 = 1;
			break;
		case O_WRONG_CHALLENGE:
			c->ecfg.wrong_challenge = 1;
			break;
		case O_WRONG_TXID:
			c->lo.wrong_txid = 1;
			break;
		case O_SMDP_ADDRESS:
			if (strlen(optarg) > SMDP_MAX_ADDRESS)
				return usage_error("--smdp-address too long");
			snprintf(c->lo.override_address, sizeof(c->lo.override_address), "%s", optarg);
			break;
		case O_NO_VERIFY:
			c->ecfg.no_verify_server = 1;
			break;
		case O_BINDING:
			if (!strcasecmp(optarg, "json"))
				c->lo.binding = LPA_BINDING_JSON;
			else if (!strcasecmp(optarg, "asn1"))
				c->lo.binding = LPA_BINDING_ASN1;
			else
				return usage_error("bad --binding '%s' (json or asn1)", optarg);
			break;
		case O_ASN1_EXT:
			if (hex_text(optarg, strlen(optarg), &c->asn1_ext))
				return usage_error("bad --asn1-extension '%s' (hex)", optarg);
			c->lo.asn1_ext = &c->asn1_ext;
			break;
		case O_EUICC_INFO1:
			if (read_device_file(optarg, &c->info1))
				return usage_error("cannot read --euicc-info1 '%s'", optarg);
			c->lo.euicc_info1 = &c->info1;
			break;
		case O_EUICC_INFO2:
			if (read_device_file(optarg, &c->info2))
				return usage_error("cannot read --euicc-info2 '%s'", optarg);
			c->ecfg.euicc_info2 = &c->info2;
			break;
		case O_DEVICE_INFO:
			if (read_device_file(optarg, &c->devinfo))
				return usage_error("cannot read --device-info '%s'", optarg);
			c->lo.device_info = &c->devinfo;
			break;
		case O_EIM:
			c->lo.eim = 1;
			break;
		case O_EIM_UNFILLED:
			if (!strcmp(optarg, "smdpAddress"))
				c->lo.omit_smdp_address = 1;
			else if (!strcmp(optarg, "euiccInfo1"))
				c->lo.omit_euicc_info1 = 1;
			else
				return usage_error("bad --eim-unfilled '%s' (smdpAddress or euiccInfo1)",
						   optarg);
			break;
		case O_SAVE:
			c->lo.save_dir = optarg;
			break;
		case O_REPLAY_ASR:
			if (read_der_file(optarg, OBJECT_FILE_MAX, &c->replay_asr))
				return usage_error("cannot read --replay-asr '%s'", optarg);
			c->lo.replay_asr = &c->replay_asr;
			break;
		case O_REPLAY_PDR:
			if (read_der_file(optarg, OBJECT_FILE_MAX, &c->replay_pdr))
				return usage_error("cannot read --replay-pdr '%s'", optarg);
			c->lo.replay_pdr = &c->replay_pdr;
			break;
		case O_REPLAY_CSR:
			if (read_der_file(optarg, OBJECT_FILE_MAX, &c->replay_csr))
				return usage_error("cannot read --replay-csr '%s'", optarg);
			c->lo.replay_csr = &c->replay_csr;
			break;
		case O_PAUSE:
			colon = strchr(optarg, ':');
			if (!colon || !colon[1])
				return usage_error("bad --pause '%s' (want STEP:FILE)", optarg);
			if (!strncmp(optarg, "auth:", 5))
				c->lo.pause_step = LPA_PAUSE_AUTH;
			else if (!strncmp(optarg, "bpp:", 4))
				c->lo.pause_step = LPA_PAUSE_BPP;
			else if (!strncmp(optarg, "cancel:", 7))
				c->lo.pause_step = LPA_PAUSE_CANCEL;
			else if (!strncmp(optarg, "pir:", 4))
				c->lo.pause_step = LPA_PAUSE_PIR;
			else
				return usage_error("bad --pause step in '%s' (auth, bpp, cancel or pir)",
						   optarg);
			c->lo.pause_file = colon + 1;
			break;
		case O_FUNCTION:
			if (parse_named(optarg, strlen(optarg), send_functions, &v) || v > 255 ||
			    strspn(optarg, "0123456789") == strlen(optarg))
				return usage_error("bad --function '%s'", optarg);
			c->send_fn = (int)v;
			break;
		case O_TXID:
			v = strlen(optarg) <= 2 * sizeof(c->txid) ?
			    hex_decode(optarg, c->txid, sizeof(c->txid)) : -1;
			if (v <= 0)
				return usage_error("bad --txid '%s' (1 to 16 bytes in hex)", optarg);
			c->txid_len = (size_t)v;
			break;
		case O_OBJECT:
			if (read_der_file(optarg, OBJECT_FILE_MAX, &c->object))
				return usage_error("cannot read --object '%s'", optarg);
			break;
		case 'v':
			c->lo.verbose = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EX_OK;
		default:
			return usage_error("unknown option");
		}
	}
	/* --pki fills whatever was not given file by file */
	snprintf(c->ci, sizeof(c->ci), "%s", ci ? ci : "");
	if (!ci && (size_t)snprintf(c->ci, sizeof(c->ci), "%s/ci.der", c->pki) >= sizeof(c->ci))
		return usage_error("--pki path too long");
	snprintf(c->euicc_cert, sizeof(c->euicc_cert), "%s", ecert ? ecert : "");
	if (!ecert)
		snprintf(c->euicc_cert, sizeof(c->euicc_cert), "%.480s/euicc/euicc.der", c->pki);
	snprintf(c->euicc_key, sizeof(c->euicc_key), "%s", ekey ? ekey : "");
	if (!ekey)
		snprintf(c->euicc_key, sizeof(c->euicc_key), "%.480s/euicc/euicc.key.pem", c->pki);
	snprintf(c->eum_cert, sizeof(c->eum_cert), "%s", eum ? eum : "");
	if (!eum)
		snprintf(c->eum_cert, sizeof(c->eum_cert), "%.480s/euicc/eum.der", c->pki);
	if (!c->tls_ca_set)
		snprintf(c->tls_ca, sizeof(c->tls_ca), "%s", c->ci);
	c->ecfg.ci_cert = c->ci;
	c->ecfg.euicc_cert = c->euicc_cert;
	c->ecfg.euicc_key = c->euicc_key;
	c->ecfg.eum_cert = c->eum_cert;
	return -1;
}

static int print_result(const struct lpa_result *r)
{
	switch (r->outcome) {
	case LPA_OK:
		printf("result: ok %d iccid=%s profile=%zu bytes%s", r->calls,
		       r->iccid[0] ? r->iccid : "-", r->profile_len,
		       r->expect_match ? " match=yes" : "");
		if (r->cancelled)
			printf(" cancelled=%ld", r->cancel_reason);
		printf("\n");
		return EX_OK;
	case LPA_FAILED:
		printf("result: failed %s %s/%s %s\n", r->function, r->subject, r->reason, r->message);
		return EX_SERVER;
	default:
		printf("result: error %s\n", r->message);
		return EX_CLIENT;
	}
}

static int client_error(const char *what)
{
	printf("result: error %s\n", what);
	return EX_CLIENT;
}

/* `info`: what the eUICC would announce, for setting up orders. */
static int cmd_info(struct cli *c)
{
	struct euicc e;
	struct buf info1 = { 0 };
	char err[600] = "", hex[2 * 512 + 1], ski[2 * 32 + 1];
	int rc;

	if (euicc_open(&e, &c->ecfg, err, sizeof(err)))
		return client_error(err);
	hex_encode(e.ci_ski.id, e.ci_ski.len, ski, sizeof(ski));
	if (euicc_get_info1(&e, &info1) || hex_encode(info1.p, info1.len, hex, sizeof(hex)) < 0) {
		rc = client_error("cannot encode EUICCInfo1");
	} else {
		printf("eid %s\nci-ski %s\ncurve %s\neuiccInfo1 %s\n", e.eid, ski,
		       crypto_curve_name(e.curve), hex);
		rc = EX_OK;
	}
	buf_free(&info1);
	euicc_close(&e);
	return rc;
}

static int cmd_download(struct cli *c)
{
	struct euicc e;
	struct httpc_cfg hc;
	struct httpc *h = NULL;
	struct lpa_result res;
	struct lpa_opts first;
	char err[600] = "", host[256];
	int port = 0, cport = 0, opened = 0, rc;

	memset(&res, 0, sizeof(res));
	memset(&hc, 0, sizeof(hc));
	if (!c->ac)
		return usage_error("%s needs --ac", c->send_fn >= 0 ? "send" : "download");
	if (parse_ac(c->ac, &c->lo))
		return usage_error("bad activation code '%s' (want LPA:1$host[:port]$matchingId)", c->ac);
	if (split_host_port(c->lo.smdp_address, host, sizeof(host), &port))
		return usage_error("bad SM-DP+ address in the AC '%s'", c->ac);
	snprintf(hc.server_name, sizeof(hc.server_name), "%s", host);
	snprintf(hc.host, sizeof(hc.host), "%s", host);
	hc.port = port ? port : 443;
	if (c->connect) {
		if (split_host_port(c->connect, host, sizeof(host), &cport))
			return usage_error("bad --connect '%s'", c->connect);
		snprintf(hc.host, sizeof(hc.host), "%s", host);
		if (cport)
			hc.port = cport;
	}
	if (euicc_open(&e, &c->ecfg, err, sizeof(err))) {
		rc = client_error(err);
		goto out;
	}
	opened = 1;
	if ((size_t)snprintf(hc.ca_file, sizeof(hc.ca_file), "%s", c->tls_ca) >= sizeof(hc.ca_file)) {
		rc = client_error("--tls-ca path too long");
		goto out;
	}
	/* OpenSSL 3.0 does brainpool only over TLS 1.2 */
	hc.brainpool = c->brainpool || e.curve == CURVE_BRAINPOOL_P256R1;
	hc.tls12_only = hc.brainpool;
	hc.timeout_ms = c->timeout_ms;
	log_info("eUICC EID %s, CI on %s; SM-DP+ %s via %s:%d (TLS name %s%s)", e.eid,
		 crypto_curve_name(e.curve), c->lo.smdp_address, hc.host, hc.port, hc.server_name,
		 hc.brainpool ? ", brainpool/TLS 1.2" : "");
	if (!(h = httpc_new(&hc))) {
		rc = client_error("cannot set up the HTTPS client (TLS CA file?)");
		goto out;
	}
	if (c->send_fn >= 0) {
		lpa_send(h, &c->lo, (enum es9_fn)c->send_fn, c->txid, c->txid_len, &c->object, &res);
		rc = print_result(&res);
		goto out;
	}
	lpa_download(h, &e, &c->lo, &res);
	if (c->repeat > 1 && res.outcome == LPA_OK) {
		struct timespec t0, t1;
		int done = 1;
		double secs;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (; done < c->repeat && res.outcome == LPA_OK; done++)
			lpa_download(h, &e, &c->lo, &res);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		/* the first download (TLS handshake, warm-up) is not timed */
		printf("timing: %d downloads in %.3f s, %.2f ms each\n", done - 1, secs,
		       done > 1 ? secs * 1000.0 / (done - 1) : 0.0);
	}
	if (c->retry) {
		log_info("first attempt ended: %s %s", res.outcome == LPA_OK ? "ok" :
			 res.outcome == LPA_FAILED ? "failed" : "error", res.message);
		/* second attempt: same eUICC (keeps otSK), no misbehaviour */
		first = c->lo;
		first.cancel = 0;
		first.wrong_txid = 0;
		first.pir_error = 0;
		first.skip_pir = 0;
		first.omit_smdp_address = first.omit_euicc_info1 = 0;
		first.override_address[0] = '\0';
		first.replay_asr = first.replay_pdr = first.replay_csr = NULL;
		first.pause_step = 0;
		first.save_dir = NULL;
		e.cfg.bad_signature1 = e.cfg.bad_signature2 = e.cfg.wrong_challenge = 0;
		e.cfg.bad_cancel_signature = 0;
		lpa_download(h, &e, &first, &res);
	}
	rc = print_result(&res);
out:
	httpc_free(h);
	if (opened)
		euicc_close(&e);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli *c = calloc(1, sizeof(*c));
	const char *cmd;
	int rc;

	if (!c)
		return EX_CLIENT;
	/* a leading command word; options may come before or after it */
	rc = parse_args(argc, argv, c);
	if (rc >= 0)
		goto out;
	if (optind >= argc) {
		rc = usage_error("a command is needed: download or info");
		goto out;
	}
	cmd = argv[optind];
	if (optind + 1 < argc) {
		rc = usage_error("unexpected argument '%s'", argv[optind + 1]);
		goto out;
	}
	log_set_level(c->lo.verbose ? LOG_DEBUG : LOG_INFO);
	if (!strcmp(cmd, "download")) {
		if (c->send_fn >= 0 || c->object.len || c->txid_len) {
			rc = usage_error("--function, --txid and --object belong to send");
			goto out;
		}
		rc = cmd_download(c);
	} else if (!strcmp(cmd, "send")) {
		if (c->send_fn < 0 || !c->object.len) {
			rc = usage_error("send needs --function and --object");
			goto out;
		}
		if (!c->txid_len) {   /* a transactionId the SM-DP+ never issued */
			memset(c->txid, 0xA5, sizeof(c->txid));
			c->txid_len = sizeof(c->txid);
		}
		rc = cmd_download(c);
	} else if (!strcmp(cmd, "info")) {
		rc = cmd_info(c);
	} else {
		rc = usage_error("unknown command '%s'", cmd);
	}
out:
	buf_free(&c->info1);
	buf_free(&c->info2);
	buf_free(&c->devinfo);
	buf_free(&c->asn1_ext);
	buf_free(&c->replay_asr);
	buf_free(&c->replay_pdr);
	buf_free(&c->replay_csr);
	buf_free(&c->object);
	free(c);
	return rc;
}
