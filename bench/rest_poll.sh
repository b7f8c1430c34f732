#!/usr/bin/env bash
# REST polling overhead (bench layer, issue 12): Nexmark q5 (generator in
# the job, blackhole sink; throughput-bound) on 1 JobManager + 2
# TaskManagers, run alternately without and with a client that polls the
# JobManager's REST API: GET /jobs/<id> and GET /metrics every 100 ms over
# one keep-alive connection (as a dashboard or a scraper would), found
# through the job's discovery file. Each repetition runs both, the order
# swapped every other repetition so drift does not favour one. Reports the
# median throughput of each, their ratio, the spread of the runs, and the
# requests the poller had answered with their latency (p50/p99 over every
# request of every polled run). The target: polling costs under 2% of the
# throughput. Output is Markdown, also saved to
# bench/results/rest-poll-<date>.md.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<EOF
usage: bench/rest_poll.sh [options]
  --events N       Nexmark q5 events per run (BENCH_EVENTS, default 40000000: ~13 s)
  --reps N         repetitions, each one run without and one with polling (BENCH_REPS, default 5)
  --interval-ms N  the poller's period (default 100)
  --build DIR      build directory holding ./mpiflow (BENCH_BUILD, default build)
  -h, --help       this text
EOF
}
events=${BENCH_EVENTS:-40000000}
reps=${BENCH_REPS:-5}
interval=100
build=${BENCH_BUILD:-build}
while [ $# -gt 0 ]; do
    case $1 in
    --events) events=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --interval-ms) interval=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
case $build in /*) ;; *) build=$REPO/$build ;; esac
MPIFLOW=$build/mpiflow
[ -x "$MPIFLOW" ] || { echo "rest_poll.sh: no $MPIFLOW; build first" >&2; exit 1; }
command -v python3 >/dev/null || { echo "rest_poll.sh: python3 is needed" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
poller_pid=
cleanup() {
    [ -z "$poller_pid" ] || kill "$poller_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
export MPIFLOW_RUN_DIR=$tmp/run # the discovery file: $tmp/run/jobs/nexmark-q5.json
disc=$MPIFLOW_RUN_DIR/jobs/nexmark-q5.json

# The poller (poller.py DISC OUT PERIOD_MS POLL): waits for the discovery
# file, then every period reads the JobManager's CPU time from /proc (in
# both modes, so both pay for it) and, when POLL is 1, GETs /jobs/<jid>
# and /metrics on one HTTP/1.1 connection (reopened after an error). On
# SIGTERM it writes "<j|m> <ms>" per request answered 200 (j: /jobs/<id>,
# m: /metrics) to OUT, and to stderr "errors N" (failed requests after
# the last answer: the server has gone with the job), "midrun N" (failed
# requests before an answer), "bytes N" (the last
# /metrics page), "jmcpu S" (the JobManager's CPU seconds at the last
# sample) and "mycpu S" (the poller's own).
cat >"$tmp/poller.py" <<'PY'
import http.client, json, os, signal, sys, time
disc, out, period, poll = sys.argv[1], sys.argv[2], float(sys.argv[3]) / 1000, sys.argv[4] == "1"
tick = os.sysconf("SC_CLK_TCK")
def jm_cpu(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read().rsplit(")", 1)[1].split()
        return (int(st[11]) + int(st[12])) / tick
    except (OSError, ValueError, IndexError):
        return None
lat, errors, stop, size, jmcpu = [], 0, False, 0, 0.0
midrun = 0 # errors followed by an answer (not the end of the job)
def term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, term)
while not stop and not os.path.exists(disc):
    time.sleep(0.01)
info = {}
while not stop:
    try:
        with open(disc) as f:
            info = json.load(f)
        break
    except (OSError, ValueError):
        time.sleep(0.01)
conn, nxt = None, time.monotonic()
paths = ["/jobs/%s" % info.get("jid"), "/metrics"]
while not stop:
    c = jm_cpu(int(info.get("pid", 0)))
    if c is not None:
        jmcpu = c
    for p in paths if poll else []:
        try:
            if conn is None:
                conn = http.client.HTTPConnection(info["address"], info["port"], timeout=5)
            t0 = time.perf_counter()
            conn.request("GET", p)
            r = conn.getresponse()
            body = r.read()
            dt = (time.perf_counter() - t0) * 1000
            if r.status == 200:
                lat.append("%s %.3f\n" % (p[1], dt))
                midrun, errors = midrun + errors, 0
                if p == "/metrics":
                    size = len(body)
            else:
                errors += 1
        except Exception:
            errors += 1
            if conn is not None:
                conn.close()
            conn = None
    nxt += period
    time.sleep(max(0.0, nxt - time.monotonic()))
with open(out, "w") as f:
    f.write("".join(lat))
print("errors %d\nmidrun %d\nbytes %d\njmcpu %.2f\nmycpu %.2f" % (errors, midrun, size, jmcpu, time.process_time()),
      file=sys.stderr)
PY

# run_job MODE REP: one run of q5 (MODE off or on: the poller); its
# duration into dur_MODE, requests and errors into req_MODE/err_MODE
declare -A dur req err jmcpu mycpu tail_err
bytes=?
run_job() {
    local mode=$1 rep=$2 log=$tmp/$1-$2.log
    sync
    sleep 1
    rm -f "$disc"
    python3 "$tmp/poller.py" "$disc" "$tmp/lat-$mode-$rep" "$interval" \
        "$([ "$mode" = on ] && echo 1 || echo 0)" 2>"$tmp/poller-$mode-$rep.err" &
    poller_pid=$!
    if ! timeout 1800 mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 \
        "$MPIFLOW" run "$REPO/jobs/nexmark/q5.yaml" --events "$events" >/dev/null 2>"$log"; then
        cat "$log" >&2
        echo "rest_poll.sh: q5 failed" >&2
        exit 1
    fi
    local d n=0 e=0
    d=$(grep -oE 'duration_s=[0-9.]+' "$log" | cut -d= -f2)
    kill -TERM "$poller_pid"
    wait "$poller_pid" || true
    poller_pid=
    local perr=$tmp/poller-$mode-$rep.err
    jmcpu[$mode-$rep]=$(awk '/^jmcpu/ {print $2}' "$perr")
    mycpu[$mode-$rep]=$(awk '/^mycpu/ {print $2}' "$perr")
    if [ "$mode" = on ]; then
        n=$(wc -l <"$tmp/lat-on-$rep")
        e=$(awk '/^midrun/ {print $2}' "$perr")
        tail_err[$rep]=$(awk '/^errors/ {print $2}' "$perr")
        bytes=$(awk '/^bytes/ {print $2}' "$perr")
        req[$rep]=$n
        err[$rep]=${e:-?}
    fi
    dur[$mode-$rep]=$d
    echo "rep $rep polling $mode: $d s, JobManager CPU ${jmcpu[$mode-$rep]} s$([ "$mode" = on ] &&
        echo ", $n requests answered, ${e:-?} errors (${tail_err[$rep]} at the end), poller CPU ${mycpu[$mode-$rep]} s")" >&2
}

for rep in $(seq 1 "$reps"); do
    if [ $((rep % 2)) -eq 1 ]; then
        run_job off "$rep"
        run_job on "$rep"
    else
        run_job on "$rep"
        run_job off "$rep"
    fi
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
# quantile Q: of the numbers on stdin, nearest rank
quantile() { sort -g | awk -v q="$1" '{v[NR]=$1} END {i=int(q*NR+0.999999); if (i<1) i=1; print v[i]}'; }
rate() { awk -v n="$events" -v d="$1" 'BEGIN {printf "%.0f", n / d}'; }
offs="" ons=""
for rep in $(seq 1 "$reps"); do
    offs="$offs $(rate "${dur[off-$rep]}")"
    ons="$ons $(rate "${dur[on-$rep]}")"
done
moff=$(echo "$offs" | median)
col() { local m=$1 v="" r; for r in $(seq 1 "$reps"); do v="$v $(eval "echo \${$2[$m-$r]}")"; done; echo "$v" | median; }
mj0=$(col off jmcpu) mj1=$(col on jmcpu) mm0=$(col off mycpu) mm1=$(col on mycpu)
mdur=$(for r in $(seq 1 "$reps"); do echo "${dur[on-$r]}"; done | tr '\n' ' ' | median)
mon=$(echo "$ons" | median)
cat "$tmp"/lat-on-* >"$tmp/lat-all"
nreq=$(wc -l <"$tmp/lat-all")
nerr=0 ntail=0
for rep in $(seq 1 "$reps"); do
    nerr=$((nerr + ${err[$rep]/\?/0}))
    ntail=$((ntail + ${tail_err[$rep]:-0}))
done
# lat KIND Q: quantile Q of the latencies of KIND (j or m)
lat() { awk -v k="$1" '$1 == k {print $2}' "$tmp/lat-all" | quantile "$2"; }
count() { awk -v k="$1" '$1 == k' "$tmp/lat-all" | wc -l; }
# spread: (max - min) / median of each contender
spread() { tr ' ' '\n' | grep -v '^$' | sort -g | awk -v m="$1" '{v[NR]=$1} END {printf "%.1f%%", (v[NR]-v[1])/m*100}'; }
out=$REPO/bench/results/rest-poll-$(date +%Y-%m-%d).md
mkdir -p "$REPO/bench/results"
{
    echo "## REST polling overhead ($(date +%Y-%m-%d))"
    echo
    echo "Command: \`bench/rest_poll.sh --events $events --reps $reps --interval-ms $interval\`;" \
        "$(nproc) cores, 1 JobManager + 2 TaskManagers, Nexmark q5 (generator in the job," \
        "blackhole sink), without and with a python3 client polling GET /jobs/<id> and" \
        "GET /metrics every $interval ms on one keep-alive connection; order swapped every" \
        "other repetition."
    echo
    echo "| rep | without polling (events/s) | with polling (events/s) | with / without |" \
        "JobManager CPU s without / with | poller CPU s (with; without: /proc only) | requests answered |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for rep in $(seq 1 "$reps"); do
        a=$(rate "${dur[off-$rep]}") b=$(rate "${dur[on-$rep]}")
        awk -v r="$rep" -v a="$a" -v b="$b" -v n="${req[$rep]}" -v j0="${jmcpu[off-$rep]}" \
            -v j1="${jmcpu[on-$rep]}" -v m0="${mycpu[off-$rep]}" -v m1="${mycpu[on-$rep]}" \
            'BEGIN {printf "| %s | %d | %d | %.3f | %.2f / %.2f | %.2f (%.2f) | %s |\n", r, a, b, b / a, j0, j1, m1, m0, n}'
    done
    awk -v a="$moff" -v b="$mon" -v n="$nreq" -v j0="$mj0" -v j1="$mj1" -v m0="$mm0" -v m1="$mm1" \
        'BEGIN {printf "| **median** | **%d** | **%d** | **%.3f** | %.2f / %.2f | %.2f (%.2f) | %d in all |\n", a, b, b / a, j0, j1, m1, m0, n}'
    echo
    echo "Spread (max - min over median): without polling $(echo "$offs" | spread "$moff")," \
        "with polling $(echo "$ons" | spread "$mon")."
    awk -v a="$moff" -v b="$mon" 'BEGIN {printf "Throughput lost to polling (1 - median with / median without): %.2f%% (target: under 2%%).\n", (1 - b / a) * 100}'
    awk -v j0="$mj0" -v j1="$mj1" -v m0="$mm0" -v m1="$mm1" -v d="$mdur" -v c="$(nproc)" 'BEGIN {
        x = (j1 - j0) + (m1 - m0)
        printf "CPU the polling costs (medians): JobManager %+.2f s, poller %+.2f s per run of %.1f s: %.2f%% of the %d cores.\n", j1 - j0, m1 - m0, d, x / (d * c) * 100, c }'
    echo
    echo "Requests answered 200 over the polled runs: $nreq; failed while the job ran: $nerr;" \
        "failed after the JobManager closed its REST server at the job's end: $ntail."
    echo "Latency as the poller saw it:"
    echo
    echo "| request | answered | p50 (ms) | p99 (ms) | max (ms) |"
    echo "| --- | --- | --- | --- | --- |"
    echo "| GET /jobs/<id> | $(count j) | $(lat j 0.5) | $(lat j 0.99) | $(lat j 1) |"
    echo "| GET /metrics ($bytes bytes) | $(count m) | $(lat m 0.5) | $(lat m 0.99) | $(lat m 1) |"
} | tee "$out"
