#!/usr/bin/env bash
# The README's Kafka demo (jobs/kafka-demo.sh): HotItems from a Kafka topic
# to a Kafka topic with the exactly-once sink, a TaskManager SIGKILLed
# half-way under `mpiflow submit`, and a failure-free run; the demo
# compares the committed results, and so does this test.
. "$(dirname "$0")/lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (Debian package kcat)"
OUT="$WORK/demo" timeout 280 "$SRC/jobs/kafka-demo.sh" "$(dirname "$MPIFLOW")" >"$WORK/out" 2>&1 ||
  { cat "$WORK/out"; fail "the Kafka demo failed"; }
cat "$WORK/out"
grep -q "kill -KILL [0-9]* (rank 2" "$WORK/out" || fail "no TaskManager was killed"
grep -q "restoring job 'kafka-hotitems' from checkpoint" "$WORK/out" || fail "no restore shown"
[ "$(wc -l <"$WORK/demo/hot-items.csv")" -gt 100 ] || fail "too few results"
cmp -s "$WORK/demo/hot-items.csv" "$WORK/demo/reference.csv" ||
  fail "the killed run's committed result differs from the failure-free run"
echo "ok: kafka demo"
