/* Execution plans (plan layer): operators resolved to parallelism,
 * partitioning and schemas; chained into tasks (Flink operator chaining:
 * forward edges of equal parallelism and a single consumer run in one
 * task, records passed by function call); tasks connected by network
 * edges of channels; subtasks placed into slots on TaskManagers (slot
 * sharing: slot i holds subtask i of every task). Every rank builds the
 * same plan from the same submission, so channel ids agree everywhere. */
#ifndef MPF_PLAN_PLAN_H
#define MPF_PLAN_PLAN_H

#include <stdint.h>
#include <stdio.h>
#include "conf/props.h"
#include "plan/job.h"

typedef struct plan_edge {
    int src_task, dst_task;
    int src_op, dst_op; /* tail op of src task, head op of dst task */
    int dst_input;      /* logical input of dst_op */
    int src_port;       /* 0: main output of src_op; p + 1: its side output p */
    int part;
    int key_index;      /* PART_HASH: field of src_op's output */
    uint32_t chan_base;
    int nchan;
} plan_edge;

typedef struct plan_task {
    int nops;
    int *ops; /* chain, head first */
    int parallelism;
    int nin, nout;
    int *in_edges, *out_edges;
} plan_task;

typedef struct plan {
    job *job;        /* owned */
    const conf *conf;
    int ntms, slots_per_tm, nslots;
    int batch_mode;
    int all_bounded; /* every source ends by itself */
    int max_parallelism;
    int ntasks, nedges;
    plan_task *tasks;
    plan_edge *edges;
    uint32_t nchannels;
    int nwarnings;
    char **warnings; /* plan-time warnings ("job has no sink"), logged by rank 0 */
} plan;

/* Build the plan for ntms TaskManagers; takes ownership of j on success
 * and failure. cli_parallelism (-p) overrides the job's parallelism when
 * > 0. Errors name the operator uid and position. */
int plan_build(plan *p, job *j, const conf *c, int ntms, int cli_parallelism, mpf_err *e);
void plan_fini(plan *p);
/* World rank of the TaskManager that runs subtask s. */
static inline int plan_rank_of(const plan *p, int subtask)
{
    return subtask / p->slots_per_tm + 1;
}
/* Channel of an edge from src subtask s to dst subtask d. */
static inline uint32_t plan_channel(const plan_edge *e, int s, int d, int dst_par)
{
    return e->part == PART_FORWARD ? e->chan_base + (uint32_t)s
                                   : e->chan_base + (uint32_t)s * (uint32_t)dst_par + (uint32_t)d;
}
/* Human-readable plan (what `mpiflow validate` prints). */
void plan_print(const plan *p, FILE *f);

#endif
