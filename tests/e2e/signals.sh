#!/usr/bin/env bash
# Unbounded jobs run until stopped: SIGTERM to rank 0, or SIGINT to
# mpirun (which passes SIGTERM to every rank), ends the sources; the job
# drains, commits its output and every rank exits on its own. The output
# holds exactly the records the sources produced.
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
  grep -q "job 'unbounded' finished" "$WORK/$run.err" || fail "$run: no summary"
  ! ls -a "$WORK/out-$run" | grep -q inprogress || fail "$run: uncommitted part files"
  produced=$(awk '$4 == "gen" {print $7}' "$WORK/$run.err")
  counted=$(cat "$WORK/out-$run"/part-* | awk -F, '{s += $NF} END {print s + 0}')
  [ -n "$produced" ] && [ "$produced" -gt 1000 ] || fail "$run: source produced '$produced'"
  [ "$produced" -eq "$counted" ] || fail "$run: $produced records produced, $counted counted"
  echo "ok: $run: $produced records, all counted"
}

# 1. SIGTERM to rank 0 (the JobManager): mpirun exits 0.
start a
rank0=$(pgrep -f "^$MPIFLOW run $WORK/unbounded.yaml --run a" | sort -n | head -1)
t0=$(date +%s.%N)
kill -TERM "$rank0"
rc=0; timeout 20 tail --pid="$PID" -f /dev/null || rc=$?
wait "$PID" || rc=$?
[ "$rc" -eq 0 ] || { cat "$WORK/a.err"; fail "mpirun exited $rc after SIGTERM to rank 0"; }
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
