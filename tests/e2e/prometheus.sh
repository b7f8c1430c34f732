#!/usr/bin/env bash
# Prometheus scrapes running jobs. A real Prometheus server (Debian's
# prometheus) scrapes the REST API's GET /metrics every second.
# (1) A generator limited to $rate rows/s ($rows rows, ~10 s) feeds a sink
# on 2 TaskManagers with checkpoints every second. While it runs, a page
# fetched with curl passes `promtool check metrics` (only lint about
# Flink's camelCase names and unsuffixed counters). Afterwards Prometheus'
# HTTP API must hold what the job did: records out of the generator and
# into the sink towards $rows and never past it, no counter reset, a
# generator rate within a factor of 2 of $rate, busy/idle times within
# 0..1000 ms/s, watermarks, completed checkpoints with a size, 2
# TaskManagers with their buffer pools and traffic to each other, the job
# RUNNING, the target up. The job also has metrics.reporter.prom.port: that
# port serves a promtool-valid page with the same metrics, and 404 for
# GET /jobs.
# (2) A job of $rows2 rows with a task failure after ~10 s and a restart
# from the latest checkpoint: Prometheus sees one restart, the generator's
# counters reset (the new attempt counts from 0) under the same two series
# (no series per attempt), and their increase() adds both attempts up.
# Skips (exit 77) when prometheus is not installed
# (scripts/debian-packages.txt installs it).
. "$(dirname "$0")/lib.sh"
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  echo "SKIP: prometheus/promtool not installed (Debian package prometheus)"
  exit 77
fi
command -v curl >/dev/null 2>&1 || fail "curl is needed"
np=3
rows=20000 rate=2000
rows2=30000 # (2): the failure after ~10 s (half the records reach rank 1), ~5 s more

# a free loopback port (the kernel's choice; the REST server moves up by
# itself should another process take it first)
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pport=$(free_port)

write_config() { # write_config PORT: scrape 127.0.0.1:PORT/metrics every second
  cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: mpiflow
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$1']
YAML
}
write_config "$(free_port)"

prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$pport" --web.enable-lifecycle --log.level=warn \
  >"$WORK/prometheus.log" 2>&1 &
ppid=$!
cleanup() {
  kill "$ppid" 2>/dev/null && wait "$ppid" 2>/dev/null
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
api="http://127.0.0.1:$pport"
for _ in $(seq 100); do
  curl -sf "$api/-/ready" >/dev/null 2>&1 && break
  kill -0 "$ppid" 2>/dev/null || { cat "$WORK/prometheus.log" >&2; fail "prometheus did not start"; }
  sleep 0.1
done
curl -sf "$api/-/ready" >/dev/null || { cat "$WORK/prometheus.log" >&2; fail "prometheus not ready"; }

job_yaml() { # job_yaml NAME ROWS
  cat <<YAML
name: $1
operators:
  - uid: gen
    source: generator
    number-of-rows: $2
    rows-per-second: $rate
    fields:
      - {name: id, type: i64, kind: sequence}
      - {name: ts, type: timestamp, kind: sequence, start: $(date +%s)000}
    watermark: {field: ts, out-of-orderness: 10ms}
  - {uid: out, sink: blackhole, partition: rebalance}
YAML
}

# scrape PORT: point Prometheus at 127.0.0.1:PORT
scrape() {
  write_config "$1"
  curl -sf -X POST "$api/-/reload" >/dev/null || fail "prometheus did not reload its config"
}

# start_job NAME ROWS ARGS...: point Prometheus at a free port, run job NAME in
# the background ($jobpid) with its REST API there, wait for its discovery
# file and follow the port it took ($port) should another process have
# taken that one first
start_job() {
  local name=$1 n=$2 want
  shift 2
  want=$(free_port)
  scrape "$want"
  job_yaml "$name" "$n" >"$WORK/$name.yaml"
  mpf_run $np "$WORK/$name.yaml" -D rest.port="$want" -D metrics.reporter.interval=300ms \
    -D execution.checkpointing.interval=1s -D state.checkpoints.dir="$WORK/chk-$name" "$@" &
  jobpid=$!
  local disc="$WORK/jobs/$name.json"
  for _ in $(seq 150); do
    [ -s "$disc" ] && break
    kill -0 "$jobpid" 2>/dev/null || break
    sleep 0.1
  done
  [ -s "$disc" ] || { wait "$jobpid" || true; cat "$WORK/err" >&2; fail "no discovery file $disc"; }
  port=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["port"])' "$disc")
  [ "$port" = "$want" ] || scrape "$port"
}

# q PROMQL: the value of a query's single result (empty when none)
q() {
  curl -sf -G "$api/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json, sys
r = json.load(sys.stdin)
assert r["status"] == "success", r
v = r["data"]["result"]
if len(v) > 1:
    sys.exit("more than one result: %s" % v)
print(v[0]["value"][1] if v else "")'
}
# check NAME PROMQL LO HI: the value within [LO, HI]
check() {
  local v
  v=$(q "$2") || fail "$1: query failed: $2"
  [ -n "$v" ] || fail "$1: no data for $2"
  echo "$1 = $v" >&2
  awk -v v="$v" -v lo="$3" -v hi="$4" 'BEGIN{exit !(v >= lo && v <= hi)}' ||
    fail "$1 = $v, expected $3..$4 ($2)"
}
# The jobs have ended when these run: their series are stale, so the
# queries look back over a window.
win=5m
ops=flink_taskmanager_job_task_operator

# --- (1) one attempt ---
job=prom_e2e
start_job $job $rows -D metrics.reporter.prom.port="$(free_port)"

# while it runs: the page as the REST API serves it, checked by promtool
sleep 3
curl -sf -D "$WORK/headers" "http://127.0.0.1:$port/metrics" >"$WORK/page" ||
  fail "GET /metrics failed"
grep -qi '^content-type: text/plain; version=0.0.4' "$WORK/headers" ||
  { cat "$WORK/headers" >&2; fail "GET /metrics: not the 0.0.4 text format"; }
grep -q '^flink_taskmanager_job_task_operator_numRecordsOut{' "$WORK/page" ||
  { cat "$WORK/page" >&2; fail "the page has no numRecordsOut while the job runs"; }
# promcheck FILE: promtool passes FILE (only lint about Flink's names)
promcheck() {
  local rc=0
  promtool check metrics <"$1" >"$1.lint" 2>&1 || rc=$?
  [ $rc -eq 0 ] || [ $rc -eq 3 ] || { cat "$1.lint" >&2; fail "promtool check metrics exited $rc"; }
  if grep -v -e "should be written in 'snake_case' not 'camelCase'" \
    -e 'counter metrics should have "_total" suffix' "$1.lint" >&2; then
    fail "promtool check metrics found problems beyond the style of Flink's names ($1)"
  fi
}
promcheck "$WORK/page"

# the separate Prometheus port: /metrics and nothing else
pp=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["prom-port"])' \
  "$WORK/jobs/$job.json") || fail "no prom-port in the discovery file"
names() { grep '^# TYPE ' "$1" | sort; }
for try in 1 2 3; do # a snapshot between the two fetches may add a series
  curl -sf "http://127.0.0.1:$pp/metrics" >"$WORK/prompage" || fail "GET /metrics on $pp failed"
  curl -sf "http://127.0.0.1:$port/metrics" >"$WORK/page2" || fail "GET /metrics failed"
  [ "$(names "$WORK/prompage")" = "$(names "$WORK/page2")" ] && break
  [ $try -lt 3 ] || { diff <(names "$WORK/prompage") <(names "$WORK/page2") >&2;
    fail "the Prometheus port's metrics differ from the REST port's"; }
done
promcheck "$WORK/prompage"
grep -q '^flink_taskmanager_job_task_operator_numRecordsOut{' "$WORK/prompage" ||
  fail "the Prometheus port's page has no numRecordsOut"
for path in /jobs /overview /; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$pp$path")
  [ "$code" = 404 ] || fail "GET $path on the Prometheus port: $code, expected 404"
done
echo "ok: metrics.reporter.prom.port $pp"

wait "$jobpid" || { cat "$WORK/err" >&2; fail "the job failed"; }
grep -qE "\[jm\]   out +2 +$rows +0  \(sink\)\$" "$WORK/err" || fail "summary: out did not get $rows"
expect_err "Prometheus metrics at http://127.0.0.1:$pp/metrics"
sleep 1.5 # one more scrape interval: the last scrape's samples are in

target="{instance=\"127.0.0.1:$port\"}"
J="job_name=\"$job\""
check "target up" "max_over_time(up$target[$win])" 1 1
check "scrapes" "count_over_time(up$target[$win])" 3 1000
check "generator records out" \
  "sum(max_over_time(${ops}_numRecordsOut{$J,operator_name=\"gen\"}[$win]))" $((rows / 2)) $rows
check "sink records in" \
  "sum(max_over_time(${ops}_numRecordsIn{$J,operator_name=\"out\"}[$win]))" $((rows / 2)) $rows
check "generator subtasks" \
  "count(max_over_time(${ops}_numRecordsOut{$J,operator_name=\"gen\"}[$win]))" 2 2
# the counters only grow (one attempt)
check "generator counter resets" \
  "sum(resets(${ops}_numRecordsOut{$J,operator_name=\"gen\"}[$win]))" 0 0
# the generator's rate, the median over the run (a stalled rank catches up
# in bursts)
check "generator rate (counter)" \
  "quantile_over_time(0.5, sum(rate(${ops}_numRecordsOut{$J,operator_name=\"gen\"}[3s]))[$win:1s])" \
  $((rate / 2)) $((rate * 2))
check "generator rate (gauge)" \
  "quantile_over_time(0.5, sum(${ops}_numRecordsOutPerSecond{$J,operator_name=\"gen\"})[$win:1s])" \
  $((rate / 2)) $((rate * 2))
check "busy time" \
  "max(max_over_time(flink_taskmanager_job_task_busyTimeMsPerSecond{$J}[$win]))" 0 1100
check "idle time" \
  "max(max_over_time(flink_taskmanager_job_task_idleTimeMsPerSecond{$J}[$win]))" 1 1100
check "output watermark" \
  "max(max_over_time(${ops}_currentOutputWatermark{$J,operator_name=\"gen\"}[$win]))" \
  1000000000000 9000000000000
check "TaskManagers" "max_over_time(flink_jobmanager_numRegisteredTaskManagers$target[$win])" 2 2
check "running" "max_over_time(flink_jobmanager_job_runningState{$J}[$win])" 1 1
check "uptime" "max_over_time(flink_jobmanager_job_uptime{$J}[$win])" 1000 60000
check "completed checkpoints" \
  "max_over_time(flink_jobmanager_job_numberOfCompletedCheckpoints{$J}[$win])" 1 100
check "last checkpoint size" \
  "max_over_time(flink_jobmanager_job_lastCheckpointSize{$J}[$win])" 1 1e9
check "buffer pool" \
  "count(max_over_time(flink_taskmanager_Status_Shuffle_Netty_UsedMemorySegments$target[$win]))" 2 2
# the network matrix: a rebalance from 2 generators to 2 sinks sends from
# each TaskManager to itself and to the other
check "network matrix rows" \
  "count(max_over_time(flink_taskmanager_Status_Shuffle_Peer_bytesSent$target[$win]))" 2 4
check "network bytes" \
  "sum(max_over_time(flink_taskmanager_Status_Shuffle_Peer_bytesSent$target[$win]))" $rows 1e9
echo "ok: one attempt"

# --- (2) a restart from a checkpoint ---
job=prom_restart
start_job $job $rows2 -D debug.inject-failure=rank=1,records=10000 \
  -D restart-strategy.type=fixed-delay -D restart-strategy.fixed-delay.delay=100ms
wait "$jobpid" || { cat "$WORK/err" >&2; fail "the job with a restart failed"; }
expect_err "restarts: 1"
sleep 1.5
J="job_name=\"$job\""
check "restarts" "max_over_time(flink_jobmanager_job_numRestarts{$J}[$win])" 1 1
# the same two series across both attempts, their counters reset once
check "generator series over both attempts" \
  "count(max_over_time(${ops}_numRecordsOut{$J,operator_name=\"gen\"}[$win]))" 2 2
check "generator counter resets" \
  "sum(resets(${ops}_numRecordsOut{$J,operator_name=\"gen\"}[$win]))" 1 2
# increase() adds both attempts up (the reset is not taken as a drop): more
# than either attempt counted alone, at most the rows, some twice
# (replayed after the checkpoint)
gen="${ops}_numRecordsOut{$J,operator_name=\"gen\"}"
most=$(q "sum(max_over_time($gen[$win]))")
[ -n "$most" ] || fail "no generator records"
check "generator records over both attempts" "sum(increase($gen[$win]))" "$most" $((rows2 * 2))
echo "ok: a restart resets the counters under the same series"
echo "PASS"
