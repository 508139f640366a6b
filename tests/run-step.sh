#!/usr/bin/env bash
# One step of `make test` (a build and its suites): runs CMD and, when it
# fails without recording a failed test in RESULTS (a build error, a make
# target that stopped early), or succeeds without recording any test,
# records that as a failure of the step, so that nothing vanishes from
# the total. Always exits 0: tests/summary.sh decides.
# Usage: tests/run-step.sh RESULTS NAME CMD...
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/results.sh
. "$here/results.sh"
r=$1 name=$2
shift 2
mkdir -p "$(dirname "$r")"
touch "$r"
lines0=$(wc -l <"$r")
fails0=$(results_count "$r" fail)
"$@"
rc=$?
if [ "$rc" -ne 0 ] && [ "$(results_count "$r" fail)" -eq "$fails0" ] && \
	[ -z "$(results_unapproved_skips "$r" $((lines0 + 1)))" ]; then
	results_add "$r" fail step "$name" "\`$*\` exited $rc without recording a failed test (build error?)"
	echo "FAIL step $name: \`$*\` exited $rc without recording a failed test"
elif [ "$rc" -eq 0 ] && [ "$(wc -l <"$r")" -eq "$lines0" ]; then
	results_add "$r" fail step "$name" "\`$*\` recorded no test"
	echo "FAIL step $name: \`$*\` recorded no test"
fi
exit 0
