/* Open-addressing (linear probing) byte-key hash table (state layer). */
#include "state/kvtable.h"

#include <stdlib.h>
#include <string.h>
#include "util/xmalloc.h"

_Static_assert(sizeof(kv_entry) == 24, "kv_entry grew: more memory per key");

void kvtable_init(kvtable *t)
{
    memset(t, 0, sizeof *t);
}

void kvtable_fini(kvtable *t)
{
    free(t->slots);
    free(t->arena);
    kvtable_init(t);
}

void kvtable_clear(kvtable *t)
{
    if (t->slots)
        memset(t->slots, 0, t->cap * sizeof *t->slots);
    t->n = 0;
    t->alen = 0;
}

static void kvtable_grow(kvtable *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 64;
    if (!t->arena) { /* memcpy/memcmp need a real pointer, even for empty keys */
        t->acap = 1024;
        t->arena = xmalloc(t->acap);
    }
    kv_entry *ns = xcalloc(ncap, sizeof *ns);
    for (size_t i = 0; i < t->cap; i++) {
        kv_entry *e = &t->slots[i];
        if (!e->klen_p1)
            continue;
        size_t j = e->hash32 & (ncap - 1);
        while (ns[j].klen_p1)
            j = (j + 1) & (ncap - 1);
        ns[j] = *e;
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
}

kv_entry *kvtable_find(const kvtable *t, const void *key, uint32_t klen, uint64_t hash)
{
    if (!t->cap)
        return NULL;
    uint32_t h32 = (uint32_t)hash;
    size_t mask = t->cap - 1, i = h32 & mask;
    for (;;) {
        kv_entry *e = &t->slots[i];
        if (!e->klen_p1)
            return NULL;
        if (e->hash32 == h32 && e->klen_p1 == klen + 1 &&
            memcmp(t->arena + e->koff, key, klen) == 0)
            return e;
        i = (i + 1) & mask;
    }
}

kv_entry *kvtable_upsert(kvtable *t, const void *key, uint32_t klen, uint64_t hash,
                         int *created)
{
    if ((t->n + 1) * 4 > t->cap * 3)
        kvtable_grow(t);
    uint32_t h32 = (uint32_t)hash;
    size_t mask = t->cap - 1, i = h32 & mask;
    for (;;) {
        kv_entry *e = &t->slots[i];
        if (!e->klen_p1)
            break;
        if (e->hash32 == h32 && e->klen_p1 == klen + 1 &&
            memcmp(t->arena + e->koff, key, klen) == 0) {
            *created = 0;
            return e;
        }
        i = (i + 1) & mask;
    }
    if (t->alen + klen > t->acap) {
        size_t na = t->acap;
        while (t->alen + klen > na)
            na *= 2;
        t->arena = xrealloc(t->arena, na);
        t->acap = na;
    }
    memcpy(t->arena + t->alen, key, klen);
    kv_entry *e = &t->slots[i];
    e->hash32 = h32;
    e->koff = t->alen;
    e->klen_p1 = klen + 1;
    e->val.i = 0;
    t->alen += klen;
    t->n++;
    *created = 1;
    return e;
}

kv_entry *kvtable_next(const kvtable *t, size_t *pos)
{
    while (*pos < t->cap) {
        kv_entry *e = &t->slots[(*pos)++];
        if (e->klen_p1)
            return e;
    }
    return NULL;
}

size_t kvtable_bytes(const kvtable *t)
{
    return t->cap * sizeof(kv_entry) + t->acap;
}
