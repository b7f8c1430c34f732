/* YAML documents as a small positioned tree (conf layer). This module is the
 * only user of libyaml: it drives the event parser, builds ynode trees that
 * remember file:line:col for every node, and refuses the parts of YAML that
 * mpiflow job and config files do not need (anchors, aliases, tags,
 * duplicate or non-scalar keys, several documents) so that everything above
 * it works with plain maps, sequences and strings. Every error, including
 * libyaml's own scanner and parser errors, is reported as
 * "file:line:col: message". The parser must survive any input (it is a fuzz
 * target), so the tree is built with an explicit stack and a depth limit
 * keeps the recursive walks above it bounded. */
#include "conf/yamldoc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "util/strutil.h"
#include "util/xmalloc.h"

/* Deepest nesting of maps and sequences accepted. Keeps ydoc_destroy and
 * the recursive consumers (conf_apply_yaml, the job loader) off the end of
 * the C stack for hostile input such as "[[[[[[...". */
#define YDOC_MAX_DEPTH 128

/* ---------------------------------------------------------------- nodes */

static ynode *node_new(ynode_kind kind, const char *file, yaml_mark_t m)
{
    ynode *n = xcalloc(1, sizeof *n);
    n->kind = kind;
    n->file = file;
    n->line = (int)m.line + 1;
    n->col = (int)m.column + 1;
    return n;
}

static void node_free(ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        node_free(n->items[i]);
        if (n->keys)
            node_free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->str);
    free(n);
}

void ydoc_destroy(ydoc *d)
{
    if (!d)
        return;
    node_free(d->root);
    free(d->file);
    free(d);
}

/* -------------------------------------------------------------- builder */

/* One open map or sequence. cap is the allocated length of items/keys;
 * key holds a map key whose value has not arrived yet. */
typedef struct frame {
    ynode *node;
    size_t cap;
    ynode *key;
} frame;

typedef struct builder {
    const char *file;
    ynode *root;
    frame stack[YDOC_MAX_DEPTH];
    size_t depth;
    int docs;
} builder;

static int fail_at(mpf_err *e, const char *file, yaml_mark_t m,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Set e to "file:line:col: <fmt...>" for a libyaml mark (0-based). */
static int fail_at(mpf_err *e, const char *file, yaml_mark_t m,
                   const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(e, MPF_EJOB, "%s:%d:%d: %s", file, (int)m.line + 1,
                   (int)m.column + 1, what);
}

/* Hang a new node under the innermost open container (or make it the
 * root). Ownership of n passes to the tree in every case, so the caller
 * never frees it, even when this fails. */
static int attach(builder *b, ynode *n, mpf_err *e)
{
    if (b->depth == 0) {
        if (b->root) { /* not reachable with one document; be safe */
            node_free(n);
            return err_set(e, MPF_EJOB, "%s:%d:%d: more than one root node",
                           b->file, n->line, n->col);
        }
        b->root = n;
        return 0;
    }
    frame *f = &b->stack[b->depth - 1];
    ynode *p = f->node;
    if (p->kind == YNODE_MAP && !f->key) {
        if (n->kind != YNODE_SCALAR) {
            int rc = err_set(e, MPF_EJOB,
                             "%s:%d:%d: map keys must be scalars, got a %s",
                             b->file, n->line, n->col, ynode_kind_name(n->kind));
            node_free(n);
            return rc;
        }
        f->key = n;
        return 0;
    }
    if (p->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 4;
        p->items = xrealloc(p->items, f->cap * sizeof *p->items);
        if (p->kind == YNODE_MAP)
            p->keys = xrealloc(p->keys, f->cap * sizeof *p->keys);
    }
    if (p->kind == YNODE_MAP) {
        p->keys[p->n] = f->key;
        f->key = NULL;
    }
    p->items[p->n++] = n;
    return 0;
}

typedef struct keyref {
    const char *s;
    size_t i;
} keyref;

static int keyref_cmp(const void *a, const void *b)
{
    const keyref *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    if (c)
        return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Duplicate keys are found when a map closes, by sorting, so a map with
 * very many keys costs n log n rather than n^2. The reported node is the
 * earliest key (in document order) that repeats an earlier one. */
static int check_dup_keys(const ynode *map, mpf_err *e)
{
    if (map->n < 2)
        return 0;
    keyref *r = xmalloc(map->n * sizeof *r);
    for (size_t i = 0; i < map->n; i++) {
        r[i].s = map->keys[i]->str;
        r[i].i = i;
    }
    qsort(r, map->n, sizeof *r, keyref_cmp);
    size_t dup = map->n, first = 0;
    for (size_t i = 0; i + 1 < map->n; i++) {
        if (strcmp(r[i].s, r[i + 1].s) == 0 && r[i + 1].i < dup &&
            (i == 0 || strcmp(r[i - 1].s, r[i].s) != 0)) {
            dup = r[i + 1].i;
            first = r[i].i;
        }
    }
    free(r);
    if (dup == map->n)
        return 0;
    const ynode *k = map->keys[dup], *k0 = map->keys[first];
    return err_set(e, MPF_EJOB,
                   "%s:%d:%d: duplicate key '%s' (first defined at %d:%d)",
                   k->file, k->line, k->col, k->str, k0->line, k0->col);
}

/* Anchors and tags are refused wherever they appear. */
static int check_props(builder *b, yaml_char_t *anchor, yaml_char_t *tag,
                       yaml_mark_t m, mpf_err *e)
{
    if (anchor)
        return fail_at(e, b->file, m, "anchors are not supported ('&%s')",
                       (const char *)anchor);
    if (tag)
        return fail_at(e, b->file, m, "tags are not supported ('%s')",
                       (const char *)tag);
    return 0;
}

static int on_scalar(builder *b, yaml_event_t *ev, mpf_err *e)
{
    int rc = check_props(b, ev->data.scalar.anchor, ev->data.scalar.tag,
                         ev->start_mark, e);
    if (rc)
        return rc;
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(v, '\0', len))
        return fail_at(e, b->file, ev->start_mark, "%s",
                       "scalar contains a NUL character");
    ynode *n = node_new(YNODE_SCALAR, b->file, ev->start_mark);
    n->str = xstrndup(v, len);
    /* Block scalars (| and >) count as quoted too: like quoted ones they
     * are always strings and never null. */
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    return attach(b, n, e);
}

static int on_open(builder *b, yaml_event_t *ev, ynode_kind kind, mpf_err *e)
{
    yaml_char_t *anchor, *tag;
    if (kind == YNODE_MAP) {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
    } else {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
    }
    int rc = check_props(b, anchor, tag, ev->start_mark, e);
    if (rc)
        return rc;
    if (b->depth == YDOC_MAX_DEPTH)
        return fail_at(e, b->file, ev->start_mark,
                       "nesting deeper than %d levels", YDOC_MAX_DEPTH);
    ynode *n = node_new(kind, b->file, ev->start_mark);
    rc = attach(b, n, e);
    if (rc)
        return rc;
    frame *f = &b->stack[b->depth++];
    f->node = n;
    f->cap = 0;
    f->key = NULL;
    return 0;
}

static int on_close(builder *b, mpf_err *e)
{
    if (b->depth == 0)
        return 0; /* libyaml never sends an unbalanced end */
    frame *f = &b->stack[--b->depth];
    ynode *n = f->node;
    node_free(f->key); /* only set if the event stream were malformed */
    f->key = NULL;
    if (n->kind == YNODE_MAP)
        return check_dup_keys(n, e);
    return 0;
}

/* Whether byte off of text is a tab with only blanks (or the "-" of
 * compact sequence entries) before it on its line: indentation. */
static int tab_in_indent(const char *text, size_t len, size_t off)
{
    if (!text || off >= len || text[off] != '\t')
        return 0;
    while (off > 0 && text[off - 1] != '\n') {
        off--;
        if (text[off] != ' ' && text[off] != '\t' && text[off] != '-')
            return 0;
    }
    return 1;
}

/* Turn a libyaml failure into "file:line:col: problem (context ...)". */
static int libyaml_error(const yaml_parser_t *p, const char *file,
                         const char *text, size_t len, mpf_err *e)
{
    const char *problem = p->problem ? p->problem : "malformed YAML";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return err_set(e, MPF_ENOMEM, "%s: out of memory while parsing YAML",
                       file);
    case YAML_READER_ERROR: {
        /* Reader errors carry a byte offset, not a mark. */
        size_t off = p->problem_offset < len ? p->problem_offset : len;
        int line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        if (p->problem_value != -1)
            return err_set(e, MPF_EJOB, "%s:%d:%d: %s (byte 0x%X)", file,
                           line, col, problem, (unsigned)p->problem_value);
        return err_set(e, MPF_EJOB, "%s:%d:%d: %s", file, line, col, problem);
    }
    default: {
        int line = (int)p->problem_mark.line + 1;
        int col = (int)p->problem_mark.column + 1;
        /* libyaml words a tab in the indentation as "found character that
         * cannot start any token" or "found a tab character that violates
         * indentation"; say what YAML's rule is instead. */
        if (p->error == YAML_SCANNER_ERROR && tab_in_indent(text, len, p->problem_mark.index))
            return err_set(e, MPF_EJOB,
                           "%s:%d:%d: tabs are not allowed for indentation (indent with spaces)",
                           file, line, col);
        int cline = (int)p->context_mark.line + 1;
        int ccol = (int)p->context_mark.column + 1;
        if (p->context && (cline != line || ccol != col))
            return err_set(e, MPF_EJOB,
                           "%s:%d:%d: %s (%s at line %d, column %d)", file,
                           line, col, problem, p->context, cline, ccol);
        if (p->context)
            return err_set(e, MPF_EJOB, "%s:%d:%d: %s (%s)", file, line, col,
                           problem, p->context);
        return err_set(e, MPF_EJOB, "%s:%d:%d: %s", file, line, col, problem);
    }
    }
}

static int on_event(builder *b, yaml_event_t *ev, mpf_err *e)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (b->docs++ > 0)
            return fail_at(e, b->file, ev->start_mark,
                           "only one YAML document per file is supported");
        return 0;
    case YAML_ALIAS_EVENT:
        return fail_at(e, b->file, ev->start_mark,
                       "aliases are not supported ('*%s')",
                       (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev, e);
    case YAML_SEQUENCE_START_EVENT:
        return on_open(b, ev, YNODE_SEQ, e);
    case YAML_MAPPING_START_EVENT:
        return on_open(b, ev, YNODE_MAP, e);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_close(b, e);
    default:
        return 0;
    }
}

ydoc *ydoc_parse(const char *file, const char *text, size_t len, mpf_err *e)
{
    yaml_parser_t parser;
    builder b;
    ydoc *d = NULL;
    int parser_ok = 0;

    if (!file)
        file = "<yaml>";
    if (!text)
        len = 0;
    memset(&b, 0, sizeof b);
    d = xcalloc(1, sizeof *d);
    d->file = xstrdup(file);
    b.file = d->file;

    if (!yaml_parser_initialize(&parser)) {
        err_set(e, MPF_ENOMEM, "%s: cannot initialise the YAML parser", file);
        goto fail;
    }
    parser_ok = 1;
    yaml_parser_set_input_string(&parser,
                                 (const unsigned char *)(text ? text : ""),
                                 len);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            libyaml_error(&parser, d->file, text, len, e);
            goto fail;
        }
        int rc = on_event(&b, &ev, e);
        int done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (rc)
            goto fail;
        if (done)
            break;
    }
    yaml_parser_delete(&parser);

    /* "---" alone yields one empty plain scalar; that is an empty document. */
    if (b.root && b.root->kind == YNODE_SCALAR && !b.root->quoted &&
        b.root->str[0] == '\0') {
        node_free(b.root);
        b.root = NULL;
    }
    d->root = b.root;
    return d;

fail:
    if (parser_ok)
        yaml_parser_delete(&parser);
    for (size_t i = 0; i < b.depth; i++)
        node_free(b.stack[i].key);
    node_free(b.root);
    ydoc_destroy(d);
    return NULL;
}

/* Length of "file:L:C" at s, or 0 when s does not start with one. */
static size_t location_len(const char *s, const char *file)
{
    size_t fl = strlen(file), at = fl;
    if (strncmp(s, file, fl) != 0)
        return 0;
    for (int part = 0; part < 2; part++) {
        if (s[at] != ':' || !isdigit((unsigned char)s[at + 1]))
            return 0;
        at++;
        while (isdigit((unsigned char)s[at]))
            at++;
    }
    return s[at] == ':' && s[at + 1] == ' ' ? at : 0;
}

void ydoc_err_location_first(mpf_err *e, const char *file)
{
    if (!e || !file || !*file || location_len(e->msg, file))
        return;
    for (const char *p = strstr(e->msg, file); p; p = strstr(p + 1, file)) {
        size_t ll = location_len(p, file);
        if (!ll || p - e->msg < 2 || p[-2] != ':' || p[-1] != ' ')
            continue;
        char out[sizeof e->msg];
        snprintf(out, sizeof out, "%.*s: %.*s: %s", (int)ll, p, (int)(p - 2 - e->msg), e->msg,
                 p + ll + 2);
        memcpy(e->msg, out, sizeof out);
        return;
    }
}

char *ydoc_read_file(const char *path, size_t *len, mpf_err *e)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;

    f = fopen(path, "rb");
    if (!f) {
        err_set(e, MPF_EIO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 8192;
            buf = xrealloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        err_set(e, MPF_EIO, "%s: read error: %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;

fail:
    free(buf);
    if (f)
        fclose(f);
    return NULL;
}

/* -------------------------------------------------------------- queries */

ynode *ynode_get(const ynode *map, const char *key)
{
    if (!map || map->kind != YNODE_MAP || !key)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->str, key) == 0)
            return map->items[i];
    return NULL;
}

const char *ynode_pos(const ynode *n)
{
    static char buf[512];
    if (!n)
        return "?";
    snprintf(buf, sizeof buf, "%s:%d:%d", n->file ? n->file : "?", n->line,
             n->col);
    return buf;
}

/* A missing node (NULL) also counts as null, so
 * ynode_is_null(ynode_get(map, "k")) means "k has no value". */
int ynode_is_null(const ynode *n)
{
    if (!n)
        return 1;
    if (n->kind != YNODE_SCALAR || n->quoted)
        return 0;
    const char *s = n->str;
    return !strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") ||
           !strcmp(s, "Null") || !strcmp(s, "NULL");
}

const char *ynode_kind_name(ynode_kind k)
{
    switch (k) {
    case YNODE_SCALAR:
        return "scalar";
    case YNODE_SEQ:
        return "sequence";
    case YNODE_MAP:
        return "map";
    }
    return "node";
}

/* ---------------------------------------------------------- conversions */

/* "pos: [key 'k': ]expected <type>, got '<text>'" or "..., got a map". */
static int type_error(const ynode *n, const char *key, const char *type,
                      const char *extra, mpf_err *e)
{
    char kp[300] = "";
    if (key)
        snprintf(kp, sizeof kp, "key '%s': ", key);
    if (n->kind != YNODE_SCALAR)
        return err_set(e, MPF_EJOB, "%s:%d:%d: %sexpected %s, got a %s",
                       n->file, n->line, n->col, kp, type,
                       ynode_kind_name(n->kind));
    return err_set(e, MPF_EJOB, "%s:%d:%d: %sexpected %s, got '%s'%s",
                   n->file, n->line, n->col, kp, type, n->str,
                   extra ? extra : "");
}

static int digit_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return 99;
}

/* Integers: optional sign, then decimal digits, 0x hex or 0o octal (the
 * YAML 1.2 core schema forms). */
static int as_i64(const ynode *n, const char *key, int64_t *out, mpf_err *e)
{
    if (n->kind != YNODE_SCALAR)
        return type_error(n, key, "integer", NULL, e);
    const char *s = n->str;
    int neg = 0;
    unsigned base = 10;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    } else if (s[0] == '0' && s[1] == 'o') {
        base = 8;
        s += 2;
    }
    if (!*s)
        return type_error(n, key, "integer", NULL, e);
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s; s++) {
        unsigned d = (unsigned)digit_val((unsigned char)*s);
        if (d >= base)
            return type_error(n, key, "integer", NULL, e);
        if (v > (limit - d) / base)
            return type_error(n, key, "integer", " (out of range)", e);
        v = v * base + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return 0;
}

static int as_f64(const ynode *n, const char *key, double *out, mpf_err *e)
{
    if (n->kind != YNODE_SCALAR)
        return type_error(n, key, "number", NULL, e);
    const char *s = n->str, *t = s;
    int neg = 0;
    if (*t == '+' || *t == '-')
        neg = *t++ == '-';
    if (!strcmp(t, ".inf") || !strcmp(t, ".Inf") || !strcmp(t, ".INF")) {
        *out = neg ? -HUGE_VAL : HUGE_VAL;
        return 0;
    }
    if (t == s && (!strcmp(t, ".nan") || !strcmp(t, ".NaN") ||
                   !strcmp(t, ".NAN"))) {
        *out = NAN;
        return 0;
    }
    /* strtod also takes "inf", hex floats and leading blanks; only plain
     * decimal notation gets through to it. */
    int digits = 0;
    for (const char *p = t; *p; p++) {
        if (isdigit((unsigned char)*p))
            digits = 1;
        else if (!strchr(".eE+-", *p))
            return type_error(n, key, "number", NULL, e);
    }
    if (!digits)
        return type_error(n, key, "number", NULL, e);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || end == s)
        return type_error(n, key, "number", NULL, e);
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
        return type_error(n, key, "number", " (out of range)", e);
    *out = v;
    return 0;
}

static int as_bool(const ynode *n, const char *key, int *out, mpf_err *e)
{
    if (n->kind == YNODE_SCALAR) {
        if (str_ieq(n->str, "true")) {
            *out = 1;
            return 0;
        }
        if (str_ieq(n->str, "false")) {
            *out = 0;
            return 0;
        }
    }
    return type_error(n, key, "true or false", NULL, e);
}

int ynode_as_i64(const ynode *n, int64_t *out, mpf_err *e)
{
    return as_i64(n, NULL, out, e);
}

int ynode_as_f64(const ynode *n, double *out, mpf_err *e)
{
    return as_f64(n, NULL, out, e);
}

int ynode_as_bool(const ynode *n, int *out, mpf_err *e)
{
    return as_bool(n, NULL, out, e);
}

/* ---------------------------------------------------------------- getters */

/* Find key for a typed getter. Returns 1 with *out set when the key has a
 * value, 0 when it is absent and optional, or an error code. An unquoted
 * null value ("key:" or "key: ~") counts as absent. */
static int lookup(const ynode *map, const char *key, int required,
                  const ynode **out, mpf_err *e)
{
    const ynode *v = ynode_get(map, key);
    if (v && !ynode_is_null(v)) {
        *out = v;
        return 1;
    }
    if (!required)
        return 0;
    if (v)
        return err_set(e, MPF_ENOENT, "%s:%d:%d: key '%s' needs a value",
                       v->file, v->line, v->col, key);
    if (map)
        return err_set(e, MPF_ENOENT, "%s:%d:%d: missing required key '%s'",
                       map->file, map->line, map->col, key);
    return err_set(e, MPF_ENOENT, "missing required key '%s'", key);
}

int ynode_get_str(const ynode *map, const char *key, int required,
                  const char **out, mpf_err *e)
{
    const ynode *v;
    int rc = lookup(map, key, required, &v, e);
    if (rc <= 0)
        return rc;
    if (v->kind != YNODE_SCALAR)
        return type_error(v, key, "string", NULL, e);
    *out = v->str;
    return 0;
}

int ynode_get_i64(const ynode *map, const char *key, int required,
                  int64_t *out, mpf_err *e)
{
    const ynode *v;
    int rc = lookup(map, key, required, &v, e);
    return rc <= 0 ? rc : as_i64(v, key, out, e);
}

int ynode_get_f64(const ynode *map, const char *key, int required,
                  double *out, mpf_err *e)
{
    const ynode *v;
    int rc = lookup(map, key, required, &v, e);
    return rc <= 0 ? rc : as_f64(v, key, out, e);
}

int ynode_get_bool(const ynode *map, const char *key, int required, int *out,
                   mpf_err *e)
{
    const ynode *v;
    int rc = lookup(map, key, required, &v, e);
    return rc <= 0 ? rc : as_bool(v, key, out, e);
}

int ynode_check_keys(const ynode *map, const char *const *allowed,
                     const char *what, mpf_err *e)
{
    if (!map)
        return 0;
    if (!what)
        what = "map";
    if (map->kind != YNODE_MAP)
        return err_set(e, MPF_EJOB, "%s:%d:%d: %s must be a map, got a %s",
                       map->file, map->line, map->col, what,
                       ynode_kind_name(map->kind));
    for (size_t i = 0; i < map->n; i++) {
        const ynode *k = map->keys[i];
        size_t j = 0;
        while (allowed[j] && strcmp(allowed[j], k->str) != 0)
            j++;
        if (allowed[j])
            continue;
        const char *hint = str_closest(k->str, allowed);
        if (hint)
            return err_set(e, MPF_EJOB,
                           "%s:%d:%d: unknown key '%s' in %s (did you mean "
                           "'%s'?)",
                           k->file, k->line, k->col, k->str, what, hint);
        return err_set(e, MPF_EJOB, "%s:%d:%d: unknown key '%s' in %s",
                       k->file, k->line, k->col, k->str, what);
    }
    return 0;
}
