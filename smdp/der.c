/* der.c - DER at the edge: SGP.22 RSP structures <-> our structs, through asn1c (asn1/gen). */
#include "smdp.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "AuthenticateServerResponse.h"
#include "BoundProfilePackage.h"
#include "CancelSessionResponse.h"
#include "ConfigureISDPRequest.h"
#include "DpProprietaryData.h"
#include "EUICCInfo1.h"
#include "EUICCInfo2.h"
#include "EUICCSigned2.h"
#include "IoTSpecificInfo.h"
#include "EuiccCancelSessionSigned.h"
#include "EuiccSigned1.h"
#include "InitialiseSecureChannelRequest.h"
#include "PendingNotification.h"
#include "PrepareDownloadResponse.h"
#include "ProfileInstallationResult.h"
#include "ProfileInstallationResultData.h"
#include "RemoteProfileProvisioningRequest.h"
#include "RemoteProfileProvisioningResponse.h"
#include "ReplaceSessionKeysRequest.h"
#include "ServerSigned1.h"
#include "SmdpSigned2.h"
#include "StoreMetadataRequest.h"
#include "NotificationConfigurationInformation.h"

/*
 * Tags of the SGP.22 structures (first bytes of the encodings), named after
 * their ASN.1 types; see asn1/rsp.asn.
 */
#define TAG_SEQUENCE        0x30u
#define TAG_OCTET_STRING    0x04u
#define TAG_INTEGER         0x02u
#define TAG_BOOLEAN         0x01u
#define TAG_OID             0x06u
#define TAG_UTF8            0x0Cu
#define TAG_EUICC_INFO1     0xBF20u  /* EUICCInfo1 */
#define TAG_PREP_DL_RESP    0xBF21u  /* PrepareDownloadResponse */
#define TAG_EUICC_INFO2     0xBF22u  /* EUICCInfo2 */
#define TAG_ISC_REQ         0xBF23u  /* InitialiseSecureChannelRequest */
#define TAG_STORE_META      0xBF25u  /* StoreMetadataRequest */
#define TAG_REPLACE_KEYS    0xBF26u  /* ReplaceSessionKeysRequest */
#define TAG_PIR_DATA        0xBF27u  /* ProfileInstallationResultData */
#define TAG_NOTIF_META      0xBF2Fu  /* NotificationMetadata */
#define TAG_BPP             0xBF36u  /* BoundProfilePackage */
#define TAG_PIR             0xBF37u  /* ProfileInstallationResult */
#define TAG_AUTH_SRV_RESP   0xBF38u  /* AuthenticateServerResponse */
#define TAG_CANCEL_RESP     0xBF41u  /* CancelSessionResponse */
#define TAG_SIGNATURE       0x5F37u  /* [APPLICATION 55] signatures */
#define TAG_OTPK            0x5F49u  /* [APPLICATION 73] one-time public keys */
#define TAG_ICCID           0x5Au    /* Iccid */

#define DER_MAX_DEPTH   32      /* nesting accepted in received DER */
#define DER_STACK_MAX   30000   /* C stack asn1c may use while decoding */
#define DER_OID_ARCS    (SMDP_MAX_OID / 2 + 1)
#define DER_MAX_KEYID   32      /* struct ci_id.id */

/* ------------------------------------------------------------------ */
/* BER-TLV walking over received (or just encoded) bytes. */

/* Tags are returned as their encoded bytes (BF36, 5F37, 30); a length
 * takes at most 4 bytes (X.690 8.1.3.5), non-minimal forms are accepted. */
int der_tlv(const uint8_t *p, size_t n, uint32_t *tag, size_t *hdr_len, size_t *val_len)
{
	size_t i = 0, len = 0, nb;
	uint32_t t;
	int rc = -1;

	if (!p || n < 2)
		goto out;
	t = p[i++];
	if ((t & 0x1F) == 0x1F) {
		/* High tag number: at most two subsequent bytes. */
		do {
			if (i >= n || i > 2)
				goto out;
			t = (t << 8) | p[i];
		} while (p[i++] & 0x80);
	}
	if (i >= n)
		goto out;
	if (p[i] < 0x80) {
		len = p[i++];
	} else {
		nb = p[i++] & 0x7F;
		if (nb == 0 || nb > 4 || n - i < nb)   /* indefinite, too long, cut */
			goto out;
		for (; nb > 0; nb--)
			len = (len << 8) | p[i++];
	}
	if (len > n - i)
		goto out;
	if (tag)
		*tag = t;
	if (hdr_len)
		*hdr_len = i;
	if (val_len)
		*val_len = len;
	rc = 0;
out:
	return rc;
}

struct tlv {
	uint32_t tag;
	const uint8_t *p;   /* first byte of the tag */
	size_t len;         /* whole TLV */
	const uint8_t *v;   /* value */
	size_t vlen;
};

static int tlv_read(const uint8_t *p, size_t n, struct tlv *t)
{
	size_t hdr, vlen;

	if (der_tlv(p, n, &t->tag, &hdr, &vlen) < 0)
		return -1;
	t->p = p;
	t->len = hdr + vlen;
	t->v = p + hdr;
	t->vlen = vlen;
	return 0;
}

/* The idx-th child TLV (whatever its tag) inside a constructed TLV. */
static int tlv_nth(const struct tlv *parent, size_t idx, struct tlv *out)
{
	const uint8_t *p = parent->v;
	size_t n = parent->vlen;

	for (;;) {
		if (n == 0 || tlv_read(p, n, out) < 0)
			return -1;
		if (idx-- == 0)
			return 0;
		p += out->len;
		n -= out->len;
	}
}

/* The first child with the given tag inside a constructed TLV. */
static int tlv_find(const struct tlv *parent, uint32_t tag, struct tlv *out)
{
	const uint8_t *p = parent->v;
	size_t n = parent->vlen;

	while (n > 0) {
		if (tlv_read(p, n, out) < 0)
			return -1;
		if (out->tag == tag)
			return 0;
		p += out->len;
		n -= out->len;
	}
	return -1;
}

/* Descend from the outer TLV at der (its tag must be path[0]) through the
 * first children with the tags path[1..]. */
static int tlv_path(const uint8_t *der, size_t n, const uint32_t *path, size_t plen,
		    struct tlv *out)
{
	struct tlv cur;
	size_t i;

	if (plen == 0 || tlv_read(der, n, &cur) < 0 || cur.tag != path[0])
		return -1;
	for (i = 1; i < plen; i++) {
		if (tlv_find(&cur, path[i], &cur) < 0)
			return -1;
	}
	*out = cur;
	return 0;
}

#define TLV_PATH(der, n, out, ...) \
	tlv_path((der), (n), (const uint32_t[]){ __VA_ARGS__ }, \
		 sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t), (out))

/* Every TLV well formed with definite lengths, nesting bounded: SGP.22
 * wants DER, and this keeps asn1c's recursion (ANY, indefinite lengths)
 * away from hostile input. */
static int tlv_strict(const uint8_t *p, size_t n, int depth)
{
	struct tlv t;

	if (depth > DER_MAX_DEPTH)
		return -1;
	while (n > 0) {
		if (tlv_read(p, n, &t) < 0)
			return -1;
		if ((p[0] & 0x20) && tlv_strict(t.v, t.vlen, depth + 1) < 0)
			return -1;
		p += t.len;
		n -= t.len;
	}
	return 0;
}

static int tlv_same(const struct tlv *t, const uint8_t *raw, size_t n)
{
	return t->len == n && memcmp(t->p, raw, n) == 0;
}

/* Append one TLV (tag as its encoded bytes, DER length) to b. 0 / -1. */
static int tlv_put(struct buf *b, uint32_t tag, const void *v, size_t n)
{
	uint8_t h[8];
	size_t k = 0;

	if (n > 0xFFFFFF || (n && !v))
		return -1;
	if (tag > 0xFFFF)
		h[k++] = (uint8_t)(tag >> 16);
	if (tag > 0xFF)
		h[k++] = (uint8_t)(tag >> 8);
	h[k++] = (uint8_t)tag;
	if (n >= 0x10000) {
		h[k++] = 0x83;
		h[k++] = (uint8_t)(n >> 16);
		h[k++] = (uint8_t)(n >> 8);
	} else if (n >= 0x100) {
		h[k++] = 0x82;
		h[k++] = (uint8_t)(n >> 8);
	} else if (n >= 0x80) {
		h[k++] = 0x81;
	}
	h[k++] = (uint8_t)n;
	return buf_append(b, h, k) < 0 || buf_append(b, v, n) < 0 ? -1 : 0;
}

/* Wrap b's content in one TLV with the given tag, in place. 0 / -1. */
static int tlv_wrap(struct buf *b, uint32_t tag)
{
	struct buf w = { 0 };

	if (tlv_put(&w, tag, b->p, b->len) < 0) {
		buf_free(&w);
		return -1;
	}
	buf_free(b);
	*b = w;
	return 0;
}

/* b holds exactly one well-formed TLV with the given tag (0: any). */
static int tlv_one(const struct buf *b, uint32_t tag, struct tlv *t)
{
	return b && b->p && b->len <= SMDP_MAX_BODY && tlv_read(b->p, b->len, t) == 0 &&
	       t->len == b->len && (!tag || t->tag == tag) && tlv_strict(b->p, b->len, 0) == 0 ? 0 : -1;
}

/*
 * Where asn1c only says "failed", tell a missing mandatory element apart:
 * each entry names a container (path of tags from the outer TLV) and the
 * tags that must occur among its children (a tag listed twice must occur
 * twice). Entries whose container is absent do not apply.
 */
struct need {
	uint32_t path[6];   /* 0 ends */
	uint32_t tags[10];  /* 0 ends */
};

static size_t count_u32(const uint32_t *a, size_t max)
{
	size_t n = 0;

	while (n < max && a[n])
		n++;
	return n;
}

static int need_missing(const uint8_t *der, size_t n, const struct need *nd, size_t count)
{
	for (size_t e = 0; e < count; e++) {
		size_t plen = count_u32(nd[e].path, 6), tlen = count_u32(nd[e].tags, 10);
		struct tlv box, c;

		if (tlv_path(der, n, nd[e].path, plen, &box) < 0)
			continue;
		for (size_t i = 0; i < tlen; i++) {
			size_t want = 0, have = 0;

			for (size_t j = 0; j < tlen; j++)
				want += nd[e].tags[j] == nd[e].tags[i];
			for (size_t k = 0; tlv_nth(&box, k, &c) == 0; k++)
				have += c.tag == nd[e].tags[i];
			if (have < want)
				return 1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* asn1c glue */

/*
 * Decode exactly n bytes at der as one td whose outer tag is tag (0: any).
 * *sp receives a new struct (caller frees with ASN_STRUCT_FREE) or NULL on
 * failure. Rejects trailing bytes, truncation (RC_WMORE), indefinite
 * lengths and constraint violations (SIZE etc., UTF-8 validity).
 */
static int asn_decode(asn_TYPE_descriptor_t *td, void **sp, const uint8_t *der, size_t n,
		      uint32_t tag)
{
	asn_codec_ctx_t ctx = { .max_stack_size = DER_STACK_MAX };
	asn_dec_rval_t rv;
	struct tlv t;
	int rc = -1;

	*sp = NULL;
	if (!der || n == 0 || n > SMDP_MAX_BODY)
		goto out;
	if (tlv_read(der, n, &t) < 0 || t.len != n || (tag && t.tag != tag))
		goto out;
	if (tlv_strict(der, n, 0) < 0)
		goto out;
	rv = ber_decode(&ctx, td, sp, der, n);
	if (rv.code != RC_OK || rv.consumed != n)
		goto out;
	if (asn_check_constraints(td, *sp, NULL, NULL) != 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		log_debug("der: %s: malformed (%zu bytes)", td->name, n);
		if (*sp)
			ASN_STRUCT_FREE(*td, *sp);
		*sp = NULL;
	}
	return rc;
}

/*
 * Decode one complete TLV raw into an already allocated (zeroed) member of
 * a struct being built for encoding. The enclosing struct's free releases
 * whatever was decoded, also on failure.
 */
static int asn_embed(asn_TYPE_descriptor_t *td, void *member, const uint8_t *raw, size_t n)
{
	asn_codec_ctx_t ctx = { .max_stack_size = DER_STACK_MAX };
	asn_dec_rval_t rv;
	struct tlv t;
	void *p = member;

	if (!raw || n == 0 || tlv_read(raw, n, &t) < 0 || t.len != n || tlv_strict(raw, n, 0) < 0)
		return -1;
	rv = ber_decode(&ctx, td, &p, raw, n);
	if (rv.code != RC_OK || rv.consumed != n)
		return -1;
	return 0;
}

/* DER-encode sp into a right-sized heap buffer that replaces out's content. */
static int asn_encode(asn_TYPE_descriptor_t *td, void *sp, struct buf *out)
{
	asn_enc_rval_t er;
	uint8_t *p = NULL;
	size_t size;
	int rc = -1;

	if (asn_check_constraints(td, sp, NULL, NULL) != 0) {
		log_debug("der: %s: value violates a constraint", td->name);
		goto out;
	}
	er = der_encode(td, sp, NULL, NULL);
	if (er.encoded < 0)
		goto out;
	size = (size_t)er.encoded;
	p = malloc(size ? size : 1);
	if (!p)
		goto out;
	er = der_encode_to_buffer(td, sp, p, size);
	if (er.encoded < 0 || (size_t)er.encoded != size)
		goto out;
	buf_free(out);
	out->p = p;
	out->len = size;
	p = NULL;
	rc = 0;
out:
	if (rc < 0)
		log_debug("der: %s: encoding failed", td->name);
	free(p);
	return rc;
}

static int os_set(OCTET_STRING_t *os, const void *p, size_t n)
{
	if (n > INT_MAX || (n && !p))
		return -1;
	return OCTET_STRING_fromBuf(os, n ? (const char *)p : "", (int)n);
}

static int str_set(OCTET_STRING_t *os, const char *s, size_t max)
{
	size_t n;

	if (!s)
		return -1;
	n = strnlen(s, max + 1);
	if (n > max)
		return -1;
	return os_set(os, s, n);
}

static OCTET_STRING_t *os_new(const void *p, size_t n)
{
	OCTET_STRING_t *os = calloc(1, sizeof(*os));

	if (os && os_set(os, p, n) < 0) {
		ASN_STRUCT_FREE(asn_DEF_OCTET_STRING, os);
		os = NULL;
	}
	return os;
}

/* Copy an OCTET STRING of min..max bytes. */
static int os_get(const OCTET_STRING_t *os, uint8_t *dst, size_t min, size_t max, size_t *len)
{
	if (os->size < 0 || (size_t)os->size < min || (size_t)os->size > max)
		return -1;
	if (os->size)
		memcpy(dst, os->buf, (size_t)os->size);
	if (len)
		*len = (size_t)os->size;
	return 0;
}

static int os_buf(const OCTET_STRING_t *os, struct buf *b)
{
	if (os->size < 0)
		return -1;
	return buf_set(b, os->buf, (size_t)os->size);
}

/* UTF8String into a NUL-terminated buffer; longer text or embedded NULs fail
 * (asn_check_constraints has already checked the UTF-8). */
static int str_get(const OCTET_STRING_t *s, char *dst, size_t dstsz)
{
	size_t n;

	if (s->size < 0)
		return -1;
	n = (size_t)s->size;
	if (n >= dstsz || (n && memchr(s->buf, 0, n)))
		return -1;
	if (n)
		memcpy(dst, s->buf, n);
	dst[n] = '\0';
	return 0;
}

/* OBJECT IDENTIFIER -> dotted text of at most dstsz-1 chars. */
static int oid_get(const OBJECT_IDENTIFIER_t *oid, char *dst, size_t dstsz)
{
	unsigned long arcs[DER_OID_ARCS];
	size_t used = 0;
	int n;

	n = OBJECT_IDENTIFIER_get_arcs(oid, arcs, sizeof(arcs[0]), DER_OID_ARCS);
	if (n < 2 || n > DER_OID_ARCS)
		return -1;
	for (int i = 0; i < n; i++) {
		int w = snprintf(dst + used, dstsz - used, i ? ".%lu" : "%lu", arcs[i]);

		if (w < 0 || (size_t)w >= dstsz - used)
			return -1;
		used += (size_t)w;
	}
	return 0;
}

/* Dotted text -> OBJECT IDENTIFIER; strict syntax, no leading zeros. */
static int oid_set(OBJECT_IDENTIFIER_t *oid, const char *txt)
{
	unsigned long arcs[DER_OID_ARCS];
	const char *s = txt;
	int n = 0;

	if (!txt || strnlen(txt, SMDP_MAX_OID + 1) > SMDP_MAX_OID)
		return -1;
	for (;;) {
		unsigned long v = 0;

		if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
			return -1;
		while (*s >= '0' && *s <= '9') {
			unsigned d = (unsigned)(*s++ - '0');

			if (v > (ULONG_MAX - d) / 10)
				return -1;
			v = v * 10 + d;
		}
		if (n >= DER_OID_ARCS)
			return -1;
		arcs[n++] = v;
		if (*s == '\0')
			break;
		if (*s++ != '.')
			return -1;
	}
	/* X.690 8.19.4: the first two arcs share one subidentifier. */
	if (n < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39) ||
	    (arcs[0] == 2 && arcs[1] > ULONG_MAX - 80))
		return -1;
	return OBJECT_IDENTIFIER_set_arcs(oid, arcs, sizeof(arcs[0]), (unsigned)n);
}

/* DER BIT STRING (trailing zero bits dropped, X.690 11.2.2) holding the
 * named bits set in mask (bit i of mask = ASN.1 bit i). */
static int bits_set(BIT_STRING_t *bs, uint32_t mask)
{
	uint8_t b[4] = { 0 };
	int nbits = 0, size;

	for (int i = 0; i < 32; i++) {
		if (mask & (UINT32_C(1) << i)) {
			b[i / 8] |= (uint8_t)(0x80 >> (i % 8));
			nbits = i + 1;
		}
	}
	size = (nbits + 7) / 8;
	free(bs->buf);
	bs->buf = malloc(size ? (size_t)size : 1);
	if (!bs->buf)
		return -1;
	memcpy(bs->buf, b, (size_t)size);
	bs->size = size;
	bs->bits_unused = size * 8 - nbits;
	return 0;
}

/* Index of the one bit set in a BIT STRING, -1 if none or several. */
static int bits_single(const BIT_STRING_t *bs)
{
	int found = -1;

	for (int i = 0; i < bs->size; i++) {
		uint8_t v = bs->buf[i];

		if (i == bs->size - 1 && bs->bits_unused > 0 && bs->bits_unused < 8)
			v &= (uint8_t)(0xFF << bs->bits_unused);
		for (int k = 0; k < 8; k++) {
			if (!(v & (0x80 >> k)))
				continue;
			if (found >= 0)
				return -1;
			found = i * 8 + k;
		}
	}
	return found;
}

/* ------------------------------------------------------------------ */
/* Free functions: release the bufs inside and zero the struct, so a second
 * call is harmless; NULL is fine. */

void bpp_parts_free(struct bpp_parts *p)
{
	struct buf *lists[4];
	size_t counts[4];

	if (!p)
		return;
	lists[0] = p->seg87a; counts[0] = p->n87a;
	lists[1] = p->seg88;  counts[1] = p->n88;
	lists[2] = p->seg87b; counts[2] = p->n87b;
	lists[3] = p->seg86;  counts[3] = p->n86;
	for (int l = 0; l < 4; l++) {
		for (size_t i = 0; lists[l] && i < counts[l]; i++)
			buf_free(&lists[l][i]);
		free(lists[l]);
	}
	buf_free(&p->bf23);
	memset(p, 0, sizeof(*p));
}

void auth_server_resp_free(struct auth_server_resp *r)
{
	if (!r)
		return;
	buf_free(&r->signed1_raw);
	buf_free(&r->euicc_cert);
	buf_free(&r->eum_cert);
	buf_free(&r->signed1.euicc_info2);
	buf_free(&r->signed1.ctx.device_info);
	memset(r, 0, sizeof(*r));
}

void prepare_download_resp_free(struct prepare_download_resp *r)
{
	if (!r)
		return;
	buf_free(&r->signed2_raw);
	memset(r, 0, sizeof(*r));
}

void pending_notification_free(struct pending_notification *r)
{
	if (!r)
		return;
	buf_free(&r->pir_data_raw);
	buf_free(&r->sima_response);
	buf_free(&r->tbs_raw);
	buf_free(&r->euicc_cert);
	buf_free(&r->eum_cert);
	memset(r, 0, sizeof(*r));
}

void cancel_session_resp_free(struct cancel_session_resp *r)
{
	if (!r)
		return;
	buf_free(&r->signed_raw);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------ */
/* Decoders: what the eUICC / LPA sends (SGP.22 5.6, 5.7).
 * Each zeroes *out first (free a previously filled struct before reusing
 * it); on failure *out is left zeroed with nothing allocated, on success the
 * caller frees it with the matching *_free. Decoding never fails on unknown
 * trailing extension fields (the modules are EXTENSIBILITY IMPLIED). */

static enum rsp_status fail_status(const uint8_t *der, size_t n, const struct need *nd,
				   size_t count)
{
	/* Only well-formed DER can be said to lack an element. */
	if (der && n && n <= SMDP_MAX_BODY && tlv_strict(der, n, 0) == 0 &&
	    need_missing(der, n, nd, count))
		return RSP_ERR_MISSING_ELEMENT;
	return RSP_ERR_INVALID_REQUEST;
}

static int ci_list_get(const SubjectKeyIdentifier_t *const *arr, int count, struct ci_id *out,
		       size_t *n)
{
	if (count < 0 || (size_t)count > SMDP_MAX_CI_IDS)
		return -1;
	for (int i = 0; i < count; i++) {
		if (os_get(arr[i], out[i].id, 1, DER_MAX_KEYID, &out[i].len) < 0)
			return -1;
	}
	*n = (size_t)count;
	return 0;
}

/* ES10b.GetEUICCInfo (EUICCInfo1, SGP.22 5.7.8) as carried in
 * initiateAuthentication. */
enum rsp_status der_decode_euicc_info1(const uint8_t *der, size_t n, struct euicc_info1 *out)
{
	static const struct need need[] = {
		{ { TAG_EUICC_INFO1 }, { 0x82, 0xA9, 0xAA } },
	};
	EUICCInfo1_t *e = NULL;
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	if (asn_decode(&asn_DEF_EUICCInfo1, (void **)&e, der, n, TAG_EUICC_INFO1) < 0) {
		st = fail_status(der, n, need, 1);
		goto out;
	}
	if (os_get(&e->svn, out->svn, 3, 3, NULL) < 0 ||
	    ci_list_get((const SubjectKeyIdentifier_t *const *)e->euiccCiPKIdListForVerification.list.array,
			e->euiccCiPKIdListForVerification.list.count, out->verif, &out->n_verif) < 0 ||
	    ci_list_get((const SubjectKeyIdentifier_t *const *)e->euiccCiPKIdListForSigning.list.array,
			e->euiccCiPKIdListForSigning.list.count, out->sign, &out->n_sign) < 0)
		goto out;
	st = RSP_OK;
out:
	if (e)
		ASN_STRUCT_FREE(asn_DEF_EUICCInfo1, e);
	if (st != RSP_OK)
		memset(out, 0, sizeof(*out));
	return st;
}

/* Named bits 0..31 of a BIT STRING as a mask (bit i of the result = ASN.1
 * bit i); later bits are ignored. */
static uint32_t bits_mask(const BIT_STRING_t *bs)
{
	uint32_t mask = 0;

	for (int i = 0; i < bs->size && i < 4; i++) {
		uint8_t v = bs->buf[i];

		if (i == bs->size - 1 && bs->bits_unused > 0 && bs->bits_unused < 8)
			v &= (uint8_t)(0xFF << bs->bits_unused);
		for (int k = 0; k < 8; k++) {
			if (v & (0x80 >> k))
				mask |= UINT32_C(1) << (i * 8 + k);
		}
	}
	return mask;
}

/* EUICCInfo2 (SGP.22 5.7.8) with the SGP.32 v1.2 additions of
 * SGP32-EUICCInfo2: ipaMode [16], euiccCiPKIdListForSigningV3 [17],
 * additionalEuiccInfo [18], highestSvn [19], iotSpecificInfo [20]. */
enum rsp_status der_decode_euicc_info2(const uint8_t *der, size_t n, struct euicc_info2 *out)
{
	static const struct need need[] = {
		{ { TAG_EUICC_INFO2 },
		  { 0x81, 0x82, 0x83, 0x84, 0x85, 0x88, 0xA9, 0xAA, TAG_OCTET_STRING, TAG_UTF8 } },
		{ { TAG_EUICC_INFO2, 0xB4 }, { 0xA0 } },   /* IoTSpecificInfo.iotVersion */
	};
	EUICCInfo2_t *e = NULL;
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	if (asn_decode(&asn_DEF_EUICCInfo2, (void **)&e, der, n, TAG_EUICC_INFO2) < 0) {
		st = fail_status(der, n, need, sizeof(need) / sizeof(need[0]));
		goto out;
	}
	if (os_get(&e->profileVersion, out->profile_version, 3, 3, NULL) < 0 ||
	    os_get(&e->svn, out->svn, 3, 3, NULL) < 0 ||
	    os_get(&e->euiccFirmwareVer, out->firmware, 3, 3, NULL) < 0)
		goto out;
	out->rsp_capability = bits_mask(&e->rspCapability);
	if (e->ipaMode) {
		out->has_ipa_mode = 1;
		out->ipa_mode = *e->ipaMode;
	}
	if (e->euiccCiPKIdListForSigningV3)
		out->n_ci_sign_v3 = (size_t)e->euiccCiPKIdListForSigningV3->list.count;
	if (e->additionalEuiccInfo) {
		if (os_get(e->additionalEuiccInfo, out->additional_info, 0,
			   sizeof(out->additional_info), &out->additional_info_len) < 0)
			goto out;
		out->has_additional_info = 1;
	}
	if (e->highestSvn) {
		if (os_get(e->highestSvn, out->highest_svn, 3, 3, NULL) < 0)
			goto out;
		out->has_highest_svn = 1;
	}
	if (e->iotSpecificInfo) {
		const IoTSpecificInfo_t *iot = e->iotSpecificInfo;
		int count = iot->iotVersion.list.count;

		if (count < 0 || count > SMDP_MAX_VERSIONS)
			goto out;
		for (int i = 0; i < count; i++) {
			if (os_get(iot->iotVersion.list.array[i], out->iot_versions[i], 3, 3, NULL) < 0)
				goto out;
		}
		out->n_iot_versions = (size_t)count;
		out->ecall_supported = iot->ecallSupported != NULL;
		out->fallback_supported = iot->fallbackSupported != NULL;
		out->has_iot_info = 1;
	}
	st = RSP_OK;
out:
	if (e)
		ASN_STRUCT_FREE(asn_DEF_EUICCInfo2, e);
	if (st != RSP_OK)
		memset(out, 0, sizeof(*out));
	return st;
}

/* Count the DeviceCapabilities components present (for logs). */
static int caps_count(const DeviceCapabilities_t *c)
{
	const void *v[] = {
		c->gsmSupportedRelease, c->utranSupportedRelease, c->cdma2000onexSupportedRelease,
		c->cdma2000hrpdSupportedRelease, c->cdma2000ehrpdSupportedRelease,
		c->eutranEpcSupportedRelease, c->contactlessSupportedRelease,
		c->rspCrlSupportedVersion, c->nrEpcSupportedRelease, c->nr5gcSupportedRelease,
		c->eutran5gcSupportedRelease, c->lpaSvn, c->catSupportedClasses,
		c->euiccFormFactorType, c->deviceAdditionalFeatureSupport,
	};
	int k = 0;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		k += v[i] != NULL;
	return k;
}

/* DeviceInfo (SGP.22 4.2 ctxParams1). SGP.32 v1.2 adds nothing to it; the
 * 8-byte TAC of the older v2 module and unknown trailing fields are taken. */
enum rsp_status der_decode_device_info(const uint8_t *der, size_t n, struct device_info *out)
{
	static const struct need need[] = {
		{ { TAG_SEQUENCE }, { 0x80, 0xA1 } },
	};
	DeviceInfo_t *d = NULL;
	struct buf seq = { 0 };
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	/* [1] IMPLICIT inside ctxParams1: same length octets as the SEQUENCE */
	if (!der || n < 2 || n > SMDP_MAX_BODY || (der[0] != 0xA1 && der[0] != TAG_SEQUENCE) ||
	    buf_set(&seq, der, n) < 0)
		goto out;
	seq.p[0] = TAG_SEQUENCE;
	if (asn_decode(&asn_DEF_DeviceInfo, (void **)&d, seq.p, seq.len, TAG_SEQUENCE) < 0) {
		st = fail_status(seq.p, seq.len, need, 1);
		goto out;
	}
	if (os_get(&d->tac, out->tac, 4, 8, &out->tac_len) < 0 ||
	    (out->tac_len != 4 && out->tac_len != 8))
		goto out;
	if (d->imei) {
		if (os_get(d->imei, out->imei, 8, 8, NULL) < 0)
			goto out;
		out->has_imei = 1;
	}
	if (d->deviceCapabilities.lpaSvn) {
		if (os_get(d->deviceCapabilities.lpaSvn, out->lpa_svn, 3, 3, NULL) < 0)
			goto out;
		out->has_lpa_svn = 1;
	}
	if (d->deviceCapabilities.euiccFormFactorType) {
		out->has_form_factor = 1;
		out->form_factor = *d->deviceCapabilities.euiccFormFactorType;
	}
	out->n_capabilities = caps_count(&d->deviceCapabilities);
	st = RSP_OK;
out:
	if (d)
		ASN_STRUCT_FREE(asn_DEF_DeviceInfo, d);
	buf_free(&seq);
	if (st != RSP_OK)
		memset(out, 0, sizeof(*out));
	return st;
}

/* snprintf at out+*used, never past outsz; *used stops at the end. */
static void put_text(char *out, size_t outsz, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void put_text(char *out, size_t outsz, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*used >= outsz)
		return;
	va_start(ap, fmt);
	w = vsnprintf(out + *used, outsz - *used, fmt, ap);
	va_end(ap);
	*used = w < 0 ? outsz : *used + (size_t)w;
}

/* For the session log: what generation of device this is (SGP.22 svn,
 * SGP.32 IPA mode and IoT version) and its TAC. */
void der_device_summary(const uint8_t *info2, size_t n2, const uint8_t *devinfo, size_t nd,
			char *out, size_t outsz)
{
	struct euicc_info2 e;
	struct device_info d;
	size_t used = 0;

	if (!out || outsz == 0)
		return;
	out[0] = '\0';
	if (n2 == 0)
		put_text(out, outsz, &used, "eUICC ?");
	else if (der_decode_euicc_info2(info2, n2, &e) != RSP_OK)
		put_text(out, outsz, &used, "eUICC: EUICCInfo2 undecodable");
	else {
		put_text(out, outsz, &used, "eUICC SGP.22 v%u.%u.%u", e.svn[0], e.svn[1], e.svn[2]);
		if (e.has_ipa_mode || e.has_iot_info) {
			put_text(out, outsz, &used, ", SGP.32 %s",
				 !e.has_ipa_mode ? "IPA ?" : e.ipa_mode == 1 ? "IPAe" :
				 e.ipa_mode == 0 ? "IPAd" : "IPA ?");
			for (size_t i = 0; i < e.n_iot_versions; i++)
				put_text(out, outsz, &used, "%s%u.%u.%u", i ? "/" : " (IoT v",
					 e.iot_versions[i][0], e.iot_versions[i][1],
					 e.iot_versions[i][2]);
			if (e.has_iot_info)
				put_text(out, outsz, &used, "%s%s%s", e.n_iot_versions ? "" : " (IoT",
					 e.ecall_supported ? ", eCall" : "",
					 e.fallback_supported ? ", fallback)" : ")");
		}
	}
	if (nd == 0)
		put_text(out, outsz, &used, "; device ?");
	else if (der_decode_device_info(devinfo, nd, &d) != RSP_OK)
		put_text(out, outsz, &used, "; DeviceInfo undecodable");
	else
		put_text(out, outsz, &used, "; device TAC %02X%02X%02X%02X", d.tac[0], d.tac[1],
			 d.tac[2], d.tac[3]);
}

/* EuiccSigned1 fields; sig1 is the euiccSigned1 TLV inside der. */
static int signed1_get(const EuiccSigned1_t *s, const struct tlv *sig1, struct euicc_signed1 *o)
{
	const CtxParamsForCommonAuthentication_t *c;
	struct tlv t, ctx;

	if (os_get(&s->transactionId, o->txid, 1, sizeof(o->txid), &o->txid_len) < 0 ||
	    str_get(&s->serverAddress, o->server_address, sizeof(o->server_address)) < 0 ||
	    os_get(&s->serverChallenge, o->server_challenge, SMDP_CHAL_LEN, SMDP_CHAL_LEN, NULL) < 0 ||
	    os_get(&s->euiccInfo2.svn, o->euicc_info2_svn, 3, 3, NULL) < 0)
		return -1;
	if (tlv_find(sig1, TAG_EUICC_INFO2, &t) < 0 || buf_set(&o->euicc_info2, t.p, t.len) < 0)
		return -1;
	/* CtxParams1 is extensible: only ctxParamsForCommonAuthentication
	 * ([0], 'A0') is defined in v2.5. */
	if (s->ctxParams1.present != CtxParams1_PR_ctxParamsForCommonAuthentication)
		return -1;
	c = &s->ctxParams1.choice.ctxParamsForCommonAuthentication;
	if (c->matchingId) {
		if (str_get(c->matchingId, o->ctx.matching_id, sizeof(o->ctx.matching_id)) < 0)
			return -1;
		o->ctx.has_matching_id = 1;
	}
	if (os_get(&c->deviceInfo.tac, o->ctx.tac, 4, 8, &o->ctx.tac_len) < 0 ||
	    (o->ctx.tac_len != 4 && o->ctx.tac_len != 8))
		return -1;
	/* deviceInfo is [1] inside CtxParamsForCommonAuthentication: 'A1'. */
	if (tlv_find(sig1, 0xA0, &ctx) < 0 || tlv_find(&ctx, 0xA1, &t) < 0 ||
	    buf_set(&o->ctx.device_info, t.p, t.len) < 0)
		return -1;
	return 0;
}

static int cert_get(const struct tlv *box, size_t idx, struct buf *out)
{
	struct tlv t;

	if (tlv_nth(box, idx, &t) < 0 || t.tag != TAG_SEQUENCE || t.len > SMDP_MAX_CERT)
		return -1;
	return buf_set(out, t.p, t.len);
}

int der_cert_subject_serial(const uint8_t *der, size_t n, char *out, size_t outsz)
{
	static const uint8_t oid_serial[] = { 0x55, 0x04, 0x05 };   /* 2.5.4.5 */
	struct tlv cert, tbs, first, subject, rdn, atv, oid, val;
	size_t skip;

	if (!outsz || tlv_read(der, n, &cert) < 0 || cert.tag != TAG_SEQUENCE ||
	    tlv_nth(&cert, 0, &tbs) < 0 || tbs.tag != TAG_SEQUENCE ||
	    tlv_nth(&tbs, 0, &first) < 0)
		return -1;
	/* [0] version?, serialNumber, signature, issuer, validity, subject */
	skip = first.tag == 0xA0 ? 1 : 0;
	if (tlv_nth(&tbs, skip + 4, &subject) < 0 || subject.tag != TAG_SEQUENCE)
		return -1;
	for (size_t i = 0; tlv_nth(&subject, i, &rdn) == 0; i++) {
		if (rdn.tag != 0x31)
			return -1;
		for (size_t j = 0; tlv_nth(&rdn, j, &atv) == 0; j++) {
			if (atv.tag != TAG_SEQUENCE || tlv_nth(&atv, 0, &oid) < 0 ||
			    tlv_nth(&atv, 1, &val) < 0)
				return -1;
			if (oid.tag != 0x06 || oid.vlen != sizeof(oid_serial) ||
			    memcmp(oid.v, oid_serial, sizeof(oid_serial)))
				continue;
			/* PrintableString or UTF8String, printable ASCII only */
			if ((val.tag != 0x13 && val.tag != 0x0C) || val.vlen >= outsz)
				return -1;
			for (size_t k = 0; k < val.vlen; k++)
				if (val.v[k] < 0x20 || val.v[k] > 0x7E)
					return -1;
			memcpy(out, val.v, val.vlen);
			out[val.vlen] = '\0';
			return 0;
		}
	}
	return -1;
}

/* AuthenticateServerResponse BF38 from authenticateClient (SGP.22 5.6.3). */
enum rsp_status der_decode_auth_server_resp(const uint8_t *der, size_t n,
					    struct auth_server_resp *out)
{
	static const struct need need[] = {
		{ { TAG_AUTH_SRV_RESP, 0xA0 }, { TAG_SEQUENCE, TAG_SIGNATURE, TAG_SEQUENCE, TAG_SEQUENCE } },
		{ { TAG_AUTH_SRV_RESP, 0xA0, TAG_SEQUENCE }, { 0x80, 0x83, 0x84, TAG_EUICC_INFO2, 0xA0 } },
		{ { TAG_AUTH_SRV_RESP, 0xA0, TAG_SEQUENCE, TAG_EUICC_INFO2 },
		  { 0x81, 0x82, 0x83, 0x84, 0x85, 0x88, 0xA9, 0xAA, TAG_OCTET_STRING, TAG_UTF8 } },
		{ { TAG_AUTH_SRV_RESP, 0xA0, TAG_SEQUENCE, 0xA0 }, { 0xA1 } },
		{ { TAG_AUTH_SRV_RESP, 0xA0, TAG_SEQUENCE, 0xA0, 0xA1 }, { 0x80, 0xA1 } },
		{ { TAG_AUTH_SRV_RESP, 0xA1 }, { 0x80, TAG_INTEGER } },
	};
	AuthenticateServerResponse_t *r = NULL;
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;
	struct tlv ok, sig1;

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	if (asn_decode(&asn_DEF_AuthenticateServerResponse, (void **)&r, der, n,
		       TAG_AUTH_SRV_RESP) < 0) {
		st = fail_status(der, n, need, sizeof(need) / sizeof(need[0]));
		goto out;
	}
	if (r->present == AuthenticateServerResponse_PR_authenticateResponseError) {
		const AuthenticateResponseError_t *e = &r->choice.authenticateResponseError;

		out->is_error = 1;
		out->error_code = e->authenticateErrorCode;
		if (os_get(&e->transactionId, out->error_txid, 1, sizeof(out->error_txid),
			   &out->error_txid_len) < 0)
			goto out;
	} else if (r->present == AuthenticateServerResponse_PR_authenticateResponseOk) {
		const AuthenticateResponseOk_t *o = &r->choice.authenticateResponseOk;

		/* Raw slices from the input: the signature covers these bytes. */
		if (TLV_PATH(der, n, &ok, TAG_AUTH_SRV_RESP, 0xA0) < 0 ||
		    tlv_nth(&ok, 0, &sig1) < 0 || sig1.tag != TAG_SEQUENCE ||
		    buf_set(&out->signed1_raw, sig1.p, sig1.len) < 0 ||
		    cert_get(&ok, 2, &out->euicc_cert) < 0 || cert_get(&ok, 3, &out->eum_cert) < 0)
			goto out;
		if (os_get(&o->euiccSignature1, out->signature1, SMDP_SIG_LEN, SMDP_SIG_LEN, NULL) < 0 ||
		    signed1_get(&o->euiccSigned1, &sig1, &out->signed1) < 0)
			goto out;
	} else {
		goto out;   /* an unknown extension alternative */
	}
	st = RSP_OK;
out:
	if (r)
		ASN_STRUCT_FREE(asn_DEF_AuthenticateServerResponse, r);
	if (st != RSP_OK)
		auth_server_resp_free(out);
	return st;
}

/* PrepareDownloadResponse BF21 from getBoundProfilePackage (SGP.22 5.6.2). */
enum rsp_status der_decode_prepare_download_resp(const uint8_t *der, size_t n,
						 struct prepare_download_resp *out)
{
	static const struct need need[] = {
		{ { TAG_PREP_DL_RESP, 0xA0 }, { TAG_SEQUENCE, TAG_SIGNATURE } },
		{ { TAG_PREP_DL_RESP, 0xA0, TAG_SEQUENCE }, { 0x80, TAG_OTPK } },
		{ { TAG_PREP_DL_RESP, 0xA1 }, { 0x80, TAG_INTEGER } },
	};
	PrepareDownloadResponse_t *r = NULL;
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;
	struct tlv ok, sig2;

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	if (asn_decode(&asn_DEF_PrepareDownloadResponse, (void **)&r, der, n, TAG_PREP_DL_RESP) < 0) {
		st = fail_status(der, n, need, sizeof(need) / sizeof(need[0]));
		goto out;
	}
	if (r->present == PrepareDownloadResponse_PR_downloadResponseError) {
		const PrepareDownloadResponseError_t *e = &r->choice.downloadResponseError;

		out->is_error = 1;
		out->error_code = e->downloadErrorCode;
		if (os_get(&e->transactionId, out->txid, 1, sizeof(out->txid), &out->txid_len) < 0)
			goto out;
	} else if (r->present == PrepareDownloadResponse_PR_downloadResponseOk) {
		const PrepareDownloadResponseOk_t *o = &r->choice.downloadResponseOk;
		const EUICCSigned2_t *s = &o->euiccSigned2;

		if (TLV_PATH(der, n, &ok, TAG_PREP_DL_RESP, 0xA0) < 0 ||
		    tlv_nth(&ok, 0, &sig2) < 0 || sig2.tag != TAG_SEQUENCE ||
		    buf_set(&out->signed2_raw, sig2.p, sig2.len) < 0)
			goto out;
		if (os_get(&s->transactionId, out->txid, 1, sizeof(out->txid), &out->txid_len) < 0 ||
		    os_get(&s->euiccOtpk, out->euicc_otpk, 1, SMDP_POINT_LEN, &out->euicc_otpk_len) < 0 ||
		    os_get(&o->euiccSignature2, out->signature2, SMDP_SIG_LEN, SMDP_SIG_LEN, NULL) < 0)
			goto out;
		if (s->hashCc) {
			if (os_get(s->hashCc, out->hash_cc, 32, 32, NULL) < 0)
				goto out;
			out->has_hash_cc = 1;
		}
	} else {
		goto out;
	}
	st = RSP_OK;
out:
	if (r)
		ASN_STRUCT_FREE(asn_DEF_PrepareDownloadResponse, r);
	if (st != RSP_OK)
		prepare_download_resp_free(out);
	return st;
}

static int meta_get(const NotificationMetadata_t *m, struct notification_metadata *o)
{
	int bit = bits_single(&m->profileManagementOperation);

	/* NotificationMetadata: "only one bit SHALL be set", 0 install .. 3 delete */
	if (bit < 0 || bit > 3)
		return -1;
	o->seq_number = m->seqNumber;
	o->operation = bit;
	if (str_get(&m->notificationAddress, o->address, sizeof(o->address)) < 0)
		return -1;
	if (m->iccid) {
		if (os_get(m->iccid, o->iccid, sizeof(o->iccid), sizeof(o->iccid), NULL) < 0)
			return -1;
		o->has_iccid = 1;
	}
	return 0;
}

static int pir_data_get(const ProfileInstallationResultData_t *d, struct pending_notification *o)
{
	if (os_get(&d->transactionId, o->txid, 1, sizeof(o->txid), &o->txid_len) < 0 ||
	    meta_get(&d->notificationMetadata, &o->meta) < 0 ||
	    oid_get(&d->smdpOid, o->smdp_oid, sizeof(o->smdp_oid)) < 0)
		return -1;
	switch (d->finalResult.present) {
	case ProfileInstallationResultData__finalResult_PR_successResult: {
		const SuccessResult_t *s = &d->finalResult.choice.successResult;

		o->success = 1;
		if (os_get(&s->aid, o->aid, 5, sizeof(o->aid), &o->aid_len) < 0 ||
		    os_buf(&s->simaResponse, &o->sima_response) < 0)
			return -1;
		return 0;
	}
	case ProfileInstallationResultData__finalResult_PR_errorResult: {
		const ErrorResult_t *e = &d->finalResult.choice.errorResult;

		o->success = 0;
		o->bpp_command_id = e->bppCommandId;
		o->error_reason = e->errorReason;
		if (e->simaResponse && os_buf(e->simaResponse, &o->sima_response) < 0)
			return -1;
		return 0;
	}
	default:
		return -1;
	}
}

/* PendingNotification (ProfileInstallationResult BF37 or
 * OtherSignedNotification 30) from handleNotification (SGP.22 5.6.4). */
enum rsp_status der_decode_pending_notification(const uint8_t *der, size_t n,
						struct pending_notification *out)
{
	static const struct need need[] = {
		{ { TAG_PIR }, { TAG_PIR_DATA, TAG_SIGNATURE } },
		{ { TAG_PIR, TAG_PIR_DATA }, { 0x80, TAG_NOTIF_META, TAG_OID, 0xA2 } },
		{ { TAG_PIR, TAG_PIR_DATA, TAG_NOTIF_META }, { 0x80, 0x81, TAG_UTF8 } },
		{ { TAG_SEQUENCE }, { TAG_NOTIF_META, TAG_SIGNATURE, TAG_SEQUENCE, TAG_SEQUENCE } },
		{ { TAG_SEQUENCE, TAG_NOTIF_META }, { 0x80, 0x81, TAG_UTF8 } },
	};
	PendingNotification_t *r = NULL;
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;
	struct tlv outer, t;

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	if (!der || tlv_read(der, n, &outer) < 0 ||
	    (outer.tag != TAG_PIR && outer.tag != TAG_SEQUENCE))
		goto out;
	if (asn_decode(&asn_DEF_PendingNotification, (void **)&r, der, n, 0) < 0) {
		st = fail_status(der, n, need, sizeof(need) / sizeof(need[0]));
		goto out;
	}
	if (r->present == PendingNotification_PR_profileInstallationResult) {
		const ProfileInstallationResult_t *p = &r->choice.profileInstallationResult;

		out->kind = NOTIF_PIR;
		if (tlv_nth(&outer, 0, &t) < 0 || t.tag != TAG_PIR_DATA ||
		    buf_set(&out->pir_data_raw, t.p, t.len) < 0 ||
		    pir_data_get(&p->profileInstallationResultData, out) < 0 ||
		    os_get(&p->euiccSignPIR, out->signature, SMDP_SIG_LEN, SMDP_SIG_LEN, NULL) < 0)
			goto out;
	} else if (r->present == PendingNotification_PR_otherSignedNotification) {
		const OtherSignedNotification_t *o = &r->choice.otherSignedNotification;

		out->kind = NOTIF_OTHER;
		if (tlv_nth(&outer, 0, &t) < 0 || t.tag != TAG_NOTIF_META ||
		    buf_set(&out->tbs_raw, t.p, t.len) < 0 ||
		    cert_get(&outer, 2, &out->euicc_cert) < 0 || cert_get(&outer, 3, &out->eum_cert) < 0 ||
		    meta_get(&o->tbsOtherNotification, &out->meta) < 0 ||
		    os_get(&o->euiccNotificationSignature, out->signature, SMDP_SIG_LEN, SMDP_SIG_LEN,
			   NULL) < 0)
			goto out;
	} else {
		goto out;
	}
	st = RSP_OK;
out:
	if (r)
		ASN_STRUCT_FREE(asn_DEF_PendingNotification, r);
	if (st != RSP_OK)
		pending_notification_free(out);
	return st;
}

/* CancelSessionResponse BF41 from cancelSession (SGP.22 5.6.5). */
enum rsp_status der_decode_cancel_session_resp(const uint8_t *der, size_t n,
					       struct cancel_session_resp *out)
{
	static const struct need need[] = {
		{ { TAG_CANCEL_RESP, 0xA0 }, { TAG_SEQUENCE, TAG_SIGNATURE } },
		{ { TAG_CANCEL_RESP, 0xA0, TAG_SEQUENCE }, { 0x80, 0x81, 0x82 } },
	};
	CancelSessionResponse_t *r = NULL;
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;
	struct tlv ok, sg;

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	if (asn_decode(&asn_DEF_CancelSessionResponse, (void **)&r, der, n, TAG_CANCEL_RESP) < 0) {
		st = fail_status(der, n, need, sizeof(need) / sizeof(need[0]));
		goto out;
	}
	if (r->present == CancelSessionResponse_PR_cancelSessionResponseError) {
		out->is_error = 1;
		out->error_code = r->choice.cancelSessionResponseError;
	} else if (r->present == CancelSessionResponse_PR_cancelSessionResponseOk) {
		const CancelSessionResponseOk_t *o = &r->choice.cancelSessionResponseOk;
		const EuiccCancelSessionSigned_t *s = &o->euiccCancelSessionSigned;

		if (TLV_PATH(der, n, &ok, TAG_CANCEL_RESP, 0xA0) < 0 ||
		    tlv_nth(&ok, 0, &sg) < 0 || sg.tag != TAG_SEQUENCE ||
		    buf_set(&out->signed_raw, sg.p, sg.len) < 0)
			goto out;
		if (os_get(&s->transactionId, out->txid, 1, sizeof(out->txid), &out->txid_len) < 0 ||
		    oid_get(&s->smdpOid, out->smdp_oid, sizeof(out->smdp_oid)) < 0 ||
		    os_get(&o->euiccCancelSessionSignature, out->signature, SMDP_SIG_LEN, SMDP_SIG_LEN,
			   NULL) < 0)
			goto out;
		out->reason = s->reason;
	} else {
		goto out;
	}
	st = RSP_OK;
out:
	if (r)
		ASN_STRUCT_FREE(asn_DEF_CancelSessionResponse, r);
	if (st != RSP_OK)
		cancel_session_resp_free(out);
	return st;
}

/* ServerSigned1 SEQUENCE (client side: checked before signing, SGP.22 5.7.13). */
enum rsp_status der_decode_server_signed1(const uint8_t *der, size_t n, struct server_signed1 *out)
{
	static const struct need need[] = {
		{ { TAG_SEQUENCE }, { 0x80, 0x81, 0x83, 0x84 } },
	};
	ServerSigned1_t *s = NULL;
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	if (asn_decode(&asn_DEF_ServerSigned1, (void **)&s, der, n, TAG_SEQUENCE) < 0) {
		st = fail_status(der, n, need, 1);
		goto out;
	}
	if (os_get(&s->transactionId, out->txid, 1, sizeof(out->txid), &out->txid_len) < 0 ||
	    os_get(&s->euiccChallenge, out->euicc_challenge, SMDP_CHAL_LEN, SMDP_CHAL_LEN, NULL) < 0 ||
	    str_get(&s->serverAddress, out->server_address, sizeof(out->server_address)) < 0 ||
	    os_get(&s->serverChallenge, out->server_challenge, SMDP_CHAL_LEN, SMDP_CHAL_LEN, NULL) < 0)
		goto out;
	st = RSP_OK;
out:
	if (s)
		ASN_STRUCT_FREE(asn_DEF_ServerSigned1, s);
	if (st != RSP_OK)
		memset(out, 0, sizeof(*out));
	return st;
}

/* SmdpSigned2 SEQUENCE (client side, SGP.22 5.7.5). bppEuiccOtpk, when
 * present, must be an uncompressed point (65 bytes). */
enum rsp_status der_decode_smdp_signed2(const uint8_t *der, size_t n, struct smdp_signed2 *out)
{
	static const struct need need[] = {
		{ { TAG_SEQUENCE }, { 0x80, TAG_BOOLEAN } },
	};
	SmdpSigned2_t *s = NULL;
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	if (asn_decode(&asn_DEF_SmdpSigned2, (void **)&s, der, n, TAG_SEQUENCE) < 0) {
		st = fail_status(der, n, need, 1);
		goto out;
	}
	if (os_get(&s->transactionId, out->txid, 1, sizeof(out->txid), &out->txid_len) < 0)
		goto out;
	out->cc_required = s->ccRequiredFlag ? 1 : 0;
	if (s->bppEuiccOtpk) {
		if (os_get(s->bppEuiccOtpk, out->otpk, SMDP_POINT_LEN, SMDP_POINT_LEN, NULL) < 0)
			goto out;
		out->has_otpk = 1;
	}
	st = RSP_OK;
out:
	if (s)
		ASN_STRUCT_FREE(asn_DEF_SmdpSigned2, s);
	if (st != RSP_OK)
		memset(out, 0, sizeof(*out));
	return st;
}

/*
 * StoreMetadataRequest BF25 (client side, SGP.22 5.5.3; SGP.32 v1.2 adds
 * ecallIndication and fallbackAllowed). Fields our struct has no room for
 * (profileOwner, service specific data) are accepted and dropped; at most
 * SMDP_MAX_NOTIF_CFG notificationConfigurationInfo entries. profile_class is
 * -1 when absent (DEFAULT operational); ppr is the first byte of the PprIds
 * BIT STRING as coded (ppr1 = 0x40, ppr2 = 0x20).
 */
enum rsp_status der_decode_store_metadata(const uint8_t *der, size_t n, struct profile_metadata *out)
{
	static const struct need need[] = {
		{ { TAG_STORE_META }, { TAG_ICCID, 0x91, 0x92 } },
	};
	StoreMetadataRequest_t *m = NULL;
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	out->profile_class = -1;
	out->icon_type = -1;
	if (asn_decode(&asn_DEF_StoreMetadataRequest, (void **)&m, der, n, TAG_STORE_META) < 0) {
		st = fail_status(der, n, need, 1);
		goto out;
	}
	if (os_get(&m->iccid, out->iccid, sizeof(out->iccid), sizeof(out->iccid), NULL) < 0 ||
	    str_get(&m->serviceProviderName, out->spn, sizeof(out->spn)) < 0 ||
	    str_get(&m->profileName, out->name, sizeof(out->name)) < 0)
		goto out;
	if (m->profileClass) {
		if (*m->profileClass < 0 || *m->profileClass > 2)
			goto out;
		out->profile_class = (int)*m->profileClass;
	}
	if (m->iconType) {
		if (*m->iconType < 0 || *m->iconType > 1)
			goto out;
		out->icon_type = (int)*m->iconType;
	}
	if (m->icon && os_buf(m->icon, &out->icon) < 0)
		goto out;
	if (m->profilePolicyRules) {
		const BIT_STRING_t *b = m->profilePolicyRules;

		out->has_ppr = 1;
		if (b->size > 0)
			out->ppr = b->buf[0];
	}
	if (m->notificationConfigurationInfo) {
		int count = m->notificationConfigurationInfo->list.count;

		if (count < 0 || count > SMDP_MAX_NOTIF_CFG)
			goto out;
		for (int i = 0; i < count; i++) {
			const NotificationConfigurationInformation_t *nc =
				m->notificationConfigurationInfo->list.array[i];
			uint32_t ops = bits_mask(&nc->profileManagementOperation);

			for (int k = 0; k < 8; k++) {
				if (ops & (UINT32_C(1) << k))
					out->notif[i].ops |= (uint8_t)(0x80 >> k);
			}
			if (str_get(&nc->notificationAddress, out->notif[i].address,
				    sizeof(out->notif[i].address)) < 0)
				goto out;
		}
		out->n_notif = (size_t)count;
	}
	/* SGP.32 v1.2 IoT fields */
	if (m->ecallIndication) {
		out->has_ecall_indication = 1;
		out->ecall_indication = *m->ecallIndication ? 1 : 0;
	}
	if (m->fallbackAllowed) {
		out->has_fallback_allowed = 1;
		out->fallback_allowed = *m->fallbackAllowed ? 1 : 0;
	}
	st = RSP_OK;
out:
	if (m)
		ASN_STRUCT_FREE(asn_DEF_StoreMetadataRequest, m);
	if (st != RSP_OK) {
		buf_free(&out->icon);
		memset(out, 0, sizeof(*out));
	}
	return st;
}

/* tbs of a BF23 (see der_encode_bf23): its first four children, which the
 * SEQUENCE decoder has already checked to be 82, 80, A6, 5F49 in order. */
static int bf23_tbs(const uint8_t *bf23, size_t n, struct buf *tbs)
{
	struct tlv whole, first, otpk;

	if (tlv_read(bf23, n, &whole) < 0 || tlv_nth(&whole, 0, &first) < 0 ||
	    tlv_nth(&whole, 3, &otpk) < 0 || first.tag != 0x82 || otpk.tag != TAG_OTPK)
		return -1;
	return buf_set(tbs, first.p, (size_t)(otpk.p + otpk.len - first.p));
}

/* InitialiseSecureChannelRequest BF23 (client side, SGP.22 5.5.1). Only the
 * values v2.5 defines are accepted: remoteOpId installBoundProfilePackage,
 * AES keys of 16 bytes, a 65-byte otPK.DP.ECKA and a 64-byte signature. */
enum rsp_status der_decode_bf23(const uint8_t *der, size_t n, struct bf23 *out, struct buf *tbs)
{
	static const struct need need[] = {
		{ { TAG_ISC_REQ }, { 0x82, 0x80, 0xA6, TAG_OTPK, TAG_SIGNATURE } },
		{ { TAG_ISC_REQ, 0xA6 }, { 0x80, 0x81, 0x84 } },
	};
	InitialiseSecureChannelRequest_t *r = NULL;
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;
	struct buf t = { 0 };

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	if (asn_decode(&asn_DEF_InitialiseSecureChannelRequest, (void **)&r, der, n, TAG_ISC_REQ) < 0) {
		st = fail_status(der, n, need, sizeof(need) / sizeof(need[0]));
		goto out;
	}
	if (r->remoteOpId != RemoteOpId_installBoundProfilePackage ||
	    r->controlRefTemplate.keyType.buf[0] != 0x88 ||
	    r->controlRefTemplate.keyLen.buf[0] != 0x10)
		goto out;
	if (os_get(&r->transactionId, out->txid, 1, sizeof(out->txid), &out->txid_len) < 0 ||
	    os_get(&r->controlRefTemplate.hostId, out->host_id, 1, sizeof(out->host_id),
		   &out->host_id_len) < 0 ||
	    os_get(&r->smdpOtpk, out->dp_otpk, SMDP_POINT_LEN, SMDP_POINT_LEN, NULL) < 0 ||
	    os_get(&r->smdpSign, out->signature, SMDP_SIG_LEN, SMDP_SIG_LEN, NULL) < 0)
		goto out;
	if (tbs) {
		if (bf23_tbs(der, n, &t) < 0)
			goto out;
		buf_free(tbs);
		*tbs = t;
		t.p = NULL;
	}
	st = RSP_OK;
out:
	buf_free(&t);
	if (r)
		ASN_STRUCT_FREE(asn_DEF_InitialiseSecureChannelRequest, r);
	if (st != RSP_OK)
		memset(out, 0, sizeof(*out));
	return st;
}

/* Copy the children of the list TLV with the given tag as complete
 * segment TLVs; there must be exactly expect of them, each with exactly
 * the primitive tag seg_tag. */
static int segs_get(const struct tlv *bpp, uint32_t list_tag, uint32_t seg_tag, int expect,
		    struct buf **arr, size_t *n)
{
	struct tlv list, c;
	const uint8_t *p;
	size_t left, i = 0;

	*arr = NULL;
	*n = 0;
	if (tlv_find(bpp, list_tag, &list) < 0)
		return expect == 0 ? 0 : -1;
	if (expect < 0)
		return -1;
	*arr = calloc(expect ? (size_t)expect : 1, sizeof(struct buf));
	if (!*arr)
		return -1;
	for (p = list.v, left = list.vlen; left > 0; p += c.len, left -= c.len) {
		if (tlv_read(p, left, &c) < 0 || c.tag != seg_tag || i >= (size_t)expect)
			return -1;
		if (buf_set(&(*arr)[i], c.p, c.len) < 0)
			return -1;
		*n = ++i;
	}
	return i == (size_t)expect ? 0 : -1;
}

/* BoundProfilePackage BF36 split into copies of its parts (client side,
 * SGP.22 2.5.5 / 5.7.6). */
enum rsp_status der_decode_bpp(const uint8_t *der, size_t n, struct bpp_parts *out)
{
	static const struct need need[] = {
		{ { TAG_BPP }, { TAG_ISC_REQ, 0xA0, 0xA1, 0xA3 } },
	};
	BoundProfilePackage_t *b = NULL;
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;
	struct tlv whole, t;

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	if (asn_decode(&asn_DEF_BoundProfilePackage, (void **)&b, der, n, TAG_BPP) < 0) {
		st = fail_status(der, n, need, 1);
		goto out;
	}
	if (tlv_read(der, n, &whole) < 0 || tlv_find(&whole, TAG_ISC_REQ, &t) < 0 ||
	    buf_set(&out->bf23, t.p, t.len) < 0)
		goto out;
	if (segs_get(&whole, 0xA0, 0x87, b->firstSequenceOf87.list.count, &out->seg87a, &out->n87a) < 0 ||
	    segs_get(&whole, 0xA1, 0x88, b->sequenceOf88.list.count, &out->seg88, &out->n88) < 0 ||
	    segs_get(&whole, 0xA2, 0x87,
		     b->secondSequenceOf87 ? b->secondSequenceOf87->list.count : 0,
		     &out->seg87b, &out->n87b) < 0 ||
	    segs_get(&whole, 0xA3, 0x86, b->sequenceOf86.list.count, &out->seg86, &out->n86) < 0)
		goto out;
	st = RSP_OK;
out:
	if (b)
		ASN_STRUCT_FREE(asn_DEF_BoundProfilePackage, b);
	if (st != RSP_OK)
		bpp_parts_free(out);
	return st;
}

/* Overwrite the key copies asn1c holds before they go back to the heap. */
static void rsk_wipe(ReplaceSessionKeysRequest_t *r)
{
	OCTET_STRING_t *k[3] = { &r->initialMacChainingValue, &r->ppkEnc, &r->ppkCmac };

	/* volatile: crypto_cleanse lives with OpenSSL, which der.c stays clear of */
	for (int i = 0; i < 3; i++) {
		volatile uint8_t *v = k[i]->buf;

		for (int j = 0; v && j < k[i]->size; j++)
			v[j] = 0;
	}
}

/* ReplaceSessionKeysRequest BF26 (client side, SGP.22 5.5.4): three 16-byte
 * AES values; the outputs are written only on success. */
enum rsp_status der_decode_replace_session_keys(const uint8_t *der, size_t n, uint8_t mcv[16],
						uint8_t enc[16], uint8_t mac[16])
{
	static const struct need need[] = {
		{ { TAG_REPLACE_KEYS }, { 0x80, 0x81, 0x82 } },
	};
	ReplaceSessionKeysRequest_t *r = NULL;
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;

	if (!mcv || !enc || !mac)
		return RSP_ERR_INTERNAL;
	if (asn_decode(&asn_DEF_ReplaceSessionKeysRequest, (void **)&r, der, n, TAG_REPLACE_KEYS) < 0) {
		st = fail_status(der, n, need, 1);
		goto out;
	}
	if (r->initialMacChainingValue.size != 16 || r->ppkEnc.size != 16 || r->ppkCmac.size != 16)
		goto out;
	memcpy(mcv, r->initialMacChainingValue.buf, 16);
	memcpy(enc, r->ppkEnc.buf, 16);
	memcpy(mac, r->ppkCmac.buf, 16);
	st = RSP_OK;
out:
	if (r) {
		rsk_wipe(r);
		ASN_STRUCT_FREE(asn_DEF_ReplaceSessionKeysRequest, r);
	}
	return st;
}

/* ------------------------------------------------------------------ */
/* Encoders: what the SM-DP+ sends */

int der_encode_server_signed1(const uint8_t *txid, size_t txid_len,
			      const uint8_t euicc_challenge[SMDP_CHAL_LEN],
			      const char *server_address,
			      const uint8_t server_challenge[SMDP_CHAL_LEN], struct buf *out)
{
	ServerSigned1_t *s = NULL;
	int rc = -1;

	if (!txid || !euicc_challenge || !server_challenge || !out)
		goto out;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	if (os_set(&s->transactionId, txid, txid_len) < 0 ||
	    os_set(&s->euiccChallenge, euicc_challenge, SMDP_CHAL_LEN) < 0 ||
	    str_set(&s->serverAddress, server_address, SMDP_MAX_ADDRESS) < 0 ||
	    os_set(&s->serverChallenge, server_challenge, SMDP_CHAL_LEN) < 0)
		goto out;
	rc = asn_encode(&asn_DEF_ServerSigned1, s, out);
out:
	if (s)
		ASN_STRUCT_FREE(asn_DEF_ServerSigned1, s);
	return rc;
}

int der_encode_smdp_signed2(const uint8_t *txid, size_t txid_len, int cc_required,
			    const uint8_t *otpk, size_t otpk_len, struct buf *out)
{
	SmdpSigned2_t *s = NULL;
	int rc = -1;

	if (!txid || !out)
		goto out;
	s = calloc(1, sizeof(*s));
	if (!s || os_set(&s->transactionId, txid, txid_len) < 0)
		goto out;
	s->ccRequiredFlag = cc_required ? 1 : 0;
	if (otpk) {
		s->bppEuiccOtpk = os_new(otpk, otpk_len);
		if (!s->bppEuiccOtpk)
			goto out;
	}
	rc = asn_encode(&asn_DEF_SmdpSigned2, s, out);
out:
	if (s)
		ASN_STRUCT_FREE(asn_DEF_SmdpSigned2, s);
	return rc;
}

/* ppr byte as coded in the first PprIds octet -> named-bit mask. */
static uint32_t byte_bits(uint8_t b)
{
	uint32_t mask = 0;

	for (int i = 0; i < 8; i++) {
		if (b & (0x80 >> i))
			mask |= UINT32_C(1) << i;
	}
	return mask;
}

/* profileClass DEFAULT operational(2) is left out, as DER requires
 * (X.690 11.5); an icon needs an iconType (SGP.22 5.5.3). */
int der_encode_store_metadata(const struct profile_metadata *m, struct buf *out)
{
	StoreMetadataRequest_t *r = NULL;
	int rc = -1;

	if (!m || !out)
		goto out;
	if (m->profile_class < -1 || m->profile_class > 2 || m->icon_type < -1 || m->icon_type > 1 ||
	    (m->icon_type < 0 && m->icon.len > 0))
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	if (os_set(&r->iccid, m->iccid, sizeof(m->iccid)) < 0 ||
	    str_set(&r->serviceProviderName, m->spn, 32) < 0 ||
	    str_set(&r->profileName, m->name, 64) < 0)
		goto out;
	if (m->icon_type >= 0) {
		r->iconType = calloc(1, sizeof(*r->iconType));
		if (!r->iconType)
			goto out;
		*r->iconType = m->icon_type;
		if (m->icon.len > 0) {
			r->icon = os_new(m->icon.p, m->icon.len);
			if (!r->icon)
				goto out;
		}
	}
	if (m->profile_class == 0 || m->profile_class == 1) {
		r->profileClass = calloc(1, sizeof(*r->profileClass));
		if (!r->profileClass)
			goto out;
		*r->profileClass = m->profile_class;
	}
	if (m->has_ppr) {
		r->profilePolicyRules = calloc(1, sizeof(*r->profilePolicyRules));
		if (!r->profilePolicyRules || bits_set(r->profilePolicyRules, byte_bits(m->ppr)) < 0)
			goto out;
	}
	/* notificationConfigurationInfo B6 (SGP.22 5.5.3): which operations
	 * the eUICC notifies, and where */
	if (m->n_notif > SMDP_MAX_NOTIF_CFG)
		goto out;
	if (m->n_notif > 0) {
		r->notificationConfigurationInfo = calloc(1, sizeof(*r->notificationConfigurationInfo));
		if (!r->notificationConfigurationInfo)
			goto out;
	}
	for (size_t i = 0; i < m->n_notif; i++) {
		NotificationConfigurationInformation_t *nc = calloc(1, sizeof(*nc));

		if (!nc || ASN_SEQUENCE_ADD(&r->notificationConfigurationInfo->list, nc) < 0) {
			free(nc);
			goto out;
		}
		if (bits_set(&nc->profileManagementOperation, byte_bits(m->notif[i].ops)) < 0 ||
		    str_set(&nc->notificationAddress, m->notif[i].address, SMDP_MAX_ADDRESS) < 0)
			goto out;
	}
	/* SGP.32 v1.2: only when the profile asks for them, after every
	 * SGP.22 field (SGP32-StoreMetadataRequest order: 9F7B, then 9F67) */
	if (m->has_ecall_indication) {
		r->ecallIndication = calloc(1, sizeof(*r->ecallIndication));
		if (!r->ecallIndication)
			goto out;
		*r->ecallIndication = m->ecall_indication ? 1 : 0;
	}
	if (m->has_fallback_allowed) {
		r->fallbackAllowed = calloc(1, sizeof(*r->fallbackAllowed));
		if (!r->fallbackAllowed)
			goto out;
		*r->fallbackAllowed = m->fallback_allowed ? 1 : 0;
	}
	rc = asn_encode(&asn_DEF_StoreMetadataRequest, r, out);
out:
	if (r)
		ASN_STRUCT_FREE(asn_DEF_StoreMetadataRequest, r);
	return rc;
}

int der_encode_configure_isdp(const char *dp_oid, struct buf *out)
{
	ConfigureISDPRequest_t *r = NULL;
	int rc = -1;

	if (!out)
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	if (dp_oid) {
		r->dpProprietaryData = calloc(1, sizeof(*r->dpProprietaryData));
		if (!r->dpProprietaryData || oid_set(&r->dpProprietaryData->dpOid, dp_oid) < 0)
			goto out;
	}
	rc = asn_encode(&asn_DEF_ConfigureISDPRequest, r, out);
out:
	if (r)
		ASN_STRUCT_FREE(asn_DEF_ConfigureISDPRequest, r);
	return rc;
}

int der_encode_replace_session_keys(const uint8_t mcv[16], const uint8_t enc[16],
				    const uint8_t mac[16], struct buf *out)
{
	ReplaceSessionKeysRequest_t *r = NULL;
	int rc = -1;

	if (!mcv || !enc || !mac || !out)
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	if (os_set(&r->initialMacChainingValue, mcv, 16) < 0 || os_set(&r->ppkEnc, enc, 16) < 0 ||
	    os_set(&r->ppkCmac, mac, 16) < 0)
		goto out;
	rc = asn_encode(&asn_DEF_ReplaceSessionKeysRequest, r, out);
out:
	if (r) {
		rsk_wipe(r);
		ASN_STRUCT_FREE(asn_DEF_ReplaceSessionKeysRequest, r);
	}
	return rc;
}

/* SGP.22 5.5.1: remoteOpId installBoundProfilePackage, CRT with key type
 * AES ('88') and key length 16. */
int der_encode_bf23(const struct bf23 *in, struct buf *whole, struct buf *tbs)
{
	static const uint8_t key_type = 0x88, key_len = 0x10;
	InitialiseSecureChannelRequest_t *r = NULL;
	struct buf w = { 0 }, t = { 0 };
	int rc = -1;

	if (!in || !whole)
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	r->remoteOpId = RemoteOpId_installBoundProfilePackage;
	if (os_set(&r->transactionId, in->txid, in->txid_len) < 0 ||
	    os_set(&r->controlRefTemplate.keyType, &key_type, 1) < 0 ||
	    os_set(&r->controlRefTemplate.keyLen, &key_len, 1) < 0 ||
	    os_set(&r->controlRefTemplate.hostId, in->host_id, in->host_id_len) < 0 ||
	    os_set(&r->smdpOtpk, in->dp_otpk, SMDP_POINT_LEN) < 0 ||
	    os_set(&r->smdpSign, in->signature, SMDP_SIG_LEN) < 0)
		goto out;
	if (asn_encode(&asn_DEF_InitialiseSecureChannelRequest, r, &w) < 0)
		goto out;
	if (tbs && bf23_tbs(w.p, w.len, &t) < 0)
		goto out;
	buf_free(whole);
	*whole = w;
	w.p = NULL;
	if (tbs) {
		buf_free(tbs);
		*tbs = t;
		t.p = NULL;
	}
	rc = 0;
out:
	buf_free(&w);
	buf_free(&t);
	if (r)
		ASN_STRUCT_FREE(asn_DEF_InitialiseSecureChannelRequest, r);
	return rc;
}

/* Put the values of complete segment TLVs (tag seg_tag) into an asn1c list
 * of OCTET STRINGs; asn1c writes the tag again. */
static int segs_put(void *list, const struct buf *segs, size_t n, uint32_t seg_tag)
{
	if (n > 0 && !segs)
		return -1;
	for (size_t i = 0; i < n; i++) {
		OCTET_STRING_t *os;
		struct tlv t;

		if (!segs[i].p || tlv_read(segs[i].p, segs[i].len, &t) < 0 ||
		    t.len != segs[i].len || t.tag != seg_tag)
			return -1;
		os = os_new(t.v, t.vlen);
		if (!os)
			return -1;
		if (ASN_SEQUENCE_ADD(list, os) != 0) {
			ASN_STRUCT_FREE(asn_DEF_OCTET_STRING, os);
			return -1;
		}
	}
	return 0;
}

/* The encoder must have written every segment back byte for byte (same tag,
 * same length form): the eUICC's MAC covers tag and length. */
static int segs_check(const struct tlv *bpp, uint32_t list_tag, const struct buf *segs, size_t n)
{
	struct tlv list, c;
	const uint8_t *p;
	size_t left, i = 0;

	if (tlv_find(bpp, list_tag, &list) < 0)
		return n == 0 ? 0 : -1;
	for (p = list.v, left = list.vlen; left > 0; p += c.len, left -= c.len, i++) {
		if (tlv_read(p, left, &c) < 0 || i >= n || !tlv_same(&c, segs[i].p, segs[i].len))
			return -1;
	}
	return i == n ? 0 : -1;
}

int der_encode_bpp(const struct bpp_parts *p, struct buf *out)
{
	BoundProfilePackage_t *b = NULL;
	struct buf w = { 0 };
	struct tlv whole, t;
	int rc = -1;

	if (!p || !out)
		goto out;
	b = calloc(1, sizeof(*b));
	if (!b)
		goto out;
	if (asn_embed(&asn_DEF_InitialiseSecureChannelRequest, &b->initialiseSecureChannelRequest,
		      p->bf23.p, p->bf23.len) < 0)
		goto out;
	if (segs_put(&b->firstSequenceOf87.list, p->seg87a, p->n87a, 0x87) < 0 ||
	    segs_put(&b->sequenceOf88.list, p->seg88, p->n88, 0x88) < 0 ||
	    segs_put(&b->sequenceOf86.list, p->seg86, p->n86, 0x86) < 0)
		goto out;
	if (p->n87b > 0) {
		b->secondSequenceOf87 = calloc(1, sizeof(*b->secondSequenceOf87));
		if (!b->secondSequenceOf87 ||
		    segs_put(&b->secondSequenceOf87->list, p->seg87b, p->n87b, 0x87) < 0)
			goto out;
	}
	if (asn_encode(&asn_DEF_BoundProfilePackage, b, &w) < 0)
		goto out;
	if (tlv_read(w.p, w.len, &whole) < 0 || tlv_find(&whole, TAG_ISC_REQ, &t) < 0 ||
	    !tlv_same(&t, p->bf23.p, p->bf23.len) ||
	    segs_check(&whole, 0xA0, p->seg87a, p->n87a) < 0 ||
	    segs_check(&whole, 0xA1, p->seg88, p->n88) < 0 ||
	    segs_check(&whole, 0xA2, p->seg87b, p->n87b) < 0 ||
	    segs_check(&whole, 0xA3, p->seg86, p->n86) < 0) {
		log_warn("der: BoundProfilePackage: encoder did not reproduce the parts");
		goto out;
	}
	buf_free(out);
	*out = w;
	w.p = NULL;
	rc = 0;
out:
	buf_free(&w);
	if (b)
		ASN_STRUCT_FREE(asn_DEF_BoundProfilePackage, b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Encoders: what the eUICC / LPA sends (smdp-client and the tests) */

static int ci_list_put(void *list, const struct ci_id *ids, size_t n)
{
	if (n > SMDP_MAX_CI_IDS)
		return -1;
	for (size_t i = 0; i < n; i++) {
		OCTET_STRING_t *os;

		if (ids[i].len == 0 || ids[i].len > DER_MAX_KEYID)
			return -1;
		os = os_new(ids[i].id, ids[i].len);
		if (!os)
			return -1;
		if (ASN_SEQUENCE_ADD(list, os) != 0) {
			ASN_STRUCT_FREE(asn_DEF_OCTET_STRING, os);
			return -1;
		}
	}
	return 0;
}

int der_encode_euicc_info1(const struct euicc_info1 *in, struct buf *out)
{
	EUICCInfo1_t *e = NULL;
	int rc = -1;

	if (!in || !out)
		goto out;
	e = calloc(1, sizeof(*e));
	if (!e)
		goto out;
	if (os_set(&e->svn, in->svn, 3) < 0 ||
	    ci_list_put(&e->euiccCiPKIdListForVerification.list, in->verif, in->n_verif) < 0 ||
	    ci_list_put(&e->euiccCiPKIdListForSigning.list, in->sign, in->n_sign) < 0)
		goto out;
	rc = asn_encode(&asn_DEF_EUICCInfo1, e, out);
out:
	if (e)
		ASN_STRUCT_FREE(asn_DEF_EUICCInfo1, e);
	return rc;
}

/*
 * The software eUICC's EUICCInfo2 (SGP.22 5.7.8): base profile package 2.3.0,
 * firmware 1.0.0, TS 102 226 resources (no installed application, 64 KiB
 * free NVM, 8.7 KiB free RAM), a USIM/ISIM Java Card UICC with Milenage,
 * TUAK and the test algorithm, RSP capabilities additionalProfile,
 * testProfileSupport and deviceInfoExtensibilitySupport, protection profile
 * 0.0.1 and a test SAS number.
 */
int der_encode_euicc_info2(const uint8_t svn[3], const struct euicc_info1 *cis, struct buf *out)
{
	static const uint8_t profile_version[3] = { 2, 3, 0 };
	static const uint8_t firmware[3] = { 1, 0, 0 };
	static const uint8_t pp_version[3] = { 0, 0, 1 };
	static const uint8_t ext_card_resource[] = {
		0x81, 0x01, 0x00,                       /* installed applications */
		0x82, 0x04, 0x00, 0x01, 0x00, 0x00,     /* free non-volatile memory */
		0x83, 0x02, 0x22, 0x00,                 /* free volatile memory */
	};
	/* UICCCapability named bits (PEDefinitions). */
	static const uint32_t uicc_caps =
		(UINT32_C(1) << UICCCapability_usimSupport) |
		(UINT32_C(1) << UICCCapability_isimSupport) |
		(UINT32_C(1) << UICCCapability_akaMilenage) |
		(UINT32_C(1) << UICCCapability_akaTuak128) |
		(UINT32_C(1) << UICCCapability_usimTestAlgorithm) |
		(UINT32_C(1) << UICCCapability_javacard) |
		(UINT32_C(1) << UICCCapability_berTlvFileSupport) |
		(UINT32_C(1) << UICCCapability_dfLinkSupport);
	static const uint32_t rsp_caps =
		(UINT32_C(1) << RspCapability_additionalProfile) |
		(UINT32_C(1) << RspCapability_testProfileSupport) |
		(UINT32_C(1) << RspCapability_deviceInfoExtensibilitySupport);
	EUICCInfo2_t *e = NULL;
	int rc = -1;

	if (!svn || !out)
		goto out;
	e = calloc(1, sizeof(*e));
	if (!e)
		goto out;
	if (os_set(&e->profileVersion, profile_version, 3) < 0 || os_set(&e->svn, svn, 3) < 0 ||
	    os_set(&e->euiccFirmwareVer, firmware, 3) < 0 ||
	    os_set(&e->extCardResource, ext_card_resource, sizeof(ext_card_resource)) < 0 ||
	    bits_set(&e->uiccCapability, uicc_caps) < 0 || bits_set(&e->rspCapability, rsp_caps) < 0 ||
	    os_set(&e->ppVersion, pp_version, 3) < 0 ||
	    str_set(&e->sasAcreditationNumber, "SMDP-TEST", 64) < 0)
		goto out;
	if (cis && (ci_list_put(&e->euiccCiPKIdListForVerification.list, cis->verif, cis->n_verif) < 0 ||
		    ci_list_put(&e->euiccCiPKIdListForSigning.list, cis->sign, cis->n_sign) < 0))
		goto out;
	rc = asn_encode(&asn_DEF_EUICCInfo2, e, out);
out:
	if (e)
		ASN_STRUCT_FREE(asn_DEF_EUICCInfo2, e);
	return rc;
}

/*
 * euiccInfo2 and deviceInfo are decoded from the raw TLVs and re-encoded;
 * the result is refused unless both come out byte-identical (a raw TLV with
 * fields this module does not know would otherwise be silently changed).
 * ctx.device_info may carry DeviceInfo with its context tag 'A1' (as
 * der_decode_auth_server_resp returns it) or as a plain SEQUENCE '30'.
 */
int der_encode_euicc_signed1(const struct euicc_signed1 *in, struct buf *out)
{
	EuiccSigned1_t *s = NULL;
	CtxParamsForCommonAuthentication_t *c;
	struct buf w = { 0 }, dev = { 0 };
	struct tlv whole, t, ctx;
	int rc = -1;

	if (!in || !out || !in->euicc_info2.p)
		goto out;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	if (os_set(&s->transactionId, in->txid, in->txid_len) < 0 ||
	    str_set(&s->serverAddress, in->server_address, SMDP_MAX_ADDRESS) < 0 ||
	    os_set(&s->serverChallenge, in->server_challenge, SMDP_CHAL_LEN) < 0 ||
	    asn_embed(&asn_DEF_EUICCInfo2, &s->euiccInfo2, in->euicc_info2.p, in->euicc_info2.len) < 0)
		goto out;
	s->ctxParams1.present = CtxParams1_PR_ctxParamsForCommonAuthentication;
	c = &s->ctxParams1.choice.ctxParamsForCommonAuthentication;
	if (in->ctx.has_matching_id) {
		c->matchingId = calloc(1, sizeof(*c->matchingId));
		if (!c->matchingId ||
		    str_set(c->matchingId, in->ctx.matching_id, SMDP_MAX_MATCHING_ID) < 0)
			goto out;
	}
	if (in->ctx.device_info.len > 0) {
		/* Decode as the universal SEQUENCE: same length octets. */
		if (buf_set(&dev, in->ctx.device_info.p, in->ctx.device_info.len) < 0 ||
		    (dev.p[0] != 0xA1 && dev.p[0] != TAG_SEQUENCE))
			goto out;
		dev.p[0] = TAG_SEQUENCE;
		if (asn_embed(&asn_DEF_DeviceInfo, &c->deviceInfo, dev.p, dev.len) < 0)
			goto out;
	} else if (in->ctx.tac_len != 4 && in->ctx.tac_len != 8) {
		goto out;
	} else if (os_set(&c->deviceInfo.tac, in->ctx.tac, in->ctx.tac_len) < 0) {
		goto out;
	}
	if (asn_encode(&asn_DEF_EuiccSigned1, s, &w) < 0)
		goto out;
	if (tlv_read(w.p, w.len, &whole) < 0 || tlv_find(&whole, TAG_EUICC_INFO2, &t) < 0 ||
	    !tlv_same(&t, in->euicc_info2.p, in->euicc_info2.len) ||
	    tlv_find(&whole, 0xA0, &ctx) < 0 || tlv_find(&ctx, 0xA1, &t) < 0 ||
	    (dev.len > 0 && (t.len != dev.len || memcmp(t.p + 1, dev.p + 1, dev.len - 1) != 0))) {
		log_warn("der: EuiccSigned1: euiccInfo2/deviceInfo did not re-encode identically");
		goto out;
	}
	buf_free(out);
	*out = w;
	w.p = NULL;
	rc = 0;
out:
	buf_free(&w);
	buf_free(&dev);
	if (s)
		ASN_STRUCT_FREE(asn_DEF_EuiccSigned1, s);
	return rc;
}

/*
 * For devices of other versions than this module (smdp-client sending a
 * given EUICCInfo2 / DeviceInfo): the two TLVs are only decoded to check
 * them, then copied as they are; the whole must decode as EuiccSigned1.
 */
int der_encode_euicc_signed1_verbatim(const struct euicc_signed1 *in, struct buf *out)
{
	EUICCInfo2_t *e = NULL;
	DeviceInfo_t *d = NULL;
	EuiccSigned1_t *s = NULL;
	struct buf w = { 0 }, ctx = { 0 }, dev = { 0 };
	struct tlv t;
	size_t alen;
	int rc = -1;

	if (!in || !out || in->txid_len < 1 || in->txid_len > sizeof(in->txid) ||
	    tlv_one(&in->euicc_info2, TAG_EUICC_INFO2, &t) < 0)
		goto out;
	if (in->ctx.device_info.len == 0) {
		/* none given: tac and empty deviceCapabilities, as der_encode_euicc_signed1 */
		if ((in->ctx.tac_len != 4 && in->ctx.tac_len != 8) ||
		    tlv_put(&dev, 0x80, in->ctx.tac, in->ctx.tac_len) < 0 ||
		    tlv_put(&dev, 0xA1, NULL, 0) < 0 || tlv_wrap(&dev, TAG_SEQUENCE) < 0)
			goto out;
	} else if (tlv_one(&in->ctx.device_info, 0, &t) < 0 ||
		   (t.tag != 0xA1 && t.tag != TAG_SEQUENCE) ||
		   buf_set(&dev, in->ctx.device_info.p, in->ctx.device_info.len) < 0) {
		goto out;
	}
	alen = strnlen(in->server_address, sizeof(in->server_address));
	if (alen >= sizeof(in->server_address) ||
	    (in->ctx.has_matching_id &&
	     strnlen(in->ctx.matching_id, sizeof(in->ctx.matching_id)) >= sizeof(in->ctx.matching_id)))
		goto out;
	if (asn_decode(&asn_DEF_EUICCInfo2, (void **)&e, in->euicc_info2.p, in->euicc_info2.len,
		       TAG_EUICC_INFO2) < 0)
		goto out;
	dev.p[0] = TAG_SEQUENCE;
	if (asn_decode(&asn_DEF_DeviceInfo, (void **)&d, dev.p, dev.len, TAG_SEQUENCE) < 0)
		goto out;
	dev.p[0] = 0xA1;   /* deviceInfo [1] inside ctxParamsForCommonAuthentication */
	if ((in->ctx.has_matching_id &&
	     tlv_put(&ctx, 0x80, in->ctx.matching_id, strlen(in->ctx.matching_id)) < 0) ||
	    buf_append(&ctx, dev.p, dev.len) < 0 || tlv_wrap(&ctx, 0xA0) < 0)
		goto out;
	if (tlv_put(&w, 0x80, in->txid, in->txid_len) < 0 ||
	    tlv_put(&w, 0x83, in->server_address, alen) < 0 ||
	    tlv_put(&w, 0x84, in->server_challenge, SMDP_CHAL_LEN) < 0 ||
	    buf_append(&w, in->euicc_info2.p, in->euicc_info2.len) < 0 ||
	    buf_append(&w, ctx.p, ctx.len) < 0 || tlv_wrap(&w, TAG_SEQUENCE) < 0)
		goto out;
	if (asn_decode(&asn_DEF_EuiccSigned1, (void **)&s, w.p, w.len, TAG_SEQUENCE) < 0)
		goto out;
	buf_free(out);
	*out = w;
	w.p = NULL;
	rc = 0;
out:
	if (e)
		ASN_STRUCT_FREE(asn_DEF_EUICCInfo2, e);
	if (d)
		ASN_STRUCT_FREE(asn_DEF_DeviceInfo, d);
	if (s)
		ASN_STRUCT_FREE(asn_DEF_EuiccSigned1, s);
	buf_free(&w);
	buf_free(&ctx);
	buf_free(&dev);
	return rc;
}

int der_encode_auth_server_resp(const struct auth_server_resp *in, struct buf *out)
{
	AuthenticateServerResponse_t *r = NULL;
	struct buf w = { 0 };
	struct tlv ok, t;
	int rc = -1;

	if (!in || !out)
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	if (in->is_error) {
		AuthenticateResponseError_t *e = &r->choice.authenticateResponseError;

		r->present = AuthenticateServerResponse_PR_authenticateResponseError;
		e->authenticateErrorCode = in->error_code;
		if (os_set(&e->transactionId, in->error_txid, in->error_txid_len) < 0)
			goto out;
		rc = asn_encode(&asn_DEF_AuthenticateServerResponse, r, out);
		goto out;
	}
	r->present = AuthenticateServerResponse_PR_authenticateResponseOk;
	{
		AuthenticateResponseOk_t *o = &r->choice.authenticateResponseOk;

		/* each part must decode as its type (this validates them) */
		if (asn_embed(&asn_DEF_EuiccSigned1, &o->euiccSigned1, in->signed1_raw.p,
			      in->signed1_raw.len) < 0 ||
		    os_set(&o->euiccSignature1, in->signature1, SMDP_SIG_LEN) < 0 ||
		    asn_embed(&asn_DEF_Certificate, &o->euiccCertificate, in->euicc_cert.p,
			      in->euicc_cert.len) < 0 ||
		    asn_embed(&asn_DEF_Certificate, &o->eumCertificate, in->eum_cert.p,
			      in->eum_cert.len) < 0 ||
		    asn_check_constraints(&asn_DEF_AuthenticateServerResponse, r, NULL, NULL) != 0)
			goto out;
	}
	/* Assembled from the parts as given rather than re-encoded: a
	 * euiccSigned1 of a newer device carries fields this module does not
	 * know (EXTENSIBILITY IMPLIED), which a re-encoding would drop. */
	if (buf_append(&w, in->signed1_raw.p, in->signed1_raw.len) < 0 ||
	    tlv_put(&w, TAG_SIGNATURE, in->signature1, SMDP_SIG_LEN) < 0 ||
	    buf_append(&w, in->euicc_cert.p, in->euicc_cert.len) < 0 ||
	    buf_append(&w, in->eum_cert.p, in->eum_cert.len) < 0 || tlv_wrap(&w, 0xA0) < 0 ||
	    tlv_wrap(&w, TAG_AUTH_SRV_RESP) < 0)
		goto out;
	/* The SM-DP+ verifies euiccSignature1 over these exact bytes. */
	if (TLV_PATH(w.p, w.len, &ok, TAG_AUTH_SRV_RESP, 0xA0) < 0 ||
	    tlv_nth(&ok, 0, &t) < 0 || !tlv_same(&t, in->signed1_raw.p, in->signed1_raw.len) ||
	    tlv_nth(&ok, 2, &t) < 0 || !tlv_same(&t, in->euicc_cert.p, in->euicc_cert.len) ||
	    tlv_nth(&ok, 3, &t) < 0 || !tlv_same(&t, in->eum_cert.p, in->eum_cert.len)) {
		log_warn("der: AuthenticateServerResponse: parts did not re-encode identically");
		goto out;
	}
	buf_free(out);
	*out = w;
	w.p = NULL;
	rc = 0;
out:
	buf_free(&w);
	if (r)
		ASN_STRUCT_FREE(asn_DEF_AuthenticateServerResponse, r);
	return rc;
}

int der_encode_euicc_signed2(const uint8_t *txid, size_t txid_len,
			     const uint8_t otpk[SMDP_POINT_LEN], const uint8_t *hash_cc,
			     struct buf *out)
{
	EUICCSigned2_t *s = NULL;
	int rc = -1;

	if (!txid || !otpk || !out)
		goto out;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	if (os_set(&s->transactionId, txid, txid_len) < 0 ||
	    os_set(&s->euiccOtpk, otpk, SMDP_POINT_LEN) < 0)
		goto out;
	if (hash_cc) {
		s->hashCc = os_new(hash_cc, 32);
		if (!s->hashCc)
			goto out;
	}
	rc = asn_encode(&asn_DEF_EUICCSigned2, s, out);
out:
	if (s)
		ASN_STRUCT_FREE(asn_DEF_EUICCSigned2, s);
	return rc;
}

/* Ok form from the raw signed2 (kept byte-identical) + signature, or the
 * error form with in->txid and in->error_code. */
int der_encode_prepare_download_resp(const struct prepare_download_resp *in, struct buf *out)
{
	PrepareDownloadResponse_t *r = NULL;
	struct buf w = { 0 };
	struct tlv ok, t;
	int rc = -1;

	if (!in || !out)
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	if (in->is_error) {
		PrepareDownloadResponseError_t *e = &r->choice.downloadResponseError;

		r->present = PrepareDownloadResponse_PR_downloadResponseError;
		e->downloadErrorCode = in->error_code;
		if (os_set(&e->transactionId, in->txid, in->txid_len) < 0)
			goto out;
		rc = asn_encode(&asn_DEF_PrepareDownloadResponse, r, out);
		goto out;
	}
	r->present = PrepareDownloadResponse_PR_downloadResponseOk;
	if (asn_embed(&asn_DEF_EUICCSigned2, &r->choice.downloadResponseOk.euiccSigned2,
		      in->signed2_raw.p, in->signed2_raw.len) < 0 ||
	    os_set(&r->choice.downloadResponseOk.euiccSignature2, in->signature2, SMDP_SIG_LEN) < 0)
		goto out;
	if (asn_encode(&asn_DEF_PrepareDownloadResponse, r, &w) < 0)
		goto out;
	if (TLV_PATH(w.p, w.len, &ok, TAG_PREP_DL_RESP, 0xA0) < 0 || tlv_nth(&ok, 0, &t) < 0 ||
	    !tlv_same(&t, in->signed2_raw.p, in->signed2_raw.len)) {
		log_warn("der: PrepareDownloadResponse: euiccSigned2 did not re-encode identically");
		goto out;
	}
	buf_free(out);
	*out = w;
	w.p = NULL;
	rc = 0;
out:
	buf_free(&w);
	if (r)
		ASN_STRUCT_FREE(asn_DEF_PrepareDownloadResponse, r);
	return rc;
}

static int meta_put(NotificationMetadata_t *m, const struct notification_metadata *in)
{
	if (in->operation < 0 || in->operation > 3)
		return -1;
	m->seqNumber = in->seq_number;
	if (bits_set(&m->profileManagementOperation, UINT32_C(1) << in->operation) < 0 ||
	    str_set(&m->notificationAddress, in->address, SMDP_MAX_ADDRESS) < 0)
		return -1;
	if (in->has_iccid) {
		m->iccid = os_new(in->iccid, sizeof(in->iccid));
		if (!m->iccid)
			return -1;
	}
	return 0;
}

/* ProfileInstallationResultData BF27 (SGP.22 5.5.6 / 5.7.7). A successResult
 * always carries simaResponse (possibly empty); an errorResult only when
 * in->sima_response is non-empty. */
int der_encode_pir_data(const struct pending_notification *in, struct buf *out)
{
	ProfileInstallationResultData_t *d = NULL;
	int rc = -1;

	if (!in || !out)
		goto out;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto out;
	if (os_set(&d->transactionId, in->txid, in->txid_len) < 0 ||
	    meta_put(&d->notificationMetadata, &in->meta) < 0 ||
	    oid_set(&d->smdpOid, in->smdp_oid) < 0)
		goto out;
	if (in->success) {
		SuccessResult_t *s = &d->finalResult.choice.successResult;

		d->finalResult.present = ProfileInstallationResultData__finalResult_PR_successResult;
		if (os_set(&s->aid, in->aid, in->aid_len) < 0 ||
		    os_set(&s->simaResponse, in->sima_response.p, in->sima_response.len) < 0)
			goto out;
	} else {
		ErrorResult_t *e = &d->finalResult.choice.errorResult;

		d->finalResult.present = ProfileInstallationResultData__finalResult_PR_errorResult;
		e->bppCommandId = in->bpp_command_id;
		e->errorReason = in->error_reason;
		if (in->sima_response.len > 0) {
			e->simaResponse = os_new(in->sima_response.p, in->sima_response.len);
			if (!e->simaResponse)
				goto out;
		}
	}
	rc = asn_encode(&asn_DEF_ProfileInstallationResultData, d, out);
out:
	if (d)
		ASN_STRUCT_FREE(asn_DEF_ProfileInstallationResultData, d);
	return rc;
}

int der_encode_pir(const struct pending_notification *in, struct buf *out)
{
	ProfileInstallationResult_t *r = NULL;
	struct buf w = { 0 };
	struct tlv whole, t;
	int rc = -1;

	if (!in || !out)
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	if (asn_embed(&asn_DEF_ProfileInstallationResultData, &r->profileInstallationResultData,
		      in->pir_data_raw.p, in->pir_data_raw.len) < 0 ||
	    os_set(&r->euiccSignPIR, in->signature, SMDP_SIG_LEN) < 0)
		goto out;
	if (asn_encode(&asn_DEF_ProfileInstallationResult, r, &w) < 0)
		goto out;
	if (tlv_read(w.p, w.len, &whole) < 0 || tlv_nth(&whole, 0, &t) < 0 ||
	    !tlv_same(&t, in->pir_data_raw.p, in->pir_data_raw.len)) {
		log_warn("der: ProfileInstallationResult: BF27 did not re-encode identically");
		goto out;
	}
	buf_free(out);
	*out = w;
	w.p = NULL;
	rc = 0;
out:
	buf_free(&w);
	if (r)
		ASN_STRUCT_FREE(asn_DEF_ProfileInstallationResult, r);
	return rc;
}

int der_encode_cancel_signed(const uint8_t *txid, size_t txid_len, const char *smdp_oid,
			     long reason, struct buf *out)
{
	EuiccCancelSessionSigned_t *s = NULL;
	int rc = -1;

	if (!txid || !out)
		goto out;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	if (os_set(&s->transactionId, txid, txid_len) < 0 || oid_set(&s->smdpOid, smdp_oid) < 0)
		goto out;
	s->reason = reason;
	rc = asn_encode(&asn_DEF_EuiccCancelSessionSigned, s, out);
out:
	if (s)
		ASN_STRUCT_FREE(asn_DEF_EuiccCancelSessionSigned, s);
	return rc;
}

/* Ok form from the raw signed part (kept byte-identical) + signature, or the
 * error form with in->error_code. */
int der_encode_cancel_session_resp(const struct cancel_session_resp *in, struct buf *out)
{
	CancelSessionResponse_t *r = NULL;
	struct buf w = { 0 };
	struct tlv ok, t;
	int rc = -1;

	if (!in || !out)
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	if (in->is_error) {
		r->present = CancelSessionResponse_PR_cancelSessionResponseError;
		r->choice.cancelSessionResponseError = in->error_code;
		rc = asn_encode(&asn_DEF_CancelSessionResponse, r, out);
		goto out;
	}
	r->present = CancelSessionResponse_PR_cancelSessionResponseOk;
	if (asn_embed(&asn_DEF_EuiccCancelSessionSigned,
		      &r->choice.cancelSessionResponseOk.euiccCancelSessionSigned, in->signed_raw.p,
		      in->signed_raw.len) < 0 ||
	    os_set(&r->choice.cancelSessionResponseOk.euiccCancelSessionSignature, in->signature,
		   SMDP_SIG_LEN) < 0)
		goto out;
	if (asn_encode(&asn_DEF_CancelSessionResponse, r, &w) < 0)
		goto out;
	if (TLV_PATH(w.p, w.len, &ok, TAG_CANCEL_RESP, 0xA0) < 0 || tlv_nth(&ok, 0, &t) < 0 ||
	    !tlv_same(&t, in->signed_raw.p, in->signed_raw.len)) {
		log_warn("der: CancelSessionResponse: signed part did not re-encode identically");
		goto out;
	}
	buf_free(out);
	*out = w;
	w.p = NULL;
	rc = 0;
out:
	buf_free(&w);
	if (r)
		ASN_STRUCT_FREE(asn_DEF_CancelSessionResponse, r);
	return rc;
}

/* ------------------------------------------------------------------ */
/* ES9+ ASN.1 binding: RemoteProfileProvisioningRequest / Response (the
 * wrappers of SGP.22's "Definition for ES9+ ASN.1 Binding"). Module tags
 * are AUTOMATIC: the Ok / error alternatives of each response CHOICE are
 * [0] 'A0' / [1] '81', CancelSessionRequestEs9.cancelSessionResponse is
 * [1] 'A1', HandleNotification.pendingNotification is [0] 'A0' (explicit,
 * a CHOICE). */

#define TAG_RPP             0xA2u    /* RemoteProfileProvisioningRequest/Response [2] */
#define TAG_IA_FN           0xBF39u  /* InitiateAuthenticationRequest / Response */
#define TAG_GBPP_FN         0xBF3Au  /* GetBoundProfilePackageRequest / Response */
#define TAG_AC_FN           0xBF3Bu  /* AuthenticateClientRequest / ResponseEs9 */
#define TAG_HN_FN           0xBF3Du  /* HandleNotification */
#define TAG_EUICC_INFO1_ANY 0xBF20u  /* EUICCInfo1 */
/* CancelSessionRequestEs9 / ResponseEs9 carry BF41 like CancelSessionResponse */

static const struct {
	uint32_t tag;
	enum es9_fn fn;
} rpp_alts[] = {
	{ TAG_IA_FN, ES9_INITIATE_AUTH },
	{ TAG_AC_FN, ES9_AUTH_CLIENT },
	{ TAG_GBPP_FN, ES9_GET_BPP },
	{ TAG_HN_FN, ES9_HANDLE_NOTIF },
	{ TAG_CANCEL_RESP, ES9_CANCEL_SESSION },
};

static uint32_t rpp_tag(enum es9_fn fn)
{
	for (size_t i = 0; i < sizeof(rpp_alts) / sizeof(rpp_alts[0]); i++)
		if (rpp_alts[i].fn == fn)
			return rpp_alts[i].tag;
	return 0;
}

void es9_asn1_req_free(struct es9_asn1_req *r)
{
	if (!r)
		return;
	buf_free(&r->obj);
	buf_free(&r->ext);
	memset(r, 0, sizeof(*r));
}

void es9_asn1_resp_free(struct es9_asn1_resp *r)
{
	if (!r)
		return;
	buf_free(&r->server_signed1);
	buf_free(&r->server_signature1);
	buf_free(&r->ci_pkid);
	buf_free(&r->server_cert);
	buf_free(&r->profile_metadata);
	buf_free(&r->smdp_signed2);
	buf_free(&r->smdp_signature2);
	buf_free(&r->smdp_cert);
	buf_free(&r->bpp);
	memset(r, 0, sizeof(*r));
}

/* A2 { alt { children of alt, child idx replaced by the TLV in repl } } */
static int rpp_rebuild(const struct tlv *alt, size_t idx, const struct buf *repl, struct buf *out)
{
	struct buf v = { 0 };
	struct tlv c;
	int rc = -1;

	for (size_t i = 0; tlv_nth(alt, i, &c) == 0; i++) {
		if (buf_append(&v, i == idx ? repl->p : c.p, i == idx ? repl->len : c.len) < 0)
			goto out;
	}
	if (tlv_wrap(&v, alt->tag) < 0 || tlv_wrap(&v, TAG_RPP) < 0)
		goto out;
	buf_free(out);
	*out = v;
	v.p = NULL;
	rc = 0;
out:
	buf_free(&v);
	return rc;
}

/* RemoteProfileProvisioningRequest (server side): the wrapper through asn1c,
 * the ES10b object inside copied as received (SGP.22 ASN.1 binding). */
enum rsp_status der_decode_es9_request(const uint8_t *der, size_t n, struct es9_asn1_req *out)
{
	static const struct need need[] = {
		{ { TAG_RPP, TAG_IA_FN }, { 0x81, 0x83, TAG_EUICC_INFO1_ANY } },
		{ { TAG_RPP, TAG_AC_FN }, { 0x80, TAG_AUTH_SRV_RESP } },
		{ { TAG_RPP, TAG_GBPP_FN }, { 0x80, TAG_PREP_DL_RESP } },
		{ { TAG_RPP, TAG_CANCEL_RESP }, { 0x80, 0xA1 } },
		{ { TAG_RPP, TAG_HN_FN }, { 0xA0 } },
	};
	RemoteProfileProvisioningRequest_t *r = NULL;
	struct buf norm = { 0 }, repl = { 0 };
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;
	const uint8_t *p = der;
	size_t len = n;
	struct tlv outer, alt, c, inner;

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	out->fn = ES9_FN_COUNT;
	/* the function first (headers only), so that a malformed body can
	 * still be answered with that function's error */
	if (!der || n == 0 || n > SMDP_MAX_BODY || tlv_read(der, n, &outer) < 0 || outer.len != n ||
	    outer.tag != TAG_RPP || tlv_nth(&outer, 0, &alt) < 0 || alt.len != outer.vlen)
		goto out;
	for (size_t i = 0; i < sizeof(rpp_alts) / sizeof(rpp_alts[0]); i++)
		if (rpp_alts[i].tag == alt.tag)
			out->fn = rpp_alts[i].fn;
	if (out->fn == ES9_FN_COUNT || tlv_strict(der, n, 0) < 0)
		goto out;
	/* Two tagging slips of hand-written clients, mapped to the module's
	 * form: the CancelSessionResponse with its own tag BF41 instead of
	 * [1], a PendingNotification without the explicit [0]. */
	if (out->fn == ES9_CANCEL_SESSION && tlv_nth(&alt, 1, &c) == 0 && c.tag == TAG_CANCEL_RESP) {
		if (tlv_put(&repl, 0xA1, c.v, c.vlen) < 0 || rpp_rebuild(&alt, 1, &repl, &norm) < 0)
			goto out;
	} else if (out->fn == ES9_HANDLE_NOTIF && tlv_nth(&alt, 0, &c) == 0 &&
		   (c.tag == TAG_PIR || c.tag == TAG_SEQUENCE)) {
		if (tlv_put(&repl, 0xA0, c.p, c.len) < 0 || rpp_rebuild(&alt, 0, &repl, &norm) < 0)
			goto out;
	}
	if (norm.p) {
		p = norm.p;
		len = norm.len;
		if (tlv_read(p, len, &outer) < 0 || tlv_nth(&outer, 0, &alt) < 0)
			goto out;
	}
	if (asn_decode(&asn_DEF_RemoteProfileProvisioningRequest, (void **)&r, p, len, TAG_RPP) < 0) {
		st = fail_status(p, len, need, sizeof(need) / sizeof(need[0]));
		goto out;
	}
	switch (r->present) {
	case RemoteProfileProvisioningRequest_PR_initiateAuthenticationRequest: {
		const InitiateAuthenticationRequest_t *q = &r->choice.initiateAuthenticationRequest;

		if (os_get(&q->euiccChallenge, out->euicc_challenge, SMDP_CHAL_LEN, SMDP_CHAL_LEN,
			   NULL) < 0 ||
		    str_get(&q->smdpAddress, out->smdp_address, sizeof(out->smdp_address)) < 0 ||
		    tlv_find(&alt, TAG_EUICC_INFO1_ANY, &c) < 0 || buf_set(&out->obj, c.p, c.len) < 0)
			goto out;
		break;
	}
	case RemoteProfileProvisioningRequest_PR_authenticateClientRequest:
		if (os_get(&r->choice.authenticateClientRequest.transactionId, out->txid, 1,
			   sizeof(out->txid), &out->txid_len) < 0 ||
		    tlv_find(&alt, TAG_AUTH_SRV_RESP, &c) < 0 || buf_set(&out->obj, c.p, c.len) < 0)
			goto out;
		break;
	case RemoteProfileProvisioningRequest_PR_getBoundProfilePackageRequest:
		if (os_get(&r->choice.getBoundProfilePackageRequest.transactionId, out->txid, 1,
			   sizeof(out->txid), &out->txid_len) < 0 ||
		    tlv_find(&alt, TAG_PREP_DL_RESP, &c) < 0 || buf_set(&out->obj, c.p, c.len) < 0)
			goto out;
		break;
	case RemoteProfileProvisioningRequest_PR_cancelSessionRequestEs9:
		/* back to the standalone BF41 the ES10b decoder knows; the
		 * signature covers only the EuiccCancelSessionSigned inside */
		if (os_get(&r->choice.cancelSessionRequestEs9.transactionId, out->txid, 1,
			   sizeof(out->txid), &out->txid_len) < 0 ||
		    tlv_find(&alt, 0xA1, &c) < 0 || tlv_put(&out->obj, TAG_CANCEL_RESP, c.v, c.vlen) < 0)
			goto out;
		break;
	case RemoteProfileProvisioningRequest_PR_handleNotification:
		if (tlv_find(&alt, 0xA0, &c) < 0 || tlv_nth(&c, 0, &inner) < 0 ||
		    buf_set(&out->obj, inner.p, inner.len) < 0)
			goto out;
		break;
	default:
		goto out;
	}
	st = RSP_OK;
out:
	if (r)
		ASN_STRUCT_FREE(asn_DEF_RemoteProfileProvisioningRequest, r);
	buf_free(&norm);
	buf_free(&repl);
	if (st != RSP_OK)
		buf_free(&out->obj);
	return st;
}

/* Put the value of the one TLV in b (with the given tag) into os. */
static int tlv_value_set(const struct buf *b, uint32_t tag, OCTET_STRING_t *os)
{
	struct tlv t;

	return tlv_one(b, tag, &t) < 0 ? -1 : os_set(os, t.v, t.vlen);
}

/* Decode the one TLV in b (with the given tag) into an asn1c member. */
static int tlv_embed(asn_TYPE_descriptor_t *td, void *member, const struct buf *b, uint32_t tag)
{
	struct tlv t;

	return tlv_one(b, tag, &t) < 0 ? -1 : asn_embed(td, member, b->p, b->len);
}

/* RemoteProfileProvisioningResponse (server side) through asn1c; the parts
 * the eUICC verifies are checked to come out byte-identical. */
int der_encode_es9_response(const struct es9_asn1_resp *in, struct buf *out)
{
	RemoteProfileProvisioningResponse_t *r = NULL;
	const struct buf *parts[5] = { NULL };   /* Ok parts by position, to check */
	struct buf w = { 0 };
	struct tlv ok, t;
	uint32_t tag;
	int rc = -1;

	if (!in || !out || !(tag = rpp_tag(in->fn)) || in->fn == ES9_HANDLE_NOTIF)
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	switch (in->fn) {
	case ES9_INITIATE_AUTH: {
		InitiateAuthenticationResponse_t *a = &r->choice.initiateAuthenticationResponse;
		InitiateAuthenticationOkEs9_t *o = &a->choice.initiateAuthenticationOk;

		r->present = RemoteProfileProvisioningResponse_PR_initiateAuthenticationResponse;
		if (in->error >= 0) {
			a->present = InitiateAuthenticationResponse_PR_initiateAuthenticationError;
			a->choice.initiateAuthenticationError = in->error;
			break;
		}
		a->present = InitiateAuthenticationResponse_PR_initiateAuthenticationOk;
		if (os_set(&o->transactionId, in->txid, in->txid_len) < 0 ||
		    tlv_embed(&asn_DEF_ServerSigned1, &o->serverSigned1, &in->server_signed1,
			      TAG_SEQUENCE) < 0 ||
		    tlv_value_set(&in->server_signature1, TAG_SIGNATURE, &o->serverSignature1) < 0 ||
		    tlv_value_set(&in->ci_pkid, TAG_OCTET_STRING, &o->euiccCiPKIdToBeUsed) < 0 ||
		    tlv_embed(&asn_DEF_Certificate, &o->serverCertificate, &in->server_cert,
			      TAG_SEQUENCE) < 0)
			goto out;
		parts[1] = &in->server_signed1;
		parts[2] = &in->server_signature1;
		parts[3] = &in->ci_pkid;
		parts[4] = &in->server_cert;
		break;
	}
	case ES9_AUTH_CLIENT: {
		AuthenticateClientResponseEs9_t *a = &r->choice.authenticateClientResponseEs9;
		AuthenticateClientOk_t *o = &a->choice.authenticateClientOk;

		r->present = RemoteProfileProvisioningResponse_PR_authenticateClientResponseEs9;
		if (in->error >= 0) {
			a->present = AuthenticateClientResponseEs9_PR_authenticateClientError;
			a->choice.authenticateClientError = in->error;
			break;
		}
		a->present = AuthenticateClientResponseEs9_PR_authenticateClientOk;
		if (os_set(&o->transactionId, in->txid, in->txid_len) < 0 ||
		    tlv_embed(&asn_DEF_StoreMetadataRequest, &o->profileMetaData,
			      &in->profile_metadata, TAG_STORE_META) < 0 ||
		    tlv_embed(&asn_DEF_SmdpSigned2, &o->smdpSigned2, &in->smdp_signed2,
			      TAG_SEQUENCE) < 0 ||
		    tlv_value_set(&in->smdp_signature2, TAG_SIGNATURE, &o->smdpSignature2) < 0 ||
		    tlv_embed(&asn_DEF_Certificate, &o->smdpCertificate, &in->smdp_cert,
			      TAG_SEQUENCE) < 0)
			goto out;
		parts[1] = &in->profile_metadata;
		parts[2] = &in->smdp_signed2;
		parts[3] = &in->smdp_signature2;
		parts[4] = &in->smdp_cert;
		break;
	}
	case ES9_GET_BPP: {
		GetBoundProfilePackageResponse_t *a = &r->choice.getBoundProfilePackageResponse;
		GetBoundProfilePackageOk_t *o = &a->choice.getBoundProfilePackageOk;

		r->present = RemoteProfileProvisioningResponse_PR_getBoundProfilePackageResponse;
		if (in->error >= 0) {
			a->present = GetBoundProfilePackageResponse_PR_getBoundProfilePackageError;
			a->choice.getBoundProfilePackageError = in->error;
			break;
		}
		a->present = GetBoundProfilePackageResponse_PR_getBoundProfilePackageOk;
		if (os_set(&o->transactionId, in->txid, in->txid_len) < 0 ||
		    tlv_embed(&asn_DEF_BoundProfilePackage, &o->boundProfilePackage, &in->bpp,
			      TAG_BPP) < 0)
			goto out;
		parts[1] = &in->bpp;
		break;
	}
	case ES9_CANCEL_SESSION: {
		CancelSessionResponseEs9_t *a = &r->choice.cancelSessionResponseEs9;

		r->present = RemoteProfileProvisioningResponse_PR_cancelSessionResponseEs9;
		if (in->error >= 0) {
			a->present = CancelSessionResponseEs9_PR_cancelSessionError;
			a->choice.cancelSessionError = in->error;
		} else {
			a->present = CancelSessionResponseEs9_PR_cancelSessionOk;   /* empty */
		}
		break;
	}
	default:
		goto out;
	}
	if (asn_encode(&asn_DEF_RemoteProfileProvisioningResponse, r, &w) < 0)
		goto out;
	/* what the peer signs or verifies must leave exactly as given */
	if (in->error < 0 && in->fn != ES9_CANCEL_SESSION) {
		if (TLV_PATH(w.p, w.len, &ok, TAG_RPP, tag, 0xA0) < 0)
			goto out;
		for (size_t i = 1; i < 5; i++) {
			if (parts[i] && (tlv_nth(&ok, i, &t) < 0 || !tlv_same(&t, parts[i]->p, parts[i]->len))) {
				log_warn("der: RemoteProfileProvisioningResponse: part %zu changed", i);
				goto out;
			}
		}
	}
	buf_free(out);
	*out = w;
	w.p = NULL;
	rc = 0;
out:
	buf_free(&w);
	if (r)
		ASN_STRUCT_FREE(asn_DEF_RemoteProfileProvisioningResponse, r);
	return rc;
}

/* RemoteProfileProvisioningRequest (client side), assembled around the
 * object as given: the SM-DP+ verifies signatures over those bytes. */
int der_encode_es9_request(const struct es9_asn1_req *in, struct buf *out)
{
	struct buf v = { 0 };
	struct tlv t;
	uint32_t tag;
	int rc = -1;

	if (!in || !out || !(tag = rpp_tag(in->fn)))
		goto out;
	if (in->fn != ES9_INITIATE_AUTH && in->fn != ES9_HANDLE_NOTIF &&
	    (in->txid_len < 1 || in->txid_len > sizeof(in->txid) ||
	     tlv_put(&v, 0x80, in->txid, in->txid_len) < 0))
		goto out;
	switch (in->fn) {
	case ES9_INITIATE_AUTH: {
		size_t alen = strnlen(in->smdp_address, sizeof(in->smdp_address));

		if (alen >= sizeof(in->smdp_address) ||
		    tlv_put(&v, 0x81, in->euicc_challenge, SMDP_CHAL_LEN) < 0 ||
		    (alen && tlv_put(&v, 0x83, in->smdp_address, alen) < 0) ||
		    (in->obj.len && (tlv_one(&in->obj, TAG_EUICC_INFO1_ANY, &t) < 0 ||
				     buf_append(&v, in->obj.p, in->obj.len) < 0)))
			goto out;
		break;
	}
	case ES9_AUTH_CLIENT:
	case ES9_GET_BPP:
		if (tlv_one(&in->obj, in->fn == ES9_AUTH_CLIENT ? TAG_AUTH_SRV_RESP : TAG_PREP_DL_RESP,
			    &t) < 0 || buf_append(&v, in->obj.p, in->obj.len) < 0)
			goto out;
		break;
	case ES9_CANCEL_SESSION:
		if (tlv_one(&in->obj, TAG_CANCEL_RESP, &t) < 0 || tlv_put(&v, 0xA1, t.v, t.vlen) < 0)
			goto out;
		break;
	case ES9_HANDLE_NOTIF:
		if (tlv_one(&in->obj, 0, &t) < 0 || (t.tag != TAG_PIR && t.tag != TAG_SEQUENCE) ||
		    tlv_put(&v, 0xA0, in->obj.p, in->obj.len) < 0)
			goto out;
		break;
	default:
		goto out;
	}
	if (in->ext.len && (in->ext.len > SMDP_MAX_BODY || tlv_strict(in->ext.p, in->ext.len, 0) < 0 ||
			    buf_append(&v, in->ext.p, in->ext.len) < 0))
		goto out;
	if (tlv_wrap(&v, tag) < 0 || tlv_wrap(&v, TAG_RPP) < 0)
		goto out;
	buf_free(out);
	*out = v;
	v.p = NULL;
	rc = 0;
out:
	buf_free(&v);
	return rc;
}

/* Copy child idx of box, which must have the given tag. */
static int child_get(const struct tlv *box, size_t idx, uint32_t tag, struct buf *out)
{
	struct tlv t;

	if (tlv_nth(box, idx, &t) < 0 || t.tag != tag)
		return -1;
	return buf_set(out, t.p, t.len);
}

/* RemoteProfileProvisioningResponse (client side): asn1c checks it, the
 * Ok parts are copied as received. */
enum rsp_status der_decode_es9_response(const uint8_t *der, size_t n, struct es9_asn1_resp *out)
{
	static const struct need need[] = {
		{ { TAG_RPP, TAG_IA_FN, 0xA0 },
		  { 0x80, TAG_SEQUENCE, TAG_SIGNATURE, TAG_OCTET_STRING, TAG_SEQUENCE } },
		{ { TAG_RPP, TAG_AC_FN, 0xA0 },
		  { 0x80, TAG_STORE_META, TAG_SEQUENCE, TAG_SIGNATURE, TAG_SEQUENCE } },
		{ { TAG_RPP, TAG_GBPP_FN, 0xA0 }, { 0x80, TAG_BPP } },
	};
	RemoteProfileProvisioningResponse_t *r = NULL;
	enum rsp_status st = RSP_ERR_INVALID_REQUEST;
	struct tlv outer, alt, ok;

	if (!out)
		return RSP_ERR_INTERNAL;
	memset(out, 0, sizeof(*out));
	out->fn = ES9_FN_COUNT;
	out->error = -1;
	if (asn_decode(&asn_DEF_RemoteProfileProvisioningResponse, (void **)&r, der, n, TAG_RPP) < 0) {
		st = fail_status(der, n, need, sizeof(need) / sizeof(need[0]));
		goto out;
	}
	if (tlv_read(der, n, &outer) < 0 || tlv_nth(&outer, 0, &alt) < 0)
		goto out;
	switch (r->present) {
	case RemoteProfileProvisioningResponse_PR_initiateAuthenticationResponse: {
		const InitiateAuthenticationResponse_t *a = &r->choice.initiateAuthenticationResponse;

		out->fn = ES9_INITIATE_AUTH;
		if (a->present == InitiateAuthenticationResponse_PR_initiateAuthenticationError) {
			out->error = a->choice.initiateAuthenticationError;
			break;
		}
		if (a->present != InitiateAuthenticationResponse_PR_initiateAuthenticationOk ||
		    os_get(&a->choice.initiateAuthenticationOk.transactionId, out->txid, 1,
			   sizeof(out->txid), &out->txid_len) < 0 ||
		    tlv_find(&alt, 0xA0, &ok) < 0 ||
		    child_get(&ok, 1, TAG_SEQUENCE, &out->server_signed1) < 0 ||
		    child_get(&ok, 2, TAG_SIGNATURE, &out->server_signature1) < 0 ||
		    child_get(&ok, 3, TAG_OCTET_STRING, &out->ci_pkid) < 0 ||
		    child_get(&ok, 4, TAG_SEQUENCE, &out->server_cert) < 0)
			goto out;
		break;
	}
	case RemoteProfileProvisioningResponse_PR_authenticateClientResponseEs9: {
		const AuthenticateClientResponseEs9_t *a = &r->choice.authenticateClientResponseEs9;

		out->fn = ES9_AUTH_CLIENT;
		if (a->present == AuthenticateClientResponseEs9_PR_authenticateClientError) {
			out->error = a->choice.authenticateClientError;
			break;
		}
		if (a->present != AuthenticateClientResponseEs9_PR_authenticateClientOk ||
		    os_get(&a->choice.authenticateClientOk.transactionId, out->txid, 1,
			   sizeof(out->txid), &out->txid_len) < 0 ||
		    tlv_find(&alt, 0xA0, &ok) < 0 ||
		    child_get(&ok, 1, TAG_STORE_META, &out->profile_metadata) < 0 ||
		    child_get(&ok, 2, TAG_SEQUENCE, &out->smdp_signed2) < 0 ||
		    child_get(&ok, 3, TAG_SIGNATURE, &out->smdp_signature2) < 0 ||
		    child_get(&ok, 4, TAG_SEQUENCE, &out->smdp_cert) < 0)
			goto out;
		break;
	}
	case RemoteProfileProvisioningResponse_PR_getBoundProfilePackageResponse: {
		const GetBoundProfilePackageResponse_t *a = &r->choice.getBoundProfilePackageResponse;

		out->fn = ES9_GET_BPP;
		if (a->present == GetBoundProfilePackageResponse_PR_getBoundProfilePackageError) {
			out->error = a->choice.getBoundProfilePackageError;
			break;
		}
		if (a->present != GetBoundProfilePackageResponse_PR_getBoundProfilePackageOk ||
		    os_get(&a->choice.getBoundProfilePackageOk.transactionId, out->txid, 1,
			   sizeof(out->txid), &out->txid_len) < 0 ||
		    tlv_find(&alt, 0xA0, &ok) < 0 || child_get(&ok, 1, TAG_BPP, &out->bpp) < 0)
			goto out;
		break;
	}
	case RemoteProfileProvisioningResponse_PR_cancelSessionResponseEs9: {
		const CancelSessionResponseEs9_t *a = &r->choice.cancelSessionResponseEs9;

		out->fn = ES9_CANCEL_SESSION;
		if (a->present == CancelSessionResponseEs9_PR_cancelSessionError)
			out->error = a->choice.cancelSessionError;
		else if (a->present != CancelSessionResponseEs9_PR_cancelSessionOk)
			goto out;
		break;
	}
	default:
		goto out;   /* ES11 (SM-DS) or an unknown extension alternative */
	}
	st = RSP_OK;
out:
	if (r)
		ASN_STRUCT_FREE(asn_DEF_RemoteProfileProvisioningResponse, r);
	if (st != RSP_OK) {
		enum es9_fn fn = out->fn;

		es9_asn1_resp_free(out);
		out->fn = fn;
		out->error = -1;
	}
	return st;
}
