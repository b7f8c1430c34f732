#!/usr/bin/env bash
# Checkpoint overhead (bench layer): the same keyed window job -- an
# unlimited generator into a 1-hour tumbling window holding --keys keys
# (count + sum), so keyed state grows to about keys x 35 bytes -- without
# checkpoints and with checkpoints every --interval, interleaved, --reps
# times, on 1 JobManager + 2 TaskManagers. Reports the throughput ratio,
# checkpoint durations p50/max, barrier alignment p99, the size of the last
# checkpoint, and the time from launching a restore of it to the end of
# the job (an upper bound on recovery: the rows after it are read again). Markdown, also saved to
# bench/results/checkpoint-<date>.md.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BENCH_BUILD:-build}
rows=${BENCH_ROWS:-6000000}
keys=${BENCH_KEYS:-3000000}
interval=${BENCH_INTERVAL:-1s}
reps=${BENCH_REPS:-3}
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    *) echo "usage: bench/checkpoint.sh [--rows N] [--keys K] [--interval D] [--reps R] [--build DIR]" >&2; exit 2 ;;
    esac
done
case $build in /*) ;; *) build=$REPO/$build ;; esac
MPIFLOW=$build/mpiflow
[ -x "$MPIFLOW" ] || { echo "checkpoint.sh: no $MPIFLOW; build first" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d "$REPO/bench/results/ckpt.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/job.yaml" <<YAML
name: ckpt-bench
operators:
  - uid: gen
    source: generator
    number-of-rows: $rows
    fields:
      - {name: k, type: i64, kind: random, min: 0, max: $((keys - 1))}
      - {name: v, type: i64, kind: random, min: 1, max: 100}
      - {name: ts, type: timestamp, kind: event-time, start: 0, interval: 1us}
    watermark: {field: ts}
  - {uid: w, type: window, key-by: k, window: {type: tumbling, size: 1h}, aggregates: [count, {function: sum, field: v}]}
  - {uid: out, sink: blackhole}
YAML
MPIRUN=(mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1)
run() { # run NAME ARGS...: -> duration in s; log in $tmp/NAME.log
    local name=$1; shift
    rm -rf "$tmp/chk"
    sync; sleep 1
    "${MPIRUN[@]}" "$MPIFLOW" run "$tmp/job.yaml" -D state.checkpoints.dir="$tmp/chk" "$@" \
        >/dev/null 2>"$tmp/$name.log" || { cat "$tmp/$name.log" >&2; exit 1; }
    grep -oE 'duration_s=[0-9.]+' "$tmp/$name.log" | cut -d= -f2
}
base="" ck=""
for r in $(seq 1 "$reps"); do
    base="$base $(run base)"
    ck="$ck $(run ck -D execution.checkpointing.interval="$interval" -D state.checkpoints.num-retained=1)"
    echo "rep $r: without ${base##* } s, with ${ck##* } s" >&2
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
mb=$(median <<<"$base"); mc=$(median <<<"$ck")
durs=$(grep -oE 'checkpoint [0-9]+ completed in [0-9.]+ ms' "$tmp/ck.log" | awk '{print $5}' | sort -g)
n=$(echo "$durs" | grep -c . || true)
p50=$(echo "$durs" | awk -v n="$n" 'NR == int((n + 1) / 2)')
dmax=$(echo "$durs" | tail -1)
align=$(grep -oE 'alignment_p99_ms=[0-9.]+' "$tmp/ck.log" | cut -d= -f2)
last=$(ls -d "$tmp"/chk/ckpt-bench/chk-* | sort -V | tail -1)
size=$(du -sm "$last" | cut -f1)
# Recovery: restore the last checkpoint and run the job to its end (the
# rows after that checkpoint are read again): an upper bound on recovery.
t0=$(date +%s.%N)
"${MPIRUN[@]}" "$MPIFLOW" run "$tmp/job.yaml" -D state.checkpoints.dir="$tmp/chk" \
    --restore "$last" 2>"$tmp/restore.log" >/dev/null || { cat "$tmp/restore.log" >&2; exit 1; }
rec=$(echo "$(date +%s.%N) - $t0" | bc)
out=$REPO/bench/results/checkpoint-$(date +%Y-%m-%d).md
{
    echo "## Checkpoint overhead ($(date +%Y-%m-%d))"
    echo
    echo "Command: \`bench/checkpoint.sh --rows $rows --keys $keys --interval $interval --reps $reps\`;" \
        "1 JobManager + 2 TaskManagers, median of $reps interleaved runs."
    echo
    echo "| measure | value |"
    echo "| --- | --- |"
    echo "| job without checkpoints | $mb s |"
    echo "| job with checkpoints every $interval | $mc s ($n checkpoints in the last run) |"
    awk -v b="$mb" -v c="$mc" 'BEGIN {printf "| throughput loss | %.1f%% |\n", (c - b) / c * 100}'
    echo "| checkpoint duration p50 / max | $p50 ms / $dmax ms |"
    echo "| barrier alignment p99 | $align ms |"
    echo "| last checkpoint on disk | $size MB |"
    echo "| restore of it, then the rest of the job (launch to end) | $rec s |"
} | tee "$out"
