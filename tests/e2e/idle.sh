#!/usr/bin/env bash
# Idle inputs: a window over the union of a busy source and one that emits
# a record only every 10 s. The slow source holds back the union's
# watermark, so windows fire only at the end of input -- unless its
# watermark strategy declares `idleness`, which lets the busy source's
# watermark through and the windows fire while the job runs. Results go to
# stdout; each line is stamped when it arrives and compared with the time
# the job was stopped.
. "$(dirname "$0")/lib.sh"

job() { # job IDLENESS_LINE
  cat <<YAML
name: idle
operators:
  - uid: busy
    source: generator
    parallelism: 1
    rows-per-second: 2000
    fields: [{name: ts, type: timestamp, kind: event-time, start: 0, interval: 1ms}]
    watermark: {field: ts}
  - uid: slow
    source: generator
    parallelism: 1
    rows-per-second: 0.1
    fields: [{name: ts, type: timestamp, kind: event-time, start: 0, interval: 1ms}]
    watermark: {field: ts$1}
  - {uid: both, type: union, inputs: [busy, slow]}
  - {uid: w, type: window-all, window: {type: tumbling, size: 250ms}, aggregates: [count]}
  - {uid: out, sink: stdout, inputs: [w]}
YAML
}
job ", idleness: 300ms" >"$WORK/with.yaml"
job "" >"$WORK/without.yaml"

# run NAME: run for 3 s, stop via rank 0; prints "early late" counts of
# result lines that arrived before / after the stop.
run() {
  local name=$1
  (mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run "$WORK/$name.yaml" \
    2>"$WORK/$name.err" | while IFS= read -r line; do echo "$(date +%s.%N) $line"; done \
    >"$WORK/$name.out") &
  local pid=$!
  sleep 3.5
  local stop rank0
  rank0=$(pgrep -f "^$MPIFLOW run $WORK/$name.yaml" | sort -n | head -1)
  stop=$(date +%s.%N)
  kill -TERM "$rank0"
  wait "$pid" || true # exit 4: stopped (the summary line below is checked)
  grep -q "job 'idle' stopped after" "$WORK/$name.err" || { cat "$WORK/$name.err"; fail "$name: no summary"; }
  awk -v s="$stop" '$1 < s {e++} $1 >= s {l++} END {print e + 0, l + 0}' "$WORK/$name.out"
}
read -r early late < <(run with)
echo "with idleness: $early windows before the stop, $late after"
[ "$early" -ge 4 ] || fail "with idleness the windows should fire while the job runs (got $early)"
read -r early late < <(run without)
echo "without idleness: $early windows before the stop, $late after"
[ "$early" -eq 0 ] || fail "without idleness the slow source should hold the windows back (got $early)"
[ "$late" -ge 4 ] || fail "without idleness the windows fire when the job stops (got $late)"
