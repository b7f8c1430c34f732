/* The MPI world of one job (net layer): start-up, communicators, node
 * topology. Rank 0 is the JobManager, ranks 1..N-1 TaskManagers. Control
 * messages and data batches use separate communicators duplicated from
 * MPI_COMM_WORLD so their tags never mix. Only net/ includes <mpi.h>. */
#ifndef MPF_NET_WORLD_H
#define MPF_NET_WORLD_H

#include "util/err.h"

/* MPI_Init and communicator set-up. Returns 0 or MPF_EMPI. */
int net_init(int *argc, char ***argv, mpf_err *e);
/* Replace the data communicator by a fresh duplicate of the world
 * (collective: every rank, the JobManager too). Batches and credits of a
 * cancelled attempt still in flight stay on the old one and can never
 * reach the restarted tasks. Call only when no data-plane request is
 * pending. Returns 0 or MPF_EMPI. */
int net_data_reset(mpf_err *e);
/* Orderly MPI_Finalize. */
void net_fini(void);
/* Abnormal end of the whole world (last resort). */
void net_abort(int code) __attribute__((noreturn));
int net_rank(void);
int net_size(void);
/* This process's host name. */
const char *net_hostname(void);
/* Among the TaskManagers on this node: this rank's index and their count
 * (collective over the world: every rank must call it, the JM too). */
void net_node_tm_index(int *index, int *count);
/* Seconds since an arbitrary point (MPI_Wtime). */
double net_wtime(void);

#endif
