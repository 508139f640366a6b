#!/usr/bin/env python3
"""Rig ICMP echo through the Linux kernel (tests/rig/run_dpdk_*.sh): a raw
socket, so the kernel resolves the address by ARP and routes the request;
needs root, not the ping binary. Checks id, sequence, payload and checksum
of every reply. Usage: icmp_ping.py ADDR [COUNT]; exit 0 if all replied."""
import os
import socket
import struct
import sys
import time


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    dst = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    ok = 0
    for seq in range(n):
        payload = os.urandom(56)
        h = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = struct.pack("!BBHHH", 8, 0, csum(h + payload), ident, seq) + payload
        t0 = time.monotonic()
        s.sendto(pkt, (dst, 0))
        while time.monotonic() - t0 < 1.0:
            s.settimeout(max(0.01, 1.0 - (time.monotonic() - t0)))
            try:
                data, addr = s.recvfrom(2048)
            except socket.timeout:
                break
            icmp = data[(data[0] & 15) * 4:]
            if (addr[0] == dst and icmp[0] == 0 and struct.unpack("!HH", icmp[4:8]) == (ident, seq)
                    and icmp[8:] == payload and csum(icmp) == 0):
                ok += 1
                print("icmp_ping: reply from %s seq=%d %.3f ms" % (dst, seq, (time.monotonic() - t0) * 1000))
                break
    print("icmp_ping: %d/%d replies" % (ok, n))
    return 0 if ok == n else 1


if __name__ == "__main__":
    sys.exit(main())
