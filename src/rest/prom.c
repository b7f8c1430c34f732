/* Prometheus metrics (rest layer): the job-state model as a page of the
 * text exposition format 0.0.4, named and labelled as Flink's
 * PrometheusReporter does.
 *
 * Departures from Flink, on purpose:
 *  - Types: Flink exports its counters as gauges (its counters may go
 *    down); mpiflow's never do within an attempt, so they are typed
 *    counter and rate()/increase() apply. Names keep Flink's spelling
 *    (no _total suffix, camelCase), so `promtool check metrics` reports
 *    lint about style, never a parse error.
 *  - Labels: job_id is the JobManager's per-run id (kept across restarts
 *    in its MPI world; a relaunch by the supervisor is a new run, as a
 *    resubmission is in Flink). No task_id, operator_id (task_name and
 *    operator_name are unique in a job), task_attempt_id or
 *    task_attempt_num: attempt labels would start new series on every
 *    restart, without bound.
 *  - Values the model does not have are left out, not printed as 0:
 *    subtasks that have not reported yet, NaN and infinite rates, and the
 *    watermarks "none yet" and "end of input" (Long.MIN_VALUE and
 *    Long.MAX_VALUE in Flink), which would make a lag computed from them
 *    meaningless.
 *
 * Restarts: jobstate_new_attempt empties every subtask's metrics, so the
 * failed attempt's series vanish from the page (Prometheus marks them
 * stale) until the new attempt reports; its series carry the same labels,
 * so they continue the old ones, and its counters start again from 0 -- a
 * counter reset, which rate() and increase() take as such. Job-level
 * counts (checkpoints, restarts) and the TaskManagers' metrics go on
 * across attempts. */
#include "rest/prom.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plan/plan.h"
#include "record/batch.h"
#include "util/xmalloc.h"

/* --- output buffer --- */

typedef struct pbuf {
    char *s;
    size_t n, cap;
} pbuf;

static void pb_reserve(pbuf *b, size_t more)
{
    if (b->n + more < b->cap)
        return;
    while (b->n + more >= b->cap)
        b->cap = b->cap ? 2 * b->cap : 4096;
    b->s = xrealloc(b->s, b->cap);
}

static void pb_put(pbuf *b, const char *s, size_t n)
{
    pb_reserve(b, n + 1);
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void pb_puts(pbuf *b, const char *s)
{
    pb_put(b, s, strlen(s));
}

static void pb_printf(pbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pb_printf(pbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    if ((size_t)k < sizeof tmp) {
        pb_put(b, tmp, (size_t)k);
        return;
    }
    pb_reserve(b, (size_t)k + 1);
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

/* A label value: backslash, double quote and newline escaped, as the
 * format requires; everything else (UTF-8 included) as it is. */
static void pb_label_value(pbuf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            pb_puts(b, "\\\\");
        else if (*v == '"')
            pb_puts(b, "\\\"");
        else if (*v == '\n')
            pb_puts(b, "\\n");
        else
            pb_put(b, v, 1);
    }
}

/* --- labels --- */

/* The labels of one sample, in the order they are printed. NULL strings
 * and negative numbers are left out (an empty value is the same as no
 * label to Prometheus). */
typedef struct plabels {
    const char *job_id;
    const char *job_name;
    const char *task_name;
    const char *operator_name;
    int subtask_index; /* -1: none */
    int tm_id;         /* -1: none */
    int peer_tm_id;    /* the other end of TaskManager traffic; 0: none */
    const char *host;
    const char *quantile; /* summaries */
} plabels;

static void pb_label(pbuf *b, const char **sep, const char *name, const char *v)
{
    if (!v || !*v)
        return;
    pb_printf(b, "%s%s=\"", *sep, name);
    pb_label_value(b, v);
    pb_puts(b, "\"");
    *sep = ",";
}

static void pb_label_int(pbuf *b, const char **sep, const char *name, int v)
{
    char num[16];
    if (v < 0)
        return;
    snprintf(num, sizeof num, "%d", v);
    pb_label(b, sep, name, num);
}

static void pb_labels(pbuf *b, const plabels *l)
{
    const char *sep = "{";
    pb_label(b, &sep, "job_id", l->job_id);
    pb_label(b, &sep, "job_name", l->job_name);
    pb_label(b, &sep, "task_name", l->task_name);
    pb_label(b, &sep, "operator_name", l->operator_name);
    pb_label_int(b, &sep, "subtask_index", l->subtask_index);
    pb_label_int(b, &sep, "tm_id", l->tm_id);
    pb_label_int(b, &sep, "peer_tm_id", l->peer_tm_id > 0 ? l->peer_tm_id : -1);
    pb_label(b, &sep, "host", l->host);
    pb_label(b, &sep, "quantile", l->quantile);
    if (*sep == ',')
        pb_puts(b, "}");
}

/* --- families --- */

enum ptype { PT_COUNTER, PT_GAUGE, PT_SUMMARY };

/* One metric family being written: its samples collect in body and the
 * family is printed (HELP, TYPE, samples) only when it has some, so every
 * family is one contiguous block, as the format requires. */
typedef struct family {
    const char *name;
    int type;
    const char *help;
    pbuf body;
} family;

static void fam_begin(family *f, const char *name, int type, const char *help)
{
    f->name = name;
    f->type = type;
    f->help = help;
    f->body.n = 0;
    if (f->body.s)
        f->body.s[0] = 0;
}

/* A sample of the family: its name, suffix ("_count" of a summary, or
 * NULL), labels and value. */
static void fam_sample_i64(family *f, const char *suffix, const plabels *l, int64_t v)
{
    pb_puts(&f->body, f->name);
    if (suffix)
        pb_puts(&f->body, suffix);
    pb_labels(&f->body, l);
    pb_printf(&f->body, " %" PRId64 "\n", v);
}

static void fam_sample_f64(family *f, const char *suffix, const plabels *l, double v)
{
    if (!isfinite(v))
        return;
    pb_puts(&f->body, f->name);
    if (suffix)
        pb_puts(&f->body, suffix);
    pb_labels(&f->body, l);
    pb_printf(&f->body, " %.15g\n", v);
}

/* A metric of the model: integers exact, rates as decimals. */
static void fam_sample_metric(family *f, const char *suffix, const plabels *l,
                              const js_metric *m)
{
    if (m->is_real)
        fam_sample_f64(f, suffix, l, m->d);
    else
        fam_sample_i64(f, suffix, l, m->i);
}

static void fam_end(pbuf *out, family *f)
{
    if (!f->body.n)
        return;
    static const char *const type_names[] = {"counter", "gauge", "summary"};
    pb_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
              type_names[f->type]);
    pb_put(out, f->body.s, f->body.n);
}

/* --- what is rendered --- */

enum { SRC_ANY, SRC_WATERMARK, SRC_HISTOGRAM };

/* An operator subtask's metric: Flink's name after the scope, the name
 * the TaskManager reports it under (metrics/registry.h), its type. */
typedef struct op_metric {
    const char *name;
    const char *src;
    int type;
    int kind; /* SRC_*: watermarks leave out "none yet" and "end of input";
               * histograms are reported as <src>_count, <src>_p50_ms, ... */
    const char *help;
} op_metric;

#define OPS "flink_taskmanager_job_task_operator_"
static const op_metric operator_metrics[] = {
    {OPS "numRecordsIn", "numRecordsIn", PT_COUNTER, SRC_ANY,
     "Records the operator subtask received, in this attempt."},
    {OPS "numRecordsOut", "numRecordsOut", PT_COUNTER, SRC_ANY,
     "Records the operator subtask emitted, in this attempt."},
    {OPS "numRecordsInPerSecond", "numRecordsInPerSecond", PT_GAUGE, SRC_ANY,
     "Records received per second over the last metrics.reporter.interval."},
    {OPS "numRecordsOutPerSecond", "numRecordsOutPerSecond", PT_GAUGE, SRC_ANY,
     "Records emitted per second over the last metrics.reporter.interval."},
    {OPS "numLateRecordsDropped", "numLateRecordsDropped", PT_COUNTER, SRC_ANY,
     "Records dropped for arriving after their window's allowed lateness."},
    {OPS "numRecordsSkipped", "numRecordsSkipped", PT_COUNTER, SRC_ANY,
     "Input records skipped as unreadable (mpiflow)."},
    {OPS "currentInputWatermark", "currentInputWatermark", PT_GAUGE, SRC_WATERMARK,
     "The operator's input watermark, ms since the epoch (absent: none yet or end of input)."},
    {OPS "currentOutputWatermark", "currentOutputWatermark", PT_GAUGE, SRC_WATERMARK,
     "The watermark the task last emitted, ms since the epoch (absent: none yet or end of "
     "input)."},
    {OPS "numBytesIn", "numBytesIn", PT_COUNTER, SRC_ANY,
     "Bytes the source read, in this attempt (file sources)."},
    {OPS "pendingRecords", "pendingRecords", PT_GAUGE, SRC_ANY,
     "Records the source has yet to read (bounded generators)."},
    {OPS "pendingBytes", "pendingBytes", PT_GAUGE, SRC_ANY,
     "Bytes the source has yet to read (file sources)."},
    {OPS "stateSizeBytes", "stateSizeBytes", PT_GAUGE, SRC_ANY,
     "Bytes of state the operator subtask holds (mpiflow)."},
    {OPS "statePeakBytes", "statePeakBytes", PT_GAUGE, SRC_ANY,
     "Peak bytes of state the operator subtask held in this attempt (mpiflow)."},
    {OPS "latency", "latency", PT_SUMMARY, SRC_HISTOGRAM,
     "Latency of markers from the sources to this sink task over the attempt, ms: quantiles "
     "0.5, 0.99 and 1 (the largest) (mpiflow)."},
    {OPS "watermarkLatency", "watermarkLatency", PT_SUMMARY, SRC_HISTOGRAM,
     "Wall-clock time from a watermark's source to this sink task over the attempt, ms: "
     "quantiles 0.5, 0.99 and 1 (the largest) (mpiflow)."},
    {OPS "checkpointAlignmentTime", "checkpointAlignmentTime", PT_SUMMARY, SRC_HISTOGRAM,
     "Barrier alignment time of this task over the attempt, ms: quantiles 0.5, 0.99 and 1 "
     "(the longest) (mpiflow)."},
};
#undef OPS

/* Task (chain) metrics: the TaskManager reports them with every operator
 * of the chain; they are read from the chain's head (records in) or tail
 * (everything else: times are the same for all, bytes go with the tail). */
typedef struct task_metric {
    const char *name;
    const char *src;
    int type;
    int from_head;
    const char *help;
} task_metric;

#define TS "flink_taskmanager_job_task_"
static const task_metric task_metrics[] = {
    {TS "numRecordsIn", "numRecordsIn", PT_COUNTER, 1,
     "Records the task (its chain's first operator) received, in this attempt."},
    {TS "numRecordsOut", "numRecordsOut", PT_COUNTER, 0,
     "Records the task (its chain's last operator) emitted, in this attempt."},
    {TS "numBytesOut", "numBytesOut", PT_COUNTER, 0,
     "Bytes of record batches the task sent downstream, in this attempt."},
    {TS "numBytesOutPerSecond", "numBytesOutPerSecond", PT_GAUGE, 0,
     "Bytes the task sent downstream per second."},
    {TS "busyTimeMsPerSecond", "busyTimeMsPerSecond", PT_GAUGE, 0,
     "Milliseconds per second the task was busy processing."},
    {TS "backPressuredTimeMsPerSecond", "backPressuredTimeMsPerSecond", PT_GAUGE, 0,
     "Milliseconds per second the task was back-pressured (waiting for credit)."},
    {TS "idleTimeMsPerSecond", "idleTimeMsPerSecond", PT_GAUGE, 0,
     "Milliseconds per second the task was idle (no input)."},
};
#undef TS

/* TaskManager metrics: Flink's name where Flink has one. */
typedef struct tm_metric {
    const char *name;
    const char *src;
    int type;
    const char *help;
} tm_metric;

#define TMS "flink_taskmanager_Status_"
static const tm_metric tm_metrics[] = {
    {TMS "Shuffle_Netty_UsedMemorySegments", "usedMemorySegments", PT_GAUGE,
     "Network buffer pool segments in use on the TaskManager."},
    {TMS "Shuffle_Netty_PeakMemorySegments", "peakMemorySegments", PT_GAUGE,
     "Most network buffer pool segments in use at once on the TaskManager (mpiflow)."},
    {TMS "Shuffle_numBytesOutRemote", "numBytesOutRemote", PT_COUNTER,
     "Bytes the TaskManager sent to other ranks over MPI (mpiflow)."},
    {TMS "Shuffle_creditWaits", "creditWaits", PT_COUNTER,
     "Times a send waited for credit from its receiver (mpiflow)."},
    {TMS "peakRssKb", "peakRssKb", PT_GAUGE,
     "Peak resident set size of the TaskManager process, KiB (mpiflow)."},
};

/* The traffic of one TaskManager to another (to itself: its local
 * channels), a row of the network matrix; the data plane's counters of
 * this attempt. */
static const tm_metric peer_metrics[] = {
    {TMS "Shuffle_Peer_bytesSent", "bytesSent", PT_COUNTER,
     "Bytes of record batches sent to TaskManager peer_tm_id (itself: local channels) "
     "(mpiflow)."},
    {TMS "Shuffle_Peer_bytesSentPerSecond", "bytesSentPerSecond", PT_GAUGE,
     "Bytes per second sent to TaskManager peer_tm_id (mpiflow)."},
    {TMS "Shuffle_Peer_batchesSent", "batchesSent", PT_COUNTER,
     "Record batches sent to TaskManager peer_tm_id (mpiflow)."},
    {TMS "Shuffle_Peer_creditWaits", "creditWaits", PT_COUNTER,
     "Times a channel to TaskManager peer_tm_id waited for credit (mpiflow)."},
    {TMS "Shuffle_Peer_creditWaitTimeNs", "creditWaitTimeNs", PT_COUNTER,
     "Nanoseconds channels to TaskManager peer_tm_id waited for credit (mpiflow)."},
    {TMS "Shuffle_Peer_creditWaitTimeMsPerSecond", "creditWaitTimeMsPerSecond", PT_GAUGE,
     "Milliseconds per second channels to TaskManager peer_tm_id waited for credit "
     "(mpiflow)."},
};
#undef TMS

/* --- the plan's tasks --- */

/* For each operator: the task it runs in, its chain's head and tail, and
 * the task's name (the chain's operators joined by " -> ", as Flink names
 * a chained task). Without tasks in the plan (unit tests build a plan
 * without them) each operator is a task of its own. */
typedef struct chains {
    int nv;
    int *head, *tail; /* [nv]: operator indices */
    const char **name; /* [nv]: the task name of each operator (shared per task) */
    char **owned;     /* names to free */
    int nowned;
} chains;

static void chains_init(chains *c, const jobstate *js)
{
    const plan *p = jobstate_plan(js);
    c->nv = jobstate_nvertices(js);
    size_t n = (size_t)c->nv + 1;
    c->head = xcalloc(n, sizeof *c->head);
    c->tail = xcalloc(n, sizeof *c->tail);
    c->name = xcalloc(n, sizeof *c->name);
    c->owned = xcalloc((size_t)(p ? p->ntasks : 0) + 1, sizeof *c->owned);
    c->nowned = 0;
    for (int i = 0; i < c->nv; i++) {
        c->head[i] = c->tail[i] = i;
        c->name[i] = jobstate_vertex(js, i)->uid;
    }
    for (int t = 0; p && t < p->ntasks; t++) {
        const plan_task *pt = &p->tasks[t];
        if (pt->nops < 1)
            continue;
        pbuf b = {0};
        for (int k = 0; k < pt->nops; k++) {
            const js_vertex *v = jobstate_vertex(js, pt->ops[k]);
            if (!v)
                continue;
            if (b.n)
                pb_puts(&b, " -> ");
            pb_puts(&b, v->uid);
        }
        if (!b.s)
            continue;
        c->owned[c->nowned++] = b.s;
        for (int k = 0; k < pt->nops; k++) {
            int op = pt->ops[k];
            if (op < 0 || op >= c->nv)
                continue;
            c->head[op] = pt->ops[0];
            c->tail[op] = pt->ops[pt->nops - 1];
            c->name[op] = b.s;
        }
    }
}

static void chains_fini(chains *c)
{
    for (int i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    free(c->owned);
    free(c->head);
    free(c->tail);
    free(c->name);
}

/* --- the page --- */

static const char *tm_host(const jobstate *js, int rank)
{
    const js_tm *tm = jobstate_tm(js, rank);
    return tm ? tm->host : NULL;
}

/* A histogram the TaskManager summarised as <src>_count, <src>_p50_ms,
 * <src>_p99_ms and <src>_max_ms: a summary with quantiles 0.5, 0.99 and 1
 * and its _count (no _sum: the TaskManager does not report one). Without
 * observations the quantiles are left out, as Prometheus' own summaries
 * would show NaN. */
static void sample_histogram(family *f, plabels *l, const js_metrics *m, const char *src)
{
    static const struct {
        const char *quantile, *suffix;
    } q[] = {{"0.5", "_p50_ms"}, {"0.99", "_p99_ms"}, {"1", "_max_ms"}};
    char name[64];
    snprintf(name, sizeof name, "%s_count", src);
    const js_metric *count = js_metrics_get(m, name);
    if (!count || count->is_real)
        return;
    for (size_t i = 0; count->i > 0 && i < sizeof q / sizeof q[0]; i++) {
        snprintf(name, sizeof name, "%s%s", src, q[i].suffix);
        const js_metric *x = js_metrics_get(m, name);
        if (!x)
            continue;
        l->quantile = q[i].quantile;
        fam_sample_metric(f, NULL, l, x);
    }
    l->quantile = NULL;
    fam_sample_i64(f, "_count", l, count->i);
}

static void render_operators(pbuf *out, family *f, const jobstate *js, const chains *c)
{
    for (size_t d = 0; d < sizeof operator_metrics / sizeof operator_metrics[0]; d++) {
        const op_metric *om = &operator_metrics[d];
        fam_begin(f, om->name, om->type, om->help);
        for (int i = 0; i < c->nv; i++) {
            const js_vertex *v = jobstate_vertex(js, i);
            for (int k = 0; k < v->parallelism; k++) {
                const js_subtask *st = &v->subtasks[k];
                plabels l = {.job_id = jobstate_job_id(js), .job_name = jobstate_job_name(js),
                             .task_name = c->name[i], .operator_name = v->uid,
                             .subtask_index = st->index, .tm_id = st->rank,
                             .host = tm_host(js, st->rank)};
                if (om->kind == SRC_HISTOGRAM) {
                    sample_histogram(f, &l, &st->m, om->src);
                    continue;
                }
                const js_metric *m = js_metrics_get(&st->m, om->src);
                if (!m)
                    continue;
                if (om->kind == SRC_WATERMARK &&
                    (m->is_real || m->i == WM_MIN || m->i == WM_MAX))
                    continue;
                fam_sample_metric(f, NULL, &l, m);
            }
        }
        fam_end(out, f);
    }
}

static void render_tasks(pbuf *out, family *f, const jobstate *js, const chains *c)
{
    for (size_t d = 0; d < sizeof task_metrics / sizeof task_metrics[0]; d++) {
        const task_metric *tmd = &task_metrics[d];
        fam_begin(f, tmd->name, tmd->type, tmd->help);
        for (int i = 0; i < c->nv; i++) {
            if (c->tail[i] != i)
                continue; /* one task: rendered at its tail */
            const js_vertex *v = jobstate_vertex(js, tmd->from_head ? c->head[i] : i);
            for (int k = 0; k < v->parallelism; k++) {
                const js_subtask *st = &v->subtasks[k];
                const js_metric *m = js_metrics_get(&st->m, tmd->src);
                if (!m)
                    continue;
                plabels l = {.job_id = jobstate_job_id(js), .job_name = jobstate_job_name(js),
                             .task_name = c->name[i], .subtask_index = st->index,
                             .tm_id = st->rank, .host = tm_host(js, st->rank)};
                fam_sample_metric(f, NULL, &l, m);
            }
        }
        fam_end(out, f);
    }
}

static void render_tms(pbuf *out, family *f, const jobstate *js)
{
    for (size_t d = 0; d < sizeof tm_metrics / sizeof tm_metrics[0]; d++) {
        const tm_metric *tmd = &tm_metrics[d];
        fam_begin(f, tmd->name, tmd->type, tmd->help);
        for (int r = 1; r <= jobstate_ntms(js); r++) {
            const js_tm *tm = jobstate_tm(js, r);
            const js_metric *m = js_metrics_get(&tm->m, tmd->src);
            if (!m)
                continue;
            plabels l = {.subtask_index = -1, .tm_id = r, .host = tm->host};
            fam_sample_metric(f, NULL, &l, m);
        }
        fam_end(out, f);
    }
}

static void render_peers(pbuf *out, family *f, const jobstate *js)
{
    int n = jobstate_ntms(js);
    for (size_t d = 0; d < sizeof peer_metrics / sizeof peer_metrics[0]; d++) {
        const tm_metric *pmd = &peer_metrics[d];
        fam_begin(f, pmd->name, pmd->type, pmd->help);
        for (int src = 1; src <= n; src++)
            for (int dst = 1; dst <= n; dst++) {
                const js_metrics *row = jobstate_peer(js, src, dst);
                const js_metric *m = row ? js_metrics_get(row, pmd->src) : NULL;
                if (!m)
                    continue;
                plabels l = {.subtask_index = -1, .tm_id = src, .peer_tm_id = dst,
                             .host = tm_host(js, src)};
                fam_sample_metric(f, NULL, &l, m);
            }
        fam_end(out, f);
    }
}

/* One sample of a family of its own. */
static void render_one(pbuf *out, family *f, const char *name, int type, const char *help,
                       const plabels *l, int64_t v)
{
    fam_begin(f, name, type, help);
    fam_sample_i64(f, NULL, l, v);
    fam_end(out, f);
}

/* When the job last went RUNNING (0: never), and when it last left
 * RUNNING after that (0: it has not). */
static void running_times(const jobstate *js, int64_t *since, int64_t *left)
{
    *since = *left = 0;
    for (size_t i = 0; i < jobstate_nhistory(js); i++) {
        const js_transition *t = jobstate_history(js, i);
        if (t->status == JS_RUNNING) {
            *since = t->time_ms;
            *left = 0;
        } else if (*since && !*left) {
            *left = t->time_ms;
        }
    }
}

/* Flink's <status>State gauges (metrics.job.status.enable: STATE). */
static const char *const state_metric[] = {
    [JS_CREATED] = "flink_jobmanager_job_createdState",
    [JS_RUNNING] = "flink_jobmanager_job_runningState",
    [JS_FAILING] = "flink_jobmanager_job_failingState",
    [JS_RESTARTING] = "flink_jobmanager_job_restartingState",
    [JS_CANCELLING] = "flink_jobmanager_job_cancellingState",
    [JS_CANCELED] = "flink_jobmanager_job_canceledState",
    [JS_FINISHED] = "flink_jobmanager_job_finishedState",
    [JS_FAILED] = "flink_jobmanager_job_failedState",
};

static void render_job(pbuf *out, family *f, const jobstate *js, const prom_ctx *ctx)
{
    const char *host = ctx ? ctx->host : NULL;
    int64_t now = ctx ? ctx->now_ms : 0;
    plabels jm = {.subtask_index = -1, .tm_id = -1, .host = host};
    plabels jl = {.job_id = jobstate_job_id(js), .job_name = jobstate_job_name(js),
                  .subtask_index = -1, .tm_id = -1, .host = host};
    int status = jobstate_status(js);
    int terminal = js_status_terminal(status);

    int heard = 0;
    for (int r = 1; r <= jobstate_ntms(js); r++) {
        const js_tm *tm = jobstate_tm(js, r);
        heard += tm->last_heartbeat_ms > 0 || tm->updated_ms > 0;
    }
    render_one(out, f, "flink_jobmanager_numRegisteredTaskManagers", PT_GAUGE,
               "TaskManagers the JobManager has heard from.", &jm, heard);
    render_one(out, f, "flink_jobmanager_numRunningJobs", PT_GAUGE,
               "Jobs not yet finished, canceled or failed (mpiflow runs one).", &jm, !terminal);
    const plan *p = jobstate_plan(js);
    if (p)
        render_one(out, f, "flink_jobmanager_taskSlotsTotal", PT_GAUGE,
                   "Task slots over all TaskManagers.", &jm,
                   (int64_t)p->ntms * p->slots_per_tm);

    /* uptime and downtime as Flink's UpTimeGauge and DownTimeGauge: -1 once
     * the job has ended, 0 when not applicable */
    int64_t since, left;
    running_times(js, &since, &left);
    int64_t up = terminal ? -1 : status == JS_RUNNING && since ? now - since : 0;
    int64_t down = terminal ? -1 : status != JS_RUNNING && since && left ? now - left : 0;
    render_one(out, f, "flink_jobmanager_job_uptime", PT_GAUGE,
               "Milliseconds the job has been running without interruption (-1 once ended).",
               &jl, up);
    render_one(out, f, "flink_jobmanager_job_downtime", PT_GAUGE,
               "Milliseconds of the current outage while failing or restarting (-1 once ended).",
               &jl, down);
    render_one(out, f, "flink_jobmanager_job_numRestarts", PT_COUNTER,
               "Restarts of the job since it was submitted.", &jl, jobstate_restarts(js));
    for (int s = JS_CREATED; s <= JS_FAILED; s++)
        render_one(out, f, state_metric[s], PT_GAUGE,
                   "1 while the job is in this status, else 0.", &jl, status == s);

    /* checkpoints: savepoints count as completed checkpoints, as in Flink's
     * checkpoint statistics */
    int64_t done, sp, failed, ip;
    jobstate_ckpt_counts(js, &done, &sp, &failed, &ip);
    render_one(out, f, "flink_jobmanager_job_totalNumberOfCheckpoints", PT_COUNTER,
               "Checkpoints and savepoints triggered (completed, failed or in progress).", &jl,
               done + sp + failed + ip);
    render_one(out, f, "flink_jobmanager_job_numberOfCompletedCheckpoints", PT_COUNTER,
               "Checkpoints and savepoints that completed.", &jl, done + sp);
    render_one(out, f, "flink_jobmanager_job_numberOfFailedCheckpoints", PT_COUNTER,
               "Checkpoints and savepoints that failed.", &jl, failed);
    render_one(out, f, "flink_jobmanager_job_numberOfInProgressCheckpoints", PT_GAUGE,
               "Checkpoints and savepoints in progress.", &jl, ip);
    const js_checkpoint *last = jobstate_last_completed(js);
    if (last) {
        render_one(out, f, "flink_jobmanager_job_lastCheckpointDuration", PT_GAUGE,
                   "Milliseconds the last completed checkpoint took, trigger to completion.",
                   &jl, last->duration_ms);
        if (last->size_bytes >= 0) {
            render_one(out, f, "flink_jobmanager_job_lastCheckpointSize", PT_GAUGE,
                       "Bytes of state the last completed checkpoint wrote.", &jl,
                       last->size_bytes);
            render_one(out, f, "flink_jobmanager_job_lastCheckpointFullSize", PT_GAUGE,
                       "Full size of the last completed checkpoint in bytes (mpiflow's "
                       "checkpoints are never incremental: lastCheckpointSize).",
                       &jl, last->size_bytes);
        }
        render_one(out, f, "flink_jobmanager_job_lastCompletedCheckpointId", PT_GAUGE,
                   "Id of the last completed checkpoint or savepoint.", &jl, last->id);
    }
    const js_restore *rs = jobstate_last_restore(js, NULL);
    if (rs)
        render_one(out, f, "flink_jobmanager_job_lastCheckpointRestoreTimestamp", PT_GAUGE,
                   "When the job was last restored from a checkpoint or savepoint, ms since "
                   "the epoch.", &jl, rs->time_ms);
}

char *prom_render(const jobstate *js, const prom_ctx *ctx, size_t *len)
{
    pbuf out = {0};
    pb_reserve(&out, 16384);
    out.s[0] = 0;
    family f = {0};
    chains c;
    chains_init(&c, js);
    render_job(&out, &f, js, ctx);
    render_tms(&out, &f, js);
    render_peers(&out, &f, js);
    render_tasks(&out, &f, js, &c);
    render_operators(&out, &f, js, &c);
    chains_fini(&c);
    free(f.body.s);
    if (len)
        *len = out.n;
    return out.s;
}
