#!/usr/bin/env bash
# Runs cmocka test programs one by one, each under a time limit, with TAP
# output, and appends one line per test run to the results file
# (tests/results.sh): every test the program announced is passed, failed
# or skipped; a test it announced but never reported (a crash, a sanitizer
# abort, a time-out, a group set-up failure) counts as failed, as does a
# program that exits non-zero with every test passed (a leak report at
# exit), and a cmocka set-up error is a failure.
# Usage: tests/run-suite.sh BUILD_DIR PROGRAM...
# Exits non-zero when a test failed or was skipped without an opt-out
# (USN_TEST_SKIP, see tests/results.sh).
#
# Environment: USN_RESULTS (results file, default BUILD_DIR/../results.txt)
# and USN_SUITE_LABEL (the run's label, default BUILD_DIR's name) let a
# caller (make test-tilegx) run the same programs again under another label
# into the same tally. USN_SUITE_REQUIRE=REGEX: a test passes only if the
# program printed a line matching REGEX (extended) since the previous
# test's result (the TILE-Gx modes: the test put a host on the backend).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/results.sh
. "$here/results.sh"
build=$1; shift
results=${USN_RESULTS:-"$(dirname "$build")/results.txt"}
label=${USN_SUITE_LABEL:-$(basename "$build")}
require=${USN_SUITE_REQUIRE:-}
mkdir -p "$(dirname "$results")"
touch "$results"
first=$(($(wc -l <"$results") + 1))
tmp=$(mktemp -d /tmp/usn_suite.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
tp=0; tf=0; ts=0

for t in "$@"; do
	prog=${t#"$build"/tests/}
	prog=${prog#"$build"/}
	out=$tmp/out; err=$tmp/err
	if [ ! -x "$t" ]; then
		results_add "$results" fail "$label" "$prog" "not built: $t"
		echo "FAIL $label/$prog: not built"
		tf=$((tf + 1))
		continue
	fi
	CMOCKA_MESSAGE_OUTPUT=tap timeout 600 "$t" >"$out" 2>"$err" </dev/null
	rc=$?
	p=0; f=0; s=0; plan=-1
	declare -A seen=()
	while IFS=$'\t' read -r r n d; do
		case $r in
		plan) plan=$n; continue ;;
		pass) p=$((p + 1)) ;;
		fail) f=$((f + 1)) ;;
		skip) s=$((s + 1)) ;;
		esac
		# Two tests of one name in a program are two tests.
		if [ -n "${seen[$n]:-}" ]; then seen[$n]=$((seen[$n] + 1)); n="$n #${seen[$n]}"; else seen[$n]=1; fi
		results_add "$results" "$r" "$label" "$prog:$n" "$d"
	done < <(parse_tap "$out" "$require")
	why=""
	[ "$rc" = 124 ] && why="timed out after 600 s"
	if [ "$plan" -lt 0 ]; then
		results_add "$results" fail "$label" "$prog" "no test plan printed (exit $rc${why:+, $why})"
		f=$((f + 1))
	elif [ $((p + f + s)) -lt "$plan" ]; then
		for ((k = p + f + s + 1; k <= plan; k++)); do
			results_add "$results" fail "$label" "$prog:(test $k of $plan)" \
				"never reported (exit $rc${why:+, $why}): $(tail -3 "$err" | tr '\n' ' ')"
			f=$((f + 1))
		done
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		results_add "$results" fail "$label" "$prog:(exit status)" \
			"exit $rc with every test passed: $(tail -3 "$err" | tr '\n' ' ')"
		f=1
	fi
	if [ "$f" -ne 0 ]; then
		grep -v '^ok ' "$out" | tail -40
		tail -20 "$err"
		echo "FAIL $label/$prog (exit $rc): $p passed, $f failed, $s skipped"
	else
		echo "ok   $label/$prog: $p passed$([ "$s" -gt 0 ] && echo ", $s skipped")"
	fi
	tp=$((tp + p)); tf=$((tf + f)); ts=$((ts + s))
done
bad_skips=$(results_unapproved_skips "$results" "$first")
if [ -n "$bad_skips" ]; then
	echo "skipped without an opt-out (USN_TEST_SKIP):"
	sed 's/^/  /' <<<"$bad_skips"
fi
echo "$label: $tp passed, $tf failed, $ts skipped"
[ "$tf" -eq 0 ] && [ -z "$bad_skips" ]
