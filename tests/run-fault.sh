#!/usr/bin/env bash
# A fault-injection check: runs a cmocka program (TAP output) with a fault
# switched on and records a pass only when the expected test failed with a
# message matching the expected regex. Any other outcome fails the check:
# the program passing, crashing before the test, or the test failing some
# other way (the fault may then not be what it caught).
# Usage: tests/run-fault.sh RESULTS ID TEST REGEX -- CMD...  (label: $USN_SUITE_LABEL, default fault)
# Exits non-zero when the fault went uncaught.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/results.sh
. "$here/results.sh"
results=$1 id=$2 want_test=$3 want_re=$4
label=${USN_SUITE_LABEL:-fault}
shift 4
[ "${1:-}" = -- ] && shift
tmp=$(mktemp -d /tmp/usn_fault.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
CMOCKA_MESSAGE_OUTPUT=tap timeout 300 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
got=$(parse_tap "$tmp/out" | awk -F'\t' -v t="$want_test" '$2 == t { print $1 "\t" $3; exit }')
res=${got%%$'\t'*} detail=${got#*$'\t'}
if [ "$res" = fail ] && [[ $detail =~ $want_re ]]; then
	results_add "$results" pass "$label" "$id"
	echo "ok   $label/$id: $want_test failed as expected ($detail)"
	exit 0
fi
case $res in
fail) why="$want_test failed otherwise: '$detail', wanted /$want_re/" ;;
pass) why="went unnoticed: $want_test passed" ;;
skip) why="$want_test was skipped" ;;
*) why="$want_test never reported (exit $rc): $(tail -2 "$tmp/err" | tr '\n' ' ')" ;;
esac
results_add "$results" fail "$label" "$id" "$why"
echo "FAIL $label/$id: $why"
exit 1
