#!/usr/bin/env python3
# bench/bench.py: `make bench`, the Rusty thesis' web-server experiment on one
# machine: wrk in a client network namespace against each server over a veth.
"""Run the libusnet web-server benchmark.

Each measured point gets a fresh rig: two network namespaces (client, server)
joined by one veth pair, addressed from 198.18.0.0/15 (RFC 2544), named with
this process' pid, and deleted when the point ends, on error, on Ctrl-C and on
SIGTERM. The server is pinned to the first cores, wrk to the rest. Each point
is run BENCH_RUNS times; figures are min/median/max over the runs.

Servers: bsd_ws and minimal_ws (this project; a "not built" row until their
binaries exist), nginx and lighttpd (Debian's, with generated configs). The
Linux-stack servers run twice: veth offloads as the kernel sets them, and with
checksum/segmentation/receive offloads off. A frame blaster (bench/blast.c)
measures the link's own ceiling on the same path.

Never a stale binary: a project server whose binary is missing or older
than its sources (`make -q` says it needs remaking, e.g. because the build
failed) is not measured; its row says why.

Figures: requests per second count only 2xx responses that arrived within
the timeout (--timeout, 5 s); responses after it and statuses >= 400 are
reported beside them. wrk's own --timeout is set above the run's length so
that every response has a latency sample (it never drops a connection).
CPU (the server's and wrk's cores from /proc/stat, the server processes' own
ticks) is taken over wrk's measured window only, interpolated from samples
every 50 ms (bench/cpuwin.py); steal time is counted apart, not as busy.

Exit status: 0 when the rig worked, whatever the figures; 1 on a rig error
(namespaces, links, wrk, the blaster, a reference server that would not start);
2 on bad arguments. A project server that is not built, is stale, fails to
start or serves wrong bytes is a row in the report, and an error only with
--strict (CI).
"""
import argparse
import csv
import datetime
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# No __pycache__ in the tree: it would make the report's commit "dirty".
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import cpuwin  # noqa: E402 (bench/cpuwin.py, beside this file)

SRV_IP = "198.18.0.1"
CLI_IP = "198.18.0.2"
PREFIX = 24
PORT = 80
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
NS_PREFIX = "usnb"
LINUX_SERVERS = ("bsd_ws", "nginx", "lighttpd")
PROJECT_SERVERS = ("bsd_ws", "minimal_ws")
ALL_SERVERS = ("minimal_ws", "bsd_ws", "nginx", "lighttpd")
OFFLOAD_FEATURES = ("tso", "gso", "gro", "tx", "rx")


class RigError(Exception):
    """The benchmark rig itself failed: fatal for the exit status."""


class ServerError(Exception):
    """A server did not start, or served the wrong bytes."""


class Interrupted(Exception):
    pass


def env_default(name, default):
    v = os.environ.get(name)
    return v if v not in (None, "") else default


# ---------------------------------------------------------------- processes

class Procs:
    """Every process this run starts, so that cleanup ends exactly those."""

    def __init__(self):
        self.live = []

    def start(self, argv, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        # Own session: Ctrl-C reaches only bench.py, which then stops its
        # children in order and deletes the namespaces.
        kw.setdefault("start_new_session", True)
        kw.setdefault("preexec_fn", raise_nofile)
        p = subprocess.Popen(argv, **kw)
        self.live.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, grace=5.0, extra_pids=()):
        """Stop p (and the descendants we saw it start) by pid."""
        pids = [p.pid] + [q for q in extra_pids if q != p.pid]
        if p.poll() is None:
            try:
                os.kill(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                kill_quiet(p.pid)
                p.wait(timeout=5)
        for q in pids[1:]:
            if pid_alive(q):
                kill_quiet(q)
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in list(self.live):
            try:
                self.stop(p, grace=2.0)
            except Exception as e:  # cleanup goes on whatever happens
                print("bench: stopping pid %d: %s" % (p.pid, e), file=sys.stderr)


def raise_nofile():
    # 1000 concurrent connections need more than the usual 1024 descriptors.
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    except (ValueError, OSError):
        pass


def kill_quiet(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run(argv, check=True, timeout=30, **kw):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RigError("%s: exit %d: %s" % (" ".join(argv), r.returncode, r.stderr.strip()[:400]))
    return r


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    for c in f.read().split():
                        out.append(int(c))
                        todo.append(int(c))
        except (OSError, ValueError):
            pass
    return out


def proc_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_ticks(pid):
    """(utime, stime) of a process, threads included, in clock ticks."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]), int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0, 0


def mem_used_kb():
    m = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            m[k] = int(v.split()[0])
    return m["MemTotal"] - m["MemAvailable"]


# ---------------------------------------------------------------- the rig

class Rig:
    """Two namespaces and one veth pair; the server end may stay unaddressed
    (a userspace stack owns it)."""

    seq = 0

    def __init__(self, procs, mtu=1500, queues=1, offloads="on", kernel_ip=True,
                 rps=False, srv_cores=(0,), cli_cores=(1,)):
        Rig.seq += 1
        tag = "%s%d%s" % (NS_PREFIX, os.getpid(), "" if Rig.seq == 1 else "x%d" % Rig.seq)
        self.procs = procs
        self.ns_c, self.ns_s = tag + "c", tag + "s"
        # Interface names are per namespace, so they need not change per rig.
        self.if_c, self.if_s = "ub%dc" % os.getpid(), "ub%ds" % os.getpid()
        self.mtu, self.queues, self.offloads, self.kernel_ip = mtu, queues, offloads, kernel_ip
        self.rps, self.srv_cores, self.cli_cores = rps, srv_cores, cli_cores
        self.made = []
        self.features = {}

    def __enter__(self):
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        self.down()
        return False

    def ns(self, which):
        return self.ns_c if which == "c" else self.ns_s

    def exec_argv(self, which, argv, cores=None):
        pre = ["taskset", "-c", ",".join(map(str, cores))] if cores else []
        return pre + ["ip", "netns", "exec", self.ns(which)] + list(argv)

    def sh(self, which, argv, check=True, timeout=30):
        return run(self.exec_argv(which, argv), check=check, timeout=timeout)

    def up(self):
        for ns in (self.ns_c, self.ns_s):
            run(["ip", "netns", "add", ns])
            self.made.append(ns)
        q = str(self.queues)
        run(["ip", "link", "add", self.if_c, "netns", self.ns_c, "numtxqueues", q, "numrxqueues", q,
             "type", "veth", "peer", "name", self.if_s, "netns", self.ns_s, "numtxqueues", q,
             "numrxqueues", q])
        for w, ifn in (("c", self.if_c), ("s", self.if_s)):
            self.sh(w, ["ip", "link", "set", "lo", "up"])
            self.sh(w, ["ip", "link", "set", ifn, "mtu", str(self.mtu)])
        self.sh("c", ["ip", "addr", "add", "%s/%d" % (CLI_IP, PREFIX), "dev", self.if_c])
        if self.kernel_ip:
            self.sh("s", ["ip", "addr", "add", "%s/%d" % (SRV_IP, PREFIX), "dev", self.if_s])
        # Per-namespace sysctls: a 1000-connection flood must not hit a
        # 4096-entry listen queue limit, and the client reuses its ports.
        self.sh("s", ["sysctl", "-q", "-w", "net.core.somaxconn=8192",
                      "net.ipv4.tcp_max_syn_backlog=8192"])
        self.sh("c", ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535",
                      "net.ipv4.tcp_tw_reuse=1"])
        if self.offloads == "off":
            for w, ifn in (("c", self.if_c), ("s", self.if_s)):
                self.sh(w, ["ethtool", "-K", ifn, "tso", "off", "gso", "off", "gro", "off",
                            "tx", "off", "rx", "off"])
        elif self.offloads == "csum-off":
            # Userspace stack on the server end: frames must arrive with their
            # checksums filled in (CHECKSUM_PARTIAL never reaches AF_XDP/AF_PACKET
            # completed) and no larger than the MTU.
            self.sh("c", ["ethtool", "-K", self.if_c, "tx", "off", "tso", "off", "gso", "off"])
            self.sh("s", ["ethtool", "-K", self.if_s, "gro", "off"])
        if self.rps:
            # Receive processing on the receiver's own cores: without this,
            # veth runs the server's TCP input on wrk's core and the reverse.
            self.set_rps("s", self.if_s, self.srv_cores)
            self.set_rps("c", self.if_c, self.cli_cores)
        for w, ifn in (("c", self.if_c), ("s", self.if_s)):
            self.sh(w, ["ip", "link", "set", ifn, "up"])
        self.features = {"client": self.read_features("c", self.if_c),
                         "server": self.read_features("s", self.if_s)}
        self.wait_carrier()

    def set_rps(self, which, ifn, cores):
        mask = "%x" % sum(1 << c for c in cores)
        self.sh(which, ["sh", "-c", "for f in /sys/class/net/%s/queues/rx-*/rps_cpus; do echo %s > $f; done"
                        % (ifn, mask)])

    def read_features(self, which, ifn):
        r = self.sh(which, ["ethtool", "-k", ifn])
        want = {"tcp-segmentation-offload": "tso", "generic-segmentation-offload": "gso",
                "generic-receive-offload": "gro", "tx-checksumming": "tx", "rx-checksumming": "rx",
                "scatter-gather": "sg"}
        out = {}
        for line in r.stdout.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in want:
                out[want[k.strip()]] = v.split()[0] if v.split() else "?"
        return out

    def wait_carrier(self):
        for _ in range(50):
            r = self.sh("c", ["cat", "/sys/class/net/%s/carrier" % self.if_c], check=False)
            if r.stdout.strip() == "1":
                return
            time.sleep(0.1)
        raise RigError("veth %s has no carrier" % self.if_c)

    def mac(self, which):
        ifn = self.if_c if which == "c" else self.if_s
        return self.sh(which, ["cat", "/sys/class/net/%s/address" % ifn]).stdout.strip()

    def counter(self, which, name):
        ifn = self.if_c if which == "c" else self.if_s
        return int(self.sh(which, ["cat", "/sys/class/net/%s/statistics/%s" % (ifn, name)]).stdout)

    def down(self):
        # Processes first (one rig exists at a time, so every live process we
        # started belongs to it), then the namespaces: a namespace with a
        # process in it outlives its name.
        if self.made:
            self.procs.stop_all()
        for ns in reversed(self.made):
            r = run(["ip", "netns", "pids", ns], check=False)
            pids = r.stdout.split()
            if pids:
                print("bench: namespace %s still has processes %s" % (ns, " ".join(pids)), file=sys.stderr)
            run(["ip", "netns", "del", ns], check=False)
        self.made = []


def stale_cleanup():
    """Delete namespaces left by an earlier bench.py that died (its pid gone)."""
    r = run(["ip", "netns", "list"], check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(r"^%s(\d+)(x\d+)?[cs]$" % NS_PREFIX, name)
        if m and not pid_alive(int(m.group(1))):
            pids = run(["ip", "netns", "pids", name], check=False).stdout.split()
            if pids:
                print("bench: stale namespace %s has processes %s; left alone" % (name, " ".join(pids)),
                      file=sys.stderr)
                continue
            run(["ip", "netns", "del", name], check=False)
            print("bench: deleted stale namespace %s" % name, file=sys.stderr)


# ---------------------------------------------------------------- servers

def server_binary(name, build_dir):
    if name in PROJECT_SERVERS:
        p = os.path.join(build_dir, "apps", name)
        return p if os.access(p, os.X_OK) else None
    return shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def binary_fresh(binary, build_dir, make="make"):
    """(True, None) when `make -q` says the project binary is up to date
    with the tree; else (False, why). build_dir is <O>/rel or <O>/san (the
    Makefile's layout); anything else cannot be checked and is refused."""
    b = os.path.abspath(build_dir)
    kind = os.path.basename(b)
    if kind not in ("rel", "san"):
        return False, "cannot check %s against its sources: the build dir %s is not <O>/rel or <O>/san" % (
            binary, build_dir)
    # Paths as the build wrote them (relative to the tree), so that the
    # dependency files it left (.d, with relative paths) apply.
    o = os.path.relpath(os.path.dirname(b), ROOT)
    try:
        r = subprocess.run([make, "-q", "-C", ROOT, "O=" + o, "SAN=" + ("1" if kind == "san" else "0"),
                            os.path.relpath(os.path.abspath(binary), ROOT)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, "cannot check %s against its sources: %s" % (binary, e)
    if r.returncode == 0:
        return True, None
    if r.returncode == 1:
        return False, ("stale: %s is older than its sources (the last build failed or did not run: "
                       "`make all`)" % os.path.relpath(binary, ROOT))
    return False, "cannot check %s against its sources: make -q: %s" % (binary, r.stderr.strip()[-200:])


def dpdk_prefix():
    return "%s%d" % (NS_PREFIX, os.getpid())


def nginx_conf(tmp, www, workers):
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""# generated by bench/bench.py
user root;
daemon off;
master_process on;
worker_processes %d;
worker_rlimit_nofile 65536;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 16384; use epoll; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 0;
    default_type text/html;
    client_body_temp_path %s/body;
    proxy_temp_path %s/proxy;
    fastcgi_temp_path %s/fastcgi;
    uwsgi_temp_path %s/uwsgi;
    scgi_temp_path %s/scgi;
    server {
        listen %s:%d backlog=8192%s;
        root %s;
        location / { }
    }
}
""" % (workers, tmp, tmp, tmp, tmp, tmp, tmp, tmp, SRV_IP, PORT,
       " reuseport" if workers > 1 else "", www))
    return conf


def lighttpd_conf(tmp, www, workers):
    conf = os.path.join(tmp, "lighttpd.conf")
    with open(conf, "w") as f:
        f.write("""# generated by bench/bench.py
server.document-root = "%s"
server.bind = "%s"
server.port = %d
server.errorlog = "%s/lighttpd.err"
server.modules = ()
server.max-keep-alive-requests = 0
server.max-fds = 65536
server.max-connections = 16384
server.listen-backlog = 8192
server.network-backend = "sendfile"
server.event-handler = "linux-sysepoll"
server.max-worker = %d
mimetype.assign = (".html" => "text/html")
""" % (www, SRV_IP, PORT, tmp, workers if workers > 1 else 0))
    return conf


class Server:
    """One server process tree inside a rig's server namespace."""

    def __init__(self, name, binary, rig, procs, www, workers, mtu, tmp, vdev=None):
        self.name, self.binary, self.rig, self.procs = name, binary, rig, procs
        self.www, self.workers, self.mtu, self.tmp, self.vdev = www, workers, mtu, tmp, vdev
        self.proc = None
        self.log = os.path.join(tmp, name + ".log")
        self.seen = set()
        self.notes = []

    def argv(self):
        cores = self.rig.srv_cores
        cpus = ",".join(map(str, cores))
        if self.name == "nginx":
            conf = nginx_conf(self.tmp, self.www, self.workers)
            return [self.binary, "-p", self.tmp, "-e", os.path.join(self.tmp, "error.log"), "-c", conf]
        if self.name == "lighttpd":
            return [self.binary, "-D", "-f", lighttpd_conf(self.tmp, self.www, self.workers)]
        if self.name == "bsd_ws":
            return [self.binary, "--root", self.www, "--addr", SRV_IP, "--port", str(PORT),
                    "--workers", str(self.workers), "--cpus", cpus]
        if self.name == "minimal_ws":
            q = self.workers
            if self.vdev == "af_xdp":
                dev = "net_af_xdp0,iface=%s,start_queue=0,queue_count=%d" % (self.rig.if_s, q)
            else:
                dev = "net_af_packet0,iface=%s,qpairs=%d" % (self.rig.if_s, q)
            # Beyond the documented line: --no-pci keeps EAL off the machine's
            # own NIC; --no-telemetry opens no socket; the runtime files go under
            # a unique --file-prefix, removed at stop (--in-memory would avoid
            # them but EAL refuses it beside --file-prefix).
            a = [self.binary, "--no-huge", "-m", "1024", "-l", cpus, "--vdev=" + dev, "--no-pci",
                 "--no-telemetry", "--file-prefix", dpdk_prefix(), "--", "--root", self.www,
                 "--ip", "%s/%d" % (SRV_IP, PREFIX), "--port", str(PORT), "--workers", str(self.workers)]
            if self.mtu != 1500:
                # The port's MTU is the backend's (before "--"); the stack's
                # may not exceed it.
                a.insert(a.index("--"), "--usn-mtu=%d" % self.mtu)
                a += ["--mtu", str(self.mtu)]
            return a
        raise ValueError(self.name)

    def start(self, ready_timeout):
        argv = self.argv()
        self.cmdline = " ".join(argv)
        with open(self.log, "ab") as lf:
            self.proc = self.procs.start(self.rig.exec_argv("s", argv, self.rig.srv_cores),
                                         stdout=lf, stderr=subprocess.STDOUT)
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise ServerError("%s exited with %d before serving: %s" % (
                    self.name, self.proc.returncode, self.log_tail()))
            r = self.rig.sh("c", ["curl", "-s", "-o", "/dev/null", "--max-time", "1",
                                  "-w", "%{http_code}", "http://%s:%d/" % (SRV_IP, PORT)],
                            check=False, timeout=10)
            if r.stdout.strip() not in ("", "000"):
                self.track()
                return
            time.sleep(0.25)
        raise ServerError("%s not answering on %s:%d after %.0f s: %s" % (
            self.name, SRV_IP, PORT, ready_timeout, self.log_tail()))

    def verify(self, pages, www):
        """Fetch a few pages and compare them byte for byte with the corpus."""
        by_size = sorted(pages, key=lambda p: p[1])
        picks = [by_size[0], by_size[len(by_size) // 2], by_size[-1]]
        out = os.path.join(self.tmp, "verify.html")
        for path, size in picks:
            if os.path.exists(out):
                os.unlink(out)
            r = self.rig.sh("c", ["curl", "-sS", "--max-time", "10", "-H", "Connection: close",
                                  "-o", out, "-w", "%{http_code}", "http://%s:%d%s" % (SRV_IP, PORT, path)],
                            check=False, timeout=20)
            if r.stdout.strip() != "200":
                raise ServerError("%s: GET %s gave %s %s" % (self.name, path, r.stdout.strip(),
                                                               r.stderr.strip()[:200]))
            with open(out, "rb") as f:
                got = hashlib.sha256(f.read()).hexdigest()
            with open(os.path.join(www, path.lstrip("/")), "rb") as f:
                want = hashlib.sha256(f.read()).hexdigest()
            if got != want:
                raise ServerError("%s: GET %s: body differs from the corpus file" % (self.name, path))
        return len(picks)

    def track(self):
        if self.proc is not None:
            self.seen.add(self.proc.pid)
            self.seen.update(descendants(self.proc.pid))

    def pids(self):
        self.track()
        return [p for p in self.seen if pid_alive(p)]

    def rss_kb(self):
        return sum(proc_rss_kb(p) for p in self.pids())

    def cpu_ticks(self):
        u = s = 0
        for p in self.pids():
            a, b = proc_cpu_ticks(p)
            u, s = u + a, s + b
        return u, s

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None:
            self.track()
            self.procs.stop(self.proc, signal.SIGTERM, grace=5.0, extra_pids=sorted(self.seen))
            self.proc = None
        if self.name == "minimal_ws":
            shutil.rmtree(os.path.join("/var/run/dpdk", dpdk_prefix()), ignore_errors=True)

    def log_tail(self, n=400):
        try:
            with open(self.log, "rb") as f:
                data = f.read()[-n:]
            errlog = os.path.join(self.tmp, "error.log")
            if os.path.exists(errlog):
                with open(errlog, "rb") as f:
                    data += f.read()[-n:]
            return data.decode("utf-8", "replace").strip().replace("\n", " | ")
        except OSError:
            return ""


# ---------------------------------------------------------------- measurement

class Progress:
    def __init__(self, total):
        self.total, self.i, self.tty = total, 0, sys.stderr.isatty()
        self.last = ""

    def step(self, label):
        self.i += 1
        self.label = label
        self.show("")

    def show(self, detail):
        line = "[%d/%d] %s %s" % (self.i, self.total, self.label, detail)
        if self.tty:
            sys.stderr.write("\r\033[K" + line)
            sys.stderr.flush()
        else:
            # Logs (CI): one line per point and per run, not per tick.
            key = " ".join(line.split()[:-2]) if detail.startswith("run") else line
            if key != self.last:
                print(key, file=sys.stderr, flush=True)
            self.last = key

    def clear(self):
        if self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def run_wrk(rig, server, args, pages_txt, seed, progress, detail, mem_before):
    """One wrk run against a started server, with CPU and memory sampled;
    mem_before: MemTotal - MemAvailable taken before the server started.
    CPU is taken over wrk's own measured window: wrk_random.lua's done()
    creates a mark file when the window has ended, and the window is the
    "duration_us" before it."""
    cores = rig.srv_cores
    mark = os.path.join(server.tmp, "wrk_done.%d" % seed)
    if os.path.exists(mark):
        os.unlink(mark)
    # wrk's --timeout only bounds its latency record and counts; above the
    # run's length, every response gets a sample and the Lua script counts
    # those within the benchmark's timeout (args.timeout).
    wrk_argv = ["wrk", "-t", str(len(rig.cli_cores)), "-c", str(args.connections),
                "-d", "%ds" % args.duration, "--timeout", "%ds" % (args.duration + 5),
                "-s", os.path.join(HERE, "wrk_random.lua"), "http://%s:%d/" % (SRV_IP, PORT),
                "--", pages_txt, str(seed)]
    env = dict(os.environ, WRK_DONE_MARK=mark, WRK_GOOD_TIMEOUT_US=str(int(args.timeout * 1e6)))
    sampler = cpuwin.Sampler(set(cores) | set(rig.cli_cores), interval=0.05,
                             extra=lambda: list(server.cpu_ticks()))
    sampler.start()
    t0 = time.time()
    p = rig.procs.start(rig.exec_argv("c", wrk_argv, rig.cli_cores),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    rss_max, mem_max = server.rss_kb(), mem_used_kb()
    limit = args.duration + args.timeout + 30
    try:
        while p.poll() is None:
            if time.time() - t0 > limit:
                rig.procs.stop(p, signal.SIGKILL)
                raise RigError("wrk did not finish within %d s" % limit)
            time.sleep(0.5)
            rss_max = max(rss_max, server.rss_kb())
            mem_max = max(mem_max, mem_used_kb())
            progress.show("%s %.0f/%d s" % (detail, time.time() - t0, args.duration))
        out, err = p.communicate()
    finally:
        sampler.stop()
    if p in rig.procs.live:
        rig.procs.live.remove(p)
    m = re.search(r"^WRK_JSON (\{.*\})\s*$", out, re.M)
    if p.returncode != 0 or not m:
        raise RigError("wrk failed (exit %d): %s %s" % (p.returncode, err.strip()[-400:], out.strip()[-400:]))
    w = json.loads(m.group(1))
    if not os.path.exists(mark):
        raise RigError("wrk_random.lua wrote no end mark (%s): cannot place wrk's window" % mark)
    t_end = os.stat(mark).st_mtime_ns / 1e9
    secs = w["duration_us"] / 1e6 if w["duration_us"] else float(args.duration)
    try:
        srv = cpuwin.window(sampler.samples, t_end - secs, t_end, cores)
        cli = cpuwin.window(sampler.samples, t_end - secs, t_end, rig.cli_cores)
        pd = cpuwin.extra_window(sampler.samples, t_end - secs, t_end)
    except cpuwin.WindowError as e:
        raise RigError("CPU over wrk's window: %s" % e)
    n = w["requests"]
    e = w["errors"]
    if w.get("within_timeout", -1) < 0:
        raise RigError("wrk_random.lua did not count the responses within the timeout")
    within = w["within_timeout"]
    # 2xx within the timeout: wrk counts statuses >= 400 as errors and
    # does not say which were late, so a late error status is taken off
    # twice (the figure errs low).
    good = max(0, within - e["status"])
    total = sum(srv[k] for k in cpuwin.FIELDS) or 1
    ctotal = sum(cli[k] for k in cpuwin.FIELDS) or 1
    return {
        "requests": good,
        "responses": n,
        "late": n - within,
        "req_per_s": good / secs,
        "gbit_per_s": w["bytes"] * 8 / secs / 1e9,
        "bytes": w["bytes"],
        "seconds": secs,
        "latency_us": w["latency_us"],
        "latency_log2_us": w["latency_log2_us"],
        "errors": {"connect": e["connect"], "read": e["read"], "write": e["write"],
                   "timeout": e["timeout"]},
        "non_2xx_3xx": e["status"],
        "cpu_share": {
            "user": (srv["user"] + srv["nice"]) / total,
            "system": srv["system"] / total,
            "irq": srv["irq"] / total,
            "softirq": srv["softirq"] / total,
            "steal": srv["steal"] / total,
            "idle": (srv["idle"] + srv["iowait"]) / total,
        },
        # Busy time of the server's cores (steal excluded) per good request.
        "cpu_us_per_req": srv["busy_s"] * 1e6 / good if good else None,
        "steal_s": srv["steal_s"],
        # wrk's core(s): near 100% busy means the client, not the server, set the pace.
        "client_cpu_busy": cli["busy_s"] / ctotal,
        "client_steal_s": cli["steal_s"],
        "server_process_cpu_s": {"user": pd[0] * TICK_US / 1e6, "system": pd[1] * TICK_US / 1e6},
        "cpu_window_s": secs,
        "server_rss_kb_max": rss_max,
        "mem_used_kb_before": mem_before,
        "mem_used_kb_max": mem_max,
        "server_alive_after": server.alive(),
    }


def agg(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"min": min(vals), "median": statistics.median(vals), "max": max(vals)}


def summarize(runs):
    get = lambda f: agg([f(r) for r in runs])
    s = {
        "req_per_s": get(lambda r: r["req_per_s"]),
        "gbit_per_s": get(lambda r: r["gbit_per_s"]),
        "latency_p50_us": get(lambda r: r["latency_us"]["p50"]),
        "latency_p99_us": get(lambda r: r["latency_us"]["p99"]),
        "latency_max_us": get(lambda r: r["latency_us"]["max"]),
        "cpu_us_per_req": get(lambda r: r["cpu_us_per_req"]),
        "server_rss_kb_max": get(lambda r: r["server_rss_kb_max"]),
        "mem_used_kb_before": get(lambda r: r["mem_used_kb_before"]),
        "mem_used_kb_max": get(lambda r: r["mem_used_kb_max"]),
    }
    for k in ("user", "system", "softirq", "irq", "idle", "steal"):
        s["cpu_" + k] = get(lambda r, k=k: r["cpu_share"].get(k))
    s["client_cpu_busy"] = get(lambda r: r.get("client_cpu_busy"))
    # The server's own processes (threads included), immune to other tenants'
    # load on the same core; softirq work is not charged to them.
    s["proc_user"] = get(lambda r: r["server_process_cpu_s"]["user"] / r["seconds"])
    s["proc_system"] = get(lambda r: r["server_process_cpu_s"]["system"] / r["seconds"])
    errs = {}
    for k in ("connect", "read", "write", "timeout"):
        errs[k] = sum(r["errors"][k] for r in runs)
    s["errors_total"] = errs
    s["non_2xx_3xx_total"] = sum(r["non_2xx_3xx"] for r in runs)
    # Responses after the timeout (not counted in req/s), and all responses.
    s["late_total"] = sum(r.get("late", 0) for r in runs)
    s["responses_total"] = sum(r.get("responses", r["requests"]) for r in runs)
    # The histogram of the median run (by req/s) represents the point.
    med = sorted(runs, key=lambda r: r["req_per_s"])[(len(runs) - 1) // 2]
    s["latency_log2_us"] = med["latency_log2_us"]
    return s


def measure_point(pt, args, ctx, procs, progress):
    """Build a rig, start one server, run wrk BENCH_RUNS times, tear down."""
    res = dict(pt)
    res.update({"status": "ok", "runs": [], "notes": []})
    binary = pt.get("binary") or server_binary(pt["server"], args.build_dir)
    if binary is None:
        res["status"] = "not built"
        res["notes"].append("no %s binary" % (os.path.join(args.build_dir, "apps", pt["server"])
                                               if pt["server"] in PROJECT_SERVERS else pt["server"]))
        return res
    if pt["server"] in PROJECT_SERVERS and not pt.get("binary"):
        ok, why = binary_fresh(binary, args.build_dir)
        if not ok:
            res["status"] = "not built"
            res["notes"].append("not measured: " + why)
            return res
    userspace = pt["server"] == "minimal_ws"
    vdevs = (["af_xdp", "af_packet"] if args.vdev == "af_xdp" else ["af_packet"]) if userspace else [None]
    last_err = first_err = None
    for vdev in vdevs:
        tmp = tempfile.mkdtemp(prefix="usnb-%s-" % pt["server"])
        try:
            with Rig(procs, mtu=pt["mtu"], queues=pt["workers"],
                     offloads="csum-off" if userspace else pt["offloads"], kernel_ip=not userspace,
                     rps=args.rps, srv_cores=ctx["srv_cores"][:pt["workers"]],
                     cli_cores=ctx["cli_cores_for"][pt["workers"]]) as rig:
                res["veth_features"] = rig.features
                srv = Server(pt["server"], binary, rig, procs, ctx["www"], pt["workers"], pt["mtu"],
                             tmp, vdev)
                try:
                    mem_before = mem_used_kb()
                    srv.start(args.ready_timeout if not userspace else max(args.ready_timeout, 30))
                    if userspace and args.rps:
                        res["notes"] += napi_to_server_cores(rig)
                    res["verified_pages"] = srv.verify(ctx["pages"], ctx["www"])
                    res["command"] = srv.cmdline
                    if vdev:
                        res["vdev"] = vdev
                        if vdev != vdevs[0]:
                            res["notes"].append("net_af_xdp failed (%s); ran on net_af_packet" % last_err)
                    for i in range(args.runs):
                        if i:
                            time.sleep(1.0)
                        r = run_wrk(rig, srv, args, ctx["pages_txt"], args.seed + i, progress,
                                    "run %d/%d" % (i + 1, args.runs), mem_before)
                        res["runs"].append(r)
                        if not r["server_alive_after"]:
                            raise ServerError("%s died during the run: %s" % (srv.name, srv.log_tail()))
                    return res
                finally:
                    srv.stop()
                    if pt.get("profile"):
                        res["cost_centres"] = parse_profile(srv.log)
        except ServerError as e:
            last_err = str(e)
            if vdev == "af_xdp":
                first_err = last_err
            if userspace and vdev == "af_xdp" and not res["runs"]:
                continue  # try net_af_packet
            res["status"] = "error"
            if userspace and vdev == "af_packet":
                res["notes"].append("net_af_xdp: %s" % first_err)
                res["notes"].append("net_af_packet: %s" % e)
            else:
                res["notes"].append(str(e))
            return res
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    res["status"] = "error"
    res["notes"].append(str(last_err))
    return res


# ---------------------------------------------------------------- cost centres

PROF_BUILD = "build-prof"  # make O=build-prof USN_PROFILE=1: binaries in build-prof/rel


def build_profile():
    """The profiling minimal_ws (USN_PROFILE=1) in its own tree; its path or
    None with the reason."""
    binary = os.path.join(ROOT, PROF_BUILD, "rel", "apps", "minimal_ws")
    r = run(["make", "-C", ROOT, "-j2", "O=" + PROF_BUILD, "USN_PROFILE=1",
             os.path.relpath(binary, ROOT)], check=False, timeout=900)
    if r.returncode != 0 or not os.access(binary, os.X_OK):
        return None, "profiling build failed: %s" % (r.stderr or r.stdout).strip()[-300:]
    return binary, None


def parse_profile(log):
    """The cost-centre table minimal_ws prints at exit (apps/minimal_ws/main.c):
    {"requests": N, "categories": [{"name", "cycles", "share", "cycles_per_req"}...]}."""
    try:
        with open(log, errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    m = None
    for m in re.finditer(r"^cost centres: (\d+) workers?, (\d+) requests$", text, re.M):
        pass
    if not m:
        return None
    cats = []
    for line in text[m.end():].splitlines()[2:]:
        f = re.match(r"^\s+(\w+)\s+(\d+)\s+([\d.]+)%\s+([\d.]+)$", line)
        if not f or f.group(1) == "total":
            break
        cats.append({"name": f.group(1), "cycles": int(f.group(2)), "share": float(f.group(3)) / 100,
                     "cycles_per_req": float(f.group(4))})
    return {"workers": int(m.group(1)), "requests": int(m.group(2)), "categories": cats} if cats else None


def measure_profile(args, ctx, procs, progress):
    """One run of the profiling minimal_ws on the same rig as the main points."""
    pt = {"server": "minimal_ws", "offloads": "n/a", "mtu": 1500, "workers": 1, "profile": True}
    binary, err = build_profile()
    if not binary:
        return dict(pt, status="not built", runs=[], notes=[err])
    pt["binary"] = binary
    pargs = argparse.Namespace(**vars(args))
    pargs.runs = 1
    res = measure_point(pt, pargs, ctx, procs, progress)
    res.pop("binary", None)
    if res["runs"]:
        res["summary"] = summarize(res["runs"])
    if res["status"] == "ok" and not res.get("cost_centres"):
        res["notes"].append("minimal_ws printed no cost-centre table (not a USN_PROFILE build?)")
    return res


def profile_rows(prof, results):
    """The cost-centre table: category, cycles/request, share, and us/request
    estimated as share x the profiling run's CPU us/request; then bsd_ws's
    user/system/softirq split for comparison."""
    rows, cmp_rows = [], []
    cc = prof.get("cost_centres") if prof else None
    s = prof.get("summary") if prof else None
    us_req = s["cpu_us_per_req"]["median"] if s and s.get("cpu_us_per_req") else None
    if cc:
        for c in cc["categories"] + [{"name": "total", "share": 1.0,
                                      "cycles_per_req": sum(x["cycles_per_req"] for x in cc["categories"])}]:
            rows.append([c["name"], "%.0f" % c["cycles_per_req"], "%.1f%%" % (c["share"] * 100),
                         fmt_num(us_req * c["share"] if us_req is not None else None, "%.1f")])
    for r in results:
        if r["server"] != "bsd_ws" or r["workers"] != 1 or r["mtu"] != 1500 or not r.get("summary"):
            continue
        rs = r["summary"]
        u = rs["cpu_us_per_req"]["median"] if rs.get("cpu_us_per_req") else None
        parts = [rs["cpu_user"]["median"], rs["cpu_system"]["median"], rs["cpu_softirq"]["median"]]
        busy = sum(parts) + rs["cpu_irq"]["median"]
        cmp_rows.append([row_label(r)] + ["%.1f%%" % (v * 100) for v in parts] +
                        [fmt_num(u, "%.1f")] +
                        [fmt_num(u * v / busy if u is not None and busy else None, "%.1f") for v in parts])
    if s:
        cmp_rows.append(["minimal_ws (profiling build)"] +
                        ["%.1f%%" % (s[k]["median"] * 100) for k in ("cpu_user", "cpu_system", "cpu_softirq")] +
                        [fmt_num(us_req, "%.1f"), "", "", ""])
    return rows, cmp_rows


PROF_HEADERS = ["category", "cycles/req", "share", "us/req (est.)"]
PROF_CMP_HEADERS = ["server", "user", "system", "softirq", "CPU us/req", "user us/req", "system us/req",
                    "softirq us/req"]


def print_simple(headers, rows, out=sys.stdout):
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in range(len(headers))]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    print(fmt % tuple(headers), file=out)
    for r in rows:
        print(fmt % tuple(r), file=out)


def profile_markdown(prof, results):
    rows, cmp_rows = profile_rows(prof, results)
    if not prof:
        return ""
    lines = ["", "Cost centres of minimal_ws (a USN_PROFILE=1 build, one %d s run, 1 worker): every cycle of "
             "the worker's loop charged to one category (exclusive time); us/req estimated as share x the "
             "run's CPU us/req. Status: %s." % (prof.get("flags_duration", 0), prof["status"]), ""]
    if rows:
        lines += ["| " + " | ".join(PROF_HEADERS) + " |", "|" + "|".join("---" for _ in PROF_HEADERS) + "|"]
        lines += ["| " + " | ".join(c if c else " " for c in r) + " |" for r in rows]
        lines.append("")
    if cmp_rows:
        lines += ["Beside it, the Linux twin's split of the server core (/proc/stat during the run):", "",
                  "| " + " | ".join(PROF_CMP_HEADERS) + " |", "|" + "|".join("---" for _ in PROF_CMP_HEADERS) + "|"]
        lines += ["| " + " | ".join(c if c else " " for c in r) + " |" for r in cmp_rows]
        lines.append("")
    for n in prof.get("notes", []):
        lines.append("- cost centres: %s" % n)
    return "\n".join(lines) + "\n"


def napi_to_server_cores(rig):
    """AF_XDP on veth receives in the peer's transmit context (wrk's core)
    unless the server end's NAPI runs as a thread we pin to the server cores."""
    before = kthreads("napi/")
    r = rig.sh("s", ["sh", "-c", "echo 1 > /sys/class/net/%s/threaded" % rig.if_s], check=False)
    if r.returncode != 0:
        return ["threaded NAPI not available on the veth: XDP receive runs on wrk's core"]
    new = [p for p in kthreads("napi/") if p not in before]
    for pid in new:
        run(["taskset", "-pc", ",".join(map(str, rig.srv_cores)), str(pid)], check=False)
    return ["veth NAPI threaded, %d thread(s) pinned to server cores" % len(new)] if new else \
        ["veth NAPI threaded, but no new napi thread found to pin"]


def kthreads(prefix):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/comm" % d) as f:
                    if f.read().startswith(prefix):
                        out.append(int(d))
            except OSError:
                pass
    return out


def measure_link(args, ctx, procs, progress, frame_sizes):
    """The veth's ceiling: frames blasted from the client end, counted on arrival."""
    out = []
    for fb in frame_sizes:
        progress.step("link ceiling: %d-byte frames" % fb)
        mtu = max(1500, fb - 14)
        with Rig(procs, mtu=mtu, offloads="on", rps=args.rps, srv_cores=ctx["srv_cores"][:1],
                 cli_cores=ctx["cli_cores_for"][1]) as rig:
            dst = rig.mac("s")
            rx0 = rig.counter("s", "rx_packets")
            p = procs.start(rig.exec_argv("c", [args.blast, rig.if_c, dst, str(fb), str(args.blast_seconds)],
                                          rig.cli_cores), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
            try:
                o, e = p.communicate(timeout=args.blast_seconds + 20)
            except subprocess.TimeoutExpired:
                procs.stop(p, signal.SIGKILL)
                raise RigError("blast did not finish")
            if p in procs.live:
                procs.live.remove(p)
            time.sleep(0.2)  # let the last backlog drain into the counters
            rx = rig.counter("s", "rx_packets") - rx0
            if p.returncode != 0:
                raise RigError("blast failed (exit %d): %s" % (p.returncode, e.strip()))
            b = json.loads(o)
            secs = b["seconds"]
            out.append({"frame_bytes": fb, "wire_frame_bytes": fb + 4, "seconds": secs,
                        "sent": b["sent"], "received": rx,
                        "mpps": rx / secs / 1e6, "gbit_per_s": rx * fb * 8 / secs / 1e9,
                        "sent_mpps": b["sent"] / secs / 1e6})
    return out


# ---------------------------------------------------------------- output

def fmt_num(v, f="%.0f"):
    return "-" if v is None else f % v


def mm(a, f="%.0f", scale=1.0):
    if a is None:
        return "-"
    return "%s (%s..%s)" % (f % (a["median"] * scale), f % (a["min"] * scale), f % (a["max"] * scale))


def row_label(r):
    off = r["offloads"]
    return "%s%s" % (r["server"], "" if off == "n/a" else " offl-%s" % off)


def link_for(link, mtu):
    want = mtu + 14
    best = None
    for l in link:
        if l["frame_bytes"] == want:
            return l
        if l["frame_bytes"] == 1514:
            best = l
    return best


def table_rows(results, link):
    rows = []
    for r in results:
        s = r.get("summary")
        base = [row_label(r), str(r["mtu"]), str(r["workers"])]
        if not s:
            rows.append(base + [r["status"] + (" (see notes)" if r["notes"] else "")] +
                        [""] * (len(HEADERS) - 4))
            continue
        l = link_for(link, r["mtu"])
        share = (s["gbit_per_s"]["median"] / l["gbit_per_s"] * 100) if l and l["gbit_per_s"] else None
        e = s["errors_total"]
        rows.append(base + [
            mm(s["req_per_s"]),
            fmt_num(s["gbit_per_s"]["median"], "%.2f"),
            fmt_num(share, "%.0f%%"),
            "%s/%s/%s" % (fmt_num(s["latency_p50_us"]["median"] / 1e3, "%.1f"),
                          fmt_num(s["latency_p99_us"]["median"] / 1e3, "%.0f"),
                          fmt_num(s["latency_max_us"]["median"] / 1e3, "%.0f")),
            "%d/%d/%d/%d" % (e["connect"], e["read"], e["write"], s["late_total"]),
            str(s["non_2xx_3xx_total"]),
            "%.0f/%.0f/%.0f" % (s["cpu_user"]["median"] * 100, s["cpu_system"]["median"] * 100,
                                s["cpu_softirq"]["median"] * 100),
            fmt_num(s["cpu_us_per_req"]["median"] if s["cpu_us_per_req"] else None, "%.0f"),
            "%.0f/%.0f" % (s["proc_user"]["median"] * 100, s["proc_system"]["median"] * 100),
            fmt_num(s["client_cpu_busy"]["median"] * 100 if s["client_cpu_busy"] else None, "%.0f"),
            "%.1f" % (s["server_rss_kb_max"]["median"] / 1024),
            "%.0f/%.0f" % (s["mem_used_kb_before"]["median"] / 1024, s["mem_used_kb_max"]["median"] / 1024),
        ])
    return rows


HEADERS = ["server", "MTU", "wrk", "req/s median (min..max)", "Gbit/s", "of link", "lat p50/p99/max ms",
           "err c/r/w/late", "non-2xx", "CPU usr/sys/sirq %", "CPU us/req", "proc usr/sys %", "wrk CPU %", "RSS MB",
           "mem used MB before/during"]


def print_table(rows, out=sys.stdout):
    hdr = list(HEADERS)
    hdr[2] = "wkrs"
    widths = [max(len(hdr[i]), *(len(r[i]) for r in rows)) for i in range(len(hdr))]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    print(fmt % tuple(hdr), file=out)
    print(fmt % tuple("-" * w for w in widths), file=out)
    for r in rows:
        print(fmt % tuple(r), file=out)


def markdown(doc, rows):
    hdr = list(HEADERS)
    hdr[2] = "workers"
    m = doc["machine"]
    lines = [
        "Benchmark of %s, commit %s, on %s (%d cores, kernel %s)." % (
            doc["date"], commit_text(doc), m["cpu_model"], m["cores"], m["kernel"]),
        "Command: `%s`: %d s per point, %d run(s) per point (figures: median, (min..max) for req/s), "
        "%d connections, one request per connection, wrk on core(s) %s, server on core(s) %s." % (
            doc["command"], doc["flags"]["duration_s"], doc["flags"]["runs"], doc["flags"]["connections"],
            doc["flags"]["cli_cores"], doc["flags"]["srv_cores"]),
        "",
        "| " + " | ".join(hdr) + " |",
        "|" + "|".join("---" for _ in hdr) + "|",
    ]
    for r in rows:
        lines.append("| " + " | ".join(c if c else " " for c in r) + " |")
    lines.append("")
    for l in doc["link"]:
        lines.append("Link ceiling (veth, %d-byte frames, AF_PACKET blaster): %.2f Mpps, %.2f Gbit/s." % (
            l["frame_bytes"], l["mpps"], l["gbit_per_s"]))
    lines += [
        "",
        "Gbit/s counts HTTP response bytes (headers included); \"of link\" compares it with the link's "
        "frame rate at the same MTU (1514-byte frames), so Ethernet/IP/TCP headers make it slightly low; "
        "with offloads on, the kernel carries 64 KB segments across veth and can exceed that ceiling.",
        "offl-on: veth offloads as the kernel sets them (%s); offl-off: tso, gso, gro, tx and rx "
        "checksum off on both ends. req/s: 2xx responses within the %d s timeout per second of wrk's "
        "measured window; late: responses after the timeout, non-2xx: statuses >= 400, both left out "
        "of req/s. CPU: the server core(s)' /proc/stat split over wrk's measured window only "
        "(sampled every 50 ms and interpolated at the window's ends); steal time is not counted as busy "
        "(steal %% of the server cores: %s). "
        "CPU us/req: busy time of those cores per counted request (anything else running on them counts too); proc usr/sys: the server processes' own CPU time over the window (softirq work is not charged to them); wrk CPU: busy share of wrk's core(s) (near 100%%: the client set the pace). Mem used: MemTotal - MemAvailable before the server started and at most during the runs. %s Errors: wrk's socket errors "
        "(connect/read/write)." % (
            doc.get("default_offloads") or "not run", doc["flags"]["wrk_timeout_s"], steal_text(doc),
            "Receive processing was moved to the receiver's cores (RPS; threaded NAPI for AF_XDP)."
            if doc["flags"]["rps"] else
            "veth receive processing runs on the sending core (the kernel's default), so each "
            "side's core also does its peer's receive work."),
        "",
    ]
    for r in doc["results"]:
        for n in r["notes"]:
            lines.append("- %s: %s" % (row_label(r), n))
    return "\n".join(lines) + "\n"


def commit_text(doc):
    """The commit, and whether the tree differed from it (untracked files
    included): a report says what was measured."""
    c = doc["commit"][:12]
    d = doc.get("dirty")
    if not d:
        return c
    if isinstance(d, dict):
        return "%s + uncommitted changes (%d modified, %d untracked files)" % (c, d["modified"], d["untracked"])
    return "%s (dirty)" % c


def steal_text(doc):
    vals = [r["summary"]["cpu_steal"]["median"] for r in doc["results"]
            if r.get("summary") and r["summary"].get("cpu_steal")]
    return "max %.1f%%" % (max(vals) * 100) if vals else "not measured"


def write_csv(path, results, link):
    cols = ["server", "offloads", "mtu", "workers", "status", "vdev", "req_s_min", "req_s_median",
            "req_s_max", "gbit_s_median", "link_share", "p50_us", "p99_us", "max_us", "err_connect",
            "err_read", "err_write", "late", "non_2xx", "cpu_user", "cpu_system", "cpu_softirq",
            "cpu_us_per_req", "proc_user", "proc_system", "client_cpu_busy", "rss_kb", "mem_used_kb_before", "mem_used_kb_max"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in results:
            s = r.get("summary")
            if not s:
                w.writerow([r["server"], r["offloads"], r["mtu"], r["workers"], r["status"], ""] +
                           [""] * (len(cols) - 6))
                continue
            l = link_for(link, r["mtu"])
            e = s["errors_total"]
            w.writerow([r["server"], r["offloads"], r["mtu"], r["workers"], r["status"], r.get("vdev", ""),
                        "%.1f" % s["req_per_s"]["min"], "%.1f" % s["req_per_s"]["median"],
                        "%.1f" % s["req_per_s"]["max"], "%.4f" % s["gbit_per_s"]["median"],
                        "%.4f" % (s["gbit_per_s"]["median"] / l["gbit_per_s"]) if l else "",
                        s["latency_p50_us"]["median"], s["latency_p99_us"]["median"],
                        s["latency_max_us"]["median"], e["connect"], e["read"], e["write"], s["late_total"],
                        s["non_2xx_3xx_total"], "%.4f" % s["cpu_user"]["median"],
                        "%.4f" % s["cpu_system"]["median"], "%.4f" % s["cpu_softirq"]["median"],
                        "%.1f" % s["cpu_us_per_req"]["median"] if s["cpu_us_per_req"] else "",
                        "%.4f" % s["proc_user"]["median"], "%.4f" % s["proc_system"]["median"],
                        "%.4f" % s["client_cpu_busy"]["median"] if s["client_cpu_busy"] else "",
                        s["server_rss_kb_max"]["median"], s["mem_used_kb_before"]["median"],
                        s["mem_used_kb_max"]["median"]])


def plots(outdir, doc):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return ["plots skipped: %s (install python3-matplotlib)" % e]
    made = []
    base = [r for r in doc["results"] if r.get("summary") and r["mtu"] == 1500 and r["workers"] == 1]
    # Throughput per server, with min..max whiskers and the link ceiling.
    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels = [row_label(r) for r in base]
    med = [r["summary"]["gbit_per_s"]["median"] for r in base]
    lo = [m - r["summary"]["gbit_per_s"]["min"] for m, r in zip(med, base)]
    hi = [r["summary"]["gbit_per_s"]["max"] - m for m, r in zip(med, base)]
    bars = ax.bar(range(len(base)), med, yerr=[lo, hi], capsize=4, color="#4c72b0")
    for b, r in zip(bars, base):
        ax.text(b.get_x() + b.get_width() / 2, b.get_height(), "%.0f req/s" % r["summary"]["req_per_s"]["median"],
                ha="center", va="bottom", fontsize=8)
    l = link_for(doc["link"], 1500)
    if l:
        ax.axhline(l["gbit_per_s"], color="#c44e52", ls="--", lw=1,
                   label="link ceiling, 1514-byte frames (%.1f Gbit/s)" % l["gbit_per_s"])
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xticks(range(len(base)))
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("HTTP throughput (Gbit/s)")
    ax.set_title("Throughput per server (%s, %d s x %d)" % (doc["date"][:10], doc["flags"]["duration_s"],
                                                            doc["flags"]["runs"]), fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "throughput.png"), dpi=110)
    plt.close(fig)
    made.append("throughput.png")
    # Latency histogram, log2 buckets, from the first non-empty one.
    fig, ax = plt.subplots(figsize=(8, 4.5))
    first = min([next((k for k, c in enumerate(r["summary"]["latency_log2_us"]) if c), 99) for r in base] or [0])
    last = max([len(r["summary"]["latency_log2_us"]) for r in base] or [1])
    for r in base:
        h = r["summary"]["latency_log2_us"]
        tot = sum(h) or 1
        ks = list(range(first, last))
        ax.plot(ks, [(h[k] if k < len(h) else 0) / tot * 100 for k in ks], marker="o", ms=3, label=row_label(r))
    ks = list(range(first, last))
    ax.set_xticks(ks)
    ax.set_xticklabels([("%g" % (2 ** k / 1000.0)) if 2 ** k >= 1000 else "%dus" % 2 ** k for k in ks],
                       rotation=45, fontsize=7)
    ax.set_xlabel("latency bucket (ms unless marked; bucket k holds [2^k, 2^(k+1)) us)")
    ax.set_ylabel("share of requests (%)")
    ax.set_title("Latency histogram (median run)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "latency_hist.png"), dpi=110)
    plt.close(fig)
    made.append("latency_hist.png")
    for key, fname, xl in (("workers", "workers.png", "workers"), ("mtu", "mtu.png", "MTU (bytes)")):
        other = "mtu" if key == "workers" else "workers"
        series = {}
        for r in doc["results"]:
            if r.get("summary") and r[other] == (1500 if other == "mtu" else 1) and \
                    (r["offloads"] in ("off", "n/a")):
                series.setdefault(r["server"], []).append((r[key], r["summary"]["req_per_s"]["median"]))
        if not any(len(v) > 1 for v in series.values()):
            continue
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for name, pts in sorted(series.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        ax.set_xlabel(xl)
        ax.set_ylabel("requests/s")
        ax.set_title("Requests/s per %s (Linux servers with offloads off)" % key, fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, fname), dpi=110)
        plt.close(fig)
        made.append(fname)
    return made


def machine_info():
    model = "?"
    r = run(["lscpu"], check=False)
    for line in r.stdout.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1])
    return {"cpu_model": model, "cores": os.cpu_count(), "kernel": os.uname().release,
            "mem_total_kb": mem, "hostname_hash": hashlib.sha256(os.uname().nodename.encode()).hexdigest()[:8],
            "wrk": run(["wrk", "-v"], check=False).stdout.splitlines()[0:1],
            "nginx": run(["nginx", "-v"], check=False).stderr.strip(),
            "lighttpd": run(["lighttpd", "-v"], check=False).stdout.strip()}


def git_info():
    """HEAD, and the tree's differences from it: False, or counts of
    modified and untracked files (ignored ones, such as build/, aside)."""
    r = run(["git", "-C", ROOT, "rev-parse", "HEAD"], check=False)
    d = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=all"], check=False)
    lines = [l for l in d.stdout.splitlines() if l.strip()]
    untracked = sum(1 for l in lines if l.startswith("??"))
    dirty = {"modified": len(lines) - untracked, "untracked": untracked} if lines else False
    return r.stdout.strip() or "unknown", dirty


# ---------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(description="libusnet web-server benchmark (see bench/bench.py)")
    ap.add_argument("--duration", type=int, default=int(env_default("BENCH_DURATION", "10")),
                    help="seconds per run (BENCH_DURATION; the thesis used 50)")
    ap.add_argument("--runs", type=int, default=int(env_default("BENCH_RUNS", "3")),
                    help="runs per point (BENCH_RUNS)")
    ap.add_argument("--connections", type=int, default=int(env_default("BENCH_CONNECTIONS", "1000")))
    ap.add_argument("--timeout", type=int, default=5, help="wrk's per-request timeout, seconds")
    ap.add_argument("--sweep", action="store_true", default=env_default("BENCH_SWEEP", "0") == "1",
                    help="also sweep workers and MTU (BENCH_SWEEP=1)")
    ap.add_argument("--servers", default=env_default("BENCH_SERVERS", ",".join(ALL_SERVERS)),
                    help="comma-separated subset of %s (BENCH_SERVERS)" % ",".join(ALL_SERVERS))
    ap.add_argument("--offloads", default=env_default("BENCH_OFFLOADS", "on,off"),
                    help="veth offload modes for the Linux servers (BENCH_OFFLOADS)")
    ap.add_argument("--vdev", choices=["af_xdp", "af_packet"], default=env_default("BENCH_VDEV", "af_xdp"),
                    help="minimal_ws's virtual device on the veth: net_af_xdp (falls back to "
                         "net_af_packet when it cannot start) or net_af_packet (BENCH_VDEV)")
    ap.add_argument("--rps", action="store_true", default=env_default("BENCH_RPS", "0") == "1",
                    help="move each side's veth receive processing to its own cores (RPS, and threaded "
                         "NAPI for AF_XDP); default: the kernel's way, on the sending core (BENCH_RPS=1)")
    ap.add_argument("--max-workers", type=int, default=int(env_default("BENCH_MAX_WORKERS", "0")),
                    help="largest worker count swept (default cores - 1); wrk gets the cores above it")
    ap.add_argument("--smoke", action="store_true", help="CI smoke: 2 s per point, 1 run, 1 s blasts")
    ap.add_argument("--blast", default=os.path.join(ROOT, "build", "rel", "bench", "blast"))
    ap.add_argument("--blast-seconds", type=float, default=float(env_default("BENCH_BLAST_SECONDS", "3")))
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "rel"))
    ap.add_argument("--seed", type=int, default=int(env_default("BENCH_SEED", "1")))
    ap.add_argument("--corpus", default=os.path.join(HERE, "corpus"))
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--profile", action="store_true", default=env_default("BENCH_PROFILE", "0") == "1",
                    help="also build minimal_ws with USN_PROFILE=1 (in %s) and run it once for its cost "
                         "centres (BENCH_PROFILE=1)" % PROF_BUILD)
    ap.add_argument("--ready-timeout", type=float, default=15.0)
    ap.add_argument("--strict", action="store_true",
                    help="also fail when a project server is not built or stale, fails to start or serves "
                         "wrong bytes (CI: make bench-smoke)")
    ap.add_argument("--command", default=env_default("BENCH_COMMAND", None),
                    help="how this run was invoked, for the report")
    a = ap.parse_args(argv)
    if a.command is None:
        a.command = " ".join(["bench/bench.py"] + list(argv))
    if a.smoke:
        a.duration, a.runs, a.blast_seconds = 2, 1, 1.0
    a.servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    bad = [s for s in a.servers if s not in ALL_SERVERS]
    a.offloads = [o.strip() for o in a.offloads.split(",") if o.strip()]
    if bad or not a.servers:
        ap.error("unknown server(s): %s" % ",".join(bad))
    if any(o not in ("on", "off") for o in a.offloads) or not a.offloads:
        ap.error("--offloads takes on,off")
    if not (1 <= a.duration <= 600 and 1 <= a.runs <= 20 and 1 <= a.connections <= 60000):
        ap.error("duration 1..600 s, runs 1..20, connections 1..60000")
    return a


def plan(args, cores):
    # wrk keeps the same cores at every point, so a sweep changes only the
    # server: the last cores - max_workers cores, the first ones for servers.
    max_workers = max(1, min(args.max_workers or cores - 1, cores - 1))
    srv_cores = list(range(max_workers)) if cores > 1 else [0]
    pts = []

    def add(server, offloads, mtu, workers):
        pts.append({"server": server, "offloads": offloads, "mtu": mtu, "workers": workers})

    for s in args.servers:
        if s in LINUX_SERVERS:
            for o in args.offloads:
                add(s, o, 1500, 1)
        else:
            add(s, "n/a", 1500, 1)
    if args.sweep:
        # Sweeps compare like with like: Linux with offloads off (same packet
        # sizes on the wire as the userspace stack).
        for w in range(2, max_workers + 1):
            for s in args.servers:
                add(s, "off" if s in LINUX_SERVERS else "n/a", 1500, w)
        for mtu in (512, 3000, 9000):
            for s in args.servers:
                add(s, "off" if s in LINUX_SERVERS else "n/a", mtu, 1)
    frames = [60, 1514] + ([526, 3014, 9014] if args.sweep else [])
    cli = list(range(max_workers, cores)) if cores > 1 else [0]
    cli_for = {w: cli for w in range(1, max_workers + 1)}
    return pts, frames, srv_cores, cli_for


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench: needs root (network namespaces)", file=sys.stderr)
        return 1
    for tool in ("ip", "ethtool", "taskset", "wrk", "curl"):
        if not shutil.which(tool):
            print("bench: %s not found (run tests/deps.sh bench)" % tool, file=sys.stderr)
            return 1
    if not os.access(args.blast, os.X_OK):
        print("bench: frame blaster %s not built (make %s)" % (args.blast, os.path.relpath(args.blast, ROOT)),
              file=sys.stderr)
        return 1
    cores = os.cpu_count() or 1
    if cores < 2:
        print("bench: warning: one core: server and wrk share it", file=sys.stderr)

    procs = Procs()

    def on_signal(signum, frame):
        # Once: the cleanup that follows must not be cut short by a second ^C.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted("signal %d" % signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    rig_errors = []
    prof = None
    t_start = time.time()
    try:
        stale_cleanup()
        r = run([sys.executable, os.path.join(HERE, "corpus.py"), "--out", args.corpus, "--seed", "1"],
                timeout=300)
        print(r.stdout.strip())
        with open(os.path.join(args.corpus, "manifest.json")) as f:
            manifest = json.load(f)
        pages_txt = os.path.join(args.corpus, "pages.txt")
        with open(pages_txt) as f:
            pages = [(l.split()[0], int(l.split()[1])) for l in f if l.strip()]
        pts, frames, srv_cores, cli_for = plan(args, cores)
        ctx = {"www": os.path.join(args.corpus, "www"), "pages": pages, "pages_txt": pages_txt,
               "srv_cores": srv_cores, "cli_cores_for": cli_for}
        est = len(pts) * (args.runs * (args.duration + 2) + 4) + len(frames) * (args.blast_seconds + 2)
        print("bench: %d points x %d run(s) x %d s, %d link blasts; about %s" % (
            len(pts), args.runs, args.duration, len(frames),
            "%.0f s" % est if est < 120 else "%.0f min" % (est / 60.0)))
        progress = Progress(len(pts) + len(frames) + (1 if args.profile else 0))
        try:
            link = measure_link(args, ctx, procs, progress, frames)
        except RigError as e:
            rig_errors.append("link blaster: %s" % e)
            link = []
        default_offloads = None
        results = []
        for pt in pts:
            progress.step("%s offloads=%s mtu=%d workers=%d" % (pt["server"], pt["offloads"], pt["mtu"],
                                                                   pt["workers"]))
            try:
                res = measure_point(pt, args, ctx, procs, progress)
            except RigError as e:
                res = dict(pt, status="rig error", runs=[], notes=[str(e)])
                rig_errors.append("%s: %s" % (row_label(res), e))
            if res["status"] == "error" and (pt["server"] not in PROJECT_SERVERS or args.strict):
                rig_errors.append("%s: %s" % (row_label(res), "; ".join(res["notes"])))
            if res["status"] == "not built" and pt["server"] in PROJECT_SERVERS and args.strict:
                rig_errors.append("%s: not measured: %s" % (row_label(res), "; ".join(res["notes"])))
            if res["runs"]:
                res["summary"] = summarize(res["runs"])
                if res["status"] == "ok" and res["summary"]["req_per_s"]["median"] == 0:
                    res["notes"].append("no successful request")
            if pt["offloads"] == "on" and res.get("veth_features") and default_offloads is None:
                default_offloads = ", ".join("%s %s" % kv for kv in sorted(res["veth_features"]["server"].items()))
            results.append(res)
        prof = None
        if args.profile:
            progress.step("minimal_ws cost centres (USN_PROFILE=1 build)")
            try:
                prof = measure_profile(args, ctx, procs, progress)
            except RigError as e:
                prof = {"server": "minimal_ws", "status": "rig error", "runs": [], "notes": [str(e)]}
                rig_errors.append("cost centres: %s" % e)
            prof["flags_duration"] = args.duration
        progress.clear()
    except Interrupted as e:
        procs.stop_all()
        print("\nbench: interrupted (%s); namespaces and processes removed" % e, file=sys.stderr)
        return 130
    finally:
        procs.stop_all()

    commit, dirty = git_info()
    now = datetime.datetime.now(datetime.timezone.utc)
    doc = {
        "date": now.isoformat(timespec="seconds"),
        "command": args.command,
        "commit": commit,
        "dirty": dirty,
        "machine": machine_info(),
        "flags": {"duration_s": args.duration, "runs": args.runs, "connections": args.connections,
                  "wrk_timeout_s": args.timeout, "sweep": args.sweep, "smoke": args.smoke,
                  "servers": args.servers, "offloads": args.offloads, "rps": args.rps,
                  "seed": args.seed, "srv_cores": ",".join(map(str, srv_cores[:1])),
                  "cli_cores": ",".join(map(str, cli_for[1])), "blast_seconds": args.blast_seconds,
                  "addresses": {"server": SRV_IP, "client": CLI_IP, "prefix": PREFIX}},
        "corpus": manifest,
        "default_offloads": default_offloads,
        "link": link,
        "results": results,
        "profile": prof,
        "rig_errors": rig_errors,
        "elapsed_s": round(time.time() - t_start, 1),
    }
    stamp = now.strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(args.results, stamp)
    os.makedirs(outdir, exist_ok=True)
    rows = table_rows(results, link)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    write_csv(os.path.join(outdir, "results.csv"), results, link)
    with open(os.path.join(outdir, "table.md"), "w") as f:
        f.write(markdown(doc, rows))
        if prof:
            f.write(profile_markdown(prof, results))
    made = plots(outdir, doc)
    latest = os.path.join(args.results, "latest")
    tmp_link = latest + ".new%d" % os.getpid()
    os.symlink(stamp, tmp_link)
    os.replace(tmp_link, latest)

    print()
    for l in link:
        print("link ceiling: %4d-byte frames: %.3f Mpps, %.2f Gbit/s (sent %.3f Mpps)" % (
            l["frame_bytes"], l["mpps"], l["gbit_per_s"], l["sent_mpps"]))
    print_table(rows)
    for r in results:
        for n in r["notes"]:
            print("  %s: %s" % (row_label(r), n))
    if prof:
        prows, pcmp = profile_rows(prof, results)
        print("\ncost centres of minimal_ws (USN_PROFILE=1 build, 1 run): %s" % prof["status"])
        if prows:
            print_simple(PROF_HEADERS, prows)
        if pcmp:
            print()
            print_simple(PROF_CMP_HEADERS, pcmp)
        for n in prof.get("notes", []):
            print("  cost centres: %s" % n)
    print("commit: %s" % commit_text(doc))
    print("results: %s (json, csv, table.md%s); %.0f s" % (
        os.path.relpath(outdir, ROOT), (", " + ", ".join(made)) if made else "", doc["elapsed_s"]))
    if rig_errors:
        print("bench: RIG ERRORS:", file=sys.stderr)
        for e in rig_errors:
            print("  " + e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
