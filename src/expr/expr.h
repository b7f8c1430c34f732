/* Expressions over record fields (expr layer, used by the filter and
 * map operators). An expression is parsed and type-checked against an
 * input schema at plan time and compiled into a small register program;
 * at run time the program is evaluated over whole batches without
 * allocating per record. The language (SQL-like):
 *
 *   literals    42  3.5  1e3  'it''s'  true  false  TIMESTAMP '2024-01-01 12:00:00'
 *   fields      price  `field name`
 *   arithmetic  + - * / %  unary -     (i64 -> f64 promotion; timestamp +/- i64
 *                                        ms -> timestamp; timestamp - timestamp -> i64)
 *   comparison  = == != <> < <= > >=  BETWEEN a AND b  IN (a, b, ...)
 *   boolean     AND OR NOT  && || !
 *   strings     s LIKE 'ab%c_'  starts_with(s, p)  ends_with  contains  lower
 *               upper  length  substr(s, start[, len])  concat(a, b, ...)
 *   conditional CASE WHEN c THEN a [WHEN ...] ELSE b END  CASE x WHEN v THEN a ... END
 *               if(c, a, b)
 *   casts       CAST(x AS i64|f64|bool|string|timestamp)
 *   numbers     abs floor ceil round
 *   time        year month day/dayofmonth hour minute second dayofweek (-> i64)
 *               date_trunc('second'|'minute'|'hour'|'day'|'month'|'year', ts)
 *
 * Errors (plan time and run time) are "expression column N: message", N
 * being the 1-based byte column inside the expression text; callers
 * prefix the file position and operator uid. */
#ifndef MPF_EXPR_EXPR_H
#define MPF_EXPR_EXPR_H

#include <stddef.h>
#include <stdint.h>
#include "record/batch.h"
#include "record/schema.h"
#include "util/err.h"

/* A compiled program: one or more expressions over one input schema,
 * evaluated together per record. Immutable once built, so subtasks share
 * it; each subtask evaluates through its own expr_eval. */
typedef struct expr_prog expr_prog;
/* Per-subtask evaluation state (registers, string scratch, selection). */
typedef struct expr_eval expr_eval;

/* A new empty program over schema `in` (its field names and types are
 * copied). Caller owns the result (expr_prog_destroy). */
expr_prog *expr_prog_new(const schema *in);
void expr_prog_destroy(expr_prog *p);

/* Parse, type-check and compile `text` as the program's next output.
 * When alias is non-NULL a trailing "AS name" is accepted and its name
 * copied to alias (alias[0] = 0 when absent; names longer than alias_n-1
 * are an error). Returns the output index (>= 0), or a negative MPF_E*
 * code (MPF_EJOB) with e set to "expression column N: ...". On error the
 * program is left as it was before the call. */
int expr_prog_add(expr_prog *p, const char *text, char *alias, size_t alias_n, mpf_err *e);
/* Add input field idx unchanged as the next output; returns its index. */
int expr_prog_add_field(expr_prog *p, int idx);

int expr_prog_outputs(const expr_prog *p);
field_type expr_prog_type(const expr_prog *p, int k);
/* The input field index when output k is a bare field reference, else -1. */
int expr_prog_source_field(const expr_prog *p, int k);

/* Evaluation state for p (which must outlive it). Caller owns it. */
expr_eval *expr_eval_new(const expr_prog *p);
void expr_eval_destroy(expr_eval *ev);

/* Evaluate all outputs for one record (an encoded record of p's input
 * schema, length prefix included). 0, or MPF_ERANGE with e set (division
 * by zero, a failed CAST). Results stay valid until the next call. */
int expr_eval_record(expr_eval *ev, const uint8_t *rec, mpf_err *e);
/* Results of the last expr_eval_record. Strings point into the input
 * record, the program's constants or ev's scratch space. */
int64_t expr_result_i64(const expr_eval *ev, int k); /* i64, timestamp, bool (0/1) */
double expr_result_f64(const expr_eval *ev, int k);
const uint8_t *expr_result_str(const expr_eval *ev, int k, uint32_t *len);

/* Filter a batch: output 0 must be bool. Sets *sel to the records for
 * which it is true, in order (an array owned by ev, valid until the next
 * call) and *n to their number. 0 or an error as expr_eval_record. */
int expr_filter_batch(expr_eval *ev, const uint8_t *batch, const uint8_t *const **sel,
                      uint32_t *n, mpf_err *e);

/* Map a batch: for every record build one output record of all outputs
 * in order and hand it (length prefix included) to emit. 0 or an error
 * as expr_eval_record; records before the failing one were emitted. */
typedef void (*expr_emit_fn)(void *arg, const uint8_t *rec, uint32_t len);
int expr_map_batch(expr_eval *ev, const uint8_t *batch, expr_emit_fn emit, void *arg,
                   mpf_err *e);

#endif
