#!/usr/bin/env python3
"""Reliability rig client (stdlib only). Two modes, each printing one JSON
line of results:
  corpus: fetch every file under --root (one connection per request,
          Connection: close) --rounds times, or for --duration seconds, with
          --conc threads; each body must match the file's sha256, each fetch
          must end within --deadline seconds (a hang counts as one).
  slowloris: open --n connections that send a partial request and stall;
          for --hold seconds watch how many the server closes, while corpus
          fetches check that new clients are served."""
import argparse
import hashlib
import json
import os
import select
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def corpus_of(root):
    files = []
    for d, _, names in os.walk(root):
        for n in sorted(names):
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                files.append(("/" + os.path.relpath(p, root), hashlib.sha256(f.read()).hexdigest()))
    return sorted(files)


def fetch(host, port, path, timeout, deadline):
    """-> (kind, detail, body bytes): kind ok, bad, timeout or error."""
    t_end = time.monotonic() + deadline
    try:
        s = socket.create_connection((host, port), timeout=timeout)
    except socket.timeout:
        return "timeout", "connect", 0
    except OSError as e:
        return "error", "connect: %s" % e, 0
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: rel\r\nConnection: close\r\n\r\n" % path.encode())
        data = bytearray()
        while True:
            left = t_end - time.monotonic()
            if left <= 0:
                return "timeout", "%s: no end after %.0f s (%d bytes)" % (path, deadline, len(data)), len(data)
            s.settimeout(min(timeout, left))
            b = s.recv(262144)
            if not b:
                break
            data += b
    except socket.timeout:
        return "timeout", "%s: silent %.0f s (%d bytes)" % (path, timeout, len(data)), len(data)
    except OSError as e:
        return "error", "%s: %s after %d bytes" % (path, e, len(data)), len(data)
    finally:
        s.close()
    head, sep, body = bytes(data).partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/1.1 200"):
        return "bad", "%s: %r" % (path, head[:60]), len(data)
    return "ok", hashlib.sha256(body).hexdigest(), len(data)


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = {"ok": 0, "bad": 0, "timeout": 0, "error": 0}
        self.bytes = 0
        self.max_s = 0.0
        self.why = []

    def add(self, kind, why, nbytes, secs):
        with self.lock:
            self.n[kind] += 1
            self.bytes += nbytes
            self.max_s = max(self.max_s, secs)
            if kind != "ok" and len(self.why) < 5:
                self.why.append(why)


def run_corpus(a, files, stop=None):
    t = Tally()
    t0 = time.monotonic()
    end = t0 + a.duration if a.duration else None
    jobs = [f for _ in range(a.rounds) for f in files] if not a.duration else None
    lock = threading.Lock()
    idx = [0]

    def next_job():
        with lock:
            if stop is not None and stop.is_set():
                return None
            if jobs is not None:
                if idx[0] >= len(jobs):
                    return None
                j = jobs[idx[0]]
            else:
                if time.monotonic() >= end:
                    return None
                j = files[idx[0] % len(files)]
            idx[0] += 1
            return j

    def worker():
        while True:
            j = next_job()
            if j is None:
                return
            path, digest = j
            ts = time.monotonic()
            kind, why, nb = fetch(a.host, a.port, path, a.timeout, a.deadline)
            if kind == "ok" and why != digest:
                kind, why = "bad", "%s: sha256 differs" % path
            t.add(kind, why, nb, time.monotonic() - ts)
            if a.pause:
                time.sleep(a.pause)

    with ThreadPoolExecutor(a.conc) as ex:
        for f in [ex.submit(worker) for _ in range(a.conc)]:
            f.result()
    secs = time.monotonic() - t0
    total = sum(t.n.values())
    return {"fetches": total, **t.n, "bytes": t.bytes, "secs": round(secs, 2),
            "req_per_s": round(total / secs, 1) if secs else 0,
            "success_pct": round(100.0 * t.n["ok"] / total, 2) if total else 0.0,
            "max_fetch_s": round(t.max_s, 2), "why": t.why}


def run_slowloris(a, files):
    socks = []
    t0 = time.monotonic()
    refused = 0
    for i in range(a.n):
        if time.monotonic() - t0 > a.open_s:
            break
        try:
            s = socket.create_connection((a.host, a.port), timeout=2)
            # a request line and one header, never the blank line
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: rel\r\n")
            s.setblocking(False)
            socks.append(s)
        except OSError:
            refused += 1
    opened = len(socks)
    open_s = time.monotonic() - t0
    stop = threading.Event()
    res = {}
    a.duration = a.hold + 5  # new clients keep coming until the hold ends (stop)
    checker = threading.Thread(target=lambda: res.update(run_corpus(a, files, stop)))
    checker.start()
    by_fd = {s.fileno(): s for s in socks}
    p = select.poll()
    for fd in by_fd:
        p.register(fd, select.POLLIN)
    alive = len(by_fd)
    closed_at = []
    t1 = time.monotonic()
    while time.monotonic() - t1 < a.hold and alive:
        for fd, _ in p.poll(500):
            try:
                b = by_fd[fd].recv(4096)
            except OSError:
                b = b""
            if not b:  # FIN or RST from the server
                p.unregister(fd)
                alive -= 1
                closed_at.append(round(time.monotonic() - t1, 1))
    stop.set()
    checker.join()
    still = alive
    for s in socks:
        s.close()
    return {"wanted": a.n, "opened": opened, "refused": refused, "open_s": round(open_s, 1),
            "hold_s": a.hold, "closed_by_server": opened - still, "still_open": still,
            "first_close_s": closed_at[0] if closed_at else None,
            "last_close_s": closed_at[-1] if closed_at else None, "new_clients": res}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["corpus", "slowloris"])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--root", required=True)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--duration", type=float, default=0)
    ap.add_argument("--conc", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=20, help="longest silence, s")
    ap.add_argument("--deadline", type=float, default=60, help="longest fetch, s")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--open-s", type=float, default=60, help="longest time to open the slow connections")
    ap.add_argument("--hold", type=float, default=20)
    ap.add_argument("--pause", type=float, default=0, help="seconds each thread waits between fetches")
    a = ap.parse_args()
    files = corpus_of(a.root)
    if a.mode == "corpus":
        r = run_corpus(a, files)
    else:
        r = run_slowloris(a, files)
    print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
