/* The TaskManager: runs the subtasks placed on this rank (runtime layer).
 * One thread per TaskManager runs every local subtask cooperatively: each
 * loop polls the network, steps every task once, and sleeps with a short
 * exponential back-off when nothing moved, so an idle rank does not burn
 * its core (DESIGN.md section 10). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "net/channel.h"
#include "net/control.h"
#include "net/world.h"
#include "pin/pin.h"
#include "record/segpool.h"
#include "runtime/runtime.h"
#include "runtime/task.h"
#include "util/log.h"
#include "util/xmalloc.h"

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

long runtime_peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

void runtime_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int runtime_stop_signal(void)
{
    return stop_signal;
}

typedef struct tm_ctx {
    int rank;
    conf *conf;
    plan plan;
    int ntasks;
    task_inst *tasks;
    int64_t max_sleep_ns;
} tm_ctx;

/* Wait for one of the wanted control messages, keeping the data plane
 * drained meanwhile. Returns the type received. */
static int wait_ctl(int a, int b, int64_t max_sleep_ns)
{
    int64_t backoff = 0;
    for (;;) {
        int src, type;
        char *payload;
        size_t len;
        dp_poll(NULL);
        if (ctl_poll(&src, &type, &payload, &len)) {
            free(payload);
            if (type == a || type == b)
                return type;
            if (type == CTL_STOP)
                continue; /* already finishing */
            log_warn("ignoring %s from rank %d", ctl_type_name(type), src);
            backoff = 0;
            continue;
        }
        idle_backoff(&backoff, max_sleep_ns);
    }
}

/* Cancel path: discard output, let peers' sends complete, acknowledge,
 * leave on SHUTDOWN. */
static int tm_cancel(tm_ctx *tm)
{
    dp_set_discard(1);
    for (int i = 0; i < tm->ntasks; i++)
        task_close(&tm->tasks[i]);
    tm->ntasks = 0;
    int64_t backoff = 0;
    while (dp_pending_sends() > 0) {
        if (dp_poll(NULL) > 0)
            backoff = 0;
        else
            idle_backoff(&backoff, tm->max_sleep_ns);
    }
    ctl_send(0, CTL_CANCELED, "", 0);
    wait_ctl(CTL_SHUTDOWN, CTL_SHUTDOWN, tm->max_sleep_ns);
    return 1;
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
    histo lat = {0}, wm_lat = {0};
    for (int i = 0; i < tm->ntasks; i++) {
        task_inst *t = &tm->tasks[i];
        for (int k = 0; k < t->nops; k++) {
            op_inst *oi = &t->ops[k];
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
        if (t->lat) {
            lat.count += t->lat->count;
            wm_lat.count += t->wm_lat->count;
            lat.max_us = lat.max_us > t->lat->max_us ? lat.max_us : t->lat->max_us;
            wm_lat.max_us = wm_lat.max_us > t->wm_lat->max_us ? wm_lat.max_us : t->wm_lat->max_us;
        }
    }
    char *h1 = histo_encode(&lat), *h2 = histo_encode(&wm_lat);
    size_t need = strlen(h1) + strlen(h2) + 32;
    if (cap - n < need) {
        cap = n + need;
        buf = xrealloc(buf, cap);
    }
    n += (size_t)snprintf(buf + n, cap - n, "latency %s\nwmlatency %s\n", h1, h2);
    free(h1);
    free(h2);
    *len = n;
    return buf;
}

static int tm_fail(tm_ctx *tm, const mpf_err *e)
{
    log_error("%s", e->msg);
    char *msg = xasprintf("tm-%d (rank %d, %s): %s", tm->rank, tm->rank, net_hostname(), e->msg);
    ctl_send(0, CTL_FAILED, msg, strlen(msg) + 1);
    free(msg);
    wait_ctl(CTL_CANCEL, CTL_CANCEL, tm->max_sleep_ns);
    return tm_cancel(tm);
}

static int tm_run_loop(tm_ctx *tm)
{
    mpf_err e = {0};
    int64_t backoff = 0;
    int asked_stop = 0;
    for (;;) {
        int progress = dp_poll(&e);
        if (progress < 0)
            return tm_fail(tm, &e);
        int src, type;
        char *payload;
        size_t len;
        if (ctl_poll(&src, &type, &payload, &len)) {
            free(payload);
            if (type == CTL_CANCEL)
                return tm_cancel(tm);
            if (type == CTL_STOP) {
                log_info("stopping: ending the sources");
                for (int i = 0; i < tm->ntasks; i++)
                    task_request_stop(&tm->tasks[i]);
            } else {
                log_warn("unexpected %s from rank %d", ctl_type_name(type), src);
            }
        }
        if (stop_signal && !asked_stop) {
            asked_stop = 1;
            ctl_send(0, CTL_STOP, "", 0);
        }
        int64_t now = mono_ns();
        int done = 1;
        for (int i = 0; i < tm->ntasks; i++) {
            int rc = task_step(&tm->tasks[i], now, &e);
            if (rc < 0)
                return tm_fail(tm, &e);
            progress += rc;
            done &= tm->tasks[i].state == TASK_DONE;
        }
        if (done && dp_pending_sends() == 0)
            return 0;
        if (progress)
            backoff = 0;
        else
            idle_backoff(&backoff, tm->max_sleep_ns);
    }
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
    int rc = submission_decode(&sub, blob + 1, len - 1, &e);
    free(blob);
    if (!rc) {
        rc = submission_plan(&sub, net_size() - 1, &tm.conf, &tm.plan, &e);
        submission_fini(&sub);
    }
    net_node_tm_index(&idx, &count);
    if (rc) {
        char *msg = xasprintf("tm-%d: %s", tm.rank, e.msg);
        ctl_send(0, CTL_DEPLOYED, msg, strlen(msg) + 1);
        free(msg);
        wait_ctl(CTL_CANCEL, CTL_CANCEL, tm.max_sleep_ns);
        return tm_cancel(&tm);
    }
    log_init(role, log_level_parse(conf_str(tm.conf, "log.level")));
    tm.max_sleep_ns = conf_duration_ns(tm.conf, "taskmanager.network.poll-max-sleep");
    if (strcmp(conf_str(tm.conf, "taskmanager.cpu-binding"), "core") == 0) {
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
    } else {
        log_info("not pinned (taskmanager.cpu-binding: none) on %s", net_hostname());
    }
    segpool_init((size_t)conf_size(tm.conf, "taskmanager.memory.segment-size"));
    dp_init(tm.plan.nchannels,
            (int)conf_int(tm.conf, "taskmanager.network.memory.buffers-per-channel"));
    int nmine = 0;
    for (int t = 0; t < tm.plan.ntasks; t++)
        for (int s = 0; s < tm.plan.tasks[t].parallelism; s++)
            nmine += plan_rank_of(&tm.plan, s) == tm.rank;
    tm.tasks = xcalloc((size_t)nmine + 1, sizeof *tm.tasks);
    rc = 0;
    for (int t = 0; t < tm.plan.ntasks && !rc; t++)
        for (int s = 0; s < tm.plan.tasks[t].parallelism && !rc; s++)
            if (plan_rank_of(&tm.plan, s) == tm.rank)
                rc = task_open(&tm.tasks[tm.ntasks++], &tm.plan, t, s, tm.rank, tm.conf, &e);
    dp_link_locals();
    int exit_code;
    if (rc) {
        char *msg = xasprintf("tm-%d: %s", tm.rank, e.msg);
        ctl_send(0, CTL_DEPLOYED, msg, strlen(msg) + 1);
        free(msg);
        wait_ctl(CTL_CANCEL, CTL_CANCEL, tm.max_sleep_ns);
        exit_code = tm_cancel(&tm);
        goto out;
    }
    log_debug("deployed %d subtask(s)", tm.ntasks);
    ctl_send(0, CTL_DEPLOYED, "", 0);
    if (wait_ctl(CTL_START, CTL_CANCEL, tm.max_sleep_ns) == CTL_CANCEL) {
        exit_code = tm_cancel(&tm);
        goto out;
    }
    exit_code = tm_run_loop(&tm);
    if (exit_code)
        goto out;
    size_t mlen;
    char *metrics = metrics_text(&tm, &mlen);
    ctl_send(0, CTL_FINISHED, metrics, mlen + 1);
    free(metrics);
    if (wait_ctl(CTL_COMMIT, CTL_CANCEL, tm.max_sleep_ns) == CTL_CANCEL) {
        exit_code = tm_cancel(&tm);
        goto out;
    }
    rc = 0;
    for (int i = 0; i < tm.ntasks && !rc; i++)
        rc = task_commit(&tm.tasks[i], &e);
    ctl_send(0, CTL_COMMITTED, rc ? e.msg : "", rc ? strlen(e.msg) + 1 : 0);
    wait_ctl(CTL_SHUTDOWN, CTL_SHUTDOWN, tm.max_sleep_ns);
    exit_code = rc ? 1 : 0;
out:
    for (int i = 0; i < tm.ntasks; i++)
        task_close(&tm.tasks[i]);
    free(tm.tasks);
    dp_fini();
    segpool_fini();
    if (tm.plan.job)
        plan_fini(&tm.plan);
    conf_destroy(tm.conf);
    return exit_code;
}

int runtime_run(submission *sub)
{
    return net_rank() == 0 ? jm_main(sub) : tm_main();
}
