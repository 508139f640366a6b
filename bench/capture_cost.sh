#!/bin/bash
# bench/capture_cost.sh: what --pcap costs minimal_ws. The same server
# (DPDK, one worker on core 0, at the server end of a veth pair) is loaded
# by wrk on core 1 (one request per connection, one page) without a
# capture and with one, in alternating runs; prints requests per second of
# each, the median of each, and the difference, with what the capture
# wrote. Figures, never a verdict: run it on an idle machine.
#
# Where the cost lands: the worker copies every frame it receives and sends
# (rte_pcapng_copy, one copy into a capture mbuf) and enqueues the burst;
# the writer is a DPDK control thread, which runs on the cores the EAL does
# not use (here core 1, beside wrk), and writes to CAPTURE_DIR.
#
# Needs root. Everything it makes is named with $$ and removed by a trap.
# Knobs: CAPTURE_DURATION [5] (s per run), CAPTURE_RUNS [3] (runs of each),
# CAPTURE_CONNS [64], CAPTURE_PAGE_BYTES [1024], CAPTURE_VDEV
# [net_af_packet] (or net_af_xdp), CAPTURE_DIR [a temporary directory]
# (where the capture is written; each run's file is removed after it),
# B [build/rel], CAPTURE_PROFILE [1 when $PROF_B/apps/minimal_ws is built
# and fresh: make O=build-prof USN_PROFILE=1 apps]: one more pair of runs
# with that cost-centre build, for the worker's own cycles per request
# (busy: every category but idle; the copies are in "driver"), a figure
# the machine's other load moves less than req/s. PROF_B [build-prof/rel].
set -u
cd "$(dirname "$0")/.."
B=${B:-build/rel}
DUR=${CAPTURE_DURATION:-5}
RUNS=${CAPTURE_RUNS:-3}
CONNS=${CAPTURE_CONNS:-64}
BYTES=${CAPTURE_PAGE_BYTES:-1024}
VDEV=${CAPTURE_VDEV:-net_af_packet}
ID=$$
NS_S=cap${ID}s NS_C=cap${ID}c IF_S=cap${ID}s IF_C=cap${ID}c
SRV_IP=198.18.0.1 CLI_IP=198.18.0.2
TMP=$(mktemp -d "/tmp/usn_capcost.$ID.XXXXXX")
DIR=${CAPTURE_DIR:-$TMP}
SRV=""
PROF_B=${PROF_B:-build-prof/rel}

log() { printf '%s\n' "$*" >&2; }

stop_srv() {
	[ -n "$SRV" ] || return 0
	kill -INT "$SRV" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$SRV" 2>/dev/null
	wait "$SRV" 2>/dev/null
	SRV=""
}

cleanup() {
	stop_srv
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	rm -rf "$TMP" /var/run/dpdk/cap"$ID"* "$DIR"/capture_cost."$ID".*.pcapng
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

[ "$(id -u)" = 0 ] || { log "capture_cost: needs root (namespaces, DPDK)"; exit 2; }
command -v wrk >/dev/null || { log "capture_cost: wrk not installed (tests/deps.sh bench)"; exit 2; }
MWS=$B/apps/minimal_ws
[ -x "$MWS" ] && [ -e "$B/libusnet_dpdk.a" ] || { log "capture_cost: $MWS not built with DPDK (make)"; exit 2; }
make -s -q O="$(dirname "$B")" "$MWS" 2>/dev/null ||
	{ log "capture_cost: $MWS is older than its sources (make); not measured"; exit 2; }

mkdir -p "$TMP/www"
head -c "$BYTES" /dev/zero | tr '\0' 'x' >"$TMP/www/page.html"

ip netns add "$NS_S" && ip netns add "$NS_C" || exit 2
ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C" || exit 2
ip -n "$NS_S" link set "$IF_S" up
ip -n "$NS_C" link set "$IF_C" up
ip -n "$NS_C" link set lo up
ip -n "$NS_C" addr add "$CLI_IP/24" dev "$IF_C"
ip netns exec "$NS_S" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$NS_C" ethtool -K "$IF_C" tx off >/dev/null 2>&1 # complete sums for the stack
ip netns exec "$NS_C" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
ip netns exec "$NS_C" sysctl -qw net.ipv4.tcp_tw_reuse=1

# one MODE RUN [BIN]: one run; prints "req/s errors note".
one() {
	local mode=$1 run=$2 bin=${3:-$MWS} lf=$TMP/srv.$1.$2.log extra=() cap=$DIR/capture_cost.$ID.$1.$2.pcapng
	[ "$mode" = pcap ] && extra=(--pcap "$cap" --pcap-max-mb 16384)
	ip netns exec "$NS_S" "$bin" --no-huge -m 1024 --no-pci -l 0 --file-prefix "cap$ID$mode$run" \
		--vdev="${VDEV}0,iface=$IF_S" -- --root "$TMP/www" --ip "$SRV_IP/24" "${extra[@]}" >"$lf" 2>&1 &
	SRV=$!
	for _ in $(seq 150); do grep -q '^listening on' "$lf" && break; sleep 0.1; done
	grep -q '^listening on' "$lf" || { log "minimal_ws did not start: $(tail -2 "$lf" | tr '\n' ' ')"; stop_srv; return 1; }
	# ARP, then the measured run
	ip netns exec "$NS_C" curl -s -o /dev/null --retry 5 --retry-connrefused --retry-delay 1 "http://$SRV_IP/page.html"
	ip netns exec "$NS_C" bash -c "ulimit -n 65536; taskset -c 1 timeout $((DUR + 30)) wrk -t1 -c$CONNS \
		-d${DUR}s --timeout 5s -H 'Connection: close' http://$SRV_IP/page.html" >"$TMP/wrk.$mode.$run" 2>&1
	stop_srv
	local rps errs note=""
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$TMP/wrk.$mode.$run")
	errs=$(grep -E 'Socket errors|Non-2xx' "$TMP/wrk.$mode.$run" | tr -s ' ' | tr '\n' ';')
	if [ "$mode" = pcap ]; then
		note=$(grep -m1 '^capture ' "$lf" | sed 's/^capture [^:]*: //')
		grep -q 'reached its limit' "$lf" && note="$note (the limit stopped it: not comparable)"
		rm -f "$cap"
	fi
	# A cost-centre build: the worker's busy cycles per request, and the
	# driver's (where the copies are).
	if grep -q '^cost centres:' "$lf"; then
		note="$note $(awk '/^cost centres:/ {req = $(NF - 1)} $1 == "total" {t = $2} $1 == "idle" {i = $2}
			$1 == "driver" {d = $2} END {if (req > 0) printf "busy_cycles/req=%.0f driver_cycles/req=%.0f", (t - i) / req, d / req}' "$lf")"
	fi
	echo "${rps:-0} ${errs:-none} $note"
}

log "capture_cost: minimal_ws (DPDK $VDEV, 1 worker on core 0) under wrk (core 1, $CONNS connections," \
	"Connection: close, a $BYTES-byte page), $DUR s per run, $RUNS runs each, capture written to $DIR"
for r in $(seq "$RUNS"); do
	for mode in plain pcap; do
		res=$(one "$mode" "$r") || exit 1
		echo "$mode $res" >>"$TMP/results"
		printf '  run %d %-5s %s\n' "$r" "$mode" "$res"
	done
done
PROFILE=${CAPTURE_PROFILE:-}
if [ -z "$PROFILE" ]; then
	PROFILE=0
	[ -x "$PROF_B/apps/minimal_ws" ] && make -s -q O="$(dirname "$PROF_B")" USN_PROFILE=1 "$PROF_B/apps/minimal_ws" 2>/dev/null &&
		PROFILE=1
fi
if [ "$PROFILE" = 1 ]; then
	for mode in plain pcap; do
		res=$(one "$mode" prof "$PROF_B/apps/minimal_ws") || exit 1
		echo "prof-$mode $res" >>"$TMP/results"
		printf '  cost-centre build %-5s %s\n' "$mode" "$res"
	done
fi
python3 - "$TMP/results" "$VDEV" "$CONNS" "$BYTES" "$DUR" "$RUNS" "$(git rev-parse --short HEAD 2>/dev/null)" <<'EOF'
import statistics, sys
rows = [l.split(None, 2) for l in open(sys.argv[1])]
vdev, conns, size, dur, runs, commit = sys.argv[2:]
by = {"plain": [], "pcap": []}
prof = {}
for r in rows:
    if r[0].startswith("prof-"):
        prof[r[0][5:]] = dict(kv.split("=") for kv in r[2].split() if kv.startswith(("busy_", "driver_")))
        continue
    by[r[0]].append(float(r[1]))
a, b = statistics.median(by["plain"]), statistics.median(by["pcap"])
print("capture cost: minimal_ws, DPDK %s, 1 worker; wrk -c %s, Connection: close, %s-byte page; %s s x %s runs, "
      "median (min..max); commit %s" % (vdev, conns, size, dur, runs, commit))
print("  without --pcap: %8.0f req/s (%.0f..%.0f)" % (a, min(by["plain"]), max(by["plain"])))
print("  with --pcap:    %8.0f req/s (%.0f..%.0f), %+.1f%%" % (b, min(by["pcap"]), max(by["pcap"]), (b - a) / a * 100 if a else 0))
if prof.get("plain") and prof.get("pcap"):
    p0, p1 = prof["plain"], prof["pcap"]
    b0, b1 = float(p0["busy_cycles/req"]), float(p1["busy_cycles/req"])
    d0, d1 = float(p0["driver_cycles/req"]), float(p1["driver_cycles/req"])
    print("  the worker's cycles per request (cost-centre build, one run each): busy %.0f without, %.0f with "
          "(%+.0f, %+.1f%%); in the driver, where the copies are, %.0f and %.0f (%+.0f)" %
          (b0, b1, b1 - b0, (b1 - b0) / b0 * 100 if b0 else 0, d0, d1, d1 - d0))
EOF
