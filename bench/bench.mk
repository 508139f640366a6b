# bench/bench.mk: `make bench` (the Rusty experiment: wrk against minimal_ws,
# bsd_ws, nginx and lighttpd in network namespaces) and `make bench-smoke` (CI).
# Knobs (environment or make variables): BENCH_DURATION (s per run, default 10;
# the thesis used 50), BENCH_RUNS (3), BENCH_SWEEP=1 (workers, MTU and
# concurrent-connection sweeps; BENCH_SWEEP_AXES picks some), BENCH_SERVERS
# (comma list), BENCH_PORTS (minimal_ws's ports: dpdk,packet), BENCH_MAX_CONNS
# (minimal_ws --max-conns, 65536), BENCH_PROFILE=1 (minimal_ws's cost centres
# on each port from a USN_PROFILE=1 build in build-prof/), BENCH_ARGS (extra
# bench.py flags).

# Debian's python3 carries python3-matplotlib; a python3 earlier on PATH may not.
BENCH_PY ?= /usr/bin/python3
BENCH_BLAST := $(B)/bench/blast
BENCH_ARGS ?=

.PHONY: bench bench-smoke bench-rig bench-corpus

$(BENCH_BLAST): bench/blast.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -g $(WARN) -o $@ $<

# The rig alone (blaster and corpus), for working on bench/ itself.
bench-rig: $(BENCH_BLAST) bench-corpus

bench-corpus:
	$(BENCH_PY) bench/corpus.py --out bench/corpus --seed 1

# A build that fails (a colleague's half-landed module) must not stop the
# rig, and must not be measured either: bench.py and usn_load_compare.sh ask
# `make -q` whether each project binary is up to date with the tree and do
# not measure one that is not (its row says why; an error with --strict).
BENCH_BUILD = $(MAKE) -k all || echo "bench: WARNING: \`make all\` failed; servers it did not rebuild are not measured (see their rows)" >&2

# The usn_load figures, folded into the same report: usn_load against both
# stacks over veth (a DPDK client and a packet-port client) and over each
# one's cheapest link (1 KiB page and the corpus), then the floor (both
# stacks in one process, simulated link).
# In `make bench` a failure here is reported and does not undo the wrk
# comparison; in `make bench-smoke` (CI, BENCH_EXTRA_FAIL=exit 1) it fails
# the target, as does a project server that does not start or serves wrong
# bytes (COMPARE_STRICT=1, bench.py --strict).
BENCH_COMPARE_DURATION ?= 5
BENCH_LATEST := bench/results/latest
BENCH_EXTRA_FAIL ?= true
define BENCH_EXTRA
	COMPARE_PAGES=1k COMPARE_CONNS=64 COMPARE_DURATION=$(1) COMPARE_OUT=$(BENCH_LATEST)/usn_load_1k.json \
		$(3) bench/usn_load_compare.sh || { echo "bench: usn_load comparison (1 KiB) failed" >&2; $(BENCH_EXTRA_FAIL); }
	COMPARE_DURATION=$(1) COMPARE_OUT=$(BENCH_LATEST)/usn_load_corpus.json \
		$(3) bench/usn_load_compare.sh || { echo "bench: usn_load comparison (corpus) failed" >&2; $(BENCH_EXTRA_FAIL); }
	$(MAKE) floor && FLOOR_OUT=$(BENCH_LATEST) $(2) bench/floor/run.sh || { echo "bench: floor failed" >&2; $(BENCH_EXTRA_FAIL); }
	$(BENCH_PY) bench/report_extra.py $(BENCH_LATEST)
endef

bench:
	tests/deps.sh bench
	$(BENCH_BUILD)
	$(MAKE) bench-rig
	$(BENCH_PY) bench/bench.py --blast $(BENCH_BLAST) --build-dir $(B) --command "make bench" $(BENCH_ARGS)
	$(call BENCH_EXTRA,$(BENCH_COMPARE_DURATION),)

# CI: figures printed, never judged; but a project server that is not
# built, is stale, does not start or serves wrong bytes fails it.
bench-smoke: BENCH_EXTRA_FAIL = exit 1
bench-smoke:
	tests/deps.sh bench
	$(BENCH_BUILD)
	$(MAKE) bench-rig
	$(BENCH_PY) bench/bench.py --smoke --strict --blast $(BENCH_BLAST) --build-dir $(B) --command "make bench-smoke" $(BENCH_ARGS)
	$(call BENCH_EXTRA,1,FLOOR_REQUESTS=2000 FLOOR_CORPUS_REQUESTS=100 FLOOR_RUNS=1 FLOOR_CG_REQUESTS=300,COMPARE_STRICT=1)

# `make csum-bench`: bench/csum_bench.c, usn_csum_partial against its previous loop (figures only).
.PHONY: csum-bench
csum-bench: $(B)/bench/csum_bench
$(B)/bench/csum_bench: bench/csum_bench.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $< $(LIBA) $(LDFLAGS_COMMON) -o $@

# `make bench-capture`: bench/capture_cost.sh, minimal_ws's requests per
# second with and without --pcap (and, with a cost-centre build in
# build-prof/, the worker's cycles per request), figures only.
.PHONY: bench-capture
bench-capture:
	$(MAKE) all
	B=$(B) bench/capture_cost.sh
