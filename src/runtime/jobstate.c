/* The job-state model (runtime layer): the JobManager's view of the job,
 * fed by its control loop, read by the summary, the status line and the
 * REST API. */
#include "runtime/jobstate.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "record/batch.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "util/strutil.h"

struct jobstate {
    pthread_mutex_t mu; /* recursive: the writers, and readers on other threads */
    char jid[33];
    const plan *plan;
    int status;
    js_transition *hist;
    size_t nhist, caphist;
    int restarts;
    int nv;
    js_vertex *v;
    int ntms;
    js_tm *tms; /* [ntms + 1], by rank */
    js_checkpoint ck[JOBSTATE_CKPT_HISTORY]; /* ring: the latest ones */
    size_t nck;  /* ever recorded */
    int64_t ck_completed, ck_savepoints, ck_failed;
    int have_last;
    js_checkpoint last; /* the newest completed (copy; path owned) */
    js_exception *exc;
    size_t nexc, capexc;
    histo h[JS_H_COUNT];
    int event_time; /* some source has a watermark strategy */
    int64_t status_interval_ns, next_status_ns;
    int status_file_only; /* jobstate_status_to_file */
    int64_t start_ms; /* when the job last went RUNNING */
    js_restore restore; /* the latest; restores counts them */
    int64_t restores;
};

#define LOCK(js) pthread_mutex_lock(&(js)->mu)
#define UNLOCK(js) pthread_mutex_unlock(&(js)->mu)

void jobstate_lock(const jobstate *js)
{
    pthread_mutex_lock(&((jobstate *)js)->mu);
}

void jobstate_unlock(const jobstate *js)
{
    pthread_mutex_unlock(&((jobstate *)js)->mu);
}

/* 128 random bits as 32 hex digits; the clock and pid when the kernel
 * has no entropy to give (ids only need to differ between runs). */
static void make_job_id(char out[33])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, GRND_NONBLOCK) != (ssize_t)sizeof b) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        uint64_t y = ((uint64_t)getpid() << 32) ^ (uint64_t)clock();
        for (int i = 0; i < 8; i++) {
            b[i] = (unsigned char)(x >> (8 * i));
            b[8 + i] = (unsigned char)(y >> (8 * i));
        }
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static const char *const status_names[] = {"CREATED",   "RUNNING",  "FAILING",  "RESTARTING",
                                           "CANCELLING", "CANCELED", "FINISHED", "FAILED"};

const char *js_status_name(int status)
{
    return status >= 0 && status <= JS_FAILED ? status_names[status] : "?";
}

int js_status_terminal(int status)
{
    return status == JS_FINISHED || status == JS_CANCELED || status == JS_FAILED;
}

/* --- metric tables --- */

const js_metric *js_metrics_get(const js_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].name, name) == 0)
            return &m->v[i];
    return NULL;
}

static js_metric *metric_slot(js_metrics *m, const char *name, size_t len)
{
    if (len >= sizeof m->v[0].name)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (strncmp(m->v[i].name, name, len) == 0 && !m->v[i].name[len])
            return &m->v[i];
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        m->v = xrealloc(m->v, m->cap * sizeof *m->v);
    }
    js_metric *x = &m->v[m->n++];
    memset(x, 0, sizeof *x);
    memcpy(x->name, name, len);
    return x;
}

static void metric_set_i64(js_metrics *m, const char *name, int64_t v)
{
    js_metric *x = metric_slot(m, name, strlen(name));
    if (x) {
        x->is_real = 0;
        x->i = v;
        x->d = (double)v;
    }
}

/* Take "name=value name=value ..." up to the end of the line. */
static void metrics_parse(js_metrics *m, const char *p)
{
    while (*p && *p != '\n') {
        while (*p == ' ')
            p++;
        const char *name = p;
        while (*p && *p != '=' && *p != ' ' && *p != '\n')
            p++;
        if (*p != '=') {
            continue;
        }
        size_t len = (size_t)(p - name);
        const char *val = ++p;
        while (*p && *p != ' ' && *p != '\n')
            p++;
        char num[64];
        size_t vl = (size_t)(p - val);
        if (!len || !vl || vl >= sizeof num)
            continue;
        memcpy(num, val, vl);
        num[vl] = 0;
        char *end;
        int real = strpbrk(num, ".eEn") != NULL; /* "nan", "inf" too */
        js_metric x = {0};
        if (real) {
            x.d = strtod(num, &end);
            x.i = (int64_t)x.d;
        } else {
            x.i = strtoll(num, &end, 10);
            x.d = (double)x.i;
        }
        if (*end)
            continue;
        x.is_real = real;
        js_metric *slot = metric_slot(m, name, len);
        if (!slot)
            continue;
        memcpy(x.name, slot->name, sizeof x.name);
        *slot = x;
    }
}

static void metrics_fini(js_metrics *m)
{
    free(m->v);
    memset(m, 0, sizeof *m);
}

/* --- life --- */

jobstate *jobstate_new(const plan *p, int ntms, const conf *c, int64_t now_ms)
{
    jobstate *js = xcalloc(1, sizeof *js);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&js->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    make_job_id(js->jid);
    js->plan = p;
    js->status = -1;
    const job *j = p->job;
    js->nv = j->nops;
    js->v = xcalloc((size_t)j->nops + 1, sizeof *js->v);
    for (int i = 0; i < j->nops; i++) {
        const op_spec *s = &j->ops[i];
        js_vertex *v = &js->v[i];
        v->index = i;
        v->uid = s->uid;
        v->kind = s->kind->name;
        v->role = s->kind->role;
        v->parallelism = s->parallelism;
        v->subtasks = xcalloc((size_t)s->parallelism + 1, sizeof *v->subtasks);
        for (int k = 0; k < s->parallelism; k++) {
            v->subtasks[k].index = k;
            v->subtasks[k].rank = plan_rank_of(p, k);
        }
        if (s->kind->role == OP_SOURCE && s->wm_field >= 0)
            js->event_time = 1;
    }
    js->ntms = ntms;
    js->tms = xcalloc((size_t)ntms + 2, sizeof *js->tms);
    for (int r = 0; r <= ntms; r++)
        js->tms[r].rank = r;
    js->status_interval_ns = c ? conf_duration_ns(c, CONF_METRICS_STATUS_INTERVAL) : 0;
    jobstate_set_status(js, JS_CREATED, now_ms);
    return js;
}

static void ckpt_free(js_checkpoint *c)
{
    free(c->path);
    free(c->failure);
    memset(c, 0, sizeof *c);
}

void jobstate_destroy(jobstate *js)
{
    if (!js)
        return;
    for (int i = 0; i < js->nv; i++) {
        for (int k = 0; k < js->v[i].parallelism; k++)
            metrics_fini(&js->v[i].subtasks[k].m);
        free(js->v[i].subtasks);
    }
    free(js->v);
    for (int r = 0; r <= js->ntms; r++) {
        free(js->tms[r].host);
        free(js->tms[r].binding);
        free(js->tms[r].summary);
        metrics_fini(&js->tms[r].m);
        for (int d = 0; js->tms[r].peers && d <= js->ntms; d++)
            metrics_fini(&js->tms[r].peers[d]);
        free(js->tms[r].peers);
    }
    free(js->tms);
    for (size_t i = 0; i < JOBSTATE_CKPT_HISTORY; i++)
        ckpt_free(&js->ck[i]);
    ckpt_free(&js->last);
    for (size_t i = 0; i < js->nexc; i++) {
        free(js->exc[i].uid);
        free(js->exc[i].message);
    }
    free(js->exc);
    free(js->hist);
    free(js->restore.path);
    pthread_mutex_destroy(&js->mu);
    free(js);
}

static js_checkpoint *ckpt_find(jobstate *js, int64_t id)
{
    size_t n = js->nck < JOBSTATE_CKPT_HISTORY ? js->nck : JOBSTATE_CKPT_HISTORY;
    for (size_t i = 0; i < n; i++) {
        js_checkpoint *c = &js->ck[(js->nck - 1 - i) % JOBSTATE_CKPT_HISTORY];
        if (c->id == id)
            return c;
    }
    return NULL;
}

/* A checkpoint in progress that will not complete. */
static void ckpt_abandon(jobstate *js, int64_t now_ms, const char *why)
{
    size_t n = js->nck < JOBSTATE_CKPT_HISTORY ? js->nck : JOBSTATE_CKPT_HISTORY;
    for (size_t i = 0; i < n; i++) {
        js_checkpoint *c = &js->ck[(js->nck - 1 - i) % JOBSTATE_CKPT_HISTORY];
        if (c->status == JS_CK_IN_PROGRESS)
            jobstate_ckpt_failed(js, c->id, now_ms, why);
    }
}

static void set_status_locked(jobstate *js, int status, int64_t now_ms)
{
    if (status == js->status)
        return;
    if (js->nhist == js->caphist) {
        js->caphist = js->caphist ? 2 * js->caphist : 8;
        js->hist = xrealloc(js->hist, js->caphist * sizeof *js->hist);
    }
    js->hist[js->nhist++] = (js_transition){status, now_ms};
    js->status = status;
    if (status == JS_RESTARTING)
        js->restarts++;
    if (status == JS_RUNNING)
        js->start_ms = now_ms;
    if (js_status_terminal(status)) {
        char why[64];
        snprintf(why, sizeof why, "abandoned: the job is %s", js_status_name(status));
        ckpt_abandon(js, now_ms, why);
    }
}

void jobstate_set_status(jobstate *js, int status, int64_t now_ms)
{
    LOCK(js);
    set_status_locked(js, status, now_ms);
    UNLOCK(js);
}

void jobstate_tm_seen(jobstate *js, int rank, int64_t now_ms)
{
    if (!js || rank < 1 || rank > js->ntms)
        return;
    LOCK(js);
    js->tms[rank].last_heartbeat_ms = now_ms;
    UNLOCK(js);
}

static js_subtask *subtask_at(jobstate *js, long op, long sub)
{
    if (op < 0 || op >= js->nv || sub < 0 || sub >= js->v[op].parallelism)
        return NULL;
    return &js->v[op].subtasks[sub];
}

/* Replace *dst with the rest of the line at p. */
static void set_line(char **dst, const char *p)
{
    const char *nl = strchr(p, '\n');
    free(*dst);
    *dst = xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));
}

static int on_metrics_locked(jobstate *js, int rank, const char *text, int64_t now_ms)
{
    int version = 0, used = 0;
    if (rank < 1 || rank > js->ntms || sscanf(text, "mpiflow-metrics %d%n", &version, &used) < 1 ||
        version != 1)
        return -1;
    js_tm *tm = &js->tms[rank];
    tm->updated_ms = now_ms;
    for (const char *line = strchr(text, '\n'); line && *++line; line = strchr(line, '\n')) {
        if (strncmp(line, "op ", 3) == 0) {
            char *end;
            long op = strtol(line + 3, &end, 10);
            long sub = strtol(end, &end, 10);
            js_subtask *st = subtask_at(js, op, sub);
            if (st) {
                metrics_parse(&st->m, end);
                st->updated_ms = now_ms;
            }
        } else if (strncmp(line, "tm ", 3) == 0) {
            metrics_parse(&tm->m, line + 3);
        } else if (strncmp(line, "peer ", 5) == 0) { /* a row of the network matrix */
            char *end;
            long dst = strtol(line + 5, &end, 10);
            if (dst >= 1 && dst <= js->ntms) {
                if (!tm->peers)
                    tm->peers = xcalloc((size_t)js->ntms + 1, sizeof *tm->peers);
                metrics_parse(&tm->peers[dst], end);
            }
        } else if (strncmp(line, "host ", 5) == 0) {
            set_line(&tm->host, line + 5);
        } else if (strncmp(line, "binding ", 8) == 0) {
            set_line(&tm->binding, line + 8);
        }
    }
    return 0;
}

int jobstate_on_metrics(jobstate *js, int rank, const char *text, int64_t now_ms)
{
    LOCK(js);
    int rc = on_metrics_locked(js, rank, text, now_ms);
    UNLOCK(js);
    return rc;
}

static void on_final_locked(jobstate *js, int rank, const char *text, int64_t now_ms)
{
    for (const char *line = text; line && *line;) {
        int op, sub;
        unsigned long long in, out, skipped, late;
        size_t sb, peak;
        js_subtask *st;
        if (sscanf(line, "op %d %d %llu %llu %llu %zu %zu %llu", &op, &sub, &in, &out, &skipped,
                   &sb, &peak, &late) == 8 && (st = subtask_at(js, op, sub))) {
            metric_set_i64(&st->m, "numRecordsIn", (int64_t)in);
            metric_set_i64(&st->m, "numRecordsOut", (int64_t)out);
            metric_set_i64(&st->m, "numRecordsSkipped", (int64_t)skipped);
            metric_set_i64(&st->m, "stateSizeBytes", (int64_t)sb);
            metric_set_i64(&st->m, "statePeakBytes", (int64_t)peak);
            metric_set_i64(&st->m, "numLateRecordsDropped", (int64_t)late);
            st->updated_ms = now_ms;
        } else if (strncmp(line, "latency ", 8) == 0) {
            histo_merge_text(&js->h[JS_H_LATENCY], line + 8);
        } else if (strncmp(line, "wmlatency ", 10) == 0) {
            histo_merge_text(&js->h[JS_H_WM_LATENCY], line + 10);
        } else if (strncmp(line, "alignment ", 10) == 0) {
            histo_merge_text(&js->h[JS_H_ALIGNMENT], line + 10);
        } else if (strncmp(line, "tm ", 3) == 0 && rank >= 1 && rank <= js->ntms) {
            /* "tm <rank> key=value ...": the summary prints what follows the rank */
            const char *rest = strchr(line + 3, ' ');
            js_tm *tm = &js->tms[rank];
            free(tm->summary);
            tm->summary = NULL;
            if (rest && rest[1] != '\n') {
                set_line(&tm->summary, rest + 1);
                metrics_parse(&tm->m, rest + 1);
            }
            tm->updated_ms = now_ms;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
}

void jobstate_on_final(jobstate *js, int rank, const char *text, int64_t now_ms)
{
    LOCK(js);
    on_final_locked(js, rank, text, now_ms);
    UNLOCK(js);
}

static void new_attempt_locked(jobstate *js, int64_t now_ms)
{
    for (int i = 0; i < js->nv; i++)
        for (int k = 0; k < js->v[i].parallelism; k++) {
            js->v[i].subtasks[k].m.n = 0;
            js->v[i].subtasks[k].updated_ms = 0;
        }
    for (int r = 1; r <= js->ntms; r++) /* the new data plane counts from 0 */
        for (int d = 0; js->tms[r].peers && d <= js->ntms; d++)
            js->tms[r].peers[d].n = 0;
    memset(js->h, 0, sizeof js->h);
    ckpt_abandon(js, now_ms, "abandoned: the job restarts");
}

void jobstate_new_attempt(jobstate *js, int64_t now_ms)
{
    LOCK(js);
    new_attempt_locked(js, now_ms);
    UNLOCK(js);
}

static void ckpt_triggered_locked(jobstate *js, int64_t id, int savepoint, int64_t trigger_ms)
{
    js_checkpoint *c = &js->ck[js->nck++ % JOBSTATE_CKPT_HISTORY];
    ckpt_free(c);
    *c = (js_checkpoint){.id = id, .status = JS_CK_IN_PROGRESS, .savepoint = savepoint,
                         .trigger_ms = trigger_ms, .duration_ms = -1, .size_bytes = -1,
                         .alignment_us = -1};
}

void jobstate_ckpt_triggered(jobstate *js, int64_t id, int savepoint, int64_t trigger_ms)
{
    LOCK(js);
    ckpt_triggered_locked(js, id, savepoint, trigger_ms);
    UNLOCK(js);
}

static void ckpt_completed_locked(jobstate *js, int64_t id, int64_t now_ms, const char *path,
                             int64_t size_bytes, int64_t alignment_us)
{
    js_checkpoint *c = ckpt_find(js, id);
    if (!c || c->status != JS_CK_IN_PROGRESS)
        return;
    c->status = JS_CK_COMPLETED;
    c->duration_ms = now_ms - c->trigger_ms;
    c->size_bytes = size_bytes;
    c->alignment_us = alignment_us;
    c->path = path ? xstrdup(path) : NULL;
    if (c->savepoint)
        js->ck_savepoints++;
    else
        js->ck_completed++;
    ckpt_free(&js->last);
    js->last = *c;
    js->last.path = c->path ? xstrdup(c->path) : NULL;
    js->last.failure = NULL;
    js->have_last = 1;
}

void jobstate_ckpt_completed(jobstate *js, int64_t id, int64_t now_ms, const char *path,
                             int64_t size_bytes, int64_t alignment_us)
{
    LOCK(js);
    ckpt_completed_locked(js, id, now_ms, path, size_bytes, alignment_us);
    UNLOCK(js);
}

static void ckpt_failed_locked(jobstate *js, int64_t id, int64_t now_ms, const char *why)
{
    js_checkpoint *c = ckpt_find(js, id);
    if (!c || c->status != JS_CK_IN_PROGRESS)
        return;
    c->status = JS_CK_FAILED;
    c->duration_ms = now_ms - c->trigger_ms;
    c->failure = xstrdup(why ? why : "");
    js->ck_failed++;
}

void jobstate_ckpt_failed(jobstate *js, int64_t id, int64_t now_ms, const char *why)
{
    LOCK(js);
    ckpt_failed_locked(js, id, now_ms, why);
    UNLOCK(js);
}

void jobstate_restored(jobstate *js, int64_t id, int savepoint, const char *path, int64_t now_ms)
{
    char *copy = xstrdup(path ? path : ""); /* path may be the old restore's */
    LOCK(js);
    free(js->restore.path);
    js->restore = (js_restore){id, savepoint, now_ms, copy};
    js->restores++;
    UNLOCK(js);
}

static void exception_locked(jobstate *js, int rank, const char *message, int64_t now_ms)
{
    if (js->nexc == js->capexc) {
        js->capexc = js->capexc ? 2 * js->capexc : 4;
        js->exc = xrealloc(js->exc, js->capexc * sizeof *js->exc);
    }
    js_exception *x = &js->exc[js->nexc++];
    memset(x, 0, sizeof *x);
    x->time_ms = now_ms;
    x->rank = rank;
    x->subtask = -1;
    x->message = xstrdup(message ? message : "");
    const char *op = strstr(x->message, "operator '");
    if (op) {
        const char *q = strchr(op + 10, '\'');
        if (q)
            x->uid = xstrndup(op + 10, (size_t)(q - op - 10));
    }
    const char *st = strstr(x->message, "subtask ");
    int i, n;
    if (st && sscanf(st, "subtask %d/%d", &i, &n) == 2 && i >= 1 && i <= n)
        x->subtask = i - 1;
}

void jobstate_exception(jobstate *js, int rank, const char *message, int64_t now_ms)
{
    LOCK(js);
    exception_locked(js, rank, message, now_ms);
    UNLOCK(js);
}

void jobstate_tick(jobstate *js, int64_t mono_ns, int64_t now_ms)
{
    if (js->status_interval_ns <= 0 || js->status != JS_RUNNING)
        return;
    if (!js->next_status_ns) {
        js->next_status_ns = mono_ns + js->status_interval_ns;
        return;
    }
    if (mono_ns < js->next_status_ns)
        return;
    js->next_status_ns = mono_ns + js->status_interval_ns;
    char line[1024];
    jobstate_status_line(js, now_ms, line, sizeof line);
    if (js->status_file_only)
        log_write_file(LOG_INFO, "status: %s", line);
    else
        log_info("status: %s", line);
}

void jobstate_status_to_file(jobstate *js, int on)
{
    js->status_file_only = on;
}

/* --- reading --- */

const char *jobstate_job_id(const jobstate *js)
{
    return js->jid;
}

const js_restore *jobstate_last_restore(const jobstate *js, int64_t *restores)
{
    if (restores)
        *restores = js->restores;
    return js->restores ? &js->restore : NULL;
}

const char *jobstate_job_name(const jobstate *js)
{
    return js->plan->job->name;
}

const plan *jobstate_plan(const jobstate *js)
{
    return js->plan;
}

int jobstate_status(const jobstate *js)
{
    return js->status;
}

size_t jobstate_nhistory(const jobstate *js)
{
    return js->nhist;
}

const js_transition *jobstate_history(const jobstate *js, size_t i)
{
    return i < js->nhist ? &js->hist[i] : NULL;
}

int jobstate_restarts(const jobstate *js)
{
    return js->restarts;
}

int jobstate_nvertices(const jobstate *js)
{
    return js->nv;
}

const js_vertex *jobstate_vertex(const jobstate *js, int i)
{
    return i >= 0 && i < js->nv ? &js->v[i] : NULL;
}

int64_t jobstate_vertex_sum(const jobstate *js, int i, const char *name)
{
    const js_vertex *v = jobstate_vertex(js, i);
    int64_t sum = 0;
    for (int k = 0; v && k < v->parallelism; k++) {
        const js_metric *m = js_metrics_get(&v->subtasks[k].m, name);
        if (m)
            sum += m->i;
    }
    return sum;
}

void jobstate_vertex_totals(const jobstate *js, int i, js_totals *t)
{
    t->in = (uint64_t)jobstate_vertex_sum(js, i, "numRecordsIn");
    t->out = (uint64_t)jobstate_vertex_sum(js, i, "numRecordsOut");
    t->skipped = (uint64_t)jobstate_vertex_sum(js, i, "numRecordsSkipped");
    t->state_bytes = (uint64_t)jobstate_vertex_sum(js, i, "stateSizeBytes");
    t->state_peak = (uint64_t)jobstate_vertex_sum(js, i, "statePeakBytes");
    t->late = (uint64_t)jobstate_vertex_sum(js, i, "numLateRecordsDropped");
}

const js_metrics *jobstate_peer(const jobstate *js, int src, int dst)
{
    if (src < 1 || src > js->ntms || dst < 1 || dst > js->ntms || !js->tms[src].peers)
        return NULL;
    const js_metrics *m = &js->tms[src].peers[dst];
    return m->n ? m : NULL;
}

int jobstate_ntms(const jobstate *js)
{
    return js->ntms;
}

const js_tm *jobstate_tm(const jobstate *js, int rank)
{
    return rank >= 1 && rank <= js->ntms ? &js->tms[rank] : NULL;
}

size_t jobstate_ncheckpoints(const jobstate *js)
{
    return js->nck < JOBSTATE_CKPT_HISTORY ? js->nck : JOBSTATE_CKPT_HISTORY;
}

const js_checkpoint *jobstate_checkpoint(const jobstate *js, size_t i)
{
    size_t n = jobstate_ncheckpoints(js);
    if (i >= n)
        return NULL;
    return &js->ck[(js->nck - n + i) % JOBSTATE_CKPT_HISTORY];
}

const js_checkpoint *jobstate_last_completed(const jobstate *js)
{
    return js->have_last ? &js->last : NULL;
}

void jobstate_ckpt_counts(const jobstate *js, int64_t *completed, int64_t *savepoints,
                          int64_t *failed, int64_t *in_progress)
{
    int64_t ip = 0;
    for (size_t i = 0; i < jobstate_ncheckpoints(js); i++)
        ip += jobstate_checkpoint(js, i)->status == JS_CK_IN_PROGRESS;
    if (completed)
        *completed = js->ck_completed;
    if (savepoints)
        *savepoints = js->ck_savepoints;
    if (failed)
        *failed = js->ck_failed;
    if (in_progress)
        *in_progress = ip;
}

size_t jobstate_nexceptions(const jobstate *js)
{
    return js->nexc;
}

const js_exception *jobstate_exception_at(const jobstate *js, size_t i)
{
    return i < js->nexc ? &js->exc[i] : NULL;
}

const histo *jobstate_histo(const jobstate *js, int which)
{
    return which >= 0 && which < JS_H_COUNT ? &js->h[which] : NULL;
}

/* Sum of a rate over the subtasks of the vertices with this role. */
static double rate_sum(const jobstate *js, int role, const char *name, int *found)
{
    double sum = 0;
    for (int i = 0; i < js->nv; i++) {
        if (js->v[i].role != role)
            continue;
        for (int k = 0; k < js->v[i].parallelism; k++) {
            const js_metric *m = js_metrics_get(&js->v[i].subtasks[k].m, name);
            if (m) {
                sum += m->d;
                *found = 1;
            }
        }
    }
    return sum;
}

/* The smallest watermark of the subtasks of vertices with this role (none
 * yet and the end of time left out): 1 and *wm, or 0. */
static int min_watermark(const jobstate *js, int role, const char *name, int64_t *wm)
{
    int found = 0;
    for (int i = 0; i < js->nv; i++) {
        if (js->v[i].role != role)
            continue;
        for (int k = 0; k < js->v[i].parallelism; k++) {
            const js_metric *m = js_metrics_get(&js->v[i].subtasks[k].m, name);
            if (!m || m->is_real || m->i == WM_MIN || m->i == WM_MAX)
                continue;
            if (!found || m->i < *wm)
                *wm = m->i;
            found = 1;
        }
    }
    return found;
}

static int64_t metric_i(const js_subtask *s, const char *name)
{
    const js_metric *m = js_metrics_get(&s->m, name);
    return m ? m->i : -1;
}

int jobstate_progress(const jobstate *js, double *fraction, double *eta_s)
{
    int any = 0;
    *fraction = 1;
    *eta_s = 0;
    for (int i = 0; i < js->nv; i++) {
        const js_vertex *v = &js->v[i];
        if (v->role != OP_SOURCE)
            continue;
        if (!js->plan->job->ops[v->index].bounded)
            return 0;
        /* in records (generators) or bytes (files), over the subtasks */
        double done = 0, left = 0, rate = 0, bytes = 0, recs = 0;
        for (int k = 0; k < v->parallelism; k++) {
            const js_subtask *s = &v->subtasks[k];
            int64_t pr = metric_i(s, "pendingRecords"), pb = metric_i(s, "pendingBytes");
            int64_t out = metric_i(s, "numRecordsOut"), bin = metric_i(s, "numBytesIn");
            const js_metric *r = js_metrics_get(&s->m, "numRecordsOutPerSecond");
            if (pr >= 0 && out >= 0) {
                done += (double)out;
                left += (double)pr;
            } else if (pb >= 0 && bin >= 0) {
                done += (double)bin;
                left += (double)pb;
                bytes += (double)bin;
                recs += out > 0 ? (double)out : 0;
            } else {
                return 0;
            }
            rate += r ? r->d : 0;
        }
        if (bytes > 0) /* bytes per second from records per second */
            rate = recs > 0 ? rate * bytes / recs : 0;
        double f = done + left > 0 ? done / (done + left) : 1;
        double eta = left <= 0 ? 0 : rate > 0 ? left / rate : -1;
        if (f < *fraction)
            *fraction = f;
        if (*eta_s >= 0 && (eta < 0 || eta > *eta_s))
            *eta_s = eta;
        any = 1;
    }
    return any;
}

void jobstate_status_info(const jobstate *js, int64_t now_ms, js_status_info *o)
{
    memset(o, 0, sizeof *o);
    o->elapsed_s = js->start_ms ? (double)(now_ms - js->start_ms) / 1e3 : 0.0;
    int fin = 0, fout = 0;
    o->in_per_s = rate_sum(js, OP_SOURCE, "numRecordsOutPerSecond", &fin);
    o->out_per_s = rate_sum(js, OP_SINK, "numRecordsInPerSecond", &fout);
    o->has_rates = fin || fout;
    for (int i = 0; i < js->nv; i++)
        if (js->v[i].role == OP_SOURCE)
            o->records_in += jobstate_vertex_sum(js, i, "numRecordsOut");
    int64_t wm;
    if (js->event_time && (min_watermark(js, OP_SINK, "currentOutputWatermark", &wm) ||
                           min_watermark(js, OP_SOURCE, "currentOutputWatermark", &wm))) {
        o->has_wm_lag = 1;
        o->wm_lag_ms = now_ms - wm;
    }
    o->backpressured = -1;
    for (int i = 0; i < js->nv; i++)
        for (int k = 0; k < js->v[i].parallelism; k++) {
            const js_metric *m =
                js_metrics_get(&js->v[i].subtasks[k].m, "backPressuredTimeMsPerSecond");
            if (m && m->d > o->backpressured) {
                o->backpressured = m->d;
                o->backpressured_uid = js->v[i].uid;
            }
        }
    o->last_checkpoint = jobstate_last_completed(js);
    o->has_progress = jobstate_progress(js, &o->progress, &o->eta_s);
}

int jobstate_status_line(const jobstate *js, int64_t now_ms, char *buf, size_t n)
{
    size_t at = 0;
#define PUT(...) at = str_appendf(buf, n, at, __VA_ARGS__)
    if (n)
        buf[0] = 0;
    js_status_info o;
    jobstate_status_info(js, now_ms, &o);
    PUT("job '%s' %s for %.1f s:", js->plan->job->name, js_status_name(js->status), o.elapsed_s);
    if (!o.has_rates) {
        PUT(" no metrics yet");
        return (int)at;
    }
    PUT(" records_in_per_s=%.0f records_out_per_s=%.0f records_in=%" PRId64, o.in_per_s,
        o.out_per_s, o.records_in);
    if (o.has_progress) {
        PUT(" progress_pct=%.1f", o.progress * 100);
        if (o.eta_s >= 0)
            PUT(" eta_s=%.0f", o.eta_s);
    }
    if (o.has_wm_lag)
        PUT(" wm_lag_ms=%" PRId64, o.wm_lag_ms);
    if (o.backpressured_uid)
        PUT(" backpressured_ms_per_s=%.0f (%s)", o.backpressured, o.backpressured_uid);
    const js_checkpoint *c = o.last_checkpoint;
    if (c)
        PUT(" last_checkpoint=%" PRId64 " age_s=%.1f duration_ms=%" PRId64 " size_bytes=%" PRId64
            " alignment_ms=%.1f", c->id, (double)(now_ms - c->trigger_ms - c->duration_ms) / 1e3,
            c->duration_ms, c->size_bytes, (double)c->alignment_us / 1e3);
#undef PUT
    return (int)at;
}
