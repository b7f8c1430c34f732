/* Unit tests for the keyed state of plugin functions (plugin/plugin_state):
 * value, list, map and reducing state per key against a reference model
 * under random operations on many keys, states of one name keeping their
 * kind, key-group scoping, values passed back from state itself, and
 * clear/size for every kind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin/plugin_state.h"

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint32_t rndn(uint32_t n) { return (uint32_t)(rnd() % n); }

static void add_i64(void *acc, const void *v, uint32_t size)
{
    int64_t a, b;
    memcpy(&a, acc, 8);
    memcpy(&b, v, 8);
    a = (int64_t)((uint64_t)a + (uint64_t)b); /* wraps */
    memcpy(acc, &a, 8);
}

/* A store owning every key group (one subtask). */
static void init_all(plugin_state *ps)
{
    keygroup_range kg = {0, 127};
    plugin_state_init(ps, kg, 128);
}

static void scope(plugin_state *ps, const char *key, pstate_scope *sc)
{
    int kg;
    assert_int_equal(plugin_state_scope(ps, key, (uint32_t)strlen(key), sc, &kg), 0);
}

static void test_declare(void **unused)
{
    plugin_state ps;
    init_all(&ps);
    int a = plugin_state_declare(&ps, "a", MPF_VALUE_STATE, 0, NULL);
    int b = plugin_state_declare(&ps, "b", MPF_LIST_STATE, 0, NULL);
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    assert_int_equal(plugin_state_declare(&ps, "a", MPF_VALUE_STATE, 0, NULL), a);
    assert_int_equal(plugin_state_declare(&ps, "a", MPF_MAP_STATE, 0, NULL), -1);
    assert_int_equal(plugin_state_declare(&ps, "r", MPF_REDUCING_STATE, 8, add_i64), 2);
    assert_int_equal(plugin_state_declare(&ps, "r", MPF_REDUCING_STATE, 4, add_i64), -1);
    plugin_state_fini(&ps);
}

static void test_scope_range(void **unused)
{
    plugin_state ps;
    keygroup_range kg = {10, 20};
    plugin_state_init(&ps, kg, 128);
    int inside = 0, outside = 0;
    for (int i = 0; i < 2000; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        pstate_scope sc;
        int g;
        int rc = plugin_state_scope(&ps, key, (uint32_t)strlen(key), &sc, &g);
        int want = g >= 10 && g <= 20 ? 0 : -1;
        assert_int_equal(rc, want);
        if (rc == 0) {
            assert_ptr_equal(sc.ks, &ps.stores[g - 10]);
            inside++;
        } else {
            outside++;
        }
    }
    assert_true(inside > 0 && outside > 0);
    plugin_state_fini(&ps);
}

/* Reference model per key: value bytes, a list of ints, a map int->int,
 * and a sum. */
enum { NK = 300, MAXL = 64, MAXM = 32 };
typedef struct model {
    int has_value;
    char value[64];
    uint32_t vlen;
    int nlist;
    int64_t list[MAXL];
    int nmap;
    int64_t mk[MAXM], mv[MAXM];
    int has_sum;
    int64_t sum;
} model;

static void check_key(plugin_state *ps, const pstate_scope *sc, const model *m, int v, int l,
                      int mp, int r)
{
    uint32_t len;
    const void *p = plugin_state_value_get(ps, sc, v, &len);
    assert_int_equal(p != NULL, m->has_value);
    if (p) {
        assert_int_equal(len, m->vlen);
        assert_memory_equal(p, m->value, len);
        assert_int_equal((uintptr_t)p % 8, 0);
    }
    assert_int_equal(plugin_state_size(ps, sc, l), m->nlist);
    size_t pos = 0;
    int i = 0;
    const void *item;
    while (plugin_state_list_next(ps, sc, l, &pos, &item, &len)) {
        assert_true(i < m->nlist);
        assert_int_equal(len, 8);
        assert_int_equal((uintptr_t)item % 8, 0);
        assert_memory_equal(item, &m->list[i], 8);
        i++;
    }
    assert_int_equal(i, m->nlist);
    assert_int_equal(plugin_state_size(ps, sc, mp), m->nmap);
    for (int k = 0; k < m->nmap; k++) {
        const void *mvp = plugin_state_map_get(ps, sc, mp, &m->mk[k], 8, &len);
        assert_non_null(mvp);
        assert_memory_equal(mvp, &m->mv[k], 8);
    }
    int seen = 0;
    pos = 0;
    const void *uk;
    uint32_t uklen;
    while (plugin_state_map_next(ps, sc, mp, &pos, &uk, &uklen, &p, &len)) {
        int64_t k;
        assert_int_equal(uklen, 8);
        memcpy(&k, uk, 8);
        int found = 0;
        for (int j = 0; j < m->nmap; j++)
            if (m->mk[j] == k) {
                assert_memory_equal(p, &m->mv[j], 8);
                found = 1;
            }
        assert_true(found);
        seen++;
    }
    assert_int_equal(seen, m->nmap);
    p = plugin_state_value_get(ps, sc, r, &len);
    assert_int_equal(p != NULL, m->has_sum);
    if (p)
        assert_memory_equal(p, &m->sum, 8);
}

static void test_random(void **unused)
{
    rng_state = 7;
    plugin_state ps;
    init_all(&ps);
    int v = plugin_state_declare(&ps, "v", MPF_VALUE_STATE, 0, NULL);
    int l = plugin_state_declare(&ps, "l", MPF_LIST_STATE, 0, NULL);
    int mp = plugin_state_declare(&ps, "m", MPF_MAP_STATE, 0, NULL);
    int r = plugin_state_declare(&ps, "r", MPF_REDUCING_STATE, 8, add_i64);
    model *m = calloc(NK, sizeof *m);
    char keys[NK][16];
    for (int i = 0; i < NK; i++)
        snprintf(keys[i], sizeof keys[i], i == 0 ? "" : "key-%d", i); /* "" too */
    for (int step = 0; step < 60000; step++) {
        int k = (int)rndn(NK);
        model *mk = &m[k];
        pstate_scope sc;
        scope(&ps, keys[k], &sc);
        int64_t x = (int64_t)rnd();
        switch (rndn(10)) {
        case 0: { /* value set (various sizes, also from state itself) */
            uint32_t n = rndn(60);
            char nv[64];
            for (uint32_t i = 0; i < n; i++)
                nv[i] = (char)rnd();
            uint32_t len;
            const void *cur = plugin_state_value_get(&ps, &sc, v, &len);
            if (cur && rndn(4) == 0) { /* set the value to itself */
                plugin_state_value_set(&ps, &sc, v, cur, len);
                break;
            }
            memcpy(mk->value, nv, n);
            mk->vlen = n;
            mk->has_value = 1;
            plugin_state_value_set(&ps, &sc, v, mk->value, n);
            break;
        }
        case 1:
        case 2:
            if (mk->nlist < MAXL) {
                mk->list[mk->nlist++] = x;
                plugin_state_list_add(&ps, &sc, l, &x, 8);
            }
            break;
        case 3:
        case 4: {
            int64_t key = (int64_t)rndn(48);
            int j = 0;
            while (j < mk->nmap && mk->mk[j] != key)
                j++;
            if (j == mk->nmap) {
                if (mk->nmap == MAXM)
                    break;
                mk->nmap++;
            }
            mk->mk[j] = key;
            mk->mv[j] = x;
            plugin_state_map_put(&ps, &sc, mp, &key, 8, &x, 8);
            break;
        }
        case 5: {
            int64_t key = (int64_t)rndn(48);
            int j = 0;
            while (j < mk->nmap && mk->mk[j] != key)
                j++;
            int had = j < mk->nmap;
            if (had) {
                mk->mk[j] = mk->mk[mk->nmap - 1];
                mk->mv[j] = mk->mv[mk->nmap - 1];
                mk->nmap--;
            }
            assert_int_equal(plugin_state_map_remove(&ps, &sc, mp, &key, 8), had);
            break;
        }
        case 6:
            mk->sum = mk->has_sum ? (int64_t)((uint64_t)mk->sum + (uint64_t)x) : x;
            mk->has_sum = 1;
            plugin_state_reduce_add(&ps, &sc, r, &x);
            break;
        case 7: { /* clear one kind */
            int which = (int)rndn(4);
            int id = which == 0 ? v : which == 1 ? l : which == 2 ? mp : r;
            plugin_state_clear(&ps, &sc, id);
            if (which == 0)
                mk->has_value = 0;
            else if (which == 1)
                mk->nlist = 0;
            else if (which == 2)
                mk->nmap = 0;
            else
                mk->has_sum = 0;
            break;
        }
        default:
            check_key(&ps, &sc, mk, v, l, mp, r);
        }
    }
    for (int k = 0; k < NK; k++) {
        pstate_scope sc;
        scope(&ps, keys[k], &sc);
        check_key(&ps, &sc, &m[k], v, l, mp, r);
    }
    assert_true(plugin_state_bytes(&ps) > 0);
    free(m);
    plugin_state_fini(&ps);
}

/* Map put with a user key and value that point into the store itself. */
static void test_map_self_reference(void **unused)
{
    plugin_state ps;
    init_all(&ps);
    int mp = plugin_state_declare(&ps, "m", MPF_MAP_STATE, 0, NULL);
    pstate_scope sc;
    scope(&ps, "k", &sc);
    plugin_state_map_put(&ps, &sc, mp, "a", 1, "first", 5);
    for (int i = 0; i < 200; i++) { /* copy entry "a" under new keys, growing the store */
        char nk[16];
        snprintf(nk, sizeof nk, "n%d", i);
        uint32_t len;
        const void *val = plugin_state_map_get(&ps, &sc, mp, "a", 1, &len);
        plugin_state_map_put(&ps, &sc, mp, nk, (uint32_t)strlen(nk), val, len);
    }
    size_t pos = 0;
    const void *uk, *val;
    uint32_t uklen, len;
    int n = 0;
    while (plugin_state_map_next(&ps, &sc, mp, &pos, &uk, &uklen, &val, &len)) {
        assert_int_equal(len, 5);
        assert_memory_equal(val, "first", 5);
        n++;
    }
    assert_int_equal(n, 201);
    assert_int_equal(plugin_state_size(&ps, &sc, mp), 201);
    plugin_state_clear(&ps, &sc, mp);
    assert_int_equal(plugin_state_size(&ps, &sc, mp), 0);
    assert_null(plugin_state_map_get(&ps, &sc, mp, "n5", 2, NULL));
    plugin_state_fini(&ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_declare),
        cmocka_unit_test(test_scope_range),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_map_self_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
