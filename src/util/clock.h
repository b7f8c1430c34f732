/* Clocks (util layer): wall-clock time for event and processing time and
 * cross-rank latencies, monotonic time for intervals. */
#ifndef MPF_UTIL_CLOCK_H
#define MPF_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static inline int64_t clock_wall_ms(void) { return clock_wall_ns() / 1000000; }
static inline int64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
