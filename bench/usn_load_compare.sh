#!/bin/bash
# bench/usn_load_compare.sh: issue 9's comparisons with the project's own load
# generator. (1) The cheapest link each stack has: usn_load -> minimal_ws over
# net_memif (two processes, shared memory) beside wrk -> bsd_ws over Linux
# loopback. (2) Same client, both stacks: usn_load over net_af_xdp (else
# net_af_packet) on a veth against minimal_ws (DPDK on the other end) and
# against bsd_ws (the kernel on the other end). Prints a table and writes JSON
# (bench/results/latest/usn_load.json when that dir exists, bench.py merges it).
#
# Needs root (namespaces, AF_XDP). Everything it makes is named with $$ and
# removed by a trap: namespaces ulc<pid>{c,s,l}, veth ul<pid>{c,s}, the memif
# socket, DPDK runtime dirs /var/run/dpdk/ulc<pid>*. Server on core 0, client
# on core 1. Every run is bounded (COMPARE_DURATION s + a timeout).
# Knobs: COMPARE_DURATION [5] COMPARE_CONNS [256] COMPARE_PAGES [bench/corpus,
# or "1k" for one 1 KiB page] COMPARE_POINTS [memif,loopback,veth-mws,veth-bsd]
# COMPARE_OUT [build/usn_load_compare.json] B [build/rel] COMPARE_KEEP=1 (keep
# the logs) COMPARE_CLIENT_ARGS (more usn_load options, e.g. "--timeout 2")
# COMPARE_RPS [1]: steer the Linux server's veth receive to its core (0: the
# kernel's default, on the sending core; see rig_up)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${B:-build/rel}
DUR=${COMPARE_DURATION:-5}
CONNS=${COMPARE_CONNS:-256}
PAGES=${COMPARE_PAGES:-bench/corpus}
POINTS=${COMPARE_POINTS:-memif,loopback,veth-mws,veth-bsd}
OUT=${COMPARE_OUT:-build/usn_load_compare.json}
ID=$$
NS_C=ulc${ID}c NS_S=ulc${ID}s NS_L=ulc${ID}l
IF_C=ul${ID}c IF_S=ul${ID}s
SRV_IP=198.18.0.1 CLI_IP=198.18.0.2 LO_IP=198.18.1.1
TMP=$(mktemp -d "/tmp/usn_cmp.$ID.XXXXXX")
PIDS=()
NSS=()

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
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
	rm -rf /var/run/dpdk/ulc"$ID"* 2>/dev/null
	if [ "${COMPARE_KEEP:-0}" = 1 ]; then log "logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

[ "$(id -u)" = 0 ] || { log "usn_load_compare: needs root (namespaces, AF_XDP, DPDK)"; exit 2; }
for f in "$B/apps/usn_load" "$B/apps/minimal_ws" "$B/apps/bsd_ws"; do
	[ -x "$f" ] || { log "usn_load_compare: $f not built (make -j2 all)"; exit 2; }
done

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

# run_client TAG CMD...: runs bounded, CPU via /usr/bin/time into
# $TMP/TAG.time. The server's CPU is sampled when the client starts its load
# (usn_load prints "usn_load:" then; wrk needs no warm-up) and when it ends:
# SRV_CPU = the server's cores busy over that window (CPU s / wall s).
run_client() {
	local tag=$1 cp c0 c1 t0 t1 i
	shift
	/usr/bin/time -f "%e %U %S" -o "$TMP/$tag.time" timeout -s INT -k 5 $((DUR + 30)) "$@" \
		>"$TMP/$tag.out" 2>"$TMP/$tag.err" &
	cp=$!
	PIDS+=("$cp")
	case $tag in lo*) ;; *)
		for i in $(seq 1 300); do
			grep -q "^usn_load:" "$TMP/$tag.out" 2>/dev/null && break
			kill -0 "$cp" 2>/dev/null || break
			sleep 0.05
		done
		;;
	esac
	c0=$(proc_cpu "$SRV_PID")
	t0=$(date +%s.%N)
	wait "$cp"
	c1=$(proc_cpu "$SRV_PID")
	t1=$(date +%s.%N)
	# the server's cores busy over the window: CPU seconds / wall seconds
	SRV_CPU=$(awk -v a="$c0" -v b="$c1" -v x="$t0" -v y="$t1" 'BEGIN { printf "%.3f", (b - a) / (y - x) }')
}

# point NAME LINK CLIENT SERVER VDEV CLIENT_JSON SERVER_CPU_S CLIENT_TAG NOTE
# appends one result line to $TMP/points.jsonl
record() {
	python3 - "$@" >>"$TMP/points.jsonl" <<'EOF'
import json, sys, re
name, link, client, server, vdev, cjson, srv_cpu, tag, tmp, note, dur = sys.argv[1:12]
r = {"name": name, "link": link, "client": client, "server": server, "vdev": vdev or None,
     "server_cores_busy": float(srv_cpu), "note": note or None, "duration_s": float(dur)}
try:
    e, u, s = open("%s/%s.time" % (tmp, tag)).read().split()[-3:]
    r["client_cores_busy"] = (float(u) + float(s)) / float(e)
except Exception:
    r["client_cores_busy"] = None
res = None
try:
    if client == "wrk":
        for line in open("%s/%s.out" % (tmp, tag)):
            if line.startswith("WRK_JSON "):
                w = json.loads(line[9:])
                secs = w["duration_us"] / 1e6
                errs = sum(w["errors"].values())
                res = {"requests": w["requests"], "seconds": secs, "req_s": w["requests"] / secs,
                       "gbit_s": w["bytes"] * 8 / secs / 1e9, "errors_total": errs, "errors": w["errors"],
                       "latency_us": {k: w["latency_us"][k] for k in ("p50", "p90", "p99", "p999", "max", "mean")},
                       "hist_log2_us": [[(1 << k) if k else 0, n] for k, n in enumerate(w["latency_log2_us"]) if n]}
    else:
        res = json.load(open(cjson))
except Exception as e:
    r["note"] = ((r["note"] or "") + " no client result (%s)" % e).strip()
if res and res.get("cpu_s") and res.get("wall_s"):
    # usn_load's own CPU over its run (EAL start-up excluded)
    r["client_cores_busy"] = res["cpu_s"] / res["wall_s"]
if res:
    r.update({k: res[k] for k in ("requests", "seconds", "req_s", "gbit_s", "errors_total", "errors", "latency_us", "hist_log2_us") if k in res})
    cores = r["server_cores_busy"] + (r["client_cores_busy"] or 0)
    # requests per second per busy core, both sides (a busy-polling DPDK
    # process counts the share of its core it actually got)
    r["req_s_per_core"] = res["req_s"] / cores if cores > 0 else None
    r["req_s_per_server_core"] = res["req_s"] / r["server_cores_busy"] if r["server_cores_busy"] > 0 else None
print(json.dumps(r))
EOF
}

# ---------------------------------------------------------------- memif
point_memif() {
	local sock=$TMP/memif.sock
	log "== memif: usn_load -> minimal_ws (net_memif, shared memory), ${DUR}s, $CONNS connections"
	# shellcheck disable=SC2046
	start_server minimal_ws "$TMP/memif_srv.log" taskset -c 0 "$B/apps/minimal_ws" \
		$(eal 0 s "net_memif0,role=server,socket=$sock") -- --root "$WWW" --ip $SRV_IP/24 || {
		echo "{\"name\": \"memif\", \"note\": \"minimal_ws did not start\"}" >>"$TMP/points.jsonl"
		return
	}
	# shellcheck disable=SC2046
	run_client memif taskset -c 1 "$B/apps/usn_load" $(eal 1 c "net_memif0,role=client,socket=$sock") -- \
		--ip $CLI_IP/24 --server $SRV_IP --pages "$PAGES" --connections "$CONNS" --duration "$DUR" \
		--json "$TMP/memif.json" ${COMPARE_CLIENT_ARGS:-}
	stop_pid "$SRV_PID"
	record "memif: usn_load -> minimal_ws" memif usn_load minimal_ws net_memif "$TMP/memif.json" \
		"$SRV_CPU" memif "$TMP" "" "$DUR"
}

# ------------------------------------------------------------- loopback
point_loopback() {
	log "== loopback: wrk -> bsd_ws (Linux loopback in netns $NS_L), ${DUR}s, $CONNS connections"
	ip netns add "$NS_L" || return
	NSS+=("$NS_L")
	ip -n "$NS_L" link set lo up
	ip -n "$NS_L" addr add $LO_IP/32 dev lo
	ip netns exec "$NS_L" sysctl -q -w net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192 \
		"net.ipv4.ip_local_port_range=1024 65535" net.ipv4.tcp_tw_reuse=1
	ulimit -n 65536 2>/dev/null
	start_server bsd_ws "$TMP/lo_srv.log" ip netns exec "$NS_L" taskset -c 0 "$B/apps/bsd_ws" \
		--root "$WWW" --addr $LO_IP --port 80 --workers 1 --cpus 0 || {
		echo "{\"name\": \"loopback\", \"note\": \"bsd_ws did not start\"}" >>"$TMP/points.jsonl"
		return
	}
	run_client lo ip netns exec "$NS_L" taskset -c 1 wrk -t1 -c "$CONNS" -d "${DUR}s" -s bench/wrk_random.lua \
		"http://$LO_IP:80/" -- "$LIST" 1
	stop_pid "$SRV_PID"
	ip netns del "$NS_L"
	record "loopback: wrk -> bsd_ws" loopback wrk bsd_ws "" "" "$SRV_CPU" lo "$TMP" \
		"kernel softirq work on loopback is charged to the processes" "$DUR"
}

# ------------------------------------------------------------------ veth
rig_up() { # rig_up KERNEL_IP(0/1)
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
	# Frames the kernel sends toward a userspace stack must carry complete
	# checksums and fit the MTU (no CHECKSUM_PARTIAL, no TSO super-frames).
	ip netns exec "$NS_S" ethtool -K "$IF_S" tx off tso off gso off gro off >/dev/null 2>&1
	ip netns exec "$NS_C" ethtool -K "$IF_C" tx off tso off gso off gro off >/dev/null 2>&1
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
	for kind in af_xdp af_packet; do
		tag=veth_${which}_$kind
		if [ "$which" = mws ]; then
			srv=minimal_ws
			log "== veth: usn_load ($kind) -> minimal_ws ($kind), ${DUR}s, $CONNS connections"
			rig_up 0 || { log "veth rig failed"; rig_down; return; }
			# shellcheck disable=SC2046
			start_server minimal_ws "$TMP/$tag.srv.log" ip netns exec "$NS_S" taskset -c 0 \
				"$B/apps/minimal_ws" $(eal 0 s "$(vdev_for $kind "$IF_S")") -- --root "$WWW" \
				--ip $SRV_IP/24 || {
				rig_down
				note="minimal_ws failed on $kind"
				continue
			}
		else
			srv=bsd_ws
			log "== veth: usn_load ($kind) -> bsd_ws (Linux), ${DUR}s, $CONNS connections"
			rig_up 1 || { log "veth rig failed"; rig_down; return; }
			start_server bsd_ws "$TMP/$tag.srv.log" ip netns exec "$NS_S" taskset -c 0 "$B/apps/bsd_ws" \
				--root "$WWW" --addr $SRV_IP --port 80 --workers 1 --cpus 0 || {
				rig_down
				return
			}
		fi
		# shellcheck disable=SC2046
		run_client "$tag" ip netns exec "$NS_C" taskset -c 1 "$B/apps/usn_load" \
			$(eal 1 c "$(vdev_for $kind "$IF_C")") -- --ip $CLI_IP/24 --server $SRV_IP --pages "$PAGES" \
			--connections "$CONNS" --duration "$DUR" --json "$TMP/$tag.json" ${COMPARE_CLIENT_ARGS:-}
		stop_pid "$SRV_PID"
		rig_down
		rm -rf /var/run/dpdk/ulc"$ID"*
		if [ -s "$TMP/$tag.json" ] && python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["requests"] > 0 else 1)' "$TMP/$tag.json"; then
			name="veth: usn_load -> $srv"
			record "$name" veth usn_load "$srv" "net_$kind" "$TMP/$tag.json" "$SRV_CPU" "$tag" \
				"$TMP" "$note" "$DUR"
			return
		fi
		note="${note:+$note; }usn_load got no response over $kind: $(tail -2 "$TMP/$tag.err" | tr '\n' ' ')"
		log "$note"
	done
	echo "{\"name\": \"veth: usn_load -> $srv\", \"note\": $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$note")}" \
		>>"$TMP/points.jsonl"
}

: >"$TMP/points.jsonl"
IFS=, read -r -a WANT <<<"$POINTS"
for p in "${WANT[@]}"; do
	case $p in
	memif) point_memif ;;
	loopback) point_loopback ;;
	veth-mws) point_veth mws ;;
	veth-bsd) point_veth bsd ;;
	*) log "unknown point $p" ;;
	esac
done

mkdir -p "$(dirname "$OUT")"
LATEST=""
[ -d bench/results/latest ] && LATEST=bench/results/latest/usn_load.json
python3 - "$TMP/points.jsonl" "$OUT" "$LATEST" "$DUR" "$CONNS" "$PAGES" <<'EOF'
import json, sys, subprocess, platform, datetime
src, out, latest, dur, conns, pages = sys.argv[1:7]
points = [json.loads(l) for l in open(src) if l.strip()]
def get(name_prefix):
    for p in points:
        if p.get("name", "").startswith(name_prefix) and p.get("req_s"):
            return p
    return None
ratios = {}
m, lo = get("memif"), get("loopback")
if m and lo and m.get("req_s_per_core") and lo.get("req_s_per_core"):
    ratios["cheapest_link_req_s_per_core"] = round(m["req_s_per_core"] / lo["req_s_per_core"], 2)
    ratios["cheapest_link_req_s"] = round(m["req_s"] / lo["req_s"], 2)
vm, vb = get("veth: usn_load -> minimal_ws"), get("veth: usn_load -> bsd_ws")
if vm and vb:
    ratios["same_client_minimal_vs_bsd_req_s"] = round(vm["req_s"] / vb["req_s"], 2)
    if vm.get("req_s_per_server_core") and vb.get("req_s_per_server_core"):
        ratios["same_client_minimal_vs_bsd_req_s_per_server_core"] = round(
            vm["req_s_per_server_core"] / vb["req_s_per_server_core"], 2)
cpu = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
doc = {"tool": "usn_load_compare", "command": "bench/usn_load_compare.sh",
       "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
       "commit": commit, "machine": {"cpu": cpu, "cores": __import__("os").cpu_count(), "kernel": platform.release()},
       "duration_s": float(dur), "connections": int(conns), "pages": pages,
       "targets": {"same_client_minimal_vs_bsd_req_s": 2.4, "cheapest_link_req_s_per_core": 5.0},
       "points": points, "ratios": ratios}
for path in [out] + ([latest] if latest else []):
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
print("%-30s %-10s %9s %7s %6s %8s %8s %8s %5s %5s %9s" % (
    "point", "vdev", "req/s", "Gbit/s", "errors", "p50 us", "p99 us", "max us", "srv", "cli", "req/s/core"))
for p in points:
    if not p.get("req_s"):
        print("%-30s %s" % (p.get("name", "?"), p.get("note", "no result")))
        continue
    lat = p.get("latency_us", {})
    print("%-30s %-10s %9.0f %7.3f %6d %8.0f %8.0f %8.0f %5.2f %5.2f %9.0f" % (
        p["name"], p.get("vdev") or "-", p["req_s"], p["gbit_s"], p.get("errors_total", 0),
        lat.get("p50", 0), lat.get("p99", 0), lat.get("max", 0), p["server_cores_busy"],
        p.get("client_cores_busy") or 0, p.get("req_s_per_core") or 0))
print("(srv, cli: cores busy over the run, CPU s / wall s; req/s/core: req/s over both sides' busy cores)")
for k, v in ratios.items():
    print("ratio %s: %.2fx" % (k, v))
print("json: %s%s" % (out, (" and " + latest) if latest else ""))
EOF
