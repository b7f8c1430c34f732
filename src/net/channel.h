/* The data plane (net layer): channels that carry record batches from a
 * producing subtask to a consuming one, with Flink-style credit-based flow
 * control.
 *
 * A sender may have at most `credits` buffers of a channel outstanding,
 * that is sent or delivered but not yet consumed by the receiver; the
 * receiver gives a credit back for each one it consumes. Batches beyond
 * the credit wait in the channel's backlog, and the task that fills the
 * channel is not scheduled while a backlog exists, so a slow consumer
 * stops its producers and no queue grows without bound. END batches need
 * no credit and return none.
 *
 * Remote channels travel as MPI messages on the data communicator
 * (non-blocking sends; receives via probe), local ones (both ends on this
 * TaskManager) hand the segment over without MPI. MPI keeps the order of
 * messages between two ranks, so control batches stay in order with the
 * data of their channel. A remote channel's credits go back coalesced:
 * dp_poll sends one grant per channel with everything consumed since the
 * last one, non-blocking, and at most one grant per channel is in flight.
 * Both ends check the protocol: a batch or grant that breaks it (unknown
 * channel, wrong rank, bad length or kind, more than the credit) and any
 * MPI error fail the data plane with a message naming both ranks.
 * Single-threaded. */
#ifndef MPF_NET_CHANNEL_H
#define MPF_NET_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

typedef struct chan_id {
    uint32_t v;
} chan_id;

/* FIFO of segments. */
typedef struct segq {
    uint8_t **v;
    size_t head, n, cap;
} segq;

typedef struct inchan inchan;

typedef struct outchan {
    chan_id id;
    int dst_rank;
    inchan *local; /* receiver on this TaskManager, else NULL */
    int credits;
    segq backlog;
    int end_sent;
    int64_t wait_since_ns; /* a batch waits for credit since then; 0: none */
} outchan;

struct inchan {
    chan_id id;
    int src_rank;
    outchan *local; /* sender on this TaskManager, else NULL */
    segq queue;     /* delivered, not yet consumed */
    int ended;      /* END consumed */
    void *owner;    /* the task reading this channel */
    int input;      /* which logical input of the owner */
    /* Remote channels only: */
    int held;         /* received batches not yet consumed (<= credits) */
    int owed;         /* consumed, not yet granted back */
    int owing_listed; /* in the list of channels that owe a grant */
    int grant_busy;   /* a grant is in flight; it uses grant[] */
    int end_received;
    uint32_t grant[2]; /* channel id, credits: the message in flight */
};

typedef struct dp_stats {
    uint64_t batches_sent, bytes_sent;
    uint64_t batches_received, bytes_received;
    uint64_t credit_waits;     /* times a batch had to wait for credit */
    uint64_t grants_sent;      /* credit messages sent */
    uint64_t credits_granted;  /* credits they carried */
    uint64_t credits_received; /* credits that came back from receivers */
} dp_stats;

/* Traffic from this rank to one destination rank, over all the
 * channels to it (local ones too: the destination is this rank), for
 * the rank x rank network matrix. Counted once per batch, never per
 * record. */
typedef struct dp_peer_stats {
    uint32_t channels;      /* output channels to that rank */
    uint64_t batches_sent;  /* batches handed to MPI or the local reader */
    uint64_t bytes_sent;    /* their wire size: header and records */
    uint64_t credit_waits;  /* batches that found no credit */
    int64_t credit_wait_ns; /* time a channel to that rank held a batch
                             * waiting for credit, summed over channels */
} dp_peer_stats;

/* Set up for channel ids in [0, nchannels); credits per channel. */
void dp_init(uint32_t nchannels, int credits);
/* Release every channel and make sure no MPI request is left: waits (up
 * to about a second, receiving and dropping what peers still send) for
 * pending sends, then cancels and frees what remains, leaking a buffer
 * MPI may still read. Returns the number of requests that could not be
 * completed or cancelled (0 when nothing was pending), and logs a warning
 * when it is not 0. */
int dp_fini(void);
outchan *dp_outchan_open(chan_id id, int dst_rank);
inchan *dp_inchan_open(chan_id id, int src_rank, void *owner, int input);
/* Both ends are on this TaskManager. */
void dp_link_local(outchan *o, inchan *i);
/* Link every channel whose two ends were opened here; call once after all
 * local tasks are open. */
void dp_link_locals(void);

/* Hand a filled batch to the channel (ownership passes): DATA, or an
 * event (watermark, latency marker, barrier), which takes a credit too. */
void dp_send(outchan *o, uint8_t *seg);
/* Queue end-of-partition after all data. */
void dp_send_end(outchan *o);
static inline size_t dp_backlog(const outchan *o) { return o->backlog.n; }

/* Next delivered batch of a channel or NULL; the caller owns it until it
 * passes it to dp_consumed, which returns the segment and the credit (at
 * once on a local channel, with the next dp_poll on a remote one). */
uint8_t *dp_take(inchan *i);
void dp_consumed(inchan *i, uint8_t *seg);
static inline size_t dp_queued(const inchan *i) { return i->queue.n; }

/* Progress: complete sends, grant credits, receive batches and credits.
 * Returns the number of events, or MPF_EMPI with e (may be NULL) set on a
 * protocol or MPI error. The first error is kept: every later call
 * returns it until dp_fini, while still making progress, so that a
 * cancel can drain. */
int dp_poll(mpf_err *e);
/* Sends (batches and credit grants) posted but not completed. A send
 * that failed or had to be abandoned no longer counts. */
size_t dp_pending_sends(void);
/* Drop whatever arrives from now on, credit grants too, and grant no
 * more credits (used while cancelling, so that peers' sends complete and
 * everyone can leave MPI cleanly). */
void dp_set_discard(int on);
dp_stats dp_get_stats(void);
/* Per destination rank: [0, dp_npeers()) (ranks no channel goes to are
 * zero). Valid until dp_fini; the pointer stays the same until then once
 * every channel is open. */
int dp_npeers(void);
const dp_peer_stats *dp_peers(void);
/* Add the time of the credit waits still going on to credit_wait_ns (as
 * if they ended at now_ns and began again), so a snapshot also sees a
 * channel that has waited since before the last one. */
void dp_peers_flush_waits(int64_t now_ns);

void segq_push(segq *q, uint8_t *s);
uint8_t *segq_pop(segq *q);
void segq_fini(segq *q);

#endif
