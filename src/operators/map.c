/* `type: map` (alias `type: select`): compute new records from
 * expressions over the input fields (see expr/expr.h) (operators layer).
 * `fields` lists the output fields in order, each one of
 *   "name"               an input field, unchanged
 *   "expr AS name"       a computed field
 *   "*"                  every input field
 *   {name: n, expr: e}   a computed field (expr defaults to the field n)
 * All expressions compile into one program, so each referenced input
 * field is read once per record. A field passed through unchanged that is
 * the input's event-time field stays the event-time field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr/expr.h"
#include "ops/op.h"
#include "util/xmalloc.h"

typedef struct map_cfg {
    expr_prog *prog;
    char desc[512]; /* "a, b * 2 AS c, ..." for describe */
} map_cfg;

static const char *const map_keys[] = {"fields", NULL};
static const char *const item_keys[] = {"name", "expr", NULL};

static void map_free(void *p)
{
    map_cfg *cfg = p;
    if (!cfg)
        return;
    expr_prog_destroy(cfg->prog);
    free(cfg);
}

static void desc_add(char *desc, size_t n, const char *text, const char *name)
{
    size_t len = strlen(desc);
    if (len + 1 >= n)
        return;
    if (!text || strcmp(text, name) == 0)
        snprintf(desc + len, n - len, "%s%s", len ? ", " : "", name);
    else
        snprintf(desc + len, n - len, "%s%s AS %s", len ? ", " : "", text, name);
}

/* Compile one item of `fields` onto prog and name its outputs in out. */
static int map_item(op_spec *s, const ynode *it, expr_prog *prog, schema *out, char *desc,
                    size_t desc_n, mpf_err *e)
{
    const schema *in = s->in_schema[0];
    char name[256] = "", where[512];
    const char *text;
    const ynode *at = it;
    if (it->kind == YNODE_MAP) {
        const char *nm = NULL;
        text = NULL;
        if (ynode_check_keys(it, item_keys, "a map field", e) ||
            ynode_get_str(it, "name", 1, &nm, e) || ynode_get_str(it, "expr", 0, &text, e))
            return err_prefix(e, "operator '%s'", s->uid);
        snprintf(name, sizeof name, "%s", nm);
        if (text)
            at = ynode_get(it, "expr");
    } else if (it->kind == YNODE_SCALAR) {
        text = it->str;
    } else {
        return err_set(e, MPF_EJOB, "%s: operator '%s': each field is \"name\", \"expr AS "
                       "name\", \"*\" or {name, expr}", ynode_pos(it), s->uid);
    }
    snprintf(where, sizeof where, "%s: operator '%s'", ynode_pos(at), s->uid);
    int k;
    if (it->kind == YNODE_SCALAR && strcmp(text, "*") == 0) {
        for (int i = 0; i < in->n; i++) {
            if (schema_find(out, in->f[i].name) >= 0)
                return err_set(e, MPF_EJOB, "%s: duplicate output field '%s'", where,
                               in->f[i].name);
            schema_add(out, in->f[i].name, in->f[i].type);
            expr_prog_add_field(prog, i);
        }
        desc_add(desc, desc_n, NULL, "*");
        return 0;
    }
    if (!text) { /* {name: x}: the input field x */
        int idx = schema_find(in, name);
        if (idx < 0) {
            char sch[512];
            schema_format(in, sch, sizeof sch);
            return err_set(e, MPF_EJOB, "%s: field '%s' is not in its input (%s); add expr: to "
                           "compute it", where, name, sch);
        }
        k = expr_prog_add_field(prog, idx);
    } else if (it->kind == YNODE_MAP) {
        k = expr_prog_add(prog, text, NULL, 0, e);
    } else {
        k = expr_prog_add(prog, text, name, sizeof name, e);
    }
    if (k < 0)
        return err_prefix(e, "%s", where);
    if (!name[0]) {
        int src = expr_prog_source_field(prog, k);
        if (src < 0)
            return err_set(e, MPF_EJOB, "%s: expression column 1: name the result: \"%s AS "
                           "name\"", where, text);
        snprintf(name, sizeof name, "%s", in->f[src].name);
    }
    if (schema_find(out, name) >= 0)
        return err_set(e, MPF_EJOB, "%s: duplicate output field '%s'", where, name);
    schema_add(out, name, expr_prog_type(prog, k));
    if (text && it->kind == YNODE_SCALAR)
        desc_add(desc, desc_n, text, text);
    else
        desc_add(desc, desc_n, text, name);
    return 0;
}

static int map_configure(op_spec *s, const conf *c, mpf_err *e)
{
    const ynode *fl = ynode_get(s->node, "fields");
    if (!fl || fl->kind != YNODE_SEQ || fl->n == 0)
        return err_set(e, MPF_EJOB, "%s: %s needs fields: [\"name\", \"expr AS name\", ...]",
                       fl ? ynode_pos(fl) : op_where(s), s->kind->name);
    const schema *in = s->in_schema[0];
    expr_prog *prog = expr_prog_new(in);
    schema out;
    schema_init(&out);
    char desc[512] = "";
    for (size_t i = 0; i < fl->n; i++) {
        if (map_item(s, fl->items[i], prog, &out, desc, sizeof desc, e)) {
            schema_fini(&out);
            expr_prog_destroy(prog);
            return e->code;
        }
    }
    for (int k = 0; k < out.n && in->rowtime >= 0 && out.rowtime < 0; k++)
        if (expr_prog_source_field(prog, k) == in->rowtime)
            out.rowtime = k;
    map_cfg *cfg = xcalloc(1, sizeof *cfg);
    cfg->prog = prog;
    snprintf(cfg->desc, sizeof cfg->desc, "%s", desc);
    s->cfg = cfg;
    schema_fini(&s->out_schema);
    s->out_schema = out;
    return 0;
}

static int map_open(op_inst *oi, mpf_err *e)
{
    const map_cfg *cfg = oi->spec->cfg;
    oi->st = expr_eval_new(cfg->prog);
    return 0;
}

static void map_emit(void *arg, const uint8_t *rec, uint32_t len) { op_emit(arg, rec, len); }

static int map_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    if (expr_map_batch(oi->st, batch, map_emit, oi, e))
        return err_prefix(e, "operator '%s'", oi->spec->uid);
    return 0;
}

static void map_close(op_inst *oi)
{
    expr_eval_destroy(oi->st);
    oi->st = NULL;
}

static void map_describe(const op_spec *s, char *buf, size_t n)
{
    const map_cfg *cfg = s->cfg;
    snprintf(buf, n, "select %s", cfg->desc);
}

const op_kind op_map = {
    .stateless = 1,
    .name = "map",
    .role = OP_TRANSFORM,
    .min_inputs = 1,
    .max_inputs = 1,
    .keys = map_keys,
    .summary = "compute output fields from expressions over the input fields",
    .configure = map_configure,
    .free_cfg = map_free,
    .describe = map_describe,
    .open = map_open,
    .process = map_process,
    .close = map_close,
};

const op_kind op_select = {
    .stateless = 1,
    .name = "select",
    .role = OP_TRANSFORM,
    .min_inputs = 1,
    .max_inputs = 1,
    .keys = map_keys,
    .summary = "the same as map",
    .configure = map_configure,
    .free_cfg = map_free,
    .describe = map_describe,
    .open = map_open,
    .process = map_process,
    .close = map_close,
};
