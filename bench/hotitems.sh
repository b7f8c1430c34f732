#!/usr/bin/env bash
# HotItems latency (bench layer): first the job's maximum throughput (a
# bounded run with an unlimited source), then a run with the source
# limited to half of it, with latency markers every 10 ms and the default
# execution.buffer-timeout. Reports p50/p99 of the markers' source-to-sink
# time (Flink's latency tracking: the time records spend in transit and in
# queues, not waiting for their window) and of the watermarks' source-to-
# sink time (which includes firing the windows and ranking the top 3), both
# measured on the TaskManagers' shared clock. Output is Markdown, also
# saved to bench/results/hotitems-<date>.md.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
events=${BENCH_EVENTS:-20000000}
seconds=${BENCH_SECONDS:-20}
build=${BENCH_BUILD:-build}
while [ $# -gt 0 ]; do
    case $1 in
    --events) events=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h | --help)
        echo "usage: bench/hotitems.sh [--events N (max-throughput run)] [--seconds S (latency run)] [--build DIR]"
        exit 0 ;;
    *) echo "bench/hotitems.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
case $build in /*) ;; *) build=$REPO/$build ;; esac
MPIFLOW=$build/mpiflow
[ -x "$MPIFLOW" ] || { echo "hotitems.sh: no $MPIFLOW; build first" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"${MPIRUN[@]}" "$MPIFLOW" run "$REPO/jobs/hotitems.yaml" --events "$events" \
    --output "$tmp/max" 2>"$tmp/max.log" >/dev/null || { cat "$tmp/max.log" >&2; exit 1; }
dur=$(grep -oE 'duration_s=[0-9.]+' "$tmp/max.log" | cut -d= -f2)
max=$(awk -v n="$events" -v d="$dur" 'BEGIN {printf "%.0f", n / d}')
half=$((max / 2))
n2=$((half * seconds))
echo "max throughput: $max events/s; latency run at $half events/s for ${seconds}s" >&2
"${MPIRUN[@]}" "$MPIFLOW" run "$REPO/jobs/hotitems.yaml" --events "$n2" --rate "$half" \
    --output "$tmp/half" -D metrics.latency.interval=10ms 2>"$tmp/half.log" >/dev/null ||
    { cat "$tmp/half.log" >&2; exit 1; }
get() { grep -oE "[( ]$1=[0-9.]+" "$tmp/half.log" | cut -d= -f2; }
out=$REPO/bench/results/hotitems-$(date +%Y-%m-%d).md
mkdir -p "$REPO/bench/results"
{
    echo "## HotItems latency ($(date +%Y-%m-%d))"
    echo
    echo "Command: \`bench/hotitems.sh --events $events --seconds $seconds\`; $(nproc) cores," \
        "1 JobManager + 2 TaskManagers, execution.buffer-timeout default (100 ms)," \
        "pipeline.auto-watermark-interval default (200 ms)."
    echo
    echo "| measure | value |"
    echo "| --- | --- |"
    echo "| maximum throughput ($events events, unlimited source) | $max events/s ($dur s) |"
    echo "| latency run | $half events/s, $n2 events |"
    echo "| latency markers source to sink p50 / p99 | $(get latency_p50_ms) ms / $(get latency_p99_ms) ms |"
    echo "| watermarks source to sink (window firing + top 3) p50 / p99 | $(get wm_latency_p50_ms) ms / $(get wm_latency_p99_ms) ms |"
} | tee "$out"
