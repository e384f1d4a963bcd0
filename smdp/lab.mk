# smdp/lab.mk - the lab features (issue 7): fault injection, session traces,
# metrics, the admin listener with its console (smdp/web/), and smdp-lab,
# the CLI for rules and traces. Included by the Makefile after fuzz.mk.
#
#   build/smdp-lab          CLI: fault rules, traces, sessions (on the database)
#   build/tests/lab_test    unit tests

# The hooks es9p_json.c calls (no sockets, no images: the fuzzing build
# links them too), then the admin listener.
LAB_HOOK_SRCS := lab.c faults.c trace.c metrics.c
LAB_SRCS      := $(LAB_HOOK_SRCS) console.c
LAB_OBJS      := $(LAB_SRCS:%.c=$(BUILD)/obj/%.o)
LDLIBS        += -lqrencode -lz

$(BUILD)/libsmdp.a: $(LAB_OBJS)

all: $(BUILD)/smdp-lab $(BUILD)/tests/lab_test

$(BUILD)/smdp-lab: $(BUILD)/obj/lab_cli.o $(BUILD)/libsmdp.a $(SHIM)
	$(CC) $(SANFLAGS) -o $@ $< $(SHIM_LINK) $(BUILD)/libsmdp.a $(LDLIBS) $(RPATH_BIN)

ifneq ($(FUZZ_BUILD),)
$(FUZZ_BUILD)/libfuzzsmdp.a: $(LAB_HOOK_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)
endif
