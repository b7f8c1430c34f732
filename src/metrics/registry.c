/* Metrics registry (metrics layer): pointers to the runtime's own
 * counters, read and encoded on each snapshot. */
#include "metrics/registry.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/xmalloc.h"

enum mkind { M_COUNTER, M_GAUGE_I64, M_GAUGE_KNOWN, M_GAUGE_SIZE, M_GAUGE_FN, M_METER, M_TIME_METER, M_HISTO };

typedef struct metric {
    const char *name;
    int kind;
    const void *p;
    int64_t (*fn)(const void *ctx);
    uint64_t last; /* meters: the counter at the last snapshot */
} metric;

struct mgroup {
    char *scope;
    metric *v;
    size_t n, cap;
};

struct mreg {
    mgroup **g;
    size_t n, cap;
    uint64_t seq;
    int64_t last_ns;
};

mreg *mreg_new(void)
{
    return xcalloc(1, sizeof(mreg));
}

void mreg_destroy(mreg *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->g[i]->scope);
        free(r->g[i]->v);
        free(r->g[i]);
    }
    free(r->g);
    free(r);
}

mgroup *mreg_group(mreg *r, const char *scope)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 8;
        r->g = xrealloc(r->g, r->cap * sizeof *r->g);
    }
    mgroup *g = xcalloc(1, sizeof *g);
    g->scope = xstrdup(scope);
    r->g[r->n++] = g;
    return g;
}

static metric *add(mgroup *g, const char *name, int kind, const void *p)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 16;
        g->v = xrealloc(g->v, g->cap * sizeof *g->v);
    }
    metric *m = &g->v[g->n++];
    memset(m, 0, sizeof *m);
    m->name = name;
    m->kind = kind;
    m->p = p;
    return m;
}

void mreg_counter(mgroup *g, const char *name, const uint64_t *v) { add(g, name, M_COUNTER, v); }
void mreg_gauge_i64(mgroup *g, const char *name, const int64_t *v) { add(g, name, M_GAUGE_I64, v); }
void mreg_gauge_size(mgroup *g, const char *name, const size_t *v) { add(g, name, M_GAUGE_SIZE, v); }
void mreg_gauge_known(mgroup *g, const char *name, const int64_t *v)
{
    add(g, name, M_GAUGE_KNOWN, v);
}
void mreg_meter(mgroup *g, const char *name, const uint64_t *v) { add(g, name, M_METER, v); }
void mreg_time_meter(mgroup *g, const char *name, const int64_t *ns)
{
    add(g, name, M_TIME_METER, ns);
}
void mreg_histogram(mgroup *g, const char *name, const histo *h) { add(g, name, M_HISTO, h); }

void mreg_gauge_fn(mgroup *g, const char *name, int64_t (*fn)(const void *ctx), const void *ctx)
{
    add(g, name, M_GAUGE_FN, ctx)->fn = fn;
}

size_t mreg_ngroups(const mreg *r)
{
    return r->n;
}

size_t mreg_nmetrics(const mreg *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += r->g[i]->n;
    return n;
}

/* The counter a meter follows, as it is now. */
static uint64_t meter_now(const metric *m)
{
    return m->kind == M_METER ? *(const uint64_t *)m->p : (uint64_t)*(const int64_t *)m->p;
}

void mreg_start(mreg *r, int64_t now_ns)
{
    r->last_ns = now_ns;
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = 0; k < r->g[i]->n; k++) {
            metric *m = &r->g[i]->v[k];
            if (m->kind == M_METER || m->kind == M_TIME_METER)
                m->last = meter_now(m);
        }
}

typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k >= 0 && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        b->cap = 2 * b->cap + (k > 0 ? (size_t)k : 0);
        b->s = xrealloc(b->s, b->cap);
    }
}

char *mreg_snapshot(mreg *r, int64_t now_ns, int64_t wall_ms, size_t *len)
{
    sbuf b = {xmalloc(1024), 0, 1024};
    int64_t dt = now_ns - r->last_ns;
    double secs = dt > 0 ? (double)dt / 1e9 : 0;
    sb_printf(&b, "mpiflow-metrics %d %llu %lld %lld\n", MREG_VERSION,
              (unsigned long long)++r->seq, (long long)wall_ms, (long long)(dt / 1000000));
    for (size_t i = 0; i < r->n; i++) {
        mgroup *g = r->g[i];
        sb_printf(&b, "%s", g->scope);
        for (size_t k = 0; k < g->n; k++) {
            metric *m = &g->v[k];
            switch (m->kind) {
            case M_COUNTER:
                sb_printf(&b, " %s=%llu", m->name, (unsigned long long)*(const uint64_t *)m->p);
                break;
            case M_GAUGE_I64:
                sb_printf(&b, " %s=%lld", m->name, (long long)*(const int64_t *)m->p);
                break;
            case M_GAUGE_KNOWN:
                if (*(const int64_t *)m->p >= 0)
                    sb_printf(&b, " %s=%lld", m->name, (long long)*(const int64_t *)m->p);
                break;
            case M_GAUGE_SIZE:
                sb_printf(&b, " %s=%zu", m->name, *(const size_t *)m->p);
                break;
            case M_GAUGE_FN:
                sb_printf(&b, " %s=%lld", m->name, (long long)m->fn(m->p));
                break;
            case M_METER:
            case M_TIME_METER: {
                uint64_t cur = meter_now(m);
                double d = cur >= m->last ? (double)(cur - m->last) : 0;
                if (m->kind == M_TIME_METER)
                    d /= 1e6; /* ns -> ms */
                sb_printf(&b, " %s=%.1f", m->name, secs > 0 ? d / secs : 0.0);
                m->last = cur;
                break;
            }
            case M_HISTO: {
                const histo *h = m->p;
                sb_printf(&b, " %s_count=%llu %s_p50_ms=%.3f %s_p99_ms=%.3f %s_max_ms=%.3f",
                          m->name, (unsigned long long)h->count, m->name,
                          (double)histo_quantile_us(h, 0.5) / 1e3, m->name,
                          (double)histo_quantile_us(h, 0.99) / 1e3, m->name,
                          (double)h->max_us / 1e3);
                break;
            }
            }
        }
        sb_printf(&b, "\n");
    }
    r->last_ns = now_ns;
    *len = b.n;
    return b.s;
}
