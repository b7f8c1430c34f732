/* `source: behavior`: e-commerce user behaviour events shaped like the
 * Alibaba UserBehavior data set of Flink's HotItems tutorial (connectors layer).
 *
 * Output: user_id i64, item_id i64, category_id i64, behavior string
 * (pv|cart|fav|buy), ts timestamp. Event r depends only on (seed, r), so
 * the data are the same at any parallelism; subtask i makes events i,
 * i+p, ... (until a restore at another parallelism splits the rest anew,
 * see seqsplit.h). Users are uniform in [1, users]. Item popularity is Zipf-like:
 * item k in [1, items] is drawn with probability proportional to
 * 1/k^skew (item 1 is the most popular; skew 0 is uniform), sampled by
 * Hoermann and Derflinger's rejection-inversion (O(1) memory and expected
 * time, "Rejection-inversion to generate variates from monotone discrete
 * distributions", 1996). Each item belongs to one category in
 * [1, categories], fixed by (seed, item). The behaviour mix is pv 89%,
 * cart 5.5%, fav 3%, buy 2.5% (close to the data set's proportions).
 * Event time: ts = start + r * interval - jitter, where jitter is a
 * deterministic draw in [0, out-of-orderness], so a record lags behind
 * the largest earlier ts by at most out-of-orderness.
 *
 * Options: users (10000), items (100000), categories (1000), skew (1.0),
 * events (absent: unbounded), events-per-second (total; 0: unlimited),
 * seed (0), start (2017-11-25 00:00:00, the data set's first day),
 * interval (10ms, total across subtasks), out-of-orderness (0). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/op.h"
#include "connectors/datagen/seqsplit.h"
#include "connectors/srcutil.h"
#include "record/segpool.h"
#include "util/xmalloc.h"

#define BH_DEFAULT_START 1511568000000LL /* 2017-11-25T00:00:00Z */

/* Zipf(n, s) by rejection-inversion over the hat function x^-s. */
typedef struct zipf {
    int64_t n;
    double s, h_x1, h_n, sq;
} zipf;

typedef struct bh_cfg {
    int64_t users, items, categories, events;
    double skew, rate;
    uint64_t seed;
    srcutil_evtime t;
    zipf z;
} bh_cfg;

typedef struct bh_state {
    seqsplit events; /* first: the event numbers still to produce (seqsplit_op_*) */
    int64_t produced;
    srcutil_rate rl;
    recbuf rb;
} bh_state;

static const char *const bh_keys[] = {"users", "items", "categories", "skew", "events",
                                      "events-per-second", "seed", "start", "interval",
                                      "out-of-orderness", NULL};

/* log1p(x)/x and expm1(x)/x, accurate near 0. */
static double zipf_helper1(double x)
{
    return fabs(x) > 1e-8 ? log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}
static double zipf_helper2(double x)
{
    return fabs(x) > 1e-8 ? expm1(x) / x : 1 + x * 0.5 * (1 + x * (1.0 / 3.0) * (1 + 0.25 * x));
}
/* H(x) = (x^(1-s) - 1) / (1-s) (log x when s = 1), a primitive of h. */
static double zipf_H(const zipf *z, double x)
{
    double lx = log(x);
    return zipf_helper2((1 - z->s) * lx) * lx;
}
static double zipf_h(const zipf *z, double x) { return exp(-z->s * log(x)); }
static double zipf_Hinv(const zipf *z, double x)
{
    double t = x * (1 - z->s);
    if (t < -1)
        t = -1;
    return exp(zipf_helper1(t) * x);
}

static void zipf_init(zipf *z, int64_t n, double s)
{
    z->n = n;
    z->s = s;
    z->h_x1 = zipf_H(z, 1.5) - 1;
    z->h_n = zipf_H(z, (double)n + 0.5);
    z->sq = 2 - zipf_Hinv(z, zipf_H(z, 2.5) - zipf_h(z, 2));
}

static int64_t zipf_sample(const zipf *z, srcrng *r)
{
    for (;;) {
        double u = z->h_n + srcrng_double(r) * (z->h_x1 - z->h_n);
        double x = zipf_Hinv(z, u);
        int64_t k = (int64_t)(x + 0.5);
        if (k < 1)
            k = 1;
        else if (k > z->n)
            k = z->n;
        if ((double)k - x <= z->sq || u >= zipf_H(z, (double)k + 0.5) - zipf_h(z, (double)k))
            return k;
    }
}

static int bh_configure(op_spec *s, const conf *c, mpf_err *e)
{
    bh_cfg *cfg = xcalloc(1, sizeof *cfg);
    int64_t seed = 0, ooo_ns = 0;
    cfg->users = 10000;
    cfg->items = 100000;
    cfg->categories = 1000;
    cfg->skew = 1.0;
    cfg->events = -1;
    cfg->t.start_ms = BH_DEFAULT_START;
    cfg->t.interval_ns = 10 * 1000000LL;
    if (srcutil_get_count(s->node, "users", 1, &cfg->users, e) ||
        srcutil_get_count(s->node, "items", 1, &cfg->items, e) ||
        srcutil_get_count(s->node, "categories", 1, &cfg->categories, e) ||
        ynode_get_f64(s->node, "skew", 0, &cfg->skew, e) ||
        srcutil_get_count(s->node, "events", 0, &cfg->events, e) ||
        ynode_get_f64(s->node, "events-per-second", 0, &cfg->rate, e) ||
        ynode_get_i64(s->node, "seed", 0, &seed, e) ||
        srcutil_get_timestamp(s->node, "start", &cfg->t.start_ms, e) ||
        srcutil_get_duration_ns(s->node, "interval", &cfg->t.interval_ns, e) ||
        srcutil_get_duration_ns(s->node, "out-of-orderness", &ooo_ns, e)) {
        err_prefix(e, "operator '%s'", s->uid);
        goto fail;
    }
    cfg->t.ooo_ms = ooo_ns / 1000000;
    if (!(cfg->skew >= 0 && cfg->skew <= 100) || !(cfg->rate >= 0)) {
        err_set(e, MPF_EJOB, "%s: skew must be in [0, 100] and events-per-second >= 0",
                op_where(s));
        goto fail;
    }
    cfg->seed = (uint64_t)seed;
    zipf_init(&cfg->z, cfg->items, cfg->skew);
    schema_add(&s->out_schema, "user_id", FT_I64);
    schema_add(&s->out_schema, "item_id", FT_I64);
    schema_add(&s->out_schema, "category_id", FT_I64);
    schema_add(&s->out_schema, "behavior", FT_STRING);
    schema_add(&s->out_schema, "ts", FT_TIMESTAMP);
    s->cfg = cfg;
    s->bounded = cfg->events >= 0;
    return 0;
fail:
    free(cfg);
    return e->code;
}

static void bh_free(void *p) { free(p); }

static int bh_open(op_inst *oi, mpf_err *e)
{
    const bh_cfg *cfg = oi->spec->cfg;
    bh_state *st = xcalloc(1, sizeof *st);
    seqsplit_init(&st->events, oi->subtask, oi->spec->parallelism, cfg->events);
    recbuf_init(&st->rb);
    srcutil_rate_start(&st->rl, cfg->rate, oi->spec->parallelism);
    oi->st = st;
    return 0;
}

static void bh_row(const bh_cfg *cfg, int64_t r, recbuf *rb)
{
    srcrng g;
    srcrng_init(&g, cfg->seed, (uint64_t)r);
    int64_t user = 1 + srcrng_below(&g, cfg->users);
    int64_t item = zipf_sample(&cfg->z, &g);
    int64_t cat = 1 + (int64_t)(srcutil_mix64((cfg->seed ^ 0x63617465676f7279ULL) +
                                              srcutil_mix64((uint64_t)item)) %
                                (uint64_t)cfg->categories);
    /* Per mille: pv 890, cart 55, fav 30, buy 25. */
    int64_t m = srcrng_below(&g, 1000);
    const char *what = m < 890 ? "pv" : m < 945 ? "cart" : m < 975 ? "fav" : "buy";
    recbuf_begin(rb);
    recbuf_i64(rb, user);
    recbuf_i64(rb, item);
    recbuf_i64(rb, cat);
    recbuf_str(rb, what, (uint32_t)strlen(what));
    recbuf_i64(rb, srcutil_evtime_at(&cfg->t, cfg->seed, r));
    recbuf_end(rb);
}

static int bh_poll(op_inst *oi, mpf_err *e)
{
    const bh_cfg *cfg = oi->spec->cfg;
    bh_state *st = oi->st;
    size_t bytes = 0, seg = segpool_segment_size();
    int64_t budget = srcutil_rate_allowed(&st->rl, st->produced, (int64_t)(seg / 16));
    for (int64_t k = 0; k < budget && bytes < seg; k++) {
        int64_t r = seqsplit_take(&st->events);
        if (r < 0)
            return 0;
        bh_row(cfg, r, &st->rb);
        op_emit(oi, st->rb.p, st->rb.len);
        bytes += st->rb.len;
        st->produced++;
    }
    return seqsplit_more(&st->events) ? MPF_EAGAIN : 0;
}

static void bh_close(op_inst *oi)
{
    bh_state *st = oi->st;
    if (st) {
        seqsplit_fini(&st->events);
        recbuf_fini(&st->rb);
        free(st);
        oi->st = NULL;
    }
}

static void bh_describe(const op_spec *s, char *buf, size_t n)
{
    const bh_cfg *cfg = s->cfg;
    char ev[48];
    if (cfg->events >= 0)
        snprintf(ev, sizeof ev, "%lld events", (long long)cfg->events);
    else
        snprintf(ev, sizeof ev, "unbounded");
    snprintf(buf, n, "%s, %lld users, %lld items (skew %g), %lld categories, seed %llu%s", ev,
             (long long)cfg->users, (long long)cfg->items, cfg->skew,
             (long long)cfg->categories, (unsigned long long)cfg->seed,
             cfg->rate > 0 ? ", rate-limited" : "");
}

const op_kind op_src_behavior = {
    .name = "behavior",
    .role = OP_SOURCE,
    .keys = bh_keys,
    .summary = "user behaviour events (pv/cart/fav/buy) with Zipf item skew and event times",
    .configure = bh_configure,
    .free_cfg = bh_free,
    .describe = bh_describe,
    .open = bh_open,
    .poll = bh_poll,
    .close = bh_close,
    .snapshot = seqsplit_op_snapshot,
    .restore = seqsplit_op_restore,
    .restore_end = seqsplit_op_restore_end,
    .union_state = 1,
    .describe_state = seqsplit_describe,
};
