/* The operator chain of a task (runtime layer): operators linked by
 * collectors that fill a batch the next operator consumes, and the calls
 * of the operators' hooks, whose failures become the task's error with
 * the operator's own message, naming the operator and subtask once. */
#include "runtime/task_int.h"

#include <stdlib.h>
#include "util/xmalloc.h"

/* Progress values (0, MPF_EAGAIN) are never error codes: a hook that
 * returned one but set an error in e failed, and MPF_EAGAIN or a positive
 * value set as the error code is a broken hook, reported as such. */
int chain_hook_error(task_inst *t, int k, int rc, mpf_err *e, const char *hook)
{
    const op_inst *oi = &t->ops[k];
    if (e->code < 0 && e->code != MPF_EAGAIN) {
        /* the operator's own message */
    } else if (e->code) {
        err_set(e, MPF_EINVAL, "%s reported %s (%d) as its error, which is not an error code",
                hook, mpf_err_name(e->code), e->code);
    } else if (rc < 0 && rc != MPF_EAGAIN) {
        err_set(e, rc, "%s failed with %s (%s) and no message", hook, mpf_err_name(rc),
                mpf_strerror(rc));
    } else {
        err_set(e, MPF_EINVAL, "%s returned %d (%s), which is neither 0, MPF_EAGAIN where "
                "allowed, nor an error code", hook, rc, mpf_err_name(rc));
    }
    op_name_error(e, oi, NULL);
    return e->code;
}

/* Whether a hook's outcome is a failure: rc is an error code (negative
 * and not MPF_EAGAIN), or the hook set one in e (cleared before the
 * call). eagain_ok: the hook may return MPF_EAGAIN (poll, finish,
 * on_watermark, on_proc_time, service); process may not. */
static int hook_failed(int rc, const mpf_err *e, int eagain_ok)
{
    return e->code || (rc && !(eagain_ok && rc == MPF_EAGAIN));
}

void chain_deliver(task_inst *t, int k, int input, const uint8_t *seg)
{
    if (t->err.code) /* the task failed: nothing more runs */
        return;
    op_inst *oi = &t->ops[k];
    oi->records_in += batch_header_c(seg)->count;
    const err_ctx *prev = err_ctx_swap(&t->ctx[k]);
    int rc = oi->spec->kind->process(oi, input, seg, &t->err);
    err_ctx_swap(prev);
    if (oi->state_bytes > oi->state_peak)
        oi->state_peak = oi->state_bytes;
    if (hook_failed(rc, &t->err, 0)) {
        /* An error a later operator (or its output) hit while this one
         * emitted is named already. */
        if (!t->err_named)
            chain_hook_error(t, k, rc, &t->err, "process");
        t->err_named = 1;
        return;
    }
    chain_flush_from(t, k);
}

void chain_flush_from(task_inst *t, int k)
{
    for (int j = k; j < t->nops - 1 && !t->err.code; j++) {
        chain_link *l = &t->links[j];
        if (batch_header(l->seg)->count) {
            chain_deliver(t, j + 1, 0, l->seg);
            batch_reset(l->seg, BATCH_DATA);
        }
    }
}

int chain_hook_end(task_inst *t, int k, int rc, mpf_err *e, const char *hook)
{
    chain_flush_from(t, k);
    if (t->err.code) { /* set while emitting: named already */
        *e = t->err;
        return e->code;
    }
    if (hook_failed(rc, e, 1))
        return chain_hook_error(t, k, rc, e, hook);
    return 0;
}

void chain_fail_too_big(task_inst *t, int k, uint32_t len)
{
    if (t->err.code)
        return;
    err_set(&t->err, MPF_ETOOBIG, "operator '%s': a record of %u bytes does not fit a "
            "record batch; raise taskmanager.memory.segment-size", t->ops[k].spec->uid, len);
    op_name_error(&t->err, &t->ops[k], NULL);
    t->err_named = 1;
}

/* Per record: append to the link's batch; a full batch is consumed by the
 * next operator at once. */
static void link_emit(collector *c, const uint8_t *rec, uint32_t len)
{
    chain_link *l = (chain_link *)c;
    size_t cap = segpool_segment_size();
    if (batch_append(l->seg, cap, rec, len) == 0 || chain_too_big(l->t, l->next - 1, len))
        return;
    uint8_t *full = l->seg;
    l->seg = segpool_get();
    chain_deliver(l->t, l->next, 0, full);
    segpool_put(full);
    batch_append(l->seg, cap, rec, len);
}

void chain_open(task_inst *t, const conf *c)
{
    const job *j = t->plan->job;
    t->nops = t->pt->nops;
    t->ops = xcalloc((size_t)t->nops, sizeof *t->ops);
    t->ctx = xcalloc((size_t)t->nops, sizeof *t->ctx);
    t->links = xcalloc((size_t)t->nops, sizeof *t->links);
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        oi->spec = &j->ops[t->pt->ops[k]];
        oi->subtask = t->subtask;
        t->ctx[k] = (err_ctx){oi->spec->uid, t->subtask, oi->spec->parallelism};
        oi->conf = c;
        oi->watermark = WM_MIN;
        oi->proc_timer = INT64_MAX;
        oi->pending_records = oi->pending_bytes = oi->bytes_in = -1;
        t->has_proc_timers |= oi->spec->kind->on_proc_time != NULL;
        t->has_service |= oi->spec->kind->service != NULL;
        if (k + 1 < t->nops) {
            chain_link *l = &t->links[k];
            l->c.emit = link_emit;
            l->t = t;
            l->next = k + 1;
            l->seg = segpool_get();
            oi->out = &l->c;
        } else {
            oi->out = &t->writer;
        }
    }
}

/* The side-output collectors hang off their operator (route_open makes
 * them): they go with it. */
void chain_close(task_inst *t)
{
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        if (oi->spec && oi->spec->kind->close)
            oi->spec->kind->close(oi);
        if (oi->side) {
            for (int p = 0; p < oi->spec->nside; p++)
                free(oi->side[p]);
            free(oi->side);
        }
        if (t->links && t->links[k].seg)
            segpool_put(t->links[k].seg);
    }
    free(t->links);
    free(t->ops);
    free(t->ctx);
}
