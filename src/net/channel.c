/* Credit-based data channels over MPI and in-process (net layer). */
#include "net/channel.h"

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/control.h"
#include "net/net_internal.h"
#include "net/world.h"
#include "record/batch.h"
#include "record/segpool.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* A posted MPI send: a batch (its segment returns to the pool when the
 * send completes) or a credit grant (its buffer is the inchan's grant[]). */
typedef struct send_slot {
    uint8_t *seg;
    inchan *grant;
    uint32_t channel;
    int peer;
    int live; /* cleared when complete, failed or abandoned */
} send_slot;

static struct {
    uint32_t nchannels;
    int credits;
    outchan **out; /* by channel id; NULL when not ours */
    inchan **in;
    MPI_Request *reqs; /* pending sends, compacted after each test */
    send_slot *slots;
    int *done_idx;
    MPI_Status *statuses;
    size_t npending, cap_pending;
    inchan **owing; /* remote inputs with consumed batches to grant back */
    size_t nowing;
    int discard;
    int failed; /* first error's code, kept until dp_fini; 0 if none */
    mpf_err err;
    size_t abandoned; /* requests given up after an error */
    dp_stats st;
    dp_peer_stats *peers; /* by destination rank */
    int npeers;
} dp;

/* Keep the first error; later ones are usually its consequences. */
static void dp_keep(const mpf_err *e)
{
    if (!dp.failed) {
        dp.err = *e;
        dp.failed = e->code;
    }
}

static void dp_fail_mpi(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dp_fail_mpi(int rc, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    mpf_err e;
    net_mpi_err(&e, rc, "%s", what);
    dp_keep(&e);
}

/* A peer broke the protocol. */
static void dp_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void dp_fail(const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    mpf_err e;
    err_set(&e, MPF_EMPI, "rank %d: %s", net_rank(), what);
    dp_keep(&e);
}

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
    dp.owing = xcalloc(nchannels ? nchannels : 1, sizeof *dp.owing);
}

static int complete_sends(void);
static int receive(int rounds);

/* Give up on send r: free its request (MPI finishes or drops it on its
 * own); the caller leaks its buffer, which MPI may still read. */
static void free_request(size_t r)
{
    if (dp.reqs[r] == MPI_REQUEST_NULL)
        return;
    int rc = MPI_Request_free(&dp.reqs[r]);
    if (rc != MPI_SUCCESS) {
        mpf_err e;
        net_mpi_err(&e, rc, "freeing the request of a send on channel %u to rank %d",
                    dp.slots[r].channel, dp.slots[r].peer);
        log_warn("%s", e.msg);
    }
}

int dp_fini(void)
{
    /* Normally nothing is pending here (the task loop and the cancel path
     * wait for dp_pending_sends() == 0). Otherwise give the sends about a
     * second, receiving and dropping what peers send meanwhile so that
     * theirs complete too. */
    dp.discard = 1;
    int64_t backoff = 0;
    double t0 = net_wtime();
    while (dp.npending && net_wtime() - t0 < 1.0) {
        if (complete_sends() + receive(64) == 0)
            idle_backoff(&backoff, 1000000);
        else
            backoff = 0;
    }
    receive(1 << 20); /* whatever already arrived: leave the communicator clean */
    size_t lost = 0;
    if (dp.npending) {
        /* Cancel (a send may still be cancellable if its peer never
         * matched it), then wait a little more for the cancel to finish. */
        for (size_t r = 0; r < dp.npending; r++) {
            int rc = MPI_Cancel(&dp.reqs[r]);
            if (rc != MPI_SUCCESS) {
                mpf_err e;
                net_mpi_err(&e, rc, "cancelling a send on channel %u to rank %d at shutdown",
                            dp.slots[r].channel, dp.slots[r].peer);
                log_warn("%s", e.msg);
            }
        }
        t0 = net_wtime();
        while (dp.npending && net_wtime() - t0 < 0.5) {
            if (complete_sends() == 0)
                idle_backoff(&backoff, 1000000);
        }
        /* What is left MPI may still read: free the request, leak the
         * buffer (a segment, or the inchan holding a grant). */
        for (size_t r = 0; r < dp.npending; r++) {
            send_slot *s = &dp.slots[r];
            log_warn("rank %d: a %s on channel %u to rank %d is still pending at shutdown; "
                     "its request is freed and its buffer leaked",
                     net_rank(), s->seg ? "batch send" : "credit grant", s->channel, s->peer);
            free_request(r);
            s->live = 0;
            lost++;
        }
        dp.npending = 0;
    }
    lost += dp.abandoned;
    if (lost)
        log_warn("rank %d: data plane closed with %zu MPI request(s) that could not complete",
                 net_rank(), lost);
    for (uint32_t c = 0; c < dp.nchannels; c++) {
        if (dp.out[c]) {
            segq_fini(&dp.out[c]->backlog);
            free(dp.out[c]);
        }
        if (dp.in[c]) {
            segq_fini(&dp.in[c]->queue);
            if (!dp.in[c]->grant_busy) /* else MPI may still read its grant[] */
                free(dp.in[c]);
        }
    }
    free(dp.out);
    free(dp.in);
    free(dp.owing);
    free(dp.reqs);
    free(dp.slots);
    free(dp.done_idx);
    free(dp.statuses);
    free(dp.peers);
    memset(&dp, 0, sizeof dp);
    return (int)lost;
}

outchan *dp_outchan_open(chan_id id, int dst_rank)
{
    outchan *o = xcalloc(1, sizeof *o);
    o->id = id;
    o->dst_rank = dst_rank;
    o->credits = dp.credits;
    dp.out[id.v] = o;
    if (dst_rank >= dp.npeers) {
        int n = dst_rank + 1 > net_size() ? dst_rank + 1 : net_size();
        dp.peers = xrealloc(dp.peers, (size_t)n * sizeof *dp.peers);
        memset(dp.peers + dp.npeers, 0, (size_t)(n - dp.npeers) * sizeof *dp.peers);
        dp.npeers = n;
    }
    dp.peers[dst_rank].channels++;
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

/* Track a posted send until complete_sends sees it complete. */
static void track(MPI_Request req, uint8_t *seg, inchan *grant, uint32_t channel, int peer)
{
    if (dp.npending == dp.cap_pending) {
        dp.cap_pending = dp.cap_pending ? dp.cap_pending * 2 : 16;
        dp.reqs = xrealloc(dp.reqs, dp.cap_pending * sizeof *dp.reqs);
        dp.slots = xrealloc(dp.slots, dp.cap_pending * sizeof *dp.slots);
        dp.done_idx = xrealloc(dp.done_idx, dp.cap_pending * sizeof *dp.done_idx);
        dp.statuses = xrealloc(dp.statuses, dp.cap_pending * sizeof *dp.statuses);
    }
    dp.reqs[dp.npending] = req;
    dp.slots[dp.npending] = (send_slot){seg, grant, channel, peer, 1};
    dp.npending++;
}

static void post_send(outchan *o, uint8_t *seg)
{
    size_t n = batch_wire_size(seg);
    dp_peer_stats *peer = &dp.peers[o->dst_rank];
    peer->batches_sent++;
    peer->bytes_sent += n;
    if (o->local) {
        segq_push(&o->local->queue, seg);
    } else {
        MPI_Request req;
        int rc = MPI_Isend(seg, (int)n, MPI_BYTE, o->dst_rank, TAG_BATCH, net_data_comm, &req);
        if (rc != MPI_SUCCESS) {
            dp_fail_mpi(rc, "sending a %zu-byte batch on channel %u to rank %d", n, o->id.v,
                        o->dst_rank);
            segpool_put(seg); /* MPI did not take it */
            peer->batches_sent--;
            peer->bytes_sent -= n;
            return;
        }
        track(req, seg, NULL, o->id.v, o->dst_rank);
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
    if (o->wait_since_ns) { /* the batches that waited have gone */
        dp.peers[o->dst_rank].credit_wait_ns += clock_mono_ns() - o->wait_since_ns;
        o->wait_since_ns = 0;
    }
}

void dp_send(outchan *o, uint8_t *seg)
{
    batch_header(seg)->channel = o->id.v;
    if (o->credits <= 0) {
        dp.st.credit_waits++;
        dp.peers[o->dst_rank].credit_waits++;
        if (!o->wait_since_ns)
            o->wait_since_ns = clock_mono_ns();
    }
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
        return;
    }
    /* Granted by the next dp_poll, together with whatever else this
     * channel consumes until then. */
    if (i->held > 0)
        i->held--;
    i->owed++;
    if (!i->owing_listed) {
        i->owing_listed = 1;
        dp.owing[dp.nowing++] = i;
    }
}

/* MPI is done with send r's buffer: release it. */
static void release(size_t r)
{
    send_slot *s = &dp.slots[r];
    if (s->seg)
        segpool_put(s->seg);
    else
        s->grant->grant_busy = 0;
    s->seg = NULL;
    s->grant = NULL;
    s->live = 0;
}

static void send_failed(size_t r, int rc)
{
    const send_slot *s = &dp.slots[r];
    dp_fail_mpi(rc, "%s on channel %u to rank %d failed",
                s->seg ? "sending a batch" : "granting credits", s->channel, s->peer);
}

/* Drop completed slots, keeping the order of the rest. */
static void compact(void)
{
    size_t w = 0;
    for (size_t r = 0; r < dp.npending; r++) {
        if (!dp.slots[r].live)
            continue;
        dp.reqs[w] = dp.reqs[r];
        dp.slots[w] = dp.slots[r];
        w++;
    }
    dp.npending = w;
}

/* MPI_Testsome failed as a whole, so the state of the requests is not
 * known: test them one by one and abandon those that fail (the request
 * is freed, the buffer leaked, as MPI may still read it), so that
 * dp_pending_sends() reaches 0 and a cancel can finish. */
static int test_each(int rc0)
{
    dp_fail_mpi(rc0, "testing %zu pending send(s) on the data communicator", dp.npending);
    int n = 0;
    for (size_t r = 0; r < dp.npending; r++) {
        int flag = 0;
        int rc = MPI_Test(&dp.reqs[r], &flag, MPI_STATUS_IGNORE);
        if (rc == MPI_SUCCESS) {
            if (flag) {
                release(r);
                n++;
            }
            continue;
        }
        send_failed(r, rc);
        free_request(r);
        dp.slots[r].live = 0;
        dp.abandoned++;
    }
    compact();
    return n;
}

static int complete_sends(void)
{
    if (!dp.npending)
        return 0;
    int outcount = 0;
    int rc = MPI_Testsome((int)dp.npending, dp.reqs, &outcount, dp.done_idx, dp.statuses);
    if (rc != MPI_SUCCESS && rc != MPI_ERR_IN_STATUS)
        return test_each(rc);
    if (outcount <= 0 || outcount == MPI_UNDEFINED)
        return 0;
    for (int k = 0; k < outcount; k++) {
        size_t r = (size_t)dp.done_idx[k];
        /* A send that completed in error is complete all the same. */
        if (rc == MPI_ERR_IN_STATUS && dp.statuses[k].MPI_ERROR != MPI_SUCCESS)
            send_failed(r, dp.statuses[k].MPI_ERROR);
        release(r);
    }
    compact();
    return outcount;
}

/* One grant per channel that consumed something since its last one, and
 * only when its previous grant has left (the rest waits and adds up). */
static int grant_credits(void)
{
    int sent = 0;
    size_t w = 0;
    for (size_t k = 0; k < dp.nowing; k++) {
        inchan *i = dp.owing[k];
        if (dp.discard) {
            i->owed = 0;
            i->owing_listed = 0;
            continue;
        }
        if (i->grant_busy) {
            dp.owing[w++] = i;
            continue;
        }
        int n = i->owed;
        i->owed = 0;
        i->owing_listed = 0;
        i->grant[0] = i->id.v;
        i->grant[1] = (uint32_t)n;
        MPI_Request req;
        int rc = MPI_Isend(i->grant, 2, MPI_UINT32_T, i->src_rank, TAG_CREDIT, net_data_comm,
                           &req);
        if (rc != MPI_SUCCESS) {
            dp_fail_mpi(rc, "granting %d credit(s) on channel %u to rank %d", n, i->id.v,
                        i->src_rank);
            continue;
        }
        track(req, NULL, i, i->id.v, i->src_rank);
        i->grant_busy = 1;
        dp.st.grants_sent++;
        dp.st.credits_granted += (uint64_t)n;
        sent++;
    }
    dp.nowing = w;
    return sent;
}

/* Receive a message nobody can use, so that its sender completes. */
static void drop_message(const MPI_Status *st, int count)
{
    uint8_t *tmp = xmalloc((size_t)count + 1);
    int rc = MPI_Recv(tmp, count, MPI_BYTE, st->MPI_SOURCE, st->MPI_TAG, net_data_comm,
                      MPI_STATUS_IGNORE);
    free(tmp);
    if (rc != MPI_SUCCESS)
        dp_fail_mpi(rc, "receiving a %d-byte message with tag %d from rank %d", count,
                    st->MPI_TAG, st->MPI_SOURCE);
}

static void recv_credit(const MPI_Status *st, int count)
{
    int src = st->MPI_SOURCE;
    uint32_t msg[2];
    if (count != (int)sizeof msg) {
        drop_message(st, count);
        if (!dp.discard)
            dp_fail("malformed credit grant from rank %d: %d bytes, expected %zu", src, count,
                    sizeof msg);
        return;
    }
    int rc = MPI_Recv(msg, 2, MPI_UINT32_T, src, TAG_CREDIT, net_data_comm, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
        dp_fail_mpi(rc, "receiving a credit grant from rank %d", src);
        return;
    }
    if (dp.discard)
        return;
    outchan *o = msg[0] < dp.nchannels ? dp.out[msg[0]] : NULL;
    if (!o || o->local || o->dst_rank != src) {
        dp_fail("credit grant for channel %u from rank %d, which does not read that channel "
                "from this rank", msg[0], src);
        return;
    }
    /* Credits come back only for batches sent: more means a peer counts
     * wrong, and trusting it would let a queue grow without bound. */
    uint32_t outstanding = (uint32_t)(dp.credits - o->credits);
    if (msg[1] == 0 || msg[1] > outstanding) {
        dp_fail("rank %d granted %u credit(s) on channel %u, but %u batch(es) are "
                "outstanding", src, msg[1], msg[0], outstanding);
        return;
    }
    o->credits += (int)msg[1];
    dp.st.credits_received += msg[1];
    drain_backlog(o);
}

static void recv_batch(const MPI_Status *st, int count)
{
    int src = st->MPI_SOURCE;
    size_t segsize = segpool_segment_size();
    if ((size_t)count > segsize || (size_t)count < BATCH_HDR_SIZE) {
        drop_message(st, count);
        if (dp.discard)
            return;
        if ((size_t)count < BATCH_HDR_SIZE)
            dp_fail("malformed batch from rank %d: %d bytes, shorter than a batch header", src,
                    count);
        else
            dp_fail("batch of %d bytes from rank %d does not fit a %zu-byte segment (do all "
                    "ranks use the same taskmanager.memory.segment-size?)", count, src, segsize);
        return;
    }
    uint8_t *seg = segpool_get();
    int rc = MPI_Recv(seg, count, MPI_BYTE, src, TAG_BATCH, net_data_comm, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
        segpool_put(seg);
        dp_fail_mpi(rc, "receiving a %d-byte batch from rank %d", count, src);
        return;
    }
    if (dp.discard) {
        segpool_put(seg);
        return;
    }
    const batch_hdr *h = batch_header(seg);
    uint32_t ch = h->channel, used = h->used;
    uint16_t kind = h->kind;
    inchan *i = ch < dp.nchannels ? dp.in[ch] : NULL;
    if (!i || i->local || i->src_rank != src)
        dp_fail("malformed batch from rank %d: channel %u is not one it writes to this rank",
                src, ch);
    else if (BATCH_HDR_SIZE + used != (uint32_t)count)
        dp_fail("malformed batch from rank %d on channel %u: the header says %u payload "
                "bytes, the message has %d", src, ch, used, count - (int)BATCH_HDR_SIZE);
    else if (kind > BATCH_BARRIER)
        dp_fail("malformed batch from rank %d on channel %u: unknown kind %u", src, ch, kind);
    else if (i->end_received)
        dp_fail("malformed batch from rank %d on channel %u: it follows end-of-partition", src,
                ch);
    else if (kind != BATCH_END && i->held >= dp.credits)
        dp_fail("rank %d sent more than its %d credit(s) of batches on channel %u", src,
                dp.credits, ch);
    else {
        if (kind == BATCH_END)
            i->end_received = 1;
        else
            i->held++;
        dp.st.batches_received++;
        dp.st.bytes_received += (uint64_t)count;
        segq_push(&i->queue, seg);
        return;
    }
    segpool_put(seg);
}

/* Receive up to `rounds` messages that have arrived. */
static int receive(int rounds)
{
    int events = 0;
    for (int k = 0; k < rounds; k++) {
        int flag = 0;
        MPI_Status st;
        int rc = MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, net_data_comm, &flag, &st);
        if (rc != MPI_SUCCESS) {
            dp_fail_mpi(rc, "probing the data communicator for batches and credits");
            break;
        }
        if (!flag)
            break;
        events++;
        int count = 0;
        rc = MPI_Get_count(&st, MPI_BYTE, &count);
        if (rc == MPI_SUCCESS && (count < 0 || count == MPI_UNDEFINED))
            rc = MPI_ERR_COUNT;
        if (rc != MPI_SUCCESS) {
            /* It stays unreceived: its sender will not complete, but the
             * data plane is failed now and the job is cancelled. */
            dp_fail_mpi(rc, "sizing a message with tag %d from rank %d", st.MPI_TAG,
                        st.MPI_SOURCE);
            break;
        }
        if (st.MPI_TAG == TAG_CREDIT) {
            recv_credit(&st, count);
        } else if (st.MPI_TAG == TAG_BATCH) {
            recv_batch(&st, count);
        } else {
            drop_message(&st, count);
            if (!dp.discard)
                dp_fail("message with unknown tag %d (%d bytes) from rank %d on the data "
                        "communicator", st.MPI_TAG, count, st.MPI_SOURCE);
        }
    }
    return events;
}

int dp_poll(mpf_err *e)
{
    int events = complete_sends();
    events += grant_credits();
    events += receive(64);
    if (dp.failed) {
        if (e)
            *e = dp.err;
        return dp.failed;
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
int dp_npeers(void) { return dp.npeers; }
const dp_peer_stats *dp_peers(void) { return dp.peers; }

void dp_peers_flush_waits(int64_t now_ns)
{
    for (uint32_t c = 0; c < dp.nchannels; c++) {
        outchan *o = dp.out[c];
        if (o && o->wait_since_ns && now_ns > o->wait_since_ns) {
            dp.peers[o->dst_rank].credit_wait_ns += now_ns - o->wait_since_ns;
            o->wait_since_ns = now_ns;
        }
    }
}
