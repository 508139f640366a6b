#!/usr/bin/env python3
"""libusnet fuzz seeds (tests/fuzz): writes the seed corpora under
tests/fuzz/corpus/<target>/ in each target's input format (see the comment
at the top of tests/fuzz/fuzz_<target>.c). Deterministic; rerun after a
format change:  python3 tests/fuzz/make_seeds.py [corpus_dir]"""
import os
import struct
import sys

STACK_MAC = bytes([0x02, 0x00, 0xC6, 0x12, 0x00, 0x01])
PEER_MAC = bytes([0x02, 0x00, 0xC6, 0x12, 0x00, 0x02])
BCAST = b"\xff" * 6
STACK_IP = bytes([198, 18, 0, 1])
PEER_IP = bytes([198, 18, 0, 2])

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 1, 2, 4, 8, 16, 32, 64, 128

# IPv6 (benchmarking prefix 2001:2::/48, RFC 5180): the fixture's stack has
# 2001:2::1/64 and fe80::c6:12ff:fe12:1, the peer 2001:2::2.
STACK_IP6 = bytes([0x20, 0x01, 0, 2] + [0] * 11 + [1])
PEER_IP6 = bytes([0x20, 0x01, 0, 2] + [0] * 11 + [2])
STACK_LL6 = bytes([0xFE, 0x80] + [0] * 8 + [0xC6, 0xFF, 0xFE, 0x12, 0, 1])
PEER_LL6 = bytes([0xFE, 0x80] + [0] * 8 + [0xC6, 0xFF, 0xFE, 0x12, 0, 2])
ALL_NODES = bytes([0xFF, 2] + [0] * 13 + [1])
UNSPEC = bytes(16)


def snm(a):
    return bytes([0xFF, 2] + [0] * 9 + [1, 0xFF]) + a[13:]


def group_mac(g):
    return b"\x33\x33" + g[12:]


def ipv6(nh, payload, src=PEER_IP6, dst=STACK_IP6, hop=64, plen=None):
    return struct.pack("!IHBB", 6 << 28, len(payload) if plen is None else plen, nh, hop) + src + dst + payload


def icmp6(typ, code, body, src=PEER_IP6, dst=STACK_IP6):
    m = struct.pack("!BBH", typ, code, 0) + body
    ph = src + dst + struct.pack("!IxxxB", len(m), 58)
    return m[:2] + struct.pack("!H", csum(ph + m)) + m[4:]


def echo6(ident, seq, data, src=PEER_IP6, dst=STACK_IP6):
    return icmp6(128, 0, struct.pack("!HH", ident, seq) + data, src, dst)


def nd6(typ, target, lla=None, flags=0, src=PEER_IP6, dst=None, code=0):
    dst = dst if dst is not None else snm(target)
    body = struct.pack("!B3x", flags) + target
    if lla is not None:
        body += bytes([1 if typ == 135 else 2, 1]) + lla
    return icmp6(typ, code, body, src, dst)


def frame6(nh, payload, src=PEER_IP6, dst=STACK_IP6, hop=64, ext=b"", first=None):
    """An IPv6 frame; ext: extension headers (their own next-header bytes
    chained to nh by the caller), first: the fixed header's next header."""
    mac = group_mac(dst) if dst[0] == 0xFF else STACK_MAC
    return eth(0x86DD, dst=mac) + ipv6(first if first is not None else nh, ext + payload, src, dst, hop)


def ext_opts(nh, units=0, opt=None):
    """A hop-by-hop or destination-options header of 8 * (units + 1) bytes:
    PadN filling it, or opt (type, data) first."""
    n = 8 * (units + 1)
    body = bytes([opt[0], len(opt[1])]) + opt[1] if opt else b""
    pad = n - 2 - len(body)
    while pad >= 2:
        k = min(pad, 257)
        if pad - k == 1:
            k -= 1
        body += bytes([1, k - 2]) + bytes(k - 2)
        pad -= k
    body += bytes(pad)
    return bytes([nh, units]) + body


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(typ, dst=STACK_MAC, src=PEER_MAC, vlan=None):
    if vlan is not None:
        return dst + src + struct.pack("!HHH", 0x8100, vlan, typ)
    return dst + src + struct.pack("!H", typ)


def arp(op, tpa=STACK_IP, spa=PEER_IP, sha=PEER_MAC, tha=b"\0" * 6):
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + spa + tha + tpa


def ipv4(proto, payload, src=PEER_IP, dst=STACK_IP, opts=b"", frag=0x4000, ident=1, ttl=64,
         ihl=None, total=None, good=True):
    hl = 20 + len(opts)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl if ihl is not None else hl // 4), 0,
                    total if total is not None else hl + len(payload), ident, frag, ttl, proto, 0, src, dst) + opts
    c = csum(h) if good else 0x1234
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def icmp_echo(ident, seq, data, typ=8):
    h = struct.pack("!BBHHH", typ, 0, 0, ident, seq) + data
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]


def tcp(sport, dport, seq, ack, flags, wnd=65535, opts=b"", payload=b"", urg=0, doff=None,
        src=PEER_IP, dst=STACK_IP, good=True):
    opts = opts + b"\0" * (-len(opts) % 4)
    d = doff if doff is not None else (20 + len(opts)) // 4
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, d << 4, flags, wnd, 0,
                    urg) + opts + payload
    ph = src + dst + struct.pack("!BBH", 0, 6, len(h))
    c = csum(ph + h) if good else 0xBEEF
    return h[:16] + struct.pack("!H", c) + h[18:]


def udp(sport, dport, payload, src=PEER_IP, dst=STACK_IP, good=True, zero=False, length=None):
    h = struct.pack("!HHHH", sport, dport, length if length is not None else 8 + len(payload), 0) + payload
    if zero:
        return h
    c = csum(src + dst + struct.pack("!BBH", 0, 17, len(h)) + h) if good else 0xBEEF
    return h[:6] + struct.pack("!H", c or 0xFFFF) + h[8:]


def udp6(sport, dport, payload, src=PEER_IP6, dst=STACK_IP6, good=True, zero=False, length=None):
    """UDP over IPv6: the sum over RFC 8200 8.1's pseudo-header, never 0
    (zero=True leaves the forbidden zero)."""
    h = struct.pack("!HHHH", sport, dport, length if length is not None else 8 + len(payload), 0) + payload
    if zero:
        return h
    c = csum(src + dst + struct.pack("!IxxxB", len(h), 17) + h) if good else 0xBEEF
    return h[:6] + struct.pack("!H", c or 0xFFFF) + h[8:]


def icmp6_err(typ, code, word, qnh=6, qsrc=STACK_IP6, qdst=PEER_IP6, quote_l4=8, src=PEER_IP6, dst=STACK_IP6):
    """An ICMPv6 error quoting a packet from qsrc (a TCP segment 80 ->
    50000, seq 12345, of which quote_l4 bytes) with next header qnh."""
    q = ipv6(qnh, b"", src=qsrc, dst=qdst, plen=1440) + struct.pack("!HHI", 80, 50000, 12345)[:quote_l4]
    return icmp6(typ, code, struct.pack("!I", word) + q, src, dst)


def frame_udp(*a, **k):
    return eth(0x0800) + ipv4(17, udp(*a, **k))


def frame_tcp(*a, **k):
    return eth(0x0800) + ipv4(6, tcp(*a, **k))


MSS = lambda v: struct.pack("!BBH", 2, 4, v)
WS = lambda v: bytes([1, 3, 3, v])
SACKOK = bytes([1, 1, 4, 2])
TS = lambda a, b: bytes([1, 1, 8, 10]) + struct.pack("!II", a, b)


def SACK(*blocks):
    return bytes([1, 1, 5, 2 + 8 * len(blocks)]) + b"".join(struct.pack("!II", l & 0xFFFFFFFF, r & 0xFFFFFFFF)
                                                            for l, r in blocks)


ALLOPTS = MSS(1460) + SACKOK + TS(100, 0) + WS(7)


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def icmp_quote(typ, code, mtu, seq=12345, quote_tcp=8, qproto=6):
    """An ICMP error quoting a packet from the stack: its IPv4 header and
    quote_tcp bytes of TCP (ports 80 -> 50000, seq)."""
    q = ipv4(qproto, b"\0" * 20, src=STACK_IP, dst=PEER_IP)[:20]
    t = struct.pack("!HHI", 80, 50000, seq & 0xFFFFFFFF)[:quote_tcp]
    h = struct.pack("!BBHHH", typ, code, 0, 0, mtu) + q + t
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]


# ---- fuzz_wire: [max_buf-1][pre][seed:4] bytes ----
def wire_seeds(d):
    frames = {
        "arp_request": eth(0x0806, BCAST) + arp(1),
        "arp_reply_vlan": eth(0x0806, vlan=5) + arp(2, tha=STACK_MAC),
        "ping": eth(0x0800) + ipv4(1, icmp_echo(7, 1, bytes(range(56)))),
        "ping_odd_zero": eth(0x0800) + ipv4(1, icmp_echo(0, 0, b"\0" * 33)),
        "ipv4_options": eth(0x0800) + ipv4(1, icmp_echo(1, 2, b"x" * 9), opts=bytes([7, 11, 4]) + b"\0" * 9),
        "ipv4_frag_first": eth(0x0800) + ipv4(1, icmp_echo(1, 3, b"y" * 24), frag=0x2000, ident=77),
        "ipv4_frag_next": eth(0x0800) + ipv4(1, b"z" * 16, frag=0x0004, ident=77),
        "ipv4_ihl_lie": eth(0x0800) + ipv4(6, b"\0" * 8, ihl=15),
        "ipv4_total_lie": eth(0x0800) + ipv4(6, b"\0" * 8, total=400),
        "tcp_syn_all": frame_tcp(50000, 80, 1000, 0, SYN, opts=ALLOPTS),
        "tcp_sack4": frame_tcp(50000, 80, 1, 2, ACK, opts=SACK((10, 20), (30, 40), (50, 60), (70, 80))),
        "tcp_sack3_ts": frame_tcp(50000, 80, 1, 2, ACK, opts=TS(5, 6) + SACK((10, 20), (30, 40), (50, 60))),
        "tcp_unknown_eol": frame_tcp(1, 2, 3, 4, ACK, opts=bytes([30, 4, 0, 0, 1, 0, 2, 4])),
        "tcp_doff_lie": frame_tcp(1, 2, 3, 4, ACK, doff=15),
        "tcp_bare": tcp(1, 80, 5, 6, SYN | ACK, opts=MSS(0) + WS(15)),
        "icmp_bare": icmp_echo(9, 9, b"abc"),
        "udp_echo": frame_udp(40000, 7, bytes(range(33))),
        "udp_zero_sum": frame_udp(40000, 7, b"nosum", zero=True),
        "udp_len_short": frame_udp(1, 7, b"abcdef", length=4),
        "udp_len_long": frame_udp(1, 7, b"abcdef", length=300),
        "udp_trailing": eth(0x0800) + ipv4(17, udp(1, 7, b"ab") + b"\xee" * 9),
        "udp_bare": udp(53, 9, b"q"),
    }
    for i, (name, fr) in enumerate(sorted(frames.items())):
        ctl = bytes([[0, 0, 6, 13, 47][i % 5], i % 3, 0, 0, 0, 1 + i])
        write(d, name, ctl + fr)
    # ICMP errors and their quoted packet (kept out of the numbering above,
    # so that the other seeds stay as they were).
    write(d, "icmp_frag_needed", bytes([0, 2, 0, 0, 0, 31]) + icmp_quote(3, 4, 1280))
    write(d, "icmp_time_exceeded_short", bytes([6, 1, 0, 0, 0, 32]) + icmp_quote(11, 0, 0)[:30])
    # IPv6 (after the others, so their control bytes stay as they were).
    e = echo6(5, 6, b"v6" * 10)
    frames6 = {
        "ipv6_echo": frame6(58, e),
        "ipv6_ns_sllao": frame6(58, nd6(135, STACK_IP6, PEER_MAC), dst=snm(STACK_IP6), hop=255),
        "ipv6_na_flags": frame6(58, nd6(136, PEER_IP6, PEER_MAC, 0x60, dst=STACK_IP6), hop=255),
        "ipv6_chain": frame6(58, e, ext=ext_opts(60) + ext_opts(43, 1) + bytes([44, 0, 4, 0, 0, 0, 0, 0]) +
                             bytes([58, 0, 0, 0, 0, 0, 0, 1]), first=0),
        "ipv6_frag": frame6(58, e, ext=bytes([58, 0, 0, 9, 0, 0, 0, 7]), first=44),
        "ipv6_nine_ext": frame6(58, e, ext=b"".join(ext_opts(60 if i < 8 else 58) for i in range(9)), first=60),
    }
    for i, (name, fr) in enumerate(sorted(frames6.items()), start=len(frames)):
        ctl = bytes([[0, 0, 6, 13, 47][i % 5], i % 3, 0, 0, 0, 1 + i])
        write(d, name, ctl + fr)
    # UDP over IPv6 and ICMPv6 errors (numbered after the others again).
    frames6u = {
        "udp6_echo": frame6(17, udp6(40000, 7, bytes(range(33)))),
        "udp6_zero_sum": frame6(17, udp6(40000, 7, b"nosum", zero=True)),
        "udp6_len_long": frame6(17, udp6(1, 7, b"abcdef", length=300)),
        "udp6_trailing": frame6(17, udp6(1, 7, b"ab") + b"\xee" * 9),
        "icmp6_ptb_tcp": frame6(58, icmp6_err(2, 0, 1280)),
        "icmp6_unreach_udp": frame6(58, icmp6_err(1, 4, 0, qnh=17)),
        "icmp6_time_exceeded_short": frame6(58, icmp6_err(3, 0, 0, quote_l4=4)),
    }
    for i, (name, fr) in enumerate(sorted(frames6u.items()), start=len(frames) + len(frames6)):
        ctl = bytes([[0, 0, 6, 13, 47][i % 5], i % 3, 0, 0, 0, 1 + i])
        write(d, name, ctl + fr)


# ---- fuzz_frame: [variant] then [ctl][dt][len:2][frame] ----
def rec(ctl, dt, fr):
    return bytes([ctl, dt]) + struct.pack("!H", len(fr)) + fr


FIX, MACS, AIM, ADDRS = 1, 2, 4, 8


def aim(k):
    return FIX | MACS | AIM | ADDRS | (k << 4)


def frame_seeds(d):
    s = {}
    ping = eth(0x0800) + ipv4(1, icmp_echo(7, 1, b"ping" * 8))
    s["arp_ping"] = bytes([0]) + rec(0, 0, eth(0x0806, BCAST) + arp(1)) + rec(0, 5, ping)
    s["ping_chained"] = bytes([1]) + rec(0, 0, ping) + rec(0, 200, ping)
    s["ping_ipopts_frags"] = bytes([4]) + rec(0, 0, eth(0x0800) + ipv4(1, icmp_echo(1, 2, b"q" * 20),
                                                                   opts=bytes([7, 7, 4, 0, 0, 0, 0, 0]))) + \
        rec(0, 0, eth(0x0800) + ipv4(1, icmp_echo(1, 3, b"r" * 24), frag=0x2000, ident=9)) + \
        rec(0, 0, eth(0x0800) + ipv4(1, b"s" * 8, frag=0x0004, ident=9))
    # A handshake the input opens: SYN, then ACK/data/FIN aimed at the newest flow.
    hs = rec(FIX | MACS | ADDRS, 0, frame_tcp(50000, 80, 7000, 0, SYN, opts=ALLOPTS)) + \
        rec(aim(15), 1, frame_tcp(0, 0, 0, 0, ACK, opts=TS(101, 0))) + \
        rec(aim(15), 1, frame_tcp(0, 0, 0, 0, ACK | PSH, opts=TS(102, 0), payload=b"GET / HTTP/1.0\r\n\r\n")) + \
        rec(aim(15), 130, frame_tcp(0, 0, 0, 0, ACK, opts=TS(103, 0))) + \
        rec(aim(15), 131, frame_tcp(0, 0, 0, 0, ACK | FIN, opts=TS(104, 0)))
    for v in (0, 1, 8, 16):
        s["handshake_v%d" % v] = bytes([v]) + hs
    # Every fixture flow: data, an in-window RST, an in-window SYN, a FIN.
    for k in range(15):
        s["flow%02d" % k] = bytes([2]) + \
            rec(aim(k), 0, frame_tcp(0, 0, 0, 0, ACK | PSH, payload=b"hello")) + \
            rec(aim(k), 140, frame_tcp(0, 0, 0, 0, ACK | FIN)) + \
            rec(aim(k), 0, frame_tcp(0, 0, 10, 0, SYN)) + \
            rec(aim(k), 250, frame_tcp(0, 0, 0, 0, RST))
    s["tcp_lies"] = bytes([0]) + rec(FIX | MACS | ADDRS, 0, frame_tcp(50001, 80, 1, 0, SYN, doff=15)) + \
        rec(FIX, 0, eth(0x0800) + ipv4(6, tcp(50002, 80, 1, 0, SYN), ihl=15)) + \
        rec(0, 0, eth(0x0800) + ipv4(6, tcp(50003, 80, 1, 0, SYN), total=1000))
    # ICMP errors quoting each flow's segments (the quote aimed, seq an
    # offset from the stack's next): fragmentation needed inside the
    # flight, with MTU 0 and below the floor, outside it; unreachable (hard
    # in SYN-SENT), time exceeded; a short quote, a quoted UDP packet.
    def icmp_err(typ, code, mtu, seq, quote_tcp=8, qproto=6):
        q = ipv4(qproto, b"\0" * 20, src=STACK_IP, dst=PEER_IP)[:20]
        t = struct.pack("!HHI", 0, 0, seq & 0xFFFFFFFF)[:quote_tcp]
        h = struct.pack("!BBHHH", typ, code, 0, 0, mtu) + q + t
        h = h[:2] + struct.pack("!H", csum(h)) + h[4:]
        return eth(0x0800) + ipv4(1, h, src=bytes([198, 18, 0, 9]))
    for k in range(15):
        s["icmp_err_flow%02d" % k] = bytes([2]) + \
            rec(aim(k), 0, icmp_err(3, 4, 1280, -1)) + \
            rec(aim(k), 0, icmp_err(3, 4, 0, -1)) + \
            rec(aim(k), 0, icmp_err(3, 4, 100, -1)) + \
            rec(aim(k), 0, icmp_err(3, 4, 576, 100000)) + \
            rec(aim(k), 5, icmp_err(11, 0, 0, -1)) + \
            rec(aim(k), 5, icmp_err(3, 1, 0, -1)) + \
            rec(aim(k), 200, icmp_err(3, 3, 0, -1)) + \
            rec(aim(k), 250, frame_tcp(0, 0, 0, 0, ACK | PSH, payload=b"after"))
    s["icmp_err_malformed"] = bytes([0]) + \
        rec(aim(2), 0, icmp_err(3, 4, 1280, -1, quote_tcp=4)) + \
        rec(aim(2), 0, icmp_err(3, 4, 1280, -1, qproto=17)) + \
        rec(aim(13), 0, icmp_err(3, 3, 0, -1)[:-10]) + \
        rec(FIX | MACS | ADDRS, 0, icmp_err(3, 4, 1280, 5)) + \
        rec(aim(2), 0, icmp_err(12, 0, 0, -1))
    # UDP: echoes (odd, even, empty, the largest), an unbound port (ICMP
    # port unreachable, then its rate limit), and every malformed kind.
    s["udp_echo"] = bytes([0]) + b"".join(rec(FIX, i % 3, frame_udp(40000 + i, 7, bytes(k % 251 for k in range(n))))
                                          for i, n in enumerate((0, 1, 64, 333, 1472)))
    s["udp_echo_chained"] = bytes([1]) + rec(FIX, 0, frame_udp(40000, 7, b"c" * 900)) + \
        rec(FIX, 5, frame_udp(40001, 7, b"d" * 1200))
    s["udp_unbound_burst"] = bytes([0]) + b"".join(rec(FIX, 0, frame_udp(30000 + i, 9, b"x" * 20))
                                                   for i in range(60)) + rec(FIX, 250, frame_udp(1, 9, b"later"))
    s["udp_malformed"] = bytes([4]) + rec(0, 0, frame_udp(1, 7, b"badsum", good=False)) + \
        rec(0, 0, frame_udp(1, 7, b"nosum", zero=True)) + \
        rec(0, 0, frame_udp(1, 7, b"abcdef", length=5)) + \
        rec(0, 0, frame_udp(1, 7, b"abcdef", length=600)) + \
        rec(0, 0, eth(0x0800) + ipv4(17, udp(1, 7, b"ab") + b"\xee" * 9)) + \
        rec(0, 0, eth(0x0800) + ipv4(17, b"\0" * 5)) + \
        rec(0, 0, eth(0x0800) + ipv4(17, udp(1, 7, b"frag" * 8), frag=0x2000, ident=5)) + \
        rec(0, 0, eth(0x0800, BCAST) + ipv4(17, udp(1, 9, b"to all"))) + \
        rec(0, 0, frame_udp(0, 7, b"port zero"))
    # IPv6: echo to the global and the link-local address (the reply waits
    # on Neighbour Discovery, which the peer answers in the next record),
    # solicitations for our addresses, DAD, advertisements, and the ND
    # validation and extension-header paths that drop.
    e = lambda seq, src=PEER_IP6, dst=STACK_IP6: echo6(0x66, seq, bytes(range(40)), src, dst)
    ns_g = frame6(58, nd6(135, STACK_IP6, PEER_MAC), dst=snm(STACK_IP6), hop=255)
    ns_ll = frame6(58, nd6(135, STACK_LL6, PEER_MAC, src=PEER_LL6), src=PEER_LL6, dst=snm(STACK_LL6), hop=255)
    na_peer = frame6(58, nd6(136, PEER_IP6, PEER_MAC, 0x60, dst=STACK_IP6), hop=255)
    s["ipv6_echo_nd"] = bytes([0]) + rec(0, 0, frame6(58, e(1))) + rec(0, 1, na_peer) + \
        rec(0, 2, frame6(58, e(2))) + rec(0, 0, ns_g) + rec(0, 0, ns_ll) + \
        rec(0, 0, frame6(58, e(3, PEER_LL6, STACK_LL6), src=PEER_LL6, dst=STACK_LL6)) + \
        rec(0, 250, frame6(58, e(4)))
    s["ipv6_nd_invalid"] = bytes([1]) + \
        rec(0, 0, frame6(58, nd6(135, STACK_IP6, PEER_MAC), dst=snm(STACK_IP6), hop=254)) + \
        rec(0, 0, frame6(58, nd6(135, STACK_IP6, PEER_MAC, src=UNSPEC), src=UNSPEC, dst=snm(STACK_IP6), hop=255)) + \
        rec(0, 0, frame6(58, nd6(135, STACK_IP6, None, src=UNSPEC), src=UNSPEC, dst=snm(STACK_IP6), hop=255)) + \
        rec(0, 0, frame6(58, nd6(135, ALL_NODES, PEER_MAC), dst=snm(STACK_IP6), hop=255)) + \
        rec(0, 0, frame6(58, nd6(135, STACK_IP6, PEER_MAC, code=1), dst=snm(STACK_IP6), hop=255)) + \
        rec(0, 0, frame6(58, nd6(136, STACK_IP6, BCAST, 0x20, dst=ALL_NODES), dst=ALL_NODES, hop=255)) + \
        rec(0, 0, frame6(58, nd6(136, PEER_IP6, PEER_MAC, 0x60, dst=ALL_NODES), dst=ALL_NODES, hop=255)) + \
        rec(FIX, 0, frame6(58, nd6(135, STACK_IP6, PEER_MAC)[:24] + bytes([1, 0, 0, 0, 0, 0, 0, 0]),
                           dst=snm(STACK_IP6), hop=255))
    s["ipv6_ext_chains"] = bytes([0]) + \
        rec(0, 0, frame6(58, e(5), ext=ext_opts(60) + ext_opts(58, 2), first=0)) + \
        rec(0, 0, frame6(58, e(6), ext=b"".join(ext_opts(60 if i < 8 else 58) for i in range(9)), first=60)) + \
        rec(0, 0, frame6(58, e(7), ext=ext_opts(60, 62) + ext_opts(58, 0), first=60)) + \
        rec(0, 0, frame6(58, e(8), ext=ext_opts(58, opt=(0x85, b"\0\0")), first=60)) + \
        rec(0, 0, frame6(58, e(9), ext=bytes([58, 0, 0, 1, 0, 0, 0, 3]), first=44)) + \
        rec(0, 0, frame6(58, e(10), ext=bytes([58, 0, 0, 0, 0, 0, 0, 3]), first=44)) + \
        rec(0, 0, frame6(58, e(11), ext=bytes([58, 0, 4, 2]) + bytes(4), first=43)) + \
        rec(0, 0, frame6(6, tcp(50000, 80, 1, 0, SYN))) + \
        rec(ADDRS | FIX, 0, frame6(58, e(12)))
    # UDP over IPv6: the peer solicits (the stack learns its MAC), then
    # echoes (odd, even, empty, the largest, chained in variant 1), the
    # link-local address; an unbound port past the rate limit (ICMPv6 port
    # unreachable); every drop: a zero, a bad sum, short, a length past the
    # payload, a group destination, an unspecified source.
    s["udp6_echo"] = bytes([0]) + rec(0, 0, ns_g) + b"".join(
        rec(FIX, i % 3, frame6(17, udp6(40000 + i, 7, bytes(k % 251 for k in range(n)))))
        for i, n in enumerate((0, 1, 64, 333, 1452))) + rec(0, 0, ns_ll) + \
        rec(FIX, 1, frame6(17, udp6(40009, 7, b"ll", src=PEER_LL6, dst=STACK_LL6), src=PEER_LL6, dst=STACK_LL6))
    s["udp6_echo_chained"] = bytes([1]) + rec(0, 0, ns_g) + rec(FIX, 0, frame6(17, udp6(40000, 7, b"c" * 900))) + \
        rec(FIX, 5, frame6(17, udp6(40001, 7, b"d" * 1200)))
    s["udp6_unbound_burst"] = bytes([0]) + rec(0, 0, ns_g) + \
        b"".join(rec(FIX, 0, frame6(17, udp6(30000 + i, 9, b"x" * 20))) for i in range(60)) + \
        rec(FIX, 0, frame6(17, udp6(30100, 9, b"y" * 1400))) + rec(FIX, 250, frame6(17, udp6(1, 9, b"later")))
    s["udp6_malformed"] = bytes([4]) + rec(0, 0, ns_g) + \
        rec(0, 0, frame6(17, udp6(1, 7, b"nosum", zero=True))) + \
        rec(0, 0, frame6(17, udp6(1, 7, b"badsum", good=False))) + \
        rec(0, 0, frame6(17, b"\0" * 5)) + \
        rec(0, 0, frame6(17, udp6(1, 7, b"abcdef", length=600))) + \
        rec(FIX, 0, frame6(17, udp6(1, 9, b"to all", dst=ALL_NODES), dst=ALL_NODES)) + \
        rec(FIX, 0, frame6(17, udp6(1, 9, b"from ::", src=UNSPEC), src=UNSPEC)) + \
        rec(FIX, 0, frame6(17, udp6(0, 7, b"port zero")))
    # ICMPv6 errors quoting our TCP segments (no connection over IPv6:
    # counted at TCP's seam), and the quotes that are dropped.
    s["icmp6_errors"] = bytes([2]) + \
        rec(FIX, 0, frame6(58, icmp6_err(2, 0, 1280))) + \
        rec(FIX, 0, frame6(58, icmp6_err(2, 0, 68))) + \
        rec(FIX, 0, frame6(58, icmp6_err(2, 0, 0x10000))) + \
        rec(FIX, 5, frame6(58, icmp6_err(1, 4, 0))) + \
        rec(FIX, 5, frame6(58, icmp6_err(3, 0, 0, qsrc=STACK_LL6))) + \
        rec(FIX, 0, frame6(58, icmp6_err(2, 0, 1280, qsrc=PEER_IP6))) + \
        rec(FIX, 0, frame6(58, icmp6_err(1, 4, 0, qnh=17))) + \
        rec(FIX, 0, frame6(58, icmp6_err(3, 0, 0, quote_l4=4))) + \
        rec(FIX, 0, frame6(58, icmp6_err(4, 0, 0))) + \
        rec(FIX, 250, frame6(58, icmp6_err(2, 0, 1400)))
    for name, data in s.items():
        write(d, name, data)


# ---- fuzz_tcp_opts: [variant] then records (see fuzz_tcp_opts.c) ----
SEQ_REL, SEQ_K, SEQ_ABS, SEQ_ISS = 0, 1, 2, 3
BADSUM, RELOPT, BIGPAY = 16, 32, 64


def seg(flow, flags, seqd=0, ackd=0, wnd=65535, urg=0, mode=RELOPT, doff=0, opts=b"", plen=0, dt=0):
    return struct.pack("!BBhhHHBBB", flow, flags, seqd, ackd, wnd, urg, mode, doff, len(opts)) + opts + \
        bytes([plen, dt])


def tcp_opts_seeds(d):
    s = {}
    ts = bytes([1, 1, 8, 10]) + b"\0" * 8  # relative TS: the flow's own values
    for k in range(15):
        s["flow%02d" % k] = bytes([0]) + seg(k, ACK | PSH, plen=10) + \
            seg(k, ACK, opts=SACK((-3000, -2000), (-1000, -500))) + \
            seg(k, ACK | URG, urg=3, plen=5, dt=10) + \
            seg(k, ACK | FIN, dt=140) + seg(k, SYN, seqd=5) + seg(k, RST, seqd=1, dt=250)
    # The fuzzer's own connection: odd SYN options, then data and FIN.
    s["new_syn_odd"] = bytes([0]) + \
        seg(0x80, SYN, mode=RELOPT | SEQ_ISS, opts=MSS(0) + WS(15) + SACKOK + ts) + \
        seg(0x80, ACK, opts=ts) + seg(0x80, ACK | PSH, plen=20) + seg(0x80, ACK, dt=130) + seg(0x80, ACK | FIN)
    s["new_syn_bare"] = bytes([16]) + seg(0x81, SYN, mode=SEQ_ISS) + seg(0x81, ACK, mode=0) + \
        seg(0x81, ACK | PSH, mode=BIGPAY, plen=40) + seg(0x81, FIN | ACK, mode=0, dt=200)
    bad = [bytes([2, 0]), bytes([2, 3, 0]), bytes([3, 1]), bytes([8, 11]) + b"\0" * 9, bytes([5, 3, 0]),
           bytes([5, 10]) + b"\0" * 8, bytes([4, 3, 0]), bytes([1, 1, 1, 9, 40]), bytes([254, 1])]
    s["bad_lengths"] = bytes([0]) + b"".join(seg(0x82 + i % 2, SYN if i % 2 else ACK, opts=o)
                                           for i, o in enumerate(bad))
    s["doff_lies"] = bytes([1]) + seg(1, ACK, doff=15, plen=8) + seg(1, ACK, doff=4, plen=8) + \
        seg(2, ACK, doff=1, opts=ALLOPTS)
    s["flags_all"] = bytes([8]) + b"".join(seg(f % 15, f) for f in (0, 0xFF, SYN | FIN, SYN | RST, RST | ACK,
                                                                    URG | ECE | CWR, FIN, PSH))
    s["window_zero_persist"] = bytes([0]) + seg(2, ACK, wnd=0, dt=200) + seg(2, ACK, wnd=0, dt=245) + \
        seg(2, ACK, wnd=1000)
    s["sack_outside"] = bytes([0]) + seg(2, ACK, opts=SACK((5000, 9000), (-90000, -80000), (100, 50))) + \
        seg(2, ACK, ackd=-500, opts=SACK((-4000, 4000))) + seg(2, ACK, mode=RELOPT | (SEQ_K << 2), ackd=3)
    # Duplicate ACKs with SACK blocks inside the flight: fast retransmit,
    # recovery, partial and full ACKs (flow 2 has data in flight).
    dup = seg(2, ACK, mode=RELOPT | (SEQ_ISS << 2), opts=SACK((-200, -100)))
    s["dupack_sack_recovery"] = bytes([0]) + dup * 3 + \
        seg(2, ACK, mode=RELOPT | (SEQ_ISS << 2), opts=SACK((-200, -50)), dt=5) + \
        seg(2, ACK, mode=RELOPT | (SEQ_ISS << 2), ackd=52, opts=SACK((-200, -50))) + seg(2, ACK, dt=100)
    s["dupack_nosack"] = bytes([16]) + seg(2, ACK, mode=SEQ_ISS << 2) * 4 + seg(2, ACK, mode=SEQ_ISS << 2, ackd=30)
    # More half-open connections than the backlog (16): SYN cookies, then a
    # cookie completed by the last one's ACK.
    s["syn_cookies"] = bytes([0]) + b"".join(seg(0x80 + i, SYN, mode=RELOPT | SEQ_ISS, opts=ALLOPTS)
                                           for i in range(20)) + seg(0x80 + 19, ACK) + seg(0x80 + 19, ACK | PSH, plen=9)
    s["bad_csum"] = bytes([4]) + seg(1, ACK | PSH, mode=BADSUM, plen=10) + seg(1, ACK | PSH, plen=10)
    for name, data in s.items():
        write(d, name, data)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    wire_seeds(os.path.join(root, "fuzz_wire"))
    frame_seeds(os.path.join(root, "fuzz_frame"))
    tcp_opts_seeds(os.path.join(root, "fuzz_tcp_opts"))


if __name__ == "__main__":
    main()
