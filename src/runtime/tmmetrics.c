/* A TaskManager's live metrics (runtime layer): which runtime counter
 * stands behind which of Flink's metric names, and the periodic send. */
#include "runtime/tmmetrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics/registry.h"
#include "net/channel.h"
#include "net/control.h"
#include "net/world.h"
#include "record/segpool.h"
#include "runtime/runtime.h"
#include "util/clock.h"
#include "util/xmalloc.h"

struct tmmetrics {
    mreg *reg;
    char *binding;
    int64_t interval_ns, next_ns;
    int64_t sent_ns; /* when the last snapshot was sent */
    int sent; /* snapshots sent in this attempt */
};

static int64_t used_segments(const void *ctx)
{
    (void)ctx;
    return (int64_t)segpool_get_stats().in_use;
}

static int64_t peak_segments(const void *ctx)
{
    (void)ctx;
    return (int64_t)segpool_get_stats().peak_in_use;
}

static int64_t dp_bytes_out(const void *ctx)
{
    (void)ctx;
    return (int64_t)dp_get_stats().bytes_sent;
}

static int64_t dp_credit_waits(const void *ctx)
{
    (void)ctx;
    return (int64_t)dp_get_stats().credit_waits;
}

static int64_t peak_rss(const void *ctx)
{
    (void)ctx;
    return runtime_peak_rss_kb();
}

/* The metrics of one operator subtask. Task-level measurements (time
 * accounting, bytes sent, histograms) are the task's: every operator of a
 * chain shows the same times, as in Flink; bytes and histograms go with
 * the chain's last operator only, so sums over a vertex count them once. */
static void add_op(mreg *r, task_inst *t, int k)
{
    op_inst *oi = &t->ops[k];
    char scope[64];
    snprintf(scope, sizeof scope, "op %d %d", oi->spec->index, oi->subtask);
    mgroup *g = mreg_group(r, scope);
    mreg_counter(g, "numRecordsIn", &oi->records_in);
    mreg_counter(g, "numRecordsOut", &oi->records_out);
    mreg_meter(g, "numRecordsInPerSecond", &oi->records_in);
    mreg_meter(g, "numRecordsOutPerSecond", &oi->records_out);
    mreg_counter(g, "numLateRecordsDropped", &oi->late_dropped);
    mreg_counter(g, "numRecordsSkipped", &oi->records_skipped);
    mreg_gauge_size(g, "stateSizeBytes", &oi->state_bytes);
    mreg_gauge_size(g, "statePeakBytes", &oi->state_peak);
    mreg_gauge_i64(g, "currentInputWatermark", &oi->watermark);
    mreg_gauge_i64(g, "currentOutputWatermark", &t->wm);
    mreg_time_meter(g, "busyTimeMsPerSecond", &t->busy_ns);
    mreg_time_meter(g, "backPressuredTimeMsPerSecond", &t->backpressured_ns);
    mreg_time_meter(g, "idleTimeMsPerSecond", &t->idle_ns);
    if (oi->spec->kind->role == OP_SOURCE) {
        mreg_gauge_known(g, "pendingRecords", &oi->pending_records);
        mreg_gauge_known(g, "pendingBytes", &oi->pending_bytes);
        mreg_gauge_known(g, "numBytesIn", &oi->bytes_in);
    }
    if (k != t->nops - 1)
        return;
    mreg_counter(g, "numBytesOut", &t->bytes_out);
    mreg_meter(g, "numBytesOutPerSecond", &t->bytes_out);
    if (t->lat)
        mreg_histogram(g, "latency", t->lat);
    if (t->wm_lat)
        mreg_histogram(g, "watermarkLatency", t->wm_lat);
    if (t->align_hist)
        mreg_histogram(g, "checkpointAlignmentTime", t->align_hist);
}

/* One group per rank this TaskManager has output channels to ("peer
 * <rank>", itself included for local channels): a row of the network
 * matrix. The counters are the data plane's, which stay put until
 * dp_fini (after tmmetrics_destroy). */
static void add_peers(mreg *r)
{
    const dp_peer_stats *p = dp_peers();
    for (int rank = 0; rank < dp_npeers(); rank++) {
        if (!p[rank].channels)
            continue;
        char scope[32];
        snprintf(scope, sizeof scope, "peer %d", rank);
        mgroup *g = mreg_group(r, scope);
        mreg_counter(g, "bytesSent", &p[rank].bytes_sent);
        mreg_meter(g, "bytesSentPerSecond", &p[rank].bytes_sent);
        mreg_counter(g, "batchesSent", &p[rank].batches_sent);
        mreg_counter(g, "creditWaits", &p[rank].credit_waits);
        mreg_gauge_i64(g, "creditWaitTimeNs", &p[rank].credit_wait_ns);
        mreg_time_meter(g, "creditWaitTimeMsPerSecond", &p[rank].credit_wait_ns);
    }
}

tmmetrics *tmmetrics_new(task_inst *tasks, int ntasks, const conf *c, const char *binding)
{
    tmmetrics *m = xcalloc(1, sizeof *m);
    m->reg = mreg_new();
    m->binding = xstrdup(binding ? binding : "");
    m->interval_ns = conf_duration_ns(c, CONF_METRICS_REPORTER_INTERVAL);
    mgroup *g = mreg_group(m->reg, "tm");
    mreg_gauge_fn(g, "usedMemorySegments", used_segments, NULL);
    mreg_gauge_fn(g, "peakMemorySegments", peak_segments, NULL);
    mreg_gauge_fn(g, "numBytesOutRemote", dp_bytes_out, NULL);
    mreg_gauge_fn(g, "creditWaits", dp_credit_waits, NULL);
    mreg_gauge_fn(g, "peakRssKb", peak_rss, NULL);
    for (int i = 0; i < ntasks; i++)
        for (int k = 0; k < tasks[i].nops; k++)
            if (tasks[i].ops[k].spec)
                add_op(m->reg, &tasks[i], k);
    add_peers(m->reg);
    return m;
}

void tmmetrics_destroy(tmmetrics *m)
{
    if (!m)
        return;
    mreg_destroy(m->reg);
    free(m->binding);
    free(m);
}

char *tmmetrics_snapshot(tmmetrics *m, int64_t now_ns, size_t *len)
{
    size_t n;
    dp_peers_flush_waits(now_ns);
    char *text = mreg_snapshot(m->reg, now_ns, clock_wall_ms(), &n);
    if (!m->sent++) {
        char *more = xasprintf("%shost %s\nbinding %s\n", text, net_hostname(), m->binding);
        free(text);
        text = more;
        n = strlen(text);
    }
    *len = n;
    return text;
}

void tmmetrics_tick(tmmetrics *m, int64_t now_ns, int64_t jm_heard_ns)
{
    if (!m || m->interval_ns <= 0)
        return;
    if (!m->next_ns) {
        mreg_start(m->reg, now_ns);
        m->next_ns = now_ns + m->interval_ns;
        return;
    }
    if (now_ns < m->next_ns)
        return;
    if (jm_heard_ns >= 0 && m->sent_ns && jm_heard_ns <= m->sent_ns)
        return; /* silent since the last snapshot: do not pile more up for it */
    m->next_ns = now_ns + m->interval_ns;
    m->sent_ns = now_ns;
    size_t len;
    char *text = tmmetrics_snapshot(m, now_ns, &len);
    ctl_send(0, CTL_METRICS, text, len + 1);
    free(text);
}
