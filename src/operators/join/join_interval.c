/* `type: interval-join`: Flink's interval join of two keyed streams, on
 * event time (operators layer).
 *
 * A left record l and a right record r of one key match when
 * l.ts + lower-bound <= r.ts <= l.ts + upper-bound (either bound made
 * exclusive by lower-exclusive / upper-exclusive). Both inputs are kept in
 * keyed state under (side, key); an arriving record is joined with the
 * other side's records of its key, so each pair is emitted once, when its
 * second record arrives. A record at or below the watermark is late:
 * dropped and counted. A left record can match no future right record
 * once the watermark reaches l.ts + upper (a right one once it reaches
 * r.ts - lower); event-time timers then drop it, rounded up to a granule
 * of half the interval (at least 100ms) so that one timer cleans many
 * records. Output: left fields, right fields, join_time = max(l.ts, r.ts)
 * (the output's event time, as Flink stamps interval-join results). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "operators/join/join.h"
#include "state/timers.h"
#include "util/xmalloc.h"

typedef struct ij_cfg {
    join_cfg jc;
    int64_t lower, upper; /* inclusive, ms */
    int64_t granule;
} ij_cfg;

typedef struct ij_state {
    join_run run;
    timer_svc timers; /* (cleanup time, [side][key]) */
} ij_state;

static const char *const ij_keys[] = {"lower-bound", "upper-bound", "lower-exclusive",
                                      "upper-exclusive", "right-prefix", NULL};
static const char *const ij_extra[] = {"join_time", NULL};

static int ij_configure(op_spec *s, const conf *c, mpf_err *e)
{
    (void)c;
    ij_cfg *cfg = xcalloc(1, sizeof *cfg);
    int lex = 0, uex = 0;
    if (join_configure_common(s, 1, ij_extra, &cfg->jc, e) ||
        join_duration_ms(s, s->node, "lower-bound", 1, 1, &cfg->lower, NULL, e) ||
        join_duration_ms(s, s->node, "upper-bound", 1, 1, &cfg->upper, NULL, e))
        goto fail;
    if (ynode_get_bool(s->node, "lower-exclusive", 0, &lex, e) ||
        ynode_get_bool(s->node, "upper-exclusive", 0, &uex, e)) {
        err_prefix(e, "operator '%s'", s->uid);
        goto fail;
    }
    if (cfg->lower > cfg->upper) {
        err_set(e, MPF_EJOB, "%s: operator '%s': lower-bound (%lld ms) is above upper-bound "
                "(%lld ms); right.ts must lie in [left.ts + lower-bound, left.ts + upper-bound]",
                ynode_pos(ynode_get(s->node, "lower-bound")), s->uid, (long long)cfg->lower,
                (long long)cfg->upper);
        goto fail;
    }
    cfg->lower += lex;
    cfg->upper -= uex;
    if (cfg->lower > cfg->upper) {
        err_set(e, MPF_EJOB, "%s: the interval is empty once its exclusive bounds are left "
                "out", op_where(s));
        goto fail;
    }
    cfg->granule = (cfg->upper - cfg->lower) / 2;
    if (cfg->granule < 100)
        cfg->granule = 100;
    s->out_schema.rowtime = s->out_schema.n - 1; /* join_time */
    s->cfg = cfg;
    return 0;
fail:
    free(cfg);
    return e->code;
}

static void ij_describe(const op_spec *s, char *buf, size_t n)
{
    const ij_cfg *cfg = s->cfg;
    snprintf(buf, n, "inner join on %s = %s where right.ts - left.ts in [%lld, %lld] ms",
             s->in_schema[0]->f[cfg->jc.key[0]].name, s->in_schema[1]->f[cfg->jc.key[1]].name,
             (long long)cfg->lower, (long long)cfg->upper);
}

static int ij_open(op_inst *oi, mpf_err *e)
{
    (void)e;
    ij_state *st = xcalloc(1, sizeof *st);
    join_run_init(&st->run);
    timers_init(&st->timers);
    oi->st = st;
    return 0;
}

static void ij_account(op_inst *oi, ij_state *st)
{
    oi->state_bytes = ks_bytes(&st->run.lists) + timers_bytes(&st->timers) + st->run.kcap +
                      st->run.ocap;
}

/* Last event time at which a record of side with time ts can still meet
 * a future record of the other side. */
static inline int64_t last_useful(const ij_cfg *cfg, int side, int64_t ts)
{
    return side == JOIN_LEFT ? join_sat_add(ts, cfg->upper) : join_sat_add(ts, -cfg->lower);
}

static int ij_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    const ij_cfg *cfg = oi->spec->cfg;
    ij_state *st = oi->st;
    const schema *in = oi->spec->in_schema[input];
    int side = input == 0 ? JOIN_LEFT : JOIN_RIGHT;
    int tf = cfg->jc.time[side], kf = cfg->jc.key[side];
    int64_t wm = oi->watermark;
    for (const uint8_t *r = batch_first(batch); r; r = batch_next(batch, r)) {
        int64_t ts = rd_i64(rec_field(in, r, tf));
        if (ts <= wm) {
            oi->late_dropped++;
            continue;
        }
        uint32_t klen;
        const uint8_t *key = rec_key(in, r, kf, &klen);
        /* Matching range of the other side's times. */
        int64_t lo, hi;
        if (side == JOIN_LEFT) {
            lo = join_sat_add(ts, cfg->lower);
            hi = join_sat_add(ts, cfg->upper);
        } else {
            lo = join_sat_add(ts, -cfg->upper);
            hi = join_sat_add(ts, -cfg->lower);
        }
        uint32_t n = join_state_key(&st->run, NULL, 0, !side, key, klen);
        const uint8_t *v = ks_get(&st->run.lists, st->run.kbuf, n, ks_hash(st->run.kbuf, n),
                                  NULL);
        if (v) {
            for (uint32_t off = JLIST_HDR; off < jlist_end(v); off = jlist_next(v, off)) {
                int64_t ot = jlist_time(v, off);
                if (ot < lo || ot > hi)
                    continue;
                int64_t jt = ot > ts ? ot : ts;
                const uint8_t *o = jlist_rec(v, off);
                join_emit(oi, &st->run, side == JOIN_LEFT ? r : o, side == JOIN_LEFT ? o : r,
                          &jt, 1);
            }
        }
        /* Keep it while a future record of the other side can match. */
        int64_t until = last_useful(cfg, side, ts);
        if (until <= wm)
            continue;
        n = join_state_key(&st->run, NULL, 0, side, key, klen);
        if (jlist_append(&st->run.lists, st->run.kbuf, n, ks_hash(st->run.kbuf, n), ts, r, NULL,
                         e))
            return err_prefix(e, "operator '%s'", oi->spec->uid);
        int64_t due = until;
        int64_t m = join_floor_mod(due, cfg->granule);
        if (m)
            due = join_sat_add(due, cfg->granule - m);
        timers_add(&st->timers, due, st->run.kbuf, n);
    }
    ij_account(oi, st);
    return 0;
}

static int ij_on_watermark(op_inst *oi, int64_t wm, mpf_err *e)
{
    (void)e;
    const ij_cfg *cfg = oi->spec->cfg;
    ij_state *st = oi->st;
    int64_t t;
    const uint8_t *k;
    uint32_t klen;
    while (timers_pop(&st->timers, wm, &t, &k, &klen)) {
        uint64_t h = ks_hash(k, klen);
        uint8_t *v = ks_get(&st->run.lists, k, klen, h, NULL);
        if (!v)
            continue;
        /* Drop records with last_useful(ts) <= wm. */
        int64_t upto = k[0] == JOIN_LEFT ? join_sat_add(wm, -cfg->upper)
                                         : join_sat_add(wm, cfg->lower);
        if (wm == WM_MAX || jlist_drop_upto(v, upto) == 0)
            ks_del(&st->run.lists, k, klen, h);
    }
    ij_account(oi, st);
    return 0;
}

/* Checkpoints: the lists (JSNAP_LIST entries); the cleanup timers are
 * rebuilt from the records' event times. */
static int ij_snapshot(op_inst *oi, snap_writer *w, mpf_err *e)
{
    (void)e;
    ij_state *st = oi->st;
    join_snapshot_lists(oi, &st->run, 0, w);
    return 0;
}

static int64_t ij_due(const void *ctx, int side, int64_t t)
{
    return last_useful(ctx, side, t);
}

static int ij_restore(op_inst *oi, const snap_blob *sb, mpf_err *e)
{
    const ij_cfg *cfg = oi->spec->cfg;
    ij_state *st = oi->st;
    if (join_restore_lists(oi, sb, &st->run, "an interval join", &st->timers, ij_due, cfg,
                           cfg->granule, e))
        return e->code;
    ij_account(oi, st);
    return 0;
}

static void ij_close(op_inst *oi)
{
    ij_state *st = oi->st;
    if (!st)
        return;
    join_run_fini(&st->run);
    timers_fini(&st->timers);
    free(st);
    oi->st = NULL;
}

const op_kind op_interval_join = {
    .name = "interval-join",
    .role = OP_TRANSFORM,
    .min_inputs = 2,
    .max_inputs = 2,
    .keys = ij_keys,
    .summary = "inner join of two keyed streams where right.ts lies within bounds of left.ts",
    .configure = ij_configure,
    .free_cfg = free,
    .describe = ij_describe,
    .open = ij_open,
    .process = ij_process,
    .on_watermark = ij_on_watermark,
    .snapshot = ij_snapshot,
    .restore = ij_restore,
    .close = ij_close,
};
