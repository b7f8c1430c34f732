/* Unit tests of rest/archive.c and rest/history.c: a job's archive holds
 * the same answers the live REST API gives, and the history server gives
 * them back by job id or name and by vertex id, uid or index; runs are
 * listed newest first; files that are not archives are skipped; the
 * archive is renamed into place whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ops/op.h"
#include "rest/archive.h"
#include "rest/history.h"

/* Job "t": gen (generator) -> out (blackhole), parallelism 2 each, two
 * TaskManagers; two runs of it end FINISHED and FAILED. */
typedef struct fixture {
    op_spec ops[2];
    job j;
    plan p;
    conf *c;
    rest_job_info ji;
    char dir[64];
} fixture;

/* The built-in kinds without describe, which would read a configuration
 * these specs do not have (GET /jobs/:id/plan calls it). */
static op_kind gen_kind, sink_kind;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    gen_kind = *op_kind_find(OP_SOURCE, "generator");
    sink_kind = *op_kind_find(OP_SINK, "blackhole");
    gen_kind.describe = sink_kind.describe = NULL;
    f->ops[0] = (op_spec){.index = 0, .uid = "gen", .parallelism = 2, .wm_field = -1,
                          .kind = &gen_kind};
    f->ops[1] = (op_spec){.index = 1, .uid = "out", .parallelism = 2, .wm_field = -1,
                          .kind = &sink_kind};
    f->j = (job){.name = "t", .nops = 2, .ops = f->ops};
    f->p = (plan){.job = &f->j, .ntms = 2, .slots_per_tm = 1};
    f->c = conf_new();
    f->ji = (rest_job_info){f->c, NULL, 0, 128, 1};
    snprintf(f->dir, sizeof f->dir, "/tmp/mpf-history-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", f->dir, de->d_name);
        if (de->d_name[0] != '.' || strlen(de->d_name) > 2)
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    conf_destroy(f->c);
    free(f);
    return 0;
}

/* A run started at t0 that ends in status st with its metrics; archived. */
static jobstate *run(fixture *f, int64_t t0, int st, char jid[33])
{
    jobstate *js = jobstate_new(&f->p, 2, f->c, t0);
    jobstate_set_status(js, JS_RUNNING, t0 + 10);
    jobstate_on_final(js, 1, "op 0 0 out=700\nop 1 0 in=650\n", t0 + 500);
    jobstate_on_final(js, 2, "op 0 1 out=300\nop 1 1 in=350\n", t0 + 500);
    jobstate_on_metrics(js, 1, "mpiflow-metrics 1 1 0 0\nop 0 0 numRecordsOut=700\n"
                        "op 1 0 numRecordsIn=650\n", t0 + 400);
    jobstate_on_metrics(js, 2, "mpiflow-metrics 1 1 0 0\nop 0 1 numRecordsOut=300\n"
                        "op 1 1 numRecordsIn=350\n", t0 + 400);
    if (st == JS_FAILED)
        jobstate_exception(js, 2, "operator 'out' subtask 2/2: boom", t0 + 450);
    jobstate_set_status(js, st, t0 + 600);
    mpf_err e = {0};
    char *path = NULL;
    assert_int_equal(archive_write(js, &f->ji, f->dir, &path, &e), 0);
    assert_non_null(path);
    snprintf(jid, 33, "%s", jobstate_job_id(js));
    assert_non_null(strstr(path, jid));
    free(path);
    return js;
}

static json_t *get(history *h, const char *path)
{
    char buf[512], why[256] = "";
    snprintf(buf, sizeof buf, "%s", path);
    char *seg[8], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(buf, "/", &save); t && n < 8; t = strtok_r(NULL, "/", &save))
        seg[n++] = t;
    return history_get(h, seg, n, why, sizeof why);
}

/* The archived answer equals the live one, as text. */
static void assert_same(json_t *archived, json_t *live)
{
    assert_non_null(archived);
    assert_non_null(live);
    char *a = json_dumps(archived, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    char *b = json_dumps(live, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    assert_string_equal(a, b);
    free(a);
    free(b);
    json_decref(archived);
    json_decref(live);
}

static void archive_round_trip(void **state)
{
    fixture *f = *state;
    char ok[33], bad[33], p[256];
    jobstate *a = run(f, 1000, JS_FINISHED, ok);
    jobstate *b = run(f, 5000, JS_FAILED, bad);
    FILE *stray = fopen(strcat(strcpy(p, f->dir), "/notes.txt"), "w");
    fputs("not an archive\n", stray);
    fclose(stray);
    history *h = history_open(f->dir);
    int nbad = 0;
    json_t *ov = history_overview(h, &nbad);
    assert_int_equal(nbad, 1);
    json_t *jobs = json_object_get(ov, "jobs");
    assert_int_equal(json_array_size(jobs), 2);
    /* newest first */
    assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 0), "jid")), bad);
    assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 1), "state")),
                        "FINISHED");
    json_decref(ov);

    /* the answers of run a as it ended: its archive was built at "now" */
    snprintf(p, sizeof p, "/jobs/%s", ok);
    json_t *archived = get(h, p);
    int64_t end = json_integer_value(json_object_get(archived, "now"));
    assert_true(end >= 1600);
    json_decref(archived);
    assert_same(get(h, p), rest_json_job(a, &f->ji, end));
    char vid[33];
    rest_json_vertex_id("gen", vid);
    snprintf(p, sizeof p, "/jobs/%s/vertices/%s", ok, vid);
    assert_same(get(h, p), rest_json_vertex(a, &f->ji, 0, end));
    snprintf(p, sizeof p, "/jobs/%s/vertices/gen", ok); /* by uid */
    assert_same(get(h, p), rest_json_vertex(a, &f->ji, 0, end));
    snprintf(p, sizeof p, "/jobs/%s/vertices/1/watermarks", ok); /* by index */
    assert_same(get(h, p), rest_json_watermarks(a, 1));
    snprintf(p, sizeof p, "/jobs/%s/checkpoints", ok);
    assert_same(get(h, p), rest_json_checkpoints(a));
    snprintf(p, sizeof p, "/jobs/%s/exceptions", bad);
    assert_same(get(h, p), rest_json_exceptions(b));
    snprintf(p, sizeof p, "/jobs/%s/taskmanagers", ok);
    assert_same(get(h, p), rest_json_taskmanagers(a, &f->ji, end));
    /* a name is its newest run */
    json_t *byname = get(h, "/jobs/t");
    assert_string_equal(json_string_value(json_object_get(byname, "jid")), bad);
    assert_string_equal(json_string_value(json_object_get(byname, "state")), "FAILED");
    json_decref(byname);
    json_t *o = get(h, "/overview");
    assert_int_equal(json_integer_value(json_object_get(o, "jobs-finished")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "jobs-failed")), 1);
    json_decref(o);
    /* not there */
    assert_null(get(h, "/jobs/0123456789abcdef0123456789abcdef"));
    snprintf(p, sizeof p, "/jobs/%s/vertices/nope", ok);
    assert_null(get(h, p));
    assert_null(get(h, "/jobmanager/log"));
    assert_null(get(h, "/metrics"));
    /* no temporary file left */
    DIR *d = opendir(f->dir);
    struct dirent *de;
    int dot = 0;
    while ((de = readdir(d)))
        dot += de->d_name[0] == '.' && strlen(de->d_name) > 2;
    closedir(d);
    assert_int_equal(dot, 0);
    history_close(h);
    jobstate_destroy(a);
    jobstate_destroy(b);
}

/* A server started before a run ends sees it afterwards. */
static void rescans_the_directory(void **state)
{
    fixture *f = *state;
    char jid[33];
    history *h = history_open(f->dir);
    json_t *ov = history_overview(h, NULL);
    assert_int_equal(json_array_size(json_object_get(ov, "jobs")), 0);
    json_decref(ov);
    sleep(1); /* a directory's mtime may be coarse */
    jobstate *a = run(f, 1000, JS_CANCELED, jid);
    ov = history_overview(h, NULL);
    assert_int_equal(json_array_size(json_object_get(ov, "jobs")), 1);
    json_decref(ov);
    history_close(h);
    jobstate_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(archive_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(rescans_the_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
