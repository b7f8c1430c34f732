#!/usr/bin/env bash
# Nexmark throughput for mpiflow (bench layer): each implemented query of
# jobs/nexmark/ with the generator inside the job and a blackhole sink, as
# in the Nexmark benchmark's setup, on 1 JobManager + 2 TaskManagers (one
# core each). Reports events/s per TaskManager core (events / wall time /
# 2) beside Flink 1.13's published per-core figures from the Nexmark
# README (github.com/nexmark/nexmark, "Benchmark Results": 8-core workers,
# RocksDB state backend) and the ratio. Every query runs --reps times,
# queries interleaved within a repetition; the median is reported. Output
# is Markdown, also saved to bench/results/nexmark-<date>.md.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<EOF
usage: bench/nexmark.sh [options]
  --events N     events per query run, all kinds (BENCH_EVENTS, default 10000000)
  --reps N       repetitions (BENCH_REPS, default 3)
  --queries "q0 q1 ..."  (BENCH_QUERIES, default: every jobs/nexmark/q*.yaml)
  --build DIR    build directory holding ./mpiflow (BENCH_BUILD, default build)
  -h, --help     this text
EOF
}
events=${BENCH_EVENTS:-10000000}
reps=${BENCH_REPS:-3}
queries=${BENCH_QUERIES:-}
build=${BENCH_BUILD:-build}
while [ $# -gt 0 ]; do
    case $1 in
    --events) events=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --queries) queries=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
case $build in /*) ;; *) build=$REPO/$build ;; esac
MPIFLOW=$build/mpiflow
[ -x "$MPIFLOW" ] || { echo "nexmark.sh: no $MPIFLOW; build first" >&2; exit 1; }
[ -n "$queries" ] || queries=$(cd "$REPO/jobs/nexmark" && ls q*.yaml | sed 's/\.yaml$//' | sort -V | tr '\n' ' ')
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# Flink 1.13 events/s per core, Nexmark README.
declare -A FLINK=([q0]=155000 [q1]=158000 [q2]=175000 [q3]=152000 [q5]=22000 [q7]=12300 [q8]=146000)

declare -A times
for rep in $(seq 1 "$reps"); do
    for q in $queries; do
        sync
        sleep 1
        log=$(mktemp)
        if ! timeout 1800 mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 \
            "$MPIFLOW" run "$REPO/jobs/nexmark/$q.yaml" --events "$events" >/dev/null 2>"$log"; then
            cat "$log" >&2
            echo "nexmark.sh: $q failed" >&2
            exit 1
        fi
        d=$(grep -oE 'duration_s=[0-9.]+' "$log" | cut -d= -f2)
        rm -f "$log"
        times[$q]="${times[$q]:-} $d"
        echo "rep $rep $q: $d s" >&2
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
out=$REPO/bench/results/nexmark-$(date +%Y-%m-%d).md
mkdir -p "$REPO/bench/results"
{
    echo "## Nexmark throughput ($(date +%Y-%m-%d))"
    echo
    echo "Command: \`bench/nexmark.sh --events $events --reps $reps\`; $(nproc) cores," \
        "1 JobManager + 2 TaskManagers, generator in the job, blackhole sink, median of $reps runs."
    echo
    echo "| query | median time (s) | mpiflow events/s per TM core | Flink 1.13 per core | ratio |"
    echo "| --- | --- | --- | --- | --- |"
    for q in $queries; do
        m=$(echo "${times[$q]}" | median)
        awk -v q="$q" -v m="$m" -v n="$events" -v f="${FLINK[$q]:-0}" 'BEGIN {
            per = n / m / 2
            printf "| %s | %.3f | %.0f | %s | %s |\n", q, m, per, f ? sprintf("%.0f", f) : "-",
                f ? sprintf("%.1fx", per / f) : "-"
        }'
    done
} | tee "$out"
