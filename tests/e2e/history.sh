#!/usr/bin/env bash
# Job history. With jobmanager.archive.fs.dir a finished and a failed job
# are archived when they end (one file per run, named by the job id, in
# Flink's archive shape, no temporary files left). `mpiflow history DIR`
# then serves them without any job running: GET /jobs/overview lists both
# with their states; GET /jobs/:id has the record counts of the finished
# job, checked against the generator's number of rows and the sink's
# part files (wc -l); the failed job's exceptions name the bad line; the
# dashboard and its assets are served; vertices resolve by uid; savepoint,
# stop and cancel are refused with 405. `mpiflow list --archived DIR`
# lists both (text and --json). With a headless Chromium the dashboard page
# shows the newest run, a menu of both, and the finished one by ?job=<jid>.
. "$(dirname "$0")/lib.sh"
ARCH=$WORK/archive
rows=5000

cat >"$WORK/ok.yaml" <<YAML
name: hist_ok
operators:
  - uid: gen
    source: generator
    number-of-rows: $rows
    fields:
      - {name: id, type: i64, kind: sequence}
      - {name: k, type: i64, min: 0, max: 9}
  - {uid: even, type: filter, condition: "id % 2 = 0"}
  - {uid: out, sink: file, path: $WORK/out_ok}
YAML
printf 'a,1\nb,2\nc,oops\nd,4\n' >"$WORK/bad.csv"
cat >"$WORK/bad.yaml" <<YAML
name: hist_bad
operators:
  - uid: src
    source: file
    path: $WORK/bad.csv
    format: csv
    fields: [{name: w, type: string}, {name: n, type: i64}]
  - {uid: out, sink: blackhole}
YAML
mpf_run 3 "$WORK/ok.yaml" -D jobmanager.archive.fs.dir="$ARCH" ||
  { cat "$WORK/err"; fail "the finished job failed"; }
expect_err "job archived in $ARCH/"
rc=0
mpf_run 3 "$WORK/bad.yaml" -D jobmanager.archive.fs.dir="$ARCH" || rc=$?
[ "$rc" = 1 ] || { cat "$WORK/err"; fail "the failing job exited $rc, expected 1"; }
expect_err "job archived in $ARCH/"
[ "$(find "$ARCH" -type f | wc -l)" = 2 ] || fail "expected 2 archive files: $(ls -a "$ARCH")"
find "$ARCH" -name '.*' -type f | grep . && fail "a temporary archive file was left"
# Flink's archive shape: {"archive": [{"path", "json" (text)}]}
for f in "$ARCH"/*; do
  python3 - "$f" <<'PY' || fail "$f is not in Flink's archive shape"
import json, os, sys
a = json.load(open(sys.argv[1]))["archive"]
paths = {e["path"]: json.loads(e["json"]) for e in a}
jid = os.path.basename(sys.argv[1])
assert "/jobs/overview" in paths and f"/jobs/{jid}" in paths, sorted(paths)
assert paths["/jobs/overview"]["jobs"][0]["jid"] == jid
PY
done
ok_rows=$(cat "$WORK"/out_ok/part-* | wc -l)
[ "$ok_rows" = $((rows / 2)) ] || fail "the finished job wrote $ok_rows rows, expected $((rows / 2))"

# --- mpiflow history ---
echo "not an archive" >"$ARCH/README" # skipped, and said so
"$MPIFLOW" history "$ARCH" --port 0 >"$WORK/hist.out" 2>&1 &
hpid=$!
trap 'kill $hpid 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do grep -q "history server at" "$WORK/hist.out" && break; sleep 0.1; done
url=$(sed -n 's/.*history server at \(http:[^ ]*\): .*/\1/p' "$WORK/hist.out")
[ -n "$url" ] || { cat "$WORK/hist.out"; fail "the history server did not start"; }
grep -q "2 archived job(s) in $ARCH; some files there are not job archives" "$WORK/hist.out" ||
  { cat "$WORK/hist.out"; fail "the history server does not count 2 jobs and the stray file"; }
python3 - "$url" "$rows" "$ok_rows" <<'PY' || fail "history REST answers are wrong"
import json, sys, urllib.request, urllib.error
url, rows, ok_rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def get(p):
    with urllib.request.urlopen(url + p, timeout=10) as r:
        return json.load(r)
def status(method, p, body=None):
    req = urllib.request.Request(url + p, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        assert "errors" in json.load(e), "a refusal without {errors}"
        return e.code
jobs = {j["name"]: j for j in get("/jobs/overview")["jobs"]}
assert set(jobs) == {"hist_ok", "hist_bad"}, jobs
assert jobs["hist_ok"]["state"] == "FINISHED", jobs["hist_ok"]
assert jobs["hist_bad"]["state"] == "FAILED", jobs["hist_bad"]
ov = get("/overview")
assert ov["jobs-finished"] == 1 and ov["jobs-failed"] == 1 and ov["jobs-running"] == 0, ov
ok = get("/jobs/" + jobs["hist_ok"]["jid"])
v = {x["name"]: x["metrics"] for x in ok["vertices"]}
assert v["gen"]["write-records"] == rows, v["gen"]
assert v["even"]["read-records"] == rows and v["even"]["write-records"] == ok_rows, v["even"]
assert v["out"]["read-records"] == ok_rows, v["out"]
assert get("/jobs/hist_ok")["jid"] == ok["jid"]               # by name
sub = get("/jobs/hist_ok/vertices/gen")                         # vertex by uid
assert sum(s["metrics"]["numRecordsOut"] for s in sub["subtasks"]) == rows, sub
assert len(get(f"/jobs/{ok['jid']}/taskmanagers")["taskmanagers"]) == 2
get(f"/jobs/{ok['jid']}/plan"); get(f"/jobs/{ok['jid']}/checkpoints")
exc = get("/jobs/%s/exceptions" % jobs["hist_bad"]["jid"])
assert "bad.csv:3" in exc["root-exception"], exc["root-exception"]
jid = ok["jid"]
for m, p, b in [("POST", f"/jobs/{jid}/savepoints", {"target-directory": "/tmp/x"}),
                ("POST", f"/jobs/{jid}/stop", {"drain": False}),
                ("PATCH", f"/jobs/{jid}?mode=cancel", None),
                ("DELETE", f"/jobs/{jid}", None)]:
    code = status(m, p, b)
    assert code == 405, (m, p, code)
assert status("GET", "/jobs/0123456789abcdef0123456789abcdef") == 404
with urllib.request.urlopen(url + "/", timeout=10) as r:
    assert r.status == 200 and b"<html" in r.read()
with urllib.request.urlopen(url + "/assets/app.js", timeout=10) as r:
    assert r.status == 200
PY

# the dashboard itself, when a headless Chromium is at hand: the newest run
# by default, a menu of both, the finished run by ?job=<jid> with its operators
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  dom() { timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --virtual-time-budget=8000 \
    --dump-dom "$1" 2>/dev/null; }
  dom "$url/" >"$WORK/dom1"
  grep -q 'id="job-name" class="job-name">hist_bad<' "$WORK/dom1" || fail "the history dashboard does not show the newest run"
  [ "$(grep -o '<option value="[0-9a-f]\{32\}">' "$WORK/dom1" | wc -l)" = 2 ] || fail "the history dashboard's job menu lacks a run"
  okjid=$(curl -sf "$url/jobs/hist_ok" | python3 -c 'import json,sys; print(json.load(sys.stdin)["jid"])')
  dom "$url/?job=$okjid" >"$WORK/dom2"
  grep -q 'class="state FINISHED">FINISHED<' "$WORK/dom2" || fail "the history dashboard does not show the finished run"
  grep -q '>even<' "$WORK/dom2" || fail "the history dashboard lacks the finished run's operators"
  echo "ok: the dashboard shows both archived runs"
else
  echo "note: no Chromium at $CHROMIUM: the dashboard page itself is not checked"
fi

# --- mpiflow list --archived ---
"$MPIFLOW" list --archived "$ARCH" >"$WORK/list" || fail "list --archived failed"
cat "$WORK/list" >&2
grep -q ": hist_ok (FINISHED)" "$WORK/list" || fail "list --archived lacks the finished job"
grep -q ": hist_bad (FAILED)" "$WORK/list" || fail "list --archived lacks the failed job"
"$MPIFLOW" list --archived "$ARCH" --json |
  python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"]; assert sorted(x["state"] for x in j) == ["FAILED", "FINISHED"], j' ||
  fail "list --archived --json"
# without a directory, from the configuration
"$MPIFLOW" list --archived -D jobmanager.archive.fs.dir="$ARCH" | grep -q hist_ok ||
  fail "list --archived does not take jobmanager.archive.fs.dir"
rc=0
"$MPIFLOW" list --archived >/dev/null 2>"$WORK/e" || rc=$?
[ "$rc" = 2 ] && grep -q "jobmanager.archive.fs.dir" "$WORK/e" || fail "list --archived without a directory: rc $rc"
kill "$hpid"
wait "$hpid" || fail "the history server did not end cleanly on SIGTERM"
echo "PASS history"
