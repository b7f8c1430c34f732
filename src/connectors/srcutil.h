/* Helpers shared by the sources (connectors layer): counter-based
 * random numbers, so a row's values depend only on (seed, row) and not on
 * which subtask makes it; event-time positions with bounded,
 * deterministic out-of-orderness; a wall-clock rate limiter; getters
 * for duration and timestamp option values; and where a relative input
 * path written in a job file points. */
#ifndef MPF_OPS_SRCUTIL_H
#define MPF_OPS_SRCUTIL_H

#include <stdint.h>
#include <time.h>
#include "conf/yamldoc.h"
#include "ops/op.h"
#include "util/err.h"

/* SplitMix64's finalizer: a bijective 64-bit mix. */
static inline uint64_t srcutil_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A small random stream keyed by (seed, counter): the same key always
 * yields the same sequence. */
typedef struct srcrng {
    uint64_t s;
} srcrng;

static inline void srcrng_init(srcrng *r, uint64_t seed, uint64_t counter)
{
    r->s = srcutil_mix64(seed ^ srcutil_mix64(counter * 0x100000001b3ULL + 0x5851f42d4c957f2dULL));
}
static inline uint64_t srcrng_next(srcrng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
/* Uniform in [0, n) for n >= 1 (multiply-shift; bias below 2^-32 for
 * n < 2^32). */
static inline int64_t srcrng_below(srcrng *r, int64_t n)
{
    if (n <= 1)
        return 0;
    if (n <= 0xffffffffLL)
        return (int64_t)(((srcrng_next(r) >> 32) * (uint64_t)n) >> 32);
    return (int64_t)(srcrng_next(r) % (uint64_t)n);
}
/* Uniform in [0, 1). */
static inline double srcrng_double(srcrng *r)
{
    return (double)(srcrng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Event time of row r: start + r * interval, less a deterministic jitter
 * in [0, out_of_orderness] drawn from (seed, r). interval_ns is the total
 * event-time step per row (sub-millisecond steps accumulate exactly);
 * the lag behind the row's position never exceeds out_of_orderness_ms. */
typedef struct srcutil_evtime {
    int64_t start_ms;
    int64_t interval_ns;
    int64_t ooo_ms;
} srcutil_evtime;

int64_t srcutil_evtime_position(const srcutil_evtime *t, int64_t r);
int64_t srcutil_evtime_at(const srcutil_evtime *t, uint64_t seed, int64_t r);

/* Wall-clock pacing of a total rate shared by p subtasks. */
typedef struct srcutil_rate {
    double per_second; /* this subtask's share; 0: unlimited */
    struct timespec t0;
} srcutil_rate;

void srcutil_rate_start(srcutil_rate *rl, double total_per_second, int parallelism);
/* How many more units may be produced now, given `done` so far, capped at
 * cap (cap when unlimited). */
int64_t srcutil_rate_allowed(const srcutil_rate *rl, int64_t done, int64_t cap);

/* Option getters (absent key: 0 and *out untouched; errors carry the
 * value's file:line:col). A duration is Flink-style text ("2s", "100ms",
 * "250us") or a bare number of milliseconds; the result is in ns. A
 * timestamp is "YYYY-MM-DD[ HH:MM:SS[.fff]]" (UTC) or integer ms. */
int srcutil_get_duration_ns(const ynode *map, const char *key, int64_t *out, mpf_err *e);
int srcutil_get_timestamp(const ynode *map, const char *key, int64_t *out, mpf_err *e);
/* An integer option that must be >= min (absent: *out untouched). */
int srcutil_get_count(const ynode *map, const char *key, int64_t min, int64_t *out, mpf_err *e);

/* An input path option (absent: 0 and *out untouched). A relative path
 * written in the job file, literally or through a parameter's default, is
 * looked up in the job file's directory first and, when nothing exists
 * there, in the working directory (so the example jobs run from any
 * directory, and jobs written against the working directory still do). A
 * path with a parameter given on the command line stays relative to the
 * working directory. Values starting with "builtin:" are kept as they
 * are. *out is a heap string the caller frees. */
int srcutil_get_input_path(const ynode *map, const char *key, int required, char **out,
                           mpf_err *e);

#endif
