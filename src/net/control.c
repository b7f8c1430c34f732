/* Control-plane messaging over MPI (net layer). */
#include "net/control.h"

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mpiflow/error.h"
#include "net/net_internal.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* The first failure of the control plane (sticky): ctl_failed hands it to
 * the JobManager's and TaskManagers' loops, which end the MPI world -- a
 * lost control message leaves the job without coordination. */
static mpf_err ctl_err;
static int ctl_bad;
static int fail_countdown; /* ctl_fail_send_for_test */

/* ctl_send's and ctl_poll's callers only see a code (or nothing), so the
 * message naming the peer, the type and MPI's reason is logged and kept
 * here: a failed control message must not vanish silently. Returns
 * MPF_EMPI. */
static int log_mpi(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int log_mpi(int rc, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    mpf_err e;
    net_mpi_err(&e, rc, "%s", what);
    log_error("%s", e.msg);
    if (!ctl_bad++)
        ctl_err = e;
    return e.code;
}

int ctl_failed(mpf_err *e)
{
    if (ctl_bad && e)
        *e = ctl_err;
    return ctl_bad != 0;
}

void ctl_fail_send_for_test(int n)
{
    fail_countdown = n;
}

const char *ctl_type_name(int type)
{
    static const char *names[] = {"?", "DEPLOYED", "START", "FINISHED", "FAILED",
                                  "CANCEL", "CANCELED", "COMMIT", "COMMITTED",
                                  "SHUTDOWN", "STOP", "TRIGGER", "ACK", "COMPLETE",
                                  "RESTART", "HEARTBEAT", "ABORT", "METRICS"};
    return type > 0 && type <= CTL_METRICS ? names[type] : "?";
}

void idle_backoff(int64_t *cur, int64_t max_ns)
{
    if (*cur <= 0)
        *cur = 20000;
    else if (*cur < max_ns)
        *cur *= 2;
    if (*cur > max_ns)
        *cur = max_ns;
    if (*cur <= 0)
        return;
    struct timespec ts = {(time_t)(*cur / 1000000000), (long)(*cur % 1000000000)};
    nanosleep(&ts, NULL);
}

/* Sends in flight. ctl_send never waits for its receiver: a stopped or
 * hung peer must not freeze this rank (a send over Open MPI's eager limit
 * completes only when the peer receives it, and heartbeats have to go on
 * to find that peer). The copies live here until MPI is done with them;
 * ctl_send and ctl_poll complete what they can. */
typedef struct ctl_pending {
    MPI_Request req;
    char *buf;
    int dst, type;
} ctl_pending;
static ctl_pending *pend;
static int npend, cappend;

static void ctl_progress(void)
{
    for (int i = 0; i < npend;) {
        int done = 0;
        int rc = MPI_Test(&pend[i].req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            log_mpi(rc, "sending %s (control message) to rank %d", ctl_type_name(pend[i].type),
                    pend[i].dst);
            done = 1;
        }
        if (done) {
            free(pend[i].buf);
            pend[i] = pend[--npend];
        } else {
            i++;
        }
    }
}

int ctl_send(int dst, int type, const void *payload, size_t len)
{
    ctl_progress();
    char *buf = xmalloc(len ? len : 1);
    if (len)
        memcpy(buf, payload, len);
    MPI_Request req;
    int rc = fail_countdown > 0 && --fail_countdown == 0
                 ? MPI_ERR_OTHER /* debug.inject-failure control=N */
                 : MPI_Isend(buf, (int)len, MPI_BYTE, dst, type, net_ctl_comm, &req);
    if (rc != MPI_SUCCESS) {
        free(buf);
        return log_mpi(rc, "sending %s (control message) to rank %d", ctl_type_name(type), dst);
    }
    if (npend == cappend) {
        cappend = cappend ? cappend * 2 : 16;
        pend = xrealloc(pend, (size_t)cappend * sizeof *pend);
    }
    pend[npend++] = (ctl_pending){req, buf, dst, type};
    return 0;
}

int ctl_flush(int64_t timeout_ns)
{
    int64_t backoff = 0, waited = 0;
    ctl_progress();
    while (npend && waited < timeout_ns) {
        idle_backoff(&backoff, 1000000);
        waited += backoff;
        ctl_progress();
    }
    int left = npend;
    for (int i = 0; i < npend; i++) { /* the peer never received it; keep its buffer */
        MPI_Cancel(&pend[i].req);
        MPI_Request_free(&pend[i].req);
    }
    if (left)
        log_warn("%d control message(s) were never received (first: %s to rank %d)", left,
                 ctl_type_name(pend[0].type), pend[0].dst);
    npend = 0;
    free(pend);
    pend = NULL;
    cappend = 0;
    return left;
}

int ctl_poll(int *src, int *type, char **payload, size_t *len)
{
    ctl_progress();
    int flag = 0;
    MPI_Status st;
    int rc = MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, net_ctl_comm, &flag, &st);
    if (rc != MPI_SUCCESS) {
        /* Log once: the caller polls in a loop and sees "nothing". */
        if (!ctl_bad)
            log_mpi(rc, "probing for control messages from any rank");
        return 0;
    }
    if (!flag)
        return 0;
    int count = 0;
    rc = MPI_Get_count(&st, MPI_BYTE, &count);
    if (rc == MPI_SUCCESS && (count < 0 || count == MPI_UNDEFINED))
        rc = MPI_ERR_COUNT;
    if (rc != MPI_SUCCESS) {
        log_mpi(rc, "sizing %s (control message) from rank %d", ctl_type_name(st.MPI_TAG),
                st.MPI_SOURCE);
        count = 0; /* receive it anyway (truncated) so it is not probed forever */
    }
    char *buf = xmalloc((size_t)count + 1);
    rc = MPI_Recv(buf, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, net_ctl_comm,
                  MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
        log_mpi(rc, "receiving %s (control message) from rank %d", ctl_type_name(st.MPI_TAG),
                st.MPI_SOURCE);
        free(buf);
        return 0;
    }
    buf[count] = '\0';
    *src = st.MPI_SOURCE;
    *type = st.MPI_TAG;
    *payload = buf;
    *len = (size_t)count;
    return 1;
}

int ctl_bcast(char **buf, size_t *len)
{
    int rank;
    int rc = MPI_Comm_rank(net_ctl_comm, &rank);
    if (rc != MPI_SUCCESS)
        return log_mpi(rc, "MPI_Comm_rank of the control communicator");
    unsigned long long n = rank == 0 ? *len : 0;
    rc = MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, net_ctl_comm);
    if (rc != MPI_SUCCESS)
        return log_mpi(rc, "broadcasting the job's size from rank 0 (control communicator)");
    if (rank != 0) {
        *buf = xmalloc(n + 1);
        (*buf)[n] = '\0';
        *len = n;
    }
    /* Chunks keep each count within int range. */
    for (unsigned long long off = 0; off < n;) {
        int chunk = (int)(n - off > (1u << 30) ? (1u << 30) : n - off);
        rc = MPI_Bcast(*buf + off, chunk, MPI_BYTE, 0, net_ctl_comm);
        if (rc != MPI_SUCCESS)
            return log_mpi(rc, "broadcasting the job from rank 0 (control communicator)");
        off += (unsigned long long)chunk;
    }
    return 0;
}
