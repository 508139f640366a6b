# Reliability rig helpers, sourced by run_reliability.sh: network namespaces
# (unique names, 198.18.0.0/15 and 2001:2::/48 only, removed by a trap), minimal_ws on
# DPDK net_af_packet, its counters (printed at exit, or live through DPDK
# telemetry) and its resident memory. Functions print nothing unless asked.
# shellcheck shell=bash

rel_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rel_top=$(cd "$rel_here/../.." && pwd)
REL_BIN=${REL_BIN:-$rel_top/${O:-build}/rel/apps/minimal_ws}
# Scapy is Debian's python3-scapy: the system interpreter, not a pyenv one.
REL_PY=${REL_PY:-/usr/bin/python3}
rel_id=$$
NS_S=usnrs$rel_id # server (direct link)
NS_C=usnrc$rel_id # clients and attacker
NS_F=usnrf$rel_id # fault injector (userspace bridge, when netem is absent)
NS_FS=usnrt$rel_id # server behind the faulty link
IF_S=vrs$rel_id; IF_C=vrc$rel_id
IF_FS=vrt$rel_id; IF_FB1=vrb$rel_id; IF_FB2=vrd$rel_id; IF_FC=vre$rel_id
SRV_IP=198.18.0.1; CLI_IP=198.18.0.2; ATK_IP=198.18.0.3 # ATK_IP: raw (Scapy/hping3) source
FSRV_IP=198.18.1.1; FCLI_IP=198.18.1.2
# IPv6 (stage v6 only, 2001:2::/48, RFC 5180): the server's second --ip and
# the raw (Scapy) source; the client kernel's IPv6 stays off.
SRV_IP6=2001:2::1; ATK_IP6=2001:2::3
PORT=80
rel_work=$(mktemp -d /tmp/usn_rel.XXXXXX)
ROOT=$rel_work/root
fails=0
srv_pid=""; srv_log=""; srv_prefix=""
bridge_pid=""
rel_bg_pids=""

pass() { echo "PASS reliability: $1"; }
fail() { echo "FAIL reliability: $1${2:+: $2}"; fails=$((fails + 1)); }
note() { echo "# $*"; }

rel_cleanup() {
	local p
	for p in $rel_bg_pids $bridge_pid; do
		kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null
	done
	rel_server_stop quiet
	for p in $rel_bg_pids $bridge_pid; do
		kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
	done
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_F" 2>/dev/null
	ip netns del "$NS_FS" 2>/dev/null
	# DPDK runtime directories of the servers this run started.
	[ -n "${rel_id:-}" ] && rm -rf /var/run/dpdk/usnrel"$rel_id"*
	rm -rf "$rel_work"
}

# A small corpus: an index, pages from 20 B to 1.3 MB, a nested directory.
rel_corpus() {
	mkdir -p "$ROOT/dir/sub"
	printf '<!doctype html><title>home</title><p>index</p>\n' >"$ROOT/index.html"
	printf '<p>dir index</p>\n' >"$ROOT/dir/index.html"
	head -c 70000 /dev/urandom | base64 >"$ROOT/dir/page1.html"
	printf 'body { color: black; }\n' >"$ROOT/style.css"
	head -c 9000 /dev/urandom | base64 >"$ROOT/dir/page2.html"
	head -c 300000 /dev/urandom >"$ROOT/mid.bin"
	head -c 1300000 /dev/urandom >"$ROOT/big.bin"
	head -c 3500 /dev/urandom >"$ROOT/dir/sub/small.png"
}

# Direct link: client namespace <-> server namespace. The client owns
# CLI_IP (normal sockets) and ATK_IP (raw frames). The kernel would answer
# the server's SYN-ACKs to ATK_IP with RSTs and tear down every Scapy or
# hping3 handshake, so an nftables rule drops RSTs from ATK_IP only
# (nothing else is filtered); it goes away with the namespace.
rel_topology() {
	ip netns add "$NS_S" && ip netns add "$NS_C" || return 1
	ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C" || return 1
	ip -n "$NS_S" link set lo up && ip -n "$NS_C" link set lo up
	ip -n "$NS_S" link set "$IF_S" up && ip -n "$NS_C" link set "$IF_C" up
	ip -n "$NS_C" addr add "$CLI_IP/24" dev "$IF_C"
	ip -n "$NS_C" addr add "$ATK_IP/24" dev "$IF_C"
	# frames leave with full checksums (the stack checks them)
	ip netns exec "$NS_C" ethtool -K "$IF_C" tx off >/dev/null 2>&1
	ip netns exec "$NS_S" ethtool -K "$IF_S" tx off >/dev/null 2>&1
	ip netns exec "$NS_S" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec "$NS_C" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec "$NS_C" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
	ip netns exec "$NS_C" sysctl -qw net.ipv4.tcp_tw_reuse=1
	ip netns exec "$NS_C" nft -f - <<EOF || return 1
table inet usnrel {
	chain out {
		type filter hook output priority 0; policy accept;
		ip saddr $ATK_IP tcp flags & rst == rst drop
	}
}
EOF
}

# Faulty link: client namespace (FCLI_IP) <-> FSRV_IP's server namespace.
# With sch_netem: a plain veth and netem on both ends' egress. Without it
# (the kernel of this machine has none): a userspace netem, netem_bridge.py,
# in a namespace between two veth pairs. Sets rel_fault_kind.
# Usage: rel_fault_topology "NETEM ARGS" SEED
rel_fault_topology() {
	local nargs=$1 seed=$2
	ip netns add "$NS_FS" || return 1
	ip -n "$NS_FS" link set lo up
	ip netns exec "$NS_FS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	if [ -z "${REL_NO_NETEM:-}" ] && rel_have_netem; then
		ip link add "$IF_FS" netns "$NS_FS" type veth peer name "$IF_FC" netns "$NS_C" || return 1
		# shellcheck disable=SC2086
		ip netns exec "$NS_C" tc qdisc add dev "$IF_FC" root netem $nargs || return 1
		# shellcheck disable=SC2086
		ip netns exec "$NS_FS" tc qdisc add dev "$IF_FS" root netem $nargs || return 1
		rel_fault_kind="tc netem ($nargs) on both ends"
	else
		ip netns add "$NS_F" || return 1
		ip link add "$IF_FS" netns "$NS_FS" type veth peer name "$IF_FB1" netns "$NS_F" || return 1
		ip link add "$IF_FB2" netns "$NS_F" type veth peer name "$IF_FC" netns "$NS_C" || return 1
		local i
		for i in "$IF_FB1" "$IF_FB2"; do
			ip -n "$NS_F" link set "$i" up
			# one frame per read: no GRO super-frames reach the bridge
			ip netns exec "$NS_F" ethtool -K "$i" gro off gso off tso off tx off rx off >/dev/null 2>&1
		done
		ip netns exec "$NS_F" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
		# shellcheck disable=SC2086
		ip netns exec "$NS_F" timeout 900 "$REL_PY" "$rel_here/netem_bridge.py" --a "$IF_FB1" --b "$IF_FB2" \
			--seed "$seed" $nargs >"$rel_work/bridge.log" 2>&1 &
		bridge_pid=$!
		rel_fault_kind="userspace netem (netem_bridge.py $nargs, seed $seed) on both directions: this kernel has no sch_netem"
	fi
	ip -n "$NS_FS" link set "$IF_FS" up
	ip -n "$NS_C" link set "$IF_FC" up
	ip -n "$NS_C" addr add "$FCLI_IP/24" dev "$IF_FC"
	ip netns exec "$NS_C" ethtool -K "$IF_FC" tx off gso off tso off >/dev/null 2>&1
	ip netns exec "$NS_FS" ethtool -K "$IF_FS" tx off >/dev/null 2>&1
}

rel_have_netem() {
	local n=usnrn$rel_id ok=1
	ip netns add "$n" 2>/dev/null || return 1
	ip -n "$n" link add a type veth peer name b 2>/dev/null &&
		ip netns exec "$n" tc qdisc add dev a root netem delay 1ms 2>/dev/null && ok=0
	ip netns del "$n" 2>/dev/null
	return $ok
}

# rel_server_start NS IFACE CIDR TAG [minimal_ws options...]: starts
# minimal_ws (one worker, lcore 0, no hugepages) and waits until a client in
# NS_C connects (ARP included). Sets srv_pid, srv_log, srv_prefix (the EAL
# file prefix, for telemetry).
rel_server_start() {
	local ns=$1 ifc=$2 cidr=$3 tag=$4 i
	shift 4
	srv_log=$rel_work/server_$tag.log
	srv_prefix=usnrel${rel_id}$tag
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
	ip netns exec "$ns" "$REL_BIN" --no-huge -m 512 --no-pci --file-prefix "$srv_prefix" \
		--vdev="net_af_packet0,iface=$ifc" -l 0 -- --root "$ROOT" --ip "$cidr" --port "$PORT" \
		--workers 1 --idle-backoff-us 100 "$@" >"$srv_log" 2>&1 &
	srv_pid=$!
	for i in $(seq 300); do
		grep -q '^listening on' "$srv_log" 2>/dev/null && break
		kill -0 "$srv_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	grep -q '^listening on' "$srv_log" || return 1
	ip netns exec "$NS_C" "$REL_PY" - "${cidr%/*}" "$PORT" <<'EOF'
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

# rel_server_stop [quiet]: SIGINT, wait up to 10 s, then SIGKILL. Returns 0
# on a clean exit with status 0. Leaves srv_log for rel_stats.
rel_server_stop() {
	local i rc
	[ -n "$srv_pid" ] || return 0
	kill -INT "$srv_pid" 2>/dev/null
	for i in $(seq 100); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$srv_pid" 2>/dev/null; then
		kill -KILL "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null
		srv_pid=""
		[ "${1:-}" = quiet ] || fail "server stops on SIGINT" "still running after 10 s"
		return 1
	fi
	wait "$srv_pid"; rc=$?
	srv_pid=""
	[ "$rc" = 0 ]
}

# rel_stats LOG: the counters minimal_ws printed at exit, one "name value"
# per line: the stack's (summed over workers; the backend prints only the
# non-zero ones) and mws's per-worker line as mws_requests, mws_conns,
# mws_closed_ok, mws_closed_bad, mws_timed_out; then "_stack_lines N" and
# "_mws_lines N", how many of each line it found (rel_stat needs them).
rel_stats() {
	awk '
	/^worker [0-9]+ \(lcore/ { nstack++; for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[2] != "") s[kv[1]] += kv[2] } }
	/^worker [0-9]+: [0-9]+ requests/ {
		nmws++
		line = $0; gsub(/[(),:]/, " ", line); n = split(line, t, " ")
		for (i = 2; i <= n; i++) {
			if (t[i] == "requests") s["mws_requests"] += t[i - 1]
			if (t[i] == "connections") s["mws_conns"] += t[i - 1]
			if (t[i] == "closed") s["mws_closed_ok"] += t[i - 1]
			if (t[i] == "reset/timed") s["mws_closed_bad"] += t[i - 1]
			if (t[i] == "timed" && t[i - 1] ~ /^[0-9]+$/) s["mws_timed_out"] += t[i - 1]
		}
	}
	END { for (k in s) print k, s[k]; print "_stack_lines", nstack + 0; print "_mws_lines", nmws + 0 }' "$1"
}

# rel_stat FILE NAME: one counter from rel_stats or rel_tel output. A
# counter that is not there is missing, not 0: rel_stat then prints nothing
# on stdout, says so on stderr and fails. The one exception: a stack
# counter absent from rel_stats output that did find the stack's lines is 0
# (the backend omits zeros), if telemetry has shown it is a real counter.
rel_stat() {
	local v
	v=$(awk -v k="$2" '$1 == k { v = $2; f = 1 } END { if (f) print v }' "$1" 2>/dev/null)
	if [ -z "$v" ] && [[ $2 != mws_* ]] && grep -q '^_stack_lines [1-9]' "$1" 2>/dev/null &&
		grep -qx -- "$2" "$rel_work/counter_names" 2>/dev/null; then
		v=0
	fi
	if ! [[ $v =~ ^[0-9]+$ ]]; then
		echo "counter $2 missing from $(basename "$1")" >&2
		return 1
	fi
	echo "$v"
}

# rel_stats_into FILE VAR=NAME...: sets each VAR (the caller's) to
# rel_stat FILE NAME; fails, with rel_missing saying which, when any is
# missing. E.g. rel_stats_into "$f" po=tcp_passive_opens cl=tcp_closed
rel_stats_into() {
	local _rs_f=$1 _rs_pair _rs_v
	shift
	rel_missing=""
	for _rs_pair in "$@"; do
		_rs_v=$(rel_stat "$_rs_f" "${_rs_pair#*=}" 2>/dev/null) || rel_missing="$rel_missing ${_rs_pair#*=}"
		printf -v "${_rs_pair%%=*}" '%s' "$_rs_v"
	done
	[ -z "$rel_missing" ] && return 0
	rel_missing="missing from $(basename "$_rs_f"):$rel_missing"
	return 1
}

# rel_tel: the live counters (DPDK telemetry /usnet/stats), "name value"
# per line, on stdout; fails when telemetry gave nothing. Remembers the
# counter names in $rel_work/counter_names (for rel_stat).
rel_tel() {
	local out
	out=$(echo /usnet/stats | timeout 20 dpdk-telemetry.py -f "$srv_prefix" 2>/dev/null |
		"$REL_PY" -c '
import json, sys
for l in sys.stdin:
    l = l.strip()
    if l.startswith("{") and "/usnet/stats" in l:
        for k, v in json.loads(l)["/usnet/stats"].items():
            print(k, v)')
	[ -n "$out" ] || return 1
	printf '%s\n' "$out"
	[ -s "$rel_work/counter_names" ] || awk '{ print $1 }' <<<"$out" >"$rel_work/counter_names"
}

# rel_rss [PID]: resident set of the server, kB.
rel_rss() {
	awk '/^VmRSS:/ { print $2 }' "/proc/${1:-$srv_pid}/status" 2>/dev/null
}

# rel_bg CMD...: runs CMD in the background, remembered for cleanup.
rel_bg() {
	"$@" &
	rel_bg_pids="$rel_bg_pids $!"
	rel_last_bg=$!
}
