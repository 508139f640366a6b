# arch/select: the backend selector (include/usnet/backend.h) over the
# backends this build has: the Linux packet port ($(PPORT_LIB), from
# arch/linux/linux.mk) and DPDK ($(DPDK_LIB), arch/x86/x86.mk). Included
# after both. Programs link
#     $(BACKEND_LIBS) $(LIBA) $(BACKEND_LDLIBS)
# and are built when $(BACKEND_LIBS) carries a backend at all.

SELECT_OBJ := $(B)/arch/select/select.o
SELECT_DEFS := $(if $(PPORT_LIB),-DUSN_WITH_PPORT) $(if $(DPDK_LIB),-DUSN_WITH_DPDK)

ifneq ($(PPORT_LIB)$(DPDK_LIB),)
BACKEND_LIBS := $(SELECT_OBJ) $(PPORT_LIB) $(DPDK_LIB)
BACKEND_LDLIBS := $(DPDK_LIBS) -pthread

# What `make install` gives programs outside the tree (usnet-port.pc): the
# selector and every backend in one archive, linked before libusnet.
PORT_LIBA := $(B)/libusnet_port.a
PORT_BACKENDS := $(strip $(if $(PPORT_LIB),the Linux packet port) $(if $(DPDK_LIB),$(if $(PPORT_LIB),and )DPDK))
$(PORT_LIBA): $(SELECT_OBJ) $(PPORT_OBJS) $(DPDK_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^
all: $(PORT_LIBA)
endif

# The object records which backends it was built with: a change rebuilds it.
# The record is rewritten while the Makefile is read, and only when it
# differs, not by a rule that always runs: such a rule would make `make -q`
# (which the benchmark asks whether a program is up to date) say every
# program needs remaking.
SELECT_RECORD := $(B)/arch/select/backends
$(shell mkdir -p $(dir $(SELECT_RECORD)) && { echo '$(SELECT_DEFS)' | cmp -s - $(SELECT_RECORD) || \
	echo '$(SELECT_DEFS)' > $(SELECT_RECORD); })

$(SELECT_OBJ): arch/select/select.c $(SELECT_RECORD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(SELECT_DEFS) -c $< -o $@


-include $(SELECT_OBJ:.o=.d)
