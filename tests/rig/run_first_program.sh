#!/usr/bin/env bash
# Rig suite: README's first program, as a user would take it. `make install`
# into a temporary prefix; examples/hello.c (which README shows, byte for
# byte) copied out of the tree and built with nothing but the installed
# headers and `pkg-config --cflags --libs usnet-port`, warnings as errors;
# then run, as README says, on the Linux packet port at one end of a veth
# pair (namespaces of its own, 198.18.0.0/15, removed by a trap) and greeted
# from the kernel at the other end.
# Prints PASS/FAIL lines; exits 1 on a failure. Not root: the build is
# checked and the run is reported skipped.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
O=${O:-build}
name=first_program
id=$$
ns_s=usnfs$id ns_c=usnfc$id if_s=vfs$id if_c=vfc$id
work=$(mktemp -d /tmp/usn_first.XXXXXX)
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
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# README carries the program itself: the block after the "examples/hello.c"
# marker must be the file.
awk '/^<!-- examples\/hello.c -->$/ {on = 1; next} on && /^```c$/ {in_block = 1; next}
	in_block && /^```$/ {exit} in_block {print}' "$top/README.md" >"$work/readme_hello.c"
if cmp -s "$work/readme_hello.c" "$top/examples/hello.c"; then
	pass "README shows examples/hello.c as it is ($(wc -l <"$top/examples/hello.c") lines)"
else
	fail "README shows examples/hello.c as it is" "$(diff "$work/readme_hello.c" "$top/examples/hello.c" | head -5 | tr '\n' ' ')"
fi

# The build itself, as bench/ sees it: after `make all` (which the rig
# suites run after) `make -q` finds every program up to date, or the
# benchmark would refuse to measure them as stale.
stale=""
for p in minimal_ws usn_load usn_echo bsd_ws; do
	[ -x "$top/$O/rel/apps/$p" ] || continue
	make -s -q -C "$top" O="$O" SAN=0 "$O/rel/apps/$p" 2>/dev/null || stale="$stale $p"
done
[ -z "$stale" ] && pass "after make all, make -q finds the programs up to date" ||
	fail "after make all, make -q finds the programs up to date" "stale:$stale"

prefix=$work/prefix
if make -s -C "$top" O="$O" install PREFIX="$prefix" >"$work/install.log" 2>&1; then
	pass "make install PREFIX=$prefix"
else
	fail "make install" "$(tail -3 "$work/install.log" | tr '\n' ' ')"
	exit 1
fi
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
if pkg-config --exists usnet-port; then
	pass "pkg-config finds usnet-port in the prefix: $(sed -n 's/^Description: //p' "$prefix/lib/pkgconfig/usnet-port.pc")"
else
	fail "pkg-config finds usnet-port" "$(ls "$prefix/lib/pkgconfig")"
	exit 1
fi
mkdir -p "$work/src"
cp "$top/examples/hello.c" "$work/src/"
# Out of the tree: the compiler sees only the installed prefix.
if (cd "$work/src" && cc -std=c11 -Wall -Wextra -Werror hello.c $(pkg-config --cflags --libs usnet-port) \
	-o hello) >"$work/cc.log" 2>&1; then
	pass "hello.c builds out of the tree with pkg-config --cflags --libs usnet-port, -Wall -Wextra -Werror"
else
	fail "hello.c builds with pkg-config" "$(head -5 "$work/cc.log" | tr '\n' ' ')"
	exit 1
fi
if grep -q '/src/\|/include/usnet/\.\./' "$work/cc.log"; then
	fail "no tree paths" "$(head -3 "$work/cc.log")"
fi
# The program needs the library by its soname (libusnet.so.0), which the
# install links to the versioned file.
lib=$(ldd "$work/src/hello" | awk '/libusnet\.so/ {print $3}')
if [ "$lib" = "$prefix/lib/libusnet.so.0" ]; then
	pass "hello finds libusnet.so.0 in the prefix by itself (run path)"
else
	fail "hello finds libusnet.so.0 in the prefix" "ldd: ${lib:-not found}"
fi
out=$("$work/src/hello" --iface 2>&1)
rc=$?
[ "$rc" = 2 ] && grep -q '^usage: hello' <<<"$out" && pass "hello without an interface: usage, exit 2" ||
	fail "hello without an interface" "exit $rc: $out"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP $name: running it needs root (a veth in network namespaces)"
	[ "$fails" = 0 ]
	exit
fi
ip netns add "$ns_s" && ip netns add "$ns_c" || { fail setup "ip netns add"; exit 1; }
ip link add "$if_s" netns "$ns_s" type veth peer name "$if_c" netns "$ns_c" || { fail setup veth; exit 1; }
ip -n "$ns_s" link set "$if_s" up
ip -n "$ns_c" link set "$if_c" up
ip -n "$ns_c" addr add 198.18.0.1/24 dev "$if_c"
# greet WHAT PORT-ARGS...: runs hello on the port, reads its greeting as
# README does (bash's /dev/tcp, until the FIN), stops it with SIGINT.
greet() {
	local what=$1 got="" rc
	shift
	ip netns exec "$ns_s" "$work/src/hello" "$@" 198.18.0.2/24 >"$work/hello.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do grep -q '^hello: listening' "$work/hello.log" && break; sleep 0.1; done
	for _ in $(seq 20); do
		got=$(ip netns exec "$ns_c" timeout 5 bash -c 'cat </dev/tcp/198.18.0.2/7' 2>/dev/null) && break
		sleep 0.2
	done
	if [ "$got" = "hello from libusnet" ]; then
		pass "$what: the kernel at the other end reads \"$got\" and the FIN"
	else
		fail "$what" "read '$got'; $(tail -3 "$work/hello.log" | tr '\n' ' ')"
	fi
	kill -INT "$pid"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid"
		rc=$?
		pid=""
		[ "$rc" = 0 ] && pass "$what: stops on SIGINT, exit 0" || fail "$what: stops on SIGINT" "exit $rc"
	else
		fail "$what: stops on SIGINT" "still running after 5 s"
	fi
}
greet "hello on a veth, the Linux packet port" --iface "$if_s"
# The same binary on DPDK, as README says (the kernel's side then sends
# complete checksums: net_af_packet passes partial ones on).
if grep -q DPDK "$prefix/lib/pkgconfig/usnet-port.pc"; then
	ip netns exec "$ns_c" ethtool -K "$if_c" tx off >/dev/null 2>&1
	greet "hello on a veth, DPDK net_af_packet" --no-huge -m 512 -l 0 --no-pci --file-prefix "usnfirst$id" \
		--vdev="net_af_packet0,iface=$if_s" --
	rm -rf /var/run/dpdk/usnfirst"$id"
fi
[ "$fails" = 0 ]
