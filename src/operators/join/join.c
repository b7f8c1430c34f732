/* `type: join`: a regular (unwindowed) inner equi-join of two keyed
 * streams, as Flink SQL's regular join (operators layer); plus the plan-time
 * checks, output schema, list state and emission shared with
 * window-join and interval-join (join.h).
 *
 * Every record of either input is kept in keyed state under (side, key)
 * and, on arrival, joined with every record of the other side kept under
 * the same key, so each matching pair is emitted once, when its second
 * record arrives. Without `retention` the state grows without bound. With
 * `retention: D` a record is forgotten D after it arrived, measured in
 * processing time (wall clock) as Flink's table.exec.state.ttl: it never
 * matches a record arriving later than that, and its memory is reclaimed
 * by processing-time timers that run at most D/16 late. Output: left
 * fields, right fields; no event time (rowtime -1). */
#include "operators/join/join.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "record/keygroup.h"
#include "state/timers.h"
#include "util/xmalloc.h"
#include "util/clock.h"

/* ---- plan time (shared) ---- */

/* The uid an input is named by in `inputs:`, or "left"/"right". */
static const char *input_name(const op_spec *s, int k)
{
    const ynode *in = s->node ? ynode_get(s->node, "inputs") : NULL;
    if (in && in->kind == YNODE_SEQ && (size_t)k < in->n && in->items[k]->kind == YNODE_SCALAR)
        return in->items[k]->str;
    return k == JOIN_LEFT ? "left" : "right";
}

int join_configure_common(op_spec *s, int need_time, const char *const *extra, join_cfg *jc,
                          mpf_err *e)
{
    if (s->ninputs != 2)
        return err_set(e, MPF_EJOB, "%s: %s joins two inputs: inputs: [left, right]",
                       op_where(s), s->kind->name);
    if (s->part != PART_HASH || !s->key_indices)
        return err_set(e, MPF_EJOB, "%s: %s needs key-by: [left_key, right_key], one key field "
                       "per input", op_where(s), s->kind->name);
    const char *prefix = "r_";
    if (ynode_get_str(s->node, "right-prefix", 0, &prefix, e))
        return err_prefix(e, "operator '%s'", s->uid);
    if (!prefix[0])
        return err_set(e, MPF_EJOB, "%s: operator '%s': right-prefix must not be empty",
                       ynode_pos(ynode_get(s->node, "right-prefix")), s->uid);
    for (int k = 0; k < 2; k++) {
        jc->key[k] = s->key_indices[k];
        const schema *in = s->in_schema[k];
        jc->time[k] = in->rowtime;
        /* Event time is a timestamp or i64 (ms) field; anything else is no
         * event time at all. */
        if (jc->time[k] >= in->n ||
            (jc->time[k] >= 0 && in->f[jc->time[k]].type != FT_TIMESTAMP &&
             in->f[jc->time[k]].type != FT_I64))
            jc->time[k] = -1;
        if (need_time && jc->time[k] < 0)
            return err_set(e, MPF_ESCHEMA, "%s: %s needs event time on both inputs, but %s "
                           "input '%s' has none; give its source a watermark: {field: TS, "
                           "out-of-orderness: ...}", op_where(s), s->kind->name,
                           k == JOIN_LEFT ? "the left" : "the right", input_name(s, k));
    }
    schema *out = &s->out_schema;
    const schema *l = s->in_schema[JOIN_LEFT], *r = s->in_schema[JOIN_RIGHT];
    for (int i = 0; i < l->n; i++)
        schema_add(out, l->f[i].name, l->f[i].type);
    for (int i = 0; i < r->n; i++) {
        if (schema_find(out, r->f[i].name) < 0) {
            schema_add(out, r->f[i].name, r->f[i].type);
            continue;
        }
        char name[512];
        snprintf(name, sizeof name, "%s%s", prefix, r->f[i].name);
        if (schema_find(out, name) >= 0 || schema_find(r, name) >= 0)
            return err_set(e, MPF_ESCHEMA, "%s: right field '%s' clashes with a left field and "
                           "'%s' is taken too; choose another right-prefix", op_where(s),
                           r->f[i].name, name);
        schema_add(out, name, r->f[i].type);
    }
    jc->nextra = 0;
    for (int i = 0; extra && extra[i]; i++) {
        if (schema_find(out, extra[i]) >= 0)
            return err_set(e, MPF_ESCHEMA, "%s: %s adds a field '%s' but an input already has "
                           "one; rename it before the join (type: select or map)", op_where(s),
                           s->kind->name, extra[i]);
        schema_add(out, extra[i], FT_TIMESTAMP);
        jc->nextra++;
    }
    out->rowtime = -1;
    return 0;
}

int join_duration_ms(const op_spec *s, const ynode *map, const char *key, int required,
                     int allow_negative, int64_t *ms, int *present, mpf_err *e)
{
    const char *v = NULL;
    if (present)
        *present = 0;
    if (ynode_get_str(map, key, required, &v, e))
        return err_prefix(e, "operator '%s'", s->uid);
    if (!v)
        return 0;
    const char *p = v;
    int neg = 0;
    while (*p == ' ')
        p++;
    if (allow_negative && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    int64_t ns;
    if (parse_duration_ns(p, &ns))
        return err_set(e, MPF_EJOB, "%s: operator '%s': %s: expected a duration such as %s, "
                       "got '%s'", ynode_pos(ynode_get(map, key)), s->uid, key,
                       allow_negative ? "'2s' or '-500ms'" : "'500ms' or '2s'", v);
    *ms = (neg ? -1 : 1) * (ns / 1000000);
    if (present)
        *present = 1;
    return 0;
}

/* ---- run time (shared) ---- */

void join_run_init(join_run *r)
{
    memset(r, 0, sizeof *r);
    ks_init(&r->lists);
}

void join_run_fini(join_run *r)
{
    ks_fini(&r->lists);
    free(r->kbuf);
    free(r->obuf);
    memset(r, 0, sizeof *r);
}

static void ensure(uint8_t **buf, uint32_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    if (n > UINT32_MAX)
        n = UINT32_MAX;
    *buf = xrealloc(*buf, n);
    *cap = (uint32_t)n;
}

uint32_t join_state_key(join_run *r, const void *prefix, uint32_t plen, int side,
                        const uint8_t *key, uint32_t klen)
{
    uint32_t n = plen + 1 + klen;
    ensure(&r->kbuf, &r->kcap, n);
    if (plen)
        memcpy(r->kbuf, prefix, plen);
    r->kbuf[plen] = (uint8_t)side;
    if (klen)
        memcpy(r->kbuf + plen + 1, key, klen);
    return n;
}

/* Make room for `add` more entry bytes in the list at k (created when
 * absent, with just that room: most lists of a window or key stay
 * small); returns the value or NULL when it would pass 4 GiB. */
static uint8_t *jlist_reserve(kstore *ks, const uint8_t *k, uint32_t klen, uint64_t h,
                              size_t add, int *created)
{
    uint32_t vcap;
    uint8_t *v = ks_get(ks, k, klen, h, &vcap);
    if (created)
        *created = !v;
    if (!v) {
        size_t cap = JLIST_HDR + add;
        if (cap > UINT32_MAX)
            return NULL;
        return ks_put(ks, k, klen, h, (uint32_t)cap, NULL); /* zeroed: empty list */
    }
    size_t need = (size_t)jlist_end(v) + add;
    if (need <= vcap)
        return v;
    size_t ncap = (size_t)vcap * 2;
    if (ncap < need)
        ncap = need;
    if (ncap > UINT32_MAX)
        ncap = UINT32_MAX;
    if (need > ncap)
        return NULL;
    return ks_resize(ks, k, klen, h, (uint32_t)ncap);
}

int jlist_add(kstore *ks, const uint8_t *k, uint32_t klen, uint64_t h, const void *a,
              uint32_t alen, const void *b, uint32_t blen, int *created, mpf_err *e)
{
    uint8_t *v = jlist_reserve(ks, k, klen, h, (size_t)alen + blen, created);
    if (!v)
        return err_set(e, MPF_ETOOBIG, "join state of one key passed 4 GiB");
    uint32_t end = jlist_end(v), n = jlist_count(v) + 1;
    memcpy(v + end, a, alen);
    if (blen)
        memcpy(v + end + alen, b, blen);
    end += alen + blen - JLIST_HDR;
    wr_u32(v, end);
    wr_u32(v + 4, n);
    return 0;
}

int jlist_append(kstore *ks, const uint8_t *k, uint32_t klen, uint64_t h, int64_t time,
                 const uint8_t *rec, int *created, mpf_err *e)
{
    return jlist_add(ks, k, klen, h, &time, 8, rec, rec_size(rec), created, e);
}

int jlist_append_list(kstore *ks, const uint8_t *k, uint32_t klen, uint64_t h,
                      const uint8_t *src, mpf_err *e)
{
    uint32_t bytes = rd_u32(src), cnt = jlist_count(src);
    if (!bytes)
        return 0;
    uint8_t *v = jlist_reserve(ks, k, klen, h, bytes, NULL);
    if (!v)
        return err_set(e, MPF_ETOOBIG, "join state of one key passed 4 GiB");
    uint32_t end = jlist_end(v), n = jlist_count(v) + cnt;
    memcpy(v + end, src + JLIST_HDR, bytes);
    end += bytes - JLIST_HDR;
    wr_u32(v, end);
    wr_u32(v + 4, n);
    return 0;
}

uint32_t jlist_drop_upto(uint8_t *v, int64_t min_time)
{
    uint32_t end = jlist_end(v), w = JLIST_HDR, n = 0;
    for (uint32_t off = JLIST_HDR; off < end;) {
        uint32_t next = jlist_next(v, off);
        if (jlist_time(v, off) > min_time) {
            if (w != off)
                memmove(v + w, v + off, next - off);
            w += next - off;
            n++;
        }
        off = next;
    }
    uint32_t used = w - JLIST_HDR;
    wr_u32(v, used);
    wr_u32(v + 4, n);
    return n;
}

void join_emit(op_inst *oi, join_run *r, const uint8_t *left, const uint8_t *right,
               const int64_t *extra, int nextra)
{
    uint32_t ll = rd_u32(left), rl = rd_u32(right);
    size_t len = (size_t)ll + rl + 8u * (size_t)nextra;
    ensure(&r->obuf, &r->ocap, REC_LEN_SIZE + len);
    uint32_t l32 = (uint32_t)len;
    uint8_t *p = r->obuf;
    wr_u32(p, l32);
    memcpy(p + 4, left + REC_LEN_SIZE, ll);
    memcpy(p + 4 + ll, right + REC_LEN_SIZE, rl);
    if (nextra)
        memcpy(p + 4 + ll + rl, extra, 8u * (size_t)nextra);
    op_emit(oi, p, (uint32_t)(REC_LEN_SIZE + len));
}

int64_t join_sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* ---- checkpoints (shared) ---- */

typedef struct join_cow {
    kstore lists; /* a copy of the operator's lists */
    uint32_t plen;
    kgbufs k;
} join_cow;

static void join_cow_free(void *p)
{
    join_cow *c = p;
    ks_fini(&c->lists);
    if (c->k.b) {
        for (int i = 0; i < c->k.n; i++)
            free(c->k.b[i].p);
        free(c->k.b);
    }
    free(c);
}

/* [u32 vlen][list value without spare capacity]. */
static void put_list(recbuf *b, const uint8_t *v)
{
    uint32_t vlen = jlist_end(v);
    kgbuf_u32(b, vlen);
    kgbuf_put(b, v, vlen);
}

static int join_cow_write(void *p, snap_writer *w, mpf_err *e)
{
    (void)e;
    join_cow *c = p;
    size_t pos = 0;
    const uint8_t *k;
    uint32_t kl;
    uint8_t *v;
    while (ks_next(&c->lists, &pos, &k, &kl, &v, NULL)) {
        if (kl < c->plen + 1 || !jlist_count(v))
            continue;
        const uint8_t *key = k + c->plen + 1;
        uint32_t klen = kl - c->plen - 1;
        recbuf *b = kgbufs_for(&c->k, key, klen);
        kgbuf_u32(b, c->plen ? JSNAP_WINDOW : JSNAP_LIST);
        if (c->plen)
            kgbuf_put(b, k, 8);
        kgbuf_u32(b, k[c->plen]);
        kgbuf_u32(b, klen);
        kgbuf_put(b, key, klen);
        put_list(b, v);
    }
    kgbufs_flush(&c->k, w);
    return 0;
}

void join_snapshot_lists(op_inst *oi, const join_run *r, uint32_t plen, snap_writer *w)
{
    join_cow *c = xcalloc(1, sizeof *c);
    ks_clone(&c->lists, &r->lists);
    c->plen = plen;
    kgbufs_init(&c->k, oi);
    snap_defer(w, join_cow_write, join_cow_free, c);
}

int join_snap_error(const op_inst *oi, const snap_blob *b, const char *why, mpf_err *e)
{
    return err_set(e, MPF_EPARSE, "operator '%s': restored state of key group %d (%zu bytes "
                   "from subtask %d) is malformed: %s", oi->spec->uid, b->key_group, b->len,
                   b->subtask, why);
}

/* Read [u32 vlen][list] and check the list; *v NULL when vlen is 0.
 * Returns NULL on success, else what is wrong. */
static const char *read_list(blobrd *r, const schema *in, const uint8_t **v)
{
    *v = NULL;
    uint32_t vlen = blobrd_u32(r);
    const uint8_t *p = blobrd_bytes(r, vlen);
    if (r->bad)
        return "truncated";
    if (!vlen)
        return NULL;
    if (vlen < JLIST_HDR || rd_u32(p) != vlen - JLIST_HDR)
        return "a list's length does not match its header";
    uint32_t n = 0, off = JLIST_HDR;
    while (off < vlen) {
        if (vlen - off < 8 + REC_LEN_SIZE)
            return "a list entry is cut short";
        const uint8_t *rec = p + off + 8;
        if (rd_u32(rec) > vlen - off - 8 - REC_LEN_SIZE)
            return "a record runs past its list";
        if (rec_validate(in, rec))
            return "a record does not match its input's schema";
        off += 8 + rec_size(rec);
        n++;
    }
    if (n != jlist_count(p))
        return "a list's entry count does not match its entries";
    *v = p;
    return NULL;
}

int join_snap_next(const op_inst *oi, const snap_blob *b, blobrd *r, join_snap_ent *ent,
                   mpf_err *e)
{
    if (!blobrd_more(r))
        return r->bad ? join_snap_error(oi, b, "truncated", e) : 0;
    if (b->kind != SNAP_KEYED)
        return join_snap_error(oi, b, "not keyed state", e);
    memset(ent, 0, sizeof *ent);
    ent->tag = blobrd_u32(r);
    if (ent->tag != JSNAP_LIST && ent->tag != JSNAP_WINDOW && ent->tag != JSNAP_SESSION)
        return join_snap_error(oi, b, r->bad ? "truncated" : "unknown entry type", e);
    if (ent->tag == JSNAP_WINDOW)
        ent->end = blobrd_i64(r);
    if (ent->tag != JSNAP_SESSION) {
        uint32_t side = blobrd_u32(r);
        if (!r->bad && side > JOIN_RIGHT)
            return join_snap_error(oi, b, "a list of neither side", e);
        ent->side = (int)side;
    }
    ent->klen = blobrd_u32(r);
    ent->key = blobrd_bytes(r, ent->klen);
    if (ent->tag == JSNAP_SESSION) {
        ent->start = blobrd_i64(r);
        ent->end = blobrd_i64(r);
    }
    if (r->bad)
        return join_snap_error(oi, b, "truncated", e);
    int kg = keygroup_of(key_hash(ent->key, ent->klen), oi->spec->max_parallelism);
    keygroup_range mine = keygroup_range_of(oi->subtask, oi->spec->max_parallelism,
                                            oi->spec->parallelism);
    if (kg != b->key_group || kg < mine.start || kg > mine.end)
        return join_snap_error(oi, b, "a key of another key group", e);
    if (ent->tag == JSNAP_SESSION && ent->start >= ent->end)
        return join_snap_error(oi, b, "a session that ends before it starts", e);
    int nlists = ent->tag == JSNAP_SESSION ? 2 : 1;
    for (int i = 0; i < nlists; i++) {
        int side = ent->tag == JSNAP_SESSION ? i : ent->side;
        const char *why = read_list(r, oi->spec->in_schema[side], &ent->list[i]);
        if (why)
            return join_snap_error(oi, b, why, e);
    }
    if (ent->tag != JSNAP_SESSION && !ent->list[0])
        return join_snap_error(oi, b, "an empty list", e);
    if (ent->tag == JSNAP_SESSION && !ent->list[0] && !ent->list[1])
        return join_snap_error(oi, b, "a session without records", e);
    return 1;
}

int join_restore_lists(op_inst *oi, const snap_blob *sb, join_run *r, const char *what,
                       timer_svc *tm, int64_t (*due)(const void *ctx, int side, int64_t t),
                       const void *ctx, int64_t granule, mpf_err *e)
{
    blobrd rd;
    blobrd_init(&rd, sb);
    join_snap_ent en;
    int rc;
    while ((rc = join_snap_next(oi, sb, &rd, &en, e)) == 1) {
        if (en.tag != JSNAP_LIST) {
            char why[96];
            snprintf(why, sizeof why, "a window entry in %s", what);
            return join_snap_error(oi, sb, why, e);
        }
        uint32_t n = join_state_key(r, NULL, 0, en.side, en.key, en.klen);
        if (join_restore_list(&r->lists, r->kbuf, n, en.list[0], NULL, e))
            return err_prefix(e, "operator '%s'", oi->spec->uid);
        const uint8_t *v = en.list[0];
        for (uint32_t off = JLIST_HDR; tm && off < jlist_end(v); off = jlist_next(v, off)) {
            int64_t at = due(ctx, en.side, jlist_time(v, off));
            int64_t m = join_floor_mod(at, granule);
            if (m)
                at = join_sat_add(at, granule - m);
            timers_add(tm, at, r->kbuf, n);
        }
    }
    return rc;
}

int join_restore_list(kstore *ks, const uint8_t *k, uint32_t klen, const uint8_t *list,
                      int *created, mpf_err *e)
{
    uint64_t h = ks_hash(k, klen);
    if (created)
        *created = !ks_get(ks, k, klen, h, NULL);
    return jlist_append_list(ks, k, klen, h, list, e);
}

/* ---- type: join ---- */

typedef struct rj_cfg {
    join_cfg jc;
    int64_t retention; /* ms; 0: keep forever */
    int64_t granule;   /* cleanup timers are rounded up to this */
} rj_cfg;

typedef struct rj_state {
    join_run run;
    timer_svc ttl; /* processing time: (side, key) lists to clean */
} rj_state;

static const char *const rj_keys[] = {"right-prefix", "retention", NULL};

static int rj_configure(op_spec *s, const conf *c, mpf_err *e)
{
    (void)c;
    rj_cfg *cfg = xcalloc(1, sizeof *cfg);
    int present = 0;
    if (join_configure_common(s, 0, NULL, &cfg->jc, e) ||
        join_duration_ms(s, s->node, "retention", 0, 0, &cfg->retention, &present, e))
        goto fail;
    if (present && cfg->retention <= 0) {
        err_set(e, MPF_EJOB, "%s: operator '%s': retention must be at least 1ms (leave it out "
                "to keep state forever)", ynode_pos(ynode_get(s->node, "retention")), s->uid);
        goto fail;
    }
    cfg->granule = cfg->retention / 16 > 0 ? cfg->retention / 16 : 1;
    s->cfg = cfg;
    return 0;
fail:
    free(cfg);
    return e->code;
}

static void rj_describe(const op_spec *s, char *buf, size_t n)
{
    const rj_cfg *cfg = s->cfg;
    char ret[128] = "state kept forever";
    if (cfg->retention) {
        char d[48];
        format_duration(cfg->retention * 1000000, d, sizeof d);
        snprintf(ret, sizeof ret, "retention %s (processing time)", d);
    }
    snprintf(buf, n, "inner join on %s = %s, %s",
             s->in_schema[0]->f[cfg->jc.key[0]].name, s->in_schema[1]->f[cfg->jc.key[1]].name,
             ret);
}

static int rj_open(op_inst *oi, mpf_err *e)
{
    (void)e;
    rj_state *st = xcalloc(1, sizeof *st);
    join_run_init(&st->run);
    timers_init(&st->ttl);
    oi->st = st;
    return 0;
}


static void rj_account(op_inst *oi, rj_state *st)
{
    oi->state_bytes = ks_bytes(&st->run.lists) + timers_bytes(&st->ttl) + st->run.kcap +
                      st->run.ocap;
}

static int rj_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    const rj_cfg *cfg = oi->spec->cfg;
    rj_state *st = oi->st;
    const schema *in = oi->spec->in_schema[input];
    int side = input == 0 ? JOIN_LEFT : JOIN_RIGHT;
    int64_t now = cfg->retention ? clock_wall_ms() : 0;
    int64_t expired = cfg->retention ? now - cfg->retention : INT64_MIN; /* time <= this */
    for (const uint8_t *r = batch_first(batch); r; r = batch_next(batch, r)) {
        uint32_t klen;
        const uint8_t *key = rec_key(in, r, cfg->jc.key[side], &klen);
        /* Keep the record. */
        uint32_t n = join_state_key(&st->run, NULL, 0, side, key, klen);
        if (jlist_append(&st->run.lists, st->run.kbuf, n, ks_hash(st->run.kbuf, n), now, r,
                         NULL, e))
            return err_prefix(e, "operator '%s'", oi->spec->uid);
        if (cfg->retention) {
            int64_t due = now + cfg->retention;
            due += (cfg->granule - due % cfg->granule) % cfg->granule;
            timers_add(&st->ttl, due, st->run.kbuf, n);
            if (due < oi->proc_timer)
                oi->proc_timer = due;
        }
        /* Join it with the other side's records of the key. */
        n = join_state_key(&st->run, NULL, 0, !side, key, klen);
        const uint8_t *v = ks_get(&st->run.lists, st->run.kbuf, n, ks_hash(st->run.kbuf, n),
                                  NULL);
        if (!v)
            continue;
        for (uint32_t off = JLIST_HDR; off < jlist_end(v); off = jlist_next(v, off)) {
            if (jlist_time(v, off) <= expired)
                continue;
            const uint8_t *o = jlist_rec(v, off);
            join_emit(oi, &st->run, side == JOIN_LEFT ? r : o, side == JOIN_LEFT ? o : r, NULL,
                      0);
        }
    }
    rj_account(oi, st);
    return 0;
}

static int rj_on_proc_time(op_inst *oi, int64_t now, mpf_err *e)
{
    (void)e;
    const rj_cfg *cfg = oi->spec->cfg;
    rj_state *st = oi->st;
    int64_t t;
    const uint8_t *k;
    uint32_t klen;
    while (timers_pop(&st->ttl, now, &t, &k, &klen)) {
        uint64_t h = ks_hash(k, klen);
        uint8_t *v = ks_get(&st->run.lists, k, klen, h, NULL);
        if (v && jlist_drop_upto(v, now - cfg->retention) == 0)
            ks_del(&st->run.lists, k, klen, h);
    }
    oi->proc_timer = timers_next(&st->ttl);
    rj_account(oi, st);
    return 0;
}

/* Checkpoints: the lists (JSNAP_LIST entries); retention timers are
 * rebuilt from the arrival times kept with the records. */
static int rj_snapshot(op_inst *oi, snap_writer *w, mpf_err *e)
{
    (void)e;
    rj_state *st = oi->st;
    join_snapshot_lists(oi, &st->run, 0, w);
    return 0;
}

static int64_t rj_due(const void *ctx, int side, int64_t t)
{
    (void)side;
    return join_sat_add(t, ((const rj_cfg *)ctx)->retention);
}

static int rj_restore(op_inst *oi, const snap_blob *sb, mpf_err *e)
{
    const rj_cfg *cfg = oi->spec->cfg;
    rj_state *st = oi->st;
    if (join_restore_lists(oi, sb, &st->run, "a regular join", cfg->retention ? &st->ttl : NULL,
                           rj_due, cfg, cfg->granule, e))
        return e->code;
    oi->proc_timer = timers_next(&st->ttl);
    rj_account(oi, st);
    return 0;
}

static void rj_close(op_inst *oi)
{
    rj_state *st = oi->st;
    if (!st)
        return;
    join_run_fini(&st->run);
    timers_fini(&st->ttl);
    free(st);
    oi->st = NULL;
}

const op_kind op_join = {
    .name = "join",
    .role = OP_TRANSFORM,
    .min_inputs = 2,
    .max_inputs = 2,
    .keys = rj_keys,
    .summary = "regular inner equi-join of two keyed streams (all records kept, or for "
               "`retention`)",
    .configure = rj_configure,
    .free_cfg = free,
    .describe = rj_describe,
    .open = rj_open,
    .process = rj_process,
    .on_proc_time = rj_on_proc_time,
    .snapshot = rj_snapshot,
    .restore = rj_restore,
    .close = rj_close,
};
