#!/usr/bin/env bash
# Runs cmocka test programs one by one, each under a time limit, and appends
# "<suite> <passed> <failed>" per program to <build>/../results.txt.
# Usage: tests/run-suite.sh BUILD_DIR PROGRAM...
set -u
build=$1; shift
# USN_RESULTS and USN_SUITE_LABEL let a caller (make test-tilegx) run the
# same programs again under another label into the same tally.
results=${USN_RESULTS:-"$(dirname "$build")/results.txt"}
label=${USN_SUITE_LABEL:-$(basename "$build")}
tp=0; tf=0
for t in "$@"; do
	name="$label/${t#"$build"/tests/}"
	out=$(CMOCKA_MESSAGE_OUTPUT=stdout timeout 600 "$t" 2>&1)
	rc=$?
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	p=${p:-0}; f=${f:-0}
	# A crash, sanitizer report or time-out counts as a failure even if
	# cmocka never printed its summary.
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	if [ "$f" -ne 0 ]; then
		printf '%s\n' "$out" | tail -60
		echo "FAIL $name (exit $rc): $p passed, $f failed"
	else
		echo "ok   $name: $p passed"
	fi
	echo "$name $p $f" >> "$results"
	tp=$((tp + p)); tf=$((tf + f))
done
echo "$label: $tp passed, $tf failed"
exit 0  # failures are tallied; tests/summary.sh decides
