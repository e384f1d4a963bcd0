/*
 * fuzz_config.c - libFuzzer target for config_load_file (config.c): the
 * input is the whole configuration file. config_load_file takes a path, so
 * each input is written to one temp file first. After any outcome the
 * config must still be printable (config_print) with terminated strings,
 * and a failure must leave a terminated reason naming the file.
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REQUIRE(c) do { if (!(c)) { \
	fprintf(stderr, "fuzz_config: contract broken: %s (line %d)\n", #c, __LINE__); \
	abort(); } } while (0)

/* libFuzzer gives the callbacks no context argument: the temp file path
 * and the sink for config_print live here for the whole run. */
static struct {
	char path[256];
	FILE *sink;
} ctx;

static void cleanup(void)
{
	if (ctx.path[0])
		unlink(ctx.path);
	if (ctx.sink)
		fclose(ctx.sink);
}

/* libFuzzer start-up: choose the temp file (tmpfs when there is one). 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	(void)argc;
	(void)argv;
	snprintf(ctx.path, sizeof(ctx.path), "%s/smdp-fuzz-config.%ld", dir, (long)getpid());
	ctx.sink = fopen("/dev/null", "w");
	if (!ctx.sink)
		abort();
	atexit(cleanup);
	return 0;
}

static int terminated(const char *s, size_t sz)
{
	return memchr(s, '\0', sz) != NULL;
}

/* One input: a configuration file. Always 0 (findings abort). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smdp_config cfg;
	char err[512];
	FILE *f;
	int rc;

	if (size > 64 * 1024)
		return 0;
	f = fopen(ctx.path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	config_defaults(&cfg);
	memset(err, 0x55, sizeof(err));
	rc = config_load_file(&cfg, ctx.path, err, sizeof(err));
	REQUIRE(rc == 0 || rc == -1);
	if (rc)
		REQUIRE(terminated(err, sizeof(err)) && strstr(err, ctx.path) == err);
	REQUIRE(terminated(cfg.fqdn, sizeof(cfg.fqdn)) && terminated(cfg.db_path, sizeof(cfg.db_path)) &&
		terminated(cfg.certs_dir, sizeof(cfg.certs_dir)) &&
		terminated(cfg.profiles_dir, sizeof(cfg.profiles_dir)) &&
		terminated(cfg.default_profile, sizeof(cfg.default_profile)));
	REQUIRE(cfg.n_es9 <= SMDP_MAX_LISTENERS);
	for (size_t i = 0; i < cfg.n_es9; i++)
		REQUIRE(terminated(cfg.es9[i].addr, sizeof(cfg.es9[i].addr)) &&
			terminated(cfg.es9[i].cert, sizeof(cfg.es9[i].cert)) &&
			terminated(cfg.es9[i].key, sizeof(cfg.es9[i].key)) &&
			cfg.es9[i].port >= -1 && cfg.es9[i].port <= 65535);
	REQUIRE(cfg.host_id_len >= 1 && cfg.host_id_len <= sizeof(cfg.host_id));
	REQUIRE(cfg.log_level >= LOG_ERROR && cfg.log_level <= LOG_DEBUG);
	REQUIRE(cfg.session_timeout > 0 && cfg.session_keep > 0 && cfg.threads > 0);
	config_print(&cfg, ctx.sink);
	return 0;
}
