/* scp03t.c - BSP (ex-SCP03t) session key derivation and segment protection, SGP.22 2.6.6: bytes in, bytes out. */
#include "smdp.h"

#include <stdlib.h>
#include <string.h>

#define SCP_MAC_LEN   8      /* C-MAC bytes carried in a segment (SGP.22 2.6.6.4) */
#define SCP_BLOCK     16
#define SCP_KEY_TYPE  0x88   /* controlRefTemplate keyType: AES */
#define SCP_KEY_LEN   0x10   /* controlRefTemplate keyLen: 16 bytes */
#define SCP_HOSTID_MAX 16    /* hostId OCTET STRING (SIZE(1..16)), SGP.22 5.5.1 */
/* Largest value we accept when unwrapping: any length the three-byte form
 * 82 xx xx can state. Wrapping is held to SMDP_SEG_MAX; see scp03t_unwrap. */
#define SCP_UNWRAP_MAX 0xFFFF

/* Length of the BER length field for a value of n bytes (n <= 0xFFFF). */
static size_t ber_len_size(size_t n)
{
	return n < 0x80 ? 1 : n <= 0xFF ? 2 : 3;
}

static void ber_len_put(uint8_t *p, size_t n)
{
	if (n < 0x80) {
		p[0] = (uint8_t)n;
	} else if (n <= 0xFF) {
		p[0] = 0x81;
		p[1] = (uint8_t)n;
	} else {
		p[0] = 0x82;
		p[1] = (uint8_t)(n >> 8);
		p[2] = (uint8_t)n;
	}
}

/* ICV = AES-ECB(S-ENC, counter as a 16-byte big-endian block), 2.6.6.3. */
static int make_icv(const struct scp03t *s, uint8_t icv[SCP_BLOCK])
{
	uint8_t block[SCP_BLOCK] = { 0 };

	block[12] = (uint8_t)(s->counter >> 24);
	block[13] = (uint8_t)(s->counter >> 16);
	block[14] = (uint8_t)(s->counter >> 8);
	block[15] = (uint8_t)s->counter;
	return crypto_aes_ecb_block(s->enc, block, icv);
}

int scp03t_derive(const uint8_t z[32], const uint8_t *host_id, size_t host_id_len,
		  const uint8_t eid[16], struct scp03t *out)
{
	/* shared info: 88 10 len(hostId) hostId 10 EID, at most 3+16+1+16 bytes */
	uint8_t info[3 + SCP_HOSTID_MAX + 1 + 16];
	uint8_t keys[48];
	size_t n = 0;
	int rc = -1;

	if (!z || !host_id || !eid || !out || host_id_len == 0 ||
	    host_id_len > SCP_HOSTID_MAX)
		goto out;
	info[n++] = SCP_KEY_TYPE;
	info[n++] = SCP_KEY_LEN;
	info[n++] = (uint8_t)host_id_len;
	memcpy(info + n, host_id, host_id_len);
	n += host_id_len;
	info[n++] = 16;
	memcpy(info + n, eid, 16);
	n += 16;
	if (crypto_x963_kdf(z, 32, info, n, keys, sizeof(keys)))
		goto out;
	/* SGP.22 2.6.6.2: initial MCV, then S-ENC, then S-MAC */
	scp03t_init(out, keys + 16, keys + 32, keys);
	rc = 0;
out:
	crypto_cleanse(keys, sizeof(keys));
	return rc;
}

void scp03t_init(struct scp03t *s, const uint8_t enc[16], const uint8_t mac[16],
		 const uint8_t mcv[16])
{
	memcpy(s->enc, enc, 16);
	memcpy(s->mac, mac, 16);
	memcpy(s->mcv, mcv, 16);
	s->counter = 1;
}

size_t scp03t_max_plain(int encrypt)
{
	/* tag 1 + length 3 (82 xx xx) + MAC 8 around the data */
	size_t data = SMDP_SEG_MAX - 1 - 3 - SCP_MAC_LEN;

	/* encrypted: whole blocks, and the padding takes at least one byte */
	return encrypt ? data / SCP_BLOCK * SCP_BLOCK - 1 : data;
}

/* Layout of the work buffer shared by wrap and unwrap: the MCV goes right in
 * front of the segment so the C-MAC input MCV||tag||len||data is contiguous. */
int scp03t_wrap(struct scp03t *s, uint8_t tag, int encrypt, const uint8_t *in,
		size_t n, struct buf *out)
{
	uint8_t *work = NULL, *seg, icv[SCP_BLOCK], cmac[16];
	size_t dlen, hlen, total = 0;
	int rc = -1;

	if (!s || !out || (n && !in) || s->counter == 0 || s->counter == UINT32_MAX)
		goto out;
	if (n > scp03t_max_plain(encrypt))
		goto out;
	dlen = encrypt ? (n / SCP_BLOCK + 1) * SCP_BLOCK : n;
	hlen = 1 + ber_len_size(dlen + SCP_MAC_LEN);
	total = hlen + dlen + SCP_MAC_LEN;
	if (total > SMDP_SEG_MAX)
		goto out;
	work = malloc(16 + total);
	if (!work)
		goto out;
	memcpy(work, s->mcv, 16);
	seg = work + 16;
	seg[0] = tag;
	ber_len_put(seg + 1, dlen + SCP_MAC_LEN);
	if (n)
		memcpy(seg + hlen, in, n);
	if (encrypt) {
		/* ISO/IEC 9797-1 method 2: 80 then zeros to a block boundary */
		seg[hlen + n] = 0x80;
		memset(seg + hlen + n + 1, 0, dlen - n - 1);
		if (make_icv(s, icv) ||
		    crypto_aes_cbc_encrypt(s->enc, icv, seg + hlen, dlen, seg + hlen))
			goto out;
	}
	if (crypto_cmac(s->mac, work, 16 + hlen + dlen, cmac))
		goto out;
	memcpy(seg + hlen + dlen, cmac, SCP_MAC_LEN);
	if (buf_append(out, seg, total))
		goto out;
	/* commit only once the segment is out: MCV = full C-MAC, and the
	 * counter moves on for every segment, MAC-only ones included (the
	 * SGP.22 known-answer vectors need this) */
	memcpy(s->mcv, cmac, 16);
	s->counter++;
	rc = 0;
out:
	if (work) {
		crypto_cleanse(work, 16 + total);
		free(work);
	}
	crypto_cleanse(icv, sizeof(icv));
	return rc;
}

/* Not held to SMDP_SEG_MAX: the eUICC side must also read segments from
 * SM-DP+s that cut 1008 plaintext bytes per segment (1036-byte TLVs, seen
 * in the published pySim vectors). A caller wanting the strict limit
 * compares n with SMDP_SEG_MAX itself. */
int scp03t_unwrap(struct scp03t *s, uint8_t tag, int encrypt, const uint8_t *tlv,
		  size_t n, struct buf *out)
{
	uint8_t *work = NULL, icv[SCP_BLOCK], cmac[16];
	size_t hlen, vlen, dlen, plen;
	int rc = -1;

	if (!s || !out || !tlv || s->counter == 0 || s->counter == UINT32_MAX)
		goto out;
	if (n < 2 || n > 4 + SCP_UNWRAP_MAX || tlv[0] != tag)
		goto out;
	/* definite length, minimal (DER) form only */
	if (tlv[1] < 0x80) {
		hlen = 2;
		vlen = tlv[1];
	} else if (tlv[1] == 0x81 && n >= 3 && tlv[2] >= 0x80) {
		hlen = 3;
		vlen = tlv[2];
	} else if (tlv[1] == 0x82 && n >= 4 && tlv[2] != 0) {
		hlen = 4;
		vlen = (size_t)tlv[2] << 8 | tlv[3];
	} else {
		goto out;
	}
	if (vlen != n - hlen || vlen < SCP_MAC_LEN)
		goto out;
	dlen = vlen - SCP_MAC_LEN;
	if (encrypt && (dlen == 0 || dlen % SCP_BLOCK))
		goto out;
	work = malloc(16 + n);
	if (!work)
		goto out;
	memcpy(work, s->mcv, 16);
	memcpy(work + 16, tlv, hlen + dlen);
	if (crypto_cmac(s->mac, work, 16 + hlen + dlen, cmac))
		goto out;
	if (mem_neq(cmac, tlv + hlen + dlen, SCP_MAC_LEN)) {
		log_debug("scp03t: C-MAC mismatch on tag %02X segment", tag);
		goto out;
	}
	plen = dlen;
	if (encrypt) {
		uint8_t *d = work + 16 + hlen;
		if (make_icv(s, icv) || crypto_aes_cbc_decrypt(s->enc, icv, d, dlen, d))
			goto out;
		/* the MAC was good, so a padding check here leaks nothing:
		 * up to 15 zeros, then 0x80, all within the last block */
		while (plen > dlen - SCP_BLOCK && d[plen - 1] == 0x00)
			plen--;
		if (plen == dlen - SCP_BLOCK || d[plen - 1] != 0x80)
			goto out;
		plen--;
	}
	if (buf_append(out, work + 16 + hlen, plen))
		goto out;
	memcpy(s->mcv, cmac, 16);
	s->counter++;
	rc = 0;
out:
	if (work) {
		crypto_cleanse(work, 16 + n);
		free(work);
	}
	crypto_cleanse(icv, sizeof(icv));
	return rc;
}

void scp03t_wipe(struct scp03t *s)
{
	if (s)
		crypto_cleanse(s, sizeof(*s));
}
