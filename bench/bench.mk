# bench/bench.mk: `make bench` (the Rusty experiment: wrk against minimal_ws,
# bsd_ws, nginx and lighttpd in network namespaces) and `make bench-smoke` (CI).
# Knobs (environment or make variables): BENCH_DURATION (s per run, default 10;
# the thesis used 50), BENCH_RUNS (3), BENCH_SWEEP=1 (workers and MTU sweeps),
# BENCH_SERVERS (comma list), BENCH_PROFILE=1 (minimal_ws's cost centres from a
# USN_PROFILE=1 build in build-prof/), BENCH_ARGS (extra bench.py flags).

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
# rig: servers whose binary is missing become "not built" rows.
BENCH_BUILD = $(MAKE) -k all || echo "bench: WARNING: \`make all\` failed; servers it did not build are skipped, older binaries may be measured" >&2

# Issue 9's figures, folded into the same report: usn_load against both
# stacks over veth and over each one's cheapest link (1 KiB page and the
# corpus), then the floor (both stacks in one process, simulated link).
# A failure here is reported and does not undo the wrk comparison.
BENCH_COMPARE_DURATION ?= 5
BENCH_LATEST := bench/results/latest
define BENCH_EXTRA
	COMPARE_PAGES=1k COMPARE_CONNS=64 COMPARE_DURATION=$(1) COMPARE_OUT=$(BENCH_LATEST)/usn_load_1k.json \
		bench/usn_load_compare.sh || echo "bench: usn_load comparison (1 KiB) failed" >&2
	COMPARE_DURATION=$(1) COMPARE_OUT=$(BENCH_LATEST)/usn_load_corpus.json \
		bench/usn_load_compare.sh || echo "bench: usn_load comparison (corpus) failed" >&2
	$(MAKE) floor && FLOOR_OUT=$(BENCH_LATEST) $(2) bench/floor/run.sh || echo "bench: floor failed" >&2
	$(BENCH_PY) bench/report_extra.py $(BENCH_LATEST)
endef

bench:
	tests/deps.sh bench
	$(BENCH_BUILD)
	$(MAKE) bench-rig
	$(BENCH_PY) bench/bench.py --blast $(BENCH_BLAST) --build-dir $(B) --command "make bench" $(BENCH_ARGS)
	$(call BENCH_EXTRA,$(BENCH_COMPARE_DURATION),)

bench-smoke:
	tests/deps.sh bench
	$(BENCH_BUILD)
	$(MAKE) bench-rig
	$(BENCH_PY) bench/bench.py --smoke --blast $(BENCH_BLAST) --build-dir $(B) --command "make bench-smoke" $(BENCH_ARGS)
	$(call BENCH_EXTRA,1,FLOOR_REQUESTS=2000 FLOOR_CORPUS_REQUESTS=100 FLOOR_RUNS=1 FLOOR_CG_REQUESTS=300)

# `make csum-bench`: bench/csum_bench.c, usn_csum_partial against its previous loop (figures only).
.PHONY: csum-bench
csum-bench: $(B)/bench/csum_bench
$(B)/bench/csum_bench: bench/csum_bench.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $< $(LIBA) $(LDFLAGS_COMMON) -o $@
