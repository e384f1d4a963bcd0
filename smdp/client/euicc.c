/* euicc.c - a software eUICC for smdp-client: the ISD-R side of SGP.22 ES10b
 * (5.7.5 PrepareDownload, 5.7.6 LoadBoundProfilePackage, 5.7.7/5.7.8,
 * 5.7.13 AuthenticateServer, 5.7.14 CancelSession) and ES8+ BPP opening
 * (5.5, 2.6.6), with SGP.26 test credentials. Bytes in, bytes out. */
#include "client.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define OID_POLICY_DPAUTH "2.23.146.1.2.1.4"   /* id-rspRole-dp-auth */
#define OID_POLICY_DPPB   "2.23.146.1.2.1.5"   /* id-rspRole-dp-pb */

#define TAG_SIGNATURE   0x5F37  /* [APPLICATION 55] r||s signature */
#define TAG_OTPK        0x5F49  /* [APPLICATION 73] one-time public key */
#define SIG_TLV_LEN     (3 + SMDP_SIG_LEN)    /* 5F37 40 <64> */
#define OTPK_TLV_LEN    (3 + SMDP_POINT_LEN)  /* 5F49 41 <65> */

/* SGP.23 values for the installed ISD-P and a successful SIMA response. */
static const uint8_t isdp_aid[16] = {
	0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF,
	0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x10, 0x00,
};
static const uint8_t sima_ok[] = { 0x30, 0x07, 0xA0, 0x05, 0x30, 0x03, 0x80, 0x01, 0x00 };

/* Results of checking an SM-DP+ certificate, mapped to each function's
 * error enum by the caller. */
enum cert_check { CK_OK = 0, CK_INVALID, CK_CURVE, CK_CI_UNKNOWN, CK_NO_OID };

static void msgf(char *msg, size_t msgsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void msgf(char *msg, size_t msgsz, const char *fmt, ...)
{
	va_list ap;

	if (!msg || !msgsz)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msgsz, fmt, ap);
	va_end(ap);
}

/* The EID packs its 32 decimal digits into 16 bytes (SGP.22 2.6.6.2: the
 * KDF shared info carries the EID as in the EID data object, not ASCII). */
int euicc_eid_to_bin(const char *eid, uint8_t out[16])
{
	if (strlen(eid) != SMDP_EID_LEN)
		return -1;
	for (size_t i = 0; i < SMDP_EID_LEN; i++)
		if (eid[i] < '0' || eid[i] > '9')
			return -1;
	return hex_decode(eid, out, 16) == 16 ? 0 : -1;
}

void euicc_iccid_digits(const uint8_t iccid[10], int ef_coding, char *out, size_t outsz)
{
	size_t o = 0;

	if (!outsz)
		return;
	/* EF.ICCID: low nibble first; 'F' pads an odd count either way */
	for (size_t i = 0; i < 10; i++) {
		uint8_t lo = (uint8_t)(iccid[i] & 0x0F), hi = (uint8_t)(iccid[i] >> 4);
		uint8_t d[2] = { ef_coding ? lo : hi, ef_coding ? hi : lo };
		for (int k = 0; k < 2; k++) {
			if (d[k] > 9)
				goto done;
			if (o + 1 >= outsz)
				goto done;
			out[o++] = (char)('0' + d[k]);
		}
	}
done:
	out[o] = '\0';
}

/* Parse a 5F37 40 <r||s> TLV exactly. */
static int sig_from_tlv(const uint8_t *p, size_t n, uint8_t sig[SMDP_SIG_LEN])
{
	if (!p || n != SIG_TLV_LEN || p[0] != 0x5F || p[1] != 0x37 || p[2] != SMDP_SIG_LEN)
		return -1;
	memcpy(sig, p + 3, SMDP_SIG_LEN);
	return 0;
}

/* Append 5F37 40 <sig> (the form both signatures 2 include, SGP.22 5.6.2/5.7.5). */
static int append_sig_tlv(struct buf *b, const uint8_t sig[SMDP_SIG_LEN])
{
	static const uint8_t hdr[3] = { 0x5F, 0x37, SMDP_SIG_LEN };

	if (buf_append(b, hdr, sizeof(hdr)))
		return -1;
	return buf_append(b, sig, SMDP_SIG_LEN);
}

static int load_fail(char *err, size_t errsz, const char *what, const char *path)
{
	msgf(err, errsz, "cannot load %s from %s", what, path ? path : "(none)");
	return -1;
}

int euicc_open(struct euicc *e, const struct euicc_cfg *cfg, char *err, size_t errsz)
{
	int rc = -1, n;

	memset(e, 0, sizeof(*e));
	e->cfg = *cfg;
	/* the paths belong to the caller: do not keep them */
	e->cfg.ci_cert = e->cfg.euicc_cert = e->cfg.euicc_key = e->cfg.eum_cert = NULL;

	if (!cfg->ci_cert || !(e->ci = crypto_cert_load(cfg->ci_cert))) {
		load_fail(err, errsz, "the CI certificate", cfg->ci_cert);
		goto out;
	}
	if (!cfg->euicc_cert || !(e->cert = crypto_cert_load(cfg->euicc_cert))) {
		load_fail(err, errsz, "CERT.EUICC", cfg->euicc_cert);
		goto out;
	}
	if (!cfg->eum_cert || !(e->eum = crypto_cert_load(cfg->eum_cert))) {
		load_fail(err, errsz, "CERT.EUM", cfg->eum_cert);
		goto out;
	}
	if (!cfg->euicc_key || !(e->key = crypto_key_load(cfg->euicc_key))) {
		load_fail(err, errsz, "SK.EUICC", cfg->euicc_key);
		goto out;
	}
	e->curve = crypto_cert_curve(e->ci);
	if (e->curve == CURVE_NONE) {
		msgf(err, errsz, "the CI key is not on a supported curve");
		goto out;
	}
	n = crypto_cert_ski(e->ci, e->ci_ski.id, sizeof(e->ci_ski.id));
	if (n <= 0) {
		msgf(err, errsz, "the CI certificate has no usable subjectKeyIdentifier");
		goto out;
	}
	e->ci_ski.len = (size_t)n;
	if (crypto_cert_subject_serial(e->cert, e->eid, sizeof(e->eid)) ||
	    euicc_eid_to_bin(e->eid, e->eid_bin)) {
		msgf(err, errsz, "CERT.EUICC has no 32-digit EID in its serialNumber");
		goto out;
	}
	/* Mismatched credentials are allowed (negative tests of the server's
	 * chain checks) but worth a warning. */
	if (crypto_key_matches_cert(e->key, e->cert) != 1)
		log_warn("eUICC: SK.EUICC does not match CERT.EUICC: signatures will not verify");
	if (crypto_cert_signed_by(e->cert, e->eum) != 1)
		log_warn("eUICC: CERT.EUICC is not signed by CERT.EUM");
	if (crypto_cert_signed_by(e->eum, e->ci) != 1)
		log_warn("eUICC: CERT.EUM is not signed by the CI given");

	memcpy(e->info1.svn, cfg->svn, 3);
	if (cfg->ci_sign_set) {
		e->info1.n_sign = cfg->n_ci_sign > SMDP_MAX_CI_IDS ? SMDP_MAX_CI_IDS : cfg->n_ci_sign;
		memcpy(e->info1.sign, cfg->ci_sign, e->info1.n_sign * sizeof(struct ci_id));
	} else {
		e->info1.sign[0] = e->ci_ski;
		e->info1.n_sign = 1;
	}
	if (cfg->ci_verif_set) {
		e->info1.n_verif = cfg->n_ci_verif > SMDP_MAX_CI_IDS ? SMDP_MAX_CI_IDS : cfg->n_ci_verif;
		memcpy(e->info1.verif, cfg->ci_verif, e->info1.n_verif * sizeof(struct ci_id));
	} else {
		e->info1.verif[0] = e->ci_ski;
		e->info1.n_verif = 1;
	}
	rc = 0;
out:
	if (rc)
		euicc_close(e);
	return rc;
}

void euicc_session_end(struct euicc *e)
{
	if (!e)
		return;
	crypto_cert_free(e->s.dppb);
	crypto_cleanse(&e->s, sizeof(e->s));
	memset(&e->s, 0, sizeof(e->s));
}

void euicc_close(struct euicc *e)
{
	if (!e)
		return;
	euicc_session_end(e);
	crypto_cert_free(e->ci);
	crypto_cert_free(e->cert);
	crypto_cert_free(e->eum);
	crypto_key_free(e->key);
	crypto_key_free(e->otsk);
	memset(e, 0, sizeof(*e));
}

int euicc_set_identity(struct euicc *e, const crypto_cert *cert, const crypto_key *key)
{
	char eid[SMDP_EID_LEN + 1];
	uint8_t eid_bin[16];
	crypto_cert *c;
	crypto_key *k;

	if (!e || !cert || !key || crypto_cert_subject_serial(cert, eid, sizeof(eid)) ||
	    euicc_eid_to_bin(eid, eid_bin))
		return -1;
	c = crypto_cert_ref(cert);
	k = crypto_key_ref(key);
	if (!c || !k) {
		crypto_cert_free(c);
		crypto_key_free(k);
		return -1;
	}
	euicc_session_end(e);
	crypto_cert_free(e->cert);
	crypto_key_free(e->key);
	crypto_key_free(e->otsk);
	e->otsk = NULL;
	e->otpk_reused = 0;
	e->cert = c;
	e->key = k;
	memcpy(e->eid, eid, sizeof(eid));
	memcpy(e->eid_bin, eid_bin, sizeof(eid_bin));
	return 0;
}

int euicc_get_challenge(struct euicc *e, uint8_t out[SMDP_CHAL_LEN])
{
	euicc_session_end(e);
	if (crypto_random(e->s.challenge, SMDP_CHAL_LEN))
		return -1;
	e->s.state = EUICC_S_CHALLENGE;
	memcpy(out, e->s.challenge, SMDP_CHAL_LEN);
	return 0;
}

int euicc_get_info1(const struct euicc *e, struct buf *out)
{
	return der_encode_euicc_info1(&e->info1, out);
}

/* Check an SM-DP+ certificate as SGP.22 5.7.13 / 5.7.5 ask: it chains to
 * our CI (AKI, signature), is valid now, carries the role policy, is on
 * the CI's curve, and names the SM-DP+ OID in its SAN. The parsed cert
 * goes to *out on success (caller frees). */
static enum cert_check check_server_cert(const struct euicc *e, const uint8_t *der, size_t n,
					 const char *policy, crypto_cert **out, char *oid,
					 size_t oidsz, char *msg, size_t msgsz)
{
	crypto_cert *c = NULL;
	uint8_t aki[32];
	enum cert_check rc = CK_INVALID;
	int akilen, v;
	long ku;

	if (!der || n == 0 || n > SMDP_MAX_CERT || !(c = crypto_cert_from_der(der, n))) {
		msgf(msg, msgsz, "certificate does not parse");
		goto out;
	}
	if (crypto_cert_curve(c) != e->curve) {
		msgf(msg, msgsz, "certificate key is on %s, the CI on %s",
		     crypto_curve_name(crypto_cert_curve(c)), crypto_curve_name(e->curve));
		rc = CK_CURVE;
		goto out;
	}
	akilen = crypto_cert_aki(c, aki, sizeof(aki));
	if (akilen <= 0 || (size_t)akilen != e->ci_ski.len || memcmp(aki, e->ci_ski.id, e->ci_ski.len)) {
		msgf(msg, msgsz, "certificate authorityKeyIdentifier does not name our CI");
		rc = CK_CI_UNKNOWN;
		goto out;
	}
	if (crypto_cert_signed_by(c, e->ci) != 1) {
		msgf(msg, msgsz, "certificate is not signed by the CI");
		goto out;
	}
	v = crypto_cert_validity(c, time(NULL));
	if (v) {
		msgf(msg, msgsz, "certificate is %s", v == 1 ? "expired" : v == 2 ? "not yet valid" :
		     "of unknown validity");
		goto out;
	}
	if (crypto_cert_has_policy(c, policy) != 1) {
		msgf(msg, msgsz, "certificate lacks policy %s", policy);
		goto out;
	}
	ku = crypto_cert_key_usage(c);
	if (ku >= 0 && !(ku & CRYPTO_KU_DIGITAL_SIGNATURE)) {
		msgf(msg, msgsz, "certificate key usage lacks digitalSignature");
		goto out;
	}
	if (crypto_cert_san_rid(c, oid, oidsz)) {
		msgf(msg, msgsz, "certificate has no SM-DP+ OID (SAN registeredID)");
		rc = CK_NO_OID;
		goto out;
	}
	*out = c;
	c = NULL;
	rc = CK_OK;
out:
	crypto_cert_free(c);
	return rc;
}

/* Verify a 5F37 signature TLV over msg||extra (extra may be NULL) with the
 * public key of cert. 1 valid, 0 not, -1 error. */
static int verify_with_cert(const crypto_cert *cert, const uint8_t *msg, size_t n,
			    const struct buf *extra, const uint8_t *sig_tlv, size_t sig_len)
{
	uint8_t sig[SMDP_SIG_LEN];
	struct buf tbs = { 0 };
	crypto_key *pk = NULL;
	int rc = -1;

	if (sig_from_tlv(sig_tlv, sig_len, sig)) {
		rc = 0;
		goto out;
	}
	if (!(pk = crypto_cert_pubkey(cert)))
		goto out;
	if (buf_set(&tbs, msg, n) || (extra && buf_append(&tbs, extra->p, extra->len)))
		goto out;
	rc = crypto_verify(pk, tbs.p, tbs.len, sig, SMDP_SIG_LEN);
out:
	crypto_key_free(pk);
	buf_free(&tbs);
	return rc;
}

int euicc_authenticate_server(struct euicc *e, const struct euicc_auth_in *in,
			      struct buf *out, char *msg, size_t msgsz)
{
	struct server_signed1 ss1;
	struct auth_server_resp r;
	crypto_cert *dpauth = NULL;
	char why[640] = "", oid[SMDP_MAX_OID + 1] = "";
	const uint8_t *der;
	size_t n;
	int rc = -1, code = 0, v, given;

	memset(&ss1, 0, sizeof(ss1));
	memset(&r, 0, sizeof(r));
	if (der_decode_server_signed1(in->server_signed1, in->server_signed1_len, &ss1) != RSP_OK) {
		msgf(msg, msgsz, "serverSigned1 does not decode");
		goto out;
	}
	if (e->s.state != EUICC_S_CHALLENGE) {
		code = EUICC_AUTH_NO_SESSION;
		snprintf(why, sizeof(why), "no euiccChallenge outstanding");
		goto refuse;
	}
	if (!e->cfg.no_verify_server) {
		switch (check_server_cert(e, in->server_cert, in->server_cert_len, OID_POLICY_DPAUTH,
					  &dpauth, oid, sizeof(oid), why, sizeof(why))) {
		case CK_OK:
			break;
		case CK_CURVE:
			code = EUICC_AUTH_UNSUPPORTED_CURVE;
			goto refuse;
		case CK_CI_UNKNOWN:
			code = EUICC_AUTH_CI_PK_UNKNOWN;
			goto refuse;
		case CK_NO_OID:
			code = EUICC_AUTH_INVALID_OID;
			goto refuse;
		default:
			code = EUICC_AUTH_INVALID_CERT;
			goto refuse;
		}
		/* euiccCiPKIdToBeUsed = 04 14 <SKI>: our EUM chain exists under
		 * one CI only, so any other id cannot be served */
		if (in->ci_pkid_len != 2 + e->ci_ski.len || in->ci_pkid[0] != 0x04 ||
		    in->ci_pkid[1] != e->ci_ski.len ||
		    memcmp(in->ci_pkid + 2, e->ci_ski.id, e->ci_ski.len)) {
			code = EUICC_AUTH_CI_PK_UNKNOWN;
			snprintf(why, sizeof(why), "euiccCiPKIdToBeUsed is not our CI's key id");
			goto refuse;
		}
		v = verify_with_cert(dpauth, in->server_signed1, in->server_signed1_len, NULL,
				     in->server_signature1, in->server_signature1_len);
		if (v != 1) {
			code = EUICC_AUTH_INVALID_SIGNATURE;
			snprintf(why, sizeof(why), "serverSignature1 does not verify with CERT.DPauth");
			goto refuse;
		}
		if (mem_neq(ss1.euicc_challenge, e->s.challenge, SMDP_CHAL_LEN)) {
			code = EUICC_AUTH_CHALLENGE_MISMATCH;
			snprintf(why, sizeof(why), "serverSigned1 does not echo our euiccChallenge");
			goto refuse;
		}
		if (!in->smdp_address || strcasecmp(ss1.server_address, in->smdp_address)) {
			code = EUICC_AUTH_UNDEFINED;
			snprintf(why, sizeof(why), "serverAddress '%s' is not the SM-DP+ address '%s'",
				 ss1.server_address, in->smdp_address ? in->smdp_address : "");
			goto refuse;
		}
	} else {
		/* debugging mode: still learn the OID for later messages */
		dpauth = crypto_cert_from_der(in->server_cert, in->server_cert_len);
		if (dpauth && crypto_cert_san_rid(dpauth, oid, sizeof(oid)))
			oid[0] = '\0';
	}

	/* EuiccSigned1 (SGP.22 5.7.13): echo the session values, add our
	 * EUICCInfo2 and the ctxParams1 the LPA supplied */
	memcpy(r.signed1.txid, ss1.txid, ss1.txid_len);
	r.signed1.txid_len = ss1.txid_len;
	snprintf(r.signed1.server_address, sizeof(r.signed1.server_address), "%s",
		 ss1.server_address);
	memcpy(r.signed1.server_challenge, ss1.server_challenge, SMDP_CHAL_LEN);
	if (e->cfg.wrong_challenge)
		r.signed1.server_challenge[0] ^= 0xFF;
	/* a given EUICCInfo2 / DeviceInfo (another device generation) goes in
	 * verbatim: a re-encoding would drop the fields we do not know */
	given = (e->cfg.euicc_info2 && e->cfg.euicc_info2->len) ||
		(in->device_info && in->device_info_len);
	if (e->cfg.euicc_info2 && e->cfg.euicc_info2->len ?
	    buf_set(&r.signed1.euicc_info2, e->cfg.euicc_info2->p, e->cfg.euicc_info2->len) :
	    der_encode_euicc_info2(e->info1.svn, &e->info1, &r.signed1.euicc_info2)) {
		msgf(msg, msgsz, "cannot encode EUICCInfo2");
		goto out;
	}
	if (in->device_info && in->device_info_len &&
	    buf_set(&r.signed1.ctx.device_info, in->device_info, in->device_info_len))
		goto out;
	memcpy(r.signed1.euicc_info2_svn, e->info1.svn, 3);
	if (in->has_matching_id) {
		if (!in->matching_id || strlen(in->matching_id) > SMDP_MAX_MATCHING_ID) {
			msgf(msg, msgsz, "matchingId longer than %d bytes", SMDP_MAX_MATCHING_ID);
			goto out;
		}
		r.signed1.ctx.has_matching_id = 1;
		snprintf(r.signed1.ctx.matching_id, sizeof(r.signed1.ctx.matching_id), "%s",
			 in->matching_id);
	}
	memcpy(r.signed1.ctx.tac, e->cfg.tac, 4);
	r.signed1.ctx.tac_len = 4;
	if ((given ? der_encode_euicc_signed1_verbatim : der_encode_euicc_signed1)(&r.signed1,
										   &r.signed1_raw)) {
		msgf(msg, msgsz, "cannot encode euiccSigned1");
		goto out;
	}
	if (crypto_sign(e->key, r.signed1_raw.p, r.signed1_raw.len, r.signature1)) {
		msgf(msg, msgsz, "signing euiccSigned1 failed");
		goto out;
	}
	if (e->cfg.bad_signature1)
		r.signature1[SMDP_SIG_LEN - 1] ^= 0x01;
	der = crypto_cert_der(e->cert, &n);
	if (buf_set(&r.euicc_cert, der, n))
		goto out;
	der = crypto_cert_der(e->eum, &n);
	if (buf_set(&r.eum_cert, der, n))
		goto out;
	if (der_encode_auth_server_resp(&r, out)) {
		msgf(msg, msgsz, "cannot encode AuthenticateServerResponse");
		goto out;
	}
	memcpy(e->s.txid, ss1.txid, ss1.txid_len);
	e->s.txid_len = ss1.txid_len;
	snprintf(e->s.server_address, sizeof(e->s.server_address), "%s", ss1.server_address);
	snprintf(e->s.dpauth_oid, sizeof(e->s.dpauth_oid), "%s", oid);
	memcpy(e->s.euicc_sig1, r.signature1, SMDP_SIG_LEN);
	e->s.state = EUICC_S_AUTHED;
	if (e->cfg.no_verify_server)
		msgf(msg, msgsz, "server checks SKIPPED (--no-verify-server); signed euiccSigned1");
	else
		msgf(msg, msgsz, "CERT.DPauth (OID %s) chains to the CI, serverSignature1 valid, "
		     "euiccChallenge echoed, serverAddress %s; signed euiccSigned1%s%s", oid,
		     ss1.server_address, e->cfg.wrong_challenge ? " (serverChallenge ALTERED)" : "",
		     e->cfg.bad_signature1 ? " (signature CORRUPTED)" : "");
	rc = 0;
	goto out;

refuse:
	/* AuthenticateResponseError: the LPA forwards it to the SM-DP+ */
	auth_server_resp_free(&r);
	memset(&r, 0, sizeof(r));
	r.is_error = 1;
	r.error_code = code;
	memcpy(r.error_txid, ss1.txid, ss1.txid_len);
	r.error_txid_len = ss1.txid_len;
	msgf(msg, msgsz, "%s", why);
	euicc_session_end(e);
	rc = der_encode_auth_server_resp(&r, out) ? -1 : code;
out:
	crypto_cert_free(dpauth);
	auth_server_resp_free(&r);
	return rc;
}

int euicc_prepare_download(struct euicc *e, const struct euicc_prep_in *in,
			   struct buf *out, char *msg, size_t msgsz)
{
	struct smdp_signed2 s2;
	struct prepare_download_resp r;
	struct buf sig1 = { 0 }, tbs = { 0 };
	crypto_cert *dppb = NULL;
	crypto_key *fresh = NULL;
	char why[640] = "", oid[SMDP_MAX_OID + 1] = "", note[96] = "";
	uint8_t h1[32], point[SMDP_POINT_LEN];
	int rc = -1, code = 0, have_s2 = 0, v;

	memset(&s2, 0, sizeof(s2));
	memset(&r, 0, sizeof(r));
	if (der_decode_smdp_signed2(in->smdp_signed2, in->smdp_signed2_len, &s2) == RSP_OK)
		have_s2 = 1;
	if (e->s.state != EUICC_S_AUTHED) {
		code = EUICC_DL_NO_SESSION;
		snprintf(why, sizeof(why), "no authenticated session");
		goto refuse;
	}
	if (!have_s2) {
		code = EUICC_DL_UNDEFINED;
		snprintf(why, sizeof(why), "smdpSigned2 does not decode");
		goto refuse;
	}
	if (!e->cfg.no_verify_server) {
		switch (check_server_cert(e, in->smdp_cert, in->smdp_cert_len, OID_POLICY_DPPB,
					  &dppb, oid, sizeof(oid), why, sizeof(why))) {
		case CK_OK:
			break;
		case CK_CURVE:
			code = EUICC_DL_UNSUPPORTED_CURVE;
			goto refuse;
		default:
			code = EUICC_DL_INVALID_CERT;
			goto refuse;
		}
		/* CERT.DPpb must belong to the SM-DP+ we authenticated */
		if (strcmp(oid, e->s.dpauth_oid)) {
			code = EUICC_DL_INVALID_CERT;
			snprintf(why, sizeof(why), "CERT.DPpb OID %s differs from CERT.DPauth OID %s",
				 oid, e->s.dpauth_oid);
			goto refuse;
		}
		/* smdpSignature2 covers smdpSigned2 || 5F37 40 euiccSignature1 */
		if (append_sig_tlv(&sig1, e->s.euicc_sig1))
			goto out;
		v = verify_with_cert(dppb, in->smdp_signed2, in->smdp_signed2_len, &sig1,
				     in->smdp_signature2, in->smdp_signature2_len);
		if (v != 1) {
			code = EUICC_DL_INVALID_SIGNATURE;
			snprintf(why, sizeof(why), "smdpSignature2 does not verify with CERT.DPpb");
			goto refuse;
		}
	} else {
		dppb = crypto_cert_from_der(in->smdp_cert, in->smdp_cert_len);
		if (dppb && crypto_cert_san_rid(dppb, oid, sizeof(oid)))
			oid[0] = '\0';
	}
	if (s2.txid_len != e->s.txid_len || memcmp(s2.txid, e->s.txid, s2.txid_len)) {
		code = EUICC_DL_INVALID_TXID;
		snprintf(why, sizeof(why), "smdpSigned2 transactionId is not the session's");
		goto refuse;
	}

	memcpy(r.txid, s2.txid, s2.txid_len);
	r.txid_len = s2.txid_len;
	/* hashCc = SHA-256(SHA-256(CC) || transactionId) (SGP.22 5.7.5) */
	if (s2.cc_required && in->cc) {
		crypto_sha256((const uint8_t *)in->cc, strlen(in->cc), NULL, 0, h1);
		crypto_sha256(h1, sizeof(h1), s2.txid, s2.txid_len, r.hash_cc);
		crypto_cleanse(h1, sizeof(h1));
		r.has_hash_cc = 1;
	}
	/* One-time key pair (SGP.22 3.1.3): on a retry, reuse the kept otSK
	 * when the SM-DP+ announces its public half as bppEuiccOtpk */
	e->otpk_reused = 0;
	if (s2.has_otpk && e->otsk && crypto_key_point(e->otsk, point) == 0 &&
	    !memcmp(point, s2.otpk, SMDP_POINT_LEN)) {
		e->otpk_reused = 1;
	} else {
		if (!(fresh = crypto_key_generate(e->curve))) {
			msgf(msg, msgsz, "cannot generate otSK.EUICC");
			goto out;
		}
		crypto_key_free(e->otsk);
		e->otsk = fresh;
		fresh = NULL;
		if (crypto_key_point(e->otsk, point))
			goto out;
	}
	memcpy(r.euicc_otpk, point, SMDP_POINT_LEN);
	r.euicc_otpk_len = SMDP_POINT_LEN;
	if (der_encode_euicc_signed2(r.txid, r.txid_len, r.euicc_otpk,
				     r.has_hash_cc ? r.hash_cc : NULL, &r.signed2_raw)) {
		msgf(msg, msgsz, "cannot encode euiccSigned2");
		goto out;
	}
	/* euiccSignature2 covers euiccSigned2 || the smdpSignature2 TLV as received */
	if (buf_set(&tbs, r.signed2_raw.p, r.signed2_raw.len) ||
	    buf_append(&tbs, in->smdp_signature2, in->smdp_signature2_len))
		goto out;
	if (crypto_sign(e->key, tbs.p, tbs.len, r.signature2)) {
		msgf(msg, msgsz, "signing euiccSigned2 failed");
		goto out;
	}
	if (e->cfg.bad_signature2)
		r.signature2[SMDP_SIG_LEN - 1] ^= 0x01;
	if (der_encode_prepare_download_resp(&r, out)) {
		msgf(msg, msgsz, "cannot encode PrepareDownloadResponse");
		goto out;
	}
	crypto_cert_free(e->s.dppb);
	e->s.dppb = dppb;
	dppb = NULL;
	snprintf(e->s.dppb_oid, sizeof(e->s.dppb_oid), "%s", oid);
	memcpy(e->s.otpk, point, SMDP_POINT_LEN);
	e->s.state = EUICC_S_PREPARED;
	if (s2.cc_required)
		snprintf(note, sizeof(note), ", confirmation code %s",
			 r.has_hash_cc ? "hashed" : "REQUIRED but none given (no hashCc)");
	if (e->cfg.no_verify_server)
		msgf(msg, msgsz, "server checks SKIPPED; otPK.EUICC %s%s; signed euiccSigned2",
		     e->otpk_reused ? "reused" : "generated", note);
	else
		msgf(msg, msgsz, "CERT.DPpb (OID %s) chains to the CI, smdpSignature2 valid, "
		     "transactionId matches%s; otPK.EUICC %s on %s; signed euiccSigned2%s", oid,
		     note, e->otpk_reused ? "REUSED (bppEuiccOtpk)" : "generated",
		     crypto_curve_name(e->curve), e->cfg.bad_signature2 ? " (signature CORRUPTED)" : "");
	rc = 0;
	goto out;

refuse:
	prepare_download_resp_free(&r);
	memset(&r, 0, sizeof(r));
	r.is_error = 1;
	r.error_code = code;
	if (have_s2) {
		memcpy(r.txid, s2.txid, s2.txid_len);
		r.txid_len = s2.txid_len;
	} else {
		memcpy(r.txid, e->s.txid, e->s.txid_len);
		r.txid_len = e->s.txid_len;
	}
	msgf(msg, msgsz, "%s", why);
	euicc_session_end(e);
	rc = der_encode_prepare_download_resp(&r, out) ? -1 : code;
out:
	crypto_key_free(fresh);
	crypto_cert_free(dppb);
	buf_free(&sig1);
	buf_free(&tbs);
	prepare_download_resp_free(&r);
	return rc;
}

void euicc_install_free(struct euicc_install *r)
{
	if (!r)
		return;
	buf_free(&r->configure_isdp);
	buf_free(&r->metadata);
	buf_wipe(&r->profile);
}

/* Record why the eUICC refuses the BPP (ProfileInstallationResult
 * errorResult, SGP.22 2.5.6) and return 1. */
static int refuse_bpp(struct euicc_install *o, long cmd, long reason, char *msg, size_t msgsz,
		      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int refuse_bpp(struct euicc_install *o, long cmd, long reason, char *msg, size_t msgsz,
		      const char *fmt, ...)
{
	va_list ap;

	o->ok = 0;
	o->bpp_command_id = cmd;
	o->error_reason = reason;
	if (msg && msgsz) {
		va_start(ap, fmt);
		vsnprintf(msg, msgsz, fmt, ap);
		va_end(ap);
	}
	return 1;
}

/* Walk n bytes as a sequence of complete TLVs; 0 if they all parse. */
static int tlv_walk(const uint8_t *p, size_t n, size_t *count)
{
	uint32_t tag;
	size_t h, v, k = 0;

	while (n) {
		if (der_tlv(p, n, &tag, &h, &v) || h + v > n)
			return -1;
		p += h + v;
		n -= h + v;
		k++;
	}
	if (count)
		*count = k;
	return 0;
}

/* ICCID of an unprotected profile package: the first ProfileElement must
 * be the header (A0, PEDefinitions ProfileHeader) holding iccid [3] (83). */
static int profile_header_iccid(const uint8_t *p, size_t n, uint8_t iccid[10])
{
	uint32_t tag;
	size_t h, v, ih, iv;

	if (der_tlv(p, n, &tag, &h, &v) || tag != 0xA0 || h + v > n)
		return -1;
	p += h;
	n = v;
	while (n) {
		if (der_tlv(p, n, &tag, &ih, &iv) || ih + iv > n)
			return -1;
		if (tag == 0x83) {
			if (iv != 10)
				return -1;
			memcpy(iccid, p + ih, 10);
			return 0;
		}
		p += ih + iv;
		n -= ih + iv;
	}
	return -1;
}

/* Open one sequence of segments with context s, appending the plaintext
 * to out. Returns 0, or 1 with the refusal recorded. */
static int open_seq(struct euicc_install *o, struct scp03t *s, const struct buf *segs, size_t n,
		    uint8_t tag, int encrypt, long cmd, int lax, struct buf *out, const char *what,
		    char *msg, size_t msgsz)
{
	for (size_t i = 0; i < n; i++) {
		o->n_segments++;
		if (segs[i].len > o->max_segment)
			o->max_segment = segs[i].len;
		if (segs[i].len > SMDP_SEG_MAX && !lax)
			return refuse_bpp(o, cmd, BPP_ERR_SCP03T_STRUCTURE, msg, msgsz,
					  "%s segment %zu is %zu bytes, above the %d-byte limit",
					  what, i + 1, segs[i].len, SMDP_SEG_MAX);
		if (scp03t_unwrap(s, tag, encrypt, segs[i].p, segs[i].len, out))
			return refuse_bpp(o, cmd, BPP_ERR_SCP03T_SECURITY, msg, msgsz,
					  "%s segment %zu: MAC or padding check failed", what, i + 1);
		if (out->len > SMDP_MAX_PROFILE + 4096)
			return refuse_bpp(o, cmd, BPP_ERR_INSUFFICIENT_MEMORY, msg, msgsz,
					  "%s larger than %d bytes", what, SMDP_MAX_PROFILE);
	}
	return 0;
}

/* The segment part of ES8+ (SGP.22 5.5.2-5.5.5): ConfigureISDP, the
 * StoreMetadata 88s (compared with the metadata the LPA was shown),
 * optional ReplaceSessionKeys, then the profile elements. */
static int open_segments(const struct bpp_parts *p, const struct scp03t *session,
			 const struct scp03t *ppk_given, int lax, const uint8_t *md, size_t mdlen,
			 struct euicc_install *o, char *msg, size_t msgsz)
{
	struct scp03t s, ppk, *cur = &s;
	struct profile_metadata pm;
	struct buf rsk = { 0 };
	uint8_t mcv[16], enc[16], mac[16], hdr_iccid[10], swapped[10];
	uint32_t tag;
	size_t h, v, npe = 0;
	int rc;

	s = *session;
	memset(&ppk, 0, sizeof(ppk));
	memset(&pm, 0, sizeof(pm));
	pm.icon_type = -1;

	/* A0: ConfigureISDPRequest BF24, encrypted */
	if (p->n87a == 0) {
		rc = refuse_bpp(o, BPP_CMD_CONFIGURE_ISDP, BPP_ERR_SCP03T_STRUCTURE, msg, msgsz,
				"no ConfigureISDP segment");
		goto out;
	}
	if ((rc = open_seq(o, &s, p->seg87a, p->n87a, 0x87, 1, BPP_CMD_CONFIGURE_ISDP, lax,
			   &o->configure_isdp, "ConfigureISDP", msg, msgsz)))
		goto out;
	if (der_tlv(o->configure_isdp.p, o->configure_isdp.len, &tag, &h, &v) || tag != 0xBF24 ||
	    h + v != o->configure_isdp.len) {
		rc = refuse_bpp(o, BPP_CMD_CONFIGURE_ISDP, BPP_ERR_INCORRECT_INPUT, msg, msgsz,
				"ConfigureISDP plaintext is not one BF24 TLV");
		goto out;
	}

	/* A1: StoreMetadataRequest BF25, MAC only */
	if (p->n88 == 0) {
		rc = refuse_bpp(o, BPP_CMD_STORE_METADATA, BPP_ERR_SCP03T_STRUCTURE, msg, msgsz,
				"no StoreMetadata segment");
		goto out;
	}
	if ((rc = open_seq(o, &s, p->seg88, p->n88, 0x88, 0, BPP_CMD_STORE_METADATA, lax,
			   &o->metadata, "StoreMetadata", msg, msgsz)))
		goto out;
	if (der_decode_store_metadata(o->metadata.p, o->metadata.len, &pm) != RSP_OK) {
		rc = refuse_bpp(o, BPP_CMD_STORE_METADATA, BPP_ERR_INCORRECT_INPUT, msg, msgsz,
				"StoreMetadataRequest does not decode");
		goto out;
	}
	memcpy(o->iccid, pm.iccid, 10);
	o->has_iccid = 1;
	/* SGP.22 3.1.3: the metadata in the BPP must be what authenticateClient
	 * showed the user, byte for byte */
	if (md && (mdlen != o->metadata.len || memcmp(md, o->metadata.p, mdlen))) {
		o->metadata_mismatch = 1;
		rc = refuse_bpp(o, BPP_CMD_STORE_METADATA, BPP_ERR_DATA_MISMATCH, msg, msgsz,
				"metadataMismatch: the 88 segments (%zu bytes) differ from "
				"profileMetadata (%zu bytes)", o->metadata.len, mdlen);
		goto out;
	}

	/* A2: ReplaceSessionKeysRequest BF26 switches to the PPKs */
	if (p->n87b) {
		if ((rc = open_seq(o, &s, p->seg87b, p->n87b, 0x87, 1, BPP_CMD_REPLACE_SESSION_KEYS,
				   lax, &rsk, "ReplaceSessionKeys", msg, msgsz)))
			goto out;
		if (der_decode_replace_session_keys(rsk.p, rsk.len, mcv, enc, mac) != RSP_OK) {
			rc = refuse_bpp(o, BPP_CMD_REPLACE_SESSION_KEYS, BPP_ERR_INCORRECT_INPUT, msg,
					msgsz, "ReplaceSessionKeysRequest does not decode");
			goto out;
		}
		scp03t_init(&ppk, enc, mac, mcv);
		cur = &ppk;
		o->used_ppk = 1;
	} else if (ppk_given) {
		ppk = *ppk_given;
		cur = &ppk;
		o->used_ppk = 1;
	}

	/* A3: the profile elements */
	if (p->n86 == 0) {
		rc = refuse_bpp(o, BPP_CMD_LOAD_PROFILE_ELEMENTS, BPP_ERR_SCP03T_STRUCTURE, msg, msgsz,
				"no profile element segment");
		goto out;
	}
	if ((rc = open_seq(o, cur, p->seg86, p->n86, 0x86, 1, BPP_CMD_LOAD_PROFILE_ELEMENTS, lax,
			   &o->profile, "profile", msg, msgsz)))
		goto out;
	if (o->profile.len > SMDP_MAX_PROFILE) {
		rc = refuse_bpp(o, BPP_CMD_LOAD_PROFILE_ELEMENTS, BPP_ERR_INSUFFICIENT_MEMORY, msg,
				msgsz, "profile of %zu bytes exceeds %d", o->profile.len,
				SMDP_MAX_PROFILE);
		goto out;
	}
	if (tlv_walk(o->profile.p, o->profile.len, &npe) ||
	    profile_header_iccid(o->profile.p, o->profile.len, hdr_iccid)) {
		rc = refuse_bpp(o, BPP_CMD_LOAD_PROFILE_ELEMENTS, BPP_ERR_PE_PROCESSING, msg, msgsz,
				"profile is not a TLV sequence starting with a ProfileHeader");
		goto out;
	}
	/* The ICCID of the metadata and of the profile must agree
	 * (installFailedDueToDataMismatch). The SAIP header holds it in plain
	 * BCD, SGP.22 Iccid in EF.ICCID coding: compare what they denote, and
	 * tolerate (flag) metadata that copied the header bytes verbatim. */
	memcpy(o->header_iccid, hdr_iccid, 10);
	for (size_t i = 0; i < 10; i++)
		swapped[i] = (uint8_t)(hdr_iccid[i] << 4 | hdr_iccid[i] >> 4);
	if (memcmp(swapped, o->iccid, 10)) {
		if (memcmp(hdr_iccid, o->iccid, 10)) {
			rc = refuse_bpp(o, BPP_CMD_LOAD_PROFILE_ELEMENTS, BPP_ERR_DATA_MISMATCH, msg,
					msgsz, "ICCID in the profile header differs from the metadata ICCID");
			goto out;
		}
		o->iccid_plain_bcd = 1;
	}
	o->ok = 1;
	msgf(msg, msgsz, "%zu segments (largest %zu bytes), all MACs valid; metadata %s; %s; "
	     "profile %zu bytes in %zu elements, header ICCID = metadata ICCID%s",
	     o->n_segments, o->max_segment, md ? "= profileMetadata" : "read",
	     o->used_ppk ? "PPK protected" : "session keys only", o->profile.len, npe,
	     o->iccid_plain_bcd ? " (metadata NOT in EF.ICCID coding: header bytes copied)" : "");
	rc = 0;
out:
	scp03t_wipe(&s);
	scp03t_wipe(&ppk);
	crypto_cleanse(enc, sizeof(enc));
	crypto_cleanse(mac, sizeof(mac));
	crypto_cleanse(mcv, sizeof(mcv));
	buf_wipe(&rsk);
	buf_free(&pm.icon);
	return rc;
}

/* BF23 content checks that der_decode_bf23 leaves to us (SGP.22 5.5.1):
 * remoteOpId installBoundProfilePackage(1) and the CRT key type / length. */
static int check_bf23_tbs(const uint8_t *p, size_t n, long *reason)
{
	uint32_t tag;
	size_t h, v, ch, cv;
	int seen_op = 0, seen_crt = 0;

	*reason = BPP_ERR_INCORRECT_INPUT;
	while (n) {
		if (der_tlv(p, n, &tag, &h, &v) || h + v > n)
			return -1;
		if (tag == 0x82) {          /* remoteOpId */
			if (v != 1 || p[h] != 1) {
				*reason = BPP_ERR_UNSUPPORTED_REMOTE_OP;
				return -1;
			}
			seen_op = 1;
		} else if (tag == 0xA6) {   /* controlRefTemplate */
			const uint8_t *q = p + h;
			size_t m = v;
			int kt = 0, kl = 0;
			while (m) {
				if (der_tlv(q, m, &tag, &ch, &cv) || ch + cv > m)
					return -1;
				if (tag == 0x80)
					kt = cv == 1 && q[ch] == 0x88;
				else if (tag == 0x81)
					kl = cv == 1 && q[ch] == 0x10;
				q += ch + cv;
				m -= ch + cv;
			}
			if (!kt || !kl) {
				*reason = BPP_ERR_UNSUPPORTED_CRT;
				return -1;
			}
			seen_crt = 1;
		}
		p += h + v;
		n -= h + v;
	}
	return seen_op && seen_crt ? 0 : -1;
}

int euicc_load_bpp(struct euicc *e, const uint8_t *bpp, size_t n,
		   const uint8_t *expected_md, size_t expected_md_len,
		   struct euicc_install *out, char *msg, size_t msgsz)
{
	static const uint8_t otpk_hdr[3] = { 0x5F, 0x49, SMDP_POINT_LEN };
	struct bpp_parts parts;
	struct bf23 b;
	struct buf tbs = { 0 };
	struct scp03t s;
	crypto_key *peer = NULL, *pk = NULL;
	uint8_t z[32];
	long reason;
	int rc = -1, v;
	char detail[384] = "";

	memset(out, 0, sizeof(*out));
	memset(&parts, 0, sizeof(parts));
	memset(&b, 0, sizeof(b));
	memset(&s, 0, sizeof(s));
	if (e->s.state != EUICC_S_PREPARED || !e->otsk) {
		msgf(msg, msgsz, "no session prepared for a BPP");
		goto out;
	}
	e->s.state = EUICC_S_LOADED;   /* whatever happens, a PIR follows */
	if (der_decode_bpp(bpp, n, &parts) != RSP_OK) {
		rc = refuse_bpp(out, BPP_CMD_INIT_SECURE_CHANNEL, BPP_ERR_INCORRECT_INPUT, msg, msgsz,
				"BoundProfilePackage does not decode");
		goto out;
	}
	/* ES8+.InitialiseSecureChannel (SGP.22 5.5.1) */
	if (der_decode_bf23(parts.bf23.p, parts.bf23.len, &b, &tbs) != RSP_OK) {
		/* name the offending field when it is remoteOpId or the CRT */
		uint32_t tag;
		size_t h, v;
		reason = BPP_ERR_INCORRECT_INPUT;
		if (!der_tlv(parts.bf23.p, parts.bf23.len, &tag, &h, &v) && h + v == parts.bf23.len)
			check_bf23_tbs(parts.bf23.p + h, v, &reason);
		rc = refuse_bpp(out, BPP_CMD_INIT_SECURE_CHANNEL, reason, msg, msgsz,
				"InitialiseSecureChannelRequest does not decode");
		goto out;
	}
	if (check_bf23_tbs(tbs.p, tbs.len, &reason)) {
		rc = refuse_bpp(out, BPP_CMD_INIT_SECURE_CHANNEL, reason, msg, msgsz,
				"InitialiseSecureChannelRequest: bad remoteOpId or CRT");
		goto out;
	}
	if (b.txid_len != e->s.txid_len || memcmp(b.txid, e->s.txid, b.txid_len)) {
		rc = refuse_bpp(out, BPP_CMD_INIT_SECURE_CHANNEL, BPP_ERR_INVALID_TXID, msg, msgsz,
				"InitialiseSecureChannelRequest transactionId is not the session's");
		goto out;
	}
	if (!e->cfg.no_verify_server) {
		/* smdpSign covers the four TLVs before it || 5F49 41 otPK.EUICC */
		if (buf_append(&tbs, otpk_hdr, sizeof(otpk_hdr)) ||
		    buf_append(&tbs, e->s.otpk, SMDP_POINT_LEN))
			goto out;
		if (!e->s.dppb || !(pk = crypto_cert_pubkey(e->s.dppb)))
			goto out;
		v = crypto_verify(pk, tbs.p, tbs.len, b.signature, SMDP_SIG_LEN);
		if (v != 1) {
			rc = refuse_bpp(out, BPP_CMD_INIT_SECURE_CHANNEL, BPP_ERR_INVALID_SIGNATURE, msg,
					msgsz, "smdpSign in InitialiseSecureChannelRequest is invalid");
			goto out;
		}
	}
	/* Key agreement and derivation (SGP.22 3.1.3, 2.6.6.2) */
	if (!(peer = crypto_key_from_point(e->curve, b.dp_otpk, SMDP_POINT_LEN))) {
		rc = refuse_bpp(out, BPP_CMD_INIT_SECURE_CHANNEL, BPP_ERR_INCORRECT_INPUT, msg, msgsz,
				"otPK.DP.ECKA is not a point on %s", crypto_curve_name(e->curve));
		goto out;
	}
	if (crypto_ecdh(e->otsk, peer, z) ||
	    scp03t_derive(z, b.host_id, b.host_id_len, e->eid_bin, &s)) {
		rc = refuse_bpp(out, BPP_CMD_INIT_SECURE_CHANNEL, BPP_ERR_UNKNOWN, msg, msgsz,
				"key agreement failed");
		goto out;
	}
	rc = open_segments(&parts, &s, NULL, e->cfg.lax_segments, expected_md, expected_md_len,
			   out, detail, sizeof(detail));
	if (rc == 0) {
		msgf(msg, msgsz, "smdpSign valid%s, ECDH on %s; %s",
		     e->cfg.no_verify_server ? " (NOT checked)" : "", crypto_curve_name(e->curve),
		     detail);
		/* the one-time key has served its purpose (SGP.22 3.1.3) */
		crypto_key_free(e->otsk);
		e->otsk = NULL;
	} else {
		msgf(msg, msgsz, "%s", detail);
	}
out:
	crypto_cleanse(z, sizeof(z));
	scp03t_wipe(&s);
	crypto_key_free(peer);
	crypto_key_free(pk);
	buf_free(&tbs);
	bpp_parts_free(&parts);
	return rc;
}

int euicc_open_bpp_keys(const uint8_t *bpp, size_t n, const struct scp03t *session,
			const struct scp03t *ppk, int lax, const uint8_t *expected_md,
			size_t expected_md_len, struct euicc_install *out, char *msg,
			size_t msgsz)
{
	struct bpp_parts parts;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&parts, 0, sizeof(parts));
	if (der_decode_bpp(bpp, n, &parts) != RSP_OK)
		rc = refuse_bpp(out, BPP_CMD_INIT_SECURE_CHANNEL, BPP_ERR_INCORRECT_INPUT, msg, msgsz,
				"BoundProfilePackage does not decode");
	else
		rc = open_segments(&parts, session, ppk, lax, expected_md, expected_md_len, out,
				   msg, msgsz);
	bpp_parts_free(&parts);
	return rc;
}

int euicc_make_pir(struct euicc *e, int success, long bpp_cmd, long reason,
		   const uint8_t *iccid, struct buf *out)
{
	struct pending_notification pn;
	int rc = -1;

	memset(&pn, 0, sizeof(pn));
	if (e->s.state < EUICC_S_PREPARED)
		goto out;
	pn.kind = NOTIF_PIR;
	pn.meta.seq_number = ++e->seq_number;
	pn.meta.operation = 0;   /* NotificationEvent notificationInstall */
	snprintf(pn.meta.address, sizeof(pn.meta.address), "%s", e->s.server_address);
	if (iccid) {
		pn.meta.has_iccid = 1;
		memcpy(pn.meta.iccid, iccid, 10);
	}
	memcpy(pn.txid, e->s.txid, e->s.txid_len);
	pn.txid_len = e->s.txid_len;
	/* smdpOid is the one of CERT.DPpb (SGP.22 2.5.6) */
	snprintf(pn.smdp_oid, sizeof(pn.smdp_oid), "%s",
		 e->s.dppb_oid[0] ? e->s.dppb_oid : e->s.dpauth_oid);
	pn.success = success;
	if (success) {
		memcpy(pn.aid, isdp_aid, sizeof(isdp_aid));
		pn.aid_len = sizeof(isdp_aid);
		if (buf_set(&pn.sima_response, sima_ok, sizeof(sima_ok)))
			goto out;
	} else {
		pn.bpp_command_id = bpp_cmd;
		pn.error_reason = reason;
	}
	/* euiccSignPIR covers the whole ProfileInstallationResultData TLV (BF27) */
	if (der_encode_pir_data(&pn, &pn.pir_data_raw) ||
	    crypto_sign(e->key, pn.pir_data_raw.p, pn.pir_data_raw.len, pn.signature) ||
	    der_encode_pir(&pn, out))
		goto out;
	euicc_session_end(e);
	rc = 0;
out:
	pending_notification_free(&pn);
	return rc;
}

int euicc_cancel_session(struct euicc *e, long reason, const char *oid, struct buf *out)
{
	struct cancel_session_resp r;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	if (e->s.state < EUICC_S_AUTHED)
		goto out;
	r.txid_len = e->s.txid_len;
	memcpy(r.txid, e->s.txid, e->s.txid_len);
	snprintf(r.smdp_oid, sizeof(r.smdp_oid), "%s", oid ? oid : e->s.dpauth_oid);
	r.reason = reason;
	if (der_encode_cancel_signed(r.txid, r.txid_len, r.smdp_oid, reason, &r.signed_raw) ||
	    crypto_sign(e->key, r.signed_raw.p, r.signed_raw.len, r.signature))
		goto out;
	if (e->cfg.bad_cancel_signature)
		r.signature[SMDP_SIG_LEN - 1] ^= 0x01;
	if (der_encode_cancel_session_resp(&r, out))
		goto out;
	euicc_session_end(e);
	rc = 0;
out:
	cancel_session_resp_free(&r);
	return rc;
}
