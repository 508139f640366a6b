# apps: the two web servers sharing apps/http, the load generator and the
# echo server. bsd_ws (Linux sockets) is always built; minimal_ws, usn_load
# and usn_echo (libusnet) when there is a backend to open their port with:
# the Linux packet port and/or DPDK, through the selector
# ($(BACKEND_LIBS), from arch/select/select.mk).

# The programs are $(B)/apps/<name>, so their objects live apart, under
# $(B)/obj/apps/.
APPS_OBJ := $(B)/obj
$(APPS_OBJ)/apps/%.o: apps/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -c $< -o $@

HTTP_SRCS := $(wildcard apps/http/*.c)
HTTP_OBJS := $(HTTP_SRCS:%.c=$(APPS_OBJ)/%.o)

# apps/usn_load/ but its main.c: the load client as a library (load.h:
# hash, corpus, client, histograms, reports), linked by usn_load, by
# bench/floor and by the tests of it (tests/tests.mk).
USN_LOAD_LIB_SRCS := $(filter-out apps/usn_load/main.c,$(wildcard apps/usn_load/*.c))
USN_LOAD_LIB_OBJS := $(USN_LOAD_LIB_SRCS:%.c=$(APPS_OBJ)/%.o)

# apps/common/cli.c: the command-line helpers every program links (also
# minimal_ws_tilegx, by this path).
CLI_OBJ := $(APPS_OBJ)/apps/common/cli.o
# apps/common/observe.c: --stats-interval and --pcap, for the programs on
# libusnet (and minimal_ws_tilegx).
OBSERVE_OBJ := $(APPS_OBJ)/apps/common/observe.o
# apps/common/walk.c: the directory walk of the page store and of
# usn_load's corpus, linked by every program that has either.
WALK_OBJ := $(APPS_OBJ)/apps/common/walk.o

BSD_WS := $(B)/apps/bsd_ws
BSD_WS_OBJS := $(APPS_OBJ)/apps/bsd_ws/bsd_ws.o $(CLI_OBJ) $(HTTP_OBJS) $(WALK_OBJ)

# bsd_ws uses nothing from libusnet (its page store builds no checksum
# tables), so it links only the HTTP core.
$(BSD_WS): $(BSD_WS_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(BSD_WS_OBJS) -pthread $(LDFLAGS_COMMON) -o $@

APPS := $(BSD_WS)

# (Also only once lib/tcp/ defines the TCP API: until then minimal_ws cannot
# link, and a failing link would break `make all` for everyone.)
ifneq ($(BACKEND_LIBS),)
ifneq ($(shell grep -ls '^int usn_tcp_send_ref' lib/tcp/*.c 2>/dev/null),)
MINIMAL_WS := $(B)/apps/minimal_ws
MINIMAL_WS_OBJS := $(APPS_OBJ)/apps/minimal_ws/main.o $(APPS_OBJ)/apps/minimal_ws/mws.o $(CLI_OBJ) $(OBSERVE_OBJ) \
	$(HTTP_OBJS) $(WALK_OBJ)

$(MINIMAL_WS): $(MINIMAL_WS_OBJS) $(BACKEND_LIBS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(MINIMAL_WS_OBJS) $(BACKEND_LIBS) $(LIBA) $(BACKEND_LDLIBS) -lm -pthread $(LDFLAGS_COMMON) -o $@

APPS += $(MINIMAL_WS)

# usn_load: the HTTP/1.0 load generator on libusnet (its client library,
# $(USN_LOAD_LIB_OBJS), is also linked in-process by bench/floor).
USN_LOAD := $(B)/apps/usn_load
USN_LOAD_OBJS := $(APPS_OBJ)/apps/usn_load/main.o $(USN_LOAD_LIB_OBJS) $(CLI_OBJ) $(OBSERVE_OBJ) $(WALK_OBJ)

$(USN_LOAD): $(USN_LOAD_OBJS) $(BACKEND_LIBS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(USN_LOAD_OBJS) $(BACKEND_LIBS) $(LIBA) $(BACKEND_LDLIBS) -lm -pthread $(LDFLAGS_COMMON) -o $@

APPS += $(USN_LOAD)

# usn_echo: the TCP echo server (apps/echo).
ECHO_BIN := $(B)/apps/usn_echo
ECHO_OBJS := $(APPS_OBJ)/apps/echo/echo.o $(CLI_OBJ) $(OBSERVE_OBJ)

$(ECHO_BIN): $(ECHO_OBJS) $(BACKEND_LIBS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ECHO_OBJS) $(BACKEND_LIBS) $(LIBA) $(BACKEND_LDLIBS) -lm -pthread $(LDFLAGS_COMMON) -o $@

APPS += $(ECHO_BIN)
.PHONY: usn_load echo
usn_load: $(USN_LOAD)
echo: $(ECHO_BIN)
endif
endif

# bench/floor: client (usn_load) and server (minimal_ws) stacks in one
# process over the simulated link; needs no DPDK.
-include bench/floor/floor.mk

.PHONY: apps
apps: $(APPS)
all: $(APPS)

-include $(BSD_WS_OBJS:.o=.d) $(OBSERVE_OBJ:.o=.d) $(APPS_OBJ)/apps/minimal_ws/main.d $(APPS_OBJ)/apps/minimal_ws/mws.d \
	$(APPS_OBJ)/apps/usn_load/main.d $(USN_LOAD_LIB_OBJS:.o=.d) $(APPS_OBJ)/apps/echo/echo.d
