#!/usr/bin/env bash
# Joins of two keyed streams: window-join (tumbling, sliding, session),
# interval-join with a negative lower bound, and the regular join, over
# out-of-order CSV inputs with several keys, under -np 3 and -np 4, in
# STREAMING mode with per-record and periodic watermarks and in BATCH
# mode; each result is compared with tests/e2e/join_ref.py, which joins the
# input files itself. Then plan-time errors of bad join definitions.
. "$(dirname "$0")/lib.sh"
REF="python3 $SRC/tests/e2e/join_ref.py"

# Inputs. Event time advances ~9-10 ms per row minus a jitter of up to
# 400 ms (left) / 300 ms (right), so the sources' out-of-orderness bounds
# hold and no record is late: results are deterministic.
python3 - "$WORK" <<'PY'
import random, sys
w, r = sys.argv[1], random.Random(5)
BASE = 1_700_000_000_000
with open(f"{w}/left.csv", "w") as f:
    for i in range(2000):
        f.write(f"k{r.randrange(15)},{BASE + i * 9 - r.randrange(401)},{r.randrange(-500, 500)}\n")
with open(f"{w}/right.csv", "w") as f:
    for i in range(1800):
        f.write(f"k{5 + r.randrange(15)},{BASE + 250 + i * 10 - r.randrange(301)},"
                f"{r.randrange(1000)},n{i}\n")
# Regular join: persons (id, name, state) and auctions (id, seller, category).
with open(f"{w}/persons.csv", "w") as f:
    for i in range(1, 301):
        f.write(f"{i},p{i},{r.choice(['OR', 'ID', 'CA', 'WA'])}\n")
with open(f"{w}/auctions.csv", "w") as f:
    for i in range(2000):
        f.write(f"{1000 + i},{r.randrange(1, 400)},{r.randrange(20)}\n")
PY

# job MODE EMIT: every join in one job.
job() {
  local mode=$1 emit=$2
  cat >"$WORK/job.yaml" <<YAML
name: joins
config: {execution.runtime-mode: $mode}
operators:
  - uid: L
    source: file
    path: "$WORK/left.csv"
    format: csv
    fields: [{name: k, type: string}, {name: ts, type: timestamp}, {name: v, type: i64}]
    watermark: {field: ts, out-of-orderness: 400ms, emit: $emit}
  - uid: R
    source: file
    path: "$WORK/right.csv"
    format: csv
    fields: [{name: key, type: string}, {name: ts, type: timestamp}, {name: v, type: i64},
             {name: note, type: string}]
    watermark: {field: ts, out-of-orderness: 300ms, emit: $emit}
  - {uid: tumble, type: window-join, inputs: [L, R], key-by: [k, key],
     window: {type: tumbling, size: 1s}}
  - {uid: tumble-out, sink: file, path: "$WORK/res/tumble", overwrite: true}
  - {uid: slide, type: window-join, inputs: [L, R], key-by: [k, key],
     window: {type: sliding, size: 2s, slide: 500ms}}
  - {uid: slide-out, sink: file, path: "$WORK/res/slide", overwrite: true}
  - {uid: session, type: window-join, inputs: [L, R], key-by: [k, key],
     window: {type: session, gap: 150ms}}
  - {uid: session-out, sink: file, path: "$WORK/res/session", overwrite: true}
  - {uid: interval, type: interval-join, inputs: [L, R], key-by: [k, key],
     lower-bound: -300ms, upper-bound: 100ms}
  - {uid: interval-out, sink: file, path: "$WORK/res/interval", overwrite: true}
  - {uid: P, source: file, path: "$WORK/persons.csv", format: csv,
     fields: [{name: id, type: i64}, {name: name, type: string}, {name: state, type: string}]}
  - {uid: A, source: file, path: "$WORK/auctions.csv", format: csv,
     fields: [{name: id, type: i64}, {name: seller, type: i64}, {name: category, type: i64}]}
  - {uid: regular, type: join, inputs: [P, A], key-by: [id, seller], right-prefix: a_,
     retention: 1h}
  - {uid: regular-out, sink: file, path: "$WORK/res/regular", overwrite: true}
YAML
}

# References (left key,ts columns; right key,ts columns).
LR="$WORK/left.csv $WORK/right.csv 0,1 0,1"
$REF $LR tumbling 1000 | LC_ALL=C sort >"$WORK/tumble.want"
$REF $LR sliding 2000 500 | LC_ALL=C sort >"$WORK/slide.want"
$REF $LR session 150 | LC_ALL=C sort >"$WORK/session.want"
$REF $LR interval -300 100 | LC_ALL=C sort >"$WORK/interval.want"
$REF "$WORK/persons.csv" "$WORK/auctions.csv" 0,-1 1,-1 regular | LC_ALL=C sort >"$WORK/regular.want"
for t in tumble slide session interval regular; do
  [ "$(wc -l <"$WORK/$t.want")" -ge 500 ] || fail "$t: reference has too few rows"
done

# run NP MODE EMIT
run() {
  local np=$1 mode=$2 emit=$3
  job "$mode" "$emit"
  rm -rf "$WORK/res"
  mpf_run "$np" "$WORK/job.yaml" || { cat "$WORK/err"; fail "np=$np $mode $emit: job failed"; }
  for t in tumble slide session interval regular; do
    cat "$WORK/res/$t"/part-* | LC_ALL=C sort >"$WORK/$t.got"
    diff "$WORK/$t.want" "$WORK/$t.got" >"$WORK/$t.diff" ||
      { head -20 "$WORK/$t.diff"; fail "np=$np $mode $emit: $t differs from the reference" \
        "($(wc -l <"$WORK/$t.want") expected, $(wc -l <"$WORK/$t.got") got)"; }
  done
  echo "ok: np=$np $mode watermarks=$emit ($(cat "$WORK"/*.got | wc -l) rows)"
}
run 3 STREAMING per-record
run 4 STREAMING periodic
run 4 BATCH periodic

# ------------------------------------------------------------ plan errors
# bad NAME PATTERN RWM OPS...: a job with sources L and R (R's watermark
# given by RWM, "" for none) and the given operators must fail validation
# with a message that has the job file's line:col and matches PATTERN
# (which names the uid). LFIELDS overrides L's fields.
LFIELDS_DEFAULT="[{name: k, type: string}, {name: ts, type: timestamp}, {name: v, type: i64}]"
bad() {
  local name=$1 pat=$2 rwm=$3; shift 3
  cat >"$WORK/$name.yaml" <<YAML
name: $name
operators:
  - {uid: L, source: file, path: "$WORK/left.csv", format: csv,
     fields: ${LFIELDS:-$LFIELDS_DEFAULT}, watermark: {field: ts}}
  - {uid: R, source: file, path: "$WORK/right.csv", format: csv,
     fields: [{name: key, type: string}, {name: ts, type: timestamp}, {name: v, type: i64},
              {name: note, type: string}]$rwm}
$(printf '%s\n' "$@")
  - {uid: out, sink: stdout}
YAML
  if "$MPIFLOW" validate "$WORK/$name.yaml" >"$WORK/out" 2>"$WORK/err"; then
    fail "$name: validate accepted a bad job"
  fi
  expect_err "$name.yaml:[0-9]+:[0-9]+: "
  expect_err "$pat"
  echo "ok: $name rejected: $(head -1 "$WORK/err")"
}
WM=", watermark: {field: ts}"
bad one-input "operator 'j'.*takes 2..2 inputs, has 1" "$WM" \
  "  - {uid: j, type: join, inputs: [L], key-by: k}"
bad no-key-by "operator 'j'.*needs key-by: \[left_key, right_key\]" "$WM" \
  "  - {uid: j, type: join, inputs: [L, R]}"
bad unknown-option "unknown key 'retension' in operator 'j'.*did you mean 'retention'" "$WM" \
  "  - {uid: j, type: join, inputs: [L, R], key-by: [k, key], retension: 1h}"
bad bounds "operator 'j': lower-bound \(1000 ms\) is above upper-bound \(-1000 ms\)" "$WM" \
  "  - {uid: j, type: interval-join, inputs: [L, R], key-by: [k, key], lower-bound: 1s, upper-bound: -1s}"
bad empty-interval "operator 'j'.*interval is empty" "$WM" \
  "  - {uid: j, type: interval-join, inputs: [L, R], key-by: [k, key], lower-bound: 0ms, upper-bound: 0ms, upper-exclusive: true}"
bad no-upper "operator 'j'.*missing required key 'upper-bound'" "$WM" \
  "  - {uid: j, type: interval-join, inputs: [L, R], key-by: [k, key], lower-bound: -1s}"
bad no-rowtime "operator 'j'.*needs event time on both inputs, but the right input 'R' has none" "" \
  "  - {uid: j, type: window-join, inputs: [L, R], key-by: [k, key], window: {type: tumbling, size: 1s}}"
bad no-rowtime-interval "operator 'j'.*right input 'R' has none" "" \
  "  - {uid: j, type: interval-join, inputs: [L, R], key-by: [k, key], lower-bound: -1s, upper-bound: 1s}"
bad no-window "operator 'j'.*window-join needs window:" "$WM" \
  "  - {uid: j, type: window-join, inputs: [L, R], key-by: [k, key]}"
bad window-type "operator 'j': window type must be tumbling, sliding or session, got 'hopping'" "$WM" \
  "  - {uid: j, type: window-join, inputs: [L, R], key-by: [k, key], window: {type: hopping, size: 1s}}"
bad window-no-slide "operator 'j': a sliding window needs slide" "$WM" \
  "  - {uid: j, type: window-join, inputs: [L, R], key-by: [k, key], window: {type: sliding, size: 1s}}"
bad window-zero "operator 'j': window size must be at least 1ms" "$WM" \
  "  - {uid: j, type: window-join, inputs: [L, R], key-by: [k, key], window: {type: tumbling, size: 0ms}}"
bad window-key "unknown key 'sise' in operator 'j' window" "$WM" \
  "  - {uid: j, type: window-join, inputs: [L, R], key-by: [k, key], window: {type: tumbling, sise: 1s}}"
bad key-type "operator 'j'.*keys must have one type" "$WM" \
  "  - {uid: j, type: join, inputs: [L, R], key-by: [k, v]}"
bad bad-duration "operator 'j': retention: expected a duration" "$WM" \
  "  - {uid: j, type: join, inputs: [L, R], key-by: [k, key], retention: soon}"
LFIELDS="[{name: key, type: string}, {name: ts, type: timestamp}, {name: r_key, type: i64}]" \
bad prefix-clash "operator 'j'.*'r_key' is taken too; choose another right-prefix" "$WM" \
  "  - {uid: j, type: join, inputs: [L, R], key-by: [key, key]}"
bad field-clash "operator 'j'.*adds a field 'join_time' but an input already has one" "$WM" \
  "  - {uid: m, type: interval-join, inputs: [L, R], key-by: [k, key], lower-bound: 0ms, upper-bound: 0ms}" \
  "  - {uid: j, type: interval-join, inputs: [m, R], key-by: [k, key], lower-bound: 0ms, upper-bound: 0ms, right-prefix: x_}"
echo "PASS joins"
