/* `type: window-join`: Flink's DataStream window join (inner), on event
 * time (operators layer).
 *
 * Each record is assigned to the windows that hold its event time
 * (tumbling, sliding, or session windows of both inputs' records of one
 * key) and kept in keyed state under (window, side, key). When the
 * watermark reaches a window's end - 1, every (left, right) pair of a key
 * in that window is emitted and the window's state dropped. A record whose
 * every window has already fired (end - 1 <= watermark) is late: it is
 * dropped and counted in numLateRecordsDropped. Output: left fields, right
 * fields, window_start, window_end and window_time (= window_end - 1, the
 * output's event time, as Flink stamps window results). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "operators/join/join.h"
#include "state/timers.h"
#include "util/xmalloc.h"

enum wj_type { WJ_TUMBLING, WJ_SLIDING, WJ_SESSION };
static const char *const wj_type_names[] = {"tumbling", "sliding", "session", NULL};

typedef struct wj_cfg {
    join_cfg jc;
    enum wj_type type;
    int64_t size, slide, offset, gap; /* ms */
} wj_cfg;

/* A session of one key: its window and the id its lists are stored by. */
typedef struct wj_session {
    int64_t start, end;
    uint64_t id;
} wj_session;

typedef struct wj_state {
    join_run run;
    /* Tumbling and sliding windows: one timer per window end - 1 and the
     * window's keys in windex (end -> list of [u32 klen][key]), far
     * smaller than a timer per (window, key). Session windows: a timer
     * (end - 1, key) per session. */
    timer_svc timers;
    kstore windex;
    kstore sessions;  /* session windows: key -> [u32 n][u32 0][wj_session]* */
    uint64_t next_id;
    wj_session *sbuf; /* scratch copy of one key's sessions */
    size_t scap;
    uint8_t *mbuf;    /* scratch copy of a list being merged */
    uint32_t mcap;
    /* The window being fired, resumed after MPF_EAGAIN. */
    int firing;
    int64_t fstart, fend;
    uint64_t fns;   /* namespace of its lists: window end, or session id */
    uint8_t *fkey;  /* sessions: the key */
    uint32_t fklen, fkcap;
    uint32_t kpos;  /* windows: next key in the window's windex list */
    uint32_t loff, roff; /* next pair of the key being emitted */
} wj_state;

static const char *const wj_keys[] = {"window", "right-prefix", NULL};
static const char *const wj_extra[] = {"window_start", "window_end", "window_time", NULL};

/* ---- plan time ---- */

static int wj_window(op_spec *s, wj_cfg *cfg, mpf_err *e)
{
    const ynode *w = ynode_get(s->node, "window");
    if (!w)
        return err_set(e, MPF_EJOB, "%s: window-join needs window: {type: tumbling, size: "
                       "10s} (or sliding with slide, or session with gap)", op_where(s));
    if (w->kind != YNODE_MAP)
        return err_set(e, MPF_EJOB, "%s: operator '%s': window must be a map such as {type: "
                       "tumbling, size: 10s}", ynode_pos(w), s->uid);
    static const char *const keys[] = {"type", "size", "slide", "gap", "offset", NULL};
    char what[300];
    snprintf(what, sizeof what, "operator '%s' window", s->uid);
    if (ynode_check_keys(w, keys, what, e))
        return e->code;
    const char *type = NULL;
    if (ynode_get_str(w, "type", 1, &type, e))
        return err_prefix(e, "operator '%s' window", s->uid);
    int t = -1;
    for (int i = 0; wj_type_names[i]; i++)
        if (strcmp(type, wj_type_names[i]) == 0)
            t = i;
    if (t < 0)
        return err_set(e, MPF_EJOB, "%s: operator '%s': window type must be tumbling, sliding "
                       "or session, got '%s'", ynode_pos(ynode_get(w, "type")), s->uid, type);
    cfg->type = (enum wj_type)t;
    int has_size, has_slide, has_gap, has_offset;
    if (join_duration_ms(s, w, "size", 0, 0, &cfg->size, &has_size, e) ||
        join_duration_ms(s, w, "slide", 0, 0, &cfg->slide, &has_slide, e) ||
        join_duration_ms(s, w, "gap", 0, 0, &cfg->gap, &has_gap, e) ||
        join_duration_ms(s, w, "offset", 0, 1, &cfg->offset, &has_offset, e))
        return e->code;
    /* Which keys each type takes. */
    const char *bad = NULL;
    if (cfg->type == WJ_SESSION)
        bad = has_size ? "size" : has_slide ? "slide" : has_offset ? "offset" : NULL;
    else
        bad = has_gap ? "gap" : cfg->type == WJ_TUMBLING && has_slide ? "slide" : NULL;
    if (bad)
        return err_set(e, MPF_EJOB, "%s: operator '%s': a %s window takes no %s",
                       ynode_pos(ynode_get(w, bad)), s->uid, type, bad);
    const char *missing = cfg->type == WJ_SESSION ? (has_gap ? NULL : "gap")
                          : !has_size                  ? "size"
                          : cfg->type == WJ_SLIDING && !has_slide ? "slide"
                                                                  : NULL;
    if (missing)
        return err_set(e, MPF_EJOB, "%s: operator '%s': a %s window needs %s", ynode_pos(w),
                       s->uid, type, missing);
    if (cfg->type == WJ_TUMBLING)
        cfg->slide = cfg->size;
    const char *zero = cfg->type == WJ_SESSION ? (cfg->gap <= 0 ? "gap" : NULL)
                       : cfg->size <= 0        ? "size"
                       : cfg->slide <= 0       ? "slide"
                                               : NULL;
    if (zero)
        return err_set(e, MPF_EJOB, "%s: operator '%s': window %s must be at least 1ms",
                       ynode_pos(ynode_get(w, zero)), s->uid, zero);
    if (cfg->type != WJ_SESSION && (cfg->offset >= cfg->slide || -cfg->offset >= cfg->slide))
        return err_set(e, MPF_EJOB, "%s: operator '%s': window offset must be smaller than the "
                       "%s", ynode_pos(ynode_get(w, "offset")), s->uid,
                       cfg->type == WJ_TUMBLING ? "size" : "slide");
    return 0;
}

static int wj_configure(op_spec *s, const conf *c, mpf_err *e)
{
    (void)c;
    wj_cfg *cfg = xcalloc(1, sizeof *cfg);
    if (join_configure_common(s, 1, wj_extra, &cfg->jc, e) || wj_window(s, cfg, e)) {
        free(cfg);
        return e->code;
    }
    s->out_schema.rowtime = s->out_schema.n - 1; /* window_time */
    s->cfg = cfg;
    return 0;
}

static void wj_describe(const op_spec *s, char *buf, size_t n)
{
    const wj_cfg *cfg = s->cfg;
    char a[48], b[48];
    format_duration((cfg->type == WJ_SESSION ? cfg->gap : cfg->size) * 1000000, a, sizeof a);
    format_duration(cfg->slide * 1000000, b, sizeof b);
    snprintf(buf, n, "inner join on %s = %s in %s windows of %s%s%s%s",
             s->in_schema[0]->f[cfg->jc.key[0]].name, s->in_schema[1]->f[cfg->jc.key[1]].name,
             wj_type_names[cfg->type], cfg->type == WJ_SESSION ? "gap " : "", a,
             cfg->type == WJ_SLIDING ? " every " : "", cfg->type == WJ_SLIDING ? b : "");
}

/* ---- run time ---- */

static int wj_open(op_inst *oi, mpf_err *e)
{
    (void)e;
    wj_state *st = xcalloc(1, sizeof *st);
    join_run_init(&st->run);
    timers_init(&st->timers);
    ks_init(&st->windex);
    ks_init(&st->sessions);
    st->next_id = 1;
    oi->st = st;
    return 0;
}

static void wj_account(op_inst *oi, wj_state *st)
{
    oi->state_bytes = ks_bytes(&st->run.lists) + timers_bytes(&st->timers) +
                      ks_bytes(&st->windex) + ks_bytes(&st->sessions) + st->run.kcap +
                      st->run.ocap +
                      st->scap * sizeof *st->sbuf + st->mcap + st->fkcap;
}

/* Add rec to the list of (ns, side, key); *created says whether that
 * list is new. */
static int add_to(wj_state *st, uint64_t ns, int side, const uint8_t *key, uint32_t klen,
                  int64_t ts, const uint8_t *rec, int *created, mpf_err *e)
{
    uint32_t n = join_state_key(&st->run, &ns, 8, side, key, klen);
    return jlist_append(&st->run.lists, st->run.kbuf, n, ks_hash(st->run.kbuf, n), ts, rec,
                        created, e);
}

/* Tumbling and sliding windows: rec goes into window end; a key new to
 * the window joins its key list, and a new window gets its timer. */
static int add_window(wj_state *st, int64_t end, int side, const uint8_t *key, uint32_t klen,
                      int64_t ts, const uint8_t *rec, mpf_err *e)
{
    uint64_t ns = (uint64_t)end;
    int created;
    if (add_to(st, ns, side, key, klen, ts, rec, &created, e))
        return e->code;
    if (!created)
        return 0;
    uint32_t n = join_state_key(&st->run, &ns, 8, !side, key, klen);
    if (ks_get(&st->run.lists, st->run.kbuf, n, ks_hash(st->run.kbuf, n), NULL))
        return 0; /* the key is in the window already */
    int new_window;
    if (jlist_add(&st->windex, (const uint8_t *)&ns, 8, ks_hash(&ns, 8), &klen, 4, key, klen,
                  &new_window, e))
        return e->code;
    if (new_window)
        timers_add(&st->timers, end - 1, NULL, 0);
    return 0;
}

/* A key's sessions, copied into st->sbuf; returns how many. */
static size_t load_sessions(wj_state *st, const uint8_t *key, uint32_t klen, uint64_t h)
{
    uint32_t vcap;
    const uint8_t *v = ks_get(&st->sessions, key, klen, h, &vcap);
    size_t n = v ? rd_u32(v) : 0;
    if (n + 1 > st->scap) { /* room for one more */
        st->scap = (n + 1) * 2;
        st->sbuf = xrealloc(st->sbuf, st->scap * sizeof *st->sbuf);
    }
    if (n)
        memcpy(st->sbuf, v + 8, n * sizeof *st->sbuf);
    return n;
}

static void store_sessions(wj_state *st, const uint8_t *key, uint32_t klen, uint64_t h,
                           size_t n)
{
    if (!n) {
        ks_del(&st->sessions, key, klen, h);
        return;
    }
    uint32_t size = (uint32_t)(8 + n * sizeof *st->sbuf);
    uint8_t *v = ks_put(&st->sessions, key, klen, h, size, NULL);
    uint32_t vcap;
    ks_get(&st->sessions, key, klen, h, &vcap);
    if (vcap != size)
        v = ks_resize(&st->sessions, key, klen, h, size);
    uint32_t n32 = (uint32_t)n;
    wr_u32(v, n32);
    memcpy(v + 8, st->sbuf, n * sizeof *st->sbuf);
}

/* Move the lists of session `from` into session `to` (both sides). */
static int merge_lists(wj_state *st, uint64_t from, uint64_t to, const uint8_t *key,
                       uint32_t klen, mpf_err *e)
{
    for (int side = 0; side < 2; side++) {
        uint32_t n = join_state_key(&st->run, &from, 8, side, key, klen);
        uint64_t h = ks_hash(st->run.kbuf, n);
        const uint8_t *v = ks_get(&st->run.lists, st->run.kbuf, n, h, NULL);
        if (!v)
            continue;
        uint32_t bytes = jlist_end(v);
        if (bytes > st->mcap) {
            st->mcap = bytes;
            st->mbuf = xrealloc(st->mbuf, bytes);
        }
        memcpy(st->mbuf, v, bytes);
        ks_del(&st->run.lists, st->run.kbuf, n, h);
        n = join_state_key(&st->run, &to, 8, side, key, klen);
        if (jlist_append_list(&st->run.lists, st->run.kbuf, n, ks_hash(st->run.kbuf, n),
                              st->mbuf, e))
            return e->code;
    }
    return 0;
}

/* Session windows: the record's window [ts, ts + gap) merges with every
 * session of its key that it overlaps or touches (Flink's
 * TimeWindow.intersects); the merged session keeps the first one's id and
 * lists, and its timer moves to the new end. */
static int add_session(op_inst *oi, wj_state *st, int side, const uint8_t *key, uint32_t klen,
                       int64_t ts, const uint8_t *rec, mpf_err *e)
{
    const wj_cfg *cfg = oi->spec->cfg;
    int64_t start = ts, end = join_sat_add(ts, cfg->gap);
    uint64_t h = ks_hash(key, klen);
    size_t n = load_sessions(st, key, klen, h);
    size_t keep = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        wj_session *ss = &st->sbuf[i];
        if (!(ss->start <= end && ss->end >= start))
            continue;
        if (keep == (size_t)-1) {
            keep = i;
            continue;
        }
        /* A second overlapping session: fold it into the kept one. */
        wj_session *k = &st->sbuf[keep];
        if (merge_lists(st, ss->id, k->id, key, klen, e))
            return e->code;
        timers_del(&st->timers, ss->end - 1, key, klen);
        if (ss->start < k->start)
            k->start = ss->start;
        if (ss->end > k->end) {
            timers_del(&st->timers, k->end - 1, key, klen);
            k->end = ss->end;
            timers_add(&st->timers, k->end - 1, key, klen);
        }
        st->sbuf[i] = st->sbuf[--n];
        i--;
    }
    uint64_t id;
    if (keep == (size_t)-1) {
        /* Sessions still in state have not fired, so only a session of its
         * own can be late. */
        if (end - 1 <= oi->watermark) {
            oi->late_dropped++;
            return 0;
        }
        st->sbuf[n].start = start;
        st->sbuf[n].end = end;
        st->sbuf[n].id = id = st->next_id++;
        n++;
        timers_add(&st->timers, end - 1, key, klen);
    } else {
        wj_session *k = &st->sbuf[keep];
        id = k->id;
        if (start < k->start)
            k->start = start;
        if (end > k->end) {
            timers_del(&st->timers, k->end - 1, key, klen);
            k->end = end;
            timers_add(&st->timers, k->end - 1, key, klen);
        }
    }
    store_sessions(st, key, klen, h, n);
    return add_to(st, id, side, key, klen, ts, rec, NULL, e);
}

static int wj_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    const wj_cfg *cfg = oi->spec->cfg;
    wj_state *st = oi->st;
    const schema *in = oi->spec->in_schema[input];
    int side = input == 0 ? JOIN_LEFT : JOIN_RIGHT;
    int tf = cfg->jc.time[side], kf = cfg->jc.key[side];
    int64_t wm = oi->watermark;
    for (const uint8_t *r = batch_first(batch); r; r = batch_next(batch, r)) {
        int64_t ts = rd_i64(rec_field(in, r, tf));
        uint32_t klen;
        const uint8_t *key = rec_key(in, r, kf, &klen);
        if (cfg->type == WJ_SESSION) {
            if (add_session(oi, st, side, key, klen, ts, r, e))
                return err_prefix(e, "operator '%s'", oi->spec->uid);
            continue;
        }
        /* Windows [start, start + size) holding ts, latest first. */
        int placed = 0;
        int64_t last = ts - join_floor_mod(ts - cfg->offset, cfg->slide);
        for (int64_t start = last; start > ts - cfg->size; start -= cfg->slide) {
            int64_t end = start + cfg->size;
            if (end - 1 <= wm)
                break; /* this and every earlier window has fired */
            if (add_window(st, end, side, key, klen, ts, r, e))
                return err_prefix(e, "operator '%s'", oi->spec->uid);
            placed = 1;
        }
        if (!placed)
            oi->late_dropped++;
    }
    wj_account(oi, st);
    return 0;
}

/* Sessions: set up firing the session of timer (t, key); returns 0 when
 * it is gone. */
static int session_begin(wj_state *st, int64_t t, const uint8_t *key, uint32_t klen)
{
    if (klen > st->fkcap) {
        st->fkcap = klen * 2;
        st->fkey = xrealloc(st->fkey, st->fkcap);
    }
    if (klen)
        memcpy(st->fkey, key, klen);
    st->fklen = klen;
    st->fend = t + 1;
    size_t n = load_sessions(st, key, klen, ks_hash(key, klen));
    size_t i = 0;
    while (i < n && st->sbuf[i].end != st->fend)
        i++;
    if (i == n)
        return 0;
    st->fstart = st->sbuf[i].start;
    st->fns = st->sbuf[i].id;
    return 1;
}

/* Drop the fired session. */
static void session_end(wj_state *st)
{
    uint64_t h = ks_hash(st->fkey, st->fklen);
    size_t n = load_sessions(st, st->fkey, st->fklen, h);
    for (size_t i = 0; i < n; i++)
        if (st->sbuf[i].id == st->fns) {
            st->sbuf[i] = st->sbuf[--n];
            break;
        }
    store_sessions(st, st->fkey, st->fklen, h, n);
}

/* Emit the pairs of key in the window being fired, from (loff, roff) on,
 * then drop its lists. MPF_EAGAIN when the budget ran out first. */
static int emit_key(op_inst *oi, wj_state *st, const uint8_t *key, uint32_t klen, long *budget)
{
    join_run *run = &st->run;
    uint32_t n = join_state_key(run, &st->fns, 8, JOIN_LEFT, key, klen);
    uint64_t lh = ks_hash(run->kbuf, n);
    const uint8_t *lv = ks_get(&run->lists, run->kbuf, n, lh, NULL);
    n = join_state_key(run, &st->fns, 8, JOIN_RIGHT, key, klen);
    uint64_t rh = ks_hash(run->kbuf, n);
    const uint8_t *rv = ks_get(&run->lists, run->kbuf, n, rh, NULL);
    if (lv && rv) {
        int64_t extra[3] = {st->fstart, st->fend, st->fend - 1};
        while (st->loff < jlist_end(lv)) {
            while (st->roff < jlist_end(rv)) {
                if ((*budget)-- == 0)
                    return MPF_EAGAIN;
                join_emit(oi, run, jlist_rec(lv, st->loff), jlist_rec(rv, st->roff), extra, 3);
                st->roff = jlist_next(rv, st->roff);
            }
            st->loff = jlist_next(lv, st->loff);
            st->roff = JLIST_HDR;
        }
    }
    if (rv) /* kbuf still holds the right key */
        ks_del(&run->lists, run->kbuf, n, rh);
    if (lv) {
        n = join_state_key(run, &st->fns, 8, JOIN_LEFT, key, klen);
        ks_del(&run->lists, run->kbuf, n, lh);
    }
    st->loff = st->roff = JLIST_HDR;
    return 0;
}

static int wj_on_watermark(op_inst *oi, int64_t wm, mpf_err *e)
{
    (void)e;
    const wj_cfg *cfg = oi->spec->cfg;
    wj_state *st = oi->st;
    long budget = 4096; /* about a batch of output per call */
    for (;;) {
        if (!st->firing) {
            int64_t t;
            const uint8_t *key;
            uint32_t klen;
            if (!timers_pop(&st->timers, wm, &t, &key, &klen))
                break;
            if (cfg->type == WJ_SESSION) {
                if (!session_begin(st, t, key, klen))
                    continue;
            } else {
                st->fend = t + 1;
                st->fstart = st->fend - cfg->size;
                st->fns = (uint64_t)st->fend;
                st->kpos = JLIST_HDR;
            }
            st->loff = st->roff = JLIST_HDR;
            st->firing = 1;
        }
        if (cfg->type == WJ_SESSION) {
            if (emit_key(oi, st, st->fkey, st->fklen, &budget))
                goto more;
            session_end(st);
        } else {
            /* Every key of the window; the key list stays put while only
             * the lists store changes. */
            uint64_t h = ks_hash(&st->fns, 8);
            const uint8_t *wi = ks_get(&st->windex, &st->fns, 8, h, NULL);
            while (wi && st->kpos < jlist_end(wi)) {
                uint32_t klen = rd_u32(wi + st->kpos);
                if (emit_key(oi, st, wi + st->kpos + 4, klen, &budget))
                    goto more;
                st->kpos += 4 + klen;
            }
            ks_del(&st->windex, &st->fns, 8, h);
        }
        st->firing = 0;
    }
    wj_account(oi, st);
    return 0;
more:
    wj_account(oi, st);
    return MPF_EAGAIN;
}

/* ---- checkpoints ----
 * Tumbling and sliding windows: JSNAP_WINDOW entries (join.h), one per
 * (window, side, key) list; the window index and timers are rebuilt.
 * Session windows: a JSNAP_SESSION entry per session with both lists;
 * session ids are local to a subtask, so a restore gives each session a
 * new one (sessions of several old subtasks may meet in one new one). A
 * snapshot is never taken while a window is half fired: the task passes
 * a watermark through the chain before it reads the next barrier. */

typedef struct wj_cow {
    kstore lists, sessions; /* copies */
    kgbufs k;
    uint8_t *kbuf;
    uint32_t kcap;
} wj_cow;

static void wj_cow_free(void *p)
{
    wj_cow *c = p;
    ks_fini(&c->lists);
    ks_fini(&c->sessions);
    if (c->k.b) {
        for (int i = 0; i < c->k.n; i++)
            free(c->k.b[i].p);
        free(c->k.b);
    }
    free(c->kbuf);
    free(c);
}

/* [u32 vlen][list] of session id's side for key, or [0] when it has none. */
static void put_session_list(wj_cow *c, recbuf *b, uint64_t id, int side, const uint8_t *key,
                             uint32_t klen)
{
    uint32_t n = 9 + klen;
    if (n > c->kcap) {
        c->kcap = n * 2;
        c->kbuf = xrealloc(c->kbuf, c->kcap);
    }
    wr_u64(c->kbuf, id);
    c->kbuf[8] = (uint8_t)side;
    if (klen)
        memcpy(c->kbuf + 9, key, klen);
    const uint8_t *v = ks_get(&c->lists, c->kbuf, n, ks_hash(c->kbuf, n), NULL);
    uint32_t vlen = v ? jlist_end(v) : 0;
    kgbuf_u32(b, vlen);
    if (vlen)
        kgbuf_put(b, v, vlen);
}

static int wj_cow_write(void *p, snap_writer *w, mpf_err *e)
{
    (void)e;
    wj_cow *c = p;
    size_t pos = 0;
    const uint8_t *key;
    uint32_t klen;
    uint8_t *v;
    while (ks_next(&c->sessions, &pos, &key, &klen, &v, NULL)) {
        recbuf *b = kgbufs_for(&c->k, key, klen);
        uint32_t n = rd_u32(v);
        for (uint32_t i = 0; i < n; i++) {
            wj_session ss;
            memcpy(&ss, v + 8 + i * sizeof ss, sizeof ss);
            kgbuf_u32(b, JSNAP_SESSION);
            kgbuf_u32(b, klen);
            kgbuf_put(b, key, klen);
            kgbuf_i64(b, ss.start);
            kgbuf_i64(b, ss.end);
            put_session_list(c, b, ss.id, JOIN_LEFT, key, klen);
            put_session_list(c, b, ss.id, JOIN_RIGHT, key, klen);
        }
    }
    kgbufs_flush(&c->k, w);
    return 0;
}

static int wj_snapshot(op_inst *oi, snap_writer *w, mpf_err *e)
{
    const wj_cfg *cfg = oi->spec->cfg;
    wj_state *st = oi->st;
    if (st->firing)
        return err_set(e, MPF_EPLAN, "operator '%s': snapshot while a window is being fired",
                       oi->spec->uid);
    if (cfg->type != WJ_SESSION) {
        join_snapshot_lists(oi, &st->run, 8, w);
        return 0;
    }
    wj_cow *c = xcalloc(1, sizeof *c);
    ks_clone(&c->lists, &st->run.lists);
    ks_clone(&c->sessions, &st->sessions);
    kgbufs_init(&c->k, oi);
    snap_defer(w, wj_cow_write, wj_cow_free, c);
    return 0;
}

/* A restored (window, side, key) list: as add_window, a key new to the
 * window joins the window's key list and a new window gets its timer. */
static int restore_window(op_inst *oi, wj_state *st, const join_snap_ent *en, mpf_err *e)
{
    uint64_t ns = (uint64_t)en->end;
    uint32_t n = join_state_key(&st->run, &ns, 8, en->side, en->key, en->klen);
    int created;
    if (join_restore_list(&st->run.lists, st->run.kbuf, n, en->list[0], &created, e))
        return err_prefix(e, "operator '%s'", oi->spec->uid);
    if (!created)
        return 0;
    n = join_state_key(&st->run, &ns, 8, !en->side, en->key, en->klen);
    if (ks_get(&st->run.lists, st->run.kbuf, n, ks_hash(st->run.kbuf, n), NULL))
        return 0;
    int new_window;
    uint32_t klen = en->klen;
    if (jlist_add(&st->windex, (const uint8_t *)&ns, 8, ks_hash(&ns, 8), &klen, 4, en->key,
                  klen, &new_window, e))
        return err_prefix(e, "operator '%s'", oi->spec->uid);
    if (new_window)
        timers_add(&st->timers, en->end - 1, NULL, 0);
    return 0;
}

/* A restored session, under a new id. */
static int restore_session(op_inst *oi, wj_state *st, const join_snap_ent *en, mpf_err *e)
{
    uint64_t id = st->next_id++;
    for (int side = 0; side < 2; side++) {
        if (!en->list[side])
            continue;
        uint32_t n = join_state_key(&st->run, &id, 8, side, en->key, en->klen);
        if (join_restore_list(&st->run.lists, st->run.kbuf, n, en->list[side], NULL, e))
            return err_prefix(e, "operator '%s'", oi->spec->uid);
    }
    uint64_t h = ks_hash(en->key, en->klen);
    size_t n = load_sessions(st, en->key, en->klen, h);
    st->sbuf[n].start = en->start;
    st->sbuf[n].end = en->end;
    st->sbuf[n].id = id;
    store_sessions(st, en->key, en->klen, h, n + 1);
    timers_add(&st->timers, en->end - 1, en->key, en->klen);
    return 0;
}

static int wj_restore(op_inst *oi, const snap_blob *sb, mpf_err *e)
{
    const wj_cfg *cfg = oi->spec->cfg;
    wj_state *st = oi->st;
    blobrd r;
    blobrd_init(&r, sb);
    join_snap_ent en;
    int rc;
    while ((rc = join_snap_next(oi, sb, &r, &en, e)) == 1) {
        if (cfg->type == WJ_SESSION) {
            if (en.tag != JSNAP_SESSION)
                return join_snap_error(oi, sb, "a window entry in a session window join", e);
            if (restore_session(oi, st, &en, e))
                return e->code;
            continue;
        }
        if (en.tag != JSNAP_WINDOW)
            return join_snap_error(oi, sb, "a session or plain list in a tumbling or sliding "
                                   "window join", e);
        if (join_floor_mod(join_sat_add(en.end, -cfg->size) - cfg->offset, cfg->slide))
            return join_snap_error(oi, sb, "a window that is not one of this join's windows", e);
        if (restore_window(oi, st, &en, e))
            return e->code;
    }
    if (rc)
        return rc;
    wj_account(oi, st);
    return 0;
}

static void wj_close(op_inst *oi)
{
    wj_state *st = oi->st;
    if (!st)
        return;
    join_run_fini(&st->run);
    timers_fini(&st->timers);
    ks_fini(&st->windex);
    ks_fini(&st->sessions);
    free(st->sbuf);
    free(st->mbuf);
    free(st->fkey);
    free(st);
    oi->st = NULL;
}

const op_kind op_window_join = {
    .name = "window-join",
    .role = OP_TRANSFORM,
    .min_inputs = 2,
    .max_inputs = 2,
    .keys = wj_keys,
    .summary = "inner join of two keyed streams per event-time window (tumbling, sliding, "
               "session)",
    .configure = wj_configure,
    .free_cfg = free,
    .describe = wj_describe,
    .open = wj_open,
    .process = wj_process,
    .on_watermark = wj_on_watermark,
    .snapshot = wj_snapshot,
    .restore = wj_restore,
    .close = wj_close,
};
