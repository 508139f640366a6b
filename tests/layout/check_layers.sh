#!/usr/bin/env bash
# check_layers.sh SRC BUILD: the dependency direction of lib/ (see
# ARCHITECTURE.md), checked two ways:
#  - includes: a file of lib/<layer>/ includes only headers of the layers it
#    may call, and no platform header (DPDK, gxio, Linux-only);
#  - calls: each object file of BUILD/lib/<layer>/ (and the simulated link,
#    BUILD/arch/sim/) references (nm -u) only usn_* functions defined in a
#    layer it may call; inside lib/tcp, only files ranked below its own.
# SRC holds lib/ and arch/sim/; BUILD the objects (build/rel). Prints every
# offending include or call and exits 1 if there is one; "layers ok" else.
set -u
src=${1:?usage: check_layers.sh SRC BUILD}
bld=${2:?usage: check_layers.sh SRC BUILD}

# What each layer may call, itself included: down the diagram only.
declare -A may=(
	[core]="core"
	[wire]="core wire"
	[net]="core wire net"
	[tcp]="core wire net tcp"
	[udp]="core wire net udp"
	[stack]="core wire net tcp udp stack"
	[sim]="core sim" # a backend: the HAL helpers of lib/core only
)
# lib/tcp, one job per file: a file calls only files of a lower rank.
# Equal ranks are siblings, which do not call each other.
declare -A tcp_rank=(
	[tcp_worker]=7                           # the stack layer's entry: set-up (wires the timeouts), the flush
	[tcp_api]=6 [tcp_input]=6 [tcp_timeout]=6 # entries: the application, IPv4 input, the wheel
	[tcp_icmp]=6                              # entry: ICMP errors (RFC 5927, 1191)
	[tcp_output]=5                                           # segments out
	[tcp_conn]=4                                             # lifecycle, set_state, pending list, shutdown
	[tcp_event]=3 [tcp_timer]=3                              # events to the application; which timer runs when
	[tcp_cong]=2 [tcp_sendq]=2 [tcp_ooo]=2                   # congestion control; send and out-of-order queues
	[tcp_cookie]=1 [tcp_table]=1                             # ISNs and SYN cookies; connection and listener tables
)

bad=0
complain() {
	echo "layer: $*"
	bad=1
}

layer_of() { # path -> layer name, or empty
	case $1 in
	*/arch/sim/*) echo sim ;;
	*/lib/*/*) local d=${1%/*}; echo "${d##*/}" ;;
	esac
}

allowed() { # allowed CALLER_LAYER CALLEE_LAYER
	local l
	for l in ${may[$1]:-}; do [ "$l" = "$2" ] && return 0; done
	return 1
}

# ---- includes ----
for f in "$src"/lib/*/*.[ch]; do
	[ -e "$f" ] || continue
	me=$(layer_of "$f")
	[ -n "${may[$me]:-}" ] || { complain "$f: lib/$me is no known layer"; continue; }
	while IFS= read -r line; do
		inc=${line#*\"}
		inc=${inc%%\"*}
		dir=${inc%%/*}
		[ "$dir" = "$inc" ] && continue # a header beside it
		[ "$dir" = usnet ] && continue  # the public API
		[ -n "${may[$dir]:-}" ] || continue
		allowed "$me" "$dir" || complain "$f includes \"$inc\": lib/$me may not use lib/$dir"
	done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$f")
	if grep -nE '#[[:space:]]*include[[:space:]]*<(rte_|gxio|tmc|linux/|sys/epoll|numa)' "$f" >/dev/null; then
		complain "$f names a platform header (lib/ is portable C11)"
	fi
done

# ---- calls ----
# The objects of today's sources (a build directory may hold stale ones).
objs=()
for c in "$src"/lib/*/*.c "$src"/arch/sim/*.c; do
	[ -e "$c" ] || continue
	o=$bld/${c#"$src"/}
	o=${o%.c}.o
	[ -e "$o" ] || { complain "$o: not built (make lib first)"; continue; }
	objs+=("$o")
done
[ ${#objs[@]} -gt 0 ] || { echo "layer: no objects under $bld (build first)"; exit 1; }
declare -A def_layer def_file
for o in "${objs[@]}"; do
	l=$(layer_of "$o")
	stem=$(basename "$o" .o)
	while read -r sym; do
		def_layer[$sym]=$l
		def_file[$sym]=$stem
	done < <(nm --defined-only -g "$o" 2>/dev/null | awk '$3 ~ /^usn_/ {print $3}')
done
for o in "${objs[@]}"; do
	me=$(layer_of "$o")
	stem=$(basename "$o" .o)
	[ -n "${may[$me]:-}" ] || { complain "$o: no known layer"; continue; }
	if [ "$me" = tcp ] && [ -z "${tcp_rank[$stem]:-}" ]; then
		complain "$o: lib/tcp/$stem.c has no rank in tests/layout/check_layers.sh"
		continue
	fi
	while read -r sym; do
		to=${def_layer[$sym]:-}
		[ -n "$to" ] || continue # not the library's: the link decides
		if ! allowed "$me" "$to"; then
			complain "$me/$stem.o calls $sym (lib/$to/${def_file[$sym]}.c): an upward call"
			continue
		fi
		if [ "$me" = tcp ] && [ "$to" = tcp ]; then
			callee=${def_file[$sym]}
			r1=${tcp_rank[$stem]} r2=${tcp_rank[$callee]:-}
			if [ -z "$r2" ] || [ "$r2" -ge "$r1" ]; then
				complain "tcp/$stem.o calls $sym (tcp/$callee.c): lib/tcp calls run one way, $stem (rank $r1) only into lower ranks (${callee}: ${r2:-none})"
			fi
		fi
	done < <(nm -u "$o" 2>/dev/null | awk '$2 ~ /^usn_/ {print $2}')
done

[ $bad = 0 ] || exit 1
echo "layers ok"
