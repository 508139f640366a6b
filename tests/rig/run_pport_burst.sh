#!/usr/bin/env bash
# Rig suite: the Linux packet port's receive ring holds what arrives while
# its worker is not reading (a worker set aside by the scheduler on a busy
# machine, or slow for a moment), with the default ring size.
# tests/rig/pport_burst_test.c opens the port at one end of a veth pair and
# stops reading while this script sends it a burst from the other end, then
# drains the ring: every frame must arrive and the kernel must count no
# drop. Two bursts, each beyond what the first
# default ring (64 blocks of 256 KiB) held:
#  - paced: 800 frames, one every 0.5 ms. A TPACKET_V3 block is handed over
#    after its timeout however little it holds (1 ms asked; the kernel's
#    timer makes it 1 to 4 ms), so this fills 100 to 400 blocks (that ring
#    froze after 64 and dropped the rest);
#  - dense: 20,000 frames as fast as they go: TPACKET_V2 takes one slot per
#    frame (that ring had 8,192).
# Each with the TPACKET_V3 ring (the default) and the TPACKET_V2 one.
# Fails (never skips) when it cannot run. Needs root.
# Binary: $USN_PPORT_BURST_TEST (default build/rel/tests/rig/pport_burst_test).
set -u
cd "$(dirname "$0")/../.." || exit 1

BIN=${USN_PPORT_BURST_TEST:-build/rel/tests/rig/pport_burst_test}
id=$$
NS_P=usnbp$id NS_C=usnbc$id
IF_P=ubp$id IF_C=ubc$id
tmp=$(mktemp -d /tmp/usn_pport_burst.XXXXXX)
test_pid=
fails=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }

cleanup() {
	if [ -n "$test_pid" ]; then
		kill "$test_pid" 2>/dev/null
		wait "$test_pid" 2>/dev/null
	fi
	ip netns del "$NS_P" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	fail pport_burst "needs root (network namespaces, packet sockets)"
	exit 1
fi
if [ ! -x "$BIN" ]; then
	fail pport_burst "$BIN not built (make)"
	exit 1
fi

setup_net() {
	ip netns add "$NS_P" && ip netns add "$NS_C" &&
		ip link add "$IF_P" netns "$NS_P" type veth peer name "$IF_C" netns "$NS_C" &&
		ip netns exec "$NS_P" sysctl -qw "net.ipv6.conf.$IF_P.disable_ipv6=1" &&
		ip netns exec "$NS_C" sysctl -qw "net.ipv6.conf.$IF_C.disable_ipv6=1" &&
		ip -n "$NS_P" link set "$IF_P" up && ip -n "$NS_C" link set "$IF_C" up
}
if ! setup_net 2>"$tmp/setup.err"; then
	fail setup "namespaces/veth: $(head -1 "$tmp/setup.err")"
	exit 1
fi
pass setup
port_mac=$(ip netns exec "$NS_P" cat "/sys/class/net/$IF_P/address")

# send.py IFACE DST_MAC COUNT INTERVAL_S: COUNT frames of ethertype 0x88b5,
# one every INTERVAL_S seconds (0: back to back); bounded in count and time.
cat >"$tmp/send.py" <<'EOF'
import socket, sys, time
ifn, dst, count, interval = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifn, 0))
src = bytes.fromhex(open("/sys/class/net/%s/address" % ifn).read().strip().replace(":", ""))
t0 = time.monotonic()
sent = 0
for i in range(count):
    if time.monotonic() - t0 > 10:
        break
    if interval:
        while time.monotonic() < t0 + i * interval:
            pass
    frame = dst + src + b"\x88\xb5" + i.to_bytes(4, "big") + bytes(42)
    while True:
        try:
            s.send(frame)
            break
        except BlockingIOError:
            time.sleep(0.0001)
    sent += 1
print("sent %d in %.3f s" % (sent, time.monotonic() - t0))
EOF

# run_case NAME COUNT INTERVAL_S [PORT OPTIONS...]
run_case() {
	local name=$1 count=$2 interval=$3
	shift 3
	local log=$tmp/$name.log go=$tmp/$name.go
	ip netns exec "$NS_P" "$BIN" "$IF_P" "$go" "$count" "$@" >"$log" 2>&1 </dev/null &
	test_pid=$!
	for _ in $(seq 100); do
		grep -q '^ready' "$log" && break
		kill -0 "$test_pid" 2>/dev/null || break
		sleep 0.05
	done
	if ! grep -q '^ready' "$log"; then
		wait "$test_pid" 2>/dev/null
		test_pid=
		fail "$name" "the port did not open: $(tail -2 "$log" | tr '\n' ' ')"
		return
	fi
	local sent
	sent=$(ip netns exec "$NS_C" timeout 40 python3 "$tmp/send.py" "$IF_C" "$port_mac" "$count" "$interval" 2>&1)
	touch "$go"
	wait "$test_pid"
	local rc=$?
	test_pid=
	echo "  [$name] $sent; $(grep '^received' "$log")"
	if [ "${sent#sent "$count" in }" = "$sent" ]; then
		fail "$name" "the sender did not send the burst: $sent"
	elif [ "$rc" = 0 ]; then
		pass "$name: $count frames, all received, no kernel drop"
	else
		fail "$name" "$(grep '^FAIL' "$log" | tr '\n' ' ')"
	fi
}

run_case v3_paced 800 0.0005
run_case v3_dense 20000 0
run_case v2_paced 800 0.0005 --pkt-ring=v2
run_case v2_dense 20000 0 --pkt-ring=v2

[ "$fails" -eq 0 ]
