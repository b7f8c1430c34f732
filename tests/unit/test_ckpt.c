/* Unit tests for ckpt (checkpoint storage): a round trip of many blobs
 * (keyed over many key groups and subtasks, operator state, empty blobs,
 * a 64 MB blob) read back by key-group range; blobs that are slices of one
 * buffer; metadata round trip;
 * rejection of damaged checkpoints (missing _metadata.h5, a truncated or
 * missing TM file, a flipped byte in keyed_data, foreign HDF5 files, an
 * unknown format version, a file that is not HDF5); damaged datatypes
 * (a compound member moved by a flipped byte, in files of the earliest
 * format and of the checksummed one; a member of the wrong type) and
 * absurd counts (parallelism, max-parallelism, TaskManagers), refused
 * with the member or count named; checkpoints in the format of earlier
 * builds still read; ckpt_find_latest;
 * ckpt_retain; and readability by h5dump. The test uses hdf5.h itself
 * only to forge damaged files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ckpt/ckpt.h"
#include "util/xmalloc.h"

enum { MAXPAR = 128, BIG = 64 << 20 };

static char g_root[256];

static char *path_in(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_in(const char *fmt, ...)
{
    char rel[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    return xasprintf("%s/%s", g_root, rel);
}

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

/* Deterministic blob contents from a seed. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

static uint64_t seed_of(int op, int kind, int kg, int sub)
{
    return (uint64_t)op * 1000003u + (uint64_t)kind * 7919u + (uint64_t)(kg + 1) * 131u +
           (uint64_t)sub;
}

/* Length of the keyed blob of "counts/local" for key group kg: some empty. */
static size_t keyed_len(int kg)
{
    return kg % 9 == 4 ? 0 : (size_t)(kg * 37 % 5000) + 1;
}

static char *ops_uid[] = {"counts/local", "src", "agg", "nostate"};

static void make_meta(ckpt_meta *m, ckpt_op_meta *ops, int64_t id, int64_t ts)
{
    static char *kinds[] = {"aggregate", "source", "aggregate", "map"};
    static char *schemas[] = {"word:string, count:i64", "line:string", "k:i64, sum:f64", ""};
    static const int par[] = {4, 2, 3, 1};
    for (int i = 0; i < 4; i++)
        ops[i] = (ckpt_op_meta){ops_uid[i], par[i], schemas[i], kinds[i]};
    *m = (ckpt_meta){.job = "wc", .checkpoint_id = id, .timestamp_ms = ts,
                     .max_parallelism = MAXPAR, .ntms = 2, .nops = 4, .ops = ops};
}

/* Subtask of "counts/local" (parallelism 4) owning kg, and its rank. */
static int sub_of(int kg)
{
    return kg * 4 / MAXPAR;
}

/* Write a full checkpoint into dir: TM 1 holds subtasks 0-1 of
 * counts/local, src#0 and agg's big blob; TM 2 the rest. big: include
 * the 64 MB blob. */
static void write_checkpoint(const char *dir, int64_t id, int64_t ts, int big)
{
    ckpt_op_meta ops[4];
    ckpt_meta m;
    make_meta(&m, ops, id, ts);
    for (int rank = 1; rank <= 2; rank++) {
        ckpt_blob *b = xcalloc(MAXPAR + 8, sizeof *b);
        uint8_t **bufs = xcalloc(MAXPAR + 8, sizeof *bufs);
        size_t n = 0;
        /* keyed blobs given in descending order: the writer sorts */
        for (int kg = MAXPAR - 1; kg >= 0; kg--) {
            int s = sub_of(kg);
            if ((s < 2) != (rank == 1))
                continue;
            size_t len = keyed_len(kg);
            bufs[n] = len ? xmalloc(len) : NULL;
            fill(bufs[n], len, seed_of(0, CKPT_KEYED, kg, s));
            b[n] = (ckpt_blob){"counts/local", s, CKPT_KEYED, kg, bufs[n], len};
            n++;
        }
        /* operator state: src subtask rank-1 (24 or 0 bytes), counts/local */
        size_t olen = rank == 1 ? 24 : 0;
        bufs[n] = xmalloc(24);
        fill(bufs[n], olen, seed_of(1, CKPT_OPERATOR, -1, rank - 1));
        b[n] = (ckpt_blob){"src", rank - 1, CKPT_OPERATOR, -1, bufs[n], olen};
        n++;
        for (int s = 2 * (rank - 1); s < 2 * rank; s++) {
            bufs[n] = xmalloc(100 + (size_t)s);
            fill(bufs[n], 100 + (size_t)s, seed_of(0, CKPT_OPERATOR, -1, s));
            b[n] = (ckpt_blob){"counts/local", s, CKPT_OPERATOR, -1, bufs[n], 100 + (size_t)s};
            n++;
        }
        if (big && rank == 1) {
            bufs[n] = xmalloc(BIG);
            fill(bufs[n], BIG, seed_of(2, CKPT_KEYED, 5, 0));
            b[n] = (ckpt_blob){"agg", 0, CKPT_KEYED, 5, bufs[n], BIG};
            n++;
        }
        mpf_err e = {0};
        if (ckpt_write_tm(dir, rank, &m, b, n, &e))
            fail_msg("ckpt_write_tm: %s", e.msg);
        for (size_t i = 0; i < n; i++)
            free(bufs[i]);
        free(bufs);
        free(b);
    }
    mpf_err e = {0};
    if (ckpt_write_metadata(dir, &m, &e))
        fail_msg("ckpt_write_metadata: %s", e.msg);
}

typedef struct seen {
    int count, keyed, oper;
    size_t bytes;
    int kg_seen[MAXPAR];
    int sub_seen[8];
    int stop_after;
} seen;

static int check_blob(void *arg, const ckpt_blob *b, mpf_err *e)
{
    seen *s = arg;
    int op = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(b->uid, ops_uid[i]) == 0)
            op = i;
    assert_true(op >= 0);
    size_t want;
    if (b->kind == CKPT_KEYED) {
        assert_true(b->key_group >= 0 && b->key_group < MAXPAR);
        s->kg_seen[b->key_group]++;
        s->keyed++;
        if (op == 0) {
            assert_int_equal(b->subtask, sub_of(b->key_group));
            want = keyed_len(b->key_group);
        } else {
            want = BIG;
        }
    } else {
        assert_int_equal(b->kind, CKPT_OPERATOR);
        assert_int_equal(b->key_group, -1);
        s->sub_seen[b->subtask]++;
        s->oper++;
        want = op == 0 ? 100 + (size_t)b->subtask : b->subtask == 0 ? 24 : 0;
    }
    assert_int_equal(b->len, want);
    uint8_t *exp = xmalloc(want ? want : 1);
    fill(exp, want, seed_of(op, b->kind, b->key_group, b->subtask));
    if (want)
        assert_memory_equal(b->data, exp, want);
    free(exp);
    s->bytes += b->len;
    s->count++;
    if (s->stop_after && s->count == s->stop_after)
        return err_set(e, MPF_ECANCELED, "stop");
    return 0;
}

static void test_round_trip(void **state)
{
    (void)state;
    char *dir = path_in("chk/wc/chk-7");
    write_checkpoint(dir, 7, 1763754453123, 1);
    ckpt *c = NULL;
    mpf_err e = {0};
    if (ckpt_open(dir, &c, &e))
        fail_msg("ckpt_open: %s", e.msg);
    const ckpt_meta *m = ckpt_meta_get(c);
    assert_string_equal(m->job, "wc");
    assert_int_equal(m->checkpoint_id, 7);
    assert_int_equal(m->timestamp_ms, 1763754453123);
    assert_int_equal(m->max_parallelism, MAXPAR);
    assert_int_equal(m->ntms, 2);
    assert_int_equal(m->is_savepoint, 0);
    assert_int_equal(m->nops, 4);
    assert_string_equal(m->ops[0].uid, "counts/local");
    assert_int_equal(m->ops[0].parallelism, 4);
    assert_string_equal(m->ops[0].schema, "word:string, count:i64");
    assert_string_equal(m->ops[0].kind, "aggregate");
    assert_string_equal(m->ops[3].schema, "");

    /* key groups 10..70 of counts/local: spans both TMs, no operator state */
    seen s = {0};
    assert_int_equal(ckpt_read(c, "counts/local", 10, 70, 0, check_blob, &s, &e), 0);
    assert_int_equal(s.keyed, 61);
    assert_int_equal(s.oper, 0);
    for (int kg = 0; kg < MAXPAR; kg++)
        assert_int_equal(s.kg_seen[kg], kg >= 10 && kg <= 70);

    /* everything of counts/local */
    memset(&s, 0, sizeof s);
    assert_int_equal(ckpt_read(c, "counts/local", 0, MAXPAR - 1, 1, check_blob, &s, &e), 0);
    assert_int_equal(s.keyed, MAXPAR);
    assert_int_equal(s.oper, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(s.sub_seen[i], 1);

    /* operator state only; one of the two src blobs is empty */
    memset(&s, 0, sizeof s);
    assert_int_equal(ckpt_read(c, "src", 1, 0, 1, check_blob, &s, &e), 0);
    assert_int_equal(s.oper, 2);
    assert_int_equal(s.bytes, 24);

    /* the 64 MB blob, and a range that misses it */
    memset(&s, 0, sizeof s);
    assert_int_equal(ckpt_read(c, "agg", 0, MAXPAR - 1, 1, check_blob, &s, &e), 0);
    assert_int_equal(s.keyed, 1);
    assert_int_equal(s.bytes, BIG);
    memset(&s, 0, sizeof s);
    assert_int_equal(ckpt_read(c, "agg", 6, MAXPAR - 1, 1, check_blob, &s, &e), 0);
    assert_int_equal(s.count, 0);

    /* listed without state; unknown uid */
    memset(&s, 0, sizeof s);
    assert_int_equal(ckpt_read(c, "nostate", 0, MAXPAR - 1, 1, check_blob, &s, &e), 0);
    assert_int_equal(s.count, 0);
    assert_int_equal(ckpt_read(c, "nope", 0, 1, 1, check_blob, &s, &e), MPF_ENOENT);
    assert_non_null(strstr(e.msg, "'nope'"));

    /* the callback stops the walk */
    memset(&s, 0, sizeof s);
    s.stop_after = 3;
    assert_int_equal(ckpt_read(c, "counts/local", 0, MAXPAR - 1, 1, check_blob, &s, &e),
                     MPF_ECANCELED);
    assert_int_equal(s.count, 3);

    /* the summary names operators and sizes */
    char *sum = NULL;
    size_t sumlen = 0;
    FILE *f = open_memstream(&sum, &sumlen);
    ckpt_print_summary(c, f);
    fclose(f);
    assert_non_null(strstr(sum, "checkpoint 7 of job 'wc'"));
    assert_non_null(strstr(sum, "operator 'counts/local'"));
    assert_non_null(strstr(sum, "bytes per subtask: 100 101 102 103"));
    assert_non_null(strstr(sum, "bytes per subtask: 24 0"));
    assert_non_null(strstr(sum, "(67108864 bytes) in 1 key groups"));
    free(sum);
    ckpt_close(c);

    /* without verification at open, reads still work */
    if (ckpt_open_flags(dir, CKPT_OPEN_NO_VERIFY, &c, &e))
        fail_msg("ckpt_open_flags: %s", e.msg);
    memset(&s, 0, sizeof s);
    assert_int_equal(ckpt_read(c, "counts/local", 0, MAXPAR - 1, 1, check_blob, &s, &e), 0);
    assert_int_equal(s.count, MAXPAR + 4);
    ckpt_close(c);

    /* h5dump (hdf5-tools) reads both kinds of file */
    if (system("command -v h5dump >/dev/null 2>&1") == 0) {
        run("h5dump -H '%s/tm-1.h5' | grep -q 'GROUP \"counts%%2Flocal\"'", dir);
        run("h5dump -A '%s/tm-1.h5' | grep -q 'format_version'", dir);
        run("h5dump -d /taskmanager_files '%s/_metadata.h5' | grep -q 'tm-2.h5'", dir);
        run("h5dump -d /operators '%s/_metadata.h5' | grep -q 'word:string, count:i64'", dir);
    }
    free(dir);
}

/* Blobs that are slices of one buffer (the writer writes such runs in
 * place, splitting long ones) mixed with scattered and empty ones. */
typedef struct slice_check {
    const uint8_t *buf;
    const size_t *off, *len;
    int count, nkg;
} slice_check;

/* Slice of the buffer holding key group kg: 0..199 in memory order,
 * 200..399 backwards, so only the first half forms one run. */
static int slot_of(int kg)
{
    return kg < 200 ? kg : 599 - kg;
}

static int check_slice(void *arg, const ckpt_blob *b, mpf_err *e)
{
    (void)e;
    slice_check *sc = arg;
    int i = b->kind == CKPT_KEYED ? slot_of(b->key_group) : sc->nkg + b->subtask;
    assert_int_equal(b->len, sc->len[i]);
    if (b->len)
        assert_memory_equal(b->data, sc->buf + sc->off[i], b->len);
    sc->count++;
    return 0;
}

static void test_runs(void **state)
{
    (void)state;
    enum { NKG = 400, NOP = 3 };
    size_t off[NKG + NOP], len[NKG + NOP], total = 0;
    for (int i = 0; i < NKG + NOP; i++) {
        /* mostly small, some of 3 MB and one of 40 MB; a few empty */
        len[i] = i == 200 ? (size_t)40 << 20 : i % 50 == 7 ? (size_t)3 << 20
                 : i % 13 == 0 ? 0 : (size_t)(i * 7919 % 70000) + 1;
        off[i] = total;
        total += len[i];
    }
    uint8_t *buf = xmalloc(total);
    fill(buf, total, 42);
    ckpt_blob *b = xcalloc(NKG + NOP, sizeof *b);
    for (int i = 0; i < NKG; i++) {
        int kg = (i * 37) % NKG; /* given in scrambled order */
        b[i] = (ckpt_blob){"runs", kg % 4, CKPT_KEYED, kg, buf + off[slot_of(kg)],
                           len[slot_of(kg)]};
    }
    for (int s = 0; s < NOP; s++)
        b[NKG + s] = (ckpt_blob){"runs", s, CKPT_OPERATOR, -1, buf + off[NKG + s], len[NKG + s]};
    ckpt_op_meta op = {"runs", 4, "", ""};
    ckpt_meta m = {.job = "runs", .checkpoint_id = 1, .timestamp_ms = 1,
                   .max_parallelism = 512, .ntms = 1, .nops = 1, .ops = &op};
    char *dir = path_in("runs/chk-1");
    mpf_err e = {0};
    if (ckpt_write_tm(dir, 1, &m, b, NKG + NOP, &e) || ckpt_write_metadata(dir, &m, &e))
        fail_msg("write: %s", e.msg);
    ckpt *c;
    if (ckpt_open(dir, &c, &e))
        fail_msg("open: %s", e.msg);
    slice_check sc = {buf, off, len, 0, NKG};
    assert_int_equal(ckpt_read(c, "runs", 0, 511, 1, check_slice, &sc, &e), 0);
    assert_int_equal(sc.count, NKG + NOP);
    sc.count = 0;
    assert_int_equal(ckpt_read(c, "runs", 150, 250, 0, check_slice, &sc, &e), 0);
    assert_int_equal(sc.count, 101);
    ckpt_close(c);
    free(b);
    free(buf);
    free(dir);
}

static void test_write_rejects(void **state)
{
    (void)state;
    ckpt_op_meta ops[4];
    ckpt_meta m;
    make_meta(&m, ops, 1, 1);
    char *dir = path_in("bad-write");
    uint8_t x[4] = {1, 2, 3, 4};
    ckpt_blob dup[2] = {{"a", 0, CKPT_KEYED, 3, x, 4}, {"a", 1, CKPT_KEYED, 3, x, 2}};
    mpf_err e = {0};
    assert_int_equal(ckpt_write_tm(dir, 1, &m, dup, 2, &e), MPF_EINVAL);
    assert_non_null(strstr(e.msg, "key group 3 of operator 'a' given twice"));
    ckpt_blob badkg = {"a", 0, CKPT_KEYED, MAXPAR, x, 4};
    assert_int_equal(ckpt_write_tm(dir, 1, &m, &badkg, 1, &e), MPF_EINVAL);
    /* metadata needs every TM file */
    ckpt_blob ok = {"a", 0, CKPT_KEYED, 0, x, 4};
    assert_int_equal(ckpt_write_tm(dir, 1, &m, &ok, 1, &e), 0);
    struct stat st;
    /* written under a temporary name, renamed when complete */
    char *tm1 = xasprintf("%s/tm-1.h5", dir), *tmp1 = xasprintf("%s/tm-1.h5.tmp", dir);
    assert_int_equal(stat(tm1, &st), 0);
    assert_int_not_equal(stat(tmp1, &st), 0);
    free(tm1);
    free(tmp1);
    assert_int_equal(ckpt_write_metadata(dir, &m, &e), MPF_ENOENT);
    assert_non_null(strstr(e.msg, "tm-2.h5: missing"));
    char *meta = xasprintf("%s/_metadata.h5", dir);
    assert_int_not_equal(stat(meta, &st), 0);
    free(meta);
    free(dir);
}

/* A small complete checkpoint in <root>/<name>, for damaging. */
static char *fresh(const char *name)
{
    char *dir = path_in("%s", name);
    run("rm -rf '%s'", dir);
    write_checkpoint(dir, 3, 1000, 0);
    return dir;
}

static void expect_open_fails(const char *dir, int code, const char *needle)
{
    ckpt *c = (ckpt *)1;
    mpf_err e = {0};
    int rc = ckpt_open(dir, &c, &e);
    assert_null(c);
    if (rc != code || !strstr(e.msg, needle))
        fail_msg("ckpt_open(%s) = %d '%s', wanted %d with '%s'", dir, rc, e.msg, code, needle);
}

/* Set a root attribute of an HDF5 file to an int value. */
static void set_int_attr(const char *path, const char *name, int v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, H5T_NATIVE_INT, &v) >= 0);
    H5Aclose(a);
    H5Fclose(f);
}

static void write_foreign(const char *path)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    hsize_t dim = 4;
    int data[4] = {1, 2, 3, 4};
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(f, "temperature", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
}

static void test_open_rejects(void **state)
{
    (void)state;
    char *p, *dir;

    /* no _metadata.h5: the checkpoint does not exist */
    dir = fresh("r-nometa");
    p = xasprintf("%s/_metadata.h5", dir);
    unlink(p);
    expect_open_fails(dir, MPF_ENOENT, "not a completed checkpoint (no _metadata.h5)");
    free(p);
    free(dir);
    expect_open_fails("/nonexistent/chk-1", MPF_ENOENT, "/nonexistent/chk-1");

    /* truncated TM file */
    dir = fresh("r-trunc");
    p = xasprintf("%s/tm-2.h5", dir);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(truncate(p, st.st_size / 2), 0);
    expect_open_fails(dir, MPF_EIO, "tm-2.h5: truncated or damaged HDF5 file");
    free(p);
    free(dir);

    /* missing TM file */
    dir = fresh("r-missing");
    p = xasprintf("%s/tm-1.h5", dir);
    unlink(p);
    expect_open_fails(dir, MPF_ENOENT, "tm-1.h5: missing");
    free(p);
    free(dir);

    /* one flipped byte inside keyed_data: checksum */
    dir = fresh("r-flip");
    p = xasprintf("%s/tm-2.h5", dir);
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/operators/counts%2Flocal/keyed_data", H5P_DEFAULT);
    assert_true(d >= 0);
    haddr_t at = H5Dget_offset(d);
    hid_t sp = H5Dget_space(d);
    hssize_t len = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    assert_true(at != HADDR_UNDEF && len > 1000);
    int fd = open(p, O_RDWR);
    uint8_t byte;
    assert_int_equal(pread(fd, &byte, 1, (off_t)(at + (haddr_t)len / 2)), 1);
    byte ^= 0x40;
    assert_int_equal(pwrite(fd, &byte, 1, (off_t)(at + (haddr_t)len / 2)), 1);
    close(fd);
    expect_open_fails(dir, MPF_EIO, "of operator 'counts/local' fails its checksum");
    expect_open_fails(dir, MPF_EIO, "tm-2.h5: keyed blob");
    /* without verification at open, ckpt_read catches it */
    ckpt *c;
    mpf_err e = {0};
    assert_int_equal(ckpt_open_flags(dir, CKPT_OPEN_NO_VERIFY, &c, &e), 0);
    seen s = {0};
    assert_int_equal(ckpt_read(c, "counts/local", 0, MAXPAR - 1, 0, check_blob, &s, &e),
                     MPF_EIO);
    assert_non_null(strstr(e.msg, "fails its checksum"));
    ckpt_close(c);
    free(p);
    free(dir);

    /* a valid HDF5 file that is not ours, as a TM file and as metadata */
    dir = fresh("r-foreign");
    p = xasprintf("%s/tm-1.h5", dir);
    write_foreign(p);
    expect_open_fails(dir, MPF_EIO, "tm-1.h5: not an mpiflow checkpoint file");
    free(p);
    p = xasprintf("%s/_metadata.h5", dir);
    write_foreign(p);
    expect_open_fails(dir, MPF_EIO, "_metadata.h5: not an mpiflow checkpoint file");
    free(p);
    free(dir);

    /* unknown format version */
    dir = fresh("r-version");
    p = xasprintf("%s/tm-2.h5", dir);
    set_int_attr(p, "format_version", 7);
    expect_open_fails(dir, MPF_EIO, "tm-2.h5: format version 7 is not supported (this mpiflow reads 1)");
    free(p);
    p = xasprintf("%s/_metadata.h5", dir);
    set_int_attr(p, "format_version", 2);
    expect_open_fails(dir, MPF_EIO, "_metadata.h5: format version 2 is not supported");
    free(p);
    free(dir);

    /* a file from another checkpoint */
    dir = fresh("r-other");
    p = xasprintf("%s/tm-1.h5", dir);
    set_int_attr(p, "checkpoint_id", 4);
    expect_open_fails(dir, MPF_EIO, "tm-1.h5: belongs to checkpoint 4, not 3");
    free(p);
    free(dir);

    /* not HDF5 at all */
    dir = fresh("r-text");
    p = xasprintf("%s/tm-1.h5", dir);
    FILE *tf = fopen(p, "w");
    fputs("word,count\nhello,3\n", tf);
    fclose(tf);
    expect_open_fails(dir, MPF_EIO, "tm-1.h5: not an HDF5 file");
    free(p);
    p = xasprintf("%s/_metadata.h5", dir);
    tf = fopen(p, "w");
    fclose(tf);
    expect_open_fails(dir, MPF_EIO, "_metadata.h5: not an HDF5 file");
    free(p);
    free(dir);
}

/* Whole file into memory; *n its size. */
static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = xmalloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* File position of the byte offset of compound member `name` in the first
 * datatype message that places it at byte `at` (found as h5dump -p would
 * not: by the encoding). Version 1/2 datatype messages (files of the
 * earliest format) pad the name to 8 bytes and store the offset in 4;
 * version 3 (V18 and later) does not pad and stores it in as few bytes as
 * the type's size needs (one, for ours). -1 when not found. */
static long member_offset_pos(const char *path, const char *name, unsigned at)
{
    size_t n, len = strlen(name) + 1;
    uint8_t *b = slurp(path, &n);
    long pos = -1;
    for (size_t p = 0; p + len + 8 <= n && pos < 0; p++) {
        if (memcmp(b + p, name, len) != 0)
            continue;
        size_t pad = (len + 7) & ~(size_t)7, q = p + len;
        int zeros = 1;
        for (size_t i = q; i < p + pad; i++)
            zeros &= b[i] == 0;
        if (zeros && b[p + pad] == at && !b[p + pad + 1] && !b[p + pad + 2] && !b[p + pad + 3])
            pos = (long)(p + pad);
        else if (b[q] == at)
            pos = (long)q;
    }
    free(b);
    return pos;
}

static void poke(const char *path, long pos, uint8_t v)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &v, 1, (off_t)pos), 1);
    close(fd);
}

/* Move member `name` (at byte `at` of its row) of the first datatype
 * that has it in dir/file: to byte `to`, or for a legacy file, whose
 * offsets take 4 bytes, by 1 GiB. */
static void move_member(const char *dir, const char *file, const char *name, unsigned at,
                        int legacy, uint8_t to)
{
    char *p = xasprintf("%s/%s", dir, file);
    long pos = member_offset_pos(p, name, at);
    assert_true(pos > 0);
    if (legacy && to > 64)
        poke(p, pos + 3, 0x40);
    else
        poke(p, pos, to);
    free(p);
}

/* Rewrite the parallelism of every operator in _metadata.h5 through
 * HDF5, so the file stays well-formed. */
static void set_parallelism(const char *dir, int par)
{
    char *p = xasprintf("%s/_metadata.h5", dir);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "operators", H5P_DEFAULT);
    assert_true(f >= 0 && d >= 0);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(int));
    H5Tinsert(t, "parallelism", 0, H5T_NATIVE_INT);
    int v[4] = {par, par, par, par};
    assert_true(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);
    free(p);
}

/* Replace keyed_index of counts/local in tm-1.h5 by one whose 'offset'
 * is a uint32 (the row keeps its size of 32 bytes). */
static void retype_index(const char *dir)
{
    char *p = xasprintf("%s/tm-1.h5", dir);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "/operators/counts%2Flocal", H5P_DEFAULT);
    assert_true(f >= 0 && g >= 0);
    assert_true(H5Ldelete(g, "keyed_index", H5P_DEFAULT) >= 0);
    hid_t t = H5Tcreate(H5T_COMPOUND, 32);
    H5Tinsert(t, "key_group", 0, H5T_STD_I32LE);
    H5Tinsert(t, "subtask", 4, H5T_STD_I32LE);
    H5Tinsert(t, "offset", 8, H5T_STD_U32LE);
    H5Tinsert(t, "length", 16, H5T_STD_U64LE);
    H5Tinsert(t, "xxh64", 24, H5T_STD_U64LE);
    hsize_t dim = 1;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(g, "keyed_index", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    uint8_t row[32] = {0};
    assert_true(d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, row) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    H5Gclose(g);
    H5Fclose(f);
    free(p);
}

/* Nothing may crash on a damaged datatype, and the message must say
 * which member of which dataset is wrong (issue 9). Files of the
 * earliest format (earlier builds) have no metadata checksums, so the
 * reader's own checks are what stops them; files of the current format
 * fail HDF5's checksum first. */
static void test_damaged_types(void **state)
{
    (void)state;
    for (int legacy = 1; legacy >= 0; legacy--) {
        ckpt_set_legacy_format(legacy);
        /* keyed_index member 'offset' moved past the end of its 32-byte
         * row: HDF5 1.10.8 read outside its buffer (a segfault in
         * H5T__conv_struct_opt) */
        char *dir = fresh("t-offset");
        move_member(dir, "tm-1.h5", "offset", 8, legacy, 0xf8);
        expect_open_fails(dir, MPF_EIO,
                          legacy ? "tm-1.h5: operator 'counts/local': dataset 'keyed_index' "
                                   "member 'offset' has type uint64 LE at byte 1073741832, "
                                   "expected uint64 LE at byte 8"
                                 : "tm-1.h5: operator 'counts/local': cannot open dataset "
                                   "'keyed_index' (HDF5: incorrect metadata checksum");
        free(dir);

        /* operators member 'parallelism' moved inside its row (over the
         * end of schema), then past it: the value read was made of other
         * bytes, or of no bytes of the row at all */
        for (int out = 0; out < 2; out++) {
            dir = fresh("t-par");
            /* legacy: 3 strings of 16 bytes in the file; now: uid and kind
             * fixed, 13 and 10 bytes wide */
            move_member(dir, "_metadata.h5", "parallelism", legacy ? 32 : 23, legacy,
                        out ? 0xf0 : 48);
            expect_open_fails(dir, MPF_EIO,
                              legacy ? "_metadata.h5: /: dataset 'operators' member 'parallelism' "
                                       "has type int32 LE at byte"
                                     : "_metadata.h5: /: cannot open dataset 'operators' (HDF5: "
                                       "incorrect metadata checksum");
            free(dir);
        }
    }
    ckpt_set_legacy_format(0);

    /* well-formed files with absurd counts or types */
    char *dir = fresh("t-count");
    set_parallelism(dir, 1200000000);
    expect_open_fails(dir, MPF_EIO,
                      "_metadata.h5: operator 0 ('counts/local') has parallelism 1200000000 "
                      "(1 to 32768)");
    free(dir);
    dir = fresh("t-maxpar");
    char *p = xasprintf("%s/tm-2.h5", dir);
    set_int_attr(p, "max_parallelism", 1 << 30);
    expect_open_fails(dir, MPF_EIO,
                      "tm-2.h5: attribute 'max_parallelism' = 1073741824 is out of range");
    free(p);
    p = xasprintf("%s/_metadata.h5", dir);
    set_int_attr(p, "num_taskmanagers", 2000000000);
    expect_open_fails(dir, MPF_EIO,
                      "_metadata.h5: attribute 'num_taskmanagers' = 2000000000 is out of range");
    set_int_attr(p, "num_taskmanagers", 3);
    expect_open_fails(dir, MPF_EIO, "_metadata.h5: 2 taskmanager_files for num_taskmanagers = 3");
    free(p);
    free(dir);
    dir = fresh("t-time"); /* every file records the trigger time */
    p = xasprintf("%s/tm-1.h5", dir);
    set_int_attr(p, "timestamp_ms", 5);
    expect_open_fails(dir, MPF_EIO, "tm-1.h5: taken at 5 ms, but _metadata.h5 says 1000 ms");
    set_int_attr(p, "timestamp_ms", 0); /* as earlier builds wrote */
    ckpt *c = NULL;
    mpf_err e = {0};
    assert_int_equal(ckpt_open(dir, &c, &e), 0);
    ckpt_close(c);
    free(p);
    free(dir);
    dir = fresh("t-type");
    retype_index(dir);
    expect_open_fails(dir, MPF_EIO,
                      "tm-1.h5: operator 'counts/local': dataset 'keyed_index' member 'offset' "
                      "has type uint32 LE at byte 8, expected uint64 LE at byte 8");
    free(dir);
}

/* Checkpoints written by earlier builds (the earliest HDF5 format, no
 * metadata checksums) still open and read in full; inspect says so. */
static void test_legacy_format(void **state)
{
    (void)state;
    ckpt_set_legacy_format(1);
    char *dir = path_in("legacy/chk-7");
    write_checkpoint(dir, 7, 1763754453123, 0);
    ckpt_set_legacy_format(0);
    ckpt *c = NULL;
    mpf_err e = {0};
    if (ckpt_open(dir, &c, &e))
        fail_msg("ckpt_open: %s", e.msg);
    seen s = {0};
    assert_int_equal(ckpt_read(c, "counts/local", 0, MAXPAR - 1, 1, check_blob, &s, &e), 0);
    assert_int_equal(s.count, MAXPAR + 4);
    char *sum = NULL;
    size_t sumlen = 0;
    FILE *f = open_memstream(&sum, &sumlen);
    ckpt_print_summary(c, f);
    fclose(f);
    assert_non_null(strstr(sum, "HDF5 metadata:    not checksummed (superblock v0"));
    free(sum);
    ckpt_close(c);
    /* and what this build writes is checksummed */
    char *dir2 = fresh("current");
    assert_int_equal(ckpt_open(dir2, &c, &e), 0);
    f = open_memstream(&sum, &sumlen);
    ckpt_print_summary(c, f);
    fclose(f);
    assert_non_null(strstr(sum, "HDF5 metadata:    checksummed (superblock v2)"));
    free(sum);
    ckpt_close(c);
    free(dir2);
    free(dir);
}

/* A tiny complete checkpoint (one TM, one operator). */
static void tiny(const char *dir, int64_t id, int64_t ts, int savepoint)
{
    ckpt_op_meta op = {"src", 1, "", "source"};
    ckpt_meta m = {.job = "wc", .checkpoint_id = id, .timestamp_ms = ts, .max_parallelism = 8,
                   .ntms = 1, .is_savepoint = savepoint, .nops = 1, .ops = &op};
    uint8_t pos[8] = {0};
    ckpt_blob b = {"src", 0, CKPT_OPERATOR, -1, pos, sizeof pos};
    mpf_err e = {0};
    if (ckpt_write_tm(dir, 1, &m, &b, 1, &e) || ckpt_write_metadata(dir, &m, &e))
        fail_msg("tiny %s: %s", dir, e.msg);
}

static int exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int exists(const char *fmt, ...)
{
    char rel[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    char *p = xasprintf("%s/%s", g_root, rel);
    struct stat st;
    int r = stat(p, &st) == 0;
    free(p);
    return r;
}

static void test_find_latest(void **state)
{
    (void)state;
    char *chk = path_in("fl/chk"), *sp = path_in("fl/sp"), out[512];
    mpf_err e = {0};
    assert_int_equal(ckpt_find_latest(chk, sp, "wc", out, sizeof out, &e), MPF_ENOENT);
    assert_non_null(strstr(e.msg, "fl/chk/wc"));
    assert_non_null(strstr(e.msg, "fl/sp/wc"));

    char *d;
    d = path_in("fl/chk/wc/chk-1"), tiny(d, 1, 1000, 0), free(d);
    d = path_in("fl/chk/wc/chk-2"), tiny(d, 2, 3000, 0), free(d);
    d = path_in("fl/chk/wc/chk-3"), tiny(d, 3, 5000, 0), free(d);
    d = path_in("fl/chk/wc/chk-3/_metadata.h5"), unlink(d), free(d); /* incomplete */
    d = path_in("fl/chk/wc/chk-9"), mkdir(d, 0777), free(d);
    d = path_in("fl/chk/wc/chk-9/_metadata.h5");
    FILE *f = fopen(d, "w"); /* unreadable metadata: skipped */
    fputs("garbage", f);
    fclose(f);
    free(d);
    d = path_in("fl/sp/wc/savepoint-a"), tiny(d, 2, 2000, 1), free(d);
    d = path_in("fl/chk/other/chk-5"), tiny(d, 5, 9000, 0), free(d); /* another job */

    assert_int_equal(ckpt_find_latest(chk, sp, "wc", out, sizeof out, &e), 0);
    d = path_in("fl/chk/wc/chk-2");
    assert_string_equal(out, d);
    free(d);
    d = path_in("fl/sp/wc/savepoint-b"), tiny(d, 2, 4000, 1), free(d);
    assert_int_equal(ckpt_find_latest(chk, sp, "wc", out, sizeof out, &e), 0);
    d = path_in("fl/sp/wc/savepoint-b");
    assert_string_equal(out, d);
    free(d);
    assert_int_equal(ckpt_find_latest(chk, NULL, "wc", out, sizeof out, &e), 0);
    assert_non_null(strstr(out, "chk-2"));
    assert_int_equal(ckpt_find_latest(chk, sp, "wc", out, 8, &e), MPF_ERANGE);
    assert_int_equal(ckpt_find_latest(chk, sp, "nojob", out, sizeof out, &e), MPF_ENOENT);
    free(chk);
    free(sp);
}

static void test_retain(void **state)
{
    (void)state;
    char *root = path_in("ret");
    for (int i = 1; i <= 6; i++) {
        char *d = path_in("ret/wc/chk-%d", i);
        tiny(d, i, 1000 * i, 0);
        free(d);
    }
    /* chk-4 failed, chk-6 is in progress */
    char *p = path_in("ret/wc/chk-4/_metadata.h5");
    unlink(p);
    free(p);
    p = path_in("ret/wc/chk-6/_metadata.h5");
    unlink(p);
    free(p);
    p = path_in("ret/wc/notes"), mkdir(p, 0777), free(p);
    mpf_err e = {0};
    assert_int_equal(ckpt_retain(root, "wc", 2, &e), 0);
    assert_false(exists("ret/wc/chk-1"));
    assert_false(exists("ret/wc/chk-2"));
    assert_true(exists("ret/wc/chk-3/_metadata.h5"));
    assert_false(exists("ret/wc/chk-4"));
    assert_true(exists("ret/wc/chk-5/_metadata.h5"));
    assert_true(exists("ret/wc/chk-6/tm-1.h5"));
    assert_true(exists("ret/wc/notes"));
    assert_int_equal(ckpt_retain(root, "wc", 1, &e), 0);
    assert_false(exists("ret/wc/chk-3"));
    assert_true(exists("ret/wc/chk-5"));
    assert_int_equal(ckpt_retain(root, "wc", -1, &e), MPF_EINVAL);
    assert_int_equal(ckpt_retain(root, "absent", 1, &e), 0);
    /* keep 0 (a finished job): every chk-<n> goes, complete or not;
     * other files stay. */
    assert_int_equal(ckpt_retain(root, "wc", 0, &e), 0);
    assert_false(exists("ret/wc/chk-5"));
    assert_false(exists("ret/wc/chk-6"));
    assert_true(exists("ret/wc/notes"));
    /* the finished marker */
    assert_false(ckpt_is_finished(root, "wc"));
    assert_int_equal(ckpt_mark_finished(root, "wc", &e), 0);
    assert_true(ckpt_is_finished(root, "wc"));
    ckpt_clear_finished(root, "wc");
    assert_false(ckpt_is_finished(root, "wc"));
    assert_int_equal(ckpt_mark_finished(root, "new/job", &e), 0); /* creates directories */
    assert_true(ckpt_is_finished(root, "new/job"));
    free(root);
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/test_ckpt.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_root))
        return -1;
    mpf_err e = {0};
    return ckpt_lib_init(&e);
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", g_root);
    int rc = system(cmd);
    free(cmd);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_runs),
        cmocka_unit_test(test_write_rejects),
        cmocka_unit_test(test_open_rejects),
        cmocka_unit_test(test_damaged_types),
        cmocka_unit_test(test_legacy_format),
        cmocka_unit_test(test_find_latest),
        cmocka_unit_test(test_retain),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
