#!/usr/bin/env python3
"""Reference results for the Nexmark jobs, computed from the raw events
(WORK/raw-{bid,person,auction}/part-0-0, CSV as mpiflow's file sink writes
them). usage: nexmark_ref.py QUERY WORK"""
import collections
import datetime
import sys

EPOCH = datetime.datetime(1970, 1, 1)


def ms(s):
    d = datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f") - EPOCH
    return d.days * 86400000 + d.seconds * 1000 + d.microseconds // 1000


def fmt_ts(t):
    d = EPOCH + datetime.timedelta(milliseconds=t)
    return d.strftime("%Y-%m-%d %H:%M:%S.") + "%03d" % (t % 1000)


def fmt_f(x):
    r = repr(x)
    return r[:-2] if r.endswith(".0") else r


def rows(work, stream):
    with open(f"{work}/raw-{stream}/part-0-0") as f:
        for line in f:
            yield line.rstrip("\n").split(",")


def main():
    q, work = sys.argv[1], sys.argv[2]
    out = []
    if q == "q0":
        out = [",".join(r) for r in rows(work, "bid")]
    elif q == "q1":  # auction, bidder, price in euro, date_time, extra
        for a, b, p, ch, url, t, x in rows(work, "bid"):
            out.append(",".join([a, b, fmt_f(0.908 * int(p)), t, x]))
    elif q == "q2":
        for a, b, p, *_ in rows(work, "bid"):
            if int(a) % 123 == 0:
                out.append(f"{a},{p}")
    elif q == "q3":  # sellers in OR/ID/CA of category-10 auctions
        people = {}
        for pid, name, email, card, city, state, t, x in rows(work, "person"):
            if state in ("OR", "ID", "CA"):
                people.setdefault(pid, []).append((name, city, state))
        for r in rows(work, "auction"):
            aid, seller, cat = r[0], r[7], r[8]
            if cat == "10":
                for name, city, state in people.get(seller, []):
                    out.append(f"{name},{city},{state},{aid}")
    elif q == "q5":  # auctions with the most bids per 10 s window sliding 2 s
        counts = collections.defaultdict(collections.Counter)
        for a, b, p, ch, url, t, x in rows(work, "bid"):
            t = ms(t)
            start = t - t % 2000
            while start > t - 10000:
                counts[start][a] += 1
                start -= 2000
        for start, c in counts.items():
            top = max(c.values())
            out += [f"{a},{n}" for a, n in c.items() if n == top]
    elif q == "q7":  # highest bids per 10 s tumbling window
        best = {}
        for r in rows(work, "bid"):
            w = ms(r[5]) // 10000
            p = int(r[2])
            if w not in best or p > best[w][0]:
                best[w] = (p, [])
            if p == best[w][0]:
                best[w][1].append(r)
        for p, rs in best.values():
            out += [",".join([r[0], r[2], r[1], r[5], r[6]]) for r in rs]
    elif q == "q8":  # new people who opened an auction in the same 10 s window
        people = collections.defaultdict(list)
        for pid, name, email, card, city, state, t, x in rows(work, "person"):
            people[(pid, ms(t) // 10000)].append(name)
        for r in rows(work, "auction"):
            w = ms(r[5]) // 10000
            for name in people.get((r[7], w), []):
                out.append(f"{r[7]},{name},{fmt_ts(w * 10000)}")
    for line in out:
        print(line)


main()
