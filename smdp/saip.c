/* saip.c - unprotected profile packages (TCA eUICC Profile Package, SAIP)
 * and the in-memory profile inventory loaded from the profiles directory.
 * Packages are loaded and described once at start-up, never per request. */
#include "smdp.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define PE_HEADER      0xA0  /* ProfileElement.header [0] ProfileHeader */
#define PH_PROFILETYPE 0x82  /* ProfileHeader.profileType [2] UTF8String */
#define PH_ICCID       0x83  /* ProfileHeader.iccid [3] OCTET STRING (SIZE(10)) */

int saip_header(const uint8_t *upp, size_t n, uint8_t iccid[10], char *profile_type,
		size_t ptsz)
{
	uint32_t tag;
	size_t hl, vl, off;
	const uint8_t *v;
	int have_iccid = 0;

	if (ptsz)
		profile_type[0] = '\0';
	if (der_tlv(upp, n, &tag, &hl, &vl) || tag != PE_HEADER)
		return -1;
	v = upp + hl;
	for (off = 0; off < vl;) {
		uint32_t t;
		size_t h, l;
		if (der_tlv(v + off, vl - off, &t, &h, &l))
			return -1;
		if (t == PH_ICCID) {
			if (l != 10)
				return -1;
			memcpy(iccid, v + off + h, 10);
			have_iccid = 1;
		} else if (t == PH_PROFILETYPE && ptsz) {
			snprintf(profile_type, ptsz, "%.*s", (int)(l < ptsz ? l : ptsz - 1),
				 (const char *)v + off + h);
		}
		off += h + l;
	}
	return have_iccid ? 0 : -1;
}

void saip_iccid_text(const uint8_t iccid[10], char out[21])
{
	size_t o = 0;

	/* EF.ICCID holds the digits nibble-swapped, padded with F (TS 102 221). */
	for (int i = 0; i < 10; i++) {
		uint8_t lo = iccid[i] & 15, hi = iccid[i] >> 4;
		if (lo < 10)
			out[o++] = (char)('0' + lo);
		if (hi < 10)
			out[o++] = (char)('0' + hi);
	}
	out[o] = '\0';
}

static int load_one(struct profile *p, const char *dir, const char *file, char *err,
		    size_t errsz)
{
	size_t len = strlen(file);
	char ptype[101];
	uint8_t hdr_iccid[10];

	memset(p, 0, sizeof(*p));
	if (len - 4 > SMDP_MAX_ID) {
		snprintf(err, errsz, "%s: file name too long for a matchingId", file);
		return -1;
	}
	snprintf(p->id, sizeof(p->id), "%.*s", (int)(len - 4), file);
	snprintf(p->path, sizeof(p->path), "%s/%s", dir, file);
	if (file_read(p->path, SMDP_MAX_PROFILE, &p->upp)) {
		snprintf(err, errsz, "%s: cannot read (or larger than %d bytes)", p->path,
			 SMDP_MAX_PROFILE);
		return -1;
	}
	if (saip_header(p->upp.p, p->upp.len, hdr_iccid, ptype, sizeof(ptype))) {
		snprintf(err, errsz, "%s: no ProfileHeader with an ICCID at the start", p->path);
		return -1;
	}
	/* The header holds the ICCID digits in order (89 00 01 ...); metadata
	 * carries it as coded in EF.ICCID, nibble-swapped (SGP.22 Iccid type). */
	for (int i = 0; i < 10; i++)
		p->meta.iccid[i] = (uint8_t)(hdr_iccid[i] << 4 | hdr_iccid[i] >> 4);
	/* Metadata defaults from the package itself (SGP.22 5.5.3 fields). */
	snprintf(p->meta.spn, sizeof(p->meta.spn), "smdp test operator");
	snprintf(p->meta.name, sizeof(p->meta.name), "%s", p->id);
	p->meta.profile_class = -1;
	p->meta.icon_type = -1;
	return 0;
}

static int cmp_profiles(const void *a, const void *b)
{
	return strcmp(((const struct profile *)a)->id, ((const struct profile *)b)->id);
}

int saip_load_dir(struct profile_set *ps, const char *dir, char *err, size_t errsz)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = -1;

	memset(ps, 0, sizeof(*ps));
	if (!d) {
		snprintf(err, errsz, "cannot open profile directory %s", dir);
		return -1;
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		struct profile *t;
		if (len < 5 || strcmp(e->d_name + len - 4, ".der") || e->d_name[0] == '.')
			continue;
		t = realloc(ps->v, (ps->n + 1) * sizeof(*ps->v));
		if (!t)
			goto out;
		ps->v = t;
		if (load_one(&ps->v[ps->n], dir, e->d_name, err, errsz)) {
			buf_free(&ps->v[ps->n].upp);
			goto out;
		}
		ps->n++;
	}
	qsort(ps->v, ps->n, sizeof(*ps->v), cmp_profiles);
	rc = 0;
out:
	closedir(d);
	if (rc)
		saip_free(ps);
	return rc;
}

const struct profile *saip_find(const struct profile_set *ps, const char *id)
{
	for (size_t i = 0; i < ps->n; i++)
		if (!strcmp(ps->v[i].id, id))
			return &ps->v[i];
	return NULL;
}

void saip_free(struct profile_set *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->n; i++) {
		buf_free(&ps->v[i].upp);
		buf_free(&ps->v[i].meta.icon);
	}
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}
