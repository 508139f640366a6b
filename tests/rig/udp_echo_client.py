#!/usr/bin/env python3
"""Rig UDP client through the Linux kernel (tests/rig/run_pport_udp.sh).
echo mode: from --sources sockets (each its own source port, so flows
spread over workers), --count datagrams in all, sizes from 0 to --max-size
(the first ones 0, 1, and the largest), random bytes from --seed; each must
come back byte for byte to the socket that sent it (a lost one is sent
again, at most 3 times: UDP may lose, the stack must not mangle). refused
mode: a connected socket sends to a port nobody serves; the kernel must
report ECONNREFUSED (it got ICMP port unreachable). Exit 0 on success, 1
with one line naming the failure."""
import argparse
import errno
import random
import socket
import sys


def family(args):
    return socket.AF_INET6 if args.family == 6 else socket.AF_INET


def echo(args):
    rnd = random.Random(args.seed)
    socks = []
    for _ in range(args.sources):
        s = socket.socket(family(args), socket.SOCK_DGRAM)
        s.bind(("::" if args.family == 6 else "0.0.0.0", 0))
        s.connect((args.host, args.port))
        s.settimeout(1.0)
        socks.append(s)
    fixed = [0, 1, args.max_size, 2, 63, 64, 65]
    resent = 0
    for i in range(args.count):
        size = fixed[i] if i < len(fixed) else rnd.randint(0, args.max_size)
        data = bytes(rnd.getrandbits(8) for _ in range(size))
        s = socks[i % len(socks)]
        for attempt in range(3):
            s.send(data)
            try:
                got = s.recv(65536)
            except socket.timeout:
                resent += 1
                continue
            if got != data:
                print("datagram %d (%d bytes): echoed %d bytes that differ" % (i, size, len(got)))
                return 1
            break
        else:
            print("datagram %d (%d bytes): no echo after 3 tries" % (i, size))
            return 1
    print("%d datagrams echoed byte for byte over IPv%d from %d source ports (%d sent again)"
          % (args.count, args.family, len(socks), resent))
    return 0


def refused(args):
    s = socket.socket(family(args), socket.SOCK_DGRAM)
    s.connect((args.host, args.port))
    s.settimeout(1.0)
    for _ in range(3):
        try:
            s.send(b"anyone there?")
            s.recv(2048)
            print("port %d answered: expected ECONNREFUSED" % args.port)
            return 1
        except ConnectionRefusedError:
            print("ECONNREFUSED from port %d over IPv%d" % (args.port, args.family))
            return 0
        except socket.timeout:
            continue
        except OSError as e:
            print("port %d: %s, expected ECONNREFUSED" % (args.port, errno.errorcode.get(e.errno, e)))
            return 1
    print("port %d: no answer at all, expected ECONNREFUSED (no ICMP port unreachable)" % args.port)
    return 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("--port", type=int, default=7)
    p.add_argument("--mode", choices=["echo", "refused"], default="echo")
    p.add_argument("--count", type=int, default=500)
    p.add_argument("--sources", type=int, default=16)
    p.add_argument("--max-size", type=int, default=None,
                   help="largest payload (default: 1472 over IPv4, 1452 over IPv6)")
    p.add_argument("--family", type=int, choices=[4, 6], default=4)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    if args.max_size is None:
        args.max_size = 1452 if args.family == 6 else 1472
    return echo(args) if args.mode == "echo" else refused(args)


if __name__ == "__main__":
    sys.exit(main())
