/* `source: kafka`: records from Kafka topics through librdkafka
 * (connectors layer).
 *
 * Partitions are assigned by the job, never by a consumer-group
 * rebalance: partition p of topic t goes to subtask (start(t) + p) mod
 * parallelism with start(t) = ((javaHashCode(t) * 31) & 0x7fffffff) mod
 * parallelism, as Flink's KafkaTopicPartitionAssigner does, and the
 * subtask reads it with rd_kafka_incremental_assign at an explicit
 * offset. Every subtask finds its partitions itself from the cluster's
 * metadata, so no coordinator is needed.
 *
 * The task loop never waits for the network: poll takes what the
 * consumer has already fetched (rd_kafka_consume_batch_queue, timeout 0)
 * and returns MPF_EAGAIN when nothing is there. Everything that waits
 * for a broker -- the metadata at start (bounded by `startup-timeout`),
 * resolving starting offsets (latest, timestamp, committed), the end
 * offsets of bounded mode, and partition discovery every
 * `partition-discovery-interval` -- runs on a thread of the subtask's
 * own, which hands newly owned partitions with their offsets to the loop
 * through a mutex-protected list. Partitions and topics found after the
 * start are read from the earliest offset.
 *
 * Checkpoints: each subtask writes the next offset of every partition it
 * reads as one SNAP_OPERATOR blob, [u32 version 1][u32 count] and per
 * partition [u32 topic length][topic][i32 partition][i64 next][i64 end]
 * (next -2: from the earliest offset, nothing read yet; end -1:
 * unbounded). The state is union state: on restore every subtask reads
 * the blobs of all old subtasks and keeps the partitions the formula
 * gives it at the new parallelism, so the job may rescale. Partitions
 * not in the checkpoint are new and start from the earliest offset. With
 * `group-id`, the offsets of a completed checkpoint are committed to the
 * group (asynchronously) so that lag can be monitored; they are read back
 * only with `starting-offsets: committed` at a fresh start.
 *
 * Event time: with `watermark:` on the source, the watermark is kept per
 * partition (largest event time seen in it minus out-of-orderness) and
 * the source's watermark is the minimum over its partitions; with
 * `idleness`, a partition without records for that long is left out,
 * and a subtask that reads no partition at all is idle.
 *
 * Bounded mode (`bounded: true`) reads every partition up to the end
 * offsets seen at the start (kept in checkpoints) and then ends; no
 * partitions are discovered after the start. */
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "connectors/kafka/kafka_conf.h"
#include "connectors/kafka/kafka_format.h"
#include "connectors/srcutil.h"
#include "ops/op.h"
#include "ops/opstate.h"
#include "record/segpool.h"
#include "util/bytes.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define KOFF_EARLIEST (-2) /* RD_KAFKA_OFFSET_BEGINNING: nothing read yet */
#define KSNAP_VERSION 1u

enum kstart { KSTART_EARLIEST, KSTART_LATEST, KSTART_COMMITTED, KSTART_TIMESTAMP, KSTART_SPECIFIC };

typedef struct kspec_off {
    char *topic;
    int32_t partition;
    int64_t offset;
} kspec_off;

typedef struct ksrc_cfg {
    kafka_props props;
    char **topics;
    int ntopics;
    char *pattern;
    regex_t re;
    int has_re;
    char *group; /* NULL: offsets are not committed */
    enum kstart start;
    int reset_latest; /* offset-reset: latest */
    int64_t start_ts; /* ms */
    kspec_off *specific;
    int nspecific;
    int bounded;
    int64_t discovery_ns; /* 0: off */
    int64_t startup_ns;
    int skip_errors;
    kafka_format fmt;
} ksrc_cfg;

/* A partition this subtask reads. */
typedef struct kpart {
    char *topic;
    int32_t partition;
    int64_t next;   /* next offset to read; KOFF_EARLIEST: from the earliest */
    int64_t end;    /* bounded: read below this; -1: unbounded */
    int done;       /* bounded: reached end */
    const void *rkt; /* librdkafka's topic handle, once a message named it */
    int64_t max_ts;  /* largest event time read (WM_MIN: none) */
    int64_t tick_ts; /* max_ts when a watermark last counted it */
    int64_t last_ns; /* monotonic time of its last record (or assignment) */
} kpart;

/* Offsets of one snapshot, committed to the group when it completes. */
typedef struct kpending {
    int64_t id;
    rd_kafka_topic_partition_list_t *offsets;
} kpending;

/* The subtask's thread that talks to the cluster. */
typedef struct kdisc {
    pthread_t th;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;         /* under mu */
    kpart *out;       /* newly owned partitions, under mu */
    int nout, capout;
    int ready;        /* the first discovery is done, under mu */
    int failed;       /* under mu; err holds the message */
    mpf_err err;
    /* The thread's own. */
    char **known;     /* "topic\0" + partition as text: owned partitions seen */
    int nknown, capknown;
} kdisc;

typedef struct ksrc_state {
    const op_inst *oi;
    rd_kafka_t *rk;
    kpart *parts;
    int nparts, capparts;
    int ready;
    kdisc d;
    kpart *restored; /* every old subtask's partitions (union state) */
    int nrestored, caprestored;
    int restored_blobs;
    kpending pend[8];
    int npend;
    recbuf rb, scratch;
    /* Messages taken from the consumer in one batch, not yet handled
     * (left over when a poll had emitted a batch's worth). */
    rd_kafka_queue_t *q;
    rd_kafka_message_t *msgs[256];
    int nmsgs, atmsg;
    uint64_t warned_errs;
    int64_t last_warn_ns;
} ksrc_state;

static const char *const ksrc_keys[] = {
    "bootstrap-servers", "bootstrap.servers", "properties", "topics", "topic-pattern",
    "group-id", "starting-offsets", "offset-reset", "starting-timestamp", "bounded",
    "partition-discovery-interval", "startup-timeout", "on-parse-error", "format", "fields",
    "delimiter", NULL};

static const kafka_owned_prop ksrc_owned[] = {
    {"enable.auto.commit", "the source commits offsets to group-id when a checkpoint "
                           "completes, and restores them from checkpoints"},
    {"enable.auto.offset.store", "the source commits the offsets of completed checkpoints"},
    {"auto.offset.reset", "use the option offset-reset (earliest or latest)"},
    {"group.id", "use the option group-id"},
    {"group.protocol", "partitions are assigned by the job, not by a consumer group"},
    {"partition.assignment.strategy", "partitions are assigned by the job, not by a consumer "
                                      "group"},
    {"enable.partition.eof", "the source asks for end-of-partition events itself"},
    {NULL, NULL}};

/* ---- partition assignment (Flink's KafkaTopicPartitionAssigner) ---- */

/* Java's String.hashCode over the UTF-16 code units of a UTF-8 name. */
static int32_t java_hash(const char *s)
{
    uint32_t h = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp = *p++;
        int more = cp >= 0xf0 ? 3 : cp >= 0xe0 ? 2 : cp >= 0xc0 ? 1 : 0;
        if (more)
            cp &= (0x3fu >> more);
        for (; more && (*p & 0xc0) == 0x80; more--)
            cp = (cp << 6) | (*p++ & 0x3f);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = h * 31 + (0xd800 + (cp >> 10));
            h = h * 31 + (0xdc00 + (cp & 0x3ff));
        } else {
            h = h * 31 + cp;
        }
    }
    return (int32_t)h;
}

static int owner_of(const char *topic, int32_t partition, int parallelism)
{
    int32_t start = (int32_t)(((uint32_t)java_hash(topic) * 31u) & 0x7fffffffu) % parallelism;
    return (int)((start + partition) % parallelism);
}

/* ---- configuration ---- */

static void cfg_free(ksrc_cfg *cfg)
{
    kafka_props_fini(&cfg->props);
    for (int i = 0; i < cfg->ntopics; i++)
        free(cfg->topics[i]);
    free(cfg->topics);
    free(cfg->pattern);
    if (cfg->has_re)
        regfree(&cfg->re);
    free(cfg->group);
    for (int i = 0; i < cfg->nspecific; i++)
        free(cfg->specific[i].topic);
    free(cfg->specific);
    kafka_format_fini(&cfg->fmt);
    free(cfg);
}

static void ksrc_free(void *p)
{
    cfg_free(p);
}

/* starting-offsets as a map: {topic: {partition: offset, ...}, ...}. */
static int parse_specific(ksrc_cfg *cfg, const ynode *m, mpf_err *e)
{
    for (size_t i = 0; i < m->n; i++) {
        const ynode *t = m->items[i];
        if (t->kind != YNODE_MAP)
            return err_set(e, MPF_EJOB, "%s: starting-offsets of topic '%s' must be a map "
                           "{partition: offset, ...}", ynode_pos(t), m->keys[i]->str);
        for (size_t k = 0; k < t->n; k++) {
            int64_t part, off;
            if (ynode_as_i64(t->keys[k], &part, e) || ynode_as_i64(t->items[k], &off, e))
                return e->code;
            if (part < 0 || part > INT32_MAX || off < 0)
                return err_set(e, MPF_EJOB, "%s: starting offset of topic '%s' partition %lld "
                               "must be a partition >= 0 and an offset >= 0", ynode_pos(t->keys[k]),
                               m->keys[i]->str, (long long)part);
            cfg->specific = xrealloc(cfg->specific,
                                     (size_t)(cfg->nspecific + 1) * sizeof *cfg->specific);
            cfg->specific[cfg->nspecific++] =
                (kspec_off){xstrdup(m->keys[i]->str), (int32_t)part, off};
        }
    }
    return 0;
}

static int topic_wanted(const ksrc_cfg *cfg, const char *name)
{
    if (cfg->has_re)
        return regexec(&cfg->re, name, 0, NULL, 0) == 0;
    for (int i = 0; i < cfg->ntopics; i++)
        if (strcmp(cfg->topics[i], name) == 0)
            return 1;
    return 0;
}

static int ksrc_configure(op_spec *s, const conf *c, mpf_err *e)
{
    (void)c;
    ksrc_cfg *cfg = xcalloc(1, sizeof *cfg);
    const char *group = NULL, *pattern = NULL, *reset = "earliest", *onerr = "fail";
    int64_t ms = -1;
    cfg->discovery_ns = 300 * 1000000000LL;
    cfg->startup_ns = 30 * 1000000000LL;
    if (kafka_props_parse(s->node, s->uid, ksrc_owned, &cfg->props, e))
        goto fail_located;
    if (ynode_get_str(s->node, "group-id", 0, &group, e) ||
        ynode_get_str(s->node, "topic-pattern", 0, &pattern, e) ||
        ynode_get_str(s->node, "offset-reset", 0, &reset, e) ||
        ynode_get_str(s->node, "on-parse-error", 0, &onerr, e) ||
        ynode_get_bool(s->node, "bounded", 0, &cfg->bounded, e) ||
        srcutil_get_duration_ns(s->node, "partition-discovery-interval", &cfg->discovery_ns, e) ||
        srcutil_get_duration_ns(s->node, "startup-timeout", &cfg->startup_ns, e) ||
        srcutil_get_timestamp(s->node, "starting-timestamp", &ms, e))
        goto fail;
    cfg->group = group && group[0] ? xstrdup(group) : NULL;
    const ynode *tn = ynode_get(s->node, "topics");
    if (!!tn == !!pattern) {
        err_set(e, MPF_EJOB, "%s: give topics: [name, ...] or topic-pattern: REGEX (one of them)",
                ynode_pos(tn ? tn : s->node));
        goto fail;
    }
    if (tn && tn->kind == YNODE_SCALAR) {
        cfg->topics = xcalloc(1, sizeof *cfg->topics);
        cfg->topics[cfg->ntopics++] = xstrdup(tn->str);
    } else if (tn && tn->kind == YNODE_SEQ && tn->n > 0) {
        cfg->topics = xcalloc(tn->n, sizeof *cfg->topics);
        for (size_t i = 0; i < tn->n; i++) {
            if (tn->items[i]->kind != YNODE_SCALAR || !tn->items[i]->str[0]) {
                err_set(e, MPF_EJOB, "%s: a topic must be a name", ynode_pos(tn->items[i]));
                goto fail;
            }
            cfg->topics[cfg->ntopics++] = xstrdup(tn->items[i]->str);
        }
    } else if (tn) {
        err_set(e, MPF_EJOB, "%s: topics must be a list of topic names", ynode_pos(tn));
        goto fail;
    }
    if (pattern) {
        /* Anchored, as Java's Pattern.matcher(topic).matches(). */
        char *re = xasprintf("^(%s)$", pattern);
        int rc = regcomp(&cfg->re, re, REG_EXTENDED | REG_NOSUB);
        free(re);
        if (rc) {
            char why[128];
            regerror(rc, &cfg->re, why, sizeof why);
            err_set(e, MPF_EJOB, "%s: topic-pattern '%s' is not a regular expression: %s",
                    ynode_pos(ynode_get(s->node, "topic-pattern")), pattern, why);
            goto fail;
        }
        cfg->has_re = 1;
        cfg->pattern = xstrdup(pattern);
    }
    if (strcmp(reset, "earliest") == 0 || strcmp(reset, "latest") == 0) {
        cfg->reset_latest = reset[0] == 'l';
    } else {
        err_set(e, MPF_EJOB, "%s: offset-reset must be earliest or latest, got '%s'",
                ynode_pos(ynode_get(s->node, "offset-reset")), reset);
        goto fail;
    }
    if (strcmp(onerr, "skip") == 0 || strcmp(onerr, "fail") == 0) {
        cfg->skip_errors = onerr[0] == 's';
    } else {
        err_set(e, MPF_EJOB, "%s: on-parse-error must be skip or fail, got '%s'",
                ynode_pos(ynode_get(s->node, "on-parse-error")), onerr);
        goto fail;
    }
    if (cfg->discovery_ns < 0 || cfg->startup_ns <= 0) {
        err_set(e, MPF_EJOB, "%s: durations must be positive (partition-discovery-interval "
                "0 turns discovery off)", op_where(s));
        goto fail;
    }
    const ynode *so = ynode_get(s->node, "starting-offsets");
    cfg->start = KSTART_EARLIEST;
    if (so && so->kind == YNODE_MAP) {
        cfg->start = KSTART_SPECIFIC;
        if (parse_specific(cfg, so, e))
            goto fail;
        for (int i = 0; i < cfg->nspecific; i++)
            if (!topic_wanted(cfg, cfg->specific[i].topic)) {
                err_set(e, MPF_EJOB, "%s: starting-offsets names topic '%s', which is not "
                        "among the topics read", ynode_pos(so), cfg->specific[i].topic);
                goto fail;
            }
    } else if (so && so->kind == YNODE_SCALAR) {
        static const char *const names[] = {"earliest", "latest", "committed", "timestamp"};
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(so->str, names[i]) == 0)
                k = i;
        if (k < 0) {
            err_set(e, MPF_EJOB, "%s: starting-offsets must be earliest, latest, committed, "
                    "timestamp or a map {topic: {partition: offset}}, got '%s'", ynode_pos(so),
                    so->str);
            goto fail;
        }
        cfg->start = (enum kstart)k;
    } else if (so) {
        err_set(e, MPF_EJOB, "%s: starting-offsets must be earliest, latest, committed, "
                "timestamp or a map {topic: {partition: offset}}", ynode_pos(so));
        goto fail;
    }
    if (cfg->start == KSTART_TIMESTAMP) {
        if (ms < 0) {
            err_set(e, MPF_EJOB, "%s: starting-offsets: timestamp needs starting-timestamp "
                    "(ms or \"YYYY-MM-DD HH:MM:SS\")", ynode_pos(so));
            goto fail;
        }
        cfg->start_ts = ms;
    } else if (ynode_get(s->node, "starting-timestamp")) {
        err_set(e, MPF_EJOB, "%s: starting-timestamp needs starting-offsets: timestamp",
                ynode_pos(ynode_get(s->node, "starting-timestamp")));
        goto fail;
    }
    if (cfg->start == KSTART_COMMITTED && !cfg->group) {
        err_set(e, MPF_EJOB, "%s: starting-offsets: committed needs group-id", ynode_pos(so));
        goto fail;
    }
    if (kafka_format_configure(s->node, s->uid, &cfg->fmt, &s->out_schema, e))
        goto fail_located;
    s->cfg = cfg;
    s->bounded = cfg->bounded;
    return 0;
fail:
    err_prefix(e, "operator '%s'", s->uid);
fail_located:
    schema_fini(&s->out_schema);
    schema_init(&s->out_schema);
    cfg_free(cfg);
    return e->code;
}

static void ksrc_describe(const op_spec *s, char *buf, size_t n)
{
    const ksrc_cfg *cfg = s->cfg;
    static const char *const starts[] = {"earliest", "latest", "committed", "timestamp",
                                         "specific offsets"};
    char what[256] = "";
    if (cfg->pattern) {
        snprintf(what, sizeof what, "topics matching /%s/", cfg->pattern);
    } else {
        size_t at = 0;
        for (int i = 0; i < cfg->ntopics && at < sizeof what; i++)
            at += (size_t)snprintf(what + at, sizeof what - at, "%s%s", i ? "," : "",
                                   cfg->topics[i]);
    }
    snprintf(buf, n, "%s from %s at %s, from %s%s", kafka_format_name(&cfg->fmt), what,
             cfg->props.bootstrap, starts[cfg->start], cfg->bounded ? ", bounded" : "");
}

/* ---- the cluster: metadata and offsets (blocking; thread or JM) ---- */

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque);

/* A consumer for cfg; st (NULL on the JobManager) gets its commit
 * results. */
static rd_kafka_t *consumer_new(const ksrc_cfg *cfg, void *st, mpf_err *e)
{
    /* librdkafka's consumer API needs a group even when partitions are
     * assigned by hand; without group-id it gets one that is never
     * committed to. */
    char *group = cfg->group ? xstrdup(cfg->group) : xasprintf("mpiflow-%s", cfg->props.uid);
    /* librdkafka prefetches up to 64 MiB per consumer by default; 16 MiB
     * keeps a backpressured subtask's memory smaller unless the user
     * chose (queued.max.messages.kbytes under properties). */
    int user_queue = 0;
    for (int i = 0; i < cfg->props.n; i++)
        user_queue |= strcmp(cfg->props.key[i], "queued.max.messages.kbytes") == 0;
    const char *extra[] = {"group.id", group,
                           "enable.auto.commit", "false",
                           "enable.auto.offset.store", "false",
                           "enable.partition.eof", "true",
                           "auto.offset.reset", cfg->reset_latest ? "latest" : "earliest",
                           /* (a NULL key ends the list early) */
                           user_queue ? NULL : "queued.max.messages.kbytes", "16384",
                           NULL};
    rd_kafka_conf_t *kc = kafka_conf_build(&cfg->props, extra, e);
    free(group);
    if (!kc)
        return NULL;
    if (st) {
        rd_kafka_conf_set_offset_commit_cb(kc, commit_cb);
        rd_kafka_conf_set_opaque(kc, st);
    }
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(kc);
        err_set(e, MPF_EIO, "operator '%s': cannot create a Kafka consumer: %s",
                cfg->props.uid, errstr);
        return NULL;
    }
    return rk;
}


static int disc_stopping(kdisc *d)
{
    pthread_mutex_lock(&d->mu);
    int stop = d->stop;
    pthread_mutex_unlock(&d->mu);
    return stop;
}

/* The cluster's metadata, retried until deadline_ns (monotonic) or until
 * the thread of d (NULL on the JobManager) is told to stop. With
 * must_exist, every listed topic must be there. */
static int fetch_metadata(rd_kafka_t *rk, const ksrc_cfg *cfg, int64_t deadline_ns,
                          int must_exist, kdisc *d, const struct rd_kafka_metadata **out,
                          mpf_err *e)
{
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (;;) {
        int64_t left_ms = (deadline_ns - clock_mono_ns()) / 1000000;
        if (left_ms < 100)
            left_ms = 100;
        /* Short attempts, so that closing the source never waits long. */
        err = rd_kafka_metadata(rk, 1, NULL, out, (int)(left_ms < 1000 ? left_ms : 1000));
        if (!err)
            break;
        if (d && disc_stopping(d))
            return err_set(e, MPF_ECANCELED, "operator '%s': closed", cfg->props.uid);
        if (clock_mono_ns() >= deadline_ns)
            return err_set(e, MPF_EIO, "operator '%s': no Kafka broker at %s answered within "
                           "%.1f s (startup-timeout): %s", cfg->props.uid, cfg->props.bootstrap,
                           (double)cfg->startup_ns / 1e9, rd_kafka_err2str(err));
        struct timespec ts = {0, 200 * 1000000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; must_exist && i < cfg->ntopics; i++) {
        int found = 0;
        for (int k = 0; k < (*out)->topic_cnt; k++)
            if (strcmp((*out)->topics[k].topic, cfg->topics[i]) == 0 && !(*out)->topics[k].err &&
                (*out)->topics[k].partition_cnt > 0)
                found = 1;
        if (!found) {
            rd_kafka_metadata_destroy(*out);
            *out = NULL;
            return err_set(e, MPF_ENOENT, "operator '%s': topic '%s' does not exist on the "
                           "Kafka cluster at %s", cfg->props.uid, cfg->topics[i],
                           cfg->props.bootstrap);
        }
    }
    return 0;
}

/* JobManager, before deployment: the brokers answer and the topics
 * exist, so such mistakes fail the job once instead of every attempt. */
static int ksrc_global_init(const op_spec *s, mpf_err *e)
{
    const ksrc_cfg *cfg = s->cfg;
    rd_kafka_t *rk = consumer_new(cfg, NULL, e);
    if (!rk)
        return e->code;
    const struct rd_kafka_metadata *md = NULL;
    int rc = fetch_metadata(rk, cfg, clock_mono_ns() + cfg->startup_ns, 1, NULL, &md, e);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

static const kpart *restored_find(const ksrc_state *st, const char *topic, int32_t partition)
{
    for (int i = 0; i < st->nrestored; i++)
        if (st->restored[i].partition == partition && strcmp(st->restored[i].topic, topic) == 0)
            return &st->restored[i];
    return NULL;
}

static int known_add(kdisc *d, const char *topic, int32_t partition)
{
    char *k = xasprintf("%s/%d", topic, partition);
    for (int i = 0; i < d->nknown; i++)
        if (strcmp(d->known[i], k) == 0) {
            free(k);
            return 0;
        }
    if (d->nknown == d->capknown) {
        d->capknown = d->capknown ? d->capknown * 2 : 16;
        d->known = xrealloc(d->known, (size_t)d->capknown * sizeof *d->known);
    }
    d->known[d->nknown++] = k;
    return 1;
}

static int64_t query_high(rd_kafka_t *rk, const kpart *p, int64_t timeout_ms, mpf_err *e,
                          const char *uid)
{
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo, &hi, (int)timeout_ms);
    if (err) {
        err_set(e, MPF_EIO, "operator '%s': topic '%s' partition %d: cannot read its end "
                "offset: %s", uid, p->topic, p->partition, rd_kafka_err2str(err));
        return -1;
    }
    return hi;
}

/* Starting offsets of partitions owned at a fresh start (first
 * discovery, nothing restored), by the starting-offsets option. */
static int resolve_start(rd_kafka_t *rk, const ksrc_cfg *cfg, kpart *np, int n, mpf_err *e)
{
    const int timeout_ms = (int)(cfg->startup_ns / 1000000);
    const char *uid = cfg->props.uid;
    rd_kafka_topic_partition_list_t *l = NULL;
    int rc = 0;
    if (cfg->start == KSTART_TIMESTAMP || cfg->start == KSTART_COMMITTED) {
        l = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++)
            rd_kafka_topic_partition_list_add(l, np[i].topic, np[i].partition)->offset =
                cfg->start == KSTART_TIMESTAMP ? cfg->start_ts : RD_KAFKA_OFFSET_INVALID;
        rd_kafka_resp_err_t err = cfg->start == KSTART_TIMESTAMP
                                      ? rd_kafka_offsets_for_times(rk, l, timeout_ms)
                                      : rd_kafka_committed(rk, l, timeout_ms);
        if (err) {
            rc = err_set(e, MPF_EIO, "operator '%s': cannot read the %s offsets: %s", uid,
                         cfg->start == KSTART_TIMESTAMP ? "starting-timestamp's" : "committed",
                         rd_kafka_err2str(err));
            goto out;
        }
    }
    for (int i = 0; i < n; i++) {
        kpart *p = &np[i];
        int64_t off = RD_KAFKA_OFFSET_INVALID;
        int reset_latest = cfg->reset_latest;
        switch (cfg->start) {
        case KSTART_EARLIEST:
            off = KOFF_EARLIEST;
            break;
        case KSTART_LATEST:
            reset_latest = 1;
            break;
        case KSTART_TIMESTAMP:
        case KSTART_COMMITTED: {
            rd_kafka_topic_partition_t *r = &l->elems[i];
            if (r->err && r->err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
                rc = err_set(e, MPF_EIO, "operator '%s': topic '%s' partition %d: cannot read "
                             "its starting offset: %s", uid, p->topic, p->partition,
                             rd_kafka_err2str(r->err));
                goto out;
            }
            if (r->offset >= 0)
                off = r->offset;
            else if (cfg->start == KSTART_TIMESTAMP) /* no record at or after it */
                reset_latest = 1;
            break;
        }
        case KSTART_SPECIFIC:
            for (int k = 0; k < cfg->nspecific; k++)
                if (cfg->specific[k].partition == p->partition &&
                    strcmp(cfg->specific[k].topic, p->topic) == 0)
                    off = cfg->specific[k].offset;
            break;
        }
        if (off == RD_KAFKA_OFFSET_INVALID) {
            if (!reset_latest) {
                off = KOFF_EARLIEST;
            } else if ((off = query_high(rk, p, timeout_ms, e, uid)) < 0) {
                rc = e->code;
                goto out;
            }
        }
        p->next = off;
    }
out:
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* One discovery: the partitions this subtask newly owns, with their
 * offsets, appended to the loop's list. */
static int discover(ksrc_state *st, int first, mpf_err *e)
{
    const ksrc_cfg *cfg = st->oi->spec->cfg;
    kdisc *d = &st->d;
    int par = st->oi->spec->parallelism, me = st->oi->subtask;
    int64_t deadline = clock_mono_ns() + (first ? cfg->startup_ns : 10 * 1000000000LL);
    const struct rd_kafka_metadata *md = NULL;
    if (fetch_metadata(st->rk, cfg, deadline, first, d, &md, e))
        return e->code;
    kpart *np = NULL;
    int n = 0, cap = 0;
    for (int t = 0; t < md->topic_cnt; t++) {
        const struct rd_kafka_metadata_topic *mt = &md->topics[t];
        if (mt->err || !topic_wanted(cfg, mt->topic))
            continue;
        for (int k = 0; k < mt->partition_cnt; k++) {
            int32_t pid = mt->partitions[k].id;
            if (owner_of(mt->topic, pid, par) != me || !known_add(d, mt->topic, pid))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                np = xrealloc(np, (size_t)cap * sizeof *np);
            }
            np[n++] = (kpart){.topic = xstrdup(mt->topic), .partition = pid,
                              .next = KOFF_EARLIEST, .end = -1, .max_ts = WM_MIN,
                              .tick_ts = WM_MIN};
        }
    }
    rd_kafka_metadata_destroy(md);
    int rc = 0;
    /* Restored partitions go on where the checkpoint was; the others are
     * new unless this is a fresh start's first discovery. */
    kpart *fresh = xcalloc((size_t)n + 1, sizeof *fresh);
    int nfresh = 0;
    for (int i = 0; i < n; i++) {
        const kpart *r = restored_find(st, np[i].topic, np[i].partition);
        if (r) {
            np[i].next = r->next;
            np[i].end = r->end;
        } else if (first && !st->restored_blobs) {
            fresh[nfresh++] = np[i];
        } else if (first && cfg->bounded) {
            np[i].end = -2; /* resolved below */
        }
    }
    if (nfresh && (rc = resolve_start(st->rk, cfg, fresh, nfresh, e)) == 0) {
        for (int i = 0, j = 0; i < n && j < nfresh; i++)
            if (np[i].topic == fresh[j].topic)
                np[i].next = fresh[j++].next;
    }
    free(fresh);
    for (int i = 0; !rc && i < n && cfg->bounded && first; i++) {
        if (np[i].end != -1 && np[i].end != -2)
            continue;
        if ((np[i].end = query_high(st->rk, &np[i], cfg->startup_ns / 1000000, e,
                                    cfg->props.uid)) < 0)
            rc = e->code;
    }
    if (first && !rc)
        log_info("operator '%s' subtask %d/%d: reading %d Kafka partition(s)%s", cfg->props.uid,
                 me + 1, par, n, n ? "" : " (idle)");
    else if (!first && n)
        log_info("operator '%s' subtask %d: %d new partition(s) found, read from the earliest "
                 "offset (first: topic '%s' partition %d)", cfg->props.uid, me + 1, n,
                 np[0].topic, np[0].partition);
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < n; i++) {
        if (rc) {
            free(np[i].topic);
            continue;
        }
        if (d->nout == d->capout) {
            d->capout = d->capout ? d->capout * 2 : 16;
            d->out = xrealloc(d->out, (size_t)d->capout * sizeof *d->out);
        }
        d->out[d->nout++] = np[i];
    }
    if (!rc)
        d->ready = 1;
    pthread_mutex_unlock(&d->mu);
    free(np);
    return rc;
}

static void *disc_main(void *arg)
{
    ksrc_state *st = arg;
    const ksrc_cfg *cfg = st->oi->spec->cfg;
    kdisc *d = &st->d;
    mpf_err e = {0};
    if (discover(st, 1, &e)) {
        pthread_mutex_lock(&d->mu);
        d->err = e;
        d->failed = 1;
        pthread_mutex_unlock(&d->mu);
        return NULL;
    }
    if (cfg->bounded || !cfg->discovery_ns)
        return NULL;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + cfg->discovery_ns;
        ts.tv_sec = at / 1000000000;
        ts.tv_nsec = at % 1000000000;
        while (!d->stop && pthread_cond_timedwait(&d->cv, &d->mu, &ts) != ETIMEDOUT)
            ;
        if (d->stop)
            break;
        pthread_mutex_unlock(&d->mu);
        err_clear(&e);
        if (discover(st, 0, &e))
            log_warn("operator '%s' subtask %d: partition discovery failed, retried in the "
                     "next interval: %s", cfg->props.uid, st->oi->subtask + 1, e.msg);
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ---- run time ---- */

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)offsets;
    const ksrc_state *st = opaque;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("operator '%s' subtask %d: committing offsets to group '%s' failed (only "
                 "lag monitoring is affected): %s", st->oi->spec->uid, st->oi->subtask + 1,
                 ((const ksrc_cfg *)st->oi->spec->cfg)->group, rd_kafka_err2str(err));
}

static int ksrc_open(op_inst *oi, mpf_err *e)
{
    const ksrc_cfg *cfg = oi->spec->cfg;
    ksrc_state *st = xcalloc(1, sizeof *st);
    st->oi = oi;
    st->rk = consumer_new(cfg, st, e);
    if (!st->rk) {
        free(st);
        return e->code;
    }
    rd_kafka_poll_set_consumer(st->rk);
    st->q = rd_kafka_queue_get_consumer(st->rk);
    pthread_mutex_init(&st->d.mu, NULL);
    pthread_cond_init(&st->d.cv, NULL);
    recbuf_init(&st->rb);
    recbuf_init(&st->scratch);
    oi->st = st;
    return 0;
}

static int disc_start(ksrc_state *st, mpf_err *e)
{
    if (st->d.running)
        return 0;
    int rc = pthread_create(&st->d.th, NULL, disc_main, st);
    if (rc)
        return err_set(e, MPF_EIO, "operator '%s': cannot start the Kafka discovery thread: %s",
                       st->oi->spec->uid, strerror(rc));
    st->d.running = 1;
    return 0;
}

static int ksrc_start(op_inst *oi, mpf_err *e)
{
    return disc_start(oi->st, e);
}

static void kpart_add(ksrc_state *st, const kpart *p)
{
    if (st->nparts == st->capparts) {
        st->capparts = st->capparts ? st->capparts * 2 : 16;
        st->parts = xrealloc(st->parts, (size_t)st->capparts * sizeof *st->parts);
    }
    st->parts[st->nparts++] = *p;
}

static int unassign(ksrc_state *st, const kpart *p)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    rd_kafka_error_t *err = rd_kafka_incremental_unassign(st->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        rd_kafka_error_destroy(err); /* it stops being read either way */
    return 0;
}

/* Take the partitions the thread found and start reading them. */
static int take_new(ksrc_state *st, mpf_err *e)
{
    kdisc *d = &st->d;
    pthread_mutex_lock(&d->mu);
    if (d->failed) {
        *e = d->err;
        pthread_mutex_unlock(&d->mu);
        return e->code;
    }
    int n = d->nout;
    kpart *np = d->out;
    d->out = NULL;
    d->nout = d->capout = 0;
    st->ready = d->ready;
    pthread_mutex_unlock(&d->mu);
    if (!n)
        return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    int64_t now = clock_mono_ns();
    for (int i = 0; i < n; i++) {
        np[i].last_ns = now;
        np[i].done = np[i].end >= 0 && np[i].next >= np[i].end;
        kpart_add(st, &np[i]);
        if (!np[i].done)
            rd_kafka_topic_partition_list_add(l, np[i].topic, np[i].partition)->offset =
                np[i].next;
    }
    free(np);
    int rc = 0;
    if (l->cnt) {
        rd_kafka_error_t *err = rd_kafka_incremental_assign(st->rk, l);
        if (err) {
            rc = err_set(e, MPF_EIO, "operator '%s': cannot assign %d Kafka partition(s): %s",
                         st->oi->spec->uid, l->cnt, rd_kafka_error_string(err));
            rd_kafka_error_destroy(err);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

static kpart *find_part(ksrc_state *st, const rd_kafka_message_t *m)
{
    for (int i = 0; i < st->nparts; i++)
        if (st->parts[i].partition == m->partition && st->parts[i].rkt == m->rkt)
            return &st->parts[i];
    const char *name = rd_kafka_topic_name(m->rkt);
    for (int i = 0; i < st->nparts; i++)
        if (st->parts[i].partition == m->partition && strcmp(st->parts[i].topic, name) == 0) {
            st->parts[i].rkt = m->rkt;
            return &st->parts[i];
        }
    return NULL;
}

static int all_done(const ksrc_state *st)
{
    for (int i = 0; i < st->nparts; i++)
        if (!st->parts[i].done)
            return 0;
    return 1;
}

/* A consumer error event: fatal ones fail the task; the others
 * (brokers down, retried by librdkafka) are logged, at most every 10 s. */
static int on_consumer_error(ksrc_state *st, const rd_kafka_message_t *m, mpf_err *e)
{
    char fatal[512];
    if (m->err == RD_KAFKA_RESP_ERR__FATAL &&
        rd_kafka_fatal_error(st->rk, fatal, sizeof fatal))
        return err_set(e, MPF_EIO, "operator '%s': Kafka consumer failed: %s",
                       st->oi->spec->uid, fatal);
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
    if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
        return err_set(e, MPF_EIO, "operator '%s': topic '%s' partition %d: %s",
                       st->oi->spec->uid, topic ? topic : "?", m->partition,
                       rd_kafka_err2str(m->err));
    int64_t now = clock_mono_ns();
    st->warned_errs++;
    if (now - st->last_warn_ns >= 10 * 1000000000LL) {
        st->last_warn_ns = now;
        log_warn("operator '%s' subtask %d: Kafka: %s%s%s (retrying)", st->oi->spec->uid,
                 st->oi->subtask + 1, topic ? topic : "", topic ? ": " : "",
                 rd_kafka_message_errstr(m));
    }
    return 0;
}

static int ksrc_poll(op_inst *oi, mpf_err *e)
{
    const ksrc_cfg *cfg = oi->spec->cfg;
    ksrc_state *st = oi->st;
    if (!st->d.running && disc_start(st, e))
        return e->code;
    if (take_new(st, e))
        return e->code;
    if (!st->ready)
        return MPF_EAGAIN;
    size_t seg = segpool_segment_size(), emitted = 0;
    size_t max_rec = seg - BATCH_HDR_SIZE - 8;
    int wmf = oi->spec->wm_field;
    int64_t now = -1;
    for (int budget = 4096; budget > 0 && emitted < seg; budget--) {
        if (st->atmsg == st->nmsgs) {
            /* A batch costs one lock of the consumer's queue instead of
             * one per message (rd_kafka_consumer_poll). */
            ssize_t got = rd_kafka_consume_batch_queue(st->q, 0, st->msgs,
                                                       sizeof st->msgs / sizeof st->msgs[0]);
            st->atmsg = 0;
            st->nmsgs = got > 0 ? (int)got : 0;
            if (!st->nmsgs)
                break;
        }
        rd_kafka_message_t *m = st->msgs[st->atmsg++];
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            kpart *p = find_part(st, m);
            if (p && p->end >= 0 && m->offset >= p->end && !p->done) {
                p->done = 1;
                unassign(st, p);
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            int rc = on_consumer_error(st, m, e);
            rd_kafka_message_destroy(m);
            if (rc)
                return rc;
            continue;
        }
        kpart *p = find_part(st, m);
        if (!p || p->done || (p->end >= 0 && m->offset >= p->end)) {
            if (p && !p->done) {
                p->done = 1;
                unassign(st, p);
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        rd_kafka_timestamp_type_t tstype;
        kafka_msg km = {p->topic, p->partition, m->offset,
                        rd_kafka_message_timestamp(m, &tstype), m->key, m->key_len,
                        m->payload, m->len};
        char why[300];
        int bad = kafka_format_decode(&cfg->fmt, &oi->spec->out_schema, &km, &st->rb,
                                      &st->scratch, why, sizeof why);
        if (!bad && st->rb.len > max_rec) {
            snprintf(why, sizeof why, "a record of %zu bytes does not fit a record batch "
                     "(raise taskmanager.memory.segment-size)", st->rb.len);
            bad = 1;
        }
        p->next = m->offset + 1;
        rd_kafka_message_destroy(m);
        if (bad) {
            if (cfg->skip_errors) {
                oi->records_skipped++;
            } else {
                return err_set(e, MPF_EPARSE, "operator '%s': topic '%s' partition %d offset "
                               "%lld: %s record: %s (on-parse-error: skip drops such records)",
                               oi->spec->uid, p->topic, p->partition, (long long)km.offset,
                               kafka_format_name(&cfg->fmt), why);
            }
        } else {
            if (wmf >= 0) {
                int64_t ts = rd_i64(rec_field(&oi->spec->out_schema, st->rb.p, wmf));
                if (ts > p->max_ts)
                    p->max_ts = ts;
            }
            op_emit(oi, st->rb.p, (uint32_t)st->rb.len);
            emitted += st->rb.len;
        }
        if (now < 0)
            now = clock_mono_ns();
        p->last_ns = now;
        if (p->end >= 0 && p->next >= p->end) {
            p->done = 1;
            unassign(st, p);
        }
    }
    if (cfg->bounded && all_done(st))
        return 0;
    return MPF_EAGAIN;
}

/* The minimum over the partitions being read of their largest event time
 * less out-of-orderness (Flink's per-split watermarks); with idleness,
 * partitions without records for that long are left out. A subtask that
 * reads no partition is idle (as Flink's Kafka source marks it). */
static int ksrc_split_watermark(op_inst *oi, int64_t now_ns, int64_t *wm)
{
    const op_spec *s = oi->spec;
    ksrc_state *st = oi->st;
    int active = 0;
    int64_t m = WM_MAX;
    for (int i = 0; i < st->nparts; i++) {
        kpart *p = &st->parts[i];
        /* Idle: nothing read for the idleness, and what it read before
         * was counted in an earlier watermark (a burst read just before
         * a late tick still moves the watermark once). */
        if (p->done || (s->wm_idle_ns && now_ns - p->last_ns >= s->wm_idle_ns &&
                        p->max_ts == p->tick_ts))
            continue;
        p->tick_ts = p->max_ts;
        active = 1;
        int64_t w = p->max_ts == WM_MIN ? WM_MIN : p->max_ts - s->wm_delay_ms - 1;
        if (w < m)
            m = w;
    }
    if (!active)
        return !st->ready ? (*wm = WM_MIN, 1) : 0;
    *wm = m;
    return 1;
}

/* ---- checkpoints ---- */

static rd_kafka_topic_partition_list_t *positions(const ksrc_state *st)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(st->nparts);
    for (int i = 0; i < st->nparts; i++)
        if (st->parts[i].next >= 0)
            rd_kafka_topic_partition_list_add(l, st->parts[i].topic, st->parts[i].partition)
                ->offset = st->parts[i].next;
    return l;
}

static int ksrc_snapshot(op_inst *oi, snap_writer *w, mpf_err *e)
{
    const ksrc_cfg *cfg = oi->spec->cfg;
    ksrc_state *st = oi->st;
    if (take_new(st, e)) /* what the thread found is owned from now on */
        return e->code;
    size_t len = 8;
    for (int i = 0; i < st->nparts; i++)
        len += 4 + strlen(st->parts[i].topic) + 4 + 8 + 8;
    uint8_t *b = xmalloc(len), *q = b;
    wr_u32(q, KSNAP_VERSION);
    wr_u32(q + 4, (uint32_t)st->nparts);
    q += 8;
    for (int i = 0; i < st->nparts; i++) {
        const kpart *p = &st->parts[i];
        uint32_t tl = (uint32_t)strlen(p->topic);
        wr_u32(q, tl);
        memcpy(q + 4, p->topic, tl);
        q += 4 + tl;
        wr_u32(q, (uint32_t)p->partition);
        wr_i64(q + 4, p->next);
        wr_i64(q + 12, p->end);
        q += 20;
    }
    snap_put(w, SNAP_OPERATOR, -1, b, len);
    free(b);
    if (cfg->group) {
        if (st->npend == (int)(sizeof st->pend / sizeof st->pend[0])) {
            rd_kafka_topic_partition_list_destroy(st->pend[0].offsets);
            memmove(st->pend, st->pend + 1, (size_t)--st->npend * sizeof *st->pend);
        }
        st->pend[st->npend++] = (kpending){snap_id(w), positions(st)};
    }
    return 0;
}

/* Parse one blob; each entry to fn. Returns 0 or -1 when malformed. */
static int snap_parse(const snap_blob *b, void (*fn)(void *ctx, const kpart *p), void *ctx)
{
    blobrd r;
    blobrd_init(&r, b);
    uint32_t version = blobrd_u32(&r), n = blobrd_u32(&r);
    if (r.bad || version != KSNAP_VERSION)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t tl = blobrd_u32(&r);
        const uint8_t *t = blobrd_bytes(&r, tl);
        uint32_t part = blobrd_u32(&r);
        int64_t next = blobrd_i64(&r), end = blobrd_i64(&r);
        if (r.bad || tl == 0 || memchr(t, 0, tl) || (int32_t)part < 0 ||
            (next < 0 && next != KOFF_EARLIEST) || end < -1)
            return -1;
        char *topic = xmalloc(tl + 1);
        memcpy(topic, t, tl);
        topic[tl] = '\0';
        kpart p = {.topic = topic, .partition = (int32_t)part, .next = next, .end = end};
        if (fn)
            fn(ctx, &p);
        free(topic);
    }
    return r.p == r.end ? 0 : -1;
}

static void restored_add(void *ctx, const kpart *p)
{
    ksrc_state *st = ctx;
    if (st->nrestored == st->caprestored) {
        st->caprestored = st->caprestored ? st->caprestored * 2 : 16;
        st->restored = xrealloc(st->restored, (size_t)st->caprestored * sizeof *st->restored);
    }
    kpart *q = &st->restored[st->nrestored++];
    *q = *p;
    q->topic = xstrdup(p->topic);
}

static int ksrc_restore(op_inst *oi, const snap_blob *b, mpf_err *e)
{
    ksrc_state *st = oi->st;
    if (b->kind != SNAP_OPERATOR || snap_parse(b, restored_add, st))
        return blobrd_error(oi, b, e);
    st->restored_blobs++;
    return 0;
}

typedef struct describe_ctx {
    char *buf;
    size_t n, at;
    int count;
} describe_ctx;

static void describe_one(void *ctx, const kpart *p)
{
    describe_ctx *c = ctx;
    if (c->at + 1 >= c->n)
        return;
    char next[32], end[40] = "";
    if (p->next == KOFF_EARLIEST)
        snprintf(next, sizeof next, "earliest");
    else
        snprintf(next, sizeof next, "%lld", (long long)p->next);
    if (p->end >= 0)
        snprintf(end, sizeof end, " (end %lld)", (long long)p->end);
    int w = snprintf(c->buf + c->at, c->n - c->at, "%s%s/%d next %s%s", c->count ? ", " : "",
                     p->topic, p->partition, next, end);
    c->at += w > 0 ? (size_t)w : 0;
    if (c->at >= c->n)
        c->at = c->n - 1;
    c->count++;
}

/* "topic/partition next OFFSET[ (end E)], ..." */
static void ksrc_describe_state(const snap_blob *b, char *buf, size_t n)
{
    describe_ctx c = {buf, n, 0, 0};
    if (!n)
        return;
    buf[0] = '\0';
    if (snap_parse(b, NULL, NULL)) {
        snprintf(buf, n, "malformed Kafka offsets (%zu bytes)", b->len);
        return;
    }
    snap_parse(b, describe_one, &c);
    if (!c.count)
        snprintf(buf, n, "no partitions");
}

static int ksrc_checkpoint_complete(op_inst *oi, int64_t id, mpf_err *e)
{
    (void)e;
    ksrc_state *st = oi->st;
    int k = -1;
    for (int i = 0; i < st->npend; i++)
        if (st->pend[i].id == id)
            k = i;
    if (k < 0)
        return 0;
    if (st->pend[k].offsets->cnt) {
        rd_kafka_resp_err_t err = rd_kafka_commit(st->rk, st->pend[k].offsets, 1);
        if (err)
            log_warn("operator '%s' subtask %d: committing the offsets of checkpoint %lld "
                     "failed (only lag monitoring is affected): %s", oi->spec->uid,
                     oi->subtask + 1, (long long)id, rd_kafka_err2str(err));
    }
    for (int i = 0; i <= k; i++)
        rd_kafka_topic_partition_list_destroy(st->pend[i].offsets);
    memmove(st->pend, st->pend + k + 1, (size_t)(st->npend - k - 1) * sizeof *st->pend);
    st->npend -= k + 1;
    return 0;
}

static int ksrc_checkpoint_aborted(op_inst *oi, int64_t id, mpf_err *e)
{
    (void)e;
    ksrc_state *st = oi->st;
    int keep = 0;
    for (int i = 0; i < st->npend; i++) {
        if (st->pend[i].id <= id)
            rd_kafka_topic_partition_list_destroy(st->pend[i].offsets);
        else
            st->pend[keep++] = st->pend[i];
    }
    st->npend = keep;
    return 0;
}

static void ksrc_close(op_inst *oi)
{
    ksrc_state *st = oi->st;
    if (!st)
        return;
    if (st->d.running) {
        pthread_mutex_lock(&st->d.mu);
        st->d.stop = 1;
        pthread_cond_broadcast(&st->d.cv);
        pthread_mutex_unlock(&st->d.mu);
        pthread_join(st->d.th, NULL);
    }
    for (int i = 0; i < st->d.nout; i++)
        free(st->d.out[i].topic);
    free(st->d.out);
    for (int i = 0; i < st->d.nknown; i++)
        free(st->d.known[i]);
    free(st->d.known);
    pthread_mutex_destroy(&st->d.mu);
    pthread_cond_destroy(&st->d.cv);
    for (int i = 0; i < st->npend; i++)
        rd_kafka_topic_partition_list_destroy(st->pend[i].offsets);
    while (st->atmsg < st->nmsgs)
        rd_kafka_message_destroy(st->msgs[st->atmsg++]);
    if (st->q)
        rd_kafka_queue_destroy(st->q);
    if (st->rk) {
        /* Close the consumer (its pending offset commits go out) but wait
         * at most 2 s: a cancel must not hang on brokers that are gone. */
        rd_kafka_queue_t *q = rd_kafka_queue_new(st->rk);
        rd_kafka_error_t *err = rd_kafka_consumer_close_queue(st->rk, q);
        if (err) {
            rd_kafka_error_destroy(err);
        } else {
            int64_t until = clock_mono_ns() + 2000000000LL;
            while (!rd_kafka_consumer_closed(st->rk) && clock_mono_ns() < until) {
                rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20);
                if (ev)
                    rd_kafka_event_destroy(ev);
            }
        }
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy_flags(st->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    }
    for (int i = 0; i < st->nparts; i++)
        free(st->parts[i].topic);
    free(st->parts);
    for (int i = 0; i < st->nrestored; i++)
        free(st->restored[i].topic);
    free(st->restored);
    recbuf_fini(&st->rb);
    recbuf_fini(&st->scratch);
    free(st);
    oi->st = NULL;
}

const op_kind op_src_kafka = {
    .name = "kafka",
    .role = OP_SOURCE,
    .keys = ksrc_keys,
    .summary = "records from Kafka topics (raw, csv or json), partitions assigned by the job",
    .configure = ksrc_configure,
    .free_cfg = ksrc_free,
    .describe = ksrc_describe,
    .global_init = ksrc_global_init,
    .open = ksrc_open,
    .poll = ksrc_poll,
    .start = ksrc_start,
    .snapshot = ksrc_snapshot,
    .restore = ksrc_restore,
    .union_state = 1,
    .checkpoint_complete = ksrc_checkpoint_complete,
    .checkpoint_aborted = ksrc_checkpoint_aborted,
    .describe_state = ksrc_describe_state,
    .split_watermark = ksrc_split_watermark,
    .close = ksrc_close,
};
