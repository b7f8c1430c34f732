/* Test helper shared by unit tests of operators: a collector that checks
 * every record it receives against a schema and keeps it as a CSV line. */
#ifndef MPF_TESTS_CAPTURE_H
#define MPF_TESTS_CAPTURE_H

#include <stdlib.h>
#include <string.h>
#include "ops/op.h"
#include "record/batch.h"
#include "record/schema.h"

typedef struct capture {
    collector c;
    const schema *sch;
    char **rows;
    size_t n, cap;
} capture;

static inline void cap_emit(collector *c, const uint8_t *rec, uint32_t len)
{
    capture *cp = (capture *)c;
    assert_int_equal(rec_size(rec), len);
    assert_int_equal(rec_validate(cp->sch, rec), 0);
    char line[2048];
    size_t off = 0;
    for (int i = 0; i < cp->sch->n; i++) {
        if (i)
            line[off++] = ',';
        off += field_format(cp->sch->f[i].type, rec_field(cp->sch, rec, i), line + off,
                            sizeof line - off);
        assert_true(off < sizeof line);
    }
    line[off] = 0;
    if (cp->n == cp->cap) {
        cp->cap = cp->cap ? cp->cap * 2 : 64;
        cp->rows = realloc(cp->rows, cp->cap * sizeof *cp->rows);
    }
    cp->rows[cp->n++] = strdup(line);
}

/* Forget the rows captured so far. */
static inline void cap_clear(capture *cp)
{
    for (size_t i = 0; i < cp->n; i++)
        free(cp->rows[i]);
    cp->n = 0;
}

static inline void cap_fini(capture *cp)
{
    cap_clear(cp);
    free(cp->rows);
    memset(cp, 0, sizeof *cp);
}

static inline int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

#endif
