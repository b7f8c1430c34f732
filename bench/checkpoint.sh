#!/usr/bin/env bash
# Checkpoint overhead and recovery (bench layer), on 1 JobManager + 2
# TaskManagers. The job: an unlimited generator of random i64 keys in
# [0, --keys) into a keyed 1-hour tumbling window (count + sum), blackhole
# sink, so keyed state grows to about keys x 42 bytes in memory (slots and
# arena) and keys x 24 bytes in a checkpoint. Two configurations by
# default, as the issue asks:
#   100mb: 3M keys,  150M rows, a checkpoint every 1 s
#   1gb:   30M keys, 300M rows, a checkpoint every 10 s
# For each:
#   - --reps interleaved runs without and with checkpoints, at full speed:
#     throughput loss from the median durations, checkpoint durations
#     p50/max from the JobManager's
#     "checkpoint N completed in X ms" lines of every run, barrier
#     alignment p99 from the summary line (at full speed the channels are
#     full: alignment with backpressure);
#   - alignment without backpressure: one run at --rate rows/s (about a
#     third of what the job can do here) with checkpoints;
#   - recovery: a checkpointed run made to fail (debug.inject-failure
#     after 80% of rank 1's records, restart-strategy none: a failed job
#     keeps its checkpoints); its latest checkpoint is restored --reps
#     times with `mpirun ... --restore PATH`, its files evicted from the
#     page cache first (cold), timing launch -> the JobManager's
#     "processing starts (start_unix_ms=...)", then the job is cancelled;
#     the TaskManagers' "restored PATH in X s" lines are reported too;
#   - in-process failover: the same failure with restart-strategy
#     fixed-delay 0 ms; the JobManager logs failover_s= (failure seen to
#     processing restarted, including the restore of the latest checkpoint).
# --compare DIR adds, in every rep, a checkpointed run with DIR/mpiflow (an
# older build, say) for a before/after within the same run. Checkpoints go
# to a scratch directory under /tmp, deleted at the end. Markdown on
# stdout, also saved to bench/results/checkpoint-<date>.md.
set -euo pipefail
args="$*"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BENCH_BUILD:-build}
reps=${BENCH_REPS:-3}
rate=${BENCH_RATE:-2000000}
compare=""
configs="100mb 1gb"
rows="" keys="" interval=""
usage() {
    echo "usage: bench/checkpoint.sh [--config 100mb|1gb|both] [--rows N --keys K --interval D]" \
        "[--rate ROWS_PER_S] [--reps R] [--build DIR] [--compare DIR]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --compare) compare=$2; shift 2 ;;
    --config) case $2 in both) configs="100mb 1gb" ;; 100mb|1gb) configs=$2 ;; *) usage ;; esac; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    *) usage ;;
    esac
done
if [ -n "$rows$keys$interval" ]; then
    [ -n "$rows" ] && [ -n "$keys" ] && [ -n "$interval" ] || usage
    configs=custom
fi
abspath() { case $1 in /*) echo "$1" ;; *) echo "$REPO/$1" ;; esac; }
MPIFLOW=$(abspath "$build")/mpiflow
[ -x "$MPIFLOW" ] || { echo "checkpoint.sh: no $MPIFLOW; build first" >&2; exit 1; }
if [ -n "$compare" ]; then
    CMPFLOW=$(abspath "$compare")/mpiflow
    [ -x "$CMPFLOW" ] || { echo "checkpoint.sh: no $CMPFLOW" >&2; exit 1; }
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d /tmp/mpiflow-ckpt-bench.XXXXXX)
export MPIFLOW_RUN_DIR=$tmp # where the job announces its REST API, for cancel
bgpid=""
cleanup() {
    [ -n "$bgpid" ] && kill "$bgpid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
MPIRUN=(mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1)
JOB=ckpt-bench

write_job() { # write_job ROWS KEYS [RATE] > FILE
    cat <<YAML
name: $JOB
operators:
  - uid: gen
    source: generator
    number-of-rows: $1
${3:+    rows-per-second: $3
}    fields:
      - {name: k, type: i64, kind: random, min: 0, max: $(($2 - 1))}
      - {name: v, type: i64, kind: random, min: 1, max: 100}
      - {name: ts, type: timestamp, kind: event-time, start: 0, interval: 1us}
    watermark: {field: ts}
  - {uid: w, type: window, key-by: k, window: {type: tumbling, size: 1h}, aggregates: [count, {function: sum, field: v}]}
  - {uid: out, sink: blackhole}
YAML
}

# run LOG BIN JOB ARGS...: one job run to its end; prints duration_s.
run() {
    local log=$1 bin=$2 job=$3; shift 3
    rm -rf "$tmp/chk"
    sync; sleep 1
    "${MPIRUN[@]}" "$bin" run "$job" -D state.checkpoints.dir="$tmp/chk" "$@" \
        >/dev/null 2>"$log" || { tail -20 "$log" >&2; exit 1; }
    grep -oE 'duration_s=[0-9.]+' "$log" | cut -d= -f2
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]; else print "-"}'; }
field() { grep -oE "$1=[0-9.]+" "$2" | head -1 | cut -d= -f2; } # field NAME LOG
ckdurs() { grep -hoE 'checkpoint [0-9]+ completed in [0-9.]+ ms' "$@" | awk '{print $5}'; }
pct() { awk -v b="$1" -v c="$2" 'BEGIN {printf "%.1f%%", (c - b) / c * 100}'; } # loss from durations
p50max() { # p50max LOG...: "N checkpoints, p50 X ms, max Y ms"
    ckdurs "$@" | sort -g | awk '{v[NR]=$1} END {if (NR) printf "%d, %s ms / %s ms", NR, v[int((NR+1)/2)], v[NR]; else print "0"}'
}
alignments() { for f in "$@"; do field alignment_p99_ms "$f"; done | paste -sd' '; }
restored() { # the TaskManagers' "restored PATH in X s" lines of a log, as "X s, Y s"
    grep -oE 'restored .* in [0-9.]+ s' "$1" | awk '{print $(NF-1) " s"}' | paste -sd, | sed 's/,/, /g'
}
latest_ckpt() { # the newest complete checkpoint under $tmp/chk
    local d
    for d in $(ls -d "$tmp"/chk/$JOB/chk-* 2>/dev/null | sort -V -r); do
        [ -f "$d/_metadata.h5" ] && { echo "$d"; return; }
    done
}

bench_config() { # bench_config NAME ROWS KEYS INTERVAL RATE_ROWS
    local name=$1 rows=$2 keys=$3 interval=$4 rrows=$5
    write_job "$rows" "$keys" >"$tmp/job.yaml"
    write_job "$rrows" "$keys" "$rate" >"$tmp/rated.yaml"
    local CK=(-D execution.checkpointing.interval="$interval")
    local base="" ck="" cmp="" losses="" cmplosses="" r b c x=""
    rm -f "$tmp"/*.log
    for r in $(seq 1 "$reps"); do
        b=$(run "$tmp/base-$r.log" "$MPIFLOW" "$tmp/job.yaml")
        c=$(run "$tmp/ck-$r.log" "$MPIFLOW" "$tmp/job.yaml" "${CK[@]}")
        base="$base $b" ck="$ck $c" losses="$losses $(pct "$b" "$c")"
        if [ -n "$compare" ]; then
            x=$(run "$tmp/cmp-$r.log" "$CMPFLOW" "$tmp/job.yaml" "${CK[@]}")
            cmp="$cmp $x" cmplosses="$cmplosses $(pct "$b" "$x")"
        fi
        echo "$name rep $r: without $b s, with $c s${x:+, with (compare) $x s}" >&2
    done
    local mb mc state rss nck
    mb=$(median <<<"$base"); mc=$(median <<<"$ck")
    state=$(field state_peak_bytes "$tmp/base-1.log")
    rss=$(grep -ohE 'peak_rss_kb=[0-9]+' "$tmp"/ck-*.log | cut -d= -f2 | sort -g | tail -1)
    nck=$(ckdurs "$tmp"/ck-*.log | grep -c . || true)

    # Alignment without backpressure: the same job at a rate it can keep.
    echo "$name: rate-limited run" >&2
    run "$tmp/rated.log" "$MPIFLOW" "$tmp/rated.yaml" "${CK[@]}" >/dev/null

    # Recovery 1: fail after 80% of rank 1's records (it reads about half
    # of them), keep the checkpoints, restore the latest one cold.
    echo "$name: recovery" >&2
    local inject=$((rows * 2 / 5)) ckpt size launches="" tmlines="" t0 t1 i
    rm -rf "$tmp/chk"
    if "${MPIRUN[@]}" "$MPIFLOW" run "$tmp/job.yaml" -D state.checkpoints.dir="$tmp/chk" "${CK[@]}" \
        -D debug.inject-failure=rank=1,records=$inject -D restart-strategy.type=none \
        >/dev/null 2>"$tmp/fail.log"; then
        echo "the injected failure did not fail the job" >&2
        exit 1
    fi
    ckpt=$(latest_ckpt)
    size="no checkpoint completed before the failure"
    if [ -n "$ckpt" ]; then
        mv "$ckpt" "$tmp/kept"
        ckpt=$tmp/kept
        "$MPIFLOW" inspect "$ckpt" >"$tmp/inspect.txt"
        size=$(grep -oE '^total: .*' "$tmp/inspect.txt" | sed 's/^total: //')
        size="chk-$(grep -oE '^checkpoint [0-9]+' "$tmp/inspect.txt" | awk '{print $2}'): $size"
    fi
    for i in $(seq 1 "$reps"); do
        [ -n "$ckpt" ] || break
        for f in "$ckpt"/*.h5; do dd if="$f" iflag=nocache count=0 status=none; done
        sync; sleep 1
        rm -rf "$tmp/chk"
        t0=$(date +%s%3N)
        "${MPIRUN[@]}" "$MPIFLOW" run "$tmp/job.yaml" -D state.checkpoints.dir="$tmp/chk" \
            "${CK[@]}" --restore "$ckpt" >/dev/null 2>"$tmp/restore.log" &
        bgpid=$!
        for _ in $(seq 1 3000); do
            grep -q 'processing starts' "$tmp/restore.log" && break
            kill -0 "$bgpid" 2>/dev/null || break
            sleep 0.02
        done
        t1=$(grep -oE 'start_unix_ms=[0-9]+' "$tmp/restore.log" | cut -d= -f2 || true)
        [ -n "$t1" ] || { tail -20 "$tmp/restore.log" >&2; echo "restore did not start" >&2; exit 1; }
        "$MPIFLOW" cancel "$JOB" >/dev/null 2>&1 || true
        wait "$bgpid" || true
        bgpid=""
        launches="$launches $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) / 1000}')"
        tmlines="$tmlines${tmlines:+; }$(restored "$tmp/restore.log")"
    done
    # Recovery 2: the same failure, restarted in the same MPI world.
    echo "$name: failover" >&2
    run "$tmp/failover.log" "$MPIFLOW" "$tmp/job.yaml" "${CK[@]}" \
        -D debug.inject-failure=rank=1,records=$inject \
        -D restart-strategy.type=fixed-delay -D restart-strategy.fixed-delay.delay=0ms >/dev/null

    echo "### $name: $keys keys, $rows rows, a checkpoint every $interval"
    echo
    echo "| measure | value |"
    echo "| --- | --- |"
    echo "| keyed state in memory (state_peak_bytes) | $state bytes |"
    echo "| a checkpoint of it (\`mpiflow inspect\` of the restored one) | $size |"
    echo "| job without checkpoints, median | $mb s (runs:$base) |"
    echo "| job with checkpoints, median | $mc s (runs:$ck) |"
    echo "| **throughput loss** (of the medians) | $(pct "$mb" "$mc") (per rep:$losses) |"
    echo "| checkpoints completed (all runs), duration p50 / max | $(p50max "$tmp"/ck-*.log) |"
    echo "| peak RSS of a TaskManager with checkpoints | $rss kB |"
    echo "| barrier alignment p99 at full speed (backpressure), per run | $(alignments "$tmp"/ck-*.log) ms |"
    if [ -n "$compare" ]; then
        local mx
        mx=$(median <<<"$cmp")
        echo "| *compare build:* job with checkpoints, median | $mx s (runs:$cmp) |"
        echo "| *compare build:* throughput loss | $(pct "$mb" "$mx") (per rep:$cmplosses) |"
        echo "| *compare build:* checkpoints, duration p50 / max | $(p50max "$tmp"/cmp-*.log) |"
        echo "| *compare build:* peak RSS of a TaskManager | $(grep -ohE 'peak_rss_kb=[0-9]+' "$tmp"/cmp-*.log | cut -d= -f2 | sort -g | tail -1) kB |"
        echo "| *compare build:* alignment p99 at full speed, per run | $(alignments "$tmp"/cmp-*.log) ms |"
    fi
    echo "| **barrier alignment p99 without backpressure** ($rate rows/s, $rrows rows) | $(field alignment_p99_ms "$tmp/rated.log") ms over $(grep -oE 'over [0-9]+ alignments' "$tmp/rated.log" | awk '{print $2}') alignments; checkpoints $(p50max "$tmp/rated.log") |"
    echo "| **restore, launch to processing resumed** (cold page cache), median | $(median <<<"$launches") s (runs:$launches) |"
    echo "| TaskManagers' \`restored ... in\` lines | $tmlines |"
    echo "| in-process failover (failover_s) | $(field failover_s "$tmp/failover.log") s; its restores: $(restored "$tmp/failover.log") |"
    echo
    rm -rf "$tmp/kept" "$tmp/chk"
}

out=$REPO/bench/results/checkpoint-$(date +%Y-%m-%d).md
{
    echo "## Checkpoint overhead and recovery ($(date +%Y-%m-%d))"
    echo
    echo "Command: \`bench/checkpoint.sh${args:+ $args}\`"
    echo "(build \`$build\`${compare:+, compare \`$compare\`}, $reps reps); 1 JobManager + 2" \
        "TaskManagers on $(nproc) cores; medians of interleaved runs."
    echo
    for c in $configs; do
        case $c in
        100mb) bench_config "100mb" 150000000 3000000 1s 40000000 ;;
        1gb) bench_config "1gb" 300000000 30000000 10s 100000000 ;;
        custom) bench_config "custom" "$rows" "$keys" "$interval" "$((rate * 20))" ;;
        esac
    done
} | tee "$out"
