#!/usr/bin/env bash
# Rig suite: usn_echo (apps/echo, DPDK backend) on the server end of a veth
# pair, the Linux kernel on the client end, each in a namespace of its own.
# Through net_af_packet, net_tap and net_af_xdp, each with one worker and
# with two: the kernel pings it (ARP + ICMP) and a Python client checks
# every byte of 1,000 echoed connections. Prints PASS/FAIL/SKIP lines; a
# case that cannot run here is a SKIP line saying why (net_af_xdp with two
# workers: DPDK takes at most the interface's combined channels, which a
# veth does not report). Needs root (else SKIP and exit 77).
# Binary: $USN_ECHO (default build/rel/apps/usn_echo).
set -u
cd "$(dirname "$0")/../.." || exit 1

BIN=${USN_ECHO:-build/rel/apps/usn_echo}
CONNS=${USN_ECHO_CONNS:-1000}
id=$$
NS_S=usnes$id
NS_C=usnec$id
IF_S=ues$id
IF_C=uec$id
SRV_IP=198.18.0.2
CLI_IP=198.18.0.1
tmp=$(mktemp -d /tmp/usn_echo_rig.XXXXXX)
# For a SAN build of usn_echo: known leaks of third-party libraries.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/rig/lsan.supp}
srv_pid=
fails=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
skip() { echo "SKIP $1: $2"; }

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
	# The EAL leaves its runtime directory (config, telemetry socket) behind.
	rm -rf "$tmp" /var/run/dpdk/usn"$id"*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	skip dpdk_echo "needs root (network namespaces, raw sockets)"
	exit 77
fi
if [ ! -x "$BIN" ]; then
	fail dpdk_echo "$BIN not built (make with libdpdk installed)"
	exit 1
fi

# Two namespaces, one veth pair with one queue each way: veth runs XDP (and
# so net_af_xdp) only on the RX queue matching the peer's TX queue, and
# net_af_xdp binds queue 0. (setup_link 2 remakes it with two queues for
# net_af_xdp with two workers.)
# TX checksum offload off on the kernel side: otherwise frames leave with
# CHECKSUM_PARTIAL (no valid TCP sum) and a userspace stack that checks
# sums, as it must, drops them.
setup_link() {
	local q=${1:-1}
	ip -n "$NS_S" link del "$IF_S" 2>/dev/null
	ip link add "$IF_S" numtxqueues "$q" numrxqueues "$q" type veth peer name "$IF_C" \
		numtxqueues "$q" numrxqueues "$q" &&
		ip link set "$IF_S" netns "$NS_S" && ip link set "$IF_C" netns "$NS_C" &&
		ip netns exec "$NS_S" sysctl -qw "net.ipv6.conf.$IF_S.disable_ipv6=1" &&
		ip netns exec "$NS_C" sysctl -qw "net.ipv6.conf.$IF_C.disable_ipv6=1" &&
		ip -n "$NS_S" link set "$IF_S" up && ip -n "$NS_C" link set "$IF_C" up &&
		ip -n "$NS_C" addr add "$CLI_IP/24" dev "$IF_C" &&
		ip netns exec "$NS_C" ethtool -K "$IF_C" tx off >/dev/null
}
setup_net() {
	ip netns add "$NS_S" && ip netns add "$NS_C" &&
		ip -n "$NS_S" link set lo up && ip -n "$NS_C" link set lo up &&
		setup_link 1
}
if ! setup_net 2>"$tmp/setup.err"; then
	fail setup "namespaces/veth: $(head -1 "$tmp/setup.err")"
	exit 1
fi
pass setup

# start_server NAME LCORES WORKERS VDEV: 0 when it printed "listening".
start_server() {
	local name=$1 lcores=$2 workers=$3 vdev=$4
	log=$tmp/$name.log
	ip netns exec "$NS_S" "$BIN" --no-huge --no-pci -m 512 -l "$lcores" --file-prefix="usn$id$name" \
		--vdev="$vdev" -- --ip "$SRV_IP/24" --port 7 --workers "$workers" --idle-backoff-us 200 \
		>"$log" 2>&1 </dev/null &
	srv_pid=$!
	for _ in $(seq 100); do
		grep -q 'listening on' "$log" && return 0
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.2
	done
	stop_server
	return 1
}

# telemetry_check NAME WORKERS: /usnet/stats and /usnet/worker,N through
# dpdk-telemetry.py agree with each other and with the connections made.
telemetry_check() {
	local name=$1 workers=$2
	if ! command -v dpdk-telemetry.py >/dev/null; then
		skip "$name telemetry" "dpdk-telemetry.py not installed"
		return
	fi
	{
		echo /usnet/stats
		for ((w = 0; w < workers; w++)); do echo "/usnet/worker,$w"; done
	} | timeout 20 dpdk-telemetry.py -f "usn$id$name" >"$tmp/tel.out" 2>&1
	if python3 - "$tmp/tel.out" "$workers" "$CONNS" >"$tmp/tel.why" 2>&1 <<'PY'; then
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
workers, conns = int(sys.argv[2]), int(sys.argv[3])
total = [d["/usnet/stats"] for d in docs if "/usnet/stats" in d]
per = [d["/usnet/worker"] for d in docs if "/usnet/worker" in d]
assert len(total) == 1 and len(per) == workers, "got %d sums and %d workers" % (len(total), len(per))
s = sum(w["tcp_passive_opens"] for w in per)
assert total[0]["tcp_passive_opens"] == s == conns, "passive opens: sum %d, workers %d, wanted %d" % (
    total[0]["tcp_passive_opens"], s, conns)
PY
		pass "$name telemetry /usnet/stats and /usnet/worker"
	else
		fail "$name telemetry" "$(tail -1 "$tmp/tel.why") (output: $(head -c 200 "$tmp/tel.out"))"
	fi
}

# run_case NAME LCORES WORKERS VDEV [skippable [CLIENT_NS]]: the client runs
# in CLIENT_NS (default the veth peer's namespace) and reaches $CLI_IP's /24.
run_case() {
	local name=$1 lcores=$2 workers=$3 vdev=$4 skippable=${5:-} cns=${6:-$NS_C}
	if ! start_server "$name" "$lcores" "$workers" "$vdev"; then
		if [ -n "$skippable" ] && [ "$workers" -gt 1 ] &&
			grep -q 'queue count [0-9]* is larger than combined queue count' "$log"; then
			skip "$name" "net_af_xdp refuses $workers queues: DPDK takes at most the interface's combined channels, which a veth does not report (ethtool -l: no Combined), so $workers workers need a NIC ($(grep -m1 -o 'Specified queue count.*' "$log"))"
		elif [ -n "$skippable" ]; then
			skip "$name" "server did not start: $(grep -m1 -E 'usn_echo:|xdp|XDP' "$log" || tail -1 "$log")"
		else
			fail "$name start" "$(tail -3 "$log" | tr '\n' ' ')"
		fi
		return
	fi
	pass "$name start"
	if [ -n "${after_start:-}" ]; then
		$after_start || fail "$name set-up" "$after_start failed"
	fi

	local mac
	mac=$(sed -n 's/.*, mac \([0-9a-f:]*\),.*/\1/p' "$log" | head -1)
	ip -n "$cns" neigh flush all 2>/dev/null
	if ip netns exec "$cns" timeout 20 python3 tests/rig/icmp_ping.py "$SRV_IP" 5 >"$tmp/ping.out" 2>&1; then
		pass "$name ping"
	else
		fail "$name ping" "$(tail -1 "$tmp/ping.out")"
	fi
	if ip -n "$cns" neigh show "$SRV_IP" | grep -q "lladdr $mac"; then
		pass "$name arp"
	else
		fail "$name arp" "kernel neighbour entry '$(ip -n "$cns" neigh show "$SRV_IP")' is not $mac"
	fi

	if ip netns exec "$cns" timeout 300 python3 tests/rig/echo_client.py "$SRV_IP" --port 7 --conns "$CONNS" \
		--batch 100 --seed "$id" >"$tmp/client.out" 2>&1; then
		pass "$name echo $CONNS connections"
	else
		fail "$name echo" "$(tr '\n' ' ' <"$tmp/client.out" | cut -c1-400)"
	fi
	telemetry_check "$name" "$workers"

	if stop_server && [ "${srv_rc:-1}" = 0 ] && grep -q '^usn_echo: stopped' "$log"; then
		pass "$name clean stop"
	else
		fail "$name clean stop" "no clean exit on SIGINT (rc ${srv_rc:-killed}): $(grep -v '^ *#' "$log" | tail -3 | tr '\n' ' ')"
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
	grep -E '^(port|worker|echo worker)' "$log" | sed "s/^/  [$name] /"
}

run_case af_packet 0 1 "net_af_packet0,iface=$IF_S"
run_case af_packet_2w 0-1 2 "net_af_packet0,iface=$IF_S,qpairs=2"

# net_tap: the kernel side is the tap interface itself, given the client
# address in the server's namespace. The port offers checksum offloads, so
# this case runs the stack's TX IPv4/TCP checksum offload path.
tap_up() {
	tap_up_n "ut$id"
}
tap_up_n() {
	ip -n "$NS_S" addr add "$CLI_IP/24" dev "$1" && ip -n "$NS_S" link set "$1" up
}
if [ ! -c /dev/net/tun ]; then
	skip tap "no /dev/net/tun"
else
	after_start=tap_up run_case tap 0 1 "net_tap0,iface=ut$id" "" "$NS_S"
	off=$(sed -n 's/.*offloads 0x\([0-9a-f]*\).*/\1/p' "$tmp/tap.log" | head -1)
	if [ -n "$off" ] && (((16#$off & 6) == 6)); then
		pass "tap: IPv4 and TCP TX checksum offload advertised and used (offloads 0x$off)"
	else
		fail "tap offloads" "net_tap should advertise TX IPv4/TCP checksum offload, got '0x$off'"
	fi
	# net_tap offers TSO (its software GSO): the echoes of the larger
	# messages left as large segments, every byte checked by the client.
	tso=$(grep -o ' tcp_tso_frames=[0-9]*' "$tmp/tap.log" | head -1 | sed 's/.*=//')
	if [ -n "$off" ] && (((16#$off & 0x20) != 0)) && [ "${tso:-0}" -gt 0 ]; then
		pass "tap: TSO advertised and used ($tso large segments)"
	else
		fail "tap TSO" "offloads '0x$off', tcp_tso_frames '${tso:-none}'"
	fi
	# Two queues on the tap (a multi-queue tun); the port has no RSS, so
	# worker 0 drains both and steers flows to worker 1 in software.
	after_start="tap_up_n ut${id}b" run_case tap_2w 0-1 2 "net_tap1,iface=ut${id}b" "" "$NS_S"
fi

if [ ! -d /sys/fs/bpf ] && ! grep -qw bpf /proc/filesystems; then
	skip af_xdp "kernel without BPF"
else
	run_case af_xdp 0 1 "net_af_xdp0,iface=$IF_S" skippable
	# Two workers: a veth with two queues each way and the server's XDP
	# sockets on queues 0 and 1. DPDK's net_af_xdp accepts at most the
	# interface's combined channels, which veth does not report (it has
	# separate RX and TX counts), so here this SKIPs with DPDK's refusal.
	if setup_link 2 2>"$tmp/setup2.err"; then
		run_case af_xdp_2w 0-1 2 "net_af_xdp0,iface=$IF_S,start_queue=0,queue_count=2" skippable
	else
		fail "af_xdp_2w set-up" "veth with 2 queues: $(head -1 "$tmp/setup2.err")"
	fi
fi

[ "$fails" -eq 0 ]
