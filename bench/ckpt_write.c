/* Checkpoint write bandwidth driver (bench/ckpt_write.sh): writes about
 * TOTAL_MB of keyed state as one TaskManager file with ckpt_write_tm (which
 * hashes every blob, writes and fsyncs) and reports MB/s; then writes the
 * metadata and times ckpt_open with full checksum verification.
 *   ckpt_write_bench DIR TOTAL_MB BLOB_KB [contiguous|scattered]
 * Blob contents are pseudo-random (incompressible), generated before the
 * clock starts. contiguous (default): key group i is the i-th slice of one
 * buffer, as from a snapshot serialised into one buffer, so the writer
 * writes in place; scattered: key groups run backwards through memory, so
 * no two blobs are adjacent in key-group order and small ones are copied
 * through the writer's staging buffer. Prints one line with the write's
 * wall and CPU seconds and MB/s, and open + verify MB/s. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "ckpt/ckpt.h"
#include "util/xmalloc.h"

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int scattered = argc == 5 && strcmp(argv[4], "scattered") == 0;
    if ((argc != 4 && argc != 5) || (argc == 5 && !scattered && strcmp(argv[4], "contiguous"))) {
        fprintf(stderr, "usage: ckpt_write_bench DIR TOTAL_MB BLOB_KB [contiguous|scattered]\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t total = (size_t)atol(argv[2]) << 20, blob = (size_t)atol(argv[3]) << 10;
    if (!total || !blob || blob > total) {
        fprintf(stderr, "ckpt_write_bench: bad sizes\n");
        return 2;
    }
    size_t n = total / blob;
    uint8_t *data = xmalloc(n * blob);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n * blob / 8; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ((uint64_t *)data)[i] = x;
    }
    ckpt_blob *b = xcalloc(n, sizeof *b);
    int par = 4;
    for (size_t i = 0; i < n; i++) {
        size_t kg = scattered ? n - 1 - i : i;
        b[i] = (ckpt_blob){"window/agg", (int)(kg * (size_t)par / n), CKPT_KEYED, (int)kg,
                           data + i * blob, blob};
    }
    ckpt_op_meta op = {"window/agg", par, "k:i64, sum:f64", "window"};
    ckpt_meta m = {.job = "bench", .checkpoint_id = 1, .timestamp_ms = 0,
                   .max_parallelism = (int)n, .ntms = 1, .nops = 1, .ops = &op};
    mpf_err e = {0};
    if (ckpt_lib_init(&e))
        goto fail;
    double c0 = cpu(), t0 = now();
    if (ckpt_write_tm(dir, 1, &m, b, n, &e))
        goto fail;
    double t1 = now(), c1 = cpu();
    if (ckpt_write_metadata(dir, &m, &e))
        goto fail;
    ckpt *c;
    double t2 = now();
    if (ckpt_open(dir, &c, &e))
        goto fail;
    double t3 = now();
    ckpt_close(c);
    double mb = (double)(n * blob) / 1e6;
    printf("bytes=%zu blobs=%zu write_s=%.3f write_cpu_s=%.3f write_mb_s=%.0f "
           "open_verify_mb_s=%.0f\n",
           n * blob, n, t1 - t0, c1 - c0, mb / (t1 - t0), mb / (t3 - t2));
    free(b);
    free(data);
    return 0;
fail:
    fprintf(stderr, "ckpt_write_bench: %s\n", e.msg);
    return 1;
}
