#!/usr/bin/env bash
# Self-test of the layout checks (make test-selftest, in make test): each
# check must pass on the tree and fail on a fixture made wrong on purpose:
# a lib/core object that calls TCP, a lib/tcp file that calls one ranked
# above it, a lib/wire file that includes a lib/net header; a shared
# library that exports a private usn_ function, one that misses a declared
# function, one without a versioned soname. Prints "PASS name" or
# "FAIL name: why". Environment: B (the build, default build/rel), CC.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${B:-build/rel}
CC=${CC:-cc}
tmp=$(mktemp -d /tmp/usn_layout.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
# expect NAME WANT REGEX CMD...: CMD exits 0 (WANT=ok) or not (WANT=bad),
# and for bad, its output has a line matching REGEX (the reason named).
expect() {
	local name=$1 want=$2 re=$3 rc
	shift 3
	"$@" >"$tmp/out" 2>&1
	rc=$?
	if [ "$want" = ok ] && [ $rc = 0 ]; then
		pass "$name"
	elif [ "$want" = bad ] && [ $rc != 0 ] && grep -qE -- "$re" "$tmp/out"; then
		pass "$name"
	else
		fail "$name" "exit $rc, wanted $want /$re/: $(tail -3 "$tmp/out" | tr '\n' ' ' | cut -c1-300)"
	fi
}
cflags="-std=c11 -O1 -fPIC -Iinclude -Ilib -Iarch/sim"

# A copy of the sources and objects the checks read, to break on purpose.
fixture() {
	rm -rf "$tmp/src" "$tmp/bld"
	mkdir -p "$tmp/src/arch" "$tmp/bld/arch"
	cp -r lib "$tmp/src/lib"
	cp -r arch/sim "$tmp/src/arch/sim"
	cp -r "$B/lib" "$tmp/bld/lib"
	cp -r "$B/arch/sim" "$tmp/bld/arch/sim"
}
# rebuild FILE: compiles the fixture's lib/FILE.c into its object.
rebuild() {
	$CC $cflags -c "$tmp/src/lib/$1.c" -o "$tmp/bld/lib/$1.o"
}

# ---------------------------------------------------------------- layers
expect "layers: the tree passes" ok "" tests/layout/check_layers.sh . "$B"

fixture
# The ground floor calling TCP, declared by hand so that no include gives
# it away: only the object's symbols show it.
cat >>"$tmp/src/lib/core/pool.c" <<'C'
struct usn_worker;
void usn_tcp_worker_flush(struct usn_worker *w);
void usn_pool_selftest_probe(struct usn_worker *w);
void usn_pool_selftest_probe(struct usn_worker *w)
{
	usn_tcp_worker_flush(w);
}
C
if rebuild core/pool; then
	expect "layers: lib/core calling lib/tcp fails" bad 'core/pool\.o calls usn_tcp_worker_flush' \
		tests/layout/check_layers.sh "$tmp/src" "$tmp/bld"
else
	fail "layers: lib/core calling lib/tcp fails" "the fixture does not compile"
fi

fixture
# Inside lib/tcp: the table (rank 1) calling output (rank 5).
cat >>"$tmp/src/lib/tcp/tcp_table.c" <<'C'
void usn_tcp_table_selftest_probe(struct usn_tcp_conn *c);
void usn_tcp_table_selftest_probe(struct usn_tcp_conn *c)
{
	usn_tcp_output(c);
}
C
if rebuild tcp/tcp_table; then
	expect "layers: a lib/tcp file calling one ranked above it fails" bad 'tcp_table\.o calls usn_tcp_output' \
		tests/layout/check_layers.sh "$tmp/src" "$tmp/bld"
else
	fail "layers: a lib/tcp file calling one ranked above it fails" "the fixture does not compile"
fi

fixture
printf '#include "net/net.h"\n' >>"$tmp/src/lib/wire/eth.c"
expect "layers: lib/wire including a lib/net header fails" bad 'wire/eth\.c includes "net/net\.h"' \
	tests/layout/check_layers.sh "$tmp/src" "$tmp/bld"

fixture
printf '#include <rte_mbuf.h>\n' >>"$tmp/src/lib/core/buf.h"
expect "layers: a platform header in lib/ fails" bad 'core/buf\.h names a platform header' \
	tests/layout/check_layers.sh "$tmp/src" "$tmp/bld"

# ---------------------------------------------------------------- exports
so=$(ls "$B"/libusnet.so.*.*.* 2>/dev/null | head -1)
headers=$(ls include/usnet/*.h | grep -v '/backend')
expect "exports: libusnet.so passes" ok "" tests/layout/check_exports.sh "$CC" "$so" $headers

objs=$(for c in lib/*/*.c; do o=$B/${c%.c}.o; echo "$o"; done)
# link MAP SONAME OUT: the library's objects as a shared library.
link() {
	# shellcheck disable=SC2086
	$CC -shared ${2:+-Wl,-soname,$2} -Wl,--version-script="$1" -o "$3" $objs
}
printf '{\n\tglobal: usn_*;\n\tlocal: *;\n};\n' >"$tmp/all.map"
if link "$tmp/all.map" libusnet.so.0 "$tmp/libusnet.so.0.9.0"; then
	expect "exports: a private usn_ function exported fails" bad \
		'usn_worker_buf_alloc is exported but no public header declares it' \
		tests/layout/check_exports.sh "$CC" "$tmp/libusnet.so.0.9.0" $headers
else
	fail "exports: a private usn_ function exported fails" "cannot link the fixture"
fi
grep -v 'usn_tcp_abort;' "$B/usnet.map" >"$tmp/short.map"
if link "$tmp/short.map" libusnet.so.0 "$tmp/libusnet.so.0.9.1"; then
	expect "exports: a declared function missing fails" bad 'usn_tcp_abort is declared .* but not exported' \
		tests/layout/check_exports.sh "$CC" "$tmp/libusnet.so.0.9.1" $headers
else
	fail "exports: a declared function missing fails" "cannot link the fixture"
fi
if link "$B/usnet.map" "" "$tmp/libusnet.so.0.9.2"; then
	expect "exports: an unversioned soname fails" bad 'is not libusnet\.so\.N' \
		tests/layout/check_exports.sh "$CC" "$tmp/libusnet.so.0.9.2" $headers
else
	fail "exports: an unversioned soname fails" "cannot link the fixture"
fi

[ "$fails" = 0 ]
