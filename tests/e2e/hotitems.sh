#!/usr/bin/env bash
# HotItems (jobs/hotitems.yaml) on 4 ranks against a Python reference
# computed from the same behaviour events: keep pv, count per item in 1 h
# windows sliding by 5 min, top 3 per window (ties broken as mpiflow
# documents: by the row's bytes, i.e. item_id little-endian first).
. "$(dirname "$0")/lib.sh"
N=200000
cat >"$WORK/raw.yaml" <<YAML
name: raw
operators:
  - {uid: behavior, source: behavior, events: $N, interval: 100ms, out-of-orderness: 2s}
  - {uid: out, sink: file, parallelism: 1, path: "$WORK/raw"}
YAML
mpf_run 3 "$WORK/raw.yaml" || { cat "$WORK/err"; fail "raw events"; }
# The same events through the real job (its behavior source gets the
# interval through a copy of the job with one line changed).
sed 's/    out-of-orderness: 2s/    out-of-orderness: 2s\n    interval: 100ms/' \
  "$SRC/jobs/hotitems.yaml" >"$WORK/hotitems.yaml"
mpf_run 4 "$WORK/hotitems.yaml" --events $N --output "$WORK/result" ||
  { cat "$WORK/err"; fail "hotitems failed"; }
cat "$WORK/result"/part-* | LC_ALL=C sort >"$WORK/got"
python3 - "$WORK"/raw/part-* >"$WORK/want.unsorted" <<'PY'
import collections, datetime, struct, sys
EPOCH = datetime.datetime(1970, 1, 1)
def parse(s):
    d = datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f") - EPOCH
    return d.days * 86400000 + d.seconds * 1000 + d.microseconds // 1000
def fmt(ms):
    d = EPOCH + datetime.timedelta(milliseconds=ms)
    return d.strftime("%Y-%m-%d %H:%M:%S.") + "%03d" % (ms % 1000)
SIZE, SLIDE = 3600000, 300000
counts = collections.defaultdict(collections.Counter)  # window start -> item -> views
for path in sys.argv[1:]:
    for line in open(path):
        user, item, cat, beh, ts = line.rstrip("\n").split(",")
        if beh != "pv":
            continue
        ts = parse(ts)
        start = ts - ts % SLIDE
        while start > ts - SIZE:
            counts[start][int(item)] += 1
            start -= SLIDE
for start, c in counts.items():
    ranked = sorted(c.items(), key=lambda kv: (-kv[1], struct.pack("<q", kv[0])))
    end = start + SIZE
    for rank, (item, views) in enumerate(ranked[:3], 1):
        print(f"{item},{fmt(start)},{fmt(end)},{fmt(end - 1)},{views},{rank}")
PY
LC_ALL=C sort "$WORK/want.unsorted" >"$WORK/want"
[ "$(wc -l <"$WORK/want")" -gt 100 ] || fail "reference too small"
diff "$WORK/want" "$WORK/got" >"$WORK/diff" || { head "$WORK/diff"; fail "HotItems differs from the reference"; }
echo "ok: hotitems, $(wc -l <"$WORK/got") rows"
