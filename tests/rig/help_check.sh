#!/usr/bin/env bash
# Rig helper (called by run_dpdk_flags.sh and tests/http/run_http_bsd.sh):
# a program's --help. --help and -h, with and without "--", before any EAL
# start-up (no root, no port): exit 0, usage on stdout, nothing on stderr,
# one line per flag the source parses (string literals "--flag", getopt_long
# {"flag", ...} entries; also those of apps/common/cli.c, --help, when the
# source includes its cli.h, and of apps/common/observe.c when it includes
# observe.h), each also a row of the program's README.md table.
# Usage: tests/rig/help_check.sh NAME BIN SOURCE README [dpdk]. Prints
# PASS/FAIL; "dpdk": also with EAL options and "--" around the flag.
set -u
name=$1 bin=$2 src=$3 readme=$4 dpdk=${5:-}
if [ ! -x "$bin" ]; then
	echo "FAIL $name --help: $bin not built"
	exit 1
fi
tmp=$(mktemp -d /tmp/usn_help.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }

srcs=("$src")
cli=$(dirname "$src")/../common/cli.c
grep -q '#include "../common/cli.h"' "$src" && srcs+=("$cli")
obs=$(dirname "$src")/../common/observe.c
grep -q '#include "../common/observe.h"' "$src" && srcs+=("$obs")
flags=$({
	grep -ohE '"--[a-z][a-z-]*"' "${srcs[@]}"
	grep -ohE '\{"[a-z][a-z-]*", *(required|no|optional)_argument' "${srcs[@]}" | sed -E 's/^\{"([^"]*)".*/"--\1"/'
} | tr -d '"' | sort -u)
[ -n "$flags" ] || fail "$name --help" "no flags found in $src"

variants=("--help" "-h")
[ "$dpdk" = dpdk ] && variants+=("-- --help" "--no-huge -- -h" "--no-huge --help --")
for variant in "${variants[@]}"; do
	# shellcheck disable=SC2086 # the variant is several words on purpose
	timeout 10 "$bin" $variant >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$rc" != 0 ]; then
		fail "$name $variant" "exit $rc: $(head -c 200 "$tmp/err")"
	elif [ -s "$tmp/err" ]; then
		fail "$name $variant" "stderr: $(head -c 200 "$tmp/err")"
	elif ! head -1 "$tmp/out" | grep -q "^usage: $(basename "$bin") "; then
		fail "$name $variant" "first line '$(head -1 "$tmp/out")'"
	else
		echo "PASS $name $variant: exit 0, usage on stdout"
	fi
done

timeout 10 "$bin" --help >"$tmp/out" 2>/dev/null </dev/null
missing="" undocumented=""
for f in $flags; do
	[ "$f" = --help ] && f="-h, --help"
	# One line per flag: two spaces, the flag, its value name, its meaning.
	line=$(grep -E -- "^  $f( |$)" "$tmp/out" | head -1)
	if [ -z "$line" ]; then
		missing="$missing $f"
		continue
	fi
	[ "$f" = "-h, --help" ] || grep -qiE 'default|required' <<<"$line" || undocumented="$undocumented $f"
	grep -qF -- "| \`$(sed -E 's/^  (.*[^ ]) {2,}.*$/\1/' <<<"$line")\` |" "$readme" || missing="$missing $f(README)"
done
if [ -n "$missing" ]; then
	fail "$name --help lists every flag" "missing:$missing"
else
	echo "PASS $name --help lists every flag ($(echo $flags | wc -w)), each a row of $(basename "$(dirname "$readme")")/README.md"
fi
if [ -n "$undocumented" ]; then
	fail "$name --help gives each flag's default" "no default or 'required' for:$undocumented"
else
	echo "PASS $name --help gives each flag's default"
fi
[ "$fails" -eq 0 ]
