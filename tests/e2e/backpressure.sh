#!/usr/bin/env bash
# A slow sink must slow the source, and memory must stay bounded: the
# generator produces ~40 MB while the sink accepts 100k rows/s; the peak
# number of network segments per TaskManager stays within the credit
# bound and peak RSS stays far below the data volume.
. "$(dirname "$0")/lib.sh"
rows=200000 rate=100000
cat >"$WORK/job.yaml" <<YAML
name: backpressure
operators:
  - uid: gen
    source: generator
    number-of-rows: $rows
    fields:
      - {name: id, type: i64, kind: sequence}
      - {name: payload, type: string, kind: random, length: 200}
  - {uid: slow, sink: blackhole, partition: rebalance, rows-per-second: $rate}
YAML
start=$(date +%s.%N)
mpf_run 3 "$WORK/job.yaml" || { cat "$WORK/err"; fail "run failed"; }
secs=$(echo "$(date +%s.%N) - $start" | bc)
cat "$WORK/err" | grep -E "tm-[0-9] peak" >&2
# The sink is the bottleneck: the run cannot be faster than rows/rate.
awk -v s="$secs" -v m="$(echo "$rows / $rate" | bc -l)" 'BEGIN{exit !(s >= m)}' ||
  fail "finished in $secs s, faster than the sink allows"
# 2 subtasks per TM x (2 out channels + 2 in channels) x 2 credits, plus
# one partial batch per out channel, one per chain link and one spare:
# 16 is generous; without flow control the queues would hold ~1200.
segs=$(sed -n 's/.*segments_peak=\([0-9]*\).*/\1/p' "$WORK/err")
[ "$(echo "$segs" | grep -c .)" -eq 2 ] || fail "expected segments_peak of 2 TaskManagers, got '$segs'"
for seg in $segs; do
  [ "$seg" -ge 1 ] && [ "$seg" -le 16 ] || fail "segments_peak=$seg outside 1..16 (the credit bound)"
done
# RSS: at most 16 MB above the same job with 100 rows (the process's own
# baseline: MPI, libraries, sanitizer shadow memory).
cp "$WORK/err" "$WORK/err.big"
sed "s/number-of-rows: $rows/number-of-rows: 100/" "$WORK/job.yaml" >"$WORK/small.yaml"
mpf_run 3 "$WORK/small.yaml" || { cat "$WORK/err"; fail "baseline run failed"; }
base=$(sed -n 's/.*peak_rss_kb=\([0-9]*\).*/\1/p' "$WORK/err" | sort -n | tail -1)
[ -n "$base" ] && [ "$base" -gt 1000 ] || fail "no baseline peak_rss_kb in the small run's summary"
rsss=$(sed -n 's/.*peak_rss_kb=\([0-9]*\).*/\1/p' "$WORK/err.big")
[ "$(echo "$rsss" | grep -c .)" -eq 2 ] || fail "expected peak_rss_kb of 2 TaskManagers, got '$rsss'"
for rss in $rsss; do
  [ "$rss" -le $((base + 16000)) ] ||
    fail "peak RSS ${rss} kB, baseline ${base} kB: memory was not bounded (data ~40 MB)"
done
cp "$WORK/err.big" "$WORK/err"
grep -qE "gen +[0-9]+ +0 +$rows" "$WORK/err" || fail "generator did not produce $rows rows"
echo "PASS backpressure (${secs}s)"
