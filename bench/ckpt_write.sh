#!/usr/bin/env bash
# Checkpoint write bandwidth (bench layer): ckpt_write_tm writing about
# 1 GB of keyed state into one TaskManager file (hash every blob, write,
# fsync file and directory), against `dd if=/dev/zero bs=1M conv=fdatasync`
# of the same size to the same directory, for two blob sizes: large blobs
# (written straight from the caller's memory) and small ones (gathered in
# the writer's 16 MiB staging buffer). Runs are interleaved; the median of
# each is reported, with ckpt's ratio to dd. Also shows ckpt_open with full
# checksum verification of the same file (page cache warm). Output is
# Markdown, also saved to bench/results/ckpt-write-<date>.md.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BENCH_BUILD:-build}
dir=${BENCH_DIR:-}
mb=1024
runs=5
configs="8192:scattered 64:contiguous 64:scattered"
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --mb) mb=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    -h | --help)
        echo "usage: bench/ckpt_write.sh [--dir DIR (default: a temp dir under \$REPO/..)]" \
             "[--mb 1024] [--runs 5] [--configs \"KIB:contiguous|scattered ...\"] [--build DIR]"
        exit 0 ;;
    *) echo "ckpt_write.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
case $build in /*) ;; *) build=$REPO/$build ;; esac
BENCH=$build/bench/ckpt_write_bench
[ -x "$BENCH" ] || { echo "ckpt_write.sh: no $BENCH; build first" >&2; exit 1; }
# Default: next to the repository (a real disk; /tmp may be tmpfs).
if [ -z "$dir" ]; then
    dir=$(mktemp -d "$REPO/../ckpt-bench.XXXXXX")
    trap 'rm -rf "$dir"' EXIT
fi
mkdir -p "$dir"
fs=$(df -PT "$dir" | awk 'NR == 2 { print $1 " (" $2 ")" }')

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# Before every timed run, an untimed 1 GB dd to the same directory (deleted
# again): on a VM, memory freed by the previous run (the driver's buffers,
# the deleted files' page cache) may have gone back to the host, and the
# first writer to need it afterwards pays for getting it back; without this
# whichever side ran second was measured 2-3x slower.
warm() {
    dd if=/dev/zero of="$dir/warm.bin" bs=1M count="$mb" status=none
    rm -f "$dir/warm.bin"
}
declare -A res
for ((r = 1; r <= runs; r++)); do
    rm -f "$dir/dd.bin"
    warm
    sync
    t0=$(date +%s.%N)
    dd if=/dev/zero of="$dir/dd.bin" bs=1M count="$mb" conv=fdatasync status=none
    t1=$(date +%s.%N)
    res[dd]+="$(awk -v t0="$t0" -v t1="$t1" -v mb="$mb" 'BEGIN { printf "%.0f", mb * 1048576 / 1e6 / (t1 - t0) }') "
    rm -f "$dir/dd.bin"
    for cfg in $configs; do
        rm -rf "$dir/chk"
        warm
        sync
        out=$("$BENCH" "$dir/chk" "$mb" "${cfg%%:*}" "${cfg#*:}")
        res[w$cfg]+="$(sed 's/.*write_mb_s=\([0-9]*\).*/\1/' <<<"$out") "
        res[v$cfg]+="$(sed 's/.*open_verify_mb_s=\([0-9]*\).*/\1/' <<<"$out") "
        res[c$cfg]+="$(sed 's/.*write_cpu_s=\([0-9.]*\).*/\1/' <<<"$out") "
        rm -rf "$dir/chk"
    done
done

dd_med=$(tr ' ' '\n' <<<"${res[dd]}" | grep . | median)
{
    echo "## Checkpoint write bandwidth ($(date +%F))"
    echo
    echo "Command: \`bench/ckpt_write.sh --mb $mb --runs $runs --configs \"$configs\"\`;" \
         "file system $fs; $(nproc) cores; HDF5 $(h5dump --version 2>/dev/null | awk '{ print $NF }')." \
         "MB = 10^6 bytes; median of $runs interleaved runs (all runs in the runs column)," \
         "each after an untimed warm-up dd of the same size." \
         "Both sides include the fsync: dd with conv=fdatasync, ckpt_write_tm fsyncs the file and the directory" \
         "and also computes the xxh64 of every blob." \
         "CPU s: user + system seconds of the ckpt_write_tm call (median)."
    echo
    echo "| writer | blobs | MB/s | runs | ratio to dd | CPU s | open + verify MB/s (warm) |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    echo "| dd bs=1M conv=fdatasync | - | $dd_med | ${res[dd]% } | 1.00 | - | - |"
    for cfg in $configs; do
        kb=${cfg%%:*}
        w=$(tr ' ' '\n' <<<"${res[w$cfg]}" | grep . | median)
        v=$(tr ' ' '\n' <<<"${res[v$cfg]}" | grep . | median)
        c=$(tr ' ' '\n' <<<"${res[c$cfg]}" | grep . | median)
        ratio=$(awk -v a="$w" -v b="$dd_med" 'BEGIN { printf "%.2f", a / b }')
        echo "| ckpt_write_tm | $((mb * 1024 / kb)) x $kb KiB, ${cfg#*:} | $w | ${res[w$cfg]% } | $ratio | $c | $v |"
    done
} | tee "$REPO/bench/results/ckpt-write-$(date +%F).md"
