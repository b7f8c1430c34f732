/* Unit tests for the credit accounting of net/channel on local channels
 * (both ends in this process, so no MPI messages move): batches beyond
 * the credit wait in the backlog, consuming returns a credit and drains
 * the backlog, END needs no credit and marks the input ended, order is
 * kept, and every segment goes back to the pool; an MPI error on a remote
 * send is reported by dp_poll. MPI is initialised once
 * (net_init calls MPI_Init_thread, net_fini MPI_Finalize) because the
 * data plane is linked against it; a single process needs no mpiexec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/channel.h"
#include "net/world.h"
#include "record/batch.h"
#include "record/segpool.h"
#include "util/clock.h"

#define SEGSIZE 4096

static uint64_t in_use(void) { return segpool_get_stats().in_use; }

/* A DATA batch holding one record: (seq: i64). */
static uint8_t *data_batch(int64_t seq)
{
    uint8_t *seg = segpool_get();
    uint8_t rec[12];
    uint32_t body = 8;
    memcpy(rec, &body, 4);
    memcpy(rec + 4, &seq, 8);
    assert_int_equal(batch_append(seg, SEGSIZE, rec, sizeof rec), 0);
    return seg;
}

static int64_t batch_seq(const uint8_t *seg)
{
    const batch_hdr *h = batch_header_c(seg);
    assert_int_equal(h->kind, BATCH_DATA);
    assert_int_equal(h->count, 1);
    const uint8_t *r = batch_first(seg);
    assert_non_null(r);
    return rd_i64(r + REC_LEN_SIZE);
}

/* Take the next batch, check it is DATA number seq on channel ch, and
 * consume it. */
static void take_data(inchan *in, int64_t seq, uint32_t ch)
{
    uint8_t *seg = dp_take(in);
    if (!seg)
        fail_msg("expected batch %lld, queue empty", (long long)seq);
    assert_int_equal(batch_header(seg)->channel, ch);
    assert_int_equal(batch_seq(seg), seq);
    dp_consumed(in, seg);
}

static int owner_tag;

typedef struct pair {
    outchan *out;
    inchan *in;
} pair;

static pair open_pair(uint32_t id)
{
    pair p;
    p.out = dp_outchan_open((chan_id){id}, 0);
    p.in = dp_inchan_open((chan_id){id}, 0, &owner_tag, 0);
    assert_non_null(p.out);
    assert_non_null(p.in);
    return p;
}

/* ----------------------------------------------------------------- tests */

static void test_credits_two(void **state)
{
    (void)state;
    uint64_t base = in_use();
    dp_init(4, 2);
    pair c = open_pair(1);
    assert_null(c.out->local);
    dp_link_locals();
    assert_ptr_equal(c.out->local, c.in);
    assert_ptr_equal(c.in->local, c.out);
    assert_ptr_equal(c.in->owner, &owner_tag);
    assert_int_equal(c.out->credits, 2);
    dp_stats st0 = dp_get_stats();

    /* Two batches go straight through, the third waits for credit. */
    dp_send(c.out, data_batch(0));
    dp_send(c.out, data_batch(1));
    assert_int_equal(dp_queued(c.in), 2);
    assert_int_equal(dp_backlog(c.out), 0);
    assert_int_equal(c.out->credits, 0);
    dp_send(c.out, data_batch(2));
    assert_int_equal(dp_queued(c.in), 2);
    assert_int_equal(dp_backlog(c.out), 1);
    assert_int_equal(c.out->credits, 0);
    assert_int_equal(in_use(), base + 3);
    assert_int_equal(dp_get_stats().credit_waits, st0.credit_waits + 1);
    assert_int_equal(dp_pending_sends(), 0); /* nothing went through MPI */

    /* Consuming one returns its credit, which moves the backlog batch. */
    uint8_t *seg = dp_take(c.in);
    assert_non_null(seg);
    assert_int_equal(batch_header(seg)->channel, 1);
    assert_int_equal(batch_seq(seg), 0);
    assert_int_equal(dp_queued(c.in), 1);
    assert_int_equal(dp_backlog(c.out), 1); /* taken is not consumed */
    dp_consumed(c.in, seg);
    assert_int_equal(dp_queued(c.in), 2);
    assert_int_equal(dp_backlog(c.out), 0);
    assert_int_equal(c.out->credits, 0);
    assert_int_equal(in_use(), base + 2);

    /* END needs no credit: it passes with zero credits. */
    dp_send_end(c.out);
    assert_true(c.out->end_sent);
    assert_int_equal(dp_backlog(c.out), 0);
    assert_int_equal(dp_queued(c.in), 3);
    assert_int_equal(c.out->credits, 0);
    assert_int_equal(in_use(), base + 3);

    take_data(c.in, 1, 1);
    assert_int_equal(c.out->credits, 1);
    take_data(c.in, 2, 1);
    assert_int_equal(c.out->credits, 2);
    assert_false(c.in->ended);

    /* Consuming END marks the input ended and returns no credit. */
    seg = dp_take(c.in);
    assert_non_null(seg);
    assert_int_equal(batch_header(seg)->kind, BATCH_END);
    assert_int_equal(batch_header(seg)->channel, 1);
    assert_int_equal(batch_header(seg)->count, 0);
    assert_false(c.in->ended);
    dp_consumed(c.in, seg);
    assert_true(c.in->ended);
    assert_int_equal(c.out->credits, 2);
    assert_null(dp_take(c.in));
    assert_int_equal(dp_queued(c.in), 0);

    dp_stats st = dp_get_stats();
    assert_int_equal(st.batches_sent - st0.batches_sent, 4);
    assert_int_equal(st.bytes_sent, st0.bytes_sent); /* local: no wire bytes */
    assert_int_equal(in_use(), base);
    mpf_err e = {0};
    assert_true(dp_poll(&e) >= 0);
    dp_fini();
    assert_int_equal(in_use(), base);
}

/* END queued behind waiting data stays behind it. */
static void test_end_keeps_order(void **state)
{
    (void)state;
    uint64_t base = in_use();
    dp_init(3, 2);
    pair c = open_pair(2);
    dp_link_locals();
    for (int i = 0; i < 4; i++)
        dp_send(c.out, data_batch(i));
    dp_send_end(c.out);
    assert_int_equal(dp_queued(c.in), 2);
    assert_int_equal(dp_backlog(c.out), 3); /* d2, d3, END */
    take_data(c.in, 0, 2);
    assert_int_equal(dp_backlog(c.out), 2);
    take_data(c.in, 1, 2);
    /* d3 took the last credit and END followed without one. */
    assert_int_equal(dp_backlog(c.out), 0);
    assert_int_equal(dp_queued(c.in), 3);
    assert_int_equal(c.out->credits, 0);
    take_data(c.in, 2, 2);
    take_data(c.in, 3, 2);
    uint8_t *seg = dp_take(c.in);
    assert_int_equal(batch_header(seg)->kind, BATCH_END);
    dp_consumed(c.in, seg);
    assert_true(c.in->ended);
    assert_int_equal(c.out->credits, 2);
    assert_int_equal(in_use(), base);
    dp_fini();
}

/* END on an idle channel with all credits in flight. */
static void test_end_without_credit(void **state)
{
    (void)state;
    uint64_t base = in_use();
    dp_init(1, 1);
    pair c = open_pair(0);
    dp_link_locals();
    dp_send(c.out, data_batch(7));
    assert_int_equal(c.out->credits, 0);
    dp_send_end(c.out);
    assert_int_equal(dp_backlog(c.out), 0);
    assert_int_equal(dp_queued(c.in), 2);
    take_data(c.in, 7, 0);
    uint8_t *seg = dp_take(c.in);
    assert_int_equal(batch_header(seg)->kind, BATCH_END);
    dp_consumed(c.in, seg);
    assert_true(c.in->ended);
    assert_int_equal(c.out->credits, 1);
    assert_int_equal(in_use(), base);
    dp_fini();
}

/* Channels have their own credits. */
static void test_channels_independent(void **state)
{
    (void)state;
    uint64_t base = in_use();
    dp_init(8, 2);
    pair a = open_pair(3), b = open_pair(6);
    outchan *lonely = dp_outchan_open((chan_id){5}, 0); /* receiver elsewhere */
    dp_link_locals();
    assert_null(lonely->local);
    for (int i = 0; i < 5; i++)
        dp_send(a.out, data_batch(i));
    assert_int_equal(dp_backlog(a.out), 3);
    dp_send(b.out, data_batch(100));
    assert_int_equal(dp_backlog(b.out), 0);
    assert_int_equal(dp_queued(b.in), 1);
    assert_int_equal(b.out->credits, 1);
    take_data(b.in, 100, 6);
    assert_int_equal(b.out->credits, 2);
    assert_int_equal(dp_backlog(a.out), 3); /* b's credit is not a's */
    for (int i = 0; i < 5; i++)
        take_data(a.in, i, 3);
    assert_int_equal(a.out->credits, 2);
    assert_int_equal(in_use(), base);
    dp_fini();
}

/* dp_fini releases what is still queued or waiting. */
static void test_fini_releases_segments(void **state)
{
    (void)state;
    uint64_t base = in_use();
    dp_init(2, 2);
    pair c = open_pair(1);
    dp_link_locals();
    for (int i = 0; i < 5; i++)
        dp_send(c.out, data_batch(i));
    dp_send_end(c.out);
    assert_int_equal(dp_queued(c.in) + dp_backlog(c.out), 6);
    assert_int_equal(in_use(), base + 6);
    assert_int_equal(dp_fini(), 0);
    assert_int_equal(in_use(), base);
}

/* credits = 1, 1000 batches, sends and consumes interleaved irregularly:
 * the queue never holds more than one batch, nothing is lost or
 * reordered, and everything in flight is accounted for. */
static void test_credit_one_pump(void **state)
{
    (void)state;
    uint64_t base = in_use();
    dp_init(1, 1);
    pair c = open_pair(0);
    dp_link_locals();
    dp_stats st0 = dp_get_stats();
    enum { N = 1000 };
    int64_t sent = 0, consumed = 0;
    uint64_t x = 12345;
    size_t max_backlog = 0;
    while (consumed < N) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int r = (int)(x >> 60); /* 0..15 */
        /* Mostly alternate; sometimes send bursts, sometimes drain. */
        int do_send = sent < N && (sent == consumed || r < 9);
        if (do_send) {
            dp_send(c.out, data_batch(sent));
            sent++;
        } else {
            take_data(c.in, consumed, 0);
            consumed++;
        }
        if (dp_queued(c.in) > 1)
            fail_msg("queue holds %zu batches with credits=1", dp_queued(c.in));
        size_t inflight = dp_queued(c.in) + dp_backlog(c.out);
        if ((int64_t)inflight > sent - consumed)
            fail_msg("backlog %zu + queue %zu > sent %lld - consumed %lld", dp_backlog(c.out),
                     dp_queued(c.in), (long long)sent, (long long)consumed);
        assert_int_equal((int64_t)inflight, sent - consumed);
        assert_int_equal(in_use(), base + (uint64_t)(sent - consumed));
        assert_true(c.out->credits == 0 || c.out->credits == 1);
        assert_int_equal(c.out->credits, 1 - (int)dp_queued(c.in));
        if (dp_backlog(c.out) > max_backlog)
            max_backlog = dp_backlog(c.out);
    }
    assert_true(max_backlog > 1); /* the pattern did build a backlog */
    dp_stats st = dp_get_stats();
    assert_int_equal(st.batches_sent - st0.batches_sent, N);
    assert_true(st.credit_waits - st0.credit_waits > 0);
    dp_send_end(c.out);
    uint8_t *seg = dp_take(c.in);
    assert_int_equal(batch_header(seg)->kind, BATCH_END);
    dp_consumed(c.in, seg);
    assert_true(c.in->ended);
    assert_int_equal(in_use(), base);
    dp_fini();
    assert_int_equal(in_use(), base);
}

/* A send MPI refuses (there is no rank 1 in a one-rank world) returns
 * its segment and fails the data plane with MPF_EMPI naming this rank,
 * the peer, the channel and MPI's reason; the error stays until dp_fini,
 * which then finds nothing pending. */
static void test_mpi_error_reported(void **state)
{
    (void)state;
    uint64_t base = in_use();
    dp_init(4, 2);
    outchan *o = dp_outchan_open((chan_id){2}, 1);
    dp_link_locals();
    assert_null(o->local);
    mpf_err e = {0};
    assert_true(dp_poll(&e) >= 0);
    dp_send(o, data_batch(0));
    assert_int_equal(in_use(), base);
    assert_int_equal(dp_pending_sends(), 0);
    assert_int_equal(dp_poll(&e), MPF_EMPI);
    assert_int_equal(e.code, MPF_EMPI);
    assert_non_null(strstr(e.msg, "rank 0: "));
    assert_non_null(strstr(e.msg, "channel 2 to rank 1"));
    assert_non_null(strstr(e.msg, "MPI_ERR_RANK"));
    mpf_err again = {0};
    assert_int_equal(dp_poll(&again), MPF_EMPI);
    assert_string_equal(again.msg, e.msg);
    assert_int_equal(dp_fini(), 0);
    dp_init(4, 2);
    assert_true(dp_poll(&e) >= 0); /* dp_fini cleared it */
    assert_int_equal(dp_fini(), 0);
    assert_int_equal(in_use(), base);
}

/* The per destination rank counters of the network matrix: one count per
 * batch (END included), its wire size, the batches that found no credit,
 * and the time a batch waited for credit -- also while the wait is still
 * going on, once flushed. */
static void test_peer_counters(void **state)
{
    (void)state;
    dp_init(4, 1);
    pair c = open_pair(2);
    dp_link_locals();
    assert_true(dp_npeers() >= 1);
    const dp_peer_stats *p = &dp_peers()[0];
    assert_int_equal(p->channels, 1);
    uint8_t *b0 = data_batch(0);
    size_t wire = batch_wire_size(b0);
    dp_send(c.out, b0);
    assert_int_equal(p->batches_sent, 1);
    assert_int_equal(p->bytes_sent, wire);
    assert_int_equal(p->credit_waits, 0);
    assert_int_equal(p->credit_wait_ns, 0);
    dp_send(c.out, data_batch(1)); /* no credit: waits */
    assert_int_equal(p->batches_sent, 1);
    assert_int_equal(p->credit_waits, 1);
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    dp_peers_flush_waits(clock_mono_ns());
    int64_t flushed = p->credit_wait_ns;
    assert_true(flushed >= 2000000);
    take_data(c.in, 0, 2); /* its credit sends the waiting batch: the wait ends */
    assert_int_equal(p->batches_sent, 2);
    assert_int_equal(p->bytes_sent, 2 * wire);
    assert_true(p->credit_wait_ns >= flushed);
    int64_t ended = p->credit_wait_ns;
    dp_peers_flush_waits(clock_mono_ns() + 1000000000); /* nothing waits now */
    assert_int_equal(p->credit_wait_ns, ended);
    take_data(c.in, 1, 2);
    dp_send_end(c.out);
    assert_int_equal(p->batches_sent, 3);
    assert_int_equal(dp_fini(), 0);
}

static void test_segq_fifo(void **state)
{
    (void)state;
    uint64_t base = in_use();
    segq q;
    memset(&q, 0, sizeof q);
    assert_null(segq_pop(&q));
    /* Wrap around the ring and grow while wrapped. */
    int64_t next_in = 0, next_out = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 3 + round % 7; i++)
            segq_push(&q, data_batch(next_in++));
        for (int i = 0; i < 2 + round % 5 && q.n; i++) {
            uint8_t *s = segq_pop(&q);
            assert_int_equal(batch_seq(s), next_out++);
            segpool_put(s);
        }
    }
    assert_int_equal(q.n, (size_t)(next_in - next_out));
    segq_fini(&q); /* returns the rest to the pool */
    assert_int_equal(q.n, 0);
    assert_null(q.v);
    assert_int_equal(in_use(), base);
}

int main(int argc, char **argv)
{
    mpf_err e = {0};
    if (net_init(&argc, &argv, &e) != 0) {
        fprintf(stderr, "net_init: %s\n", e.msg);
        return 1;
    }
    segpool_init(SEGSIZE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credits_two),
        cmocka_unit_test(test_end_keeps_order),
        cmocka_unit_test(test_end_without_credit),
        cmocka_unit_test(test_channels_independent),
        cmocka_unit_test(test_fini_releases_segments),
        cmocka_unit_test(test_credit_one_pump),
        cmocka_unit_test(test_mpi_error_reported),
        cmocka_unit_test(test_peer_counters),
        cmocka_unit_test(test_segq_fifo),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    segpool_fini();
    net_fini();
    return rc;
}
