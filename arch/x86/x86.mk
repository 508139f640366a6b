# arch/x86: the DPDK backend (build/*/libusnet_dpdk.a), built when
# pkg-config finds libdpdk (HAVE_DPDK=1, set by the top Makefile).
# Exports for arch/select/select.mk and the apps' fragments: DPDK_LIB (the
# archive), DPDK_CFLAGS and DPDK_LIBS (link line: DPDK, libnuma).

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

# tests/rig/dpdk_hal_test: the HAL on net_ring (run by tests/rig/run_dpdk_hal.sh),
# through the backend's ops table (no selector).
DPDK_HAL_TEST := $(B)/tests/rig/dpdk_hal_test

$(DPDK_HAL_TEST): tests/rig/dpdk_hal_test.c $(DPDK_LIB) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -std=gnu11 -D_GNU_SOURCE -Iarch/x86 $(DPDK_CFLAGS) $< $(DPDK_LIB) $(LIBA) \
		$(DPDK_LIBS) -lm $(LDFLAGS_COMMON) -o $@

.PHONY: dpdk
dpdk: $(DPDK_LIB)
all: $(DPDK_LIB) $(DPDK_HAL_TEST)

-include $(DPDK_OBJS:.o=.d) $(DPDK_HAL_TEST).d

endif
