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
# linked into tests/unit/test_tilegx*.c; `make test-tilegx` runs the
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
TILEGX_WS_OBJS := $(B)/obj/apps/minimal_ws/main.o $(B)/obj/apps/minimal_ws/mws.o \
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

# Each tests/unit/test_tilegx*.c links the emulated backend (before
# libusnet.a, which it uses: usn_rss_hash, the simulated link).
TILEGX_TESTS := $(notdir $(basename $(wildcard tests/unit/test_tilegx*.c)))
$(foreach t,$(TILEGX_TESTS),$(eval TEST_LDFLAGS_$(t) := $(TILEGX_EMU_LIB) $(LIBA) -pthread))
$(foreach t,$(TILEGX_TESTS),$(eval $(B)/tests/unit/$(t): $(TILEGX_EMU_LIB)))

.PHONY: tilegx-emu test-tilegx
tilegx-emu: $(TILEGX_EMU_LIB)

-include $(TILEGX_EMU_OBJS:.o=.d)

endif
