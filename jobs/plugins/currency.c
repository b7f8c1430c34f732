/* Example plugin: a map and a filter (see docs/PLUGINS.md).
 *
 * to-eur (map): converts an amount in some currency to euros.
 *   args: currency (field, default "currency"), amount (field, default
 *         "amount"), as (output field, default "amount_eur"),
 *         rates ("USD=0.92,GBP=1.17,..."; EUR is always 1).
 *   The output record starts with the input's same-named fields; the
 *   function only sets `as`. An unknown currency fails the job.
 *
 * above (filter): keeps records whose numeric field is at least a bound.
 *   args: field (default "amount"), min (default 0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mpiflow/plugin.h>

#define MAX_RATES 64

typedef struct rates {
    int n;
    char code[MAX_RATES][8];
    double rate[MAX_RATES];
    int f_cur, f_amount, f_out;
} rates;

/* Parse "USD=0.92,GBP=1.17" into r; returns 0 or an error. */
static int parse_rates(mpf_ctx *ctx, const char *text, rates *r)
{
    snprintf(r->code[0], sizeof r->code[0], "EUR");
    r->rate[0] = 1.0;
    r->n = 1;
    for (const char *p = text; *p;) {
        const char *eq = strchr(p, '=');
        size_t clen = eq ? (size_t)(eq - p) : 0;
        if (!eq || clen == 0 || clen >= sizeof r->code[0])
            return mpf_error(ctx, "rates: expected CODE=RATE[,CODE=RATE...], got '%s'", p);
        if (r->n == MAX_RATES)
            return mpf_error(ctx, "rates: more than %d currencies", MAX_RATES);
        char *end;
        double v = strtod(eq + 1, &end);
        if (end == eq + 1 || (*end && *end != ',') || v <= 0)
            return mpf_error(ctx, "rates: bad rate for %.*s", (int)clen, p);
        memcpy(r->code[r->n], p, clen);
        r->code[r->n][clen] = '\0';
        r->rate[r->n++] = v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* Resolve fields and rates; at plan time (configure) this reports a bad
 * job before it runs, at open it builds the subtask's table. */
static int to_eur_setup(mpf_ctx *ctx, rates *r)
{
    r->f_cur = mpf_in_field(ctx, mpf_arg(ctx, "currency", "currency"), MPF_STRING);
    if (r->f_cur < 0)
        return MPF_PLUGIN_ERROR;
    r->f_amount = mpf_in_field(ctx, mpf_arg(ctx, "amount", "amount"), MPF_ANY);
    if (r->f_amount < 0)
        return MPF_PLUGIN_ERROR;
    r->f_out = mpf_out_field(ctx, mpf_arg(ctx, "as", "amount_eur"), MPF_F64);
    if (r->f_out < 0)
        return MPF_PLUGIN_ERROR;
    return parse_rates(ctx, mpf_arg(ctx, "rates", ""), r);
}

static int to_eur_configure(mpf_ctx *ctx)
{
    rates r;
    return to_eur_setup(ctx, &r);
}

static int to_eur_open(mpf_ctx *ctx)
{
    rates *r = calloc(1, sizeof *r);
    if (!r)
        return mpf_error(ctx, "out of memory");
    ctx->user = r;
    return to_eur_setup(ctx, r);
}

static void to_eur_close(mpf_ctx *ctx)
{
    free(ctx->user);
    ctx->user = NULL;
}

static int to_eur_map(mpf_ctx *ctx, const mpf_rec *in)
{
    const rates *r = ctx->user;
    uint32_t len;
    const char *cur = mpf_get_str(ctx, in, r->f_cur, &len);
    for (int i = 0; i < r->n; i++)
        if (strlen(r->code[i]) == len && memcmp(r->code[i], cur, len) == 0)
            return mpf_set_f64(ctx, r->f_out, mpf_get_f64(ctx, in, r->f_amount) * r->rate[i]);
    return mpf_error(ctx, "no rate for currency '%.*s' (add it to args.rates)", (int)len, cur);
}

static const char *const to_eur_args[] = {"currency", "amount", "as", "rates", NULL};

static const mpf_function to_eur = {
    .name = "to-eur",
    .kind = MPF_MAP,
    .summary = "convert an amount to euros with fixed rates",
    .args = to_eur_args,
    .configure = to_eur_configure,
    .open = to_eur_open,
    .close = to_eur_close,
    .map = to_eur_map,
};

/* --- above --- */

typedef struct bound {
    int field;
    double min;
} bound;

static int above_setup(mpf_ctx *ctx, bound *b)
{
    const char *min = mpf_arg(ctx, "min", "0");
    char *end;
    b->min = strtod(min, &end);
    if (end == min || *end)
        return mpf_error(ctx, "min: expected a number, got '%s'", min);
    b->field = mpf_in_field(ctx, mpf_arg(ctx, "field", "amount"), MPF_ANY);
    if (b->field < 0)
        return MPF_PLUGIN_ERROR;
    int t = ctx->api->field_type(ctx, MPF_INPUT1, b->field);
    if (t != MPF_I64 && t != MPF_F64 && t != MPF_TIMESTAMP)
        return mpf_error(ctx, "field '%s' is not a number",
                         ctx->api->field_name(ctx, MPF_INPUT1, b->field));
    return 0;
}

static int above_configure(mpf_ctx *ctx)
{
    bound b;
    return above_setup(ctx, &b);
}

static int above_open(mpf_ctx *ctx)
{
    bound *b = malloc(sizeof *b);
    if (!b)
        return mpf_error(ctx, "out of memory");
    ctx->user = b;
    return above_setup(ctx, b);
}

static int above_filter(mpf_ctx *ctx, const mpf_rec *in)
{
    const bound *b = ctx->user;
    return mpf_get_f64(ctx, in, b->field) >= b->min ? MPF_KEEP : MPF_DROP;
}

static const char *const above_args[] = {"field", "min", NULL};

static const mpf_function above = {
    .name = "above",
    .kind = MPF_FILTER,
    .summary = "keep records whose field is >= min",
    .args = above_args,
    .configure = above_configure,
    .open = above_open,
    .close = to_eur_close,
    .filter = above_filter,
};

MPF_PLUGIN("currency", "1.0", &to_eur, &above)
