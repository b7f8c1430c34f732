/* Unit tests for conf/props: Flink-compatible duration and size parsing
 * and formatting, the property table, typed set/get, error messages
 * (unknown keys with suggestions, range and enum errors, YAML positions),
 * the precedence of file < job config: < -D, loading YAML files,
 * serialisation round trips, conf_dup and the generated documentation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conf/props.h"
#include "conf/yamldoc.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

/* ------------------------------------------------------------- helpers */

static int64_t dur(const char *s)
{
    int64_t v = -42;
    assert_int_equal(parse_duration_ns(s, &v), 0);
    return v;
}

static int64_t size(const char *s)
{
    int64_t v = -42;
    assert_int_equal(parse_size_bytes(s, &v), 0);
    return v;
}

/* Write text to a fresh temp file; path must hold a mkstemp template. */
static void write_temp(char *path, const char *text)
{
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static ydoc *parse(const char *text)
{
    mpf_err e;
    ydoc *d = ydoc_parse("c.yaml", text, strlen(text), &e);
    if (!d)
        fail_msg("%s", e.msg);
    return d;
}

/* Apply a YAML text to c and return the result code; e gets the message. */
static int apply_text(conf *c, const char *text, mpf_err *e)
{
    ydoc *d = parse(text);
    err_clear(e);
    int rc = conf_apply_yaml(c, d->root, e);
    ydoc_destroy(d);
    return rc;
}

/* ------------------------------------------------------------- units */

static void test_duration_valid(void **state)
{
    (void)state;
    assert_true(dur("100") == 100 * MS); /* bare number is ms */
    assert_true(dur("100ms") == 100 * MS);
    assert_true(dur("100 ms") == 100 * MS);
    assert_true(dur("  100 \t ms \n") == 100 * MS);
    assert_true(dur("100MS") == 100 * MS);
    assert_true(dur("1 milli") == MS);
    assert_true(dur("3 millis") == 3 * MS);
    assert_true(dur("3 milliseconds") == 3 * MS);
    assert_true(dur("10ns") == 10);
    assert_true(dur("10 nanos") == 10);
    assert_true(dur("7us") == 7000);
    assert_true(dur("7\xc2\xb5s") == 7000); /* µs */
    assert_true(dur("7 micros") == 7000);
    assert_true(dur("5s") == 5 * SEC);
    assert_true(dur("5 sec") == 5 * SEC);
    assert_true(dur("5 Secs") == 5 * SEC);
    assert_true(dur("5 second") == 5 * SEC);
    assert_true(dur("5 seconds") == 5 * SEC);
    assert_true(dur("2min") == 120 * SEC);
    assert_true(dur("2m") == 120 * SEC);
    assert_true(dur("2 minute") == 120 * SEC);
    assert_true(dur("2 MINUTES") == 120 * SEC);
    assert_true(dur("1h") == 3600 * SEC);
    assert_true(dur("1 hour") == 3600 * SEC);
    assert_true(dur("2 hours") == 7200 * SEC);
    assert_true(dur("1d") == 86400 * SEC);
    assert_true(dur("1 day") == 86400 * SEC);
    assert_true(dur("3 days") == 3 * 86400 * SEC);
    assert_true(dur("0") == 0);
    assert_true(dur("007s") == 7 * SEC);
    assert_true(dur("106751 d") == INT64_C(106751) * 86400 * SEC);
    assert_true(dur("9223372036854775807 ns") == INT64_MAX);
}

static void test_duration_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"", "   ", "ms", "-1ms", "-1", "+5s", "1.5s",
                         "10 parsecs", "5 m s", "5mins", "s5", "1_000ms",
                         "0x10", "5 ms ms"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 123;
        assert_int_equal(parse_duration_ns(bad[i], &v), MPF_ECONFIG);
        assert_true(v == 123);
    }
    int64_t v;
    assert_int_equal(parse_duration_ns(NULL, &v), MPF_ECONFIG);
    /* overflow: of the number itself and of the product with the unit */
    assert_int_equal(parse_duration_ns("9223372036854775808ns", &v),
                     MPF_ECONFIG);
    assert_int_equal(parse_duration_ns("99999999999999999999999", &v),
                     MPF_ECONFIG);
    assert_int_equal(parse_duration_ns("9223372036854775807", &v),
                     MPF_ECONFIG); /* ms */
    assert_int_equal(parse_duration_ns("106752 d", &v), MPF_ECONFIG);
}

static void test_size_valid(void **state)
{
    (void)state;
    assert_true(size("32kb") == 32768);
    assert_true(size("32 KB") == 32768);
    assert_true(size("32 k") == 32768);
    assert_true(size("2 kibibytes") == 2048);
    assert_true(size("5") == 5);
    assert_true(size("5b") == 5);
    assert_true(size("5 bytes") == 5);
    assert_true(size("1m") == 1048576);
    assert_true(size("64 MB") == 64 * 1048576);
    assert_true(size("1 mebibytes") == 1048576);
    assert_true(size("2g") == INT64_C(2) << 30);
    assert_true(size("2 gb") == INT64_C(2) << 30);
    assert_true(size("1 gibibytes") == INT64_C(1) << 30);
    assert_true(size("1t") == INT64_C(1) << 40);
    assert_true(size("3 TB") == INT64_C(3) << 40);
    assert_true(size("1 tebibytes") == INT64_C(1) << 40);
    assert_true(size(" 0 ") == 0);
    assert_true(size("8388607 tb") == INT64_C(8388607) << 40);
}

static void test_size_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"", "kb", "-1", "-1kb", "1.5kb", "10 kib", "10 KiB",
                         "1 pb", "1 byte", "+1", "1 k b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 123;
        assert_int_equal(parse_size_bytes(bad[i], &v), MPF_ECONFIG);
        assert_true(v == 123);
    }
    int64_t v;
    assert_int_equal(parse_size_bytes("8388608 tb", &v), MPF_ECONFIG);
    assert_int_equal(parse_size_bytes("9223372036854775808", &v),
                     MPF_ECONFIG);
    assert_int_equal(parse_size_bytes("9007199254740992 kb", &v),
                     MPF_ECONFIG);
    assert_int_equal(parse_size_bytes("9223372036854775807", &v), 0);
    assert_true(v == INT64_MAX);
}

static void test_format(void **state)
{
    (void)state;
    char b[64];
    format_duration(100 * MS, b, sizeof b);
    assert_string_equal(b, "100 ms");
    format_duration(0, b, sizeof b);
    assert_string_equal(b, "0 ms");
    format_duration(1500 * MS, b, sizeof b);
    assert_string_equal(b, "1500 ms");
    format_duration(90 * SEC, b, sizeof b);
    assert_string_equal(b, "90 s");
    format_duration(120 * SEC, b, sizeof b);
    assert_string_equal(b, "2 min");
    format_duration(3600 * SEC, b, sizeof b);
    assert_string_equal(b, "1 h");
    format_duration(2 * 86400 * SEC, b, sizeof b);
    assert_string_equal(b, "2 d");
    format_duration(1, b, sizeof b);
    assert_string_equal(b, "1 ns");
    format_duration(7000, b, sizeof b);
    assert_string_equal(b, "7 us");

    format_size(32768, b, sizeof b);
    assert_string_equal(b, "32 kb");
    format_size(0, b, sizeof b);
    assert_string_equal(b, "0 bytes");
    format_size(1000, b, sizeof b);
    assert_string_equal(b, "1000 bytes");
    format_size(1536 * 1024, b, sizeof b);
    assert_string_equal(b, "1536 kb");
    format_size(16 * 1048576, b, sizeof b);
    assert_string_equal(b, "16 mb");
    format_size(INT64_C(5) << 30, b, sizeof b);
    assert_string_equal(b, "5 gb");
    format_size(INT64_C(2) << 40, b, sizeof b);
    assert_string_equal(b, "2 tb");

    /* formatted text parses back to the same value */
    int64_t vals[] = {1, 999, 1000, 123456789, 60 * SEC, 86400 * SEC, 7000};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        int64_t v;
        format_duration(vals[i], b, sizeof b);
        assert_int_equal(parse_duration_ns(b, &v), 0);
        assert_true(v == vals[i]);
        format_size(vals[i], b, sizeof b);
        assert_int_equal(parse_size_bytes(b, &v), 0);
        assert_true(v == vals[i]);
    }
}

/* ------------------------------------------------------------- the table */

static void test_table_defaults(void **state)
{
    (void)state;
    conf *c = conf_new();
    size_t n = 0;
    for (const prop_def *p = conf_props; p->name; p++, n++) {
        assert_non_null(p->doc);
        assert_true(strlen(p->doc) > 10);
        assert_non_null(conf_text(c, (conf_key)n));
        assert_true(p->type != PROP_ENUM || p->enums);
        /* every default lies inside its own range */
        mpf_err e;
        assert_int_equal(conf_set(c, p->name, p->defval, "t", &e), 0);
    }
    assert_true(n >= 12); /* the table grows; the original keys are below */

    assert_int_equal(conf_int(c, CONF_PARALLELISM_DEFAULT), 0);
    assert_int_equal(conf_int(c, CONF_PIPELINE_MAX_PARALLELISM), 128);
    assert_string_equal(conf_str(c, CONF_PIPELINE_NAME), "");
    assert_int_equal(conf_int(c, CONF_TASKMANAGER_NUMBEROFTASKSLOTS), 1);
    assert_string_equal(conf_str(c, CONF_TASKMANAGER_CPU_BINDING), "core");
    assert_int_equal(conf_size(c, CONF_TASKMANAGER_MEMORY_SEGMENT_SIZE), 32768);
    assert_int_equal(
        conf_int(c, CONF_TASKMANAGER_NETWORK_MEMORY_BUFFERS_PER_CHANNEL), 2);
    assert_true(conf_duration_ns(c, CONF_EXECUTION_BUFFER_TIMEOUT) == 100 * MS);
    assert_string_equal(conf_str(c, CONF_EXECUTION_RUNTIME_MODE), "AUTOMATIC");
    assert_string_equal(conf_str(c, CONF_TABLE_OPTIMIZER_AGG_PHASE_STRATEGY),
                        "AUTO");
    assert_true(conf_duration_ns(c, CONF_TASKMANAGER_NETWORK_POLL_MAX_SLEEP) ==
                MS);
    assert_string_equal(conf_str(c, CONF_LOG_LEVEL), "info");

    assert_string_equal(conf_text(c, CONF_EXECUTION_BUFFER_TIMEOUT), "100 ms");
    assert_string_equal(conf_text(c, CONF_TASKMANAGER_MEMORY_SEGMENT_SIZE),
                        "32 kb");
    assert_string_equal(conf_text(c, CONF_PARALLELISM_DEFAULT), "0");
    assert_string_equal(conf_text(c, CONF_PIPELINE_NAME), "");
    conf_destroy(c);
}

static void test_set_get_each_type(void **state)
{
    (void)state;
    conf *c = conf_new();
    mpf_err e;

    /* INT */
    assert_int_equal(conf_set(c, "parallelism.default", " 8 ", "t", &e), 0);
    assert_int_equal(conf_int(c, CONF_PARALLELISM_DEFAULT), 8);
    assert_string_equal(conf_text(c, CONF_PARALLELISM_DEFAULT), "8");
    assert_int_equal(conf_set(c, "parallelism.default", "+9", "t", &e), 0);
    assert_int_equal(conf_int(c, CONF_PARALLELISM_DEFAULT), 9);
    /* DURATION */
    assert_int_equal(conf_set(c, "execution.buffer-timeout", "5000", "t", &e),
                     0);
    assert_true(conf_duration_ns(c, CONF_EXECUTION_BUFFER_TIMEOUT) == 5 * SEC);
    assert_string_equal(conf_text(c, CONF_EXECUTION_BUFFER_TIMEOUT), "5 s");
    assert_int_equal(conf_set(c, "execution.buffer-timeout", "0", "t", &e), 0);
    assert_true(conf_duration_ns(c, CONF_EXECUTION_BUFFER_TIMEOUT) == 0);
    assert_string_equal(conf_text(c, CONF_EXECUTION_BUFFER_TIMEOUT), "0 ms");
    /* SIZE */
    assert_int_equal(
        conf_set(c, "taskmanager.memory.segment-size", "64 MB", "t", &e),
        MPF_ECONFIG); /* above 16 mb */
    assert_int_equal(
        conf_set(c, "taskmanager.memory.segment-size", "1 MB", "t", &e), 0);
    assert_int_equal(conf_size(c, CONF_TASKMANAGER_MEMORY_SEGMENT_SIZE),
                     1048576);
    assert_string_equal(conf_text(c, CONF_TASKMANAGER_MEMORY_SEGMENT_SIZE),
                        "1 mb");
    assert_int_equal(
        conf_set(c, "taskmanager.memory.segment-size", "5000", "t", &e), 0);
    assert_string_equal(conf_text(c, CONF_TASKMANAGER_MEMORY_SEGMENT_SIZE),
                        "5000 bytes");
    /* STRING, kept verbatim */
    assert_int_equal(conf_set(c, "pipeline.name", " my job = 1 ", "t", &e),
                     0);
    assert_string_equal(conf_str(c, CONF_PIPELINE_NAME), " my job = 1 ");
    assert_string_equal(conf_text(c, CONF_PIPELINE_NAME), " my job = 1 ");
    assert_int_equal(conf_set(c, "pipeline.name", "a\nb", "t", &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg,
                        "t: key 'pipeline.name': value must not contain a "
                        "line break");
    /* ENUM: case-insensitive in, canonical out */
    assert_int_equal(conf_set(c, "execution.runtime-mode", "batch", "t", &e),
                     0);
    assert_string_equal(conf_str(c, CONF_EXECUTION_RUNTIME_MODE), "BATCH");
    assert_string_equal(conf_text(c, CONF_EXECUTION_RUNTIME_MODE), "BATCH");
    assert_int_equal(conf_set(c, "log.level", " WARN ", "t", &e), 0);
    assert_string_equal(conf_str(c, CONF_LOG_LEVEL), "warn");
    assert_int_equal(
        conf_set(c, "table.optimizer.agg-phase-strategy", "two_phase", "t",
                 &e),
        0);
    assert_string_equal(conf_str(c, CONF_TABLE_OPTIMIZER_AGG_PHASE_STRATEGY),
                        "TWO_PHASE");
    assert_int_equal(conf_set(c, "taskmanager.cpu-binding", "None", "t", &e),
                     0);
    assert_string_equal(conf_str(c, CONF_TASKMANAGER_CPU_BINDING), "none");
    conf_destroy(c);
}

static void test_unknown_key(void **state)
{
    (void)state;
    conf *c = conf_new();
    mpf_err e;
    assert_int_equal(
        conf_set(c, "taskmanager.numberOfTaskSlot", "2", "-D", &e),
        MPF_ECONFIG);
    assert_int_equal(e.code, MPF_ECONFIG);
    assert_string_equal(e.msg, "-D: unknown configuration key "
                               "'taskmanager.numberOfTaskSlot' (did you mean "
                               "'taskmanager.numberOfTaskSlots'?)");
    assert_int_equal(conf_set(c, "paralelism.default", "2", "job config", &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg, "job config: unknown configuration key "
                               "'paralelism.default' (did you mean "
                               "'parallelism.default'?)");
    assert_int_equal(conf_set(c, "completely.different", "2", "-D", &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg,
                        "-D: unknown configuration key 'completely.different'");
    /* keys are case-sensitive, as in Flink */
    assert_int_equal(
        conf_set(c, "taskmanager.numberoftaskslots", "2", "-D", &e),
        MPF_ECONFIG);
    assert_non_null(strstr(e.msg, "did you mean "
                                  "'taskmanager.numberOfTaskSlots'?"));
    conf_destroy(c);
}

static void test_value_errors(void **state)
{
    (void)state;
    conf *c = conf_new();
    mpf_err e;

    assert_int_equal(conf_set(c, "taskmanager.numberOfTaskSlots", "0", "-D",
                              &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg, "-D: key 'taskmanager.numberOfTaskSlots': "
                               "value 0 is out of range [1, 1024]");
    assert_int_equal(conf_set(c, "parallelism.default", "40000", "-D", &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg, "-D: key 'parallelism.default': value 40000 is "
                               "out of range [0, 32768]");
    assert_int_equal(conf_set(c, "parallelism.default", "four", "-D", &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg, "-D: key 'parallelism.default': expected an "
                               "integer, got 'four'");
    assert_int_equal(conf_set(c, "parallelism.default", "99999999999999999999",
                              "-D", &e),
                     MPF_ECONFIG);
    assert_int_equal(conf_set(c, "parallelism.default", "", "-D", &e),
                     MPF_ECONFIG);

    assert_int_equal(conf_set(c, "taskmanager.memory.segment-size", "1kb",
                              "-D", &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg, "-D: key 'taskmanager.memory.segment-size': "
                               "value 1 kb is out of range [4 kb, 16 mb]");
    assert_int_equal(conf_set(c, "execution.buffer-timeout", "2 h", "-D", &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg, "-D: key 'execution.buffer-timeout': value 2 h "
                               "is out of range [0 ms, 1 h]");
    assert_int_equal(conf_set(c, "execution.buffer-timeout", "10 parsecs",
                              "-D", &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg,
                        "-D: key 'execution.buffer-timeout': expected a "
                        "duration such as '100 ms' or '5 s' (units ns, us, "
                        "ms, s, min, h, d; a bare number is ms), got '10 "
                        "parsecs': unknown unit");
    assert_int_equal(conf_set(c, "execution.buffer-timeout", "-5ms", "-D",
                              &e),
                     MPF_ECONFIG);
    assert_non_null(strstr(e.msg, "must start with a non-negative whole "
                                  "number"));
    assert_int_equal(conf_set(c, "execution.buffer-timeout",
                              "99999999999999999999 d", "-D", &e),
                     MPF_ECONFIG);
    assert_non_null(strstr(e.msg, "numeric overflow"));
    assert_int_equal(conf_set(c, "taskmanager.memory.segment-size", "lots",
                              "-D", &e),
                     MPF_ECONFIG);
    assert_non_null(strstr(e.msg, "expected a size such as '32 kb'"));

    assert_int_equal(conf_set(c, "execution.runtime-mode", "streeming", "-D",
                              &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg, "-D: key 'execution.runtime-mode': expected "
                               "one of STREAMING, BATCH, AUTOMATIC, got "
                               "'streeming' (did you mean 'STREAMING'?)");
    assert_int_equal(conf_set(c, "log.level", "verbose", "-D", &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg, "-D: key 'log.level': expected one of debug, "
                               "info, warn, error, got 'verbose'");

    /* a range of one value is enforced too (issue 9: 5 and -3 were taken) */
    assert_int_equal(conf_set(c, "execution.checkpointing.max-concurrent-checkpoints", "5",
                              "-D", &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg, "-D: key 'execution.checkpointing.max-concurrent-checkpoints': "
                               "value 5 is not supported (the only allowed value is 1)");
    assert_int_equal(conf_set(c, "execution.checkpointing.max-concurrent-checkpoints", "-3",
                              "-D", &e),
                     MPF_ECONFIG);
    assert_int_equal(conf_set(c, "execution.checkpointing.max-concurrent-checkpoints", "1",
                              "-D", &e),
                     0);

    /* failed sets leave the old value in place */
    assert_int_equal(conf_int(c, CONF_TASKMANAGER_NUMBEROFTASKSLOTS), 1);
    assert_int_equal(conf_int(c, CONF_PARALLELISM_DEFAULT), 0);
    assert_true(conf_duration_ns(c, CONF_EXECUTION_BUFFER_TIMEOUT) == 100 * MS);
    assert_string_equal(conf_str(c, CONF_EXECUTION_RUNTIME_MODE), "AUTOMATIC");

    /* NULL origin and value are handled */
    assert_int_equal(conf_set(c, "log.level", NULL, NULL, &e), MPF_ECONFIG);
    assert_string_equal(e.msg, "configuration: key 'log.level': missing value");
    conf_destroy(c);
}

/* Text of v for key p as the setter parses it (bare durations are ms, so
 * the bounds are written in ns). */
static void bound_text(const prop_def *p, int64_t v, char *buf, size_t n)
{
    if (p->type == PROP_DURATION)
        snprintf(buf, n, "%lldns", (long long)v);
    else
        snprintf(buf, n, "%lld", (long long)v);
}

/* The audit of issue 9 as a test: every numeric key has a range that holds
 * its default, both ends are accepted, one past either end is refused by
 * conf_set with a message naming the key, the value and the range. */
static void test_every_numeric_key_is_range_checked(void **state)
{
    (void)state;
    conf *c = conf_new();
    mpf_err e;
    int checked = 0;
    for (const prop_def *p = conf_props; p->name; p++) {
        if (p->type != PROP_INT && p->type != PROP_DOUBLE && p->type != PROP_DURATION &&
            p->type != PROP_SIZE)
            continue;
        char v[64], key[256];
        snprintf(key, sizeof key, "key '%s': value ", p->name);
        assert_true(p->min <= p->max);
        assert_true(p->min >= 0); /* no key takes a negative number */
        bound_text(p, p->min, v, sizeof v);
        if (conf_set(c, p->name, v, "-D", &e))
            fail_msg("%s: min %s refused: %s", p->name, v, e.msg);
        bound_text(p, p->max, v, sizeof v);
        if (conf_set(c, p->name, v, "-D", &e))
            fail_msg("%s: max %s refused: %s", p->name, v, e.msg);
        bound_text(p, p->max + 1, v, sizeof v);
        err_clear(&e);
        if (conf_set(c, p->name, v, "-D", &e) != MPF_ECONFIG)
            fail_msg("%s: max + 1 (%s) accepted", p->name, v);
        assert_non_null(strstr(e.msg, key));
        assert_true(strstr(e.msg, "out of range [") || strstr(e.msg, "only allowed value"));
        if (p->min > 0 || p->type == PROP_INT || p->type == PROP_DOUBLE) {
            bound_text(p, p->min - 1, v, sizeof v);
            err_clear(&e);
            if (conf_set(c, p->name, v, "-D", &e) != MPF_ECONFIG)
                fail_msg("%s: min - 1 (%s) accepted", p->name, v);
            assert_non_null(strstr(e.msg, p->name));
        }
        checked++;
    }
    assert_true(checked >= 20);
    conf_destroy(c);
}

static void test_set_kv(void **state)
{
    (void)state;
    conf *c = conf_new();
    mpf_err e;
    assert_int_equal(conf_set_kv(c, "parallelism.default=4", &e), 0);
    assert_int_equal(conf_int(c, CONF_PARALLELISM_DEFAULT), 4);
    assert_int_equal(conf_set_kv(c, " log.level = debug", &e), 0);
    assert_string_equal(conf_str(c, CONF_LOG_LEVEL), "debug");
    assert_int_equal(conf_set_kv(c, "pipeline.name=a=b", &e), 0);
    assert_string_equal(conf_str(c, CONF_PIPELINE_NAME), "a=b");
    assert_int_equal(conf_set_kv(c, "pipeline.name=", &e), 0);
    assert_string_equal(conf_str(c, CONF_PIPELINE_NAME), "");
    assert_int_equal(conf_set_kv(c, "novalue", &e), MPF_ECONFIG);
    assert_string_equal(e.msg, "-D: expected key=value, got 'novalue'");
    assert_int_equal(conf_set_kv(c, "log.levle=info", &e), MPF_ECONFIG);
    assert_string_equal(e.msg, "-D: unknown configuration key 'log.levle' "
                               "(did you mean 'log.level'?)");
    assert_int_equal(conf_set_kv(c, "taskmanager.numberOfTaskSlots=0", &e),
                     MPF_ECONFIG);
    assert_non_null(strstr(e.msg, "-D: key 'taskmanager.numberOfTaskSlots'"));
    conf_destroy(c);
}

/* ------------------------------------------------------------- YAML */

static void test_yaml_nested_and_flat(void **state)
{
    (void)state;
    conf *c = conf_new();
    mpf_err e;
    assert_int_equal(apply_text(c,
                                "taskmanager:\n"
                                "  memory:\n"
                                "    segment-size: 64kb\n"
                                "  numberOfTaskSlots: 4\n"
                                "  network.memory.buffers-per-channel: 8\n"
                                "execution.buffer-timeout: 5 s\n"
                                "execution:\n"
                                "  runtime-mode: streaming\n"
                                "pipeline: {name: 'wordcount'}\n"
                                "parallelism.default: 16\n",
                                &e),
                     0);
    assert_int_equal(conf_size(c, CONF_TASKMANAGER_MEMORY_SEGMENT_SIZE), 65536);
    assert_int_equal(conf_int(c, CONF_TASKMANAGER_NUMBEROFTASKSLOTS), 4);
    assert_int_equal(
        conf_int(c, CONF_TASKMANAGER_NETWORK_MEMORY_BUFFERS_PER_CHANNEL), 8);
    assert_true(conf_duration_ns(c, CONF_EXECUTION_BUFFER_TIMEOUT) == 5 * SEC);
    assert_string_equal(conf_str(c, CONF_EXECUTION_RUNTIME_MODE), "STREAMING");
    assert_string_equal(conf_str(c, CONF_PIPELINE_NAME), "wordcount");
    assert_int_equal(conf_int(c, CONF_PARALLELISM_DEFAULT), 16);

    /* YAML numbers and empty values arrive as text */
    assert_int_equal(apply_text(c, "pipeline.name:\n", &e), 0);
    assert_string_equal(conf_str(c, CONF_PIPELINE_NAME), "");
    assert_int_equal(apply_text(c, "pipeline.name: 42\n", &e), 0);
    assert_string_equal(conf_str(c, CONF_PIPELINE_NAME), "42");

    /* null or empty documents change nothing */
    assert_int_equal(conf_apply_yaml(c, NULL, &e), 0);
    assert_int_equal(apply_text(c, "~\n", &e), 0);
    assert_int_equal(apply_text(c, "taskmanager: {}\n", &e), 0);
    conf_destroy(c);
}

static void test_yaml_error_positions(void **state)
{
    (void)state;
    conf *c = conf_new();
    mpf_err e;

    assert_int_equal(apply_text(c, "parallelism.default: many\n", &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg, "c.yaml:1:22: key 'parallelism.default': "
                               "expected an integer, got 'many'");

    assert_int_equal(apply_text(c,
                                "taskmanager:\n"
                                "  numberOfTaskSlot: 2\n",
                                &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg, "c.yaml:2:21: unknown configuration key "
                               "'taskmanager.numberOfTaskSlot' (did you mean "
                               "'taskmanager.numberOfTaskSlots'?)");

    assert_int_equal(apply_text(c, "log.level: [info]\n", &e), MPF_ECONFIG);
    assert_string_equal(e.msg, "c.yaml:1:12: key 'log.level': expected a "
                               "single value, got a sequence");

    assert_int_equal(apply_text(c, "x:\n  y:\n    - 1\n", &e), MPF_ECONFIG);
    assert_string_equal(e.msg, "c.yaml:3:5: key 'x.y': expected a single "
                               "value, got a sequence");

    assert_int_equal(apply_text(c, "log.level: {a: 1}\n", &e), MPF_ECONFIG);
    assert_string_equal(e.msg, "c.yaml:1:12: key 'log.level': expected a "
                               "single value, got a map");

    assert_int_equal(apply_text(c,
                                "parallelism.default: 2\n"
                                "parallelism:\n"
                                "  default: 3\n",
                                &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg, "c.yaml:3:12: key 'parallelism.default' is "
                               "set twice (first at c.yaml:1:22)");

    assert_int_equal(apply_text(c,
                                "execution:\n"
                                "  checkpointing:\n"
                                "    max-concurrent-checkpoints: 5\n",
                                &e),
                     MPF_ECONFIG);
    assert_string_equal(e.msg, "c.yaml:3:33: key "
                               "'execution.checkpointing.max-concurrent-checkpoints': value 5 "
                               "is not supported (the only allowed value is 1)");

    assert_int_equal(apply_text(c, "- a\n- b\n", &e), MPF_ECONFIG);
    assert_string_equal(e.msg, "c.yaml:1:1: configuration must be a map of "
                               "keys to values, got a sequence");
    assert_int_equal(apply_text(c, "just text\n", &e), MPF_ECONFIG);
    assert_string_equal(e.msg, "c.yaml:1:1: configuration must be a map of "
                               "keys to values, got a scalar");
    conf_destroy(c);
}

static void test_load_file(void **state)
{
    (void)state;
    conf *c = conf_new();
    mpf_err e;

    char p1[] = "/tmp/test_conf_XXXXXX.yaml";
    write_temp(p1, "");
    assert_int_equal(conf_load_file(c, p1, &e), 0);
    unlink(p1);

    char p2[] = "/tmp/test_conf_XXXXXX.yaml";
    write_temp(p2, "# nothing but comments\n\n# here\n");
    assert_int_equal(conf_load_file(c, p2, &e), 0);
    unlink(p2);

    char p3[] = "/tmp/test_conf_XXXXXX.yaml";
    write_temp(p3, "# mpiflow.yaml\nlog.level: debug\n");
    assert_int_equal(conf_load_file(c, p3, &e), 0);
    assert_string_equal(conf_str(c, CONF_LOG_LEVEL), "debug");
    unlink(p3);

    char p4[] = "/tmp/test_conf_XXXXXX.yaml";
    write_temp(p4, "# a list is not a config\n- a\n");
    assert_int_equal(conf_load_file(c, p4, &e), MPF_ECONFIG);
    char want[256];
    snprintf(want, sizeof want,
             "%s:2:1: configuration must be a map of keys to values, got a "
             "sequence",
             p4);
    assert_string_equal(e.msg, want);
    unlink(p4);

    char p5[] = "/tmp/test_conf_XXXXXX.yaml";
    write_temp(p5, "log.level: debug\n  bad: indent\n");
    assert_int_equal(conf_load_file(c, p5, &e), MPF_ECONFIG);
    snprintf(want, sizeof want, "%s:2:6: ", p5);
    assert_memory_equal(e.msg, want, strlen(want));
    unlink(p5);

    char p6[] = "/tmp/test_conf_XXXXXX.yaml";
    write_temp(p6, "log.level: debug\nlog.level: info\n");
    assert_int_equal(conf_load_file(c, p6, &e), MPF_ECONFIG);
    snprintf(want, sizeof want,
             "%s:2:1: duplicate key 'log.level' (first defined at 1:1)", p6);
    assert_string_equal(e.msg, want);
    unlink(p6);

    char p7[] = "/tmp/test_conf_XXXXXX.yaml";
    write_temp(p7, "execution.buffer-timeout: 1 fortnight\n");
    assert_int_equal(conf_load_file(c, p7, &e), MPF_ECONFIG);
    snprintf(want, sizeof want, "%s:1:27: key 'execution.buffer-timeout': ",
             p7);
    assert_memory_equal(e.msg, want, strlen(want));
    unlink(p7);

    assert_int_equal(conf_load_file(c, "/nonexistent/mpiflow.yaml", &e),
                     MPF_EIO);
    assert_string_equal(e.msg,
                        "/nonexistent/mpiflow.yaml: No such file or directory");
    conf_destroy(c);
}

/* defaults < --conf file < job config: < -D (in order) */
static void test_precedence(void **state)
{
    (void)state;
    conf *c = conf_new();
    mpf_err e;

    char path[] = "/tmp/test_conf_XXXXXX.yaml";
    write_temp(path, "parallelism.default: 2\n"
                     "pipeline.name: from-file\n"
                     "taskmanager:\n"
                     "  numberOfTaskSlots: 3\n"
                     "log.level: warn\n");
    assert_int_equal(conf_load_file(c, path, &e), 0);
    unlink(path);

    ydoc *job = parse("name: wc\n"
                      "config:\n"
                      "  parallelism.default: 4\n"
                      "  pipeline:\n"
                      "    name: from-job\n"
                      "  log.level: error\n");
    assert_int_equal(conf_apply_yaml(c, ynode_get(job->root, "config"), &e),
                     0);
    ydoc_destroy(job);

    assert_int_equal(conf_set_kv(c, "parallelism.default=6", &e), 0);
    assert_int_equal(conf_set_kv(c, "parallelism.default=7", &e), 0);
    assert_int_equal(conf_finalize(c, &e), 0);

    assert_int_equal(conf_int(c, CONF_PARALLELISM_DEFAULT), 7);      /* -D */
    assert_string_equal(conf_str(c, CONF_PIPELINE_NAME), "from-job"); /* job */
    assert_string_equal(conf_str(c, CONF_LOG_LEVEL), "error");        /* job */
    assert_int_equal(conf_int(c, CONF_TASKMANAGER_NUMBEROFTASKSLOTS), 3);
    assert_int_equal(conf_int(c, CONF_PIPELINE_MAX_PARALLELISM), 128);
    conf_destroy(c);
}

static void test_finalize(void **state)
{
    (void)state;
    conf *c = conf_new();
    mpf_err e;
    assert_int_equal(conf_finalize(c, &e), 0);
    assert_int_equal(conf_set_kv(c, "parallelism.default=200", &e), 0);
    assert_int_equal(conf_finalize(c, &e), MPF_ECONFIG);
    assert_string_equal(e.msg, "parallelism.default = 200 (from -D) is larger "
                               "than pipeline.max-parallelism = 128 (from "
                               "default)");
    assert_int_equal(conf_set(c, "pipeline.max-parallelism", "256", "job",
                              &e),
                     0);
    assert_int_equal(conf_finalize(c, &e), 0);
    conf_destroy(c);
}

/* ------------------------------------------------------------- copies */

static void apply_lines(conf *c, const char *text)
{
    char *copy = strdup(text);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        mpf_err e;
        if (conf_set_kv(c, line, &e) != 0)
            fail_msg("%s", e.msg);
    }
    free(copy);
}

static void test_serialize_round_trip(void **state)
{
    (void)state;
    conf *c = conf_new();
    mpf_err e;
    char *s = conf_serialize(c);
    assert_string_equal(s, ""); /* nothing differs from the defaults */
    free(s);

    assert_int_equal(conf_set_kv(c, "parallelism.default=12", &e), 0);
    assert_int_equal(conf_set_kv(c, "pipeline.name= my job=x ", &e), 0);
    assert_int_equal(conf_set_kv(c, "execution.buffer-timeout=1500", &e), 0);
    assert_int_equal(
        conf_set_kv(c, "taskmanager.memory.segment-size=1536kb", &e), 0);
    assert_int_equal(conf_set_kv(c, "execution.runtime-mode=batch", &e), 0);
    assert_int_equal(
        conf_set_kv(c, "taskmanager.network.poll-max-sleep=250us", &e), 0);
    /* set to the default value: not serialised */
    assert_int_equal(conf_set_kv(c, "log.level=INFO", &e), 0);

    s = conf_serialize(c);
    assert_string_equal(s, "parallelism.default=12\n"
                           "pipeline.name= my job=x \n"
                           "taskmanager.memory.segment-size=1536 kb\n"
                           "execution.buffer-timeout=1500 ms\n"
                           "execution.runtime-mode=BATCH\n"
                           "taskmanager.network.poll-max-sleep=250 us\n");

    conf *d = conf_new();
    apply_lines(d, s);
    for (int k = 0; k < CONF_NKEYS; k++)
        assert_string_equal(conf_text(c, (conf_key)k), conf_text(d, (conf_key)k));
    char *s2 = conf_serialize(d);
    assert_string_equal(s, s2);
    free(s2);
    free(s);
    conf_destroy(d);
    conf_destroy(c);
}

static void test_dup_independent(void **state)
{
    (void)state;
    conf *c = conf_new();
    mpf_err e;
    assert_int_equal(conf_set_kv(c, "pipeline.name=original", &e), 0);
    assert_int_equal(conf_set_kv(c, "parallelism.default=3", &e), 0);

    conf *d = conf_dup(c);
    assert_string_equal(conf_str(d, CONF_PIPELINE_NAME), "original");
    assert_int_equal(conf_int(d, CONF_PARALLELISM_DEFAULT), 3);

    assert_int_equal(conf_set_kv(c, "pipeline.name=changed", &e), 0);
    assert_int_equal(conf_set_kv(c, "parallelism.default=5", &e), 0);
    assert_string_equal(conf_str(d, CONF_PIPELINE_NAME), "original");
    assert_int_equal(conf_int(d, CONF_PARALLELISM_DEFAULT), 3);

    assert_int_equal(conf_set_kv(d, "log.level=debug", &e), 0);
    assert_string_equal(conf_str(c, CONF_LOG_LEVEL), "info");

    conf_destroy(c); /* d must survive its source */
    assert_string_equal(conf_str(d, CONF_PIPELINE_NAME), "original");
    assert_string_equal(conf_text(d, CONF_EXECUTION_BUFFER_TIMEOUT), "100 ms");
    conf_destroy(d);
}

/* ------------------------------------------------------------- printers */

static char *capture(void (*print)(FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    print(f);
    fclose(f);
    return buf;
}

static void test_printers(void **state)
{
    (void)state;
    char *md = capture(conf_print_markdown);
    char *list = capture(conf_print_list);
    assert_memory_equal(md, "# ", 2);
    assert_non_null(strstr(md, "mpiflow config --markdown"));
    assert_non_null(strstr(md, "| Key | Type | Default | Range/values | "
                               "Description |"));
    assert_non_null(strstr(md, "| `execution.buffer-timeout` | duration | "
                               "`100 ms` | 0 ms .. 1 h |"));
    assert_non_null(strstr(md, "`STREAMING`, `BATCH`, `AUTOMATIC`"));
    for (const prop_def *p = conf_props; p->name; p++) {
        char want[256];
        snprintf(want, sizeof want, "| `%s` |", p->name);
        assert_non_null(strstr(md, want));
        snprintf(want, sizeof want, "%s\n    type: ", p->name);
        assert_non_null(strstr(list, want));
    }
    assert_non_null(strstr(list, "type: size, default: 32 kb, range: 4 kb .. "
                                 "16 mb"));
    /* every line of the list fits in 80 columns */
    for (char *l = list; *l;) {
        size_t n = strcspn(l, "\n");
        assert_true(n <= 80);
        l += n + (l[n] == '\n');
    }
    free(md);
    free(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_valid),
        cmocka_unit_test(test_duration_invalid),
        cmocka_unit_test(test_size_valid),
        cmocka_unit_test(test_size_invalid),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_table_defaults),
        cmocka_unit_test(test_set_get_each_type),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_every_numeric_key_is_range_checked),
        cmocka_unit_test(test_set_kv),
        cmocka_unit_test(test_yaml_nested_and_flat),
        cmocka_unit_test(test_yaml_error_positions),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_finalize),
        cmocka_unit_test(test_serialize_round_trip),
        cmocka_unit_test(test_dup_independent),
        cmocka_unit_test(test_printers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
