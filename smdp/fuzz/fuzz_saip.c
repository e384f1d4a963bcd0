/*
 * fuzz_saip.c - libFuzzer target for saip_header (saip.c): the start of a
 * profile package (SAIP ProfileHeader, the first ProfileElement). The first
 * input byte picks the size of the profileType buffer (0, 1, 16 or 101, the
 * size saip_load_dir uses), which is a heap block of exactly that size so
 * that an overflow is reported; the rest is the package.
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#define REQUIRE(c) do { if (!(c)) { \
	fprintf(stderr, "fuzz_saip: contract broken: %s (line %d)\n", #c, __LINE__); \
	abort(); } } while (0)

/* libFuzzer start-up: nothing to prepare. Always 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* One input: size selector byte + package bytes. Always 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[4] = { 0, 1, 16, 101 };
	uint8_t *iccid;
	char *ptype;
	size_t ptsz;
	char digits[21];
	int rc;

	if (size < 1)
		return 0;
	ptsz = sizes[data[0] & 3];
	iccid = malloc(10);
	ptype = malloc(ptsz ? ptsz : 1);
	if (!iccid || !ptype)
		goto out;
	rc = saip_header(data + 1, size - 1, iccid, ptype, ptsz);
	REQUIRE(rc == 0 || rc == -1);
	if (ptsz)
		REQUIRE(memchr(ptype, '\0', ptsz) != NULL);
	if (rc == 0) {
		saip_iccid_text(iccid, digits);
		REQUIRE(strlen(digits) <= 20);
	}
out:
	free(iccid);
	free(ptype);
	return 0;
}
