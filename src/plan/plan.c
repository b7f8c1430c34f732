/* Planning: from a parsed job to tasks, edges, channels and placement
 * (plan layer). */
#include "plan/plan.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "net/world.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/xmalloc.h"

/* Remove op idx, shifting indices above it down. */
static void remove_op(job *j, int idx)
{
    op_spec *s = &j->ops[idx];
    free(s->uid);
    free(s->inputs);
    free(s->in_schema);
    free(s->key_field);
    free(s->key_indices);
    op_spec_free_sides(s);
    schema_fini(&s->out_schema);
    memmove(&j->ops[idx], &j->ops[idx + 1], (size_t)(j->nops - idx - 1) * sizeof *s);
    j->nops--;
    for (int i = 0; i < j->nops; i++) {
        j->ops[i].index = i;
        for (int k = 0; k < j->ops[i].ninputs; k++)
            if (j->ops[i].inputs[k] > idx)
                j->ops[i].inputs[k]--;
    }
}

/* Insert op at idx, shifting indices at or above it up. */
static void insert_op(job *j, int idx, const op_spec *op)
{
    j->ops = xrealloc(j->ops, (size_t)(j->nops + 1) * sizeof *j->ops);
    memmove(&j->ops[idx + 1], &j->ops[idx], (size_t)(j->nops - idx) * sizeof *op);
    j->ops[idx] = *op;
    j->nops++;
    for (int i = 0; i < j->nops; i++) {
        j->ops[i].index = i;
        if (i == idx)
            continue;
        for (int k = 0; k < j->ops[i].ninputs; k++)
            if (j->ops[i].inputs[k] >= idx)
                j->ops[i].inputs[k]++;
    }
}

static void link_schemas(job *j)
{
    for (int i = 0; i < j->nops; i++) {
        op_spec *s = &j->ops[i];
        free(s->in_schema);
        s->in_schema = xcalloc((size_t)s->ninputs + 1, sizeof *s->in_schema);
        for (int k = 0; k < s->ninputs; k++) {
            const op_spec *src = &j->ops[s->inputs[k]];
            int port = s->input_port ? s->input_port[k] : 0;
            s->in_schema[k] = port ? &src->side_schema[port - 1] : &src->out_schema;
        }
    }
}

/* Inputs that read a side output ("uid.name"): find the producer's port,
 * declared when it was configured (producers come first). */
static int resolve_side_inputs(job *j, op_spec *s, mpf_err *e)
{
    if (!s->input_side)
        return 0;
    free(s->input_port);
    s->input_port = xcalloc((size_t)s->ninputs + 1, sizeof *s->input_port);
    for (int k = 0; k < s->ninputs; k++) {
        const char *name = s->input_side[k];
        if (!name)
            continue;
        op_spec *src = &j->ops[s->inputs[k]];
        for (int p = 0; p < src->nside; p++)
            if (strcmp(src->side_name[p], name) == 0)
                s->input_port[k] = p + 1;
        if (!s->input_port[k]) {
            const char *near = NULL;
            if (src->nside) {
                const char **names = xcalloc((size_t)src->nside + 1, sizeof *names);
                for (int p = 0; p < src->nside; p++)
                    names[p] = src->side_name[p];
                near = str_closest(name, names);
                free(names);
            }
            return err_set(e, MPF_EJOB, "%s: input '%s.%s': operator '%s' has no side output "
                           "'%s'%s%s%s", op_where(s), src->uid, name, src->uid, name,
                           near ? " (did you mean '" : "", near ? near : "",
                           near ? "'?)" : src->nside ? "" : "; it declares none");
        }
        s->in_schema[k] = &src->side_schema[s->input_port[k] - 1];
    }
    return 0;
}

/* `type: key-by` is a partitioning, not an operator: move its key onto
 * its consumers' input edges and drop it. */
static int fold_key_by(job *j, mpf_err *e)
{
    for (int i = 0; i < j->nops; i++) {
        op_spec *kb = &j->ops[i];
        if (strcmp(kb->kind->name, "key-by") != 0)
            continue;
        const char *key = NULL;
        if (ynode_get_str(kb->node, "key", 1, &key, e))
            return err_prefix(e, "operator '%s'", kb->uid);
        if (kb->part != PART_DEFAULT || kb->parallelism)
            return err_set(e, MPF_EJOB, "%s: key-by takes only 'key'", op_where(kb));
        int consumers = 0;
        for (int c = 0; c < j->nops; c++) {
            op_spec *cs = &j->ops[c];
            for (int k = 0; k < cs->ninputs; k++) {
                if (cs->inputs[k] != i)
                    continue;
                if (cs->ninputs != 1)
                    return err_set(e, MPF_EJOB, "%s: key-by '%s' cannot feed an operator with "
                                   "several inputs; put key-by: on it", op_where(cs), kb->uid);
                if (cs->part != PART_DEFAULT && !(cs->part == PART_HASH &&
                                                  strcmp(cs->key_field, key) == 0))
                    return err_set(e, MPF_EJOB, "%s: input is keyed by '%s' but the operator "
                                   "sets its own partitioning", op_where(cs), key);
                cs->part = PART_HASH;
                free(cs->key_field);
                cs->key_field = xstrdup(key);
                cs->inputs[k] = kb->inputs[0];
                consumers++;
            }
        }
        if (!consumers)
            return err_set(e, MPF_EJOB, "%s: key-by has no consumer", op_where(kb));
        remove_op(j, i);
        i--;
    }
    return 0;
}

/* A source's `watermark: {field, out-of-orderness, idleness}` (Flink's
 * WatermarkStrategy.forBoundedOutOfOrderness(...).withIdleness(...);
 * `strategy: monotonous` means no out-of-orderness). */
static int resolve_watermark(op_spec *s, mpf_err *e)
{
    s->wm_field = -1;
    const ynode *w = s->node ? ynode_get(s->node, "watermark") : NULL;
    if (!w)
        return 0;
    static const char *const keys[] = {"field", "out-of-orderness", "idleness", "strategy",
                                        "emit", NULL};
    char what[300];
    snprintf(what, sizeof what, "operator '%s' watermark", s->uid);
    if (w->kind != YNODE_MAP)
        return err_set(e, MPF_EJOB, "%s: operator '%s': watermark must be a map {field, "
                       "out-of-orderness, idleness}", ynode_pos(w), s->uid);
    if (ynode_check_keys(w, keys, what, e))
        return e->code;
    const char *field = NULL, *strategy = "bounded-out-of-orderness", *emit = "periodic";
    if (ynode_get_str(w, "field", 1, &field, e) || ynode_get_str(w, "strategy", 0, &strategy, e) ||
        ynode_get_str(w, "emit", 0, &emit, e))
        return err_prefix(e, "operator '%s' watermark", s->uid);
    if (strcmp(emit, "periodic") != 0 && strcmp(emit, "per-record") != 0)
        return err_set(e, MPF_EJOB, "%s: operator '%s': watermark emit must be periodic or "
                       "per-record, got '%s'", ynode_pos(ynode_get(w, "emit")), s->uid, emit);
    s->wm_per_record = strcmp(emit, "per-record") == 0;
    int idx = schema_find(&s->out_schema, field);
    if (idx < 0) {
        const char **names = schema_names(&s->out_schema);
        const char *near = str_closest(field, names);
        free(names);
        return err_set(e, MPF_ESCHEMA, "%s: operator '%s': watermark field '%s' is not an "
                       "output field%s%s%s", ynode_pos(ynode_get(w, "field")), s->uid, field,
                       near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    }
    field_type t = s->out_schema.f[idx].type;
    if (t != FT_TIMESTAMP && t != FT_I64)
        return err_set(e, MPF_ESCHEMA, "%s: operator '%s': watermark field '%s' is %s; event "
                       "time needs a timestamp or i64 (ms)", ynode_pos(ynode_get(w, "field")),
                       s->uid, field, field_type_name(t));
    int64_t delay = 0, idle = 0;
    if (strcmp(strategy, "monotonous") == 0) {
        if (ynode_get(w, "out-of-orderness"))
            return err_set(e, MPF_EJOB, "%s: operator '%s': monotonous watermarks take no "
                           "out-of-orderness", ynode_pos(ynode_get(w, "out-of-orderness")),
                           s->uid);
    } else if (strcmp(strategy, "bounded-out-of-orderness") != 0) {
        return err_set(e, MPF_EJOB, "%s: operator '%s': watermark strategy must be "
                       "bounded-out-of-orderness or monotonous, got '%s'",
                       ynode_pos(ynode_get(w, "strategy")), s->uid, strategy);
    }
    if (ynode_get_duration_ns(w, "out-of-orderness", 0, &delay, e) ||
        ynode_get_duration_ns(w, "idleness", 0, &idle, e))
        return err_prefix(e, "operator '%s' watermark", s->uid);
    s->wm_field = idx;
    s->wm_delay_ms = delay / 1000000;
    s->wm_idle_ns = idle;
    s->out_schema.rowtime = idx;
    return 0;
}

static int resolve_partition(op_spec *s, const job *j, mpf_err *e)
{
    if (s->ninputs == 0)
        return 0;
    if (s->part == PART_HASH) {
        /* key-by: one field for every input, or a list with one per input */
        int nkeys = 1;
        for (const char *c = s->key_field; *c; c++)
            nkeys += *c == ',';
        if (nkeys > 1 && nkeys != s->ninputs)
            return err_set(e, MPF_EJOB, "%s: key-by lists %d fields for %d input(s)",
                           op_where(s), nkeys, s->ninputs);
        free(s->key_indices);
        s->key_indices = xcalloc((size_t)s->ninputs + 1, sizeof *s->key_indices);
        const char *name = s->key_field;
        for (int k = 0; k < s->ninputs; k++) {
            char field[256];
            size_t flen = strcspn(name, ",");
            snprintf(field, sizeof field, "%.*s", (int)flen, name);
            if (nkeys > 1 && name[flen])
                name += flen + 1;
            int idx = schema_find(s->in_schema[k], field);
            if (idx < 0) {
                const char **names = schema_names(s->in_schema[k]);
                const char *near = str_closest(field, names);
                char sch[512];
                schema_format(s->in_schema[k], sch, sizeof sch);
                char which[32] = "its input";
                if (s->ninputs > 1)
                    snprintf(which, sizeof which, "input %d", k + 1);
                err_set(e, MPF_ESCHEMA, "%s: key-by field '%s' is not in %s (%s)%s%s%s",
                        op_where(s), field, which, sch, near ? "; did you mean '" : "",
                        near ? near : "", near ? "'?" : "");
                free(names);
                return MPF_ESCHEMA;
            }
            if (k > 0 && s->in_schema[k]->f[idx].type != s->in_schema[0]->f[s->key_indices[0]].type)
                return err_set(e, MPF_ESCHEMA, "%s: key '%s' of input %d is %s but input 1's "
                               "key is %s; keys must have one type to meet", op_where(s), field,
                               k + 1, field_type_name(s->in_schema[k]->f[idx].type),
                               field_type_name(s->in_schema[0]->f[s->key_indices[0]].type));
            s->key_indices[k] = idx;
        }
        s->key_index = s->key_indices[0];
        return 0;
    }
    int same = 1;
    for (int k = 0; k < s->ninputs; k++)
        same &= j->ops[s->inputs[k]].parallelism == s->parallelism;
    if (s->part == PART_DEFAULT)
        s->part = same ? PART_FORWARD : PART_REBALANCE;
    else if (s->part == PART_FORWARD && !same)
        return err_set(e, MPF_EPLAN, "%s: partition: forward needs the same parallelism as its "
                       "input (%d vs %d)", op_where(s), j->ops[s->inputs[0]].parallelism,
                       s->parallelism);
    return 0;
}

static int consumers_of(const job *j, int idx)
{
    int n = 0;
    for (int i = 0; i < j->nops; i++)
        for (int k = 0; k < j->ops[i].ninputs; k++)
            n += j->ops[i].inputs[k] == idx;
    return n;
}

static int insert_local_phases(job *j, const conf *c, mpf_err *e)
{
    const char *strategy = conf_str(c, CONF_TABLE_OPTIMIZER_AGG_PHASE_STRATEGY);
    if (strcmp(strategy, "ONE_PHASE") == 0)
        return 0;
    for (int i = 0; i < j->nops; i++) {
        op_spec *g = &j->ops[i];
        if (!g->kind->split_local || g->part != PART_HASH || g->ninputs != 1)
            continue;
        if (!g->batch_mode && strcmp(strategy, "TWO_PHASE") != 0)
            continue;
        op_spec local;
        memset(&local, 0, sizeof local);
        schema_init(&local.out_schema);
        local.uid = xasprintf("%s/local", g->uid);
        local.kind = g->kind;
        local.node = NULL;
        local.parallelism = j->ops[g->inputs[0]].parallelism;
        local.ninputs = 1;
        local.inputs = xmalloc(sizeof(int));
        local.inputs[0] = g->inputs[0];
        local.part = PART_FORWARD;
        local.key_index = -1;
        local.batch_mode = g->batch_mode;
        local.max_parallelism = g->max_parallelism;
        local.in_schema = xcalloc(2, sizeof *local.in_schema);
        local.in_schema[0] = g->in_schema[0];
        if (g->kind->split_local(g, &local, e)) {
            free(local.uid);
            free(local.inputs);
            free(local.in_schema);
            return e->code;
        }
        insert_op(j, i, &local);
        g = &j->ops[i + 1];
        g->inputs[0] = i;
        link_schemas(j);
        i++;
    }
    return 0;
}

static void build_tasks(plan *p)
{
    job *j = p->job;
    int *task_of = xmalloc((size_t)j->nops * sizeof *task_of);
    p->tasks = xcalloc((size_t)j->nops, sizeof *p->tasks);
    for (int i = 0; i < j->nops; i++) {
        op_spec *s = &j->ops[i];
        int chain = s->ninputs == 1 && s->part == PART_FORWARD &&
                    !(s->input_port && s->input_port[0]) &&
                    j->ops[s->inputs[0]].parallelism == s->parallelism &&
                    consumers_of(j, s->inputs[0]) == 1;
        plan_task *t;
        if (chain) {
            task_of[i] = task_of[s->inputs[0]];
            t = &p->tasks[task_of[i]];
        } else {
            task_of[i] = p->ntasks;
            t = &p->tasks[p->ntasks++];
            t->parallelism = s->parallelism;
        }
        t->ops = xrealloc(t->ops, (size_t)(t->nops + 1) * sizeof *t->ops);
        t->ops[t->nops++] = i;
    }
    /* Edges into every task head, one per logical input. */
    p->edges = xcalloc((size_t)j->nops * 4 + 1, sizeof *p->edges);
    size_t cap = (size_t)j->nops * 4 + 1;
    uint32_t chan = 0;
    for (int t = 0; t < p->ntasks; t++) {
        plan_task *dt = &p->tasks[t];
        op_spec *head = &j->ops[dt->ops[0]];
        for (int k = 0; k < head->ninputs; k++) {
            if ((size_t)p->nedges == cap) {
                cap *= 2;
                p->edges = xrealloc(p->edges, cap * sizeof *p->edges);
            }
            plan_edge *ed = &p->edges[p->nedges];
            int src_op = head->inputs[k];
            ed->src_task = task_of[src_op];
            ed->dst_task = t;
            ed->src_op = src_op;
            ed->dst_op = head->index;
            ed->dst_input = k;
            ed->src_port = head->input_port ? head->input_port[k] : 0;
            ed->part = head->part;
            ed->key_index = head->part == PART_HASH && k > 0 ? head->key_indices[k] : head->key_index;
            ed->chan_base = chan;
            int ps = j->ops[src_op].parallelism, pd = head->parallelism;
            ed->nchan = ed->part == PART_FORWARD ? ps : ps * pd;
            chan += (uint32_t)ed->nchan;
            plan_task *st = &p->tasks[ed->src_task];
            st->out_edges = xrealloc(st->out_edges, (size_t)(st->nout + 1) * sizeof(int));
            st->out_edges[st->nout++] = p->nedges;
            dt->in_edges = xrealloc(dt->in_edges, (size_t)(dt->nin + 1) * sizeof(int));
            dt->in_edges[dt->nin++] = p->nedges;
            p->nedges++;
        }
    }
    p->nchannels = chan;
    free(task_of);
}

static void plan_warn(plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record a warning in p and log it once: on rank 0 (every rank builds the
 * same plan), or in `mpiflow validate`, which runs without MPI. */
static void plan_warn(plan *p, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *w = xstrdup(buf);
    p->warnings = xrealloc(p->warnings, (size_t)(p->nwarnings + 1) * sizeof *p->warnings);
    p->warnings[p->nwarnings++] = w;
    if (net_rank() <= 0) /* -1: no MPI world (validate) */
        log_warn("%s", w);
}

/* A job without a sink runs and throws its results away: allowed (it can
 * be a benchmark of the sources and operators), but almost always a
 * mistake, so say so at plan time. */
static void warn_no_sink(plan *p)
{
    const job *j = p->job;
    for (int i = 0; i < j->nops; i++)
        if (j->ops[i].kind->role == OP_SINK)
            return;
    const ynode *ops = j->doc ? ynode_get(j->doc->root, "operators") : NULL;
    plan_warn(p, "%s: job '%s' has no sink, so its results are not written anywhere; add an "
              "operator such as {uid: out, sink: stdout} or {uid: out, sink: file, path: DIR}",
              ops ? ynode_pos(ops) : "job", j->name);
}

int plan_build(plan *p, job *j, const conf *c, int ntms, int cli_parallelism, mpf_err *e)
{
    memset(p, 0, sizeof *p);
    p->job = j;
    p->conf = c;
    p->ntms = ntms;
    p->slots_per_tm = (int)conf_int(c, CONF_TASKMANAGER_NUMBEROFTASKSLOTS);
    p->nslots = ntms * p->slots_per_tm;
    p->max_parallelism = (int)conf_int(c, CONF_PIPELINE_MAX_PARALLELISM);
    if (fold_key_by(j, e))
        goto fail;
    int defpar = cli_parallelism > 0 ? cli_parallelism
                 : j->parallelism    ? j->parallelism
                 : conf_int(c, CONF_PARALLELISM_DEFAULT) > 0 ? (int)conf_int(c, CONF_PARALLELISM_DEFAULT)
                                                         : p->nslots;
    for (int i = 0; i < j->nops; i++) {
        op_spec *s = &j->ops[i];
        if (s->kind->single) {
            if (s->parallelism > 1) {
                err_set(e, MPF_EPLAN, "%s: %s %s always runs with one subtask and needs "
                        "parallelism 1, got %d", op_where(s), op_role_name(s->kind->role),
                        s->kind->name, s->parallelism);
                goto fail;
            }
            s->parallelism = 1;
        }
        if (!s->parallelism)
            s->parallelism = defpar;
        if (s->parallelism > p->nslots) {
            err_set(e, MPF_ERESOURCE, "%s: parallelism %d needs %d task slots but the world has "
                    "%d (%d TaskManager(s) x %d slot(s)); start more ranks or lower the "
                    "parallelism", op_where(s), s->parallelism, s->parallelism, p->nslots, ntms,
                    p->slots_per_tm);
            goto fail;
        }
        if (s->parallelism > p->max_parallelism && s->part == PART_HASH) {
            err_set(e, MPF_EPLAN, "%s: parallelism %d exceeds pipeline.max-parallelism %d",
                    op_where(s), s->parallelism, p->max_parallelism);
            goto fail;
        }
        s->max_parallelism = p->max_parallelism;
    }
    /* Schemas flow in data-flow order. */
    link_schemas(j);
    for (int i = 0; i < j->nops; i++) {
        op_spec *s = &j->ops[i];
        if (s->ninputs < s->kind->min_inputs ||
            (s->kind->max_inputs >= 0 && s->ninputs > s->kind->max_inputs)) {
            err_set(e, MPF_EJOB, "%s: %s '%s' takes %d..%d inputs, has %d", op_where(s),
                    op_role_name(s->kind->role), s->kind->name, s->kind->min_inputs,
                    s->kind->max_inputs, s->ninputs);
            goto fail;
        }
        s->wm_field = -1;
        if (resolve_side_inputs(j, s, e) || resolve_partition(s, j, e) || s->kind->configure(s, c, e) ||
            (s->kind->role == OP_SOURCE && resolve_watermark(s, e)))
            goto fail;
    }
    const char *mode = conf_str(c, CONF_EXECUTION_RUNTIME_MODE);
    int all_bounded = 1;
    const op_spec *unbounded = NULL;
    for (int i = 0; i < j->nops; i++)
        if (j->ops[i].kind->role == OP_SOURCE && !j->ops[i].bounded) {
            all_bounded = 0;
            unbounded = unbounded ? unbounded : &j->ops[i];
        }
    if (strcmp(mode, "BATCH") == 0 && !all_bounded) {
        err_set(e, MPF_EPLAN, "%s: source is unbounded but execution.runtime-mode is BATCH",
                op_where(unbounded));
        goto fail;
    }
    /* Checkpoints need STREAMING execution (as in Flink) and every
     * stateful operator able to snapshot. A source whose input cannot be
     * replayed (socket) refuses checkpointing itself, in configure, where
     * it can say why. */
    int checkpointing = conf_duration_ns(c, CONF_EXECUTION_CHECKPOINTING_INTERVAL) > 0;
    if (checkpointing && strcmp(mode, "BATCH") == 0) {
        err_set(e, MPF_EPLAN, "execution.runtime-mode BATCH cannot take checkpoints; use "
                "STREAMING or AUTOMATIC, or set execution.checkpointing.interval: 0");
        goto fail;
    }
    for (int i = 0; checkpointing && i < j->nops; i++) {
        const op_spec *s = &j->ops[i];
        if (!op_kind_checkpointable(s->kind)) {
            err_set(e, MPF_EPLAN, "%s: %s '%s' keeps state but cannot snapshot it, so it "
                    "cannot take part in checkpoints; remove it or set "
                    "execution.checkpointing.interval: 0", op_where(s),
                    op_role_name(s->kind->role), s->kind->name);
            goto fail;
        }
    }
    p->all_bounded = all_bounded;
    p->batch_mode = strcmp(mode, "BATCH") == 0 ||
                    (strcmp(mode, "AUTOMATIC") == 0 && all_bounded && !checkpointing);
    for (int i = 0; i < j->nops; i++)
        j->ops[i].batch_mode = p->batch_mode;
    if (insert_local_phases(j, c, e))
        goto fail;
    build_tasks(p);
    warn_no_sink(p);
    return 0;
fail:
    /* Operators' configure adds "operator 'uid': " in front of errors that
     * carry a job file position; the position goes first. */
    if (j && j->doc)
        ydoc_err_location_first(e, j->doc->file);
    plan_fini(p);
    return e->code;
}

void plan_fini(plan *p)
{
    for (int t = 0; t < p->ntasks; t++) {
        free(p->tasks[t].ops);
        free(p->tasks[t].in_edges);
        free(p->tasks[t].out_edges);
    }
    free(p->tasks);
    free(p->edges);
    for (int i = 0; i < p->nwarnings; i++)
        free(p->warnings[i]);
    free(p->warnings);
    job_destroy(p->job);
    memset(p, 0, sizeof *p);
}

void plan_print(const plan *p, FILE *f)
{
    const job *j = p->job;
    fprintf(f, "Job '%s': %s mode, max-parallelism %d, %d TaskManager(s) x %d slot(s)\n",
            j->name, p->batch_mode ? "BATCH" : "STREAMING", p->max_parallelism, p->ntms,
            p->slots_per_tm);
    fprintf(f, "\nOperators:\n");
    for (int i = 0; i < j->nops; i++) {
        const op_spec *s = &j->ops[i];
        char sch[512], desc[512] = "", in[256] = "";
        schema_format(&s->out_schema, sch, sizeof sch);
        if (s->kind->describe)
            s->kind->describe(s, desc, sizeof desc);
        size_t off = 0;
        for (int k = 0; k < s->ninputs && off < sizeof in; k++)
            off += (size_t)snprintf(in + off, sizeof in - off, "%s%s", k ? "," : "",
                                    j->ops[s->inputs[k]].uid);
        fprintf(f, "  %-16s %-6s %-10s p=%-3d", s->uid, op_role_name(s->kind->role),
                s->kind->name, s->parallelism);
        if (s->ninputs)
            fprintf(f, " in=%s %s%s%s%s", in, part_kind_name(s->part),
                    s->part == PART_HASH ? "(" : "", s->part == PART_HASH ? s->key_field : "",
                    s->part == PART_HASH ? ")" : "");
        fprintf(f, "\n  %-16s   out: (%s)%s%s\n", "", sch, desc[0] ? "  " : "", desc);
    }
    fprintf(f, "\nTasks (chained operators):\n");
    for (int t = 0; t < p->ntasks; t++) {
        const plan_task *pt = &p->tasks[t];
        fprintf(f, "  task %d, %d subtask(s): ", t, pt->parallelism);
        for (int k = 0; k < pt->nops; k++)
            fprintf(f, "%s%s", k ? " -> " : "", j->ops[pt->ops[k]].uid);
        fprintf(f, "\n");
        for (int k = 0; k < pt->nin; k++) {
            const plan_edge *ed = &p->edges[pt->in_edges[k]];
            fprintf(f, "    input %d: %s from task %d, %d channel(s)\n", ed->dst_input,
                    part_kind_name(ed->part), ed->src_task, ed->nchan);
        }
    }
    fprintf(f, "\nPlacement (slot i holds subtask i of every task):\n");
    for (int tm = 1; tm <= p->ntms; tm++) {
        fprintf(f, "  tm-%d (rank %d):", tm, tm);
        int any = 0;
        for (int t = 0; t < p->ntasks; t++)
            for (int s = 0; s < p->tasks[t].parallelism; s++)
                if (plan_rank_of(p, s) == tm) {
                    fprintf(f, " task%d#%d", t, s);
                    any = 1;
                }
        fprintf(f, "%s\n", any ? "" : " (idle)");
    }
    fprintf(f, "\nNetwork: %u channel(s), %d edge(s)\n", p->nchannels, p->nedges);
}
