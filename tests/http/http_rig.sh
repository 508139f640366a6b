#!/usr/bin/env bash
# HTTP rig shared by run_http_bsd.sh and run_http_minimal.sh: a server and a
# client network namespace joined by a veth pair (198.18.0.0/15, unique
# names, removed by a trap), a generated page corpus (with dotfiles, which
# the server must not serve by default), the server command given as
# arguments, then http_suite.py, a keep-alive run, and wrk.
#
# Usage: http_rig.sh [--kernel-ip|--no-kernel-ip] [--offloads] NAME -- CMD...
#   CMD words may use @ROOT@ @ADDR@ @CIDR@ @IFACE@ @PORT@; the keep-alive
#   run appends --keepalive --allow-dotfiles. --no-kernel-ip leaves the server veth without a
#   kernel address (a userspace stack owns it) and turns TX checksum offload
#   off on the client side so frames carry full checksums, unless
#   --offloads keeps the veths' offloads on (a port that takes the kernel's
#   partial sums and TSO frames, as the Linux packet port does).
# Prints "PASS name" / "FAIL name: why"; exits 1 on any failure, 77 after
# a SKIP line when it cannot run (not root).
set -u

kernel_ip=1
offloads=0
while [ $# -gt 0 ]; do
	case $1 in
	--kernel-ip) kernel_ip=1; shift ;;
	--no-kernel-ip) kernel_ip=0; shift ;;
	--offloads) offloads=1; shift ;;
	*) break ;;
	esac
done
name=${1:?name}; shift
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "FAIL $name: no server command"; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
id=$$
ns_s=usnhs$id; ns_c=usnhc$id
if_s=vhs$id; if_c=vhc$id
addr_s=198.18.0.1; addr_c=198.18.0.2; prefix=24
port=80
work=$(mktemp -d /tmp/usn_http.XXXXXX)
server_pid=""
fails=0

pass() { echo "PASS $name: $1"; }
fail() { echo "FAIL $name: $1${2:+: $2}"; fails=$((fails + 1)); }

cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -INT "$server_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$server_pid" 2>/dev/null
	fi
	ip netns del "$ns_s" 2>/dev/null
	ip netns del "$ns_c" 2>/dev/null
	# The DPDK runtime directory of a server started with --file-prefix
	# usnhttp<our pid> (run_http_minimal.sh execs this script).
	rm -rf "$work" "/var/run/dpdk/usnhttp$$"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ "$(id -u)" != 0 ]; then
	echo "SKIP $name: needs root (network namespaces)"
	exit 77
fi

# ---- corpus: a few pages, one over 1 MB, an index, a nested directory,
# dotfiles (refused unless --allow-dotfiles) ----
root=$work/root
mkdir -p "$root/dir/sub" "$root/.git"
printf '<!doctype html><title>home</title><p>index</p>\n' > "$root/index.html"
printf '<p>dir index</p>\n' > "$root/dir/index.html"
head -c 70000 /dev/urandom | base64 > "$root/dir/page1.html"
printf 'body { color: black; }\n' > "$root/style.css"
printf '{"k": [1, 2, 3]}\n' > "$root/data.json"
head -c 1300000 /dev/urandom > "$root/big.bin"
head -c 3500 /dev/urandom > "$root/dir/sub/small.png"
printf 'space in name\n' > "$root/dir/with space.txt"
printf 'SECRET=dotenv\n' > "$root/.env"
printf '[core]\n\tbare = false\n' > "$root/.git/config"
printf '<p>hidden</p>\n' > "$root/dir/.hidden.html"

# ---- namespaces ----
ip netns add "$ns_s" || { fail "setup" "ip netns add"; exit 1; }
ip netns add "$ns_c" || { fail "setup" "ip netns add"; exit 1; }
ip link add "$if_s" netns "$ns_s" type veth peer name "$if_c" netns "$ns_c" || { fail "setup" "veth"; exit 1; }
ip -n "$ns_s" link set lo up
ip -n "$ns_c" link set lo up
ip -n "$ns_s" link set "$if_s" up
ip -n "$ns_c" link set "$if_c" up
ip -n "$ns_c" addr add "$addr_c/$prefix" dev "$if_c"
if [ "$kernel_ip" = 1 ]; then
	ip -n "$ns_s" addr add "$addr_s/$prefix" dev "$if_s"
else
	if [ "$offloads" = 0 ]; then
		ip netns exec "$ns_c" ethtool -K "$if_c" tx off >/dev/null 2>&1
		ip netns exec "$ns_s" ethtool -K "$if_s" tx off >/dev/null 2>&1
	fi
	ip netns exec "$ns_s" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
fi
ip netns exec "$ns_c" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
ip netns exec "$ns_c" sysctl -qw net.ipv4.tcp_tw_reuse=1

subst() {
	local w out=()
	for w in "$@"; do
		w=${w//@ROOT@/$root}; w=${w//@ADDR@/$addr_s}; w=${w//@CIDR@/$addr_s/$prefix}
		w=${w//@IFACE@/$if_s}; w=${w//@PORT@/$port}
		out+=("$w")
	done
	printf '%s\0' "${out[@]}"
}
mapfile -d '' cmd < <(subst "$@")

wait_ready() {
	local log=$1 i
	for i in $(seq 300); do
		grep -q '^listening on' "$log" 2>/dev/null && break
		kill -0 "$server_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	grep -q '^listening on' "$log" || return 1
	# the stack may still be resolving ARP: retry a connection
	ip netns exec "$ns_c" python3 - "$addr_s" "$port" <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

start_server() {
	local log=$1; shift
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
	ip netns exec "$ns_s" "$@" > "$log" 2>&1 &
	server_pid=$!
	if wait_ready "$log"; then
		return 0
	fi
	tail -5 "$log"
	return 1
}

stop_server() {
	local log=$1 rc i
	kill -INT "$server_pid" 2>/dev/null
	for i in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$server_pid" 2>/dev/null; then
		kill -KILL "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
		server_pid=""
		fail "clean stop on SIGINT" "still running after 10 s"
		return
	fi
	wait "$server_pid"; rc=$?
	server_pid=""
	if [ "$rc" = 0 ] && grep -q '^worker 0' "$log"; then
		pass "clean stop on SIGINT with per-worker counts"
	else
		fail "clean stop on SIGINT" "exit $rc; $(tail -2 "$log" | tr '\n' ' ')"
	fi
}

# Runs http_suite.py from the client namespace, prefixing its lines with
# the suite name; a crash without a FAIL line still counts as a failure.
run_suite() {
	local out=$1 rc; shift
	ip netns exec "$ns_c" timeout 300 python3 "$here/http_suite.py" --host "$addr_s" --port "$port" \
		--root "$root" "$@" > "$out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"PASS "* | "FAIL "*) echo "${line%% *} $name: ${line#* }" ;;
		*) echo "$line" ;;
		esac
	done < "$out"
	fails=$((fails + $(grep -c '^FAIL' "$out")))
	if [ "$rc" != 0 ] && ! grep -q '^FAIL' "$out"; then
		fail "http_suite.py $*" "exit $rc"
	fi
}

# ---- flags and root errors (one line, exit 2) ----
"${cmd[@]}" --bogus-flag > "$work/bad.out" 2>&1; rc=$?
if [ "$rc" = 2 ] && [ "$(wc -l < "$work/bad.out")" = 1 ] && grep -q 'bogus-flag' "$work/bad.out"; then
	pass "bad flag: one line, exit 2"
else
	fail "bad flag: one line, exit 2" "exit $rc: $(head -c 200 "$work/bad.out")"
fi
mkdir -p "$work/empty"
mapfile -d '' badroot < <(subst "$@" | tr '\0' '\n' | sed "s|^$root\$|$work/empty|" | tr '\n' '\0')
"${badroot[@]}" > "$work/badroot.out" 2>&1; rc=$?
if [ "$rc" = 2 ] && [ "$(wc -l < "$work/badroot.out")" = 1 ] && grep -q "$work/empty" "$work/badroot.out"; then
	pass "empty root: one line naming it, exit 2"
else
	fail "empty root: one line naming it, exit 2" "exit $rc: $(head -c 200 "$work/badroot.out")"
fi

# ---- close mode (the benchmark mode) ----
log=$work/server.log
if ! start_server "$log" "${cmd[@]}"; then
	fail "server starts" "$(tail -3 "$log" | tr '\n' ' ')"
	exit 1
fi
pass "server starts ($(grep -m1 '^loaded' "$log"))"
run_suite "$work/suite.out"

# wrk: 1000 connections, one request each (Connection: close), 3 s
if command -v wrk >/dev/null; then
	ip netns exec "$ns_c" bash -c "ulimit -n 65536 2>/dev/null || ulimit -n \$(ulimit -Hn); timeout 30 wrk -t 2 -c 1000 -d 3s --timeout 5s \
		-H 'Connection: close' http://$addr_s:$port/dir/page1.html" > "$work/wrk.out" 2>&1
	rc=$?
	reqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
	if [ "$rc" = 0 ] && [ -n "$reqs" ] && [ "$reqs" -gt 0 ] && ! grep -q 'Socket errors' "$work/wrk.out" \
		&& ! grep -q 'Non-2xx' "$work/wrk.out"; then
		pass "wrk -c 1000 Connection: close: $reqs requests, no socket error, only 200s"
	else
		fail "wrk -c 1000 Connection: close" "exit $rc; $(grep -E 'requests in|Socket errors|Non-2xx' "$work/wrk.out" | tr '\n' ' ')"
	fi
else
	echo "SKIP $name: wrk not installed"
fi
# the server survived all of it
out=$(ip netns exec "$ns_c" python3 -c "
import socket
s = socket.create_connection(('$addr_s', $port), timeout=5)
s.sendall(b'GET /style.css HTTP/1.1\r\n\r\n')
d = b''
while True:
    b = s.recv(65536)
    if not b: break
    d += b
print(d.split(b'\r\n')[0].decode())" 2>&1)
if [ "$out" = "HTTP/1.1 200 OK" ]; then pass "serving after load"; else fail "serving after load" "$out"; fi
stop_server "$log"

# ---- keep-alive mode ----
log=$work/server_ka.log
if start_server "$log" "${cmd[@]}" --keepalive --allow-dotfiles; then
	run_suite "$work/suite_ka.out" --keepalive --allow-dotfiles
	stop_server "$log"
else
	fail "server starts with --keepalive --allow-dotfiles" "$(tail -3 "$log" | tr '\n' ' ')"
fi

[ "$fails" = 0 ]
