/* Unit tests for the expression language: parsing and precedence, field
 * references before and after strings, every operator and function on
 * every type it takes, implicit promotion, casts, lazy AND/OR/CASE,
 * every type error with its column, run-time errors (division by zero,
 * failed casts), filter and map over whole batches, and randomized
 * arithmetic and boolean expressions checked against the same computation
 * in C. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "expr/expr.h"
#include "record/batch.h"
#include "record/schema.h"
#include "util/xmalloc.h"

/* ------------------------------------------------------------- helpers */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Fixed fields first (constant offsets), then strings between fixed
 * fields (walked per record). */
static schema S;
static int64_t TS; /* 2024-03-15 13:45:30.250 UTC, a Friday */

static void make_schema(void)
{
    schema_init(&S);
    schema_add(&S, "a", FT_I64);
    schema_add(&S, "b", FT_I64);
    schema_add(&S, "x", FT_F64);
    schema_add(&S, "flag", FT_BOOL);
    schema_add(&S, "ts", FT_TIMESTAMP);
    schema_add(&S, "s", FT_STRING);
    schema_add(&S, "n", FT_I64);
    schema_add(&S, "t", FT_STRING);
    schema_add(&S, "y", FT_F64);
    schema_add(&S, "my field", FT_I64);
    schema_add(&S, "price", FT_F64);
}

static void build(recbuf *rb, int64_t a, int64_t b, double x, int flag, int64_t ts,
                  const char *s, int64_t n, const char *t, double y)
{
    recbuf_begin(rb);
    recbuf_i64(rb, a);
    recbuf_i64(rb, b);
    recbuf_f64(rb, x);
    recbuf_bool(rb, flag);
    recbuf_i64(rb, ts);
    recbuf_str(rb, s, (uint32_t)strlen(s));
    recbuf_i64(rb, n);
    recbuf_str(rb, t, (uint32_t)strlen(t));
    recbuf_f64(rb, y);
    recbuf_i64(rb, 11);
    recbuf_f64(rb, 9.99);
    recbuf_end(rb);
}

static recbuf REC;

static int setup(void **state)
{
    make_schema();
    assert_int_equal(parse_timestamp("2024-03-15 13:45:30.250", 23, &TS), 0);
    recbuf_init(&REC);
    build(&REC, 7, -3, 2.5, 1, TS, "Hello", 42, "w\xc3\xb6rld", -0.5);
    return 0;
}

static int teardown(void **state)
{
    recbuf_fini(&REC);
    schema_fini(&S);
    return 0;
}

/* Compile text (must succeed) and evaluate it on REC. */
typedef struct result {
    expr_prog *p;
    expr_eval *ev;
    field_type type;
} result;

static result run_ok(const char *text)
{
    result r;
    mpf_err e = {0};
    r.p = expr_prog_new(&S);
    if (expr_prog_add(r.p, text, NULL, 0, &e) < 0)
        fail_msg("'%s' did not compile: %s", text, e.msg);
    r.type = expr_prog_type(r.p, 0);
    r.ev = expr_eval_new(r.p);
    if (expr_eval_record(r.ev, REC.p, &e))
        fail_msg("'%s' failed at run time: %s", text, e.msg);
    return r;
}

static void done(result *r)
{
    expr_eval_destroy(r->ev);
    expr_prog_destroy(r->p);
}

static void check_i(const char *text, field_type t, int64_t want)
{
    result r = run_ok(text);
    if (r.type != t)
        fail_msg("'%s' has type %s, want %s", text, field_type_name(r.type), field_type_name(t));
    int64_t got = expr_result_i64(r.ev, 0);
    if (got != want)
        fail_msg("'%s' = %" PRId64 ", want %" PRId64, text, got, want);
    done(&r);
}

#define I(text, v) check_i(text, FT_I64, v)
#define B(text, v) check_i(text, FT_BOOL, v)
#define T(text, v) check_i(text, FT_TIMESTAMP, v)

static void F(const char *text, double want)
{
    result r = run_ok(text);
    if (r.type != FT_F64)
        fail_msg("'%s' has type %s, want f64", text, field_type_name(r.type));
    double got = expr_result_f64(r.ev, 0);
    if (!(got == want || (isnan(got) && isnan(want))))
        fail_msg("'%s' = %.17g, want %.17g", text, got, want);
    done(&r);
}

static void STR(const char *text, const char *want)
{
    result r = run_ok(text);
    if (r.type != FT_STRING)
        fail_msg("'%s' has type %s, want string", text, field_type_name(r.type));
    uint32_t n;
    const uint8_t *p = expr_result_str(r.ev, 0, &n);
    if (n != strlen(want) || memcmp(p, want, n) != 0)
        fail_msg("'%s' = '%.*s', want '%s'", text, (int)n, (const char *)p, want);
    done(&r);
}

/* Compiling must fail with "expression column <col>: ...<msg>...". */
static void ERR(const char *text, int col, const char *msg)
{
    mpf_err e = {0};
    expr_prog *p = expr_prog_new(&S);
    int rc = expr_prog_add(p, text, NULL, 0, &e);
    expr_prog_destroy(p);
    if (rc >= 0)
        fail_msg("'%s' compiled, want an error at column %d: %s", text, col, msg);
    char want[64];
    snprintf(want, sizeof want, "expression column %d: ", col);
    if (strncmp(e.msg, want, strlen(want)) != 0 || !strstr(e.msg, msg))
        fail_msg("'%s': got \"%s\", want \"%s...%s...\"", text, e.msg, want, msg);
    assert_int_equal(rc, MPF_EJOB);
}

/* Compiles, but evaluation on REC fails with the column and message. */
static void RTERR(const char *text, int col, const char *msg)
{
    mpf_err e = {0};
    expr_prog *p = expr_prog_new(&S);
    if (expr_prog_add(p, text, NULL, 0, &e) < 0)
        fail_msg("'%s' did not compile: %s", text, e.msg);
    expr_eval *ev = expr_eval_new(p);
    int rc = expr_eval_record(ev, REC.p, &e);
    expr_eval_destroy(ev);
    expr_prog_destroy(p);
    if (!rc)
        fail_msg("'%s' evaluated, want a run-time error", text);
    char want[64];
    snprintf(want, sizeof want, "expression column %d: ", col);
    if (strncmp(e.msg, want, strlen(want)) != 0 || !strstr(e.msg, msg))
        fail_msg("'%s': got \"%s\", want \"%s...%s...\"", text, e.msg, want, msg);
    assert_int_equal(rc, MPF_ERANGE);
}

/* --------------------------------------------------------------- tests */

static void test_literals(void **state)
{
    I("42", 42);
    I("-42", -42);
    I("- 42", -42);
    I("+5", 5);
    I("-9223372036854775808", INT64_MIN);
    I("9223372036854775807", INT64_MAX);
    F("1.5", 1.5);
    F(".25", 0.25);
    F("1e3", 1000.0);
    F("2.5E-1", 0.25);
    F("-0.5", -0.5);
    B("true", 1);
    B("FALSE", 0);
    STR("'hello'", "hello");
    STR("'it''s'", "it's");
    STR("''", "");
    T("TIMESTAMP '2024-03-15 13:45:30.250'", TS);
    T("timestamp '1970-01-01'", 0);
}

static void test_precedence(void **state)
{
    I("1 + 2 * 3", 7);
    I("(1 + 2) * 3", 9);
    I("10 - 4 - 3", 3);
    I("100 / 10 / 5", 2);
    I("2 * 3 % 4", 2);
    I("-2 * 3", -6);
    I("-(2 + 3) * 2", -10);
    I("2 - -3", 5);
    I("((((1))))", 1);
    B("1 + 2 = 3", 1);
    B("1 < 2 = true", 1);
    B("true OR false AND false", 1);  /* AND binds tighter */
    B("(true OR false) AND false", 0);
    B("NOT true = false", 1);         /* NOT (true = false) */
    B("NOT false AND false", 0);      /* (NOT false) AND false */
    B("! false && true || false", 1);
    B("true and not false", 1);
    B("a > 1 AND b < 0 OR x = 0", 1);
}

static void test_fields(void **state)
{
    I("a", 7);
    I("b", -3);
    F("x", 2.5);
    B("flag", 1);
    T("ts", TS);
    STR("s", "Hello");
    I("n", 42);          /* after a string: walked */
    STR("t", "w\xc3\xb6rld");
    F("y", -0.5);        /* after two strings */
    I("`my field`", 11);
    I("`a` + n", 49);
    F("price", 9.99);
    I("a + n + `my field`", 60);

    /* Bare field reference is recorded for map's rowtime and names. */
    mpf_err e = {0};
    expr_prog *p = expr_prog_new(&S);
    assert_int_equal(expr_prog_add(p, "n", NULL, 0, &e), 0);
    assert_int_equal(expr_prog_add(p, "n + 0", NULL, 0, &e), 1);
    assert_int_equal(expr_prog_add(p, "(ts)", NULL, 0, &e), 2);
    assert_int_equal(expr_prog_add_field(p, 5), 3);
    assert_int_equal(expr_prog_outputs(p), 4);
    assert_int_equal(expr_prog_source_field(p, 0), 6);
    assert_int_equal(expr_prog_source_field(p, 1), -1);
    assert_int_equal(expr_prog_source_field(p, 2), 4);
    assert_int_equal(expr_prog_source_field(p, 3), 5);
    assert_int_equal(expr_prog_type(p, 3), FT_STRING);
    expr_prog_destroy(p);
}

static void test_alias(void **state)
{
    mpf_err e = {0};
    char alias[16];
    expr_prog *p = expr_prog_new(&S);
    assert_int_equal(expr_prog_add(p, "a + 1 AS c", alias, sizeof alias, &e), 0);
    assert_string_equal(alias, "c");
    assert_int_equal(expr_prog_add(p, "`my field` as `x y`", alias, sizeof alias, &e), 1);
    assert_string_equal(alias, "x y");
    assert_int_equal(expr_prog_add(p, "s", alias, sizeof alias, &e), 2);
    assert_string_equal(alias, "");
    assert_true(expr_prog_add(p, "a AS", alias, sizeof alias, &e) < 0);
    assert_string_equal(e.msg, "expression column 5: expected a name after AS, found end of "
                               "expression");
    assert_true(expr_prog_add(p, "a AS averyveryverylongname", alias, sizeof alias, &e) < 0);
    assert_true(strstr(e.msg, "expression column 6: name after AS") != NULL);
    assert_true(expr_prog_add(p, "a AS b c", alias, sizeof alias, &e) < 0);
    assert_string_equal(e.msg, "expression column 8: unexpected 'c' after the expression");
    /* Outside map, AS is an error. */
    assert_true(expr_prog_add(p, "a AS b", NULL, 0, &e) < 0);
    assert_true(strstr(e.msg, "expression column 3: unexpected 'AS'") != NULL);
    assert_int_equal(expr_prog_outputs(p), 3);
    expr_prog_destroy(p);
}

static void test_arithmetic(void **state)
{
    I("a + b", 4);
    I("a - b", 10);
    I("a * b", -21);
    I("a / 2", 3);
    I("-7 / 2", -3);  /* truncates toward zero, as C and Java */
    I("a % 3", 1);
    I("-7 % 3", -1);
    I("-a", -7);
    I("9223372036854775807 + 1", INT64_MIN); /* wraps */
    I("-9223372036854775808 - 1", INT64_MAX);
    I("-9223372036854775808 / -1", INT64_MIN);
    I("-9223372036854775808 % -1", 0);
    I("4611686018427387904 * 2", INT64_MIN);
    F("x + y", 2.0);
    F("x - y", 3.0);
    F("x * y", -1.25);
    F("x / y", -5.0);
    F("x % 1", 0.5);
    F("-x", -2.5);
    F("a + x", 9.5);   /* i64 promotes to f64 */
    F("x * 2", 5.0);
    F("a / 2.0", 3.5);
    F("1 / 0.0", INFINITY);
    F("-1 / 0.0", -INFINITY);
    F("0 / 0.0", NAN);
    T("ts + 1000", TS + 1000);
    T("1000 + ts", TS + 1000);
    T("ts - 250", TS - 250);
    I("ts - ts", 0);
    I("ts - TIMESTAMP '2024-03-15'", 13 * 3600000LL + 45 * 60000 + 30250);
}

static void test_comparison(void **state)
{
    B("a = 7", 1);
    B("a == 7", 1);
    B("a != 7", 0);
    B("a <> 8", 1);
    B("a < 8", 1);
    B("a <= 7", 1);
    B("a > 7", 0);
    B("a >= 7", 1);
    B("b < a", 1);
    B("a = 7.0", 1);   /* promoted */
    B("x > 2", 1);
    B("x >= 2.5", 1);
    B("x < y", 0);
    B("x != y", 1);
    B("x <= 2.5", 1);
    B("x = 2.5", 1);
    B("s = 'Hello'", 1);
    B("s != 'hello'", 1);
    B("s < 'Help'", 1);
    B("s <= 'Hello'", 1);
    B("s > 'Hell'", 1);       /* a prefix sorts first */
    B("s >= 'Hello!'", 0);
    B("'' < 'a'", 1);
    B("'' = ''", 1);
    B("s = t", 0);
    B("flag = true", 1);
    B("flag != false", 1);
    B("false < true", 1);
    B("ts = ts", 1);
    B("ts > '2024-03-15'", 1);                 /* a literal becomes a timestamp */
    B("'2024-03-16T00:00:00Z' > ts", 1);
    B("ts < TIMESTAMP '2024-03-15 13:45:30.251'", 1);
    B("ts >= ts + 1", 0);
    B("a BETWEEN 1 AND 7", 1);
    B("a BETWEEN 8 AND 9", 0);
    B("a NOT BETWEEN 1 AND 6", 1);
    B("x BETWEEN 2 AND 3", 1);
    B("a IN (1, 7, 9)", 1);
    B("a IN (1, 2)", 0);
    B("a NOT IN (1, 2)", 1);
    B("s IN ('x', 'Hello')", 1);
    B("s NOT IN ('x', 'Hello')", 0);
    B("x IN (1, 2.5)", 1);
}

static void test_like_and_strings(void **state)
{
    B("s LIKE 'He%'", 1);
    B("s LIKE 'he%'", 0);
    B("s LIKE '%llo'", 1);
    B("s LIKE '%ell%'", 1);
    B("s LIKE '%xyz%'", 0);
    B("s LIKE 'Hello'", 1);
    B("s LIKE 'Hell'", 0);
    B("s LIKE 'H_llo'", 1);
    B("s LIKE 'H%l_o'", 1);
    B("s LIKE 'H%x%o'", 0);
    B("s LIKE '%'", 1);
    B("s LIKE '%%'", 1);
    B("'' LIKE '%'", 1);
    B("'' LIKE '_'", 0);
    B("s LIKE '_____'", 1);
    B("s LIKE '______'", 0);
    B("t LIKE 'w_rld'", 1);   /* _ is one UTF-8 character */
    B("'abcabc' LIKE '%bc'", 1);
    B("'aXbXc' LIKE 'a%b%c'", 1);
    B("s NOT LIKE 'x%'", 1);
    B("starts_with(s, 'Hel')", 1);
    B("starts_with(s, '')", 1);
    B("starts_with(s, 'Hello world')", 0);
    B("ends_with(s, 'lo')", 1);
    B("ends_with(s, 'He')", 0);
    B("contains(s, 'll')", 1);
    B("contains(s, 'lL')", 0);
    B("contains(s, '')", 1);
    STR("lower(s)", "hello");
    STR("upper(s)", "HELLO");
    STR("upper(t)", "W\xc3\xb6RLD");
    I("length(s)", 5);
    I("length(t)", 5);      /* characters, not bytes */
    I("char_length('')", 0);
    STR("concat(s, '-', a, '-', flag, '-', x)", "Hello-7-true-2.5");
    STR("concat(s)", "Hello");
    STR("concat(ts)", "2024-03-15 13:45:30.250");
    STR("substr(s, 2, 3)", "ell");
    STR("substr(s, 2)", "ello");
    STR("substring(s, 0, 2)", "He");
    STR("substr(s, 10)", "");
    STR("substr(s, 1, -1)", "");
    STR("substr(t, 2, 1)", "\xc3\xb6");
    B("lower(s) = 'hello'", 1);
}

static void test_conditional(void **state)
{
    STR("CASE WHEN a > 5 THEN 'big' ELSE 'small' END", "big");
    STR("CASE WHEN a > 10 THEN 'huge' WHEN a > 5 THEN 'big' ELSE 'small' END", "big");
    STR("case when a > 10 then 'huge' when a > 8 then 'big' else 'small' end", "small");
    STR("CASE a WHEN 1 THEN 'one' WHEN 7 THEN 'seven' ELSE 'other' END", "seven");
    STR("CASE s WHEN 'x' THEN 'one' ELSE 'other' END", "other");
    I("if(flag, 1, 2)", 1);
    I("if(NOT flag, 1, 2)", 2);
    F("CASE WHEN flag THEN 1 ELSE 2.5 END", 1.0);  /* i64 branch promoted */
    F("if(a > 100, x, 3)", 3.0);
    T("if(flag, ts, ts + 1)", TS);
    I("if(a > 0, if(b > 0, 1, 2), 3)", 2);
    /* Only the branch taken is evaluated. */
    I("CASE WHEN a > 100 THEN 1 / 0 ELSE 5 END", 5);
    I("if(b = 0, 0, a / b)", -2);
    B("false AND 1 / 0 = 1", 0);
    B("true OR 1 / 0 = 1", 1);
    B("a = 0 OR 100 / a > 1", 1);
}

static void test_cast(void **state)
{
    F("CAST(a AS f64)", 7.0);
    F("CAST(a AS double)", 7.0);
    I("CAST(x AS i64)", 2);
    I("CAST(-2.7 AS bigint)", -2);
    I("CAST(flag AS i64)", 1);
    I("CAST(ts AS i64)", TS);
    T("CAST(1000 AS timestamp)", 1000);
    T("CAST(1.5e3 AS timestamp)", 1500);
    B("CAST(a AS bool)", 1);
    B("CAST(0 AS boolean)", 0);
    B("CAST(0.0 AS bool)", 0);
    B("CAST(y AS bool)", 1);
    F("CAST(flag AS f64)", 1.0);
    F("CAST(ts AS f64)", (double)TS);
    STR("CAST(a AS string)", "7");
    STR("CAST(b AS string)", "-3");
    STR("CAST(x AS string)", "2.5");
    STR("CAST(0.1 AS string)", "0.1");
    STR("CAST(flag AS string)", "true");
    STR("CAST(NOT flag AS string)", "false");
    STR("CAST(ts AS string)", "2024-03-15 13:45:30.250");
    STR("CAST(s AS string)", "Hello");
    /* Literals are cast at plan time, the rest at run time. */
    I("CAST('12' AS i64)", 12);
    I("CAST(' -12 ' AS i64)", -12);
    F("CAST('2.5' AS f64)", 2.5);
    B("CAST('TRUE' AS bool)", 1);
    B("CAST('0' AS bool)", 0);
    T("CAST('2024-03-15 13:45:30.250' AS timestamp)", TS);
    I("CAST(concat('1', '2') AS i64)", 12);
    I("CAST(concat('-', '9223372036854775808') AS i64)", INT64_MIN);
    F("CAST(concat('1', 'e3') AS f64)", 1000.0);
    B("CAST(lower('False') AS bool)", 0);
    T("CAST(CAST(ts AS string) AS timestamp)", TS);
    I("CAST(CAST(a AS string) AS i64) + 1", 8);
}

static void test_numeric_functions(void **state)
{
    I("abs(b)", 3);
    I("abs(a)", 7);
    F("abs(y)", 0.5);
    F("floor(y)", -1.0);
    F("floor(x)", 2.0);
    F("ceil(x)", 3.0);
    F("ceiling(y)", -0.0);
    F("round(x)", 3.0);   /* half away from zero */
    F("round(-2.5)", -3.0);
    I("floor(a)", 7);
    I("ceil(b)", -3);
    I("round(a)", 7);
}

static void test_time_functions(void **state)
{
    I("year(ts)", 2024);
    I("month(ts)", 3);
    I("day(ts)", 15);
    I("dayofmonth(ts)", 15);
    I("hour(ts)", 13);
    I("minute(ts)", 45);
    I("second(ts)", 30);
    I("dayofweek(ts)", 6); /* Friday; 1 = Sunday */
    I("dayofweek(TIMESTAMP '1970-01-01')", 5);
    I("dayofweek(TIMESTAMP '2024-03-17')", 1);
    /* Before the epoch, fields still count forward from midnight. */
    I("hour(CAST(-1 AS timestamp))", 23);
    I("minute(CAST(-1 AS timestamp))", 59);
    I("second(CAST(-1 AS timestamp))", 59);
    I("year(CAST(-1 AS timestamp))", 1969);
    I("month(CAST(-1 AS timestamp))", 12);
    I("day(CAST(-1 AS timestamp))", 31);
    I("year(TIMESTAMP '2000-02-29')", 2000);
    I("day(TIMESTAMP '2000-02-29 23:59:59')", 29);
    I("month(TIMESTAMP '1900-03-01')", 3);
    T("date_trunc('second', ts)", TS - 250);
    T("date_trunc('minute', ts)", TS - 30250);
    T("date_trunc('HOUR', ts)", TS - 45 * 60000 - 30250);
    T("date_trunc('day', ts)", TS - (13 * 3600000LL + 45 * 60000 + 30250));
    B("date_trunc('month', ts) = TIMESTAMP '2024-03-01'", 1);
    B("date_trunc('year', ts) = TIMESTAMP '2024-01-01'", 1);
    T("date_trunc('hour', CAST(-1 AS timestamp))", -3600000);
    T("date_trunc('day', CAST(-1 AS timestamp))", -86400000);
    B("date_trunc('month', CAST(-1 AS timestamp)) = TIMESTAMP '1969-12-01'", 1);
    B("date_trunc('year', TIMESTAMP '1969-06-30 10:00:00') = TIMESTAMP '1969-01-01'", 1);
    B("hour(date_trunc('hour', ts) + 3600000) = 14", 1);

    /* Against the calendar of gmtime for many instants. */
    for (int k = 0; k < 300; k++) {
        int64_t ms = (int64_t)(rnd() % 8000000000000ULL) - 2000000000000LL;
        recbuf rb;
        recbuf_init(&rb);
        build(&rb, 0, 0, 0, 0, ms, "", 0, "", 0);
        mpf_err e = {0};
        expr_prog *p = expr_prog_new(&S);
        const char *fns[] = {"year(ts)", "month(ts)", "day(ts)", "hour(ts)", "minute(ts)",
                             "second(ts)", "dayofweek(ts)", "date_trunc('month', ts)"};
        for (int f = 0; f < 8; f++)
            assert_true(expr_prog_add(p, fns[f], NULL, 0, &e) == f);
        expr_eval *ev = expr_eval_new(p);
        assert_int_equal(expr_eval_record(ev, rb.p, &e), 0);
        time_t secs = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
        struct tm tm;
        gmtime_r(&secs, &tm);
        assert_int_equal(expr_result_i64(ev, 0), tm.tm_year + 1900);
        assert_int_equal(expr_result_i64(ev, 1), tm.tm_mon + 1);
        assert_int_equal(expr_result_i64(ev, 2), tm.tm_mday);
        assert_int_equal(expr_result_i64(ev, 3), tm.tm_hour);
        assert_int_equal(expr_result_i64(ev, 4), tm.tm_min);
        assert_int_equal(expr_result_i64(ev, 5), tm.tm_sec);
        assert_int_equal(expr_result_i64(ev, 6), tm.tm_wday + 1);
        struct tm first = tm;
        first.tm_mday = 1;
        first.tm_hour = first.tm_min = first.tm_sec = 0;
        assert_int_equal(expr_result_i64(ev, 7), (int64_t)timegm(&first) * 1000);
        expr_eval_destroy(ev);
        expr_prog_destroy(p);
        recbuf_fini(&rb);
    }
}

static void test_syntax_errors(void **state)
{
    ERR("", 1, "empty expression");
    ERR("   ", 1, "empty expression");
    ERR("a +", 4, "expected an expression, found end of expression");
    ERR("a + * 2", 5, "expected an expression, found '*'");
    ERR("(a + 1", 7, "expected ')', found end of expression");
    ERR("a + 1)", 6, "unexpected ')' after the expression");
    ERR("a b", 3, "unexpected 'b' after the expression");
    ERR("'abc", 1, "unterminated string");
    ERR("a = `s", 5, "unterminated `name`");
    ERR("a = \"x\"", 5, "use 'single quotes' for strings and `backquotes` for field names");
    ERR("a # 1", 3, "unexpected character '#'");
    ERR("a & b", 3, "unexpected character '&'");
    ERR("12abc", 1, "malformed number");
    ERR("99999999999999999999", 1, "out of range");
    ERR("9223372036854775808", 1, "integer 9223372036854775808 is out of range");
    ERR("CASE WHEN a THEN 1 END", 20, "CASE needs an ELSE branch");
    ERR("CASE a THEN 1 ELSE 2 END", 8, "expected WHEN, found 'THEN'");
    ERR("CASE WHEN flag 1 ELSE 2 END", 16, "expected THEN, found '1'");
    ERR("CASE WHEN flag THEN 1 ELSE 2", 29, "expected END, found end of expression");
    ERR("CAST(a i64)", 8, "expected AS, found 'i64'");
    ERR("CAST(a AS int32)", 11, "expected a type (i64, f64, bool, string, timestamp), found "
                                "'int32'");
    ERR("CAST(a AS i64", 14, "expected ')' after the CAST type");
    ERR("a IN 1", 6, "expected '(' after IN");
    ERR("a IN (1, 2", 11, "expected ',' or ')'");
    ERR("a BETWEEN 1 OR 2", 13, "expected AND in BETWEEN, found 'OR'");
    ERR("s LIKE s", 8, "LIKE needs a 'pattern' string literal, found 's'");
    ERR("hour(ts", 8, "expected ',' or ')', found end of expression");
    ERR("hour(ts, ts)", 1, "hour() takes 1 argument, got 2");
    ERR("substr(s)", 1, "substr() takes 2 to 3 arguments, got 1");
    ERR("if(flag, 1)", 1, "if() takes 3 arguments, got 2");
    ERR("hours(ts)", 1, "unknown function 'hours' (did you mean 'hour'?)");
    ERR("frobnicate(ts)", 1, "unknown function 'frobnicate'");
    ERR("a = 1 AND", 10, "expected an expression, found end of expression");
    ERR("end + 1", 1, "expected an expression, found 'end' (write `end` for a field");
    ERR("TIMESTAMP '2024-02-30'", 11, "'2024-02-30' is not a timestamp");
    char deep[1300];
    memset(deep, '(', 600);
    deep[600] = '1';
    memset(deep + 601, ')', 600);
    deep[1201] = '\0';
    mpf_err e = {0};
    expr_prog *p = expr_prog_new(&S);
    assert_true(expr_prog_add(p, deep, NULL, 0, &e) < 0);
    assert_non_null(strstr(e.msg, "nested too deeply"));
    expr_prog_destroy(p);
}

static void test_name_errors(void **state)
{
    ERR("pricee > 3", 1, "unknown field 'pricee' (did you mean 'price'?)");
    ERR("a + Flag", 5, "unknown field 'Flag' (did you mean 'flag'?)");
    ERR("zzzzzzzz = 1", 1, "unknown field 'zzzzzzzz'; the input has (a:i64, b:i64, x:f64");
    ERR("`my feld` = 1", 1, "unknown field 'my feld' (did you mean 'my field'?)");
    ERR("my field = 1", 1, "unknown field 'my'; write `my field` for the field 'my field'");
}

static void test_type_errors(void **state)
{
    ERR("s = 5", 3, "cannot compare string with i64");
    ERR("a < 'x'", 3, "cannot compare i64 with string");
    ERR("flag = 1", 6, "cannot compare bool with i64");
    ERR("ts > 5", 4, "cannot compare timestamp with i64");
    ERR("ts > 'yesterday'", 6, "'yesterday' is not a timestamp");
    ERR("s IN ('a', 2)", 3, "cannot compare string with i64");
    ERR("a BETWEEN 'x' AND 'y'", 3, "cannot compare i64 with string");
    ERR("s + 1", 3, "cannot apply '+' to string and i64 (use concat() to join strings)");
    ERR("s + s", 3, "cannot apply '+' to string and string");
    ERR("a * flag", 3, "cannot apply '*' to i64 and bool");
    ERR("ts * 2", 4, "cannot apply '*' to timestamp and i64 (timestamps take + and -");
    ERR("ts + ts", 4, "cannot apply '+' to timestamp and timestamp");
    ERR("5 - ts", 3, "cannot apply '-' to i64 and timestamp");
    ERR("ts + 1.5", 4, "cannot apply '+' to timestamp and f64");
    ERR("-s", 1, "cannot negate string");
    ERR("-flag", 1, "cannot negate bool");
    ERR("NOT a", 5, "NOT needs a bool, got i64");
    ERR("!s", 2, "NOT needs a bool, got string");
    ERR("a AND flag", 1, "AND needs a bool, got i64");
    ERR("flag OR x", 9, "OR needs a bool, got f64");
    ERR("a LIKE 'x%'", 1, "LIKE needs a string, got i64");
    ERR("CASE WHEN a THEN 1 ELSE 2 END", 11, "WHEN needs a bool, got i64");
    ERR("CASE WHEN flag THEN 'a' ELSE 2 END", 30, "CASE branches have different types: "
                                                  "string and i64");
    ERR("CASE WHEN flag THEN 1 WHEN flag THEN s ELSE 2 END", 38, "CASE branches have "
                                                                 "different types");
    ERR("if(a, 1, 2)", 4, "the condition of if() needs a bool, got i64");
    ERR("if(flag, ts, 2)", 14, "if() branches have different types: timestamp and i64");
    ERR("CASE a WHEN 's' THEN 1 ELSE 2 END", 8, "cannot compare i64 with string");
    ERR("CAST(flag AS timestamp)", 1, "cannot CAST bool AS timestamp");
    ERR("CAST(ts AS bool)", 1, "cannot CAST timestamp AS bool");
    ERR("CAST('abc' AS i64)", 6, "cannot CAST 'abc' AS i64");
    ERR("CAST('1.5' AS i64)", 6, "cannot CAST '1.5' AS i64");
    ERR("CAST('x' AS f64)", 6, "cannot CAST 'x' AS f64");
    ERR("CAST('yes' AS bool)", 6, "cannot CAST 'yes' AS bool");
    ERR("CAST('2024-13-01' AS timestamp)", 6, "cannot CAST '2024-13-01' AS timestamp");
    ERR("abs(s)", 5, "abs() needs a number, got string");
    ERR("floor(ts)", 7, "floor() needs a number, got timestamp");
    ERR("hour(a)", 6, "hour() needs a timestamp, got i64 (use CAST(x AS timestamp)");
    ERR("year(s)", 6, "year() needs a timestamp, got string");
    ERR("dayofweek(x)", 11, "dayofweek() needs a timestamp, got f64");
    ERR("date_trunc('hours', ts)", 12, "date_trunc() unit must be 'second', 'minute', "
                                       "'hour', 'day', 'month' or 'year', got 'hours'");
    ERR("date_trunc(s, ts)", 12, "date_trunc() needs a unit literal");
    ERR("date_trunc('day', a)", 19, "date_trunc() needs a timestamp, got i64");
    ERR("lower(a)", 7, "lower() needs a string, got i64");
    ERR("length(x)", 8, "length() needs a string, got f64");
    ERR("substr(s, '1')", 11, "substr() needs an i64, got string");
    ERR("substr(s, 1, x)", 14, "substr() needs an i64, got f64");
    ERR("starts_with(s, 1)", 16, "starts_with() needs a string, got i64");
    ERR("ends_with(a, s)", 11, "ends_with() needs a string, got i64");
    ERR("contains(s, flag)", 13, "contains() needs a string, got bool");
    /* Errors inside nested expressions point inside them. */
    ERR("a > 1 AND (b < 2 OR s > 3)", 23, "cannot compare string with i64");
}

static void test_runtime_errors(void **state)
{
    RTERR("a / (b + 3)", 3, "division by zero");
    RTERR("a % 0", 3, "remainder of division by zero");
    RTERR("1 + n / (a - 7) * 2", 7, "division by zero");
    RTERR("CAST(s AS i64)", 1, "cannot CAST 'Hello' AS i64");
    RTERR("x + CAST(t AS f64)", 5, "cannot CAST 'w\xc3\xb6rld' AS f64");
    RTERR("CAST(s AS bool)", 1, "cannot CAST 'Hello' AS bool");
    RTERR("CAST(s AS timestamp)", 1, "cannot CAST 'Hello' AS timestamp");
    RTERR("CAST(concat('99999999999999999999') AS i64)", 1, "cannot CAST");
    RTERR("CAST(x * 1e300 AS i64)", 1, "out of range");
    RTERR("CAST(0 / 0.0 AS i64)", 1, "out of range");
    RTERR("CAST(-9.3e18 AS i64)", 1, "out of range");
    I("CAST(-9.2e18 AS i64)", -9200000000000000000LL);
}

/* --------------------------------------------------- batches: filter, map */

static void make_batch(uint8_t *seg, size_t cap, int nrec, int offset)
{
    recbuf rb;
    recbuf_init(&rb);
    batch_reset(seg, BATCH_DATA);
    for (int k = 0; k < nrec; k++) {
        char s[32], t[16];
        snprintf(s, sizeof s, "key-%d", (k + offset) % 13);
        snprintf(t, sizeof t, "%s", k % 2 ? "odd" : "even");
        build(&rb, k + offset, k % 5, k * 0.5, k % 3 == 0, TS + k * 60000LL, s, k * 2, t, -k);
        assert_int_equal(batch_append(seg, cap, rb.p, rb.len), 0);
    }
    recbuf_fini(&rb);
}

static void test_filter_batch(void **state)
{
    size_t cap = 1 << 16;
    uint8_t *seg = xmalloc(cap);
    mpf_err e = {0};
    expr_prog *p = expr_prog_new(&S);
    assert_int_equal(expr_prog_add(p, "(a % 3 = 0 OR s LIKE 'key-1%') AND t = 'odd' AND n < 150",
                                   NULL, 0, &e), 0);
    expr_eval *ev = expr_eval_new(p);
    for (int round = 0; round < 3; round++) {
        int nrec = round == 1 ? 40 : 500;
        make_batch(seg, cap, nrec, round * 1000);
        const uint8_t *const *sel;
        uint32_t n;
        assert_int_equal(expr_filter_batch(ev, seg, &sel, &n, &e), 0);
        uint32_t want = 0;
        const uint8_t *r = batch_first(seg);
        for (int k = 0; k < nrec; k++, r = batch_next(seg, r)) {
            int a = k + round * 1000, key = a % 13;
            int pass = (a % 3 == 0 || key == 1 || (key >= 10 && key <= 12)) && k % 2 == 1 &&
                       k * 2 < 150;
            if (pass) {
                assert_true(want < n);
                assert_ptr_equal(sel[want], r);
                want++;
            }
        }
        assert_int_equal(n, want);
    }
    /* A run-time error stops the batch. */
    expr_prog *q = expr_prog_new(&S);
    assert_int_equal(expr_prog_add(q, "100 / b > 1", NULL, 0, &e), 0);
    expr_eval *eq = expr_eval_new(q);
    const uint8_t *const *sel;
    uint32_t n = 99;
    assert_int_equal(expr_filter_batch(eq, seg, &sel, &n, &e), MPF_ERANGE);
    assert_string_equal(e.msg, "expression column 5: division by zero");
    assert_int_equal(n, 0);
    expr_eval_destroy(eq);
    expr_prog_destroy(q);
    expr_eval_destroy(ev);
    expr_prog_destroy(p);
    free(seg);
}

typedef struct sink {
    int count;
    uint8_t *seg;
    size_t cap;
} sink;

static void collect(void *arg, const uint8_t *rec, uint32_t len)
{
    sink *k = arg;
    assert_int_equal(rec_size(rec), len);
    assert_int_equal(batch_append(k->seg, k->cap, rec, len), 0);
    k->count++;
}

static void test_map_batch(void **state)
{
    size_t cap = 1 << 20;
    uint8_t *seg = xmalloc(cap);
    mpf_err e = {0};
    expr_prog *p = expr_prog_new(&S);
    const char *exprs[] = {"n", "a * 2 + b", "x / 2", "upper(concat(s, '/', t))", "flag",
                           "date_trunc('hour', ts)", "CASE WHEN b > 2 THEN 'hi' ELSE s END"};
    for (int k = 0; k < 7; k++)
        assert_int_equal(expr_prog_add(p, exprs[k], NULL, 0, &e), k);
    schema out;
    schema_init(&out);
    for (int k = 0; k < 7; k++)
        schema_add(&out, exprs[k], expr_prog_type(p, k));
    expr_eval *ev = expr_eval_new(p);
    make_batch(seg, cap, 300, 0);
    sink k = {0, xmalloc(cap), cap};
    batch_reset(k.seg, BATCH_DATA);
    assert_int_equal(expr_map_batch(ev, seg, collect, &k, &e), 0);
    assert_int_equal(k.count, 300);
    int i = 0;
    for (const uint8_t *r = batch_first(k.seg); r; r = batch_next(k.seg, r), i++) {
        assert_int_equal(rec_validate(&out, r), 0);
        assert_int_equal(rd_i64(rec_field(&out, r, 0)), i * 2);
        assert_int_equal(rd_i64(rec_field(&out, r, 1)), i * 2 + i % 5);
        assert_true(rd_f64(rec_field(&out, r, 2)) == i * 0.25);
        char want[64];
        snprintf(want, sizeof want, "KEY-%d/%s", i % 13, i % 2 ? "ODD" : "EVEN");
        uint32_t len;
        const uint8_t *s = rec_key(&out, r, 3, &len);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(s, want, len);
        assert_int_equal(*rec_field(&out, r, 4), i % 3 == 0);
        int64_t ts = TS + i * 60000LL;
        assert_int_equal(rd_i64(rec_field(&out, r, 5)), ts - ts % 3600000);
        s = rec_key(&out, r, 6, &len);
        if (i % 5 > 2)
            assert_memory_equal(s, "hi", 2);
        else
            assert_int_equal(len, strlen("key-") + (i % 13 >= 10 ? 2 : 1));
    }
    schema_fini(&out);
    expr_eval_destroy(ev);
    expr_prog_destroy(p);

    /* Strings built per record beyond the first scratch block keep their
     * bytes while later ones are made. */
    p = expr_prog_new(&S);
    const char *big = "concat(s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s)";
    char text[4096];
    snprintf(text, sizeof text, "concat(%s, %s, %s, %s, '|', upper(%s))", big, big, big, big,
             big);
    assert_int_equal(expr_prog_add(p, text, NULL, 0, &e), 0);
    assert_int_equal(expr_prog_add(p, "lower(s)", NULL, 0, &e), 1);
    ev = expr_eval_new(p);
    recbuf rb;
    recbuf_init(&rb);
    char s[2100];
    for (int round = 0; round < 20; round++) {
        int n = 10 + round * 100;
        memset(s, 'A' + round, (size_t)n);
        s[n] = '\0';
        build(&rb, 0, 0, 0, 0, 0, s, 0, "", 0);
        assert_int_equal(expr_eval_record(ev, rb.p, &e), 0);
        uint32_t len;
        const uint8_t *r = expr_result_str(ev, 0, &len);
        assert_int_equal(len, (uint32_t)n * 16 * 5 + 1);
        for (uint32_t j = 0; j < len; j++)
            assert_int_equal(r[j], j == (uint32_t)n * 64 ? '|' : 'A' + round);
        r = expr_result_str(ev, 1, &len);
        assert_int_equal(len, (uint32_t)n);
        assert_int_equal(r[0], 'a' + round);
    }
    recbuf_fini(&rb);
    expr_eval_destroy(ev);
    expr_prog_destroy(p);
    free(k.seg);
    free(seg);
}

/* ------------------------------------------- randomized against C code */

typedef struct gexpr {
    char *text;
    int isf;  /* 0 i64, 1 f64 */
    int err;  /* evaluation divides an integer by zero */
    int64_t i;
    double f;
} gexpr;

static int64_t rand_i64(void)
{
    switch (rnd() % 4) {
    case 0: return (int64_t)(rnd() % 21) - 10;
    case 1: return (int64_t)(rnd() % 2001) - 1000;
    case 2: return (int64_t)rnd();
    default: return (int64_t)(rnd() % 3) - 1;
    }
}

static double rand_f64(void)
{
    switch (rnd() % 3) {
    case 0: return (double)((int64_t)(rnd() % 2001) - 1000) / 8;
    case 1: return ((double)(rnd() >> 11) / 9007199254740992.0 - 0.5) * 1e6;
    default: return ((double)(rnd() >> 11) / 9007199254740992.0 - 0.5) * 1e-3;
    }
}

/* Record values for the random tests: a, b, n (i64) and x, y (f64). */
static int64_t RA, RB, RN;
static double RX, RY;

static double as_f(const gexpr *g) { return g->isf ? g->f : (double)g->i; }

static gexpr gen_arith(int depth)
{
    gexpr g = {0};
    if (depth == 0 || rnd() % 4 == 0) {
        switch (rnd() % 7) {
        case 0: g.text = xstrdup("a"); g.i = RA; break;
        case 1: g.text = xstrdup("b"); g.i = RB; break;
        case 2: g.text = xstrdup("n"); g.i = RN; break;
        case 3: g.text = xstrdup("x"); g.f = RX; g.isf = 1; break;
        case 4: g.text = xstrdup("y"); g.f = RY; g.isf = 1; break;
        case 5:
            g.i = rand_i64();
            g.text = g.i == INT64_MIN ? xstrdup("(-9223372036854775807 - 1)")
                                      : xasprintf("(%" PRId64 ")", g.i);
            break;
        default:
            g.f = rand_f64();
            g.isf = 1;
            g.text = xasprintf("(%.17g)", g.f);
            if (!strpbrk(g.text, ".e")) { /* integral: would lex as an i64 */
                free(g.text);
                g.text = xasprintf("(%.1f)", g.f);
            }
            break;
        }
        return g;
    }
    if (rnd() % 8 == 0) {
        gexpr a = gen_arith(depth - 1);
        g = a;
        g.text = xasprintf("-(%s)", a.text);
        free(a.text);
        if (g.isf)
            g.f = -a.f;
        else
            g.i = (int64_t)(0 - (uint64_t)a.i);
        return g;
    }
    static const char ops[] = "+-*/%";
    char op = ops[rnd() % 5];
    gexpr l = gen_arith(depth - 1), r = gen_arith(depth - 1);
    g.text = xasprintf("(%s %c %s)", l.text, op, r.text);
    free(l.text);
    free(r.text);
    g.err = l.err || r.err;
    g.isf = l.isf || r.isf;
    if (g.isf) {
        double a = as_f(&l), b = as_f(&r);
        switch (op) {
        case '+': g.f = a + b; break;
        case '-': g.f = a - b; break;
        case '*': g.f = a * b; break;
        case '/': g.f = a / b; break;
        default: g.f = fmod(a, b); break;
        }
        return g;
    }
    uint64_t a = (uint64_t)l.i, b = (uint64_t)r.i;
    switch (op) {
    case '+': g.i = (int64_t)(a + b); break;
    case '-': g.i = (int64_t)(a - b); break;
    case '*': g.i = (int64_t)(a * b); break;
    case '/':
        if (r.i == 0)
            g.err = 1;
        else
            g.i = r.i == -1 ? (int64_t)(0 - a) : l.i / r.i;
        break;
    default:
        if (r.i == 0)
            g.err = 1;
        else
            g.i = r.i == -1 ? 0 : l.i % r.i;
        break;
    }
    return g;
}

/* A bool expression: comparisons of arithmetic joined by AND/OR/NOT,
 * with AND/OR evaluating their right side only when needed. */
static gexpr gen_bool(int depth)
{
    gexpr g = {0};
    if (depth == 0 || rnd() % 3 == 0) {
        static const char *const cmps[] = {"=", "!=", "<", "<=", ">", ">="};
        int c = (int)(rnd() % 6);
        gexpr l = gen_arith(2), r = gen_arith(2);
        g.text = xasprintf("%s %s %s", l.text, cmps[c], r.text);
        g.err = l.err || r.err;
        int res;
        if (l.isf || r.isf) {
            double a = as_f(&l), b = as_f(&r);
            int v[] = {a == b, a != b, a < b, a <= b, a > b, a >= b};
            res = v[c];
        } else {
            int v[] = {l.i == r.i, l.i != r.i, l.i < r.i, l.i <= r.i, l.i > r.i, l.i >= r.i};
            res = v[c];
        }
        g.i = res;
        free(l.text);
        free(r.text);
        return g;
    }
    int kind = (int)(rnd() % 3);
    if (kind == 2) {
        gexpr a = gen_bool(depth - 1);
        g = a;
        g.text = xasprintf("NOT (%s)", a.text);
        free(a.text);
        g.i = !a.i;
        return g;
    }
    gexpr l = gen_bool(depth - 1), r = gen_bool(depth - 1);
    g.text = xasprintf("(%s) %s (%s)", l.text, kind ? "OR" : "AND", r.text);
    free(l.text);
    free(r.text);
    if (l.err) {
        g.err = 1;
    } else if (kind == 0) { /* AND */
        g.err = l.i && r.err;
        g.i = l.i && r.i;
    } else {
        g.err = !l.i && r.err;
        g.i = l.i || r.i;
    }
    return g;
}

static void random_record(recbuf *rb)
{
    RA = rand_i64();
    RB = rand_i64();
    RN = rand_i64();
    RX = rand_f64();
    RY = rand_f64();
    build(rb, RA, RB, RX, 0, 0, "pad", RN, "pad2", RY);
}

static void check_random(recbuf *rb, gexpr *g, int isbool)
{
    mpf_err e = {0};
    expr_prog *p = expr_prog_new(&S);
    if (expr_prog_add(p, g->text, NULL, 0, &e) < 0)
        fail_msg("'%s' did not compile: %s", g->text, e.msg);
    field_type t = expr_prog_type(p, 0);
    assert_int_equal(t, isbool ? FT_BOOL : g->isf ? FT_F64 : FT_I64);
    expr_eval *ev = expr_eval_new(p);
    int rc = expr_eval_record(ev, rb->p, &e);
    if (g->err) {
        if (rc != MPF_ERANGE || !strstr(e.msg, "division by zero"))
            fail_msg("'%s' (a=%" PRId64 " b=%" PRId64 " n=%" PRId64 "): want division by zero, "
                     "got rc %d", g->text, RA, RB, RN, rc);
    } else if (rc) {
        fail_msg("'%s': %s", g->text, e.msg);
    } else if (!isbool && g->isf) {
        double got = expr_result_f64(ev, 0);
        if (!(got == g->f || (isnan(got) && isnan(g->f))))
            fail_msg("'%s' (x=%.17g y=%.17g) = %.17g, C says %.17g", g->text, RX, RY, got, g->f);
    } else if (expr_result_i64(ev, 0) != g->i) {
        fail_msg("'%s' (a=%" PRId64 " b=%" PRId64 " n=%" PRId64 ") = %" PRId64 ", C says %" PRId64,
                 g->text, RA, RB, RN, expr_result_i64(ev, 0), g->i);
    }
    expr_eval_destroy(ev);
    expr_prog_destroy(p);
}

static void test_random_arithmetic(void **state)
{
    recbuf rb;
    recbuf_init(&rb);
    int errs = 0;
    for (int k = 0; k < 3000; k++) {
        random_record(&rb);
        gexpr g = gen_arith(1 + (int)(rnd() % 4));
        errs += g.err;
        check_random(&rb, &g, 0);
        free(g.text);
    }
    assert_true(errs > 10); /* division by zero was exercised */
    recbuf_fini(&rb);
}

static void test_random_boolean(void **state)
{
    recbuf rb;
    recbuf_init(&rb);
    int ntrue = 0;
    for (int k = 0; k < 2000; k++) {
        random_record(&rb);
        gexpr g = gen_bool(1 + (int)(rnd() % 3));
        ntrue += !g.err && g.i;
        check_random(&rb, &g, 1);
        free(g.text);
    }
    assert_true(ntrue > 200 && ntrue < 1800);
    recbuf_fini(&rb);
}

/* Random token soup: compiling either succeeds or fails with a column
 * inside (or just past) the text; what compiles also evaluates (perhaps
 * to a run-time error) without crashing. Meant for the sanitizer build. */
static void test_random_text(void **state)
{
    static const char *const toks[] = {
        "a", "b", "x", "s", "t", "ts", "flag", "n", "`my field`", "1", "0", "2.5", "-",
        "+", "*", "/", "%", "(", ")", ",", "=", "<>", "<", ">=", "AND", "OR", "NOT", "!",
        "'x%'", "''", "LIKE", "IN", "BETWEEN", "CASE", "WHEN", "THEN", "ELSE", "END",
        "CAST", "AS", "i64", "string", "timestamp", "if", "concat", "substr", "hour",
        "date_trunc", "'day'", "lower", "true", "TIMESTAMP", "'2024-01-01'", "`", "'",
        "abs", "length", "contains", "9223372036854775808", "&&", "||"};
    size_t ntok = sizeof toks / sizeof toks[0];
    int compiled = 0;
    for (int k = 0; k < 20000; k++) {
        char text[512] = "";
        int n = 1 + (int)(rnd() % 12);
        for (int i = 0; i < n; i++) {
            strcat(text, toks[rnd() % ntok]);
            if (rnd() % 4)
                strcat(text, " ");
        }
        mpf_err e = {0};
        char alias[32];
        expr_prog *p = expr_prog_new(&S);
        int rc = expr_prog_add(p, text, rnd() % 2 ? alias : NULL, sizeof alias, &e);
        if (rc < 0) {
            int col = 0;
            if (sscanf(e.msg, "expression column %d: ", &col) != 1 || col < 1 ||
                col > (int)strlen(text) + 1)
                fail_msg("'%s': bad error \"%s\"", text, e.msg);
        } else {
            compiled++;
            expr_eval *ev = expr_eval_new(p);
            rc = expr_eval_record(ev, REC.p, &e);
            assert_true(rc == 0 || rc == MPF_ERANGE);
            expr_eval_destroy(ev);
        }
        expr_prog_destroy(p);
    }
    assert_true(compiled > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_alias),
        cmocka_unit_test(test_arithmetic),
        cmocka_unit_test(test_comparison),
        cmocka_unit_test(test_like_and_strings),
        cmocka_unit_test(test_conditional),
        cmocka_unit_test(test_cast),
        cmocka_unit_test(test_numeric_functions),
        cmocka_unit_test(test_time_functions),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_name_errors),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_runtime_errors),
        cmocka_unit_test(test_filter_batch),
        cmocka_unit_test(test_map_batch),
        cmocka_unit_test(test_random_arithmetic),
        cmocka_unit_test(test_random_boolean),
        cmocka_unit_test(test_random_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
