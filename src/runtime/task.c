/* Subtask execution (runtime layer): a task's life from open to close and
 * its step, the bounded amount of work the TaskManager's loop asks of it:
 * the operators' service hooks and processing-time timers, a source's
 * poll or up to four input batches chosen round-robin over the input
 * channels (each dispatched by kind to the part of the task it concerns),
 * and the time the step took for the metrics. The parts are listed in
 * runtime/task_int.h. */
#include "runtime/task.h"

#include <stdlib.h>
#include <string.h>
#include "runtime/task_int.h"
#include "util/clock.h"
#include "util/xmalloc.h"

/* Input channels: from every upstream subtask of every in edge. */
static void inputs_open(task_inst *t)
{
    const plan *p = t->plan;
    for (int i = 0; i < t->pt->nin; i++) {
        const plan_edge *ed = &p->edges[t->pt->in_edges[i]];
        t->nin += ed->part == PART_FORWARD ? 1 : p->tasks[ed->src_task].parallelism;
    }
    t->in = xcalloc((size_t)t->nin + 1, sizeof *t->in);
    int n = 0;
    for (int i = 0; i < t->pt->nin; i++) {
        const plan_edge *ed = &p->edges[t->pt->in_edges[i]];
        int sp = p->tasks[ed->src_task].parallelism;
        for (int s = 0; s < sp; s++) {
            if (ed->part == PART_FORWARD && s != t->subtask)
                continue;
            chan_id id = {plan_channel(ed, s, t->subtask, t->pt->parallelism)};
            t->in[n++] = dp_inchan_open(id, plan_rank_of(p, s), t, ed->dst_input);
        }
    }
}

int task_open(task_inst *t, const plan *p, int task_index, int subtask, int my_rank,
              const conf *c, mpf_err *e)
{
    memset(t, 0, sizeof *t);
    t->plan = p;
    t->pt = &p->tasks[task_index];
    t->task_index = task_index;
    t->subtask = subtask;
    t->buffer_timeout_ns = conf_duration_ns(c, CONF_EXECUTION_BUFFER_TIMEOUT);
    chain_open(t, c);
    route_open(t);
    latency_open(t, c);
    inputs_open(t);
    watermark_open(t, c);
    align_open(t);
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        if (oi->spec->kind->open && oi->spec->kind->open(oi, e))
            return err_prefix(e, "subtask %d/%d on %s", subtask + 1, oi->spec->parallelism,
                              my_rank ? "a TaskManager" : "the JobManager");
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
        const err_ctx *prev = chain_hook_begin(t, k, e);
        int rc = oi->spec->kind->service(oi, now_ns, e);
        err_ctx_swap(prev);
        if (chain_hook_end(t, k, rc, e, "service"))
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
        const err_ctx *prev = chain_hook_begin(t, k, e);
        int rc = oi->spec->kind->on_proc_time(oi, now, e);
        err_ctx_swap(prev);
        if (chain_hook_end(t, k, rc, e, "on_proc_time"))
            return e->code;
    }
    return 0;
}

/* A source's share of a step: poll (unless stopped), then a latency
 * marker and the watermark when due. Sets *progress to whether records
 * came, or to 1 when the input ended. */
static int source_step(task_inst *t, int64_t now_ns, int *progress, mpf_err *e)
{
    if (t->halted) /* stopped with a savepoint: nothing after its barrier */
        return 0;
    op_inst *src = &t->ops[0];
    uint64_t before = src->records_out;
    int rc = 0;
    e->code = 0; /* stopped: nothing is reported */
    if (!t->stop_requested) {
        const err_ctx *prev = chain_hook_begin(t, 0, e);
        rc = src->spec->kind->poll(src, e);
        err_ctx_swap(prev);
    }
    if (chain_hook_end(t, 0, rc, e, "poll"))
        return e->code;
    *progress = src->records_out != before;
    latency_source_tick(t, now_ns);
    if (rc == 0) { /* the input has ended */
        t->state = TASK_FINISHING;
        *progress = 1;
        return 0;
    }
    return watermark_source_tick(t, e);
}

/* Read up to four batches while running, round-robin over the input
 * channels, skipping those held back by a barrier alignment; not while a
 * watermark is half through the chain or an output waits for credit. */
static int read_inputs(task_inst *t, int *progress, mpf_err *e)
{
    for (int budget = 4;
         budget > 0 && t->state == TASK_RUNNING && route_ready(t) && t->wm_op < 0;) {
        int idx = -1;
        int aligning = align_blocking(t);
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
        int rc = 0;
        switch (batch_header(seg)->kind) {
        case BATCH_END:
            dp_consumed(ch, seg);
            rc = finish_input_ended(t, idx, e);
            break;
        case BATCH_LATENCY:
            latency_marker(t, rd_i64(seg + BATCH_HDR_SIZE));
            dp_consumed(ch, seg);
            break;
        case BATCH_BARRIER: {
            int64_t id = rd_i64(seg + BATCH_HDR_SIZE);
            dp_consumed(ch, seg);
            rc = align_on_barrier(t, idx, id, e);
            break;
        }
        case BATCH_WATERMARK:
            rc = watermark_on_input(t, idx, seg, e);
            dp_consumed(ch, seg);
            break;
        default:
            t->in_idle[idx] = 0; /* data: the channel is active again */
            if (t->inject_after &&
                (*t->inject_count += batch_header(seg)->count) >= t->inject_after) {
                dp_consumed(ch, seg);
                return err_set(e, MPF_EIO, "operator '%s': injected failure after %llu records "
                               "on this TaskManager (debug.inject-failure)", t->ops[0].spec->uid,
                               (unsigned long long)*t->inject_count);
            }
            chain_deliver(t, 0, ch->input, seg);
            dp_consumed(ch, seg);
            if (t->err.code) {
                *e = t->err;
                return e->code;
            }
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* One step: a snapshot that is due; the service hooks and the buffer
 * timeout, even while an output waits for credit; then, once the outputs
 * have room, a watermark under way, processing-time timers, the source or
 * the inputs, and the finishing states. */
static int step(task_inst *t, int64_t now_ns, mpf_err *e)
{
    t->now_ns = now_ns;
    if (align_step(t, e))
        return e->code;
    if (t->state == TASK_DONE)
        return 0;
    if (t->has_service && service_ops(t, now_ns, e))
        return e->code;
    if (t->oldest_ns && now_ns - t->oldest_ns >= t->buffer_timeout_ns)
        route_flush(t);
    if (!route_ready(t))
        return 0;
    int progress = 0;
    if (t->wm_op >= 0) { /* finish passing a watermark first */
        int rc = watermark_continue(t, e);
        if (rc && rc != MPF_EAGAIN)
            return rc;
        progress = 1;
        if (rc == MPF_EAGAIN || !route_ready(t))
            return progress;
    }
    if (t->has_proc_timers && t->state == TASK_RUNNING && proc_timers(t, e))
        return e->code;
    if (t->state == TASK_RUNNING) {
        if (t->nin == 0) {
            if (source_step(t, now_ns, &progress, e))
                return e->code;
        } else if (read_inputs(t, &progress, e)) {
            return e->code;
        }
    }
    int rc = finish_step(t, e);
    if (rc < 0)
        return rc;
    return progress | rc;
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
    int blocked = rc >= 0 && t->state != TASK_DONE && !route_ready(t);
    int kind = rc > 0 ? 1 : blocked ? 2 : 0;
    if (t->step_end_ns && start > t->step_end_ns)
        *acc[t->step_kind == 1 ? kind : t->step_kind] += start - t->step_end_ns;
    t->step_kind = blocked ? 2 : kind;
    *acc[kind] += end - start;
    t->step_end_ns = end;
    return rc;
}

int task_commit(task_inst *t, mpf_err *e)
{
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        if (!oi->spec->kind->commit)
            continue;
        const err_ctx *prev = chain_hook_begin(t, k, e);
        int rc = oi->spec->kind->commit(oi, e);
        err_ctx_swap(prev);
        if (rc || e->code) /* commit has no progress value: any non-zero fails */
            return chain_hook_error(t, k, rc, e, "commit");
    }
    return 0;
}

void task_close(task_inst *t)
{
    chain_close(t);
    route_close(t);
    latency_close(t);
    watermark_close(t);
    align_close(t);
    free(t->in);
    memset(t, 0, sizeof *t);
}
