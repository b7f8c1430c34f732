#!/usr/bin/env bash
# Kafka in, Kafka out, exactly once: HotItems (jobs/kafka-hotitems.yaml)
# reads 1,000,000 generated user behaviour events from a Kafka topic and
# writes the top 3 items of every sliding hour to another, publishing each
# checkpoint's results (a checkpoint every second) in one Kafka transaction.
# Once half the events are read and a checkpoint has completed, one
# TaskManager process is SIGKILLed; `mpiflow submit` relaunches the job
# from the latest checkpoint. The committed result is
# then compared with a run that did not fail.
#   jobs/kafka-demo.sh [BUILD_DIR]    (default: build; writes kafka-demo-out/)
# Needs kcat. Runs the broker (`mpiflow kafka-mock`, librdkafka's mock
# cluster), 1 JobManager and 2 TaskManagers on this machine.
#
# What the mock broker does not do (so what this demo cannot show): it
# writes no transaction commit or abort markers, so a read_committed
# consumer also sees the records of aborted transactions; the result is
# therefore read through scripts/kafka-committed.sh, which keeps the
# records whose transaction wrote its progress record (what a
# read_committed consumer of a real broker would see, save for a commit
# cut short after its progress record was written). It does not fence an
# old producer when a new one takes its transactional.id, keeps only about
# 5 MiB per partition (dropping the oldest records silently: the demo
# spreads the events over 16 partitions and checks none were dropped), and
# replicates nothing: it is one process, not a cluster that survives a
# lost machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
MPIFLOW=$BUILD/mpiflow
OUT=${OUT:-kafka-demo-out}
EVENTS=${EVENTS:-1000000}
command -v kcat >/dev/null || { echo "kafka-demo: kcat is not installed (Debian package kcat)" >&2; exit 1; }
[ -x "$MPIFLOW" ] || { echo "kafka-demo: no $MPIFLOW; build first" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
MPIRUN=(mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1)
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export MPIFLOW_RUN_DIR=$OUT/run # this demo's jobs only, for `mpiflow metrics`
MOCK=
SUP=
cleanup() {
  [ -z "$SUP" ] || kill "$SUP" 2>/dev/null || true
  [ -z "$MOCK" ] || { kill "$MOCK" 2>/dev/null || true; wait "$MOCK" 2>/dev/null || true; }
}
trap cleanup EXIT
die() { echo "kafka-demo: $*" >&2; exit 1; }

echo "== 1/5: the broker: mpiflow kafka-mock (topic behavior with 16 partitions)"
"$MPIFLOW" kafka-mock --topic behavior:16 --topic hot-items:2 --topic hot-items-progress:1 \
  --topic reference:2 --topic reference-progress:1 --bootstrap-file "$OUT/kafka.bs" \
  </dev/null >"$OUT/kafka.log" 2>&1 &
MOCK=$!
for _ in $(seq 100); do
  [ -s "$OUT/kafka.bs" ] && break
  kill -0 "$MOCK" 2>/dev/null || { cat "$OUT/kafka.log" >&2; die "kafka-mock died"; }
  sleep 0.1
done
[ -s "$OUT/kafka.bs" ] || die "kafka-mock did not start"
BS=$(cat "$OUT/kafka.bs")
echo "   bootstrap.servers=$BS"

echo "== 2/5: $EVENTS behaviour events (the behavior generator, one ordered file) into the topic with kcat"
cat >"$OUT/generate.yaml" <<YAML
name: kafka-demo-events
operators:
  - {uid: behavior, source: behavior, parallelism: 1, events: $EVENTS, out-of-orderness: 2s, interval: 20ms}
  - {uid: out, sink: file, parallelism: 1, path: "$OUT/events"}
YAML
mpirun -np 2 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run "$OUT/generate.yaml" \
  >"$OUT/generate.log" 2>&1 || { cat "$OUT/generate.log" >&2; die "generating the events failed"; }
# a random partition per record (not librdkafka's sticky batches): even partitions
kcat -P -b "$BS" -t behavior -X sticky.partitioning.linger.ms=0 -l "$OUT"/events/part-0-0 ||
  die "kcat could not produce"
got=$(kcat -C -b "$BS" -t behavior -e -q -f '%p\n' | wc -l)
[ "$got" -eq "$EVENTS" ] || die "the topic holds $got of $EVENTS events (the mock keeps ~5 MiB per partition)"
echo "   $got events ($(wc -c <"$OUT"/events/part-0-0) bytes) in topic behavior"

echo "== 3/5: HotItems under mpiflow submit, a checkpoint every second, exactly-once Kafka sink;" \
  "one TaskManager SIGKILLed half-way"
JOB=(jobs/kafka-hotitems.yaml --bootstrap "$BS")
"$MPIFLOW" submit --restart-attempts 3 --restart-delay 500ms -- "${MPIRUN[@]}" \
  "$MPIFLOW" run "${JOB[@]}" --output hot-items -D state.checkpoints.dir="$OUT/checkpoints" \
  -D metrics.reporter.interval=100ms >"$OUT/run.out" 2>"$OUT/run.log" &
SUP=$!
read_so_far() { # records the source has emitted, per the running job's metrics (every 100 ms)
  { "$MPIFLOW" metrics kafka-hotitems 2>/dev/null || true; } |
    awk '$1 == "behavior" {print $4; f = 1} END {if (!f) print 0}'
}
n=0
for _ in $(seq 600); do
  kill -0 "$SUP" 2>/dev/null || break
  n=$(read_so_far)
  [ "$n" -ge $((EVENTS / 2)) ] && grep -q "checkpoint [0-9]* completed" "$OUT/run.log" && break
  sleep 0.1
done
[ "$n" -ge $((EVENTS / 2)) ] || { cat "$OUT/run.log" >&2; die "the job did not get half-way"; }
victim=
for pid in $(pgrep -f "^$MPIFLOW run ${JOB[0]}" || true); do
  [ "$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')" = 2 ] &&
    victim=$pid
done
[ -n "$victim" ] || die "no process of rank 2 found"
kill -KILL "$victim"
echo "   kill -KILL $victim (rank 2, TaskManager tm-2) after $n of $EVENTS events were read" \
  "(the job's metrics, every 100 ms)"
wait "$SUP" || { cat "$OUT/run.log" >&2; die "the supervised job failed"; }
SUP=
grep -E "completed in|restart|restor|recovered|republish|finished in" "$OUT/run.log" |
  sed -E 's/^[0-9:.]+ [A-Z]+ +//' | sed 's/^/   /'
grep -q "restart 1" "$OUT/run.log" || die "the job was not relaunched"

echo "== 4/5: the same job without failure, for comparison (topic reference)"
"${MPIRUN[@]}" "$MPIFLOW" run "${JOB[@]}" --output reference \
  -D state.checkpoints.dir="$OUT/checkpoints-reference" >"$OUT/reference.out" 2>"$OUT/reference.log" ||
  { cat "$OUT/reference.log" >&2; die "the reference run failed"; }
grep -E "finished in" "$OUT/reference.log" | sed -E 's/^[0-9:.]+ [A-Z]+ +//' | sed 's/^/   /'

echo "== 5/5: what a read_committed consumer sees (kcat, filtered by the sink's progress records)"
scripts/kafka-committed.sh "$BS" hot-items 2>"$OUT/hot-items.count" | LC_ALL=C sort >"$OUT/hot-items.csv"
scripts/kafka-committed.sh "$BS" reference 2>"$OUT/reference.count" | LC_ALL=C sort >"$OUT/reference.csv"
all=$(kcat -C -b "$BS" -t hot-items -e -q | wc -l)
echo "   hot-items: $all records in the topic, $(cat "$OUT/hot-items.count")"
echo "   reference: $(cat "$OUT/reference.count")"
[ -s "$OUT/reference.csv" ] || die "the reference run wrote nothing"
if cmp -s "$OUT/hot-items.csv" "$OUT/reference.csv"; then
  echo "OK: the run with a TaskManager killed mid-way committed exactly the failure-free result" \
    "($(wc -l <"$OUT/hot-items.csv") lines; $OUT/hot-items.csv)"
else
  echo "MISMATCH: lost (<) / duplicated or wrong (>) lines of the killed run:" >&2
  diff "$OUT/reference.csv" "$OUT/hot-items.csv" | grep '^[<>]' | head >&2
  exit 1
fi
