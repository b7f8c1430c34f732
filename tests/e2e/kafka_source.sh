#!/usr/bin/env bash
# `source: kafka` against the mock cluster, with kcat as the independent
# producer and reader: a bounded word count over three partitions (the
# example job jobs/kafka-wordcount.yaml); csv and
# json records with key/partition/offset/timestamp metadata fields, checked
# against what kcat reads back; bad records in each format with
# on-parse-error skip and fail; errors for a missing topic, an unknown and
# an owned librdkafka property; consumer-group offsets that follow
# completed checkpoints (read back by kcat's group consumer); a topic
# created while the job runs and found by topic-pattern (the mock cannot
# add partitions to an existing topic, so a new topic is how discovery is
# tested); and per-partition watermarks with and without idleness.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

kafka_mock_start --brokers 2 --topic words:3 --topic csv:2 --topic json:2 --topic bad:1 \
  --topic grp:2 --topic ev-a:2 --topic idle:2 --topic ts:2 --topic lat:3
CK=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/chk"
    -D state.savepoints.dir="$WORK/sp")

src() { # src UID EXTRA-YAML-LINES...: a kafka source at the mock
  echo "  - uid: $1"
  echo "    source: kafka"
  echo "    bootstrap-servers: \"$KAFKA_BS\""
  shift
  local l
  for l in "$@"; do echo "    $l"; done
}

# 1. Bounded word count over three partitions (keys spread the lines).
for i in $(seq 1 3000); do
  echo "k$i:the quick brown fox $((i % 7)) jumps over lazy dog number$((i % 13)) Again"
done | kafka_produce words -K:
kafka_consume words | ref_wordcount >"$WORK/want_wc"
# (the example job jobs/kafka-wordcount.yaml)
mpf_run 3 "$SRC/jobs/kafka-wordcount.yaml" --bootstrap "$KAFKA_BS" --topic words \
  --output "$WORK/wc" || { cat "$WORK/err"; fail "bounded word count"; }
cat "$WORK/wc"/part-* | LC_ALL=C sort >"$WORK/got_wc"
diff "$WORK/want_wc" "$WORK/got_wc" >/dev/null ||
  { diff "$WORK/want_wc" "$WORK/got_wc" | head; fail "word count differs from kcat's records"; }
expect_err "lines +2 +0 +3000"
echo "ok: bounded word count over 3 partitions, 2 subtasks: $(wc -l <"$WORK/got_wc") words"

# 2. csv with metadata fields, checked against kcat's key/partition/offset.
for i in $(seq 1 500); do echo "key$((i % 11));user$((i % 17)),$i,$((i * 3)).5"; done |
  kafka_produce csv -K';'
kafka_consume csv -f '%k,%p,%o,%s\n' |
  awk -F, '{print $4 "," $5 "," $6 "," $1 "," $2 "," $3}' | LC_ALL=C sort >"$WORK/want_csv"
{
  echo "name: kcsv"
  echo "operators:"
  src k "topics: [csv]" "bounded: true" "format: csv" "fields:" \
    "  - {name: user, type: string}" "  - {name: n, type: i64}" "  - {name: x, type: f64}" \
    "  - {name: key, metadata: key}" "  - {name: part, metadata: partition}" \
    "  - {name: off, metadata: offset}"
  echo "  - {uid: out, sink: file, path: \"$WORK/csv\", parallelism: 1}"
} >"$WORK/csv.yaml"
mpf_run 3 "$WORK/csv.yaml" || { cat "$WORK/err"; fail "csv"; }
cat "$WORK/csv"/part-* | LC_ALL=C sort >"$WORK/got_csv"
diff "$WORK/want_csv" "$WORK/got_csv" >/dev/null ||
  { diff "$WORK/want_csv" "$WORK/got_csv" | head; fail "csv records differ from kcat's"; }
echo "ok: csv with key, partition and offset: $(wc -l <"$WORK/got_csv") records"

# 3. json, event time from a field, Kafka timestamp as metadata.
for i in $(seq 1 400); do
  printf '{"user":"u%d","n":%d,"ok":%s,"at":%d,"extra":{"a":[1,2]}}\n' $((i % 5)) "$i" \
    "$([ $((i % 2)) = 0 ] && echo true || echo false)" $((1700000000000 + i * 1000))
done | kafka_produce json
kafka_consume json -f '%T|%s\n' | python3 -c '
import sys, json, datetime
for line in sys.stdin:
    t, v = line.rstrip("\n").split("|", 1)
    o = json.loads(v)
    d = datetime.datetime.fromtimestamp(o["at"] // 1000, datetime.timezone.utc)
    at = "%s.%03d" % (d.strftime("%Y-%m-%d %H:%M:%S"), o["at"] % 1000)
    print("%s,%d,%s,%s,%s" % (o["user"], o["n"], "true" if o["ok"] else "false", at, t))
' | LC_ALL=C sort >"$WORK/want_json"
{
  echo "name: kjson"
  echo "operators:"
  src k "topics: [json]" "bounded: true" "format: json" "fields:" \
    "  - {name: user, type: string}" "  - {name: n, type: i64}" "  - {name: ok, type: bool}" \
    "  - {name: at, type: timestamp}" "  - {name: kts, metadata: timestamp, type: i64}" \
    "watermark: {field: at, out-of-orderness: 1s}"
  echo "  - {uid: out, sink: file, path: \"$WORK/json\", parallelism: 1}"
} >"$WORK/json.yaml"
mpf_run 3 "$WORK/json.yaml" || { cat "$WORK/err"; fail "json"; }
cat "$WORK/json"/part-* | LC_ALL=C sort >"$WORK/got_json"
diff "$WORK/want_json" "$WORK/got_json" >/dev/null ||
  { diff "$WORK/want_json" "$WORK/got_json" | head; fail "json records differ from kcat's"; }
echo "ok: json with a Kafka-timestamp field: $(wc -l <"$WORK/got_json") records"

# 4. Bad records, each format: skip counts and drops them, fail names the
#    topic, partition and offset. Topic 'bad' (one partition): offsets
#    0-3 good csv/json, 4 bad for both, 5 good, 6 larger than a batch.
{
  echo 'a,1'
  echo '{"user":"a","n":1}'
  echo 'b,2'
  echo '{"user":"b","n":2}'
  echo 'c,x'
  echo '{"user":"c","n":3}'
  head -c 6000 /dev/zero | tr '\0' 'z'
  echo
} | kafka_produce bad -p 0
bad_job() { # bad_job FORMAT POLICY
  {
    echo "name: kbad"
    echo "operators:"
    if [ "$1" = raw ]; then
      src k "topics: [bad]" "bounded: true" "on-parse-error: $2"
    else
      src k "topics: [bad]" "bounded: true" "format: $1" "on-parse-error: $2" "fields:" \
        "  - {name: user, type: string}" "  - {name: n, type: i64}"
    fi
    echo "  - {uid: out, sink: file, path: \"$WORK/bad-$1-$2\", parallelism: 1}"
  } >"$WORK/bad.yaml"
  rm -rf "$WORK/bad-$1-$2"
  mpf_run 2 "$WORK/bad.yaml" -D taskmanager.memory.segment-size=4kb
}
bad_job csv skip || { cat "$WORK/err"; fail "csv skip"; }
[ "$(cat "$WORK/bad-csv-skip"/part-* | tr '\n' ' ')" = "a,1 b,2 " ] ||
  { cat "$WORK/bad-csv-skip"/part-*; fail "csv skip: wrong records"; }
bad_job json skip || { cat "$WORK/err"; fail "json skip"; }
[ "$(cat "$WORK/bad-json-skip"/part-* | tr '\n' ' ')" = "a,1 b,2 c,3 " ] ||
  { cat "$WORK/bad-json-skip"/part-*; fail "json skip: wrong records"; }
bad_job raw skip || { cat "$WORK/err"; fail "raw skip"; }
[ "$(cat "$WORK/bad-raw-skip"/part-* | wc -l)" -eq 6 ] || fail "raw skip: not 6 records"
echo "ok: on-parse-error: skip drops the bad records of csv, json and raw (too large)"
! bad_job csv fail || fail "csv fail: the job succeeded"
expect_err "operator 'k'.*topic 'bad' partition 0 offset 1: csv record: col 1: field 'user'|operator 'k'.*topic 'bad' partition 0 offset 1: csv record"
! bad_job json fail || fail "json fail: the job succeeded"
expect_err "topic 'bad' partition 0 offset 0: json record: not JSON"
! bad_job raw fail || fail "raw fail: the job succeeded"
expect_err "topic 'bad' partition 0 offset 6: raw record: a record of [0-9]+ bytes does not fit"
[ ! -e "$WORK/bad-raw-fail" ] || [ -z "$(ls "$WORK/bad-raw-fail")" ] || fail "raw fail left output"
echo "ok: on-parse-error: fail names topic, partition and offset (csv, json, raw)"

# 5. Errors: missing topic, unknown and owned properties.
err_job() { # err_job EXTRA-LINES...
  {
    echo "name: kerr"
    echo "operators:"
    src kin "$@"
    echo "  - {uid: out, sink: stdout}"
  } >"$WORK/err.yaml"
}
err_job "topics: [nope]" "startup-timeout: 5s"
! mpf_run 2 "$WORK/err.yaml" || fail "missing topic: the job ran"
expect_err "operator 'kin': topic 'nope' does not exist"
sed -i "s|bootstrap-servers: .*|bootstrap-servers: \"127.0.0.1:1\"|; s|topics: \[nope\]|topics: [words]|; s|startup-timeout: 5s|startup-timeout: 1s|" "$WORK/err.yaml"
! mpf_run 2 "$WORK/err.yaml" || fail "unreachable broker: the job ran"
expect_err "operator 'kin': no Kafka broker at 127.0.0.1:1 answered within 1.0 s \(startup-timeout\)"
err_job "topics: [words]" "properties: {fetch.wait.max.ms: 100, no.such.thing: 1}"
! "$MPIFLOW" validate "$WORK/err.yaml" >"$WORK/out" 2>"$WORK/err" || fail "unknown property accepted"
expect_err "err.yaml:[0-9]+:[0-9]+: operator 'kin': property 'no.such.thing': .*"
err_job "topics: [words]" "properties: {enable.auto.commit: true}"
! "$MPIFLOW" validate "$WORK/err.yaml" >"$WORK/out" 2>"$WORK/err" || fail "owned property accepted"
expect_err "operator 'kin': property 'enable.auto.commit' cannot be set: .*checkpoint"
err_job "topics: [words]" "properties: {auto.offset.reset: latest}"
! "$MPIFLOW" validate "$WORK/err.yaml" >"$WORK/out" 2>"$WORK/err" || fail "owned property accepted"
expect_err "property 'auto.offset.reset' cannot be set: use the option offset-reset"
err_job "topics: [words]" "bootstrap-servers: x"
! "$MPIFLOW" validate "$WORK/err.yaml" >"$WORK/out" 2>"$WORK/err" || fail "two bootstrap keys accepted"
echo "ok: missing topic, unknown property and owned properties are errors naming the operator"

# Runs JOB in the background until its REST API is up.
start_job() { # start_job NAME NP ARGS...
  local name=$1 np=$2; shift 2
  rm -f "$WORK/jobs/$name.json"
  timeout 120 mpirun -np "$np" --oversubscribe --mca mpi_yield_when_idle 1 \
    "$MPIFLOW" run "$WORK/$name.yaml" "$@" >"$WORK/out" 2>"$WORK/err" &
  RUN=$!
  for _ in $(seq 150); do [ -f "$WORK/jobs/$name.json" ] && return 0; sleep 0.1; done
  cat "$WORK/err"; fail "$name did not start its REST API"
}
stop_job() { # stop_job NAME: stop with a savepoint
  "$MPIFLOW" stop "$1" >/dev/null || { cat "$WORK/err"; fail "$1: stop"; }
  local rc=0; wait "$RUN" || rc=$?
  [ "$rc" -eq 4 ] || { cat "$WORK/err"; fail "$1: exit $rc, not 4 (stopped)"; }
}
wait_lines() { # wait_lines DIR N: committed part files reach N lines (60 s at most)
  for _ in $(seq 600); do
    [ "$(cat "$1"/part-* 2>/dev/null | wc -l)" -ge "$2" ] && return 0
    sleep 0.1
  done
  cat "$WORK/err"; fail "$1: $(cat "$1"/part-* 2>/dev/null | wc -l) lines, expected $2"
}

# 6. Consumer-group offsets follow completed checkpoints: after the job
#    read 1000 records and stopped, kcat's group consumer (earliest when
#    nothing is committed) finds only the 300 produced afterwards.
seq 1 1000 | sed 's/^/g/' | kafka_produce grp
{
  echo "name: kgrp"
  echo "operators:"
  src k "topics: [grp]" "group-id: lag-watch"
  echo "  - {uid: out, sink: file, path: \"$WORK/grp\"}"
} >"$WORK/kgrp.yaml"
start_job kgrp 3 "${CK[@]}"
wait_lines "$WORK/grp" 1000
sleep 1 # one more checkpoint completes and commits
stop_job kgrp
seq 1001 1300 | sed 's/^/g/' | kafka_produce grp
{
  echo "name: kcommitted"
  echo "operators:"
  src k "topics: [grp]" "group-id: lag-watch" "starting-offsets: committed" "bounded: true"
  echo "  - {uid: out, sink: file, path: \"$WORK/committed\"}"
} >"$WORK/kcommitted.yaml"
mpf_run 3 "$WORK/kcommitted.yaml" || { cat "$WORK/err"; fail "starting-offsets: committed"; }
[ "$(cat "$WORK/committed"/part-* | LC_ALL=C sort | tr '\n' ' ')" = \
  "$(seq 1001 1300 | sed 's/^/g/' | LC_ALL=C sort | tr '\n' ' ')" ] ||
  fail "starting-offsets: committed did not read exactly the 300 records after the commit"
n=$(timeout 30 kcat -C -b "$KAFKA_BS" -G lag-watch -X auto.offset.reset=earliest -e -q grp | wc -l)
[ "$n" -eq 300 ] || fail "group lag-watch: kcat read $n records after the committed offsets, not 300"
echo "ok: group offsets committed on checkpoint completion (kcat and starting-offsets: committed resume after 1000 of 1300)"

# Starting offsets: a partition map, a timestamp, latest.
{
  echo "name: kspec"
  echo "operators:"
  src k "topics: [bad]" "bounded: true" "starting-offsets: {bad: {0: 5}}"
  echo "  - {uid: out, sink: file, path: \"$WORK/spec\", parallelism: 1}"
} >"$WORK/kspec.yaml"
mpf_run 2 "$WORK/kspec.yaml" || { cat "$WORK/err"; fail "starting-offsets map"; }
# offsets 5 and 6: the json record (quoted by the CSV sink) and the long one
[ "$(cat "$WORK/spec"/part-* | wc -l)" -eq 2 ] &&
  [ "$(head -1 "$WORK"/spec/part-*)" = '"{""user"":""c"",""n"":3}"' ] ||
  { head -c 300 "$WORK"/spec/part-*; fail "starting-offsets {bad: {0: 5}}: not offsets 5 and 6"; }
seq 1 50 | sed 's/^/early/' | kafka_produce ts
sleep 1.2
T=$(date +%s%3N)
seq 1 50 | sed 's/^/late/' | kafka_produce ts
{
  echo "name: kts"
  echo "operators:"
  src k "topics: [ts]" "bounded: true" "starting-offsets: timestamp" "starting-timestamp: $T"
  echo "  - {uid: out, sink: file, path: \"$WORK/ts\", parallelism: 1}"
} >"$WORK/kts.yaml"
mpf_run 3 "$WORK/kts.yaml" || { cat "$WORK/err"; fail "starting-offsets: timestamp"; }
# librdkafka 2.0.2's mock cluster answers every lookup by timestamp with -1
# (no such record), so the source starts at the end; a real broker gives
# the first later record's offset. Check whichever the cluster answers.
if kcat -Q -b "$KAFKA_BS" -t "ts:0:$T" -t "ts:1:$T" | grep -q "offset -1$"; then
  [ -z "$(cat "$WORK/ts"/part-* 2>/dev/null)" ] ||
    fail "starting-offsets: timestamp read records where the cluster knows no offset"
  echo "note: the mock cluster does not look up offsets by timestamp; checked the end-offset fallback"
else
  [ "$(cat "$WORK/ts"/part-* | LC_ALL=C sort | tr '\n' ' ')" = "$(seq 1 50 | sed 's/^/late/' | LC_ALL=C sort | tr '\n' ' ')" ] ||
    fail "starting-offsets: timestamp did not read exactly the 50 later records"
fi
seq 1 100 | sed 's/^/old/' | kafka_produce lat
{
  echo "name: klat"
  echo "operators:"
  src k "topics: [lat]" "starting-offsets: latest"
  echo "  - {uid: out, sink: file, path: \"$WORK/lat\"}"
} >"$WORK/klat.yaml"
start_job klat 3 "${CK[@]}"
# Records produced once both subtasks resolved 'latest' are after it.
for _ in $(seq 600); do [ "$(grep -c "reading [0-9]* Kafka partition" "$WORK/err")" -eq 2 ] && break; sleep 0.1; done
[ "$(grep -c "reading [0-9]* Kafka partition" "$WORK/err")" -eq 2 ] ||
  { cat "$WORK/err"; fail "starting-offsets: latest: the subtasks did not start reading"; }
seq 1 100 | sed 's/^/new/' | kafka_produce lat
wait_lines "$WORK/lat" 100
sleep 0.5
stop_job klat
[ "$(cat "$WORK/lat"/part-* | LC_ALL=C sort | tr '\n' ' ')" = "$(seq 1 100 | sed 's/^/new/' | LC_ALL=C sort | tr '\n' ' ')" ] ||
  fail "starting-offsets: latest did not read exactly the records produced after the start"
echo "ok: starting offsets from a partition map, a timestamp and latest"

# 7. topic-pattern: a topic created while the job runs is read from its
#    earliest offset.
seq 1 200 | sed 's/^/a/' | kafka_produce ev-a
{
  echo "name: kpat"
  echo "operators:"
  src k "topic-pattern: 'ev-.*'" "partition-discovery-interval: 500ms" "fields:" \
    "  - {name: v, type: string}" "  - {name: t, metadata: topic}"
  echo "  - {uid: out, sink: file, path: \"$WORK/pat\"}"
} >"$WORK/kpat.yaml"
start_job kpat 3 "${CK[@]}"
wait_lines "$WORK/pat" 200
kafka_mock_cmd "topic ev-b 3"
seq 1 300 | sed 's/^/b/' | kafka_produce ev-b
seq 1 100 | sed 's/^/x/' | kafka_produce idle # not matched
wait_lines "$WORK/pat" 500
sleep 0.5
stop_job kpat
{ seq 1 200 | sed 's/^/a/; s/$/,ev-a/'; seq 1 300 | sed 's/^/b/; s/$/,ev-b/'; } |
  LC_ALL=C sort >"$WORK/want_pat"
cat "$WORK/pat"/part-* | LC_ALL=C sort >"$WORK/got_pat"
diff "$WORK/want_pat" "$WORK/got_pat" >/dev/null ||
  { diff "$WORK/want_pat" "$WORK/got_pat" | head; fail "topic-pattern: records differ"; }
expect_err "new partition"
echo "ok: topic-pattern found topic ev-b created while running: 500 records once each"

# 8. Watermarks per partition: records only in partition 0 of 'idle2'
#    (partition 1 stays empty), one source subtask, 1 s tumbling windows.
#    Without idleness the empty partition holds the watermark back and no
#    window fires; with idleness the windows up to the last event time
#    fire.
kafka_mock_cmd "topic idle2 2"
for i in $(seq 0 99); do echo "$((i * 100)),e$i"; done | kafka_produce idle2 -p 0
idle_job() { # idle_job NAME IDLENESS-YAML
  {
    echo "name: $1"
    echo "operators:"
    src k "topics: [idle2]" "parallelism: 1" "format: csv" "fields:" \
      "  - {name: ts, type: i64}" "  - {name: v, type: string}" \
      "watermark: {field: ts$2}"
    echo "  - {uid: w, type: window-all, window: {type: tumbling, size: 1s}, aggregates: [count]}"
    echo "  - {uid: out, sink: file, path: \"$WORK/$1\"}"
  } >"$WORK/$1.yaml"
}
idle_job kidle ", idleness: 200ms"
# Watermarks every 3 s, idleness 200 ms: partition 0's burst is most
# likely read more than 200 ms before the next watermark, so it is idle by
# then, and that watermark must still count it.
start_job kidle 2 "${CK[@]}" -D pipeline.auto-watermark-interval=3s
wait_lines "$WORK/kidle" 9
stop_job kidle
[ "$(cat "$WORK/kidle"/part-* | wc -l)" -eq 9 ] || fail "idleness: $(cat "$WORK/kidle"/part-* | wc -l) windows, not 9"
idle_job knoidle ""
start_job knoidle 2 "${CK[@]}"
for _ in $(seq 30); do grep -q "checkpoint [0-9]* completed" "$WORK/err" && break; sleep 0.1; done
sleep 2
stop_job knoidle
[ "$(cat "$WORK/knoidle"/part-* 2>/dev/null | wc -l)" -eq 0 ] ||
  fail "without idleness an empty partition must hold the watermark back"
echo "ok: per-partition watermarks: an empty partition holds them back unless idleness is set"
