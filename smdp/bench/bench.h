/* bench.h - smdp-bench: complete ES9+ downloads against an SM-DP+ with many
 * concurrent software eUICCs (the smdp-client code, in-process), measured
 * against the crypto floor of one download (issue 8, "Performance").
 * bench.c drives the load and reports; floor.c measures the floor; stats.c
 * holds percentiles, /proc readers and JSON output helpers. */
#ifndef SMDP_BENCH_H
#define SMDP_BENCH_H

#include "client/client.h"

#include <stdio.h>
#include <sys/types.h>

/* Named limits of the benchmark's own inputs. */
#define BENCH_MAX_CONCURRENCY 1024       /* worker threads (one connection each) */
#define BENCH_MAX_DURATION    3600       /* seconds of one measurement */
#define BENCH_MAX_COUNT       10000000L  /* downloads or sessions of one measurement */
#define BENCH_MAX_SAMPLES     (1L << 22) /* latency samples kept per series */
#define BENCH_MAX_ERROR_TEXT  256        /* first error message kept */
#define BENCH_CHECKPOINTS     10         /* RSS samples of the in-flight measurement */
#define BENCH_MAX_IDENTITIES  100000     /* --new-euicc pool */
#define BENCH_MAX_CPUS        256        /* CPUs whose busy time a run reports */

/* ------------------------------------------------------------------ */
/* stats.c: latency samples, percentiles, /proc readers, JSON text. */

/* A growable series of latency samples in milliseconds. Samples past
 * BENCH_MAX_SAMPLES are counted but not kept. */
struct samples {
	double *v;
	size_t n, cap;
	size_t dropped;
};
/* Add one sample. 0 / -1 (out of memory: the sample is counted as dropped). */
int samples_add(struct samples *s, double ms);
/* Append every sample of src to dst. 0 / -1. */
int samples_merge(struct samples *dst, const struct samples *src);
void samples_free(struct samples *s);

/* Summary of a series: nearest-rank percentiles (SGP-independent, the usual
 * definition: the smallest sample with at least p% of the samples at or
 * below it). All zero for an empty series. */
struct pct {
	size_t n;
	double mean, p50, p95, p99, max;
};
/* Sorts s->v in place. */
void samples_summary(struct samples *s, struct pct *out);

/* What /proc says about a local process (Linux proc(5)). */
struct proc_snap {
	int ok;                 /* 1 if the process was readable */
	double cpu_s;           /* utime + stime of all its threads, seconds */
	long rss_kb;            /* VmRSS */
	long hwm_kb;            /* VmHWM: peak resident set */
	long threads;           /* Threads */
};
/* Read /proc/<pid>/stat and /proc/<pid>/status. pid <= 0 leaves out->ok 0.
 * 0 / -1 (process gone or unreadable; out->ok 0). */
int proc_read(pid_t pid, struct proc_snap *out);

/* CPU seconds the whole machine has been busy (all CPUs, all processes:
 * user, nice, system, irq, softirq, steal of /proc/stat's "cpu" line), and
 * from the same read each CPU's own (its "cpuN" line): per_cpu[N] for CPU N
 * below max, 0 for CPUs not listed (offline). per_cpu may be NULL. The
 * number of per_cpu entries used (highest N + 1), or -1 if /proc/stat
 * cannot be read. */
int machine_busy_s(double *busy, double *per_cpu, int max);
/* CPU seconds this process has used (all threads), from getrusage. */
double self_cpu_s(void);
/* Monotonic wall clock in seconds. */
double now_s(void);

/* Write s as a JSON string literal (quotes, escapes) to f. */
void json_string(FILE *f, const char *s);
/* Write "name":{"n":..,"mean":..,"p50":..,...} to f. */
void json_pct(FILE *f, const char *name, const struct pct *p);

/* ------------------------------------------------------------------ */
/* floor.c: the crypto floor of one download, measured with the project's
 * own crypto.c / scp03t.c functions on this machine. */

/* What the floor is computed for: one CI directory of the test PKI (keys
 * of the same curve as the server's) and the sizes the BSP protects. */
struct floor_in {
	const char *pki_dir;      /* e.g. certs/sgp26-nist */
	size_t profile_len;       /* unprotected profile package, bytes */
	size_t metadata_len;      /* StoreMetadataRequest BF25, bytes */
	double seconds;           /* CPU seconds spent on the whole-download loop */
};

/* Microseconds of CPU per operation, and per download. */
struct floor_result {
	enum crypto_curve curve;
	long iterations;          /* whole-download sequences timed, all batches */
	double download_us;       /* the floor: CPU per download, one core, best batch */
	double sign_us;           /* crypto_sign (ECDSA + SHA-256) */
	double verify_us;         /* crypto_verify */
	double cert_verify_us;    /* crypto_cert_signed_by (X.509 signature) */
	double keygen_us;         /* crypto_key_generate + crypto_key_point */
	double point_us;          /* crypto_key_from_point (import + checks of otPK.EUICC) */
	double ecdh_us;           /* crypto_ecdh */
	double kdf_us;            /* scp03t_derive (X9.63 KDF) */
	double bsp_us;            /* scp03t_wrap of every segment (AES-CBC + CMAC) */
	size_t bsp_bytes;         /* plaintext bytes the BSP protected */
	double cert_parse_us;     /* crypto_cert_from_der_lite of CERT.EUICC, as pki.c
	                             parses it: not crypto, not in the floor; shown
	                             because the server does it per new device */
	int signs, verifies;      /* operations counted into download_us */
};

/* Time the server-side crypto of one complete download (SGP.22 3.1.2 and
 * 3.1.3 as es9p.c / bpp.c / pki.c do it): 3 signatures (serverSigned1,
 * smdpSigned2, BF23 smdpSign), 5 verifications (CERT.EUM by the CI,
 * CERT.EUICC by the EUM, euiccSignature1, euiccSignature2, the PIR's
 * euiccSignPIR), one one-time key pair, one point import + ECDH, the KDF
 * and the BSP protection of ConfigureISDP, StoreMetadata and the profile.
 * Single-threaded, CPU time of the calling thread, the best of a few
 * batches (and likewise for each operation of the breakdown). 0 / -1 with a
 * reason. */
int floor_measure(const struct floor_in *in, struct floor_result *out, char *err,
		  size_t errsz);
/* Write the result as one JSON object (no newline) to f. */
void floor_json(FILE *f, const struct floor_result *r);

#endif /* SMDP_BENCH_H */
