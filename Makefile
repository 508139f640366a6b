# libusnet build. `make` builds the library (static and shared), the
# simulated-link backend, the Linux packet port, the DPDK backend when DPDK
# is present, and the apps on whichever of the two there are;
# `make test` installs what it needs, then runs every suite twice: a normal
# build and an AddressSanitizer + UndefinedBehaviorSanitizer build.
# Sources are found by wildcard: a new lib/*/x.c or tests/unit/test_x.c needs
# no edit here. Fragments: arch/x86/x86.mk, arch/linux/linux.mk,
# arch/select/select.mk, arch/tilegx/tilegx.mk, apps/apps.mk, tests/tests.mk,
# bench/bench.mk.

CC ?= gcc
ARCH ?= x86
PREFIX ?= /usr/local
SAN ?= 0
O ?= build

ifeq ($(SAN),1)
B := $(O)/san
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
SANLD := -fsanitize=address,undefined
else
B := $(O)/rel
OPT := -O2 -g
SANLD :=
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wswitch
CFLAGS_COMMON := -std=c11 $(OPT) $(WARN) -fPIC -Iinclude -Ilib -Iarch/sim -MMD -MP
# Anything the project adds for the host (profiling build: USN_PROFILE=1).
ifeq ($(USN_PROFILE),1)
CFLAGS_COMMON += -DUSN_PROFILE=1
endif
CFLAGS_COMMON += $(EXTRA_CFLAGS)
LDFLAGS_COMMON := $(SANLD) $(EXTRA_LDFLAGS)

LIB_SRCS := $(wildcard lib/*/*.c) $(wildcard arch/sim/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)

LIBA := $(B)/libusnet.a
LIBSO := $(B)/libusnet.so

HAVE_DPDK := $(shell pkg-config --exists libdpdk 2>/dev/null && echo 1)

.PHONY: all lib test test-unit test-rig deps install clean format bench check-layers
all: lib

lib: $(LIBA) $(LIBSO)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -c $< -o $@

$(LIBA): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# Only usn_* symbols leave the shared library.
$(LIBSO): $(LIB_OBJS) lib/usnet.map
	$(CC) -shared -Wl,--version-script=lib/usnet.map -o $@ $(LIB_OBJS) $(LDFLAGS_COMMON)

-include arch/x86/x86.mk
-include arch/linux/linux.mk
-include arch/select/select.mk
-include arch/tilegx/tilegx.mk
-include apps/apps.mk
-include tests/tests.mk
-include bench/bench.mk

# Dependencies point one way (STYLE.md): wire <- net <- tcp; core beneath;
# nothing in lib/ or arch/sim names DPDK, gxio or Linux-only headers.
check-layers:
	@! grep -nE '#include "(net|tcp)/' lib/wire/*.[ch] || { echo "layer: wire includes net/tcp"; exit 1; }
	@! grep -nE '#include "tcp/' lib/net/*.[ch] || { echo "layer: net includes tcp"; exit 1; }
	@! grep -nE '#include "(net|tcp)/' lib/core/*.h || { echo "layer: core header includes net/tcp"; exit 1; }
	@! grep -nE '#include <(rte_|gxio|tmc|linux/|sys/epoll|numa)' lib/*/*.[ch] arch/sim/*.[ch] || { echo "layer: lib names a platform"; exit 1; }
	@echo "layers ok"

# Headers, libusnet (static and shared) and usnet.pc; and, where this build
# has a backend, what a program links to open a port (usnet/backend.h):
# libusnet_port.a (the selector and the backends, arch/select/select.mk)
# and usnet-port.pc, which adds them and their libraries (DPDK's, libnuma)
# to usnet.pc's: `cc app.c $$(pkg-config --cflags --libs usnet-port)`.
# The .pc files give the library's directory as the programs' run path,
# so they find libusnet.so under any PREFIX without ldconfig.
install: lib $(PORT_LIBA)
	install -d $(DESTDIR)$(PREFIX)/include/usnet $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/usnet/*.h $(DESTDIR)$(PREFIX)/include/usnet/
	install -m 644 $(LIBA) $(LIBSO) $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' lib/usnet.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/usnet.pc
ifneq ($(PORT_LIBA),)
	install -m 644 $(PORT_LIBA) $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@BACKENDS@|$(PORT_BACKENDS)|' -e 's|@PORT_LIBS@|$(strip $(BACKEND_LDLIBS))|' \
		lib/usnet-port.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/usnet-port.pc
endif

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')

clean:
	rm -rf $(O)

-include $(LIB_OBJS:.o=.d)
