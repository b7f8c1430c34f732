/* `source: generator`: deterministic generated rows, after Flink's DataGen
 * connector (connectors layer). Row r's values depend only on (seed, r, field),
 * so the data are the same at any parallelism; subtask i produces rows
 * i, i+p, i+2p, ... (until a restore at another parallelism splits the
 * rest anew, see seqsplit.h). `number-of-rows` bounds the source (absent:
 * unbounded); `rows-per-second` limits the total rate. Fields:
 *   {name, type, kind: sequence|random|event-time, start, min, max,
 *    length, cardinality, prefix, interval, out-of-orderness}
 * sequence: start + r (i64, timestamp); random: uniform in [min, max]
 * (i64, f64, timestamp), bool, or string: `prefix` + a number below
 * `cardinality` when given, else `length` random letters.
 * event-time (timestamp): event times for windows and watermarks,
 *   start + r * interval - jitter, where `start` is a timestamp
 *   ("2024-01-01 00:00:00" or ms; default 0), `interval` the event-time
 *   step per row in total across subtasks (duration, default 1ms; "100us"
 *   steps accumulate exactly) and the jitter a deterministic draw from
 *   (seed, r) in [0, `out-of-orderness`] (duration, default 0): a row lags
 *   behind the largest earlier event time by at most out-of-orderness. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ops/op.h"
#include "connectors/datagen/seqsplit.h"
#include "connectors/srcutil.h"
#include "record/segpool.h"
#include "util/xmalloc.h"

typedef struct gen_field {
    field_type type;
    int sequence;
    int evtime;
    srcutil_evtime t;
    int64_t start, imin, imax, length, cardinality;
    double fmin, fmax;
    char prefix[64];
} gen_field;

typedef struct gen_cfg {
    int64_t rows; /* -1: unbounded */
    double rate;  /* rows per second in total; 0: unlimited */
    uint64_t seed;
    int nfields;
    gen_field *f;
} gen_cfg;

typedef struct gen_state {
    seqsplit rows; /* first: the rows this subtask still produces (seqsplit_op_*) */
    int64_t produced;
    struct timespec t0;
    recbuf rb;
} gen_state;

static const char *const gen_keys[] = {"number-of-rows", "rows-per-second", "seed", "fields",
                                       NULL};
static const char *const field_keys[] = {"name", "type", "kind", "start", "min", "max",
                                         "length", "cardinality", "prefix", "interval",
                                         "out-of-orderness", NULL};

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int gen_configure(op_spec *s, const conf *c, mpf_err *e)
{
    gen_cfg *cfg = xcalloc(1, sizeof *cfg);
    int64_t seed = 0;
    cfg->rows = -1;
    if (ynode_get_i64(s->node, "number-of-rows", 0, &cfg->rows, e) ||
        ynode_get_f64(s->node, "rows-per-second", 0, &cfg->rate, e) ||
        ynode_get_i64(s->node, "seed", 0, &seed, e))
        goto fail;
    cfg->seed = (uint64_t)seed;
    if (ynode_get(s->node, "number-of-rows") && cfg->rows < 0) {
        err_set(e, MPF_EJOB, "%s: number-of-rows must be >= 0",
                ynode_pos(ynode_get(s->node, "number-of-rows")));
        goto fail;
    }
    const ynode *fl = ynode_get(s->node, "fields");
    if (!fl || fl->kind != YNODE_SEQ || fl->n == 0) {
        err_set(e, MPF_EJOB, "%s: generator needs fields: [{name, type, kind}, ...]",
                op_where(s));
        goto fail;
    }
    cfg->f = xcalloc(fl->n, sizeof *cfg->f);
    for (size_t i = 0; i < fl->n; i++) {
        const ynode *fn = fl->items[i];
        gen_field *g = &cfg->f[cfg->nfields++];
        const char *name = NULL, *type = NULL, *kind = "random", *prefix = "key-";
        g->imax = 1000000;
        g->fmax = 1.0;
        g->length = 10;
        if (fn->kind != YNODE_MAP) {
            err_set(e, MPF_EJOB, "%s: each field is a map {name, type, kind}", ynode_pos(fn));
            goto fail;
        }
        if (ynode_check_keys(fn, field_keys, "a generator field", e) ||
            ynode_get_str(fn, "name", 1, &name, e) || ynode_get_str(fn, "type", 1, &type, e) ||
            ynode_get_str(fn, "kind", 0, &kind, e) || ynode_get_str(fn, "prefix", 0, &prefix, e) ||
            (strcmp(kind, "event-time") != 0 && ynode_get_i64(fn, "start", 0, &g->start, e)) ||
            ynode_get_i64(fn, "length", 0, &g->length, e) ||
            ynode_get_i64(fn, "cardinality", 0, &g->cardinality, e))
            goto fail;
        if (field_type_parse(type, &g->type)) {
            err_set(e, MPF_EJOB, "%s: unknown type '%s' (i64, f64, bool, string, timestamp)",
                    ynode_pos(ynode_get(fn, "type")), type);
            goto fail;
        }
        if (g->type == FT_F64) {
            if (ynode_get_f64(fn, "min", 0, &g->fmin, e) || ynode_get_f64(fn, "max", 0, &g->fmax, e))
                goto fail;
        } else if (ynode_get_i64(fn, "min", 0, &g->imin, e) ||
                   ynode_get_i64(fn, "max", 0, &g->imax, e)) {
            goto fail;
        }
        if (strcmp(kind, "sequence") == 0) {
            g->sequence = 1;
            if (g->type != FT_I64 && g->type != FT_TIMESTAMP) {
                err_set(e, MPF_EJOB, "%s: kind sequence needs type i64 or timestamp",
                        ynode_pos(fn));
                goto fail;
            }
        } else if (strcmp(kind, "event-time") == 0) {
            g->evtime = 1;
            g->t.interval_ns = 1000000;
            if (g->type != FT_TIMESTAMP) {
                err_set(e, MPF_EJOB, "%s: kind event-time needs type timestamp", ynode_pos(fn));
                goto fail;
            }
            int64_t ooo_ns = 0;
            if (srcutil_get_timestamp(fn, "start", &g->t.start_ms, e) ||
                srcutil_get_duration_ns(fn, "interval", &g->t.interval_ns, e) ||
                srcutil_get_duration_ns(fn, "out-of-orderness", &ooo_ns, e))
                goto fail;
            g->t.ooo_ms = ooo_ns / 1000000;
        } else if (strcmp(kind, "random") != 0) {
            err_set(e, MPF_EJOB, "%s: kind must be sequence, random or event-time, got '%s'",
                    ynode_pos(ynode_get(fn, "kind")), kind);
            goto fail;
        }
        if (g->imin > g->imax || g->fmin > g->fmax || g->length < 0 || g->length > 65536 ||
            g->cardinality < 0) {
            err_set(e, MPF_EJOB, "%s: field '%s': need min <= max, 0 <= length <= 65536 and "
                    "cardinality >= 0", ynode_pos(fn), name);
            goto fail;
        }
        snprintf(g->prefix, sizeof g->prefix, "%s", prefix);
        if (schema_find(&s->out_schema, name) >= 0) {
            err_set(e, MPF_EJOB, "%s: duplicate field '%s'", ynode_pos(fn), name);
            goto fail;
        }
        schema_add(&s->out_schema, name, g->type);
    }
    s->cfg = cfg;
    s->bounded = cfg->rows >= 0;
    return 0;
fail:
    free(cfg->f);
    free(cfg);
    return e->code;
}

static void gen_free(void *p)
{
    gen_cfg *cfg = p;
    free(cfg->f);
    free(cfg);
}

static int gen_open(op_inst *oi, mpf_err *e)
{
    gen_state *st = xcalloc(1, sizeof *st);
    seqsplit_init(&st->rows, oi->subtask, oi->spec->parallelism,
                  ((const gen_cfg *)oi->spec->cfg)->rows);
    recbuf_init(&st->rb);
    clock_gettime(CLOCK_MONOTONIC, &st->t0);
    oi->st = st;
    return 0;
}

static void gen_row(const gen_cfg *cfg, int64_t r, recbuf *rb)
{
    recbuf_begin(rb);
    for (int i = 0; i < cfg->nfields; i++) {
        const gen_field *g = &cfg->f[i];
        uint64_t x = mix64(cfg->seed ^ mix64((uint64_t)r * 0x100000001b3ULL + (uint64_t)i));
        switch (g->type) {
        case FT_I64:
        case FT_TIMESTAMP:
            if (g->evtime)
                recbuf_i64(rb, srcutil_evtime_at(&g->t, cfg->seed + (uint64_t)i * 0x9e3779b9ULL, r));
            else if (g->sequence)
                recbuf_i64(rb, g->start + r);
            else
                recbuf_i64(rb, g->imin + (int64_t)(x % (uint64_t)(g->imax - g->imin + 1)));
            break;
        case FT_F64:
            recbuf_f64(rb, g->fmin + (double)(x >> 11) * (1.0 / 9007199254740992.0) *
                                         (g->fmax - g->fmin));
            break;
        case FT_BOOL:
            recbuf_bool(rb, (int)(x & 1));
            break;
        case FT_STRING: {
            char buf[65536 + 64];
            int n;
            if (g->cardinality > 0) {
                n = snprintf(buf, sizeof buf, "%s%llu", g->prefix,
                             (unsigned long long)(x % (uint64_t)g->cardinality));
            } else {
                n = (int)g->length;
                for (int k = 0; k < n; k++) {
                    if (k % 12 == 0)
                        x = mix64(x);
                    buf[k] = (char)('a' + (x >> (5 * (k % 12))) % 26);
                }
            }
            recbuf_str(rb, buf, (uint32_t)n);
            break;
        }
        }
    }
    recbuf_end(rb);
}

static int gen_poll(op_inst *oi, mpf_err *e)
{
    const gen_cfg *cfg = oi->spec->cfg;
    gen_state *st = oi->st;
    int64_t budget = (int64_t)(segpool_segment_size() / 16);
    if (cfg->rate > 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - st->t0.tv_sec) + (now.tv_nsec - st->t0.tv_nsec) / 1e9;
        int64_t allowed = (int64_t)(el * cfg->rate / oi->spec->parallelism) + 1 - st->produced;
        if (allowed < budget)
            budget = allowed;
    }
    /* About one batch per call, so a step's output stays within credit. */
    size_t bytes = 0, seg = segpool_segment_size();
    for (int64_t k = 0; k < budget && bytes < seg; k++) {
        int64_t r = seqsplit_take(&st->rows);
        if (r < 0)
            break;
        gen_row(cfg, r, &st->rb);
        op_emit(oi, st->rb.p, st->rb.len);
        bytes += st->rb.len;
        st->produced++;
    }
    if (cfg->rows >= 0)
        oi->pending_records = seqsplit_left(&st->rows);
    return seqsplit_more(&st->rows) ? MPF_EAGAIN : 0;
}

static void gen_close(op_inst *oi)
{
    gen_state *st = oi->st;
    if (st) {
        seqsplit_fini(&st->rows);
        recbuf_fini(&st->rb);
        free(st);
    }
}

static void gen_describe(const op_spec *s, char *buf, size_t n)
{
    const gen_cfg *cfg = s->cfg;
    if (cfg->rows >= 0)
        snprintf(buf, n, "%lld rows, seed %llu%s", (long long)cfg->rows,
                 (unsigned long long)cfg->seed, cfg->rate > 0 ? ", rate-limited" : "");
    else
        snprintf(buf, n, "unbounded, seed %llu%s", (unsigned long long)cfg->seed,
                 cfg->rate > 0 ? ", rate-limited" : "");
}

const op_kind op_src_generator = {
    .name = "generator",
    .role = OP_SOURCE,
    .keys = gen_keys,
    .summary = "deterministic generated rows (DataGen-like), bounded or unbounded",
    .configure = gen_configure,
    .free_cfg = gen_free,
    .describe = gen_describe,
    .open = gen_open,
    .poll = gen_poll,
    .close = gen_close,
    .snapshot = seqsplit_op_snapshot,
    .restore = seqsplit_op_restore,
    .restore_end = seqsplit_op_restore_end,
    .union_state = 1,
    .describe_state = seqsplit_describe,
};
