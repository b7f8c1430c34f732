/* MPI world set-up and node topology (net layer). */
#include "net/world.h"

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "net/control.h"
#include "net/net_internal.h"
#include "util/log.h"
#include "util/xmalloc.h"

MPI_Comm net_ctl_comm = MPI_COMM_NULL;
MPI_Comm net_data_comm = MPI_COMM_NULL;
static int world_rank = -1, world_size = 0;
static char hostname[256];

int net_mpi_err(mpf_err *e, int rc, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS)
        snprintf(s, sizeof s, "MPI error code %d", rc);
    return err_set(e, MPF_EMPI, "rank %d: %s: %s", world_rank, what, s);
}

int net_init(int *argc, char ***argv, mpf_err *e)
{
    int provided, rc;
    rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS)
        return net_mpi_err(e, rc, "MPI_Init_thread");
    /* Errors come back as codes from here on, also on the world
     * communicator the set-up below uses; net/ turns them into messages. */
    rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_dup(MPI_COMM_WORLD, &net_ctl_comm);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_dup(MPI_COMM_WORLD, &net_data_comm);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_set_errhandler(net_ctl_comm, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_set_errhandler(net_data_comm, MPI_ERRORS_RETURN);
    if (rc != MPI_SUCCESS)
        return net_mpi_err(e, rc, "setting up the control and data communicators");
    if (gethostname(hostname, sizeof hostname) != 0)
        strcpy(hostname, "unknown");
    hostname[sizeof hostname - 1] = '\0';
    return 0;
}

int net_data_reset(mpf_err *e)
{
    MPI_Comm fresh = MPI_COMM_NULL;
    MPI_Request req;
    int rc = MPI_Comm_idup(MPI_COMM_WORLD, &fresh, &req);
    if (rc != MPI_SUCCESS)
        return net_mpi_err(e, rc, "MPI_Comm_idup of a fresh data communicator");
    /* Wait by testing and sleeping: a blocking collective would spin. */
    int64_t backoff = 0;
    for (int done = 0; !done;) {
        rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return net_mpi_err(e, rc, "MPI_Comm_idup of a fresh data communicator");
        if (!done)
            idle_backoff(&backoff, 1000000);
    }
    rc = MPI_Comm_set_errhandler(fresh, MPI_ERRORS_RETURN);
    if (rc != MPI_SUCCESS)
        return net_mpi_err(e, rc, "setting the error handler of the fresh data communicator");
    if (net_data_comm != MPI_COMM_NULL) {
        rc = MPI_Comm_free(&net_data_comm);
        if (rc != MPI_SUCCESS)
            return net_mpi_err(e, rc, "freeing the old data communicator");
    }
    net_data_comm = fresh;
    return 0;
}

/* Log an MPI failure where no caller can take an error. */
static void warn_mpi(int rc, const char *what)
{
    mpf_err e;
    net_mpi_err(&e, rc, "%s", what);
    log_warn("%s", e.msg);
}

void net_fini(void)
{
    int rc;
    if (net_ctl_comm != MPI_COMM_NULL)
        ctl_flush(5000000000LL);
    if (net_ctl_comm != MPI_COMM_NULL && (rc = MPI_Comm_free(&net_ctl_comm)) != MPI_SUCCESS)
        warn_mpi(rc, "freeing the control communicator");
    if (net_data_comm != MPI_COMM_NULL && (rc = MPI_Comm_free(&net_data_comm)) != MPI_SUCCESS)
        warn_mpi(rc, "freeing the data communicator");
    if ((rc = MPI_Finalize()) != MPI_SUCCESS)
        warn_mpi(rc, "MPI_Finalize");
}

void net_abort(int code)
{
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

int net_rank(void) { return world_rank; }
int net_size(void) { return world_size; }
const char *net_hostname(void) { return hostname; }
double net_wtime(void) { return MPI_Wtime(); }

void net_node_tm_index(int *index, int *count)
{
    MPI_Comm node = MPI_COMM_NULL;
    int nsize = 0;
    int rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank,
                                 MPI_INFO_NULL, &node);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_size(node, &nsize);
    int *ranks = xmalloc((size_t)(nsize > 0 ? nsize : 1) * sizeof *ranks);
    if (rc == MPI_SUCCESS)
        rc = MPI_Allgather(&world_rank, 1, MPI_INT, ranks, 1, MPI_INT, node);
    if (rc != MPI_SUCCESS) {
        /* Only CPU pinning uses this: go on as if alone on the node. */
        warn_mpi(rc, "finding the TaskManagers on this node (pinning as if alone)");
        free(ranks);
        if (node != MPI_COMM_NULL && (rc = MPI_Comm_free(&node)) != MPI_SUCCESS)
            warn_mpi(rc, "freeing the node communicator");
        *index = 0;
        *count = 1;
        return;
    }
    int idx = 0, tms = 0;
    for (int i = 0; i < nsize; i++) {
        if (ranks[i] == 0)
            continue; /* the JobManager does not take a TaskManager core */
        if (ranks[i] < world_rank)
            idx++;
        tms++;
    }
    free(ranks);
    if ((rc = MPI_Comm_free(&node)) != MPI_SUCCESS)
        warn_mpi(rc, "freeing the node communicator");
    *index = idx;
    *count = tms;
}
