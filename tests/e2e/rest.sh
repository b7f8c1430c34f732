#!/usr/bin/env bash
# The JobManager's REST API and the CLI over it, against a running job: a
# bounded generator of N rows and an unbounded one of a few rows a second,
# unioned into a file sink. Every read endpoint is checked against the
# job's known shape and numbers (rest_check.py); savepoints through REST
# and the CLI; bad requests (malformed JSON, unknown ids, oversize bodies
# and headers, path traversal, missing or wrong tokens) are 4xx with
# {"errors": [...]}; slow clients and 50 concurrent ones stall nothing;
# and after all that, `mpiflow stop --drain` commits exactly the rows read.
# Then cancel over REST, and stop with savepoint over REST.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || fail "curl is needed (scripts/debian-packages.txt)"
CHECK="$SRC/tests/e2e/rest_check.py"
N=20000
TOKEN=s3cret-token
job() { # job NAME
  cat <<YAML
name: $1
operators:
  - uid: bounded
    source: generator
    parallelism: 1
    number-of-rows: $N
    fields: [{name: k, type: i64, kind: sequence, start: 0}]
  - uid: trickle
    source: generator
    parallelism: 1
    rows-per-second: 5
    fields: [{name: k, type: i64, kind: sequence, start: 1000000000}]
  - {uid: both, type: union, inputs: [bounded, trickle]}
  - {uid: out, sink: file, path: "$WORK/$1"}
YAML
}
echo "$TOKEN" >"$WORK/token"
mkdir -p "$WORK/allowed" "$WORK/sp"
ln -s /etc "$WORK/allowed/link"
# A port that is taken, so the job must move to the next free one.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); sys.stdout.close(); time.sleep(300)' >"$WORK/taken" &
HOLDER=$!
trap 'kill $HOLDER 2>/dev/null; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
for _ in $(seq 50); do [ -s "$WORK/taken" ] && break; sleep 0.1; done
TAKEN=$(cat "$WORK/taken")
ARGS=(-D execution.checkpointing.interval=300ms -D state.checkpoints.dir="$WORK/chk"
      -D state.savepoints.dir="$WORK/sp" -D metrics.reporter.interval=200ms
      -D rest.port="$TAKEN" -D rest.auth.token-file="$WORK/token"
      -D rest.savepoint.allowed-dirs="$WORK/allowed" -D rest.server.max-content-length=1kb
      -D rest.server.max-header-size=16kb -D rest.server.connection-timeout=2s)

# start NAME ARGS...: run job NAME in the background until its REST API is up;
# sets RUN, URL, JID
start() {
  local name=$1; shift
  job "$name" >"$WORK/$name.yaml"
  rm -rf "$WORK/$name" "$WORK/jobs/$name.json"
  timeout 150 mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 \
    "$MPIFLOW" run "$WORK/$name.yaml" "$@" >"$WORK/out" 2>"$WORK/err" &
  RUN=$!
  for _ in $(seq 600); do [ -f "$WORK/jobs/$name.json" ] && break; sleep 0.1; done
  [ -f "$WORK/jobs/$name.json" ] || { cat "$WORK/err"; fail "$name did not start its REST API"; }
  URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$WORK/jobs/$name.json")
  JID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["jid"])' "$WORK/jobs/$name.json")
}
# rows NAME: check the committed output: 0..N-1 and 1e9..1e9+B-1 once each
rows() {
  cat "$WORK/$1"/part-* | LC_ALL=C sort -n >"$WORK/got"
  python3 - "$WORK/got" "$N" <<'PY' || fail "$1: committed output is not exact"
import sys
rows = [int(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
a = [r for r in rows if r < 10**9]
b = [r - 10**9 for r in rows if r >= 10**9]
assert a == list(range(n)), "bounded rows: %d, want 0..%d once each" % (len(a), n - 1)
assert b == list(range(len(b))), "trickle rows are not 0..%d once each" % (len(b) - 1)
print("ok: output exact: %d bounded rows and %d trickled ones, each once" % (len(a), len(b)))
PY
}

# 1. The job with every kind of request thrown at it.
start rest "${ARGS[@]}"
port=${URL##*:}
[ "$port" -gt "$TAKEN" ] || fail "rest.port $TAKEN is taken, yet the job answers on $port"
expect_err "rest.port $TAKEN is taken: the REST API uses port $port"
grep -q "\"jid\": \"$JID\"" "$WORK/jobs/rest.json" || fail "discovery file lacks the job id"
[[ $JID =~ ^[0-9a-f]{32}$ ]] || fail "job id '$JID' is not 32 hex digits"
curl -sf "$URL/jobs/$JID" >/dev/null || fail "curl GET /jobs/$JID"
python3 "$CHECK" shapes "$URL" "$JID" rest "$N"
python3 "$CHECK" bad "$URL" "$JID" rest "$TOKEN" "$WORK"
# curl's view of a refusal: the status and the JSON body
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -X POST "$URL/jobs/rest/savepoints" -d '{}')
[ "$code" = 401 ] && grep -q '"errors"' "$WORK/body" || fail "curl without a token: $code $(cat "$WORK/body")"
sp=$(python3 "$CHECK" savepoint "$URL" "$JID" rest "$TOKEN" "$WORK/allowed/rest-sp" | tail -1)
echo "ok: savepoint over REST: $sp"
python3 "$CHECK" slow "$URL" "$JID" rest
python3 "$CHECK" crowd "$URL" "$JID" rest "$TOKEN"

# The CLI: it finds the job by name or id through the discovery file and
# reads the token from rest.auth.token-file.
"$MPIFLOW" list >"$WORK/list" || fail "mpiflow list"
grep -q " : $JID : rest (RUNNING) $URL" "$WORK/list" || { cat "$WORK/list"; fail "mpiflow list lacks the job"; }
"$MPIFLOW" list --jobmanager "127.0.0.1:$port" --json | python3 -c '
import json, sys; j = json.load(sys.stdin)["jobs"]; assert j[0]["jid"] == sys.argv[1], j' "$JID" ||
  fail "mpiflow list --jobmanager --json"
sp1=$("$MPIFLOW" savepoint rest) || { cat "$WORK/err"; fail "mpiflow savepoint"; }
[ -f "$sp1/_metadata.h5" ] && [[ $sp1 == "$WORK/sp/rest/"* ]] || fail "mpiflow savepoint gave '$sp1'"
sp2=$(cd "$WORK/allowed" && "$MPIFLOW" savepoint "$JID" cli-sp) || fail "mpiflow savepoint JID DIR"
[ -f "$sp2/_metadata.h5" ] && [[ $sp2 == "$WORK/allowed/cli-sp/rest/"* ]] || fail "savepoint into a relative DIR gave '$sp2'"
"$MPIFLOW" savepoint rest /etc 2>"$WORK/clierr" && fail "a savepoint into /etc"
grep -q "outside the directories" "$WORK/clierr" || { cat "$WORK/clierr"; fail "refusal does not say why"; }
MPIFLOW_REST_TOKEN=wrong "$MPIFLOW" cancel rest 2>"$WORK/clierr" && fail "cancel with a wrong token"
grep -q "bearer token" "$WORK/clierr" || { cat "$WORK/clierr"; fail "wrong token: no reason"; }
"$MPIFLOW" checkpoints rest >"$WORK/cks" || fail "mpiflow checkpoints"
grep -Eq "^checkpoints: [0-9]+ completed \(([2-9]|[1-9][0-9]+) of them savepoints\)" "$WORK/cks" ||
  { cat "$WORK/cks"; fail "mpiflow checkpoints: counts"; }
grep -q "SAVEPOINT" "$WORK/cks" || { cat "$WORK/cks"; fail "mpiflow checkpoints: no savepoint in the history"; }
"$MPIFLOW" metrics rest --jobmanager "127.0.0.1:$port" >"$WORK/metrics" || fail "mpiflow metrics"
grep -Eq "^bounded +1 +0 +$N " "$WORK/metrics" || { cat "$WORK/metrics"; fail "mpiflow metrics: bounded"; }
"$MPIFLOW" checkpoints no-such-job 2>"$WORK/clierr" && fail "checkpoints of a job that is not running"
grep -q "no running job 'no-such-job'" "$WORK/clierr" || fail "unknown job: no reason"
echo "ok: CLI list, savepoint (by name, by id, relative DIR), refusals, checkpoints, metrics"

# The job ran on through all of it: stop --drain commits exactly what it read.
"$MPIFLOW" stop rest --drain >"$WORK/stopped" || { cat "$WORK/err"; fail "mpiflow stop --drain"; }
rc=0; wait "$RUN" || rc=$?
[ "$rc" -eq 4 ] || { cat "$WORK/err"; fail "drained job exited $rc, not 4"; }
[ ! -e "$WORK/jobs/rest.json" ] || fail "the discovery file outlived the job"
rows rest

# 2. Cancel over REST (PATCH ?mode=cancel) with the token.
start rcancel "${ARGS[@]}"
for _ in $(seq 50); do grep -q "checkpoint [0-9]* completed" "$WORK/err" && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "Authorization: Bearer $TOKEN" "$URL/jobs/$JID?mode=cancel")
[ "$code" = 202 ] || fail "PATCH mode=cancel: HTTP $code"
rc=0; wait "$RUN" || rc=$?
[ "$rc" -eq 3 ] || { cat "$WORK/err"; fail "cancelled job exited $rc, not 3"; }
expect_err "job 'rcancel' cancelled"
echo "ok: cancel over REST"

# 3. Stop with savepoint over REST (POST /jobs/:id/stop), polled to its end.
start rstop "${ARGS[@]}" -D rest.auth.token=other -D rest.auth.token-file=
for _ in $(seq 50); do grep -q "checkpoint [0-9]* completed" "$WORK/err" && break; sleep 0.1; done
tid=$(curl -sf -X POST -H "Authorization: Bearer other" -d "{\"targetDirectory\": \"$WORK/allowed/stop\", \"drain\": false}" \
  "$URL/jobs/rstop/stop" | python3 -c 'import json,sys; print(json.load(sys.stdin)["request-id"])') ||
  fail "POST /jobs/rstop/stop"
loc=""
for _ in $(seq 100); do
  loc=$(curl -sf "$URL/jobs/rstop/savepoints/$tid" | python3 -c '
import json, sys; s = json.load(sys.stdin)
print(s["operation"]["location"] if s["status"]["id"] == "COMPLETED" else "")') || break
  [ -n "$loc" ] && break; sleep 0.1
done
[ -f "$loc/_metadata.h5" ] && [[ $loc == "$WORK/allowed/stop/rstop/"* ]] || fail "stop over REST: location '$loc'"
rc=0; wait "$RUN" || rc=$?
[ "$rc" -eq 4 ] || { cat "$WORK/err"; fail "stopped job exited $rc, not 4"; }
expect_err "stopped with savepoint"
echo "ok: stop with savepoint over REST: $loc"
