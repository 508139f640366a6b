#!/usr/bin/env bash
# Rig suite: minimal_ws's packet capture (--pcap) on DPDK net_af_packet at
# the server end of a veth pair (namespaces of its own, 198.18.0.0/15,
# removed by a trap). During HTTP fetches from the kernel on the other end
# it writes a pcapng file; the distribution's tcpdump must read it and find
# the handshake, the request and the response with every checksum correct
# (tcpdump -vv verifies them), and tests/rig/pcapng_check.py, a second
# reader, checks the file's structure (one interface per worker, the
# directions, a statistics block each), the sums again and a whole
# exchange. Then two workers, the size limit (the capture stops, says so,
# and the file stays within it), and the refusals: --pcap on the Linux
# packet port (one line naming tcpdump, exit 2), a file that cannot be
# created, bad values.
# Prints PASS/FAIL lines; exits 1 on a failure, 77 after a SKIP line when it
# cannot run (not root, no DPDK build, no tcpdump).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=$top/${O:-build}/rel
bin=$B/apps/minimal_ws
name=pcap
id=$$
ns_s=usnps$id ns_c=usnpc$id if_s=vps$id if_c=vpc$id
addr_s=198.18.0.1 addr_c=198.18.0.2
work=$(mktemp -d /tmp/usn_pcap.XXXXXX)
pid=""
fails=0

pass() { echo "PASS $name: $1"; }
fail() { echo "FAIL $name: $1${2:+: $2}"; fails=$((fails + 1)); }

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -INT "$pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	fi
	ip netns del "$ns_s" 2>/dev/null
	ip netns del "$ns_c" 2>/dev/null
	rm -rf "$work" /var/run/dpdk/usnpcap"$id"*
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ "$(id -u)" != 0 ]; then
	echo "SKIP $name: needs root (network namespaces, DPDK)"
	exit 77
fi
if [ ! -x "$bin" ] || [ ! -e "$B/libusnet_dpdk.a" ]; then
	echo "SKIP $name: $bin not built with DPDK (--pcap is a DPDK port's)"
	exit 77
fi
if ! command -v tcpdump >/dev/null; then
	echo "SKIP $name: tcpdump not installed (tests/deps.sh installs it)"
	exit 77
fi

root=$work/root
mkdir -p "$root"
printf '<!doctype html><title>capture</title><p>hello</p>\n' >"$root/index.html"
head -c 70000 /dev/urandom | base64 >"$root/page.html"
head -c 3000000 /dev/urandom >"$root/big.bin"

ip netns add "$ns_s" && ip netns add "$ns_c" || { fail setup "ip netns add"; exit 1; }
ip link add "$if_s" netns "$ns_s" type veth peer name "$if_c" netns "$ns_c" || { fail setup veth; exit 1; }
ip -n "$ns_s" link set "$if_s" up
ip -n "$ns_c" link set "$if_c" up
ip -n "$ns_c" link set lo up
ip -n "$ns_c" addr add "$addr_c/24" dev "$if_c"
ip netns exec "$ns_s" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
# The kernel must send complete checksums: a capture shows frames as they
# are, and net_af_packet passes partial ones through.
ip netns exec "$ns_c" ethtool -K "$if_c" tx off >/dev/null 2>&1

# start LOG WORKERS ARGS...: minimal_ws on DPDK with WORKERS queue pairs.
start() {
	local log=$1 w=$2 i
	shift 2
	ip netns exec "$ns_s" "$bin" --no-huge -m 512 --no-pci --file-prefix "usnpcap$id" \
		--vdev="net_af_packet0,iface=$if_s,qpairs=$w" -l "0-$((w - 1))" -- \
		--root "$root" --ip "$addr_s/24" --workers "$w" --idle-backoff-us 100 "$@" >"$log" 2>&1 &
	pid=$!
	for i in $(seq 150); do
		grep -q '^listening on' "$log" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

stop() {
	local i rc
	kill -INT "$pid" 2>/dev/null
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	wait "$pid"
	rc=$?
	pid=""
	return $rc
}

# fetch PATH...: one connection each from the client namespace, bodies
# checked against the files; prints the failures.
fetch() {
	ip netns exec "$ns_c" python3 - "$addr_s" "$root" "$@" <<'EOF'
import socket, sys, time
host, root, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
for p in paths:
    want = open(root + p, "rb").read()
    for attempt in range(50):  # the stack may still be resolving ARP
        try:
            s = socket.create_connection((host, 80), timeout=5)
            break
        except OSError:
            time.sleep(0.1)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % p).encode())
    d = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        d += b
    head, _, body = d.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") or body != want:
        print("bad answer for %s: %r, %d body bytes" % (p, head[:40], len(body)))
EOF
}

# ---- one worker: an HTTP fetch captured ----
cap=$work/one.pcapng
if start "$work/one.log" 1 --pcap "$cap"; then
	pass "minimal_ws starts with --pcap ($(grep -m1 '^capturing' "$work/one.log"))"
	out=$(fetch /index.html /page.html)
	[ -z "$out" ] && pass "fetches while capturing: bodies intact" || fail "fetches while capturing" "$out"
	if stop; then pass "clean stop"; else fail "clean stop" "exit $?"; fi
	if grep -qE "^capture $cap: [1-9][0-9]* packets written" "$work/one.log"; then
		pass "exit summary: $(grep -m1 "^capture $cap" "$work/one.log")"
	else
		fail "exit summary" "$(grep -m1 '^capture' "$work/one.log")"
	fi
	# The distribution's reader: tcpdump -vv checks IPv4 and TCP sums.
	if tcpdump -r "$cap" -nn -vv -A >"$work/td.txt" 2>"$work/td.err"; then
		pass "tcpdump -r reads it ($(head -1 "$work/td.err"))"
	else
		fail "tcpdump -r reads it" "$(head -3 "$work/td.err" | tr '\n' ' ')"
	fi
	c=$(tr '\n' ' ' <"$work/td.txt")
	syn=$(grep -cE "$addr_c\.[0-9]+ > $addr_s\.80: Flags \[S\]," "$work/td.txt")
	synack=$(grep -cE "$addr_s\.80 > $addr_c\.[0-9]+: Flags \[S\.\]," "$work/td.txt")
	ack=$(grep -cE "$addr_c\.[0-9]+ > $addr_s\.80: Flags \[\.\], cksum 0x[0-9a-f]+ \(correct\), seq 1, ack 1," "$work/td.txt")
	if [ "$syn" -ge 2 ] && [ "$synack" -ge 2 ] && [ "$ack" -ge 2 ]; then
		pass "tcpdump: the handshakes ($syn SYN, $synack SYN-ACK, $ack ACK)"
	else
		fail "tcpdump: the handshakes" "$syn SYN, $synack SYN-ACK, $ack ACK"
	fi
	grep -q "GET /index.html HTTP/1.1" <<<"$c" && grep -q "GET /page.html HTTP/1.1" <<<"$c" &&
		pass "tcpdump: both requests" || fail "tcpdump: both requests" "GET lines missing"
	[ "$(grep -c 'HTTP/1.1 200 OK' "$work/td.txt")" -ge 2 ] && grep -q '<p>hello</p>' <<<"$c" &&
		pass "tcpdump: both responses (HTTP/1.1 200 OK, the page's bytes)" ||
		fail "tcpdump: both responses" "$(grep -c 'HTTP/1.1 200' "$work/td.txt") status lines"
	good=$(grep -c '(correct)' "$work/td.txt")
	bad=$(grep -cE 'incorrect|bad cksum' "$work/td.txt")
	if [ "$bad" = 0 ] && [ "$good" -ge 60 ]; then
		pass "tcpdump: $good TCP checksums correct, none wrong"
	else
		fail "tcpdump: checksums" "$good correct, $bad wrong"
	fi
	out=$(python3 "$here/pcapng_check.py" "$cap" --workers 1 --server "$addr_s:80")
	rc=$?
	sed "s/^\(PASS\|FAIL\) /\1 $name: file: /" <<<"$out"
	[ "$rc" = 0 ] || fails=$((fails + 1))
else
	fail "minimal_ws starts with --pcap" "$(tail -3 "$work/one.log" | tr '\n' ' ')"
	stop
fi

# ---- two workers: one interface each ----
cap=$work/two.pcapng
if start "$work/two.log" 2 --pcap "$cap"; then
	out=$(fetch /index.html /page.html /index.html /page.html)
	[ -z "$out" ] && pass "two workers: fetches while capturing" || fail "two workers: fetches" "$out"
	stop || fail "two workers: clean stop" "exit $?"
	out=$(python3 "$here/pcapng_check.py" "$cap" --workers 2 --server "$addr_s:80")
	rc=$?
	sed "s/^\(PASS\|FAIL\) /\1 $name: two workers: /" <<<"$out"
	[ "$rc" = 0 ] || fails=$((fails + 1))
else
	fail "two workers: starts" "$(tail -3 "$work/two.log" | tr '\n' ' ')"
	stop
fi

# ---- the limit: the capture stops, says so, and stays within it ----
cap=$work/limit.pcapng
if start "$work/limit.log" 1 --pcap "$cap" --pcap-max-mb 1; then
	out=$(fetch /big.bin /index.html)
	[ -z "$out" ] && pass "limit: the server serves on past it" || fail "limit: serving" "$out"
	stop || fail "limit: clean stop" "exit $?"
	if grep -q "^capture $cap: reached its limit of 1048576 bytes (--pcap-max-mb); no more packets are written" \
		"$work/limit.log"; then
		pass "limit: one line says the capture stopped"
	else
		fail "limit: says so" "$(grep '^capture' "$work/limit.log" | tr '\n' ' ')"
	fi
	size=$(stat -c %s "$cap")
	out=$(python3 "$here/pcapng_check.py" "$cap" --workers 1 --max-bytes 1048576)
	rc=$?
	sed "s/^\(PASS\|FAIL\) /\1 $name: limit: /" <<<"$out"
	[ "$rc" = 0 ] || fails=$((fails + 1))
	tcpdump -r "$cap" -nn >/dev/null 2>&1 && pass "limit: tcpdump reads the $size-byte file" ||
		fail "limit: tcpdump reads it"
else
	fail "limit: starts" "$(tail -3 "$work/limit.log" | tr '\n' ' ')"
	stop
fi

# ---- refusals: one line, exit 2 ----
# expect WHAT GREP CMD...: exit 2, one line on stderr matching GREP (the
# EAL's own start-up notice about telemetry aside).
expect() {
	local what=$1 re=$2 rc
	shift 2
	"$@" >"$work/out" 2>"$work/err.all" </dev/null
	rc=$?
	grep -v '^TELEMETRY: No legacy callbacks' "$work/err.all" >"$work/err"
	if [ "$rc" = 2 ] && [ "$(wc -l <"$work/err")" = 1 ] && grep -qE -- "$re" "$work/err"; then
		pass "$what: exit 2, one line ($(head -c 160 "$work/err"))"
	else
		fail "$what" "exit $rc: $(head -c 300 "$work/err" | tr '\n' ' ')"
	fi
}
expect "--pcap on the Linux packet port names tcpdump" "--pcap is for DPDK ports.*tcpdump -i $if_s -w" \
	ip netns exec "$ns_s" "$bin" --iface "$if_s" --root "$root" --ip "$addr_s/24" --pcap "$work/x.pcapng"
expect "--pcap FILE that cannot be created" "--pcap $work/no/such/dir/x.pcapng: cannot create it" \
	ip netns exec "$ns_s" "$bin" --no-huge -m 512 --no-pci --file-prefix "usnpcap${id}b" \
	--vdev="net_af_packet0,iface=$if_s" -l 0 -- --root "$root" --ip "$addr_s/24" --pcap "$work/no/such/dir/x.pcapng"
expect "--pcap-max-mb 0" "bad --pcap-max-mb 0" "$bin" --iface lo --root "$root" --ip "$addr_s/24" --pcap-max-mb 0
expect "--pcap without a file" "option --pcap needs a value" "$bin" --iface lo --root "$root" --ip "$addr_s/24" --pcap
expect "--stats-interval 0" "bad --stats-interval 0" "$bin" --iface lo --root "$root" --ip "$addr_s/24" \
	--stats-interval 0

[ "$fails" = 0 ]
