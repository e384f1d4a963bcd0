/* es9p.c - ES9+ (LPA/IPA -> SM-DP+) functions of SGP.22 5.6 on decoded C
 * structs: session handling, signature and certificate checks, BPP binding.
 * Which profile a session gets, and what the lifecycle allows, is decided
 * by orders.c. No HTTP, JSON or DER here. */
#include "smdp.h"

#include <string.h>
#include <strings.h>

static const uint8_t sig_hdr[3] = { 0x5F, 0x37, 0x40 };  /* [APPLICATION 55] 64 bytes */

/* A history event of session s, to be written with the call's other rows. */
static void history_fill(struct history_event *e, const struct session *s, const char *event,
			 const char *detail)
{
	memset(e, 0, sizeof(*e));
	e->time = (int64_t)time(NULL);
	memcpy(e->txid, s->txid, s->txid_len);
	e->txid_len = s->txid_len;
	str_copy(e->eid, sizeof(e->eid), s->eid);
	str_copy(e->profile_id, sizeof(e->profile_id), s->profile_id);
	str_copy(e->event, sizeof(e->event), event);
	str_copy(e->detail, sizeof(e->detail), detail ? detail : "");
}

/* A history event on its own (the call writes nothing else). */
static void history(struct smdp *d, const struct session *s, const char *event,
		    const char *detail)
{
	struct history_event e;

	history_fill(&e, s, event, detail);
	if (store_history_add(d->store, &e))
		log_warn("could not record history event %s", event);
}

static void txid_text(const struct session *s, char out[33])
{
	hex_encode(s->txid, s->txid_len, out, 33);
}

/* A new transactionId (SGP.22 5.6.1: the SM-DP+ makes it, unique): the
 * time in milliseconds (6 bytes, big-endian), then 10 random bytes. Time
 * first, new sessions and their trace rows go to the end of the indexes
 * keyed by transactionId instead of anywhere in them (issue 8: fewer pages
 * written per commit); 80 random bits keep them unique and unguessable,
 * and every call of a session is checked against the eUICC's signatures
 * anyway. 0 / -1. */
static int new_txid(struct session *s)
{
	struct timespec ts;
	uint64_t ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	for (int i = 0; i < 6; i++)
		s->txid[i] = (uint8_t)(ms >> (8 * (5 - i)));
	s->txid_len = SMDP_TXID_LEN;
	return crypto_random(s->txid + 6, SMDP_TXID_LEN - 6);
}

/* Tell the lab (a != NULL) the session as this call wrote it. */
static void note_after(struct es9_after *a, const struct session *s)
{
	if (!a)
		return;
	memset(a, 0, sizeof(*a));
	a->s.state = s->state;
	a->s.close_reason = s->close_reason;
	a->s.expires = s->expires;
	str_copy(a->s.eid, sizeof(a->s.eid), s->eid);
	str_copy(a->s.matching_id, sizeof(a->s.matching_id), s->matching_id);
	str_copy(a->s.profile_id, sizeof(a->s.profile_id), s->profile_id);
	a->set = 1;
}

/* End a session after a failed check: SGP.22 5.6 terminates the RSP session
 * on every error; the row stays for the history and late notifications.
 * point > 0: the session's order is told (handleDownloadProgressInfo). */
static void close_failed(struct smdp *d, struct session *s, const char *fn, enum rsp_status st,
			 int point)
{
	const struct rsp_status_info *i = rsp_status_info(st);
	char detail[96], tx[33];

	struct history_event ev;
	struct store_es9_writes w;

	s->state = SESSION_CLOSED;
	s->close_reason = CLOSE_ERROR;
	snprintf(detail, sizeof(detail), "%s %s/%s", fn, i->subject, i->reason);
	history_fill(&ev, s, "failed", detail);
	/* the closed session, its history event and the operator's
	 * notification (point > 0): one transaction */
	memset(&w, 0, sizeof(w));
	w.session = s;
	w.history = &ev;
	if (orders_es9_failed(d, s, point, st, &w))
		log_warn("could not close session");
	txid_text(s, tx);
	log_info("session %s: %s failed %s/%s (%s)", tx, fn, i->subject, i->reason, i->message);
}

/* Load an open session in one of the allowed states; anything else is an
 * unknown transaction (8.10.1/3.9). 1 ok, 0 refused (st set), -1 error. */
static enum rsp_status load_session(struct smdp *d, const uint8_t *txid, size_t txid_len,
				    unsigned allowed_states, struct session *s)
{
	int r = store_session_get(d->store, txid, txid_len, s);

	if (r < 0)
		return RSP_ERR_INTERNAL;
	if (r == 0)
		return RSP_ERR_TRANSACTION_UNKNOWN;
	if (!(allowed_states & (1u << s->state)))
		return RSP_ERR_TRANSACTION_UNKNOWN;
	if ((int64_t)time(NULL) > s->expires) {
		s->state = SESSION_CLOSED;
		s->close_reason = CLOSE_EXPIRED;
		store_session_update(d->store, s);
		return RSP_ERR_TRANSACTION_UNKNOWN;
	}
	return RSP_OK;
}

/* smdpAddress check (5.6.1): the configured FQDN, case-insensitive; a
 * ":port" suffix is accepted when it names the port the call came in on,
 * unless the configured address carries its own port. */
static int address_ok(const struct smdp *d, const char *addr, int port)
{
	const char *fqdn = d->cfg->fqdn;
	size_t fl = strlen(fqdn);
	char p[16];

	if (!strcasecmp(addr, fqdn))
		return 1;
	if (strchr(fqdn, ':') || strncasecmp(addr, fqdn, fl) || addr[fl] != ':')
		return 0;
	snprintf(p, sizeof(p), "%d", port);
	return !strcmp(addr + fl + 1, p);
}

static int svn_supported(const uint8_t svn[3])
{
	return svn[0] == 2 && svn[1] >= 1 && svn[1] <= 5;  /* SGP.22 v2.1 .. v2.5 */
}

enum rsp_status es9p_initiate_authentication(struct smdp *d, const struct es9_ia_req *rq,
					     struct es9_ia_resp *rs)
{
	const struct pki_set *set = NULL;
	struct session s;
	struct history_event ev;
	struct store_es9_writes w;
	enum rsp_status st;
	char tx[33];

	memset(&s, 0, sizeof(s));
	memset(rs, 0, sizeof(*rs));
	if (!address_ok(d, rq->smdp_address, rq->port)) {
		log_info("initiateAuthentication: smdpAddress '%s' is not '%s'", rq->smdp_address,
			 d->cfg->fqdn);
		st = RSP_ERR_INVALID_DP_ADDRESS;
		goto out;
	}
	if (!svn_supported(rq->info1.svn)) {
		log_info("initiateAuthentication: eUICC SVN %u.%u.%u unsupported", rq->info1.svn[0],
			 rq->info1.svn[1], rq->info1.svn[2]);
		st = RSP_ERR_EUICC_VERSION;
		goto out;
	}
	st = pki_select(&d->pki, &rq->info1, &set);
	if (st)
		goto out;

	st = RSP_ERR_INTERNAL;
	if (new_txid(&s) || crypto_random(s.server_challenge, SMDP_CHAL_LEN))
		goto out;
	s.state = SESSION_AUTH_STARTED;
	s.created = (int64_t)time(NULL);
	s.expires = s.created + d->cfg->session_timeout;
	str_copy(s.ci_name, sizeof(s.ci_name), set->name);
	memcpy(s.euicc_challenge, rq->euicc_challenge, SMDP_CHAL_LEN);
	memcpy(s.svn, rq->info1.svn, 3);

	/* serverSigned1 signed with SK.DPauth (5.6.1, 4.1 ServerSigned1) */
	if (der_encode_server_signed1(s.txid, s.txid_len, rq->euicc_challenge, rq->smdp_address,
				      s.server_challenge, &rs->server_signed1) ||
	    crypto_sign(set->dpauth_key, rs->server_signed1.p, rs->server_signed1.len,
			rs->server_signature1))
		goto out;
	/* the new session with its first history event: one transaction */
	history_fill(&ev, &s, "initiated", set->name);
	memset(&w, 0, sizeof(w));
	w.session = &s;
	w.session_insert = 1;
	w.history = &ev;
	if (store_es9_write(d->store, &w))
		goto out;
	note_after(rq->after, &s);
	memcpy(rs->txid, s.txid, s.txid_len);
	rs->txid_len = s.txid_len;
	rs->ci = set->ci_id;
	rs->server_cert = crypto_cert_der(set->dpauth, &rs->server_cert_len);
	txid_text(&s, tx);
	log_info("session %s: initiateAuthentication ok, CI %s", tx, set->name);
	st = RSP_OK;
out:
	if (st)
		es9_ia_resp_free(rs);
	session_free(&s);
	return st;
}

enum rsp_status es9p_authenticate_client(struct smdp *d, const struct es9_ac_req *rq,
					 struct es9_ac_resp *rs)
{
	const struct auth_server_resp *a = &rq->asr;
	const struct euicc_signed1 *s1 = &a->signed1;
	const struct pki_set *set;
	const struct profile *prof = NULL;
	crypto_key *pub = NULL;
	struct session s;
	struct binding b;
	struct history_event ev;
	struct store_es9_writes w;
	struct buf tbs = { 0 };
	enum rsp_status st;
	int r, have_binding = 0;
	char tx[33];

	memset(&s, 0, sizeof(s));
	memset(&b, 0, sizeof(b));
	memset(rs, 0, sizeof(*rs));
	st = load_session(d, rq->txid, rq->txid_len, 1u << SESSION_AUTH_STARTED, &s);
	if (st) {
		session_free(&s);
		return st;
	}
	set = pki_find(&d->pki, s.ci_name);
	if (!set) {
		st = RSP_ERR_INTERNAL;
		goto fail;
	}
	if (a->is_error) {
		log_info("eUICC answered AuthenticateServer with error %ld", a->error_code);
		st = RSP_ERR_EUICC_AUTH_ERROR;
		goto fail;
	}
	if (s1->txid_len != s.txid_len || memcmp(s1->txid, s.txid, s.txid_len)) {
		st = RSP_ERR_TRANSACTION_UNKNOWN;
		goto fail;
	}
	/* certificates, then euiccSignature1, then the challenge (5.6.3) */
	st = pki_verify_euicc(set, &a->eum_cert, &a->euicc_cert, time(NULL), s.eid, &pub);
	if (st)
		goto fail;
	r = crypto_verify(pub, a->signed1_raw.p, a->signed1_raw.len, a->signature1, SMDP_SIG_LEN);
	if (r != 1) {
		log_info("euiccSignature1 does not verify");
		st = RSP_ERR_EUICC_SIGNATURE;
		goto fail;
	}
	if (mem_neq(s1->server_challenge, s.server_challenge, SMDP_CHAL_LEN)) {
		log_info("serverChallenge in euiccSigned1 differs from the one sent");
		st = RSP_ERR_EUICC_SIGNATURE;
		goto fail;
	}
	if (s1->ctx.has_matching_id)
		str_copy(s.matching_id, sizeof(s.matching_id), s1->ctx.matching_id);
	/* kept for eligibility checks and later decoding (SGP.32 fields) */
	if (buf_set(&s.euicc_info2, s1->euicc_info2.p, s1->euicc_info2.len) ||
	    buf_set(&s.device_info, s1->ctx.device_info.p, s1->ctx.device_info.len)) {
		st = RSP_ERR_INTERNAL;
		goto fail;
	}
	if (log_get_level() >= LOG_INFO) {
		char line[256];
		der_device_summary(s.euicc_info2.p, s.euicc_info2.len, s.device_info.p,
				   s.device_info.len, line, sizeof(line));
		txid_text(&s, tx);
		log_info("session %s: %s", tx, line);
	}
	/* the order (or, in lab mode, the file) for this matchingId / EID;
	 * sets s.order_id, s.profile_id and s.cc_required (5.6.3) */
	st = orders_es9_select(d, &s, &s1->ctx, &prof);
	if (st)
		goto fail;

	st = RSP_ERR_INTERNAL;
	if (der_encode_store_metadata(&prof->meta, &s.profile_metadata))
		goto fail;
	r = store_binding_get(d->store, s.eid, prof->id, &b);
	if (r < 0)
		goto fail;
	have_binding = r;
	s.has_bound_otpk = have_binding;
	if (have_binding)
		memcpy(s.bound_otpk, b.euicc_otpk, SMDP_POINT_LEN);
	/* smdpSignature2 covers smdpSigned2 || euiccSignature1 TLV (5.6.3) */
	if (der_encode_smdp_signed2(s.txid, s.txid_len, s.cc_required,
				    have_binding ? s.bound_otpk : NULL,
				    have_binding ? SMDP_POINT_LEN : 0, &s.smdp_signed2) ||
	    buf_set(&tbs, s.smdp_signed2.p, s.smdp_signed2.len) ||
	    buf_append(&tbs, sig_hdr, sizeof(sig_hdr)) ||
	    buf_append(&tbs, a->signature1, SMDP_SIG_LEN) ||
	    crypto_sign(set->dppb_key, tbs.p, tbs.len, s.smdp_signature2))
		goto fail;
	memcpy(s.euicc_signature1, a->signature1, SMDP_SIG_LEN);
	if (buf_set(&s.euicc_cert, a->euicc_cert.p, a->euicc_cert.len) ||
	    buf_set(&s.eum_cert, a->eum_cert.p, a->eum_cert.len))
		goto fail;
	/* the response first, so that nothing after the commit can fail */
	memcpy(rs->txid, s.txid, s.txid_len);
	rs->txid_len = s.txid_len;
	if (buf_set(&rs->profile_metadata, s.profile_metadata.p, s.profile_metadata.len) ||
	    buf_set(&rs->smdp_signed2, s.smdp_signed2.p, s.smdp_signed2.len))
		goto fail;
	memcpy(rs->smdp_signature2, s.smdp_signature2, SMDP_SIG_LEN);
	rs->smdp_cert = crypto_cert_der(set->dppb, &rs->smdp_cert_len);
	s.state = SESSION_CLIENT_AUTHED;
	s.expires = (int64_t)time(NULL) + d->cfg->session_timeout;
	/* the session with its history event: one transaction */
	history_fill(&ev, &s, "authenticated", prof->id);
	memset(&w, 0, sizeof(w));
	w.session = &s;
	w.history = &ev;
	if (store_es9_write(d->store, &w))
		goto fail;
	note_after(rq->after, &s);
	txid_text(&s, tx);
	log_info("session %s: authenticateClient ok, EID %s, profile %s%s", tx, s.eid, prof->id,
		 have_binding ? " (earlier binding offered)" : "");
	st = RSP_OK;
	goto out;
fail:
	close_failed(d, &s, "authenticateClient", st, 0);
	es9_ac_resp_free(rs);
out:
	crypto_key_free(pub);
	binding_free(&b);
	buf_free(&tbs);
	session_free(&s);
	return st;
}

/* The eUICC key of a session: from the verified-chain cache, without
 * parsing the certificate again (getBoundProfilePackage, PIR, cancel). */
static crypto_key *session_euicc_key(struct smdp *d, const struct session *s)
{
	return pki_euicc_key(pki_find(&d->pki, s->ci_name), &s->euicc_cert);
}

enum rsp_status es9p_get_bpp(struct smdp *d, const struct es9_gbpp_req *rq,
			     struct es9_gbpp_resp *rs)
{
	const struct prepare_download_resp *p = &rq->pdr;
	const struct pki_set *set;
	const struct profile *prof;
	crypto_key *pub = NULL;
	struct session s;
	struct binding old, fresh;
	struct history_event ev;
	struct store_es9_writes w;
	struct buf tbs = { 0 };
	struct bpp_request br;
	enum rsp_status st;
	int have_old = 0;
	char tx[33];

	memset(&s, 0, sizeof(s));
	memset(&old, 0, sizeof(old));
	memset(&fresh, 0, sizeof(fresh));
	memset(rs, 0, sizeof(*rs));
	st = load_session(d, rq->txid, rq->txid_len,
			  1u << SESSION_CLIENT_AUTHED | 1u << SESSION_BPP_SENT, &s);
	if (st) {
		session_free(&s);
		return st;
	}
	set = pki_find(&d->pki, s.ci_name);
	prof = saip_find(&d->profiles, s.profile_id);
	if (!set || !prof) {
		st = RSP_ERR_INTERNAL;
		goto fail;
	}
	if (p->is_error) {
		log_info("eUICC answered PrepareDownload with error %ld", p->error_code);
		st = RSP_ERR_EUICC_DOWNLOAD_ERROR;
		goto fail;
	}
	if (p->txid_len != s.txid_len || memcmp(p->txid, s.txid, s.txid_len)) {
		st = RSP_ERR_TRANSACTION_UNKNOWN;
		goto fail;
	}
	/* euiccSignature2 covers euiccSigned2 || smdpSignature2 TLV (5.6.2) */
	pub = session_euicc_key(d, &s);
	st = RSP_ERR_INTERNAL;
	if (!pub || buf_set(&tbs, p->signed2_raw.p, p->signed2_raw.len) ||
	    buf_append(&tbs, sig_hdr, sizeof(sig_hdr)) ||
	    buf_append(&tbs, s.smdp_signature2, SMDP_SIG_LEN))
		goto fail;
	if (crypto_verify(pub, tbs.p, tbs.len, p->signature2, SMDP_SIG_LEN) != 1) {
		log_info("euiccSignature2 does not verify");
		st = RSP_ERR_EUICC_SIGNATURE;
		goto fail;
	}
	if (p->euicc_otpk_len != SMDP_POINT_LEN) {
		st = RSP_ERR_INVALID_REQUEST;
		goto fail;
	}
	/* the order: still released, not expired, confirmation code (5.6.2) */
	st = orders_es9_check_bpp(d, &s, p);
	if (st == RSP_ERR_CC_WRONG || st == RSP_ERR_CC_MISSING) {
		/* counted and told already; the session stays open so that the
		 * end user can enter the code again (a new PrepareDownload) */
		history(d, &s, "cc-refused", rsp_status_info(st)->name);
		goto out;
	}
	if (st == RSP_ERR_CC_RETRIES) {
		close_failed(d, &s, "getBoundProfilePackage", st, 0);
		goto out;
	}
	if (st)
		goto fail;
	st = RSP_ERR_INTERNAL;
	have_old = store_binding_get(d->store, s.eid, prof->id, &old);
	if (have_old < 0)
		goto fail;

	memset(&br, 0, sizeof(br));
	br.set = set;
	br.profile = prof;
	br.eid = s.eid;
	br.txid = s.txid;
	br.txid_len = s.txid_len;
	br.euicc_otpk = p->euicc_otpk;
	br.host_id = d->cfg->host_id;
	br.host_id_len = d->cfg->host_id_len;
	br.metadata = &s.profile_metadata;
	br.ppk = d->cfg->ppk;
	br.fault = rq->fault;   /* lab: a BPP wrong on purpose (lab.h), NULL none */
	st = bpp_build(&br, have_old ? &old : NULL, &rs->bpp, &fresh);
	if (st)
		goto fail;
	/* the binding, session BPP_SENT with its history event, profile
	 * Downloaded, operator told: one transaction */
	s.state = SESSION_BPP_SENT;
	history_fill(&ev, &s, "bpp-sent", have_old && !memcmp(old.euicc_otpk, p->euicc_otpk,
							    SMDP_POINT_LEN) ? "reused binding" :
		     "new binding");
	memset(&w, 0, sizeof(w));
	w.binding_put = &fresh;
	w.history = &ev;
	st = orders_es9_bpp_sent(d, &s, &w);
	if (st)
		goto fail;
	note_after(rq->after, &s);
	memcpy(rs->txid, s.txid, s.txid_len);
	rs->txid_len = s.txid_len;
	txid_text(&s, tx);
	log_info("session %s: getBoundProfilePackage ok, %zu bytes", tx, rs->bpp.len);
	st = RSP_OK;
	goto out;
fail:
	close_failed(d, &s, "getBoundProfilePackage", st, 3 /* BPP download */);
	es9_gbpp_resp_free(rs);
out:
	crypto_key_free(pub);
	binding_free(&old);
	binding_free(&fresh);
	buf_free(&tbs);
	session_free(&s);
	return st;
}

/* OtherSignedNotification (5.6.4): the eUICC sends its own chain along. */
static int verify_other(struct smdp *d, const struct pending_notification *pn, char *eid)
{
	for (size_t i = 0; i < d->pki.n; i++) {
		crypto_key *pub = NULL;
		int ok;
		if (pki_verify_euicc(&d->pki.sets[i], &pn->eum_cert, &pn->euicc_cert, time(NULL), eid,
				     &pub) != RSP_OK)
			continue;
		ok = crypto_verify(pub, pn->tbs_raw.p, pn->tbs_raw.len, pn->signature,
				   SMDP_SIG_LEN) == 1;
		crypto_key_free(pub);
		return ok;
	}
	return 0;
}

void es9p_handle_notification(struct smdp *d, const uint8_t *raw, size_t n,
			      const struct pending_notification *pn, struct es9_after *after)
{
	struct notification_row row;
	struct session s;
	struct history_event ev;
	struct store_es9_writes w;
	const struct pki_set *set;
	crypto_key *pub = NULL;
	char tx[33] = "";
	int found = 0;

	memset(&row, 0, sizeof(row));
	memset(&s, 0, sizeof(s));
	memset(&w, 0, sizeof(w));
	row.time = (int64_t)time(NULL);
	row.kind = pn->kind;
	row.seq_number = pn->meta.seq_number;
	row.operation = pn->meta.operation;
	if (pn->kind == NOTIF_OTHER) {
		row.verified = verify_other(d, pn, row.eid);
		log_info("notification: operation %d seq %ld from EID %s, signature %s",
			 pn->meta.operation, pn->meta.seq_number, row.eid[0] ? row.eid : "?",
			 row.verified ? "verified" : "NOT verified");
		goto store;
	}
	/* PIR: find the session even if closed or expired (late PIR). */
	memcpy(row.txid, pn->txid, pn->txid_len);
	row.txid_len = pn->txid_len;
	hex_encode(pn->txid, pn->txid_len, tx, sizeof(tx));
	found = store_session_get(d->store, pn->txid, pn->txid_len, &s) == 1;
	if (!found || !s.euicc_cert.len) {
		log_warn("PIR for unknown transaction %s: stored unverified", tx);
		goto store;
	}
	str_copy(row.eid, sizeof(row.eid), s.eid);
	set = pki_find(&d->pki, s.ci_name);
	pub = session_euicc_key(d, &s);
	row.verified = pub && crypto_verify(pub, pn->pir_data_raw.p, pn->pir_data_raw.len,
					    pn->signature, SMDP_SIG_LEN) == 1;
	if (!row.verified) {
		log_warn("session %s: PIR signature does not verify; ignored", tx);
		goto store;
	}
	if (set && strcmp(pn->smdp_oid, set->smdp_oid))
		log_warn("session %s: PIR names SM-DP+ OID %s, not ours (%s)", tx, pn->smdp_oid,
			 set->smdp_oid);
	if (s.state != SESSION_CLOSED || s.close_reason != CLOSE_INSTALLED) {
		char detail[64];
		s.state = SESSION_CLOSED;
		s.close_reason = pn->success ? CLOSE_INSTALLED : CLOSE_INSTALL_FAILED;
		if (pn->success) {
			/* installed: the binding must never be offered again */
			w.binding_del_eid = s.eid;
			w.binding_del_profile = s.profile_id;
			snprintf(detail, sizeof(detail), "ok");
		} else {
			snprintf(detail, sizeof(detail), "bppCommandId %ld errorReason %ld",
				 pn->bpp_command_id, pn->error_reason);
		}
		history_fill(&ev, &s, pn->success ? "installed" : "install-failed", detail);
		w.session = &s;
		w.history = &ev;
		/* with the notification row and the order's Installed or Error
		 * (told to the operator with the PIR): one transaction */
		if (buf_set(&row.raw, raw, n) == 0) {
			w.notification = &row;
			if (orders_es9_pir(d, &s, pn->success, raw, n, &w))
				log_warn("session %s: could not record the PIR", tx);
			else
				note_after(after, &s);
		} else {
			log_warn("session %s: could not record the PIR", tx);
		}
		log_info("session %s: profile %s %s on EID %s (%s)", tx, s.profile_id,
			 pn->success ? "installed" : "NOT installed", s.eid, detail);
		goto done;
	}
	/* the LPA sends a PIR again until it sees it acknowledged (SGP.22
	 * 3.5): kept as a notification, the session does not change */
	log_info("session %s: PIR received again (seq %ld), the profile is installed already; "
		 "nothing changes", tx, pn->meta.seq_number);
store:
	if (buf_set(&row.raw, raw, n) == 0 && store_notification_add(d->store, &row))
		log_warn("could not store notification");
done:
	buf_free(&row.raw);
	crypto_key_free(pub);
	session_free(&s);
}

static const char *cancel_reason_name(long r)
{
	switch (r) {
	case 0: return "endUserRejection";
	case 1: return "postponed";
	case 2: return "timeout";
	case 3: return "pprNotAllowed";
	case 4: return "metadataMismatch";
	case 5: return "loadBppExecutionError";
	case 127: return "undefinedReason";
	default: return "unknown reason";
	}
}

enum rsp_status es9p_cancel_session(struct smdp *d, const struct es9_cs_req *rq)
{
	const struct cancel_session_resp *c = &rq->csr;
	const struct pki_set *set;
	crypto_key *pub = NULL;
	struct session s, closed;   /* closed: a shallow copy, s owns the buffers */
	struct history_event ev;
	struct store_es9_writes w;
	enum rsp_status st;
	long reason;
	char tx[33], detail[64];

	memset(&s, 0, sizeof(s));
	memset(&w, 0, sizeof(w));
	st = load_session(d, rq->txid, rq->txid_len,
			  1u << SESSION_CLIENT_AUTHED | 1u << SESSION_BPP_SENT, &s);
	if (st)
		goto out;
	txid_text(&s, tx);
	set = pki_find(&d->pki, s.ci_name);
	if (!set) {
		st = RSP_ERR_INTERNAL;
		goto out;
	}
	if (c->is_error) {
		/* the eUICC could not sign (e.g. it lost the session): end it */
		log_info("session %s: cancelSession with eUICC error %ld", tx, c->error_code);
		reason = -1;
		snprintf(detail, sizeof(detail), "eUICC error %ld", c->error_code);
		goto cancel;
	}
	pub = session_euicc_key(d, &s);
	if (!pub || crypto_verify(pub, c->signed_raw.p, c->signed_raw.len, c->signature,
				  SMDP_SIG_LEN) != 1) {
		log_info("session %s: euiccCancelSessionSignature does not verify", tx);
		st = RSP_ERR_EUICC_SIGNATURE;
		goto out;
	}
	if (c->txid_len != s.txid_len || memcmp(c->txid, s.txid, s.txid_len)) {
		st = RSP_ERR_TRANSACTION_UNKNOWN;
		goto out;
	}
	if (strcmp(c->smdp_oid, set->smdp_oid)) {
		log_info("session %s: cancelSession for SM-DP+ OID %s, ours is %s", tx, c->smdp_oid,
			 set->smdp_oid);
		st = RSP_ERR_SMDP_OID_MISMATCH;
		goto out;
	}
	snprintf(detail, sizeof(detail), "%s (%ld)", cancel_reason_name(c->reason), c->reason);
	/* Reasons other than postponed/timeout mean this binding will not be
	 * installed: forget it so the next attempt binds afresh. */
	reason = c->reason;
	if (c->reason != 1 && c->reason != 2) {
		w.binding_del_eid = s.eid;
		w.binding_del_profile = s.profile_id;
	}
cancel:
	/* the session closed with its history event, the binding dropped and
	 * the reason's effect on the order (5.6.5): one transaction. The order
	 * reads s as it was (the point reached); the row written is closed. */
	closed = s;
	closed.state = SESSION_CLOSED;
	closed.close_reason = CLOSE_CANCELLED;
	history_fill(&ev, &closed, "cancelled", detail);
	w.session = &closed;
	w.history = &ev;
	if (orders_es9_cancel(d, &s, reason, &w)) {
		st = RSP_ERR_INTERNAL;
		goto out;
	}
	note_after(rq->after, &closed);
	st = RSP_OK;
	log_info("session %s: cancelled by the eUICC: %s", tx, detail);
out:
	crypto_key_free(pub);
	session_free(&s);
	return st;
}

void es9_ia_resp_free(struct es9_ia_resp *r)
{
	buf_free(&r->server_signed1);
}

void es9_ac_resp_free(struct es9_ac_resp *r)
{
	buf_free(&r->profile_metadata);
	buf_free(&r->smdp_signed2);
}

void es9_gbpp_resp_free(struct es9_gbpp_resp *r)
{
	buf_free(&r->bpp);
}
