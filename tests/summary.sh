#!/usr/bin/env bash
# Prints the closing line of `make test` from the per-suite results and
# fails if any test failed or none ran.
set -u
r=$1
[ -s "$r" ] || { echo "no test ran"; exit 1; }
awk '{p += $2; f += $3} END {printf "total: %d passed, %d failed\n", p, f; exit (f > 0 || p == 0)}' "$r"
