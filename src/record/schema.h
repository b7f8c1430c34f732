/* Typed schemas: named fields of i64, f64, bool, string or timestamp
 * (record layer). Schemas are fixed when a job is planned; at run time
 * operators only read field indices resolved at plan time. */
#ifndef MPF_RECORD_SCHEMA_H
#define MPF_RECORD_SCHEMA_H

#include <stddef.h>

typedef enum field_type {
    FT_I64,
    FT_F64,
    FT_BOOL,
    FT_STRING,
    FT_TIMESTAMP /* milliseconds since the epoch, UTC, stored as i64 */
} field_type;

typedef struct field_def {
    char *name;
    field_type type;
} field_def;

typedef struct schema {
    int n;
    field_def *f;
    /* Event time: index of the field holding each record's timestamp
     * (ms, FT_TIMESTAMP or FT_I64), or -1. Set by a source's watermark
     * strategy, kept by operators that pass the field through, set to
     * window_time by windows. */
    int rowtime;
} schema;

void schema_init(schema *s);
void schema_fini(schema *s);
void schema_add(schema *s, const char *name, field_type t);
/* Copies fields and rowtime. */
void schema_copy(schema *dst, const schema *src);
/* Index of the named field or -1. */
int schema_find(const schema *s, const char *name);
/* Same field names and types in the same order. */
int schema_equal(const schema *a, const schema *b);
/* "word:string, count:i64" into buf. */
void schema_format(const schema *s, char *buf, size_t n);
/* NULL-terminated array of field names (caller frees the array only). */
const char **schema_names(const schema *s);

const char *field_type_name(field_type t);
/* Parse "i64|int|long|bigint", "f64|double", "bool|boolean", "string",
 * "timestamp"; returns 0 or -1. */
int field_type_parse(const char *s, field_type *t);
/* Fixed-width types occupy 8 bytes (bool: 1); strings are u32 + bytes. */
static inline int field_type_is_fixed(field_type t) { return t != FT_STRING; }

#endif
