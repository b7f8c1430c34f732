#!/usr/bin/env bash
# A STREAMING job with the local pre-aggregation (agg-phase-strategy
# TWO_PHASE) takes checkpoints: the local phase flushes its partials
# downstream at each barrier and so has no state of its own (issue 9: every
# checkpoint used to fail and the job restarted forever). The job is made
# to fail after checkpoints completed and resumes with --restore latest; the
# merging phase emits each key's running count, so the committed output is
# exactly once when each word's largest count equals an independent count
# (tr | sort | uniq -c) and no (word, count) row appears twice.
. "$(dirname "$0")/lib.sh"
python3 - "$WORK/text.txt" <<'PY'
import random, sys
r = random.Random(11)
vocab = ["".join(r.choice("abcdefghij") for _ in range(r.randint(2, 5))) for _ in range(200)]
with open(sys.argv[1], "w") as out:
    for i in range(6000):
        out.write(" ".join(r.choice(vocab) for _ in range(r.randint(1, 8))) + "\n")
PY
ref_wordcount <"$WORK/text.txt" >"$WORK/want"
cat >"$WORK/job.yaml" <<YAML
name: two-phase-ckpt
config:
  execution.runtime-mode: STREAMING
  table.optimizer.agg-phase-strategy: TWO_PHASE
operators:
  - {uid: lines, source: file, path: "$WORK/text.txt", parallelism: 2, rows-per-second: 2000}
  - {uid: words, type: tokenize, field: line, as: word}
  - {uid: counts, type: reduce, key-by: word, function: count}
  - {uid: out, sink: file, path: "$WORK/result"}
YAML
CK=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/chk")
"$MPIFLOW" validate "$WORK/job.yaml" "${CK[@]}" --taskmanagers 2 >"$WORK/plan" || fail "validate"
grep -q "counts/local" "$WORK/plan" || { cat "$WORK/plan"; fail "no local pre-aggregation planned"; }

if mpf_run 3 "$WORK/job.yaml" "${CK[@]}" -D restart-strategy.type=none \
    -D debug.inject-failure=rank=1,records=1500; then
  fail "the injected failure did not fail the job"
fi
expect_err "injected failure"
grep -q "checkpoint [0-9]* completed" "$WORK/err" ||
  { cat "$WORK/err"; fail "no checkpoint completed before the failure"; }
! grep -q "cannot be checkpointed" "$WORK/err" || { cat "$WORK/err"; fail "checkpoints refused"; }
mpf_run 3 "$WORK/job.yaml" "${CK[@]}" --restore latest || { cat "$WORK/err"; fail "restore"; }
expect_err "restoring job 'two-phase-ckpt' from checkpoint"
cat "$WORK/result"/part-* | LC_ALL=C sort >"$WORK/rows"
dups=$(uniq -d "$WORK/rows" | head -3)
[ -z "$dups" ] || fail "rows emitted twice: $dups"
awk -F, '$2 > m[$1] { m[$1] = $2 } END { for (w in m) print w "," m[w] }' "$WORK/rows" |
  LC_ALL=C sort >"$WORK/got"
diff "$WORK/want" "$WORK/got" >"$WORK/diff" ||
  { head "$WORK/diff"; fail "final counts after failure and restore differ"; }
echo "PASS two_phase_checkpoint ($(wc -l <"$WORK/got") words, $(wc -l <"$WORK/rows") updates)"
