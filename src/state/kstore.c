/* Keyed state store: linear probing with backward-shift deletion over an
 * arena of entries (state layer). */
#include "state/kstore.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "util/bytes.h"
#include "util/err.h"
#include "util/xmalloc.h"

#define HDR 8u

static size_t arena_max = KS_ARENA_MAX;

void ks_set_limit_for_test(size_t bytes)
{
    arena_max = bytes && bytes < KS_ARENA_MAX ? bytes & ~(size_t)7 : KS_ARENA_MAX;
}

static inline size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }
static inline uint32_t slot_tag(uint64_t slot) { return (uint32_t)(slot >> 32); }
static inline size_t slot_off(uint64_t slot) { return ((size_t)(uint32_t)slot - 1) * 8; }
/* Entry layout: [klen u32][vcap u32][key, padded][value, padded], or
 * [key, padded][value, padded] in a fixed store. */
static inline size_t hdr(const kstore *s) { return s->fixed_klen ? 0 : HDR; }
static inline uint32_t ent_klen(const kstore *s, const uint8_t *e)
{
    return s->fixed_klen ? s->fixed_klen : rd_u32(e);
}
static inline uint32_t ent_vcap(const kstore *s, const uint8_t *e)
{
    return s->fixed_klen ? s->fixed_vcap : rd_u32(e + 4);
}
static inline size_t ent_size(const kstore *s, const uint8_t *e)
{
    return hdr(s) + pad8(ent_klen(s, e)) + pad8(ent_vcap(s, e));
}
static inline const uint8_t *ent_key(const kstore *s, const uint8_t *e) { return e + hdr(s); }
static inline uint8_t *ent_val(const kstore *s, uint8_t *e)
{
    return e + hdr(s) + pad8(ent_klen(s, e));
}

void ks_init(kstore *s)
{
    memset(s, 0, sizeof *s);
}

void ks_init_fixed(kstore *s, uint32_t klen, uint32_t vcap)
{
    memset(s, 0, sizeof *s);
    s->fixed_klen = klen; /* 0: an ordinary variable store */
    s->fixed_vcap = vcap;
}

void ks_fini(kstore *s)
{
    free(s->slots);
    free(s->arena);
    uint32_t fk = s->fixed_klen, fv = s->fixed_vcap;
    ks_init(s);
    s->fixed_klen = fk;
    s->fixed_vcap = fv;
}

void ks_clear(kstore *s)
{
    if (s->slots)
        memset(s->slots, 0, s->cap * sizeof *s->slots);
    s->n = 0;
    s->alen = 0;
    s->dead = 0;
}

void ks_clone(kstore *dst, const kstore *src)
{
    *dst = *src;
    dst->slots = src->cap ? xmalloc(src->cap * sizeof *src->slots) : NULL;
    if (src->cap)
        memcpy(dst->slots, src->slots, src->cap * sizeof *src->slots);
    dst->arena = src->alen ? xmalloc(src->alen) : NULL;
    if (src->alen)
        memcpy(dst->arena, src->arena, src->alen);
    dst->acap = src->alen;
}

void ks_clone_entries(kstore *dst, const kstore *src)
{
    ks_clone_entries_buf(dst, src, NULL, 0);
}

void ks_clone_entries_buf(kstore *dst, const kstore *src, void *buf, size_t cap)
{
    if (src->dead) { /* the slots tell the live entries: copy them too */
        ks_clone(dst, src);
        free(buf);
        return;
    }
    *dst = *src;
    dst->slots = NULL;
    dst->cap = 0;
    if (!buf || cap < src->alen) {
        free(buf);
        buf = src->alen ? xmalloc(src->alen) : NULL;
        cap = src->alen;
    }
    dst->arena = buf;
    dst->acap = cap;
    if (src->alen)
        memcpy(dst->arena, src->arena, src->alen);
}

void *ks_take_arena(kstore *s, size_t *cap)
{
    void *a = s->arena;
    *cap = a ? s->acap : 0;
    s->arena = NULL;
    s->acap = s->alen = 0;
    return a;
}

uint64_t ks_hash(const void *key, uint32_t klen)
{
    return XXH3_64bits(key, klen);
}

static void place(uint64_t *slots, size_t mask, uint64_t slot)
{
    size_t i = slot_tag(slot) & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = slot;
}

/* Move every slot into a new table of ncap (a power of two) slots. */
static void rehash(kstore *s, size_t ncap)
{
    uint64_t *ns = xcalloc(ncap, sizeof *ns);
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            place(ns, ncap - 1, s->slots[i]);
    free(s->slots);
    s->slots = ns;
    s->cap = ncap;
}

static void grow(kstore *s)
{
    rehash(s, s->cap ? s->cap * 2 : 16);
}

/* Rewrite the arena with live entries only. */
static void compact(kstore *s)
{
    uint8_t *na = xmalloc(s->acap);
    size_t len = 0;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i])
            continue;
        const uint8_t *e = s->arena + slot_off(s->slots[i]);
        size_t sz = ent_size(s, e);
        memcpy(na + len, e, sz);
        s->slots[i] = (s->slots[i] & 0xffffffff00000000ull) | (uint64_t)(len / 8 + 1);
        len += sz;
    }
    free(s->arena);
    s->arena = na;
    s->alen = len;
    s->dead = 0;
}

/* Room for `need` more arena bytes (may compact: offsets change). The
 * arena never passes arena_max, so every entry's offset / 8 + 1 fits the
 * slot's 32 bits; the capacity is kept within it too, so the check costs
 * nothing on the fast path. */
static void reserve(kstore *s, size_t need)
{
    if (s->alen + need <= s->acap)
        return;
    if (s->dead > s->alen / 2 || (s->dead && s->alen + need > arena_max)) {
        compact(s);
        if (s->alen + need <= s->acap)
            return;
    }
    if (s->alen + need > arena_max)
        err_fatal("keyed state store full: %zu bytes held, %zu more would pass its limit of "
                  "%zu bytes (entries are addressed in 32 bits of 8-byte units); raise the "
                  "operator's parallelism so that each subtask holds less state",
                  s->alen, need, arena_max);
    size_t na = s->acap ? s->acap : 4096;
    while (s->alen + need > na)
        na += na / 2; /* 1.5x: less slack in a big store */
    na = pad8(na);
    if (na > arena_max) /* alen + need fits, and arena_max is a multiple of 8 */
        na = arena_max;
    s->arena = xrealloc(s->arena, na);
    s->acap = na;
}

void ks_reserve(kstore *s, size_t n, size_t bytes)
{
    size_t need = s->n + n, ncap = s->cap ? s->cap : 16;
    while (need * 4 > ncap * 3)
        ncap *= 2;
    if (ncap != s->cap)
        rehash(s, ncap);
    if (s->alen + bytes > s->acap) {
        s->acap = pad8(s->alen + bytes);
        if (s->acap > arena_max && s->alen <= arena_max) /* appends past it fail in reserve */
            s->acap = arena_max;
        s->arena = xrealloc(s->arena, s->acap);
    }
}

static size_t find(const kstore *s, const void *key, uint32_t klen, uint32_t tag)
{
    if (!s->cap)
        return (size_t)-1;
    size_t mask = s->cap - 1;
    for (size_t i = tag & mask;; i = (i + 1) & mask) {
        uint64_t sl = s->slots[i];
        if (!sl)
            return (size_t)-1;
        if (slot_tag(sl) == tag) {
            const uint8_t *e = s->arena + slot_off(sl);
            if (ent_klen(s, e) == klen && memcmp(ent_key(s, e), key, klen) == 0)
                return i;
        }
    }
}

uint8_t *ks_get(kstore *s, const void *key, uint32_t klen, uint64_t hash, uint32_t *vcap)
{
    size_t i = find(s, key, klen, (uint32_t)(hash >> 32));
    if (i == (size_t)-1)
        return NULL;
    uint8_t *e = s->arena + slot_off(s->slots[i]);
    if (vcap)
        *vcap = ent_vcap(s, e);
    return ent_val(s, e);
}

/* Append a new entry to the arena; returns its offset. */
static size_t append(kstore *s, const void *key, uint32_t klen, uint32_t vcap)
{
    size_t h = hdr(s), sz = h + pad8(klen) + pad8(vcap);
    reserve(s, sz);
    uint8_t *e = s->arena + s->alen;
    if (h) {
        wr_u32(e, klen);
        wr_u32(e + 4, vcap);
    }
    if (klen)
        memcpy(e + h, key, klen);
    memset(e + h + klen, 0, sz - h - klen);
    size_t off = s->alen;
    s->alen += sz;
    return off;
}

uint8_t *ks_put(kstore *s, const void *key, uint32_t klen, uint64_t hash, uint32_t vcap,
                int *created)
{
    uint32_t tag = (uint32_t)(hash >> 32);
    if (s->fixed_klen) /* callers must match the fixed shape */
        vcap = s->fixed_vcap;
    size_t i = find(s, key, klen, tag);
    if (i != (size_t)-1) {
        if (created)
            *created = 0;
        return ent_val(s, s->arena + slot_off(s->slots[i]));
    }
    if ((s->n + 1) * 4 > s->cap * 3)
        grow(s);
    size_t off = append(s, key, klen, vcap);
    place(s->slots, s->cap - 1, ((uint64_t)tag << 32) | (uint64_t)(off / 8 + 1));
    s->n++;
    if (created)
        *created = 1;
    return ent_val(s, s->arena + off);
}

uint8_t *ks_resize(kstore *s, const void *key, uint32_t klen, uint64_t hash, uint32_t vcap)
{
    if (s->fixed_klen)
        abort(); /* a fixed store's values cannot change size */
    size_t i = find(s, key, klen, (uint32_t)(hash >> 32));
    if (i == (size_t)-1)
        return NULL;
    uint8_t *e = s->arena + slot_off(s->slots[i]);
    uint32_t old = ent_vcap(s, e);
    if (pad8(vcap) == pad8(old)) { /* fits in place */
        uint8_t *v = ent_val(s, e);
        if (vcap > old)
            memset(v + old, 0, vcap - old);
        wr_u32(e + 4, vcap);
        return v;
    }
    size_t oldsz = ent_size(s, e);
    /* reserve() may compact, which moves entries and rewrites slots: find
     * the entry again afterwards. */
    reserve(s, HDR + pad8(klen) + pad8(vcap));
    e = s->arena + slot_off(s->slots[i]);
    size_t off = append(s, key, klen, vcap);
    memcpy(ent_val(s, s->arena + off), ent_val(s, e), old < vcap ? old : vcap);
    s->slots[i] = (s->slots[i] & 0xffffffff00000000ull) | (uint64_t)(off / 8 + 1);
    s->dead += oldsz;
    return ent_val(s, s->arena + off);
}

int ks_del(kstore *s, const void *key, uint32_t klen, uint64_t hash)
{
    size_t i = find(s, key, klen, (uint32_t)(hash >> 32));
    if (i == (size_t)-1)
        return 0;
    s->dead += ent_size(s, s->arena + slot_off(s->slots[i]));
    size_t mask = s->cap - 1;
    /* Backward shift: move later entries of the probe run into the hole
     * when their home is not between the hole and them. */
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        uint64_t sl = s->slots[j];
        if (!sl)
            break;
        size_t home = slot_tag(sl) & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            s->slots[i] = sl;
            i = j;
        }
    }
    s->slots[i] = 0;
    s->n--;
    if (!s->n) { /* empty: reuse the arena from the start */
        s->alen = 0;
        s->dead = 0;
    }
    return 1;
}

int ks_next(const kstore *s, size_t *pos, const uint8_t **key, uint32_t *klen, uint8_t **val,
            uint32_t *vcap)
{
    while (*pos < s->cap) {
        uint64_t sl = s->slots[(*pos)++];
        if (!sl)
            continue;
        uint8_t *e = s->arena + slot_off(sl);
        *key = ent_key(s, e);
        *klen = ent_klen(s, e);
        *val = ent_val(s, e);
        if (vcap)
            *vcap = ent_vcap(s, e);
        return 1;
    }
    return 0;
}

void ks_scan_init(ks_scan *it, const kstore *s)
{
    it->off = 0;
    it->live = NULL;
    if (!s->dead || !s->alen)
        return;
    /* Dead entries keep their headers, so the arena stays a sequence of
     * entries; the slots say which ones are live. */
    it->live = xcalloc((s->alen / 8 + 63) / 64 + 1, sizeof *it->live);
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i]) {
            size_t u = slot_off(s->slots[i]) / 8;
            it->live[u / 64] |= 1ull << (u % 64);
        }
}

int ks_scan_next(ks_scan *it, const kstore *s, const uint8_t **key, uint32_t *klen,
                 uint8_t **val, uint32_t *vcap)
{
    while (it->off < s->alen) {
        uint8_t *e = s->arena + it->off;
        size_t u = it->off / 8;
        it->off += ent_size(s, e);
        if (it->live && !(it->live[u / 64] >> (u % 64) & 1))
            continue;
        *key = ent_key(s, e);
        *klen = ent_klen(s, e);
        *val = ent_val(s, e);
        if (vcap)
            *vcap = ent_vcap(s, e);
        return 1;
    }
    return 0;
}

const uint8_t *ks_fixed_array(const kstore *s, size_t *n, size_t *stride)
{
    if (!s->fixed_klen || s->dead)
        return NULL;
    *stride = pad8(s->fixed_klen) + pad8(s->fixed_vcap);
    *n = s->alen / *stride;
    return s->arena;
}

void ks_scan_fini(ks_scan *it)
{
    free(it->live);
    it->live = NULL;
}

size_t ks_bytes(const kstore *s)
{
    return s->cap * sizeof *s->slots + s->alen;
}
