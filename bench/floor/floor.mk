# bench/floor/floor.mk (included from apps/apps.mk): `make floor` builds
# $(B)/bench/floor, client (apps/usn_load/, load.h) and server (apps/minimal_ws/
# mws.c) stacks in one process over the simulated link; no DPDK needed.
# `make floor-run` runs bench/floor/run.sh (figures + callgrind).

FLOOR := $(B)/bench/floor
FLOOR_OBJS := $(APPS_OBJ)/bench/floor/floor.o $(USN_LOAD_LIB_OBJS) \
	$(APPS_OBJ)/apps/minimal_ws/mws.o $(HTTP_OBJS) $(WALK_OBJ)

$(APPS_OBJ)/bench/floor/%.o: bench/floor/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -c $< -o $@

$(FLOOR): $(FLOOR_OBJS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(FLOOR_OBJS) $(LIBA) -lm $(LDFLAGS_COMMON) -o $@

.PHONY: floor floor-run
floor: $(FLOOR)
floor-run: $(FLOOR)
	bench/floor/run.sh $(FLOOR)

-include $(APPS_OBJ)/bench/floor/floor.d
