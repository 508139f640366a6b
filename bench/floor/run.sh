#!/bin/sh
# bench/floor/run.sh: the stack's floor: floor's figures (cycles and
# requests/s per 1 KiB exchange and per corpus page, client + server stacks in
# one process over the simulated link; bulk throughput of one connection, in
# Gbit/s and cycles per byte), then callgrind instructions per request with
# the top cost centres. Usage: bench/floor/run.sh [FLOOR_BINARY]
# Large segments: the bulk case (and the corpus case) again with both
# simulated ports offering TSO and LRO, and callgrind instructions per byte
# of the bulk transfer with MSS frames and with large segments, by layer.
# Knobs: FLOOR_REQUESTS (1 KiB, per run) FLOOR_CORPUS_REQUESTS FLOOR_RUNS
# FLOOR_CONNS FLOOR_BULK_MIB (bulk, per run) FLOOR_CG_REQUESTS (under
# callgrind) FLOOR_CG_BULK_MIB (bulk under callgrind) FLOOR_CG=0 (skip callgrind)
# FLOOR_OUT (results dir; default bench/results/latest if it exists, else
# build/floor).
set -eu
cd "$(dirname "$0")/../.."
BIN=${1:-build/rel/bench/floor}
REQ=${FLOOR_REQUESTS:-20000}
CREQ=${FLOOR_CORPUS_REQUESTS:-1000}
RUNS=${FLOOR_RUNS:-3}
CONNS=${FLOOR_CONNS:-16}
BULK=${FLOOR_BULK_MIB:-256}
CGREQ=${FLOOR_CG_REQUESTS:-3000}
CG=${FLOOR_CG:-1}
if [ -z "${FLOOR_OUT:-}" ]; then
	if [ -d bench/results/latest ]; then FLOOR_OUT=bench/results/latest; else FLOOR_OUT=build/floor; fi
fi
mkdir -p "$FLOOR_OUT"
[ -x "$BIN" ] || { echo "floor: $BIN not built (make floor)" >&2; exit 1; }

CASES=1k
if [ -f bench/corpus/manifest.json ]; then
	CASES=1k,corpus
else
	echo "floor: no bench/corpus (make bench-corpus): 1 KiB case only" >&2
fi

TMP=$(mktemp -d /tmp/usn_floor_run.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM

echo "== floor: $BIN, $CONNS connections, cases $CASES (TSC cycles, client + server together)"
# the bounded runs: a few seconds at most
timeout 300 "$BIN" --cases "$CASES" --requests "$REQ" --corpus-requests "$CREQ" --runs "$RUNS" \
	--connections "$CONNS" --json "$TMP/floor.json"
timeout 300 "$BIN" --cases 1k --requests "$REQ" --runs "$RUNS" --connections 1 --json "$TMP/floor_c1.json"
timeout 300 "$BIN" --cases 1k --requests "$REQ" --runs "$RUNS" --connections "$CONNS" --offload \
	--json "$TMP/floor_offload.json"
timeout 300 "$BIN" --cases bulk --bulk-mib "$BULK" --runs "$RUNS" --json "$TMP/floor_bulk.json"
# Large segments: both simulated ports offer TSO and LRO (the stacks hand
# over 64 KB segments, the link cuts and coalesces them, as NICs would).
timeout 300 "$BIN" --cases bulk --bulk-mib "$BULK" --runs "$RUNS" --tso --lro --json "$TMP/floor_bulk_large.json"
LARGE_CASES=null
if [ "$CASES" = 1k,corpus ]; then
	timeout 300 "$BIN" --cases corpus --corpus-requests "$CREQ" --runs "$RUNS" --connections "$CONNS" --tso --lro \
		--json "$TMP/floor_corpus_large.json"
	LARGE_CASES="$TMP/floor_corpus_large.json"
fi

CGJSON=null
CGBJSON=null
if [ "$CG" != 0 ] && command -v valgrind >/dev/null 2>&1; then
	echo "== callgrind: $CGREQ requests of the 1 KiB page, collected inside floor_drive only"
	timeout 600 valgrind --tool=callgrind --toggle-collect=floor_drive \
		--callgrind-out-file="$TMP/cg.out" "$BIN" --cases 1k --requests "$CGREQ" --runs 1 \
		--connections "$CONNS" --quiet >"$TMP/cg.stdout" 2>"$TMP/cg.stderr" || {
		echo "floor: callgrind failed:" >&2
		tail -5 "$TMP/cg.stderr" >&2
		exit 1
	}
	# Bulk, instructions per byte by layer: MSS frames, then large segments.
	CGB=${FLOOR_CG_BULK_MIB:-16}
	for v in plain large; do
		a=; [ $v = large ] && a="--tso --lro"
		echo "== callgrind: bulk, $CGB MiB one way, $v ($a), collected inside floor_bulk_drive only"
		# shellcheck disable=SC2086
		timeout 900 valgrind --tool=callgrind --toggle-collect=floor_bulk_drive \
			--callgrind-out-file="$TMP/cgb_$v.out" "$BIN" --cases bulk --bulk-mib "$CGB" --runs 1 $a \
			>/dev/null 2>"$TMP/cgb_$v.stderr" || { echo "floor: callgrind (bulk) failed" >&2; exit 1; }
		callgrind_annotate --inclusive=no --auto=no --threshold=100 "$TMP/cgb_$v.out" >"$TMP/cgb_$v.txt" 2>/dev/null
	done
	python3 - "$TMP/cgb_plain.txt" "$TMP/cgb_large.txt" "$CGB" "$TMP/cgb.json" <<'EOF2'
import json, re, sys
plain, large, mib, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
nbytes = mib << 20
def layers(path):
    total, lay = None, {}
    for line in open(path):
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\*\s+)?PROGRAM TOTALS", line)
        if m:
            total = int(m.group(1).replace(",", ""))
            continue
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\*\s+)?(\S.*?):(\S+)(?:\s+\[.*\])?\s*$", line)
        if not m:
            continue
        ir, f, fn = int(m.group(1).replace(",", "")), m.group(2), m.group(3)
        k = "other"
        if "lib/" in f:
            k = "stacks (lib/)"
        elif "arch/sim/" in f:
            k = "simulated link (copies, TSO, LRO, sums)"
        elif fn.startswith(("__memcpy", "memcpy", "__memmove", "memmove", "__memset", "memset")):
            k = "libc mem* (copies: the stacks' one and the link's)"
        lay[k] = lay.get(k, 0) + ir
    return {"ir_per_byte": round(total / nbytes, 4),
            "layers_ir_per_byte": {k: round(v / nbytes, 4) for k, v in sorted(lay.items(), key=lambda kv: -kv[1])}}
doc = {"bytes": nbytes, "mss_frames": layers(plain), "large_segments": layers(large)}
json.dump(doc, open(out, "w"), indent=1)
for name in ("mss_frames", "large_segments"):
    d = doc[name]
    print("callgrind bulk, %s: %.3f instructions per byte" % (name.replace("_", " "), d["ir_per_byte"]))
    for k, v in d["layers_ir_per_byte"].items():
        print("  %7.3f  %s" % (v, k))
EOF2
	CGBJSON="$TMP/cgb.json"
	callgrind_annotate --inclusive=no "$TMP/cg.out" >"$TMP/self.txt" 2>/dev/null
	callgrind_annotate --inclusive=yes "$TMP/cg.out" >"$TMP/incl.txt" 2>/dev/null
	cp "$TMP/cg.out" "$FLOOR_OUT/floor_callgrind.out"
	CGJSON="$TMP/cg.json"
	python3 - "$TMP/self.txt" "$TMP/incl.txt" "$CGREQ" "$CGJSON" <<'EOF'
import json, re, sys
selff, inclf, reqs, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def rows(path):
    total, r = None, []
    for line in open(path):
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\*\s+)?PROGRAM TOTALS", line)
        if m:
            total = int(m.group(1).replace(",", ""))
            continue
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\*\s+)?(\S.*?):(\S+)(?:\s+\[.*\])?\s*$", line)
        if m:
            r.append((int(m.group(1).replace(",", "")), m.group(2), m.group(3)))
    return total, r
total, self_rows = rows(selff)
_, incl_rows = rows(inclf)
def layer(f, fn):
    for key, name in (("lib/tcp/", "tcp"), ("lib/net/", "eth/arp/ipv4"), ("lib/wire/csum", "checksum"),
                      ("lib/wire/", "wire formats"), ("lib/core/", "core (worker, timers, pools, cursor)"),
                      ("arch/sim/", "simulated link (not the stack)"), ("apps/usn_load/", "client app (usn_load)"),
                      ("apps/minimal_ws/", "server app (mws)"), ("apps/http/", "HTTP parser (server)"),
                      ("bench/floor/", "floor driver")):
        if key in f:
            return name
    if fn.startswith(("__memcpy", "memcpy", "__memmove", "memmove", "__memset", "memset", "__memcmp", "memcmp", "__strlen")):
        return "libc mem*"
    return "other (libc, ...)"
layers = {}
for ir, f, fn in self_rows:
    k = layer(f, fn)
    layers[k] = layers.get(k, 0) + ir
top = [{"ir_per_req": round(ir / reqs, 1), "share": round(ir / total, 4), "file": f, "function": fn}
       for ir, f, fn in self_rows[:25]]
doc = {"requests": reqs, "ir_total": total, "ir_per_req": round(total / reqs, 1),
       "layers_ir_per_req": {k: round(v / reqs, 1) for k, v in sorted(layers.items(), key=lambda kv: -kv[1])},
       "top_self": top}
json.dump(doc, open(out, "w"), indent=1)
print("callgrind: %.0f instructions per request (client + server, 1 KiB page, %d requests)" % (total / reqs, reqs))
print("by layer (self instructions per request):")
for k, v in sorted(layers.items(), key=lambda kv: -kv[1]):
    print("  %8.0f  %5.1f%%  %s" % (v / reqs, 100.0 * v / total, k))
print("top cost centres (self):")
for t in top[:20]:
    print("  %8.0f  %5.1f%%  %s  (%s)" % (t["ir_per_req"], 100 * t["share"], t["function"], t["file"]))
EOF
fi

python3 - "$TMP/floor.json" "$TMP/floor_c1.json" "$TMP/floor_offload.json" "$CGJSON" "$FLOOR_OUT/floor.json" \
	"$TMP/floor_bulk.json" "$TMP/floor_bulk_large.json" "$LARGE_CASES" "$CGBJSON" <<'EOF'
import json, platform, subprocess, sys, datetime
main, c1, off, cg, out, bulk, bulk_large, large_cases, cgb = sys.argv[1:10]
def load(p):
    return json.load(open(p)) if p != "null" else None
doc = load(main)
extras = [(load(c1), "1 connection"), (load(off), "checksum offloads (sim)")]
if large_cases != "null":
    extras.append((load(large_cases), "large segments (sim TSO+LRO)"))
for extra, tag in extras:
    for c in extra["cases"]:
        c["variant"] = tag
        doc["cases"].append(c)
doc["callgrind"] = load(cg)
doc["callgrind_bulk"] = load(cgb)
doc["bulk"] = load(bulk)["bulk"]
doc["bulk_large"] = load(bulk_large)["bulk"]
try:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    commit = ""
cpu = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
doc["machine"] = {"cpu": cpu, "host": platform.node(), "kernel": platform.release()}
doc["commit"] = commit
doc["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
doc["command"] = "make floor-run"
json.dump(doc, open(out, "w"), indent=1)
print("== summary (median of runs; cycles = TSC ticks per exchange, both stacks and the sim link)")
for c in doc["cases"]:
    print("  %-7s %-26s %4d conns  %9.0f req/s  %8.0f cycles/req  %6.1f frames/req  errors %d" % (
        c["case"], c.get("variant", "no offloads"), c["connections"], c["req_s_median"],
        c["cycles_per_req_median"], c["frames_per_req"], c["errors"]))
for key, tag in (("bulk", "MSS frames"), ("bulk_large", "large segments (sim TSO+LRO)")):
    b = doc[key]
    if b:
        print("  bulk    1 connection, %d MiB one way, send_ref + csum table, %s: %.2f Gbit/s  %.3f cycles/byte  "
              "(cpu-time %.3f cycles/byte)  errors %d" % (
            b["bytes_per_run"] >> 20, tag, b["gbit_s_median"], b["cycles_per_byte_median"],
            b["cpu_cycles_per_byte_median"], b["errors"]))
if doc["callgrind_bulk"]:
    for name in ("mss_frames", "large_segments"):
        d = doc["callgrind_bulk"][name]
        st = d["layers_ir_per_byte"].get("stacks (lib/)", 0)
        print("  callgrind bulk, %s: %.3f instructions per byte, of which the stacks %.3f" % (
            name.replace("_", " "), d["ir_per_byte"], st))
if doc["callgrind"]:
    print("  callgrind: %.0f instructions per 1 KiB exchange" % doc["callgrind"]["ir_per_req"])
print("target: <= 10000 cycles per 1 KiB HTTP/1.0 exchange (client + server)")
print("json: %s" % out)
EOF
