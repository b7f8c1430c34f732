/* Timer service (state layer): timers per key, ordered by time, as in
 * Flink's InternalTimerService. One instance per time domain (event or
 * processing time) per operator instance. Registering the same (time,
 * key) twice keeps one timer; deleting is lazy (the entry is skipped when
 * it reaches the top of the heap). Single-threaded. */
#ifndef MPF_STATE_TIMERS_H
#define MPF_STATE_TIMERS_H

#include <stddef.h>
#include <stdint.h>
#include "state/kstore.h"

typedef struct timer_ent {
    int64_t time;
    uint32_t klen;
    uint8_t *key; /* malloc'd */
} timer_ent;

typedef struct timer_svc {
    timer_ent *heap;
    size_t n, cap;
    kstore live; /* [time][key] of registered, not deleted timers */
    timer_ent popped; /* owned until the next pop */
    size_t key_bytes; /* keys held by the heap, so timers_bytes is O(1) */
} timer_svc;

void timers_init(timer_svc *ts);
void timers_fini(timer_svc *ts);
/* Register a timer; returns 1 when new, 0 when it already existed. */
int timers_add(timer_svc *ts, int64_t time, const void *key, uint32_t klen);
/* Delete a timer; returns 1 if it was registered. */
int timers_del(timer_svc *ts, int64_t time, const void *key, uint32_t klen);
/* Earliest registered time, or INT64_MAX. */
int64_t timers_next(timer_svc *ts);
/* Remove and return the earliest timer with time <= upto: returns 1 and
 * sets *time, *key (valid until the next pop) and *klen, or 0. */
int timers_pop(timer_svc *ts, int64_t upto, int64_t *time, const uint8_t **key, uint32_t *klen);
static inline size_t timers_count(const timer_svc *ts) { return ks_count(&ts->live); }
size_t timers_bytes(const timer_svc *ts);

/* Checkpoints. Iterate the registered (not deleted) timers in no
 * particular order from *pos = 0: returns 1 and sets *time, *key (valid
 * until the next change of ts) and *klen, or 0 at the end. ts must not
 * change during the iteration. */
int timers_iter(const timer_svc *ts, size_t *pos, int64_t *time, const uint8_t **key,
                uint32_t *klen);
/* Copy-on-write snapshots: dst (uninitialised) becomes a copy of the
 * registered timers of src that supports timers_iter, timers_count and
 * timers_fini only (no heap: nothing to pop). */
void timers_clone_live(timer_svc *dst, const timer_svc *src);

#endif
