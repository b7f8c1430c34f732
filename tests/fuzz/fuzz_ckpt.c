/* Fuzz harness of the checkpoint reader (tests): damaged files go through
 * everything that reads a checkpoint (ckpt_find_latest, ckpt_open with
 * and without the checksum pass, ckpt_read of every operator, the
 * inspect summary); none may crash, hang or trip a sanitizer. A base
 * checkpoint (tests/helpers/ckpt_sample) is copied into a scratch
 * <tmp>/wc/chk-3 and one of its files replaced by the input.
 *
 *   fuzz_ckpt --base DIR FILE|DIR...
 *       replay: every file given (or in a directory given) as tm-1.h5 and
 *       then as _metadata.h5, in this process.
 *   fuzz_ckpt --base DIR --iterations N [--seed S] [--save DIR] [--timeout SEC]
 *       mutation loop: iteration i damages a file of the base (bit and
 *       byte flips, interesting integers, copied blocks, truncation;
 *       chosen from S and i alone, so "--seed S --only i" repeats it, in
 *       this process) and runs the reader in a child process. A crash or a run longer than
 *       SEC (default 10) is reported with its seed and iteration and the
 *       input kept in the --save directory; the loop goes on. Exit 1 if
 *       any failed.
 *
 * Built with -DMPIFLOW_FUZZ=ON by clang, fuzz_ckpt_libfuzzer is the same
 * target for libFuzzer (FUZZ_CKPT_BASE names the base directory). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ckpt/ckpt.h"
#include "util/xmalloc.h"

static const char *const targets[] = {"tm-1.h5", "_metadata.h5", "tm-2.h5"};
enum { NTARGETS = 3 };

typedef struct buf {
    uint8_t *p;
    size_t n;
} buf;

static char g_root[512]; /* scratch root: <root>/wc/chk-3 */
static char g_chk[600];
static buf g_base[NTARGETS];

static void die(const char *what)
{
    fprintf(stderr, "fuzz_ckpt: %s: %s\n", what, strerror(errno));
    exit(2);
}

static buf slurp(const char *path)
{
    buf b = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    size_t cap = 0;
    for (;;) {
        if (b.n == cap)
            b.p = xrealloc(b.p, cap = cap ? 2 * cap : 65536);
        size_t r = fread(b.p + b.n, 1, cap - b.n, f);
        if (!r)
            break;
        b.n += r;
    }
    fclose(f);
    return b;
}

static void put(const char *name, const uint8_t *p, size_t n)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", g_chk, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die(path);
    for (size_t at = 0; at < n;) {
        ssize_t w = write(fd, p + at, n - at);
        if (w <= 0)
            die(path);
        at += (size_t)w;
    }
    close(fd);
}

static void restore_base(void)
{
    for (int t = 0; t < NTARGETS; t++)
        put(targets[t], g_base[t].p, g_base[t].n);
}

/* Load the base checkpoint and make the scratch copy. */
static void setup(const char *base)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/fuzz_ckpt.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_root))
        die("mkdtemp");
    snprintf(g_chk, sizeof g_chk, "%s/wc", g_root);
    mkdir(g_chk, 0777);
    snprintf(g_chk, sizeof g_chk, "%s/wc/chk-3", g_root);
    if (mkdir(g_chk, 0777) != 0)
        die(g_chk);
    for (int t = 0; t < NTARGETS; t++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s", base, targets[t]);
        g_base[t] = slurp(path);
    }
    restore_base();
    mpf_err e = {0};
    if (ckpt_lib_init(&e)) {
        fprintf(stderr, "fuzz_ckpt: %s\n", e.msg);
        exit(2);
    }
}

static void cleanup(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_ckpt: cannot remove %s\n", g_root);
}

static int touch_blob(void *arg, const ckpt_blob *b, mpf_err *e)
{
    (void)e;
    uint64_t *sum = arg;
    const uint8_t *p = b->data;
    for (size_t i = 0; i < b->len; i++)
        *sum += p[i];
    *sum += (uint64_t)b->key_group + (uint64_t)b->subtask + strlen(b->uid);
    return 0;
}

/* Everything that reads a checkpoint; the outcome does not matter. */
static uint64_t run_reader(void)
{
    uint64_t sum = 0;
    char found[1024];
    mpf_err e = {0};
    ckpt_find_latest(g_root, NULL, "wc", found, sizeof found, &e);
    static const unsigned flags[] = {0, CKPT_OPEN_NO_VERIFY};
    for (int k = 0; k < 2; k++) {
        ckpt *c = NULL;
        if (ckpt_open_flags(g_chk, flags[k], &c, &e) != 0) {
            sum += strlen(e.msg);
            continue;
        }
        const ckpt_meta *m = ckpt_meta_get(c);
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull) {
            ckpt_print_summary(c, devnull);
            fclose(devnull);
        }
        for (int i = 0; i < m->nops; i++)
            ckpt_read(c, m->ops[i].uid, 0, m->max_parallelism - 1, 1, touch_blob, &sum, &e);
        ckpt_close(c);
    }
    return sum;
}

/* Run input as each of tm-1.h5 and _metadata.h5. */
static void run_input(const uint8_t *p, size_t n)
{
    for (int t = 0; t < 2; t++) {
        put(targets[t], p, n);
        run_reader();
        put(targets[t], g_base[t].p, g_base[t].n);
    }
}

#ifdef FUZZ_CKPT_LIBFUZZER
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *base = getenv("FUZZ_CKPT_BASE");
    if (!base) {
        fprintf(stderr, "fuzz_ckpt: set FUZZ_CKPT_BASE to a directory written by ckpt_sample\n");
        exit(2);
    }
    setup(base);
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_input(data, size);
    return 0;
}
#else

/* splitmix64: the whole mutation follows from (seed, iteration). */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n)
{
    return n ? next(s) % n : 0;
}

/* Damage a copy of base target *t (chosen here) into out. */
static void mutate(uint64_t seed, uint64_t iter, int *t, buf *out)
{
    uint64_t s = seed * 0x100000001B3ull ^ (iter + 1) * 0xD6E8FEB86659FD93ull;
    next(&s);
    uint64_t r = below(&s, 10);
    *t = r < 5 ? 0 : r < 9 ? 1 : 2;
    const buf *b = &g_base[*t];
    out->n = b->n;
    out->p = xmalloc(b->n + 16);
    memcpy(out->p, b->p, b->n);
    static const uint64_t interesting[] = {0,          1,          0x7f,       0x80,
                                           0xff,       0x7fff,     0x8000,     0xffff,
                                           0x7fffffff, 0x80000000, 0xffffffff, 1ull << 40,
                                           ~0ull,      32,         52,         16};
    int nmut = 1 + (int)below(&s, 4);
    for (int k = 0; k < nmut && out->n; k++) {
        size_t at = (size_t)below(&s, out->n);
        switch (below(&s, 16)) {
        case 0: case 1: case 2: case 3: case 4: /* one bit */
            out->p[at] ^= (uint8_t)(1u << below(&s, 8));
            break;
        case 5: case 6: case 7: /* one byte */
            out->p[at] = (uint8_t)next(&s);
            break;
        case 8: case 9: case 10: case 11: { /* an interesting integer, 1-8 bytes LE */
            uint64_t v = interesting[below(&s, sizeof interesting / sizeof *interesting)];
            size_t w = (size_t)1 << below(&s, 4);
            for (size_t i = 0; i < w && at + i < out->n; i++)
                out->p[at + i] = (uint8_t)(v >> (8 * i));
            break;
        }
        case 12: case 13: { /* a block copied from elsewhere */
            size_t from = (size_t)below(&s, out->n), len = 1 + (size_t)below(&s, 64);
            if (from + len > out->n)
                len = out->n - from;
            if (at + len > out->n)
                len = out->n - at;
            memmove(out->p + at, out->p + from, len);
            break;
        }
        case 14: /* cut short */
            out->n = at;
            break;
        default: /* small integer nudge */
            out->p[at] = (uint8_t)(out->p[at] + (below(&s, 2) ? 1 : -1));
            break;
        }
    }
}

static int save_input(const char *dir, uint64_t seed, uint64_t iter, int t, const buf *in)
{
    if (!dir)
        return 0;
    mkdir(dir, 0777);
    char path[1024];
    snprintf(path, sizeof path, "%s/crash-s%llu-i%llu-%s", dir, (unsigned long long)seed,
             (unsigned long long)iter, targets[t]);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(in->p, 1, in->n, f) != in->n) {
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    fprintf(stderr, "fuzz_ckpt:   input kept as %s\n", path);
    return 0;
}

static int mutation_loop(uint64_t seed, uint64_t first, uint64_t n, const char *save,
                         int timeout)
{
    uint64_t failed = 0, hangs = 0;
    time_t start = time(NULL);
    for (uint64_t i = first; i < first + n; i++) {
        int t;
        buf in;
        mutate(seed, i, &t, &in);
        put(targets[t], in.p, in.n);
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            alarm((unsigned)timeout);
            run_reader();
            _exit(0);
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
            int hang = WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM;
            failed++;
            hangs += hang;
            if (WIFSIGNALED(st))
                fprintf(stderr, "fuzz_ckpt: seed %llu iteration %llu (%s): %s (signal %d)\n",
                        (unsigned long long)seed, (unsigned long long)i, targets[t],
                        hang ? "hang" : "crash", WTERMSIG(st));
            else
                fprintf(stderr, "fuzz_ckpt: seed %llu iteration %llu (%s): exit %d\n",
                        (unsigned long long)seed, (unsigned long long)i, targets[t],
                        WEXITSTATUS(st));
            save_input(save, seed, i, t, &in);
        }
        put(targets[t], g_base[t].p, g_base[t].n);
        free(in.p);
    }
    printf("fuzz_ckpt: seed %llu: %llu iterations in %lld s, %llu failed (%llu hangs)\n",
           (unsigned long long)seed, (unsigned long long)n, (long long)(time(NULL) - start),
           (unsigned long long)failed, (unsigned long long)hangs);
    return failed ? 1 : 0;
}

static int replay_path(const char *path, int *count)
{
    struct stat st;
    if (stat(path, &st) != 0)
        die(path);
    if (!S_ISDIR(st.st_mode)) {
        buf b = slurp(path);
        run_input(b.p, b.n);
        free(b.p);
        (*count)++;
        return 0;
    }
    DIR *d = opendir(path);
    if (!d)
        die(path);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || (len > 3 && !strcmp(de->d_name + len - 3, ".md")))
            continue;
        char *p = xasprintf("%s/%s", path, de->d_name);
        replay_path(p, count);
        free(p);
    }
    closedir(d);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: fuzz_ckpt --base DIR FILE|DIR...\n"
            "       fuzz_ckpt --base DIR --iterations N [--seed S] [--only I] [--save DIR] "
            "[--timeout SEC]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *base = NULL, *save = NULL;
    uint64_t seed = 1, iters = 0, only = UINT64_MAX;
    int timeout = 10, i;
    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc)
            usage();
        const char *v = argv[i + 1];
        if (!strcmp(argv[i], "--base"))
            base = v;
        else if (!strcmp(argv[i], "--save"))
            save = v;
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(v, NULL, 0);
        else if (!strcmp(argv[i], "--iterations"))
            iters = strtoull(v, NULL, 0);
        else if (!strcmp(argv[i], "--only"))
            only = strtoull(v, NULL, 0);
        else if (!strcmp(argv[i], "--timeout"))
            timeout = atoi(v);
        else
            usage();
    }
    if (!base || (!iters && only == UINT64_MAX && i >= argc) || timeout < 1)
        usage();
    setup(base);
    int rc = 0;
    if (only != UINT64_MAX) { /* in this process, for a debugger */
        int t;
        buf in;
        mutate(seed, only, &t, &in);
        put(targets[t], in.p, in.n);
        run_reader();
        save_input(save, seed, only, t, &in);
        free(in.p);
        printf("fuzz_ckpt: seed %llu iteration %llu (%s) ran\n", (unsigned long long)seed,
               (unsigned long long)only, targets[t]);
    }
    else if (iters)
        rc = mutation_loop(seed, 0, iters, save, timeout);
    int count = 0;
    for (; i < argc; i++)
        replay_path(argv[i], &count);
    if (count)
        printf("fuzz_ckpt: replayed %d inputs\n", count);
    cleanup();
    return rc;
}
#endif
