/* Unit tests for metrics/registry and runtime/jobstate: the registry reads
 * the counters it points at only when snapshotted, meters are rates over
 * the snapshot interval (hand-computed), histograms give their summary;
 * the job-state model takes a registry snapshot and a TaskManager's final
 * report, sums a vertex's subtasks exactly, keeps the status history,
 * checkpoint history and counts (also past its ring's size), picks the
 * operator and subtask out of exception messages, and builds the status
 * line from the latest rates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf/props.h"
#include "metrics/registry.h"
#include "ops/op.h"
#include "record/batch.h"
#include "runtime/console.h"
#include "runtime/jobstate.h"

#define MS INT64_C(1000000)

/* ------------------------------------------------------------ registry */

static void registry_reads_at_snapshot(void **state)
{
    (void)state;
    mreg *r = mreg_new();
    uint64_t in = 5;
    int64_t wm = -7;
    size_t bytes = 4096;
    mgroup *g = mreg_group(r, "op 3 1");
    mreg_counter(g, "numRecordsIn", &in);
    mreg_gauge_i64(g, "currentInputWatermark", &wm);
    mreg_gauge_size(g, "stateSizeBytes", &bytes);
    assert_int_equal(mreg_ngroups(r), 1);
    assert_int_equal(mreg_nmetrics(r), 3);
    mreg_start(r, 0);
    in = 1234567890123ull; /* changed after registration: the snapshot reads it */
    wm = WM_MIN;
    size_t len;
    char *s = mreg_snapshot(r, 1000 * MS, 42, &len);
    assert_int_equal(strlen(s), len);
    assert_string_equal(s, "mpiflow-metrics 1 1 42 1000\n"
                           "op 3 1 numRecordsIn=1234567890123 "
                           "currentInputWatermark=-9223372036854775808 stateSizeBytes=4096\n");
    free(s);
    s = mreg_snapshot(r, 1500 * MS, 43, &len);
    assert_non_null(strstr(s, "mpiflow-metrics 1 2 43 500\n")); /* seq and interval go on */
    free(s);
    mreg_destroy(r);
}

static int64_t seven(const void *ctx)
{
    return *(const int *)ctx + 7;
}

static void registry_meters_are_rates(void **state)
{
    (void)state;
    mreg *r = mreg_new();
    uint64_t out = 100;
    int64_t busy = 0;
    int base = 3;
    mgroup *g = mreg_group(r, "tm");
    mreg_meter(g, "numRecordsOutPerSecond", &out);
    mreg_time_meter(g, "busyTimeMsPerSecond", &busy);
    mreg_gauge_fn(g, "seven", seven, &base);
    mreg_start(r, 10 * 1000 * MS);
    out += 500;        /* 500 records in 0.5 s: 1000/s */
    busy = 250 * MS;   /* 250 ms busy in 0.5 s: 500 ms/s */
    size_t len;
    char *s = mreg_snapshot(r, 10500 * MS, 0, &len);
    assert_non_null(strstr(s, "\ntm numRecordsOutPerSecond=1000.0 busyTimeMsPerSecond=500.0 "
                              "seven=10\n"));
    free(s);
    out += 30; /* next interval, 2 s: 15/s; busy unchanged: 0 */
    s = mreg_snapshot(r, 12500 * MS, 0, &len);
    assert_non_null(strstr(s, "numRecordsOutPerSecond=15.0 busyTimeMsPerSecond=0.0"));
    free(s);
    mreg_destroy(r);
}

static void registry_histogram_summary(void **state)
{
    (void)state;
    mreg *r = mreg_new();
    histo h = {0};
    for (int i = 0; i < 100; i++)
        histo_add_us(&h, 1000); /* 1 ms each */
    mreg_histogram(mreg_group(r, "op 0 0"), "latency", &h);
    mreg_start(r, 0);
    size_t len;
    char *s = mreg_snapshot(r, MS, 0, &len);
    char want[256];
    snprintf(want, sizeof want, "latency_count=100 latency_p50_ms=%.3f latency_p99_ms=%.3f "
             "latency_max_ms=1.000", histo_quantile_us(&h, 0.5) / 1e3,
             histo_quantile_us(&h, 0.99) / 1e3);
    assert_non_null(strstr(s, want));
    /* the bucket's upper bound is within 5% of 1 ms */
    double p50 = histo_quantile_us(&h, 0.5) / 1e3;
    assert_true(p50 >= 1.0 && p50 <= 1.05);
    free(s);
    mreg_destroy(r);
}

/* ------------------------------------------------------------ jobstate */

/* A job "t": source gen (generator, event time) -> sink out (blackhole),
 * both with parallelism 2, one subtask per TaskManager (ranks 1, 2). */
typedef struct fixture {
    op_spec ops[2];
    job j;
    plan p;
    conf *c;
    jobstate *js;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->ops[0] = (op_spec){.index = 0, .uid = "gen", .parallelism = 2, .wm_field = 1,
                          .kind = op_kind_find(OP_SOURCE, "generator")};
    f->ops[1] = (op_spec){.index = 1, .uid = "out", .parallelism = 2, .wm_field = -1,
                          .kind = op_kind_find(OP_SINK, "blackhole")};
    assert_non_null(f->ops[0].kind);
    assert_non_null(f->ops[1].kind);
    f->j = (job){.name = "t", .nops = 2, .ops = f->ops};
    f->p = (plan){.job = &f->j, .ntms = 2, .slots_per_tm = 1};
    f->c = conf_new();
    mpf_err e = {0};
    assert_int_equal(conf_set_kv(f->c, "metrics.status.interval=1s", &e), 0);
    f->js = jobstate_new(&f->p, 2, f->c, 1000);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    jobstate_destroy(f->js);
    conf_destroy(f->c);
    free(f);
    return 0;
}

static void model_shape(void **state)
{
    fixture *f = *state;
    assert_string_equal(jobstate_job_name(f->js), "t");
    assert_int_equal(jobstate_nvertices(f->js), 2);
    const js_vertex *v = jobstate_vertex(f->js, 1);
    assert_string_equal(v->uid, "out");
    assert_string_equal(v->kind, "blackhole");
    assert_int_equal(v->role, OP_SINK);
    assert_int_equal(v->parallelism, 2);
    assert_int_equal(v->subtasks[0].rank, 1);
    assert_int_equal(v->subtasks[1].rank, 2);
    assert_null(jobstate_vertex(f->js, 2));
    assert_int_equal(jobstate_ntms(f->js), 2);
    assert_null(jobstate_tm(f->js, 0)); /* the JobManager is not a TaskManager */
    assert_null(jobstate_tm(f->js, 3));
    jobstate_tm_seen(f->js, 2, 5555);
    assert_int_equal(jobstate_tm(f->js, 2)->last_heartbeat_ms, 5555);
}

static void status_history(void **state)
{
    fixture *f = *state;
    jobstate_set_status(f->js, JS_RUNNING, 2000);
    jobstate_set_status(f->js, JS_RUNNING, 2500); /* unchanged: no entry */
    jobstate_set_status(f->js, JS_FAILING, 3000);
    jobstate_set_status(f->js, JS_RESTARTING, 3100);
    jobstate_set_status(f->js, JS_RUNNING, 4000);
    jobstate_set_status(f->js, JS_FINISHED, 9000);
    static const int want[] = {JS_CREATED, JS_RUNNING, JS_FAILING, JS_RESTARTING, JS_RUNNING,
                               JS_FINISHED};
    static const int64_t at[] = {1000, 2000, 3000, 3100, 4000, 9000};
    assert_int_equal(jobstate_nhistory(f->js), 6);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(jobstate_history(f->js, i)->status, want[i]);
        assert_int_equal(jobstate_history(f->js, i)->time_ms, at[i]);
    }
    assert_null(jobstate_history(f->js, 6));
    assert_int_equal(jobstate_status(f->js), JS_FINISHED);
    assert_int_equal(jobstate_restarts(f->js), 1);
    assert_string_equal(js_status_name(JS_CANCELLING), "CANCELLING");
    assert_true(js_status_terminal(JS_CANCELED));
    assert_false(js_status_terminal(JS_RESTARTING));
}

static void metrics_from_registry_snapshot(void **state)
{
    fixture *f = *state;
    /* What TaskManager 2 would send: the registry's text plus host and
     * binding. */
    mreg *r = mreg_new();
    uint64_t out = 0;
    int64_t wm = 1700000000000;
    mgroup *tm = mreg_group(r, "tm");
    uint64_t segs = 9;
    mreg_counter(tm, "usedMemorySegments", &segs);
    mgroup *g = mreg_group(r, "op 0 1");
    mreg_counter(g, "numRecordsOut", &out);
    mreg_meter(g, "numRecordsOutPerSecond", &out);
    mreg_gauge_i64(g, "currentOutputWatermark", &wm);
    mreg_start(r, 0);
    out = 9007199254740993ull; /* 2^53 + 1: not exact as a double */
    size_t len;
    char *s = mreg_snapshot(r, 1000 * MS, 0, &len);
    char *msg = malloc(len + 64);
    snprintf(msg, len + 64, "%shost node7\nbinding core 1 of 2\n", s);
    assert_int_equal(jobstate_on_metrics(f->js, 2, msg, 7000), 0);
    const js_subtask *st = &jobstate_vertex(f->js, 0)->subtasks[1];
    assert_int_equal(st->updated_ms, 7000);
    assert_int_equal(js_metrics_get(&st->m, "numRecordsOut")->i, 9007199254740993ll);
    assert_false(js_metrics_get(&st->m, "numRecordsOut")->is_real);
    assert_true(js_metrics_get(&st->m, "numRecordsOutPerSecond")->is_real);
    assert_int_equal(js_metrics_get(&st->m, "currentOutputWatermark")->i, 1700000000000);
    assert_null(js_metrics_get(&st->m, "nonexistent"));
    assert_int_equal(jobstate_vertex_sum(f->js, 0, "numRecordsOut"), 9007199254740993ll);
    const js_tm *t = jobstate_tm(f->js, 2);
    assert_string_equal(t->host, "node7");
    assert_string_equal(t->binding, "core 1 of 2");
    assert_int_equal(js_metrics_get(&t->m, "usedMemorySegments")->i, 9);
    /* another version, an unknown rank, or garbage: nothing taken */
    assert_int_equal(jobstate_on_metrics(f->js, 2, "mpiflow-metrics 2 1 0 0\nop 0 0 x=1\n", 1), -1);
    assert_int_equal(jobstate_on_metrics(f->js, 3, msg, 1), -1);
    assert_int_equal(jobstate_on_metrics(f->js, 1, "hello", 1), -1);
    assert_null(js_metrics_get(&jobstate_vertex(f->js, 0)->subtasks[0].m, "x"));
    /* lines for operators or subtasks that do not exist are skipped */
    assert_int_equal(jobstate_on_metrics(f->js, 1, "mpiflow-metrics 1 1 0 0\nop 5 0 a=1\n"
                                         "op 0 2 a=1\nop 0 0 a=2 broken b= =3 c=4\n", 1), 0);
    const js_metrics *m0 = &jobstate_vertex(f->js, 0)->subtasks[0].m;
    assert_int_equal(js_metrics_get(m0, "a")->i, 2);
    assert_int_equal(js_metrics_get(m0, "c")->i, 4);
    assert_null(js_metrics_get(m0, "b"));
    free(msg);
    free(s);
    mreg_destroy(r);
}

/* The final report of an attempt (the TaskManager's FINISHED payload). */
static const char *final1 =
    "tm 1 peak_rss_kb=20000 segments_peak=6 segment_size=32768 batches_sent=3 bytes_sent=100 "
    "credit_waits=0\n"
    "op 0 0 0 600 0 0 0 0\n"
    "op 1 0 600 0 0 0 0 0\n"
    "latency 0 0\nwmlatency 0 0\nalignment 0 0\n";
static const char *final2 =
    "tm 2 peak_rss_kb=21000 segments_peak=7 segment_size=32768 batches_sent=4 bytes_sent=200 "
    "credit_waits=1\n"
    "op 0 1 0 400 0 0 0 0\n"
    "op 1 1 400 0 3 64 128 5\n"
    "latency 0 0\nwmlatency 0 0\nalignment 0 0\n";

static void final_counts_and_new_attempt(void **state)
{
    fixture *f = *state;
    /* a periodic report first: the final one replaces its counts */
    jobstate_on_metrics(f->js, 1, "mpiflow-metrics 1 1 0 0\nop 0 0 numRecordsOut=17\n", 1);
    jobstate_on_final(f->js, 1, final1, 2);
    jobstate_on_final(f->js, 2, final2, 2);
    js_totals t;
    jobstate_vertex_totals(f->js, 0, &t);
    assert_int_equal(t.out, 1000);
    assert_int_equal(t.in, 0);
    jobstate_vertex_totals(f->js, 1, &t);
    assert_int_equal(t.in, 1000);
    assert_int_equal(t.skipped, 3);
    assert_int_equal(t.state_bytes, 64);
    assert_int_equal(t.state_peak, 128);
    assert_int_equal(t.late, 5);
    assert_string_equal(jobstate_tm(f->js, 1)->summary,
                        "peak_rss_kb=20000 segments_peak=6 segment_size=32768 batches_sent=3 "
                        "bytes_sent=100 credit_waits=0");
    assert_int_equal(js_metrics_get(&jobstate_tm(f->js, 2)->m, "segments_peak")->i, 7);
    /* a restart drops the failed attempt's metrics */
    jobstate_new_attempt(f->js, 3);
    jobstate_vertex_totals(f->js, 1, &t);
    assert_int_equal(t.in, 0);
    assert_int_equal(t.late, 0);
}

static void final_histograms_merge(void **state)
{
    fixture *f = *state;
    histo a = {0}, b = {0};
    histo_add_us(&a, 100);
    histo_add_us(&b, 5000);
    histo_add_us(&b, 5000);
    char *ea = histo_encode(&a), *eb = histo_encode(&b);
    char *t1 = malloc(strlen(ea) + 64), *t2 = malloc(strlen(eb) + 64);
    sprintf(t1, "latency %s\n", ea);
    sprintf(t2, "latency %s\nalignment %s\n", eb, ea);
    jobstate_on_final(f->js, 1, t1, 1);
    jobstate_on_final(f->js, 2, t2, 1);
    const histo *h = jobstate_histo(f->js, JS_H_LATENCY);
    assert_int_equal(h->count, 3);
    assert_int_equal(h->max_us, 5000);
    assert_int_equal(jobstate_histo(f->js, JS_H_ALIGNMENT)->count, 1);
    assert_int_equal(jobstate_histo(f->js, JS_H_WM_LATENCY)->count, 0);
    free(ea);
    free(eb);
    free(t1);
    free(t2);
}

static void checkpoint_history(void **state)
{
    fixture *f = *state;
    jobstate_ckpt_triggered(f->js, 1, 0, 10000);
    jobstate_ckpt_completed(f->js, 1, 10025, "/c/chk-1", 4096, 1500);
    jobstate_ckpt_triggered(f->js, 2, 0, 20000);
    jobstate_ckpt_failed(f->js, 2, 20100, "disk full");
    jobstate_ckpt_completed(f->js, 2, 20200, "/c/chk-2", 0, 0); /* too late: stays failed */
    jobstate_ckpt_triggered(f->js, 3, 1, 30000);
    jobstate_ckpt_completed(f->js, 3, 30040, "/s/savepoint-3", 0, 0);
    jobstate_ckpt_triggered(f->js, 4, 0, 40000);
    assert_int_equal(jobstate_ncheckpoints(f->js), 4);
    const js_checkpoint *c = jobstate_checkpoint(f->js, 0);
    assert_int_equal(c->id, 1);
    assert_int_equal(c->status, JS_CK_COMPLETED);
    assert_int_equal(c->duration_ms, 25);
    assert_int_equal(c->size_bytes, 4096);
    assert_int_equal(c->alignment_us, 1500);
    assert_string_equal(c->path, "/c/chk-1");
    c = jobstate_checkpoint(f->js, 1);
    assert_int_equal(c->status, JS_CK_FAILED);
    assert_string_equal(c->failure, "disk full");
    assert_int_equal(c->duration_ms, 100);
    assert_int_equal(jobstate_checkpoint(f->js, 3)->status, JS_CK_IN_PROGRESS);
    assert_int_equal(jobstate_checkpoint(f->js, 3)->size_bytes, -1);
    assert_int_equal(jobstate_checkpoint(f->js, 3)->duration_ms, -1);
    c = jobstate_last_completed(f->js);
    assert_int_equal(c->id, 3);
    assert_true(c->savepoint);
    int64_t done, sp, failed, ip;
    jobstate_ckpt_counts(f->js, &done, &sp, &failed, &ip);
    assert_int_equal(done, 1);
    assert_int_equal(sp, 1);
    assert_int_equal(failed, 1);
    assert_int_equal(ip, 1);
    /* the job ends: the one in progress will never complete */
    jobstate_set_status(f->js, JS_CANCELED, 41000);
    assert_int_equal(jobstate_checkpoint(f->js, 3)->status, JS_CK_FAILED);
    assert_non_null(strstr(jobstate_checkpoint(f->js, 3)->failure, "CANCELED"));
    /* past the ring: the latest JOBSTATE_CKPT_HISTORY stay, counts go on */
    for (int64_t id = 5; id < 5 + 2 * JOBSTATE_CKPT_HISTORY; id++) {
        jobstate_ckpt_triggered(f->js, id, 0, id * 1000);
        jobstate_ckpt_completed(f->js, id, id * 1000 + 7, NULL, 0, 0);
    }
    assert_int_equal(jobstate_ncheckpoints(f->js), JOBSTATE_CKPT_HISTORY);
    assert_int_equal(jobstate_checkpoint(f->js, 0)->id, 5 + JOBSTATE_CKPT_HISTORY);
    assert_int_equal(jobstate_checkpoint(f->js, JOBSTATE_CKPT_HISTORY - 1)->id,
                     4 + 2 * JOBSTATE_CKPT_HISTORY);
    assert_null(jobstate_checkpoint(f->js, JOBSTATE_CKPT_HISTORY));
    jobstate_ckpt_counts(f->js, &done, NULL, NULL, NULL);
    assert_int_equal(done, 1 + 2 * JOBSTATE_CKPT_HISTORY);
    assert_int_equal(jobstate_last_completed(f->js)->id, 4 + 2 * JOBSTATE_CKPT_HISTORY);
}

static void exceptions(void **state)
{
    fixture *f = *state;
    jobstate_exception(f->js, 2, "tm-2 (rank 2, node7): subtask 2/4 of operator 'win': boom",
                       500);
    jobstate_exception(f->js, 1, "tm-1: operator 'gen' subtask 1/2: injected", 600);
    jobstate_exception(f->js, 0, "checkpoint 3 failed", 700);
    assert_int_equal(jobstate_nexceptions(f->js), 3);
    const js_exception *x = jobstate_exception_at(f->js, 0);
    assert_string_equal(x->uid, "win");
    assert_int_equal(x->subtask, 1);
    assert_int_equal(x->rank, 2);
    assert_int_equal(x->time_ms, 500);
    assert_string_equal(x->message, "tm-2 (rank 2, node7): subtask 2/4 of operator 'win': boom");
    x = jobstate_exception_at(f->js, 1);
    assert_string_equal(x->uid, "gen");
    assert_int_equal(x->subtask, 0);
    x = jobstate_exception_at(f->js, 2);
    assert_null(x->uid);
    assert_int_equal(x->subtask, -1);
    assert_null(jobstate_exception_at(f->js, 3));
}

static void status_line(void **state)
{
    fixture *f = *state;
    char line[512];
    jobstate_set_status(f->js, JS_RUNNING, 10000);
    jobstate_status_line(f->js, 12000, line, sizeof line);
    assert_string_equal(line, "job 't' RUNNING for 2.0 s: no metrics yet");
    jobstate_on_metrics(f->js, 1, "mpiflow-metrics 1 1 0 0\n"
                        "op 0 0 numRecordsOut=100 numRecordsOutPerSecond=1200.0 "
                        "currentOutputWatermark=11000 backPressuredTimeMsPerSecond=10.0\n"
                        "op 1 0 numRecordsInPerSecond=900.0 currentOutputWatermark=10500 "
                        "backPressuredTimeMsPerSecond=0.0\n", 12000);
    jobstate_on_metrics(f->js, 2, "mpiflow-metrics 1 1 0 0\n"
                        "op 0 1 numRecordsOut=50 numRecordsOutPerSecond=800.0 "
                        "currentOutputWatermark=-9223372036854775808 "
                        "backPressuredTimeMsPerSecond=750.5\n"
                        "op 1 1 numRecordsInPerSecond=1100.0 "
                        "currentOutputWatermark=-9223372036854775808\n", 12000);
    jobstate_ckpt_triggered(f->js, 7, 0, 11000);
    jobstate_ckpt_completed(f->js, 7, 11030, "/c/chk-7", 123456, 2500);
    /* in: 1200 + 800; out: 900 + 1100; lag: 15000 - 10500 (the sinks'
     * minimum; a subtask without a watermark yet does not count);
     * checkpoint 7 completed at 11030, 3.97 s before 15000 */
    int n = jobstate_status_line(f->js, 15000, line, sizeof line);
    assert_int_equal(n, (int)strlen(line));
    assert_string_equal(line, "job 't' RUNNING for 5.0 s: records_in_per_s=2000 "
                              "records_out_per_s=2000 records_in=150 wm_lag_ms=4500 "
                              "backpressured_ms_per_s=750 (gen) last_checkpoint=7 age_s=4.0 "
                              "duration_ms=30 size_bytes=123456 alignment_ms=2.5");
    /* a short buffer is cut, not overrun; the length is the whole line's */
    char small[16];
    assert_int_equal(jobstate_status_line(f->js, 15000, small, sizeof small), n);
    assert_int_equal(strlen(small), sizeof small - 1);
}

/* Progress of bounded sources: the least advanced source's fraction, the
 * time left at its rate; known only when every source is bounded and
 * says what it has left. Gauges that are not known stay out of the
 * snapshot. The console's live line fits the terminal. */
static void progress_and_live_line(void **state)
{
    fixture *f = *state;
    double frac, eta;
    int64_t unknown = -1, left = 700;
    mreg *r = mreg_new();
    mgroup *g = mreg_group(r, "op 0 0");
    mreg_gauge_known(g, "pendingBytes", &unknown);
    mreg_gauge_known(g, "pendingRecords", &left);
    size_t len;
    char *s = mreg_snapshot(r, 0, 1, &len);
    assert_string_equal(s, "mpiflow-metrics 1 1 1 0\nop 0 0 pendingRecords=700\n");
    free(s);
    mreg_destroy(r);

    jobstate_set_status(f->js, JS_RUNNING, 10000);
    jobstate_on_metrics(f->js, 1, "mpiflow-metrics 1 1 0 0\n"
                        "op 0 0 numRecordsOut=300 pendingRecords=700 "
                        "numRecordsOutPerSecond=100.0\n", 12000);
    jobstate_on_metrics(f->js, 2, "mpiflow-metrics 1 1 0 0\n"
                        "op 0 1 numRecordsOut=200 pendingRecords=800 "
                        "numRecordsOutPerSecond=100.0\n", 12000);
    assert_int_equal(jobstate_progress(f->js, &frac, &eta), 0); /* unbounded */
    f->ops[0].bounded = 1;
    assert_int_equal(jobstate_progress(f->js, &frac, &eta), 1);
    assert_float_equal(frac, 0.25, 1e-9); /* 500 of 2000 */
    assert_float_equal(eta, 7.5, 1e-9);   /* 1500 left at 200/s */
    char line[512];
    jobstate_status_line(f->js, 12000, line, sizeof line);
    assert_non_null(strstr(line, " records_in=500 progress_pct=25.0 eta_s=8"));
    size_t n = console_line(f->js, 12000, 200, line, sizeof line);
    assert_int_equal(n, strlen(line));
    assert_string_equal(line, "t RUNNING 2s | 25.0% ETA 8s | 200 records/s in, 0 out");
    assert_int_equal(console_line(f->js, 12000, 20, line, sizeof line), 19);
    assert_string_equal(line, "t RUNNING 2s | 25.0");

    /* bytes (a file source): 3000 read in 300 records, 1000 left; 100
     * records/s are 1000 bytes/s */
    jobstate_new_attempt(f->js, 12500);
    jobstate_on_metrics(f->js, 2, "mpiflow-metrics 1 2 0 0\n"
                        "op 0 1 numRecordsOut=300 numBytesIn=3000 pendingBytes=1000 "
                        "numRecordsOutPerSecond=100.0\n", 13000);
    jobstate_on_metrics(f->js, 1, "mpiflow-metrics 1 2 0 0\n"
                        "op 0 0 numRecordsOut=300 numBytesIn=3000 pendingBytes=1000 "
                        "numRecordsOutPerSecond=100.0\n", 13000);
    assert_int_equal(jobstate_progress(f->js, &frac, &eta), 1);
    assert_float_equal(frac, 0.75, 1e-9);
    assert_float_equal(eta, 1.0, 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry_reads_at_snapshot),
        cmocka_unit_test(registry_meters_are_rates),
        cmocka_unit_test(registry_histogram_summary),
        cmocka_unit_test_setup_teardown(model_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(status_history, setup, teardown),
        cmocka_unit_test_setup_teardown(metrics_from_registry_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(final_counts_and_new_attempt, setup, teardown),
        cmocka_unit_test_setup_teardown(final_histograms_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(checkpoint_history, setup, teardown),
        cmocka_unit_test_setup_teardown(exceptions, setup, teardown),
        cmocka_unit_test_setup_teardown(status_line, setup, teardown),
        cmocka_unit_test_setup_teardown(progress_and_live_line, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
