#!/usr/bin/env bash
# The web dashboard in headless Chromium (tests/e2e/dashboard.mjs does
# the browsing and the checks). A rate-limited generator (p=2) -> filter
# (p=3, rebalanced) -> keyed tumbling window chained to a file sink (p=3)
# runs on 3 TaskManagers with checkpoints every second and a REST token;
# the browser checks the page against the job file and the REST API,
# stops rank 2 (SIGSTOP) for 2.5 s and finds its column hot in the
# credit-wait heat map (a slow node), takes a savepoint with the button (refused without the token), then
# stops the job with a savepoint, and the job must exit 4 (stopped).
# Then a job whose key-by sends everything to one key must show one hot
# column in the network heat map, its injected failure in the exceptions
# and one restart, and the cancel button cancels it (3).
# Screenshots: $DASHBOARD_SHOTS, else ./dashboard (the build tree's
# tests/dashboard under ctest).
# Skips (77) only when Chromium or the node modules are missing; CI
# installs both (scripts/debian-packages.txt, npm ci).
. "$(dirname "$0")/lib.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "SKIP: no Chromium at $CHROMIUM (Debian package chromium)"; exit 77; }
command -v node >/dev/null || { echo "SKIP: no node (Debian package nodejs)"; exit 77; }
[ -f "$SRC/node_modules/playwright-core/package.json" ] ||
  { echo "SKIP: playwright-core is not installed: run npm ci in $SRC"; exit 77; }
SHOTS=${DASHBOARD_SHOTS:-$PWD/dashboard}
mkdir -p "$SHOTS"
rm -f "$SHOTS"/*.png
TOKEN=dash-token-$RANDOM$RANDOM
echo "$TOKEN" >"$WORK/token"
now_ms=$(($(date +%s) * 1000))
cat >"$WORK/job.yaml" <<YAML
name: dashboard_e2e
operators:
  - uid: gen
    source: generator
    parallelism: 2
    rows-per-second: 1000
    fields:
      - {name: k, type: i64, kind: random, min: 0, max: 63}
      - {name: v, type: i64, kind: random, min: 0, max: 999}
      - {name: ts, type: timestamp, kind: event-time, start: $now_ms, interval: 1ms}
    watermark: {field: ts, out-of-orderness: 50ms}
  - {uid: big, type: filter, parallelism: 3, condition: "v >= 100"}
  - uid: win
    type: window
    key-by: k
    parallelism: 3
    window: {type: tumbling, size: 1s}
    aggregates: [count, {function: sum, field: v}]
  - {uid: out, sink: file, parallelism: 3, path: "$WORK/out"}
YAML
timeout 200 mpirun -np 4 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run "$WORK/job.yaml" \
  -D rest.port=0 -D rest.auth.token-file="$WORK/token" \
  -D execution.checkpointing.interval=1s -D state.checkpoints.dir="$WORK/chk" \
  -D state.savepoints.dir="$WORK/sp" -D metrics.reporter.interval=500ms \
  >"$WORK/out.log" 2>"$WORK/err" &
RUN=$!
disc="$WORK/jobs/dashboard_e2e.json"
for _ in $(seq 300); do [ -f "$disc" ] && break; sleep 0.1; done
[ -f "$disc" ] || { kill $RUN 2>/dev/null; cat "$WORK/err"; fail "the job did not start its REST API"; }
URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$disc")
JID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["jid"])' "$disc")
echo "dashboard at $URL/"

rc=0
URL=$URL JID=$JID SHOTS=$SHOTS TOKEN=$TOKEN CHROMIUM=$CHROMIUM NTMS=3 \
  EXPECT='{"gen":{"parallelism":2,"kind":"generator"},"big":{"parallelism":3,"kind":"filter"},"win":{"parallelism":3,"kind":"window"},"out":{"parallelism":3,"kind":"file"}}' \
  EDGES='[["gen","big","REBALANCE"],["big","win","HASH"]]' \
  CHAINS='[["win","out"]]' \
  timeout 150 node "$SRC/tests/e2e/dashboard.mjs" || rc=$?
code=0
wait $RUN || code=$?
if [ $rc -ne 0 ]; then
  tail -20 "$WORK/err"
  fail "the browser checks failed (screenshots in $SHOTS)"
fi
[ $code -eq 4 ] || { tail -20 "$WORK/err"; fail "the job exited $code after the stop button, expected 4 (stopped)"; }
sp=$(cat "$SHOTS/stop-savepoint.txt")
[ -f "$sp/_metadata.h5" ] || fail "no _metadata.h5 in the stop's savepoint $sp"
grep -q "stopped" "$WORK/err" || fail "the JobManager's summary does not say stopped"
echo "ok: the stop button stopped the job with savepoint $sp (exit 4)"

# A skewed key-by (every record has key 0): one hot column in the heat
# map. Rank 3 -- it holds subtask 2 of agg, which owns key 0 and so reads
# every record -- fails once early on (debug.inject-failure) and the job
# restarts: the page lists the exception and counts the restart. Then the
# cancel button (no token configured here).
cat >"$WORK/skew.yaml" <<YAML
name: dashboard_skew
operators:
  - uid: gen
    source: generator
    parallelism: 3
    rows-per-second: 3000
    fields:
      - {name: k, type: i64, kind: random, min: 0, max: 0}
      - {name: v, type: i64, kind: random, min: 0, max: 999}
  - {uid: agg, type: reduce, key-by: k, parallelism: 3, function: count}
  - {uid: sink, sink: blackhole, parallelism: 3}
YAML
timeout 120 mpirun -np 4 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run "$WORK/skew.yaml" \
  -D rest.port=0 -D metrics.reporter.interval=500ms -D debug.inject-failure=rank=3,records=1500 \
  -D restart-strategy.type=fixed-delay -D restart-strategy.fixed-delay.delay=200ms \
  >"$WORK/skew.log" 2>"$WORK/skew.err" &
RUN=$!
disc="$WORK/jobs/dashboard_skew.json"
for _ in $(seq 300); do [ -f "$disc" ] && break; sleep 0.1; done
[ -f "$disc" ] || { kill $RUN 2>/dev/null; cat "$WORK/skew.err"; fail "the skewed job did not start its REST API"; }
URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$disc")
JID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["jid"])' "$disc")
rc=0
MODE=skew URL=$URL JID=$JID SHOTS=$SHOTS TOKEN=none CHROMIUM=$CHROMIUM \
  timeout 90 node "$SRC/tests/e2e/dashboard.mjs" || rc=$?
code=0
wait $RUN || code=$?
[ $rc -eq 0 ] || { tail -20 "$WORK/skew.err"; fail "the skewed job's heat map or the cancel button failed"; }
[ $code -eq 3 ] || { tail -20 "$WORK/skew.err"; fail "the job exited $code after the cancel button, expected 3 (cancelled)"; }
echo "ok: the cancel button cancelled the job (exit 3); screenshots in $SHOTS"
