/* The parts of a task (runtime layer, private to src/runtime/task*.c).
 * runtime/task.h is the interface; the task is split by concern, one file
 * per part, and each part's functions are named after it:
 *
 *   task.c            task_*       open, the step loop, input selection,
 *                                  commit, close
 *   task_chain.c      chain_*      operators chained by collectors, and
 *                                  calling their hooks (errors named once)
 *   task_route.c      route_*      output routes: records partitioned into
 *                                  per-channel batches, events sent on them
 *   task_watermark.c  watermark_*  event time: input watermarks and
 *                                  idleness, source watermarks, passing a
 *                                  watermark through the chain
 *   task_align.c      align_*      checkpoint triggers, barrier alignment,
 *                                  snapshots and the barriers after them
 *   task_latency.c    latency_*    latency markers and the sinks' histograms
 *   task_finish.c     finish_*     end of input, finishing the operators,
 *                                  END downstream
 *
 * What runs per record (a collector's emit and the partitioning behind it)
 * stays within one file so that it inlines; what the parts call across
 * files runs per batch, per step or per event. */
#ifndef MPF_RUNTIME_TASK_INT_H
#define MPF_RUNTIME_TASK_INT_H

#include "record/segpool.h"
#include "runtime/task.h"

/* ---- chain (task_chain.c) ---- */

/* The collector of ops[next - 1]: fills a batch that ops[next] consumes
 * when it is full or when the chain is flushed. */
struct chain_link {
    collector c; /* must stay first */
    task_inst *t;
    int next; /* index of the op that consumes */
    uint8_t *seg;
};

/* Instantiate the operators of the chain (their hooks are not called yet)
 * and link them: ops[k] emits into links[k], the last one into
 * t->writer. */
void chain_open(task_inst *t, const conf *c);
/* Close the operators and free the chain. */
void chain_close(task_inst *t);
/* Run ops[k]'s process on seg (from its input `input`), then flush what it
 * emitted down the chain. A failure is left in t->err, named once. */
void chain_deliver(task_inst *t, int k, int input, const uint8_t *seg);
/* Flush chain links from k on, so everything produced reaches the end of
 * the chain before the step returns. */
void chain_flush_from(task_inst *t, int k);

/* Before a hook of ops[k]: ops[k] becomes the thread's error context
 * (err_fatal names it) and e's code is cleared, so that what the hook
 * reports is told from a stale error. Returns the context to restore
 * with err_ctx_swap after the call. */
static inline const err_ctx *chain_hook_begin(task_inst *t, int k, mpf_err *e)
{
    e->code = 0;
    return err_ctx_swap(&t->ctx[k]);
}
/* After a hook of ops[k] that may return MPF_EAGAIN (and the restore of
 * the error context): flush what it emitted down the chain. Returns 0
 * when the task goes on (rc 0 or MPF_EAGAIN), else the failure in e,
 * named once. e's code must have been cleared before the hook, or where
 * there was no hook to call, so a stale error is not taken for ops[k]'s. */
int chain_hook_end(task_inst *t, int k, int rc, mpf_err *e, const char *hook);
/* ops[k]'s hook failed: rc is what it returned, e what it reported. Makes
 * e a failure with the operator's own message, naming the operator and
 * subtask once; returns its code. */
int chain_hook_error(task_inst *t, int k, int rc, mpf_err *e, const char *hook);

/* Fail the task: ops[k] produced a record of len bytes that does not fit
 * an empty batch. */
void chain_fail_too_big(task_inst *t, int k, uint32_t len);
/* Where an append found its batch full: whether the record (produced by
 * ops[k]) can never be sent, which fails the task. Checked only there, so
 * after the full batch is handed on the append into a fresh one
 * succeeds. */
static inline int chain_too_big(task_inst *t, int k, uint32_t len)
{
    if ((size_t)len + BATCH_HDR_SIZE <= segpool_segment_size())
        return 0;
    chain_fail_too_big(t, k, len);
    return 1;
}

/* ---- output routes (task_route.c) ---- */

/* One out edge of the task: a batch being filled per channel. */
struct out_route {
    const plan_edge *edge;
    const schema *schema;
    int dst_par, nchan, rr;
    outchan **chans; /* by destination subtask (FORWARD: one) */
    uint8_t **cur;   /* batch being filled per channel */
};

/* Open every channel of every out edge of this subtask, the writer behind
 * the chain and the side outputs of its last operator. */
void route_open(task_inst *t);
/* Return the batches being filled and free the routes. */
void route_close(task_inst *t);
/* Send every partly filled output batch. */
void route_flush(task_inst *t);
/* After the data produced so far, send an event batch of `kind` (flags,
 * payload of len bytes) on every output channel. */
void route_event(task_inst *t, uint16_t kind, uint16_t flags, const void *payload,
                 uint32_t len);
/* ... on one channel of each route: channel rr mod its number of
 * channels. */
void route_event_one(task_inst *t, uint16_t kind, const void *payload, uint32_t len,
                     unsigned rr);
/* After the data produced so far, send END on every output channel. */
void route_end(task_inst *t);

/* Whether no output channel has a backlog waiting for credit: only then
 * may the task produce more. */
static inline int route_ready(const task_inst *t)
{
    for (int i = 0; i < t->nroutes; i++)
        for (int c = 0; c < t->routes[i].nchan; c++)
            if (dp_backlog(t->routes[i].chans[c]))
                return 0;
    return 1;
}

/* ---- event time (task_watermark.c) ---- */

/* Per-input watermarks and idleness (after the inputs are open), and the
 * event-time tracker of a source with a watermark strategy (after the
 * chain is open). */
void watermark_open(task_inst *t, const conf *c);
void watermark_close(task_inst *t);
/* Pass watermark wm through the chain and downstream when it is above the
 * task's and none is under way. Returns 0 (also while an operator has
 * more to fire: the step continues it) or an error. */
int watermark_advance(task_inst *t, int64_t wm, mpf_err *e);
/* Continue passing the pending watermark (t->wm_op >= 0). Returns 0 when
 * done, MPF_EAGAIN while an operator has more to emit, or an error. */
int watermark_continue(task_inst *t, mpf_err *e);
/* A watermark or idle status arrived on input channel ch. */
int watermark_on_input(task_inst *t, int ch, const uint8_t *seg, mpf_err *e);
/* Input channel ch ended: it leaves the minimum. */
int watermark_input_ended(task_inst *t, int ch, mpf_err *e);
/* Sources, every step: the periodic watermark and idleness. */
int watermark_source_tick(task_inst *t, mpf_err *e);

/* ---- checkpoints (task_align.c) ---- */

void align_open(task_inst *t);
void align_close(task_inst *t);
/* Between steps: take a snapshot that is due (a source's or finished
 * task's trigger, a draining stop whose event time has ended). */
int align_step(task_inst *t, mpf_err *e);
/* A barrier of checkpoint id arrived on input channel ch. */
int align_on_barrier(task_inst *t, int ch, int64_t id, mpf_err *e);
/* If every input channel delivered the barrier being aligned (or ended):
 * snapshot and pass it on. */
int align_check(task_inst *t, mpf_err *e);
/* Whether input channels that delivered the barrier being aligned are held
 * back (EXACTLY_ONCE) until the others deliver it. */
static inline int align_blocking(const task_inst *t)
{
    return t->exactly_once && t->align_id > t->snapped_id;
}

/* ---- latency (task_latency.c) ---- */

/* The marker interval; the histograms of a sink task. */
void latency_open(task_inst *t, const conf *c);
void latency_close(task_inst *t);
/* Sources, every step: emit a marker when one is due. */
void latency_source_tick(task_inst *t, int64_t now_ns);
/* A marker created at created_ns (wall clock): passed on, after the data
 * produced so far, to one channel per route, or recorded by a sink. */
void latency_marker(task_inst *t, int64_t created_ns);
/* A sink's watermark reached the end of the chain: record how long it
 * took from its creation at a source. */
void latency_watermark(task_inst *t);

/* ---- finishing (task_finish.c) ---- */

/* An END arrived on input channel ch; after the last one the task
 * finishes. */
int finish_input_ended(task_inst *t, int ch, mpf_err *e);
/* The finishing states' share of a step: the final watermark, the
 * operators' finish hooks in chain order, END downstream, done. Returns
 * 1 when it made progress, 0 if not, or an error. */
int finish_step(task_inst *t, mpf_err *e);

#endif
