/* `source: socket`: text records read from a TCP server, after Flink's
 * socketTextStream (connectors layer). Output: one field `line` (string).
 *
 * Records end at `delimiter` (default "\n"; the escapes \n, \r, \t and \\
 * are understood; with "\n" a trailing '\r' is dropped, as Flink does); a
 * last record without a delimiter is emitted when its connection ends.
 * When a connection is refused or lost the source reconnects every
 * `reconnect-interval` (default 500ms), at most `max-retry` times over
 * the job (default 0; -1: forever). With no retry left, a lost connection
 * ends the stream (poll returns 0) while a source that never connected
 * fails the job. Failed attempts are logged (each at debug level; the
 * first, and then one every 10 s, as a warning with the address and the
 * reason). The socket is non-blocking: connect runs in the
 * background and poll only takes what has arrived, returning MPF_EAGAIN
 * otherwise. The host name is resolved once, when the subtask opens.
 * The source runs with parallelism 1 (checked at plan time) and counts as
 * unbounded. It cannot take part in checkpoints: what it read from the
 * connection cannot be read again after a failure, so a restored job
 * would lose records; a job with it is refused while checkpointing is on. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "conf/props.h"
#include "ops/op.h"
#include "connectors/srcutil.h"
#include "record/segpool.h"
#include "util/log.h"
#include "util/xmalloc.h"

enum sk_phase { SK_WAIT, SK_CONNECTING, SK_CONNECTED, SK_DONE };

typedef struct sk_cfg {
    char *host;
    int port;
    char *delim;
    size_t dlen;
    int64_t max_retry; /* -1: forever */
    int64_t interval_ns;
} sk_cfg;

typedef struct sk_state {
    struct addrinfo *addrs, *cur;
    int fd;
    int phase;
    int ever_connected;
    int64_t retries;  /* reconnection attempts used */
    int64_t retry_at; /* monotonic ns of the next attempt (SK_WAIT) */
    char *buf;
    size_t len, cap, scan; /* buf[0..len) unconsumed; no delimiter starts before scan */
    size_t max_line;
    char why[160]; /* the last connection error */
    int64_t failures;     /* failed attempts since the last connection */
    int64_t warned_at;    /* monotonic ns of the last warning about them */
    int64_t warned_count; /* failures when that warning was written */
    recbuf rb;
} sk_state;

/* While a source cannot connect it says so at once and then at most this
 * often (each attempt is logged at debug level). */
#define SK_WARN_EVERY_NS (INT64_C(10) * 1000000000)

static const char *const sk_keys[] = {"host", "port", "delimiter", "max-retry",
                                      "reconnect-interval", NULL};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Decode \n \r \t \\ in place; returns the length. */
static size_t unescape(char *s)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '\\' && s[i + 1]) {
            char c = s[i + 1];
            char r = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c == '\\' ? '\\' : 0;
            if (r) {
                s[o++] = r;
                i++;
                continue;
            }
        }
        s[o++] = s[i];
    }
    s[o] = '\0';
    return o;
}

static void sk_free(void *p)
{
    sk_cfg *cfg = p;
    if (cfg) {
        free(cfg->host);
        free(cfg->delim);
        free(cfg);
    }
}

static int sk_configure(op_spec *s, const conf *c, mpf_err *e)
{
    if (c && conf_duration_ns(c, CONF_EXECUTION_CHECKPOINTING_INTERVAL) > 0)
        return err_set(e, MPF_EPLAN, "%s: source socket cannot take part in checkpoints: the "
                       "data it read from the connection cannot be replayed after a failure, so "
                       "a restored job would lose records; use a replayable source (file, "
                       "generator) or set execution.checkpointing.interval: 0", op_where(s));
    sk_cfg *cfg = xcalloc(1, sizeof *cfg);
    const char *host = "localhost", *delim = "\n";
    int64_t port = 0;
    cfg->interval_ns = 500 * 1000000LL;
    if (ynode_get_str(s->node, "host", 0, &host, e) ||
        ynode_get_i64(s->node, "port", 1, &port, e) ||
        ynode_get_str(s->node, "delimiter", 0, &delim, e) ||
        srcutil_get_count(s->node, "max-retry", -1, &cfg->max_retry, e) ||
        srcutil_get_duration_ns(s->node, "reconnect-interval", &cfg->interval_ns, e)) {
        err_prefix(e, "operator '%s'", s->uid);
        goto fail;
    }
    if (port < 1 || port > 65535) {
        err_set(e, MPF_EJOB, "%s: port must be in [1, 65535], got %lld",
                ynode_pos(ynode_get(s->node, "port")), (long long)port);
        goto fail;
    }
    if (!*host) {
        err_set(e, MPF_EJOB, "%s: host is empty", op_where(s));
        goto fail;
    }
    cfg->host = xstrdup(host);
    cfg->port = (int)port;
    cfg->delim = xstrdup(delim);
    cfg->dlen = unescape(cfg->delim);
    if (cfg->dlen == 0) {
        err_set(e, MPF_EJOB, "%s: delimiter is empty", op_where(s));
        goto fail;
    }
    if (s->parallelism != 1) {
        err_set(e, MPF_EPLAN, "%s: source socket reads one connection and needs parallelism 1, "
                "got %d (set parallelism: 1 on this operator)", op_where(s), s->parallelism);
        goto fail;
    }
    schema_add(&s->out_schema, "line", FT_STRING);
    s->cfg = cfg;
    s->bounded = 0;
    return 0;
fail:
    sk_free(cfg);
    return e->code;
}

static int sk_open(op_inst *oi, mpf_err *e)
{
    const sk_cfg *cfg = oi->spec->cfg;
    struct addrinfo hints = {0}, *res = NULL;
    char port[16];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof port, "%d", cfg->port);
    int rc = getaddrinfo(cfg->host, port, &hints, &res);
    if (rc != 0)
        return err_set(e, MPF_EIO, "operator '%s': cannot resolve host '%s': %s",
                       oi->spec->uid, cfg->host, gai_strerror(rc));
    sk_state *st = xcalloc(1, sizeof *st);
    st->addrs = res;
    st->fd = -1;
    st->phase = SK_WAIT;
    st->retry_at = 0;
    st->cap = 64 * 1024;
    st->buf = xmalloc(st->cap);
    /* A record must fit in a network buffer with its length prefixes. */
    st->max_line = segpool_segment_size() - BATCH_HDR_SIZE - 2 * REC_LEN_SIZE;
    recbuf_init(&st->rb);
    oi->st = st;
    return 0;
}

static void sk_close_fd(sk_state *st)
{
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
}

static void sk_emit(op_inst *oi, sk_state *st, const char *p, size_t n)
{
    recbuf_begin(&st->rb);
    recbuf_str(&st->rb, p, (uint32_t)n);
    recbuf_end(&st->rb);
    op_emit(oi, st->rb.p, st->rb.len);
}

/* Log a refused or lost connection (st->why says why): every attempt at
 * debug level; a lost connection and the first failed attempt as a
 * warning, then a warning at most every SK_WARN_EVERY_NS with the attempts
 * since, so a source waiting for its server is visible but not noisy. */
static void sk_log_failure(op_inst *oi, sk_state *st, int was_connected, int retrying)
{
    const sk_cfg *cfg = oi->spec->cfg;
    int64_t now = now_ns();
    char iv[48] = "";
    if (retrying)
        format_duration(cfg->interval_ns, iv, sizeof iv);
    st->failures++;
    log_debug("operator '%s': %s %s:%d failed: %s (attempt %lld)", oi->spec->uid,
              was_connected ? "reading from" : "connecting to", cfg->host, cfg->port, st->why,
              (long long)st->failures);
    if (was_connected) {
        log_warn("operator '%s': connection to %s:%d lost: %s%s%s", oi->spec->uid, cfg->host,
                 cfg->port, st->why, retrying ? "; reconnecting every " : "", iv);
    } else if (st->failures == 1 || now - st->warned_at >= SK_WARN_EVERY_NS) {
        log_warn("operator '%s': cannot connect to %s:%d: %s (%lld failed attempt(s)%s%s%s)",
                 oi->spec->uid, cfg->host, cfg->port, st->why,
                 (long long)(st->failures - st->warned_count), st->failures > 1 ? " since the "
                 "last message" : "", retrying ? "; retrying every " : "", iv);
    } else {
        return;
    }
    st->warned_at = now;
    st->warned_count = st->failures;
}

static void sk_connected(op_inst *oi, sk_state *st)
{
    const sk_cfg *cfg = oi->spec->cfg;
    st->phase = SK_CONNECTED;
    st->ever_connected = 1;
    if (st->failures)
        log_info("operator '%s': connected to %s:%d after %lld failed attempt(s)",
                 oi->spec->uid, cfg->host, cfg->port, (long long)st->failures);
    st->failures = st->warned_count = 0;
}

/* Connection refused or lost: wait and retry, end, or fail. */
static int sk_give_up_or_retry(op_inst *oi, sk_state *st, mpf_err *e)
{
    const sk_cfg *cfg = oi->spec->cfg;
    int was_connected = st->phase == SK_CONNECTED;
    sk_close_fd(st);
    int retrying = cfg->max_retry < 0 || st->retries < cfg->max_retry;
    if (retrying || st->ever_connected)
        sk_log_failure(oi, st, was_connected, retrying);
    if (retrying) {
        st->retries++;
        st->phase = SK_WAIT;
        st->retry_at = now_ns() + cfg->interval_ns;
        return MPF_EAGAIN;
    }
    st->phase = SK_DONE;
    if (st->ever_connected)
        return 0;
    return err_set(e, MPF_EIO, "operator '%s': cannot connect to %s:%d: %s (after %lld retr%s)",
                   oi->spec->uid, cfg->host, cfg->port, st->why, (long long)st->retries,
                   st->retries == 1 ? "y" : "ies");
}

/* Start connecting to st->cur or a later address. Returns MPF_EAGAIN
 * (connecting or connected) or the result of giving up. */
static int sk_connect_from_cur(op_inst *oi, sk_state *st, mpf_err *e)
{
    for (; st->cur; st->cur = st->cur->ai_next) {
        struct addrinfo *a = st->cur;
        st->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        a->ai_protocol);
        if (st->fd < 0) {
            snprintf(st->why, sizeof st->why, "socket: %s", strerror(errno));
            continue;
        }
        if (connect(st->fd, a->ai_addr, a->ai_addrlen) == 0) {
            sk_connected(oi, st);
            return MPF_EAGAIN;
        }
        if (errno == EINPROGRESS) {
            st->phase = SK_CONNECTING;
            return MPF_EAGAIN;
        }
        snprintf(st->why, sizeof st->why, "%s", strerror(errno));
        sk_close_fd(st);
    }
    return sk_give_up_or_retry(oi, st, e);
}

/* Emit every complete record in the buffer; keep the rest. */
static int sk_split(op_inst *oi, sk_state *st, size_t *bytes, mpf_err *e)
{
    const sk_cfg *cfg = oi->spec->cfg;
    size_t start = 0;
    for (;;) {
        size_t from = st->scan > start ? st->scan : start;
        char *d = from < st->len ? memmem(st->buf + from, st->len - from, cfg->delim, cfg->dlen)
                                 : NULL;
        if (!d)
            break;
        size_t end = (size_t)(d - st->buf), n = end - start;
        if (cfg->dlen == 1 && cfg->delim[0] == '\n' && n > 0 && st->buf[end - 1] == '\r')
            n--;
        if (n > st->max_line)
            goto too_long;
        sk_emit(oi, st, st->buf + start, n);
        *bytes += n + 8;
        start = end + cfg->dlen;
    }
    memmove(st->buf, st->buf + start, st->len - start);
    st->len -= start;
    st->scan = st->len >= cfg->dlen ? st->len - cfg->dlen + 1 : 0;
    if (st->len > st->max_line + cfg->dlen)
        goto too_long;
    return 0;
too_long:
    return err_set(e, MPF_ETOOBIG, "operator '%s': a record from %s:%d is longer than %zu bytes "
                   "(raise taskmanager.memory.segment-size)", oi->spec->uid, cfg->host,
                   cfg->port, st->max_line);
}

static int sk_read(op_inst *oi, sk_state *st, mpf_err *e)
{
    size_t bytes = 0, seg = segpool_segment_size(), got = 0;
    while (bytes < seg && got < 4 * seg) {
        if (st->cap - st->len < 4096) {
            st->cap *= 2;
            st->buf = xrealloc(st->buf, st->cap);
        }
        ssize_t n = recv(st->fd, st->buf + st->len, st->cap - st->len, 0);
        if (n > 0) {
            st->len += (size_t)n;
            got += (size_t)n;
            if (sk_split(oi, st, &bytes, e))
                return e->code;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return MPF_EAGAIN;
        if (n < 0 && errno == EINTR)
            continue;
        /* The peer closed (or the connection broke): the rest is the last
         * record of this connection. */
        snprintf(st->why, sizeof st->why, "%s",
                 n == 0 ? "connection closed by peer" : strerror(errno));
        if (st->len > 0) {
            if (st->len > st->max_line)
                return err_set(e, MPF_ETOOBIG, "operator '%s': a record is longer than %zu "
                               "bytes", oi->spec->uid, st->max_line);
            sk_emit(oi, st, st->buf, st->len);
            st->len = st->scan = 0;
        }
        return sk_give_up_or_retry(oi, st, e);
    }
    return MPF_EAGAIN;
}

static int sk_poll(op_inst *oi, mpf_err *e)
{
    sk_state *st = oi->st;
    switch (st->phase) {
    case SK_WAIT:
        if (now_ns() < st->retry_at)
            return MPF_EAGAIN;
        st->cur = st->addrs;
        return sk_connect_from_cur(oi, st, e);
    case SK_CONNECTING: {
        struct pollfd pfd = {.fd = st->fd, .events = POLLOUT};
        int n = poll(&pfd, 1, 0);
        if (n == 0 || (n < 0 && errno == EINTR))
            return MPF_EAGAIN;
        int err = 0;
        socklen_t len = sizeof err;
        if (n < 0 || getsockopt(st->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            snprintf(st->why, sizeof st->why, "%s", strerror(err));
            sk_close_fd(st);
            st->cur = st->cur->ai_next;
            return sk_connect_from_cur(oi, st, e);
        }
        sk_connected(oi, st);
        return sk_read(oi, st, e);
    }
    case SK_CONNECTED:
        return sk_read(oi, st, e);
    default:
        return 0;
    }
}

static void sk_close(op_inst *oi)
{
    sk_state *st = oi->st;
    if (st) {
        sk_close_fd(st);
        if (st->addrs)
            freeaddrinfo(st->addrs);
        free(st->buf);
        recbuf_fini(&st->rb);
        free(st);
        oi->st = NULL;
    }
}

static void sk_describe(const op_spec *s, char *buf, size_t n)
{
    const sk_cfg *cfg = s->cfg;
    char iv[32];
    format_duration(cfg->interval_ns, iv, sizeof iv);
    snprintf(buf, n, "%s:%d, max-retry %lld, reconnect-interval %s", cfg->host, cfg->port,
             (long long)cfg->max_retry, iv);
}

const op_kind op_src_socket = {
    .name = "socket",
    .role = OP_SOURCE,
    .keys = sk_keys,
    .single = 1, /* the planner gives it parallelism 1, as Flink's socketTextStream */
    .summary = "text lines from a TCP server (socketTextStream; parallelism 1)",
    .configure = sk_configure,
    .free_cfg = sk_free,
    .describe = sk_describe,
    .open = sk_open,
    .poll = sk_poll,
    .close = sk_close,
};
