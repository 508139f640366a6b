#!/usr/bin/env python3
"""Rig ICMPv6 echo through the Linux kernel (tests/rig/run_pport_ipv6.sh):
a raw ICMPv6 socket, so the kernel resolves the address by Neighbour
Discovery, picks the source, fills the checksum and checks the replies'
(RFC 3542 3.1); needs root, not the ping binary. Checks id, sequence and
payload of every reply. Usage: icmp6_ping.py ADDR[%IFACE] [COUNT]; exit 0
if all replied."""
import os
import socket
import struct
import sys
import time


def main():
    dst = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    sa = socket.getaddrinfo(dst, None, socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)[0][4]
    want = socket.inet_pton(socket.AF_INET6, dst.split("%")[0])
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    ident = os.getpid() & 0xFFFF
    ok = 0
    for seq in range(n):
        payload = os.urandom(56)
        pkt = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + payload
        t0 = time.monotonic()
        s.sendto(pkt, sa)
        while time.monotonic() - t0 < 1.0:
            s.settimeout(max(0.01, 1.0 - (time.monotonic() - t0)))
            try:
                data, addr = s.recvfrom(2048)
            except socket.timeout:
                break
            src = socket.inet_pton(socket.AF_INET6, addr[0].split("%")[0])
            if (src == want and data[0] == 129 and data[1] == 0
                    and struct.unpack("!HH", data[4:8]) == (ident, seq) and data[8:] == payload):
                ok += 1
                print("icmp6_ping: reply from %s seq=%d %.3f ms" % (dst, seq, (time.monotonic() - t0) * 1000))
                break
    print("icmp6_ping: %d/%d replies" % (ok, n))
    return 0 if ok == n else 1


if __name__ == "__main__":
    sys.exit(main())
