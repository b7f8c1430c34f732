/* Test helper: writes a small, fully known checkpoint for the e2e tests of
 * `mpiflow inspect` (tests/e2e/inspect.sh), through the same ckpt_write_*
 * calls the runtime uses.
 *   ckpt_sample [--legacy] DIR
 * --legacy writes the HDF5 format of earlier builds (no metadata
 * checksums), for the compatibility and fuzz tests.
 * Job "wc", checkpoint 3, taken 2025-11-21 19:47:33.123 UTC, max-parallelism
 * 8, two TaskManagers. Operator "counts/local" (aggregate, parallelism 2):
 * key group k (0..7) belongs to subtask k/4 on TaskManager k/4+1 and holds
 * (k+1)*100 bytes, except key group 7, which is empty. Operator "lines"
 * (source, parallelism 2): operator state of 16 bytes (subtask 0) and 24
 * bytes (subtask 1). Byte i of a blob is (7*i + k) mod 256. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ckpt/ckpt.h"

static unsigned char *pattern(size_t n, int k)
{
    unsigned char *p = malloc(n ? n : 1);
    if (!p)
        abort();
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((7 * i + (size_t)k) & 0xff);
    return p;
}

int main(int argc, char **argv)
{
    int legacy = argc == 3 && strcmp(argv[1], "--legacy") == 0;
    if (argc != 2 + legacy) {
        fprintf(stderr, "usage: ckpt_sample [--legacy] DIR\n");
        return 2;
    }
    const char *dir = argv[argc - 1];
    ckpt_set_legacy_format(legacy);
    ckpt_op_meta ops[2] = {
        {"counts/local", 2, "word:string, count:i64", "aggregate"},
        {"lines", 2, "line:string", "source"},
    };
    ckpt_meta m = {.job = "wc", .checkpoint_id = 3, .timestamp_ms = 1763754453123LL,
                   .max_parallelism = 8, .ntms = 2, .nops = 2, .ops = ops};
    mpf_err e = {0};
    if (ckpt_lib_init(&e))
        goto fail;
    for (int rank = 1; rank <= 2; rank++) {
        int sub = rank - 1;
        ckpt_blob b[5];
        int n = 0;
        for (int k = 4 * sub; k < 4 * sub + 4; k++) {
            size_t len = k == 7 ? 0 : (size_t)(k + 1) * 100;
            b[n++] = (ckpt_blob){"counts/local", sub, CKPT_KEYED, k, pattern(len, k), len};
        }
        size_t olen = sub ? 24 : 16;
        b[n++] = (ckpt_blob){"lines", sub, CKPT_OPERATOR, -1, pattern(olen, 0), olen};
        int rc = ckpt_write_tm(dir, rank, &m, b, (size_t)n, &e);
        for (int i = 0; i < n; i++)
            free((void *)b[i].data);
        if (rc)
            goto fail;
    }
    if (ckpt_write_metadata(dir, &m, &e))
        goto fail;
    return 0;
fail:
    fprintf(stderr, "ckpt_sample: %s\n", e.msg);
    return 1;
}
