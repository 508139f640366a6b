#!/usr/bin/env bash
# Rig suite: path MTU discovery over IPv6 through a kernel router (RFC
# 8201), the IPv6 twin of run_pport_pmtu.sh. Three namespaces: a client
# (curl -6, the kernel's TCP) -- a router (the kernel, forwarding IPv6) --
# minimal_ws on the Linux packet port (--ip twice, --gw the router's IPv6
# address), in 2001:2::/48 (RFC 5180; the server's link 2001:2::/64, the
# client's 2001:2:0:1::/64). The router's client-side link starts at MTU
# 1500: curl fetches every page of a small corpus, each compared byte for
# byte. Then, while a rate-limited fetch of the largest page (1.1 MB) is
# under way, the router's client-side MTU drops to 1280: the router answers
# the server's 1500-byte packets with ICMPv6 "packet too big" (IPv6 routers
# never fragment), and the page must still arrive whole (a server that
# ignores the ICMPv6 stalls there: a PMTU black hole). Every page is
# fetched again at 1280 (new connections start from the path MTU cache),
# and minimal_ws's counters must show the message received
# (icmp6_pkt_too_big_rx), the connection's MSS lowered (tcp_pmtu_lowered)
# and the cache used (tcp_pmtu_cached_opens). Fails (never skips) when it
# cannot run. Needs root. Binary: $USN_MWS (default build/rel/apps/minimal_ws).
set -u
cd "$(dirname "$0")/../.." || exit 1

BIN=${USN_MWS:-${O:-build}/rel/apps/minimal_ws}
id=$$
NS_C=usn6mc$id
NS_R=usn6mr$id
NS_S=usn6ms$id
IF_C=u6mc$id   # client end of the client link
IF_RC=u6mrc$id # router end of the client link
IF_RS=u6mrs$id # router end of the server link
IF_S=u6ms$id   # minimal_ws's interface
CLI_IP6=2001:2:0:1::2
RTR_C_IP6=2001:2:0:1::1
RTR_S_IP6=2001:2::1
SRV_IP6=2001:2::2
SRV_IP=198.18.0.2 # minimal_ws needs an IPv4 address too; nothing uses it here
tmp=$(mktemp -d /tmp/usn_pport_pmtu6.XXXXXX)
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/rig/lsan.supp}
srv_pid=
slow_pid=
fails=0

pass() { echo "PASS pmtu6: $1"; }
fail() { echo "FAIL pmtu6: $1${2:+: $2}"; fails=$((fails + 1)); }

stop_server() {
	[ -n "$srv_pid" ] || return 0
	if kill -0 "$srv_pid" 2>/dev/null; then
		kill -INT "$srv_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$srv_pid" 2>/dev/null
	fi
	wait "$srv_pid" 2>/dev/null
	srv_pid=
}

cleanup() {
	if [ -n "$slow_pid" ]; then
		kill "$slow_pid" 2>/dev/null
		wait "$slow_pid" 2>/dev/null
	fi
	stop_server
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_R" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	fail run "needs root (network namespaces, packet sockets)"
	exit 1
fi
if [ ! -x "$BIN" ]; then
	fail run "$BIN not built (make)"
	exit 1
fi
for t in curl cmp; do
	command -v "$t" >/dev/null || { fail run "$t not installed"; exit 1; }
done

# The kernels' duplicate address detection is off (addresses usable at
# once); the server's veth has IPv6 off, so every answer from 2001:2::2 is
# the stack's. The router's client link may go down to 1280, IPv6's
# minimum (below it the kernel would take IPv6 off that link).
setup_net() {
	ip netns add "$NS_C" && ip netns add "$NS_R" && ip netns add "$NS_S" &&
		ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_RC" netns "$NS_R" &&
		ip link add "$IF_RS" netns "$NS_R" type veth peer name "$IF_S" netns "$NS_S" &&
		for ns in "$NS_C" "$NS_R" "$NS_S"; do
			ip -n "$ns" link set lo up && ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
				net.ipv6.conf.default.accept_dad=0 || return 1
		done &&
		ip netns exec "$NS_S" sysctl -qw "net.ipv6.conf.$IF_S.disable_ipv6=1" &&
		ip -n "$NS_C" addr add "$CLI_IP6/64" dev "$IF_C" nodad && ip -n "$NS_C" link set "$IF_C" up &&
		ip -n "$NS_C" -6 route add default via "$RTR_C_IP6" &&
		ip netns exec "$NS_C" sysctl -qw net.ipv4.tcp_rmem="4096 32768 65536" &&
		ip netns exec "$NS_R" sysctl -qw net.ipv6.conf.all.forwarding=1 &&
		ip -n "$NS_R" addr add "$RTR_C_IP6/64" dev "$IF_RC" nodad && ip -n "$NS_R" link set "$IF_RC" up &&
		ip -n "$NS_R" addr add "$RTR_S_IP6/64" dev "$IF_RS" nodad && ip -n "$NS_R" link set "$IF_RS" up &&
		ip -n "$NS_S" link set "$IF_S" up
}
if ! setup_net 2>"$tmp/setup.err"; then
	fail setup "namespaces/veth: $(head -1 "$tmp/setup.err")"
	exit 1
fi
pass "setup: client $CLI_IP6 -- router -- minimal_ws $SRV_IP6, router's client link MTU $(ip -n "$NS_R" -o link show "$IF_RC" | grep -o 'mtu [0-9]*')"

# The corpus: pages from 3.5 KB to 1.1 MB.
root=$tmp/root
mkdir -p "$root"
i=0
for size in 3500 20000 68000 126000 300000 600000 1100000; do
	head -c "$size" /dev/urandom >"$root/p$i.bin"
	i=$((i + 1))
done
pages=$(cd "$root" && ls)

log=$tmp/mws.log
ip netns exec "$NS_S" "$BIN" --iface "$IF_S" -- --root "$root" --ip "$SRV_IP/24" --ip "$SRV_IP6/64" \
	--gw "$RTR_S_IP6" --port 80 --workers 1 --idle-backoff-us 200 >"$log" 2>&1 </dev/null &
srv_pid=$!
for _ in $(seq 100); do
	grep -q 'over IPv6 too' "$log" && break
	kill -0 "$srv_pid" 2>/dev/null || break
	sleep 0.2
done
if ! grep -q 'over IPv6 too' "$log"; then
	fail start "$(tail -3 "$log" | tr '\n' ' ')"
	exit 1
fi
# The stack's duplicate address detection takes a second: the first fetch
# may wait for it (bounded: 20 tries, about 50 s at most).
up=0
for _ in $(seq 20); do
	if ip netns exec "$NS_C" curl -6 -sS --fail --max-time 2 -o /dev/null "http://[$SRV_IP6]/p0.bin" 2>/dev/null; then
		up=1
		break
	fi
	sleep 0.5
done
if [ "$up" = 1 ]; then
	pass "minimal_ws started behind the router (--gw $RTR_S_IP6), answers curl -6"
else
	fail start "no answer over IPv6 through the router: $(tail -3 "$log" | tr '\n' ' ')"
	exit 1
fi

# fetch_all PHASE: every page once, compared byte for byte.
fetch_all() {
	local phase=$1 bad=0 p
	mkdir -p "$tmp/$phase"
	for p in $pages; do
		if ! ip netns exec "$NS_C" curl -6 -sS --fail --max-time 20 -o "$tmp/$phase/$p" "http://[$SRV_IP6]/$p" \
			2>>"$tmp/$phase.err" || ! cmp -s "$root/$p" "$tmp/$phase/$p"; then
			bad=$((bad + 1))
			echo "$p differs or failed" >>"$tmp/$phase.err"
		fi
	done
	if [ "$bad" -eq 0 ]; then
		pass "$phase: every page ($(echo "$pages" | wc -w)) byte-identical over IPv6"
	else
		fail "$phase" "$bad pages wrong: $(tail -3 "$tmp/$phase.err" | tr '\n' ' ')"
	fi
}

fetch_all mtu1500

# The MTU drops while the largest page is on its way: curl reads 400 KB/s
# and the client's receive buffer holds at most 64 KB (tcp_rmem above), so
# the server, held by the window, sends it over about 3 s.
big=p6.bin
ip netns exec "$NS_C" curl -6 -sS --fail --max-time 30 --limit-rate 400K -o "$tmp/slow.bin" "http://[$SRV_IP6]/$big" \
	2>"$tmp/slow.err" &
slow_pid=$!
sleep 1
ip -n "$NS_R" link set "$IF_RC" mtu 1280
if wait "$slow_pid" && cmp -s "$root/$big" "$tmp/slow.bin"; then
	pass "the 1.1 MB page in flight when the router's MTU dropped to 1280 arrived byte-identical"
else
	fail "page in flight across the MTU drop" "$(head -2 "$tmp/slow.err" | tr '\n' ' ') $(wc -c <"$tmp/slow.bin" 2>/dev/null) of $(wc -c <"$root/$big") bytes"
fi
slow_pid=

fetch_all mtu1280

stop_server
w0=$(grep -E '^worker 0 .*=' "$log" | tail -1)
n() { echo "$w0" | grep -oE " $1=[0-9]+" | cut -d= -f2 | head -1; }
lowered=$(n tcp_pmtu_lowered)
ptb=$(n icmp6_pkt_too_big_rx)
cached=$(n tcp_pmtu_cached_opens)
if [ "${lowered:-0}" -ge 1 ] && [ "${ptb:-0}" -ge 1 ]; then
	pass "minimal_ws took the router's packet too big: icmp6_pkt_too_big_rx=$ptb tcp_pmtu_lowered=$lowered"
else
	fail "packet too big accepted" "counters: $(echo "$w0" | grep -oE ' (icmp|tcp_pmtu|pmtu|tcp_icmp|drop_icmp)[a-z0-9_]*=[0-9]+' | tr '\n' ' ')"
fi
# Every connection after the drop started from the cache: so the message
# was for the page in flight, not for the first page fetched after it.
npages=$(echo "$pages" | wc -w)
if [ "${cached:-0}" -eq "$npages" ]; then
	pass "the $npages connections after the drop started from the path MTU cache: tcp_pmtu_cached_opens=$cached"
else
	fail "cache used" "tcp_pmtu_cached_opens=${cached:-0}, want $npages"
fi
echo "  counters: $(echo "$w0" | grep -oE ' (icmp|tcp_pmtu|pmtu|tcp_icmp|drop_icmp|tcp_retrans|tcp_passive|tcp6)[a-z0-9_]*=[0-9]+' | tr '\n' ' ')"

[ "$fails" -eq 0 ]
