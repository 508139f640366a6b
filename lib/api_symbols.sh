#!/bin/sh
# lib/api_symbols.sh CC HEADER...: the functions the public headers declare
# (extern, not static inline), one name a line, as the compiler reads them
# (gcc -aux-info). The shared library exports exactly these (Makefile: the
# version script) and tests/layout/check_exports.sh checks it.
set -eu
cc=$1
shift
tmp=$(mktemp -d /tmp/usn_api.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
for h in "$@"; do
	printf '#include "%s"\n' "$h"
done >"$tmp/api.c"
$cc -std=c11 -I. -Iinclude -fsyntax-only -aux-info "$tmp/api.aux" "$tmp/api.c"
# -aux-info names each declaration's file as the preprocessor reached it
# (./include/usnet/x.h, include/usnet/x.h): match on usnet/x.h.
for h in "$@"; do
	grep -F "usnet/${h##*/}:" "$tmp/api.aux" || true
done | grep ' extern ' | sed -E 's/.*[ *]([A-Za-z_][A-Za-z0-9_]*) \(.*/\1/' | sort -u
