#!/usr/bin/env bash
# Rig suite: the Linux packet port's start-up errors and fallbacks, through
# usn_echo --iface. Each bad port option, bad interface or missing privilege
# must end with exactly one "usn_echo: ..." line on stderr and a non-zero
# exit (2 for the program's own flags, 1 for the port's). Each fallback must
# start, say what it fell back to in one "packet port IF: ..." line, and
# answer a ping: no virtio-net headers (tests/rig/pport_refuse.so makes
# setsockopt refuse them, as a kernel without them would), a refused CBPF
# fanout group (the same shim), an interface without TSO, a kernel address
# on the interface. --help of the three programs names --iface. Fails
# (never skips) when it cannot run. Needs root.
# Binaries: $USN_ECHO, $PPORT_REFUSE (default build/rel/...).
set -u
cd "$(dirname "$0")/../.." || exit 1

BIN=${USN_ECHO:-build/rel/apps/usn_echo}
SHIM=${PPORT_REFUSE:-build/rel/tests/rig/pport_refuse.so}
id=$$
NS=usnpf$id NS_C=usnpg$id
IF=upf$id IF_C=upg$id
SRV_IP=198.18.0.2 CLI_IP=198.18.0.1
tmp=$(mktemp -d /tmp/usn_pport_flags.XXXXXX)
srv_pid=
fails=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }

stop_server() {
	[ -n "$srv_pid" ] || return 0
	kill -INT "$srv_pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.2; done
	kill -KILL "$srv_pid" 2>/dev/null
	wait "$srv_pid" 2>/dev/null
	srv_pid=
}

cleanup() {
	stop_server
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	fail pport_flags "needs root (network namespaces, packet sockets)"
	exit 1
fi
for b in "$BIN" "$SHIM"; do
	if [ ! -e "$b" ]; then
		fail pport_flags "$b not built (make)"
		exit 1
	fi
done
setup_net() {
	ip netns add "$NS" && ip netns add "$NS_C" &&
		ip link add "$IF" netns "$NS" type veth peer name "$IF_C" netns "$NS_C" &&
		ip -n "$NS" link set lo up && ip -n "$NS_C" link set lo up &&
		ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$IF.disable_ipv6=1" &&
		ip netns exec "$NS_C" sysctl -qw "net.ipv6.conf.$IF_C.disable_ipv6=1" &&
		ip -n "$NS_C" link set "$IF_C" up && ip -n "$NS_C" addr add "$CLI_IP/24" dev "$IF_C"
}
if ! setup_net 2>"$tmp/setup.err"; then
	fail setup "namespaces/veth: $(head -1 "$tmp/setup.err")"
	exit 1
fi

# expect NAME EXIT REGEX ARGS...: usn_echo ARGS in the port's namespace
# (bounded) exits EXIT with one stderr line "usn_echo: ...", the last,
# matching REGEX.
expect() {
	local name=$1 want_rc=$2 re=$3
	shift 3
	timeout 60 ip netns exec "$NS" "$BIN" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local rc=$? ours last
	ours=$(grep -c '^usn_echo: ' "$tmp/err")
	last=$(tail -1 "$tmp/err")
	if [ "$rc" != "$want_rc" ]; then
		fail "$name" "exit $rc, wanted $want_rc (stderr: $(tail -2 "$tmp/err" | tr '\n' ' '))"
	elif [ "$ours" != 1 ] || [ "$(wc -l <"$tmp/err")" != 1 ]; then
		fail "$name" "wanted one stderr line, got: $(tr '\n' '|' <"$tmp/err" | cut -c1-300)"
	elif ! [[ "$last" =~ ^usn_echo:\ .*$re ]]; then
		fail "$name" "stderr '$last' does not match '$re'"
	else
		pass "$name ($last)"
	fi
}

# The interface down first.
expect "interface down" 1 "--iface $IF: the interface is down \(ip link set $IF up\)" --iface "$IF" --ip "$SRV_IP/24"
ip -n "$NS" link set "$IF" up
expect "no interface name" 1 "--iface needs an interface name, e.g. --iface veth0" --iface --ip "$SRV_IP/24"
expect "no interface name (=)" 1 "--iface needs an interface name" --iface= --ip "$SRV_IP/24"
expect "no such interface" 1 "--iface nosuch$id: no such interface in this network namespace" \
	--iface "nosuch$id" --ip "$SRV_IP/24"
expect "name too long" 1 "not an interface name \(at most 15 characters\)" --iface "a23456789012345678" --ip "$SRV_IP/24"
expect "loopback" 1 "--iface lo: not an Ethernet interface" --iface lo --ip "$SRV_IP/24"
expect "unknown port option" 1 "unknown packet port option --pkt-frob=1 \(known: --pkt-bufs=N" \
	--iface "$IF" --pkt-frob=1 --ip "$SRV_IP/24"
expect "--pkt-bufs too small" 1 "bad value in --pkt-bufs=12 \(expected --pkt-bufs=N, 1024..1048576\)" \
	--iface "$IF" --pkt-bufs=12 --ip "$SRV_IP/24"
expect "--pkt-bufs not a number" 1 "bad value in --pkt-bufs=lots" --iface "$IF" --pkt-bufs=lots --ip "$SRV_IP/24"
expect "--pkt-blocks too many" 1 "bad value in --pkt-blocks=99999" --iface "$IF" --pkt-blocks=99999 --ip "$SRV_IP/24"
expect "--pkt-fanout unknown" 1 "bad value in --pkt-fanout=lb \(expected --pkt-fanout=rss or hash\)" \
	--iface "$IF" --pkt-fanout=lb --ip "$SRV_IP/24"
expect "--pkt-ring unknown" 1 "bad value in --pkt-ring=v1 \(expected --pkt-ring=v3 or v2\)" \
	--iface "$IF" --pkt-ring=v1 --ip "$SRV_IP/24"
expect "--pkt-cpus malformed" 1 "bad value in --pkt-cpus=0-x" --iface "$IF" --pkt-cpus=0-x --ip "$SRV_IP/24"
expect "--pkt-cpus too few" 1 "--pkt-cpus names 1 CPUs for 2 workers" --iface "$IF" --pkt-cpus=0 --ip "$SRV_IP/24" \
	--workers 2
expect "program flag after the port's" 2 "unknown option --bogus" --iface "$IF" --ip "$SRV_IP/24" --bogus 1
expect "program flag missing" 2 "missing --ip" --iface "$IF" --port 7
expect "--workers out of range" 2 "--workers 65: not a number in 1..64" --iface "$IF" --ip "$SRV_IP/24" --workers 65

# Not root: one line naming the capability.
cp "$BIN" "$tmp/usn_echo" && chmod 755 "$tmp" "$tmp/usn_echo"
out=$(ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/usn_echo" --iface "$IF" \
	--ip "$SRV_IP/24" 2>&1 </dev/null)
rc=$?
if [ "$rc" = 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] &&
	[[ "$out" =~ ^usn_echo:\ a\ packet\ socket\ on\ $IF\ needs\ CAP_NET_RAW ]]; then
	pass "not root ($out)"
else
	fail "not root" "exit $rc: $out"
fi

# start NAME ARGS...: usn_echo on the port (environment from $env_pre);
# 0 once it is listening. Then ping it from the peer.
start() {
	local name=$1
	shift
	log=$tmp/$name.log
	ip netns exec "$NS" env ${env_pre:-} "$BIN" --iface "$IF" "$@" --ip "$SRV_IP/24" --port 7 --idle-backoff-us 200 \
		>"$log" 2>"$tmp/$name.err" </dev/null &
	srv_pid=$!
	for _ in $(seq 100); do
		grep -q 'listening on' "$log" && return 0
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.2
	done
	stop_server
	return 1
}

# fallback NAME NOTE_REGEX STATS_REGEX ARGS...: starts, one stderr line
# "packet port IF: ..." matching NOTE_REGEX, pings, stops; the port's
# summary line matches STATS_REGEX.
fallback() {
	local name=$1 note=$2 stats=$3
	shift 3
	if ! start "$name" "$@"; then
		fail "$name start" "$(tail -3 "$tmp/$name.err" | tr '\n' ' ')"
		return
	fi
	ip -n "$NS_C" neigh flush all 2>/dev/null
	local ping_ok=0
	ip netns exec "$NS_C" timeout 20 python3 tests/rig/icmp_ping.py "$SRV_IP" 3 >"$tmp/ping.out" 2>&1 && ping_ok=1
	stop_server
	local lines
	lines=$(grep -c "^packet port $IF: " "$tmp/$name.err")
	if [ "$lines" = 1 ] && grep -qE "^packet port $IF: $note" "$tmp/$name.err"; then
		pass "$name: $(grep "^packet port $IF: " "$tmp/$name.err")"
	else
		fail "$name note" "wanted one line matching '$note', stderr: $(tr '\n' '|' <"$tmp/$name.err" | cut -c1-300)"
	fi
	if [ "$ping_ok" = 1 ] && grep -qE "^packet port $IF: .*$stats" "$log"; then
		pass "$name: answers a ping ($(grep -oE "$stats" "$log" | head -1))"
	else
		fail "$name" "ping $ping_ok, summary: $(grep "^packet port" "$log")"
	fi
}

env_pre="LD_PRELOAD=$PWD/$SHIM PPORT_REFUSE=vnet" fallback no_vnet \
	"no virtio-net headers on packet sockets here \(PACKET_VNET_HDR on $IF: Protocol not available\): plain frames, no TSO, no checksum offload" \
	"plain frames, .*offloads 0x10"
env_pre="LD_PRELOAD=$PWD/$SHIM PPORT_REFUSE=cbpf" fallback no_cbpf \
	"the kernel refused a PACKET_FANOUT_CBPF group \(Invalid argument\): falling back to PACKET_FANOUT_HASH" \
	"2 workers, fanout hash, software steering" --workers 2
ip netns exec "$NS" ethtool -K "$IF" tso off >/dev/null
fallback no_tso "TCP segmentation offload is off on the interface: the kernel cuts the port's large segments itself" \
	"virtio-net headers, .*tso_max 65535, offloads 0x75"
ip netns exec "$NS" ethtool -K "$IF" tso on >/dev/null
ip -n "$NS" addr add 198.18.0.9/24 dev "$IF"
fallback kernel_address "the kernel has an IPv4 address on this interface and will answer ARP and TCP beside the stack" \
	"virtio-net headers"
ip -n "$NS" addr flush dev "$IF"

# --help names the port's flag (and says how), with or without a port.
for prog in usn_echo minimal_ws usn_load; do
	b=$(dirname "$BIN")/$prog
	if "$b" --help 2>/dev/null | grep -q -- '^port: --iface IF' && "$b" --iface "$IF" -h 2>/dev/null | grep -q "^usage: $prog "; then
		pass "$prog --help says how to give the packet port"
	else
		fail "$prog --help" "no 'port: --iface IF' line: $("$b" --help 2>&1 | grep -i port | head -3 | tr '\n' '|')"
	fi
done

[ "$fails" -eq 0 ]
