/* Open-addressing hash table from byte keys to one 8-byte value (state
 * layer). Keys live in an arena owned by the table. Used for keyed state
 * (one table per key group) and for local pre-aggregation. Memory use is
 * reported by kvtable_bytes(). Single-threaded. */
#ifndef MPF_STATE_KVTABLE_H
#define MPF_STATE_KVTABLE_H

#include <stddef.h>
#include <stdint.h>

typedef union kv_value {
    int64_t i;
    double f;
} kv_value;

/* 24 bytes. The key offset is 64-bit, so the arena may pass 4 GiB of key
 * bytes; the low 32 bits of the hash are kept, enough to place a key in
 * a table of up to 2^32 slots (a bigger one stays correct, with longer
 * probe runs) and to skip nearly every key comparison that would fail. */
typedef struct kv_entry {
    uint64_t koff;     /* offset of the key in the arena */
    kv_value val;
    uint32_t hash32;   /* low 32 bits of the key's hash */
    uint32_t klen_p1;  /* key length + 1; 0 marks an empty slot */
} kv_entry;

typedef struct kvtable {
    kv_entry *slots;
    size_t cap, n; /* cap is a power of two */
    uint8_t *arena;
    size_t alen, acap;
} kvtable;

void kvtable_init(kvtable *t);
void kvtable_fini(kvtable *t);
void kvtable_clear(kvtable *t);
/* Find key, inserting it (value zeroed) when absent; *created tells which.
 * The returned pointer is valid until the next upsert. */
kv_entry *kvtable_upsert(kvtable *t, const void *key, uint32_t klen, uint64_t hash,
                         int *created);
kv_entry *kvtable_find(const kvtable *t, const void *key, uint32_t klen, uint64_t hash);
static inline const uint8_t *kvtable_key(const kvtable *t, const kv_entry *e)
{
    return t->arena + e->koff;
}
/* Iterate from *pos (start at 0); NULL at the end. */
kv_entry *kvtable_next(const kvtable *t, size_t *pos);
/* Bytes held: slots plus arena. */
size_t kvtable_bytes(const kvtable *t);

#endif
