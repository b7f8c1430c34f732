/* The table of built-in operator kinds (ops layer). */
#include <string.h>
#include <stdio.h>
#include "ops/op.h"

extern const op_kind op_src_file, op_src_generator, op_tokenize, op_reduce, op_union, op_keyby,
    op_sink_file, op_sink_stdout, op_sink_blackhole;

static const op_kind *const kinds[] = {
    &op_src_file, &op_src_generator, &op_tokenize, &op_keyby, &op_reduce, &op_union,
    &op_sink_file, &op_sink_stdout, &op_sink_blackhole,
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

const char *op_where(const op_spec *s)
{
    static char buf[512];
    if (s->node)
        snprintf(buf, sizeof buf, "%s: operator '%s'", ynode_pos(s->node), s->uid);
    else
        snprintf(buf, sizeof buf, "operator '%s'", s->uid);
    return buf;
}
