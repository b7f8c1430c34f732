/* Log-linear latency histograms (metrics layer). */
#include "metrics/histo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/xmalloc.h"

static int bucket_of(uint64_t us)
{
    if (us < 16)
        return (int)us;
    int e = 63 - __builtin_clzll(us); /* 2^e <= us < 2^(e+1), e >= 4 */
    int b = (e - 3) * 16 + (int)((us >> (e - 4)) & 15);
    return b < HISTO_BUCKETS ? b : HISTO_BUCKETS - 1;
}

static int64_t bucket_upper(int b)
{
    if (b < 16)
        return b;
    int e = b / 16 + 3, m = b % 16;
    return (int64_t)(((uint64_t)(16 + m + 1) << (e - 4)) - 1);
}

void histo_add_us(histo *h, int64_t us)
{
    if (us < 0)
        us = 0;
    h->n[bucket_of((uint64_t)us)]++;
    h->count++;
    if (us > h->max_us)
        h->max_us = us;
}

int64_t histo_quantile_us(const histo *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)(h->count - 1)) + 1, seen = 0;
    for (int b = 0; b < HISTO_BUCKETS; b++) {
        seen += h->n[b];
        if (seen >= rank) {
            int64_t up = bucket_upper(b);
            return up < h->max_us ? up : h->max_us;
        }
    }
    return h->max_us;
}

char *histo_encode(const histo *h)
{
    size_t cap = 64, len = 0;
    char *s = xmalloc(cap);
    len += (size_t)snprintf(s, cap, "%llu %lld", (unsigned long long)h->count,
                            (long long)h->max_us);
    for (int b = 0; b < HISTO_BUCKETS; b++) {
        if (!h->n[b])
            continue;
        if (cap - len < 48) {
            cap *= 2;
            s = xrealloc(s, cap);
        }
        len += (size_t)snprintf(s + len, cap - len, " %d:%llu", b, (unsigned long long)h->n[b]);
    }
    return s;
}

int histo_merge_text(histo *h, const char *text)
{
    unsigned long long count;
    long long max;
    int used;
    if (sscanf(text, "%llu %lld%n", &count, &max, &used) != 2)
        return -1;
    text += used;
    int b;
    unsigned long long n;
    while (sscanf(text, " %d:%llu%n", &b, &n, &used) == 2) {
        if (b < 0 || b >= HISTO_BUCKETS)
            return -1;
        h->n[b] += n;
        text += used;
    }
    h->count += count;
    if (max > h->max_us)
        h->max_us = max;
    return 0;
}
