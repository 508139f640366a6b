#!/usr/bin/env bash
# check_exports.sh CC LIBSO HEADER...: the shared library exports exactly
# the functions the public headers declare (as the compiler reads them,
# lib/api_symbols.sh) and nothing else: no private usn_ function, no data,
# nothing missing. Prints each difference and exits 1 on any; also checks
# the soname is versioned (libusnet.so.N).
set -u
cc=${1:?usage: check_exports.sh CC LIBSO HEADER...}
so=${2:?usage: check_exports.sh CC LIBSO HEADER...}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d /tmp/usn_exports.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
bad=0
[ -e "$so" ] || { echo "exports: $so not built"; exit 1; }
(cd "$top" && lib/api_symbols.sh "$cc" "$@") >"$tmp/declared" || { echo "exports: cannot read the headers"; exit 1; }
[ -s "$tmp/declared" ] || { echo "exports: the headers declare nothing"; exit 1; }
# Every defined dynamic symbol but the linker's own (_init, _fini, ...).
nm -D --defined-only "$so" | awk '$3 !~ /^_/ {print $3}' | sort -u >"$tmp/exported"
while read -r s; do
	echo "exports: $s is exported but no public header declares it"
	bad=1
done < <(comm -13 "$tmp/declared" "$tmp/exported")
while read -r s; do
	echo "exports: $s is declared in include/usnet/ but not exported"
	bad=1
done < <(comm -23 "$tmp/declared" "$tmp/exported")
soname=$(readelf -d "$so" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
case $soname in
libusnet.so.[0-9]*) ;;
*) echo "exports: soname '$soname' is not libusnet.so.N"; bad=1 ;;
esac
[ $bad = 0 ] || exit 1
echo "exports ok: $(wc -l <"$tmp/exported") functions, soname $soname"
