/* Latency histograms (metrics layer): log-linear buckets, 16 per power of
 * two of microseconds (3.1% to 6.25% wide), so histograms from every
 * TaskManager merge exactly and percentiles need no samples. */
#ifndef MPF_METRICS_HISTO_H
#define MPF_METRICS_HISTO_H

#include <stddef.h>
#include <stdint.h>

#define HISTO_BUCKETS (40 * 16)

typedef struct histo {
    uint64_t n[HISTO_BUCKETS];
    uint64_t count;
    int64_t max_us;
} histo;

void histo_add_us(histo *h, int64_t us);
/* Value at quantile q in [0, 1] (the bucket's upper bound), 0 if empty. */
int64_t histo_quantile_us(const histo *h, double q);
/* "count max b:n b:n ..." (non-empty buckets) into a malloc'd string. */
char *histo_encode(const histo *h);
/* Add an encoded histogram into h; returns 0 or -1 on malformed text. */
int histo_merge_text(histo *h, const char *text);

#endif
