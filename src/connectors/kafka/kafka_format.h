/* Record formats of the Kafka connectors (connectors layer): how a Kafka
 * message's value becomes a record of the source's declared schema, and
 * which fields come from the message's metadata instead (its key, topic,
 * partition, offset, timestamp).
 *
 * Job YAML (source options `format` and `fields`):
 *   format: raw   the value is one string field (default `value: string`)
 *   format: csv   one CSV record per message (RFC 4180 quotes, `delimiter`,
 *                 default ","), fields in order, as the file source reads
 *   format: json  a JSON object per message; field `name` is the member
 *                 of that name (i64, f64, bool, string, timestamp as ms or
 *                 text); strings also take numbers, booleans, objects and
 *                 arrays as their JSON text
 *   fields: [{name, type, metadata: key|topic|partition|offset|timestamp}]
 * A field with `metadata:` is not read from the value: key and topic are
 * strings (a missing key is ""), partition and offset i64, timestamp a
 * timestamp (the message's CreateTime or LogAppendTime in ms; -1 when the
 * message has none); `type` may be left out for them. The decode
 * functions are pure (no librdkafka), so they are unit-testable; the
 * encode functions of the sink live in kafka_encode.c. */
#ifndef MPF_CONNECTORS_KAFKA_FORMAT_H
#define MPF_CONNECTORS_KAFKA_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include "conf/yamldoc.h"
#include "record/batch.h"
#include "record/schema.h"
#include "util/err.h"

enum kafka_fmt_kind { KFMT_RAW, KFMT_CSV, KFMT_JSON };

enum kafka_meta {
    KMETA_NONE = 0, /* read from the value */
    KMETA_KEY,
    KMETA_TOPIC,
    KMETA_PARTITION,
    KMETA_OFFSET,
    KMETA_TIMESTAMP
};

/* A configured format. Owned by its operator's configuration. */
typedef struct kafka_format {
    enum kafka_fmt_kind kind;
    char delim;      /* csv */
    schema payload;  /* the fields read from the value, in order */
    int nout;        /* fields of the output schema */
    int *meta;       /* per output field: enum kafka_meta */
    int nmeta;       /* how many of them are metadata */
} kafka_format;

/* One message as the decoder sees it (all borrowed). */
typedef struct kafka_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp; /* ms; -1: none */
    const void *key;   /* NULL: no key */
    size_t key_len;
    const void *value; /* NULL: a tombstone, decoded as an empty value */
    size_t len;
} kafka_msg;

/* Plan time: read `format` (default raw), `fields` and `delimiter` from
 * the operator's map and append the output fields to *out. Errors carry
 * file:line:col and "operator '<uid>'" (MPF_EJOB). */
int kafka_format_configure(const ynode *node, const char *uid, kafka_format *f, schema *out,
                           mpf_err *e);
void kafka_format_fini(kafka_format *f);
/* "json" ... */
const char *kafka_format_name(const kafka_format *f);
/* The name of a metadata kind ("key", ...), or NULL for KMETA_NONE. */
const char *kafka_meta_name(int meta);

/* Decode one message into a whole record of the output schema `out` in
 * rb (begun and ended here); scratch is a buffer the decoder may use
 * (kept between calls to save allocations). Returns 0, or -1 with the
 * reason in why ("field 'n': 'x' is not an i64"); the caller names the
 * topic, partition and offset. */
int kafka_format_decode(const kafka_format *f, const schema *out, const kafka_msg *m,
                        recbuf *rb, recbuf *scratch, char *why, size_t whylen);

#endif
