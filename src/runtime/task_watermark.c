/* Event time of a task (runtime layer): each input channel's watermark and
 * idle flag, the task's watermark as their minimum, a source's watermarks
 * (from the largest event time it emitted, periodic or per record, or
 * from its splits) and its idleness, and the passing of a watermark
 * through the chain (each operator fires what it completes) and then
 * downstream. */
#include "runtime/task_int.h"

#include <stdlib.h>
#include "util/clock.h"
#include "util/xmalloc.h"

/* Send a watermark (or idle status) on every output channel, after the
 * data already produced, with the creation time of the watermark it
 * derives from. */
static void send_watermark(task_inst *t, int64_t wm, int idle)
{
    uint8_t payload[16];
    wr_i64(payload, wm);
    wr_i64(payload + 8, t->wm_created_ns);
    route_event(t, BATCH_WATERMARK, idle ? BATCH_WM_IDLE : 0, payload, sizeof payload);
}

/* Tell downstream once that this task is idle (every input idle, or a
 * source that emitted nothing for its idleness timeout). */
static void send_idle(task_inst *t)
{
    if (!t->idle_out) {
        t->idle_out = 1;
        send_watermark(t, t->wm, 1);
    }
}

int watermark_continue(task_inst *t, mpf_err *e)
{
    while (t->wm_op < t->nops) {
        op_inst *oi = &t->ops[t->wm_op];
        oi->watermark = t->wm_pending;
        int rc = 0;
        e->code = 0; /* without the hook nothing is reported */
        if (oi->spec->kind->on_watermark) {
            const err_ctx *prev = chain_hook_begin(t, t->wm_op, e);
            rc = oi->spec->kind->on_watermark(oi, t->wm_pending, e);
            err_ctx_swap(prev);
        }
        if (chain_hook_end(t, t->wm_op, rc, e, "on_watermark"))
            return e->code;
        if (rc == MPF_EAGAIN)
            return MPF_EAGAIN;
        t->wm_op++;
    }
    t->wm = t->wm_pending;
    t->wm_op = -1;
    t->idle_out = 0;
    latency_watermark(t);
    send_watermark(t, t->wm, 0);
    return 0;
}

/* Start passing wm through the chain (from ops[0]). */
static void wm_start(task_inst *t, int64_t wm)
{
    t->wm_pending = wm;
    t->wm_op = 0;
}

int watermark_advance(task_inst *t, int64_t wm, mpf_err *e)
{
    if (wm <= t->wm || t->wm_op >= 0)
        return 0;
    wm_start(t, wm);
    int rc = watermark_continue(t, e);
    return rc == MPF_EAGAIN ? 0 : rc;
}

/* The combined watermark of the inputs: the minimum over channels that are
 * neither idle nor ended (ended ones count as the end of time, so when
 * all have ended it is WM_MAX). Returns 1 and sets *wm, or 0 when every
 * open channel is idle. */
static int inputs_watermark(const task_inst *t, int64_t *wm)
{
    int active = 0;
    int64_t m = WM_MAX;
    for (int i = 0; i < t->nin; i++) {
        if (t->in[i]->ended || t->in_idle[i])
            continue;
        active = 1;
        if (t->in_wm[i] < m)
            m = t->in_wm[i];
    }
    *wm = m;
    return active || t->ended_in == t->nin;
}

int watermark_on_input(task_inst *t, int ch, const uint8_t *seg, mpf_err *e)
{
    int64_t wm = rd_i64(seg + BATCH_HDR_SIZE);
    t->wm_created_ns = rd_i64(seg + BATCH_HDR_SIZE + 8);
    if (batch_header_c(seg)->flags & BATCH_WM_IDLE) {
        t->in_idle[ch] = 1;
    } else {
        t->in_idle[ch] = 0;
        if (wm > t->in_wm[ch])
            t->in_wm[ch] = wm;
    }
    int64_t m;
    if (inputs_watermark(t, &m))
        return watermark_advance(t, m, e);
    send_idle(t); /* every input idle: so is this task */
    return 0;
}

int watermark_input_ended(task_inst *t, int ch, mpf_err *e)
{
    int64_t m;
    if (t->in_idle[ch]) /* it was not in the minimum */
        return 0;
    if (inputs_watermark(t, &m))
        return watermark_advance(t, m, e);
    return 0;
}

/* Sources: periodic watermarks and idleness. A source that keeps event
 * time per split gives the watermark and says when every split is idle
 * (split_watermark); for the others it is max event time -
 * out-of-orderness - 1, as Flink's BoundedOutOfOrdernessWatermarks, and
 * the source is idle once it emitted nothing for its idleness timeout. */
int watermark_source_tick(task_inst *t, mpf_err *e)
{
    const op_spec *src = t->ops[0].spec;
    if (src->wm_field < 0 || t->now_ns < t->next_wm_ns)
        return 0;
    t->next_wm_ns = t->now_ns + t->wm_interval_ns;
    int64_t wm = WM_MIN;
    if (src->kind->split_watermark) { /* the source keeps it per split */
        if (!src->kind->split_watermark(&t->ops[0], t->now_ns, &wm)) {
            send_idle(t);
            return 0;
        }
    } else if (t->track.seen != t->last_seen) {
        t->last_seen = t->track.seen;
        t->last_emit_ns = t->now_ns;
    } else if (src->wm_idle_ns && t->now_ns - t->last_emit_ns >= src->wm_idle_ns) {
        send_idle(t);
        return 0;
    }
    if (!src->kind->split_watermark && t->track.max_ts != WM_MIN)
        wm = t->track.max_ts - src->wm_delay_ms - 1;
    if (wm == WM_MIN)
        return 0;
    t->wm_created_ns = clock_wall_ns();
    if (wm > t->wm)
        return watermark_advance(t, wm, e);
    if (t->idle_out) { /* active again, same watermark */
        t->idle_out = 0;
        send_watermark(t, t->wm, 0);
    }
    return 0;
}

/* `emit: per-record`: a watermark right after each record that raises
 * the maximum event time, in order with the data (Flink's punctuated
 * WatermarkGenerator.onEvent). It runs inside the source's poll, so the
 * watermark goes through the whole chain at once, however much the
 * operators fire. Deterministic, so tests can predict exactly which
 * records are late; far slower than periodic. */
static void punctuate(task_inst *t)
{
    const op_spec *src = t->ops[0].spec;
    int64_t wm = t->track.max_ts - src->wm_delay_ms - 1;
    if (wm <= t->wm || t->wm_op >= 0 || t->err.code)
        return;
    t->wm_created_ns = clock_wall_ns();
    chain_flush_from(t, 0);
    wm_start(t, wm);
    mpf_err e = {0};
    int rc;
    while ((rc = watermark_continue(t, &e)) == MPF_EAGAIN)
        ;
    if (rc && !t->err.code) {
        t->err = e; /* named by chain_hook_end */
        t->err_named = 1;
    }
}

/* Per record of a source with a watermark strategy: follow the largest
 * event time and count the records, then pass the record on. */
static void ts_track_emit(collector *c, const uint8_t *rec, uint32_t len)
{
    ts_tracker *tr = (ts_tracker *)c;
    int64_t ts = rd_i64(rec_field(tr->schema, rec, tr->field));
    int advanced = ts > tr->max_ts;
    if (advanced)
        tr->max_ts = ts;
    tr->seen++;
    tr->inner->emit(tr->inner, rec, len);
    if (advanced && tr->task)
        punctuate(tr->task);
}

void watermark_open(task_inst *t, const conf *c)
{
    t->wm = WM_MIN;
    t->wm_op = -1;
    t->wm_interval_ns = conf_duration_ns(c, CONF_PIPELINE_AUTO_WATERMARK_INTERVAL);
    t->in_wm = xcalloc((size_t)t->nin + 1, sizeof *t->in_wm);
    t->in_idle = xcalloc((size_t)t->nin + 1, 1);
    for (int i = 0; i < t->nin; i++)
        t->in_wm[i] = WM_MIN;
    const op_spec *head = t->ops[0].spec;
    if (head->kind->role == OP_SOURCE && head->wm_field >= 0) {
        t->track.c.emit = ts_track_emit;
        t->track.inner = t->ops[0].out;
        t->track.schema = &head->out_schema;
        t->track.field = head->wm_field;
        t->track.max_ts = WM_MIN;
        t->track.task = head->wm_per_record ? t : NULL;
        t->ops[0].out = &t->track.c;
    }
}

void watermark_close(task_inst *t)
{
    free(t->in_wm);
    free(t->in_idle);
}
