#!/usr/bin/env bash
# The README's main job (jobs/hotitems-demo.sh): a run that fails on
# purpose, a resume from the latest checkpoint, and a failure-free run;
# the demo itself compares the two results, and so does this test.
. "$(dirname "$0")/lib.sh"
OUT="$WORK/demo" timeout 300 "$SRC/jobs/hotitems-demo.sh" "$(dirname "$MPIFLOW")" >"$WORK/out" 2>&1 ||
  { cat "$WORK/out"; fail "the demo failed"; }
cat "$WORK/out"
grep -q "checkpoint [0-9]* completed" "$WORK/out" || fail "no checkpoint progress shown"
grep -q "restoring job 'hotitems' from checkpoint" "$WORK/out" || fail "no restore shown"
[ "$(cat "$WORK/demo"/top3/part-* | wc -l)" -gt 100 ] || fail "too few results"
diff <(LC_ALL=C sort "$WORK/demo"/top3/part-*) <(LC_ALL=C sort "$WORK/demo"/reference/part-*) >/dev/null ||
  fail "resumed result differs from the failure-free run"
echo "ok: demo"
