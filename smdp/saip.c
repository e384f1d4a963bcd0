/* saip.c - unprotected profile packages (TCA eUICC Profile Package, "SAIP"
 * v2.x/v3.x, asn1/pe.asn): decode and check them the way an eUICC would,
 * derive their metadata, personalize templates and re-encode them; and the
 * in-memory profile inventory the server loads from its profiles directory
 * once at start-up (never per request). */
#include "smdp.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "AlgoParameter.h"
#include "Fcp.h"
#include "File.h"
#include "FileElement.h"
#include "FileManagement.h"
#include "FileManagementCmd.h"
#include "PINConfiguration.h"
#include "PUKConfiguration.h"
#include "ProfileElement.h"
#include "ProprietaryInfo.h"

#define PE_STACK_MAX     30000  /* C stack asn1c may use decoding one element */
#define SAIP_WHY         256    /* detail text of one finding */

/* Key references of PE-PINCodes / PE-PUKCodes (SAIP PINKeyReferenceValue,
 * PUKKeyReferenceValue; TS 102 221 9.5.1). */
#define KEYREF_PIN1      1      /* pinAppl1: global PIN of application 1 */
#define KEYREF_ADM1      10     /* adm1 */
#define KEYREF_PIN2      129    /* secondPINAppl1: local PIN of application 1 */
#define KEYREF_PUK1      1      /* pukAppl1 */
#define KEYREF_PUK2      129    /* secondPUKAppl1 */

/* Template file sizes (SAIP Annex A) used when a File carries no efFileSize. */
#define EF_ICCID_SIZE    10     /* TS 102 221 13.2 */
#define EF_IMSI_SIZE     9      /* TS 31.102 4.2.2 */
#define EF_SPN_SIZE      17     /* TS 31.102 4.2.12 */

/* ------------------------------------------------------------------ */
/* Element types and messages */

const char *saip_pe_name(int type)
{
	if (type < 0 || type >= asn_DEF_ProfileElement.elements_count)
		return "unknown";
	return asn_DEF_ProfileElement.elements[type].name;
}

/* "element 3 (pukCodes) at offset 939: " + the formatted detail. Unknown
 * tags are shown by their bytes, since they have no ASN.1 name. */
static void pe_err(char *err, size_t errsz, size_t idx, int type, uint32_t tag, size_t off,
		   const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void pe_err(char *err, size_t errsz, size_t idx, int type, uint32_t tag, size_t off,
		   const char *fmt, ...)
{
	char why[SAIP_WHY], what[32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (type >= 0)
		str_copy(what, sizeof(what), saip_pe_name(type));
	else
		snprintf(what, sizeof(what), "tag %X", (unsigned)tag);
	snprintf(err, errsz, "element %zu (%s) at offset %zu: %s", idx, what, off, why);
}

/* ------------------------------------------------------------------ */
/* TLV structure, before asn1c sees anything: exact offsets for what is
 * wrong with lengths, which the asn1c decoder cannot report. */

enum tlv_err { TLV_OK = 0, TLV_SHORT, TLV_TAG, TLV_INDEF, TLV_LONG };

struct tlvh {
	uint32_t tag;       /* encoded tag bytes (A0, BF21) */
	unsigned cls;       /* 0 universal, 1 application, 2 context, 3 private */
	int constructed;
	unsigned long num;  /* tag number */
	size_t hl;          /* tag + length bytes */
	size_t vl;          /* value length as declared */
};

/* Read the tag and length at p (n bytes available); the value is not
 * required to fit (callers tell truncation from overruns). */
static enum tlv_err tlv_head(const uint8_t *p, size_t n, struct tlvh *h)
{
	size_t i = 0, nb;

	memset(h, 0, sizeof(*h));
	if (n < 1)
		return TLV_SHORT;
	h->cls = p[0] >> 6;
	h->constructed = (p[0] & 0x20) != 0;
	h->tag = p[0];
	h->num = p[0] & 0x1Fu;
	i = 1;
	if (h->num == 0x1F) {
		h->num = 0;
		do {
			if (i >= n)
				return TLV_SHORT;
			if (i > 3)      /* a tag of more than 4 bytes: nothing SAIP uses */
				return TLV_TAG;
			h->num = (h->num << 7) | (p[i] & 0x7Fu);
			h->tag = (h->tag << 8) | p[i];
		} while (p[i++] & 0x80);
	}
	if (i >= n)
		return TLV_SHORT;
	if (p[i] < 0x80) {
		h->vl = p[i++];
	} else {
		nb = p[i++] & 0x7Fu;
		if (nb == 0)
			return TLV_INDEF;
		if (nb > 4)
			return TLV_LONG;
		if (n - i < nb)
			return TLV_SHORT;
		for (h->vl = 0; nb > 0; nb--)
			h->vl = (h->vl << 8) | p[i++];
	}
	h->hl = i;
	return TLV_OK;
}

/* Every TLV nested inside [p, p+n) must fit in its container. base is the
 * start of the package, for offsets. 0 / -1 with why. */
static int tlv_walk(const uint8_t *base, const uint8_t *p, size_t n, int depth, char *why,
		    size_t whysz)
{
	struct tlvh h;
	size_t off = (size_t)(p - base);

	if (depth > SAIP_MAX_DEPTH) {
		snprintf(why, whysz, "nesting deeper than %d at offset %zu", SAIP_MAX_DEPTH, off);
		return -1;
	}
	while (n > 0) {
		off = (size_t)(p - base);
		switch (tlv_head(p, n, &h)) {
		case TLV_OK:
			break;
		case TLV_INDEF:
			snprintf(why, whysz, "indefinite length at offset %zu (DER requires definite)",
				 off);
			return -1;
		case TLV_TAG:
			snprintf(why, whysz, "tag of more than 4 bytes at offset %zu", off);
			return -1;
		case TLV_LONG:
			snprintf(why, whysz, "length of more than 4 bytes at offset %zu", off);
			return -1;
		default:
			snprintf(why, whysz, "TLV at offset %zu cut short by the end of its container",
				 off);
			return -1;
		}
		if (h.vl > n - h.hl) {
			snprintf(why, whysz, "length %zu at offset %zu overruns its container by %zu bytes",
				 h.vl, off, h.vl - (n - h.hl));
			return -1;
		}
		if (h.constructed && tlv_walk(base, p + h.hl, h.vl, depth + 1, why, whysz) < 0)
			return -1;
		p += h.hl + h.vl;
		n -= h.hl + h.vl;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* asn1c glue */

/* The struct of the alternative chosen in a ProfileElement, and its type. */
static void *pe_body(const ProfileElement_t *pe, asn_TYPE_descriptor_t **td)
{
	const asn_TYPE_member_t *m;

	if (!pe || pe->present <= ProfileElement_PR_NOTHING ||
	    (int)pe->present > asn_DEF_ProfileElement.elements_count)
		return NULL;
	m = &asn_DEF_ProfileElement.elements[pe->present - 1];
	*td = m->type;
	return (char *)pe + m->memb_offset;
}

/* DER of a decoded element into out (replaced). 0 / -1. */
static int pe_encode(const ProfileElement_t *pe, struct buf *out)
{
	asn_enc_rval_t er;
	uint8_t *p = NULL;
	size_t size;
	int rc = -1;

	er = der_encode(&asn_DEF_ProfileElement, (void *)pe, NULL, NULL);
	if (er.encoded < 0)
		goto out;
	size = (size_t)er.encoded;
	p = malloc(size ? size : 1);
	if (!p)
		goto out;
	er = der_encode_to_buffer(&asn_DEF_ProfileElement, (void *)pe, p, size);
	if (er.encoded < 0 || (size_t)er.encoded != size)
		goto out;
	buf_wipe(out);
	out->p = p;
	out->len = size;
	p = NULL;
	rc = 0;
out:
	free(p);
	return rc;
}

/* The PEHeader every element but the ProfileHeader starts with: it is the
 * first component of each PE-* SEQUENCE (SAIP 8.2). */
static const PEHeader_t *pe_header(const ProfileElement_t *pe)
{
	asn_TYPE_descriptor_t *td;
	void *body = pe_body(pe, &td);

	if (!body || pe->present == ProfileElement_PR_header || td->elements_count < 1 ||
	    td->elements[0].type != &asn_DEF_PEHeader || (td->elements[0].flags & ATF_POINTER))
		return NULL;
	return (const PEHeader_t *)((const char *)body + td->elements[0].memb_offset);
}

/* Call cb for every File component of a templated element (PE-MF, PE-USIM,
 * ...), with its ASN.1 name ("ef-iccid"). Stops at the first non-zero. */
typedef int (*file_cb)(void *arg, const char *name, File_t *f);

static int each_file(const ProfileElement_t *pe, file_cb cb, void *arg)
{
	asn_TYPE_descriptor_t *td;
	void *body = pe_body(pe, &td);

	if (!body)
		return 0;
	for (int i = 0; i < td->elements_count; i++) {
		const asn_TYPE_member_t *m = &td->elements[i];
		File_t *f;
		int rc;

		if (m->type != &asn_DEF_File)
			continue;
		if (m->flags & ATF_POINTER)
			f = *(File_t **)((char *)body + m->memb_offset);
		else
			f = (File_t *)((char *)body + m->memb_offset);
		if (f && (rc = cb(arg, m->name, f)) != 0)
			return rc;
	}
	return 0;
}

/* Big-endian unsigned value of an OCTET STRING of 1..4 bytes, -1 otherwise. */
static long os_uint(const OCTET_STRING_t *os)
{
	long v = 0;

	if (!os || os->size < 1 || os->size > 4)
		return -1;
	for (int i = 0; i < os->size; i++)
		v = (v << 8) | os->buf[i];
	return v;
}

/* ------------------------------------------------------------------ */
/* Constraints: asn_check_constraints names only the failing ASN.1 type
 * ("OCTET STRING"); cpath finds which component it is by running the same
 * per-component checks while descending the decoded value. */

static int cpath(const asn_TYPE_descriptor_t *td, const void *sptr, char *path, size_t psz,
		 int depth);

static void path_add(char *path, size_t psz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void path_add(char *path, size_t psz, const char *fmt, ...)
{
	size_t used = strlen(path);
	va_list ap;

	va_start(ap, fmt);
	if (used < psz)
		vsnprintf(path + used, psz - used, fmt, ap);
	va_end(ap);
}

/* Check one component; on failure add its name to path and descend. */
static int cmember(const asn_TYPE_member_t *elm, const void *sptr, char *path, size_t psz,
		   int depth)
{
	asn_constr_check_f *check = elm->memb_constraints ? elm->memb_constraints :
		elm->type->check_constraints;
	const void *mp = (const char *)sptr + elm->memb_offset;

	if (elm->flags & ATF_POINTER) {
		mp = *(const void *const *)mp;
		if (!mp)
			return 0;       /* absent: SEQUENCE_constraint judges that */
	}
	if (check(elm->type, mp, NULL, NULL) == 0)
		return 0;
	path_add(path, psz, "%s%s", path[0] ? "." : "", elm->name);
	if (!cpath(elm->type, mp, path, psz, depth + 1)) {
		/* The leaf: say what the value is like. */
		if (elm->type->free_struct == OCTET_STRING_free)
			path_add(path, psz, ": %s of %d bytes", elm->type->name,
				 ((const OCTET_STRING_t *)mp)->size);
		else
			path_add(path, psz, ": %s", elm->type->name);
	}
	return 1;
}

static int cpath(const asn_TYPE_descriptor_t *td, const void *sptr, char *path, size_t psz,
		 int depth)
{
	if (!sptr || depth > SAIP_MAX_DEPTH)
		return 0;
	if (td->check_constraints == CHOICE_constraint) {
		const asn_CHOICE_specifics_t *sp = td->specifics;
		const char *pp = (const char *)sptr + sp->pres_offset;
		int present = sp->pres_size == sizeof(int) ? *(const int *)pp :
			sp->pres_size == sizeof(short) ? *(const short *)pp : *(const char *)pp;

		if (present < 1 || present > td->elements_count)
			return 0;
		return cmember(&td->elements[present - 1], sptr, path, psz, depth);
	}
	if (td->check_constraints == SEQUENCE_constraint) {
		for (int i = 0; i < td->elements_count; i++)
			if (cmember(&td->elements[i], sptr, path, psz, depth))
				return 1;
		return 0;
	}
	if (td->check_constraints == SET_OF_constraint) {   /* also SEQUENCE OF */
		const asn_anonymous_set_ *list = _A_CSET_FROM_VOID(sptr);
		const asn_TYPE_member_t *elm = td->elements;
		asn_constr_check_f *check = elm->memb_constraints ? elm->memb_constraints :
			elm->type->check_constraints;

		for (int i = 0; i < list->count; i++) {
			if (check(elm->type, list->array[i], NULL, NULL) == 0)
				continue;
			path_add(path, psz, "[%d]", i);
			if (!cpath(elm->type, list->array[i], path, psz, depth + 1))
				path_add(path, psz, ": %s", elm->type->name);
			return 1;
		}
	}
	return 0;
}

static int os_put(OCTET_STRING_t *os, const uint8_t *p, size_t n)
{
	if (os->buf && os->size > 0)
		crypto_cleanse(os->buf, (size_t)os->size);
	return OCTET_STRING_fromBuf(os, (const char *)p, (int)n);
}

/* ------------------------------------------------------------------ */
/* Files: SAIP 8.3 "File" = optional Fcp, then fill commands that write at a
 * running position (fillFileOffset skips from the current position). */

struct file_view {
	long size;                      /* efFileSize, -1 unknown */
	const OCTET_STRING_t *first;    /* fillFileContent written at position 0 */
	const OCTET_STRING_t *pattern;  /* proprietaryEFInfo fill/repeatPattern */
	int repeat;                     /* pattern is a repeatPattern */
};

static long template_size(const char *name)
{
	if (!strcmp(name, "ef-iccid"))
		return EF_ICCID_SIZE;
	if (!strcmp(name, "ef-imsi"))
		return EF_IMSI_SIZE;
	return -1;
}

static int file_view(const char *name, const File_t *f, struct file_view *v, char *why,
		     size_t whysz)
{
	size_t pos = 0;

	memset(v, 0, sizeof(*v));
	v->size = template_size(name);
	for (int i = 0; i < f->list.count; i++) {
		const FileElement_t *e = f->list.array[i];

		switch (e->present) {
		case FileElement_PR_fileDescriptor: {
			const Fcp_t *fcp = &e->choice.fileDescriptor;

			if (fcp->efFileSize) {
				v->size = os_uint(fcp->efFileSize);
				if (v->size < 0) {
					snprintf(why, whysz, "%s: efFileSize of %d bytes", name,
						 fcp->efFileSize->size);
					return -1;
				}
			}
			if (fcp->proprietaryEFInfo) {
				v->pattern = fcp->proprietaryEFInfo->fillPattern;
				v->repeat = !v->pattern && fcp->proprietaryEFInfo->repeatPattern;
				if (v->repeat)
					v->pattern = fcp->proprietaryEFInfo->repeatPattern;
			}
			pos = 0;
			break;
		}
		case FileElement_PR_fillFileOffset:
			pos += (size_t)e->choice.fillFileOffset;   /* UInt16, checked */
			break;
		case FileElement_PR_fillFileContent:
			if (pos == 0 && !v->first)
				v->first = &e->choice.fillFileContent;
			pos += (size_t)e->choice.fillFileContent.size;
			break;
		default:
			break;
		}
		if (v->size >= 0 && pos > (size_t)v->size) {
			snprintf(why, whysz, "%s: fill data reaches byte %zu of a %ld-byte file", name,
				 pos, v->size);
			return -1;
		}
	}
	return 0;
}

/* The first bytes of a file's content as the eUICC creates it: the
 * content at position 0, else the pattern (TS 102 222: a fillPattern's last
 * byte fills the rest, a repeatPattern repeats whole), else FF. */
static size_t file_content(const struct file_view *v, uint8_t *out, size_t max)
{
	size_t n = 0;

	memset(out, 0xFF, max);
	if (v->first) {
		n = (size_t)v->first->size < max ? (size_t)v->first->size : max;
		memcpy(out, v->first->buf, n);
	} else if (v->pattern && v->pattern->size > 0) {
		size_t pl = (size_t)v->pattern->size;

		for (n = 0; n < max; n++)
			out[n] = v->pattern->buf[v->repeat ? n % pl : n < pl ? n : pl - 1];
	}
	return n;
}

struct files_arg {
	char *why;
	size_t whysz;
};

static int files_check_cb(void *arg, const char *name, File_t *f)
{
	struct files_arg *a = arg;
	struct file_view v;

	return file_view(name, f, &v, a->why, a->whysz) ? -1 : 0;
}

/* The same position rule for the commands of a PE-GenericFileManagement:
 * createFCP opens a file of efFileSize, filePath selects one of unknown size. */
static int gfm_check(const PE_GenericFileManagement_t *g, char *why, size_t whysz)
{
	for (int i = 0; i < g->fileManagementCMD.list.count; i++) {
		const FileManagement_t *fm = g->fileManagementCMD.list.array[i];
		long size = -1;
		size_t pos = 0;

		for (int k = 0; k < fm->list.count; k++) {
			const FileManagementCmd_t *c = fm->list.array[k];

			switch (c->present) {
			case FileManagementCmd_PR_filePath:
				size = -1;
				pos = 0;
				break;
			case FileManagementCmd_PR_createFCP:
				size = c->choice.createFCP.efFileSize ?
					os_uint(c->choice.createFCP.efFileSize) : -1;
				pos = 0;
				break;
			case FileManagementCmd_PR_fillFileOffset:
				pos += (size_t)c->choice.fillFileOffset;
				break;
			case FileManagementCmd_PR_fillFileContent:
				pos += (size_t)c->choice.fillFileContent.size;
				break;
			default:
				break;
			}
			if (size >= 0 && pos > (size_t)size) {
				snprintf(why, whysz, "fileManagementCMD %d, command %d: fill data reaches "
					 "byte %zu of a %ld-byte file", i, k, pos, size);
				return -1;
			}
		}
	}
	return 0;
}

/* Find a File by name in any element of the package (the first one). */
struct find_arg {
	const char *name;
	File_t *found;
};

static int find_cb(void *arg, const char *name, File_t *f)
{
	struct find_arg *a = arg;

	if (strcmp(name, a->name))
		return 0;
	a->found = f;
	return 1;
}

static File_t *pkg_file(const struct saip_pkg *p, int type, const char *name, size_t *idx)
{
	struct find_arg a = { name, NULL };

	for (size_t i = 0; i < p->n; i++) {
		if (!p->pe[i].asn || (type >= 0 && p->pe[i].type != type))
			continue;
		if (each_file(p->pe[i].asn, find_cb, &a) > 0) {
			if (idx)
				*idx = i;
			return a.found;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* ICCID and IMSI codings */

/* Header iccid (digits in order, F padding) -> text; -1 unless it is 10..20
 * BCD digits followed only by F. */
static int iccid_hdr_text(const uint8_t b[10], char out[21])
{
	size_t o = 0;
	int pad = 0;

	for (int i = 0; i < 20; i++) {
		unsigned d = i % 2 ? b[i / 2] & 15u : b[i / 2] >> 4;

		if (d == 15) {
			pad = 1;
		} else if (d > 9 || pad) {
			out[0] = '\0';
			return -1;
		} else {
			out[o++] = (char)('0' + d);
		}
	}
	out[o] = '\0';
	return o >= 10 ? 0 : -1;
}

static void iccid_swap(const uint8_t in[10], uint8_t out[10])
{
	for (int i = 0; i < 10; i++)
		out[i] = (uint8_t)(in[i] << 4 | in[i] >> 4);
}

int saip_luhn(const char *digits)
{
	size_t n = digits ? strlen(digits) : 0;
	int sum = 0;

	if (n == 0)
		return -1;
	/* From the right: double every second digit, starting with the last. */
	for (size_t i = 0; i < n; i++) {
		int d = digits[n - 1 - i] - '0';

		if (d < 0 || d > 9)
			return -1;
		if (i % 2 == 0) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return (10 - sum % 10) % 10;
}

int saip_iccid_complete(const char *digits, char out[21])
{
	size_t n = digits ? strlen(digits) : 0;
	int c;

	out[0] = '\0';
	if (n < 18 || n > 19 || (c = saip_luhn(digits)) < 0)
		return -1;
	snprintf(out, 21, "%s%c", digits, '0' + c);
	return 0;
}

/* ICCID text (19..20 digits) -> header coding (digits in order, F padded). */
static void iccid_to_hdr(const char *s, uint8_t b[10])
{
	memset(b, 0xFF, 10);
	for (size_t i = 0; s[i] && i < 20; i++) {
		uint8_t d = (uint8_t)(s[i] - '0');

		if (i % 2)
			b[i / 2] = (uint8_t)((b[i / 2] & 0xF0) | d);
		else
			b[i / 2] = (uint8_t)((d << 4) | 0x0F);
	}
}

static int all_digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return 1;
}

/* EF.IMSI (TS 31.102 4.2.2): length of the IMSI bytes, then the digits with
 * the parity/type nibble (odd count: 9, even: 1) in front, F padded. */
static void imsi_to_ef(const char *s, uint8_t ef[EF_IMSI_SIZE])
{
	size_t n = strlen(s);
	uint8_t nib[17];
	size_t k = 0;

	memset(ef, 0xFF, EF_IMSI_SIZE);
	nib[k++] = (uint8_t)(n % 2 ? 9 : 1);
	for (size_t i = 0; i < n; i++)
		nib[k++] = (uint8_t)(s[i] - '0');
	if (k % 2)
		nib[k++] = 15;
	ef[0] = (uint8_t)(k / 2);
	for (size_t i = 0; i < k; i += 2)
		ef[1 + i / 2] = (uint8_t)(nib[i + 1] << 4 | nib[i]);
}

static int imsi_from_ef(const uint8_t *ef, size_t n, char out[16])
{
	size_t o = 0, len;

	out[0] = '\0';
	if (n < 2 || ef[0] < 1 || ef[0] > 8 || (size_t)ef[0] + 1 > n)
		return -1;
	len = ef[0];
	for (size_t i = 0; i < 2 * len; i++) {
		unsigned d = i % 2 ? ef[1 + i / 2] >> 4 : ef[1 + i / 2] & 15u;

		if (i == 0)
			continue;   /* parity and type */
		if (d == 15 && i == 2 * len - 1)
			break;
		if (d > 9 || o >= 15)
			return -1;
		out[o++] = (char)('0' + d);
	}
	out[o] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ */
/* EF.SPN (TS 31.102 4.2.12): display condition, then the name in the SMS
 * default alphabet (TS 23.038, 8-bit unpacked) or UCS2 (0x80 form), FF
 * padded. Converted to UTF-8; a character outside the default alphabet's
 * basic table becomes '?'. */

static const char *const gsm7[128] = {
	"@", "\xC2\xA3", "$", "\xC2\xA5", "\xC3\xA8", "\xC3\xA9", "\xC3\xB9", "\xC3\xAC",
	"\xC3\xB2", "\xC3\x87", "\n", "\xC3\x98", "\xC3\xB8", "\r", "\xC3\x85", "\xC3\xA5",
	"\xCE\x94", "_", "\xCE\xA6", "\xCE\x93", "\xCE\x9B", "\xCE\xA9", "\xCE\xA0", "\xCE\xA8",
	"\xCE\xA3", "\xCE\x98", "\xCE\x9E", "?", "\xC3\x86", "\xC3\xA6", "\xC3\x9F", "\xC3\x89",
	" ", "!", "\"", "#", "\xC2\xA4", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/",
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?",
	"\xC2\xA1", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O",
	"P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "\xC3\x84", "\xC3\x96",
	"\xC3\x91", "\xC3\x9C", "\xC2\xA7",
	"\xC2\xBF", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
	"p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "\xC3\xA4", "\xC3\xB6",
	"\xC3\xB1", "\xC3\xBC", "\xC3\xA0",
};

/* Append UTF-8 s if it fits whole (out holds max bytes + NUL). */
static void utf8_add(char *out, size_t max, size_t *o, const char *s, size_t n)
{
	if (*o + n > max)
		return;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
}

static void spn_decode(const uint8_t *c, size_t n, char *out, size_t max)
{
	size_t o = 0;

	out[0] = '\0';
	if (n < 2)
		return;
	c++;    /* display condition */
	n--;
	if (c[0] == 0x80) {         /* UCS2, big-endian, FFFF ends */
		for (size_t i = 1; i + 1 < n; i += 2) {
			unsigned u = (unsigned)c[i] << 8 | c[i + 1];
			char b[3];

			if (u == 0xFFFF)
				break;
			if (u < 0x80) {
				b[0] = (char)u;
				utf8_add(out, max, &o, b, 1);
			} else if (u < 0x800) {
				b[0] = (char)(0xC0 | u >> 6);
				b[1] = (char)(0x80 | (u & 0x3F));
				utf8_add(out, max, &o, b, 2);
			} else if (u < 0xD800 || u > 0xDFFF) {
				b[0] = (char)(0xE0 | u >> 12);
				b[1] = (char)(0x80 | ((u >> 6) & 0x3F));
				b[2] = (char)(0x80 | (u & 0x3F));
				utf8_add(out, max, &o, b, 3);
			}
		}
		return;
	}
	if (c[0] & 0x80)            /* 0x81/0x82 UCS2 forms: not decoded */
		return;
	for (size_t i = 0; i < n && c[i] != 0xFF; i++) {
		const char *s = c[i] < 128 && c[i] != 0x1B && gsm7[c[i]] ? gsm7[c[i]] : "?";

		utf8_add(out, max, &o, s, strlen(s));
	}
}

/* ------------------------------------------------------------------ */
/* Decode and check */

void saip_pkg_free(struct saip_pkg *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		ProfileElement_t *pe = p->pe[i].asn;

		/* Keys live in the AKA and PIN elements: wipe before freeing. */
		if (pe && pe->present == ProfileElement_PR_akaParameter &&
		    pe->choice.akaParameter.algoConfiguration.present ==
			    PE_AKAParameter__algoConfiguration_PR_algoParameter) {
			AlgoParameter_t *a =
				&pe->choice.akaParameter.algoConfiguration.choice.algoParameter;

			os_put(&a->key, NULL, 0);
			os_put(&a->opc, NULL, 0);
		}
		if (pe)
			ASN_STRUCT_FREE(asn_DEF_ProfileElement, pe);
		buf_wipe(&p->pe[i].enc);
	}
	free(p->pe);
	buf_wipe(&p->der);
	memset(p, 0, sizeof(*p));
}

/* One element at off: TLV head, inner structure, asn1c decode, constraints,
 * canonical re-encoding. Fills e. 0 / -1 with err. */
static int decode_one(struct saip_pkg *p, size_t idx, size_t off, char *err, size_t errsz)
{
	const uint8_t *at = p->der.p + off;
	size_t left = p->der.len - off;
	struct saip_pe *e = &p->pe[idx];
	asn_codec_ctx_t ctx = { .max_stack_size = PE_STACK_MAX };
	ProfileElement_t *pe = NULL;
	asn_dec_rval_t rv;
	struct buf re = { 0 };
	struct tlvh h;
	char why[SAIP_WHY];
	size_t whylen = sizeof(why);
	int type = SAIP_PE_UNKNOWN, rc = -1;

	e->offset = off;
	e->id = -1;
	switch (tlv_head(at, left, &h)) {
	case TLV_OK:
		break;
	case TLV_INDEF:
		pe_err(err, errsz, idx, -1, at[0], off, "indefinite length (DER requires definite)");
		goto out;
	case TLV_LONG:
		pe_err(err, errsz, idx, -1, at[0], off, "length field of more than 4 bytes");
		goto out;
	case TLV_TAG:
		pe_err(err, errsz, idx, -1, at[0], off, "bad tag: more than 4 tag bytes");
		goto out;
	default:
		pe_err(err, errsz, idx, -1, at[0], off,
		       "truncated: the package ends inside the element's tag or length");
		goto out;
	}
	/* ProfileElement alternatives are [n] context-specific and constructed
	 * (AUTOMATIC TAGS); anything else is not an element at all. */
	if (h.cls != 2 || !h.constructed) {
		pe_err(err, errsz, idx, -1, h.tag, off,
		       "bad tag %X: a ProfileElement has a context-specific constructed tag",
		       (unsigned)h.tag);
		goto out;
	}
	if (h.num < (unsigned long)asn_DEF_ProfileElement.elements_count)
		type = (int)h.num;
	e->type = type;
	if (h.vl > SMDP_MAX_PROFILE) {
		pe_err(err, errsz, idx, type, h.tag, off,
		       "oversized length %zu (a package is at most %d bytes)", h.vl, SMDP_MAX_PROFILE);
		goto out;
	}
	if (h.vl > left - h.hl) {
		pe_err(err, errsz, idx, type, h.tag, off,
		       "truncated: declares %zu value bytes, the package has %zu left", h.vl,
		       left - h.hl);
		goto out;
	}
	e->len = h.hl + h.vl;
	if (tlv_walk(p->der.p, at + h.hl, h.vl, 1, why, sizeof(why)) < 0) {
		pe_err(err, errsz, idx, type, h.tag, off, "%s", why);
		goto out;
	}
	if (type == SAIP_PE_UNKNOWN) {
		/* A newer SAIP element: the eUICC knows it or reports it; we pass
		 * it through untouched. */
		rc = 0;
		goto out;
	}
	rv = ber_decode(&ctx, &asn_DEF_ProfileElement, (void **)&pe, at, e->len);
	if (rv.code != RC_OK || rv.consumed != e->len) {
		pe_err(err, errsz, idx, type, h.tag, off, "does not decode as %s (SAIP ASN.1)",
		       asn_DEF_ProfileElement.elements[type].type->name);
		goto out;
	}
	if (asn_check_constraints(&asn_DEF_ProfileElement, pe, why, &whylen) != 0) {
		asn_TYPE_descriptor_t *td;
		void *body = pe_body(pe, &td);
		char path[160] = "";

		if (body && cpath(td, body, path, sizeof(path), 0))
			pe_err(err, errsz, idx, type, h.tag, off, "%s violates its constraint", path);
		else
			pe_err(err, errsz, idx, type, h.tag, off, "a value violates its constraint");
		goto out;
	}
	if (pe->present == ProfileElement_PR_header) {
		e->id = -1;
	} else {
		const PEHeader_t *ph = pe_header(pe);

		e->id = ph ? ph->identification : -1;
	}
	e->canonical = pe_encode(pe, &re) == 0 && re.len == e->len && !memcmp(re.p, at, e->len);
	e->asn = pe;
	pe = NULL;
	rc = 0;
out:
	if (pe)
		ASN_STRUCT_FREE(asn_DEF_ProfileElement, pe);
	buf_wipe(&re);
	return rc;
}

/* Element-level rules once an element is decoded (SAIP 8.1, 8.3). */
static int check_one(const struct saip_pkg *p, size_t idx, char *err, size_t errsz)
{
	const struct saip_pe *e = &p->pe[idx];
	const ProfileElement_t *pe = e->asn;
	uint32_t tag = p->der.p[e->offset];
	char why[SAIP_WHY];
	struct files_arg fa = { why, sizeof(why) };

	if (idx == 0 && e->type != SAIP_PE_HEADER) {
		pe_err(err, errsz, idx, e->type, tag, e->offset,
		       "the first element must be the ProfileHeader");
		return -1;
	}
	if (idx > 0 && e->type == SAIP_PE_HEADER) {
		pe_err(err, errsz, idx, e->type, tag, e->offset, "a second ProfileHeader");
		return -1;
	}
	if (idx > 0 && p->pe[idx - 1].type == SAIP_PE_END) {
		pe_err(err, errsz, idx, e->type, tag, e->offset,
		       "follows the End element, which must be the last");
		return -1;
	}
	if (!pe)
		return 0;
	if (e->type == SAIP_PE_HEADER) {
		const ProfileHeader_t *h = &pe->choice.header;
		char digits[21];

		/* Versions 2.x (TS.48 packages) and 3.x are what pe.asn describes. */
		if (h->major_version < 2 || h->major_version > 3) {
			pe_err(err, errsz, idx, e->type, tag, e->offset,
			       "unsupported SAIP version %ld.%ld", h->major_version, h->minor_version);
			return -1;
		}
		if (iccid_hdr_text(h->iccid.buf, digits) < 0) {
			pe_err(err, errsz, idx, e->type, tag, e->offset,
			       "iccid is not BCD digits with F padding");
			return -1;
		}
		return 0;
	}
	for (size_t k = 0; k < idx; k++) {
		if (e->id >= 0 && p->pe[k].id == e->id) {
			pe_err(err, errsz, idx, e->type, tag, e->offset,
			       "identification %ld already used by element %zu", e->id, k);
			return -1;
		}
	}
	if (each_file(pe, files_check_cb, &fa) != 0) {
		pe_err(err, errsz, idx, e->type, tag, e->offset, "%s", why);
		return -1;
	}
	if (pe->present == ProfileElement_PR_genericFileManagement &&
	    gfm_check(&pe->choice.genericFileManagement, why, sizeof(why)) < 0) {
		pe_err(err, errsz, idx, e->type, tag, e->offset, "%s", why);
		return -1;
	}
	return 0;
}

/* Package-level rules after the last element (SAIP 8.1: header, MF and
 * end are mandatory; NAAs need their elements; one ICCID). */
static int check_package(const struct saip_pkg *p, char *err, size_t errsz)
{
	const struct saip_pe *last = &p->pe[p->n - 1], *hdr = &p->pe[0];
	const ProfileHeader_t *h = &((const ProfileElement_t *)hdr->asn)->choice.header;
	const ServicesList_t *sv = &h->eUICC_Mandatory_services;
	static const struct {
		int type;
		const char *service;
	} naa[] = { { SAIP_PE_USIM, "usim" }, { SAIP_PE_ISIM, "isim" }, { SAIP_PE_CSIM, "csim" } };
	const void *listed[] = { sv->usim, sv->isim, sv->csim };
	uint8_t ef[10];
	char a[21], b[21], why[SAIP_WHY];
	struct file_view v;
	size_t mf = 0, i;
	File_t *f;

	if (last->type != SAIP_PE_END) {
		pe_err(err, errsz, p->n - 1, last->type, p->der.p[last->offset], last->offset,
		       "the package does not end with an End element");
		return -1;
	}
	for (size_t k = 0; k < sizeof(naa) / sizeof(naa[0]); k++) {
		for (i = 0; i < p->n && p->pe[i].type != naa[k].type; i++)
			;
		if (listed[k] && i == p->n) {
			pe_err(err, errsz, 0, SAIP_PE_HEADER, 0xA0, 0,
			       "lists the %s service but the package has no %s element",
			       naa[k].service, naa[k].service);
			return -1;
		}
	}
	/* A USIM authenticates with the AKA parameters that follow it. */
	for (i = 0; i < p->n; i++) {
		size_t k;

		if (p->pe[i].type != SAIP_PE_USIM)
			continue;
		for (k = i + 1; k < p->n && p->pe[k].type != SAIP_PE_AKA &&
		     p->pe[k].type != SAIP_PE_USIM && p->pe[k].type != SAIP_PE_ISIM &&
		     p->pe[k].type != SAIP_PE_CSIM && p->pe[k].type != SAIP_PE_END; k++)
			;
		if (k == p->n || p->pe[k].type != SAIP_PE_AKA) {
			pe_err(err, errsz, i, p->pe[i].type, p->der.p[p->pe[i].offset],
			       p->pe[i].offset, "no akaParameter element follows the USIM");
			return -1;
		}
	}
	f = pkg_file(p, SAIP_PE_MF, "ef-iccid", &mf);
	if (!f) {
		pe_err(err, errsz, 0, SAIP_PE_HEADER, 0xA0, 0,
		       "the package has no MF element with EF.ICCID (mandatory)");
		return -1;
	}
	if (file_view("ef-iccid", f, &v, why, sizeof(why)) < 0 || !v.first ||
	    v.first->size != EF_ICCID_SIZE) {
		pe_err(err, errsz, mf, SAIP_PE_MF, p->der.p[p->pe[mf].offset], p->pe[mf].offset,
		       "EF.ICCID holds no 10-byte ICCID");
		return -1;
	}
	/* EF.ICCID is nibble-swapped (TS 102 221 13.2), the header is not. */
	iccid_swap(v.first->buf, ef);
	if (memcmp(ef, h->iccid.buf, 10)) {
		iccid_hdr_text(h->iccid.buf, a);
		if (iccid_hdr_text(ef, b) < 0)
			snprintf(b, sizeof(b), "(not BCD)");
		pe_err(err, errsz, mf, SAIP_PE_MF, p->der.p[p->pe[mf].offset], p->pe[mf].offset,
		       "EF.ICCID %s differs from the header ICCID %s", b, a);
		return -1;
	}
	return 0;
}

int saip_decode(const uint8_t *der, size_t n, struct saip_pkg *out, char *err, size_t errsz)
{
	size_t off = 0;
	int rc = -1;

	if (!out)
		return -1;
	memset(out, 0, sizeof(*out));
	if (!der || n == 0) {
		snprintf(err, errsz, "package: empty");
		goto out;
	}
	if (n > SMDP_MAX_PROFILE) {
		snprintf(err, errsz, "package: %zu bytes, more than the %d-byte limit", n,
			 SMDP_MAX_PROFILE);
		goto out;
	}
	if (buf_set(&out->der, der, n) < 0) {
		snprintf(err, errsz, "package: out of memory");
		goto out;
	}
	while (off < n) {
		if (out->n == SAIP_MAX_PE) {
			snprintf(err, errsz, "package: more than %d elements", SAIP_MAX_PE);
			goto out;
		}
		if (out->n % 32 == 0) {
			struct saip_pe *t = realloc(out->pe, (out->n + 32) * sizeof(*t));

			if (!t) {
				snprintf(err, errsz, "package: out of memory");
				goto out;
			}
			out->pe = t;
		}
		memset(&out->pe[out->n], 0, sizeof(out->pe[0]));
		out->n++;
		if (decode_one(out, out->n - 1, off, err, errsz) < 0 ||
		    check_one(out, out->n - 1, err, errsz) < 0)
			goto out;
		off += out->pe[out->n - 1].len;
	}
	if (check_package(out, err, errsz) < 0)
		goto out;
	rc = 0;
out:
	if (rc)
		saip_pkg_free(out);
	return rc;
}

int saip_encode(const struct saip_pkg *p, int reencode_all, struct buf *out)
{
	struct buf acc = { 0 }, one = { 0 };
	int rc = -1;

	if (!p || !out)
		return -1;
	for (size_t i = 0; i < p->n; i++) {
		const struct saip_pe *e = &p->pe[i];

		if (e->enc.len) {
			if (buf_append(&acc, e->enc.p, e->enc.len) < 0)
				goto out;
		} else if (reencode_all && e->asn) {
			if (pe_encode(e->asn, &one) < 0 || buf_append(&acc, one.p, one.len) < 0)
				goto out;
		} else if (buf_append(&acc, p->der.p + e->offset, e->len) < 0) {
			goto out;
		}
	}
	buf_wipe(out);
	*out = acc;
	acc.p = NULL;
	rc = 0;
out:
	buf_wipe(&acc);
	buf_wipe(&one);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Describe */

int saip_info(const struct saip_pkg *p, struct saip_info *out)
{
	const ProfileHeader_t *h;
	struct file_view v;
	uint8_t c[EF_SPN_SIZE];
	char why[SAIP_WHY];
	File_t *f;

	if (!p || !out || p->n == 0 || !p->pe[0].asn)
		return -1;
	memset(out, 0, sizeof(*out));
	h = &((const ProfileElement_t *)p->pe[0].asn)->choice.header;
	out->major = (int)h->major_version;
	out->minor = (int)h->minor_version;
	if (h->profileType)
		snprintf(out->profile_type, sizeof(out->profile_type), "%.*s",
			 (int)h->profileType->size, (const char *)h->profileType->buf);
	iccid_hdr_text(h->iccid.buf, out->iccid);
	f = pkg_file(p, -1, "ef-imsi", NULL);
	if (f && file_view("ef-imsi", f, &v, why, sizeof(why)) == 0 && v.first)
		imsi_from_ef(v.first->buf, (size_t)v.first->size, out->imsi);
	f = pkg_file(p, SAIP_PE_USIM, "ef-spn", NULL);
	if (f && file_view("ef-spn", f, &v, why, sizeof(why)) == 0) {
		size_t n = file_content(&v, c, sizeof(c));

		if (n > 0)
			spn_decode(c, sizeof(c), out->spn, sizeof(out->spn) - 1);
	}
	for (size_t i = 0; i < p->n; i++) {
		const ProfileElement_t *pe = p->pe[i].asn;
		const AlgoParameter_t *a;

		if (!pe || pe->present != ProfileElement_PR_akaParameter ||
		    pe->choice.akaParameter.algoConfiguration.present !=
			    PE_AKAParameter__algoConfiguration_PR_algoParameter)
			continue;
		a = &pe->choice.akaParameter.algoConfiguration.choice.algoParameter;
		if (out->n_aka++ == 0) {
			out->algorithm = a->algorithmID;
			out->key_len = (size_t)a->key.size;
			out->opc_len = (size_t)a->opc.size;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Personalize */

struct perso_codes {                /* the instance's values, coded */
	uint8_t hdr_iccid[10];          /* header order */
	uint8_t ef_iccid[10];           /* EF.ICCID order */
	uint8_t ef_imsi[EF_IMSI_SIZE];
	uint8_t pin1[8], pin2[8], puk1[8], puk2[8], adm1[8];
	int want_iccid, want_imsi, want_pin1, want_pin2, want_puk1, want_puk2, want_adm1;
	size_t n_pin1, n_pin2, n_puk1, n_puk2, n_adm1, n_aka, n_ef_iccid, n_ef_imsi;
};

/* PIN/ADM value (TS 102 221 9.5.1): ASCII digits, FF padded to 8 bytes;
 * an ADM may instead be given as 16 hex digits (8 raw bytes). */
static int pin_code(const char *s, size_t min, size_t max, int hex_ok, uint8_t out[8])
{
	memset(out, 0xFF, 8);
	if (hex_ok && strlen(s) == 16)
		return hex_decode(s, out, 8) == 8 ? 0 : -1;
	if (!all_digits(s, min, max))
		return -1;
	memcpy(out, s, strlen(s));
	return 0;
}

static int perso_codes(const struct saip_perso *v, struct perso_codes *c, char *err,
		       size_t errsz)
{
	char iccid[21];

	memset(c, 0, sizeof(*c));
	if (v->iccid[0]) {
		if (saip_iccid_complete(v->iccid, iccid) < 0) {
			snprintf(err, errsz, "ICCID '%s': give 18 or 19 digits (the Luhn digit is "
				 "added)", v->iccid);
			return -1;
		}
		iccid_to_hdr(iccid, c->hdr_iccid);
		iccid_swap(c->hdr_iccid, c->ef_iccid);
		c->want_iccid = 1;
	}
	if (v->imsi[0]) {
		if (!all_digits(v->imsi, 6, 15)) {
			snprintf(err, errsz, "IMSI '%s': 6 to 15 digits", v->imsi);
			return -1;
		}
		imsi_to_ef(v->imsi, c->ef_imsi);
		c->want_imsi = 1;
	}
	/* Never echo PIN/PUK/ADM values: they are secrets. */
	if ((v->pin1[0] && pin_code(v->pin1, 4, 8, 0, c->pin1) < 0) ||
	    (v->pin2[0] && pin_code(v->pin2, 4, 8, 0, c->pin2) < 0)) {
		snprintf(err, errsz, "a PIN is 4 to 8 digits");
		return -1;
	}
	if ((v->puk1[0] && pin_code(v->puk1, 8, 8, 0, c->puk1) < 0) ||
	    (v->puk2[0] && pin_code(v->puk2, 8, 8, 0, c->puk2) < 0)) {
		snprintf(err, errsz, "a PUK is 8 digits");
		return -1;
	}
	if (v->adm1[0] && pin_code(v->adm1, 4, 8, 1, c->adm1) < 0) {
		snprintf(err, errsz, "ADM1 is 4 to 8 digits or 16 hex digits");
		return -1;
	}
	c->want_pin1 = v->pin1[0] != 0;
	c->want_pin2 = v->pin2[0] != 0;
	c->want_puk1 = v->puk1[0] != 0;
	c->want_puk2 = v->puk2[0] != 0;
	c->want_adm1 = v->adm1[0] != 0;
	return 0;
}

/* The fillFileContent a File writes at position 0: 0 with *slot (NULL if
 * the File has no content yet), -1 if an offset comes first (a layout we do
 * not rewrite). */
static int file_slot(File_t *f, FileElement_t **slot)
{
	*slot = NULL;
	for (int i = 0; i < f->list.count; i++) {
		FileElement_t *fe = f->list.array[i];

		if (fe->present == FileElement_PR_fillFileOffset)
			return -1;
		if (fe->present == FileElement_PR_fillFileContent) {
			*slot = fe;
			return 0;
		}
	}
	return 0;
}

/* Replace the content a File writes at position 0, or give the File its
 * first content if it has none. */
static int file_set(File_t *f, const uint8_t *val, size_t n)
{
	FileElement_t *fe;

	if (file_slot(f, &fe) < 0)
		return -1;
	if (fe)
		return os_put(&fe->choice.fillFileContent, val, n);
	fe = calloc(1, sizeof(*fe));
	if (!fe)
		return -1;
	fe->present = FileElement_PR_fillFileContent;
	if (OCTET_STRING_fromBuf(&fe->choice.fillFileContent, (const char *)val, (int)n) < 0 ||
	    ASN_SEQUENCE_ADD(&f->list, fe) < 0) {
		ASN_STRUCT_FREE(asn_DEF_FileElement, fe);
		return -1;
	}
	return 0;
}

struct perso_file_arg {
	struct perso_codes *c;
	int apply;
	int touched;
};

static int perso_file_cb(void *arg, const char *name, File_t *f)
{
	struct perso_file_arg *a = arg;
	const uint8_t *val = NULL;
	size_t n = 0, *count = NULL;

	if (a->c->want_iccid && !strcmp(name, "ef-iccid")) {
		val = a->c->ef_iccid;
		n = EF_ICCID_SIZE;
		count = &a->c->n_ef_iccid;
	} else if (a->c->want_imsi && !strcmp(name, "ef-imsi")) {
		val = a->c->ef_imsi;
		n = EF_IMSI_SIZE;
		count = &a->c->n_ef_imsi;
	}
	if (!val)
		return 0;
	(*count)++;
	a->touched = 1;
	if (!a->apply) {
		FileElement_t *slot;

		return file_slot(f, &slot) < 0 ? -1 : 0;
	}
	return file_set(f, val, n) < 0 ? -1 : 0;
}

/* One pass over the elements: count (apply 0) or change (apply 1) what the
 * instance personalizes; touched[i] marks changed elements. */
static int perso_pass(struct saip_pkg *p, const struct saip_perso *v, struct perso_codes *c,
		      int apply, uint8_t *touched, char *err, size_t errsz)
{
	c->n_pin1 = c->n_pin2 = c->n_puk1 = c->n_puk2 = c->n_adm1 = c->n_aka = 0;
	c->n_ef_iccid = c->n_ef_imsi = 0;
	for (size_t i = 0; i < p->n; i++) {
		struct saip_pe *e = &p->pe[i];
		ProfileElement_t *pe = e->asn;
		struct perso_file_arg fa = { c, apply, 0 };
		int hit = 0;

		if (!pe)
			continue;
		switch (pe->present) {
		case ProfileElement_PR_header:
			hit = c->want_iccid;
			if (apply && hit && os_put(&pe->choice.header.iccid, c->hdr_iccid, 10) < 0)
				goto fail;
			break;
		case ProfileElement_PR_akaParameter: {
			AlgoParameter_t *a;

			if ((!v->ki_len && !v->opc_len) ||
			    pe->choice.akaParameter.algoConfiguration.present !=
				    PE_AKAParameter__algoConfiguration_PR_algoParameter)
				break;
			a = &pe->choice.akaParameter.algoConfiguration.choice.algoParameter;
			/* The algorithm fixes the lengths (Milenage 16/16, TUAK 16 or
			 * 32/32): keep the template's. */
			if ((v->ki_len && (size_t)a->key.size != v->ki_len) ||
			    (v->opc_len && (size_t)a->opc.size != v->opc_len)) {
				pe_err(err, errsz, i, e->type, p->der.p[e->offset], e->offset,
				       "key/opc are %d/%d bytes, the instance has %zu/%zu", a->key.size,
				       a->opc.size, v->ki_len, v->opc_len);
				return -1;
			}
			hit = 1;
			c->n_aka++;
			if (apply && ((v->ki_len && os_put(&a->key, v->ki, v->ki_len) < 0) ||
				      (v->opc_len && os_put(&a->opc, v->opc, v->opc_len) < 0)))
				goto fail;
			break;
		}
		case ProfileElement_PR_pinCodes: {
			struct PE_PINCodes__pinCodes *pc = &pe->choice.pinCodes.pinCodes;

			if (pc->present != PE_PINCodes__pinCodes_PR_pinconfig)
				break;
			for (int k = 0; k < pc->choice.pinconfig.list.count; k++) {
				PINConfiguration_t *cf = pc->choice.pinconfig.list.array[k];
				const uint8_t *val = NULL;

				if (cf->keyReference == KEYREF_PIN1 && c->want_pin1) {
					val = c->pin1;
					c->n_pin1++;
				} else if (cf->keyReference == KEYREF_PIN2 && c->want_pin2) {
					val = c->pin2;
					c->n_pin2++;
				} else if (cf->keyReference == KEYREF_ADM1 && c->want_adm1) {
					val = c->adm1;
					c->n_adm1++;
				}
				if (!val)
					continue;
				hit = 1;
				if (apply && os_put(&cf->pinValue, val, 8) < 0)
					goto fail;
			}
			break;
		}
		case ProfileElement_PR_pukCodes:
			for (int k = 0; k < pe->choice.pukCodes.pukCodes.list.count; k++) {
				PUKConfiguration_t *cf = pe->choice.pukCodes.pukCodes.list.array[k];
				const uint8_t *val = NULL;

				if (cf->keyReference == KEYREF_PUK1 && c->want_puk1) {
					val = c->puk1;
					c->n_puk1++;
				} else if (cf->keyReference == KEYREF_PUK2 && c->want_puk2) {
					val = c->puk2;
					c->n_puk2++;
				}
				if (!val)
					continue;
				hit = 1;
				if (apply && os_put(&cf->pukValue, val, 8) < 0)
					goto fail;
			}
			break;
		default:
			if (each_file(pe, perso_file_cb, &fa) != 0) {
				pe_err(err, errsz, i, e->type, p->der.p[e->offset], e->offset,
				       "EF.ICCID/EF.IMSI content is not at the start of the file");
				return -1;
			}
			hit = fa.touched;
			break;
		}
		/* A re-encoding must not lose anything the template carries. */
		if (hit && !e->canonical) {
			pe_err(err, errsz, i, e->type, p->der.p[e->offset], e->offset,
			       "does not re-encode byte for byte (not DER, or fields this server "
			       "does not know): refusing to personalize it");
			return -1;
		}
		if (hit)
			touched[i] = 1;
	}
	return 0;
fail:
	snprintf(err, errsz, "personalize: out of memory");
	return -1;
}

int saip_personalize(struct saip_pkg *p, const struct saip_perso *v, char *err, size_t errsz)
{
	struct perso_codes c;
	uint8_t *touched = NULL;
	const char *missing = NULL;
	int rc = -1;

	if (!p || !v || p->n == 0)
		return -1;
	if (perso_codes(v, &c, err, errsz) < 0)
		goto out;
	if ((v->ki_len && v->ki_len > sizeof(v->ki)) || (v->opc_len && v->opc_len > sizeof(v->opc))) {
		snprintf(err, errsz, "Ki/OPc too long");
		goto out;
	}
	touched = calloc(p->n, 1);
	if (!touched) {
		snprintf(err, errsz, "personalize: out of memory");
		goto out;
	}
	/* Dry run first: a template that cannot take every value is refused
	 * before anything in it changes. */
	if (perso_pass(p, v, &c, 0, touched, err, errsz) < 0)
		goto out;
	if (c.want_iccid && !c.n_ef_iccid)
		missing = "EF.ICCID";
	else if (c.want_imsi && !c.n_ef_imsi)
		missing = "EF.IMSI";
	else if ((v->ki_len || v->opc_len) && !c.n_aka)
		missing = "an akaParameter element with algoParameter";
	else if (c.want_pin1 && !c.n_pin1)
		missing = "PIN1 (pinCodes keyReference 1)";
	else if (c.want_pin2 && !c.n_pin2)
		missing = "PIN2 (pinCodes keyReference 129)";
	else if (c.want_puk1 && !c.n_puk1)
		missing = "PUK1 (pukCodes keyReference 1)";
	else if (c.want_puk2 && !c.n_puk2)
		missing = "PUK2 (pukCodes keyReference 129)";
	else if (c.want_adm1 && !c.n_adm1)
		missing = "ADM1 (pinCodes keyReference 10)";
	if (missing) {
		snprintf(err, errsz, "the template has no %s to personalize", missing);
		goto out;
	}
	memset(touched, 0, p->n);
	if (perso_pass(p, v, &c, 1, touched, err, errsz) < 0)
		goto out;
	for (size_t i = 0; i < p->n; i++) {
		if (touched[i] && pe_encode(p->pe[i].asn, &p->pe[i].enc) < 0) {
			snprintf(err, errsz, "element %zu (%s): re-encoding failed", i,
				 saip_pe_name(p->pe[i].type));
			goto out;
		}
	}
	rc = 0;
out:
	crypto_cleanse(&c, sizeof(c));
	free(touched);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Metadata: defaults from the package, then the description file */

static int desc_fail(char *err, size_t errsz, const char *desc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int desc_fail(char *err, size_t errsz, const char *desc, const char *fmt, ...)
{
	char why[SAIP_WHY];
	const char *base = strrchr(desc, '/');
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(err, errsz, "%s: %s", base ? base + 1 : desc, why);
	return -1;
}

/* A JSON string of at most max bytes into dst. */
static int json_str(const cJSON *it, char *dst, size_t dstsz, size_t max)
{
	size_t n;

	if (!cJSON_IsString(it) || !it->valuestring)
		return -1;
	n = strlen(it->valuestring);
	if (n > max || n >= dstsz)
		return -1;
	memcpy(dst, it->valuestring, n + 1);
	return 0;
}

/* Bits of a JSON array of names; names[i] is bit 0x80 >> i. -1 on an
 * unknown name or a non-string. */
static int json_bits(const cJSON *arr, const char *const *names, size_t count)
{
	const cJSON *it;
	int bits = 0;

	if (!cJSON_IsArray(arr))
		return -1;
	cJSON_ArrayForEach(it, arr) {
		size_t k;

		if (!cJSON_IsString(it))
			return -1;
		for (k = 0; k < count && strcmp(it->valuestring, names[k]); k++)
			;
		if (k == count)
			return -1;
		bits |= 0x80 >> k;
	}
	return bits;
}

static int load_icon(const char *desc, const char *file, struct profile_metadata *m, char *err,
		     size_t errsz)
{
	static const uint8_t png[] = { 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A };
	static const uint8_t jpg[] = { 0xFF, 0xD8, 0xFF };
	const char *slash = strrchr(desc, '/');
	char path[1024];
	int type;

	if (file[0] == '/' || !slash)
		str_copy(path, sizeof(path), file);
	else
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - desc), desc, file);
	if (file_read(path, SAIP_MAX_ICON, &m->icon) < 0)
		return desc_fail(err, errsz, desc, "icon %s: cannot read (or larger than %d bytes)",
				 file, SAIP_MAX_ICON);
	/* SGP.22 IconType: jpg(0), png(1); the bytes must be what it says. */
	if (m->icon.len >= sizeof(png) && !memcmp(m->icon.p, png, sizeof(png)))
		type = 1;
	else if (m->icon.len >= sizeof(jpg) && !memcmp(m->icon.p, jpg, sizeof(jpg)))
		type = 0;
	else
		return desc_fail(err, errsz, desc, "icon %s is neither PNG nor JPEG", file);
	if (m->icon_type >= 0 && m->icon_type != type)
		return desc_fail(err, errsz, desc, "icon %s is not a %s file", file,
				 m->icon_type ? "png" : "jpg");
	m->icon_type = type;
	return 0;
}

static int desc_notif(const char *desc, const cJSON *arr, struct profile_metadata *m, char *err,
		      size_t errsz)
{
	static const char *const ops[] = { "install", "enable", "disable", "delete" };
	const cJSON *o;

	if (!cJSON_IsArray(arr))
		return desc_fail(err, errsz, desc, "notificationConfigurationInfo: not an array");
	cJSON_ArrayForEach(o, arr) {
		struct notif_config *nc;
		const cJSON *it;
		int have_ops = 0, have_addr = 0;

		if (m->n_notif == SMDP_MAX_NOTIF_CFG)
			return desc_fail(err, errsz, desc,
					 "notificationConfigurationInfo: more than %d entries",
					 SMDP_MAX_NOTIF_CFG);
		if (!cJSON_IsObject(o))
			return desc_fail(err, errsz, desc,
					 "notificationConfigurationInfo: entries are objects");
		nc = &m->notif[m->n_notif++];
		cJSON_ArrayForEach(it, o) {
			if (!strcmp(it->string, "operations")) {
				int b = json_bits(it, ops, 4);

				if (b <= 0)
					return desc_fail(err, errsz, desc, "operations: a non-empty "
							 "list of install, enable, disable, delete");
				nc->ops = (uint8_t)b;
				have_ops = 1;
			} else if (!strcmp(it->string, "address")) {
				if (json_str(it, nc->address, sizeof(nc->address), SMDP_MAX_ADDRESS) < 0 ||
				    !nc->address[0])
					return desc_fail(err, errsz, desc, "address: a string of 1 to "
							 "%d bytes", SMDP_MAX_ADDRESS);
				have_addr = 1;
			} else {
				return desc_fail(err, errsz, desc,
						 "notificationConfigurationInfo: unknown key \"%s\"",
						 it->string);
			}
		}
		if (!have_ops || !have_addr)
			return desc_fail(err, errsz, desc, "notificationConfigurationInfo: each "
					 "entry needs operations and address");
	}
	return 0;
}

/* Apply the description file (see saip_metadata). Unknown keys are errors:
 * a typo must not silently give a profile the wrong metadata. */
static int apply_desc(const char *desc, const struct buf *text, struct profile_metadata *m,
		      char *err, size_t errsz)
{
	static const char *const classes[] = { "test", "provisioning", "operational" };
	static const char *const pprs[] = { "pprUpdateControl", "ppr1", "ppr2" };
	cJSON *root = cJSON_ParseWithLength((const char *)text->p, text->len);
	const cJSON *it, *icon = NULL;
	int rc = -1;

	if (!cJSON_IsObject(root)) {
		desc_fail(err, errsz, desc, "not a JSON object");
		goto out;
	}
	cJSON_ArrayForEach(it, root) {
		const char *k = it->string;

		if (!strcmp(k, "serviceProviderName")) {
			if (json_str(it, m->spn, sizeof(m->spn), 32) < 0) {
				desc_fail(err, errsz, desc, "serviceProviderName: a string of at most "
					  "32 bytes");
				goto out;
			}
		} else if (!strcmp(k, "profileName")) {
			if (json_str(it, m->name, sizeof(m->name), 64) < 0) {
				desc_fail(err, errsz, desc, "profileName: a string of at most 64 bytes");
				goto out;
			}
		} else if (!strcmp(k, "profileClass")) {
			int c = -1;

			for (int i = 0; i < 3 && cJSON_IsString(it); i++)
				if (!strcmp(it->valuestring, classes[i]))
					c = i;
			if (c < 0) {
				desc_fail(err, errsz, desc, "profileClass: test, provisioning or "
					  "operational");
				goto out;
			}
			m->profile_class = c;
		} else if (!strcmp(k, "iconType")) {
			if (cJSON_IsString(it) && !strcmp(it->valuestring, "jpg")) {
				m->icon_type = 0;
			} else if (cJSON_IsString(it) && !strcmp(it->valuestring, "png")) {
				m->icon_type = 1;
			} else {
				desc_fail(err, errsz, desc, "iconType: png or jpg");
				goto out;
			}
		} else if (!strcmp(k, "icon")) {
			if (!cJSON_IsString(it) || !it->valuestring[0]) {
				desc_fail(err, errsz, desc, "icon: a file name");
				goto out;
			}
			icon = it;
		} else if (!strcmp(k, "profilePolicyRules")) {
			int b = json_bits(it, pprs, 3);

			if (b < 0) {
				desc_fail(err, errsz, desc, "profilePolicyRules: a list of "
					  "pprUpdateControl, ppr1, ppr2");
				goto out;
			}
			m->has_ppr = 1;
			m->ppr = (uint8_t)b;
		} else if (!strcmp(k, "notificationConfigurationInfo")) {
			if (desc_notif(desc, it, m, err, errsz) < 0)
				goto out;
		} else if (!strcmp(k, "ecallIndication") || !strcmp(k, "fallbackAllowed")) {
			int *has = k[0] == 'e' ? &m->has_ecall_indication : &m->has_fallback_allowed;
			int *val = k[0] == 'e' ? &m->ecall_indication : &m->fallback_allowed;

			if (!cJSON_IsBool(it)) {
				desc_fail(err, errsz, desc, "%s: true or false", k);
				goto out;
			}
			*has = 1;
			*val = cJSON_IsTrue(it) ? 1 : 0;
		} else {
			desc_fail(err, errsz, desc, "unknown key \"%s\"", k);
			goto out;
		}
	}
	/* After the loop, so that iconType may come before or after icon. */
	if (icon && load_icon(desc, icon->valuestring, m, err, errsz) < 0)
		goto out;
	if (!icon && m->icon_type >= 0) {
		desc_fail(err, errsz, desc, "iconType without icon");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

int saip_metadata(const struct saip_pkg *p, const char *id, const char *desc,
		  struct profile_metadata *m, char *err, size_t errsz)
{
	struct saip_info info;
	struct buf text = { 0 }, enc = { 0 };
	int rc = -1;

	if (!p || !m || !id)
		return -1;
	memset(m, 0, sizeof(*m));
	m->profile_class = -1;          /* absent = DEFAULT operational */
	m->icon_type = -1;
	if (saip_info(p, &info) < 0) {
		snprintf(err, errsz, "package: no ProfileHeader");
		goto out;
	}
	/* SGP.22 Iccid is coded as in EF.ICCID: nibble-swapped. */
	iccid_swap(((const ProfileElement_t *)p->pe[0].asn)->choice.header.iccid.buf, m->iccid);
	str_copy(m->spn, sizeof(m->spn), info.spn);
	snprintf(m->name, sizeof(m->name), "%.64s", id);
	if (desc && desc[0]) {
		if (file_read(desc, SAIP_MAX_DESC, &text) < 0) {
			if (errno != ENOENT) {
				desc_fail(err, errsz, desc, "cannot read (or larger than %d bytes)",
					  SAIP_MAX_DESC);
				goto out;
			}
		} else if (apply_desc(desc, &text, m, err, errsz) < 0) {
			goto out;
		}
	}
	/* What authenticateClient will send must encode: find out now. */
	if (der_encode_store_metadata(m, &enc) < 0) {
		snprintf(err, errsz, "%s: the metadata does not encode as a StoreMetadataRequest "
			 "(invalid UTF-8?)", desc && desc[0] ? desc : id);
		goto out;
	}
	rc = 0;
out:
	buf_free(&text);
	buf_free(&enc);
	if (rc) {
		buf_free(&m->icon);
		m->icon_type = -1;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* The server's inventory */

int saip_header(const uint8_t *upp, size_t n, uint8_t iccid[10], char *profile_type,
		size_t ptsz)
{
	asn_codec_ctx_t ctx = { .max_stack_size = PE_STACK_MAX };
	ProfileElement_t *pe = NULL;
	struct tlvh h;
	asn_dec_rval_t rv;
	int rc = -1;

	if (ptsz)
		profile_type[0] = '\0';
	if (!upp || tlv_head(upp, n, &h) != TLV_OK || h.tag != 0xA0 || h.vl > n - h.hl)
		goto out;
	rv = ber_decode(&ctx, &asn_DEF_ProfileElement, (void **)&pe, upp, h.hl + h.vl);
	if (rv.code != RC_OK || pe->present != ProfileElement_PR_header ||
	    pe->choice.header.iccid.size != 10)
		goto out;
	memcpy(iccid, pe->choice.header.iccid.buf, 10);
	if (ptsz && pe->choice.header.profileType)
		snprintf(profile_type, ptsz, "%.*s", (int)pe->choice.header.profileType->size,
			 (const char *)pe->choice.header.profileType->buf);
	rc = 0;
out:
	if (pe)
		ASN_STRUCT_FREE(asn_DEF_ProfileElement, pe);
	return rc;
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
	struct saip_pkg pkg = { 0 };
	char desc[600], why[512];
	int rc = -1;

	memset(p, 0, sizeof(*p));
	if (len - 4 > SMDP_MAX_ID) {
		snprintf(err, errsz, "%s: file name too long for a matchingId", file);
		goto out;
	}
	snprintf(p->id, sizeof(p->id), "%.*s", (int)(len - 4), file);
	snprintf(p->path, sizeof(p->path), "%s/%s", dir, file);
	snprintf(desc, sizeof(desc), "%s/%s.json", dir, p->id);
	if (file_read(p->path, SMDP_MAX_PROFILE, &p->upp)) {
		snprintf(err, errsz, "%s: cannot read (or larger than %d bytes)", p->path,
			 SMDP_MAX_PROFILE);
		goto out;
	}
	if (saip_decode(p->upp.p, p->upp.len, &pkg, why, sizeof(why)) < 0 ||
	    saip_metadata(&pkg, p->id, desc, &p->meta, why, sizeof(why)) < 0) {
		snprintf(err, errsz, "%s: %s", p->path, why);
		goto out;
	}
	rc = 0;
out:
	saip_pkg_free(&pkg);
	if (rc) {
		buf_free(&p->upp);
		buf_free(&p->meta.icon);
	}
	return rc;
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
		if (load_one(&ps->v[ps->n], dir, e->d_name, err, errsz))
			goto out;
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
		buf_wipe(&ps->v[i].upp);
		buf_free(&ps->v[i].meta.icon);
	}
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}
