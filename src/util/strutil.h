/* Small string helpers (util layer). */
#ifndef MPF_UTIL_STRUTIL_H
#define MPF_UTIL_STRUTIL_H

#include <stddef.h>

/* Levenshtein distance, capped at cap+1 for speed. */
size_t str_edit_distance(const char *a, const char *b, size_t cap);
/* The candidate closest to s if it is plausibly a typo of it (distance at
 * most max(2, strlen(s)/3)), else NULL. cands is NULL-terminated. */
const char *str_closest(const char *s, const char *const *cands);
int str_ieq(const char *a, const char *b);
/* rel in the directory of file ("<dir of file>/rel"), or NULL when file
 * is NULL or has no directory part: where a path written in a job file is
 * looked for first. Caller frees. */
char *str_path_beside(const char *file, const char *rel);
/* Append printf output at buf[at] (buf holds n bytes) and return the new
 * length, which may exceed n: the text is cut but always terminated (when
 * n > 0), and the return value says how long the whole would be. */
size_t str_appendf(char *buf, size_t n, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
