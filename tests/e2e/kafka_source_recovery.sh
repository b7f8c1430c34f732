#!/usr/bin/env bash
# The Kafka source's offsets in checkpoints: (1) each rank SIGKILLed in
# turn under `mpiflow submit` -- every relaunch restores the offsets and
# the file sink's committed output holds every record kcat produced
# exactly once; (2) stop with a savepoint on 3 TaskManagers, resume on 2,
# stop, resume on 3 (union state: every subtask takes the partitions the
# assignment formula gives it at the new parallelism), records produced
# while the job was down read exactly once; partitions are assigned by
# Flink's formula; a broker outage of 2 s loses nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

kafka_mock_start --brokers 1 --topic rec:4 --topic rs:5
CK=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/chk"
    -D state.savepoints.dir="$WORK/sp")
job() { # job NAME TOPIC: kafka (one subtask per TaskManager) -> file sink
  cat <<YAML
name: $1
operators:
  - uid: k
    source: kafka
    bootstrap-servers: "$KAFKA_BS"
    topics: [$2]
  - {uid: out, sink: file, path: "$WORK/$1"}
YAML
}
wait_lines() { # wait_lines DIR N: committed part files reach N lines
  for _ in $(seq 600); do
    [ "$(cat "$1"/part-* 2>/dev/null | wc -l)" -ge "$2" ] && return 0
    sleep 0.1
  done
  cat "$WORK/err"; fail "$1: $(cat "$1"/part-* 2>/dev/null | wc -l) lines, expected $2"
}
produce() { # produce TOPIC PREFIX FROM TO: lines PREFIX<i>, keys spread them over partitions
  seq "$3" "$4" | awk -v p="$2" '{print "k" $1 ":" p $1}' | kafka_produce "$1" -K:
  seq "$3" "$4" | sed "s/^/$2/" >>"$WORK/want_$1"
}
check() { # check NAME TOPIC WHAT: output equals what was produced, once each
  LC_ALL=C sort "$WORK/want_$2" >"$WORK/want"
  cat "$WORK/$1"/part-* | LC_ALL=C sort >"$WORK/got"
  diff "$WORK/want" "$WORK/got" >"$WORK/diff" ||
    { head "$WORK/diff"; fail "$3: output differs from what was produced"; }
  echo "ok: $3: $(wc -l <"$WORK/got") records exactly once"
}

# 1. SIGKILL of TaskManager 1, then TaskManager 2, then the JobManager,
#    each while records flow and some are produced during the relaunch,
#    under one supervisor.
job rec rec >"$WORK/rec.yaml"
produce rec a 1 5000
timeout 200 "$MPIFLOW" submit --restart-attempts 4 --restart-delay 100ms -- \
  mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 \
  "$MPIFLOW" run "$WORK/rec.yaml" "${CK[@]}" >"$WORK/out" 2>"$WORK/err" &
SUP=$!
wait_lines "$WORK/rec" 5000
n=5000 k=0
for rank in 1 2 0; do
  k=$((k + 1))
  produce rec "b$rank-" 1 3000
  victims=()
  for _ in $(seq 100); do
    victims=($(pgrep -f "^$MPIFLOW run $WORK/rec.yaml" | sort -n || true))
    [ "${#victims[@]}" -eq 3 ] && break
    sleep 0.1
  done
  [ "${#victims[@]}" -eq 3 ] || { cat "$WORK/err"; fail "expected 3 ranks, found ${#victims[@]}"; }
  kill -KILL "${victims[$rank]}"
  produce rec "c$rank-" 1 3000
  n=$((n + 6000))
  wait_lines "$WORK/rec" "$n"
  grep -q "restart $k" "$WORK/err" || { cat "$WORK/err"; fail "no relaunch after SIGKILL of rank $rank"; }
  echo "ok: rank $rank SIGKILLed and relaunched, $n records committed"
done
for _ in $(seq 100); do [ -f "$WORK/jobs/rec.json" ] && break; sleep 0.1; done
sleep 0.5
"$MPIFLOW" stop rec >/dev/null || { cat "$WORK/err"; fail "stop the relaunched job"; }
rc=0; wait "$SUP" || rc=$?
[ "$rc" -eq 4 ] || { cat "$WORK/err"; fail "supervised job: exit $rc, not 4 (stopped)"; }
check rec rec "TaskManagers 1 and 2 and the JobManager SIGKILLed in turn"

# 2. Rescaling from savepoints: 3 -> 2 -> 3 TaskManagers.
job rs rs >"$WORK/rs.yaml"
start() { # start NP ARGS...
  local np=$1; shift
  rm -f "$WORK/jobs/rs.json"
  timeout 120 mpirun -np "$np" --oversubscribe --mca mpi_yield_when_idle 1 \
    "$MPIFLOW" run "$WORK/rs.yaml" "$@" >"$WORK/out" 2>"$WORK/err" &
  RUN=$!
  for _ in $(seq 150); do [ -f "$WORK/jobs/rs.json" ] && return 0; sleep 0.1; done
  cat "$WORK/err"; fail "the job did not start its REST API"
}
stop() { # stop WHAT
  sleep 0.5
  "$MPIFLOW" stop rs >/dev/null || { cat "$WORK/err"; fail "$1: stop"; }
  local rc=0; wait "$RUN" || rc=$?
  [ "$rc" -eq 4 ] || { cat "$WORK/err"; fail "$1: exit $rc, not 4 (stopped)"; }
}
produce rs a 1 4000
start 4 "${CK[@]}"
wait_lines "$WORK/rs" 4000
stop "3 TaskManagers"
produce rs b 1 4000
start 3 "${CK[@]}" --restore latest
expect_err "restoring job 'rs' from savepoint"
wait_lines "$WORK/rs" 8000
stop "resumed on 2 TaskManagers"
sp=$(grep -o "stopped with savepoint [^ ]*" "$WORK/err" | tail -1 | cut -d' ' -f4)
"$MPIFLOW" inspect "$sp" >"$WORK/inspect" || fail "inspect the savepoint"
grep -qE "rs/[0-4] next [0-9]+" "$WORK/inspect" ||
  { cat "$WORK/inspect"; fail "inspect does not show the Kafka offsets"; }
# Who reads which partition at parallelism 2: Flink's formula, computed
# here independently.
python3 - "$WORK/inspect" <<'PY' || fail "partitions not assigned by Flink's formula"
import re, sys
def java_hash(s):
    h = 0
    for ch in s.encode("utf-16-le").decode("utf-16-le"):
        h = (h * 31 + ord(ch)) & 0xffffffff
    return h
seen = 0
text = open(sys.argv[1]).read()
par = int(re.search(r"operator 'k'\n.*?parallelism: +(\d+)", text, re.S).group(1))
if par != 2:
    sys.exit("the savepoint has parallelism %d, not 2" % par)
for line in text.splitlines():
    m = re.search(r"\bk subtask (\d+): (.*)", line)
    if not m:
        continue
    sub = int(m.group(1))
    for t, p in re.findall(r"(\w+)/(\d+) next", m.group(2)):
        start = ((java_hash(t) * 31) & 0x7fffffff) % 2
        want = (start + int(p)) % 2
        if want != sub:
            sys.exit("partition %s/%s read by subtask %d, formula says %d" % (t, p, sub, want))
        seen += 1
if seen != 5:
    sys.exit("%d partitions in the savepoint, not 5" % seen)
PY
produce rs c 1 4000
start 4 "${CK[@]}" --restore latest
wait_lines "$WORK/rs" 12000
# The broker goes away for a while: librdkafka retries, nothing is lost.
kafka_mock_cmd "down 1"
sleep 2
kafka_mock_cmd "up 1"
produce rs d 1 2000
wait_lines "$WORK/rs" 14000
stop "resumed on 3 TaskManagers, broker down for 2 s"
check rs rs "5 partitions at 3 -> 2 -> 3 TaskManagers from savepoints, a broker outage"
