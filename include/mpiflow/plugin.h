/* mpiflow plugin ABI (public API): user functions written in C and loaded
 * by `type: plugin` operators from a shared library.
 *
 * A plugin is a shared object that exports one symbol,
 * mpf_plugin_descriptor() (define it with MPF_PLUGIN below), returning a
 * table of functions. Each function has a kind: map, flat-map, filter,
 * keyed process (keyed state, timers, side outputs) or co-process (two
 * inputs sharing keyed state). A plugin never links against mpiflow:
 * everything it calls is reached through ctx->api, a table of function
 * pointers that mpiflow passes in, so this header is all a plugin needs
 * to build (see docs/PLUGINS.md for the CMake snippet).
 *
 * Versioning: MPF_PLUGIN_ABI_VERSION is major << 16 | minor. mpiflow
 * loads a plugin whose major equals its own and whose minor is not newer
 * than its own. Minor versions only append members to the end of
 * mpf_api and mpf_function; api->size says how much of mpf_api the
 * running mpiflow has.
 *
 * Threads: every callback of one subtask runs on one thread, but several
 * subtasks of the same function may run in one process: keep per-subtask
 * data in ctx->user, not in globals.
 *
 * Errors: callbacks return 0 on success and a negative value on failure;
 * api->error() (mpf_error) records a message and returns MPF_PLUGIN_ERROR
 * so `return mpf_error(ctx, "bad value %d", v);` fails the job with the
 * message, the operator uid and the function name. API calls used
 * wrongly (a type mismatch, state in a function without key-by) record an
 * error that fails the job even when the callback ignores it. */
#ifndef MPIFLOW_PLUGIN_H
#define MPIFLOW_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPF_PLUGIN_ABI_MAJOR 1
#define MPF_PLUGIN_ABI_MINOR 0
#define MPF_PLUGIN_ABI_VERSION ((MPF_PLUGIN_ABI_MAJOR << 16) | MPF_PLUGIN_ABI_MINOR)
/* The one symbol mpiflow looks up in a plugin. */
#define MPF_PLUGIN_SYMBOL "mpf_plugin_descriptor"

#if defined(__GNUC__) || defined(__clang__)
#define MPF_PLUGIN_EXPORT __attribute__((visibility("default")))
#define MPF_PLUGIN_PRINTF_(f, a) __attribute__((format(printf, f, a)))
#else
#define MPF_PLUGIN_EXPORT
#define MPF_PLUGIN_PRINTF_(f, a)
#endif

/* Return values. A filter returns MPF_KEEP or MPF_DROP. */
#define MPF_PLUGIN_OK 0
#define MPF_PLUGIN_ERROR (-1)
#define MPF_DROP 0
#define MPF_KEEP 1

/* Field types, as in job files: i64, f64, bool, string, timestamp (ms
 * since the epoch, UTC, an i64). MPF_ANY in a lookup skips the check. */
enum mpf_type {
    MPF_ANY = -1,
    MPF_I64 = 0,
    MPF_F64 = 1,
    MPF_BOOL = 2,
    MPF_STRING = 3,
    MPF_TIMESTAMP = 4
};

/* Function kinds and the callbacks each one needs. */
enum mpf_kind {
    MPF_MAP = 1,           /* map: one output record per input record */
    MPF_FLAT_MAP = 2,      /* flat_map: any number, with emit */
    MPF_FILTER = 3,        /* filter: keep or drop the input record */
    MPF_KEYED_PROCESS = 4, /* process (+ on_timer): needs key-by */
    MPF_CO_PROCESS = 5     /* process1, process2 (+ on_timer): two inputs */
};

enum mpf_time_domain { MPF_EVENT_TIME = 0, MPF_PROCESSING_TIME = 1 };

enum mpf_state_kind {
    MPF_VALUE_STATE = 0,   /* one byte string per key */
    MPF_LIST_STATE = 1,    /* a list of byte strings per key */
    MPF_MAP_STATE = 2,     /* user key -> byte string, per key */
    MPF_REDUCING_STATE = 3 /* a fixed-size accumulator per key */
};

enum mpf_log_level { MPF_LOG_DEBUG = 0, MPF_LOG_INFO = 1, MPF_LOG_WARN = 2, MPF_LOG_ERROR = 3 };

/* Streams, for schema lookups: the inputs (MPF_INPUT2 for co-process
 * functions), the main output and side outputs by port. */
#define MPF_INPUT1 0
#define MPF_INPUT2 1
#define MPF_OUTPUT (-1)
#define MPF_SIDE(port) (-1 - (port))
/* Output port of the main output; side outputs have ports >= 1. */
#define MPF_MAIN 0
/* No event time: the input has no event-time field, or no watermark yet. */
#define MPF_NO_TIME INT64_MIN

typedef struct mpf_ctx mpf_ctx;
typedef struct mpf_api mpf_api;
/* A record handed to a callback; valid until the callback returns. */
typedef struct mpf_rec mpf_rec;

/* acc = acc (+) value for reducing state; both are `size` bytes, acc is
 * 8-byte aligned, value may not be. Must not call the API. */
typedef void (*mpf_reduce_fn)(void *acc, const void *value, uint32_t size);

/* Per subtask (and once at plan time, with subtask -1). The plugin owns
 * `user`; everything else belongs to mpiflow. */
struct mpf_ctx {
    const mpf_api *api;
    void *user;          /* the plugin's per-subtask pointer; set it in open */
    const char *uid;     /* the operator's uid */
    const char *function;
    int subtask;         /* 0-based; -1 at plan time */
    int parallelism;
};

/* What mpiflow offers a plugin. Calls are valid from the callbacks of the
 * ctx they are given, on that callback's thread. "Keyed" calls need an
 * operator with key-by and act on the current key: the key of the record
 * being processed, or of the timer that fired. Pointers returned into
 * records stay valid until the callback returns; pointers into state stay
 * valid until the next state change (put, add, set, clear, remove). */
struct mpf_api {
    uint32_t size;        /* sizeof(mpf_api) in the running mpiflow */
    uint32_t abi_version; /* its MPF_PLUGIN_ABI_VERSION */

    /* --- errors and logging --- */
    /* Record an error message; returns MPF_PLUGIN_ERROR. */
    int (*verror)(mpf_ctx *ctx, const char *fmt, va_list ap);
    /* Write to mpiflow's log (stderr, tagged with rank and uid). */
    void (*vlog)(mpf_ctx *ctx, int level, const char *fmt, va_list ap);

    /* --- configuration --- */
    /* The value of `args: {name: value}` in the job, or def. The string
     * lives as long as the operator. */
    const char *(*arg)(mpf_ctx *ctx, const char *name, const char *def);

    /* --- schemas (stream: MPF_INPUT1/2, MPF_OUTPUT, MPF_SIDE(port)) --- */
    /* Index of a field of that type (MPF_ANY: any type; i64 and timestamp
     * match each other), or -1 with an error message recorded (not
     * fatal unless the callback fails). Resolve fields in configure or
     * open and keep the indices. */
    int (*field)(mpf_ctx *ctx, int stream, const char *name, int type);
    int (*field_count)(mpf_ctx *ctx, int stream);
    const char *(*field_name)(mpf_ctx *ctx, int stream, int index);
    int (*field_type)(mpf_ctx *ctx, int stream, int index);
    /* Port of a declared side output (>= 1), or -1. */
    int (*side_output)(mpf_ctx *ctx, const char *name);

    /* --- reading the input record (field index of its input) --- */
    /* i64 also reads timestamp and bool fields; f64 also reads i64. */
    int64_t (*get_i64)(mpf_ctx *ctx, const mpf_rec *r, int field);
    double (*get_f64)(mpf_ctx *ctx, const mpf_rec *r, int field);
    int (*get_bool)(mpf_ctx *ctx, const mpf_rec *r, int field);
    /* String bytes (not NUL-terminated) and their length. */
    const char *(*get_str)(mpf_ctx *ctx, const mpf_rec *r, int field, uint32_t *len);
    /* Event time of the current record (its input's event-time field), of
     * a firing event-time timer, or MPF_NO_TIME. */
    int64_t (*timestamp)(mpf_ctx *ctx);

    /* --- output --- */
    /* Start a record for a port (MPF_MAIN or a side port); fields start
     * as 0 / false / "". Map functions get their record already begun,
     * holding the input's same-named fields. */
    int (*out_begin)(mpf_ctx *ctx, int port);
    /* Set a field of the record being built (output field index). i64
     * sets i64 and timestamp fields, f64 also sets i64 (truncating). The
     * string is copied. */
    int (*set_i64)(mpf_ctx *ctx, int field, int64_t v);
    int (*set_f64)(mpf_ctx *ctx, int field, double v);
    int (*set_bool)(mpf_ctx *ctx, int field, int v);
    int (*set_str)(mpf_ctx *ctx, int field, const char *s, uint32_t len);
    /* Copy input field in_field of r (same type) into output field. */
    int (*copy_field)(mpf_ctx *ctx, int field, const mpf_rec *r, int in_field);
    /* Copy every field of r whose name and type match an output field. */
    int (*copy_fields)(mpf_ctx *ctx, const mpf_rec *r);
    /* Set a field to the current key (keyed; the key field's type). */
    int (*set_key)(mpf_ctx *ctx, int field);
    /* Emit the record begun with out_begin. */
    int (*emit)(mpf_ctx *ctx);
    /* Emit r unchanged; the port's schema must be r's input schema. */
    int (*forward)(mpf_ctx *ctx, int port, const mpf_rec *r);
    /* r's encoded bytes, to keep in state (value, list or map) and emit
     * later with forward_bytes; valid until the callback returns. */
    const void *(*rec_bytes)(mpf_ctx *ctx, const mpf_rec *r, uint32_t *len);
    /* Emit a record kept from rec_bytes; the port's schema must be that
     * of the record's input (checked for layout). */
    int (*forward_bytes)(mpf_ctx *ctx, int port, const void *bytes, uint32_t len);

    /* --- keys, time and timers --- */
    /* Current key bytes: a string's bytes, or the 8 (bool: 1) little-
     * endian bytes of a number; NULL when not keyed. */
    const void *(*key)(mpf_ctx *ctx, uint32_t *len);
    int (*key_type)(mpf_ctx *ctx);
    /* The operator's current event time (ms), or MPF_NO_TIME. */
    int64_t (*watermark)(mpf_ctx *ctx);
    /* Wall-clock time in ms since the epoch. */
    int64_t (*now)(mpf_ctx *ctx);
    /* Keyed: a timer for the current key (one per (time, key, domain));
     * on_timer runs once the watermark (event time) or the clock
     * (processing time) reaches `time`. Event-time timers all fire at
     * the end of input; pending processing-time timers are dropped. */
    int (*timer_register)(mpf_ctx *ctx, int domain, int64_t time);
    int (*timer_delete)(mpf_ctx *ctx, int domain, int64_t time);

    /* --- keyed state (declare in open; handles are small ints) --- */
    /* Declare state `name` of a kind; returns its handle (>= 0). The
     * same name must always have the same kind. Reducing state needs
     * the accumulator size and a reduce function. */
    int (*state)(mpf_ctx *ctx, const char *name, int kind, uint32_t size, mpf_reduce_fn reduce);
    /* Remove the current key's entry of any kind of state. */
    int (*state_clear)(mpf_ctx *ctx, int st);
    /* Value and reducing state: the bytes, or NULL when unset. Values
     * are 8-byte aligned. */
    const void *(*value_get)(mpf_ctx *ctx, int st, uint32_t *len);
    int (*value_set)(mpf_ctx *ctx, int st, const void *v, uint32_t len);
    /* List state: append; iterate from *pos = 0 (returns 1 per item, 0
     * at the end); item count. Items are 8-byte aligned. */
    int (*list_add)(mpf_ctx *ctx, int st, const void *v, uint32_t len);
    int (*list_next)(mpf_ctx *ctx, int st, size_t *pos, const void **v, uint32_t *len);
    /* Map state: put/get/remove by user key; iterate from *pos = 0
     * (returns 1 per entry, 0 at the end; the map must not change during
     * the iteration). Removing costs O(entries of the key). */
    int (*map_put)(mpf_ctx *ctx, int st, const void *ukey, uint32_t uklen, const void *v,
                   uint32_t len);
    const void *(*map_get)(mpf_ctx *ctx, int st, const void *ukey, uint32_t uklen,
                           uint32_t *len);
    int (*map_remove)(mpf_ctx *ctx, int st, const void *ukey, uint32_t uklen);
    int (*map_next)(mpf_ctx *ctx, int st, size_t *pos, const void **ukey, uint32_t *uklen,
                    const void **v, uint32_t *len);
    /* Entries of list or map state, 0/1 for value and reducing state. */
    int64_t (*state_size)(mpf_ctx *ctx, int st);
    /* Reducing state: acc = value when unset, else reduce(acc, value).
     * value is the declared size. Read with value_get. */
    int (*reduce_add)(mpf_ctx *ctx, int st, const void *value);
};

/* One user function. Unused callbacks are NULL. */
typedef struct mpf_function {
    const char *name;        /* `function:` in the job */
    int kind;                /* enum mpf_kind */
    const char *summary;     /* one line, for `mpiflow validate` */
    /* NULL-terminated names accepted under `args:` (NULL: any). */
    const char *const *args;
    /* NULL-terminated side outputs it may emit to (their schema comes
     * from `side-outputs:` in the job, else the first input's). */
    const char *const *side_outputs;
    /* Plan time (on every rank, also by `mpiflow validate`): check args
     * and fields; only arg, schema lookups, error and log work here. */
    int (*configure)(mpf_ctx *ctx);
    /* Per subtask, before any record: set ctx->user, declare state. */
    int (*open)(mpf_ctx *ctx);
    /* Per subtask at the end (also after a failure): free ctx->user. */
    void (*close)(mpf_ctx *ctx);
    /* MPF_MAP: set fields of the begun output record; 0 emits it. */
    int (*map)(mpf_ctx *ctx, const mpf_rec *in);
    /* MPF_FLAT_MAP: out_begin/set/emit any number of times. */
    int (*flat_map)(mpf_ctx *ctx, const mpf_rec *in);
    /* MPF_FILTER: MPF_KEEP, MPF_DROP or an error. */
    int (*filter)(mpf_ctx *ctx, const mpf_rec *in);
    /* MPF_KEYED_PROCESS: one record of the current key. */
    int (*process)(mpf_ctx *ctx, const mpf_rec *in);
    /* MPF_CO_PROCESS: a record of input 1 / input 2 (same key space). */
    int (*process1)(mpf_ctx *ctx, const mpf_rec *in);
    int (*process2)(mpf_ctx *ctx, const mpf_rec *in);
    /* Keyed: a timer of the current key fired. */
    int (*on_timer)(mpf_ctx *ctx, int64_t time, int domain);
} mpf_function;

/* What mpf_plugin_descriptor() returns. */
typedef struct mpf_plugin {
    uint32_t abi_version;                 /* MPF_PLUGIN_ABI_VERSION */
    const char *name;
    const char *version;
    const mpf_function *const *functions; /* NULL-terminated */
} mpf_plugin;

/* Define the descriptor: MPF_PLUGIN("name", "1.0", &fn_a, &fn_b). */
#define MPF_PLUGIN(pname, pversion, ...)                                               \
    static const mpf_function *const mpf_plugin_functions_[] = {__VA_ARGS__, NULL};      \
    static const mpf_plugin mpf_plugin_descriptor_ = {MPF_PLUGIN_ABI_VERSION, pname,     \
                                                      pversion, mpf_plugin_functions_}; \
    MPF_PLUGIN_EXPORT const mpf_plugin *mpf_plugin_descriptor(void);                     \
    MPF_PLUGIN_EXPORT const mpf_plugin *mpf_plugin_descriptor(void)                      \
    {                                                                                    \
        return &mpf_plugin_descriptor_;                                                  \
    }

/* ---- Convenience wrappers: mpf_x(ctx, ...) is ctx->api->x(ctx, ...). ---- */

static inline int mpf_error(mpf_ctx *ctx, const char *fmt, ...) MPF_PLUGIN_PRINTF_(2, 3);
static inline int mpf_error(mpf_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ctx->api->verror(ctx, fmt, ap);
    va_end(ap);
    return rc;
}
static inline void mpf_log(mpf_ctx *ctx, int level, const char *fmt, ...) MPF_PLUGIN_PRINTF_(3, 4);
static inline void mpf_log(mpf_ctx *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx->api->vlog(ctx, level, fmt, ap);
    va_end(ap);
}
static inline const char *mpf_arg(mpf_ctx *ctx, const char *name, const char *def)
{
    return ctx->api->arg(ctx, name, def);
}
static inline int mpf_field(mpf_ctx *ctx, int stream, const char *name, int type)
{
    return ctx->api->field(ctx, stream, name, type);
}
static inline int mpf_in_field(mpf_ctx *ctx, const char *name, int type)
{
    return ctx->api->field(ctx, MPF_INPUT1, name, type);
}
static inline int mpf_out_field(mpf_ctx *ctx, const char *name, int type)
{
    return ctx->api->field(ctx, MPF_OUTPUT, name, type);
}
static inline int mpf_side_output(mpf_ctx *ctx, const char *name)
{
    return ctx->api->side_output(ctx, name);
}
static inline int64_t mpf_get_i64(mpf_ctx *ctx, const mpf_rec *r, int f)
{
    return ctx->api->get_i64(ctx, r, f);
}
static inline double mpf_get_f64(mpf_ctx *ctx, const mpf_rec *r, int f)
{
    return ctx->api->get_f64(ctx, r, f);
}
static inline int mpf_get_bool(mpf_ctx *ctx, const mpf_rec *r, int f)
{
    return ctx->api->get_bool(ctx, r, f);
}
static inline const char *mpf_get_str(mpf_ctx *ctx, const mpf_rec *r, int f, uint32_t *len)
{
    return ctx->api->get_str(ctx, r, f, len);
}
static inline int64_t mpf_timestamp(mpf_ctx *ctx) { return ctx->api->timestamp(ctx); }
static inline int mpf_out_begin(mpf_ctx *ctx, int port) { return ctx->api->out_begin(ctx, port); }
static inline int mpf_set_i64(mpf_ctx *ctx, int f, int64_t v) { return ctx->api->set_i64(ctx, f, v); }
static inline int mpf_set_f64(mpf_ctx *ctx, int f, double v) { return ctx->api->set_f64(ctx, f, v); }
static inline int mpf_set_bool(mpf_ctx *ctx, int f, int v) { return ctx->api->set_bool(ctx, f, v); }
static inline int mpf_set_str(mpf_ctx *ctx, int f, const char *s, uint32_t len)
{
    return ctx->api->set_str(ctx, f, s, len);
}
static inline int mpf_set_cstr(mpf_ctx *ctx, int f, const char *s)
{
    return ctx->api->set_str(ctx, f, s, (uint32_t)strlen(s));
}
static inline int mpf_copy_field(mpf_ctx *ctx, int f, const mpf_rec *r, int in_f)
{
    return ctx->api->copy_field(ctx, f, r, in_f);
}
static inline int mpf_copy_fields(mpf_ctx *ctx, const mpf_rec *r)
{
    return ctx->api->copy_fields(ctx, r);
}
static inline int mpf_set_key(mpf_ctx *ctx, int f) { return ctx->api->set_key(ctx, f); }
static inline int mpf_emit(mpf_ctx *ctx) { return ctx->api->emit(ctx); }
static inline int mpf_forward(mpf_ctx *ctx, int port, const mpf_rec *r)
{
    return ctx->api->forward(ctx, port, r);
}
static inline const void *mpf_rec_bytes(mpf_ctx *ctx, const mpf_rec *r, uint32_t *len)
{
    return ctx->api->rec_bytes(ctx, r, len);
}
static inline int mpf_forward_bytes(mpf_ctx *ctx, int port, const void *b, uint32_t len)
{
    return ctx->api->forward_bytes(ctx, port, b, len);
}
static inline const void *mpf_key(mpf_ctx *ctx, uint32_t *len) { return ctx->api->key(ctx, len); }
static inline int64_t mpf_watermark(mpf_ctx *ctx) { return ctx->api->watermark(ctx); }
static inline int64_t mpf_now(mpf_ctx *ctx) { return ctx->api->now(ctx); }
static inline int mpf_timer_register(mpf_ctx *ctx, int domain, int64_t t)
{
    return ctx->api->timer_register(ctx, domain, t);
}
static inline int mpf_timer_delete(mpf_ctx *ctx, int domain, int64_t t)
{
    return ctx->api->timer_delete(ctx, domain, t);
}
static inline int mpf_state(mpf_ctx *ctx, const char *name, int kind, uint32_t size,
                            mpf_reduce_fn reduce)
{
    return ctx->api->state(ctx, name, kind, size, reduce);
}
static inline int mpf_state_clear(mpf_ctx *ctx, int st) { return ctx->api->state_clear(ctx, st); }
static inline int64_t mpf_state_size(mpf_ctx *ctx, int st) { return ctx->api->state_size(ctx, st); }
static inline const void *mpf_value_get(mpf_ctx *ctx, int st, uint32_t *len)
{
    return ctx->api->value_get(ctx, st, len);
}
static inline int mpf_value_set(mpf_ctx *ctx, int st, const void *v, uint32_t len)
{
    return ctx->api->value_set(ctx, st, v, len);
}
/* Value state holding one i64 / f64: returns 1 and sets *v when set. */
static inline int mpf_value_get_i64(mpf_ctx *ctx, int st, int64_t *v)
{
    uint32_t len = 0;
    const void *p = ctx->api->value_get(ctx, st, &len);
    if (!p || len != sizeof *v)
        return 0;
    memcpy(v, p, sizeof *v);
    return 1;
}
static inline int mpf_value_set_i64(mpf_ctx *ctx, int st, int64_t v)
{
    return ctx->api->value_set(ctx, st, &v, sizeof v);
}
static inline int mpf_value_get_f64(mpf_ctx *ctx, int st, double *v)
{
    uint32_t len = 0;
    const void *p = ctx->api->value_get(ctx, st, &len);
    if (!p || len != sizeof *v)
        return 0;
    memcpy(v, p, sizeof *v);
    return 1;
}
static inline int mpf_value_set_f64(mpf_ctx *ctx, int st, double v)
{
    return ctx->api->value_set(ctx, st, &v, sizeof v);
}
static inline int mpf_list_add(mpf_ctx *ctx, int st, const void *v, uint32_t len)
{
    return ctx->api->list_add(ctx, st, v, len);
}
static inline int mpf_list_next(mpf_ctx *ctx, int st, size_t *pos, const void **v, uint32_t *len)
{
    return ctx->api->list_next(ctx, st, pos, v, len);
}
static inline int mpf_map_put(mpf_ctx *ctx, int st, const void *k, uint32_t klen, const void *v,
                              uint32_t len)
{
    return ctx->api->map_put(ctx, st, k, klen, v, len);
}
static inline const void *mpf_map_get(mpf_ctx *ctx, int st, const void *k, uint32_t klen,
                                      uint32_t *len)
{
    return ctx->api->map_get(ctx, st, k, klen, len);
}
static inline int mpf_map_remove(mpf_ctx *ctx, int st, const void *k, uint32_t klen)
{
    return ctx->api->map_remove(ctx, st, k, klen);
}
static inline int mpf_map_next(mpf_ctx *ctx, int st, size_t *pos, const void **k, uint32_t *klen,
                               const void **v, uint32_t *len)
{
    return ctx->api->map_next(ctx, st, pos, k, klen, v, len);
}
static inline int mpf_reduce_add(mpf_ctx *ctx, int st, const void *v)
{
    return ctx->api->reduce_add(ctx, st, v);
}

#ifdef __cplusplus
}
#endif

#endif
