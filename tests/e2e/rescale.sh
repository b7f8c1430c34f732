#!/usr/bin/env bash
# Committed output across rescalings and restores (issue 9): a keyed
# rolling sum with the transactional file sink is stopped with a savepoint
# on 3 TaskManagers, resumed on 2 and stopped, resumed on 3 and stopped,
# and finished on 2. A sink subtask that did not exist in the restored
# savepoint must not reuse the part names its index had in an earlier run
# (not even when those files were taken out of the directory meanwhile);
# every committed file keeps its bytes to the end, and the union of the
# part files equals an independent computation over the generated rows,
# exactly once. Then a savepoint restored into another output directory
# (its staged parts are committed where they were written), and restores
# that would replace a committed file or whose staged parts are gone
# (refused before anything runs, naming the operator and the file).
# The generator keeps parallelism 1 (so the test does not depend on
# sources changing parallelism); the sum and the sink follow the
# TaskManager count.
. "$(dirname "$0")/lib.sh"
job() { # job NAME [PATH]: generator (parallelism 1) -> key-by -> rolling sum -> file sink
  cat <<YAML
name: $1
operators:
  - uid: gen
    source: generator
    parallelism: 1
    number-of-rows: 200000
    rows-per-second: 25000
    seed: 17
    fields:
      - {name: k, type: string, kind: random, cardinality: 60, prefix: user}
      - {name: v, type: i64, kind: random, min: 1, max: 100}
  - {uid: sum, type: reduce, key-by: k, function: sum, field: v}
  - {uid: out, sink: file, path: "${2:-$WORK/$1}"}
YAML
}
CK=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/chk"
    -D state.savepoints.dir="$WORK/sp")

# The raw rows (no rate limit) and the running sums they must produce.
job raw | sed '/uid: sum/d; s/rows-per-second: 25000/rows-per-second: 0/' >"$WORK/raw.yaml"
mpf_run 2 "$WORK/raw.yaml" || { cat "$WORK/err"; fail "raw rows"; }
awk -F, '{s[$1] += $2; print $1 "," s[$1]}' "$WORK/raw/part-0-0" | LC_ALL=C sort >"$WORK/want"
[ "$(wc -l <"$WORK/want")" -eq 200000 ] || fail "reference has $(wc -l <"$WORK/want") lines"

# start NP NAME ARGS...: run the job in the background, wait for its REST API
start() {
  local np=$1 name=$2; shift 2
  rm -f "$WORK/jobs/$name.json"
  timeout 120 mpirun -np "$np" --oversubscribe --mca mpi_yield_when_idle 1 \
    "$MPIFLOW" run "$WORK/$name.yaml" "$@" >"$WORK/out" 2>"$WORK/err" &
  RUN=$!
  for _ in $(seq 600); do [ -f "$WORK/jobs/$name.json" ] && return 0; sleep 0.1; done
  cat "$WORK/err"; fail "job $name did not start its REST API"
}
# stop NAME WHAT: stop the running job with a savepoint; its directory -> $SP
stop() {
  SP=$("$MPIFLOW" stop "$1") || { cat "$WORK/err"; fail "$2: stop with savepoint"; }
  local rc=0; wait "$RUN" || rc=$?
  [ "$rc" -eq 4 ] || { cat "$WORK/err"; fail "$2: stopped job exited $rc, not 4 (stopped)"; }
  expect_err "stopped with savepoint"
}
# sums DIR: the committed part files and their checksums, one per line
sums() { (cd "$1" && find . -maxdepth 1 -name 'part-*' -type f -exec sha1sum {} + | LC_ALL=C sort -k2); }
# kept DIR FILE WHAT: every file listed in FILE (from sums) is still there, unchanged
kept() {
  sums "$1" >"$WORK/now"
  local lost
  lost=$(LC_ALL=C join -1 2 -2 2 -a 1 -e MISSING -o 1.2,1.1,2.1 "$3" "$WORK/now" |
    awk '$2 != $3 {print $1 ($3 == "MISSING" ? " (gone)" : " (rewritten)")}')
  [ -z "$lost" ] || fail "$2: committed files lost or rewritten: $(echo $lost | head -c 400)"
}
exactly_once() { # exactly_once WHAT DIR...: union of committed parts = reference
  for d in "${@:2}"; do
    ! ls -a "$d" | grep -qE '\.(pending|inprogress)$' || fail "$1: leftover staged files in $d"
  done
  cat $(for d in "${@:2}"; do find "$d" -maxdepth 1 -name 'part-*' -type f; done) |
    LC_ALL=C sort >"$WORK/got"
  cmp -s "$WORK/want" "$WORK/got" || {
    echo "lost (<) / duplicated (>):"; diff "$WORK/want" "$WORK/got" | head
    fail "$1: $(diff "$WORK/want" "$WORK/got" | grep -c '^<') rows lost, $(diff "$WORK/want" "$WORK/got" | grep -c '^>') extra"
  }
  echo "ok: $1: $(wc -l <"$WORK/got") rows from $(echo "$(find "${@:2}" -maxdepth 1 -name 'part-*' | wc -l)") part files, exactly once"
}

# 1. 3 TMs -> 2 -> 3 -> 2, each run stopped with a savepoint but the last.
job chain >"$WORK/chain.yaml"
: >"$WORK/history"
prev=()
step=0
for np in 4 3 4; do
  step=$((step + 1))
  start "$np" chain "${CK[@]}" "${prev[@]}"
  sleep 1.5
  stop chain "run $step on $((np - 1)) TMs"
  [ "$step" -eq 1 ] || grep -q "restoring job 'chain' from savepoint" "$WORK/err" ||
    fail "run $step did not restore"
  prev=(--restore "$SP")
  if [ "$step" -eq 3 ]; then
    for f in "$WORK/consumed"/*; do
      [ ! -e "$WORK/chain/${f##*/}" ] || fail "run 3 used the name ${f##*/} again"
    done
    echo "ok: run 3: subtask 2 used none of the $(ls "$WORK/consumed" | wc -l) names of run 1's parts"
    mv "$WORK/consumed"/* "$WORK/chain/"
  fi
  kept "$WORK/chain" "run $step on $((np - 1)) TMs" "$WORK/history"
  sums "$WORK/chain" >"$WORK/history"
  echo "ok: run $step on $((np - 1)) TMs: $(wc -l <"$WORK/history") part files, none lost or rewritten"
  if [ "$step" -eq 2 ]; then
    # run 3 has a sink subtask 2 that the savepoint of run 2 lacks. A consumer
    # takes run 1's parts of subtask 2 away meanwhile: their names must
    # still not be used again (the sink's state remembers them).
    mkdir -p "$WORK/consumed"
    mv "$WORK/chain"/part-2-* "$WORK/consumed/"
  fi
done
mpf_run 3 "$WORK/chain.yaml" "${CK[@]}" "${prev[@]}" || { cat "$WORK/err"; fail "run 4 on 2 TMs"; }
grep -q "restoring job 'chain' from savepoint" "$WORK/err" || fail "run 4 did not restore"
kept "$WORK/chain" "run 4 on 2 TMs (to the end)" "$WORK/history"
exactly_once "3 -> 2 -> 3 -> 2 TaskManagers through savepoints" "$WORK/chain"

# 2. A savepoint restored with another output directory: the parts it
#    staged are committed where they were written, new output goes to the
#    new directory, and together they are exactly once.
job moved "$WORK/moved-a" >"$WORK/moved.yaml"
start 4 moved "${CK[@]}"
sleep 1.5
stop moved "moved, run 1"
sp=$SP
cp -r "$sp" "$WORK/sp-moved"
sums "$WORK/moved-a" >"$WORK/history-a"
"$MPIFLOW" inspect "$sp" >"$WORK/inspect" || fail "inspect $sp"
grep -qE "out subtask [0-9]+: next part [0-9]+, [1-9][0-9]* part\(s\) staged for commit, .*; in .*moved-a" \
  "$WORK/inspect" || { cat "$WORK/inspect"; fail "inspect does not show the staged parts and their directory"; }
job moved "$WORK/moved-b" >"$WORK/moved.yaml"
mpf_run 3 "$WORK/moved.yaml" "${CK[@]}" --restore "$sp" ||
  { cat "$WORK/err"; fail "restore into another output directory"; }
kept "$WORK/moved-a" "restore into another directory" "$WORK/history-a"
ls "$WORK/moved-b"/part-* >/dev/null 2>&1 || fail "nothing was written to the new directory"
exactly_once "savepoint restored into another output directory" "$WORK/moved-a" "$WORK/moved-b"

# 3. Restores that would replace or lose a committed file are refused
#    before anything runs, naming the sink and the file; nothing is
#    committed. (a) A part the savepoint staged is staged again, but its
#    final name holds another file:
staged=$(grep -oE "out subtask [0-9]+: next part [0-9]+, [1-9]" "$WORK/inspect" | head -1)
set -- $staged
sub=${3%:} next=${6%,}
final="$WORK/moved-a/part-$sub-$((next - 1))"
[ -f "$final" ] || fail "the savepoint's staged part $final was not committed"
sha1sum "$final" >"$WORK/final.sha"
echo "a different file" >"$WORK/moved-a/.part-$sub-$((next - 1)).pending"
job moved "$WORK/moved-c" >"$WORK/moved.yaml"
mpf_run 3 "$WORK/moved.yaml" "${CK[@]}" --restore "$WORK/sp-moved" &&
  fail "a restore that would replace $final ran"
expect_err "operator 'out'.*'$final' already exists; a committed file is never replaced"
sha1sum -c --quiet "$WORK/final.sha" || fail "$final was changed"
[ -z "$(ls "$WORK/moved-c" 2>/dev/null)" ] || fail "a refused restore wrote output: $(ls "$WORK/moved-c")"
echo "ok: a restore that would replace a committed file is refused: $(grep -oE "'[^']*' already exists" "$WORK/err" | head -1)"
# (b) the staged parts are gone (the old directory was emptied):
rm -f "$WORK/moved-a"/part-* "$WORK/moved-a"/.part-*
job moved "$WORK/moved-c" >"$WORK/moved.yaml"
mpf_run 3 "$WORK/moved.yaml" "${CK[@]}" --restore "$WORK/sp-moved" &&
  fail "a savepoint whose staged parts are gone was restored"
expect_err "operator 'out'.*moved-a/\.?part-[0-9]+-[0-9]+"
! grep -q "processing starts" "$WORK/err" || fail "a refused restore started processing"
[ -z "$(ls "$WORK/moved-c" 2>/dev/null)" ] || fail "a refused restore wrote output: $(ls "$WORK/moved-c")"
echo "ok: a savepoint whose staged parts are gone is refused: $(grep -oE "operator 'out'[^;]*" "$WORK/err" | head -1)"
