/* Control-plane messaging over MPI (net layer). */
#include "net/control.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mpiflow/error.h"
#include "net/net_internal.h"
#include "util/xmalloc.h"

const char *ctl_type_name(int type)
{
    static const char *names[] = {"?", "DEPLOYED", "START", "FINISHED", "FAILED",
                                  "CANCEL", "CANCELED", "COMMIT", "COMMITTED",
                                  "SHUTDOWN", "STOP", "TRIGGER", "ACK", "COMPLETE",
                                  "RESTART"};
    return type > 0 && type <= CTL_RESTART ? names[type] : "?";
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

int ctl_send(int dst, int type, const void *payload, size_t len)
{
    MPI_Request req;
    if (MPI_Isend(payload, (int)len, MPI_BYTE, dst, type, net_ctl_comm, &req) != MPI_SUCCESS)
        return MPF_EMPI;
    int64_t sleep_ns = 0;
    for (;;) {
        int done = 0;
        if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return MPF_EMPI;
        if (done)
            return 0;
        idle_backoff(&sleep_ns, 1000000);
    }
}

int ctl_poll(int *src, int *type, char **payload, size_t *len)
{
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, net_ctl_comm, &flag, &st);
    if (!flag)
        return 0;
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    char *buf = xmalloc((size_t)count + 1);
    MPI_Recv(buf, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, net_ctl_comm,
             MPI_STATUS_IGNORE);
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
    MPI_Comm_rank(net_ctl_comm, &rank);
    unsigned long long n = rank == 0 ? *len : 0;
    if (MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, net_ctl_comm) != MPI_SUCCESS)
        return MPF_EMPI;
    if (rank != 0) {
        *buf = xmalloc(n + 1);
        (*buf)[n] = '\0';
        *len = n;
    }
    /* Chunks keep each count within int range. */
    for (unsigned long long off = 0; off < n;) {
        int chunk = (int)(n - off > (1u << 30) ? (1u << 30) : n - off);
        if (MPI_Bcast(*buf + off, chunk, MPI_BYTE, 0, net_ctl_comm) != MPI_SUCCESS)
            return MPF_EMPI;
        off += (unsigned long long)chunk;
    }
    return 0;
}
