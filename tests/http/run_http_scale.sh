#!/usr/bin/env bash
# Rig suite: minimal_ws at 8,000 concurrent connections. wrk in a client
# network namespace opens 8,000 connections at once, one request each for
# a 16 KB page (Connection: close), for a few seconds, against minimal_ws at
# its default --max-conns on the server end of a veth pair; every request
# must succeed: no socket error (connect, read, write, timeout), only 200s,
# and the server must have accepted every connection without running out
# of TCBs. It also reports the server's memory: VmRSS at start, the most
# during the run, and the growth per concurrent connection (at most 2 KB:
# the tables are allocated and written at start, so serving connections
# must not grow the process).
#
# Ports: DPDK net_af_packet (no hugepages, -m 512) when minimal_ws has
# DPDK, then the Linux packet port (USN_SCALE_PORTS="dpdk pport" chooses).
# USN_SCALE_CONNS (8000) and USN_SCALE_SECONDS (5) size the run;
# USN_SCALE_SERVER_ARGS adds server flags (--max-conns 4096 shows the
# counters check fail). wrk's per-request timeout is 30 s: latency at 8,000
# connections is the machine's speed (connections / requests per second),
# which this suite does not judge; a timeout here means a request was lost.
# Prints PASS/FAIL lines; a missing binary or tool, an open-file limit or a
# port range too small for the connections, or a server that does not start
# is a FAIL; the only SKIP is not being root (exit 77).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=$top/${O:-build}/rel/apps/minimal_ws
conns=${USN_SCALE_CONNS:-8000}
secs=${USN_SCALE_SECONDS:-5}
id=$$
ns_s=usnss$id; ns_c=usnsc$id
if_s=vss$id; if_c=vsc$id
addr_s=198.18.0.1; addr_c=198.18.0.2
work=$(mktemp -d /tmp/usn_scale.XXXXXX)
server_pid=""
fails=0
name=minimal_ws-scale

pass() { echo "PASS $name: $1"; }
fail() { echo "FAIL $name: $1${2:+: $2}"; fails=$((fails + 1)); }

stop_pid() {
	local p=$1
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
	kill -INT "$p" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null
	return 1
}

cleanup() {
	stop_pid "$server_pid"
	ip netns del "$ns_s" 2>/dev/null
	ip netns del "$ns_c" 2>/dev/null
	rm -rf "$work" "/var/run/dpdk/usnscale$id"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ "$(id -u)" != 0 ]; then
	echo "SKIP $name: needs root (network namespaces)"
	exit 77
fi
if [ ! -x "$bin" ]; then
	fail "minimal_ws built" "$bin missing (make)"
	exit 1
fi
if ! command -v wrk >/dev/null; then
	fail "wrk installed" "no wrk on PATH (apt-get install wrk)"
	exit 1
fi
ports=${USN_SCALE_PORTS:-}
if [ -z "$ports" ]; then
	ports=pport
	"$bin" --help | grep -q '^port: EAL options' && ports="dpdk pport"
fi
# wrk holds one descriptor per connection, and a few of its own.
need=$((conns + 256))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
	fail "open-file limit" "the hard limit $hard is below the $need descriptors $conns connections need (raise it: ulimit -Hn, or LimitNOFILE)"
	exit 1
fi

mkdir -p "$work/root"
head -c 16384 /dev/urandom > "$work/root/page16k.bin"
ip netns add "$ns_s" || { fail "setup" "ip netns add"; exit 1; }
ip netns add "$ns_c" || { fail "setup" "ip netns add"; exit 1; }
ip -n "$ns_s" link set lo up
ip -n "$ns_c" link set lo up
ip netns exec "$ns_s" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
# The client's ports: 8,000 at once, and those of connections still closing.
ip netns exec "$ns_c" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
ip netns exec "$ns_c" sysctl -qw net.ipv4.tcp_tw_reuse=1
range=$(ip netns exec "$ns_c" cat /proc/sys/net/ipv4/ip_local_port_range | awk '{print $2 - $1 + 1}')
if [ "$range" -lt $((conns * 2)) ]; then
	fail "client port range" "$range ports for $conns connections"
	exit 1
fi

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# The sum over the workers of a counter minimal_ws printed at exit.
counter() { grep -oE "(^| )$2=[0-9]+" "$1" | awk -F= '{s += $2} END {print s + 0}'; }

# start_server dpdk|pport LOG [FLAGS...]: minimal_ws on the veth, ready
# when it accepts a connection; its pid in server_pid.
start_server() {
	local kind=$1 log=$2 cmd
	shift 2
	if [ "$kind" = dpdk ]; then
		cmd=("$bin" --no-huge -m 512 --no-pci --file-prefix "usnscale$id" --vdev="net_af_packet0,iface=$if_s" -l 0 --)
	else
		cmd=("$bin" --iface "$if_s")
	fi
	cmd+=(--root "$work/root" --ip "$addr_s/24" --idle-backoff-us 100)
	# shellcheck disable=SC2206 # several words on purpose
	[ -n "${USN_SCALE_SERVER_ARGS:-}" ] && cmd+=(${USN_SCALE_SERVER_ARGS})
	cmd+=("$@")
	ip netns exec "$ns_s" "${cmd[@]}" > "$log" 2>&1 &
	server_pid=$!
	for _ in $(seq 300); do
		grep -q '^listening on' "$log" 2>/dev/null && break
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q '^listening on' "$log" || return 1
	ip netns exec "$ns_c" python3 - "$addr_s" <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection((sys.argv[1], 80), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

# run_port dpdk|pport: a fresh veth, the server, wrk, the checks.
run_port() {
	local kind=$1 log=$work/server-$1.log out=$work/wrk-$1.out
	name=minimal_ws-scale-$kind
	ip -n "$ns_s" link del "$if_s" 2>/dev/null
	ip link add "$if_s" netns "$ns_s" type veth peer name "$if_c" netns "$ns_c" || { fail "setup" "veth"; return; }
	ip -n "$ns_s" link set "$if_s" up
	ip -n "$ns_c" link set "$if_c" up
	ip -n "$ns_c" addr add "$addr_c/24" dev "$if_c"
	if [ "$kind" = dpdk ]; then
		# net_af_packet hands the kernel's frames as they are: complete sums.
		ip netns exec "$ns_c" ethtool -K "$if_c" tx off >/dev/null 2>&1
		ip netns exec "$ns_s" ethtool -K "$if_s" tx off >/dev/null 2>&1
	fi

	# What a connection slot costs: VmRSS at start with 4,096 slots and
	# with the default (65,536), everything else alike.
	local rss_small="" slots0=4096 slots
	if start_server "$kind" "$work/small-$kind.log" --max-conns $slots0; then
		rss_small=$(rss_kb "$server_pid")
		stop_pid "$server_pid"
		wait "$server_pid"
		server_pid=""
	else
		fail "server starts with --max-conns $slots0" "$(tail -3 "$work/small-$kind.log" | tr '\n' ' ')"
		stop_pid "$server_pid"
		server_pid=""
	fi

	if ! start_server "$kind" "$log"; then
		fail "server starts" "$(tail -3 "$log" | tr '\n' ' ')"
		stop_pid "$server_pid"
		server_pid=""
		return
	fi
	pass "server starts ($(grep -m1 '^listening on' "$log"))"
	sleep 1
	local rss0 rss_max r rc reqs summary wrk_pid
	rss0=$(rss_kb "$server_pid")
	slots=$(sed -nE 's/.*--max-conns[ =]([0-9]+).*/\1/p' <<<"${USN_SCALE_SERVER_ARGS:-}")
	slots=${slots:-65536}
	if [ -n "$rss_small" ] && [ -n "$rss0" ] && [ "$slots" -gt "$slots0" ]; then
		local slot=$(((rss0 - rss_small) * 1024 / (slots - slots0)))
		if [ "$slot" -le 2048 ]; then
			pass "memory: a connection slot costs $slot bytes (VmRSS at start $rss_small kB with $slots0 slots, $rss0 kB with $slots: at most 2048)"
		else
			fail "memory per connection slot" "$slot bytes (VmRSS $rss_small kB with $slots0 slots, $rss0 kB with $slots)"
		fi
	fi

	# wrk: every connection at once, one request each, bounded in time
	ip netns exec "$ns_c" bash -c "ulimit -n $need && exec timeout $((secs + 60)) wrk -t 2 -c $conns -d ${secs}s \
		--timeout 30s -H 'Connection: close' http://$addr_s/page16k.bin" > "$out" 2>&1 &
	wrk_pid=$!
	rss_max=$rss0
	while kill -0 "$wrk_pid" 2>/dev/null; do
		r=$(rss_kb "$server_pid")
		[ -n "$r" ] && [ -n "$rss_max" ] && [ "$r" -gt "$rss_max" ] && rss_max=$r
		sleep 0.2
	done
	wait "$wrk_pid"; rc=$?
	reqs=$(awk '/requests in/ {print $1}' "$out")
	summary=$(grep -E 'requests in|Requests/sec|Socket errors|Non-2xx' "$out" | tr -s ' ' | tr '\n' ';')
	if [ "$rc" = 0 ] && [ -n "$reqs" ] && [ "$reqs" -gt 0 ] && ! grep -q 'Socket errors' "$out" \
		&& ! grep -q 'Non-2xx' "$out"; then
		pass "wrk -c $conns Connection: close, 16 KB page, ${secs}s: 0 socket errors, only 200s ($summary)"
	else
		fail "wrk -c $conns Connection: close, 16 KB page, ${secs}s" "exit $rc; $summary $(tail -2 "$out" | tr '\n' ' ')"
	fi

	# memory: the tables were written at start
	if [ -n "$rss0" ] && [ -n "$rss_max" ]; then
		local per=$(((rss_max - rss0) * 1024 / conns))
		if [ "$per" -le 2048 ]; then
			pass "memory: VmRSS $rss0 kB at start, at most $rss_max kB with $conns connections: $per bytes per connection (at most 2048)"
		else
			fail "memory per connection" "VmRSS $rss0 kB at start, $rss_max kB with $conns connections: $per bytes each (more than 2048)"
		fi
	else
		fail "memory" "no VmRSS for the server (pid $server_pid)"
	fi

	# stop: the stack's counters say every connection found a TCB
	if ! stop_pid "$server_pid"; then
		fail "clean stop" "still running 10 s after SIGINT"
	fi
	local src po pe cp
	wait "$server_pid"; src=$?
	server_pid=""
	if [ "$src" = 0 ] && grep -q '^stopped:' "$log"; then
		po=$(counter "$log" tcp_passive_opens) pe=$(counter "$log" tcp_pool_empty)
		cp=$(counter "$log" tcp_syncookies_pool_full)
		if [ "$po" -ge "$conns" ] && [ "$pe" = 0 ] && [ "$cp" = 0 ]; then
			pass "counters: $po connections accepted (wrk held $conns), tcp_pool_empty 0, tcp_syncookies_pool_full 0 (cookies past the SYN backlog: $(counter "$log" tcp_syncookies_backlog_full))"
		else
			fail "counters" "tcp_passive_opens $po (wrk held $conns), tcp_pool_empty $pe, tcp_syncookies_pool_full $cp"
		fi
	else
		fail "clean stop" "exit $src: $(tail -2 "$log" | tr '\n' ' ')"
	fi
}

for kind in $ports; do
	case $kind in
	dpdk | pport) run_port "$kind" ;;
	*) fail "USN_SCALE_PORTS" "'$kind' is neither dpdk nor pport" ;;
	esac
done
[ "$fails" = 0 ]
