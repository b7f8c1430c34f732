/* `type: filter`: keep the records for which `condition`, a bool
 * expression over the input fields (see expr/expr.h), is true
 * (operators layer). Records pass through unchanged, so the output schema
 * (and its event-time field) is the input's. */
#include <stdio.h>
#include <stdlib.h>
#include "expr/expr.h"
#include "ops/op.h"
#include "util/xmalloc.h"

typedef struct filter_cfg {
    expr_prog *prog;
    char *text;
} filter_cfg;

static const char *const filter_keys[] = {"condition", NULL};

static void filter_free(void *p)
{
    filter_cfg *cfg = p;
    if (!cfg)
        return;
    expr_prog_destroy(cfg->prog);
    free(cfg->text);
    free(cfg);
}

static int filter_configure(op_spec *s, const conf *c, mpf_err *e)
{
    const char *text = NULL;
    if (ynode_get_str(s->node, "condition", 1, &text, e))
        return err_prefix(e, "operator '%s'", s->uid);
    const char *pos = ynode_pos(ynode_get(s->node, "condition"));
    char where[512];
    snprintf(where, sizeof where, "%s: operator '%s'", pos, s->uid);
    expr_prog *prog = expr_prog_new(s->in_schema[0]);
    if (expr_prog_add(prog, text, NULL, 0, e) < 0) {
        expr_prog_destroy(prog);
        return err_prefix(e, "%s", where);
    }
    if (expr_prog_type(prog, 0) != FT_BOOL) {
        field_type t = expr_prog_type(prog, 0);
        expr_prog_destroy(prog);
        return err_set(e, MPF_ESCHEMA, "%s: expression column 1: condition must be bool, got %s",
                       where, field_type_name(t));
    }
    filter_cfg *cfg = xcalloc(1, sizeof *cfg);
    cfg->prog = prog;
    cfg->text = xstrdup(text);
    s->cfg = cfg;
    schema_copy(&s->out_schema, s->in_schema[0]);
    return 0;
}

static int filter_open(op_inst *oi, mpf_err *e)
{
    const filter_cfg *cfg = oi->spec->cfg;
    oi->st = expr_eval_new(cfg->prog);
    return 0;
}

static int filter_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    const uint8_t *const *sel;
    uint32_t n;
    if (expr_filter_batch(oi->st, batch, &sel, &n, e))
        return err_prefix(e, "operator '%s'", oi->spec->uid);
    for (uint32_t k = 0; k < n; k++)
        op_emit(oi, sel[k], rec_size(sel[k]));
    return 0;
}

static void filter_close(op_inst *oi)
{
    expr_eval_destroy(oi->st);
    oi->st = NULL;
}

static void filter_describe(const op_spec *s, char *buf, size_t n)
{
    const filter_cfg *cfg = s->cfg;
    snprintf(buf, n, "where %s", cfg->text);
}

const op_kind op_filter = {
    .stateless = 1,
    .name = "filter",
    .role = OP_TRANSFORM,
    .min_inputs = 1,
    .max_inputs = 1,
    .keys = filter_keys,
    .summary = "keep the records for which a bool expression is true",
    .configure = filter_configure,
    .free_cfg = filter_free,
    .describe = filter_describe,
    .open = filter_open,
    .process = filter_process,
    .close = filter_close,
};
