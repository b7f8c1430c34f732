/* Fixed-width integers and doubles in byte buffers (util layer): the one
 * set of helpers for records, batches, state entries and snapshot blobs.
 * The layout is little-endian whatever the host, so batches and
 * checkpoint blobs mean the same on every node; the pointers need no
 * alignment. On little-endian hosts each helper is a single load or
 * store. */
#ifndef MPF_UTIL_BYTES_H
#define MPF_UTIL_BYTES_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define MPF_LE32(x) __builtin_bswap32(x)
#define MPF_LE64(x) __builtin_bswap64(x)
#else
#define MPF_LE32(x) (x)
#define MPF_LE64(x) (x)
#endif

static inline uint32_t rd_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return MPF_LE32(v);
}
static inline uint64_t rd_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return MPF_LE64(v);
}
static inline int64_t rd_i64(const uint8_t *p) { return (int64_t)rd_u64(p); }
static inline double rd_f64(const uint8_t *p)
{
    uint64_t u = rd_u64(p);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static inline void wr_u32(uint8_t *p, uint32_t v)
{
    v = MPF_LE32(v);
    memcpy(p, &v, 4);
}
static inline void wr_u64(uint8_t *p, uint64_t v)
{
    v = MPF_LE64(v);
    memcpy(p, &v, 8);
}
static inline void wr_i64(uint8_t *p, int64_t v) { wr_u64(p, (uint64_t)v); }
static inline void wr_f64(uint8_t *p, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    wr_u64(p, u);
}

#endif
