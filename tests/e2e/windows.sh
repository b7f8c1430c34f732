#!/usr/bin/env bash
# Event-time windows (tumbling, sliding, session, count, window-all) with
# out-of-order data, late records, allowed lateness and the late side
# output, each compared with tests/e2e/window_ref.py, which simulates the
# same semantics from the raw generated rows. The source runs with
# parallelism 1 and per-record watermarks so lateness is deterministic;
# the windows run with parallelism 2 on 2 TaskManagers.
. "$(dirname "$0")/lib.sh"
REF="python3 $SRC/tests/e2e/window_ref.py"

# gen_job NAME OOO DELAY KEYS WINDOW_OPS: a job file with a generator
# (event time jittered by up to OOO ms) and the given operators after it,
# and NAME-raw.yaml that writes the same generated rows in source order.
gen_job() {
  local name=$1 ooo=$2 delay=$3 keys=$4; shift 4
  src_job "$name" "$ooo" "$delay" "$keys" "$@" >"$WORK/$name.yaml"
  src_job "$name-raw" "$ooo" "$delay" "$keys" \
    "  - {uid: out, sink: file, parallelism: 1, path: \"$WORK/$name-raw\"}" >"$WORK/$name-raw.yaml"
}
src_job() {
  local name=$1 ooo=$2 delay=$3 keys=$4; shift 4
  cat <<EOF
name: $name
operators:
  - uid: src
    source: generator
    parallelism: 1
    number-of-rows: 6000
    seed: 7
    fields:
      - {name: k, type: string, kind: random, cardinality: $keys, prefix: key}
      - {name: v, type: i64, kind: random, min: 1, max: 1000}
      - {name: ts, type: timestamp, kind: event-time, start: 0, interval: 10ms, out-of-orderness: ${ooo}ms}
    watermark: {field: ts, out-of-orderness: ${delay}ms, emit: per-record}
$(printf '%s\n' "$@")
EOF
}

# check NAME REF_ARGS...: run $WORK/NAME.yaml, compare its output (and its
# late output when there is one) with the reference.
check() {
  local name=$1; shift
  mpf_run 3 "$WORK/$name-raw.yaml" || { cat "$WORK/err"; fail "$name: raw rows failed"; }
  local RAW="$WORK/$name-raw/part-0-0"
  [ "$(wc -l <"$RAW")" -eq 6000 ] || fail "$name: raw rows: $(wc -l <"$RAW")"
  mpf_run 3 "$WORK/$name.yaml" || { cat "$WORK/err"; fail "$name: job failed"; }
  cp "$WORK/err" "$WORK/$name.log"
  cat "$WORK/$name-out"/part-* | LC_ALL=C sort >"$WORK/$name.got"
  $REF "$RAW" "$@" late="$WORK/$name.late.want" | LC_ALL=C sort >"$WORK/$name.want"
  [ -s "$WORK/$name.want" ] || fail "$name: empty reference"
  diff "$WORK/$name.want" "$WORK/$name.got" >"$WORK/$name.diff" ||
    { head -20 "$WORK/$name.diff"; fail "$name: results differ from the reference"; }
  if [ -d "$WORK/$name-late" ]; then
    cat "$WORK/$name-late"/part-* | LC_ALL=C sort >"$WORK/$name.late.got"
    LC_ALL=C sort "$WORK/$name.late.want" >"$WORK/$name.late.sorted"
    [ -s "$WORK/$name.late.sorted" ] || fail "$name: the test data has no late records"
    diff "$WORK/$name.late.sorted" "$WORK/$name.late.got" >/dev/null ||
      fail "$name: late records differ ($(wc -l <"$WORK/$name.late.sorted") expected," \
        "$(wc -l <"$WORK/$name.late.got") got)"
  fi
  echo "ok: $name ($(wc -l <"$WORK/$name.got") results)"
}

# 1. Tumbling 1 s, every aggregate, no lateness; late records to a side
#    output and their own sink.
gen_job tumbling 700 200 7 \
  "  - uid: w
    type: window
    key-by: k
    window: {type: tumbling, size: 1s}
    late-output: late
    aggregates: [count, {function: sum, field: v}, {function: min, field: v}, {function: max, field: v}, {function: avg, field: v}, {function: first, field: v}, {function: last, field: v}]
  - {uid: out, sink: file, path: \"$WORK/tumbling-out\"}
  - {uid: lateout, sink: file, path: \"$WORK/tumbling-late\", inputs: [w.late]}"
check tumbling tumbling size=1000 delay=200 fns=count,sum,min,max,avg,first,last
# Late records sent to the late output are not dropped (issue 9).
! grep -q "dropped [0-9]* late record" "$WORK/tumbling.log" ||
  { grep "late record" "$WORK/tumbling.log"; fail "tumbling: late-output records counted as dropped"; }
# Without the late output the same late records are dropped, and counted.
grep -v "late-output: late\|uid: lateout" "$WORK/tumbling.yaml" |
  sed "s|$WORK/tumbling-out|$WORK/tumbling-nolate|" >"$WORK/tumbling-nolate.yaml"
mpf_run 3 "$WORK/tumbling-nolate.yaml" || { cat "$WORK/err"; fail "tumbling without late output"; }
dropped=$(sed -n "s/.*operator 'w' dropped \([0-9]*\) late record.*/\1/p" "$WORK/err")
[ "$dropped" = "$(wc -l <"$WORK/tumbling.late.want")" ] ||
  fail "numLateRecordsDropped ${dropped:-absent}, the reference drops $(wc -l <"$WORK/tumbling.late.want")"

# 2. Sliding 2 s every 500 ms with 300 ms allowed lateness: late records
#    within it re-emit updated results.
gen_job sliding 700 100 5 \
  "  - uid: w
    type: window
    key-by: k
    window: {type: sliding, size: 2s, slide: 500ms}
    allowed-lateness: 300ms
    aggregates: [count, {function: sum, field: v}]
  - {uid: out, sink: file, path: \"$WORK/sliding-out\"}"
check sliding sliding size=2000 slide=500 delay=100 lateness=300 fns=count,sum

# 3. Session windows, 400 ms gap, over 60 keys (a key recurs every ~600 ms
#    on average, so sessions both form and merge), with lateness.
gen_job session 900 100 60 \
  "  - uid: w
    type: window
    key-by: k
    window: {type: session, gap: 400ms}
    allowed-lateness: 200ms
    late-output: late
    aggregates: [count, {function: sum, field: v}, {function: max, field: v}]
  - {uid: out, sink: file, path: \"$WORK/session-out\"}
  - {uid: lateout, sink: file, path: \"$WORK/session-late\", inputs: [w.late]}"
check session session gap=400 delay=100 lateness=200 fns=count,sum,max

# 4. Sliding count windows: the last 5 records of a key, every 2.
gen_job count 700 200 7 \
  "  - uid: w
    type: window
    key-by: k
    window: {type: count, size: 5, slide: 2}
    aggregates: [count, {function: sum, field: v}, {function: first, field: v}, {function: last, field: v}]
  - {uid: out, sink: file, path: \"$WORK/count-out\"}"
check count count size=5 slide=2 fns=count,sum,first,last

# 5. window-all: one tumbling 500 ms window over all keys.
gen_job all 700 200 7 \
  "  - uid: w
    type: window-all
    window: {type: tumbling, size: 500ms}
    aggregates: [count, {function: max, field: v}]
  - {uid: out, sink: file, path: \"$WORK/all-out\"}"
check all all size=500 delay=200 fns=count,max
grep -q "w  *1 " "$WORK/all.log" || { cat "$WORK/all.log"; fail "window-all should run with parallelism 1"; }

# 6. Processing-time tumbling windows: which window a record lands in
#    depends on the clock, but every record is counted exactly once.
cat >"$WORK/proc.yaml" <<EOF
name: proc
operators:
  - {uid: src, source: generator, number-of-rows: 20000, rows-per-second: 20000,
     fields: [{name: k, type: string, kind: random, cardinality: 3, prefix: key}]}
  - {uid: w, type: window, key-by: k, window: {type: tumbling, size: 200ms}, aggregates: [count]}
  - {uid: out, sink: file, path: "$WORK/proc-out"}
EOF
mpf_run 3 "$WORK/proc.yaml" || { cat "$WORK/err"; fail "processing-time job failed"; }
total=$(cat "$WORK/proc-out"/part-* | awk -F, '{s += $NF} END {print s}')
[ "$total" -eq 20000 ] || fail "processing-time windows counted $total of 20000 records"
today=$(date -u +%Y-%m-%d)
! cut -d, -f2 "$WORK/proc-out"/part-* | grep -v "^$today" | grep -q . ||
  fail "processing-time windows must start today ($today), not in event time"
nwin=$(cut -d, -f2 "$WORK/proc-out"/part-* | sort -u | wc -l)
[ "$nwin" -ge 3 ] || fail "processing-time windows: only $nwin distinct windows in ~1 s"
echo "ok: processing time ($nwin windows, $total records)"

# 7. Configuration errors name the uid and position.
bad() { # bad NAME PATTERN OPS...: validate must fail with PATTERN
  local name=$1 pat=$2; shift 2
  gen_job "$name" 0 0 3 "$@"
  if "$MPIFLOW" validate "$WORK/$name.yaml" >"$WORK/out" 2>"$WORK/err"; then
    fail "$name: validate accepted a bad job"
  fi
  expect_err "$pat"
}
bad nokey "operator 'w'.*needs a keyed input" \
  "  - {uid: w, type: window, window: {type: tumbling, size: 1s}, aggregates: [count]}"
bad badtype "badtype.yaml:[0-9]+:[0-9]+: operator 'w': window type must be" \
  "  - {uid: w, type: window, key-by: k, window: {type: tumbing, size: 1s}, aggregates: [count]}"
bad badagg "unknown aggregate function 'cout'.*did you mean 'count'" \
  "  - {uid: w, type: window, key-by: k, window: {type: tumbling, size: 1s}, aggregates: [cout]}"
bad badsize "size: expected a duration" \
  "  - {uid: w, type: window, key-by: k, window: {type: tumbling, size: fast}, aggregates: [count]}"
bad sumstr "sum of field 'k' needs a number" \
  "  - {uid: w, type: window, key-by: k, window: {type: tumbling, size: 1s}, aggregates: [{function: sum, field: k}]}"
bad sideout "has no side output 'lat'" \
  "  - {uid: w, type: window, key-by: k, window: {type: tumbling, size: 1s}, late-output: late, aggregates: [count]}" \
  "  - {uid: o, sink: blackhole, inputs: [w.lat]}"
echo "ok: errors"
