#!/usr/bin/env bash
# Rig suite: UDP echo over IPv4 and IPv6. usn_echo on the Linux packet
# port (--iface) at the server end of a veth pair (--ip 198.18.0.2/24 --ip
# 2001:2::2/64; IPv6 off in the server namespace's kernel, so every answer
# is the stack's), the Linux kernel's UDP sockets at the client end
# (tests/rig/udp_echo_client.py, 198.18.0.1 and 2001:2::1), each in a
# namespace of its own. Cases: one worker; two workers in a
# PACKET_FANOUT_CBPF group (IPv4 flows spread by their 4-tuple, both
# workers answer; the program classifies IPv4 only, so IPv6 datagrams all
# reach worker 0, which answers them: a UDP port is bound on every worker);
# two workers with --pkt-fanout=hash (worker 0 steers datagrams of both
# families in software); plain frames (--pkt-no-vnet). Each, over IPv4
# then IPv6: datagrams of 0 to 1472 (1452) bytes from many source ports
# echoed byte for byte; a datagram to a port nobody bound makes the kernel
# socket report ECONNREFUSED (ICMP, ICMPv6 port unreachable); a clean stop
# and the per-worker UDP counters. Last, --no-udp: the echo port itself
# refuses, over both families. Addresses from 198.18.0.0/15 and
# 2001:2::/48 only. Fails (never skips) when it cannot run. Needs root.
# Binary: $USN_ECHO (default build/rel/apps/usn_echo).
set -u
cd "$(dirname "$0")/../.." || exit 1

BIN=${USN_ECHO:-build/rel/apps/usn_echo}
COUNT=${USN_UDP_COUNT:-500}
id=$$
NS_S=usnus$id
NS_C=usnuc$id
IF_S=uus$id
IF_C=uuc$id
SRV_IP=198.18.0.2
CLI_IP=198.18.0.1
SRV_IP6=2001:2::2
CLI_IP6=2001:2::1
tmp=$(mktemp -d /tmp/usn_pport_udp.XXXXXX)
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/rig/lsan.supp}
srv_pid=
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

cleanup() {
	stop_server
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	fail pport_udp "needs root (network namespaces, packet sockets)"
	exit 1
fi
if [ ! -x "$BIN" ]; then
	fail pport_udp "$BIN not built (make)"
	exit 1
fi

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

# start_server NAME WORKERS [OPTIONS...]: 0 when it printed "listening".
start_server() {
	local name=$1 workers=$2
	shift 2
	log=$tmp/$name.log
	ip netns exec "$NS_S" "$BIN" --iface "$IF_S" "$@" --ip "$SRV_IP/24" --ip "$SRV_IP6/64" --port 7 \
		--workers "$workers" --max-conns 64 --idle-backoff-us 200 >"$log" 2>&1 </dev/null &
	srv_pid=$!
	for _ in $(seq 100); do
		grep -q 'answer ping and neighbour discovery' "$log" && return 0
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.2
	done
	stop_server
	return 1
}

# The stack's IPv6 address is usable once its duplicate address detection
# is over: wait until it answers an echo request (tests/rig/icmp6_ping.py,
# at most 10 tries of about a second).
wait_ip6() {
	for _ in $(seq 10); do
		ip netns exec "$NS_C" timeout 5 python3 tests/rig/icmp6_ping.py "$SRV_IP6" 1 >/dev/null 2>&1 &&
			return 0
	done
	return 1
}

client() { # client OUT ARGS...
	local out=$1
	shift
	ip netns exec "$NS_C" timeout 120 python3 tests/rig/udp_echo_client.py "$SRV_IP" "$@" >"$out" 2>&1
}

client6() { # client6 OUT ARGS...
	local out=$1
	shift
	ip netns exec "$NS_C" timeout 120 python3 tests/rig/udp_echo_client.py "$SRV_IP6" --family 6 "$@" \
		>"$out" 2>&1
}

# run_case NAME WORKERS [OPTIONS...]
run_case() {
	local name=$1 workers=$2
	shift 2
	if ! start_server "$name" "$workers" "$@"; then
		fail "$name start" "$(tail -3 "$log" | tr '\n' ' ')"
		return
	fi
	if grep -q 'port 7 (tcp, udp)' "$log"; then
		pass "$name start: echo on TCP and UDP port 7"
	else
		fail "$name start" "not serving UDP: $(grep 'listening' "$log")"
	fi
	ip -n "$NS_C" neigh flush all 2>/dev/null
	if client "$tmp/echo.out" --port 7 --count "$COUNT" --sources 32 --seed "$id"; then
		pass "$name: $(cat "$tmp/echo.out")"
	else
		fail "$name echo" "$(tr '\n' ' ' <"$tmp/echo.out" | cut -c1-300)"
	fi
	if client "$tmp/refused.out" --port 9 --mode refused; then
		pass "$name: unbound port 9: $(cat "$tmp/refused.out")"
	else
		fail "$name refused" "$(tr '\n' ' ' <"$tmp/refused.out")"
	fi
	if grep -q 'echo TCP and UDP' "$log" && wait_ip6; then
		pass "$name: IPv6 address answers ping"
	else
		fail "$name IPv6" "no UDP echo or no ping over IPv6: $(grep 'IPv6' "$log")"
	fi
	ip -n "$NS_C" -6 neigh flush all 2>/dev/null
	if client6 "$tmp/echo6.out" --port 7 --count "$COUNT" --sources 32 --seed "$id"; then
		pass "$name: $(cat "$tmp/echo6.out")"
	else
		fail "$name echo IPv6" "$(tr '\n' ' ' <"$tmp/echo6.out" | cut -c1-300)"
	fi
	if client6 "$tmp/refused6.out" --port 9 --mode refused; then
		pass "$name: unbound port 9: $(cat "$tmp/refused6.out")"
	else
		fail "$name refused IPv6" "$(tr '\n' ' ' <"$tmp/refused6.out")"
	fi
	if stop_server && [ "${srv_rc:-1}" = 0 ] && grep -q '^usn_echo: stopped' "$log"; then
		pass "$name clean stop"
	else
		fail "$name clean stop" "no clean exit on SIGINT (rc ${srv_rc:-killed}): $(tail -3 "$log" | tr '\n' ' ')"
	fi
	# Every datagram of both families was answered by some worker (resent
	# ones count again); with two workers, both answered.
	local total=0 w n
	for ((w = 0; w < workers; w++)); do
		n=$(sed -n "s/^echo worker $w: udp_datagrams=\([0-9]*\).*/\1/p" "$log")
		if [ -z "$n" ] || [ "$n" -eq 0 ]; then
			fail "$name worker $w answered datagrams" "worker $w: '${n:-no counters printed}'"
		else
			pass "$name worker $w answered $n datagrams"
		fi
		total=$((total + ${n:-0}))
	done
	if [ "$total" -ge $((2 * COUNT)) ] && ! grep -qE 'udp_not_sent=[1-9]' "$log"; then
		pass "$name counters: $total datagrams echoed, none refused"
	else
		fail "$name counters" "$(grep '^echo worker' "$log" | tr '\n' ' ')"
	fi
	grep -E '^echo worker .*udp' "$log" | sed "s/^/  [$name] /"
}

run_case pport_udp 1
run_case pport_udp_rss_2w 2
run_case pport_udp_hash_2w 2 --pkt-fanout=hash
if grep -qE '^worker 0 .*steer_tx=[1-9]' "$tmp/pport_udp_hash_2w.log"; then
	pass "pport_udp_hash_2w: worker 0 steered datagrams in software"
else
	fail "pport_udp_hash_2w steering" "$(grep -E '^worker' "$tmp/pport_udp_hash_2w.log" | tr '\n' ' ' | cut -c1-300)"
fi
run_case pport_udp_plain 1 --pkt-no-vnet

# --no-udp: the echo port is TCP only, so its datagrams are refused too,
# over both families.
if start_server no_udp 1 --no-udp; then
	if grep -q 'port 7 (tcp)' "$log" && client "$tmp/nu.out" --port 7 --mode refused; then
		pass "no_udp: port 7 $(cat "$tmp/nu.out")"
	else
		fail "no_udp" "$(grep listening "$log") $(cat "$tmp/nu.out" 2>/dev/null)"
	fi
	if wait_ip6 && client6 "$tmp/nu6.out" --port 7 --mode refused; then
		pass "no_udp: port 7 $(cat "$tmp/nu6.out")"
	else
		fail "no_udp IPv6" "$(grep IPv6 "$log") $(cat "$tmp/nu6.out" 2>/dev/null)"
	fi
	stop_server
else
	fail "no_udp start" "$(tail -3 "$log" | tr '\n' ' ')"
fi

[ $fails = 0 ] || exit 1
