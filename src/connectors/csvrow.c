/* One CSV record onto a schema (connectors layer): RFC 4180 quotes, one
 * delimiter character, cells converted to the schema's field types (i64,
 * f64, bool as true/false/1/0, string, timestamp as parse_timestamp
 * reads it). Shared by the file source and the Kafka source's csv
 * format. */
#include "connectors/csvrow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/xmalloc.h"

int csvrow_parse(const schema *sc, char delim, const char *line, size_t len, recbuf *rb,
                 char *why, size_t whylen)
{
    char *cell = xmalloc(len + 1);
    size_t i = 0;
    int rc = -1;
    recbuf_begin(rb);
    for (int f = 0; f < sc->n; f++) {
        size_t col = i + 1, n = 0;
        if (i > len || (f > 0 && i == len + 1)) {
            snprintf(why, whylen, "col %zu: %d field(s), expected %d", len + 1, f, sc->n);
            goto out;
        }
        if (i < len && line[i] == '"') {
            i++;
            for (;;) {
                if (i >= len) {
                    snprintf(why, whylen, "col %zu: unterminated quoted field '%s'", col,
                             sc->f[f].name);
                    goto out;
                }
                if (line[i] == '"') {
                    if (i + 1 < len && line[i + 1] == '"') {
                        cell[n++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                cell[n++] = line[i++];
            }
            if (i < len && line[i] != delim) {
                snprintf(why, whylen, "col %zu: text after closing quote of field '%s'", i + 1,
                         sc->f[f].name);
                goto out;
            }
        } else {
            while (i < len && line[i] != delim)
                cell[n++] = line[i++];
        }
        cell[n] = '\0';
        int last = f == sc->n - 1;
        if (last ? i != len : i >= len) {
            snprintf(why, whylen, "col %zu: %s fields than the %d declared", i + 1,
                     last ? "more" : "fewer", sc->n);
            goto out;
        }
        i++; /* skip the delimiter */
        char *end = NULL;
        errno = 0;
        switch (sc->f[f].type) {
        case FT_STRING:
            recbuf_str(rb, cell, (uint32_t)n);
            break;
        case FT_I64: {
            long long v = strtoll(cell, &end, 10);
            if (!n || *end || errno) {
                snprintf(why, whylen, "col %zu: field '%s': '%.40s' is not an i64", col,
                         sc->f[f].name, cell);
                goto out;
            }
            recbuf_i64(rb, v);
            break;
        }
        case FT_F64: {
            double v = strtod(cell, &end);
            if (!n || *end || errno == ERANGE) {
                snprintf(why, whylen, "col %zu: field '%s': '%.40s' is not an f64", col,
                         sc->f[f].name, cell);
                goto out;
            }
            recbuf_f64(rb, v);
            break;
        }
        case FT_BOOL:
            if (strcmp(cell, "true") == 0 || strcmp(cell, "1") == 0)
                recbuf_bool(rb, 1);
            else if (strcmp(cell, "false") == 0 || strcmp(cell, "0") == 0)
                recbuf_bool(rb, 0);
            else {
                snprintf(why, whylen, "col %zu: field '%s': '%.40s' is not a bool", col,
                         sc->f[f].name, cell);
                goto out;
            }
            break;
        case FT_TIMESTAMP: {
            int64_t ms;
            if (parse_timestamp(cell, n, &ms)) {
                snprintf(why, whylen, "col %zu: field '%s': '%.40s' is not a timestamp", col,
                         sc->f[f].name, cell);
                goto out;
            }
            recbuf_i64(rb, ms);
            break;
        }
        }
    }
    recbuf_end(rb);
    rc = 0;
out:
    free(cell);
    return rc;
}
