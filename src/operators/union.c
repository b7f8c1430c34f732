/* `type: union` merges streams of one schema; `type: key-by` marks the
 * next operator's input as hash-partitioned by a field and is folded away
 * by the planner (as keyBy in Flink is a partitioning, not an operator).
 * (operators layer) */
#include <stdlib.h>
#include "ops/op.h"

static int union_configure(op_spec *s, const conf *c, mpf_err *e)
{
    for (int k = 1; k < s->ninputs; k++) {
        if (!schema_equal(s->in_schema[0], s->in_schema[k])) {
            char a[512], b[512];
            schema_format(s->in_schema[0], a, sizeof a);
            schema_format(s->in_schema[k], b, sizeof b);
            return err_set(e, MPF_ESCHEMA, "%s: union inputs differ: input 0 is (%s), input %d "
                           "is (%s)", op_where(s), a, k, b);
        }
    }
    schema_copy(&s->out_schema, s->in_schema[0]);
    return 0;
}

static int union_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    for (const uint8_t *r = batch_first(batch); r; r = batch_next(batch, r))
        op_emit(oi, r, rec_size(r));
    return 0;
}

const op_kind op_union = {
    .stateless = 1,
    .name = "union",
    .role = OP_TRANSFORM,
    .min_inputs = 1,
    .max_inputs = -1,
    .summary = "merge several streams with the same schema",
    .configure = union_configure,
    .process = union_process,
};

static const char *const keyby_keys[] = {"key", NULL};

static int keyby_configure(op_spec *s, const conf *c, mpf_err *e)
{
    /* Folded by the planner before configuration; reaching here is a bug. */
    return err_set(e, MPF_EPLAN, "%s: key-by was not folded", op_where(s));
}

const op_kind op_keyby = {
    .stateless = 1,
    .name = "key-by",
    .role = OP_TRANSFORM,
    .min_inputs = 1,
    .max_inputs = 1,
    .keys = keyby_keys,
    .summary = "hash-partition the stream by a field for the next operator",
    .configure = keyby_configure,
};
