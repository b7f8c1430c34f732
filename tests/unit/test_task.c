/* Unit tests for runtime/task: how an operator's failure becomes the
 * task's error. A hand-built plan runs a two-operator chain in one
 * subtask (a source whose poll emits a record, then a transform whose
 * process fails in a chosen way) without channels. The job's error keeps
 * the operator's own message, naming the operator and subtask once;
 * MPF_EAGAIN is a progress value, never an error, and an error is never
 * taken for progress. Also util/err's err_prefix contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include "conf/props.h"
#include "ops/op.h"
#include "plan/job.h"
#include "plan/plan.h"
#include "record/segpool.h"
#include "runtime/task.h"
#include "util/err.h"

/* ---- what the fake operators do ---- */

enum {
    OK,           /* process succeeds */
    OWN_MSG,      /* err_set with a message, return its code */
    NAMED_MSG,    /* ... a message that starts with "operator 'boom'" */
    NAMED_SUB,    /* ... that also names the subtask */
    CODE_ONLY,    /* return MPF_EIO without a message */
    EAGAIN_RET,   /* return MPF_EAGAIN (not allowed from process) */
    SET_RET0,     /* set an error in e but return 0 */
    POLL_SET_EAGAIN, /* the source sets an error and returns MPF_EAGAIN */
    POLL_CODE,    /* the source returns MPF_EIO without a message */
    SVC_FAIL,     /* the transform's service hook fails */
};
static int mode;
static int service_calls;

static int svc(op_inst *oi, int64_t now_ns, mpf_err *e)
{
    service_calls++;
    if (mode == SVC_FAIL)
        return err_set(e, MPF_EIO, "delivery report: broker down");
    return 0;
}

static int src_poll(op_inst *oi, mpf_err *e)
{
    if (mode == POLL_SET_EAGAIN) {
        err_set(e, MPF_EPARSE, "operator 'gen': line 3: bad number");
        return MPF_EAGAIN;
    }
    if (mode == POLL_CODE)
        return MPF_EIO;
    recbuf b;
    recbuf_init(&b);
    recbuf_begin(&b);
    recbuf_i64(&b, 7);
    recbuf_end(&b);
    op_emit(oi, b.p, (uint32_t)b.len);
    recbuf_fini(&b);
    return MPF_EAGAIN;
}

static int bad_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    switch (mode) {
    case OWN_MSG:
        return err_set(e, MPF_ERANGE, "value 7 is out of range");
    case NAMED_MSG:
        return err_set(e, MPF_ERANGE, "operator 'boom': value 7 is out of range");
    case NAMED_SUB:
        return err_set(e, MPF_ERANGE, "operator 'boom' subtask 2/2: value 7 is out of range");
    case CODE_ONLY:
        return MPF_EIO;
    case EAGAIN_RET:
        return MPF_EAGAIN;
    case SET_RET0:
        err_set(e, MPF_ERANGE, "value 7 is out of range");
        return 0;
    }
    return 0;
}

static const op_kind k_src = {.name = "tsrc", .role = OP_SOURCE, .poll = src_poll,
                              .stateless = 1};
static const op_kind k_bad = {.name = "tbad", .role = OP_TRANSFORM, .min_inputs = 1,
                              .max_inputs = 1, .process = bad_process, .service = svc,
                              .stateless = 1};
/* The same without a service hook (whose call clears e every step). */
static const op_kind k_bad_nosvc = {.name = "tbad", .role = OP_TRANSFORM, .min_inputs = 1,
                                    .max_inputs = 1, .process = bad_process, .stateless = 1};

/* ---- a one-task plan: gen -> boom, parallelism 2, subtask 1 here ---- */

typedef struct fixture {
    op_spec ops[2];
    job j;
    int chain[2];
    plan_task pt;
    plan p;
    conf *c;
    task_inst t;
} fixture;

static void fx_open_with(fixture *f, const op_kind *transform)
{
    memset(f, 0, sizeof *f);
    const char *uids[] = {"gen", "boom"};
    const op_kind *kinds[] = {&k_src, transform};
    for (int i = 0; i < 2; i++) {
        f->ops[i].index = i;
        f->ops[i].uid = (char *)uids[i];
        f->ops[i].kind = kinds[i];
        f->ops[i].parallelism = 2;
        f->ops[i].wm_field = -1;
        f->ops[i].max_parallelism = 128;
        f->chain[i] = i;
    }
    f->j.name = "t";
    f->j.nops = 2;
    f->j.ops = f->ops;
    f->pt.nops = 2;
    f->pt.ops = f->chain;
    f->pt.parallelism = 2;
    f->p.job = &f->j;
    f->p.ntasks = 1;
    f->p.tasks = &f->pt;
    f->p.max_parallelism = 128;
    f->p.ntms = 1;
    f->c = conf_new();
    segpool_init(32768);
    mpf_err e = {0};
    assert_int_equal(task_open(&f->t, &f->p, 0, 1, 1, f->c, &e), 0);
}

static void fx_open(fixture *f)
{
    fx_open_with(f, &k_bad);
}

static void fx_close(fixture *f)
{
    task_close(&f->t);
    conf_destroy(f->c);
    segpool_fini();
}

/* One step with the operators doing `m`; returns task_step's result and
 * the error in *e (which starts out holding a stale error). */
static int step(int m, mpf_err *e)
{
    fixture f;
    fx_open(&f);
    mode = m;
    err_set(e, MPF_ENOENT, "stale error from an earlier call");
    int rc = task_step(&f.t, 1, e);
    fx_close(&f);
    return rc;
}

static void expect_failure(int m, int code, const char *msg)
{
    mpf_err e;
    int rc = step(m, &e);
    if (rc >= 0)
        fail_msg("mode %d: task_step returned %d, expected a failure", m, rc);
    assert_int_equal(rc, code);
    assert_int_equal(e.code, code);
    if (strcmp(e.msg, msg) != 0)
        fail_msg("mode %d: message\n  '%s', expected\n  '%s'", m, e.msg, msg);
}

/* The service hook runs on every step of an operator that is not a
 * source; its failure fails the task, named once. */
static void test_service_hook(void **state)
{
    (void)state;
    mpf_err e;
    service_calls = 0;
    assert_true(step(OK, &e) >= 0);
    assert_int_equal(service_calls, 1);
    expect_failure(SVC_FAIL, MPF_EIO,
                   "operator 'boom' subtask 2/2: delivery report: broker down");
}

static void test_success_is_progress(void **state)
{
    (void)state;
    mpf_err e;
    assert_int_equal(step(OK, &e), 1);
}

/* The operator's own message, named once (it lost the message before:
 * the job failed with "value 7 is out of range" not saying where). */
static void test_own_message_named(void **state)
{
    (void)state;
    expect_failure(OWN_MSG, MPF_ERANGE, "operator 'boom' subtask 2/2: value 7 is out of range");
    expect_failure(NAMED_MSG, MPF_ERANGE,
                   "subtask 2/2 of operator 'boom': value 7 is out of range");
    expect_failure(NAMED_SUB, MPF_ERANGE, "operator 'boom' subtask 2/2: value 7 is out of range");
}

/* A code without a message (was MPF_EIO with an empty message). */
static void test_code_without_message(void **state)
{
    (void)state;
    expect_failure(CODE_ONLY, MPF_EIO, "operator 'boom' subtask 2/2: process failed with "
                   "MPF_EIO (input/output error) and no message");
    expect_failure(POLL_CODE, MPF_EIO, "operator 'gen' subtask 2/2: poll failed with MPF_EIO "
                   "(input/output error) and no message");
}

/* MPF_EAGAIN from process is a broken operator, reported as such (it
 * was MPF_EIO with an empty message). */
static void test_eagain_from_process(void **state)
{
    (void)state;
    expect_failure(EAGAIN_RET, MPF_EINVAL, "operator 'boom' subtask 2/2: process returned -14 "
                   "(MPF_EAGAIN), which is neither 0, MPF_EAGAIN where allowed, nor an error "
                   "code");
}

/* An error set in e is a failure even when the hook returned a progress
 * value (poll's MPF_EAGAIN was taken as progress and the error lost). */
static void test_error_not_progress(void **state)
{
    (void)state;
    expect_failure(SET_RET0, MPF_ERANGE, "operator 'boom' subtask 2/2: value 7 is out of range");
    expect_failure(POLL_SET_EAGAIN, MPF_EPARSE,
                   "subtask 2/2 of operator 'gen': line 3: bad number");
}

/* A stale error in e is not taken for the failure of a hook that was not
 * called: a stopped source does not poll, and an operator without
 * on_watermark or finish has nothing to call when the task finishes (each
 * was reported as the operator's failure with the stale message). */
static void test_stale_error_without_hook(void **state)
{
    (void)state;
    fixture f;
    fx_open_with(&f, &k_bad_nosvc);
    mode = OK;
    task_request_stop(&f.t);
    for (int i = 0; i < 8 && f.t.state != TASK_DONE; i++) {
        mpf_err e;
        err_set(&e, MPF_ENOENT, "stale error from an earlier call");
        int rc = task_step(&f.t, 1 + i, &e);
        if (rc < 0)
            fail_msg("step %d failed: %s", i, e.msg);
    }
    assert_int_equal(f.t.state, TASK_DONE);
    fx_close(&f);
}

/* err_prefix is called on failure paths: it never reports success. */
static void test_err_prefix_never_success(void **state)
{
    (void)state;
    assert_int_equal(err_prefix(NULL, "operator '%s'", "x"), MPF_EINVAL);
    mpf_err e = {0};
    assert_int_equal(err_prefix(&e, "operator '%s'", "x"), MPF_EINVAL);
    assert_int_equal(e.code, MPF_EINVAL);
    assert_string_equal(e.msg, "operator 'x': invalid argument");
    err_set(&e, MPF_EIO, "disk full");
    assert_int_equal(err_prefix(&e, "operator '%s'", "x"), MPF_EIO);
    assert_string_equal(e.msg, "operator 'x': disk full");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_is_progress),
        cmocka_unit_test(test_own_message_named),
        cmocka_unit_test(test_code_without_message),
        cmocka_unit_test(test_eagain_from_process),
        cmocka_unit_test(test_error_not_progress),
        cmocka_unit_test(test_err_prefix_never_success),
        cmocka_unit_test(test_service_hook),
        cmocka_unit_test(test_stale_error_without_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
