/* The TaskManager: runs the subtasks placed on this rank (runtime layer).
 * One thread per TaskManager runs every local subtask cooperatively: each
 * loop polls the network, steps every task once, and sleeps with a short
 * exponential back-off when nothing moved, so an idle rank does not burn
 * its core (DESIGN.md section 10). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include "ckpt/ckpt.h"
#include "net/channel.h"
#include "net/control.h"
#include "net/world.h"
#include "pin/pin.h"
#include "record/keygroup.h"
#include "record/segpool.h"
#include "runtime/heartbeat.h"
#include "runtime/tmckpt.h"
#include "runtime/tmmetrics.h"
#include "runtime/runtime.h"
#include "runtime/snapshot.h"
#include "runtime/task.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "util/clock.h"


typedef struct tm_ctx {
    int rank;
    int attempt;           /* 0, then +1 per in-process restart */
    conf *conf;
    plan plan;
    int ntasks;
    task_inst *tasks;
    int64_t max_sleep_ns;
    tmck ck;          /* the checkpoint state machine */
    uint64_t records_read; /* for debug.inject-failure */
    int inject_commit;     /* debug.inject-failure commit=1: die after the end-of-job commit */
    tmmetrics *metrics;    /* live metrics of this attempt */
    char binding[192];     /* core binding, for the JobManager */
} tm_ctx;

/* Snapshot hook of the tasks (task_inst.snap_for). */
static snap_writer *tm_snap_for(void *ctx, int64_t id)
{
    return tmck_snap_for(ctx, id);
}

/* Start and finish checkpoint writes; acknowledge finished ones. */
static void ckpt_progress(tm_ctx *tm)
{
    int64_t min_snapped = INT64_MAX;
    for (int i = 0; i < tm->ntasks; i++) {
        const task_inst *t = &tm->tasks[i];
        if (t->snapped_id < min_snapped)
            min_snapped = t->snapped_id;
        if (t->aligned_id)
            tmck_alignment(&tm->ck, t->aligned_id, t->aligned_ns);
    }
    char *ack;
    if (tmck_progress(&tm->ck, min_snapped, &ack)) {
        ctl_send(0, CTL_ACK, ack, strlen(ack) + 1);
        free(ack);
    }
}

/* TRIGGER "<id> <flags> <trigger unix ms> <dir>"; flags as the JobManager's CKF_*: 2 stop
 * (sources halt after the barrier), 4 drain (event time ends first). */
static void on_trigger(tm_ctx *tm, const char *payload)
{
    long long id = 0, trigger_ms = 0;
    int flags = 0, used = 0;
    if (sscanf(payload, "%lld %d %lld %n", &id, &flags, &trigger_ms, &used) < 3 || id <= 0 ||
        !payload[used])
        return;
    /* trigger_ms: the JobManager's clock, as in _metadata.h5 */
    if (!tmck_trigger(&tm->ck, id, payload + used, trigger_ms)) {
        log_debug("ignoring TRIGGER %lld: subsumed or aborted", id);
        return;
    }
    for (int i = 0; i < tm->ntasks; i++) {
        if (flags & 2)
            task_trigger_stop(&tm->tasks[i], id, (flags & 4) != 0);
        else
            task_trigger(&tm->tasks[i], id);
    }
}

/* COMPLETE "<id>" (aborted: 0) or ABORT "<id>" (aborted: 1): tell every
 * local operator. Both hooks must return quickly (op.h). */
static int on_ckpt_end(tm_ctx *tm, const char *payload, int aborted, mpf_err *e)
{
    long long id = atoll(payload);
    if (aborted)
        tmck_abort(&tm->ck, id);
    for (int i = 0; i < tm->ntasks; i++) {
        task_inst *t = &tm->tasks[i];
        for (int k = 0; k < t->nops; k++) {
            op_inst *oi = &t->ops[k];
            int (*hook)(op_inst *, int64_t, mpf_err *) =
                aborted ? oi->spec->kind->checkpoint_aborted : oi->spec->kind->checkpoint_complete;
            if (hook && hook(oi, id, e)) {
                char doing[64];
                snprintf(doing, sizeof doing, "%s checkpoint %lld",
                         aborted ? "aborting" : "completing", id);
                op_name_error(e, oi, doing);
                return e->code;
            }
        }
    }
    return 0;
}

/* START: the start hooks of every local operator. */
static int tm_start_ops(tm_ctx *tm, mpf_err *e)
{
    for (int i = 0; i < tm->ntasks; i++) {
        task_inst *t = &tm->tasks[i];
        for (int k = 0; k < t->nops; k++) {
            op_inst *oi = &t->ops[k];
            if (oi->spec->kind->start && oi->spec->kind->start(oi, e)) {
                op_name_error(e, oi, "starting");
                return e->code;
            }
        }
    }
    return 0;
}

/* The JobManager's heartbeats (one TaskManager per process). */
static heartbeat tm_hb;

/* Take one control message from the JobManager (its heartbeats are
 * consumed here) and send ours when due. A JobManager silent beyond
 * heartbeat.timeout ends the MPI world: nobody is left to coordinate, and
 * the supervisor relaunches from the latest checkpoint. */
static int tm_poll(int *src, int *type, char **payload, size_t *len)
{
    int64_t now = clock_mono_ns();
    while (ctl_poll(src, type, payload, len)) {
        hb_seen(&tm_hb, *src, now);
        if (*type != CTL_HEARTBEAT)
            return 1;
        free(*payload);
    }
    hb_send(&tm_hb, now);
    runtime_check_control();
    int64_t silent;
    if (hb_check(&tm_hb, now, &silent) >= 0) {
        log_error("the JobManager (rank 0) sent nothing for %.1f s (heartbeat.timeout %.1f s): "
                  "it is stopped, hung or unreachable; ending the MPI world so the job can be "
                  "relaunched from its latest checkpoint (mpiflow submit, --restore auto)",
                  (double)silent / 1e9, (double)tm_hb.timeout_ns / 1e9);
        net_abort(MPF_EXIT_FAILED);
    }
    return 0;
}

/* Wait for one of the wanted control messages, keeping the data plane
 * drained meanwhile. Returns the type received; its payload goes to *out
 * (caller frees) when out is not NULL. */
static int wait_ctl(int a, int b, int64_t max_sleep_ns, char **out)
{
    int64_t backoff = 0;
    for (;;) {
        int src, type;
        char *payload;
        size_t len;
        dp_poll(NULL);
        if (tm_poll(&src, &type, &payload, &len)) {
            if ((type == a || type == b) && out) {
                *out = payload;
                return type;
            }
            free(payload);
            if (type == a || type == b)
                return type;
            if (type == CTL_STOP || type == CTL_TRIGGER || type == CTL_COMPLETE ||
                type == CTL_ABORT)
                continue; /* already finishing */
            log_warn("ignoring %s from rank %d", ctl_type_name(type), src);
            backoff = 0;
            continue;
        }
        idle_backoff(&backoff, max_sleep_ns);
    }
}

/* The exit code SHUTDOWN carries (enum mpf_exit); failed when absent. */
static int shutdown_code(const char *payload)
{
    char *end;
    long code = payload ? strtol(payload, &end, 10) : -1;
    return payload && *payload && !*end && code >= 0 && code < 126 ? (int)code
                                                                   : MPF_EXIT_FAILED;
}

static char *metrics_text(tm_ctx *tm, size_t *len);

/* Cancel path: discard output, let peers' sends complete, acknowledge
 * with CANCELED (carrying the metrics of what ran). Then SHUTDOWN (returns
 * the exit code the JobManager sends) or RESTART (returns -1 with *restart
 * the checkpoint to restore, "" for none). */
static int tm_cancel(tm_ctx *tm, char **restart)
{
    size_t mlen;
    char *metrics = metrics_text(tm, &mlen);
    dp_set_discard(1);
    /* The writer reads the operators' snapshot copies: let it finish (its
     * checkpoint never completes; the JobManager ignores the answer)
     * while the network and the heartbeats go on. */
    int64_t backoff = 0;
    while (tmck_busy(&tm->ck)) {
        char *ack;
        hb_send(&tm_hb, clock_mono_ns());
        dp_poll(NULL);
        if (tmck_progress(&tm->ck, 0, &ack))
            free(ack);
        else
            idle_backoff(&backoff, tm->max_sleep_ns);
    }
    tmck_reset(&tm->ck);
    for (int i = 0; i < tm->ntasks; i++)
        task_close(&tm->tasks[i]);
    tm->ntasks = 0;
    backoff = 0;
    while (dp_pending_sends() > 0) {
        hb_send(&tm_hb, clock_mono_ns()); /* the JobManager waits; it must not think us gone */
        if (dp_poll(NULL) > 0)
            backoff = 0;
        else
            idle_backoff(&backoff, tm->max_sleep_ns);
    }
    ctl_send(0, CTL_CANCELED, metrics, mlen + 1);
    free(metrics);
    char *payload = NULL;
    if (wait_ctl(CTL_SHUTDOWN, CTL_RESTART, tm->max_sleep_ns, &payload) == CTL_RESTART &&
        restart) {
        *restart = payload;
        return -1;
    }
    int code = shutdown_code(payload);
    free(payload);
    return code;
}

static char *metrics_text(tm_ctx *tm, size_t *len)
{
    segpool_stats ps = segpool_get_stats();
    dp_stats ds = dp_get_stats();
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    n += (size_t)snprintf(buf + n, cap - n,
                          "tm %d peak_rss_kb=%ld segments_peak=%llu segment_size=%zu "
                          "batches_sent=%llu bytes_sent=%llu credit_waits=%llu\n",
                          tm->rank, runtime_peak_rss_kb(), (unsigned long long)ps.peak_in_use,
                          ps.segment_size, (unsigned long long)ds.batches_sent,
                          (unsigned long long)ds.bytes_sent,
                          (unsigned long long)ds.credit_waits);
    histo lat = {0}, wm_lat = {0}, align = {0};
    for (int i = 0; i < tm->ntasks; i++) {
        task_inst *t = &tm->tasks[i];
        for (int k = 0; k < t->nops; k++) {
            op_inst *oi = &t->ops[k];
            if (!oi->spec) /* a task that failed to open */
                continue;
            if (cap - n < 256) {
                cap *= 2;
                buf = xrealloc(buf, cap);
            }
            n += (size_t)snprintf(buf + n, cap - n, "op %d %d %llu %llu %llu %zu %zu %llu\n",
                                  oi->spec->index, oi->subtask,
                                  (unsigned long long)oi->records_in,
                                  (unsigned long long)oi->records_out,
                                  (unsigned long long)oi->records_skipped, oi->state_bytes,
                                  oi->state_peak, (unsigned long long)oi->late_dropped);
        }
        for (int b = 0; t->lat && b < HISTO_BUCKETS; b++) {
            lat.n[b] += t->lat->n[b];
            wm_lat.n[b] += t->wm_lat->n[b];
        }
        if (t->align_hist) {
            for (int b = 0; b < HISTO_BUCKETS; b++)
                align.n[b] += t->align_hist->n[b];
            align.count += t->align_hist->count;
            if (t->align_hist->max_us > align.max_us)
                align.max_us = t->align_hist->max_us;
        }
        if (t->lat) {
            lat.count += t->lat->count;
            wm_lat.count += t->wm_lat->count;
            lat.max_us = lat.max_us > t->lat->max_us ? lat.max_us : t->lat->max_us;
            wm_lat.max_us = wm_lat.max_us > t->wm_lat->max_us ? wm_lat.max_us : t->wm_lat->max_us;
        }
    }
    char *h1 = histo_encode(&lat), *h2 = histo_encode(&wm_lat), *h3 = histo_encode(&align);
    size_t need = strlen(h1) + strlen(h2) + strlen(h3) + 48;
    if (cap - n < need) {
        cap = n + need;
        buf = xrealloc(buf, cap);
    }
    n += (size_t)snprintf(buf + n, cap - n, "latency %s\nwmlatency %s\nalignment %s\n", h1, h2,
                          h3);
    free(h1);
    free(h2);
    free(h3);
    *len = n;
    return buf;
}

static int tm_fail(tm_ctx *tm, const mpf_err *e, char **restart)
{
    log_error("%s", e->msg);
    char *msg = xasprintf("tm-%d (rank %d, %s): %s", tm->rank, tm->rank, net_hostname(), e->msg);
    ctl_send(0, CTL_FAILED, msg, strlen(msg) + 1);
    free(msg);
    wait_ctl(CTL_CANCEL, CTL_CANCEL, tm->max_sleep_ns, NULL);
    return tm_cancel(tm, restart);
}

/* Returned by tm_run_loop when every local task is done. */
#define TM_TASKS_DONE 1000

/* Run until every local task is done (returns TM_TASKS_DONE) or the
 * attempt ends by failure or cancel (returns tm_cancel's result). */
static int tm_run_loop(tm_ctx *tm, char **restart)
{
    mpf_err e = {0};
    int64_t backoff = 0;
    int asked_stop = 0;
    for (;;) {
        int progress = dp_poll(&e);
        if (progress < 0)
            return tm_fail(tm, &e, restart);
        int src, type;
        char *payload;
        size_t len;
        if (tm_poll(&src, &type, &payload, &len)) {
            if (type == CTL_TRIGGER)
                on_trigger(tm, payload);
            else if ((type == CTL_COMPLETE || type == CTL_ABORT) &&
                     on_ckpt_end(tm, payload, type == CTL_ABORT, &e)) {
                free(payload);
                return tm_fail(tm, &e, restart);
            }
            free(payload);
            if (type == CTL_CANCEL)
                return tm_cancel(tm, restart);
            if (type == CTL_TRIGGER || type == CTL_COMPLETE || type == CTL_ABORT) {
                /* handled above */
            } else if (type == CTL_STOP) {
                log_info("stopping: ending the sources");
                for (int i = 0; i < tm->ntasks; i++)
                    task_request_stop(&tm->tasks[i]);
            } else {
                log_warn("unexpected %s from rank %d", ctl_type_name(type), src);
            }
        }
        if (runtime_stop_signal() && !asked_stop) {
            asked_stop = 1;
            char sig[16];
            snprintf(sig, sizeof sig, "%d", runtime_stop_signal());
            ctl_send(0, CTL_STOP, sig, strlen(sig) + 1);
        }
        int64_t now = clock_mono_ns();
        int done = 1;
        for (int i = 0; i < tm->ntasks; i++) {
            int rc = task_step(&tm->tasks[i], now, &e);
            if (rc < 0)
                return tm_fail(tm, &e, restart);
            progress += rc;
            done &= tm->tasks[i].state == TASK_DONE;
        }
        ckpt_progress(tm);
        tmmetrics_tick(tm->metrics, now, tm_hb.timeout_ns ? tm_hb.last_ns[0] : -1);
        if (done && dp_pending_sends() == 0 && !tmck_busy(&tm->ck))
            return TM_TASKS_DONE;
        if (progress)
            backoff = 0;
        else
            idle_backoff(&backoff, tm->max_sleep_ns);
    }
}

/* Every local task is done and FINISHED went out: take part in the final
 * checkpoint (the finished tasks snapshot when stepped; COMPLETE reaches
 * the operators) until COMMIT or CANCEL arrives, which it returns. A hook
 * that fails here fails the commit that follows, through the operator. */
static int tm_finished_loop(tm_ctx *tm)
{
    int64_t backoff = 0;
    int broken = 0; /* a snapshot failed: declined, no more steps */
    for (;;) {
        mpf_err e = {0};
        int progress = dp_poll(NULL);
        int src, type;
        char *payload;
        size_t len;
        if (tm_poll(&src, &type, &payload, &len)) {
            progress = 1;
            if (type == CTL_TRIGGER)
                on_trigger(tm, payload);
            else if ((type == CTL_COMPLETE || type == CTL_ABORT) &&
                     on_ckpt_end(tm, payload, type == CTL_ABORT, &e))
                log_warn("%s", e.msg);
            else if (type != CTL_COMMIT && type != CTL_CANCEL && type != CTL_STOP)
                log_warn("ignoring %s from rank %d", ctl_type_name(type), src);
            free(payload);
            if (type == CTL_COMMIT || type == CTL_CANCEL)
                return type;
        }
        int64_t now = clock_mono_ns();
        for (int i = 0; i < tm->ntasks && !broken; i++) {
            if (task_step(&tm->tasks[i], now, &e) >= 0)
                continue;
            broken = 1;
            log_warn("final checkpoint %lld: %s", (long long)tm->ck.newest, e.msg);
            char *ack = xasprintf("%lld fail %s", (long long)tm->ck.newest, e.msg);
            ctl_send(0, CTL_ACK, ack, strlen(ack) + 1);
            free(ack);
        }
        if (!broken)
            ckpt_progress(tm);
        if (progress)
            backoff = 0;
        else
            idle_backoff(&backoff, tm->max_sleep_ns);
    }
}

/* debug.inject-failure: "rank=R,records=N" makes the subtasks of rank R
 * fail once they have read N records in total; "rank=R,checkpoint=N"
 * kills rank R after it wrote its part of checkpoint N;
 * "rank=R,decline=N" makes rank R decline checkpoint N;
 * "rank=R,control=N" fails rank R's N-th control send as an MPI error
 * would; "rank=R,commit=1" kills rank R after its end-of-job commit;
 * "rank=R,kafka=POINT" belongs to the Kafka sink. Only in a first attempt that does not restore, so a restart gets
 * past the failure. */
static int tm_setup_checkpoints(tm_ctx *tm, int restoring, mpf_err *e)
{
    const char *inject = conf_str(tm->conf, CONF_DEBUG_INJECT_FAILURE);
    int irank = 0;
    unsigned long long irecords = 0;
    long long ickpt = 0, idecline = 0;
    int icontrol = 0, icommit = 0;
    /* rank=R,kafka=POINT...: the Kafka sink's own points (kafka_sink.c) */
    int kafka_points = sscanf(inject, "rank=%d,", &irank) == 1 && strstr(inject, ",kafka=");
    if (inject[0] && !kafka_points &&
        sscanf(inject, "rank=%d,records=%llu", &irank, &irecords) != 2 &&
        sscanf(inject, "rank=%d,checkpoint=%lld", &irank, &ickpt) != 2 &&
        sscanf(inject, "rank=%d,decline=%lld", &irank, &idecline) != 2 &&
        sscanf(inject, "rank=%d,control=%d", &irank, &icontrol) != 2 &&
        sscanf(inject, "rank=%d,commit=%d", &irank, &icommit) != 2)
        return err_set(e, MPF_ECONFIG, "debug.inject-failure: expected 'rank=R,records=N', "
                       "'rank=R,checkpoint=N', 'rank=R,decline=N', 'rank=R,control=N', "
                       "'rank=R,commit=1' or 'rank=R,kafka=POINT', got '%s'", inject);
    int armed = inject[0] && irank == tm->rank && !restoring && tm->attempt == 0;
    if (armed && icontrol > 0)
        ctl_fail_send_for_test(icontrol);
    tm->inject_commit = armed && icommit;
    if (ckpt_lib_init(e))
        return e->code;
    tmck_init(&tm->ck, tm->plan.job->name, tm->rank, tm->plan.max_parallelism);
    tm->ck.inject_ckpt = armed ? ickpt : 0;
    tm->ck.inject_decline = armed ? idecline : 0;
    int exactly = strcmp(conf_str(tm->conf, CONF_EXECUTION_CHECKPOINTING_MODE), "EXACTLY_ONCE") == 0;
    for (int i = 0; i < tm->ntasks; i++) {
        task_inst *t = &tm->tasks[i];
        t->snap_for = tm_snap_for;
        t->snap_ctx = &tm->ck;
        t->exactly_once = exactly;
        t->align_hist = xcalloc(1, sizeof *t->align_hist);
        if (armed && irecords) {
            t->inject_after = irecords;
            t->inject_count = &tm->records_read;
        }
    }
    return 0;
}

typedef struct restore_ctx {
    op_inst *oi;
} restore_ctx;

static int restore_blob(void *arg, const ckpt_blob *b, mpf_err *e)
{
    restore_ctx *r = arg;
    op_inst *oi = r->oi;
    /* Operator state goes to subtask (old subtask mod parallelism), or to
     * every subtask of a kind with union state. */
    if (b->kind == CKPT_OPERATOR && !oi->spec->kind->union_state &&
        b->subtask % oi->spec->parallelism != oi->subtask)
        return 0;
    snap_blob sb = {b->kind == CKPT_KEYED ? SNAP_KEYED : SNAP_OPERATOR, b->key_group,
                    b->subtask, b->data, b->len};
    return oi->spec->kind->restore(oi, &sb, e);
}

/* Give every local operator its state: keyed state of its key groups,
 * operator state of the old subtasks that map to it. */
static int tm_restore(tm_ctx *tm, const char *path, mpf_err *e)
{
    if (ckpt_lib_init(e))
        return e->code;
    ckpt *c = NULL;
    if (ckpt_open_flags(path, CKPT_OPEN_NO_VERIFY, &c, e))
        return e->code;
    int rc = 0;
    for (int i = 0; i < tm->ntasks && !rc; i++) {
        task_inst *t = &tm->tasks[i];
        for (int k = 0; k < t->nops && !rc; k++) {
            op_inst *oi = &t->ops[k];
            if (!oi->spec->kind->restore)
                continue;
            keygroup_range kg = keygroup_range_of(oi->subtask, oi->spec->max_parallelism,
                                                  oi->spec->parallelism);
            restore_ctx r = {oi};
            rc = ckpt_read(c, oi->spec->uid, kg.start, kg.end, 1, restore_blob, &r, e);
            if (!rc && oi->spec->kind->restore_end)
                rc = oi->spec->kind->restore_end(oi, e);
            if (rc)
                op_name_error(e, oi, "restoring");
        }
    }
    ckpt_close(c);
    return rc;
}

/* Tell the JobManager this attempt could not deploy, then cancel. */
static int tm_deploy_failed(tm_ctx *tm, const mpf_err *e, char **restart)
{
    char *msg = xasprintf("tm-%d: %s", tm->rank, e->msg);
    ctl_send(0, CTL_DEPLOYED, msg, strlen(msg) + 1);
    free(msg);
    wait_ctl(CTL_CANCEL, CTL_CANCEL, tm->max_sleep_ns, NULL);
    return tm_cancel(tm, restart);
}

/* One attempt: open the local subtasks (restoring `restore` if not NULL),
 * run, finish and commit. Returns the exit code, or -1 with *restart set
 * when the JobManager restarts the job in this MPI world. */
static int tm_attempt(tm_ctx *tm, const char *restore, char **restart)
{
    mpf_err e = {0};
    const plan *p = &tm->plan;
    for (int i = 0; i < p->job->nops; i++)
        p->job->ops[i].restoring = restore ? 1 : 0;
    int nmine = 0;
    for (int t = 0; t < p->ntasks; t++)
        for (int s = 0; s < p->tasks[t].parallelism; s++)
            nmine += plan_rank_of(p, s) == tm->rank;
    tm->tasks = xcalloc((size_t)nmine + 1, sizeof *tm->tasks);
    tm->ntasks = 0;
    tm->records_read = 0;
    int rc = 0;
    for (int t = 0; t < p->ntasks && !rc; t++)
        for (int s = 0; s < p->tasks[t].parallelism && !rc; s++)
            if (plan_rank_of(p, s) == tm->rank)
                rc = task_open(&tm->tasks[tm->ntasks++], p, t, s, tm->rank, tm->conf, &e);
    dp_link_locals();
    if (!rc)
        rc = tm_setup_checkpoints(tm, restore != NULL, &e);
    if (!rc && restore) {
        double t0 = clock_mono_ns() / 1e9;
        rc = tm_restore(tm, restore, &e);
        if (!rc)
            log_info("restored %s in %.3f s", restore, clock_mono_ns() / 1e9 - t0);
    }
    if (rc)
        return tm_deploy_failed(tm, &e, restart);
    log_debug("deployed %d subtask(s)", tm->ntasks);
    tm->metrics = tmmetrics_new(tm->tasks, tm->ntasks, tm->conf, tm->binding);
    ctl_send(0, CTL_DEPLOYED, "", 0);
    if (wait_ctl(CTL_START, CTL_CANCEL, tm->max_sleep_ns, NULL) == CTL_CANCEL)
        return tm_cancel(tm, restart);
    if (tm_start_ops(tm, &e))
        return tm_fail(tm, &e, restart);
    int code = tm_run_loop(tm, restart);
    if (code != TM_TASKS_DONE)
        return code;
    size_t mlen;
    char *metrics = metrics_text(tm, &mlen);
    ctl_send(0, CTL_FINISHED, metrics, mlen + 1);
    free(metrics);
    if (tm_finished_loop(tm) == CTL_CANCEL)
        return tm_cancel(tm, restart);
    rc = 0;
    for (int i = 0; i < tm->ntasks && !rc; i++)
        rc = task_commit(&tm->tasks[i], &e);
    if (tm->inject_commit && !rc) {
        log_warn("debug.inject-failure: killing this rank after it committed the end of the job, "
                 "before it says so");
        raise(SIGKILL);
    }
    ctl_send(0, CTL_COMMITTED, rc ? e.msg : "", rc ? strlen(e.msg) + 1 : 0);
    char *payload = NULL;
    wait_ctl(CTL_SHUTDOWN, CTL_SHUTDOWN, tm->max_sleep_ns, &payload);
    code = rc ? MPF_EXIT_FAILED : shutdown_code(payload);
    free(payload);
    return code;
}

int tm_main(void)
{
    tm_ctx tm = {0};
    tm.rank = net_rank();
    tm.max_sleep_ns = 1000000;
    char role[32];
    snprintf(role, sizeof role, "tm-%d", tm.rank);
    log_init(role, LOG_INFO);
    char *blob = NULL;
    size_t len = 0;
    mpf_err e = {0};
    if (ctl_bcast(&blob, &len)) {
        log_error("did not receive the job from the JobManager");
        return 1;
    }
    int idx, count;
    if (len == 0 || blob[0] != 'R') {
        free(blob);
        net_node_tm_index(&idx, &count);
        return 1; /* the JobManager reports why */
    }
    submission sub;
    char *restore = NULL;
    int rc = submission_decode(&sub, blob + 1, len - 1, &e);
    free(blob);
    if (!rc) {
        rc = submission_plan(&sub, net_size() - 1, &tm.conf, &tm.plan, &e);
        restore = sub.restore ? xstrdup(sub.restore) : NULL;
        submission_fini(&sub);
    }
    net_node_tm_index(&idx, &count);
    if (rc) {
        int code = tm_deploy_failed(&tm, &e, NULL);
        free(restore);
        conf_destroy(tm.conf);
        return code;
    }
    log_init(role, log_level_parse(conf_str(tm.conf, CONF_LOG_LEVEL)));
    runtime_open_log(tm.conf, tm.rank);
    tm.max_sleep_ns = conf_duration_ns(tm.conf, CONF_TASKMANAGER_NETWORK_POLL_MAX_SLEEP);
    hb_init(&tm_hb, tm.conf, 0, 0, clock_mono_ns());
    if (strcmp(conf_str(tm.conf, CONF_TASKMANAGER_CPU_BINDING), "core") == 0) {
        char desc[128];
        int over = 0;
        mpf_err pe = {0};
        if (pin_to_core(idx, count, desc, sizeof desc, &over, &pe))
            log_warn("not pinned: %s", pe.msg);
        else if (over)
            log_info("bound to %s; %d TaskManagers on this node share its cores round-robin "
                     "(oversubscribed)", desc, count);
        else
            log_info("bound to %s on %s", desc, net_hostname());
        snprintf(tm.binding, sizeof tm.binding, "%s%s", pe.code ? "not pinned" : desc,
                 over ? " (oversubscribed)" : "");
    } else {
        log_info("not pinned (taskmanager.cpu-binding: none) on %s", net_hostname());
        snprintf(tm.binding, sizeof tm.binding, "not pinned (taskmanager.cpu-binding: none)");
    }
    segpool_init((size_t)conf_size(tm.conf, CONF_TASKMANAGER_MEMORY_SEGMENT_SIZE));
    int exit_code = 1;
    for (;; tm.attempt++) {
        dp_init(tm.plan.nchannels,
                (int)conf_int(tm.conf, CONF_TASKMANAGER_NETWORK_MEMORY_BUFFERS_PER_CHANNEL));
        char *restart = NULL;
        exit_code = tm_attempt(&tm, restore, &restart);
        tmmetrics_destroy(tm.metrics);
        tm.metrics = NULL;
        tmck_fini(&tm.ck);
        for (int i = 0; i < tm.ntasks; i++)
            task_close(&tm.tasks[i]);
        free(tm.tasks);
        tm.tasks = NULL;
        tm.ntasks = 0;
        dp_fini();
        free(restore);
        restore = NULL;
        if (exit_code >= 0)
            break;
        if (restart[0])
            restore = restart;
        else
            free(restart);
        if (net_data_reset(&e)) {
            log_error("%s", e.msg);
            net_abort(1);
        }
        log_info("restarting (attempt %d) from %s", tm.attempt + 1,
                 restore ? restore : "the beginning");
    }
    segpool_fini();
    hb_fini(&tm_hb);
    if (tm.plan.job)
        plan_fini(&tm.plan);
    conf_destroy(tm.conf);
    return exit_code;
}
