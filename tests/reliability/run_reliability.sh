#!/usr/bin/env bash
# Reliability rig suite against minimal_ws (DPDK net_af_packet on a veth, a
# namespace of its own): adversarial frames (Scapy), faults (netem: loss,
# reordering, duplication, corruption, delay), a SYN flood (hping3), a
# slowloris, a churn soak, and security cases against a server with short
# limits. Short sizes by default (the `make test` rig suite, a few
# minutes); `make reliability` sets REL_FULL=1 for the full ones. Sizes:
# SOAK_CONNS, SLOW_CONNS, FLOOD_SYNS, ADV_FLOOD, OOO_CONNS; REL_STAGES picks stages
# (adv sec ooo v6 faults flood slow soak). Prints "PASS name" / "FAIL name: why"
# and "# " notes with the figures; exit 1 on any failure, 77 after a SKIP
# line when it cannot run (not root, minimal_ws not built).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/reliability/rig.sh
. "$here/rig.sh"

full=${REL_FULL:-0}
if [ "$full" = 1 ]; then
	: "${SOAK_CONNS:=1000000}" "${SLOW_CONNS:=3000}" "${SLOW_HOLD_S:=60}" "${FLOOD_SYNS:=100000}"
	: "${ADV_FLOOD:=5000}" "${FAULT_ROUNDS:=5}" "${FAULT_WRK_S:=10}" "${FLOOD_S:=20}" "${SOAK_CHUNK_S:=5}"
else
	: "${SOAK_CONNS:=100000}" "${SLOW_CONNS:=2000}" "${SLOW_HOLD_S:=15}" "${FLOOD_SYNS:=20000}"
	: "${ADV_FLOOD:=1000}" "${FAULT_ROUNDS:=1}" "${FAULT_WRK_S:=4}" "${FLOOD_S:=8}" "${SOAK_CHUNK_S:=1}"
fi
stages=${REL_STAGES:-adv sec ooo v6 faults flood slow soak}
# Out-of-order flood: spoofed connections, 64 one-byte segments each (both sizes).
: "${OOO_CONNS:=256}"
# The idle timeout the slowloris stage asks minimal_ws for, when it has one.
SLOW_IDLE_MS=${SLOW_IDLE_MS:-5000}
TIMEWAIT_MAX=16384 # minimal_ws's default tcp_max_timewait (--max-conns 65536 / 4)

cexec() { ip netns exec "$NS_C" "$@"; }
json() { "$REL_PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))" "$@"; }

# check_balance TAG STATS: what minimal_ws printed at exit adds up.
# The stack: every TCB opened passively was closed, or is still open; the
# ones still open at exit may be only TIME-WAITs (at most TIMEWAIT_MAX) and
# half-open ones (at most tcp_syn_backlog 1024). The application: every
# connection it was told about was closed (normally or not). Each stage
# opens connections, so neither balance may hold at 0 = 0, and a counter
# minimal_ws did not print fails the check rather than counting as 0.
check_balance() {
	local tag=$1 st=$2 po cl open mc mok mbad
	if ! rel_stats_into "$st" po=tcp_passive_opens cl=tcp_closed; then
		fail "$tag: counters balance" "no stack counters at exit: $rel_missing"
	else
		open=$((po - cl))
		note "$tag counters: tcp_passive_opens=$po tcp_closed=$cl open=$open"
		if [ "$po" -gt 0 ] && [ "$open" -ge 0 ] && [ "$open" -le $((TIMEWAIT_MAX + 1024)) ]; then
			pass "$tag: counters balance: tcp_passive_opens $po = tcp_closed $cl + open $open (TIME-WAIT/half-open only)"
		else
			fail "$tag: counters balance" "tcp_passive_opens $po, tcp_closed $cl, open $open"
		fi
	fi
	if ! rel_stats_into "$st" mc=mws_conns mok=mws_closed_ok mbad=mws_closed_bad; then
		fail "$tag: application connections" "no minimal_ws counters at exit: $rel_missing"
		return
	fi
	note "$tag counters: mws connections=$mc closed=$mok reset/timed-out=$mbad"
	if [ "$mc" -gt 0 ] && [ "$mc" = $((mok + mbad)) ]; then
		pass "$tag: every application connection ended ($mc = $mok closed + $mbad reset/timed out)"
	else
		fail "$tag: application connections" "$mc announced, $mok closed, $mbad reset/timed out: $((mc - mok - mbad)) never ended"
	fi
}

# settle MAX_S: waits until the server has received no TCP segment for
# 3 s (closing handshakes still crossing a slow link), at most MAX_S.
settle() {
	local i last=-1 now quiet=0
	for ((i = 0; i < $1; i++)); do
		now=$(rel_tel | awk '$1 == "tcp_rx_segs" {print $2}')
		if [ "$now" = "$last" ]; then quiet=$((quiet + 1)); else quiet=0; fi
		[ "$quiet" -ge 3 ] && return 0
		last=$now
		sleep 1
	done
	note "still receiving segments after $1 s"
}

# stop_and_stats TAG: stops the server and leaves its counters in
# $rel_work/TAG.stats.
stop_and_stats() {
	local tag=$1
	settle 30
	if rel_server_stop; then
		pass "$tag: server exits cleanly on SIGINT"
	else
		fail "$tag: server exit" "$(tail -2 "$srv_log" | tr '\n' ' ')"
	fi
	rel_stats "$srv_log" >"$rel_work/$tag.stats"
}

# start_or_fail TAG NS IFACE CIDR [minimal_ws options...]
start_or_fail() {
	local tag=$1 ns=$2 ifc=$3 cidr=$4
	shift 4
	if rel_server_start "$ns" "$ifc" "$cidr" "$tag" "$@"; then
		return 0
	fi
	fail "$tag: server starts" "$(tail -3 "$srv_log" | tr '\n' ' ')"
	rel_server_stop quiet
	return 1
}

# ---------------------------------------------------------------- adversarial
stage_adv() {
	start_or_fail adv "$NS_S" "$IF_S" "$SRV_IP/24" || return
	cexec "$REL_PY" -c "import socket; socket.create_connection(('$SRV_IP', $PORT), timeout=2, source_address=('$ATK_IP', 0)).close()" 2>/dev/null
	local mac
	mac=$(ip -n "$NS_C" neigh show "$SRV_IP" | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}')
	if [ -z "$mac" ]; then fail "adversarial: server MAC" "no neighbour entry"; rel_server_stop quiet; return; fi
	local rss0 rss1
	rss0=$(rel_rss)
	cexec timeout 900 "$REL_PY" "$here/adversarial.py" --iface "$IF_C" --srv "$SRV_IP" --srv-mac "$mac" \
		--atk "$ATK_IP" --cli "$CLI_IP" --port "$PORT" --root "$ROOT" --flood "$ADV_FLOOD" \
		${ADV_ONLY:+--only "$ADV_ONLY"} >"$rel_work/adv.out" 2>&1
	local rc=$?
	cat "$rel_work/adv.out"
	fails=$((fails + $(grep -c '^FAIL' "$rel_work/adv.out")))
	if [ "$rc" != 0 ] && ! grep -q '^FAIL' "$rel_work/adv.out"; then fail "adversarial.py" "exit $rc"; fi
	rss1=$(rel_rss)
	note "adversarial: server VmRSS ${rss0} kB before, ${rss1} kB after"
	rel_tel >"$rel_work/adv.tel" || note "adversarial: no telemetry"
	note "adversarial: drops: $(grep -E '^drop_|challenge|rst_' "$rel_work/adv.tel" | awk '$2 > 0 {printf "%s=%s ", $1, $2}')"
	stop_and_stats adv
	check_balance adv "$rel_work/adv.stats"
}

# ------------------------------------------------------------------ security
# Cases that need short limits get a server of their own: the idle timeout
# fed by duplicates, the header deadline on its own timer, zero-window
# holders filling a small TCB pool, an RST in TIME-WAIT (adversarial.py
# --security). About 30 s. REL_SEC_FLAGS replaces the server's flags (to
# run the cases against an older build, with REL_BIN).
REL_SEC_FLAGS=${REL_SEC_FLAGS:---idle-timeout-ms 2000 --header-timeout-ms 5000 --max-conns 64 --orphan-probe-retries 4}
stage_sec() {
	local -a sec_flags
	read -ra sec_flags <<<"$REL_SEC_FLAGS"
	start_or_fail sec "$NS_S" "$IF_S" "$SRV_IP/24" "${sec_flags[@]}" || return
	cexec "$REL_PY" -c "import socket; socket.create_connection(('$SRV_IP', $PORT), timeout=2, source_address=('$ATK_IP', 0)).close()" 2>/dev/null
	local mac
	mac=$(ip -n "$NS_C" neigh show "$SRV_IP" | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}')
	if [ -z "$mac" ]; then fail "security: server MAC" "no neighbour entry"; rel_server_stop quiet; return; fi
	note "security: minimal_ws ${sec_flags[*]}"
	cexec timeout 300 "$REL_PY" "$here/adversarial.py" --security --iface "$IF_C" --srv "$SRV_IP" --srv-mac "$mac" \
		--atk "$ATK_IP" --cli "$CLI_IP" --port "$PORT" --root "$ROOT" ${ADV_ONLY:+--only "$ADV_ONLY"} \
		>"$rel_work/sec.out" 2>&1
	local rc=$?
	cat "$rel_work/sec.out"
	fails=$((fails + $(grep -c '^FAIL' "$rel_work/sec.out")))
	if [ "$rc" != 0 ] && ! grep -q '^FAIL' "$rel_work/sec.out"; then fail "adversarial.py --security" "exit $rc"; fi
	rel_tel >"$rel_work/sec.tel"
	local pt
	note "security: $(grep -E '^(tcp_probe_timeouts|tcp_zero_window_probes|tcp_idle_timeouts|tcp_deadline_timeouts|tcp_timewait_rst_ignored|drop_tcp_zero_window|tcp_challenge_acks|tcp_challenge_acks_skipped|tcp_pool_empty) ' "$rel_work/sec.tel" | tr '\n' ' ')"
	if [ -z "${ADV_ONLY:-}" ]; then
		if ! pt=$(rel_stat "$rel_work/sec.tel" tcp_probe_timeouts); then
			fail "security: counters" "tcp_probe_timeouts missing from telemetry"
		elif [ "$pt" -lt 16 ]; then
			fail "security: counters" "tcp_probe_timeouts=$pt after the zero-window holders"
		fi
	fi
	stop_and_stats sec
	check_balance sec "$rel_work/sec.stats"
}

# --------------------------------------------------------- out-of-order flood
# OOO_CONNS connections from spoofed sources in 198.19.0.0/16 (the server
# reaches them through its gateway, the client's own address, whose kernel
# drops what is not its own) each send 64 one-byte segments with a gap
# before every one, while a normal client fetches a 300 kB page three times
# (adversarial.py --ooo-flood, reading the mbuf pool over telemetry): the
# fetches are byte-identical, the pool is not drained, and it comes back
# once the flood's connections are reset. The idle timeout is a minute, so
# that the flood holds what it holds for the whole stage.
stage_ooo() {
	start_or_fail ooo "$NS_S" "$IF_S" "$SRV_IP/24" --gw "$CLI_IP" --idle-timeout-ms 60000 || return
	local mac rc
	mac=$(ip -n "$NS_C" neigh show "$SRV_IP" | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}')
	if [ -z "$mac" ]; then fail "OOO flood: server MAC" "no neighbour entry"; rel_server_stop quiet; return; fi
	cexec timeout 300 "$REL_PY" "$here/adversarial.py" --iface "$IF_C" --srv "$SRV_IP" --srv-mac "$mac" \
		--atk "$ATK_IP" --cli "$CLI_IP" --port "$PORT" --root "$ROOT" --ooo-flood "$OOO_CONNS" \
		--tel-prefix "$srv_prefix" >"$rel_work/ooo.out" 2>&1
	rc=$?
	cat "$rel_work/ooo.out"
	fails=$((fails + $(grep -c '^FAIL' "$rel_work/ooo.out")))
	if [ "$rc" != 0 ] && ! grep -q '^FAIL' "$rel_work/ooo.out"; then fail "OOO flood: adversarial.py" "exit $rc"; fi
	stop_and_stats ooo
	check_balance ooo "$rel_work/ooo.stats"
}

# ----------------------------------------------------------------------- IPv6
# minimal_ws with an IPv6 address beside its IPv4 one; adversarial6.py
# sends IPv6 frames from ATK_IP6 (answering the server's neighbour
# solicitations for it) and judges each case by the answers and by the
# counters over telemetry: extension-header chains within and beyond the
# parser's limits, Neighbour Discovery with a hop limit other than 255 or
# from a source off the link, packet too big quoting a sequence number
# outside and inside a live connection's window. About 15 s.
stage_v6() {
	start_or_fail v6 "$NS_S" "$IF_S" "$SRV_IP/24" --ip "$SRV_IP6/64" || return
	local mac rc
	mac=$(ip -n "$NS_C" neigh show "$SRV_IP" | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}')
	if [ -z "$mac" ]; then fail "IPv6: server MAC" "no neighbour entry"; rel_server_stop quiet; return; fi
	cexec timeout 300 "$REL_PY" "$here/adversarial6.py" --iface "$IF_C" --srv6 "$SRV_IP6" --srv-mac "$mac" \
		--atk6 "$ATK_IP6" --port "$PORT" --root "$ROOT" --tel-prefix "$srv_prefix" ${ADV_ONLY:+--only "$ADV_ONLY"} \
		>"$rel_work/v6.out" 2>&1
	rc=$?
	cat "$rel_work/v6.out"
	fails=$((fails + $(grep -c '^FAIL' "$rel_work/v6.out")))
	if [ "$rc" != 0 ] && ! grep -q '^FAIL' "$rel_work/v6.out"; then fail "adversarial6.py" "exit $rc: $(tail -3 "$rel_work/v6.out" | tr '\n' ' ')"; fi
	rel_tel >"$rel_work/v6.tel" || note "IPv6: no telemetry"
	note "IPv6: $(grep -E '^(drop_ip6_ext_[a-z]+|drop_nd_[a-z_]+|nd_ns_rx|nd_na_rx|icmp6_pkt_too_big_rx|icmp_err_bad_seq|tcp_pmtu_lowered|tcp6_rx_segs|tcp6_tx_segs) ' "$rel_work/v6.tel" | tr '\n' ' ')"
	stop_and_stats v6
	check_balance v6 "$rel_work/v6.stats"
}

# --------------------------------------------------------------------- faults
stage_faults() {
	local nargs="delay 50ms 10ms loss 5% reorder 5% duplicate 2% corrupt 1%"
	rel_fault_topology "$nargs" 7 || { fail "faults: set-up" "fault link"; return; }
	note "faults: $rel_fault_kind"
	start_or_fail faults "$NS_FS" "$IF_FS" "$FSRV_IP/24" || return
	# curl (below) runs beside the Python client: the lossy 100 ms round trip, not the CPU, sets the pace
	rel_bg cexec timeout 600 "$REL_PY" "$here/fetch.py" corpus --host "$FSRV_IP" --port "$PORT" --root "$ROOT" \
		--rounds "$FAULT_ROUNDS" --conc 4 --timeout 30 --deadline 120 >"$rel_work/faults.json" 2>&1
	local pyc=$rel_last_bg
	local f bad=0 n=0 why=""
	while IFS= read -r f; do
		n=$((n + 1))
		if ! cexec curl -sS --max-time 60 -o "$rel_work/curl.out" "http://$FSRV_IP:$PORT/$f" 2>"$rel_work/curl.err" ||
			! cmp -s "$rel_work/curl.out" "$ROOT/$f"; then
			bad=$((bad + 1)); why="$why $f($(head -c 80 "$rel_work/curl.err"))"
		fi
	done < <(cd "$ROOT" && find . -type f | sed 's|^\./||' | sort)
	if [ "$bad" = 0 ]; then pass "faults: curl fetches all $n pages byte-identical"; else fail "faults: curl" "$bad of $n:$why"; fi
	wait "$pyc"
	if [ -s "$rel_work/faults.json" ] && [ "$(json "$rel_work/faults.json" 'ok == fetches and fetches > 0')" = True ]; then
		pass "faults: python fetches every page of the corpus x$FAULT_ROUNDS: $(json "$rel_work/faults.json" '"%d fetches byte-identical (sha256), %d bytes, slowest %.1f s" % (fetches, bytes, max_fetch_s)')"
	else
		fail "faults: python corpus" "$(tail -c 600 "$rel_work/faults.json")"
	fi
	# wrk: a few seconds, Connection: close; every reply 200, no socket error
	cexec bash -c "ulimit -n 65536 2>/dev/null || ulimit -n \$(ulimit -Hn); timeout 60 wrk -t 1 -c 8 -d ${FAULT_WRK_S}s --timeout 20s -H 'Connection: close' \
		http://$FSRV_IP:$PORT/dir/page2.html" >"$rel_work/wrk_faults.out" 2>&1
	local reqs
	reqs=$(awk '/requests in/ {print $1}' "$rel_work/wrk_faults.out")
	if [ -n "$reqs" ] && [ "$reqs" -gt 0 ] && ! grep -qE 'Socket errors|Non-2xx' "$rel_work/wrk_faults.out"; then
		pass "faults: wrk ${FAULT_WRK_S}s -c 8: $reqs requests, all 200, no socket error or timeout"
	else
		fail "faults: wrk" "$(grep -E 'requests in|Socket errors|Non-2xx' "$rel_work/wrk_faults.out" | tr '\n' ' ')"
	fi
	settle 60
	rel_tel >"$rel_work/faults.tel" || note "faults: no telemetry"
	note "faults: $(grep -E '^(tcp_retrans_segs|tcp_fast_retrans|tcp_rto_fired|tcp_ooo_segs|tcp_dup_acks|drop_tcp_csum|drop_ip_csum|drop_tcp_not_acceptable) ' "$rel_work/faults.tel" | tr '\n' ' ')"
	stop_and_stats faults
	check_balance faults "$rel_work/faults.stats"
	if [ -n "$bridge_pid" ]; then
		kill -TERM "$bridge_pid" 2>/dev/null; wait "$bridge_pid" 2>/dev/null; bridge_pid=""
		note "faults: $(tail -1 "$rel_work/bridge.log")"
	fi
}

# ------------------------------------------------------------------ SYN flood
stage_flood() {
	start_or_fail flood "$NS_S" "$IF_S" "$SRV_IP/24" || return
	local rss0 rss1 us
	rss0=$(rel_rss)
	# spread FLOOD_SYNS over FLOOD_S seconds, from ATK_IP (its RSTs dropped)
	us=$((FLOOD_S * 1000000 / FLOOD_SYNS))
	[ "$us" -ge 1 ] || us=1
	rel_bg cexec timeout $((FLOOD_S + 30)) hping3 -q -S -p "$PORT" -a "$ATK_IP" -i "u$us" -c "$FLOOD_SYNS" "$SRV_IP"
	local hp=$rel_last_bg
	sleep 1
	cexec timeout $((FLOOD_S + 60)) "$REL_PY" "$here/fetch.py" corpus --host "$SRV_IP" --port "$PORT" --root "$ROOT" \
		--duration $((FLOOD_S / 2)) --conc 4 --timeout 10 --deadline 30 >"$rel_work/flood.json" 2>&1
	cexec bash -c "ulimit -n 65536 2>/dev/null || ulimit -n \$(ulimit -Hn); timeout 60 wrk -t 1 -c 16 -d $((FLOOD_S / 2 - 1))s --timeout 5s -H 'Connection: close' \
		http://$SRV_IP:$PORT/dir/page1.html" >"$rel_work/wrk_flood.out" 2>&1
	rss1=$(rel_rss)
	wait "$hp" 2>/dev/null
	rel_tel >"$rel_work/flood.tel"
	local cs cok
	if ! rel_stats_into "$rel_work/flood.tel" cs=tcp_syncookies_sent cok=tcp_syncookies_ok; then
		fail "SYN flood: SYN cookies" "no telemetry: $rel_missing"
	elif [ "$cs" -gt 0 ]; then
		pass "SYN flood: SYN cookies engage ($FLOOD_SYNS SYNs over ${FLOOD_S}s: tcp_syncookies_sent=$cs, tcp_syncookies_ok=$cok)"
	else
		fail "SYN flood: SYN cookies" "tcp_syncookies_sent=0 after $FLOOD_SYNS SYNs"
	fi
	if [ -s "$rel_work/flood.json" ] && [ "$(json "$rel_work/flood.json" 'ok == fetches and fetches > 0')" = True ]; then
		pass "SYN flood: legitimate fetches during the flood: $(json "$rel_work/flood.json" '"%d of %d byte-identical (%.1f%%), %.1f req/s, slowest %.2f s" % (ok, fetches, success_pct, req_per_s, max_fetch_s)')"
	else
		fail "SYN flood: legitimate fetches" "$(tail -c 600 "$rel_work/flood.json")"
	fi
	local reqs rps
	reqs=$(awk '/requests in/ {print $1}' "$rel_work/wrk_flood.out"); rps=$(awk '/^Requests\/sec/ {print $2}' "$rel_work/wrk_flood.out")
	if [ -n "$reqs" ] && [ "$reqs" -gt 0 ] && ! grep -qE 'Non-2xx' "$rel_work/wrk_flood.out"; then
		pass "SYN flood: wrk during the flood: $reqs requests, $rps req/s, $(grep -E 'Socket errors' "$rel_work/wrk_flood.out" || echo 'no socket errors')"
	else
		fail "SYN flood: wrk" "$(grep -E 'requests in|Socket errors|Non-2xx' "$rel_work/wrk_flood.out" | tr '\n' ' ')"
	fi
	if [ -n "$rss0" ] && [ -n "$rss1" ] && [ $((rss1 - rss0)) -le 8192 ]; then
		pass "SYN flood: server memory bounded (VmRSS $rss0 kB before, $rss1 kB during)"
	else
		fail "SYN flood: memory" "VmRSS $rss0 kB before, $rss1 kB during"
	fi
	stop_and_stats flood
	check_balance flood "$rel_work/flood.stats"
}

# ------------------------------------------------------------------ slowloris
stage_slow() {
	local extra=() idle=""
	if "$REL_BIN" --help 2>&1 | grep -q -- '--idle-timeout-ms'; then
		extra=(--idle-timeout-ms "$SLOW_IDLE_MS")
		idle=$SLOW_IDLE_MS
	fi
	start_or_fail slow "$NS_S" "$IF_S" "$SRV_IP/24" "${extra[@]}" || return
	local rss0 rss1 hold
	rss0=$(rel_rss)
	hold=$SLOW_HOLD_S
	[ -n "$idle" ] && [ "$hold" -lt $((idle / 1000 + 10)) ] && hold=$((idle / 1000 + 10))
	rel_bg bash -c "sleep 3; echo /usnet/stats | timeout 20 dpdk-telemetry.py -f '$srv_prefix' >'$rel_work/slow_mid.tel' 2>&1"
	cexec bash -c "ulimit -n 65536 2>/dev/null || ulimit -n \$(ulimit -Hn); timeout $((hold + 180)) '$REL_PY' '$here/fetch.py' slowloris --host '$SRV_IP' --port '$PORT' \
		--root '$ROOT' --n '$SLOW_CONNS' --open-s 60 --hold '$hold' --conc 2 --pause 0.05 --timeout 10 --deadline 30" >"$rel_work/slow.json" 2>&1
	rss1=$(rel_rss)
	if [ ! -s "$rel_work/slow.json" ] || ! json "$rel_work/slow.json" 'opened' >/dev/null 2>&1; then
		fail "slowloris: client" "$(tail -c 600 "$rel_work/slow.json")"
		stop_and_stats slow
		return
	fi
	note "slowloris: $(cat "$rel_work/slow.json")"
	local mid
	mid=$("$REL_PY" -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{"):
        d = json.loads(l)["/usnet/stats"]; print(d["tcp_passive_opens"] - d["tcp_closed"])' "$rel_work/slow_mid.tel" 2>/dev/null)
	note "slowloris: TCBs in use 3 s into the hold (tcp_passive_opens - tcp_closed, TIME-WAITs included): ${mid:-?} of 65536"
	local opened
	opened=$(json "$rel_work/slow.json" 'opened')
	if [ "$opened" -ge $((SLOW_CONNS * 9 / 10)) ]; then
		pass "slowloris: $opened of $SLOW_CONNS stalled connections (partial request) held open"
	else
		fail "slowloris: opening" "only $opened of $SLOW_CONNS connected"
	fi
	if [ "$(json "$rel_work/slow.json" 'new_clients["ok"] == new_clients["fetches"] and new_clients["fetches"] > 0')" = True ]; then
		pass "slowloris: new clients served meanwhile: $(json "$rel_work/slow.json" '"%d of %d fetches byte-identical, %.1f req/s" % (new_clients["ok"], new_clients["fetches"], new_clients["req_per_s"])')"
	else
		fail "slowloris: new clients" "$(json "$rel_work/slow.json" 'new_clients')"
	fi
	local closed still
	closed=$(json "$rel_work/slow.json" 'closed_by_server'); still=$(json "$rel_work/slow.json" 'still_open')
	if [ -z "$idle" ]; then
		fail "slowloris: idle timeout frees stalled connections" "minimal_ws has no idle timeout (no --idle-timeout-ms option): $still of $opened stalled connections still open after ${hold}s, each holding a TCB (pool 65536) forever"
	elif [ "$still" = 0 ]; then
		pass "slowloris: idle timeout (${idle} ms) freed all $closed stalled connections (last after $(json "$rel_work/slow.json" 'last_close_s') s)"
	else
		fail "slowloris: idle timeout" "--idle-timeout-ms $idle: $still of $opened stalled connections still open after ${hold}s"
	fi
	note "slowloris: server VmRSS $rss0 kB before, $rss1 kB with $opened stalled connections"
	stop_and_stats slow
	check_balance slow "$rel_work/slow.stats"
	if [ -n "$idle" ]; then
		local mto
		if ! mto=$(rel_stat "$rel_work/slow.stats" mws_timed_out 2>&1); then
			fail "slowloris: timed-out counter" "$mto"
		elif [ "$mto" -ge "$opened" ]; then
			pass "slowloris: minimal_ws counts $mto connections timed out (>= $opened stalled)"
		else
			fail "slowloris: timed-out counter" "minimal_ws counts $mto timed out, $opened stalled connections"
		fi
	fi
}

# ----------------------------------------------------------------------- soak
stage_soak() {
	start_or_fail soak "$NS_S" "$IF_S" "$SRV_IP/24" || return
	local done_c=0 chunk=0 reqs errs=0 rss samples="" t0 t_end
	t0=$(date +%s)
	# bounded: SOAK_CONNS connections or 4 h (full) / 4 min (short), whichever first
	t_end=$((t0 + (full == 1 ? 14400 : 240)))
	samples="$(rel_rss)"
	while [ "$done_c" -lt "$SOAK_CONNS" ] && [ "$(date +%s)" -lt "$t_end" ] && [ "$chunk" -lt 100000 ]; do
		chunk=$((chunk + 1))
		cexec bash -c "ulimit -n 65536 2>/dev/null || ulimit -n \$(ulimit -Hn); timeout 60 wrk -t 1 -c 32 -d ${SOAK_CHUNK_S}s --timeout 5s -H 'Connection: close' \
			http://$SRV_IP:$PORT/style.css" >"$rel_work/wrk_soak.out" 2>&1
		reqs=$(awk '/requests in/ {print $1}' "$rel_work/wrk_soak.out")
		if [ -z "$reqs" ] || [ "$reqs" = 0 ]; then
			fail "soak: wrk chunk $chunk" "$(tail -3 "$rel_work/wrk_soak.out" | tr '\n' ' ')"
			break
		fi
		grep -qE 'Socket errors|Non-2xx' "$rel_work/wrk_soak.out" && errs=$((errs + 1)) &&
			note "soak chunk $chunk: $(grep -E 'Socket errors|Non-2xx' "$rel_work/wrk_soak.out" | tr '\n' ' ')"
		done_c=$((done_c + reqs))
		samples="$samples $(rel_rss)"
	done
	local secs=$(($(date +%s) - t0))
	note "soak: $done_c connections in ${secs}s over $chunk wrk runs; VmRSS samples (kB): $samples"
	if [ "$done_c" -ge "$SOAK_CONNS" ]; then
		pass "soak: $done_c connections churned (one request each) in ${secs}s"
	else
		fail "soak: churn" "$done_c of $SOAK_CONNS connections before the time bound"
	fi
	[ "$errs" = 0 ] && pass "soak: every wrk run all 200, no socket error" || fail "soak: errors" "$errs wrk runs had errors"
	# flat after warm-up: the sample after the first 10% of runs vs the last
	local arr warm last
	read -ra arr <<<"$samples"
	warm=${arr[$(((${#arr[@]} - 1) / 10 + 1))]:-${arr[-1]:-}}
	last=${arr[-1]:-}
	if [ "${#arr[@]}" -lt $((chunk + 1)) ] || [ -z "$warm" ] || [ -z "$last" ]; then
		fail "soak: memory" "${#arr[@]} VmRSS samples for $chunk wrk runs (the server was gone?)"
	elif [ $((last - warm)) -le $((warm / 100 + 1024)) ]; then
		pass "soak: VmRSS flat after warm-up ($warm kB -> $last kB, start ${arr[0]} kB)"
	else
		fail "soak: memory growth" "VmRSS $warm kB after warm-up -> $last kB at the end"
	fi
	rel_tel >"$rel_work/soak.tel"
	local po cl two ovf pe lf
	if ! rel_stats_into "$rel_work/soak.tel" po=tcp_passive_opens cl=tcp_closed ovf=tcp_timewait_overflow \
		two=tcp_timewait_reused pe=tcp_pool_empty lf=drop_tcp_cookie_pool_full; then
		fail "soak: counters" "no telemetry after the soak: $rel_missing"
		stop_and_stats soak
		check_balance soak "$rel_work/soak.stats"
		return
	fi
	note "soak counters: tcp_passive_opens=$po tcp_closed=$cl tcp_timewait_overflow=$ovf tcp_timewait_reused=$two tcp_pool_empty=$pe drop_tcp_cookie_pool_full=$lf"
	# Every connection wrk completed was one the server opened.
	if [ "$done_c" -gt 0 ] && [ "$po" -ge "$done_c" ]; then
		pass "soak: the server opened the connections (tcp_passive_opens $po >= $done_c completed by wrk)"
	else
		fail "soak: connections opened" "tcp_passive_opens $po, wrk completed $done_c"
	fi
	if [ "$pe" = 0 ] && [ "$lf" = 0 ] && [ "$ovf" -le $((po > TIMEWAIT_MAX ? po - TIMEWAIT_MAX : 0)) ]; then
		pass "soak: no TCB exhaustion (tcp_pool_empty 0, drop_tcp_cookie_pool_full 0); TIME-WAIT overflow $ovf <= opens - $TIMEWAIT_MAX (oldest TIME-WAIT recycled as designed)"
	else
		fail "soak: TIME-WAIT / pool" "tcp_pool_empty=$pe drop_tcp_cookie_pool_full=$lf tcp_timewait_overflow=$ovf opens=$po"
	fi
	# TCB pool back to full: every TCB closed once TIME-WAIT (60 s) ends.
	local i inuse=$((po - cl))
	for i in $(seq 40); do
		[ "$inuse" = 0 ] && break
		sleep 2
		inuse=""
		rel_tel >"$rel_work/soak.tel" && rel_stats_into "$rel_work/soak.tel" po=tcp_passive_opens cl=tcp_closed &&
			inuse=$((po - cl))
	done
	if [ -z "$inuse" ]; then
		fail "soak: TCB pool" "no telemetry while waiting for the pool: ${rel_missing:-empty answer}"
	elif [ "$inuse" = 0 ]; then
		pass "soak: TCB pool back to full after TIME-WAIT (tcp_passive_opens = tcp_closed = $cl)"
	else
		fail "soak: TCB pool" "$inuse TCBs still in use 80 s after the last connection"
	fi
	stop_and_stats soak
	check_balance soak "$rel_work/soak.stats"
}

# With REL_FUNCTIONS_ONLY=1 (sourced by tests/selftest), stop here: the
# checks above are defined, nothing runs.
[ -n "${REL_FUNCTIONS_ONLY:-}" ] && return 0

trap rel_cleanup EXIT
trap 'exit 1' INT TERM
if [ "$(id -u)" != 0 ]; then
	echo "SKIP reliability: needs root (network namespaces, raw sockets)"
	exit 77
fi
if [ ! -x "$REL_BIN" ]; then
	echo "SKIP reliability: $REL_BIN not built (needs DPDK and lib/tcp)"
	exit 77
fi
missing=""
for t in hping3 nft wrk dpdk-telemetry.py; do command -v "$t" >/dev/null || missing="$missing $t"; done
"$REL_PY" -c 'import scapy' 2>/dev/null || missing="$missing python3-scapy"
if [ -n "$missing" ]; then
	fail "dependencies" "missing:$missing (tests/deps.sh test installs them)"
	exit 1
fi
note "sizes: SOAK_CONNS=$SOAK_CONNS SLOW_CONNS=$SLOW_CONNS FLOOD_SYNS=$FLOOD_SYNS ADV_FLOOD=$ADV_FLOOD (full=$full)"
rel_corpus
rel_topology || { fail "setup" "namespaces"; exit 1; }

for st in $stages; do
	case $st in
	adv | sec | ooo | v6 | faults | flood | slow | soak) note "---- stage $st ($(date +%T))"; "stage_$st" ;;
	*) fail "stage $st" "unknown (adv sec ooo v6 faults flood slow soak)" ;;
	esac
done
note "done $(date +%T): $fails failed"
[ "$fails" = 0 ]
