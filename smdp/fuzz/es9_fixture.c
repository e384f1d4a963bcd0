/* es9_fixture.c - the server context and the fixed ES9+ sessions shared by
 * the es9p_json fuzz target and the seed generator (see fuzz_common.h). */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const uint8_t fx_server_challenge[SMDP_CHAL_LEN] = {
	0x5C, 0x5C, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
	0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x5C, 0x5C,
};
/* Any 64 bytes: the server never re-verifies its own smdpSignature2, it
 * only appends it to what euiccSignature2 covers. */
const uint8_t fx_smdp_signature2[SMDP_SIG_LEN] = {
	0x52, 0x53, 0x50, 0x32, 0x5F, 0x66, 0x75, 0x7A, 0x7A, 0x5F, 0x73, 0x69, 0x67, 0x32, 0x00,
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E,
	0x1F, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D,
	0x2E, 0x2F, 0x30, 0x31,
};

void fx_txid(enum fx_session i, uint8_t out[16])
{
	memset(out, 0xA1 + (int)i, 16);
}

static void unlink_db(const char *db)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[600];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
		unlink(p);
	}
}

int fuzz_smdp_open(struct fuzz_smdp *f, const char *db, char *err, size_t errsz)
{
	memset(f, 0, sizeof(*f));
	config_defaults(&f->cfg);
	f->d.cfg = &f->cfg;
	snprintf(f->db, sizeof(f->db), "%s", db);
	unlink_db(f->db);
	if (pki_load(&f->d.pki, f->cfg.certs_dir, err, errsz) ||
	    saip_load_dir(&f->d.profiles, f->cfg.profiles_dir, err, errsz))
		goto fail;
	f->d.store = store_open(f->db, err, errsz);
	if (!f->d.store)
		goto fail;
	return 0;
fail:
	fuzz_smdp_close(f);
	return -1;
}

void fuzz_smdp_close(struct fuzz_smdp *f)
{
	if (!f)
		return;
	store_close(f->d.store);
	f->d.store = NULL;
	pki_free(&f->d.pki);
	saip_free(&f->d.profiles);
	if (f->db[0])
		unlink_db(f->db);
}

static int cert_file(const char *path, struct buf *out)
{
	crypto_cert *c = crypto_cert_load(path);
	const uint8_t *der;
	size_t n;
	int rc = -1;

	if (!c)
		return -1;
	der = crypto_cert_der(c, &n);
	rc = buf_set(out, der, n);
	crypto_cert_free(c);
	return rc;
}

int es9_fixture_make(const struct fuzz_smdp *f, struct es9_fixture *fx, char *err,
		     size_t errsz)
{
	const struct profile *prof = saip_find(&f->d.profiles, FX_PROFILE);
	crypto_cert *euicc = crypto_cert_load(FX_EUICC_DIR "/euicc.der");
	char eid[SMDP_EID_LEN + 1];
	int64_t now = (int64_t)time(NULL);
	int rc = -1;

	memset(fx, 0, sizeof(*fx));
	if (!prof || !pki_find(&f->d.pki, FX_CI) || !euicc ||
	    crypto_cert_subject_serial(euicc, eid, sizeof(eid))) {
		snprintf(err, errsz, "fixture: need profile %s, certs/%s and %s/euicc.der",
			 FX_PROFILE, FX_CI, FX_EUICC_DIR);
		goto out;
	}
	for (int i = 0; i < FX_COUNT; i++) {
		struct session *s = &fx->s[i];
		fx_txid((enum fx_session)i, s->txid);
		s->txid_len = 16;
		s->created = now;
		s->expires = now + 10 * 365 * 24 * 3600LL;  /* never during a run */
		snprintf(s->ci_name, sizeof(s->ci_name), "%s", FX_CI);
		memset(s->euicc_challenge, 0xEC, SMDP_CHAL_LEN);
		memcpy(s->server_challenge, fx_server_challenge, SMDP_CHAL_LEN);
		s->svn[0] = 2;
		s->svn[1] = 5;
		s->state = SESSION_AUTH_STARTED;
		if (i == FX_AUTH_STARTED)
			continue;
		/* what es9p_authenticate_client leaves behind */
		s->state = i == FX_CLIENT_AUTHED ? SESSION_CLIENT_AUTHED : SESSION_BPP_SENT;
		snprintf(s->eid, sizeof(s->eid), "%s", eid);
		snprintf(s->matching_id, sizeof(s->matching_id), "%s", FX_PROFILE);
		snprintf(s->profile_id, sizeof(s->profile_id), "%s", FX_PROFILE);
		memset(s->euicc_signature1, 0xE1, SMDP_SIG_LEN);
		memcpy(s->smdp_signature2, fx_smdp_signature2, SMDP_SIG_LEN);
		if (cert_file(FX_EUICC_DIR "/euicc.der", &s->euicc_cert) ||
		    cert_file(FX_EUICC_DIR "/eum.der", &s->eum_cert) ||
		    der_encode_smdp_signed2(s->txid, s->txid_len, 0, NULL, 0, &s->smdp_signed2) ||
		    der_encode_store_metadata(&prof->meta, &s->profile_metadata)) {
			snprintf(err, errsz, "fixture: cannot encode the session data");
			goto out;
		}
	}
	rc = 0;
out:
	crypto_cert_free(euicc);
	if (rc)
		es9_fixture_free(fx);
	return rc;
}

int es9_fixture_install(struct fuzz_smdp *f, const struct es9_fixture *fx)
{
	for (int i = 0; i < FX_COUNT; i++)
		if ((f->fixture_stored ? store_session_update : store_session_insert)(f->d.store,
										  &fx->s[i]))
			return -1;
	f->fixture_stored = 1;
	/* getBoundProfilePackage binds (eid, profile); authenticateClient
	 * would then offer that binding: start without one every time */
	return store_binding_delete(f->d.store, fx->s[FX_CLIENT_AUTHED].eid, FX_PROFILE) < 0 ? -1
											    : 0;
}

void es9_fixture_free(struct es9_fixture *fx)
{
	for (int i = 0; i < FX_COUNT; i++)
		session_free(&fx->s[i]);
}

int fuzz_chdir_root(const char *argv0)
{
	char dir[1024];
	char *slash;

	if (access("certs", F_OK) == 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s", argv0 ? argv0 : "");
	slash = strrchr(dir, '/');
	if (!slash)
		return -1;
	snprintf(slash, sizeof(dir) - (size_t)(slash - dir), "/../..");
	return chdir(dir) == 0 && access("certs", F_OK) == 0 ? 0 : -1;
}

void fuzz_server_init(char **argv, const char *target, const char *stem, char *db, size_t dbsz)
{
	const char *lvl = getenv("FUZZ_LOG_LEVEL");
	const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	if (fuzz_chdir_root(argv ? argv[0] : NULL)) {
		fprintf(stderr, "%s: run from the repo root (certs/ not found)\n", target);
		abort();
	}
	log_set_level(lvl && *lvl >= '0' && *lvl <= '3' ? (enum log_level)(*lvl - '0') : LOG_INFO);
	snprintf(db, dbsz, "%s/smdp-fuzz-%s.%ld.db", dir, stem, (long)getpid());
}

void es9_fuzz_open(struct fuzz_smdp *f, struct es9_fixture *fx, const char *db,
		   const char *target)
{
	char err[512];

	if (fuzz_smdp_open(f, db, err, sizeof(err)) ||
	    (!fx->s[0].txid_len && es9_fixture_make(f, fx, err, sizeof(err)))) {
		fprintf(stderr, "%s: %s\n", target, err);
		abort();
	}
}
