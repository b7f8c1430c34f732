/* Restart strategies (runtime layer): Flink's none, fixed-delay,
 * failure-rate and exponential-delay, as a pure state machine over failure
 * times. It decides whether and after which delay a failed job restarts;
 * the JobManager (task failures in the same world) and `mpiflow submit`
 * (lost processes) do the restarting. Failure times are passed in and
 * nothing is printed, so tests drive it with hand-made times. */
#ifndef MPF_RUNTIME_RESTART_H
#define MPF_RUNTIME_RESTART_H

#include <stddef.h>
#include <stdint.h>
#include "conf/props.h"

typedef enum restart_kind {
    RESTART_NONE,
    RESTART_FIXED_DELAY,
    RESTART_FAILURE_RATE,
    RESTART_EXPONENTIAL_DELAY
} restart_kind;

typedef struct restart_strategy {
    restart_kind kind;
    /* Configuration (restart-strategy.*). */
    int64_t max_attempts; /* fixed-delay attempts, exponential attempts-before-reset */
    int64_t delay_ns;     /* fixed-delay and failure-rate delay */
    int64_t max_failures, interval_ns;         /* failure-rate */
    int64_t initial_ns, max_backoff_ns, reset_ns; /* exponential-delay */
    double multiplier, jitter;                 /* exponential-delay */
    /* State. */
    int64_t attempt;         /* restarts granted (since the last reset) */
    int64_t next_restart_ns; /* exponential: when the last granted restart runs */
    int restarted;           /* exponential: next_restart_ns is valid */
    int64_t *fail_ts;        /* failure-rate: ring of recent failure times */
    int64_t fail_n, fail_cap, fail_head; /* entries, capacity, oldest entry */
    uint64_t rng; /* jitter PRNG state (splitmix64); tests may set it */
} restart_strategy;

/* Read the strategy from c (auto: exponential-delay when
 * execution.checkpointing.interval > 0, else none). Never fails: keys are
 * validated by conf. The jitter PRNG is seeded from the clock and pid.
 * Caller's memory; release with restart_fini. */
void restart_init(restart_strategy *rs, const conf *c);
/* Free what restart_init and restart_on_failure allocated (the
 * failure-rate ring). rs may be re-initialised afterwards. */
void restart_fini(restart_strategy *rs);
/* A failure happened at now_ns (monotonic ns, non-decreasing across calls).
 * Returns 1 and sets *delay_ns when the job may restart after that delay;
 * 0 when the strategy says the job has failed for good. why (may be NULL)
 * receives a one-line reason for logs ("fixed-delay: restart 2 of 3 in
 * 1.000 s", "fixed-delay: all 3 restart attempts used"). */
int restart_on_failure(restart_strategy *rs, int64_t now_ns, int64_t *delay_ns, char *why,
                       size_t whylen);
/* Name for logs: "none", "fixed-delay", "failure-rate" or
 * "exponential-delay" (auto resolved; off and disable are "none"). */
const char *restart_name(const restart_strategy *rs);

#endif
