/* `type: tokenize`: flat-map a string field into one record per word
 * (operators layer). A word is a maximal run of word characters; `chars` picks
 * them: letters ([A-Za-z], the default, as `tr -cs A-Za-z '\n'`), alnum
 * ([A-Za-z0-9]), word ([A-Za-z0-9_], Java's \w as in Flink's WordCount
 * example) or nonspace (anything but ASCII white space, so UTF-8 text is
 * kept whole). `lowercase` (default true) folds ASCII A-Z to a-z. Output
 * schema: one string field named by `as` (default "word"). */
#include <stdlib.h>
#include <string.h>
#include "ops/op.h"
#include "record/segpool.h"
#include "util/xmalloc.h"

typedef struct tok_cfg {
    int field;
    int lowercase;
    char chars[16];
    uint8_t cls[256]; /* 1 = word character */
    uint8_t fold[256];
} tok_cfg;

static const char *const tok_keys[] = {"field", "as", "lowercase", "chars", NULL};

static int tok_configure(op_spec *s, const conf *c, mpf_err *e)
{
    const char *field = NULL, *as = "word", *chars = "letters";
    int lower = 1;
    if (ynode_get_str(s->node, "field", 0, &field, e) || ynode_get_str(s->node, "as", 0, &as, e) ||
        ynode_get_str(s->node, "chars", 0, &chars, e) ||
        ynode_get_bool(s->node, "lowercase", 0, &lower, e))
        return err_prefix(e, "operator '%s'", s->uid);
    const schema *in = s->in_schema[0];
    int idx = -1;
    if (field) {
        idx = schema_find(in, field);
    } else {
        for (int i = 0; i < in->n && idx < 0; i++)
            if (in->f[i].type == FT_STRING)
                idx = i;
        field = idx >= 0 ? in->f[idx].name : "(a string field)";
    }
    char sch[512];
    schema_format(in, sch, sizeof sch);
    if (idx < 0)
        return err_set(e, MPF_ESCHEMA, "%s: field '%s' is not in its input (%s)", op_where(s),
                       field, sch);
    if (in->f[idx].type != FT_STRING)
        return err_set(e, MPF_ESCHEMA, "%s: field '%s' is %s; tokenize needs a string",
                       op_where(s), field, field_type_name(in->f[idx].type));
    tok_cfg *cfg = xcalloc(1, sizeof *cfg);
    cfg->field = idx;
    cfg->lowercase = lower;
    snprintf(cfg->chars, sizeof cfg->chars, "%s", chars);
    for (int ch = 0; ch < 256; ch++) {
        int letter = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        int digit = ch >= '0' && ch <= '9';
        int space = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' ||
                    ch == '\v';
        if (strcmp(chars, "letters") == 0)
            cfg->cls[ch] = (uint8_t)letter;
        else if (strcmp(chars, "alnum") == 0)
            cfg->cls[ch] = (uint8_t)(letter || digit);
        else if (strcmp(chars, "word") == 0)
            cfg->cls[ch] = (uint8_t)(letter || digit || ch == '_');
        else if (strcmp(chars, "nonspace") == 0)
            cfg->cls[ch] = (uint8_t)!space;
        else {
            free(cfg);
            return err_set(e, MPF_EJOB, "%s: chars must be letters, alnum, word or nonspace, "
                           "got '%s'", ynode_pos(ynode_get(s->node, "chars")), chars);
        }
        cfg->fold[ch] = (uint8_t)(lower && ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    s->cfg = cfg;
    schema_add(&s->out_schema, as, FT_STRING);
    return 0;
}

static int tok_open(op_inst *oi, mpf_err *e)
{
    /* A word is at most a whole input record, which fits a segment; the
     * scratch record holds the word's length prefixes and folded bytes. */
    oi->st = xmalloc(segpool_segment_size() + 8);
    return 0;
}

static int tok_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    const tok_cfg *cfg = oi->spec->cfg;
    const schema *in = oi->spec->in_schema[0];
    uint8_t *out = oi->st;
    for (const uint8_t *r = batch_first(batch); r; r = batch_next(batch, r)) {
        uint32_t len;
        const uint8_t *p = rec_key(in, r, cfg->field, &len);
        const uint8_t *end = p + len;
        while (p < end) {
            while (p < end && !cfg->cls[*p])
                p++;
            const uint8_t *w = p;
            while (p < end && cfg->cls[*p])
                p++;
            uint32_t n = (uint32_t)(p - w);
            if (!n)
                continue;
            uint32_t inner = 4 + n;
            wr_u32(out, inner);
            wr_u32(out + 4, n);
            for (uint32_t k = 0; k < n; k++)
                out[8 + k] = cfg->fold[w[k]];
            op_emit(oi, out, 8 + n);
        }
    }
    return 0;
}

static void tok_close(op_inst *oi)
{
    free(oi->st);
    oi->st = NULL;
}

static void tok_describe(const op_spec *s, char *buf, size_t n)
{
    const tok_cfg *cfg = s->cfg;
    snprintf(buf, n, "words of '%s': chars=%s lowercase=%s", s->in_schema[0]->f[cfg->field].name,
             cfg->chars, cfg->lowercase ? "true" : "false");
}

const op_kind op_tokenize = {
    .stateless = 1,
    .name = "tokenize",
    .role = OP_TRANSFORM,
    .min_inputs = 1,
    .max_inputs = 1,
    .keys = tok_keys,
    .summary = "split a string field into words, one record per word",
    .configure = tok_configure,
    .free_cfg = free,
    .describe = tok_describe,
    .open = tok_open,
    .process = tok_process,
    .close = tok_close,
};
