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
} snap_entry;

struct snap_writer {
    int64_t id;
    snap_entry *v;
    size_t n, cap, bytes;
    const char *uid; /* operator being snapshotted */
    int subtask;
};

void snapw_init(snap_writer *w, int64_t id);
void snapw_fini(snap_writer *w);
/* Snapshot every operator of a chain into w (sets uid/subtask for each). */
int snapw_ops(snap_writer *w, op_inst *ops, int nops, mpf_err *e);

#endif
