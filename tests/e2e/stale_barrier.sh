#!/usr/bin/env bash
# A declined checkpoint is followed by a completed one (issue 10). A keyed
# job whose reducers read from sources on both TaskManagers runs under
# backpressure (a rate-limited sink, deep channel queues), so barriers
# take a few hundred ms to cross; rank 1 declines checkpoint 3 the moment
# it is triggered, and the JobManager triggers 4 a moment later, while
# barrier 3 is still on its way through rank 2. Barrier 3 then arrives
# after trigger 4: it must be subsumed (passed on, no snapshot), not
# restart the collection and throw away what checkpoint 4 had gathered --
# which made checkpoint 4 time out as well before the fix.
. "$(dirname "$0")/lib.sh"
cat >"$WORK/job.yaml" <<YAML
name: stale
operators:
  - uid: gen
    source: generator
    number-of-rows: 240000
    rows-per-second: 100000
    fields:
      - {name: k, type: string, kind: random, cardinality: 1000, prefix: key}
      - {name: v, type: i64, kind: random, min: 1, max: 10}
  - {uid: sum, type: reduce, key-by: k, function: sum, field: v}
  - {uid: out, sink: blackhole, rows-per-second: 60000}
YAML
for run in 1 2; do
  rm -rf "$WORK/chk"
  mpf_run 3 "$WORK/job.yaml" -D execution.checkpointing.interval=100ms \
    -D execution.checkpointing.timeout=2s -D state.checkpoints.dir="$WORK/chk" \
    -D execution.checkpointing.tolerable-failed-checkpoints=5 \
    -D taskmanager.network.memory.buffers-per-channel=8 \
    -D debug.inject-failure=rank=1,decline=3 || { cat "$WORK/err"; fail "run $run failed"; }
  expect_err "checkpoint 3 declined: declined on purpose"
  ! grep -q "timed out" "$WORK/err" || { grep checkpoint "$WORK/err"; fail "run $run: a checkpoint timed out"; }
  grep -q "checkpoint 4 completed" "$WORK/err" ||
    { grep checkpoint "$WORK/err"; fail "run $run: checkpoint 4 did not complete after 3 was declined"; }
  # each acknowledgement carries the state size and the longest alignment:
  # the reducers' barriers from two TaskManagers under backpressure arrive
  # apart, so some alignment takes a millisecond or more
  sed -n 's/.*checkpoint [0-9]* completed in .* (\([0-9]*\) bytes of state, alignment \([0-9.]*\) ms).*/\1 \2/p' \
    "$WORK/err" | awk '$1 > 0 { sized++ } $2 > max { max = $2 } END { exit !(sized && max >= 1) }' ||
    { grep completed "$WORK/err"; fail "run $run: no state size or alignment reported"; }
  n=$(grep -c "checkpoint [0-9]* completed" "$WORK/err")
  echo "ok: run $run: checkpoint 3 declined, 4 completed ($n completed in all)"
done
