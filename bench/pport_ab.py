#!/usr/bin/env python3
# bench/pport_ab.py: an A/B comparison of servers on the seed rig (wrk, the
# corpus, 1,000 concurrent connections, Connection: close, the server on one
# core and wrk on the other), for work on the Linux packet port. Variants run
# alternately (A B A B ...), each run on a fresh veth pair in namespaces of
# its own, and the summary gives medians and each variant's ratios to the
# first. The machine may be shared: compare variants of one run, not runs.
"""A/B runs of minimal_ws on the packet port and bsd_ws on the seed rig.

Each VARIANT is NAME=KIND[@BINARY] [ARGS...], one shell word, e.g.
  'v3=mws'  'v2=mws --pkt-ring=v2'  'bsd=bsd-on'  'old=mws@/tmp/old_ws'
KIND: mws (minimal_ws --iface IF ARGS --root ... --ip ...: port options
first, then the program's), bsd-on (bsd_ws, the veth's offloads as the
kernel sets them), bsd-off (TSO, GSO, GRO and checksum offloads off).

Per run: req/s (2xx within the timeout, over wrk's own window), latency,
the server core's usr/sys/softirq over that window (bench/cpuwin.py, as
bench/bench.py measures) and its busy microseconds per request, wrk's core,
the client kernel's SYN retransmissions and timeouts (nstat), and for
minimal_ws the packet port's kernel counters (frames, drops, ring freezes)
and the stack's RTOs, from the statistics it prints at exit.

Run as root from the tree: bench/pport_ab.py -d 8 -r 3 'v3=mws' 'bsd=bsd-on'
"""
import argparse
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import cpuwin  # noqa: E402 (bench/cpuwin.py)

SRV_IP, CLI_IP, PREFIX, PORT = "198.18.0.2", "198.18.0.1", 24, 80


def sh(argv, check=True, timeout=30):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode, r.stderr.strip()[:300]))
    return r


def nofile():
    # 1,000 connections need more descriptors than the usual 1,024.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Rig:
    """Two namespaces and a veth pair, named by this process and the run."""

    def __init__(self, tag, kind):
        self.s, self.c = "pab%ss" % tag, "pab%sc" % tag
        self.if_s, self.if_c = "pa%ss" % tag, "pa%sc" % tag
        self.kind = kind
        self.made = []

    def ex(self, ns, argv, check=True):
        return sh(["ip", "netns", "exec", ns] + argv, check=check)

    def up(self):
        for ns in (self.s, self.c):
            sh(["ip", "netns", "add", ns])
            self.made.append(ns)
        sh(["ip", "link", "add", self.if_c, "netns", self.c, "type", "veth", "peer", "name", self.if_s,
            "netns", self.s])
        for ns, ifn in ((self.s, self.if_s), (self.c, self.if_c)):
            self.ex(ns, ["ip", "link", "set", "lo", "up"])
            self.ex(ns, ["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % ifn])
        self.ex(self.c, ["ip", "addr", "add", "%s/%d" % (CLI_IP, PREFIX), "dev", self.if_c])
        self.ex(self.s, ["sysctl", "-qw", "net.core.somaxconn=8192", "net.ipv4.tcp_max_syn_backlog=8192"])
        self.ex(self.c, ["sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65535", "net.ipv4.tcp_tw_reuse=1"])
        if self.kind == "bsd-off":
            for ns, ifn in ((self.s, self.if_s), (self.c, self.if_c)):
                self.ex(ns, ["ethtool", "-K", ifn, "tso", "off", "gso", "off", "gro", "off", "tx", "off",
                             "rx", "off"])
        if self.kind.startswith("bsd"):
            self.ex(self.s, ["ip", "addr", "add", "%s/%d" % (SRV_IP, PREFIX), "dev", self.if_s])
        for ns, ifn in ((self.s, self.if_s), (self.c, self.if_c)):
            self.ex(ns, ["ip", "link", "set", ifn, "up"])

    def down(self):
        for ns in self.made:
            sh(["ip", "netns", "del", ns], check=False)
        self.made = []

    def link_stats(self, ns, ifn):
        r = self.ex(ns, ["ip", "-j", "-s", "link", "show", ifn], check=False)
        try:
            st = json.loads(r.stdout)[0]["stats64"]
            return {"rx_drop": st["rx"]["dropped"], "tx_drop": st["tx"]["dropped"],
                    "rx_packets": st["rx"]["packets"], "tx_packets": st["tx"]["packets"]}
        except (ValueError, KeyError, IndexError):
            return {}


def nstat(rig):
    r = rig.ex(rig.c, ["nstat", "-asz", "TcpExtTCPTimeouts", "TcpExtTCPSynRetrans", "TcpRetransSegs",
                       "TcpExtTCPSpuriousRTOs", "TcpExtListenDrops"], check=False)
    out = {}
    for line in r.stdout.splitlines():
        p = line.split()
        if len(p) >= 2 and p[1].isdigit():
            out[p[0]] = int(p[1])
    return out


def proc_ticks(pid):
    """utime + stime of a process (all its threads), clock ticks; softirq
    work done in its context (a veth's receive inside its send) included."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            p = f.read().rsplit(")", 1)[1].split()
        return [int(p[11]) + int(p[12])]
    except (OSError, IndexError, ValueError):
        return [0]


def softnet_drops():
    out = []
    with open("/proc/net/softnet_stat") as f:
        for line in f:
            out.append(int(line.split()[1], 16))
    return out


def server_argv(args, kind, binary, extra, rig):
    if kind == "mws":
        b = binary or os.path.join(args.build, "apps", "minimal_ws")
        return [b, "--iface", rig.if_s] + extra + ["--root", args.www, "--ip", "%s/%d" % (SRV_IP, PREFIX),
                                                  "--port", str(PORT)]
    b = binary or os.path.join(args.build, "apps", "bsd_ws")
    return [b, "--root", args.www, "--addr", SRV_IP, "--port", str(PORT), "--workers", "1",
            "--cpus", str(args.srv_core)] + extra


STAT_PATTERNS = {
    "k_frames": r"kernel: (\d+) frames",
    "k_drops": r"kernel: \d+ frames, (\d+) drops",
    "k_freezes": r"(\d+) ring freezes",
    "rto": r"tcp_rto_fired=(\d+)",
    "spurious": r"tcp_spurious_rto=(\d+)",
    "idle_polls": r"idle_polls=(\d+)",
    "rx_frames": r"queue 0: rx (\d+) frames",
    "tx_frames": r"; tx (\d+) frames",
    "tx_tso": r"bytes \((\d+) tso\)",
    "tx_busy": r"(\d+) busy, \d+ refused",
    "no_buf": r"(\d+) no buffer",
}


def parse_server_log(text):
    out = {}
    for k, pat in STAT_PATTERNS.items():
        m = re.search(pat, text)
        if m:
            out[k] = int(m.group(1))
    return out


def one_run(args, name, spec, run_idx, tmp):
    kind, _, binary = spec["kind"].partition("@")
    rig = Rig("%d%s%d" % (os.getpid() % 100000, "", run_idx), kind)
    log = os.path.join(tmp, "%s.%d.log" % (name, run_idx))
    srv = None
    res = {"variant": name, "run": run_idx}
    try:
        rig.up()
        argv = ["taskset", "-c", str(args.srv_core), "ip", "netns", "exec", rig.s] + \
            server_argv(args, kind, binary, spec["args"], rig)
        res["server_cmd"] = " ".join(argv)
        with open(log, "w") as lf:
            srv = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                                   preexec_fn=nofile, start_new_session=True)
        for _ in range(150):
            if srv.poll() is not None:
                raise RuntimeError("server exited %d: %s" % (srv.returncode, open(log).read()[-400:]))
            r = rig.ex(rig.c, ["curl", "-s", "-o", "/dev/null", "-m", "1", "-w", "%{http_code}",
                               "http://%s:%d/" % (SRV_IP, PORT)], check=False)
            if r.stdout.strip() not in ("", "000"):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("server not answering: %s" % open(log).read()[-400:])
        time.sleep(0.5)
        ns0, sn0 = nstat(rig), softnet_drops()
        ls0 = (rig.link_stats(rig.s, rig.if_s), rig.link_stats(rig.c, rig.if_c))
        mark = os.path.join(tmp, "done.%s.%d" % (name, run_idx))
        env = dict(os.environ, WRK_DONE_MARK=mark, WRK_GOOD_TIMEOUT_US=str(int(args.timeout * 1e6)))
        wrk = ["taskset", "-c", str(args.cli_core), "ip", "netns", "exec", rig.c, "wrk", "-t1",
               "-c%d" % args.connections, "-d%ds" % args.duration, "--timeout", "%ds" % (args.duration + 5),
               "-s", os.path.join(HERE, "wrk_random.lua"), "http://%s:%d/" % (SRV_IP, PORT), "--",
               args.pages, str(args.seed + run_idx)]
        wp = subprocess.Popen(wrk, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, preexec_fn=nofile)
        last = [0, 0]

        def ticks():
            # A process that has exited reads 0: its last figure holds.
            for i, pid in enumerate((srv.pid, wp.pid)):
                last[i] = max(last[i], proc_ticks(pid)[0])
            return list(last)

        sampler = cpuwin.Sampler({args.srv_core, args.cli_core}, interval=0.05, extra=ticks)
        sampler.start()
        perf = None
        if args.perf:
            # The server's own time, from a second in to a second before
            # the end (call graphs; frame pointers make user stacks whole).
            time.sleep(1.0)
            perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-g", "-p", str(srv.pid), "-o",
                                     os.path.join(args.perf, "%s.%d.data" % (name, run_idx)), "--",
                                     "sleep", str(max(1, args.duration - 2))],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            out, err = wp.communicate(timeout=args.duration + 60)
            if perf is not None:
                perf.wait(timeout=30)
        finally:
            sampler.stop()
            if perf is not None and perf.poll() is None:
                perf.kill()
                perf.wait()
            if wp.poll() is None:
                wp.kill()
                wp.wait()
        m = re.search(r"^WRK_JSON (\{.*\})\s*$", out, re.M)
        if not m or not os.path.exists(mark):
            raise RuntimeError("wrk failed: %s %s" % (out[-300:], err[-300:]))
        j = json.loads(m.group(1))
        t_end = os.stat(mark).st_mtime_ns / 1e9
        secs = j["duration_us"] / 1e6
        srvw = cpuwin.window(sampler.samples, t_end - secs, t_end, [args.srv_core])
        cliw = cpuwin.window(sampler.samples, t_end - secs, t_end, [args.cli_core])
        pticks = cpuwin.extra_window(sampler.samples, t_end - secs, t_end)
        ns1, sn1 = nstat(rig), softnet_drops()
        ls1 = (rig.link_stats(rig.s, rig.if_s), rig.link_stats(rig.c, rig.if_c))
        good = max(0, j["within_timeout"] - j["errors"]["status"])
        tot = sum(srvw[k] for k in cpuwin.FIELDS) or 1
        res.update({
            "req_s": good / secs, "good": good, "late": j["requests"] - j["within_timeout"],
            "p50_ms": j["latency_us"]["p50"] / 1e3, "p99_ms": j["latency_us"]["p99"] / 1e3,
            "max_ms": j["latency_us"]["max"] / 1e3,
            "errors": sum(j["errors"][k] for k in ("connect", "read", "write", "timeout")),
            "gbit": j["bytes"] * 8 / secs / 1e9,
            "usr": (srvw["user"] + srvw["nice"]) / tot, "sys": srvw["system"] / tot,
            "sirq": (srvw["softirq"] + srvw["irq"]) / tot, "steal": srvw["steal"] / tot,
            "busy": srvw["busy_s"] / srvw["seconds"],
            "us_req": srvw["busy_s"] * 1e6 / good if good else None,
            "wrk_busy": cliw["busy_s"] / cliw["seconds"],
            # The processes' own CPU: other programs on the cores left out.
            "proc_cpu": pticks[0] * cpuwin.TICK_S / secs,
            "proc_us_req": pticks[0] * cpuwin.TICK_S * 1e6 / good if good else None,
            "wrk_cpu": pticks[1] * cpuwin.TICK_S / secs,
            "cli_syn_retrans": ns1.get("TcpExtTCPSynRetrans", 0) - ns0.get("TcpExtTCPSynRetrans", 0),
            "cli_timeouts": ns1.get("TcpExtTCPTimeouts", 0) - ns0.get("TcpExtTCPTimeouts", 0),
            "cli_retrans": ns1.get("TcpRetransSegs", 0) - ns0.get("TcpRetransSegs", 0),
            "softnet_drops": [b - a for a, b in zip(sn0, sn1)],
            "veth_drops": {k: ls1[i].get(k, 0) - ls0[i].get(k, 0)
                           for i in range(2) for k in ls1[i] if k.endswith("_drop")},
            # Packets on the client's veth per request (a TSO segment is
            # one): to the client, and from it.
            "pkts_in_req": (ls1[1].get("rx_packets", 0) - ls0[1].get("rx_packets", 0)) / j["requests"]
            if j["requests"] else None,
            "pkts_out_req": (ls1[1].get("tx_packets", 0) - ls0[1].get("tx_packets", 0)) / j["requests"]
            if j["requests"] else None,
        })
    finally:
        if srv is not None:
            if srv.poll() is None:
                os.kill(srv.pid, signal.SIGINT)
                try:
                    srv.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(srv.pid, signal.SIGKILL)
                    srv.wait()
        rig.down()
    with open(log) as f:
        text = f.read()
    res.update(parse_server_log(text))
    if args.keep_logs:
        res["log"] = log
    return res


def med(vals):
    v = [x for x in vals if x is not None]
    return statistics.median(v) if v else None


def fmt(v, f="%.0f"):
    return "-" if v is None else f % v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+", metavar="NAME=KIND[@BINARY] [ARGS]")
    ap.add_argument("-d", "--duration", type=int, default=8, help="seconds of wrk per run (8)")
    ap.add_argument("-r", "--reps", type=int, default=3, help="runs of each variant, alternating (3)")
    ap.add_argument("-c", "--connections", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=5.0, help="per-request timeout, s (5, as make bench)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "rel"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "bench", "corpus"))
    ap.add_argument("--srv-core", type=int, default=0)
    ap.add_argument("--cli-core", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="write every run's figures here")
    ap.add_argument("--keep-logs", action="store_true", help="keep the servers' logs (their paths in --json)")
    ap.add_argument("--perf", metavar="DIR", help="perf record -e cpu-clock -g of each server into DIR/NAME.RUN.data")
    args = ap.parse_args()
    if os.geteuid() != 0:
        ap.error("needs root (namespaces, packet sockets)")
    if args.perf:
        os.makedirs(args.perf, exist_ok=True)
    args.www = os.path.join(args.corpus, "www")
    args.pages = os.path.join(args.corpus, "pages.txt")
    if not os.path.exists(args.pages):
        ap.error("no corpus at %s (make bench-corpus)" % args.corpus)
    specs = []
    for v in args.variants:
        name, eq, rest = v.partition("=")
        words = rest.split()
        if not eq or not name or not words or words[0].partition("@")[0] not in ("mws", "bsd-on", "bsd-off"):
            ap.error("bad variant %r (NAME=KIND[@BINARY] [ARGS], KIND mws, bsd-on or bsd-off)" % v)
        specs.append((name, {"kind": words[0], "args": words[1:]}))
    tmp = tempfile.mkdtemp(prefix="pport_ab.")
    la0 = loadavg()
    print("pport_ab: %d x %d s, %d connections, load average %s" % (args.reps, args.duration,
                                                                     args.connections, la0), flush=True)
    runs = []
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # cleanup as for Ctrl-C
    try:
        for rep in range(args.reps):
            for k, (name, spec) in enumerate(specs):
                idx = rep * len(specs) + k
                try:
                    r = one_run(args, name, spec, idx, tmp)
                except RuntimeError as e:
                    r = {"variant": name, "run": idx, "error": str(e)}
                runs.append(r)
                if "error" in r:
                    print("%-8s run %d: ERROR %s" % (name, idx, r["error"]), flush=True)
                    continue
                print("%-8s req/s %6.0f  us/req %5s  proc %3.0f%% %5s us/req  core %3.0f%% (usr %2.0f sys %2.0f sirq %2.0f)  wrk %3.0f%% (own %3.0f%%)  "
                      "p50/p99/max ms %s/%s/%s  err %d late %d  pkts/req in %s out %s  cli syn-rtx %d rto %d  k drops %s freezes %s  "
                      "rto %s (spur %s)  idle %s  load %s" % (
                          name, r["req_s"], fmt(r["us_req"]), 100 * r["proc_cpu"], fmt(r["proc_us_req"]),
                          100 * r["busy"], 100 * r["usr"], 100 * r["sys"],
                          100 * r["sirq"], 100 * r["wrk_busy"], 100 * r["wrk_cpu"], fmt(r["p50_ms"], "%.1f"), fmt(r["p99_ms"], "%.0f"),
                          fmt(r["max_ms"], "%.0f"), r["errors"], r["late"], fmt(r["pkts_in_req"], "%.1f"),
                          fmt(r["pkts_out_req"], "%.1f"), r["cli_syn_retrans"],
                          r["cli_timeouts"], r.get("k_drops", "-"), r.get("k_freezes", "-"), r.get("rto", "-"),
                          r.get("spurious", "-"), r.get("idle_polls", "-"), loadavg()), flush=True)
    except KeyboardInterrupt:
        print("pport_ab: interrupted", file=sys.stderr)
    print("\nsummary (medians of %d runs each; load average %s before, %s after)" % (args.reps, la0, loadavg()))
    base = None
    for name, _ in specs:
        ok = [r for r in runs if r["variant"] == name and "error" not in r]
        if not ok:
            print("%-8s no successful run" % name)
            continue
        m = {k: med([r.get(k) for r in ok]) for k in ("req_s", "us_req", "busy", "usr", "sys", "sirq", "p99_ms",
                                                         "k_drops", "k_freezes", "rto", "cli_syn_retrans",
                                                         "proc_cpu", "proc_us_req", "wrk_cpu")}
        if base is None:
            base = m
        ratio = ""
        if base is not m and base["req_s"] and m["us_req"] and base["us_req"]:
            ratio = "  vs %s: req/s x%.2f, core us/req x%.2f, process us/req x%.2f" % (
                specs[0][0], m["req_s"] / base["req_s"], m["us_req"] / base["us_req"],
                m["proc_us_req"] / base["proc_us_req"] if base["proc_us_req"] and m["proc_us_req"] else float("nan"))
        print("%-8s req/s %6.0f [%s]  us/req %5s  proc %3.0f%% %5s us/req  wrk own %3.0f%%  core %3.0f%% "
              "(usr %2.0f sys %2.0f sirq %2.0f)  p99 %s ms  k drops %s freezes %s rto %s cli syn-rtx %s%s" % (
                  name, m["req_s"], " ".join("%.0f" % r["req_s"] for r in ok), fmt(m["us_req"]),
                  100 * m["proc_cpu"], fmt(m["proc_us_req"]), 100 * m["wrk_cpu"], 100 * m["busy"],
                  100 * m["usr"], 100 * m["sys"], 100 * m["sirq"], fmt(m["p99_ms"]), fmt(m["k_drops"]),
                  fmt(m["k_freezes"]), fmt(m["rto"]), fmt(m["cli_syn_retrans"]), ratio))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"loadavg_before": la0, "loadavg_after": loadavg(), "args": vars(args), "runs": runs},
                      f, indent=1)
    if not args.keep_logs:
        for fn in os.listdir(tmp):
            os.unlink(os.path.join(tmp, fn))
        os.rmdir(tmp)
    return 0 if all("error" not in r for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
