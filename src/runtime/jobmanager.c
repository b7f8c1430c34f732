/* The JobManager: plans, deploys, tracks and finishes a job (runtime
 * layer). It waits with probe-and-sleep, never in a blocking receive, so
 * it does not take a core from the TaskManagers. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ckpt/ckpt.h"
#include "metrics/histo.h"
#include "net/control.h"
#include "net/world.h"
#include "runtime/runtime.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "util/clock.h"

typedef struct op_totals {
    uint64_t in, out, skipped, state_bytes, state_peak, late;
} op_totals;

/* The checkpoint coordinator's state (one checkpoint in flight). */
typedef struct jm_ckpt {
    int on;
    int64_t interval_ns, timeout_ns, min_pause_ns;
    int tolerable, failures, retain;
    const char *root;
    int64_t last_id, inflight, completed;
    int acks, any_finished;
    int64_t next_ns, start_ns, trigger_ms;
    char dir[4096];
    char *fail; /* set when too many checkpoints failed */
} jm_ckpt;

typedef struct jm_ctx {
    int stopping; /* CTL_STOP sent */
    jm_ckpt ck;
    conf *conf;
    plan plan;
    int ntms;
    int64_t max_sleep_ns;
    op_totals *ops;
    char **tm_lines; /* per TM: its metrics header line */
    histo lat, wm_lat; /* merged from the TMs' sinks */
    histo align;       /* checkpoint barrier alignment, all tasks */
} jm_ctx;

static void broadcast(jm_ctx *jm, int type);

/* Stop on a signal: the TMs end their sources; the job then finishes and
 * commits like a bounded one. */
static void request_stop(jm_ctx *jm, int rank)
{
    if (rank == 0)
        log_info("stopping job '%s' on signal %d: ending the sources, draining, committing",
                 jm->plan.job->name, runtime_stop_signal());
    else
        log_info("stopping job '%s' on a signal to rank %d: ending the sources, draining, "
                 "committing", jm->plan.job->name, rank);
    jm->stopping = 1;
    broadcast(jm, CTL_STOP);
}


static int64_t jm_now_ns(void)
{
    return (int64_t)(net_wtime() * 1e9);
}

static void ckpt_declined(jm_ctx *jm, const char *why)
{
    jm_ckpt *ck = &jm->ck;
    ck->failures++;
    log_warn("checkpoint %lld declined: %s (%d consecutive failure(s), %d tolerated)",
             (long long)ck->inflight, why, ck->failures, ck->tolerable);
    ck->inflight = 0;
    if (ck->failures > ck->tolerable && !ck->fail)
        ck->fail = xasprintf("checkpoint %lld failed and %d consecutive failure(s) exceed "
                             "execution.checkpointing.tolerable-failed-checkpoints (%d): %s",
                             (long long)ck->last_id, ck->failures, ck->tolerable, why);
}

static void ckpt_completed(jm_ctx *jm)
{
    jm_ckpt *ck = &jm->ck;
    const job *j = jm->plan.job;
    ckpt_meta m = {0};
    m.job = j->name;
    m.checkpoint_id = ck->inflight;
    m.timestamp_ms = ck->trigger_ms;
    m.max_parallelism = jm->plan.max_parallelism;
    m.ntms = jm->ntms;
    m.nops = j->nops;
    m.ops = xcalloc((size_t)j->nops + 1, sizeof *m.ops);
    char sch[4096];
    for (int i = 0; i < j->nops; i++) {
        schema_format(&j->ops[i].out_schema, sch, sizeof sch);
        m.ops[i].uid = j->ops[i].uid;
        m.ops[i].parallelism = j->ops[i].parallelism;
        m.ops[i].schema = xstrdup(sch);
        m.ops[i].kind = (char *)j->ops[i].kind->name;
    }
    mpf_err e = {0};
    int rc = ckpt_write_metadata(ck->dir, &m, &e);
    for (int i = 0; i < j->nops; i++)
        free(m.ops[i].schema);
    free(m.ops);
    if (rc) {
        ckpt_declined(jm, e.msg);
        return;
    }
    double ms = (double)(jm_now_ns() - ck->start_ns) / 1e6;
    log_info("checkpoint %lld completed in %.1f ms: %s", (long long)ck->inflight, ms, ck->dir);
    char msg[32];
    snprintf(msg, sizeof msg, "%lld", (long long)ck->inflight);
    for (int r = 1; r <= jm->ntms; r++)
        ctl_send(r, CTL_COMPLETE, msg, strlen(msg) + 1);
    ck->completed++;
    ck->failures = 0;
    ck->inflight = 0;
    if (ckpt_retain(ck->root, j->name, ck->retain, &e))
        log_warn("checkpoint retention: %s", e.msg);
    int64_t pause = jm_now_ns() + ck->min_pause_ns;
    if (ck->next_ns < pause)
        ck->next_ns = pause;
}

static void ckpt_on_ack(jm_ctx *jm, const char *payload)
{
    jm_ckpt *ck = &jm->ck;
    long long id = 0;
    int used = 0;
    if (sscanf(payload, "%lld%n", &id, &used) < 1 || id != ck->inflight || !ck->inflight)
        return; /* a late answer to a declined checkpoint */
    while (payload[used] == ' ')
        used++;
    if (payload[used]) {
        ckpt_declined(jm, payload + used);
        return;
    }
    if (++ck->acks == jm->ntms)
        ckpt_completed(jm);
}

/* Trigger and time out checkpoints while the job runs. */
static void ckpt_tick(jm_ctx *jm)
{
    jm_ckpt *ck = &jm->ck;
    if (!ck->on)
        return;
    int64_t now = jm_now_ns();
    if (ck->inflight) {
        if (now - ck->start_ns > ck->timeout_ns)
            ckpt_declined(jm, "timed out (execution.checkpointing.timeout)");
        return;
    }
    if (now < ck->next_ns || jm->stopping || ck->any_finished)
        return;
    mpf_err e = {0};
    if (ckpt_chk_dir(ck->dir, sizeof ck->dir, ck->root, jm->plan.job->name, ck->last_id + 1, &e)) {
        log_warn("%s", e.msg);
        return;
    }
    ck->inflight = ++ck->last_id;
    ck->acks = 0;
    ck->start_ns = now;
    ck->trigger_ms = clock_wall_ms();
    ck->next_ns = now + ck->interval_ns;
    char *msg = xasprintf("%lld %s", (long long)ck->inflight, ck->dir);
    for (int r = 1; r <= jm->ntms; r++)
        ctl_send(r, CTL_TRIGGER, msg, strlen(msg) + 1);
    free(msg);
}

/* Collect one message of `type` from every TM; FAILED messages meanwhile
 * are kept as errors. Returns the number of errors; messages with a
 * non-empty payload of `type` count as errors too when errors_in_payload. */
static int gather(jm_ctx *jm, int type, int errors_in_payload, char **first_error,
                  void (*on_msg)(jm_ctx *, int, const char *))
{
    int got = 0, errors = 0;
    int *seen = xcalloc((size_t)jm->ntms + 2, sizeof *seen);
    int64_t backoff = 0;
    while (got < jm->ntms) {
        int src, t;
        char *payload;
        size_t len;
        int stop_now = type == CTL_FINISHED && !jm->stopping && runtime_stop_signal();
        if (type == CTL_FINISHED) {
            ckpt_tick(jm);
            if (jm->ck.fail) {
                errors++;
                log_error("%s", jm->ck.fail);
                if (!*first_error)
                    *first_error = xstrdup(jm->ck.fail);
                break;
            }
        }
        if (!ctl_poll(&src, &t, &payload, &len)) {
            if (stop_now)
                request_stop(jm, 0);
            else
                idle_backoff(&backoff, jm->max_sleep_ns);
            continue;
        }
        backoff = 0;
        if (t == CTL_ACK) {
            ckpt_on_ack(jm, payload);
            free(payload);
            continue;
        }
        if (t == CTL_FINISHED && jm->ck.on && !jm->ck.any_finished) {
            /* no checkpoints once tasks finish: the end of the job commits */
            jm->ck.any_finished = 1;
            jm->ck.inflight = 0;
        }
        if (t == CTL_STOP) {
            if (type == CTL_FINISHED && !jm->stopping)
                request_stop(jm, src);
            free(payload);
            continue;
        }
        if (t == CTL_FAILED || (t == type && errors_in_payload && len > 0 && payload[0])) {
            errors++;
            log_error("%s", payload);
            if (!*first_error)
                *first_error = xstrdup(payload);
            if (t == CTL_FAILED) {
                free(payload);
                break; /* this TM waits for CANCEL */
            }
        } else if (t != type) {
            log_warn("unexpected %s from rank %d", ctl_type_name(t), src);
            free(payload);
            continue;
        } else if (on_msg) {
            on_msg(jm, src, payload);
        }
        if (t == type && !seen[src]) {
            seen[src] = 1;
            got++;
        }
        free(payload);
    }
    free(seen);
    return errors;
}

static void broadcast(jm_ctx *jm, int type)
{
    for (int r = 1; r <= jm->ntms; r++)
        ctl_send(r, type, "", 0);
}

/* Cancel everyone, wait until all have drained, then release them. */
static void cancel_all(jm_ctx *jm)
{
    broadcast(jm, CTL_CANCEL);
    int64_t backoff = 0;
    int got = 0;
    while (got < jm->ntms) {
        int src, t;
        char *payload;
        size_t len;
        if (!ctl_poll(&src, &t, &payload, &len)) {
            idle_backoff(&backoff, jm->max_sleep_ns);
            continue;
        }
        backoff = 0;
        if (t == CTL_CANCELED)
            got++;
        else if (t == CTL_FAILED)
            log_error("%s", payload); /* a second failure while cancelling */
        free(payload);
    }
    broadcast(jm, CTL_SHUTDOWN);
}

static void on_finished(jm_ctx *jm, int src, const char *text)
{
    const char *line = text;
    while (line && *line) {
        int op, sub;
        unsigned long long in, out, skipped;
        size_t sb, peak;
        unsigned long long late;
        if (sscanf(line, "op %d %d %llu %llu %llu %zu %zu %llu", &op, &sub, &in, &out, &skipped,
                   &sb, &peak, &late) == 8 && op >= 0 && op < jm->plan.job->nops) {
            jm->ops[op].in += in;
            jm->ops[op].out += out;
            jm->ops[op].skipped += skipped;
            jm->ops[op].state_bytes += sb;
            jm->ops[op].state_peak += peak;
            jm->ops[op].late += late;
        } else if (strncmp(line, "latency ", 8) == 0) {
            histo_merge_text(&jm->lat, line + 8);
        } else if (strncmp(line, "wmlatency ", 10) == 0) {
            histo_merge_text(&jm->wm_lat, line + 10);
        } else if (strncmp(line, "alignment ", 10) == 0) {
            histo_merge_text(&jm->align, line + 10);
        } else if (strncmp(line, "tm ", 3) == 0 && src >= 1 && src <= jm->ntms) {
            const char *nl = strchr(line, '\n');
            const char *rest = strchr(line + 3, ' ');
            free(jm->tm_lines[src]);
            jm->tm_lines[src] = rest ? xstrndup(rest + 1, (size_t)((nl ? nl : rest + strlen(rest)) - rest - 1)) : NULL;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
}

static void print_summary(jm_ctx *jm, double secs)
{
    const job *j = jm->plan.job;
    uint64_t src_out = 0;
    for (int i = 0; i < j->nops; i++)
        if (j->ops[i].kind->role == OP_SOURCE)
            src_out += jm->ops[i].out;
    log_info("job '%s' finished in %.3f s on %d TaskManager(s) (duration_s=%.3f)", j->name, secs,
             jm->ntms, secs);
    log_info("  %-18s %11s %14s %14s", "operator", "parallelism", "records in", "records out");
    for (int i = 0; i < j->nops; i++) {
        const op_spec *s = &j->ops[i];
        log_info("  %-18s %11d %14" PRIu64 " %14" PRIu64 "%s", s->uid, s->parallelism,
                 jm->ops[i].in, jm->ops[i].out, s->kind->role == OP_SINK ? "  (sink)" : "");
        if (jm->ops[i].late)
            log_warn("  operator '%s' dropped %" PRIu64 " late record(s) (numLateRecordsDropped)",
                     s->uid, jm->ops[i].late);
        if (jm->ops[i].state_peak)
            log_info("  operator '%s' state: peak %" PRIu64 " bytes over its subtasks "
                     "(state_peak_bytes=%" PRIu64 ")", s->uid, jm->ops[i].state_peak,
                     jm->ops[i].state_peak);
        if (jm->ops[i].skipped)
            log_warn("  operator '%s' skipped %" PRIu64 " malformed record(s) "
                     "(csv.ignore-parse-errors)", s->uid, jm->ops[i].skipped);
    }
    log_info("  source records: %" PRIu64 " (%.0f records/s)", src_out,
             secs > 0 ? (double)src_out / secs : 0.0);
    if (jm->lat.count)
        log_info("  latency markers at sinks: %" PRIu64 ", p50 %.3f ms, p99 %.3f ms, max %.3f ms "
                 "(latency_p50_ms=%.3f latency_p99_ms=%.3f)", jm->lat.count,
                 histo_quantile_us(&jm->lat, 0.5) / 1e3, histo_quantile_us(&jm->lat, 0.99) / 1e3,
                 jm->lat.max_us / 1e3, histo_quantile_us(&jm->lat, 0.5) / 1e3,
                 histo_quantile_us(&jm->lat, 0.99) / 1e3);
    if (jm->wm_lat.count)
        log_info("  watermarks, source to sink: %" PRIu64 ", p50 %.3f ms, p99 %.3f ms "
                 "(wm_latency_p50_ms=%.3f wm_latency_p99_ms=%.3f)", jm->wm_lat.count,
                 histo_quantile_us(&jm->wm_lat, 0.5) / 1e3,
                 histo_quantile_us(&jm->wm_lat, 0.99) / 1e3,
                 histo_quantile_us(&jm->wm_lat, 0.5) / 1e3,
                 histo_quantile_us(&jm->wm_lat, 0.99) / 1e3);
    if (jm->ck.on)
        log_info("  checkpoints: %lld completed; barrier alignment p50 %.3f ms, p99 %.3f ms over "
                 "%llu alignments (alignment_p99_ms=%.3f)", (long long)jm->ck.completed,
                 histo_quantile_us(&jm->align, 0.5) / 1e3, histo_quantile_us(&jm->align, 0.99) / 1e3,
                 (unsigned long long)jm->align.count, histo_quantile_us(&jm->align, 0.99) / 1e3);
    for (int r = 1; r <= jm->ntms; r++)
        if (jm->tm_lines[r])
            log_info("tm-%d %s", r, jm->tm_lines[r]);
}


/* Resolve --restore (latest: the newest completed checkpoint or savepoint
 * of this job) and check that the job can take the state, before anything
 * runs or is overwritten: same max-parallelism, every operator with state
 * present (unless allowed), unchanged schemas and kinds, sources with
 * their old parallelism. */
static int jm_resolve_restore(jm_ctx *jm, submission *sub, mpf_err *e)
{
    const job *j = jm->plan.job;
    if (ckpt_lib_init(e))
        return e->code;
    char path[4096];
    int is_auto = strcmp(sub->restore, "auto") == 0;
    if (is_auto || strcmp(sub->restore, "latest") == 0) {
        if (ckpt_find_latest(conf_str(jm->conf, "state.checkpoints.dir"),
                             conf_str(jm->conf, "state.savepoints.dir"), j->name, path,
                             sizeof path, e)) {
            if (!is_auto || e->code != MPF_ENOENT)
                return e->code;
            log_info("no checkpoint or savepoint of job '%s' yet: starting from the beginning",
                     j->name);
            memset(e, 0, sizeof *e);
            free(sub->restore);
            sub->restore = NULL;
            for (int i = 0; i < j->nops; i++) /* files a failed attempt staged are stale */
                jm->plan.job->ops[i].restoring = 2;
            return 0;
        }
        free(sub->restore);
        sub->restore = xstrdup(path);
    }
    ckpt *c = NULL;
    if (ckpt_open(sub->restore, &c, e))
        return e->code;
    const ckpt_meta *m = ckpt_meta_get(c);
    int rc = 0;
    if (m->max_parallelism != jm->plan.max_parallelism)
        rc = err_set(e, MPF_EPLAN, "%s: taken with pipeline.max-parallelism %d, the job has %d; "
                     "key groups cannot be remapped", sub->restore, m->max_parallelism,
                     jm->plan.max_parallelism);
    for (int i = 0; !rc && i < m->nops; i++) {
        const ckpt_op_meta *om = &m->ops[i];
        const op_spec *s = NULL;
        for (int k = 0; k < j->nops; k++)
            if (strcmp(j->ops[k].uid, om->uid) == 0)
                s = &j->ops[k];
        if (!s) {
            if (!sub->allow_non_restored)
                rc = err_set(e, MPF_EPLAN, "%s: has state of operator '%s', which this job "
                             "does not have (--allow-non-restored-state drops it)",
                             sub->restore, om->uid);
            continue;
        }
        char sch[4096];
        schema_format(&s->out_schema, sch, sizeof sch);
        if (om->kind && om->kind[0] && strcmp(om->kind, s->kind->name) != 0)
            rc = err_set(e, MPF_EPLAN, "%s: operator '%s' was a %s, the job makes it a %s",
                         sub->restore, om->uid, om->kind, s->kind->name);
        else if (om->schema && strcmp(om->schema, sch) != 0)
            rc = err_set(e, MPF_ESCHEMA, "%s: operator '%s' changed its output schema (saved: "
                         "%s; now: %s)", sub->restore, om->uid, om->schema, sch);
        else if (s->kind->role == OP_SOURCE && om->parallelism != s->parallelism)
            rc = err_set(e, MPF_EPLAN, "%s: source '%s' ran with parallelism %d and now has %d; "
                         "sources keep their parallelism across a restore (set parallelism: %d "
                         "on it)", sub->restore, om->uid, om->parallelism, s->parallelism,
                         om->parallelism);
    }
    if (!rc) {
        jm->ck.last_id = m->checkpoint_id;
        log_info("restoring job '%s' from %s %lld (%s)", j->name,
                 m->is_savepoint ? "savepoint" : "checkpoint", (long long)m->checkpoint_id,
                 sub->restore);
    }
    ckpt_close(c);
    return rc;
}

int jm_main(submission *sub)
{
    jm_ctx jm = {0};
    mpf_err e = {0};
    log_init("jm", LOG_INFO);
    jm.ntms = net_size() - 1;
    jm.max_sleep_ns = 1000000;
    int rc = sub->job_text ? 0 : submission_read_files(sub, &e);
    if (!rc)
        rc = submission_plan(sub, jm.ntms, &jm.conf, &jm.plan, &e);
    if (!rc && sub->restore)
        rc = jm_resolve_restore(&jm, sub, &e);
    for (int i = 0; !rc && i < jm.plan.job->nops; i++) {
        const op_spec *s = &jm.plan.job->ops[i];
        if (s->kind->global_init)
            rc = s->kind->global_init(s, &e);
    }
    /* Tell the TaskManagers to run, or to leave. */
    size_t len = 0;
    char *enc = rc ? NULL : submission_encode(sub, &len);
    char *blob = xmalloc(len + 1);
    blob[0] = rc ? 'A' : 'R';
    if (enc)
        memcpy(blob + 1, enc, len);
    free(enc);
    len++;
    int bc = ctl_bcast(&blob, &len);
    free(blob);
    int idx, count;
    net_node_tm_index(&idx, &count);
    if (rc || bc) {
        if (bc)
            err_set(&e, MPF_EMPI, "could not send the job to the TaskManagers");
        log_error("%s", e.msg);
        goto out;
    }
    log_init("jm", log_level_parse(conf_str(jm.conf, "log.level")));
    jm.max_sleep_ns = conf_duration_ns(jm.conf, "taskmanager.network.poll-max-sleep");
    jm.ops = xcalloc((size_t)jm.plan.job->nops, sizeof *jm.ops);
    jm.tm_lines = xcalloc((size_t)jm.ntms + 2, sizeof *jm.tm_lines);
    log_info("job '%s': %d operator(s) in %d task(s) on %d TaskManager(s), %s mode",
             jm.plan.job->name, jm.plan.job->nops, jm.plan.ntasks, jm.ntms,
             jm.plan.batch_mode ? "BATCH" : "STREAMING");
    char *err = NULL;
    if (gather(&jm, CTL_DEPLOYED, 1, &err, NULL)) {
        cancel_all(&jm);
        free(err);
        rc = 1;
        goto out;
    }
    double t0 = net_wtime();
    jm_ckpt *ck = &jm.ck;
    ck->interval_ns = conf_duration_ns(jm.conf, "execution.checkpointing.interval");
    ck->on = ck->interval_ns > 0;
    if (ck->on) {
        ck->timeout_ns = conf_duration_ns(jm.conf, "execution.checkpointing.timeout");
        ck->min_pause_ns = conf_duration_ns(jm.conf, "execution.checkpointing.min-pause");
        ck->tolerable = (int)conf_int(jm.conf, "execution.checkpointing.tolerable-failed-checkpoints");
        ck->retain = (int)conf_int(jm.conf, "state.checkpoints.num-retained");
        ck->root = conf_str(jm.conf, "state.checkpoints.dir");
        ck->next_ns = jm_now_ns() + ck->interval_ns;
        if (ckpt_lib_init(&e)) {
            log_error("%s", e.msg);
            cancel_all(&jm);
            rc = 1;
            goto out;
        }
        log_info("checkpoints every %.3f s into %s/%s (%s)", (double)ck->interval_ns / 1e9,
                 ck->root, jm.plan.job->name, conf_str(jm.conf, "execution.checkpointing.mode"));
    }
    broadcast(&jm, CTL_START);
    if (gather(&jm, CTL_FINISHED, 0, &err, on_finished)) {
        log_error("job '%s' failed; cancelling all tasks, no output committed", jm.plan.job->name);
        cancel_all(&jm);
        free(err);
        rc = 1;
        goto out;
    }
    double secs = net_wtime() - t0;
    broadcast(&jm, CTL_COMMIT);
    int bad = gather(&jm, CTL_COMMITTED, 1, &err, NULL);
    broadcast(&jm, CTL_SHUTDOWN);
    free(err);
    if (bad) {
        log_error("job '%s' ran but committing its output failed on %d TaskManager(s)",
                  jm.plan.job->name, bad);
        rc = 1;
        goto out;
    }
    print_summary(&jm, secs);
out:
    free(jm.ck.fail);
    if (jm.tm_lines)
        for (int r = 0; r <= jm.ntms; r++)
            free(jm.tm_lines[r]);
    free(jm.tm_lines);
    free(jm.ops);
    if (jm.plan.job)
        plan_fini(&jm.plan);
    conf_destroy(jm.conf);
    return rc ? 1 : 0;
}
