#!/usr/bin/env python3
"""Checks of the JobManager's REST API for tests/e2e/rest.sh.

usage: rest_check.py COMMAND BASE_URL JOB_ID JOB_NAME [ARGS...]

  shapes N          every read endpoint against the job's known shape, with
                    the bounded source's numRecordsOut = N
  bad TOKEN WORK    malformed, unknown, oversize, traversing and unauthorised
                    requests: each a 4xx with {"errors": [...]}
  savepoint TOKEN DIR  a savepoint over REST into DIR; prints its location
  slow              a client trickling one byte a second and one that sends
                    nothing do not hold up other requests
  crowd TOKEN       50 concurrent clients: every answer is a 2xx or 4xx/503
Exits non-zero with a message on the first mismatch."""
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

BASE, JID, NAME = sys.argv[2], sys.argv[3], sys.argv[4]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def call(method, path, body=None, token=None, headers=None, timeout=10):
    """(status, parsed JSON or text) of one request."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, raw, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
    if "json" in ctype:
        return status, json.loads(raw) if raw else None
    return status, raw.decode(errors="replace")


def get(path):
    status, body = call("GET", path)
    if status != 200:
        fail("GET %s: HTTP %d %s" % (path, status, body))
    return body


def expect_error(status, body, want, what):
    if status != want:
        fail("%s: HTTP %d, expected %d (%s)" % (what, status, want, body))
    if not (isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]
            and all(isinstance(m, str) and m for m in body["errors"])):
        fail("%s: body is not {\"errors\": [...]}: %r" % (what, body))


def is_hex32(s):
    return isinstance(s, str) and len(s) == 32 and all(c in "0123456789abcdef" for c in s)


def wait_for(what, pred, tries=100, delay=0.2):
    for _ in range(tries):
        got = pred()
        if got:
            return got
        time.sleep(delay)
    fail("timed out waiting for " + what)


def vertices_by_name(job):
    return {v["name"]: v for v in job["vertices"]}


def shapes(n):
    # the API is up while the TaskManagers deploy: CREATED, then RUNNING
    wait_for("the job to run", lambda: get("/jobs")["jobs"][0]["status"] == "RUNNING",
             tries=300)
    ov = get("/overview")
    if ov["taskmanagers"] != 2 or ov["slots-total"] != 2 or ov["jobs-running"] != 1:
        fail("/overview: %r" % ov)
    if "flink-version" not in get("/config"):
        fail("/config has no flink-version")
    jobs = get("/jobs")["jobs"]
    if jobs != [{"id": JID, "status": "RUNNING"}]:
        fail("/jobs: %r" % jobs)
    if get("/v1/jobs") != {"jobs": jobs}:
        fail("/v1/jobs differs from /jobs")

    # the bounded source has read all it has once its metrics say n
    def bounded_done():
        job = get("/jobs/" + JID)
        return job if vertices_by_name(job)["bounded"]["metrics"]["write-records"] == n else None
    job = wait_for("the bounded source's numRecordsOut = %d" % n, bounded_done, tries=150)
    if job["jid"] != JID or job["name"] != NAME or job["state"] != "RUNNING":
        fail("/jobs/:id: %r" % {k: job[k] for k in ("jid", "name", "state")})
    if not job["isStoppable"] or job["job-type"] != "STREAMING":
        fail("/jobs/:id: isStoppable %r job-type %r" % (job["isStoppable"], job["job-type"]))
    if job["timestamps"]["RUNNING"] < job["timestamps"]["CREATED"] or job["end-time"] != -1:
        fail("/jobs/:id timestamps: %r end-time %r" % (job["timestamps"], job["end-time"]))
    vs = vertices_by_name(job)
    if [v["name"] for v in job["vertices"]] != ["bounded", "trickle", "both", "out"]:
        fail("vertices: %r" % [v["name"] for v in job["vertices"]])
    par = {"bounded": 1, "trickle": 1, "both": 2, "out": 2}
    for name, v in vs.items():
        if not is_hex32(v["id"]) or v["parallelism"] != par[name] or v["status"] != "RUNNING":
            fail("vertex %s: %r" % (name, v))
        if v["tasks"]["RUNNING"] != par[name]:
            fail("vertex %s tasks: %r" % (name, v["tasks"]))
    if len({v["id"] for v in vs.values()}) != 4:
        fail("vertex ids repeat")
    if vs["bounded"]["metrics"]["write-bytes"] <= 0:
        fail("bounded wrote no bytes")
    if get("/jobs/" + NAME)["jid"] != JID:
        fail("/jobs/<name> is another job")
    tot = job["status-counts"]["RUNNING"]
    if tot != 4:
        fail("status-counts: %r" % job["status-counts"])
    jo = get("/jobs/overview")["jobs"]
    if len(jo) != 1 or jo[0]["jid"] != JID or jo[0]["tasks"]["RUNNING"] != sum(par.values()):
        fail("/jobs/overview: %r" % jo)

    # records flow through: what the sink read is what the sources wrote
    def balanced():
        vs = vertices_by_name(get("/jobs/" + JID))
        src = vs["bounded"]["metrics"]["write-records"] + vs["trickle"]["metrics"]["write-records"]
        u = vs["both"]["metrics"]
        return (vs["trickle"]["metrics"]["write-records"] > 0 and
                u["read-records"] == src and u["write-records"] == src and
                vs["out"]["metrics"]["read-records"] == src)
    wait_for("records in = records out along the job in one answer", balanced, tries=150)

    # a vertex's subtasks, by id and by uid
    vid = vs["bounded"]["id"]
    vx = get("/jobs/%s/vertices/%s" % (JID, vid))
    if get("/jobs/%s/vertices/bounded" % JID)["id"] != vid:
        fail("vertex by uid is another vertex")
    if vx["name"] != "bounded" or vx["parallelism"] != 1 or len(vx["subtasks"]) != 1:
        fail("vertex details: %r" % vx)
    st = vx["subtasks"][0]
    m = st["metrics"]
    if m["write-records"] != n or m["numRecordsOut"] != n:
        fail("subtask numRecordsOut %r, expected %d" % (m.get("numRecordsOut"), n))
    for key in ("busyTimeMsPerSecond", "backPressuredTimeMsPerSecond", "idleTimeMsPerSecond",
                "currentOutputWatermark", "currentInputWatermark", "stateSizeBytes",
                "numBytesOut", "numRecordsOutPerSecond"):
        if key not in m:
            fail("subtask metrics lack %s: %r" % (key, sorted(m)))
    if not 0 <= m["busyTimeMsPerSecond"] + m["idleTimeMsPerSecond"] <= 1100:
        fail("busy %r + idle %r ms/s" % (m["busyTimeMsPerSecond"], m["idleTimeMsPerSecond"]))
    if st["taskmanager-id"] != "tm-%d" % st["rank"] or st["endpoint"] != socket.gethostname():
        fail("subtask location: %r" % st)
    outv = get("/jobs/%s/vertices/out" % JID)
    if [s["subtask"] for s in outv["subtasks"]] != [0, 1]:
        fail("sink subtasks: %r" % outv["subtasks"])
    if sum(s["metrics"]["numRecordsIn"] for s in outv["subtasks"]) < n:
        fail("sink subtasks read less than %d" % n)
    wm = get("/jobs/%s/vertices/%s/watermarks" % (JID, vid))
    if not any(w["id"] == "0.currentOutputWatermark" for w in wm):
        fail("watermarks: %r" % wm)

    # checkpoints
    def some_checkpoints():
        c = get("/jobs/%s/checkpoints" % JID)
        return c if c["counts"]["completed"] >= 2 else None
    ck = wait_for("two completed checkpoints", some_checkpoints)
    cnt = ck["counts"]
    if cnt["total"] != cnt["completed"] + cnt["failed"] + cnt["in_progress"]:
        fail("checkpoint counts: %r" % cnt)
    hist = ck["history"]
    ids = [h["id"] for h in hist]
    if ids != sorted(ids, reverse=True) or not hist:
        fail("history not newest first: %r" % ids)
    done = [h for h in hist if h["status"] == "COMPLETED"]
    for h in done:
        if not os.path.isfile(os.path.join(h["external_path"], "_metadata.h5")) and \
                h["id"] == ck["latest"]["completed"]["id"]:
            fail("latest checkpoint %s has no _metadata.h5" % h["external_path"])
        if h["checkpoint_type"] != "CHECKPOINT" or h["state_size"] <= 0:
            fail("checkpoint %r" % h)
        if h["num_acknowledged_subtasks"] != h["num_subtasks"] or h["num_subtasks"] != 6:
            fail("checkpoint subtasks %r" % h)
    if ck["latest"]["completed"]["id"] != max(h["id"] for h in done):
        fail("latest completed is not the newest completed")
    for key in ("end_to_end_duration", "state_size", "checkpointed_size"):
        s = ck["summary"][key]
        if not s["min"] <= s["p50"] <= s["p99"] <= s["max"] or not s["min"] <= s["avg"] <= s["max"]:
            fail("summary %s: %r" % (key, s))
    sizes = sorted(h["state_size"] for h in done)
    if ck["summary"]["state_size"]["max"] != sizes[-1] or ck["summary"]["state_size"]["min"] != sizes[0]:
        fail("summary state_size %r vs history %r" % (ck["summary"]["state_size"], sizes))
    cc = get("/jobs/%s/checkpoints/config" % JID)
    if cc["mode"] != "exactly_once" or cc["interval"] != 300 or cc["max_concurrent"] != 1:
        fail("checkpoint config: %r" % cc)
    ex = get("/jobs/%s/exceptions" % JID)
    if ex["root-exception"] is not None or ex["all-exceptions"] != [] or \
            ex["exceptionHistory"]["entries"] != []:
        fail("exceptions: %r" % ex)

    # TaskManagers
    tms = get("/taskmanagers")["taskmanagers"]
    now = time.time() * 1000
    if [t["rank"] for t in tms] != [1, 2] or [t["id"] for t in tms] != ["tm-1", "tm-2"]:
        fail("taskmanagers: %r" % tms)
    for t in tms:
        if t["host"] != socket.gethostname() or not t["binding"] or t["slotsNumber"] != 1:
            fail("taskmanager %r" % t)
        if abs(now - t["timeSinceLastHeartbeat"]) > 10000:
            fail("taskmanager %s: last heartbeat %r ms ago" %
                 (t["id"], now - t["timeSinceLastHeartbeat"]))
        if t["memory"]["segmentSize"] != 32768 or t["memory"]["peakRssBytes"] <= 0:
            fail("taskmanager memory %r" % t["memory"])
    status, text = call("GET", "/metrics")
    if status == 200 and "flink_" not in text:
        fail("/metrics is not a Prometheus page")
    print("ok: every read endpoint has the job's shape; numRecordsOut of the bounded source = %d"
          % n)


def bad(token, work):
    sp = "/jobs/%s/savepoints" % JID
    checks = [
        ("GET", "/jobs/0123456789abcdef0123456789abcdef", None, None, {}, 404, "unknown job id"),
        ("GET", "/jobs/nope/checkpoints", None, None, {}, 404, "unknown job name"),
        ("GET", "/jobs/%s/vertices/nope" % JID, None, None, {}, 404, "unknown vertex"),
        ("GET", "/no/such/endpoint", None, None, {}, 404, "unknown path"),
        ("GET", "/taskmanagers/" + JID, None, None, {}, 404, "a job id under another path"),
        ("GET", sp + "/ffffffffffffffffffffffffffffffff", None, None, {}, 404, "unknown trigger"),
        ("DELETE", "/jobs/" + JID, None, None, {}, 405, "DELETE"),
        ("POST", sp, "{}", None, {}, 401, "no token"),
        ("POST", sp, "{}", "wrong", {}, 401, "wrong token"),
        ("POST", "/jobs/%s/stop" % JID, "{}", token + "x", {}, 401, "token with a suffix"),
        ("PATCH", "/jobs/%s?mode=cancel" % JID, None, None, {}, 401, "cancel without a token"),
        ("POST", sp, "{bad json", token, {}, 400, "malformed JSON"),
        ("POST", sp, "[1, 2]", token, {}, 400, "a JSON array"),
        ("POST", sp, '{"target-directory": 5}', token, {}, 400, "a number as target"),
        ("POST", "/jobs/%s/stop" % JID, '{"drain": "yes"}', token, {}, 400, "drain not a bool"),
        ("POST", sp, json.dumps({"target-directory": work + "/allowed/../sp"}), token, {}, 400,
         "'..' in the target"),
        ("POST", sp, json.dumps({"target-directory": "/etc"}), token, {}, 400,
         "a target outside the allowed directories"),
        ("POST", sp, json.dumps({"target-directory": work + "/allowed/link/x"}), token, {}, 400,
         "a symbolic link out of an allowed directory"),
        ("POST", sp, json.dumps({"target-directory": "relative/dir"}), token, {}, 400,
         "a relative target outside"),
        ("POST", "/jobs/nope/savepoints", "{}", token, {}, 404, "savepoint of an unknown job"),
        ("PATCH", "/jobs/%s?mode=stop" % JID, None, token, {}, 400, "PATCH mode=stop"),
        ("POST", sp, "x" * 2048, token, {}, 413, "an oversize body"),
    ]
    for method, path, body, tok, hdr, want, what in checks:
        status, got = call(method, path, body, tok, hdr)
        expect_error(status, got, want, what)
    # an oversize chunked body (no Content-Length to refuse it by)
    def chunks():
        for _ in range(64):
            yield b"y" * 1024
    req = urllib.request.Request(BASE + sp, data=chunks(), method="POST")
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Transfer-Encoding", "chunked")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            fail("chunked oversize body: HTTP %d" % r.status)
    except urllib.error.HTTPError as e:
        expect_error(e.code, json.loads(e.read()), 413, "an oversize chunked body")
    # a header larger than rest.server.max-header-size: refused or closed, never served
    try:
        status, got = call("GET", "/overview", headers={"X-Big": "z" * 40000})
        if status < 400 or status >= 500:
            fail("a 40 kB header: HTTP %d" % status)
    except (urllib.error.URLError, ConnectionError, OSError):
        pass
    if call("GET", "/overview")[0] != 200:
        fail("the server stopped answering after the bad requests")
    print("ok: %d kinds of bad request answered 4xx with {\"errors\": [...]}" % (len(checks) + 2))


def savepoint(token, target):
    status, body = call("POST", "/jobs/%s/savepoints" % JID,
                        json.dumps({"target-directory": target, "cancel-job": False}), token)
    if status != 202 or not is_hex32(body.get("request-id")):
        fail("savepoint trigger: HTTP %d %r" % (status, body))
    path = "/jobs/%s/savepoints/%s" % (JID, body["request-id"])
    st = wait_for("the savepoint", lambda: (lambda s: s if s["status"]["id"] == "COMPLETED"
                                            else None)(get(path)))
    loc = st["operation"].get("location")
    if not loc or not loc.startswith(target + "/") or \
            not os.path.isfile(os.path.join(loc, "_metadata.h5")):
        fail("savepoint outcome: %r" % st)
    ck = get("/jobs/%s/checkpoints" % JID)
    if ck["latest"]["savepoint"] is None or ck["latest"]["savepoint"]["external_path"] != loc:
        fail("checkpoints' latest savepoint %r is not %s" % (ck["latest"]["savepoint"], loc))
    if ck["counts"]["savepoints"] < 1:
        fail("no savepoint counted")
    print(loc)


def slow():
    host, port = BASE.split("//")[1].split(":")
    trickler = socket.create_connection((host, int(port)))
    request = b"GET /overview HTTP/1.1\r\nHost: x\r\n\r\n"
    silent = socket.create_connection((host, int(port)))
    t_silent = time.time()
    stop = threading.Event()

    def trickle():
        for b in request:
            if stop.is_set():
                return
            try:
                trickler.send(bytes([b]))
            except OSError:
                return
            time.sleep(1)
    th = threading.Thread(target=trickle, daemon=True)
    th.start()
    worst = 0
    for _ in range(10):
        t0 = time.time()
        get("/jobs/" + JID)
        worst = max(worst, time.time() - t0)
        time.sleep(0.3)
    if worst > 1.0:
        fail("a request took %.2f s beside a slow client" % worst)
    # the silent one is closed after rest.server.connection-timeout (2 s)
    silent.settimeout(8)
    try:
        got = silent.recv(100)
    except socket.timeout:
        fail("a client that sends nothing was not closed within 8 s")
    except ConnectionResetError:
        got = b""
    if got:
        fail("a client that sent nothing got %r" % got)
    stop.set()
    trickler.close()
    closed = time.time() - t_silent
    if closed > 10:
        fail("a client that sends nothing was closed only after %.1f s" % closed)
    print("ok: slow clients: requests beside them took at most %.3f s; one that sends nothing "
          "was closed within %.1f s" % (worst, closed))


def crowd(token):
    results = []
    lock = threading.Lock()

    def client(i):
        out = []
        for k in range(4):
            try:
                if k == 3:
                    status, _ = call("POST", "/jobs/%s/savepoints" % JID, "{}", "bad" + token)
                else:
                    status, _ = call("GET", ["/jobs/" + JID, "/overview",
                                             "/jobs/%s/checkpoints" % JID][k], timeout=20)
            except (urllib.error.URLError, ConnectionError, OSError) as e:
                status = "refused: %s" % e
            out.append(status)
        with lock:
            results.extend(out)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    served = sum(1 for s in results if s == 200)
    bad = [s for s in results if not (s in (200, 401, 503) or str(s).startswith("refused"))]
    if bad or served < 50:
        fail("50 clients: %d served, unexpected %r" % (served, bad[:5]))
    print("ok: 50 concurrent clients, %d requests: %d served, %d others 401/503/refused, in %.2f s"
          % (len(results), served, len(results) - served, time.time() - t0))


cmd = sys.argv[1]
if cmd == "shapes":
    shapes(int(sys.argv[5]))
elif cmd == "bad":
    bad(sys.argv[5], sys.argv[6])
elif cmd == "savepoint":
    savepoint(sys.argv[5], sys.argv[6])
elif cmd == "slow":
    slow()
elif cmd == "crowd":
    crowd(sys.argv[5])
else:
    fail("unknown command " + cmd)
