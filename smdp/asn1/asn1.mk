# smdp/asn1/asn1.mk: the asn1c 0.9.28 code generated from our ASN.1 modules.
# Included by the top-level Makefile; paths are relative to the repo root.
# The generated tree smdp/asn1/gen/ is committed; `make asn1` rebuilds it.

ASN1_DIR     := smdp/asn1
ASN1_GEN_DIR := $(ASN1_DIR)/gen
ASN1_MODULES := $(ASN1_DIR)/rsp.asn $(ASN1_DIR)/rsp-opaque.asn $(ASN1_DIR)/pe.asn
ASN1_SRCS    := $(wildcard $(ASN1_GEN_DIR)/*.c)
ASN1C        ?= asn1c
ASN1C_FLAGS  := -fcompound-names -fno-include-deps -fincludes-quoted

# Generated code is not ours to fix: relaxed warnings and no -Werror.
# -D_DEFAULT_SOURCE avoids hundreds of deprecation warnings from the runtime.
# ASN_DEBUG is an empty function in the 0.9.28 runtime but its arguments
# (tag-to-string formatting) are still evaluated on every call: compile it out.
ASN1_CFLAGS  := -D_DEFAULT_SOURCE -D'ASN_DEBUG(...)=((void)0)' -I $(ASN1_GEN_DIR) -Wno-array-bounds \
	-Wno-implicit-fallthrough -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers -Wno-unused-but-set-variable \
	-Wno-unused-variable -Wno-unused-function -Wno-parentheses \
	-Wno-stringop-overflow -Wno-unknown-warning-option
# Append after any -fsanitize=... when building the generated runtime with
# sanitizers. asn1c's runtime (STACK-NOTES) left-shifts negative values
# (INTEGER.c), calls memcpy(dst, NULL, 0) (der_encoder.c), computes NULL + 0
# (UTF8String.c) and, on a hostile BIT STRING whose unused-bits octet is > 7,
# shifts by more than 31 (OCTET_STRING.c) before asn_check_constraints
# rejects the value. Our own code stays fully checked.
ASN1_NOSAN_CFLAGS := -fno-sanitize=shift-base,shift-exponent,nonnull-attribute,pointer-overflow

# Defining a rule here must not make `asn1` the default goal of the
# including Makefile: remember the goal and restore it below.
ASN1_SAVED_GOAL := $(.DEFAULT_GOAL)

.PHONY: asn1
# asn1c writes into the current directory, so run it inside gen/ with the
# modules given relative to it (they are recorded in the file headers).
asn1: $(ASN1_MODULES)
	mkdir -p $(ASN1_GEN_DIR)
	rm -f $(ASN1_GEN_DIR)/*.c $(ASN1_GEN_DIR)/*.h $(ASN1_GEN_DIR)/Makefile.am.sample
	cd $(ASN1_GEN_DIR) && { $(ASN1C) $(ASN1C_FLAGS) \
		$(patsubst $(ASN1_DIR)/%,../%,$(ASN1_MODULES)) >asn1c.log 2>&1 \
		|| { cat asn1c.log; rm -f asn1c.log; exit 1; }; }; rm -f asn1c.log
	rm -f $(ASN1_GEN_DIR)/converter-sample.c $(ASN1_GEN_DIR)/Makefile.am.sample

.DEFAULT_GOAL := $(ASN1_SAVED_GOAL)
