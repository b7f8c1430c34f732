#!/usr/bin/env bash
# The CLI without MPI: help, version, validate's plan, config --list.
. "$(dirname "$0")/lib.sh"
"$MPIFLOW" --help | grep -q "mpiflow run" || fail "--help"
"$MPIFLOW" --version | grep -qE "^mpiflow [0-9]+\.[0-9]+" || fail "--version"
"$MPIFLOW" validate "$SRC/jobs/wordcount.yaml" --taskmanagers 3 >"$WORK/plan"
grep -q "task 0, 3 subtask(s): lines -> words -> counts/local" "$WORK/plan" || fail "chain"
grep -q "HASH from task 0, 9 channel(s)" "$WORK/plan" || fail "hash edge"
grep -q "tm-3 (rank 3): task0#2 task1#2" "$WORK/plan" || fail "placement"
"$MPIFLOW" validate "$SRC/jobs/wordcount.yaml" -D table.optimizer.agg-phase-strategy=ONE_PHASE >"$WORK/plan1"
grep -q "counts/local" "$WORK/plan1" && fail "ONE_PHASE still pre-aggregates"
"$MPIFLOW" validate "$SRC/jobs/union-sensors.yaml" --taskmanagers 2 >/dev/null || fail "DAG validate"
"$MPIFLOW" config --list >"$WORK/list"
for k in taskmanager.memory.segment-size execution.buffer-timeout pipeline.max-parallelism; do
  grep -q "$k" "$WORK/list" || fail "config --list lacks $k"
done
rc=0; "$MPIFLOW" frobnicate 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "unknown command exit code $rc"
echo "PASS cli"
