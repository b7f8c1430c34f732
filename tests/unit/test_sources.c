/* Unit tests for the generated and socket sources (ops layer): Nexmark's
 * interleaving, ids and references, event times and determinism at any
 * parallelism; the behaviour source's mix, Zipf skew and bounded
 * out-of-orderness; the generator's event-time field; the socket source
 * against an in-process listener (lines, reconnects, refusal, never
 * blocking); and configuration errors with positions. Operators run
 * directly (configure, open, poll, close) with a collector that keeps
 * every record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "conf/props.h"
#include "ops/op.h"
#include "plan/job.h"
#include "plan/plan.h"
#include "record/batch.h"
#include "record/keygroup.h"
#include "record/segpool.h"

#define NX_BASE 1436918400000LL /* 2015-07-15T00:00:00Z */

/* ------------------------------------------------------------- helpers */

typedef struct recs {
    collector c;
    uint8_t **r;
    uint32_t *len;
    size_t n, cap;
} recs;

static void recs_emit(collector *c, const uint8_t *rec, uint32_t len)
{
    recs *rs = (recs *)c;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? 2 * rs->cap : 1024;
        rs->r = realloc(rs->r, rs->cap * sizeof *rs->r);
        rs->len = realloc(rs->len, rs->cap * sizeof *rs->len);
    }
    rs->r[rs->n] = malloc(len);
    memcpy(rs->r[rs->n], rec, len);
    rs->len[rs->n++] = len;
}

static void recs_init(recs *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->c.emit = recs_emit;
}

static void recs_fini(recs *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->r[i]);
    free(rs->r);
    free(rs->len);
}

/* A source configured from a YAML map (one operator, no planner). */
typedef struct src {
    ydoc *doc;
    op_spec s;
} src;

static int src_setup(src *x, const char *yaml, int parallelism, mpf_err *e)
{
    memset(x, 0, sizeof *x);
    memset(e, 0, sizeof *e);
    x->doc = ydoc_parse("t.yaml", yaml, strlen(yaml), e);
    if (!x->doc)
        return e->code;
    const char *kind = ynode_get(x->doc->root, "source")->str;
    x->s.uid = "src";
    x->s.kind = op_kind_find(OP_SOURCE, kind);
    assert_non_null(x->s.kind);
    x->s.node = x->doc->root;
    x->s.parallelism = parallelism;
    schema_init(&x->s.out_schema);
    const char *const *k = x->s.kind->keys;
    for (size_t i = 0; i < x->doc->root->n; i++) {
        const char *key = x->doc->root->keys[i]->str;
        int ok = strcmp(key, "source") == 0;
        for (size_t j = 0; k[j] && !ok; j++)
            ok = strcmp(k[j], key) == 0;
        if (!ok)
            fail_msg("test uses unknown key '%s'", key);
    }
    return x->s.kind->configure(&x->s, NULL, e);
}

static void src_ok(src *x, const char *yaml, int parallelism)
{
    mpf_err e;
    if (src_setup(x, yaml, parallelism, &e))
        fail_msg("configure failed: %s", e.msg);
}

static void src_fini(src *x)
{
    if (x->s.cfg)
        x->s.kind->free_cfg(x->s.cfg);
    schema_fini(&x->s.out_schema);
    ydoc_destroy(x->doc);
}

/* Run every subtask of a bounded source to the end; returns the sum of
 * records_in. */
static uint64_t src_run(src *x, recs *out)
{
    uint64_t in = 0;
    for (int k = 0; k < x->s.parallelism; k++) {
        op_inst oi = {.spec = &x->s, .subtask = k, .out = &out->c};
        mpf_err e = {0};
        assert_int_equal(x->s.kind->open(&oi, &e), 0);
        int rc;
        while ((rc = x->s.kind->poll(&oi, &e)) == MPF_EAGAIN)
            ;
        if (rc != 0)
            fail_msg("poll failed: %s", e.msg);
        in += oi.records_in;
        x->s.kind->close(&oi);
    }
    return in;
}

static int64_t fi64(const schema *s, const uint8_t *r, int idx)
{
    return rd_i64(rec_field(s, r, idx));
}

static const char *fstr(const schema *s, const uint8_t *r, int idx, uint32_t *n)
{
    const uint8_t *p = rec_field(s, r, idx);
    *n = rd_u32(p);
    return (const char *)p + 4;
}

static int fidx(const schema *s, const char *name)
{
    int i = schema_find(s, name);
    if (i < 0)
        fail_msg("no field '%s'", name);
    return i;
}

static int cmp_rec(const void *a, const void *b)
{
    const uint8_t *x = *(const uint8_t *const *)a, *y = *(const uint8_t *const *)b;
    uint32_t lx = rec_size(x), ly = rec_size(y);
    int c = memcmp(x, y, lx < ly ? lx : ly);
    return c ? c : (lx > ly) - (lx < ly);
}

/* Same multiset of records. */
static void assert_same_records(recs *a, recs *b)
{
    assert_int_equal(a->n, b->n);
    qsort(a->r, a->n, sizeof *a->r, cmp_rec);
    qsort(b->r, b->n, sizeof *b->r, cmp_rec);
    for (size_t i = 0; i < a->n; i++)
        assert_int_equal(cmp_rec(&a->r[i], &b->r[i]), 0);
}

/* Nexmark's bookkeeping, computed independently of the source. */
static int64_t ref_last_person(int64_t e) { return e / 50; }
static int64_t ref_last_auction(int64_t e)
{
    int64_t off = e % 50;
    if (off == 0)
        return 3 * (e / 50) - 1;
    return 3 * (e / 50) + (off < 4 ? off - 1 : 2);
}

/* ------------------------------------------------------------- nexmark */

static void run_nexmark(const char *stream, const char *extra, int p, recs *out, src *x,
                        uint64_t *walked)
{
    char y[512];
    snprintf(y, sizeof y, "{source: nexmark, stream: %s, events: 10000, first-event-rate: 1000%s}",
             stream, extra);
    src_ok(x, y, p);
    recs_init(out);
    uint64_t in = src_run(x, out);
    if (walked)
        *walked = in;
}

static void test_nexmark_interleaving_and_ids(void **state)
{
    (void)state;
    src xp, xa, xb;
    recs p, a, b;
    uint64_t wp, wa, wb;
    /* 1000 events/s: event e has date_time base + e, so e is recoverable. */
    run_nexmark("person", "", 1, &p, &xp, &wp);
    run_nexmark("auction", "", 2, &a, &xa, &wa);
    run_nexmark("bid", "", 3, &b, &xb, &wb);
    assert_int_equal(p.n, 200);
    assert_int_equal(a.n, 600);
    assert_int_equal(b.n, 9200);
    assert_int_equal(wp, 10000);
    assert_int_equal(wa, 10000);
    assert_int_equal(wb, 10000);
    const schema *sp = &xp.s.out_schema, *sa = &xa.s.out_schema, *sb = &xb.s.out_schema;
    char buf[256];
    schema_format(sp, buf, sizeof buf);
    assert_string_equal(buf, "id:i64, name:string, email_address:string, credit_card:string, "
                             "city:string, state:string, date_time:timestamp, extra:string");
    schema_format(sa, buf, sizeof buf);
    assert_string_equal(buf, "id:i64, item_name:string, description:string, initial_bid:i64, "
                             "reserve:i64, date_time:timestamp, expires:timestamp, seller:i64, "
                             "category:i64, extra:string");
    schema_format(sb, buf, sizeof buf);
    assert_string_equal(buf, "auction:i64, bidder:i64, price:i64, channel:string, url:string, "
                             "date_time:timestamp, extra:string");

    static unsigned char seen[10000];
    memset(seen, 0, sizeof seen);
    int t_p = fidx(sp, "date_time"), t_a = fidx(sa, "date_time"), t_b = fidx(sb, "date_time");
    for (size_t i = 0; i < p.n; i++) {
        int64_t e = fi64(sp, p.r[i], t_p) - NX_BASE;
        assert_true(e >= 0 && e < 10000 && !seen[e]);
        seen[e] = 1;
        assert_int_equal(e % 50, 0);
        assert_int_equal(fi64(sp, p.r[i], 0), 1000 + e / 50);
        uint32_t n;
        const char *st = fstr(sp, p.r[i], fidx(sp, "state"), &n);
        assert_true(n == 2 && strstr("AZ CA ID OR WA WY", (char[3]){st[0], st[1], 0}));
        const char *cc = fstr(sp, p.r[i], fidx(sp, "credit_card"), &n);
        assert_int_equal(n, 19);
        assert_true(cc[4] == ' ' && cc[9] == ' ' && cc[14] == ' ');
        const char *em = fstr(sp, p.r[i], fidx(sp, "email_address"), &n);
        assert_true(n > 5 && memchr(em, '@', n) && memcmp(em + n - 4, ".com", 4) == 0);
        fstr(sp, p.r[i], fidx(sp, "extra"), &n);
        assert_true(n > 50 && n < 250); /* pads the person to ~200 bytes */
    }
    int64_t hot = 0;
    for (size_t i = 0; i < a.n; i++) {
        int64_t e = fi64(sa, a.r[i], t_a) - NX_BASE;
        assert_true(e >= 0 && e < 10000 && !seen[e]);
        seen[e] = 1;
        assert_true(e % 50 >= 1 && e % 50 <= 3);
        assert_int_equal(fi64(sa, a.r[i], 0), 1000 + 3 * (e / 50) + e % 50 - 1);
        int64_t ini = fi64(sa, a.r[i], fidx(sa, "initial_bid"));
        assert_true(ini >= 100 && ini <= 100000000);
        assert_true(fi64(sa, a.r[i], fidx(sa, "reserve")) > ini);
        assert_true(fi64(sa, a.r[i], fidx(sa, "expires")) > e + NX_BASE);
        int64_t cat = fi64(sa, a.r[i], fidx(sa, "category"));
        assert_true(cat >= 10 && cat < 15);
        int64_t seller = fi64(sa, a.r[i], fidx(sa, "seller")) - 1000;
        assert_true(seller >= 0 && seller <= ref_last_person(e) + 10);
        hot += seller == (ref_last_person(e) / 100) * 100;
    }
    assert_true(hot > 600 * 0.70 && hot < 600 * 0.85); /* 3/4 + a little */
    int64_t hot_a = 0, hot_b = 0, google = 0;
    for (size_t i = 0; i < b.n; i++) {
        int64_t e = fi64(sb, b.r[i], t_b) - NX_BASE;
        assert_true(e >= 0 && e < 10000 && !seen[e]);
        seen[e] = 1;
        assert_true(e % 50 >= 4);
        int64_t auc = fi64(sb, b.r[i], 0) - 1000, bidder = fi64(sb, b.r[i], 1) - 1000;
        assert_true(auc >= 0 && auc <= ref_last_auction(e) + 10);
        assert_true(auc >= ref_last_auction(e) - 100 || auc == (ref_last_auction(e) / 100) * 100);
        assert_true(bidder >= 0 && bidder <= ref_last_person(e) + 10);
        hot_a += auc == (ref_last_auction(e) / 100) * 100;
        hot_b += bidder == (ref_last_person(e) / 100) * 100 + 1;
        int64_t price = fi64(sb, b.r[i], 2);
        assert_true(price >= 100 && price <= 100000000);
        uint32_t n;
        const char *ch = fstr(sb, b.r[i], 3, &n);
        google += n == 6 && memcmp(ch, "Google", 6) == 0;
        const char *url = fstr(sb, b.r[i], 4, &n);
        assert_true(n > 30 && memcmp(url, "https://www.nexmark.com/", 24) == 0);
    }
    assert_true(hot_a > 9200 * 0.47 && hot_a < 9200 * 0.56);
    assert_true(hot_b > 9200 * 0.72 && hot_b < 9200 * 0.80);
    assert_true(google > 9200 * 0.10 && google < 9200 * 0.15); /* 1/2 * 1/4 */
    for (int e = 0; e < 10000; e++)
        assert_int_equal(seen[e], 1); /* every event exactly once */
    recs_fini(&p);
    recs_fini(&a);
    recs_fini(&b);
    src_fini(&xp);
    src_fini(&xa);
    src_fini(&xb);
}

static void test_nexmark_deterministic(void **state)
{
    (void)state;
    src x1, x3, x4;
    recs r1, r3, r4;
    run_nexmark("bid", ", seed: 7", 1, &r1, &x1, NULL);
    run_nexmark("bid", ", seed: 7", 3, &r3, &x3, NULL);
    run_nexmark("bid", ", seed: 8", 1, &r4, &x4, NULL);
    assert_same_records(&r1, &r3);
    size_t same = 0;
    for (size_t i = 0; i < r1.n; i++)
        same += cmp_rec(&r1.r[i], &r4.r[i]) == 0;
    assert_true(same < r1.n / 10); /* another seed, other data */
    recs_fini(&r1);
    recs_fini(&r3);
    recs_fini(&r4);
    src_fini(&x1);
    src_fini(&x3);
    src_fini(&x4);
}

static void test_nexmark_event_time(void **state)
{
    (void)state;
    /* Default first-event-rate 10000/s: 10 events per ms from the default
     * base time; with base-time and extra: false. */
    src x;
    recs r;
    src_ok(&x, "{source: nexmark, stream: person, events: 1000}", 2);
    recs_init(&r);
    src_run(&x, &r);
    assert_int_equal(r.n, 20);
    int t = fidx(&x.s.out_schema, "date_time");
    for (size_t i = 0; i < r.n; i++) {
        int64_t id = fi64(&x.s.out_schema, r.r[i], 0) - 1000;
        assert_int_equal(fi64(&x.s.out_schema, r.r[i], t), NX_BASE + id * 50 / 10);
    }
    recs_fini(&r);
    src_fini(&x);
    src_ok(&x, "{source: nexmark, stream: bid, events: 100, base-time: '2024-01-01 00:00:00', "
               "first-event-rate: 500, extra: false}", 1);
    recs_init(&r);
    src_run(&x, &r);
    assert_int_equal(r.n, 92);
    uint32_t n;
    fstr(&x.s.out_schema, r.r[0], 6, &n);
    assert_int_equal(n, 0);
    /* 2024-01-01T00:00:00Z, first bid is event 4: 4 * 2 ms. */
    assert_int_equal(fi64(&x.s.out_schema, r.r[0], 5), 1704067200000LL + 8);
    recs_fini(&r);
    src_fini(&x);
}

static void test_nexmark_unbounded_and_rate(void **state)
{
    (void)state;
    src x;
    src_ok(&x, "{source: nexmark, stream: auction, events-per-second: 2000}", 2);
    assert_int_equal(x.s.bounded, 0);
    recs r;
    recs_init(&r);
    op_inst oi = {.spec = &x.s, .subtask = 0, .out = &r.c};
    mpf_err e = {0};
    assert_int_equal(x.s.kind->open(&oi, &e), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        assert_int_equal(x.s.kind->poll(&oi, &e), MPF_EAGAIN);
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 200);
    /* 1000 events/s for this subtask over 0.2 s: ~200 walked, 6% auctions. */
    assert_true(oi.records_in >= 150 && oi.records_in <= 260);
    assert_true(oi.records_out <= oi.records_in * 3 / 50 + 3);
    x.s.kind->close(&oi);
    recs_fini(&r);
    src_fini(&x);
}

/* ------------------------------------------------------------ behavior */

static void test_behavior_mix_and_skew(void **state)
{
    (void)state;
    src x1, x4;
    recs r1, r4;
    const char *y = "{source: behavior, events: 200000, items: 1000, users: 500, categories: 20, "
                    "seed: 3, interval: 10ms, out-of-orderness: 2s, start: '2017-11-25 00:00:00'}";
    src_ok(&x1, y, 1);
    src_ok(&x4, y, 4);
    recs_init(&r1);
    recs_init(&r4);
    src_run(&x1, &r1);
    src_run(&x4, &r4);
    const schema *s = &x1.s.out_schema;
    char buf[160];
    schema_format(s, buf, sizeof buf);
    assert_string_equal(buf, "user_id:i64, item_id:i64, category_id:i64, behavior:string, "
                             "ts:timestamp");
    assert_int_equal(r1.n, 200000);
    /* r1 is in row order (one subtask): check positions before sorting. */
    static int64_t cat_of[1001];
    static int64_t item_n[1001];
    memset(cat_of, 0, sizeof cat_of);
    memset(item_n, 0, sizeof item_n);
    int64_t counts[4] = {0}, maxts = INT64_MIN, maxlag = 0;
    for (size_t i = 0; i < r1.n; i++) {
        int64_t user = fi64(s, r1.r[i], 0), item = fi64(s, r1.r[i], 1), cat = fi64(s, r1.r[i], 2);
        assert_true(user >= 1 && user <= 500);
        assert_true(item >= 1 && item <= 1000);
        assert_true(cat >= 1 && cat <= 20);
        if (cat_of[item])
            assert_int_equal(cat_of[item], cat);
        cat_of[item] = cat;
        item_n[item]++;
        uint32_t n;
        const char *b = fstr(s, r1.r[i], 3, &n);
        int k = n == 2 && !memcmp(b, "pv", 2)     ? 0
                : n == 4 && !memcmp(b, "cart", 4) ? 1
                : n == 3 && !memcmp(b, "fav", 3)  ? 2
                : n == 3 && !memcmp(b, "buy", 3)  ? 3
                                                  : -1;
        assert_true(k >= 0);
        counts[k]++;
        int64_t ts = fi64(s, r1.r[i], 4), pos = 1511568000000LL + (int64_t)i * 10;
        assert_true(ts <= pos && ts >= pos - 2000);
        if (maxts != INT64_MIN && maxts - ts > maxlag)
            maxlag = maxts - ts;
        if (ts > maxts)
            maxts = ts;
    }
    assert_true(maxlag <= 2000 && maxlag > 1500);
    double pv = counts[0] / 200000.0, cart = counts[1] / 200000.0, fav = counts[2] / 200000.0,
           buy = counts[3] / 200000.0;
    assert_true(fabs(pv - 0.89) < 0.005 && fabs(cart - 0.055) < 0.003);
    assert_true(fabs(fav - 0.03) < 0.003 && fabs(buy - 0.025) < 0.003);
    /* Zipf(1000, 1): P(k) = 1 / (k * H_1000). */
    double h = 0;
    for (int k = 1; k <= 1000; k++)
        h += 1.0 / k;
    for (int k = 1; k <= 5; k++) {
        double want = 1.0 / (k * h), got = item_n[k] / 200000.0;
        if (fabs(got - want) > 0.004)
            fail_msg("item %d share %.4f, want %.4f", k, got, want);
    }
    assert_same_records(&r1, &r4);
    recs_fini(&r1);
    recs_fini(&r4);
    src_fini(&x1);
    src_fini(&x4);
}

static void zipf_shares(const char *yaml, int nitems, double *share)
{
    src x;
    recs r;
    src_ok(&x, yaml, 1);
    recs_init(&r);
    src_run(&x, &r);
    memset(share, 0, (size_t)(nitems + 1) * sizeof *share);
    for (size_t i = 0; i < r.n; i++)
        share[fi64(&x.s.out_schema, r.r[i], 1)] += 1.0 / (double)r.n;
    recs_fini(&r);
    src_fini(&x);
}

static void test_behavior_zipf_exponents(void **state)
{
    (void)state;
    double share[1001];
    /* skew 2 over 10 items: exact probabilities. */
    zipf_shares("{source: behavior, events: 100000, items: 10, skew: 2}", 10, share);
    double z = 0;
    for (int k = 1; k <= 10; k++)
        z += 1.0 / (k * k);
    for (int k = 1; k <= 10; k++)
        if (fabs(share[k] - 1.0 / (k * k * z)) > 0.006)
            fail_msg("skew 2: item %d share %.4f, want %.4f", k, share[k], 1.0 / (k * k * z));
    /* skew 0: uniform. */
    zipf_shares("{source: behavior, events: 100000, items: 50, skew: 0}", 50, share);
    for (int k = 1; k <= 50; k++)
        assert_true(fabs(share[k] - 0.02) < 0.003);
    /* skew 0.5 over 1000 items. */
    zipf_shares("{source: behavior, events: 100000, items: 1000, skew: 0.5}", 1000, share);
    z = 0;
    for (int k = 1; k <= 1000; k++)
        z += 1.0 / sqrt(k);
    for (int k = 1; k <= 3; k++)
        assert_true(fabs(share[k] - 1.0 / (sqrt(k) * z)) < 0.002);
}

/* ----------------------------------------------------------- generator */

static void test_generator_event_time(void **state)
{
    (void)state;
    src x;
    recs r;
    src_ok(&x, "{source: generator, number-of-rows: 20000, seed: 5, fields: ["
               "{name: id, type: i64, kind: sequence}, "
               "{name: ts, type: timestamp, kind: event-time, start: '2024-01-01 00:00:00', "
               "interval: 250us, out-of-orderness: 300ms}]}",
           3);
    recs_init(&r);
    src_run(&x, &r);
    assert_int_equal(r.n, 20000);
    int64_t maxlag = 0;
    for (size_t i = 0; i < r.n; i++) {
        int64_t id = fi64(&x.s.out_schema, r.r[i], 0), ts = fi64(&x.s.out_schema, r.r[i], 1);
        int64_t lag = 1704067200000LL + id / 4 - ts;
        assert_true(lag >= 0 && lag <= 300);
        if (lag > maxlag)
            maxlag = lag;
    }
    assert_true(maxlag >= 290);
    recs_fini(&r);
    src_fini(&x);
    /* No jitter: exactly start + r * interval. */
    src_ok(&x, "{source: generator, number-of-rows: 100, fields: ["
               "{name: ts, type: timestamp, kind: event-time, start: 1000, interval: 2s}]}",
           1);
    recs_init(&r);
    src_run(&x, &r);
    for (size_t i = 0; i < r.n; i++)
        assert_int_equal(fi64(&x.s.out_schema, r.r[i], 0), 1000 + 2000 * (int64_t)i);
    recs_fini(&r);
    src_fini(&x);
}

/* -------------------------------------------------------------- errors */

static void expect_config_error(const char *yaml, int p, const char *pattern)
{
    src x;
    mpf_err e;
    int rc = src_setup(&x, yaml, p, &e);
    if (rc == 0)
        fail_msg("accepted: %s", yaml);
    if (!strstr(e.msg, pattern))
        fail_msg("error '%s' lacks '%s'", e.msg, pattern);
    src_fini(&x);
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_config_error("{source: nexmark, stream: bids}", 1,
                        "t.yaml:1:27: stream must be person, auction or bid, got 'bids'");
    expect_config_error("{source: nexmark}", 1, "missing required key 'stream'");
    expect_config_error("{source: nexmark, stream: bid, events: -5}", 1,
                        "t.yaml:1:40: key 'events' must be >= 0");
    expect_config_error("{source: nexmark, stream: bid, first-event-rate: 0}", 1,
                        "first-event-rate must be > 0");
    expect_config_error("{source: nexmark, stream: bid, base-time: yesterday}", 1,
                        "key 'base-time': expected a timestamp");
    expect_config_error("{source: behavior, items: 0}", 1, "key 'items' must be >= 1");
    expect_config_error("{source: behavior, interval: fast}", 1,
                        "key 'interval': expected a duration");
    expect_config_error("{source: behavior, skew: -1}", 1, "skew must be in [0, 100]");
    expect_config_error("{source: generator, fields: [{name: t, type: i64, kind: event-time}]}", 1,
                        "kind event-time needs type timestamp");
    expect_config_error("{source: generator, fields: [{name: t, type: timestamp, kind: "
                        "event-time, out-of-orderness: soon}]}",
                        1, "key 'out-of-orderness': expected a duration");
    expect_config_error("{source: socket}", 1, "missing required key 'port'");
    expect_config_error("{source: socket, port: 70000}", 1, "port must be in [1, 65535]");
    expect_config_error("{source: socket, port: 9999, max-retry: -2}", 1,
                        "key 'max-retry' must be >= -1");
    expect_config_error("{source: socket, port: 9999}", 2,
                        "operator 'src': source socket reads one connection and needs "
                        "parallelism 1, got 2");
}

/* The planner reports the socket's parallelism with the uid and position. */
static void test_socket_parallelism_in_plan(void **state)
{
    (void)state;
    const char *text = "name: s\noperators:\n"
                       "  - {uid: lines, source: socket, port: 9999, parallelism: 2}\n"
                       "  - {uid: out, sink: stdout}\n";
    job *j = NULL;
    mpf_err e = {0};
    assert_int_equal(job_parse("t.yaml", text, strlen(text), NULL, 0, &j, &e), 0);
    conf *c = conf_new();
    plan p;
    int rc = plan_build(&p, j, c, 2, 0, &e);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(e.msg, "t.yaml:3:5: operator 'lines'"));
    assert_non_null(strstr(e.msg, "needs parallelism 1"));
    conf_destroy(c);
    /* Without a parallelism it gets 1 and plans. */
    const char *ok = "name: s\noperators:\n"
                     "  - {uid: lines, source: socket, port: 9999}\n"
                     "  - {uid: out, sink: stdout}\n";
    j = NULL;
    assert_int_equal(job_parse("t.yaml", ok, strlen(ok), NULL, 0, &j, &e), 0);
    c = conf_new();
    if (plan_build(&p, j, c, 2, 0, &e))
        fail_msg("plan failed: %s", e.msg);
    plan_fini(&p);
    conf_destroy(c);
}

/* -------------------------------------------------------------- socket */

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Poll the source (each call must return at once) until the listener
 * has a connection; returns it. */
static int accept_while_polling(src *x, op_inst *oi, int lfd)
{
    mpf_err e = {0};
    int64_t t0 = mono_ms();
    for (;;) {
        int64_t a = mono_ms();
        int rc = x->s.kind->poll(oi, &e);
        assert_true(mono_ms() - a < 100);
        if (rc != MPF_EAGAIN)
            fail_msg("poll returned %d while connecting: %s", rc, e.msg);
        int c = accept(lfd, NULL, NULL);
        if (c >= 0)
            return c;
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        assert_true(mono_ms() - t0 < 5000);
        usleep(1000);
    }
}

/* Poll until rc is not MPF_EAGAIN or `until` records arrived. */
static int poll_until(src *x, op_inst *oi, recs *r, size_t until, mpf_err *e)
{
    int64_t t0 = mono_ms();
    for (;;) {
        int64_t a = mono_ms();
        int rc = x->s.kind->poll(oi, e);
        assert_true(mono_ms() - a < 100);
        if (rc != MPF_EAGAIN || (until && r->n >= until))
            return rc;
        if (mono_ms() - t0 > 5000)
            fail_msg("source made no progress");
        usleep(1000);
    }
}

static void assert_line(recs *r, size_t i, const char *want)
{
    assert_true(i < r->n);
    uint32_t n = rd_u32(r->r[i] + 4);
    if (n != strlen(want) || memcmp(r->r[i] + 8, want, n) != 0)
        fail_msg("line %zu is '%.*s', want '%s'", i, (int)n, (const char *)r->r[i] + 8, want);
}

/* A file source position blob: [u32 version][u32 splits][u64 fingerprint]
 * [u32 split][i64 offset][i64 line]. */
static void file_pos_blob(uint8_t b[36], uint32_t version, uint64_t fp, int64_t next)
{
    uint32_t nparts = 1, cur = 0;
    int64_t line = next >= 0 ? 2 : 0;
    memcpy(b, &version, 4);
    memcpy(b + 4, &nparts, 4);
    memcpy(b + 8, &fp, 8);
    memcpy(b + 16, &cur, 4);
    memcpy(b + 20, &next, 8);
    memcpy(b + 28, &line, 8);
}

/* Issue 9: checkpoints written before the file source hashed realpaths
 * (version 1: the names as spelled) still restore when the path is spelled
 * as then; a version 1 fingerprint of other files is refused. */
static void test_file_restore_version1(void **state)
{
    (void)state;
    const char *name = "test_sources_v1.txt";
    FILE *f = fopen(name, "w");
    assert_non_null(f);
    fputs("alpha\nbeta\ngamma\n", f);
    fclose(f);
    src x;
    src_ok(&x, "{source: file, path: test_sources_v1.txt}", 1);
    recs out;
    recs_init(&out);
    op_inst oi = {.spec = &x.s, .subtask = 0, .out = &out.c};
    mpf_err e = {0};
    assert_int_equal(x.s.kind->open(&oi, &e), 0);
    /* the version 1 fingerprint: name, NUL, start and end of the split */
    uint8_t fpb[64];
    size_t nl = strlen(name) + 1;
    int64_t start = 0, end = 17;
    memcpy(fpb, name, nl);
    memcpy(fpb + nl, &start, 8);
    memcpy(fpb + nl + 8, &end, 8);
    uint8_t b[36];
    file_pos_blob(b, 1, key_hash(fpb, (uint32_t)(nl + 16)) + 1, 6);
    snap_blob sb = {.kind = SNAP_OPERATOR, .key_group = -1, .subtask = 0, .data = b, .len = 36};
    assert_int_equal(x.s.kind->restore(&oi, &sb, &e), MPF_EPARSE);
    assert_non_null(strstr(e.msg, "the input files changed"));
    file_pos_blob(b, 1, key_hash(fpb, (uint32_t)(nl + 16)), 6); /* resume at "beta" */
    assert_int_equal(x.s.kind->restore(&oi, &sb, &e), 0);
    int rc;
    while ((rc = x.s.kind->poll(&oi, &e)) == MPF_EAGAIN)
        ;
    assert_int_equal(rc, 0);
    assert_int_equal(out.n, 2);
    x.s.kind->close(&oi);
    recs_fini(&out);
    src_fini(&x);
    unlink(name);
}

static void test_socket_lines_and_eof(void **state)
{
    (void)state;
    int port, lfd = listen_any(&port);
    char y[256];
    snprintf(y, sizeof y, "{source: socket, host: 127.0.0.1, port: %d}", port);
    src x;
    src_ok(&x, y, 1);
    assert_int_equal(x.s.bounded, 0);
    recs r;
    recs_init(&r);
    op_inst oi = {.spec = &x.s, .subtask = 0, .out = &r.c};
    mpf_err e = {0};
    assert_int_equal(x.s.kind->open(&oi, &e), 0);
    int c = accept_while_polling(&x, &oi, lfd);
    /* Nothing sent yet: poll returns at once with nothing. */
    assert_int_equal(x.s.kind->poll(&oi, &e), MPF_EAGAIN);
    assert_int_equal(r.n, 0);
    const char *part1 = "alpha\nbeta\r\nga", *part2 = "mma\n\nlast";
    assert_true(write(c, part1, strlen(part1)) == (ssize_t)strlen(part1));
    poll_until(&x, &oi, &r, 2, &e);
    assert_int_equal(r.n, 2);
    assert_true(write(c, part2, strlen(part2)) == (ssize_t)strlen(part2));
    poll_until(&x, &oi, &r, 4, &e);
    close(c);
    /* max-retry 0: the peer closing ends the stream; "last" is flushed. */
    assert_int_equal(poll_until(&x, &oi, &r, 0, &e), 0);
    assert_int_equal(r.n, 5);
    assert_line(&r, 0, "alpha");
    assert_line(&r, 1, "beta");
    assert_line(&r, 2, "gamma");
    assert_line(&r, 3, "");
    assert_line(&r, 4, "last");
    x.s.kind->close(&oi);
    close(lfd);
    recs_fini(&r);
    src_fini(&x);
}

static void test_socket_reconnect_and_delimiter(void **state)
{
    (void)state;
    int port, lfd = listen_any(&port);
    char y[256];
    snprintf(y, sizeof y, "{source: socket, host: localhost, port: %d, delimiter: '|', "
                          "max-retry: 2, reconnect-interval: 20ms}", port);
    src x;
    src_ok(&x, y, 1);
    recs r;
    recs_init(&r);
    op_inst oi = {.spec = &x.s, .subtask = 0, .out = &r.c};
    mpf_err e = {0};
    assert_int_equal(x.s.kind->open(&oi, &e), 0);
    int c = accept_while_polling(&x, &oi, lfd);
    assert_true(write(c, "a|b|", 4) == 4);
    poll_until(&x, &oi, &r, 2, &e);
    close(c);
    /* Lost: the source waits reconnect-interval, then connects again. */
    int64_t t0 = mono_ms();
    c = accept_while_polling(&x, &oi, lfd);
    assert_true(mono_ms() - t0 >= 15);
    assert_true(write(c, "c|d", 3) == 3);
    poll_until(&x, &oi, &r, 3, &e);
    close(c);
    close(lfd); /* the third attempt is refused ... */
    /* ... but there are no retries left: the stream ends cleanly. */
    assert_int_equal(poll_until(&x, &oi, &r, 0, &e), 0);
    assert_int_equal(r.n, 4);
    assert_line(&r, 0, "a");
    assert_line(&r, 1, "b");
    assert_line(&r, 2, "c");
    assert_line(&r, 3, "d");
    x.s.kind->close(&oi);
    recs_fini(&r);
    src_fini(&x);
}

static void test_socket_refused(void **state)
{
    (void)state;
    int port, lfd = listen_any(&port);
    close(lfd); /* nothing listens there now */
    char y[256];
    snprintf(y, sizeof y, "{source: socket, port: %d, max-retry: 3, reconnect-interval: 10ms}",
             port);
    src x;
    src_ok(&x, y, 1);
    recs r;
    recs_init(&r);
    op_inst oi = {.spec = &x.s, .subtask = 0, .out = &r.c};
    mpf_err e = {0};
    assert_int_equal(x.s.kind->open(&oi, &e), 0);
    int64_t t0 = mono_ms();
    int rc = poll_until(&x, &oi, &r, 0, &e);
    assert_int_equal(rc, MPF_EIO);
    assert_true(mono_ms() - t0 >= 25); /* three waits of 10 ms */
    assert_non_null(strstr(e.msg, "operator 'src': cannot connect to localhost:"));
    assert_non_null(strstr(e.msg, "after 3 retries"));
    x.s.kind->close(&oi);
    recs_fini(&r);
    src_fini(&x);
}

/* A server that comes up late is found when retrying forever. */
static void test_socket_retry_forever(void **state)
{
    (void)state;
    int port, lfd = listen_any(&port);
    close(lfd);
    char y[256];
    snprintf(y, sizeof y, "{source: socket, host: 127.0.0.1, port: %d, max-retry: -1, "
                          "reconnect-interval: 5ms}", port);
    src x;
    src_ok(&x, y, 1);
    recs r;
    recs_init(&r);
    op_inst oi = {.spec = &x.s, .subtask = 0, .out = &r.c};
    mpf_err e = {0};
    assert_int_equal(x.s.kind->open(&oi, &e), 0);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(x.s.kind->poll(&oi, &e), MPF_EAGAIN);
        usleep(2000);
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        skip(); /* someone took the port meanwhile */
    }
    listen(fd, 4);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    int c = accept_while_polling(&x, &oi, fd);
    assert_true(write(c, "late\n", 5) == 5);
    poll_until(&x, &oi, &r, 1, &e);
    assert_line(&r, 0, "late");
    close(c);
    close(fd);
    x.s.kind->close(&oi);
    recs_fini(&r);
    src_fini(&x);
}

int main(void)
{
    segpool_init(32 * 1024);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nexmark_interleaving_and_ids),
        cmocka_unit_test(test_nexmark_deterministic),
        cmocka_unit_test(test_nexmark_event_time),
        cmocka_unit_test(test_nexmark_unbounded_and_rate),
        cmocka_unit_test(test_behavior_mix_and_skew),
        cmocka_unit_test(test_behavior_zipf_exponents),
        cmocka_unit_test(test_generator_event_time),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_socket_parallelism_in_plan),
        cmocka_unit_test(test_socket_lines_and_eof),
        cmocka_unit_test(test_socket_reconnect_and_delimiter),
        cmocka_unit_test(test_socket_refused),
        cmocka_unit_test(test_socket_retry_forever),
        cmocka_unit_test(test_file_restore_version1),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    segpool_fini();
    return rc;
}
