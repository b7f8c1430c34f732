#!/usr/bin/env bash
# Exactly-once through a failure for the operators whose checkpoints are
# their own: the joins (window-join tumbling and session, interval-join,
# regular join), C plugins with keyed state and timers (sessions: value,
# list, map and reducing state; fraud-detector: value state, timers, a
# side output), and the file source (split positions) over a directory of
# files with a streaming word count. Each job reads for about 3 s (rate-
# limited sources) with checkpoints every 300 ms and the transactional
# file sink, is made to fail (debug.inject-failure) about half way, after
# checkpoints completed, and is resumed with --restore latest on 2
# TaskManagers, then (from a fresh failure) on 3, so keyed state moves by
# key group. The committed output must equal an independent computation
# from the raw inputs (join_ref.py, plugins_ref.py, awk): nothing lost,
# nothing twice. Also: a file source refuses to resume over changed
# input, and a socket source is refused with checkpointing on, saying why.
# Usage: checkpoint_ops.sh PLUGIN_DIR
. "$(dirname "$0")/lib.sh"
PLUGIN_DIR=${1:?plugin directory}
CK=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/chk"
    -D restart-strategy.type=none)

# latest_checkpoint JOB: the newest completed checkpoint directory.
latest_checkpoint() {
  local d best=
  for d in $(ls -d "$WORK/chk/$1"/chk-* 2>/dev/null | sort -t- -k2 -n); do
    [ -f "$d/_metadata.h5" ] && best=$d
  done
  echo "$best"
}

# has_keyed_state JOB UID...: the latest checkpoint holds keyed state of
# each operator (so the restore below really has state to move).
has_keyed_state() {
  local job=$1 chk uid; shift
  chk=$(latest_checkpoint "$job")
  [ -n "$chk" ] || fail "$job: no completed checkpoint"
  "$MPIFLOW" inspect "$chk" >"$WORK/inspect" 2>&1 || { cat "$WORK/inspect"; fail "inspect $chk"; }
  for uid in "$@"; do
    awk -v u="operator '$uid'" '$0 == u { on = 1; next } /^operator / { on = 0 }
      on && /keyed state:/ && !/none/ { found = 1 } END { exit !found }' "$WORK/inspect" ||
      { cat "$WORK/inspect"; fail "$job: checkpoint $chk has no keyed state of '$uid'"; }
  done
}

# exactly_once NAME JOB_FN RECORDS CHECK_FN [UID...]: for 2 and 3
# TaskManagers: JOB_FN OUT writes the job (output under OUT); run it on 2
# TaskManagers failing after rank 1 read RECORDS records, check that a
# checkpoint with keyed state of each UID completed first, restore on the
# TaskManagers given, and CHECK_FN OUT compares the committed output with
# the reference.
exactly_once() {
  local name=$1 jobfn=$2 records=$3 check=$4 tms out; shift 4
  for tms in 2 3; do
    out="$WORK/$name-$tms"
    rm -rf "$WORK/chk" "$out"
    $jobfn "$out" >"$WORK/$name.yaml"
    local jobname
    jobname=$(sed -n 's/^name: //p' "$WORK/$name.yaml")
    if mpf_run 3 "$WORK/$name.yaml" "${CK[@]}" -D debug.inject-failure=rank=1,records=$records; then
      fail "$name: the injected failure did not fail the job"
    fi
    expect_err "injected failure"
    local nck
    nck=$(grep -c "checkpoint [0-9]* completed" "$WORK/err" || true)
    [ "$nck" -gt 0 ] || { cat "$WORK/err"; fail "$name: no checkpoint completed before the failure"; }
    find "$out" -name 'part-*' | grep -q . || fail "$name: no part file published by a completed checkpoint"
    [ $# -eq 0 ] || has_keyed_state "$jobname" "$@"
    [ "$tms" = 2 ] && [ -n "${BEFORE_RESTORE:-}" ] && $BEFORE_RESTORE
    mpf_run $((tms + 1)) "$WORK/$name.yaml" "${CK[@]}" --restore latest ||
      { cat "$WORK/err"; fail "$name: restore on $tms TaskManagers failed"; }
    expect_err "restoring job '$jobname' from checkpoint"
    ! find "$out" -name '*.pending' -o -name '*.inprogress' | grep -q . || fail "$name: leftover staged files"
    $check "$out" || fail "$name: output after a failure and a restore on $tms TaskManagers differs"
    echo "ok: $name: failure after $nck checkpoint(s), restore on $tms TaskManagers, exactly once"
  done
}

# ------------------------------------------------------------ joins
# Event time advances ~9-10 ms per row minus a jitter below the sources'
# out-of-orderness, so no record is late and results are deterministic.
python3 - "$WORK" <<'PY'
import random, sys
w, r = sys.argv[1], random.Random(5)
BASE = 1_700_000_000_000
with open(f"{w}/left.csv", "w") as f:
    for i in range(6000):
        f.write(f"k{r.randrange(15)},{BASE + i * 9 - r.randrange(401)},{r.randrange(-500, 500)}\n")
with open(f"{w}/right.csv", "w") as f:
    for i in range(5400):
        f.write(f"k{5 + r.randrange(15)},{BASE + 250 + i * 10 - r.randrange(301)},"
                f"{r.randrange(1000)},n{i}\n")
with open(f"{w}/persons.csv", "w") as f:
    for i in range(1, 601):
        f.write(f"{i},p{i},{r.choice(['OR', 'ID', 'CA', 'WA'])}\n")
with open(f"{w}/auctions.csv", "w") as f:
    for i in range(6000):
        f.write(f"{1000 + i},{r.randrange(1, 800)},{r.randrange(20)}\n")
PY
REF="python3 $SRC/tests/e2e/join_ref.py"
LR="$WORK/left.csv $WORK/right.csv 0,1 0,1"
$REF $LR tumbling 1000 | LC_ALL=C sort >"$WORK/tumble.want"
$REF $LR session 150 | LC_ALL=C sort >"$WORK/session.want"
$REF $LR interval -300 100 | LC_ALL=C sort >"$WORK/interval.want"
$REF "$WORK/persons.csv" "$WORK/auctions.csv" 0,-1 1,-1 regular | LC_ALL=C sort >"$WORK/regular.want"
for t in tumble session interval regular; do
  [ "$(wc -l <"$WORK/$t.want")" -ge 1000 ] || fail "$t: reference has too few rows"
done

joins_job() {
  cat <<YAML
name: ckops-joins
operators:
  - {uid: L, source: file, path: "$WORK/left.csv", format: csv, parallelism: 2,
     rows-per-second: 2000,
     fields: [{name: k, type: string}, {name: ts, type: timestamp}, {name: v, type: i64}],
     watermark: {field: ts, out-of-orderness: 400ms}}
  - {uid: R, source: file, path: "$WORK/right.csv", format: csv, parallelism: 1,
     rows-per-second: 1800,
     fields: [{name: key, type: string}, {name: ts, type: timestamp}, {name: v, type: i64},
              {name: note, type: string}],
     watermark: {field: ts, out-of-orderness: 300ms}}
  - {uid: tumble, type: window-join, inputs: [L, R], key-by: [k, key],
     window: {type: tumbling, size: 1s}}
  - {uid: tumble-out, sink: file, path: "$1/tumble"}
  - {uid: session, type: window-join, inputs: [L, R], key-by: [k, key],
     window: {type: session, gap: 150ms}}
  - {uid: session-out, sink: file, path: "$1/session"}
  - {uid: interval, type: interval-join, inputs: [L, R], key-by: [k, key],
     lower-bound: -300ms, upper-bound: 100ms}
  - {uid: interval-out, sink: file, path: "$1/interval"}
  - {uid: P, source: file, path: "$WORK/persons.csv", format: csv, parallelism: 1,
     rows-per-second: 200,
     fields: [{name: id, type: i64}, {name: name, type: string}, {name: state, type: string}]}
  - {uid: A, source: file, path: "$WORK/auctions.csv", format: csv, parallelism: 2,
     rows-per-second: 2000,
     fields: [{name: id, type: i64}, {name: seller, type: i64}, {name: category, type: i64}]}
  - {uid: regular, type: join, inputs: [P, A], key-by: [id, seller], right-prefix: a_,
     retention: 1h}
  - {uid: regular-out, sink: file, path: "$1/regular"}
YAML
}
joins_check() {
  local t rc=0
  for t in tumble session interval regular; do
    cat "$1/$t"/part-* | LC_ALL=C sort >"$WORK/$t.got"
    diff "$WORK/$t.want" "$WORK/$t.got" >"$WORK/$t.diff" ||
      { head -5 "$WORK/$t.diff"; echo "$t: $(wc -l <"$WORK/$t.want") rows expected, $(wc -l <"$WORK/$t.got") committed"; rc=1; }
  done
  return $rc
}
exactly_once joins joins_job 6000 joins_check tumble session interval regular

# ------------------------------------------------------------ plugins
PREF="python3 $SRC/tests/e2e/plugins_ref.py"
$PREF gen "$WORK"
for t in sessions alerts expired; do
  $PREF ref "$t" "$WORK" >"$WORK/$t.want"
  [ -s "$WORK/$t.want" ] || fail "$t: the reference is empty"
done
plugins_job() {
  cat <<YAML
name: ckops-plugins
operators:
  - uid: transactions
    source: file
    path: "$WORK/tx.csv"
    format: csv
    parallelism: 1
    rows-per-second: 2000
    fields:
      - {name: account, type: string}
      - {name: ts, type: timestamp}
      - {name: amount, type: f64}
      - {name: category, type: string}
    watermark: {field: ts, strategy: monotonous}
  - uid: sessions
    type: plugin
    inputs: [transactions]
    plugin: "$PLUGIN_DIR/sessions.so"
    function: sessions
    key-by: account
    args: {gap: "60000", value: amount, category: category, key-as: account}
    output:
      - {name: account, type: string}
      - {name: start, type: timestamp}
      - {name: end, type: timestamp}
      - {name: count, type: i64}
      - {name: total, type: f64}
      - {name: max, type: f64}
      - {name: categories, type: i64}
      - {name: top_category, type: string}
  - {uid: sessions-out, sink: file, path: "$1/sessions"}
  - uid: detect
    type: plugin
    inputs: [transactions]
    plugin: "$PLUGIN_DIR/fraud.so"
    function: fraud-detector
    key-by: account
    args: {small: 1.0, large: 500, window: 60000}
    output:
      - {name: account, type: string}
      - {name: small_ts, type: timestamp}
      - {name: small_amount, type: f64}
      - {name: ts, type: timestamp}
      - {name: amount, type: f64}
  - {uid: alerts, sink: file, path: "$1/alerts"}
  - {uid: expired, sink: file, inputs: [detect.expired], path: "$1/expired"}
YAML
}
plugins_check() {
  local t rc=0
  for t in sessions alerts expired; do
    cat "$1/$t"/part-* >"$WORK/$t.got"
    $PREF same "$WORK/$t.got" "$WORK/$t.want" || { echo "$t differs"; rc=1; }
  done
  return $rc
}
exactly_once plugins plugins_job 3000 plugins_check sessions detect

# ------------------------------------------------------------ file source
# Six files of words, read by two source subtasks (each several files'
# byte ranges); the streaming count emits (word, n) for the n-th
# occurrence, so the output is exactly once when every (word, n) for n =
# 1..count appears once.
mkdir -p "$WORK/text"
python3 - "$WORK/text" <<'PY'
import random, sys
r = random.Random(7)
vocab = ["".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(2, 8)))
         for _ in range(300)]
for f in range(6):
    with open(f"{sys.argv[1]}/text-{f}.txt", "w") as out:
        for i in range(1000):
            out.write(" ".join(r.choice(vocab) for _ in range(r.randint(1, 10))) + "\n")
PY
cat "$WORK"/text/*.txt | awk '{ for (i = 1; i <= NF; i++) print $i "," (++c[$i]) }' |
  LC_ALL=C sort >"$WORK/words.want"
words_job() {
  cat <<YAML
name: ckops-words
operators:
  - {uid: lines, source: file, path: "$WORK/text", parallelism: 2, rows-per-second: 2000}
  - {uid: words, type: tokenize, field: line, as: word}
  - {uid: counts, type: reduce, key-by: word, function: count}
  - {uid: out, sink: file, path: "$1"}
YAML
}
words_check() {
  cat "$1"/part-* | LC_ALL=C sort >"$WORK/words.got"
  diff -q "$WORK/words.want" "$WORK/words.got" >/dev/null ||
    { echo "$(wc -l <"$WORK/words.want") rows expected, $(wc -l <"$WORK/words.got") committed"; return 1; }
}
# Before the first restore: with an input file changed, the source refuses
# to resume (its splits moved); with the file as it was, it resumes.
changed_input() {
  cp "$WORK/text/text-3.txt" "$WORK/text-3.orig"
  echo "one more line" >>"$WORK/text/text-3.txt"
  if mpf_run 3 "$WORK/words.yaml" "${CK[@]}" --restore latest; then
    fail "words: resumed over changed input"
  fi
  expect_err "operator 'lines' subtask [01]: the input files changed since the checkpoint"
  expect_err "restoring operator 'lines' subtask [01]: the input files changed"
  ! grep -q "subtask [01]: operator 'lines'" "$WORK/err" || fail "the restore error repeats its prefix"
  mv "$WORK/text-3.orig" "$WORK/text/text-3.txt"
  echo "ok: words: a changed input is refused on restore"
}
BEFORE_RESTORE=changed_input exactly_once words words_job 8000 words_check counts

# ------------------------------------------------------------ socket
cat >"$WORK/socket.yaml" <<YAML
name: ckops-socket
operators:
  - {uid: text, source: socket, port: 9}
  - {uid: out, sink: stdout}
YAML
if "$MPIFLOW" validate "$WORK/socket.yaml" -D execution.checkpointing.interval=1s \
  >"$WORK/out" 2>"$WORK/err"; then
  fail "a socket source was accepted with checkpointing on"
fi
expect_err "socket.yaml:3:[0-9]+.*source socket cannot take part in checkpoints: the data it read from the connection cannot be replayed"
"$MPIFLOW" validate "$WORK/socket.yaml" >"$WORK/out" 2>"$WORK/err" ||
  { cat "$WORK/err"; fail "a socket source without checkpointing was refused"; }
echo "ok: socket source refused with checkpointing on"
echo "PASS checkpoint_ops"
