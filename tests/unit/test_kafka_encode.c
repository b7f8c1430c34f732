/* Unit tests for the Kafka sink's encoders (connectors/kafka/kafka_encode):
 * raw (a string's bytes, a number as text), csv (quoting as the file sink,
 * another delimiter), json (typed members in schema order, timestamps as
 * text, NaN as null, a string that is not UTF-8 refused), field text for
 * keys and topics, and the plan-time checks of kenc_init. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>
#include "connectors/kafka/kafka_encode.h"
#include "record/batch.h"

/* id i64, name string, score f64, ok bool, ts timestamp */
static void test_schema(schema *s)
{
    schema_init(s);
    schema_add(s, "id", FT_I64);
    schema_add(s, "name", FT_STRING);
    schema_add(s, "score", FT_F64);
    schema_add(s, "ok", FT_BOOL);
    schema_add(s, "ts", FT_TIMESTAMP);
}

static void make(recbuf *b, int64_t id, const char *name, size_t nlen, double score, int ok,
                 int64_t ts)
{
    recbuf_begin(b);
    recbuf_i64(b, id);
    recbuf_str(b, name, (uint32_t)nlen);
    recbuf_f64(b, score);
    recbuf_bool(b, ok);
    recbuf_i64(b, ts);
    recbuf_end(b);
}

static char *value(const kenc *enc, const recbuf *r, kbuf *out, mpf_err *e)
{
    out->len = 0;
    if (kenc_value(enc, r->p, out, e))
        return NULL;
    kbuf_put(out, "", 1);
    return (char *)out->p;
}

static void test_raw(void **state)
{
    (void)state;
    schema s;
    test_schema(&s);
    recbuf r;
    recbuf_init(&r);
    make(&r, 42, "a,b", 3, 1.5, 1, 0);
    kenc enc;
    mpf_err e = {0};
    kbuf out = {0};
    assert_int_equal(kenc_init(&enc, KENC_RAW, &s, "name", ',', &e), 0);
    assert_string_equal(value(&enc, &r, &out, &e), "a,b");
    assert_int_equal(kenc_init(&enc, KENC_RAW, &s, "id", ',', &e), 0);
    assert_string_equal(value(&enc, &r, &out, &e), "42");
    /* several fields need value-field; an unknown one is refused */
    assert_int_not_equal(kenc_init(&enc, KENC_RAW, &s, NULL, ',', &e), 0);
    assert_non_null(strstr(e.msg, "value-field"));
    assert_int_not_equal(kenc_init(&enc, KENC_RAW, &s, "nope", ',', &e), 0);
    assert_int_not_equal(kenc_init(&enc, KENC_CSV, &s, "id", ',', &e), 0);
    kbuf_fini(&out);
    recbuf_fini(&r);
    schema_fini(&s);
}

static void test_csv(void **state)
{
    (void)state;
    schema s;
    test_schema(&s);
    recbuf r;
    recbuf_init(&r);
    kenc enc;
    mpf_err e = {0};
    kbuf out = {0};
    assert_int_equal(kenc_init(&enc, KENC_CSV, &s, NULL, ',', &e), 0);
    make(&r, -7, "plain", 5, 0.1, 0, 1700000000123);
    assert_string_equal(value(&enc, &r, &out, &e), "-7,plain,0.1,false,2023-11-14 22:13:20.123");
    make(&r, 1, "say \"hi\", twice", 15, 2, 1, 0);
    assert_string_equal(value(&enc, &r, &out, &e),
                        "1,\"say \"\"hi\"\", twice\",2,true,1970-01-01 00:00:00.000");
    assert_int_equal(kenc_init(&enc, KENC_CSV, &s, NULL, ';', &e), 0);
    make(&r, 1, "a,b", 3, 2, 1, 0);
    assert_string_equal(value(&enc, &r, &out, &e), "1;a,b;2;true;1970-01-01 00:00:00.000");
    kbuf_fini(&out);
    recbuf_fini(&r);
    schema_fini(&s);
}

static void test_json(void **state)
{
    (void)state;
    schema s;
    test_schema(&s);
    recbuf r;
    recbuf_init(&r);
    kenc enc;
    mpf_err e = {0};
    kbuf out = {0};
    assert_int_equal(kenc_init(&enc, KENC_JSON, &s, NULL, ',', &e), 0);
    make(&r, 9007199254740993LL, "qu\"ote\n", 7, 0.25, 1, 1000);
    assert_string_equal(value(&enc, &r, &out, &e),
                        "{\"id\":9007199254740993,\"name\":\"qu\\\"ote\\n\",\"score\":0.25,"
                        "\"ok\":true,\"ts\":\"1970-01-01 00:00:01.000\"}");
    make(&r, 1, "x", 1, NAN, 0, 0);
    assert_non_null(strstr(value(&enc, &r, &out, &e), "\"score\":null"));
    make(&r, 1, "\xff\xfe", 2, 1, 0, 0);
    assert_null(value(&enc, &r, &out, &e));
    assert_int_equal(e.code, MPF_EPARSE);
    assert_non_null(strstr(e.msg, "'name'"));
    kbuf_fini(&out);
    recbuf_fini(&r);
    schema_fini(&s);
}

static void test_field_text(void **state)
{
    (void)state;
    schema s;
    test_schema(&s);
    recbuf r;
    recbuf_init(&r);
    make(&r, 12, "topic-a", 7, 3.5, 0, 0);
    kbuf out = {0};
    kenc_field_text(&s, r.p, 1, &out);
    assert_int_equal(out.len, 7);
    assert_memory_equal(out.p, "topic-a", 7);
    out.len = 0;
    kenc_field_text(&s, r.p, 0, &out);
    assert_int_equal(out.len, 2);
    assert_memory_equal(out.p, "12", 2);
    kenc_format f;
    assert_int_equal(kenc_format_parse("json", &f), 0);
    assert_int_equal(f, KENC_JSON);
    assert_int_equal(kenc_format_parse("avro", &f), -1);
    kbuf_fini(&out);
    recbuf_fini(&r);
    schema_fini(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_field_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
