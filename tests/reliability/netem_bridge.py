#!/usr/bin/env python3
"""A userspace netem for the reliability rig: bridges two interfaces frame by
frame (AF_PACKET) and applies, in both directions, netem's loss, duplicate,
corrupt, reorder and delay/jitter, deterministic by seed. Used where the
kernel has no sch_netem. Arguments after the options are netem's own words:
  netem_bridge.py --a IF1 --b IF2 [--seed N] delay 50ms 10ms loss 5% ...
Prints its counters on SIGTERM/SIGINT. Runs until killed or --max-s."""
import argparse
import heapq
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def parse_netem(words):
    """netem words -> dict of probabilities (0..1) and seconds."""
    o = {"loss": 0.0, "duplicate": 0.0, "corrupt": 0.0, "reorder": 0.0, "delay": 0.0, "jitter": 0.0}

    def pct(w):
        return float(w.rstrip("%")) / 100.0

    def secs(w):
        for suf, k in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0)):
            if w.endswith(suf):
                return float(w[: -len(suf)]) * k
        return float(w) * 1e-6  # tc's default unit

    i = 0
    while i < len(words):
        w = words[i]
        if w == "delay":
            o["delay"] = secs(words[i + 1])
            i += 2
            if i < len(words) and words[i][0].isdigit():
                o["jitter"] = secs(words[i])
                i += 1
        elif w in ("loss", "duplicate", "corrupt", "reorder"):
            o[w] = pct(words[i + 1])
            i += 2
            # a correlation percentage may follow; ignored
            if i < len(words) and words[i][0].isdigit():
                i += 1
        else:
            raise SystemExit("netem_bridge: unknown word %r" % w)
    return o


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-s", type=float, default=3600)
    ap.add_argument("netem", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    o = parse_netem(a.netem)
    rnd = random.Random(a.seed)
    socks = {}
    for name in (a.a, a.b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.bind((name, 0))
        s.setblocking(False)
        socks[name] = s
    peer = {socks[a.a].fileno(): socks[a.b], socks[a.b].fileno(): socks[a.a]}
    by_fd = {s.fileno(): s for s in socks.values()}
    n = {"in": 0, "out": 0, "lost": 0, "dup": 0, "corrupt": 0, "reorder": 0, "send_err": 0}
    q = []  # (due, seq, out socket, frame)
    seq = 0
    done = []
    signal.signal(signal.SIGTERM, lambda *_: done.append(1))
    signal.signal(signal.SIGINT, lambda *_: done.append(1))
    p = select.poll()
    for fd in by_fd:
        p.register(fd, select.POLLIN)
    end = time.monotonic() + a.max_s
    while not done and time.monotonic() < end:
        now = time.monotonic()
        wait_ms = 50 if not q else max(0, min(50, int((q[0][0] - now) * 1000)))
        for fd, _ in p.poll(wait_ms):
            s = by_fd[fd]
            for _ in range(256):
                try:
                    frame, addr = s.recvfrom(65536)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                n["in"] += 1
                if rnd.random() < o["loss"]:
                    n["lost"] += 1
                    continue
                copies = 1
                if rnd.random() < o["duplicate"]:
                    copies = 2
                    n["dup"] += 1
                for c in range(copies):
                    f = frame
                    if c == 0 and len(f) > 14 and rnd.random() < o["corrupt"]:
                        # one random bit of the IP packet, as netem
                        b = bytearray(f)
                        i = rnd.randrange(14, len(b))
                        b[i] ^= 1 << rnd.randrange(8)
                        f = bytes(b)
                        n["corrupt"] += 1
                    if o["reorder"] and rnd.random() < o["reorder"]:
                        d = 0.0  # sent at once: overtakes the delayed ones
                        n["reorder"] += 1
                    else:
                        d = o["delay"] + (rnd.uniform(-o["jitter"], o["jitter"]) if o["jitter"] else 0.0)
                    seq += 1
                    heapq.heappush(q, (time.monotonic() + max(0.0, d), seq, peer[fd], f))
        now = time.monotonic()
        while q and q[0][0] <= now:
            _, _, out, f = heapq.heappop(q)
            try:
                out.send(f)
                n["out"] += 1
            except OSError:
                n["send_err"] += 1
    print("netem_bridge: " + " ".join("%s=%d" % kv for kv in n.items()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
