/* Helpers for operator snapshots (ops layer): keyed state is written as
 * one blob per key group, built in per-key-group buffers; blobs are read
 * back with a bounds-checked reader, so a damaged blob is an error, never
 * a crash. */
#ifndef MPF_OPS_OPSTATE_H
#define MPF_OPS_OPSTATE_H

#include <stdint.h>
#include <string.h>
#include "ops/op.h"
#include "util/bytes.h"

typedef struct kgbufs {
    int first, n, maxp;
    recbuf *b;
} kgbufs;

/* Buffers for the key groups of oi's subtask. */
void kgbufs_init(kgbufs *k, const op_inst *oi);
/* The buffer of the key group of key. */
recbuf *kgbufs_for(kgbufs *k, const void *key, uint32_t klen);
/* Append raw bytes to a buffer. */
void kgbuf_put(recbuf *b, const void *p, uint32_t n);
static inline void kgbuf_u32(recbuf *b, uint32_t v)
{
    uint8_t q[4];
    wr_u32(q, v);
    kgbuf_put(b, q, 4);
}
static inline void kgbuf_i64(recbuf *b, int64_t v)
{
    uint8_t q[8];
    wr_i64(q, v);
    kgbuf_put(b, q, 8);
}
/* Hand every non-empty buffer to w as a SNAP_KEYED blob and free them. */
void kgbufs_flush(kgbufs *k, snap_writer *w);

typedef struct blobrd {
    const uint8_t *p, *end;
    int bad;
} blobrd;

static inline void blobrd_init(blobrd *r, const snap_blob *b)
{
    r->p = b->data;
    r->end = b->data + b->len;
    r->bad = 0;
}
static inline int blobrd_more(const blobrd *r) { return !r->bad && r->p < r->end; }
/* Next n bytes, or NULL (and r->bad) past the end. */
static inline const uint8_t *blobrd_bytes(blobrd *r, uint32_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = r->p;
    r->p += n;
    return q;
}
static inline uint32_t blobrd_u32(blobrd *r)
{
    const uint8_t *q = blobrd_bytes(r, 4);
    return q ? rd_u32(q) : 0;
}
static inline int64_t blobrd_i64(blobrd *r)
{
    const uint8_t *q = blobrd_bytes(r, 8);
    return q ? rd_i64(q) : 0;
}
/* The error for a blob that did not parse. */
int blobrd_error(const op_inst *oi, const snap_blob *b, mpf_err *e);

#endif
