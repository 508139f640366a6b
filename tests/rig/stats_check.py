#!/usr/bin/env python3
"""tests/rig/stats_check.py: checks the --stats-interval lines of a server's
log against what a client counted (run_stats.sh).

Usage: stats_check.py LOG --label L [--requests N] [--interval S]
                      [--min-lines K] [--workers W] [--held]
Every line that starts with "stats " must parse; the last line's request
total must equal N (the client's count of answered requests), and the
per-interval rates must add up to it; connections must be counted by
state (none established at the end, the server's TIME-WAITs present, at
most the stack's TIME-WAIT cap); the buffer level and its low-water mark
must make sense. --held: a connection was held open meanwhile, so some line
must show est=1. Prints PASS/FAIL lines; exits 1 on a failure.
"""
import argparse
import re
import sys

LINE = re.compile(
    r"^stats t=(?P<t>\d+\.\d\d) est=(?P<est>\d+) opening=(?P<opening>\d+) closing=(?P<closing>\d+) "
    r"time_wait=(?P<tw>\d+) new/s=(?P<new>\d+)"
    r"(?: requests/s=(?P<rps>\d+) requests=(?P<req>\d+))?"
    r" in=(?P<inr>\d+(?:\.\d+)?)(?P<inu>B|kB|MB|GB)/s out=(?P<outr>\d+(?:\.\d+)?)(?P<outu>B|kB|MB|GB)/s"
    r"(?: bufs=(?P<free>\d+)/(?P<size>\d+) bufs_low=(?P<low>\d+))?"
    r" drops=(?P<drops>\d+)(?P<why>(?: (?:drop_[a-z0-9_]+|tx_full)=\d+)*)$")
UNIT = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}

fails = 0


def check(label, cond, what, why=""):
    global fails
    if cond:
        print("PASS %s: %s" % (label, what))
    else:
        fails += 1
        print("FAIL %s: %s%s" % (label, what, ": " + why if why else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--label", required=True)
    ap.add_argument("--requests", type=int)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--min-lines", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--held", action="store_true")
    ap.add_argument("--max-conns", type=int, default=65536,
                    help="the server's --max-conns (its default: 65536)")
    a = ap.parse_args()
    L = a.label

    raw = [l.rstrip("\n") for l in open(a.log, errors="replace") if l.startswith("stats ")]
    lines, bad = [], []
    for l in raw:
        m = LINE.match(l)
        (lines if m else bad).append(m or l)
    check(L, raw and not bad, "%d stats lines, every one parses" % len(raw),
          "unparsed: %r" % bad[:2] if bad else "no stats line")
    if not lines:
        return 1
    ts = [float(m["t"]) for m in lines]
    # every line but the last (the one at stop) on the interval's grid
    grid = all(abs(t - a.interval * (i + 1)) < 0.25 * a.interval + 0.05 for i, t in enumerate(ts[:-1]))
    check(L, len(lines) - 1 >= a.min_lines and grid,
          "%d lines at %.1f s intervals, then one at stop (t=%s)" % (len(lines) - 1, a.interval, ts[-1]),
          "times %s" % ts)
    for m in lines:
        if m["why"]:
            moved = sum(int(x.split("=")[1]) for x in m["why"].split())
            if moved != int(m["drops"]):
                check(L, False, "drops add up", m.string)
                break
    else:
        check(L, True, "each line's drops are the sum of the reasons it lists")

    if a.requests is not None:
        last = int(lines[-1]["req"])
        check(L, last == a.requests, "requests=%d at the end, the client's count %d" % (last, a.requests))
        # the rates, times each line's interval, add up to the total
        # (tolerance: the rate's rounding to 1/s, and t's to 0.01 s at each end)
        prev_t, total, tol = 0.0, 0.0, 0.0
        for m in lines:
            dt = float(m["t"]) - prev_t
            total += int(m["rps"]) * dt
            tol += 0.5 * dt + int(m["rps"]) * 0.01 + 1
            prev_t = float(m["t"])
        check(L, abs(total - last) <= tol, "requests/s over the intervals adds up to %.0f (total %d)" % (total, last))
        busy = [int(m["rps"]) for m in lines if int(m["rps"]) > 0]
        check(L, len(busy) >= 2, "requests/s moved in %d intervals under load" % len(busy), str(busy))
        new = sum(int(m["new"]) * (float(m["t"]) - (float(lines[i - 1]["t"]) if i else 0.0))
                  for i, m in enumerate(lines))
        tol += sum(int(m["new"]) * 0.01 for m in lines)
        check(L, abs(new - last) <= tol, "new/s over the intervals adds up to the connections (%.0f)" % new)
        outb = max(float(m["outr"]) * UNIT[m["outu"]] for m in lines)
        check(L, outb > 0, "out bytes/s moved (at most %.0f B/s)" % outb)
        end = lines[-1]
        tw = int(end["tw"])
        cap = a.max_conns // 4 * a.workers  # the stack's TIME-WAIT cap: tcp_max_conns / 4 per worker
        check(L, int(end["est"]) == 0 and int(end["opening"]) == 0 and 0 < tw <= min(last, cap),
              "at the end: est=0 opening=0, time_wait=%s (the server closed first; at most %d)" %
              (end["tw"], min(last, cap)), end.string)
    if a.held:
        check(L, any(int(m["est"]) == 1 for m in lines), "a held connection shows as est=1",
              str([m["est"] for m in lines]))
        check(L, int(lines[-1]["est"]) == 0, "est=0 once it closed", lines[-1].string)
    with_bufs = [m for m in lines if m["size"]]
    if with_bufs:
        okb = all(int(m["low"]) <= int(m["free"]) <= int(m["size"]) for m in with_bufs)
        check(L, okb, "bufs_low <= bufs free <= size on every line")
        lows = [int(m["low"]) for m in with_bufs]
        check(L, lows == sorted(lows, reverse=True), "the low-water mark never rises", str(lows))
        if a.requests:
            check(L, lows[-1] < int(with_bufs[-1]["size"]), "the load moved the low-water mark (%d of %s)" %
                  (lows[-1], with_bufs[-1]["size"]))
    else:
        check(L, False, "buffer level on the lines", "no bufs= field")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
