#!/bin/bash
# bench/usn_load_compare.sh: the comparisons with the project's own load
# generator. (1) The cheapest link each stack has: usn_load -> minimal_ws over
# net_memif (two processes, shared memory) beside wrk -> bsd_ws over Linux
# loopback. (2) Same client, both stacks, once per client port: usn_load over
# DPDK's net_af_xdp (else net_af_packet) on a veth against minimal_ws (DPDK on
# the other end) and against bsd_ws (the kernel on the other end); then
# usn_load over the Linux packet port (--iface: TSO, checksum offload, large
# segments received whole) against minimal_ws on the packet port and against
# bsd_ws, the veth's offloads as the kernel sets them. A ratio is computed
# only between two points of the same client port and device (see
# compare_ratios.py). Prints a table and writes JSON
# (bench/results/latest/usn_load.json when that dir exists, bench.py merges it).
#
# Needs root (namespaces, AF_XDP). Everything it makes is named with $$ and
# removed by a trap: namespaces ulc<pid>{c,s,l}, veth ul<pid>{c,s}, the memif
# socket, DPDK runtime dirs /var/run/dpdk/ulc<pid>*. Server on core 0, client
# on core 1. Every run is bounded (COMPARE_DURATION s + a timeout).
# Knobs: COMPARE_DURATION [5] COMPARE_CONNS [256] COMPARE_PAGES [bench/corpus,
# or "1k" for one 1 KiB page] COMPARE_POINTS
# [memif,loopback,veth-mws,veth-bsd,pkt-mws,pkt-bsd] COMPARE_MAX_CONNS [65536]
# (minimal_ws --max-conns) COMPARE_PKT_ARGS (more --pkt-... options for both
# programs on the packet port, e.g. --pkt-ring=v2)
# COMPARE_OUT [build/usn_load_compare.json] B [build/rel] COMPARE_KEEP=1 (keep
# the logs) COMPARE_CLIENT_ARGS (more usn_load options) COMPARE_TIMEOUT [5]
# (per-request timeout, seconds, of both clients) COMPARE_RPS [1]: steer the
# Linux server's veth receive to its core (0: the kernel's default, on the
# sending core; see rig_up) COMPARE_STRICT=1 (CI: exit 1 when a server does
# not start, a response is wrong, or a point has no result) COMPARE_MEMIF_TSO
# [1]: the memif point carries large segments whole (--usn-memif-tso at both
# ends, bsize=65535), as loopback carries 64 KB ones; 0: MSS frames.
#
# One method on every point: requests per second count the 2xx responses
# that arrived within COMPARE_TIMEOUT, in the client's own measured window
# (usn_load: first start to the stop, every body checked; wrk: its
# "duration", no body check); CPU is the busy time (steal apart) of the
# server's core (0) and the client's core (1) from /proc/stat over that same
# window (bench/cpuwin.py samples every 50 ms). Binaries older than their
# sources (`make -q`) are not measured.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${B:-build/rel}
DUR=${COMPARE_DURATION:-5}
TIMEOUT=${COMPARE_TIMEOUT:-5}
STRICT=${COMPARE_STRICT:-0}
CONNS=${COMPARE_CONNS:-256}
PAGES=${COMPARE_PAGES:-bench/corpus}
POINTS=${COMPARE_POINTS:-memif,loopback,veth-mws,veth-bsd,pkt-mws,pkt-bsd}
MAX_CONNS=${COMPARE_MAX_CONNS:-65536}
OUT=${COMPARE_OUT:-build/usn_load_compare.json}
ID=$$
NS_C=ulc${ID}c NS_S=ulc${ID}s NS_L=ulc${ID}l
IF_C=ul${ID}c IF_S=ul${ID}s
SRV_IP=198.18.0.1 CLI_IP=198.18.0.2 LO_IP=198.18.1.1
TMP=$(mktemp -d "/tmp/usn_cmp.$ID.XXXXXX")
PIDS=()
NSS=()
SAMPLER=""
PROBLEMS=() # with COMPARE_STRICT=1, any of these fails the run

log() { printf '%s\n' "$*" >&2; }

stop_pid() {
	local p=$1 i
	kill -0 "$p" 2>/dev/null || return 0
	kill -TERM "$p" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
}

cleanup() {
	local p n
	[ -n "$SAMPLER" ] && stop_pid "$SAMPLER"
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
	rm -rf /var/run/dpdk/ulc"$ID"* 2>/dev/null
	if [ "${COMPARE_KEEP:-0}" = 1 ]; then log "logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

[ "$(id -u)" = 0 ] || { log "usn_load_compare: needs root (namespaces, AF_XDP, DPDK)"; exit 2; }
# fresh BIN: BIN exists and `make -q` finds it up to date with the tree
# (B is <O>/rel or <O>/san); else says why on stderr and fails.
fresh() {
	local o kind
	[ -x "$1" ] || { log "usn_load_compare: $1 not built (make -j2 all)"; return 1; }
	kind=$(basename "$B"); o=$(dirname "$B")
	case $kind in
	rel | san) ;;
	*) log "usn_load_compare: cannot check $1 against its sources (B=$B is not <O>/rel or <O>/san)"; return 1 ;;
	esac
	make -s -q O="$o" SAN="$([ "$kind" = san ] && echo 1 || echo 0)" "$1" 2>/dev/null && return 0
	log "usn_load_compare: $1 is older than its sources (the last build failed or did not run: make all); not measured"
	return 1
}
fresh "$B/apps/usn_load" || exit 2
MWS_OK=1 BSD_OK=1
fresh "$B/apps/minimal_ws" || MWS_OK=0
fresh "$B/apps/bsd_ws" || BSD_OK=0

# The pages: the bench corpus (make bench-corpus), or one 1 KiB page.
if [ "$PAGES" = 1k ]; then
	mkdir -p "$TMP/c1k/www"
	python3 -c 'import sys; s=b"<p class=\"news\">the quick brown fox jumps over the lazy dog</p>\n"; sys.stdout.buffer.write((s*64)[:1024])' >"$TMP/c1k/www/p1k.html"
	echo "/p1k.html 1024" >"$TMP/c1k/pages.txt"
	PAGES=$TMP/c1k
fi
[ -d "$PAGES/www" ] && [ -f "$PAGES/pages.txt" ] || {
	log "usn_load_compare: no corpus at $PAGES (make bench-corpus)"
	exit 2
}
WWW=$PAGES/www
LIST=$PAGES/pages.txt

eal() { # eal CORE NAME VDEV
	echo "--no-huge -m 512 -l $1 --no-pci --no-telemetry --file-prefix ulc${ID}$2 --vdev=$3"
}

# proc_cpu PID: user+system seconds so far ("0" once it is gone).
proc_cpu() {
	awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / t }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# start_server NAME LOGFILE CMD...: background, pid in SRV_PID, waits for
# "listening on" (both servers print it).
start_server() {
	local name=$1 lf=$2 i
	shift 2
	"$@" >"$lf" 2>&1 &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	for i in $(seq 1 100); do
		grep -q "listening on" "$lf" 2>/dev/null && return 0
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	log "$name did not start: $(tail -3 "$lf" | tr '\n' ' ')"
	stop_pid "$SRV_PID"
	return 1
}

# run_client TAG CMD...: runs the client bounded and notes its measured
# window for record(): usn_load's starts when it prints "usn_load:" (just
# before its workers start; line-buffered, polled every 10 ms) and lasts its
# JSON "seconds"; wrk's ends when wrk_random.lua's done() creates
# $TMP/TAG.mark and lasts its "duration_us". The CPU sampler covers both.
run_client() {
	local tag=$1 cp i
	shift
	WRK_DONE_MARK=$TMP/$tag.mark WRK_GOOD_TIMEOUT_US=$((TIMEOUT * 1000000)) \
		timeout -s INT -k 5 $((DUR + TIMEOUT + 30)) "$@" >"$TMP/$tag.out" 2>"$TMP/$tag.err" &
	cp=$!
	PIDS+=("$cp")
	: >"$TMP/$tag.start"
	case $tag in lo*) ;; *)
		for i in $(seq 1 3000); do
			if grep -q "^usn_load:" "$TMP/$tag.out" 2>/dev/null; then
				date +%s.%N >"$TMP/$tag.start"
				break
			fi
			kill -0 "$cp" 2>/dev/null || break
			sleep 0.01
		done
		;;
	esac
	wait "$cp"
}

# record NAME LINK CLIENT SERVER VDEV CLIENT_JSON TAG NOTE [PORT]: appends
# one result line to $TMP/points.jsonl (the method: see the top of this
# file). VDEV and PORT are the client's device and port (dpdk, packet).
record() {
	python3 -B - "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$TMP" "$TIMEOUT" "${9:-dpdk}" >>"$TMP/points.jsonl" <<'EOF'
import json, os, sys
sys.path.insert(0, "bench")
import cpuwin
name, link, client, server, vdev, cjson, tag, note, tmp, timeout, port = sys.argv[1:12]
r = {"name": name, "link": link, "client": client, "server": server, "vdev": vdev or None,
     "timeout_s": float(timeout)}
if client == "usn_load":
    r["port"] = port
notes = [note] if note else []
res = t0 = t1 = None
try:
    if client == "wrk":
        w = None
        for line in open("%s/%s.out" % (tmp, tag)):
            if line.startswith("WRK_JSON "):
                w = json.loads(line[9:])
        if w is None:
            raise ValueError("wrk printed no WRK_JSON line")
        secs = w["duration_us"] / 1e6
        e = w["errors"]
        within = w["within_timeout"]
        good = max(0, within - e["status"])
        res = {"requests": good, "responses": w["requests"], "seconds": secs, "req_s": good / secs,
               "gbit_s": w["bytes"] * 8 / secs / 1e9,
               "errors": {"connect": e["connect"], "read": e["read"], "write": e["write"],
                          "late": w["requests"] - within, "status": e["status"]},
               "latency_us": {k: w["latency_us"][k] for k in ("p50", "p90", "p99", "p999", "max", "mean")},
               "hist_log2_us": [[(1 << k) if k else 0, n] for k, n in enumerate(w["latency_log2_us"]) if n],
               "body_check": "none (wrk)"}
        res["errors_total"] = sum(res["errors"].values())
        t1 = os.stat("%s/%s.mark" % (tmp, tag)).st_mtime_ns / 1e9
        t0 = t1 - secs
    else:
        res = json.load(open(cjson))
        res["body_check"] = "every response (usn_load)"
        start = open("%s/%s.start" % (tmp, tag)).read().strip()
        if not start:
            raise ValueError("usn_load's start line was not seen")
        t0 = float(start)
        t1 = t0 + res["seconds"]
except Exception as ex:
    notes.append("no client result (%s)" % ex)
    res = None
if res:
    r.update({k: res[k] for k in ("requests", "responses", "seconds", "req_s", "gbit_s", "errors_total", "errors",
                                  "latency_us", "hist_log2_us", "body_check") if k in res})
    try:
        samples = cpuwin.load("%s/cpu.samples" % tmp)
        srv = cpuwin.window(samples, t0, t1, [0])
        cli = cpuwin.window(samples, t0, t1, [1])
        r["server_cores_busy"] = srv["busy_cores"]
        r["client_cores_busy"] = cli["busy_cores"]
        r["steal_cores"] = {"server": srv["steal_cores"], "client": cli["steal_cores"]}
        cores = srv["busy_cores"] + cli["busy_cores"]
        # requests per second per busy core, both sides' cores (a
        # busy-polling DPDK process counts the share of its core it got)
        r["req_s_per_core"] = res["req_s"] / cores if cores > 0 else None
        r["req_s_per_server_core"] = res["req_s"] / srv["busy_cores"] if srv["busy_cores"] > 0 else None
    except (OSError, cpuwin.WindowError) as ex:
        notes.append("no CPU over the window (%s)" % ex)
r["note"] = "; ".join(notes) or None
print(json.dumps(r))
EOF
}

# ---------------------------------------------------------------- memif
point_memif() {
	local sock=$TMP/memif.sock name="memif: usn_load -> minimal_ws"
	log "== memif: usn_load -> minimal_ws (net_memif, shared memory), ${DUR}s, $CONNS connections"
	if [ "$MWS_OK" != 1 ]; then
		no_result "$name" "not measured: minimal_ws not built or stale"
		return
	fi
	# Large segments whole across the link (both ends libusnet), unless
	# COMPARE_MEMIF_TSO=0.
	local mdev="" mopt=""
	if [ "${COMPARE_MEMIF_TSO:-1}" = 1 ]; then
		mdev=",bsize=65535,rsize=8"
		mopt="--usn-memif-tso"
	fi
	# shellcheck disable=SC2046
	start_server minimal_ws "$TMP/memif_srv.log" taskset -c 0 "$B/apps/minimal_ws" \
		$(eal 0 s "net_memif0,role=server,socket=$sock$mdev") $mopt -- --root "$WWW" --ip $SRV_IP/24 \
		--max-conns "$MAX_CONNS" || {
		no_result "$name" "minimal_ws did not start"
		return
	}
	# shellcheck disable=SC2046
	run_client memif taskset -c 1 "$B/apps/usn_load" $(eal 1 c "net_memif0,role=client,socket=$sock$mdev") $mopt -- \
		--ip $CLI_IP/24 --server $SRV_IP --pages "$PAGES" --connections "$CONNS" --duration "$DUR" \
		--timeout "$TIMEOUT" --json "$TMP/memif.json" ${COMPARE_CLIENT_ARGS:-}
	stop_pid "$SRV_PID"
	record "$name" memif usn_load minimal_ws net_memif "$TMP/memif.json" memif ""
}

# ------------------------------------------------------------- loopback
# wrk, not usn_load: usn_load cannot use Linux loopback. On lo a DPDK port
# has the all-zero MAC, which usn_load refuses ("mac: zero, and the port
# has no address"; it has no --mac option), and lo answers no ARP (it has
# no static neighbour option either). So this point's client differs from
# memif's; the ratio says so.
LOOPBACK_WHY_WRK="usn_load cannot run on Linux loopback (lo's all-zero MAC is refused and lo answers no ARP)"
point_loopback() {
	local name="loopback: wrk -> bsd_ws"
	log "== loopback: wrk -> bsd_ws (Linux loopback in netns $NS_L), ${DUR}s, $CONNS connections"
	if [ "$BSD_OK" != 1 ]; then
		no_result "$name" "not measured: bsd_ws not built or stale"
		return
	fi
	ip netns add "$NS_L" || return
	NSS+=("$NS_L")
	ip -n "$NS_L" link set lo up
	ip -n "$NS_L" addr add $LO_IP/32 dev lo
	ip netns exec "$NS_L" sysctl -q -w net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192 \
		"net.ipv4.ip_local_port_range=1024 65535" net.ipv4.tcp_tw_reuse=1
	ulimit -n 65536 2>/dev/null
	start_server bsd_ws "$TMP/lo_srv.log" ip netns exec "$NS_L" taskset -c 0 "$B/apps/bsd_ws" \
		--root "$WWW" --addr $LO_IP --port 80 --workers 1 --cpus 0 || {
		no_result "$name" "bsd_ws did not start"
		return
	}
	# wrk's --timeout only bounds its latency record; the Lua script counts
	# the responses within $TIMEOUT s (WRK_GOOD_TIMEOUT_US, run_client).
	run_client lo ip netns exec "$NS_L" taskset -c 1 wrk -t1 -c "$CONNS" -d "${DUR}s" --timeout "$((DUR + 5))s" \
		-s bench/wrk_random.lua "http://$LO_IP:80/" -- "$LIST" 1
	stop_pid "$SRV_PID"
	ip netns del "$NS_L"
	record "$name" loopback wrk bsd_ws "" "" lo \
		"client wrk: $LOOPBACK_WHY_WRK; kernel loopback work is charged to the cores that run it"
}

# ------------------------------------------------------------------ veth
rig_up() { # rig_up KERNEL_IP(0/1) [OFFLOADS: dpdk (default) or packet]
	ip netns add "$NS_C" && NSS+=("$NS_C") || return 1
	ip netns add "$NS_S" && NSS+=("$NS_S") || return 1
	ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_S" netns "$NS_S" || return 1
	local n i
	for n in "$NS_C" "$NS_S"; do
		ip -n "$n" link set lo up
		ip netns exec "$n" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	if [ "$1" = 1 ]; then
		ip -n "$NS_S" addr add $SRV_IP/24 dev "$IF_S"
		ip netns exec "$NS_S" sysctl -q -w net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192
	fi
	# Frames the kernel sends toward a DPDK device must carry complete
	# checksums and fit the MTU (no CHECKSUM_PARTIAL, no TSO super-frames).
	# The packet port takes both (virtio-net headers), and its own large
	# segments cross the veth whole only while the sending end keeps TSO:
	# there both ends stay as the kernel sets them.
	if [ "${2:-dpdk}" = dpdk ]; then
		ip netns exec "$NS_S" ethtool -K "$IF_S" tx off tso off gso off gro off >/dev/null 2>&1
		ip netns exec "$NS_C" ethtool -K "$IF_C" tx off tso off gso off gro off >/dev/null 2>&1
	fi
	# A veth receives in the sender's context: without this, the Linux
	# server's whole receive path (IP, TCP, and the transmissions its ACK
	# processing triggers) ran in softirq on the client's core, which then
	# saturated and overflowed its AF_XDP RX ring, and Linux waited out
	# RTOs (bsd_ws about 7% busy). RPS puts that work on the server's core,
	# where a NIC's queue would. (XDP runs before RPS: with minimal_ws the
	# copy into its UMEM stays on the sender's core.)
	if [ "$1" = 1 ] && [ "${COMPARE_RPS:-1}" = 1 ]; then
		ip netns exec "$NS_S" sh -c "echo 1 > /sys/class/net/$IF_S/queues/rx-0/rps_cpus" ||
			log "RPS not available on $IF_S: the server's receive runs on the client's core"
	fi
	ip -n "$NS_C" link set "$IF_C" up
	ip -n "$NS_S" link set "$IF_S" up
	for i in $(seq 1 50); do
		ip -n "$NS_C" link show "$IF_C" | grep -q "LOWER_UP" && return 0
		sleep 0.1
	done
	return 0
}

rig_down() {
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
}

vdev_for() { # vdev_for KIND IFACE
	if [ "$1" = af_xdp ]; then
		echo "net_af_xdp0,iface=$2,start_queue=0,queue_count=1"
	else
		echo "net_af_packet0,iface=$2,qpairs=1"
	fi
}

# point_veth mws|bsd
point_veth() {
	local which=$1 kind tag note="" srv name
	if [ "$which" = mws ]; then srv=minimal_ws; else srv=bsd_ws; fi
	name="veth: usn_load -> $srv"
	if { [ "$which" = mws ] && [ "$MWS_OK" != 1 ]; } || { [ "$which" = bsd ] && [ "$BSD_OK" != 1 ]; }; then
		no_result "$name" "not measured: $srv not built or stale"
		return
	fi
	for kind in af_xdp af_packet; do
		tag=veth_${which}_$kind
		if [ "$which" = mws ]; then
			log "== veth: usn_load ($kind) -> minimal_ws ($kind), ${DUR}s, $CONNS connections"
			rig_up 0 || { log "veth rig failed"; rig_down; return; }
			# shellcheck disable=SC2046
			start_server minimal_ws "$TMP/$tag.srv.log" ip netns exec "$NS_S" taskset -c 0 \
				"$B/apps/minimal_ws" $(eal 0 s "$(vdev_for $kind "$IF_S")") -- --root "$WWW" \
				--ip $SRV_IP/24 --max-conns "$MAX_CONNS" || {
				rig_down
				note="${note:+$note; }minimal_ws did not start on $kind"
				continue
			}
		else
			log "== veth: usn_load ($kind) -> bsd_ws (Linux), ${DUR}s, $CONNS connections"
			rig_up 1 || { log "veth rig failed"; rig_down; return; }
			start_server bsd_ws "$TMP/$tag.srv.log" ip netns exec "$NS_S" taskset -c 0 "$B/apps/bsd_ws" \
				--root "$WWW" --addr $SRV_IP --port 80 --workers 1 --cpus 0 || {
				rig_down
				no_result "$name" "bsd_ws did not start"
				return
			}
		fi
		# shellcheck disable=SC2046
		run_client "$tag" ip netns exec "$NS_C" taskset -c 1 "$B/apps/usn_load" \
			$(eal 1 c "$(vdev_for $kind "$IF_C")") -- --ip $CLI_IP/24 --server $SRV_IP --pages "$PAGES" \
			--connections "$CONNS" --duration "$DUR" --timeout "$TIMEOUT" --json "$TMP/$tag.json" \
			${COMPARE_CLIENT_ARGS:-}
		stop_pid "$SRV_PID"
		rig_down
		rm -rf /var/run/dpdk/ulc"$ID"*
		if [ -s "$TMP/$tag.json" ] && python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["requests"] > 0 else 1)' "$TMP/$tag.json"; then
			record "$name" veth usn_load "$srv" "net_$kind" "$TMP/$tag.json" "$tag" "$note"
			return
		fi
		note="${note:+$note; }usn_load got no response over $kind: $(tail -2 "$TMP/$tag.err" | tr '\n' ' ')"
		log "$note"
	done
	no_result "$name" "$note"
}

# point_pkt mws|bsd: usn_load on the Linux packet port (--iface) against
# minimal_ws on the packet port, or against bsd_ws; the veth's offloads as
# the kernel sets them on both ends (rig_up ... packet).
point_pkt() {
	local which=$1 tag=pkt_$1 srv name
	if [ "$which" = mws ]; then srv=minimal_ws; else srv=bsd_ws; fi
	name="veth: usn_load -> $srv (packet port)"
	if { [ "$which" = mws ] && [ "$MWS_OK" != 1 ]; } || { [ "$which" = bsd ] && [ "$BSD_OK" != 1 ]; }; then
		no_result "$name" "not measured: $srv not built or stale"
		return
	fi
	if [ "$which" = mws ]; then
		log "== veth: usn_load (packet port) -> minimal_ws (packet port), ${DUR}s, $CONNS connections"
		rig_up 0 packet || { log "veth rig failed"; rig_down; return; }
		start_server minimal_ws "$TMP/$tag.srv.log" ip netns exec "$NS_S" taskset -c 0 \
			"$B/apps/minimal_ws" --iface "$IF_S" ${COMPARE_PKT_ARGS:-} -- --root "$WWW" --ip $SRV_IP/24 \
			--max-conns "$MAX_CONNS" || {
			rig_down
			no_result "$name" "minimal_ws did not start on the packet port: $(tail -2 "$TMP/$tag.srv.log" | tr '\n' ' ')"
			return
		}
	else
		log "== veth: usn_load (packet port) -> bsd_ws (Linux), ${DUR}s, $CONNS connections"
		rig_up 1 packet || { log "veth rig failed"; rig_down; return; }
		start_server bsd_ws "$TMP/$tag.srv.log" ip netns exec "$NS_S" taskset -c 0 "$B/apps/bsd_ws" \
			--root "$WWW" --addr $SRV_IP --port 80 --workers 1 --cpus 0 || {
			rig_down
			no_result "$name" "bsd_ws did not start"
			return
		}
	fi
	run_client "$tag" ip netns exec "$NS_C" taskset -c 1 "$B/apps/usn_load" --iface "$IF_C" ${COMPARE_PKT_ARGS:-} -- \
		--ip $CLI_IP/24 --server $SRV_IP --pages "$PAGES" --connections "$CONNS" --duration "$DUR" \
		--timeout "$TIMEOUT" --json "$TMP/$tag.json" ${COMPARE_CLIENT_ARGS:-}
	stop_pid "$SRV_PID"
	rig_down
	if [ -s "$TMP/$tag.json" ] && python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["requests"] > 0 else 1)' "$TMP/$tag.json"; then
		record "$name" veth usn_load "$srv" packet "$TMP/$tag.json" "$tag" "" packet
		return
	fi
	no_result "$name" "usn_load got no response over the packet port: $(tail -2 "$TMP/$tag.err" | tr '\n' ' ')"
}

# no_result NAME WHY: a point without figures, and a problem for COMPARE_STRICT.
no_result() {
	python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "note": sys.argv[2]}))' "$1" "$2" \
		>>"$TMP/points.jsonl"
	PROBLEMS+=("$1: $2")
	log "$1: $2"
}

# Every core's counters from now to the end, for each point's window.
python3 -B bench/cpuwin.py sample --cores 0,1 --interval 0.05 "$TMP/cpu.samples" &
SAMPLER=$!
: >"$TMP/points.jsonl"
IFS=, read -r -a WANT <<<"$POINTS"
for p in "${WANT[@]}"; do
	case $p in
	memif) point_memif ;;
	loopback) point_loopback ;;
	veth-mws) point_veth mws ;;
	veth-bsd) point_veth bsd ;;
	pkt-mws) point_pkt mws ;;
	pkt-bsd) point_pkt bsd ;;
	*) log "unknown point $p"; PROBLEMS+=("unknown point $p") ;;
	esac
done
stop_pid "$SAMPLER"
SAMPLER=""

mkdir -p "$(dirname "$OUT")"
LATEST=""
[ -d bench/results/latest ] && LATEST=bench/results/latest/usn_load.json
python3 -B - "$TMP/points.jsonl" "$OUT" "$LATEST" "$DUR" "$CONNS" "$PAGES" "$TIMEOUT" <<'EOF'
import json, sys, subprocess, platform, datetime, os
sys.path.insert(0, "bench")
import compare_ratios
src, out, latest, dur, conns, pages, timeout = sys.argv[1:8]
points = [json.loads(l) for l in open(src) if l.strip()]
ratios = compare_ratios.ratios(points)
cpu = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
st = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], capture_output=True, text=True).stdout
lines = [l for l in st.splitlines() if l.strip()]
untracked = sum(1 for l in lines if l.startswith("??"))
dirty = {"modified": len(lines) - untracked, "untracked": untracked} if lines else False
doc = {"tool": "usn_load_compare", "command": "bench/usn_load_compare.sh",
       "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
       "commit": commit, "dirty": dirty,
       "machine": {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release()},
       "duration_s": float(dur), "connections": int(conns), "pages": pages, "timeout_s": float(timeout),
       "method": compare_ratios.METHOD,
       "targets": {"same_client_minimal_vs_bsd_req_s": 2.4, "cheapest_link_req_s_per_core": 5.0},
       "points": points, "ratios": ratios}
for path in [out] + ([latest] if latest else []):
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
print("commit %s%s" % (commit, "" if not dirty else " + uncommitted changes (%d modified, %d untracked files)"
                       % (dirty["modified"], dirty["untracked"])))
print("%-44s %-10s %9s %7s %6s %8s %8s %8s %5s %5s %9s" % (
    "point", "vdev", "req/s", "Gbit/s", "errors", "p50 us", "p99 us", "max us", "srv", "cli", "req/s/core"))
for p in points:
    if not p.get("req_s"):
        print("%-44s %s" % (p.get("name", "?"), p.get("note", "no result")))
        continue
    lat = p.get("latency_us", {})
    print("%-44s %-10s %9.0f %7.3f %6d %8.0f %8.0f %8.0f %5.2f %5.2f %9.0f" % (
        p["name"], p.get("vdev") or "-", p["req_s"], p["gbit_s"], p.get("errors_total", 0),
        lat.get("p50", 0), lat.get("p99", 0), lat.get("max", 0), p.get("server_cores_busy") or 0,
        p.get("client_cores_busy") or 0, p.get("req_s_per_core") or 0))
    if p.get("note"):
        print("%-44s   (%s)" % ("", p["note"]))
print("(%s)" % compare_ratios.METHOD)
for k, v in ratios.items():
    if v.get("value") is None:
        print("ratio %s: not computed: %s" % (k, v["why"]))
    else:
        print("ratio %s: %.2fx (%s)" % (k, v["value"], v["method"]))
print("json: %s%s" % (out, (" and " + latest) if latest else ""))
EOF
rc=$?
[ "$rc" = 0 ] || PROBLEMS+=("report failed (exit $rc)")
# Correctness, for COMPARE_STRICT: a wrong body, length or status is a
# server serving wrong bytes.
while IFS= read -r bad; do PROBLEMS+=("$bad"); done < <(python3 -B - "$TMP/points.jsonl" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    p = json.loads(l)
    e = p.get("errors") or {}
    wrong = {k: v for k, v in e.items() if k in ("body", "length", "status") and v}
    if wrong:
        print("%s: wrong responses %s" % (p.get("name"), wrong))
EOF
)
if [ "${#PROBLEMS[@]}" -gt 0 ]; then
	log "usn_load_compare: problems:"
	for p in "${PROBLEMS[@]}"; do log "  $p"; done
	[ "$STRICT" = 1 ] && exit 1
fi
exit 0
