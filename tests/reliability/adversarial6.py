#!/usr/bin/env python3
"""IPv6 adversarial cases (the reliability suite's stage v6): Scapy frames
on the client veth against a running minimal_ws that has an IPv6 address,
each case judged by what the server sends back and by its counters read
over DPDK telemetry before and after (a counter must move by exactly the
amount said, others by nothing). The attacker address (--atk6) is a
neighbour of the server: a thread answers the server's solicitations for
it with the veth's MAC, as a host on the link would.

Cases: extension-header chains within the parser's limits (answered) and
beyond them (9 headers; an option that asks to be discarded: dropped,
drop_ip6_ext_*); Neighbour Discovery with hop limit other than 255
(drop_nd_hop_limit) and from a source off the link (drop_nd_src), neither
answered nor changing the neighbour cache (the server's next answer still
goes to the real MAC; a control case shows an advertisement from the link
does move it); ICMPv6 packet too big against a live TCP connection quoting
a sequence number outside the window (icmp_err_bad_seq, segments stay
full size) and one in flight (tcp_pmtu_lowered, segments of 1280 - 60).
After each case the server must still answer an echo request.
Prints "PASS adversarial6: CASE" / "FAIL adversarial6: CASE: why"; exit 1
on any failure."""
import argparse
import hashlib
import os
import random
import socket
import sys
import threading
import time

from scapy.all import (ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS,  # noqa: E402
                       ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, ICMPv6PacketTooBig, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, TCP, Ether, HBHOptUnknown,
                       PadN, Raw, conf)

from adversarial import ACK, FIN, PSH, RST, SYN, Telemetry, reply_ok, seq_lt, u32

conf.verb = 0
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
ETH_IPV6 = b"\x86\xdd"
BOGUS_MAC = "02:00:00:00:be:ef"  # a MAC nobody on the link has
OFF_LINK = "2001:2:0:99::3"      # in 2001:2::/48, not on the server's /64


def snm(addr):
    """The solicited-node group of addr and its Ethernet address."""
    b = socket.inet_pton(socket.AF_INET6, addr)
    g = socket.inet_ntop(socket.AF_INET6, bytes.fromhex("ff02" + "00" * 9 + "01ff") + b[13:])
    return g, "33:33:ff:%02x:%02x:%02x" % (b[13], b[14], b[15])


class Link6:
    """Raw frames on one interface: sends bytes, reads the server's IPv6
    frames (whatever their Ethernet destination: a veth hands every frame
    to a packet socket, so an answer sent to a wrong MAC is seen too)."""

    def __init__(self, iface, mac, srv_mac, atk6, srv6):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.s.bind((iface, 0))
        self.mac, self.srv_mac, self.atk6, self.srv6 = mac, srv_mac, atk6, srv6
        self.srv6_b = socket.inet_pton(socket.AF_INET6, srv6)
        self.sent = 0

    def eth(self, dst=None):
        return Ether(src=self.mac, dst=dst or self.srv_mac)

    def ip(self, **kw):
        kw.setdefault("src", self.atk6)
        kw.setdefault("dst", self.srv6)
        return IPv6(**kw)

    def send(self, pkt):
        self.s.send(bytes(pkt))
        self.sent += 1

    def flush(self):
        self.s.setblocking(False)
        try:
            while True:
                self.s.recv(65536)
        except BlockingIOError:
            pass
        finally:
            self.s.setblocking(True)

    def recv(self, timeout):
        """Next IPv6 frame from one of the server's addresses, or None."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                data, addr = self.s.recvfrom(65536)
            except socket.timeout:
                return None
            if addr[2] == PACKET_OUTGOING or len(data) < 54 or data[12:14] != ETH_IPV6:
                continue
            if data[6:12] != bytes.fromhex(self.srv_mac.replace(":", "")):
                continue
            return Ether(data)

    def first(self, timeout, pred):
        """The first frame within timeout that pred takes, or None."""
        end = time.monotonic() + timeout
        while True:
            p = self.recv(max(0.0, end - time.monotonic()))
            if p is None or pred(p):
                return p

    def collect(self, timeout, pred=lambda p: True):
        out = []
        end = time.monotonic() + timeout
        while True:
            p = self.recv(max(0.0, end - time.monotonic()))
            if p is None:
                return out
            if pred(p):
                out.append(p)


class NdResponder(threading.Thread):
    """Answers the server's neighbour solicitations for our address with a
    solicited advertisement carrying the veth's MAC (the real peer)."""

    def __init__(self, iface, mac, addr):
        super().__init__(daemon=True)
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.bind((iface, 0))
        self.s.settimeout(0.2)
        self.mac, self.addr = mac, addr
        self.addr_b = socket.inet_pton(socket.AF_INET6, addr)
        self.stop = threading.Event()
        self.answered = 0

    def run(self):
        end = time.monotonic() + 900  # bounded whatever happens to the suite
        while not self.stop.is_set() and time.monotonic() < end:
            try:
                data, a = self.s.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            # IPv6, ICMPv6 right after the fixed header, type 135, hop
            # limit 255, our address as target
            if (a[2] == PACKET_OUTGOING or len(data) < 78 or data[12:14] != ETH_IPV6 or data[20] != 58 or
                    data[21] != 255 or data[54] != 135 or data[62:78] != self.addr_b):
                continue
            src = socket.inet_ntop(socket.AF_INET6, data[22:38])
            dst_mac = ":".join("%02x" % x for x in data[6:12])
            if src == "::":
                src, dst_mac = "ff02::1", "33:33:00:00:00:01"
            na = (Ether(src=self.mac, dst=dst_mac) / IPv6(src=self.addr, dst=src, hlim=255) /
                  ICMPv6ND_NA(tgt=self.addr, R=0, S=int(src != "ff02::1"), O=1) / ICMPv6NDOptDstLLAddr(lladdr=self.mac))
            try:
                self.s.send(bytes(na))
                self.answered += 1
            except OSError:
                return


class Conn6:
    """One TCP connection over IPv6 driven by hand from the attacker."""

    def __init__(self, link, dport, mss=1440, win=1440 * 40):
        self.l = link
        self.dport = dport
        self.sport = random.randint(20000, 60000)
        self.isn = random.getrandbits(32)
        self.snd_nxt = u32(self.isn + 1)
        self.rcv_nxt = None
        self.mss = mss
        self.win = win

    def mine(self, p):
        return TCP in p and p[TCP].sport == self.dport and p[TCP].dport == self.sport

    def pkt(self, flags=ACK, seq=None, ack=None, data=b""):
        t = TCP(sport=self.sport, dport=self.dport, flags=flags, seq=self.snd_nxt if seq is None else seq,
                ack=(self.rcv_nxt or 0) if ack is None else ack, window=self.win)
        p = self.l.eth() / self.l.ip() / t
        return p / Raw(data) if data else p

    def send(self, **kw):
        self.l.send(self.pkt(**kw))

    def expect(self, timeout=1.0, pred=lambda p: True):
        end = time.monotonic() + timeout
        while True:
            p = self.l.recv(max(0.0, end - time.monotonic()))
            if p is None:
                return None
            if self.mine(p) and pred(p):
                return p

    def open(self, timeout=2.0):
        self.l.send(self.l.eth() / self.l.ip() / TCP(sport=self.sport, dport=self.dport, flags="S", seq=self.isn,
                                                      window=self.win, options=[("MSS", self.mss)]))
        sa = self.expect(timeout, lambda p: p[TCP].flags & (SYN | ACK) == (SYN | ACK))
        if sa is None:
            return None
        self.rcv_nxt = u32(sa[TCP].seq + 1)
        self.send()
        return sa

    def rst(self):
        self.send(flags=RST, ack=0)

    def get(self, path, on_first=None, timeout=30.0):
        """Sends the request and receives the whole reply, ACKing each
        segment; on_first(self, seq) runs when the first data segment
        arrives, before it is acknowledged (SND.UNA is then its sequence
        number). -> (reply or None, why, [(seq, payload length)] in the
        order they arrived)."""
        req = b"GET %s HTTP/1.1\r\nHost: rel\r\nConnection: close\r\n\r\n" % path.encode()
        self.send(flags=PSH | ACK, data=req)
        self.snd_nxt = u32(self.snd_nxt + len(req))
        buf = bytearray()
        ooo = {}
        segs = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            p = self.expect(min(1.0, end - time.monotonic()))
            if p is None:
                continue
            t = p[TCP]
            if t.flags & RST:
                return None, "RST after %d bytes" % len(buf), segs
            data = bytes(t.payload) if t.payload else b""
            data = data[: max(0, p[IPv6].plen - t.dataofs * 4)]  # Ethernet padding is not data
            if data:
                segs.append((t.seq, len(data)))
                if len(segs) == 1 and on_first is not None:
                    on_first(self, t.seq)
                ooo[t.seq] = data
            while self.rcv_nxt in ooo:
                d = ooo.pop(self.rcv_nxt)
                buf += d
                self.rcv_nxt = u32(self.rcv_nxt + len(d))
            for k in [k for k in ooo if seq_lt(k, self.rcv_nxt)]:
                d = ooo.pop(k)
                tail = u32(k + len(d))
                if seq_lt(self.rcv_nxt, tail):
                    ooo[self.rcv_nxt] = d[(self.rcv_nxt - k) & 0xFFFFFFFF:]
            if t.flags & FIN and u32(t.seq + len(data)) == self.rcv_nxt:
                self.rcv_nxt = u32(self.rcv_nxt + 1)
                self.send(flags=FIN | ACK)
                self.snd_nxt = u32(self.snd_nxt + 1)
                return bytes(buf), "ok", segs
            self.send()
        return None, "timeout after %d bytes" % len(buf), segs


class Suite6:
    def __init__(self, a):
        self.a = a
        mac = open("/sys/class/net/%s/address" % a.iface).read().strip()
        self.mac = mac
        self.l = Link6(a.iface, mac, a.srv_mac, a.atk6, a.srv6)
        self.tel = Telemetry(a.tel_prefix)
        self.nd = NdResponder(a.iface, mac, a.atk6)
        self.fails = 0
        self.cases = 0
        self.digest = {}
        for rel in ("mid.bin",):
            with open(os.path.join(a.root, rel), "rb") as f:
                self.digest["/" + rel] = hashlib.sha256(f.read()).hexdigest()

    # ---- counters ----
    def counters(self):
        return self.tel.ask("/usnet/stats")

    def moved(self, before, want, watch=(), bound=2.0):
        """Waits (at most bound s) until every counter of want has moved
        by its amount, lets 0.2 s more pass, then checks that each moved by
        exactly that and each of watch not at all. -> None or why."""
        end = time.monotonic() + bound
        while True:
            now = self.counters()
            if all(now[k] - before[k] >= n for k, n in want.items()) or time.monotonic() >= end:
                break
            time.sleep(0.05)
        time.sleep(0.2)
        now = self.counters()
        bad = ["%s moved by %d, want %d" % (k, now[k] - before[k], n) for k, n in want.items()
               if now[k] - before[k] != n]
        bad += ["%s moved by %d, want 0" % (k, now[k] - before[k]) for k in watch if now[k] != before[k]]
        return "; ".join(bad) or None

    # ---- helpers ----
    def echo(self, chain=None, ident=None, timeout=1.0):
        """Sends an echo request (behind the extension headers chain, a
        Scapy layer or None); -> the reply or None."""
        ident = ident if ident is not None else random.randint(1, 65535)
        payload = os.urandom(32)
        p = self.l.eth() / self.l.ip()
        if chain is not None:
            p = p / chain
        self.l.send(p / ICMPv6EchoRequest(id=ident, seq=7, data=payload))
        return self.l.first(timeout, lambda q: ICMPv6EchoReply in q and q[ICMPv6EchoReply].id == ident and
                            q[ICMPv6EchoReply].seq == 7 and bytes(q[ICMPv6EchoReply].data) == payload)

    def syn(self, chain=None, timeout=1.0):
        """A SYN (behind chain); -> (SYN-ACK or None, sport). A SYN-ACK is
        reset at once."""
        sport = random.randint(20000, 60000)
        isn = random.getrandbits(32)
        p = self.l.eth() / self.l.ip()
        if chain is not None:
            p = p / chain
        self.l.send(p / TCP(sport=sport, dport=self.a.port, flags="S", seq=isn, options=[("MSS", 1440)]))
        q = self.l.first(timeout, lambda q: TCP in q and q[TCP].dport == sport and
                         q[TCP].flags & (SYN | ACK) == (SYN | ACK) and q[TCP].ack == u32(isn + 1))
        if q is not None:
            self.l.send(self.l.eth() / self.l.ip() / TCP(sport=sport, dport=self.a.port, flags="R", seq=u32(isn + 1)))
        return q, sport

    def answers_to(self):
        """The Ethernet destination of the server's echo reply to us (where
        its neighbour cache says we are), or None."""
        r = self.echo()
        return r[Ether].dst if r is not None else None

    def case(self, name, fn):
        self.cases += 1
        self.l.flush()
        try:
            why = fn()
        except Exception as e:  # a broken case is a failure, not a crash
            why = "exception %r" % e
        bad = None
        for _ in range(3):
            if self.echo() is not None:
                break
        else:
            bad = "no echo reply after the case"
        if why is None and bad is None:
            print("PASS adversarial6: %s; then answers an echo request" % name, flush=True)
        else:
            self.fails += 1
            print("FAIL adversarial6: %s: %s" % (name, "; ".join(x for x in (why, bad) if x)), flush=True)

    # ---- extension headers ----
    @staticmethod
    def dst_opts(n):
        """n destination-options headers of PadN (8 bytes each)."""
        chain = IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0\0\0\0")])
        for _ in range(n - 1):
            chain = chain / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0\0\0\0")])
        return chain

    def chain_mixed(self):
        """Hop-by-hop, destination options, routing with no segments left,
        destination options: 4 headers, every kind the host walks."""
        return (IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0\0\0\0")]) /
                IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0\0\0\0")]) / IPv6ExtHdrRouting() /
                IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0\0\0\0")]))

    def chain8(self):
        return IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0\0\0\0")]) / self.dst_opts(7)

    def chain9(self):
        return IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0\0\0\0")]) / self.dst_opts(8)

    @staticmethod
    def discard_opt(hdr):
        """hdr (hop-by-hop or destination options) holding option type
        0x42: unknown, high bits 01, "discard the packet" (RFC 8200 4.2)."""
        return hdr(options=[HBHOptUnknown(otype=0x42, optdata=b"\0\0")])

    EXT = ("drop_ip6_ext_limit", "drop_ip6_ext_unknown", "drop_ip6_ext_malformed")

    def ext_answered(self, what, chain_fn):
        def fn():
            before = self.counters()
            if what == "echo":
                ok = self.echo(chain_fn()) is not None
            else:
                ok = self.syn(chain_fn())[0] is not None
            if not ok:
                return "no answer"
            return self.moved(before, {}, watch=self.EXT)
        return fn

    def ext_dropped(self, what, chain_fn, counter):
        def fn():
            before = self.counters()
            if what == "echo":
                got = self.echo(chain_fn(), timeout=0.5)
            else:
                got = self.syn(chain_fn(), timeout=0.5)[0]
            if got is not None:
                return "answered: %s" % got.summary()
            return self.moved(before, {counter: 1}, watch=[c for c in self.EXT if c != counter])
        return fn

    # ---- Neighbour Discovery ----
    def ns(self, src, hlim, lla=None):
        g, gmac = snm(self.a.srv6)
        p = (self.l.eth(gmac) / IPv6(src=src, dst=g, hlim=hlim) / ICMPv6ND_NS(tgt=self.a.srv6) /
             ICMPv6NDOptSrcLLAddr(lladdr=lla or self.mac))
        return p

    def na_for_us(self, src, hlim, lla):
        """An advertisement claiming our address (the real peer's) is at
        lla, Override set."""
        return (self.l.eth() / IPv6(src=src, dst=self.a.srv6, hlim=hlim) /
                ICMPv6ND_NA(tgt=self.a.atk6, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=lla))

    def na_seen(self, timeout=0.5):
        return self.l.collect(timeout, lambda q: ICMPv6ND_NA in q and q[ICMPv6ND_NA].tgt == self.a.srv6)

    def nd_ns_answered(self):
        before = self.counters()
        self.l.send(self.ns(self.a.atk6, 255))
        if not self.na_seen():
            return "a valid solicitation (hop limit 255) was not answered"
        return self.moved(before, {"nd_ns_rx": 1}, watch=("drop_nd_hop_limit", "drop_nd_src", "drop_nd_invalid"))

    def nd_ns_hop(self):
        before = self.counters()
        self.l.send(self.ns(self.a.atk6, 254, lla=BOGUS_MAC))
        got = self.na_seen()
        if got:
            return "answered: %s" % got[0].summary()
        why = self.moved(before, {"drop_nd_hop_limit": 1}, watch=("nd_ns_rx", "nd_learned"))
        dst = self.answers_to()
        if dst != self.mac:
            why = "; ".join(x for x in (why, "echo reply sent to %s, not %s" % (dst, self.mac)) if x)
        return why

    def nd_ns_offlink(self):
        before = self.counters()
        self.l.send(self.ns(OFF_LINK, 255, lla=BOGUS_MAC))
        got = self.na_seen()
        if got:
            return "answered: %s" % got[0].summary()
        return self.moved(before, {"drop_nd_src": 1}, watch=("nd_ns_rx", "nd_learned"))

    def nd_na_spoof(self, src, hlim, counter):
        def fn():
            if self.answers_to() != self.mac:
                return "before the case the server did not answer to %s" % self.mac
            before = self.counters()
            self.l.send(self.na_for_us(src, hlim, BOGUS_MAC))
            why = self.moved(before, {counter: 1}, watch=("nd_learned",))
            dst = self.answers_to()
            if dst != self.mac:
                why = "; ".join(x for x in (why, "the cache moved: echo reply sent to %s" % dst) if x)
            return why
        return fn

    def nd_na_control(self):
        """An advertisement from the link (our address, hop limit 255,
        Override) does move the entry: the check the spoofing cases make
        sees a move. The real MAC is put back the same way."""
        before = self.counters()
        self.l.send(self.na_for_us(self.a.atk6, 255, BOGUS_MAC))
        why = self.moved(before, {"nd_na_rx": 1}, watch=("drop_nd_src", "drop_nd_hop_limit", "drop_nd_invalid"))
        dst = self.answers_to()
        self.l.send(self.na_for_us(self.a.atk6, 255, self.mac))
        time.sleep(0.1)
        if dst != BOGUS_MAC:
            return "; ".join(x for x in (why, "echo reply sent to %s, not to the advertised %s" % (dst, BOGUS_MAC))
                             if x)
        if self.answers_to() != self.mac:
            return "the entry did not come back to %s" % self.mac
        return why

    # ---- packet too big against a live connection ----
    def ptb(self, c, seq, mtu=1280):
        """ICMPv6 packet too big quoting our segment seq (the server's
        first 1500-byte packet as the router would have dropped it)."""
        inner = (IPv6(src=self.a.srv6, dst=self.a.atk6, plen=1460) /
                 TCP(sport=self.a.port, dport=c.sport, flags="A", seq=seq, ack=c.snd_nxt))
        quoted = bytes(inner)[:60] + b"\0" * 1172  # as much of it as fits in 1280
        return self.l.eth() / self.l.ip() / ICMPv6PacketTooBig(mtu=mtu) / Raw(quoted)

    def ptb_case(self, in_window):
        def fn():
            c = Conn6(self.l, self.a.port, mss=1440)
            if c.open() is None:
                return "no SYN-ACK"
            state = {}

            def on_first(conn, seq):
                state["before"] = self.counters()
                # SND.UNA is seq (nothing acknowledged yet): seq itself is
                # in flight, seq - 100000 long acknowledged (outside).
                self.l.send(self.ptb(conn, seq if in_window else u32(seq - 100000)))
                want = {"icmp6_pkt_too_big_rx": 1}
                want["tcp_pmtu_lowered" if in_window else "icmp_err_bad_seq"] = 1
                state["why"] = self.moved(state["before"], want,
                                          watch=("icmp_err_bad_seq",) if in_window else ("tcp_pmtu_lowered",))
                state["at"] = seq

            reply, why, segs = c.get("/mid.bin", on_first=on_first)
            if not reply_ok(reply, self.digest["/mid.bin"]):
                return "the page did not arrive whole (%s)" % why
            if "why" not in state:
                return "no data segment"
            if state["why"]:
                return state["why"]
            sizes = {}
            for _, n in segs:
                sizes[n] = sizes.get(n, 0) + 1
            if max(n for _, n in segs[:1 + 10]) != 1440:
                return "no 1440-byte segment before the message (MSS 1440): sizes %s" % sizes
            if in_window:
                # The server goes back to SND.UNA and cuts at 1220: a
                # 1220-byte segment at the first segment's sequence number,
                # and none larger after it.
                try:
                    k = segs.index((state["at"], 1220))
                except ValueError:
                    return "no 1220-byte resend of the segment quoted: sizes %s" % sizes
                bigger = [n for _, n in segs[k:] if n > 1220]
                if bigger:
                    return "%d segments larger than 1220 after the resend (e.g. %d)" % (len(bigger), bigger[0])
                full = sum(1 for _, n in segs[k:] if n == 1220)
                if full < 100:
                    return "only %d segments of 1220 bytes after the message: sizes %s" % (full, sizes)
                return None
            # Outside the window: nothing changes; the segments after it
            # are cut at 1440 as before (the page is 300 kB: 208 of them).
            after = [n for _, n in segs[1:]]
            if max(after) != 1440 or after.count(1440) < 100:
                return "after the message: largest segment %d, %d of 1440 bytes: sizes %s" % (
                    max(after), after.count(1440), sizes)
            return None
        return fn

    def run(self):
        self.nd.start()
        try:
            return self._run()
        finally:
            self.nd.stop.set()
            self.nd.join(2)

    def _run(self):
        # The server's address is tentative for a second after start
        # (duplicate address detection): wait for it (bounded, 10 s).
        end = time.monotonic() + 10
        while self.echo(timeout=0.5) is None:
            if time.monotonic() >= end:
                print("FAIL adversarial6: the server never answered an echo request to %s" % self.a.srv6, flush=True)
                return 1
        # Extension headers: RFC 8200 4; the parser takes at most 8
        # headers, and an unknown option whose type's high bits are 01
        # asks for the packet to be discarded.
        self.case("V6 echo request behind hop-by-hop, dst-opts, routing (0 left), dst-opts: answered, no ext drop",
                  self.ext_answered("echo", self.chain_mixed))
        self.case("V6 echo request behind 8 extension headers (the limit): answered",
                  self.ext_answered("echo", self.chain8))
        self.case("V6 TCP SYN behind hop-by-hop, dst-opts, routing (0 left), dst-opts: SYN-ACK",
                  self.ext_answered("syn", self.chain_mixed))
        self.case("V6 TCP SYN behind 8 extension headers (the limit): SYN-ACK", self.ext_answered("syn", self.chain8))
        self.case("V6 echo request behind 9 extension headers: no answer, drop_ip6_ext_limit +1",
                  self.ext_dropped("echo", self.chain9, "drop_ip6_ext_limit"))
        self.case("V6 TCP SYN behind 9 extension headers: no SYN-ACK, drop_ip6_ext_limit +1",
                  self.ext_dropped("syn", self.chain9, "drop_ip6_ext_limit"))
        self.case("V6 echo request with dst-opts option 0x42 (unknown, discard): no answer, drop_ip6_ext_unknown +1",
                  self.ext_dropped("echo", lambda: self.discard_opt(IPv6ExtHdrDestOpt), "drop_ip6_ext_unknown"))
        self.case("V6 TCP SYN with hop-by-hop option 0x42 (unknown, discard): no SYN-ACK, drop_ip6_ext_unknown +1",
                  self.ext_dropped("syn", lambda: self.discard_opt(IPv6ExtHdrHopByHop), "drop_ip6_ext_unknown"))
        # Neighbour Discovery (RFC 4861 7.1): hop limit 255, a source on
        # the link.
        self.case("V6 ND solicitation, hop limit 255, from the link: answered, nd_ns_rx +1", self.nd_ns_answered)
        self.case("V6 ND solicitation, hop limit 254, another MAC: no answer, drop_nd_hop_limit +1, cache unchanged",
                  self.nd_ns_hop)
        self.case("V6 ND solicitation from an off-link source %s: no answer, drop_nd_src +1" % OFF_LINK,
                  self.nd_ns_offlink)
        self.case("V6 ND advertisement, hop limit 64, our address at another MAC: drop_nd_hop_limit +1, cache unchanged",
                  self.nd_na_spoof(self.a.atk6, 64, "drop_nd_hop_limit"))
        self.case("V6 ND advertisement from off-link %s, our address at another MAC: drop_nd_src +1, cache unchanged"
                  % OFF_LINK, self.nd_na_spoof(OFF_LINK, 255, "drop_nd_src"))
        self.case("V6 ND control: an advertisement from the link with Override moves the entry (then put back)",
                  self.nd_na_control)
        # Packet too big against a live connection (RFC 5927 4.1, RFC
        # 8201): outside the window first (it leaves the path MTU cache
        # alone), then in flight (which lowers it for this peer).
        self.case("V6 packet too big quoting a sequence number outside the window: icmp_err_bad_seq +1, "
                  "segments stay 1440", self.ptb_case(False))
        self.case("V6 packet too big (1280) quoting a segment in flight: tcp_pmtu_lowered +1, segments of 1220",
                  self.ptb_case(True))
        print("# adversarial6: %d cases, %d frames sent, %d neighbour solicitations answered, %d failed" %
              (self.cases, self.l.sent, self.nd.answered, self.fails), flush=True)
        return self.fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--srv6", required=True)
    ap.add_argument("--srv-mac", required=True)
    ap.add_argument("--atk6", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--root", required=True)
    ap.add_argument("--tel-prefix", required=True, help="the server's DPDK file prefix (telemetry)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    a = ap.parse_args()
    random.seed(a.seed)
    s = Suite6(a)
    if a.only:
        orig = s.case
        s.case = lambda name, fn: orig(name, fn) if a.only.lower() in name.lower() else None
    return 1 if s.run() else 0


if __name__ == "__main__":
    sys.exit(main())
