/* Error codes and error objects (util layer). */
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mpf_strerror(int code)
{
    switch (code) {
#define MPF_ERR_STR_(name, val, msg) case (val): return msg;
        MPF_ERROR_LIST(MPF_ERR_STR_)
#undef MPF_ERR_STR_
    }
    return "unknown error";
}

const char *mpf_err_name(int code)
{
    switch (code) {
#define MPF_ERR_NAME_(name, val, msg) case (val): return "MPF_" #name;
        MPF_ERROR_LIST(MPF_ERR_NAME_)
#undef MPF_ERR_NAME_
    }
    return "MPF_UNKNOWN";
}

int err_vset(mpf_err *e, int code, const char *fmt, va_list ap)
{
    if (e) {
        e->code = code;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    }
    return code;
}

int err_set(mpf_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

int err_prefix(mpf_err *e, const char *fmt, ...)
{
    if (!e)
        return MPF_EINVAL;
    if (e->code >= 0) { /* a failure nobody described: keep it a failure */
        e->code = MPF_EINVAL;
        if (!e->msg[0])
            snprintf(e->msg, sizeof e->msg, "%s", mpf_strerror(e->code));
    }
    char old[sizeof e->msg];
    memcpy(old, e->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    size_t at = n < 0 ? 0 : (size_t)n;
    if (at + 3 < sizeof e->msg) {
        size_t room = sizeof e->msg - at - 3, len = strnlen(old, sizeof old);
        memcpy(e->msg + at, ": ", 2);
        memcpy(e->msg + at + 2, old, len < room ? len : room);
        e->msg[at + 2 + (len < room ? len : room)] = '\0';
    }
    return e->code;
}

void err_clear(mpf_err *e)
{
    if (e) {
        e->code = 0;
        e->msg[0] = '\0';
    }
}

static _Thread_local const err_ctx *cur_ctx;

const err_ctx *err_ctx_swap(const err_ctx *c)
{
    const err_ctx *prev = cur_ctx;
    cur_ctx = c;
    return prev;
}

void err_fatal(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const err_ctx *c = cur_ctx;
    if (c && c->uid)
        fprintf(stderr, "mpiflow: operator '%s' subtask %d/%d: %s\n", c->uid, c->subtask + 1,
                c->parallelism, msg);
    else
        fprintf(stderr, "mpiflow: %s\n", msg);
    abort();
}
