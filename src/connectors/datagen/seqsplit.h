/* Sequence splits: which row numbers a counter-based source subtask
 * (generator, nexmark, behavior) still has to produce, and how they are
 * redistributed when a checkpoint is restored at another parallelism
 * (connectors layer).
 *
 * A subtask owns a few arithmetic progressions of row numbers, `next`,
 * `next + stride`, ... below `end`; at a fresh start subtask i of p owns
 * {i, p, limit}. It emits the smallest row it owns first, so its event
 * time only grows. The progressions of all subtasks together are exactly
 * the rows not yet produced, and the open-ended ones ("tails", ending at
 * the source's limit) partition every row from some point on.
 *
 * Restoring at the same parallelism gives each subtask its own ranges
 * back. At another parallelism every new subtask reads the ranges of all
 * old subtasks (union state) and computes the same split: M is the
 * largest `next` of a tail; the rows of each tail below M become finite
 * leftovers, and the rows from M on are dealt afresh, {M + k, p', limit}
 * to subtask k; leftovers go round-robin. Every subtask so gets an equal
 * share of the future and the leftovers (at most a few batches per old
 * subtask) first. The blob format is described in seqsplit.c. */
#ifndef MPF_OPS_SEQSPLIT_H
#define MPF_OPS_SEQSPLIT_H

#include <stdint.h>
#include "ops/op.h"

typedef struct seq_range {
    int64_t next, stride, end; /* end: exclusive; INT64_MAX: unbounded */
} seq_range;

typedef struct seqsplit {
    seq_range *r;
    int n, cap;
    int64_t limit; /* rows in total; -1: unbounded */
    /* A restore in progress: every old subtask's ranges, tagged. */
    seq_range *old;
    int *old_subtask;
    int nold, capold, old_parallelism;
    int restored_blobs;
} seqsplit;

/* Subtask `subtask` of `parallelism` at a fresh start; limit: rows in
 * total (-1: unbounded). */
void seqsplit_init(seqsplit *s, int subtask, int parallelism, int64_t limit);
void seqsplit_fini(seqsplit *s);

/* The next row to produce (the smallest owned), or -1 when none is left. */
static inline int64_t seqsplit_take(seqsplit *s)
{
    seq_range *best = NULL;
    for (int i = 0; i < s->n; i++)
        if (s->r[i].next < s->r[i].end && (!best || s->r[i].next < best->next))
            best = &s->r[i];
    if (!best)
        return -1;
    int64_t row = best->next;
    best->next = best->end - best->next > best->stride ? best->next + best->stride : best->end;
    return row;
}

/* Rows are left to produce. */
int seqsplit_more(const seqsplit *s);
/* How many rows are left to produce, or -1 when a range is unbounded. */
int64_t seqsplit_left(const seqsplit *s);

/* Checkpoints: snapshot writes one SNAP_OPERATOR blob; restore takes the
 * blobs of every old subtask (op_kind.union_state) and restore_end keeps
 * subtask oi's share. */
void seqsplit_snapshot(const seqsplit *s, snap_writer *w);
int seqsplit_restore(seqsplit *s, const snap_blob *b, mpf_err *e);
int seqsplit_restore_end(seqsplit *s, const op_inst *oi, mpf_err *e);
/* The same as op_kind hooks, for a source whose state (oi->st) begins
 * with its seqsplit. */
int seqsplit_op_snapshot(op_inst *oi, snap_writer *w, mpf_err *e);
int seqsplit_op_restore(op_inst *oi, const snap_blob *b, mpf_err *e);
int seqsplit_op_restore_end(op_inst *oi, mpf_err *e);
/* describe_state: "next row 12 (every 3[, below 90])" per range, joined
 * by "; " ("no rows left" when none). */
void seqsplit_describe(const snap_blob *b, char *buf, size_t n);

#endif
