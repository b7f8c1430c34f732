/* The TaskManager's side of the checkpoint protocol (runtime layer): which
 * checkpoint its tasks' snapshots belong to, when its file is written,
 * and what it acknowledges.
 *
 * One checkpoint is collected at a time (the newest seen, by TRIGGER or
 * by a barrier that overtook it) and one is written at a time, on a
 * background thread, so a new checkpoint can be collected while the last
 * is still being written (its write then waits: backpressure, never a
 * blocked loop). Ids are subsumed as in Flink: a snapshot for an id below
 * the one being collected, or at or below one the JobManager aborted, is
 * not taken (tmck_snap_for returns NULL) and never disturbs the newer
 * checkpoint -- a barrier of a declined checkpoint that arrives after the
 * next trigger (the control plane can overtake the data plane) is just
 * passed on. Only the TaskManager's thread calls these functions. */
#ifndef MPF_RUNTIME_TMCKPT_H
#define MPF_RUNTIME_TMCKPT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "ops/op.h"
#include "runtime/snapshot.h"

/* One checkpoint's snapshots, and where they go. */
typedef struct tmck_snap {
    int64_t id; /* 0: none */
    char dir[4096]; /* from the trigger; empty until it arrives */
    int64_t trigger_ms;
    int64_t bytes;    /* state bytes written (set by the write) */
    int64_t align_ns; /* longest barrier alignment of a local task */
    snap_writer w;
} tmck_snap;

typedef struct tmck tmck;
/* Writes s to its directory (on the writer thread): 0 or an error in e. */
typedef int (*tmck_write_fn)(const tmck *c, tmck_snap *s, mpf_err *e);

struct tmck {
    const char *job;
    int rank, maxp;
    int64_t newest;  /* newest id triggered or seen in a barrier */
    int64_t aborted; /* newest id the JobManager aborted */
    tmck_snap collect;
    /* the write in progress */
    tmck_snap write;
    int writing;
    pthread_t thread;
    atomic_int done;
    int rc;
    mpf_err err;
    tmck_write_fn write_fn; /* default: the HDF5 store (tmck_write_hdf5) */
    int64_t inject_ckpt;    /* debug.inject-failure checkpoint=N: die after writing it */
    int64_t inject_decline; /* debug.inject-failure decline=N: decline N when triggered */
    int64_t decline_now;    /* that decline, not sent yet */
};

void tmck_init(tmck *c, const char *job, int rank, int maxp);
/* Release everything; only when !tmck_busy. */
void tmck_fini(tmck *c);

/* TRIGGER id: returns 1 when the tasks should take it, 0 when it is stale
 * (at or below one aborted or the one being written, or below one
 * already seen). */
int tmck_trigger(tmck *c, int64_t id, const char *dir, int64_t trigger_ms);
/* The snapshot collecting checkpoint id, or NULL when id is subsumed or
 * aborted (the task then passes the barrier on without a snapshot). */
snap_writer *tmck_snap_for(tmck *c, int64_t id);
/* ABORT id: the JobManager gave up on id and everything older. */
void tmck_abort(tmck *c, int64_t id);
/* A local task aligned the barriers of checkpoint id in ns nanoseconds
 * (the longest of them is reported with the acknowledgement). */
void tmck_alignment(tmck *c, int64_t id, int64_t ns);
/* Call every loop with the lowest checkpoint id every local task has
 * snapshotted. Starts the write of a complete collected checkpoint when
 * no write is running. Returns 1 with *ack set (malloc'd, for CTL_ACK:
 * "<id> ok <state bytes> <alignment us>" or "<id> fail <why>") when a
 * write finished whose checkpoint was not aborted meanwhile, when the
 * writer thread could not start, or for an injected decline; else 0. */
int tmck_progress(tmck *c, int64_t min_snapped, char **ack);
/* The writer thread is running (a cancel must let it finish, polling the
 * network meanwhile, before tmck_reset). */
int tmck_busy(const tmck *c);
/* Forget every checkpoint (cancel, restart); only when !tmck_busy. */
void tmck_reset(tmck *c);

/* The default write: deferred snapshot parts, a free-space check, then
 * ckpt_write_tm. */
int tmck_write_hdf5(const tmck *c, tmck_snap *s, mpf_err *e);

#endif
