#!/usr/bin/env bash
# Stop signals (USER-GUIDE "Signals and exit codes"):
# - an unbounded job without checkpointing: SIGTERM to rank 0, or SIGINT
#   to mpirun (which passes SIGTERM to every rank), ends the sources; the
#   job drains, commits exactly what the sources produced and every rank
#   exits 4 (stopped), never 0 (finished);
# - a bounded job without checkpointing is cancelled: exit 3, no part file;
# - a checkpointed job stops with a savepoint (exit 4), keeps its
#   checkpoints, and --restore latest finishes it: every row exactly once.
. "$(dirname "$0")/lib.sh"
cat >"$WORK/unbounded.yaml" <<YAML
name: unbounded
operators:
  - uid: gen
    source: generator
    rows-per-second: 5000
    fields:
      - {name: k, type: string, kind: random, cardinality: 5, prefix: key}
      - {name: ts, type: timestamp, kind: event-time, start: 0, interval: 1ms}
    watermark: {field: ts}
  - {uid: counts, type: window, key-by: k, window: {type: tumbling, size: 1s}, aggregates: [count]}
  - {uid: out, sink: file, path: "$WORK/out-\${run}"}
parameters: {run: {default: a}}
YAML

# start RUN: launch in the background; waits until the job is running.
start() {
  mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run \
    "$WORK/unbounded.yaml" --run "$1" >"$WORK/$1.out" 2>"$WORK/$1.err" &
  PID=$!
  for _ in $(seq 100); do
    [ "$(grep -c 'bound to\|not pinned' "$WORK/$1.err" || true)" -ge 2 ] && break
    sleep 0.1
  done
  sleep 2
}
# check RUN: the job stopped in order, committed, and counted every record.
check() {
  local run=$1
  grep -q "stopping job 'unbounded'" "$WORK/$run.err" || { cat "$WORK/$run.err"; fail "$run: no stop"; }
  [ "$(grep -c 'stopping: ending the sources' "$WORK/$run.err")" -eq 2 ] || fail "$run: a TM did not stop"
  grep -q "job 'unbounded' stopped after .*did not finish" "$WORK/$run.err" || fail "$run: no summary"
  ! grep -q "job 'unbounded' finished" "$WORK/$run.err" || fail "$run: a stopped job said it finished"
  ! ls -a "$WORK/out-$run" | grep -q inprogress || fail "$run: uncommitted part files"
  produced=$(awk '$4 == "gen" {print $7}' "$WORK/$run.err")
  counted=$(cat "$WORK/out-$run"/part-* | awk -F, '{s += $NF} END {print s + 0}')
  [ -n "$produced" ] && [ "$produced" -gt 1000 ] || fail "$run: source produced '$produced'"
  [ "$produced" -eq "$counted" ] || fail "$run: $produced records produced, $counted counted"
  echo "ok: $run: $produced records, all counted"
}

# 1. SIGTERM to rank 0 (the JobManager): mpirun exits 4 (stopped).
start a
rank0=$(pgrep -f "^$MPIFLOW run $WORK/unbounded.yaml --run a" | sort -n | head -1)
t0=$(date +%s.%N)
kill -TERM "$rank0"
rc=0; timeout 20 tail --pid="$PID" -f /dev/null || rc=$?
wait "$PID" || rc=$?
[ "$rc" -eq 4 ] || { cat "$WORK/a.err"; fail "mpirun exited $rc after SIGTERM to rank 0, not 4"; }
secs=$(echo "$(date +%s.%N) - $t0" | bc)
echo "stopped in $secs s"
check a

# 2. SIGINT to mpirun: it sends SIGTERM to every rank; the ranks still
#    stop in order (mpirun itself reports the signal with its exit code).
start b
kill -INT "$PID"
timeout 20 tail --pid="$PID" -f /dev/null || fail "mpirun did not exit after SIGINT"
wait "$PID" || true
check b

# rank0 RUN: the pid of rank 0 of the job started with --run RUN
rank0() {
  local p=""
  for _ in $(seq 100); do
    p=$(pgrep -f "^$MPIFLOW run $WORK/$2 --run $1" | sort -n | head -1) && [ -n "$p" ] && break
    sleep 0.1
  done
  echo "$p"
}

# 3. A bounded job without checkpointing, SIGTERM half-way: cancelled (exit 3),
#    nothing committed, and the log says how much was read.
cat >"$WORK/bounded.yaml" <<YAML
name: bounded
operators:
  - uid: gen
    source: generator
    number-of-rows: 60000
    rows-per-second: 10000
    fields: [{name: n, type: i64, kind: sequence}]
  - {uid: out, sink: file, path: "$WORK/out-\${run}"}
parameters: {run: {default: c}}
YAML
mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run "$WORK/bounded.yaml" \
  --run c >"$WORK/c.out" 2>"$WORK/c.err" &
PID=$!
r0=$(rank0 c bounded.yaml)
for _ in $(seq 100); do grep -q "processing starts" "$WORK/c.err" && break; sleep 0.1; done
sleep 2
kill -TERM "$r0"
rc=0; wait "$PID" || rc=$?
[ "$rc" -eq 3 ] || { cat "$WORK/c.err"; fail "bounded job exited $rc after SIGTERM, not 3 (cancelled)"; }
grep -q "cancelling bounded job 'bounded'" "$WORK/c.err" || { cat "$WORK/c.err"; fail "no cancel message"; }
grep -qE "job 'bounded' cancelled after reading [1-9][0-9]* source record" "$WORK/c.err" ||
  { cat "$WORK/c.err"; fail "the log does not say how much was read"; }
! grep -q "job 'bounded' finished" "$WORK/c.err" || fail "a cancelled job said it finished"
[ -z "$(ls -A "$WORK/out-c" 2>/dev/null)" ] || { ls -la "$WORK/out-c"; fail "a cancelled bounded job left files"; }
echo "ok: bounded job cancelled by SIGTERM, exit 3, no output"

# 4. The same job with checkpointing: SIGTERM stops it with a savepoint
#    (exit 4), its checkpoints stay, and --restore latest finishes it.
CK=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/chk"
    -D state.savepoints.dir="$WORK/sp")
mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run "$WORK/bounded.yaml" \
  --run d "${CK[@]}" >"$WORK/d.out" 2>"$WORK/d.err" &
PID=$!
r0=$(rank0 d bounded.yaml)
for _ in $(seq 100); do grep -q "checkpoint [0-9]* completed" "$WORK/d.err" && break; sleep 0.1; done
sleep 1
kill -TERM "$r0"
rc=0; wait "$PID" || rc=$?
[ "$rc" -eq 4 ] || { cat "$WORK/d.err"; fail "checkpointed job exited $rc after SIGTERM, not 4 (stopped)"; }
grep -q "stopping job 'bounded' with a savepoint" "$WORK/d.err" || { cat "$WORK/d.err"; fail "no savepoint stop"; }
ls -d "$WORK/chk/bounded"/chk-* >/dev/null 2>&1 || fail "the stopped job's checkpoints are gone"
[ ! -e "$WORK/chk/bounded/_finished" ] || fail "a stopped job was marked finished"
ls -d "$WORK/sp/bounded"/savepoint-* >/dev/null 2>&1 || fail "no savepoint"
timeout 120 mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run \
  "$WORK/bounded.yaml" --run d "${CK[@]}" --restore latest >"$WORK/d2.out" 2>"$WORK/d2.err" ||
  { cat "$WORK/d2.err"; fail "resume after the signal"; }
grep -q "job 'bounded' finished" "$WORK/d2.err" || fail "the resumed job did not finish"
# Finished now: --restore latest refuses (the savepoint of the stop would
# replay output already committed) and says why.
timeout 60 mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run \
  "$WORK/bounded.yaml" --run d "${CK[@]}" --restore latest >"$WORK/d3.out" 2>"$WORK/d3.err" &&
  fail "restored a finished job"
grep -q "finished and committed its output .*_finished" "$WORK/d3.err" ||
  { cat "$WORK/d3.err"; fail "the refusal does not mention the _finished marker"; }
seq 0 59999 >"$WORK/want-d"
cat "$WORK/out-d"/part-* | LC_ALL=C sort -n | diff -q "$WORK/want-d" - >/dev/null ||
  fail "stop on SIGTERM + resume: rows lost or duplicated"
echo "ok: checkpointed job stopped with a savepoint on SIGTERM, exit 4, resumed: 60000 rows exactly once"

# 5. A second signal to rank 0 while the job stops with a savepoint cancels
#    it at once (exit 3) and keeps its checkpoints. (Many keys in open
#    windows make the savepoint slower than the few ms between the signals.)
cat >"$WORK/twice.yaml" <<YAML
name: twice
operators:
  - uid: gen
    source: generator
    rows-per-second: 200000
    fields:
      - {name: k, type: string, kind: random, cardinality: 1000000, prefix: key}
      - {name: ts, type: timestamp, kind: event-time, start: 0, interval: 1ms}
    watermark: {field: ts}
  - {uid: counts, type: window, key-by: k, window: {type: tumbling, size: 100s}, aggregates: [count]}
  - {uid: out, sink: file, path: "$WORK/out-\${run}"}
parameters: {run: {default: e}}
YAML
mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run "$WORK/twice.yaml" \
  --run e "${CK[@]}" >"$WORK/e.out" 2>"$WORK/e.err" &
PID=$!
r0=$(rank0 e twice.yaml)
for _ in $(seq 100); do grep -q "checkpoint [0-9]* completed" "$WORK/e.err" && break; sleep 0.1; done
sleep 3
kill -TERM "$r0"; sleep 0.002; kill -TERM "$r0"
rc=0; wait "$PID" || rc=$?
[ "$rc" -eq 3 ] || { cat "$WORK/e.err"; fail "two signals: exit $rc, not 3 (cancelled)"; }
grep -q "again: cancelling job 'twice' now" "$WORK/e.err" || { cat "$WORK/e.err"; fail "no escalation message"; }
ls -d "$WORK/chk/twice"/chk-* >/dev/null 2>&1 || fail "two signals: the checkpoints are gone"
echo "ok: a second signal cancels the stopping job (exit 3), checkpoints kept"
