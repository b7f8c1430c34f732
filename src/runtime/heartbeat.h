/* Liveness between the JobManager and the TaskManagers (runtime layer),
 * after Flink's heartbeat.interval and heartbeat.timeout. Each side sends
 * HEARTBEAT every interval; any control message from a peer counts as
 * proof of life. A peer silent for longer than the timeout (stopped with
 * SIGSTOP, hung, behind a dead link) cannot be cancelled in order, so the
 * caller ends the MPI world and the supervisor (`mpiflow submit`, a Slurm
 * requeue) relaunches from the latest checkpoint. One MPI world needs no
 * minute-long grace: the defaults are 1 s and 10 s. */
#ifndef MPF_RUNTIME_HEARTBEAT_H
#define MPF_RUNTIME_HEARTBEAT_H

#include <stdint.h>
#include "conf/props.h"

typedef struct heartbeat {
    int64_t interval_ns, timeout_ns; /* timeout 0: off */
    int64_t next_send_ns;
    int lo, hi;        /* the peers' ranks, lo..hi */
    int64_t *last_ns;  /* per rank 0..hi: last message seen */
} heartbeat;

/* Watch ranks lo..hi from now on (the JobManager: 1..N-1; a TaskManager:
 * 0..0). */
void hb_init(heartbeat *h, const conf *c, int lo, int hi, int64_t now_ns);
void hb_fini(heartbeat *h);
/* A message from rank arrived. */
void hb_seen(heartbeat *h, int rank, int64_t now_ns);
/* Send the heartbeats that are due. */
void hb_send(heartbeat *h, int64_t now_ns);
/* A rank silent for longer than the timeout (its silence in *silent_ns),
 * or -1. Call it after taking every pending message. */
int hb_check(const heartbeat *h, int64_t now_ns, int64_t *silent_ns);
/* Every peer counts as just heard (after a phase in which this rank could
 * not listen, e.g. a long restore). */
void hb_reset(heartbeat *h, int64_t now_ns);

#endif
