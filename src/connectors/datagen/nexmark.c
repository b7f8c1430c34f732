/* `source: nexmark`: the Nexmark auction benchmark's Person, Auction and
 * Bid streams, generated deterministically with event times (connectors layer).
 *
 * The rules follow the Nexmark generator of the Flink benchmark
 * (github.com/nexmark/nexmark, nexmark-flink/src/main/java/com/github/
 * nexmark/flink/: generator/GeneratorConfig.java, NexmarkGenerator.java,
 * generator/model/{PersonGenerator,AuctionGenerator,BidGenerator,
 * PriceGenerator,StringsGenerator,LongGenerator}.java, defaults from
 * NexmarkConfiguration.java and source/NexmarkSourceOptions.java, field
 * names from resources/queries/ddl_gen.sql and ddl_views.sql), which is
 * Apache Beam's generator (sdks/java/testing/nexmark/.../sources/generator)
 * plus the bid channel and url:
 *  - Event e (0, 1, 2, ...) is a person when e % 50 < 1, an auction when
 *    e % 50 < 4, else a bid (proportions 1:3:46).
 *  - Person ids are 1000 + e/50; auction ids 1000 + 3*(e/50) + e%50 - 1:
 *    ids grow with the sequence and never repeat.
 *  - A bid is for the "hot" auction ((last auction id / 100) * 100) with
 *    probability 1/2 (hotAuctionRatio 2), else for a random one of the
 *    last 100 in-flight auctions plus a lead of 10 not yet created; the
 *    bidder is the hot bidder ((last person / 100) * 100 + 1) with
 *    probability 3/4 (hotBiddersRatio 4), else one of the last 1000 active
 *    people plus a lead of 10. An auction's seller is the hot seller
 *    ((last person / 100) * 100) with probability 3/4 (hotSellersRatio
 *    4), else an active person like a bidder. So a reference may name an
 *    id up to 10 ahead of the last one created, as in Nexmark.
 *  - Prices are round(10^(6u) * 100) cents for uniform u; reserve =
 *    initial_bid + another price; category 10 + [0, 5); expires =
 *    date_time + 1 + uniform[0, 2 * horizon), where horizon is the event
 *    time 100 auctions (1666 events) ahead.
 *  - date_time of event e is base-time + floor(e * (1e6 /
 *    first-event-rate) us) in ms: one global timeline (Nexmark with one
 *    generator), so event times do not depend on the parallelism.
 *  - Strings: names, cities and states from Nexmark's small lists; random
 *    strings of 3..max-1 letters with spaces (1 in 13), trimmed; credit
 *    cards "dddd dddd dddd dddd"; channel is one of 4 hot channels with
 *    probability 1/2, else "channel-<n>", n < 10000, with a url derived
 *    from n; `extra` pads a person to ~200 bytes, an auction to ~500 and a
 *    bid to ~100, as the average sizes of NexmarkConfiguration.
 * Simplifications: the random numbers differ from Java's (each event has
 * its own counter-based stream keyed by seed and event number, so the data
 * are the same at any parallelism), no out-of-order groups, no rate shape.
 *
 * Options: stream (person|auction|bid, required), events (total events of
 * all three kinds; absent: unbounded), events-per-second (total pace
 * through the event sequence across subtasks; 0: unlimited), seed,
 * first-event-rate (default 10000, the Nexmark source's
 * `first-event.rate`), base-time (default 2015-07-15 00:00:00, Beam's
 * NexmarkUtils.BASE_TIME), extra (false: empty `extra` strings).
 *
 * Subtask i of p walks event numbers i, i+p, ... (until a restore at
 * another parallelism splits the rest anew, see seqsplit.h) and emits
 * those of its stream; three nexmark operators with the same options therefore see the
 * same global sequence, together produce every event exactly once, and
 * advance through event time at the same pace. Counters: records_in =
 * events of the sequence walked (all kinds), records_out = events emitted.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/op.h"
#include "connectors/datagen/seqsplit.h"
#include "connectors/srcutil.h"
#include "record/segpool.h"
#include "util/xmalloc.h"

/* NexmarkConfiguration / GeneratorConfig defaults. */
#define NX_PERSON_PROPORTION 1
#define NX_AUCTION_PROPORTION 3
#define NX_TOTAL_PROPORTION 50
#define NX_FIRST_PERSON_ID 1000
#define NX_FIRST_AUCTION_ID 1000
#define NX_FIRST_CATEGORY_ID 10
#define NX_NUM_CATEGORIES 5
#define NX_HOT_AUCTION_RATIO 2
#define NX_HOT_SELLERS_RATIO 4
#define NX_HOT_BIDDERS_RATIO 4
#define NX_HOT_BATCH 100 /* HOT_AUCTION/BIDDER/SELLER_RATIO constants */
#define NX_IN_FLIGHT_AUCTIONS 100
#define NX_ACTIVE_PEOPLE 1000
#define NX_ID_LEAD 10
#define NX_PERSON_AVG_SIZE 200
#define NX_AUCTION_AVG_SIZE 500
#define NX_BID_AVG_SIZE 100
#define NX_HOT_CHANNELS_RATIO 2
#define NX_CHANNELS 10000
#define NX_BASE_TIME 1436918400000LL /* 2015-07-15T00:00:00Z */

enum nx_stream { NX_PERSON, NX_AUCTION, NX_BID };
static const char *const nx_stream_names[] = {"person", "auction", "bid"};

typedef struct nx_cfg {
    int stream;
    int64_t events; /* -1: unbounded */
    double rate;    /* events per second in total; 0: unlimited */
    uint64_t seed;
    double first_event_rate;
    double delay_us; /* between consecutive events */
    int64_t base_time;
    int extra;
} nx_cfg;

typedef struct nx_state {
    seqsplit events; /* first: the event numbers this subtask still walks (seqsplit_op_*) */
    int64_t walked; /* events walked (all kinds) */
    srcutil_rate rl;
    recbuf rb;
    /* Channel names and urls depend only on the channel: built once, on
     * first use (Nexmark's BidGenerator caches them too). */
    char **chan_name, **chan_url;
    uint16_t *name_len, *url_len;
} nx_state;

static const char *const nx_keys[] = {"stream", "seed", "events", "events-per-second",
                                      "first-event-rate", "base-time", "extra", NULL};

static const char *const us_states[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
static const char *const us_cities[] = {"Phoenix", "Los Angeles", "San Francisco", "Boise",
                                        "Portland", "Bend", "Redmond", "Seattle", "Kent",
                                        "Cheyenne"};
static const char *const first_names[] = {"Peter", "Paul", "Luke", "John", "Saul", "Vicky",
                                          "Kate", "Julie", "Sarah", "Deiter", "Walter"};
static const char *const last_names[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                         "Walton", "Smith", "Jones", "Noris"};
static const char *const hot_channels[] = {"Google", "Facebook", "Baidu", "Apple"};
#define NELEM(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* ------------------------------------------------------------ the rules */

static int nx_kind_of(int64_t e)
{
    int64_t off = e % NX_TOTAL_PROPORTION;
    return off < NX_PERSON_PROPORTION                          ? NX_PERSON
           : off < NX_PERSON_PROPORTION + NX_AUCTION_PROPORTION ? NX_AUCTION
                                                                : NX_BID;
}

/* Base-0 id of the last person created at or before event e. */
static int64_t last_person(int64_t e)
{
    int64_t epoch = e / NX_TOTAL_PROPORTION, off = e % NX_TOTAL_PROPORTION;
    if (off >= NX_PERSON_PROPORTION)
        off = NX_PERSON_PROPORTION - 1;
    return epoch * NX_PERSON_PROPORTION + off;
}

/* Base-0 id of the last auction created at or before event e (-1 before
 * the first). */
static int64_t last_auction(int64_t e)
{
    int64_t epoch = e / NX_TOTAL_PROPORTION, off = e % NX_TOTAL_PROPORTION;
    if (off < NX_PERSON_PROPORTION) {
        epoch--;
        off = NX_AUCTION_PROPORTION - 1;
    } else if (off >= NX_PERSON_PROPORTION + NX_AUCTION_PROPORTION) {
        off = NX_AUCTION_PROPORTION - 1;
    } else {
        off -= NX_PERSON_PROPORTION;
    }
    return epoch * NX_AUCTION_PROPORTION + off;
}

/* One of the active people, or up to NX_ID_LEAD not created yet. */
static int64_t random_person(int64_t e, srcrng *r)
{
    int64_t people = last_person(e) + 1;
    int64_t active = people < NX_ACTIVE_PEOPLE ? people : NX_ACTIVE_PEOPLE;
    return people - active + srcrng_below(r, active + NX_ID_LEAD);
}

/* One of the auctions likely in flight, or a few not created yet. */
static int64_t random_auction(int64_t e, srcrng *r)
{
    int64_t hi = last_auction(e);
    int64_t lo = hi - NX_IN_FLIGHT_AUCTIONS > 0 ? hi - NX_IN_FLIGHT_AUCTIONS : 0;
    return lo + srcrng_below(r, hi - lo + 1 + NX_ID_LEAD);
}

static int64_t nx_time(const nx_cfg *cfg, int64_t e)
{
    return cfg->base_time + (int64_t)((double)e * cfg->delay_us) / 1000;
}

static int64_t nx_price(srcrng *r)
{
    return llround(pow(10.0, srcrng_double(r) * 6.0) * 100.0);
}

/* n random lower-case letters, eight per 64-bit draw (each byte scaled
 * to 0..25; the bias of 256 % 26 is irrelevant for padding text). */
static void nx_letters(srcrng *r, char *buf, int n)
{
    for (int i = 0; i < n; i += 8) {
        uint64_t x = srcrng_next(r);
        for (int k = 0; k < 8 && i + k < n; k++, x >>= 8)
            buf[i + k] = (char)('a' + (((x & 0xff) * 26) >> 8));
    }
}

/* 3..maxlen-1 characters, letters with a space 1 time in 13 (replaced by
 * `space`), trimmed. Returns the length; buf has room for maxlen. */
static int nx_string(srcrng *r, int maxlen, char space, char *buf)
{
    int len = 3 + (int)srcrng_below(r, maxlen - 3), n = 0;
    uint64_t x = 0;
    for (int i = 0; i < len; i++, x >>= 16) {
        if (!(i & 3))
            x = srcrng_next(r);
        /* one in 13 a space, as Nexmark's StringsGenerator */
        uint32_t v = (uint32_t)(x & 0xffff);
        buf[n++] = v * 13 < 65536 ? ' ' : (char)('a' + ((v * 26) >> 16));
    }
    int a = 0;
    while (a < n && buf[a] == ' ')
        a++;
    while (n > a && buf[n - 1] == ' ')
        n--;
    memmove(buf, buf + a, (size_t)(n - a));
    n -= a;
    if (space != ' ')
        for (int i = 0; i < n; i++)
            if (buf[i] == ' ')
                buf[i] = space;
    return n;
}

/* Padding so that cur + length averages avg (+-20%), or 0 when cur is
 * already larger. buf holds at least 2 * avg bytes. */
static int nx_extra(const nx_cfg *cfg, srcrng *r, int cur, int avg, char *buf)
{
    if (!cfg->extra || cur > avg)
        return 0;
    avg -= cur;
    int delta = (int)lround(avg * 0.2);
    int len = avg - delta + (delta ? (int)srcrng_below(r, 2 * delta) : 0);
    nx_letters(r, buf, len);
    return len;
}

/* A deterministic url "https://www.nexmark.com/<a>/<b>/<c>/item.htm?query=1"
 * keyed by (seed, key). */
static int nx_url(uint64_t seed, uint64_t key, char *buf, size_t cap)
{
    srcrng r;
    char seg[3][8];
    int len[3];
    srcrng_init(&r, seed ^ 0x75726c5f6b657921ULL, key);
    for (int i = 0; i < 3; i++)
        len[i] = nx_string(&r, 5, '_', seg[i]);
    return snprintf(buf, cap, "https://www.nexmark.com/%.*s/%.*s/%.*s/item.htm?query=1", len[0],
                    seg[0], len[1], seg[1], len[2], seg[2]);
}

static void nx_person(const nx_cfg *cfg, int64_t e, srcrng *r, recbuf *rb)
{
    char name[64], email[32], card[32], extra[2 * NX_PERSON_AVG_SIZE];
    int64_t id = last_person(e) + NX_FIRST_PERSON_ID;
    int nl = snprintf(name, sizeof name, "%s %s", first_names[srcrng_below(r, NELEM(first_names))],
                      last_names[srcrng_below(r, NELEM(last_names))]);
    int el = nx_string(r, 7, ' ', email);
    email[el++] = '@';
    el += nx_string(r, 5, ' ', email + el);
    memcpy(email + el, ".com", 4);
    el += 4;
    int cl = snprintf(card, sizeof card, "%04d %04d %04d %04d", (int)srcrng_below(r, 10000),
                      (int)srcrng_below(r, 10000), (int)srcrng_below(r, 10000),
                      (int)srcrng_below(r, 10000));
    const char *city = us_cities[srcrng_below(r, NELEM(us_cities))];
    const char *state = us_states[srcrng_below(r, NELEM(us_states))];
    int size = 8 + nl + el + cl + (int)strlen(city) + (int)strlen(state);
    int xl = nx_extra(cfg, r, size, NX_PERSON_AVG_SIZE, extra);
    recbuf_begin(rb);
    recbuf_i64(rb, id);
    recbuf_str(rb, name, (uint32_t)nl);
    recbuf_str(rb, email, (uint32_t)el);
    recbuf_str(rb, card, (uint32_t)cl);
    recbuf_str(rb, city, (uint32_t)strlen(city));
    recbuf_str(rb, state, (uint32_t)strlen(state));
    recbuf_i64(rb, nx_time(cfg, e));
    recbuf_str(rb, extra, (uint32_t)xl);
    recbuf_end(rb);
}

static void nx_auction(const nx_cfg *cfg, int64_t e, srcrng *r, recbuf *rb)
{
    char item[24], desc[104], extra[2 * NX_AUCTION_AVG_SIZE];
    int64_t ts = nx_time(cfg, e);
    int64_t id = last_auction(e) + NX_FIRST_AUCTION_ID;
    int64_t seller = srcrng_below(r, NX_HOT_SELLERS_RATIO) > 0
                         ? (last_person(e) / NX_HOT_BATCH) * NX_HOT_BATCH
                         : random_person(e, r);
    seller += NX_FIRST_PERSON_ID;
    int64_t category = NX_FIRST_CATEGORY_ID + srcrng_below(r, NX_NUM_CATEGORIES);
    int64_t initial = nx_price(r);
    /* Auctions last on average as long as it takes to create
     * NX_IN_FLIGHT_AUCTIONS more of them. */
    int64_t ahead = (int64_t)NX_IN_FLIGHT_AUCTIONS * NX_TOTAL_PROPORTION / NX_AUCTION_PROPORTION;
    int64_t horizon = nx_time(cfg, e + ahead) - ts;
    int64_t expires = ts + 1 + srcrng_below(r, horizon * 2 > 1 ? horizon * 2 : 1);
    int il = nx_string(r, 20, ' ', item);
    int dl = nx_string(r, 100, ' ', desc);
    int64_t reserve = initial + nx_price(r);
    int xl = nx_extra(cfg, r, 8 + il + dl + 40, NX_AUCTION_AVG_SIZE, extra);
    recbuf_begin(rb);
    recbuf_i64(rb, id);
    recbuf_str(rb, item, (uint32_t)il);
    recbuf_str(rb, desc, (uint32_t)dl);
    recbuf_i64(rb, initial);
    recbuf_i64(rb, reserve);
    recbuf_i64(rb, ts);
    recbuf_i64(rb, expires);
    recbuf_i64(rb, seller);
    recbuf_i64(rb, category);
    recbuf_str(rb, extra, (uint32_t)xl);
    recbuf_end(rb);
}

/* Build channel ch's name and url (ch < 4: a hot channel, else
 * "channel-<n>" with n = ch - 4). */
static void nx_channel(const nx_cfg *cfg, nx_state *st, int64_t ch)
{
    char channel[32], url[160];
    int chl, ul;
    if (ch < (int64_t)NELEM(hot_channels)) {
        chl = snprintf(channel, sizeof channel, "%s", hot_channels[ch]);
        ul = nx_url(cfg->seed, (uint64_t)ch, url, sizeof url);
    } else {
        int64_t n = ch - (int64_t)NELEM(hot_channels);
        chl = snprintf(channel, sizeof channel, "channel-%lld", (long long)n);
        ul = nx_url(cfg->seed, (uint64_t)ch, url, sizeof url);
        /* Nine in ten channel urls carry the channel id (bit-reversed
         * number), decided per channel. */
        if (srcutil_mix64(cfg->seed ^ (uint64_t)n) % 10 > 0) {
            uint32_t v = (uint32_t)n, rev = 0;
            for (int b = 0; b < 32; b++, v >>= 1)
                rev = (rev << 1) | (v & 1);
            int64_t id = (int32_t)rev;
            ul += snprintf(url + ul, sizeof url - (size_t)ul, "&channel_id=%lld",
                           (long long)(id < 0 ? -id : id));
        }
    }
    st->chan_name[ch] = xstrndup(channel, (size_t)chl);
    st->chan_url[ch] = xstrndup(url, (size_t)ul);
    st->name_len[ch] = (uint16_t)chl;
    st->url_len[ch] = (uint16_t)ul;
}

static void nx_bid(const nx_cfg *cfg, nx_state *st, int64_t e, srcrng *r, recbuf *rb)
{
    char extra[2 * NX_BID_AVG_SIZE];
    int64_t auction = srcrng_below(r, NX_HOT_AUCTION_RATIO) > 0
                          ? (last_auction(e) / NX_HOT_BATCH) * NX_HOT_BATCH
                          : random_auction(e, r);
    auction += NX_FIRST_AUCTION_ID;
    int64_t bidder = srcrng_below(r, NX_HOT_BIDDERS_RATIO) > 0
                         ? (last_person(e) / NX_HOT_BATCH) * NX_HOT_BATCH + 1
                         : random_person(e, r);
    bidder += NX_FIRST_PERSON_ID;
    int64_t price = nx_price(r);
    int64_t ch = srcrng_below(r, NX_HOT_CHANNELS_RATIO) > 0
                     ? srcrng_below(r, NELEM(hot_channels))
                     : NELEM(hot_channels) + srcrng_below(r, NX_CHANNELS);
    if (!st->chan_name[ch])
        nx_channel(cfg, st, ch);
    int xl = nx_extra(cfg, r, 32, NX_BID_AVG_SIZE, extra);
    recbuf_begin(rb);
    recbuf_i64(rb, auction);
    recbuf_i64(rb, bidder);
    recbuf_i64(rb, price);
    recbuf_str(rb, st->chan_name[ch], st->name_len[ch]);
    recbuf_str(rb, st->chan_url[ch], st->url_len[ch]);
    recbuf_i64(rb, nx_time(cfg, e));
    recbuf_str(rb, extra, (uint32_t)xl);
    recbuf_end(rb);
}

/* ------------------------------------------------------------- the kind */

static void nx_schema(schema *s, int stream)
{
    switch (stream) {
    case NX_PERSON:
        schema_add(s, "id", FT_I64);
        schema_add(s, "name", FT_STRING);
        schema_add(s, "email_address", FT_STRING);
        schema_add(s, "credit_card", FT_STRING);
        schema_add(s, "city", FT_STRING);
        schema_add(s, "state", FT_STRING);
        schema_add(s, "date_time", FT_TIMESTAMP);
        schema_add(s, "extra", FT_STRING);
        break;
    case NX_AUCTION:
        schema_add(s, "id", FT_I64);
        schema_add(s, "item_name", FT_STRING);
        schema_add(s, "description", FT_STRING);
        schema_add(s, "initial_bid", FT_I64);
        schema_add(s, "reserve", FT_I64);
        schema_add(s, "date_time", FT_TIMESTAMP);
        schema_add(s, "expires", FT_TIMESTAMP);
        schema_add(s, "seller", FT_I64);
        schema_add(s, "category", FT_I64);
        schema_add(s, "extra", FT_STRING);
        break;
    default:
        schema_add(s, "auction", FT_I64);
        schema_add(s, "bidder", FT_I64);
        schema_add(s, "price", FT_I64);
        schema_add(s, "channel", FT_STRING);
        schema_add(s, "url", FT_STRING);
        schema_add(s, "date_time", FT_TIMESTAMP);
        schema_add(s, "extra", FT_STRING);
        break;
    }
}

static int nx_configure(op_spec *s, const conf *c, mpf_err *e)
{
    nx_cfg *cfg = xcalloc(1, sizeof *cfg);
    const char *stream = NULL;
    int64_t seed = 0;
    cfg->events = -1;
    cfg->first_event_rate = 10000;
    cfg->base_time = NX_BASE_TIME;
    cfg->extra = 1;
    if (ynode_get_str(s->node, "stream", 1, &stream, e) ||
        srcutil_get_count(s->node, "events", 0, &cfg->events, e) ||
        ynode_get_f64(s->node, "events-per-second", 0, &cfg->rate, e) ||
        ynode_get_i64(s->node, "seed", 0, &seed, e) ||
        ynode_get_f64(s->node, "first-event-rate", 0, &cfg->first_event_rate, e) ||
        srcutil_get_timestamp(s->node, "base-time", &cfg->base_time, e) ||
        ynode_get_bool(s->node, "extra", 0, &cfg->extra, e)) {
        err_prefix(e, "operator '%s'", s->uid);
        goto fail;
    }
    cfg->stream = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(stream, nx_stream_names[i]) == 0)
            cfg->stream = i;
    if (cfg->stream < 0) {
        err_set(e, MPF_EJOB, "%s: stream must be person, auction or bid, got '%s'",
                ynode_pos(ynode_get(s->node, "stream")), stream);
        goto fail;
    }
    if (!(cfg->first_event_rate > 0) || !(cfg->rate >= 0)) {
        err_set(e, MPF_EJOB, "%s: first-event-rate must be > 0 and events-per-second >= 0",
                op_where(s));
        goto fail;
    }
    cfg->seed = (uint64_t)seed;
    cfg->delay_us = 1e6 / cfg->first_event_rate;
    nx_schema(&s->out_schema, cfg->stream);
    s->cfg = cfg;
    s->bounded = cfg->events >= 0;
    return 0;
fail:
    free(cfg);
    return e->code;
}

static void nx_free(void *p) { free(p); }

static int nx_open(op_inst *oi, mpf_err *e)
{
    const nx_cfg *cfg = oi->spec->cfg;
    nx_state *st = xcalloc(1, sizeof *st);
    seqsplit_init(&st->events, oi->subtask, oi->spec->parallelism, cfg->events);
    recbuf_init(&st->rb);
    size_t nch = NELEM(hot_channels) + NX_CHANNELS;
    st->chan_name = xcalloc(nch, sizeof *st->chan_name);
    st->chan_url = xcalloc(nch, sizeof *st->chan_url);
    st->name_len = xcalloc(nch, sizeof *st->name_len);
    st->url_len = xcalloc(nch, sizeof *st->url_len);
    srcutil_rate_start(&st->rl, cfg->rate, oi->spec->parallelism);
    oi->st = st;
    return 0;
}

static int nx_poll(op_inst *oi, mpf_err *e)
{
    const nx_cfg *cfg = oi->spec->cfg;
    nx_state *st = oi->st;
    size_t bytes = 0, seg = segpool_segment_size();
    /* About one batch of output per call, and a bounded walk for the
     * sparse person stream. */
    int64_t budget = srcutil_rate_allowed(&st->rl, st->walked, 1 << 16);
    for (int64_t k = 0; k < budget && bytes < seg; k++) {
        int64_t ev = seqsplit_take(&st->events);
        if (ev < 0)
            return 0;
        st->walked++;
        oi->records_in++;
        int kind = nx_kind_of(ev);
        if (kind != cfg->stream)
            continue;
        srcrng r;
        srcrng_init(&r, cfg->seed, (uint64_t)ev);
        if (kind == NX_PERSON)
            nx_person(cfg, ev, &r, &st->rb);
        else if (kind == NX_AUCTION)
            nx_auction(cfg, ev, &r, &st->rb);
        else
            nx_bid(cfg, st, ev, &r, &st->rb);
        op_emit(oi, st->rb.p, st->rb.len);
        bytes += st->rb.len;
    }
    return seqsplit_more(&st->events) ? MPF_EAGAIN : 0;
}

static void nx_close(op_inst *oi)
{
    nx_state *st = oi->st;
    if (st) {
        seqsplit_fini(&st->events);
        recbuf_fini(&st->rb);
        for (size_t i = 0; i < NELEM(hot_channels) + NX_CHANNELS; i++) {
            free(st->chan_name[i]);
            free(st->chan_url[i]);
        }
        free(st->chan_name);
        free(st->chan_url);
        free(st->name_len);
        free(st->url_len);
        free(st);
        oi->st = NULL;
    }
}

static void nx_describe(const op_spec *s, char *buf, size_t n)
{
    const nx_cfg *cfg = s->cfg;
    char ev[48];
    if (cfg->events >= 0)
        snprintf(ev, sizeof ev, "%lld events", (long long)cfg->events);
    else
        snprintf(ev, sizeof ev, "unbounded");
    snprintf(buf, n, "%s stream, %s, first-event-rate %g/s, seed %llu%s",
             nx_stream_names[cfg->stream], ev, cfg->first_event_rate,
             (unsigned long long)cfg->seed, cfg->rate > 0 ? ", rate-limited" : "");
}

const op_kind op_src_nexmark = {
    .name = "nexmark",
    .role = OP_SOURCE,
    .keys = nx_keys,
    .summary = "Nexmark person/auction/bid events with event times (deterministic)",
    .configure = nx_configure,
    .free_cfg = nx_free,
    .describe = nx_describe,
    .open = nx_open,
    .poll = nx_poll,
    .close = nx_close,
    .snapshot = seqsplit_op_snapshot,
    .restore = seqsplit_op_restore,
    .restore_end = seqsplit_op_restore_end,
    .union_state = 1,
    .describe_state = seqsplit_describe,
};
