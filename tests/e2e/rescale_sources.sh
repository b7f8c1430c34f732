#!/usr/bin/env bash
# Generated sources restore at any parallelism (issue 9): a generator with
# no `parallelism:` (so it follows the TaskManager count) feeds an
# event-time tumbling window; the job is stopped with a savepoint on 3
# TaskManagers, resumed on 2, stopped, resumed on 3, stopped, and finished
# on 1. Every new source subtask reads the positions of all old ones and
# the rows left are dealt anew, so the committed windows equal an
# independent computation over all generated rows, exactly once.
. "$(dirname "$0")/lib.sh"
job() { # job NAME: generator (TaskManager count) -> tumbling window -> file sink
  cat <<YAML
name: $1
operators:
  - uid: gen
    source: generator
    number-of-rows: 240000
    rows-per-second: 40000
    seed: 23
    fields:
      - {name: k, type: string, kind: random, cardinality: 30, prefix: key}
      - {name: v, type: i64, kind: random, min: 1, max: 1000}
      - {name: ts, type: timestamp, kind: event-time, start: 0, interval: 1ms}
    watermark: {field: ts}
  - {uid: w, type: window, key-by: k, window: {type: tumbling, size: 10s},
     aggregates: [count, {function: sum, field: v}]}
  - {uid: out, sink: file, path: "$WORK/$1"}
YAML
}
CK=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/chk"
    -D state.savepoints.dir="$WORK/sp")

# The raw rows (one subtask, no rate limit) and the windows they make.
job raw | sed '/uid: w, type: window/,/aggregates/d; s/rows-per-second: 40000/rows-per-second: 0/' >"$WORK/raw.yaml"
mpf_run 2 "$WORK/raw.yaml" || { cat "$WORK/err"; fail "raw rows"; }
[ "$(cat "$WORK/raw"/part-* | wc -l)" -eq 240000 ] || fail "raw rows: not 240000"
cat "$WORK/raw"/part-0-0 >"$WORK/rows" # one subtask: rows in source order
python3 "$SRC/tests/e2e/window_ref.py" "$WORK/rows" tumbling size=10000 fns=count,sum |
  LC_ALL=C sort >"$WORK/want"

job gen >"$WORK/gen.yaml"
start() { # start NP ARGS...: run in the background until its REST API is up
  local np=$1; shift
  rm -f "$WORK/jobs/gen.json"
  timeout 120 mpirun -np "$np" --oversubscribe --mca mpi_yield_when_idle 1 \
    "$MPIFLOW" run "$WORK/gen.yaml" "$@" >"$WORK/out" 2>"$WORK/err" &
  RUN=$!
  for _ in $(seq 600); do [ -f "$WORK/jobs/gen.json" ] && return 0; sleep 0.1; done
  cat "$WORK/err"; fail "the job did not start its REST API"
}
stop() { # stop WHAT: stop with a savepoint after about a second of running
  for _ in $(seq 100); do grep -q "checkpoint [0-9]* completed" "$WORK/err" && break; sleep 0.1; done
  sleep 1
  "$MPIFLOW" stop gen >/dev/null || { cat "$WORK/err"; fail "$1: stop"; }
  local rc=0; wait "$RUN" || rc=$?
  [ "$rc" -eq 4 ] || { cat "$WORK/err"; fail "$1: exit $rc, not 4 (stopped)"; }
  grep -qE "gen +[0-9]+ +0 +240000" "$WORK/err" && fail "$1: read every row before the stop: test too fast"
  echo "ok: $1"
}
start 4 "${CK[@]}"
stop "3 TaskManagers, stopped with a savepoint"
start 3 "${CK[@]}" --restore latest
expect_err "restoring job 'gen' from savepoint"
stop "resumed on 2 TaskManagers, stopped"
start 4 "${CK[@]}" --restore latest
stop "resumed on 3 TaskManagers, stopped"
"$MPIFLOW" inspect "$(ls -d "$WORK/sp/gen"/savepoint-* | sort -t- -k2n | tail -1)" >"$WORK/inspect" ||
  fail "inspect the last savepoint"
grep -qE "gen subtask 2: next row [0-9]+ \(every 3" "$WORK/inspect" ||
  { cat "$WORK/inspect"; fail "inspect does not show the re-split source positions"; }
mpf_run 2 "$WORK/gen.yaml" "${CK[@]}" --restore latest || { cat "$WORK/err"; fail "finish on 1 TaskManager"; }
expect_err "job 'gen' finished"

! ls -a "$WORK/gen" | grep -qE '\.(pending|inprogress)$' || fail "leftover staged files"
cat "$WORK/gen"/part-* | LC_ALL=C sort >"$WORK/got"
diff "$WORK/want" "$WORK/got" >"$WORK/diff" ||
  { head "$WORK/diff"; fail "windows differ from the reference after 3 -> 2 -> 3 -> 1 TaskManagers"; }
echo "ok: generator at 3 -> 2 -> 3 -> 1 subtasks: $(wc -l <"$WORK/got") windows over 240000 rows, exactly once"
