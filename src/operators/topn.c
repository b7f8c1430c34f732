/* `type: top-n`: the N best rows per key, emitted when event time reaches
 * them (operators layer). This is the keyed process function of Flink's
 * HotItems example (list state per key plus an event-time timer), and
 * the ranking step of Nexmark q5 and q7:
 *
 *   - {uid: top, type: top-n, key-by: window_end, order-by: cnt, n: 3}
 *
 * Rows are buffered per key; each key gets a timer at the event time in
 * its `emit-at` field (default: the input's event-time field, which for
 * window results is window_time = window_end - 1, so the ranking fires on
 * the same watermark that fired the window). When it fires, the rows are
 * sorted by `order-by` (`order: desc` by default), the first n are emitted
 * with a rank field (1-based; named by `rank-field`, default "rank") and
 * the key's rows are dropped.
 * `with-ties: true` also emits rows equal to the n-th. */
#include <stdlib.h>
#include <string.h>
#include "ops/op.h"
#include "ops/opstate.h"
#include "state/kstore.h"
#include "state/timers.h"
#include "util/strutil.h"
#include "util/xmalloc.h"

typedef struct topn_cfg {
    int key, order_field, at_field;
    field_type order_type;
    int desc, with_ties;
    int64_t n;
} topn_cfg;

typedef struct topn_state {
    kstore rows;      /* key -> [used u32][rows u32][records] */
    timer_svc timers; /* key at emit time */
    recbuf rb;
    const uint8_t **sorted;
    size_t sorted_cap;
} topn_state;

static const char *const topn_keys[] = {"order-by", "order", "n", "with-ties", "emit-at",
                                        "rank-field", NULL};

static int field_of(op_spec *s, const char *opt, const char *name, int *idx, mpf_err *e)
{
    const schema *in = s->in_schema[0];
    *idx = schema_find(in, name);
    if (*idx >= 0)
        return 0;
    const char **names = schema_names(in);
    const char *near = str_closest(name, names);
    free(names);
    return err_set(e, MPF_ESCHEMA, "%s: operator '%s': %s field '%s' is not in the input%s%s%s",
                   ynode_pos(ynode_get(s->node, opt)), s->uid, opt, name,
                   near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
}

static int topn_configure(op_spec *s, const conf *c, mpf_err *e)
{
    (void)c;
    const schema *in = s->in_schema[0];
    if (s->part != PART_HASH)
        return err_set(e, MPF_EJOB, "%s: top-n ranks rows per key: add key-by: FIELD (e.g. "
                       "window_end)", op_where(s));
    topn_cfg *cfg = xcalloc(1, sizeof *cfg);
    s->cfg = cfg;
    const char *order_by = NULL, *order = "desc", *at = NULL, *rank = "rank";
    cfg->n = 1;
    if (ynode_get_str(s->node, "order-by", 1, &order_by, e) ||
        ynode_get_str(s->node, "order", 0, &order, e) ||
        ynode_get_i64(s->node, "n", 0, &cfg->n, e) ||
        ynode_get_bool(s->node, "with-ties", 0, &cfg->with_ties, e) ||
        ynode_get_str(s->node, "emit-at", 0, &at, e) ||
        ynode_get_str(s->node, "rank-field", 0, &rank, e))
        return err_prefix(e, "operator '%s'", s->uid);
    if (cfg->n < 1)
        return err_set(e, MPF_EJOB, "%s: operator '%s': n must be at least 1",
                       ynode_pos(ynode_get(s->node, "n")), s->uid);
    if (strcmp(order, "desc") != 0 && strcmp(order, "asc") != 0)
        return err_set(e, MPF_EJOB, "%s: operator '%s': order must be asc or desc, got '%s'",
                       ynode_pos(ynode_get(s->node, "order")), s->uid, order);
    cfg->desc = order[0] == 'd';
    cfg->key = s->key_index;
    if (field_of(s, "order-by", order_by, &cfg->order_field, e))
        return e->code;
    cfg->order_type = in->f[cfg->order_field].type;
    if (cfg->order_type == FT_BOOL)
        return err_set(e, MPF_ESCHEMA, "%s: operator '%s': cannot order by a bool",
                       ynode_pos(ynode_get(s->node, "order-by")), s->uid);
    cfg->at_field = in->rowtime;
    if (at && field_of(s, "emit-at", at, &cfg->at_field, e))
        return e->code;
    if (cfg->at_field < 0)
        return err_set(e, MPF_ESCHEMA, "%s: top-n emits on event time but its input has none: "
                       "set emit-at: FIELD", op_where(s));
    field_type at_t = in->f[cfg->at_field].type;
    if (at_t != FT_TIMESTAMP && at_t != FT_I64)
        return err_set(e, MPF_ESCHEMA, "%s: emit-at field must be a timestamp", op_where(s));
    schema_copy(&s->out_schema, in);
    if (schema_find(in, rank) >= 0)
        return err_set(e, MPF_ESCHEMA, "%s: the input already has a field '%s'; set "
                       "rank-field:", op_where(s), rank);
    schema_add(&s->out_schema, rank, FT_I64);
    return 0;
}

static void topn_describe(const op_spec *s, char *buf, size_t n)
{
    const topn_cfg *c = s->cfg;
    snprintf(buf, n, "top %lld by %s %s%s", (long long)c->n,
             s->in_schema[0]->f[c->order_field].name, c->desc ? "desc" : "asc",
             c->with_ties ? " with ties" : "");
}

static int topn_open(op_inst *oi, mpf_err *e)
{
    (void)e;
    topn_state *st = xcalloc(1, sizeof *st);
    ks_init(&st->rows);
    timers_init(&st->timers);
    recbuf_init(&st->rb);
    oi->st = st;
    return 0;
}

static void topn_close(op_inst *oi)
{
    topn_state *st = oi->st;
    if (!st)
        return;
    ks_fini(&st->rows);
    timers_fini(&st->timers);
    recbuf_fini(&st->rb);
    free(st->sorted);
    free(st);
    oi->st = NULL;
}

static const topn_cfg *sort_cfg;
static const schema *sort_schema;

static int cmp_rows(const void *pa, const void *pb)
{
    const uint8_t *a = rec_field(sort_schema, *(const uint8_t *const *)pa, sort_cfg->order_field);
    const uint8_t *b = rec_field(sort_schema, *(const uint8_t *const *)pb, sort_cfg->order_field);
    int r;
    if (sort_cfg->order_type == FT_F64) {
        double x = rd_f64(a), y = rd_f64(b);
        r = (x > y) - (x < y);
    } else if (sort_cfg->order_type == FT_STRING) {
        uint32_t la = rd_u32(a), lb = rd_u32(b);
        r = memcmp(a + 4, b + 4, la < lb ? la : lb);
        if (!r)
            r = (la > lb) - (la < lb);
    } else {
        int64_t x = rd_i64(a), y = rd_i64(b);
        r = (x > y) - (x < y);
    }
    if (sort_cfg->desc)
        r = -r;
    if (!r) { /* deterministic order among equals: by record bytes */
        uint32_t la = rec_size(*(const uint8_t *const *)pa), lb = rec_size(*(const uint8_t *const *)pb);
        r = memcmp(*(const uint8_t *const *)pa, *(const uint8_t *const *)pb, la < lb ? la : lb);
        if (!r)
            r = (la > lb) - (la < lb);
    }
    return r;
}

/* Two rows have equal order fields (ties). */
static int same_order(const topn_cfg *c, const schema *in, const uint8_t *a, const uint8_t *b)
{
    const uint8_t *fa = rec_field(in, a, c->order_field), *fb = rec_field(in, b, c->order_field);
    uint32_t wa = c->order_type == FT_STRING ? 4 + rd_u32(fa) : 8;
    uint32_t wb = c->order_type == FT_STRING ? 4 + rd_u32(fb) : 8;
    return wa == wb && memcmp(fa, fb, wa) == 0;
}

/* Pointers to the rows of a key's list, best first; returns how many. */
static size_t sort_rows(topn_state *st, const topn_cfg *c, const schema *in, uint8_t *v)
{
    uint32_t used = rd_u32(v);
    size_t n = 0;
    for (uint32_t off = 8; off < 8 + used; off += rec_size(v + off)) {
        if (n == st->sorted_cap) {
            st->sorted_cap = st->sorted_cap ? st->sorted_cap * 2 : 64;
            st->sorted = xrealloc(st->sorted, st->sorted_cap * sizeof *st->sorted);
        }
        st->sorted[n++] = v + off;
    }
    sort_cfg = c;
    sort_schema = in;
    qsort(st->sorted, n, sizeof *st->sorted, cmp_rows);
    return n;
}

/* How many of n sorted rows make the result: n best plus ties. */
static size_t result_rows(const topn_cfg *c, const schema *in, const uint8_t **sorted, size_t n)
{
    size_t k = (size_t)c->n < n ? (size_t)c->n : n;
    while (c->with_ties && k < n && same_order(c, in, sorted[k], sorted[c->n - 1]))
        k++;
    return k;
}

/* A key's list holds more rows than can matter: keep only those that
 * can still be in its result (the order is total, so later rows cannot
 * bring a dropped one back). Bounds memory by about 4n rows per key. */
static void prune(topn_state *st, const topn_cfg *c, const schema *in, uint8_t *v)
{
    size_t n = sort_rows(st, c, in, v);
    size_t k = result_rows(c, in, st->sorted, n);
    recbuf *rb = &st->rb;
    rb->len = 0;
    for (size_t i = 0; i < k; i++) {
        uint32_t rs = rec_size(st->sorted[i]);
        if (rb->cap < rb->len + rs) {
            rb->cap = (rb->len + rs) * 2;
            rb->p = xrealloc(rb->p, rb->cap);
        }
        memcpy(rb->p + rb->len, st->sorted[i], rs);
        rb->len += rs;
    }
    memcpy(v + 8, rb->p, rb->len);
    uint32_t used = rb->len, rows = (uint32_t)k;
    wr_u32(v, used);
    wr_u32(v + 4, rows);
}

static int topn_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    (void)input;
    (void)e;
    const topn_cfg *c = oi->spec->cfg;
    topn_state *st = oi->st;
    const schema *in = oi->spec->in_schema[0];
    for (const uint8_t *r = batch_first(batch); r; r = batch_next(batch, r)) {
        uint32_t klen, vcap, rs = rec_size(r);
        const uint8_t *key = rec_key(in, r, c->key, &klen);
        uint64_t h = ks_hash(key, klen);
        uint8_t *v = ks_get(&st->rows, key, klen, h, &vcap);
        if (!v) {
            v = ks_put(&st->rows, key, klen, h, vcap = 8 + rs * 4, NULL);
            timers_add(&st->timers, rd_i64(rec_field(in, r, c->at_field)), key, klen);
        }
        uint32_t used = rd_u32(v);
        if (8 + used + rs > vcap)
            v = ks_resize(&st->rows, key, klen, h, (8 + used + rs) * 2);
        memcpy(v + 8 + used, r, rs);
        used += rs;
        uint32_t rows = rd_u32(v + 4) + 1;
        wr_u32(v, used);
        wr_u32(v + 4, rows);
        if (rows > (uint64_t)c->n * 4 + 64)
            prune(st, c, in, v);
    }
    oi->state_bytes = ks_bytes(&st->rows) + timers_bytes(&st->timers);
    return 0;
}

static int topn_on_watermark(op_inst *oi, int64_t wm, mpf_err *e)
{
    (void)e;
    const topn_cfg *c = oi->spec->cfg;
    topn_state *st = oi->st;
    const schema *in = oi->spec->in_schema[0];
    int64_t time;
    const uint8_t *key;
    uint32_t klen;
    int emitted = 0;
    while (emitted < 4096 && timers_pop(&st->timers, wm, &time, &key, &klen)) {
        uint64_t h = ks_hash(key, klen);
        uint8_t *v = ks_get(&st->rows, key, klen, h, NULL);
        if (!v)
            continue;
        size_t n = sort_rows(st, c, in, v);
        n = result_rows(c, in, st->sorted, n);
        for (size_t i = 0; i < n; i++) {
            /* the row's fields, then its rank */
            const uint8_t *r = st->sorted[i];
            uint32_t body = rd_u32(r);
            recbuf *rb = &st->rb;
            if (rb->cap < REC_LEN_SIZE + body + 8) {
                rb->cap = (REC_LEN_SIZE + body + 8) * 2;
                rb->p = xrealloc(rb->p, rb->cap);
            }
            memcpy(rb->p, r, REC_LEN_SIZE + body);
            rb->len = REC_LEN_SIZE + body;
            recbuf_i64(rb, (int64_t)i + 1);
            recbuf_end(rb);
            op_emit(oi, rb->p, rb->len);
            emitted++;
        }
        ks_del(&st->rows, key, klen, h);
    }
    oi->state_bytes = ks_bytes(&st->rows) + timers_bytes(&st->timers);
    return emitted >= 4096 ? MPF_EAGAIN : 0;
}

static void topn_free_cfg(void *p)
{
    free(p);
}

/* Checkpoints: per key group, entries [klen u32][key][emit time i64]
 * [vlen u32][rows]; the timers are rebuilt from the emit times. */
static int topn_snapshot(op_inst *oi, snap_writer *w, mpf_err *e)
{
    (void)e;
    const topn_cfg *c = oi->spec->cfg;
    topn_state *st = oi->st;
    const schema *in = oi->spec->in_schema[0];
    kgbufs k;
    kgbufs_init(&k, oi);
    size_t pos = 0;
    const uint8_t *key;
    uint32_t klen;
    uint8_t *v;
    while (ks_next(&st->rows, &pos, &key, &klen, &v, NULL)) {
        uint32_t used = rd_u32(v);
        if (!used)
            continue;
        recbuf *b = kgbufs_for(&k, key, klen);
        kgbuf_u32(b, klen);
        kgbuf_put(b, key, klen);
        kgbuf_i64(b, rd_i64(rec_field(in, v + 8, c->at_field)));
        kgbuf_u32(b, 8 + used);
        kgbuf_put(b, v, 8 + used);
    }
    kgbufs_flush(&k, w);
    return 0;
}

static int topn_restore(op_inst *oi, const snap_blob *sb, mpf_err *e)
{
    topn_state *st = oi->st;
    blobrd r;
    blobrd_init(&r, sb);
    while (blobrd_more(&r)) {
        uint32_t klen = blobrd_u32(&r);
        const uint8_t *key = blobrd_bytes(&r, klen);
        int64_t at = blobrd_i64(&r);
        uint32_t vlen = blobrd_u32(&r);
        const uint8_t *v = blobrd_bytes(&r, vlen);
        if (r.bad || vlen < 8 || rd_u32(v) != vlen - 8)
            return blobrd_error(oi, sb, e);
        uint8_t *dst = ks_put(&st->rows, key, klen, ks_hash(key, klen), vlen * 2, NULL);
        memcpy(dst, v, vlen);
        timers_add(&st->timers, at, key, klen);
    }
    if (r.bad)
        return blobrd_error(oi, sb, e);
    oi->state_bytes = ks_bytes(&st->rows) + timers_bytes(&st->timers);
    return 0;
}

const op_kind op_topn = {
    .name = "top-n",
    .role = OP_TRANSFORM,
    .min_inputs = 1,
    .max_inputs = 1,
    .keys = topn_keys,
    .summary = "the n best rows per key, emitted when event time reaches them",
    .configure = topn_configure,
    .free_cfg = topn_free_cfg,
    .describe = topn_describe,
    .open = topn_open,
    .process = topn_process,
    .on_watermark = topn_on_watermark,
    .snapshot = topn_snapshot,
    .restore = topn_restore,
    .close = topn_close,
};
