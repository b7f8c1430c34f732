/* Helpers shared by the sources (connectors layer); see srcutil.h. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conf/props.h"
#include "connectors/srcutil.h"
#include "util/strutil.h"
#include "record/batch.h"
#include "util/xmalloc.h"

#define NS_PER_MS 1000000LL

int64_t srcutil_evtime_position(const srcutil_evtime *t, int64_t r)
{
    int64_t whole = t->interval_ns / NS_PER_MS, part = t->interval_ns % NS_PER_MS;
    return t->start_ms + r * whole + (r * part) / NS_PER_MS;
}

int64_t srcutil_evtime_at(const srcutil_evtime *t, uint64_t seed, int64_t r)
{
    int64_t pos = srcutil_evtime_position(t, r);
    if (t->ooo_ms <= 0)
        return pos;
    uint64_t x = srcutil_mix64((seed ^ 0x6a09e667f3bcc909ULL) + srcutil_mix64((uint64_t)r));
    return pos - (int64_t)(x % (uint64_t)(t->ooo_ms + 1));
}

void srcutil_rate_start(srcutil_rate *rl, double total_per_second, int parallelism)
{
    rl->per_second = total_per_second > 0 ? total_per_second / (parallelism > 0 ? parallelism : 1)
                                          : 0;
    clock_gettime(CLOCK_MONOTONIC, &rl->t0);
}

int64_t srcutil_rate_allowed(const srcutil_rate *rl, int64_t done, int64_t cap)
{
    if (rl->per_second <= 0)
        return cap;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double el = (double)(now.tv_sec - rl->t0.tv_sec) + (double)(now.tv_nsec - rl->t0.tv_nsec) / 1e9;
    int64_t allowed = (int64_t)(el * rl->per_second) + 1 - done;
    if (allowed < 0)
        return 0;
    return allowed < cap ? allowed : cap;
}

int srcutil_get_duration_ns(const ynode *map, const char *key, int64_t *out, mpf_err *e)
{
    const ynode *n = ynode_get(map, key);
    if (!n)
        return 0;
    if (n->kind != YNODE_SCALAR || parse_duration_ns(n->str, out))
        return err_set(e, MPF_EJOB,
                       "%s: key '%s': expected a duration such as 500ms, 2s or 1min (a bare "
                       "number is ms), got '%s'",
                       ynode_pos(n), key, n->kind == YNODE_SCALAR ? n->str : ynode_kind_name(n->kind));
    return 0;
}

int srcutil_get_timestamp(const ynode *map, const char *key, int64_t *out, mpf_err *e)
{
    const ynode *n = ynode_get(map, key);
    if (!n)
        return 0;
    if (n->kind != YNODE_SCALAR || parse_timestamp(n->str, strlen(n->str), out))
        return err_set(e, MPF_EJOB,
                       "%s: key '%s': expected a timestamp 'YYYY-MM-DD HH:MM:SS[.fff]' (UTC) or "
                       "integer ms since the epoch, got '%s'",
                       ynode_pos(n), key, n->kind == YNODE_SCALAR ? n->str : ynode_kind_name(n->kind));
    return 0;
}

int srcutil_get_count(const ynode *map, const char *key, int64_t min, int64_t *out, mpf_err *e)
{
    int64_t v;
    const ynode *n = ynode_get(map, key);
    if (!n || (n->kind == YNODE_SCALAR && strcmp(n->str, "unbounded") == 0))
        return 0; /* job parameters can say `--events unbounded` */
    if (ynode_get_i64(map, key, 0, &v, e))
        return e->code;
    if (v < min)
        return err_set(e, MPF_EJOB, "%s: key '%s' must be >= %lld, got %lld", ynode_pos(n), key,
                       (long long)min, (long long)v);
    *out = v;
    return 0;
}

int srcutil_get_input_path(const ynode *map, const char *key, int required, char **out,
                           mpf_err *e)
{
    const char *v = NULL;
    if (ynode_get_str(map, key, required, &v, e))
        return e->code;
    if (!v)
        return 0;
    const ynode *n = ynode_get(map, key);
    char *beside = v[0] == '/' || !v[0] || n->from_cli || strncmp(v, "builtin:", 8) == 0
                       ? NULL
                       : str_path_beside(n->file, v);
    if (beside && access(beside, F_OK) == 0) {
        *out = beside;
        return 0;
    }
    free(beside);
    *out = xstrdup(v);
    return 0;
}
