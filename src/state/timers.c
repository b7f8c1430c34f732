/* Timer service: a binary min-heap with a set of live timers (state
 * layer). */
#include "state/timers.h"

#include <stdlib.h>
#include <string.h>
#include "util/bytes.h"
#include "util/xmalloc.h"

void timers_init(timer_svc *ts)
{
    memset(ts, 0, sizeof *ts);
    ks_init(&ts->live);
}

void timers_fini(timer_svc *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        free(ts->heap[i].key);
    free(ts->heap);
    free(ts->popped.key);
    ks_fini(&ts->live);
    memset(ts, 0, sizeof *ts);
}

/* The live-set key: time then key bytes. */
static uint8_t *live_key(int64_t time, const void *key, uint32_t klen, uint8_t *buf,
                         size_t bufn, uint32_t *len)
{
    *len = 8 + klen;
    uint8_t *k = *len <= bufn ? buf : xmalloc(*len);
    wr_i64(k, time);
    if (klen)
        memcpy(k + 8, key, klen);
    return k;
}

static void sift_up(timer_ent *h, size_t i)
{
    while (i) {
        size_t p = (i - 1) / 2;
        if (h[p].time <= h[i].time)
            break;
        timer_ent t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

static void sift_down(timer_ent *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && h[l].time < h[m].time)
            m = l;
        if (l + 1 < n && h[l + 1].time < h[m].time)
            m = l + 1;
        if (m == i)
            return;
        timer_ent t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
}

int timers_add(timer_svc *ts, int64_t time, const void *key, uint32_t klen)
{
    uint8_t buf[256];
    uint32_t lk;
    uint8_t *k = live_key(time, key, klen, buf, sizeof buf, &lk);
    int created;
    ks_put(&ts->live, k, lk, ks_hash(k, lk), 0, &created);
    if (k != buf)
        free(k);
    if (!created)
        return 0;
    if (ts->n == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 64;
        ts->heap = xrealloc(ts->heap, ts->cap * sizeof *ts->heap);
    }
    timer_ent *t = &ts->heap[ts->n];
    t->time = time;
    t->klen = klen;
    t->key = xmalloc(klen ? klen : 1);
    if (klen)
        memcpy(t->key, key, klen);
    ts->key_bytes += klen;
    sift_up(ts->heap, ts->n++);
    return 1;
}

int timers_del(timer_svc *ts, int64_t time, const void *key, uint32_t klen)
{
    uint8_t buf[256];
    uint32_t lk;
    uint8_t *k = live_key(time, key, klen, buf, sizeof buf, &lk);
    int r = ks_del(&ts->live, k, lk, ks_hash(k, lk));
    if (k != buf)
        free(k);
    return r;
}

static int top_live(timer_svc *ts)
{
    uint8_t buf[256];
    while (ts->n) {
        timer_ent *t = &ts->heap[0];
        uint32_t lk;
        uint8_t *k = live_key(t->time, t->key, t->klen, buf, sizeof buf, &lk);
        int live = ks_get(&ts->live, k, lk, ks_hash(k, lk), NULL) != NULL;
        if (k != buf)
            free(k);
        if (live)
            return 1;
        ts->key_bytes -= t->klen;
        free(t->key);
        ts->heap[0] = ts->heap[--ts->n];
        sift_down(ts->heap, ts->n, 0);
    }
    return 0;
}

int64_t timers_next(timer_svc *ts)
{
    return top_live(ts) ? ts->heap[0].time : INT64_MAX;
}

int timers_pop(timer_svc *ts, int64_t upto, int64_t *time, const uint8_t **key, uint32_t *klen)
{
    if (!top_live(ts) || ts->heap[0].time > upto)
        return 0;
    free(ts->popped.key);
    ts->popped = ts->heap[0];
    ts->key_bytes -= ts->popped.klen;
    ts->heap[0] = ts->heap[--ts->n];
    sift_down(ts->heap, ts->n, 0);
    timers_del(ts, ts->popped.time, ts->popped.key, ts->popped.klen);
    *time = ts->popped.time;
    *key = ts->popped.key;
    *klen = ts->popped.klen;
    return 1;
}

size_t timers_bytes(const timer_svc *ts)
{
    return ts->cap * sizeof *ts->heap + ks_bytes(&ts->live) + ts->key_bytes;
}

int timers_iter(const timer_svc *ts, size_t *pos, int64_t *time, const uint8_t **key,
                uint32_t *klen)
{
    const uint8_t *k;
    uint32_t lk;
    uint8_t *v;
    if (!ks_next(&ts->live, pos, &k, &lk, &v, NULL))
        return 0;
    *time = rd_i64(k); /* the live-set key: time, then the key bytes */
    *key = k + 8;
    *klen = lk - 8;
    return 1;
}

void timers_clone_live(timer_svc *dst, const timer_svc *src)
{
    memset(dst, 0, sizeof *dst);
    ks_clone(&dst->live, &src->live);
}
