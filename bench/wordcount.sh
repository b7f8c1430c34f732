#!/usr/bin/env bash
# WordCount benchmark for mpiflow (bench layer). Runs, in one go and
# interleaved within each repetition, mpiflow with 1 JM + 2 TMs and with
# 1 JM + 3 TMs, the single-threaded C baseline (bench/baselines/wc_baseline.c)
# and a `tr | sort | uniq -c` pipeline over the same generated corpus; measures
# wall time and peak RSS with GNU time; checks that all outputs agree after
# normalising them to sorted "word count" lines (exit 1 if not); and prints a
# Markdown report that is also saved to bench/results/wordcount-<date>.md.
# Run with --help for the options; every option also has a BENCH_* variable.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<EOF
usage: bench/wordcount.sh [options]
  --reps N        repetitions, contenders interleaved in each (BENCH_REPS, default 3)
  --bytes N       corpus size when it has to be generated (BENCH_BYTES, default 200000000)
  --corpus PATH   corpus file, generated if missing (BENCH_CORPUS,
                  default bench/data/corpus-<size>.txt)
  --seed S        generator seed (BENCH_SEED, default 1)
  --build DIR     mpiflow build directory holding ./mpiflow (BENCH_BUILD, default build)
  --tools DIR     where gen_corpus and wc_baseline are (BENCH_TOOLS, default BUILD/bench)
  --job FILE      mpiflow job file (BENCH_JOB, default jobs/wordcount.yaml)
  --timeout SEC   kill a run after SEC seconds (BENCH_TIMEOUT, default 1800)
  --settle SEC    sync, then idle SEC seconds before each run (BENCH_SETTLE, default 1)
  --no-mpiflow    skip the two mpiflow contenders
  --quick         smoke test: 20 MB corpus, 1 repetition (explicit --bytes/--reps win)
  --keep          keep the scratch directory bench/results/*.tmp after success
  -h, --help      this text
EOF
}

die() {
    echo "wordcount.sh: $*" >&2
    exit 1
}

reps=${BENCH_REPS:-}
bytes=${BENCH_BYTES:-}
corpus=${BENCH_CORPUS:-}
seed=${BENCH_SEED:-1}
build=${BENCH_BUILD:-$REPO/build}
tools=${BENCH_TOOLS:-}
jobfile=${BENCH_JOB:-$REPO/jobs/wordcount.yaml}
timeout_s=${BENCH_TIMEOUT:-1800}
settle=${BENCH_SETTLE:-1}
no_mpiflow=0
quick=0
keep=0

while [ $# -gt 0 ]; do
    case $1 in
    --reps) reps=${2:?--reps needs a value}; shift 2 ;;
    --bytes) bytes=${2:?--bytes needs a value}; shift 2 ;;
    --corpus) corpus=${2:?--corpus needs a value}; shift 2 ;;
    --seed) seed=${2:?--seed needs a value}; shift 2 ;;
    --build) build=${2:?--build needs a value}; shift 2 ;;
    --tools) tools=${2:?--tools needs a value}; shift 2 ;;
    --job) jobfile=${2:?--job needs a value}; shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
    --settle) settle=${2:?--settle needs a value}; shift 2 ;;
    --no-mpiflow) no_mpiflow=1; shift ;;
    --quick) quick=1; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
    esac
done

if [ "$quick" = 1 ]; then
    reps=${reps:-1}
    bytes=${bytes:-20000000}
fi
reps=${reps:-3}
bytes=${bytes:-200000000}
for v in reps bytes seed timeout_s settle; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[ "$reps" -ge 1 ] || die "--reps must be at least 1"

if [ -z "$corpus" ]; then
    if [ $((bytes % 1000000)) -eq 0 ]; then
        label="$((bytes / 1000000))M"
    else
        label="${bytes}B"
    fi
    [ "$seed" = 1 ] || label="$label-s$seed"
    corpus="$REPO/bench/data/corpus-$label.txt"
fi
build=$(realpath -m -- "$build")
corpus=$(realpath -m -- "$corpus")
tools=$(realpath -m -- "${tools:-$build/bench}")
jobfile=$(realpath -m -- "$jobfile")

# --- tools ------------------------------------------------------------------
if ! /usr/bin/time -f '%M' -o /dev/null true 2>/dev/null; then
    die "GNU time is needed at /usr/bin/time (Debian package 'time')"
fi
for t in gen_corpus wc_baseline; do
    if [ ! -x "$tools/$t" ]; then
        if [ -f "$build/CMakeCache.txt" ] && [ "$tools" = "$build/bench" ]; then
            echo "# building $t in $build" >&2
            cmake --build "$build" --target "$t" >&2 || die "building $t failed"
        else
            die "$tools/$t not found; build it with
    cmake -S $REPO -B $build && cmake --build $build
or standalone (no MPI needed)
    cmake -S $REPO/bench -B build-bench && cmake --build build-bench
and pass --tools build-bench"
        fi
    fi
done

run_mpiflow=1
if [ "$no_mpiflow" = 1 ]; then
    run_mpiflow=0
    echo "# mpiflow contenders skipped (--no-mpiflow)" >&2
elif [ ! -x "$build/mpiflow" ]; then
    run_mpiflow=0
    echo "# SKIPPING mpiflow contenders: $build/mpiflow not found" \
        "(build mpiflow or pass --build DIR; --no-mpiflow silences this)" >&2
else
    command -v mpirun >/dev/null || die "mpirun not found on PATH"
    [ -f "$jobfile" ] || die "$jobfile not found; mpiflow needs it"
fi

# --- corpus -----------------------------------------------------------------
gen_cmd=("$tools/gen_corpus" --bytes "$bytes" --seed "$seed" --vocab 100000 --zipf 1.0)
if [ ! -f "$corpus" ]; then
    mkdir -p "$(dirname "$corpus")"
    echo "# generating $corpus" >&2
    "${gen_cmd[@]}" "$corpus.part" || die "gen_corpus failed"
    mv -- "$corpus.part" "$corpus"
    corpus_note="generated by this run: $(printf '%q ' "${gen_cmd[@]}")$(printf '%q' "$corpus")"
else
    corpus_note="existing file (generator command for a fresh one: $(printf '%q ' "${gen_cmd[@]}")$(printf '%q' "$corpus"))"
fi
corpus_bytes=$(stat -c %s "$corpus")
corpus_sha=$(sha256sum "$corpus" | cut -d' ' -f1)

# --- contenders -------------------------------------------------------------
stamp=$(date +%Y-%m-%d-%H%M%S)
suffix=""
[ "$quick" = 1 ] && suffix="-quick"
results="$REPO/bench/results"
work="$results/wordcount-$stamp$suffix.tmp"
report="$results/wordcount-$stamp$suffix.md"
mkdir -p "$work"

names=()
[ "$run_mpiflow" = 1 ] && names+=(mpiflow-2tm mpiflow-3tm)
names+=(wc_baseline sort-uniq)

declare -A label_of=(
    [mpiflow-2tm]="mpiflow, 1 JM + 2 TMs (-np 3)"
    [mpiflow-3tm]="mpiflow, 1 JM + 3 TMs (-np 4)"
    [wc_baseline]="wc_baseline (C, 1 thread)"
    [sort-uniq]="tr \| sort \| uniq -c"
)
# shellcheck disable=SC2016 # $1 and $2 are expanded by bash -c
sort_pipeline='LC_ALL=C tr -cs A-Za-z '"'"'\n'"'"' < "$1" | LC_ALL=C tr A-Z a-z | LC_ALL=C sort | LC_ALL=C uniq -c > "$2"'

# Fills the array `cmd` with the command for contender $1 writing to $2.
make_cmd() {
    case $1 in
    mpiflow-2tm | mpiflow-3tm)
        local np=3
        [ "$1" = mpiflow-3tm ] && np=4
        cmd=(env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
            mpirun -np "$np" --oversubscribe --mca mpi_yield_when_idle 1
            "$build/mpiflow" run "$jobfile" --input "$corpus" --output "$2")
        ;;
    wc_baseline) cmd=("$tools/wc_baseline" "$corpus" "$2") ;;
    sort-uniq) cmd=(bash -c "$sort_pipeline" sort-uniq "$corpus" "$2") ;;
    esac
}

# Prints the command of contender $1 for output $2 as one shell line; the
# pipeline is shown as the script bash -c runs, with $1 and $2 filled in.
show_cmd() {
    if [ "$1" = sort-uniq ]; then
        # shellcheck disable=SC2016
        local s=${sort_pipeline//'"$1"'/$(printf '%q' "$corpus")}
        # shellcheck disable=SC2016
        echo "${s//'"$2"'/$(printf '%q' "$2")}"
        return
    fi
    make_cmd "$1" "$2"
    local s
    s=$(printf '%q ' "${cmd[@]}")
    echo "${s% }"
}

# Writes contender $1's output $2 as sorted "word count" lines to $3.
normalise() {
    case $1 in
    mpiflow-*)
        local parts=("$2"/part-*)
        [ -e "${parts[0]}" ] || die "$1: no part-* files in $2"
        cat -- "${parts[@]}" | sed 's/,/ /' | LC_ALL=C sort >"$3"
        ;;
    wc_baseline) sed 's/,/ /' "$2" | LC_ALL=C sort >"$3" ;;
    # uniq -c prints "  N word"; the empty word tr emits before a leading
    # separator shows up as "  N " and is dropped.
    sort-uniq) awk 'NF == 1 { next } { print $2 " " $1 }' "$2" | LC_ALL=C sort >"$3" ;;
    esac
}

declare -A wall rss cpu tmrss dur
now_ns() { date +%s%N; }

# Runs contender $1 for repetition $2 and records its measurements.
run_one() {
    local name=$1 rep=$2
    local out="$work/$name.rep$rep.out"
    local tf="$work/$name.rep$rep.time" err="$work/$name.rep$rep.stderr"
    rm -rf -- "$out"
    make_cmd "$name" "$out"
    # Let the previous run's writeback (sort's spill files, outputs) finish
    # so it does not steal one of the two cores from this run.
    sync
    sleep "$settle"
    local t0 t1 rc=0
    t0=$(now_ns)
    /usr/bin/time -f '%M %U %S' -o "$tf" timeout -k 10 "$timeout_s" "${cmd[@]}" \
        >"$work/$name.rep$rep.stdout" 2>"$err" || rc=$?
    t1=$(now_ns)
    if [ "$rc" -ne 0 ]; then
        echo "---- last lines of $err" >&2
        tail -n 20 "$err" >&2 || true
        [ "$rc" -eq 124 ] && die "$name rep $rep timed out after ${timeout_s}s (scratch kept in $work)"
        die "$name rep $rep failed with exit code $rc (scratch kept in $work)"
    fi
    wall[$name.$rep]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    local m u s
    read -r m u s < <(grep -E '^[0-9]+ [0-9.]+ [0-9.]+$' "$tf" | tail -n 1)
    rss[$name.$rep]=$m
    cpu[$name.$rep]=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
    tmrss[$name.$rep]=$(grep -oE 'tm-[0-9]+ peak_rss_kb=[0-9]+' "$err" | tr '\n' ';' || true)
    dur[$name.$rep]=$(grep -oE 'duration_s=[0-9.eE+-]+' "$err" | tail -n 1 | cut -d= -f2 || true)
    normalise "$name" "$out" "$work/$name.rep$rep.norm"
    printf '# rep %d  %-12s %8.3f s wall  %6.2f s cpu  %s KiB\n' "$rep" "$name" \
        "${wall[$name.$rep]}" "${cpu[$name.$rep]}" "${rss[$name.$rep]}" >&2
}

# Compares every contender of repetition $1 with sort-uniq; dies on mismatch.
check_rep() {
    local rep=$1 ref="$work/sort-uniq.rep$1.norm" name bad=0
    [ -s "$ref" ] || die "sort-uniq produced no words for rep $rep"
    for name in "${names[@]}"; do
        [ "$name" = sort-uniq ] && continue
        if ! cmp -s "$ref" "$work/$name.rep$rep.norm"; then
            bad=1
            echo "!!!! MISMATCH: $name rep $rep differs from sort-uniq" \
                "($(wc -l <"$work/$name.rep$rep.norm") vs $(wc -l <"$ref") words); first differences:" >&2
            diff "$ref" "$work/$name.rep$rep.norm" | head -n 20 >&2 || true
        fi
    done
    if [ "$bad" = 1 ]; then
        die "AGREEMENT CHECK FAILED in rep $rep; outputs kept in $work"
    fi
    echo "# rep $rep: all ${#names[@]} outputs agree ($(wc -l <"$ref") distinct words)" >&2
}

# --- run --------------------------------------------------------------------
commands=""
for name in "${names[@]}"; do
    commands+="$name:"$'\n'"    $(show_cmd "$name" "$work/$name.rep1.out")"$'\n'
done
echo "# corpus $corpus ($corpus_bytes bytes), $reps rep(s), contenders: ${names[*]}" >&2
echo "# commands (repetition 1):" >&2
printf '%s' "$commands" | sed 's/^/#   /' >&2
cat -- "$corpus" >/dev/null # page cache warm-up so rep 1 is not an I/O test
for rep in $(seq 1 "$reps"); do
    for name in "${names[@]}"; do
        run_one "$name" "$rep"
    done
    check_rep "$rep"
done

# --- report -----------------------------------------------------------------
# Reads numbers on stdin; prints "median min max", or "n/a n/a n/a".
stats() {
    LC_ALL=C sort -g | awk '{ v[NR] = $1 }
        END {
            if (NR == 0) { print "n/a n/a n/a"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.3f %.3f %.3f\n", m, v[1], v[NR]
        }'
}

declare -A med mn mx
for name in "${names[@]}"; do
    read -r "med[$name]" "mn[$name]" "mx[$name]" < <(
        for rep in $(seq 1 "$reps"); do echo "${wall[$name.$rep]}"; done | stats)
done

table="| contender | median wall s | min s | max s | MB/s | CPU s | peak RSS MiB | per-TM peak RSS MiB | job duration s | start-up s | ratio to baseline | speed-up over sort\\|uniq |
|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
for name in "${names[@]}"; do
    peak=$(for rep in $(seq 1 "$reps"); do echo "${rss[$name.$rep]}"; done |
        awk '$1 > m { m = $1 } END { printf "%.0f", m / 1024 }')
    pertm="n/a"
    jobdur="n/a"
    startup="n/a"
    if [[ $name == mpiflow-* ]]; then
        all=$(for rep in $(seq 1 "$reps"); do echo "${tmrss[$name.$rep]}"; done | tr ';' '\n')
        if [ -n "$(echo "$all" | tr -d '[:space:]')" ]; then
            pertm=$(echo "$all" | awk -F'[ =]' 'NF == 3 { k = $1; if ($3 > m[k]) m[k] = $3 }
                END { for (k in m) printf "%s %.0f\n", k, m[k] / 1024 }' |
                sort -t- -k2,2n | paste -sd, - | sed 's/,/, /g')
        fi
        durs=""
        startups=""
        for rep in $(seq 1 "$reps"); do
            if [ -n "${dur[$name.$rep]}" ]; then
                durs+="${dur[$name.$rep]}"$'\n'
                startups+=$(awk -v w="${wall[$name.$rep]}" -v d="${dur[$name.$rep]}" \
                    'BEGIN { print w - d }')$'\n'
            fi
        done
        if [ -n "$durs" ]; then
            jobdur=$(printf '%s' "$durs" | stats | cut -d' ' -f1)
            startup=$(printf '%s' "$startups" | stats | cut -d' ' -f1)
        fi
    fi
    ratio=$(awk -v a="${med[$name]}" -v b="${med[wc_baseline]}" 'BEGIN { printf "%.2f", a / b }')
    speedup=$(awk -v a="${med[sort-uniq]}" -v b="${med[$name]}" 'BEGIN { printf "%.2f", a / b }')
    cpus=$(for rep in $(seq 1 "$reps"); do echo "${cpu[$name.$rep]}"; done | stats | cut -d' ' -f1)
    mbps=$(awk -v b="$corpus_bytes" -v t="${med[$name]}" 'BEGIN { printf "%.0f", b / 1e6 / t }')
    table+=$'\n'"| ${label_of[$name]} | ${med[$name]} | ${mn[$name]} | ${mx[$name]} | $mbps | $cpus | $peak | $pertm | $jobdur | $startup | $ratio | $speedup |"
done

skipped=""
[ "$run_mpiflow" = 1 ] || skipped="mpiflow contenders were **skipped** ($([ "$no_mpiflow" = 1 ] && echo "--no-mpiflow" || echo "$build/mpiflow not found"))."$'\n\n'

{
    echo "# WordCount benchmark, $stamp$suffix"
    echo
    echo "- host: $(uname -srm), $(nproc) cores, $(awk -F': *' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "- corpus: \`$corpus\`, $corpus_bytes bytes, sha256 \`$corpus_sha\`"
    echo "  - $corpus_note"
    echo "- repetitions: $reps, contenders interleaved in this order in each: ${names[*]};" \
        "the corpus was read once before rep 1 to warm the page cache; each run starts after \`sync; sleep $settle\`"
    echo "- agreement: all outputs, normalised to sorted \`word count\` lines, are identical in every repetition"
    echo
    printf '%s' "$skipped"
    echo "$table"
    echo
    echo "Wall time is measured around each command; CPU s is the median of user + sys over the"
    echo "whole process tree (all ranks, all pipeline stages); peak RSS is GNU time's %M, which is the"
    echo "largest single process in the tree (mpirun and its ranks, or the pipeline's stages), not a sum."
    echo "wc_baseline's RSS includes the mmap'ed corpus pages; sort reading a pipe keeps a small buffer"
    echo "and spills to \$TMPDIR, hence its small RSS. Per-TM RSS and job duration come from"
    echo "the JobManager summary on stderr (\`tm-<n> peak_rss_kb=<N>\`, \`duration_s=<x>\`), maxima and"
    echo "medians over the repetitions; start-up s is the median of wall minus job duration."
    echo "Ratio to baseline is median/median (above 1 is slower); speed-up is sort|uniq's median over the contender's."
    echo
    echo "Commands (repetition 1; later repetitions write \`.repN.out\`). Each runs as"
    echo "\`/usr/bin/time -f '%M %U %S' timeout -k 10 $timeout_s COMMAND\` (the pipeline under \`bash -c\`);"
    echo "mpiflow's --output directory does not exist beforehand."
    echo
    echo '```'
    printf '%s' "$commands"
    echo '```'
} >"$report.tmp"
mv -- "$report.tmp" "$report"
cat -- "$report"
echo "# report written to $report" >&2

if [ "$keep" = 1 ]; then
    echo "# scratch kept in $work" >&2
else
    rm -rf -- "$work"
fi
