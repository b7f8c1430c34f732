/* Window aggregates (operators layer): count, sum, min, max, avg, first, last
 * over fields of a record, kept in a compact accumulator. Used by the
 * window operator for every window kind.
 *
 * Accumulator layout: [i64 count][8 bytes per slot]... then, for first or
 * last of a string field, [u32 len][bytes] per such aggregate in order.
 * Fixed-width accumulators are updated in place; string ones change size,
 * so updates write a new accumulator into the caller's recbuf (acc_add,
 * acc_merge). */
#ifndef MPF_OPS_AGG_H
#define MPF_OPS_AGG_H

#include <stdint.h>
#include "conf/yamldoc.h"
#include "record/batch.h"
#include "record/schema.h"
#include "util/err.h"

enum agg_fn { AG_COUNT, AG_SUM, AG_MIN, AG_MAX, AG_AVG, AG_FIRST, AG_LAST };

typedef struct agg_def {
    enum agg_fn fn;
    int field;          /* input field, -1 for count */
    field_type in_type; /* of the field */
    field_type out_type;
    int slot;           /* fixed slot index, -1 for string first/last */
    int str;            /* index among string aggregates, or -1 */
    char *name;         /* output field name */
} agg_def;

typedef struct agg_list {
    int n;
    agg_def *a;
    int nslots, nstr;
    uint32_t fixed; /* bytes of the fixed part */
} agg_list;

/* Parse `aggregates:` (a list of {function, field, as}) against the input
 * schema. what names the operator for messages. */
int agg_parse(agg_list *l, const ynode *list, const schema *in, const char *what, mpf_err *e);
void agg_free(agg_list *l);
/* Add the aggregate output fields to s. */
void agg_schema(const agg_list *l, schema *s);

/* Size of an accumulator (the fixed part plus current strings). */
uint32_t acc_size(const agg_list *l, const uint8_t *acc);
/* Fold a record into a fixed-width accumulator in place (nstr == 0). */
void acc_add_fixed(const agg_list *l, uint8_t *acc, const schema *in, const uint8_t *rec);
/* Fold a record into acc (any layout), writing the result into out
 * (resized as needed); returns the new size. acc may be NULL (empty). */
uint32_t acc_add(const agg_list *l, const uint8_t *acc, const schema *in, const uint8_t *rec,
                 recbuf *out);
/* Merge two accumulators (a's window starts first) into out. */
uint32_t acc_merge(const agg_list *l, const uint8_t *a, const uint8_t *b, recbuf *out);
/* Append the aggregate values of acc as output fields. */
void acc_emit(const agg_list *l, const uint8_t *acc, recbuf *rb);
static inline int64_t acc_count(const uint8_t *acc) { return rd_i64(acc); }

#endif
