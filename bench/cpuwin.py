#!/usr/bin/env python3
# bench/cpuwin.py: CPU time of chosen cores over a measurement's own window,
# from /proc/stat sampled in the background. Used by bench.py (imported) and
# by usn_load_compare.sh (command line).
"""CPU of cores over a time window, from /proc/stat samples.

A sampler reads the per-core counters every INTERVAL seconds (wall clock,
time.time()); window() interpolates the cumulative counters linearly at the
window's start and end, so the CPU charged to a measurement is the CPU spent
while its requests ran, not from before the client started to after it
exited. Busy time is user + nice + system + irq + softirq; steal (time the
hypervisor gave to another guest) is counted apart, as are idle and iowait.

Command line:
  cpuwin.py sample --cores 0,1 [--interval 0.05] OUT   until SIGTERM/SIGINT
  cpuwin.py window OUT T0 T1 --cores 0                 one JSON line
"""
import argparse
import json
import os
import signal
import sys
import threading
import time

FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
BUSY = ("user", "nice", "system", "irq", "softirq")
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


class WindowError(Exception):
    """The samples do not cover the window asked for."""


def read_stat(cores):
    """{core: [8 tick counters]} for the given cores."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            parts = line.split()
            if parts[0].startswith("cpu") and parts[0] != "cpu":
                c = int(parts[0][3:])
                if c in cores:
                    out[c] = [int(v) for v in parts[1:9]]
    return out


class Sampler(threading.Thread):
    """Samples /proc/stat for `cores` (and extra(), if given: a list of
    numbers, e.g. a process' CPU ticks) every `interval` seconds."""

    def __init__(self, cores, interval=0.05, extra=None):
        super().__init__(daemon=True)
        self.cores, self.interval, self.extra = set(cores), interval, extra
        self.samples = []  # (t, {core: ticks}, extra)
        self.halt = threading.Event()

    def sample(self):
        t = time.time()
        st = read_stat(self.cores)
        ex = self.extra() if self.extra else None
        self.samples.append((t, st, ex))

    def run(self):
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.interval)

    def stop(self):
        self.halt.set()
        self.join()
        self.sample()  # one after the end, so a window ending now is covered


def _at(samples, t, get):
    """The counters `get(sample)` (a list) interpolated at time t."""
    if not samples or t < samples[0][0] or t > samples[-1][0]:
        raise WindowError("time %.3f outside the samples (%s)" % (
            t, "none" if not samples else "%.3f..%.3f" % (samples[0][0], samples[-1][0])))
    for (ta, a), (tb, b) in zip(((s[0], get(s)) for s in samples), ((s[0], get(s)) for s in samples[1:])):
        if ta <= t <= tb:
            f = (t - ta) / (tb - ta) if tb > ta else 0.0
            return [x + (y - x) * f for x, y in zip(a, b)]
    return list(get(samples[-1]))


def window(samples, t0, t1, cores):
    """Seconds of each field summed over `cores` between t0 and t1, plus
    busy_s, busy_cores (busy seconds per wall second), steal_s."""
    if t1 <= t0:
        raise WindowError("empty window %.3f..%.3f" % (t0, t1))

    def get(s):
        tot = [0] * len(FIELDS)
        for c in cores:
            if c not in s[1]:
                raise WindowError("no counters for core %d" % c)
            tot = [a + b for a, b in zip(tot, s[1][c])]
        return tot

    a, b = _at(samples, t0, get), _at(samples, t1, get)
    d = {k: (y - x) * TICK_S for k, x, y in zip(FIELDS, a, b)}
    busy = sum(d[k] for k in BUSY)
    d.update({"seconds": t1 - t0, "busy_s": busy, "busy_cores": busy / (t1 - t0),
              "steal_s": d["steal"], "steal_cores": d["steal"] / (t1 - t0)})
    return d


def extra_window(samples, t0, t1):
    """The extra() counters' growth between t0 and t1 (interpolated)."""
    a, b = _at(samples, t0, lambda s: s[2]), _at(samples, t1, lambda s: s[2])
    return [y - x for x, y in zip(a, b)]


# ---------------------------------------------------------------- command line

def load(path):
    samples = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if not p:
                continue
            t, st = float(p[0]), {}
            for chunk in p[1:]:
                c, _, vals = chunk.partition(":")
                st[int(c)] = [int(v) for v in vals.split(",")]
            samples.append((t, st, None))
    return samples


def main(argv):
    ap = argparse.ArgumentParser(description="CPU of cores over a window (bench/cpuwin.py)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--cores", required=True)
    s.add_argument("--interval", type=float, default=0.05)
    s.add_argument("out")
    w = sub.add_parser("window")
    w.add_argument("file")
    w.add_argument("t0", type=float)
    w.add_argument("t1", type=float)
    w.add_argument("--cores", required=True)
    a = ap.parse_args(argv)
    cores = [int(c) for c in a.cores.split(",") if c != ""]
    if a.cmd == "sample":
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        with open(a.out, "w") as f:
            while True:
                t, st = time.time(), read_stat(set(cores))
                f.write("%.6f %s\n" % (t, " ".join("%d:%s" % (c, ",".join(map(str, v)))
                                                    for c, v in sorted(st.items()))))
                f.flush()
                if stop.is_set():
                    return 0
                stop.wait(a.interval)
    try:
        print(json.dumps(window(load(a.file), a.t0, a.t1, cores)))
    except WindowError as e:
        print("cpuwin: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
