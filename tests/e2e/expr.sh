#!/usr/bin/env bash
# Expressions end to end: a CSV source, a filter and a select (map) with
# arithmetic, comparisons, LIKE, CASE, if(), casts, time and string
# functions, then a keyed sum of a computed field; both outputs compared
# with the same computation in Python. Then `mpiflow validate` failures
# for type and syntax errors (file:line:col, uid, column inside the
# expression) and a run-time division by zero that fails the job.
. "$(dirname "$0")/lib.sh"

python3 - "$WORK" <<'PY'
import random, sys, datetime
r = random.Random(5)
base = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
with open(f"{sys.argv[1]}/in.csv", "w") as f:
    for i in range(30000):
        ms = int(base.timestamp() * 1000) + r.randrange(9 * 86400000)
        t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
        ts = t.strftime("%Y-%m-%d %H:%M:%S") + ".%03d" % (ms % 1000)
        price = r.randrange(0, 20000) / 100
        qty = r.randrange(-5, 50)
        ok = r.choice(["true", "false"])
        f.write(f"{i},u{r.randrange(50)},{price},{qty},{ts},{ok}\n")
PY

cat >"$WORK/job.yaml" <<YAML
name: expr-test
operators:
  - uid: src
    source: file
    path: "$WORK/in.csv"
    format: csv
    fields:
      - {name: id, type: i64}
      - {name: user, type: string}
      - {name: price, type: f64}
      - {name: qty, type: i64}
      - {name: ts, type: timestamp}
      - {name: ok, type: bool}
  - uid: f
    type: filter
    condition: >-
      (price > 20.5 AND user LIKE 'u1%') OR (qty % 7 = 0 AND NOT ok)
      OR ts < TIMESTAMP '2024-01-01 06:00:00'
  - uid: m
    type: select
    fields:
      - id
      - "qty * 2 + 1 AS q"
      - "price * 1.5 AS p"
      - "hour(ts) AS h"
      - "date_trunc('day', ts) AS d"
      - "CASE WHEN price >= 100 THEN 'big' WHEN qty < 0 THEN 'neg' ELSE upper(user) END AS cls"
      - "concat(user, '#', id % 10) AS tag"
      - {name: rate, expr: "if(qty = 0, -1, CAST(price AS i64) / qty)"}
      - ts
  - {uid: out, sink: file, path: "$WORK/o"}
  - {uid: sums, type: reduce, inputs: [m], key-by: cls, function: sum, field: q}
  - {uid: out2, sink: file, path: "$WORK/o2"}
YAML
mpf_run 3 "$WORK/job.yaml" || { cat "$WORK/err"; fail "expression job failed"; }

python3 - "$WORK" <<'PY' || fail "results differ from Python"
import sys, datetime, collections
w = sys.argv[1]
def fmt_ts(ms):
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S") + ".%03d" % (ms % 1000)
def parse_ts(s):
    d = datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * 1000 + d.microsecond // 1000
def tdiv(a, b):  # C division: truncates toward zero
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q
def cmod(a, b):
    return a - tdiv(a, b) * b
cut = parse_ts("2024-01-01 06:00:00.000")
want, sums = [], collections.Counter()
for line in open(f"{w}/in.csv"):
    i, user, price, qty, ts, ok = line.rstrip("\n").split(",")
    i, price, qty, ms, ok = int(i), float(price), int(qty), parse_ts(ts), ok == "true"
    if not ((price > 20.5 and user.startswith("u1")) or (cmod(qty, 7) == 0 and not ok) or ms < cut):
        continue
    cls = "big" if price >= 100 else "neg" if qty < 0 else user.upper()
    rate = -1 if qty == 0 else tdiv(int(price), qty)
    q = qty * 2 + 1
    want.append((i, q, price * 1.5, (ms // 3600000) % 24, fmt_ts(ms - ms % 86400000), cls,
                 f"{user}#{i % 10}", rate, fmt_ts(ms)))
    sums[cls] += q
got = []
import glob
for path in glob.glob(f"{w}/o/part-*"):
    for line in open(path):
        c = line.rstrip("\n").split(",")
        got.append((int(c[0]), int(c[1]), float(c[2]), int(c[3]), c[4], c[5], c[6], int(c[7]), c[8]))
want.sort(); got.sort()
if len(got) != len(want):
    sys.exit(f"{len(got)} records, Python says {len(want)}")
for g, x in zip(got, want):
    if g != x:
        sys.exit(f"got {g}\nwant {x}")
if len(want) < 5000:
    sys.exit(f"only {len(want)} records passed the filter; the test is too weak")
gs = {}
for path in glob.glob(f"{w}/o2/part-*"):
    for line in open(path):
        k, v = line.rstrip("\n").split(",")
        gs[k] = int(v)
if gs != dict(sums):
    sys.exit(f"sums {sorted(gs.items())[:5]}... differ from {sorted(sums.items())[:5]}...")
print(f"{len(want)} records and {len(gs)} sums match")
PY

# --- plan-time errors: file:line:col of the expression, uid, column inside ---
# bad_job COND MAPEXPR: a job whose filter condition is on line 10
# (column 16) and whose computed map field is on line 15 (column 9).
bad_job() {
  cat >"$WORK/bad.yaml" <<YAML
name: bad
operators:
  - uid: src
    source: file
    path: "$WORK/in.csv"
    format: csv
    fields: [{name: user, type: string}, {name: price, type: f64}, {name: qty, type: i64}, {name: ts, type: timestamp}]
  - uid: f
    type: filter
    condition: "$1"
  - uid: m
    type: map
    fields:
      - user
      - "$2"
  - {uid: out, sink: blackhole}
YAML
}
rejects() { # rejects COND MAPEXPR PATTERN
  bad_job "$1" "$2"
  "$MPIFLOW" validate "$WORK/bad.yaml" >/dev/null 2>"$WORK/err" && fail "accepted: $1 / $2"
  expect_err "$3"
}
bad_job "qty > 0" "price * 2 AS p2"
"$MPIFLOW" validate "$WORK/bad.yaml" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "good job rejected"; }
rejects "user = 5" "price AS p" \
  "bad.yaml:10:16: operator 'f': expression column 6: cannot compare string with i64"
rejects "pricee > 1" "price AS p" \
  "bad.yaml:10:16: operator 'f': expression column 1: unknown field 'pricee' \(did you mean 'price'\?\)"
rejects "qty + 1" "price AS p" \
  "bad.yaml:10:16: operator 'f': expression column 1: condition must be bool, got i64"
rejects "qty > 1 AND" "price AS p" \
  "bad.yaml:10:16: operator 'f': expression column 12: expected an expression, found end of expression"
rejects "ts > '2024-13-01'" "price AS p" \
  "bad.yaml:10:16: operator 'f': expression column 6: '2024-13-01' is not a timestamp"
rejects "qty > 0" "hour(qty) AS h" \
  "bad.yaml:15:9: operator 'm': expression column 6: hour\(\) needs a timestamp, got i64"
rejects "qty > 0" "CASE WHEN qty > 1 THEN 'a' ELSE 2 END AS c" \
  "bad.yaml:15:9: operator 'm': expression column 33: CASE branches have different types: string and i64"
rejects "qty > 0" "price * 2" \
  "bad.yaml:15:9: operator 'm': expression column 1: name the result: \"price \* 2 AS name\""
rejects "qty > 0" "qty AS user" "bad.yaml:15:9: operator 'm': duplicate output field 'user'"
rejects "qty > 0" "user + 1 AS u" \
  "bad.yaml:15:9: operator 'm': expression column 6: cannot apply '\+' to string and i64"

# "*" keeps every input field; {name, expr} maps work; select is map.
cat >"$WORK/star.yaml" <<YAML
name: star
operators:
  - {uid: src, source: file, path: "$WORK/in.csv", format: csv,
     fields: [{name: id, type: i64}, {name: user, type: string}, {name: price, type: f64},
              {name: qty, type: i64}, {name: ts, type: timestamp}, {name: ok, type: bool}]}
  - {uid: m, type: map, fields: ["*", {name: big, expr: "qty > 10"}, {name: u2, expr: user}]}
  - {uid: out, sink: blackhole}
YAML
"$MPIFLOW" validate "$WORK/star.yaml" >"$WORK/plan" 2>"$WORK/err" || { cat "$WORK/err"; fail "star job"; }
want="out: (id:i64, user:string, price:f64, qty:i64, ts:timestamp, ok:bool, big:bool, u2:string)"
grep -qF "$want" "$WORK/plan" || { cat "$WORK/plan"; fail "star schema"; }

# --- run time: integer division by zero fails the job, naming uid and column ---
cat >"$WORK/div.yaml" <<YAML
name: div
operators:
  - {uid: src, source: file, path: "$WORK/in.csv", format: csv,
     fields: [{name: id, type: i64}, {name: user, type: string}, {name: price, type: f64},
              {name: qty, type: i64}, {name: ts, type: timestamp}, {name: ok, type: bool}]}
  - {uid: m, type: select, fields: ["id", "100 / qty AS z"]}
  - {uid: out, sink: file, path: "$WORK/o3"}
YAML
mpf_run 3 "$WORK/div.yaml" && fail "division by zero accepted"
expect_err "operator 'm': expression column 5: division by zero"
[ -z "$(ls -A "$WORK/o3" 2>/dev/null)" ] || fail "failed job left files: $(ls -A "$WORK/o3")"
echo "PASS expr"
