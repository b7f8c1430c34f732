/* Expression evaluation (expr layer): loads the referenced fields of a
 * record into registers (fields before the first string at offsets fixed
 * at plan time, the rest in one walk), runs the register code, and
 * applies it to whole batches for filter and map. Strings are slices of
 * the record or of constants; only functions that make new strings write
 * into a scratch area that is reset per record and grows without moving
 * what it holds, so nothing is allocated per record once warm.
 *
 * Semantics at the edges: i64 arithmetic wraps (two's complement);
 * integer division or remainder by zero is a run-time error; f64 follows
 * IEEE 754 (x/0.0 is inf); CAST of an f64 outside the i64 range or NaN,
 * or of a malformed string, is a run-time error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr/expr_int.h"
#include "util/xmalloc.h"

typedef struct sblock {
    struct sblock *next;
    size_t cap, used;
    uint8_t data[];
} sblock;

struct expr_eval {
    const expr_prog *p;
    ereg *r;
    sblock *scratch; /* current block first; older blocks follow */
    const uint8_t **sel;
    uint32_t selcap;
    recbuf rb;
};

expr_eval *expr_eval_new(const expr_prog *p)
{
    expr_eval *ev = xcalloc(1, sizeof *ev);
    ev->p = p;
    ev->r = xcalloc((size_t)p->nregs + 1, sizeof *ev->r);
    memcpy(ev->r, p->init, (size_t)p->nregs * sizeof *ev->r);
    ev->scratch = xmalloc(sizeof(sblock) + 4096);
    ev->scratch->next = NULL;
    ev->scratch->cap = 4096;
    ev->scratch->used = 0;
    recbuf_init(&ev->rb);
    return ev;
}

void expr_eval_destroy(expr_eval *ev)
{
    if (!ev)
        return;
    for (sblock *b = ev->scratch, *nx; b; b = nx) {
        nx = b->next;
        free(b);
    }
    free(ev->r);
    free(ev->sel);
    recbuf_fini(&ev->rb);
    free(ev);
}

/* n bytes of scratch that stay put until the next record. */
static uint8_t *scratch(expr_eval *ev, size_t n)
{
    sblock *b = ev->scratch;
    if (b->cap - b->used < n) {
        size_t cap = b->cap * 2 > n ? b->cap * 2 : n;
        sblock *nb = xmalloc(sizeof(sblock) + cap);
        nb->cap = cap;
        nb->used = 0;
        nb->next = b;
        ev->scratch = b = nb;
    }
    uint8_t *p = b->data + b->used;
    b->used += n;
    return p;
}

/* Start of a record: keep only the newest (largest) block. */
static inline void scratch_reset(expr_eval *ev)
{
    sblock *b = ev->scratch;
    b->used = 0;
    if (b->next) {
        for (sblock *o = b->next, *nx; o; o = nx) {
            nx = o->next;
            free(o);
        }
        b->next = NULL;
    }
}

/* ------------------------------------------------------------ helpers */

static int trim(const uint8_t **p, uint32_t *n, char *buf, size_t cap)
{
    while (*n && (**p == ' ' || **p == '\t'))
        (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
    if (!*n || *n >= cap)
        return -1;
    memcpy(buf, *p, *n);
    buf[*n] = '\0';
    return 0;
}

int expr_str_to_i64(const uint8_t *p, uint32_t n, int64_t *out)
{
    char buf[32];
    if (trim(&p, &n, buf, sizeof buf))
        return -1;
    size_t i = buf[0] == '-' || buf[0] == '+';
    if (!buf[i])
        return -1;
    uint64_t v = 0, lim = buf[0] == '-' ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; buf[i]; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return -1;
        unsigned dig = (unsigned)(buf[i] - '0');
        if (v > (lim - dig) / 10)
            return -1;
        v = v * 10 + dig;
    }
    *out = buf[0] == '-' ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int expr_str_to_f64(const uint8_t *p, uint32_t n, double *out)
{
    char buf[128], *end;
    if (trim(&p, &n, buf, sizeof buf))
        return -1;
    *out = strtod(buf, &end);
    return *end ? -1 : 0;
}

int expr_str_to_bool(const uint8_t *p, uint32_t n, int64_t *out)
{
    char buf[8];
    if (trim(&p, &n, buf, sizeof buf))
        return -1;
    for (char *c = buf; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c + 32);
    if (!strcmp(buf, "true") || !strcmp(buf, "1"))
        *out = 1;
    else if (!strcmp(buf, "false") || !strcmp(buf, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}

static inline int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static inline int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

#define DAY_MS 86400000LL

/* Proleptic Gregorian calendar <-> days since 1970-01-01 (H. Hinnant's
 * algorithms). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static inline int str_cmp(const ereg *a, const ereg *b)
{
    uint32_t n = a->s.n < b->s.n ? a->s.n : b->s.n;
    int c = n ? memcmp(a->s.p, b->s.p, n) : 0;
    return c ? c : (a->s.n > b->s.n) - (a->s.n < b->s.n);
}

static inline int str_eq(const ereg *a, const ereg *b)
{
    return a->s.n == b->s.n && (a->s.n == 0 || memcmp(a->s.p, b->s.p, a->s.n) == 0);
}

/* Bytes of UTF-8 sequence starting with lead byte c (1 for stray bytes). */
static inline uint32_t utf8_len(uint8_t c)
{
    return c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* SQL LIKE: % any run, _ one character. Backtracks to the last %. */
static int like_match(const uint8_t *s, uint32_t n, const uint8_t *p, uint32_t m)
{
    uint32_t i = 0, j = 0, star_j = UINT32_MAX, star_i = 0;
    while (i < n) {
        if (j < m && p[j] == '_') {
            i += utf8_len(s[i]);
            j++;
        } else if (j < m && p[j] == '%') {
            star_j = j++;
            star_i = i;
        } else if (j < m && p[j] == s[i]) {
            i++;
            j++;
        } else if (star_j != UINT32_MAX) {
            j = star_j + 1;
            i = star_i += utf8_len(s[star_i]);
        } else {
            return 0;
        }
    }
    while (j < m && p[j] == '%')
        j++;
    return j == m && i == n;
}

static int cast_error(const eins *in, const ereg *v, const char *to, mpf_err *e)
{
    uint32_t n = v->s.n > 60 ? 60 : v->s.n;
    return err_set(e, MPF_ERANGE, "expression column %d: cannot CAST '%.*s%s' AS %s", in->col,
                   (int)n, (const char *)v->s.p, v->s.n > 60 ? "..." : "", to);
}

static void set_str(expr_eval *ev, ereg *d, const char *s, size_t n)
{
    uint8_t *p = scratch(ev, n);
    memcpy(p, s, n);
    d->s.p = p;
    d->s.n = (uint32_t)n;
}

/* ------------------------------------------------------------ evaluation */

static inline void load(ereg *r, field_type t, const uint8_t *f)
{
    switch (t) {
    case FT_F64: r->f = rd_f64(f); break;
    case FT_BOOL: r->i = f[0] != 0; break;
    case FT_STRING:
        r->s.n = rd_u32(f);
        r->s.p = f + 4;
        break;
    default: r->i = rd_i64(f); break;
    }
}

static inline void load_fields(expr_eval *ev, const uint8_t *rec)
{
    const expr_prog *p = ev->p;
    const uint8_t *base = rec + REC_LEN_SIZE;
    ereg *R = ev->r;
    int k = 0;
    for (; k < p->nloads && p->loads[k].field <= p->first_var; k++)
        load(&R[p->loads[k].reg], p->ftype[p->loads[k].field],
             base + p->const_off[p->loads[k].field]);
    if (k == p->nloads)
        return;
    int i = p->first_var;
    const uint8_t *f = base + p->const_off[i];
    for (; k < p->nloads; k++) {
        for (; i < p->loads[k].field; i++)
            f += p->ftype[i] == FT_STRING ? 4 + rd_u32(f) : p->ftype[i] == FT_BOOL ? 1 : 8;
        load(&R[p->loads[k].reg], p->ftype[i], f);
    }
}

static int run(expr_eval *ev, mpf_err *e)
{
    const expr_prog *p = ev->p;
    const eins *code = p->code, *ip = code, *end = code + p->ncode;
    ereg *R = ev->r;
    char buf[64];
    while (ip < end) {
        const eins *in = ip++;
        ereg *d = &R[in->d];
        const ereg *a = &R[in->a], *b = &R[in->b];
        switch (in->op) {
        case OP_MOV: *d = *a; break;
        case OP_JMP: ip = code + in->x; break;
        case OP_JF: if (!a->i) ip = code + in->x; break;
        case OP_JT: if (a->i) ip = code + in->x; break;
        case OP_NOT: d->i = !a->i; break;
        case OP_NEG_I: d->i = (int64_t)(0 - (uint64_t)a->i); break;
        case OP_ADD_I: d->i = (int64_t)((uint64_t)a->i + (uint64_t)b->i); break;
        case OP_SUB_I: d->i = (int64_t)((uint64_t)a->i - (uint64_t)b->i); break;
        case OP_MUL_I: d->i = (int64_t)((uint64_t)a->i * (uint64_t)b->i); break;
        case OP_DIV_I:
            if (!b->i)
                return err_set(e, MPF_ERANGE, "expression column %d: division by zero", in->col);
            d->i = b->i == -1 ? (int64_t)(0 - (uint64_t)a->i) : a->i / b->i;
            break;
        case OP_MOD_I:
            if (!b->i)
                return err_set(e, MPF_ERANGE, "expression column %d: remainder of division by "
                               "zero", in->col);
            d->i = b->i == -1 ? 0 : a->i % b->i;
            break;
        case OP_NEG_F: d->f = -a->f; break;
        case OP_ADD_F: d->f = a->f + b->f; break;
        case OP_SUB_F: d->f = a->f - b->f; break;
        case OP_MUL_F: d->f = a->f * b->f; break;
        case OP_DIV_F: d->f = a->f / b->f; break;
        case OP_MOD_F: d->f = fmod(a->f, b->f); break;
        case OP_EQ_I: d->i = a->i == b->i; break;
        case OP_NE_I: d->i = a->i != b->i; break;
        case OP_LT_I: d->i = a->i < b->i; break;
        case OP_LE_I: d->i = a->i <= b->i; break;
        case OP_GT_I: d->i = a->i > b->i; break;
        case OP_GE_I: d->i = a->i >= b->i; break;
        case OP_EQ_F: d->i = a->f == b->f; break;
        case OP_NE_F: d->i = a->f != b->f; break;
        case OP_LT_F: d->i = a->f < b->f; break;
        case OP_LE_F: d->i = a->f <= b->f; break;
        case OP_GT_F: d->i = a->f > b->f; break;
        case OP_GE_F: d->i = a->f >= b->f; break;
        case OP_EQ_S: d->i = str_eq(a, b); break;
        case OP_NE_S: d->i = !str_eq(a, b); break;
        case OP_LT_S: d->i = str_cmp(a, b) < 0; break;
        case OP_LE_S: d->i = str_cmp(a, b) <= 0; break;
        case OP_GT_S: d->i = str_cmp(a, b) > 0; break;
        case OP_GE_S: d->i = str_cmp(a, b) >= 0; break;
        case OP_I2F: d->f = (double)a->i; break;
        case OP_F2I:
            if (!(a->f >= -9223372036854775808.0 && a->f < 9223372036854775808.0))
                return err_set(e, MPF_ERANGE, "expression column %d: cannot CAST %g to an "
                               "integer (out of range)", in->col, a->f);
            d->i = (int64_t)a->f;
            break;
        case OP_I2B: d->i = a->i != 0; break;
        case OP_F2B: d->i = a->f != 0; break;
        case OP_I2S:
            set_str(ev, d, buf, (size_t)snprintf(buf, sizeof buf, "%lld", (long long)a->i));
            break;
        case OP_F2S: {
            uint8_t raw[8];
            memcpy(raw, &a->f, 8);
            set_str(ev, d, buf, field_format(FT_F64, raw, buf, sizeof buf));
            break;
        }
        case OP_B2S:
            d->s.p = (const uint8_t *)(a->i ? "true" : "false");
            d->s.n = a->i ? 4 : 5;
            break;
        case OP_T2S: set_str(ev, d, buf, format_timestamp(a->i, buf, sizeof buf)); break;
        case OP_S2I:
            if (expr_str_to_i64(a->s.p, a->s.n, &d->i))
                return cast_error(in, a, "i64", e);
            break;
        case OP_S2F:
            if (expr_str_to_f64(a->s.p, a->s.n, &d->f))
                return cast_error(in, a, "f64", e);
            break;
        case OP_S2B:
            if (expr_str_to_bool(a->s.p, a->s.n, &d->i))
                return cast_error(in, a, "bool", e);
            break;
        case OP_S2T:
            if (parse_timestamp((const char *)a->s.p, a->s.n, &d->i))
                return cast_error(in, a, "timestamp", e);
            break;
        case OP_ABS_I: d->i = a->i < 0 ? (int64_t)(0 - (uint64_t)a->i) : a->i; break;
        case OP_ABS_F: d->f = fabs(a->f); break;
        case OP_FLOOR_F: d->f = floor(a->f); break;
        case OP_CEIL_F: d->f = ceil(a->f); break;
        case OP_ROUND_F: d->f = round(a->f); break;
        case OP_HOUR: d->i = floor_mod(a->i, DAY_MS) / 3600000; break;
        case OP_MINUTE: d->i = floor_mod(a->i, 3600000) / 60000; break;
        case OP_SECOND: d->i = floor_mod(a->i, 60000) / 1000; break;
        case OP_DOW: d->i = floor_mod(floor_div(a->i, DAY_MS) + 4, 7) + 1; break;
        case OP_YEAR:
        case OP_MONTH:
        case OP_DAY:
        case OP_TRUNC_MONTH:
        case OP_TRUNC_YEAR: {
            int64_t y;
            int m, dd;
            civil_from_days(floor_div(a->i, DAY_MS), &y, &m, &dd);
            switch (in->op) {
            case OP_YEAR: d->i = y; break;
            case OP_MONTH: d->i = m; break;
            case OP_DAY: d->i = dd; break;
            case OP_TRUNC_MONTH: d->i = days_from_civil(y, m, 1) * DAY_MS; break;
            default: d->i = days_from_civil(y, 1, 1) * DAY_MS; break;
            }
            break;
        }
        case OP_TRUNC_MS: d->i = floor_div(a->i, in->x) * in->x; break;
        case OP_LOWER:
        case OP_UPPER: {
            uint8_t *o = scratch(ev, a->s.n);
            int up = in->op == OP_UPPER;
            for (uint32_t k = 0; k < a->s.n; k++) {
                uint8_t ch = a->s.p[k];
                o[k] = up ? (ch >= 'a' && ch <= 'z' ? ch - 32 : ch)
                          : (ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
            }
            d->s.p = o;
            d->s.n = a->s.n;
            break;
        }
        case OP_LENGTH: {
            int64_t n = 0;
            for (uint32_t k = 0; k < a->s.n; k++)
                n += (a->s.p[k] & 0xc0) != 0x80;
            d->i = n;
            break;
        }
        case OP_CONCAT: {
            uint32_t n = a->s.n + b->s.n;
            uint8_t *o = scratch(ev, n);
            if (a->s.n)
                memcpy(o, a->s.p, a->s.n);
            if (b->s.n)
                memcpy(o + a->s.n, b->s.p, b->s.n);
            d->s.p = o;
            d->s.n = n;
            break;
        }
        case OP_SUBSTR: {
            /* 1-based, in characters; a start before 1 counts from 1. */
            int64_t skip = b->i > 1 ? b->i - 1 : 0;
            int64_t take = in->c == NO_REG ? INT64_MAX : R[in->c].i;
            const uint8_t *s = a->s.p, *se = s + a->s.n;
            while (skip > 0 && s < se) {
                s += utf8_len(*s);
                skip--;
            }
            if (s > se)
                s = se;
            const uint8_t *t = s;
            while (take > 0 && t < se) {
                t += utf8_len(*t);
                take--;
            }
            if (t > se)
                t = se;
            d->s.p = s;
            d->s.n = (uint32_t)(t - s);
            break;
        }
        case OP_STARTS:
            d->i = b->s.n <= a->s.n && (!b->s.n || memcmp(a->s.p, b->s.p, b->s.n) == 0);
            break;
        case OP_ENDS:
            d->i = b->s.n <= a->s.n &&
                   (!b->s.n || memcmp(a->s.p + a->s.n - b->s.n, b->s.p, b->s.n) == 0);
            break;
        case OP_CONTAINS:
            d->i = !b->s.n || (a->s.n && memmem(a->s.p, a->s.n, b->s.p, b->s.n) != NULL);
            break;
        case OP_LIKE: d->i = like_match(a->s.p, a->s.n, b->s.p, b->s.n); break;
        }
    }
    return 0;
}

int expr_eval_record(expr_eval *ev, const uint8_t *rec, mpf_err *e)
{
    scratch_reset(ev);
    if (rec)
        load_fields(ev, rec);
    return run(ev, e);
}

int64_t expr_result_i64(const expr_eval *ev, int k) { return ev->r[ev->p->out[k].reg].i; }
double expr_result_f64(const expr_eval *ev, int k) { return ev->r[ev->p->out[k].reg].f; }

const uint8_t *expr_result_str(const expr_eval *ev, int k, uint32_t *len)
{
    const ereg *r = &ev->r[ev->p->out[k].reg];
    *len = r->s.n;
    return r->s.p;
}

int expr_filter_batch(expr_eval *ev, const uint8_t *batch, const uint8_t *const **sel,
                      uint32_t *n, mpf_err *e)
{
    uint32_t count = batch_header_c(batch)->count, k = 0;
    if (count > ev->selcap) {
        ev->selcap = count;
        free(ev->sel);
        ev->sel = xmalloc((size_t)count * sizeof *ev->sel);
    }
    const ereg *res = &ev->r[ev->p->out[0].reg];
    for (const uint8_t *r = batch_first(batch); r; r = batch_next(batch, r)) {
        int rc = expr_eval_record(ev, r, e);
        if (rc) {
            *n = 0;
            return rc;
        }
        if (res->i)
            ev->sel[k++] = r;
    }
    *sel = ev->sel;
    *n = k;
    return 0;
}

int expr_map_batch(expr_eval *ev, const uint8_t *batch, expr_emit_fn emit, void *arg,
                   mpf_err *e)
{
    const expr_prog *p = ev->p;
    recbuf *rb = &ev->rb;
    for (const uint8_t *r = batch_first(batch); r; r = batch_next(batch, r)) {
        int rc = expr_eval_record(ev, r, e);
        if (rc)
            return rc;
        recbuf_begin(rb);
        for (int k = 0; k < p->nout; k++) {
            const ereg *v = &ev->r[p->out[k].reg];
            switch (p->out[k].type) {
            case FT_F64: recbuf_f64(rb, v->f); break;
            case FT_BOOL: recbuf_bool(rb, (int)v->i); break;
            case FT_STRING: recbuf_str(rb, v->s.p, v->s.n); break;
            default: recbuf_i64(rb, v->i); break;
            }
        }
        recbuf_end(rb);
        emit(arg, rb->p, rb->len);
    }
    return 0;
}
