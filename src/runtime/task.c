/* Subtask execution: operator chains, output routing, input selection
 * (runtime layer). */
#include "runtime/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "record/keygroup.h"
#include "record/segpool.h"
#include "runtime/snapshot.h"
#include "util/xmalloc.h"
#include "util/clock.h"

struct chain_link {
    collector c; /* must stay first */
    task_inst *t;
    int next; /* index of the op that consumes */
    uint8_t *seg;
};

struct out_route {
    const plan_edge *edge;
    const schema *schema;
    int dst_par, nchan, rr;
    outchan **chans; /* by destination subtask (FORWARD: one) */
    uint8_t **cur;   /* batch being filled per channel */
};

static void deliver(task_inst *t, int k, int input, const uint8_t *seg);

/* Flush chain links from k on, so everything produced reaches the end of
 * the chain before the step returns. */
static void chain_flush_from(task_inst *t, int k)
{
    for (int j = k; j < t->nops - 1 && !t->err.code; j++) {
        chain_link *l = &t->links[j];
        if (batch_header(l->seg)->count) {
            deliver(t, j + 1, 0, l->seg);
            batch_reset(l->seg, BATCH_DATA);
        }
    }
}

/* ops[k]'s hook failed: rc is what it returned, e what it reported. Make
 * e a failure with the operator's own message, naming the operator and
 * subtask once; returns its code. Progress values (0, MPF_EAGAIN) are
 * never error codes: a hook that returned one but set an error in e
 * failed, and MPF_EAGAIN or a positive value set as the error code is a
 * broken hook, reported as such. */
static int op_error(task_inst *t, int k, int rc, mpf_err *e, const char *hook)
{
    const op_inst *oi = &t->ops[k];
    if (e->code < 0 && e->code != MPF_EAGAIN) {
        /* the operator's own message */
    } else if (e->code) {
        err_set(e, MPF_EINVAL, "%s reported %s (%d) as its error, which is not an error code",
                hook, mpf_err_name(e->code), e->code);
    } else if (rc < 0 && rc != MPF_EAGAIN) {
        err_set(e, rc, "%s failed with %s (%s) and no message", hook, mpf_err_name(rc),
                mpf_strerror(rc));
    } else {
        err_set(e, MPF_EINVAL, "%s returned %d (%s), which is neither 0, MPF_EAGAIN where "
                "allowed, nor an error code", hook, rc, mpf_err_name(rc));
    }
    op_name_error(e, oi, NULL);
    return e->code;
}

/* Whether a hook's outcome is a failure: rc is an error code (negative
 * and not MPF_EAGAIN), or the hook set one in e (cleared before the
 * call). eagain_ok: the hook may return MPF_EAGAIN (poll, finish,
 * on_watermark, on_proc_time); process may not. */
static int hook_failed(int rc, const mpf_err *e, int eagain_ok)
{
    return e->code || (rc && !(eagain_ok && rc == MPF_EAGAIN));
}

static void deliver(task_inst *t, int k, int input, const uint8_t *seg)
{
    if (t->err.code) /* the task failed: nothing more runs */
        return;
    op_inst *oi = &t->ops[k];
    oi->records_in += batch_header_c(seg)->count;
    const err_ctx *prev = err_ctx_swap(&t->ctx[k]);
    int rc = oi->spec->kind->process(oi, input, seg, &t->err);
    err_ctx_swap(prev);
    if (oi->state_bytes > oi->state_peak)
        oi->state_peak = oi->state_bytes;
    if (hook_failed(rc, &t->err, 0)) {
        /* An error a later operator (or its output) hit while this one
         * emitted is named already. */
        if (!t->err_named)
            op_error(t, k, rc, &t->err, "process");
        t->err_named = 1;
        return;
    }
    chain_flush_from(t, k);
}

/* A record larger than an empty batch can never be sent: fail the task,
 * naming the operator that produced it (ops[k]). Checked once here, so
 * after a full batch is handed on the append into a fresh one succeeds. */
static int too_big(task_inst *t, int k, uint32_t len)
{
    if ((size_t)len + BATCH_HDR_SIZE <= segpool_segment_size())
        return 0;
    if (!t->err.code) {
        err_set(&t->err, MPF_ETOOBIG, "operator '%s': a record of %u bytes does not fit a "
                "record batch; raise taskmanager.memory.segment-size", t->ops[k].spec->uid, len);
        op_name_error(&t->err, &t->ops[k], NULL);
        t->err_named = 1;
    }
    return 1;
}

static void link_emit(collector *c, const uint8_t *rec, uint32_t len)
{
    chain_link *l = (chain_link *)c;
    size_t cap = segpool_segment_size();
    if (batch_append(l->seg, cap, rec, len) == 0 || too_big(l->t, l->next - 1, len))
        return;
    /* Full: let the next operator consume it now. */
    uint8_t *full = l->seg;
    l->seg = segpool_get();
    deliver(l->t, l->next, 0, full);
    segpool_put(full);
    batch_append(l->seg, cap, rec, len);
}

static void route_append(task_inst *t, out_route *r, int ch, const uint8_t *rec, uint32_t len)
{
    size_t cap = segpool_segment_size();
    if (batch_append(r->cur[ch], cap, rec, len) != 0) {
        if (too_big(t, t->nops - 1, len))
            return;
        t->bytes_out += batch_wire_size(r->cur[ch]);
        dp_send(r->chans[ch], r->cur[ch]);
        r->cur[ch] = segpool_get();
        batch_append(r->cur[ch], cap, rec, len);
    }
    if (!t->oldest_ns)
        t->oldest_ns = t->now_ns;
}

static void route_record(task_inst *t, out_route *r, const uint8_t *rec, uint32_t len)
{
    switch (r->edge->part) {
    case PART_FORWARD:
        route_append(t, r, 0, rec, len);
        break;
    case PART_HASH: {
        uint32_t klen;
        const uint8_t *key = rec_key(r->schema, rec, r->edge->key_index, &klen);
        int kg = keygroup_of(key_hash(key, klen), t->plan->max_parallelism);
        route_append(t, r, keygroup_subtask(kg, t->plan->max_parallelism, r->dst_par), rec, len);
        break;
    }
    case PART_REBALANCE:
        route_append(t, r, r->rr, rec, len);
        if (++r->rr == r->dst_par)
            r->rr = 0;
        break;
    case PART_BROADCAST:
        for (int d = 0; d < r->dst_par; d++)
            route_append(t, r, d, rec, len);
        break;
    }
}

static void writer_emit(collector *c, const uint8_t *rec, uint32_t len)
{
    task_inst *t = (task_inst *)((char *)c - offsetof(task_inst, writer));
    for (int i = 0; i < t->nroutes; i++)
        if (!t->routes[i].edge->src_port)
            route_record(t, &t->routes[i], rec, len);
}

/* A side output of the chain's last operator: the routes of its edges. */
typedef struct side_writer {
    collector c; /* must stay first */
    task_inst *t;
    int port; /* edge src_port */
} side_writer;

static void side_emit(collector *c, const uint8_t *rec, uint32_t len)
{
    side_writer *w = (side_writer *)c;
    for (int i = 0; i < w->t->nroutes; i++)
        if (w->t->routes[i].edge->src_port == w->port)
            route_record(w->t, &w->t->routes[i], rec, len);
}

/* Send every partly filled output batch. */
static void flush_routes(task_inst *t)
{
    for (int i = 0; i < t->nroutes; i++) {
        out_route *r = &t->routes[i];
        for (int c = 0; c < r->nchan; c++) {
            if (batch_header(r->cur[c])->count) {
                t->bytes_out += batch_wire_size(r->cur[c]);
                dp_send(r->chans[c], r->cur[c]);
                r->cur[c] = segpool_get();
            }
        }
    }
    t->oldest_ns = 0;
}

/* Send a watermark (or idle status) on every output channel, after the
 * data already produced. */
static void send_watermark(task_inst *t, int64_t wm, int idle)
{
    flush_routes(t);
    for (int i = 0; i < t->nroutes; i++) {
        out_route *r = &t->routes[i];
        for (int c = 0; c < r->nchan; c++) {
            uint8_t *seg = segpool_get();
            batch_reset(seg, BATCH_WATERMARK);
            batch_header(seg)->flags = idle ? BATCH_WM_IDLE : 0;
            batch_header(seg)->used = 16;
            memcpy(seg + BATCH_HDR_SIZE, &wm, 8);
            memcpy(seg + BATCH_HDR_SIZE + 8, &t->wm_created_ns, 8);
            dp_send(r->chans[c], seg);
        }
    }
}

/* Pass a latency marker on, after the data produced so far, to one
 * channel of each route (round-robin, as Flink's markers go to one
 * random channel); a sink task records it instead. */
static void forward_marker(task_inst *t, int64_t created_ns)
{
    if (!t->nroutes) {
        histo_add_us(t->lat, (clock_wall_ns() - created_ns) / 1000);
        return;
    }
    flush_routes(t);
    for (int i = 0; i < t->nroutes; i++) {
        out_route *r = &t->routes[i];
        uint8_t *seg = segpool_get();
        batch_reset(seg, BATCH_LATENCY);
        batch_header(seg)->used = 8;
        memcpy(seg + BATCH_HDR_SIZE, &created_ns, 8);
        dp_send(r->chans[t->marker_rr % r->nchan], seg);
    }
    t->marker_rr++;
}

static void punctuate(task_inst *t);

/* Snapshot the chain for checkpoint id and, when the task has not ended
 * its outputs, send the barrier after the data produced so far. The chain
 * is snapshotted head first and the barrier goes out only after what the
 * snapshot hooks emitted: a STREAMING two-phase reduce flushes its local
 * partials from its snapshot hook and relies on both. A subsumed or
 * aborted id (snap_for gives NULL) takes no snapshot; its barrier is still
 * passed on, so downstream alignments end. */
static int snapshot_now(task_inst *t, int64_t id, int send_barrier, mpf_err *e)
{
    snap_writer *w = t->snap_for(t->snap_ctx, id);
    if (w && snapw_ops(w, t->ops, t->nops, e))
        return e->code;
    t->snapped_id = id;
    if (t->halt_id && id >= t->halt_id)
        t->halted = 1;
    if (!send_barrier)
        return 0;
    flush_routes(t);
    for (int i = 0; i < t->nroutes; i++) {
        out_route *r = &t->routes[i];
        for (int c = 0; c < r->nchan; c++) {
            uint8_t *seg = segpool_get();
            batch_reset(seg, BATCH_BARRIER);
            batch_header(seg)->used = 8;
            memcpy(seg + BATCH_HDR_SIZE, &id, 8);
            dp_send(r->chans[c], seg);
        }
    }
    return 0;
}

void task_trigger(task_inst *t, int64_t id)
{
    if (id > t->trigger_id && (t->nin == 0 || t->state != TASK_RUNNING))
        t->trigger_id = id;
}

void task_trigger_stop(task_inst *t, int64_t id, int drain)
{
    if (t->nin || t->state != TASK_RUNNING) {
        task_trigger(t, id);
    } else if (drain) {
        t->drain_id = id;
        t->stop_requested = 1;
    } else {
        t->trigger_id = id;
        t->halt_id = id;
    }
}

/* All input channels delivered the barrier being aligned (or ended):
 * snapshot and pass it on. */
static int check_aligned(task_inst *t, mpf_err *e)
{
    if (!t->align_id || t->align_id <= t->snapped_id)
        return 0;
    for (int c = 0; c < t->nin; c++)
        if (!t->in_barrier[c] && !t->in[c]->ended)
            return 0;
    if (t->align_hist)
        histo_add_us(t->align_hist, (t->now_ns - t->align_start_ns) / 1000);
    memset(t->in_barrier, 0, (size_t)t->nin);
    return snapshot_now(t, t->align_id, t->state <= TASK_FINISHING, e);
}

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


int task_open(task_inst *t, const plan *p, int task_index, int subtask, int my_rank,
              const conf *c, mpf_err *e)
{
    const job *j = p->job;
    memset(t, 0, sizeof *t);
    t->plan = p;
    t->pt = &p->tasks[task_index];
    t->task_index = task_index;
    t->subtask = subtask;
    t->buffer_timeout_ns = conf_duration_ns(c, CONF_EXECUTION_BUFFER_TIMEOUT);
    t->wm = WM_MIN;
    t->wm_op = -1;
    t->wm_interval_ns = conf_duration_ns(c, CONF_PIPELINE_AUTO_WATERMARK_INTERVAL);
    t->marker_interval_ns = conf_duration_ns(c, CONF_METRICS_LATENCY_INTERVAL);
    t->writer.emit = writer_emit;
    t->nops = t->pt->nops;
    t->ops = xcalloc((size_t)t->nops, sizeof *t->ops);
    t->ctx = xcalloc((size_t)t->nops, sizeof *t->ctx);
    t->links = xcalloc((size_t)t->nops, sizeof *t->links);
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        oi->spec = &j->ops[t->pt->ops[k]];
        oi->subtask = subtask;
        t->ctx[k] = (err_ctx){oi->spec->uid, subtask, oi->spec->parallelism};
        oi->conf = c;
        oi->watermark = WM_MIN;
        oi->proc_timer = INT64_MAX;
        t->has_proc_timers |= oi->spec->kind->on_proc_time != NULL;
        t->has_service |= oi->spec->kind->service != NULL;
        if (k + 1 < t->nops) {
            chain_link *l = &t->links[k];
            l->c.emit = link_emit;
            l->t = t;
            l->next = k + 1;
            l->seg = segpool_get();
            oi->out = &l->c;
        } else {
            oi->out = &t->writer;
        }
    }
    /* Output routes: every channel of every out edge from this subtask. */
    t->nroutes = t->pt->nout;
    if (!t->nroutes) {
        t->lat = xcalloc(1, sizeof *t->lat);
        t->wm_lat = xcalloc(1, sizeof *t->wm_lat);
    }
    t->routes = xcalloc((size_t)t->nroutes + 1, sizeof *t->routes);
    for (int i = 0; i < t->nroutes; i++) {
        out_route *r = &t->routes[i];
        r->edge = &p->edges[t->pt->out_edges[i]];
        const op_spec *src = &j->ops[r->edge->src_op];
        r->schema = r->edge->src_port ? &src->side_schema[r->edge->src_port - 1] : &src->out_schema;
        r->dst_par = p->tasks[r->edge->dst_task].parallelism;
        r->nchan = r->edge->part == PART_FORWARD ? 1 : r->dst_par;
        r->rr = subtask % r->dst_par; /* spread rebalance starts */
        r->chans = xcalloc((size_t)r->nchan, sizeof *r->chans);
        r->cur = xcalloc((size_t)r->nchan, sizeof *r->cur);
        for (int d = 0; d < r->nchan; d++) {
            int dst = r->edge->part == PART_FORWARD ? subtask : d;
            chan_id id = {plan_channel(r->edge, subtask, dst, r->dst_par)};
            r->chans[d] = dp_outchan_open(id, plan_rank_of(p, dst));
            r->cur[d] = segpool_get();
        }
    }
    /* Input channels: from every upstream subtask of every in edge. */
    for (int i = 0; i < t->pt->nin; i++) {
        const plan_edge *ed = &p->edges[t->pt->in_edges[i]];
        t->nin += ed->part == PART_FORWARD ? 1 : p->tasks[ed->src_task].parallelism;
    }
    t->in = xcalloc((size_t)t->nin + 1, sizeof *t->in);
    t->in_wm = xcalloc((size_t)t->nin + 1, sizeof *t->in_wm);
    t->in_idle = xcalloc((size_t)t->nin + 1, 1);
    t->in_barrier = xcalloc((size_t)t->nin + 1, 1);
    for (int i = 0; i < t->nin; i++)
        t->in_wm[i] = WM_MIN;
    int n = 0;
    for (int i = 0; i < t->pt->nin; i++) {
        const plan_edge *ed = &p->edges[t->pt->in_edges[i]];
        int sp = p->tasks[ed->src_task].parallelism;
        for (int s = 0; s < sp; s++) {
            if (ed->part == PART_FORWARD && s != subtask)
                continue;
            chan_id id = {plan_channel(ed, s, subtask, t->pt->parallelism)};
            t->in[n++] = dp_inchan_open(id, plan_rank_of(p, s), t, ed->dst_input);
        }
    }
    op_inst *tail = &t->ops[t->nops - 1];
    if (tail->spec->nside) {
        tail->side = xcalloc((size_t)tail->spec->nside, sizeof *tail->side);
        for (int i = 0; i < t->nroutes; i++) {
            int port = t->routes[i].edge->src_port;
            if (port && !tail->side[port - 1]) {
                side_writer *w = xcalloc(1, sizeof *w);
                w->c.emit = side_emit;
                w->t = t;
                w->port = port;
                tail->side[port - 1] = &w->c;
            }
        }
    }
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
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        if (oi->spec->kind->open && oi->spec->kind->open(oi, e))
            return err_prefix(e, "subtask %d/%d on %s", subtask + 1, oi->spec->parallelism,
                              my_rank ? "a TaskManager" : "the JobManager");
    }
    return 0;
}

static int output_ready(const task_inst *t)
{
    for (int i = 0; i < t->nroutes; i++)
        for (int c = 0; c < t->routes[i].nchan; c++)
            if (dp_backlog(t->routes[i].chans[c]))
                return 0;
    return 1;
}

/* After a hook of ops[k] (e->code cleared before the call) and the flush
 * of what it emitted: 0 when the task goes on (rc 0 or MPF_EAGAIN), else
 * the failure in e, named once. */
static int check(task_inst *t, int rc, int k, mpf_err *e, const char *hook)
{
    if (t->err.code) { /* set while emitting: named already */
        *e = t->err;
        return e->code;
    }
    if (hook_failed(rc, e, 1))
        return op_error(t, k, rc, e, hook);
    return 0;
}

/* Before a hook of ops[k]: ops[k] becomes the thread's error context
 * (err_fatal names it) and e's code is cleared, so that what the hook
 * reports is told from a stale error. Returns the context to restore
 * with err_ctx_swap after the call. */
static const err_ctx *hook_begin(task_inst *t, int k, mpf_err *e)
{
    e->code = 0;
    return err_ctx_swap(&t->ctx[k]);
}

/* Pass the pending watermark through the chain: each operator fires what
 * it completes (possibly over several steps, while the output has room),
 * then the watermark goes downstream. Returns 0 when done, MPF_EAGAIN
 * while an operator has more to emit, or an error. */
static int wm_continue(task_inst *t, mpf_err *e)
{
    while (t->wm_op < t->nops) {
        op_inst *oi = &t->ops[t->wm_op];
        oi->watermark = t->wm_pending;
        int rc = 0;
        if (oi->spec->kind->on_watermark) {
            const err_ctx *prev = hook_begin(t, t->wm_op, e);
            rc = oi->spec->kind->on_watermark(oi, t->wm_pending, e);
            err_ctx_swap(prev);
        }
        chain_flush_from(t, t->wm_op);
        if (check(t, rc, t->wm_op, e, "on_watermark"))
            return e->code;
        if (rc == MPF_EAGAIN)
            return MPF_EAGAIN;
        t->wm_op++;
    }
    t->wm = t->wm_pending;
    t->wm_op = -1;
    t->idle_out = 0;
    if (t->wm_lat && t->wm != WM_MAX && t->wm_created_ns)
        histo_add_us(t->wm_lat, (clock_wall_ns() - t->wm_created_ns) / 1000);
    send_watermark(t, t->wm, 0);
    return 0;
}

static int wm_advance(task_inst *t, int64_t wm, mpf_err *e)
{
    if (wm <= t->wm || t->wm_op >= 0)
        return 0;
    t->wm_pending = wm;
    t->wm_op = 0;
    int rc = wm_continue(t, e);
    return rc == MPF_EAGAIN ? 0 : rc;
}

/* `emit: per-record`: a watermark right after each record that raises
 * the maximum event time, in order with the data (Flink's punctuated
 * WatermarkGenerator.onEvent). Deterministic, so tests can predict
 * exactly which records are late; far slower than periodic. */
static void punctuate(task_inst *t)
{
    const op_spec *src = t->ops[0].spec;
    int64_t wm = t->track.max_ts - src->wm_delay_ms - 1;
    if (wm <= t->wm || t->wm_op >= 0 || t->err.code)
        return;
    t->wm_created_ns = clock_wall_ns();
    chain_flush_from(t, 0);
    t->wm_pending = wm;
    t->wm_op = 0;
    mpf_err e = {0};
    int rc;
    while ((rc = wm_continue(t, &e)) == MPF_EAGAIN)
        ;
    if (rc && !t->err.code) {
        t->err = e; /* named by check */
        t->err_named = 1;
    }
}

/* The combined watermark of the inputs: the minimum over channels that are
 * neither idle nor ended (ended ones count as the end of time). Returns 1
 * and sets *wm, or 0 when every open channel is idle. */
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
    int all_ended = 1;
    for (int i = 0; i < t->nin; i++)
        all_ended &= t->in[i]->ended;
    *wm = m;
    return active || all_ended;
}

static int on_input_watermark(task_inst *t, int ch, const uint8_t *seg, mpf_err *e)
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
        return wm_advance(t, m, e);
    if (!t->idle_out) { /* every input idle: so is this task */
        t->idle_out = 1;
        send_watermark(t, t->wm, 1);
    }
    return 0;
}

/* Sources: periodic watermarks (max event time - out-of-orderness - 1,
 * as Flink's BoundedOutOfOrdernessWatermarks) and idleness. */
static int source_watermark(task_inst *t, mpf_err *e)
{
    const op_spec *src = t->ops[0].spec;
    if (src->wm_field < 0 || t->now_ns < t->next_wm_ns)
        return 0;
    t->next_wm_ns = t->now_ns + t->wm_interval_ns;
    if (t->track.seen != t->last_seen) {
        t->last_seen = t->track.seen;
        t->last_emit_ns = t->now_ns;
    } else if (src->wm_idle_ns && t->now_ns - t->last_emit_ns >= src->wm_idle_ns) {
        if (!t->idle_out) {
            t->idle_out = 1;
            send_watermark(t, t->wm, 1);
        }
        return 0;
    }
    if (t->track.max_ts == WM_MIN)
        return 0;
    int64_t wm = t->track.max_ts - src->wm_delay_ms - 1;
    t->wm_created_ns = clock_wall_ns();
    if (wm > t->wm)
        return wm_advance(t, wm, e);
    if (t->idle_out) { /* active again, same watermark */
        t->idle_out = 0;
        send_watermark(t, t->wm, 0);
    }
    return 0;
}

/* The service hooks, every step until the task is done. */
static int service_ops(task_inst *t, int64_t now_ns, mpf_err *e)
{
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        if (!oi->spec->kind->service)
            continue;
        const err_ctx *prev = hook_begin(t, k, e);
        int rc = oi->spec->kind->service(oi, now_ns, e);
        err_ctx_swap(prev);
        chain_flush_from(t, k);
        if (check(t, rc, k, e, "service"))
            return e->code;
    }
    return 0;
}

static int proc_timers(task_inst *t, mpf_err *e)
{
    int64_t now = clock_wall_ms();
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        if (!oi->spec->kind->on_proc_time || oi->proc_timer > now)
            continue;
        const err_ctx *prev = hook_begin(t, k, e);
        int rc = oi->spec->kind->on_proc_time(oi, now, e);
        err_ctx_swap(prev);
        chain_flush_from(t, k);
        if (check(t, rc, k, e, "on_proc_time"))
            return e->code;
    }
    return 0;
}

/* Read up to a few batches, round-robin over the input channels. */
static int read_inputs(task_inst *t, int *progress, mpf_err *e)
{
    for (int budget = 4; budget > 0 && output_ready(t) && t->wm_op < 0;) {
        int idx = -1;
        int aligning = t->exactly_once && t->align_id > t->snapped_id;
        for (int k = 0; k < t->nin; k++) {
            int c = (t->rr_in + k) % t->nin;
            if (dp_queued(t->in[c]) && !(aligning && t->in_barrier[c])) {
                idx = c;
                t->rr_in = (c + 1) % t->nin;
                break;
            }
        }
        if (idx < 0)
            break;
        inchan *ch = t->in[idx];
        uint8_t *seg = dp_take(ch);
        *progress = 1;
        budget--;
        switch (batch_header(seg)->kind) {
        case BATCH_END:
            dp_consumed(ch, seg);
            if (check_aligned(t, e))
                return e->code;
            if (++t->ended_in == t->nin) {
                t->state = TASK_FINISHING;
                return check_aligned(t, e);
            }
            if (!t->in_idle[idx]) { /* the minimum may have moved */
                int64_t m;
                if (inputs_watermark(t, &m) && wm_advance(t, m, e))
                    return e->code;
            }
            continue;
        case BATCH_LATENCY:
            forward_marker(t, rd_i64(seg + BATCH_HDR_SIZE));
            dp_consumed(ch, seg);
            continue;
        case BATCH_BARRIER: {
            int64_t id = rd_i64(seg + BATCH_HDR_SIZE);
            dp_consumed(ch, seg);
            if (id > t->align_id) { /* the first barrier of checkpoint id */
                t->align_id = id;
                t->align_start_ns = t->now_ns;
                memset(t->in_barrier, 0, (size_t)t->nin);
            }
            if (id == t->align_id)
                t->in_barrier[idx] = 1;
            if (check_aligned(t, e))
                return e->code;
            continue;
        }
        case BATCH_WATERMARK: {
            int rc = on_input_watermark(t, idx, seg, e);
            dp_consumed(ch, seg);
            if (rc)
                return rc;
            continue;
        }
        default:
            t->in_idle[idx] = 0;
            if (t->inject_after && (*t->inject_count += batch_header(seg)->count) >= t->inject_after) {
                dp_consumed(ch, seg);
                return err_set(e, MPF_EIO, "operator '%s': injected failure after %llu records "
                               "on this TaskManager (debug.inject-failure)", t->ops[0].spec->uid,
                               (unsigned long long)*t->inject_count);
            }
            deliver(t, 0, ch->input, seg);
            dp_consumed(ch, seg);
            if (t->err.code) {
                *e = t->err;
                return e->code;
            }
        }
    }
    return 0;
}

static int step(task_inst *t, int64_t now_ns, mpf_err *e)
{
    t->now_ns = now_ns;
    if (t->drain_id && t->wm == WM_MAX && t->wm_op < 0) { /* draining stop: time has ended */
        t->trigger_id = t->drain_id;
        t->drain_id = 0;
    }
    /* A triggered snapshot of a source or of a task whose inputs ended,
     * taken between steps (never while a watermark is half through). */
    if (t->trigger_id > t->snapped_id && t->wm_op < 0 &&
        snapshot_now(t, t->trigger_id, t->state <= TASK_FINISHING, e))
        return e->code;
    if (t->state == TASK_DONE)
        return 0;
    if (t->has_service && service_ops(t, now_ns, e))
        return e->code;
    if (t->oldest_ns && now_ns - t->oldest_ns >= t->buffer_timeout_ns)
        flush_routes(t);
    if (!output_ready(t))
        return 0;
    int progress = 0;
    if (t->wm_op >= 0) { /* finish passing a watermark first */
        int rc = wm_continue(t, e);
        if (rc && rc != MPF_EAGAIN)
            return rc;
        progress = 1;
        if (rc == MPF_EAGAIN || !output_ready(t))
            return progress;
    }
    if (t->has_proc_timers && t->state == TASK_RUNNING && proc_timers(t, e))
        return e->code;
    if (t->state == TASK_RUNNING) {
        if (t->nin == 0) {
            if (t->halted) /* stopped with a savepoint: nothing after its barrier */
                return progress;
            op_inst *src = &t->ops[0];
            uint64_t before = src->records_out;
            int rc = 0;
            if (!t->stop_requested) {
                const err_ctx *prev = hook_begin(t, 0, e);
                rc = src->spec->kind->poll(src, e);
                err_ctx_swap(prev);
            }
            chain_flush_from(t, 0);
            if (check(t, rc, 0, e, "poll"))
                return e->code;
            progress = src->records_out != before;
            if (t->marker_interval_ns && now_ns >= t->next_marker_ns) {
                t->next_marker_ns = now_ns + t->marker_interval_ns;
                forward_marker(t, clock_wall_ns());
            }
            if (rc == 0) {
                t->state = TASK_FINISHING;
                progress = 1;
            } else if (source_watermark(t, e)) {
                return e->code;
            }
        } else if (read_inputs(t, &progress, e)) {
            return e->code;
        }
    }
    if (t->state == TASK_FINISHING && output_ready(t) && t->wm_op < 0) {
        progress = 1;
        /* End of input is the end of event time: fire what is left. */
        if (t->wm < WM_MAX) {
            if (wm_advance(t, WM_MAX, e))
                return e->code;
            return progress;
        }
        if (t->drain_id) /* the savepoint comes before the operators finish */
            return progress;
        op_inst *oi = &t->ops[t->finish_op];
        int rc = 0;
        if (oi->spec->kind->finish) {
            const err_ctx *prev = hook_begin(t, t->finish_op, e);
            rc = oi->spec->kind->finish(oi, e);
            err_ctx_swap(prev);
        }
        chain_flush_from(t, t->finish_op);
        if (check(t, rc, t->finish_op, e, "finish"))
            return e->code;
        if (rc == 0 && ++t->finish_op == t->nops) {
            flush_routes(t);
            for (int i = 0; i < t->nroutes; i++)
                for (int c = 0; c < t->routes[i].nchan; c++)
                    dp_send_end(t->routes[i].chans[c]);
            t->state = TASK_DRAINING;
        }
    }
    if (t->state == TASK_DRAINING && output_ready(t)) {
        t->state = TASK_DONE;
        progress = 1;
    }
    return progress;
}

/* The TaskManager's one thread steps its tasks one after another, so a
 * step starts when the step before it (of any task) ended, or at now_ns
 * when that was earlier (a new loop): one clock read per step. */
static int64_t step_clock_ns;

/* Time accounting for the metrics: a step that made progress was busy; one
 * that could not because an output waited for credit was backpressured;
 * any other was idle. The wait since the task's previous step (other
 * tasks' steps, polling, back-off sleeps) counts as backpressured when
 * that step left an output waiting for credit (even after progress: a
 * slow sink on the same thread may run meanwhile), as idle when it found
 * nothing to do, and after progress as what this step finds: a task that
 * has work again was runnable (busy), one that has none waited for
 * input. */
int task_step(task_inst *t, int64_t now_ns, mpf_err *e)
{
    int64_t start = step_clock_ns > now_ns ? step_clock_ns : now_ns;
    int rc = step(t, now_ns, e);
    int64_t end = clock_mono_ns();
    step_clock_ns = end;
    if (start > end)
        start = end;
    int64_t *acc[3] = {&t->idle_ns, &t->busy_ns, &t->backpressured_ns};
    int blocked = rc >= 0 && t->state != TASK_DONE && !output_ready(t);
    int kind = rc > 0 ? 1 : blocked ? 2 : 0;
    if (t->step_end_ns && start > t->step_end_ns)
        *acc[t->step_kind == 1 ? kind : t->step_kind] += start - t->step_end_ns;
    t->step_kind = blocked ? 2 : kind;
    *acc[kind] += end - start;
    t->step_end_ns = end;
    return rc;
}

void task_request_stop(task_inst *t)
{
    t->stop_requested = 1;
}

int task_commit(task_inst *t, mpf_err *e)
{
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        if (!oi->spec->kind->commit)
            continue;
        const err_ctx *prev = hook_begin(t, k, e);
        int rc = oi->spec->kind->commit(oi, e);
        err_ctx_swap(prev);
        if (rc || e->code) /* commit has no progress value: any non-zero fails */
            return op_error(t, k, rc, e, "commit");
    }
    return 0;
}

void task_close(task_inst *t)
{
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        if (oi->spec && oi->spec->kind->close)
            oi->spec->kind->close(oi);
        if (oi->side) {
            for (int p = 0; p < oi->spec->nside; p++)
                free(oi->side[p]);
            free(oi->side);
        }
        if (t->links && t->links[k].seg)
            segpool_put(t->links[k].seg);
    }
    for (int i = 0; i < t->nroutes; i++) {
        for (int c = 0; c < t->routes[i].nchan; c++)
            segpool_put(t->routes[i].cur[c]);
        free(t->routes[i].chans);
        free(t->routes[i].cur);
    }
    free(t->routes);
    free(t->in);
    free(t->in_wm);
    free(t->in_idle);
    free(t->in_barrier);
    free(t->align_hist);
    free(t->lat);
    free(t->wm_lat);
    free(t->links);
    free(t->ops);
    free(t->ctx);
    memset(t, 0, sizeof *t);
}
