/* scp03t_test.c - checks scp03t.c against the published BSP known-answer vectors in test-vectors/bsp.json. */
#include "../smdp.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEX_BYTES 4096   /* largest hex field in bsp.json, decoded */

struct tally {
	int passed;
	int failed;
};

static void check(struct tally *t, int cond, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void check(struct tally *t, int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (cond)
		t->passed++;
	else
		t->failed++;
}

/* Decode the hex string member key of obj into out (replaced). 0 / -1. */
static int jhex(const cJSON *obj, const char *key, struct buf *out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	uint8_t *tmp;
	int n, rc = -1;

	if (!cJSON_IsString(j) || strlen(j->valuestring) > 2 * MAX_HEX_BYTES)
		return -1;
	tmp = malloc(MAX_HEX_BYTES);
	if (!tmp)
		return -1;
	n = hex_decode(j->valuestring, tmp, MAX_HEX_BYTES);
	if (n >= 0 && buf_set(out, tmp, (size_t)n) == 0)
		rc = 0;
	free(tmp);
	return rc;
}

/* Exactly 16 bytes of hex. */
static int jkey(const cJSON *obj, const char *key, uint8_t out[16])
{
	struct buf b = { 0 };
	int rc = -1;

	if (jhex(obj, key, &b) == 0 && b.len == 16) {
		memcpy(out, b.p, 16);
		rc = 0;
	}
	buf_free(&b);
	return rc;
}

static int jb64(const cJSON *obj, const char *key, struct buf *out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsString(j) || strlen(j->valuestring) > SMDP_MAX_B64)
		return -1;
	return b64_decode(j->valuestring, strlen(j->valuestring), out);
}

static int buf_eq(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static int ctx_from_json(const cJSON *obj, struct scp03t *s)
{
	uint8_t enc[16], mac[16], mcv[16];

	if (jkey(obj, "s_enc", enc) || jkey(obj, "s_mac", mac) || jkey(obj, "initial_mcv", mcv))
		return -1;
	scp03t_init(s, enc, mac, mcv);
	return 0;
}

static void test_kdf(struct tally *t, const cJSON *root)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "kdf"), *v;
	int i = 0;

	check(t, cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == 2, "kdf: two vectors present");
	cJSON_ArrayForEach(v, arr) {
		struct buf z = { 0 }, host = { 0 }, eid = { 0 }, kt = { 0 }, kl = { 0 };
		uint8_t enc[16], mac[16], mcv[16];
		struct scp03t s;
		int ok = jhex(v, "shared_secret", &z) == 0 && z.len == 32 &&
			 jhex(v, "host_id", &host) == 0 && jhex(v, "eid", &eid) == 0 &&
			 eid.len == 16 && jhex(v, "key_type", &kt) == 0 && kt.len == 1 &&
			 jhex(v, "key_length", &kl) == 0 && kl.len == 1 &&
			 jkey(v, "s_enc", enc) == 0 && jkey(v, "s_mac", mac) == 0 &&
			 jkey(v, "initial_mcv", mcv) == 0;

		check(t, ok, "kdf[%d]: vector readable", i);
		if (ok) {
			/* scp03t_derive fixes keyType 88 / keyLen 16 (SGP.22 2.6.6.2) */
			check(t, kt.p[0] == 0x88 && kl.p[0] == 0x10,
			      "kdf[%d]: vector uses keyType 88, keyLen 10", i);
			ok = scp03t_derive(z.p, host.p, host.len, eid.p, &s) == 0;
			check(t, ok, "kdf[%d]: scp03t_derive succeeds", i);
			check(t, ok && !memcmp(s.enc, enc, 16), "kdf[%d]: S-ENC matches", i);
			check(t, ok && !memcmp(s.mac, mac, 16), "kdf[%d]: S-MAC matches", i);
			check(t, ok && !memcmp(s.mcv, mcv, 16), "kdf[%d]: initial MCV matches", i);
			check(t, ok && s.counter == 1, "kdf[%d]: counter starts at 1", i);
		}
		buf_free(&z);
		buf_free(&host);
		buf_free(&eid);
		buf_free(&kt);
		buf_free(&kl);
		i++;
	}
}

/* Run a "segments_*" section through one context, compare every output
 * exactly, then unwrap the produced segments with a second context. */
static void test_segments(struct tally *t, const cJSON *root, const char *name)
{
	const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, name);
	const cJSON *segs = cJSON_GetObjectItemCaseSensitive(sec, "segments"), *v;
	struct scp03t w, u;
	struct buf *made = NULL;
	int count = cJSON_GetArraySize(segs), i = 0;

	if (!cJSON_IsArray(segs) || count <= 0 || ctx_from_json(sec, &w) ||
	    ctx_from_json(sec, &u)) {
		check(t, 0, "%s: section readable", name);
		return;
	}
	made = calloc((size_t)count, sizeof(*made));
	if (!made) {
		check(t, 0, "%s: out of memory", name);
		return;
	}
	cJSON_ArrayForEach(v, segs) {
		const cJSON *op = cJSON_GetObjectItemCaseSensitive(v, "op");
		struct buf tag = { 0 }, plain = { 0 }, want = { 0 };
		int enc;

		if (!cJSON_IsString(op) || jhex(v, "tag", &tag) || tag.len != 1 ||
		    jhex(v, "plain", &plain) || jhex(v, "out", &want)) {
			check(t, 0, "%s[%d]: segment readable", name, i);
			goto next;
		}
		enc = !strcmp(op->valuestring, "encrypt_and_mac");
		check(t, enc || !strcmp(op->valuestring, "mac_only"), "%s[%d]: op %s known", name,
		      i, op->valuestring);
		check(t, scp03t_wrap(&w, tag.p[0], enc, plain.p, plain.len, &made[i]) == 0 &&
			      buf_eq(&made[i], &want),
		      "%s[%d]: wrap %s tag %02X (%zu bytes) gives the vector bytes", name, i,
		      op->valuestring, tag.p[0], plain.len);
		{
			struct buf back = { 0 };
			check(t, scp03t_unwrap(&u, tag.p[0], enc, made[i].p, made[i].len, &back) == 0 &&
				      buf_eq(&back, &plain),
			      "%s[%d]: unwrap gives the plaintext back", name, i);
			buf_free(&back);
		}
next:
		buf_free(&tag);
		buf_free(&plain);
		buf_free(&want);
		i++;
	}
	check(t, w.counter == (uint32_t)count + 1 && u.counter == w.counter &&
		      !memcmp(w.mcv, u.mcv, 16),
	      "%s: both sides end with the same MCV and counter %d", name, count + 1);
	for (i = 0; i < count; i++)
		buf_free(&made[i]);
	free(made);
}

/* Unwrap must refuse tampering and must not move the state when it does. */
static void test_negative(struct tally *t)
{
	uint8_t k1[16], k2[16], k3[16], *plain;
	struct scp03t w, u;
	struct buf seg = { 0 }, back = { 0 };
	size_t max_e = scp03t_max_plain(1), max_m = scp03t_max_plain(0);

	memset(k1, 0x11, 16);
	memset(k2, 0x22, 16);
	memset(k3, 0x33, 16);
	plain = calloc(1, 2048);
	if (!plain) {
		check(t, 0, "negative: out of memory");
		return;
	}
	for (size_t i = 0; i < 2048; i++)
		plain[i] = (uint8_t)i;
	check(t, max_e == 1007 && max_m == 1008, "max plaintext: 1007 encrypted, 1008 MAC-only");

	scp03t_init(&w, k1, k2, k3);
	check(t, scp03t_wrap(&w, 0x86, 1, plain, max_e, &seg) == 0 && seg.len == SMDP_SEG_MAX,
	      "wrap 1007 bytes encrypted gives exactly %d bytes", SMDP_SEG_MAX);
	check(t, seg.len >= 4 && seg.p[0] == 0x86 && seg.p[1] == 0x82 && seg.p[2] == 0x03 &&
		      seg.p[3] == 0xF8,
	      "1020-byte segment uses the 82 xx xx length form (03F8)");
	buf_free(&seg);
	check(t, scp03t_wrap(&w, 0x86, 1, plain, max_e + 1, &seg) == -1 && seg.len == 0 &&
		      w.counter == 2,
	      "wrap refuses 1008 bytes encrypted (1036-byte TLV) and keeps the state");
	check(t, scp03t_wrap(&w, 0x88, 0, plain, max_m + 1, &seg) == -1 && seg.len == 0,
	      "wrap refuses 1009 bytes MAC-only");
	check(t, scp03t_wrap(&w, 0x88, 0, plain, max_m, &seg) == 0 && seg.len == SMDP_SEG_MAX,
	      "wrap 1008 bytes MAC-only gives exactly %d bytes", SMDP_SEG_MAX);
	buf_free(&seg);

	/* padding always adds at least one byte: 16 in -> 32 out */
	scp03t_init(&w, k1, k2, k3);
	check(t, scp03t_wrap(&w, 0x87, 1, plain, 16, &seg) == 0 && seg.len == 2 + 32 + 8,
	      "16-byte plaintext gets a full padding block");
	scp03t_init(&u, k1, k2, k3);
	seg.p[seg.len - 1] ^= 1;
	check(t, scp03t_unwrap(&u, 0x87, 1, seg.p, seg.len, &back) == -1 && back.len == 0 &&
		      u.counter == 1 && !memcmp(u.mcv, k3, 16),
	      "unwrap rejects a flipped MAC bit and keeps the state");
	seg.p[seg.len - 1] ^= 1;
	seg.p[5] ^= 0x40;
	check(t, scp03t_unwrap(&u, 0x87, 1, seg.p, seg.len, &back) == -1,
	      "unwrap rejects a flipped ciphertext bit");
	seg.p[5] ^= 0x40;
	check(t, scp03t_unwrap(&u, 0x86, 1, seg.p, seg.len, &back) == -1,
	      "unwrap rejects the wrong tag");
	check(t, scp03t_unwrap(&u, 0x87, 1, seg.p, seg.len - 1, &back) == -1,
	      "unwrap rejects a truncated segment");
	check(t, scp03t_unwrap(&u, 0x87, 1, seg.p, seg.len, &back) == 0 && back.len == 16 &&
		      !memcmp(back.p, plain, 16),
	      "unwrap of the untouched segment still works afterwards");
	buf_free(&back);
	check(t, scp03t_unwrap(&u, 0x87, 1, seg.p, seg.len, &back) == -1,
	      "a replayed segment fails (MAC chain moved on)");
	buf_free(&seg);
	buf_free(&back);

	/* a MAC-valid segment with bad padding: build it by hand with our own
	 * primitives (ciphertext of an all-zero block, correct C-MAC) */
	{
		uint8_t icv[16], ctr[16] = { 0 }, zero[16] = { 0 }, ct[16], mac[16];
		uint8_t macin[16 + 2 + 16], segb[2 + 16 + 8];
		ctr[15] = 1;
		scp03t_init(&u, k1, k2, k3);
		crypto_aes_ecb_block(k1, ctr, icv);
		crypto_aes_cbc_encrypt(k1, icv, zero, 16, ct);
		segb[0] = 0x87;
		segb[1] = 16 + 8;
		memcpy(segb + 2, ct, 16);
		memcpy(macin, k3, 16);
		memcpy(macin + 16, segb, 18);
		crypto_cmac(k2, macin, sizeof(macin), mac);
		memcpy(segb + 18, mac, 8);
		check(t, scp03t_unwrap(&u, 0x87, 1, segb, sizeof(segb), &back) == -1 &&
			      back.len == 0,
		      "unwrap rejects a block without 80 padding even with a good MAC");
	}
	buf_free(&back);

	{
		struct scp03t s;
		uint8_t z[32] = { 0 }, eid[16] = { 0 }, host[17] = { 0 };
		check(t, scp03t_derive(z, host, 0, eid, &s) == -1 &&
			      scp03t_derive(z, host, 17, eid, &s) == -1,
		      "derive refuses a hostId of 0 or 17 bytes");
	}
	free(plain);
}

/* ---- bpp_decode: a small TLV walk (test-local, independent of der.c) ---- */
struct tlv {
	uint32_t tag;
	const uint8_t *p;   /* whole TLV */
	size_t len;         /* whole TLV length */
	const uint8_t *v;
	size_t vlen;
};

/* Read one BER-TLV with a 1..3 byte tag and definite length. 0 / -1. */
static int tlv_read(const uint8_t *p, size_t n, struct tlv *out)
{
	size_t i = 0, vlen = 0;
	uint32_t tag;

	if (n < 2)
		return -1;
	tag = p[i++];
	if ((tag & 0x1F) == 0x1F) {
		do {
			if (i >= n || i > 2)
				return -1;
			tag = tag << 8 | p[i];
		} while (p[i++] & 0x80);
	}
	if (i >= n)
		return -1;
	if (p[i] < 0x80) {
		vlen = p[i++];
	} else {
		size_t nb = p[i++] & 0x7F;
		if (nb == 0 || nb > 3 || i + nb > n)
			return -1;
		while (nb--)
			vlen = vlen << 8 | p[i++];
	}
	if (vlen > n - i)
		return -1;
	out->tag = tag;
	out->p = p;
	out->v = p + i;
	out->vlen = vlen;
	out->len = i + vlen;
	return 0;
}

/* The vector puts each segment TLV inside a second TLV with the same tag
 * (SGP.22 has the segment TLV itself as the SEQUENCE OF element). If el's
 * value is exactly one TLV with el's tag, return that inner TLV. */
static int unnest(const struct tlv *el, struct tlv *seg)
{
	struct tlv in;

	if (tlv_read(el->v, el->vlen, &in) == 0 && in.tag == el->tag && in.len == el->vlen) {
		*seg = in;
		return 1;
	}
	*seg = *el;
	return 0;
}

struct bpp_walk {
	int segments, nested, oversize, failed;
};

/* Unwrap every element of one SEQUENCE OF (A0..A3) in order with s. */
static void walk_seq(const struct tlv *seq, uint8_t seg_tag, int encrypt, struct scp03t *s,
		     struct buf *plain, struct bpp_walk *w)
{
	size_t off = 0;

	while (off < seq->vlen) {
		struct tlv el, seg;
		if (tlv_read(seq->v + off, seq->vlen - off, &el) || el.tag != seg_tag) {
			w->failed++;
			return;
		}
		w->nested += unnest(&el, &seg);
		w->oversize += seg.len > SMDP_SEG_MAX;
		if (scp03t_unwrap(s, seg_tag, encrypt, seg.p, seg.len, plain))
			w->failed++;
		w->segments++;
		off += el.len;
	}
}

static void test_bpp(struct tally *t, const cJSON *root)
{
	const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, "bpp_decode");
	struct buf bpp = { 0 }, upp = { 0 }, want_isdp = { 0 }, want_meta = { 0 };
	struct buf isdp = { 0 }, meta = { 0 }, rsk = { 0 }, got_upp = { 0 };
	struct scp03t sess, ppk;
	struct bpp_walk w = { 0 };
	struct tlv top, el;
	int seen[4] = { 0 }, ok;
	size_t off;

	if (jb64(sec, "bpp_b64", &bpp) || jb64(sec, "upp_b64", &upp) ||
	    jhex(sec, "configure_isdp_plain", &want_isdp) ||
	    jhex(sec, "store_metadata_plain", &want_meta) ||
	    ctx_from_json(cJSON_GetObjectItemCaseSensitive(sec, "session"), &sess) ||
	    ctx_from_json(cJSON_GetObjectItemCaseSensitive(sec, "ppk"), &ppk)) {
		check(t, 0, "bpp_decode: section readable");
		goto out;
	}
	ok = tlv_read(bpp.p, bpp.len, &top) == 0 && top.tag == 0xBF36 && top.len == bpp.len;
	check(t, ok, "bpp_decode: one BF36 BoundProfilePackage, no trailing bytes");
	if (!ok)
		goto out;
	/* Per the vector's note: session keys for A0 (and A1, and A2 if
	 * present), a fresh PPK context (counter 1, PPK initial MCV) for A3 */
	for (off = 0; off < top.vlen; off += el.len) {
		if (tlv_read(top.v + off, top.vlen - off, &el)) {
			w.failed++;
			break;
		}
		switch (el.tag) {
		case 0xBF23: /* InitialiseSecureChannelRequest: not protected */
			break;
		case 0xA0: /* firstSequenceOf87: ConfigureISDPRequest */
			seen[0]++;
			walk_seq(&el, 0x87, 1, &sess, &isdp, &w);
			break;
		case 0xA1: /* sequenceOf88: StoreMetadataRequest, MAC only */
			seen[1]++;
			walk_seq(&el, 0x88, 0, &sess, &meta, &w);
			break;
		case 0xA2: /* secondSequenceOf87: ReplaceSessionKeysRequest */
			seen[2]++;
			walk_seq(&el, 0x87, 1, &sess, &rsk, &w);
			break;
		case 0xA3: /* sequenceOf86: the profile */
			seen[3]++;
			walk_seq(&el, 0x86, 1, &ppk, &got_upp, &w);
			break;
		default:
			w.failed++;
		}
	}
	printf("# bpp_decode: %d segments; A2 %s; %d nested in a second same-tag TLV "
	       "(vector layout, not SGP.22's); %d longer than %d bytes (1008-byte pySim cuts)\n",
	       w.segments, seen[2] ? "present" : "absent", w.nested, w.oversize, SMDP_SEG_MAX);
	check(t, seen[0] == 1 && seen[1] == 1 && seen[3] == 1, "bpp_decode: A0, A1, A3 present once");
	check(t, w.failed == 0, "bpp_decode: every segment MAC verifies and decrypts in order");
	check(t, buf_eq(&isdp, &want_isdp), "bpp_decode: A0 gives configure_isdp_plain (%zu bytes)",
	      isdp.len);
	check(t, buf_eq(&meta, &want_meta), "bpp_decode: A1 gives store_metadata_plain (%zu bytes)",
	      meta.len);
	check(t, buf_eq(&got_upp, &upp), "bpp_decode: A3 gives upp_b64 (%zu bytes)", got_upp.len);
out:
	buf_free(&bpp);
	buf_free(&upp);
	buf_free(&want_isdp);
	buf_free(&want_meta);
	buf_free(&isdp);
	buf_free(&meta);
	buf_free(&rsk);
	buf_free(&got_upp);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "test-vectors/bsp.json";
	struct tally t = { 0, 0 };
	struct buf file = { 0 };
	cJSON *root = NULL;

	if (file_read(path, 1024 * 1024, &file) || buf_append(&file, "", 1)) {
		fprintf(stderr, "cannot read %s\n", path);
		check(&t, 0, "read %s", path);
		goto out;
	}
	root = cJSON_Parse((const char *)file.p);
	check(&t, root != NULL, "parse %s", path);
	if (!root)
		goto out;
	test_kdf(&t, root);
	test_segments(&t, root, "segments_session");
	test_segments(&t, root, "segments_ppk");
	test_negative(&t);
	test_bpp(&t, root);
out:
	cJSON_Delete(root);
	buf_free(&file);
	printf("%d passed, %d failed\n", t.passed, t.failed);
	return t.failed ? 1 : 0;
}
