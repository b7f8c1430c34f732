/* The mpf_api table that plugins call through (plugin layer): argument and
 * schema lookups, record access, the output record builder, keys, time,
 * timers and keyed state. Every entry checks that it is used in a
 * callback where it makes sense, with valid field indices and types, and
 * records an error naming the call otherwise, so a plugin bug fails the
 * job with a message rather than corrupting records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "plugin/plugin_int.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "util/clock.h"

_Static_assert((int)MPF_I64 == (int)FT_I64 && (int)MPF_F64 == (int)FT_F64 &&
                   (int)MPF_BOOL == (int)FT_BOOL && (int)MPF_STRING == (int)FT_STRING &&
                   (int)MPF_TIMESTAMP == (int)FT_TIMESTAMP,
               "plugin field types follow schema.h");

static inline plugin_ctx *PC(mpf_ctx *c) { return (plugin_ctx *)c; }

int plugin_fail(plugin_ctx *pc, int fatal, const char *fmt, ...)
{
    if (!pc->fatal) { /* keep the first misuse */
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(pc->err, sizeof pc->err, fmt, ap);
        va_end(ap);
    }
    pc->fatal |= fatal;
    return MPF_PLUGIN_ERROR;
}

static const char *phase_name(enum plugin_phase ph)
{
    static const char *const names[] = {"configure", "open", "a record callback", "on_timer",
                                        "close"};
    return names[ph];
}

/* Calls that need a record or timer callback. */
static int need_callback(plugin_ctx *pc, const char *call)
{
    if (pc->phase == PH_RECORD || pc->phase == PH_TIMER)
        return 0;
    return plugin_fail(pc, 1, "%s() cannot be called in %s", call, phase_name(pc->phase));
}

/* Keyed calls: a callback of an operator with key-by. */
static int need_key(plugin_ctx *pc, const char *call)
{
    if (need_callback(pc, call))
        return MPF_PLUGIN_ERROR;
    if (!pc->cfg->keyed)
        return plugin_fail(pc, 1, "%s() needs keyed input: add key-by to the operator", call);
    return 0;
}

/* --- errors and logging --- */

static int api_verror(mpf_ctx *c, const char *fmt, va_list ap)
{
    plugin_ctx *pc = PC(c);
    if (!pc->fatal)
        vsnprintf(pc->err, sizeof pc->err, fmt, ap);
    return MPF_PLUGIN_ERROR;
}

static void api_vlog(mpf_ctx *c, int level, const char *fmt, va_list ap)
{
    static const int lv[] = {LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR};
    int l = lv[level < 0 ? 0 : level > 3 ? 3 : level];
    if (l < log_threshold)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (c->subtask >= 0)
        log_write(l, "operator '%s' (%s) subtask %d: %s", c->uid, c->function, c->subtask + 1,
                  msg);
    else
        log_write(l, "operator '%s' (%s): %s", c->uid, c->function, msg);
}

/* --- configuration and schemas --- */

static const char *api_arg(mpf_ctx *c, const char *name, const char *def)
{
    const plugin_cfg *cfg = PC(c)->cfg;
    for (int i = 0; i < cfg->nargs; i++)
        if (strcmp(cfg->arg_name[i], name) == 0)
            return cfg->arg_value[i];
    return def;
}

const schema *plugin_stream_schema(const plugin_ctx *pc, int stream)
{
    const op_spec *s = pc->spec;
    if (stream >= 0)
        return stream < s->ninputs ? s->in_schema[stream] : NULL;
    if (stream == MPF_OUTPUT)
        return &s->out_schema;
    int port = -1 - stream;
    return port >= 1 && port <= s->nside ? &s->side_schema[port - 1] : NULL;
}

static void stream_name(const plugin_ctx *pc, int stream, char *buf, size_t n)
{
    if (stream >= 0)
        snprintf(buf, n, "input %d", stream + 1);
    else if (stream == MPF_OUTPUT)
        snprintf(buf, n, "the output");
    else if (-1 - stream >= 1 && -1 - stream <= pc->spec->nside)
        snprintf(buf, n, "side output '%s'", pc->spec->side_name[-2 - stream]);
    else
        snprintf(buf, n, "stream %d", stream);
}

static int types_match(int want, field_type have)
{
    if (want == MPF_ANY || want == (int)have)
        return 1;
    return (want == MPF_I64 && have == FT_TIMESTAMP) || (want == MPF_TIMESTAMP && have == FT_I64);
}

static const char *type_name(int t)
{
    return t >= FT_I64 && t <= FT_TIMESTAMP ? field_type_name((field_type)t) : "any";
}

static int api_field(mpf_ctx *c, int stream, const char *name, int type)
{
    plugin_ctx *pc = PC(c);
    const schema *s = plugin_stream_schema(pc, stream);
    char where[300];
    stream_name(pc, stream, where, sizeof where);
    if (!s) {
        plugin_fail(pc, 0, "field '%s': there is no %s", name, where);
        return -1;
    }
    int idx = schema_find(s, name);
    if (idx < 0) {
        char sch[512];
        schema_format(s, sch, sizeof sch);
        plugin_fail(pc, 0, "field '%s' is not in %s (%s)", name, where, sch);
        return -1;
    }
    if (!types_match(type, s->f[idx].type)) {
        plugin_fail(pc, 0, "field '%s' of %s is %s, not %s", name, where,
                    field_type_name(s->f[idx].type), type_name(type));
        return -1;
    }
    return idx;
}

static int api_field_count(mpf_ctx *c, int stream)
{
    const schema *s = plugin_stream_schema(PC(c), stream);
    return s ? s->n : -1;
}

static const char *api_field_name(mpf_ctx *c, int stream, int index)
{
    const schema *s = plugin_stream_schema(PC(c), stream);
    return s && index >= 0 && index < s->n ? s->f[index].name : NULL;
}

static int api_field_type(mpf_ctx *c, int stream, int index)
{
    const schema *s = plugin_stream_schema(PC(c), stream);
    return s && index >= 0 && index < s->n ? (int)s->f[index].type : -1;
}

static int api_side_output(mpf_ctx *c, const char *name)
{
    const op_spec *s = PC(c)->spec;
    for (int p = 0; p < s->nside; p++)
        if (strcmp(s->side_name[p], name) == 0)
            return p + 1;
    plugin_fail(PC(c), 0, "no side output '%s' (declare it in the function's side_outputs or "
                "under side-outputs: in the job)", name);
    return -1;
}

/* --- reading records --- */

/* Pointer to field f of r, or NULL after recording why. */
static const uint8_t *in_field(plugin_ctx *pc, const mpf_rec *r, int f, const char *call,
                               int want)
{
    if (need_callback(pc, call))
        return NULL;
    if (!r || !r->p) {
        plugin_fail(pc, 1, "%s(): no record", call);
        return NULL;
    }
    if (f < 0 || f >= r->s->n) {
        plugin_fail(pc, 1, "%s(): field index %d out of range (the record has %d fields)", call,
                    f, r->s->n);
        return NULL;
    }
    field_type t = r->s->f[f].type;
    int ok = want == FT_I64 ? t != FT_STRING && t != FT_F64
             : want == FT_F64 ? t == FT_F64 || t == FT_I64 || t == FT_TIMESTAMP
                              : t == (field_type)want;
    if (!ok) {
        plugin_fail(pc, 1, "%s(): field '%s' is %s", call, r->s->f[f].name, field_type_name(t));
        return NULL;
    }
    return rec_field(r->s, r->p, f);
}

static int64_t api_get_i64(mpf_ctx *c, const mpf_rec *r, int f)
{
    const uint8_t *p = in_field(PC(c), r, f, "get_i64", FT_I64);
    if (!p)
        return 0;
    return r->s->f[f].type == FT_BOOL ? (int64_t)p[0] : rd_i64(p);
}

static double api_get_f64(mpf_ctx *c, const mpf_rec *r, int f)
{
    const uint8_t *p = in_field(PC(c), r, f, "get_f64", FT_F64);
    if (!p)
        return 0;
    return r->s->f[f].type == FT_F64 ? rd_f64(p) : (double)rd_i64(p);
}

static int api_get_bool(mpf_ctx *c, const mpf_rec *r, int f)
{
    const uint8_t *p = in_field(PC(c), r, f, "get_bool", FT_BOOL);
    return p ? p[0] != 0 : 0;
}

static const char *api_get_str(mpf_ctx *c, const mpf_rec *r, int f, uint32_t *len)
{
    const uint8_t *p = in_field(PC(c), r, f, "get_str", FT_STRING);
    if (!p) {
        if (len)
            *len = 0;
        return "";
    }
    if (len)
        *len = rd_u32(p);
    return (const char *)p + 4;
}

static int64_t api_timestamp(mpf_ctx *c) { return PC(c)->cur_ts; }

/* --- output --- */

void plugin_out_begin(plugin_ctx *pc, int port)
{
    pc->out_port = port;
    pc->out_schema = port ? &pc->spec->side_schema[port - 1] : &pc->spec->out_schema;
    memset(pc->slots, 0, (size_t)pc->out_schema->n * sizeof *pc->slots);
    pc->alen = 0;
}

void plugin_out_emit(plugin_ctx *pc)
{
    const schema *s = pc->out_schema;
    recbuf *rb = &pc->rb;
    recbuf_begin(rb);
    for (int i = 0; i < s->n; i++) {
        const plugin_slot *sl = &pc->slots[i];
        switch (s->f[i].type) {
        case FT_F64:
            recbuf_f64(rb, sl->f);
            break;
        case FT_BOOL:
            recbuf_bool(rb, sl->i != 0);
            break;
        case FT_STRING:
            recbuf_str(rb, !sl->len ? (const void *)""
                           : sl->ext ? (const void *)sl->ext
                                     : (const void *)(pc->arena + sl->off),
                       sl->len);
            break;
        default:
            recbuf_i64(rb, sl->i);
        }
    }
    recbuf_end(rb);
    if (pc->out_port == 0)
        op_emit(pc->oi, rb->p, rb->len);
    else
        op_emit_side(pc->oi, pc->out_port - 1, rb->p, rb->len);
    pc->out_port = -1;
}

static int api_out_begin(mpf_ctx *c, int port)
{
    plugin_ctx *pc = PC(c);
    if (need_callback(pc, "out_begin"))
        return MPF_PLUGIN_ERROR;
    int kind = pc->cfg->fn->kind;
    if (kind == MPF_MAP || kind == MPF_FILTER)
        return plugin_fail(pc, 1, "out_begin(): a %s function cannot emit records; use a "
                           "flat-map or process function", kind == MPF_MAP ? "map" : "filter");
    if (port < 0 || port > pc->spec->nside)
        return plugin_fail(pc, 1, "out_begin(): no output port %d (side outputs: %d)", port,
                           pc->spec->nside);
    plugin_out_begin(pc, port);
    return 0;
}

/* The slot of output field f, checking that f may take a value of type
 * `want` (FT_I64 covers numbers and bool; FT_F64 numbers). */
static plugin_slot *out_slot(plugin_ctx *pc, int f, const char *call, int want)
{
    if (pc->out_port < 0) {
        plugin_fail(pc, 1, "%s(): no record begun (call out_begin first)", call);
        return NULL;
    }
    const schema *s = pc->out_schema;
    if (f < 0 || f >= s->n) {
        plugin_fail(pc, 1, "%s(): output field index %d out of range (%d fields)", call, f,
                    s->n);
        return NULL;
    }
    field_type t = s->f[f].type;
    int ok = want == FT_STRING ? t == FT_STRING : t != FT_STRING;
    if (want == FT_BOOL)
        ok = t == FT_BOOL || t == FT_I64;
    if (!ok) {
        plugin_fail(pc, 1, "%s(): output field '%s' is %s", call, s->f[f].name,
                    field_type_name(t));
        return NULL;
    }
    return &pc->slots[f];
}

static void slot_num(plugin_slot *sl, field_type t, int64_t i, double f, int is_f)
{
    if (t == FT_F64) {
        sl->f = is_f ? f : (double)i;
    } else {
        sl->i = is_f ? (int64_t)f : i;
        if (t == FT_BOOL)
            sl->i = sl->i != 0;
    }
}

static int api_set_i64(mpf_ctx *c, int f, int64_t v)
{
    plugin_ctx *pc = PC(c);
    plugin_slot *sl = out_slot(pc, f, "set_i64", FT_I64);
    if (!sl)
        return MPF_PLUGIN_ERROR;
    slot_num(sl, pc->out_schema->f[f].type, v, 0, 0);
    return 0;
}

static int api_set_f64(mpf_ctx *c, int f, double v)
{
    plugin_ctx *pc = PC(c);
    plugin_slot *sl = out_slot(pc, f, "set_f64", FT_F64);
    if (!sl)
        return MPF_PLUGIN_ERROR;
    slot_num(sl, pc->out_schema->f[f].type, 0, v, 1);
    return 0;
}

static int api_set_bool(mpf_ctx *c, int f, int v)
{
    plugin_ctx *pc = PC(c);
    plugin_slot *sl = out_slot(pc, f, "set_bool", FT_BOOL);
    if (!sl)
        return MPF_PLUGIN_ERROR;
    sl->i = v != 0;
    return 0;
}

static void slot_str(plugin_ctx *pc, plugin_slot *sl, const void *s, uint32_t len)
{
    if (pc->alen + (size_t)len > pc->acap) {
        pc->acap = (pc->alen + len) * 2 + 64;
        pc->arena = xrealloc(pc->arena, pc->acap);
    }
    if (len)
        memcpy(pc->arena + pc->alen, s, len);
    sl->ext = NULL;
    sl->off = pc->alen;
    sl->len = len;
    pc->alen += len;
}

static int api_set_str(mpf_ctx *c, int f, const char *s, uint32_t len)
{
    plugin_ctx *pc = PC(c);
    plugin_slot *sl = out_slot(pc, f, "set_str", FT_STRING);
    if (!sl)
        return MPF_PLUGIN_ERROR;
    if (!s && len)
        return plugin_fail(pc, 1, "set_str(): NULL string");
    slot_str(pc, sl, s, len);
    return 0;
}

/* Copy an encoded field of type t into output field f (checked). */
static int copy_raw(plugin_ctx *pc, int f, field_type t, const uint8_t *p, const char *call)
{
    plugin_slot *sl = out_slot(pc, f, call, t == FT_STRING ? FT_STRING : FT_I64);
    if (!sl)
        return MPF_PLUGIN_ERROR;
    field_type ot = pc->out_schema->f[f].type;
    int same = ot == t || (ot == FT_I64 && t == FT_TIMESTAMP) || (ot == FT_TIMESTAMP && t == FT_I64);
    if (!same)
        return plugin_fail(pc, 1, "%s(): output field '%s' is %s but the value is %s", call,
                           pc->out_schema->f[f].name, field_type_name(ot), field_type_name(t));
    if (t == FT_STRING) {
        sl->ext = p + 4;
        sl->len = rd_u32(p);
    } else if (t == FT_BOOL) {
        sl->i = p[0];
    } else if (t == FT_F64) {
        sl->f = rd_f64(p);
    } else {
        sl->i = rd_i64(p);
    }
    return 0;
}

static int api_copy_field(mpf_ctx *c, int f, const mpf_rec *r, int in_f)
{
    plugin_ctx *pc = PC(c);
    if (!r || !r->p || in_f < 0 || in_f >= r->s->n)
        return plugin_fail(pc, 1, "copy_field(): no such input field %d", in_f);
    return copy_raw(pc, f, r->s->f[in_f].type, rec_field(r->s, r->p, in_f), "copy_field");
}

static int api_copy_fields(mpf_ctx *c, const mpf_rec *r)
{
    plugin_ctx *pc = PC(c);
    if (pc->out_port < 0)
        return plugin_fail(pc, 1, "copy_fields(): no record begun (call out_begin first)");
    if (!r || !r->p)
        return plugin_fail(pc, 1, "copy_fields(): no record");
    const schema *o = pc->out_schema;
    for (int i = 0; i < o->n; i++) {
        int k = schema_find(r->s, o->f[i].name);
        if (k >= 0 && r->s->f[k].type == o->f[i].type &&
            copy_raw(pc, i, r->s->f[k].type, rec_field(r->s, r->p, k), "copy_fields"))
            return MPF_PLUGIN_ERROR;
    }
    return 0;
}

static field_type key_type_of(const plugin_ctx *pc)
{
    const op_spec *s = pc->spec;
    return s->in_schema[0]->f[s->key_indices[0]].type;
}

static int api_set_key(mpf_ctx *c, int f)
{
    plugin_ctx *pc = PC(c);
    if (need_key(pc, "set_key"))
        return MPF_PLUGIN_ERROR;
    field_type t = key_type_of(pc);
    if (t == FT_STRING) {
        plugin_slot *sl = out_slot(pc, f, "set_key", FT_STRING);
        if (!sl)
            return MPF_PLUGIN_ERROR;
        slot_str(pc, sl, pc->scope.key, pc->scope.klen);
        return 0;
    }
    uint8_t raw[8] = {0};
    memcpy(raw, pc->scope.key, pc->scope.klen < 8 ? pc->scope.klen : 8);
    return copy_raw(pc, f, t, raw, "set_key");
}

static int api_emit(mpf_ctx *c)
{
    plugin_ctx *pc = PC(c);
    if (need_callback(pc, "emit"))
        return MPF_PLUGIN_ERROR;
    if (pc->out_port < 0)
        return plugin_fail(pc, 1, "emit(): no record begun (call out_begin first)");
    if (pc->cfg->fn->kind == MPF_MAP)
        return plugin_fail(pc, 1, "emit(): a map function returns its one record; use a "
                           "flat-map to emit several");
    plugin_out_emit(pc);
    return 0;
}

static int api_forward(mpf_ctx *c, int port, const mpf_rec *r)
{
    plugin_ctx *pc = PC(c);
    if (need_callback(pc, "forward"))
        return MPF_PLUGIN_ERROR;
    int kind = pc->cfg->fn->kind;
    if (kind == MPF_MAP || kind == MPF_FILTER)
        return plugin_fail(pc, 1, "forward(): a %s function cannot emit records",
                           kind == MPF_MAP ? "map" : "filter");
    if (port < 0 || port > pc->spec->nside)
        return plugin_fail(pc, 1, "forward(): no output port %d", port);
    if (!r || !r->p)
        return plugin_fail(pc, 1, "forward(): no record");
    const schema *o = port ? &pc->spec->side_schema[port - 1] : &pc->spec->out_schema;
    if (!schema_equal(o, r->s)) {
        char a[512], b[512];
        schema_format(o, a, sizeof a);
        schema_format(r->s, b, sizeof b);
        return plugin_fail(pc, 1, "forward(): the record (%s) does not match port %d (%s)", b,
                           port, a);
    }
    if (port == 0)
        op_emit(pc->oi, r->p, rec_size(r->p));
    else
        op_emit_side(pc->oi, port - 1, r->p, rec_size(r->p));
    return 0;
}

static const void *api_rec_bytes(mpf_ctx *c, const mpf_rec *r, uint32_t *len)
{
    plugin_ctx *pc = PC(c);
    if (need_callback(pc, "rec_bytes") || !r || !r->p) {
        if (!pc->fatal)
            plugin_fail(pc, 1, "rec_bytes(): no record");
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = rec_size(r->p);
    return r->p;
}

static int api_forward_bytes(mpf_ctx *c, int port, const void *bytes, uint32_t len)
{
    plugin_ctx *pc = PC(c);
    if (need_callback(pc, "forward_bytes"))
        return MPF_PLUGIN_ERROR;
    int kind = pc->cfg->fn->kind;
    if (kind == MPF_MAP || kind == MPF_FILTER)
        return plugin_fail(pc, 1, "forward_bytes(): a %s function cannot emit records",
                           kind == MPF_MAP ? "map" : "filter");
    if (port < 0 || port > pc->spec->nside)
        return plugin_fail(pc, 1, "forward_bytes(): no output port %d", port);
    const schema *o = port ? &pc->spec->side_schema[port - 1] : &pc->spec->out_schema;
    const uint8_t *p = bytes;
    if (!p || len < REC_LEN_SIZE || rd_u32(p) != len - REC_LEN_SIZE || rec_validate(o, p))
        return plugin_fail(pc, 1, "forward_bytes(): %u bytes are not a record of port %d's "
                           "schema (keep records with rec_bytes)", len, port);
    if (port == 0)
        op_emit(pc->oi, p, len);
    else
        op_emit_side(pc->oi, port - 1, p, len);
    return 0;
}

/* --- keys, time and timers --- */

static const void *api_key(mpf_ctx *c, uint32_t *len)
{
    plugin_ctx *pc = PC(c);
    if (!pc->cfg->keyed || !pc->have_key) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = pc->scope.klen;
    return pc->scope.key;
}

static int api_key_type(mpf_ctx *c)
{
    plugin_ctx *pc = PC(c);
    return pc->cfg->keyed ? (int)key_type_of(pc) : -1;
}

static int64_t api_watermark(mpf_ctx *c)
{
    plugin_ctx *pc = PC(c);
    return pc->oi && pc->oi->watermark != WM_MIN ? pc->oi->watermark : MPF_NO_TIME;
}

static int64_t api_now(mpf_ctx *c)
{
    (void)c;
    return clock_wall_ms();
}

static int timer_check(plugin_ctx *pc, int domain, const char *call)
{
    if (need_key(pc, call))
        return MPF_PLUGIN_ERROR;
    if (domain != MPF_EVENT_TIME && domain != MPF_PROCESSING_TIME)
        return plugin_fail(pc, 1, "%s(): domain must be MPF_EVENT_TIME or MPF_PROCESSING_TIME",
                           call);
    if (!pc->cfg->fn->on_timer)
        return plugin_fail(pc, 1, "%s(): the function has no on_timer callback", call);
    return 0;
}

static int api_timer_register(mpf_ctx *c, int domain, int64_t t)
{
    plugin_ctx *pc = PC(c);
    if (timer_check(pc, domain, "timer_register"))
        return MPF_PLUGIN_ERROR;
    timers_add(&pc->timers[domain], t, pc->scope.key, pc->scope.klen);
    if (domain == MPF_PROCESSING_TIME && t < pc->oi->proc_timer)
        pc->oi->proc_timer = t;
    return 0;
}

static int api_timer_delete(mpf_ctx *c, int domain, int64_t t)
{
    plugin_ctx *pc = PC(c);
    if (timer_check(pc, domain, "timer_delete"))
        return MPF_PLUGIN_ERROR;
    timers_del(&pc->timers[domain], t, pc->scope.key, pc->scope.klen);
    return 0;
}

/* --- keyed state --- */

static const char *const state_kinds[] = {"value", "list", "map", "reducing"};

static int api_state(mpf_ctx *c, const char *name, int kind, uint32_t size,
                     mpf_reduce_fn reduce)
{
    plugin_ctx *pc = PC(c);
    if (pc->phase == PH_CONFIGURE || pc->phase == PH_CLOSE)
        return plugin_fail(pc, 1, "state(): declare state in open, not in %s",
                           phase_name(pc->phase));
    if (!pc->cfg->keyed)
        return plugin_fail(pc, 1, "state('%s'): keyed state needs key-by on the operator",
                           name ? name : "");
    if (!name || !*name)
        return plugin_fail(pc, 1, "state(): a state needs a name");
    if (kind < MPF_VALUE_STATE || kind > MPF_REDUCING_STATE)
        return plugin_fail(pc, 1, "state('%s'): unknown kind %d", name, kind);
    if (kind == MPF_REDUCING_STATE && (!size || !reduce))
        return plugin_fail(pc, 1, "state('%s'): reducing state needs a size and a reduce "
                           "function", name);
    if (kind != MPF_REDUCING_STATE) {
        size = 0;
        reduce = NULL;
    }
    int id = plugin_state_declare(&pc->state, name, kind, size, reduce);
    if (id < 0) {
        int restored = 0;
        for (int i = 0; i < pc->state.ndecl; i++)
            if (strcmp(pc->state.decl[i].name, name) == 0)
                restored = pc->state.decl[i].pending;
        return plugin_fail(pc, 1, restored ? "state('%s'): the checkpoint this job was restored "
                           "from holds it as another kind of state (or size)"
                                           : "state('%s'): already declared as another kind of "
                           "state", name);
    }
    return id;
}

/* Checks a keyed state call on handle st of one of the allowed kinds
 * (bit mask by kind). */
static int state_check(plugin_ctx *pc, int st, unsigned kinds, const char *call)
{
    if (need_key(pc, call))
        return MPF_PLUGIN_ERROR;
    if (st < 0 || st >= pc->state.ndecl || pc->state.decl[st].pending)
        return plugin_fail(pc, 1, "%s(): no state with handle %d", call, st);
    int kind = pc->state.decl[st].kind;
    if (!(kinds & (1u << kind)))
        return plugin_fail(pc, 1, "%s(): state '%s' is %s state", call,
                           pc->state.decl[st].name, state_kinds[kind]);
    return 0;
}

#define K_VALUE (1u << MPF_VALUE_STATE)
#define K_LIST (1u << MPF_LIST_STATE)
#define K_MAP (1u << MPF_MAP_STATE)
#define K_REDUCING (1u << MPF_REDUCING_STATE)
#define K_ALL (K_VALUE | K_LIST | K_MAP | K_REDUCING)

static int api_state_clear(mpf_ctx *c, int st)
{
    plugin_ctx *pc = PC(c);
    if (state_check(pc, st, K_ALL, "state_clear"))
        return MPF_PLUGIN_ERROR;
    plugin_state_clear(&pc->state, &pc->scope, st);
    return 0;
}

static int64_t api_state_size(mpf_ctx *c, int st)
{
    plugin_ctx *pc = PC(c);
    if (state_check(pc, st, K_ALL, "state_size"))
        return 0;
    return plugin_state_size(&pc->state, &pc->scope, st);
}

static const void *api_value_get(mpf_ctx *c, int st, uint32_t *len)
{
    plugin_ctx *pc = PC(c);
    if (state_check(pc, st, K_VALUE | K_REDUCING, "value_get"))
        return NULL;
    return plugin_state_value_get(&pc->state, &pc->scope, st, len);
}

static int api_value_set(mpf_ctx *c, int st, const void *v, uint32_t len)
{
    plugin_ctx *pc = PC(c);
    if (state_check(pc, st, K_VALUE, "value_set"))
        return MPF_PLUGIN_ERROR;
    if (!v && len)
        return plugin_fail(pc, 1, "value_set(): NULL value");
    plugin_state_value_set(&pc->state, &pc->scope, st, v, len);
    return 0;
}

static int api_list_add(mpf_ctx *c, int st, const void *v, uint32_t len)
{
    plugin_ctx *pc = PC(c);
    if (state_check(pc, st, K_LIST, "list_add"))
        return MPF_PLUGIN_ERROR;
    if (!v && len)
        return plugin_fail(pc, 1, "list_add(): NULL value");
    plugin_state_list_add(&pc->state, &pc->scope, st, v, len);
    return 0;
}

static int api_list_next(mpf_ctx *c, int st, size_t *pos, const void **v, uint32_t *len)
{
    plugin_ctx *pc = PC(c);
    if (state_check(pc, st, K_LIST, "list_next"))
        return MPF_PLUGIN_ERROR;
    return plugin_state_list_next(&pc->state, &pc->scope, st, pos, v, len);
}

static int api_map_put(mpf_ctx *c, int st, const void *uk, uint32_t uklen, const void *v,
                       uint32_t len)
{
    plugin_ctx *pc = PC(c);
    if (state_check(pc, st, K_MAP, "map_put"))
        return MPF_PLUGIN_ERROR;
    if ((!uk && uklen) || (!v && len))
        return plugin_fail(pc, 1, "map_put(): NULL key or value");
    plugin_state_map_put(&pc->state, &pc->scope, st, uk, uklen, v, len);
    return 0;
}

static const void *api_map_get(mpf_ctx *c, int st, const void *uk, uint32_t uklen,
                               uint32_t *len)
{
    plugin_ctx *pc = PC(c);
    if (state_check(pc, st, K_MAP, "map_get"))
        return NULL;
    return plugin_state_map_get(&pc->state, &pc->scope, st, uk, uklen, len);
}

static int api_map_remove(mpf_ctx *c, int st, const void *uk, uint32_t uklen)
{
    plugin_ctx *pc = PC(c);
    if (state_check(pc, st, K_MAP, "map_remove"))
        return MPF_PLUGIN_ERROR;
    return plugin_state_map_remove(&pc->state, &pc->scope, st, uk, uklen);
}

static int api_map_next(mpf_ctx *c, int st, size_t *pos, const void **uk, uint32_t *uklen,
                        const void **v, uint32_t *len)
{
    plugin_ctx *pc = PC(c);
    if (state_check(pc, st, K_MAP, "map_next"))
        return MPF_PLUGIN_ERROR;
    return plugin_state_map_next(&pc->state, &pc->scope, st, pos, uk, uklen, v, len);
}

static int api_reduce_add(mpf_ctx *c, int st, const void *v)
{
    plugin_ctx *pc = PC(c);
    if (state_check(pc, st, K_REDUCING, "reduce_add"))
        return MPF_PLUGIN_ERROR;
    if (!v)
        return plugin_fail(pc, 1, "reduce_add(): NULL value");
    plugin_state_reduce_add(&pc->state, &pc->scope, st, v);
    return 0;
}

static const mpf_api api = {
    .size = sizeof(mpf_api),
    .abi_version = MPF_PLUGIN_ABI_VERSION,
    .verror = api_verror,
    .vlog = api_vlog,
    .arg = api_arg,
    .field = api_field,
    .field_count = api_field_count,
    .field_name = api_field_name,
    .field_type = api_field_type,
    .side_output = api_side_output,
    .get_i64 = api_get_i64,
    .get_f64 = api_get_f64,
    .get_bool = api_get_bool,
    .get_str = api_get_str,
    .timestamp = api_timestamp,
    .out_begin = api_out_begin,
    .set_i64 = api_set_i64,
    .set_f64 = api_set_f64,
    .set_bool = api_set_bool,
    .set_str = api_set_str,
    .copy_field = api_copy_field,
    .copy_fields = api_copy_fields,
    .set_key = api_set_key,
    .emit = api_emit,
    .forward = api_forward,
    .rec_bytes = api_rec_bytes,
    .forward_bytes = api_forward_bytes,
    .key = api_key,
    .key_type = api_key_type,
    .watermark = api_watermark,
    .now = api_now,
    .timer_register = api_timer_register,
    .timer_delete = api_timer_delete,
    .state = api_state,
    .state_clear = api_state_clear,
    .value_get = api_value_get,
    .value_set = api_value_set,
    .list_add = api_list_add,
    .list_next = api_list_next,
    .map_put = api_map_put,
    .map_get = api_map_get,
    .map_remove = api_map_remove,
    .map_next = api_map_next,
    .state_size = api_state_size,
    .reduce_add = api_reduce_add,
};

const mpf_api *plugin_api(void) { return &api; }
