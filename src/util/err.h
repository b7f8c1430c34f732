/* Error objects: a code plus a message that names where the problem is
 * (file:line:col, key, operator uid or rank). Library code fills one of
 * these and returns the code; only main() decides what the user sees. */
#ifndef MPF_UTIL_ERR_H
#define MPF_UTIL_ERR_H

#include <stdarg.h>
#include "mpiflow/error.h"

typedef struct mpf_err {
    int code;
    char msg[1024];
} mpf_err;

/* Record an error in e (may be NULL) and return code, so callers can write
 * `return err_set(e, MPF_EJOB, "%s:%d:%d: ...", ...)`. */
int err_set(mpf_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int err_vset(mpf_err *e, int code, const char *fmt, va_list ap);
/* Prefix an existing message: "<prefix>: <old message>". */
int err_prefix(mpf_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void err_clear(mpf_err *e);

#endif
