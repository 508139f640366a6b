#!/usr/bin/env bash
# Rig suite: TCP over IPv6 against the Linux kernel. minimal_ws on the
# Linux packet port at the server end of a veth pair (--ip 198.18.0.2/24
# --ip 2001:2::2/64), the kernel's curl at the client end (2001:2::1/64),
# each in a namespace of its own; the server side's kernel has IPv6 off on
# its veth, so every answer is the stack's. Cases: every page of a small
# corpus (1 byte to 1.1 MB, random bytes) fetched with curl -6 from the
# global address, byte-identical with the file (cmp); one page from the
# stack's link-local address and one over IPv4 beside them; the stack
# counted IPv6 segments both ways (tcp6_rx_segs, tcp6_tx_segs); a clean
# stop. Then usn_load on the packet port at the client end (the client
# kernel's IPv6 off, its IPv4 address gone) fetches the corpus from the
# same minimal_ws over IPv6, every body checked, refuses two workers over
# IPv6 on the fanout port (IPv6 flows are worker 0's there) and spreads
# them over two under software steering (--pkt-fanout=hash). Last,
# the kernel serves: bsd_ws in the server namespace listens on one address
# of each family (IPv6 back on there), and curl -6 fetches every page from
# it byte-identical, one over IPv4 beside. Addresses from 2001:2::/48
# (RFC 5180) and 198.18.0.0/15 only; names carry the shell's pid;
# everything is removed on exit, failure included. Fails (never skips)
# when it cannot run. Needs root. Binaries: $MINIMAL_WS, $USN_LOAD,
# $BSD_WS (default build/rel/apps/...).
set -u
cd "$(dirname "$0")/../.." || exit 1

MWS=${MINIMAL_WS:-build/rel/apps/minimal_ws}
LOAD=${USN_LOAD:-build/rel/apps/usn_load}
BSD=${BSD_WS:-build/rel/apps/bsd_ws}
REQS=${USN_LOAD_REQS:-300}
id=$$
NS_S=usn6hs$id
NS_C=usn6hc$id
IF_S=u6hs$id
IF_C=u6hc$id
SRV_IP=198.18.0.2
CLI_IP=198.18.0.1
SRV_IP6=2001:2::2
CLI_IP6=2001:2::1
tmp=$(mktemp -d /tmp/usn_ipv6_http.XXXXXX)
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/rig/lsan.supp}
srv_pid=
srv_rc=
fails=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }

# SIGINT (minimal_ws and bsd_ws print their counters and stop), then KILL
# after 10 s.
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
	fail ipv6_http "needs root (network namespaces, packet sockets)"
	exit 1
fi
for b in "$MWS" "$LOAD" "$BSD"; do
	if [ ! -x "$b" ]; then
		fail ipv6_http "$b not built (make)"
		exit 1
	fi
done
if ! command -v curl >/dev/null; then
	fail ipv6_http "curl not installed"
	exit 1
fi

# The corpus: sizes around the MSS and buffer edges, the seed corpus's
# median and its largest, random bytes (a byte out of place shows).
www=$tmp/www
mkdir -p "$www"
pages=()
for n in 1 1000 1440 1441 3500 68000 300000 1100000; do
	head -c "$n" /dev/urandom >"$www/p$n.bin"
	pages+=("p$n.bin")
done
printf '<html><body>libusnet over IPv6</body></html>\n' >"$www/index.html"
pages+=(index.html)

# The kernel's own DAD is off on the client (its address is usable at
# once); IPv6 is off on the server's veth, whose frames the stack takes.
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

log=$tmp/mws.log
ip netns exec "$NS_S" "$MWS" --iface "$IF_S" --root "$www" --ip "$SRV_IP/24" --ip "$SRV_IP6/64" --port 80 \
	--idle-backoff-us 200 >"$log" 2>&1 </dev/null &
srv_pid=$!
started=0
for _ in $(seq 100); do
	grep -q 'pages on port 80 over IPv6 too' "$log" && started=1 && break
	kill -0 "$srv_pid" 2>/dev/null || break
	sleep 0.2
done
if [ "$started" != 1 ]; then
	fail start "$(tail -3 "$log" | tr '\n' ' ')"
	exit 1
fi
pass "start: $(grep -o 'IPv6: .*' "$log")"
ll=$(sed -n 's/.*IPv6: [^ ]* and \(fe80::[0-9a-f:]*\) answer.*/\1/p' "$log" | head -1)

# fetch URL FILE [curl options]: the page, byte for byte.
fetch() {
	local url=$1 want=$2
	shift 2
	rm -f "$tmp/got"
	ip netns exec "$NS_C" curl -s -f -m 30 "$@" -o "$tmp/got" "$url" && cmp -s "$tmp/got" "$want"
}

# Duplicate address detection takes a second: the first fetch may wait
# for it (bounded: 20 tries, 10 s).
for _ in $(seq 20); do
	fetch "http://[$SRV_IP6]/index.html" "$www/index.html" -6 -m 2 && break
	sleep 0.5
done
bad=0
for p in "${pages[@]}"; do
	if ! fetch "http://[$SRV_IP6]/$p" "$www/$p" -6; then
		bad=$((bad + 1))
		echo "  $p: $(ls -l "$tmp/got" 2>/dev/null | awk '{print $5}') bytes received of $(stat -c %s "$www/$p")"
	fi
done
if [ "$bad" = 0 ]; then
	pass "curl -6 http://[$SRV_IP6]/: ${#pages[@]} pages (1 B to 1.1 MB), every byte"
else
	fail "pages over IPv6" "$bad of ${#pages[@]} fetches failed or differ"
fi
if [ -n "$ll" ] && fetch "http://[$ll%25$IF_C]/p68000.bin" "$www/p68000.bin" -6 -g; then
	pass "curl -6 the link-local address $ll%$IF_C: 68 KB, every byte"
else
	fail "link-local" "'$ll' did not serve p68000.bin"
fi
if fetch "http://$SRV_IP/p300000.bin" "$www/p300000.bin" -4; then
	pass "IPv4 beside it: 300 KB, every byte"
else
	fail "IPv4" "p300000.bin over IPv4 failed or differs"
fi

# counter NAME [LOG]: the worker counter NAME= from a program's exit lines
# (sum; default minimal_ws's).
counter() {
	grep -o "[ (]$1=[0-9]*" "${2:-$log}" | sed 's/.*=//' | awk '{s += $1} END {print s + 0}'
}

# usn_load on the client end's packet port, over IPv6, against the same
# minimal_ws. The client's kernel lets go of the veth first (IPv6 off,
# which drops its addresses; the IPv4 one removed), so no RST of its own
# answers the server's segments.
if ip netns exec "$NS_C" sysctl -qw "net.ipv6.conf.$IF_C.disable_ipv6=1" &&
	ip -n "$NS_C" addr flush dev "$IF_C"; then
	pass "client kernel off the veth for usn_load"
else
	fail "client kernel off" "could not disable IPv6 or flush $IF_C"
fi
llog=$tmp/load.log
ip netns exec "$NS_C" timeout 120 "$LOAD" --iface "$IF_C" --ip "$CLI_IP/24" --ip "$CLI_IP6/64" \
	--server "$SRV_IP6" --pages "$www" --connections 16 --requests "$REQS" --timeout 10 >"$llog" 2>&1 </dev/null
lrc=$?
if [ "$lrc" = 0 ] && grep -qE "^requests: $REQS started, $REQS correct, 0 errors" "$llog"; then
	pass "usn_load --server $SRV_IP6: $REQS requests, every body correct"
else
	fail "usn_load over IPv6" "exit $lrc: $(grep -E '^(requests|errors|usn_load)' "$llog" | tr '\n' ' ' | cut -c1-400)"
fi
ltx6=$(counter tcp6_tx_segs "$llog")
lopen=$(counter tcp_active_opens "$llog")
if [ "$ltx6" -gt 0 ] && [ "$lopen" = "$REQS" ]; then
	pass "usn_load opened $lopen connections over IPv6: tcp6_tx_segs=$ltx6"
else
	fail "usn_load counters" "tcp_active_opens=$lopen tcp6_tx_segs=$ltx6"
fi
# Two workers share the port through its fanout program, which spreads
# IPv4 flows only: every IPv6 flow would be worker 0's. One line, exit 2.
ip netns exec "$NS_C" timeout 30 "$LOAD" --iface "$IF_C" --ip "$CLI_IP/24" --ip "$CLI_IP6/64" \
	--server "[$SRV_IP6]:80" --pages "$www" --workers 2 --requests 10 >"$tmp/load2.log" 2>&1 </dev/null
lrc=$?
if [ "$lrc" = 2 ] && grep -q 'IPv6 --server takes --workers 1' "$tmp/load2.log"; then
	pass "usn_load refuses two workers over IPv6 on a fanout port: $(grep -o 'takes --workers 1.*' "$tmp/load2.log")"
else
	fail "usn_load two workers over IPv6" "exit $lrc: $(tail -2 "$tmp/load2.log" | tr '\n' ' ' | cut -c1-300)"
fi
# Under software steering (--pkt-fanout=hash: worker 0 receives and steers)
# IPv6 flows spread over the workers: both open, every body checked.
hlog=$tmp/load_hash.log
ip netns exec "$NS_C" timeout 120 "$LOAD" --iface "$IF_C" --pkt-fanout=hash --ip "$CLI_IP/24" --ip "$CLI_IP6/64" \
	--server "$SRV_IP6" --pages "$www" --workers 2 --connections 16 --requests "$REQS" --timeout 10 \
	>"$hlog" 2>&1 </dev/null
lrc=$?
w0=$(sed -n 's/^worker 0 .*tcp_active_opens=\([0-9]*\).*/\1/p' "$hlog")
w1=$(sed -n 's/^worker 1 .*tcp_active_opens=\([0-9]*\).*/\1/p' "$hlog")
if [ "$lrc" = 0 ] && grep -qE "^requests: $REQS started, $REQS correct, 0 errors" "$hlog" &&
	[ "${w0:-0}" -gt 0 ] && [ "${w1:-0}" -gt 0 ]; then
	pass "usn_load --pkt-fanout=hash --workers 2 over IPv6: $REQS requests correct, opens $w0 + $w1"
else
	fail "usn_load two workers, software steering" "exit $lrc, opens ${w0:-?} + ${w1:-?}: $(grep -E '^(requests|usn_load)' "$hlog" | tr '\n' ' ' | cut -c1-300)"
fi
if stop_server && [ "${srv_rc:-1}" = 0 ]; then
	pass "clean stop"
else
	fail "clean stop" "no clean exit on SIGINT (rc ${srv_rc:-killed}): $(tail -3 "$log" | tr '\n' ' ')"
fi
rx6=$(counter tcp6_rx_segs)
tx6=$(counter tcp6_tx_segs)
if [ "$rx6" -gt 0 ] && [ "$tx6" -gt 0 ]; then
	pass "the stack counted IPv6 segments: tcp6_rx_segs=$rx6 tcp6_tx_segs=$tx6 tcp6_tso_skipped=$(counter tcp6_tso_skipped)"
else
	fail "counters" "tcp6_rx_segs=$rx6 tcp6_tx_segs=$tx6: $(grep -c . "$log") log lines"
fi

# bsd_ws: the kernel serves. IPv6 back on at both ends (DAD off, so the
# addresses are usable at once), one address of each family at each end.
setup_kernel() {
	ip netns exec "$NS_S" sysctl -qw "net.ipv6.conf.$IF_S.accept_dad=0" &&
		ip netns exec "$NS_S" sysctl -qw "net.ipv6.conf.$IF_S.disable_ipv6=0" &&
		ip netns exec "$NS_C" sysctl -qw "net.ipv6.conf.$IF_C.disable_ipv6=0" &&
		ip -n "$NS_S" addr add "$SRV_IP/24" dev "$IF_S" &&
		ip -n "$NS_S" addr add "$SRV_IP6/64" dev "$IF_S" nodad &&
		ip -n "$NS_C" addr add "$CLI_IP/24" dev "$IF_C" &&
		ip -n "$NS_C" addr add "$CLI_IP6/64" dev "$IF_C" nodad
}
if ! setup_kernel 2>"$tmp/setup2.err"; then
	fail "kernel addresses" "$(head -1 "$tmp/setup2.err")"
	exit 1
fi
# One address a family: a second IPv4 one is refused in one line.
"$BSD" --root "$www" --addr "$SRV_IP" --addr 198.18.0.3 >"$tmp/bsd2.log" 2>&1 </dev/null
brc=$?
if [ "$brc" = 2 ] && grep -q 'one per family' "$tmp/bsd2.log"; then
	pass "bsd_ws refuses two IPv4 --addr"
else
	fail "bsd_ws two IPv4 --addr" "exit $brc: $(head -c 200 "$tmp/bsd2.log")"
fi
log=$tmp/bsd.log
ip netns exec "$NS_S" "$BSD" --root "$www" --addr "$SRV_IP" --addr "$SRV_IP6" --port 80 --workers 2 \
	>"$log" 2>&1 </dev/null &
srv_pid=$!
started=0
for _ in $(seq 50); do
	grep -q '^listening on' "$log" && started=1 && break
	kill -0 "$srv_pid" 2>/dev/null || break
	sleep 0.2
done
want="listening on $SRV_IP:80 and [$SRV_IP6]:80 with 2 workers"
if [ "$started" = 1 ] && grep -qF "$want" "$log"; then
	pass "bsd_ws: $want"
else
	fail "bsd_ws start" "$(tail -3 "$log" | tr '\n' ' ')"
	exit 1
fi
bad=0
for p in "${pages[@]}"; do
	if ! fetch "http://[$SRV_IP6]/$p" "$www/$p" -6; then
		bad=$((bad + 1))
		echo "  bsd_ws $p: $(stat -c %s "$tmp/got" 2>/dev/null || echo 0) bytes received of $(stat -c %s "$www/$p")"
	fi
done
if [ "$bad" = 0 ]; then
	pass "curl -6 http://[$SRV_IP6]/ from bsd_ws: ${#pages[@]} pages (1 B to 1.1 MB), every byte"
else
	fail "bsd_ws pages over IPv6" "$bad of ${#pages[@]} fetches failed or differ"
fi
if fetch "http://$SRV_IP/p300000.bin" "$www/p300000.bin" -4; then
	pass "bsd_ws over IPv4 beside it: 300 KB, every byte"
else
	fail "bsd_ws IPv4" "p300000.bin over IPv4 failed or differs"
fi
nreq=$((${#pages[@]} + 1))
if stop_server && [ "${srv_rc:-1}" = 0 ] && grep -q "^stopped by SIGINT: $nreq requests" "$log"; then
	pass "bsd_ws clean stop: $nreq requests"
else
	fail "bsd_ws stop" "rc ${srv_rc:-killed}: $(tail -2 "$log" | tr '\n' ' ')"
fi

[ "$fails" = 0 ]
