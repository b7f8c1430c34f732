/* MPI test of net/channel between two ranks (run under `mpiexec -n 2`):
 * the data plane's MPI path that the single-process unit test cannot
 * reach. Batches carry sequence numbers, and every check compares with
 * what the test itself sent (or, for the raw messages, forged with MPI
 * directly), never with the data plane's own earlier output:
 *   - ordering across thousands of batches of mixed sizes (eager and
 *     rendezvous), in both directions at once, while the pending-send
 *     array is compacted after every MPI_Testsome;
 *   - credits: a sender stops without credit and resumes when a grant
 *     comes; consumed batches are granted back coalesced, one message per
 *     poll per channel, and the granted counts add up exactly;
 *   - malformed batches and grants are rejected with an error that names
 *     both ranks; an MPI error (a bad rank) becomes MPF_EMPI with MPI's
 *     own message;
 *   - discard mode drains a peer's sends without delivering or granting;
 *   - dp_fini finds nothing pending after each scenario (and reports a
 *     send it had to abandon).
 * A failed check prints the rank and line and aborts both ranks. This test
 * includes <mpi.h> to forge messages and synchronise, as a test of net/. */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/channel.h"
#include "net/control.h"
#include "net/net_internal.h"
#include "net/world.h"
#include "record/batch.h"
#include "record/segpool.h"

#define SEGSIZE 32768

static int rank;

#define CHECK(cond, ...)                                                             \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "rank %d: %s:%d: check failed: %s: ", rank, __FILE__,    \
                    __LINE__, #cond);                                                \
            fprintf(stderr, __VA_ARGS__);                                            \
            fprintf(stderr, "\n");                                                   \
            MPI_Abort(MPI_COMM_WORLD, 1);                                            \
        }                                                                            \
    } while (0)

static uint64_t in_use(void) { return segpool_get_stats().in_use; }
static void barrier(void) { CHECK(MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS, "barrier"); }

/* A DATA batch of nrec records (seq: i64, then pad filler bytes), with
 * sequence numbers first, first+1, ... */
static uint8_t *make_batch(int64_t first, int nrec, uint32_t pad)
{
    uint8_t *seg = segpool_get();
    uint8_t rec[4 + 8 + 4096];
    CHECK(pad <= 4096, "pad %u", pad);
    for (int k = 0; k < nrec; k++) {
        uint32_t body = 8 + pad;
        int64_t seq = first + k;
        memcpy(rec, &body, 4);
        memcpy(rec + 4, &seq, 8);
        memset(rec + 12, (int)(seq & 0xff), pad);
        CHECK(batch_append(seg, SEGSIZE, rec, 4 + body) == 0, "record %d does not fit", k);
    }
    return seg;
}

/* Check a DATA batch's records continue the sequence at *next. */
static void check_batch(const uint8_t *seg, int64_t *next)
{
    const batch_hdr *h = batch_header_c(seg);
    CHECK(h->kind == BATCH_DATA, "kind %u", h->kind);
    CHECK(h->count > 0, "empty batch");
    uint32_t n = 0;
    for (const uint8_t *r = batch_first(seg); r; r = batch_next(seg, r), n++) {
        int64_t seq = rd_i64(r + REC_LEN_SIZE);
        CHECK(seq == *next, "record %lld where %lld was expected", (long long)seq,
              (long long)*next);
        uint32_t pad = rd_u32(r) - 8;
        for (uint32_t b = 0; b < pad; b++)
            CHECK(r[12 + b] == (uint8_t)(seq & 0xff), "filler of record %lld", (long long)seq);
        (*next)++;
    }
    CHECK(n == h->count, "%u records, header says %u", n, h->count);
}

/* Poll the data plane until cond holds; fail after 20 s. */
#define POLL_UNTIL(cond)                                                             \
    do {                                                                             \
        double t0_ = MPI_Wtime();                                                    \
        int64_t b_ = 0;                                                              \
        mpf_err e_ = {0};                                                            \
        while (!(cond)) {                                                            \
            int p_ = dp_poll(&e_);                                                   \
            CHECK(p_ >= 0, "dp_poll: %s", e_.msg);                                   \
            CHECK(MPI_Wtime() - t0_ < 20, "timed out waiting for %s", #cond);        \
            if (!p_)                                                                 \
                idle_backoff(&b_, 200000);                                           \
            else                                                                     \
                b_ = 0;                                                              \
        }                                                                            \
    } while (0)

/* Poll for about `sec` seconds, failing on an error. */
static void poll_for(double sec)
{
    double t0 = MPI_Wtime();
    mpf_err e = {0};
    int64_t b = 0;
    while (MPI_Wtime() - t0 < sec) {
        CHECK(dp_poll(&e) >= 0, "dp_poll: %s", e.msg);
        idle_backoff(&b, 200000);
    }
}

/* End a scenario: nothing pending on either rank, dp_fini reports
 * nothing, every segment is back, and a fresh data communicator. */
static void finish(uint64_t base)
{
    barrier();
    POLL_UNTIL(dp_pending_sends() == 0);
    barrier();
    int lost = dp_fini();
    CHECK(lost == 0, "dp_fini: %d request(s) could not complete", lost);
    CHECK(in_use() == base, "%llu segments in use, %llu before",
          (unsigned long long)in_use(), (unsigned long long)base);
    mpf_err e = {0};
    CHECK(net_data_reset(&e) == 0, "net_data_reset: %s", e.msg);
}

static uint64_t rng = 88172645463325252ULL;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Both ranks send N batches to each other (channel 0: 0 -> 1, channel 1:
 * 1 -> 0) of mixed sizes and consume at an irregular pace, several at a
 * time between polls so that grants coalesce. Checks order and content,
 * that every credit comes back exactly, and that the granted counts add up
 * to the batches consumed in fewer messages than batches. */
static void test_both_ways(void)
{
    enum { N = 3000, CREDITS = 8 };
    uint64_t base = in_use();
    dp_init(2, CREDITS);
    int peer = 1 - rank;
    outchan *out = dp_outchan_open((chan_id){(uint32_t)rank}, peer);
    inchan *in = dp_inchan_open((chan_id){(uint32_t)peer}, peer, NULL, 0);
    dp_link_locals();
    CHECK(!out->local && !in->local, "channels are remote");
    dp_stats st0 = dp_get_stats();
    rng += (uint64_t)rank * 7919;
    int64_t sent_seq = 0, recv_seq = 0;
    int batches_sent = 0, consumed = 0;
    size_t max_pending = 0;
    mpf_err e = {0};
    double t0 = MPI_Wtime();
    int64_t b = 0;
    while (!in->ended || batches_sent < N) {
        CHECK(MPI_Wtime() - t0 < 60, "both-ways exchange timed out (sent %d, consumed %d)",
              batches_sent, consumed);
        int progress = dp_poll(&e);
        CHECK(progress >= 0, "dp_poll: %s", e.msg);
        /* Fill while no backlog, like a task that is not scheduled while
         * its channel has one. */
        if (batches_sent < N && dp_backlog(out) == 0) {
            int nrec = 1 + (int)(next_rand() % 6);
            /* Mostly small (eager) batches, some of several KiB
             * (rendezvous), so sends complete out of order. */
            uint32_t pad = next_rand() % 4 == 0 ? 3000 + next_rand() % 1000 : next_rand() % 64;
            dp_send(out, make_batch(sent_seq, nrec, pad));
            sent_seq += nrec;
            if (++batches_sent == N)
                dp_send_end(out);
            progress++;
        }
        size_t p = dp_pending_sends();
        if (p > max_pending)
            max_pending = p;
        /* Consume 0..4 of what arrived before the next poll. */
        int take = (int)(next_rand() % 5);
        for (int k = 0; k < take && dp_queued(in); k++) {
            uint8_t *seg = dp_take(in);
            if (batch_header(seg)->kind == BATCH_END) {
                CHECK(consumed == N, "END after %d batches", consumed);
            } else {
                CHECK(batch_header(seg)->channel == (uint32_t)peer, "channel %u",
                      batch_header(seg)->channel);
                check_batch(seg, &recv_seq);
                consumed++;
            }
            dp_consumed(in, seg);
            progress++;
        }
        CHECK(dp_queued(in) <= CREDITS + 1, "%zu batches queued with %d credits",
              dp_queued(in), CREDITS);
        if (!progress)
            idle_backoff(&b, 100000);
        else
            b = 0;
    }
    CHECK(consumed == N, "consumed %d", consumed);
    /* The peer's last grants arrive after it saw our END. */
    POLL_UNTIL(out->credits == CREDITS && dp_backlog(out) == 0);
    dp_poll(&e); /* flush our own last grant */
    dp_stats st = dp_get_stats();
    CHECK(st.batches_sent - st0.batches_sent == N + 1, "%llu batches sent",
          (unsigned long long)(st.batches_sent - st0.batches_sent));
    CHECK(st.batches_received - st0.batches_received == N + 1, "%llu batches received",
          (unsigned long long)(st.batches_received - st0.batches_received));
    CHECK(st.credits_received - st0.credits_received == N, "%llu credits came back for %d",
          (unsigned long long)(st.credits_received - st0.credits_received), N);
    CHECK(st.credits_granted - st0.credits_granted == N, "%llu credits granted for %d",
          (unsigned long long)(st.credits_granted - st0.credits_granted), N);
    uint64_t grants = st.grants_sent - st0.grants_sent;
    CHECK(grants < N, "%llu grant messages for %d batches: not coalesced",
          (unsigned long long)grants, N);
    CHECK(max_pending > 1, "at most %zu sends were pending at once", max_pending);
    printf("rank %d: both ways: %d batches, %lld records each way; %llu grants, at most %zu "
           "sends pending\n", rank, N, (long long)recv_seq, (unsigned long long)grants,
           max_pending);
    finish(base);
}

/* Rank 0 sends bursts of mixed-size batches to rank 1, which consumes in
 * irregular bursts. On rank 0 every segment is in the backlog or in a
 * pending send, so in_use = base + backlog + pending at every step: a
 * compaction that lost or duplicated a slot breaks it. */
static void test_compaction(void)
{
    enum { N = 4000, CREDITS = 32 };
    uint64_t base = in_use();
    dp_init(1, CREDITS);
    mpf_err e = {0};
    if (rank == 0) {
        outchan *out = dp_outchan_open((chan_id){0}, 1);
        int64_t seq = 0;
        size_t max_pending = 0;
        for (int i = 0; i < N; i++) {
            int nrec = 1 + (int)(next_rand() % 4);
            uint32_t pad = i % 3 == 0 ? 4000 : next_rand() % 100;
            dp_send(out, make_batch(seq, nrec, pad));
            seq += nrec;
            if (i % 7 == 0) {
                CHECK(dp_poll(&e) >= 0, "dp_poll: %s", e.msg);
            }
            size_t p = dp_pending_sends();
            if (p > max_pending)
                max_pending = p;
            CHECK(in_use() == base + dp_backlog(out) + p,
                  "in use %llu != base %llu + backlog %zu + pending %zu",
                  (unsigned long long)in_use(), (unsigned long long)base, dp_backlog(out), p);
            CHECK((int)p <= CREDITS, "%zu sends pending with %d credits", p, CREDITS);
            if (dp_backlog(out) >= 4)
                POLL_UNTIL(dp_backlog(out) == 0);
        }
        dp_send_end(out);
        POLL_UNTIL(dp_backlog(out) == 0 && dp_pending_sends() == 0);
        CHECK(in_use() == base, "segments left after all sends completed");
        CHECK(max_pending >= 2, "at most %zu sends were pending at once", max_pending);
        printf("rank 0: compaction: %d batches, at most %zu sends pending\n", N, max_pending);
    } else {
        inchan *in = dp_inchan_open((chan_id){0}, 0, NULL, 0);
        int64_t next = 0;
        int64_t b = 0;
        double t0 = MPI_Wtime();
        while (!in->ended) {
            CHECK(MPI_Wtime() - t0 < 60, "timed out at record %lld", (long long)next);
            int progress = dp_poll(&e);
            CHECK(progress >= 0, "dp_poll: %s", e.msg);
            int take = next_rand() % 8 == 0 ? 0 : 1 + (int)(next_rand() % 16);
            for (int k = 0; k < take && dp_queued(in); k++) {
                uint8_t *seg = dp_take(in);
                if (batch_header(seg)->kind != BATCH_END)
                    check_batch(seg, &next);
                dp_consumed(in, seg);
                progress++;
            }
            if (!progress)
                idle_backoff(&b, 100000);
        }
    }
    finish(base);
}

/* Credits = 3: rank 0 queues 10 batches; 3 go, 7 wait. Rank 1 holds the
 * 3 and nothing more comes; it consumes 2 and polls once: one grant of
 * exactly 2, which lets exactly 2 more go. Then everything flows to END. */
static void test_credit_blocks_and_resumes(void)
{
    enum { CREDITS = 3, N = 10 };
    uint64_t base = in_use();
    dp_init(1, CREDITS);
    mpf_err e = {0};
    outchan *out = NULL;
    inchan *in = NULL;
    dp_stats st0 = dp_get_stats();
    if (rank == 0) {
        out = dp_outchan_open((chan_id){0}, 1);
        for (int i = 0; i < N; i++)
            dp_send(out, make_batch(i, 1, 0));
        CHECK(dp_backlog(out) == N - CREDITS, "backlog %zu", dp_backlog(out));
        CHECK(out->credits == 0, "credits %d", out->credits);
        CHECK(dp_get_stats().credit_waits - st0.credit_waits == N - CREDITS, "credit waits");
    } else {
        in = dp_inchan_open((chan_id){0}, 0, NULL, 0);
        POLL_UNTIL(dp_queued(in) == CREDITS);
        poll_for(0.2);
        CHECK(dp_queued(in) == CREDITS, "%zu queued: the sender sent without credit",
              dp_queued(in));
    }
    barrier();
    if (rank == 0) {
        poll_for(0.1);
        CHECK(dp_backlog(out) == N - CREDITS && out->credits == 0,
              "backlog %zu, credits %d without any grant", dp_backlog(out), out->credits);
    }
    barrier();
    int64_t next = 0;
    if (rank == 1) {
        for (int k = 0; k < 2; k++) {
            uint8_t *seg = dp_take(in);
            check_batch(seg, &next);
            dp_consumed(in, seg);
        }
        CHECK(dp_get_stats().grants_sent == st0.grants_sent, "granted before the poll");
        CHECK(dp_poll(&e) >= 0, "dp_poll: %s", e.msg);
        dp_stats st = dp_get_stats();
        CHECK(st.grants_sent - st0.grants_sent == 1, "%llu grants for 2 consumed batches",
              (unsigned long long)(st.grants_sent - st0.grants_sent));
        CHECK(st.credits_granted - st0.credits_granted == 2, "granted %llu",
              (unsigned long long)(st.credits_granted - st0.credits_granted));
    }
    barrier();
    if (rank == 0) {
        POLL_UNTIL(dp_get_stats().credits_received - st0.credits_received > 0);
        poll_for(0.05);
        CHECK(dp_get_stats().credits_received - st0.credits_received == 2,
              "%llu credits came back for 2 batches",
              (unsigned long long)(dp_get_stats().credits_received - st0.credits_received));
        CHECK(dp_backlog(out) == N - CREDITS - 2, "backlog %zu after a grant of 2",
              dp_backlog(out));
        CHECK(out->credits == 0, "credits %d", out->credits);
    }
    barrier();
    if (rank == 0) {
        dp_send_end(out);
        POLL_UNTIL(dp_backlog(out) == 0 && out->credits == CREDITS);
    } else {
        while (!in->ended) {
            POLL_UNTIL(dp_queued(in) > 0);
            uint8_t *seg = dp_take(in);
            if (batch_header(seg)->kind != BATCH_END)
                check_batch(seg, &next);
            else
                CHECK(next == N, "END after %lld batches", (long long)next);
            dp_consumed(in, seg);
        }
        poll_for(0.01); /* send the last grant */
    }
    finish(base);
}

/* Forge one bad message from rank 0; rank 1's dp_poll must fail with an
 * error naming both ranks and containing `what`, and keep failing. */
typedef struct bad_msg {
    const char *name;
    int tag;
    uint32_t channel, used, kind;
    int bytes;       /* message length */
    int valid_first; /* valid DATA batches on channel 1 before it */
    int self;        /* sent by rank 1 to itself instead */
    const char *what;
} bad_msg;

static void send_raw(int dst, int tag, const void *buf, int bytes)
{
    MPI_Request req;
    CHECK(MPI_Isend(buf, bytes, MPI_BYTE, dst, tag, net_data_comm, &req) == MPI_SUCCESS,
          "raw send");
    int64_t b = 0;
    for (int done = 0; !done;) {
        CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS, "raw send test");
        if (!done)
            idle_backoff(&b, 200000);
    }
}

static void forge(const bad_msg *m, int dst)
{
    uint8_t *buf = calloc(1, (size_t)m->bytes + 16);
    if (m->tag == TAG_BATCH && m->bytes >= (int)BATCH_HDR_SIZE) {
        batch_hdr h = {m->channel, 1, m->used, (uint16_t)m->kind, 0};
        memcpy(buf, &h, sizeof h);
    } else if (m->tag == TAG_CREDIT && m->bytes >= 8) {
        uint32_t g[2] = {m->channel, m->used};
        memcpy(buf, g, sizeof g);
    }
    send_raw(dst, m->tag, buf, m->bytes);
    free(buf);
}

static void test_malformed(void)
{
    enum { CREDITS = 2 };
    const int hdr = (int)BATCH_HDR_SIZE;
    const bad_msg cases[] = {
        {"length", TAG_BATCH, 1, 100, BATCH_DATA, hdr + 50, 0, 0,
         "header says 100 payload bytes, the message has 50"},
        {"short", TAG_BATCH, 1, 0, BATCH_DATA, 8, 0, 0, "8 bytes, shorter than a batch header"},
        {"too long", TAG_BATCH, 1, SEGSIZE, BATCH_DATA, SEGSIZE + hdr, 0, 0,
         "does not fit a 32768-byte segment"},
        {"channel", TAG_BATCH, 7, 0, BATCH_DATA, hdr, 0, 0, "channel 7 is not one it writes"},
        {"their own channel", TAG_BATCH, 2, 0, BATCH_DATA, hdr, 0, 0,
         "channel 2 is not one it writes"},
        {"kind", TAG_BATCH, 1, 0, 9, hdr, 0, 0, "unknown kind 9"},
        {"beyond credit", TAG_BATCH, 1, 0, BATCH_DATA, hdr, CREDITS, 0,
         "more than its 2 credit(s)"},
        {"after END", TAG_BATCH, 1, 0, BATCH_DATA, hdr, -1, 0, "follows end-of-partition"},
        {"wrong rank", TAG_BATCH, 1, 0, BATCH_DATA, hdr, 0, 1, "channel 1 is not one it writes"},
        {"grant size", TAG_CREDIT, 2, 1, 0, 12, 0, 0, "malformed credit grant from rank 0: 12"},
        {"grant channel", TAG_CREDIT, 5, 1, 0, 8, 0, 0,
         "credit grant for channel 5 from rank 0"},
        {"grant too many", TAG_CREDIT, 2, 1, 0, 8, 0, 0,
         "rank 0 granted 1 credit(s) on channel 2, but 0 batch(es) are outstanding"},
        {"tag", 77, 0, 0, 0, 8, 0, 0, "unknown tag 77"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const bad_msg *m = &cases[c];
        uint64_t base = in_use();
        dp_init(8, CREDITS);
        if (rank == 1) {
            dp_inchan_open((chan_id){1}, 0, NULL, 0);
            dp_outchan_open((chan_id){2}, 0);
        }
        barrier();
        if (rank == 0 && !m->self) {
            int nvalid = m->valid_first < 0 ? 0 : m->valid_first;
            for (int k = 0; k < nvalid; k++) {
                uint8_t *seg = make_batch(k, 1, 0);
                batch_header(seg)->channel = 1;
                send_raw(1, TAG_BATCH, seg, (int)batch_wire_size(seg));
                segpool_put(seg);
            }
            if (m->valid_first < 0) {
                uint8_t *seg = segpool_get();
                batch_reset(seg, BATCH_END);
                batch_header(seg)->channel = 1;
                send_raw(1, TAG_BATCH, seg, (int)batch_wire_size(seg));
                segpool_put(seg);
            }
            forge(m, 1);
        }
        if (rank == 1) {
            if (m->self)
                forge(m, 1);
            mpf_err e = {0};
            double t0 = MPI_Wtime();
            int rc;
            while ((rc = dp_poll(&e)) >= 0)
                CHECK(MPI_Wtime() - t0 < 20, "case '%s': no error", m->name);
            CHECK(rc == MPF_EMPI && e.code == MPF_EMPI, "case '%s': rc %d", m->name, rc);
            CHECK(strncmp(e.msg, "rank 1: ", 8) == 0, "case '%s': '%s' does not name this rank",
                  m->name, e.msg);
            const char *peer = m->self ? "rank 1" : "rank 0";
            CHECK(strstr(e.msg + 8, peer), "case '%s': '%s' does not name the peer", m->name,
                  e.msg);
            CHECK(strstr(e.msg, m->what), "case '%s': '%s' lacks '%s'", m->name, e.msg, m->what);
            mpf_err e2 = {0};
            CHECK(dp_poll(&e2) == MPF_EMPI && strcmp(e2.msg, e.msg) == 0,
                  "case '%s': the error was not kept", m->name);
            printf("rank 1: malformed %-17s -> %s\n", m->name, e.msg);
        }
        finish(base);
    }
}

/* An MPI error becomes MPF_EMPI naming both ranks, the channel and MPI's
 * reason; the segment MPI did not take goes back to the pool. */
static void test_mpi_error(void)
{
    uint64_t base = in_use();
    dp_init(4, 2);
    outchan *o = dp_outchan_open((chan_id){3}, 5); /* there is no rank 5 */
    dp_send(o, make_batch(0, 1, 0));
    CHECK(in_use() == base, "the unsent segment is not back");
    mpf_err e = {0};
    CHECK(dp_poll(&e) == MPF_EMPI, "no error for a send to rank 5");
    char want[32];
    snprintf(want, sizeof want, "rank %d: ", rank);
    CHECK(strncmp(e.msg, want, strlen(want)) == 0, "'%s' does not start with '%s'", e.msg, want);
    CHECK(strstr(e.msg, "channel 3 to rank 5"), "'%s'", e.msg);
    char mpimsg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(MPI_ERR_RANK, mpimsg, &len);
    CHECK(strstr(e.msg, mpimsg), "'%s' lacks MPI's '%s'", e.msg, mpimsg);
    if (rank == 0)
        printf("rank 0: MPI error -> %s\n", e.msg);
    finish(base);
}

/* Rank 1 discards: rank 0's sends (rendezvous-sized) still complete, as
 * rank 1 receives and drops them, delivering nothing and granting nothing,
 * even for a malformed one; rank 0's backlog stays. */
static void test_discard(void)
{
    enum { CREDITS = 2, N = 6 };
    uint64_t base = in_use();
    dp_init(2, CREDITS);
    dp_stats st0 = dp_get_stats();
    if (rank == 0) {
        outchan *out = dp_outchan_open((chan_id){0}, 1);
        for (int i = 0; i < N; i++)
            dp_send(out, make_batch(i * 5, 5, 4000));
        dp_send_end(out);
        CHECK(dp_pending_sends() <= CREDITS, "pending %zu", dp_pending_sends());
        bad_msg m = {"discarded", TAG_BATCH, 1, 3, BATCH_DATA, 40, 0, 0, ""};
        forge(&m, 1);
        POLL_UNTIL(dp_pending_sends() == 0);
        poll_for(0.1);
        CHECK(dp_backlog(out) == N - CREDITS + 1, "backlog %zu", dp_backlog(out));
        CHECK(out->credits == 0, "credits %d", out->credits);
    } else {
        dp_set_discard(1);
        inchan *in = dp_inchan_open((chan_id){0}, 0, NULL, 0);
        poll_for(0.3);
        dp_stats st = dp_get_stats();
        CHECK(dp_queued(in) == 0, "%zu delivered while discarding", dp_queued(in));
        CHECK(st.batches_received == st0.batches_received, "counted as received");
        CHECK(st.grants_sent == st0.grants_sent, "granted while discarding");
    }
    finish(base);
}

/* A send nobody receives: dp_fini gives up on it after its wait, cancels
 * or abandons it, and says so; rank 1 takes the message afterwards. */
static void test_fini_reports_pending(void)
{
    uint64_t base = in_use();
    dp_init(1, 2);
    int lost = 0;
    if (rank == 0) {
        outchan *out = dp_outchan_open((chan_id){0}, 1);
        dp_send(out, make_batch(0, 8, 4000)); /* rendezvous: needs the receiver */
        mpf_err e = {0};
        CHECK(dp_poll(&e) >= 0, "dp_poll: %s", e.msg);
        CHECK(dp_pending_sends() == 1, "pending %zu", dp_pending_sends());
        lost = dp_fini();
        /* Open MPI cannot cancel a posted send: it is abandoned and its
         * segment leaked; if it was cancelled the segment came back. */
        CHECK((lost == 1 && in_use() == base + 1) || (lost == 0 && in_use() == base),
              "dp_fini returned %d with %llu segments in use (base %llu)", lost,
              (unsigned long long)in_use(), (unsigned long long)base);
        printf("rank 0: dp_fini with a send pending: %d request(s) abandoned\n", lost);
    }
    CHECK(MPI_Bcast(&lost, 1, MPI_INT, 0, MPI_COMM_WORLD) == MPI_SUCCESS, "bcast");
    if (rank == 1) {
        /* Receive it (if it still exists) so that rank 0's MPI completes. */
        double t0 = MPI_Wtime();
        int flag = 0;
        MPI_Status st;
        while (lost && !flag && MPI_Wtime() - t0 < 20)
            CHECK(MPI_Iprobe(0, TAG_BATCH, net_data_comm, &flag, &st) == MPI_SUCCESS, "probe");
        CHECK(flag == lost, "probe found %d message(s), %d abandoned", flag, lost);
        if (flag) {
            uint8_t *buf = malloc(SEGSIZE);
            CHECK(MPI_Recv(buf, SEGSIZE, MPI_BYTE, 0, TAG_BATCH, net_data_comm,
                           MPI_STATUS_IGNORE) == MPI_SUCCESS, "recv");
            int64_t next = 0;
            check_batch(buf, &next);
            CHECK(next == 8, "records %lld", (long long)next);
            free(buf);
        }
        CHECK(dp_fini() == 0, "dp_fini on the idle side");
    }
    barrier();
    mpf_err e = {0};
    CHECK(net_data_reset(&e) == 0, "net_data_reset: %s", e.msg);
}

int main(int argc, char **argv)
{
    mpf_err e = {0};
    if (net_init(&argc, &argv, &e) != 0) {
        fprintf(stderr, "net_init: %s\n", e.msg);
        return 1;
    }
    rank = net_rank();
    CHECK(net_size() == 2, "run with mpiexec -n 2 (world size %d)", net_size());
    setvbuf(stdout, NULL, _IOLBF, 0);
    segpool_init(SEGSIZE);
    test_both_ways();
    test_compaction();
    test_credit_blocks_and_resumes();
    test_malformed();
    test_mpi_error();
    test_discard();
    test_fini_reports_pending();
    barrier();
    if (rank == 0)
        printf("test_channel_mpi: all passed\n");
    segpool_fini();
    net_fini();
    return 0;
}
