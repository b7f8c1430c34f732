/* The TaskManager's checkpoint state machine (runtime/tmckpt): normal
 * checkpoints, a decline, a stale barrier after the next trigger, a
 * subsumed checkpoint, a trigger while the previous write is in progress,
 * an abort (also what a JobManager timeout sends), and a cancel while a
 * write runs. The write is a fake that records what it was given and can
 * be held back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/tmckpt.h"

static atomic_int hold;      /* the fake write waits while set */
static int64_t written[16];  /* ids written, in order */
static size_t written_blobs[16];
static int nwritten;
static int fail_id;          /* the fake write fails this id */

static int fake_write(const tmck *c, tmck_snap *s, mpf_err *e)
{
    (void)c;
    while (atomic_load(&hold))
        sched_yield();
    written[nwritten] = s->id;
    written_blobs[nwritten++] = s->w.n;
    if (s->id == fail_id)
        return err_set(e, MPF_EIO, "disk full");
    s->bytes = 100 * s->id;
    return 0;
}

static void setup(tmck *c)
{
    tmck_init(c, "job", 1, 128);
    c->write_fn = fake_write;
    nwritten = 0;
    fail_id = 0;
    atomic_store(&hold, 0);
}

/* A task snapshots one blob into checkpoint id (if not subsumed). */
static int snap(tmck *c, int64_t id, int subtask)
{
    snap_writer *w = tmck_snap_for(c, id);
    if (!w)
        return 0;
    w->uid = "op";
    w->subtask = subtask;
    snap_put(w, SNAP_OPERATOR, -1, "x", 1);
    return 1;
}

/* Progress until an ACK comes (or n tries); returns it (caller frees) or NULL. */
static char *ack_after(tmck *c, int64_t min_snapped, int tries)
{
    char *ack = NULL;
    for (int i = 0; i < tries; i++) {
        if (tmck_progress(c, min_snapped, &ack))
            return ack;
        sched_yield();
    }
    return NULL;
}

static void expect_ack(tmck *c, int64_t min_snapped, const char *want)
{
    char *ack = ack_after(c, min_snapped, 1000000);
    assert_non_null(ack);
    assert_string_equal(ack, want);
    free(ack);
}

static void test_normal(void **state)
{
    (void)state;
    tmck c;
    setup(&c);
    assert_int_equal(tmck_trigger(&c, 1, "/d/chk-1", 1000), 1);
    assert_int_equal(snap(&c, 1, 0), 1);
    char *ack;
    assert_int_equal(tmck_progress(&c, 0, &ack), 0); /* one task has not snapshotted */
    assert_int_equal(snap(&c, 1, 1), 1);
    /* the longest alignment of the checkpoint's tasks goes with the ACK */
    tmck_alignment(&c, 1, 2500000);
    tmck_alignment(&c, 1, 700000);
    tmck_alignment(&c, 7, 9000000); /* not the one collecting: ignored */
    expect_ack(&c, 1, "1 ok 100 2500");
    assert_int_equal(nwritten, 1);
    assert_int_equal(written[0], 1);
    assert_int_equal(written_blobs[0], 2);
    tmck_fini(&c);
}

static void test_decline(void **state)
{
    (void)state;
    tmck c;
    setup(&c);
    fail_id = 1;
    tmck_trigger(&c, 1, "/d/chk-1", 1000);
    snap(&c, 1, 0);
    expect_ack(&c, 1, "1 fail disk full");
    /* the next one is unaffected */
    tmck_trigger(&c, 2, "/d/chk-2", 2000);
    snap(&c, 2, 0);
    expect_ack(&c, 2, "2 ok 200 0");
    tmck_fini(&c);
}

/* Trigger 1; a source snapshots 1; 1 is declined elsewhere (ABORT 1) and
 * 2 triggered; the source snapshots 2; then the multi-input task finishes
 * aligning barrier 1 -- it must get no writer -- and then takes 2. */
static void test_stale_barrier(void **state)
{
    (void)state;
    tmck c;
    setup(&c);
    tmck_trigger(&c, 1, "/d/chk-1", 1000);
    assert_int_equal(snap(&c, 1, 0), 1);
    tmck_abort(&c, 1);
    assert_int_equal(tmck_trigger(&c, 2, "/d/chk-2", 2000), 1);
    assert_int_equal(snap(&c, 2, 0), 1);
    assert_int_equal(snap(&c, 1, 1), 0); /* stale: no snapshot, no reset */
    assert_int_equal(snap(&c, 2, 1), 1);
    expect_ack(&c, 2, "2 ok 200 0");
    assert_int_equal(nwritten, 1);
    assert_int_equal(written[0], 2);
    assert_int_equal(written_blobs[0], 2); /* both tasks' snapshots of 2 */
    tmck_fini(&c);
}

/* The same without the ABORT reaching us first: trigger 2 subsumes 1. */
static void test_subsumed(void **state)
{
    (void)state;
    tmck c;
    setup(&c);
    tmck_trigger(&c, 1, "/d/chk-1", 1000);
    snap(&c, 1, 0);
    tmck_trigger(&c, 2, "/d/chk-2", 2000);
    assert_int_equal(tmck_trigger(&c, 1, "/d/chk-1", 1000), 0); /* a late trigger 1 */
    snap(&c, 2, 0);
    assert_int_equal(snap(&c, 1, 1), 0);
    snap(&c, 2, 1);
    expect_ack(&c, 2, "2 ok 200 0");
    assert_int_equal(nwritten, 1);
    assert_int_equal(written_blobs[0], 2);
    /* a barrier of a newer checkpoint that overtook its trigger */
    assert_int_equal(snap(&c, 3, 0), 1);
    char *ack;
    assert_int_equal(tmck_progress(&c, 3, &ack), 0); /* no directory yet */
    tmck_trigger(&c, 3, "/d/chk-3", 3000);
    expect_ack(&c, 3, "3 ok 300 0");
    assert_int_equal(written_blobs[1], 1);
    tmck_fini(&c);
}

/* Checkpoint 2 is collected while 1 is still being written; its write
 * waits for the first (nothing blocks) and both are acknowledged in order. */
static void test_trigger_while_writing(void **state)
{
    (void)state;
    tmck c;
    setup(&c);
    atomic_store(&hold, 1);
    tmck_trigger(&c, 1, "/d/chk-1", 1000);
    snap(&c, 1, 0);
    char *ack;
    assert_int_equal(tmck_progress(&c, 1, &ack), 0); /* the write of 1 starts */
    assert_true(tmck_busy(&c));
    assert_int_equal(tmck_trigger(&c, 2, "/d/chk-2", 2000), 1);
    assert_int_equal(snap(&c, 2, 0), 1);
    for (int i = 0; i < 100; i++)
        assert_int_equal(tmck_progress(&c, 2, &ack), 0); /* 1 still writing */
    atomic_store(&hold, 0);
    expect_ack(&c, 2, "1 ok 100 0");
    expect_ack(&c, 2, "2 ok 200 0");
    assert_int_equal(nwritten, 2);
    assert_int_equal(written[0], 1);
    assert_int_equal(written[1], 2);
    tmck_fini(&c);
}

/* ABORT (a decline elsewhere or a JobManager timeout): what was collected
 * goes, later barriers of it take no snapshot, and an abort of a write in
 * progress suppresses its ACK. */
static void test_abort(void **state)
{
    (void)state;
    tmck c;
    setup(&c);
    tmck_trigger(&c, 1, "/d/chk-1", 1000);
    snap(&c, 1, 0);
    tmck_abort(&c, 1);
    assert_int_equal(snap(&c, 1, 1), 0);
    assert_null(ack_after(&c, 1, 1000));
    assert_int_equal(nwritten, 0);
    atomic_store(&hold, 1);
    tmck_trigger(&c, 2, "/d/chk-2", 2000);
    snap(&c, 2, 0);
    char *ack;
    assert_int_equal(tmck_progress(&c, 2, &ack), 0);
    tmck_abort(&c, 2);
    atomic_store(&hold, 0);
    while (tmck_busy(&c)) {
        assert_int_equal(tmck_progress(&c, 2, &ack), 0); /* no ACK for an aborted write */
        sched_yield();
    }
    assert_int_equal(nwritten, 1);
    tmck_fini(&c);
}

/* A cancel waits for the writer without blocking, then forgets all. */
static void test_cancel_while_writing(void **state)
{
    (void)state;
    tmck c;
    setup(&c);
    atomic_store(&hold, 1);
    tmck_trigger(&c, 5, "/d/chk-5", 5000);
    snap(&c, 5, 0);
    char *ack;
    tmck_progress(&c, 5, &ack);
    assert_true(tmck_busy(&c));
    atomic_store(&hold, 0);
    while (tmck_busy(&c))
        if (tmck_progress(&c, 0, &ack))
            free(ack);
    tmck_reset(&c);
    assert_int_equal(tmck_trigger(&c, 1, "/d/chk-1", 1000), 1); /* a restart counts anew */
    tmck_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_decline),
        cmocka_unit_test(test_stale_barrier),
        cmocka_unit_test(test_subsumed),
        cmocka_unit_test(test_trigger_while_writing),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_cancel_while_writing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
