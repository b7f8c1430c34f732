/* Example plugin: a flat-map (see docs/PLUGINS.md).
 *
 * split (flat-map): one output record per piece of a string field split
 * at a separator, like SQL's UNNEST(SPLIT(...)).
 *   args: field (default "items"), sep (default ";"), as (output field of
 *         the piece, default "item"), index (optional output i64 field
 *         for the piece's 0-based position, default "pos"), trim (strip
 *         spaces around pieces, default true).
 *   Other output fields are copied from same-named input fields; empty
 *   pieces are skipped (but counted in the position). */
#include <stdlib.h>
#include <string.h>
#include <mpiflow/plugin.h>

typedef struct splitter {
    int f_in, f_item, f_pos; /* f_pos -1: no position field */
    char sep[16];
    size_t seplen;
    int trim;
} splitter;

static int split_setup(mpf_ctx *ctx, splitter *s)
{
    const char *sep = mpf_arg(ctx, "sep", ";");
    s->seplen = strlen(sep);
    if (s->seplen == 0 || s->seplen >= sizeof s->sep)
        return mpf_error(ctx, "sep must be 1 to %zu characters", sizeof s->sep - 1);
    memcpy(s->sep, sep, s->seplen + 1);
    const char *trim = mpf_arg(ctx, "trim", "true");
    if (strcmp(trim, "true") != 0 && strcmp(trim, "false") != 0)
        return mpf_error(ctx, "trim must be true or false, got '%s'", trim);
    s->trim = strcmp(trim, "true") == 0;
    s->f_in = mpf_in_field(ctx, mpf_arg(ctx, "field", "items"), MPF_STRING);
    s->f_item = s->f_in < 0 ? -1 : mpf_out_field(ctx, mpf_arg(ctx, "as", "item"), MPF_STRING);
    if (s->f_in < 0 || s->f_item < 0)
        return MPF_PLUGIN_ERROR;
    /* The position field is optional unless named explicitly. */
    const char *pos = mpf_arg(ctx, "index", NULL);
    s->f_pos = mpf_out_field(ctx, pos ? pos : "pos", MPF_I64);
    if (s->f_pos < 0 && pos)
        return MPF_PLUGIN_ERROR;
    return 0;
}

static int split_configure(mpf_ctx *ctx)
{
    splitter s;
    return split_setup(ctx, &s);
}

static int split_open(mpf_ctx *ctx)
{
    splitter *s = malloc(sizeof *s);
    if (!s)
        return mpf_error(ctx, "out of memory");
    ctx->user = s;
    return split_setup(ctx, s);
}

static void split_close(mpf_ctx *ctx)
{
    free(ctx->user);
    ctx->user = NULL;
}

static int emit_piece(mpf_ctx *ctx, const splitter *s, const mpf_rec *in, const char *p,
                      size_t n, int64_t pos)
{
    if (s->trim) {
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
    }
    if (!n)
        return 0;
    if (mpf_out_begin(ctx, MPF_MAIN) || mpf_copy_fields(ctx, in) ||
        mpf_set_str(ctx, s->f_item, p, (uint32_t)n) ||
        (s->f_pos >= 0 && mpf_set_i64(ctx, s->f_pos, pos)))
        return MPF_PLUGIN_ERROR;
    return mpf_emit(ctx);
}

static int split_flat_map(mpf_ctx *ctx, const mpf_rec *in)
{
    const splitter *s = ctx->user;
    uint32_t len;
    const char *text = mpf_get_str(ctx, in, s->f_in, &len);
    const char *end = text + len;
    int64_t pos = 0;
    for (const char *p = text;;) {
        const char *q = p;
        while (q < end && !((size_t)(end - q) >= s->seplen && memcmp(q, s->sep, s->seplen) == 0))
            q++;
        if (q > p && emit_piece(ctx, s, in, p, (size_t)(q - p), pos))
            return MPF_PLUGIN_ERROR;
        pos++;
        if (q >= end)
            break;
        p = q + s->seplen;
    }
    return 0;
}

static const char *const split_args[] = {"field", "sep", "as", "index", "trim", NULL};

static const mpf_function split = {
    .name = "split",
    .kind = MPF_FLAT_MAP,
    .summary = "one record per piece of a string field split at a separator",
    .args = split_args,
    .configure = split_configure,
    .open = split_open,
    .close = split_close,
    .flat_map = split_flat_map,
};

MPF_PLUGIN("split", "1.0", &split)
