/* The table of built-in operator kinds (ops layer). */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "ops/op.h"
#include "util/xmalloc.h"

extern const op_kind op_src_file, op_src_generator, op_src_nexmark, op_src_behavior,
    op_src_socket, op_tokenize, op_reduce, op_union, op_keyby, op_join, op_window_join, op_interval_join,
    op_filter, op_map, op_select, op_window, op_window_all, op_topn, op_sink_file, op_sink_stdout, op_sink_blackhole;

extern const op_kind op_plugin;
extern const op_kind op_sink_kafka;
extern const op_kind op_src_kafka;

static const op_kind *const kinds[] = {
    &op_src_file, &op_src_generator, &op_src_nexmark, &op_src_behavior, &op_src_socket,
    &op_tokenize, &op_keyby, &op_reduce, &op_union, &op_join, &op_window_join, &op_interval_join,
    &op_filter, &op_map, &op_select, &op_window, &op_window_all, &op_topn, &op_sink_file, &op_sink_stdout, &op_sink_blackhole,
    &op_plugin,
    &op_sink_kafka,
    &op_src_kafka,
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

const op_kind *op_kind_find(enum op_role role, const char *name)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i]->role == role && strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

const char *const *op_kind_names(enum op_role role)
{
    static const char *names[3][NKINDS + 1];
    size_t n = 0;
    for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i]->role == role)
            names[role][n++] = kinds[i]->name;
    names[role][n] = NULL;
    return names[role];
}

const char *op_role_name(enum op_role role)
{
    return role == OP_SOURCE ? "source" : role == OP_SINK ? "sink" : "type";
}

char *op_kind_qualified(const op_kind *k)
{
    return xasprintf("%s/%s", op_role_name(k->role), k->name);
}

const op_kind *op_kind_parse_qualified(const char *q)
{
    for (int role = OP_SOURCE; role <= OP_SINK; role++) {
        const char *r = op_role_name((enum op_role)role);
        size_t n = strlen(r);
        if (strncmp(q, r, n) == 0 && q[n] == '/')
            return op_kind_find((enum op_role)role, q + n + 1);
    }
    return NULL;
}

const char *part_kind_name(int part)
{
    switch (part) {
    case PART_FORWARD: return "FORWARD";
    case PART_HASH: return "HASH";
    case PART_REBALANCE: return "REBALANCE";
    case PART_BROADCAST: return "BROADCAST";
    default: return "DEFAULT";
    }
}

int op_add_side_output(op_spec *s, const char *name, const schema *sch)
{
    s->side_name = xrealloc(s->side_name, (size_t)(s->nside + 1) * sizeof *s->side_name);
    s->side_schema = xrealloc(s->side_schema, (size_t)(s->nside + 1) * sizeof *s->side_schema);
    s->side_name[s->nside] = xstrdup(name);
    schema_copy(&s->side_schema[s->nside], sch);
    return s->nside++;
}

void op_spec_free_sides(op_spec *s)
{
    for (int i = 0; i < s->nside; i++) {
        free(s->side_name[i]);
        schema_fini(&s->side_schema[i]);
    }
    free(s->side_name);
    free(s->side_schema);
    if (s->input_side)
        for (int k = 0; k <= s->ninputs; k++) /* one spare: see resolve_inputs */
            free(s->input_side[k]);
    free(s->input_side);
    free(s->input_port);
    s->nside = 0;
    s->side_name = NULL;
    s->side_schema = NULL;
    s->input_side = NULL;
    s->input_port = NULL;
}

void op_name_error(mpf_err *e, const op_inst *oi, const char *doing)
{
    char own[512], pre[256], old[sizeof e->msg];
    int n = snprintf(own, sizeof own, "operator '%s'", oi->spec->uid);
    int i = oi->subtask + 1, par = oi->spec->parallelism;
    snprintf(pre, sizeof pre, "%s%s", doing ? doing : "", doing ? " " : "");
    memcpy(old, e->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    if (n > 0 && (size_t)n < sizeof own && strncmp(old, own, (size_t)n) == 0) {
        if (strncmp(old + n, " subtask ", 9) == 0)
            snprintf(e->msg, sizeof e->msg, "%s%.*s", pre, (int)sizeof old - 256, old);
        else
            snprintf(e->msg, sizeof e->msg, "%ssubtask %d/%d of %.*s", pre, i, par,
                     (int)sizeof old - 320, old);
    } else {
        snprintf(e->msg, sizeof e->msg, "%s%.*s subtask %d/%d: %.*s", pre, 200, own, i, par,
                 (int)sizeof old - 512, old);
    }
}

const char *op_where(const op_spec *s)
{
    static char buf[512];
    if (s->node)
        snprintf(buf, sizeof buf, "%s: operator '%s'", ynode_pos(s->node), s->uid);
    else
        snprintf(buf, sizeof buf, "operator '%s'", s->uid);
    return buf;
}
