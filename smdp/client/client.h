/* client.h - smdp-client: a software eUICC (euicc.c, bytes in / bytes out)
 * and the LPA that drives it over ES9+ (lpa.c, JSON over HTTPS). */
#ifndef SMDP_CLIENT_H
#define SMDP_CLIENT_H

#include "smdp.h"

/* ------------------------------------------------------------------ */
/* euicc.c: the eUICC side of SGP.22. It never sees HTTP, JSON or base64:
 * each operation takes the DER objects the LPA relays and returns the DER
 * object the eUICC would answer with. One RSP session at a time, as on a
 * real eUICC. */

/* AuthenticateErrorCode (SGP.22 5.7.13) */
#define EUICC_AUTH_INVALID_CERT      1
#define EUICC_AUTH_INVALID_SIGNATURE 2
#define EUICC_AUTH_UNSUPPORTED_CURVE 3
#define EUICC_AUTH_NO_SESSION        4
#define EUICC_AUTH_INVALID_OID       5
#define EUICC_AUTH_CHALLENGE_MISMATCH 6
#define EUICC_AUTH_CI_PK_UNKNOWN     7
#define EUICC_AUTH_UNDEFINED         127
/* DownloadErrorCode (SGP.22 5.7.5) */
#define EUICC_DL_INVALID_CERT        1
#define EUICC_DL_INVALID_SIGNATURE   2
#define EUICC_DL_UNSUPPORTED_CURVE   3
#define EUICC_DL_NO_SESSION          4
#define EUICC_DL_INVALID_TXID        5
#define EUICC_DL_UNDEFINED           127
/* BppCommandId (SGP.22 2.5.6 ProfileInstallationResult) */
#define BPP_CMD_INIT_SECURE_CHANNEL  0
#define BPP_CMD_CONFIGURE_ISDP       1
#define BPP_CMD_STORE_METADATA       2
#define BPP_CMD_STORE_METADATA2      3
#define BPP_CMD_REPLACE_SESSION_KEYS 4
#define BPP_CMD_LOAD_PROFILE_ELEMENTS 5
/* ErrorReason values the software eUICC produces */
#define BPP_ERR_INCORRECT_INPUT      1
#define BPP_ERR_INVALID_SIGNATURE    2
#define BPP_ERR_INVALID_TXID         3
#define BPP_ERR_UNSUPPORTED_CRT      4
#define BPP_ERR_UNSUPPORTED_REMOTE_OP 5
#define BPP_ERR_SCP03T_STRUCTURE     7
#define BPP_ERR_SCP03T_SECURITY      8
#define BPP_ERR_INSUFFICIENT_MEMORY  10
#define BPP_ERR_PE_PROCESSING        12
#define BPP_ERR_DATA_MISMATCH        13
#define BPP_ERR_UNKNOWN              127
/* CancelSessionReason (SGP.22 5.7.14) */
#define CANCEL_END_USER_REJECTION    0
#define CANCEL_POSTPONED             1
#define CANCEL_TIMEOUT               2
#define CANCEL_PPR_NOT_ALLOWED       3
#define CANCEL_METADATA_MISMATCH     4
#define CANCEL_LOAD_BPP_ERROR        5
#define CANCEL_UNDEFINED             127

/* Where the eUICC's credentials come from, and how it misbehaves on
 * purpose (negative tests of the server). Paths are only read by
 * euicc_open. */
struct euicc_cfg {
	const char *ci_cert;         /* the CI it trusts (ECASD PK.CI), DER or PEM */
	const char *euicc_cert;      /* CERT.EUICC.ECDSA */
	const char *euicc_key;       /* SK.EUICC.ECDSA, PEM */
	const char *eum_cert;        /* CERT.EUM.ECDSA */
	uint8_t svn[3];              /* SGP.22 version announced, e.g. 02 05 00 */
	/* CI key ids announced in EUICCInfo1/2 (euiccCiPKIdListForSigning /
	 * ForVerification); when the *_set flag is 0 the list is the CI's SKI */
	int ci_sign_set;
	struct ci_id ci_sign[SMDP_MAX_CI_IDS];
	size_t n_ci_sign;
	int ci_verif_set;
	struct ci_id ci_verif[SMDP_MAX_CI_IDS];
	size_t n_ci_verif;
	uint8_t tac[4];              /* DeviceInfo.tac sent in ctxParams1 */
	int bad_signature1;          /* flip a bit of euiccSignature1 */
	int bad_signature2;          /* flip a bit of euiccSignature2 */
	int wrong_challenge;         /* serverChallenge altered in euiccSigned1 */
	int bad_cancel_signature;    /* flip a bit of euiccCancelSessionSignature */
	int no_verify_server;        /* skip SM-DP+ certificate/signature checks */
	int lax_segments;            /* accept BPP segments above SMDP_SEG_MAX */
	/* EUICCInfo2 BF22 to put into euiccSigned1 instead of the eUICC's own
	 * (a device of another SGP.22 / SGP.32 version); owned by the caller,
	 * must outlive the eUICC. NULL / empty = our own. */
	const struct buf *euicc_info2;
};

/* The RSP session the eUICC holds between GetEUICCChallenge and the end of
 * the BPP load (SGP.22 3.1.2 / 3.1.3). */
struct euicc_session {
	int state;                   /* EUICC_S_* below */
	uint8_t challenge[SMDP_CHAL_LEN];
	uint8_t txid[16];
	size_t txid_len;
	char server_address[SMDP_MAX_ADDRESS + 1];
	char dpauth_oid[SMDP_MAX_OID + 1];   /* SAN RID of CERT.DPauth */
	char dppb_oid[SMDP_MAX_OID + 1];     /* SAN RID of CERT.DPpb */
	crypto_cert *dppb;                   /* kept to verify smdpSign in BF23 */
	uint8_t euicc_sig1[SMDP_SIG_LEN];    /* as sent (possibly corrupted) */
	uint8_t otpk[SMDP_POINT_LEN];        /* otPK.EUICC sent in euiccSigned2 */
};
#define EUICC_S_NONE      0
#define EUICC_S_CHALLENGE 1   /* euiccChallenge issued */
#define EUICC_S_AUTHED    2   /* AuthenticateServer done */
#define EUICC_S_PREPARED  3   /* PrepareDownload done, BPP expected */
#define EUICC_S_LOADED    4   /* BPP processed, PIR pending */

struct euicc {
	struct euicc_cfg cfg;        /* copy; paths not used after euicc_open */
	crypto_cert *ci;
	crypto_cert *cert;           /* CERT.EUICC */
	crypto_cert *eum;            /* CERT.EUM */
	crypto_key *key;             /* SK.EUICC */
	enum crypto_curve curve;     /* the CI's curve: one-time keys use it */
	struct ci_id ci_ski;         /* SKI of the CI certificate */
	char eid[SMDP_EID_LEN + 1];  /* from CERT.EUICC subject serialNumber */
	uint8_t eid_bin[16];         /* the EID as 16 BCD bytes (KDF shared info) */
	struct euicc_info1 info1;
	long seq_number;             /* last notification sequence number */
	crypto_key *otsk;            /* otSK.EUICC.ECKA, kept until a BPP loads
	                                (SGP.22 3.1.3: a retry may reuse otPK) */
	int otpk_reused;             /* last PrepareDownload reused otsk */
	struct euicc_session s;
};

/* Load certificates and key, check they belong together (key matches
 * CERT.EUICC, EUICC signed by EUM, EUM by the CI) and derive the EID.
 * e is overwritten; release with euicc_close. 0 / -1 with a reason in err. */
int euicc_open(struct euicc *e, const struct euicc_cfg *cfg, char *err, size_t errsz);
/* Free everything euicc_open and the session hold. NULL is fine. */
void euicc_close(struct euicc *e);
/* Become another eUICC of the same EUM between sessions: CERT.EUICC and
 * SK.EUICC replaced (the eUICC takes handles of its own), the EID read
 * from the certificate, a kept otSK dropped. 0 / -1 (unchanged). */
int euicc_set_identity(struct euicc *e, const crypto_cert *cert, const crypto_key *key);
/* End the current session (keeps otSK for a retry). */
void euicc_session_end(struct euicc *e);

/* GetEUICCChallenge (SGP.22 5.7.7): start a new session and return a fresh
 * random challenge. 0 / -1. */
int euicc_get_challenge(struct euicc *e, uint8_t out[SMDP_CHAL_LEN]);
/* GetEUICCInfo1 (SGP.22 5.7.8): EUICCInfo1 BF20 into out. 0 / -1. */
int euicc_get_info1(const struct euicc *e, struct buf *out);

/* What AuthenticateServer is given: the initiateAuthentication response
 * fields, DER exactly as received, plus what the LPA adds (ctxParams1). */
struct euicc_auth_in {
	const uint8_t *server_signed1;   /* 30 ... */
	size_t server_signed1_len;
	const uint8_t *server_signature1; /* 5F37 40 r||s */
	size_t server_signature1_len;
	const uint8_t *ci_pkid;          /* euiccCiPKIdToBeUsed: 04 14 SKI */
	size_t ci_pkid_len;
	const uint8_t *server_cert;      /* CERT.DPauth DER */
	size_t server_cert_len;
	const char *smdp_address;        /* the address the LPA contacted */
	int has_matching_id;
	const char *matching_id;         /* may be "" (present but empty) */
	const uint8_t *device_info;      /* DeviceInfo TLV (30 or A1) the LPA gives; */
	size_t device_info_len;          /* NULL = one made from cfg.tac */
};

/* AuthenticateServer (SGP.22 5.7.13). Verifies CERT.DPauth against the CI
 * (signature, validity, policy 2.23.146.1.2.1.4, AKI), serverSignature1 over
 * the received serverSigned1 bytes, the echoed euiccChallenge, serverAddress
 * and euiccCiPKIdToBeUsed; then signs euiccSigned1. Returns 0 with the
 * AuthenticateResponseOk form of BF38 in out; an AuthenticateErrorCode (> 0)
 * with the AuthenticateResponseError form in out (for the LPA to forward);
 * -1 when nothing can be answered. msg receives a one-line summary of what
 * was checked, or the reason of the failure. */
int euicc_authenticate_server(struct euicc *e, const struct euicc_auth_in *in,
			      struct buf *out, char *msg, size_t msgsz);

/* What PrepareDownload is given: the authenticateClient response fields. */
struct euicc_prep_in {
	const uint8_t *smdp_signed2;     /* 30 ... */
	size_t smdp_signed2_len;
	const uint8_t *smdp_signature2;  /* 5F37 40 r||s */
	size_t smdp_signature2_len;
	const uint8_t *smdp_cert;        /* CERT.DPpb DER */
	size_t smdp_cert_len;
	const char *cc;                  /* confirmation code or NULL */
};

/* PrepareDownload (SGP.22 5.7.5). Verifies CERT.DPpb (chain, validity,
 * policy .1.5, same SAN RID as CERT.DPauth), smdpSignature2 over smdpSigned2
 * || 5F37 euiccSignature1 and the transactionId; computes hashCc when
 * ccRequiredFlag is set; generates otSK/otPK.EUICC (or reuses the kept pair
 * when bppEuiccOtpk names it) and signs euiccSigned2 || 5F37 smdpSignature2.
 * Return values as euicc_authenticate_server, with DownloadErrorCode. */
int euicc_prepare_download(struct euicc *e, const struct euicc_prep_in *in,
			   struct buf *out, char *msg, size_t msgsz);

/* Outcome of loading a BPP (ES8+ SGP.22 5.5, ES10b.LoadBoundProfilePackage 5.7.6). */
struct euicc_install {
	int ok;                      /* 1: the profile was installed */
	long bpp_command_id;         /* when !ok: BppCommandId of the failure */
	long error_reason;           /* when !ok: ErrorReason */
	int metadata_mismatch;       /* 88 segments != expected metadata */
	struct buf configure_isdp;   /* BF24 from firstSequenceOf87 */
	struct buf metadata;         /* BF25 from the 88 segments */
	struct buf profile;          /* the unprotected profile package */
	int has_iccid;
	uint8_t iccid[10];           /* from the metadata (SGP.22: EF.ICCID coding) */
	uint8_t header_iccid[10];    /* from the ProfileHeader (SAIP: plain BCD) */
	int iccid_plain_bcd;         /* the metadata ICCID was the header's bytes
	                                verbatim, not EF.ICCID coded (accepted, warned) */
	int used_ppk;                /* A2 ReplaceSessionKeys present or PPKs given */
	size_t n_segments;
	size_t max_segment;          /* largest segment TLV seen */
};
void euicc_install_free(struct euicc_install *r);

/* Load a BoundProfilePackage BF36 in the current session: BF23 checks
 * (remoteOpId, transactionId, CRT, smdpSign with PK.DPpb over the signed
 * TLVs || 5F49 otPK.EUICC), ECDH + KDF (SGP.22 2.6.6.2), then every segment
 * is verified and opened. expected_md (may be NULL) is the profileMetadata
 * from authenticateClient: the 88 segments must equal it byte for byte.
 * Returns 0 when installed, 1 when the eUICC refused it (out says where
 * and why; out->metadata_mismatch set for the LPA's metadataMismatch),
 * -1 on an internal error. out is overwritten; free with euicc_install_free.
 * A success ends the session and deletes otSK. */
int euicc_load_bpp(struct euicc *e, const uint8_t *bpp, size_t n,
		   const uint8_t *expected_md, size_t expected_md_len,
		   struct euicc_install *out, char *msg, size_t msgsz);
/* Same segment processing with the session keys given instead of the BF23
 * verification and key agreement (offline tests, known-answer vectors).
 * ppk (may be NULL) protects the 86 segments when the BPP has no A2.
 * lax: accept segments above SMDP_SEG_MAX. No session needed or changed. */
int euicc_open_bpp_keys(const uint8_t *bpp, size_t n, const struct scp03t *session,
			const struct scp03t *ppk, int lax, const uint8_t *expected_md,
			size_t expected_md_len, struct euicc_install *out, char *msg,
			size_t msgsz);

/* ProfileInstallationResult BF37 (SGP.22 2.5.6, 5.7.6) for the current
 * session: successResult with the ISD-P AID and a SIMA response, or
 * errorResult{bpp_cmd, reason}. iccid may be NULL (omitted). euiccSignPIR
 * covers the ProfileInstallationResultData TLV (BF27). Uses the next
 * sequence number. 0 / -1. */
int euicc_make_pir(struct euicc *e, int success, long bpp_cmd, long reason,
		   const uint8_t *iccid, struct buf *out);

/* ES10b.CancelSession (SGP.22 5.7.14): CancelSessionResponse
 * BF41 with EuiccCancelSessionSigned {transactionId, smdpOid, reason} signed.
 * oid NULL = the session's CERT.DPauth RID. Ends the session (otSK is kept).
 * 0 / -1. */
int euicc_cancel_session(struct euicc *e, long reason, const char *oid, struct buf *out);

/* The EID as the 16-byte value of the KDF shared info: the 32 digits packed
 * two per byte (SGP.22 2.6.6.2). 0 / -1 if eid is not 32 decimal digits. */
int euicc_eid_to_bin(const char *eid, uint8_t out[16]);
/* ICCID digits into out (NUL-terminated, at least 21 bytes), stopping at
 * the F filler. ef_coding 1: EF.ICCID coding, nibble-swapped, as SGP.22
 * Iccid (metadata, notifications); 0: plain BCD, as the SAIP ProfileHeader. */
void euicc_iccid_digits(const uint8_t iccid[10], int ef_coding, char *out, size_t outsz);

/* ------------------------------------------------------------------ */
/* lpa.c: the LPA: ES9+ over the JSON or the ASN.1 binding on httpc,
 * driving the eUICC. */

enum lpa_binding {
	LPA_BINDING_JSON = 0,        /* /gsma/rsp2/es9plus/<function> (the default) */
	LPA_BINDING_ASN1 = 1,        /* /gsma/rsp2/asn1, RemoteProfileProvisioningRequest */
};

struct lpa_opts {
	char smdp_address[SMDP_MAX_ADDRESS + 1];   /* from the AC, sent in initiateAuthentication */
	char override_address[SMDP_MAX_ADDRESS + 1]; /* --smdp-address ("" = none) */
	int has_matching_id;
	char matching_id[SMDP_MAX_MATCHING_ID + 1];
	const char *cc;              /* --cc, NULL none */
	const char *expect;          /* --expect FILE, NULL none */
	int cancel;                  /* 1: cancel the session instead of continuing */
	long cancel_reason;
	int cancel_after_bpp;        /* 0: after authenticateClient, 1: after getBPP */
	const char *cancel_oid;      /* --cancel-oid, NULL none */
	int pir_error;               /* --pir-error given */
	long pir_bpp_cmd;
	long pir_reason;
	int skip_pir;
	int pir_delay_ms;             /* wait this long before the PIR (late-notification tests) */
	int wrong_txid;              /* send an unknown transactionId to authenticateClient */
	int verbose;                 /* print the JSON (or DER) exchanged */
	enum lpa_binding binding;    /* --binding json|asn1 */
	/* Device description sent instead of the eUICC's own (golden inputs of
	 * other device generations); owned by the caller, NULL = own. */
	const struct buf *euicc_info1;   /* --euicc-info1 FILE: EUICCInfo1 BF20 */
	const struct buf *device_info;   /* --device-info FILE: DeviceInfo 30 / A1 */
	const struct buf *asn1_ext;      /* --asn1-extension HEX: TLVs appended inside
	                                    every ASN.1 request (a newer client) */
	/* SGP.32 indirect download (ES9+'): an eIM calls for the IPA */
	int eim;                     /* --eim: EUICCInfo1 read ahead, a connection per call */
	int omit_smdp_address;       /* --eim-unfilled smdpAddress */
	int omit_euicc_info1;        /* --eim-unfilled euiccInfo1 */
	/* Replay tests (SGP.22 5.6: a signed structure only counts in its own
	 * session). save_dir: each DER object of the session is written there
	 * as it is made, before it is sent (txid.hex, asr.der BF38, pdr.der
	 * BF21, csr.der BF41, pir.der BF37), and the BPP received (bpp.der
	 * BF36; lpa_send too). replay_*: sent instead of the
	 * eUICC's fresh answer (owned by the caller; NULL = the fresh one).
	 * pause_step: before that call (LPA_PAUSE_*), wait until pause_file
	 * exists, so that a test can act while the session is open. */
	const char *save_dir;
	const struct buf *replay_asr;    /* --replay-asr FILE */
	const struct buf *replay_pdr;    /* --replay-pdr FILE */
	const struct buf *replay_csr;    /* --replay-csr FILE */
	int pause_step;                  /* --pause STEP:FILE, 0 = none */
	const char *pause_file;
};
#define LPA_PAUSE_AUTH   1   /* before authenticateClient */
#define LPA_PAUSE_BPP    2   /* before getBoundProfilePackage */
#define LPA_PAUSE_CANCEL 3   /* before cancelSession */
#define LPA_PAUSE_PIR    4   /* before handleNotification (the PIR) */

enum lpa_outcome { LPA_OK = 0, LPA_ERROR = 1, LPA_FAILED = 2 };

struct lpa_result {
	enum lpa_outcome outcome;
	int calls;                   /* ES9+ functions that succeeded */
	char function[32];           /* LPA_FAILED: which function */
	char subject[16];            /* LPA_FAILED: subjectCode */
	char reason[16];             /* LPA_FAILED: reasonCode */
	char message[256];           /* LPA_FAILED: server message; LPA_ERROR: what went wrong */
	char iccid[21];              /* ICCID digits ("" unknown) */
	size_t profile_len;          /* bytes of the profile recovered */
	int expect_match;            /* 1 when --expect matched */
	int cancelled;               /* 1 when the session ended with cancelSession */
	long cancel_reason;          /* its CancelSessionReason */
};

/* Run one profile download (SGP.22 3.1.2 + 3.1.3) against the SM-DP+ the
 * connection h talks to, with eUICC e. res is overwritten (calls accumulate
 * from its previous value, so a retry can add to it). Returns res->outcome. */
enum lpa_outcome lpa_download(struct httpc *h, struct euicc *e, const struct lpa_opts *o,
			      struct lpa_result *res);

/* One ES9+ call with a transactionId and a DER object given by the caller,
 * no eUICC involved: the replay of a captured request (SGP.22 5.6.2 -
 * 5.6.5; initiateAuthentication is not offered). fn is ES9_AUTH_CLIENT,
 * ES9_GET_BPP, ES9_CANCEL_SESSION (txid: 1..16 bytes) or ES9_HANDLE_NOTIF
 * (txid unused); obj is sent as it is. Binding, verbosity and extension
 * from o. res is overwritten; returns res->outcome (LPA_OK when the
 * SM-DP+ answered success, or 204 for a notification). */
enum lpa_outcome lpa_send(struct httpc *h, const struct lpa_opts *o, enum es9_fn fn,
			  const uint8_t *txid, size_t txid_len, const struct buf *obj,
			  struct lpa_result *res);

#endif /* SMDP_CLIENT_H */
