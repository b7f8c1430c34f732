/* Unit tests for state/kvtable: many distinct keys, counting with the
 * upsert `created` flag, iteration (each entry exactly once), clear,
 * empty and long keys, colliding hashes, and the memory report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "record/keygroup.h"
#include "state/kvtable.h"

enum { NKEYS = 200000 };

static uint32_t key_of(int i, char *buf)
{
    return (uint32_t)sprintf(buf, "key-%d", i);
}

static kv_entry *upsert_str(kvtable *t, const char *k, uint32_t n, int *created)
{
    return kvtable_upsert(t, k, n, key_hash(k, n), created);
}

static kv_entry *find_str(const kvtable *t, const char *k, uint32_t n)
{
    return kvtable_find(t, k, n, key_hash(k, n));
}

/* Index i from a "key-<i>" entry, checking the stored key bytes. */
static int index_of(const kvtable *t, const kv_entry *e)
{
    uint32_t n = e->klen_p1 - 1;
    char buf[32];
    assert_true(n > 4 && n < sizeof buf);
    memcpy(buf, kvtable_key(t, e), n);
    buf[n] = '\0';
    assert_memory_equal(buf, "key-", 4);
    return atoi(buf + 4);
}

static void insert_range(kvtable *t, int n)
{
    char k[32];
    for (int i = 0; i < n; i++) {
        uint32_t kl = key_of(i, k);
        int created = -1;
        kv_entry *e = upsert_str(t, k, kl, &created);
        assert_non_null(e);
        if (created != 1)
            fail_msg("key-%d: created=%d on first insert", i, created);
        assert_true(e->val.i == 0); /* value zeroed */
        e->val.i = (int64_t)i * 3 + 1;
        assert_int_equal(t->n, (size_t)i + 1);
    }
}

/* ----------------------------------------------------------------- tests */

static void test_empty_table(void **state)
{
    (void)state;
    kvtable t;
    kvtable_init(&t);
    assert_int_equal(t.n, 0);
    assert_int_equal(kvtable_bytes(&t), 0);
    assert_null(find_str(&t, "x", 1));
    assert_null(find_str(&t, "", 0));
    size_t pos = 0;
    assert_null(kvtable_next(&t, &pos));
    kvtable_clear(&t);
    assert_int_equal(t.n, 0);
    kvtable_fini(&t);
    kvtable_fini(&t); /* fini on a finished table is harmless */
}

static void test_many_distinct_keys(void **state)
{
    (void)state;
    kvtable t;
    kvtable_init(&t);
    insert_range(&t, NKEYS);
    assert_int_equal(t.n, NKEYS);
    /* Load factor stays at most 3/4 and cap is a power of two. */
    assert_true(t.cap >= (size_t)NKEYS * 4 / 3);
    assert_int_equal(t.cap & (t.cap - 1), 0);

    char k[32];
    for (int i = 0; i < NKEYS; i++) {
        uint32_t kl = key_of(i, k);
        kv_entry *e = find_str(&t, k, kl);
        if (!e)
            fail_msg("key-%d not found", i);
        assert_true(e->val.i == (int64_t)i * 3 + 1);
        assert_int_equal(e->klen_p1, kl + 1);
        assert_memory_equal(kvtable_key(&t, e), k, kl);
        assert_true(e->hash32 == (uint32_t)key_hash(k, kl));
    }
    /* Absent keys, including prefixes and extensions of present ones. */
    for (int i = NKEYS; i < NKEYS + 20000; i++) {
        uint32_t kl = key_of(i, k);
        assert_null(find_str(&t, k, kl));
    }
    assert_null(find_str(&t, "key-", 4));
    assert_null(find_str(&t, "key-12x", 7));
    assert_null(find_str(&t, "key-1", 4));

    /* A second upsert finds the existing entry. */
    for (int i = 0; i < NKEYS; i += 7) {
        uint32_t kl = key_of(i, k);
        int created = -1;
        kv_entry *e = upsert_str(&t, k, kl, &created);
        assert_int_equal(created, 0);
        assert_true(e->val.i == (int64_t)i * 3 + 1);
    }
    assert_int_equal(t.n, NKEYS);
    kvtable_fini(&t);
    assert_int_equal(t.n, 0);
    assert_null(t.slots);
    assert_null(t.arena);
}

static void test_counting_with_created(void **state)
{
    (void)state;
    kvtable t;
    kvtable_init(&t);
    enum { DISTINCT = 5003, ROUNDS = 20 };
    char k[32];
    int creations = 0;
    /* Interleaved: key i%DISTINCT in an order that is not sorted. */
    for (int r = 0; r < ROUNDS; r++) {
        for (int j = 0; j < DISTINCT; j++) {
            int i = (int)(((int64_t)j * 2011 + r * 17) % DISTINCT);
            uint32_t kl = key_of(i, k);
            int created = -1;
            kv_entry *e = upsert_str(&t, k, kl, &created);
            assert_true(created == 0 || created == 1);
            if (created) {
                creations++;
                assert_true(e->val.i == 0);
            }
            e->val.i++;
        }
    }
    assert_int_equal(creations, DISTINCT);
    assert_int_equal(t.n, DISTINCT);
    for (int i = 0; i < DISTINCT; i++) {
        uint32_t kl = key_of(i, k);
        kv_entry *e = find_str(&t, k, kl);
        assert_non_null(e);
        assert_true(e->val.i == ROUNDS);
    }
    /* Doubles share the slot. */
    int created;
    kv_entry *e = upsert_str(&t, "sum", 3, &created);
    assert_int_equal(created, 1);
    assert_true(e->val.f == 0.0);
    for (int i = 0; i < 10; i++)
        upsert_str(&t, "sum", 3, &created)->val.f += 0.5;
    assert_true(find_str(&t, "sum", 3)->val.f == 5.0);
    kvtable_fini(&t);
}

static void test_iteration_each_once(void **state)
{
    (void)state;
    kvtable t;
    kvtable_init(&t);
    enum { N = 50000 };
    insert_range(&t, N);
    unsigned char *seen = calloc(N, 1);
    size_t pos = 0, visited = 0;
    kv_entry *e;
    while ((e = kvtable_next(&t, &pos))) {
        int i = index_of(&t, e);
        assert_true(i >= 0 && i < N);
        if (seen[i])
            fail_msg("key-%d visited twice", i);
        seen[i] = 1;
        assert_true(e->val.i == (int64_t)i * 3 + 1);
        visited++;
    }
    assert_int_equal(visited, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    /* Past the end stays at the end. */
    assert_null(kvtable_next(&t, &pos));
    assert_null(kvtable_next(&t, &pos));
    free(seen);
    kvtable_fini(&t);
}

static void test_clear(void **state)
{
    (void)state;
    kvtable t;
    kvtable_init(&t);
    insert_range(&t, 10000);
    size_t bytes = kvtable_bytes(&t);
    kvtable_clear(&t);
    assert_int_equal(t.n, 0);
    char k[32];
    for (int i = 0; i < 10000; i++) {
        uint32_t kl = key_of(i, k);
        assert_null(find_str(&t, k, kl));
    }
    size_t pos = 0;
    assert_null(kvtable_next(&t, &pos));
    /* Capacity is kept for reuse; refilling does not grow it. */
    assert_int_equal(kvtable_bytes(&t), bytes);
    insert_range(&t, 10000);
    assert_int_equal(kvtable_bytes(&t), bytes);
    for (int i = 0; i < 10000; i++) {
        uint32_t kl = key_of(i, k);
        kv_entry *e = find_str(&t, k, kl);
        assert_non_null(e);
        assert_true(e->val.i == (int64_t)i * 3 + 1);
    }
    kvtable_fini(&t);
}

/* The empty key next to others: distinct from "\0" and from "a" even
 * with the same hash. */
static void test_empty_key_among_others(void **state)
{
    (void)state;
    kvtable t;
    kvtable_init(&t);
    int created = -1;
    uint64_t h = key_hash("", 0);
    kvtable_upsert(&t, "zz", 2, key_hash("zz", 2), &created)->val.i = 9;
    kv_entry *e = kvtable_upsert(&t, "", 0, h, &created);
    assert_int_equal(created, 1);
    assert_int_equal(e->klen_p1, 1);
    e->val.i = 77;
    e = kvtable_upsert(&t, "\0", 1, h, &created);
    assert_int_equal(created, 1);
    e->val.i = 1;
    e = kvtable_upsert(&t, "a", 1, h, &created);
    assert_int_equal(created, 1);
    e->val.i = 2;
    e = kvtable_upsert(&t, "", 0, h, &created);
    assert_int_equal(created, 0);
    assert_true(e->val.i == 77);
    assert_true(kvtable_find(&t, "", 0, h)->val.i == 77);
    assert_true(kvtable_find(&t, "\0", 1, h)->val.i == 1);
    assert_true(kvtable_find(&t, "a", 1, h)->val.i == 2);
    assert_true(find_str(&t, "zz", 2)->val.i == 9);
    assert_int_equal(t.n, 4);
    kvtable_fini(&t);
}

/* The empty key as the first key of a fresh table, before any arena
 * exists (a reduce keyed by a string whose first value is ""). Under
 * UBSan this must not pass a NULL arena to memcpy/memcmp. Kept last in
 * main() because a sanitizer stop ends the process. */
static void test_empty_key_first(void **state)
{
    (void)state;
    kvtable t;
    kvtable_init(&t);
    int created = -1;
    kv_entry *e = upsert_str(&t, "", 0, &created);
    assert_int_equal(created, 1);
    assert_int_equal(e->klen_p1, 1);
    e->val.i = 77;
    assert_int_equal(t.n, 1);
    e = find_str(&t, "", 0);
    assert_non_null(e);
    assert_true(e->val.i == 77);
    e = upsert_str(&t, "", 0, &created);
    assert_int_equal(created, 0);
    assert_int_equal(t.n, 1);
    size_t pos = 0;
    e = kvtable_next(&t, &pos);
    assert_non_null(e);
    assert_int_equal(e->klen_p1, 1);
    assert_null(kvtable_next(&t, &pos));
    kvtable_fini(&t);
}

static void test_long_keys(void **state)
{
    (void)state;
    kvtable t;
    kvtable_init(&t);
    enum { NL = 40 };
    size_t lens[NL];
    char *keys[NL];
    size_t total = 0;
    for (int i = 0; i < NL; i++) {
        /* 1 KiB .. ~400 KiB, all sharing a long prefix; they differ only
         * in the last byte or in length. */
        lens[i] = 1024 + (size_t)i * 10240 + (size_t)(i % 3);
        keys[i] = malloc(lens[i]);
        memset(keys[i], 'x', lens[i]);
        keys[i][lens[i] - 1] = (char)('A' + i);
        total += lens[i];
        int created = -1;
        kv_entry *e = upsert_str(&t, keys[i], (uint32_t)lens[i], &created);
        assert_int_equal(created, 1);
        e->val.i = i;
    }
    assert_int_equal(t.n, NL);
    assert_true(t.alen == total);
    assert_true(t.acap >= total);
    assert_true(kvtable_bytes(&t) >= total);
    for (int i = 0; i < NL; i++) {
        kv_entry *e = find_str(&t, keys[i], (uint32_t)lens[i]);
        assert_non_null(e);
        assert_true(e->val.i == i);
        assert_int_equal(e->klen_p1, lens[i] + 1);
        assert_memory_equal(kvtable_key(&t, e), keys[i], lens[i]);
        /* Same bytes but one shorter: absent. */
        assert_null(find_str(&t, keys[i], (uint32_t)lens[i] - 1));
    }
    /* One key larger than the arena doubles into at once. */
    size_t huge = 3u << 20;
    char *h = malloc(huge);
    for (size_t i = 0; i < huge; i++)
        h[i] = (char)(i * 131 + 7);
    int created;
    upsert_str(&t, h, (uint32_t)huge, &created)->val.i = -5;
    assert_int_equal(created, 1);
    kv_entry *e = find_str(&t, h, (uint32_t)huge);
    assert_non_null(e);
    assert_true(e->val.i == -5);
    assert_memory_equal(kvtable_key(&t, e), h, huge);
    free(h);
    for (int i = 0; i < NL; i++)
        free(keys[i]);
    kvtable_fini(&t);
}

/* Callers pass the hash; different keys with one hash must stay apart. */
static void test_colliding_hashes(void **state)
{
    (void)state;
    kvtable t;
    kvtable_init(&t);
    enum { N = 3000 };
    char k[32];
    const uint64_t H = 42;
    for (int i = 0; i < N; i++) {
        uint32_t kl = key_of(i, k);
        int created = -1;
        kv_entry *e = kvtable_upsert(&t, k, kl, H, &created);
        assert_int_equal(created, 1);
        e->val.i = i;
    }
    assert_int_equal(t.n, N);
    for (int i = 0; i < N; i++) {
        uint32_t kl = key_of(i, k);
        kv_entry *e = kvtable_find(&t, k, kl, H);
        assert_non_null(e);
        assert_true(e->val.i == i);
        int created = -1;
        e = kvtable_upsert(&t, k, kl, H, &created);
        assert_int_equal(created, 0);
        assert_true(e->val.i == i);
    }
    assert_int_equal(t.n, N);

    /* Hashes equal in the low bits only (same home slot), and keys that
     * are prefixes of each other. (The table keeps 32 hash bits, so the
     * hashes differ within those.) */
    const char *pre[] = {"p", "pp", "ppp", "pppp"};
    for (int i = 0; i < 4; i++) {
        int created;
        uint64_t h = 7 | ((uint64_t)(i + 1) << 20);
        kvtable_upsert(&t, pre[i], (uint32_t)strlen(pre[i]), h, &created)->val.i = 1000 + i;
        assert_int_equal(created, 1);
        kvtable_upsert(&t, pre[i], (uint32_t)strlen(pre[i]), 7, &created)->val.i = 2000 + i;
        assert_int_equal(created, 1);
    }
    for (int i = 0; i < 4; i++) {
        uint64_t h = 7 | ((uint64_t)(i + 1) << 20);
        assert_true(kvtable_find(&t, pre[i], (uint32_t)strlen(pre[i]), h)->val.i == 1000 + i);
        assert_true(kvtable_find(&t, pre[i], (uint32_t)strlen(pre[i]), 7)->val.i == 2000 + i);
    }
    /* A colliding key that is absent is not found. */
    assert_null(kvtable_find(&t, "key-x", 5, H));
    assert_null(kvtable_find(&t, "p", 1, 8));

    size_t pos = 0, visited = 0;
    while (kvtable_next(&t, &pos))
        visited++;
    assert_int_equal(visited, N + 8);
    kvtable_fini(&t);
}

static void test_bytes_grow(void **state)
{
    (void)state;
    kvtable t;
    kvtable_init(&t);
    assert_int_equal(kvtable_bytes(&t), 0);
    char k[32];
    size_t prev = 0, keybytes = 0;
    int grew = 0;
    for (int i = 0; i < NKEYS; i++) {
        uint32_t kl = key_of(i, k);
        int created;
        upsert_str(&t, k, kl, &created);
        keybytes += kl;
        size_t b = kvtable_bytes(&t);
        assert_true(b >= prev);
        grew += b > prev;
        assert_true(b >= t.n * sizeof(kv_entry) + keybytes);
        assert_int_equal(b, t.cap * sizeof(kv_entry) + t.acap);
        prev = b;
    }
    assert_true(grew >= 10); /* slots and arena both doubled many times */
    assert_true(prev > (size_t)NKEYS * (sizeof(kv_entry) + 8));
    /* Re-upserting existing keys does not grow. */
    for (int i = 0; i < 1000; i++) {
        uint32_t kl = key_of(i, k);
        int created;
        upsert_str(&t, k, kl, &created);
    }
    assert_int_equal(kvtable_bytes(&t), prev);
    kvtable_fini(&t);
    assert_int_equal(kvtable_bytes(&t), 0);
}

/* Keys past 4 GiB of key bytes: offsets were 32-bit, so a key stored at
 * 4 GiB + 5 was read back from offset 5 and never found (failed before
 * the fix). The arena is faked: reallocated to 4 GiB of address space,
 * mapped lazily, with alen set just below 4 GiB. */
static void test_keys_past_4gib(void **state)
{
    (void)state;
    kvtable t;
    kvtable_init(&t);
    int created;
    upsert_str(&t, "first", 5, &created)->val.i = 1;
    size_t base = ((size_t)1 << 32) - 3;
    t.arena = realloc(t.arena, base + 4096);
    assert_non_null(t.arena);
    t.acap = base + 4096;
    t.alen = base;
    upsert_str(&t, "straddle", 8, &created)->val.i = 2; /* crosses 4 GiB */
    assert_true(created);
    upsert_str(&t, "past", 4, &created)->val.i = 3;
    assert_true(created);
    const char *keys[] = {"first", "straddle", "past"};
    for (int i = 0; i < 3; i++) {
        uint32_t n = (uint32_t)strlen(keys[i]);
        kv_entry *e = find_str(&t, keys[i], n);
        assert_non_null(e);
        assert_int_equal(e->val.i, i + 1);
        assert_memory_equal(kvtable_key(&t, e), keys[i], n);
    }
    assert_true(find_str(&t, "past", 4)->koff == base + 8);
    kvtable_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_table),
        cmocka_unit_test(test_many_distinct_keys),
        cmocka_unit_test(test_counting_with_created),
        cmocka_unit_test(test_iteration_each_once),
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_empty_key_among_others),
        cmocka_unit_test(test_long_keys),
        cmocka_unit_test(test_colliding_hashes),
        cmocka_unit_test(test_bytes_grow),
        cmocka_unit_test(test_keys_past_4gib),
        cmocka_unit_test(test_empty_key_first), /* last: see its comment */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
