#!/usr/bin/env bash
# Runs one rig or HTTP suite script and tallies it into <O>/results.txt
# (tests/results.sh). The script prints "PASS name", "FAIL name: why" and
# "SKIP name: why" lines; it exits non-zero on any failure, and 77 after a
# SKIP line when it cannot run at all (not root, a binary missing, a tool
# missing). Each line is one test run, labelled rig, ID SCRIPT/name. A
# script that exits non-zero (other than 77) without a FAIL line, or 77
# without a SKIP line, or prints nothing at all, fails.
# Usage: tests/run-script.sh O SCRIPT
# Exits non-zero on a failure or on a skip without an opt-out (USN_TEST_SKIP).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/results.sh
. "$here/results.sh"
o=$1; s=$2
suite=$(basename "$s" .sh)
label=${USN_SUITE_LABEL:-rig}
log="$o/$suite.log"
results=${USN_RESULTS:-$o/results.txt}
mkdir -p "$o" "$(dirname "$results")"
touch "$results"
first=$(($(wc -l <"$results") + 1))
timeout 1800 bash "$s" >"$log" 2>&1 </dev/null
rc=$?
p=0; f=0; sk=0
declare -A seen=()
while IFS= read -r line; do
	case $line in
	"PASS "*) r=pass; rest=${line#PASS } ;;
	"FAIL "*) r=fail; rest=${line#FAIL } ;;
	"SKIP "*) r=skip; rest=${line#SKIP } ;;
	*) continue ;;
	esac
	# The line names the test (FAIL and SKIP lines go on with why); the
	# same line twice in one run (a check repeated in another mode) is a
	# test of its own.
	n=${rest:0:200}; d=""
	[ "$r" = pass ] || d=$rest
	k=$n
	if [ -n "${seen[$k]:-}" ]; then seen[$k]=$((seen[$k] + 1)); n="$n #${seen[$k]}"; else seen[$k]=1; fi
	results_add "$results" "$r" "$label" "$suite/$n" "$d"
	case $r in pass) p=$((p + 1)) ;; fail) f=$((f + 1)) ;; skip) sk=$((sk + 1)) ;; esac
done <"$log"
if [ "$rc" = "$USN_EXIT_SKIP" ] && [ "$sk" -eq 0 ]; then
	results_add "$results" fail "$label" "$suite" "exit $USN_EXIT_SKIP (cannot run) without a SKIP line saying why"
	f=$((f + 1))
elif [ "$rc" -ne 0 ] && [ "$rc" != "$USN_EXIT_SKIP" ] && [ "$f" -eq 0 ]; then
	results_add "$results" fail "$label" "$suite" "exit $rc without a FAIL line$([ "$rc" = 124 ] && echo ' (timed out after 1800 s)'): $(tail -2 "$log" | tr '\n' ' ')"
	f=$((f + 1))
elif [ $((p + f + sk)) -eq 0 ]; then
	results_add "$results" fail "$label" "$suite" "exit $rc and no PASS, FAIL or SKIP line"
	f=$((f + 1))
fi
bad_skips=$(results_unapproved_skips "$results" "$first")
if [ "$f" -ne 0 ]; then
	tail -40 "$log"
	echo "FAIL $label/$suite (exit $rc): $p passed, $f failed, $sk skipped"
elif [ "$sk" -ne 0 ]; then
	grep '^SKIP ' "$log"
	echo "$([ -n "$bad_skips" ] && echo SKIP || echo "ok  ") $label/$suite: $p passed, $sk skipped$([ -n "$bad_skips" ] && echo ' without an opt-out (USN_TEST_SKIP)')"
else
	echo "ok   $label/$suite: $p passed"
fi
[ "$f" -eq 0 ] && [ -z "$bad_skips" ]
