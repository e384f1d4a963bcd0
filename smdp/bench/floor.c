/* floor.c - the crypto floor of one profile download: the public-key and
 * symmetric work SGP.22 makes the SM-DP+ do for one eUICC, timed with the
 * project's own crypto.c / scp03t.c on this machine. Server CPU per download
 * divided by this number is what the benchmark reports as "ratio". */
#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Sizes of the signed data of one download, as es9p.c / bpp.c build them
 * (SHA-256 over a few hundred bytes costs next to nothing beside ECDSA;
 * they are here so the hashing is not left out entirely). */
#define TBS_SERVER_SIGNED1  96    /* ServerSigned1 (5.6.1) */
#define TBS_EUICC_SIGNED1   330   /* euiccSigned1 with EUICCInfo2 and ctxParams1 */
#define TBS_SMDP_SIGNED2    96    /* smdpSigned2 || 5F37 euiccSignature1 (5.6.3) */
#define TBS_EUICC_SIGNED2   160   /* euiccSigned2 || 5F37 smdpSignature2 (5.6.2) */
#define TBS_BF23            140   /* BF23 signed TLVs || 5F49 otPK.EUICC (5.5.1) */
#define TBS_PIR             96    /* ProfileInstallationResultData BF27 (5.6.4) */
#define FLOOR_MIN_ITER      5     /* whole-download sequences per batch, at least */
#define FLOOR_MAX_SECONDS   60.0
#define FLOOR_BATCHES       5     /* the floor is the best batch */

/* Everything one sequence needs, loaded once. */
struct fl {
	crypto_key *dpauth, *dppb, *euicc_key, *euicc_pub;
	crypto_cert *ci, *eum, *euicc;
	enum crypto_curve curve;
	uint8_t tbs[6][512];
	size_t tbs_len[6];
	uint8_t sig[6][SMDP_SIG_LEN];   /* valid eUICC signatures of tbs[1], [3], [5] */
	uint8_t peer_point[SMDP_POINT_LEN];
	uint8_t host_id[16];
	uint8_t eid[16];
	struct buf isdp, metadata, profile;
};

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* BSP protection as bpp.c does it: each object cut into segments of at
 * most scp03t_max_plain() bytes, every segment wrapped (SGP.22 2.5.5). */
static int protect(struct scp03t *s, uint8_t tag, int encrypt, const struct buf *data,
		   size_t *bytes)
{
	size_t chunk = scp03t_max_plain(encrypt), off = 0;
	struct buf seg = { 0 };
	int rc = -1;

	do {
		size_t take = data->len - off < chunk ? data->len - off : chunk;
		if (scp03t_wrap(s, tag, encrypt, data->p + off, take, &seg))
			goto out;
		buf_free(&seg);
		off += take;
		*bytes += take;
	} while (off < data->len);
	rc = 0;
out:
	buf_free(&seg);
	return rc;
}

/* The key agreement of getBoundProfilePackage (bpp.c bind_fresh). */
static int key_agreement(struct fl *f, struct scp03t *s)
{
	crypto_key *peer = NULL, *otsk = NULL;
	uint8_t z[32], pt[SMDP_POINT_LEN];
	int rc = -1;

	peer = crypto_key_from_point(f->curve, f->peer_point, SMDP_POINT_LEN);
	otsk = crypto_key_generate(f->curve);
	if (!peer || !otsk || crypto_key_point(otsk, pt) || crypto_ecdh(otsk, peer, z) ||
	    scp03t_derive(z, f->host_id, sizeof(f->host_id), f->eid, s))
		goto out;
	rc = 0;
out:
	crypto_cleanse(z, sizeof(z));
	crypto_key_free(peer);
	crypto_key_free(otsk);
	return rc;
}

/* One download's server crypto, in protocol order. 0 / -1. */
static int one_download(struct fl *f, size_t *bsp_bytes)
{
	uint8_t sig[SMDP_SIG_LEN];
	struct scp03t s;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	/* initiateAuthentication: serverSignature1 */
	if (crypto_sign(f->dpauth, f->tbs[0], f->tbs_len[0], sig))
		goto out;
	/* authenticateClient: the eUICC chain, euiccSignature1, smdpSignature2 */
	if (crypto_cert_signed_by(f->eum, f->ci) != 1 ||
	    crypto_cert_signed_by(f->euicc, f->eum) != 1 ||
	    crypto_verify(f->euicc_pub, f->tbs[1], f->tbs_len[1], f->sig[1], SMDP_SIG_LEN) != 1 ||
	    crypto_sign(f->dppb, f->tbs[2], f->tbs_len[2], sig))
		goto out;
	/* getBoundProfilePackage: euiccSignature2, key agreement, BSP, smdpSign */
	if (crypto_verify(f->euicc_pub, f->tbs[3], f->tbs_len[3], f->sig[3], SMDP_SIG_LEN) != 1 ||
	    key_agreement(f, &s) || protect(&s, 0x87, 1, &f->isdp, bsp_bytes) ||
	    protect(&s, 0x88, 0, &f->metadata, bsp_bytes) ||
	    protect(&s, 0x86, 1, &f->profile, bsp_bytes) ||
	    crypto_sign(f->dppb, f->tbs[4], f->tbs_len[4], sig))
		goto out;
	/* handleNotification: euiccSignPIR */
	if (crypto_verify(f->euicc_pub, f->tbs[5], f->tbs_len[5], f->sig[5], SMDP_SIG_LEN) != 1)
		goto out;
	rc = 0;
out:
	scp03t_wipe(&s);
	return rc;
}

static int fl_open(struct fl *f, const struct floor_in *in, char *err, size_t errsz)
{
	static const size_t lens[6] = { TBS_SERVER_SIGNED1, TBS_EUICC_SIGNED1, TBS_SMDP_SIGNED2,
					TBS_EUICC_SIGNED2, TBS_BF23, TBS_PIR };
	char path[600];
	crypto_key *k = NULL;
	int rc = -1;

#define LOAD_KEY(dst, name)                                                    \
	snprintf(path, sizeof(path), "%.500s/%s", in->pki_dir, name);           \
	if (!(dst = crypto_key_load(path))) {                                   \
		snprintf(err, errsz, "cannot load %s", path);                   \
		goto out;                                                       \
	}
#define LOAD_CERT(dst, name)                                                   \
	snprintf(path, sizeof(path), "%.500s/%s", in->pki_dir, name);           \
	if (!(dst = crypto_cert_load(path))) {                                  \
		snprintf(err, errsz, "cannot load %s", path);                   \
		goto out;                                                       \
	}
	LOAD_KEY(f->dpauth, "dpauth.key.pem");
	LOAD_KEY(f->dppb, "dppb.key.pem");
	LOAD_KEY(f->euicc_key, "euicc/euicc.key.pem");
	LOAD_CERT(f->ci, "ci.der");
	LOAD_CERT(f->eum, "euicc/eum.der");
	LOAD_CERT(f->euicc, "euicc/euicc.der");
#undef LOAD_KEY
#undef LOAD_CERT
	f->curve = crypto_cert_curve(f->ci);
	if (f->curve == CURVE_NONE || !(f->euicc_pub = crypto_cert_pubkey(f->euicc))) {
		snprintf(err, errsz, "%s: CI on an unknown curve or no eUICC key", in->pki_dir);
		goto out;
	}
	for (int i = 0; i < 6; i++) {
		f->tbs_len[i] = lens[i];
		if (crypto_random(f->tbs[i], lens[i]) ||
		    ((i & 1) && crypto_sign(f->euicc_key, f->tbs[i], lens[i], f->sig[i]))) {
			snprintf(err, errsz, "cannot make the test signatures");
			goto out;
		}
	}
	/* otPK.EUICC: a real point on the curve, as the eUICC sends it */
	if (!(k = crypto_key_generate(f->curve)) || crypto_key_point(k, f->peer_point) ||
	    crypto_random(f->host_id, sizeof(f->host_id)) || crypto_random(f->eid, sizeof(f->eid))) {
		snprintf(err, errsz, "cannot make a one-time key");
		goto out;
	}
	if (der_encode_configure_isdp(NULL, &f->isdp) ||
	    !(f->metadata.p = calloc(1, in->metadata_len ? in->metadata_len : 1)) ||
	    !(f->profile.p = calloc(1, in->profile_len ? in->profile_len : 1))) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	f->metadata.len = in->metadata_len;
	f->profile.len = in->profile_len;
	rc = 0;
out:
	crypto_key_free(k);
	return rc;
}

static void fl_close(struct fl *f)
{
	crypto_key_free(f->dpauth);
	crypto_key_free(f->dppb);
	crypto_key_free(f->euicc_key);
	crypto_key_free(f->euicc_pub);
	crypto_cert_free(f->ci);
	crypto_cert_free(f->eum);
	crypto_cert_free(f->euicc);
	buf_free(&f->isdp);
	buf_free(&f->metadata);
	buf_free(&f->profile);
}

/* The breakdown: each kind of operation alone, for about budget seconds;
 * microseconds per call into *us. 0 / -1. */
enum op { OP_SIGN, OP_VERIFY, OP_CERT, OP_KEYGEN, OP_POINT, OP_ECDH, OP_KDF, OP_BSP, OP_PARSE };

static int time_op_once(struct fl *f, enum op op, double budget, double *us)
{
	crypto_key *k = NULL, *peer = NULL;
	uint8_t sig[SMDP_SIG_LEN], pt[SMDP_POINT_LEN], z[32];
	struct scp03t s;
	double t0 = thread_cpu(), t;
	long n = 0;
	size_t bytes = 0;
	int rc = -1;

	memset(z, 0x5A, sizeof(z));
	memset(&s, 0, sizeof(s));
	do {
		switch (op) {
		case OP_SIGN:
			if (crypto_sign(f->dppb, f->tbs[2], f->tbs_len[2], sig))
				goto out;
			break;
		case OP_VERIFY:
			if (crypto_verify(f->euicc_pub, f->tbs[1], f->tbs_len[1], f->sig[1],
					  SMDP_SIG_LEN) != 1)
				goto out;
			break;
		case OP_CERT:
			if (crypto_cert_signed_by(f->euicc, f->eum) != 1)
				goto out;
			break;
		case OP_KEYGEN:
			if (!(k = crypto_key_generate(f->curve)) || crypto_key_point(k, pt))
				goto out;
			crypto_key_free(k);
			k = NULL;
			break;
		case OP_POINT:
			if (!(peer = crypto_key_from_point(f->curve, f->peer_point, SMDP_POINT_LEN)))
				goto out;
			crypto_key_free(peer);
			peer = NULL;
			break;
		case OP_ECDH:
			if (!k && !(k = crypto_key_generate(f->curve)))
				goto out;
			if (!peer &&
			    !(peer = crypto_key_from_point(f->curve, f->peer_point, SMDP_POINT_LEN)))
				goto out;
			if (crypto_ecdh(k, peer, z))
				goto out;
			break;
		case OP_PARSE: {
			size_t len;
			const uint8_t *der = crypto_cert_der(f->euicc, &len);
			crypto_cert *c = crypto_cert_from_der_lite(der, len);
			if (!c)
				goto out;
			crypto_cert_free(c);
			break;
		}
		case OP_KDF:
			if (scp03t_derive(z, f->host_id, sizeof(f->host_id), f->eid, &s))
				goto out;
			break;
		case OP_BSP:
			scp03t_init(&s, z, z + 16, z);
			if (protect(&s, 0x87, 1, &f->isdp, &bytes) ||
			    protect(&s, 0x88, 0, &f->metadata, &bytes) ||
			    protect(&s, 0x86, 1, &f->profile, &bytes))
				goto out;
			break;
		}
		n++;
		t = thread_cpu() - t0;
	} while (t < budget || n < 3);
	*us = t * 1e6 / (double)n;
	rc = 0;
out:
	scp03t_wipe(&s);
	crypto_key_free(k);
	crypto_key_free(peer);
	return rc;
}

/* The best of FLOOR_BATCHES batches: a floor is what the machine can do
 * when nothing else disturbs it (other processes, frequency changes). */
static int time_op(struct fl *f, enum op op, double budget, double *us)
{
	double best = 0, v;

	for (int i = 0; i < FLOOR_BATCHES; i++) {
		if (time_op_once(f, op, budget / FLOOR_BATCHES, &v))
			return -1;
		if (i == 0 || v < best)
			best = v;
	}
	*us = best;
	return 0;
}

int floor_measure(const struct floor_in *in, struct floor_result *out, char *err,
		  size_t errsz)
{
	struct fl f;
	double secs = in->seconds, part;
	size_t bytes = 0;
	int rc = -1;

	memset(&f, 0, sizeof(f));
	memset(out, 0, sizeof(*out));
	if (!(secs > 0) || secs > FLOOR_MAX_SECONDS)
		secs = 1.0;
	if (fl_open(&f, in, err, errsz))
		goto out;
	out->curve = f.curve;
	/* warm-up: first calls load providers and tables */
	if (one_download(&f, &bytes)) {
		snprintf(err, errsz, "a crypto operation failed");
		goto out;
	}
	for (int i = 0; i < FLOOR_BATCHES; i++) {
		long n = 0;
		double t0 = thread_cpu(), t, us;
		bytes = 0;
		do {
			if (one_download(&f, &bytes)) {
				snprintf(err, errsz, "a crypto operation failed");
				goto out;
			}
			n++;
			t = thread_cpu() - t0;
		} while (t < secs / FLOOR_BATCHES || n < FLOOR_MIN_ITER);
		us = t * 1e6 / (double)n;
		if (i == 0 || us < out->download_us)
			out->download_us = us;
		out->iterations += n;
		out->bsp_bytes = bytes / (size_t)n;
	}
	out->signs = 3;
	out->verifies = 5;
	part = secs / 10;
	if (time_op(&f, OP_SIGN, part, &out->sign_us) ||
	    time_op(&f, OP_VERIFY, part, &out->verify_us) ||
	    time_op(&f, OP_CERT, part, &out->cert_verify_us) ||
	    time_op(&f, OP_KEYGEN, part, &out->keygen_us) ||
	    time_op(&f, OP_POINT, part, &out->point_us) ||
	    time_op(&f, OP_ECDH, part, &out->ecdh_us) ||
	    time_op(&f, OP_PARSE, part, &out->cert_parse_us) ||
	    time_op(&f, OP_KDF, part, &out->kdf_us) ||
	    time_op(&f, OP_BSP, part, &out->bsp_us)) {
		snprintf(err, errsz, "a crypto operation failed in the breakdown");
		goto out;
	}
	rc = 0;
out:
	fl_close(&f);
	return rc;
}

void floor_json(FILE *f, const struct floor_result *r)
{
	fprintf(f, "{\"curve\":\"%s\",\"iterations\":%ld,\"download_ms\":%.4f,"
		"\"signs\":%d,\"verifies\":%d,\"bsp_bytes\":%zu,\"op_us\":{\"sign\":%.1f,"
		"\"verify\":%.1f,\"cert_verify\":%.1f,\"keygen\":%.1f,\"point_import\":%.1f,"
		"\"ecdh\":%.1f,\"kdf\":%.2f,\"bsp\":%.1f,\"cert_parse\":%.1f}}",
		r->curve == CURVE_BRAINPOOL_P256R1 ? "brainpool" : "nist", r->iterations,
		r->download_us / 1000.0, r->signs, r->verifies, r->bsp_bytes, r->sign_us,
		r->verify_us, r->cert_verify_us, r->keygen_us, r->point_us, r->ecdh_us, r->kdf_us,
		r->bsp_us, r->cert_parse_us);
}
