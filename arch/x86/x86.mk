# arch/x86: the DPDK backend (build/*/libusnet_dpdk.a) and apps/echo, built
# when pkg-config finds libdpdk (HAVE_DPDK=1, set by the top Makefile).
# Exports for the apps' fragments: DPDK_LIB (the archive), DPDK_CFLAGS and
# DPDK_LIBS (link line: DPDK, libnuma).

ifeq ($(HAVE_DPDK),1)

# DPDK's headers come in as system headers so -Werror stays on for our code
# without tripping on theirs; arch/x86 alone is gnu11 (rte headers use
# GNU extensions).
DPDK_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags libdpdk))
DPDK_LIBS := $(shell pkg-config --libs libdpdk) -lnuma
DPDK_LIB := $(B)/libusnet_dpdk.a

DPDK_SRCS := $(wildcard arch/x86/*.c)
DPDK_OBJS := $(DPDK_SRCS:%.c=$(B)/%.o)

$(DPDK_OBJS): $(B)/arch/x86/%.o: arch/x86/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -std=gnu11 -D_GNU_SOURCE -Iarch/x86 $(DPDK_CFLAGS) -c $< -o $@

$(DPDK_LIB): $(DPDK_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# apps/echo: TCP echo server on the DPDK backend, $(B)/apps/usn_echo (the
# apps' layout: programs in $(B)/apps/, objects under $(B)/obj/apps/).
# Linked only once lib/tcp defines the TCP API, as apps/apps.mk does, so a
# missing symbol never breaks `make all` for everyone.
ECHO_BIN := $(B)/apps/usn_echo
ECHO_OBJS := $(B)/obj/apps/echo/echo.o
# apps/common/cli.c, compiled by apps/apps.mk's rule (included after this).
ECHO_LINK_OBJS := $(ECHO_OBJS) $(B)/obj/apps/common/cli.o

$(ECHO_OBJS): $(B)/obj/apps/echo/%.o: apps/echo/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -c $< -o $@

$(ECHO_BIN): $(ECHO_LINK_OBJS) $(DPDK_LIB) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ECHO_LINK_OBJS) $(DPDK_LIB) $(LIBA) $(DPDK_LIBS) -lm $(LDFLAGS_COMMON) -o $@

# tests/rig/dpdk_hal_test: the HAL on net_ring (run by tests/rig/run_dpdk_hal.sh).
DPDK_HAL_TEST := $(B)/tests/rig/dpdk_hal_test

$(DPDK_HAL_TEST): tests/rig/dpdk_hal_test.c $(DPDK_LIB) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -std=gnu11 -D_GNU_SOURCE -Iarch/x86 $(DPDK_CFLAGS) $< $(DPDK_LIB) $(LIBA) \
		$(DPDK_LIBS) -lm $(LDFLAGS_COMMON) -o $@

.PHONY: dpdk echo
dpdk: $(DPDK_LIB)
echo: $(ECHO_BIN)
all: $(DPDK_LIB) $(DPDK_HAL_TEST)
ifneq ($(shell grep -ls '^int usn_tcp_send_ref' lib/tcp/*.c 2>/dev/null),)
all: $(ECHO_BIN)
endif

-include $(DPDK_OBJS:.o=.d) $(ECHO_OBJS:.o=.d) $(DPDK_HAL_TEST).d

endif
