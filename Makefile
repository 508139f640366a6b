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
# The shared library is the stack alone: the simulated link (arch/sim) is
# for tests and the floor, which link the static library.
LIBSO_OBJS := $(filter $(B)/lib/%,$(LIB_OBJS))

LIBA := $(B)/libusnet.a
# libusnet.so.N: N changes when the interface does (a function removed or
# changed); the file carries the whole version, the links the rest.
SO_MAJOR := 0
SO_VERSION := $(SO_MAJOR).1.0
LIBSO := $(B)/libusnet.so
LIBSO_REAL := $(B)/libusnet.so.$(SO_VERSION)
# The public API: every header of include/usnet/ but the backends' own
# (backend.h, backend_ops.h: the DPDK, packet-port and TILE-Gx libraries).
API_HEADERS := $(filter-out include/usnet/backend.h include/usnet/backend_ops.h,$(wildcard include/usnet/*.h))

HAVE_DPDK := $(shell pkg-config --exists libdpdk 2>/dev/null && echo 1)

.PHONY: all lib test test-unit test-rig deps install clean format bench check-layers check-exports
all: lib

lib: $(LIBA) $(LIBSO)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -c $< -o $@

$(LIBA): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The shared library exports exactly the functions the public headers
# declare (lib/api_symbols.sh reads them as the compiler does); everything
# else stays local. tests/layout/check_exports.sh checks the result.
$(B)/usnet.map: $(API_HEADERS) lib/api_symbols.sh
	@mkdir -p $(dir $@)
	{ echo '{'; echo '	global:'; lib/api_symbols.sh "$(CC)" $(API_HEADERS) | sed 's/.*/		&;/'; \
	  echo '	local: *;'; echo '};'; } > $@.tmp && mv $@.tmp $@

$(LIBSO_REAL): $(LIBSO_OBJS) $(B)/usnet.map
	$(CC) -shared -Wl,-soname,libusnet.so.$(SO_MAJOR) -Wl,--version-script=$(B)/usnet.map -o $@ $(LIBSO_OBJS) $(LDFLAGS_COMMON)

$(LIBSO): $(LIBSO_REAL)
	ln -sf libusnet.so.$(SO_VERSION) $(B)/libusnet.so.$(SO_MAJOR)
	ln -sf libusnet.so.$(SO_MAJOR) $@

-include arch/x86/x86.mk
-include arch/linux/linux.mk
-include arch/select/select.mk
-include arch/tilegx/tilegx.mk
-include apps/apps.mk
-include tests/tests.mk
-include bench/bench.mk

# Dependencies point one way, down the layers (ARCHITECTURE.md): by the
# includes of each lib/ source and by the symbols each object references
# (nm), lib/tcp's files ranked among themselves; nothing in lib/ names a
# platform header. tests/layout/run_layout_selftest.sh shows it failing.
check-layers: $(LIB_OBJS)
	@tests/layout/check_layers.sh . $(B)

# libusnet.so exports the public headers' functions and nothing else.
check-exports: $(LIBSO)
	@tests/layout/check_exports.sh "$(CC)" $(LIBSO_REAL) $(API_HEADERS)

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
	install -m 644 $(LIBA) $(LIBSO_REAL) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libusnet.so.$(SO_VERSION) $(DESTDIR)$(PREFIX)/lib/libusnet.so.$(SO_MAJOR)
	ln -sf libusnet.so.$(SO_MAJOR) $(DESTDIR)$(PREFIX)/lib/libusnet.so
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
