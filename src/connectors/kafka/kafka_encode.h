/* Records to Kafka message bytes for the Kafka sink (connectors layer):
 * the value in one of the formats raw (one field's bytes), csv (every
 * field, the file sink's quoting) or json (an object of every field, via
 * jansson), and a key from one field. Schemas are checked at plan time
 * (kenc_check), so encoding at run time fails only on data jansson
 * refuses (a string that is not UTF-8). Pure functions of the record:
 * callable from any thread. */
#ifndef MPF_CONNECTORS_KAFKA_ENCODE_H
#define MPF_CONNECTORS_KAFKA_ENCODE_H

#include <stddef.h>
#include <stdint.h>
#include "record/schema.h"
#include "util/err.h"

typedef enum kenc_format { KENC_RAW, KENC_CSV, KENC_JSON } kenc_format;

/* How the value of a message is made from a record. */
typedef struct kenc {
    kenc_format format;
    int field;  /* raw: the field written; -1 otherwise */
    char delim; /* csv */
    const schema *sc;
} kenc;

/* A growable byte buffer the encoders append to (caller's memory;
 * kbuf_fini frees). */
typedef struct kbuf {
    uint8_t *p;
    size_t len, cap;
} kbuf;

void kbuf_put(kbuf *b, const void *data, size_t n);
void kbuf_fini(kbuf *b);

/* "raw", "csv" or "json" into *f; -1 if unknown. */
int kenc_format_parse(const char *s, kenc_format *f);
const char *kenc_format_name(kenc_format f);

/* Plan time: set up enc for schema sc (kept by pointer: it must outlive
 * enc). raw needs value_field (a field name; NULL: the schema's only
 * field). Errors (MPF_EJOB) say what is wrong without a position; the
 * caller adds the operator. */
int kenc_init(kenc *enc, kenc_format f, const schema *sc, const char *value_field, char delim,
              mpf_err *e);

/* Append the value of rec (a whole record, length prefix included) to
 * out. 0, or MPF_EPARSE with e naming the field when json cannot take a
 * string. */
int kenc_value(const kenc *enc, const uint8_t *rec, kbuf *out, mpf_err *e);

/* Append field idx of rec as text (strings as their bytes, numbers and
 * timestamps as the csv format writes them): a message key or a topic
 * name. */
void kenc_field_text(const schema *sc, const uint8_t *rec, int idx, kbuf *out);

#endif
