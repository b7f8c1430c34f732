#!/usr/bin/env bash
# The console and the log files. (1) `mpiflow run` under a pseudo-terminal
# (script -qc, util-linux): the JobManager redraws a live status line in
# place (carriage return, clear to the end of the line) with records/s and,
# for a bounded generator, a progress percentage that grows and an ETA;
# log lines printed meanwhile start on a cleared line, so no log line is
# glued to a status line; the periodic status log line goes only to the
# log file (log.dir). (2) The same job without a terminal: no carriage
# return anywhere, the periodic status log lines as before, now with
# progress_pct and eta_s; a rate-limited file source reports progress too.
# (3) log.dir: jobmanager.log and taskmanager-<rank>.log hold exactly the
# lines of their rank, without terminal escapes, and GET /jobmanager/log
# and /taskmanagers/:id/log serve them while the job runs.
. "$(dirname "$0")/lib.sh"
command -v script >/dev/null || { echo "SKIP: no script(1) (util-linux)"; exit 77; }
rows=30000 rate=6000 # ~5 s

cat >"$WORK/gen.yaml" <<YAML
name: console_gen
operators:
  - uid: gen
    source: generator
    number-of-rows: $rows
    rows-per-second: $rate
    fields:
      - {name: id, type: i64, kind: sequence}
  - {uid: out, sink: blackhole, partition: rebalance}
YAML
iv="-D metrics.reporter.interval=300ms -D metrics.status.interval=1s -D rest.port=0"

# --- (1) on a terminal ---
cmd="timeout 120 mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 $MPIFLOW run $WORK/gen.yaml $iv -D log.dir=$WORK/ttylogs"
script -qec "$cmd" /dev/null </dev/null >"$WORK/tty" 2>&1 || { cat "$WORK/tty"; fail "run under a terminal failed"; }
# live lines: what follows each "\r\e[K" up to the next control character
tr '\033' '~' <"$WORK/tty" | tr '\r' '\n' | sed -n 's/^~\[K\(console_gen RUNNING.*\)/\1/p' >"$WORK/live"
cat "$WORK/live" >&2
n=$(grep -c "records/s in" "$WORK/live" || true)
[ "$n" -ge 2 ] || fail "expected at least 2 redraws of the live line with records/s, got $n"
grep -qE '[0-9.]+% ETA [0-9:]+s?' "$WORK/live" || fail "no progress percentage with an ETA in the live line"
sed -n 's/.*| \([0-9.]*\)% .*/\1/p' "$WORK/live" |
  awk -v max=100 '$1 < p || $1 > max { bad = 1 } { p = $1 } END { exit bad || NR < 2 }' ||
  fail "the progress does not grow within 0..100%"
grep -q $'\r\033\[K' "$WORK/tty" || fail "no clear-to-end-of-line after a carriage return"
# no log line glued to a live line (a redraw clears before each log line)
if tr '\r' '\n' <"$WORK/tty" | grep -E 'records/s in.*[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} (INFO|WARN|ERROR)'; then
  fail "a log line follows a live line without clearing it"
fi
tr -d '\r' <"$WORK/tty" | grep -q "source records: $rows" || fail "the summary is missing on the terminal"
if tr '\r' '\n' <"$WORK/tty" | grep -q "\[jm\] status: "; then fail "status log lines on the terminal"; fi
[ "$(grep -c "\[jm\] status: job 'console_gen' RUNNING" "$WORK/ttylogs/jobmanager.log")" -ge 2 ] ||
  fail "the status log lines are not in jobmanager.log"

# --- (2) not on a terminal: plain log lines, as before ---
# shellcheck disable=SC2086
mpf_run 3 "$WORK/gen.yaml" $iv || { cat "$WORK/err"; fail "run without a terminal failed"; }
if grep -q $'\r' "$WORK/err"; then fail "a carriage return without a terminal"; fi
if grep -q $'\033' "$WORK/err"; then fail "a terminal escape without a terminal"; fi
grep "\[jm\] status:" "$WORK/err" >&2 || true
[ "$(grep -c "\[jm\] status: job 'console_gen' RUNNING" "$WORK/err")" -ge 2 ] ||
  fail "expected periodic status log lines"
sed -n 's/.*\[jm\] status: .* progress_pct=\([0-9.]*\).*/\1/p' "$WORK/err" |
  awk '$1 < p || $1 > 100 { bad = 1 } { p = $1 } END { exit bad || NR < 2 }' ||
  fail "progress_pct missing from the status lines, or not growing within 0..100"
grep -q "\[jm\] status: .* eta_s=[0-9]" "$WORK/err" || fail "no eta_s in the status lines"

# a file source: progress by bytes
seq 1 20000 >"$WORK/in.txt"
cat >"$WORK/file.yaml" <<YAML
name: console_file
operators:
  - {uid: src, source: file, path: $WORK/in.txt, rows-per-second: 5000}
  - {uid: out, sink: blackhole, partition: rebalance}
YAML
# shellcheck disable=SC2086
mpf_run 3 "$WORK/file.yaml" $iv || { cat "$WORK/err"; fail "file job failed"; }
grep "\[jm\] status:" "$WORK/err" >&2 || true
sed -n 's/.*\[jm\] status: .* progress_pct=\([0-9.]*\).*/\1/p' "$WORK/err" |
  awk '$1 < p || $1 > 100 { bad = 1 } { p = $1 } END { exit bad || NR < 2 }' ||
  fail "the file source's progress is missing or not growing"

# --- (3) log.dir and the log endpoints ---
LOGS=$WORK/logs
slow=$((rate * 6)) # ~6 s: time to fetch the logs while it runs
sed "s/number-of-rows: $rows/number-of-rows: $slow/; s/name: console_gen/name: console_logs/" \
  "$WORK/gen.yaml" >"$WORK/logs.yaml"
# shellcheck disable=SC2086
timeout 120 mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run \
  "$WORK/logs.yaml" $iv -D log.dir="$LOGS" >"$WORK/out" 2>"$WORK/err" &
pid=$!
disc=$WORK/jobs/console_logs.json
for _ in $(seq 1 100); do [ -s "$disc" ] && break; sleep 0.1; done
[ -s "$disc" ] || { kill "$pid"; fail "no discovery file"; }
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$disc")
sleep 1
curl -sf "$url/jobmanager/log" >"$WORK/jm.rest" || { kill "$pid"; fail "GET /jobmanager/log failed"; }
curl -sf "$url/taskmanagers/tm-2/log" >"$WORK/tm2.rest" || { kill "$pid"; fail "GET /taskmanagers/tm-2/log failed"; }
curl -sf "$url/taskmanagers/1/log?tail=200" >"$WORK/tm1.tail" || { kill "$pid"; fail "GET /taskmanagers/1/log?tail=200 failed"; }
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/taskmanagers/tm-9/log")
wait "$pid" || { cat "$WORK/err"; fail "the log.dir job failed"; }
[ "$code" = 404 ] || fail "GET /taskmanagers/tm-9/log answered $code, expected 404"
[ -s "$LOGS/jobmanager.log" ] && [ -s "$LOGS/taskmanager-1.log" ] && [ -s "$LOGS/taskmanager-2.log" ] ||
  fail "log.dir lacks jobmanager.log or taskmanager-<rank>.log: $(ls "$LOGS")"
for f in jobmanager:jm taskmanager-1:tm-1 taskmanager-2:tm-2; do
  file=$LOGS/${f%%:*}.log tag=${f##*:}
  grep -vq "\[$tag\]" "$file" && { cat "$file"; fail "$file holds lines of another rank"; }
  # every line of this rank on stderr is in its file
  grep "\[$tag\]" "$WORK/err" | sort >"$WORK/a"
  sort "$file" >"$WORK/b"
  comm -23 "$WORK/a" "$WORK/b" | grep . && fail "lines of $tag on stderr are missing from $file"
  if grep -q $'[\r\033]' "$file"; then fail "$file holds terminal control characters"; fi
done
grep -q "\[jm\] processing starts" "$WORK/jm.rest" || fail "GET /jobmanager/log lacks the JobManager's lines"
# what REST served is the beginning of the file (it grew afterwards)
cmp -n "$(wc -c <"$WORK/jm.rest")" "$WORK/jm.rest" "$LOGS/jobmanager.log" ||
  fail "GET /jobmanager/log differs from jobmanager.log"
cmp -n "$(wc -c <"$WORK/tm2.rest")" "$WORK/tm2.rest" "$LOGS/taskmanager-2.log" ||
  fail "GET /taskmanagers/tm-2/log differs from taskmanager-2.log"
grep -q "\[tm-2\]" "$WORK/tm2.rest" || fail "tm-2's log lacks its lines"
[ "$(wc -c <"$WORK/tm1.tail")" -le 200 ] || fail "?tail=200 answered more than 200 bytes"
echo "PASS console"
