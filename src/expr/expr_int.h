/* Internals of the expression module shared by its parser, compiler and
 * evaluator (expr layer). Nothing outside src/expr/ includes this. */
#ifndef MPF_EXPR_EXPR_INT_H
#define MPF_EXPR_EXPR_INT_H

#include <stddef.h>
#include <stdint.h>
#include "expr/expr.h"

/* ------------------------------------------------------------ syntax tree */

enum enode_kind {
    N_INT,   /* i: value */
    N_FLOAT, /* f */
    N_BOOL,  /* i: 0/1 */
    N_STR,   /* s, slen */
    N_TS,    /* i: ms */
    N_FIELD, /* field: input index */
    N_NEG,   /* a[0] */
    N_NOT,   /* a[0] */
    N_ARITH, /* op: '+' '-' '*' '/' '%'; a[0], a[1] */
    N_CMP,   /* op: CMP_*; a[0], a[1] */
    N_AND,   /* a[0], a[1] */
    N_OR,    /* a[0], a[1] */
    N_LIKE,  /* a[0] string, a[1] pattern (string literal) */
    N_CASE,  /* a: cond, value, cond, value, ..., else value */
    N_CAST,  /* a[0]; to: target type */
    N_CALL   /* fn: FN_*; a[0..na) */
};

enum cmp_op { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

enum expr_fn {
    FN_ABS, FN_FLOOR, FN_CEIL, FN_ROUND,
    FN_YEAR, FN_MONTH, FN_DAY, FN_HOUR, FN_MINUTE, FN_SECOND, FN_DOW,
    FN_DATE_TRUNC,
    FN_LOWER, FN_UPPER, FN_LENGTH, FN_CONCAT, FN_SUBSTR,
    FN_STARTS_WITH, FN_ENDS_WITH, FN_CONTAINS,
    FN_IF
};

typedef struct enode enode;
struct enode {
    int kind;
    int col;  /* 1-based column in the expression text */
    int op;   /* N_ARITH: the operator character; N_CMP: enum cmp_op */
    int fn;   /* N_CALL */
    int field;
    field_type type; /* set by the checker */
    field_type to;   /* N_CAST */
    int64_t i;
    double f;
    char *s;
    uint32_t slen;
    int na;
    enode **a;
};

/* Node storage for one parse, freed at once. */
typedef struct enode_arena {
    void **blocks;
    size_t n, cap;
} enode_arena;

void *earena_alloc(enode_arena *ar, size_t size);
void earena_free(enode_arena *ar);
enode *enode_new(enode_arena *ar, int kind, int col, int na);

/* Parse text into a tree (expr_parse.c). names: the input fields
 * (NULL-terminated) for resolving and suggesting field names. alias as
 * in expr_prog_add. Returns NULL with e set on a syntax error or an
 * unknown field or function. */
enode *expr_parse(enode_arena *ar, const char *text, const schema *in, char *alias,
                  size_t alias_n, mpf_err *e);

/* Type-check a tree in place (expr_check.c): sets every node's type,
 * inserts implicit conversions, rewrites string literals compared with
 * timestamps. 0 or MPF_EJOB with e set. */
int expr_check(enode_arena *ar, enode **root, mpf_err *e);

/* String conversions shared by CAST at run time and the folding of
 * literal casts (expr_eval.c): surrounding ASCII blanks are ignored;
 * bools are true/false/1/0 in any case. 0 or -1. */
int expr_str_to_i64(const uint8_t *p, uint32_t n, int64_t *out);
int expr_str_to_f64(const uint8_t *p, uint32_t n, double *out);
int expr_str_to_bool(const uint8_t *p, uint32_t n, int64_t *out);

/* -------------------------------------------------------------- programs */

/* A register holds one value; bools are i64 0/1, timestamps i64 ms. */
typedef union ereg {
    int64_t i;
    double f;
    struct {
        const uint8_t *p;
        uint32_t n;
    } s;
} ereg;

enum eop {
    OP_MOV, OP_JMP, OP_JF, OP_JT, OP_NOT,
    OP_NEG_I, OP_ADD_I, OP_SUB_I, OP_MUL_I, OP_DIV_I, OP_MOD_I,
    OP_NEG_F, OP_ADD_F, OP_SUB_F, OP_MUL_F, OP_DIV_F, OP_MOD_F,
    OP_EQ_I, OP_NE_I, OP_LT_I, OP_LE_I, OP_GT_I, OP_GE_I,
    OP_EQ_F, OP_NE_F, OP_LT_F, OP_LE_F, OP_GT_F, OP_GE_F,
    OP_EQ_S, OP_NE_S, OP_LT_S, OP_LE_S, OP_GT_S, OP_GE_S,
    OP_I2F, OP_F2I, OP_I2B, OP_F2B,
    OP_I2S, OP_F2S, OP_B2S, OP_T2S, OP_S2I, OP_S2F, OP_S2B, OP_S2T,
    OP_ABS_I, OP_ABS_F, OP_FLOOR_F, OP_CEIL_F, OP_ROUND_F,
    OP_YEAR, OP_MONTH, OP_DAY, OP_HOUR, OP_MINUTE, OP_SECOND, OP_DOW,
    OP_TRUNC_MS, /* x: unit in ms */
    OP_TRUNC_MONTH, OP_TRUNC_YEAR,
    OP_LOWER, OP_UPPER, OP_LENGTH, OP_CONCAT,
    OP_SUBSTR, /* c: length register or NO_REG */
    OP_STARTS, OP_ENDS, OP_CONTAINS, OP_LIKE
};

#define NO_REG 0xffffu

typedef struct eins {
    uint8_t op;
    uint16_t d, a, b, c;
    int32_t x;   /* jump target, or an immediate */
    uint16_t col; /* for run-time errors */
} eins;

typedef struct eload {
    int field;
    uint16_t reg;
} eload;

typedef struct eout {
    uint16_t reg;
    field_type type;
    int src_field; /* bare field reference, else -1 */
} eout;

struct expr_prog {
    int nfields;
    field_type *ftype;
    char **fname;
    int *const_off; /* offset after the length prefix, or -1 (after a string) */
    int first_var;  /* first string field, or nfields */
    eins *code;
    int ncode, capcode;
    ereg *init; /* initial register values (constants) */
    int nregs, capregs;
    int *field_reg; /* per input field: its register or -1 */
    eload *loads;   /* referenced fields in field order */
    int nloads;
    eout *out;
    int nout;
    char **pool; /* owned literal bytes */
    int npool;
};

#endif
