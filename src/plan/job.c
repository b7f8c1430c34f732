/* Job YAML parsing and parameter substitution (plan layer). */
#include "plan/job.h"

#include <stdlib.h>
#include <string.h>
#include "util/strutil.h"
#include "util/xmalloc.h"

static const char *const job_keys[] = {"name", "parallelism", "parameters", "config",
                                       "operators", "description", NULL};
static const char *const param_keys[] = {"default", "description", NULL};

static job_param *find_param(job *j, const char *name, size_t n)
{
    for (int i = 0; i < j->nparams; i++)
        if (strlen(j->params[i].name) == n && strncmp(j->params[i].name, name, n) == 0)
            return &j->params[i];
    return NULL;
}

static const char **param_names(const job *j)
{
    const char **v = xcalloc((size_t)j->nparams + 1, sizeof *v);
    for (int i = 0; i < j->nparams; i++)
        v[i] = j->params[i].name;
    return v;
}

/* Replace ${name} in one scalar; "$${" stands for a literal "${". */
static int subst_scalar(job *j, ynode *n, mpf_err *e)
{
    if (!strchr(n->str, '$'))
        return 0;
    size_t cap = strlen(n->str) + 64, len = 0;
    char *out = xmalloc(cap);
    for (const char *p = n->str; *p;) {
        const char *piece = p;
        size_t plen = 1;
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            piece = "${";
            plen = 2;
            p += 3;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (!end) {
                free(out);
                return err_set(e, MPF_EJOB, "%s: unterminated '${' in '%s'", ynode_pos(n),
                               n->str);
            }
            job_param *prm = find_param(j, p + 2, (size_t)(end - p - 2));
            if (!prm) {
                const char **names = param_names(j);
                char *nm = xstrndup(p + 2, (size_t)(end - p - 2));
                const char *near = str_closest(nm, names);
                err_set(e, MPF_EJOB, "%s: undeclared job parameter '${%s}'%s%s%s",
                        ynode_pos(n), nm, near ? " (did you mean '" : "", near ? near : "",
                        near ? "'?)" : "; declare it under parameters:");
                free(nm);
                free(names);
                free(out);
                return MPF_EJOB;
            }
            piece = prm->value;
            plen = strlen(prm->value);
            /* Relative paths from the command line are relative to the
             * working directory, those written in the job file to the
             * job file (see srcutil_get_input_path). */
            n->from_cli |= prm->from_cli;
            p = end + 1;
        } else {
            p++;
        }
        if (len + plen + 1 > cap) {
            cap = (len + plen + 1) * 2;
            out = xrealloc(out, cap);
        }
        memcpy(out + len, piece, plen);
        len += plen;
    }
    out[len] = '\0';
    free(n->str);
    n->str = out;
    n->quoted = 1; /* a substituted value is a string as written */
    return 0;
}

static int subst_tree(job *j, ynode *n, mpf_err *e)
{
    if (!n)
        return 0;
    if (n->kind == YNODE_SCALAR)
        return subst_scalar(j, n, e);
    for (size_t i = 0; i < n->n; i++)
        if (subst_tree(j, n->items[i], e))
            return e->code;
    return 0;
}

static int parse_params(job *j, const ynode *pm, char *const *cli, int ncli, mpf_err *e)
{
    if (pm) {
        if (pm->kind != YNODE_MAP)
            return err_set(e, MPF_EJOB, "%s: 'parameters' must be a map of name: {default, "
                           "description}", ynode_pos(pm));
        j->params = xcalloc(pm->n ? pm->n : 1, sizeof *j->params);
        for (size_t i = 0; i < pm->n; i++) {
            const ynode *v = pm->items[i];
            job_param *p = &j->params[j->nparams++];
            p->name = xstrdup(pm->keys[i]->str);
            p->node = pm->keys[i];
            const char *def = NULL, *desc = "";
            if (v->kind == YNODE_SCALAR) {
                def = v->str; /* short form: name: default */
            } else if (v->kind == YNODE_MAP) {
                if (ynode_check_keys(v, param_keys, "a parameter", e) ||
                    ynode_get_str(v, "default", 0, &def, e) ||
                    ynode_get_str(v, "description", 0, &desc, e))
                    return e->code;
            } else {
                return err_set(e, MPF_EJOB, "%s: parameter '%s' must be a value or a map",
                               ynode_pos(v), p->name);
            }
            p->value = def ? xstrdup(def) : NULL;
            p->description = xstrdup(desc);
        }
    }
    for (int i = 0; i < ncli; i++) {
        const char *eq = strchr(cli[i], '=');
        size_t n = eq ? (size_t)(eq - cli[i]) : strlen(cli[i]);
        job_param *p = find_param(j, cli[i], n);
        if (!p) {
            const char **names = param_names(j);
            char *nm = xstrndup(cli[i], n);
            const char *near = str_closest(nm, names);
            size_t off = 0;
            char list[512] = "";
            for (int k = 0; k < j->nparams && off < sizeof list; k++)
                off += (size_t)snprintf(list + off, sizeof list - off, "%s--%s", k ? ", " : "",
                                        names[k]);
            err_set(e, MPF_EJOB, "unknown job parameter '--%s'%s%s%s; job '%s' declares: %s",
                    nm, near ? " (did you mean '--" : "", near ? near : "", near ? "'?)" : "",
                    j->name, j->nparams ? list : "none");
            free(nm);
            free(names);
            return MPF_EJOB;
        }
        free(p->value);
        p->value = xstrdup(eq ? eq + 1 : "true");
        p->from_cli = 1;
    }
    for (int i = 0; i < j->nparams; i++)
        if (!j->params[i].value)
            return err_set(e, MPF_EJOB, "%s: job parameter '%s' has no default; pass --%s VALUE",
                           ynode_pos(j->params[i].node), j->params[i].name, j->params[i].name);
    return 0;
}

static int parse_op(job *j, const ynode *n, int index, mpf_err *e)
{
    op_spec *s = &j->ops[index];
    memset(s, 0, sizeof *s);
    schema_init(&s->out_schema);
    s->index = index;
    s->node = n;
    s->key_index = -1;
    if (n->kind != YNODE_MAP)
        return err_set(e, MPF_EJOB, "%s: each operator must be a map with uid and one of "
                       "source/type/sink", ynode_pos(n));
    const char *uid = NULL;
    if (ynode_get_str(n, "uid", 1, &uid, e))
        return e->code;
    s->uid = xstrdup(uid);
    for (int i = 0; i < index; i++)
        if (strcmp(j->ops[i].uid, uid) == 0) {
            char first[256];
            snprintf(first, sizeof first, "%s", ynode_pos(j->ops[i].node));
            return err_set(e, MPF_EJOB, "%s: duplicate operator uid '%s' (first at %s)",
                           ynode_pos(ynode_get(n, "uid")), uid, first);
        }
    static const char *const role_keys[] = {"source", "type", "sink"};
    int found = -1;
    for (int r = 0; r < 3; r++) {
        if (ynode_get(n, role_keys[r])) {
            if (found >= 0)
                return err_set(e, MPF_EJOB, "%s: operator '%s' has both '%s' and '%s'; use one",
                               ynode_pos(n), uid, role_keys[found], role_keys[r]);
            found = r;
        }
    }
    if (found < 0)
        return err_set(e, MPF_EJOB, "%s: operator '%s' needs one of 'source', 'type' or 'sink'",
                       ynode_pos(n), uid);
    const char *kname = NULL;
    if (ynode_get_str(n, role_keys[found], 1, &kname, e))
        return e->code;
    enum op_role role = found == 0 ? OP_SOURCE : found == 1 ? OP_TRANSFORM : OP_SINK;
    s->kind = op_kind_find(role, kname);
    if (!s->kind) {
        const char *near = str_closest(kname, op_kind_names(role));
        return err_set(e, MPF_EJOB, "%s: operator '%s': unknown %s '%s'%s%s%s",
                       ynode_pos(ynode_get(n, role_keys[found])), uid, role_keys[found], kname,
                       near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    }
    /* Allowed keys: the common ones plus the kind's own. */
    const char *allowed[64];
    int na = 0;
    static const char *const common[] = {"uid", "parallelism", "inputs", "key-by",
                                         "partition", "name", NULL};
    for (int i = 0; common[i]; i++)
        allowed[na++] = common[i];
    allowed[na++] = role_keys[found];
    if (role == OP_SOURCE)
        allowed[na++] = "watermark";
    for (int i = 0; s->kind->keys && s->kind->keys[i] && na < 63; i++)
        allowed[na++] = s->kind->keys[i];
    allowed[na] = NULL;
    char what[300];
    snprintf(what, sizeof what, "operator '%s' (%s %s)", uid, role_keys[found], kname);
    if (ynode_check_keys(n, allowed, what, e))
        return e->code;
    int64_t par = 0;
    if (ynode_get_i64(n, "parallelism", 0, &par, e))
        return e->code;
    if (par < 0 || par > 32768)
        return err_set(e, MPF_EJOB, "%s: operator '%s': parallelism must be in [1, 32768]",
                       ynode_pos(ynode_get(n, "parallelism")), uid);
    s->parallelism = (int)par;
    const char *key = NULL, *part = NULL;
    char keylist[512];
    const ynode *kb = ynode_get(n, "key-by");
    if (kb && kb->kind == YNODE_SEQ) { /* one key field per input */
        size_t len = 0;
        keylist[0] = 0;
        for (size_t i = 0; i < kb->n; i++) {
            const ynode *it = kb->items[i];
            if (it->kind != YNODE_SCALAR || !it->str[0] || strchr(it->str, ','))
                return err_set(e, MPF_EJOB, "%s: operator '%s': key-by lists field names, one "
                               "per input", ynode_pos(it), uid);
            len += (size_t)snprintf(keylist + len, sizeof keylist - len, "%s%s", i ? "," : "",
                                    it->str);
            if (len >= sizeof keylist)
                return err_set(e, MPF_EJOB, "%s: operator '%s': key-by list too long",
                               ynode_pos(kb), uid);
        }
        key = keylist;
    } else if (ynode_get_str(n, "key-by", 0, &key, e)) {
        return e->code;
    }
    if (ynode_get_str(n, "partition", 0, &part, e))
        return e->code;
    if (part) {
        static const char *const parts[] = {"forward", "hash", "rebalance", "broadcast", NULL};
        int pk[] = {PART_FORWARD, PART_HASH, PART_REBALANCE, PART_BROADCAST};
        int ok = 0;
        for (int i = 0; parts[i]; i++)
            if (str_ieq(part, parts[i])) {
                s->part = pk[i];
                ok = 1;
            }
        if (!ok)
            return err_set(e, MPF_EJOB, "%s: operator '%s': partition must be forward, "
                           "rebalance, broadcast or hash (with key-by), got '%s'",
                           ynode_pos(ynode_get(n, "partition")), uid, part);
        if (s->part == PART_HASH && !key)
            return err_set(e, MPF_EJOB, "%s: operator '%s': partition: hash needs key-by",
                           ynode_pos(ynode_get(n, "partition")), uid);
    }
    if (key) {
        if (part && s->part != PART_HASH)
            return err_set(e, MPF_EJOB, "%s: operator '%s': key-by conflicts with partition: %s",
                           ynode_pos(ynode_get(n, "key-by")), uid, part);
        s->part = PART_HASH;
        s->key_field = xstrdup(key);
    }
    return 0;
}

/* Resolve inputs: explicit `inputs:` by uid (earlier operators only),
 * otherwise the previous operator; sources have none. */
static int resolve_inputs(job *j, int index, mpf_err *e)
{
    op_spec *s = &j->ops[index];
    const ynode *in = ynode_get(s->node, "inputs");
    if (s->kind->role == OP_SOURCE) {
        if (in)
            return err_set(e, MPF_EJOB, "%s: source '%s' cannot have inputs", ynode_pos(in),
                           s->uid);
        return 0;
    }
    if (!in) {
        if (index == 0)
            return err_set(e, MPF_EJOB, "%s: operator '%s' has no input: the first operator "
                           "must be a source", ynode_pos(s->node), s->uid);
        if (j->ops[index - 1].kind->role == OP_SINK)
            return err_set(e, MPF_EJOB, "%s: operator '%s' follows sink '%s'; name its input "
                           "with inputs: [uid]", ynode_pos(s->node), s->uid,
                           j->ops[index - 1].uid);
        s->ninputs = 1;
        s->inputs = xmalloc(sizeof(int));
        s->inputs[0] = index - 1;
        return 0;
    }
    size_t n = in->kind == YNODE_SEQ ? in->n : 1;
    s->inputs = xcalloc(n, sizeof(int));
    for (size_t k = 0; k < n; k++) {
        const ynode *u = in->kind == YNODE_SEQ ? in->items[k] : in;
        if (u->kind != YNODE_SCALAR)
            return err_set(e, MPF_EJOB, "%s: inputs must be operator uids", ynode_pos(u));
        int found = -1;
        for (int i = 0; i < j->nops; i++)
            if (strcmp(j->ops[i].uid, u->str) == 0)
                found = i;
        const char *dot = strrchr(u->str, '.');
        if (found < 0 && dot) { /* "uid.name": side output `name` of uid */
            for (int i = 0; i < j->nops; i++)
                if (strlen(j->ops[i].uid) == (size_t)(dot - u->str) &&
                    strncmp(j->ops[i].uid, u->str, (size_t)(dot - u->str)) == 0)
                    found = i;
            if (found >= 0) {
                if (!s->input_side)
                    s->input_side = xcalloc(n + 1, sizeof *s->input_side);
                s->input_side[s->ninputs] = xstrdup(dot + 1);
            }
        }
        if (found < 0) {
            const char **names = xcalloc((size_t)j->nops + 1, sizeof *names);
            for (int i = 0; i < j->nops; i++)
                names[i] = j->ops[i].uid;
            const char *near = str_closest(u->str, names);
            err_set(e, MPF_EJOB, "%s: operator '%s': unknown input '%s'%s%s%s", ynode_pos(u),
                    s->uid, u->str, near ? " (did you mean '" : "", near ? near : "",
                    near ? "'?)" : "");
            free(names);
            return MPF_EJOB;
        }
        if (found >= index)
            return err_set(e, MPF_EJOB, "%s: operator '%s': input '%s' must be defined before "
                           "it (operators are listed in data-flow order)", ynode_pos(u), s->uid,
                           u->str);
        if (j->ops[found].kind->role == OP_SINK)
            return err_set(e, MPF_EJOB, "%s: operator '%s': input '%s' is a sink", ynode_pos(u),
                           s->uid, u->str);
        s->inputs[s->ninputs++] = found;
    }
    return 0;
}

int job_parse(const char *file, const char *text, size_t len, char *const *params,
              int nparams, job **out, mpf_err *e)
{
    job *j = xcalloc(1, sizeof *j);
    j->doc = ydoc_parse(file, text, len, e);
    if (!j->doc)
        goto fail;
    ynode *root = j->doc->root;
    if (!root || root->kind != YNODE_MAP) {
        err_set(e, MPF_EJOB, "%s:1:1: a job file must be a map with name and operators", file);
        goto fail;
    }
    if (ynode_check_keys(root, job_keys, "the job", e))
        goto fail;
    const char *name = NULL;
    if (ynode_get_str(root, "name", 1, &name, e))
        goto fail;
    j->name = xstrdup(name);
    if (parse_params(j, ynode_get(root, "parameters"), params, nparams, e))
        goto fail;
    /* Substitute everywhere except inside parameters: itself. */
    for (size_t i = 0; i < root->n; i++)
        if (strcmp(root->keys[i]->str, "parameters") != 0 && subst_tree(j, root->items[i], e))
            goto fail;
    /* The name was needed above for messages; take it again substituted. */
    if (ynode_get_str(root, "name", 1, &name, e))
        goto fail;
    free(j->name);
    j->name = xstrdup(name);
    int64_t par = 0;
    if (ynode_get_i64(root, "parallelism", 0, &par, e))
        goto fail;
    if (par < 0 || par > 32768) {
        err_set(e, MPF_EJOB, "%s: parallelism must be in [1, 32768]",
                ynode_pos(ynode_get(root, "parallelism")));
        goto fail;
    }
    j->parallelism = (int)par;
    j->config = ynode_get(root, "config");
    if (j->config && j->config->kind != YNODE_MAP) {
        err_set(e, MPF_EJOB, "%s: config must be a map of configuration keys",
                ynode_pos(j->config));
        goto fail;
    }
    const ynode *ops = ynode_get(root, "operators");
    if (!ops || ops->kind != YNODE_SEQ || ops->n == 0) {
        err_set(e, MPF_EJOB, "%s: 'operators' must be a non-empty list",
                ops ? ynode_pos(ops) : ynode_pos(root));
        goto fail;
    }
    j->ops = xcalloc(ops->n, sizeof *j->ops);
    for (size_t i = 0; i < ops->n; i++) {
        j->nops = (int)i + 1; /* so job_destroy frees a half-parsed op */
        if (parse_op(j, ops->items[i], (int)i, e))
            goto fail;
    }
    for (int i = 0; i < j->nops; i++)
        if (resolve_inputs(j, i, e))
            goto fail;
    *out = j;
    return 0;
fail:
    ydoc_err_location_first(e, file);
    job_destroy(j);
    return e->code ? e->code : MPF_EJOB;
}

void job_destroy(job *j)
{
    if (!j)
        return;
    for (int i = 0; i < j->nops; i++) {
        op_spec *s = &j->ops[i];
        if (s->cfg && s->kind && s->kind->free_cfg)
            s->kind->free_cfg(s->cfg);
        schema_fini(&s->out_schema);
        free(s->uid);
        free(s->inputs);
        free(s->in_schema);
        free(s->key_field);
        free(s->key_indices);
        op_spec_free_sides(s);
    }
    free(j->ops);
    for (int i = 0; i < j->nparams; i++) {
        free(j->params[i].name);
        free(j->params[i].value);
        free(j->params[i].description);
    }
    free(j->params);
    free(j->name);
    ydoc_destroy(j->doc);
    free(j);
}

void job_print_params(const job *j, FILE *f)
{
    for (int i = 0; i < j->nparams; i++)
        fprintf(f, "  --%-12s %s (default: %s)\n", j->params[i].name, j->params[i].description,
                j->params[i].value);
}
