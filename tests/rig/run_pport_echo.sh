#!/usr/bin/env bash
# Rig suite: usn_echo on the Linux packet port (arch/linux, --iface) at the
# server end of a veth pair, the Linux kernel at the client end, each in a
# namespace of its own. The kernel keeps its offloads on (TSO, TX checksum
# offload), so the port receives its coalesced frames and partial sums.
# Cases: one worker; two workers in a PACKET_FANOUT_CBPF group (the port
# spreads flows by usn_rss_hash: no software steering); two workers with
# --pkt-fanout=hash (worker 0 receives, the stack steers); plain frames
# (--pkt-no-vnet); the TPACKET_V2 ring (--pkt-ring=v2) with one and two
# workers; the kernel with TX checksum offload off (DATA_VALID);
# through the qdisc (--pkt-qdisc). Each: ping and ARP from the kernel, 1,000
# echoed connections with every byte checked, a clean stop, per-worker
# counters. Then tcpdump on the port's interface: it sees what arrives, and
# with --pkt-qdisc what the port sends as well. Last, a worker allowed to
# sleep long when idle is woken by arriving frames (pings answered at once). Fails (never skips) when it
# cannot run. Needs root. Binary: $USN_ECHO (default build/rel/apps/usn_echo).
set -u
cd "$(dirname "$0")/../.." || exit 1

BIN=${USN_ECHO:-build/rel/apps/usn_echo}
CONNS=${USN_ECHO_CONNS:-1000}
id=$$
NS_S=usnps$id
NS_C=usnpc$id
IF_S=ups$id
IF_C=upc$id
SRV_IP=198.18.0.2
CLI_IP=198.18.0.1
tmp=$(mktemp -d /tmp/usn_pport_echo.XXXXXX)
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
	fail pport_echo "needs root (network namespaces, packet sockets)"
	exit 1
fi
if [ ! -x "$BIN" ]; then
	fail pport_echo "$BIN not built (make)"
	exit 1
fi

setup_net() {
	ip netns add "$NS_S" && ip netns add "$NS_C" &&
		ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C" &&
		ip -n "$NS_S" link set lo up && ip -n "$NS_C" link set lo up &&
		ip netns exec "$NS_S" sysctl -qw "net.ipv6.conf.$IF_S.disable_ipv6=1" &&
		ip netns exec "$NS_C" sysctl -qw "net.ipv6.conf.$IF_C.disable_ipv6=1" &&
		ip -n "$NS_S" link set "$IF_S" up && ip -n "$NS_C" link set "$IF_C" up &&
		ip -n "$NS_C" addr add "$CLI_IP/24" dev "$IF_C"
}
if ! setup_net 2>"$tmp/setup.err"; then
	fail setup "namespaces/veth: $(head -1 "$tmp/setup.err")"
	exit 1
fi
pass setup

# start_server NAME WORKERS [PORT OPTIONS...]: 0 when it printed "listening".
start_server() {
	local name=$1 workers=$2
	shift 2
	log=$tmp/$name.log
	ip netns exec "$NS_S" "$BIN" --iface "$IF_S" "$@" --ip "$SRV_IP/24" --port 7 --workers "$workers" \
		--idle-backoff-us "${BACKOFF_US:-200}" >"$log" 2>&1 </dev/null &
	srv_pid=$!
	for _ in $(seq 100); do
		grep -q 'listening on' "$log" && return 0
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.2
	done
	stop_server
	return 1
}

# run_case NAME WORKERS [PORT OPTIONS...]
run_case() {
	local name=$1 workers=$2
	shift 2
	if ! start_server "$name" "$workers" "$@"; then
		fail "$name start" "$(tail -3 "$log" | tr '\n' ' ')"
		return
	fi
	pass "$name start"
	local mac
	mac=$(sed -n 's/.*, mac \([0-9a-f:]*\),.*/\1/p' "$log" | head -1)
	ip -n "$NS_C" neigh flush all 2>/dev/null
	if ip netns exec "$NS_C" timeout 20 python3 tests/rig/icmp_ping.py "$SRV_IP" 5 >"$tmp/ping.out" 2>&1; then
		pass "$name ping"
	else
		fail "$name ping" "$(tail -1 "$tmp/ping.out")"
	fi
	if ip -n "$NS_C" neigh show "$SRV_IP" | grep -q "lladdr $mac"; then
		pass "$name arp"
	else
		fail "$name arp" "kernel neighbour entry '$(ip -n "$NS_C" neigh show "$SRV_IP")' is not $mac"
	fi
	if ip netns exec "$NS_C" timeout 300 python3 tests/rig/echo_client.py "$SRV_IP" --port 7 --conns "$CONNS" \
		--batch 100 --seed "$id" >"$tmp/client.out" 2>&1; then
		pass "$name echo $CONNS connections, every byte checked"
	else
		fail "$name echo" "$(tr '\n' ' ' <"$tmp/client.out" | cut -c1-400)"
	fi
	if stop_server && [ "${srv_rc:-1}" = 0 ] && grep -q '^usn_echo: stopped' "$log"; then
		pass "$name clean stop"
	else
		fail "$name clean stop" "no clean exit on SIGINT (rc ${srv_rc:-killed}): $(tail -3 "$log" | tr '\n' ' ')"
	fi
	local total=0 w n
	for ((w = 0; w < workers; w++)); do
		n=$(sed -n "s/^echo worker $w: connections=\([0-9]*\).*/\1/p" "$log")
		if [ -z "$n" ] || [ "$n" -eq 0 ]; then
			fail "$name worker $w carried connections" "worker $w: '${n:-no counters printed}'"
		else
			pass "$name worker $w carried $n connections"
		fi
		total=$((total + ${n:-0}))
	done
	if [ "$total" -eq "$CONNS" ] && ! grep -qE 'overflow_aborts=[1-9]|no_slot=[1-9]|not_normal=[1-9]' "$log"; then
		pass "$name counters"
	else
		fail "$name counters" "$(grep '^echo worker' "$log" | tr '\n' ' ')"
	fi
	if grep -qE 'kernel: [0-9]+ frames, [1-9][0-9]* drops' "$log"; then
		echo "  [$name] note: the kernel dropped frames at a full ring (a busy machine): $(grep -oE 'kernel: [^;]*' "$log" | tr '\n' ' ')"
	fi
	grep -E '^(packet port|queue|worker|echo worker)' "$log" | sed "s/^/  [$name] /"
}

# A counter of the port's "queue N:" lines, summed: port_sum LOG REGEX
# (REGEX captures the number).
port_sum() {
	sed -n "s/^queue [0-9]*: .*$2.*/\1/p" "$1" | awk '{ s += $1 } END { print s + 0 }'
}

run_case pport 1
if grep -q 'fanout none, TPACKET_V3 ring, virtio-net headers' "$tmp/pport.log" && grep -q 'offloads 0x75' "$tmp/pport.log"; then
	pass "pport: a TPACKET_V3 ring, virtio-net headers, offloads TCP sum, TSO, RX sums, LRO, chains (0x75)"
else
	fail "pport offloads" "$(grep -E '^packet port|offloads' "$tmp/pport.log" | head -2 | tr '\n' ' ')"
fi
# The kernel's TSO frames reach TCP input whole (segments above the MSS).
co=$(port_sum "$tmp/pport.log" '(\([0-9]*\) coalesced')
if [ "$co" -gt 0 ]; then
	pass "pport: $co coalesced frames from the kernel's TSO taken by TCP input"
else
	fail "pport coalesced" "no coalesced frame received: $(grep '^queue' "$tmp/pport.log")"
fi

run_case pport_rss_2w 2
if grep -q 'fanout rss (cbpf)' "$tmp/pport_rss_2w.log" && ! grep -qE 'steer_(tx|rx)=' "$tmp/pport_rss_2w.log"; then
	pass "pport_rss_2w: the fanout program spreads the flows, no software steering"
else
	fail "pport_rss_2w fanout" "$(grep -E '^packet port|^worker' "$tmp/pport_rss_2w.log" | tr '\n' ' ' | cut -c1-400)"
fi

run_case pport_hash_2w 2 --pkt-fanout=hash
if grep -q 'fanout hash, software steering' "$tmp/pport_hash_2w.log" && grep -qE '^worker 0 .*steer_tx=[1-9]' "$tmp/pport_hash_2w.log"; then
	pass "pport_hash_2w: worker 0 receives and steers"
else
	fail "pport_hash_2w fanout" "$(grep -E '^packet port|^worker' "$tmp/pport_hash_2w.log" | tr '\n' ' ' | cut -c1-400)"
fi

# The TPACKET_V2 ring: frames handed over at once, large ones by recvmsg.
run_case pport_v2 1 --pkt-ring=v2
run_case pport_v2_rss_2w 2 --pkt-ring=v2
if grep -q 'TPACKET_V2 ring' "$tmp/pport_v2.log" && [ "$(port_sum "$tmp/pport_v2.log" ' \([0-9]*\) fetched')" -gt 0 ]; then
	pass "pport_v2: a TPACKET_V2 ring, large frames read off the socket's queue"
else
	fail "pport_v2" "$(grep -E '^(packet port|queue)' "$tmp/pport_v2.log" | tr '\n' ' ' | cut -c1-300)"
fi

run_case pport_plain 1 --pkt-no-vnet
if grep -q 'plain frames' "$tmp/pport_plain.log" && grep -q 'offloads 0x10' "$tmp/pport_plain.log"; then
	pass "pport_plain: plain frames, no offload but chains (0x10)"
else
	fail "pport_plain" "$(grep -E '^packet port' "$tmp/pport_plain.log")"
fi

# The kernel sends complete sums: the veth marks them verified (DATA_VALID).
ip netns exec "$NS_C" ethtool -K "$IF_C" tx off >/dev/null
run_case pport_txoff 1
ip netns exec "$NS_C" ethtool -K "$IF_C" tx on >/dev/null

# Through the qdisc (--pkt-qdisc) the port works the same.
run_case pport_qdisc 1 --pkt-qdisc
if grep -q 'through the qdisc' "$tmp/pport_qdisc.log"; then
	pass "pport_qdisc: frames sent through the qdisc"
else
	fail "pport_qdisc" "$(grep -E '^packet port' "$tmp/pport_qdisc.log")"
fi

# tcpdump on the port's interface: what arrives always; what the port
# sends too with --pkt-qdisc (the qdisc bypass skips the taps).
# tcpdump_case NAME WANT_REPLIES [PORT OPTIONS...]
tcpdump_case() {
	local name=$1 want=$2
	shift 2
	if ! start_server "$name" 1 "$@"; then
		fail "$name start" "$(tail -3 "$log" | tr '\n' ' ')"
		return
	fi
	ip netns exec "$NS_S" timeout 20 tcpdump -lni "$IF_S" icmp >"$tmp/$name.out" 2>"$tmp/$name.err" &
	local tpid=$!
	for _ in $(seq 50); do grep -q 'listening on' "$tmp/$name.err" && break; sleep 0.2; done
	ip netns exec "$NS_C" timeout 20 python3 tests/rig/icmp_ping.py "$SRV_IP" 3 >/dev/null 2>&1
	sleep 0.5
	kill -INT "$tpid" 2>/dev/null
	wait "$tpid"
	stop_server
	local req rep
	req=$(grep -c "$CLI_IP > $SRV_IP: ICMP echo request" "$tmp/$name.out")
	rep=$(grep -c "$SRV_IP > $CLI_IP: ICMP echo reply" "$tmp/$name.out")
	if [ "$req" -ge 3 ] && { [ "$want" = 0 ] || [ "$rep" -ge 3 ]; }; then
		pass "$name: tcpdump on the interface saw $req requests and $rep of the port's replies"
	else
		fail "$name" "tcpdump saw $req requests and $rep replies: $(head -c 300 "$tmp/$name.out" | tr '\n' ' ')"
	fi
}
if command -v tcpdump >/dev/null; then
	tcpdump_case tcpdump_bypass 0
	tcpdump_case tcpdump_qdisc 1 --pkt-qdisc
else
	fail tcpdump "tcpdump not installed"
fi

# An idle worker allowed to sleep long (--idle-backoff-us 400000) waits on
# its socket, and an arriving frame ends the wait: pings are answered in
# milliseconds, not after the sleep ran out. With either ring.
# sleep_case NAME [PORT OPTIONS...]
sleep_case() {
	local name=$1
	shift
	if ! BACKOFF_US=400000 start_server "$name" 1 "$@"; then
		fail "$name start" "$(tail -3 "$log" | tr '\n' ' ')"
		return
	fi
	# One ping a second, each after the worker has been idle long enough
	# to sleep its longest (a sleep that only timers end would then answer
	# most of them after 100 to 400 ms).
	: >"$tmp/$name.ping"
	for _ in 1 2 3 4 5; do
		sleep 1
		ip netns exec "$NS_C" timeout 20 python3 tests/rig/icmp_ping.py "$SRV_IP" 1 >>"$tmp/$name.ping" 2>&1
	done
	stop_server
	local slow ok waits
	slow=$(awk '/reply from/ { ms = $(NF-1); if (ms > 100) n++ } END { print n + 0 }' "$tmp/$name.ping")
	ok=$(grep -c '1/1 replies' "$tmp/$name.ping")
	waits=$(port_sum "$log" ' \([0-9]*\) idle waits')
	# (One slow reply is forgiven: a busy machine may not run the woken
	# worker at once. A timer-only sleep leaves more than one slow 98% of
	# the time.)
	if [ "$ok" -eq 5 ] && [ "$slow" -le 1 ] && [ "$waits" -gt 0 ]; then
		pass "$name: a sleeping worker answered 5 pings, $((5 - slow)) within 100 ms ($waits idle waits on the socket)"
	else
		fail "$name" "$ok of 5 answered, $slow slower than 100 ms, $waits idle waits: $(grep -E 'reply from' "$tmp/$name.ping" | tr '\n' ' ')"
	fi
}
sleep_case sleep_v3
sleep_case sleep_v2 --pkt-ring=v2

[ "$fails" -eq 0 ]
