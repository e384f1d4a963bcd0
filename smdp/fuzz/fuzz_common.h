/*
 * fuzz_common.h - what the libFuzzer targets and the seed generator share:
 * a real server context (struct smdp on certs/, profiles/ and a temp store)
 * and the ES9+ fixture, RSP sessions with fixed transactionIds and
 * challenges in each state, so that seeds made once by gen_seeds.c get past
 * the session lookup, certificate and signature checks of es9p.c when the
 * fuzzer replays them (SGP.22 5.6.2 - 5.6.5).
 */
#ifndef SMDP_FUZZ_COMMON_H
#define SMDP_FUZZ_COMMON_H

#include "smdp.h"

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points (the harness has no context argument, so each
 * target keeps its context in one file-scope struct). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FX_CI        "sgp26-nist"                /* certs/ set of the fixture */
#define FX_EUICC_DIR "certs/sgp26-nist/euicc"    /* SGP.26 test eUICC */
#define FX_PROFILE   "TS48v2_SAIP2.3_NoBERTLV"   /* profile bound in the sessions */

/* One session per ES9+ state a request can find (es9p.c load_session). */
enum fx_session {
	FX_AUTH_STARTED = 0,   /* authenticateClient */
	FX_CLIENT_AUTHED = 1,  /* getBoundProfilePackage, cancelSession */
	FX_BPP_SENT = 2,       /* handleNotification (PIR) */
	FX_COUNT
};

/* transactionId of session i: 16 bytes of 0xA1 + i. */
void fx_txid(enum fx_session i, uint8_t out[16]);
/* The serverChallenge the sessions hold (euiccSigned1 must echo it). */
extern const uint8_t fx_server_challenge[SMDP_CHAL_LEN];
/* smdpSignature2 the authed sessions hold: euiccSignature2 covers it
 * (5.6.2), so the generator's eUICC signs over this value. */
extern const uint8_t fx_smdp_signature2[SMDP_SIG_LEN];

/* A server context as build/smdp sets it up (main.c): built-in defaults,
 * PKI from certs/, profiles from profiles/, a fresh SQLite store at db. */
struct fuzz_smdp {
	struct smdp_config cfg;
	struct smdp d;
	char db[512];
	int fixture_stored;   /* the fixture sessions exist in this store */
};
/* Open everything; paths relative to the repo root (see fuzz_chdir_root).
 * Removes an old db first. 0 / -1 with a reason in err. */
int fuzz_smdp_open(struct fuzz_smdp *f, const char *db, char *err, size_t errsz);
/* Close the store, free PKI and profiles, delete the db files. */
void fuzz_smdp_close(struct fuzz_smdp *f);

/* The fixture's template sessions (caller frees with es9_fixture_free). */
struct es9_fixture {
	struct session s[FX_COUNT];
};
/* Build the sessions from f's PKI and profiles and the test eUICC's
 * certificates. 0 / -1 with a reason in err. */
int es9_fixture_make(const struct fuzz_smdp *f, struct es9_fixture *fx, char *err,
		     size_t errsz);
/* Write the sessions into the store (insert or overwrite) and drop the
 * eUICC's binding of FX_PROFILE, so every input starts from the same state.
 * 0 / -1. */
int es9_fixture_install(struct fuzz_smdp *f, const struct es9_fixture *fx);
void es9_fixture_free(struct es9_fixture *fx);

/* Make the repo root the working directory: stay if ./certs exists, else
 * go to argv0's directory/../.. (binaries live in build/fuzz/). 0 / -1. */
int fuzz_chdir_root(const char *argv0);

#endif /* SMDP_FUZZ_COMMON_H */
