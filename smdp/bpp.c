/* bpp.c - Bound Profile Package assembly (SGP.22 2.5.5, 3.1.3, 5.5): key
 * agreement with the eUICC's one-time key, BF23 with smdpSign, and the
 * protected segments of ConfigureISDP, StoreMetadata, ReplaceSessionKeys and
 * the profile. */
#include "smdp.h"

#include <stdlib.h>
#include <string.h>

/* Growable list of complete segment TLVs. */
struct seglist {
	struct buf *v;
	size_t n;
};

static void seglist_free(struct seglist *l)
{
	for (size_t i = 0; i < l->n; i++)
		buf_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Cut data into segments of at most scp03t_max_plain() bytes and protect
 * each one with ctx (SGP.22 2.5.5: no segment over 1020 bytes). */
static int protect(struct scp03t *ctx, uint8_t tag, int encrypt, const uint8_t *data,
		   size_t n, struct seglist *out)
{
	size_t chunk = scp03t_max_plain(encrypt);

	for (size_t off = 0; off < n || (n == 0 && off == 0);) {
		size_t take = n - off < chunk ? n - off : chunk;
		struct buf *t = realloc(out->v, (out->n + 1) * sizeof(*out->v));
		if (!t)
			return -1;
		out->v = t;
		memset(&out->v[out->n], 0, sizeof(out->v[0]));
		if (scp03t_wrap(ctx, tag, encrypt, data + off, take, &out->v[out->n]))
			return -1;
		out->n++;
		off += take;
		if (n == 0)
			break;
	}
	return 0;
}

/* BF23 for this transaction, signed with SK.DPpb over its first four TLVs
 * followed by 5F49 41 otPK.EUICC (SGP.22 5.5.1, smdpSign). */
static int make_bf23(const struct bpp_request *rq, const uint8_t dp_otpk[SMDP_POINT_LEN],
		     struct buf *out)
{
	static const uint8_t otpk_hdr[3] = { 0x5F, 0x49, 0x41 }; /* euiccOtpk TLV header */
	struct bf23 b;
	struct buf tbs = { 0 }, tmp = { 0 };
	int rc = -1;

	memset(&b, 0, sizeof(b));
	memcpy(b.txid, rq->txid, rq->txid_len);
	b.txid_len = rq->txid_len;
	memcpy(b.host_id, rq->host_id, rq->host_id_len);
	b.host_id_len = rq->host_id_len;
	memcpy(b.dp_otpk, dp_otpk, SMDP_POINT_LEN);
	/* first pass gives the signed part; the signature bytes do not change it */
	if (der_encode_bf23(&b, &tmp, &tbs) ||
	    buf_append(&tbs, otpk_hdr, sizeof(otpk_hdr)) ||
	    buf_append(&tbs, rq->euicc_otpk, SMDP_POINT_LEN) ||
	    crypto_sign(rq->set->dppb_key, tbs.p, tbs.len, b.signature) ||
	    der_encode_bf23(&b, out, NULL))
		goto out;
	rc = 0;
out:
	buf_free(&tbs);
	buf_free(&tmp);
	return rc;
}

/* Binary EID for the key derivation: the 32 digits as 16 BCD bytes. */
static int eid_bytes(const char *eid, uint8_t out[16])
{
	return hex_decode(eid, out, 16) == 16 ? 0 : -1;
}

static enum rsp_status bind_fresh(const struct bpp_request *rq, struct bpp_parts *parts,
				  struct binding *bind)
{
	crypto_key *otsk = NULL, *peer = NULL;
	struct scp03t s, ppk;
	struct buf isdp = { 0 }, rsk = { 0 };
	struct seglist a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
	uint8_t z[32], eid[16], keys[48];
	enum rsp_status st = RSP_ERR_INTERNAL;

	memset(&s, 0, sizeof(s));
	memset(&ppk, 0, sizeof(ppk));
	peer = crypto_key_from_point(rq->set->curve, rq->euicc_otpk, SMDP_POINT_LEN);
	if (!peer) {
		log_info("otPK.EUICC is not a point on %s", crypto_curve_name(rq->set->curve));
		st = RSP_ERR_INVALID_REQUEST;
		goto out;
	}
	otsk = crypto_key_generate(rq->set->curve);
	if (!otsk || crypto_key_point(otsk, bind->dp_otpk) || crypto_ecdh(otsk, peer, z) ||
	    eid_bytes(rq->eid, eid) ||
	    scp03t_derive(z, rq->host_id, rq->host_id_len, eid, &s))
		goto out;

	/* A0: ConfigureISDPRequest, encrypted (SGP.22 5.5.2) */
	if (der_encode_configure_isdp(NULL, &isdp) || protect(&s, 0x87, 1, isdp.p, isdp.len, &a0))
		goto out;
	/* A1: StoreMetadataRequest, MAC only, the exact bytes of authenticateClient */
	if (protect(&s, 0x88, 0, rq->metadata->p, rq->metadata->len, &a1))
		goto out;
	if (rq->ppk) {
		/* A2: ReplaceSessionKeys with fresh random PPKs; the profile then
		 * runs in a new BSP context keyed by them (SGP.22 2.5.5, 5.5.4). */
		if (crypto_random(keys, sizeof(keys)) ||
		    der_encode_replace_session_keys(keys, keys + 16, keys + 32, &rsk) ||
		    protect(&s, 0x87, 1, rsk.p, rsk.len, &a2))
			goto out;
		scp03t_init(&ppk, keys + 16, keys + 32, keys);
		if (protect(&ppk, 0x86, 1, rq->profile->upp.p, rq->profile->upp.len, &a3))
			goto out;
	} else if (protect(&s, 0x86, 1, rq->profile->upp.p, rq->profile->upp.len, &a3)) {
		goto out;
	}
	parts->seg87a = a0.v; parts->n87a = a0.n; a0.v = NULL; a0.n = 0;
	parts->seg88 = a1.v; parts->n88 = a1.n; a1.v = NULL; a1.n = 0;
	parts->seg87b = a2.v; parts->n87b = a2.n; a2.v = NULL; a2.n = 0;
	parts->seg86 = a3.v; parts->n86 = a3.n; a3.v = NULL; a3.n = 0;
	st = RSP_OK;
out:
	crypto_cleanse(z, sizeof(z));
	crypto_cleanse(keys, sizeof(keys));
	scp03t_wipe(&s);
	scp03t_wipe(&ppk);
	buf_free(&isdp);
	buf_wipe(&rsk);
	seglist_free(&a0);
	seglist_free(&a1);
	seglist_free(&a2);
	seglist_free(&a3);
	crypto_key_free(otsk);   /* otSK.DP.ECKA is deleted after use (SGP.22 3.1.3) */
	crypto_key_free(peer);
	return st;
}

enum rsp_status bpp_build(const struct bpp_request *rq, const struct binding *reuse,
			  struct buf *bpp, struct binding *bind)
{
	struct bpp_parts parts;
	enum rsp_status st = RSP_ERR_INTERNAL;

	memset(&parts, 0, sizeof(parts));
	memset(bind, 0, sizeof(*bind));
	snprintf(bind->eid, sizeof(bind->eid), "%s", rq->eid);
	snprintf(bind->profile_id, sizeof(bind->profile_id), "%s", rq->profile->id);
	memcpy(bind->euicc_otpk, rq->euicc_otpk, SMDP_POINT_LEN);
	if (reuse && !memcmp(reuse->euicc_otpk, rq->euicc_otpk, SMDP_POINT_LEN)) {
		/* Same otPK.EUICC as an earlier binding: the eUICC still holds the
		 * matching otSK, so the earlier segments are valid for it; only BF23
		 * names the new transaction (SGP.22 3.1.3.3 retry). */
		if (der_decode_bpp(reuse->segments.p, reuse->segments.len, &parts) != RSP_OK)
			goto out;
		memcpy(bind->dp_otpk, reuse->dp_otpk, SMDP_POINT_LEN);
		buf_free(&parts.bf23);
	} else {
		st = bind_fresh(rq, &parts, bind);
		if (st)
			goto out;
		st = RSP_ERR_INTERNAL;
	}
	if (make_bf23(rq, bind->dp_otpk, &parts.bf23) || der_encode_bpp(&parts, bpp) ||
	    buf_set(&bind->segments, bpp->p, bpp->len))
		goto out;
	st = RSP_OK;
out:
	bpp_parts_free(&parts);
	if (st)
		binding_free(bind);
	return st;
}
