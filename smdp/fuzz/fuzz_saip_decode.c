/*
 * fuzz_saip_decode.c - libFuzzer target for profile package import:
 * saip_decode (saip.c), the parse-and-check every package goes through when
 * the server loads profiles/ and when smdp-admin personalizes a template.
 * Contract checked beyond the sanitizers: the result is 0 or -1; a refusal
 * leaves a NUL-terminated message naming an element or the package; an
 * accepted package encodes back (nothing personalized) to exactly its input.
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#define REQUIRE(c) do { if (!(c)) { \
	fprintf(stderr, "fuzz_saip_decode: contract broken: %s (line %d)\n", #c, __LINE__); \
	abort(); } } while (0)

/* libFuzzer start-up: nothing to prepare. Always 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* One input: the package bytes. Always 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct saip_pkg pkg;
	struct buf out = { 0 };
	char err[256];
	int rc;

	if (size > SMDP_MAX_PROFILE)
		return 0;
	memset(&pkg, 0, sizeof(pkg));
	memset(err, 'x', sizeof(err));
	rc = saip_decode(data, size, &pkg, err, sizeof(err));
	REQUIRE(rc == 0 || rc == -1);
	if (rc == -1) {
		REQUIRE(memchr(err, '\0', sizeof(err)) != NULL);
		REQUIRE(!strncmp(err, "element ", 8) || !strncmp(err, "package", 7));
		REQUIRE(pkg.n == 0 && pkg.pe == NULL);
	} else {
		REQUIRE(saip_encode(&pkg, 0, &out) == 0);
		REQUIRE(out.len == size && !memcmp(out.p, data, size));
	}
	buf_free(&out);
	saip_pkg_free(&pkg);
	return 0;
}
