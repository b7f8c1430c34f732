#!/usr/bin/env bash
# The main demo: HotItems (top 3 items per sliding hour of generated
# e-commerce events) with a checkpoint every second, a task failure on
# purpose half-way, and a resume from the latest checkpoint; the committed
# result is then compared with a run that did not fail.
#   jobs/hotitems-demo.sh [BUILD_DIR]    (default: build; writes demo-out/)
# Runs 1 JobManager + 2 TaskManagers on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
MPIFLOW=${1:-build}/mpiflow
OUT=${OUT:-demo-out}
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
MPIRUN=(mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1)
JOB=(jobs/hotitems.yaml --events 2000000 --rate 400000)
CK=(-D execution.checkpointing.interval=1s -D state.checkpoints.dir="$OUT/checkpoints"
    -D restart-strategy.type=none)
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== 1/3: HotItems, a checkpoint every second; the tasks of rank 1 fail on purpose after reading 700,000 records"
if "${MPIRUN[@]}" "$MPIFLOW" run "${JOB[@]}" --output "$OUT/top3" "${CK[@]}" \
    -D debug.inject-failure=rank=1,records=700000 2>&1 | grep -E "checkpoint|injected|failed"; then
  :
fi
ls -d "$OUT"/checkpoints/hotitems/chk-* >/dev/null 2>&1 ||
  { echo "no checkpoint was completed before the failure" >&2; exit 1; }
echo "   committed so far: $(cat "$OUT"/top3/part-* 2>/dev/null | wc -l) result lines;" \
     "latest checkpoint: $(ls -d "$OUT"/checkpoints/hotitems/chk-*)"

echo "== 2/3: resume from the latest checkpoint (--restore latest)"
"${MPIRUN[@]}" "$MPIFLOW" run "${JOB[@]}" --output "$OUT/top3" "${CK[@]}" --restore latest 2>&1 |
  grep -E "restor|checkpoint|finished in"

echo "== 3/3: the same job without failure, for comparison"
"${MPIRUN[@]}" "$MPIFLOW" run "${JOB[@]}" --output "$OUT/reference" 2>&1 | grep -E "finished in"
if diff <(LC_ALL=C sort "$OUT"/top3/part-*) <(LC_ALL=C sort "$OUT"/reference/part-*) >/dev/null; then
  echo "OK: the failed-and-resumed run committed exactly the failure-free result" \
       "($(cat "$OUT"/top3/part-* | wc -l) lines in $OUT/top3)"
else
  echo "MISMATCH between $OUT/top3 and $OUT/reference" >&2
  exit 1
fi
