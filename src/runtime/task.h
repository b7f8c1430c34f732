/* Subtask execution (runtime layer): one task instance runs a chain of
 * operators for one subtask index. Its inputs are channels; its outputs
 * are routes that partition records into per-channel batches (forward,
 * hash by key group, rebalance, broadcast). A task step does a bounded
 * amount of work and never blocks: a task whose output channels have a
 * backlog waiting for credit produces nothing until they drain, which is
 * how backpressure travels upstream. The implementation is split by
 * concern into src/runtime/task*.c (the list is in task_int.h). */
#ifndef MPF_RUNTIME_TASK_H
#define MPF_RUNTIME_TASK_H

#include <stdint.h>
#include "metrics/histo.h"
#include "net/channel.h"
#include "ops/op.h"
#include "plan/plan.h"

enum task_state { TASK_RUNNING, TASK_FINISHING, TASK_DRAINING, TASK_DONE };

typedef struct task_inst task_inst;
typedef struct out_route out_route;   /* task_int.h */
typedef struct chain_link chain_link; /* task_int.h */

/* Wraps the collector of a source with a watermark strategy to follow the
 * largest event time emitted and count the records (for its watermarks
 * and idleness). */
typedef struct ts_tracker {
    collector c; /* must stay first */
    collector *inner;
    task_inst *task; /* set with `emit: per-record`: a watermark per new maximum */
    const schema *schema;
    int field;
    int64_t max_ts;
    uint64_t seen;
} ts_tracker;

struct task_inst {
    const plan *plan;
    const plan_task *pt;
    int task_index, subtask;
    int nops;
    op_inst *ops;
    chain_link *links; /* between ops[k] and ops[k+1] */
    collector writer;  /* after the last op: into the routes */
    int has_proc_timers; /* some op has on_proc_time */
    int has_service;     /* some op has a service hook */
    int nroutes;
    out_route *routes;
    int nin;
    inchan **in;
    int rr_in, ended_in; /* next input channel to read; channels ended */
    int state;           /* enum task_state */
    int finish_op;       /* finishing: the op whose finish hook runs next */
    int stop_requested;  /* a source ends its input at its next step */
    int64_t now_ns, oldest_ns; /* oldest unflushed output record */
    int64_t buffer_timeout_ns;
    /* Event time. Per input channel: its watermark and idleness. */
    int64_t *in_wm;
    uint8_t *in_idle;
    int64_t wm;          /* this task's watermark (forwarded downstream) */
    int64_t wm_pending;  /* being passed through the chain ... */
    int wm_op;           /* ... currently at ops[wm_op]; -1: none */
    int idle_out;        /* told downstream that this task is idle */
    /* Sources with a watermark strategy. */
    ts_tracker track;
    int64_t wm_interval_ns, next_wm_ns;
    int64_t last_emit_ns; uint64_t last_seen; /* idleness: when track.seen last moved */
    /* Latency: markers (sources emit, sinks record) and the time from a
     * watermark's creation at a source to its arrival here (sinks). */
    int64_t marker_interval_ns, next_marker_ns;
    unsigned marker_rr;
    int64_t wm_created_ns;
    histo *lat, *wm_lat; /* sink tasks only */
    /* Checkpoints: the TaskManager's snapshot for a checkpoint id. */
    snap_writer *(*snap_for)(void *ctx, int64_t id);
    void *snap_ctx;
    int exactly_once;     /* align barriers (else at-least-once) */
    int64_t trigger_id;   /* sources (and finished tasks): snapshot due */
    int64_t align_id;     /* barrier being aligned */
    uint8_t *in_barrier;  /* per input channel: delivered align_id */
    int64_t align_start_ns;
    int64_t aligned_id, aligned_ns; /* the last alignment completed and how long it took */
    int64_t snapped_id;   /* newest checkpoint this task has snapshotted */
    int64_t halt_id;      /* stop with savepoint: a source halts after this barrier */
    int64_t drain_id;     /* ... with --drain: its barrier follows the final watermark */
    int halted;
    histo *align_hist;    /* alignment durations (set by the owner, freed by task_close) */
    uint64_t inject_after; /* debug.inject-failure: fail after this many records, 0: never */
    uint64_t *inject_count; /* records read on this TaskManager */
    /* Metrics (metrics/registry.h): what the time between steps went to
     * (busyTimeMsPerSecond, backPressuredTimeMsPerSecond,
     * idleTimeMsPerSecond) and the bytes of the data batches sent. */
    int64_t busy_ns, backpressured_ns, idle_ns;
    int64_t step_end_ns; /* when the last step ended; 0: not stepped yet */
    int step_kind;       /* what it left: 0 idle, 1 busy, 2 output blocked */
    uint64_t bytes_out;  /* numBytesOut */
    mpf_err err; /* set by collectors, checked after each call */
    int err_named; /* err names its operator and subtask already */
    err_ctx *ctx;  /* per op: the error context of its hooks (err_fatal) */
};

/* Create the instance and open its channels (those whose ends are on this
 * rank) and operators. Errors name the operator uid. */
int task_open(task_inst *t, const plan *p, int task_index, int subtask, int my_rank,
              const conf *c, mpf_err *e);
/* Do a bounded amount of work. Returns 1 if it made progress, 0 if idle,
 * or a negative code with e set on failure. */
int task_step(task_inst *t, int64_t now_ns, mpf_err *e);
/* Checkpoint id was triggered: sources emit its barrier at their next
 * step; tasks whose inputs have all ended snapshot without one. */
void task_trigger(task_inst *t, int64_t id);
/* Stop with savepoint id: a source snapshots, sends the barrier and then
 * halts (emits nothing more; the job is cancelled once the savepoint
 * completes). With drain it first ends its input and advances event time
 * to the end, so windows fire before the barrier, as `flink stop --drain`.
 * Other tasks take the savepoint as any checkpoint. */
void task_trigger_stop(task_inst *t, int64_t id, int drain);
/* Stop a source task as if its input had ended (job stop by signal):
 * event-time windows then fire on the final watermark, as with Flink's
 * `stop --drain`. No effect on other tasks. */
void task_request_stop(task_inst *t);
/* Commit operators' output (the job succeeded). */
int task_commit(task_inst *t, mpf_err *e);
/* Close operators (uncommitted output is discarded) and free. */
void task_close(task_inst *t);

#endif
