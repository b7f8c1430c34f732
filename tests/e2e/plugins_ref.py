#!/usr/bin/env python3
"""Inputs and independent reference results for tests/e2e/plugins.sh.

  plugins_ref.py gen DIR            write the test inputs into DIR
  plugins_ref.py ref NAME DIR       print NAME's expected output lines
  plugins_ref.py same GOT WANT      compare two CSV line sets, numbers by value

Each reference re-implements what the example plugin computes, from the
same input files, in plain Python.
"""
import random
import sys
import time

T0 = 1704067200000  # 2024-01-01 00:00:00 UTC in ms


def fmt_ts(ms):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)) + ".%03d" % (ms % 1000)


def fmt_f(x):
    return repr(float(x))


def gen(d):
    r = random.Random(2024)
    with open(f"{d}/payments.csv", "w") as f:
        for i in range(5000):
            cur = r.choice(["EUR", "USD", "GBP", "JPY", "CHF"])
            amt = r.randrange(1, 3000000) if cur == "JPY" else round(r.uniform(0.5, 400), 2)
            f.write(f"{i},{cur},{amt}\n")
    items = ["apple", "pear", "milk", "bread", "eggs", "tea", "rice", "salt"]
    with open(f"{d}/orders.csv", "w") as f:
        for i in range(4000):
            parts = [r.choice(items) for _ in range(r.randint(1, 6))]
            if r.random() < 0.2:
                parts.insert(r.randrange(len(parts) + 1), "")  # an empty piece
            parts = [(" " if r.random() < 0.2 else "") + p + (" " if r.random() < 0.2 else "")
                     for p in parts]
            f.write(f"{i},c{r.randrange(50)},{';'.join(parts)}\n")
    # Transactions in event-time order, strictly increasing times.
    ts = T0
    cats = ["grocery", "fuel", "travel", "online", "pharmacy"]
    with open(f"{d}/tx.csv", "w") as f:
        for i in range(6000):
            ts += r.choice([1000, 3000, 7000, 15000, 30000])
            x = r.random()
            amt = (round(r.uniform(0.01, 0.99), 2) if x < 0.25 else
                   round(r.uniform(501, 999), 2) if x < 0.5 else round(r.uniform(2, 300), 2))
            f.write(f"a{r.randrange(25)},{ts},{amt},{r.choice(cats)}\n")
    ts = T0
    with open(f"{d}/events.csv", "w") as f:
        for i in range(8000):
            ts += r.choice([100, 200, 500])
            f.write(f"s{r.randrange(12)},{ts},{r.randrange(1000)}\n")
    ts = T0 - 5000
    with open(f"{d}/control.csv", "w") as f:
        for i in range(300):
            ts += r.choice([1000, 5000, 9000])
            f.write(f"s{r.randrange(12)},{ts},{r.choice(['true', 'false'])}\n")
    with open(f"{d}/dedupe.csv", "w") as f:
        for i in range(5000):
            f.write(f"u{r.randrange(700)},{i}\n")


def rows(path):
    with open(path) as f:
        return [line.rstrip("\n").split(",") for line in f if line.strip()]


def ref_currency(d, minimum=100.0):
    rates = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17, "JPY": 0.0062, "CHF": 1.04}
    for i, cur, amt in rows(f"{d}/payments.csv"):
        eur = float(amt) * rates[cur]
        if eur >= minimum:
            print(f"{i},{cur},{fmt_f(amt)},{fmt_f(eur)}")


def ref_split(d):
    counts = {}
    for _, _, items in rows(f"{d}/orders.csv"):
        for p in items.split(";"):
            p = p.strip(" \t")
            if p:
                counts[p] = counts.get(p, 0) + 1
    for k, n in counts.items():
        print(f"{k},{n}")


def by_account(d):
    acc = {}
    for a, ts, amt, cat in rows(f"{d}/tx.csv"):
        acc.setdefault(a, []).append((int(ts), float(amt), cat, f"{a},{fmt_ts(int(ts))},{fmt_f(amt)},{cat}"))
    return acc


def ref_fraud(d, which, small=1.0, large=500.0, window=60000):
    for a, txs in by_account(d).items():
        flag = None
        for ts, amt, cat, line in txs:
            if flag:
                if ts - flag[0] <= window:
                    if amt > large and which == "alerts":
                        print(f"{a},{fmt_ts(flag[0])},{fmt_f(flag[1])},{fmt_ts(ts)},{fmt_f(amt)}")
                elif which == "expired":
                    print(flag[2])
                flag = None
            if amt < small:
                flag = (ts, amt, line)
        if flag and which == "expired":
            print(flag[2])


def ref_sessions(d, gap=60000):
    for a, txs in by_account(d).items():
        sess = []

        def close():
            vals = [t[1] for t in sess]
            total = 0.0
            for v in vals:
                total += v
            cats = {}
            for t in sess:
                cats[t[2]] = cats.get(t[2], 0) + 1
            top = min(cats, key=lambda c: (-cats[c], c.encode()))
            print(f"{a},{fmt_ts(sess[0][0])},{fmt_ts(sess[-1][0])},{len(vals)},{fmt_f(total)},"
                  f"{fmt_f(max(vals))},{len(cats)},{top}")

        for t in txs:
            if sess and t[0] - sess[-1][0] > gap:
                close()
                sess = []
            sess.append(t)
        if sess:
            close()


def ref_control(d, which, default=True):
    switches = {}
    for s, ts, en in rows(f"{d}/control.csv"):
        switches.setdefault(s, []).append((int(ts), en == "true"))
    for s, ts, v in rows(f"{d}/events.csv"):
        ts = int(ts)
        past = [sw for sw in switches.get(s, []) if sw[0] <= ts]
        en = max(past)[1] if past else default
        if en == (which == "passed"):
            print(f"{s},{fmt_ts(ts)},{v}")


def ref_dedupe(d, which):
    seen = set()
    for u, i in rows(f"{d}/dedupe.csv"):
        first = u not in seen
        seen.add(u)
        if first == (which == "first"):
            print(f"{u},{i}")


def norm(path):
    """Lines as tuples, numbers compared by value (1.0 == 1)."""
    out = []
    for f in rows(path):
        t = []
        for x in f:
            try:
                t.append(float(x))
            except ValueError:
                t.append(x)
        out.append(tuple(t))
    return sorted(out, key=repr)


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(sys.argv[2])
    elif cmd == "ref":
        name, d = sys.argv[2], sys.argv[3]
        {"currency": lambda: ref_currency(d),
         "split": lambda: ref_split(d),
         "alerts": lambda: ref_fraud(d, "alerts"),
         "expired": lambda: ref_fraud(d, "expired"),
         "sessions": lambda: ref_sessions(d),
         "passed": lambda: ref_control(d, "passed"),
         "blocked": lambda: ref_control(d, "blocked"),
         "first": lambda: ref_dedupe(d, "first"),
         "dups": lambda: ref_dedupe(d, "dups")}[name]()
    elif cmd == "same":
        got, want = norm(sys.argv[2]), norm(sys.argv[3])
        if got != want:
            g, w = set(got), set(want)
            print(f"{len(got)} lines vs {len(want)} expected; "
                  f"unexpected: {sorted(g - w, key=repr)[:5]} missing: {sorted(w - g, key=repr)[:5]}")
            sys.exit(1)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
