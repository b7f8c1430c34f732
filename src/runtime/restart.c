/* Restart strategies (runtime layer): whether and when a failed job
 * restarts, following Flink's RestartBackoffTimeStrategy implementations
 * (FixedDelay, FailureRate, ExponentialDelay as of Flink 1.19). */
#include "runtime/restart.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util/clock.h"
#include "util/xmalloc.h"

#define NS_PER_SEC 1e9

static void say(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || !whylen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* splitmix64: small, seedable, good enough for jitter. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void restart_init(restart_strategy *rs, const conf *c)
{
    memset(rs, 0, sizeof *rs);
    const char *type = conf_str(c, CONF_RESTART_STRATEGY_TYPE);
    if (strcmp(type, "auto") == 0)
        rs->kind = conf_duration_ns(c, CONF_EXECUTION_CHECKPOINTING_INTERVAL) > 0
                       ? RESTART_EXPONENTIAL_DELAY
                       : RESTART_NONE;
    else if (strcmp(type, "fixed-delay") == 0)
        rs->kind = RESTART_FIXED_DELAY;
    else if (strcmp(type, "failure-rate") == 0)
        rs->kind = RESTART_FAILURE_RATE;
    else if (strcmp(type, "exponential-delay") == 0)
        rs->kind = RESTART_EXPONENTIAL_DELAY;
    else /* none, off, disable */
        rs->kind = RESTART_NONE;
    switch (rs->kind) {
    case RESTART_FIXED_DELAY:
        rs->max_attempts = conf_int(c, CONF_RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS);
        rs->delay_ns = conf_duration_ns(c, CONF_RESTART_STRATEGY_FIXED_DELAY_DELAY);
        break;
    case RESTART_FAILURE_RATE:
        rs->max_failures = conf_int(c, CONF_RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL);
        rs->interval_ns =
            conf_duration_ns(c, CONF_RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL);
        rs->delay_ns = conf_duration_ns(c, CONF_RESTART_STRATEGY_FAILURE_RATE_DELAY);
        break;
    case RESTART_EXPONENTIAL_DELAY:
        rs->initial_ns = conf_duration_ns(c, CONF_RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF);
        rs->max_backoff_ns = conf_duration_ns(c, CONF_RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF);
        rs->multiplier = conf_double(c, CONF_RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER);
        rs->reset_ns =
            conf_duration_ns(c, CONF_RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD);
        rs->jitter = conf_double(c, CONF_RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR);
        rs->max_attempts =
            conf_int(c, CONF_RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS_BEFORE_RESET_BACKOFF);
        break;
    case RESTART_NONE:
        break;
    }
    /* Different per process and start, so jobs that fail together (a lost
     * node) do not restart in lockstep. */
    rs->rng = (uint64_t)clock_mono_ns() ^ ((uint64_t)clock_wall_ns() << 7) ^
              ((uint64_t)getpid() << 40);
}

void restart_fini(restart_strategy *rs)
{
    free(rs->fail_ts);
    rs->fail_ts = NULL;
    rs->fail_n = rs->fail_cap = rs->fail_head = 0;
}

const char *restart_name(const restart_strategy *rs)
{
    switch (rs->kind) {
    case RESTART_FIXED_DELAY:
        return "fixed-delay";
    case RESTART_FAILURE_RATE:
        return "failure-rate";
    case RESTART_EXPONENTIAL_DELAY:
        return "exponential-delay";
    case RESTART_NONE:
        break;
    }
    return "none";
}

static int fixed_delay(restart_strategy *rs, int64_t *delay_ns, char *why, size_t whylen)
{
    rs->attempt++;
    if (rs->attempt > rs->max_attempts) {
        if (rs->max_attempts == 0)
            say(why, whylen, "fixed-delay: no restart attempts allowed "
                "(restart-strategy.fixed-delay.attempts is 0)");
        else
            say(why, whylen, "fixed-delay: all %lld restart attempts used",
                (long long)rs->max_attempts);
        return 0;
    }
    *delay_ns = rs->delay_ns;
    say(why, whylen, "fixed-delay: restart %lld of %lld in %.3f s", (long long)rs->attempt,
        (long long)rs->max_attempts, (double)rs->delay_ns / NS_PER_SEC);
    return 1;
}

/* Flink keeps the last max-failures-per-interval + 1 failure times and
 * gives up when all of them lie within the interval. The ring here holds
 * only the failures still inside the interval (older ones can never count
 * again), so it grows with actual failures, not with the configured limit. */
static int failure_rate(restart_strategy *rs, int64_t now, int64_t *delay_ns, char *why,
                        size_t whylen)
{
    while (rs->fail_n > 0 && now - rs->fail_ts[rs->fail_head] > rs->interval_ns) {
        rs->fail_head = (rs->fail_head + 1) % rs->fail_cap;
        rs->fail_n--;
    }
    if (rs->fail_n == rs->max_failures + 1) { /* full: forget the oldest */
        rs->fail_head = (rs->fail_head + 1) % rs->fail_cap;
        rs->fail_n--;
    }
    if (rs->fail_n == rs->fail_cap) { /* grow, unrolling the ring */
        int64_t cap = rs->fail_cap ? rs->fail_cap * 2 : 4;
        if (cap > rs->max_failures + 1)
            cap = rs->max_failures + 1;
        int64_t *v = xmalloc((size_t)cap * sizeof *v);
        for (int64_t i = 0; i < rs->fail_n; i++)
            v[i] = rs->fail_ts[(rs->fail_head + i) % rs->fail_cap];
        free(rs->fail_ts);
        rs->fail_ts = v;
        rs->fail_cap = cap;
        rs->fail_head = 0;
    }
    rs->fail_ts[(rs->fail_head + rs->fail_n) % rs->fail_cap] = now;
    rs->fail_n++;
    char iv[32];
    format_duration(rs->interval_ns, iv, sizeof iv);
    if (rs->fail_n > rs->max_failures) {
        say(why, whylen, "failure-rate: %lld failures within %s, more than the %lld allowed",
            (long long)rs->fail_n, iv, (long long)rs->max_failures);
        return 0;
    }
    *delay_ns = rs->delay_ns;
    say(why, whylen, "failure-rate: restart in %.3f s (failure %lld of at most %lld within %s)",
        (double)rs->delay_ns / NS_PER_SEC, (long long)rs->fail_n, (long long)rs->max_failures,
        iv);
    return 1;
}

/* The backoff of restart number attempt+1: initial * multiplier^attempt,
 * capped at max-backoff, then +/- a uniform jitter of up to jitter-factor
 * times that, and kept within [initial, max-backoff] as Flink does. Flink
 * takes the jitter of the uncapped backoff, so once the cap is reached its
 * delays all equal max-backoff; here they keep their jitter, which is what
 * jitter is for (jobs failing together do not restart together). */
static int64_t backoff_ns(restart_strategy *rs)
{
    double b = (double)rs->initial_ns * pow(rs->multiplier, (double)rs->attempt);
    if (!(b < (double)rs->max_backoff_ns)) /* also inf/NaN */
        b = (double)rs->max_backoff_ns;
    int64_t d = (int64_t)b;
    int64_t off = (int64_t)((double)d * rs->jitter);
    if (off > 0)
        d += (int64_t)(next_rand(&rs->rng) % (uint64_t)(2 * off + 1)) - off;
    if (d > rs->max_backoff_ns)
        d = rs->max_backoff_ns;
    if (d < rs->initial_ns)
        d = rs->initial_ns;
    return d;
}

/* Flink measures reset-backoff-threshold from the moment the job was
 * restarted: the time of the previous failure plus the delay granted for
 * it (next_restart_ns), not from the previous failure itself, so a long
 * backoff does not count as running time. A failure before that moment
 * (while a restart is pending) joins the pending restart, as in Flink. */
static int exponential_delay(restart_strategy *rs, int64_t now, int64_t *delay_ns, char *why,
                             size_t whylen)
{
    if (rs->restarted && now <= rs->next_restart_ns && rs->attempt <= rs->max_attempts) {
        *delay_ns = rs->next_restart_ns - now;
        say(why, whylen, "exponential-delay: restart %lld already pending, in %.3f s",
            (long long)rs->attempt, (double)*delay_ns / NS_PER_SEC);
        return 1;
    }
    if (rs->restarted && now - rs->next_restart_ns >= rs->reset_ns)
        rs->attempt = 0;
    int64_t d = backoff_ns(rs);
    rs->next_restart_ns = now + d;
    rs->restarted = 1;
    rs->attempt++;
    if (rs->attempt > rs->max_attempts) {
        say(why, whylen, "exponential-delay: all %lld restart attempts used "
            "(restart-strategy.exponential-delay.attempts-before-reset-backoff)",
            (long long)rs->max_attempts);
        return 0;
    }
    *delay_ns = d;
    say(why, whylen, "exponential-delay: restart %lld in %.3f s", (long long)rs->attempt,
        (double)d / NS_PER_SEC);
    return 1;
}

int restart_on_failure(restart_strategy *rs, int64_t now_ns, int64_t *delay_ns, char *why,
                       size_t whylen)
{
    *delay_ns = 0;
    switch (rs->kind) {
    case RESTART_FIXED_DELAY:
        return fixed_delay(rs, delay_ns, why, whylen);
    case RESTART_FAILURE_RATE:
        return failure_rate(rs, now_ns, delay_ns, why, whylen);
    case RESTART_EXPONENTIAL_DELAY:
        return exponential_delay(rs, now_ns, delay_ns, why, whylen);
    case RESTART_NONE:
        break;
    }
    say(why, whylen, "the restart strategy 'none' does not restart the job");
    return 0;
}
