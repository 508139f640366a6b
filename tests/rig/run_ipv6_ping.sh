#!/usr/bin/env bash
# Rig suite: IPv6 on the Linux packet port, and on DPDK's net_af_packet
# (its all-multicast switch). usn_echo at the server end of a
# veth pair (--ip 198.18.0.2/24 --ip 2001:2::2/64), the Linux kernel at the
# client end (2001:2::1/64), each in a namespace of its own; the server
# side's kernel has IPv6 off on its veth, so every answer is the stack's.
# Cases: the stack's duplicate address detection (a solicitation from ::)
# and its unsolicited advertisement, seen by tcpdump on the client; the
# kernel's echo requests (a raw ICMPv6 socket: the kernel resolves by
# Neighbour Discovery) answered at the global and at the link-local
# address; the kernel's neighbour entry holding the stack's MAC; IPv4 ping
# still answered; a clean stop. Then duplicate address detection against
# the kernel: the client already has 2001:2::3, the stack started with it
# says the address is in use and does not advertise it. Addresses from
# 2001:2::/48 (RFC 5180) and 198.18.0.0/15 only. Fails (never skips) when
# it cannot run. Last, over DPDK net_af_packet (no hugepages): the kernel's
# pings answered at both addresses. Needs root. Binary: $USN_ECHO (default
# build/rel/apps/usn_echo).
set -u
cd "$(dirname "$0")/../.." || exit 1

BIN=${USN_ECHO:-build/rel/apps/usn_echo}
id=$$
NS_S=usn6s$id
NS_C=usn6c$id
IF_S=u6s$id
IF_C=u6c$id
SRV_IP=198.18.0.2
CLI_IP=198.18.0.1
SRV_IP6=2001:2::2
CLI_IP6=2001:2::1
DUP_IP6=2001:2::3
tmp=$(mktemp -d /tmp/usn_ipv6_ping.XXXXXX)
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/rig/lsan.supp}
srv_pid=
dump_pid=
fails=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }

stop_server() {
	[ -n "$srv_pid" ] || return 0
	if kill -0 "$srv_pid" 2>/dev/null; then
		kill -INT "$srv_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.2; done
		if kill -0 "$srv_pid" 2>/dev/null; then
			kill -KILL "$srv_pid" 2>/dev/null
			wait "$srv_pid" 2>/dev/null
			srv_pid=
			return 1
		fi
	fi
	wait "$srv_pid" 2>/dev/null
	srv_rc=$?
	srv_pid=
	return 0
}

stop_dump() {
	[ -n "$dump_pid" ] || return 0
	sleep 0.5
	kill -INT "$dump_pid" 2>/dev/null
	wait "$dump_pid" 2>/dev/null
	dump_pid=
}

cleanup() {
	stop_server
	stop_dump
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	fail pport_ipv6 "needs root (network namespaces, packet sockets)"
	exit 1
fi
if [ ! -x "$BIN" ]; then
	fail pport_ipv6 "$BIN not built (make)"
	exit 1
fi
if ! command -v tcpdump >/dev/null; then
	fail pport_ipv6 "tcpdump not installed"
	exit 1
fi

# The kernel's own DAD is off on the client (its address is usable at once,
# and it does not delay the test); IPv6 is off on the server's veth, whose
# frames the stack takes.
setup_net() {
	ip netns add "$NS_S" && ip netns add "$NS_C" &&
		ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C" &&
		ip -n "$NS_S" link set lo up && ip -n "$NS_C" link set lo up &&
		ip netns exec "$NS_S" sysctl -qw "net.ipv6.conf.$IF_S.disable_ipv6=1" &&
		ip netns exec "$NS_C" sysctl -qw "net.ipv6.conf.$IF_C.accept_dad=0" &&
		ip -n "$NS_S" link set "$IF_S" up && ip -n "$NS_C" link set "$IF_C" up &&
		ip -n "$NS_C" addr add "$CLI_IP/24" dev "$IF_C" &&
		ip -n "$NS_C" addr add "$CLI_IP6/64" dev "$IF_C" nodad
}
if ! setup_net 2>"$tmp/setup.err"; then
	fail setup "namespaces/veth: $(head -1 "$tmp/setup.err")"
	exit 1
fi
pass setup

# start_server NAME IP6 [dpdk]: 0 when it printed its IPv6 line.
start_server() {
	local name=$1 ip6=$2
	local port=(--iface "$IF_S")
	[ "${3:-}" = dpdk ] && port=(--no-huge --no-pci -m 512 -l 0 --file-prefix="usn6$id$name"
		--vdev="net_af_packet0,iface=$IF_S" --)
	log=$tmp/$name.log
	ip netns exec "$NS_S" "$BIN" "${port[@]}" --ip "$SRV_IP/24" --ip "$ip6/64" --port 7 \
		--idle-backoff-us 200 >"$log" 2>&1 </dev/null &
	srv_pid=$!
	for _ in $(seq 100); do
		grep -q 'answer ping and neighbour discovery' "$log" && return 0
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.2
	done
	stop_server
	return 1
}

start_dump() {
	ip netns exec "$NS_C" timeout 60 tcpdump -lenvi "$IF_C" icmp6 >"$tmp/$1.dump" 2>"$tmp/$1.dumperr" &
	dump_pid=$!
	for _ in $(seq 50); do grep -q 'listening on' "$tmp/$1.dumperr" && return 0; sleep 0.2; done
	fail "$1 tcpdump" "$(head -2 "$tmp/$1.dumperr" | tr '\n' ' ')"
}

# ---- the stack answers the kernel over IPv6 ----
start_dump main
if ! start_server main "$SRV_IP6"; then
	fail "start" "$(tail -3 "$log" | tr '\n' ' ')"
	exit 1
fi
pass "start: $(grep -o 'IPv6 .*discovery' "$log")"
mac=$(sed -n 's/.*, mac \([0-9a-f:]*\),.*/\1/p' "$log" | head -1)
ll=$(sed -n 's/.*IPv6 [^ ]* and \(fe80::[0-9a-f:]*\) answer.*/\1/p' "$log" | head -1)
# The link-local address the stack printed is its MAC's modified EUI-64.
want_ll=$(python3 -c 'import sys, ipaddress
m = [int(x, 16) for x in sys.argv[1].split(":")]
b = bytes([0xfe, 0x80] + [0] * 6 + [m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]])
print(ipaddress.IPv6Address(b))' "$mac")
if [ -n "$ll" ] && [ "$ll" = "$want_ll" ]; then
	pass "link-local $ll from mac $mac (modified EUI-64)"
else
	fail "link-local" "printed '$ll', mac $mac makes $want_ll"
fi
# Duplicate address detection takes a second; then the addresses answer.
for _ in $(seq 10); do
	ip netns exec "$NS_C" timeout 5 python3 tests/rig/icmp6_ping.py "$SRV_IP6" 1 >/dev/null 2>&1 && break
	sleep 0.5
done
if ip netns exec "$NS_C" timeout 20 python3 tests/rig/icmp6_ping.py "$SRV_IP6" 5 >"$tmp/ping6.out" 2>&1; then
	pass "kernel ping -6 $SRV_IP6: $(tail -1 "$tmp/ping6.out")"
else
	fail "ping -6 global" "$(tail -1 "$tmp/ping6.out")"
fi
if ip -n "$NS_C" -6 neigh show "$SRV_IP6" | grep -q "lladdr $mac"; then
	pass "the kernel's neighbour entry for $SRV_IP6 holds $mac"
else
	fail "neighbour entry" "'$(ip -n "$NS_C" -6 neigh show "$SRV_IP6")' is not $mac"
fi
if ip netns exec "$NS_C" timeout 20 python3 tests/rig/icmp6_ping.py "$ll%$IF_C" 3 >"$tmp/ping6ll.out" 2>&1; then
	pass "kernel ping -6 $ll%$IF_C: $(tail -1 "$tmp/ping6ll.out")"
else
	fail "ping -6 link-local" "$(tail -1 "$tmp/ping6ll.out")"
fi
if ip netns exec "$NS_C" timeout 20 python3 tests/rig/icmp_ping.py "$SRV_IP" 3 >"$tmp/ping4.out" 2>&1; then
	pass "IPv4 ping beside it: $(tail -1 "$tmp/ping4.out")"
else
	fail "ping IPv4" "$(tail -1 "$tmp/ping4.out")"
fi
if stop_server && [ "${srv_rc:-1}" = 0 ] && grep -q '^usn_echo: stopped' "$log"; then
	pass "clean stop"
else
	fail "clean stop" "no clean exit on SIGINT (rc ${srv_rc:-killed}): $(tail -3 "$log" | tr '\n' ' ')"
fi
stop_dump
# tcpdump -e -v: the frame's MACs first, then "who has TARGET" for a
# solicitation, "tgt is TARGET" for an advertisement. na_from MAC TARGET
# DUMP: whether MAC sent an advertisement of TARGET to all nodes.
na_from() {
	grep -A2 "^[0-9:.]* $1 > 33:33:00:00:00:01" "$3" | tr '\n' ' ' | sed 's/ -- /\n/g' |
		grep 'neighbor advertisement' | grep -q "tgt is $2"
}
if grep -A1 ':: > ff02::1:ff00:2: .*neighbor solicitation' "$tmp/main.dump" | grep -q "who has $SRV_IP6"; then
	pass "DAD: a solicitation for $SRV_IP6 from ::"
else
	fail "DAD solicitation" "$(grep -c . "$tmp/main.dump") lines: $(head -c 400 "$tmp/main.dump" | tr '\n' ' ')"
fi
if na_from "$mac" "$SRV_IP6" "$tmp/main.dump"; then
	pass "an unsolicited advertisement of $SRV_IP6 to all nodes"
else
	fail "unsolicited NA" "$(head -c 600 "$tmp/main.dump" | tr '\n' ' ')"
fi
grep -E '^(worker|queue)' "$log" | sed 's/^/  [main] /'

# ---- duplicate address detection against the kernel ----
ip -n "$NS_C" addr add "$DUP_IP6/64" dev "$IF_C" nodad
start_dump dup
if ! start_server dup "$DUP_IP6"; then
	fail "dup start" "$(tail -3 "$log" | tr '\n' ' ')"
	exit 1
fi
for _ in $(seq 25); do grep -q 'already in use' "$log" && break; sleep 0.2; done
if grep -q "IPv6 address 2001:2:0:0:0:0:0:3 is already in use on the link" "$log"; then
	pass "dup: the stack says $DUP_IP6 is in use ($(grep -o 'usnet: IPv6 address.*' "$log"))"
else
	fail "dup" "no such line: $(tail -3 "$log" | tr '\n' ' ')"
fi
sleep 1.5
if ip netns exec "$NS_C" timeout 20 python3 tests/rig/icmp_ping.py "$SRV_IP" 2 >/dev/null 2>&1; then
	pass "dup: IPv4 still answered"
else
	fail "dup ping IPv4" "no reply"
fi
stop_server
stop_dump
if na_from "$mac" "$DUP_IP6" "$tmp/dup.dump"; then
	fail "dup" "the stack advertised $DUP_IP6 anyway"
elif grep -q "who has $DUP_IP6" "$tmp/dup.dump"; then
	pass "dup: $DUP_IP6 never advertised by the stack (its DAD solicitation seen, the kernel's answer too)"
else
	fail "dup" "no DAD solicitation seen: $(head -c 400 "$tmp/dup.dump" | tr '\n' ' ')"
fi

# ---- DPDK net_af_packet ----
ip -n "$NS_C" addr del "$DUP_IP6/64" dev "$IF_C"
ip -n "$NS_C" -6 neigh flush all 2>/dev/null
if ! start_server dpdk "$SRV_IP6" dpdk; then
	fail "dpdk start" "$(tail -3 "$log" | tr '\n' ' ')"
else
	ll=$(sed -n 's/.*IPv6 [^ ]* and \(fe80::[0-9a-f:]*\) answer.*/\1/p' "$log" | head -1)
	for _ in $(seq 10); do
		ip netns exec "$NS_C" timeout 5 python3 tests/rig/icmp6_ping.py "$SRV_IP6" 1 >/dev/null 2>&1 && break
		sleep 0.5
	done
	if ip netns exec "$NS_C" timeout 20 python3 tests/rig/icmp6_ping.py "$SRV_IP6" 3 >"$tmp/dping.out" 2>&1 &&
		ip netns exec "$NS_C" timeout 20 python3 tests/rig/icmp6_ping.py "$ll%$IF_C" 3 >>"$tmp/dping.out" 2>&1; then
		pass "dpdk net_af_packet: the kernel's pings to $SRV_IP6 and $ll answered"
	else
		fail "dpdk ping -6" "$(tr '\n' ' ' <"$tmp/dping.out")"
	fi
	stop_server
fi

[ "$fails" -eq 0 ]
