/* Counted free-list pool of batch segments (record layer). */
#include "record/segpool.h"

#include <stdlib.h>
#include "record/batch.h"
#include "util/xmalloc.h"

typedef struct free_seg {
    struct free_seg *next;
} free_seg;

static struct {
    size_t size;
    free_seg *free_list;
    size_t nfree;
    segpool_stats st;
} pool;

void segpool_init(size_t segment_size)
{
    if (segment_size != pool.size)
        segpool_fini(); /* free segments of the old size */
    pool.size = segment_size;
    pool.st.segment_size = segment_size;
}

void segpool_fini(void)
{
    while (pool.free_list) {
        free_seg *f = pool.free_list;
        pool.free_list = f->next;
        free(f);
    }
    pool.nfree = 0;
}

size_t segpool_segment_size(void) { return pool.size; }

uint8_t *segpool_get(void)
{
    uint8_t *s;
    if (pool.free_list) {
        s = (uint8_t *)pool.free_list;
        pool.free_list = pool.free_list->next;
        pool.nfree--;
    } else {
        s = xmalloc(pool.size);
        pool.st.allocated++;
    }
    if (++pool.st.in_use > pool.st.peak_in_use)
        pool.st.peak_in_use = pool.st.in_use;
    batch_reset(s, BATCH_DATA);
    return s;
}

void segpool_put(uint8_t *seg)
{
    if (!seg)
        return;
    free_seg *f = (free_seg *)(void *)seg;
    f->next = pool.free_list;
    pool.free_list = f;
    pool.nfree++;
    pool.st.in_use--;
}

segpool_stats segpool_get_stats(void) { return pool.st; }
