/* `type: reduce`: rolling count, sum, min or max per key (operators layer).
 *
 * Keyed state lives in one hash table per key group of the subtask's key-
 * group range. In STREAMING mode every input record emits the key's new
 * value (Flink's rolling reduce); in BATCH mode only final values are
 * emitted, once all input has ended. For BATCH jobs the planner splits a
 * reduce into a local phase chained before the shuffle (pre-aggregating
 * into a bounded table that spills partial results when full) and a
 * global phase after it that merges partials: Flink's two-phase
 * aggregation, which shrinks the shuffle to about one record per distinct
 * key and TaskManager. STREAMING jobs get the split only with
 * table.optimizer.agg-phase-strategy TWO_PHASE; there the local phase
 * emits its partials when its table is full, at each checkpoint barrier
 * (so it has no state to snapshot) and at the end of input. Output
 * schema: (key, <as>). */
#include <stdlib.h>
#include <string.h>
#include "ops/op.h"
#include "ops/opstate.h"
#include "record/keygroup.h"
#include "state/kvtable.h"
#include "util/xmalloc.h"

enum red_fn { FN_COUNT, FN_SUM, FN_MIN, FN_MAX };
enum red_phase { PHASE_ONE, PHASE_LOCAL, PHASE_GLOBAL };

typedef struct red_cfg {
    enum red_fn fn;
    enum red_phase phase;
    int key;          /* input field of the key */
    int value;        /* input field of the value (-1 for count) */
    field_type vtype; /* result type */
    size_t local_max_keys;
} red_cfg;

typedef struct red_state {
    kvtable *tables; /* one per key group in range (one for LOCAL) */
    int ntables;
    keygroup_range kg;
    recbuf rb;
    int cur_table; /* finish() cursor */
    size_t cur_pos;
    int spilling;  /* LOCAL: emitting a full table before continuing */
} red_state;

static const char *const red_keys[] = {"function", "field", "as", NULL};
static const char *const fn_names[] = {"count", "sum", "min", "max", NULL};

static int red_configure(op_spec *s, const conf *c, mpf_err *e)
{
    const char *fn = NULL, *field = NULL, *as = NULL;
    if (ynode_get_str(s->node, "function", 1, &fn, e) ||
        ynode_get_str(s->node, "field", 0, &field, e) || ynode_get_str(s->node, "as", 0, &as, e))
        return err_prefix(e, "operator '%s'", s->uid);
    if (s->part != PART_HASH)
        return err_set(e, MPF_EJOB, "%s: reduce needs a keyed input: add key-by: FIELD",
                       op_where(s));
    red_cfg *cfg = xcalloc(1, sizeof *cfg);
    cfg->fn = FN_COUNT;
    int found = 0;
    for (int i = 0; fn_names[i]; i++)
        if (strcmp(fn, fn_names[i]) == 0) {
            cfg->fn = (enum red_fn)i;
            found = 1;
        }
    if (!found) {
        free(cfg);
        return err_set(e, MPF_EJOB, "%s: operator '%s': function must be count, sum, min or "
                       "max, got '%s'", ynode_pos(ynode_get(s->node, "function")), s->uid, fn);
    }
    const schema *in = s->in_schema[0];
    cfg->key = s->key_index;
    cfg->value = -1;
    cfg->vtype = FT_I64;
    cfg->local_max_keys = (size_t)conf_int(c, CONF_EXECUTION_LOCAL_AGGREGATION_MAX_KEYS);
    if (cfg->fn != FN_COUNT) {
        if (!field) {
            free(cfg);
            return err_set(e, MPF_EJOB, "%s: function %s needs field: NAME", op_where(s), fn);
        }
        cfg->value = schema_find(in, field);
        char sch[512];
        schema_format(in, sch, sizeof sch);
        if (cfg->value < 0) {
            free(cfg);
            return err_set(e, MPF_ESCHEMA, "%s: field '%s' is not in its input (%s)",
                           op_where(s), field, sch);
        }
        cfg->vtype = in->f[cfg->value].type;
        int numeric = cfg->vtype == FT_I64 || cfg->vtype == FT_F64 ||
                      (cfg->vtype == FT_TIMESTAMP && cfg->fn != FN_SUM);
        if (!numeric) {
            int vi = cfg->value;
            free(cfg);
            return err_set(e, MPF_ESCHEMA, "%s: %s of field '%s' needs a number, it is %s",
                           op_where(s), fn, field, field_type_name(in->f[vi].type));
        }
    } else if (field) {
        free(cfg);
        return err_set(e, MPF_EJOB, "%s: count takes no field", op_where(s));
    }
    s->cfg = cfg;
    schema_add(&s->out_schema, in->f[cfg->key].name, in->f[cfg->key].type);
    schema_add(&s->out_schema, as ? as : fn, cfg->vtype);
    return 0;
}

static int red_split_local(op_spec *g, op_spec *local, mpf_err *e)
{
    red_cfg *gc = g->cfg;
    red_cfg *lc = xmalloc(sizeof *lc);
    *lc = *gc;
    lc->phase = PHASE_LOCAL;
    local->cfg = lc;
    schema_copy(&local->out_schema, &g->out_schema);
    /* The global phase now reads (key, partial) and merges partials:
     * partial counts are summed. */
    gc->phase = PHASE_GLOBAL;
    gc->key = 0;
    gc->value = 1;
    g->key_index = 0;
    return 0;
}

static int red_open(op_inst *oi, mpf_err *e)
{
    const red_cfg *cfg = oi->spec->cfg;
    red_state *st = xcalloc(1, sizeof *st);
    if (cfg->phase == PHASE_LOCAL) {
        st->kg.start = 0;
        st->kg.end = 0;
    } else {
        st->kg = keygroup_range_of(oi->subtask, oi->spec->max_parallelism, oi->spec->parallelism);
    }
    st->ntables = st->kg.end - st->kg.start + 1;
    if (st->ntables < 0)
        st->ntables = 0;
    st->tables = xcalloc((size_t)st->ntables + 1, sizeof *st->tables);
    for (int i = 0; i < st->ntables; i++)
        kvtable_init(&st->tables[i]);
    recbuf_init(&st->rb);
    oi->st = st;
    return 0;
}

static void emit_entry(op_inst *oi, red_state *st, const kvtable *t, const kv_entry *en)
{
    const red_cfg *cfg = oi->spec->cfg;
    const schema *out = &oi->spec->out_schema;
    recbuf_begin(&st->rb);
    if (out->f[0].type == FT_STRING) {
        recbuf_str(&st->rb, kvtable_key(t, en), en->klen_p1 - 1);
    } else if (out->f[0].type == FT_BOOL) {
        recbuf_bool(&st->rb, kvtable_key(t, en)[0]);
    } else {
        recbuf_i64(&st->rb, rd_i64(kvtable_key(t, en)));
    }
    if (cfg->vtype == FT_F64)
        recbuf_f64(&st->rb, en->val.f);
    else
        recbuf_i64(&st->rb, en->val.i);
    recbuf_end(&st->rb);
    op_emit(oi, st->rb.p, st->rb.len);
}

static inline void update(const red_cfg *cfg, kv_entry *en, int created, const uint8_t *v)
{
    enum red_fn fn = cfg->phase == PHASE_GLOBAL && cfg->fn == FN_COUNT ? FN_SUM : cfg->fn;
    if (fn == FN_COUNT) {
        en->val.i++;
        return;
    }
    if (cfg->vtype == FT_F64) {
        double x = rd_f64(v);
        if (created)
            en->val.f = x;
        else if (fn == FN_SUM)
            en->val.f += x;
        else if (fn == FN_MIN ? x < en->val.f : x > en->val.f)
            en->val.f = x;
    } else {
        int64_t x = rd_i64(v);
        if (created)
            en->val.i = x;
        else if (fn == FN_SUM)
            en->val.i = (int64_t)((uint64_t)en->val.i + (uint64_t)x); /* wraps like Java */
        else if (fn == FN_MIN ? x < en->val.i : x > en->val.i)
            en->val.i = x;
    }
}

static size_t state_bytes(const red_state *st)
{
    size_t b = 0;
    for (int i = 0; i < st->ntables; i++)
        b += kvtable_bytes(&st->tables[i]);
    return b;
}

static int red_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    const red_cfg *cfg = oi->spec->cfg;
    const schema *in = oi->spec->in_schema[0];
    red_state *st = oi->st;
    int emit_each = cfg->phase != PHASE_LOCAL && !oi->spec->batch_mode;
    for (const uint8_t *r = batch_first(batch); r; r = batch_next(batch, r)) {
        uint32_t klen;
        const uint8_t *key = rec_key(in, r, cfg->key, &klen);
        uint64_t h = key_hash(key, klen);
        kvtable *t = &st->tables[0];
        if (cfg->phase != PHASE_LOCAL) {
            int kg = keygroup_of(h, oi->spec->max_parallelism);
            if (kg < st->kg.start || kg > st->kg.end)
                return err_set(e, MPF_EPLAN, "operator '%s' subtask %d: key group %d arrived "
                               "outside its range %d..%d", oi->spec->uid, oi->subtask, kg,
                               st->kg.start, st->kg.end);
            t = &st->tables[kg - st->kg.start];
        }
        int created;
        kv_entry *en = kvtable_upsert(t, key, klen, h, &created);
        update(cfg, en, created,
               cfg->value >= 0 ? rec_field(in, r, cfg->value) : NULL);
        if (emit_each)
            emit_entry(oi, st, t, en);
    }
    if (cfg->phase == PHASE_LOCAL && st->tables[0].n >= cfg->local_max_keys) {
        /* Spill all partials now; the table is reused afterwards. */
        size_t pos = 0;
        kv_entry *en;
        while ((en = kvtable_next(&st->tables[0], &pos)))
            emit_entry(oi, st, &st->tables[0], en);
        kvtable_clear(&st->tables[0]);
    }
    oi->state_bytes = state_bytes(st);
    return 0;
}

static int red_finish(op_inst *oi, mpf_err *e)
{
    const red_cfg *cfg = oi->spec->cfg;
    red_state *st = oi->st;
    if (cfg->phase != PHASE_LOCAL && !oi->spec->batch_mode)
        return 0;
    /* Emit about one batch worth per call so output can drain between. */
    int budget = 2048;
    while (st->cur_table < st->ntables) {
        kvtable *t = &st->tables[st->cur_table];
        kv_entry *en;
        while ((en = kvtable_next(t, &st->cur_pos))) {
            emit_entry(oi, st, t, en);
            if (--budget == 0)
                return MPF_EAGAIN;
        }
        st->cur_table++;
        st->cur_pos = 0;
    }
    return 0;
}

static void red_close(op_inst *oi)
{
    red_state *st = oi->st;
    if (!st)
        return;
    for (int i = 0; i < st->ntables; i++)
        kvtable_fini(&st->tables[i]);
    free(st->tables);
    recbuf_fini(&st->rb);
    free(st);
    oi->st = NULL;
}

static void red_describe(const op_spec *s, char *buf, size_t n)
{
    const red_cfg *cfg = s->cfg;
    static const char *phases[] = {"", " (local pre-aggregation)", " (merges local partials)"};
    snprintf(buf, n, "%s%s%s%s", fn_names[cfg->fn], cfg->value >= 0 && cfg->phase == PHASE_ONE ? " of " : "",
             cfg->value >= 0 && cfg->phase == PHASE_ONE ? s->in_schema[0]->f[cfg->value].name : "",
             phases[cfg->phase]);
}

/* The local phase at a barrier: emit every partial not yet emitted (from
 * finish's cursor on, when finish has begun) and start over empty. The
 * task snapshots its chain head first and sends the barrier after what the
 * chain emitted, so the partials reach the merging phase before the
 * barrier, as in Flink's mini-batch aggregation, and the local phase has
 * no state to snapshot. */
static void red_flush_local(op_inst *oi, red_state *st)
{
    while (st->cur_table < st->ntables) {
        kvtable *t = &st->tables[st->cur_table];
        kv_entry *en;
        while ((en = kvtable_next(t, &st->cur_pos)))
            emit_entry(oi, st, t, en);
        st->cur_table++;
        st->cur_pos = 0;
    }
    for (int i = 0; i < st->ntables; i++)
        kvtable_clear(&st->tables[i]);
    st->cur_table = 0;
    st->cur_pos = 0;
    oi->state_bytes = state_bytes(st);
}

/* Checkpoints (keyed phases): one blob per key group of
 * [klen u32][key][value 8 bytes] entries. The local phase flushes instead
 * (red_flush_local) and writes nothing. */
static int red_snapshot(op_inst *oi, snap_writer *w, mpf_err *e)
{
    (void)e;
    const red_cfg *cfg = oi->spec->cfg;
    red_state *st = oi->st;
    if (cfg->phase == PHASE_LOCAL) {
        red_flush_local(oi, st);
        return 0;
    }
    for (int i = 0; i < st->ntables; i++) {
        kvtable *t = &st->tables[i];
        if (!t->n)
            continue;
        recbuf b;
        recbuf_init(&b);
        b.len = 0;
        size_t pos = 0;
        kv_entry *en;
        while ((en = kvtable_next(t, &pos))) {
            uint32_t klen = en->klen_p1 - 1;
            kgbuf_u32(&b, klen);
            kgbuf_put(&b, kvtable_key(t, en), klen);
            kgbuf_i64(&b, en->val.i); /* the value's 8 bytes, f64 or i64 */
        }
        snap_put(w, SNAP_KEYED, st->kg.start + i, b.p, b.len);
        recbuf_fini(&b);
    }
    return 0;
}

static int red_restore(op_inst *oi, const snap_blob *sb, mpf_err *e)
{
    red_state *st = oi->st;
    if (sb->kind != SNAP_KEYED || sb->key_group < st->kg.start || sb->key_group > st->kg.end)
        return blobrd_error(oi, sb, e);
    kvtable *t = &st->tables[sb->key_group - st->kg.start];
    blobrd r;
    blobrd_init(&r, sb);
    while (blobrd_more(&r)) {
        uint32_t klen = blobrd_u32(&r);
        const uint8_t *key = blobrd_bytes(&r, klen);
        const uint8_t *val = blobrd_bytes(&r, 8);
        if (r.bad)
            break;
        int created;
        kv_entry *en = kvtable_upsert(t, key, klen, key_hash(key, klen), &created);
        en->val.i = rd_i64(val);
    }
    return r.bad ? blobrd_error(oi, sb, e) : 0;
}

const op_kind op_reduce = {
    .name = "reduce",
    .role = OP_TRANSFORM,
    .min_inputs = 1,
    .max_inputs = 1,
    .keys = red_keys,
    .summary = "rolling count/sum/min/max per key (final values only in BATCH mode)",
    .configure = red_configure,
    .free_cfg = free,
    .describe = red_describe,
    .split_local = red_split_local,
    .open = red_open,
    .process = red_process,
    .finish = red_finish,
    .snapshot = red_snapshot,
    .restore = red_restore,
    .close = red_close,
};
