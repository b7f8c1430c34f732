#!/usr/bin/env bash
# Live metrics and the status line. (1) A generator limited to $rate1
# rows/s runs ~4 s with metrics.reporter.interval 300 ms and
# metrics.status.interval 1 s: status lines come about every second, say
# the job is RUNNING, show records/s in and out within a factor of 2 of the
# configured rate and a watermark lag (event time is on), and the summary
# still has the exact counts (the configured number of rows) and its
# key=value tokens. (2) A fast generator into a sink limited to $rate2
# rows/s: the sink's records/s are within a factor of 2 of its limit, and
# the generator is backpressured (most of each second waiting for credit).
. "$(dirname "$0")/lib.sh"
np=3
rows1=24000 rate1=6000
rows2=20000 rate2=5000
iv="-D metrics.reporter.interval=300ms -D metrics.status.interval=1s"

# status_field NAME: the values of NAME=... in the status lines, one a line
status_field() { sed -n "s/.*\[jm\] status: .* $1=\([-0-9.]*\).*/\1/p" "$WORK/err"; }
# within VALUE LO HI
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN{exit !(v >= lo && v <= hi)}'; }

# --- (1) rate-limited source ---
cat >"$WORK/rate.yaml" <<YAML
name: metrics_rate
operators:
  - uid: gen
    source: generator
    number-of-rows: $rows1
    rows-per-second: $rate1
    fields:
      - {name: id, type: i64, kind: sequence}
      - {name: ts, type: timestamp, kind: sequence, start: $(date +%s)000}
    watermark: {field: ts, out-of-orderness: 10ms}
  - {uid: out, sink: blackhole, partition: rebalance}
YAML
# shellcheck disable=SC2086
mpf_run $np "$WORK/rate.yaml" $iv || { cat "$WORK/err"; fail "rate-limited run failed"; }
grep "status:" "$WORK/err" >&2 || true
nstatus=$(grep -c "\[jm\] status: job 'metrics_rate' RUNNING for" "$WORK/err" || true)
# ~4 s at one line a second: 3 or 4 (the first comes after a full second)
[ "$nstatus" -ge 2 ] && [ "$nstatus" -le 6 ] || fail "expected 2..6 status lines in ~4 s, got $nstatus"
# about a second apart (log timestamps HH:MM:SS.mmm)
grep "\[jm\] status:" "$WORK/err" | awk '{split($1, t, ":"); s = t[1]*3600 + t[2]*60 + t[3];
  if (NR > 1 && (s - p < 0.7 || s - p > 1.5)) { print "gap " s - p; bad = 1 } p = s }
  END { exit bad }' || fail "status lines are not about 1 s apart"
for v in $(status_field records_in_per_s); do
  within "$v" $((rate1 / 2)) $((rate1 * 2)) || fail "records_in_per_s=$v, configured $rate1"
done
for v in $(status_field records_out_per_s); do
  within "$v" $((rate1 / 2)) $((rate1 * 2)) || fail "records_out_per_s=$v, configured $rate1"
done
[ "$(status_field records_in_per_s | grep -c .)" -eq "$nstatus" ] ||
  fail "a status line lacks records_in_per_s"
# records read so far grow and stay below the total
status_field records_in | awk -v max=$rows1 '$1 < p || $1 > max { bad = 1 } { p = $1 } END { exit bad }' ||
  fail "records_in in the status lines does not grow within 0..$rows1"
[ "$(status_field wm_lag_ms | grep -c .)" -ge 1 ] || fail "no wm_lag_ms although event time is on"
# nothing downstream is slow: no task waits for credit for long
for v in $(status_field backpressured_ms_per_s); do
  within "$v" 0 300 || fail "backpressured_ms_per_s=$v without a slow consumer"
done
grep -q "unexpected METRICS" "$WORK/err" && fail "the JobManager did not expect METRICS"
# the summary: exact counts and its tokens
grep -qE "\[jm\]   gen +2 +0 +$rows1\$" "$WORK/err" || fail "summary: gen did not emit $rows1"
grep -qE "\[jm\]   out +2 +$rows1 +0  \(sink\)\$" "$WORK/err" || fail "summary: out did not get $rows1"
grep -qE "source records: $rows1 \(" "$WORK/err" || fail "summary: source records"
grep -qE "finished in .* \(duration_s=[0-9.]+\)" "$WORK/err" || fail "summary: duration_s"
[ "$(grep -cE "tm-[0-9] peak_rss_kb=[0-9]+ segments_peak=[0-9]+" "$WORK/err")" -eq 2 ] ||
  fail "summary: peak_rss_kb/segments_peak of 2 TaskManagers"
grep -qE "watermarks, source to sink: .*wm_latency_p99_ms=" "$WORK/err" ||
  fail "summary: watermark latency"

# --- (2) slow sink: backpressure upstream ---
cat >"$WORK/bp.yaml" <<YAML
name: metrics_bp
operators:
  - uid: gen
    source: generator
    number-of-rows: $rows2
    fields:
      - {name: id, type: i64, kind: sequence}
      - {name: payload, type: string, kind: random, length: 200}
  - {uid: slow, sink: blackhole, partition: rebalance, rows-per-second: $rate2}
YAML
# shellcheck disable=SC2086
mpf_run $np "$WORK/bp.yaml" $iv || { cat "$WORK/err"; fail "backpressure run failed"; }
grep "status:" "$WORK/err" >&2 || true
nstatus=$(grep -c "\[jm\] status: job 'metrics_bp' RUNNING" "$WORK/err" || true)
[ "$nstatus" -ge 2 ] || fail "expected at least 2 status lines, got $nstatus"
for v in $(status_field records_out_per_s); do
  within "$v" $((rate2 / 2)) $((rate2 * 2)) || fail "records_out_per_s=$v, the sink allows $rate2"
done
# the generator could go far faster: it waits for credit most of the time
maxbp=$(sed -n "s/.*\[jm\] status: .* backpressured_ms_per_s=\([0-9]*\) (gen).*/\1/p" "$WORK/err" |
  sort -n | tail -1)
[ -n "$maxbp" ] && [ "$maxbp" -ge 700 ] && [ "$maxbp" -le 1100 ] ||
  fail "generator backpressured ${maxbp:-?} ms/s at most, expected 700..1000"
status_field wm_lag_ms | grep -q . && fail "wm_lag_ms without event time"
grep -qE "\[jm\]   gen +2 +0 +$rows2\$" "$WORK/err" || fail "summary: gen did not emit $rows2"
grep -qE "\[jm\]   slow +2 +$rows2 +0  \(sink\)\$" "$WORK/err" || fail "summary: slow did not get $rows2"
echo "PASS metrics ($nstatus status lines; generator backpressured up to $maxbp ms/s)"
