/* `type: window` (keyed) and `type: window-all` (parallelism 1): Flink's
 * window operator with built-in aggregates (operators layer).
 *
 *   window: {type: tumbling, size: 5s[, offset: 0]}
 *           {type: sliding, size: 1h, slide: 5min[, offset]}
 *           {type: session, gap: 30s}
 *           {type: count, size: 100[, slide: 10]}      (global window +
 *                                                      count trigger)
 *   time: event | processing   (default: event when the input has an
 *                               event-time field, else processing)
 *   time-field: NAME           (event time from this timestamp or i64
 *                               field instead of the input's)
 *   allowed-lateness: 1min     (event time; default 0)
 *   late-output: NAME          (side output of dropped late records)
 *   aggregates: [{function: count|sum|min|max|avg|first|last, field, as}]
 *
 * Output: the key field (keyed windows), window_start, window_end and
 * window_time (= window_end - 1 ms, the event time of the result, as in
 * Flink SQL's window TVFs; count windows have no window fields), then
 * the aggregates.
 *
 * Time windows are aligned to the epoch (plus offset), so every key shares
 * the same windows: state is one kstore per open window holding the
 * keys' accumulators, and a window fires for all its keys when the
 * watermark (or the clock) passes its end - 1, without a timer per key.
 * With allowed lateness a fired window is kept until end - 1 + lateness:
 * a late record within it updates the result and re-emits it at once (as
 * Flink's EventTimeTrigger fires on late elements). A record whose every
 * window is past that goes to the late output when an operator reads it,
 * and is otherwise dropped and counted (numLateRecordsDropped).
 *
 * Session windows merge per key: accumulators are keyed by (start, key)
 * with a per-key index of open sessions, and a timer per session fires it
 * at end - 1. Count windows buffer each key's last `size` records and
 * emit every `slide` records. */
/* XXH3 inlined here: the snapshot writer hashes every key to find its key
 * group, and a call into the library costs more than the hash of 8 bytes.
 * Same function, same values as record/keygroup.h elsewhere. */
#define XXH_INLINE_ALL
#include <xxhash.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "operators/agg.h"
#include "ops/op.h"
#include "ops/opstate.h"
#include "record/keygroup.h"
#include "record/segpool.h"
#include "state/kstore.h"
#include "state/timers.h"
#include "util/xmalloc.h"
#include "util/clock.h"

enum wkind { W_TUMBLING, W_SLIDING, W_SESSION, W_COUNT };

/* Emit at most this many results per on_watermark call, so firing a big
 * window does not queue unbounded output: the task calls again when the
 * output has room. */
#define FIRE_BUDGET 4096

typedef struct win_cfg {
    enum wkind kind;
    int64_t size, slide, offset, gap; /* ms (count: records) */
    int event_time;
    int time_field;
    int64_t lateness;
    int keyed;
    int key_field;
    field_type key_type;
    int late_port; /* -1: none */
    agg_list aggs;
} win_cfg;

typedef struct awin {
    int64_t start, end;
    kstore keys; /* key -> accumulator */
    int fired;
} awin;

typedef struct win_state {
    awin *w; /* open aligned windows, sorted by end */
    int nw, capw;
    kstore sess_idx;  /* session: key -> [n u32][pad][(start, end) i64 x n] */
    kstore sess_acc;  /* session: [start][key] -> accumulator */
    timer_svc timers; /* session: [kind u8][start][key] at end - 1 (+ lateness) */
    kstore counts;    /* count: key -> [since u32][nrec u32][used u32][pad][records] */
    recbuf rb, acc, acc2, kbuf;
    uint32_t fixed_klen, fixed_vcap; /* fixed-shape window stores, or 0 */
    int fire_w;       /* firing cursor: window index and slot position */
    size_t fire_pos;
    struct cow_pool *pool; /* arenas for snapshot copies; NULL until one */
} win_state;

static void pool_unref(struct cow_pool *p);

static const char *const win_keys[] = {"window", "time", "allowed-lateness", "late-output",
                                       "aggregates", "time-field", NULL};
static const char *const wdef_keys[] = {"type", "size", "slide", "offset", "gap", NULL};

static void win_free_cfg(void *p)
{
    win_cfg *c = p;
    if (!c)
        return;
    agg_free(&c->aggs);
    free(c);
}

static int get_ms(const ynode *n, const char *key, int required, int64_t *ms, const char *uid,
                  mpf_err *e)
{
    int64_t ns = *ms * 1000000;
    if (ynode_get_duration_ns(n, key, required, &ns, e))
        return err_prefix(e, "operator '%s'", uid);
    *ms = ns / 1000000;
    return 0;
}

static int parse_window(op_spec *s, win_cfg *c, mpf_err *e)
{
    const ynode *w = ynode_get(s->node, "window");
    if (!w || w->kind != YNODE_MAP)
        return err_set(e, MPF_EJOB, "%s: window: {type: tumbling|sliding|session|count, ...} "
                       "is required", op_where(s));
    char what[300];
    snprintf(what, sizeof what, "operator '%s' window", s->uid);
    const char *type = NULL;
    if (ynode_check_keys(w, wdef_keys, what, e) || ynode_get_str(w, "type", 1, &type, e))
        return err_prefix(e, "operator '%s'", s->uid);
    const char *pos = ynode_pos(ynode_get(w, "type"));
    if (strcmp(type, "tumbling") == 0 || strcmp(type, "sliding") == 0) {
        c->kind = type[0] == 't' ? W_TUMBLING : W_SLIDING;
        if (get_ms(w, "size", 1, &c->size, s->uid, e) || get_ms(w, "offset", 0, &c->offset, s->uid, e))
            return e->code;
        c->slide = c->size;
        if (c->kind == W_SLIDING && get_ms(w, "slide", 1, &c->slide, s->uid, e))
            return e->code;
        if (c->kind == W_TUMBLING && ynode_get(w, "slide"))
            return err_set(e, MPF_EJOB, "%s: operator '%s': a tumbling window has no slide "
                           "(use type: sliding)", ynode_pos(ynode_get(w, "slide")), s->uid);
        if (c->size <= 0 || c->slide <= 0)
            return err_set(e, MPF_EJOB, "%s: operator '%s': window size and slide must be "
                           "at least 1 ms", pos, s->uid);
        if (c->offset < 0 || c->offset >= c->slide)
            return err_set(e, MPF_EJOB, "%s: operator '%s': window offset must be in [0, "
                           "slide)", pos, s->uid);
        if (c->size / c->slide > 10000)
            return err_set(e, MPF_EJOB, "%s: operator '%s': size/slide is %lld: every record "
                           "would be in that many windows", pos, s->uid,
                           (long long)(c->size / c->slide));
    } else if (strcmp(type, "session") == 0) {
        c->kind = W_SESSION;
        if (get_ms(w, "gap", 1, &c->gap, s->uid, e))
            return e->code;
        if (c->gap <= 0)
            return err_set(e, MPF_EJOB, "%s: operator '%s': session gap must be at least 1 ms",
                           pos, s->uid);
    } else if (strcmp(type, "count") == 0) {
        c->kind = W_COUNT;
        if (ynode_get_i64(w, "size", 1, &c->size, e))
            return err_prefix(e, "operator '%s'", s->uid);
        c->slide = c->size;
        if (ynode_get_i64(w, "slide", 0, &c->slide, e))
            return err_prefix(e, "operator '%s'", s->uid);
        if (c->size < 1 || c->slide < 1 || c->slide > c->size || c->size > 1000000)
            return err_set(e, MPF_EJOB, "%s: operator '%s': count windows need 1 <= slide <= "
                           "size <= 1000000", pos, s->uid);
    } else {
        return err_set(e, MPF_EJOB, "%s: operator '%s': window type must be tumbling, sliding, "
                       "session or count, got '%s'", pos, s->uid, type);
    }
    return 0;
}

static int win_configure(op_spec *s, const conf *cf, mpf_err *e)
{
    (void)cf;
    const schema *in = s->in_schema[0];
    int keyed = strcmp(s->kind->name, "window") == 0;
    if (keyed && s->part != PART_HASH)
        return err_set(e, MPF_EJOB, "%s: a window needs a keyed input: add key-by: FIELD (or "
                       "use type: window-all)", op_where(s));
    if (!keyed && s->part == PART_HASH)
        return err_set(e, MPF_EJOB, "%s: window-all takes no key-by (use type: window)",
                       op_where(s));
    win_cfg *c = xcalloc(1, sizeof *c);
    s->cfg = c;
    c->keyed = keyed;
    c->key_field = keyed ? s->key_index : -1;
    c->late_port = -1;
    if (parse_window(s, c, e))
        return e->code;
    const char *time = NULL, *tfield = NULL, *late = NULL;
    if (ynode_get_str(s->node, "time", 0, &time, e) ||
        ynode_get_str(s->node, "time-field", 0, &tfield, e) ||
        ynode_get_str(s->node, "late-output", 0, &late, e))
        return err_prefix(e, "operator '%s'", s->uid);
    c->time_field = in->rowtime;
    if (tfield) {
        c->time_field = schema_find(in, tfield);
        if (c->time_field < 0 || (in->f[c->time_field].type != FT_TIMESTAMP &&
                                  in->f[c->time_field].type != FT_I64))
            return err_set(e, MPF_ESCHEMA, "%s: operator '%s': time-field '%s' must be a "
                           "timestamp or i64 field of the input",
                           ynode_pos(ynode_get(s->node, "time-field")), s->uid, tfield);
    }
    if (time && strcmp(time, "event") != 0 && strcmp(time, "processing") != 0)
        return err_set(e, MPF_EJOB, "%s: operator '%s': time must be event or processing, got "
                       "'%s'", ynode_pos(ynode_get(s->node, "time")), s->uid, time);
    c->event_time = time ? strcmp(time, "event") == 0 : c->time_field >= 0;
    if (c->kind == W_COUNT)
        c->event_time = 0;
    if (c->event_time && c->time_field < 0)
        return err_set(e, MPF_ESCHEMA, "%s: event-time window but the input has no event time: "
                       "give its source a watermark: {field: ...} or set time-field:",
                       op_where(s));
    if (get_ms(s->node, "allowed-lateness", 0, &c->lateness, s->uid, e))
        return e->code;
    if (c->lateness < 0 || (c->lateness && !c->event_time))
        return err_set(e, MPF_EJOB, "%s: allowed-lateness needs event time and must be >= 0",
                       op_where(s));
    char what[300];
    snprintf(what, sizeof what, "operator '%s'", s->uid);
    if (agg_parse(&c->aggs, ynode_get(s->node, "aggregates"), in, what, e))
        return e->code;
    if (keyed) {
        c->key_type = in->f[c->key_field].type;
        schema_add(&s->out_schema, in->f[c->key_field].name, c->key_type);
    }
    if (c->kind != W_COUNT) {
        schema_add(&s->out_schema, "window_start", FT_TIMESTAMP);
        schema_add(&s->out_schema, "window_end", FT_TIMESTAMP);
        schema_add(&s->out_schema, "window_time", FT_TIMESTAMP);
        s->out_schema.rowtime = s->out_schema.n - 1;
    }
    for (int i = 0; i < c->aggs.n; i++)
        if (schema_find(&s->out_schema, c->aggs.a[i].name) >= 0)
            return err_set(e, MPF_ESCHEMA, "%s: output field '%s' appears twice; rename the "
                           "aggregate with as:", op_where(s), c->aggs.a[i].name);
    agg_schema(&c->aggs, &s->out_schema);
    if (late) {
        if (!c->event_time)
            return err_set(e, MPF_EJOB, "%s: late-output needs an event-time window",
                           op_where(s));
        c->late_port = op_add_side_output(s, late, in);
    }
    return 0;
}

static void win_describe(const op_spec *s, char *buf, size_t n)
{
    const win_cfg *c = s->cfg;
    static const char *kinds[] = {"tumbling", "sliding", "session", "count"};
    snprintf(buf, n, "%s %s window, %d aggregate(s)%s", kinds[c->kind],
             c->kind == W_COUNT ? "" : c->event_time ? "event-time" : "processing-time",
             c->aggs.n, c->late_port >= 0 ? ", late side output" : "");
}

static int win_open(op_inst *oi, mpf_err *e)
{
    (void)e;
    win_state *st = xcalloc(1, sizeof *st);
    ks_init(&st->sess_idx);
    ks_init(&st->sess_acc);
    ks_init(&st->counts);
    timers_init(&st->timers);
    recbuf_init(&st->rb);
    recbuf_init(&st->acc);
    recbuf_init(&st->acc2);
    recbuf_init(&st->kbuf);
    /* A fixed-width key and accumulator need no per-entry header. */
    const win_cfg *c = oi->spec->cfg;
    if (c->keyed && c->key_type != FT_STRING && !c->aggs.nstr) {
        st->fixed_klen = c->key_type == FT_BOOL ? 1 : 8;
        st->fixed_vcap = c->aggs.fixed;
    }
    oi->st = st;
    return 0;
}

static void win_close(op_inst *oi)
{
    win_state *st = oi->st;
    if (!st)
        return;
    for (int i = 0; i < st->nw; i++)
        ks_fini(&st->w[i].keys);
    free(st->w);
    ks_fini(&st->sess_idx);
    ks_fini(&st->sess_acc);
    ks_fini(&st->counts);
    timers_fini(&st->timers);
    recbuf_fini(&st->rb);
    recbuf_fini(&st->acc);
    recbuf_fini(&st->acc2);
    recbuf_fini(&st->kbuf);
    pool_unref(st->pool);
    free(st);
    oi->st = NULL;
}

static void update_state_bytes(op_inst *oi)
{
    win_state *st = oi->st;
    size_t b = ks_bytes(&st->sess_idx) + ks_bytes(&st->sess_acc) + ks_bytes(&st->counts) +
               timers_bytes(&st->timers) + (size_t)st->capw * sizeof *st->w;
    for (int i = 0; i < st->nw; i++)
        b += ks_bytes(&st->w[i].keys);
    oi->state_bytes = b;
}

/* Emit one result: key, window fields, aggregates. */
static void emit_result(op_inst *oi, const uint8_t *key, uint32_t klen, int64_t start,
                        int64_t end, const uint8_t *acc)
{
    const win_cfg *c = oi->spec->cfg;
    win_state *st = oi->st;
    recbuf *rb = &st->rb;
    recbuf_begin(rb);
    if (c->keyed) {
        if (c->key_type == FT_STRING)
            recbuf_str(rb, key, klen);
        else
            recbuf_raw_field(rb, c->key_type, key);
    }
    if (c->kind != W_COUNT) {
        recbuf_i64(rb, start);
        recbuf_i64(rb, end);
        recbuf_i64(rb, end - 1);
    }
    acc_emit(&c->aggs, acc, rb);
    recbuf_end(rb);
    op_emit(oi, rb->p, rb->len);
}

/* A record too late for every window: to the late output when an operator
 * reads it, else dropped and counted (numLateRecordsDropped counts only
 * records that are really lost, as in Flink). */
static void late_record(op_inst *oi, const uint8_t *rec)
{
    const win_cfg *c = oi->spec->cfg;
    if (c->late_port >= 0 && oi->side && oi->side[c->late_port])
        op_emit_side(oi, c->late_port, rec, rec_size(rec));
    else
        oi->late_dropped++;
}

/* ---- aligned (tumbling, sliding) windows ---- */

static awin *aligned_get(win_state *st, int64_t start, int64_t end)
{
    int i = st->nw;
    while (i > 0 && st->w[i - 1].end >= end) {
        if (st->w[i - 1].end == end)
            return &st->w[i - 1];
        i--;
    }
    if (st->nw == st->capw) {
        st->capw = st->capw ? st->capw * 2 : 16;
        st->w = xrealloc(st->w, (size_t)st->capw * sizeof *st->w);
    }
    memmove(&st->w[i + 1], &st->w[i], (size_t)(st->nw - i) * sizeof *st->w);
    st->nw++;
    awin *w = &st->w[i];
    w->start = start;
    w->end = end;
    w->fired = 0;
    ks_init_fixed(&w->keys, st->fixed_klen, st->fixed_vcap);
    return w;
}

/* Fold rec into the accumulator of key in store ks; returns a pointer to
 * the stored accumulator. */
static const uint8_t *fold(op_inst *oi, kstore *ks, const uint8_t *key, uint32_t klen,
                           uint64_t h, const uint8_t *rec)
{
    const win_cfg *c = oi->spec->cfg;
    win_state *st = oi->st;
    const schema *in = oi->spec->in_schema[0];
    if (!c->aggs.nstr) {
        uint8_t *acc = ks_put(ks, key, klen, h, c->aggs.fixed, NULL);
        acc_add_fixed(&c->aggs, acc, in, rec);
        return acc;
    }
    uint32_t vcap;
    uint8_t *old = ks_get(ks, key, klen, h, &vcap);
    uint32_t n = acc_add(&c->aggs, old, in, rec, &st->acc);
    uint8_t *acc = old ? ks_resize(ks, key, klen, h, n) : ks_put(ks, key, klen, h, n, NULL);
    memcpy(acc, st->acc.p, n);
    return acc;
}

static void aligned_process(op_inst *oi, const uint8_t *rec, int64_t ts, const uint8_t *key,
                            uint32_t klen, uint64_t h)
{
    const win_cfg *c = oi->spec->cfg;
    win_state *st = oi->st;
    int64_t rem = (ts - c->offset) % c->slide;
    if (rem < 0)
        rem += c->slide;
    int any = 0;
    for (int64_t start = ts - rem; start > ts - c->size; start -= c->slide) {
        int64_t end = start + c->size;
        if (c->event_time && end - 1 + c->lateness <= oi->watermark)
            continue; /* this window is gone */
        any = 1;
        awin *w = aligned_get(st, start, end);
        const uint8_t *acc = fold(oi, &w->keys, key, klen, h, rec);
        if (w->fired) /* late but within allowed lateness: update the result */
            emit_result(oi, key, klen, start, end, acc);
    }
    if (!any)
        late_record(oi, rec);
}

/* Fire windows with end - 1 <= t and drop those past their lateness.
 * Returns MPF_EAGAIN when the budget ran out mid-window. */
static int aligned_advance(op_inst *oi, int64_t t)
{
    const win_cfg *c = oi->spec->cfg;
    win_state *st = oi->st;
    int emitted = 0;
    for (; st->fire_w < st->nw; st->fire_w++, st->fire_pos = 0) {
        awin *w = &st->w[st->fire_w];
        if (w->end - 1 > t)
            break;
        if (w->fired)
            continue;
        const uint8_t *key;
        uint32_t klen;
        uint8_t *acc;
        while (ks_next(&w->keys, &st->fire_pos, &key, &klen, &acc, NULL)) {
            emit_result(oi, key, klen, w->start, w->end, acc);
            if (++emitted >= FIRE_BUDGET)
                return MPF_EAGAIN;
        }
        w->fired = 1;
    }
    st->fire_w = 0;
    st->fire_pos = 0;
    int keep = 0;
    for (int i = 0; i < st->nw; i++) {
        awin *w = &st->w[i];
        if (w->fired && w->end - 1 + c->lateness <= t)
            ks_fini(&w->keys);
        else
            st->w[keep++] = *w;
    }
    st->nw = keep;
    return 0;
}

/* ---- session windows ---- */

enum { TM_FIRE = 1, TM_CLEAN = 2 };

/* [start][key] in st->kbuf. */
static void sess_key(win_state *st, int64_t start, const uint8_t *key, uint32_t klen)
{
    recbuf *b = &st->kbuf;
    b->len = 0;
    recbuf_i64(b, start);
    if (b->cap < b->len + klen) {
        b->cap = (b->len + klen) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    if (klen)
        memcpy(b->p + b->len, key, klen);
    b->len += klen;
}

static void sess_timer(win_state *st, int add, int kind, int64_t time, int64_t start,
                       const uint8_t *key, uint32_t klen)
{
    uint32_t n = 9 + klen;
    uint8_t small[256], *k = n <= sizeof small ? small : xmalloc(n);
    k[0] = (uint8_t)kind;
    wr_i64(k + 1, start);
    if (klen)
        memcpy(k + 9, key, klen);
    if (add)
        timers_add(&st->timers, time, k, n);
    else
        timers_del(&st->timers, time, k, n);
    if (k != small)
        free(k);
}

static void session_process(op_inst *oi, const uint8_t *rec, int64_t ts, const uint8_t *key,
                            uint32_t klen, uint64_t h)
{
    const win_cfg *c = oi->spec->cfg;
    win_state *st = oi->st;
    int64_t start = ts, end = ts + c->gap;
    if (c->event_time && end - 1 + c->lateness <= oi->watermark) {
        late_record(oi, rec);
        return;
    }
    uint32_t vcap = 0;
    uint8_t *idx = ks_get(&st->sess_idx, key, klen, h, &vcap);
    uint32_t n = idx ? rd_u32(idx) : 0;
    /* Fold into a fresh accumulator, then merge every session it touches
     * (Flink's TimeWindow.intersects: start <= o.end && end >= o.start). */
    acc_add(&c->aggs, NULL, oi->spec->in_schema[0], rec, &st->acc);
    int64_t mstart = start, mend = end;
    uint32_t keep = 0;
    int64_t *wins = idx ? (int64_t *)(void *)(idx + 8) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        int64_t ws = wins[2 * i], we = wins[2 * i + 1];
        if (!(ws <= end && we >= start)) {
            wins[2 * keep] = ws;
            wins[2 * keep + 1] = we;
            keep++;
            continue;
        }
        /* merge session (ws, we) into the new one */
        sess_key(st, ws, key, klen);
        uint64_t sh = ks_hash(st->kbuf.p, st->kbuf.len);
        const uint8_t *old = ks_get(&st->sess_acc, st->kbuf.p, st->kbuf.len, sh, NULL);
        if (old) {
            if (ws <= mstart)
                acc_merge(&c->aggs, old, st->acc.p, &st->acc2);
            else
                acc_merge(&c->aggs, st->acc.p, old, &st->acc2);
            recbuf t = st->acc;
            st->acc = st->acc2;
            st->acc2 = t;
            ks_del(&st->sess_acc, st->kbuf.p, st->kbuf.len, sh);
        }
        sess_timer(st, 0, TM_FIRE, we - 1, ws, key, klen);
        if (c->lateness)
            sess_timer(st, 0, TM_CLEAN, we - 1 + c->lateness, ws, key, klen);
        if (ws < mstart)
            mstart = ws;
        if (we > mend)
            mend = we;
    }
    /* index: kept sessions plus the merged one */
    uint32_t need = 8 + 16 * (keep + 1);
    if (!idx) {
        idx = ks_put(&st->sess_idx, key, klen, h, need, NULL);
    } else if (vcap < need) {
        idx = ks_resize(&st->sess_idx, key, klen, h, need);
    }
    wins = (int64_t *)(void *)(idx + 8);
    wins[2 * keep] = mstart;
    wins[2 * keep + 1] = mend;
    keep++;
    wr_u32(idx, keep);
    sess_key(st, mstart, key, klen);
    uint64_t sh = ks_hash(st->kbuf.p, st->kbuf.len);
    uint32_t size = acc_size(&c->aggs, st->acc.p);
    uint8_t *acc = ks_put(&st->sess_acc, st->kbuf.p, st->kbuf.len, sh, size, NULL);
    memcpy(acc, st->acc.p, size);
    if (c->event_time && mend - 1 <= oi->watermark) /* late within lateness: refire */
        emit_result(oi, key, klen, mstart, mend, acc);
    else
        sess_timer(st, 1, TM_FIRE, mend - 1, mstart, key, klen);
    if (c->lateness)
        sess_timer(st, 1, TM_CLEAN, mend - 1 + c->lateness, mstart, key, klen);
}

/* Remove session (start) of key from the index and its accumulator. */
static void session_drop(win_state *st, int64_t start, const uint8_t *key, uint32_t klen)
{
    uint64_t h = ks_hash(key, klen);
    uint8_t *idx = ks_get(&st->sess_idx, key, klen, h, NULL);
    if (idx) {
        uint32_t n = rd_u32(idx), keep = 0;
        int64_t *wins = (int64_t *)(void *)(idx + 8);
        for (uint32_t i = 0; i < n; i++)
            if (wins[2 * i] != start) {
                wins[2 * keep] = wins[2 * i];
                wins[2 * keep + 1] = wins[2 * i + 1];
                keep++;
            }
        if (keep)
            wr_u32(idx, keep);
        else
            ks_del(&st->sess_idx, key, klen, h);
    }
    sess_key(st, start, key, klen);
    ks_del(&st->sess_acc, st->kbuf.p, st->kbuf.len, ks_hash(st->kbuf.p, st->kbuf.len));
}

static int session_advance(op_inst *oi, int64_t t)
{
    const win_cfg *c = oi->spec->cfg;
    win_state *st = oi->st;
    int64_t time;
    const uint8_t *tk;
    uint32_t tklen;
    int emitted = 0;
    while (emitted < FIRE_BUDGET && timers_pop(&st->timers, t, &time, &tk, &tklen)) {
        int64_t start;
        start = rd_i64(tk + 1);
        const uint8_t *key = tk + 9;
        uint32_t klen = tklen - 9;
        if (tk[0] == TM_CLEAN) {
            session_drop(st, start, key, klen);
            continue;
        }
        sess_key(st, start, key, klen);
        const uint8_t *acc = ks_get(&st->sess_acc, st->kbuf.p, st->kbuf.len,
                                    ks_hash(st->kbuf.p, st->kbuf.len), NULL);
        if (acc) {
            emit_result(oi, key, klen, start, time + 1, acc);
            emitted++;
        }
        if (!c->lateness)
            session_drop(st, start, key, klen);
    }
    return emitted >= FIRE_BUDGET ? MPF_EAGAIN : 0;
}

/* ---- count windows ---- */

static void count_process(op_inst *oi, const uint8_t *rec, const uint8_t *key, uint32_t klen,
                          uint64_t h)
{
    const win_cfg *c = oi->spec->cfg;
    win_state *st = oi->st;
    const schema *in = oi->spec->in_schema[0];
    uint32_t rs = rec_size(rec), vcap;
    uint8_t *v = ks_get(&st->counts, key, klen, h, &vcap);
    if (!v)
        v = ks_put(&st->counts, key, klen, h, vcap = 16 + rs * 2, NULL);
    uint32_t since = rd_u32(v), nrec = rd_u32(v + 4), used = rd_u32(v + 8);
    if (16 + used + rs > vcap) {
        v = ks_resize(&st->counts, key, klen, h, vcap = (16 + used + rs) * 2);
    }
    memcpy(v + 16 + used, rec, rs);
    used += rs;
    nrec++;
    since++;
    if (nrec > (uint32_t)c->size) { /* drop the oldest */
        uint32_t first = rec_size(v + 16);
        memmove(v + 16, v + 16 + first, used - first);
        used -= first;
        nrec--;
    }
    if (since == (uint32_t)c->slide) {
        const uint8_t *acc = NULL;
        for (uint32_t off = 16; off < 16 + used; off += rec_size(v + off)) {
            acc_add(&c->aggs, acc, in, v + off, &st->acc);
            recbuf t = st->acc;
            st->acc = st->acc2;
            st->acc2 = t;
            acc = st->acc2.p;
        }
        emit_result(oi, key, klen, 0, 0, acc);
        since = 0;
        if (c->slide == c->size) {
            nrec = 0;
            used = 0;
        }
    }
    wr_u32(v, since);
    wr_u32(v + 4, nrec);
    wr_u32(v + 8, used);
}

/* ---- operator ---- */

static int64_t next_fire(const op_inst *oi)
{
    const win_cfg *c = oi->spec->cfg;
    win_state *st = oi->st;
    if (c->kind == W_SESSION)
        return timers_next(&st->timers);
    for (int i = 0; i < st->nw; i++)
        if (!st->w[i].fired)
            return st->w[i].end - 1;
    return INT64_MAX;
}

static int win_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    (void)input;
    (void)e;
    const win_cfg *c = oi->spec->cfg;
    const schema *in = oi->spec->in_schema[0];
    int64_t now = c->event_time || c->kind == W_COUNT ? 0 : clock_wall_ms();
    for (const uint8_t *r = batch_first(batch); r; r = batch_next(batch, r)) {
        uint32_t klen = 0;
        const uint8_t *key = c->keyed ? rec_key(in, r, c->key_field, &klen) : (const uint8_t *)"";
        uint64_t h = ks_hash(key, klen);
        int64_t ts = c->event_time ? rd_i64(rec_field(in, r, c->time_field)) : now;
        switch (c->kind) {
        case W_TUMBLING:
        case W_SLIDING:
            aligned_process(oi, r, ts, key, klen, h);
            break;
        case W_SESSION:
            session_process(oi, r, ts, key, klen, h);
            break;
        case W_COUNT:
            count_process(oi, r, key, klen, h);
            break;
        }
    }
    if (!c->event_time && c->kind != W_COUNT)
        oi->proc_timer = next_fire(oi);
    update_state_bytes(oi);
    return 0;
}

static int advance(op_inst *oi, int64_t t)
{
    const win_cfg *c = oi->spec->cfg;
    int rc = c->kind == W_SESSION ? session_advance(oi, t) : aligned_advance(oi, t);
    update_state_bytes(oi);
    return rc;
}

static int win_on_watermark(op_inst *oi, int64_t wm, mpf_err *e)
{
    (void)e;
    const win_cfg *c = oi->spec->cfg;
    if (!c->event_time || c->kind == W_COUNT)
        return 0;
    return advance(oi, wm);
}

static int win_on_proc_time(op_inst *oi, int64_t now, mpf_err *e)
{
    (void)e;
    int rc = advance(oi, now);
    if (rc != MPF_EAGAIN)
        oi->proc_timer = next_fire(oi);
    return rc;
}

/* End of input: processing-time windows fire what they hold (event-time
 * ones already did, on the final watermark). */
static int win_finish(op_inst *oi, mpf_err *e)
{
    (void)e;
    const win_cfg *c = oi->spec->cfg;
    if (c->event_time || c->kind == W_COUNT)
        return 0;
    return advance(oi, INT64_MAX);
}


/* ---- checkpoints ----
 * One blob per key group, a sequence of records, each starting with its
 * type (u32):
 *   4 aligned run: [klen u32][alen u32][n u32][start i64][end i64]
 *                  [fired u32] and the window's n entries of this key
 *                  group: [key][acc] when klen and alen are not 0 (a
 *                  fixed-width key and accumulator), else
 *                  [klen u32][key][alen u32][acc]
 *   2 session: [klen u32][key][start i64][end i64][alen u32][acc]
 *   3 count:   [klen u32][key][vlen u32][buffer]
 *   1 aligned, one key (written before runs existed; still read):
 *              [klen u32][key][start i64][end i64][fired u32][alen u32][acc]
 * Timers are rebuilt on restore. */
enum { SN_ALIGNED = 1, SN_SESSION = 2, SN_COUNT = 3, SN_ALIGNED_RUN = 4 };
enum { RUN_HDR = 4 * 4 + 8 + 8 + 4 };

/* Arenas of earlier snapshot copies, kept for the next snapshot: the copy
 * runs on the task thread at the barrier (a TaskManager busy there delays
 * its peers' alignment too), and copying into pages already touched is
 * about 3x faster than into fresh ones. The window and its pending
 * snapshots share the pool (the writer thread hands arenas back), so it
 * is reference-counted and locked. It holds at most the copies' memory,
 * which a checkpoint needs anyway. */
enum { POOL_MAX = 16 };

typedef struct cow_pool {
    pthread_mutex_t mu;
    int refs, n;
    void *buf[POOL_MAX];
    size_t cap[POOL_MAX];
} cow_pool;

static cow_pool *pool_new(void)
{
    cow_pool *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->refs = 1;
    return p;
}

static cow_pool *pool_ref(cow_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->refs++;
    pthread_mutex_unlock(&p->mu);
    return p;
}

static void pool_unref(cow_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (!last)
        return;
    for (int i = 0; i < p->n; i++)
        free(p->buf[i]);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* The smallest pooled buffer of at least need bytes, or a new one with
 * room to grow (pages not touched cost nothing), replacing the largest
 * pooled one (the copy of a store that has grown since); *cap gets its
 * size. */
static void *pool_take(cow_pool *p, size_t need, size_t *cap)
{
    if (!need) {
        *cap = 0;
        return NULL;
    }
    int best = -1;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->n; i++)
        if (p->cap[i] >= need && (best < 0 || p->cap[i] < p->cap[best]))
            best = i;
    if (best < 0) /* none fits: the largest too small one was its predecessor */
        for (int i = 0; i < p->n; i++)
            if (best < 0 || p->cap[i] > p->cap[best])
                best = i;
    void *b = NULL;
    if (best >= 0) {
        b = p->buf[best];
        *cap = p->cap[best];
        p->n--;
        p->buf[best] = p->buf[p->n];
        p->cap[best] = p->cap[p->n];
    }
    pthread_mutex_unlock(&p->mu);
    if (b && *cap < need) { /* a grown store: drop the old buffer */
        free(b);
        b = NULL;
    }
    if (!b) {
        *cap = need + need / 4;
        b = xmalloc(*cap);
    }
    return b;
}

/* Keep buf for a later snapshot (when the pool is full, the smallest
 * buffer goes). */
static void pool_give(cow_pool *p, void *buf, size_t cap)
{
    if (!buf)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->refs > 1 && p->n == POOL_MAX) { /* evict the smallest */
        int small = 0;
        for (int i = 1; i < p->n; i++)
            if (p->cap[i] < p->cap[small])
                small = i;
        if (p->cap[small] < cap) {
            void *old = p->buf[small];
            p->buf[small] = buf;
            p->cap[small] = cap;
            buf = old;
        }
    } else if (p->refs > 1) { /* refs == 1: the window is gone */
        p->buf[p->n] = buf;
        p->cap[p->n++] = cap;
        buf = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    free(buf);
}

/* Copy-on-write: at the barrier only the tables are copied (memcpy of
 * their arenas, and of slots only where lookups need them); the writer
 * thread turns the copies into blobs while the window goes on. */
typedef struct win_cow {
    const win_cfg *c;
    win_state st;         /* copies of the tables */
    int first, nkg, maxp; /* the subtask's key groups */
    cow_pool *pool;
} win_cow;

static void cow_fini_store(win_cow *v, kstore *ks)
{
    size_t cap;
    void *a = ks_take_arena(ks, &cap);
    pool_give(v->pool, a, cap);
    ks_fini(ks);
}

static void win_cow_free(void *p)
{
    win_cow *v = p;
    for (int i = 0; i < v->st.nw; i++)
        cow_fini_store(v, &v->st.w[i].keys);
    free(v->st.w);
    cow_fini_store(v, &v->st.sess_idx);
    ks_fini(&v->st.sess_acc);
    cow_fini_store(v, &v->st.counts);
    recbuf_fini(&v->st.kbuf);
    pool_unref(v->pool);
    free(v);
}

/* A blob buffer from the pool, returned to it once written. */
typedef struct cow_blobs {
    cow_pool *pool;
    uint8_t *buf;
    size_t cap;
} cow_blobs;

static void cow_blobs_release(void *p)
{
    cow_blobs *b = p;
    pool_give(b->pool, b->buf, b->cap);
    pool_unref(b->pool);
    free(b);
}

/* Copy src's entries into dst, in a pooled arena. */
static void cow_clone(win_cow *v, kstore *dst, const kstore *src)
{
    size_t cap = 0;
    void *buf = src->dead ? NULL : pool_take(v->pool, src->alen, &cap);
    ks_clone_entries_buf(dst, src, buf, cap);
}

/* Key group of key, as an index into the subtask's range. */
static inline uint32_t cow_kg(const win_cow *v, const uint8_t *key, uint32_t klen)
{
    int kg = keygroup_of(key_hash(key, klen), v->maxp) - v->first;
    return kg < 0 || kg >= v->nkg ? 0 : (uint32_t)kg; /* not ours: cannot happen */
}

static inline uint8_t *put_u32(uint8_t *o, uint32_t x) { wr_u32(o, x); return o + 4; }
static inline uint8_t *put_i64(uint8_t *o, int64_t x) { wr_i64(o, x); return o + 8; }
static inline uint8_t *put_bytes(uint8_t *o, const void *p, uint32_t n)
{
    memcpy(o, p, n);
    return o + n;
}

/* The serialiser's bookkeeping. Pass 1 reads every table in arena order
 * (sequential memory), notes each entry's key group and adds its bytes
 * to the (window, key group) or (key group) it goes to; the layout then
 * fixes every blob's place in one exactly-sized buffer; pass 2 reads the
 * tables again and copies each entry to its place. */
typedef struct cow_plan {
    size_t nk, nw;
    uint16_t *kgs;       /* key group of each entry, in pass order */
    uint32_t *cnt;       /* [nw * nk]: entries of window i in key group k */
    uint64_t *pos;       /* [nw * nk + nk]: bytes, then write offsets; the
                          * last nk for session and count records */
    uint64_t *kgoff;     /* [nk + 1]: blob offsets */
    const uint8_t **acc; /* session accumulators found in pass 1 */
    size_t nacc, capacc;
} cow_plan;

static void cow_pass1(win_cow *v, cow_plan *pl)
{
    const win_cfg *c = v->c;
    win_state *st = &v->st;
    size_t nk = pl->nk, j = 0;
    int fixed = st->fixed_klen != 0;
    const uint8_t *key;
    uint32_t klen;
    uint8_t *val;
    ks_scan it;
    for (size_t i = 0; i < pl->nw; i++) {
        const kstore *ks = &st->w[i].keys;
        uint32_t *cnt = pl->cnt + i * nk;
        uint64_t *pos = pl->pos + i * nk;
        size_t n, stride;
        const uint8_t *a = ks_fixed_array(ks, &n, &stride);
        if (a) { /* the common case, an array: a tight loop */
            for (size_t e = 0; e < n; e++, a += stride) {
                uint32_t kg = cow_kg(v, a, st->fixed_klen);
                pl->kgs[j++] = (uint16_t)kg;
                cnt[kg]++;
            }
            for (size_t k = 0; k < nk; k++)
                pos[k] = (uint64_t)cnt[k] * (st->fixed_klen + c->aggs.fixed);
            continue;
        }
        ks_scan_init(&it, ks);
        while (ks_scan_next(&it, ks, &key, &klen, &val, NULL)) {
            uint32_t kg = cow_kg(v, key, klen);
            pl->kgs[j++] = (uint16_t)kg;
            cnt[kg]++;
            pos[kg] += fixed ? klen + c->aggs.fixed : 8 + klen + acc_size(&c->aggs, val);
        }
        ks_scan_fini(&it);
    }
    uint64_t *rec = pl->pos + pl->nw * nk;
    ks_scan_init(&it, &st->sess_idx);
    while (ks_scan_next(&it, &st->sess_idx, &key, &klen, &val, NULL)) {
        uint32_t kg = cow_kg(v, key, klen), n = rd_u32(val);
        pl->kgs[j++] = (uint16_t)kg;
        const int64_t *wins = (const int64_t *)(const void *)(val + 8);
        for (uint32_t i = 0; i < n; i++) {
            sess_key(st, wins[2 * i], key, klen);
            const uint8_t *acc = ks_get(&st->sess_acc, st->kbuf.p, st->kbuf.len,
                                        ks_hash(st->kbuf.p, st->kbuf.len), NULL);
            if (pl->nacc == pl->capacc) {
                pl->capacc = pl->capacc ? pl->capacc * 2 : 1024;
                pl->acc = xrealloc(pl->acc, pl->capacc * sizeof *pl->acc);
            }
            pl->acc[pl->nacc++] = acc;
            if (acc)
                rec[kg] += 4 + 4 + klen + 8 + 8 + 4 + acc_size(&c->aggs, acc);
        }
    }
    ks_scan_fini(&it);
    ks_scan_init(&it, &st->counts);
    while (ks_scan_next(&it, &st->counts, &key, &klen, &val, NULL)) {
        uint32_t kg = cow_kg(v, key, klen);
        pl->kgs[j++] = (uint16_t)kg;
        rec[kg] += 4 + 4 + klen + 4 + 16 + rd_u32(val + 8);
    }
    ks_scan_fini(&it);
}

/* Blob offsets and run headers; pos[] becomes the write offsets. Returns
 * the total size. */
static uint64_t cow_layout(const win_cow *v, cow_plan *pl, uint8_t *buf)
{
    size_t nk = pl->nk, nw = pl->nw;
    uint64_t at = 0;
    for (size_t k = 0; k < nk; k++) {
        pl->kgoff[k] = at;
        for (size_t i = 0; i < nw; i++)
            if (pl->cnt[i * nk + k]) {
                if (buf) {
                    const awin *aw = &v->st.w[i];
                    uint8_t *o = buf + at;
                    o = put_u32(o, SN_ALIGNED_RUN);
                    o = put_u32(o, v->st.fixed_klen);
                    o = put_u32(o, v->st.fixed_klen ? v->c->aggs.fixed : 0);
                    o = put_u32(o, pl->cnt[i * nk + k]);
                    o = put_i64(o, aw->start);
                    o = put_i64(o, aw->end);
                    put_u32(o, (uint32_t)aw->fired);
                }
                at += RUN_HDR;
                uint64_t b = pl->pos[i * nk + k];
                if (buf)
                    pl->pos[i * nk + k] = at;
                at += b;
            }
        uint64_t b = pl->pos[nw * nk + k];
        if (buf)
            pl->pos[nw * nk + k] = at;
        at += b;
    }
    pl->kgoff[nk] = at;
    return at;
}

static void cow_pass2(const win_cow *v, cow_plan *pl, uint8_t *buf)
{
    const win_cfg *c = v->c;
    const win_state *st = &v->st;
    size_t nk = pl->nk, j = 0, ai = 0;
    int fixed = st->fixed_klen != 0;
    const uint8_t *key;
    uint32_t klen;
    uint8_t *val;
    ks_scan it;
    for (size_t i = 0; i < pl->nw; i++) {
        const kstore *ks = &st->w[i].keys;
        uint64_t *pos = pl->pos + i * nk;
        size_t n, stride;
        const uint8_t *a = ks_fixed_array(ks, &n, &stride);
        if (a && st->fixed_klen % 8 == 0 && c->aggs.fixed % 8 == 0) {
            /* an entry [key][acc] is a blob entry as it is: copy words */
            size_t words = stride / 8;
            for (size_t e = 0; e < n; e++, a += stride) {
                uint32_t kg = pl->kgs[j++];
                uint8_t *o = buf + pos[kg];
                for (size_t k = 0; k < words; k++) {
                    uint64_t x;
                    memcpy(&x, a + 8 * k, 8);
                    memcpy(o + 8 * k, &x, 8);
                }
                pos[kg] += stride;
            }
            continue;
        }
        ks_scan_init(&it, ks);
        if (fixed) {
            uint32_t alen = c->aggs.fixed;
            while (ks_scan_next(&it, ks, &key, &klen, &val, NULL)) {
                uint32_t kg = pl->kgs[j++];
                uint8_t *o = buf + pos[kg];
                memcpy(o, key, klen);
                memcpy(o + klen, val, alen);
                pos[kg] += klen + alen;
            }
        } else {
            while (ks_scan_next(&it, ks, &key, &klen, &val, NULL)) {
                uint32_t kg = pl->kgs[j++], alen = acc_size(&c->aggs, val);
                uint8_t *o = buf + pos[kg];
                o = put_u32(o, klen);
                o = put_bytes(o, key, klen);
                o = put_u32(o, alen);
                put_bytes(o, val, alen);
                pos[kg] += 8 + klen + alen;
            }
        }
        ks_scan_fini(&it);
    }
    uint64_t *rec = pl->pos + pl->nw * nk;
    ks_scan_init(&it, &st->sess_idx);
    while (ks_scan_next(&it, &st->sess_idx, &key, &klen, &val, NULL)) {
        uint32_t kg = pl->kgs[j++], n = rd_u32(val);
        const int64_t *wins = (const int64_t *)(const void *)(val + 8);
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *acc = pl->acc[ai++];
            if (!acc)
                continue;
            uint32_t alen = acc_size(&c->aggs, acc);
            uint8_t *o = buf + rec[kg];
            o = put_u32(o, SN_SESSION);
            o = put_u32(o, klen);
            o = put_bytes(o, key, klen);
            o = put_i64(o, wins[2 * i]);
            o = put_i64(o, wins[2 * i + 1]);
            o = put_u32(o, alen);
            o = put_bytes(o, acc, alen);
            rec[kg] = (uint64_t)(o - buf);
        }
    }
    ks_scan_fini(&it);
    ks_scan_init(&it, &st->counts);
    while (ks_scan_next(&it, &st->counts, &key, &klen, &val, NULL)) {
        uint32_t kg = pl->kgs[j++], used = 16 + rd_u32(val + 8);
        uint8_t *o = buf + rec[kg];
        o = put_u32(o, SN_COUNT);
        o = put_u32(o, klen);
        o = put_bytes(o, key, klen);
        o = put_u32(o, used);
        o = put_bytes(o, val, used);
        rec[kg] = (uint64_t)(o - buf);
    }
    ks_scan_fini(&it);
}

/* Serialise the copies into one buffer holding every key group's blob,
 * handed to w without another copy. */
static int win_cow_write(void *p, snap_writer *w, mpf_err *e)
{
    (void)e;
    win_cow *v = p;
    const win_state *st = &v->st;
    cow_plan pl = {.nk = (size_t)v->nkg, .nw = (size_t)st->nw};
    size_t nent = ks_count(&st->sess_idx) + ks_count(&st->counts);
    for (int i = 0; i < st->nw; i++)
        nent += ks_count(&st->w[i].keys);
    pl.kgs = xmalloc((nent + 1) * sizeof *pl.kgs);
    pl.cnt = xcalloc(pl.nw * pl.nk + 1, sizeof *pl.cnt);
    pl.pos = xcalloc(pl.nw * pl.nk + pl.nk + 1, sizeof *pl.pos);
    pl.kgoff = xcalloc(pl.nk + 1, sizeof *pl.kgoff);
    cow_pass1(v, &pl);
    uint64_t total = cow_layout(v, &pl, NULL);
    cow_blobs *own = NULL;
    uint8_t *buf = NULL;
    if (total) {
        own = xcalloc(1, sizeof *own);
        own->pool = pool_ref(v->pool);
        own->buf = buf = pool_take(v->pool, total, &own->cap);
        cow_layout(v, &pl, buf);
        cow_pass2(v, &pl, buf);
    }
    for (size_t k = 0; k < pl.nk; k++) {
        uint64_t len = pl.kgoff[k + 1] - pl.kgoff[k];
        if (!len)
            continue;
        snap_put_ref(w, SNAP_KEYED, v->first + (int)k, buf + pl.kgoff[k], len, own,
                     own ? cow_blobs_release : NULL);
        own = NULL;
    }
    if (own) /* no blob took it */
        cow_blobs_release(own);
    free(pl.kgs);
    free(pl.cnt);
    free(pl.pos);
    free(pl.kgoff);
    free(pl.acc);
    return 0;
}

static int win_snapshot(op_inst *oi, snap_writer *w, mpf_err *e)
{
    (void)e;
    win_state *st = oi->st;
    win_cow *v = xcalloc(1, sizeof *v);
    v->c = oi->spec->cfg;
    keygroup_range r = keygroup_range_of(oi->subtask, oi->spec->max_parallelism,
                                         oi->spec->parallelism);
    v->first = r.start;
    v->nkg = r.end >= r.start ? r.end - r.start + 1 : 0;
    v->maxp = oi->spec->max_parallelism;
    v->st.nw = st->nw;
    v->st.fixed_klen = st->fixed_klen;
    v->st.fixed_vcap = st->fixed_vcap;
    if (!st->pool)
        st->pool = pool_new();
    v->pool = pool_ref(st->pool);
    v->st.w = xcalloc((size_t)st->nw + 1, sizeof *v->st.w);
    for (int i = 0; i < st->nw; i++) {
        v->st.w[i] = st->w[i];
        cow_clone(v, &v->st.w[i].keys, &st->w[i].keys);
    }
    cow_clone(v, &v->st.sess_idx, &st->sess_idx);
    ks_clone(&v->st.sess_acc, &st->sess_acc); /* looked up by key */
    cow_clone(v, &v->st.counts, &st->counts);
    recbuf_init(&v->st.kbuf);
    snap_defer(w, win_cow_write, win_cow_free, v);
    return 0;
}

/* An aligned run (SN_ALIGNED_RUN, the type already read). */
static int restore_run(op_inst *oi, blobrd *r, const snap_blob *sb, mpf_err *e)
{
    const win_cfg *c = oi->spec->cfg;
    win_state *st = oi->st;
    uint32_t fk = blobrd_u32(r), fa = blobrd_u32(r), n = blobrd_u32(r);
    int64_t start = blobrd_i64(r), end = blobrd_i64(r);
    uint32_t fired = blobrd_u32(r);
    size_t left = (size_t)(r->end - r->p);
    /* A fixed store takes only its own shape; n must fit in the blob. */
    if (r->bad || (c->kind != W_TUMBLING && c->kind != W_SLIDING) || !fk != !fa ||
        (st->fixed_klen ? fk != st->fixed_klen || fa != c->aggs.fixed : fk != 0) ||
        (uint64_t)n * (fk ? fk + fa : 8) > left)
        return blobrd_error(oi, sb, e);
    awin *aw = aligned_get(st, start, end);
    aw->fired = (int)fired;
    if (!ks_count(&aw->keys)) {
        /* Key groups are about equally full: size the window's store for
         * all of this subtask's key groups at once. */
        keygroup_range kr = keygroup_range_of(oi->subtask, oi->spec->max_parallelism,
                                              oi->spec->parallelism);
        size_t groups = kr.end >= kr.start ? (size_t)(kr.end - kr.start + 1) : 1;
        size_t per = fk ? ((fk + 7u) & ~7u) + ((fa + 7u) & ~7u) : 0;
        ks_reserve(&aw->keys, (size_t)n * groups, (size_t)n * groups * per);
    }
    if (fk) { /* fixed: n entries of fk + fa bytes, checked above */
        enum { AHEAD = 16 }; /* slots prefetched this many keys ahead */
        size_t esz = (size_t)fk + fa;
        const uint8_t *ents = r->p;
        r->p += (size_t)n * esz;
        uint64_t ring[AHEAD];
        for (uint32_t i = 0; i < n && i < AHEAD; i++) {
            ring[i] = ks_hash(ents + i * esz, fk);
            ks_prefetch(&aw->keys, ring[i]);
        }
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *key = ents + i * esz;
            uint64_t h = ring[i % AHEAD];
            if (i + AHEAD < n) {
                ring[i % AHEAD] = ks_hash(key + AHEAD * esz, fk);
                ks_prefetch(&aw->keys, ring[i % AHEAD]);
            }
            uint8_t *v = ks_put(&aw->keys, key, fk, h, fa, NULL);
            memcpy(v, key + fk, fa);
        }
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t klen = blobrd_u32(r);
        const uint8_t *key = blobrd_bytes(r, klen);
        uint32_t alen = blobrd_u32(r);
        const uint8_t *acc = blobrd_bytes(r, alen);
        if (r->bad || alen < c->aggs.fixed || acc_size(&c->aggs, acc) != alen)
            return blobrd_error(oi, sb, e);
        uint8_t *v = ks_put(&aw->keys, key, klen, ks_hash(key, klen), alen, NULL);
        memcpy(v, acc, alen);
    }
    return 0;
}

static int win_restore(op_inst *oi, const snap_blob *sb, mpf_err *e)
{
    const win_cfg *c = oi->spec->cfg;
    win_state *st = oi->st;
    blobrd r;
    blobrd_init(&r, sb);
    while (blobrd_more(&r)) {
        uint32_t type = blobrd_u32(&r);
        if (type == SN_ALIGNED_RUN) {
            if (restore_run(oi, &r, sb, e))
                return e->code;
            continue;
        }
        uint32_t klen = blobrd_u32(&r);
        const uint8_t *key = blobrd_bytes(&r, klen);
        if (r.bad)
            break;
        uint64_t h = ks_hash(key, klen);
        if (type == SN_ALIGNED || type == SN_SESSION) {
            int64_t start = blobrd_i64(&r), end = blobrd_i64(&r);
            uint32_t fired = type == SN_ALIGNED ? blobrd_u32(&r) : 0, alen = blobrd_u32(&r);
            const uint8_t *acc = blobrd_bytes(&r, alen);
            if (r.bad || alen < c->aggs.fixed || acc_size(&c->aggs, acc) != alen)
                return blobrd_error(oi, sb, e);
            if (type == SN_ALIGNED) {
                if ((c->kind != W_TUMBLING && c->kind != W_SLIDING) ||
                    (st->fixed_klen && klen != st->fixed_klen))
                    return blobrd_error(oi, sb, e);
                awin *aw = aligned_get(st, start, end);
                aw->fired = (int)fired;
                uint8_t *v = ks_put(&aw->keys, key, klen, h, alen, NULL);
                memcpy(v, acc, alen);
            } else {
                if (c->kind != W_SESSION)
                    return blobrd_error(oi, sb, e);
                uint32_t vcap = 0;
                uint8_t *idx = ks_get(&st->sess_idx, key, klen, h, &vcap);
                uint32_t n = idx ? rd_u32(idx) : 0, need = 8 + 16 * (n + 1);
                if (!idx)
                    idx = ks_put(&st->sess_idx, key, klen, h, need, NULL);
                else if (vcap < need)
                    idx = ks_resize(&st->sess_idx, key, klen, h, need);
                int64_t *wins = (int64_t *)(void *)(idx + 8);
                wins[2 * n] = start;
                wins[2 * n + 1] = end;
                n++;
                wr_u32(idx, n);
                sess_key(st, start, key, klen);
                uint8_t *v = ks_put(&st->sess_acc, st->kbuf.p, st->kbuf.len,
                                    ks_hash(st->kbuf.p, st->kbuf.len), alen, NULL);
                memcpy(v, acc, alen);
                sess_timer(st, 1, TM_FIRE, end - 1, start, key, klen);
                if (c->lateness)
                    sess_timer(st, 1, TM_CLEAN, end - 1 + c->lateness, start, key, klen);
            }
        } else if (type == SN_COUNT && c->kind == W_COUNT) {
            uint32_t used = blobrd_u32(&r);
            const uint8_t *v = blobrd_bytes(&r, used);
            if (r.bad || used < 16)
                return blobrd_error(oi, sb, e);
            uint8_t *dst = ks_put(&st->counts, key, klen, h, used, NULL);
            memcpy(dst, v, used);
        } else {
            return blobrd_error(oi, sb, e);
        }
    }
    if (r.bad)
        return blobrd_error(oi, sb, e);
    if (!c->event_time && c->kind != W_COUNT)
        oi->proc_timer = next_fire(oi);
    update_state_bytes(oi);
    return 0;
}

/* window and window-all differ only in name, summary and parallelism. */
#define WINDOW_KIND_FUNCTIONS                                                                    \
    .role = OP_TRANSFORM, .min_inputs = 1, .max_inputs = 1, .keys = win_keys,                    \
    .configure = win_configure, .free_cfg = win_free_cfg, .describe = win_describe,              \
    .open = win_open, .process = win_process, .on_watermark = win_on_watermark,                  \
    .on_proc_time = win_on_proc_time, .finish = win_finish, .snapshot = win_snapshot,            \
    .restore = win_restore, .close = win_close

const op_kind op_window = {
    .name = "window",
    .summary = "keyed windows (tumbling, sliding, session, count) with aggregates",
    WINDOW_KIND_FUNCTIONS,
};

const op_kind op_window_all = {
    .name = "window-all",
    .summary = "windows over the whole stream (parallelism 1) with aggregates",
    .single = 1,
    WINDOW_KIND_FUNCTIONS,
};
