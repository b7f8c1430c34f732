#!/usr/bin/env python3
"""Reference joins for tests/e2e/joins.sh, computed straight from the input
CSV files (never from mpiflow output), printed as the CSV lines mpiflow's
file sink writes (timestamps as "YYYY-MM-DD HH:MM:SS.mmm", UTC).

usage: join_ref.py LEFT.csv RIGHT.csv LKEY,LTS RKEY,RTS MODE [ARGS]
  LKEY/LTS: column numbers (0-based) of the key and the event time (-1:
  none); MODE is one of
    tumbling SIZE            window join, tumbling windows of SIZE ms
    sliding SIZE SLIDE       window join, sliding windows
    session GAP              window join, session windows (both sides)
    interval LOWER UPPER     interval join, bounds inclusive (ms)
    regular                  every pair with equal keys
  Time columns hold integer ms."""
import csv
import datetime
import sys
from collections import defaultdict

EPOCH = datetime.datetime(1970, 1, 1)


def fmt_ts(ms):
    d = EPOCH + datetime.timedelta(milliseconds=ms)
    return d.strftime("%Y-%m-%d %H:%M:%S") + ".%03d" % (ms % 1000)


def load(path, key, ts, ts_cols):
    """Rows as (key, ts, formatted fields)."""
    out = []
    with open(path, newline="") as f:
        for row in csv.reader(f):
            cells = [fmt_ts(int(c)) if i in ts_cols else c for i, c in enumerate(row)]
            out.append((row[key], int(row[ts]) if ts >= 0 else 0, cells))
    return out


def by_key(rows):
    d = defaultdict(list)
    for r in rows:
        d[r[0]].append(r)
    return d


def main():
    lpath, rpath, lspec, rspec, mode = sys.argv[1:6]
    args = [int(a) for a in sys.argv[6:]]
    lk, lt = (int(x) for x in lspec.split(","))
    rk, rt = (int(x) for x in rspec.split(","))
    # Timestamp-typed columns: the event-time ones (the tests type no other
    # column as a timestamp).
    left = by_key(load(lpath, lk, lt, {lt}))
    right = by_key(load(rpath, rk, rt, {rt}))
    w = csv.writer(sys.stdout, lineterminator="\n")
    for key in left.keys() & right.keys():
        ls, rs = left[key], right[key]
        if mode in ("tumbling", "sliding"):
            size = args[0]
            slide = args[1] if mode == "sliding" else size
            windows = defaultdict(lambda: ([], []))
            for side, rows in ((0, ls), (1, rs)):
                for r in rows:
                    start = r[1] - r[1] % slide
                    while start > r[1] - size:
                        windows[start][side].append(r)
                        start -= slide
            for start, (wl, wr) in windows.items():
                for a in wl:
                    for b in wr:
                        w.writerow(a[2] + b[2] + [fmt_ts(start), fmt_ts(start + size),
                                                  fmt_ts(start + size - 1)])
        elif mode == "session":
            gap = args[0]
            events = sorted([(r[1], 0, r) for r in ls] + [(r[1], 1, r) for r in rs],
                            key=lambda e: e[0])
            sessions = []  # [start, end, lefts, rights]
            for ts, side, r in events:
                if sessions and ts <= sessions[-1][1]:  # touches or overlaps
                    s = sessions[-1]
                    s[1] = max(s[1], ts + gap)
                else:
                    s = [ts, ts + gap, [], []]
                    sessions.append(s)
                s[2 + side].append(r)
            for start, end, wl, wr in sessions:
                for a in wl:
                    for b in wr:
                        w.writerow(a[2] + b[2] + [fmt_ts(start), fmt_ts(end), fmt_ts(end - 1)])
        elif mode == "interval":
            lower, upper = args
            for a in ls:
                for b in rs:
                    if a[1] + lower <= b[1] <= a[1] + upper:
                        w.writerow(a[2] + b[2] + [fmt_ts(max(a[1], b[1]))])
        elif mode == "regular":
            for a in ls:
                for b in rs:
                    w.writerow(a[2] + b[2])
        else:
            sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
