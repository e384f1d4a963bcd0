# smdp/fuzz/fuzz.mk: libFuzzer targets for every decoder that takes outside
# input (issue 9). Included by the top-level Makefile; paths are relative to
# the repo root. See smdp/fuzz/README.md.
#
#   make fuzz            build, then run each target FUZZ_SECONDS (default 60)
#                        on its seeds + its growing corpus; print executions
#                        and crashes per target
#   make fuzz-build      only build build/fuzz/<target>
#   make fuzz-smoke      the short run of `make test` (smdp/tests/e2e_fuzz.sh)
#   make fuzz-seeds      regenerate test-vectors/fuzz-seeds/ from a real
#                        in-process download (smdp/fuzz/gen_seeds.c)
#
# FUZZ_TARGETS=a,b picks targets, FUZZ_JOBS (default: cores) runs that many
# at once. Crash inputs land in build/fuzz/artifacts/<target>/; copy each one
# into test-vectors/fuzz-regress/<target>/ so the smoke run replays it.

FUZZ_BUILD  := build/fuzz
FUZZ_CC     ?= clang
# Our code: the house flags (Makefile CFLAGS_OWN without -MMD) plus the
# sanitizers; coverage instrumentation everywhere, libFuzzer's main at link.
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := $(filter-out -MMD -MP,$(CFLAGS_OWN)) -Ismdp/client $(FUZZ_SAN) \
	-fsanitize=fuzzer-no-link
FUZZ_LIBS   := $(LDLIBS)

# The targets link the whole server library of the Makefile (LIB_SRCS), so
# whatever a decoder calls is there; nothing starts a listener or opens a
# socket while fuzzing.
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/fuzz/es9_fixture.o \
	$(FUZZ_BUILD)/obj/fuzz/es2_fixture.o \
	$(ASN1_SRCS:$(ASN1_GEN_DIR)/%.c=$(FUZZ_BUILD)/asn1/%.o)

# ---- The targets: one line each -----------------------------------------
# $(call fuzz_target,NAME,SOURCE,EXTRA_CFLAGS): build/fuzz/NAME from
# smdp/fuzz/SOURCE; seeds in test-vectors/fuzz-seeds/NAME/, regression
# inputs in test-vectors/fuzz-regress/NAME/.
FUZZ_NAMES :=
define fuzz_target
FUZZ_NAMES += $(1)
$(FUZZ_BUILD)/$(1): smdp/fuzz/$(2) smdp/fuzz/fuzz_common.h $(FUZZ_BUILD)/libfuzzsmdp.a
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer $(3) -o $$@ $$< \
		$(FUZZ_BUILD)/libfuzzsmdp.a $$(FUZZ_LIBS)
endef

# ASN.1 structures the server decodes (SGP.22 5.6, ES9+)
$(eval $(call fuzz_target,der_euicc_info1,fuzz_der.c,-DFUZZ_DER=euicc_info1))
$(eval $(call fuzz_target,der_auth_server_resp,fuzz_der.c,-DFUZZ_DER=auth_server_resp))
$(eval $(call fuzz_target,der_prepare_download_resp,fuzz_der.c,-DFUZZ_DER=prepare_download_resp))
$(eval $(call fuzz_target,der_pending_notification,fuzz_der.c,-DFUZZ_DER=pending_notification))
$(eval $(call fuzz_target,der_cancel_session_resp,fuzz_der.c,-DFUZZ_DER=cancel_session_resp))
$(eval $(call fuzz_target,der_euicc_info2,fuzz_der.c,-DFUZZ_DER=euicc_info2))
$(eval $(call fuzz_target,der_device_info,fuzz_der.c,-DFUZZ_DER=device_info))
# RemoteProfileProvisioningRequest (the ES9+ ASN.1 binding, SGP.22 6.7)
$(eval $(call fuzz_target,der_rpp_request,fuzz_der.c,-DFUZZ_DER=rpp_request))
# ASN.1 structures smdp-client decodes (what a hostile SM-DP+ sends)
$(eval $(call fuzz_target,der_server_signed1,fuzz_der.c,-DFUZZ_DER=server_signed1))
$(eval $(call fuzz_target,der_smdp_signed2,fuzz_der.c,-DFUZZ_DER=smdp_signed2))
$(eval $(call fuzz_target,der_store_metadata,fuzz_der.c,-DFUZZ_DER=store_metadata))
$(eval $(call fuzz_target,der_bf23,fuzz_der.c,-DFUZZ_DER=bf23))
$(eval $(call fuzz_target,der_bpp,fuzz_der.c,-DFUZZ_DER=bpp))
$(eval $(call fuzz_target,der_replace_session_keys,fuzz_der.c,-DFUZZ_DER=replace_session_keys))
# text decoders, the config file, profile package headers
$(eval $(call fuzz_target,b64_decode,fuzz_text.c,-DFUZZ_TEXT=b64))
$(eval $(call fuzz_target,hex_decode,fuzz_text.c,-DFUZZ_TEXT=hex))
$(eval $(call fuzz_target,config_file,fuzz_config.c,))
$(eval $(call fuzz_target,saip_header,fuzz_saip.c,))
# profile packages on import (saip_decode: server start-up, personalize)
$(eval $(call fuzz_target,saip_decode,fuzz_saip_decode.c,))
# the whole ES9+ JSON request path (first input byte selects the function)
$(eval $(call fuzz_target,es9p_json,fuzz_es9p_json.c,))
# the whole ES9+ ASN.1 binding path (the body's CHOICE selects the function)
$(eval $(call fuzz_target,es9p_asn1,fuzz_es9p_asn1.c,))
# the whole ES2+ JSON request path on an inventory in every lifecycle state
$(eval $(call fuzz_target,es2p_json,fuzz_es2p_json.c,))
# -------------------------------------------------------------------------

FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_TARGETS ?=

.PHONY: fuzz fuzz-build fuzz-smoke fuzz-seeds fuzz-list
fuzz-build: deps $(FUZZ_NAMES:%=$(FUZZ_BUILD)/%)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) FUZZ_TARGETS=$(FUZZ_TARGETS) \
		FUZZ_NAMES="$(strip $(FUZZ_NAMES))" smdp/fuzz/run.sh long

fuzz-smoke: fuzz-build
	FUZZ_NAMES="$(strip $(FUZZ_NAMES))" bash smdp/tests/e2e_fuzz.sh

fuzz-list:
	@echo $(FUZZ_NAMES)

$(FUZZ_BUILD)/obj/%.o: smdp/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

# Generated code: the sanitizer build's flags (Makefile), asn1c's known UB
# switched off (asn1.mk, ASN1_NOSAN_CFLAGS), still coverage-instrumented.
$(FUZZ_BUILD)/asn1/%.o: $(ASN1_GEN_DIR)/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -O2 -g $(ASN1_CFLAGS) $(FUZZ_SAN) $(ASN1_NOSAN_CFLAGS) \
		-fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libfuzzsmdp.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The seed generator plays a real download in-process (server + software
# eUICC), so it links the normal build, not the fuzzing one.
$(BUILD)/fuzz-gen-seeds: smdp/fuzz/gen_seeds.c smdp/fuzz/es9_fixture.c smdp/fuzz/es2_fixture.c \
		smdp/fuzz/fuzz_common.h \
		$(CLIENT_OBJS) $(BUILD)/libsmdp.a $(SHIM)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS_OWN)) -Ismdp/client $(SANFLAGS) -o $@ \
		smdp/fuzz/gen_seeds.c smdp/fuzz/es9_fixture.c smdp/fuzz/es2_fixture.c $(CLIENT_OBJS) $(SHIM_LINK) $(BUILD)/libsmdp.a $(LDLIBS) \
		$(RPATH_BIN)

fuzz-seeds: deps $(BUILD)/fuzz-gen-seeds
	$(BUILD)/fuzz-gen-seeds test-vectors/fuzz-seeds

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
