#!/usr/bin/env python3
"""Rig client for usn_echo (tests/rig/run_dpdk_echo.sh): opens N TCP
connections in batches of B concurrent ones, sends each a random payload,
half-closes, and checks every byte comes back before the server's FIN.
Prints one summary line; exit 0 only if every connection echoed exactly."""
import argparse
import asyncio
import os
import random
import sys


async def one(host, port, size, timeout):
    data = os.urandom(size)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        async def send():
            for off in range(0, len(data), 8192):
                writer.write(data[off:off + 8192])
                await writer.drain()
            writer.write_eof()

        async def recv():
            got = bytearray()
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return bytes(got)
                got += chunk

        _, got = await asyncio.wait_for(asyncio.gather(send(), recv()), timeout)
    finally:
        writer.close()
    if got != data:
        first = next((i for i in range(min(len(got), len(data))) if got[i] != data[i]), min(len(got), len(data)))
        return "sent %d bytes, got %d back, first difference at %d" % (len(data), len(got), first)
    return None


def sizes(rng, n):
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.70:
            out.append(rng.randint(1, 2000))
        elif r < 0.95:
            out.append(rng.randint(2001, 20000))
        else:
            out.append(rng.randint(20001, 100000))
    return out


async def main(a):
    rng = random.Random(a.seed)
    plan = sizes(rng, a.conns)
    ok, errors, total = 0, [], 0
    for start in range(0, a.conns, a.batch):
        batch = plan[start:start + a.batch]
        res = await asyncio.gather(*(one(a.host, a.port, s, a.timeout) for s in batch), return_exceptions=True)
        for size, r in zip(batch, res):
            if r is None:
                ok += 1
                total += size
            else:
                errors.append(repr(r) if isinstance(r, BaseException) else r)
    print("echo_client: %d/%d connections echoed exactly, %d bytes" % (ok, a.conns, total))
    for e in errors[:5]:
        print("echo_client: error: %s" % e)
    return 0 if ok == a.conns else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("--port", type=int, default=7)
    p.add_argument("--conns", type=int, default=1000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=1)
    sys.exit(asyncio.run(main(p.parse_args())))
