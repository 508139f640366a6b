# Test build: every tests/unit/test_*.c and tests/sim/test_*.c is one cmocka
# program linked with the helpers in tests/common/ and libusnet.a.
# A test that needs extra link flags sets TEST_LDFLAGS_<name> below.

TEST_COMMON_SRCS := $(wildcard tests/common/*.c)
TEST_COMMON_OBJS := $(TEST_COMMON_SRCS:%.c=$(B)/%.o)
TEST_SRCS := $(wildcard tests/unit/test_*.c) $(wildcard tests/sim/test_*.c)
TEST_BINS := $(TEST_SRCS:%.c=$(B)/%)

# The no-malloc test counts every allocation the worker makes after start.
TEST_LDFLAGS_test_nomalloc := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc,--wrap=posix_memalign
TEST_LDFLAGS_test_ring := -pthread
# A test that also compiles application sources lists them here.
TEST_EXTRA_SRCS_test_http := $(wildcard apps/http/*.c)
$(B)/tests/unit/test_http: $(TEST_EXTRA_SRCS_test_http)
TEST_EXTRA_SRCS_test_http_sim := $(wildcard apps/http/*.c) apps/minimal_ws/mws.c
$(B)/tests/sim/test_http_sim: $(TEST_EXTRA_SRCS_test_http_sim)
TEST_EXTRA_SRCS_test_load_sim := $(wildcard apps/http/*.c) apps/minimal_ws/mws.c apps/usn_load/load.c
$(B)/tests/sim/test_load_sim: $(TEST_EXTRA_SRCS_test_load_sim)

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
# at 5% loss, 2% duplication, 5% reordering, 1% corruption (about 4 s), with
# MSS frames, then with TSO and LRO.
.PHONY: test-big
test-big: $(B)/tests/sim/test_tcp_pair
	USN_TCP_BIG_MIB=256 USN_TCP_BIG_CONNS=100000 $(B)/tests/sim/test_tcp_pair
	USN_SIM_OFFLOADS=tso,lro USN_TCP_BIG_MIB=256 USN_TCP_BIG_CONNS=100000 $(B)/tests/sim/test_tcp_pair

.PHONY: tests-build test-unit test-rig test-san
tests-build: $(TEST_BINS)

# Runs the unit and simulation suites of this build ($(B)), then the
# simulation suites (the fuzz replay among them) again with every simulated
# port offering TSO and LRO (USN_SIM_OFFLOADS, tests/common/simnet.h).
SIM_TEST_BINS := $(filter $(B)/tests/sim/%,$(TEST_BINS))
test-unit: tests-build check-layers
	@tests/run-suite.sh "$(B)" $(TEST_BINS)
	@USN_SIM_OFFLOADS=tso,lro USN_SUITE_LABEL=$(notdir $(B))-tso-lro tests/run-suite.sh "$(B)" $(SIM_TEST_BINS)

# The whole test command: dependencies, both builds, then the rig suites.
test:
	@tests/deps.sh test
	@rm -f $(O)/results.txt
	$(MAKE) SAN=0 test-unit
	$(MAKE) SAN=1 test-unit
	$(MAKE) SAN=0 test-tilegx test-tilegx-faults
	$(MAKE) SAN=0 test-prof
	$(MAKE) SAN=0 test-rig
	@tests/summary.sh $(O)/results.txt

# Rig suites (root, network namespaces); each script under tests/rig/ and
# tests/http/ named run_*.sh is one suite.
test-rig: all
	@for s in $(sort $(wildcard tests/rig/run_*.sh tests/http/run_*.sh tests/reliability/run_*.sh)); do \
		tests/run-script.sh "$(O)" "$$s" || true; done

# Cost centres (issue 6): tests/prof/test_*.c need USN_PROFILE=1, so they
# are built in a tree of their own, $(O)-prof, by `make test-prof` only;
# the normal and sanitizer builds never see the flag.
PROF_TEST_SRCS := $(wildcard tests/prof/test_*.c)
PROF_TEST_BINS := $(PROF_TEST_SRCS:%.c=$(B)/%)
TEST_EXTRA_SRCS_test_prof := $(wildcard apps/http/*.c) apps/minimal_ws/mws.c
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
