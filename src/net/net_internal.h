/* Shared between the files of net/ only. */
#ifndef MPF_NET_INTERNAL_H
#define MPF_NET_INTERNAL_H

#include <mpi.h>
#include "util/err.h"

extern MPI_Comm net_ctl_comm;
extern MPI_Comm net_data_comm;

enum { TAG_BATCH = 1, TAG_CREDIT = 2 };

/* Convert an MPI return code: record MPF_EMPI in e (may be NULL) with
 * "rank <this rank>: <what>: <MPI_Error_string(rc)>" and return MPF_EMPI.
 * `what` should name the operation, the peer rank and the channel or
 * message type. */
int net_mpi_err(mpf_err *e, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
