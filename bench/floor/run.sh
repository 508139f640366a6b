#!/bin/sh
# bench/floor/run.sh: the stack's floor (issue 9): floor's figures (cycles and
# requests/s per 1 KiB exchange and per corpus page, client + server stacks in
# one process over the simulated link; bulk throughput of one connection, in
# Gbit/s and cycles per byte), then callgrind instructions per request with
# the top cost centres. Usage: bench/floor/run.sh [FLOOR_BINARY]
# Knobs: FLOOR_REQUESTS (1 KiB, per run) FLOOR_CORPUS_REQUESTS FLOOR_RUNS
# FLOOR_CONNS FLOOR_BULK_MIB (bulk, per run) FLOOR_CG_REQUESTS (under
# callgrind) FLOOR_CG=0 (skip callgrind)
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

CGJSON=null
if [ "$CG" != 0 ] && command -v valgrind >/dev/null 2>&1; then
	echo "== callgrind: $CGREQ requests of the 1 KiB page, collected inside floor_drive only"
	timeout 600 valgrind --tool=callgrind --toggle-collect=floor_drive \
		--callgrind-out-file="$TMP/cg.out" "$BIN" --cases 1k --requests "$CGREQ" --runs 1 \
		--connections "$CONNS" --quiet >"$TMP/cg.stdout" 2>"$TMP/cg.stderr" || {
		echo "floor: callgrind failed:" >&2
		tail -5 "$TMP/cg.stderr" >&2
		exit 1
	}
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
	"$TMP/floor_bulk.json" <<'EOF'
import json, platform, subprocess, sys, datetime
main, c1, off, cg, out, bulk = sys.argv[1:7]
def load(p):
    return json.load(open(p)) if p != "null" else None
doc = load(main)
for extra, tag in ((load(c1), "1 connection"), (load(off), "checksum offloads (sim)")):
    for c in extra["cases"]:
        c["variant"] = tag
        doc["cases"].append(c)
doc["callgrind"] = load(cg)
doc["bulk"] = load(bulk)["bulk"]
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
b = doc["bulk"]
if b:
    print("  bulk    1 connection, %d MiB one way, send_ref + csum table: %.2f Gbit/s  %.3f cycles/byte  "
          "%.0f cycles/%d-byte segment  (cpu-time %.3f cycles/byte)  errors %d" % (
        b["bytes_per_run"] >> 20, b["gbit_s_median"], b["cycles_per_byte_median"], b["cycles_per_segment_median"],
        b["segment_bytes"], b["cpu_cycles_per_byte_median"], b["errors"]))
if doc["callgrind"]:
    print("  callgrind: %.0f instructions per 1 KiB exchange" % doc["callgrind"]["ir_per_req"])
print("target: <= 10000 cycles per 1 KiB HTTP/1.0 exchange (client + server)")
print("json: %s" % out)
EOF
