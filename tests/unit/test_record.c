/* Unit tests for the record layer: building records with recbuf (every
 * field type), field offsets with strings before fixed fields,
 * rec_validate on good, truncated and corrupt records, batch_append up to
 * the segment capacity and iteration, text formatting of fields,
 * timestamp parsing, key groups (ranges against subtask ownership and the
 * spread of hashed keys) and the counted segment pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "record/batch.h"
#include "record/keygroup.h"
#include "record/schema.h"
#include "record/segpool.h"
#include "ops/opstate.h"
#include "expect_fatal.h"

/* ------------------------------------------------------------- helpers */

/* Deterministic PRNG (splitmix64), so failures reproduce. */
static uint64_t rng_state = 0x243f6a8885a308d3ULL;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The schema used by most tests: strings before and between fixed
 * fields, so offsets depend on string lengths. */
static void mixed_schema(schema *s)
{
    schema_init(s);
    schema_add(s, "name", FT_STRING);
    schema_add(s, "n", FT_I64);
    schema_add(s, "x", FT_F64);
    schema_add(s, "flag", FT_BOOL);
    schema_add(s, "ts", FT_TIMESTAMP);
    schema_add(s, "tag", FT_STRING);
}

static void build_mixed(recbuf *b, const char *name, int64_t n, double x, int flag, int64_t ts,
                        const char *tag)
{
    recbuf_begin(b);
    recbuf_str(b, name, (uint32_t)strlen(name));
    recbuf_i64(b, n);
    recbuf_f64(b, x);
    recbuf_bool(b, flag);
    recbuf_i64(b, ts);
    recbuf_str(b, tag, (uint32_t)strlen(tag));
    recbuf_end(b);
}

/* Copy into a heap block of exactly n bytes (no terminator), so that
 * AddressSanitizer sees any read past the end. */
static int parse_ts_exact(const char *s, size_t n, int64_t *ms)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    int rc = parse_timestamp(p, n, ms);
    free(p);
    return rc;
}

static int parse_ts(const char *s, int64_t *ms) { return parse_ts_exact(s, strlen(s), ms); }

static int64_t ts_ok(const char *s)
{
    int64_t ms = INT64_MIN;
    if (parse_ts(s, &ms) != 0)
        fail_msg("parse_timestamp(\"%s\") failed", s);
    return ms;
}

static void ts_bad(const char *s)
{
    int64_t ms = 12345;
    if (parse_ts(s, &ms) == 0)
        fail_msg("parse_timestamp(\"%s\") accepted it as %" PRId64, s, ms);
    assert_int_equal(ms, 12345); /* untouched on failure */
}

static const char *fmt_field(field_type t, const uint8_t *f, char *buf, size_t n)
{
    size_t w = field_format(t, f, buf, n);
    assert_true(w < n);
    buf[w] = '\0';
    return buf;
}

static const char *fmt_f64(double v, char *buf, size_t n)
{
    uint8_t raw[8];
    memcpy(raw, &v, 8);
    return fmt_field(FT_F64, raw, buf, n);
}

/* ------------------------------------------------------------- records */

static void test_recbuf_all_types(void **state)
{
    (void)state;
    schema s;
    mixed_schema(&s);
    recbuf b;
    recbuf_init(&b);
    build_mixed(&b, "hello", INT64_C(-1234567890123), 2.5, 1, INT64_C(1700000000123), "tagged");

    uint32_t expect = 4 + (4 + 5) + 8 + 8 + 1 + 8 + (4 + 6);
    assert_int_equal(b.len, expect);
    assert_int_equal(rd_u32(b.p), expect - REC_LEN_SIZE);
    assert_int_equal(rec_size(b.p), expect);
    assert_int_equal(rec_validate(&s, b.p), 0);

    /* Offsets: each field starts where the previous one ends. */
    const uint8_t *r = b.p;
    assert_ptr_equal(rec_field(&s, r, 0), r + 4);
    assert_ptr_equal(rec_field(&s, r, 1), r + 4 + 9);
    assert_ptr_equal(rec_field(&s, r, 2), r + 4 + 9 + 8);
    assert_ptr_equal(rec_field(&s, r, 3), r + 4 + 9 + 16);
    assert_ptr_equal(rec_field(&s, r, 4), r + 4 + 9 + 17);
    assert_ptr_equal(rec_field(&s, r, 5), r + 4 + 9 + 25);

    assert_int_equal(rd_u32(rec_field(&s, r, 0)), 5);
    assert_memory_equal(rec_field(&s, r, 0) + 4, "hello", 5);
    assert_true(rd_i64(rec_field(&s, r, 1)) == INT64_C(-1234567890123));
    assert_true(rd_f64(rec_field(&s, r, 2)) == 2.5);
    assert_int_equal(rec_field(&s, r, 3)[0], 1);
    assert_true(rd_i64(rec_field(&s, r, 4)) == INT64_C(1700000000123));
    assert_int_equal(rd_u32(rec_field(&s, r, 5)), 6);
    assert_memory_equal(rec_field(&s, r, 5) + 4, "tagged", 6);

    /* Keys: string bytes without the length, fixed fields by value. */
    uint32_t len = 99;
    const uint8_t *k = rec_key(&s, r, 0, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(k, "hello", 5);
    k = rec_key(&s, r, 1, &len);
    assert_int_equal(len, 8);
    assert_ptr_equal(k, rec_field(&s, r, 1));
    k = rec_key(&s, r, 2, &len);
    assert_int_equal(len, 8);
    k = rec_key(&s, r, 3, &len);
    assert_int_equal(len, 1);
    assert_int_equal(k[0], 1);
    k = rec_key(&s, r, 4, &len);
    assert_int_equal(len, 8);
    k = rec_key(&s, r, 5, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(k, "tagged", 6);

    /* Any non-zero bool is stored as 1; false as 0. */
    recbuf_begin(&b);
    recbuf_bool(&b, 42);
    recbuf_bool(&b, 0);
    recbuf_end(&b);
    assert_int_equal(b.p[4], 1);
    assert_int_equal(b.p[5], 0);
    assert_int_equal(rd_u32(b.p), 2);

    recbuf_fini(&b);
    assert_null(b.p);
    schema_fini(&s);
}

static void test_recbuf_grows_and_reuses(void **state)
{
    (void)state;
    schema s;
    schema_init(&s);
    schema_add(&s, "big", FT_STRING);
    schema_add(&s, "n", FT_I64);
    recbuf b;
    recbuf_init(&b);
    for (uint32_t n = 0; n <= 5000; n += 613) {
        char *big = malloc(n + 1);
        for (uint32_t i = 0; i < n; i++)
            big[i] = (char)('a' + i % 26);
        recbuf_begin(&b);
        recbuf_str(&b, big, n);
        recbuf_i64(&b, (int64_t)n);
        recbuf_end(&b);
        assert_int_equal(b.len, 4 + 4 + n + 8);
        assert_true(b.cap >= b.len);
        assert_int_equal(rec_validate(&s, b.p), 0);
        uint32_t len;
        const uint8_t *k = rec_key(&s, b.p, 0, &len);
        assert_int_equal(len, n);
        if (n)
            assert_memory_equal(k, big, n);
        assert_true(rd_i64(rec_field(&s, b.p, 1)) == (int64_t)n);
        free(big);
    }
    /* The empty string is a valid field. */
    recbuf_begin(&b);
    recbuf_str(&b, "", 0);
    recbuf_i64(&b, 7);
    recbuf_end(&b);
    assert_int_equal(b.len, 16);
    assert_int_equal(rec_validate(&s, b.p), 0);
    recbuf_fini(&b);
    schema_fini(&s);
}

static void test_raw_field_copy(void **state)
{
    (void)state;
    schema s;
    mixed_schema(&s);
    recbuf a, b;
    recbuf_init(&a);
    recbuf_init(&b);
    build_mixed(&a, "k", 1, -0.0, 0, -1, "");
    /* Copy fields in reverse order into a second record. */
    recbuf_begin(&b);
    for (int i = s.n - 1; i >= 0; i--)
        recbuf_raw_field(&b, s.f[i].type, rec_field(&s, a.p, i));
    recbuf_end(&b);
    assert_int_equal(b.len, a.len);
    schema rev;
    schema_init(&rev);
    for (int i = s.n - 1; i >= 0; i--)
        schema_add(&rev, s.f[i].name, s.f[i].type);
    assert_int_equal(rec_validate(&rev, b.p), 0);
    for (int i = 0; i < s.n; i++) {
        uint32_t la, lb;
        const uint8_t *ka = rec_key(&s, a.p, i, &la);
        const uint8_t *kb = rec_key(&rev, b.p, s.n - 1 - i, &lb);
        assert_int_equal(la, lb);
        if (la)
            assert_memory_equal(ka, kb, la);
    }
    schema_fini(&rev);
    recbuf_fini(&a);
    recbuf_fini(&b);
    schema_fini(&s);
}

static void test_rec_validate(void **state)
{
    (void)state;
    schema s;
    mixed_schema(&s);
    recbuf b;
    recbuf_init(&b);
    build_mixed(&b, "hello", 1, 2.0, 1, 3, "tag");
    uint32_t body = rd_u32(b.p);
    assert_int_equal(rec_validate(&s, b.p), 0);

    /* Work on a copy with room to spare, so that a too-large length
     * prefix cannot make the validator read outside the buffer. */
    uint8_t *r = calloc(1, b.len + 64);
    memcpy(r, b.p, b.len);

    /* Truncated by any amount: every prefix of the body is invalid. */
    for (uint32_t cut = 1; cut <= body; cut++) {
        uint32_t t = body - cut;
        memcpy(r, &t, 4);
        if (rec_validate(&s, r) != -1)
            fail_msg("record truncated to %u of %u body bytes passed", t, body);
    }
    /* Trailing garbage after the last field. */
    for (uint32_t extra = 1; extra <= 8; extra++) {
        uint32_t t = body + extra;
        memcpy(r, &t, 4);
        assert_int_equal(rec_validate(&s, r), -1);
    }
    memcpy(r, &body, 4);
    assert_int_equal(rec_validate(&s, r), 0);

    /* Corrupt string lengths: first and last string. */
    uint32_t bad[] = {6, 100, 0x7fffffffu, 0xffffffffu, 0xfffffffcu};
    size_t off0 = (size_t)(rec_field(&s, b.p, 0) - b.p);
    size_t off5 = (size_t)(rec_field(&s, b.p, 5) - b.p);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(r, b.p, b.len);
        memcpy(r + off0, &bad[i], 4);
        if (rec_validate(&s, r) != -1)
            fail_msg("first string length %u passed", bad[i]);
        memcpy(r, b.p, b.len);
        memcpy(r + off5, &bad[i], 4);
        if (rec_validate(&s, r) != -1)
            fail_msg("last string length %u passed", bad[i]);
    }
    /* A shorter string length leaves bytes over (or misaligns fields). */
    memcpy(r, b.p, b.len);
    uint32_t shorter = 4;
    memcpy(r + off0, &shorter, 4);
    assert_int_equal(rec_validate(&s, r), -1);

    /* Empty body for a non-empty schema; empty schema with empty body. */
    uint32_t zero = 0;
    memcpy(r, &zero, 4);
    assert_int_equal(rec_validate(&s, r), -1);
    schema none;
    schema_init(&none);
    assert_int_equal(rec_validate(&none, r), 0);
    uint32_t one = 1;
    memcpy(r, &one, 4);
    assert_int_equal(rec_validate(&none, r), -1);

    /* Only-fixed schema: exact size required. */
    schema fixed;
    schema_init(&fixed);
    schema_add(&fixed, "a", FT_I64);
    schema_add(&fixed, "b", FT_BOOL);
    uint32_t lens[] = {0, 1, 8, 10, 100};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memcpy(r, &lens[i], 4);
        assert_int_equal(rec_validate(&fixed, r), -1);
    }
    uint32_t nine = 9;
    memcpy(r, &nine, 4);
    assert_int_equal(rec_validate(&fixed, r), 0);

    schema_fini(&fixed);
    free(r);
    recbuf_fini(&b);
    schema_fini(&s);
}

/* ------------------------------------------------------------- batches */

static void test_batch_append_until_full(void **state)
{
    (void)state;
    assert_int_equal(BATCH_HDR_SIZE, 16);
    schema s;
    schema_init(&s);
    schema_add(&s, "w", FT_STRING);
    schema_add(&s, "n", FT_I64);
    recbuf b;
    recbuf_init(&b);

    for (size_t cap = 64; cap <= 1024; cap += 37) {
        uint8_t *seg = malloc(cap);
        batch_reset(seg, BATCH_DATA);
        assert_null(batch_first(seg));
        uint32_t appended = 0, used = 0;
        for (uint32_t i = 0;; i++) {
            char w[32];
            int wl = snprintf(w, sizeof w, "w%u", (unsigned)(i * 7919u % 1000u));
            recbuf_begin(&b);
            recbuf_str(&b, w, (uint32_t)wl);
            recbuf_i64(&b, (int64_t)i);
            recbuf_end(&b);
            int fits = BATCH_HDR_SIZE + used + b.len <= cap;
            int rc = batch_append(seg, cap, b.p, b.len);
            if (!fits) {
                assert_int_equal(rc, -1);
                /* A failed append leaves the batch alone. */
                assert_int_equal(batch_header(seg)->count, appended);
                assert_int_equal(batch_header(seg)->used, used);
                break;
            }
            assert_int_equal(rc, 0);
            appended++;
            used += b.len;
            assert_int_equal(batch_header(seg)->count, appended);
            assert_int_equal(batch_header(seg)->used, used);
        }
        assert_int_equal(batch_wire_size(seg), BATCH_HDR_SIZE + used);

        /* Iteration sees exactly the appended records, in order. */
        uint32_t n = 0;
        for (const uint8_t *r = batch_first(seg); r; r = batch_next(seg, r)) {
            assert_int_equal(rec_validate(&s, r), 0);
            assert_true(rd_i64(rec_field(&s, r, 1)) == (int64_t)n);
            n++;
        }
        assert_int_equal(n, batch_header(seg)->count);
        free(seg);
    }

    /* Exact fit: header + k records == cap succeeds, one byte less fails. */
    recbuf_begin(&b);
    recbuf_str(&b, "abcd", 4);
    recbuf_i64(&b, 1);
    recbuf_end(&b); /* 20 bytes */
    assert_int_equal(b.len, 20);
    size_t cap = BATCH_HDR_SIZE + 3 * 20;
    uint8_t *seg = malloc(cap);
    batch_reset(seg, BATCH_DATA);
    for (int i = 0; i < 3; i++)
        assert_int_equal(batch_append(seg, cap, b.p, b.len), 0);
    assert_int_equal(batch_append(seg, cap, b.p, b.len), -1);
    assert_int_equal(batch_header(seg)->count, 3);
    batch_reset(seg, BATCH_DATA);
    for (int i = 0; i < 2; i++)
        assert_int_equal(batch_append(seg, cap - 1, b.p, b.len), 0);
    assert_int_equal(batch_append(seg, cap - 1, b.p, b.len), -1);
    /* A smaller record can still fit after a bigger one did not. */
    recbuf_begin(&b);
    recbuf_str(&b, "", 0);
    recbuf_i64(&b, 2);
    recbuf_end(&b); /* 16 bytes */
    assert_int_equal(batch_append(seg, cap - 1, b.p, b.len), 0);
    assert_int_equal(batch_header(seg)->count, 3);
    assert_int_equal(batch_header(seg)->used, 56);

    /* A record larger than an empty batch never fits. */
    batch_reset(seg, BATCH_END);
    assert_int_equal(batch_header(seg)->kind, BATCH_END);
    assert_int_equal(batch_append(seg, BATCH_HDR_SIZE + 15, b.p, b.len), -1);
    assert_int_equal(batch_header(seg)->count, 0);
    assert_null(batch_first(seg));
    free(seg);
    recbuf_fini(&b);
    schema_fini(&s);
}

/* ------------------------------------------------------------ formatting */

static void test_field_format_fixed(void **state)
{
    (void)state;
    char buf[64];
    uint8_t raw[8];
    int64_t iv[] = {0, -1, 42, INT64_MAX, INT64_MIN};
    const char *is[] = {"0", "-1", "42", "9223372036854775807", "-9223372036854775808"};
    for (int i = 0; i < 5; i++) {
        memcpy(raw, &iv[i], 8);
        assert_string_equal(fmt_field(FT_I64, raw, buf, sizeof buf), is[i]);
    }
    uint8_t t = 1, f = 0, other = 7;
    assert_string_equal(fmt_field(FT_BOOL, &t, buf, sizeof buf), "true");
    assert_string_equal(fmt_field(FT_BOOL, &f, buf, sizeof buf), "false");
    assert_string_equal(fmt_field(FT_BOOL, &other, buf, sizeof buf), "true");

    /* Strings are copied without a terminator and without quoting. */
    uint8_t sraw[4 + 7];
    uint32_t sl = 7;
    memcpy(sraw, &sl, 4);
    memcpy(sraw + 4, "a,b\"c d", 7);
    assert_string_equal(fmt_field(FT_STRING, sraw, buf, sizeof buf), "a,b\"c d");

    /* Too small: the size needed comes back. */
    int64_t big = INT64_MIN;
    memcpy(raw, &big, 8);
    char small[4];
    assert_int_equal(field_format(FT_I64, raw, small, sizeof small), 20);
    assert_int_equal(field_format(FT_STRING, sraw, small, sizeof small), 7);
    int64_t ms = 0;
    memcpy(raw, &ms, 8);
    assert_int_equal(field_format(FT_TIMESTAMP, raw, small, sizeof small), 23);
}

static void test_field_format_f64_round_trip(void **state)
{
    (void)state;
    char buf[64];
    struct { double v; const char *s; } cases[] = {
        {0.0, "0"},        {-0.0, "-0"},       {1.0, "1"},    {0.5, "0.5"},
        {0.1, "0.1"},      {-2.25, "-2.25"},   {1e21, "1e+21"}, {1e-7, "1e-07"},
        {123456789012345.0, "123456789012345"}, {0.1 + 0.2, "0.30000000000000004"},
        {1e300, "1e+300"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(fmt_f64(cases[i].v, buf, sizeof buf), cases[i].s);

    /* Every finite double reads back exactly. */
    for (int i = 0; i < 200000; i++) {
        uint64_t bits = rnd();
        double v;
        memcpy(&v, &bits, 8);
        if (v != v || v - v != 0) /* NaN or infinity */
            continue;
        fmt_f64(v, buf, sizeof buf);
        char *end;
        double back = strtod(buf, &end);
        if (*end || memcmp(&back, &v, 8) != 0)
            fail_msg("%.17g printed as '%s' reads back as %.17g", v, buf, back);
    }
    for (int i = 0; i < 100000; i++) {
        double v = (double)(rnd() >> 11) / 9007199254740992.0 * 1000.0;
        fmt_f64(v, buf, sizeof buf);
        assert_true(strtod(buf, NULL) == v);
    }
}

/* Shortest %g spelling that reads back as v. */
static void shortest_g(double v, char *buf, size_t n)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* The output is the shortest %g form that round-trips. Values whose
 * shortest form has 16 significant digits, and subnormals, are the hard
 * cases for a "%.15g, else %.17g" strategy. */
static void test_field_format_f64_shortest(void **state)
{
    (void)state;
    char buf[64], want[64];
    double hard[] = {0.1 + 0.7, 1.0 / 3.0, 5e-324, 9007199254740992.0, 0.3 - 0.1};
    int bad = 0;
    for (size_t i = 0; i < sizeof hard / sizeof hard[0]; i++) {
        fmt_f64(hard[i], buf, sizeof buf);
        shortest_g(hard[i], want, sizeof want);
        if (strcmp(buf, want) != 0) {
            print_message("f64 %.17g: field_format gives '%s', shortest is '%s'\n", hard[i], buf,
                          want);
            bad++;
        }
    }
    int nrand = 0;
    for (int i = 0; i < 20000; i++) {
        double v = (double)(rnd() >> 11) / 9007199254740992.0;
        fmt_f64(v, buf, sizeof buf);
        shortest_g(v, want, sizeof want);
        nrand += strcmp(buf, want) != 0;
    }
    if (nrand)
        print_message("%d of 20000 random doubles in [0,1) are not printed shortest\n", nrand);
    assert_int_equal(bad + nrand, 0);
}

static void test_format_timestamp(void **state)
{
    (void)state;
    char buf[64];
    struct { int64_t ms; const char *s; } cases[] = {
        {0, "1970-01-01 00:00:00.000"},
        {1, "1970-01-01 00:00:00.001"},
        {INT64_C(1700000000123), "2023-11-14 22:13:20.123"},
        {INT64_C(951782400000), "2000-02-29 00:00:00.000"},
        {INT64_C(4102444799999), "2099-12-31 23:59:59.999"},
        {-1, "1969-12-31 23:59:59.999"},
        {-999, "1969-12-31 23:59:59.001"},
        {-1000, "1969-12-31 23:59:59.000"},
        {-1001, "1969-12-31 23:59:58.999"},
        {INT64_C(-86400000), "1969-12-31 00:00:00.000"},
        {INT64_C(-2208988800000), "1900-01-01 00:00:00.000"},
    };
    uint8_t raw[8];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(format_timestamp(cases[i].ms, buf, sizeof buf), 23);
        assert_string_equal(buf, cases[i].s);
        memcpy(raw, &cases[i].ms, 8);
        assert_string_equal(fmt_field(FT_TIMESTAMP, raw, buf, sizeof buf), cases[i].s);
    }
}

/* ------------------------------------------------------------ timestamps */

static void test_parse_timestamp_forms(void **state)
{
    (void)state;
    const int64_t T = INT64_C(1700000000123); /* 2023-11-14 22:13:20.123 UTC */
    assert_true(ts_ok("2023-11-14T22:13:20.123Z") == T);
    assert_true(ts_ok("2023-11-14T22:13:20.123") == T);
    assert_true(ts_ok("2023-11-14 22:13:20.123") == T);
    assert_true(ts_ok("2023-11-14 22:13:20.123Z") == T);
    assert_true(ts_ok("2023-11-14T22:13:20") == T - 123);
    assert_true(ts_ok("2023-11-14T22:13:20Z") == T - 123);
    assert_true(ts_ok("2023-11-14T22:13") == T - 20123);
    assert_true(ts_ok("2023-11-14T22:13Z") == T - 20123);
    assert_true(ts_ok("2023-11-14") == INT64_C(1699920000000));
    /* Fractions: tenths, hundredths, beyond milliseconds truncated. */
    assert_true(ts_ok("2023-11-14T22:13:20.1") == T - 23);
    assert_true(ts_ok("2023-11-14T22:13:20.12") == T - 3);
    assert_true(ts_ok("2023-11-14T22:13:20.123999") == T);
    assert_true(ts_ok("2023-11-14T22:13:20.000000001Z") == T - 123);
    /* Integers are milliseconds. */
    assert_true(ts_ok("0") == 0);
    assert_true(ts_ok("1700000000123") == T);
    assert_true(ts_ok("-5") == -5);
    assert_true(ts_ok("007") == 7);
    assert_true(ts_ok("9223372036854775807") == INT64_MAX);
    assert_true(ts_ok("-9223372036854775808") == INT64_MIN);
    /* Leap-year arithmetic. */
    assert_true(ts_ok("2000-02-29") == INT64_C(951782400000));
    assert_true(ts_ok("2000-03-01") - ts_ok("2000-02-28") == 2 * INT64_C(86400000));
    assert_true(ts_ok("1900-03-01") - ts_ok("1900-02-28") == INT64_C(86400000));
    assert_true(ts_ok("2099-12-31T23:59:59.999") == INT64_C(4102444799999));
    /* Only the first n bytes count. */
    int64_t ms = 0;
    assert_int_equal(parse_ts_exact("2023-11-14T22:13:20.123Zjunk", 24, &ms), 0);
    assert_true(ms == T);
    assert_int_equal(parse_ts_exact("12345678", 3, &ms), 0);
    assert_true(ms == 123);
}

static void test_parse_timestamp_pre_1970(void **state)
{
    (void)state;
    assert_true(ts_ok("1969-12-31T23:59:59.999Z") == -1);
    assert_true(ts_ok("1969-12-31 23:59:59") == -1000);
    assert_true(ts_ok("1969-12-31") == INT64_C(-86400000));
    assert_true(ts_ok("1900-01-01T00:00:00Z") == INT64_C(-2208988800000));
    assert_true(ts_ok("1600-03-01") == INT64_C(-11670912000000));
    assert_true(ts_ok("0001-01-01") == INT64_C(-62135596800000));
    assert_true(ts_ok("0000-03-01") == INT64_C(-62162035200000));

    /* format -> parse is the identity, before and after the epoch. */
    char buf[64];
    for (int i = 0; i < 100000; i++) {
        /* Years 1 .. 9999: about +-2.5e14 ms around the epoch. */
        int64_t ms = (int64_t)(rnd() % UINT64_C(315537897600000)) - INT64_C(62135596800000);
        size_t w = format_timestamp(ms, buf, sizeof buf);
        int64_t back = 0;
        if (parse_ts_exact(buf, w, &back) != 0 || back != ms)
            fail_msg("%" PRId64 " formats as '%s', parses as %" PRId64, ms, buf, back);
    }
}

static void test_parse_timestamp_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "", "-", "+5", "abc", "1e5", "12a", "12 ", " 12", "--1",
        "2023-", "2023-11", "2023-11-1", "2023/11/14", "2023-1-14", "20231114T",
        "2023-13-01", "2023-00-10", "2023-11-00", "2023-11-32",
        "2023-11-14T", "2023-11-14T2", "2023-11-14T22", "2023-11-14T22:",
        "2023-11-14T22:1", "2023-11-14T2:13", "2023-11-14X22:13", "2023-11-14_22:13",
        "2023-11-14T24:00:00", "2023-11-14T22:60", "2023-11-14T22:13:61",
        "2023-11-14T22:13:2", "2023-11-14T22:13:20+01:00", "2023-11-14T22:13:20 ",
        "2023-11-14T22:13:20ZZ", "2023-11-14T22:13:20.123X", "2023-11-14Z",
        "2023-11-14 ", "x023-11-14", "2023-11-14T22:13:20.12.3",
        "123456789012345678901234567890123", /* too long for an integer */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ts_bad(bad[i]);
    int64_t ms = 5;
    assert_int_equal(parse_timestamp("", 0, &ms), -1);
    assert_int_equal(parse_timestamp("2023-11-14", 9, &ms), -1);
    assert_int_equal(ms, 5);
}

/* Dates that do not exist, and integers that do not fit, are errors
 * rather than silently becoming another instant. */
static void test_parse_timestamp_strict(void **state)
{
    (void)state;
    int failures = 0;
    const char *bad[] = {"2023-02-29", "2023-02-30", "2024-02-30", "2023-04-31",
                         "2023-06-31T10:00:00", "1900-02-29",
                         "99999999999999999999", "-99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 12345;
        if (parse_ts(bad[i], &ms) == 0) {
            print_message("parse_timestamp(\"%s\") accepted it as %" PRId64 "\n", bad[i], ms);
            failures++;
        }
    }
    assert_true(ts_ok("2024-02-29") == INT64_C(1709164800000));
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------ key groups */

static void check_ranges(int maxp, int p)
{
    int next = 0;
    for (int s = 0; s < p; s++) {
        keygroup_range r = keygroup_range_of(s, maxp, p);
        if (r.end < r.start)
            continue; /* empty: only possible when p > maxp */
        if (r.start != next)
            fail_msg("maxp %d p %d: subtask %d starts at %d, expected %d", maxp, p, s, r.start,
                     next);
        for (int kg = r.start; kg <= r.end; kg++)
            if (keygroup_subtask(kg, maxp, p) != s)
                fail_msg("maxp %d p %d: kg %d in range of %d but owned by %d", maxp, p, kg, s,
                         keygroup_subtask(kg, maxp, p));
        next = r.end + 1;
    }
    if (next != maxp)
        fail_msg("maxp %d p %d: ranges cover [0,%d) only", maxp, p, next);
}

static void test_keygroup_ranges(void **state)
{
    (void)state;
    int maxps[] = {1, 7, 128, 32768};
    for (size_t m = 0; m < sizeof maxps / sizeof maxps[0]; m++) {
        int maxp = maxps[m];
        int pmax = maxp < 64 ? maxp : 64;
        for (int p = 1; p <= pmax; p++) {
            /* Every key group has an owner in [0, p). */
            for (int kg = 0; kg < maxp; kg++) {
                int s = keygroup_subtask(kg, maxp, p);
                if (s < 0 || s >= p)
                    fail_msg("maxp %d p %d: kg %d -> subtask %d", maxp, p, kg, s);
            }
            check_ranges(maxp, p);
            /* Ranges are balanced: sizes differ by at most one. */
            int lo = maxp, hi = 0;
            for (int s = 0; s < p; s++) {
                keygroup_range r = keygroup_range_of(s, maxp, p);
                int n = r.end - r.start + 1;
                lo = n < lo ? n : lo;
                hi = n > hi ? n : hi;
            }
            assert_true(hi - lo <= 1);
        }
    }
    /* More subtasks than key groups: the extra ones own nothing. */
    check_ranges(1, 2);
    check_ranges(7, 10);
    check_ranges(7, 64);
    /* The largest sizes the planner allows. */
    check_ranges(32768, 32768);
    check_ranges(32768, 32767);
}

static void test_keygroup_of_spread(void **state)
{
    (void)state;
    int maxps[] = {1, 7, 128, 32768};
    for (size_t m = 0; m < sizeof maxps / sizeof maxps[0]; m++) {
        assert_int_equal(keygroup_of(0, maxps[m]), 0);
        assert_int_equal(keygroup_of(UINT64_MAX, maxps[m]), maxps[m] - 1);
        for (int i = 0; i < 100000; i++) {
            int kg = keygroup_of(rnd(), maxps[m]);
            if (kg < 0 || kg >= maxps[m])
                fail_msg("keygroup_of out of [0,%d): %d", maxps[m], kg);
        }
    }

    /* 1e6 random 8-byte keys and 1e6 "key-N" strings over 128 groups. The
     * chi-square statistic has 127 degrees of freedom (mean 127, sd 16);
     * 250 is more than seven standard deviations out. */
    enum { G = 128, N = 1000000 };
    static long counts[G];
    for (int round = 0; round < 2; round++) {
        memset(counts, 0, sizeof counts);
        for (int i = 0; i < N; i++) {
            uint64_t h;
            if (round == 0) {
                uint64_t k = rnd();
                h = key_hash(&k, sizeof k);
            } else {
                char k[32];
                int n = snprintf(k, sizeof k, "key-%d", i);
                h = key_hash(k, (uint32_t)n);
            }
            counts[keygroup_of(h, G)]++;
        }
        double expect = (double)N / G, chi2 = 0;
        for (int g = 0; g < G; g++) {
            double d = (double)counts[g] - expect;
            chi2 += d * d / expect;
        }
        if (chi2 > 250.0)
            fail_msg("round %d: chi-square %.1f over %d groups", round, chi2, G);
    }
    assert_true(key_hash("abc", 3) == key_hash("abc", 3));
    assert_true(key_hash("abc", 3) != key_hash("abd", 3));
}

/* ------------------------------------------------------------ segpool */

static void test_segpool_counts(void **state)
{
    (void)state;
    segpool_init(1024);
    assert_int_equal(segpool_segment_size(), 1024);
    segpool_stats base = segpool_get_stats();
    assert_int_equal(base.segment_size, 1024);

    enum { K = 10 };
    uint8_t *segs[K];
    for (int i = 0; i < K; i++) {
        segs[i] = segpool_get();
        assert_non_null(segs[i]);
        /* Fresh DATA header, and the whole segment is usable. */
        assert_int_equal(batch_header(segs[i])->kind, BATCH_DATA);
        assert_int_equal(batch_header(segs[i])->count, 0);
        assert_int_equal(batch_header(segs[i])->used, 0);
        memset(segs[i], 0xab, 1024);
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(segs[i], segs[j]);
    }
    segpool_stats st = segpool_get_stats();
    assert_int_equal(st.in_use, base.in_use + K);
    assert_int_equal(st.peak_in_use, base.in_use + K > base.peak_in_use ? base.in_use + K
                                                                        : base.peak_in_use);
    assert_int_equal(st.allocated, base.allocated + K);

    for (int i = 0; i < 5; i++)
        segpool_put(segs[i]);
    segpool_put(NULL); /* no-op */
    st = segpool_get_stats();
    assert_int_equal(st.in_use, base.in_use + K - 5);
    assert_int_equal(st.peak_in_use, base.in_use + K);

    /* Reuse comes from the free list (no new allocation), reset. */
    for (int i = 0; i < 3; i++) {
        segs[i] = segpool_get();
        assert_int_equal(batch_header(segs[i])->count, 0);
        assert_int_equal(batch_header(segs[i])->used, 0);
        assert_int_equal(batch_header(segs[i])->kind, BATCH_DATA);
    }
    st = segpool_get_stats();
    assert_int_equal(st.in_use, base.in_use + K - 2);
    assert_int_equal(st.allocated, base.allocated + K);
    assert_int_equal(st.peak_in_use, base.in_use + K);

    /* Over the old peak. */
    uint8_t *more[4];
    for (int i = 0; i < 4; i++)
        more[i] = segpool_get();
    st = segpool_get_stats();
    assert_int_equal(st.in_use, base.in_use + K + 2);
    assert_int_equal(st.peak_in_use, base.in_use + K + 2);
    assert_int_equal(st.allocated, base.allocated + K + 2);

    for (int i = 0; i < 4; i++)
        segpool_put(more[i]);
    for (int i = 0; i < 3; i++)
        segpool_put(segs[i]);
    for (int i = 5; i < K; i++)
        segpool_put(segs[i]);
    st = segpool_get_stats();
    assert_int_equal(st.in_use, base.in_use);
    assert_int_equal(st.peak_in_use, base.in_use + K + 2);
    segpool_fini();
}

/* segpool_init with another segment size must not hand out segments of
 * the old size that were left on the free list. */
static void test_segpool_reinit_size(void **state)
{
    (void)state;
    segpool_init(256);
    uint8_t *a = segpool_get();
    segpool_put(a); /* now on the free list */
    segpool_init(8192);
    uint8_t *b = segpool_get();
    size_t usable = malloc_usable_size(b);
    segpool_put(b);
    segpool_fini();
    if (usable < 8192)
        fail_msg("segment_size 8192 after re-init, but segpool_get returned a block of %zu "
                 "bytes (a stale 256-byte segment from the free list)",
                 usable);
}

/* ---- 64-bit buffer sizes ----
 * The buffers are faked: a small allocation whose len and cap are set
 * near the limit, so growing it reallocates to 4 GiB of address space
 * (lazily mapped), of which the test touches a page or two. */

/* Capacity was 32-bit: doubling 2^31 gave 0 and recbuf_reserve looped
 * forever (this test hung before the fix). */
static void test_recbuf_grows_past_2gib(void **state)
{
    (void)state;
    recbuf b;
    recbuf_init(&b);
    b.len = 0x7ffffffcu; /* a full buffer of 2 GiB (capacities are powers of two) */
    b.cap = 0x80000000u;
    recbuf_i64(&b, 0x1122334455667788);
    recbuf_str(&b, "hello", 5);
    assert_true(b.len == (size_t)0x7ffffffcu + 8 + 4 + 5);
    assert_true(b.cap >= b.len);
    int64_t v;
    memcpy(&v, b.p + 0x7ffffffcu, 8);
    assert_true(v == 0x1122334455667788);
    assert_memory_equal(b.p + 0x80000004u + 4, "hello", 5);
    recbuf_fini(&b);
}

/* A snapshot buffer past 2 GiB: kgbuf_put computed (len + n) * 2 + 64 in
 * 32 bits, which wrapped to a tiny capacity and the copy overflowed the
 * heap (crashed before the fix). */
static void test_kgbuf_put_past_2gib(void **state)
{
    (void)state;
    recbuf b = {0};
    kgbuf_put(&b, "k", 1);
    b.len = 0x7ffffffcu;
    b.cap = 0x80000000u;
    kgbuf_i64(&b, 42); /* crosses 2 GiB */
    kgbuf_put(&b, "0123456789abcdef", 16);
    assert_true(b.len == (size_t)0x7ffffffcu + 24);
    assert_true(b.cap >= b.len);
    int64_t v;
    memcpy(&v, b.p + 0x7ffffffcu, 8);
    assert_true(v == 42);
    assert_memory_equal(b.p + 0x80000004u, "0123456789abcdef", 16);
    free(b.p);
}

static void end_huge_record(void)
{
    recbuf b;
    recbuf_init(&b);
    b.len = (size_t)UINT32_MAX + 8; /* a record body over 4 GiB */
    recbuf_end(&b);
}

/* A record's length prefix is 32-bit: one over 4 GiB is a fatal error
 * naming the limit, not a wrapped length. */
static void test_recbuf_end_refuses_4gib(void **state)
{
    (void)state;
    expect_fatal(end_huge_record, "a record of 4294967303 bytes is past the record format's "
                                  "limit of 4 GiB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recbuf_all_types),
        cmocka_unit_test(test_recbuf_grows_and_reuses),
        cmocka_unit_test(test_raw_field_copy),
        cmocka_unit_test(test_rec_validate),
        cmocka_unit_test(test_batch_append_until_full),
        cmocka_unit_test(test_field_format_fixed),
        cmocka_unit_test(test_field_format_f64_round_trip),
        cmocka_unit_test(test_field_format_f64_shortest),
        cmocka_unit_test(test_format_timestamp),
        cmocka_unit_test(test_parse_timestamp_forms),
        cmocka_unit_test(test_parse_timestamp_pre_1970),
        cmocka_unit_test(test_parse_timestamp_invalid),
        cmocka_unit_test(test_parse_timestamp_strict),
        cmocka_unit_test(test_keygroup_ranges),
        cmocka_unit_test(test_keygroup_of_spread),
        cmocka_unit_test(test_segpool_counts),
        cmocka_unit_test(test_segpool_reinit_size),
        cmocka_unit_test(test_recbuf_grows_past_2gib),
        cmocka_unit_test(test_kgbuf_put_past_2gib),
        cmocka_unit_test(test_recbuf_end_refuses_4gib),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
