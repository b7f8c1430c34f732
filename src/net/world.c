/* MPI world set-up and node topology (net layer). */
#include "net/world.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "net/control.h"
#include "net/net_internal.h"
#include "util/xmalloc.h"

MPI_Comm net_ctl_comm = MPI_COMM_NULL;
MPI_Comm net_data_comm = MPI_COMM_NULL;
static int world_rank = -1, world_size = 0;
static char hostname[256];

int net_init(int *argc, char ***argv, mpf_err *e)
{
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return err_set(e, MPF_EMPI, "MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    MPI_Comm_dup(MPI_COMM_WORLD, &net_ctl_comm);
    MPI_Comm_dup(MPI_COMM_WORLD, &net_data_comm);
    /* Errors come back as codes; the caller turns them into messages. */
    MPI_Comm_set_errhandler(net_ctl_comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(net_data_comm, MPI_ERRORS_RETURN);
    if (gethostname(hostname, sizeof hostname) != 0)
        strcpy(hostname, "unknown");
    hostname[sizeof hostname - 1] = '\0';
    return 0;
}

int net_data_reset(mpf_err *e)
{
    MPI_Comm fresh = MPI_COMM_NULL;
    MPI_Request req;
    if (MPI_Comm_idup(MPI_COMM_WORLD, &fresh, &req) != MPI_SUCCESS)
        return err_set(e, MPF_EMPI, "MPI_Comm_idup of the data communicator failed");
    /* Wait by testing and sleeping: a blocking collective would spin. */
    int64_t backoff = 0;
    for (int done = 0; !done;) {
        if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return err_set(e, MPF_EMPI, "MPI_Comm_idup of the data communicator failed");
        if (!done)
            idle_backoff(&backoff, 1000000);
    }
    MPI_Comm_set_errhandler(fresh, MPI_ERRORS_RETURN);
    if (net_data_comm != MPI_COMM_NULL)
        MPI_Comm_free(&net_data_comm);
    net_data_comm = fresh;
    return 0;
}

void net_fini(void)
{
    if (net_ctl_comm != MPI_COMM_NULL)
        MPI_Comm_free(&net_ctl_comm);
    if (net_data_comm != MPI_COMM_NULL)
        MPI_Comm_free(&net_data_comm);
    MPI_Finalize();
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
    MPI_Comm node;
    int nsize;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL,
                        &node);
    MPI_Comm_size(node, &nsize);
    int *ranks = xmalloc((size_t)nsize * sizeof *ranks);
    MPI_Allgather(&world_rank, 1, MPI_INT, ranks, 1, MPI_INT, node);
    int idx = 0, tms = 0;
    for (int i = 0; i < nsize; i++) {
        if (ranks[i] == 0)
            continue; /* the JobManager does not take a TaskManager core */
        if (ranks[i] < world_rank)
            idx++;
        tms++;
    }
    free(ranks);
    MPI_Comm_free(&node);
    *index = idx;
    *count = tms;
}
