#!/usr/bin/env python3
"""tests/rig/pcapng_check.py: reads a pcapng file the way a second reader
would (written here from the format's specification, not from DPDK's or
libusnet's code) and checks what run_pcap.sh asks of a capture.

Usage: pcapng_check.py FILE --workers N [--server IP:PORT] [--max-bytes B]
Prints "PASS what" / "FAIL what: why" lines; exits 1 if any check failed.

Checks: the file is a well-formed pcapng section (every block's two length
fields agree, the blocks tile the file); it has one interface block per
worker (named ".../wN") besides the port's; every packet is on a worker's
interface and has a direction; every IPv4 header and TCP segment has a
correct checksum; and, with --server, the capture holds a whole HTTP
exchange with the server: the three-way handshake, a GET request and the
server's "HTTP/1.1 200" answer, both directions of one connection.
"""
import argparse
import socket
import struct
import sys

fails = 0


def ok(what):
    print("PASS " + what)


def bad(what, why):
    global fails
    fails += 1
    print("FAIL %s: %s" % (what, why))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def options(body):
    """(code, value) pairs of an option list."""
    out, off = [], 0
    while off + 4 <= len(body):
        code, length = struct.unpack_from("<HH", body, off)
        if code == 0:
            break
        out.append((code, body[off + 4:off + 4 + length]))
        off += 4 + length + (-length % 4)
    return out


def read_blocks(data):
    off, blocks = 0, []
    while off < len(data):
        if off + 12 > len(data):
            raise ValueError("truncated block header at %d" % off)
        btype, blen = struct.unpack_from("<II", data, off)
        if blen < 12 or blen % 4 or off + blen > len(data):
            raise ValueError("bad block length %d at %d" % (blen, off))
        (trail,) = struct.unpack_from("<I", data, off + blen - 4)
        if trail != blen:
            raise ValueError("block at %d: trailing length %d != %d" % (off, trail, blen))
        blocks.append((btype, data[off + 8:off + blen - 4]))
        off += blen
    return blocks


def tcp_of(frame):
    """(src, dst, sport, dport, flags, seq, payload, ip_ok, tcp_ok) of an
    Ethernet/IPv4/TCP frame, else None."""
    if len(frame) < 34 or struct.unpack_from("!H", frame, 12)[0] != 0x0800:
        return None
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    total = struct.unpack_from("!H", ip, 2)[0]
    if ip[0] >> 4 != 4 or ihl < 20 or total > len(ip) or ip[9] != 6:
        return None
    ip_ok = csum(ip[:ihl]) == 0xFFFF
    seg = ip[ihl:total]
    if len(seg) < 20:
        return None
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(seg))
    tcp_ok = csum(pseudo + seg) == 0xFFFF
    sport, dport, seq = struct.unpack_from("!HHI", seg, 0)
    doff = (seg[12] >> 4) * 4
    return (socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), sport, dport, seg[13], seq,
            seg[doff:], ip_ok, tcp_ok)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("--server")
    ap.add_argument("--max-bytes", type=int)
    a = ap.parse_args()

    data = open(a.file, "rb").read()
    try:
        blocks = read_blocks(data)
    except ValueError as e:
        bad("pcapng blocks", str(e))
        return 1
    if not blocks or blocks[0][0] != 0x0A0D0D0A or struct.unpack_from("<I", blocks[0][1], 0)[0] != 0x1A2B3C4D:
        bad("pcapng section header", "the file does not start with a little-endian section header")
        return 1
    ok("pcapng: %d blocks, lengths consistent, section header first" % len(blocks))
    if a.max_bytes is not None:
        if len(data) <= a.max_bytes + 1024:
            ok("size %d bytes within the limit %d (statistics blocks aside)" % (len(data), a.max_bytes))
        else:
            bad("size within the limit", "%d bytes, limit %d" % (len(data), a.max_bytes))

    ifaces = []  # names, by interface id
    packets = []  # (iface, flags, frame)
    isbs = {}
    for btype, body in blocks:
        if btype == 1:  # IDB
            link, _, snap = struct.unpack_from("<HHI", body, 0)
            name = ""
            for code, val in options(body[8:]):
                if code == 2:
                    name = val.decode()
            ifaces.append((name, link, snap))
        elif btype == 6:  # EPB
            iface, _, _, caplen, _ = struct.unpack_from("<IIIII", body, 0)
            frame = body[20:20 + caplen]
            flags = None
            for code, val in options(body[20 + caplen + (-caplen % 4):]):
                if code == 2:
                    (flags,) = struct.unpack("<I", val)
            packets.append((iface, flags, frame))
        elif btype == 5:  # ISB
            (iface,) = struct.unpack_from("<I", body, 0)
            isbs[iface] = options(body[12:])

    workers = [i for i, (n, _, _) in enumerate(ifaces) if n.rsplit("/w", 1)[-1].isdigit() and "/w" in n]
    if len(workers) == a.workers:
        ok("one interface block per worker: %s" % ", ".join(ifaces[i][0] for i in workers))
    else:
        bad("one interface block per worker", "%d worker blocks for %d workers: %s" %
            (len(workers), a.workers, [n for n, _, _ in ifaces]))
    if all(link == 1 for _, link, _ in ifaces) and len({snap for _, _, snap in ifaces}) == 1:
        ok("every interface Ethernet with the same snap length (libpcap reads the file)")
    else:
        bad("interfaces alike", str(ifaces))
    stray = [p for p in packets if p[0] not in workers]
    undirected = [p for p in packets if p[1] not in (1, 2)]
    if packets and not stray and not undirected:
        ok("%d packets, each on a worker's interface with its direction" % len(packets))
    else:
        bad("packets on worker interfaces", "%d packets, %d elsewhere, %d without a direction" %
            (len(packets), len(stray), len(undirected)))
    if sorted(isbs) == sorted(workers):
        ok("a statistics block per worker interface")
    else:
        bad("statistics blocks", "for interfaces %s" % sorted(isbs))

    segs = [(p[1],) + t for p in packets for t in [tcp_of(p[2])] if t]
    badsum = [s for s in segs if not (s[8] and s[9])]
    if segs and not badsum:
        ok("%d TCP segments, every IPv4 and TCP checksum correct" % len(segs))
    else:
        bad("checksums", "%d of %d segments with a bad sum" % (len(badsum), len(segs)))

    if a.server:
        sip, sport = a.server.rsplit(":", 1)
        sport = int(sport)
        # flags: 0x02 SYN, 0x10 ACK, 0x12 SYN-ACK
        conns = {}
        for d, src, dst, sp, dp, fl, seq, pay, _, _ in segs:
            if dst == sip and dp == sport:
                key, out = (src, sp), False
            elif src == sip and sp == sport:
                key, out = (dst, dp), True
            else:
                continue
            c = conns.setdefault(key, {"syn": False, "synack": False, "ack": False, "get": False, "200": False,
                                       "dir_ok": True})
            # the server's frames go out (2), the client's come in (1)
            if d != (2 if out else 1):
                c["dir_ok"] = False
            if not out and fl & 0x12 == 0x02:
                c["syn"] = True
            elif out and fl & 0x12 == 0x12 and c["syn"]:
                c["synack"] = True
            elif not out and fl & 0x10 and c["synack"]:
                c["ack"] = True
            if not out and pay.startswith(b"GET "):
                c["get"] = True
            if out and pay.startswith(b"HTTP/1.1 200"):
                c["200"] = True
        full = [k for k, c in conns.items() if all(c.values())]
        if full:
            ok("an HTTP exchange with %s: handshake (SYN, SYN-ACK, ACK), GET, HTTP/1.1 200, directions right "
               "(%d such connections)" % (a.server, len(full)))
        else:
            bad("an HTTP exchange with %s" % a.server, "none complete among %s" % conns)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
