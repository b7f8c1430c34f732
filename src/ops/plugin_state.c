/* Keyed state of plugin functions on kstore, one store per key group
 * (ops layer). See plugin_state.h for the entry layout. */
#include "ops/plugin_state.h"

#include <stdlib.h>
#include <string.h>
#include "util/xmalloc.h"

static inline uint32_t pad8(uint32_t n) { return (n + 7u) & ~7u; }
static inline uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

void plugin_state_init(plugin_state *ps, keygroup_range kg, int max_parallelism)
{
    memset(ps, 0, sizeof *ps);
    ps->kg = kg;
    ps->max_parallelism = max_parallelism;
    ps->nstores = kg.end >= kg.start ? kg.end - kg.start + 1 : 0;
    ps->stores = xcalloc((size_t)ps->nstores + 1, sizeof *ps->stores);
    for (int i = 0; i < ps->nstores; i++)
        ks_init(&ps->stores[i]);
}

void plugin_state_fini(plugin_state *ps)
{
    for (int i = 0; i < ps->nstores; i++)
        ks_fini(&ps->stores[i]);
    for (int i = 0; i < ps->ndecl; i++)
        free(ps->decl[i].name);
    free(ps->decl);
    free(ps->stores);
    free(ps->kbuf);
    memset(ps, 0, sizeof *ps);
}

int plugin_state_declare(plugin_state *ps, const char *name, int kind, uint32_t size,
                         mpf_reduce_fn reduce)
{
    for (int i = 0; i < ps->ndecl; i++) {
        pstate_decl *d = &ps->decl[i];
        if (strcmp(d->name, name) == 0)
            return d->kind == kind && d->size == size && d->reduce == reduce ? i : -1;
    }
    ps->decl = xrealloc(ps->decl, (size_t)(ps->ndecl + 1) * sizeof *ps->decl);
    pstate_decl *d = &ps->decl[ps->ndecl];
    d->name = xstrdup(name);
    d->kind = kind;
    d->size = size;
    d->reduce = reduce;
    return ps->ndecl++;
}

int plugin_state_scope(plugin_state *ps, const void *key, uint32_t klen, pstate_scope *sc,
                       int *kg)
{
    *kg = keygroup_of(key_hash(key, klen), ps->max_parallelism);
    if (*kg < ps->kg.start || *kg > ps->kg.end)
        return -1;
    sc->ks = &ps->stores[*kg - ps->kg.start];
    sc->key = key;
    sc->klen = klen;
    return 0;
}

size_t plugin_state_bytes(const plugin_state *ps)
{
    size_t b = 0;
    for (int i = 0; i < ps->nstores; i++)
        b += ks_bytes(&ps->stores[i]);
    return b;
}

static uint8_t *kbuf(plugin_state *ps, size_t n)
{
    if (n > ps->kcap) {
        ps->kcap = n * 2;
        ps->kbuf = xrealloc(ps->kbuf, ps->kcap);
    }
    return ps->kbuf;
}

/* [id][K] into the scratch key buffer; returns its length. */
static uint32_t main_key(plugin_state *ps, const pstate_scope *sc, int id)
{
    uint8_t *k = kbuf(ps, 4 + (size_t)sc->klen);
    put32(k, (uint32_t)id);
    if (sc->klen)
        memcpy(k + 4, sc->key, sc->klen);
    return 4 + sc->klen;
}

/* [id | MAP_ENTRY][len K][K][user key]. */
static uint32_t entry_key(plugin_state *ps, const pstate_scope *sc, int id, const void *uk,
                          uint32_t uklen)
{
    uint8_t *k = kbuf(ps, 8 + (size_t)sc->klen + uklen);
    put32(k, (uint32_t)id | PSTATE_MAP_ENTRY);
    put32(k + 4, sc->klen);
    if (sc->klen)
        memcpy(k + 8, sc->key, sc->klen);
    if (uklen)
        memcpy(k + 8 + sc->klen, uk, uklen);
    return 8 + sc->klen + uklen;
}

/* Plugins may pass pointers they got from state back in; a put may move
 * the arena, so such bytes are copied first. Returns a stable pointer
 * (*tmp is to be freed). */
static const void *stable(const kstore *ks, const void *p, uint32_t len, void **tmp)
{
    *tmp = NULL;
    const uint8_t *b = p;
    if (ks->arena && len && b >= ks->arena && b < ks->arena + ks->acap) {
        *tmp = xmalloc(len);
        memcpy(*tmp, p, len);
        return *tmp;
    }
    return p;
}

/* Set [len][0][bytes] as the value of the key in kbuf[0..kl). */
static void set_blob(kstore *ks, const uint8_t *k, uint32_t kl, const void *v, uint32_t len)
{
    uint64_t h = ks_hash(k, kl);
    uint32_t vcap, need = 8 + len;
    uint8_t *p = ks_get(ks, k, kl, h, &vcap);
    if (!p)
        p = ks_put(ks, k, kl, h, need, NULL);
    else if (vcap < need)
        p = ks_resize(ks, k, kl, h, need);
    put32(p, len);
    put32(p + 4, 0);
    if (len)
        memcpy(p + 8, v, len);
}

const void *plugin_state_value_get(plugin_state *ps, const pstate_scope *sc, int id,
                                   uint32_t *len)
{
    uint32_t kl = main_key(ps, sc, id);
    uint8_t *p = ks_get(sc->ks, ps->kbuf, kl, ks_hash(ps->kbuf, kl), NULL);
    if (!p)
        return NULL;
    if (len)
        *len = get32(p);
    return p + 8;
}

void plugin_state_value_set(plugin_state *ps, const pstate_scope *sc, int id, const void *v,
                            uint32_t len)
{
    void *tmp;
    v = stable(sc->ks, v, len, &tmp);
    uint32_t kl = main_key(ps, sc, id);
    set_blob(sc->ks, ps->kbuf, kl, v, len);
    free(tmp);
}

/* The map directory of the key, or NULL. */
static uint8_t *map_dir(plugin_state *ps, const pstate_scope *sc, int id, uint32_t *vcap)
{
    uint32_t kl = main_key(ps, sc, id);
    return ks_get(sc->ks, ps->kbuf, kl, ks_hash(ps->kbuf, kl), vcap);
}

void plugin_state_clear(plugin_state *ps, const pstate_scope *sc, int id)
{
    if (ps->decl[id].kind == MPF_MAP_STATE) {
        const uint8_t *d = map_dir(ps, sc, id, NULL);
        if (d) {
            /* A copy: deleting entries may change the store. */
            uint32_t used = get32(d);
            uint8_t *dir = xmalloc(used);
            memcpy(dir, d, used);
            for (uint32_t pos = 8; pos < used;) {
                uint32_t ul = get32(dir + pos);
                uint32_t kl = entry_key(ps, sc, id, dir + pos + 4, ul);
                ks_del(sc->ks, ps->kbuf, kl, ks_hash(ps->kbuf, kl));
                pos += 4 + ul;
            }
            free(dir);
        }
    }
    uint32_t kl = main_key(ps, sc, id);
    ks_del(sc->ks, ps->kbuf, kl, ks_hash(ps->kbuf, kl));
}

int64_t plugin_state_size(plugin_state *ps, const pstate_scope *sc, int id)
{
    uint32_t kl = main_key(ps, sc, id);
    uint8_t *p = ks_get(sc->ks, ps->kbuf, kl, ks_hash(ps->kbuf, kl), NULL);
    if (!p)
        return 0;
    int kind = ps->decl[id].kind;
    return kind == MPF_LIST_STATE || kind == MPF_MAP_STATE ? (int64_t)get32(p + 4) : 1;
}

/* Append bytes to a growable [used][count] value (list or directory):
 * returns where `add` bytes go; count is incremented. */
static uint8_t *grow_append(kstore *ks, const uint8_t *k, uint32_t kl, uint32_t add)
{
    uint64_t h = ks_hash(k, kl);
    uint32_t vcap;
    uint8_t *p = ks_get(ks, k, kl, h, &vcap);
    if (!p) {
        vcap = 8 + add;
        p = ks_put(ks, k, kl, h, vcap, NULL);
        put32(p, 8);
    }
    uint32_t used = get32(p);
    if (used + add > vcap) {
        uint32_t ncap = vcap * 2 > used + add ? vcap * 2 : used + add;
        p = ks_resize(ks, k, kl, h, ncap);
    }
    put32(p, used + add);
    put32(p + 4, get32(p + 4) + 1);
    return p + used;
}

void plugin_state_list_add(plugin_state *ps, const pstate_scope *sc, int id, const void *v,
                           uint32_t len)
{
    void *tmp;
    v = stable(sc->ks, v, len, &tmp);
    uint32_t kl = main_key(ps, sc, id);
    uint8_t *item = grow_append(sc->ks, ps->kbuf, kl, 8 + pad8(len));
    put32(item, len);
    put32(item + 4, 0);
    if (len)
        memcpy(item + 8, v, len);
    memset(item + 8 + len, 0, pad8(len) - len);
    free(tmp);
}

int plugin_state_list_next(plugin_state *ps, const pstate_scope *sc, int id, size_t *pos,
                           const void **v, uint32_t *len)
{
    uint32_t kl = main_key(ps, sc, id);
    uint8_t *p = ks_get(sc->ks, ps->kbuf, kl, ks_hash(ps->kbuf, kl), NULL);
    if (!p)
        return 0;
    if (*pos < 8)
        *pos = 8;
    if (*pos >= get32(p))
        return 0;
    uint32_t n = get32(p + *pos);
    *v = p + *pos + 8;
    if (len)
        *len = n;
    *pos += 8 + pad8(n);
    return 1;
}

void plugin_state_map_put(plugin_state *ps, const pstate_scope *sc, int id, const void *uk,
                          uint32_t uklen, const void *v, uint32_t len)
{
    void *tu, *tv;
    uk = stable(sc->ks, uk, uklen, &tu);
    v = stable(sc->ks, v, len, &tv);
    uint32_t kl = entry_key(ps, sc, id, uk, uklen);
    int isnew = !ks_get(sc->ks, ps->kbuf, kl, ks_hash(ps->kbuf, kl), NULL);
    set_blob(sc->ks, ps->kbuf, kl, v, len);
    if (isnew) {
        kl = main_key(ps, sc, id);
        uint8_t *d = grow_append(sc->ks, ps->kbuf, kl, 4 + uklen);
        put32(d, uklen);
        if (uklen)
            memcpy(d + 4, uk, uklen);
    }
    free(tu);
    free(tv);
}

const void *plugin_state_map_get(plugin_state *ps, const pstate_scope *sc, int id,
                                 const void *uk, uint32_t uklen, uint32_t *len)
{
    uint32_t kl = entry_key(ps, sc, id, uk, uklen);
    uint8_t *p = ks_get(sc->ks, ps->kbuf, kl, ks_hash(ps->kbuf, kl), NULL);
    if (!p)
        return NULL;
    if (len)
        *len = get32(p);
    return p + 8;
}

int plugin_state_map_remove(plugin_state *ps, const pstate_scope *sc, int id, const void *uk,
                            uint32_t uklen)
{
    void *tu;
    uk = stable(sc->ks, uk, uklen, &tu);
    uint32_t kl = entry_key(ps, sc, id, uk, uklen);
    int removed = ks_del(sc->ks, ps->kbuf, kl, ks_hash(ps->kbuf, kl));
    if (removed) {
        uint8_t *dir = map_dir(ps, sc, id, NULL);
        uint32_t used = dir ? get32(dir) : 0;
        for (uint32_t pos = 8; pos < used;) {
            uint32_t ul = get32(dir + pos);
            if (ul == uklen && memcmp(dir + pos + 4, uk, uklen) == 0) {
                memmove(dir + pos, dir + pos + 4 + ul, used - pos - 4 - ul);
                put32(dir, used - 4 - ul);
                put32(dir + 4, get32(dir + 4) - 1);
                break;
            }
            pos += 4 + ul;
        }
        if (dir && get32(dir + 4) == 0) {
            kl = main_key(ps, sc, id);
            ks_del(sc->ks, ps->kbuf, kl, ks_hash(ps->kbuf, kl));
        }
    }
    free(tu);
    return removed;
}

int plugin_state_map_next(plugin_state *ps, const pstate_scope *sc, int id, size_t *pos,
                          const void **uk, uint32_t *uklen, const void **v, uint32_t *len)
{
    uint8_t *dir = map_dir(ps, sc, id, NULL);
    if (!dir)
        return 0;
    if (*pos < 8)
        *pos = 8;
    if (*pos >= get32(dir))
        return 0;
    uint32_t ul = get32(dir + *pos);
    const uint8_t *k = dir + *pos + 4;
    *pos += 4 + ul;
    uint32_t kl = entry_key(ps, sc, id, k, ul);
    uint8_t *p = ks_get(sc->ks, ps->kbuf, kl, ks_hash(ps->kbuf, kl), NULL);
    *uk = k;
    if (uklen)
        *uklen = ul;
    *v = p ? p + 8 : NULL;
    if (len)
        *len = p ? get32(p) : 0;
    return 1;
}

void plugin_state_reduce_add(plugin_state *ps, const pstate_scope *sc, int id, const void *v)
{
    const pstate_decl *d = &ps->decl[id];
    void *tmp;
    v = stable(sc->ks, v, d->size, &tmp);
    uint32_t kl = main_key(ps, sc, id);
    uint64_t h = ks_hash(ps->kbuf, kl);
    uint8_t *p = ks_get(sc->ks, ps->kbuf, kl, h, NULL);
    if (!p) {
        p = ks_put(sc->ks, ps->kbuf, kl, h, 8 + d->size, NULL);
        put32(p, d->size);
        memcpy(p + 8, v, d->size);
    } else {
        d->reduce(p + 8, v, d->size);
    }
    free(tmp);
}
