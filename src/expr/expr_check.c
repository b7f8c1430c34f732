/* Expression type checker (expr layer). Gives every node of a parsed
 * tree its type, inserts the implicit conversions (i64 -> f64 where the
 * other operand is f64, anything -> string inside concat), turns string
 * literals compared with timestamps into timestamp literals and folds
 * casts of literals, so malformed constants fail at plan time. Errors name
 * the column of the operator or operand at fault. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr/expr_int.h"
#include "util/strutil.h"

typedef struct checker {
    enode_arena *ar;
    mpf_err *e;
} checker;

static int cerr(checker *c, int col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cerr(checker *c, int col, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(c->e, MPF_EJOB, "expression column %d: %s", col, msg);
}

static const char *tn(field_type t) { return field_type_name(t); }
static int numeric(field_type t) { return t == FT_I64 || t == FT_F64; }

static void wrap_cast(checker *c, enode **slot, field_type to)
{
    enode *x = *slot;
    if (x->type == to)
        return;
    if (x->kind == N_INT && to == FT_F64) { /* fold */
        x->kind = N_FLOAT;
        x->f = (double)x->i;
        x->type = FT_F64;
        return;
    }
    enode *n = enode_new(c->ar, N_CAST, x->col, 1);
    n->a[0] = x;
    n->to = to;
    n->type = to;
    *slot = n;
}

/* Both operands numeric: promote the i64 one when the other is f64. */
static field_type promote(checker *c, enode *n)
{
    if (n->a[0]->type == FT_F64 || n->a[1]->type == FT_F64) {
        wrap_cast(c, &n->a[0], FT_F64);
        wrap_cast(c, &n->a[1], FT_F64);
        return FT_F64;
    }
    return FT_I64;
}

/* A string literal where a timestamp is wanted becomes a timestamp. */
static int str_to_ts(checker *c, enode *s)
{
    int64_t ms;
    if (parse_timestamp(s->s, s->slen, &ms))
        return cerr(c, s->col, "'%s' is not a timestamp (YYYY-MM-DD[ HH:MM:SS[.mmm]])", s->s);
    s->kind = N_TS;
    s->i = ms;
    s->type = FT_TIMESTAMP;
    return 0;
}

static int check(checker *c, enode **slot);

static int check_args(checker *c, enode *n)
{
    for (int k = 0; k < n->na; k++)
        if (check(c, &n->a[k]))
            return c->e->code;
    return 0;
}

static int want(checker *c, const enode *arg, field_type t, const char *what)
{
    if (arg->type == t)
        return 0;
    if (t == FT_TIMESTAMP && (arg->type == FT_I64))
        return cerr(c, arg->col, "%s needs a timestamp, got i64 (use CAST(x AS timestamp) for "
                    "milliseconds since the epoch)", what);
    return cerr(c, arg->col, "%s needs %s %s, got %s", what,
                t == FT_I64 || t == FT_F64 ? "an" : "a", tn(t),
                tn(arg->type));
}

static int check_arith(checker *c, enode *n)
{
    field_type l = n->a[0]->type, r = n->a[1]->type;
    if (numeric(l) && numeric(r)) {
        n->type = promote(c, n);
        return 0;
    }
    if (n->op == '+' &&
        ((l == FT_TIMESTAMP && r == FT_I64) || (l == FT_I64 && r == FT_TIMESTAMP))) {
        n->type = FT_TIMESTAMP;
        return 0;
    }
    if (n->op == '-' && l == FT_TIMESTAMP && (r == FT_I64 || r == FT_TIMESTAMP)) {
        n->type = r == FT_I64 ? FT_TIMESTAMP : FT_I64;
        return 0;
    }
    return cerr(c, n->col, "cannot apply '%c' to %s and %s%s", n->op, tn(l), tn(r),
                n->op == '+' && (l == FT_STRING || r == FT_STRING)
                    ? " (use concat() to join strings)"
                    : l == FT_TIMESTAMP || r == FT_TIMESTAMP
                        ? " (timestamps take + and - of i64 milliseconds)"
                        : "");
}

static int check_cmp(checker *c, enode *n)
{
    enode *l = n->a[0], *r = n->a[1];
    n->type = FT_BOOL;
    if (numeric(l->type) && numeric(r->type)) {
        promote(c, n);
        return 0;
    }
    if (l->type == FT_TIMESTAMP && r->kind == N_STR)
        return str_to_ts(c, r);
    if (r->type == FT_TIMESTAMP && l->kind == N_STR)
        return str_to_ts(c, l);
    if (l->type == r->type)
        return 0;
    return cerr(c, n->col, "cannot compare %s with %s", tn(l->type), tn(r->type));
}

static int check_case(checker *c, enode *n)
{
    int nv = n->na / 2 + 1; /* values: every THEN and the ELSE */
    const char *what = n->op ? "if()" : "CASE";
    for (int k = 0; k + 1 < n->na; k += 2)
        if (want(c, n->a[k], FT_BOOL, n->op ? "the condition of if()" : "WHEN"))
            return c->e->code;
    field_type t = n->a[1]->type;
    int all_num = 1;
    for (int v = 0; v < nv; v++) {
        const enode *x = n->a[v == nv - 1 ? n->na - 1 : 2 * v + 1];
        all_num &= numeric(x->type);
        if (x->type == FT_F64)
            t = FT_F64;
    }
    for (int v = 0; v < nv; v++) {
        int k = v == nv - 1 ? n->na - 1 : 2 * v + 1;
        const enode *x = n->a[k];
        if (x->type != t && !(all_num && numeric(x->type)))
            return cerr(c, x->col, "%s branches have different types: %s and %s", what,
                        tn(n->a[1]->type), tn(x->type));
    }
    for (int v = 0; v < nv; v++)
        wrap_cast(c, &n->a[v == nv - 1 ? n->na - 1 : 2 * v + 1], t);
    n->type = t;
    return 0;
}

/* Cast of a string literal at plan time, with the run-time rules; 1 when
 * not a literal. */
static int fold_cast(checker *c, enode *n)
{
    enode *x = n->a[0];
    if (x->kind != N_STR || n->to == FT_STRING)
        return 1;
    const uint8_t *p = (const uint8_t *)x->s;
    int bad = 0;
    switch (n->to) {
    case FT_I64: bad = expr_str_to_i64(p, x->slen, &x->i); x->kind = N_INT; break;
    case FT_F64: bad = expr_str_to_f64(p, x->slen, &x->f); x->kind = N_FLOAT; break;
    case FT_BOOL: bad = expr_str_to_bool(p, x->slen, &x->i); x->kind = N_BOOL; break;
    case FT_TIMESTAMP: bad = parse_timestamp(x->s, x->slen, &x->i); x->kind = N_TS; break;
    case FT_STRING: break;
    }
    if (bad)
        return cerr(c, x->col, "cannot CAST '%s' AS %s", x->s, tn(n->to));
    x->type = n->to;
    return 0;
}

static int check_cast(checker *c, enode **slot)
{
    enode *n = *slot, *x = n->a[0];
    n->type = n->to;
    if (x->type == n->to) {
        *slot = x;
        return 0;
    }
    if ((x->type == FT_BOOL && n->to == FT_TIMESTAMP) ||
        (x->type == FT_TIMESTAMP && n->to == FT_BOOL))
        return cerr(c, n->col, "cannot CAST %s AS %s", tn(x->type), tn(n->to));
    if (x->type == FT_STRING) {
        int rc = fold_cast(c, n);
        if (rc < 0)
            return rc;
        if (rc == 0)
            *slot = x;
    }
    return 0;
}

static int check_call(checker *c, enode *n)
{
    enode **a = n->a;
    char what[40];
    static const char *const names[] = {
        [FN_ABS] = "abs", [FN_FLOOR] = "floor", [FN_CEIL] = "ceil", [FN_ROUND] = "round",
        [FN_YEAR] = "year", [FN_MONTH] = "month", [FN_DAY] = "day", [FN_HOUR] = "hour",
        [FN_MINUTE] = "minute", [FN_SECOND] = "second", [FN_DOW] = "dayofweek",
        [FN_DATE_TRUNC] = "date_trunc", [FN_LOWER] = "lower", [FN_UPPER] = "upper",
        [FN_LENGTH] = "length", [FN_CONCAT] = "concat", [FN_SUBSTR] = "substr",
        [FN_STARTS_WITH] = "starts_with", [FN_ENDS_WITH] = "ends_with",
        [FN_CONTAINS] = "contains", [FN_IF] = "if"};
    snprintf(what, sizeof what, "%s()", names[n->fn]);
    switch (n->fn) {
    case FN_ABS:
    case FN_FLOOR:
    case FN_CEIL:
    case FN_ROUND:
        if (!numeric(a[0]->type))
            return cerr(c, a[0]->col, "%s needs a number, got %s", what, tn(a[0]->type));
        n->type = a[0]->type;
        return 0;
    case FN_YEAR:
    case FN_MONTH:
    case FN_DAY:
    case FN_HOUR:
    case FN_MINUTE:
    case FN_SECOND:
    case FN_DOW:
        n->type = FT_I64;
        return want(c, a[0], FT_TIMESTAMP, what);
    case FN_DATE_TRUNC: {
        static const struct { const char *unit; int64_t ms; } units[] = {
            {"second", 1000}, {"minute", 60000}, {"hour", 3600000}, {"day", 86400000},
            {"month", -1}, {"year", -2}};
        if (a[0]->kind != N_STR)
            return cerr(c, a[0]->col, "date_trunc() needs a unit literal: 'second', 'minute', "
                        "'hour', 'day', 'month' or 'year'");
        n->i = 0;
        for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
            if (str_ieq(a[0]->s, units[k].unit))
                n->i = units[k].ms;
        if (!n->i)
            return cerr(c, a[0]->col, "date_trunc() unit must be 'second', 'minute', 'hour', "
                        "'day', 'month' or 'year', got '%s'", a[0]->s);
        n->type = FT_TIMESTAMP;
        return want(c, a[1], FT_TIMESTAMP, what);
    }
    case FN_LOWER:
    case FN_UPPER:
        n->type = FT_STRING;
        return want(c, a[0], FT_STRING, what);
    case FN_LENGTH:
        n->type = FT_I64;
        return want(c, a[0], FT_STRING, what);
    case FN_CONCAT:
        for (int k = 0; k < n->na; k++)
            wrap_cast(c, &a[k], FT_STRING);
        n->type = FT_STRING;
        return 0;
    case FN_SUBSTR:
        n->type = FT_STRING;
        if (want(c, a[0], FT_STRING, what) || want(c, a[1], FT_I64, what) ||
            (n->na > 2 && want(c, a[2], FT_I64, what)))
            return c->e->code;
        return 0;
    case FN_STARTS_WITH:
    case FN_ENDS_WITH:
    case FN_CONTAINS:
        n->type = FT_BOOL;
        if (want(c, a[0], FT_STRING, what) || want(c, a[1], FT_STRING, what))
            return c->e->code;
        return 0;
    }
    return cerr(c, n->col, "internal error: unknown function");
}

static int check(checker *c, enode **slot)
{
    enode *n = *slot;
    switch (n->kind) {
    case N_INT: n->type = FT_I64; return 0;
    case N_FLOAT: n->type = FT_F64; return 0;
    case N_BOOL: n->type = FT_BOOL; return 0;
    case N_STR: n->type = FT_STRING; return 0;
    case N_TS: n->type = FT_TIMESTAMP; return 0;
    case N_FIELD: return 0; /* typed by the parser */
    default: break;
    }
    if (check_args(c, n))
        return c->e->code;
    switch (n->kind) {
    case N_NEG:
        if (!numeric(n->a[0]->type))
            return cerr(c, n->col, "cannot negate %s", tn(n->a[0]->type));
        n->type = n->a[0]->type;
        return 0;
    case N_NOT:
        n->type = FT_BOOL;
        return want(c, n->a[0], FT_BOOL, "NOT");
    case N_AND:
    case N_OR:
        n->type = FT_BOOL;
        if (want(c, n->a[0], FT_BOOL, n->kind == N_AND ? "AND" : "OR") ||
            want(c, n->a[1], FT_BOOL, n->kind == N_AND ? "AND" : "OR"))
            return c->e->code;
        return 0;
    case N_ARITH: return check_arith(c, n);
    case N_CMP: return check_cmp(c, n);
    case N_LIKE:
        n->type = FT_BOOL;
        return want(c, n->a[0], FT_STRING, "LIKE");
    case N_CASE: return check_case(c, n);
    case N_CAST: return check_cast(c, slot);
    case N_CALL: return check_call(c, n);
    }
    return cerr(c, n->col, "internal error: unknown node");
}

int expr_check(enode_arena *ar, enode **root, mpf_err *e)
{
    checker c = {ar, e};
    return check(&c, root);
}
