/* Sequence splits: across any chain of restores at changing parallelism,
 * every row below the limit is produced exactly once, each subtask's rows
 * only grow, and version-1 blobs (a bare next row) still restore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "connectors/datagen/seqsplit.h"
#include "runtime/snapshot.h"

typedef struct world {
    op_spec spec;
    op_inst *oi;
    seqsplit *s;
    int p;
} world;

static void world_open(world *w, int p, int64_t limit)
{
    memset(&w->spec, 0, sizeof w->spec);
    w->spec.parallelism = p;
    w->p = p;
    w->oi = calloc((size_t)p, sizeof *w->oi);
    w->s = calloc((size_t)p, sizeof *w->s);
    for (int i = 0; i < p; i++) {
        w->oi[i].spec = &w->spec;
        w->oi[i].subtask = i;
        seqsplit_init(&w->s[i], i, p, limit);
    }
}

static void world_close(world *w)
{
    for (int i = 0; i < w->p; i++)
        seqsplit_fini(&w->s[i]);
    free(w->oi);
    free(w->s);
}

/* Snapshot every subtask of `from`, open `to` at parallelism p and restore
 * it from all blobs (union state). */
static void rescale(world *from, world *to, int p, int64_t limit)
{
    snap_writer w;
    snapw_init(&w, 1);
    for (int i = 0; i < from->p; i++) {
        w.uid = "src";
        w.subtask = i;
        seqsplit_snapshot(&from->s[i], &w);
    }
    world_open(to, p, limit);
    mpf_err e = {0};
    for (int k = 0; k < p; k++) {
        for (size_t b = 0; b < w.n; b++) {
            snap_blob sb = {SNAP_OPERATOR, -1, w.v[b].subtask, w.v[b].data, w.v[b].len};
            assert_int_equal(seqsplit_restore(&to->s[k], &sb, &e), 0);
        }
        assert_int_equal(seqsplit_restore_end(&to->s[k], &to->oi[k], &e), 0);
    }
    snapw_fini(&w);
    world_close(from);
}

static void check_chain(const int *pars, int npars, int64_t limit, int64_t upto, unsigned seed)
{
    int64_t n = limit >= 0 ? limit : upto;
    unsigned char *seen = calloc((size_t)n, 1);
    int64_t total = 0;
    world cur;
    world_open(&cur, pars[0], limit);
    srand(seed);
    for (int step = 0; step < npars; step++) {
        int64_t *last = calloc((size_t)cur.p, sizeof *last);
        for (int i = 0; i < cur.p; i++)
            last[i] = -1;
        /* Each subtask takes a random number of rows (skewed). */
        int final = step == npars - 1;
        for (int i = 0; i < cur.p; i++) {
            int64_t want = final && limit >= 0 ? INT64_MAX : rand() % (500 * (i + 1));
            for (int64_t t = 0; t < want; t++) {
                int64_t r = seqsplit_take(&cur.s[i]);
                if (r < 0)
                    break;
                assert_true(r >= 0 && r < n);
                assert_int_equal(seen[r], 0); /* never twice */
                assert_true(r > last[i]);     /* in order within a subtask */
                seen[r] = 1;
                last[i] = r;
                total++;
            }
        }
        free(last);
        /* what the subtasks have left is what was not taken (the
         * generator's pendingRecords); unbounded: not known */
        int64_t left = 0;
        for (int i = 0; i < cur.p && left >= 0; i++) {
            int64_t k = seqsplit_left(&cur.s[i]);
            left = k < 0 ? -1 : left + k;
        }
        assert_int_equal(left, limit >= 0 ? limit - total : -1);
        if (!final) {
            world next;
            rescale(&cur, &next, pars[step + 1], limit);
            cur = next;
        }
    }
    if (limit >= 0) {
        assert_int_equal(total, limit); /* never lost */
    } else {
        /* Unbounded: every row below the smallest next is produced. */
        int64_t lo = INT64_MAX;
        for (int i = 0; i < cur.p; i++)
            for (int k = 0; k < cur.s[i].n; k++)
                if (cur.s[i].r[k].next < lo)
                    lo = cur.s[i].r[k].next;
        lo = lo < upto ? lo : upto;
        for (int64_t r = 0; r < lo; r++)
            assert_int_equal(seen[r], 1);
    }
    world_close(&cur);
    free(seen);
}

static void test_bounded_chains(void **state)
{
    (void)state;
    static const int chains[][6] = {{3, 2, 3, 2, 1, 4}, {1, 4, 2, 5, 3, 3}, {4, 4, 1, 1, 2, 7}};
    for (unsigned seed = 1; seed <= 20; seed++)
        for (size_t c = 0; c < sizeof chains / sizeof chains[0]; c++)
            check_chain(chains[c], 6, 20000, 0, seed);
}

static void test_unbounded_chain(void **state)
{
    (void)state;
    static const int chain[] = {3, 2, 3, 1, 2};
    for (unsigned seed = 1; seed <= 10; seed++)
        check_chain(chain, 5, -1, 30000, seed);
}

/* A blob of an earlier build (a bare next row, stride = old parallelism),
 * restored at another parallelism. */
static void test_version1_blobs(void **state)
{
    (void)state;
    int64_t next[3] = {30, 13, 20}; /* subtask i of 3 had produced i, i+3, ... below next[i] */
    enum { LIMIT = 100 };
    unsigned char seen[LIMIT] = {0};
    for (int i = 0; i < 3; i++)
        for (int64_t r = i; r < next[i]; r += 3)
            seen[r] = 1;
    op_spec spec = {0};
    spec.parallelism = 2;
    mpf_err e = {0};
    for (int k = 0; k < 2; k++) {
        op_inst oi = {0};
        oi.spec = &spec;
        oi.subtask = k;
        seqsplit s;
        seqsplit_init(&s, k, 2, LIMIT);
        for (int i = 0; i < 3; i++) {
            snap_blob b = {SNAP_OPERATOR, -1, i, (const uint8_t *)&next[i], sizeof next[i]};
            assert_int_equal(seqsplit_restore(&s, &b, &e), 0);
        }
        assert_int_equal(seqsplit_restore_end(&s, &oi, &e), 0);
        for (int64_t r; (r = seqsplit_take(&s)) >= 0;) {
            assert_int_equal(seen[r], 0);
            seen[r] = 1;
        }
        seqsplit_fini(&s);
    }
    for (int r = 0; r < LIMIT; r++)
        assert_int_equal(seen[r], 1);
}

/* Missing or malformed blobs are errors, never a silent gap. */
static void test_bad_blobs(void **state)
{
    (void)state;
    op_spec spec = {0};
    spec.parallelism = 2;
    op_inst oi = {0};
    oi.spec = &spec;
    mpf_err e = {0};
    seqsplit s;
    seqsplit_init(&s, 0, 2, 100);
    int64_t next = 4;
    snap_blob b = {SNAP_OPERATOR, -1, 2, (const uint8_t *)&next, sizeof next}; /* only subtask 2 */
    assert_int_equal(seqsplit_restore(&s, &b, &e), 0);
    assert_int_not_equal(seqsplit_restore_end(&s, &oi, &e), 0);
    assert_non_null(strstr(e.msg, "missing"));
    uint8_t junk[13] = {2, 0, 0, 0, 9, 0, 0, 0, 1};
    snap_blob j = {SNAP_OPERATOR, -1, 0, junk, sizeof junk};
    memset(&e, 0, sizeof e);
    assert_int_not_equal(seqsplit_restore(&s, &j, &e), 0);
    assert_non_null(strstr(e.msg, "malformed"));
    seqsplit_fini(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_chains),
        cmocka_unit_test(test_unbounded_chain),
        cmocka_unit_test(test_version1_blobs),
        cmocka_unit_test(test_bad_blobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
