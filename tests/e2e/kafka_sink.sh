#!/usr/bin/env bash
# `sink: kafka` without transactions, against `mpiflow kafka-mock`, read
# back with kcat (an independent client): plan-time rejections; the
# formats raw, csv and json and topic-field routing compared with the
# generated rows; at-least-once with a TaskManager SIGKILLed under
# `mpiflow submit` (nothing lost, duplicates allowed and counted); a
# broker taken down and brought back mid-run (nothing lost). The input is
# the generator source, which replays exactly from a checkpoint.
# What this broker cannot show: it keeps ~5 MiB per partition (the runs
# stay far below), and an outage is brokers going away without leader
# election (librdkafka retries until they are back). Also: a record over
# the size limit fails the job with the operator and topic named.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka_lib.sh"
kafka_mock_start --brokers 3 --topic raw:3 --topic csv:2 --topic json:1 --topic even:2 \
  --topic odd:2 --topic alo:3 --topic down:3

job() { # job NAME ROWS RATE SINK-OPTIONS...: generator (n sequence, k, x) -> kafka sink
  local name=$1 rows=$2 rate=$3; shift 3
  cat <<YAML
name: $name
operators:
  - uid: gen
    source: generator
    parallelism: 2
    number-of-rows: $rows
    rows-per-second: $rate
    seed: 5
    fields:
      - {name: n, type: i64, kind: sequence}
      - {name: k, type: string, kind: random, cardinality: 7, prefix: "user,"}
      - {name: x, type: f64, kind: random, min: 0, max: 10}
      - {name: part, type: string, kind: random, cardinality: ${CARD:-1}, prefix: t}
  - uid: out
    sink: kafka
    parallelism: 2
    bootstrap-servers: "$KAFKA_BS"
YAML
  local o
  for o in "$@"; do echo "    $o"; done
}
CK=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/chk")
MPIRUN=(mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1)

# 1. Plan-time rejections, each naming the operator and the reason.
reject() { # reject WHAT PATTERN [-D ...] -- SINK-OPTIONS...
  local what=$1 pat=$2; shift 2
  local d=()
  while [ "$1" != -- ]; do d+=("$1"); shift; done
  shift
  job bad 10 0 "$@" >"$WORK/bad.yaml"
  if "$MPIFLOW" validate "$WORK/bad.yaml" --taskmanagers 2 "${d[@]}" >"$WORK/out" 2>"$WORK/err"; then
    fail "$what: accepted"
  fi
  grep -q "operator 'out'" "$WORK/err" || { cat "$WORK/err"; fail "$what: error does not name the uid"; }
  expect_err "$pat"
  echo "ok: rejected: $what"
}
reject "exactly-once without checkpointing" "needs checkpointing" -- \
  "topic: t" "delivery-guarantee: exactly-once" "transactional-id-prefix: p"
reject "exactly-once without a prefix" "needs transactional-id-prefix" "${CK[@]}" -- \
  "topic: t" "delivery-guarantee: exactly-once"
reject "exactly-once with AT_LEAST_ONCE checkpoints" "checkpointing.mode" "${CK[@]}" \
  -D execution.checkpointing.mode=AT_LEAST_ONCE -- \
  "topic: t" "delivery-guarantee: exactly-once" "transactional-id-prefix: p"
reject "transaction timeout below interval + restart delay" "transaction.timeout.ms = 5000 is shorter" \
  "${CK[@]}" -D restart-strategy.type=fixed-delay -D restart-strategy.fixed-delay.delay=10s -- \
  "topic: t" "delivery-guarantee: exactly-once" "transactional-id-prefix: p" \
  "properties: {transaction.timeout.ms: 5000}"
reject "transactional.id set by hand" "transactional.id' cannot be set" "${CK[@]}" -- \
  "topic: t" "delivery-guarantee: exactly-once" "transactional-id-prefix: p" \
  "properties: {transactional.id: mine}"
reject "enable.idempotence with exactly-once" "enable.idempotence' cannot be set" "${CK[@]}" -- \
  "topic: t" "delivery-guarantee: exactly-once" "transactional-id-prefix: p" \
  "properties: {enable.idempotence: 'false'}"
reject "unknown librdkafka property" "no.such.property" -- "topic: t" \
  "properties: {no.such.property: 1}"
reject "topic and topic-field" "exactly one of topic" -- "topic: t" "topic-field: k"
reject "raw with several fields" "format raw writes one field" -- "topic: t" "format: raw"
reject "unknown field" "key-field 'nope'" -- "topic: t" "key-field: nope"
reject "unknown guarantee" "delivery-guarantee must be" -- "topic: t" "delivery-guarantee: twice"
reject "prefix without exactly-once" "is for delivery-guarantee: exactly-once" -- "topic: t" \
  "transactional-id-prefix: p"

# 2. Formats and routing (no checkpoints: produced as they arrive, flushed
#    at the end of the bounded job). The reference is the raw rows through
#    the file sink.
job ref 3000 0 "topic: unused" | sed '/- uid: out/,$d' >"$WORK/ref.yaml"
echo "  - {uid: out, sink: file, path: \"$WORK/ref\"}" >>"$WORK/ref.yaml"
mpf_run 3 "$WORK/ref.yaml" || { cat "$WORK/err"; fail "reference rows"; }
cat "$WORK"/ref/part-* | LC_ALL=C sort >"$WORK/want.csv"
[ "$(wc -l <"$WORK/want.csv")" -eq 3000 ] || fail "reference has $(wc -l <"$WORK/want.csv") rows"

job fmt 3000 0 "topic: csv" "format: csv" "key-field: n" >"$WORK/fmt.yaml"
mpf_run 3 "$WORK/fmt.yaml" || { cat "$WORK/err"; fail "csv run"; }
kafka_consume csv | LC_ALL=C sort >"$WORK/got"
cmp -s "$WORK/want.csv" "$WORK/got" || { diff "$WORK/want.csv" "$WORK/got" | head; fail "csv differs"; }
kafka_consume csv -f '%k %s\n' | awk '{split($2, f, ","); if ($1 != f[1]) bad++} END {exit bad > 0}' ||
  fail "csv: a key is not the record's n"
echo "ok: csv: 3000 records equal the file sink's rows, keyed by n"

job fmt 3000 0 "topic: raw" "format: raw" "value-field: n" >"$WORK/fmt.yaml"
mpf_run 3 "$WORK/fmt.yaml" || { cat "$WORK/err"; fail "raw run"; }
kafka_consume raw | sort -n >"$WORK/got"
seq 0 2999 | cmp -s - "$WORK/got" || fail "raw: values are not 0..2999 once each"
echo "ok: raw: the n field of 3000 records, once each"

job fmt 3000 0 "topic: json" "format: json" >"$WORK/fmt.yaml"
mpf_run 3 "$WORK/fmt.yaml" || { cat "$WORK/err"; fail "json run"; }
kafka_consume json >"$WORK/got.json"
python3 - "$WORK/got.json" "$WORK/want.csv" <<'PY' || fail "json differs from the rows"
import csv, json, sys
got = sorted((r["n"], r["k"], r["x"], r["part"]) for r in map(json.loads, open(sys.argv[1])))
want = sorted((int(n), k, float(x), p) for n, k, x, p in csv.reader(open(sys.argv[2])))
assert got == want, (got[:3], want[:3])
print("ok: json: 3000 objects with typed fields equal the rows")
PY

CARD=2 job fmt 3000 0 "topic-field: part" "format: csv" >"$WORK/fmt.yaml"
kafka_mock_cmd "topic t0 2"
kafka_mock_cmd "topic t1 2"
mpf_run 3 "$WORK/fmt.yaml" || { cat "$WORK/err"; fail "topic-field run"; }
a=$(kafka_consume t0 | awk -F, '$NF != "t0"' | wc -l)
b=$(kafka_consume t1 | awk -F, '$NF != "t1"' | wc -l)
total=$(( $(kafka_consume t0 | wc -l) + $(kafka_consume t1 | wc -l) ))
[ "$a" -eq 0 ] && [ "$b" -eq 0 ] && [ "$total" -eq 3000 ] ||
  fail "topic-field: $a/$b records in the wrong topic, $total in all"
echo "ok: topic-field: 3000 records routed to t0/t1 by their field"

# 3. at-least-once under `mpiflow submit` with a TaskManager SIGKILLed at a
#    random moment: every row arrives at least once.
seq 0 39999 >"$WORK/want.n"
for seed in 1 2; do
  RANDOM=$seed
  topic=alo$seed
  kafka_mock_cmd "topic $topic 3"
  rm -rf "$WORK/chk"
  job alo 40000 10000 "topic: $topic" "format: csv" "delivery-guarantee: at-least-once" >"$WORK/alo.yaml"
  timeout 200 "$MPIFLOW" submit --restart-attempts 3 --restart-delay 100ms -- "${MPIRUN[@]}" \
    "$MPIFLOW" run "$WORK/alo.yaml" "${CK[@]}" >"$WORK/out" 2>"$WORK/err" &
  SUP=$!
  victims=()
  for _ in $(seq 200); do
    victims=($(pgrep -f "^$MPIFLOW run $WORK/alo.yaml" | sort -n || true))
    [ "${#victims[@]}" -eq 3 ] && break
    sleep 0.05
  done
  [ "${#victims[@]}" -eq 3 ] || { cat "$WORK/err"; fail "alo: expected 3 ranks"; }
  sleep "1.$((RANDOM % 10))"
  rank=$((1 + RANDOM % 2))
  kill -KILL "${victims[$rank]}" || fail "alo: rank $rank had ended before the kill"
  wait "$SUP" || { cat "$WORK/err"; fail "alo seed $seed: supervised job failed"; }
  grep -q "restart 1" "$WORK/err" || { cat "$WORK/err"; fail "alo seed $seed: no relaunch"; }
  kafka_consume "$topic" | cut -d, -f1 | sort -n >"$WORK/got.n"
  missing=$(LC_ALL=C comm -23 <(LC_ALL=C sort "$WORK/want.n") <(LC_ALL=C sort -u "$WORK/got.n") | wc -l)
  [ "$missing" -eq 0 ] || fail "alo seed $seed: $missing rows lost after killing rank $rank"
  echo "ok: at-least-once, seed $seed: rank $rank SIGKILLed, 40000 rows all there" \
    "($(($(wc -l <"$WORK/got.n") - 40000)) duplicates)"
done

# 4. Every broker down for 3 s mid-run, then back: nothing lost, the job
#    finishes (librdkafka retries; the at-least-once checkpoints wait for
#    the acknowledgements).
job down 30000 5000 "topic: down" "format: csv" "delivery-guarantee: at-least-once" \
  >"$WORK/down.yaml"
rm -rf "$WORK/chk"
timeout 120 "${MPIRUN[@]}" "$MPIFLOW" run "$WORK/down.yaml" "${CK[@]}" >"$WORK/out" 2>"$WORK/err" &
RUN=$!
for _ in $(seq 300); do [ -n "$(kafka_consume down -c 1)" ] && break; sleep 0.1; done
for b in 1 2 3; do kafka_mock_cmd "down $b"; done
sleep 3
for b in 1 2 3; do kafka_mock_cmd "up $b"; done
wait "$RUN" || { cat "$WORK/err"; fail "brokers down/up: the job failed"; }
kafka_consume down | cut -d, -f1 | sort -un >"$WORK/got.n"
seq 0 29999 | cmp -s - "$WORK/got.n" || fail "brokers down/up: rows lost"
grep -q "Connection refused" "$WORK/err" || fail "brokers down/up: the producer never noticed"
echo "ok: every broker down for 3 s mid-run: all 30000 rows delivered"

# 5. A delivery that fails (message.timeout.ms 1 s while every broker is
#    down for 4 s) fails the checkpoint and the job, naming the operator
#    and the topic.
kafka_mock_cmd "topic lost 3"
job lost 200000 10000 "topic: lost" "delivery-guarantee: at-least-once" \
  "properties: {message.timeout.ms: 1000}" >"$WORK/lost.yaml"
rm -rf "$WORK/chk"
timeout 120 "${MPIRUN[@]}" "$MPIFLOW" run "$WORK/lost.yaml" "${CK[@]}" \
  -D restart-strategy.type=none >"$WORK/out" 2>"$WORK/err" &
RUN=$!
for _ in $(seq 300); do # records flowing (a sanitizer build starts slowly)
  [ -n "$(kafka_consume lost -c 1)" ] && break
  sleep 0.1
done
for b in 1 2 3; do kafka_mock_cmd "down $b"; done
sleep 4
for b in 1 2 3; do kafka_mock_cmd "up $b"; done
rc=0
wait "$RUN" || rc=$?
[ "$rc" -ne 0 ] || fail "a failed delivery did not fail the job"
expect_err "operator 'out'.*delivery to topic 'lost' partition [0-9]+ failed"
echo "ok: a delivery that timed out failed the job (exit $rc), naming the operator and the topic"

# 6. A record over the producer's size limit (message.max.bytes 1000, the
#    smallest librdkafka takes; the lines here are 1500 bytes) fails the job
#    with the operator and the topic named.
kafka_mock_cmd "topic big 1"
for i in 1 2 3; do head -c 1500 /dev/zero | tr '\0' x; echo; done >"$WORK/big.txt"
cat >"$WORK/big.yaml" <<YAML
name: big
operators:
  - {uid: lines, source: file, path: "$WORK/big.txt"}
  - uid: out
    sink: kafka
    bootstrap-servers: "$KAFKA_BS"
    topic: big
    format: raw
    properties: {message.max.bytes: 1000}
YAML
mpf_run 3 "$WORK/big.yaml" -D restart-strategy.type=none && fail "a record over message.max.bytes was accepted"
expect_err "operator 'out'.*topic 'big'.*(too large|size)"
echo "ok: a record over the size limit failed the job, naming the operator and the topic"
