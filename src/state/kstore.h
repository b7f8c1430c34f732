/* Keyed state store (state layer): an open-addressing hash table from
 * byte keys to byte values whose size the caller chooses and may change.
 * It backs value, list, map and reducing state, window accumulators and
 * join buffers. Entries live in one arena as [klen u32][vcap u32][key,
 * padded to 8][value, vcap bytes]; a slot is 8 bytes (32 hash bits and
 * the entry's offset), so a small entry costs about its key and value
 * plus 16-30 bytes. Space freed by resizing or deleting is reclaimed by
 * compacting the arena when it exceeds the live bytes.
 *
 * Keys are whatever identifies the state entry: the record key, usually
 * preceded by a namespace (a window, a state name). Key groups are not
 * stored: they are a function of the record key (record/keygroup.h), so a
 * snapshot can split a store by key group when it needs to.
 *
 * Value pointers stay valid until the next put, resize or delete on the
 * same store. Values are 8-byte aligned. Single-threaded.
 *
 * Limit: a slot holds the entry's offset in 8-byte units in 32 bits, so
 * one store's arena holds at most KS_ARENA_MAX bytes (32 GiB less 16).
 * Widening the slot would cost 8 more bytes per entry in every store, so
 * instead a put or resize that would pass the limit (after compacting
 * away deleted entries) stops the process with err_fatal, naming the
 * operator and the limit, before any offset could wrap. */
#ifndef MPF_STATE_KSTORE_H
#define MPF_STATE_KSTORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct kstore {
    uint64_t *slots; /* hash32 << 32 | (offset / 8 + 1); 0: empty */
    size_t cap, n;   /* cap: power of two */
    uint8_t *arena;
    size_t alen, acap, dead; /* bytes used, allocated, garbage */
    uint32_t fixed_klen, fixed_vcap; /* ks_init_fixed; 0: variable */
} kstore;

#define KS_ARENA_MAX (((size_t)UINT32_MAX - 1) * 8)

/* Tests only: make the arena limit `bytes` instead (0: KS_ARENA_MAX) for
 * stores that have not yet grown past it. */
void ks_set_limit_for_test(size_t bytes);

void ks_init(kstore *s);
/* A store whose keys all have klen bytes and values vcap bytes: entries
 * are just [key][value] (8-byte aligned), without the 8-byte header.
 * ks_resize is not allowed on it. */
void ks_init_fixed(kstore *s, uint32_t klen, uint32_t vcap);
void ks_fini(kstore *s);
void ks_clear(kstore *s);

/* dst becomes an independent copy of src (slots and the arena bytes in
 * use): what a copy-on-write snapshot hands to a background writer. */
void ks_clone(kstore *dst, const kstore *src);
/* dst becomes a copy of src's entries that only ks_scan can read (no
 * lookups, no ks_next): the arena bytes in use, and the slots only when
 * the arena holds dead entries (they tell which are live). For a store of
 * small entries that is about half of what ks_clone copies. */
void ks_clone_entries(kstore *dst, const kstore *src);
/* The same into arena memory the caller provides: buf of cap bytes, used
 * when it holds src's arena (else freed and a new arena allocated). dst
 * owns it afterwards. Copying into pages already touched, an earlier
 * snapshot's, is about 3x faster than into fresh ones. */
void ks_clone_entries_buf(kstore *dst, const kstore *src, void *buf, size_t cap);
/* Take s's arena out for reuse: returns it (NULL if none) with its size in
 * *cap; s keeps no arena, so only ks_fini may follow. */
void *ks_take_arena(kstore *s, size_t *cap);

/* Make room for n more entries and `bytes` more arena bytes (each entry
 * takes about 8 + key + value bytes, padded to 8), so a store about to
 * be filled (a restore) does not grow step by step. */
void ks_reserve(kstore *s, size_t n, size_t bytes);

/* Hash for a key (XXH3, as for key groups). */
uint64_t ks_hash(const void *key, uint32_t klen);

/* A hint that hash's key is about to be looked up (ks_get, ks_put): on a
 * store bigger than the caches, prefetching the slot a few keys ahead
 * overlaps the cache misses of consecutive lookups. */
static inline void ks_prefetch(const kstore *s, uint64_t hash)
{
    if (s->cap)
        __builtin_prefetch(&s->slots[(uint32_t)(hash >> 32) & (s->cap - 1)]);
}

/* The value of key or NULL; *vcap gets its size. */
uint8_t *ks_get(kstore *s, const void *key, uint32_t klen, uint64_t hash, uint32_t *vcap);
/* The value of key, created zero-filled with vcap bytes when absent
 * (*created = 1). An existing value keeps its size. */
uint8_t *ks_put(kstore *s, const void *key, uint32_t klen, uint64_t hash, uint32_t vcap,
                int *created);
/* Change an existing value's size, keeping its first min(old, new)
 * bytes and zero-filling the rest. NULL when the key is absent. */
uint8_t *ks_resize(kstore *s, const void *key, uint32_t klen, uint64_t hash, uint32_t vcap);
/* Remove key; returns 1 if it was there. */
int ks_del(kstore *s, const void *key, uint32_t klen, uint64_t hash);

/* Iterate from *pos = 0; returns 0 at the end. The store must not change
 * during the iteration (except through the value pointers). */
int ks_next(const kstore *s, size_t *pos, const uint8_t **key, uint32_t *klen, uint8_t **val,
            uint32_t *vcap);

/* Iterate the live entries in arena order, from oldest to newest: the
 * arena is read sequentially, so on a big store this is several times
 * faster than ks_next, whose slot order jumps around the arena. Works on
 * stores and on ks_clone_entries copies; the store must not change
 * meanwhile. ks_scan_init allocates a map of live entries when the arena
 * holds dead ones; ks_scan_fini frees it. */
typedef struct ks_scan {
    size_t off;
    uint64_t *live; /* bit per 8 arena bytes: a live entry starts there */
} ks_scan;
void ks_scan_init(ks_scan *it, const kstore *s);
int ks_scan_next(ks_scan *it, const kstore *s, const uint8_t **key, uint32_t *klen,
                 uint8_t **val, uint32_t *vcap);
void ks_scan_fini(ks_scan *it);
/* The fast case of ks_scan: a fixed store (or its ks_clone_entries copy)
 * without dead entries is an array of *n entries, *stride bytes apart
 * from the returned base, each its key (fixed_klen bytes) and, at the
 * next multiple of 8, its value. NULL when s is not such a store. */
const uint8_t *ks_fixed_array(const kstore *s, size_t *n, size_t *stride);

static inline size_t ks_count(const kstore *s) { return s->n; }
/* Bytes held: the slot array and the arena bytes written (capacity not
 * yet touched is not resident, so it is not counted). */
size_t ks_bytes(const kstore *s);

#endif
