/* Snapshot collection (runtime layer): the blobs one TaskManager's
 * operators produce for one checkpoint, gathered until every local task
 * has passed the barrier and then written out by the checkpoint store. */
#ifndef MPF_RUNTIME_SNAPSHOT_H
#define MPF_RUNTIME_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include "ops/op.h"

typedef struct snap_entry {
    const char *uid;
    int subtask, kind, key_group;
    uint8_t *data;
    size_t len;
    void *own; /* released by snapw_fini: data's allocation, a buffer it lies in, or NULL */
    void (*release)(void *own); /* how; NULL: free */
} snap_entry;

typedef struct snap_deferred {
    int (*fn)(void *ctx, snap_writer *w, mpf_err *e);
    void (*free_fn)(void *ctx);
    void *ctx;
    const char *uid;
    int subtask;
} snap_deferred;

struct snap_writer {
    int64_t id;
    snap_deferred *defer;
    size_t ndefer, capdefer;
    snap_entry *v;
    size_t n, cap, bytes;
    const char *uid; /* operator being snapshotted */
    int subtask;
};

void snapw_init(snap_writer *w, int64_t id);
void snapw_fini(snap_writer *w);
/* Run the deferred parts; returns 0 or an error. Called on the
 * checkpoint writer's thread, it first lowers that thread's scheduling
 * priority (SCHED_BATCH, nice 10) so the task threads on the same cores
 * keep theirs; on the main thread (tests) the priority stays. */
int snapw_run_deferred(snap_writer *w, mpf_err *e);
/* Snapshot every operator of a chain into w (sets uid/subtask for each). */
int snapw_ops(snap_writer *w, op_inst *ops, int nops, mpf_err *e);

#endif
