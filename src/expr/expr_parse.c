/* Expression lexer and recursive-descent parser (expr layer). Turns the
 * text of one expression into a syntax tree whose field references are
 * resolved against the input schema; types are checked afterwards by
 * expr_check. Precedence, lowest first: OR, AND, NOT, comparisons (also
 * LIKE, IN, BETWEEN), + -, * / %, unary -. Keywords are case-insensitive;
 * a keyword used as a field name must be `backquoted`. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr/expr_int.h"
#include "util/strutil.h"
#include "util/xmalloc.h"

#define MAX_DEPTH 200

/* ------------------------------------------------------------- arena */

void *earena_alloc(enode_arena *ar, size_t size)
{
    if (ar->n == ar->cap) {
        ar->cap = ar->cap ? ar->cap * 2 : 32;
        ar->blocks = xrealloc(ar->blocks, ar->cap * sizeof *ar->blocks);
    }
    void *p = xcalloc(1, size ? size : 1);
    ar->blocks[ar->n++] = p;
    return p;
}

void earena_free(enode_arena *ar)
{
    for (size_t i = 0; i < ar->n; i++)
        free(ar->blocks[i]);
    free(ar->blocks);
    memset(ar, 0, sizeof *ar);
}

enode *enode_new(enode_arena *ar, int kind, int col, int na)
{
    enode *n = earena_alloc(ar, sizeof *n);
    n->kind = kind;
    n->col = col;
    n->field = -1;
    n->na = na;
    if (na)
        n->a = earena_alloc(ar, (size_t)na * sizeof *n->a);
    return n;
}

/* ------------------------------------------------------------- lexer */

enum tok {
    T_EOF, T_INT, T_FLOAT, T_STR, T_IDENT, T_QIDENT,
    T_LP, T_RP, T_COMMA, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PCT,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_ANDAND, T_OROR, T_BANG
};

typedef struct token {
    int kind;
    int col;
    const char *p; /* source text of the token */
    size_t n;
    uint64_t u;    /* T_INT */
    double f;      /* T_FLOAT */
    char *s;       /* T_STR, T_QIDENT: unescaped, NUL-terminated (arena) */
    uint32_t slen;
} token;

typedef struct parser {
    const char *text;
    size_t pos;
    token t;
    enode_arena *ar;
    const schema *in;
    mpf_err *e;
    int depth;
} parser;

static void *perr(parser *ps, int col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void *perr(parser *ps, int col, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(ps->e, MPF_EJOB, "expression column %d: %s", col, msg);
    return NULL;
}

/* "'text'" of the current token, or "end of expression". */
static const char *tok_desc(const parser *ps, char *buf, size_t n)
{
    if (ps->t.kind == T_EOF)
        return "end of expression";
    int len = ps->t.n > 40 ? 40 : (int)ps->t.n;
    snprintf(buf, n, "'%.*s%s'", len, ps->t.p, ps->t.n > 40 ? "..." : "");
    return buf;
}

/* Quoted text up to the closing quote q; a doubled q stands for one. */
static int lex_quoted(parser *ps, char q, size_t start)
{
    size_t i = start + 1, cap = 16, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        char ch = ps->text[i];
        if (!ch) {
            free(buf);
            perr(ps, (int)start + 1, "unterminated %s", q == '\'' ? "string" : "`name`");
            return -1;
        }
        if (ch == q) {
            if (ps->text[i + 1] != q)
                break;
            i++;
        }
        if (n + 2 > cap)
            buf = xrealloc(buf, cap *= 2);
        buf[n++] = ch;
        i++;
    }
    char *s = earena_alloc(ps->ar, n + 1);
    memcpy(s, buf, n);
    free(buf);
    ps->t.s = s;
    ps->t.slen = (uint32_t)n;
    ps->pos = i + 1;
    return 0;
}

/* Read the next token into ps->t. 0 or -1 with the error set. */
static int lex(parser *ps)
{
    const char *s = ps->text;
    size_t i = ps->pos;
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
        i++;
    token *t = &ps->t;
    memset(t, 0, sizeof *t);
    t->col = (int)i + 1;
    t->p = s + i;
    char ch = s[i];
    size_t j = i + 1;
    if (!ch) {
        t->kind = T_EOF;
        ps->pos = i;
        return 0;
    }
    if (isdigit((unsigned char)ch) || (ch == '.' && isdigit((unsigned char)s[i + 1]))) {
        j = i;
        while (isdigit((unsigned char)s[j]))
            j++;
        int isf = 0;
        if (s[j] == '.') {
            isf = 1;
            for (j++; isdigit((unsigned char)s[j]);)
                j++;
        }
        if ((s[j] == 'e' || s[j] == 'E') &&
            (isdigit((unsigned char)s[j + 1]) ||
             ((s[j + 1] == '+' || s[j + 1] == '-') && isdigit((unsigned char)s[j + 2])))) {
            isf = 1;
            for (j += 2; isdigit((unsigned char)s[j]);)
                j++;
        }
        if (isalpha((unsigned char)s[j]) || s[j] == '_') {
            perr(ps, t->col, "malformed number '%.*s'", (int)(j - i + 1), s + i);
            return -1;
        }
        char buf[64];
        if (j - i >= sizeof buf) {
            perr(ps, t->col, "number too long");
            return -1;
        }
        memcpy(buf, s + i, j - i);
        buf[j - i] = '\0';
        errno = 0;
        if (isf) {
            t->kind = T_FLOAT;
            t->f = strtod(buf, NULL);
        } else {
            t->kind = T_INT;
            t->u = strtoull(buf, NULL, 10);
            if (errno == ERANGE) {
                perr(ps, t->col, "integer %s is out of range", buf);
                return -1;
            }
        }
    } else if (isalpha((unsigned char)ch) || ch == '_') {
        while (isalnum((unsigned char)s[j]) || s[j] == '_')
            j++;
        t->kind = T_IDENT;
    } else if (ch == '\'' || ch == '`') {
        if (lex_quoted(ps, ch, i))
            return -1;
        t->kind = ch == '\'' ? T_STR : T_QIDENT;
        t->n = ps->pos - i;
        return 0;
    } else {
        switch (ch) {
        case '(': t->kind = T_LP; break;
        case ')': t->kind = T_RP; break;
        case ',': t->kind = T_COMMA; break;
        case '+': t->kind = T_PLUS; break;
        case '-': t->kind = T_MINUS; break;
        case '*': t->kind = T_STAR; break;
        case '/': t->kind = T_SLASH; break;
        case '%': t->kind = T_PCT; break;
        case '=':
            t->kind = T_EQ;
            j += s[j] == '=';
            break;
        case '!':
            t->kind = T_BANG;
            if (s[j] == '=') {
                t->kind = T_NE;
                j++;
            }
            break;
        case '<':
            t->kind = T_LT;
            if (s[j] == '=' || s[j] == '>') {
                t->kind = s[j] == '=' ? T_LE : T_NE;
                j++;
            }
            break;
        case '>':
            t->kind = T_GT;
            if (s[j] == '=') {
                t->kind = T_GE;
                j++;
            }
            break;
        case '&':
            if (s[j] != '&')
                goto bad;
            t->kind = T_ANDAND;
            j++;
            break;
        case '|':
            if (s[j] != '|')
                goto bad;
            t->kind = T_OROR;
            j++;
            break;
        case '"':
            perr(ps, t->col, "use 'single quotes' for strings and `backquotes` for field names");
            return -1;
        default:
        bad:
            perr(ps, t->col, "unexpected character '%c'", ch);
            return -1;
        }
    }
    t->n = j - i;
    ps->pos = j;
    return 0;
}

static int is_kw(const token *t, const char *kw)
{
    size_t n = strlen(kw);
    if (t->kind != T_IDENT || t->n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)t->p[i]) != kw[i])
            return 0;
    return 1;
}

/* Reserved words cannot be bare field names. */
static int is_reserved(const token *t)
{
    static const char *const kws[] = {"and", "or", "not", "case", "when", "then", "else",
                                      "end", "cast", "as", "like", "in", "between", "true",
                                      "false", NULL};
    for (int i = 0; kws[i]; i++)
        if (is_kw(t, kws[i]))
            return 1;
    return 0;
}

/* The token after the current one, without consuming anything. */
static int peek_kind(parser *ps, token *out)
{
    parser save = *ps;
    mpf_err tmp;
    ps->e = &tmp;
    int rc = lex(ps);
    *out = ps->t;
    *ps = save;
    return rc ? -1 : out->kind;
}

static int expect(parser *ps, int kind, const char *what)
{
    if (ps->t.kind != kind) {
        char buf[64];
        perr(ps, ps->t.col, "expected %s, found %s", what, tok_desc(ps, buf, sizeof buf));
        return -1;
    }
    return lex(ps);
}

/* ------------------------------------------------------------- parser */

static enode *parse_expr(parser *ps);
static enode *parse_add(parser *ps);

static enode *binary(parser *ps, int kind, int col, enode *l, enode *r)
{
    enode *n = enode_new(ps->ar, kind, col, 2);
    n->a[0] = l;
    n->a[1] = r;
    return n;
}

static enode *cmp(parser *ps, int op, int col, enode *l, enode *r)
{
    enode *n = binary(ps, N_CMP, col, l, r);
    n->op = op;
    return n;
}

static enode *negate(parser *ps, int col, enode *a)
{
    enode *n = enode_new(ps->ar, N_NOT, col, 1);
    n->a[0] = a;
    return n;
}

static enode *field_ref(parser *ps, const char *name, int col)
{
    int idx = schema_find(ps->in, name);
    if (idx >= 0) {
        enode *n = enode_new(ps->ar, N_FIELD, col, 0);
        n->field = idx;
        n->type = ps->in->f[idx].type;
        return n;
    }
    /* `my field` written without backquotes. */
    for (int i = 0; i < ps->in->n; i++) {
        const char *f = ps->in->f[i].name;
        if (strpbrk(f, " -.:/") && strncmp(ps->text + col - 1, f, strlen(f)) == 0)
            return perr(ps, col, "unknown field '%s'; write `%s` for the field '%s'", name, f, f);
    }
    const char **names = schema_names(ps->in);
    const char *near = str_closest(name, names);
    char sch[512];
    schema_format(ps->in, sch, sizeof sch);
    if (near)
        perr(ps, col, "unknown field '%s' (did you mean '%s'?)", name, near);
    else
        perr(ps, col, "unknown field '%s'; the input has (%s)", name, sch);
    free(names);
    return NULL;
}

static const struct fn_def {
    const char *name;
    int fn, min, max;
} fn_defs[] = {
    {"abs", FN_ABS, 1, 1},
    {"floor", FN_FLOOR, 1, 1},
    {"ceil", FN_CEIL, 1, 1},
    {"ceiling", FN_CEIL, 1, 1},
    {"round", FN_ROUND, 1, 1},
    {"year", FN_YEAR, 1, 1},
    {"month", FN_MONTH, 1, 1},
    {"day", FN_DAY, 1, 1},
    {"dayofmonth", FN_DAY, 1, 1},
    {"hour", FN_HOUR, 1, 1},
    {"minute", FN_MINUTE, 1, 1},
    {"second", FN_SECOND, 1, 1},
    {"dayofweek", FN_DOW, 1, 1},
    {"date_trunc", FN_DATE_TRUNC, 2, 2},
    {"lower", FN_LOWER, 1, 1},
    {"upper", FN_UPPER, 1, 1},
    {"length", FN_LENGTH, 1, 1},
    {"char_length", FN_LENGTH, 1, 1},
    {"concat", FN_CONCAT, 1, 64},
    {"substr", FN_SUBSTR, 2, 3},
    {"substring", FN_SUBSTR, 2, 3},
    {"starts_with", FN_STARTS_WITH, 2, 2},
    {"ends_with", FN_ENDS_WITH, 2, 2},
    {"contains", FN_CONTAINS, 2, 2},
    {"if", FN_IF, 3, 3},
};
#define NFN (sizeof fn_defs / sizeof fn_defs[0])

static enode *parse_call(parser *ps)
{
    char name[32];
    int col = ps->t.col;
    size_t n = ps->t.n < sizeof name - 1 ? ps->t.n : sizeof name - 1;
    for (size_t i = 0; i < n; i++)
        name[i] = (char)tolower((unsigned char)ps->t.p[i]);
    name[n] = '\0';
    const struct fn_def *def = NULL;
    for (size_t i = 0; i < NFN && !def; i++)
        if (strcmp(fn_defs[i].name, name) == 0)
            def = &fn_defs[i];
    if (!def) {
        const char *names[NFN + 1];
        for (size_t i = 0; i < NFN; i++)
            names[i] = fn_defs[i].name;
        names[NFN] = NULL;
        const char *near = str_closest(name, names);
        if (near)
            return perr(ps, col, "unknown function '%.*s' (did you mean '%s'?)", (int)ps->t.n,
                        ps->t.p, near);
        return perr(ps, col, "unknown function '%.*s'", (int)ps->t.n, ps->t.p);
    }
    if (lex(ps) || lex(ps)) /* name, '(' */
        return NULL;
    enode *args[64];
    int na = 0;
    if (ps->t.kind != T_RP) {
        for (;;) {
            if (na == 64)
                return perr(ps, ps->t.col, "too many arguments");
            if (!(args[na++] = parse_expr(ps)))
                return NULL;
            if (ps->t.kind != T_COMMA)
                break;
            if (lex(ps))
                return NULL;
        }
    }
    if (expect(ps, T_RP, "',' or ')'"))
        return NULL;
    if (na < def->min || na > def->max) {
        if (def->min == def->max)
            return perr(ps, col, "%s() takes %d argument%s, got %d", def->name, def->min,
                        def->min == 1 ? "" : "s", na);
        return perr(ps, col, "%s() takes %d to %d arguments, got %d", def->name, def->min,
                    def->max, na);
    }
    enode *c = enode_new(ps->ar, def->fn == FN_IF ? N_CASE : N_CALL, col, na);
    c->fn = def->fn;
    c->op = def->fn == FN_IF; /* N_CASE written as if() */
    memcpy(c->a, args, (size_t)na * sizeof *args);
    return c;
}

/* CASE [x] WHEN a THEN b ... ELSE c END */
static enode *parse_case(parser *ps)
{
    int col = ps->t.col;
    if (lex(ps))
        return NULL;
    enode *subject = NULL;
    if (!is_kw(&ps->t, "when") && !(subject = parse_expr(ps)))
        return NULL;
    enode *items[256];
    int n = 0;
    while (is_kw(&ps->t, "when")) {
        int wcol = ps->t.col;
        if (n + 3 > 256)
            return perr(ps, wcol, "too many WHEN branches");
        if (lex(ps))
            return NULL;
        enode *c = parse_expr(ps);
        if (!c)
            return NULL;
        if (subject)
            c = cmp(ps, CMP_EQ, wcol, subject, c);
        if (!is_kw(&ps->t, "then")) {
            char buf[64];
            return perr(ps, ps->t.col, "expected THEN, found %s", tok_desc(ps, buf, sizeof buf));
        }
        if (lex(ps))
            return NULL;
        enode *v = parse_expr(ps);
        if (!v)
            return NULL;
        items[n++] = c;
        items[n++] = v;
    }
    char buf[64];
    if (!n)
        return perr(ps, ps->t.col, "expected WHEN, found %s", tok_desc(ps, buf, sizeof buf));
    if (!is_kw(&ps->t, "else")) {
        if (is_kw(&ps->t, "end"))
            return perr(ps, ps->t.col, "CASE needs an ELSE branch (there are no NULLs)");
        return perr(ps, ps->t.col, "expected WHEN, ELSE or END, found %s",
                    tok_desc(ps, buf, sizeof buf));
    }
    if (lex(ps))
        return NULL;
    if (!(items[n++] = parse_expr(ps)))
        return NULL;
    if (!is_kw(&ps->t, "end"))
        return perr(ps, ps->t.col, "expected END, found %s", tok_desc(ps, buf, sizeof buf));
    if (lex(ps))
        return NULL;
    enode *c = enode_new(ps->ar, N_CASE, col, n);
    memcpy(c->a, items, (size_t)n * sizeof *items);
    return c;
}

/* CAST(x AS type) */
static enode *parse_cast(parser *ps)
{
    int col = ps->t.col;
    if (lex(ps) || expect(ps, T_LP, "'(' after CAST"))
        return NULL;
    enode *x = parse_expr(ps);
    if (!x)
        return NULL;
    char buf[64];
    if (!is_kw(&ps->t, "as"))
        return perr(ps, ps->t.col, "expected AS, found %s", tok_desc(ps, buf, sizeof buf));
    if (lex(ps))
        return NULL;
    field_type to;
    char tname[32];
    size_t n = ps->t.n < sizeof tname - 1 ? ps->t.n : sizeof tname - 1;
    for (size_t i = 0; i < n; i++)
        tname[i] = (char)tolower((unsigned char)ps->t.p[i]);
    tname[n] = '\0';
    if (ps->t.kind != T_IDENT || field_type_parse(tname, &to))
        return perr(ps, ps->t.col, "expected a type (i64, f64, bool, string, timestamp), "
                    "found %s", tok_desc(ps, buf, sizeof buf));
    if (lex(ps) || expect(ps, T_RP, "')' after the CAST type"))
        return NULL;
    enode *c = enode_new(ps->ar, N_CAST, col, 1);
    c->a[0] = x;
    c->to = to;
    return c;
}

static enode *parse_primary(parser *ps)
{
    token t = ps->t;
    enode *n;
    char buf[64];
    switch (t.kind) {
    case T_INT:
        if (t.u > (uint64_t)INT64_MAX)
            return perr(ps, t.col, "integer %.*s is out of range", (int)t.n, t.p);
        n = enode_new(ps->ar, N_INT, t.col, 0);
        n->i = (int64_t)t.u;
        return lex(ps) ? NULL : n;
    case T_FLOAT:
        n = enode_new(ps->ar, N_FLOAT, t.col, 0);
        n->f = t.f;
        return lex(ps) ? NULL : n;
    case T_STR:
        n = enode_new(ps->ar, N_STR, t.col, 0);
        n->s = t.s;
        n->slen = t.slen;
        return lex(ps) ? NULL : n;
    case T_LP:
        if (lex(ps) || !(n = parse_expr(ps)) || expect(ps, T_RP, "')'"))
            return NULL;
        return n;
    case T_QIDENT:
        if (!(n = field_ref(ps, t.s, t.col)))
            return NULL;
        return lex(ps) ? NULL : n;
    case T_IDENT: {
        token nx;
        int next = peek_kind(ps, &nx);
        if (is_kw(&t, "true") || is_kw(&t, "false")) {
            n = enode_new(ps->ar, N_BOOL, t.col, 0);
            n->i = is_kw(&t, "true");
            return lex(ps) ? NULL : n;
        }
        if (is_kw(&t, "case"))
            return parse_case(ps);
        if (is_kw(&t, "cast") && next == T_LP)
            return parse_cast(ps);
        if (is_kw(&t, "timestamp") && next == T_STR) {
            int64_t ms;
            if (parse_timestamp(nx.s, nx.slen, &ms))
                return perr(ps, nx.col, "'%s' is not a timestamp (YYYY-MM-DD[ HH:MM:SS[.mmm]])",
                            nx.s);
            n = enode_new(ps->ar, N_TS, t.col, 0);
            n->i = ms;
            return lex(ps) || lex(ps) ? NULL : n;
        }
        if (is_reserved(&t))
            return perr(ps, t.col, "expected an expression, found '%.*s' (write `%.*s` for a "
                        "field of that name)", (int)t.n, t.p, (int)t.n, t.p);
        if (next == T_LP)
            return parse_call(ps);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)t.n, t.p);
        if (!(n = field_ref(ps, name, t.col)))
            return NULL;
        return lex(ps) ? NULL : n;
    }
    default:
        return perr(ps, t.col, "expected an expression, found %s", tok_desc(ps, buf, sizeof buf));
    }
}

static enode *parse_unary(parser *ps)
{
    int col = ps->t.col;
    if (ps->t.kind == T_PLUS)
        return lex(ps) ? NULL : parse_unary(ps);
    if (ps->t.kind != T_MINUS)
        return parse_primary(ps);
    if (lex(ps))
        return NULL;
    if (ps->t.kind == T_INT && ps->t.u == (uint64_t)INT64_MAX + 1) {
        enode *n = enode_new(ps->ar, N_INT, col, 0);
        n->i = INT64_MIN;
        return lex(ps) ? NULL : n;
    }
    if (++ps->depth > MAX_DEPTH)
        return perr(ps, col, "expression nested too deeply");
    enode *a = parse_unary(ps);
    ps->depth--;
    if (!a)
        return NULL;
    if (a->kind == N_INT && a->i != INT64_MIN) {
        a->i = -a->i;
        a->col = col;
        return a;
    }
    if (a->kind == N_FLOAT) {
        a->f = -a->f;
        a->col = col;
        return a;
    }
    enode *n = enode_new(ps->ar, N_NEG, col, 1);
    n->a[0] = a;
    return n;
}

static enode *parse_mul(parser *ps)
{
    enode *l = parse_unary(ps);
    while (l && (ps->t.kind == T_STAR || ps->t.kind == T_SLASH || ps->t.kind == T_PCT)) {
        int op = ps->t.kind == T_STAR ? '*' : ps->t.kind == T_SLASH ? '/' : '%', col = ps->t.col;
        enode *r;
        if (lex(ps) || !(r = parse_unary(ps)))
            return NULL;
        l = binary(ps, N_ARITH, col, l, r);
        l->op = op;
    }
    return l;
}

static enode *parse_add(parser *ps)
{
    enode *l = parse_mul(ps);
    while (l && (ps->t.kind == T_PLUS || ps->t.kind == T_MINUS)) {
        int op = ps->t.kind == T_PLUS ? '+' : '-', col = ps->t.col;
        enode *r;
        if (lex(ps) || !(r = parse_mul(ps)))
            return NULL;
        l = binary(ps, N_ARITH, col, l, r);
        l->op = op;
    }
    return l;
}

static int cmp_of(int kind)
{
    switch (kind) {
    case T_EQ: return CMP_EQ;
    case T_NE: return CMP_NE;
    case T_LT: return CMP_LT;
    case T_LE: return CMP_LE;
    case T_GT: return CMP_GT;
    case T_GE: return CMP_GE;
    default: return -1;
    }
}

static enode *parse_cmp(parser *ps)
{
    enode *l = parse_add(ps);
    while (l) {
        int op = cmp_of(ps->t.kind), col = ps->t.col, neg = 0;
        if (op >= 0) {
            enode *r;
            if (lex(ps) || !(r = parse_add(ps)))
                return NULL;
            l = cmp(ps, op, col, l, r);
            continue;
        }
        if (is_kw(&ps->t, "not")) {
            token nx;
            peek_kind(ps, &nx);
            if (!is_kw(&nx, "like") && !is_kw(&nx, "in") && !is_kw(&nx, "between"))
                break;
            neg = 1;
            if (lex(ps))
                return NULL;
        }
        char buf[64];
        if (is_kw(&ps->t, "like")) {
            col = ps->t.col;
            if (lex(ps))
                return NULL;
            if (ps->t.kind != T_STR)
                return perr(ps, ps->t.col, "LIKE needs a 'pattern' string literal, found %s",
                            tok_desc(ps, buf, sizeof buf));
            enode *pat = parse_primary(ps);
            if (!pat)
                return NULL;
            l = binary(ps, N_LIKE, col, l, pat);
        } else if (is_kw(&ps->t, "in")) {
            col = ps->t.col;
            if (lex(ps) || expect(ps, T_LP, "'(' after IN"))
                return NULL;
            enode *any = NULL;
            for (;;) {
                enode *v = parse_add(ps);
                if (!v)
                    return NULL;
                enode *eq = cmp(ps, CMP_EQ, col, l, v);
                any = any ? binary(ps, N_OR, col, any, eq) : eq;
                if (ps->t.kind != T_COMMA)
                    break;
                if (lex(ps))
                    return NULL;
            }
            if (expect(ps, T_RP, "',' or ')'"))
                return NULL;
            l = any;
        } else if (is_kw(&ps->t, "between")) {
            col = ps->t.col;
            enode *lo, *hi;
            if (lex(ps) || !(lo = parse_add(ps)))
                return NULL;
            if (!is_kw(&ps->t, "and"))
                return perr(ps, ps->t.col, "expected AND in BETWEEN, found %s",
                            tok_desc(ps, buf, sizeof buf));
            if (lex(ps) || !(hi = parse_add(ps)))
                return NULL;
            l = binary(ps, N_AND, col, cmp(ps, CMP_GE, col, l, lo), cmp(ps, CMP_LE, col, l, hi));
        } else {
            break;
        }
        if (neg)
            l = negate(ps, col, l);
    }
    return l;
}

static enode *parse_not(parser *ps)
{
    if (ps->t.kind != T_BANG && !is_kw(&ps->t, "not"))
        return parse_cmp(ps);
    int col = ps->t.col;
    if (lex(ps))
        return NULL;
    if (++ps->depth > MAX_DEPTH)
        return perr(ps, col, "expression nested too deeply");
    enode *a = parse_not(ps);
    ps->depth--;
    return a ? negate(ps, col, a) : NULL;
}

static enode *parse_and(parser *ps)
{
    enode *l = parse_not(ps);
    while (l && (ps->t.kind == T_ANDAND || is_kw(&ps->t, "and"))) {
        int col = ps->t.col;
        enode *r;
        if (lex(ps) || !(r = parse_not(ps)))
            return NULL;
        l = binary(ps, N_AND, col, l, r);
    }
    return l;
}

static enode *parse_expr(parser *ps)
{
    if (++ps->depth > MAX_DEPTH)
        return perr(ps, ps->t.col, "expression nested too deeply");
    enode *l = parse_and(ps);
    while (l && (ps->t.kind == T_OROR || is_kw(&ps->t, "or"))) {
        int col = ps->t.col;
        enode *r;
        if (lex(ps) || !(r = parse_and(ps)))
            return NULL;
        l = binary(ps, N_OR, col, l, r);
    }
    ps->depth--;
    return l;
}

enode *expr_parse(enode_arena *ar, const char *text, const schema *in, char *alias,
                  size_t alias_n, mpf_err *e)
{
    parser ps = {.text = text, .ar = ar, .in = in, .e = e};
    if (alias && alias_n)
        alias[0] = '\0';
    if (lex(&ps))
        return NULL;
    if (ps.t.kind == T_EOF)
        return perr(&ps, 1, "empty expression");
    enode *root = parse_expr(&ps);
    if (!root)
        return NULL;
    char buf[64];
    if (alias && is_kw(&ps.t, "as")) {
        if (lex(&ps))
            return NULL;
        token t = ps.t;
        if (t.kind != T_IDENT && t.kind != T_QIDENT)
            return perr(&ps, t.col, "expected a name after AS, found %s",
                        tok_desc(&ps, buf, sizeof buf));
        const char *name = t.kind == T_QIDENT ? t.s : t.p;
        size_t n = t.kind == T_QIDENT ? t.slen : t.n;
        if (n == 0 || n >= alias_n)
            return perr(&ps, t.col, "name after AS must be 1 to %zu characters", alias_n - 1);
        memcpy(alias, name, n);
        alias[n] = '\0';
        if (lex(&ps))
            return NULL;
    }
    if (ps.t.kind != T_EOF)
        return perr(&ps, ps.t.col, "unexpected %s after the expression%s",
                    tok_desc(&ps, buf, sizeof buf),
                    is_kw(&ps.t, "as") && !alias ? " (AS names a field only in map)" : "");
    return root;
}
