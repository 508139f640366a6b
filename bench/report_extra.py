#!/usr/bin/env python3
"""bench/report_extra.py: folds usn_load's comparisons and the floor into the report `make bench`
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

# No __pycache__ in the tree: it would make the report's commit "dirty".
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_ratios  # noqa: E402 (bench/compare_ratios.py)


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


def commit_of(d):
    if not d:
        return "?"
    dirty = d.get("dirty")
    if isinstance(dirty, dict):
        return "%s + uncommitted changes (%d modified, %d untracked files)" % (
            d.get("commit"), dirty["modified"], dirty["untracked"])
    return "%s%s" % (d.get("commit"), " (dirty)" if dirty else "")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest"
    c1k = load(os.path.join(out, "usn_load_1k.json"))
    ccorp = load(os.path.join(out, "usn_load_corpus.json"))
    floor = load(os.path.join(out, "floor.json"))
    summary = {"compare_1k": c1k, "compare_corpus": ccorp, "floor": floor, "ratios": {}}
    lines = ["", "## Same client, cheapest links, and the floor", ""]
    lines.append("usn_load (libusnet's own load generator, HTTP/1.0, one request per connection, every "
                 "response checked) and wrk; server on core 0, client on core 1. `bench/usn_load_compare.sh`, "
                 "commit %s. %s." % (commit_of(c1k or ccorp), compare_ratios.METHOD))
    lines.append("")
    lines.append("| pages | point | client device | req/s | Gbit/s | errors | p50/p99 us | req/s per busy core |")
    lines.append("|---|---|---|---|---|---|---|---|")
    lines += compare_rows(c1k, "1 KiB")
    lines += compare_rows(ccorp, "corpus")
    lines.append("")
    for name, d in (("1 KiB", c1k), ("corpus", ccorp)):
        # Recomputed from the points (one definition, bench/compare_ratios.py),
        # each with its method or the reason it is not computed.
        r = compare_ratios.ratios((d or {}).get("points", []))
        summary["ratios"][name] = r
        # The same-client ratio on minimal_ws's best client port (the plain
        # key, which says which), then on each port (same driver both sides).
        same = "target 2.6x, the thesis' ratio" if name == "corpus" else "target 2.4x"
        keys = [("same_client_minimal_vs_bsd_req_s", same)]
        keys += [(k, None) for k in sorted(r) if k.startswith("same_client_minimal_vs_bsd_req_s.")]
        keys += [("cheapest_link_req_s", None), ("cheapest_link_req_s_per_core", "target 5x")]
        for key, target in keys:
            v = r[key]
            if v["value"] is None:
                lines.append("- %s, %s: not computed: %s." % (name, key, v["why"]))
            else:
                lines.append("- %s, %s: **%.2fx**%s. Method: %s." % (
                    name, key, v["value"], " (%s)" % target if target else "", v["method"]))
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
