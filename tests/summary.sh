#!/usr/bin/env bash
# Prints the closing lines of `make test` from the results file
# (tests/results.sh): the failed runs, the skipped ones (opted out by
# USN_TEST_SKIP or not), the runs, and last
#     total: N passed, N failed, N skipped
# over distinct tests: a test run in several builds (normal, sanitizer,
# TILE-Gx modes) counts once: failed if any run of it failed, else skipped
# if any run was skipped, else passed. Fails when a test failed, when a
# skip was not opted out, or when no test ran.
# Usage: tests/summary.sh RESULTS
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/results.sh
. "$here/results.sh"
r=$1
if [ ! -s "$r" ]; then
	echo "total: 0 passed, 0 failed, 0 skipped (no test ran)"
	exit 1
fi
# (A rig line's ID already says why it failed.)
awk -F'\t' '$1 == "fail" { printf "FAIL %s/%s%s\n", $2, $3, ($4 == "" || index($3, $4)) ? "" : ": " $4 }' "$r" | head -50
nf=$(results_count "$r" fail)
[ "$nf" -gt 50 ] && echo "... and $((nf - 50)) more failed runs (all in $r)"
ok_skips=$(awk -F'\t' '$1 == "skip" { print $2 "/" $3 }' "$r" | while IFS= read -r n; do
	skip_opted_out "$n" && echo "$n"; done)
bad_skips=$(results_unapproved_skips "$r")
# One line per skipped test, with the runs (labels) it was skipped in.
by_test() {
	awk '{ i = index($0, "/"); l = substr($0, 1, i - 1); t = substr($0, i + 1)
	       if (!(t in ls)) { order[++n] = t; ls[t] = l } else ls[t] = ls[t] ", " l }
	     END { for (k = 1; k <= n; k++) printf "  %s (%s)\n", order[k], ls[order[k]] }'
}
[ -n "$ok_skips" ] && { echo "skipped, opted out by USN_TEST_SKIP='$USN_TEST_SKIP':"; by_test <<<"$ok_skips"; }
[ -n "$bad_skips" ] && {
	echo "SKIPPED without an opt-out (they did not run; see README, Tests, to opt out with USN_TEST_SKIP):"
	sed 's/^/  /' <<<"$bad_skips"
}
awk -F'\t' '
	{ if (!($2 in runs)) lorder[++nl] = $2
	  runs[$2]++; res[$1]++; n++
	  if (!($3 in st)) { st[$3] = $1; order[++k] = $3 }
	  else if ($1 == "fail" || (st[$3] == "pass" && $1 == "skip")) st[$3] = $1 }
	END {
		lab = ""
		for (i = 1; i <= nl; i++) lab = lab (lab == "" ? "" : ", ") lorder[i] " " runs[lorder[i]]
		printf "runs: %d (%d passed, %d failed, %d skipped) by label: %s\n", n, res["pass"], res["fail"], res["skip"], lab
		printf "%d distinct tests; each counts once below (failed if any run failed, else skipped if any was)\n", k
		for (i = 1; i <= k; i++) d[st[order[i]]]++
		printf "total: %d passed, %d failed, %d skipped\n", d["pass"], d["fail"], d["skip"]
	}' "$r"
[ "$nf" -eq 0 ] && [ -z "$bad_skips" ] && [ "$(results_count "$r" pass)" -gt 0 ]
