/* Expression programs: compile checked syntax trees into register code
 * (expr layer). Every node gets its own register, literals are
 * registers with an initial value, each referenced input field one
 * register loaded once per record; AND, OR and CASE jump, so operands not
 * needed are not evaluated (a division by zero in a branch not taken is
 * no error). LIKE patterns become equality, prefix, suffix or substring
 * tests when their wildcards allow. */
#include <stdlib.h>
#include <string.h>
#include "expr/expr_int.h"
#include "util/xmalloc.h"

#define MAX_REGS 60000

expr_prog *expr_prog_new(const schema *in)
{
    expr_prog *p = xcalloc(1, sizeof *p);
    p->nfields = in->n;
    p->ftype = xcalloc((size_t)in->n + 1, sizeof *p->ftype);
    p->fname = xcalloc((size_t)in->n + 1, sizeof *p->fname);
    p->const_off = xcalloc((size_t)in->n + 1, sizeof *p->const_off);
    p->field_reg = xcalloc((size_t)in->n + 1, sizeof *p->field_reg);
    p->first_var = in->n;
    int off = 0;
    for (int i = 0; i < in->n; i++) {
        p->ftype[i] = in->f[i].type;
        p->fname[i] = xstrdup(in->f[i].name);
        p->field_reg[i] = -1;
        p->const_off[i] = off;
        if (off >= 0)
            off = in->f[i].type == FT_STRING ? -1 : off + (in->f[i].type == FT_BOOL ? 1 : 8);
        if (in->f[i].type == FT_STRING && p->first_var == in->n)
            p->first_var = i;
    }
    return p;
}

void expr_prog_destroy(expr_prog *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nfields; i++)
        free(p->fname[i]);
    for (int i = 0; i < p->npool; i++)
        free(p->pool[i]);
    free(p->fname);
    free(p->ftype);
    free(p->const_off);
    free(p->field_reg);
    free(p->code);
    free(p->init);
    free(p->loads);
    free(p->out);
    free(p->pool);
    free(p);
}

int expr_prog_outputs(const expr_prog *p) { return p->nout; }
field_type expr_prog_type(const expr_prog *p, int k) { return p->out[k].type; }
int expr_prog_source_field(const expr_prog *p, int k) { return p->out[k].src_field; }

/* ------------------------------------------------------------ codegen */

static int new_reg(expr_prog *p)
{
    if (p->nregs == p->capregs) {
        p->capregs = p->capregs ? p->capregs * 2 : 32;
        p->init = xrealloc(p->init, (size_t)p->capregs * sizeof *p->init);
    }
    memset(&p->init[p->nregs], 0, sizeof *p->init);
    return p->nregs++;
}

static int emit(expr_prog *p, int op, int d, int a, int b, int col)
{
    if (p->ncode == p->capcode) {
        p->capcode = p->capcode ? p->capcode * 2 : 64;
        p->code = xrealloc(p->code, (size_t)p->capcode * sizeof *p->code);
    }
    eins *in = &p->code[p->ncode];
    memset(in, 0, sizeof *in);
    in->op = (uint8_t)op;
    in->d = (uint16_t)d;
    in->a = (uint16_t)a;
    in->b = (uint16_t)b;
    in->c = NO_REG;
    in->col = (uint16_t)(col > 65535 ? 65535 : col);
    return p->ncode++;
}

static int const_str(expr_prog *p, const char *s, uint32_t n)
{
    p->pool = xrealloc(p->pool, (size_t)(p->npool + 1) * sizeof *p->pool);
    char *copy = xmalloc(n + 1);
    memcpy(copy, s, n);
    copy[n] = '\0';
    p->pool[p->npool++] = copy;
    int r = new_reg(p);
    p->init[r].s.p = (const uint8_t *)copy;
    p->init[r].s.n = n;
    return r;
}

static int field_reg(expr_prog *p, int field)
{
    if (p->field_reg[field] >= 0)
        return p->field_reg[field];
    int r = new_reg(p);
    p->field_reg[field] = r;
    p->loads = xrealloc(p->loads, (size_t)(p->nloads + 1) * sizeof *p->loads);
    int k = p->nloads++;
    while (k > 0 && p->loads[k - 1].field > field) {
        p->loads[k] = p->loads[k - 1];
        k--;
    }
    p->loads[k].field = field;
    p->loads[k].reg = (uint16_t)r;
    return r;
}

static int gen(expr_prog *p, const enode *n);

static int gen_unary(expr_prog *p, int op, const enode *n, int a)
{
    int d = new_reg(p);
    emit(p, op, d, a, 0, n->col);
    return d;
}

static int gen_binary(expr_prog *p, int op, const enode *n)
{
    int a = gen(p, n->a[0]), b = gen(p, n->a[1]);
    int d = new_reg(p);
    emit(p, op, d, a, b, n->col);
    return d;
}

static int gen_like(expr_prog *p, const enode *n)
{
    const char *pat = n->a[1]->s;
    uint32_t len = n->a[1]->slen, lead = 0, trail = 0;
    int inner = 0;
    while (lead < len && pat[lead] == '%')
        lead++;
    while (trail < len - lead && pat[len - 1 - trail] == '%')
        trail++;
    for (uint32_t i = 0; i < len; i++)
        if (pat[i] == '_' || (pat[i] == '%' && i >= lead && i < len - trail))
            inner = 1;
    int s = gen(p, n->a[0]), d = new_reg(p);
    if (inner) {
        emit(p, OP_LIKE, d, s, const_str(p, pat, len), n->col);
        return d;
    }
    int lit = const_str(p, pat + lead, len - lead - trail);
    int op = !lead && !trail ? OP_EQ_S : !lead ? OP_STARTS : !trail ? OP_ENDS : OP_CONTAINS;
    emit(p, op, d, s, lit, n->col);
    return d;
}

static int gen_case(expr_prog *p, const enode *n)
{
    int d = new_reg(p);
    int ends[128], nends = 0;
    for (int k = 0; k + 1 < n->na; k += 2) {
        int c = gen(p, n->a[k]);
        int jf = emit(p, OP_JF, 0, c, 0, n->col);
        emit(p, OP_MOV, d, gen(p, n->a[k + 1]), 0, n->col);
        ends[nends++] = emit(p, OP_JMP, 0, 0, 0, n->col);
        p->code[jf].x = p->ncode;
    }
    emit(p, OP_MOV, d, gen(p, n->a[n->na - 1]), 0, n->col);
    for (int k = 0; k < nends; k++)
        p->code[ends[k]].x = p->ncode;
    return d;
}

static int gen_cast(expr_prog *p, const enode *n)
{
    field_type from = n->a[0]->type, to = n->to;
    int a = gen(p, n->a[0]), op = -1;
    switch (to) {
    case FT_I64:
    case FT_TIMESTAMP:
        op = from == FT_F64 ? OP_F2I : from == FT_STRING ? (to == FT_I64 ? OP_S2I : OP_S2T) : -1;
        break;
    case FT_F64:
        op = from == FT_STRING ? OP_S2F : OP_I2F;
        break;
    case FT_BOOL:
        op = from == FT_F64 ? OP_F2B : from == FT_STRING ? OP_S2B : OP_I2B;
        break;
    case FT_STRING:
        op = from == FT_I64 ? OP_I2S : from == FT_F64 ? OP_F2S : from == FT_BOOL ? OP_B2S : OP_T2S;
        break;
    }
    return op < 0 ? a : gen_unary(p, op, n, a); /* i64, bool, timestamp share a form */
}

static int gen_call(expr_prog *p, const enode *n)
{
    int f64 = n->a[0]->type == FT_F64;
    switch (n->fn) {
    case FN_ABS: return gen_unary(p, f64 ? OP_ABS_F : OP_ABS_I, n, gen(p, n->a[0]));
    case FN_FLOOR: return f64 ? gen_unary(p, OP_FLOOR_F, n, gen(p, n->a[0])) : gen(p, n->a[0]);
    case FN_CEIL: return f64 ? gen_unary(p, OP_CEIL_F, n, gen(p, n->a[0])) : gen(p, n->a[0]);
    case FN_ROUND: return f64 ? gen_unary(p, OP_ROUND_F, n, gen(p, n->a[0])) : gen(p, n->a[0]);
    case FN_YEAR: return gen_unary(p, OP_YEAR, n, gen(p, n->a[0]));
    case FN_MONTH: return gen_unary(p, OP_MONTH, n, gen(p, n->a[0]));
    case FN_DAY: return gen_unary(p, OP_DAY, n, gen(p, n->a[0]));
    case FN_HOUR: return gen_unary(p, OP_HOUR, n, gen(p, n->a[0]));
    case FN_MINUTE: return gen_unary(p, OP_MINUTE, n, gen(p, n->a[0]));
    case FN_SECOND: return gen_unary(p, OP_SECOND, n, gen(p, n->a[0]));
    case FN_DOW: return gen_unary(p, OP_DOW, n, gen(p, n->a[0]));
    case FN_DATE_TRUNC: {
        int a = gen(p, n->a[1]);
        if (n->i == -1)
            return gen_unary(p, OP_TRUNC_MONTH, n, a);
        if (n->i == -2)
            return gen_unary(p, OP_TRUNC_YEAR, n, a);
        int d = gen_unary(p, OP_TRUNC_MS, n, a);
        p->code[p->ncode - 1].x = (int32_t)n->i;
        return d;
    }
    case FN_LOWER: return gen_unary(p, OP_LOWER, n, gen(p, n->a[0]));
    case FN_UPPER: return gen_unary(p, OP_UPPER, n, gen(p, n->a[0]));
    case FN_LENGTH: return gen_unary(p, OP_LENGTH, n, gen(p, n->a[0]));
    case FN_CONCAT: {
        int r = gen(p, n->a[0]);
        for (int k = 1; k < n->na; k++) {
            int b = gen(p, n->a[k]), d = new_reg(p);
            emit(p, OP_CONCAT, d, r, b, n->col);
            r = d;
        }
        return r;
    }
    case FN_SUBSTR: {
        int s = gen(p, n->a[0]), st = gen(p, n->a[1]);
        int len = n->na > 2 ? gen(p, n->a[2]) : (int)NO_REG;
        int d = new_reg(p);
        int at = emit(p, OP_SUBSTR, d, s, st, n->col);
        p->code[at].c = (uint16_t)len;
        return d;
    }
    case FN_STARTS_WITH: return gen_binary(p, OP_STARTS, n);
    case FN_ENDS_WITH: return gen_binary(p, OP_ENDS, n);
    case FN_CONTAINS: return gen_binary(p, OP_CONTAINS, n);
    }
    return gen(p, n->a[0]); /* not reached: the checker knows every function */
}

static int gen(expr_prog *p, const enode *n)
{
    static const int arith_i[128] = {['+'] = OP_ADD_I, ['-'] = OP_SUB_I, ['*'] = OP_MUL_I,
                                     ['/'] = OP_DIV_I, ['%'] = OP_MOD_I};
    static const int arith_f[128] = {['+'] = OP_ADD_F, ['-'] = OP_SUB_F, ['*'] = OP_MUL_F,
                                     ['/'] = OP_DIV_F, ['%'] = OP_MOD_F};
    int r, d, jump;
    switch (n->kind) {
    case N_INT:
    case N_BOOL:
    case N_TS:
        r = new_reg(p);
        p->init[r].i = n->i;
        return r;
    case N_FLOAT:
        r = new_reg(p);
        p->init[r].f = n->f;
        return r;
    case N_STR:
        return const_str(p, n->s, n->slen);
    case N_FIELD:
        return field_reg(p, n->field);
    case N_NEG:
        return gen_unary(p, n->type == FT_F64 ? OP_NEG_F : OP_NEG_I, n, gen(p, n->a[0]));
    case N_NOT:
        return gen_unary(p, OP_NOT, n, gen(p, n->a[0]));
    case N_ARITH:
        return gen_binary(p, n->a[0]->type == FT_F64 ? arith_f[n->op] : arith_i[n->op], n);
    case N_CMP: {
        int base = n->a[0]->type == FT_F64 ? OP_EQ_F
                   : n->a[0]->type == FT_STRING ? OP_EQ_S : OP_EQ_I;
        return gen_binary(p, base + n->op, n);
    }
    case N_AND:
    case N_OR:
        d = new_reg(p);
        emit(p, OP_MOV, d, gen(p, n->a[0]), 0, n->col);
        jump = emit(p, n->kind == N_AND ? OP_JF : OP_JT, 0, d, 0, n->col);
        emit(p, OP_MOV, d, gen(p, n->a[1]), 0, n->col);
        p->code[jump].x = p->ncode;
        return d;
    case N_LIKE:
        return gen_like(p, n);
    case N_CASE:
        return gen_case(p, n);
    case N_CAST:
        return gen_cast(p, n);
    case N_CALL:
        return gen_call(p, n);
    }
    return new_reg(p);
}

/* Upper bound of the registers a tree needs (shared nodes count twice). */
static int count_nodes(const enode *n)
{
    int c = 2;
    for (int k = 0; k < n->na; k++)
        c += count_nodes(n->a[k]);
    return c;
}

static int add_output(expr_prog *p, int reg, field_type t, int src)
{
    p->out = xrealloc(p->out, (size_t)(p->nout + 1) * sizeof *p->out);
    p->out[p->nout].reg = (uint16_t)reg;
    p->out[p->nout].type = t;
    p->out[p->nout].src_field = src;
    return p->nout++;
}

int expr_prog_add(expr_prog *p, const char *text, char *alias, size_t alias_n, mpf_err *e)
{
    enode_arena ar = {0};
    schema in;
    schema_init(&in);
    for (int i = 0; i < p->nfields; i++)
        schema_add(&in, p->fname[i], p->ftype[i]);
    int rc = 0;
    enode *root = expr_parse(&ar, text, &in, alias, alias_n, e);
    if (!root || expr_check(&ar, &root, e)) {
        rc = e->code ? e->code : MPF_EJOB;
        goto done;
    }
    if (p->nregs + count_nodes(root) > MAX_REGS) {
        rc = err_set(e, MPF_EJOB, "expression column 1: expression too large");
        goto done;
    }
    int src = root->kind == N_FIELD ? root->field : -1;
    rc = add_output(p, gen(p, root), root->type, src);
done:
    earena_free(&ar);
    schema_fini(&in);
    return rc;
}

int expr_prog_add_field(expr_prog *p, int idx)
{
    return add_output(p, field_reg(p, idx), p->ftype[idx], idx);
}
