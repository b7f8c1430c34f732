#!/usr/bin/env bash
# A DAG: two CSV sources merged by union, keyed and summed, compared with
# awk; plus the shipped union-sensors example (union + fan-out) runs.
. "$(dirname "$0")/lib.sh"
python3 - "$WORK" <<'PY'
import random, sys
r = random.Random(11)
for name, n in (("a.csv", 20000), ("b.csv", 15000)):
    with open(f"{sys.argv[1]}/{name}", "w") as f:
        for _ in range(n):
            f.write(f"k{r.randrange(300)},{r.randrange(-1000, 1000)}\n")
PY
cat >"$WORK/job.yaml" <<YAML
name: union-test
operators:
  - {uid: a, source: file, path: "$WORK/a.csv", format: csv,
     fields: [{name: k, type: string}, {name: v, type: i64}]}
  - {uid: b, source: file, path: "$WORK/b.csv", format: csv,
     fields: [{name: k, type: string}, {name: v, type: i64}]}
  - {uid: both, type: union, inputs: [a, b]}
  - {uid: sums, type: reduce, key-by: k, function: sum, field: v}
  - {uid: out, sink: file, path: "$WORK/o"}
YAML
mpf_run 4 "$WORK/job.yaml" || { cat "$WORK/err"; fail "union job failed"; }
cat "$WORK"/o/part-* | LC_ALL=C sort >"$WORK/got.txt"
cat "$WORK/a.csv" "$WORK/b.csv" | awk -F, '{s[$1]+=$2} END {for (k in s) print k","s[k]}' |
  LC_ALL=C sort >"$WORK/ref.txt"
cmp "$WORK/got.txt" "$WORK/ref.txt" || fail "union sums differ from awk"

mpf_run 3 "$SRC/jobs/union-sensors.yaml" --readings "$SRC/jobs/data/readings.csv" \
  --rows 5000 --output "$WORK/o2" || { cat "$WORK/err"; fail "union-sensors failed"; }
# Every generated reading reaches raw-count (fan-out) and the totals hold
# one line per sensor seen in either stream.
grep -qE "raw-count/local +[0-9]+ +5000 " "$WORK/err" || fail "raw-count did not see all 5000 rows"
n=$(cat "$WORK"/o2/part-* | wc -l)
[ "$n" -ge 25 ] || fail "expected totals for at least 25 sensors, got $n"
grep -E "generated-readings +[0-9]+ +0 +5000" "$WORK/err" >/dev/null || fail "generator did not emit 5000 rows"
echo "PASS dag_union"
