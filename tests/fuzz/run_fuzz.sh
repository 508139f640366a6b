#!/usr/bin/env bash
# Runs each libFuzzer target for a fixed time (one process each, niced: the
# machine is shared) and reports executions. New inputs go to a scratch
# corpus under the build directory; the checked-in seeds and regressions are
# read only. A crash leaves its input in BUILD/artifacts/<target>/.
# Usage: tests/fuzz/run_fuzz.sh BUILD_FUZZ_DIR SECONDS TARGET...
set -u
dir=$1; secs=$2; shift 2
report="$dir/report.txt"
: > "$report"
status=0
for t in "$@"; do
	work="$dir/corpus/$t"; art="$dir/artifacts/$t/"
	mkdir -p "$work" "$art"
	seeds=(tests/fuzz/corpus/$t)
	[ -d tests/fuzz/regressions/$t ] && seeds+=(tests/fuzz/regressions/$t)
	dict=(); [ -f tests/fuzz/$t.dict ] && dict=(-dict=tests/fuzz/$t.dict)
	log="$dir/$t.log"
	nice -n 10 "$dir/$t" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-max_len=4096 -artifact_prefix="$art" "${dict[@]}" "$work" "${seeds[@]}" > "$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	corp=$(ls "$work" | wc -l)
	line="$t: ${secs}s, ${execs:-?} executions (${rate:-?}/s), ${cov:-cov: ?}, corpus $corp"
	if [ "$rc" -ne 0 ]; then
		line="$line, FAILED (exit $rc; log $log; inputs in $art)"
		grep -m3 -E 'ERROR: |FUZZ FINDING|runtime error' "$log" | sed 's/^/    /'
		status=1
	fi
	echo "$line" | tee -a "$report"
done
exit $status
