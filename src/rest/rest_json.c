/* The job-state model as Flink-shaped JSON (rest layer); see rest_json.h. */
#include "rest/rest_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "ops/op.h"
#include "record/batch.h"

/* Flink's ExecutionState names, as a vertex or subtask shows them. */
static const char *const exec_states[] = {"CREATED",   "SCHEDULED", "DEPLOYING", "RUNNING",
                                          "FINISHED",  "CANCELING", "CANCELED",  "FAILED",
                                          "RECONCILING", "INITIALIZING"};
#define NEXEC (sizeof exec_states / sizeof exec_states[0])

/* mpiflow does not follow each task through its states: its tasks share
 * the job's. */
static const char *task_state(int job_status)
{
    switch (job_status) {
    case JS_CREATED: return "DEPLOYING";
    case JS_RUNNING: return "RUNNING";
    case JS_FAILING:
    case JS_CANCELLING:
    case JS_RESTARTING: return "CANCELING";
    case JS_CANCELED: return "CANCELED";
    case JS_FINISHED: return "FINISHED";
    case JS_FAILED: return "FAILED";
    default: return "CREATED";
    }
}

static json_t *state_counts(int job_status, int n)
{
    json_t *o = json_object();
    const char *st = task_state(job_status);
    for (size_t i = 0; i < NEXEC; i++)
        json_object_set_new(o, exec_states[i], json_integer(strcmp(st, exec_states[i]) ? 0 : n));
    return o;
}

void rest_json_vertex_id(const char *uid, char out[33])
{
    XXH128_hash_t h = XXH3_128bits(uid, strlen(uid));
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
}

json_t *rest_json_error(const char *message)
{
    return json_pack("{s:[s]}", "errors", message ? message : "");
}

/* --- times --- */

static int64_t start_time(const jobstate *js)
{
    const js_transition *t = jobstate_history(js, 0);
    return t ? t->time_ms : 0;
}

/* When the job reached its terminal status, or -1. */
static int64_t end_time(const jobstate *js)
{
    size_t n = jobstate_nhistory(js);
    const js_transition *t = n ? jobstate_history(js, n - 1) : NULL;
    return t && js_status_terminal(t->status) ? t->time_ms : -1;
}

static int64_t duration(const jobstate *js, int64_t now_ms)
{
    int64_t end = end_time(js);
    return (end >= 0 ? end : now_ms) - start_time(js);
}

/* --- the version mpiflow reports where Flink reports its own --- */

json_t *rest_json_config(void)
{
    return json_pack("{s:i, s:s, s:i, s:s, s:s, s:{s:b, s:b, s:b, s:b}}", "refresh-interval",
                     3000, "timezone-name", "UTC", "timezone-offset", 0, "flink-version",
                     "mpiflow " MPIFLOW_VERSION, "flink-revision", "", "features", "web-submit",
                     0, "web-cancel", 1, "web-rescale", 0, "web-history", 0);
}

json_t *rest_json_overview(const jobstate *js, const rest_job_info *ji)
{
    int st = jobstate_status(js);
    int slots = jobstate_ntms(js) * ji->slots_per_tm;
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:s}", "taskmanagers",
                     jobstate_ntms(js), "slots-total", slots, "slots-available",
                     js_status_terminal(st) ? slots : 0, "jobs-running", !js_status_terminal(st),
                     "jobs-finished", st == JS_FINISHED, "jobs-cancelled", st == JS_CANCELED,
                     "jobs-failed", st == JS_FAILED, "flink-version", "mpiflow " MPIFLOW_VERSION,
                     "flink-commit", "");
}

json_t *rest_json_jobs(const jobstate *js)
{
    return json_pack("{s:[{s:s, s:s}]}", "jobs", "id", jobstate_job_id(js), "status",
                     js_status_name(jobstate_status(js)));
}

static int total_subtasks(const jobstate *js)
{
    int n = 0;
    for (int i = 0; i < jobstate_nvertices(js); i++)
        n += jobstate_vertex(js, i)->parallelism;
    return n;
}

static json_t *job_overview(const jobstate *js, int64_t now_ms)
{
    size_t nh = jobstate_nhistory(js);
    int st = jobstate_status(js);
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "jid", jobstate_job_id(js),
                     "name", jobstate_job_name(js), "state", js_status_name(st), "start-time",
                     (json_int_t)start_time(js), "end-time", (json_int_t)end_time(js),
                     "duration", (json_int_t)duration(js, now_ms), "last-modification",
                     (json_int_t)(nh ? jobstate_history(js, nh - 1)->time_ms : 0), "tasks",
                     state_counts(st, total_subtasks(js)));
}

json_t *rest_json_jobs_overview(const jobstate *js, int64_t now_ms)
{
    return json_pack("{s:[o]}", "jobs", job_overview(js, now_ms));
}

/* --- metrics --- */

static json_t *metric_value(const js_metric *m)
{
    return m->is_real ? json_real(m->d) : json_integer((json_int_t)m->i);
}

/* Flink's IOMetricsInfo fields mpiflow measures, complete once the job
 * ended (the final counts arrived). */
static void io_metrics(json_t *o, int64_t in, int64_t out, int64_t bytes_out, int complete)
{
    json_object_set_new(o, "read-records", json_integer(in));
    json_object_set_new(o, "read-records-complete", json_boolean(complete));
    json_object_set_new(o, "write-records", json_integer(out));
    json_object_set_new(o, "write-records-complete", json_boolean(complete));
    json_object_set_new(o, "write-bytes", json_integer(bytes_out));
    json_object_set_new(o, "write-bytes-complete", json_boolean(complete));
}

/* Aggregate of a rate or gauge over a vertex's subtasks: the sum, the
 * largest, or the smallest; absent when no subtask reported it. */
enum agg { AGG_SUM, AGG_MAX, AGG_MIN };

static void vertex_agg(json_t *o, const js_vertex *v, const char *name, int how)
{
    int found = 0, real = 0;
    double d = 0;
    for (int k = 0; k < v->parallelism; k++) {
        const js_metric *m = js_metrics_get(&v->subtasks[k].m, name);
        if (!m)
            continue;
        real |= m->is_real;
        if (!found)
            d = m->d;
        else if (how == AGG_SUM)
            d += m->d;
        else if ((how == AGG_MAX && m->d > d) || (how == AGG_MIN && m->d < d))
            d = m->d;
        found = 1;
    }
    if (found)
        json_object_set_new(o, name, real ? json_real(d) : json_integer((json_int_t)d));
}

static json_t *vertex_json(const jobstate *js, const rest_job_info *ji, int i, int64_t now_ms)
{
    const js_vertex *v = jobstate_vertex(js, i);
    char id[33];
    rest_json_vertex_id(v->uid, id);
    int st = jobstate_status(js);
    json_t *m = json_object();
    io_metrics(m, jobstate_vertex_sum(js, i, "numRecordsIn"),
               jobstate_vertex_sum(js, i, "numRecordsOut"),
               jobstate_vertex_sum(js, i, "numBytesOut"), js_status_terminal(st));
    vertex_agg(m, v, "numRecordsInPerSecond", AGG_SUM);
    vertex_agg(m, v, "numRecordsOutPerSecond", AGG_SUM);
    vertex_agg(m, v, "busyTimeMsPerSecond", AGG_MAX);
    vertex_agg(m, v, "backPressuredTimeMsPerSecond", AGG_MAX);
    vertex_agg(m, v, "idleTimeMsPerSecond", AGG_MIN);
    vertex_agg(m, v, "currentOutputWatermark", AGG_MIN);
    vertex_agg(m, v, "stateSizeBytes", AGG_SUM);
    vertex_agg(m, v, "numLateRecordsDropped", AGG_SUM);
    vertex_agg(m, v, "numRecordsSkipped", AGG_SUM);
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:I, s:I, s:I, s:o, s:o}", "id", id,
                     "name", v->uid, "uid", v->uid, "kind", v->kind, "parallelism",
                     v->parallelism, "maxParallelism", ji->max_parallelism, "status",
                     task_state(st), "start-time", (json_int_t)start_time(js), "end-time",
                     (json_int_t)end_time(js), "duration", (json_int_t)duration(js, now_ms),
                     "tasks", state_counts(st, v->parallelism), "metrics", m);
}

json_t *rest_json_job(const jobstate *js, const rest_job_info *ji, int64_t now_ms)
{
    json_t *o = job_overview(js, now_ms);
    json_object_del(o, "tasks");
    json_object_del(o, "last-modification");
    json_object_set_new(o, "isStoppable", json_boolean(ji->no_savepoint == NULL));
    json_object_set_new(o, "job-type", json_string(ji->batch_mode ? "BATCH" : "STREAMING"));
    json_object_set_new(o, "maxParallelism", json_integer(ji->max_parallelism));
    json_object_set_new(o, "now", json_integer(now_ms));
    json_t *ts = json_object();
    for (int s = JS_CREATED; s <= JS_FAILED; s++)
        json_object_set_new(ts, js_status_name(s), json_integer(0));
    for (size_t i = 0; i < jobstate_nhistory(js); i++) { /* the latest entry of each */
        const js_transition *t = jobstate_history(js, i);
        json_object_set_new(ts, js_status_name(t->status), json_integer(t->time_ms));
    }
    json_object_set_new(o, "timestamps", ts);
    json_t *vs = json_array();
    for (int i = 0; i < jobstate_nvertices(js); i++)
        json_array_append_new(vs, vertex_json(js, ji, i, now_ms));
    json_object_set_new(o, "vertices", vs);
    json_object_set_new(o, "status-counts", state_counts(jobstate_status(js),
                                                         jobstate_nvertices(js)));
    json_object_set_new(o, "restarts", json_integer(jobstate_restarts(js)));
    return o;
}

static json_t *tm_id(int rank)
{
    char id[32];
    snprintf(id, sizeof id, "tm-%d", rank);
    return json_string(id);
}

json_t *rest_json_vertex(const jobstate *js, const rest_job_info *ji, int vi, int64_t now_ms)
{
    const js_vertex *v = jobstate_vertex(js, vi);
    if (!v)
        return NULL;
    char id[33];
    rest_json_vertex_id(v->uid, id);
    int st = jobstate_status(js);
    json_t *subs = json_array();
    for (int k = 0; k < v->parallelism; k++) {
        const js_subtask *s = &v->subtasks[k];
        const js_tm *tm = jobstate_tm(js, s->rank);
        json_t *m = json_object();
        const js_metric *in = js_metrics_get(&s->m, "numRecordsIn");
        const js_metric *out = js_metrics_get(&s->m, "numRecordsOut");
        const js_metric *bo = js_metrics_get(&s->m, "numBytesOut");
        io_metrics(m, in ? in->i : 0, out ? out->i : 0, bo ? bo->i : 0, js_status_terminal(st));
        for (size_t i = 0; i < s->m.n; i++) /* every metric by Flink's name */
            json_object_set_new(m, s->m.v[i].name, metric_value(&s->m.v[i]));
        json_array_append_new(
            subs, json_pack("{s:i, s:s, s:i, s:s?, s:o, s:i, s:I, s:I, s:I, s:I, s:o}", "subtask",
                            s->index, "status", task_state(st), "attempt",
                            jobstate_restarts(js), "endpoint", tm ? tm->host : NULL,
                            "taskmanager-id", tm_id(s->rank), "rank", s->rank, "start-time",
                            (json_int_t)start_time(js), "end-time", (json_int_t)end_time(js),
                            "duration", (json_int_t)duration(js, now_ms), "metrics-updated",
                            (json_int_t)s->updated_ms, "metrics", m));
    }
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:I, s:o}", "id", id, "name", v->uid, "kind",
                     v->kind, "parallelism", v->parallelism, "maxParallelism",
                     ji->max_parallelism, "now", (json_int_t)now_ms, "subtasks", subs);
}

json_t *rest_json_watermarks(const jobstate *js, int vi)
{
    const js_vertex *v = jobstate_vertex(js, vi);
    if (!v)
        return NULL;
    json_t *a = json_array();
    static const char *const names[] = {"currentInputWatermark", "currentOutputWatermark"};
    for (int k = 0; k < v->parallelism; k++)
        for (int n = 0; n < 2; n++) {
            const js_metric *m = js_metrics_get(&v->subtasks[k].m, names[n]);
            if (!m)
                continue;
            char id[80], val[32];
            snprintf(id, sizeof id, "%d.%s", k, names[n]);
            snprintf(val, sizeof val, "%lld", (long long)m->i);
            json_array_append_new(a, json_pack("{s:s, s:s}", "id", id, "value", val));
        }
    return a;
}

/* --- checkpoints --- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Flink's StatsSummaryDto over v[0..n): min, max, avg, quantiles by
 * nearest rank; zeros when n is 0. Sorts v. */
static json_t *stats_summary(int64_t *v, size_t n)
{
    const double q[] = {0.5, 0.9, 0.95, 0.99, 0.999};
    const char *qn[] = {"p50", "p90", "p95", "p99", "p999"};
    json_t *o = json_object();
    int64_t sum = 0;
    if (n)
        qsort(v, n, sizeof *v, cmp_i64);
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    json_object_set_new(o, "min", json_integer(n ? v[0] : 0));
    json_object_set_new(o, "max", json_integer(n ? v[n - 1] : 0));
    json_object_set_new(o, "avg", json_integer(n ? sum / (int64_t)n : 0));
    for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
        size_t r = (size_t)(q[k] * (double)n + 0.999999); /* ceil(q n), 1-based */
        json_object_set_new(o, qn[k], n ? json_real((double)v[(r ? r : 1) - 1]) : json_real(0));
    }
    return o;
}

static json_t *ckpt_json(const jobstate *js, const js_checkpoint *c)
{
    static const char *const status[] = {"IN_PROGRESS", "COMPLETED", "FAILED"};
    static const char *const cls[] = {".PendingCheckpointStatistics",
                                      ".CompletedCheckpointStatistics",
                                      ".FailedCheckpointStatistics"};
    int nsub = total_subtasks(js);
    int st = c->status >= 0 && c->status <= JS_CK_FAILED ? c->status : JS_CK_IN_PROGRESS;
    int64_t size = c->size_bytes > 0 ? c->size_bytes : 0;
    int64_t end = c->duration_ms >= 0 ? c->trigger_ms + c->duration_ms : -1;
    json_t *o = json_pack(
        "{s:s, s:I, s:s, s:b, s:s?, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:s, s:{}}",
        "className", cls[st], "id", (json_int_t)c->id, "status", status[st], "is_savepoint",
        c->savepoint, "savepointFormat", c->savepoint ? "CANONICAL" : NULL, "trigger_timestamp",
        (json_int_t)c->trigger_ms, "latest_ack_timestamp",
        (json_int_t)(st == JS_CK_COMPLETED ? end : -1), "checkpointed_size", (json_int_t)size,
        "state_size", (json_int_t)size, "end_to_end_duration",
        (json_int_t)(c->duration_ms >= 0 ? c->duration_ms : 0), "alignment_buffered", 0,
        "processed_data", 0, "persisted_data", 0, "num_subtasks", nsub,
        "num_acknowledged_subtasks", st == JS_CK_COMPLETED ? nsub : 0, "checkpoint_type",
        c->savepoint ? "SAVEPOINT" : "CHECKPOINT", "tasks");
    if (c->alignment_us >= 0) /* mpiflow: the longest barrier alignment of a subtask */
        json_object_set_new(o, "alignment_duration_us", json_integer(c->alignment_us));
    if (st == JS_CK_COMPLETED) {
        json_object_set_new(o, "external_path", c->path ? json_string(c->path) : json_null());
        json_object_set_new(o, "discarded", json_false());
    } else if (st == JS_CK_FAILED) {
        json_object_set_new(o, "failure_timestamp", json_integer(end));
        json_object_set_new(o, "failure_message",
                            c->failure ? json_string(c->failure) : json_null());
    }
    return o;
}

json_t *rest_json_checkpoints(const jobstate *js)
{
    int64_t completed, savepoints, failed, in_progress, restores;
    jobstate_ckpt_counts(js, &completed, &savepoints, &failed, &in_progress);
    const js_restore *rs = jobstate_last_restore(js, &restores);
    size_t n = jobstate_ncheckpoints(js);
    int64_t *size = calloc(n + 1, sizeof *size), *dur = calloc(n + 1, sizeof *dur);
    int64_t *align = calloc(n + 1, sizeof *align);
    size_t nc = 0, na = 0;
    const js_checkpoint *last_sp = NULL, *last_failed = NULL;
    json_t *hist = json_array();
    for (size_t i = n; i-- > 0;) { /* newest first, as Flink */
        const js_checkpoint *c = jobstate_checkpoint(js, i);
        json_array_append_new(hist, ckpt_json(js, c));
        if (c->status == JS_CK_COMPLETED) {
            size[nc] = c->size_bytes > 0 ? c->size_bytes : 0;
            dur[nc++] = c->duration_ms;
            if (c->alignment_us >= 0)
                align[na++] = c->alignment_us;
            if (c->savepoint && !last_sp)
                last_sp = c;
        } else if (c->status == JS_CK_FAILED && !last_failed) {
            last_failed = c;
        }
    }
    const js_checkpoint *last = jobstate_last_completed(js);
    json_t *restored = json_null();
    if (rs)
        restored = json_pack("{s:I, s:I, s:b, s:s}", "id", (json_int_t)rs->id,
                             "restore_timestamp", (json_int_t)rs->time_ms, "is_savepoint",
                             rs->savepoint, "external_path", rs->path);
    json_t *sizes = stats_summary(size, nc);
    json_t *o = json_pack(
        "{s:{s:I, s:I, s:I, s:I, s:I}, s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o}, "
        "s:{s:o, s:o, s:o, s:o}, s:o}",
        "counts", "restored", (json_int_t)restores, "total",
        (json_int_t)(completed + savepoints + failed + in_progress), "in_progress",
        (json_int_t)in_progress, "completed", (json_int_t)(completed + savepoints), "failed",
        (json_int_t)failed, "summary", "checkpointed_size", sizes, "state_size",
        json_deep_copy(sizes), "end_to_end_duration", stats_summary(dur, nc),
        "alignment_buffered", stats_summary(NULL, 0), "processed_data", stats_summary(NULL, 0),
        "persisted_data", stats_summary(NULL, 0), "alignment_duration_us",
        stats_summary(align, na), "latest", "completed",
        last ? ckpt_json(js, last) : json_null(), "savepoint",
        last_sp ? ckpt_json(js, last_sp) : json_null(), "failed",
        last_failed ? ckpt_json(js, last_failed) : json_null(), "restored", restored, "history",
        hist);
    /* mpiflow: savepoints are counted with the completed ones, as in
     * Flink; this says how many of them there were */
    json_object_set_new(json_object_get(o, "counts"), "savepoints", json_integer(savepoints));
    free(size);
    free(dur);
    free(align);
    return o;
}

json_t *rest_json_checkpoint_config(const rest_job_info *ji)
{
    const conf *c = ji->conf;
    int64_t interval = conf_duration_ns(c, CONF_EXECUTION_CHECKPOINTING_INTERVAL);
    if (interval <= 0)
        return NULL;
    const char *mode = conf_str(c, CONF_EXECUTION_CHECKPOINTING_MODE);
    int del = strcmp(conf_str(c, CONF_EXECUTION_CHECKPOINTING_EXTERNALIZED_CHECKPOINT_RETENTION),
                     "DELETE_ON_CANCELLATION") == 0;
    return json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:{s:b, s:b}, s:s, s:s, s:b, s:I, s:I, s:b, s:b, s:s, s:s, "
        "s:I}",
        "mode", strcmp(mode, "AT_LEAST_ONCE") == 0 ? "at_least_once" : "exactly_once",
        "interval", (json_int_t)(interval / 1000000), "timeout",
        (json_int_t)(conf_duration_ns(c, CONF_EXECUTION_CHECKPOINTING_TIMEOUT) / 1000000),
        "min_pause",
        (json_int_t)(conf_duration_ns(c, CONF_EXECUTION_CHECKPOINTING_MIN_PAUSE) / 1000000),
        "max_concurrent",
        (json_int_t)conf_int(c, CONF_EXECUTION_CHECKPOINTING_MAX_CONCURRENT_CHECKPOINTS),
        "externalization", "enabled", 1, "delete_on_cancellation", del, "state_backend",
        "hashmap", "checkpoint_storage", "hdf5", "unaligned_checkpoints", 0,
        "tolerable_failed_checkpoints",
        (json_int_t)conf_int(c, CONF_EXECUTION_CHECKPOINTING_TOLERABLE_FAILED_CHECKPOINTS),
        "aligned_checkpoint_timeout", (json_int_t)0, "checkpoints_after_tasks_finish", 0,
        "state_changelog_enabled", 0, "checkpoints_dir", conf_str(c, CONF_STATE_CHECKPOINTS_DIR),
        "savepoints_dir", conf_str(c, CONF_STATE_SAVEPOINTS_DIR), "num_retained",
        (json_int_t)conf_int(c, CONF_STATE_CHECKPOINTS_NUM_RETAINED));
}

/* --- exceptions --- */

static json_t *location(const jobstate *js, int rank)
{
    const js_tm *tm = jobstate_tm(js, rank);
    if (rank == 0)
        return json_string("jobmanager");
    return tm && tm->host ? json_string(tm->host) : json_null();
}

json_t *rest_json_exceptions(const jobstate *js)
{
    size_t n = jobstate_nexceptions(js);
    json_t *all = json_array(), *entries = json_array();
    for (size_t i = n; i-- > 0;) { /* newest first */
        const js_exception *x = jobstate_exception_at(js, i);
        json_t *task = x->uid ? json_string(x->uid) : json_null();
        json_array_append_new(
            all, json_pack("{s:s, s:O, s:o, s:I, s:o, s:i, s:i}", "exception", x->message, "task",
                           task, "location", location(js, x->rank), "timestamp",
                           (json_int_t)x->time_ms, "taskManagerId",
                           x->rank ? tm_id(x->rank) : json_null(), "rank", x->rank, "subtask",
                           x->subtask));
        json_array_append_new(
            entries,
            json_pack("{s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:{}, s:[], s:i}", "exceptionName",
                      "mpiflow.JobException", "stacktrace", x->message, "timestamp",
                      (json_int_t)x->time_ms, "taskName", task, "location",
                      location(js, x->rank), "endpoint", location(js, x->rank), "taskManagerId",
                      x->rank ? tm_id(x->rank) : json_null(), "failureLabels",
                      "concurrentExceptions", "subtask", x->subtask));
    }
    const js_exception *root = n ? jobstate_exception_at(js, n - 1) : NULL;
    return json_pack("{s:s?, s:I, s:o, s:b, s:{s:o, s:b}}", "root-exception",
                     root ? root->message : NULL, "timestamp",
                     root ? (json_int_t)root->time_ms : (json_int_t)0, "all-exceptions", all,
                     "truncated", 0, "exceptionHistory", "entries", entries, "truncated", 0);
}

/* --- TaskManagers --- */

json_t *rest_json_taskmanagers(const jobstate *js, const rest_job_info *ji, int64_t now_ms)
{
    json_t *a = json_array();
    int running = !js_status_terminal(jobstate_status(js));
    int64_t seg = conf_size(ji->conf, CONF_TASKMANAGER_MEMORY_SEGMENT_SIZE);
    for (int r = 1; r <= jobstate_ntms(js); r++) {
        const js_tm *tm = jobstate_tm(js, r);
        json_t *m = json_object();
        for (size_t i = 0; i < tm->m.n; i++)
            json_object_set_new(m, tm->m.v[i].name, metric_value(&tm->m.v[i]));
        const js_metric *rss = js_metrics_get(&tm->m, "peakRssKb");
        const js_metric *used = js_metrics_get(&tm->m, "usedMemorySegments");
        const js_metric *peak = js_metrics_get(&tm->m, "peakMemorySegments");
        json_t *mem = json_pack("{s:I, s:I, s:I, s:I}", "segmentSize", (json_int_t)seg,
                                "usedSegments", (json_int_t)(used ? used->i : 0),
                                "peakSegments", (json_int_t)(peak ? peak->i : 0),
                                "peakRssBytes", (json_int_t)(rss ? rss->i * 1024 : 0));
        char path[64];
        snprintf(path, sizeof path, "mpi://rank/%d", r);
        json_array_append_new(
            a, json_pack("{s:o, s:s, s:i, s:s?, s:s?, s:I, s:I, s:i, s:i, s:o, s:o, s:I}", "id",
                         tm_id(r), "path", path, "rank", r, "host", tm->host, "binding",
                         tm->binding, "timeSinceLastHeartbeat",
                         (json_int_t)tm->last_heartbeat_ms, "lastHeartbeatAgeMs",
                         (json_int_t)(tm->last_heartbeat_ms ? now_ms - tm->last_heartbeat_ms
                                                            : -1),
                         "slotsNumber", ji->slots_per_tm, "freeSlots",
                         running ? 0 : ji->slots_per_tm, "memory", mem, "metrics", m,
                         "metricsUpdated", (json_int_t)tm->updated_ms));
    }
    return json_pack("{s:o}", "taskmanagers", a);
}
