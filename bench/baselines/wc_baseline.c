/*
 * wc_baseline: the single-threaded WordCount that mpiflow is measured against
 * (bench layer, plain C, no MPI). A word is a maximal run of ASCII letters,
 * lower-cased. The input is mmap'ed and scanned once; each word is hashed
 * (64-bit FNV-1a) while it is scanned, through a 256-entry table that maps a
 * byte to its lower-case letter or 0. Counts live in a power-of-two linear
 * probing table of 32-byte slots {hash, count, key}: words of up to 15 bytes
 * sit in the slot itself, zero-padded with the length in the last byte, so a
 * lookup is one cache line and a 16-byte compare; longer words keep their key
 * in an arena. The scanner prefetches a word's slot and applies the update
 * PENDING_MAX words later, so cache misses on rare words overlap the scan.
 * Output is "word,count" lines in table order (unsorted).
 * The inline key layout assumes a little-endian machine.
 *
 *   wc_baseline INPUT [OUTPUT]      (OUTPUT defaults to stdout)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* madvise */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "wc_baseline packs keys for a little-endian machine"
#endif

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define INITIAL_SLOTS (1u << 16)
#define INLINE_MAX 15      /* longest key kept inside a slot */
#define LONG_KEY 0xffu     /* tag byte of a slot whose key is in the arena */
#define LOWER 0x2020202020202020ULL
#define PENDING_MAX 16     /* words between prefetch and update; measured */

/* key[0] holds bytes 0-7, key[1] bytes 8-15; byte 15 is the length, or
 * LONG_KEY with key[0] the arena offset of {uint64 len, bytes}. */
struct slot {
    uint64_t hash; /* 0 = empty; a real hash of 0 is stored as 1 */
    uint64_t count;
    uint64_t key[2];
};

/* A short word whose slot has been prefetched but not yet updated. */
struct pending {
    uint64_t hash, k0, k1;
};

struct counter {
    struct slot *slots;
    size_t mask;
    size_t used;
    unsigned char *arena;
    size_t arena_len;
    size_t arena_cap;
    struct pending pending[PENDING_MAX]; /* ring, oldest at pending_pos */
    unsigned pending_pos;
    unsigned pending_len;
};

static unsigned char letter[256]; /* lower-case letter, or 0 for a separator */

/* Keeps the first len bytes of a packed key: mask_lo for bytes 0-7,
 * mask_hi for bytes 8-15. A table, because len < 8 is a coin flip. */
static const uint64_t mask_lo[INLINE_MAX + 1] = {
    0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffffULL, 0xffffffffffffULL,
    0xffffffffffffffULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL};
static const uint64_t mask_hi[INLINE_MAX + 1] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xffff, 0xffffff, 0xffffffff,
    0xffffffffffULL, 0xffffffffffffULL, 0xffffffffffffffULL};

static void die(const char *what)
{
    fprintf(stderr, "wc_baseline: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (p == NULL) {
        fprintf(stderr, "wc_baseline: out of memory\n");
        exit(1);
    }
    return p;
}

static void letter_init(void)
{
    for (int c = 'a'; c <= 'z'; c++)
        letter[c] = (unsigned char)c;
    for (int c = 'A'; c <= 'Z'; c++)
        letter[c] = (unsigned char)(c - 'A' + 'a');
}

static struct slot *slots_new(size_t n)
{
    struct slot *s = NULL;
    if (posix_memalign((void **)&s, 64, n * sizeof *s) != 0) {
        fprintf(stderr, "wc_baseline: out of memory\n");
        exit(1);
    }
    memset(s, 0, n * sizeof *s);
    return s;
}

static void counter_init(struct counter *t)
{
    t->slots = slots_new(INITIAL_SLOTS);
    t->mask = INITIAL_SLOTS - 1;
    t->used = 0;
    t->arena = NULL;
    t->arena_len = 0;
    t->arena_cap = 0;
    t->pending_pos = 0;
    t->pending_len = 0;
}

static void counter_grow(struct counter *t)
{
    size_t nslots = (t->mask + 1) * 2;
    struct slot *ns = slots_new(nslots);
    for (size_t i = 0; i <= t->mask; i++) {
        if (t->slots[i].hash == 0)
            continue;
        size_t j = t->slots[i].hash & (nslots - 1);
        while (ns[j].hash != 0)
            j = (j + 1) & (nslots - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->mask = nslots - 1;
}

static inline void counter_claim(struct counter *t, struct slot *s, uint64_t h,
                                 uint64_t k0, uint64_t k1)
{
    s->hash = h;
    s->count = 1;
    s->key[0] = k0;
    s->key[1] = k1;
    if (++t->used * 2 > t->mask + 1)
        counter_grow(t);
}

/* Counts a word of up to INLINE_MAX letters given as its packed key; h is
 * already non-zero. */
static inline void counter_add_short(struct counter *t, uint64_t h, uint64_t k0,
                                     uint64_t k1)
{
    size_t i = h & t->mask;
    for (;;) {
        struct slot *s = &t->slots[i];
        if (s->hash == h && s->key[0] == k0 && s->key[1] == k1) {
            s->count++;
            return;
        }
        if (s->hash == 0) {
            counter_claim(t, s, h, k0, k1);
            return;
        }
        i = (i + 1) & t->mask;
    }
}

static int long_key_equal(const struct counter *t, const struct slot *s,
                          const unsigned char *src, size_t len)
{
    if ((s->key[1] >> 56) != LONG_KEY)
        return 0;
    const unsigned char *rec = t->arena + s->key[0];
    uint64_t rlen;
    memcpy(&rlen, rec, sizeof rlen);
    if (rlen != len)
        return 0;
    rec += sizeof rlen;
    for (size_t k = 0; k < len; k++)
        if (rec[k] != letter[src[k]])
            return 0;
    return 1;
}

/* Counts a word longer than INLINE_MAX; its key goes to the arena. */
static void counter_add_long(struct counter *t, uint64_t h,
                             const unsigned char *src, size_t len)
{
    h |= (h == 0);
    size_t i = h & t->mask;
    for (;;) {
        struct slot *s = &t->slots[i];
        if (s->hash == h && long_key_equal(t, s, src, len)) {
            s->count++;
            return;
        }
        if (s->hash == 0)
            break;
        i = (i + 1) & t->mask;
    }
    uint64_t rlen = len;
    size_t need = sizeof rlen + len;
    if (t->arena_len + need > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 1u << 16;
        while (t->arena_len + need > cap)
            cap *= 2;
        t->arena = xrealloc(t->arena, cap);
        t->arena_cap = cap;
    }
    unsigned char *rec = t->arena + t->arena_len;
    memcpy(rec, &rlen, sizeof rlen);
    for (size_t k = 0; k < len; k++)
        rec[sizeof rlen + k] = letter[src[k]];
    counter_claim(t, &t->slots[i], h, t->arena_len, (uint64_t)LONG_KEY << 56);
    t->arena_len += need;
}

/* Packs a run of len (1..15) letters, lower-cased, zero-padded, length in
 * byte 15. 16 bytes at src must be readable. */
static inline void pack_key(const unsigned char *src, size_t len, uint64_t *k0,
                            uint64_t *k1)
{
    uint64_t a, b;
    memcpy(&a, src, 8);
    memcpy(&b, src + 8, 8);
    /* Every byte in the run is a letter, so | 0x20 lower-cases it. */
    a = (a | LOWER) & mask_lo[len];
    b = (b | LOWER) & mask_hi[len];
    *k0 = a;
    *k1 = b | ((uint64_t)len << 56);
}

/* Counts one word: long ones at once, short ones after PENDING_MAX more. */
static inline void count_word(struct counter *t, uint64_t h,
                              const unsigned char *start, size_t len,
                              const unsigned char *map_end)
{
    if (len > INLINE_MAX) {
        counter_add_long(t, h, start, len);
        return;
    }
    uint64_t k0, k1;
    if ((size_t)(map_end - start) >= 16) {
        pack_key(start, len, &k0, &k1);
    } else {
        unsigned char tmp[16] = {0};
        memcpy(tmp, start, len);
        pack_key(tmp, len, &k0, &k1);
    }
    h |= (h == 0);
    __builtin_prefetch(&t->slots[h & t->mask]);
    struct pending *q = &t->pending[t->pending_pos];
    if (t->pending_len == PENDING_MAX)
        counter_add_short(t, q->hash, q->k0, q->k1);
    else
        t->pending_len++;
    q->hash = h;
    q->k0 = k0;
    q->k1 = k1;
    t->pending_pos = (t->pending_pos + 1) % PENDING_MAX;
}

static void counter_flush(struct counter *t)
{
    for (unsigned k = 0; k < t->pending_len; k++)
        counter_add_short(t, t->pending[k].hash, t->pending[k].k0, t->pending[k].k1);
    t->pending_len = 0;
    t->pending_pos = 0;
}

/*
 * Counts every word of buf[0, n). The scan is split so the inner letter loop
 * needs no bounds check: the body ends on a separator, which stops every run
 * inside it, and the trailing run of letters (if any) is counted last.
 */
static void count_words(struct counter *t, const unsigned char *buf, size_t n)
{
    const unsigned char *map_end = buf + n;
    size_t body = n;
    while (body > 0 && letter[buf[body - 1]])
        body--;

    const unsigned char *p = buf, *end = buf + body;
    while (p < end) {
        if (!letter[*p]) {
            p++;
            continue;
        }
        const unsigned char *start = p;
        uint64_t h = FNV_OFFSET;
        unsigned char c;
        while ((c = letter[*p]) != 0) {
            h = (h ^ c) * FNV_PRIME;
            p++;
        }
        count_word(t, h, start, (size_t)(p - start), map_end);
    }
    if (body < n) {
        uint64_t h = FNV_OFFSET;
        for (size_t k = body; k < n; k++)
            h = (h ^ letter[buf[k]]) * FNV_PRIME;
        count_word(t, h, buf + body, n - body, map_end);
    }
    counter_flush(t);
}

static void write_counts(const struct counter *t, FILE *out)
{
    size_t cap = 1u << 16, fill = 0;
    char *buf = xrealloc(NULL, cap + 32);
    for (size_t i = 0; i <= t->mask; i++) {
        const struct slot *s = &t->slots[i];
        if (s->hash == 0)
            continue;
        const unsigned char *key;
        size_t len = s->key[1] >> 56;
        if (len == LONG_KEY) {
            uint64_t rlen;
            memcpy(&rlen, t->arena + s->key[0], sizeof rlen);
            len = rlen;
            key = t->arena + s->key[0] + sizeof rlen;
        } else {
            key = (const unsigned char *)s->key;
        }
        if (fill + len + 32 > cap) {
            if (fwrite(buf, 1, fill, out) != fill)
                die("write");
            fill = 0;
            if (len + 32 > cap) {
                cap = len + 32;
                buf = xrealloc(buf, cap + 32);
            }
        }
        memcpy(buf + fill, key, len);
        fill += len;
        buf[fill++] = ',';
        char digits[24];
        int nd = 0;
        uint64_t c = s->count;
        do {
            digits[nd++] = (char)('0' + c % 10);
            c /= 10;
        } while (c != 0);
        while (nd > 0)
            buf[fill++] = digits[--nd];
        buf[fill++] = '\n';
    }
    if (fill > 0 && fwrite(buf, 1, fill, out) != fill)
        die("write");
    free(buf);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: wc_baseline INPUT [OUTPUT]\n");
        return 2;
    }
    letter_init();

    int fd = open(argv[1], O_RDONLY);
    if (fd < 0)
        die(argv[1]);
    struct stat st;
    if (fstat(fd, &st) != 0)
        die(argv[1]);
    size_t n = (size_t)st.st_size;

    struct counter t;
    counter_init(&t);
    if (n > 0) {
        const unsigned char *buf = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (buf == MAP_FAILED)
            die("mmap");
        (void)madvise((void *)buf, n, MADV_SEQUENTIAL);
        count_words(&t, buf, n);
        munmap((void *)buf, n);
    }
    close(fd);

    FILE *out = stdout;
    if (argc == 3 && strcmp(argv[2], "-") != 0) {
        out = fopen(argv[2], "w");
        if (out == NULL)
            die(argv[2]);
    }
    write_counts(&t, out);
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0))
        die(argc == 3 ? argv[2] : "stdout");
    free(t.slots);
    free(t.arena);
    return 0;
}
