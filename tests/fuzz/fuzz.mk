# libFuzzer targets (tests/fuzz/fuzz_*.c), included from tests/tests.mk.
#   make fuzz         each target for FUZZ_SECONDS [60], executions reported
#   make fuzz-smoke   each target for 10 s (CI)
#   make fuzz-build   the libFuzzer binaries only: $(O)/fuzz/<target>
#   make fuzz-replay  seed corpora and regressions through the gcc replay
#                     drivers ($(B)/fuzz/replay_<target>; SAN=1 for ASan)
# The libFuzzer build compiles libusnet's sources again with clang and
# -fsanitize=fuzzer-no-link,address,undefined in its own directory; `make
# test` replays the corpora through tests/sim/test_fuzz_replay.c instead.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_B := $(O)/fuzz
FUZZ_ALL := fuzz_wire fuzz_frame fuzz_tcp_opts
FUZZ_TARGETS ?= $(foreach t,$(FUZZ_ALL),$(if $(wildcard tests/fuzz/$(t).c),$(t)))

# Shared by every target: the replay/finding helpers and the stack fixture.
FUZZ_SUPPORT_SRCS := tests/fuzz/fuzz_replay.c $(wildcard tests/fuzz/fuzz_fixture.c)
# Without lib/tcp the weak stand-ins of tests/common fill the TCP hooks.
# tests/common/pagetree.c and tcpfx.c assert with cmocka, which the fuzz binaries do not link.
FUZZ_NO_CMOCKA := tests/common/pagetree.c tests/common/tcpfx.c
FUZZ_COMMON_SRCS := $(filter-out $(FUZZ_NO_CMOCKA),$(if $(wildcard lib/tcp/*.c),$(filter-out tests/common/tcp_weak.c,$(TEST_COMMON_SRCS)),$(TEST_COMMON_SRCS)))
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_B)/obj/%.o) $(FUZZ_COMMON_SRCS:%.c=$(FUZZ_B)/obj/%.o) \
	$(FUZZ_SUPPORT_SRCS:%.c=$(FUZZ_B)/obj/%.o)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_B)/%)

FUZZ_WARN := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wswitch
FUZZ_CFLAGS := -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all $(FUZZ_WARN) -Iinclude -Ilib -Iarch/sim -Itests/common -Itests/fuzz -MMD -MP

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BINS): $(FUZZ_B)/%: $(FUZZ_B)/obj/tests/fuzz/%.o tests/fuzz/fuzz_entry.c $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -DFUZZ_ENTRY=$*_one tests/fuzz/fuzz_entry.c \
		$(filter %.o,$^) -o $@

# gcc replay drivers, in the normal ($(B) = build/rel) or SAN=1 build.
FUZZ_REPLAYS := $(FUZZ_TARGETS:%=$(B)/fuzz/replay_%)
FUZZ_REPLAY_OBJS := $(filter-out $(FUZZ_NO_CMOCKA:%.c=$(B)/%.o),$(TEST_COMMON_OBJS))
$(FUZZ_REPLAYS): $(B)/fuzz/replay_%: tests/fuzz/%.c tests/fuzz/replay_main.c tests/fuzz/fuzz_entry.c $(FUZZ_SUPPORT_SRCS) \
		$(wildcard tests/fuzz/*.h) $(FUZZ_REPLAY_OBJS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Itests/common -Itests/fuzz -DFUZZ_ENTRY=$*_one tests/fuzz/$*.c \
		tests/fuzz/replay_main.c tests/fuzz/fuzz_entry.c $(FUZZ_SUPPORT_SRCS) $(FUZZ_REPLAY_OBJS) $(LIBA) \
		$(LDFLAGS_COMMON) -o $@

# The cmocka replay test (tests/sim/test_fuzz_replay.c) links every target.
TEST_EXTRA_SRCS_test_fuzz_replay := $(FUZZ_TARGETS:%=tests/fuzz/%.c) $(FUZZ_SUPPORT_SRCS)
$(B)/tests/sim/test_fuzz_replay: $(TEST_EXTRA_SRCS_test_fuzz_replay) $(wildcard tests/fuzz/*.h)

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-replay
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@tests/fuzz/run_fuzz.sh "$(FUZZ_B)" "$(FUZZ_SECONDS)" $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@tests/fuzz/run_fuzz.sh "$(FUZZ_B)" 10 $(FUZZ_TARGETS)

fuzz-replay: $(FUZZ_REPLAYS)
	@for t in $(FUZZ_TARGETS); do \
		r=tests/fuzz/regressions/$$t; [ -d $$r ] || r=; \
		$(B)/fuzz/replay_$$t tests/fuzz/corpus/$$t $$r || exit 1; done

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_TARGETS:%=$(FUZZ_B)/obj/tests/fuzz/%.d)
