/* Window aggregates: parsing, folding, merging, output (operators layer). */
#include "operators/agg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/strutil.h"
#include "util/xmalloc.h"

static const char *const fn_names[] = {"count", "sum", "min", "max", "avg", "first", "last",
                                       NULL};
static const char *const agg_keys[] = {"function", "field", "as", NULL};

static int is_num(field_type t) { return t == FT_I64 || t == FT_F64 || t == FT_TIMESTAMP; }

int agg_parse(agg_list *l, const ynode *list, const schema *in, const char *what, mpf_err *e)
{
    memset(l, 0, sizeof *l);
    if (!list || list->kind != YNODE_SEQ || list->n == 0)
        return err_set(e, MPF_EJOB, "%s: %s: aggregates must be a non-empty list of "
                       "{function, field, as}", list ? ynode_pos(list) : "?", what);
    l->a = xcalloc(list->n, sizeof *l->a);
    for (size_t i = 0; i < list->n; i++) {
        const ynode *n = list->items[i];
        agg_def *a = &l->a[l->n++];
        a->field = -1;
        a->slot = -1;
        a->str = -1;
        const char *fn = NULL, *field = NULL, *as = NULL;
        if (n->kind == YNODE_SCALAR) {
            fn = n->str; /* shorthand: - count */
        } else if (ynode_check_keys(n, agg_keys, what, e) ||
                   ynode_get_str(n, "function", 1, &fn, e) ||
                   ynode_get_str(n, "field", 0, &field, e) || ynode_get_str(n, "as", 0, &as, e)) {
            return err_prefix(e, "%s", what);
        }
        int f = -1;
        for (int k = 0; fn_names[k]; k++)
            if (strcmp(fn, fn_names[k]) == 0)
                f = k;
        if (f < 0) {
            const char *near = str_closest(fn, fn_names);
            return err_set(e, MPF_EJOB, "%s: %s: unknown aggregate function '%s'%s%s%s "
                           "(count, sum, min, max, avg, first, last)", ynode_pos(n), what, fn,
                           near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        }
        a->fn = (enum agg_fn)f;
        if (a->fn == AG_COUNT) {
            if (field)
                return err_set(e, MPF_EJOB, "%s: %s: count takes no field", ynode_pos(n), what);
            a->in_type = a->out_type = FT_I64;
        } else {
            if (!field)
                return err_set(e, MPF_EJOB, "%s: %s: %s needs field: NAME", ynode_pos(n), what,
                               fn);
            a->field = schema_find(in, field);
            if (a->field < 0) {
                const char **names = schema_names(in);
                const char *near = str_closest(field, names);
                free(names);
                return err_set(e, MPF_ESCHEMA, "%s: %s: field '%s' is not in the input%s%s%s",
                               ynode_pos(ynode_get(n, "field")), what, field,
                               near ? " (did you mean '" : "", near ? near : "",
                               near ? "'?)" : "");
            }
            a->in_type = in->f[a->field].type;
            int ok = a->fn == AG_FIRST || a->fn == AG_LAST ||
                     (a->fn == AG_SUM || a->fn == AG_AVG ? a->in_type == FT_I64 ||
                                                               a->in_type == FT_F64
                                                         : is_num(a->in_type));
            if (!ok)
                return err_set(e, MPF_ESCHEMA, "%s: %s: %s of field '%s' needs a number, it is "
                               "%s", ynode_pos(ynode_get(n, "field")), what, fn, field,
                               field_type_name(a->in_type));
            a->out_type = a->fn == AG_AVG ? FT_F64 : a->in_type;
        }
        if (a->out_type == FT_STRING)
            a->str = l->nstr++;
        else if (a->fn != AG_COUNT) /* count is the accumulator's shared counter */
            a->slot = l->nslots++;
        char def[128];
        if (field)
            snprintf(def, sizeof def, "%s_%s", fn, field);
        else
            snprintf(def, sizeof def, "%s", fn);
        a->name = xstrdup(as ? as : def);
    }
    l->fixed = 8 + 8 * (uint32_t)l->nslots;
    return 0;
}

void agg_free(agg_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->a[i].name);
    free(l->a);
    memset(l, 0, sizeof *l);
}

void agg_schema(const agg_list *l, schema *s)
{
    for (int i = 0; i < l->n; i++)
        schema_add(s, l->a[i].name, l->a[i].out_type);
}

uint32_t acc_size(const agg_list *l, const uint8_t *acc)
{
    uint32_t n = l->fixed;
    for (int i = 0; i < l->nstr; i++)
        n += 4 + rd_u32(acc + n);
    return n;
}


/* Fold one value into a fixed slot; first is 1 for the first record. */
static void slot_add(const agg_def *a, uint8_t *p, const uint8_t *f, int first)
{
    switch (a->fn) {
    case AG_COUNT:
        break;
    case AG_SUM:
    case AG_AVG:
        if (a->in_type == FT_F64 || a->fn == AG_AVG) {
            double v = a->in_type == FT_F64 ? rd_f64(f) : (double)rd_i64(f);
            wr_f64(p, (first ? 0 : rd_f64(p)) + v);
        } else {
            wr_i64(p, (int64_t)((uint64_t)(first ? 0 : rd_i64(p)) + (uint64_t)rd_i64(f)));
        }
        break;
    case AG_MIN:
    case AG_MAX: {
        int better;
        if (first)
            better = 1;
        else if (a->in_type == FT_F64)
            better = a->fn == AG_MIN ? rd_f64(f) < rd_f64(p) : rd_f64(f) > rd_f64(p);
        else
            better = a->fn == AG_MIN ? rd_i64(f) < rd_i64(p) : rd_i64(f) > rd_i64(p);
        if (better)
            memcpy(p, f, 8);
        break;
    }
    case AG_FIRST:
        if (first)
            memcpy(p, f, a->in_type == FT_BOOL ? 1 : 8);
        break;
    case AG_LAST:
        memcpy(p, f, a->in_type == FT_BOOL ? 1 : 8);
        break;
    }
}

void acc_add_fixed(const agg_list *l, uint8_t *acc, const schema *in, const uint8_t *rec)
{
    int64_t c = rd_i64(acc);
    for (int i = 0; i < l->n; i++) {
        const agg_def *a = &l->a[i];
        if (a->fn == AG_COUNT)
            continue;
        slot_add(a, acc + 8 + 8 * a->slot, rec_field(in, rec, a->field), c == 0);
    }
    wr_i64(acc, c + 1);
}

static void buf_reserve(recbuf *b, uint32_t n)
{
    if (b->cap < n) {
        b->cap = n < 64 ? 64 : n * 2;
        b->p = xrealloc(b->p, b->cap);
    }
}

/* Pointer to string aggregate k of acc (u32 length then bytes). */
static const uint8_t *acc_str(const agg_list *l, const uint8_t *acc, int k)
{
    const uint8_t *p = acc + l->fixed;
    while (k-- > 0)
        p += 4 + rd_u32(p);
    return p;
}

uint32_t acc_add(const agg_list *l, const uint8_t *acc, const schema *in, const uint8_t *rec,
                 recbuf *out)
{
    int64_t c = acc ? rd_i64(acc) : 0;
    /* Size of the result: fixed part, then each string (new or kept). */
    uint32_t size = l->fixed;
    for (int i = 0; i < l->n; i++) {
        const agg_def *a = &l->a[i];
        if (a->str < 0)
            continue;
        int take = a->fn == AG_LAST || c == 0;
        size += 4 + (take ? rd_u32(rec_field(in, rec, a->field)) : rd_u32(acc_str(l, acc, a->str)));
    }
    buf_reserve(out, size);
    uint8_t *o = out->p;
    if (acc)
        memcpy(o, acc, l->fixed);
    else
        memset(o, 0, l->fixed);
    uint8_t *sp = o + l->fixed;
    for (int i = 0; i < l->n; i++) {
        const agg_def *a = &l->a[i];
        if (a->fn == AG_COUNT)
            continue;
        const uint8_t *f = rec_field(in, rec, a->field);
        if (a->str < 0) {
            slot_add(a, o + 8 + 8 * a->slot, f, c == 0);
            continue;
        }
        const uint8_t *src = (a->fn == AG_LAST || c == 0) ? f : acc_str(l, acc, a->str);
        uint32_t n = 4 + rd_u32(src);
        memcpy(sp, src, n);
        sp += n;
    }
    wr_i64(o, c + 1);
    out->len = size;
    return size;
}

uint32_t acc_merge(const agg_list *l, const uint8_t *x, const uint8_t *y, recbuf *out)
{
    int64_t cx = rd_i64(x), cy = rd_i64(y);
    uint32_t size = l->fixed;
    for (int i = 0; i < l->n; i++) {
        const agg_def *a = &l->a[i];
        if (a->str >= 0) {
            const uint8_t *src = a->fn == AG_FIRST ? (cx ? acc_str(l, x, a->str) : acc_str(l, y, a->str))
                                                   : (cy ? acc_str(l, y, a->str) : acc_str(l, x, a->str));
            size += 4 + rd_u32(src);
        }
    }
    buf_reserve(out, size);
    uint8_t *o = out->p;
    uint8_t *sp = o + l->fixed;
    memset(o, 0, l->fixed);
    for (int i = 0; i < l->n; i++) {
        const agg_def *a = &l->a[i];
        if (a->str >= 0) {
            const uint8_t *src = a->fn == AG_FIRST ? (cx ? acc_str(l, x, a->str) : acc_str(l, y, a->str))
                                                   : (cy ? acc_str(l, y, a->str) : acc_str(l, x, a->str));
            uint32_t n = 4 + rd_u32(src);
            memcpy(sp, src, n);
            sp += n;
            continue;
        }
        if (a->fn == AG_COUNT)
            continue;
        const uint8_t *px = x + 8 + 8 * a->slot, *py = y + 8 + 8 * a->slot;
        uint8_t *po = o + 8 + 8 * a->slot;
        if (!cy) {
            memcpy(po, px, 8);
        } else if (!cx) {
            memcpy(po, py, 8);
        } else if (a->fn == AG_SUM || a->fn == AG_AVG) {
            if (a->in_type == FT_F64 || a->fn == AG_AVG)
                wr_f64(po, rd_f64(px) + rd_f64(py));
            else
                wr_i64(po, (int64_t)((uint64_t)rd_i64(px) + (uint64_t)rd_i64(py)));
        } else if (a->fn == AG_MIN || a->fn == AG_MAX) {
            int ylt = a->in_type == FT_F64 ? rd_f64(py) < rd_f64(px) : rd_i64(py) < rd_i64(px);
            int ygt = a->in_type == FT_F64 ? rd_f64(py) > rd_f64(px) : rd_i64(py) > rd_i64(px);
            memcpy(po, (a->fn == AG_MIN ? ylt : ygt) ? py : px, 8);
        } else {
            memcpy(po, a->fn == AG_FIRST ? px : py, 8);
        }
    }
    wr_i64(o, cx + cy);
    out->len = size;
    return size;
}

void acc_emit(const agg_list *l, const uint8_t *acc, recbuf *rb)
{
    int64_t c = rd_i64(acc);
    for (int i = 0; i < l->n; i++) {
        const agg_def *a = &l->a[i];
        if (a->fn == AG_COUNT) {
            recbuf_i64(rb, c);
        } else if (a->str >= 0) {
            const uint8_t *s = acc_str(l, acc, a->str);
            recbuf_str(rb, s + 4, rd_u32(s));
        } else if (a->fn == AG_AVG) {
            recbuf_f64(rb, c ? rd_f64(acc + 8 + 8 * a->slot) / (double)c : 0.0);
        } else if (a->out_type == FT_BOOL) {
            recbuf_bool(rb, acc[8 + 8 * a->slot]);
        } else {
            recbuf_raw_field(rb, a->out_type, acc + 8 + 8 * a->slot);
        }
    }
}
