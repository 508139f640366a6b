#!/usr/bin/env python3
# bench/corpus.py: a deterministic page corpus for `make bench`, shaped like the
# Rusty thesis' 500 front pages (3.5 KB to 1.1 MB, median ~68 KB, mean ~126 KB).
"""Generate the benchmark's page corpus.

Sizes come from a piecewise log-linear quantile function through the thesis'
published points; each page draws one stratified sample (page i in stratum
[i/n, (i+1)/n)), so the counts below a threshold are exact, not just likely:
70% under 150 KB, 90% under 300 KB, 17 pages over 500 KB, smallest 3.5 KB,
largest 1.1 MB. KB here is 1024 bytes. The bytes are HTML-ish text cut from a
seeded pool of words and tags. The same seed gives byte-identical files; the
digest printed at the end (and stored in manifest.json) proves it.

Output: OUT/www/<name>.html, OUT/pages.txt ("/<name>.html <bytes>" per line,
read by wrk_random.lua) and OUT/manifest.json (statistics and digest).
"""
import argparse
import hashlib
import json
import math
import os
import random
import shutil
import sys

KB = 1024
# (quantile, bytes). The 0.1 and 0.99 points are not published; they are
# chosen so that the mean lands near the thesis' ~126 KB.
ANCHORS = [
    (0.0, 3.5 * KB),
    (0.10, 15 * KB),
    (0.50, 68 * KB),
    (0.70, 150 * KB),
    (0.90, 300 * KB),
    (483 / 500, 500 * KB),  # 17 of 500 pages above 500 KB
    (0.99, 620 * KB),
    (1.0, 1.1 * 1024 * KB),
]

WORDS = (
    "the of and to in is for on that with as by at from this be are or an "
    "news sport weather video search mail shop login account home music "
    "games travel money health style world local market price deal offer "
    "free new top best today live update more view all click here sign "
    "privacy terms cookie help contact about careers press advert partner"
).split()
TAGS = ["p", "div", "span", "li", "a", "h2", "h3", "td", "em", "strong"]


def quantile(u):
    """Page size in bytes at quantile u in [0, 1] (log-linear between anchors)."""
    for (u0, s0), (u1, s1) in zip(ANCHORS, ANCHORS[1:]):
        if u <= u1:
            t = (u - u0) / (u1 - u0)
            return math.exp(math.log(s0) + t * (math.log(s1) - math.log(s0)))
    return ANCHORS[-1][1]


def sizes_for(count, rng):
    sizes = []
    for i in range(count):
        if i == 0:
            u = 0.0
        elif i == count - 1:
            u = 1.0
        else:
            # Keep clear of stratum edges so threshold counts stay exact.
            u = (i + 0.02 + 0.96 * rng.random()) / count
        sizes.append(int(round(quantile(u))))
    return sizes


def make_pool(rng, nbytes):
    """A block of HTML-ish markup to cut pages from."""
    parts = []
    total = 0
    while total < nbytes:
        tag = rng.choice(TAGS)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 24)))
        if tag == "a":
            s = '<a href="/%s/%d.html">%s</a>\n' % (rng.choice(WORDS), rng.randint(1, 99999), words)
        elif rng.random() < 0.05:
            s = "<script>var %s_%d = [%s];</script>\n" % (
                rng.choice(WORDS), rng.randint(0, 999),
                ",".join(str(rng.randint(0, 65535)) for _ in range(rng.randint(8, 64))))
        else:
            s = "<%s class=\"%s\">%s</%s>\n" % (tag, rng.choice(WORDS), words, tag)
        parts.append(s)
        total += len(s)
    return "".join(parts).encode("ascii")


def page_bytes(name, size, pool, rng):
    head = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head>\n<body>\n"
            % name).encode("ascii")
    tail = b"\n</body></html>\n"
    want = size - len(head) - len(tail)
    left = want
    chunks = []
    while left > 0:
        off = rng.randrange(0, len(pool) - 4096)
        n = min(left, rng.randint(1024, len(pool) - off))
        chunks.append(pool[off:off + n])
        left -= n
    return head + b"".join(chunks)[:want] + tail


def stats_of(sizes):
    s = sorted(sizes)
    n = len(s)
    median = (s[(n - 1) // 2] + s[n // 2]) / 2
    return {
        "pages": n,
        "min_bytes": s[0],
        "max_bytes": s[-1],
        "median_bytes": median,
        "mean_bytes": sum(s) / n,
        "total_bytes": sum(s),
        "share_under_150KB": sum(1 for x in s if x < 150 * KB) / n,
        "share_under_300KB": sum(1 for x in s if x < 300 * KB) / n,
        "pages_over_500KB": sum(1 for x in s if x > 500 * KB),
    }


def generate(out, seed, count):
    rng = random.Random(seed)
    sizes = sizes_for(count, rng)
    order = list(range(count))
    rng.shuffle(order)  # page names carry no hint of their size
    pool = make_pool(rng, 256 * KB)
    tmp = out + ".tmp%d" % os.getpid()
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "www"))
    digest = hashlib.sha256()
    lines = []
    for idx in range(count):
        name = "p%03d" % idx
        size = sizes[order[idx]]
        data = page_bytes(name, size, pool, rng)
        assert len(data) == size, (name, len(data), size)
        with open(os.path.join(tmp, "www", name + ".html"), "wb") as f:
            f.write(data)
        digest.update(name.encode() + b"\0" + data)
        lines.append("/%s.html %d\n" % (name, size))
    with open(os.path.join(tmp, "pages.txt"), "w") as f:
        f.writelines(lines)
    st = stats_of(sizes)
    manifest = {"seed": seed, "count": count, "sha256": digest.hexdigest(), "stats": st}
    with open(os.path.join(tmp, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    return manifest


def digest_of(out):
    """The corpus digest recomputed from the files, or None if any is missing."""
    digest = hashlib.sha256()
    try:
        with open(os.path.join(out, "pages.txt")) as f:
            names = [line.split()[0][1:-len(".html")] for line in f if line.strip()]
        for name in names:
            with open(os.path.join(out, "www", name + ".html"), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    except (OSError, IndexError):
        return None
    return digest.hexdigest()


def check_stats(st, count):
    """The thesis' shape, as exact counts for the 500-page corpus."""
    bad = []
    if abs(st["min_bytes"] - 3.5 * KB) > 1 or abs(st["max_bytes"] - 1.1 * 1024 * KB) > 1:
        bad.append("range %d..%d bytes, want 3.5 KB..1.1 MB" % (st["min_bytes"], st["max_bytes"]))
    if not 60 * KB <= st["median_bytes"] <= 76 * KB:
        bad.append("median %.1f KB, want about 68" % (st["median_bytes"] / KB))
    if not 115 * KB <= st["mean_bytes"] <= 137 * KB:
        bad.append("mean %.1f KB, want about 126" % (st["mean_bytes"] / KB))
    if count == 500:
        if round(st["share_under_150KB"] * count) != 350 or round(st["share_under_300KB"] * count) != 450:
            bad.append("under 150 KB / 300 KB: %.3f / %.3f, want 0.70 / 0.90" % (
                st["share_under_150KB"], st["share_under_300KB"]))
        if st["pages_over_500KB"] != 17:
            bad.append("%d pages over 500 KB, want 17" % st["pages_over_500KB"])
    return bad


def describe(m):
    st = m["stats"]
    return ("corpus: %d pages, seed %d, %.1f KB to %.1f KB, median %.1f KB, mean %.1f KB, "
            "%.0f%% < 150 KB, %.0f%% < 300 KB, %d > 500 KB, total %.1f MB, sha256 %s" % (
                st["pages"], m["seed"], st["min_bytes"] / KB, st["max_bytes"] / KB,
                st["median_bytes"] / KB, st["mean_bytes"] / KB, 100 * st["share_under_150KB"],
                100 * st["share_under_300KB"], st["pages_over_500KB"],
                st["total_bytes"] / KB / KB, m["sha256"][:16]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--force", action="store_true", help="regenerate even if OUT matches seed and count")
    a = ap.parse_args()
    if a.count < 10:
        ap.error("--count must be at least 10")
    mpath = os.path.join(a.out, "manifest.json")
    if not a.force and os.path.exists(mpath):
        with open(mpath) as f:
            m = json.load(f)
        if m.get("seed") == a.seed and m.get("count") == a.count and digest_of(a.out) == m.get("sha256"):
            print(describe(m) + " (cached, digest checked)")
            return 0
    m = generate(a.out, a.seed, a.count)
    print(describe(m))
    bad = check_stats(m["stats"], a.count)
    for b in bad:
        print("corpus: off the thesis distribution: " + b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
