#!/usr/bin/env bash
# Rig suite: usn_echo's start-up errors (and --help of usn_echo, minimal_ws
# and usn_load, through tests/rig/help_check.sh). Each bad, missing or malformed flag,
# each unusable EAL set-up (no port, too few lcores or queues, not root)
# must end with exactly one clear "usn_echo: ..." line on stderr and a
# non-zero exit; nothing here starts a server. Prints PASS/FAIL lines.
# Needs root for the EAL cases. Binary: $USN_ECHO (default build/rel/apps/usn_echo).
set -u
cd "$(dirname "$0")/../.." || exit 1

BIN=${USN_ECHO:-build/rel/apps/usn_echo}
id=$$
NS=usnef$id
tmp=$(mktemp -d /tmp/usn_flags_rig.XXXXXX)
fails=0
# Small EAL set-up that touches no PCI device and no hugepage.
EAL="--no-huge --no-pci -m 256 --file-prefix=usnf$id"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }

cleanup() {
	ip netns del "$NS" 2>/dev/null
	# The EAL leaves its runtime directory behind.
	rm -rf "$tmp" "/var/run/dpdk/usnf$id"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -x "$BIN" ]; then
	fail dpdk_flags "$BIN not built (make with libdpdk installed)"
	exit 1
fi
# The EAL cases run in a namespace of their own (net_af_packet binds its lo).
if [ "$(id -u)" = 0 ]; then
	ip netns add "$NS" && ip -n "$NS" link set lo up || { fail setup "cannot create namespace $NS"; exit 1; }
fi

# expect NAME EXIT REGEX ARGS...: runs usn_echo ARGS (bounded), wants exit
# status EXIT and one stderr line "usn_echo: ..." matching REGEX, last.
expect() {
	local name=$1 want_rc=$2 re=$3
	shift 3
	local pre=()
	[ "$(id -u)" = 0 ] && pre=(ip netns exec "$NS")
	timeout 60 "${pre[@]}" "$BIN" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local rc=$?
	local ours last
	ours=$(grep -c '^usn_echo: ' "$tmp/err")
	last=$(tail -1 "$tmp/err")
	if [ "$rc" != "$want_rc" ]; then
		fail "$name" "exit $rc, wanted $want_rc (stderr: $(tail -2 "$tmp/err" | tr '\n' ' '))"
	elif [ "$ours" != 1 ]; then
		fail "$name" "$ours 'usn_echo:' lines on stderr, wanted one: $(tr '\n' ' ' <"$tmp/err" | cut -c1-300)"
	elif ! [[ "$last" =~ ^usn_echo:\ .*$re ]]; then
		fail "$name" "last stderr line '$last' does not match '$re'"
	else
		pass "$name ($last)"
	fi
}

# Program options (checked before the EAL starts: no root needed).
expect "no arguments" 2 "missing --ip"
expect "no --ip" 2 "missing --ip" -- --port 7
expect "--ip without value" 2 "option --ip needs a value" -- --ip
expect "--ip without prefix" 2 "expected ADDR/PREFIX" -- --ip 198.18.0.2
expect "--ip bad address" 2 '"198.18.0.300" is not an IPv4 address' -- --ip 198.18.0.300/24
expect "--ip bad prefix" 2 'prefix "33" is not in 1..32' -- --ip 198.18.0.2/33
expect "--ip empty prefix" 2 'prefix "" is not in 1..32' -- --ip 198.18.0.2/
expect "--gw malformed" 2 "--gw 198.18.1: not an IPv4 address" -- --ip 198.18.0.2/24 --gw 198.18.1
expect "--port 0" 2 "--port 0: not a port number" -- --ip 198.18.0.2/24 --port 0
expect "--port 70000" 2 "--port 70000: not a port number" -- --ip 198.18.0.2/24 --port 70000
expect "--port abc" 2 "--port abc: not a port number" -- --ip 198.18.0.2/24 --port abc
expect "--port=-1" 2 "--port -1: not a port number" -- --ip 198.18.0.2/24 --port=-1
expect "--workers 0" 2 "--workers 0: not a number in 1..64" -- --ip 198.18.0.2/24 --workers 0
expect "--workers 65" 2 "--workers 65: not a number in 1..64" -- --ip 198.18.0.2/24 --workers 65
expect "--idle-backoff-us -5" 2 "--idle-backoff-us -5: not a number" -- --ip 198.18.0.2/24 --idle-backoff-us -5
expect "--max-conns 0" 2 "--max-conns 0: not a number in 1..1000000" -- --ip 198.18.0.2/24 --max-conns 0
expect "--max-conns 1000001" 2 "--max-conns 1000001: not a number in 1..1000000" -- --ip 198.18.0.2/24 --max-conns 1000001
expect "unknown option" 2 "unknown option --bogus" -- --ip 198.18.0.2/24 --bogus 1
expect "stray argument" 2 'unexpected argument "foo"' -- --ip 198.18.0.2/24 foo

if "$BIN" --help 2>/dev/null | grep -q '^usage: usn_echo' && "$BIN" -- --help | grep -q -- '--ip ADDR/PREFIX'; then
	pass "--help prints the usage, exit 0"
else
	fail "--help" "no usage on stdout or non-zero exit"
fi
# The backends' lines of --help, whole: the last DPDK option is there.
if "$BIN" --help 2>/dev/null | grep -q -- '--usn-memif-tso (net_memif'; then
	pass "--help lists every backend option (through --usn-memif-tso)"
else
	fail "--help backend options" "the DPDK lines end with: $("$BIN" --help 2>/dev/null | tail -1)"
fi
# --help of every DPDK program: exit 0 before the EAL, with or without
# "--", one line per flag it parses, the same rows in its README.md.
help_check() {
	local out
	out=$(tests/rig/help_check.sh "$@" 2>&1)
	printf '%s\n' "$out"
	fails=$((fails + $(grep -c '^FAIL ' <<<"$out")))
}
help_check usn_echo "$BIN" apps/echo/echo.c apps/echo/README.md dpdk
help_check minimal_ws "${MINIMAL_WS:-$(dirname "$BIN")/minimal_ws}" apps/minimal_ws/main.c apps/minimal_ws/README.md dpdk
help_check usn_load "${USN_LOAD:-$(dirname "$BIN")/usn_load}" apps/usn_load/main.c apps/usn_load/README.md dpdk

# Back-end and EAL set-up errors.
if [ "$(id -u)" = 0 ]; then
	nobody_bin=$tmp/usn_echo
	cp "$BIN" "$nobody_bin" && chmod 755 "$tmp" "$nobody_bin"
	if out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$nobody_bin" $EAL -l 0 -- --ip 198.18.0.2/24 2>&1 </dev/null); then
		fail "not root" "exit 0"
	elif [ "$(printf '%s\n' "$out" | tail -1)" = "usn_echo: must run as root: DPDK needs raw sockets, BPF or vfio and locked memory (try sudo)" ]; then
		pass "not root ($(printf '%s\n' "$out" | tail -1))"
	else
		fail "not root" "got '$(printf '%s\n' "$out" | tail -1)'"
	fi

	expect "no port" 1 "no Ethernet port found: .*--vdev=net_af_packet0,iface=" $EAL -l 0 -- --ip 198.18.0.2/24
	expect "bad EAL option" 1 "EAL initialisation failed" $EAL -l 0 --no-such-eal-option -- --ip 198.18.0.2/24
	expect "bad EAL lcore list" 1 "EAL initialisation failed" $EAL -l 99-98 -- --ip 198.18.0.2/24
	expect "stray EAL argument" 1 'unexpected argument "stray" among the EAL options' $EAL -l 0 stray -- --ip 198.18.0.2/24
	expect "bad --usn-port value" 1 "bad value in --usn-port=abc" $EAL -l 0 --usn-port=abc -- --ip 198.18.0.2/24
	expect "unknown backend option" 1 "unknown backend option --usn-frob=1" $EAL -l 0 --usn-frob=1 -- --ip 198.18.0.2/24
	expect "--usn-port out of range" 1 "--usn-port=7: no such port" $EAL -l 0 --vdev=net_null0 --usn-port=7 -- --ip 198.18.0.2/24
	expect "too few lcores" 1 "2 workers need 2 EAL lcores .*pass -l 0-1" $EAL -l 0 --vdev=net_null0 -- --ip 198.18.0.2/24 --workers 2
	expect "too few queues" 1 "has at most 1 RX / 1 TX queues, 2 workers" $EAL -l 0-1 --vdev=net_af_packet0,iface=lo -- --ip 198.18.0.2/24 --workers 2
	expect "af_packet queues unpolled" 1 "opened with 2 queues for 1 worker: .*give qpairs=1" $EAL -l 0 --vdev=net_af_packet0,iface=lo,qpairs=2 -- --ip 198.18.0.2/24
	expect "--usn-zero-copy bad value" 1 "bad value in --usn-zero-copy=maybe \\(expected --usn-zero-copy=auto, on or off\\)" \
		$EAL -l 0 --vdev=net_null0 --usn-zero-copy=maybe -- --ip 198.18.0.2/24
	expect "--usn-zero-copy=on without chained TX" 1 "--usn-zero-copy=on: port 0 \\(net_null\\) cannot: it takes no chained mbufs" \
		$EAL -l 0 --vdev=net_null0 --usn-zero-copy=on -- --ip 198.18.0.2/24
	expect "--usn-memif-tso on another port" 1 "--usn-memif-tso: port 0 is net_null, not net_memif" \
		$EAL -l 0 --vdev=net_null0 --usn-memif-tso -- --ip 198.18.0.2/24
	expect "--usn-memif-tso with small ring buffers" 1 "--usn-memif-tso: the memif ring buffers hold 2048 bytes.*give bsize=65535" \
		$EAL -l 0 --vdev="net_memif0,role=server,socket=$tmp/m.sock" --usn-memif-tso -- --ip 198.18.0.2/24
	expect "--usn-memif-tso with --usn-no-tso" 1 "--usn-memif-tso and --usn-no-tso contradict" \
		$EAL -l 0 --vdev="net_memif0,role=server,socket=$tmp/m.sock,bsize=65535" --usn-memif-tso --usn-no-tso -- --ip 198.18.0.2/24
	expect "network address" 1 "ip: the network or broadcast address" $EAL -l 0 --vdev=net_null0 -- --ip 198.18.0.0/24
	expect "gateway off-link" 1 "gateway: not on the interface's /24" $EAL -l 0 --vdev=net_null0 -- --ip 198.18.0.2/24 --gw 198.19.0.1
	# The tables of --max-conns come from the EAL's -m (256 here): too many
	# is one line naming both, not a crash.
	expect "--max-conns beyond -m" 1 "cannot create the stack: no memory for 1000000 connections per worker\\? \\(lower --max-conns; with DPDK, raise the EAL's -m\\)" \
		$EAL -l 0 --vdev=net_null0 -- --ip 198.18.0.2/24 --max-conns 1000000

	# A second primary process on the same --file-prefix: the first, on
	# net_null, idles (backing off) until it is stopped, by pid.
	ip netns exec "$NS" "$BIN" $EAL -l 0 --vdev=net_null0 -- --ip 198.18.0.2/24 --idle-backoff-us 10000 \
		>"$tmp/first.log" 2>&1 </dev/null &
	first=$!
	for _ in $(seq 50); do grep -q 'listening on' "$tmp/first.log" && break; sleep 0.2; done
	expect "same --file-prefix as a running process" 1 "EAL initialisation failed .*same --file-prefix" \
		$EAL -l 0 --vdev=net_null0 -- --ip 198.18.0.2/24
	kill -INT "$first" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$first" 2>/dev/null || break; sleep 0.2; done
	kill -KILL "$first" 2>/dev/null
	wait "$first" 2>/dev/null
else
	echo "SKIP EAL cases: need root"
fi

[ "$fails" -eq 0 ]
