# Test build: every tests/unit/<layer>/test_*.c and tests/sim/test_*.c is
# one cmocka program linked with the helpers in tests/common/ and
# libusnet.a. The unit tests sit by the layer they test, as lib/ does:
# core, wire, net, tcp, stack (lib/<layer>), port (the HAL's ports under
# arch/) and app (apps/). A test that needs extra link flags sets
# TEST_LDFLAGS_<name> below (names stay unique across the layers).

TEST_COMMON_SRCS := $(wildcard tests/common/*.c)
TEST_COMMON_OBJS := $(TEST_COMMON_SRCS:%.c=$(B)/%.o)
TEST_UNIT_LAYERS := core wire net tcp stack port app
TEST_SRCS := $(wildcard $(TEST_UNIT_LAYERS:%=tests/unit/%/test_*.c)) $(wildcard tests/sim/test_*.c)
# A unit test outside a layer's folder would never run: say where it goes.
TEST_UNIT_STRAYS := $(strip $(wildcard tests/unit/test_*.c) $(filter-out $(TEST_UNIT_LAYERS:%=tests/unit/%/%),$(wildcard tests/unit/*/test_*.c)))
ifneq ($(TEST_UNIT_STRAYS),)
$(error $(firstword $(TEST_UNIT_STRAYS)): unit tests live in tests/unit/<layer>/ ($(TEST_UNIT_LAYERS)); move it there)
endif
TEST_BINS := $(TEST_SRCS:%.c=$(B)/%)

# The no-malloc test counts every allocation the worker makes after start.
TEST_LDFLAGS_test_nomalloc := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc,--wrap=posix_memalign
TEST_LDFLAGS_test_ring := -pthread
# A test that also compiles application sources lists them here (the page
# store and usn_load's corpus walk with apps/common/walk.c).
TEST_EXTRA_SRCS_test_http := $(wildcard apps/http/*.c) apps/common/walk.c
$(B)/tests/unit/app/test_http: $(TEST_EXTRA_SRCS_test_http)
TEST_EXTRA_SRCS_test_walk := apps/common/walk.c
$(B)/tests/unit/app/test_walk: $(TEST_EXTRA_SRCS_test_walk)
TEST_EXTRA_SRCS_test_http_sim := $(wildcard apps/http/*.c) apps/common/walk.c apps/minimal_ws/mws.c
$(B)/tests/sim/test_http_sim: $(TEST_EXTRA_SRCS_test_http_sim)
TEST_EXTRA_SRCS_test_load_sim := $(wildcard apps/http/*.c) apps/common/walk.c apps/minimal_ws/mws.c $(USN_LOAD_LIB_SRCS)
$(B)/tests/sim/test_load_sim: $(TEST_EXTRA_SRCS_test_load_sim)
TEST_EXTRA_SRCS_test_load := $(USN_LOAD_LIB_SRCS) apps/common/walk.c
$(B)/tests/unit/app/test_load: $(TEST_EXTRA_SRCS_test_load)

$(B)/tests/common/%.o: tests/common/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Itests/common -c $< -o $@

$(B)/tests/unit/% $(B)/tests/sim/%: CFLAGS_TEST = $(CFLAGS_COMMON) -Itests/common
$(B)/tests/unit/%: tests/unit/%.c $(TEST_COMMON_OBJS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TEST) $(TEST_EXTRA_SRCS_$(notdir $@)) $< $(TEST_COMMON_OBJS) $(LIBA) -lcmocka -lm $(LDFLAGS_COMMON) $(TEST_LDFLAGS_$(notdir $@)) -o $@
$(B)/tests/sim/%: tests/sim/%.c $(TEST_COMMON_OBJS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TEST) $(TEST_EXTRA_SRCS_$(notdir $@)) $< $(TEST_COMMON_OBJS) $(LIBA) -lcmocka -lm $(LDFLAGS_COMMON) $(TEST_LDFLAGS_$(notdir $@)) -o $@

# The full-size TCP pair run: 256 MiB each way and 100000 short connections
# at 5% loss, 2% duplication, 5% reordering, 1% corruption, with MSS frames,
# then with TSO and LRO; each over IPv4 (test_big_env) and over IPv6
# (test_big_env_v6), about 10 s in all.
.PHONY: test-big
test-big: $(B)/tests/sim/test_tcp_pair
	USN_TCP_BIG_MIB=256 USN_TCP_BIG_CONNS=100000 $(B)/tests/sim/test_tcp_pair
	USN_SIM_OFFLOADS=tso,lro,ext USN_TCP_BIG_MIB=256 USN_TCP_BIG_CONNS=100000 $(B)/tests/sim/test_tcp_pair

.PHONY: tests-build test-unit test-rig test-san
tests-build: $(TEST_BINS)

# Runs the unit and simulation suites of this build ($(B)), then the
# simulation suites (the fuzz replay among them) again with every simulated
# port offering TSO, LRO and zero-copy TX (USN_SIM_OFFLOADS,
# tests/common/simnet.h); fails when a test fails (tests/run-suite.sh),
# after both passes.
SIM_TEST_BINS := $(filter $(B)/tests/sim/%,$(TEST_BINS))
test-unit: tests-build check-layers check-exports
	@rc=0; tests/run-suite.sh "$(B)" $(TEST_BINS) || rc=1; \
	USN_SIM_OFFLOADS=tso,lro,ext USN_SUITE_LABEL=$(notdir $(B))-tso-lro tests/run-suite.sh "$(B)" $(SIM_TEST_BINS) || rc=1; \
	exit $$rc

# The whole test command: dependencies, both builds, the TILE-Gx modes, the
# cost-centre build, the runners' self-test, then the rig suites. Every step
# runs whatever the one before did (tests/run-step.sh records a step that
# fails without a failed test, a build error); tests/summary.sh prints the
# total and fails on any failure, or skip not opted out (USN_TEST_SKIP).
RUN_STEP = tests/run-step.sh $(O)/results.txt
test:
	@tests/deps.sh test
	@rm -f $(O)/results.txt
	@$(RUN_STEP) selftest $(MAKE) SAN=0 test-selftest
	@$(RUN_STEP) rel $(MAKE) SAN=0 test-unit
	@$(RUN_STEP) san $(MAKE) SAN=1 test-unit
	@$(RUN_STEP) tilegx $(MAKE) SAN=0 test-tilegx
	@$(RUN_STEP) tilegx-faults $(MAKE) SAN=0 test-tilegx-faults
	@$(RUN_STEP) prof $(MAKE) SAN=0 test-prof
	@$(RUN_STEP) rig $(MAKE) SAN=0 test-rig
	@tests/summary.sh $(O)/results.txt

# Rig suites (root, network namespaces); each script under tests/rig/,
# tests/http/ and tests/reliability/ named run_*.sh is one suite. All run;
# the target fails if one failed or skipped without an opt-out.
RIG_SUITES = $(sort $(wildcard tests/rig/run_*.sh tests/http/run_*.sh tests/reliability/run_*.sh))
test-rig: all
	@rc=0; for s in $(RIG_SUITES); do tests/run-script.sh "$(O)" "$$s" || rc=1; done; exit $$rc

# The runners themselves (tests/selftest/): a skipped suite fails, a crash
# or set-up error counts, an empty fuzz replay fails, a missing counter fails
# its check, the benchmark refuses a stale binary; and the layout checks
# (tests/layout/): an upward call, an upward include, a private function
# exported each fail. Seconds.
.PHONY: test-selftest
test-selftest: $(B)/tests/sim/test_fuzz_replay $(LIB_OBJS) $(LIBSO)
	@rc=0; B="$(B)" USN_SUITE_LABEL=selftest tests/run-script.sh "$(O)" tests/selftest/run_selftest.sh || rc=1; \
	B="$(B)" CC="$(CC)" USN_SUITE_LABEL=selftest tests/run-script.sh "$(O)" tests/layout/run_layout_selftest.sh || rc=1; \
	exit $$rc

# Cost centres (issue 6): tests/prof/test_*.c need USN_PROFILE=1, so they
# are built in a tree of their own, $(O)-prof, by `make test-prof` only;
# the normal and sanitizer builds never see the flag.
PROF_TEST_SRCS := $(wildcard tests/prof/test_*.c)
PROF_TEST_BINS := $(PROF_TEST_SRCS:%.c=$(B)/%)
TEST_EXTRA_SRCS_test_prof := $(wildcard apps/http/*.c) apps/common/walk.c apps/minimal_ws/mws.c
$(B)/tests/prof/test_prof: $(TEST_EXTRA_SRCS_test_prof)
$(B)/tests/prof/%: CFLAGS_TEST = $(CFLAGS_COMMON) -Itests/common
$(B)/tests/prof/%: tests/prof/%.c $(TEST_COMMON_OBJS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TEST) $(TEST_EXTRA_SRCS_$(notdir $@)) $< $(TEST_COMMON_OBJS) $(LIBA) -lcmocka -lm $(LDFLAGS_COMMON) $(TEST_LDFLAGS_$(notdir $@)) -o $@

.PHONY: test-prof prof-tests-build
prof-tests-build: $(PROF_TEST_BINS)
test-prof:
	$(MAKE) O=$(O)-prof USN_PROFILE=1 SAN=0 prof-tests-build
	@USN_RESULTS=$(O)/results.txt USN_SUITE_LABEL=prof tests/run-suite.sh "$(O)-prof/rel" \
		$(PROF_TEST_SRCS:%.c=$(O)-prof/rel/%)

-include $(TEST_BINS:=.d) $(TEST_COMMON_OBJS:.o=.d) $(PROF_TEST_BINS:=.d)
-include tests/fuzz/fuzz.mk
-include tests/reliability/reliability.mk
