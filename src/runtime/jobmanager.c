/* The JobManager: plans, deploys, tracks and finishes a job (runtime
 * layer). It waits with probe-and-sleep, never in a blocking receive, so
 * it does not take a core from the TaskManagers. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics/histo.h"
#include "net/control.h"
#include "net/world.h"
#include "runtime/runtime.h"
#include "util/log.h"
#include "util/xmalloc.h"

typedef struct op_totals {
    uint64_t in, out, skipped, state_bytes, state_peak, late;
} op_totals;

typedef struct jm_ctx {
    int stopping; /* CTL_STOP sent */
    conf *conf;
    plan plan;
    int ntms;
    int64_t max_sleep_ns;
    op_totals *ops;
    char **tm_lines; /* per TM: its metrics header line */
    histo lat, wm_lat; /* merged from the TMs' sinks */
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
        if (!ctl_poll(&src, &t, &payload, &len)) {
            if (stop_now)
                request_stop(jm, 0);
            else
                idle_backoff(&backoff, jm->max_sleep_ns);
            continue;
        }
        backoff = 0;
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
    for (int r = 1; r <= jm->ntms; r++)
        if (jm->tm_lines[r])
            log_info("tm-%d %s", r, jm->tm_lines[r]);
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
