/* Unit tests for the join operators (operators/join/join*.c), driven directly
 * through their op_kind functions with hand-made batches and watermarks,
 * so event-time edge cases are deterministic: window firing at end - 1,
 * late records (counted, and partly late sliding records), session
 * merging that bridges sessions, output in several on_watermark calls
 * (MPF_EAGAIN), interval bounds (inclusive, exclusive, negative), the
 * regular join with and without retention, and the output schemas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "conf/props.h"
#include "ops/op.h"
#include "plan/job.h"
#include "plan/plan.h"
#include "capture.h"

/* ------------------------------------------------------------ harness */

/* The captured rows, sorted, joined by '\n'. */
static char *cap_text(capture *cp)
{
    if (cp->n)
        qsort(cp->rows, cp->n, sizeof *cp->rows, cmp_str);
    size_t len = 1;
    for (size_t i = 0; i < cp->n; i++)
        len += strlen(cp->rows[i]) + 1;
    char *s = calloc(1, len);
    for (size_t i = 0; i < cp->n; i++) {
        strcat(s, cp->rows[i]);
        strcat(s, "\n");
    }
    return s;
}

#define EXPECT_ROWS(cp, text)                                                               \
    do {                                                                                    \
        char *got_ = cap_text(cp);                                                          \
        if (strcmp(got_, text) != 0)                                                        \
            fail_msg("rows differ\n--- expected\n%s--- got\n%s", (const char *)(text), got_);  \
        free(got_);                                                                         \
        cap_clear(cp);                                                                      \
    } while (0)

typedef struct harness {
    conf *c;
    plan p;
    op_spec *spec;
    op_inst oi;
    capture cap;
} harness;

/* Plan a job with sources L (k:string, ts:timestamp, v:i64) and R (k,
 * ts, w:i64), both with event time unless no_time, then the join given
 * as a YAML flow map with uid j; open one instance of j. */
static void h_open(harness *h, const char *join_yaml, int int_keys)
{
    memset(h, 0, sizeof *h);
    char text[4096];
    const char *kt = int_keys ? "i64, kind: random, min: 1, max: 5"
                              : "string, kind: random, cardinality: 3";
    snprintf(text, sizeof text,
             "name: t\n"
             "operators:\n"
             "  - {uid: L, source: generator, number-of-rows: 1, fields: [{name: k, type: %s},"
             " {name: ts, type: timestamp, kind: event-time}, {name: v, type: i64}],"
             " watermark: {field: ts}}\n"
             "  - {uid: R, source: generator, number-of-rows: 1, fields: [{name: k, type: %s},"
             " {name: ts, type: timestamp, kind: event-time}, {name: w, type: i64}],"
             " watermark: {field: ts}}\n"
             "  - %s\n"
             "  - {uid: out, sink: blackhole}\n",
             kt, kt, join_yaml);
    job *j = NULL;
    mpf_err e = {0};
    if (job_parse("t.yaml", text, strlen(text), NULL, 0, &j, &e))
        fail_msg("job_parse: %s", e.msg);
    h->c = conf_new();
    conf_set_kv(h->c, "execution.runtime-mode=STREAMING", &e);
    if (plan_build(&h->p, j, h->c, 1, 1, &e))
        fail_msg("plan_build: %s", e.msg);
    for (int i = 0; i < h->p.job->nops; i++)
        if (strcmp(h->p.job->ops[i].uid, "j") == 0)
            h->spec = &h->p.job->ops[i];
    assert_non_null(h->spec);
    h->cap.c.emit = cap_emit;
    h->cap.sch = &h->spec->out_schema;
    h->oi.spec = h->spec;
    h->oi.conf = h->c;
    h->oi.out = &h->cap.c;
    h->oi.watermark = WM_MIN;
    h->oi.proc_timer = INT64_MAX;
    if (h->spec->kind->open(&h->oi, &e))
        fail_msg("open: %s", e.msg);
}

static void h_close(harness *h)
{
    h->spec->kind->close(&h->oi);
    cap_clear(&h->cap);
    free(h->cap.rows);
    plan_fini(&h->p);
    conf_destroy(h->c);
}

/* Plan errors: the message of a join that must not plan. */
static void plan_error(const char *join_yaml, const char *want)
{
    char text[4096];
    snprintf(text, sizeof text,
             "name: t\n"
             "operators:\n"
             "  - {uid: L, source: generator, fields: [{name: k, type: string},"
             " {name: ts, type: timestamp, kind: event-time}, {name: v, type: i64}],"
             " watermark: {field: ts}}\n"
             "  - {uid: R, source: generator, fields: [{name: k, type: string},"
             " {name: ts, type: timestamp, kind: event-time}, {name: w, type: i64}]}\n"
             "  - %s\n"
             "  - {uid: out, sink: blackhole}\n",
             join_yaml);
    job *j = NULL;
    mpf_err e = {0};
    int rc = job_parse("t.yaml", text, strlen(text), NULL, 0, &j, &e);
    if (!rc) {
        conf *c = conf_new();
        plan p;
        rc = plan_build(&p, j, c, 1, 1, &e);
        if (!rc)
            plan_fini(&p);
        conf_destroy(c);
    }
    if (!rc)
        fail_msg("planned a bad join: %s", join_yaml);
    if (!strstr(e.msg, want) || !strstr(e.msg, "t.yaml:"))
        fail_msg("error '%s' lacks '%s' or its position", e.msg, want);
}

/* Feed one record (k, ts, v) on input (0 left, 1 right). */
static void feed(harness *h, int input, const char *k, int64_t ts, int64_t v)
{
    static uint8_t seg[1 << 16];
    batch_reset(seg, BATCH_DATA);
    recbuf rb;
    recbuf_init(&rb);
    recbuf_begin(&rb);
    if (h->spec->in_schema[input]->f[0].type == FT_STRING)
        recbuf_str(&rb, k, (uint32_t)strlen(k));
    else
        recbuf_i64(&rb, atoll(k));
    recbuf_i64(&rb, ts);
    recbuf_i64(&rb, v);
    recbuf_end(&rb);
    assert_int_equal(batch_append(seg, sizeof seg, rb.p, rb.len), 0);
    recbuf_fini(&rb);
    mpf_err e = {0};
    h->oi.records_in++;
    if (h->spec->kind->process(&h->oi, input, seg, &e))
        fail_msg("process: %s", e.msg);
}

/* Advance event time to wm as the task does; returns the number of
 * on_watermark calls it took. */
static int advance(harness *h, int64_t wm)
{
    h->oi.watermark = wm;
    if (!h->spec->kind->on_watermark)
        return 0;
    int calls = 0, rc;
    mpf_err e = {0};
    do {
        rc = h->spec->kind->on_watermark(&h->oi, wm, &e);
        calls++;
        assert_true(rc == 0 || rc == MPF_EAGAIN);
    } while (rc == MPF_EAGAIN);
    return calls;
}

static const char *schema_text(const schema *s)
{
    static char buf[1024];
    schema_format(s, buf, sizeof buf);
    return buf;
}

/* Timestamps print as "1970-01-01 00:00:00.mmm"; T(x) is that for x ms. */
#define T(ms) "1970-01-01 00:00:00." ms

/* ------------------------------------------------------------ window join */

static void test_window_tumbling(void **state)
{
    (void)state;
    harness h;
    h_open(&h, "{uid: j, type: window-join, inputs: [L, R], key-by: [k, k], window: {type: "
               "tumbling, size: 10ms}}", 0);
    assert_string_equal(schema_text(&h.spec->out_schema),
                        "k:string, ts:timestamp, v:i64, r_k:string, r_ts:timestamp, w:i64, "
                        "window_start:timestamp, window_end:timestamp, window_time:timestamp");
    assert_int_equal(h.spec->out_schema.rowtime, 8);
    feed(&h, 0, "a", 1, 1);
    feed(&h, 1, "a", 5, 100);
    feed(&h, 1, "b", 3, 200);
    feed(&h, 0, "b", 12, 2);
    feed(&h, 1, "a", 9, 101);
    advance(&h, 8);
    EXPECT_ROWS(&h.cap, "");
    advance(&h, 9); /* window [0, 10) fires at 9 */
    EXPECT_ROWS(&h.cap, "a," T("001") ",1,a," T("005") ",100," T("000") "," T("010") "," T("009") "\n"
                        "a," T("001") ",1,a," T("009") ",101," T("000") "," T("010") "," T("009") "\n");
    /* ts 9 belongs to the fired window: late. ts 10 is not. */
    feed(&h, 0, "a", 9, 3);
    assert_int_equal(h.oi.late_dropped, 1);
    feed(&h, 0, "a", 10, 4);
    feed(&h, 1, "a", 19, 102);
    feed(&h, 1, "b", 10, 201);
    assert_int_equal(h.oi.late_dropped, 1);
    assert_true(h.oi.state_bytes > 0);
    advance(&h, WM_MAX);
    EXPECT_ROWS(&h.cap, "a," T("010") ",4,a," T("019") ",102," T("010") "," T("020") "," T("019") "\n"
                        "b," T("012") ",2,b," T("010") ",201," T("010") "," T("020") "," T("019") "\n");
    h_close(&h);
}

static void test_window_sliding(void **state)
{
    (void)state;
    harness h;
    h_open(&h, "{uid: j, type: window-join, inputs: [L, R], key-by: [k, k], window: {type: "
               "sliding, size: 10ms, slide: 5ms}}", 0);
    feed(&h, 0, "a", 7, 1); /* windows [0,10) and [5,15) */
    feed(&h, 1, "a", 8, 2);
    advance(&h, 9);
    EXPECT_ROWS(&h.cap, "a," T("007") ",1,a," T("008") ",2," T("000") "," T("010") "," T("009") "\n");
    /* ts 6: [0,10) has fired, [5,15) has not: joined there, not late. */
    feed(&h, 1, "a", 6, 3);
    assert_int_equal(h.oi.late_dropped, 0);
    advance(&h, 14);
    EXPECT_ROWS(&h.cap, "a," T("007") ",1,a," T("006") ",3," T("005") "," T("015") "," T("014") "\n"
                        "a," T("007") ",1,a," T("008") ",2," T("005") "," T("015") "," T("014") "\n");
    feed(&h, 1, "a", 4, 4); /* [-5,5) and [0,10): both fired */
    assert_int_equal(h.oi.late_dropped, 1);
    advance(&h, WM_MAX);
    EXPECT_ROWS(&h.cap, "");
    h_close(&h);
}

static void test_window_offset(void **state)
{
    (void)state;
    harness h;
    h_open(&h, "{uid: j, type: window-join, inputs: [L, R], key-by: [k, k], window: {type: "
               "tumbling, size: 10ms, offset: 3ms}}", 0);
    feed(&h, 0, "a", 12, 1); /* [3, 13) */
    feed(&h, 1, "a", 3, 2);
    feed(&h, 1, "a", 13, 3); /* [13, 23) */
    advance(&h, WM_MAX);
    EXPECT_ROWS(&h.cap, "a," T("012") ",1,a," T("003") ",2," T("003") "," T("013") "," T("012") "\n");
    h_close(&h);
}

static void test_window_session(void **state)
{
    (void)state;
    harness h;
    h_open(&h, "{uid: j, type: window-join, inputs: [L, R], key-by: [k, k], window: {type: "
               "session, gap: 10ms}}", 0);
    feed(&h, 0, "a", 0, 1);   /* [0,10) */
    feed(&h, 1, "a", 25, 2);  /* [25,35) */
    feed(&h, 0, "a", 12, 3);  /* [12,22) */
    feed(&h, 1, "b", 5, 9);   /* another key: [5,15) */
    advance(&h, 8);
    EXPECT_ROWS(&h.cap, "");
    feed(&h, 1, "a", 10, 4);  /* [10,20) bridges [0,10) and [12,22): [0,22) */
    feed(&h, 1, "a", 22, 5);  /* [22,32) touches [0,22) and [25,35): [0,35) */
    advance(&h, 21);
    advance(&h, 33);
    EXPECT_ROWS(&h.cap, "");
    advance(&h, 34);
    const char *b = "," T("000") ",1970-01-01 00:00:00.035,1970-01-01 00:00:00.034\n";
    char want[2048];
    snprintf(want, sizeof want,
             "a," T("000") ",1,a," T("010") ",4%s"
             "a," T("000") ",1,a," T("022") ",5%s"
             "a," T("000") ",1,a," T("025") ",2%s"
             "a," T("012") ",3,a," T("010") ",4%s"
             "a," T("012") ",3,a," T("022") ",5%s"
             "a," T("012") ",3,a," T("025") ",2%s",
             b, b, b, b, b, b);
    EXPECT_ROWS(&h.cap, want);
    /* [20,30) ends before the watermark and meets no open session: late. */
    feed(&h, 0, "a", 20, 6);
    assert_int_equal(h.oi.late_dropped, 1);
    feed(&h, 0, "a", 40, 7);
    feed(&h, 1, "a", 45, 8);
    advance(&h, WM_MAX);
    EXPECT_ROWS(&h.cap, "a," T("040") ",7,a," T("045") ",8," T("040") "," T("055") "," T("054") "\n");
    h_close(&h);
}

/* A window with more pairs than one call emits: several calls, each pair
 * once. */
static void test_window_many_pairs(void **state)
{
    (void)state;
    harness h;
    h_open(&h, "{uid: j, type: window-join, inputs: [L, R], key-by: [k, k], window: {type: "
               "tumbling, size: 1s}}", 0);
    for (int i = 0; i < 150; i++) {
        feed(&h, 0, "a", i, i);
        feed(&h, 1, "a", 999 - i, 1000 + i);
        feed(&h, 1, "b", 500, i);
    }
    feed(&h, 0, "b", 700, 1);
    int calls = advance(&h, WM_MAX);
    assert_true(calls >= 3);
    assert_int_equal(h.cap.n, 150 * 150 + 150);
    qsort(h.cap.rows, h.cap.n, sizeof *h.cap.rows, cmp_str);
    for (size_t i = 1; i < h.cap.n; i++)
        if (strcmp(h.cap.rows[i - 1], h.cap.rows[i]) == 0)
            fail_msg("pair emitted twice: %s", h.cap.rows[i]);
    h_close(&h);
}

/* ------------------------------------------------------------ interval join */

static void test_interval(void **state)
{
    (void)state;
    harness h;
    h_open(&h, "{uid: j, type: interval-join, inputs: [L, R], key-by: [k, k], lower-bound: -2ms,"
               " upper-bound: 1ms}", 0);
    assert_string_equal(schema_text(&h.spec->out_schema),
                        "k:string, ts:timestamp, v:i64, r_k:string, r_ts:timestamp, w:i64, "
                        "join_time:timestamp");
    assert_int_equal(h.spec->out_schema.rowtime, 6);
    feed(&h, 0, "a", 10, 1); /* right in [8, 11] */
    feed(&h, 1, "a", 7, 2);
    feed(&h, 1, "a", 8, 3);
    feed(&h, 1, "a", 11, 4);
    feed(&h, 1, "a", 12, 5);
    feed(&h, 1, "b", 10, 6);
    EXPECT_ROWS(&h.cap, "a," T("010") ",1,a," T("008") ",3," T("010") "\n"
                        "a," T("010") ",1,a," T("011") ",4," T("011") "\n");
    /* Left after right: l.ts 13 meets r.ts in [11, 14]. */
    feed(&h, 0, "a", 13, 7);
    EXPECT_ROWS(&h.cap, "a," T("013") ",7,a," T("011") ",4," T("013") "\n"
                        "a," T("013") ",7,a," T("012") ",5," T("013") "\n");
    advance(&h, 20);
    feed(&h, 0, "a", 20, 8); /* at the watermark: late */
    feed(&h, 1, "a", 19, 9);
    assert_int_equal(h.oi.late_dropped, 2);
    feed(&h, 0, "a", 25, 10);
    feed(&h, 1, "a", 23, 11);
    feed(&h, 1, "a", 26, 12);
    advance(&h, 1000);
    feed(&h, 1, "a", 1001, 13); /* everything older was cleaned up */
    EXPECT_ROWS(&h.cap, "a," T("025") ",10,a," T("023") ",11," T("025") "\n"
                        "a," T("025") ",10,a," T("026") ",12," T("026") "\n");
    advance(&h, WM_MAX);
    h_close(&h);
}

static void test_interval_exclusive(void **state)
{
    (void)state;
    harness h;
    h_open(&h, "{uid: j, type: interval-join, inputs: [L, R], key-by: [k, k], lower-bound: -2ms,"
               " upper-bound: 2ms, lower-exclusive: true, upper-exclusive: true}", 0);
    for (int t = 7; t <= 13; t++)
        feed(&h, 1, "a", t, t);
    feed(&h, 0, "a", 10, 0); /* (8, 12): 9, 10, 11 */
    EXPECT_ROWS(&h.cap, "a," T("010") ",0,a," T("009") ",9," T("010") "\n"
                        "a," T("010") ",0,a," T("010") ",10," T("010") "\n"
                        "a," T("010") ",0,a," T("011") ",11," T("011") "\n");
    h_close(&h);
}

/* Both bounds negative: right strictly before left; i64 keys. */
static void test_interval_before(void **state)
{
    (void)state;
    harness h;
    h_open(&h, "{uid: j, type: interval-join, inputs: [L, R], key-by: [k, k], lower-bound: "
               "-5ms, upper-bound: -1ms, right-prefix: right_}", 1);
    assert_string_equal(schema_text(&h.spec->out_schema),
                        "k:i64, ts:timestamp, v:i64, right_k:i64, right_ts:timestamp, w:i64, "
                        "join_time:timestamp");
    feed(&h, 1, "3", 100, 1);
    feed(&h, 1, "4", 100, 2);
    advance(&h, 100);
    feed(&h, 0, "3", 101, 3);
    feed(&h, 0, "3", 106, 4); /* r.ts 100 must be in [101, 105]: no */
    advance(&h, 104);         /* right 100 is useful while wm < 100 + 5 */
    feed(&h, 0, "3", 105, 5);
    EXPECT_ROWS(&h.cap, "3," T("101") ",3,3," T("100") ",1," T("101") "\n"
                        "3," T("105") ",5,3," T("100") ",1," T("105") "\n");
    advance(&h, WM_MAX);
    h_close(&h);
}

/* ------------------------------------------------------------ regular join */

static void test_regular(void **state)
{
    (void)state;
    harness h;
    h_open(&h, "{uid: j, type: join, inputs: [L, R], key-by: [k, k]}", 0);
    assert_string_equal(schema_text(&h.spec->out_schema),
                        "k:string, ts:timestamp, v:i64, r_k:string, r_ts:timestamp, w:i64");
    assert_int_equal(h.spec->out_schema.rowtime, -1);
    feed(&h, 0, "a", 1, 1);
    feed(&h, 0, "a", 2, 2);
    EXPECT_ROWS(&h.cap, "");
    feed(&h, 1, "a", 3, 3);
    EXPECT_ROWS(&h.cap, "a," T("001") ",1,a," T("003") ",3\n"
                        "a," T("002") ",2,a," T("003") ",3\n");
    feed(&h, 1, "b", 4, 4);
    feed(&h, 0, "a", 5, 5);
    EXPECT_ROWS(&h.cap, "a," T("005") ",5,a," T("003") ",3\n");
    advance(&h, WM_MAX); /* no effect on a regular join */
    feed(&h, 0, "b", 6, 6);
    EXPECT_ROWS(&h.cap, "b," T("006") ",6,b," T("004") ",4\n");
    h_close(&h);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_regular_retention(void **state)
{
    (void)state;
    harness h;
    h_open(&h, "{uid: j, type: join, inputs: [L, R], key-by: [k, k], retention: 300ms}", 0);
    assert_int_equal(h.oi.proc_timer, INT64_MAX);
    feed(&h, 0, "a", 1, 1);
    assert_true(h.oi.proc_timer < INT64_MAX);
    feed(&h, 1, "a", 2, 2);
    EXPECT_ROWS(&h.cap, "a," T("001") ",1,a," T("002") ",2\n");
    sleep_ms(450);
    /* Both records expired: a new one meets neither. */
    feed(&h, 1, "a", 3, 3);
    EXPECT_ROWS(&h.cap, "");
    /* The processing-time timers clean the state up. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    mpf_err e = {0};
    assert_true(h.oi.proc_timer <= now);
    assert_int_equal(h.spec->kind->on_proc_time(&h.oi, now, &e), 0);
    assert_true(h.oi.proc_timer > now); /* the record of ts 3 is still kept */
    feed(&h, 0, "a", 4, 4);
    EXPECT_ROWS(&h.cap, "a," T("004") ",4,a," T("003") ",3\n");
    h_close(&h);
}

/* ------------------------------------------------------------ plan errors */

static void test_plan_errors(void **state)
{
    (void)state;
    plan_error("{uid: j, type: window-join, inputs: [L, R], key-by: [k, k], window: {type: "
               "tumbling, size: 1s}}", "right input 'R' has none");
    plan_error("{uid: j, type: interval-join, inputs: [L, L], key-by: [k, k], lower-bound: 2s, "
               "upper-bound: 1s}", "lower-bound (2000 ms) is above upper-bound (1000 ms)");
    plan_error("{uid: j, type: join, inputs: [L, L]}", "needs key-by: [left_key, right_key]");
    plan_error("{uid: j, type: join, inputs: [L, L], key-by: [k, k], retention: 0ms}",
               "retention must be at least 1ms");
    plan_error("{uid: j, type: window-join, inputs: [L, L], key-by: [k, k], window: {type: "
               "tumbling, size: 1s, slide: 1s}}", "a tumbling window takes no slide");
    plan_error("{uid: j, type: window-join, inputs: [L, L], key-by: [k, k], window: {type: "
               "session, gap: 1s, size: 2s}}", "a session window takes no size");
    plan_error("{uid: j, type: window-join, inputs: [L, L], key-by: [k, k], window: {type: "
               "session}}", "a session window needs gap");
    plan_error("{uid: j, type: window-join, inputs: [L, L], key-by: [k, k], window: {type: "
               "tumbling, size: 1s, offset: 1s}}", "offset must be smaller than the size");
    plan_error("{uid: j, type: window-join, inputs: [L, L], key-by: [k, k], window: 10s}",
               "window must be a map");
    plan_error("{uid: j, type: interval-join, inputs: [L, L], key-by: [k, k], lower-bound: 1s, "
               "upper-bound: 1s, lower-exclusive: maybe}", "lower-exclusive");
    plan_error("{uid: j, type: join, inputs: [L, L], key-by: [k, k], right-prefix: ''}",
               "right-prefix must not be empty");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_tumbling),
        cmocka_unit_test(test_window_sliding),
        cmocka_unit_test(test_window_offset),
        cmocka_unit_test(test_window_session),
        cmocka_unit_test(test_window_many_pairs),
        cmocka_unit_test(test_interval),
        cmocka_unit_test(test_interval_exclusive),
        cmocka_unit_test(test_interval_before),
        cmocka_unit_test(test_regular),
        cmocka_unit_test(test_regular_retention),
        cmocka_unit_test(test_plan_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
