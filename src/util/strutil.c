/* Small string helpers (util layer). */
#include "util/strutil.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/xmalloc.h"

size_t str_edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    size_t *row = xmalloc((lb + 1) * sizeof *row);
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

const char *str_closest(const char *s, const char *const *cands)
{
    size_t limit = strlen(s) / 3;
    if (limit < 2)
        limit = 2;
    const char *best = NULL;
    size_t bestd = limit + 1;
    for (size_t i = 0; cands[i]; i++) {
        size_t d = str_edit_distance(s, cands[i], limit);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return best;
}

int str_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

char *str_path_beside(const char *file, const char *rel)
{
    const char *slash = file ? strrchr(file, '/') : NULL;
    return slash ? xasprintf("%.*s/%s", (int)(slash - file), file, rel) : NULL;
}

size_t str_appendf(char *buf, size_t n, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + (at < n ? at : n), at < n ? n - at : 0, fmt, ap);
    va_end(ap);
    return k > 0 ? at + (size_t)k : at;
}
