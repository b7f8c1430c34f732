#!/usr/bin/env bash
# Heartbeats (issue 10): a TaskManager, and then the JobManager, stopped
# with SIGSTOP is detected within heartbeat.timeout; the rank that notices
# ends the MPI world, `mpiflow submit` relaunches with --restore auto, and
# the job finishes from its latest checkpoint: every generated row is
# committed exactly once (checked against `seq`). A control message MPI
# fails to send is handled the same way.
. "$(dirname "$0")/lib.sh"
ROWS=120000
cat >"$WORK/hb.yaml" <<YAML
name: hb
operators:
  - uid: gen
    source: generator
    number-of-rows: $ROWS
    rows-per-second: 30000
    fields: [{name: n, type: i64, kind: sequence}]
  - {uid: out, sink: file, path: "$WORK/out"}
YAML
CONF=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/chk"
      -D heartbeat.interval=200ms -D heartbeat.timeout=2s)
seq 0 $((ROWS - 1)) >"$WORK/want"

# stop_rank INDEX WHO: run supervised, SIGSTOP rank INDEX (0: the JobManager)
# after a checkpoint, and check detection, relaunch and exactly-once output.
stop_rank() {
  local idx=$1 who=$2
  rm -rf "$WORK/chk" "$WORK/out"
  timeout 150 "$MPIFLOW" submit --restart-attempts 2 --restart-delay 100ms -- \
    mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 \
    "$MPIFLOW" run "$WORK/hb.yaml" "${CONF[@]}" >"$WORK/o" 2>"$WORK/e" &
  local sup=$! ranks=()
  for _ in $(seq 200); do
    ranks=($(pgrep -f "^$MPIFLOW run $WORK/hb.yaml" | sort -n || true))
    [ "${#ranks[@]}" -eq 3 ] && grep -q "checkpoint [0-9]* completed" "$WORK/e" && break
    sleep 0.05
  done
  [ "${#ranks[@]}" -eq 3 ] || { cat "$WORK/e"; fail "$who: expected 3 ranks"; }
  local t0 t1
  t0=$(date +%s.%N)
  kill -STOP "${ranks[$idx]}"
  for _ in $(seq 200); do grep -q "sent nothing for" "$WORK/e" && break; sleep 0.05; done
  t1=$(date +%s.%N)
  grep -q "$3 sent nothing for" "$WORK/e" || { cat "$WORK/e"; fail "$who: the stop was not detected"; }
  local secs
  secs=$(echo "$t1 - $t0" | bc)
  [ "$(echo "$secs < 6" | bc)" -eq 1 ] || fail "$who: detected after $secs s (timeout 2 s)"
  kill -CONT "${ranks[$idx]}" 2>/dev/null || true # if it still exists, let mpirun end it
  wait "$sup" || { cat "$WORK/e"; fail "$who: the supervised job did not finish"; }
  grep -q "relaunch\|restart" "$WORK/e" || { cat "$WORK/e"; fail "$who: no relaunch"; }
  grep -q "restoring job 'hb' from checkpoint" "$WORK/e" || { cat "$WORK/e"; fail "$who: not resumed from a checkpoint"; }
  ! ls -a "$WORK/out" | grep -qE '\.(pending|inprogress)$' || fail "$who: leftover staged files"
  cat "$WORK/out"/part-* | LC_ALL=C sort -n >"$WORK/got"
  cmp -s "$WORK/want" "$WORK/got" ||
    fail "$who: $(diff "$WORK/want" "$WORK/got" | grep -c '^<') rows lost, $(diff "$WORK/want" "$WORK/got" | grep -c '^>') duplicated"
  echo "ok: $who SIGSTOPped: detected after $secs s, relaunched, $ROWS rows exactly once"
}
stop_rank 1 "TaskManager rank 1" "TaskManager rank 1"
stop_rank 0 "the JobManager" "the JobManager (rank 0)"

# A control message that MPI fails to send (debug.inject-failure control=N
# on TaskManager rank 1, about 2 s in: heartbeats alone are 5 a second) is
# an error naming the ranks, never silence: the rank ends the MPI world
# and the supervised job resumes from its latest checkpoint, every row once.
rm -rf "$WORK/chk" "$WORK/out"
timeout 150 "$MPIFLOW" submit --restart-attempts 2 --restart-delay 100ms -- \
  mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 \
  "$MPIFLOW" run "$WORK/hb.yaml" "${CONF[@]}" -D debug.inject-failure=rank=1,control=10 \
  >"$WORK/o" 2>"$WORK/e" || { cat "$WORK/e"; fail "control failure: the supervised job did not finish"; }
grep -qE "rank 1: sending [A-Z]+ \(control message\) to rank 0: .*the control plane failed" "$WORK/e" ||
  { cat "$WORK/e"; fail "control failure: no error naming rank 1, the peer and the message"; }
grep -q "restoring job 'hb' from checkpoint" "$WORK/e" || { cat "$WORK/e"; fail "control failure: not resumed from a checkpoint"; }
cat "$WORK/out"/part-* | LC_ALL=C sort -n >"$WORK/got"
cmp -s "$WORK/want" "$WORK/got" || fail "control failure: output differs from seq 0..$((ROWS - 1))"
echo "ok: a failed control message ended the world; relaunched, $ROWS rows exactly once"
