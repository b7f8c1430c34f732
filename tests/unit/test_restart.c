/* Unit tests for runtime/restart: each restart strategy against hand-
 * computed delays -- fixed-delay attempts, failure-rate inside and outside
 * its interval, the exponential-delay sequence (cap, reset after the
 * threshold, attempt limit, jitter bounds), auto resolved by the
 * checkpoint interval, and none/off/disable never restarting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include "conf/props.h"
#include "runtime/restart.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

/* ------------------------------------------------------------- helpers */

/* A strategy from "key=value" settings, NULL-terminated. */
static void init_with(restart_strategy *rs, ...)
{
    conf *c = conf_new();
    va_list ap;
    va_start(ap, rs);
    for (const char *kv; (kv = va_arg(ap, const char *)) != NULL;) {
        mpf_err e = {0};
        if (conf_set_kv(c, kv, &e))
            fail_msg("%s: %s", kv, e.msg);
    }
    va_end(ap);
    restart_init(rs, c);
    conf_destroy(c);
}

/* Expect a restart at now after exactly want ns; returns the reason. */
static const char *expect_restart(restart_strategy *rs, int64_t now, int64_t want)
{
    static char why[256];
    int64_t d = -1;
    if (!restart_on_failure(rs, now, &d, why, sizeof why))
        fail_msg("no restart at %lld: %s", (long long)now, why);
    assert_int_equal(d, want);
    return why;
}

static const char *expect_give_up(restart_strategy *rs, int64_t now)
{
    static char why[256];
    int64_t d = -1;
    if (restart_on_failure(rs, now, &d, why, sizeof why))
        fail_msg("restart at %lld (%s), expected the job to fail", (long long)now, why);
    return why;
}

/* --------------------------------------------------------------- none */

static void test_none_never_restarts(void **state)
{
    (void)state;
    const char *types[] = {"none", "off", "disable"};
    for (int i = 0; i < 3; i++) {
        char kv[64];
        snprintf(kv, sizeof kv, "restart-strategy.type=%s", types[i]);
        restart_strategy rs;
        init_with(&rs, kv, "execution.checkpointing.interval=1s", NULL);
        assert_string_equal(restart_name(&rs), "none");
        for (int k = 0; k < 3; k++)
            assert_non_null(strstr(expect_give_up(&rs, k * SEC), "'none'"));
        restart_fini(&rs);
    }
    /* why may be NULL */
    restart_strategy rs;
    init_with(&rs, "restart-strategy.type=none", NULL);
    int64_t d = -1;
    assert_int_equal(restart_on_failure(&rs, 0, &d, NULL, 0), 0);
    restart_fini(&rs);
}

/* --------------------------------------------------------------- auto */

static void test_auto_follows_checkpointing(void **state)
{
    (void)state;
    restart_strategy rs;
    init_with(&rs, NULL); /* defaults: auto, checkpointing off */
    assert_string_equal(restart_name(&rs), "none");
    expect_give_up(&rs, 0);
    restart_fini(&rs);

    init_with(&rs, "execution.checkpointing.interval=300ms",
              "restart-strategy.exponential-delay.jitter-factor=0", NULL);
    assert_string_equal(restart_name(&rs), "exponential-delay");
    /* the defaults: initial-backoff 1 s, multiplier 1.5 */
    expect_restart(&rs, 0, 1 * SEC);
    expect_restart(&rs, 10 * SEC, 1500 * MS);
    restart_fini(&rs);

    /* an explicit type wins over auto's choice */
    init_with(&rs, "execution.checkpointing.interval=300ms", "restart-strategy.type=fixed-delay",
              NULL);
    assert_string_equal(restart_name(&rs), "fixed-delay");
    restart_fini(&rs);
}

/* -------------------------------------------------------- fixed-delay */

static void test_fixed_delay(void **state)
{
    (void)state;
    restart_strategy rs;
    init_with(&rs, "restart-strategy.type=fixed-delay", "restart-strategy.fixed-delay.attempts=3",
              "restart-strategy.fixed-delay.delay=2s", NULL);
    assert_string_equal(restart_name(&rs), "fixed-delay");
    assert_string_equal(expect_restart(&rs, 0, 2 * SEC), "fixed-delay: restart 1 of 3 in 2.000 s");
    /* failures far apart still count: fixed-delay never resets */
    assert_string_equal(expect_restart(&rs, 3600 * SEC, 2 * SEC),
                        "fixed-delay: restart 2 of 3 in 2.000 s");
    expect_restart(&rs, 7200 * SEC, 2 * SEC);
    assert_string_equal(expect_give_up(&rs, 7300 * SEC),
                        "fixed-delay: all 3 restart attempts used");
    restart_fini(&rs);

    /* the defaults: 1 attempt after 1 s */
    init_with(&rs, "restart-strategy.type=fixed-delay", NULL);
    expect_restart(&rs, 0, 1 * SEC);
    expect_give_up(&rs, 5 * SEC);
    restart_fini(&rs);

    /* 0 attempts: the first failure is final */
    init_with(&rs, "restart-strategy.type=fixed-delay", "restart-strategy.fixed-delay.attempts=0",
              NULL);
    assert_non_null(strstr(expect_give_up(&rs, 0), "attempts is 0"));
    restart_fini(&rs);
}

/* ------------------------------------------------------- failure-rate */

static void test_failure_rate(void **state)
{
    (void)state;
    restart_strategy rs;
    init_with(&rs, "restart-strategy.type=failure-rate",
              "restart-strategy.failure-rate.max-failures-per-interval=3",
              "restart-strategy.failure-rate.failure-rate-interval=10s",
              "restart-strategy.failure-rate.delay=500ms", NULL);
    assert_string_equal(restart_name(&rs), "failure-rate");
    /* three failures within 10 s are allowed */
    expect_restart(&rs, 0, 500 * MS);
    expect_restart(&rs, 4 * SEC, 500 * MS);
    assert_string_equal(expect_restart(&rs, 8 * SEC, 500 * MS),
                        "failure-rate: restart in 0.500 s (failure 3 of at most 3 within 10 s)");
    /* at 10.5 s the failure at 0 has left the interval: 4, 8, 10.5 */
    expect_restart(&rs, 10500 * MS, 500 * MS);
    /* at 14 s the failure at 4 s is exactly 10 s old and still counts:
     * 4, 8, 10.5, 14 are four failures within 10 s */
    assert_string_equal(expect_give_up(&rs, 14 * SEC),
                        "failure-rate: 4 failures within 10 s, more than the 3 allowed");
    restart_fini(&rs);

    /* failures spaced just over the interval apart never accumulate */
    init_with(&rs, "restart-strategy.type=failure-rate",
              "restart-strategy.failure-rate.max-failures-per-interval=1",
              "restart-strategy.failure-rate.failure-rate-interval=1min", NULL);
    for (int i = 0; i < 100; i++)
        expect_restart(&rs, i * (60 * SEC + 1), 1 * SEC);
    /* two within a minute are one too many */
    expect_give_up(&rs, 99 * (60 * SEC + 1) + 59 * SEC);
    restart_fini(&rs);

    /* a large limit: the ring grows with the failures */
    init_with(&rs, "restart-strategy.type=failure-rate",
              "restart-strategy.failure-rate.max-failures-per-interval=1000",
              "restart-strategy.failure-rate.failure-rate-interval=1h",
              "restart-strategy.failure-rate.delay=0", NULL);
    for (int i = 0; i < 1000; i++)
        expect_restart(&rs, i * SEC, 0);
    expect_give_up(&rs, 1000 * SEC);
    restart_fini(&rs);

    /* ... and keeps its order across growth and wrap-around */
    init_with(&rs, "restart-strategy.type=failure-rate",
              "restart-strategy.failure-rate.max-failures-per-interval=5",
              "restart-strategy.failure-rate.failure-rate-interval=10s",
              "restart-strategy.failure-rate.delay=0", NULL);
    int64_t t = 0;
    for (int i = 0; i < 50; i++, t += 2 * SEC + 1) /* 5 within any 10 s */
        expect_restart(&rs, t, 0);
    expect_give_up(&rs, t - 2 * SEC); /* 6 within 10 s */
    restart_fini(&rs);
}

/* -------------------------------------------------- exponential-delay */

static void test_exponential_sequence(void **state)
{
    (void)state;
    restart_strategy rs;
    init_with(&rs, "restart-strategy.type=exponential-delay",
              "restart-strategy.exponential-delay.initial-backoff=1s",
              "restart-strategy.exponential-delay.backoff-multiplier=1.5",
              "restart-strategy.exponential-delay.max-backoff=5s",
              "restart-strategy.exponential-delay.jitter-factor=0", NULL);
    assert_string_equal(restart_name(&rs), "exponential-delay");
    /* each failure 1 s after its restart: 1, 1.5, 2.25, 3.375, 5 (cap), 5 */
    const int64_t want[] = {1000 * MS, 1500 * MS, 2250 * MS, 3375 * MS, 5 * SEC, 5 * SEC};
    int64_t t = 0;
    for (int i = 0; i < 6; i++) {
        const char *why = expect_restart(&rs, t, want[i]);
        char exp[64];
        snprintf(exp, sizeof exp, "exponential-delay: restart %d in %.3f s", i + 1,
                 (double)want[i] / 1e9);
        assert_string_equal(why, exp);
        t += want[i] + 1 * SEC;
    }
    restart_fini(&rs);
}

static void test_exponential_reset(void **state)
{
    (void)state;
    restart_strategy rs;
    init_with(&rs, "restart-strategy.type=exponential-delay",
              "restart-strategy.exponential-delay.initial-backoff=1s",
              "restart-strategy.exponential-delay.backoff-multiplier=2",
              "restart-strategy.exponential-delay.max-backoff=1min",
              "restart-strategy.exponential-delay.reset-backoff-threshold=10s",
              "restart-strategy.exponential-delay.jitter-factor=0",
              "restart-strategy.exponential-delay.attempts-before-reset-backoff=3", NULL);
    expect_restart(&rs, 0, 1 * SEC);      /* restarted at 1 s */
    expect_restart(&rs, 5 * SEC, 2 * SEC); /* restarted at 7 s */
    /* ran 9.999 s since the restart at 7 s: below the threshold */
    expect_restart(&rs, 16999 * MS, 4 * SEC); /* restarted at 20.999 s */
    /* ran exactly 10 s since its restart: backoff and attempts start over */
    assert_string_equal(expect_restart(&rs, 30999 * MS, 1 * SEC),
                        "exponential-delay: restart 1 in 1.000 s");
    expect_restart(&rs, 33 * SEC, 2 * SEC);
    expect_restart(&rs, 36 * SEC, 4 * SEC);
    /* the fourth consecutive failure exceeds attempts-before-reset-backoff */
    assert_non_null(strstr(expect_give_up(&rs, 41 * SEC), "all 3 restart attempts used"));
    restart_fini(&rs);

    /* the threshold counts from the restart, not from the failure */
    init_with(&rs, "restart-strategy.type=exponential-delay",
              "restart-strategy.exponential-delay.initial-backoff=4s",
              "restart-strategy.exponential-delay.backoff-multiplier=2",
              "restart-strategy.exponential-delay.reset-backoff-threshold=10s",
              "restart-strategy.exponential-delay.jitter-factor=0", NULL);
    expect_restart(&rs, 0, 4 * SEC);
    expect_restart(&rs, 10 * SEC, 8 * SEC); /* 10 s after the failure, 6 s after the restart */
    expect_restart(&rs, 28 * SEC, 4 * SEC); /* 10 s after the restart at 18 s: reset */
    restart_fini(&rs);
}

static void test_exponential_attempts_and_merge(void **state)
{
    (void)state;
    restart_strategy rs;
    init_with(&rs, "restart-strategy.type=exponential-delay",
              "restart-strategy.exponential-delay.initial-backoff=1s",
              "restart-strategy.exponential-delay.backoff-multiplier=2",
              "restart-strategy.exponential-delay.jitter-factor=0",
              "restart-strategy.exponential-delay.attempts-before-reset-backoff=2", NULL);
    expect_restart(&rs, 0, 1 * SEC);
    /* a second failure while the restart is pending joins it */
    assert_string_equal(expect_restart(&rs, 400 * MS, 600 * MS),
                        "exponential-delay: restart 1 already pending, in 0.600 s");
    expect_restart(&rs, 2 * SEC, 2 * SEC);
    expect_give_up(&rs, 5 * SEC);
    restart_fini(&rs);
}

static void test_exponential_jitter_bounds(void **state)
{
    (void)state;
    restart_strategy rs;
    init_with(&rs, "restart-strategy.type=exponential-delay",
              "restart-strategy.exponential-delay.initial-backoff=1s",
              "restart-strategy.exponential-delay.backoff-multiplier=2",
              "restart-strategy.exponential-delay.max-backoff=10s",
              "restart-strategy.exponential-delay.jitter-factor=0.25", NULL);
    rs.rng = 42; /* reproducible */
    /* backoffs 1, 2, 4, 8, 10 (capped), then 10 s forever; each drawn
     * within +/- 25 %, then kept within [initial, max] */
    const int64_t base[] = {1 * SEC, 2 * SEC, 4 * SEC, 8 * SEC, 10 * SEC};
    int64_t lo_seen[5], hi_seen[5];
    for (int k = 0; k < 5; k++) {
        lo_seen[k] = INT64_MAX;
        hi_seen[k] = INT64_MIN;
    }
    int64_t t = 0;
    for (int round = 0; round < 400; round++) {
        for (int k = 0; k < 6; k++) {
            int64_t d = -1;
            char why[128];
            assert_int_equal(restart_on_failure(&rs, t, &d, why, sizeof why), 1);
            int64_t b = base[k < 5 ? k : 4];
            int64_t lo = b - b / 4, hi = b + b / 4;
            if (lo < 1 * SEC)
                lo = 1 * SEC;
            if (hi > 10 * SEC)
                hi = 10 * SEC;
            if (d < lo || d > hi)
                fail_msg("round %d, failure %d: delay %lld outside [%lld, %lld]", round, k,
                         (long long)d, (long long)lo, (long long)hi);
            int kk = k < 5 ? k : 4;
            lo_seen[kk] = d < lo_seen[kk] ? d : lo_seen[kk];
            hi_seen[kk] = d > hi_seen[kk] ? d : hi_seen[kk];
            t += d + 1 * SEC;
        }
        t += 2 * 3600 * SEC; /* past the reset threshold (1 h) */
    }
    /* the draws spread over the range (not stuck at one end) */
    assert_true(lo_seen[2] < 4 * SEC - 400 * MS && hi_seen[2] > 4 * SEC + 400 * MS);
    assert_true(lo_seen[4] < 10 * SEC - 1 * SEC); /* jitter also below the cap */
    assert_int_equal(hi_seen[4], 10 * SEC);
    assert_true(hi_seen[0] > 1100 * MS);
    assert_int_equal(lo_seen[0], 1 * SEC); /* never below initial-backoff */

    /* the same seed gives the same delays */
    restart_strategy a, b;
    init_with(&a, "restart-strategy.type=exponential-delay", NULL);
    init_with(&b, "restart-strategy.type=exponential-delay", NULL);
    a.rng = b.rng = 7;
    for (int k = 0; k < 20; k++) {
        int64_t da, db;
        assert_int_equal(restart_on_failure(&a, k * 100 * SEC, &da, NULL, 0), 1);
        assert_int_equal(restart_on_failure(&b, k * 100 * SEC, &db, NULL, 0), 1);
        assert_int_equal(da, db);
    }
    restart_fini(&a);
    restart_fini(&b);
    restart_fini(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_never_restarts),
        cmocka_unit_test(test_auto_follows_checkpointing),
        cmocka_unit_test(test_fixed_delay),
        cmocka_unit_test(test_failure_rate),
        cmocka_unit_test(test_exponential_sequence),
        cmocka_unit_test(test_exponential_reset),
        cmocka_unit_test(test_exponential_attempts_and_merge),
        cmocka_unit_test(test_exponential_jitter_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
