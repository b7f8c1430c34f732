/*
 * gen_corpus: deterministic text corpus generator for the WordCount benchmark
 * (bench layer, not linked into mpiflow). It builds a vocabulary of distinct
 * lowercase words from the seed, then writes lines of 8-16 words whose
 * frequencies follow a Zipf law, sampled in O(1) with an integer alias table.
 * Everything that decides the output (PRNG, vocabulary, alias table) uses
 * integer arithmetic except the Zipf weights 1/k^s, which are quantised to
 * integers once, so the same arguments give the same bytes on every machine.
 *
 *   gen_corpus --bytes N [--seed S] [--vocab V] [--zipf s] OUT|-
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORD_SLOT 16 /* bytes per vocabulary entry; longest word is 12 */
#define MIN_WORD_LEN 2
#define MAX_WORD_LEN 12
#define OUT_BUF_SIZE (1u << 20)
#define ALIAS_ONE ((uint64_t)1 << 32) /* fixed-point 1.0 of a bucket */

struct rng {
    uint64_t s[4];
};

struct vocab {
    unsigned char (*word)[WORD_SLOT]; /* word[i] holds rank i+1, padded */
    uint8_t *len;
    uint32_t n;
};

struct alias {
    uint32_t *threshold; /* keep bucket i when coin < threshold[i] */
    uint32_t *other;     /* otherwise take other[i] */
    uint32_t n;
};

static void die(const char *msg)
{
    fprintf(stderr, "gen_corpus: %s\n", msg);
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL)
        die("out of memory");
    return p;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_init(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static inline uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) from the top 32 bits of x (Lemire's multiply-shift). */
static inline uint32_t reduce32(uint32_t x, uint32_t n)
{
    return (uint32_t)(((uint64_t)x * n) >> 32);
}

static uint64_t word_hash(const unsigned char *w, unsigned len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned i = 0; i < len; i++)
        h = (h ^ w[i]) * 0x100000001b3ULL;
    return h;
}

/*
 * Draws words of uniform length 2..12 over [a-z] and rejects duplicates with
 * an open-addressing set. A rejected draw redraws the length too, so short
 * lengths whose space is exhausted (there are only 676 two-letter words) do
 * not stall the loop.
 */
static void vocab_build(struct vocab *v, uint32_t n, struct rng *r)
{
    size_t cap = 1;
    while (cap < (size_t)n * 2)
        cap <<= 1;
    uint32_t *set = xcalloc(cap, sizeof *set); /* rank + 1, 0 = empty */
    v->word = xcalloc(n, WORD_SLOT);
    v->len = xcalloc(n, 1);
    v->n = n;
    for (uint32_t i = 0; i < n;) {
        unsigned char *w = v->word[i];
        uint64_t x = rng_next(r);
        unsigned len = MIN_WORD_LEN + reduce32((uint32_t)(x >> 32),
                                               MAX_WORD_LEN - MIN_WORD_LEN + 1);
        for (unsigned k = 0; k < len; k++)
            w[k] = (unsigned char)('a' + reduce32((uint32_t)(rng_next(r) >> 32), 26));
        size_t slot = word_hash(w, len) & (cap - 1);
        int dup = 0;
        while (set[slot] != 0) {
            uint32_t j = set[slot] - 1;
            if (v->len[j] == len && memcmp(v->word[j], w, len) == 0) {
                dup = 1;
                break;
            }
            slot = (slot + 1) & (cap - 1);
        }
        if (dup) {
            memset(w, 0, WORD_SLOT);
            continue;
        }
        set[slot] = i + 1;
        v->len[i] = (uint8_t)len;
        i++;
    }
    free(set);
}

/*
 * Vose's alias method in fixed point: weights are scaled so they sum to
 * exactly n * 2^32, then buckets are paired with exact integer arithmetic.
 */
static void alias_build(struct alias *a, uint32_t n, double s)
{
    double *p = xcalloc(n, sizeof *p);
    uint64_t *w = xcalloc(n, sizeof *w);
    uint32_t *small = xcalloc(n, sizeof *small);
    uint32_t *large = xcalloc(n, sizeof *large);
    double sum = 0;
    for (uint32_t k = 0; k < n; k++) {
        p[k] = 1.0 / pow((double)(k + 1), s);
        sum += p[k];
    }
    uint64_t total = (uint64_t)n * ALIAS_ONE, assigned = 0;
    for (uint32_t k = 0; k < n; k++) {
        w[k] = (uint64_t)(p[k] / sum * (double)total);
        assigned += w[k];
    }
    if (assigned > total)
        die("internal error: alias weights overflow");
    /* Rounding leaves a few units over; hand them out from rank 1 on. */
    for (uint64_t k = 0; assigned < total; k = (k + 1) % n, assigned++)
        w[k]++;

    a->threshold = xcalloc(n, sizeof *a->threshold);
    a->other = xcalloc(n, sizeof *a->other);
    a->n = n;
    uint32_t ns = 0, nl = 0;
    for (uint32_t k = n; k-- > 0;) {
        if (w[k] < ALIAS_ONE)
            small[ns++] = k;
        else
            large[nl++] = k;
    }
    while (ns > 0 && nl > 0) {
        uint32_t sm = small[--ns], lg = large[nl - 1];
        a->threshold[sm] = (uint32_t)w[sm];
        a->other[sm] = lg;
        w[lg] -= ALIAS_ONE - w[sm];
        if (w[lg] < ALIAS_ONE) {
            nl--;
            small[ns++] = lg;
        }
    }
    /* Exact sums leave every remaining bucket at exactly 1.0. */
    while (nl > 0) {
        uint32_t k = large[--nl];
        a->threshold[k] = UINT32_MAX;
        a->other[k] = k;
    }
    while (ns > 0) {
        uint32_t k = small[--ns];
        a->threshold[k] = UINT32_MAX;
        a->other[k] = k;
    }
    free(large);
    free(small);
    free(w);
    free(p);
}

static inline uint32_t alias_sample(const struct alias *a, uint64_t x)
{
    uint32_t k = reduce32((uint32_t)(x >> 32), a->n);
    return (uint32_t)x < a->threshold[k] ? k : a->other[k];
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gen_corpus --bytes N [--seed S] [--vocab V] [--zipf s] OUT\n"
            "  --bytes N   stop at the first line end at or after N bytes (K/M/G "
            "suffix ok)\n"
            "  --seed S    PRNG seed (default 1)\n"
            "  --vocab V   distinct words, 1..10000000 (default 100000)\n"
            "  --zipf s    Zipf exponent >= 0 (default 1.0; 0 = uniform)\n"
            "  OUT         output file, or - for stdout\n");
}

static uint64_t parse_size(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1000, end++;
    else if (*end == 'M' || *end == 'm')
        mult = 1000 * 1000, end++;
    else if (*end == 'G' || *end == 'g')
        mult = 1000 * 1000 * 1000, end++;
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' ||
        v > UINT64_MAX / mult) {
        fprintf(stderr, "gen_corpus: %s: invalid number '%s'\n", opt, s);
        exit(2);
    }
    return (uint64_t)v * mult;
}

int main(int argc, char **argv)
{
    uint64_t bytes = 0, seed = 1, nvocab = 100000;
    double zipf = 1.0;
    const char *out_path = NULL;
    int have_bytes = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc) {
                fprintf(stderr, "gen_corpus: %s needs a value\n", a);
                return 2;
            }
            const char *val = argv[++i];
            if (strcmp(a, "--bytes") == 0) {
                bytes = parse_size(a, val);
                have_bytes = 1;
            } else if (strcmp(a, "--seed") == 0) {
                seed = parse_size(a, val);
            } else if (strcmp(a, "--vocab") == 0) {
                nvocab = parse_size(a, val);
            } else if (strcmp(a, "--zipf") == 0) {
                char *end;
                zipf = strtod(val, &end);
                if (end == val || *end != '\0' || !(zipf >= 0 && zipf <= 100)) {
                    fprintf(stderr, "gen_corpus: --zipf: invalid exponent '%s'\n", val);
                    return 2;
                }
            } else {
                fprintf(stderr, "gen_corpus: unknown option %s\n", a);
                usage(stderr);
                return 2;
            }
        } else if (out_path == NULL) {
            out_path = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!have_bytes || out_path == NULL) {
        usage(stderr);
        return 2;
    }
    if (nvocab < 1 || nvocab > 10000000)
        die("--vocab must be in 1..10000000");

    FILE *out = strcmp(out_path, "-") == 0 ? stdout : fopen(out_path, "wb");
    if (out == NULL) {
        fprintf(stderr, "gen_corpus: %s: %s\n", out_path, strerror(errno));
        return 1;
    }

    struct rng r;
    struct vocab v;
    struct alias al;
    rng_init(&r, seed);
    vocab_build(&v, (uint32_t)nvocab, &r);
    alias_build(&al, (uint32_t)nvocab, zipf);

    /* Slack past OUT_BUF_SIZE holds one whole line written with 16-byte
     * copies, so the hot loop checks the fill level once per line. */
    enum { LINE_MAX_BYTES = 16 * (WORD_SLOT + 1) + 1 };
    unsigned char *buf = xcalloc(OUT_BUF_SIZE + LINE_MAX_BYTES, 1);
    size_t fill = 0;
    uint64_t written = 0;
    while (written + fill < bytes) {
        uint64_t x = rng_next(&r);
        unsigned nwords = 8 + reduce32((uint32_t)x, 9); /* 8..16 */
        unsigned char *p = buf + fill;
        for (unsigned k = 0; k < nwords; k++) {
            uint32_t id = alias_sample(&al, rng_next(&r));
            memcpy(p, v.word[id], WORD_SLOT);
            p += v.len[id];
            /* One word in 20 carries ',' or '.'; the draw is the top bits
             * of a fresh 64-bit value so it is independent of the word. */
            uint64_t y = rng_next(&r);
            uint32_t d = reduce32((uint32_t)(y >> 32), 40);
            if (d < 2)
                *p++ = d == 0 ? ',' : '.';
            *p++ = k + 1 < nwords ? ' ' : '\n';
        }
        fill = (size_t)(p - buf);
        if (fill >= OUT_BUF_SIZE) {
            if (fwrite(buf, 1, fill, out) != fill)
                die("write failed");
            written += fill;
            fill = 0;
        }
    }
    if (fill > 0 && fwrite(buf, 1, fill, out) != fill)
        die("write failed");
    written += fill;
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0)) {
        fprintf(stderr, "gen_corpus: %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    fprintf(stderr,
            "gen_corpus: wrote %" PRIu64 " bytes (seed %" PRIu64 ", vocab %" PRIu64
            ", zipf %g) to %s\n",
            written, seed, nvocab, zipf, out_path);
    free(buf);
    free(al.threshold);
    free(al.other);
    free(v.word);
    free(v.len);
    return 0;
}
