# smdp - SM-DP+ reference server. `make run` and `make test` are all a fresh
# Debian 12 machine needs: they install missing packages, build and run.

CC       ?= cc
BUILD    ?= build
SAN      ?=
CFLAGS_OWN := -std=c11 -D_DEFAULT_SOURCE -O2 -g -Wall -Wextra -Werror -Ismdp -Ismdp/asn1/gen \
	-MMD -MP
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
# ThreadSanitizer, by hand: make BUILD=build/tsan SAN=thread all
ifeq ($(SAN),thread)
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif
LDLIBS   := -lcivetweb -lssl -lcrypto -lsqlite3 -lcjson -lpthread -ldl

PKGS := build-essential asn1c libssl-dev libcivetweb-dev libsqlite3-dev libcjson-dev \
	openssl sqlite3 curl xxd pkg-config clang libclang-rt-14-dev gnuplot-nox libqrencode-dev zlib1g-dev chromium zbar-tools

.DEFAULT_GOAL := all
include smdp/asn1/asn1.mk

# Our code: one file per spec interface or library seam (README, "Code layout").
LIB_SRCS := util.c log.c rsp_status.c config.c crypto.c scp03t.c der.c pki.c saip.c tls.c \
	bpp.c store.c http.c httpc.c es9p.c es9p_json.c es9p_asn1.c
# ES2+ and the profile lifecycle (orders), README "Download orders"
LIB_SRCS += orders.c es2p.c es2p_json.c
# Profile packages: personalization (smdp-admin personalize)
LIB_SRCS += personalize.c
CLIENT_SRCS := client/euicc.c client/lpa.c
TESTS := crypto_test scp03t_test der_test store_test http_test client_euicc_test
TESTS += es2p_test
TESTS += saip_test
# helpers the end-to-end scripts run (not tests themselves): build/test-tools/
TEST_TOOLS := es2_peer

LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLIENT_OBJS := $(CLIENT_SRCS:%.c=$(BUILD)/obj/%.o)
ASN1_OBJS   := $(ASN1_SRCS:$(ASN1_GEN_DIR)/%.c=$(BUILD)/asn1/%.o)
SHIM        := $(BUILD)/libssl.so
# The shim must come first so that civetweb's dlopen("libssl.so") finds it.
SHIM_LINK    = -Wl,--no-as-needed $(SHIM) -Wl,--as-needed
RPATH_BIN   := -Wl,-rpath,'$$ORIGIN'
RPATH_TEST  := -Wl,-rpath,'$$ORIGIN/..'

.PHONY: all deps run test test-asan clean asn1
# keep objects of test programs between runs
.SECONDARY:
all: deps key-perms $(BUILD)/smdp $(BUILD)/smdp-client $(BUILD)/smdp-admin \
	$(TEST_TOOLS:%=$(BUILD)/test-tools/%) $(BUILD)/smdp-pki $(TESTS:%=$(BUILD)/tests/%)

# git keeps no mode 0600: smdp refuses private keys that group or others
# may read (README, "Hostile clients and secrets"), so a fresh clone fixes them.
.PHONY: key-perms
key-perms:
	@chmod go-rwx certs/*/*.key.pem certs/*/euicc/*.key.pem

# Install what is missing (Debian 12); quiet when everything is there.
deps:
	@missing=$$(for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(BUILD)/obj/%.o: smdp/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OWN) $(SANFLAGS) -c $< -o $@

$(BUILD)/asn1/%.o: $(ASN1_GEN_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g $(ASN1_CFLAGS) $(SANFLAGS) $(if $(SANFLAGS),$(ASN1_NOSAN_CFLAGS)) -c $< -o $@

$(BUILD)/libsmdp.a: $(LIB_OBJS) $(ASN1_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(SHIM): smdp/sslshim.c
	@mkdir -p $(BUILD)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -fPIC -shared -Wl,-soname,libssl.so $< \
		-o $@ -Wl,--no-as-needed -lssl -lcrypto

$(BUILD)/smdp: $(BUILD)/obj/main.o $(BUILD)/libsmdp.a $(SHIM)
	$(CC) $(SANFLAGS) -o $@ $(BUILD)/obj/main.o $(SHIM_LINK) $(BUILD)/libsmdp.a $(LDLIBS) $(RPATH_BIN)

$(BUILD)/smdp-client: $(BUILD)/obj/client/main.o $(CLIENT_OBJS) $(BUILD)/libsmdp.a $(SHIM)
	$(CC) $(SANFLAGS) -o $@ $(BUILD)/obj/client/main.o $(CLIENT_OBJS) $(SHIM_LINK) \
		$(BUILD)/libsmdp.a $(LDLIBS) $(RPATH_BIN)

$(BUILD)/smdp-pki: $(BUILD)/obj/pkitool.o $(BUILD)/libsmdp.a
	$(CC) $(SANFLAGS) -o $@ $< $(BUILD)/libsmdp.a $(LDLIBS)

$(BUILD)/smdp-admin: $(BUILD)/obj/admin.o $(BUILD)/libsmdp.a $(SHIM)
	$(CC) $(SANFLAGS) -o $@ $(BUILD)/obj/admin.o $(SHIM_LINK) $(BUILD)/libsmdp.a $(LDLIBS) \
		$(RPATH_BIN)

$(BUILD)/test-tools/%: $(BUILD)/obj/tests/%.o $(BUILD)/libsmdp.a $(SHIM)
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -o $@ $< $(SHIM_LINK) $(BUILD)/libsmdp.a $(LDLIBS) $(RPATH_TEST)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(CLIENT_OBJS) $(BUILD)/libsmdp.a $(SHIM)
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -o $@ $< $(CLIENT_OBJS) $(SHIM_LINK) $(BUILD)/libsmdp.a $(LDLIBS) \
		$(RPATH_TEST)

# Start the server on its built-in defaults (Ctrl-C stops it).
run: all
	$(BUILD)/smdp

# The whole suite: unit tests, known-answer tests, end-to-end downloads.
test: all
	BUILD=$(BUILD) scripts/run-tests

# The same suite with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps
	$(MAKE) BUILD=build/asan SAN=1 all
	BUILD=build/asan ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 scripts/run-tests

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Fragments with their own targets: fuzzing (make fuzz) and the benchmark.
-include smdp/fuzz/fuzz.mk
-include smdp/bench/bench.mk
-include smdp/lab.mk
