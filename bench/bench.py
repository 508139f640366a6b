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
checksum/segmentation/receive offloads off. minimal_ws runs once per port:
DPDK's net_af_xdp (else net_af_packet) and the Linux packet port (--iface,
TSO and checksum offload); the comparison lines use the port that served
best and say which. A frame blaster (bench/blast.c) measures the link's own
ceiling on the same path. Every row has frames per request (the veth's
packet counters, a TSO segment counting once) and CPU per request. With
--sweep: workers, MTU, and concurrent connections (1,000 / 8,000 / 16,000,
within the open-file limit, which the bench raises where it may and reports).
With --ipv6, the same page mix over IPv6 (2001:2::/64, RFC 5180): wrk and
curl to http://[2001:2::2]/, every server listening there too (bsd_ws and
minimal_ws beside their IPv4 address, nginx and lighttpd on it alone).

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
# --ipv6: from RFC 5180's benchmarking prefix, the server ::2 as in
# tests/rig/run_ipv6_http.sh.
SRV_IP6 = "2001:2::2"
CLI_IP6 = "2001:2::1"
PREFIX6 = 64
PORT = 80
# minimal_ws on the packet port: the longest an idle worker waits on its socket.
PKT_IDLE_WAIT_US = 1000
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


# Descriptors a server or wrk needs beyond one per connection (listening
# sockets, epoll, pipes, logs, the corpus' files while loading).
FD_MARGIN = 512


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def raise_nofile(want):
    """Raises this process' open-file limit, which every process the bench
    starts inherits (ip netns exec and taskset keep it), to `want`
    descriptors where it can: soft and hard to `want` (root with
    CAP_SYS_RESOURCE, up to fs.nr_open), else the soft limit to the hard
    one. Returns what it found and did, for the report."""
    soft0, hard0 = resource.getrlimit(resource.RLIMIT_NOFILE)
    nr_open = read_int("/proc/sys/fs/nr_open")
    target = min(want, nr_open) if nr_open else want
    why = None
    if hard0 != resource.RLIM_INFINITY and hard0 < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, target))
        except (ValueError, OSError) as e:
            why = "the hard limit %d cannot be raised here (%s; it needs CAP_SYS_RESOURCE)" % (hard0, e)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(target, hard), hard))
        except (ValueError, OSError) as e:
            why = (why + "; " if why else "") + "the soft limit cannot be raised (%s)" % e
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {"initial": {"soft": soft0, "hard": hard0}, "soft": soft, "hard": hard, "wanted": want,
            "nr_open": nr_open, "file_max": read_int("/proc/sys/fs/file-max"), "why_not_raised": why}


def nofile_limit():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


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
                 rps=False, srv_cores=(0,), cli_cores=(1,), ipv6=False):
        Rig.seq += 1
        tag = "%s%d%s" % (NS_PREFIX, os.getpid(), "" if Rig.seq == 1 else "x%d" % Rig.seq)
        self.procs = procs
        self.ns_c, self.ns_s = tag + "c", tag + "s"
        # Interface names are per namespace, so they need not change per rig.
        self.if_c, self.if_s = "ub%dc" % os.getpid(), "ub%ds" % os.getpid()
        self.mtu, self.queues, self.offloads, self.kernel_ip = mtu, queues, offloads, kernel_ip
        self.rps, self.srv_cores, self.cli_cores = rps, srv_cores, cli_cores
        self.ipv6 = ipv6
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

    def url_host(self):
        """The server as a URL's host: wrk's and curl's target."""
        return "[%s]" % SRV_IP6 if self.ipv6 else SRV_IP

    def kernel_ipv6(self, which):
        """Whether this end's kernel speaks IPv6 on the veth: with --ipv6 the
        client's, and the server's when a Linux server owns it."""
        return self.ipv6 and (which == "c" or self.kernel_ip)

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
            if self.kernel_ipv6(w):
                # IPv6 with the fewest frames of the kernel's own: addresses
                # usable at once (no DAD), no router solicitations. Its MLD
                # reports at link-up remain, a few frames in the counts.
                self.sh(w, ["sysctl", "-q", "-w", "net.ipv6.conf.%s.accept_dad=0" % ifn,
                            "net.ipv6.conf.%s.router_solicitations=0" % ifn])
                continue
            # IPv4 only: no router solicitations, DAD or MLD reports of the
            # kernel's on the veth, in the frame counts or at a userspace port.
            self.sh(w, ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                        "net.ipv6.conf.default.disable_ipv6=1"], check=False)
        self.sh("c", ["ip", "addr", "add", "%s/%d" % (CLI_IP, PREFIX), "dev", self.if_c])
        if self.kernel_ip:
            self.sh("s", ["ip", "addr", "add", "%s/%d" % (SRV_IP, PREFIX), "dev", self.if_s])
        for w, ifn, a in (("c", self.if_c, CLI_IP6), ("s", self.if_s, SRV_IP6)):
            if self.kernel_ipv6(w):
                self.sh(w, ["ip", "addr", "add", "%s/%d" % (a, PREFIX6), "dev", ifn, "nodad"])
        # Per-namespace sysctls: a flood of 1,000 to 16,000 connects must not
        # be capped by the kernel's listen queue limits (each server asks for
        # its own backlog; somaxconn only caps it), and the client reuses its
        # ports.
        self.sh("s", ["sysctl", "-q", "-w", "net.core.somaxconn=65535",
                      "net.ipv4.tcp_max_syn_backlog=65535"])
        self.sh("c", ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535",
                      "net.ipv4.tcp_tw_reuse=1"])
        if self.offloads == "off":
            for w, ifn in (("c", self.if_c), ("s", self.if_s)):
                self.sh(w, ["ethtool", "-K", ifn, "tso", "off", "gso", "off", "gro", "off",
                            "tx", "off", "rx", "off"])
        elif self.offloads == "csum-off":
            # Userspace stack on the server end through DPDK: frames must
            # arrive with their checksums filled in (CHECKSUM_PARTIAL never
            # reaches AF_XDP/AF_PACKET completed) and no larger than the MTU.
            self.sh("c", ["ethtool", "-K", self.if_c, "tx", "off", "tso", "off", "gso", "off"])
            self.sh("s", ["ethtool", "-K", self.if_s, "gro", "off"])
        # "on" (the Linux servers' offl-on, and the packet port): both ends
        # as the kernel sets them. The packet port takes the client's partial
        # checksums and TSO frames (virtio-net headers), and its own 64 KB
        # segments cross the veth whole only while the server end keeps TSO.
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

    def packets(self):
        """The veth's packet counters, both ends: {"c": (tx, rx), "s": (tx, rx)}.
        A veth counts one packet per buffer it carries, so a TSO/GSO segment
        of 64 KB is one packet, as it is one crossing."""
        out = {}
        for w, ifn in (("c", self.if_c), ("s", self.if_s)):
            d = "/sys/class/net/%s/statistics/" % ifn
            r = self.sh(w, ["cat", d + "tx_packets", d + "rx_packets"])
            tx, rx = (int(v) for v in r.stdout.split())
            out[w] = (tx, rx)
        return out

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


_HAS_DPDK = {}


def has_dpdk(binary):
    """Whether a libusnet program carries the DPDK port (its --help lists an
    "EAL options" port); built where DPDK is not installed, it has the
    Linux packet port alone."""
    if binary not in _HAS_DPDK:
        try:
            r = subprocess.run([binary, "--help"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=10)
            _HAS_DPDK[binary] = "EAL options" in r.stdout
        except (OSError, subprocess.TimeoutExpired):
            _HAS_DPDK[binary] = False
    return _HAS_DPDK[binary]


def dpdk_prefix():
    return "%s%d" % (NS_PREFIX, os.getpid())


def nginx_conf(tmp, www, workers, conns, listen=SRV_IP):
    # Descriptors and connection slots for the run's connections (one
    # worker holds them all), within this process' limit, which nginx
    # inherits; the listen backlog takes a whole flood of connects.
    nofile = nofile_limit()
    slots = min(max(16384, conns + FD_MARGIN), nofile)
    backlog = max(8192, conns)
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""# generated by bench/bench.py
user root;
daemon off;
master_process on;
worker_processes %d;
worker_rlimit_nofile %d;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections %d; use epoll; }
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
        listen %s:%d backlog=%d%s;
        root %s;
        location / { }
    }
}
""" % (workers, nofile, tmp, tmp, slots, tmp, tmp, tmp, tmp, tmp, listen, PORT, backlog,
       " reuseport" if workers > 1 else "", www))
    return conf


def lighttpd_conf(tmp, www, workers, conns, bind=SRV_IP):
    nofile = nofile_limit()
    conf = os.path.join(tmp, "lighttpd.conf")
    with open(conf, "w") as f:
        f.write("""# generated by bench/bench.py
server.document-root = "%s"
server.bind = "%s"
server.port = %d
server.errorlog = "%s/lighttpd.err"
server.modules = ()
server.max-keep-alive-requests = 0
server.max-fds = %d
server.max-connections = %d
server.listen-backlog = %d
server.network-backend = "sendfile"
server.event-handler = "linux-sysepoll"
server.max-worker = %d
mimetype.assign = (".html" => "text/html")
""" % (www, bind, PORT, tmp, nofile, min(max(16384, conns + FD_MARGIN), nofile // 2), max(8192, conns),
       workers if workers > 1 else 0))
    return conf


class Server:
    """One server process tree inside a rig's server namespace."""

    def __init__(self, name, binary, rig, procs, www, workers, mtu, tmp, vdev=None, conns=1000, max_conns=None):
        self.name, self.binary, self.rig, self.procs = name, binary, rig, procs
        self.www, self.workers, self.mtu, self.tmp, self.vdev = www, workers, mtu, tmp, vdev
        self.conns, self.max_conns = conns, max_conns
        self.pkt_args = ()
        self.final_ticks = None
        self.proc = None
        self.log = os.path.join(tmp, name + ".log")
        self.seen = set()
        self.notes = []

    def argv(self):
        cores = self.rig.srv_cores
        cpus = ",".join(map(str, cores))
        v6 = self.rig.ipv6
        if self.name == "nginx":
            # Over IPv6 nginx listens there alone ("listen [addr]:80"; ipv6only
            # is its default), as lighttpd does: one socket as before.
            conf = nginx_conf(self.tmp, self.www, self.workers, self.conns, self.rig.url_host())
            return [self.binary, "-p", self.tmp, "-e", os.path.join(self.tmp, "error.log"), "-c", conf]
        if self.name == "lighttpd":
            return [self.binary, "-D", "-f", lighttpd_conf(self.tmp, self.www, self.workers, self.conns,
                                                           self.rig.url_host())]
        if self.name == "bsd_ws":
            # Over IPv6 beside IPv4: a second socket per worker, IPv6-only.
            return [self.binary, "--root", self.www, "--addr", SRV_IP] + (["--addr", SRV_IP6] if v6 else []) + [
                "--port", str(PORT), "--workers", str(self.workers), "--cpus", cpus]
        if self.name == "minimal_ws":
            q = self.workers
            # The TCB pool, given explicitly so that the figures do not
            # depend on the program's default.
            app = ["--root", self.www, "--ip", "%s/%d" % (SRV_IP, PREFIX), "--port", str(PORT),
                   "--workers", str(self.workers)] + (["--max-conns", str(self.max_conns)] if self.max_conns else [])
            if v6:
                # The stack's IPv6 address beside its IPv4 one; it serves
                # both (its duplicate address detection takes a second,
                # within start()'s wait).
                app += ["--ip", "%s/%d" % (SRV_IP6, PREFIX6)]
            if self.mtu != 1500:
                app += ["--mtu", str(self.mtu)]
            if self.vdev == "packet":
                # The Linux packet port on the veth's server end (TSO and
                # checksum offload through virtio-net headers); its MTU is
                # the interface's. taskset pins it; the port's workers take
                # the first CPUs they may run on. An idle worker waits on
                # its socket, which arriving frames end, instead of
                # spinning: a spinning core counts as busy, and the spin
                # took cycles from the veth's receive work that shares the
                # core (A/B on this rig: 1.15x the req/s, 0.54x the server
                # process's CPU per request; bench/pport_ab.py).
                app += ["--idle-backoff-us", str(PKT_IDLE_WAIT_US)]
                return [self.binary, "--iface", self.rig.if_s] + list(self.pkt_args) + ["--"] + app
            if self.vdev == "af_xdp":
                dev = "net_af_xdp0,iface=%s,start_queue=0,queue_count=%d" % (self.rig.if_s, q)
            else:
                dev = "net_af_packet0,iface=%s,qpairs=%d" % (self.rig.if_s, q)
            # Beyond the documented line: --no-pci keeps EAL off the machine's
            # own NIC; --no-telemetry opens no socket; the runtime files go under
            # a unique --file-prefix, removed at stop (--in-memory would avoid
            # them but EAL refuses it beside --file-prefix).
            a = [self.binary, "--no-huge", "-m", "1024", "-l", cpus, "--vdev=" + dev, "--no-pci",
                 "--no-telemetry", "--file-prefix", dpdk_prefix()]
            if self.mtu != 1500:
                # The port's MTU is the backend's (before "--"); the stack's
                # may not exceed it.
                a.append("--usn-mtu=%d" % self.mtu)
            return a + ["--"] + app
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
                                  "-w", "%{http_code}", "http://%s:%d/" % (self.rig.url_host(), PORT)],
                            check=False, timeout=10)
            if r.stdout.strip() not in ("", "000"):
                self.track()
                return
            time.sleep(0.25)
        raise ServerError("%s not answering on %s:%d after %.0f s: %s" % (
            self.name, self.rig.url_host(), PORT, ready_timeout, self.log_tail()))

    def verify(self, pages, www):
        """Fetch a few pages and compare them byte for byte with the corpus."""
        by_size = sorted(pages, key=lambda p: p[1])
        picks = [by_size[0], by_size[len(by_size) // 2], by_size[-1]]
        out = os.path.join(self.tmp, "verify.html")
        for path, size in picks:
            if os.path.exists(out):
                os.unlink(out)
            r = self.rig.sh("c", ["curl", "-sS", "--max-time", "10", "-H", "Connection: close",
                                  "-o", out, "-w", "%{http_code}", "http://%s:%d%s" % (self.rig.url_host(), PORT,
                                                                                       path)],
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
            # The processes' CPU over their whole life, just before they go.
            self.final_ticks = self.cpu_ticks()
            self.procs.stop(self.proc, signal.SIGTERM, grace=5.0, extra_pids=sorted(self.seen))
            self.proc = None
        if self.name == "minimal_ws" and self.vdev != "packet":
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


def run_wrk(rig, server, args, pages_txt, seed, progress, detail, mem_before, conns=None, rss_before=None):
    """One wrk run of `conns` connections against a started server, with
    CPU and memory sampled; mem_before: MemTotal - MemAvailable taken
    before the server started; rss_before: the server's RSS once it
    served, before the first run. CPU is taken over wrk's own measured
    window: wrk_random.lua's done() creates a mark file when the window
    has ended, and the window is the "duration_us" before it. Frames are
    the veth's packet counters from just before wrk starts to just after
    it exits, so they include its connects and closes."""
    cores = rig.srv_cores
    conns = conns or args.connections
    mark = os.path.join(server.tmp, "wrk_done.%d" % seed)
    if os.path.exists(mark):
        os.unlink(mark)
    # wrk's --timeout only bounds its latency record and counts; above the
    # run's length, every response gets a sample and the Lua script counts
    # those within the benchmark's timeout (args.timeout).
    wrk_argv = ["wrk", "-t", str(len(rig.cli_cores)), "-c", str(conns),
                "-d", "%ds" % args.duration, "--timeout", "%ds" % (args.duration + 5),
                "-s", os.path.join(HERE, "wrk_random.lua"), "http://%s:%d/" % (rig.url_host(), PORT),
                "--", pages_txt, str(seed)]
    env = dict(os.environ, WRK_DONE_MARK=mark, WRK_GOOD_TIMEOUT_US=str(int(args.timeout * 1e6)))
    sampler = cpuwin.Sampler(set(cores) | set(rig.cli_cores), interval=0.05,
                             extra=lambda: list(server.cpu_ticks()))
    pk0 = rig.packets()
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
    pk1 = rig.packets()
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
    # What crossed the veth, counted at the client's end (wrk's kernel),
    # the same point for every server: out of the client, into it.
    c2s, s2c = pk1["c"][0] - pk0["c"][0], pk1["c"][1] - pk0["c"][1]
    return {
        "connections": conns,
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
        "server_rss_kb_before": rss_before,
        "mem_used_kb_before": mem_before,
        "mem_used_kb_max": mem_max,
        "server_alive_after": server.alive(),
        # Both directions, per response (every response wrk got, late ones
        # and error statuses too: they cost frames as well).
        "frames": {"client_to_server": c2s, "server_to_client": s2c,
                   "server_end": {"tx": pk1["s"][0] - pk0["s"][0], "rx": pk1["s"][1] - pk0["s"][1]}},
        "frames_per_req": ({"client_to_server": c2s / n, "server_to_client": s2c / n, "total": (c2s + s2c) / n}
                           if n else None),
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
        # Every response, late ones and error statuses too.
        "responses_per_s": get(lambda r: r.get("responses", r["requests"]) / r["seconds"] if r["seconds"] else None),
        "gbit_per_s": get(lambda r: r["gbit_per_s"]),
        "latency_p50_us": get(lambda r: r["latency_us"]["p50"]),
        "latency_p99_us": get(lambda r: r["latency_us"]["p99"]),
        "latency_max_us": get(lambda r: r["latency_us"]["max"]),
        "cpu_us_per_req": get(lambda r: r["cpu_us_per_req"]),
        "server_rss_kb_max": get(lambda r: r["server_rss_kb_max"]),
        "server_rss_kb_before": get(lambda r: r.get("server_rss_kb_before")),
        "frames_per_req": get(lambda r: (r.get("frames_per_req") or {}).get("total")),
        "frames_per_req_c2s": get(lambda r: (r.get("frames_per_req") or {}).get("client_to_server")),
        "frames_per_req_s2c": get(lambda r: (r.get("frames_per_req") or {}).get("server_to_client")),
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
    port = pt.get("port", "dpdk") if userspace else None
    conns = pt.get("connections") or args.connections
    need = conns + FD_MARGIN
    if need > nofile_limit():
        res["status"] = "skipped"
        res["notes"].append("not measured: %d connections need about %d descriptors in wrk (and in a Linux "
                            "server), above the open-file limit %d" % (conns, need, nofile_limit()))
        return res
    if port == "packet":
        vdevs = ["packet"]
    elif userspace:
        if not has_dpdk(binary):
            res["status"] = "not built"
            res["notes"].append("not measured: %s was built without DPDK (no EAL port in its --help)" % binary)
            return res
        vdevs = ["af_xdp", "af_packet"] if args.vdev == "af_xdp" else ["af_packet"]
    else:
        vdevs = [None]
    # The veth's offloads: the Linux servers' mode; for DPDK's devices the
    # client sends complete checksums in MTU-sized frames; the packet port
    # keeps the kernel's settings on both ends (see Rig.up).
    offloads = pt["offloads"] if not userspace else "on" if port == "packet" else "csum-off"
    last_err = first_err = None
    for vdev in vdevs:
        tmp = tempfile.mkdtemp(prefix="usnb-%s-" % pt["server"])
        try:
            with Rig(procs, mtu=pt["mtu"], queues=pt["workers"],
                     offloads=offloads, kernel_ip=not userspace,
                     rps=args.rps, srv_cores=ctx["srv_cores"][:pt["workers"]],
                     cli_cores=ctx["cli_cores_for"][pt["workers"]], ipv6=getattr(args, "ipv6", False)) as rig:
                res["veth_features"] = rig.features
                srv = Server(pt["server"], binary, rig, procs, ctx["www"], pt["workers"], pt["mtu"],
                             tmp, vdev, conns=conns, max_conns=getattr(args, "max_conns", None))
                srv.pkt_args = getattr(args, "pkt_args", ())
                try:
                    mem_before = mem_used_kb()
                    srv.start(args.ready_timeout if not userspace else max(args.ready_timeout, 30))
                    if userspace and vdev == "af_xdp" and args.rps:
                        res["notes"] += napi_to_server_cores(rig)
                    res["verified_pages"] = srv.verify(ctx["pages"], ctx["www"])
                    res["command"] = srv.cmdline
                    res["server_rss_kb_before"] = rss_before = srv.rss_kb()
                    if vdev:
                        res["vdev"] = vdev
                        if vdev != vdevs[0]:
                            res["notes"].append("net_af_xdp failed (%s); ran on net_af_packet" % last_err)
                    for i in range(args.runs):
                        if i:
                            time.sleep(1.0)
                        r = run_wrk(rig, srv, args, ctx["pages_txt"], args.seed + i, progress,
                                    "run %d/%d" % (i + 1, args.runs), mem_before, conns, rss_before)
                        res["runs"].append(r)
                        if not r["server_alive_after"]:
                            raise ServerError("%s died during the run: %s" % (srv.name, srv.log_tail()))
                    return res
                finally:
                    srv.stop()
                    if pt.get("profile"):
                        res["cost_centres"] = parse_profile(srv.log)
                        if res["cost_centres"] and srv.final_ticks:
                            u, k = srv.final_ticks
                            res["cost_centres"]["process_cpu_s"] = {"user": u * TICK_US / 1e6,
                                                                    "system": k * TICK_US / 1e6}
        except ServerError as e:
            last_err = str(e)
            if vdev == "af_xdp":
                first_err = last_err
            if userspace and vdev == "af_xdp" and not res["runs"]:
                continue  # try net_af_packet
            res["status"] = "error"
            if userspace and vdev == "af_packet" and first_err:
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


def measure_profile(args, ctx, procs, progress, port, binary):
    """One run of the profiling minimal_ws on `port` (dpdk, packet), on the
    same rig as the main points."""
    pt = {"server": "minimal_ws", "offloads": "n/a", "mtu": 1500, "workers": 1, "profile": True,
          "port": port, "binary": binary}
    pargs = argparse.Namespace(**vars(args))
    pargs.runs = 1
    res = measure_point(pt, pargs, ctx, procs, progress)
    res.pop("binary", None)
    if res["runs"]:
        res["summary"] = summarize(res["runs"])
    cc = res.get("cost_centres")
    if res["status"] == "ok" and not cc:
        res["notes"].append("minimal_ws printed no cost-centre table (not a USN_PROFILE build?)")
    if cc:
        drv = next((c for c in cc["categories"] if c["name"] == "driver"), None)
        pc = cc.get("process_cpu_s")
        if drv is None or drv["cycles"] == 0:
            res["notes"].append("the driver category was charged nothing: the port's work is not counted")
        elif pc and pc["user"] + pc["system"] > 0:
            # Every system call of a port (sendmmsg, recv, poll, a DPDK
            # driver's kicks) is made inside the HAL's bursts, which the
            # driver category times, or inside an idle round's receive poll
            # (an idle round is charged to idle whole). The process' kernel
            # time must fit in the two. It errs high: start-up (mapping and
            # touching the pools, loading the corpus) is kernel time outside
            # the loop, and softirq work that interrupts the process may be
            # charged to it.
            idle = next((c["share"] for c in cc["categories"] if c["name"] == "idle"), 0.0)
            ks = pc["system"] / (pc["user"] + pc["system"])
            cc["kernel_share"] = ks
            res["notes"].append("driver %.1f%% of the loop's cycles (idle rounds, whose receive polls are driver "
                                "calls too, %.1f%%); the process' kernel time %.1f%% of its CPU (whole life, "
                                "start-up included)%s" % (
                                    drv["share"] * 100, idle * 100, ks * 100,
                                    "" if drv["share"] + idle >= ks - 0.05 else
                                    "; KERNEL TIME ABOVE DRIVER AND IDLE: some system calls are charged to "
                                    "other categories"))
    return res


def port_label(port, vdev=None):
    """minimal_ws's port as the report names it."""
    if port == "packet" or vdev == "packet":
        return "packet-port"
    return vdev or "dpdk"


def profile_rows(profs, results):
    """The cost-centre table: per category, for each profiled port,
    cycles/request, share, and us/request estimated as share x that
    profiling run's CPU us/request; then bsd_ws's user/system/softirq split
    and each profiling run's for comparison."""
    rows, cmp_rows = [], []
    have = [p for p in profs if p.get("cost_centres")]
    names = []
    for p in have:
        for c in p["cost_centres"]["categories"]:
            if c["name"] not in names:
                names.append(c["name"])
    for name in names + (["total"] if have else []):
        row = [name]
        for p in have:
            cats = p["cost_centres"]["categories"]
            s = p.get("summary")
            us_req = s["cpu_us_per_req"]["median"] if s and s.get("cpu_us_per_req") else None
            if name == "total":
                c = {"share": 1.0, "cycles_per_req": sum(x["cycles_per_req"] for x in cats)}
            else:
                c = next((x for x in cats if x["name"] == name), None)
            if c is None:
                row += ["-", "-", "-"]
                continue
            row += ["%.0f" % c["cycles_per_req"], "%.1f%%" % (c["share"] * 100),
                    fmt_num(us_req * c["share"] if us_req is not None else None, "%.1f")]
        rows.append(row)
    for r in results:
        if r["server"] != "bsd_ws" or r["workers"] != 1 or r["mtu"] != 1500 or not r.get("summary") \
                or r.get("axis"):
            continue
        rs = r["summary"]
        u = rs["cpu_us_per_req"]["median"] if rs.get("cpu_us_per_req") else None
        parts = [rs["cpu_user"]["median"], rs["cpu_system"]["median"], rs["cpu_softirq"]["median"]]
        busy = sum(parts) + rs["cpu_irq"]["median"]
        cmp_rows.append([row_label(r)] + ["%.1f%%" % (v * 100) for v in parts] +
                        [fmt_num(u, "%.1f")] +
                        [fmt_num(u * v / busy if u is not None and busy else None, "%.1f") for v in parts])
    for p in profs:
        s = p.get("summary")
        if not s:
            continue
        us_req = s["cpu_us_per_req"]["median"] if s.get("cpu_us_per_req") else None
        cmp_rows.append(["minimal_ws %s (profiling build)" % port_label(p.get("port"), p.get("vdev"))] +
                        ["%.1f%%" % (s[k]["median"] * 100) for k in ("cpu_user", "cpu_system", "cpu_softirq")] +
                        [fmt_num(us_req, "%.1f"), "", "", ""])
    return rows, cmp_rows


def prof_headers(profs):
    h = ["category"]
    for p in profs:
        if p.get("cost_centres"):
            lab = port_label(p.get("port"), p.get("vdev"))
            h += ["%s cycles/req" % lab, "share", "us/req (est.)"]
    return h


PROF_CMP_HEADERS = ["server", "user", "system", "softirq", "CPU us/req", "user us/req", "system us/req",
                    "softirq us/req"]


def print_simple(headers, rows, out=sys.stdout):
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in range(len(headers))]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    print(fmt % tuple(headers), file=out)
    for r in rows:
        print(fmt % tuple(r), file=out)


def profile_markdown(profs, results):
    if not profs:
        return ""
    rows, cmp_rows = profile_rows(profs, results)
    hdr = prof_headers(profs)
    lines = ["", "Cost centres of minimal_ws (a USN_PROFILE=1 build, one %d s run per port, 1 worker): every "
             "cycle of the worker's loop charged to one category (exclusive time; driver: the port's receive "
             "and transmit bursts and buffer calls, their system calls included); us/req estimated as share x "
             "the run's CPU us/req. Status: %s." % (
                 profs[0].get("flags_duration", 0),
                 ", ".join("%s %s" % (port_label(p.get("port"), p.get("vdev")), p["status"]) for p in profs)), ""]
    if rows:
        lines += ["| " + " | ".join(hdr) + " |", "|" + "|".join("---" for _ in hdr) + "|"]
        lines += ["| " + " | ".join(c if c else " " for c in r) + " |" for r in rows]
        lines.append("")
    if cmp_rows:
        lines += ["Beside it, the Linux twin's split of the server core (/proc/stat during the run):", "",
                  "| " + " | ".join(PROF_CMP_HEADERS) + " |", "|" + "|".join("---" for _ in PROF_CMP_HEADERS) + "|"]
        lines += ["| " + " | ".join(c if c else " " for c in r) + " |" for r in cmp_rows]
        lines.append("")
    for p in profs:
        for n in p.get("notes", []):
            lines.append("- cost centres, %s: %s" % (port_label(p.get("port"), p.get("vdev")), n))
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
    if r["server"] == "minimal_ws":
        return "minimal_ws %s" % port_label(r.get("port", "dpdk"), r.get("vdev"))
    off = r["offloads"]
    return "%s%s" % (r["server"], "" if off == "n/a" else " offl-%s" % off)


def fmt_frames(s):
    """Frames per response, both directions: total (client->server +
    server->client)."""
    if not s.get("frames_per_req"):
        return "-"
    return "%.1f (%.1f+%.1f)" % (s["frames_per_req"]["median"], s["frames_per_req_c2s"]["median"],
                                 s["frames_per_req_s2c"]["median"])


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
        base = [row_label(r), str(r["mtu"]), str(r["workers"]), str(r.get("connections") or "-")]
        if not s:
            rows.append(base + [r["status"] + (" (see notes)" if r["notes"] else "")] +
                        [""] * (len(HEADERS) - len(base) - 1))
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
            fmt_frames(s),
            "%.0f/%.0f" % (s["proc_user"]["median"] * 100, s["proc_system"]["median"] * 100),
            fmt_num(s["client_cpu_busy"]["median"] * 100 if s["client_cpu_busy"] else None, "%.0f"),
            "%s/%.1f" % (fmt_num(r["server_rss_kb_before"] / 1024 if r.get("server_rss_kb_before") is not None
                                 else None, "%.1f"), s["server_rss_kb_max"]["median"] / 1024),
            "%.0f/%.0f" % (s["mem_used_kb_before"]["median"] / 1024, s["mem_used_kb_max"]["median"] / 1024),
        ])
    return rows


HEADERS = ["server", "MTU", "wrk", "conns", "req/s median (min..max)", "Gbit/s", "of link", "lat p50/p99/max ms",
           "err c/r/w/late", "non-2xx", "CPU usr/sys/sirq %", "CPU us/req", "frames/req (c>s+s>c)", "proc usr/sys %",
           "wrk CPU %", "RSS MB before/during", "mem used MB before/during"]


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
        "%d connections, one request per connection, wrk on core(s) %s, server on core(s) %s%s." % (
            doc["command"], doc["flags"]["duration_s"], doc["flags"]["runs"], doc["flags"]["connections"],
            doc["flags"]["cli_cores"], doc["flags"]["srv_cores"],
            ", over IPv6 (http://[%s]/)" % doc["flags"]["addresses"]["server6"]
            if doc["flags"].get("ipv6") else ""),
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
        "checksum off on both ends. minimal_ws af_xdp (or af_packet): DPDK's net_af_xdp (net_af_packet) on "
        "the veth, the client end sending complete checksums in MTU-sized frames; minimal_ws packet-port: "
        "the Linux packet port (--iface) with TSO and checksum offload and --idle-backoff-us %d (an idle "
        "worker waits on its socket, which arriving frames end), both veth ends as the kernel sets "
        "them (the client is the one of the offl-on rows). minimal_ws gets --max-conns %d. req/s: 2xx responses within the %d s timeout per second of wrk's "
        "measured window; late: responses after the timeout, non-2xx: statuses >= 400, both left out "
        "of req/s. CPU: the server core(s)' /proc/stat split over wrk's measured window only "
        "(sampled every 50 ms and interpolated at the window's ends); steal time is not counted as busy "
        "(steal %% of the server cores: %s). "
        "CPU us/req: busy time of those cores per counted request (anything else running on them counts too); "
        "frames/req: packets that crossed the veth per response wrk got, both directions (client to server + "
        "server to client), from the veth's counters at the client's end over wrk's life: a 64 KB TSO segment "
        "is one packet, as it is one crossing; proc usr/sys: the server processes' own CPU time over the window (softirq work is not charged to them); wrk CPU: busy share of wrk's core(s) (near 100%%: the client set the pace). RSS: the server processes' resident memory once it served (before the runs) and at most during them. Mem used: MemTotal - MemAvailable before the server started and at most during the runs. %s Errors: wrk's socket errors "
        "(connect/read/write)." % (
            doc.get("default_offloads") or "not run", PKT_IDLE_WAIT_US, doc["flags"].get("max_conns") or 0,
            doc["flags"]["wrk_timeout_s"], steal_text(doc),
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


def headline_rows(results):
    """The rows of the headline configuration (MTU 1500, one worker, the
    run's --connections), not the sweeps'."""
    return [r for r in results if r["mtu"] == 1500 and r["workers"] == 1 and not r.get("axis")]


def served(r):
    s = r.get("summary")
    return r["status"] == "ok" and s is not None and s["req_per_s"]["median"] > 0


def best_row(results):
    """minimal_ws's headline row with the most requests per second (its best
    port on this rig), or None."""
    mws = [r for r in headline_rows(results) if r["server"] == "minimal_ws" and served(r)]
    return max(mws, key=lambda r: r["summary"]["req_per_s"]["median"]) if mws else None


def ratio(a, b):
    return a / b if a is not None and b else None


def comparison(results):
    """minimal_ws on its best port against every Linux-stack row of the
    headline configuration: req/s, CPU us/req and frames/req ratios, each
    line saying which port. Figures, never judged."""
    out = {"best": None, "vs": [], "lines": []}
    best = best_row(results)
    mws = [r for r in headline_rows(results) if r["server"] == "minimal_ws"]
    if not best:
        out["lines"].append("No minimal_ws row served (%s): no comparison." % (
            "; ".join("%s: %s" % (row_label(r), r["status"]) for r in mws) or "none planned"))
        return out
    bs = best["summary"]
    lab = row_label(best)
    others = ["%s %s" % (row_label(r), "%.0f req/s" % r["summary"]["req_per_s"]["median"] if served(r)
                         else r["status"]) for r in mws if r is not best]
    out["best"] = {"label": lab, "port": best.get("port", "dpdk"), "vdev": best.get("vdev"),
                   "req_s": bs["req_per_s"]["median"]}
    out["lines"].append("minimal_ws's best port on this rig: %s, %.0f req/s median%s. The comparisons use it." % (
        port_label(best.get("port", "dpdk"), best.get("vdev")), bs["req_per_s"]["median"],
        " (%s)" % ", ".join(others) if others else ""))
    med = lambda s, k: s[k]["median"] if s.get(k) else None
    for r in headline_rows(results):
        if r["server"] == "minimal_ws" or not served(r):
            continue
        rs = r["summary"]
        v = {"against": row_label(r),
             "req_s": ratio(med(bs, "req_per_s"), med(rs, "req_per_s")),
             "cpu_us_per_req": ratio(med(bs, "cpu_us_per_req"), med(rs, "cpu_us_per_req")),
             "frames_per_req": ratio(med(bs, "frames_per_req"), med(rs, "frames_per_req"))}
        out["vs"].append(v)
        target = ""
        if r["server"] == "bsd_ws" and r["offloads"] == "on":
            target = " (target: at least 1x the req/s at no more than 0.5x the CPU per request)"
        out["lines"].append("%s / %s: %s req/s, %s CPU us/req, %s frames/req%s." % (
            lab, row_label(r), fmt_num(v["req_s"], "%.2fx"), fmt_num(v["cpu_us_per_req"], "%.2fx"),
            fmt_num(v["frames_per_req"], "%.2fx"), target))
    return out


def comparison_markdown(doc):
    c = doc.get("comparison") or {}
    if not c.get("lines"):
        return ""
    return "\n" + "\n".join("- " + l for l in c["lines"]) + "\n"


def axis_rows(results, args):
    """The connection axis: for each server of AXIS_SERVERS, its rows at
    every connection count (the headline row at --connections; minimal_ws on
    the port the axis used), sorted by connections."""
    off = axis_offloads(args)
    ports = {r.get("port") for r in results if r.get("axis") and r["server"] == "minimal_ws"}
    out = []
    for r in results:
        if r["server"] not in AXIS_SERVERS or r["mtu"] != 1500 or r["workers"] != 1:
            continue
        if not r.get("axis"):
            if r["server"] == "minimal_ws":
                if r.get("port", "dpdk") not in ports:
                    continue
            elif r["offloads"] != off:
                continue
        s = r.get("summary")
        conns = r.get("connections") or args.connections
        row = {"label": row_label(r), "server": r["server"], "connections": conns, "status": r["status"],
               "port": r.get("port"), "port_from": r.get("port_from")}
        if s:
            e = s["errors_total"]
            before = r.get("server_rss_kb_before")
            during = s["server_rss_kb_max"]["median"]
            mb, mm_ = s["mem_used_kb_before"]["median"], s["mem_used_kb_max"]["median"]
            row.update({"req_s": s["req_per_s"]["median"],
                        "responses_s": s["responses_per_s"]["median"] if s.get("responses_per_s") else None,
                        "errors": {"connect": e["connect"], "read": e["read"], "write": e["write"],
                                   "timeout": e["timeout"], "late": s["late_total"]},
                        "server_rss_kb_before": before, "server_rss_kb_during": during,
                        "rss_growth_kb_per_conn": (during - before) / conns if before is not None else None,
                        "mem_used_growth_kb_per_conn": (mm_ - mb) / conns})
        out.append(row)
    out.sort(key=lambda x: (AXIS_SERVERS.index(x["server"]), x["connections"]))
    return out


AXIS_HEADERS = ["server", "conns", "req/s", "all resp/s", "err c/r/w/late", "RSS MB before/during", "RSS KB/conn",
                "mem used KB/conn"]


def axis_table(rows):
    out = []
    for a in rows:
        if a.get("req_s") is None:
            out.append([a["label"], str(a["connections"]), a["status"], "", "", "", "", ""])
            continue
        e = a["errors"]
        out.append([a["label"], str(a["connections"]), "%.0f" % a["req_s"], fmt_num(a.get("responses_s")),
                    "%d/%d/%d/%d" % (e["connect"], e["read"], e["write"], e["late"]),
                    "%s/%.1f" % (fmt_num(a["server_rss_kb_before"] / 1024 if a["server_rss_kb_before"] is not None
                                         else None, "%.1f"), a["server_rss_kb_during"] / 1024),
                    fmt_num(a["rss_growth_kb_per_conn"], "%.2f"), fmt_num(a["mem_used_growth_kb_per_conn"], "%.1f")])
    return out


def axis_markdown(doc):
    rows = doc.get("connection_axis")
    if not rows:
        return ""
    lines = ["", "Connection axis (MTU 1500, one worker; Linux servers with offloads %s; minimal_ws on %s; "
             "open-file limit %d): req/s (2xx within the timeout), every response per second (late ones too: with "
             "N connections in a closed loop each request waits about N / rate, so past a few thousand connections "
             "the %d s timeout leaves slow servers' responses out of req/s), wrk's socket errors, the server's RSS once it served (before) and at "
             "most during the runs, its growth per connection, and the machine's memory in use (MemTotal - "
             "MemAvailable: both kernels' socket memory, wrk included) grown per connection." % (
                 doc["flags"].get("connection_axis_offloads"),
                 ", ".join(sorted({port_label(a["port"]) for a in rows if a["server"] == "minimal_ws"})) or "-",
                 doc["open_files"]["soft"], doc["flags"]["wrk_timeout_s"]), "",
             "| " + " | ".join(AXIS_HEADERS) + " |", "|" + "|".join("---" for _ in AXIS_HEADERS) + "|"]
    lines += ["| " + " | ".join(c if c else " " for c in r) + " |" for r in axis_table(rows)]
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
            "cpu_us_per_req", "proc_user", "proc_system", "client_cpu_busy", "rss_kb", "mem_used_kb_before", "mem_used_kb_max",
            "connections", "port", "frames_per_req", "frames_per_req_c2s", "frames_per_req_s2c", "rss_kb_before"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in results:
            s = r.get("summary")
            tail = [r.get("connections", ""), r.get("port", "")]
            if not s:
                w.writerow([r["server"], r["offloads"], r["mtu"], r["workers"], r["status"], ""] +
                           [""] * (len(cols) - 6 - 6) + tail + [""] * 4)
                continue
            f3 = [("%.2f" % s[k]["median"]) if s.get(k) else "" for k in
                  ("frames_per_req", "frames_per_req_c2s", "frames_per_req_s2c")]
            tail += f3 + [r.get("server_rss_kb_before", "")]
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
                        s["mem_used_kb_max"]["median"]] + tail)


def plots(outdir, doc):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return ["plots skipped: %s (install python3-matplotlib)" % e]
    made = []
    base = [r for r in doc["results"] if r.get("summary") and r["mtu"] == 1500 and r["workers"] == 1
            and not r.get("axis")]
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
                    (r["offloads"] in ("off", "n/a")) and not r.get("axis"):
                series.setdefault(row_label(r), []).append((r[key], r["summary"]["req_per_s"]["median"]))
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
    axis = [a for a in doc.get("connection_axis") or [] if a.get("req_s") is not None]
    if axis:
        # req/s and the server's RSS against concurrent connections.
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
        for lab in sorted({a["label"] for a in axis}):
            pts = sorted((a["connections"], a["req_s"], a["server_rss_kb_during"] / 1024) for a in axis
                         if a["label"] == lab)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=lab)
            ax2.plot([p[0] for p in pts], [p[2] for p in pts], marker="o", label=lab)
        ax.set_xlabel("concurrent connections")
        ax.set_ylabel("requests/s")
        ax2.set_xlabel("concurrent connections")
        ax2.set_ylabel("server RSS during the runs (MB)")
        ax.set_title("Requests/s per concurrent connections", fontsize=10)
        ax2.set_title("Server memory", fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, "connections.png"), dpi=110)
        plt.close(fig)
        made.append("connections.png")
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
                    help="also sweep workers, MTU and concurrent connections (BENCH_SWEEP=1)")
    ap.add_argument("--sweep-axes", default=env_default("BENCH_SWEEP_AXES", ",".join(SWEEP_AXES)),
                    help="the sweeps --sweep runs, a comma list of %s (BENCH_SWEEP_AXES)" % ",".join(SWEEP_AXES))
    ap.add_argument("--servers", default=env_default("BENCH_SERVERS", ",".join(ALL_SERVERS)),
                    help="comma-separated subset of %s (BENCH_SERVERS)" % ",".join(ALL_SERVERS))
    ap.add_argument("--offloads", default=env_default("BENCH_OFFLOADS", "on,off"),
                    help="veth offload modes for the Linux servers (BENCH_OFFLOADS)")
    ap.add_argument("--ports", default=env_default("BENCH_PORTS", ",".join(PORTS)),
                    help="minimal_ws's ports, one row each: dpdk (a DPDK virtual device on the veth, --vdev) "
                         "and packet (the Linux packet port, --iface, TSO on) (BENCH_PORTS)")
    ap.add_argument("--vdev", choices=["af_xdp", "af_packet"], default=env_default("BENCH_VDEV", "af_xdp"),
                    help="minimal_ws's DPDK virtual device on the veth: net_af_xdp (falls back to "
                         "net_af_packet when it cannot start) or net_af_packet (BENCH_VDEV)")
    ap.add_argument("--pkt-args", default=env_default("BENCH_PKT_ARGS", ""),
                    help="more options of the packet port for minimal_ws, e.g. --pkt-ring=v2 (BENCH_PKT_ARGS)")
    ap.add_argument("--max-conns", type=int, default=int(env_default("BENCH_MAX_CONNS", "65536")),
                    help="minimal_ws's TCBs per worker (--max-conns), passed explicitly so that figures do not "
                         "depend on its default (BENCH_MAX_CONNS)")
    ap.add_argument("--rps", action="store_true", default=env_default("BENCH_RPS", "0") == "1",
                    help="move each side's veth receive processing to its own cores (RPS, and threaded "
                         "NAPI for AF_XDP); default: the kernel's way, on the sending core (BENCH_RPS=1)")
    ap.add_argument("--max-workers", type=int, default=int(env_default("BENCH_MAX_WORKERS", "0")),
                    help="largest worker count swept (default cores - 1); wrk gets the cores above it")
    ap.add_argument("--smoke", action="store_true", help="CI smoke: 2 s per point, 1 run, 1 s blasts")
    ap.add_argument("--ipv6", action="store_true", default=env_default("BENCH_IPV6", "0") == "1",
                    help="wrk and curl over IPv6, to http://[%s]/ (every server listens there too; the link "
                         "blasts stay IPv4 frames) (BENCH_IPV6=1)" % SRV_IP6)
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
    a.pkt_args = a.pkt_args.split()
    if any(not x.startswith("--pkt-") for x in a.pkt_args):
        ap.error("--pkt-args takes the packet port's --pkt-... options")
    a.sweep_axes = [x.strip() for x in a.sweep_axes.split(",") if x.strip()]
    if any(x not in SWEEP_AXES for x in a.sweep_axes):
        ap.error("--sweep-axes takes %s" % ",".join(SWEEP_AXES))
    a.ports = [p.strip() for p in a.ports.split(",") if p.strip()]
    if any(p not in PORTS for p in a.ports) or not a.ports:
        ap.error("--ports takes %s" % ",".join(PORTS))
    if not 1 <= a.max_conns <= 1000000:
        ap.error("--max-conns 1..1000000")
    if not (1 <= a.duration <= 600 and 1 <= a.runs <= 20 and 1 <= a.connections <= 60000):
        ap.error("duration 1..600 s, runs 1..20, connections 1..60000")
    return a


CONN_AXIS = (1000, 8000, 16000)
SWEEP_AXES = ("workers", "mtu", "connections")
AXIS_SERVERS = ("minimal_ws", "bsd_ws", "nginx")
PORTS = ("dpdk", "packet")


def axis_offloads(args):
    return "on" if "on" in args.offloads else args.offloads[0]


def plan(args, cores):
    # wrk keeps the same cores at every point, so a sweep changes only the
    # server: the last cores - max_workers cores, the first ones for servers.
    max_workers = max(1, min(args.max_workers or cores - 1, cores - 1))
    srv_cores = list(range(max_workers)) if cores > 1 else [0]
    pts = []

    def add(server, offloads, mtu, workers, port=None, connections=None, axis=False):
        pt = {"server": server, "offloads": offloads, "mtu": mtu, "workers": workers,
              "connections": connections or args.connections}
        if server == "minimal_ws":
            pt["port"] = port
        if axis:
            pt["axis"] = True
        pts.append(pt)

    for s in args.servers:
        if s in LINUX_SERVERS:
            for o in args.offloads:
                add(s, o, 1500, 1)
        else:
            # One row per port minimal_ws runs on: DPDK's (net_af_xdp, else
            # net_af_packet) and the Linux packet port (TSO on).
            for port in args.ports:
                add(s, "n/a", 1500, 1, port)
    if args.sweep:
        # Sweeps compare like with like: Linux with offloads off (same packet
        # sizes on the wire as the userspace stack on DPDK's devices, which
        # send no large segments).
        sweep_port = "dpdk" if "dpdk" in args.ports else args.ports[0]
        for w in range(2, max_workers + 1) if "workers" in args.sweep_axes else ():
            for s in args.servers:
                add(s, "off" if s in LINUX_SERVERS else "n/a", 1500, w, sweep_port)
        for mtu in (512, 3000, 9000) if "mtu" in args.sweep_axes else ():
            for s in args.servers:
                add(s, "off" if s in LINUX_SERVERS else "n/a", mtu, 1, sweep_port)
        # The connection axis: the headline rows are its point at
        # --connections; minimal_ws on the port that served best there (known
        # once those rows ran), the Linux servers with the kernel's offloads
        # (the packet port sends 64 KB segments as they do).
        for c in CONN_AXIS if "connections" in args.sweep_axes else ():
            if c == args.connections:
                continue
            for s in AXIS_SERVERS:
                if s in args.servers:
                    add(s, axis_offloads(args) if s in LINUX_SERVERS else "n/a", 1500, 1, "best", c, axis=True)
    frames = [60, 1514] + ([526, 3014, 9014] if args.sweep and "mtu" in args.sweep_axes else [])
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
    profs = []
    t_start = time.time()
    # Every process the bench starts inherits this limit.
    axis_on = args.sweep and "connections" in args.sweep_axes
    most = max([args.connections] + (list(CONN_AXIS) if axis_on else []))
    nofile = raise_nofile(max(65536, most + FD_MARGIN))
    print("bench: open-file limit %d (hard %d; it was %d/%d; fs.nr_open %s, fs.file-max %s)%s" % (
        nofile["soft"], nofile["hard"], nofile["initial"]["soft"], nofile["initial"]["hard"], nofile["nr_open"],
        nofile["file_max"], "; not raised to %d: %s" % (nofile["wanted"], nofile["why_not_raised"])
        if nofile["why_not_raised"] else ""))
    if most + FD_MARGIN > nofile["soft"]:
        print("bench: points of more than %d connections are not measured (each needs that many descriptors "
              "in wrk, plus %d)" % (nofile["soft"] - FD_MARGIN, FD_MARGIN), file=sys.stderr)
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
        print("bench: %d points x %d run(s) x %d s%s, %d link blasts; about %s" % (
            len(pts), args.runs, args.duration, " over IPv6 (http://[%s]/)" % SRV_IP6 if args.ipv6 else "",
            len(frames),
            "%.0f s" % est if est < 120 else "%.0f min" % (est / 60.0)))
        progress = Progress(len(pts) + len(frames) + (len(args.ports) if args.profile else 0))
        try:
            link = measure_link(args, ctx, procs, progress, frames)
        except RigError as e:
            rig_errors.append("link blaster: %s" % e)
            link = []
        default_offloads = None
        results = []
        for pt in pts:
            if pt.get("port") == "best":
                b = best_row(results)
                pt = dict(pt, port=b.get("port", "dpdk") if b else args.ports[0],
                          port_from="best of the rows at %d connections" % args.connections if b else
                          "no minimal_ws row served at %d connections; the first port" % args.connections)
            progress.step("%s%s offloads=%s mtu=%d workers=%d connections=%d" % (
                pt["server"], " port=%s" % pt["port"] if pt.get("port") else "", pt["offloads"], pt["mtu"],
                pt["workers"], pt["connections"]))
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
                    if res["summary"]["responses_total"] == 0:
                        res["notes"].append(
                            "no response at all within the %d s run: %d connections each waiting for a page are "
                            "%.1f GB in flight, which a server sharing its link fairly between them may not "
                            "finish in that time (longer runs: BENCH_DURATION)" % (
                                args.duration, pt["connections"],
                                pt["connections"] * manifest.get("stats", {}).get("mean_bytes", 130000) / 1e9))
            if pt["offloads"] == "on" and res.get("veth_features") and default_offloads is None:
                default_offloads = ", ".join("%s %s" % kv for kv in sorted(res["veth_features"]["server"].items()))
            results.append(res)
        if args.profile:
            pbin, perr = build_profile()
            for port in args.ports:
                progress.step("minimal_ws cost centres on the %s port (USN_PROFILE=1 build)" % port)
                if not pbin:
                    prof = {"server": "minimal_ws", "port": port, "status": "not built", "runs": [], "notes": [perr]}
                else:
                    try:
                        prof = measure_profile(args, ctx, procs, progress, port, pbin)
                    except RigError as e:
                        prof = {"server": "minimal_ws", "port": port, "status": "rig error", "runs": [],
                                "notes": [str(e)]}
                        rig_errors.append("cost centres (%s): %s" % (port, e))
                prof["flags_duration"] = args.duration
                profs.append(prof)
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
                  "ports": args.ports, "vdev": args.vdev, "max_conns": args.max_conns, "pkt_args": args.pkt_args,
                  "sweep_axes": args.sweep_axes if args.sweep else [],
                  "connection_axis": list(CONN_AXIS) if axis_on else None,
                  "connection_axis_offloads": axis_offloads(args) if axis_on else None,
                  "wrk_timeout_s": args.timeout, "sweep": args.sweep, "smoke": args.smoke,
                  "servers": args.servers, "offloads": args.offloads, "rps": args.rps,
                  "seed": args.seed, "srv_cores": ",".join(map(str, srv_cores[:1])),
                  "cli_cores": ",".join(map(str, cli_for[1])), "blast_seconds": args.blast_seconds,
                  "ipv6": args.ipv6,
                  "addresses": {"server": SRV_IP, "client": CLI_IP, "prefix": PREFIX,
                                "server6": SRV_IP6, "client6": CLI_IP6, "prefix6": PREFIX6}},
        "corpus": manifest,
        "default_offloads": default_offloads,
        "link": link,
        "results": results,
        "open_files": nofile,
        "comparison": comparison(results),
        "connection_axis": axis_rows(results, args) if axis_on else None,
        "profiles": profs,
        "rig_errors": rig_errors,
        "elapsed_s": round(time.time() - t_start, 1),
    }
    stamp = now.strftime("%Y%m%d-%H%M%S") + ("-ipv6" if args.ipv6 else "")
    outdir = os.path.join(args.results, stamp)
    os.makedirs(outdir, exist_ok=True)
    rows = table_rows(results, link)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    write_csv(os.path.join(outdir, "results.csv"), results, link)
    with open(os.path.join(outdir, "table.md"), "w") as f:
        f.write(markdown(doc, rows))
        f.write(comparison_markdown(doc))
        f.write(axis_markdown(doc))
        f.write(profile_markdown(profs, results))
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
    print()
    for l in doc["comparison"]["lines"]:
        print(l)
    if doc["connection_axis"]:
        print("\nconnection axis (frames and CPU per request: see the table above):")
        print_simple(AXIS_HEADERS, axis_table(doc["connection_axis"]))
    if profs:
        prows, pcmp = profile_rows(profs, results)
        print("\ncost centres of minimal_ws (USN_PROFILE=1 build, 1 run per port): %s" % ", ".join(
            "%s %s" % (port_label(p.get("port"), p.get("vdev")), p["status"]) for p in profs))
        if prows:
            print_simple(prof_headers(profs), prows)
        if pcmp:
            print()
            print_simple(PROF_CMP_HEADERS, pcmp)
        for p in profs:
            for n in p.get("notes", []):
                print("  cost centres, %s: %s" % (port_label(p.get("port"), p.get("vdev")), n))
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
