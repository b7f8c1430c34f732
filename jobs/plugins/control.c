/* Example plugin: a co-process function over two keyed inputs that share
 * keyed state (see docs/PLUGINS.md). After the ControlFunction of Flink's
 * training ("a control stream enables and disables keys"), in event time
 * so the result does not depend on how the two streams interleave.
 *
 * control (co-process, key-by: [data key, control key]):
 *   input 1: data records; input 2: control records with a bool field
 *   (args.enabled, default "enabled"). A data record at time t passes to
 *   the main output when the latest control record of its key at or
 *   before t enabled the key (args.default, "enabled" or "disabled", when
 *   there is none), else it goes to side output "blocked".
 *   Data records wait in list state until the watermark passes them
 *   (an event-time timer at their time); control records go into map
 *   state (time -> enabled), pruned once the watermark makes old ones
 *   irrelevant. Both inputs need event time. Output: input 1's schema. */
#include <stdlib.h>
#include <string.h>
#include <mpiflow/plugin.h>

typedef struct ctl {
    int f_enabled;
    int def;
    int blocked;    /* side port */
    int st_pending; /* list: [i64 time][record bytes] */
    int st_switch;  /* map: i64 time -> u8 enabled */
} ctl;

static int ctl_setup(mpf_ctx *ctx, ctl *c)
{
    const char *def = mpf_arg(ctx, "default", "enabled");
    if (strcmp(def, "enabled") != 0 && strcmp(def, "disabled") != 0)
        return mpf_error(ctx, "default must be enabled or disabled, got '%s'", def);
    c->def = strcmp(def, "enabled") == 0;
    c->f_enabled = mpf_field(ctx, MPF_INPUT2, mpf_arg(ctx, "enabled", "enabled"), MPF_BOOL);
    if (c->f_enabled < 0)
        return MPF_PLUGIN_ERROR;
    c->blocked = mpf_side_output(ctx, "blocked");
    return c->blocked < 0 ? MPF_PLUGIN_ERROR : 0;
}

static int ctl_configure(mpf_ctx *ctx)
{
    ctl c;
    return ctl_setup(ctx, &c);
}

static int ctl_open(mpf_ctx *ctx)
{
    ctl *c = calloc(1, sizeof *c);
    if (!c)
        return mpf_error(ctx, "out of memory");
    ctx->user = c;
    if (ctl_setup(ctx, c))
        return MPF_PLUGIN_ERROR;
    c->st_pending = mpf_state(ctx, "pending", MPF_LIST_STATE, 0, NULL);
    c->st_switch = mpf_state(ctx, "switches", MPF_MAP_STATE, 0, NULL);
    return c->st_pending < 0 || c->st_switch < 0 ? MPF_PLUGIN_ERROR : 0;
}

static void ctl_close(mpf_ctx *ctx)
{
    free(ctx->user);
    ctx->user = NULL;
}

static int64_t need_time(mpf_ctx *ctx)
{
    int64_t ts = mpf_timestamp(ctx);
    if (ts == MPF_NO_TIME)
        mpf_error(ctx, "needs event time on both inputs: give the sources a watermark");
    return ts;
}

/* Data: wait until the watermark reaches the record's time. */
static int ctl_process1(mpf_ctx *ctx, const mpf_rec *in)
{
    const ctl *c = ctx->user;
    int64_t ts = need_time(ctx);
    if (ts == MPF_NO_TIME)
        return MPF_PLUGIN_ERROR;
    uint32_t len;
    const void *rec = mpf_rec_bytes(ctx, in, &len);
    char stack[512];
    char *item = len + 8 <= sizeof stack ? stack : malloc(len + 8);
    if (!item)
        return mpf_error(ctx, "out of memory");
    memcpy(item, &ts, 8);
    memcpy(item + 8, rec, len);
    int rc = mpf_list_add(ctx, c->st_pending, item, len + 8);
    if (item != stack)
        free(item);
    if (rc)
        return rc;
    return mpf_timer_register(ctx, MPF_EVENT_TIME, ts);
}

/* Control: remember the switch at its time. */
static int ctl_process2(mpf_ctx *ctx, const mpf_rec *in)
{
    const ctl *c = ctx->user;
    int64_t ts = need_time(ctx);
    if (ts == MPF_NO_TIME)
        return MPF_PLUGIN_ERROR;
    uint8_t en = (uint8_t)mpf_get_bool(ctx, in, c->f_enabled);
    return mpf_map_put(ctx, c->st_switch, &ts, sizeof ts, &en, 1);
}

/* Whether the key is enabled at time t; *latest gets the time of the
 * switch that decided (or MPF_NO_TIME). */
static int enabled_at(mpf_ctx *ctx, const ctl *c, int64_t t, int64_t *latest)
{
    size_t pos = 0;
    const void *k, *v;
    uint32_t klen, vlen;
    int en = c->def;
    *latest = MPF_NO_TIME;
    while (mpf_map_next(ctx, c->st_switch, &pos, &k, &klen, &v, &vlen) == 1) {
        int64_t at;
        memcpy(&at, k, sizeof at);
        if (at <= t && at > *latest) {
            *latest = at;
            en = *(const uint8_t *)v;
        }
    }
    return en;
}

/* The watermark passed `time`: release pending records up to it. */
static int ctl_on_timer(mpf_ctx *ctx, int64_t time, int domain)
{
    const ctl *c = ctx->user;
    /* Take the pending list out of state (pointers into state go stale
     * once it changes), then put back what must still wait. */
    size_t pos = 0, total = 0, n = 0;
    const void *v;
    uint32_t len;
    while (mpf_list_next(ctx, c->st_pending, &pos, &v, &len) == 1) {
        total += len;
        n++;
    }
    char *buf = malloc(total + 1);
    uint32_t *lens = malloc((n + 1) * sizeof *lens);
    if (!buf || !lens) {
        free(buf);
        free(lens);
        return mpf_error(ctx, "out of memory");
    }
    pos = 0;
    size_t off = 0;
    for (size_t i = 0; mpf_list_next(ctx, c->st_pending, &pos, &v, &len) == 1; i++) {
        memcpy(buf + off, v, len);
        lens[i] = len;
        off += len;
    }
    int rc = mpf_state_clear(ctx, c->st_pending);
    off = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *item = buf + off;
        int64_t ts, latest;
        memcpy(&ts, item, 8);
        if (ts > time) {
            rc = mpf_list_add(ctx, c->st_pending, item, lens[i]);
        } else {
            int port = enabled_at(ctx, c, ts, &latest) ? MPF_MAIN : c->blocked;
            rc = mpf_forward_bytes(ctx, port, item + 8, lens[i] - 8);
        }
        off += lens[i];
    }
    free(buf);
    free(lens);
    if (rc)
        return rc;
    /* Records still to come are later than `time`: switches before the
     * one in force at `time` can no longer decide anything. */
    int64_t keep;
    enabled_at(ctx, c, time, &keep);
    if (keep == MPF_NO_TIME)
        return 0;
    for (;;) { /* remove one at a time: the map must not change mid-iteration */
        const void *k;
        uint32_t klen;
        int64_t old = MPF_NO_TIME, at;
        pos = 0;
        while (mpf_map_next(ctx, c->st_switch, &pos, &k, &klen, &v, &len) == 1) {
            memcpy(&at, k, sizeof at);
            if (at < keep) {
                old = at;
                break;
            }
        }
        if (old == MPF_NO_TIME)
            return 0;
        if (mpf_map_remove(ctx, c->st_switch, &old, sizeof old) < 0)
            return MPF_PLUGIN_ERROR;
    }
}

static const char *const ctl_args[] = {"default", "enabled", NULL};
static const char *const ctl_sides[] = {"blocked", NULL};

static const mpf_function control = {
    .name = "control",
    .kind = MPF_CO_PROCESS,
    .summary = "pass or block data records by the latest control record of their key",
    .args = ctl_args,
    .side_outputs = ctl_sides,
    .configure = ctl_configure,
    .open = ctl_open,
    .close = ctl_close,
    .process1 = ctl_process1,
    .process2 = ctl_process2,
    .on_timer = ctl_on_timer,
};

MPF_PLUGIN("control", "1.0", &control)
