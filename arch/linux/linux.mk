# arch/linux: the Linux packet port (arch/linux/README.md), built on every
# Linux host except for the TILE-Gx cross build: $(PPORT_LIB) =
# $(B)/libusnet_pport.a (gnu extensions of glibc: _GNU_SOURCE). Programs link it through arch/select/select.mk
# ($(BACKEND_LIBS)); it needs libusnet.a after it and -pthread.
# Also: tests/unit/port/test_pport (the backend's pure parts, no socket),
# $(PPORT_HAL_TEST) (tests/rig/pport_hal_test.c: the port on a veth, run by
# tests/rig/run_pport_hal.sh), $(PPORT_BURST_TEST) (run_pport_burst.sh),
# $(PPORT_REFUSE) (run_pport_flags.sh) and
# bench/pport_tx (its transmit paths).

ifneq ($(ARCH),tilegx)
ifeq ($(shell uname -s),Linux)

PPORT_LIB := $(B)/libusnet_pport.a
PPORT_SRCS := $(wildcard arch/linux/*.c)
PPORT_OBJS := $(PPORT_SRCS:%.c=$(B)/%.o)

$(PPORT_OBJS): $(B)/arch/linux/%.o: arch/linux/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -D_GNU_SOURCE -Iarch/linux -c $< -o $@

$(PPORT_LIB): $(PPORT_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The unit test reaches into the backend (its header), then libusnet.a for
# usn_rss_hash and the checksums; it counts allocations, as test_nomalloc.
TEST_LDFLAGS_test_pport := $(PPORT_LIB) $(LIBA) -pthread \
	-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc
$(B)/tests/unit/port/test_pport: $(PPORT_LIB)
$(B)/tests/unit/port/test_pport: CFLAGS_TEST = $(CFLAGS_COMMON) -D_GNU_SOURCE -Itests/common -Iarch/linux

PPORT_HAL_TEST := $(B)/tests/rig/pport_hal_test
$(PPORT_HAL_TEST): tests/rig/pport_hal_test.c $(PPORT_LIB) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -D_GNU_SOURCE -Iarch/linux $< $(PPORT_LIB) $(LIBA) -pthread -lm $(LDFLAGS_COMMON) -o $@

# tests/rig/pport_burst_test.c: the receive ring under a burst while the
# port is not read (tests/rig/run_pport_burst.sh).
PPORT_BURST_TEST := $(B)/tests/rig/pport_burst_test
$(PPORT_BURST_TEST): tests/rig/pport_burst_test.c $(PPORT_LIB) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -D_GNU_SOURCE -Iarch/linux $< $(PPORT_LIB) $(LIBA) -pthread -lm $(LDFLAGS_COMMON) -o $@

# tests/rig/pport_refuse.so: an LD_PRELOAD shim that makes setsockopt refuse
# virtio-net headers or a CBPF fanout group (run_pport_flags.sh's fallbacks).
PPORT_REFUSE := $(B)/tests/rig/pport_refuse.so
$(PPORT_REFUSE): tests/rig/pport_refuse.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -shared $< -ldl -o $@

PPORT_TX_BENCH := $(B)/bench/pport_tx
$(PPORT_TX_BENCH): bench/pport_tx.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $< $(LDFLAGS_COMMON) -o $@

.PHONY: pport
pport: $(PPORT_LIB)
all: $(PPORT_LIB) $(PPORT_HAL_TEST) $(PPORT_BURST_TEST) $(PPORT_REFUSE) $(PPORT_TX_BENCH)

-include $(PPORT_OBJS:.o=.d) $(PPORT_HAL_TEST).d $(PPORT_BURST_TEST).d $(PPORT_REFUSE:.so=.d) $(PPORT_TX_BENCH).d

endif
endif
