/* `type: plugin`: user functions in C from a shared library (plugin layer).
 *
 *   - uid: detect
 *     type: plugin
 *     plugin: plugins/fraud.so     # job file's directory, then the cwd
 *     function: fraud-detector
 *     key-by: account
 *     args: {large: 500}
 *     output: [{name: account, type: string}, {name: amount, type: f64}]
 *     side-outputs: {expired: [{name: account, type: string}]}
 *
 * At plan time (so `mpiflow validate` and the JobManager report problems
 * before the job starts) the library is opened, its descriptor checked
 * against MPF_PLUGIN_ABI_VERSION and the function looked up; its kind must
 * fit the operator (two inputs need a co-process function, a keyed
 * process function needs key-by). The library stays open for the
 * operator's lifetime. At run time each subtask gets a context whose API
 * table (plugin_api.c) reads records, builds output records, and keeps
 * keyed state (plugin_state.c, on kstore) and timers (state/timers.h).
 * Event-time timers fire in on_watermark, processing-time timers in
 * on_proc_time; both a bounded number per call, so output can drain.
 *
 * Output schema: `output:` when given, else the first input's; the event-
 * time field stays the event-time field when a field of its name and
 * type is in the output. Side outputs: the function's side_outputs and
 * `side-outputs:` entries, each with the listed fields (or the first
 * input's schema when no list is given).
 *
 * Checkpoints: keyed state and the timers of both domains, one SNAP_KEYED
 * blob per key group: the state table and state entries of
 * plugin_state.h, then PSNAP_TIMER entries. States are matched by name on
 * restore. What a plugin keeps in ctx->user is not checkpointed (as
 * Flink's checkpoints cover managed state only). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "plugin/plugin_int.h"
#include "util/strutil.h"
#include "util/xmalloc.h"

/* Timers fired per on_watermark / on_proc_time call. */
#define TIMER_BUDGET 1024

static const char *const plugin_keys[] = {"plugin", "function", "args", "output",
                                          "side-outputs", NULL};
static const char *const kind_names[] = {"?", "map", "flat-map", "filter", "keyed process",
                                         "co-process"};

static const char *kind_name(int kind)
{
    return kind >= MPF_MAP && kind <= MPF_CO_PROCESS ? kind_names[kind] : "unknown";
}

static void plugin_cfg_free(void *p)
{
    plugin_cfg *cfg = p;
    if (!cfg)
        return;
    for (int i = 0; i < cfg->nargs; i++) {
        free(cfg->arg_name[i]);
        free(cfg->arg_value[i]);
    }
    free(cfg->arg_name);
    free(cfg->arg_value);
    free(cfg->map_from);
    free(cfg->path);
    if (cfg->dl)
        dlclose(cfg->dl);
    free(cfg);
}

/* Where the library is: absolute as given; relative against the job
 * file's directory, then the current directory. Returns a heap path or
 * NULL with the places tried in `tried`. */
static char *find_library(const char *job_file, const char *path, char *tried, size_t n)
{
    if (path[0] == '/') {
        snprintf(tried, n, "%s", path);
        return access(path, F_OK) == 0 ? xstrdup(path) : NULL;
    }
    /* dlopen searches the library path for names without a slash. */
    char *c2 = strchr(path, '/') ? xstrdup(path) : xasprintf("./%s", path);
    char *c1 = str_path_beside(job_file, path);
    if (!c1)
        c1 = xstrdup(c2);
    if (access(c1, F_OK) == 0) {
        free(c2);
        return c1;
    }
    if (access(c2, F_OK) == 0) {
        free(c1);
        return c2;
    }
    if (strcmp(c1, c2) == 0)
        snprintf(tried, n, "%s", c1);
    else
        snprintf(tried, n, "%s and %s", c1, c2);
    free(c1);
    free(c2);
    return NULL;
}

/* `fields: [{name, type}, ...]` into sch (for output and side outputs). */
static int parse_fields(const op_spec *s, const ynode *list, const char *what, schema *sch,
                        mpf_err *e)
{
    static const char *const field_keys[] = {"name", "type", NULL};
    if (list->kind != YNODE_SEQ || list->n == 0)
        return err_set(e, MPF_EJOB, "%s: operator '%s': %s must be a list of {name, type}",
                       ynode_pos(list), s->uid, what);
    for (size_t i = 0; i < list->n; i++) {
        const ynode *f = list->items[i];
        const char *name = NULL, *type = NULL;
        field_type t;
        if (f->kind != YNODE_MAP)
            return err_set(e, MPF_EJOB, "%s: operator '%s': each %s field is a map {name, type}",
                           ynode_pos(f), s->uid, what);
        if (ynode_check_keys(f, field_keys, "a field", e) ||
            ynode_get_str(f, "name", 1, &name, e) || ynode_get_str(f, "type", 1, &type, e))
            return err_prefix(e, "operator '%s'", s->uid);
        if (field_type_parse(type, &t))
            return err_set(e, MPF_EJOB, "%s: operator '%s': unknown type '%s' (i64, f64, bool, "
                           "string, timestamp)", ynode_pos(ynode_get(f, "type")), s->uid, type);
        if (schema_find(sch, name) >= 0)
            return err_set(e, MPF_EJOB, "%s: operator '%s': duplicate field '%s' in %s",
                           ynode_pos(f), s->uid, name, what);
        schema_add(sch, name, t);
    }
    return 0;
}

/* Keep the input's event-time field as such when it passes through. */
static void keep_rowtime(schema *out, const schema *in)
{
    out->rowtime = -1;
    if (in->rowtime < 0)
        return;
    int k = schema_find(out, in->f[in->rowtime].name);
    if (k >= 0 && out->f[k].type == in->f[in->rowtime].type)
        out->rowtime = k;
}

static int load_library(op_spec *s, plugin_cfg *cfg, mpf_err *e)
{
    const ynode *pn = ynode_get(s->node, "plugin");
    const char *where = ynode_pos(pn);
    char tried[2048];
    char *path = find_library(s->node->file, pn->str, tried, sizeof tried);
    if (!path)
        return err_set(e, MPF_ENOENT, "%s: operator '%s': plugin '%s' not found (looked for %s)",
                       where, s->uid, pn->str, tried);
    cfg->path = path;
    dlerror();
    cfg->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!cfg->dl) {
        const char *why = dlerror();
        return err_set(e, MPF_EJOB, "%s: operator '%s': cannot load plugin '%s': %s", where,
                       s->uid, path, why ? why : "unknown error");
    }
    dlerror();
    void *sym = dlsym(cfg->dl, MPF_PLUGIN_SYMBOL);
    if (!sym)
        return err_set(e, MPF_EJOB, "%s: operator '%s': plugin '%s' does not export %s(); is it "
                       "an mpiflow plugin? (define it with MPF_PLUGIN from "
                       "<mpiflow/plugin.h>, see docs/PLUGINS.md)", where, s->uid, path,
                       MPF_PLUGIN_SYMBOL);
    const mpf_plugin *(*get)(void);
    memcpy(&get, &sym, sizeof get); /* POSIX: function pointers round-trip via void * */
    cfg->desc = get();
    if (!cfg->desc)
        return err_set(e, MPF_EJOB, "%s: operator '%s': plugin '%s': %s() returned NULL", where,
                       s->uid, path, MPF_PLUGIN_SYMBOL);
    uint32_t v = cfg->desc->abi_version;
    if (v >> 16 != MPF_PLUGIN_ABI_MAJOR || (v & 0xffff) > MPF_PLUGIN_ABI_MINOR)
        return err_set(e, MPF_EJOB, "%s: operator '%s': plugin '%s' was built for plugin ABI "
                       "%u.%u but this mpiflow provides %d.%d; rebuild it against this "
                       "mpiflow's <mpiflow/plugin.h>", where, s->uid, path, v >> 16, v & 0xffff,
                       MPF_PLUGIN_ABI_MAJOR, MPF_PLUGIN_ABI_MINOR);
    return 0;
}

static int find_function(op_spec *s, plugin_cfg *cfg, mpf_err *e)
{
    const ynode *fnode = ynode_get(s->node, "function");
    const char *name = fnode->str;
    const mpf_function *const *fns = cfg->desc->functions;
    int n = 0;
    for (; fns && fns[n]; n++)
        if (fns[n]->name && strcmp(fns[n]->name, name) == 0)
            cfg->fn = fns[n];
    if (cfg->fn)
        return 0;
    const char **names = xcalloc((size_t)n + 1, sizeof *names);
    char list[512] = "";
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        names[i] = fns[i]->name ? fns[i]->name : "?";
        if (off < sizeof list)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                    names[i]);
    }
    const char *near = str_closest(name, names);
    err_set(e, MPF_EJOB, "%s: operator '%s': plugin '%s' has no function '%s'%s%s%s; it has: %s",
            ynode_pos(fnode), s->uid, cfg->path, name, near ? " (did you mean '" : "",
            near ? near : "", near ? "'?)" : "", n ? list : "none");
    free(names);
    return MPF_EJOB;
}

/* The function's kind must fit the operator's inputs and keying, and
 * have the callbacks that kind needs. */
static int check_kind(const op_spec *s, const plugin_cfg *cfg, mpf_err *e)
{
    const mpf_function *fn = cfg->fn;
    const char *where = ynode_pos(ynode_get(s->node, "function"));
    int k = fn->kind;
    if (k < MPF_MAP || k > MPF_CO_PROCESS)
        return err_set(e, MPF_EJOB, "%s: operator '%s': function '%s' has unknown kind %d",
                       where, s->uid, fn->name, k);
    if (s->ninputs == 2 && k != MPF_CO_PROCESS)
        return err_set(e, MPF_EJOB, "%s: operator '%s' has two inputs but function '%s' is a %s "
                       "function; two inputs need a co-process function (process1/process2)",
                       where, s->uid, fn->name, kind_name(k));
    if (k == MPF_CO_PROCESS && s->ninputs != 2)
        return err_set(e, MPF_EJOB, "%s: operator '%s': function '%s' is a co-process function "
                       "and needs two inputs (inputs: [a, b])", where, s->uid, fn->name);
    if (k == MPF_KEYED_PROCESS && s->part != PART_HASH)
        return err_set(e, MPF_EJOB, "%s: operator '%s': function '%s' is a keyed process "
                       "function and needs key-by: FIELD", where, s->uid, fn->name);
    int ok = k == MPF_MAP             ? fn->map != NULL
             : k == MPF_FLAT_MAP      ? fn->flat_map != NULL
             : k == MPF_FILTER        ? fn->filter != NULL
             : k == MPF_KEYED_PROCESS ? fn->process != NULL
                                      : fn->process1 && fn->process2;
    if (!ok)
        return err_set(e, MPF_EJOB, "%s: operator '%s': %s function '%s' lacks its %s callback",
                       where, s->uid, kind_name(k), fn->name,
                       k == MPF_MAP ? "map" : k == MPF_FLAT_MAP ? "flat_map"
                       : k == MPF_FILTER ? "filter" : k == MPF_KEYED_PROCESS ? "process"
                       : "process1/process2");
    return 0;
}

static int read_args(const op_spec *s, plugin_cfg *cfg, mpf_err *e)
{
    const ynode *a = ynode_get(s->node, "args");
    if (!a)
        return 0;
    if (a->kind != YNODE_MAP)
        return err_set(e, MPF_EJOB, "%s: operator '%s': args must be a map {name: value}",
                       ynode_pos(a), s->uid);
    if (cfg->fn->args) {
        char what[300];
        snprintf(what, sizeof what, "operator '%s' args (function %s)", s->uid, cfg->fn->name);
        if (ynode_check_keys(a, cfg->fn->args, what, e))
            return e->code;
    }
    cfg->arg_name = xcalloc(a->n + 1, sizeof *cfg->arg_name);
    cfg->arg_value = xcalloc(a->n + 1, sizeof *cfg->arg_value);
    for (size_t i = 0; i < a->n; i++) {
        if (a->items[i]->kind != YNODE_SCALAR)
            return err_set(e, MPF_EJOB, "%s: operator '%s': arg '%s' must be a single value",
                           ynode_pos(a->items[i]), s->uid, a->keys[i]->str);
        cfg->arg_name[cfg->nargs] = xstrdup(a->keys[i]->str);
        cfg->arg_value[cfg->nargs++] = xstrdup(a->items[i]->str);
    }
    return 0;
}

static int declare_schemas(op_spec *s, plugin_cfg *cfg, mpf_err *e)
{
    const schema *in = s->in_schema[0];
    const ynode *out = ynode_get(s->node, "output");
    if (out) {
        if (cfg->fn->kind == MPF_FILTER)
            return err_set(e, MPF_EJOB, "%s: operator '%s': a filter keeps its input's fields; "
                           "remove output:", ynode_pos(out), s->uid);
        if (parse_fields(s, out, "output", &s->out_schema, e))
            return e->code;
        keep_rowtime(&s->out_schema, in);
    } else {
        schema_copy(&s->out_schema, in);
    }
    if (cfg->fn->kind == MPF_MAP) {
        cfg->map_from = xcalloc((size_t)s->out_schema.n + 1, sizeof *cfg->map_from);
        for (int i = 0; i < s->out_schema.n; i++) {
            int k = schema_find(in, s->out_schema.f[i].name);
            cfg->map_from[i] = k >= 0 && in->f[k].type == s->out_schema.f[i].type ? k : -1;
        }
    }
    const ynode *so = ynode_get(s->node, "side-outputs");
    if (so && so->kind != YNODE_MAP)
        return err_set(e, MPF_EJOB, "%s: operator '%s': side-outputs must be a map {name: "
                       "[{name, type}, ...]}", ynode_pos(so), s->uid);
    if (so && (cfg->fn->kind == MPF_MAP || cfg->fn->kind == MPF_FILTER))
        return err_set(e, MPF_EJOB, "%s: operator '%s': a %s function has no side outputs",
                       ynode_pos(so), s->uid, kind_name(cfg->fn->kind));
    for (int i = 0; cfg->fn->side_outputs && cfg->fn->side_outputs[i]; i++) {
        const char *name = cfg->fn->side_outputs[i];
        const ynode *fl = so ? ynode_get(so, name) : NULL;
        schema sch;
        schema_init(&sch);
        if (fl && !ynode_is_null(fl)) {
            char what[300];
            snprintf(what, sizeof what, "side output '%s'", name);
            if (parse_fields(s, fl, what, &sch, e)) {
                schema_fini(&sch);
                return e->code;
            }
            keep_rowtime(&sch, in);
        } else {
            schema_copy(&sch, in);
        }
        op_add_side_output(s, name, &sch);
        schema_fini(&sch);
    }
    for (size_t i = 0; so && i < so->n; i++) {
        const char *name = so->keys[i]->str;
        int known = 0;
        for (int p = 0; p < s->nside; p++)
            known |= strcmp(s->side_name[p], name) == 0;
        if (known)
            continue;
        schema sch;
        schema_init(&sch);
        if (!ynode_is_null(so->items[i])) {
            char what[300];
            snprintf(what, sizeof what, "side output '%s'", name);
            if (parse_fields(s, so->items[i], what, &sch, e)) {
                schema_fini(&sch);
                return e->code;
            }
            keep_rowtime(&sch, in);
        } else {
            schema_copy(&sch, in);
        }
        op_add_side_output(s, name, &sch);
        schema_fini(&sch);
    }
    return 0;
}

static void ctx_init(plugin_ctx *pc, const op_spec *s, const plugin_cfg *cfg, op_inst *oi)
{
    memset(pc, 0, sizeof *pc);
    pc->pub.api = plugin_api();
    pc->pub.uid = s->uid;
    pc->pub.function = cfg->fn->name;
    pc->pub.subtask = oi ? oi->subtask : -1;
    pc->pub.parallelism = s->parallelism;
    pc->spec = s;
    pc->cfg = cfg;
    pc->oi = oi;
    pc->out_port = -1;
    pc->cur_ts = MPF_NO_TIME;
}

/* The job's error for a failed callback. */
static int callback_error(const plugin_ctx *pc, int rc, const char *cb, mpf_err *e)
{
    char sub[64] = "";
    if (pc->oi)
        snprintf(sub, sizeof sub, " subtask %d/%d", pc->oi->subtask + 1, pc->spec->parallelism);
    if (pc->err[0])
        return err_set(e, MPF_EINVAL, "operator '%s'%s: plugin function '%s' %s: %s",
                       pc->spec->uid, sub, pc->cfg->fn->name, cb, pc->err);
    return err_set(e, MPF_EINVAL, "operator '%s'%s: plugin function '%s' %s returned %d",
                   pc->spec->uid, sub, pc->cfg->fn->name, cb, rc);
}

static int plugin_configure(op_spec *s, const conf *c, mpf_err *e)
{
    plugin_cfg *cfg = xcalloc(1, sizeof *cfg);
    const char *lib = NULL, *fname = NULL;
    if (ynode_get_str(s->node, "plugin", 1, &lib, e) ||
        ynode_get_str(s->node, "function", 1, &fname, e)) {
        err_prefix(e, "operator '%s'", s->uid);
        goto fail;
    }
    if (!*lib) {
        err_set(e, MPF_EJOB, "%s: operator '%s': plugin: needs the path of a shared library",
                ynode_pos(ynode_get(s->node, "plugin")), s->uid);
        goto fail;
    }
    if (load_library(s, cfg, e) || find_function(s, cfg, e) || check_kind(s, cfg, e) ||
        read_args(s, cfg, e) || declare_schemas(s, cfg, e))
        goto fail;
    cfg->keyed = s->part == PART_HASH && s->key_indices;
    if (cfg->fn->configure) {
        plugin_ctx pc;
        ctx_init(&pc, s, cfg, NULL);
        pc.phase = PH_CONFIGURE;
        int rc = cfg->fn->configure(&pc.pub);
        if (rc || pc.fatal) {
            if (pc.err[0])
                err_set(e, MPF_EJOB, "%s: operator '%s': function '%s': %s",
                        ynode_pos(ynode_get(s->node, "function")), s->uid, cfg->fn->name, pc.err);
            else
                err_set(e, MPF_EJOB, "%s: operator '%s': function '%s': configure returned %d",
                        ynode_pos(ynode_get(s->node, "function")), s->uid, cfg->fn->name, rc);
            goto fail;
        }
    }
    s->cfg = cfg;
    return 0;
fail:
    plugin_cfg_free(cfg);
    return e->code ? e->code : MPF_EJOB;
}

static void plugin_describe(const op_spec *s, char *buf, size_t n)
{
    const plugin_cfg *cfg = s->cfg;
    const char *base = strrchr(cfg->path, '/');
    int off = snprintf(buf, n, "%s function '%s' from %s", kind_name(cfg->fn->kind),
                       cfg->fn->name, base ? base + 1 : cfg->path);
    for (int p = 0; p < s->nside && off > 0 && (size_t)off < n; p++)
        off += snprintf(buf + off, n - (size_t)off, "%s%s", p ? ", " : "; side outputs: ",
                        s->side_name[p]);
}

static int plugin_open(op_inst *oi, mpf_err *e)
{
    const op_spec *s = oi->spec;
    const plugin_cfg *cfg = s->cfg;
    plugin_ctx *pc = xmalloc(sizeof *pc);
    ctx_init(pc, s, cfg, oi);
    oi->st = pc;
    int maxf = s->out_schema.n;
    for (int p = 0; p < s->nside; p++)
        if (s->side_schema[p].n > maxf)
            maxf = s->side_schema[p].n;
    pc->nslots = maxf;
    pc->slots = xcalloc((size_t)maxf + 1, sizeof *pc->slots);
    recbuf_init(&pc->rb);
    keygroup_range kg = {0, -1};
    if (cfg->keyed)
        kg = keygroup_range_of(oi->subtask, s->max_parallelism, s->parallelism);
    plugin_state_init(&pc->state, kg, s->max_parallelism);
    timers_init(&pc->timers[MPF_EVENT_TIME]);
    timers_init(&pc->timers[MPF_PROCESSING_TIME]);
    if (cfg->fn->open) {
        pc->phase = PH_OPEN;
        pc->opened = 1;
        int rc = cfg->fn->open(&pc->pub);
        if (rc || pc->fatal)
            return callback_error(pc, rc, "open", e);
    }
    return 0;
}

static void update_state_bytes(op_inst *oi, plugin_ctx *pc)
{
    if (pc->cfg->keyed)
        oi->state_bytes = plugin_state_bytes(&pc->state) +
                          timers_bytes(&pc->timers[MPF_EVENT_TIME]) +
                          timers_bytes(&pc->timers[MPF_PROCESSING_TIME]);
}

/* Make key the current key (record or timer). */
static int set_key(plugin_ctx *pc, const uint8_t *key, uint32_t klen, mpf_err *e)
{
    int kg;
    if (plugin_state_scope(&pc->state, key, klen, &pc->scope, &kg))
        return err_set(e, MPF_EPLAN, "operator '%s' subtask %d: key group %d arrived outside "
                       "its range %d..%d", pc->spec->uid, pc->oi->subtask, kg,
                       pc->state.kg.start, pc->state.kg.end);
    pc->have_key = 1;
    return 0;
}

static int plugin_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    plugin_ctx *pc = oi->st;
    const op_spec *s = oi->spec;
    const plugin_cfg *cfg = pc->cfg;
    const mpf_function *fn = cfg->fn;
    const schema *in = s->in_schema[input];
    struct mpf_rec rec = {NULL, in};
    int rc = 0;
    const char *cb = "process";
    pc->phase = PH_RECORD;
    pc->cur = &rec;
    for (const uint8_t *r = batch_first(batch); r; r = batch_next(batch, r)) {
        rec.p = r;
        pc->err[0] = '\0'; /* a lookup's message from earlier is not this record's */
        pc->cur_ts = in->rowtime >= 0 ? rd_i64(rec_field(in, r, in->rowtime)) : MPF_NO_TIME;
        if (cfg->keyed) {
            uint32_t klen;
            const uint8_t *key = rec_key(in, r, s->key_indices[input], &klen);
            if (set_key(pc, key, klen, e))
                goto out;
        }
        switch (fn->kind) {
        case MPF_MAP:
            cb = "map";
            plugin_out_begin(pc, 0);
            for (int i = 0; i < s->out_schema.n; i++) {
                int k = cfg->map_from[i];
                if (k < 0)
                    continue;
                const uint8_t *p = rec_field(in, r, k);
                plugin_slot *sl = &pc->slots[i];
                switch (in->f[k].type) {
                case FT_STRING:
                    sl->ext = p + 4;
                    sl->len = rd_u32(p);
                    break;
                case FT_BOOL:
                    sl->i = p[0];
                    break;
                case FT_F64:
                    sl->f = rd_f64(p);
                    break;
                default:
                    sl->i = rd_i64(p);
                }
            }
            rc = fn->map(&pc->pub, &rec);
            if (rc == 0 && !pc->fatal)
                plugin_out_emit(pc);
            break;
        case MPF_FLAT_MAP:
            cb = "flat_map";
            rc = fn->flat_map(&pc->pub, &rec);
            break;
        case MPF_FILTER:
            cb = "filter";
            rc = fn->filter(&pc->pub, &rec);
            if (rc == MPF_KEEP && !pc->fatal) {
                op_emit(oi, r, rec_size(r));
                rc = 0;
            }
            break;
        case MPF_KEYED_PROCESS:
            rc = fn->process(&pc->pub, &rec);
            break;
        default:
            cb = input ? "process2" : "process1";
            rc = input ? fn->process2(&pc->pub, &rec) : fn->process1(&pc->pub, &rec);
        }
        pc->out_port = -1; /* a record begun but not emitted is dropped */
        if (rc < 0 || pc->fatal) {
            callback_error(pc, rc, cb, e);
            goto out;
        }
    }
    rc = 0;
out:
    pc->cur = NULL;
    pc->have_key = 0;
    update_state_bytes(oi, pc);
    return e->code ? e->code : 0;
}

/* Fire timers of one domain up to `upto`, at most TIMER_BUDGET. Returns 0
 * when none is left due, MPF_EAGAIN when some are, or an error. */
static int fire_timers(op_inst *oi, int domain, int64_t upto, mpf_err *e)
{
    plugin_ctx *pc = oi->st;
    const mpf_function *fn = pc->cfg->fn;
    timer_svc *ts = &pc->timers[domain];
    if (!pc->cfg->keyed || !fn->on_timer)
        return 0;
    int64_t t;
    const uint8_t *key;
    uint32_t klen;
    int budget = TIMER_BUDGET, rc = 0;
    pc->phase = PH_TIMER;
    while (timers_pop(ts, upto, &t, &key, &klen)) {
        if (set_key(pc, key, klen, e)) {
            rc = e->code;
            break;
        }
        pc->cur_ts = domain == MPF_EVENT_TIME ? t : MPF_NO_TIME;
        pc->err[0] = '\0';
        int r = fn->on_timer(&pc->pub, t, domain);
        pc->out_port = -1;
        if (r < 0 || pc->fatal) {
            rc = callback_error(pc, r, "on_timer", e);
            break;
        }
        if (--budget == 0) {
            rc = timers_next(ts) <= upto ? MPF_EAGAIN : 0;
            break;
        }
    }
    pc->have_key = 0;
    pc->cur_ts = MPF_NO_TIME;
    update_state_bytes(oi, pc);
    return rc;
}

static int plugin_on_watermark(op_inst *oi, int64_t wm, mpf_err *e)
{
    return fire_timers(oi, MPF_EVENT_TIME, wm, e);
}

static int plugin_on_proc_time(op_inst *oi, int64_t now_ms, mpf_err *e)
{
    plugin_ctx *pc = oi->st;
    int rc = fire_timers(oi, MPF_PROCESSING_TIME, now_ms, e);
    if (rc && rc != MPF_EAGAIN)
        return rc;
    /* Due timers left over are picked up on the next step. */
    oi->proc_timer = timers_next(&pc->timers[MPF_PROCESSING_TIME]);
    return 0;
}

/* ---- checkpoints ---- */

typedef struct plugin_cow {
    pstate_decl *decl; /* copies */
    int ndecl;
    kstore *stores;
    int nstores, kg_start, maxp;
    timer_svc timers[2];
} plugin_cow;

static void plugin_cow_free(void *p)
{
    plugin_cow *c = p;
    plugin_state_free_decls(c->decl, c->ndecl);
    for (int i = 0; i < c->nstores; i++)
        ks_fini(&c->stores[i]);
    free(c->stores);
    timers_fini(&c->timers[0]);
    timers_fini(&c->timers[1]);
    free(c);
}

/* The blob of store i, begun with the state table. */
static recbuf *cow_blob(plugin_cow *c, recbuf *bufs, int i)
{
    if (!bufs[i].len)
        plugin_state_write_decls(c->decl, c->ndecl, &bufs[i]);
    return &bufs[i];
}

static int plugin_cow_write(void *p, snap_writer *w, mpf_err *e)
{
    (void)e;
    plugin_cow *c = p;
    recbuf *bufs = xcalloc((size_t)c->nstores + 1, sizeof *bufs);
    for (int i = 0; i < c->nstores; i++)
        if (ks_count(&c->stores[i]))
            plugin_state_write_entries(&c->stores[i], c->decl, c->ndecl, cow_blob(c, bufs, i));
    for (int d = 0; d < 2; d++) {
        size_t pos = 0;
        int64_t t;
        const uint8_t *key;
        uint32_t klen;
        while (timers_iter(&c->timers[d], &pos, &t, &key, &klen)) {
            int i = keygroup_of(key_hash(key, klen), c->maxp) - c->kg_start;
            if (i < 0 || i >= c->nstores)
                continue; /* cannot happen: timers are set for the current key */
            recbuf *b = cow_blob(c, bufs, i);
            kgbuf_u32(b, PSNAP_TIMER);
            kgbuf_u32(b, (uint32_t)d);
            kgbuf_i64(b, t);
            kgbuf_u32(b, klen);
            kgbuf_put(b, key, klen);
        }
    }
    for (int i = 0; i < c->nstores; i++) {
        if (bufs[i].len)
            snap_put(w, SNAP_KEYED, c->kg_start + i, bufs[i].p, bufs[i].len);
        free(bufs[i].p);
    }
    free(bufs);
    return 0;
}

static int plugin_snapshot(op_inst *oi, snap_writer *w, mpf_err *e)
{
    (void)e;
    plugin_ctx *pc = oi->st;
    if (!pc->cfg->keyed)
        return 0; /* no state mpiflow holds */
    plugin_cow *c = xcalloc(1, sizeof *c);
    c->decl = plugin_state_copy_decls(&pc->state);
    c->ndecl = pc->state.ndecl;
    c->nstores = pc->state.nstores;
    c->kg_start = pc->state.kg.start;
    c->maxp = pc->state.max_parallelism;
    c->stores = xcalloc((size_t)c->nstores + 1, sizeof *c->stores);
    for (int i = 0; i < c->nstores; i++)
        ks_clone(&c->stores[i], &pc->state.stores[i]);
    timers_clone_live(&c->timers[0], &pc->timers[0]);
    timers_clone_live(&c->timers[1], &pc->timers[1]);
    snap_defer(w, plugin_cow_write, plugin_cow_free, c);
    return 0;
}

static int snap_error(const op_inst *oi, const snap_blob *b, const char *why, mpf_err *e)
{
    const plugin_ctx *pc = oi->st;
    return err_set(e, MPF_EPARSE, "operator '%s' (plugin function '%s'): restored state of "
                   "key group %d (%zu bytes from subtask %d) is malformed: %s", oi->spec->uid,
                   pc->cfg->fn->name, b->key_group, b->len, b->subtask, why);
}

static int plugin_restore(op_inst *oi, const snap_blob *sb, mpf_err *e)
{
    plugin_ctx *pc = oi->st;
    char why[512];
    if (sb->kind != SNAP_KEYED || !pc->cfg->keyed)
        return snap_error(oi, sb, pc->cfg->keyed ? "not keyed state"
                                                 : "keyed state for a function without key-by", e);
    if (sb->key_group < pc->state.kg.start || sb->key_group > pc->state.kg.end)
        return snap_error(oi, sb, "a key group of another subtask", e);
    blobrd r;
    blobrd_init(&r, sb);
    int *map = NULL, nmap = 0;
    if (plugin_state_read_decls(&pc->state, &r, &map, &nmap, why, sizeof why))
        return snap_error(oi, sb, why, e);
    int rc = 0;
    while (!rc && blobrd_more(&r)) {
        uint32_t tag = blobrd_u32(&r);
        if (r.bad) {
            rc = snap_error(oi, sb, "truncated", e);
        } else if (tag != PSNAP_TIMER) {
            if (plugin_state_read_entry(&pc->state, tag, map, nmap, sb->key_group, &r, why,
                                        sizeof why))
                rc = snap_error(oi, sb, why, e);
        } else {
            uint32_t domain = blobrd_u32(&r);
            int64_t t = blobrd_i64(&r);
            uint32_t klen = blobrd_u32(&r);
            const uint8_t *key = blobrd_bytes(&r, klen);
            if (r.bad)
                rc = snap_error(oi, sb, "truncated", e);
            else if (domain != MPF_EVENT_TIME && domain != MPF_PROCESSING_TIME)
                rc = snap_error(oi, sb, "a timer of an unknown time domain", e);
            else if (keygroup_of(key_hash(key, klen), pc->state.max_parallelism) !=
                     sb->key_group)
                rc = snap_error(oi, sb, "a timer of a key of another key group", e);
            else if (pc->cfg->fn->on_timer) /* else nothing could fire it */
                timers_add(&pc->timers[domain], t, key, klen);
        }
    }
    free(map);
    if (rc)
        return rc;
    oi->proc_timer = timers_next(&pc->timers[MPF_PROCESSING_TIME]);
    update_state_bytes(oi, pc);
    return 0;
}

static void plugin_close(op_inst *oi)
{
    plugin_ctx *pc = oi->st;
    if (!pc)
        return;
    if (pc->opened && pc->cfg->fn->close) {
        pc->phase = PH_CLOSE;
        pc->cfg->fn->close(&pc->pub);
    }
    plugin_state_fini(&pc->state);
    timers_fini(&pc->timers[MPF_EVENT_TIME]);
    timers_fini(&pc->timers[MPF_PROCESSING_TIME]);
    recbuf_fini(&pc->rb);
    free(pc->slots);
    free(pc->arena);
    free(pc);
    oi->st = NULL;
}

const op_kind op_plugin = {
    .name = "plugin",
    .role = OP_TRANSFORM,
    .min_inputs = 1,
    .max_inputs = 2,
    .keys = plugin_keys,
    .summary = "a user function in C from a shared library (see docs/PLUGINS.md)",
    .configure = plugin_configure,
    .free_cfg = plugin_cfg_free,
    .describe = plugin_describe,
    .open = plugin_open,
    .process = plugin_process,
    .on_watermark = plugin_on_watermark,
    .on_proc_time = plugin_on_proc_time,
    .snapshot = plugin_snapshot,
    .restore = plugin_restore,
    .close = plugin_close,
};
