/* Output routes of a task (runtime layer): the records of the chain's last
 * operator partitioned into per-channel batches of each out edge
 * (forward, hash by key group, rebalance, broadcast), sent when full,
 * after execution.buffer-timeout or before an event; events (watermarks,
 * barriers, latency markers, END) follow the data before them on each
 * channel. The writer and the partitioning run per record, so they stay
 * together in this file. */
#include "runtime/task_int.h"

#include <stdlib.h>
#include <string.h>
#include "record/keygroup.h"
#include "util/xmalloc.h"

/* Send channel ch's batch (full, or flushed) and start a fresh one. */
static void route_send(task_inst *t, out_route *r, int ch)
{
    t->bytes_out += batch_wire_size(r->cur[ch]);
    dp_send(r->chans[ch], r->cur[ch]);
    r->cur[ch] = segpool_get();
}

static void route_append(task_inst *t, out_route *r, int ch, const uint8_t *rec, uint32_t len)
{
    size_t cap = segpool_segment_size();
    if (batch_append(r->cur[ch], cap, rec, len) != 0) {
        if (chain_too_big(t, t->nops - 1, len))
            return;
        route_send(t, r, ch);
        batch_append(r->cur[ch], cap, rec, len);
    }
    if (!t->oldest_ns)
        t->oldest_ns = t->now_ns;
}

static void route_record(task_inst *t, out_route *r, const uint8_t *rec, uint32_t len)
{
    switch (r->edge->part) {
    case PART_FORWARD:
        route_append(t, r, 0, rec, len);
        break;
    case PART_HASH: {
        uint32_t klen;
        const uint8_t *key = rec_key(r->schema, rec, r->edge->key_index, &klen);
        int kg = keygroup_of(key_hash(key, klen), t->plan->max_parallelism);
        route_append(t, r, keygroup_subtask(kg, t->plan->max_parallelism, r->dst_par), rec, len);
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

/* The collector of the chain's last operator: its main output. */
static void writer_emit(collector *c, const uint8_t *rec, uint32_t len)
{
    task_inst *t = (task_inst *)((char *)c - offsetof(task_inst, writer));
    for (int i = 0; i < t->nroutes; i++)
        if (!t->routes[i].edge->src_port)
            route_record(t, &t->routes[i], rec, len);
}

/* A side output of the chain's last operator: the routes of its edges. */
typedef struct side_writer {
    collector c; /* must stay first */
    task_inst *t;
    int port; /* edge src_port */
} side_writer;

static void side_emit(collector *c, const uint8_t *rec, uint32_t len)
{
    side_writer *w = (side_writer *)c;
    for (int i = 0; i < w->t->nroutes; i++)
        if (w->t->routes[i].edge->src_port == w->port)
            route_record(w->t, &w->t->routes[i], rec, len);
}

void route_flush(task_inst *t)
{
    for (int i = 0; i < t->nroutes; i++) {
        out_route *r = &t->routes[i];
        for (int c = 0; c < r->nchan; c++)
            if (batch_header(r->cur[c])->count)
                route_send(t, r, c);
    }
    t->oldest_ns = 0;
}

/* An event batch: its kind, flags and payload. */
static uint8_t *event_batch(uint16_t kind, uint16_t flags, const void *payload, uint32_t len)
{
    uint8_t *seg = segpool_get();
    batch_reset(seg, kind);
    batch_header(seg)->flags = flags;
    batch_header(seg)->used = len;
    memcpy(seg + BATCH_HDR_SIZE, payload, len);
    return seg;
}

void route_event(task_inst *t, uint16_t kind, uint16_t flags, const void *payload, uint32_t len)
{
    route_flush(t);
    for (int i = 0; i < t->nroutes; i++) {
        out_route *r = &t->routes[i];
        for (int c = 0; c < r->nchan; c++)
            dp_send(r->chans[c], event_batch(kind, flags, payload, len));
    }
}

void route_event_one(task_inst *t, uint16_t kind, const void *payload, uint32_t len,
                     unsigned rr)
{
    route_flush(t);
    for (int i = 0; i < t->nroutes; i++) {
        out_route *r = &t->routes[i];
        dp_send(r->chans[rr % (unsigned)r->nchan], event_batch(kind, 0, payload, len));
    }
}

void route_end(task_inst *t)
{
    route_flush(t);
    for (int i = 0; i < t->nroutes; i++)
        for (int c = 0; c < t->routes[i].nchan; c++)
            dp_send_end(t->routes[i].chans[c]);
}

/* The side outputs of the chain's last operator that have consumers. */
static void route_open_side(task_inst *t)
{
    op_inst *tail = &t->ops[t->nops - 1];
    if (!tail->spec->nside)
        return;
    tail->side = xcalloc((size_t)tail->spec->nside, sizeof *tail->side);
    for (int i = 0; i < t->nroutes; i++) {
        int port = t->routes[i].edge->src_port;
        if (port && !tail->side[port - 1]) {
            side_writer *w = xcalloc(1, sizeof *w);
            w->c.emit = side_emit;
            w->t = t;
            w->port = port;
            tail->side[port - 1] = &w->c;
        }
    }
}

void route_open(task_inst *t)
{
    const plan *p = t->plan;
    int subtask = t->subtask;
    t->writer.emit = writer_emit;
    t->nroutes = t->pt->nout;
    t->routes = xcalloc((size_t)t->nroutes + 1, sizeof *t->routes);
    for (int i = 0; i < t->nroutes; i++) {
        out_route *r = &t->routes[i];
        r->edge = &p->edges[t->pt->out_edges[i]];
        const op_spec *src = &p->job->ops[r->edge->src_op];
        r->schema = r->edge->src_port ? &src->side_schema[r->edge->src_port - 1] : &src->out_schema;
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
    route_open_side(t);
}

/* The side writers go with the operator they hang off (chain_close). */
void route_close(task_inst *t)
{
    for (int i = 0; i < t->nroutes; i++) {
        for (int c = 0; c < t->routes[i].nchan; c++)
            segpool_put(t->routes[i].cur[c]);
        free(t->routes[i].chans);
        free(t->routes[i].cur);
    }
    free(t->routes);
}
