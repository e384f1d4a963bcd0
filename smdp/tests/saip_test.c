/* saip_test.c - tests for saip.c and personalize.c: the TS.48 packages
 * (decode, re-encode byte for byte, describe), personalization checked byte
 * by byte against hand-derived codings (TS 102 221 EF.ICCID, TS 31.102
 * EF.IMSI, Luhn digits computed elsewhere), the broken-package corpus with
 * its golden messages (test-vectors/saip-broken), metadata against
 * hand-built StoreMetadataRequest DER, and `personalize` end to end on the
 * file system, OPc checked with the OpenSSL command line. */
#include "smdp.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int n_pass, n_fail;
static const char *root = ".";

static void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (cond)
		n_pass++;
	else
		n_fail++;
}

/* Hex (spaces allowed) -> bytes; aborts on a typo in the test. */
static struct buf H(const char *hex)
{
	char s[4096];
	size_t j = 0;
	struct buf b = { 0 };
	int n;

	for (size_t i = 0; hex[i] && j < sizeof(s) - 1; i++)
		if (hex[i] != ' ')
			s[j++] = hex[i];
	s[j] = '\0';
	b.p = malloc(j / 2 + 1);
	if (!b.p || (n = hex_decode(s, b.p, j / 2 + 1)) < 0) {
		fprintf(stderr, "bad hex in test: %s\n", hex);
		abort();
	}
	b.len = (size_t)n;
	return b;
}

static int eq(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static int rd(const char *rel, struct buf *out)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return file_read(path, SMDP_MAX_PROFILE, out);
}

static int wr(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int rc = -1;

	if (!f)
		return -1;
	if (fwrite(p, 1, n, f) == n)
		rc = 0;
	if (fclose(f))
		rc = -1;
	return rc;
}

static int wr_text(const char *path, const char *s)
{
	return wr(path, s, strlen(s));
}

/* Offsets of every occurrence of pat in b. */
static size_t find_all(const struct buf *b, const struct buf *pat, size_t *at, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; pat->len && i + pat->len <= b->len; i++) {
		if (!memcmp(b->p + i, pat->p, pat->len)) {
			if (n < max)
				at[n] = i;
			n++;
		}
	}
	return n;
}

static void cat(char *dst, size_t dstsz, const char *a, const char *b)
{
	snprintf(dst, dstsz, "%s/%s", a, b);
}

static char *mktmp(void)
{
	static char dirs[8][64];
	static int k;
	char *d = dirs[k++ % 8];

	snprintf(d, 64, "/tmp/saip_test.XXXXXX");
	if (!mkdtemp(d))
		abort();
	return d;
}

static void rmtree(const char *d)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", d);
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	closedir(d);
	return n;
}

/* ------------------------------------------------------------------ */

static void test_luhn(void)
{
	char out[21];

	/* The textbook Luhn example, and the TS.48 ICCID 89000123456789012341. */
	check(saip_luhn("7992739871") == 3, "Luhn digit of 7992739871 is 3");
	check(saip_luhn("8900012345678901234") == 1, "Luhn digit of the TS.48 ICCID is 1");
	check(saip_iccid_complete("8949449999000000001", out) == 0 &&
		      !strcmp(out, "89494499990000000017"),
	      "ICCID 8949449999000000001 completes to ...0017 (%s)", out);
	check(saip_iccid_complete("894944999900000000", out) == 0 &&
		      !strcmp(out, "8949449999000000002"),
	      "18-digit ICCID completes to 19 digits (%s)", out);
	check(saip_iccid_complete("89494499990000000", out) < 0 &&
		      saip_iccid_complete("89494499990000000x1", out) < 0 && saip_luhn("") < 0,
	      "17 digits, non-digits and empty are refused");
}

/* Every TS.48 package: decodes, every element canonical, re-encodes to the
 * same bytes (original and asn1c re-encoding), and says what TS.48 says. */
static void test_ts48(void)
{
	char dir[1024];
	DIR *d;
	struct dirent *e;
	int files = 0;

	snprintf(dir, sizeof(dir), "%s/profiles", root);
	d = opendir(dir);
	check(d != NULL, "open %s", dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name), canon = 0;
		struct buf in = { 0 }, re = { 0 }, same = { 0 };
		struct saip_pkg p;
		struct saip_info info;
		char rel[512], err[512] = "";
		/* TS.48 v2 SAIP2.1 NoBERTLV carries another ICCID than the rest. */
		const char *iccid = !strcmp(e->d_name, "TS48v2_SAIP2.1_NoBERTLV.der") ?
			"89000123456789012358" : "89000123456789012341";

		if (len < 5 || strcmp(e->d_name + len - 4, ".der"))
			continue;
		files++;
		snprintf(rel, sizeof(rel), "profiles/%s", e->d_name);
		if (rd(rel, &in) < 0 || saip_decode(in.p, in.len, &p, err, sizeof(err)) < 0) {
			check(0, "%s decodes and passes the checks: %s", e->d_name, err);
			buf_free(&in);
			continue;
		}
		for (size_t i = 0; i < p.n; i++)
			canon += p.pe[i].canonical;
		check(canon == p.n && p.pe[0].type == SAIP_PE_HEADER && p.pe[p.n - 1].type == SAIP_PE_END,
		      "%s: %zu elements, header..end, all canonical DER", e->d_name, p.n);
		check(saip_encode(&p, 1, &re) == 0 && eq(&re, &in),
		      "%s: asn1c re-encoding of every element equals the file (%zu bytes)",
		      e->d_name, in.len);
		check(saip_encode(&p, 0, &same) == 0 && eq(&same, &in), "%s: unchanged output equals "
		      "the file", e->d_name);
		check(saip_info(&p, &info) == 0 && !strcmp(info.iccid, iccid) &&
			      !strcmp(info.imsi, "001010123456063") && !strcmp(info.spn, "GSMA_TEST") &&
			      info.algorithm == 3 && info.key_len == 16 && info.opc_len == 16 &&
			      info.n_aka == 2,
		      "%s: ICCID %s, IMSI %s, SPN '%s', algorithm %ld, %zu AKA elements", e->d_name,
		      info.iccid, info.imsi, info.spn, info.algorithm, info.n_aka);
		saip_pkg_free(&p);
		buf_free(&in);
		buf_free(&re);
		buf_free(&same);
	}
	closedir(d);
	check(files == 18, "all 18 TS.48 packages seen (%d)", files);
}

/* Personalize every TS.48 template and compare byte by byte: the changed
 * bytes are exactly the personalized fields, located in the original by
 * their DER (tag, length, old value), and hold the new values coded by
 * hand from the specs. */
static void test_personalize_ts48(void)
{
	static const char *const names[] = {
		"TS48v1_A", "TS48v1_B", "TS48v2_SAIP2.1_BERTLV", "TS48v2_SAIP2.1_NoBERTLV",
		"TS48v2_SAIP2.3_BERTLV", "TS48v2_SAIP2.3_NoBERTLV", "TS48v3_SAIP2.1_BERTLV",
		"TS48v3_SAIP2.1_NoBERTLV", "TS48v3_SAIP2.3_BERTLV", "TS48v3_SAIP2.3_NoBERTLV",
		"TS48v4_SAIP2.1A_NoBERTLV", "TS48v4_SAIP2.1B_NoBERTLV", "TS48v4_SAIP2.3_BERTLV",
		"TS48v4_SAIP2.3_NoBERTLV", "TS48v5_SAIP2.1A_NoBERTLV", "TS48v5_SAIP2.1B_NoBERTLV",
		"TS48v5_SAIP2.3_BERTLV_SUCI", "TS48v5_SAIP2.3_NoBERTLV",
	};
	/* ICCID 8949449999000000001 + Luhn 7; header in order, EF.ICCID
	 * nibble-swapped (TS 102 221 13.2). IMSI 001019990000001: 8 bytes,
	 * parity nibble 9 for 15 digits (TS 31.102 4.2.2). */
	struct buf hdr_new = H("89 49 44 99 99 00 00 00 00 17");
	struct buf ef_new = H("98 94 44 99 99 00 00 00 00 71");
	struct buf imsi_new = H("08 09 10 10 99 09 00 00 10");
	struct buf ki = H("0F1E2D3C4B5A69788796A5B4C3D2E1F0");
	struct buf opc = H("A0A1A2A3A4A5A6A7A8A9AAABACADAEAF");
	struct buf imsi_old_pat = H("83 09 08 09 10 10 10 32 54 06 36");
	struct buf ki_old_pat = H("82 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F");
	struct buf opc_old_pat = H("83 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");

	for (size_t t = 0; t < sizeof(names) / sizeof(names[0]); t++) {
		struct buf in = { 0 }, out = { 0 }, hdr_pat, ef_pat;
		struct saip_pkg p, q;
		struct saip_perso v;
		struct saip_info info;
		size_t at_hdr[4], at_ef[4], at_imsi[4], at_ki[4], at_opc[4];
		size_t regions[16][2], nr = 0, outside = 0, bad_value = 0;
		char rel[256], err[512] = "";
		int v21 = !strcmp(names[t], "TS48v2_SAIP2.1_NoBERTLV");

		hdr_pat = H(v21 ? "83 0A 89 00 01 23 45 67 89 01 23 58" :
				  "83 0A 89 00 01 23 45 67 89 01 23 41");
		ef_pat = H(v21 ? "83 0A 98 00 10 32 54 76 98 10 32 85" :
				 "83 0A 98 00 10 32 54 76 98 10 32 14");
		snprintf(rel, sizeof(rel), "profiles/%s.der", names[t]);
		memset(&v, 0, sizeof(v));
		snprintf(v.iccid, sizeof(v.iccid), "8949449999000000001");
		snprintf(v.imsi, sizeof(v.imsi), "001019990000001");
		memcpy(v.ki, ki.p, 16);
		v.ki_len = 16;
		memcpy(v.opc, opc.p, 16);
		v.opc_len = 16;
		if (rd(rel, &in) < 0 || saip_decode(in.p, in.len, &p, err, sizeof(err)) < 0) {
			check(0, "%s: read and decode: %s", names[t], err);
			goto next;
		}
		if (saip_personalize(&p, &v, err, sizeof(err)) < 0 || saip_encode(&p, 0, &out) < 0) {
			check(0, "%s: personalize: %s", names[t], err);
			saip_pkg_free(&p);
			goto next;
		}
		saip_pkg_free(&p);
		/* Where the old values were (each exactly where TS.48 has it). */
		if (find_all(&in, &hdr_pat, at_hdr, 4) != 1 || find_all(&in, &ef_pat, at_ef, 4) != 1 ||
		    find_all(&in, &imsi_old_pat, at_imsi, 4) != 1 ||
		    find_all(&in, &ki_old_pat, at_ki, 4) != 2 || find_all(&in, &opc_old_pat, at_opc, 4) != 2) {
			check(0, "%s: old values found once (ICCIDs, IMSI) / twice (key, opc)", names[t]);
			goto next;
		}
		regions[nr][0] = at_hdr[0] + 2, regions[nr++][1] = 10;
		regions[nr][0] = at_ef[0] + 2, regions[nr++][1] = 10;
		regions[nr][0] = at_imsi[0] + 2, regions[nr++][1] = 9;
		for (int k = 0; k < 2; k++) {
			regions[nr][0] = at_ki[k] + 2, regions[nr++][1] = 16;
			regions[nr][0] = at_opc[k] + 2, regions[nr++][1] = 16;
		}
		check(out.len == in.len, "%s: same length (%zu)", names[t], out.len);
		if (out.len != in.len)
			goto next;
		for (size_t i = 0; i < in.len; i++) {
			int inside = 0;

			for (size_t r = 0; r < nr; r++)
				inside |= i >= regions[r][0] && i < regions[r][0] + regions[r][1];
			if (!inside && in.p[i] != out.p[i])
				outside++;
		}
		bad_value += memcmp(out.p + regions[0][0], hdr_new.p, 10) != 0;
		bad_value += memcmp(out.p + regions[1][0], ef_new.p, 10) != 0;
		bad_value += memcmp(out.p + regions[2][0], imsi_new.p, 9) != 0;
		for (size_t r = 3; r < nr; r++)
			bad_value += memcmp(out.p + regions[r][0], (r - 3) % 2 ? opc.p : ki.p, 16) != 0;
		check(outside == 0, "%s: no byte changed outside ICCID x2, IMSI, Ki x2, OPc x2 (%zu)",
		      names[t], outside);
		check(bad_value == 0, "%s: header ICCID, EF.ICCID, EF.IMSI, Ki, OPc hold the new "
		      "values", names[t]);
		check(saip_decode(out.p, out.len, &q, err, sizeof(err)) == 0 && saip_info(&q, &info) == 0 &&
			      !strcmp(info.iccid, "89494499990000000017") &&
			      !strcmp(info.imsi, "001019990000001"),
		      "%s: the instance decodes and checks (ICCID %s) %s", names[t], info.iccid, err);
		saip_pkg_free(&q);
next:
		buf_free(&in);
		buf_free(&out);
		buf_free(&hdr_pat);
		buf_free(&ef_pat);
	}
	buf_free(&hdr_new);
	buf_free(&ef_new);
	buf_free(&imsi_new);
	buf_free(&ki);
	buf_free(&opc);
	buf_free(&imsi_old_pat);
	buf_free(&ki_old_pat);
	buf_free(&opc_old_pat);
}

/* PIN1/PIN2/PUK1/PUK2/ADM1 (TS 102 221 9.5: ASCII digits, FF padding) and
 * an even-length IMSI, on one template. */
static void test_personalize_pins(void)
{
	static const struct {
		const char *old_hex, *new_hex;
		size_t count;
	} pat[] = {
		/* PINConfiguration keyReference 1 (80 01 01), pinValue (81 08) */
		{ "80 01 01 81 08 30 30 30 30 FF FF FF FF", "80 01 01 81 08 31 32 33 34 FF FF FF FF", 1 },
		/* keyReference 129 = secondPINAppl1, in USIM, CSIM, ISIM ... */
		{ "80 02 00 81 81 08 39 39 39 39 FF FF FF FF",
		  "80 02 00 81 81 08 35 36 37 38 39 FF FF FF", 4 },
		/* ADM1 keyReference 10, given as 16 hex digits */
		{ "80 01 0A 81 08 35 35 35 35 35 35 35 35", "80 01 0A 81 08 01 02 03 04 05 06 07 08", 1 },
		/* PUKConfiguration pukAppl1 and secondPUKAppl1 */
		{ "80 01 01 81 08 31 31 31 31 31 31 31 31", "80 01 01 81 08 31 32 33 34 35 36 37 38", 1 },
		{ "80 02 00 81 81 08 32 32 32 32 32 32 32 32",
		  "80 02 00 81 81 08 38 37 36 35 34 33 32 31", 1 },
		/* 14-digit IMSI 00101012345678: parity nibble 1, F filler */
		{ "83 09 08 09 10 10 10 32 54 06 36", "83 09 08 01 10 10 10 32 54 76 F8", 1 },
	};
	struct buf in = { 0 }, out = { 0 };
	struct saip_pkg p;
	struct saip_perso v;
	char err[512] = "";
	size_t changed_in_patterns = 0, changed = 0;

	memset(&v, 0, sizeof(v));
	snprintf(v.pin1, sizeof(v.pin1), "1234");
	snprintf(v.pin2, sizeof(v.pin2), "56789");
	snprintf(v.adm1, sizeof(v.adm1), "0102030405060708");
	snprintf(v.puk1, sizeof(v.puk1), "12345678");
	snprintf(v.puk2, sizeof(v.puk2), "87654321");
	snprintf(v.imsi, sizeof(v.imsi), "00101012345678");
	if (rd("profiles/TS48v4_SAIP2.3_NoBERTLV.der", &in) < 0 ||
	    saip_decode(in.p, in.len, &p, err, sizeof(err)) < 0) {
		check(0, "read TS48v4_SAIP2.3_NoBERTLV: %s", err);
		goto out;
	}
	check(saip_personalize(&p, &v, err, sizeof(err)) == 0 && saip_encode(&p, 0, &out) == 0 &&
		      out.len == in.len,
	      "PINs, PUKs, ADM1 and a 14-digit IMSI personalized: %s", err);
	saip_pkg_free(&p);
	if (out.len != in.len)
		goto out;
	for (size_t i = 0; i < in.len; i++)
		changed += in.p[i] != out.p[i];
	for (size_t k = 0; k < sizeof(pat) / sizeof(pat[0]); k++) {
		struct buf o = H(pat[k].old_hex), n = H(pat[k].new_hex);
		size_t at[8], found = find_all(&in, &o, at, 8), ok = 0;

		for (size_t j = 0; j < found && j < 8; j++) {
			ok += !memcmp(out.p + at[j], n.p, n.len);
			for (size_t i = 0; i < o.len; i++)
				changed_in_patterns += in.p[at[j] + i] != out.p[at[j] + i];
		}
		check(found == pat[k].count && ok == found, "%s -> %s (%zu places)", pat[k].old_hex,
		      pat[k].new_hex, found);
		buf_free(&o);
		buf_free(&n);
	}
	check(changed == changed_in_patterns && changed > 0,
	      "no other byte changed (%zu changed, all inside those fields)", changed);
out:
	buf_free(&in);
	buf_free(&out);
}

static void test_personalize_errors(void)
{
	struct buf in = { 0 }, bad = { 0 }, out = { 0 };
	struct saip_pkg p;
	struct saip_perso v;
	char err[512];
	size_t aka = 0;

	if (rd("profiles/TS48v5_SAIP2.3_NoBERTLV.der", &in) < 0 ||
	    saip_decode(in.p, in.len, &p, err, sizeof(err)) < 0) {
		check(0, "read template");
		return;
	}
	memset(&v, 0, sizeof(v));
	v.ki_len = 32;
	check(saip_personalize(&p, &v, err, sizeof(err)) < 0 && strstr(err, "akaParameter") &&
		      strstr(err, "key/opc are 16/16 bytes, the instance has 32/0"),
	      "a 32-byte Ki for a 16-byte template key is refused: %s", err);
	memset(&v, 0, sizeof(v));
	snprintf(v.puk1, sizeof(v.puk1), "1234");
	check(saip_personalize(&p, &v, err, sizeof(err)) < 0 && !strcmp(err, "a PUK is 8 digits"),
	      "a 4-digit PUK is refused without echoing it: %s", err);
	memset(&v, 0, sizeof(v));
	snprintf(v.iccid, sizeof(v.iccid), "12345");
	check(saip_personalize(&p, &v, err, sizeof(err)) < 0 && strstr(err, "18 or 19 digits"),
	      "a 5-digit ICCID is refused: %s", err);
	check(saip_encode(&p, 0, &out) == 0 && eq(&out, &in),
	      "refused personalizations leave the package unchanged");
	for (size_t i = 0; i < p.n && !aka; i++)
		if (p.pe[i].type == SAIP_PE_AKA)
			aka = p.pe[i].offset;
	saip_pkg_free(&p);
	buf_free(&out);

	/* A BER (non-DER) length on the first AKA element: still a valid
	 * package, but re-encoding it would change bytes we were not asked to
	 * change, so personalizing it is refused. */
	if (aka && in.p[aka] == 0xA4 && in.p[aka + 1] < 0x80 && buf_set(&bad, in.p, aka + 1) == 0 && buf_append(&bad, "\x81", 1) == 0 &&
	    buf_append(&bad, in.p + aka + 1, in.len - aka - 1) == 0 &&
	    saip_decode(bad.p, bad.len, &p, err, sizeof(err)) == 0) {
		size_t k = 0;

		while (k < p.n && p.pe[k].offset != aka)
			k++;
		check(k < p.n && !p.pe[k].canonical, "a long-form length decodes, marked not canonical");
		memset(&v, 0, sizeof(v));
		v.ki_len = v.opc_len = 16;
		check(saip_personalize(&p, &v, err, sizeof(err)) < 0 &&
			      strstr(err, "does not re-encode byte for byte"),
		      "personalizing a non-canonical element is refused: %s", err);
		saip_pkg_free(&p);
	} else {
		check(0, "build the BER variant");
	}
	buf_free(&bad);

	/* An unknown element (a newer SAIP's [48]) passes through untouched. */
	{
		size_t end_off = in.len - 9;    /* the End element: AA 07 ... */
		struct saip_pkg u;

		if (in.p[end_off] == 0xAA && buf_set(&bad, in.p, end_off) == 0 &&
		    buf_append(&bad, "\xBF\x30\x03\x80\x01\x07", 6) == 0 &&
		    buf_append(&bad, in.p + end_off, 9) == 0 &&
		    saip_decode(bad.p, bad.len, &u, err, sizeof(err)) == 0) {
			check(u.pe[u.n - 2].type == SAIP_PE_UNKNOWN && u.pe[u.n - 2].asn == NULL &&
				      u.pe[u.n - 2].len == 6,
			      "an unknown element [48] is kept as an opaque 6-byte TLV");
			memset(&v, 0, sizeof(v));
			snprintf(v.imsi, sizeof(v.imsi), "001019990000001");
			check(saip_personalize(&u, &v, err, sizeof(err)) == 0 &&
				      saip_encode(&u, 0, &out) == 0 && out.len == bad.len &&
				      !memcmp(out.p + end_off, "\xBF\x30\x03\x80\x01\x07", 6),
			      "personalizing keeps the unknown element byte for byte");
			saip_pkg_free(&u);
		} else {
			check(0, "unknown element inserted and decoded: %s", err);
		}
	}
	buf_free(&bad);
	buf_free(&out);
	buf_free(&in);
}

/* test-vectors/saip-broken: each file is refused with its golden message;
 * saip_load_dir refuses a directory holding it and keeps nothing. */
static void test_broken(void)
{
	struct buf list = { 0 }, good = { 0 };
	char *line, *save = NULL;
	int cases = 0;

	if (rd("test-vectors/saip-broken/expected.txt", &list) < 0 ||
	    buf_append(&list, "", 1) < 0 || rd("profiles/TS48v1_A.der", &good) < 0) {
		check(0, "read the corpus list");
		goto out;
	}
	for (line = strtok_r((char *)list.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t'), rel[256], err[512] = "", path[512], want[600];
		struct buf b = { 0 };
		struct saip_pkg p;
		struct profile_set ps;
		char *dir;

		if (line[0] == '#' || !tab)
			continue;
		*tab = '\0';
		cases++;
		snprintf(rel, sizeof(rel), "test-vectors/saip-broken/%s", line);
		if (rd(rel, &b) < 0) {
			check(0, "read %s", rel);
			continue;
		}
		check(saip_decode(b.p, b.len, &p, err, sizeof(err)) < 0 && !strcmp(err, tab + 1),
		      "%s refused: %s", line, err);
		if (strcmp(err, tab + 1))
			printf("#   expected: %s\n", tab + 1);
		/* Nothing stored: the load fails as a whole, naming the file. */
		dir = mktmp();
		cat(path, sizeof(path), dir, "A_good.der");
		wr(path, good.p, good.len);
		cat(path, sizeof(path), dir, line);
		wr(path, b.p, b.len);
		snprintf(want, sizeof(want), "%s: %s", path, tab + 1);
		memset(&ps, 0x55, sizeof(ps));
		check(saip_load_dir(&ps, dir, err, sizeof(err)) < 0 && ps.n == 0 && ps.v == NULL &&
			      !strcmp(err, want),
		      "a profiles directory with %s is refused, nothing loaded", line);
		rmtree(dir);
		buf_free(&b);
	}
	check(cases >= 12, "%d broken packages in the corpus", cases);
out:
	buf_free(&list);
	buf_free(&good);
}

/* DER TLV with a short or 81/82 length (test helper). */
static void tlv(struct buf *out, const char *tag_hex, const struct buf *v)
{
	struct buf t = H(tag_hex);
	uint8_t l[3];
	size_t ln = 0;

	if (v->len < 0x80) {
		l[ln++] = (uint8_t)v->len;
	} else if (v->len < 0x100) {
		l[ln++] = 0x81;
		l[ln++] = (uint8_t)v->len;
	} else {
		l[ln++] = 0x82;
		l[ln++] = (uint8_t)(v->len >> 8);
		l[ln++] = (uint8_t)v->len;
	}
	buf_append(out, t.p, t.len);
	buf_append(out, l, ln);
	buf_append(out, v->p, v->len);
	buf_free(&t);
}

static void tlv_str(struct buf *out, const char *tag_hex, const char *s)
{
	struct buf v = { (uint8_t *)s, strlen(s) };

	tlv(out, tag_hex, &v);
}

static void tlv_hex(struct buf *out, const char *tag_hex, const char *hex)
{
	struct buf v = H(hex);

	tlv(out, tag_hex, &v);
	buf_free(&v);
}

static void test_metadata(void)
{
	static const uint8_t png[20] = { 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0,
					 0x0D, 'I', 'H', 'D', 'R', 0, 0, 0, 1 };
	const char *stem = "TS48v5_SAIP2.3_NoBERTLV";
	struct buf good = { 0 }, enc = { 0 }, want = { 0 }, body = { 0 }, inner = { 0 },
		   seq = { 0 }, pngb = { (uint8_t *)png, sizeof(png) };
	struct profile_set ps;
	struct profile_metadata back;
	char *dir = mktmp(), path[512], err[512] = "";
	const struct profile *pr;

	cat(path, sizeof(path), dir, "TS48v5_SAIP2.3_NoBERTLV.der");
	if (rd("profiles/TS48v5_SAIP2.3_NoBERTLV.der", &good) < 0 ||
	    wr(path, good.p, good.len) < 0) {
		check(0, "metadata set-up");
		goto out;
	}
	/* Defaults from the package: ICCID from the header (EF.ICCID coding),
	 * SPN from EF.SPN (fill pattern 01 'GSMA' 11 'TEST': 0x11 is '_' in
	 * the SMS default alphabet), name from the file stem. */
	check(saip_load_dir(&ps, dir, err, sizeof(err)) == 0 && ps.n == 1, "load: %s", err);
	pr = saip_find(&ps, stem);
	tlv_hex(&body, "5A", "98 00 10 32 54 76 98 10 32 14");
	tlv_str(&body, "91", "GSMA_TEST");
	tlv_str(&body, "92", stem);
	tlv(&want, "BF25", &body);
	check(pr && der_encode_store_metadata(&pr->meta, &enc) == 0 && eq(&enc, &want),
	      "default StoreMetadataRequest: BF25 {5A ICCID, 91 'GSMA_TEST', 92 '%s'}", stem);
	saip_free(&ps);
	buf_free(&body);
	buf_free(&want);

	/* Every field of a description file. */
	cat(path, sizeof(path), dir, "logo.png");
	wr(path, png, sizeof(png));
	cat(path, sizeof(path), dir, "notes.txt");
	wr_text(path, "not an image\n");
	cat(path, sizeof(path), dir, "TS48v5_SAIP2.3_NoBERTLV.json");
	wr_text(path, "{\n"
		"  \"serviceProviderName\": \"Lab Operator\",\n"
		"  \"profileName\": \"Lab profile\",\n"
		"  \"profileClass\": \"test\",\n"
		"  \"icon\": \"logo.png\", \"iconType\": \"png\",\n"
		"  \"profilePolicyRules\": [\"ppr2\"],\n"
		"  \"notificationConfigurationInfo\": [\n"
		"    {\"operations\": [\"install\", \"delete\"], \"address\": \"smdp.example.com\"}],\n"
		"  \"fallbackAllowed\": true\n"
		"}\n");
	check(saip_load_dir(&ps, dir, err, sizeof(err)) == 0 && ps.n == 1,
	      "load with a description file: %s", err);
	pr = saip_find(&ps, stem);
	tlv_hex(&body, "5A", "98 00 10 32 54 76 98 10 32 14");
	tlv_str(&body, "91", "Lab Operator");
	tlv_str(&body, "92", "Lab profile");
	tlv_hex(&body, "93", "01");                 /* iconType png(1) */
	tlv(&body, "94", &pngb);
	tlv_hex(&body, "95", "00");                 /* profileClass test(0) */
	/* NotificationEvent install(0) + delete(3): 1001 0000, 4 unused bits;
	 * the SEQUENCE's components are [0] and [1] (AUTOMATIC TAGS). */
	tlv_hex(&inner, "80", "04 90");
	tlv_str(&inner, "81", "smdp.example.com");
	tlv(&seq, "30", &inner);
	tlv(&body, "B6", &seq);
	tlv_hex(&body, "99", "05 20");              /* PprIds ppr2(2): 001, 5 unused */
	tlv_hex(&body, "9F67", "FF");               /* SGP.32 fallbackAllowed TRUE */
	tlv(&want, "BF25", &body);
	check(pr && der_encode_store_metadata(&pr->meta, &enc) == 0 && eq(&enc, &want),
	      "described StoreMetadataRequest matches the hand-built DER (%zu bytes)", want.len);
	check(der_decode_store_metadata(enc.p, enc.len, &back) == RSP_OK && back.n_notif == 1 &&
		      back.notif[0].ops == 0x90 &&
		      !strcmp(back.notif[0].address, "smdp.example.com") && back.has_ppr &&
		      back.ppr == 0x20 && back.icon.len == sizeof(png),
	      "and decodes back (notification ops %02X to %s)", back.notif[0].ops,
	      back.notif[0].address);
	buf_free(&back.icon);
	saip_free(&ps);

	/* Mistakes in the description file stop the load, naming the key. */
	{
		static const struct {
			const char *json, *msg;
		} bad[] = {
			{ "{\"iccid\": \"8900\"}", "unknown key \"iccid\"" },
			{ "{\"profileClass\": \"gold\"}", "profileClass: test, provisioning or operational" },
			{ "{\"serviceProviderName\": \"123456789012345678901234567890123\"}",
			  "serviceProviderName: a string of at most 32 bytes" },
			{ "{\"icon\": \"notes.txt\"}", "icon notes.txt is neither PNG nor JPEG" },
			{ "{\"icon\": \"TS48v5_SAIP2.3_NoBERTLV.der\"}",
			  "icon TS48v5_SAIP2.3_NoBERTLV.der: cannot read (or larger than 1024 bytes)" },
			{ "{\"icon\": \"logo.png\", \"iconType\": \"jpg\"}", "icon logo.png is not a jpg file" },
			{ "{\"profilePolicyRules\": [\"ppr3\"]}",
			  "profilePolicyRules: a list of pprUpdateControl, ppr1, ppr2" },
			{ "{\"notificationConfigurationInfo\": [{\"operations\": [\"install\"]}]}",
			  "notificationConfigurationInfo: each entry needs operations and address" },
			{ "[1, 2]", "not a JSON object" },
		};

		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			char want_err[768];

			wr_text(path, bad[k].json);
			snprintf(want_err, sizeof(want_err),
				 "%s/TS48v5_SAIP2.3_NoBERTLV.der: TS48v5_SAIP2.3_NoBERTLV.json: %s", dir,
				 bad[k].msg);
			check(saip_load_dir(&ps, dir, err, sizeof(err)) < 0 && ps.n == 0 &&
				      !strcmp(err, want_err),
			      "description %s refused: %s", bad[k].json, err);
		}
	}
out:
	rmtree(dir);
	buf_free(&good);
	buf_free(&enc);
	buf_free(&want);
	buf_free(&body);
	buf_free(&inner);
	buf_free(&seq);
}

/* ------------------------------------------------------------------ */
/* personalize (the command) */

static int run_perso(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run personalize_main with a space-separated command line. */
static int run_perso(const char *fmt, ...)
{
	char line[4096], *argv[64], *save = NULL;
	int argc = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	argv[argc++] = "personalize";
	for (char *t = strtok_r(line, " ", &save); t && argc < 63; t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc] = NULL;
	return personalize_main(argc, argv);
}

/* The CSV export: n data lines into rows[i][col] (modified in place). */
static int csv_rows(char *text, char *rows[8][12], int *ncols)
{
	char *save = NULL, *line;
	int n = -1;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
		char *s2 = NULL;
		int c = 0;

		if (n < 0 || n >= 8)
			continue;
		for (char *f = strtok_r(line, ",", &s2); f && c < 12; f = strtok_r(NULL, ",", &s2))
			rows[n][c++] = f;
		*ncols = c;
	}
	return n;
}

/* OPc = AES-128(K, OP) xor OP with the OpenSSL command line. */
static int openssl_opc(const char *k_hex, const char *op_hex, char out_hex[33])
{
	char cmd[512], got[64] = "";
	uint8_t op[16], e[16];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "printf '%s' | xxd -r -p | openssl enc -aes-128-ecb -nopad "
		 "-K %s | xxd -p -c 64", op_hex, k_hex);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (!fgets(got, sizeof(got), f)) {
		pclose(f);
		return -1;
	}
	pclose(f);
	got[strcspn(got, "\n")] = '\0';
	if (hex_decode(got, e, 16) != 16 || hex_decode(op_hex, op, 16) != 16)
		return -1;
	for (int i = 0; i < 16; i++)
		e[i] ^= op[i];
	return hex_encode(e, 16, out_hex, 33) == 32 ? 0 : -1;
}

static void test_personalize_cmd(void)
{
	char *work = mktmp(), tmpl[512], out[512], out2[512], csv[512], csv2[512], path[700],
	     err[512] = "";
	struct buf b = { 0 }, c = { 0 }, t = { 0 };
	char *rows[8][12];
	int ncols = 0, n;
	struct stat st;
	struct profile_set ps;
	/* ICCIDs 8949449999000000001..3 + Luhn (7, 5, 3), computed elsewhere. */
	static const char *const iccids[] = { "89494499990000000017", "89494499990000000025",
					       "89494499990000000033" };

	cat(tmpl, sizeof(tmpl), work, "Lab.der");
	cat(out, sizeof(out), work, "out");
	cat(out2, sizeof(out2), work, "out2");
	cat(csv, sizeof(csv), work, "keys.csv");
	cat(csv2, sizeof(csv2), work, "keys2.csv");
	mkdir(out, 0700);
	mkdir(out2, 0700);
	if (rd("profiles/TS48v5_SAIP2.3_NoBERTLV.der", &t) < 0 || wr(tmpl, t.p, t.len) < 0) {
		check(0, "personalize set-up");
		goto out;
	}
	cat(path, sizeof(path), work, "Lab.json");
	wr_text(path, "{\"profileName\": \"Lab instance\"}");

	check(run_perso("--template %s --count 3 --iccid 8949449999000000001 --imsi 001019990000001 "
			"--out %s --export %s --pin1 1234 --puk1 random --adm1 random --seed unit",
			tmpl, out, csv) == 0, "personalize 3 instances");
	check(file_read(csv, 4096, &c) == 0 && buf_append(&c, "", 1) == 0 && stat(csv, &st) == 0 &&
		      (st.st_mode & 077) == 0,
	      "export written with mode 0600 (%o)", (unsigned)(st.st_mode & 0777));
	n = csv_rows((char *)c.p, rows, &ncols);
	check(n == 3 && ncols == 8, "export: 3 lines of iccid,imsi,ki,opc,algorithm,pin1,puk1,adm1");
	for (int i = 0; i < 3 && n == 3; i++) {
		char imsi[16];
		struct buf ki_pat = { 0 }, opc_pat = { 0 }, kb = H(rows[i][2]), ob = H(rows[i][3]);
		size_t at[4];

		snprintf(imsi, sizeof(imsi), "00101999000000%d", i + 1);
		tlv(&ki_pat, "82", &kb);
		tlv(&opc_pat, "83", &ob);
		snprintf(path, sizeof(path), "%s/Lab-%s.der", out, iccids[i]);
		buf_free(&b);
		check(!strcmp(rows[i][0], iccids[i]) && !strcmp(rows[i][1], imsi) &&
			      strlen(rows[i][2]) == 32 && strlen(rows[i][3]) == 32 &&
			      !strcmp(rows[i][4], "usim-test-algorithm") && !strcmp(rows[i][5], "1234") &&
			      strlen(rows[i][6]) == 8 && strlen(rows[i][7]) == 8,
		      "row %d: ICCID %s, IMSI %s, 16-byte Ki/OPc, PIN1 1234, 8-digit PUK1/ADM1", i,
		      rows[i][0], rows[i][1]);
		check(file_read(path, SMDP_MAX_PROFILE, &b) == 0 && find_all(&b, &ki_pat, at, 4) == 2 &&
			      find_all(&b, &opc_pat, at, 4) == 2,
		      "%s holds the exported Ki and OPc in both AKA elements", path + strlen(work));
		buf_free(&ki_pat);
		buf_free(&opc_pat);
		buf_free(&kb);
		buf_free(&ob);
	}
	check(n == 3 && strcmp(rows[0][2], rows[1][2]) && strcmp(rows[0][3], rows[1][3]),
	      "instances have different keys");
	/* Instances are served: the directory loads, metadata from the copied
	 * description and the instance's own ICCID. */
	check(saip_load_dir(&ps, out, err, sizeof(err)) == 0 && ps.n == 3 &&
		      !strcmp(ps.v[1].id, "Lab-89494499990000000025") &&
		      !strcmp(ps.v[1].meta.name, "Lab instance") &&
		      !memcmp(ps.v[1].meta.iccid, "\x98\x94\x44\x99\x99\x00\x00\x00\x00\x52", 10),
	      "the output directory loads as 3 profiles with the instance ICCIDs: %s", err);
	saip_free(&ps);

	/* --seed reproduces the keys; without it they are random. */
	check(run_perso("--template %s --count 3 --iccid 8949449999000000001 --imsi 001019990000001 "
			"--out %s --export %s --pin1 1234 --puk1 random --adm1 random --seed unit",
			tmpl, out2, csv2) == 0 && file_read(csv2, 4096, &b) == 0 &&
		      buf_append(&b, "", 1) == 0,
	      "same batch again with the same seed");
	{
		struct buf c1 = { 0 };

		file_read(csv, 4096, &c1);
		check(b.len == c1.len + 1 && !memcmp(b.p, c1.p, c1.len), "same seed, same export");
		buf_free(&c1);
	}
	buf_free(&b);

	/* All or nothing: an instance file in the way stops the batch before
	 * anything is written. */
	rmtree(out2);
	mkdir(out2, 0700);
	unlink(csv2);
	snprintf(path, sizeof(path), "%s/Lab-%s.der", out2, iccids[1]);
	wr_text(path, "x");
	check(run_perso("--template %s --count 3 --iccid 8949449999000000001 --imsi 001019990000001 "
			"--out %s --export %s", tmpl, out2, csv2) == 1 &&
		      count_files(out2) == 1 && stat(csv2, &st) < 0,
	      "an existing instance file: refused, nothing written (%d files)", count_files(out2));
	unlink(path);
	/* A broken template: refused, nothing written. */
	{
		struct buf bt = { 0 };
		char bad[512];

		cat(bad, sizeof(bad), work, "Broken.der");
		rd("test-vectors/saip-broken/iccid-mismatch.der", &bt);
		wr(bad, bt.p, bt.len);
		buf_free(&bt);
		check(run_perso("--template %s --iccid 8949449999000000001 --imsi 001019990000001 "
				"--out %s --export %s", bad, out2, csv2) == 1 &&
			      count_files(out2) == 0 && stat(csv2, &st) < 0,
		      "a broken template: refused, nothing written");
	}
	check(run_perso("--template %s --iccid 8949449999000000001 --imsi 001019990000001 --out %s "
			"--export %s --op 00112233445566778899AABBCCDDEEFF", tmpl, out2, csv2) == 1 &&
		      count_files(out2) == 0,
	      "--op on a usim-test-algorithm template is refused");
	check(run_perso("--template %s --iccid 8949449999000000001 --out %s", tmpl, out2) == 2,
	      "missing options: usage error");
	check(run_perso("--template %s --iccid 9999999999999999999 --count 2 --imsi 001019990000001 "
			"--out %s --export %s", tmpl, out2, csv2) == 1 && count_files(out2) == 0,
	      "an ICCID range past 19 digits is refused, nothing written");

	/* Milenage: OPc from --op, checked with OpenSSL (TS 35.206 4.1). The
	 * template is TS.48 with algorithmID usim-test-algorithm(3) -> milenage(1). */
	{
		struct buf mt = { 0 }, from = H("80 01 03 81 01"), to = H("80 01 01 81 01");
		size_t at[4], k = find_all(&t, &from, at, 4);
		char mil[512], opc[33] = "";
		const char *op = "CDC202D5123E20F62B6D676AC72CB318";   /* TS 35.207 set 1 */

		buf_set(&mt, t.p, t.len);
		for (size_t i = 0; i < k && i < 4; i++)
			memcpy(mt.p + at[i], to.p, to.len);
		cat(mil, sizeof(mil), work, "Mil.der");
		wr(mil, mt.p, mt.len);
		rmtree(out2);
		mkdir(out2, 0700);
		unlink(csv2);
		check(k == 2 && run_perso("--template %s --iccid 8949449999000000001 --imsi "
					  "001019990000001 --out %s --export %s --op %s", mil, out2, csv2,
					  op) == 0,
		      "personalize a Milenage template with --op");
		buf_free(&b);
		if (file_read(csv2, 4096, &b) == 0 && buf_append(&b, "", 1) == 0 &&
		    csv_rows((char *)b.p, rows, &ncols) == 1) {
			check(!strcmp(rows[0][4], "milenage") && openssl_opc(rows[0][2], op, opc) == 0 &&
				      !strcmp(opc, rows[0][3]),
			      "exported OPc = AES-128(Ki, OP) xor OP per openssl (%s)", opc);
		} else {
			check(0, "read the Milenage export");
		}
		buf_free(&mt);
		buf_free(&from);
		buf_free(&to);
	}
out:
	rmtree(work);
	buf_free(&b);
	buf_free(&c);
	buf_free(&t);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		root = argv[1];
	log_set_level(LOG_ERROR);
	test_luhn();
	test_ts48();
	test_personalize_ts48();
	test_personalize_pins();
	test_personalize_errors();
	test_broken();
	test_metadata();
	test_personalize_cmd();
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
