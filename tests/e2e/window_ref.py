#!/usr/bin/env python3
"""Independent reference for mpiflow's windows: reads the raw generated
rows (key,v,ts as written by a file sink, in source order) and simulates
Flink window semantics with per-record watermarks (wm = max ts - delay - 1
after each record that raises the maximum). Prints the expected results
and, with --late FILE, the records that are dropped as late.

usage: window_ref.py RAW KIND ARGS... (see main)"""
import datetime
import sys

EPOCH = datetime.datetime(1970, 1, 1)
NEG_INF = float("-inf")


def fmt_ts(ms):
    d = EPOCH + datetime.timedelta(milliseconds=ms)
    return d.strftime("%Y-%m-%d %H:%M:%S.") + "%03d" % (ms % 1000)


def parse_ts(s):
    d = datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f")
    delta = d - EPOCH
    return delta.days * 86400000 + delta.seconds * 1000 + delta.microseconds // 1000


def fmt_num(x):
    if isinstance(x, float):
        r = repr(x)
        return r[:-2] if r.endswith(".0") else r
    return str(x)


def aggs(vals, fns):
    out = []
    for fn in fns:
        if fn == "count":
            out.append(len(vals))
        elif fn == "sum":
            out.append(sum(vals))
        elif fn == "min":
            out.append(min(vals))
        elif fn == "max":
            out.append(max(vals))
        elif fn == "avg":
            out.append(float(sum(vals)) / len(vals))
        elif fn == "first":
            out.append(vals[0])
        elif fn == "last":
            out.append(vals[-1])
    return out


def row(key, start, end, vals, fns, keyed=True):
    cells = [key] if keyed else []
    if start is not None:
        cells += [fmt_ts(start), fmt_ts(end), fmt_ts(end - 1)]
    cells += [fmt_num(a) for a in aggs(vals, fns)]
    return ",".join(cells)


def aligned(rows, size, slide, lateness, delay, fns, keyed, out, late):
    wins = {}  # (start, end) -> {key: [vals]}
    fired = set()
    wm = NEG_INF
    maxts = NEG_INF

    def advance(w):
        for (s, e) in sorted(wins):
            if e - 1 <= w and (s, e) not in fired:
                for k, vals in wins[(s, e)].items():
                    out.append(row(k, s, e, vals, fns, keyed))
                fired.add((s, e))
        for (s, e) in list(wins):
            if (s, e) in fired and e - 1 + lateness <= w:
                del wins[(s, e)]

    for (k, v, ts, line) in rows:
        rem = ts % slide
        start = ts - rem
        any_win = False
        while start > ts - size:
            end = start + size
            if not (end - 1 + lateness <= wm):
                any_win = True
                w = wins.setdefault((start, end), {})
                w.setdefault(k, []).append(v)
                if (start, end) in fired:
                    out.append(row(k, start, end, w[k], fns, keyed))
            start -= slide
        if not any_win:
            late.append(line)
        if ts > maxts:
            maxts = ts
            if maxts - delay - 1 > wm:
                wm = maxts - delay - 1
                advance(wm)
    advance(float("inf"))


def session(rows, gap, lateness, delay, fns, out, late):
    sess = {}  # key -> list of [start, end, vals, fired]
    wm = NEG_INF
    maxts = NEG_INF

    def advance(w):
        for k in list(sess):
            keep = []
            for s in sess[k]:
                if s[1] - 1 <= w and not s[3]:
                    out.append(row(k, s[0], s[1], s[2], fns))
                    s[3] = True
                if not (s[3] and s[1] - 1 + lateness <= w):
                    keep.append(s)
            sess[k] = keep

    for (k, v, ts, line) in rows:
        start, end = ts, ts + gap
        if end - 1 + lateness <= wm:
            late.append(line)
        else:
            lst = sess.setdefault(k, [])
            merged = [start, end, [v], False]
            keep = []
            for s in lst:
                if s[0] <= end and s[1] >= start:
                    merged[0] = min(merged[0], s[0])
                    merged[1] = max(merged[1], s[1])
                    merged[2] = s[2] + merged[2]
                else:
                    keep.append(s)
            if merged[1] - 1 <= wm:  # late within lateness: fire now
                out.append(row(k, merged[0], merged[1], merged[2], fns))
                merged[3] = True
            keep.append(merged)
            sess[k] = keep
        if ts > maxts:
            maxts = ts
            if maxts - delay - 1 > wm:
                wm = maxts - delay - 1
                advance(wm)
    advance(float("inf"))


def count(rows, size, slide, fns, out):
    buf, since = {}, {}
    for (k, v, ts, line) in rows:
        b = buf.setdefault(k, [])
        b.append(v)
        if len(b) > size:
            b.pop(0)
        since[k] = since.get(k, 0) + 1
        if since[k] == slide:
            out.append(",".join([k] + [fmt_num(a) for a in aggs(b, fns)]))
            since[k] = 0
            if slide == size:
                buf[k] = []


def main():
    raw, kind = sys.argv[1], sys.argv[2]
    opts = dict(a.split("=", 1) for a in sys.argv[3:])
    fns = opts.get("fns", "count").split(",")
    delay = int(opts.get("delay", 0))
    lateness = int(opts.get("lateness", 0))
    rows = []
    with open(raw) as f:
        for line in f:
            line = line.rstrip("\n")
            k, v, ts = line.split(",")
            rows.append((k, int(v), parse_ts(ts), line))
    if kind == "all":  # window-all: one group for every key
        rows = [("", v, ts, line) for (k, v, ts, line) in rows]
    out, late = [], []
    if kind in ("tumbling", "sliding", "all"):
        size = int(opts["size"])
        aligned(rows, size, int(opts.get("slide", size)), lateness, delay, fns,
                kind != "all", out, late)
    elif kind == "session":
        session(rows, int(opts["gap"]), lateness, delay, fns, out, late)
    elif kind == "count":
        count(rows, int(opts["size"]), int(opts.get("slide", opts["size"])), fns, out)
    for r in out:
        print(r)
    if "late" in opts:
        with open(opts["late"], "w") as f:
            for line in late:
                f.write(line + "\n")


main()
