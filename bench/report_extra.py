#!/usr/bin/env python3
"""bench/report_extra.py: folds issue 9's figures into the report `make bench`
wrote (bench/results/latest): the usn_load comparisons (same client on both
stacks over veth; each stack's cheapest link) for a 1 KiB page and for the
corpus, and the floor (client and server stacks in one process over the
simulated link). Appends a section to table.md, writes extra.json, and adds
extra.png (requests/s per comparison point). Missing inputs are said, not
invented.

Usage: report_extra.py RESULTS_DIR
"""
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fmt_int(v):
    return "-" if v is None else "{:,.0f}".format(v)


def compare_rows(d, label):
    rows = []
    if not d:
        return ["| %s | (not run or failed) | | | | | | |" % label]
    for p in d.get("points", []):
        lat = p.get("latency_us") or {}
        rows.append("| %s | %s | %s | %s | %.2f | %s | %s/%s | %s |" % (
            label, p.get("name"), p.get("vdev") or "-", fmt_int(p.get("req_s")),
            p.get("gbit_s") or 0.0, p.get("errors_total", "-"),
            fmt_int(lat.get("p50")), fmt_int(lat.get("p99")), fmt_int(p.get("req_s_per_core"))))
    return rows


def ratios(d):
    return (d or {}).get("ratios", {}) if isinstance((d or {}).get("ratios"), dict) else {}


def point(d, link, server):
    for p in (d or {}).get("points", []):
        if p.get("link") == link and p.get("server") == server:
            return p
    return None


def ratio(a, b, key):
    if not a or not b or not a.get(key) or not b.get(key):
        return None
    return a[key] / b[key]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest"
    c1k = load(os.path.join(out, "usn_load_1k.json"))
    ccorp = load(os.path.join(out, "usn_load_corpus.json"))
    floor = load(os.path.join(out, "floor.json"))
    summary = {"compare_1k": c1k, "compare_corpus": ccorp, "floor": floor, "ratios": {}}
    lines = ["", "## Same client, cheapest links, and the floor (issue 9)", ""]
    lines.append("usn_load (libusnet's own load generator, HTTP/1.0, one request per connection, every "
                 "response checked) and wrk; server on core 0, client on core 1. `bench/usn_load_compare.sh`.")
    lines.append("")
    lines.append("| pages | point | vdev | req/s | Gbit/s | errors | p50/p99 us | req/s per busy core |")
    lines.append("|---|---|---|---|---|---|---|---|")
    lines += compare_rows(c1k, "1 KiB")
    lines += compare_rows(ccorp, "corpus")
    lines.append("")
    for name, d in (("1 KiB", c1k), ("corpus", ccorp)):
        memif = point(d, "memif", "minimal_ws")
        lo = point(d, "loopback", "bsd_ws")
        vm = point(d, "veth", "minimal_ws")
        vb = point(d, "veth", "bsd_ws")
        r = {
            "same_client_req_s": ratio(vm, vb, "req_s"),
            "cheapest_link_req_s": ratio(memif, lo, "req_s"),
            "cheapest_link_req_s_per_core": ratio(memif, lo, "req_s_per_core"),
        }
        summary["ratios"][name] = r
        parts = []
        if r["same_client_req_s"] is not None:
            parts.append("same client (usn_load over veth): minimal_ws / bsd_ws = %.2fx req/s (target 2.4x)"
                         % r["same_client_req_s"])
        if r["cheapest_link_req_s"] is not None:
            per_core = r["cheapest_link_req_s_per_core"]
            parts.append("cheapest links (memif vs loopback): %.2fx req/s, %s req/s per busy core (target 5x)"
                         % (r["cheapest_link_req_s"], "%.2fx" % per_core if per_core else "n/a"))
        if parts:
            lines.append("- %s: %s." % (name, "; ".join(parts)))
    lines.append("")
    if floor:
        lines.append("Floor (`bench/floor/run.sh`): client and server stacks in one process over the "
                     "simulated link, TSC cycles per exchange for both stacks together (target <= 10,000 "
                     "for a 1 KiB HTTP/1.0 exchange):")
        lines.append("")
        lines.append("| case | connections | variant | req/s | cycles/request | frames/request |")
        lines.append("|---|---|---|---|---|---|")
        for c in floor.get("cases", []):
            lines.append("| %s | %s | %s | %s | %s | %.1f |" % (
                c.get("case"), c.get("connections"), c.get("variant") or ("checksum offloads" if c.get("offload") else "-"),
                fmt_int(c.get("req_s_median")), fmt_int(c.get("cycles_per_req_median")), c.get("frames_per_req", 0)))
        if floor.get("tcb_bytes"):
            lines.append("")
            lines.append("Per-connection memory (TCB without data): %d bytes." % floor["tcb_bytes"])
        bulk = floor.get("bulk")
        if bulk:
            lines.append("")
            lines.append("Bulk, one connection one way (%s, %s MiB per run): %.2f Gbit/s, %.2f TSC cycles per byte, "
                         "%s cycles per %s-byte segment (both stacks and the simulated link)." % (
                             bulk.get("send"), (bulk.get("bytes_per_run") or 0) >> 20, bulk.get("gbit_s_median") or 0,
                             bulk.get("cycles_per_byte_median") or 0, fmt_int(bulk.get("cycles_per_segment_median")),
                             bulk.get("segment_bytes")))
        cg = floor.get("callgrind") or {}
        ir = cg.get("ir_per_req")
        if ir:
            lines.append("")
            lines.append("callgrind: %s instructions per 1 KiB exchange (both stacks and the simulated link)." % fmt_int(ir))
    else:
        lines.append("Floor: not run (bench/floor/run.sh).")
    lines.append("")
    with open(os.path.join(out, "table.md"), "a") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "extra.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("\n".join(lines))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for ax, (name, d) in zip(axes, (("1 KiB page", c1k), ("corpus", ccorp))):
            pts = (d or {}).get("points", [])
            ax.barh([p["name"] for p in pts], [p.get("req_s") or 0 for p in pts], color="#4a7bb7")
            ax.set_title("usn_load / wrk, %s" % name)
            ax.set_xlabel("requests/s")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "extra.png"), dpi=110)
    except Exception as e:  # plots are a convenience; the table and JSON are the record
        print("report_extra: no plot (%s)" % e, file=sys.stderr)


if __name__ == "__main__":
    main()
