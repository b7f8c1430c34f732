#!/usr/bin/env bash
# Recovery beyond the windowed job of checkpoint.sh: a keyed rolling sum
# (every update is an output line) with the transactional file sink,
# supervised by `mpiflow submit`, with the JobManager and then each
# TaskManager SIGKILLed at a random moment over several seeds; the
# AT_LEAST_ONCE mode after a failure (nothing lost; counts may be higher);
# and checkpoint retention. References come from the raw generated rows.
. "$(dirname "$0")/lib.sh"
job() { # job NAME PAR: generator (parallelism PAR) -> key-by -> rolling sum -> file sink
  cat <<YAML
name: $1
operators:
  - uid: gen
    source: generator
    parallelism: $2
    number-of-rows: 160000
    rows-per-second: 50000
    seed: 11
    fields:
      - {name: k, type: string, kind: random, cardinality: 50, prefix: user}
      - {name: v, type: i64, kind: random, min: 1, max: 100}
      - {name: ts, type: timestamp, kind: event-time, start: 0, interval: 1ms}
    watermark: {field: ts}
  - {uid: sum, type: reduce, key-by: k, function: sum, field: v}
  - {uid: out, sink: file, path: "$WORK/$1"}
YAML
}
CK=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/chk")
MPIRUN=(mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1)

# Raw rows (no rate limit), and the running sums they must produce: the
# multiset of "key,sum" lines does not depend on how keys interleave.
job raw 1 | sed '/uid: sum/d; s/rows-per-second: 50000/rows-per-second: 0/' >"$WORK/raw.yaml"
mpf_run 2 "$WORK/raw.yaml" || { cat "$WORK/err"; fail "raw rows"; }
awk -F, '{s[$1] += $2; print $1 "," s[$1]}' "$WORK/raw/part-0-0" | LC_ALL=C sort >"$WORK/want"
[ "$(wc -l <"$WORK/want")" -eq 160000 ] || fail "reference has $(wc -l <"$WORK/want") lines"

# 1. Supervised; SIGKILL of rank 0 (JobManager), rank 1 and rank 2 at
#    random moments (one seed each, and the JobManager twice), each a
#    separate run: exactly once.
job sup 1 >"$WORK/sup.yaml"
for seed in 11 12 13 14; do
  for rank in $(((seed - 11) % 3)); do
    rm -rf "$WORK/chk" "$WORK/sup"
    RANDOM=$((seed * 10 + rank))
    timeout 120 "$MPIFLOW" submit --restart-attempts 3 --restart-delay 100ms -- "${MPIRUN[@]}" \
      "$MPIFLOW" run "$WORK/sup.yaml" "${CK[@]}" >"$WORK/out" 2>"$WORK/err" &
    SUP=$!
    victims=()
    for _ in $(seq 200); do
      victims=($(pgrep -f "^$MPIFLOW run $WORK/sup.yaml" | sort -n || true))
      [ "${#victims[@]}" -eq 3 ] && break
      sleep 0.05
    done
    [ "${#victims[@]}" -eq 3 ] || { cat "$WORK/err"; fail "seed $seed: expected 3 ranks, found ${#victims[@]}"; }
    sleep "$((RANDOM % 2)).$((RANDOM % 10))$((RANDOM % 10))"
    kill -KILL "${victims[$rank]}" ||
      { cat "$WORK/err"; fail "seed $seed: rank $rank had ended before the kill"; }
    wait "$SUP" || { cat "$WORK/err"; fail "seed $seed: supervised job failed after killing rank $rank"; }
    grep -q "restart 1" "$WORK/err" || { cat "$WORK/err"; fail "seed $seed rank $rank: no relaunch"; }
    cat "$WORK/sup"/part-* | LC_ALL=C sort >"$WORK/got"
    cmp -s "$WORK/want" "$WORK/got" ||
      { diff "$WORK/want" "$WORK/got" | head; fail "seed $seed: killing rank $rank lost or duplicated updates"; }
    echo "ok: seed $seed: rank $rank SIGKILLed, 160000 updates exactly once"
  done
done

# 2. AT_LEAST_ONCE: two source subtasks, so the sum has two input channels
#    that are not aligned. After a failure and an in-process restart no
#    update is lost; some may be repeated.
job alo 2 >"$WORK/alo.yaml"
job raw2 2 | sed '/uid: sum/d; s/rows-per-second: 50000/rows-per-second: 0/' >"$WORK/raw2.yaml"
sed -i 's|path: "'"$WORK"'/raw2"}|path: "'"$WORK"'/raw2", parallelism: 1}|' "$WORK/raw2.yaml"
mpf_run 3 "$WORK/raw2.yaml" || { cat "$WORK/err"; fail "raw rows at parallelism 2"; }
cut -d, -f1,2 "$WORK/raw2/part-0-0" | LC_ALL=C sort >"$WORK/rows2"
rm -rf "$WORK/chk"
mpf_run 3 "$WORK/alo.yaml" "${CK[@]}" -D execution.checkpointing.mode=AT_LEAST_ONCE \
  -D debug.inject-failure=rank=1,records=60000 -D restart-strategy.type=fixed-delay \
  -D restart-strategy.fixed-delay.delay=0ms || { cat "$WORK/err"; fail "AT_LEAST_ONCE run"; }
expect_err "restarts: 1"
python3 - "$WORK/rows2" "$WORK/alo" <<'PY' || fail "AT_LEAST_ONCE lost updates"
import collections, glob, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    k, v = line.strip().split(",")
    rows[k].append(int(v))
final = {k: sum(v) for k, v in rows.items()}
got = collections.defaultdict(int)
for f in glob.glob(sys.argv[2] + "/part-*"):
    for line in open(f):
        k, s = line.strip().split(",")
        got[k] = max(got[k], int(s))
bad = [k for k in final if got[k] < final[k]]
if bad:
    sys.exit("keys whose final sum is below the truth: %s" % bad[:5])
print("ok: AT_LEAST_ONCE after a failure: every key's final sum >= the truth (%d keys, %d above)"
      % (len(final), sum(got[k] > final[k] for k in final)))
PY

# 3. Retention: state.checkpoints.num-retained=3 keeps exactly the three
#    newest completed checkpoints (a failed job keeps them; one in progress
#    when it failed stays incomplete, without _metadata.h5).
rm -rf "$WORK/chk" "$WORK/sup"
mpf_run 3 "$WORK/sup.yaml" "${CK[@]}" -D state.checkpoints.num-retained=3 \
  -D debug.inject-failure=rank=1,records=60000 -D restart-strategy.type=none &&
  fail "the injected failure did not fail the job"
last=$(grep -oE "checkpoint [0-9]+ completed" "$WORK/err" | awk '{print $2}' | sort -n | tail -1)
[ -n "$last" ] && [ "$last" -ge 4 ] || { cat "$WORK/err"; fail "fewer than 4 checkpoints completed"; }
kept=$(cd "$WORK/chk/sup" && ls chk-*/_metadata.h5 | cut -d/ -f1 | sort -t- -k2 -n | tr '\n' ' ')
[ "$kept" = "chk-$((last - 2)) chk-$((last - 1)) chk-$last " ] || fail "retention kept '$kept', newest is $last"
echo "ok: retention keeps the 3 newest: $kept"
