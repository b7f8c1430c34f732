/* Record batches (record layer): the unit that operators consume and
 * produce and that the data plane moves between ranks.
 *
 * A batch lives in one segment of taskmanager.memory.segment-size bytes:
 *   [batch_hdr (16 bytes)] [record]*
 * A record is a u32 length (of what follows) and then its fields in schema
 * order: i64/f64/timestamp as 8 little-endian bytes, bool as 1 byte, string
 * as a u32 length and the bytes. The length prefix lets the data plane
 * and partitioners move a record without knowing its schema. Control
 * events (end of partition, watermarks, latency markers, checkpoint
 * barriers) are batches of another kind, so they stay in order with the
 * data of their channel. */
#ifndef MPF_RECORD_BATCH_H
#define MPF_RECORD_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "record/schema.h"
#include "util/bytes.h"

enum batch_kind {
    BATCH_DATA = 0,
    BATCH_END = 1,      /* end of partition: no more data on this channel */
    BATCH_WATERMARK = 2, /* payload: event time (ms), then the wall-clock ns
                          * when its source created it (i64 each) */
    BATCH_LATENCY = 3,   /* latency marker: wall-clock ns of its creation */
    BATCH_BARRIER = 4    /* checkpoint barrier: the checkpoint id (i64) */
};

/* Flags of a BATCH_WATERMARK: the channel went idle (Flink's
 * WatermarkStatus.IDLE); its watermark is ignored until data or a normal
 * watermark arrives on it again. */
#define BATCH_WM_IDLE 1u

/* Event time limits: no watermark yet, and the end of all input. */
#define WM_MIN INT64_MIN
#define WM_MAX INT64_MAX

typedef struct batch_hdr {
    uint32_t channel; /* global channel id, set by the sender */
    uint32_t count;   /* records */
    uint32_t used;    /* payload bytes after the header */
    uint16_t kind;
    uint16_t flags;
} batch_hdr;

#define BATCH_HDR_SIZE ((uint32_t)sizeof(batch_hdr))
#define REC_LEN_SIZE 4u

static inline batch_hdr *batch_header(uint8_t *seg) { return (batch_hdr *)(void *)seg; }
static inline const batch_hdr *batch_header_c(const uint8_t *seg)
{
    return (const batch_hdr *)(const void *)seg;
}
static inline void batch_reset(uint8_t *seg, uint16_t kind)
{
    batch_hdr *h = batch_header(seg);
    h->channel = 0;
    h->count = 0;
    h->used = 0;
    h->kind = kind;
    h->flags = 0;
}
/* Bytes a full batch occupies on the wire. */
static inline size_t batch_wire_size(const uint8_t *seg)
{
    return BATCH_HDR_SIZE + batch_header_c(seg)->used;
}

/* Append a whole record (length prefix included, total reclen bytes) to a
 * batch of capacity cap. Returns 0, or -1 when it does not fit. */
static inline int batch_append(uint8_t *seg, size_t cap, const uint8_t *rec, uint32_t reclen)
{
    batch_hdr *h = batch_header(seg);
    if ((size_t)BATCH_HDR_SIZE + h->used + reclen > cap)
        return -1;
    memcpy(seg + BATCH_HDR_SIZE + h->used, rec, reclen);
    h->used += reclen;
    h->count++;
    return 0;
}

/* Iterate: for (const uint8_t *r = batch_first(s); r; r = batch_next(s, r)) */
static inline const uint8_t *batch_first(const uint8_t *seg)
{
    return batch_header_c(seg)->used ? seg + BATCH_HDR_SIZE : NULL;
}
static inline const uint8_t *batch_next(const uint8_t *seg, const uint8_t *rec)
{
    const uint8_t *n = rec + REC_LEN_SIZE + rd_u32(rec);
    return n < seg + BATCH_HDR_SIZE + batch_header_c(seg)->used ? n : NULL;
}
/* Total bytes of a record including its length prefix. */
static inline uint32_t rec_size(const uint8_t *rec) { return REC_LEN_SIZE + rd_u32(rec); }

/* Pointer to field idx of a record (walks variable-width fields before
 * it). */
const uint8_t *rec_field(const schema *s, const uint8_t *rec, int idx);
/* Key bytes of a field: the string bytes, or the 8 (1) value bytes. */
const uint8_t *rec_key(const schema *s, const uint8_t *rec, int idx, uint32_t *len);
/* Check that a record received from elsewhere matches its schema's layout
 * (lengths in bounds). Returns 0 or -1. */
int rec_validate(const schema *s, const uint8_t *rec);

/* Builds one record in a growable scratch buffer (also the buffer of
 * snapshot blobs, ops/opstate.h). Sizes are 64-bit: a buffer grows past
 * 4 GiB without wrapping; a record's length prefix is 32-bit, so
 * recbuf_end refuses a record over 4 GiB (err_fatal). */
typedef struct recbuf {
    uint8_t *p;
    size_t len, cap;
} recbuf;

void recbuf_init(recbuf *b);
void recbuf_fini(recbuf *b);
void recbuf_begin(recbuf *b);
void recbuf_i64(recbuf *b, int64_t v);
void recbuf_f64(recbuf *b, double v);
void recbuf_bool(recbuf *b, int v);
void recbuf_str(recbuf *b, const void *s, uint32_t n);
/* Append a field's raw encoding copied from another record. */
void recbuf_raw_field(recbuf *b, field_type t, const uint8_t *field);
/* Fill in the length prefix; the record is b->p[0..b->len). */
void recbuf_end(recbuf *b);

/* Write a field as text (CSV cell without quoting) into out; returns
 * bytes written or the size needed if it does not fit. */
size_t field_format(field_type t, const uint8_t *field, char *out, size_t n);
/* Timestamps as "YYYY-MM-DD HH:MM:SS.mmm" (UTC). */
size_t format_timestamp(int64_t ms, char *out, size_t n);
/* Parse ISO-8601-ish "YYYY-MM-DD[T ]HH:MM:SS[.fff][Z]" or integer ms. */
int parse_timestamp(const char *s, size_t n, int64_t *ms);

#endif
