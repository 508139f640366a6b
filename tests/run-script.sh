#!/usr/bin/env bash
# Runs one rig or HTTP suite script. The script prints lines "PASS name" and
# "FAIL name: why" and exits non-zero on any failure; this tallies them into
# <O>/results.txt. Usage: tests/run-script.sh O SCRIPT
set -u
o=$1; s=$2
name=rig/$(basename "$s" .sh)
log="$o/$(basename "$s" .sh).log"
mkdir -p "$o"
timeout 1800 bash "$s" > "$log" 2>&1 </dev/null
rc=$?
p=$(grep -c '^PASS ' "$log")
f=$(grep -c '^FAIL ' "$log")
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
if [ "$f" -ne 0 ]; then tail -40 "$log"; echo "FAIL $name (exit $rc): $p passed, $f failed"; else echo "ok   $name: $p passed"; fi
echo "$name $p $f" >> "$o/results.txt"
[ "$f" -eq 0 ]
