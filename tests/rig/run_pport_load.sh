#!/usr/bin/env bash
# Rig suite: usn_load (active opens) on the Linux packet port against the
# kernel's bsd_ws in the peer namespace, over a veth pair with the kernel's
# offloads on. One worker; two workers in the CBPF fanout group (each
# worker's replies must come back to it: the group's program puts them
# where usn_rss_queue says, the worker picked its source ports by it); two
# workers with --pkt-fanout=hash (worker 0 receives and steers, so it must
# keep polling until the other is done). Each run is bounded by a request
# count; every response is checked (usn_load compares the bytes with the
# page files). Fails (never skips) when it cannot run. Needs root.
# Binaries: $USN_LOAD, $BSD_WS (default build/rel/apps/...).
set -u
cd "$(dirname "$0")/../.." || exit 1

LOAD=${USN_LOAD:-build/rel/apps/usn_load}
BSD=${BSD_WS:-build/rel/apps/bsd_ws}
REQS=${USN_LOAD_REQS:-2000}
id=$$
NS_S=usnls$id NS_C=usnlc$id
IF_S=uls$id IF_C=ulc$id
SRV_IP=198.18.0.1 CLI_IP=198.18.0.2
tmp=$(mktemp -d /tmp/usn_pport_load.XXXXXX)
srv_pid=
fails=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }

cleanup() {
	if [ -n "$srv_pid" ]; then
		kill "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null
	fi
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	fail pport_load "needs root (network namespaces, packet sockets)"
	exit 1
fi
for b in "$LOAD" "$BSD"; do
	if [ ! -x "$b" ]; then
		fail pport_load "$b not built (make)"
		exit 1
	fi
done

# Pages: small, medium, large (several TSO segments from the kernel).
root=$tmp/root
mkdir -p "$root"
head -c 3500 /dev/urandom >"$root/small.bin"
head -c 70000 /dev/urandom >"$root/medium.bin"
head -c 400000 /dev/urandom >"$root/large.bin"

setup_net() {
	ip netns add "$NS_S" && ip netns add "$NS_C" &&
		ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_S" netns "$NS_S" &&
		ip -n "$NS_S" link set lo up && ip -n "$NS_C" link set lo up &&
		ip netns exec "$NS_C" sysctl -qw "net.ipv6.conf.$IF_C.disable_ipv6=1" &&
		ip netns exec "$NS_S" sysctl -qw "net.ipv6.conf.$IF_S.disable_ipv6=1" &&
		ip -n "$NS_S" link set "$IF_S" up && ip -n "$NS_C" link set "$IF_C" up &&
		ip -n "$NS_S" addr add "$SRV_IP/24" dev "$IF_S"
}
if ! setup_net 2>"$tmp/setup.err"; then
	fail setup "namespaces/veth: $(head -1 "$tmp/setup.err")"
	exit 1
fi
ip netns exec "$NS_S" "$BSD" --root "$root" --addr "$SRV_IP" --port 80 >"$tmp/bsd.log" 2>&1 </dev/null &
srv_pid=$!
for _ in $(seq 50); do
	ip netns exec "$NS_S" python3 -c "import socket; socket.create_connection(('$SRV_IP', 80), timeout=1).close()" \
		2>/dev/null && break
	sleep 0.1
done
pass setup

# run_case NAME WORKERS [PORT OPTIONS...]
run_case() {
	local name=$1 workers=$2
	shift 2
	local log=$tmp/$name.log
	ip netns exec "$NS_C" timeout 120 "$LOAD" --iface "$IF_C" "$@" --ip "$CLI_IP/24" --server "$SRV_IP" \
		--pages "$root" --workers "$workers" --connections 64 --requests "$REQS" --timeout 10 >"$log" 2>&1 </dev/null
	local rc=$?
	if [ "$rc" = 0 ] && grep -qE "^requests: $REQS started, $REQS correct, 0 errors" "$log"; then
		pass "$name: $REQS requests, every response correct"
	else
		fail "$name" "exit $rc: $(grep -E '^(requests|errors|usn_load)' "$log" | tr '\n' ' ' | cut -c1-400)"
	fi
	local w n
	for ((w = 0; w < workers; w++)); do
		n=$(sed -n "s/^worker $w .*tcp_active_opens=\([0-9]*\).*/\1/p" "$log")
		if [ -n "$n" ] && [ "$n" -gt 0 ]; then
			pass "$name: worker $w opened $n connections"
		else
			fail "$name worker $w" "no active open: $(grep "^worker $w" "$log" | cut -c1-300)"
		fi
	done
	if grep -qE 'drop_arp_unresolved=[1-9]|arp_failed=[1-9]' "$log"; then
		fail "$name ARP" "$(grep -oE '(drop_arp_unresolved|arp_failed)=[0-9]+' "$log" | tr '\n' ' ')"
	else
		pass "$name: every worker resolved the server"
	fi
	grep -E '^(throughput|packet port|worker)' "$log" | sed "s/^/  [$name] /"
}

run_case load_1w 1
run_case load_rss_2w 2
if grep -q 'fanout rss (cbpf)' "$tmp/load_rss_2w.log" && ! grep -qE 'steer_(tx|rx)=' "$tmp/load_rss_2w.log"; then
	pass "load_rss_2w: replies reached each worker through the fanout program, no software steering"
else
	fail "load_rss_2w fanout" "$(grep -E '^(packet port|worker)' "$tmp/load_rss_2w.log" | tr '\n' ' ' | cut -c1-400)"
fi
run_case load_hash_2w 2 --pkt-fanout=hash
if grep -qE '^worker 1 .*steer_rx=[1-9]' "$tmp/load_hash_2w.log"; then
	pass "load_hash_2w: worker 0 steered worker 1's replies to it"
else
	fail "load_hash_2w steering" "$(grep -E '^worker' "$tmp/load_hash_2w.log" | tr '\n' ' ' | cut -c1-400)"
fi

[ "$fails" -eq 0 ]
