/* Unit tests for the state layer: state/kstore against a reference model
 * under random puts, gets, resizes and deletes (good and deliberately
 * colliding hashes, zero-length keys, large values, many deletes so that
 * backward-shift deletion and arena compaction run), iteration, clear;
 * and state/timers: ordering, dedup of (time, key), lazy deletion,
 * re-registration after delete, pop limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "state/kstore.h"
#include "state/timers.h"
#include "util/err.h"
#include "expect_fatal.h"

/* ---- a deterministic PRNG (splitmix64) ---- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint32_t rndn(uint32_t n) { return (uint32_t)(rnd() % n); }

/* ---- reference model: a plain array of keys with optional values ---- */

enum { NKEYS = 3000, MAXKEY = 40 };

typedef struct ref_ent {
    uint8_t key[MAXKEY];
    uint32_t klen;
    int present;
    uint8_t *val;
    uint32_t vcap;
} ref_ent;

static ref_ent refs[NKEYS];
static int hash_mode; /* 0: XXH3; 1: few distinct tags (long probe runs) */

static uint64_t hash_of(const ref_ent *r)
{
    uint64_t h = ks_hash(r->key, r->klen);
    if (hash_mode == 1) /* 7 distinct slot tags: heavy collisions and wrap-around */
        h = (h % 7) << 32 | (h & 0xffffffffu);
    return h;
}

static void refs_init(void)
{
    for (int i = 0; i < NKEYS; i++) {
        ref_ent *r = &refs[i];
        memset(r, 0, sizeof *r);
        /* Key 0 is the empty key; others "k<i>" plus random bytes. */
        if (i == 0) {
            r->klen = 0;
            continue;
        }
        r->klen = (uint32_t)snprintf((char *)r->key, MAXKEY, "k%d.", i);
        uint32_t extra = rndn(MAXKEY - r->klen);
        for (uint32_t b = 0; b < extra; b++)
            r->key[r->klen++] = (uint8_t)rnd();
    }
}

static void refs_fini(void)
{
    for (int i = 0; i < NKEYS; i++)
        free(refs[i].val);
}

static uint32_t random_vcap(void)
{
    uint32_t p = rndn(100);
    if (p < 2)
        return 20000 + rndn(150000); /* large values */
    if (p < 10)
        return 0;
    return rndn(200);
}

static void fill(uint8_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        v[i] = (uint8_t)rnd();
}

/* The store agrees with the model for every key. */
static void check_all(kstore *s)
{
    size_t live = 0;
    for (int i = 0; i < NKEYS; i++) {
        ref_ent *r = &refs[i];
        uint32_t vcap = 12345;
        uint8_t *v = ks_get(s, r->key, r->klen, hash_of(r), &vcap);
        if (!r->present) {
            if (v)
                fail_msg("key %d: present in store but deleted in model", i);
            continue;
        }
        live++;
        if (!v)
            fail_msg("key %d: missing from store", i);
        assert_int_equal(vcap, r->vcap);
        assert_int_equal(((uintptr_t)v) & 7u, 0);
        if (r->vcap)
            assert_memory_equal(v, r->val, r->vcap);
    }
    assert_int_equal(ks_count(s), live);
    /* Iteration visits each live key exactly once with its value. */
    char *seen = calloc(NKEYS, 1);
    size_t pos = 0, n = 0;
    const uint8_t *k;
    uint32_t klen, vcap;
    uint8_t *v;
    while (ks_next(s, &pos, &k, &klen, &v, &vcap)) {
        int idx = -1;
        if (klen == 0) {
            idx = 0;
        } else {
            assert_true(klen > 1 && k[0] == 'k');
            idx = atoi((const char *)k + 1);
        }
        assert_true(idx >= 0 && idx < NKEYS);
        ref_ent *r = &refs[idx];
        assert_true(r->present);
        assert_int_equal(klen, r->klen);
        assert_memory_equal(k, r->key, klen);
        assert_int_equal(vcap, r->vcap);
        if (vcap)
            assert_memory_equal(v, r->val, vcap);
        assert_false(seen[idx]);
        seen[idx] = 1;
        n++;
    }
    assert_int_equal(n, live);
    free(seen);
}

static void random_ops(int nops, int del_bias)
{
    kstore s;
    ks_init(&s);
    refs_init();
    size_t dead_before = 0;
    int compactions = 0;
    for (int op = 0; op < nops; op++) {
        ref_ent *r = &refs[rndn(NKEYS)];
        uint64_t h = hash_of(r);
        int what = (int)rndn(100);
        if (what < 40 - del_bias) { /* put */
            uint32_t vcap = random_vcap();
            int created = -1;
            uint8_t *v = ks_put(&s, r->key, r->klen, h, vcap, &created);
            assert_non_null(v);
            assert_int_equal(created, !r->present);
            if (!r->present) {
                for (uint32_t i = 0; i < vcap; i++)
                    if (v[i])
                        fail_msg("new value not zero-filled at byte %u", i);
                r->present = 1;
                r->vcap = vcap;
                free(r->val);
                r->val = malloc(vcap ? vcap : 1);
                fill(r->val, vcap);
                memcpy(v, r->val, vcap);
            } else if (r->vcap) { /* existing value: keeps its size and bytes */
                assert_memory_equal(v, r->val, r->vcap);
            }
        } else if (what < 60 - del_bias) { /* resize */
            uint32_t vcap = rndn(4) == 0 ? random_vcap()
                                         : (r->vcap + rndn(24) + (r->vcap > 12 ? 0 : 12)) - 12;
            uint8_t *v = ks_resize(&s, r->key, r->klen, h, vcap);
            if (!r->present) {
                assert_null(v);
                continue;
            }
            assert_non_null(v);
            uint32_t keep = r->vcap < vcap ? r->vcap : vcap;
            if (keep)
                assert_memory_equal(v, r->val, keep);
            for (uint32_t i = keep; i < vcap; i++)
                if (v[i])
                    fail_msg("grown value not zero-filled at byte %u", i);
            r->val = realloc(r->val, vcap ? vcap : 1);
            if (vcap > keep)
                memset(r->val + keep, 0, vcap - keep);
            r->vcap = vcap;
            /* Write new bytes, so stale copies would be noticed. */
            fill(r->val, vcap);
            memcpy(v, r->val, vcap);
        } else if (what < 70 - del_bias) { /* get */
            uint32_t vcap = 0;
            uint8_t *v = ks_get(&s, r->key, r->klen, h, &vcap);
            assert_int_equal(v != NULL, r->present);
            if (v) {
                assert_int_equal(vcap, r->vcap);
                if (vcap)
                    assert_memory_equal(v, r->val, vcap);
            }
        } else { /* delete */
            int was = ks_del(&s, r->key, r->klen, h);
            assert_int_equal(was, r->present);
            assert_int_equal(ks_del(&s, r->key, r->klen, h), 0);
            r->present = 0;
        }
        /* The arena never holds more garbage than it must: dead bytes
         * stay within what compaction allows plus one value. */
        assert_true(s.alen <= s.acap);
        assert_true(s.dead <= s.alen);
        if (s.dead < dead_before && s.n > 0)
            compactions++;
        dead_before = s.dead;
        if (op % 5000 == 4999)
            check_all(&s);
    }
    check_all(&s);
    assert_true(compactions > 0); /* the arena was rewritten along the way */
    assert_true(ks_bytes(&s) >= s.alen);
    /* Delete everything, in random order. */
    for (int i = 0; i < NKEYS; i++) {
        ref_ent *r = &refs[(i * 7919) % NKEYS];
        assert_int_equal(ks_del(&s, r->key, r->klen, hash_of(r)), r->present);
        r->present = 0;
    }
    assert_int_equal(ks_count(&s), 0);
    assert_int_equal(s.alen, 0);
    check_all(&s);
    ks_fini(&s);
    refs_fini();
}

static void test_random_good_hash(void **state)
{
    (void)state;
    rng_state = 1;
    hash_mode = 0;
    random_ops(200000, 0);
}

static void test_random_colliding_hash(void **state)
{
    (void)state;
    rng_state = 2;
    hash_mode = 1;
    random_ops(60000, 0);
}

static void test_random_delete_heavy(void **state)
{
    (void)state;
    rng_state = 3;
    hash_mode = 0;
    random_ops(150000, 25); /* 15% put, 20% resize, 10% get, 55% delete */
    rng_state = 4;
    hash_mode = 1;
    random_ops(40000, 25);
}

/* Growing one value in small steps (a list that gets appended to) keeps
 * its bytes while other entries come and go and the arena compacts. */
static void test_growing_value(void **state)
{
    (void)state;
    kstore s;
    ks_init(&s);
    const char *key = "list";
    uint64_t h = ks_hash(key, 4);
    ks_put(&s, key, 4, h, 0, NULL);
    uint32_t n = 0;
    char other[32];
    for (int round = 0; round < 20000; round++) {
        uint8_t *v = ks_resize(&s, key, 4, h, n + 4);
        assert_non_null(v);
        memcpy(v + n, &round, 4);
        n += 4;
        int ol = snprintf(other, sizeof other, "o%d", round);
        ks_put(&s, other, (uint32_t)ol, ks_hash(other, (uint32_t)ol), 40, NULL);
        if (round >= 10) {
            ol = snprintf(other, sizeof other, "o%d", round - 10);
            assert_int_equal(ks_del(&s, other, (uint32_t)ol, ks_hash(other, (uint32_t)ol)), 1);
        }
    }
    uint32_t vcap;
    uint8_t *v = ks_get(&s, key, 4, h, &vcap);
    assert_non_null(v);
    assert_int_equal(vcap, n);
    for (int round = 0; round < 20000; round++) {
        int x;
        memcpy(&x, v + 4 * round, 4);
        assert_int_equal(x, round);
    }
    assert_int_equal(ks_count(&s), 11);
    /* Garbage was reclaimed: the arena is not the sum of all sizes. */
    assert_true(s.acap < (size_t)20000 * 20000 / 4);
    ks_clear(&s);
    assert_int_equal(ks_count(&s), 0);
    assert_null(ks_get(&s, key, 4, h, NULL));
    ks_put(&s, key, 4, h, 8, NULL);
    assert_non_null(ks_get(&s, key, 4, h, NULL));
    ks_fini(&s);
}

/* A fixed-shape store (8-byte keys, 12-byte values, no entry header)
 * against a model, with enough deletes to compact its arena. */
static void test_fixed_store(void **state)
{
    (void)state;
    enum { N = 5000 };
    static uint8_t model[N][12];
    static char present[N];
    memset(present, 0, sizeof present);
    rng_state = 9;
    kstore s;
    ks_init_fixed(&s, 8, 12);
    size_t live = 0, dead_before = 0;
    int compactions = 0;
    for (int op = 0; op < 300000; op++) {
        uint64_t k = rndn(N);
        uint64_t h = ks_hash(&k, 8);
        uint32_t what = rndn(10);
        if (what < 4) {
            int created = -1;
            uint8_t *v = ks_put(&s, &k, 8, h, 12, &created);
            assert_int_equal(created, !present[k]);
            assert_int_equal(((uintptr_t)v) & 7u, 0);
            if (created) {
                for (int b = 0; b < 12; b++)
                    assert_int_equal(v[b], 0);
                present[k] = 1;
                live++;
            } else {
                assert_memory_equal(v, model[k], 12);
            }
            fill(model[k], 12);
            memcpy(v, model[k], 12);
        } else if (what < 6) {
            uint32_t vcap = 0;
            uint8_t *v = ks_get(&s, &k, 8, h, &vcap);
            assert_int_equal(v != NULL, present[k]);
            if (v) {
                assert_int_equal(vcap, 12);
                assert_memory_equal(v, model[k], 12);
            }
        } else {
            assert_int_equal(ks_del(&s, &k, 8, h), present[k]);
            live -= present[k];
            present[k] = 0;
        }
        assert_int_equal(ks_count(&s), live);
        if (s.dead < dead_before && s.n > 0)
            compactions++;
        dead_before = s.dead;
    }
    assert_true(compactions > 0);
    /* Entries are 8 + 16 bytes: no header. */
    assert_true(s.alen - s.dead == live * 24);
    size_t pos = 0, n = 0;
    const uint8_t *key;
    uint32_t klen, vcap;
    uint8_t *v;
    while (ks_next(&s, &pos, &key, &klen, &v, &vcap)) {
        uint64_t k;
        assert_int_equal(klen, 8);
        assert_int_equal(vcap, 12);
        memcpy(&k, key, 8);
        assert_true(k < N && present[k]);
        assert_memory_equal(v, model[k], 12);
        n++;
    }
    assert_int_equal(n, live);
    ks_fini(&s);
    /* ks_fini keeps the shape: the store can be used again. */
    uint64_t k = 1;
    assert_non_null(ks_put(&s, &k, 8, ks_hash(&k, 8), 12, NULL));
    assert_int_equal(s.alen, 24);
    ks_fini(&s);
}

static void test_empty_store(void **state)
{
    (void)state;
    kstore s;
    ks_init(&s);
    assert_null(ks_get(&s, "", 0, ks_hash("", 0), NULL));
    assert_null(ks_resize(&s, "a", 1, ks_hash("a", 1), 8));
    assert_int_equal(ks_del(&s, "a", 1, ks_hash("a", 1)), 0);
    size_t pos = 0;
    const uint8_t *k;
    uint32_t kl;
    uint8_t *v;
    assert_int_equal(ks_next(&s, &pos, &k, &kl, &v, NULL), 0);
    assert_int_equal(ks_bytes(&s), 0);
    ks_clear(&s);
    ks_fini(&s);
}

/* ---- timers ---- */

typedef struct tref {
    int64_t time;
    char key[16];
    uint32_t klen;
    int live;
} tref;

static int tref_cmp(const void *a, const void *b)
{
    const tref *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    return memcmp(x->key, y->key, x->klen);
}

static void test_timers_basic(void **state)
{
    (void)state;
    timer_svc ts;
    timers_init(&ts);
    assert_int_equal(timers_next(&ts), INT64_MAX);
    int64_t t;
    const uint8_t *k;
    uint32_t kl;
    assert_int_equal(timers_pop(&ts, INT64_MAX, &t, &k, &kl), 0);
    assert_int_equal(timers_add(&ts, 30, "a", 1), 1);
    assert_int_equal(timers_add(&ts, 10, "b", 1), 1);
    assert_int_equal(timers_add(&ts, 20, "", 0), 1);
    assert_int_equal(timers_add(&ts, 10, "b", 1), 0); /* dedup */
    assert_int_equal(timers_add(&ts, 10, "a", 1), 1); /* same time, other key */
    assert_int_equal(timers_count(&ts), 4);
    assert_int_equal(timers_next(&ts), 10);
    /* Lazy deletion: the deleted top is skipped. */
    assert_int_equal(timers_del(&ts, 10, "b", 1), 1);
    assert_int_equal(timers_del(&ts, 10, "b", 1), 0);
    assert_int_equal(timers_del(&ts, 99, "zz", 2), 0);
    assert_int_equal(timers_count(&ts), 3);
    assert_int_equal(timers_pop(&ts, 9, &t, &k, &kl), 0); /* nothing due */
    assert_int_equal(timers_pop(&ts, 10, &t, &k, &kl), 1);
    assert_int_equal(t, 10);
    assert_int_equal(kl, 1);
    assert_memory_equal(k, "a", 1);
    assert_int_equal(timers_pop(&ts, 15, &t, &k, &kl), 0);
    assert_int_equal(timers_next(&ts), 20);
    assert_int_equal(timers_pop(&ts, 25, &t, &k, &kl), 1);
    assert_int_equal(t, 20);
    assert_int_equal(kl, 0);
    /* Delete and re-register: fires once. */
    assert_int_equal(timers_del(&ts, 30, "a", 1), 1);
    assert_int_equal(timers_add(&ts, 30, "a", 1), 1);
    assert_int_equal(timers_add(&ts, 30, "a", 1), 0);
    assert_int_equal(timers_pop(&ts, INT64_MAX, &t, &k, &kl), 1);
    assert_int_equal(t, 30);
    assert_int_equal(timers_pop(&ts, INT64_MAX, &t, &k, &kl), 0);
    assert_int_equal(timers_count(&ts), 0);
    /* A popped timer can be registered again. */
    assert_int_equal(timers_add(&ts, 30, "a", 1), 1);
    assert_int_equal(timers_count(&ts), 1);
    assert_true(timers_bytes(&ts) > 0);
    timers_fini(&ts);
}

static void test_timers_random(void **state)
{
    (void)state;
    rng_state = 42;
    enum { N = 20000 };
    tref *refs_t = calloc(N, sizeof *refs_t);
    timer_svc ts;
    timers_init(&ts);
    int n = 0;
    int64_t popped_upto = INT64_MIN;
    for (int round = 0; round < 6; round++) {
        /* Register (some duplicates, a long key now and then). */
        for (int i = 0; i < 3000 && n < N; i++) {
            tref *r = &refs_t[n];
            r->time = (int64_t)(popped_upto == INT64_MIN ? 0 : popped_upto + 1) +
                      (int64_t)rndn(5000) - (i % 50 == 0 ? 2500 : 0);
            r->klen = rndn(16);
            for (uint32_t b = 0; b < r->klen; b++)
                r->key[b] = (char)('a' + rndn(3));
            int dup = 0;
            for (int j = 0; j < n; j++)
                if (refs_t[j].live && refs_t[j].time == r->time && refs_t[j].klen == r->klen &&
                    memcmp(refs_t[j].key, r->key, r->klen) == 0)
                    dup = 1;
            assert_int_equal(timers_add(&ts, r->time, r->key, r->klen), !dup);
            if (!dup) {
                r->live = 1;
                n++;
            }
        }
        /* Delete about a third, and re-add some of those. */
        for (int j = 0; j < n; j++) {
            if (!refs_t[j].live || rndn(3))
                continue;
            assert_int_equal(timers_del(&ts, refs_t[j].time, refs_t[j].key, refs_t[j].klen), 1);
            refs_t[j].live = 0;
            if (rndn(4) == 0) {
                assert_int_equal(timers_add(&ts, refs_t[j].time, refs_t[j].key,
                                            refs_t[j].klen), 1);
                refs_t[j].live = 1;
            }
        }
        size_t live = 0;
        for (int j = 0; j < n; j++)
            live += refs_t[j].live;
        assert_int_equal(timers_count(&ts), live);
        /* Pop everything up to a limit: times in order, exactly the live
         * timers at or below it. */
        int64_t upto = popped_upto == INT64_MIN ? 2000 : popped_upto + 2500;
        if (round == 5)
            upto = INT64_MAX;
        tref *got = calloc(live + 1, sizeof *got);
        size_t ng = 0;
        int64_t t, last = INT64_MIN;
        const uint8_t *k;
        uint32_t kl;
        while (timers_pop(&ts, upto, &t, &k, &kl)) {
            assert_true(t <= upto);
            assert_true(t >= last);
            last = t;
            assert_true(ng < live);
            got[ng].time = t;
            got[ng].klen = kl;
            memcpy(got[ng].key, k, kl);
            ng++;
        }
        tref *want = calloc(live + 1, sizeof *want);
        size_t nw = 0;
        for (int j = 0; j < n; j++)
            if (refs_t[j].live && refs_t[j].time <= upto) {
                want[nw++] = refs_t[j];
                refs_t[j].live = 0;
            }
        assert_int_equal(ng, nw);
        qsort(got, ng, sizeof *got, tref_cmp);
        qsort(want, nw, sizeof *want, tref_cmp);
        for (size_t j = 0; j < ng; j++) {
            assert_int_equal(got[j].time, want[j].time);
            assert_int_equal(got[j].klen, want[j].klen);
            assert_memory_equal(got[j].key, want[j].key, got[j].klen);
        }
        int64_t next = timers_next(&ts);
        if (upto != INT64_MAX)
            assert_true(next > upto);
        else
            assert_int_equal(next, INT64_MAX);
        free(got);
        free(want);
        popped_upto = upto;
    }
    assert_int_equal(timers_count(&ts), 0);
    assert_int_equal(ts.n, 0); /* lazily deleted entries are gone too */
    assert_int_equal(ts.key_bytes, 0);
    timers_fini(&ts);
    free(refs_t);
}

/* Long keys (beyond the on-stack buffer) work like short ones. */
static void test_timers_long_keys(void **state)
{
    (void)state;
    timer_svc ts;
    timers_init(&ts);
    char big[1000];
    memset(big, 'x', sizeof big);
    assert_int_equal(timers_add(&ts, 5, big, sizeof big), 1);
    assert_int_equal(timers_add(&ts, 5, big, sizeof big), 0);
    big[999] = 'y';
    assert_int_equal(timers_add(&ts, 4, big, sizeof big), 1);
    assert_int_equal(timers_del(&ts, 4, big, sizeof big), 1);
    int64_t t;
    const uint8_t *k;
    uint32_t kl;
    assert_int_equal(timers_pop(&ts, 100, &t, &k, &kl), 1);
    assert_int_equal(t, 5);
    assert_int_equal(kl, sizeof big);
    assert_int_equal(k[999], 'x');
    assert_int_equal(timers_pop(&ts, 100, &t, &k, &kl), 0);
    timers_fini(&ts);
}

/* ---- the arena limit (32 GiB: offsets in 32 bits of 8-byte units),
 * injected small so a test can reach it ---- */

enum { LIMIT = 64 * 1024 };

/* Entries of 8 + 8 + 120 = 136 bytes until the store is full. */
static size_t put_until(kstore *s, size_t n)
{
    char key[8];
    size_t i;
    for (i = 0; i < n; i++) {
        memcpy(key, &i, 8);
        int created;
        uint8_t *v = ks_put(s, key, 8, ks_hash(key, 8), 120, &created);
        assert_true(created);
        memset(v, (int)(i & 0xff), 120);
    }
    return i;
}

static void fill_past_limit(void)
{
    static const err_ctx ctx = {"w", 2, 4};
    ks_set_limit_for_test(LIMIT);
    err_ctx_swap(&ctx);
    kstore s;
    ks_init(&s);
    put_until(&s, LIMIT / 136 + 1); /* the last one does not fit */
}

/* Filling a store past its limit stops with a fatal error naming the
 * operator, the subtask and the limit, before an offset can wrap. */
static void test_limit_fatal(void **state)
{
    (void)state;
    expect_fatal(fill_past_limit, "^mpiflow: operator 'w' subtask 3/4: keyed state store full: "
                                  "[0-9]+ bytes held, 136 more would pass its limit of 65536 "
                                  "bytes");
}

/* Up to the limit every entry is stored and found; deleted entries'
 * space is compacted away rather than counted against the limit. */
static void test_limit_reached_exactly(void **state)
{
    (void)state;
    ks_set_limit_for_test(LIMIT);
    kstore s;
    ks_init(&s);
    size_t n = put_until(&s, LIMIT / 136);
    assert_true(s.acap <= LIMIT);
    char key[8];
    for (size_t i = 0; i < n; i++) {
        memcpy(key, &i, 8);
        uint32_t vcap;
        uint8_t *v = ks_get(&s, key, 8, ks_hash(key, 8), &vcap);
        assert_non_null(v);
        assert_int_equal(vcap, 120);
        assert_int_equal(v[119], (int)(i & 0xff));
    }
    /* Churn: delete half and insert as many, many times over. */
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < n; i += 2) {
            memcpy(key, &i, 8);
            assert_int_equal(ks_del(&s, key, 8, ks_hash(key, 8)), 1);
        }
        for (size_t i = 0; i < n; i += 2) {
            memcpy(key, &i, 8);
            int created;
            ks_put(&s, key, 8, ks_hash(key, 8), 120, &created);
            assert_true(created);
        }
        assert_true(s.alen <= LIMIT);
    }
    assert_int_equal(ks_count(&s), n);
    ks_fini(&s);
    ks_set_limit_for_test(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_store),
        cmocka_unit_test(test_random_good_hash),
        cmocka_unit_test(test_random_colliding_hash),
        cmocka_unit_test(test_random_delete_heavy),
        cmocka_unit_test(test_growing_value),
        cmocka_unit_test(test_fixed_store),
        cmocka_unit_test(test_timers_basic),
        cmocka_unit_test(test_timers_random),
        cmocka_unit_test(test_timers_long_keys),
        cmocka_unit_test(test_limit_fatal),
        cmocka_unit_test(test_limit_reached_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
