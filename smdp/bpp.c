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

/* ------------------------------------------------------------------ */
/* Lab faults (issue 7, lab.h): a BPP that is wrong on purpose, each fault
 * exactly one defect so that what an eUICC or LPA reports can be traced to
 * it. Only reached when rq->fault is set; nothing here runs otherwise. */

#define FAULT_MD_NAME "lab fault: metadata mismatch"   /* profileName in the 88s */
#define FAULT_BLOCK   16

static int fault_is(const struct bpp_request *rq, enum bpp_fault_kind k)
{
	return rq->fault && rq->fault->kind == k;
}

/* StoreMetadataRequest that differs from what authenticateClient sent only
 * in profileName: still valid DER, so only the comparison of SGP.22 3.1.3
 * (metadata in the BPP vs profileMetadata) can catch it. 0 / -1. */
static int fault_metadata(const struct buf *md, struct buf *out)
{
	struct profile_metadata m;
	int rc = -1;

	memset(&m, 0, sizeof(m));
	if (der_decode_store_metadata(md->p, md->len, &m) != RSP_OK)
		goto out;
	str_copy(m.name, sizeof(m.name), FAULT_MD_NAME);
	rc = der_encode_store_metadata(&m, out);
out:
	buf_free(&m.icon);
	return rc;
}

/* One encrypted segment of n plaintext bytes with no size limit: the
 * segment protection of SGP.22 2.6.6.3/2.6.6.4 (ICV = AES(S-ENC, counter),
 * 80 00.. padding, AES-CBC, C-MAC over MCV || tag || length || data, first
 * 8 bytes carried) as scp03t_wrap does it, minus its SMDP_SEG_MAX check,
 * so that the MAC is right and only the size is wrong. 0 / -1. */
static int fault_wrap_unbounded(struct scp03t *s, uint8_t tag, const uint8_t *in, size_t n,
				struct buf *out)
{
	uint8_t ctr[FAULT_BLOCK] = { 0 }, icv[FAULT_BLOCK], cmac[16], *work = NULL, *seg;
	size_t dlen = (n / FAULT_BLOCK + 1) * FAULT_BLOCK, vlen = dlen + 8, total = 4 + vlen;
	int rc = -1;

	if (vlen > 0xFFFF || !(work = malloc(16 + total)))
		goto out;
	memcpy(work, s->mcv, 16);
	seg = work + 16;
	seg[0] = tag;
	seg[1] = 0x82;                      /* three-byte length 82 xx xx */
	seg[2] = (uint8_t)(vlen >> 8);
	seg[3] = (uint8_t)vlen;
	memcpy(seg + 4, in, n);
	seg[4 + n] = 0x80;
	memset(seg + 4 + n + 1, 0, dlen - n - 1);
	ctr[12] = (uint8_t)(s->counter >> 24);
	ctr[13] = (uint8_t)(s->counter >> 16);
	ctr[14] = (uint8_t)(s->counter >> 8);
	ctr[15] = (uint8_t)s->counter;
	if (crypto_aes_ecb_block(s->enc, ctr, icv) ||
	    crypto_aes_cbc_encrypt(s->enc, icv, seg + 4, dlen, seg + 4) ||
	    crypto_cmac(s->mac, work, 16 + 4 + dlen, cmac))
		goto out;
	memcpy(seg + 4 + dlen, cmac, 8);
	if (buf_append(out, seg, total))
		goto out;
	memcpy(s->mcv, cmac, 16);
	s->counter++;
	rc = 0;
out:
	if (work) {
		crypto_cleanse(work, 16 + total);
		free(work);
	}
	crypto_cleanse(icv, sizeof(icv));
	crypto_cleanse(cmac, sizeof(cmac));
	return rc;
}

/* The profile's 86 segments with the first one 16 bytes of plaintext over
 * the limit (1036 bytes, the size some SM-DP+s are known to send), the
 * rest as usual. 0 / -1; fault->applied only if the profile is long
 * enough for an oversized first segment. */
static int fault_protect_oversized(struct scp03t *ctx, const uint8_t *data, size_t n,
				   struct seglist *out, struct bpp_fault *f)
{
	size_t first = scp03t_max_plain(1) + FAULT_BLOCK;
	struct buf *t;

	if (n <= scp03t_max_plain(1)) {
		snprintf(f->detail, sizeof(f->detail), "profile of %zu bytes fits one segment", n);
		return protect(ctx, 0x86, 1, data, n, out);
	}
	if (first > n)
		first = n;
	t = realloc(out->v, (out->n + 1) * sizeof(*out->v));
	if (!t)
		return -1;
	out->v = t;
	memset(&out->v[out->n], 0, sizeof(out->v[0]));
	if (fault_wrap_unbounded(ctx, 0x86, data, first, &out->v[out->n]))
		return -1;
	out->n++;
	f->applied = 1;
	snprintf(f->detail, sizeof(f->detail), "first 86 segment is %zu bytes (limit %d), MAC valid",
		 out->v[out->n - 1].len, SMDP_SEG_MAX);
	return first == n ? 0 : protect(ctx, 0x86, 1, data + first, n - first, out);
}

/* Alter the MAC (last byte) of segment k of the BPP in order (87s, 88s,
 * second 87s, 86s; 0 = the last one). */
static void fault_bad_mac(struct bpp_parts *p, struct bpp_fault *f)
{
	struct { struct buf *v; size_t n; const char *name; } seq[4] = {
		{ p->seg87a, p->n87a, "firstSequenceOf87" }, { p->seg88, p->n88, "sequenceOf88" },
		{ p->seg87b, p->n87b, "secondSequenceOf87" }, { p->seg86, p->n86, "sequenceOf86" },
	};
	size_t total = p->n87a + p->n88 + p->n87b + p->n86, k;

	if (total == 0)
		return;
	k = (f->segment <= 0 || (size_t)f->segment > total) ? total : (size_t)f->segment;
	for (size_t i = 0, first = 1; i < 4; first += seq[i].n, i++) {
		if (k >= first + seq[i].n)
			continue;
		struct buf *b = &seq[i].v[k - first];
		b->p[b->len - 1] ^= 0x01;
		f->applied = 1;
		snprintf(f->detail, sizeof(f->detail), "MAC of segment %zu of %zu altered (%s #%zu)",
			 k, total, seq[i].name, k - first + 1);
		return;
	}
}

static enum rsp_status bind_fresh(const struct bpp_request *rq, struct bpp_parts *parts,
				  struct binding *bind)
{
	crypto_key *otsk = NULL, *peer = NULL;
	struct scp03t s, ppk;
	struct buf isdp = { 0 }, rsk = { 0 }, md_fault = { 0 };
	const struct buf *md = rq->metadata;
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
	if (fault_is(rq, BPP_FAULT_METADATA)) {
		if (fault_metadata(rq->metadata, &md_fault))
			goto out;
		md = &md_fault;
		rq->fault->applied = 1;
		snprintf(rq->fault->detail, sizeof(rq->fault->detail), "StoreMetadata in the 88 "
			 "segments has profileName '%s' (%zu bytes, profileMetadata %zu)",
			 FAULT_MD_NAME, md->len, rq->metadata->len);
	}
	if (protect(&s, 0x88, 0, md->p, md->len, &a1))
		goto out;
	if (rq->ppk) {
		/* A2: ReplaceSessionKeys with fresh random PPKs; the profile then
		 * runs in a new BSP context keyed by them (SGP.22 2.5.5, 5.5.4). */
		if (crypto_random(keys, sizeof(keys)) ||
		    der_encode_replace_session_keys(keys, keys + 16, keys + 32, &rsk) ||
		    protect(&s, 0x87, 1, rsk.p, rsk.len, &a2))
			goto out;
		scp03t_init(&ppk, keys + 16, keys + 32, keys);
	}
	if (fault_is(rq, BPP_FAULT_OVERSIZED)) {
		if (fault_protect_oversized(rq->ppk ? &ppk : &s, rq->profile->upp.p,
					    rq->profile->upp.len, &a3, rq->fault))
			goto out;
	} else if (protect(rq->ppk ? &ppk : &s, 0x86, 1, rq->profile->upp.p, rq->profile->upp.len,
			   &a3)) {
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
	buf_free(&md_fault);
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
	str_copy(bind->eid, sizeof(bind->eid), rq->eid);
	str_copy(bind->profile_id, sizeof(bind->profile_id), rq->profile->id);
	memcpy(bind->euicc_otpk, rq->euicc_otpk, SMDP_POINT_LEN);
	/* a fault in the segments needs them built afresh (the eUICC's otSK
	 * still matches: a new otSK.DP makes new keys for the same otPK.EUICC) */
	if (fault_is(rq, BPP_FAULT_METADATA) || fault_is(rq, BPP_FAULT_OVERSIZED))
		reuse = NULL;
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
	/* faults after the binding copy: the kept segments stay correct */
	if (fault_is(rq, BPP_FAULT_BAD_MAC) || fault_is(rq, BPP_FAULT_BAD_SMDP_SIGN)) {
		if (rq->fault->kind == BPP_FAULT_BAD_MAC) {
			fault_bad_mac(&parts, rq->fault);
		} else if (parts.bf23.len) {
			/* smdpSign (5F37 40 r||s) is the last element of BF23 */
			parts.bf23.p[parts.bf23.len - 1] ^= 0x01;
			rq->fault->applied = 1;
			snprintf(rq->fault->detail, sizeof(rq->fault->detail),
				 "smdpSign of InitialiseSecureChannelRequest altered");
		}
		buf_free(bpp);
		if (der_encode_bpp(&parts, bpp))
			goto out;
	}
	st = RSP_OK;
out:
	bpp_parts_free(&parts);
	if (st)
		binding_free(bind);
	return st;
}
