#!/usr/bin/env bash
# Savepoints: `mpiflow savepoint` and `mpiflow stop` on a running job,
# resuming from a savepoint moved to another directory on more and on
# fewer TaskManagers (key groups redistributed), SIGUSR1 and SIGTERM with
# execution.stop-with-savepoint-on-sigterm, `stop --drain`, `cancel` with
# both checkpoint retention modes, and refusals. Every committed output is
# compared with an independent computation over the generated rows.
. "$(dirname "$0")/lib.sh"
job() { # job NAME [ROWS]: generator (parallelism 1) -> tumbling window -> file sink
  cat <<YAML
name: $1
operators:
  - uid: gen
    source: generator
    parallelism: 1
    number-of-rows: ${2:-300000}
    rows-per-second: 50000
    seed: 5
    fields:
      - {name: k, type: string, kind: random, cardinality: 40, prefix: key}
      - {name: v, type: i64, kind: random, min: 1, max: 1000}
      - {name: ts, type: timestamp, kind: event-time, start: 0, interval: 1ms}
    watermark: {field: ts}
  - uid: w
    type: window
    key-by: k
    window: {type: tumbling, size: 10s}
    aggregates: [count, {function: sum, field: v}]
  - {uid: out, sink: file, path: "$WORK/$1"}
YAML
}
CK=(-D execution.checkpointing.interval=400ms -D state.checkpoints.dir="$WORK/chk"
    -D state.savepoints.dir="$WORK/sp")

# The rows themselves, for the references.
job raw | sed '/uid: w$/,/aggregates/d' | sed 's/rows-per-second: 50000/rows-per-second: 0/' >"$WORK/raw.yaml"
mpf_run 2 "$WORK/raw.yaml" || { cat "$WORK/err"; fail "raw rows"; }
python3 "$SRC/tests/e2e/window_ref.py" "$WORK/raw/part-0-0" tumbling size=10000 fns=count,sum |
  LC_ALL=C sort >"$WORK/want"
[ "$(wc -l <"$WORK/want")" -gt 1000 ] || fail "reference too small"

# start NP NAME ARGS...: run the job in the background, wait for its REST API
start() {
  local np=$1 name=$2; shift 2
  timeout 120 mpirun -np "$np" --oversubscribe --mca mpi_yield_when_idle 1 \
    "$MPIFLOW" run "$WORK/$name.yaml" "$@" >"$WORK/out" 2>"$WORK/err" &
  RUN=$!
  MPIRUN=""
  for _ in $(seq 50); do MPIRUN=$(pgrep -P "$RUN" mpirun) && break; sleep 0.05; done
  for _ in $(seq 600); do [ -f "$WORK/jobs/$name.json" ] && return 0; sleep 0.1; done
  cat "$WORK/err"; fail "job $name did not start its REST API"
}
same() { # same NAME WHAT: the committed output of job NAME equals the reference
  ! ls -a "$WORK/$1" | grep -qE '\.(pending|inprogress)$' || fail "$2: leftover staged files"
  cat "$WORK/$1"/part-* | LC_ALL=C sort >"$WORK/got"
  diff "$WORK/want" "$WORK/got" >"$WORK/diff" || { head "$WORK/diff"; fail "$2: output differs"; }
  echo "ok: $2: $(wc -l <"$WORK/got") results, exactly once"
}

# 1. savepoint, then stop with savepoint on 2 TMs; move the savepoint and
#    resume on 3 TMs (2 -> 3); and the reverse, 3 -> 2.
for pair in "2 3" "3 2"; do
  set -- $pair
  name="resc$1$2"
  job "$name" >"$WORK/$name.yaml"
  start $(($1 + 1)) "$name" "${CK[@]}"
  sleep 1
  sp1=$("$MPIFLOW" savepoint "$name") || { cat "$WORK/err"; fail "savepoint of $name"; }
  [ -f "$sp1/_metadata.h5" ] || fail "savepoint $sp1 has no _metadata.h5"
  sleep 0.5
  sp2=$("$MPIFLOW" stop "$name") || { cat "$WORK/err"; fail "stop of $name"; }
  rc=0; wait "$RUN" || rc=$?
  [ "$rc" -eq 4 ] || { cat "$WORK/err"; fail "$name: stopped job exited $rc, not 4 (stopped)"; }
  expect_err "stopped with savepoint"
  "$MPIFLOW" inspect "$sp2" >"$WORK/inspect" || fail "inspect $sp2"
  grep -q "savepoint" "$WORK/inspect" || fail "inspect does not call $sp2 a savepoint"
  grep -qE "gen subtask 0: next row [0-9]+" "$WORK/inspect" || { cat "$WORK/inspect"; fail "inspect shows no source position"; }
  mkdir -p "$WORK/moved"
  mv "$sp2" "$WORK/moved/$name"
  mpf_run $(($2 + 1)) "$WORK/$name.yaml" "${CK[@]}" --restore "$WORK/moved/$name" ||
    { cat "$WORK/err"; fail "$name: resume from the moved savepoint"; }
  expect_err "restoring job '$name' from savepoint"
  same "$name" "savepoint, stop on $1 TMs, resume on $2 TMs from a moved savepoint"
done

# 2. SIGUSR1 to mpirun (it forwards it to every rank) takes a savepoint; SIGTERM with
#    stop-with-savepoint-on-sigterm stops with one; --restore latest resumes.
job sig >"$WORK/sig.yaml"
start 3 sig "${CK[@]}" -D execution.stop-with-savepoint-on-sigterm=true
sleep 1
kill -USR1 "$MPIRUN"
for _ in $(seq 50); do grep -q "savepoint [0-9]* completed" "$WORK/err" && break; sleep 0.1; done
expect_err "SIGUSR1: taking a savepoint"
kill -TERM "$MPIRUN"
wait "$RUN" || true # mpirun reports the signal it got
expect_err "stopping job 'sig' with a savepoint"
expect_err "stopped with savepoint"
mpf_run 3 "$WORK/sig.yaml" "${CK[@]}" --restore latest || { cat "$WORK/err"; fail "sig: resume"; }
same sig "SIGUSR1 savepoint, SIGTERM stop with savepoint, --restore latest"

# 3. stop --drain: event time ends first, so every window of the rows read
#    so far fires and is committed now; the job finishes.
job drain >"$WORK/drain.yaml"
start 3 drain "${CK[@]}"
sleep 1
"$MPIFLOW" stop drain --drain >/dev/null || { cat "$WORK/err"; fail "stop --drain"; }
rc=0; wait "$RUN" || rc=$?
[ "$rc" -eq 4 ] || { cat "$WORK/err"; fail "drained job exited $rc, not 4 (stopped)"; }
expect_err "job 'drain' stopped after .*did not finish"
n=$(grep -oE 'gen +1 +0 +[0-9]+' "$WORK/err" | awk '{print $4}')
[ -n "$n" ] && [ "$n" -lt 300000 ] || { cat "$WORK/err"; fail "drain: cannot tell how many rows were read"; }
head -n "$n" "$WORK/raw/part-0-0" >"$WORK/rawpart"
python3 "$SRC/tests/e2e/window_ref.py" "$WORK/rawpart" tumbling size=10000 fns=count,sum |
  LC_ALL=C sort >"$WORK/want-drain"
cat "$WORK/drain"/part-* | LC_ALL=C sort | diff -q "$WORK/want-drain" - >/dev/null ||
  fail "stop --drain: the fired windows differ from the reference over the first $n rows"
echo "ok: stop --drain: all windows over the $n rows read fired"

# 4. cancel: checkpoints kept by default, deleted with DELETE_ON_CANCELLATION.
for mode in RETAIN_ON_CANCELLATION DELETE_ON_CANCELLATION; do
  rm -rf "$WORK/chk"
  job cancel >"$WORK/cancel.yaml"
  rm -rf "$WORK/cancel"
  start 3 cancel "${CK[@]}" -D execution.checkpointing.externalized-checkpoint-retention=$mode
  for _ in $(seq 50); do grep -q "checkpoint [0-9]* completed" "$WORK/err" && break; sleep 0.1; done
  "$MPIFLOW" cancel cancel >/dev/null || { cat "$WORK/err"; fail "cancel"; }
  rc=0; wait "$RUN" || rc=$?
  [ "$rc" -eq 3 ] || { cat "$WORK/err"; fail "cancelled job exited $rc, not 3 (cancelled)"; }
  expect_err "job 'cancel' cancelled"
  if [ $mode = RETAIN_ON_CANCELLATION ]; then
    ls -d "$WORK/chk/cancel"/chk-* >/dev/null 2>&1 || fail "$mode: checkpoints were deleted"
  else
    ! ls -d "$WORK/chk/cancel"/chk-* >/dev/null 2>&1 || fail "$mode: checkpoints were kept"
  fi
  echo "ok: cancel with $mode"
done

# 5. Refusals, with the reason.
"$MPIFLOW" savepoint no-such-job 2>"$WORK/err" && fail "a savepoint of a job that is not running"
expect_err "no running job 'no-such-job'"
cat >"$WORK/batch.yaml" <<YAML
name: batch
operators:
  - {uid: src, source: generator, number-of-rows: 100000000, rows-per-second: 100000,
     fields: [{name: k, type: i64, kind: sequence}]}
  - {uid: sink, sink: blackhole}
YAML
start 3 batch -D execution.runtime-mode=BATCH
"$MPIFLOW" savepoint batch 2>"$WORK/sperr" && fail "a savepoint of a BATCH job"
grep -q "BATCH" "$WORK/sperr" || { cat "$WORK/sperr"; fail "refusal does not say why"; }
grep -q "(mpiflow cancel batch)" "$WORK/err" || { cat "$WORK/err"; fail "a BATCH job offers savepoints it refuses"; }
"$MPIFLOW" cancel batch >/dev/null
rc=0; wait "$RUN" || rc=$?
[ "$rc" -eq 3 ] || fail "cancelled batch job exited $rc, not 3"
echo "ok: refusals"
