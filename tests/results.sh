# Shared by tests/run-suite.sh, tests/run-script.sh, tests/run-step.sh and
# tests/summary.sh (sourced): the results file, one line per test run,
#     RESULT <tab> LABEL <tab> ID <tab> DETAIL
# RESULT is pass, fail or skip; LABEL names the run (rel, san,
# tilegx-128-1-all, prof, rig, ...); ID names the test, the same in every
# run of it (sim/test_tcp_pair:test_bulk_clean, run_dpdk_echo/af_packet
# ping), so that distinct tests and runs can be told apart; DETAIL says why
# a run failed or was skipped.
#
# A skip (a test or suite that could not run) fails the run unless
# USN_TEST_SKIP opts out of it: whitespace-separated shell patterns matched
# against LABEL/ID, e.g. USN_TEST_SKIP='rig/*' (no rig suite needs to run)
# or 'rig/run_dpdk_echo/af_xdp*'. Unset, it opts out of what cannot run
# on any machine like this one: the known-issue tests (test_known_issue_*,
# skipped unless asked for), usn_echo over net_af_xdp with two workers
# (DPDK's net_af_xdp wants combined channels, which a veth does not have),
# and usn_load over IPv6 in the TILE-Gx modes with two or more workers (a
# port with RSS makes every IPv6 flow worker 0's, so usn_load refuses an
# IPv6 server with several workers there: the test has nothing to run).
# Set (even empty), it replaces that default.
# shellcheck shell=bash

USN_TEST_SKIP_DEFAULT='*:test_known_issue_* rig/run_dpdk_echo/af_xdp_2w:* tilegx-*/sim/test_load_sim:test_ipv6_all_correct'
: "${USN_TEST_SKIP=$USN_TEST_SKIP_DEFAULT}"

# Exit status of a rig script that could not run at all (automake's
# convention); it prints "SKIP name: why" first.
USN_EXIT_SKIP=77

# results_add FILE RESULT LABEL ID [DETAIL]
results_add() {
	local f=$1 r=$2 l=$3 id=$4 d=${5:-}
	id=${id//$'\t'/ }; d=${d//$'\t'/ }
	id=${id//$'\n'/ }; d=${d//$'\n'/ }
	printf '%s\t%s\t%s\t%s\n' "$r" "$l" "$id" "${d:0:300}" >>"$f"
}

# skip_opted_out NAME: true when a pattern of USN_TEST_SKIP matches NAME.
skip_opted_out() {
	local pat pats
	set -f
	# shellcheck disable=SC2206 # split on whitespace, no globbing (set -f)
	pats=($USN_TEST_SKIP)
	set +f
	for pat in "${pats[@]}"; do
		# shellcheck disable=SC2053 # $pat is a pattern
		[[ $1 == $pat ]] && return 0
	done
	return 1
}

# results_count FILE RESULT: the lines of that result.
results_count() {
	[ -f "$1" ] || { echo 0; return; }
	awk -F'\t' -v r="$2" '$1 == r { n++ } END { print n + 0 }' "$1"
}

# results_unapproved_skips FILE [FROM_LINE]: the skipped runs, from line
# FROM_LINE on (default 1), that USN_TEST_SKIP does not opt out of, one
# "LABEL/ID: DETAIL" per line.
results_unapproved_skips() {
	local r l id d n=0 from=${2:-1}
	[ -f "$1" ] || return 0
	while IFS=$'\t' read -r r l id d; do
		n=$((n + 1))
		[ "$n" -ge "$from" ] && [ "$r" = skip ] || continue
		skip_opted_out "$l/$id" && continue
		# A rig line's ID already says why.
		if [ -n "$d" ] && [[ $id != *"$d"* ]]; then printf '%s/%s: %s\n' "$l" "$id" "$d"; else printf '%s/%s\n' "$l" "$id"; fi
	done <"$1"
}

# parse_tap FILE [REQUIRE]: reads a cmocka program's TAP output
# (CMOCKA_MESSAGE_OUTPUT=tap) and prints "RESULT<tab>NAME<tab>DETAIL" per
# reported test (DETAIL: a failure's message lines joined by " | "), then
# "plan<tab>N" (-1 when no plan was printed). With REQUIRE (an extended
# regex), a test that printed no line matching it since the previous
# result fails instead of passing. A group set-up failure is the test
# "(group set-up)".
parse_tap() {
	awk -v req="${2:-}" '
	function flush_fail() { if (fname != "") { print "fail\t" fname "\t" fdetail; fname = "" } }
	BEGIN { plan = -1; seen = 0 }
	/^1\.\.[0-9]+$/ { flush_fail(); plan = substr($0, 4) + 0; next }
	/^ok [0-9]+ - / {
		flush_fail()
		n = $4
		if (req != "" && !seen) print "fail\t" n "\tno line matching /" req "/ before its result"
		else print "pass\t" n "\t"
		seen = 0; next
	}
	/^not ok [0-9]+ # SKIP / { flush_fail(); n = $0; sub(/^not ok [0-9]+ # SKIP /, "", n); print "skip\t" n "\tskipped by the test"; seen = 0; next }
	/^not ok 0 - / { flush_fail(); fname = "(group set-up)"; fdone = 0; fdetail = $0; sub(/^not ok 0 - /, "", fdetail); seen = 0; next }
	/^not ok [0-9]+ - / {
		flush_fail()
		fname = $5; fdone = 0; fdetail = $0; sub(/^not ok [0-9]+ - [^ ]+ ?/, "", fdetail)
		seen = 0; next
	}
	req != "" && $0 ~ req { flush_fail(); seen = 1; next }
	# cmocka writes a failure as "# message" lines ending with "# FILE:LINE: error: ..."
	/^# / && fname != "" && !fdone && !/^# simnet: / && !/^# (not )?ok - / {
		fdetail = fdetail (fdetail == "" ? "" : " | ") substr($0, 3)
		if ($0 ~ /:[0-9]+: error: /) fdone = 1
		next
	}
	END { flush_fail(); print "plan\t" plan }' "$1"
}
