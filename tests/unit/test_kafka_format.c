/* Unit tests for the Kafka source's record formats (connectors layer,
 * kafka_format.c): raw, csv and json values onto a declared schema with
 * metadata fields anywhere in it, the reasons given for values that do
 * not parse, and configuration errors with their positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf/yamldoc.h"
#include "connectors/kafka/kafka_format.h"
#include "record/batch.h"
#include "util/bytes.h"

typedef struct fx {
    ydoc *doc;
    kafka_format f;
    schema out;
    recbuf rb, scratch;
} fx;

/* Configure from YAML text; returns the code, e holding the message. */
static int fx_conf(fx *x, const char *yaml, mpf_err *e)
{
    memset(x, 0, sizeof *x);
    x->doc = ydoc_parse("job.yaml", yaml, strlen(yaml), e);
    assert_non_null(x->doc);
    schema_init(&x->out);
    recbuf_init(&x->rb);
    recbuf_init(&x->scratch);
    return kafka_format_configure(x->doc->root, "src", &x->f, &x->out, e);
}

static void fx_fini(fx *x)
{
    kafka_format_fini(&x->f);
    schema_fini(&x->out);
    recbuf_fini(&x->rb);
    recbuf_fini(&x->scratch);
    ydoc_destroy(x->doc);
}

static kafka_msg msg(const char *value, const char *key)
{
    kafka_msg m = {"clicks", 3, 4711, 1700000000123LL, key, key ? strlen(key) : 0, value,
                   value ? strlen(value) : 0};
    return m;
}

/* Field i of the decoded record. */
static const uint8_t *field(fx *x, int i)
{
    return rec_field(&x->out, x->rb.p, i);
}

static void expect_str(fx *x, int i, const char *s)
{
    const uint8_t *p = field(x, i);
    uint32_t n = rd_u32(p);
    assert_int_equal(n, strlen(s));
    assert_memory_equal(p + 4, s, n);
}

static void test_raw_default(void **state)
{
    (void)state;
    fx x;
    mpf_err e = {0};
    assert_int_equal(fx_conf(&x, "topics: [t]\n", &e), 0);
    assert_int_equal(x.out.n, 1);
    assert_string_equal(x.out.f[0].name, "value");
    kafka_msg m = msg("hello, world", NULL);
    char why[200];
    assert_int_equal(kafka_format_decode(&x.f, &x.out, &m, &x.rb, &x.scratch, why, sizeof why), 0);
    expect_str(&x, 0, "hello, world");
    m = msg(NULL, NULL); /* a tombstone */
    assert_int_equal(kafka_format_decode(&x.f, &x.out, &m, &x.rb, &x.scratch, why, sizeof why), 0);
    expect_str(&x, 0, "");
    fx_fini(&x);
}

static void test_csv_metadata(void **state)
{
    (void)state;
    fx x;
    mpf_err e = {0};
    assert_int_equal(fx_conf(&x, "format: csv\n"
                                 "delimiter: ';'\n"
                                 "fields:\n"
                                 "  - {name: k, metadata: key}\n"
                                 "  - {name: user, type: string}\n"
                                 "  - {name: p, metadata: partition}\n"
                                 "  - {name: n, type: i64}\n"
                                 "  - {name: o, metadata: offset}\n"
                                 "  - {name: ts, metadata: timestamp}\n"
                                 "  - {name: t, metadata: topic}\n"
                                 "  - {name: ok, type: bool}\n",
                         &e),
                     0);
    assert_int_equal(x.out.n, 8);
    assert_int_equal(x.out.f[5].type, FT_TIMESTAMP);
    kafka_msg m = msg("\"a;b\";42;true\r\n", "key-1");
    char why[200];
    assert_int_equal(kafka_format_decode(&x.f, &x.out, &m, &x.rb, &x.scratch, why, sizeof why), 0);
    expect_str(&x, 0, "key-1");
    expect_str(&x, 1, "a;b");
    assert_int_equal(rd_i64(field(&x, 2)), 3);
    assert_int_equal(rd_i64(field(&x, 3)), 42);
    assert_int_equal(rd_i64(field(&x, 4)), 4711);
    assert_int_equal(rd_i64(field(&x, 5)), 1700000000123LL);
    expect_str(&x, 6, "clicks");
    assert_int_equal(*field(&x, 7), 1);
    m = msg("a;notanumber;true", NULL);
    assert_int_equal(kafka_format_decode(&x.f, &x.out, &m, &x.rb, &x.scratch, why, sizeof why), -1);
    assert_non_null(strstr(why, "field 'n'"));
    m = msg("a;1", NULL);
    assert_int_equal(kafka_format_decode(&x.f, &x.out, &m, &x.rb, &x.scratch, why, sizeof why), -1);
    fx_fini(&x);
}

static void test_json(void **state)
{
    (void)state;
    fx x;
    mpf_err e = {0};
    assert_int_equal(fx_conf(&x, "format: json\n"
                                 "fields:\n"
                                 "  - {name: user, type: string}\n"
                                 "  - {name: n, type: i64}\n"
                                 "  - {name: x, type: f64}\n"
                                 "  - {name: at, type: timestamp}\n"
                                 "  - {name: tags, type: string}\n",
                         &e),
                     0);
    char why[200];
    kafka_msg m = msg("{\"user\":\"u1\",\"n\":\"17\",\"x\":2,\"at\":\"2024-01-01 00:00:01\","
                      "\"tags\":[1,\"a\"],\"other\":null}", NULL);
    assert_int_equal(kafka_format_decode(&x.f, &x.out, &m, &x.rb, &x.scratch, why, sizeof why), 0);
    expect_str(&x, 0, "u1");
    assert_int_equal(rd_i64(field(&x, 1)), 17);
    assert_true(rd_f64(field(&x, 2)) == 2.0);
    assert_int_equal(rd_i64(field(&x, 3)), 1704067201000LL);
    expect_str(&x, 4, "[1,\"a\"]");
    static const struct {
        const char *value, *why;
    } bad[] = {
        {"not json", "not JSON"},
        {"[1,2]", "JSON object was expected"},
        {"{\"user\":\"u\",\"n\":1,\"x\":1,\"at\":1}", "field 'tags' is missing"},
        {"{\"user\":\"u\",\"n\":1.5,\"x\":1,\"at\":1,\"tags\":\"\"}", "field 'n': 1.5 is not an i64"},
        {"{\"user\":\"u\",\"n\":null,\"x\":1,\"at\":1,\"tags\":\"\"}", "field 'n' is null"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = msg(bad[i].value, NULL);
        assert_int_equal(kafka_format_decode(&x.f, &x.out, &m, &x.rb, &x.scratch, why, sizeof why),
                         -1);
        if (!strstr(why, bad[i].why))
            fail_msg("'%s': got '%s', expected '%s'", bad[i].value, why, bad[i].why);
    }
    fx_fini(&x);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"format: avro\n", "job.yaml:1:9: format must be raw, csv or json, got 'avro'"},
        {"format: csv\n", "format csv needs fields"},
        {"format: raw\nfields:\n  - {name: a, type: i64}\n", "format raw reads the value into one string field"},
        {"format: json\nfields:\n  - {name: a, metadata: headers}\n", "job.yaml:3:25: metadata must be key, topic, partition, offset or timestamp"},
        {"format: json\nfields:\n  - {name: a, metadata: key, type: i64}\n", "metadata key is a string"},
        {"format: json\nfields:\n  - {name: a}\n", "field 'a' needs a type"},
        {"format: json\nfields:\n  - {name: a, type: i64}\n  - {name: a, metadata: key}\n", "duplicate field 'a'"},
        {"format: json\ndelimiter: ';'\nfields:\n  - {name: a, type: i64}\n", "delimiter is an option of format csv"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx x;
        mpf_err e = {0};
        assert_int_not_equal(fx_conf(&x, cases[i].yaml, &e), 0);
        if (!strstr(e.msg, cases[i].msg) || !strstr(e.msg, "operator 'src'"))
            fail_msg("case %zu: got '%s', expected '%s'", i, e.msg, cases[i].msg);
        fx_fini(&x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_default),
        cmocka_unit_test(test_csv_metadata),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
