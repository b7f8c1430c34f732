/* Shared between the files of net/ only. */
#ifndef MPF_NET_INTERNAL_H
#define MPF_NET_INTERNAL_H

#include <mpi.h>

extern MPI_Comm net_ctl_comm;
extern MPI_Comm net_data_comm;

enum { TAG_BATCH = 1, TAG_CREDIT = 2 };

#endif
