/* Job submissions: encoding for broadcast and planning (runtime layer). */
#include "runtime/submission.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "util/xmalloc.h"

static char **push(char **v, int *n, const char *s)
{
    v = xrealloc(v, (size_t)(*n + 1) * sizeof *v);
    v[(*n)++] = xstrdup(s);
    return v;
}

void submission_add_def(submission *s, const char *kv) { s->defs = push(s->defs, &s->ndefs, kv); }
void submission_add_param(submission *s, const char *kv)
{
    s->params = push(s->params, &s->nparams, kv);
}

int submission_read_files(submission *s, mpf_err *e)
{
    size_t len;
    s->job_text = ydoc_read_file(s->job_path, &len, e);
    if (!s->job_text)
        return e->code;
    if (s->conf_path) {
        s->conf_text = ydoc_read_file(s->conf_path, &len, e);
        if (!s->conf_text)
            return e->code;
    }
    return 0;
}

/* Encoding: a sequence of (u64 length, bytes) strings; length ~0 = NULL. */
typedef struct wbuf {
    char *p;
    size_t len, cap;
} wbuf;

static void w_bytes(wbuf *w, const void *d, size_t n)
{
    if (w->len + n > w->cap) {
        w->cap = (w->len + n) * 2 + 64;
        w->p = xrealloc(w->p, w->cap);
    }
    memcpy(w->p + w->len, d, n);
    w->len += n;
}

static void w_str(wbuf *w, const char *s)
{
    uint64_t n = s ? strlen(s) : UINT64_MAX;
    w_bytes(w, &n, 8);
    if (s)
        w_bytes(w, s, (size_t)n);
}

char *submission_encode(const submission *s, size_t *len)
{
    wbuf w = {0};
    w_str(&w, s->job_path);
    w_str(&w, s->job_text);
    w_str(&w, s->conf_path);
    w_str(&w, s->conf_text);
    char num[32];
    snprintf(num, sizeof num, "%d", s->parallelism);
    w_str(&w, num);
    snprintf(num, sizeof num, "%d", s->ndefs);
    w_str(&w, num);
    for (int i = 0; i < s->ndefs; i++)
        w_str(&w, s->defs[i]);
    snprintf(num, sizeof num, "%d", s->nparams);
    w_str(&w, num);
    for (int i = 0; i < s->nparams; i++)
        w_str(&w, s->params[i]);
    w_str(&w, s->restore);
    w_str(&w, s->allow_non_restored ? "1" : "0");
    *len = w.len;
    return w.p;
}

static int r_str(const char *buf, size_t len, size_t *off, char **out)
{
    uint64_t n;
    if (*off + 8 > len)
        return -1;
    memcpy(&n, buf + *off, 8);
    *off += 8;
    if (n == UINT64_MAX) {
        *out = NULL;
        return 0;
    }
    if (n > len - *off)
        return -1;
    *out = xstrndup(buf + *off, (size_t)n);
    *off += (size_t)n;
    return 0;
}

int submission_decode(submission *s, const char *buf, size_t len, mpf_err *e)
{
    memset(s, 0, sizeof *s);
    size_t off = 0;
    char *num = NULL;
    if (r_str(buf, len, &off, &s->job_path) || r_str(buf, len, &off, &s->job_text) ||
        r_str(buf, len, &off, &s->conf_path) || r_str(buf, len, &off, &s->conf_text) ||
        r_str(buf, len, &off, &num) || !num)
        goto bad;
    s->parallelism = atoi(num);
    free(num);
    for (int pass = 0; pass < 2; pass++) {
        if (r_str(buf, len, &off, &num) || !num)
            goto bad;
        int n = atoi(num);
        free(num);
        num = NULL;
        for (int i = 0; i < n; i++) {
            char *v;
            if (r_str(buf, len, &off, &v) || !v)
                goto bad;
            if (pass == 0)
                submission_add_def(s, v);
            else
                submission_add_param(s, v);
            free(v);
        }
    }
    if (r_str(buf, len, &off, &s->restore) || r_str(buf, len, &off, &num) || !num)
        goto bad;
    s->allow_non_restored = num[0] == '1';
    free(num);
    return 0;
bad:
    free(num);
    submission_fini(s);
    return err_set(e, MPF_EMPI, "malformed job submission from the JobManager");
}

void submission_fini(submission *s)
{
    free(s->job_path);
    free(s->job_text);
    free(s->conf_path);
    free(s->conf_text);
    for (int i = 0; i < s->ndefs; i++)
        free(s->defs[i]);
    for (int i = 0; i < s->nparams; i++)
        free(s->params[i]);
    free(s->defs);
    free(s->params);
    free(s->restore);
    memset(s, 0, sizeof *s);
}

int submission_plan(const submission *s, int ntms, conf **out, plan *p, mpf_err *e)
{
    conf *c = conf_new();
    job *j = NULL;
    if (s->conf_text) {
        ydoc *d = ydoc_parse(s->conf_path, s->conf_text, strlen(s->conf_text), e);
        if (!d)
            goto fail;
        int rc = d->root ? conf_apply_yaml(c, d->root, e) : 0;
        ydoc_destroy(d);
        if (rc)
            goto fail;
    }
    if (job_parse(s->job_path, s->job_text, strlen(s->job_text), s->params, s->nparams, &j, e))
        goto fail;
    if (j->config && conf_apply_yaml(c, j->config, e))
        goto fail;
    for (int i = 0; i < s->ndefs; i++)
        if (conf_set_kv(c, s->defs[i], e))
            goto fail;
    if (conf_finalize(c, e))
        goto fail;
    const char *name = conf_str(c, CONF_PIPELINE_NAME);
    if (name && *name) {
        free(j->name);
        j->name = xstrdup(name);
    }
    for (int i = 0; s->restore && i < j->nops; i++)
        j->ops[i].restoring = 1;
    if (plan_build(p, j, c, ntms, s->parallelism, e)) {
        j = NULL; /* plan_build took it */
        goto fail;
    }
    *out = c;
    return 0;
fail:
    job_destroy(j);
    conf_destroy(c);
    return e->code ? e->code : MPF_EJOB;
}
