#!/usr/bin/env bash
# Self-test of the test runners and the benchmark's guards: each check feeds
# them a case that must fail (a suite that cannot run, a crash, a cmocka
# set-up error, an empty fuzz replay, a missing counter, a stale binary, a
# dirty tree) and one that must pass, in a temporary directory, and prints
# "PASS name" or "FAIL name: why". Seconds; no root, no network. Part of
# `make test` (make test-selftest). Environment: B, the build whose
# tests/sim/test_fuzz_replay it runs (default build/rel).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${B:-build/rel}
# The runners under test take these from the environment; the checks set
# their own (this script itself runs under tests/run-script.sh).
unset USN_SUITE_LABEL USN_RESULTS USN_SUITE_REQUIRE
tmp=$(mktemp -d /tmp/usn_selftest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
# check NAME WANT_RC CMD...: CMD's exit status is 0 (WANT_RC=0) or not
# (WANT_RC=nonzero); its output goes to $tmp/out.
check() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>&1
	rc=$?
	if { [ "$want" = 0 ] && [ "$rc" = 0 ]; } || { [ "$want" = nonzero ] && [ "$rc" != 0 ]; }; then
		pass "$name"
	else
		fail "$name" "exit $rc, wanted $want: $(tail -3 "$tmp/out" | tr '\n' ' ' | cut -c1-300)"
	fi
}
# has NAME FILE REGEX: FILE has a line matching REGEX.
has() {
	if grep -qE -- "$3" "$2" 2>/dev/null; then pass "$1"; else fail "$1" "no line /$3/ in $(basename "$2"): $(tail -3 "$2" | tr '\n' ' ' | cut -c1-300)"; fi
}

# ---------------------------------------------------------------- run-suite
# Stand-ins for cmocka programs: TAP as CMOCKA_MESSAGE_OUTPUT=tap prints it.
prog() { # prog NAME BODY: $tmp/b/tests/unit/NAME, a script running BODY
	mkdir -p "$tmp/b/tests/unit"
	printf '#!/usr/bin/env bash\n%s\n' "$2" >"$tmp/b/tests/unit/$1"
	chmod +x "$tmp/b/tests/unit/$1"
}
prog t_ok 'printf "1..2\nok 1 - test_a\nok 2 - test_b\n"'
prog t_fail 'printf "1..2\nok 1 - test_a\nnot ok 2 - test_b\n# 0x1 != 0x2\n# t.c:9: error: Failure!\n"; exit 1'
prog t_setup 'printf "1..2\nok 1 - test_a\nnot ok 2 - test_b Could not run test: Test setup failed\n"; exit 1'
prog t_group 'printf "1..3\nnot ok 0 - t_group [  FAILED  ] GROUP SETUP\n"; exit 1'
prog t_crash 'printf "1..3\nok 1 - test_a\n"; kill -SEGV $$'
prog t_noplan 'echo "cannot start" >&2; exit 1'
prog t_leak 'printf "1..1\nok 1 - test_a\n"; echo "LeakSanitizer: detected memory leaks" >&2; exit 23'
prog t_known 'printf "1..2\nok 1 - test_a\nnot ok 2 # SKIP test_known_issue_x\n"'
prog t_skip 'printf "1..2\nok 1 - test_a\nnot ok 2 # SKIP test_b\n"'
prog t_mark 'printf "1..2\n# simnet: host 0.1 on the tilegx backend\nok 1 - test_a\nok 2 - test_b\n"'
suite() { # suite RESULTS PROG...: run-suite over the stand-ins
	local r=$1
	shift
	USN_RESULTS=$r tests/run-suite.sh "$tmp/b" "${@/#/$tmp/b/tests/unit/}"
}
count() { awk -F'\t' -v r="$2" '$1 == r { n++ } END { print n + 0 }' "$1"; }
n_is() { # n_is NAME FILE RESULT N
	local got
	got=$(count "$2" "$3")
	if [ "$got" = "$4" ]; then pass "$1"; else fail "$1" "$got $3 lines, wanted $4: $(tr '\n' ' ' <"$2" | cut -c1-300)"; fi
}

check "run-suite: all passed exits 0" 0 suite "$tmp/r1" t_ok
n_is "run-suite: two tests recorded passed" "$tmp/r1" pass 2
check "run-suite: a failed test fails the run" nonzero suite "$tmp/r2" t_fail
n_is "run-suite: the failed test is recorded" "$tmp/r2" fail 1
has "run-suite: the failure keeps its assertion" "$tmp/r2" $'^fail\t[^\t]*\tunit/t_fail:test_b\t0x1 != 0x2'
check "run-suite: a cmocka set-up error fails the run" nonzero suite "$tmp/r3" t_setup
n_is "run-suite: a set-up error counts as a failed test" "$tmp/r3" fail 1
check "run-suite: a group set-up failure fails the run" nonzero suite "$tmp/r4" t_group
n_is "run-suite: a group set-up failure fails all 3 announced tests" "$tmp/r4" fail 3
check "run-suite: a crash fails the run" nonzero suite "$tmp/r5" t_crash
n_is "run-suite: the 2 tests a crash never reported are failures" "$tmp/r5" fail 2
check "run-suite: a program that prints no plan fails" nonzero suite "$tmp/r6" t_noplan
check "run-suite: a non-zero exit with every test passed fails" nonzero suite "$tmp/r7" t_leak
check "run-suite: a missing program fails" nonzero suite "$tmp/r8" t_missing
check "run-suite: a known-issue skip is opted out by default" 0 env -u USN_TEST_SKIP bash -c \
	"USN_RESULTS='$tmp/r9' tests/run-suite.sh '$tmp/b' '$tmp/b/tests/unit/t_known'"
n_is "run-suite: the opted-out skip still counts as skipped" "$tmp/r9" skip 1
check "run-suite: a skip without an opt-out fails" nonzero env -u USN_TEST_SKIP bash -c \
	"USN_RESULTS='$tmp/r10' tests/run-suite.sh '$tmp/b' '$tmp/b/tests/unit/t_skip'"
check "run-suite: USN_TEST_SKIP opts out of that skip" 0 env USN_TEST_SKIP='b/unit/t_skip:test_b' \
	USN_RESULTS="$tmp/r11" tests/run-suite.sh "$tmp/b" "$tmp/b/tests/unit/t_skip"
check "run-suite: USN_SUITE_REQUIRE fails a test that did not print the line" nonzero env \
	USN_SUITE_REQUIRE='^# simnet: host .* on the tilegx backend' USN_RESULTS="$tmp/r12" \
	tests/run-suite.sh "$tmp/b" "$tmp/b/tests/unit/t_mark"
n_is "run-suite: USN_SUITE_REQUIRE: only the test after the line passed" "$tmp/r12" pass 1

# ---------------------------------------------------------------- run-script
mkdir -p "$tmp/rig"
rigs() { printf '#!/usr/bin/env bash\n%s\n' "$2" >"$tmp/rig/$1.sh"; }
rigs run_cannot 'echo "SKIP fake: needs root"; exit 77'
rigs run_ok 'echo "PASS one"; echo "PASS two"; exit 0'
rigs run_silent_fail 'echo "# a note"; exit 1'
rigs run_nothing 'exit 0'
rigs run_77_quiet 'exit 77'
rigs run_inner_skip 'echo "PASS one"; echo "SKIP two: no tool"; exit 0'
script() { USN_RESULTS=$1 tests/run-script.sh "$tmp/o" "$tmp/rig/$2.sh"; }
check "run-script: a suite that cannot run (not root) fails" nonzero env -u USN_TEST_SKIP bash -c \
	"USN_RESULTS='$tmp/s1' tests/run-script.sh '$tmp/o' '$tmp/rig/run_cannot.sh'"
n_is "run-script: it is counted as skipped" "$tmp/s1" skip 1
check "run-script: USN_TEST_SKIP='rig/*' opts out of it" 0 env USN_TEST_SKIP='rig/*' bash -c \
	"USN_RESULTS='$tmp/s2' tests/run-script.sh '$tmp/o' '$tmp/rig/run_cannot.sh'"
check "run-script: PASS lines pass" 0 script "$tmp/s3" run_ok
n_is "run-script: each PASS line is a test" "$tmp/s3" pass 2
check "run-script: a non-zero exit without a FAIL line fails" nonzero script "$tmp/s4" run_silent_fail
check "run-script: a suite that prints nothing fails" nonzero script "$tmp/s5" run_nothing
check "run-script: exit 77 without a SKIP line fails" nonzero script "$tmp/s6" run_77_quiet
check "run-script: a SKIP inside a suite that ran fails" nonzero env -u USN_TEST_SKIP bash -c \
	"USN_RESULTS='$tmp/s7' tests/run-script.sh '$tmp/o' '$tmp/rig/run_inner_skip.sh'"

# ---------------------------------------------------------------- summary, run-step
printf 'pass\trel\tunit/t:a\t\npass\tsan\tunit/t:a\t\nskip\trig\trun_x/fake: needs root\tneeds root\n' >"$tmp/m1"
check "summary: a skip without an opt-out fails make test" nonzero env -u USN_TEST_SKIP tests/summary.sh "$tmp/m1"
has "summary: total counts the skip, and a test run twice once" "$tmp/out" '^total: 1 passed, 0 failed, 1 skipped$'
has "summary: runs are counted apart" "$tmp/out" '^runs: 3 \(2 passed, 0 failed, 1 skipped\)'
check "summary: opted out, the same results pass" 0 env USN_TEST_SKIP='rig/*' tests/summary.sh "$tmp/m1"
printf 'pass\trel\tunit/t:a\t\nfail\tsan\tunit/t:a\tleak\n' >"$tmp/m2"
check "summary: a test failed in one build fails" nonzero tests/summary.sh "$tmp/m2"
has "summary: a test failed in one build is one failed test" "$tmp/out" '^total: 0 passed, 1 failed, 0 skipped$'
: >"$tmp/m3"
check "summary: no test at all fails" nonzero tests/summary.sh "$tmp/m3"
check "run-step: always exits 0" 0 tests/run-step.sh "$tmp/m4" build false
n_is "run-step: a step failing without a failed test is recorded as failed" "$tmp/m4" fail 1
tests/run-step.sh "$tmp/m5" quiet true >/dev/null
n_is "run-step: a step that records no test is recorded as failed" "$tmp/m5" fail 1

# ---------------------------------------------------------------- run-fault
prog f_caught 'printf "1..2\nnot ok 1 - test_bulk_clean\n# 0x3 != 0\n# p.c:1: error: Failure!\nok 2 - test_b\n"; exit 1'
prog f_other 'printf "1..1\nnot ok 1 - test_bulk_clean\n# p->a\n# p.c:2: error: Failure!\n"; exit 1'
prog f_passes 'printf "1..1\nok 1 - test_bulk_clean\n"'
prog f_dies 'echo "cannot create the emulation" >&2; exit 1'
fault() { tests/run-fault.sh "$tmp/fr" x test_bulk_clean '^0x3 != 0' -- "$tmp/b/tests/unit/$1"; }
check "run-fault: the expected test failing its expected assertion is caught" 0 fault f_caught
check "run-fault: another failure is not a catch" nonzero fault f_other
check "run-fault: a fault the test passes through is not a catch" nonzero fault f_passes
check "run-fault: a crash at start is not a catch" nonzero fault f_dies

# ---------------------------------------------------------------- fuzz replay
fr=$B/tests/sim/test_fuzz_replay
if [ -x "$fr" ]; then
	mkdir -p "$tmp/fz/corpus/fuzz_wire" "$tmp/fz/corpus/fuzz_frame" "$tmp/fz/corpus/fuzz_tcp_opts"
	check "fuzz replay: a replay of no input fails" nonzero env USN_FUZZ_DIR="$tmp/fz" "$fr"
	cp tests/fuzz/corpus/fuzz_wire/* "$tmp/fz/corpus/fuzz_wire/"
	CMOCKA_MESSAGE_OUTPUT=tap USN_FUZZ_DIR="$tmp/fz" "$fr" >"$tmp/fz.out" 2>&1
	has "fuzz replay: a target with inputs passes" "$tmp/fz.out" '^ok [0-9]+ - test_replay_fuzz_wire$'
	has "fuzz replay: a target without inputs fails" "$tmp/fz.out" '^not ok [0-9]+ - test_replay_fuzz_frame'
	check "fuzz replay: the seed corpora replay" 0 "$fr"
else
	fail "fuzz replay" "$fr not built (make tests-build)"
fi

# ---------------------------------------------------------------- reliability data
(
	# Only the checks' definitions (no namespace, no server).
	REL_FUNCTIONS_ONLY=1 . tests/reliability/run_reliability.sh
	trap 'rm -rf "$rel_work"' EXIT
	printf 'tcp_passive_opens 5\ntcp_closed 5\ntcp_pool_empty 0\n' >"$rel_work/tel"
	awk '{ print $1 }' "$rel_work/tel" >"$rel_work/counter_names"
	v=$(rel_stat "$rel_work/tel" tcp_pool_empty) && [ "$v" = 0 ] && echo "PASS reliability: a counter at 0 reads 0" ||
		echo "FAIL reliability: a counter at 0 reads 0: got '$v'"
	if v=$(rel_stat "$rel_work/tel" drop_tcp_listen_full 2>/dev/null); then
		echo "FAIL reliability: a missing counter fails its check: read as '$v'"
	else echo "PASS reliability: a missing counter fails its check"; fi
	: >"$rel_work/empty"
	if v=$(rel_stat "$rel_work/empty" tcp_pool_empty 2>/dev/null); then
		echo "FAIL reliability: empty telemetry fails: read as '$v'"
	else echo "PASS reliability: empty telemetry fails"; fi
	# Exit counters: the backend prints only non-zero ones.
	printf 'worker 0 (lcore 0): tcp_passive_opens=7 tcp_closed=7\n' >"$rel_work/log_ok"
	printf 'worker 0: 7 requests (200: 7, 404: 0, other: 0), 7 connections (7 closed, 0 reset/timed out, 0 timed out, 0 request incomplete at --header-timeout-ms)\n' >>"$rel_work/log_ok"
	rel_stats "$rel_work/log_ok" >"$rel_work/ok.stats"
	v=$(rel_stat "$rel_work/ok.stats" tcp_pool_empty) && [ "$v" = 0 ] &&
		echo "PASS reliability: a known counter absent from a worker line is 0" ||
		echo "FAIL reliability: a known counter absent from a worker line is 0: got '$v'"
	out=$(check_balance t "$rel_work/ok.stats")
	[ "$(grep -c '^PASS' <<<"$out")" = 2 ] && ! grep -q '^FAIL' <<<"$out" &&
		echo "PASS reliability: balanced counters pass" ||
		echo "FAIL reliability: balanced counters pass: $(tr '\n' ' ' <<<"$out")"
	printf 'listening on 198.18.0.1:80\nstopped: 0 requests\n' >"$rel_work/log_none"
	rel_stats "$rel_work/log_none" >"$rel_work/none.stats"
	out=$(check_balance t "$rel_work/none.stats")
	[ "$(grep -c '^FAIL' <<<"$out")" = 2 ] && echo "PASS reliability: counters missing at exit fail the balance" ||
		echo "FAIL reliability: counters missing at exit fail the balance: $(tr '\n' ' ' <<<"$out")"
	printf 'worker 0 (lcore 0):\nworker 0: 0 requests (200: 0, 404: 0, other: 0), 0 connections (0 closed, 0 reset/timed out, 0 timed out, 0 request incomplete at --header-timeout-ms)\n' >"$rel_work/log_zero"
	rel_stats "$rel_work/log_zero" >"$rel_work/zero.stats"
	out=$(check_balance t "$rel_work/zero.stats")
	[ "$(grep -c '^FAIL' <<<"$out")" = 2 ] && echo "PASS reliability: a 0 = 0 balance fails" ||
		echo "FAIL reliability: a 0 = 0 balance fails: $(tr '\n' ' ' <<<"$out")"
) >"$tmp/rel.out" 2>&1
sed -n 's/^\(PASS\|FAIL\) reliability: /\1 /p' "$tmp/rel.out" | sed 's/^PASS /PASS reliability data: /; s/^FAIL /FAIL reliability data: /'
fails=$((fails + $(grep -c '^FAIL reliability: [a-z]' "$tmp/rel.out")))
[ "$(grep -c '^PASS reliability: ' "$tmp/rel.out")" -ge 7 ] ||
	fail "reliability data" "the checks did not all run: $(tail -3 "$tmp/rel.out" | tr '\n' ' ')"

# ---------------------------------------------------------------- benchmark guards
# The benchmark asks `make -q` whether a program is up to date: a rule that
# always runs (a FORCE prerequisite) on a program's path makes every program
# look stale. The backend selector's object is on every program's path.
mq=$tmp/mq
if make -s O="$mq" SAN=0 "$mq/rel/arch/select/select.o" >"$tmp/mq.out" 2>&1; then
	check "bench: an object just built is up to date for make -q" 0 make -q O="$mq" SAN=0 "$mq/rel/arch/select/select.o"
else
	fail "bench: an object just built is up to date for make -q" "the build failed: $(tail -3 "$tmp/mq.out" | tr '\n' ' ')"
fi
/usr/bin/python3 -B - "$tmp" >"$tmp/bench.out" 2>&1 <<'EOF'
import os, subprocess, sys, time
sys.path.insert(0, "bench")
import argparse
import bench, cpuwin
tmp = sys.argv[1]

def check(name, ok, why=""):
    print("%s bench: %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + why))

# A tree whose minimal_ws is built, then whose source changes.
tree = os.path.join(tmp, "tree")
os.makedirs(tree)
with open(os.path.join(tree, "Makefile"), "w") as f:
    f.write("O ?= build\nB := $(O)/rel\n$(B)/apps/minimal_ws: src.c\n\tmkdir -p $(dir $@) && cp src.c $@ && chmod +x $@\n")
with open(os.path.join(tree, "src.c"), "w") as f:
    f.write("one\n")
subprocess.run(["make", "-s", "-C", tree], check=True)
bench.ROOT = tree
bdir = os.path.join(tree, "build", "rel")
binary = os.path.join(bdir, "apps", "minimal_ws")
ok, why = bench.binary_fresh(binary, bdir)
check("a binary built from the current tree is fresh", ok, str(why))
time.sleep(0.05)
with open(os.path.join(tree, "src.c"), "w") as f:
    f.write("two\n")
ok, why = bench.binary_fresh(binary, bdir)
check("a binary older than its source is refused", not ok and "stale" in (why or ""), str(why))
args = argparse.Namespace(build_dir=bdir, vdev="af_packet")
res = bench.measure_point({"server": "minimal_ws", "offloads": "n/a", "mtu": 1500, "workers": 1}, args, {}, None, None)
check("a stale server is not measured and its row says why",
      res["status"] == "not built" and not res["runs"] and any("stale" in n for n in res["notes"]), repr(res))
ok, why = bench.binary_fresh(binary, os.path.join(tree, "elsewhere"))
check("a build dir that cannot be checked is refused", not ok, str(why))

# The report's commit: untracked files make the tree dirty.
g = os.path.join(tmp, "git")
os.makedirs(g)
env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
           GIT_COMMITTER_EMAIL="t@t")
for cmd in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "x"]):
    subprocess.run(["git", "-C", g] + cmd, check=True, env=env)
bench.ROOT = g
_, dirty = bench.git_info()
check("a clean tree is not dirty", dirty is False, repr(dirty))
open(os.path.join(g, "new.c"), "w").close()
_, dirty = bench.git_info()
check("an untracked file makes the tree dirty", dirty == {"modified": 0, "untracked": 1}, repr(dirty))
check("the report's commit says so", "untracked" in bench.commit_text({"commit": "abc", "dirty": dirty}))

# The comparison lines use minimal_ws's best port, and say which.
def row(server, off, req, cpu, frames, port=None):
    r = {"server": server, "offloads": off, "mtu": 1500, "workers": 1, "status": "ok", "notes": [],
         "summary": {"req_per_s": {"median": req}, "cpu_us_per_req": {"median": cpu},
                     "frames_per_req": {"median": frames}}}
    if port:
        r.update(port=port, vdev={"dpdk": "af_xdp", "packet": "packet"}[port])
    return r
c = bench.comparison([row("minimal_ws", "n/a", 100, 10, 80, "dpdk"), row("minimal_ws", "n/a", 300, 5, 20, "packet"),
                      row("bsd_ws", "on", 200, 20, 10)])
check("the comparison uses minimal_ws's best port and says which",
      c["best"]["port"] == "packet" and "packet-port" in c["lines"][0] and
      any("1.50x req/s, 0.25x CPU us/req, 2.00x frames/req" in l for l in c["lines"]), repr(c))
# A point beyond the open-file limit is not measured, and says why.
res = bench.measure_point({"server": "nginx", "binary": "/bin/true", "offloads": "on", "mtu": 1500, "workers": 1,
                           "connections": bench.nofile_limit()}, argparse.Namespace(connections=1000), {}, None, None)
check("a point beyond the open-file limit is not measured and says why",
      res["status"] == "skipped" and "open-file limit" in " ".join(res["notes"]), repr(res))

# CPU over a window: interpolated at its ends, steal apart.
tk = 1 / cpuwin.TICK_S
s = [(0.0, {0: [0, 0, 0, 0, 0, 0, 0, 0]}, None),
     (1.0, {0: [tk * 0.5, 0, 0, tk * 0.3, 0, 0, 0, tk * 0.2]}, None),
     (2.0, {0: [tk * 1.5, 0, 0, tk * 0.3, 0, 0, 0, tk * 0.2]}, None)]
w = cpuwin.window(s, 0.5, 1.5, [0])
check("CPU over a window is interpolated at its ends", abs(w["busy_s"] - 0.75) < 1e-9, repr(w))
check("steal is not busy time", abs(w["steal_s"] - 0.1) < 1e-9, repr(w))
try:
    cpuwin.window(s, 0.5, 3.0, [0])
    check("a window the samples do not cover is an error", False, "no error")
except cpuwin.WindowError:
    check("a window the samples do not cover is an error", True)

# The same-client ratio needs the same client driver.
import compare_ratios
base = {"link": "veth", "client": "usn_load", "req_s": 10.0, "req_s_per_core": 5.0,
        "req_s_per_server_core": 10.0, "timeout_s": 5.0}
pts = [dict(base, name="m", server="minimal_ws", vdev="net_af_xdp"),
       dict(base, name="b", server="bsd_ws", vdev="net_af_packet")]
r = compare_ratios.ratios(pts)["same_client_minimal_vs_bsd_req_s"]
check("no same-client ratio across client drivers", r["value"] is None and "different" in r["why"], repr(r))
pts[1]["vdev"] = "net_af_xdp"
r = compare_ratios.ratios(pts)["same_client_minimal_vs_bsd_req_s"]
check("the same-client ratio states its method", r["value"] == 1.0 and "usn_load" in r["method"], repr(r))
# Per client port: minimal_ws over the packet port is never divided by bsd_ws
# measured with a DPDK client; the headline is the best port's, and says so.
pts.append(dict(base, name="mp", server="minimal_ws", vdev="packet", port="packet", req_s=30.0))
rr = compare_ratios.ratios(pts)
r = rr["same_client_minimal_vs_bsd_req_s.packet"]
check("no same-client ratio across client ports", r["value"] is None, repr(r))
check("a port without a pair leaves the others' headline", rr["same_client_minimal_vs_bsd_req_s"]["value"] == 1.0,
      repr(rr["same_client_minimal_vs_bsd_req_s"]))
pts.append(dict(base, name="bp", server="bsd_ws", vdev="packet", port="packet", req_s=10.0))
rr = compare_ratios.ratios(pts)
r = rr["same_client_minimal_vs_bsd_req_s"]
check("the same-client headline is the best client port's and says which",
      r["value"] == 3.0 and rr["same_client_minimal_vs_bsd_req_s.dpdk"]["value"] == 1.0 and
      "best client port on this rig: the Linux packet port" in r["method"], repr(rr))
EOF
cat "$tmp/bench.out" | grep -E '^(PASS|FAIL) '
fails=$((fails + $(grep -c '^FAIL ' "$tmp/bench.out")))
[ "$(grep -c '^PASS bench: ' "$tmp/bench.out")" -ge 17 ] ||
	fail "bench guards" "the checks did not all run: $(tail -3 "$tmp/bench.out" | tr '\n' ' ')"

[ "$fails" = 0 ]
