#!/usr/bin/env bash
# Rig suite: the Linux packet port's HAL against the kernel
# (tests/rig/pport_hal_test.c). Three namespaces of its own: the port's (P),
# a router (R) and a kernel TCP listener (K), P -veth- R -veth- K, with the
# router's link to K stripped of TSO and checksum offload so that it must
# cut a large segment into MSS frames and finish their sums in software:
# a wrong pseudo-header sum from the port then shows as checksum errors at
# K. Checks: one packet crossed P -> R for the 60,000-byte TSO segment (R
# received exactly the frames the port sent), R sent K the MSS frames, K's
# TCP took every byte without a checksum error; the kernel's reply reached
# the port as large frames flagged RX_COALESCED. Then the same with the
# TPACKET_V2 ring (--pkt-ring=v2), and without virtio-net headers
# (--pkt-no-vnet): plain frames, the fallback.
# Fails (never skips) when it cannot run. Needs root.
# Binary: $USN_PPORT_HAL_TEST (default build/rel/tests/rig/pport_hal_test).
set -u
cd "$(dirname "$0")/../.." || exit 1

BIN=${USN_PPORT_HAL_TEST:-build/rel/tests/rig/pport_hal_test}
id=$$
ns_p=usnpp$id ns_r=usnpr$id ns_k=usnpk$id
if_p=ppa$id if_rp=ppb$id if_rk=ppc$id if_k=ppd$id
ip_p=198.18.0.2 ip_rp=198.18.0.1 ip_rk=198.18.1.254 ip_k=198.18.1.1
port=$((5000 + id % 1000))
tmp=$(mktemp -d /tmp/usn_pport_hal.XXXXXX)
lst_pid=
fails=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }

cleanup() {
	[ -n "$lst_pid" ] && kill "$lst_pid" 2>/dev/null && wait "$lst_pid" 2>/dev/null
	ip netns del "$ns_p" 2>/dev/null
	ip netns del "$ns_r" 2>/dev/null
	ip netns del "$ns_k" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	fail pport_hal "needs root (network namespaces, packet sockets)"
	exit 1
fi
if [ ! -x "$BIN" ]; then
	fail pport_hal "$BIN not built (make)"
	exit 1
fi

setup() {
	ip netns add "$ns_p" && ip netns add "$ns_r" && ip netns add "$ns_k" &&
		ip link add "$if_p" netns "$ns_p" type veth peer name "$if_rp" netns "$ns_r" &&
		ip link add "$if_rk" netns "$ns_r" type veth peer name "$if_k" netns "$ns_k" &&
		for ns in "$ns_p" "$ns_r" "$ns_k"; do
			ip -n "$ns" link set lo up && ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 &&
				ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 || return 1
		done &&
		ip -n "$ns_p" link set "$if_p" up && ip -n "$ns_r" link set "$if_rp" up &&
		ip -n "$ns_r" link set "$if_rk" up && ip -n "$ns_k" link set "$if_k" up &&
		ip -n "$ns_r" addr add "$ip_rp/24" dev "$if_rp" && ip -n "$ns_r" addr add "$ip_rk/24" dev "$if_rk" &&
		ip netns exec "$ns_r" sysctl -qw net.ipv4.ip_forward=1 &&
		ip netns exec "$ns_r" ethtool -K "$if_rk" tso off gso off tx off >/dev/null &&
		ip -n "$ns_r" neigh replace "$ip_p" lladdr "$(ip netns exec "$ns_p" cat "/sys/class/net/$if_p/address")" \
			dev "$if_rp" nud permanent &&
		ip -n "$ns_k" addr add "$ip_k/24" dev "$if_k" &&
		# A window for the whole segment from the start (no window scaling
		# in the hand-made SYN): initrwnd on the route back.
		ip -n "$ns_k" route add 198.18.0.0/24 via "$ip_rk" dev "$if_k" initrwnd 64
}
if ! setup 2>"$tmp/setup.err"; then
	fail setup "namespaces/veth: $(head -1 "$tmp/setup.err")"
	exit 1
fi
pass setup
rmac=$(ip netns exec "$ns_r" cat "/sys/class/net/$if_rp/address")

counter() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
csum_errors() { ip netns exec "$ns_k" awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "InCsumErrors") c = i; h = 1 } else print $c }' /proc/net/snmp; }

# The kernel listener: reads 60,000 bytes, checks them, sends 100,000 back.
start_listener() {
	ip netns exec "$ns_k" python3 - "$ip_k" "$port" >"$tmp/listener.out" 2>&1 <<'PY' &
import socket, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
ls.bind((sys.argv[1], int(sys.argv[2])))
ls.listen(4)
ls.settimeout(30)
print("listening", flush=True)
c, _ = ls.accept()
c.settimeout(15)
got = bytearray()
while len(got) < 60000:
    b = c.recv(65536)
    if not b:
        break
    got += b
want = bytes(i * 7 % 251 for i in range(60000))
print("received %d bytes, %s" % (len(got), "intact" if bytes(got) == want else "CORRUPT"), flush=True)
c.sendall(bytes(i * 13 % 251 for i in range(100000)))
try:
    while c.recv(65536):
        pass
except OSError:
    pass
print("done", flush=True)
PY
	lst_pid=$!
	for _ in $(seq 50); do grep -q listening "$tmp/listener.out" && return 0; sleep 0.1; done
	return 1
}

run_case() {
	local name=$1 mode=${2:-}
	if ! start_listener; then
		fail "$name listener" "$(tail -2 "$tmp/listener.out")"
		return
	fi
	local rp0 rk0 k0 e0
	rp0=$(counter "$ns_r" "$if_rp" rx_packets)
	rk0=$(counter "$ns_r" "$if_rk" tx_packets)
	k0=$(counter "$ns_k" "$if_k" rx_packets)
	e0=$(csum_errors)
	ip netns exec "$ns_p" timeout 60 "$BIN" "$if_p" "$rmac" "$ip_p" "$ip_k" "$port" $mode >"$tmp/$name.out" 2>&1
	local rc=$?
	sed "s/^\(PASS\|FAIL\) /\1 $name: /" "$tmp/$name.out" | grep -E '^(PASS|FAIL) '
	fails=$((fails + $(grep -c '^FAIL ' "$tmp/$name.out")))
	if [ "$rc" != 0 ] && ! grep -q '^FAIL ' "$tmp/$name.out"; then
		fail "$name pport_hal_test" "exit $rc: $(tail -3 "$tmp/$name.out" | tr '\n' ' ')"
	fi
	grep -E '^(rx:|packet port|queue)' "$tmp/$name.out" | sed "s/^/  [$name] /"
	wait "$lst_pid" 2>/dev/null
	lst_pid=
	if grep -q 'received 60000 bytes, intact' "$tmp/listener.out"; then
		pass "$name: the kernel's TCP socket read the 60,000 bytes intact"
	else
		fail "$name listener" "$(tr '\n' ' ' <"$tmp/listener.out")"
	fi
	local sent rp rk k e
	sent=$(sed -n 's/^tx_frames //p' "$tmp/$name.out")
	rp=$(($(counter "$ns_r" "$if_rp" rx_packets) - rp0))
	rk=$(($(counter "$ns_r" "$if_rk" tx_packets) - rk0))
	k=$(($(counter "$ns_k" "$if_k" rx_packets) - k0))
	e=$(($(csum_errors) - e0))
	if [ -n "$sent" ] && [ "$rp" = "$sent" ]; then
		pass "$name: the router received exactly the $sent frames the port sent"
	else
		fail "$name frames across the veth" "the port sent '${sent:-?}', the router received $rp"
	fi
	if [ "$e" = 0 ]; then
		pass "$name: no TCP checksum error at the kernel listener"
	else
		fail "$name checksums" "$e TCP checksum errors at the listener"
	fi
	if [ "$mode" != plain ]; then
		# 60,000 bytes at an MSS of 1,460: 42 frames, cut by the router.
		if [ "$rk" -ge 42 ] && [ "$k" -ge 42 ] && [ "$sent" -lt 42 ]; then
			pass "$name: one TSO packet in, $rk MSS frames out of the router to the listener"
		else
			fail "$name segmentation" "port sent ${sent:-?}, router sent $rk, listener received $k"
		fi
	fi
}

run_case vnet
run_case v2 v2
if grep -qE 'rx [0-9]+ frames .* [1-9][0-9]* fetched' "$tmp/v2.out"; then
	pass "v2: the large frames came off the socket's queue (recvmsg)"
else
	fail "v2 fetched" "$(grep '^queue' "$tmp/v2.out")"
fi
run_case plain plain

[ "$fails" -eq 0 ]
