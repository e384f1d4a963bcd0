/*
 * fuzz_common.h - what the libFuzzer targets and the seed generator share:
 * a real server context (struct smdp on certs/, profiles/ and a temp store)
 * and the ES9+ fixture, RSP sessions with fixed transactionIds and
 * challenges in each state, so that seeds made once by gen_seeds.c get past
 * the session lookup, certificate and signature checks of es9p.c when the
 * fuzzer replays them (SGP.22 5.6.2 - 5.6.5); and the ES2+ fixture,
 * operators and an inventory in every lifecycle state (5.3).
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
/* libFuzzer start-up of a target that runs a server: the repo root as the
 * working directory (abort, naming target, when certs/ is not found), the
 * log level from FUZZ_LOG_LEVEL (0 error .. 3 debug, default 2 = info as
 * build/smdp runs; -close_fd_mask=2 drops the output), and the database
 * path for this process into db: /dev/shm (else /tmp)/smdp-fuzz-STEM.PID.db. */
void fuzz_server_init(char **argv, const char *target, const char *stem, char *db, size_t dbsz);
/* Open the server context on db and, the first time, make the ES9+
 * fixture sessions; abort (naming target) on failure. */
void es9_fuzz_open(struct fuzz_smdp *f, struct es9_fixture *fx, const char *db,
		   const char *target);

/* --- ES2+ fixture (es2_fixture.c): operators and an inventory with a
 * profile in every lifecycle state (SGP.22 5.3), for the es2p_json target
 * and its seeds. --- */
#define FX2_OP_A      "OP-A"      /* owns ta, pool, empty; any client certificate */
#define FX2_OP_B      "OP-B"      /* owns tb; pinned to FX2_PIN_CERT */
#define FX2_PIN_CERT  FX_EUICC_DIR "/eum.der"   /* any certificate will do as the pin */
#define FX2_EID1      "89049032123451234512345678901235"
#define FX2_EID2      "89049032123451234512345678901246"
#define FX2_CC        "1234"      /* confirmation code of the Confirmed order */
#define FX2_MAX       24

/* The inventory as first written, with the order of each profile (o[i].id
 * 0: none); orders with ids above max_order_id were made by inputs. */
struct es2_fixture {
	struct inv_profile p[FX2_MAX];
	struct order o[FX2_MAX];
	size_t n;
	int64_t max_order_id;
	int64_t scan_from;    /* first id the next reset looks at */
	struct buf pin;       /* DER of FX2_PIN_CERT (OP-B's) */
	struct buf other;     /* DER of another certificate */
};
/* fuzz_smdp_open, then the ES2+ configuration (orders mode, operators
 * OP-A and OP-B), the client certificates and the inventory rows in the
 * fresh store. 0 / -1 with a reason in err. */
int es2_fixture_open(struct fuzz_smdp *f, const char *db, struct es2_fixture *fx, char *err,
		     size_t errsz);
/* Free the certificates, then fuzz_smdp_close. */
void es2_fixture_close(struct fuzz_smdp *f, struct es2_fixture *fx);

/* The es2p_json input format (fuzz_es2p_json.c has the details): byte 0
 * selects the function (bits 0-1), the client certificate (bits 2-3),
 * X-Admin-Protocol (bits 4-5) and, with bits 6-7 both set, an odd HTTP
 * request (bits 2-3 say which); the rest is the body. */
enum { FX2_DOWNLOAD = 0, FX2_CONFIRM, FX2_CANCEL, FX2_RELEASE };
#define FX2_SEL(fn, cert, proto) ((uint8_t)((fn) | (cert) << 2 | (proto) << 4))
/* Write the fixture back, then hand the request sel + body (n bytes) to
 * es2p_json_handle as http.c would. rs is the caller's (free rs->body).
 * Returns the odd-request kind (0 unknown function, 1 GET, 2 wrong
 * Content-Type, 3 Content-Type in another case) or -1 for a normal one;
 * -2 if the fixture could not be written back. */
int es2_fixture_call(struct fuzz_smdp *f, struct es2_fixture *fx, uint8_t sel,
		     const uint8_t *body, size_t n, struct http_response *rs);
/* Put every fixture profile and order back as first written and retire
 * (active = 0) the orders inputs created, in one transaction. 0 / -1. */
int es2_fixture_install(struct fuzz_smdp *f, struct es2_fixture *fx);
/* The index of the fixture profile with this ICCID (digits), or -1. */
int es2_fixture_find(const struct es2_fixture *fx, const char *iccid);

#endif /* SMDP_FUZZ_COMMON_H */
