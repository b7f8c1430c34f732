/* Typed schemas (record layer). */
#include "record/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/strutil.h"
#include "util/xmalloc.h"

void schema_init(schema *s)
{
    s->n = 0;
    s->f = NULL;
    s->rowtime = -1;
}

void schema_fini(schema *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->f[i].name);
    free(s->f);
    schema_init(s);
}

void schema_add(schema *s, const char *name, field_type t)
{
    s->f = xrealloc(s->f, (size_t)(s->n + 1) * sizeof *s->f);
    s->f[s->n].name = xstrdup(name);
    s->f[s->n].type = t;
    s->n++;
}

void schema_copy(schema *dst, const schema *src)
{
    schema_init(dst);
    for (int i = 0; i < src->n; i++)
        schema_add(dst, src->f[i].name, src->f[i].type);
    dst->rowtime = src->rowtime;
}

int schema_find(const schema *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->f[i].name, name) == 0)
            return i;
    return -1;
}

int schema_equal(const schema *a, const schema *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (a->f[i].type != b->f[i].type || strcmp(a->f[i].name, b->f[i].name))
            return 0;
    return 1;
}

void schema_format(const schema *s, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->n && off < n; i++) {
        int w = snprintf(buf + off, n - off, "%s%s:%s", i ? ", " : "",
                         s->f[i].name, field_type_name(s->f[i].type));
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

const char **schema_names(const schema *s)
{
    const char **v = xcalloc((size_t)s->n + 1, sizeof *v);
    for (int i = 0; i < s->n; i++)
        v[i] = s->f[i].name;
    return v;
}

const char *field_type_name(field_type t)
{
    switch (t) {
    case FT_I64: return "i64";
    case FT_F64: return "f64";
    case FT_BOOL: return "bool";
    case FT_STRING: return "string";
    case FT_TIMESTAMP: return "timestamp";
    }
    return "?";
}

int field_type_parse(const char *s, field_type *t)
{
    static const struct { const char *name; field_type t; } names[] = {
        {"i64", FT_I64}, {"int", FT_I64}, {"long", FT_I64}, {"bigint", FT_I64},
        {"f64", FT_F64}, {"double", FT_F64}, {"float", FT_F64},
        {"bool", FT_BOOL}, {"boolean", FT_BOOL},
        {"string", FT_STRING}, {"str", FT_STRING}, {"varchar", FT_STRING},
        {"timestamp", FT_TIMESTAMP},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (str_ieq(s, names[i].name)) {
            *t = names[i].t;
            return 0;
        }
    return -1;
}
