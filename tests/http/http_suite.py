#!/usr/bin/env python3
"""HTTP suite for minimal_ws and bsd_ws (stdlib only): byte-identical pages,
HEAD, every error status, requests split into 1-byte segments, hostile input
that must never stop the server, dotfiles not served, keep-alive with request
bodies skipped or refused. Prints "PASS name" or "FAIL name: why" per case;
exits 1 if any failed.

Usage: http_suite.py --host ADDR --port N --root DIR [--keepalive] [--allow-dotfiles]
"""
import argparse
import hashlib
import http.client
import os
import random
import socket
import struct
import sys
import time
import urllib.parse

TIMEOUT = 10.0
failures = 0


def report(name, ok, why=""):
    global failures
    if ok:
        print("PASS " + name, flush=True)
    else:
        failures += 1
        print("FAIL %s: %s" % (name, why), flush=True)


def connect(a):
    s = socket.create_connection((a.host, a.port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_all(s, limit=64 << 20):
    """Reads to EOF. Returns (bytes, error string or None)."""
    chunks, n = [], 0
    try:
        while n < limit:
            b = s.recv(1 << 16)
            if not b:
                return b"".join(chunks), None
            chunks.append(b)
            n += len(b)
        return b"".join(chunks), "more than %d bytes" % limit
    except ConnectionResetError:
        return b"".join(chunks), "connection reset"
    except socket.timeout:
        return b"".join(chunks), "timed out"


def split_response(data):
    """(status, headers dict lowercased, body, header bytes) of one response
    at the start of data; body by Content-Length (None if incomplete)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None, {}, None, b""
    head = data[:end].decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    body = data[end + 4:end + 4 + n]
    if len(body) != n:
        body = None
    return status, hdrs, body, data[:end + 4]


def raw(a, req, shut=False):
    """Sends req on a new connection, reads to EOF: (data, error)."""
    s = connect(a)
    try:
        s.sendall(req)
        if shut:
            s.shutdown(socket.SHUT_WR)
        return read_all(s)
    finally:
        s.close()


def fetch(a, path):
    """GET path with Connection: close: (status, headers, body, error)."""
    req = ("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path).encode()
    data, err = raw(a, req)
    st, hdrs, body, _ = split_response(data)
    return st, hdrs, body, err


def quote(path):
    return urllib.parse.quote(path, safe="/")


def is_dotted(rel):
    """Does a component of the URL path begin with a dot?"""
    return any(part.startswith(".") for part in rel.split("/") if part)


def corpus(root, dotfiles):
    """The pages the server should serve: every file, dotfiles only if the
    server was started with --allow-dotfiles."""
    pages = {}
    for d, _, files in os.walk(root):
        for f in files:
            full = os.path.join(d, f)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            rel = "/" + os.path.relpath(full, root)
            if is_dotted(rel) and not dotfiles:
                continue
            with open(full, "rb") as fh:
                pages[rel] = fh.read()
    return pages


def server_alive(a, name):
    st, _, body, err = fetch(a, "/index.html")
    report(name + " then server still answers", st == 200 and body is not None,
           "status %s, error %s" % (st, err))


def test_pages(a, pages):
    bad = []
    for path, content in sorted(pages.items()):
        st, hdrs, body, err = fetch(a, quote(path))
        if st != 200 or body is None or hashlib.sha256(body).digest() != hashlib.sha256(content).digest():
            bad.append("%s (status %s, %s bytes, error %s)" % (path, st, None if body is None else len(body), err))
        elif hdrs.get("connection") != "close" and not a.keepalive:
            bad.append("%s: Connection %r" % (path, hdrs.get("connection")))
    report("every page byte-identical (%d pages)" % len(pages), not bad, "; ".join(bad[:5]))


def test_index(a, pages):
    for url, file in (("/", "/index.html"), ("/dir/", "/dir/index.html")):
        st, _, body, err = fetch(a, url)
        report("index mapping %s" % url, st == 200 and body == pages[file],
               "status %s, error %s" % (st, err))


def test_content_type(a):
    for path, want in (("/index.html", "text/html"), ("/style.css", "text/css"), ("/big.bin", "application/octet-stream")):
        st, hdrs, _, _ = fetch(a, path)
        report("content type %s" % path, st == 200 and hdrs.get("content-type") == want,
               "status %s, type %r" % (st, hdrs.get("content-type")))


def test_head(a, pages):
    data, err = raw(a, b"HEAD /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    st, hdrs, _, head = split_response(data)
    ok = (st == 200 and err is None and data == head and
          hdrs.get("content-length") == str(len(pages["/big.bin"])))
    report("HEAD sends the header only", ok, "status %s, %d bytes after header, error %s" %
           (st, len(data) - len(head), err))
    g, _ = raw(a, b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    report("HEAD header equals GET header", g.startswith(head) and len(head) > 0, "headers differ")


def test_errors(a):
    cases = [
        ("400 garbage request line", b"\x01\x02\x03 nonsense\r\n\r\n", 400),
        ("400 bad escape", b"GET /a%zz HTTP/1.1\r\n\r\n", 400),
        ("400 NUL in path", b"GET /a%00 HTTP/1.1\r\n\r\n", 400),
        ("400 traversal", b"GET /../../etc/passwd HTTP/1.1\r\n\r\n", 400),
        ("400 encoded traversal", b"GET /dir/%2e%2e/%2e%2e/x HTTP/1.1\r\n\r\n", 400),
        ("404 missing page", b"GET /no/such/page.html HTTP/1.1\r\n\r\n", 404),
        ("404 directory without slash", b"GET /dir HTTP/1.1\r\n\r\n", 404),
        ("405 POST", b"POST /index.html HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405),
        ("405 DELETE", b"DELETE / HTTP/1.1\r\n\r\n", 405),
        ("405 POST with a body", b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 405),
        ("411 Transfer-Encoding", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
        ("413 body over 64 KiB", b"GET / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 413),
        ("400 conflicting Content-Length", b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        ("400 Transfer-Encoding with Content-Length",
         b"GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("414 request line over 8 KiB", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
        ("431 header over 16 KiB", b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"b" * 17000 + b"\r\n\r\n", 431),
        ("505 HTTP/2.0", b"GET / HTTP/2.0\r\n\r\n", 505),
    ]
    for name, req, want in cases:
        data, err = raw(a, req)
        st, hdrs, body, _ = split_response(data)
        ok = st == want and body is not None and err is None
        if want == 405:
            ok = ok and hdrs.get("allow") == "GET, HEAD"
        report(name, ok, "status %s, error %s, %r" % (st, err, data[:60]))


def test_dotfiles_refused(a, root):
    """Files and directories whose name begins with a dot are not served
    (404, as if absent), however the path is spelt."""
    want = [p for p in ("/.env", "/.git/config", "/dir/.hidden.html")
            if os.path.isfile(os.path.join(root, p.lstrip("/")))]
    report("dotfiles: the corpus has some", len(want) == 3, "found %r" % want)
    for path in want + ["/%2eenv", "/dir/%2Ehidden.html", "/.git/"]:
        st, _, body, err = fetch(a, path)
        report("dotfiles: %s is 404" % path, st == 404 and err is None and b"SECRET" not in (body or b""),
               "status %s, error %s" % (st, err))


def test_dotfiles_allowed(a, pages):
    """With --allow-dotfiles they are pages like any other."""
    got = {p: fetch(a, quote(p)) for p in ("/.env", "/.git/config", "/dir/.hidden.html")}
    ok = all(p in pages and st == 200 and body == pages[p] for p, (st, _, body, _) in got.items())
    report("--allow-dotfiles serves dotfiles", ok,
           "; ".join("%s: %s" % (p, r[0]) for p, r in got.items()))


def test_one_byte_segments(a, pages):
    req = b"GET /dir/page1.html HTTP/1.1\r\nHost: test\r\nUser-Agent: suite\r\nConnection: close\r\n\r\n"
    s = connect(a)
    try:
        for i in range(len(req)):
            s.send(req[i:i + 1])
            time.sleep(0.003)
        data, err = read_all(s)
    finally:
        s.close()
    st, _, body, _ = split_response(data)
    report("request in 1-byte segments", st == 200 and body == pages["/dir/page1.html"] and err is None,
           "status %s, error %s" % (st, err))


def test_close_mode(a, pages):
    # Two pipelined requests in close mode: one answer, then a clean FIN
    # (no reset although the second request was never read by the app).
    two = b"GET /style.css HTTP/1.1\r\nHost: t\r\n\r\nGET /index.html HTTP/1.1\r\nHost: t\r\n\r\n"
    data, err = raw(a, two)
    st, hdrs, body, head = split_response(data)
    ok = (st == 200 and body == pages["/style.css"] and err is None and
          len(data) == len(head) + len(body) and hdrs.get("connection") == "close")
    report("close mode: one response, clean close, no reset", ok,
           "status %s, %d bytes, error %s" % (st, len(data), err))


def test_hostile(a):
    rnd = random.Random(1)
    binary = bytes(rnd.getrandbits(8) for _ in range(4096))
    cases = [
        ("binary garbage", binary, False),
        ("oversized line without end", b"GET /" + b"A" * (1 << 20), False),
        ("header flood", b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 20000, False),
        ("half request then close", b"GET /index.ht", True),
        ("request line only then close", b"GET /index.html HTTP/1.1\r\n", True),
        ("empty lines only", b"\r\n" * 64, False),
        ("TLS hello", bytes.fromhex("16030100a5010000a10303") + b"\x00" * 64, False),
    ]
    for name, payload, shut in cases:
        try:
            s = connect(a)
            try:
                s.sendall(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass
            if shut:
                s.shutdown(socket.SHUT_WR)
            read_all(s, limit=1 << 20)
            s.close()
        except OSError as e:
            report(name, False, "socket: %s" % e)
            continue
        server_alive(a, name)
    # connect and leave at once; connect and reset (SO_LINGER 0) mid-response
    s = connect(a)
    s.close()
    server_alive(a, "connect and close")
    s = connect(a)
    s.sendall(b"GET /big.bin HTTP/1.1\r\n\r\n")
    s.recv(1000)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    server_alive(a, "reset during a large response")
    # many idle connections open at once, then a normal fetch
    idle = [connect(a) for _ in range(50)]
    server_alive(a, "50 idle connections")
    for s in idle:
        s.close()


def test_keepalive(a, pages):
    conn = http.client.HTTPConnection(a.host, a.port, timeout=TIMEOUT)
    ok, why = True, ""
    try:
        for path in ("/index.html", "/style.css", "/dir/page1.html", "/missing", "/big.bin", "/"):
            conn.request("GET", quote(path))
            r = conn.getresponse()
            body = r.read()
            want = pages.get(path if path != "/" else "/index.html")
            if path == "/missing":
                if r.status != 404:
                    ok, why = False, "%s: status %s" % (path, r.status)
            elif r.status != 200 or body != want:
                ok, why = False, "%s: status %s" % (path, r.status)
            if r.getheader("Connection") != "keep-alive":
                ok, why = False, "%s: Connection %r" % (path, r.getheader("Connection"))
            if not ok:
                break
        conn.request("HEAD", "/big.bin")
        r = conn.getresponse()
        r.read()
        if r.status != 200 or r.getheader("Content-Length") != str(len(pages["/big.bin"])):
            ok, why = False, "HEAD status %s" % r.status
        conn.request("GET", "/style.css")
        r = conn.getresponse()
        if r.read() != pages["/style.css"]:
            ok, why = False, "GET after HEAD"
    except Exception as e:  # noqa: BLE001 - any failure is the case's failure
        ok, why = False, repr(e)
    finally:
        conn.close()
    report("keep-alive: several requests on one connection", ok, why)

    # pipelined: three requests in one send, answers in order
    reqs = b"".join(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % p.encode() for p in ("/style.css", "/index.html"))
    reqs += b"GET /dir/page1.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    data, err = raw(a, reqs)
    got = []
    rest = data
    for _ in range(3):
        st, _, body, head = split_response(rest)
        if st is None or body is None:
            break
        got.append((st, body))
        rest = rest[len(head) + len(body):]
    want = [(200, pages["/style.css"]), (200, pages["/index.html"]), (200, pages["/dir/page1.html"])]
    report("keep-alive: pipelined requests answered in order", got == want and rest == b"" and err is None,
           "%d answers, %d bytes left, error %s" % (len(got), len(rest), err))

    # HTTP/1.0 without keep-alive closes; Connection: close closes
    data, err = raw(a, b"GET /style.css HTTP/1.0\r\n\r\n")
    st, hdrs, body, _ = split_response(data)
    report("keep-alive: HTTP/1.0 defaults to close", st == 200 and hdrs.get("connection") == "close" and err is None,
           "status %s, Connection %r" % (st, hdrs.get("connection")))
    data, err = raw(a, b"GET /style.css HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", shut=True)
    st, hdrs, body, _ = split_response(data)
    report("keep-alive: HTTP/1.0 with Connection: keep-alive", st == 200 and hdrs.get("connection") == "keep-alive",
           "status %s, Connection %r" % (st, hdrs.get("connection")))
    # 404 keeps the connection, 400 ends it
    data, err = raw(a, b"GET /nope HTTP/1.1\r\n\r\nGET /style.css HTTP/1.1\r\nConnection: close\r\n\r\n")
    st, _, body, head = split_response(data)
    st2, _, body2, _ = split_response(data[len(head) + len(body or b""):])
    report("keep-alive: 404 keeps the connection", st == 404 and st2 == 200 and body2 == pages["/style.css"],
           "statuses %s %s" % (st, st2))
    data, err = raw(a, b"GET /a%zz HTTP/1.1\r\n\r\nGET /style.css HTTP/1.1\r\n\r\n")
    st, hdrs, body, head = split_response(data)
    report("keep-alive: 400 closes", st == 400 and hdrs.get("connection") == "close" and
           len(data) == len(head) + len(body or b""), "status %s, %d bytes" % (st, len(data)))


def test_keepalive_bodies(a, pages):
    """A request body is skipped exactly (Content-Length) or refused
    (Transfer-Encoding: 411, then close): never read as the next request."""
    smuggled = b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n"
    reqs = (b"GET /style.css HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(smuggled) + smuggled +
            b"GET /dir/page1.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    data, err = raw(a, reqs)
    got, rest = [], data
    for _ in range(3):
        st, _, body, head = split_response(rest)
        if st is None or body is None:
            break
        got.append((st, body))
        rest = rest[len(head) + len(body):]
    want = [(200, pages["/style.css"]), (200, pages["/dir/page1.html"])]
    report("keep-alive: a GET body is skipped, not parsed as a request", got == want and rest == b"" and err is None,
           "%d answers (%s), %d bytes left, error %s" % (len(got), [g[0] for g in got], len(rest), err))
    # the body in 1-byte segments: still one request
    s = connect(a)
    try:
        head = b"GET /style.css HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(smuggled)
        s.sendall(head)
        for i in range(len(smuggled)):
            s.send(smuggled[i:i + 1])
            time.sleep(0.002)
        s.sendall(b"GET /index.html HTTP/1.1\r\nConnection: close\r\n\r\n")
        data, err = read_all(s)
    finally:
        s.close()
    st, _, body, head = split_response(data)
    st2, _, body2, head2 = split_response(data[len(head) + len(body or b""):])
    report("keep-alive: a body in 1-byte segments is skipped",
           st == 200 and body == pages["/style.css"] and st2 == 200 and body2 == pages["/index.html"] and
           len(data) == len(head) + len(body) + len(head2) + len(body2), "statuses %s %s" % (st, st2))
    # POST with a body: 405, the connection kept, the next request served
    form = b"GET / HTTP/1.1"
    data, err = raw(a, b"POST /form HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(form) + form +
                    b"GET /style.css HTTP/1.1\r\nConnection: close\r\n\r\n")
    st, hdrs, body, head = split_response(data)
    st2, _, body2, _ = split_response(data[len(head) + len(body or b""):])
    report("keep-alive: POST with a body is 405, then the next request", st == 405 and
           hdrs.get("connection") == "keep-alive" and st2 == 200 and body2 == pages["/style.css"],
           "statuses %s %s" % (st, st2))
    # chunked: 411 and close, the chunks never parsed
    data, err = raw(a, b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                    b"1e\r\nGET /index.html HTTP/1.1\r\n\r\n\r\n0\r\n\r\n")
    st, hdrs, body, head = split_response(data)
    report("keep-alive: Transfer-Encoding is 411 and closes", st == 411 and hdrs.get("connection") == "close" and
           len(data) == len(head) + len(body or b""), "status %s, %d bytes" % (st, len(data)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--root", required=True)
    ap.add_argument("--keepalive", action="store_true", help="the server runs with --keepalive")
    ap.add_argument("--allow-dotfiles", action="store_true", help="the server runs with --allow-dotfiles")
    a = ap.parse_args()
    pages = corpus(a.root, a.allow_dotfiles)
    if a.keepalive:
        test_keepalive(a, pages)
        test_keepalive_bodies(a, pages)
        server_alive(a, "keep-alive cases")
    if a.allow_dotfiles:
        test_dotfiles_allowed(a, pages)
    else:
        test_pages(a, pages)
        test_index(a, pages)
        test_content_type(a)
        test_head(a, pages)
        test_errors(a)
        if not a.allow_dotfiles:
            test_dotfiles_refused(a, a.root)
        test_one_byte_segments(a, pages)
        test_close_mode(a, pages)
        test_hostile(a)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
