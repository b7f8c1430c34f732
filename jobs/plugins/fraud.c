/* Example plugin: a keyed process function with value state, an event-
 * time timer and a side output (see docs/PLUGINS.md). After Flink's
 * "fraud detection" walkthrough, in event time.
 *
 * fraud-detector (keyed process, key-by: the account):
 *   A small transaction (amount < args.small) followed, for the same
 *   account, by a large one (amount > args.large) at most args.window ms
 *   later raises an alert. Any transaction after a small one ends the
 *   watch; a small transaction that nothing follows within the window is
 *   sent, unchanged, to side output "expired" (by the timer, or by the
 *   next transaction if it comes first: the result is the same).
 *   args: amount (field, default "amount"), small (default 1.0), large
 *         (default 500.0), window (ms, default 60000).
 *   Needs event time: a watermark on the source. Output: the large
 *   transaction's same-named fields plus small_ts (timestamp) and
 *   small_amount (f64) when the output has them. */
#include <stdlib.h>
#include <string.h>
#include <mpiflow/plugin.h>

typedef struct detector {
    double small, large;
    int64_t window;
    int f_amount;
    int o_small_ts, o_small_amount; /* -1: not in the output */
    int flag;                       /* value state: flag_hdr + the small record */
    int expired;                    /* side output port */
    char *buf;
    size_t cap;
} detector;

typedef struct flag_hdr {
    int64_t ts;
    double amount;
} flag_hdr;

static int num_arg(mpf_ctx *ctx, const char *name, const char *def, double *out)
{
    const char *s = mpf_arg(ctx, name, def);
    char *end;
    *out = strtod(s, &end);
    if (end == s || *end)
        return mpf_error(ctx, "%s: expected a number, got '%s'", name, s);
    return 0;
}

static int setup(mpf_ctx *ctx, detector *d)
{
    double w;
    if (num_arg(ctx, "small", "1.0", &d->small) || num_arg(ctx, "large", "500.0", &d->large) ||
        num_arg(ctx, "window", "60000", &w))
        return MPF_PLUGIN_ERROR;
    if (w <= 0)
        return mpf_error(ctx, "window must be positive (ms)");
    d->window = (int64_t)w;
    d->f_amount = mpf_in_field(ctx, mpf_arg(ctx, "amount", "amount"), MPF_F64);
    if (d->f_amount < 0)
        return MPF_PLUGIN_ERROR;
    d->o_small_ts = ctx->api->field(ctx, MPF_OUTPUT, "small_ts", MPF_TIMESTAMP);
    d->o_small_amount = ctx->api->field(ctx, MPF_OUTPUT, "small_amount", MPF_F64);
    /* The expired records are the input's records: same layout. */
    int n = ctx->api->field_count(ctx, MPF_INPUT1);
    int port = mpf_side_output(ctx, "expired");
    if (port < 0 || ctx->api->field_count(ctx, MPF_SIDE(port)) != n)
        return mpf_error(ctx, "side output 'expired' must have the input's fields");
    for (int i = 0; i < n; i++)
        if (ctx->api->field_type(ctx, MPF_SIDE(port), i) != ctx->api->field_type(ctx, MPF_INPUT1, i))
            return mpf_error(ctx, "side output 'expired' must have the input's fields");
    d->expired = port;
    return 0;
}

static int fraud_configure(mpf_ctx *ctx)
{
    detector d;
    return setup(ctx, &d);
}

static int fraud_open(mpf_ctx *ctx)
{
    detector *d = calloc(1, sizeof *d);
    if (!d)
        return mpf_error(ctx, "out of memory");
    ctx->user = d;
    if (setup(ctx, d))
        return MPF_PLUGIN_ERROR;
    d->flag = mpf_state(ctx, "flag", MPF_VALUE_STATE, 0, NULL);
    return d->flag < 0 ? MPF_PLUGIN_ERROR : 0;
}

static void fraud_close(mpf_ctx *ctx)
{
    detector *d = ctx->user;
    if (d)
        free(d->buf);
    free(d);
    ctx->user = NULL;
}

/* The small transaction being watched: header and record, or NULL. */
static const char *get_flag(mpf_ctx *ctx, const detector *d, flag_hdr *h, uint32_t *len)
{
    const char *p = mpf_value_get(ctx, d->flag, len);
    if (!p)
        return NULL;
    memcpy(h, p, sizeof *h);
    return p;
}

static int expire(mpf_ctx *ctx, const detector *d, const char *flag, uint32_t len)
{
    return mpf_forward_bytes(ctx, d->expired, flag + sizeof(flag_hdr),
                             len - (uint32_t)sizeof(flag_hdr));
}

static int fraud_process(mpf_ctx *ctx, const mpf_rec *in)
{
    detector *d = ctx->user;
    int64_t ts = mpf_timestamp(ctx);
    if (ts == MPF_NO_TIME)
        return mpf_error(ctx, "needs event time: give the source a watermark: {field: ...}");
    double amount = mpf_get_f64(ctx, in, d->f_amount);
    flag_hdr h;
    uint32_t len;
    const char *flag = get_flag(ctx, d, &h, &len);
    if (flag) {
        if (ts - h.ts <= d->window) {
            if (amount > d->large) {
                if (mpf_out_begin(ctx, MPF_MAIN) || mpf_copy_fields(ctx, in) ||
                    (d->o_small_ts >= 0 && mpf_set_i64(ctx, d->o_small_ts, h.ts)) ||
                    (d->o_small_amount >= 0 && mpf_set_f64(ctx, d->o_small_amount, h.amount)) ||
                    mpf_emit(ctx))
                    return MPF_PLUGIN_ERROR;
            }
        } else if (expire(ctx, d, flag, len)) {
            return MPF_PLUGIN_ERROR;
        }
        if (mpf_timer_delete(ctx, MPF_EVENT_TIME, h.ts + d->window) ||
            mpf_state_clear(ctx, d->flag))
            return MPF_PLUGIN_ERROR;
    }
    if (amount < d->small) {
        uint32_t rlen;
        const void *rec = mpf_rec_bytes(ctx, in, &rlen);
        size_t need = sizeof h + rlen;
        if (need > d->cap) {
            char *nb = realloc(d->buf, need);
            if (!nb)
                return mpf_error(ctx, "out of memory");
            d->buf = nb;
            d->cap = need;
        }
        h.ts = ts;
        h.amount = amount;
        memcpy(d->buf, &h, sizeof h);
        memcpy(d->buf + sizeof h, rec, rlen);
        if (mpf_value_set(ctx, d->flag, d->buf, (uint32_t)need) ||
            mpf_timer_register(ctx, MPF_EVENT_TIME, ts + d->window))
            return MPF_PLUGIN_ERROR;
    }
    return 0;
}

static int fraud_on_timer(mpf_ctx *ctx, int64_t time, int domain)
{
    detector *d = ctx->user;
    flag_hdr h;
    uint32_t len;
    const char *flag = get_flag(ctx, d, &h, &len);
    if (!flag || h.ts + d->window != time)
        return 0;
    if (expire(ctx, d, flag, len))
        return MPF_PLUGIN_ERROR;
    return mpf_state_clear(ctx, d->flag);
}

static const char *const fraud_args[] = {"amount", "small", "large", "window", NULL};
static const char *const fraud_sides[] = {"expired", NULL};

static const mpf_function fraud_detector = {
    .name = "fraud-detector",
    .kind = MPF_KEYED_PROCESS,
    .summary = "alert on a small transaction followed by a large one within a window",
    .args = fraud_args,
    .side_outputs = fraud_sides,
    .configure = fraud_configure,
    .open = fraud_open,
    .close = fraud_close,
    .process = fraud_process,
    .on_timer = fraud_on_timer,
};

MPF_PLUGIN("fraud", "1.0", &fraud_detector)
