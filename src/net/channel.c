/* Credit-based data channels over MPI and in-process (net layer). */
#include "net/channel.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include "net/net_internal.h"
#include "record/batch.h"
#include "record/segpool.h"
#include "util/xmalloc.h"

typedef struct pending_send {
    uint8_t *seg;
} pending_send;

static struct {
    uint32_t nchannels;
    int credits;
    outchan **out; /* by channel id; NULL when not ours */
    inchan **in;
    MPI_Request *reqs;
    uint8_t **req_segs;
    int *done_idx;
    size_t npending, cap_pending;
    int discard;
    dp_stats st;
} dp;

void segq_push(segq *q, uint8_t *s)
{
    if (q->n == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 4;
        uint8_t **nv = xmalloc(ncap * sizeof *nv);
        for (size_t i = 0; i < q->n; i++)
            nv[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = nv;
        q->cap = ncap;
        q->head = 0;
    }
    q->v[(q->head + q->n) % q->cap] = s;
    q->n++;
}

uint8_t *segq_pop(segq *q)
{
    if (!q->n)
        return NULL;
    uint8_t *s = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    return s;
}

void segq_fini(segq *q)
{
    uint8_t *s;
    while ((s = segq_pop(q)))
        segpool_put(s);
    free(q->v);
    memset(q, 0, sizeof *q);
}

void dp_init(uint32_t nchannels, int credits)
{
    memset(&dp, 0, sizeof dp);
    dp.nchannels = nchannels;
    dp.credits = credits;
    dp.out = xcalloc(nchannels ? nchannels : 1, sizeof *dp.out);
    dp.in = xcalloc(nchannels ? nchannels : 1, sizeof *dp.in);
}

void dp_fini(void)
{
    for (uint32_t c = 0; c < dp.nchannels; c++) {
        if (dp.out[c]) {
            segq_fini(&dp.out[c]->backlog);
            free(dp.out[c]);
        }
        if (dp.in[c]) {
            segq_fini(&dp.in[c]->queue);
            free(dp.in[c]);
        }
    }
    /* Sends still pending at this point belong to a cancelled job; their
     * segments are released once MPI is done with them or at exit. */
    free(dp.out);
    free(dp.in);
    free(dp.reqs);
    free(dp.req_segs);
    free(dp.done_idx);
    memset(&dp, 0, sizeof dp);
}

outchan *dp_outchan_open(chan_id id, int dst_rank)
{
    outchan *o = xcalloc(1, sizeof *o);
    o->id = id;
    o->dst_rank = dst_rank;
    o->credits = dp.credits;
    dp.out[id.v] = o;
    return o;
}

inchan *dp_inchan_open(chan_id id, int src_rank, void *owner, int input)
{
    inchan *i = xcalloc(1, sizeof *i);
    i->id = id;
    i->src_rank = src_rank;
    i->owner = owner;
    i->input = input;
    dp.in[id.v] = i;
    return i;
}

void dp_link_local(outchan *o, inchan *i)
{
    o->local = i;
    i->local = o;
}

void dp_link_locals(void)
{
    for (uint32_t c = 0; c < dp.nchannels; c++)
        if (dp.out[c] && dp.in[c])
            dp_link_local(dp.out[c], dp.in[c]);
}

static void post_send(outchan *o, uint8_t *seg)
{
    if (o->local) {
        segq_push(&o->local->queue, seg);
    } else {
        if (dp.npending == dp.cap_pending) {
            dp.cap_pending = dp.cap_pending ? dp.cap_pending * 2 : 16;
            dp.reqs = xrealloc(dp.reqs, dp.cap_pending * sizeof *dp.reqs);
            dp.req_segs = xrealloc(dp.req_segs, dp.cap_pending * sizeof *dp.req_segs);
            dp.done_idx = xrealloc(dp.done_idx, dp.cap_pending * sizeof *dp.done_idx);
        }
        size_t n = batch_wire_size(seg);
        MPI_Isend(seg, (int)n, MPI_BYTE, o->dst_rank, TAG_BATCH, net_data_comm,
                  &dp.reqs[dp.npending]);
        dp.req_segs[dp.npending++] = seg;
        dp.st.bytes_sent += n;
    }
    dp.st.batches_sent++;
}

/* Send as much of the backlog as credit allows. END needs no credit. */
static void drain_backlog(outchan *o)
{
    while (o->backlog.n) {
        uint8_t *seg = o->backlog.v[o->backlog.head];
        int is_end = batch_header(seg)->kind == BATCH_END;
        if (!is_end && o->credits <= 0)
            return;
        segq_pop(&o->backlog);
        if (!is_end)
            o->credits--;
        post_send(o, seg);
    }
}

void dp_send(outchan *o, uint8_t *seg)
{
    batch_header(seg)->channel = o->id.v;
    if (o->credits <= 0)
        dp.st.credit_waits++;
    segq_push(&o->backlog, seg);
    drain_backlog(o);
}

void dp_send_end(outchan *o)
{
    uint8_t *seg = segpool_get();
    batch_reset(seg, BATCH_END);
    batch_header(seg)->channel = o->id.v;
    o->end_sent = 1;
    segq_push(&o->backlog, seg);
    drain_backlog(o);
}

uint8_t *dp_take(inchan *i)
{
    return segq_pop(&i->queue);
}

void dp_consumed(inchan *i, uint8_t *seg)
{
    int is_end = batch_header(seg)->kind == BATCH_END;
    segpool_put(seg);
    if (is_end) {
        i->ended = 1;
        return;
    }
    if (i->local) {
        i->local->credits++;
        drain_backlog(i->local);
    } else {
        uint32_t msg[2] = {i->id.v, 1};
        /* Eight bytes go eagerly: this does not wait for the peer. */
        MPI_Send(msg, 2, MPI_UINT32_T, i->src_rank, TAG_CREDIT, net_data_comm);
    }
}

static int complete_sends(void)
{
    if (!dp.npending)
        return 0;
    int outcount = 0;
    MPI_Testsome((int)dp.npending, dp.reqs, &outcount, dp.done_idx, MPI_STATUSES_IGNORE);
    if (outcount <= 0 || outcount == MPI_UNDEFINED)
        return 0;
    for (int k = 0; k < outcount; k++) {
        segpool_put(dp.req_segs[dp.done_idx[k]]);
        dp.req_segs[dp.done_idx[k]] = NULL;
    }
    size_t w = 0;
    for (size_t r = 0; r < dp.npending; r++) {
        if (!dp.req_segs[r])
            continue;
        dp.reqs[w] = dp.reqs[r];
        dp.req_segs[w] = dp.req_segs[r];
        w++;
    }
    dp.npending = w;
    return outcount;
}

int dp_poll(mpf_err *e)
{
    int events = complete_sends();
    size_t segsize = segpool_segment_size();
    for (int rounds = 0; rounds < 64; rounds++) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, net_data_comm, &flag, &st);
        if (!flag)
            break;
        events++;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        if (st.MPI_TAG == TAG_CREDIT) {
            uint32_t msg[2];
            MPI_Recv(msg, 2, MPI_UINT32_T, st.MPI_SOURCE, TAG_CREDIT, net_data_comm,
                     MPI_STATUS_IGNORE);
            if (dp.discard)
                continue;
            if (msg[0] >= dp.nchannels || !dp.out[msg[0]])
                return err_set(e, MPF_EMPI, "credit for unknown channel %u from rank %d",
                               msg[0], st.MPI_SOURCE);
            dp.out[msg[0]]->credits += (int)msg[1];
            drain_backlog(dp.out[msg[0]]);
            continue;
        }
        if ((size_t)count > segsize || (size_t)count < BATCH_HDR_SIZE) {
            /* Receive it anyway so the sender completes, then fail. */
            uint8_t *tmp = xmalloc((size_t)count + 1);
            MPI_Recv(tmp, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, net_data_comm,
                     MPI_STATUS_IGNORE);
            free(tmp);
            if (dp.discard)
                continue;
            return err_set(e, MPF_EMPI,
                           "batch of %d bytes from rank %d does not fit a %zu-byte "
                           "segment (do all ranks use the same "
                           "taskmanager.memory.segment-size?)",
                           count, st.MPI_SOURCE, segsize);
        }
        uint8_t *seg = segpool_get();
        MPI_Recv(seg, count, MPI_BYTE, st.MPI_SOURCE, TAG_BATCH, net_data_comm,
                 MPI_STATUS_IGNORE);
        if (dp.discard) {
            segpool_put(seg);
            continue;
        }
        batch_hdr *h = batch_header(seg);
        if (h->channel >= dp.nchannels || !dp.in[h->channel] ||
            BATCH_HDR_SIZE + h->used != (uint32_t)count) {
            uint32_t ch = h->channel;
            segpool_put(seg);
            return err_set(e, MPF_EMPI, "malformed batch for channel %u from rank %d", ch,
                           st.MPI_SOURCE);
        }
        dp.st.batches_received++;
        dp.st.bytes_received += (uint64_t)count;
        segq_push(&dp.in[h->channel]->queue, seg);
    }
    return events;
}

size_t dp_pending_sends(void)
{
    complete_sends();
    return dp.npending;
}

void dp_set_discard(int on) { dp.discard = on; }
dp_stats dp_get_stats(void) { return dp.st; }
