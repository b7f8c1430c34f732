/* Subtask execution: operator chains, output routing, input selection
 * (runtime layer). */
#include "runtime/task.h"

#include <stdlib.h>
#include <string.h>
#include "record/keygroup.h"
#include "record/segpool.h"
#include "util/xmalloc.h"

struct chain_link {
    collector c; /* must stay first */
    task_inst *t;
    int next; /* index of the op that consumes */
    uint8_t *seg;
};

struct out_route {
    const plan_edge *edge;
    const schema *schema;
    int dst_par, nchan, rr;
    outchan **chans; /* by destination subtask (FORWARD: one) */
    uint8_t **cur;   /* batch being filled per channel */
};

static void deliver(task_inst *t, int k, int input, const uint8_t *seg);

/* Flush chain links from k on, so everything produced reaches the end of
 * the chain before the step returns. */
static void chain_flush_from(task_inst *t, int k)
{
    for (int j = k; j < t->nops - 1 && !t->err.code; j++) {
        chain_link *l = &t->links[j];
        if (batch_header(l->seg)->count) {
            deliver(t, j + 1, 0, l->seg);
            batch_reset(l->seg, BATCH_DATA);
        }
    }
}

static void deliver(task_inst *t, int k, int input, const uint8_t *seg)
{
    op_inst *oi = &t->ops[k];
    oi->records_in += batch_header_c(seg)->count;
    if (oi->spec->kind->process(oi, input, seg, &t->err) && !t->err.code)
        t->err.code = MPF_EIO;
    if (!t->err.code)
        chain_flush_from(t, k);
}

/* A record larger than an empty batch can never be sent: fail the task,
 * naming the operator that produced it (ops[k]). Checked once here, so
 * after a full batch is handed on the append into a fresh one succeeds. */
static int too_big(task_inst *t, int k, uint32_t len)
{
    if ((size_t)len + BATCH_HDR_SIZE <= segpool_segment_size())
        return 0;
    err_set(&t->err, MPF_ETOOBIG, "operator '%s': a record of %u bytes does not fit a record "
            "batch; raise taskmanager.memory.segment-size", t->ops[k].spec->uid, len);
    return 1;
}

static void link_emit(collector *c, const uint8_t *rec, uint32_t len)
{
    chain_link *l = (chain_link *)c;
    size_t cap = segpool_segment_size();
    if (batch_append(l->seg, cap, rec, len) == 0 || too_big(l->t, l->next - 1, len))
        return;
    /* Full: let the next operator consume it now. */
    uint8_t *full = l->seg;
    l->seg = segpool_get();
    deliver(l->t, l->next, 0, full);
    segpool_put(full);
    batch_append(l->seg, cap, rec, len);
}

static void route_append(task_inst *t, out_route *r, int ch, const uint8_t *rec, uint32_t len)
{
    size_t cap = segpool_segment_size();
    if (batch_append(r->cur[ch], cap, rec, len) != 0) {
        if (too_big(t, t->nops - 1, len))
            return;
        dp_send(r->chans[ch], r->cur[ch]);
        r->cur[ch] = segpool_get();
        batch_append(r->cur[ch], cap, rec, len);
    }
    if (!t->oldest_ns)
        t->oldest_ns = t->now_ns;
}

static void writer_emit(collector *c, const uint8_t *rec, uint32_t len)
{
    task_inst *t = (task_inst *)((char *)c - offsetof(task_inst, writer));
    for (int i = 0; i < t->nroutes; i++) {
        out_route *r = &t->routes[i];
        switch (r->edge->part) {
        case PART_FORWARD:
            route_append(t, r, 0, rec, len);
            break;
        case PART_HASH: {
            uint32_t klen;
            const uint8_t *key = rec_key(r->schema, rec, r->edge->key_index, &klen);
            int kg = keygroup_of(key_hash(key, klen), t->plan->max_parallelism);
            route_append(t, r, keygroup_subtask(kg, t->plan->max_parallelism, r->dst_par), rec,
                         len);
            break;
        }
        case PART_REBALANCE:
            route_append(t, r, r->rr, rec, len);
            if (++r->rr == r->dst_par)
                r->rr = 0;
            break;
        case PART_BROADCAST:
            for (int d = 0; d < r->dst_par; d++)
                route_append(t, r, d, rec, len);
            break;
        }
    }
}

/* Send every partly filled output batch. */
static void flush_routes(task_inst *t)
{
    for (int i = 0; i < t->nroutes; i++) {
        out_route *r = &t->routes[i];
        for (int c = 0; c < r->nchan; c++) {
            if (batch_header(r->cur[c])->count) {
                dp_send(r->chans[c], r->cur[c]);
                r->cur[c] = segpool_get();
            }
        }
    }
    t->oldest_ns = 0;
}

int task_open(task_inst *t, const plan *p, int task_index, int subtask, int my_rank,
              const conf *c, mpf_err *e)
{
    const job *j = p->job;
    memset(t, 0, sizeof *t);
    t->plan = p;
    t->pt = &p->tasks[task_index];
    t->task_index = task_index;
    t->subtask = subtask;
    t->buffer_timeout_ns = conf_duration_ns(c, "execution.buffer-timeout");
    t->writer.emit = writer_emit;
    t->nops = t->pt->nops;
    t->ops = xcalloc((size_t)t->nops, sizeof *t->ops);
    t->links = xcalloc((size_t)t->nops, sizeof *t->links);
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        oi->spec = &j->ops[t->pt->ops[k]];
        oi->subtask = subtask;
        oi->conf = c;
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
    /* Output routes: every channel of every out edge from this subtask. */
    t->nroutes = t->pt->nout;
    t->routes = xcalloc((size_t)t->nroutes + 1, sizeof *t->routes);
    for (int i = 0; i < t->nroutes; i++) {
        out_route *r = &t->routes[i];
        r->edge = &p->edges[t->pt->out_edges[i]];
        r->schema = &j->ops[r->edge->src_op].out_schema;
        r->dst_par = p->tasks[r->edge->dst_task].parallelism;
        r->nchan = r->edge->part == PART_FORWARD ? 1 : r->dst_par;
        r->rr = subtask % r->dst_par; /* spread rebalance starts */
        r->chans = xcalloc((size_t)r->nchan, sizeof *r->chans);
        r->cur = xcalloc((size_t)r->nchan, sizeof *r->cur);
        for (int d = 0; d < r->nchan; d++) {
            int dst = r->edge->part == PART_FORWARD ? subtask : d;
            chan_id id = {plan_channel(r->edge, subtask, dst, r->dst_par)};
            r->chans[d] = dp_outchan_open(id, plan_rank_of(p, dst));
            r->cur[d] = segpool_get();
        }
    }
    /* Input channels: from every upstream subtask of every in edge. */
    for (int i = 0; i < t->pt->nin; i++) {
        const plan_edge *ed = &p->edges[t->pt->in_edges[i]];
        t->nin += ed->part == PART_FORWARD ? 1 : p->tasks[ed->src_task].parallelism;
    }
    t->in = xcalloc((size_t)t->nin + 1, sizeof *t->in);
    int n = 0;
    for (int i = 0; i < t->pt->nin; i++) {
        const plan_edge *ed = &p->edges[t->pt->in_edges[i]];
        int sp = p->tasks[ed->src_task].parallelism;
        for (int s = 0; s < sp; s++) {
            if (ed->part == PART_FORWARD && s != subtask)
                continue;
            chan_id id = {plan_channel(ed, s, subtask, t->pt->parallelism)};
            t->in[n++] = dp_inchan_open(id, plan_rank_of(p, s), t, ed->dst_input);
        }
    }
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        if (oi->spec->kind->open && oi->spec->kind->open(oi, e))
            return err_prefix(e, "subtask %d/%d on %s", subtask + 1, oi->spec->parallelism,
                              my_rank ? "a TaskManager" : "the JobManager");
    }
    return 0;
}

static int output_ready(const task_inst *t)
{
    for (int i = 0; i < t->nroutes; i++)
        for (int c = 0; c < t->routes[i].nchan; c++)
            if (dp_backlog(t->routes[i].chans[c]))
                return 0;
    return 1;
}

static int check(task_inst *t, int rc, int k, mpf_err *e)
{
    if (t->err.code) {
        *e = t->err;
        return e->code;
    }
    if (rc && rc != MPF_EAGAIN) {
        if (!e->code)
            err_set(e, rc, "operator '%s': %s", t->ops[k].spec->uid, mpf_strerror(rc));
        return rc;
    }
    return 0;
}

int task_step(task_inst *t, int64_t now_ns, mpf_err *e)
{
    t->now_ns = now_ns;
    if (t->state == TASK_DONE)
        return 0;
    if (t->oldest_ns && now_ns - t->oldest_ns >= t->buffer_timeout_ns)
        flush_routes(t);
    if (!output_ready(t))
        return 0;
    int progress = 0;
    if (t->state == TASK_RUNNING) {
        if (t->nin == 0) {
            op_inst *src = &t->ops[0];
            uint64_t before = src->records_out;
            int rc = src->spec->kind->poll(src, e);
            chain_flush_from(t, 0);
            if (check(t, rc, 0, e))
                return e->code;
            progress = src->records_out != before;
            if (rc == 0) {
                t->state = TASK_FINISHING;
                progress = 1;
            }
        } else {
            /* Up to a few batches per step, round-robin over channels. */
            for (int budget = 4; budget > 0 && output_ready(t);) {
                inchan *ch = NULL;
                for (int k = 0; k < t->nin; k++) {
                    inchan *c = t->in[(t->rr_in + k) % t->nin];
                    if (dp_queued(c)) {
                        ch = c;
                        t->rr_in = (t->rr_in + k + 1) % t->nin;
                        break;
                    }
                }
                if (!ch)
                    break;
                uint8_t *seg = dp_take(ch);
                progress = 1;
                budget--;
                if (batch_header(seg)->kind == BATCH_END) {
                    dp_consumed(ch, seg);
                    if (++t->ended_in == t->nin) {
                        t->state = TASK_FINISHING;
                        break;
                    }
                    continue;
                }
                deliver(t, 0, ch->input, seg);
                dp_consumed(ch, seg);
                if (check(t, 0, 0, e))
                    return e->code;
            }
        }
    }
    if (t->state == TASK_FINISHING && output_ready(t)) {
        progress = 1;
        op_inst *oi = &t->ops[t->finish_op];
        int rc = oi->spec->kind->finish ? oi->spec->kind->finish(oi, e) : 0;
        chain_flush_from(t, t->finish_op);
        if (check(t, rc, t->finish_op, e))
            return e->code;
        if (rc == 0 && ++t->finish_op == t->nops) {
            flush_routes(t);
            for (int i = 0; i < t->nroutes; i++)
                for (int c = 0; c < t->routes[i].nchan; c++)
                    dp_send_end(t->routes[i].chans[c]);
            t->state = TASK_DRAINING;
        }
    }
    if (t->state == TASK_DRAINING && output_ready(t)) {
        t->state = TASK_DONE;
        progress = 1;
    }
    return progress;
}

int task_commit(task_inst *t, mpf_err *e)
{
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        if (oi->spec->kind->commit && oi->spec->kind->commit(oi, e))
            return e->code;
    }
    return 0;
}

void task_close(task_inst *t)
{
    for (int k = 0; k < t->nops; k++) {
        op_inst *oi = &t->ops[k];
        if (oi->spec && oi->spec->kind->close)
            oi->spec->kind->close(oi);
        if (t->links && t->links[k].seg)
            segpool_put(t->links[k].seg);
    }
    for (int i = 0; i < t->nroutes; i++) {
        for (int c = 0; c < t->routes[i].nchan; c++)
            segpool_put(t->routes[i].cur[c]);
        free(t->routes[i].chans);
        free(t->routes[i].cur);
    }
    free(t->routes);
    free(t->in);
    free(t->links);
    free(t->ops);
    memset(t, 0, sizeof *t);
}
