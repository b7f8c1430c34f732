/* The counted pool of fixed-size segments that hold record batches
 * (record layer). One pool per process (TaskManagers are single-threaded).
 * The in-use count is bounded by credits and feeds metrics. */
#ifndef MPF_RECORD_SEGPOOL_H
#define MPF_RECORD_SEGPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct segpool_stats {
    size_t segment_size;
    uint64_t in_use, peak_in_use, allocated;
} segpool_stats;

void segpool_init(size_t segment_size);
void segpool_fini(void);
size_t segpool_segment_size(void);
/* A segment with a reset DATA header. Never NULL (aborts on OOM). */
uint8_t *segpool_get(void);
void segpool_put(uint8_t *seg);
segpool_stats segpool_get_stats(void);

#endif
