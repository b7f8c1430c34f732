/* `sink: kafka` (connectors layer): records to Kafka topics through
 * librdkafka, with Flink's delivery guarantees.
 *
 * none / at-least-once: records are produced as they arrive; the task's
 * `service` hook polls for delivery reports. At a barrier the at-least-once
 * sink defers its snapshot (snap_defer): the checkpoint writer's thread
 * waits, polling the producer itself, until every message produced before
 * the barrier is acknowledged, so the TaskManager acknowledges the
 * checkpoint only then, and the task loop never waits. A failed delivery
 * declines that checkpoint and fails the job, naming the topic.
 *
 * exactly-once is a write-ahead two-phase commit, because librdkafka
 * cannot take over an earlier producer's open transaction. Records
 * between two barriers form an *epoch*, kept in memory; the barrier seals
 * it with a random 128-bit token and the snapshot writes every epoch not
 * yet known to be committed into the checkpoint (union operator state).
 * When the checkpoint completes, the subtask's commit thread publishes
 * each sealed epoch in one Kafka transaction of its own transactional id
 * (<prefix>-<subtask>) together with a *progress record* (topic
 * `progress-topic`) naming the token. After a restore, each subtask fences
 * (init_transactions) every transactional id of the restored state that
 * maps to it (old index mod parallelism), reads the progress topic
 * read_committed to its end, and republishes exactly the restored epochs
 * whose token is not there. The argument is in docs/ARCHITECTURE.md,
 * "Kafka sink: exactly-once". Every message carries the headers
 * mpiflow.txn (token) and mpiflow.attempt (producer instance), so tests
 * against a broker without transaction markers can tell attempts apart. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "connectors/kafka/kafka_conf.h"
#include "connectors/kafka/kafka_encode.h"
#include "net/world.h"
#include "ops/op.h"
#include "util/bytes.h"
#include "runtime/restart.h"
#include "util/log.h"
#include "util/xmalloc.h"

enum ks_guarantee { KS_NONE, KS_AT_LEAST_ONCE, KS_EXACTLY_ONCE };

/* debug.inject-failure points (see ks_inject). */
enum ks_point {
    KP_NONE,
    KP_AFTER_SNAPSHOT,  /* barrier taken, checkpoint not complete */
    KP_AFTER_COMPLETE,  /* checkpoint complete, epoch not handed to the thread */
    KP_MID_TRANSACTION, /* half of an epoch produced (and acknowledged) */
    KP_BEFORE_COMMIT,   /* all of it and the progress record acknowledged */
    KP_AFTER_COMMIT,    /* committed, not yet recorded as committed */
    KP_DURING_RECOVERY, /* fenced and progress read; republishing */
    KP_COUNT
};
static const char *const ks_point_names[KP_COUNT] = {
    "", "after-snapshot", "after-complete", "mid-transaction", "before-commit", "after-commit",
    "during-recovery"};

typedef struct ks_cfg {
    kafka_props props;
    char *topic;    /* fixed topic, or NULL: topic_field */
    int topic_field, key_field;
    kenc enc;
    int guarantee;
    char *prefix, *progress;
    int64_t txn_timeout_ms;
    int64_t ckpt_timeout_ns; /* at-least-once: longest wait for deliveries */
    int64_t commit_wait_ns;  /* end of a bounded job: longest wait in `commit` */
    int inj_rank;
    unsigned inj_points;       /* bit per enum ks_point */
    int64_t inj_at[KP_COUNT];  /* fire at the N-th time there */
    char *inj_dir;
} ks_cfg;

/* ---------------------------------------------------------------------
 * Epochs: the records of one subtask between two barriers, as one blob
 * (integers little-endian)
 * (the checkpoint's copy too: snap_put_ref hands it over without a copy).
 *   [magic u32 "KSE1"][txidx i32][seq i64][token 16][nrec u32]
 *   [txid len u16][txid] then per record
 *   [topic len u16][topic (0: the sink's topic)][key len i32, -1 none][key]
 *   [value len u32][value]
 * ------------------------------------------------------------------- */
#define KS_EPOCH_MAGIC 0x3145534bu /* "KSE1" */
#define KS_SUB_MAGIC 0x3153534bu   /* "KSS1" */
#define KS_EH_TXIDX 4
#define KS_EH_SEQ 8
#define KS_EH_TOKEN 16
#define KS_EH_NREC 32
#define KS_EH_TXLEN 36
#define KS_EH_SIZE 38

/* Blob integers are little-endian (util/bytes.h); 16-bit ones here. */
static inline uint16_t rd_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline void wr_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put_le16(kbuf *b, uint16_t v)
{
    uint8_t x[2];
    wr_u16(x, v);
    kbuf_put(b, x, 2);
}
static void put_le32(kbuf *b, uint32_t v)
{
    uint8_t x[4];
    wr_u32(x, v);
    kbuf_put(b, x, 4);
}
static void put_le64(kbuf *b, uint64_t v)
{
    uint8_t x[8];
    wr_u64(x, v);
    kbuf_put(b, x, 8);
}

typedef struct ks_epoch {
    struct ks_epoch *next;
    atomic_int refs;
    int64_t ckpt;    /* checkpoint that sealed it in this attempt; 0: restored or the tail */
    int committable; /* under the sink's mutex */
    int restored;    /* from the restored checkpoint: recovery republishes or drops it */
    int txidx;       /* original subtask index of its transactional id */
    char *txid;
    int64_t seq;
    uint8_t token[16];
    uint32_t nrec;
    kbuf b;
} ks_epoch;

static void epoch_unref(void *p)
{
    ks_epoch *ep = p;
    if (atomic_fetch_sub(&ep->refs, 1) != 1)
        return;
    kbuf_fini(&ep->b);
    free(ep->txid);
    free(ep);
}

static ks_epoch *epoch_new(const char *txid, int txidx)
{
    ks_epoch *ep = xcalloc(1, sizeof *ep);
    atomic_init(&ep->refs, 1);
    ep->txid = xstrdup(txid);
    ep->txidx = txidx;
    uint16_t tl = (uint16_t)strlen(txid);
    uint8_t zero[KS_EH_SIZE] = {0};
    kbuf_put(&ep->b, zero, KS_EH_SIZE);
    wr_u32(ep->b.p, KS_EPOCH_MAGIC);
    wr_u32(ep->b.p + KS_EH_TXIDX, (uint32_t)txidx);
    wr_u16(ep->b.p + KS_EH_TXLEN, tl);
    kbuf_put(&ep->b, txid, tl);
    return ep;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void random_bytes(void *p, size_t n)
{
    uint8_t *q = p;
    while (n) {
        ssize_t r = getrandom(q, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) { /* no entropy source: time and pid, still unique per run */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)getpid();
            for (; n; n--, q++, x = x * 6364136223846793005ull + 1442695040888963407ull)
                *q = (uint8_t)(x >> 56);
            return;
        }
        q += r;
        n -= (size_t)r;
    }
}

/* Seal ep: its token, sequence number and record count go into the blob. */
static void epoch_seal(ks_epoch *ep, int64_t seq)
{
    random_bytes(ep->token, 16);
    ep->seq = seq;
    wr_i64(ep->b.p + KS_EH_SEQ, seq);
    memcpy(ep->b.p + KS_EH_TOKEN, ep->token, 16);
    wr_u32(ep->b.p + KS_EH_NREC, ep->nrec);
}

/* One record of an epoch blob; returns the offset after it, 0 if malformed. */
typedef struct ks_rec {
    const char *topic;
    uint16_t tlen;
    const void *key;
    int32_t klen;
    const void *val;
    uint32_t vlen;
} ks_rec;

static size_t epoch_rec(const uint8_t *b, size_t len, size_t at, ks_rec *r)
{
    if (len - at < 2)
        return 0;
    r->tlen = rd_u16(b + at);
    at += 2;
    if (len - at < (size_t)r->tlen + 4)
        return 0;
    r->topic = (const char *)b + at;
    at += r->tlen;
    r->klen = (int32_t)rd_u32(b + at);
    at += 4;
    if (r->klen < -1 || (r->klen > 0 && len - at < (size_t)r->klen))
        return 0;
    r->key = b + at;
    if (r->klen > 0)
        at += (size_t)r->klen;
    if (len - at < 4)
        return 0;
    r->vlen = rd_u32(b + at);
    at += 4;
    if (len - at < r->vlen)
        return 0;
    r->val = b + at;
    return at + r->vlen;
}

/* Parse an epoch blob's header and check its records. 0 or -1. */
static int epoch_parse(const uint8_t *b, size_t len, ks_epoch *hdr, size_t *first)
{
    uint32_t magic;
    uint16_t tl;
    if (len < KS_EH_SIZE)
        return -1;
    magic = rd_u32(b);
    hdr->txidx = (int32_t)rd_u32(b + KS_EH_TXIDX);
    hdr->seq = rd_i64(b + KS_EH_SEQ);
    memcpy(hdr->token, b + KS_EH_TOKEN, 16);
    hdr->nrec = rd_u32(b + KS_EH_NREC);
    tl = rd_u16(b + KS_EH_TXLEN);
    if (magic != KS_EPOCH_MAGIC || hdr->txidx < 0 || tl == 0 || len < KS_EH_SIZE + (size_t)tl)
        return -1;
    *first = KS_EH_SIZE + tl;
    size_t at = *first;
    ks_rec r;
    for (uint32_t i = 0; i < hdr->nrec; i++)
        if (!(at = epoch_rec(b, len, at, &r)))
            return -1;
    return at == len ? 0 : -1;
}

/* ---------------------------------------------------------------------
 * Producers and the per-subtask commit thread (exactly-once)
 * ------------------------------------------------------------------- */
typedef struct ks_producer {
    rd_kafka_t *rk;
    char *txid;
    char attempt[17]; /* hex of a random 64-bit producer-instance id */
    atomic_int failed;
    char err[400]; /* first delivery failure, written before failed is set */
} ks_producer;

typedef struct ks_known {
    int idx;
    char *txid;
} ks_known;

typedef struct ks_state ks_state;

/* The sink subtask's state (both guarantees). Fields marked (mu) are
 * shared with the commit thread or the checkpoint writer's thread. */
struct ks_state {
    const ks_cfg *cfg;
    const char *uid;
    int subtask, parallelism;
    kbuf key, val, topic; /* scratch for encoding */
    /* none / at-least-once */
    struct ks_alo *alo;
    /* exactly-once */
    char *txid;
    ks_epoch *cur;          /* records since the last barrier (task thread) */
    int64_t next_seq;
    ks_known *known;        /* every transactional id the job's state ever named */
    int nknown;
    int *recover;           /* indices into known this subtask fences after a restore */
    int nrecover;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ks_epoch *head, *tail;  /* (mu) sealed epochs not known to be committed, in order */
    int stop;               /* (mu) close: finish committable work until stop_deadline */
    int64_t stop_deadline;  /* (mu) monotonic ns */
    int failed;             /* (mu) the thread failed: err says why */
    char err[sizeof(((mpf_err *)0)->msg)]; /* (mu) */
    int recovered;          /* (mu) recovery done */
    int64_t published, republished, skipped; /* (mu) epochs, for the log */
    int logged;             /* task thread: the recovery was logged */
    int nrestored;          /* restored epochs this subtask recovers */
    int thread_started;
    pthread_t thread;
    ks_producer *own;       /* the thread's own producer (thread only) */
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* debug.inject-failure "rank=R,kafka=POINT[@N][+POINT[@N]...][,at=N]": the
 * process of rank R exits (as a crash would end it) the N-th time
 * (default at=, else 1) it reaches POINT, once per point and job run: a
 * marker file in state.checkpoints.dir remembers that it fired, so the
 * relaunched job gets past it. */
static void ks_inject(const ks_cfg *cfg, const char *uid, int point)
{
    static atomic_long hits[KP_COUNT];
    if (!(cfg->inj_points & (1u << point)) || net_rank() != cfg->inj_rank)
        return;
    if (atomic_fetch_add(&hits[point], 1) + 1 != cfg->inj_at[point])
        return;
    char *marker = xasprintf("%s/.kafka-inject-%s-%s.fired", cfg->inj_dir, uid,
                             ks_point_names[point]);
    int fd = open(marker, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0 && errno != EEXIST)
        log_warn("debug.inject-failure: operator '%s': not exiting at kafka=%s: cannot create "
                 "the marker '%s': %s", uid, ks_point_names[point], marker, strerror(errno));
    free(marker);
    if (fd < 0)
        return;
    close(fd);
    log_warn("debug.inject-failure: operator '%s': exiting at kafka=%s", uid,
             ks_point_names[point]);
    _exit(70);
}

/* The sink is closing and its grace period is over: stop waiting. */
static int ks_late(ks_state *st)
{
    pthread_mutex_lock(&st->mu);
    int late = st->stop && mono_ns() > st->stop_deadline;
    pthread_mutex_unlock(&st->mu);
    return late;
}

static void producer_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    ks_producer *p = opaque;
    if (!m->err || atomic_load(&p->failed))
        return;
    snprintf(p->err, sizeof p->err, "delivery to topic '%s' partition %d failed: %s",
             rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err));
    atomic_store(&p->failed, 1);
}

static void producer_destroy(ks_producer *p)
{
    if (!p)
        return;
    if (p->rk)
        rd_kafka_destroy(p->rk);
    free(p->txid);
    free(p);
}

/* Learn the leaders of the sink's topic and the progress topic before
 * the first transaction needs them (the first epoch otherwise waits a
 * metadata round per topic inside its transaction). Errors do not
 * matter here: the transaction reports them. */
static void warm_metadata(const ks_cfg *cfg, rd_kafka_t *rk)
{
    const char *topics[2] = {cfg->topic, cfg->progress};
    for (int i = 0; i < 2; i++) {
        if (!topics[i])
            continue;
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topics[i], NULL);
        const rd_kafka_metadata_t *md = NULL;
        if (t && !rd_kafka_metadata(rk, 0, t, &md, 5000))
            rd_kafka_metadata_destroy(md);
        if (t)
            rd_kafka_topic_destroy(t);
    }
}

/* A transactional producer for txid, with its transactions initialised
 * (on a real broker that fences earlier instances and aborts their open
 * transaction). Retries retriable errors until deadline. */
static ks_producer *producer_open_txn(ks_state *st, const char *txid, int64_t deadline,
                                      mpf_err *e)
{
    const ks_cfg *cfg = st->cfg;
    ks_producer *p = xcalloc(1, sizeof *p);
    p->txid = xstrdup(txid);
    uint64_t a;
    random_bytes(&a, sizeof a);
    hex((const uint8_t *)&a, 8, p->attempt);
    char tmo[32];
    snprintf(tmo, sizeof tmo, "%" PRId64, cfg->txn_timeout_ms);
    const char *extra[] = {"transactional.id", txid, "enable.idempotence", "true",
                           "transaction.timeout.ms", tmo, NULL};
    rd_kafka_conf_t *c = kafka_conf_build(&cfg->props, extra, e);
    if (!c)
        goto fail;
    rd_kafka_conf_set_opaque(c, p);
    rd_kafka_conf_set_dr_msg_cb(c, producer_dr);
    char errstr[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof errstr);
    if (!p->rk) {
        rd_kafka_conf_destroy(c);
        err_set(e, MPF_EIO, "operator '%s': transactional producer '%s': %s", st->uid, txid,
                errstr);
        goto fail;
    }
    for (;;) {
        rd_kafka_error_t *er = rd_kafka_init_transactions(p->rk, 2000);
        if (!er) {
            warm_metadata(cfg, p->rk);
            return p;
        }
        int retry = rd_kafka_error_is_retriable(er) && mono_ns() < deadline && !ks_late(st);
        if (!retry) {
            rd_kafka_resp_err_t code = rd_kafka_error_code(er);
            err_set(e, MPF_EIO, "operator '%s': initialising transactions of '%s' at %s: "
                    "%s%s", st->uid, txid, cfg->props.bootstrap, rd_kafka_error_string(er),
                    code == RD_KAFKA_RESP_ERR_INVALID_TRANSACTION_TIMEOUT
                        ? " (transaction.timeout.ms is above the broker's "
                          "transaction.max.timeout.ms; lower it under properties:)" : "");
            rd_kafka_error_destroy(er);
            goto fail;
        }
        rd_kafka_error_destroy(er);
    }
fail:
    producer_destroy(p);
    return NULL;
}

/* Serve delivery reports until everything produced is acknowledged.
 * 0; 1 when the sink is closing and its deadline passed; -1 with e set on
 * a delivery failure. */
static int producer_drain(ks_state *st, ks_producer *p, mpf_err *e)
{
    while (rd_kafka_outq_len(p->rk) > 0) {
        rd_kafka_flush(p->rk, 100);
        if (atomic_load(&p->failed))
            return err_set(e, MPF_EIO, "operator '%s': %s", st->uid, p->err), -1;
        if (ks_late(st))
            return 1;
    }
    return atomic_load(&p->failed) ? (err_set(e, MPF_EIO, "operator '%s': %s", st->uid, p->err), -1)
                                   : 0;
}

static int produce_one(ks_state *st, ks_producer *p, const char *topic, const ks_rec *r,
                       const char *tokhex, mpf_err *e)
{
    const void *key = r->klen >= 0 ? r->key : NULL;
    size_t klen = r->klen > 0 ? (size_t)r->klen : 0;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, klen),
            RD_KAFKA_V_VALUE((void *)r->val, r->vlen),
            RD_KAFKA_V_HEADER("mpiflow.txn", tokhex, 32),
            RD_KAFKA_V_HEADER("mpiflow.attempt", p->attempt, 16), RD_KAFKA_V_END);
        if (!err)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return err_set(e, MPF_EIO, "operator '%s': producing to topic '%s': %s", st->uid,
                           topic, rd_kafka_err2str(err));
        rd_kafka_poll(p->rk, 50);
        if (ks_late(st))
            return 1;
    }
}

/* Publish epoch ep with producer p in one transaction: its records, then
 * (once they are acknowledged) the progress record, then the commit.
 * Acknowledging the data before producing the progress record costs one
 * round trip and keeps the test broker (no transaction markers) honest:
 * it never shows an attempt's progress record without all its data.
 * 0 committed; 1 interrupted by close (aborted); <0 failed (e set). */
static int publish(ks_state *st, ks_producer *p, ks_epoch *ep, int recovering, mpf_err *e)
{
    const ks_cfg *cfg = st->cfg;
    char tok[33];
    hex(ep->token, 16, tok);
    rd_kafka_error_t *er = rd_kafka_begin_transaction(p->rk);
    if (er) {
        err_set(e, MPF_EIO, "operator '%s': beginning a transaction of '%s': %s", st->uid,
                p->txid, rd_kafka_error_string(er));
        rd_kafka_error_destroy(er);
        return -1;
    }
    int rc = 0;
    size_t at = KS_EH_SIZE + strlen(ep->txid);
    char topic[65536];
    ks_rec r;
    uint32_t half = ep->nrec / 2;
    for (uint32_t i = 0; i < ep->nrec && !rc; i++) {
        at = epoch_rec(ep->b.p, ep->b.len, at, &r);
        if (r.tlen) {
            memcpy(topic, r.topic, r.tlen);
            topic[r.tlen] = '\0';
        }
        rc = produce_one(st, p, r.tlen ? topic : cfg->topic, &r, tok, e);
        int point = recovering ? KP_DURING_RECOVERY : KP_MID_TRANSACTION;
        if (!rc && i + 1 == half && (cfg->inj_points & (1u << point)) &&
            !(rc = producer_drain(st, p, e)))
            ks_inject(cfg, st->uid, point);
    }
    if (!rc)
        rc = producer_drain(st, p, e);
    if (!rc) {
        char *prog = xasprintf("mpiflow-progress 1 token=%s attempt=%s txid=%s seq=%" PRId64
                               " records=%u", tok, p->attempt, p->txid, ep->seq, ep->nrec);
        ks_rec pr = {.klen = (int32_t)strlen(p->txid), .key = p->txid, .val = prog,
                     .vlen = (uint32_t)strlen(prog)};
        rc = produce_one(st, p, cfg->progress, &pr, tok, e);
        free(prog);
        if (!rc)
            rc = producer_drain(st, p, e);
    }
    if (!rc)
        ks_inject(cfg, st->uid, KP_BEFORE_COMMIT);
    while (!rc) {
        er = rd_kafka_commit_transaction(p->rk, 2000); /* slices: close may interrupt */
        if (!er)
            break;
        if (rd_kafka_error_is_retriable(er)) {
            rd_kafka_error_destroy(er);
            if (ks_late(st))
                rc = 1;
            continue;
        }
        rc = err_set(e, MPF_EIO, "operator '%s': committing the transaction of '%s' (epoch %s, "
                     "%u records): %s", st->uid, p->txid, tok, ep->nrec,
                     rd_kafka_error_string(er));
        rd_kafka_error_destroy(er);
    }
    if (rc) {
        /* Nothing of it may linger: abort (a fatal error leaves that to
         * the fencing of the next attempt). */
        er = rd_kafka_abort_transaction(p->rk, 5000);
        if (er)
            rd_kafka_error_destroy(er);
        return rc;
    }
    ks_inject(cfg, st->uid, KP_AFTER_COMMIT);
    return 0;
}

/* Committed tokens read from the progress topic, sorted. */
typedef struct tokset {
    uint8_t (*t)[16];
    size_t n, cap;
} tokset;

static int tok_cmp(const void *a, const void *b) { return memcmp(a, b, 16); }

static int unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0)
                return -1;
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* Read the progress topic, read_committed, from its beginning up to the
 * end it had when we started (every partition's high watermark then):
 * our own transactional ids were fenced before, so nothing of theirs is
 * still open, and waiting for the last stable offset to pass that end
 * guarantees every transaction of theirs that committed is seen, even
 * while another id's transaction holds the stable offset back. */
static int progress_read(ks_state *st, tokset *ts, mpf_err *e)
{
    const ks_cfg *cfg = st->cfg;
    const char *ex_c[] = {"isolation.level", "read_committed", "enable.partition.eof", "true",
                          "enable.auto.commit", "false", "group.id", "mpiflow-progress-reader",
                          NULL};
    const char *ex_u[] = {"isolation.level", "read_uncommitted", "group.id",
                          "mpiflow-progress-reader", NULL};
    char errstr[512];
    rd_kafka_t *rc_ = NULL, *ru = NULL;
    rd_kafka_topic_partition_list_t *tp = NULL;
    int64_t *hi = NULL;
    int *done = NULL, rc = 0;
    rd_kafka_conf_t *c = kafka_conf_build(&cfg->props, ex_c, e);
    if (!c)
        return e->code;
    if (!(rc_ = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(c);
        return err_set(e, MPF_EIO, "operator '%s': progress reader: %s", st->uid, errstr);
    }
    if (!(c = kafka_conf_build(&cfg->props, ex_u, e))) {
        rc = e->code;
        goto out;
    }
    if (!(ru = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(c);
        rc = err_set(e, MPF_EIO, "operator '%s': progress reader: %s", st->uid, errstr);
        goto out;
    }
    int64_t deadline = mono_ns() + (cfg->txn_timeout_ms + 60000) * 1000000;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(ru, cfg->progress, NULL);
    rd_kafka_resp_err_t err;
    for (;;) {
        err = rd_kafka_metadata(ru, 0, rkt, &md, 5000);
        if (!err && md->topic_cnt == 1 && md->topics[0].err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
            break;
        if (md)
            rd_kafka_metadata_destroy(md);
        md = NULL;
        if (mono_ns() > deadline)
            break;
        usleep(200000);
    }
    rd_kafka_topic_destroy(rkt);
    if (!md) {
        rc = err_set(e, MPF_EIO, "operator '%s': metadata of progress topic '%s': %s", st->uid,
                     cfg->progress, rd_kafka_err2str(err));
        goto out;
    }
    if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        rd_kafka_metadata_destroy(md); /* never written: nothing committed */
        goto out;
    }
    if (md->topics[0].err) {
        rc = err_set(e, MPF_EIO, "operator '%s': progress topic '%s': %s", st->uid,
                     cfg->progress, rd_kafka_err2str(md->topics[0].err));
        rd_kafka_metadata_destroy(md);
        goto out;
    }
    int np = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    hi = xcalloc((size_t)np + 1, sizeof *hi);
    done = xcalloc((size_t)np + 1, sizeof *done);
    tp = rd_kafka_topic_partition_list_new(np);
    int open = 0;
    for (int p = 0; p < np; p++) {
        int64_t lo = 0;
        for (;;) {
            err = rd_kafka_query_watermark_offsets(ru, cfg->progress, p, &lo, &hi[p], 5000);
            if (!err || mono_ns() > deadline)
                break;
            usleep(200000);
        }
        if (err) {
            rc = err_set(e, MPF_EIO, "operator '%s': offsets of progress topic '%s' partition "
                         "%d: %s", st->uid, cfg->progress, p, rd_kafka_err2str(err));
            goto out;
        }
        done[p] = hi[p] <= lo;
        if (!done[p]) {
            rd_kafka_topic_partition_list_add(tp, cfg->progress, p)->offset = lo;
            open++;
        }
    }
    if (!open)
        goto out;
    if ((err = rd_kafka_assign(rc_, tp))) {
        rc = err_set(e, MPF_EIO, "operator '%s': reading progress topic '%s': %s", st->uid,
                     cfg->progress, rd_kafka_err2str(err));
        goto out;
    }
    while (open > 0) {
        if (ks_late(st)) {
            rc = err_set(e, MPF_ECANCELED, "operator '%s': closed while reading the progress "
                         "topic", st->uid);
            goto out;
        }
        if (mono_ns() > deadline) {
            rc = err_set(e, MPF_EIO, "operator '%s': progress topic '%s' was not readable to "
                         "its end within transaction.timeout.ms + 60 s (a transaction left "
                         "open by a transactional id this job no longer knows?)", st->uid,
                         cfg->progress);
            goto out;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rc_, 200);
        if (!m) {
            /* Past the end without a new end-of-partition event (the
             * stable offset moved over control records only)? */
            if (!rd_kafka_position(rc_, tp))
                for (int i = 0; i < tp->cnt; i++) {
                    int p = tp->elems[i].partition;
                    if (!done[p] && tp->elems[i].offset >= hi[p])
                        done[p] = 1, open--;
                }
            continue;
        }
        int p = m->partition;
        if (p >= 0 && p < np && !done[p]) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (m->offset >= hi[p])
                    done[p] = 1, open--;
            } else if (m->err) {
                rc = err_set(e, MPF_EIO, "operator '%s': reading progress topic '%s' "
                             "partition %d: %s", st->uid, cfg->progress, p,
                             rd_kafka_message_errstr(m));
            } else {
                const char *v = m->payload, *t;
                char line[256];
                size_t n = m->len < sizeof line - 1 ? m->len : sizeof line - 1;
                memcpy(line, v ? v : "", v ? n : 0);
                line[v ? n : 0] = '\0';
                if (strncmp(line, "mpiflow-progress ", 17) == 0 && (t = strstr(line, " token=")) &&
                    strlen(t + 7) >= 32) {
                    if (ts->n == ts->cap) {
                        ts->cap = ts->cap ? ts->cap * 2 : 256;
                        ts->t = xrealloc(ts->t, ts->cap * 16);
                    }
                    if (unhex(t + 7, ts->t[ts->n], 16) == 0)
                        ts->n++;
                }
                if (m->offset + 1 >= hi[p])
                    done[p] = 1, open--;
            }
        }
        rd_kafka_message_destroy(m);
        if (rc)
            goto out;
    }
    qsort(ts->t, ts->n, 16, tok_cmp);
out:
    if (tp)
        rd_kafka_topic_partition_list_destroy(tp);
    free(hi);
    free(done);
    if (rc_) {
        rd_kafka_assign(rc_, NULL);
        rd_kafka_destroy(rc_);
    }
    if (ru)
        rd_kafka_destroy(ru);
    return rc;
}

/* Recovery after a restore: fence every transactional id this subtask
 * recovers (its own last, and always), read which tokens committed, and
 * republish the restored epochs that did not, in order, each with the
 * producer of its own transactional id. 0 when every restored epoch is
 * decided; 1 when the sink closed first; <0 failed (e set). */
static int recover(ks_state *st, mpf_err *e)
{
    const ks_cfg *cfg = st->cfg;
    int64_t deadline = mono_ns() + (cfg->txn_timeout_ms + 60000) * 1000000;
    int n = st->nrecover;
    ks_producer **pr = xcalloc((size_t)n + 1, sizeof *pr);
    int rc = 0, own_at = -1;
    for (int i = 0; i < n && !rc; i++) {
        const ks_known *k = &st->known[st->recover[i]];
        if (strcmp(k->txid, st->txid) == 0) {
            own_at = i;
            continue;
        }
        if (!(pr[i] = producer_open_txn(st, k->txid, deadline, e)))
            rc = e->code;
    }
    if (!rc && !(st->own = producer_open_txn(st, st->txid, deadline, e)))
        rc = e->code;
    if (own_at >= 0)
        pr[own_at] = st->own;
    pthread_mutex_lock(&st->mu);
    int pending = st->head && st->head->restored;
    pthread_mutex_unlock(&st->mu);
    tokset ts = {0};
    if (!rc && pending)
        rc = progress_read(st, &ts, e);
    /* The restored epochs lead the list, before anything sealed in this
     * attempt: republish or drop each. */
    while (!rc) {
        pthread_mutex_lock(&st->mu);
        ks_epoch *ep = st->head;
        int more = ep && ep->restored && !st->stop;
        pthread_mutex_unlock(&st->mu);
        if (!more)
            break;
        int found = bsearch(ep->token, ts.t, ts.n, 16, tok_cmp) != NULL;
        if (!found) {
            ks_producer *p = NULL;
            for (int i = 0; i < n && !p; i++)
                if (pr[i] && strcmp(pr[i]->txid, ep->txid) == 0)
                    p = pr[i];
            if (!p)
                p = st->own; /* cannot happen: restore keeps only recovered ids' epochs */
            int r = publish(st, p, ep, 1, e);
            if (r < 0)
                rc = r;
            if (r)
                break;
        }
        pthread_mutex_lock(&st->mu);
        st->head = ep->next;
        if (!st->head)
            st->tail = NULL;
        if (found)
            st->skipped++;
        else
            st->republished++;
        pthread_mutex_unlock(&st->mu);
        epoch_unref(ep);
    }
    free(ts.t);
    for (int i = 0; i < n; i++)
        if (pr[i] && pr[i] != st->own)
            producer_destroy(pr[i]);
    free(pr);
    if (!rc) { /* closed before every restored epoch was decided: publish nothing more */
        pthread_mutex_lock(&st->mu);
        rc = st->head && st->head->restored;
        pthread_mutex_unlock(&st->mu);
    }
    return rc;
}

static void *ks_thread(void *arg)
{
    ks_state *st = arg;
    mpf_err e = {0};
    int rc = recover(st, &e);
    pthread_mutex_lock(&st->mu);
    st->recovered = 1;
    pthread_cond_broadcast(&st->cv);
    while (!rc) {
        ks_epoch *ep = st->head;
        if (ep && ep->committable) {
            pthread_mutex_unlock(&st->mu);
            int r = publish(st, st->own, ep, 0, &e);
            pthread_mutex_lock(&st->mu);
            if (r) {
                rc = r;
                break;
            }
            st->head = ep->next;
            if (!st->head)
                st->tail = NULL;
            st->published++;
            pthread_cond_broadcast(&st->cv);
            pthread_mutex_unlock(&st->mu);
            epoch_unref(ep);
            pthread_mutex_lock(&st->mu);
            continue;
        }
        if (st->stop)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&st->cv, &st->mu, &ts);
    }
    if (rc < 0 && !st->failed) {
        snprintf(st->err, sizeof st->err, "%s", e.msg);
        st->failed = 1;
    }
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* ---------------------------------------------------------------------
 * none / at-least-once: one producer, shared with the checkpoint
 * writer's thread (which polls it while it waits for deliveries), so it
 * is reference-counted. Messages carry the epoch (barriers seen) they
 * were produced in; inflight counts undelivered messages per epoch.
 * ------------------------------------------------------------------- */
#define KS_RING 256

typedef struct ks_alo {
    atomic_int refs;
    rd_kafka_t *rk;
    atomic_long inflight[KS_RING];
    atomic_llong epoch;
    atomic_int failed;
    char err[400];
    char *uid;
} ks_alo;

static void alo_unref(ks_alo *a)
{
    if (!a || atomic_fetch_sub(&a->refs, 1) != 1)
        return;
    if (a->rk) {
        rd_kafka_purge(a->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(a->rk, 0);
        rd_kafka_destroy(a->rk);
    }
    free(a->uid);
    free(a);
}

static void alo_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    ks_alo *a = opaque;
    atomic_fetch_sub(&a->inflight[(uintptr_t)m->_private % KS_RING], 1);
    if (!m->err || m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
        m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT || atomic_load(&a->failed))
        return;
    snprintf(a->err, sizeof a->err, "delivery to topic '%s' partition %d failed: %s",
             rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err));
    atomic_store(&a->failed, 1);
}

typedef struct alo_wait_ctx {
    ks_alo *a;
    int64_t epoch, timeout_ns;
} alo_wait_ctx;

/* On the checkpoint writer's thread: every message of epochs up to
 * ctx->epoch acknowledged, else decline the checkpoint. */
static int alo_wait(void *p, snap_writer *w, mpf_err *e)
{
    alo_wait_ctx *c = p;
    ks_alo *a = c->a;
    (void)w;
    int64_t deadline = mono_ns() + c->timeout_ns;
    for (;;) {
        if (atomic_load(&a->failed))
            return err_set(e, MPF_EIO, "operator '%s': %s", a->uid, a->err);
        int64_t cur = atomic_load(&a->epoch), from = cur - KS_RING + 1;
        long left = 0;
        for (int64_t ep = from > 0 ? from : 0; ep <= c->epoch; ep++)
            left += atomic_load(&a->inflight[ep % KS_RING]);
        if (left == 0)
            return 0;
        if (mono_ns() > deadline)
            return err_set(e, MPF_EIO, "operator '%s': %ld message(s) produced before the "
                           "barrier not acknowledged by Kafka within "
                           "execution.checkpointing.timeout", a->uid, left);
        rd_kafka_poll(a->rk, 20);
    }
}

static void alo_wait_free(void *p)
{
    alo_wait_ctx *c = p;
    alo_unref(c->a);
    free(c);
}

/* ---------------------------------------------------------------------
 * Plan time
 * ------------------------------------------------------------------- */
static const char *const ks_keys[] = {
    "bootstrap-servers", "bootstrap.servers", "properties", "topic", "topic-field",
    "key-field", "value-field", "format", "delimiter", "delivery-guarantee",
    "transactional-id-prefix", "progress-topic", NULL};

static void ks_free(void *p)
{
    ks_cfg *cfg = p;
    if (!cfg)
        return;
    kafka_props_fini(&cfg->props);
    free(cfg->topic);
    free(cfg->prefix);
    free(cfg->progress);
    free(cfg->inj_dir);
    free(cfg);
}

/* The longest single wait of the restart strategy before a restart. */
static int64_t restart_longest_delay_ns(const conf *c)
{
    restart_strategy rs;
    restart_init(&rs, c);
    int64_t d = 0;
    switch (rs.kind) {
    case RESTART_FIXED_DELAY:
    case RESTART_FAILURE_RATE:
        d = rs.delay_ns;
        break;
    case RESTART_EXPONENTIAL_DELAY:
        d = (int64_t)((double)rs.max_backoff_ns * (1 + rs.jitter));
        break;
    default:
        break;
    }
    restart_fini(&rs);
    return d;
}

/* debug.inject-failure, the parts this sink reads: rank=R,
 * kafka=POINT[@N][+POINT[@N]...] and at=N (the default N; other parts
 * belong to the TaskManager). */
static int parse_inject(ks_cfg *cfg, const op_spec *s, const conf *c, mpf_err *e)
{
    const char *v = conf_str(c, CONF_DEBUG_INJECT_FAILURE);
    const char *k = strstr(v, "kafka=");
    if (!k)
        return 0;
    const char *r = strstr(v, "rank=");
    if (!r || sscanf(r, "rank=%d", &cfg->inj_rank) != 1)
        return err_set(e, MPF_ECONFIG, "%s: debug.inject-failure '%s': kafka=POINT needs "
                       "rank=R", op_where(s), v);
    long long at = 1;
    const char *a = strstr(v, ",at=");
    if (a && (sscanf(a, ",at=%lld", &at) != 1 || at < 1))
        return err_set(e, MPF_ECONFIG, "%s: debug.inject-failure: at=N needs N >= 1",
                       op_where(s));
    char list[200] = {0};
    sscanf(k, "kafka=%199[a-z0-9@+-]", list);
    for (char *save = NULL, *name = strtok_r(list, "+", &save); name;
         name = strtok_r(NULL, "+", &save)) {
        int found = 0;
        long long n = at;
        char *nth = strchr(name, '@');
        if (nth) {
            *nth++ = '\0';
            if (sscanf(nth, "%lld", &n) != 1 || n < 1)
                return err_set(e, MPF_ECONFIG, "%s: debug.inject-failure: '%s@%s' needs a "
                               "count >= 1 after '@'", op_where(s), name, nth);
        }
        for (int i = 1; i < KP_COUNT; i++)
            if (strcmp(name, ks_point_names[i]) == 0)
                found = i;
        if (!found)
            return err_set(e, MPF_ECONFIG, "%s: debug.inject-failure: unknown kafka point '%s' "
                           "(after-snapshot, after-complete, mid-transaction, before-commit, "
                           "after-commit, during-recovery; several joined by '+')",
                           op_where(s), name);
        cfg->inj_points |= 1u << found;
        cfg->inj_at[found] = n;
    }
    cfg->inj_dir = xstrdup(conf_str(c, CONF_STATE_CHECKPOINTS_DIR));
    return 0;
}

static const kafka_owned_prop ks_owned_all[] = {
    {"transactional.id", "the sink sets it from transactional-id-prefix (exactly-once only)"},
    {"dr_msg_cb", "the sink tracks deliveries itself"},
    {NULL, NULL}};
static const kafka_owned_prop ks_owned_eo[] = {
    {"transactional.id", "the sink sets it from transactional-id-prefix and the subtask index"},
    {"enable.idempotence", "exactly-once needs the idempotent transactional producer"},
    {NULL, NULL}};

/* A plan-time error at option key (or at the operator when absent). */
static int ks_fail(mpf_err *e, const op_spec *s, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int ks_fail(mpf_err *e, const op_spec *s, const char *key, const char *fmt, ...)
{
    char msg[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const ynode *at = key ? ynode_get(s->node, key) : NULL;
    return err_set(e, MPF_EJOB, "%s: operator '%s': %s", ynode_pos(at ? at : s->node), s->uid,
                   msg);
}

static int ks_configure(op_spec *s, const conf *c, mpf_err *e)
{
    ks_cfg *cfg = xcalloc(1, sizeof *cfg);
    const schema *in = s->in_schema[0];
    const char *topic = NULL, *tfield = NULL, *kfield = NULL, *vfield = NULL, *fmt = "csv",
               *delim = ",", *guar = "at-least-once", *prefix = NULL, *progress = NULL;
    cfg->topic_field = cfg->key_field = -1;
    if (ynode_get_str(s->node, "topic", 0, &topic, e) ||
        ynode_get_str(s->node, "topic-field", 0, &tfield, e) ||
        ynode_get_str(s->node, "key-field", 0, &kfield, e) ||
        ynode_get_str(s->node, "value-field", 0, &vfield, e) ||
        ynode_get_str(s->node, "format", 0, &fmt, e) ||
        ynode_get_str(s->node, "delimiter", 0, &delim, e) ||
        ynode_get_str(s->node, "delivery-guarantee", 0, &guar, e) ||
        ynode_get_str(s->node, "transactional-id-prefix", 0, &prefix, e) ||
        ynode_get_str(s->node, "progress-topic", 0, &progress, e)) {
        err_prefix(e, "operator '%s'", s->uid);
        goto fail;
    }
#define KS_FAIL(key, ...)                                                                     \
    do {                                                                                      \
        ks_fail(e, s, key, __VA_ARGS__);                                                      \
        goto fail;                                                                            \
    } while (0)
    if (strcmp(guar, "none") == 0)
        cfg->guarantee = KS_NONE;
    else if (strcmp(guar, "at-least-once") == 0)
        cfg->guarantee = KS_AT_LEAST_ONCE;
    else if (strcmp(guar, "exactly-once") == 0)
        cfg->guarantee = KS_EXACTLY_ONCE;
    else
        KS_FAIL("delivery-guarantee", "delivery-guarantee must be none, at-least-once or "
                "exactly-once, got '%s'", guar);
    if (kafka_props_parse(s->node, s->uid,
                          cfg->guarantee == KS_EXACTLY_ONCE ? ks_owned_eo : ks_owned_all,
                          &cfg->props, e))
        goto fail;
    if (!topic == !tfield)
        KS_FAIL("topic", "give exactly one of topic (a fixed topic) and topic-field (the "
                "topic from a field)");
    if (topic) {
        if (!*topic || strlen(topic) > 249)
            KS_FAIL("topic", "topic must be 1 to 249 characters");
        cfg->topic = xstrdup(topic);
    } else if ((cfg->topic_field = schema_find(in, tfield)) < 0) {
        KS_FAIL("topic-field", "topic-field '%s' is not a field of the input", tfield);
    }
    if (kfield && (cfg->key_field = schema_find(in, kfield)) < 0)
        KS_FAIL("key-field", "key-field '%s' is not a field of the input", kfield);
    kenc_format f;
    if (kenc_format_parse(fmt, &f) != 0)
        KS_FAIL("format", "format must be raw, csv or json, got '%s'",
                fmt);
    if (strlen(delim) != 1)
        KS_FAIL("delimiter", "delimiter must be one character");
    if (kenc_init(&cfg->enc, f, in, vfield, delim[0], e)) {
        const ynode *at = ynode_get(s->node, vfield ? "value-field" : "format");
        char msg[sizeof e->msg];
        snprintf(msg, sizeof msg, "%s", e->msg);
        err_set(e, MPF_EJOB, "%s: operator '%s': %s", ynode_pos(at ? at : s->node), s->uid, msg);
        goto fail;
    }
    int64_t interval = conf_duration_ns(c, CONF_EXECUTION_CHECKPOINTING_INTERVAL);
    cfg->ckpt_timeout_ns = conf_duration_ns(c, CONF_EXECUTION_CHECKPOINTING_TIMEOUT);
    /* The TaskManager sends no heartbeat while commit hooks run, and
     * the JobManager gives up on it after heartbeat.timeout: the end of
     * a bounded job waits for Kafka at most that minus two heartbeat
     * intervals, then fails (a restart replays what was not published). */
    cfg->commit_wait_ns = conf_duration_ns(c, CONF_HEARTBEAT_TIMEOUT) -
                          2 * conf_duration_ns(c, CONF_HEARTBEAT_INTERVAL);
    if (cfg->commit_wait_ns < 1000000000)
        cfg->commit_wait_ns = 1000000000;
    if (cfg->guarantee != KS_EXACTLY_ONCE && (prefix || progress))
        KS_FAIL(prefix ? "transactional-id-prefix" : "progress-topic",
                "%s is for delivery-guarantee: exactly-once",
                prefix ? "transactional-id-prefix" : "progress-topic");
    if (cfg->guarantee == KS_EXACTLY_ONCE) {
        if (!prefix || !*prefix)
            KS_FAIL("delivery-guarantee", "exactly-once needs transactional-id-prefix, unique "
                    "per sink and job (transactional ids are <prefix>-<subtask>)");
        if (interval <= 0)
            KS_FAIL("delivery-guarantee", "exactly-once needs checkpointing: records are "
                    "published when the checkpoint that covers them completes; set "
                    "execution.checkpointing.interval");
        if (strcmp(conf_str(c, CONF_EXECUTION_CHECKPOINTING_MODE), "EXACTLY_ONCE") != 0)
            KS_FAIL("delivery-guarantee", "exactly-once needs execution.checkpointing.mode "
                    "EXACTLY_ONCE (unaligned barriers let records of the next epoch into a "
                    "checkpoint)");
        cfg->prefix = xstrdup(prefix);
        cfg->progress = progress ? xstrdup(progress) : xasprintf("%s-progress", prefix);
        cfg->txn_timeout_ms = 900000; /* Kafka's default transaction.max.timeout.ms */
        for (int i = 0; i < cfg->props.n; i++)
            if (strcmp(cfg->props.key[i], "transaction.timeout.ms") == 0)
                cfg->txn_timeout_ms = strtoll(cfg->props.val[i], NULL, 10);
        int64_t need = interval + restart_longest_delay_ns(c);
        if (cfg->txn_timeout_ms * 1000000 < need) {
            const ynode *pn = ynode_get(s->node, "properties");
            err_set(e, MPF_EJOB, "%s: operator '%s': transaction.timeout.ms = %" PRId64 " is "
                    "shorter than the checkpoint interval plus the restart strategy's longest "
                    "delay (%" PRId64 " ms): a transaction of a failed attempt could expire "
                    "before the job is back; raise it (at most the broker's "
                    "transaction.max.timeout.ms)", ynode_pos(pn ? pn : s->node), s->uid,
                    cfg->txn_timeout_ms, need / 1000000);
            goto fail;
        }
    }
#undef KS_FAIL
    if (parse_inject(cfg, s, c, e))
        goto fail;
    s->cfg = cfg;
    schema_copy(&s->out_schema, in);
    return 0;
fail:
    ks_free(cfg);
    return e->code ? e->code : MPF_EJOB;
}

static void ks_describe(const op_spec *s, char *buf, size_t n)
{
    const ks_cfg *cfg = s->cfg;
    static const char *const g[] = {"none", "at-least-once", "exactly-once"};
    snprintf(buf, n, "%s to kafka %s%s at %s, %s", kenc_format_name(cfg->enc.format),
             cfg->topic ? "topic " : "topic from field ",
             cfg->topic ? cfg->topic : s->in_schema[0]->f[cfg->topic_field].name,
             cfg->props.bootstrap, g[cfg->guarantee]);
}

/* ---------------------------------------------------------------------
 * Run time
 * ------------------------------------------------------------------- */
static int ks_open(op_inst *oi, mpf_err *e)
{
    const ks_cfg *cfg = oi->spec->cfg;
    ks_state *st = xcalloc(1, sizeof *st);
    oi->st = st;
    st->cfg = cfg;
    st->uid = oi->spec->uid;
    st->subtask = oi->subtask;
    st->parallelism = oi->spec->parallelism;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    if (cfg->guarantee == KS_EXACTLY_ONCE) {
        st->txid = xasprintf("%s-%d", cfg->prefix, oi->subtask);
        return 0;
    }
    ks_alo *a = xcalloc(1, sizeof *a);
    atomic_init(&a->refs, 1);
    a->uid = xstrdup(oi->spec->uid);
    st->alo = a;
    rd_kafka_conf_t *c = kafka_conf_build(&cfg->props, NULL, e);
    if (!c)
        return e->code;
    rd_kafka_conf_set_opaque(c, a);
    rd_kafka_conf_set_dr_msg_cb(c, alo_dr);
    char errstr[512];
    a->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof errstr);
    if (!a->rk) {
        rd_kafka_conf_destroy(c);
        return err_set(e, MPF_EIO, "operator '%s': producer: %s", oi->spec->uid, errstr);
    }
    return 0;
}

/* Encode one record into st->key/val/topic (topic only with
 * topic-field). 0 or an error. */
static int encode(op_inst *oi, const uint8_t *rec, mpf_err *e)
{
    ks_state *st = oi->st;
    const ks_cfg *cfg = st->cfg;
    const schema *sc = oi->spec->in_schema[0];
    st->key.len = st->val.len = st->topic.len = 0;
    if (cfg->key_field >= 0)
        kenc_field_text(sc, rec, cfg->key_field, &st->key);
    if (cfg->topic_field >= 0) {
        kenc_field_text(sc, rec, cfg->topic_field, &st->topic);
        if (st->topic.len == 0 || st->topic.len > 249)
            return err_set(e, MPF_EPARSE, "operator '%s': topic-field gives a topic name of %zu "
                           "bytes (1 to 249 allowed)", oi->spec->uid, st->topic.len);
        kbuf_put(&st->topic, "", 1);
    }
    if (kenc_value(&cfg->enc, rec, &st->val, e))
        return err_prefix(e, "operator '%s'", oi->spec->uid);
    return 0;
}

static int ks_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    ks_state *st = oi->st;
    const ks_cfg *cfg = st->cfg;
    (void)input;
    for (const uint8_t *r = batch_first(batch); r; r = batch_next(batch, r)) {
        if (encode(oi, r, e))
            return e->code;
        if (cfg->guarantee == KS_EXACTLY_ONCE) {
            if (!st->cur)
                st->cur = epoch_new(st->txid, st->subtask);
            kbuf *b = &st->cur->b;
            uint16_t tl = (uint16_t)(st->topic.len ? st->topic.len - 1 : 0);
            int32_t kl = cfg->key_field >= 0 ? (int32_t)st->key.len : -1;
            uint32_t vl = (uint32_t)st->val.len;
            put_le16(b, tl);
            kbuf_put(b, st->topic.p, tl);
            put_le32(b, (uint32_t)kl);
            if (kl > 0)
                kbuf_put(b, st->key.p, (size_t)kl);
            put_le32(b, vl);
            kbuf_put(b, st->val.p, vl);
            st->cur->nrec++;
            continue;
        }
        ks_alo *a = st->alo;
        int64_t ep = atomic_load(&a->epoch);
        const void *key = cfg->key_field >= 0 ? st->key.p : NULL;
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                a->rk,
                RD_KAFKA_V_TOPIC(st->topic.len ? (const char *)st->topic.p : cfg->topic),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(key, st->key.len),
                RD_KAFKA_V_VALUE(st->val.p, st->val.len),
                RD_KAFKA_V_OPAQUE((void *)(uintptr_t)ep), RD_KAFKA_V_END);
            if (!err) {
                atomic_fetch_add(&a->inflight[ep % KS_RING], 1);
                break;
            }
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                return err_set(e, MPF_EIO, "operator '%s': producing to topic '%s': %s",
                               oi->spec->uid,
                               st->topic.len ? (const char *)st->topic.p : cfg->topic,
                               rd_kafka_err2str(err));
            /* librdkafka's queue is full: Kafka is slower than the input;
             * wait for it here (backpressure, bounded by the queue). */
            rd_kafka_poll(a->rk, 10);
            if (atomic_load(&a->failed))
                return err_set(e, MPF_EIO, "operator '%s': %s", oi->spec->uid, a->err);
        }
    }
    return 0;
}

/* The subtask blob: [magic u32 "KSS1"][subtask i32][next seq i64][n u32]
 * then n times [index i32][txid len u16][txid]: every transactional id
 * this job's state has named, its own included. */
static void put_subtask_blob(ks_state *st, snap_writer *w)
{
    kbuf b = {0};
    put_le32(&b, KS_SUB_MAGIC);
    put_le32(&b, (uint32_t)st->subtask);
    put_le64(&b, (uint64_t)st->next_seq);
    int own = 0;
    for (int i = 0; i < st->nknown; i++)
        own |= strcmp(st->known[i].txid, st->txid) == 0;
    put_le32(&b, (uint32_t)(st->nknown + !own));
    for (int i = 0; i <= st->nknown; i++) {
        const char *t = i < st->nknown ? st->known[i].txid : own ? NULL : st->txid;
        int32_t idx = i < st->nknown ? st->known[i].idx : st->subtask;
        if (!t)
            continue;
        uint16_t tl = (uint16_t)strlen(t);
        put_le32(&b, (uint32_t)idx);
        put_le16(&b, tl);
        kbuf_put(&b, t, tl);
    }
    snap_put(w, SNAP_OPERATOR, -1, b.p, b.len);
    kbuf_fini(&b);
}

static int ks_snapshot(op_inst *oi, snap_writer *w, mpf_err *e)
{
    ks_state *st = oi->st;
    const ks_cfg *cfg = st->cfg;
    if (cfg->guarantee == KS_NONE)
        return 0;
    if (cfg->guarantee == KS_AT_LEAST_ONCE) {
        ks_alo *a = st->alo;
        int64_t ep = atomic_load(&a->epoch);
        if (atomic_load(&a->inflight[(ep + 1) % KS_RING]) != 0)
            return err_set(e, MPF_EIO, "operator '%s': messages of %d checkpoints ago are "
                           "still not acknowledged by Kafka", oi->spec->uid, KS_RING);
        atomic_store(&a->epoch, ep + 1);
        alo_wait_ctx *c = xcalloc(1, sizeof *c);
        atomic_fetch_add(&a->refs, 1);
        c->a = a;
        c->epoch = ep;
        c->timeout_ns = cfg->ckpt_timeout_ns;
        snap_defer(w, alo_wait, alo_wait_free, c);
        return 0;
    }
    pthread_mutex_lock(&st->mu);
    if (st->cur && st->cur->nrec) {
        ks_epoch *ep = st->cur;
        st->cur = NULL;
        epoch_seal(ep, st->next_seq++);
        ep->ckpt = snap_id(w);
        if (st->tail)
            st->tail->next = ep;
        else
            st->head = ep;
        st->tail = ep;
    }
    put_subtask_blob(st, w);
    for (ks_epoch *ep = st->head; ep; ep = ep->next) {
        atomic_fetch_add(&ep->refs, 1);
        snap_put_ref(w, SNAP_OPERATOR, -1, ep->b.p, ep->b.len, ep, epoch_unref);
    }
    pthread_mutex_unlock(&st->mu);
    ks_inject(cfg, st->uid, KP_AFTER_SNAPSHOT);
    (void)e;
    return 0;
}

static int ks_checkpoint_complete(op_inst *oi, int64_t id, mpf_err *e)
{
    ks_state *st = oi->st;
    (void)e;
    if (st->cfg->guarantee != KS_EXACTLY_ONCE)
        return 0;
    ks_inject(st->cfg, st->uid, KP_AFTER_COMPLETE);
    pthread_mutex_lock(&st->mu);
    for (ks_epoch *ep = st->head; ep; ep = ep->next)
        if (ep->ckpt > 0 && ep->ckpt <= id)
            ep->committable = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    return 0;
}

static int known_add(ks_state *st, int idx, const char *txid, size_t len)
{
    for (int i = 0; i < st->nknown; i++)
        if (strlen(st->known[i].txid) == len && memcmp(st->known[i].txid, txid, len) == 0)
            return i;
    st->known = xrealloc(st->known, (size_t)(st->nknown + 1) * sizeof *st->known);
    st->known[st->nknown] = (ks_known){idx, xstrndup(txid, len)};
    if (idx % st->parallelism == st->subtask) {
        st->recover = xrealloc(st->recover, (size_t)(st->nrecover + 1) * sizeof *st->recover);
        st->recover[st->nrecover++] = st->nknown;
    }
    return st->nknown++;
}

/* Restore one blob (union state: every subtask sees every old subtask's
 * blobs). Transactional ids are all remembered; epochs are kept by the
 * subtask that recovers their id (old index mod parallelism), in
 * (index, sequence) order. */
static int ks_restore(op_inst *oi, const snap_blob *b, mpf_err *e)
{
    ks_state *st = oi->st;
    if (st->cfg->guarantee != KS_EXACTLY_ONCE)
        return 0; /* an earlier run's state of another guarantee: nothing to publish */
    uint32_t magic = 0;
    if (b->len >= 4)
        magic = rd_u32(b->data);
    if (magic == KS_SUB_MAGIC && b->len >= 20) {
        int64_t seq = rd_i64(b->data + 8);
        uint32_t n = rd_u32(b->data + 16);
        size_t at = 20;
        for (uint32_t i = 0; i < n; i++) {
            int32_t idx;
            uint16_t tl;
            if (b->len - at < 6)
                goto bad;
            idx = (int32_t)rd_u32(b->data + at);
            tl = rd_u16(b->data + at + 4);
            at += 6;
            if (idx < 0 || tl == 0 || b->len - at < tl)
                goto bad;
            known_add(st, idx, (const char *)b->data + at, tl);
            at += tl;
        }
        if (at != b->len)
            goto bad;
        if (b->subtask == st->subtask && seq > st->next_seq)
            st->next_seq = seq;
        return 0;
    }
    ks_epoch h = {0};
    size_t first;
    if (magic != KS_EPOCH_MAGIC || epoch_parse(b->data, b->len, &h, &first) != 0)
        goto bad;
    if (h.txidx % st->parallelism != st->subtask)
        return 0;
    ks_epoch *ep = xcalloc(1, sizeof *ep);
    atomic_init(&ep->refs, 1);
    ep->txidx = h.txidx;
    ep->txid = xstrndup((const char *)b->data + KS_EH_SIZE, first - KS_EH_SIZE);
    ep->seq = h.seq;
    memcpy(ep->token, h.token, 16);
    ep->nrec = h.nrec;
    ep->committable = 1; /* its checkpoint completed: it is the one restored */
    ep->restored = 1;
    kbuf_put(&ep->b, b->data, b->len);
    known_add(st, h.txidx, ep->txid, strlen(ep->txid));
    if (h.txidx == st->subtask && h.seq >= st->next_seq)
        st->next_seq = h.seq + 1;
    /* insert in (txidx, seq) order */
    ks_epoch **pp = &st->head;
    while (*pp && ((*pp)->txidx < ep->txidx ||
                   ((*pp)->txidx == ep->txidx && (*pp)->seq < ep->seq)))
        pp = &(*pp)->next;
    for (ks_epoch *q = st->head; q; q = q->next)
        if (memcmp(q->token, ep->token, 16) == 0) {
            epoch_unref(ep); /* the same epoch twice: keep one */
            return 0;
        }
    ep->next = *pp;
    *pp = ep;
    st->nrestored++;
    if (!ep->next)
        st->tail = ep;
    return 0;
bad:
    return err_set(e, MPF_EPARSE, "operator '%s': restored Kafka sink state of subtask %d is "
                   "malformed (%zu bytes)", oi->spec->uid, b->subtask, b->len);
}

/* The job starts (every TaskManager restored): the commit thread fences
 * and recovers, then publishes as checkpoints complete. */
static int ks_start(op_inst *oi, mpf_err *e)
{
    ks_state *st = oi->st;
    if (st->cfg->guarantee != KS_EXACTLY_ONCE)
        return 0;
    int own = 0;
    for (int i = 0; i < st->nknown; i++)
        own |= strcmp(st->known[i].txid, st->txid) == 0;
    if (!own)
        known_add(st, st->subtask, st->txid, strlen(st->txid));
    if (pthread_create(&st->thread, NULL, ks_thread, st) != 0)
        return err_set(e, MPF_EIO, "operator '%s': cannot start the commit thread: %s",
                       oi->spec->uid, strerror(errno));
    st->thread_started = 1;
    return 0;
}

/* Log once what the recovery after a restore did (task thread). */
static void report_recovery(ks_state *st, int64_t rep, int64_t skip)
{
    if (st->logged || !st->nrestored)
        return;
    st->logged = 1;
    log_info("operator '%s' subtask %d: recovered %d transactional id(s) with %d pending "
             "epoch(s): %" PRId64 " republished, %" PRId64 " found committed in '%s'", st->uid,
             st->subtask, st->nrecover, st->nrestored, rep, skip, st->cfg->progress);
}

static int ks_service(op_inst *oi, int64_t now_ns, mpf_err *e)
{
    ks_state *st = oi->st;
    (void)now_ns;
    if (st->alo) {
        rd_kafka_poll(st->alo->rk, 0);
        if (atomic_load(&st->alo->failed))
            return err_set(e, MPF_EIO, "operator '%s': %s", oi->spec->uid, st->alo->err);
        return 0;
    }
    pthread_mutex_lock(&st->mu);
    int failed = st->failed;
    int64_t rep = st->republished, skip = st->skipped;
    int rec = st->recovered;
    if (failed)
        err_set(e, MPF_EIO, "%s", st->err);
    pthread_mutex_unlock(&st->mu);
    if (failed)
        return e->code;
    if (rec)
        report_recovery(st, rep, skip);
    return 0;
}

/* The end of a bounded job: publish what came after the last checkpoint
 * (and everything before it) and wait for it. */
static int ks_commit(op_inst *oi, mpf_err *e)
{
    ks_state *st = oi->st;
    const ks_cfg *cfg = st->cfg;
    if (st->alo) {
        ks_alo *a = st->alo;
        int64_t end = mono_ns() + cfg->commit_wait_ns;
        while (rd_kafka_outq_len(a->rk) > 0 && !atomic_load(&a->failed) && mono_ns() < end)
            rd_kafka_flush(a->rk, 100);
        if (atomic_load(&a->failed))
            return err_set(e, MPF_EIO, "operator '%s': %s", oi->spec->uid, a->err);
        if (rd_kafka_outq_len(a->rk) > 0)
            return err_set(e, MPF_EIO, "operator '%s': %d message(s) to %s not acknowledged "
                           "within %.1f s at the end of the job", oi->spec->uid,
                           rd_kafka_outq_len(a->rk), cfg->props.bootstrap,
                           (double)cfg->commit_wait_ns / 1e9);
        return 0;
    }
    pthread_mutex_lock(&st->mu);
    if (st->cur && st->cur->nrec) {
        ks_epoch *ep = st->cur;
        st->cur = NULL;
        epoch_seal(ep, st->next_seq++);
        ep->committable = 1;
        if (st->tail)
            st->tail->next = ep;
        else
            st->head = ep;
        st->tail = ep;
    }
    for (ks_epoch *ep = st->head; ep; ep = ep->next)
        ep->committable = 1; /* the job succeeded everywhere */
    pthread_cond_broadcast(&st->cv);
    int64_t deadline = mono_ns() + cfg->commit_wait_ns;
    while (st->head && !st->failed && st->thread_started && mono_ns() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&st->cv, &st->mu, &ts);
    }
    int rc = 0;
    if (st->recovered)
        report_recovery(st, st->republished, st->skipped);
    if (st->failed)
        rc = err_set(e, MPF_EIO, "%s", st->err);
    else if (st->head)
        rc = err_set(e, MPF_EIO, "operator '%s': the last records were not published to %s "
                     "within %.1f s at the end of the job", oi->spec->uid, cfg->props.bootstrap,
                     (double)cfg->commit_wait_ns / 1e9);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* Cancel, stop or failure: the commit thread may finish epochs whose
 * checkpoint completed for a short while (a stop with savepoint then
 * leaves its output published), then aborts any open transaction. */
#define KS_CLOSE_GRACE_NS 3000000000LL

static void ks_close(op_inst *oi)
{
    ks_state *st = oi->st;
    if (!st)
        return;
    if (st->thread_started) {
        pthread_mutex_lock(&st->mu);
        st->stop = 1;
        st->stop_deadline = mono_ns() + KS_CLOSE_GRACE_NS;
        pthread_cond_broadcast(&st->cv);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->thread, NULL);
    }
    producer_destroy(st->own);
    alo_unref(st->alo);
    for (ks_epoch *ep = st->head, *nx; ep; ep = nx) {
        nx = ep->next;
        epoch_unref(ep);
    }
    if (st->cur)
        epoch_unref(st->cur);
    for (int i = 0; i < st->nknown; i++)
        free(st->known[i].txid);
    free(st->known);
    free(st->recover);
    free(st->txid);
    kbuf_fini(&st->key);
    kbuf_fini(&st->val);
    kbuf_fini(&st->topic);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st);
    oi->st = NULL;
}

static void ks_describe_state(const snap_blob *b, char *buf, size_t n)
{
    uint32_t magic = 0;
    if (b->len >= 4)
        magic = rd_u32(b->data);
    ks_epoch h = {0};
    size_t first;
    if (magic == KS_SUB_MAGIC && b->len >= 20) {
        uint32_t k = rd_u32(b->data + 16);
        snprintf(buf, n, "Kafka sink: %u transactional id(s) known", k);
    } else if (magic == KS_EPOCH_MAGIC && epoch_parse(b->data, b->len, &h, &first) == 0) {
        char tok[33];
        hex(h.token, 16, tok);
        snprintf(buf, n, "Kafka sink epoch %s of %.*s: %u record(s) awaiting publication", tok,
                 (int)(first - KS_EH_SIZE), (const char *)b->data + KS_EH_SIZE, h.nrec);
    } else {
        snprintf(buf, n, "malformed Kafka sink state (%zu bytes)", b->len);
    }
}

const op_kind op_sink_kafka = {
    .name = "kafka",
    .role = OP_SINK,
    .min_inputs = 1,
    .max_inputs = 1,
    .keys = ks_keys,
    .summary = "records to Kafka topics (none, at-least-once or exactly-once)",
    .configure = ks_configure,
    .free_cfg = ks_free,
    .describe = ks_describe,
    .open = ks_open,
    .process = ks_process,
    .snapshot = ks_snapshot,
    .restore = ks_restore,
    .start = ks_start,
    .union_state = 1,
    .checkpoint_complete = ks_checkpoint_complete,
    .service = ks_service,
    .describe_state = ks_describe_state,
    .commit = ks_commit,
    .close = ks_close,
};
