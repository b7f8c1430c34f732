/* Record encoding helpers: field access, record building, text formatting
 * of fields (record layer). The batch layout is described in batch.h. */
#include "record/batch.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "util/err.h"
#include "util/xmalloc.h"

static inline size_t field_width(field_type t, const uint8_t *p)
{
    switch (t) {
    case FT_BOOL: return 1;
    case FT_STRING: return 4 + rd_u32(p);
    default: return 8;
    }
}

const uint8_t *rec_field(const schema *s, const uint8_t *rec, int idx)
{
    const uint8_t *p = rec + REC_LEN_SIZE;
    for (int i = 0; i < idx; i++)
        p += field_width(s->f[i].type, p);
    return p;
}

const uint8_t *rec_key(const schema *s, const uint8_t *rec, int idx, uint32_t *len)
{
    const uint8_t *p = rec_field(s, rec, idx);
    field_type t = s->f[idx].type;
    if (t == FT_STRING) {
        *len = rd_u32(p);
        return p + 4;
    }
    *len = t == FT_BOOL ? 1 : 8;
    return p;
}

int rec_validate(const schema *s, const uint8_t *rec)
{
    uint32_t total = rd_u32(rec);
    const uint8_t *p = rec + REC_LEN_SIZE, *end = p + total;
    for (int i = 0; i < s->n; i++) {
        if (s->f[i].type == FT_STRING) {
            if (end - p < 4 || (size_t)(end - p - 4) < rd_u32(p))
                return -1;
        } else if ((size_t)(end - p) < (s->f[i].type == FT_BOOL ? 1u : 8u)) {
            return -1;
        }
        p += field_width(s->f[i].type, p);
    }
    return p == end ? 0 : -1;
}

void recbuf_init(recbuf *b)
{
    b->cap = 256;
    b->p = xmalloc(b->cap);
    b->len = 0;
}

void recbuf_fini(recbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static inline void recbuf_reserve(recbuf *b, size_t n)
{
    size_t need = b->len + n; /* n < 2^33: no wrap */
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap = cap <= SIZE_MAX / 2 ? cap * 2 : need;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
}

void recbuf_begin(recbuf *b) { b->len = REC_LEN_SIZE; }

void recbuf_i64(recbuf *b, int64_t v)
{
    recbuf_reserve(b, 8);
    memcpy(b->p + b->len, &v, 8);
    b->len += 8;
}

void recbuf_f64(recbuf *b, double v)
{
    recbuf_reserve(b, 8);
    memcpy(b->p + b->len, &v, 8);
    b->len += 8;
}

void recbuf_bool(recbuf *b, int v)
{
    recbuf_reserve(b, 1);
    b->p[b->len++] = v ? 1 : 0;
}

void recbuf_str(recbuf *b, const void *s, uint32_t n)
{
    recbuf_reserve(b, (size_t)4 + n);
    wr_u32(b->p + b->len, n);
    memcpy(b->p + b->len + 4, s, n);
    b->len += 4 + n;
}

void recbuf_raw_field(recbuf *b, field_type t, const uint8_t *f)
{
    uint32_t w = (uint32_t)field_width(t, f);
    recbuf_reserve(b, w);
    memcpy(b->p + b->len, f, w);
    b->len += w;
}

void recbuf_end(recbuf *b)
{
    if (b->len - REC_LEN_SIZE > UINT32_MAX)
        err_fatal("a record of %zu bytes is past the record format's limit of 4 GiB "
                  "(a 32-bit length)", b->len);
    uint32_t n = (uint32_t)(b->len - REC_LEN_SIZE);
    wr_u32(b->p, n);
}

size_t format_timestamp(int64_t ms, char *out, size_t n)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    int w = snprintf(out, n, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return w < 0 ? 0 : (size_t)w;
}

size_t field_format(field_type t, const uint8_t *f, char *out, size_t n)
{
    int w = 0;
    switch (t) {
    case FT_I64:
        w = snprintf(out, n, "%" PRId64, rd_i64(f));
        break;
    case FT_F64: {
        double v = rd_f64(f);
        char tmp[40];
        /* Shortest digits that read back exactly. A normal double's
         * shortest form has at most 15 digits unless it needs 16 or 17, and
         * %.15g strips trailing zeros, so start there; subnormals carry
         * fewer significant bits and may need fewer digits. */
        int sub = v != 0 && fabs(v) < DBL_MIN;
        for (int prec = sub ? 1 : 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, v);
            if (strtod(tmp, NULL) == v)
                break;
        }
        w = snprintf(out, n, "%s", tmp);
        break;
    }
    case FT_BOOL:
        w = snprintf(out, n, "%s", f[0] ? "true" : "false");
        break;
    case FT_TIMESTAMP:
        return format_timestamp(rd_i64(f), out, n);
    case FT_STRING: {
        uint32_t len = rd_u32(f);
        if (len <= n)
            memcpy(out, f + 4, len);
        return len;
    }
    }
    return w < 0 ? 0 : (size_t)w;
}

static int digits(const char *s, size_t n, size_t at, size_t k, int *v)
{
    if (at + k > n)
        return -1;
    int x = 0;
    for (size_t i = 0; i < k; i++) {
        char c = s[at + i];
        if (c < '0' || c > '9')
            return -1;
        x = x * 10 + (c - '0');
    }
    *v = x;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int parse_timestamp(const char *s, size_t n, int64_t *ms)
{
    int Y, M, D, h = 0, mi = 0, sec = 0, frac = 0;
    size_t i;
    /* Plain integer: milliseconds since the epoch. */
    int neg = n > 0 && s[0] == '-';
    for (i = neg; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        ;
    if (i == n && n > (size_t)neg) {
        char buf[32];
        if (n >= sizeof buf)
            return -1;
        memcpy(buf, s, n);
        buf[n] = '\0';
        errno = 0;
        *ms = strtoll(buf, NULL, 10);
        return errno == ERANGE ? -1 : 0;
    }
    if (digits(s, n, 0, 4, &Y) || n < 10 || s[4] != '-' || digits(s, n, 5, 2, &M) ||
        s[7] != '-' || digits(s, n, 8, 2, &D))
        return -1;
    i = 10;
    if (i < n) {
        if (s[i] != 'T' && s[i] != ' ')
            return -1;
        if (digits(s, n, i + 1, 2, &h) || i + 3 >= n || s[i + 3] != ':' ||
            digits(s, n, i + 4, 2, &mi))
            return -1;
        i += 6;
        if (i < n && s[i] == ':') {
            if (digits(s, n, i + 1, 2, &sec))
                return -1;
            i += 3;
            if (i < n && s[i] == '.') {
                int scale = 100;
                for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
                    frac += (s[i] - '0') * scale;
            }
        }
        if (i < n && s[i] == 'Z')
            i++;
        if (i != n)
            return -1;
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] + (M == 2 && leap) || h > 23 ||
        mi > 59 || sec > 59)
        return -1;
    int64_t days = days_from_civil(Y, M, D);
    *ms = ((days * 24 + h) * 60 + mi) * 60000LL + sec * 1000LL + frac;
    return 0;
}
