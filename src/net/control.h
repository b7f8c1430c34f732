/* Control-plane messages between the JobManager and TaskManagers (net
 * layer). Messages are small tagged byte strings on their own
 * communicator; the MPI tag is the message type. Sending never waits for
 * the receiver: sends stay in flight and complete as the rank polls. */
#ifndef MPF_NET_CONTROL_H
#define MPF_NET_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

enum ctl_type {
    CTL_DEPLOYED = 1, /* TM -> JM: subtasks opened (payload: "" or error) */
    CTL_START,        /* JM -> TM: run */
    CTL_FINISHED,     /* TM -> JM: all subtasks finished (payload: metrics) */
    CTL_FAILED,       /* TM -> JM: a subtask failed (payload: message) */
    CTL_CANCEL,       /* JM -> TM: stop everything, discard uncommitted output */
    CTL_CANCELED,     /* TM -> JM: canceled and drained (payload: metrics) */
    CTL_COMMIT,       /* JM -> TM: the job succeeded; commit output */
    CTL_COMMITTED,    /* TM -> JM: output committed (payload: "" or error) */
    CTL_SHUTDOWN,     /* JM -> TM: leave the MPI world (payload: exit code) */
    CTL_STOP,         /* JM -> TM: end the sources (stop on a signal);
                       * TM -> JM: a signal arrived here, please stop */
    CTL_TRIGGER,      /* JM -> TM: take checkpoint "<id> <flags> <trigger unix ms>
                       * <directory>" */
    CTL_ACK,          /* TM -> JM: "<id> ok <state bytes> <alignment us>" written,
                       * or "<id> fail <why>" declined */
    CTL_COMPLETE,     /* JM -> TM: checkpoint "<id>" is complete */
    CTL_RESTART,      /* JM -> TM, after CANCEL/CANCELED: redeploy in this MPI
                       * world from checkpoint "<dir>" ("": from the start) */
    CTL_HEARTBEAT,    /* both ways: alive (runtime/heartbeat.h) */
    CTL_ABORT,        /* JM -> TM: checkpoint "<id>" (and older) will never
                       * complete: declined, timed out or subsumed */
    CTL_METRICS       /* TM -> JM: live metrics (metrics/registry.h, versioned text) */
};

const char *ctl_type_name(int type);
/* Send a message without waiting for the receiver (payload is copied).
 * Returns 0 or MPF_EMPI (logged with the peer and type). */
int ctl_send(int dst, int type, const void *payload, size_t len);
/* Whether a control message could not be sent or received (an MPI error);
 * the first failure, naming this rank, the peer and the message type, goes
 * to e (may be NULL). */
int ctl_failed(mpf_err *e);
/* Testing (debug.inject-failure control=N): the n-th ctl_send from now
 * fails as if MPI had returned an error. */
void ctl_fail_send_for_test(int n);
/* Before MPI_Finalize: wait up to timeout_ns for the sends in flight to
 * complete; returns how many never did (logged). */
int ctl_flush(int64_t timeout_ns);
/* Receive one pending message if any: returns 1 and sets the out values
 * (payload is malloc'd and NUL-terminated; caller frees), or 0. */
int ctl_poll(int *src, int *type, char **payload, size_t *len);
/* Broadcast a blob from rank 0 to all (collective). On rank 0 buf and len
 * are the input; elsewhere they are set to a malloc'd copy. */
int ctl_bcast(char **buf, size_t *len);

/* Sleep for an idle back-off step: starts at 20 us, doubles up to max_ns.
 * *cur keeps the state; reset it to 0 after useful work. */
void idle_backoff(int64_t *cur, int64_t max_ns);

#endif
