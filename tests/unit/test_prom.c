/* Unit tests for rest/prom: a known job state (a chain gen -> m and a
 * sink out, parallelism 2 on two TaskManagers, a job name and a host that
 * need escaping) rendered as a Prometheus page, checked line by line:
 * Flink's names and labels, counter and gauge types, exact values,
 * absent values (a subtask that has not reported, a NaN rate, watermarks
 * "none yet" and "end of input") left out, task metrics from the chain's
 * head or tail, job and checkpoint metrics, a restart replacing the
 * attempt's series and its counters starting over, the end of the job.
 * Every page is checked for the format's rules (families contiguous, one
 * HELP and TYPE each before their samples, labels escaped, no series
 * twice) and, when promtool is installed, by `promtool check metrics`,
 * which may only complain about the style of Flink's names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "conf/props.h"
#include "ops/op.h"
#include "plan/plan.h"
#include "rest/prom.h"
#include "runtime/jobstate.h"

/* The job name and host, and their escaped forms in label values; @JID@
 * in an expected line stands for the job id (random per jobstate). */
#define JOB_NAME "wc \"v2\" \\ a\nb"
#define JOB_LABEL "job_id=\"@JID@\",job_name=\"wc \\\"v2\\\" \\\\ a\\nb\""
#define HOST2 "node\"2"
#define HOST2_LABEL "host=\"node\\\"2\""

static const char *jid; /* the fixture's job id */

typedef struct fixture {
    op_spec ops[3];
    int chain0[2], chain1[1];
    plan_task tasks[2];
    job j;
    plan p;
    conf *c;
    jobstate *js;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->ops[0] = (op_spec){.index = 0, .uid = "gen", .parallelism = 2, .wm_field = 1,
                          .kind = op_kind_find(OP_SOURCE, "generator")};
    f->ops[1] = (op_spec){.index = 1, .uid = "m", .parallelism = 2, .wm_field = -1,
                          .kind = op_kind_find(OP_TRANSFORM, "map")};
    f->ops[2] = (op_spec){.index = 2, .uid = "out", .parallelism = 2, .wm_field = -1,
                          .kind = op_kind_find(OP_SINK, "blackhole")};
    for (int i = 0; i < 3; i++)
        assert_non_null(f->ops[i].kind);
    f->chain0[0] = 0;
    f->chain0[1] = 1;
    f->chain1[0] = 2;
    f->tasks[0] = (plan_task){.nops = 2, .ops = f->chain0, .parallelism = 2};
    f->tasks[1] = (plan_task){.nops = 1, .ops = f->chain1, .parallelism = 2};
    f->j = (job){.name = JOB_NAME, .nops = 3, .ops = f->ops};
    f->p = (plan){.job = &f->j, .ntms = 2, .slots_per_tm = 1, .nslots = 2, .ntasks = 2,
                  .tasks = f->tasks};
    f->c = conf_new();
    f->js = jobstate_new(&f->p, 2, f->c, 1000);
    jid = jobstate_job_id(f->js);
    assert_int_equal(strlen(jid), 32);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    jobstate_destroy(f->js);
    conf_destroy(f->c);
    free(f);
    return 0;
}

/* --- the format's rules --- */

static int name_ok(const char *s, size_t n)
{
    if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
            return 0;
    return 1;
}

/* Check a label set "{k="v",...}" at p; returns the end, or NULL. */
static const char *labels_end(const char *p)
{
    if (*p != '{')
        return p;
    p++;
    while (*p != '}') {
        const char *k = p;
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        if (!name_ok(k, (size_t)(p - k)) || *p++ != '=' || *p++ != '"')
            return NULL;
        while (*p != '"') {
            if (*p == '\n' || !*p)
                return NULL;
            if (*p == '\\') {
                p++;
                if (*p != '\\' && *p != '"' && *p != 'n')
                    return NULL;
            }
            p++;
        }
        p++;
        if (*p == ',')
            p++;
        else if (*p != '}')
            return NULL;
    }
    return p + 1;
}

/* Every line is a HELP, a TYPE (counter, gauge or summary) right after
 * it, or a sample of that family (a summary's also <name>_count) with a
 * finite value; a family appears once; no
 * series twice. Returns the number of samples. */
static int check_format(const char *page)
{
    char fams[256][128];
    int nfam = 0, nsamples = 0;
    char cur[128] = "";
    int typed = 0, summary = 0;
    char **series = NULL;
    size_t nseries = 0;
    assert_true(*page);
    assert_int_equal(page[strlen(page) - 1], '\n');
    for (const char *line = page; *line;) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        size_t len = (size_t)(nl - line);
        assert_true(len > 0);
        char buf[1024];
        assert_true(len < sizeof buf);
        memcpy(buf, line, len);
        buf[len] = 0;
        if (strncmp(buf, "# HELP ", 7) == 0) {
            char *sp = strchr(buf + 7, ' ');
            assert_non_null(sp);
            *sp = 0;
            assert_true(name_ok(buf + 7, strlen(buf + 7)));
            for (int i = 0; i < nfam; i++)
                if (strcmp(fams[i], buf + 7) == 0)
                    fail_msg("family %s appears twice", buf + 7);
            assert_true(nfam < 256);
            snprintf(fams[nfam++], sizeof fams[0], "%s", buf + 7);
            snprintf(cur, sizeof cur, "%s", buf + 7);
            assert_true(strlen(sp + 1) > 0);
            typed = 0;
        } else if (strncmp(buf, "# TYPE ", 7) == 0) {
            char want[300];
            int ok = 0;
            summary = 0;
            for (int t = 0; t < 3; t++) {
                static const char *const types[] = {"counter", "gauge", "summary"};
                snprintf(want, sizeof want, "# TYPE %s %s", cur, types[t]);
                if (strcmp(buf, want) == 0) {
                    ok = 1;
                    summary = t == 2;
                }
            }
            if (!ok)
                fail_msg("TYPE line out of place: %s", buf);
            assert_false(typed);
            typed = 1;
        } else {
            assert_true(typed);
            size_t n = strlen(cur);
            int in_family = strncmp(buf, cur, n) == 0;
            if (in_family && summary && strncmp(buf + n, "_count", 6) == 0)
                n += 6;
            if (!in_family || (buf[n] != '{' && buf[n] != ' '))
                fail_msg("sample outside its family %s: %s", cur, buf);
            const char *end = labels_end(buf + n);
            if (!end || *end != ' ')
                fail_msg("bad labels: %s", buf);
            char *vend;
            double v = strtod(end + 1, &vend);
            if (*vend || vend == end + 1 || !isfinite(v))
                fail_msg("bad value: %s", buf);
            for (size_t i = 0; i < nseries; i++)
                if (strncmp(series[i], buf, (size_t)(end - buf)) == 0 &&
                    series[i][end - buf] == ' ')
                    fail_msg("series twice: %s", buf);
            series = realloc(series, (nseries + 1) * sizeof *series);
            series[nseries++] = strdup(buf);
            nsamples++;
        }
        line = nl + 1;
    }
    for (size_t i = 0; i < nseries; i++)
        free(series[i]);
    free(series);
    return nsamples;
}

/* promtool's lint: Flink's names are camelCase and its counters have no
 * _total suffix; anything else (a parse error above all) fails. */
static const char *const lint_allowed[] = {
    "metric names should be written in 'snake_case' not 'camelCase'",
    "counter metrics should have \"_total\" suffix",
    "metric names should not contain abbreviated units",
};

static int have_promtool(void)
{
    return system("command -v promtool >/dev/null 2>&1") == 0;
}

static void promtool_check(const char *page)
{
    char in[] = "/tmp/test_prom_XXXXXX";
    int fd = mkstemp(in);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(page, f);
    fclose(f);
    char cmd[512], outp[64];
    snprintf(outp, sizeof outp, "%s.out", in);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s 2>&1", in, outp);
    int rc = system(cmd);
    rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    FILE *o = fopen(outp, "r");
    assert_non_null(o);
    char line[1024];
    int bad = 0;
    while (fgets(line, sizeof line, o)) {
        int ok = 0;
        for (size_t i = 0; i < sizeof lint_allowed / sizeof lint_allowed[0]; i++)
            ok |= strstr(line, lint_allowed[i]) != NULL;
        if (!ok) {
            fprintf(stderr, "promtool: %s", line);
            bad = 1;
        }
    }
    fclose(o);
    unlink(in);
    unlink(outp);
    if (rc != 0 && rc != 3) /* 3: lint problems only */
        fail_msg("promtool check metrics exited %d", rc);
    assert_false(bad);
}

/* Render, check the format, and return the page (caller frees). */
static char *render(fixture *f, int64_t now_ms)
{
    prom_ctx ctx = {.now_ms = now_ms, .host = "jm-host"};
    size_t len = 0;
    char *page = prom_render(f->js, &ctx, &len);
    assert_non_null(page);
    assert_int_equal(strlen(page), len);
    check_format(page);
    return page;
}

/* want with @JID@ replaced by the job id. */
static void expand(const char *want, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = want; *p && n + 33 < cap;) {
        if (strncmp(p, "@JID@", 5) == 0) {
            n += (size_t)snprintf(out + n, cap - n, "%s", jid);
            p += 5;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = 0;
}

static void assert_line(const char *page, const char *want)
{
    char line[1024];
    expand(want, line, sizeof line);
    size_t n = strlen(line);
    for (const char *p = page; (p = strstr(p, line)) != NULL; p++)
        if ((p == page || p[-1] == '\n') && p[n] == '\n')
            return;
    fail_msg("line not on the page: %s\n--- page ---\n%s", line, page);
}

static void assert_no_line_with(const char *page, const char *want)
{
    char part[1024];
    expand(want, part, sizeof part);
    const char *p = strstr(page, part);
    if (p)
        fail_msg("unexpected on the page: %s", part);
}

/* --- a known job state --- */

static const char *tm1_report =
    "mpiflow-metrics 1 3 0 2000\n"
    "tm usedMemorySegments=12 peakMemorySegments=20 numBytesOutRemote=8192 creditWaits=3 "
    "peakRssKb=20480\n"
    "op 0 0 numRecordsIn=0 numRecordsOut=600 numRecordsOutPerSecond=120.5 "
    "currentInputWatermark=-9223372036854775808 currentOutputWatermark=1700000000000 "
    "busyTimeMsPerSecond=250.0 backPressuredTimeMsPerSecond=10.0 idleTimeMsPerSecond=740.0 "
    "pendingRecords=9400\n"
    "op 1 0 numRecordsIn=600 numRecordsOut=590 numRecordsInPerSecond=nan "
    "numRecordsOutPerSecond=118.0 currentInputWatermark=1700000000000 "
    "currentOutputWatermark=1700000000000 busyTimeMsPerSecond=250.0 "
    "backPressuredTimeMsPerSecond=10.0 idleTimeMsPerSecond=740.0 numBytesOut=4096 "
    "numBytesOutPerSecond=800.0 stateSizeBytes=64 numLateRecordsDropped=0\n"
    "op 2 0 numRecordsIn=300 numRecordsOut=0 numRecordsInPerSecond=60.0 "
    "currentInputWatermark=9223372036854775807 busyTimeMsPerSecond=5.5 "
    "backPressuredTimeMsPerSecond=0.0 idleTimeMsPerSecond=994.5 numBytesOut=0 "
    "latency_count=5 latency_p50_ms=1.250 latency_p99_ms=2.000 latency_max_ms=2.000 "
    "checkpointAlignmentTime_count=0 checkpointAlignmentTime_p50_ms=0.000 "
    "checkpointAlignmentTime_p99_ms=0.000 checkpointAlignmentTime_max_ms=0.000\n"
    "peer 1 bytesSent=1000 bytesSentPerSecond=250.5 batchesSent=10 creditWaits=0 "
    "creditWaitTimeNs=0 creditWaitTimeMsPerSecond=0.0\n"
    "peer 2 bytesSent=3096 bytesSentPerSecond=774.0 batchesSent=31 creditWaits=4 "
    "creditWaitTimeNs=1500000 creditWaitTimeMsPerSecond=12.5\n"
    "host node1\nbinding core 0\n";

/* TaskManager 2 has not reported its sink subtask yet. */
static const char *tm2_report =
    "mpiflow-metrics 1 3 0 2000\n"
    "tm usedMemorySegments=7\n"
    "op 0 1 numRecordsIn=0 numRecordsOut=400 currentOutputWatermark=1699999999000\n"
    "op 1 1 numRecordsIn=400 numRecordsOut=400 numRecordsInPerSecond=50.0 numBytesOut=2048\n"
    "host " HOST2 "\n";

static void feed(fixture *f)
{
    jobstate_set_status(f->js, JS_RUNNING, 2000);
    jobstate_tm_seen(f->js, 1, 2100);
    jobstate_tm_seen(f->js, 2, 2100);
    assert_int_equal(jobstate_on_metrics(f->js, 1, tm1_report, 6000), 0);
    assert_int_equal(jobstate_on_metrics(f->js, 2, tm2_report, 6000), 0);
    jobstate_ckpt_triggered(f->js, 1, 0, 3000);
    jobstate_ckpt_completed(f->js, 1, 3025, "/c/chk-1", 4096, 1500);
    jobstate_ckpt_triggered(f->js, 2, 0, 4000);
    jobstate_ckpt_failed(f->js, 2, 4100, "declined");
    jobstate_ckpt_triggered(f->js, 3, 0, 5000);
}

#define OP_LABELS(task, op, sub, tm, host)                                                       \
    "{" JOB_LABEL ",task_name=\"" task "\",operator_name=\"" op "\",subtask_index=\"" sub       \
    "\",tm_id=\"" tm "\"," host "}"
#define TASK_LABELS(task, sub, tm, host)                                                         \
    "{" JOB_LABEL ",task_name=\"" task "\",subtask_index=\"" sub "\",tm_id=\"" tm "\"," host "}"
#define H1 "host=\"node1\""
#define OPM "flink_taskmanager_job_task_operator_"
#define TSM "flink_taskmanager_job_task_"
#define JOBM "flink_jobmanager_job_"
#define JOB_LABELS "{" JOB_LABEL ",host=\"jm-host\"}"

static void operator_metrics(void **state)
{
    fixture *f = *state;
    feed(f);
    char *page = render(f, 7000);
    /* counters, exact */
    assert_line(page, "# HELP " OPM "numRecordsOut Records the operator subtask emitted, in "
                      "this attempt.");
    assert_line(page, "# TYPE " OPM "numRecordsOut counter");
    assert_line(page, OPM "numRecordsOut" OP_LABELS("gen -> m", "gen", "0", "1", H1) " 600");
    assert_line(page, OPM "numRecordsOut" OP_LABELS("gen -> m", "gen", "1", "2", HOST2_LABEL)
                      " 400");
    assert_line(page, OPM "numRecordsOut" OP_LABELS("gen -> m", "m", "0", "1", H1) " 590");
    assert_line(page, OPM "numRecordsIn" OP_LABELS("out", "out", "0", "1", H1) " 300");
    assert_line(page, OPM "numLateRecordsDropped" OP_LABELS("gen -> m", "m", "0", "1", H1) " 0");
    /* rates are gauges; a NaN rate is left out */
    assert_line(page, "# TYPE " OPM "numRecordsOutPerSecond gauge");
    assert_line(page, OPM "numRecordsOutPerSecond" OP_LABELS("gen -> m", "gen", "0", "1", H1)
                      " 120.5");
    assert_line(page, OPM "numRecordsInPerSecond" OP_LABELS("gen -> m", "m", "1", "2",
                                                            HOST2_LABEL) " 50");
    assert_no_line_with(page, OPM "numRecordsInPerSecond" OP_LABELS("gen -> m", "m", "0", "1",
                                                                    H1));
    /* watermarks: "none yet" and "end of input" left out */
    assert_line(page, "# TYPE " OPM "currentOutputWatermark gauge");
    assert_line(page, OPM "currentOutputWatermark" OP_LABELS("gen -> m", "gen", "1", "2",
                                                             HOST2_LABEL) " 1699999999000");
    assert_line(page, OPM "currentInputWatermark" OP_LABELS("gen -> m", "m", "0", "1", H1)
                      " 1700000000000");
    assert_no_line_with(page, OPM "currentInputWatermark" OP_LABELS("gen -> m", "gen", "0", "1",
                                                                    H1));
    assert_no_line_with(page, OPM "currentInputWatermark" OP_LABELS("out", "out", "0", "1", H1));
    assert_no_line_with(page, "9223372036854775807");
    assert_no_line_with(page, "-9223372036854775808");
    assert_no_line_with(page, "nan");
    assert_no_line_with(page, "NaN");
    /* a source's backlog (FLIP-33) */
    assert_line(page, "# TYPE " OPM "pendingRecords gauge");
    assert_line(page, OPM "pendingRecords" OP_LABELS("gen -> m", "gen", "0", "1", H1) " 9400");
    /* state size and the sinks' latency histogram */
    assert_line(page, "# TYPE " OPM "stateSizeBytes gauge");
    assert_line(page, OPM "stateSizeBytes" OP_LABELS("gen -> m", "m", "0", "1", H1) " 64");
    assert_line(page, "# TYPE " OPM "latency summary");
    assert_line(page, OPM "latency{" JOB_LABEL ",task_name=\"out\",operator_name=\"out\","
                      "subtask_index=\"0\",tm_id=\"1\"," H1 ",quantile=\"0.5\"} 1.25");
    assert_line(page, OPM "latency{" JOB_LABEL ",task_name=\"out\",operator_name=\"out\","
                      "subtask_index=\"0\",tm_id=\"1\"," H1 ",quantile=\"0.99\"} 2");
    assert_line(page, OPM "latency{" JOB_LABEL ",task_name=\"out\",operator_name=\"out\","
                      "subtask_index=\"0\",tm_id=\"1\"," H1 ",quantile=\"1\"} 2");
    assert_line(page, OPM "latency_count" OP_LABELS("out", "out", "0", "1", H1) " 5");
    /* a histogram without observations: its count only */
    assert_line(page, OPM "checkpointAlignmentTime_count" OP_LABELS("out", "out", "0", "1", H1)
                      " 0");
    assert_no_line_with(page, OPM "checkpointAlignmentTime{");
    /* the sink's subtask 1 has not reported: nothing of it */
    assert_no_line_with(page, "operator_name=\"out\",subtask_index=\"1\"");
    /* no per-attempt labels */
    assert_no_line_with(page, "attempt_");
    free(page);
}

static void task_metrics(void **state)
{
    fixture *f = *state;
    feed(f);
    char *page = render(f, 7000);
    assert_line(page, "# HELP " TSM "busyTimeMsPerSecond Milliseconds per second the task was "
                      "busy processing.");
    assert_line(page, "# TYPE " TSM "busyTimeMsPerSecond gauge");
    assert_line(page, TSM "busyTimeMsPerSecond" TASK_LABELS("gen -> m", "0", "1", H1) " 250");
    assert_line(page, TSM "busyTimeMsPerSecond" TASK_LABELS("out", "0", "1", H1) " 5.5");
    assert_line(page, TSM "backPressuredTimeMsPerSecond" TASK_LABELS("gen -> m", "0", "1", H1)
                      " 10");
    assert_line(page, TSM "idleTimeMsPerSecond" TASK_LABELS("out", "0", "1", H1) " 994.5");
    /* records in from the chain's head, out and bytes from its tail */
    assert_line(page, "# TYPE " TSM "numRecordsIn counter");
    assert_line(page, TSM "numRecordsIn" TASK_LABELS("gen -> m", "0", "1", H1) " 0");
    assert_line(page, TSM "numRecordsOut" TASK_LABELS("gen -> m", "0", "1", H1) " 590");
    assert_line(page, TSM "numRecordsOut" TASK_LABELS("gen -> m", "1", "2", HOST2_LABEL) " 400");
    assert_line(page, "# TYPE " TSM "numBytesOut counter");
    assert_line(page, TSM "numBytesOut" TASK_LABELS("gen -> m", "0", "1", H1) " 4096");
    assert_line(page, TSM "numBytesOut" TASK_LABELS("gen -> m", "1", "2", HOST2_LABEL) " 2048");
    assert_line(page, TSM "numBytesOutPerSecond" TASK_LABELS("gen -> m", "0", "1", H1) " 800");
    /* a task's metrics once per task subtask, not per operator */
    assert_no_line_with(page, TSM "busyTimeMsPerSecond{" JOB_LABEL ",task_name=\"gen -> m\","
                              "operator_name");
    /* TaskManagers */
    assert_line(page, "# TYPE flink_taskmanager_Status_Shuffle_Netty_UsedMemorySegments gauge");
    assert_line(page, "flink_taskmanager_Status_Shuffle_Netty_UsedMemorySegments{tm_id=\"1\","
                      "host=\"node1\"} 12");
    assert_line(page, "flink_taskmanager_Status_Shuffle_Netty_UsedMemorySegments{tm_id=\"2\","
                      HOST2_LABEL "} 7");
    assert_line(page, "# TYPE flink_taskmanager_Status_Shuffle_numBytesOutRemote counter");
    assert_line(page, "flink_taskmanager_Status_Shuffle_numBytesOutRemote{tm_id=\"1\","
                      "host=\"node1\"} 8192");
    assert_line(page, "flink_taskmanager_Status_peakRssKb{tm_id=\"1\",host=\"node1\"} 20480");
    /* the network matrix: a row per TaskManager that reported one */
    assert_line(page, "# TYPE flink_taskmanager_Status_Shuffle_Peer_bytesSent counter");
    assert_line(page, "flink_taskmanager_Status_Shuffle_Peer_bytesSent{tm_id=\"1\","
                      "peer_tm_id=\"1\",host=\"node1\"} 1000");
    assert_line(page, "flink_taskmanager_Status_Shuffle_Peer_bytesSent{tm_id=\"1\","
                      "peer_tm_id=\"2\",host=\"node1\"} 3096");
    assert_line(page, "# TYPE flink_taskmanager_Status_Shuffle_Peer_creditWaitTimeMsPerSecond "
                      "gauge");
    assert_line(page, "flink_taskmanager_Status_Shuffle_Peer_creditWaitTimeMsPerSecond{tm_id="
                      "\"1\",peer_tm_id=\"2\",host=\"node1\"} 12.5");
    assert_no_line_with(page, "tm_id=\"2\",peer_tm_id");
    assert_no_line_with(page, "peer_tm_id=\"0\"");
    free(page);
}

static void job_metrics(void **state)
{
    fixture *f = *state;
    /* before anything ran: no checkpoint gauges, no task metrics */
    char *page = render(f, 1500);
    assert_line(page, "flink_jobmanager_numRegisteredTaskManagers{host=\"jm-host\"} 0");
    assert_line(page, JOBM "createdState" JOB_LABELS " 1");
    assert_line(page, JOBM "uptime" JOB_LABELS " 0");
    assert_no_line_with(page, "lastCheckpoint");
    assert_no_line_with(page, "flink_taskmanager_");
    free(page);

    feed(f);
    page = render(f, 7000);
    assert_line(page, "# TYPE flink_jobmanager_numRegisteredTaskManagers gauge");
    assert_line(page, "flink_jobmanager_numRegisteredTaskManagers{host=\"jm-host\"} 2");
    assert_line(page, "flink_jobmanager_numRunningJobs{host=\"jm-host\"} 1");
    assert_line(page, "flink_jobmanager_taskSlotsTotal{host=\"jm-host\"} 2");
    assert_line(page, "# HELP " JOBM "uptime Milliseconds the job has been running without "
                      "interruption (-1 once ended).");
    assert_line(page, "# TYPE " JOBM "uptime gauge");
    assert_line(page, JOBM "uptime" JOB_LABELS " 5000");
    assert_line(page, JOBM "downtime" JOB_LABELS " 0");
    assert_line(page, "# TYPE " JOBM "numRestarts counter");
    assert_line(page, JOBM "numRestarts" JOB_LABELS " 0");
    assert_line(page, JOBM "runningState" JOB_LABELS " 1");
    assert_line(page, JOBM "createdState" JOB_LABELS " 0");
    assert_line(page, JOBM "failedState" JOB_LABELS " 0");
    assert_line(page, "# TYPE " JOBM "numberOfCompletedCheckpoints counter");
    assert_line(page, JOBM "numberOfCompletedCheckpoints" JOB_LABELS " 1");
    assert_line(page, JOBM "numberOfFailedCheckpoints" JOB_LABELS " 1");
    assert_line(page, "# TYPE " JOBM "numberOfInProgressCheckpoints gauge");
    assert_line(page, JOBM "numberOfInProgressCheckpoints" JOB_LABELS " 1");
    assert_line(page, JOBM "totalNumberOfCheckpoints" JOB_LABELS " 3");
    assert_line(page, "# TYPE " JOBM "lastCheckpointDuration gauge");
    assert_line(page, JOBM "lastCheckpointDuration" JOB_LABELS " 25");
    assert_line(page, JOBM "lastCheckpointSize" JOB_LABELS " 4096");
    assert_line(page, JOBM "lastCompletedCheckpointId" JOB_LABELS " 1");
    free(page);

    /* a savepoint counts as a completed checkpoint and becomes the last */
    jobstate_ckpt_failed(f->js, 3, 6500, "timeout");
    jobstate_ckpt_triggered(f->js, 4, 1, 6600);
    jobstate_ckpt_completed(f->js, 4, 6700, "/s/savepoint-4", 10000, 0);
    page = render(f, 7000);
    assert_line(page, JOBM "numberOfCompletedCheckpoints" JOB_LABELS " 2");
    assert_line(page, JOBM "numberOfFailedCheckpoints" JOB_LABELS " 2");
    assert_line(page, JOBM "numberOfInProgressCheckpoints" JOB_LABELS " 0");
    assert_line(page, JOBM "lastCheckpointDuration" JOB_LABELS " 100");
    assert_line(page, JOBM "lastCheckpointSize" JOB_LABELS " 10000");
    free(page);

    /* without a host, jobmanager metrics have no host label */
    prom_ctx ctx = {.now_ms = 7000, .host = NULL};
    page = prom_render(f->js, &ctx, NULL);
    check_format(page);
    assert_line(page, "flink_jobmanager_numRunningJobs 1");
    assert_line(page, JOBM "uptime{" JOB_LABEL "} 5000");
    free(page);
}

static void restart_replaces_series(void **state)
{
    fixture *f = *state;
    feed(f);
    jobstate_set_status(f->js, JS_FAILING, 8000);
    jobstate_set_status(f->js, JS_RESTARTING, 8100);
    jobstate_new_attempt(f->js, 8100);
    char *page = render(f, 9000);
    /* the failed attempt's series are gone; the checkpoint in progress
     * failed with it; TaskManagers stay */
    assert_no_line_with(page, OPM);
    assert_no_line_with(page, TSM);
    assert_no_line_with(page, "Shuffle_Peer_");
    assert_line(page, JOBM "downtime" JOB_LABELS " 1000");
    assert_line(page, JOBM "uptime" JOB_LABELS " 0");
    assert_line(page, JOBM "restartingState" JOB_LABELS " 1");
    assert_line(page, JOBM "runningState" JOB_LABELS " 0");
    assert_line(page, JOBM "numRestarts" JOB_LABELS " 1");
    assert_line(page, JOBM "numberOfFailedCheckpoints" JOB_LABELS " 2");
    assert_line(page, JOBM "numberOfInProgressCheckpoints" JOB_LABELS " 0");
    assert_line(page, "flink_taskmanager_Status_Shuffle_Netty_UsedMemorySegments{tm_id=\"1\","
                      "host=\"node1\"} 12");
    assert_no_line_with(page, "lastCheckpointRestoreTimestamp");
    free(page);
    /* the restart restored checkpoint 1 */
    jobstate_restored(f->js, 1, 0, "/c/chk-1", 9200);
    page = render(f, 9300);
    assert_line(page, "# TYPE " JOBM "lastCheckpointRestoreTimestamp gauge");
    assert_line(page, JOBM "lastCheckpointRestoreTimestamp" JOB_LABELS " 9200");
    free(page);
    /* the new attempt's series have the same labels; counters start over */
    jobstate_set_status(f->js, JS_RUNNING, 9500);
    jobstate_on_metrics(f->js, 1, "mpiflow-metrics 1 1 0 0\nop 0 0 numRecordsOut=7\n", 9900);
    page = render(f, 10000);
    assert_line(page, OPM "numRecordsOut" OP_LABELS("gen -> m", "gen", "0", "1", H1) " 7");
    assert_no_line_with(page, " 600\n");
    assert_line(page, JOBM "uptime" JOB_LABELS " 500");
    assert_line(page, JOBM "downtime" JOB_LABELS " 0");
    free(page);
    /* the end: uptime and downtime -1, no running job */
    jobstate_set_status(f->js, JS_FINISHED, 11000);
    page = render(f, 12000);
    assert_line(page, JOBM "uptime" JOB_LABELS " -1");
    assert_line(page, JOBM "downtime" JOB_LABELS " -1");
    assert_line(page, JOBM "finishedState" JOB_LABELS " 1");
    assert_line(page, "flink_jobmanager_numRunningJobs{host=\"jm-host\"} 0");
    free(page);
}

static void promtool_accepts(void **state)
{
    fixture *f = *state;
    if (!have_promtool()) {
        fprintf(stderr, "SKIP: promtool not installed (Debian package prometheus)\n");
        skip();
    }
    char *page = render(f, 1500);
    promtool_check(page);
    free(page);
    feed(f);
    page = render(f, 7000);
    promtool_check(page);
    free(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(operator_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(task_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(job_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_replaces_series, setup, teardown),
        cmocka_unit_test_setup_teardown(promtool_accepts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
