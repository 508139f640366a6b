#!/usr/bin/env bash
# Rig suite: large segments and zero-copy TX on the DPDK backend.
# - net_tap, which offers TSO (DPDK 22.11 cuts in software, librte_gso):
#   minimal_ws serves pages of 3.5 KB to 4 MB to curl in the tap's
#   namespace, every byte compared with the file; the stack handed the
#   port large segments (tcp_tso_frames) that left as more, smaller
#   packets, the pages went out as external buffers (tcp_zcopy_bytes) and
#   every one came back ("all returned"). Again with --usn-zero-copy=off
#   (TSO, copies) and --usn-no-tso (MSS frames): same bytes, no TSO frame.
# - net_memif between two libusnet processes with --usn-memif-tso at both
#   ends (bsize=65535): usn_load against minimal_ws, every body checked by
#   usn_load against the page files; segments crossed whole (the client
#   counts coalesced frames), zero-copy on, every buffer returned. And the
#   plain memif link without the option, for the same answers.
# Prints PASS/FAIL/SKIP lines. Needs root (else SKIP, exit 77).
# Binaries: $MINIMAL_WS, $USN_LOAD (default build/rel/apps/...).
set -u
cd "$(dirname "$0")/../.." || exit 1

MWS=${MINIMAL_WS:-build/rel/apps/minimal_ws}
LOAD=${USN_LOAD:-build/rel/apps/usn_load}
REQS=${USN_TSO_REQS:-500}
id=$$
NS=usnts$id
TAP=utt$id
SRV_IP=198.18.0.2
CLI_IP=198.18.0.1
tmp=$(mktemp -d /tmp/usn_tso_rig.XXXXXX)
EAL="--no-huge --no-pci -m 512"
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/rig/lsan.supp}
pids=()
fails=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
skip() { echo "SKIP $1: $2"; }

# stop PID: SIGINT (the programs print their counters and stop), then KILL.
stop() {
	local p=$1
	kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return; }
	kill -INT "$p" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}

cleanup() {
	for p in "${pids[@]}"; do stop "$p"; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$tmp" /var/run/dpdk/usnt"$id"*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	skip dpdk_tso "needs root (network namespaces, DPDK)"
	exit 77
fi
for b in "$MWS" "$LOAD"; do
	if [ ! -x "$b" ]; then
		fail dpdk_tso "$b not built (make with libdpdk installed)"
		exit 1
	fi
done

# Pages: one segment, a few, many (a 64 KB segment is 45 MSS pieces).
www=$tmp/www
mkdir -p "$www"
head -c 3500 /dev/urandom >"$www/small.bin"
head -c 70000 /dev/urandom >"$www/medium.bin"
head -c 1100000 /dev/urandom >"$www/large.bin"
head -c 4194304 /dev/urandom >"$www/huge.bin"

# wait_listening LOG PID: 0 once the program said "listening on".
wait_listening() {
	for _ in $(seq 100); do
		grep -q 'listening on' "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# counter LOG NAME: the worker counter NAME= from the exit lines (sum).
counter() {
	grep -o "[ (]$2=[0-9]*" "$1" | sed 's/.*=//' | awk '{s += $1} END {print s + 0}'
}

# ---------------------------------------------------------------- net_tap
if [ ! -c /dev/net/tun ]; then
	skip tap "no /dev/net/tun"
elif ! ip netns add "$NS" || ! ip -n "$NS" link set lo up; then
	fail setup "cannot create namespace $NS"
else
	# tap_case NAME MODE [BACKEND OPTIONS...]: MODE is tso-zc, tso or mss.
	tap_case() {
		local name=$1 mode=$2
		shift 2
		local log=$tmp/$name.log
		ip netns exec "$NS" "$MWS" $EAL -l 0 --file-prefix="usnt$id$name" --vdev="net_tap0,iface=$TAP" "$@" -- \
			--root "$www" --ip "$SRV_IP/24" --idle-backoff-us 200 >"$log" 2>&1 </dev/null &
		local p=$!
		pids+=("$p")
		if ! wait_listening "$log" "$p"; then
			fail "$name start" "$(tail -3 "$log" | tr '\n' ' ')"
			stop "$p"
			return
		fi
		ip -n "$NS" addr add "$CLI_IP/24" dev "$TAP" && ip -n "$NS" link set "$TAP" up
		local bad=0 f i
		for i in 1 2; do
			for f in small medium large huge; do
				if ! ip netns exec "$NS" curl -s -f -m 30 -o "$tmp/got" "http://$SRV_IP/$f.bin" ||
					! cmp -s "$tmp/got" "$www/$f.bin"; then
					bad=$((bad + 1))
				fi
			done
		done
		if [ "$bad" = 0 ]; then
			pass "$name: 8 pages (3.5 KB to 4 MB) to the kernel, every byte"
		else
			fail "$name pages" "$bad of 8 fetches failed or differ"
		fi
		stop "$p"
		local tso zc sent onwire
		tso=$(counter "$log" tcp_tso_frames)
		zc=$(counter "$log" tcp_zcopy_bytes)
		sent=$(counter "$log" tx_frames)
		onwire=$(sed -n 's/^port 0 (net_tap): .* tx \([0-9]*\) packets.*/\1/p' "$log")
		case $mode in
		tso*)
			if [ "$tso" -gt 0 ] && [ "${onwire:-0}" -gt $((sent + tso)) ]; then
				pass "$name: TSO used ($tso large segments; the stack sent $sent frames, the tap $onwire packets)"
			else
				fail "$name TSO" "tcp_tso_frames=$tso, stack frames $sent, tap packets ${onwire:-?}"
			fi
			;;
		mss)
			if [ "$tso" = 0 ]; then
				pass "$name: no large segment with --usn-no-tso"
			else
				fail "$name no TSO" "tcp_tso_frames=$tso"
			fi
			;;
		esac
		if [ "$mode" = tso-zc ]; then
			if grep -q 'zero-copy TX on' "$log" && [ "$zc" -gt 8000000 ] &&
				grep -q 'zero-copy: [0-9]* external buffers attached, all returned' "$log"; then
				pass "$name: pages sent in place ($zc bytes as external buffers), every buffer returned"
			else
				fail "$name zero-copy" "tcp_zcopy_bytes=$zc; $(grep -E 'zero-copy' "$log" | tr '\n' ' ')"
			fi
		elif [ "$zc" != 0 ] || ! grep -q 'zero-copy TX off' "$log"; then
			fail "$name copies" "tcp_zcopy_bytes=$zc with zero-copy off"
		else
			pass "$name: pages copied (zero-copy off)"
		fi
		grep -E '^(port|large segments|worker 0 \(lcore)' "$log" | sed "s/^/  [$name] /"
		ip -n "$NS" link del "$TAP" 2>/dev/null
	}
	tap_case tap_tso tso-zc
	tap_case tap_tso_copy tso --usn-zero-copy=off
	tap_case tap_mss mss --usn-no-tso
fi

# ---------------------------------------------------------------- net_memif
# memif_case NAME [BACKEND OPTIONS...]: minimal_ws (server) on lcore 0,
# usn_load (client) on lcore 1, over one memif socket.
#
# DPDK 22.11's memif PMD has a race of its own: when the peer leaves, its
# interrupt thread unmaps the shared regions (memif_disconnect) without
# waiting for a datapath thread inside rte_eth_rx_burst, which then reads
# unmapped memory. The client leaves first here, so the server can die of
# it, more often on a loaded machine (about 1 run in 7 with builds beside
# it). A server that died before it was told to stop, after the client got
# every body right, is that race: said so in a NOTE and the case is run
# once more; any other death, or a second one, fails.
memif_case() {
	local name=$1 try
	shift
	for try in 1 2; do
		memif_try "$name" "$try" "$@" && return
	done
}

# memif_try NAME TRY [BACKEND OPTIONS...]: one run of memif_case; status 1
# when the server died of the memif race on the first try (run it again).
memif_try() {
	local name=$1 try=$2
	shift 2
	local sock=$tmp/$name.$try.sock slog=$tmp/$name.srv clog=$tmp/$name.cli dev_opt=""
	[ "$#" -gt 0 ] && dev_opt=",bsize=65535,rsize=8"
	"$MWS" $EAL -l 0 --file-prefix="usnt${id}${name}${try}s" --vdev="net_memif0,role=server,socket=$sock$dev_opt" "$@" -- \
		--root "$www" --ip "$CLI_IP/24" >"$slog" 2>&1 </dev/null &
	local sp=$!
	pids+=("$sp")
	if ! wait_listening "$slog" "$sp"; then
		fail "$name server start" "$(tail -3 "$slog" | tr '\n' ' ')"
		stop "$sp"
		return
	fi
	timeout 180 "$LOAD" $EAL -l 1 --file-prefix="usnt${id}${name}${try}c" --vdev="net_memif0,role=client,socket=$sock$dev_opt" \
		"$@" -- --ip "$SRV_IP/24" --server "$CLI_IP" --pages "$www" --connections 16 --requests "$REQS" \
		--timeout 10 >"$clog" 2>&1 </dev/null
	local rc=$? died=0
	# Exited already? (A zombie until waited for, which kill -0 still finds.)
	case $(awk '{print $3}' "/proc/$sp/stat" 2>/dev/null) in '' | Z | X) died=1 ;; esac
	stop "$sp"
	if [ "$died" = 1 ] && [ "$try" = 1 ] && [ "$rc" = 0 ] &&
		grep -q "requests: $REQS started, $REQS correct, 0 errors" "$clog"; then
		echo "NOTE $name: the server died after the client left, every body correct (DPDK memif's disconnect race, above); running the case again"
		return 1
	fi
	[ "$died" = 1 ] && fail "$name server" "died before it was told to stop ($(tail -1 "$slog"))"
	if [ "$rc" = 0 ] && grep -q "requests: $REQS started, $REQS correct, 0 errors" "$clog"; then
		pass "$name: usn_load -> minimal_ws, $REQS requests, every body checked"
	else
		fail "$name load" "exit $rc: $(grep -E '^(requests|errors)' "$clog" | tr '\n' ' ')$(tail -2 "$clog" | tr '\n' ' ')"
	fi
	local tso coal zc
	tso=$(counter "$slog" tcp_tso_frames)
	coal=$(counter "$clog" rx_coalesced)
	zc=$(counter "$slog" tcp_zcopy_bytes)
	if [ "$#" -gt 0 ]; then
		if [ "$tso" -gt 0 ] && [ "$coal" -gt 0 ] && [ "$zc" -gt 0 ] &&
			grep -q 'zero-copy: [0-9]* external buffers attached, all returned' "$slog"; then
			pass "$name: $tso large segments crossed whole ($coal coalesced at the client), $zc bytes in place, every buffer returned"
		else
			fail "$name large segments" "tcp_tso_frames=$tso rx_coalesced=$coal tcp_zcopy_bytes=$zc; $(grep -E 'zero-copy:' "$slog" | tr '\n' ' ')"
		fi
	elif [ "$tso" = 0 ] && [ "$coal" = 0 ]; then
		pass "$name: MSS frames only without --usn-memif-tso"
	else
		fail "$name plain" "tcp_tso_frames=$tso rx_coalesced=$coal without --usn-memif-tso"
	fi
	grep -E '^(port|large segments|worker 0 \(lcore)' "$slog" | sed "s/^/  [$name server] /"
	grep -E '^(requests|throughput|port|large segments)' "$clog" | sed "s/^/  [$name client] /"
}
memif_case memif_tso --usn-memif-tso
memif_case memif_plain

[ "$fails" -eq 0 ]
