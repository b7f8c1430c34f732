/* Unit tests of rest/rest_json.c: the job-state model as Flink-shaped
 * JSON (checkpoint statistics and their summary, vertices and subtasks,
 * exceptions, TaskManagers), how long building the largest answer holds
 * the model's lock, and readers on other threads beside the writers (run
 * under ThreadSanitizer by hand, under AddressSanitizer in CI). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ops/op.h"
#include "rest/rest_json.h"

/* A job "t": source gen (generator) -> sink out (blackhole), both with
 * parallelism 2, one subtask per TaskManager (ranks 1, 2). */
typedef struct fixture {
    op_spec ops[2];
    job j;
    plan p;
    conf *c;
    jobstate *js;
    rest_job_info ji;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->ops[0] = (op_spec){.index = 0, .uid = "gen", .parallelism = 2, .wm_field = -1,
                          .kind = op_kind_find(OP_SOURCE, "generator")};
    f->ops[1] = (op_spec){.index = 1, .uid = "out", .parallelism = 2, .wm_field = -1,
                          .kind = op_kind_find(OP_SINK, "blackhole")};
    f->j = (job){.name = "t", .nops = 2, .ops = f->ops};
    f->p = (plan){.job = &f->j, .ntms = 2, .slots_per_tm = 1};
    f->c = conf_new();
    mpf_err e = {0};
    assert_int_equal(conf_set_kv(f->c, "metrics.status.interval=0", &e), 0);
    assert_int_equal(conf_set_kv(f->c, "execution.checkpointing.interval=2s", &e), 0);
    f->js = jobstate_new(&f->p, 2, f->c, 1000);
    f->ji = (rest_job_info){f->c, NULL, 0, 128, 1};
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

static json_int_t ival(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        v = json_is_array(v) ? json_array_get(v, (size_t)atoi(k)) : json_object_get(v, k);
    assert_non_null(v);
    return json_is_real(v) ? (json_int_t)json_real_value(v) : json_integer_value(v);
}

static const char *sval(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    return s;
}

/* Ten checkpoints with durations 10..100 ms and sizes 1000..10000 bytes,
 * the fourth one failed, the last a savepoint; then a restore. */
static void checkpoint_statistics(void **state)
{
    fixture *f = *state;
    for (int i = 1; i <= 10; i++) {
        jobstate_ckpt_triggered(f->js, i, i == 10, 10000 * i);
        if (i == 4)
            jobstate_ckpt_failed(f->js, i, 10000 * i + 5, "declined by rank 2");
        else
            jobstate_ckpt_completed(f->js, i, 10000 * i + 10 * i, "/ck/x", 1000 * i, 100 * i);
    }
    jobstate_ckpt_triggered(f->js, 11, 0, 200000);
    jobstate_restored(f->js, 9, 0, "/ck/chk-9", 300000);
    json_t *o = rest_json_checkpoints(f->js);
    assert_int_equal(ival(o, "counts.completed"), 9);
    assert_int_equal(ival(o, "counts.savepoints"), 1);
    assert_int_equal(ival(o, "counts.failed"), 1);
    assert_int_equal(ival(o, "counts.in_progress"), 1);
    assert_int_equal(ival(o, "counts.total"), 11);
    assert_int_equal(ival(o, "counts.restored"), 1);
    /* summary over the 9 completed: durations 10,20,30,50,...,100 */
    assert_int_equal(ival(o, "summary.end_to_end_duration.min"), 10);
    assert_int_equal(ival(o, "summary.end_to_end_duration.max"), 100);
    assert_int_equal(ival(o, "summary.end_to_end_duration.avg"), 510 / 9);
    assert_int_equal(ival(o, "summary.end_to_end_duration.p50"), 60); /* 5th of 9 */
    assert_int_equal(ival(o, "summary.end_to_end_duration.p99"), 100);
    assert_int_equal(ival(o, "summary.state_size.min"), 1000);
    assert_int_equal(ival(o, "summary.state_size.p90"), 10000); /* ceil(8.1) = 9th */
    assert_int_equal(ival(o, "summary.alignment_duration_us.max"), 1000);
    /* history newest first, with the shape of each status */
    json_t *h = json_object_get(o, "history");
    assert_int_equal(json_array_size(h), 11);
    assert_int_equal(ival(h, "0.id"), 11);
    assert_string_equal(sval(json_array_get(h, 0), "status"), "IN_PROGRESS");
    assert_int_equal(ival(h, "10.id"), 1);
    json_t *failed = json_array_get(h, 7);
    assert_int_equal(ival(failed, "id"), 4);
    assert_string_equal(sval(failed, "status"), "FAILED");
    assert_string_equal(sval(failed, "failure_message"), "declined by rank 2");
    assert_int_equal(ival(failed, "failure_timestamp"), 40005);
    json_t *sp = json_array_get(h, 1);
    assert_string_equal(sval(sp, "checkpoint_type"), "SAVEPOINT");
    assert_true(json_is_true(json_object_get(sp, "is_savepoint")));
    assert_string_equal(sval(sp, "external_path"), "/ck/x");
    assert_int_equal(ival(sp, "num_subtasks"), 4);
    assert_int_equal(ival(sp, "num_acknowledged_subtasks"), 4);
    /* latest */
    assert_int_equal(ival(o, "latest.completed.id"), 10);
    assert_int_equal(ival(o, "latest.savepoint.id"), 10);
    assert_int_equal(ival(o, "latest.failed.id"), 4);
    assert_int_equal(ival(o, "latest.restored.id"), 9);
    assert_string_equal(sval(json_object_get(json_object_get(o, "latest"), "restored"),
                             "external_path"), "/ck/chk-9");
    json_decref(o);
    json_t *cc = rest_json_checkpoint_config(&f->ji);
    assert_int_equal(ival(cc, "interval"), 2000);
    assert_string_equal(sval(cc, "mode"), "exactly_once");
    json_decref(cc);
}

static void vertices_and_subtasks(void **state)
{
    fixture *f = *state;
    jobstate_set_status(f->js, JS_RUNNING, 2000);
    assert_int_equal(jobstate_on_metrics(f->js, 1, "mpiflow-metrics 1 1 0 1000\n"
                                         "op 0 0 numRecordsOut=70 busyTimeMsPerSecond=300.5 "
                                         "numBytesOut=700\n"
                                         "op 1 0 numRecordsIn=60\n", 3000), 0);
    assert_int_equal(jobstate_on_metrics(f->js, 2, "mpiflow-metrics 1 1 0 1000\n"
                                         "op 0 1 numRecordsOut=30 busyTimeMsPerSecond=900.0\n"
                                         "op 1 1 numRecordsIn=40\n"
                                         "host node2\nbinding core 1\n", 3000), 0);
    json_t *j = rest_json_job(f->js, &f->ji, 5000);
    assert_string_equal(sval(j, "state"), "RUNNING");
    assert_string_equal(sval(j, "jid"), jobstate_job_id(f->js));
    assert_int_equal(strlen(jobstate_job_id(f->js)), 32);
    assert_int_equal(ival(j, "duration"), 4000);
    assert_int_equal(ival(j, "timestamps.RUNNING"), 2000);
    json_t *v = json_object_get(j, "vertices");
    assert_int_equal(json_array_size(v), 2);
    assert_int_equal(ival(v, "0.metrics.write-records"), 100);
    assert_int_equal(ival(v, "0.metrics.write-bytes"), 700);
    assert_int_equal(ival(v, "0.metrics.busyTimeMsPerSecond"), 900); /* the busiest */
    assert_int_equal(ival(v, "1.metrics.read-records"), 100);
    assert_int_equal(ival(v, "1.tasks.RUNNING"), 2);
    char id[33];
    rest_json_vertex_id("gen", id);
    assert_string_equal(sval(json_array_get(v, 0), "id"), id);
    json_decref(j);

    json_t *x = rest_json_vertex(f->js, &f->ji, 0, 5000);
    json_t *subs = json_object_get(x, "subtasks");
    assert_int_equal(json_array_size(subs), 2);
    assert_int_equal(ival(subs, "1.metrics.numRecordsOut"), 30);
    assert_int_equal(ival(subs, "1.rank"), 2);
    assert_string_equal(sval(json_array_get(subs, 1), "endpoint"), "node2");
    assert_string_equal(sval(json_array_get(subs, 1), "taskmanager-id"), "tm-2");
    json_decref(x);
    assert_null(rest_json_vertex(f->js, &f->ji, 5, 5000));

    json_t *all = rest_json_taskmanagers(f->js, &f->ji, 5000);
    json_t *tms = json_object_get(all, "taskmanagers");
    assert_int_equal(json_array_size(tms), 2);
    assert_string_equal(sval(json_array_get(tms, 1), "binding"), "core 1");
    assert_string_equal(sval(json_array_get(tms, 1), "host"), "node2");
    assert_int_equal(ival(tms, "1.lastHeartbeatAgeMs"), -1); /* no heartbeat yet */
    json_decref(all);
}

static void exceptions_and_errors(void **state)
{
    fixture *f = *state;
    jobstate_exception(f->js, 2, "operator 'out' subtask 2/2 failed: disk full", 7000);
    json_t *o = rest_json_exceptions(f->js);
    assert_string_equal(sval(o, "root-exception"), "operator 'out' subtask 2/2 failed: disk full");
    json_t *e = json_array_get(json_object_get(o, "all-exceptions"), 0);
    assert_string_equal(sval(e, "task"), "out");
    assert_int_equal(ival(e, "subtask"), 1);
    assert_string_equal(sval(e, "taskManagerId"), "tm-2");
    assert_int_equal(json_array_size(json_object_get(json_object_get(o, "exceptionHistory"),
                                                     "entries")), 1);
    json_decref(o);
    json_t *err = rest_json_error("bad");
    assert_string_equal(json_string_value(json_array_get(json_object_get(err, "errors"), 0)),
                        "bad");
    json_decref(err);
}

/* The REST server holds the model's lock while it builds an answer: how
 * long for the largest, the checkpoints with a full history? */
static void lock_hold_time(void **state)
{
    fixture *f = *state;
    for (int i = 1; i <= 200; i++) {
        jobstate_ckpt_triggered(f->js, i, 0, 1000 * i);
        jobstate_ckpt_completed(f->js, i, 1000 * i + i % 50, "/some/dir/chk", 4096 * i, 10);
    }
    struct timespec t0, t1;
    int n = 2000;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        jobstate_lock(f->js);
        json_t *o = rest_json_checkpoints(f->js);
        jobstate_unlock(f->js);
        json_decref(o);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                1e3 / n;
    printf("building /jobs/:id/checkpoints with %d checkpoints in history: %.1f us each "
           "(lock_hold_us=%.1f)\n", JOBSTATE_CKPT_HISTORY, us, us);
    assert_true(us < 100000); /* a sanity bound: sanitizer builds on a busy machine are slow */
}

typedef struct reader_arg {
    fixture *f;
    _Atomic int stop;
    _Atomic long rounds;
} reader_arg;

/* What the REST thread does: build answers under the lock, dump them
 * outside it. */
static void *reader(void *p)
{
    reader_arg *a = p;
    while (!a->stop) {
        jobstate_lock(a->f->js);
        json_t *o[5] = {rest_json_job(a->f->js, &a->f->ji, 1), rest_json_checkpoints(a->f->js),
                        rest_json_vertex(a->f->js, &a->f->ji, 0, 1),
                        rest_json_exceptions(a->f->js),
                        rest_json_taskmanagers(a->f->js, &a->f->ji, 1)};
        jobstate_unlock(a->f->js);
        for (int i = 0; i < 5; i++) {
            free(json_dumps(o[i], 0));
            json_decref(o[i]);
        }
        a->rounds++;
    }
    return NULL;
}

/* The control loop's writes (metrics with new host strings, checkpoints,
 * restarts, exceptions) while two readers build answers. */
static void concurrent_readers(void **state)
{
    fixture *f = *state;
    reader_arg a = {f, 0, 0}, b = {f, 0, 0};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, reader, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, reader, &b), 0);
    char buf[512];
    for (int i = 1; i <= 5000; i++) {
        jobstate_set_status(f->js, i % 50 == 0 ? JS_RESTARTING : JS_RUNNING, i);
        jobstate_tm_seen(f->js, 1 + i % 2, i);
        snprintf(buf, sizeof buf, "mpiflow-metrics 1 %d 0 100\nop 0 %d numRecordsOut=%d "
                 "busyTimeMsPerSecond=1.5\nop 1 %d numRecordsIn=%d\nhost h%d\nbinding core %d\n",
                 i, i % 2, i, i % 2, i, i, i);
        jobstate_on_metrics(f->js, 1 + i % 2, buf, i);
        jobstate_ckpt_triggered(f->js, i, i % 7 == 0, i);
        if (i % 5)
            jobstate_ckpt_completed(f->js, i, i + 3, "/x", i, i);
        else
            jobstate_ckpt_failed(f->js, i, i + 3, "declined");
        if (i % 100 == 0) {
            jobstate_exception(f->js, 1, "operator 'out' subtask 1/2 failed", i);
            jobstate_new_attempt(f->js, i);
            jobstate_restored(f->js, i, 0, "/r", i);
        }
        snprintf(buf, sizeof buf, "op 0 0 %d %d 0 0 0 0\ntm 1 peak_rss_kb=%d\n", i, i, i);
        jobstate_on_final(f->js, 1, buf, i);
    }
    while (!a.rounds || !b.rounds) { /* each read at least once */
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    a.stop = b.stop = 1;
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(checkpoint_statistics, setup, teardown),
        cmocka_unit_test_setup_teardown(vertices_and_subtasks, setup, teardown),
        cmocka_unit_test_setup_teardown(exceptions_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(lock_hold_time, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_readers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
