/* util.c - heap buffers, hex, base64 and file helpers shared by every module. */
#include "smdp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_free(struct buf *b)
{
	if (!b)
		return;
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

void buf_wipe(struct buf *b)
{
	if (!b)
		return;
	if (b->p) {
		volatile uint8_t *v = b->p;
		for (size_t i = 0; i < b->len; i++)
			v[i] = 0;
	}
	buf_free(b);
}

int buf_set(struct buf *b, const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	if (!q)
		return -1;
	if (n)
		memcpy(q, p, n);
	free(b->p);
	b->p = q;
	b->len = n;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	uint8_t *q;

	if (n == 0)
		return 0;
	q = realloc(b->p, b->len + n);
	if (!q)
		return -1;
	memcpy(q + b->len, p, n);
	b->p = q;
	b->len += n;
	return 0;
}

int hex_encode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
	static const char digits[] = "0123456789ABCDEF";

	if (outsz < 2 * n + 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
	return (int)(2 * n);
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *in, uint8_t *out, size_t outsz)
{
	size_t len = strlen(in);

	if (len % 2 || len / 2 > outsz)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_val(in[2 * i]), lo = hex_val(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(len / 2);
}

void str_copy(char *dst, size_t cap, const char *src)
{
	size_t n;

	if (!cap)
		return;
	n = src ? strnlen(src, cap - 1) : 0;
	if (n)
		memmove(dst, src, n);
	dst[n] = '\0';
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Write the base64 of in[0..n) at o; returns the end. Whole 3-byte groups
 * first, without the per-byte tests the tail needs. */
static char *b64_put(char *o, const uint8_t *in, size_t n)
{
	size_t i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		o[0] = b64_alphabet[v >> 18];
		o[1] = b64_alphabet[v >> 12 & 63];
		o[2] = b64_alphabet[v >> 6 & 63];
		o[3] = b64_alphabet[v & 63];
		o += 4;
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		o[0] = b64_alphabet[v >> 18];
		o[1] = b64_alphabet[v >> 12 & 63];
		o[2] = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
		o[3] = '=';
		o += 4;
	}
	return o;
}

char *b64_encode(const uint8_t *in, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (!out)
		return NULL;
	*b64_put(out, in, n) = '\0';
	return out;
}

char *b64_encode_quoted(const uint8_t *in, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 3), *o;

	if (!out)
		return NULL;
	out[0] = '"';
	o = b64_put(out + 1, in, n);
	o[0] = '"';
	o[1] = '\0';
	return out;
}

/* Each alphabet character's value plus one; 0 for every other byte. */
static const uint8_t b64_rev[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
	['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15,
	['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29,
	['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43,
	['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
	['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

static int b64_val(char c)
{
	return (int)b64_rev[(unsigned char)c] - 1;
}

int b64_decode(const char *in, size_t slen, struct buf *out)
{
	const unsigned char *u = (const unsigned char *)in;
	struct buf tmp = { 0 };
	size_t pad = 0, olen, full, i, o = 0;
	int rc = -1;

	if (slen % 4)
		goto out;
	if (slen >= 1 && in[slen - 1] == '=')
		pad++;
	if (slen >= 2 && in[slen - 2] == '=')
		pad++;
	olen = slen / 4 * 3 - pad;
	tmp.p = malloc(olen ? olen : 1);
	if (!tmp.p)
		goto out;
	tmp.len = olen;
	/* every quad but a padded last one: four look-ups, one test (a value
	 * of 0 in b64_rev is "not in the alphabet") */
	full = pad ? slen - 4 : slen;
	for (i = 0; i < full; i += 4) {
		unsigned a = b64_rev[u[i]], b = b64_rev[u[i + 1]], c = b64_rev[u[i + 2]],
			 e = b64_rev[u[i + 3]];
		uint32_t w;

		if (!a || !b || !c || !e)
			goto out;
		w = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (e - 1);
		tmp.p[o++] = (uint8_t)(w >> 16);
		tmp.p[o++] = (uint8_t)(w >> 8);
		tmp.p[o++] = (uint8_t)w;
	}
	if (pad) {
		/* "xx==" or "xxx=": the pad characters only at the end, and the
		 * bits they leave over zero (canonical encoding) */
		int v[4] = { b64_val(in[i]), b64_val(in[i + 1]),
			     pad == 2 ? 0 : b64_val(in[i + 2]), 0 };
		uint32_t w;

		if (v[0] < 0 || v[1] < 0 || v[2] < 0)
			goto out;
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6;
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			goto out;
		tmp.p[o++] = (uint8_t)(w >> 16);
		if (pad == 1)
			tmp.p[o++] = (uint8_t)(w >> 8);
	}
	buf_free(out);
	*out = tmp;
	tmp.p = NULL;
	rc = 0;
out:
	buf_free(&tmp);
	return rc;
}

int file_read(const char *path, size_t max, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	struct buf tmp = { 0 };
	uint8_t chunk[8192];
	size_t n;
	int rc = -1, saved;

	if (!f)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (tmp.len + n > max) {
			errno = EFBIG;
			goto out;
		}
		if (buf_append(&tmp, chunk, n))
			goto out;
	}
	if (ferror(f))
		goto out;
	if (!tmp.p && buf_set(&tmp, "", 0))
		goto out;
	buf_free(out);
	*out = tmp;
	tmp.p = NULL;
	rc = 0;
out:
	saved = errno;
	fclose(f);
	buf_free(&tmp);
	errno = saved;
	return rc;
}

int mem_neq(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d != 0;
}

int json_depth(const uint8_t *p, size_t n)
{
	int depth = 0, max = 0, in_str = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];
		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = 0;
		} else if (ch == '"') {
			in_str = 1;
		} else if (ch == '{' || ch == '[') {
			if (++depth > max)
				max = depth;
		} else if (ch == '}' || ch == ']') {
			depth--;
		}
	}
	return max;
}
