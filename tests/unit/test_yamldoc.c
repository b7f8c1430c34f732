/* Unit tests for conf/yamldoc: the positioned YAML tree. They check node
 * positions and flags, the parts of YAML that are refused (anchors,
 * aliases, tags, duplicate and non-scalar keys, several documents), that
 * libyaml's own errors come out as file:line:col, the typed getters and
 * their messages, key checking with suggestions, and that mangled input
 * never crashes the parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conf/yamldoc.h"

static ydoc *parse(const char *text, mpf_err *e)
{
    err_clear(e);
    return ydoc_parse("t.yaml", text, strlen(text), e);
}

/* Parse text that must fail and check the whole message. */
static void expect_error(const char *text, const char *msg)
{
    mpf_err e;
    ydoc *d = parse(text, &e);
    assert_null(d);
    assert_int_equal(e.code, MPF_EJOB);
    assert_string_equal(e.msg, msg);
}

static void check_pos(const ynode *n, ynode_kind kind, int line, int col)
{
    assert_non_null(n);
    assert_int_equal(n->kind, kind);
    assert_int_equal(n->line, line);
    assert_int_equal(n->col, col);
    assert_string_equal(n->file, "t.yaml");
}

static void test_positions(void **state)
{
    (void)state;
    mpf_err e;
    ydoc *d = parse("a: 1\n"
                    "b:\n"
                    "  - x\n"
                    "  - 'y'\n"
                    "c: {d: \"e\"}\n",
                    &e);
    assert_non_null(d);
    const ynode *root = d->root;
    check_pos(root, YNODE_MAP, 1, 1);
    assert_int_equal(root->n, 3);
    check_pos(root->keys[0], YNODE_SCALAR, 1, 1);
    assert_string_equal(root->keys[0]->str, "a");

    const ynode *a = ynode_get(root, "a");
    check_pos(a, YNODE_SCALAR, 1, 4);
    assert_string_equal(a->str, "1");
    assert_false(a->quoted);

    const ynode *b = ynode_get(root, "b");
    check_pos(b, YNODE_SEQ, 3, 3);
    assert_int_equal(b->n, 2);
    check_pos(b->items[0], YNODE_SCALAR, 3, 5);
    assert_false(b->items[0]->quoted);
    check_pos(b->items[1], YNODE_SCALAR, 4, 5);
    assert_string_equal(b->items[1]->str, "y");
    assert_true(b->items[1]->quoted);
    assert_null(b->keys);

    const ynode *c = ynode_get(root, "c");
    check_pos(c, YNODE_MAP, 5, 4);
    const ynode *dd = ynode_get(c, "d");
    check_pos(dd, YNODE_SCALAR, 5, 8);
    assert_string_equal(dd->str, "e");
    assert_true(dd->quoted);

    assert_string_equal(ynode_pos(dd), "t.yaml:5:8");
    assert_null(ynode_get(root, "zz"));
    assert_null(ynode_get(b, "a")); /* not a map */
    assert_null(ynode_get(NULL, "a"));
    ydoc_destroy(d);
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(ynode_kind_name(YNODE_SCALAR), "scalar");
    assert_string_equal(ynode_kind_name(YNODE_SEQ), "sequence");
    assert_string_equal(ynode_kind_name(YNODE_MAP), "map");
}

static void test_nulls(void **state)
{
    (void)state;
    mpf_err e;
    ydoc *d = parse("a:\n"
                    "b: ~\n"
                    "c: null\n"
                    "d: Null\n"
                    "e: NULL\n"
                    "f: 'null'\n"
                    "g: \"\"\n"
                    "h: nil\n"
                    "i: nUll\n"
                    "j: |\n"
                    "k: []\n",
                    &e);
    assert_non_null(d);
    const ynode *r = d->root;
    assert_true(ynode_is_null(ynode_get(r, "a")));
    assert_true(ynode_is_null(ynode_get(r, "b")));
    assert_true(ynode_is_null(ynode_get(r, "c")));
    assert_true(ynode_is_null(ynode_get(r, "d")));
    assert_true(ynode_is_null(ynode_get(r, "e")));
    assert_false(ynode_is_null(ynode_get(r, "f")));
    assert_false(ynode_is_null(ynode_get(r, "g")));
    assert_false(ynode_is_null(ynode_get(r, "h")));
    assert_false(ynode_is_null(ynode_get(r, "i")));
    assert_false(ynode_is_null(ynode_get(r, "j"))); /* block scalar */
    assert_false(ynode_is_null(ynode_get(r, "k")));
    assert_true(ynode_is_null(NULL)); /* absent counts as null */
    ydoc_destroy(d);
}

static void test_empty_documents(void **state)
{
    (void)state;
    const char *empties[] = {"", "# only a comment\n", "---\n", "--- # c\n",
                             "\n\n", "---\n...\n"};
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        mpf_err e;
        ydoc *d = parse(empties[i], &e);
        assert_non_null(d);
        assert_null(d->root);
        assert_string_equal(d->file, "t.yaml");
        ydoc_destroy(d);
    }
    mpf_err e;
    ydoc *d = ydoc_parse("t.yaml", NULL, 0, &e);
    assert_non_null(d);
    assert_null(d->root);
    ydoc_destroy(d);

    d = parse("~\n", &e); /* an explicit null is a node */
    assert_non_null(d);
    assert_non_null(d->root);
    assert_true(ynode_is_null(d->root));
    ydoc_destroy(d);

    d = parse("%YAML 1.1\n---\na: 1\n", &e);
    assert_non_null(d);
    ydoc_destroy(d);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    expect_error("a: 1\nb: 2\na: 3\n",
                 "t.yaml:3:1: duplicate key 'a' (first defined at 1:1)");
    expect_error("x:\n  k: 1\n  k: 2\n",
                 "t.yaml:3:3: duplicate key 'k' (first defined at 2:3)");
    expect_error("{a: 1, 'a': 2}",
                 "t.yaml:1:8: duplicate key 'a' (first defined at 1:2)");
    /* the earliest repeat is reported when several keys repeat */
    expect_error("b: 1\na: 1\na: 2\nb: 2\n",
                 "t.yaml:3:1: duplicate key 'a' (first defined at 2:1)");
    /* same key in different maps is fine */
    mpf_err e;
    ydoc *d = parse("a: {k: 1}\nb: {k: 2}\n", &e);
    assert_non_null(d);
    ydoc_destroy(d);
}

static void test_refused_features(void **state)
{
    (void)state;
    expect_error("a: &x 1\nb: 2\n",
                 "t.yaml:1:4: anchors are not supported ('&x')");
    expect_error("a: *x\n", "t.yaml:1:4: aliases are not supported ('*x')");
    expect_error("a: &m {k: 1}\n",
                 "t.yaml:1:4: anchors are not supported ('&m')");
    expect_error("- &s [1]\n", "t.yaml:1:3: anchors are not supported ('&s')");
    expect_error("a: !!str 1\n", "t.yaml:1:4: tags are not supported "
                                 "('tag:yaml.org,2002:str')");
    expect_error("a: !foo {}\n", "t.yaml:1:4: tags are not supported "
                                 "('!foo')");
    expect_error("a: 1\n---\nb: 2\n",
                 "t.yaml:2:1: only one YAML document per file is supported");
    expect_error("? [a]\n: 1\n",
                 "t.yaml:1:3: map keys must be scalars, got a sequence");
    expect_error("{{a: 1}: 1}",
                 "t.yaml:1:2: map keys must be scalars, got a map");
    expect_error("a: \"x\\0y\"\n",
                 "t.yaml:1:4: scalar contains a NUL character");
}

static void test_libyaml_errors(void **state)
{
    (void)state;
    expect_error("a: b: c\n",
                 "t.yaml:1:5: mapping values are not allowed in this context");
    expect_error("a: [1, 2\n",
                 "t.yaml:2:1: did not find expected ',' or ']' (while parsing "
                 "a flow sequence at line 1, column 4)");
    expect_error("a: 'x\n", "t.yaml:2:1: found unexpected end of stream "
                            "(while scanning a quoted scalar at line 1, "
                            "column 4)");
    expect_error("key: @x\n", "t.yaml:1:6: found character that cannot start "
                              "any token (while scanning for the next "
                              "token)");
    expect_error("a:\n  - x\n  y: 1\n",
                 "t.yaml:3:3: did not find expected '-' indicator (while "
                 "parsing a block collection at line 2, column 3)");
    /* reader errors have only a byte offset; it is turned into line:col */
    expect_error("a: 1\nb: \xff\n",
                 "t.yaml:2:4: invalid leading UTF-8 octet (byte 0xFF)");
}

/* A tab in the indentation gets YAML's rule, not libyaml's scanner
 * wording ("found character that cannot start any token", "found a tab
 * character that violates indentation"); tabs elsewhere are left to
 * libyaml. */
static void test_tab_indentation(void **state)
{
    (void)state;
    const char *tabs = "tabs are not allowed for indentation (indent with spaces)";
    char want[128];
    snprintf(want, sizeof want, "t.yaml:3:1: %s", tabs);
    expect_error("name: x\nsources:\n\t- type: file\n", want);
    snprintf(want, sizeof want, "t.yaml:4:1: %s", tabs);
    expect_error("name: x\nconfig:\n  a: 1\n\tb: 2\n", want);
    snprintf(want, sizeof want, "t.yaml:2:5: %s", tabs);
    expect_error("config:\n    \tb: 2\n", want);
    snprintf(want, sizeof want, "t.yaml:2:4: %s", tabs);
    expect_error("l:\n  -\tb\n", want);
    /* a tab after a key is separation, which YAML allows */
    mpf_err e;
    ydoc *d = parse("a:\t1\n", &e);
    assert_non_null(d);
    ydoc_destroy(d);
}

static void test_depth_limit(void **state)
{
    (void)state;
    size_t n = 5000;
    char *s = malloc(n + 1);
    memset(s, '[', n);
    s[n] = '\0';
    mpf_err e;
    ydoc *d = parse(s, &e);
    assert_null(d);
    assert_int_equal(e.code, MPF_EJOB);
    assert_non_null(strstr(e.msg, "nesting deeper than"));
    free(s);

    /* 100 levels of maps are fine */
    char buf[1024] = "";
    for (int i = 0; i < 100; i++)
        strcat(buf, "{a: ");
    strcat(buf, "1");
    for (int i = 0; i < 100; i++)
        strcat(buf, "}");
    d = parse(buf, &e);
    assert_non_null(d);
    ydoc_destroy(d);
}

/* Every prefix and every one-byte mutation of a document either parses or
 * fails with a "t.yaml:L:C: " message; under ASan this also checks for
 * leaks and bad accesses on all those error paths. */
static void test_mangled_input_never_crashes(void **state)
{
    (void)state;
    const char *doc = "name: wordcount\n"
                      "config:\n"
                      "  parallelism.default: 4\n"
                      "operators:\n"
                      "  - {id: src, type: file, path: \"in.txt\"}\n"
                      "  - id: count\n"
                      "    keys: [word, 'x']\n"
                      "    text: |\n"
                      "      hello\n"
                      "? k\n"
                      ": v\n";
    static const char repl[] = "\x00\xff:-[]{}&*!|>'\"#? \n\t,%@`\\";
    size_t len = strlen(doc);
    char *buf = malloc(len + 1);
    int parsed = 0, failed = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        for (size_t r = 0; r <= sizeof repl - 1; r++) {
            memcpy(buf, doc, len + 1);
            size_t n = cut;
            if (r < sizeof repl - 1 && cut < len) {
                buf[cut] = repl[r];
                n = len; /* mutate one byte, keep full length */
            }
            mpf_err e;
            err_clear(&e);
            ydoc *d = ydoc_parse("t.yaml", buf, n, &e);
            if (d) {
                parsed++;
                ydoc_destroy(d);
            } else {
                int line, col;
                failed++;
                assert_int_equal(sscanf(e.msg, "t.yaml:%d:%d: ", &line, &col),
                                 2);
                assert_true(line >= 1 && col >= 1);
            }
        }
    }
    assert_true(parsed > 0);
    assert_true(failed > 0);
    free(buf);
}

static void test_typed_getters(void **state)
{
    (void)state;
    mpf_err e;
    ydoc *d = parse("i: 42\n"
                    "neg: -17\n"
                    "hex: 0x1F\n"
                    "oct: 0o17\n"
                    "big: 9223372036854775807\n"
                    "small: -9223372036854775808\n"
                    "over: 9223372036854775808\n"
                    "f: 2.5\n"
                    "fe: -1e3\n"
                    "inf: .inf\n"
                    "t: TRUE\n"
                    "n: false\n"
                    "s: hello\n"
                    "q: '42'\n"
                    "word: abc\n"
                    "m: {x: 1}\n"
                    "l: [1]\n"
                    "empty:\n",
                    &e);
    assert_non_null(d);
    const ynode *r = d->root;
    int64_t i = 0;
    double f = 0;
    int b = -1;
    const char *s = NULL;

    assert_int_equal(ynode_get_i64(r, "i", 1, &i, &e), 0);
    assert_int_equal(i, 42);
    assert_int_equal(ynode_get_i64(r, "neg", 1, &i, &e), 0);
    assert_int_equal(i, -17);
    assert_int_equal(ynode_get_i64(r, "hex", 1, &i, &e), 0);
    assert_int_equal(i, 31);
    assert_int_equal(ynode_get_i64(r, "oct", 1, &i, &e), 0);
    assert_int_equal(i, 15);
    assert_int_equal(ynode_get_i64(r, "big", 1, &i, &e), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(ynode_get_i64(r, "small", 1, &i, &e), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(ynode_get_i64(r, "q", 1, &i, &e), 0);
    assert_int_equal(i, 42);

    assert_int_equal(ynode_get_i64(r, "over", 1, &i, &e), MPF_EJOB);
    assert_string_equal(e.msg, "t.yaml:7:7: key 'over': expected integer, got "
                               "'9223372036854775808' (out of range)");
    assert_int_equal(ynode_get_i64(r, "word", 1, &i, &e), MPF_EJOB);
    assert_string_equal(e.msg,
                        "t.yaml:15:7: key 'word': expected integer, got 'abc'");
    assert_int_equal(ynode_get_i64(r, "f", 0, &i, &e), MPF_EJOB);
    assert_string_equal(e.msg,
                        "t.yaml:8:4: key 'f': expected integer, got '2.5'");
    assert_int_equal(ynode_get_i64(r, "m", 0, &i, &e), MPF_EJOB);
    assert_string_equal(e.msg,
                        "t.yaml:16:4: key 'm': expected integer, got a map");

    assert_int_equal(ynode_get_f64(r, "f", 1, &f, &e), 0);
    assert_true(f == 2.5);
    assert_int_equal(ynode_get_f64(r, "fe", 1, &f, &e), 0);
    assert_true(f == -1000.0);
    assert_int_equal(ynode_get_f64(r, "i", 1, &f, &e), 0);
    assert_true(f == 42.0);
    assert_int_equal(ynode_get_f64(r, "inf", 1, &f, &e), 0);
    assert_true(isinf(f) && f > 0);
    assert_int_equal(ynode_get_f64(r, "word", 1, &f, &e), MPF_EJOB);
    assert_string_equal(e.msg,
                        "t.yaml:15:7: key 'word': expected number, got 'abc'");
    assert_int_equal(ynode_get_f64(r, "l", 1, &f, &e), MPF_EJOB);
    assert_string_equal(e.msg,
                        "t.yaml:17:4: key 'l': expected number, got a sequence");

    assert_int_equal(ynode_get_bool(r, "t", 1, &b, &e), 0);
    assert_int_equal(b, 1);
    assert_int_equal(ynode_get_bool(r, "n", 1, &b, &e), 0);
    assert_int_equal(b, 0);
    assert_int_equal(ynode_get_bool(r, "s", 1, &b, &e), MPF_EJOB);
    assert_string_equal(e.msg, "t.yaml:13:4: key 's': expected true or false, "
                               "got 'hello'");

    assert_int_equal(ynode_get_str(r, "s", 1, &s, &e), 0);
    assert_string_equal(s, "hello");
    assert_int_equal(ynode_get_str(r, "m", 1, &s, &e), MPF_EJOB);
    assert_string_equal(e.msg,
                        "t.yaml:16:4: key 'm': expected string, got a map");

    /* absent keys: optional leaves *out alone, required is an error */
    i = 7;
    assert_int_equal(ynode_get_i64(r, "nope", 0, &i, &e), 0);
    assert_int_equal(i, 7);
    s = "keep";
    assert_int_equal(ynode_get_str(r, "nope", 0, &s, &e), 0);
    assert_string_equal(s, "keep");
    assert_int_equal(ynode_get_str(r, "nope", 1, &s, &e), MPF_ENOENT);
    assert_string_equal(e.msg, "t.yaml:1:1: missing required key 'nope'");
    assert_int_equal(ynode_get_bool(NULL, "nope", 1, &b, &e), MPF_ENOENT);
    assert_string_equal(e.msg, "missing required key 'nope'");

    /* a null value counts as absent */
    f = 1.5;
    assert_int_equal(ynode_get_f64(r, "empty", 0, &f, &e), 0);
    assert_true(f == 1.5);
    assert_int_equal(ynode_get_f64(r, "empty", 1, &f, &e), MPF_ENOENT);
    assert_non_null(strstr(e.msg, "key 'empty' needs a value"));

    /* the bare conversions */
    const ynode *w = ynode_get(r, "word");
    assert_int_equal(ynode_as_i64(w, &i, &e), MPF_EJOB);
    assert_string_equal(e.msg, "t.yaml:15:7: expected integer, got 'abc'");
    assert_int_equal(ynode_as_f64(w, &f, &e), MPF_EJOB);
    assert_string_equal(e.msg, "t.yaml:15:7: expected number, got 'abc'");
    assert_int_equal(ynode_as_bool(w, &b, &e), MPF_EJOB);
    assert_string_equal(e.msg, "t.yaml:15:7: expected true or false, got 'abc'");
    assert_int_equal(ynode_as_bool(ynode_get(r, "t"), &b, &e), 0);
    assert_int_equal(b, 1);
    ydoc_destroy(d);
}

static void test_bad_numbers(void **state)
{
    (void)state;
    const char *ints[] = {"", "-", "+", "0x", "1.0", "1e3", " 1", "1 ", "0xg",
                          "0o8", "12a", "--1", "inf"};
    const char *nums[] = {"", "e", ".", "1e", "inf", "nan", "0x10", "1,5",
                          "1e999", "-", "+.inf.", "1 "};
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        ynode n = {.kind = YNODE_SCALAR, .file = "x", .line = 1, .col = 1,
                   .str = (char *)ints[k], .quoted = 1};
        int64_t v;
        mpf_err e;
        assert_int_equal(ynode_as_i64(&n, &v, &e), MPF_EJOB);
    }
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
        ynode n = {.kind = YNODE_SCALAR, .file = "x", .line = 1, .col = 1,
                   .str = (char *)nums[k], .quoted = 1};
        double v;
        mpf_err e;
        assert_int_equal(ynode_as_f64(&n, &v, &e), MPF_EJOB);
    }
}

static void test_check_keys(void **state)
{
    (void)state;
    mpf_err e;
    ydoc *d = parse("id: src\nparallelsim: 2\n", &e);
    assert_non_null(d);
    static const char *const allowed[] = {"id", "type", "parallelism", NULL};
    assert_int_equal(ynode_check_keys(d->root, allowed, "operator 'src'", &e),
                     MPF_EJOB);
    assert_string_equal(e.msg, "t.yaml:2:1: unknown key 'parallelsim' in "
                               "operator 'src' (did you mean "
                               "'parallelism'?)");
    ydoc_destroy(d);

    d = parse("id: src\nzzzzzzzz: 2\n", &e);
    assert_int_equal(ynode_check_keys(d->root, allowed, "operator", &e),
                     MPF_EJOB);
    assert_string_equal(e.msg, "t.yaml:2:1: unknown key 'zzzzzzzz' in "
                               "operator");
    ydoc_destroy(d);

    d = parse("{id: a, type: b}", &e);
    assert_int_equal(ynode_check_keys(d->root, allowed, "operator", &e), 0);
    ydoc_destroy(d);

    d = parse("[1, 2]", &e);
    assert_int_equal(ynode_check_keys(d->root, allowed, "operator", &e),
                     MPF_EJOB);
    assert_string_equal(e.msg,
                        "t.yaml:1:1: operator must be a map, got a sequence");
    ydoc_destroy(d);
}

static void test_read_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_yamldoc_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "a: 1\nb: [x, y]\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);

    mpf_err e;
    size_t len = 0;
    char *buf = ydoc_read_file(path, &len, &e);
    assert_non_null(buf);
    assert_int_equal(len, strlen(text));
    assert_string_equal(buf, text);
    ydoc *d = ydoc_parse(path, buf, len, &e);
    assert_non_null(d);
    assert_string_equal(d->file, path);
    assert_string_equal(ynode_get(d->root, "b")->file, path);
    ydoc_destroy(d);
    free(buf);
    unlink(path);

    buf = ydoc_read_file("/nonexistent/dir/x.yaml", &len, &e);
    assert_null(buf);
    assert_int_equal(e.code, MPF_EIO);
    assert_string_equal(e.msg,
                        "/nonexistent/dir/x.yaml: No such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_nulls),
        cmocka_unit_test(test_empty_documents),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_refused_features),
        cmocka_unit_test(test_libyaml_errors),
        cmocka_unit_test(test_tab_indentation),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_mangled_input_never_crashes),
        cmocka_unit_test(test_typed_getters),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
