#!/usr/bin/env bash
# Rig suite: path MTU discovery through a kernel router. Three namespaces:
# a client (curl, the kernel's TCP) -- a router (the kernel, forwarding) --
# minimal_ws on the Linux packet port (arch/linux, --iface, --gw the
# router), in 198.18.0.0/15. The router's client-side link starts at MTU
# 1500: curl fetches every page of a small corpus, each compared byte for
# byte. Then, while a rate-limited fetch of the largest page is under way,
# the router's client-side MTU drops to 1280: the router answers the
# server's larger DF packets with ICMP "fragmentation needed", and the page
# must still arrive whole (a server that ignores the ICMP stalls there: a
# PMTU black hole). Every page is fetched again at 1280 (new connections
# start from the path MTU cache), and minimal_ws's counters must show the
# ICMP accepted (tcp_pmtu_lowered, pmtu_updates) and the cache used
# (tcp_pmtu_cached_opens). Fails (never skips) when it cannot run. Needs
# root. Binary: $USN_MWS (default build/rel/apps/minimal_ws).
set -u
cd "$(dirname "$0")/../.." || exit 1

BIN=${USN_MWS:-${O:-build}/rel/apps/minimal_ws}
id=$$
NS_C=usnmc$id
NS_R=usnmr$id
NS_S=usnms$id
IF_C=umc$id  # client end of the client link
IF_RC=umrc$id # router end of the client link
IF_RS=umrs$id # router end of the server link
IF_S=ums$id  # minimal_ws's interface
CLI_IP=198.18.1.2
RTR_C_IP=198.18.1.1
RTR_S_IP=198.18.0.1
SRV_IP=198.18.0.2
tmp=$(mktemp -d /tmp/usn_pport_pmtu.XXXXXX)
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/rig/lsan.supp}
srv_pid=
slow_pid=
fails=0

pass() { echo "PASS pmtu: $1"; }
fail() { echo "FAIL pmtu: $1${2:+: $2}"; fails=$((fails + 1)); }

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
	[ -n "$slow_pid" ] && kill "$slow_pid" 2>/dev/null
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

setup_net() {
	ip netns add "$NS_C" && ip netns add "$NS_R" && ip netns add "$NS_S" &&
		ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_RC" netns "$NS_R" &&
		ip link add "$IF_RS" netns "$NS_R" type veth peer name "$IF_S" netns "$NS_S" &&
		for ns in "$NS_C" "$NS_R" "$NS_S"; do
			ip -n "$ns" link set lo up && ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || return 1
		done &&
		ip -n "$NS_C" addr add "$CLI_IP/24" dev "$IF_C" && ip -n "$NS_C" link set "$IF_C" up &&
		ip -n "$NS_C" route add default via "$RTR_C_IP" &&
		ip netns exec "$NS_C" sysctl -qw net.ipv4.tcp_rmem="4096 32768 65536" &&
		ip -n "$NS_R" addr add "$RTR_C_IP/24" dev "$IF_RC" && ip -n "$NS_R" link set "$IF_RC" up &&
		ip -n "$NS_R" addr add "$RTR_S_IP/24" dev "$IF_RS" && ip -n "$NS_R" link set "$IF_RS" up &&
		ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1 &&
		ip -n "$NS_S" link set "$IF_S" up
}
if ! setup_net 2>"$tmp/setup.err"; then
	fail setup "namespaces/veth: $(head -1 "$tmp/setup.err")"
	exit 1
fi
pass "setup: client $CLI_IP -- router -- minimal_ws $SRV_IP, router's client link MTU $(ip -n "$NS_R" -o link show "$IF_RC" | grep -o 'mtu [0-9]*')"

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
ip netns exec "$NS_S" "$BIN" --iface "$IF_S" -- --root "$root" --ip "$SRV_IP/24" --gw "$RTR_S_IP" --port 80 \
	--workers 1 --idle-backoff-us 200 >"$log" 2>&1 </dev/null &
srv_pid=$!
for _ in $(seq 100); do
	grep -q 'listening on' "$log" && break
	kill -0 "$srv_pid" 2>/dev/null || break
	sleep 0.2
done
if ! grep -q 'listening on' "$log"; then
	fail start "$(tail -3 "$log" | tr '\n' ' ')"
	exit 1
fi
pass "minimal_ws started behind the router (--gw $RTR_S_IP)"

# fetch_all PHASE: every page once, compared byte for byte.
fetch_all() {
	local phase=$1 bad=0 p
	mkdir -p "$tmp/$phase"
	for p in $pages; do
		if ! ip netns exec "$NS_C" curl -sS --fail --max-time 20 -o "$tmp/$phase/$p" "http://$SRV_IP/$p" \
			2>>"$tmp/$phase.err" || ! cmp -s "$root/$p" "$tmp/$phase/$p"; then
			bad=$((bad + 1))
			echo "$p differs or failed" >>"$tmp/$phase.err"
		fi
	done
	if [ "$bad" -eq 0 ]; then
		pass "$phase: every page ($(echo $pages | wc -w)) byte-identical"
	else
		fail "$phase" "$bad pages wrong: $(tail -3 "$tmp/$phase.err" | tr '\n' ' ')"
	fi
}

fetch_all mtu1500

# The MTU drops while the largest page is on its way: curl reads 400 KB/s
# and the client's receive buffer holds at most 64 KB (tcp_rmem above), so
# the server, held by the window, sends it over about 3 s.
big=p6.bin
ip netns exec "$NS_C" curl -sS --fail --max-time 30 --limit-rate 400K -o "$tmp/slow.bin" "http://$SRV_IP/$big" \
	2>"$tmp/slow.err" &
slow_pid=$!
sleep 1
ip -n "$NS_R" link set "$IF_RC" mtu 1280
if wait "$slow_pid" && cmp -s "$root/$big" "$tmp/slow.bin"; then
	pass "the page in flight when the router's MTU dropped to 1280 arrived byte-identical"
else
	fail "page in flight across the MTU drop" "$(head -2 "$tmp/slow.err" | tr '\n' ' ') $(wc -c <"$tmp/slow.bin" 2>/dev/null) of $(wc -c <"$root/$big") bytes"
fi
slow_pid=

fetch_all mtu1280

stop_server
w0=$(grep -E '^worker 0 .*=' "$log" | head -1)
n() { echo "$w0" | grep -oE " $1=[0-9]+" | cut -d= -f2 | head -1; }
lowered=$(n tcp_pmtu_lowered)
updates=$(n pmtu_updates)
cached=$(n tcp_pmtu_cached_opens)
unreach=$(n icmp_unreach_rx)
if [ "${lowered:-0}" -ge 1 ] && [ "${updates:-0}" -ge 1 ]; then
	pass "minimal_ws accepted the router's ICMP: icmp_unreach_rx=${unreach:-0} tcp_pmtu_lowered=$lowered pmtu_updates=$updates"
else
	fail "ICMP accepted" "counters: $(echo "$w0" | grep -oE ' (icmp|tcp_pmtu|pmtu|tcp_icmp|drop_icmp)[a-z_]*=[0-9]+' | tr '\n' ' ')"
fi
# Every connection after the drop started from the cache: so the ICMP
# was for the page in flight, not for the first page fetched after it.
npages=$(echo $pages | wc -w)
if [ "${cached:-0}" -eq "$npages" ]; then
	pass "the $npages connections after the drop started from the path MTU cache: tcp_pmtu_cached_opens=$cached"
else
	fail "cache used" "tcp_pmtu_cached_opens=${cached:-0}, want $npages"
fi
echo "  counters: $(echo "$w0" | grep -oE ' (icmp|tcp_pmtu|pmtu|tcp_icmp|drop_icmp|tcp_retrans|tcp_passive)[a-z_]*=[0-9]+' | tr '\n' ' ')"

[ "$fails" -eq 0 ]
