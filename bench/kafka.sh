#!/usr/bin/env bash
# Kafka -> mpiflow -> Kafka throughput (bench layer, issue 11). Moves the
# same 100-byte records from one topic to another through the same broker
# (`mpiflow kafka-mock`, librdkafka's mock cluster, started afresh for each
# repetition) three ways, interleaved in each repetition:
#   kcat pipe       kcat -C ... -e | kcat -P ...  (the baseline)
#   at-least-once   mpiflow, source: kafka -> sink: kafka, 1 JobManager + 2
#                   TaskManagers, a checkpoint every second
#   exactly-once    the same with delivery-guarantee: exactly-once
#                   (a Kafka transaction per checkpoint and subtask)
# Every run writes to a fresh topic and is checked afterwards: each output
# topic must hold every record (exactly once for exactly-once, read
# through scripts/kafka-committed.sh). Reports records/s and MB/s of
# payload (median over the repetitions) in Markdown, saved to
# bench/results/kafka-<date>.md.
#
# The mock keeps about 5 MiB per partition and silently drops older
# records beyond that; every topic has --partitions partitions, records
# are spread evenly (a random partition per record), and the script
# refuses sizes whose exactly-once output (about 200 bytes a record with
# the sink's transaction headers) would pass 4 MiB per partition.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
  cat <<EOF
usage: bench/kafka.sh [options]
  --records N      records per run (BENCH_RECORDS, default 1000000)
  --partitions P   partitions of every topic (BENCH_PARTITIONS, default 64)
  --reps N         repetitions (BENCH_REPS, default 3)
  --build DIR      build directory holding ./mpiflow (BENCH_BUILD, default build)
  --quick          smoke test: 100000 records, 16 partitions, 1 repetition
  --keep           keep the scratch directory (logs, job files)
  -h, --help       this text
EOF
}
die() { echo "kafka.sh: $*" >&2; exit 1; }

records=${BENCH_RECORDS:-}
parts=${BENCH_PARTITIONS:-}
reps=${BENCH_REPS:-}
build=${BENCH_BUILD:-build}
quick=0
keep=0
while [ $# -gt 0 ]; do
  case $1 in
  --records) records=${2:?}; shift 2 ;;
  --partitions) parts=${2:?}; shift 2 ;;
  --reps) reps=${2:?}; shift 2 ;;
  --build) build=${2:?}; shift 2 ;;
  --quick) quick=1; shift ;;
  --keep) keep=1; shift ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
done
if [ "$quick" = 1 ]; then
  records=${records:-100000} parts=${parts:-16} reps=${reps:-1}
fi
records=${records:-1000000} parts=${parts:-64} reps=${reps:-3}
case $build in /*) ;; *) build=$REPO/$build ;; esac
MPIFLOW=$build/mpiflow
[ -x "$MPIFLOW" ] || die "no $MPIFLOW; build first"
command -v kcat >/dev/null || die "kcat is not installed (Debian package kcat)"
# 200 bytes per exactly-once output record at most 4 MiB per partition
[ $((records * 200 / parts)) -le $((4 * 1024 * 1024)) ] ||
  die "$records records over $parts partitions would pass the mock's ~5 MiB per partition;" \
    "use at least $(((records * 200 + 4 * 1024 * 1024 - 1) / (4 * 1024 * 1024))) partitions"

LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mpiflow-kbench.XXXXXX")
export MPIFLOW_RUN_DIR=$tmp/run
MOCK=
stop_mock() {
  [ -n "$MOCK" ] || return 0
  kill "$MOCK" 2>/dev/null || true
  wait "$MOCK" 2>/dev/null || true
  MOCK=
}
cleanup() {
  stop_mock
  if [ "$keep" = 1 ]; then echo "scratch kept in $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# The records: 100 bytes each (a 10-digit sequence number, a comma, 89
# letters that shift with the number), deterministic.
awk -v n="$records" 'BEGIN {
  a = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"; a = a a a a
  for (i = 0; i < n; i++) printf "%010d,%s\n", i, substr(a, i % 52 + 1, 89)
}' >"$tmp/records"
[ "$(wc -c <"$tmp/records")" -eq $((records * 101)) ] || die "record file has the wrong size"
# The input topic gets a 1/P slice of them per partition, produced
# partition by partition so that its batches are large (librdkafka's
# limits, 10000 records or 1 MB): the mock answers a fetch with one batch
# per partition, so a topic of small batches would hold every consumer
# back, which a real broker does not.
mkdir -p "$tmp/split"
awk -v p="$parts" -v d="$tmp/split" '{print > (d "/" (NR - 1) % p)}' "$tmp/records"
mb=$(awk -v n="$records" 'BEGIN {printf "%.1f", n * 100 / 1e6}')

# The producers under test pick a random partition per record (librdkafka's
# sticky batches would fill some partitions past the mock's limit).
STICKY=sticky.partitioning.linger.ms=0
start_mock() { # start_mock REP: a fresh broker with this repetition's topics
  local r=$1 t args=()
  for t in in kcat alo eo eo-progress aloq eoq eoq-progress; do args+=(--topic "$t-$r:$parts"); done
  rm -f "$tmp/bs"
  "$MPIFLOW" kafka-mock "${args[@]}" --bootstrap-file "$tmp/bs" </dev/null >"$tmp/mock-$r.log" 2>&1 &
  MOCK=$!
  for _ in $(seq 200); do
    [ -s "$tmp/bs" ] && break
    kill -0 "$MOCK" 2>/dev/null || { cat "$tmp/mock-$r.log" >&2; die "kafka-mock died"; }
    sleep 0.1
  done
  [ -s "$tmp/bs" ] || die "kafka-mock did not start"
  BS=$(cat "$tmp/bs")
}
# The "consumer queue raised" contenders: librdkafka 2.0.2 stops fetching
# for a second (a fixed back-off) whenever the consumer's queue holds
# queued.min.messages (100000) records -- with the source's one consumer
# queue, counted over all its partitions -- or queued.max.messages.kbytes
# (the source sets 16 MiB); these raise both, through the source's
# `properties:`.
QUEUE="queued.min.messages: 10000000, queued.max.messages.kbytes: 65536"
job() { # job NAME IN OUT GUARANTEE [SOURCE-PROPERTIES]
  cat <<YAML
name: $1
operators:
  - uid: in
    source: kafka
    bootstrap-servers: "$BS"
    topics: [$2]
    bounded: true
    format: raw
$([ -z "${5:-}" ] || echo "    properties: {$5}")
  - uid: out
    sink: kafka
    bootstrap-servers: "$BS"
    topic: $3
    format: raw
    delivery-guarantee: $4
$([ "$4" != exactly-once ] || echo "    transactional-id-prefix: $3")
$([ "$4" != exactly-once ] || echo "    progress-topic: $3-progress")
    properties: {${STICKY/=/: }}
YAML
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}'; }
# CPU seconds the broker (the mock's process, all its threads) has used so far
mock_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$MOCK/stat"; }
cpu_since() { awk -v a="$1" -v b="$(mock_cpu)" 'BEGIN {printf "%.2f", b - a}'; }
count() { kcat -C -b "$BS" -t "$1" -e -q -f '%o\n' | wc -l; }
settle() { sync; sleep 1; }

# $tmp/rows: one line per run: contender rep seconds wall checkpoints broker-CPU
run_pipe() { # run_pipe REP
  local r=$1 c0 t0 s
  settle
  c0=$(mock_cpu)
  t0=$(now)
  kcat -C -b "$BS" -t "in-$r" -e -q | kcat -P -b "$BS" -t "kcat-$r" -X "$STICKY" ||
    die "the kcat pipe failed"
  s=$(since "$t0")
  echo "pipe $r $s $s 0 $(cpu_since "$c0")" >>"$tmp/rows"
  [ "$(count "kcat-$r")" -eq "$records" ] || die "kcat-$r: $(count "kcat-$r") of $records records"
}
run_mpiflow() { # run_mpiflow CONTENDER REP GUARANTEE [SOURCE-PROPERTIES]
  local c=$1 r=$2 g=$3 out=$1-$2 t0 wall c0 n
  job "kbench-$out" "in-$r" "$out" "$g" "${4:-}" >"$tmp/$out.yaml"
  settle
  c0=$(mock_cpu)
  t0=$(now)
  "${MPIRUN[@]}" "$MPIFLOW" run "$tmp/$out.yaml" -D execution.checkpointing.interval=1s \
    -D state.checkpoints.dir="$tmp/chk" >"$tmp/$out.out" 2>"$tmp/$out.log" ||
    { cat "$tmp/$out.log" >&2; die "$out run failed"; }
  wall=$(since "$t0")
  echo "$c $r $(grep -oE 'duration_s=[0-9.]+' "$tmp/$out.log" | cut -d= -f2) $wall" \
    "$(grep -c "checkpoint [0-9]* completed" "$tmp/$out.log" || true) $(cpu_since "$c0")" >>"$tmp/rows"
  if [ "$g" = exactly-once ]; then
    "$REPO/scripts/kafka-committed.sh" "$BS" "$out" 2>"$tmp/$out.count" | LC_ALL=C sort >"$tmp/$out.got"
    cmp -s "$tmp/$out.got" "$tmp/records.sorted" ||
      die "$out: the committed records are not every record exactly once ($(cat "$tmp/$out.count"))"
    rm -f "$tmp/$out.got"
  else
    n=$(count "$out")
    [ "$n" -ge "$records" ] || die "$out: $n of $records records"
    [ "$(kcat -C -b "$BS" -t "$out" -e -q | LC_ALL=C sort -u | wc -l)" -eq "$records" ] ||
      die "$out: records missing"
  fi
}
LC_ALL=C sort "$tmp/records" >"$tmp/records.sorted"

: >"$tmp/rows"
for r in $(seq 1 "$reps"); do
  start_mock "$r"
  t0=$(now)
  for p in $(seq 0 $((parts - 1))); do
    kcat -P -b "$BS" -t "in-$r" -p "$p" -l "$tmp/split/$p" || die "kcat could not fill in-$r [$p]"
  done
  s=$(since "$t0")
  echo "fill $r $s $s 0 0" >>"$tmp/rows"
  [ "$(count "in-$r")" -eq "$records" ] || die "in-$r does not hold all $records records"
  run_pipe "$r"
  run_mpiflow alo "$r" at-least-once
  run_mpiflow eo "$r" exactly-once
  run_mpiflow aloq "$r" at-least-once "$QUEUE"
  run_mpiflow eoq "$r" exactly-once "$QUEUE"
  echo "rep $r (contender rep s wall-s checkpoints broker-CPU-s):" >&2
  awk -v r="$r" '$2 == r' "$tmp/rows" | sed 's/^/  /' >&2
  stop_mock
done

med() { # med CONTENDER FIELD: the median over the repetitions
  awk -v c="$1" -v f="$2" '$1 == c {print $f}' "$tmp/rows" | sort -g |
    awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
rate() { awk -v n="$records" -v t="$1" 'BEGIN {printf "%.0f", n / t}'; }
mbs() { awk -v n="$records" -v t="$1" 'BEGIN {printf "%.1f", n * 100 / 1e6 / t}'; }
times() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b / a}'; } # throughput of a over b's
slower() { awk -v a="$1" -v e="$2" 'BEGIN {printf "%.1f", (1 - a / e) * 100}'; } # % e is below a
verdict() { if awk -v x="$1" -v y="$2" "BEGIN {exit !(x $3 y)}"; then echo met; else echo "not met"; fi; }
row() { # row CONTENDER LABEL
  local s w
  s=$(med "$1" 3) w=$(med "$1" 4)
  case $1 in
  fill) echo "| $2 | $(rate "$s") | $(mbs "$s") | $(printf '%.2f' "$s") s | | wall time, for reference |" ;;
  pipe) echo "| $2 | $(rate "$s") | $(mbs "$s") | $(printf '%.2f' "$s") s | $(printf '%.2f' "$(med "$1" 6)") s | wall time |" ;;
  *) echo "| $2 | $(rate "$s") | $(mbs "$s") | $(printf '%.2f' "$s") s | $(printf '%.2f' "$(med "$1" 6)") s" \
    "| job time (duration_s); $(printf '%.2f' "$w") s with mpirun's start; $(med "$1" 5) checkpoints |" ;;
  esac
}
pipe=$(med pipe 3)
target() { # target ALO EO NAME: the two ratios against the targets
  local a e
  a=$(med "$1" 3) e=$(med "$2" 3)
  echo "- $3: at-least-once $(times "$a" "$pipe")x the kcat pipe (target >= 2x:" \
    "$(verdict "$(times "$a" "$pipe")" 2 '>=')); exactly-once $(slower "$a" "$e")% below" \
    "at-least-once (target within 15%: $(verdict "$(slower "$a" "$e")" 15 '<='))." \
    "With mpirun's start in the mpiflow times: $(times "$(med "$1" 4)" "$pipe")x and" \
    "$(slower "$(med "$1" 4)" "$(med "$2" 4)")%."
}

out=$REPO/bench/results/kafka-$(date +%Y-%m-%d).md
mkdir -p "$REPO/bench/results"
{
  echo "## Kafka to Kafka ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "Command: \`bench/kafka.sh --records $records --partitions $parts --reps $reps\`;" \
    "$records records of 100 bytes ($mb MB of payload) per run, every topic $parts partitions" \
    "on one \`mpiflow kafka-mock\` broker (fresh for each repetition), $(nproc) cores," \
    "load average before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg). mpiflow: 1 JobManager +" \
    "2 TaskManagers, \`source: kafka\` (bounded, raw) -> \`sink: kafka\` (raw), a checkpoint" \
    "every second. Median of $reps; MB/s counts payload bytes; broker CPU is the mock" \
    "process's CPU time during the run."
  echo
  echo "| contender | records/s | MB/s | time | broker CPU | notes |"
  echo "| --- | ---: | ---: | ---: | ---: | --- |"
  row pipe "kcat pipe (\`kcat -C -e \| kcat -P\`)"
  row alo "mpiflow at-least-once"
  row eo "mpiflow exactly-once"
  row aloq "mpiflow at-least-once, consumer queue raised"
  row eoq "mpiflow exactly-once, consumer queue raised"
  row fill "(filling the input: $parts \`kcat -P -p\`, one after the other)"
  echo
  echo "\"Consumer queue raised\": the source with \`properties: {$QUEUE}\`."
  echo "Targets (not tests), on job time:"
  echo
  target alo eo "defaults"
  target aloq eoq "consumer queue raised"
  echo
  echo "Every run (contender, repetition, s, wall s, checkpoints, broker CPU s):"
  echo
  awk '{printf "- %s %d: %.2f, %.2f, %d, %.2f\n", $1, $2, $3, $4, $5, $6}' "$tmp/rows"
} | tee "$out"
