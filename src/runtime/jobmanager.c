/* The JobManager: plans, deploys, tracks and finishes a job (runtime
 * layer). It waits with probe-and-sleep, never in a blocking receive, so
 * it does not take a core from the TaskManagers. */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
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
#include "runtime/console.h"
#include "runtime/heartbeat.h"
#include "runtime/jobstate.h"
#include "runtime/restart.h"
#include "rest/archive.h"
#include "rest/rest.h"

/* Flags of a checkpoint (also sent in TRIGGER). */
enum { CKF_SAVEPOINT = 1, /* a savepoint: user-triggered, kept by retention */
       CKF_STOP = 2,      /* stop with savepoint: sources halt after the barrier */
       CKF_DRAIN = 4,     /* ... after advancing event time to the end */
       CKF_FINAL = 8 };   /* every task finished: the checkpoint the end commits */

/* The checkpoint coordinator's state (one checkpoint in flight). */
typedef struct jm_ckpt {
    int periodic; /* execution.checkpointing.interval > 0 */
    int64_t interval_ns, timeout_ns, min_pause_ns;
    int tolerable, failures, retain;
    const char *root, *sp_root;
    int64_t last_id, inflight, completed;
    int flags; /* of the one in flight */
    int acks, any_finished;
    int64_t bytes, align_us; /* of the one in flight: summed, longest over the acks */
    int64_t next_ns, start_ns, trigger_ms;
    char dir[4096];
    char latest[4096]; /* newest completed checkpoint or savepoint, or the restored one */
    /* A requested savepoint (taken when nothing is in flight) and the
     * REST request that waits for its outcome. */
    int sp_req;      /* CKF_* flags; 0: none */
    char *sp_target; /* NULL: state.savepoints.dir */
    int sp_client;   /* REST ticket; -1: nobody */
    char *fail;      /* set when the job must fail (too many failed checkpoints) */
    int stopped;     /* a stop with savepoint completed */
} jm_ckpt;

typedef struct jm_ctx {
    int stopping; /* CTL_STOP sent: the sources end, the job drains and commits */
    int signal;   /* the first stop signal (SIGINT/SIGTERM) seen; 0: none */
    int signal_here; /* rank 0 itself got one (mpirun signals every rank at once,
                      * so only a second signal to rank 0 escalates) */
    int drained;  /* the sources were ended early (signal drain or stop --drain) */
    jm_ckpt ck;
    conf *conf;
    plan plan;
    int ntms;
    int64_t max_sleep_ns;
    jobstate *js; /* the job-state model: status, metrics, checkpoints */
    restart_strategy rs;
    heartbeat hb; /* of the TaskManagers */
    int restarts;
    const char *no_savepoint; /* why this job cannot take savepoints, or NULL */
    char no_savepoint_buf[256];
    rest_server *rest;        /* the REST API; NULL: none */
    int restored_savepoint;   /* --restore took a savepoint */
    int cancel_req;
    double t_fail; /* when the last failure was seen */
    int console;   /* stderr is a terminal: a live status line instead of the periodic one */
} jm_ctx;

enum run_result { RUN_FINISHED, RUN_FAILED, RUN_STOPPED, RUN_CANCELLED };

static void broadcast(jm_ctx *jm, int type, const char *payload)
{
    for (int r = 1; r <= jm->ntms; r++)
        ctl_send(r, type, payload, strlen(payload) + 1);
}

/* Take one control message (heartbeats are consumed here: any message
 * proves its sender alive). With check, a TaskManager silent beyond
 * heartbeat.timeout ends the MPI world: it cannot be cancelled in order,
 * and the supervisor relaunches from the latest checkpoint. */
static int jm_poll(jm_ctx *jm, int check, int *src, int *t, char **payload, size_t *len)
{
    int64_t now = clock_mono_ns();
    while (ctl_poll(src, t, payload, len)) {
        hb_seen(&jm->hb, *src, now);
        jobstate_tm_seen(jm->js, *src, clock_wall_ms());
        if (*t != CTL_HEARTBEAT)
            return 1;
        free(*payload);
    }
    hb_send(&jm->hb, now);
    runtime_check_control();
    int64_t silent;
    int r = check ? hb_check(&jm->hb, now, &silent) : -1;
    if (r >= 0) {
        log_error("TaskManager rank %d sent nothing for %.1f s (heartbeat.timeout %.1f s): it "
                  "is stopped, hung or unreachable; ending the MPI world so the job can be "
                  "relaunched from its latest checkpoint (mpiflow submit, --restore auto)", r,
                  (double)silent / 1e9, (double)jm->hb.timeout_ns / 1e9);
        net_abort(MPF_EXIT_FAILED);
    }
    return 0;
}

/* Records the sources emitted in this attempt. */
static uint64_t source_records(const jm_ctx *jm)
{
    uint64_t n = 0;
    for (int i = 0; i < jm->plan.job->nops; i++)
        if (jm->plan.job->ops[i].kind->role == OP_SOURCE)
            n += (uint64_t)jobstate_vertex_sum(jm->js, i, "numRecordsOut");
    return n;
}

/* Stop an unbounded job that cannot take a savepoint on a signal: the TMs
 * end their sources; the job then drains and commits what it read. */
static void request_stop(jm_ctx *jm, int rank, int sig)
{
    log_info("stopping job '%s' on signal %d (%s) to rank %d: ending the sources, draining, "
             "committing what was read", jm->plan.job->name, sig, strsignal(sig), rank);
    jm->stopping = 1;
    jm->drained = 1;
    broadcast(jm, CTL_STOP, "");
}

static int64_t jm_now_ns(void)
{
    return (int64_t)(net_wtime() * 1e9);
}

/* Tell the REST request waiting on *client (a ticket; -1: none) how its
 * savepoint or stop ended: ok with the location, or why not. */
static void reply(jm_ctx *jm, int *client, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reply(jm_ctx *jm, int *client, int ok, const char *fmt, ...)
{
    if (*client < 0)
        return;
    char line[4608];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    rest_done(jm->rest, *client, ok, line);
    *client = -1;
}

/* Ask for a savepoint (flags: CKF_STOP, CKF_DRAIN); client (or -1) gets
 * the answer. Returns 0, or -1 when refused (answered already). */
static int request_savepoint(jm_ctx *jm, int flags, const char *dir, int client)
{
    jm_ckpt *ck = &jm->ck;
    const char *why = jm->no_savepoint;
    if (!why && (ck->sp_req || (ck->inflight && (ck->flags & CKF_SAVEPOINT))))
        why = "a savepoint is already in progress";
    else if (!why && (jm->stopping || ck->any_finished || ck->stopped || jm->cancel_req))
        why = "the job is already ending";
    if (why) {
        log_warn("savepoint refused: %s", why);
        reply(jm, &client, 0, "savepoint refused: %s", why);
        return -1;
    }
    ck->sp_req = flags | CKF_SAVEPOINT;
    free(ck->sp_target);
    ck->sp_target = dir && *dir ? xstrdup(dir) : NULL;
    ck->sp_client = client;
    if (flags & CKF_DRAIN)
        jm->drained = 1;
    log_info("%s requested%s", flags & CKF_STOP ? "stop with savepoint" : "savepoint",
             flags & CKF_DRAIN ? " (draining: event time advances to the end first)" : "");
    return 0;
}

/* Tell every TaskManager that checkpoint id will never complete, so they
 * drop what they collected for it and ignore its late barriers. */
static void ckpt_abort(jm_ctx *jm, int64_t id)
{
    char msg[32];
    snprintf(msg, sizeof msg, "%lld", (long long)id);
    broadcast(jm, CTL_ABORT, msg);
}

/* A savepoint did not complete: tell whoever asked. A stop (without
 * drain) whose savepoint failed has halted its sources: the job fails (and
 * restarts from its latest checkpoint if the strategy allows). */
static void savepoint_failed(jm_ctx *jm, const char *why)
{
    jm_ckpt *ck = &jm->ck;
    log_warn("savepoint %lld failed: %s", (long long)ck->inflight, why);
    jobstate_ckpt_failed(jm->js, ck->inflight, clock_wall_ms(), why);
    ckpt_abort(jm, ck->inflight);
    reply(jm, &ck->sp_client, 0, "savepoint %lld failed: %s", (long long)ck->inflight, why);
    if ((ck->flags & CKF_STOP) && !(ck->flags & CKF_DRAIN) && !ck->fail)
        ck->fail = xasprintf("stop with savepoint failed: %s", why);
    ck->inflight = 0;
    ck->flags = 0;
}

static void ckpt_declined(jm_ctx *jm, const char *why)
{
    jm_ckpt *ck = &jm->ck;
    if (ck->flags & CKF_SAVEPOINT) { /* savepoints do not count as failed checkpoints */
        savepoint_failed(jm, why);
        return;
    }
    jobstate_ckpt_failed(jm->js, ck->inflight, clock_wall_ms(), why);
    ck->failures++;
    log_warn("checkpoint %lld declined: %s (%d consecutive failure(s), %d tolerated)",
             (long long)ck->inflight, why, ck->failures, ck->tolerable);
    ckpt_abort(jm, ck->inflight);
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
    int sp = ck->flags & CKF_SAVEPOINT;
    ckpt_meta m = {0};
    m.job = j->name;
    m.checkpoint_id = ck->inflight;
    m.timestamp_ms = ck->trigger_ms;
    m.max_parallelism = jm->plan.max_parallelism;
    m.ntms = jm->ntms;
    m.is_savepoint = sp;
    m.nops = j->nops;
    m.ops = xcalloc((size_t)j->nops + 1, sizeof *m.ops);
    char sch[4096];
    for (int i = 0; i < j->nops; i++) {
        schema_format(&j->ops[i].out_schema, sch, sizeof sch);
        m.ops[i].uid = j->ops[i].uid;
        m.ops[i].parallelism = j->ops[i].parallelism;
        m.ops[i].schema = xstrdup(sch);
        m.ops[i].kind = op_kind_qualified(j->ops[i].kind);
    }
    mpf_err e = {0};
    int rc = ckpt_write_metadata(ck->dir, &m, &e);
    for (int i = 0; i < j->nops; i++) {
        free(m.ops[i].schema);
        free(m.ops[i].kind);
    }
    free(m.ops);
    if (rc) {
        ckpt_declined(jm, e.msg);
        return;
    }
    double ms = (double)(jm_now_ns() - ck->start_ns) / 1e6;
    log_info("%s %lld completed in %.1f ms (%lld bytes of state, alignment %.1f ms): %s",
             sp ? "savepoint" : "checkpoint", (long long)ck->inflight, ms, (long long)ck->bytes,
             (double)ck->align_us / 1e3, ck->dir);
    jobstate_ckpt_completed(jm->js, ck->inflight, clock_wall_ms(), ck->dir, ck->bytes,
                            ck->align_us);
    snprintf(ck->latest, sizeof ck->latest, "%s", ck->dir);
    char msg[32];
    snprintf(msg, sizeof msg, "%lld", (long long)ck->inflight);
    broadcast(jm, CTL_COMPLETE, msg);
    ck->inflight = 0;
    if (sp) {
        reply(jm, &ck->sp_client, 1, "%s", ck->dir);
        ck->stopped = (ck->flags & CKF_STOP) && !(ck->flags & CKF_DRAIN);
        ck->flags = 0;
        return;
    }
    ck->completed++;
    ck->failures = 0;
    if (ckpt_retain(ck->root, j->name, ck->retain, &e))
        log_warn("checkpoint retention: %s", e.msg);
    int64_t pause = jm_now_ns() + ck->min_pause_ns;
    if (ck->next_ns < pause)
        ck->next_ns = pause;
}

static void ckpt_on_ack(jm_ctx *jm, const char *payload)
{
    jm_ckpt *ck = &jm->ck;
    long long id = 0, bytes = 0, align_us = 0;
    int used = 0;
    if (sscanf(payload, "%lld%n", &id, &used) < 1 || id != ck->inflight || !ck->inflight)
        return; /* a late answer to a declined checkpoint */
    if (strncmp(payload + used, " fail ", 6) == 0) {
        ckpt_declined(jm, payload + used + 6);
        return;
    }
    if (sscanf(payload + used, " ok %lld %lld", &bytes, &align_us) != 2) {
        char why[160];
        snprintf(why, sizeof why, "malformed acknowledgement '%.100s'", payload);
        ckpt_declined(jm, why); /* not waiting for the timeout */
        return;
    }
    ck->bytes += bytes;
    if (align_us > ck->align_us)
        ck->align_us = align_us;
    if (++ck->acks == jm->ntms)
        ckpt_completed(jm);
}

static void ckpt_trigger(jm_ctx *jm, int flags, int64_t now);

/* Trigger and time out checkpoints and savepoints while the job runs. */
static void ckpt_tick(jm_ctx *jm)
{
    jm_ckpt *ck = &jm->ck;
    int64_t now = jm_now_ns();
    if (ck->inflight) {
        if (now - ck->start_ns > ck->timeout_ns)
            ckpt_declined(jm, "timed out (execution.checkpointing.timeout)");
        return;
    }
    if (jm->stopping || ck->any_finished || ck->stopped) {
        if (ck->sp_req) {
            ck->sp_req = 0;
            reply(jm, &ck->sp_client, 0, "savepoint refused: the job is already ending");
        }
        return;
    }
    int flags = ck->sp_req;
    if (!flags && (!ck->periodic || now < ck->next_ns))
        return;
    ckpt_trigger(jm, flags, now);
}

/* Trigger checkpoint last_id + 1 (a savepoint with CKF_SAVEPOINT). */
static void ckpt_trigger(jm_ctx *jm, int flags, int64_t now)
{
    jm_ckpt *ck = &jm->ck;
    mpf_err e = {0};
    int64_t id = ck->last_id + 1;
    if (flags & CKF_SAVEPOINT) {
        const char *root = ck->sp_target ? ck->sp_target : ck->sp_root;
        int n = snprintf(ck->dir, sizeof ck->dir, "%s/%s/savepoint-%lld-%lld", root,
                         jm->plan.job->name, (long long)id, (long long)clock_wall_ms());
        if (n < 0 || (size_t)n >= sizeof ck->dir)
            err_set(&e, MPF_ERANGE, "savepoint directory under '%s' is too long", root);
    } else {
        ckpt_chk_dir(ck->dir, sizeof ck->dir, ck->root, jm->plan.job->name, id, &e);
    }
    if (e.code) {
        log_warn("%s", e.msg);
        ck->next_ns = now + ck->interval_ns;
        if (flags & CKF_SAVEPOINT) {
            ck->sp_req = 0;
            reply(jm, &ck->sp_client, 0, "%s", e.msg);
        }
        return;
    }
    ck->inflight = ck->last_id = id;
    ck->flags = flags;
    ck->sp_req = 0;
    ck->acks = 0;
    ck->bytes = ck->align_us = 0;
    ck->start_ns = now;
    ck->trigger_ms = clock_wall_ms();
    jobstate_ckpt_triggered(jm->js, id, (flags & CKF_SAVEPOINT) != 0, ck->trigger_ms);
    if (!(flags & CKF_SAVEPOINT))
        ck->next_ns = now + ck->interval_ns;
    char *msg = xasprintf("%lld %d %lld %s", (long long)id, flags, (long long)ck->trigger_ms,
                          ck->dir);
    broadcast(jm, CTL_TRIGGER, msg);
    free(msg);
}

/* A stop signal (SIGINT, SIGTERM) on rank `rank` (0: here). A stopped job
 * never looks finished (USER-GUIDE "Signals and exit codes"):
 * - with checkpointing on (or SIGTERM and
 *   execution.stop-with-savepoint-on-sigterm), it stops with a savepoint:
 *   sinks commit what the savepoint covers, --restore latest resumes;
 * - otherwise an unbounded job drains and commits what it read;
 * - a bounded job is cancelled: nothing beyond completed checkpoints is
 *   committed, as its output is all or nothing.
 * A second signal to rank 0 while the job stops cancels it. */
static void on_stop_signal(jm_ctx *jm, int rank, int sig)
{
    jm_ckpt *ck = &jm->ck;
    const char *name = jm->plan.job->name;
    if (jm->signal) {
        if (rank == 0 && jm->signal_here && !jm->cancel_req) {
            log_warn("signal %d (%s) again: cancelling job '%s' now; nothing more is committed",
                     sig, strsignal(sig), name);
            jm->cancel_req = 1;
        }
        jm->signal_here |= rank == 0;
        return;
    }
    jm->signal = sig;
    jm->signal_here = rank == 0;
    if (jm->stopping || ck->stopped || ((ck->sp_req | ck->flags) & CKF_STOP)) {
        log_info("signal %d (%s) to rank %d: job '%s' is already stopping (another signal "
                 "cancels it)", sig, strsignal(sig), rank, name);
        return;
    }
    int savepoint = ck->periodic || (sig == SIGTERM && conf_bool(jm->conf,
                                     CONF_EXECUTION_STOP_WITH_SAVEPOINT_ON_SIGTERM));
    if (savepoint && !jm->no_savepoint) {
        log_info("signal %d (%s) to rank %d: stopping job '%s' with a savepoint (resume with "
                 "--restore latest; another signal cancels)", sig, strsignal(sig), rank, name);
        if (request_savepoint(jm, CKF_STOP, NULL, -1) == 0)
            return;
    }
    if (!jm->plan.all_bounded) {
        request_stop(jm, rank, sig);
        return;
    }
    log_info("signal %d (%s) to rank %d: cancelling bounded job '%s'; its output is committed "
             "only when its input is read to the end%s", sig, strsignal(sig), rank, name,
             ck->periodic ? "" : " (with checkpointing on it would stop with a savepoint)");
    jm->cancel_req = 1;
}

/* A request from the REST API: savepoint, stop [drain], cancel. */
static void handle_rest(jm_ctx *jm, rest_request *r)
{
    if (r->op == REST_OP_CANCEL) {
        if (!jm->cancel_req)
            log_info("cancel requested");
        jm->cancel_req = 1;
    } else {
        int flags = r->op == REST_OP_STOP ? CKF_STOP | (r->drain ? CKF_DRAIN : 0) : 0;
        request_savepoint(jm, flags, r->dir, r->ticket);
    }
    free(r->dir);
}

/* Signals and REST requests, between control messages. */
static void jm_events(jm_ctx *jm)
{
    for (int n = runtime_take_stop_signals(); n > 0; n--)
        on_stop_signal(jm, 0, runtime_stop_signal());
    if (runtime_take_savepoint_signal()) {
        log_info("SIGUSR1: taking a savepoint");
        request_savepoint(jm, 0, NULL, -1);
    }
    rest_request r;
    while (rest_take(jm->rest, &r))
        handle_rest(jm, &r);
}

/* Collect one message of `type` from every TM (DEPLOYED, COMMITTED);
 * FAILED messages and non-empty payloads are errors. Returns the number
 * of errors; the first is kept in *first_error. */
static int gather(jm_ctx *jm, int type, char **first_error)
{
    int got = 0, errors = 0;
    int64_t backoff = 0;
    while (got < jm->ntms) {
        int src, t;
        char *payload;
        size_t len;
        if (!jm_poll(jm, type != CTL_DEPLOYED, &src, &t, &payload, &len)) {
            idle_backoff(&backoff, jm->max_sleep_ns);
            continue;
        }
        backoff = 0;
        if (t == CTL_ACK) {
            ckpt_on_ack(jm, payload);
        } else if (t == CTL_FAILED || (t == type && len > 0 && payload[0])) {
            errors++;
            log_error("%s", payload);
            jobstate_exception(jm->js, src, payload, clock_wall_ms());
            if (!*first_error)
                *first_error = xstrdup(payload);
            got += t == type;
            if (t == CTL_FAILED) {
                free(payload);
                break; /* this TM waits for CANCEL */
            }
        } else if (t == type) {
            got++;
        } else if (t != CTL_STOP) {
            log_warn("unexpected %s from rank %d", ctl_type_name(t), src);
        }
        free(payload);
    }
    return errors;
}

static void on_finished(jm_ctx *jm, int src, const char *text);

/* From START until every TM finished, a task failed, a stop with
 * savepoint completed, or a cancel was requested. */
static int run_until_end(jm_ctx *jm, char **err)
{
    jm_ckpt *ck = &jm->ck;
    int got = 0, result = -1;
    int *seen = xcalloc((size_t)jm->ntms + 2, sizeof *seen);
    int64_t backoff = 0;
    while (result < 0) {
        jm_events(jm);
        ckpt_tick(jm);
        if (jm->console)
            console_tick(jm->js, clock_mono_ns(), clock_wall_ms());
        jobstate_tick(jm->js, clock_mono_ns(), clock_wall_ms());
        if (ck->fail) {
            log_error("%s", ck->fail);
            jobstate_exception(jm->js, 0, ck->fail, clock_wall_ms());
            *err = ck->fail;
            ck->fail = NULL;
            result = RUN_FAILED;
            break;
        }
        if (ck->stopped) {
            result = RUN_STOPPED;
            break;
        }
        if (jm->cancel_req) {
            result = RUN_CANCELLED;
            break;
        }
        int src, t;
        char *payload;
        size_t len;
        if (!jm_poll(jm, 1, &src, &t, &payload, &len)) {
            idle_backoff(&backoff, jm->max_sleep_ns);
            continue;
        }
        backoff = 0;
        switch (t) {
        case CTL_ACK:
            ckpt_on_ack(jm, payload);
            break;
        case CTL_STOP:
            on_stop_signal(jm, src, atoi(payload));
            break;
        case CTL_FAILED:
            log_error("%s", payload);
            jobstate_exception(jm->js, src, payload, clock_wall_ms());
            *err = xstrdup(payload);
            result = RUN_FAILED;
            break;
        case CTL_FINISHED:
            if (!ck->any_finished) {
                /* No checkpoints once tasks finish: the end of the job
                 * commits. A draining stop's savepoint is the exception:
                 * every TM acknowledges it before it finishes. */
                ck->any_finished = 1;
                if (ck->inflight && !(ck->flags & CKF_DRAIN)) {
                    if (ck->flags & CKF_SAVEPOINT)
                        savepoint_failed(jm, "the job finished first");
                    ck->inflight = 0;
                }
            }
            on_finished(jm, src, payload);
            if (src >= 1 && src <= jm->ntms && !seen[src]) {
                seen[src] = 1;
                if (++got == jm->ntms)
                    result = RUN_FINISHED;
            }
            break;
        case CTL_METRICS:
            if (jobstate_on_metrics(jm->js, src, payload, clock_wall_ms()))
                log_debug("ignoring metrics of an unknown version from rank %d", src);
            break;
        default:
            log_warn("unexpected %s from rank %d", ctl_type_name(t), src);
        }
        free(payload);
    }
    free(seen);
    return result;
}

/* Cancel every task and wait until all TMs drained (they then wait for
 * SHUTDOWN or RESTART). */
static void cancel_tasks(jm_ctx *jm)
{
    broadcast(jm, CTL_CANCEL, "");
    int64_t backoff = 0;
    int got = 0;
    while (got < jm->ntms) {
        int src, t;
        char *payload;
        size_t len;
        if (!jm_poll(jm, 1, &src, &t, &payload, &len)) {
            idle_backoff(&backoff, jm->max_sleep_ns);
            continue;
        }
        backoff = 0;
        if (t == CTL_CANCELED) {
            got++;
            on_finished(jm, src, payload); /* the metrics of what ran */
        }
        else if (t == CTL_FAILED)
            log_error("%s", payload); /* a second failure while cancelling */
        free(payload);
    }
}

/* Wait out a restart delay, still answering the control socket. Returns
 * 0, or -1 when a stop signal or cancel ends the job instead. */
static int restart_wait(jm_ctx *jm, int64_t delay_ns)
{
    int64_t until = jm_now_ns() + delay_ns;
    while (jm_now_ns() < until) {
        int src, t;
        char *payload;
        size_t len;
        while (jm_poll(jm, 1, &src, &t, &payload, &len)) {
            log_warn("unexpected %s from rank %d while waiting to restart", ctl_type_name(t),
                     src);
            free(payload);
        }
        rest_request r;
        while (rest_take(jm->rest, &r)) {
            if (r.op == REST_OP_CANCEL)
                jm->cancel_req = 1;
            else
                reply(jm, &r.ticket, 0, "the job is restarting after a failure");
            free(r.dir);
        }
        if (runtime_stop_signal() || jm->cancel_req)
            return -1;
        int64_t step = until - jm_now_ns();
        if (step > 10000000)
            step = 10000000;
        if (step > 0) {
            struct timespec ts = {0, (long)step};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

/* Before a restart: metrics and checkpoint state of the failed attempt go;
 * without a completed checkpoint the job starts over, so what it staged
 * is removed as at a fresh start. */
static int prepare_restart(jm_ctx *jm, mpf_err *e)
{
    jm_ckpt *ck = &jm->ck;
    jobstate_new_attempt(jm->js, clock_wall_ms());
    const js_checkpoint *lc = jobstate_last_completed(jm->js);
    const js_restore *lr = jobstate_last_restore(jm->js, NULL);
    if (lc)
        jobstate_restored(jm->js, lc->id, lc->savepoint, lc->path, clock_wall_ms());
    else if (lr)
        jobstate_restored(jm->js, lr->id, lr->savepoint, lr->path, clock_wall_ms());
    ck->inflight = 0;
    ck->flags = 0;
    ck->any_finished = 0;
    ck->failures = 0;
    ck->next_ns = jm_now_ns() + ck->interval_ns;
    jm->stopping = 0;
    if (ck->latest[0])
        return 0;
    for (int i = 0; i < jm->plan.job->nops; i++) {
        op_spec *s = &jm->plan.job->ops[i];
        s->restoring = 2;
        if (s->kind->global_init && s->kind->global_init(s, e))
            return e->code;
    }
    return 0;
}

/* After the tasks finished: commit, then (with checkpoints) mark the job
 * finished and delete its checkpoints, as Flink does for a FINISHED job. */
/* Every task finished: with checkpointing on, take a final checkpoint of
 * the finished tasks before the end-of-job commit (Flink's final
 * checkpoint). Its COMPLETE publishes what the sinks staged up to the end,
 * so a rank lost during the commit is relaunched from a checkpoint whose
 * sources are at their end and whose sinks know what they published:
 * nothing is read again, published twice or lost. 0 when it completed;
 * when it did not, the commit goes ahead as without checkpoints. */
static int final_checkpoint(jm_ctx *jm)
{
    jm_ckpt *ck = &jm->ck;
    ckpt_trigger(jm, CKF_FINAL, jm_now_ns());
    int64_t id = ck->inflight, backoff = 0;
    while (ck->inflight == id && id) {
        ckpt_tick(jm); /* times it out */
        int src, t;
        char *payload;
        size_t len;
        if (!jm_poll(jm, 1, &src, &t, &payload, &len)) {
            idle_backoff(&backoff, jm->max_sleep_ns);
            continue;
        }
        backoff = 0;
        if (t == CTL_ACK)
            ckpt_on_ack(jm, payload);
        else if (t == CTL_FAILED)
            ckpt_declined(jm, payload);
        else if (t == CTL_METRICS)
            jobstate_on_metrics(jm->js, src, payload, clock_wall_ms());
        else if (t != CTL_STOP)
            log_warn("unexpected %s from rank %d", ctl_type_name(t), src);
        free(payload);
    }
    return strcmp(ck->latest, ck->dir) == 0 ? 0 : -1;
}

static int finish_job(jm_ctx *jm)
{
    char *err = NULL;
    if (jm->ck.periodic && !jm->plan.batch_mode && final_checkpoint(jm))
        log_warn("the final checkpoint did not complete: committing the end of the job "
                 "without it");
    broadcast(jm, CTL_COMMIT, "");
    int bad = gather(jm, CTL_COMMITTED, &err);
    free(err);
    if (bad) {
        log_error("job '%s' ran but committing its output failed on %d TaskManager(s)",
                  jm->plan.job->name, bad);
        return 1;
    }
    if (jm->ck.periodic) {
        mpf_err e = {0};
        if (ckpt_mark_finished(jm->ck.root, jm->plan.job->name, &e) ||
            ckpt_retain(jm->ck.root, jm->plan.job->name, 0, &e))
            log_warn("cleaning up the checkpoints of the finished job: %s", e.msg);
    }
    return 0;
}

/* Cancelled on request: checkpoints stay or go by
 * execution.checkpointing.externalized-checkpoint-retention. */
static void cancelled_job(jm_ctx *jm)
{
    const char *keep = conf_str(jm->conf, CONF_EXECUTION_CHECKPOINTING_EXTERNALIZED_CHECKPOINT_RETENTION);
    mpf_err e = {0};
    if (jm->ck.periodic && strcmp(keep, "DELETE_ON_CANCELLATION") == 0 &&
        ckpt_retain(jm->ck.root, jm->plan.job->name, 0, &e))
        log_warn("deleting the checkpoints of the cancelled job: %s", e.msg);
    log_info("job '%s' cancelled after reading %" PRIu64 " source record(s) in this attempt; "
             "nothing beyond completed checkpoints is committed; %s", jm->plan.job->name,
             source_records(jm),
             !jm->ck.periodic ? "it has no checkpoints"
             : strcmp(keep, "DELETE_ON_CANCELLATION") == 0 ? "its checkpoints are deleted"
                                                          : "its checkpoints are kept");
}

/* Why savepoints are impossible for this job, or NULL (into buf). */
static const char *savepoint_obstacle(const plan *p, char *buf, size_t n)
{
    if (p->batch_mode)
        return "the job runs in BATCH mode; set execution.runtime-mode: STREAMING";
    for (int i = 0; i < p->job->nops; i++) {
        const op_spec *s = &p->job->ops[i];
        if (!op_kind_checkpointable(s->kind)) {
            snprintf(buf, n, "operator '%s' (%s) cannot take part in checkpoints", s->uid,
                     s->kind->name);
            return buf;
        }
    }
    return NULL;
}
static void on_finished(jm_ctx *jm, int src, const char *text)
{
    jobstate_on_final(jm->js, src, text, clock_wall_ms());
}

static void print_summary(jm_ctx *jm, double secs, int code)
{
    const job *j = jm->plan.job;
    uint64_t src_out = source_records(jm);
    const histo *lat = jobstate_histo(jm->js, JS_H_LATENCY);
    const histo *wm_lat = jobstate_histo(jm->js, JS_H_WM_LATENCY);
    const histo *align = jobstate_histo(jm->js, JS_H_ALIGNMENT);
    if (code == MPF_EXIT_STOPPED)
        log_info("job '%s' stopped after %.3f s on %d TaskManager(s): its sources were ended "
                 "early, after %" PRIu64 " record(s); the output holds exactly what they read; "
                 "the job did not finish (duration_s=%.3f)", j->name, secs, jm->ntms, src_out,
                 secs);
    else
        log_info("job '%s' finished in %.3f s on %d TaskManager(s) (duration_s=%.3f)", j->name,
                 secs, jm->ntms, secs);
    log_info("  %-18s %11s %14s %14s", "operator", "parallelism", "records in", "records out");
    for (int i = 0; i < j->nops; i++) {
        const op_spec *s = &j->ops[i];
        js_totals tot;
        jobstate_vertex_totals(jm->js, i, &tot);
        log_info("  %-18s %11d %14" PRIu64 " %14" PRIu64 "%s", s->uid, s->parallelism,
                 tot.in, tot.out, s->kind->role == OP_SINK ? "  (sink)" : "");
        if (tot.late)
            log_warn("  operator '%s' dropped %" PRIu64 " late record(s) (numLateRecordsDropped)",
                     s->uid, tot.late);
        if (tot.state_peak)
            log_info("  operator '%s' state: peak %" PRIu64 " bytes over its subtasks "
                     "(state_peak_bytes=%" PRIu64 ")", s->uid, tot.state_peak, tot.state_peak);
        if (tot.skipped)
            log_warn("  operator '%s' skipped %" PRIu64 " malformed record(s) "
                     "(csv.ignore-parse-errors)", s->uid, tot.skipped);
    }
    log_info("  source records: %" PRIu64 " (%.0f records/s)", src_out,
             secs > 0 ? (double)src_out / secs : 0.0);
    if (lat->count)
        log_info("  latency markers at sinks: %" PRIu64 ", p50 %.3f ms, p99 %.3f ms, max %.3f ms "
                 "(latency_p50_ms=%.3f latency_p99_ms=%.3f)", lat->count,
                 histo_quantile_us(lat, 0.5) / 1e3, histo_quantile_us(lat, 0.99) / 1e3,
                 lat->max_us / 1e3, histo_quantile_us(lat, 0.5) / 1e3,
                 histo_quantile_us(lat, 0.99) / 1e3);
    if (wm_lat->count)
        log_info("  watermarks, source to sink: %" PRIu64 ", p50 %.3f ms, p99 %.3f ms "
                 "(wm_latency_p50_ms=%.3f wm_latency_p99_ms=%.3f)", wm_lat->count,
                 histo_quantile_us(wm_lat, 0.5) / 1e3, histo_quantile_us(wm_lat, 0.99) / 1e3,
                 histo_quantile_us(wm_lat, 0.5) / 1e3, histo_quantile_us(wm_lat, 0.99) / 1e3);
    if (jobstate_restarts(jm->js))
        log_info("  restarts: %d (restart strategy %s)", jobstate_restarts(jm->js),
                 restart_name(&jm->rs));
    int64_t completed = 0;
    jobstate_ckpt_counts(jm->js, &completed, NULL, NULL, NULL);
    if (jm->ck.periodic)
        log_info("  checkpoints: %lld completed; barrier alignment p50 %.3f ms, p99 %.3f ms over "
                 "%llu alignments (alignment_p99_ms=%.3f)", (long long)completed,
                 histo_quantile_us(align, 0.5) / 1e3, histo_quantile_us(align, 0.99) / 1e3,
                 (unsigned long long)align->count, histo_quantile_us(align, 0.99) / 1e3);
    for (int r = 1; r <= jm->ntms; r++)
        if (jobstate_tm(jm->js, r)->summary)
            log_info("tm-%d %s", r, jobstate_tm(jm->js, r)->summary);
}


/* Resolve --restore (latest: the newest completed checkpoint or savepoint
 * of this job) and check that the job can take the state, before anything
 * runs or is overwritten: same max-parallelism, every operator with state
 * present (unless allowed), unchanged schemas and kinds, sources without
 * union state at their old parallelism. */
static int jm_resolve_restore(jm_ctx *jm, submission *sub, mpf_err *e)
{
    const job *j = jm->plan.job;
    char path[4096];
    int is_auto = strcmp(sub->restore, "auto") == 0;
    if (!is_auto && strcmp(sub->restore, "latest") == 0 &&
        ckpt_is_finished(conf_str(jm->conf, CONF_STATE_CHECKPOINTS_DIR), j->name))
        return err_set(e, MPF_ENOENT, "job '%s' finished and committed its output (%s/%s/%s): "
                       "its checkpoints were deleted, and resuming from an earlier savepoint "
                       "would produce that output again; run it without --restore to start "
                       "it again, or give --restore PATH to replay from a savepoint on purpose",
                       j->name, conf_str(jm->conf, CONF_STATE_CHECKPOINTS_DIR), j->name,
                       CKPT_FINISHED_FILE);
    if (is_auto || strcmp(sub->restore, "latest") == 0) {
        if (ckpt_find_latest(conf_str(jm->conf, CONF_STATE_CHECKPOINTS_DIR),
                             conf_str(jm->conf, CONF_STATE_SAVEPOINTS_DIR), j->name, path,
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
        /* kinds are "<role>/<name>"; checkpoints of earlier builds have the bare name */
        char *kind = op_kind_qualified(s->kind);
        const char *want = om->kind && !strchr(om->kind, '/') ? s->kind->name : kind;
        if (om->kind && om->kind[0] && strcmp(om->kind, want) != 0)
            rc = err_set(e, MPF_EPLAN, "%s: operator '%s' was a %s, the job makes it a %s",
                         sub->restore, om->uid, om->kind, kind);
        else if (om->schema && strcmp(om->schema, sch) != 0)
            rc = err_set(e, MPF_ESCHEMA, "%s: operator '%s' changed its output schema (saved: "
                         "%s; now: %s)", sub->restore, om->uid, om->schema, sch);
        else if (s->kind->role == OP_SOURCE && !s->kind->union_state &&
                 om->parallelism != s->parallelism)
            rc = err_set(e, MPF_EPLAN, "%s: %s source '%s' ran with parallelism %d and now has "
                         "%d; this kind of source keeps its parallelism across a restore (set "
                         "parallelism: %d on it)", sub->restore, s->kind->name, om->uid,
                         om->parallelism, s->parallelism, om->parallelism);
        free(kind);
    }
    if (!rc) {
        jm->ck.last_id = m->checkpoint_id;
        jm->restored_savepoint = m->is_savepoint;
        snprintf(jm->ck.latest, sizeof jm->ck.latest, "%s", sub->restore);
        log_info("restoring job '%s' from %s %lld (%s)", j->name,
                 m->is_savepoint ? "savepoint" : "checkpoint", (long long)m->checkpoint_id,
                 sub->restore);
    }
    ckpt_close(c);
    return rc;
}

/* Read the coordinator's settings; start the REST API. */
static void jm_setup(jm_ctx *jm)
{
    jm_ckpt *ck = &jm->ck;
    const conf *c = jm->conf;
    ck->interval_ns = conf_duration_ns(c, CONF_EXECUTION_CHECKPOINTING_INTERVAL);
    ck->periodic = ck->interval_ns > 0;
    ck->timeout_ns = conf_duration_ns(c, CONF_EXECUTION_CHECKPOINTING_TIMEOUT);
    ck->min_pause_ns = conf_duration_ns(c, CONF_EXECUTION_CHECKPOINTING_MIN_PAUSE);
    ck->tolerable = (int)conf_int(c, CONF_EXECUTION_CHECKPOINTING_TOLERABLE_FAILED_CHECKPOINTS);
    ck->retain = (int)conf_int(c, CONF_STATE_CHECKPOINTS_NUM_RETAINED);
    ck->root = conf_str(c, CONF_STATE_CHECKPOINTS_DIR);
    ck->sp_root = conf_str(c, CONF_STATE_SAVEPOINTS_DIR);
    ck->next_ns = jm_now_ns() + ck->interval_ns;
    ck->sp_client = -1;
    jm->no_savepoint = savepoint_obstacle(&jm->plan, jm->no_savepoint_buf,
                                          sizeof jm->no_savepoint_buf);
    restart_init(&jm->rs, c);
    if (ck->periodic)
        log_info("checkpoints every %.3f s into %s/%s (%s); restart strategy %s",
                 (double)ck->interval_ns / 1e9, ck->root, jm->plan.job->name,
                 conf_str(c, CONF_EXECUTION_CHECKPOINTING_MODE), restart_name(&jm->rs));
    rest_job_info ji = {c, jm->no_savepoint, jm->plan.batch_mode, jm->plan.max_parallelism,
                        jm->plan.slots_per_tm};
    mpf_err e = {0};
    if (rest_start(&jm->rest, jm->js, &ji, &e))
        log_warn("no REST API (mpiflow savepoint/stop/cancel will not reach this job): %s", e.msg);
    else if (jm->rest)
        log_info("REST API at %s, job id %s (mpiflow %s %s)", rest_url(jm->rest),
                 jobstate_job_id(jm->js), jm->no_savepoint ? "cancel" : "savepoint|stop|cancel",
                 jm->plan.job->name);
}

/* The job ended: its final state into jobmanager.archive.fs.dir. */
static void jm_archive(jm_ctx *jm)
{
    const char *dir = conf_str(jm->conf, CONF_JOBMANAGER_ARCHIVE_FS_DIR);
    if (!*dir)
        return;
    rest_job_info ji = {jm->conf, jm->no_savepoint, jm->plan.batch_mode,
                        jm->plan.max_parallelism, jm->plan.slots_per_tm};
    mpf_err e = {0};
    char *path;
    jobstate_lock(jm->js);
    int rc = archive_write(jm->js, &ji, dir, &path, &e);
    jobstate_unlock(jm->js);
    if (rc)
        log_warn("%s", e.msg);
    else
        log_info("job archived in %s (mpiflow history %s)", path, dir);
    free(path);
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
    if (!rc)
        rc = ckpt_lib_init(&e);
    int already_done = 0;
    if (!rc && sub->restore && strcmp(sub->restore, "auto") == 0 &&
        ckpt_is_finished(conf_str(jm.conf, CONF_STATE_CHECKPOINTS_DIR), jm.plan.job->name)) {
        /* A relaunch after the job had already committed everything. */
        already_done = 1;
        rc = 1;
    }
    if (!rc && sub->restore)
        rc = jm_resolve_restore(&jm, sub, &e);
    else if (!rc)
        ckpt_clear_finished(conf_str(jm.conf, CONF_STATE_CHECKPOINTS_DIR), jm.plan.job->name);
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
    if (already_done) {
        log_info("job '%s' already finished and committed its output (%s/%s/%s): nothing to "
                 "do", jm.plan.job->name, conf_str(jm.conf, CONF_STATE_CHECKPOINTS_DIR),
                 jm.plan.job->name, CKPT_FINISHED_FILE);
        rc = 0;
        goto out;
    }
    if (rc || bc) {
        if (bc)
            err_set(&e, MPF_EMPI, "could not send the job to the TaskManagers");
        log_error("%s", e.msg);
        rc = MPF_EXIT_FAILED;
        goto out;
    }
    log_init("jm", log_level_parse(conf_str(jm.conf, CONF_LOG_LEVEL)));
    jm.console = runtime_open_log(jm.conf, 0);
    jm.max_sleep_ns = conf_duration_ns(jm.conf, CONF_TASKMANAGER_NETWORK_POLL_MAX_SLEEP);
    jm.js = jobstate_new(&jm.plan, jm.ntms, jm.conf, clock_wall_ms());
    jobstate_status_to_file(jm.js, jm.console);
    if (sub->restore)
        jobstate_restored(jm.js, jm.ck.last_id, jm.restored_savepoint, sub->restore,
                          clock_wall_ms());
    log_info("job '%s': %d operator(s) in %d task(s) on %d TaskManager(s), %s mode",
             jm.plan.job->name, jm.plan.job->nops, jm.plan.ntasks, jm.ntms,
             jm.plan.batch_mode ? "BATCH" : "STREAMING");
    jm_setup(&jm);
    hb_init(&jm.hb, jm.conf, 1, jm.ntms, clock_mono_ns());
    double t0 = net_wtime();
    int code = MPF_EXIT_FAILED;
    for (;;) {
        char *err = NULL;
        if (gather(&jm, CTL_DEPLOYED, &err)) {
            free(err);
            cancel_tasks(&jm); /* a deployment (or restore) error is not retried */
            break;
        }
        double t_start = net_wtime();
        if (jm.restarts)
            log_info("job '%s' running again after restart %d, %.3f s after the failure "
                     "(failover_s=%.3f)", jm.plan.job->name, jm.restarts, t_start - jm.t_fail,
                     t_start - jm.t_fail);
        broadcast(&jm, CTL_START, "");
        jobstate_set_status(jm.js, JS_RUNNING, clock_wall_ms());
        log_info("processing starts (start_unix_ms=%lld)", (long long)clock_wall_ms());
        int result = run_until_end(&jm, &err);
        console_clear(); /* what follows is the end, or a restart that redraws it */
        if (result == RUN_FINISHED) {
            free(err);
            code = finish_job(&jm) ? MPF_EXIT_FAILED
                   : jm.drained    ? MPF_EXIT_STOPPED
                                   : MPF_EXIT_FINISHED;
            if (code != MPF_EXIT_FAILED)
                print_summary(&jm, net_wtime() - t0, code);
            break;
        }
        if (result != RUN_STOPPED)
            jobstate_set_status(jm.js, result == RUN_FAILED ? JS_FAILING : JS_CANCELLING,
                                clock_wall_ms());
        cancel_tasks(&jm);
        if (result == RUN_STOPPED || result == RUN_CANCELLED) {
            free(err);
            if (result == RUN_CANCELLED) {
                cancelled_job(&jm);
                code = MPF_EXIT_CANCELLED;
            } else {
                log_info("job '%s' stopped with savepoint %s after reading %" PRIu64 " source "
                         "record(s); its sinks committed what the savepoint covers; resume it "
                         "with --restore latest (or --restore %s)", jm.plan.job->name,
                         jm.ck.latest, source_records(&jm), jm.ck.latest);
                code = MPF_EXIT_STOPPED;
            }
            break;
        }
        if (jm.signal) { /* no restart after a stop signal */
            log_error("job '%s' failed while stopping on signal %d; it is not restarted; "
                      "no output beyond completed checkpoints is committed%s%s",
                      jm.plan.job->name, jm.signal, jm.ck.latest[0] ? "; the latest is " : "",
                      jm.ck.latest);
            free(err);
            break;
        }
        /* A task failed: the restart strategy decides. */
        jm.t_fail = net_wtime();
        int64_t delay = 0;
        char why[256];
        if (!restart_on_failure(&jm.rs, clock_mono_ns(), &delay, why, sizeof why)) {
            log_error("job '%s' failed (%s); no output beyond completed checkpoints is committed",
                      jm.plan.job->name, why);
            free(err);
            break;
        }
        free(err);
        log_warn("job '%s' failed; restarting (%s) from %s", jm.plan.job->name, why,
                 jm.ck.latest[0] ? jm.ck.latest : "the beginning (no completed checkpoint)");
        reply(&jm, &jm.ck.sp_client, 0, "the job failed before the savepoint completed");
        jm.ck.sp_req = 0;
        jobstate_set_status(jm.js, JS_RESTARTING, clock_wall_ms());
        if (restart_wait(&jm, delay)) {
            if (!jm.cancel_req)
                log_info("signal %d (%s) while waiting to restart: cancelling job '%s'",
                         runtime_stop_signal(), strsignal(runtime_stop_signal()),
                         jm.plan.job->name);
            cancelled_job(&jm);
            code = MPF_EXIT_CANCELLED;
            break;
        }
        if (prepare_restart(&jm, &e)) {
            log_error("cannot restart job '%s': %s", jm.plan.job->name, e.msg);
            break;
        }
        jm.restarts++;
        broadcast(&jm, CTL_RESTART, jm.ck.latest);
        if (net_data_reset(&e)) {
            log_error("%s", e.msg);
            net_abort(1);
        }
    }
    jobstate_set_status(jm.js, code == MPF_EXIT_CANCELLED ? JS_CANCELED
                               : code == MPF_EXIT_FAILED  ? JS_FAILED
                                                          : JS_FINISHED, clock_wall_ms());
    console_clear();
    jm_archive(&jm);
    char shutdown[16];
    snprintf(shutdown, sizeof shutdown, "%d", code);
    broadcast(&jm, CTL_SHUTDOWN, shutdown);
    rc = code;
out:
    restart_fini(&jm.rs);
    hb_fini(&jm.hb);
    rest_stop(jm.rest);
    free(jm.ck.fail);
    free(jm.ck.sp_target);
    jobstate_destroy(jm.js);
    if (jm.plan.job)
        plan_fini(&jm.plan);
    conf_destroy(jm.conf);
    return rc;
}
