/* Checkpoints in a task (runtime layer): triggers (sources, and tasks
 * whose inputs have ended, snapshot between steps), the alignment of
 * barriers over the input channels (EXACTLY_ONCE holds back a channel
 * that delivered the barrier until every other one has; AT_LEAST_ONCE
 * reads on), the snapshot of the chain handed to the TaskManager, the
 * barrier sent on after it, and the halt of a source stopped with a
 * savepoint. */
#include "runtime/task_int.h"

#include <stdlib.h>
#include <string.h>
#include "runtime/snapshot.h"
#include "util/xmalloc.h"

/* Snapshot the chain for checkpoint id and, when the task has not ended
 * its outputs, send the barrier after the data produced so far. The chain
 * is snapshotted head first and the barrier goes out only after what the
 * snapshot hooks emitted: a STREAMING two-phase reduce flushes its local
 * partials from its snapshot hook and relies on both. A subsumed or
 * aborted id (snap_for gives NULL) takes no snapshot; its barrier is still
 * passed on, so downstream alignments end. */
static int snapshot_now(task_inst *t, int64_t id, mpf_err *e)
{
    snap_writer *w = t->snap_for(t->snap_ctx, id);
    if (w && snapw_ops(w, t->ops, t->nops, e))
        return e->code;
    t->snapped_id = id;
    if (t->halt_id && id >= t->halt_id)
        t->halted = 1;
    if (t->state > TASK_FINISHING) /* END went out already */
        return 0;
    uint8_t payload[8];
    wr_i64(payload, id);
    route_event(t, BATCH_BARRIER, 0, payload, sizeof payload);
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

/* Never while a watermark is half through the chain. */
int align_step(task_inst *t, mpf_err *e)
{
    if (t->wm_op >= 0)
        return 0;
    if (t->drain_id && t->wm == WM_MAX) { /* draining stop: time has ended */
        t->trigger_id = t->drain_id;
        t->drain_id = 0;
    }
    if (t->trigger_id > t->snapped_id)
        return snapshot_now(t, t->trigger_id, e);
    return 0;
}

int align_on_barrier(task_inst *t, int ch, int64_t id, mpf_err *e)
{
    if (id > t->align_id) { /* the first barrier of checkpoint id */
        t->align_id = id;
        t->align_start_ns = t->now_ns;
        memset(t->in_barrier, 0, (size_t)t->nin);
    }
    if (id == t->align_id)
        t->in_barrier[ch] = 1;
    return align_check(t, e);
}

int align_check(task_inst *t, mpf_err *e)
{
    if (!t->align_id || t->align_id <= t->snapped_id)
        return 0;
    for (int c = 0; c < t->nin; c++)
        if (!t->in_barrier[c] && !t->in[c]->ended)
            return 0;
    t->aligned_id = t->align_id;
    t->aligned_ns = t->now_ns - t->align_start_ns;
    if (t->align_hist)
        histo_add_us(t->align_hist, t->aligned_ns / 1000);
    memset(t->in_barrier, 0, (size_t)t->nin);
    return snapshot_now(t, t->align_id, e);
}

void align_open(task_inst *t)
{
    t->in_barrier = xcalloc((size_t)t->nin + 1, 1);
}

/* align_hist is the TaskManager's allocation, owned by the task. */
void align_close(task_inst *t)
{
    free(t->in_barrier);
    free(t->align_hist);
}
