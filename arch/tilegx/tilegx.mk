# arch/tilegx: the TILE-Gx mPIPE backend (arch/tilegx/README.md).
#
# On TILE-Gx, with the MDE's cross toolchain (not available here, so never
# run by this project's CI):
#     make ARCH=tilegx CROSS=tile- O=build-tile tilegx
# builds $(B)/libusnet.a, $(B)/libusnet_tilegx.a (backend, linked with the
# MDE's -lgxio -ltmc) and $(B)/apps/minimal_ws_tilegx.
#
# On any other host it builds the backend against the x86 emulation of the
# gxio/tmc subset it uses: $(TILEGX_EMU_LIB) = $(B)/libusnet_tilegx_emu.a,
# linked into tests/unit/port/test_tilegx*.c; `make test-tilegx` runs the
# simulation suites (tests/sim/*) with their hosts on this backend.

TILEGX_SRCS := arch/tilegx/mpipe.c arch/tilegx/backend.c
TILEGX_EMU_SRCS := $(wildcard arch/tilegx/emu/*.c)

ifeq ($(ARCH),tilegx)

CROSS ?= tile-
CC := $(CROSS)gcc
TILEGX_LIB := $(B)/libusnet_tilegx.a
TILEGX_OBJS := $(TILEGX_SRCS:%.c=$(B)/%.o)
TILEGX_LIBS := -lgxio -ltmc -pthread -lm

$(TILEGX_OBJS): $(B)/arch/tilegx/%.o: arch/tilegx/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Iarch/tilegx -c $< -o $@

$(TILEGX_LIB): $(TILEGX_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(CROSS)ar rcs $@ $^

TILEGX_WS := $(B)/apps/minimal_ws_tilegx
TILEGX_WS_OBJS := $(B)/obj/apps/minimal_ws/main.o $(B)/obj/apps/minimal_ws/mws.o $(B)/obj/apps/common/cli.o \
	$(B)/obj/apps/common/observe.o $(B)/obj/apps/common/walk.o \
	$(patsubst %.c,$(B)/obj/%.o,$(wildcard apps/http/*.c))

$(TILEGX_WS): $(TILEGX_WS_OBJS) $(TILEGX_LIB) $(LIBA)
	@mkdir -p $(dir $@)
	$(CROSS)ranlib $(LIBA)
	$(CC) $(TILEGX_WS_OBJS) $(TILEGX_LIB) $(LIBA) $(TILEGX_LIBS) $(LDFLAGS_COMMON) -o $@

.PHONY: tilegx
tilegx: $(LIBA) $(TILEGX_LIB) $(TILEGX_WS)

else

TILEGX_EMU_LIB := $(B)/libusnet_tilegx_emu.a
TILEGX_EMU_OBJS := $(patsubst %.c,$(B)/%.o,$(TILEGX_SRCS) $(TILEGX_EMU_SRCS))

$(TILEGX_EMU_OBJS): $(B)/arch/tilegx/%.o: arch/tilegx/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Iarch/tilegx -c $< -o $@

$(TILEGX_EMU_LIB): $(TILEGX_EMU_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# Each tests/unit/port/test_tilegx*.c links the emulated backend (before
# libusnet.a, which it uses: usn_rss_hash, the simulated link).
TILEGX_TESTS := $(notdir $(basename $(wildcard tests/unit/port/test_tilegx*.c)))
$(foreach t,$(TILEGX_TESTS),$(eval TEST_LDFLAGS_$(t) := $(TILEGX_EMU_LIB) $(LIBA) -pthread))
$(foreach t,$(TILEGX_TESTS),$(eval $(B)/tests/unit/port/$(t): $(TILEGX_EMU_LIB)))

.PHONY: tilegx-emu test-tilegx test-tilegx-faults tilegx-plan
tilegx-emu: $(TILEGX_EMU_LIB)

# The memory a card needs for a configuration, on this host:
#     make tilegx-plan WORKERS=35 PLAN_ARGS="--mtu 9000"
TILEGX_PLAN := $(B)/tilegx/gx_plan
$(TILEGX_PLAN): arch/tilegx/testing/gx_plan.c $(TILEGX_EMU_LIB) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Iarch/tilegx $< $(TILEGX_EMU_LIB) $(LIBA) $(LDFLAGS_COMMON) -pthread -o $@
tilegx-plan: $(TILEGX_PLAN)
	@$(TILEGX_PLAN) $(or $(WORKERS),1) $(PLAN_ARGS)

# The simulation suites again, with simnet hosts on this backend: each
# tests/sim/test_x.c is linked with arch/tilegx/testing/simnet_tilegx.o,
# whose strong simnet_host_hal() replaces simnet.c's weak default, into
# $(B)/tilegx/tests/sim/test_x, then run in each mode chain:workers:hosts[:mtu]
# (buffer chains off and on; one, two and 35 workers hashed by the emulated
# load balancer, 35 sharing the mPIPE's 24 eDMA rings; tilegx hosts meet sim
# hosts in the "even" modes; a jumbo MTU, 16384-byte buffers and chained TX).
TILEGX_HOOK_OBJ := $(B)/arch/tilegx/testing/simnet_tilegx.o
TILEGX_TEST_COMMON_OBJS := $(patsubst %.c,$(B)/%.o,$(wildcard tests/common/*.c))
# Only the suites whose hosts go through the backend run in these modes
# (the others would be counted again for nothing): not the fuzz replay (no
# simnet host) nor the backpressure suite (its hosts sit on their own ring
# over the sim port), nor the zero-copy suite (its sender is the simulated
# port's external-buffer emulation). Each test run here must print simnet's "host ... on
# the tilegx backend" line, or it fails (USN_SUITE_REQUIRE).
TILEGX_SIM_OFF := test_fuzz_replay test_tcp_backpressure test_tcp_zcopy
TILEGX_SIM_BINS := $(patsubst tests/sim/%.c,$(B)/tilegx/tests/sim/%,$(filter-out $(TILEGX_SIM_OFF:%=tests/sim/%.c),$(wildcard tests/sim/test_*.c)))
TILEGX_MODES := 0:1:even 128:1:all 1664:1:even 0:2:all 256:2:all 0:35:all 0:2:all:9000

$(TILEGX_HOOK_OBJ): arch/tilegx/testing/simnet_tilegx.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Iarch/tilegx -Itests/common -c $< -o $@

$(B)/tilegx/tests/sim/%: tests/sim/%.c $(TILEGX_TEST_COMMON_OBJS) $(TILEGX_HOOK_OBJ) $(TILEGX_EMU_LIB) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Itests/common $(TEST_EXTRA_SRCS_$*) $< $(TILEGX_TEST_COMMON_OBJS) $(TILEGX_HOOK_OBJ) $(TILEGX_EMU_LIB) \
		$(LIBA) -lcmocka -lm $(LDFLAGS_COMMON) $(TEST_LDFLAGS_$*) -pthread -o $@

test-tilegx: $(TILEGX_SIM_BINS)
	@rc=0; for m in $(TILEGX_MODES); do \
		chain=$${m%%:*}; rest=$${m#*:}; workers=$${rest%%:*}; hosts=$${rest#*:}; \
		mtu=$${hosts#*:}; [ "$$mtu" = "$$hosts" ] && mtu=; hosts=$${hosts%%:*}; \
		echo "== tilegx backend: chain=$$chain workers=$$workers hosts=$$hosts$${mtu:+ mtu=$$mtu}"; \
		USN_TEST_BACKEND=tilegx USN_TILEGX_CHAIN=$$chain USN_TILEGX_WORKERS=$$workers USN_TILEGX_MTU=$$mtu \
		USN_TILEGX_HOSTS=$$hosts USN_RESULTS=$(O)/results.txt \
		USN_SUITE_LABEL=tilegx-$$chain-$$workers-$$hosts$${mtu:+-$$mtu} \
		USN_SUITE_REQUIRE='^# simnet: host .* on the tilegx backend' \
		tests/run-suite.sh "$(B)/tilegx" $(TILEGX_SIM_BINS) || rc=1; \
	done; exit $$rc

-include $(TILEGX_EMU_OBJS:.o=.d) $(TILEGX_HOOK_OBJ:.o=.d) $(TILEGX_SIM_BINS:=.d)

endif

ifneq ($(ARCH),tilegx)
# The suites must notice a broken emulation: each fault must make the TCP
# pair suite's test_bulk_clean fail its own assertion, over IPv4 and over
# IPv6 (test_bulk_clean_v6) alike (tests/run-fault.sh; a crash at start or
# another failure does not count): out-of-order chain buffers corrupt every
# segment, so the connection times out (why 3); a wrong L2 offset loses
# every frame, so the transfer never ends.
tilegx_fault = USN_TEST_BACKEND=tilegx USN_TILEGX_CHAIN=128 USN_TILEGX_HOSTS=all USN_TILEGX_FAULT=$(1) \
	USN_SUITE_LABEL=tilegx-fault tests/run-fault.sh $(O)/results.txt $(1)$(4) $(2) '$(3)' -- $<
test-tilegx-faults: $(B)/tilegx/tests/sim/test_tcp_pair
	@rc=0; \
	$(call tilegx_fault,chain_order,test_bulk_clean,^0x3 != 0 \| .*test_tcp_pair\.c:[0-9]+: error) || rc=1; \
	$(call tilegx_fault,l2_offset,test_bulk_clean,^ok \| .*test_tcp_pair\.c:[0-9]+: error) || rc=1; \
	$(call tilegx_fault,chain_order,test_bulk_clean_v6,^0x3 != 0 \| .*test_tcp_pair\.c:[0-9]+: error,-v6) || rc=1; \
	$(call tilegx_fault,l2_offset,test_bulk_clean_v6,^ok \| .*test_tcp_pair\.c:[0-9]+: error,-v6) || rc=1; \
	exit $$rc
endif
