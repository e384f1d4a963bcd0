/*
 * fuzz_text.c - libFuzzer targets for the text decoders of util.c, chosen at
 * build time: -DFUZZ_TEXT=b64 (b64_decode, every base64 field of the ES9+
 * JSON binding, SGP.22 6.5.2) or -DFUZZ_TEXT=hex (hex_decode: transactionId
 * and the host-id option). Both must be exact inverses of their encoders:
 * whatever decodes re-encodes to the same text (canonical padding and
 * trailing bits for base64, upper case for hex), and output buffers are
 * heap blocks of exactly the size given so an overflow is reported.
 */
#include "fuzz_common.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_TEXT
#error "build with -DFUZZ_TEXT=b64 or -DFUZZ_TEXT=hex (see smdp/fuzz/fuzz.mk)"
#endif
#define b64 1
#define hex 2

#define REQUIRE(c) do { if (!(c)) { \
	fprintf(stderr, "fuzz_text: contract broken: %s (line %d)\n", #c, __LINE__); \
	abort(); } } while (0)

/* libFuzzer start-up: nothing to prepare. Always 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

#if FUZZ_TEXT == b64
/* One input: base64 text of size chars (no terminator: b64_decode takes a
 * length), then the same bytes as binary through b64_encode. Always 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = { 0 }, back = { 0 };
	char *enc;

	if (size > SMDP_MAX_B64)
		return 0;
	if (b64_decode((const char *)data, size, &out) == 0) {
		REQUIRE(out.len == size / 4 * 3 - (size && data[size - 1] == '=') -
					   (size > 1 && data[size - 2] == '='));
		enc = b64_encode(out.p, out.len);
		REQUIRE(enc && strlen(enc) == size && !memcmp(enc, data, size));
		free(enc);
	}
	buf_free(&out);
	/* encoder -> decoder on arbitrary bytes */
	enc = b64_encode(data, size);
	REQUIRE(enc);
	REQUIRE(b64_decode(enc, strlen(enc), &back) == 0);
	REQUIRE(back.len == size && (size == 0 || !memcmp(back.p, data, size)));
	free(enc);
	buf_free(&back);
	return 0;
}
#elif FUZZ_TEXT == hex
/* One input: first byte = output size (0..63), the rest = the hex text
 * (NUL-terminated copy: hex_decode takes a C string). Always 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outsz, len;
	char *in, *again;
	uint8_t *out;
	int n;

	if (size < 1 || size > 4096)
		return 0;
	outsz = data[0] & 63;
	len = size - 1;
	in = malloc(len + 1);
	out = malloc(outsz ? outsz : 1);
	again = malloc(2 * outsz + 1);
	if (!in || !out || !again)
		goto out;
	memcpy(in, data + 1, len);
	in[len] = '\0';
	n = hex_decode(in, out, outsz);
	if (n >= 0) {
		REQUIRE((size_t)n * 2 == strlen(in) && (size_t)n <= outsz);
		REQUIRE(hex_encode(out, (size_t)n, again, 2 * outsz + 1) == 2 * n);
		for (int i = 0; i < 2 * n; i++)
			REQUIRE(again[i] == toupper((unsigned char)in[i]));
	} else {
		REQUIRE(n == -1);
	}
out:
	free(in);
	free(out);
	free(again);
	return 0;
}
#else
#error "FUZZ_TEXT must be b64 or hex"
#endif
