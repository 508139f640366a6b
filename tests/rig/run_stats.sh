#!/usr/bin/env bash
# Rig suite: the live counters (--stats-interval) and DPDK telemetry of a
# running server. minimal_ws runs with --stats-interval 1 at the server end
# of a veth pair (namespaces of its own, 198.18.0.0/15, removed by a trap),
# on the Linux packet port and on DPDK net_af_packet; a client in the other
# namespace loads it for three seconds (16 threads of the kernel's TCP, one
# request per connection, every answer checked) and counts the requests
# answered. tests/rig/stats_check.py then checks that every line parses and
# that the last line's request counter is the client's count, with the
# rates adding up to it. On DPDK, dpdk-telemetry.py reads /usnet/stats,
# /usnet/pools and /usnet/app from the running server (the command README
# shows), and /usnet/app must agree with the client too. usn_echo's line
# must show a connection held open as est=1.
# Prints PASS/FAIL lines; exits 1 on a failure, 77 after a SKIP line when it
# cannot run (not root, minimal_ws not built).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=$top/${O:-build}/rel
name=stats
id=$$
ns_s=usnss$id ns_c=usnsc$id if_s=vss$id if_c=vsc$id
addr_s=198.18.0.1 addr_c=198.18.0.2
work=$(mktemp -d /tmp/usn_stats.XXXXXX)
pid=""
fails=0

pass() { echo "PASS $name: $1"; }
fail() { echo "FAIL $name: $1${2:+: $2}"; fails=$((fails + 1)); }

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -INT "$pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	fi
	ip netns del "$ns_s" 2>/dev/null
	ip netns del "$ns_c" 2>/dev/null
	rm -rf "$work" /var/run/dpdk/usnstats"$id"*
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ "$(id -u)" != 0 ]; then
	echo "SKIP $name: needs root (network namespaces)"
	exit 77
fi
if [ ! -x "$B/apps/minimal_ws" ] || [ ! -x "$B/apps/usn_echo" ]; then
	echo "SKIP $name: $B/apps/minimal_ws or usn_echo not built"
	exit 77
fi

root=$work/root
mkdir -p "$root"
head -c 2000 /dev/urandom | base64 >"$root/index.html"

ip netns add "$ns_s" && ip netns add "$ns_c" || { fail setup "ip netns add"; exit 1; }
ip link add "$if_s" netns "$ns_s" type veth peer name "$if_c" netns "$ns_c" || { fail setup veth; exit 1; }
ip -n "$ns_s" link set "$if_s" up
ip -n "$ns_c" link set "$if_c" up
ip -n "$ns_c" link set lo up
ip -n "$ns_c" addr add "$addr_c/24" dev "$if_c"
ip netns exec "$ns_s" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$ns_c" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
ip netns exec "$ns_c" sysctl -qw net.ipv4.tcp_tw_reuse=1
# Complete checksums from the kernel: net_af_packet passes partial ones on
# to the stack, which drops them (the packet port completes them).
ip netns exec "$ns_c" ethtool -K "$if_c" tx off >/dev/null 2>&1

# start LOG CMD...: runs the server in its namespace until "listening".
start() {
	local log=$1 i
	shift
	ip netns exec "$ns_s" "$@" >"$log" 2>&1 &
	pid=$!
	for i in $(seq 150); do
		grep -qE '^(listening on|usn_echo: listening)' "$log" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

stop() {
	local i rc
	kill -INT "$pid" 2>/dev/null
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	wait "$pid"
	rc=$?
	pid=""
	return $rc
}

# load SECONDS: the client; prints "answered N failed F".
load() {
	ip netns exec "$ns_c" python3 - "$addr_s" "$1" "$root/index.html" <<'EOF'
import socket, sys, threading, time
host, secs, want = sys.argv[1], float(sys.argv[2]), open(sys.argv[3], "rb").read()
# ARP first: the stack may still be resolving
for _ in range(100):
    try:
        socket.create_connection((host, 80), timeout=0.5).close()
        break
    except OSError:
        time.sleep(0.1)
# that connection was no request: the server counts only answered ones
lock = threading.Lock()
count = {"ok": 0, "bad": 0}
end = time.monotonic() + secs
def client():
    while time.monotonic() < end:
        try:
            s = socket.create_connection((host, 80), timeout=5)
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            d = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                d += b
            s.close()
            good = d.startswith(b"HTTP/1.1 200") and d.endswith(want)
        except OSError:
            good = False
        with lock:
            count["ok" if good else "bad"] += 1
ts = [threading.Thread(target=client) for _ in range(16)]
for t in ts: t.start()
for t in ts: t.join()
print("answered %d failed %d in %.1f s" % (count["ok"], count["bad"], time.monotonic() - end + secs))
EOF
}

# telemetry PREFIX CMD...: dpdk-telemetry.py's JSON for each command, as the
# README shows it.
telemetry() {
	local prefix=$1
	shift
	printf '%s\n' "$@" | timeout 10 dpdk-telemetry.py -f "$prefix" 2>&1
}

# run LABEL CMD...: minimal_ws with --stats-interval 1 under three seconds
# of load, then the checks.
run() {
	local label=$1 log=$work/$1.log out n f
	shift
	echo "# $label: start $(date +%T.%N)"
	if ! start "$log" "$@" --root "$root" --ip "$addr_s/24" --stats-interval 1; then
		fail "$label: minimal_ws starts" "$(tail -3 "$log" | tr '\n' ' ')"
		stop
		return
	fi
	load 3 >"$work/$label.client" &
	local lpid=$!
	if [ "$label" = dpdk ]; then
		sleep 1.5
		telemetry "usnstats$id" /usnet/stats /usnet/pools /usnet/app >"$work/tel.out"
	fi
	wait "$lpid"
	read -r _ n _ f _ <"$work/$label.client"
	if [ -n "$n" ] && [ "$n" -gt 100 ] && [ "$f" = 0 ]; then
		pass "$label: the client's load: $(cat "$work/$label.client"), none failed"
	else
		fail "$label: the client's load" "$(cat "$work/$label.client")"
	fi
	if [ "$label" = dpdk ]; then
		if python3 - "$work/tel.out" <<'EOF'; then
import json, sys
docs = {}
for l in open(sys.argv[1]):
    l = l.strip()
    if l.startswith("{"):
        docs.update(json.loads(l))
st, pools, app = docs["/usnet/stats"], docs["/usnet/pools"], docs["/usnet/app"]
assert "conns_established" in st and "conns_time_wait" in st and st["tcp_established"] > 0, st
assert pools["low_0"] <= pools["free_0"] <= pools["size_0"] and pools["low_0"] < pools["size_0"], pools
assert app["requests"] > 0, app
print("PASS stats: dpdk: dpdk-telemetry.py reads the running server: /usnet/stats (%d established so far, "
      "%d in TIME-WAIT), /usnet/pools (free %d, low %d of %d), /usnet/app (%d requests)" %
      (st["tcp_established"], st["conns_time_wait"], pools["free_0"], pools["low_0"], pools["size_0"],
       app["requests"]))
EOF
			:
		else
			fail "dpdk: dpdk-telemetry.py reads the running server" "$(head -c 400 "$work/tel.out")"
		fi
		out=$(telemetry "usnstats$id" /usnet/app)
		if grep -q "\"requests\": $n}" <<<"$out"; then
			pass "dpdk: /usnet/app after the load: $n requests, the client's count"
		else
			fail "dpdk: /usnet/app after the load" "$out (client: $n)"
		fi
	fi
	echo "# $label: load done $(date +%T.%N)"
	sleep 1.2 # one more line after the load, then stop
	stop || fail "$label: clean stop" "exit $?"
	echo "# $label: stopped $(date +%T.%N)"
	python3 "$here/stats_check.py" "$log" --label "$name: $label" --requests "${n:-0}" || fails=$((fails + 1))
}

run pport "$B/apps/minimal_ws" --iface "$if_s"
if [ -e "$B/libusnet_dpdk.a" ] && command -v dpdk-telemetry.py >/dev/null; then
	run dpdk "$B/apps/minimal_ws" --no-huge -m 512 --no-pci --file-prefix "usnstats$id" \
		--vdev="net_af_packet0,iface=$if_s" -l 0 --
else
	echo "SKIP $name: dpdk: no DPDK build or no dpdk-telemetry.py"
fi

# usn_echo: a connection held open for two lines shows as established.
log=$work/echo.log
if start "$log" "$B/apps/usn_echo" --iface "$if_s" --ip "$addr_s/24" --stats-interval 0.5; then
	out=$(ip netns exec "$ns_c" python3 - "$addr_s" <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        s = socket.create_connection((sys.argv[1], 7), timeout=2)
        break
    except OSError:
        time.sleep(0.1)
s.sendall(b"held")
print(s.recv(100).decode())
time.sleep(1.5)
s.close()
time.sleep(1.2)
EOF
	)
	[ "$out" = held ] && pass "echo: the held connection echoes" || fail "echo: held connection" "$out"
	stop || fail "echo: clean stop" "exit $?"
	python3 "$here/stats_check.py" "$log" --label "$name: echo" --interval 0.5 --held || fails=$((fails + 1))
else
	fail "echo: usn_echo starts" "$(tail -3 "$log" | tr '\n' ' ')"
	stop
fi

[ "$fails" = 0 ]
