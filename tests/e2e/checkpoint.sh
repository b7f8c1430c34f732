#!/usr/bin/env bash
# Exactly-once through a failure: a keyed tumbling-window job with the
# transactional file sink and checkpoints every 300 ms is made to fail
# (debug.inject-failure) after some checkpoints completed, then resumed
# with --restore latest -- once on the same 2 TaskManagers and once on 3
# (key groups redistributed). The committed output must equal an
# independent computation over the generated rows: nothing lost, nothing
# twice.
. "$(dirname "$0")/lib.sh"
job() { # job NAME: the generator (parallelism 1), a window, a file sink
  cat <<YAML
name: exactly-once
operators:
  - uid: gen
    source: generator
    parallelism: 1
    number-of-rows: 300000
    rows-per-second: 100000
    seed: 3
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
CK=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/chk")

# The rows themselves, for the reference.
cat >"$WORK/raw.yaml" <<YAML
$(job raw | sed '/uid: w$/,/aggregates/d' | sed "s|path: \"$WORK/raw\"|path: \"$WORK/raw\", parallelism: 1|")
YAML
mpf_run 2 "$WORK/raw.yaml" || { cat "$WORK/err"; fail "raw rows"; }
python3 "$SRC/tests/e2e/window_ref.py" "$WORK/raw/part-0-0" tumbling size=10000 fns=count,sum |
  LC_ALL=C sort >"$WORK/want"
[ "$(wc -l <"$WORK/want")" -gt 1000 ] || fail "reference too small"

for tms in 2 3; do
  rm -rf "$WORK/chk" "$WORK/chk-kept" "$WORK/out$tms"
  job "out$tms" >"$WORK/job$tms.yaml"
  # 1. fail after ~80k records read on rank 1, with checkpoints completed
  #    before; no restart in the same MPI world
  if mpf_run 3 "$WORK/job$tms.yaml" "${CK[@]}" -D debug.inject-failure=rank=1,records=80000 \
      -D restart-strategy.type=none; then
    fail "the injected failure did not fail the job"
  fi
  expect_err "injected failure"
  grep -q "checkpoint [0-9]* completed" "$WORK/err" || { cat "$WORK/err"; fail "no checkpoint completed before the failure"; }
  ls "$WORK/out$tms"/part-* >/dev/null 2>&1 || fail "no part file published by a completed checkpoint"
  cp -r "$WORK/chk" "$WORK/chk-kept" # a finished job deletes its checkpoints
  # the size the TaskManagers acknowledged for the latest checkpoint: state
  # bytes, more than nothing and less than its files on disk
  last=$(ls -d "$WORK/chk/exactly-once"/chk-* | sort -t- -k2 -n | tail -1)
  bytes=$(sed -n "s/.*checkpoint ${last##*chk-} completed in .* ms (\([0-9]*\) bytes of state.*/\1/p" "$WORK/err")
  disk=$(cat "$last"/tm-*.h5 | wc -c)
  [ -n "$bytes" ] && [ "$bytes" -gt 0 ] && [ "$bytes" -le "$disk" ] ||
    fail "checkpoint ${last##*chk-}: reported '$bytes' bytes of state, files hold $disk"
  # 2. resume from the latest checkpoint on $tms TaskManagers
  mpf_run $((tms + 1)) "$WORK/job$tms.yaml" "${CK[@]}" --restore latest ||
    { cat "$WORK/err"; fail "restore on $tms TaskManagers failed"; }
  expect_err "restoring job 'exactly-once' from checkpoint"
  ! ls -a "$WORK/out$tms" | grep -qE '\.(pending|inprogress)$' || fail "leftover staged files"
  cat "$WORK/out$tms"/part-* | LC_ALL=C sort >"$WORK/got$tms"
  diff "$WORK/want" "$WORK/got$tms" >"$WORK/diff$tms" ||
    { head "$WORK/diff$tms"; fail "output after failure and restore on $tms TMs differs"; }
  echo "ok: failure + restore on $tms TaskManagers: $(wc -l <"$WORK/got$tms") results, exactly once"
done

# 3. Restore errors are found before anything runs.
job bad >"$WORK/bad.yaml"
sed -i 's/window: {type: tumbling, size: 10s}/window: {type: tumbling, size: 10s}\n    parallelism: 1/' "$WORK/bad.yaml"
sed -i 's/aggregates: \[count, {function: sum, field: v}\]/aggregates: [count]/' "$WORK/bad.yaml"
[ -f "$WORK/chk/exactly-once/_finished" ] && ! ls -d "$WORK/chk/exactly-once"/chk-* 2>/dev/null ||
  fail "a finished job must leave _finished and no checkpoints"
rm -rf "$WORK/chk"
mv "$WORK/chk-kept" "$WORK/chk"
mpf_run 3 "$WORK/bad.yaml" "${CK[@]}" --restore latest && fail "a changed schema was restored"
expect_err "operator 'w' changed its output schema"
mpf_run 3 "$WORK/bad.yaml" "${CK[@]}" --restore "$WORK/nothing-here" && fail "a missing checkpoint was restored"
expect_err "nothing-here"
# a uid with state that the job lacks: refused unless allowed
job renamed >"$WORK/renamed.yaml"
sed -i 's/uid: w$/uid: w2/' "$WORK/renamed.yaml"
mpf_run 3 "$WORK/renamed.yaml" "${CK[@]}" --restore latest && fail "state of a missing uid was dropped silently"
expect_err "has state of operator 'w', which this job does not have"
[ ! -e "$WORK/renamed" ] || [ -z "$(ls "$WORK/renamed")" ] || fail "a refused restore wrote output"
mpf_run 3 "$WORK/renamed.yaml" "${CK[@]}" --restore latest --allow-non-restored-state \
  -D restart-strategy.type=none -D debug.inject-failure=rank=1,records=1 >/dev/null || true
expect_err "restoring job 'exactly-once' from checkpoint"
# another pipeline.max-parallelism: key groups cannot be remapped
mpf_run 3 "$WORK/job3.yaml" "${CK[@]}" --restore latest -D pipeline.max-parallelism=64 &&
  fail "a restore with another max-parallelism ran"
expect_err "taken with pipeline.max-parallelism 128, the job has 64"
# damaged files: truncated, one byte flipped, a foreign file; found before
# anything runs, naming the file; the output directory is not touched
latest=$(ls -d "$WORK/chk/exactly-once"/chk-* | sort -t- -k2 -n | tail -1)
cp -r "$latest" "$WORK/damaged"
ls -l --time-style=+%s "$WORK/out3" >"$WORK/before"
truncate -s 2000 "$WORK/damaged/tm-1.h5"
mpf_run 3 "$WORK/job3.yaml" "${CK[@]}" --restore "$WORK/damaged" && fail "a truncated checkpoint was restored"
expect_err "damaged/tm-1.h5"
rm -rf "$WORK/damaged" && cp -r "$latest" "$WORK/damaged"
# flip one byte in the middle of the window's keyed state, located with h5dump
off=$(h5dump -p -H -d /operators/w/keyed_data "$WORK/damaged/tm-2.h5" | awk '/OFFSET/ {print $2}')
size=$(h5dump -p -H -d /operators/w/keyed_data "$WORK/damaged/tm-2.h5" | awk '/SIZE/ {print $2}')
[ -n "$off" ] && [ "${size:-0}" -gt 0 ] || fail "h5dump shows no keyed_data in tm-2.h5"
python3 -c '
import sys
p, at = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 0xFF]))
' "$WORK/damaged/tm-2.h5" $((off + size / 2))
mpf_run 3 "$WORK/job3.yaml" "${CK[@]}" --restore "$WORK/damaged" && fail "a checkpoint with a flipped byte was restored"
expect_err "damaged/tm-2.h5"
rm -rf "$WORK/damaged" && cp -r "$latest" "$WORK/damaged"
head -c 4096 /dev/urandom >"$WORK/damaged/_metadata.h5"
mpf_run 3 "$WORK/job3.yaml" "${CK[@]}" --restore "$WORK/damaged" && fail "a foreign _metadata.h5 was accepted"
expect_err "damaged/_metadata.h5"
ls -l --time-style=+%s "$WORK/out3" | diff -q "$WORK/before" - >/dev/null || fail "a refused restore touched the output"
echo "ok: restore errors"

# 4. A checkpoint directory that cannot be created: checkpoints are
#    declined; the job goes on while that is tolerated (and its output is
#    still complete), and fails once it is not.
touch "$WORK/afile"
job tol >"$WORK/tol.yaml"
BADCK=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/afile/chk")
mpf_run 3 "$WORK/tol.yaml" "${BADCK[@]}" -D execution.checkpointing.tolerable-failed-checkpoints=1000 ||
  { cat "$WORK/err"; fail "tolerated checkpoint failures failed the job"; }
expect_err "checkpoint 1 declined"
cat "$WORK/tol"/part-* | LC_ALL=C sort | diff -q "$WORK/want" - >/dev/null ||
  fail "output of the job with declined checkpoints is incomplete"
rm -rf "$WORK/tol"
mpf_run 3 "$WORK/tol.yaml" "${BADCK[@]}" -D restart-strategy.type=none &&
  fail "an intolerable checkpoint failure did not fail the job"
expect_err "exceed execution.checkpointing.tolerable-failed-checkpoints \(0\)"
echo "ok: declined checkpoints"
# ... and a full file system (a 64 KiB tmpfs): checkpoints are declined
# before HDF5 writes anything, with the reason.
mkdir -p "$WORK/small"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=64k tmpfs "$WORK/small" 2>/dev/null; then
  SMALL=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/small/chk")
  rm -rf "$WORK/tol"
  mpf_run 3 "$WORK/tol.yaml" "${SMALL[@]}" -D execution.checkpointing.tolerable-failed-checkpoints=1000 ||
    { umount "$WORK/small"; cat "$WORK/err"; fail "checkpoints on a full disk failed the job"; }
  expect_err "not enough space for checkpoint state"
  cat "$WORK/tol"/part-* | LC_ALL=C sort | diff -q "$WORK/want" - >/dev/null ||
    { umount "$WORK/small"; fail "output of the job with a full checkpoint disk is incomplete"; }
  rm -rf "$WORK/tol"
  mpf_run 3 "$WORK/tol.yaml" "${SMALL[@]}" -D restart-strategy.type=none &&
    { umount "$WORK/small"; fail "a full disk beyond the tolerated count did not fail the job"; }
  umount "$WORK/small"
  expect_err "not enough space"
  echo "ok: full checkpoint file system: declined, tolerated, then failing the job"
else
  echo "skip: full-disk case needs root to mount a tmpfs"
fi

# 5. In-process failover: a task failure restarts every task in the same
#    MPI world from the latest checkpoint (restart-strategy fixed-delay).
job fo >"$WORK/fo.yaml"
rm -rf "$WORK/chk"
mpf_run 3 "$WORK/fo.yaml" "${CK[@]}" -D debug.inject-failure=rank=1,records=80000 \
  -D restart-strategy.type=fixed-delay -D restart-strategy.fixed-delay.delay=50ms ||
  { cat "$WORK/err"; fail "in-process failover"; }
expect_err "injected failure"
expect_err "restarting \(fixed-delay: restart 1 of 1"
expect_err "restarts: 1"
cat "$WORK/fo"/part-* | LC_ALL=C sort | diff -q "$WORK/want" - >/dev/null ||
  fail "in-process failover: output differs"
[ -f "$WORK/chk/exactly-once/_finished" ] && ! ls -d "$WORK/chk/exactly-once"/chk-* 2>/dev/null ||
  fail "a finished job must leave _finished and no checkpoints"
echo "ok: in-process failover from a checkpoint, exactly once; checkpoints deleted at the end"
# ... and without restarts left, the job fails with the strategy's reason.
rm -rf "$WORK/chk" "$WORK/fo"
mpf_run 3 "$WORK/fo.yaml" "${CK[@]}" -D debug.inject-failure=rank=1,records=80000 \
  -D restart-strategy.type=fixed-delay -D restart-strategy.fixed-delay.attempts=0 &&
  fail "a failure with no restart attempts left did not fail the job"
expect_err "failed \(fixed-delay: no restart attempts allowed"
echo "ok: restarts exhausted"

# 6. Supervised (`mpiflow submit`): a task failure, then SIGKILL of a
#    random rank (TaskManager or JobManager) at a random moment, over
#    several seeds; every time the committed output is exactly the
#    reference.
MPIRUN=(mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1)
job sup >"$WORK/sup.yaml"
rm -rf "$WORK/chk" "$WORK/sup"
timeout 120 "$MPIFLOW" submit --restart-attempts 2 --restart-delay 100ms -- "${MPIRUN[@]}" \
  "$MPIFLOW" run "$WORK/sup.yaml" "${CK[@]}" -D debug.inject-failure=rank=2,records=60000 \
  -D restart-strategy.type=none \
  >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; fail "supervised job with a task failure"; }
expect_err "restart 1 of 2"
cat "$WORK/sup"/part-* | LC_ALL=C sort | diff -q "$WORK/want" - >/dev/null ||
  fail "supervised restart after a task failure: output differs"
echo "ok: supervised restart after a task failure"
# A TaskManager killed after writing its part of checkpoint 3, before
# acknowledging it: the relaunch restores checkpoint 2.
rm -rf "$WORK/chk" "$WORK/sup"
timeout 120 "$MPIFLOW" submit --restart-attempts 2 --restart-delay 100ms -- "${MPIRUN[@]}" \
  "$MPIFLOW" run "$WORK/sup.yaml" "${CK[@]}" -D debug.inject-failure=rank=2,checkpoint=3 \
  >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; fail "supervised job killed in checkpoint 3"; }
expect_err "killing this rank after writing its part of checkpoint 3"
expect_err "restoring job 'exactly-once' from checkpoint 2"
cat "$WORK/sup"/part-* | LC_ALL=C sort | diff -q "$WORK/want" - >/dev/null ||
  fail "supervised restart after a kill during checkpoint 3: output differs"
echo "ok: rank killed while checkpoint 3 was written: restored from checkpoint 2, exactly once"
for seed in 1 2 3; do
  rm -rf "$WORK/chk" "$WORK/sup"
  RANDOM=$seed
  timeout 120 "$MPIFLOW" submit --restart-attempts 3 --restart-delay 100ms -- "${MPIRUN[@]}" \
    "$MPIFLOW" run "$WORK/sup.yaml" "${CK[@]}" >"$WORK/out" 2>"$WORK/err" &
  SUP=$!
  sleep "$((RANDOM % 20 / 10 + 1)).$((RANDOM % 10))"
  victims=($(pgrep -f "^$MPIFLOW run $WORK/sup.yaml" | sort -n))
  [ "${#victims[@]}" -eq 3 ] || { cat "$WORK/err"; fail "seed $seed: expected 3 ranks, found ${#victims[@]}"; }
  rank=$((RANDOM % 3))
  kill -KILL "${victims[$rank]}"
  wait "$SUP" || { cat "$WORK/err"; fail "seed $seed: supervised job failed after killing rank $rank"; }
  cat "$WORK/sup"/part-* | LC_ALL=C sort | diff -q "$WORK/want" - >/dev/null ||
    fail "seed $seed: output after killing rank $rank differs (lost or duplicated records)"
  echo "ok: seed $seed: rank $rank killed, output exactly once"
done
