/* Key hashing and key groups (record layer). As in Flink, a key's hash
 * picks a key group in [0, max-parallelism), and contiguous ranges of key
 * groups belong to subtasks; key groups are the unit in which keyed state
 * is stored and later redistributed on rescaling. */
#ifndef MPF_RECORD_KEYGROUP_H
#define MPF_RECORD_KEYGROUP_H

#include <stdint.h>
#include <xxhash.h>

typedef struct keygroup_range {
    int start, end; /* inclusive; empty when end < start */
} keygroup_range;

static inline uint64_t key_hash(const void *key, uint32_t len)
{
    return XXH3_64bits(key, len);
}

static inline int keygroup_of(uint64_t hash, int max_parallelism)
{
    /* High bits are as good as low ones for XXH3; a multiply-shift avoids
     * a division on the hot path. */
    return (int)(((hash >> 32) * (uint64_t)max_parallelism) >> 32);
}

/* Subtask that owns a key group (Flink: keyGroup * p / maxP). */
static inline int keygroup_subtask(int kg, int max_parallelism, int parallelism)
{
    return (int)((int64_t)kg * parallelism / max_parallelism);
}

/* Key groups owned by a subtask; consistent with keygroup_subtask. */
keygroup_range keygroup_range_of(int subtask, int max_parallelism, int parallelism);

#endif
