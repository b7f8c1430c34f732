#!/usr/bin/env bash
# The file source restores by the files it reads, not by how their path is
# spelled (issue 9): a checkpoint taken with a relative --input resumes
# with the absolute path of the same file, and the committed output is
# exactly once (each (word, n) for n = 1..count once, by awk); a really
# different file is still refused.
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/in"
python3 - "$WORK/in/text.txt" <<'PY'
import random, sys
r = random.Random(5)
vocab = ["".join(r.choice("klmnopqrs") for _ in range(r.randint(2, 6))) for _ in range(150)]
with open(sys.argv[1], "w") as out:
    for i in range(6000):
        out.write(" ".join(r.choice(vocab) for _ in range(r.randint(1, 8))) + "\n")
PY
tr -cs 'A-Za-z' '\n' <"$WORK/in/text.txt" | grep -v '^$' | awk '{ print $1 "," (++c[$1]) }' |
  LC_ALL=C sort >"$WORK/want"
cat >"$WORK/job.yaml" <<YAML
name: file-restore
parameters: {input: {description: text file}}
operators:
  - {uid: lines, source: file, path: "\${input}", parallelism: 2, rows-per-second: 2000}
  - {uid: words, type: tokenize, field: line, as: word}
  - {uid: counts, type: reduce, key-by: word, function: count}
  - {uid: out, sink: file, path: "$WORK/result"}
YAML
CK=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/chk"
    -D restart-strategy.type=none)
cd "$WORK"
if mpf_run 3 job.yaml "${CK[@]}" --input in/text.txt -D debug.inject-failure=rank=1,records=1500; then
  fail "the injected failure did not fail the job"
fi
expect_err "injected failure"
grep -q "checkpoint [0-9]* completed" "$WORK/err" ||
  { cat "$WORK/err"; fail "no checkpoint completed before the failure"; }

# A really different input (same name elsewhere, other content) is refused.
mkdir -p "$WORK/other" && head -n 5000 "$WORK/in/text.txt" >"$WORK/other/text.txt"
mpf_run 3 job.yaml "${CK[@]}" --input "$WORK/other/text.txt" --restore latest &&
  fail "resumed over a different input file"
expect_err "operator 'lines' subtask [01]: the input files changed since the checkpoint"

# The same file by its absolute path resumes, exactly once.
mpf_run 3 job.yaml "${CK[@]}" --input "$WORK/in/text.txt" --restore latest ||
  { cat "$WORK/err"; fail "restore with the absolute path of the same input"; }
expect_err "restoring job 'file-restore' from checkpoint"
cat "$WORK/result"/part-* | LC_ALL=C sort >"$WORK/got"
diff -q "$WORK/want" "$WORK/got" >/dev/null ||
  fail "$(wc -l <"$WORK/want") rows expected, $(wc -l <"$WORK/got") committed"
echo "PASS file_restore ($(wc -l <"$WORK/got") rows)"
