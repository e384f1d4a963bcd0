/*
 * lab_config.h - the lab options (issue 7) as they sit in the server's
 * configuration: a plain struct with no dependencies, so that smdp.h can
 * include it and struct smdp_config can carry it (member `lab`). What the
 * options mean: lab_config_set / lab_config_usage in lab.h.
 */
#ifndef SMDP_LAB_CONFIG_H
#define SMDP_LAB_CONFIG_H

#include <stddef.h>

#define LAB_MAX_NAME        48      /* fault rule name */
#define LAB_MAX_SPEC        512     /* fault rule text */
#define LAB_MAX_TOKEN       128     /* admin token characters */
#define LAB_MAX_CFG_FAULTS  32      /* fault.NAME lines in the configuration */

struct lab_cfg_fault {              /* fault.NAME = SPEC from the config */
	char name[LAB_MAX_NAME + 1];
	char spec[LAB_MAX_SPEC];
};

struct lab_config {
	char admin_addr[64];            /* admin listener address, "127.0.0.1" */
	int admin_port;                 /* 8446; -1 = no admin listener */
	int admin_explicit;             /* admin.listen was given: failing to bind is fatal */
	char admin_cert[512];           /* "" = that of the first ES9+ listener (DPtls) */
	char admin_key[512];
	char admin_token[LAB_MAX_TOKEN + 1];   /* "" = random, written to token_file */
	char token_file[512];           /* "" = <db>.admin-token */
	char web_dir[512];              /* console files, "smdp/web" */
	int traces;                     /* 1: record session traces */
	int trace_keep;                 /* seconds traces are kept */
	struct lab_cfg_fault faults[LAB_MAX_CFG_FAULTS];
	size_t n_faults;
};

#endif /* SMDP_LAB_CONFIG_H */
