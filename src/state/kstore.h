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
 * same store. Values are 8-byte aligned. Single-threaded. */
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

/* Hash for a key (XXH3, as for key groups). */
uint64_t ks_hash(const void *key, uint32_t klen);

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

static inline size_t ks_count(const kstore *s) { return s->n; }
/* Bytes held: the slot array and the arena bytes written (capacity not
 * yet touched is not resident, so it is not counted). */
size_t ks_bytes(const kstore *s);

#endif
