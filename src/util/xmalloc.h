/* Allocation wrappers. Out-of-memory policy: print one line naming the
 * size and abort. mpiflow sizes its buffers from configuration, so running
 * out of memory is a configuration or host problem, not a recoverable
 * per-record condition; aborting ends the MPI world promptly. */
#ifndef MPF_UTIL_XMALLOC_H
#define MPF_UTIL_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh heap string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
