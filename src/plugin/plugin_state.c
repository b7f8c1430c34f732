/* Keyed state of plugin functions on kstore, one store per key group
 * (plugin layer). See plugin_state.h for the entry layout. */
#include "plugin/plugin_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/bytes.h"
#include "util/xmalloc.h"

static inline uint32_t pad8(uint32_t n) { return (n + 7u) & ~7u; }

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
        if (strcmp(d->name, name) != 0)
            continue;
        if (d->pending && d->kind == kind && d->size == size) {
            d->reduce = reduce;
            d->pending = 0;
            return i;
        }
        return !d->pending && d->kind == kind && d->size == size && d->reduce == reduce ? i
                                                                                        : -1;
    }
    ps->decl = xrealloc(ps->decl, (size_t)(ps->ndecl + 1) * sizeof *ps->decl);
    pstate_decl *d = &ps->decl[ps->ndecl];
    d->name = xstrdup(name);
    d->kind = kind;
    d->size = size;
    d->reduce = reduce;
    d->pending = 0;
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
    wr_u32(k, (uint32_t)id);
    if (sc->klen)
        memcpy(k + 4, sc->key, sc->klen);
    return 4 + sc->klen;
}

/* [id | PSTATE_MAP_ENTRY][len K][K][user key]. */
static uint32_t entry_key(plugin_state *ps, const pstate_scope *sc, int id, const void *uk,
                          uint32_t uklen)
{
    uint8_t *k = kbuf(ps, 8 + (size_t)sc->klen + uklen);
    wr_u32(k, (uint32_t)id | PSTATE_MAP_ENTRY);
    wr_u32(k + 4, sc->klen);
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
    wr_u32(p, len);
    wr_u32(p + 4, 0);
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
        *len = rd_u32(p);
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
            uint32_t used = rd_u32(d);
            uint8_t *dir = xmalloc(used);
            memcpy(dir, d, used);
            for (uint32_t pos = 8; pos < used;) {
                uint32_t ul = rd_u32(dir + pos);
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
    return kind == MPF_LIST_STATE || kind == MPF_MAP_STATE ? (int64_t)rd_u32(p + 4) : 1;
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
        wr_u32(p, 8);
    }
    uint32_t used = rd_u32(p);
    if (used + add > vcap) {
        uint32_t ncap = vcap * 2 > used + add ? vcap * 2 : used + add;
        p = ks_resize(ks, k, kl, h, ncap);
    }
    wr_u32(p, used + add);
    wr_u32(p + 4, rd_u32(p + 4) + 1);
    return p + used;
}

void plugin_state_list_add(plugin_state *ps, const pstate_scope *sc, int id, const void *v,
                           uint32_t len)
{
    void *tmp;
    v = stable(sc->ks, v, len, &tmp);
    uint32_t kl = main_key(ps, sc, id);
    uint8_t *item = grow_append(sc->ks, ps->kbuf, kl, 8 + pad8(len));
    wr_u32(item, len);
    wr_u32(item + 4, 0);
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
    if (*pos >= rd_u32(p))
        return 0;
    uint32_t n = rd_u32(p + *pos);
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
        wr_u32(d, uklen);
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
        *len = rd_u32(p);
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
        uint32_t used = dir ? rd_u32(dir) : 0;
        for (uint32_t pos = 8; pos < used;) {
            uint32_t ul = rd_u32(dir + pos);
            if (ul == uklen && memcmp(dir + pos + 4, uk, uklen) == 0) {
                memmove(dir + pos, dir + pos + 4 + ul, used - pos - 4 - ul);
                wr_u32(dir, used - 4 - ul);
                wr_u32(dir + 4, rd_u32(dir + 4) - 1);
                break;
            }
            pos += 4 + ul;
        }
        if (dir && rd_u32(dir + 4) == 0) {
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
    if (*pos >= rd_u32(dir))
        return 0;
    uint32_t ul = rd_u32(dir + *pos);
    const uint8_t *k = dir + *pos + 4;
    *pos += 4 + ul;
    uint32_t kl = entry_key(ps, sc, id, k, ul);
    uint8_t *p = ks_get(sc->ks, ps->kbuf, kl, ks_hash(ps->kbuf, kl), NULL);
    *uk = k;
    if (uklen)
        *uklen = ul;
    *v = p ? p + 8 : NULL;
    if (len)
        *len = p ? rd_u32(p) : 0;
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
        wr_u32(p, d->size);
        memcpy(p + 8, v, d->size);
    } else {
        d->reduce(p + 8, v, d->size);
    }
    free(tmp);
}

/* ---- checkpoints ---- */

static const char *const kind_names[] = {"value", "list", "map", "reducing"};

pstate_decl *plugin_state_copy_decls(const plugin_state *ps)
{
    pstate_decl *d = xcalloc((size_t)ps->ndecl + 1, sizeof *d);
    for (int i = 0; i < ps->ndecl; i++) {
        d[i] = ps->decl[i];
        d[i].name = xstrdup(ps->decl[i].name);
    }
    return d;
}

void plugin_state_free_decls(pstate_decl *decl, int ndecl)
{
    for (int i = 0; decl && i < ndecl; i++)
        free(decl[i].name);
    free(decl);
}

void plugin_state_write_decls(const pstate_decl *decl, int ndecl, recbuf *b)
{
    kgbuf_u32(b, (uint32_t)ndecl);
    for (int i = 0; i < ndecl; i++) {
        uint32_t n = (uint32_t)strlen(decl[i].name);
        kgbuf_u32(b, (uint32_t)decl[i].kind);
        kgbuf_u32(b, decl[i].size);
        kgbuf_u32(b, n);
        kgbuf_put(b, decl[i].name, n);
    }
}

/* [u32 len][bytes] of a [len][0][bytes] value. */
static void put_blob(recbuf *b, const uint8_t *v)
{
    uint32_t len = rd_u32(v);
    kgbuf_u32(b, len);
    kgbuf_put(b, v + 8, len);
}

static void write_head(recbuf *b, uint32_t tag, uint32_t id, const uint8_t *key, uint32_t klen)
{
    kgbuf_u32(b, tag);
    kgbuf_u32(b, id);
    kgbuf_u32(b, klen);
    kgbuf_put(b, key, klen);
}

void plugin_state_write_entries(kstore *ks, const pstate_decl *decl, int ndecl, recbuf *b)
{
    size_t pos = 0;
    const uint8_t *k;
    uint32_t kl;
    uint8_t *v;
    uint8_t *ebuf = NULL;
    size_t ecap = 0;
    while (ks_next(ks, &pos, &k, &kl, &v, NULL)) {
        uint32_t id = rd_u32(k);
        if (kl < 4 || (id & PSTATE_MAP_ENTRY) || id >= (uint32_t)ndecl)
            continue; /* map entries go with their directory */
        const uint8_t *key = k + 4;
        uint32_t klen = kl - 4, used = rd_u32(v), n = 0;
        switch (decl[id].kind) {
        case MPF_LIST_STATE:
            write_head(b, PSNAP_LIST, id, key, klen);
            kgbuf_u32(b, rd_u32(v + 4));
            for (uint32_t off = 8; off < used; off += 8 + pad8(rd_u32(v + off)))
                put_blob(b, v + off);
            break;
        case MPF_MAP_STATE:
            write_head(b, PSNAP_MAP, id, key, klen);
            kgbuf_u32(b, rd_u32(v + 4));
            for (uint32_t off = 8; off < used; off += 4 + n) {
                n = rd_u32(v + off);
                /* the entry's key: [id | PSTATE_MAP_ENTRY][len K][K][user key] */
                size_t el = 8 + (size_t)klen + n;
                if (el > ecap) {
                    ecap = el * 2;
                    ebuf = xrealloc(ebuf, ecap);
                }
                wr_u32(ebuf, id | PSTATE_MAP_ENTRY);
                wr_u32(ebuf + 4, klen);
                memcpy(ebuf + 8, key, klen);
                memcpy(ebuf + 8 + klen, v + off + 4, n);
                const uint8_t *ev = ks_get(ks, ebuf, (uint32_t)el, ks_hash(ebuf, (uint32_t)el),
                                           NULL);
                kgbuf_u32(b, n);
                kgbuf_put(b, v + off + 4, n);
                if (ev) {
                    put_blob(b, ev);
                } else { /* cannot happen: every listed entry exists */
                    kgbuf_u32(b, 0);
                }
            }
            break;
        default: /* value, reducing */
            write_head(b, PSNAP_VALUE, id, key, klen);
            put_blob(b, v);
        }
    }
    free(ebuf);
}

int plugin_state_read_decls(plugin_state *ps, blobrd *r, int **map, int *nmap, char *why,
                            size_t whyn)
{
    *map = NULL;
    *nmap = 0;
    uint32_t n = blobrd_u32(r);
    /* Each entry takes at least 13 bytes: bound n before allocating. */
    if (r->bad || n > (size_t)(r->end - r->p) / 13) {
        snprintf(why, whyn, "its state table is truncated");
        return -1;
    }
    int *m = xcalloc((size_t)n + 1, sizeof *m);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t kind = blobrd_u32(r), size = blobrd_u32(r), nlen = blobrd_u32(r);
        const uint8_t *name = blobrd_bytes(r, nlen);
        if (r->bad || !nlen || memchr(name, 0, nlen)) {
            snprintf(why, whyn, "its state table is %s", r->bad ? "truncated" : "malformed");
            goto fail;
        }
        char *nm = xmalloc(nlen + 1);
        memcpy(nm, name, nlen);
        nm[nlen] = 0;
        if (kind > MPF_REDUCING_STATE || (kind == MPF_REDUCING_STATE) != (size != 0)) {
            snprintf(why, whyn, "state '%.200s' has an unknown kind %u or a wrong size", nm,
                     kind);
            free(nm);
            goto fail;
        }
        int id = -1;
        for (int k = 0; k < ps->ndecl; k++)
            if (strcmp(ps->decl[k].name, nm) == 0)
                id = k;
        if (id >= 0 && (ps->decl[id].kind != (int)kind || ps->decl[id].size != size)) {
            char was[32] = "", now[32] = "";
            if (kind == MPF_REDUCING_STATE)
                snprintf(was, sizeof was, " of %u bytes", size);
            if (ps->decl[id].kind == MPF_REDUCING_STATE)
                snprintf(now, sizeof now, " of %u bytes", ps->decl[id].size);
            snprintf(why, whyn, "state '%.200s' was %s state%s and is declared as %s state%s "
                     "now", nm, kind_names[kind], was, kind_names[ps->decl[id].kind], now);
            free(nm);
            goto fail;
        }
        if (id < 0) {
            ps->decl = xrealloc(ps->decl, (size_t)(ps->ndecl + 1) * sizeof *ps->decl);
            pstate_decl *d = &ps->decl[ps->ndecl];
            d->name = nm;
            nm = NULL;
            d->kind = (int)kind;
            d->size = size;
            d->reduce = NULL;
            d->pending = 1;
            id = ps->ndecl++;
        }
        free(nm);
        m[i] = id;
    }
    *map = m;
    *nmap = (int)n;
    return 0;
fail:
    free(m);
    return -1;
}

/* The state id an entry names, checked against the tag; -1 with why. */
static int entry_state(plugin_state *ps, uint32_t tag, uint32_t idx, const int *map, int nmap,
                       char *why, size_t whyn)
{
    if (idx >= (uint32_t)nmap) {
        snprintf(why, whyn, "an entry names state %u of a table of %d", idx, nmap);
        return -1;
    }
    int id = map[idx];
    int kind = ps->decl[id].kind;
    int ok = tag == PSNAP_VALUE ? kind == MPF_VALUE_STATE || kind == MPF_REDUCING_STATE
             : tag == PSNAP_LIST ? kind == MPF_LIST_STATE
                                 : kind == MPF_MAP_STATE;
    if (!ok) {
        snprintf(why, whyn, "an entry of state '%.200s' (%s state) has the wrong type",
                 ps->decl[id].name, kind_names[kind]);
        return -1;
    }
    return id;
}

int plugin_state_read_entry(plugin_state *ps, uint32_t tag, const int *map, int nmap, int kg,
                            blobrd *r, char *why, size_t whyn)
{
    if (tag != PSNAP_VALUE && tag != PSNAP_LIST && tag != PSNAP_MAP) {
        snprintf(why, whyn, "unknown entry type %u", tag);
        return -1;
    }
    uint32_t idx = blobrd_u32(r), klen = blobrd_u32(r);
    const uint8_t *key = blobrd_bytes(r, klen);
    if (r->bad)
        goto truncated;
    int id = entry_state(ps, tag, idx, map, nmap, why, whyn);
    if (id < 0)
        return -1;
    pstate_scope sc;
    int kg2;
    if (plugin_state_scope(ps, key, klen, &sc, &kg2) || kg2 != kg) {
        snprintf(why, whyn, "a key of state '%.200s' belongs to key group %d", ps->decl[id].name,
                 kg2);
        return -1;
    }
    if (tag == PSNAP_VALUE) {
        uint32_t len = blobrd_u32(r);
        const uint8_t *v = blobrd_bytes(r, len);
        if (r->bad)
            goto truncated;
        if (ps->decl[id].kind == MPF_REDUCING_STATE && len != ps->decl[id].size) {
            snprintf(why, whyn, "reducing state '%.200s' holds %u bytes instead of %u",
                     ps->decl[id].name, len, ps->decl[id].size);
            return -1;
        }
        plugin_state_value_set(ps, &sc, id, v, len);
        return 0;
    }
    uint32_t n = blobrd_u32(r);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        uint32_t ulen = 0;
        const uint8_t *uk = NULL;
        if (tag == PSNAP_MAP) {
            ulen = blobrd_u32(r);
            uk = blobrd_bytes(r, ulen);
        }
        uint32_t len = blobrd_u32(r);
        const uint8_t *v = blobrd_bytes(r, len);
        if (r->bad)
            break;
        if (tag == PSNAP_LIST)
            plugin_state_list_add(ps, &sc, id, v, len);
        else
            plugin_state_map_put(ps, &sc, id, uk, ulen, v, len);
    }
    if (r->bad)
        goto truncated;
    return 0;
truncated:
    snprintf(why, whyn, "truncated");
    return -1;
}
