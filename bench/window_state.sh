#!/usr/bin/env bash
# Window state memory per key (bench layer): a tumbling event-time window
# holding K distinct i64 keys at once, with `count` and with `count` +
# `sum`, on 1 JobManager + 2 TaskManagers. Reports the operator's peak
# state bytes (slot arrays plus arena bytes written, summed over subtasks)
# per key, the raw key and value bytes per key (8-byte key; 8-byte count;
# 8-byte sum), their ratio, and as a cross-check the growth of the
# TaskManagers' peak RSS over a run with 1000 keys. Output is Markdown,
# also saved to bench/results/window-state-<date>.md.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BENCH_BUILD:-build}
keys=${BENCH_KEYS:-"1000000 1500000 3000000"}
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    -h | --help) echo "usage: bench/window_state.sh [--keys \"K1 K2 ...\"] [--build DIR]"; exit 0 ;;
    *) echo "window_state.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
case $build in /*) ;; *) build=$REPO/$build ;; esac
MPIFLOW=$build/mpiflow
[ -x "$MPIFLOW" ] || { echo "window_state.sh: no $MPIFLOW; build first" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

job() { # job AGGS: a generator of distinct keys into one tumbling window
    cat <<YAML
name: window-state
parameters: {keys: {default: "1000"}}
operators:
  - uid: gen
    source: generator
    number-of-rows: \${keys}
    fields:
      - {name: k, type: i64, kind: sequence}
      - {name: v, type: i64, kind: random, min: 1, max: 100}
      - {name: ts, type: timestamp, kind: event-time, start: 0, interval: 1us}
    watermark: {field: ts}
  - {uid: w, type: window, key-by: k, window: {type: tumbling, size: 1h}, aggregates: $1}
  - {uid: out, sink: blackhole}
YAML
}
job "[count]" >"$tmp/count.yaml"
job "[count, {function: sum, field: v}]" >"$tmp/sum.yaml"
run() { # run JOB KEYS -> "state_bytes rss_kb_total"
    mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run "$1" --keys "$2" \
        >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
    sb=$(grep -oE 'state_peak_bytes=[0-9]+' "$tmp/log" | cut -d= -f2)
    rss=$(grep -oE 'peak_rss_kb=[0-9]+' "$tmp/log" | cut -d= -f2 | awk '{s += $1} END {print s}')
    echo "${sb:-0} $rss"
}
out=$REPO/bench/results/window-state-$(date +%Y-%m-%d).md
mkdir -p "$REPO/bench/results"
{
    echo "## Window state per key ($(date +%Y-%m-%d))"
    echo
    echo "Command: \`bench/window_state.sh --keys \"$keys\"\`; tumbling event-time window, i64 keys," \
        "1 JobManager + 2 TaskManagers."
    echo
    echo "| aggregates | keys | state bytes/key | raw bytes/key | ratio | RSS growth bytes/key |"
    echo "| --- | --- | --- | --- | --- | --- |"
    for agg in count sum; do
        raw=16
        [ $agg = sum ] && raw=24
        read -r _ base < <(run "$tmp/$agg.yaml" 1000)
        for k in $keys; do
            read -r sb rss < <(run "$tmp/$agg.yaml" "$k")
            awk -v a="$agg" -v k="$k" -v sb="$sb" -v raw="$raw" -v rss="$rss" -v base="$base" 'BEGIN {
                printf "| %s | %d | %.1f | %d | %.2f | %.1f |\n", a == "sum" ? "count + sum" : "count",
                    k, sb / k, raw, sb / k / raw, (rss - base) * 1024 / k
            }'
        done
    done
} | tee "$out"
