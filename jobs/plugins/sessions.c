/* Example plugin: keyed process functions using every kind of keyed state
 * and both timer domains (see docs/PLUGINS.md).
 *
 * sessions (keyed process): per key, activity sessions in event time: a
 *   session ends when args.gap ms pass without a record (the gap is
 *   inclusive: a record exactly gap ms after the last one continues the
 *   session). When a session ends it emits
 *     <key-as>, start, end, count, total, max, categories, top_category
 *   (every field optional except the key): first and last event time,
 *   records, sum and maximum of args.value, distinct values of
 *   args.category and the most frequent one (ties: the smallest).
 *   State: value (start, last), list (the values), reducing (the sum),
 *   map (category -> count).
 *   args: gap (ms, default 30000), value (default "amount"), category
 *         (default "category"), key-as (output field, default "key").
 *
 * first-seen (keyed process): args.delay ms of processing time after a
 *   key's first record, emits <key-as> and count, the records of that key
 *   seen by then. args: delay (ms, default 100), key-as (default "key"). */
#include <stdlib.h>
#include <string.h>
#include <mpiflow/plugin.h>

typedef struct sess {
    int64_t gap;
    int f_value, f_cat;
    int o_key, o_start, o_end, o_count, o_total, o_max, o_cats, o_top;
    int st_span, st_values, st_total, st_cats;
} sess;

typedef struct span {
    int64_t start, last;
} span;

static int int_arg(mpf_ctx *ctx, const char *name, const char *def, int64_t *out)
{
    const char *s = mpf_arg(ctx, name, def);
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v <= 0)
        return mpf_error(ctx, "%s: expected a positive number of ms, got '%s'", name, s);
    *out = v;
    return 0;
}

/* An optional output field: its index or -1 (and no error). */
static int opt_out(mpf_ctx *ctx, const char *name, int type)
{
    return ctx->api->field(ctx, MPF_OUTPUT, name, type);
}

static int sess_setup(mpf_ctx *ctx, sess *s)
{
    if (int_arg(ctx, "gap", "30000", &s->gap))
        return MPF_PLUGIN_ERROR;
    s->f_value = mpf_in_field(ctx, mpf_arg(ctx, "value", "amount"), MPF_ANY);
    if (s->f_value < 0)
        return MPF_PLUGIN_ERROR;
    s->f_cat = mpf_in_field(ctx, mpf_arg(ctx, "category", "category"), MPF_STRING);
    if (s->f_cat < 0)
        return MPF_PLUGIN_ERROR;
    s->o_key = mpf_out_field(ctx, mpf_arg(ctx, "key-as", "key"), MPF_ANY);
    if (s->o_key < 0)
        return MPF_PLUGIN_ERROR;
    s->o_start = opt_out(ctx, "start", MPF_TIMESTAMP);
    s->o_end = opt_out(ctx, "end", MPF_TIMESTAMP);
    s->o_count = opt_out(ctx, "count", MPF_I64);
    s->o_total = opt_out(ctx, "total", MPF_F64);
    s->o_max = opt_out(ctx, "max", MPF_F64);
    s->o_cats = opt_out(ctx, "categories", MPF_I64);
    s->o_top = opt_out(ctx, "top_category", MPF_STRING);
    return 0;
}

static int sess_configure(mpf_ctx *ctx)
{
    sess s;
    return sess_setup(ctx, &s);
}

static void add_double(void *acc, const void *v, uint32_t size)
{
    double a, b;
    memcpy(&a, acc, sizeof a);
    memcpy(&b, v, sizeof b);
    a += b;
    memcpy(acc, &a, sizeof a);
}

static int sess_open(mpf_ctx *ctx)
{
    sess *s = calloc(1, sizeof *s);
    if (!s)
        return mpf_error(ctx, "out of memory");
    ctx->user = s;
    if (sess_setup(ctx, s))
        return MPF_PLUGIN_ERROR;
    s->st_span = mpf_state(ctx, "span", MPF_VALUE_STATE, 0, NULL);
    s->st_values = mpf_state(ctx, "values", MPF_LIST_STATE, 0, NULL);
    s->st_total = mpf_state(ctx, "total", MPF_REDUCING_STATE, sizeof(double), add_double);
    s->st_cats = mpf_state(ctx, "categories", MPF_MAP_STATE, 0, NULL);
    return s->st_span < 0 || s->st_values < 0 || s->st_total < 0 || s->st_cats < 0
               ? MPF_PLUGIN_ERROR : 0;
}

static void sess_close(mpf_ctx *ctx)
{
    free(ctx->user);
    ctx->user = NULL;
}

/* Emit the current key's session and clear its state. */
static int close_session(mpf_ctx *ctx, const sess *s, const span *sp)
{
    int64_t count = 0;
    double max = 0, total = 0;
    size_t pos = 0;
    const void *v;
    uint32_t len;
    while (mpf_list_next(ctx, s->st_values, &pos, &v, &len) == 1) {
        double x;
        memcpy(&x, v, sizeof x);
        if (!count++ || x > max)
            max = x;
    }
    const void *acc = mpf_value_get(ctx, s->st_total, NULL);
    if (acc)
        memcpy(&total, acc, sizeof total);
    const void *top = NULL, *uk;
    uint32_t toplen = 0, uklen;
    int64_t topn = 0;
    pos = 0;
    while (mpf_map_next(ctx, s->st_cats, &pos, &uk, &uklen, &v, &len) == 1) {
        int64_t n;
        memcpy(&n, v, sizeof n);
        int cmp = 0;
        if (top) {
            cmp = memcmp(uk, top, uklen < toplen ? uklen : toplen);
            if (!cmp)
                cmp = uklen < toplen ? -1 : uklen > toplen;
        }
        if (!top || n > topn || (n == topn && cmp < 0)) {
            top = uk;
            toplen = uklen;
            topn = n;
        }
    }
    if (mpf_out_begin(ctx, MPF_MAIN) || mpf_set_key(ctx, s->o_key) ||
        (s->o_start >= 0 && mpf_set_i64(ctx, s->o_start, sp->start)) ||
        (s->o_end >= 0 && mpf_set_i64(ctx, s->o_end, sp->last)) ||
        (s->o_count >= 0 && mpf_set_i64(ctx, s->o_count, count)) ||
        (s->o_total >= 0 && mpf_set_f64(ctx, s->o_total, total)) ||
        (s->o_max >= 0 && mpf_set_f64(ctx, s->o_max, max)) ||
        (s->o_cats >= 0 && mpf_set_i64(ctx, s->o_cats, mpf_state_size(ctx, s->st_cats))) ||
        (s->o_top >= 0 && mpf_set_str(ctx, s->o_top, top ? top : "", toplen)) ||
        mpf_emit(ctx))
        return MPF_PLUGIN_ERROR;
    if (mpf_state_clear(ctx, s->st_span) || mpf_state_clear(ctx, s->st_values) ||
        mpf_state_clear(ctx, s->st_total) || mpf_state_clear(ctx, s->st_cats))
        return MPF_PLUGIN_ERROR;
    return 0;
}

static int sess_process(mpf_ctx *ctx, const mpf_rec *in)
{
    const sess *s = ctx->user;
    int64_t ts = mpf_timestamp(ctx);
    if (ts == MPF_NO_TIME)
        return mpf_error(ctx, "needs event time: give the source a watermark: {field: ...}");
    span sp;
    uint32_t len;
    const void *p = mpf_value_get(ctx, s->st_span, &len);
    int open = p != NULL;
    if (open) {
        memcpy(&sp, p, sizeof sp);
        if (mpf_timer_delete(ctx, MPF_EVENT_TIME, sp.last + s->gap))
            return MPF_PLUGIN_ERROR;
        if (ts - sp.last > s->gap) { /* the timer has not fired yet */
            if (close_session(ctx, s, &sp))
                return MPF_PLUGIN_ERROR;
            open = 0;
        }
    }
    if (!open)
        sp.start = sp.last = ts;
    if (ts > sp.last)
        sp.last = ts;
    double v = mpf_get_f64(ctx, in, s->f_value);
    uint32_t clen;
    const char *cat = mpf_get_str(ctx, in, s->f_cat, &clen);
    int64_t n = 0;
    const void *old = mpf_map_get(ctx, s->st_cats, cat, clen, NULL);
    if (old)
        memcpy(&n, old, sizeof n);
    n++;
    if (mpf_value_set(ctx, s->st_span, &sp, sizeof sp) ||
        mpf_list_add(ctx, s->st_values, &v, sizeof v) || mpf_reduce_add(ctx, s->st_total, &v) ||
        mpf_map_put(ctx, s->st_cats, cat, clen, &n, sizeof n) ||
        mpf_timer_register(ctx, MPF_EVENT_TIME, sp.last + s->gap))
        return MPF_PLUGIN_ERROR;
    return 0;
}

static int sess_on_timer(mpf_ctx *ctx, int64_t time, int domain)
{
    const sess *s = ctx->user;
    span sp;
    const void *p = mpf_value_get(ctx, s->st_span, NULL);
    if (!p)
        return 0;
    memcpy(&sp, p, sizeof sp);
    return sp.last + s->gap == time ? close_session(ctx, s, &sp) : 0;
}

static const char *const sess_args[] = {"gap", "value", "category", "key-as", NULL};

static const mpf_function sessions = {
    .name = "sessions",
    .kind = MPF_KEYED_PROCESS,
    .summary = "event-time activity sessions per key with count, sum, max and categories",
    .args = sess_args,
    .configure = sess_configure,
    .open = sess_open,
    .close = sess_close,
    .process = sess_process,
    .on_timer = sess_on_timer,
};

/* --- first-seen --- */

typedef struct seen {
    int64_t delay;
    int o_key, o_count;
    int st_count;
} seen;

static int seen_setup(mpf_ctx *ctx, seen *s)
{
    if (int_arg(ctx, "delay", "100", &s->delay))
        return MPF_PLUGIN_ERROR;
    s->o_key = mpf_out_field(ctx, mpf_arg(ctx, "key-as", "key"), MPF_ANY);
    s->o_count = s->o_key < 0 ? -1 : mpf_out_field(ctx, "count", MPF_I64);
    return s->o_key < 0 || s->o_count < 0 ? MPF_PLUGIN_ERROR : 0;
}

static int seen_configure(mpf_ctx *ctx)
{
    seen s;
    return seen_setup(ctx, &s);
}

static int seen_open(mpf_ctx *ctx)
{
    seen *s = calloc(1, sizeof *s);
    if (!s)
        return mpf_error(ctx, "out of memory");
    ctx->user = s;
    if (seen_setup(ctx, s))
        return MPF_PLUGIN_ERROR;
    s->st_count = mpf_state(ctx, "count", MPF_VALUE_STATE, 0, NULL);
    return s->st_count < 0 ? MPF_PLUGIN_ERROR : 0;
}

static int seen_process(mpf_ctx *ctx, const mpf_rec *in)
{
    const seen *s = ctx->user;
    int64_t n = 0;
    if (!mpf_value_get_i64(ctx, s->st_count, &n) &&
        mpf_timer_register(ctx, MPF_PROCESSING_TIME, mpf_now(ctx) + s->delay))
        return MPF_PLUGIN_ERROR;
    return mpf_value_set_i64(ctx, s->st_count, n + 1);
}

static int seen_on_timer(mpf_ctx *ctx, int64_t time, int domain)
{
    const seen *s = ctx->user;
    int64_t n = 0;
    if (domain != MPF_PROCESSING_TIME)
        return mpf_error(ctx, "unexpected event-time timer");
    mpf_value_get_i64(ctx, s->st_count, &n);
    if (mpf_out_begin(ctx, MPF_MAIN) || mpf_set_key(ctx, s->o_key) ||
        mpf_set_i64(ctx, s->o_count, n))
        return MPF_PLUGIN_ERROR;
    return mpf_emit(ctx);
}

static const char *const seen_args[] = {"delay", "key-as", NULL};

static const mpf_function first_seen = {
    .name = "first-seen",
    .kind = MPF_KEYED_PROCESS,
    .summary = "per key, the record count a processing-time delay after its first record",
    .args = seen_args,
    .configure = seen_configure,
    .open = seen_open,
    .close = sess_close,
    .process = seen_process,
    .on_timer = seen_on_timer,
};

MPF_PLUGIN("sessions", "1.0", &sessions, &first_seen)
