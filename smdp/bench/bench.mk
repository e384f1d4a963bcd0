# smdp/bench/bench.mk - the benchmark (issue 8), included by the Makefile.
# build/smdp-bench links smdp-client's LPA + eUICC objects in-process; the
# ES9+ calls are timed through a link-time wrap of httpc_post (bench.c).
# It is a few small files, so `all` builds it and `make test` runs its smoke
# test (smdp/tests/e2e_bench.sh); `make bench` runs the whole matrix
# (scripts/bench, about 6 minutes on 2 cores).

BENCH_SRCS := $(wildcard smdp/bench/*.c)
BENCH_OBJS := $(BENCH_SRCS:smdp/%.c=$(BUILD)/obj/%.o)

.PHONY: bench
all: $(BUILD)/smdp-bench

$(BUILD)/smdp-bench: $(BENCH_OBJS) $(CLIENT_OBJS) $(BUILD)/libsmdp.a $(SHIM)
	$(CC) $(SANFLAGS) -o $@ $(BENCH_OBJS) $(CLIENT_OBJS) -Wl,--wrap=httpc_post $(SHIM_LINK) \
		$(BUILD)/libsmdp.a $(LDLIBS) $(RPATH_BIN)

bench: deps $(BUILD)/smdp $(BUILD)/smdp-bench
	BUILD=$(BUILD) BENCH_NO_BUILD=1 scripts/bench
