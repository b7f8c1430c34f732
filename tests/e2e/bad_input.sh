#!/usr/bin/env bash
# Bad input gets a one-line error naming what and where, a non-zero exit
# on every rank, and no output that looks complete.
. "$(dirname "$0")/lib.sh"
J="$SRC/jobs/wordcount.yaml"
printf 'alpha beta\ngamma\n' >"$WORK/in.txt"

# rejects WHAT PATTERN ARGS...: `mpiflow validate ARGS` must fail with
# PATTERN on stderr.
rejects() {
  local what=$1 pattern=$2; shift 2
  "$MPIFLOW" validate "$@" 2>"$WORK/err" && fail "$what accepted"
  expect_err "$pattern"
}

# Malformed YAML -> file:line:col.
printf 'name: x\noperators:\n  - uid: a\n    source: [file\n' >"$WORK/bad.yaml"
rejects "malformed YAML" "bad.yaml:[0-9]+:[0-9]+:" "$WORK/bad.yaml"

# Unknown operator type -> suggestion, position.
printf 'name: x\noperators:\n  - {uid: a, source: file, path: /dev/null}\n  - {uid: b, type: tokenise}\n' >"$WORK/t.yaml"
rejects "unknown type" \
  "t.yaml:4:[0-9]+: operator 'b': unknown type 'tokenise' \(did you mean 'tokenize'\?\)" "$WORK/t.yaml"

# Missing required key.
printf 'name: x\noperators:\n  - {uid: a, source: file}\n' >"$WORK/m.yaml"
rejects "missing path" "m.yaml:3:[0-9]+: .*missing required key 'path'" "$WORK/m.yaml"

# Wrong type for a key.
printf 'name: x\nparallelism: many\noperators:\n  - {uid: a, source: file, path: x}\n' >"$WORK/w.yaml"
rejects "parallelism: many" "w.yaml:2:[0-9]+: .*parallelism" "$WORK/w.yaml"

# Key-by on a missing field -> uid and field, with suggestion.
printf 'name: x\noperators:\n  - {uid: a, source: file, path: x}\n  - {uid: w, type: tokenize}\n  - {uid: c, type: reduce, key-by: wrd, function: count}\n' >"$WORK/k.yaml"
rejects "bad key-by" \
  "operator 'c': key-by field 'wrd' is not in its input \(word:string\); did you mean 'word'" "$WORK/k.yaml"

# A tab in the indentation says so, with file:line:col (issue 9).
printf 'name: x\noperators:\n\t- {uid: a, source: file, path: x}\n' >"$WORK/tab.yaml"
rejects "tab indentation" "^mpiflow: error: [^ ]*tab.yaml:3:1: tabs are not allowed for indentation" \
  "$WORK/tab.yaml"

# An operator's error about a place in the job starts with that place.
printf 'name: x\noperators:\n  - {uid: a, source: file, path: x, format: xml}\n' >"$WORK/fmt.yaml"
rejects "format: xml" "^mpiflow: error: [^ ]*fmt.yaml:3:[0-9]+: operator 'a': format must be" \
  "$WORK/fmt.yaml"

# Every numeric key is range-checked, also one-value ranges (issue 9).
rejects "max-concurrent 5" \
  "key 'execution.checkpointing.max-concurrent-checkpoints': value 5 .*only allowed value is 1" \
  "$J" -D execution.checkpointing.max-concurrent-checkpoints=5
rejects "max-concurrent -3" "value -3 .*only allowed value is 1" \
  "$J" -D execution.checkpointing.max-concurrent-checkpoints=-3
printf 'name: x\nconfig:\n  execution.checkpointing.max-concurrent-checkpoints: 2\noperators:\n  - {uid: a, source: file, path: x}\n' >"$WORK/mc.yaml"
rejects "max-concurrent in config:" "mc.yaml:3:55: key 'execution.checkpointing.max-concurrent-checkpoints'" \
  "$WORK/mc.yaml"

# A job without a sink plans and runs, with a warning from validate and
# from run (once, by the JobManager).
printf 'name: nosink\noperators:\n  - {uid: a, source: file, path: builtin:sample}\n  - {uid: w, type: tokenize}\n' >"$WORK/nosink.yaml"
"$MPIFLOW" validate "$WORK/nosink.yaml" >/dev/null 2>"$WORK/err" || fail "no-sink job refused"
expect_err "WARN .*nosink.yaml:3:3: job 'nosink' has no sink"
mpf_run 3 "$WORK/nosink.yaml" || { cat "$WORK/err"; fail "no-sink job failed"; }
[ "$(grep -c "has no sink" "$WORK/err")" = 1 ] || { cat "$WORK/err"; fail "no-sink warning not once"; }
"$MPIFLOW" validate "$J" >/dev/null 2>"$WORK/err"
! grep -q "has no sink" "$WORK/err" || fail "warning for a job with a sink"

# Unknown configuration key via -D -> suggestion; a bad value too.
rejects "unknown key" "taskmanager.numberOfTaskSlots" "$J" -D taskmanager.numberOfTaskSlot=2
rejects "bad duration" "execution.buffer-timeout" "$J" -D execution.buffer-timeout=fast

# Unknown job parameter.
rejects "unknown parameter" "unknown job parameter '--inptu' \(did you mean '--input'\?\)" "$J" --inptu x

# One rank is not enough.
rc=0; timeout 60 mpirun -np 1 "$MPIFLOW" run "$J" >/dev/null 2>"$WORK/err" || rc=$?
[ $rc -ne 0 ] || fail "1 rank accepted"
expect_err "needs at least 2 MPI ranks"

# Missing input file: every rank exits, mpirun non-zero, nothing written.
mpf_run 3 "$J" --input "$WORK/nope.txt" --output "$WORK/o1" && fail "missing input accepted"
expect_err "input path '.*nope.txt': No such file"
[ -z "$(ls -A "$WORK/o1" 2>/dev/null)" ] || fail "output written for a job that never ran"

# Output directory that cannot be created.
mpf_run 3 "$J" --input "$WORK/in.txt" --output /proc/mpiflow-out && fail "bad output dir accepted"
expect_err "cannot create output directory '/proc/mpiflow-out'"

# Output directory with an earlier run's part files.
mkdir -p "$WORK/o2" && echo old >"$WORK/o2/part-0-0"
mpf_run 2 "$J" --input "$WORK/in.txt" --output "$WORK/o2" && fail "mixed output accepted"
expect_err "already holds part-0-0"

# A bad CSV record in the middle of the input fails the job with file:line
# and commits nothing, although other subtasks finish their part.
python3 -c "
for i in range(60000): print(f'k{i%50},{i}' if i != 45000 else 'k1,notanumber')" >"$WORK/d.csv"
cat >"$WORK/csv.yaml" <<YAML
name: csv
parameters: {skip: {default: "false"}}
operators:
  - {uid: src, source: file, path: "$WORK/d.csv", format: csv, csv.ignore-parse-errors: "\${skip}",
     fields: [{name: k, type: string}, {name: v, type: i64}]}
  - {uid: sums, type: reduce, key-by: k, function: sum, field: v}
  - {uid: out, sink: file, path: "$WORK/o3"}
YAML
mpf_run 4 "$WORK/csv.yaml" && fail "bad CSV record accepted"
expect_err "operator 'src': .*d.csv:45001: col 4: field 'v': 'notanumber' is not an i64"
[ -z "$(ls -A "$WORK/o3" 2>/dev/null)" ] || fail "failed job left files: $(ls -A "$WORK/o3")"
# With csv.ignore-parse-errors the record is counted and skipped, loudly.
mpf_run 4 "$WORK/csv.yaml" --skip true || { cat "$WORK/err"; fail "skip run failed"; }
expect_err "operator 'src' skipped 1 malformed record"
got=$(cat "$WORK"/o3/part-* | awk -F, '{s+=$2} END{print s}')
want=$(grep -v notanumber "$WORK/d.csv" | awk -F, '{s+=$2} END{print s}')
[ "$got" = "$want" ] || fail "sum after skipping: got $got want $want"

# A line longer than a network buffer: clear error, not a crash.
python3 -c "print('x' * 70000)" >"$WORK/long.txt"
mpf_run 2 "$J" --input "$WORK/long.txt" --output "$WORK/o4" && fail "huge line accepted"
expect_err "long.txt:1: line .* raise taskmanager.memory.segment-size"
# A generated record larger than a network buffer: the producing operator
# is named, the job fails cleanly.
cat >"$WORK/big.yaml" <<YAML
name: big
operators:
  - {uid: gen, source: generator, number-of-rows: 3,
     fields: [{name: s, type: string, kind: random, length: 40000}]}
  - {uid: out, sink: blackhole, partition: rebalance}
YAML
mpf_run 3 "$WORK/big.yaml" && fail "oversized record accepted"
expect_err "operator 'gen': a record of 40008 bytes does not fit a record batch"
echo "PASS bad_input"
