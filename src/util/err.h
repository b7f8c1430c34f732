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
/* Prefix an existing message: "<prefix>: <old message>". Called on a
 * failure path, so it never returns 0: it returns e's code, or MPF_EINVAL
 * when e is NULL or holds no error code (a callee that failed without
 * setting e; the code is then recorded and an empty message becomes the
 * code's description). `return err_prefix(e, ...)` is thus always a
 * failure. */
int err_prefix(mpf_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void err_clear(mpf_err *e);

/* What the calling thread is working for (an operator's subtask), named
 * by err_fatal. Thread-local; the pointer must stay valid while set.
 * Returns the previous one, for nesting (set it back afterwards). */
typedef struct err_ctx {
    const char *uid;
    int subtask, parallelism; /* subtask counts from 0 */
} err_ctx;
const err_ctx *err_ctx_swap(const err_ctx *c);
/* A limit reached on the data path where no error can be returned (a
 * state store past its addressable size): print one line, "mpiflow:
 * operator '<uid>' subtask <i>/<n>: <message>" (without the operator when
 * no context is set), and abort, as xmalloc does when memory runs out. */
_Noreturn void err_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
