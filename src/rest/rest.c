/* The JobManager's REST API (rest layer): libmicrohttpd's server, routing,
 * limits, authentication, the queue of requests for the control loop and
 * the savepoint triggers they answer; see rest.h. */
#include "rest/rest.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "rest/dashboard.h"
#include "rest/history.h"
#include "rest/rest_dash.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "util/fsutil.h"

/* The Prometheus renderer (rest/prom.c, GET /metrics) plugs in here when
 * it exists; until then /metrics answers 404. */
#if defined(__has_include)
#if __has_include("rest/prom.h")
#include "rest/prom.h"
#define REST_HAVE_PROM 1
#endif
#endif

#define NTRIGGERS 64 /* savepoint outcomes remembered */
#define NQUEUE 16    /* requests waiting for the control loop */
#define PORT_TRIES 100

enum { T_FREE, T_PENDING, T_OK, T_FAILED };

typedef struct trigger {
    char id[33];
    int state;
    int fetched; /* a client has seen its outcome */
    char *text;  /* location or failure */
} trigger;

struct rest_server {
    struct MHD_Daemon *d;
    struct MHD_Daemon *pd; /* metrics.reporter.prom.port, or NULL */
    const jobstate *js;
    history *hist; /* `mpiflow history`: archives instead of js (read-only) */
    rest_job_info ji;
    char *token; /* NULL: mutating calls need none */
    char **allowed; /* resolved savepoint roots */
    size_t nallowed;
    size_t max_body;
    char address[64];
    int port;
    int prom_port; /* 0: none */
    char url[96];
    char *disc_path;
    pthread_mutex_t mu; /* triggers and queue */
    trigger trig[NTRIGGERS];
    unsigned next_trig;
    rest_request q[NQUEUE];
    size_t qhead, qlen;
};

/* The body of one request, gathered over the handler's calls. */
typedef struct req_ctx {
    char *body;
    size_t len;
    int too_big;
} req_ctx;

static void random_hex(char out[33])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, GRND_NONBLOCK) != (ssize_t)sizeof b) {
        uint64_t x = (uint64_t)clock_mono_ns() ^ ((uint64_t)getpid() << 40);
        for (int i = 0; i < 16; i++)
            b[i] = (unsigned char)(x >> (8 * (i % 8))) ^ (unsigned char)(i * 131);
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* --- answers --- */

/* Answer with body (stolen) as JSON. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *body)
{
    char *txt = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(body);
    if (!txt)
        txt = xstrdup("{\"errors\":[\"could not encode the answer\"]}");
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(txt), txt,
                                                             MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(txt);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt,
                                  ...) __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return send_json(c, status, rest_json_error(msg));
}

/* --- savepoint targets --- */

/* path made absolute and free of symbolic links as far as it exists
 * (the rest is appended as given; "." and empty components dropped).
 * NULL when a component is "..", which could climb out of a root once
 * the directories exist. Caller frees. */
static char *resolve_dir(const char *path)
{
    char cwd[PATH_MAX];
    char *abs;
    if (path[0] == '/')
        abs = xstrdup(path);
    else if (getcwd(cwd, sizeof cwd))
        abs = xasprintf("%s/%s", cwd, path);
    else
        return NULL;
    /* split into components, refusing ".." */
    size_t n = 0;
    char **comp = xcalloc(strlen(abs) + 1, sizeof *comp);
    char *save = NULL;
    for (char *t = strtok_r(abs, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (strcmp(t, "..") == 0) {
            free(comp);
            free(abs);
            return NULL;
        }
        if (strcmp(t, ".") != 0)
            comp[n++] = t;
    }
    /* the longest prefix that exists, through realpath */
    char *out = NULL;
    for (size_t k = n + 1; k-- > 0;) {
        char prefix[PATH_MAX] = "/";
        size_t at = 1;
        for (size_t i = 0; i < k && at < sizeof prefix; i++)
            at += (size_t)snprintf(prefix + at, sizeof prefix - at, "%s%s", i ? "/" : "", comp[i]);
        char real[PATH_MAX];
        if (at >= sizeof prefix || !realpath(prefix, real))
            continue;
        size_t len = strlen(real);
        for (size_t i = k; i < n && len < sizeof real; i++)
            len += (size_t)snprintf(real + len, sizeof real - len, "%s%s",
                                    len && real[len - 1] == '/' ? "" : "/", comp[i]);
        if (len < sizeof real)
            out = xstrdup(real);
        break;
    }
    free(comp);
    free(abs);
    return out;
}

static int under_root(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return 1;
    return strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* A target directory a client asked for: 0 and *out (resolved, caller
 * frees), or -1 with why. */
static int check_target(const rest_server *s, const char *dir, char **out, char *why, size_t n)
{
    *out = NULL;
    if (!dir || !*dir)
        return 0;
    if (strlen(dir) >= PATH_MAX - 64) {
        snprintf(why, n, "target directory is too long");
        return -1;
    }
    char *r = resolve_dir(dir);
    if (!r) {
        snprintf(why, n, "target directory '%s' has a '..' component (not allowed)", dir);
        return -1;
    }
    for (size_t i = 0; i < s->nallowed; i++)
        if (under_root(r, s->allowed[i])) {
            *out = r;
            return 0;
        }
    snprintf(why, n, "target directory '%s' is outside the directories savepoints may be "
             "written to (state.savepoints.dir and rest.savepoint.allowed-dirs)", dir);
    free(r);
    return -1;
}

/* --- triggers and the queue --- */

/* A new pending trigger: its ticket, or -1 when all are pending. Holds mu. */
static int trigger_new(rest_server *s)
{
    for (unsigned k = 0; k < NTRIGGERS; k++) {
        unsigned i = (s->next_trig + k) % NTRIGGERS;
        trigger *t = &s->trig[i];
        if (t->state == T_PENDING)
            continue;
        free(t->text);
        memset(t, 0, sizeof *t);
        random_hex(t->id);
        t->state = T_PENDING;
        s->next_trig = i + 1;
        return (int)i;
    }
    return -1;
}

/* Queue a request: 0, or -1 when the queue or the triggers are full. */
static int enqueue(rest_server *s, int op, int drain, char *dir, char id[33])
{
    int rc = -1;
    pthread_mutex_lock(&s->mu);
    if (s->qlen < NQUEUE) {
        int ticket = op == REST_OP_CANCEL ? -1 : trigger_new(s);
        if (op == REST_OP_CANCEL || ticket >= 0) {
            s->q[(s->qhead + s->qlen++) % NQUEUE] = (rest_request){op, drain, dir, ticket};
            if (ticket >= 0)
                memcpy(id, s->trig[ticket].id, 33);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int rest_take(rest_server *s, rest_request *r)
{
    if (!s)
        return 0;
    int got = 0;
    pthread_mutex_lock(&s->mu);
    if (s->qlen) {
        *r = s->q[s->qhead];
        s->qhead = (s->qhead + 1) % NQUEUE;
        s->qlen--;
        got = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return got;
}

void rest_done(rest_server *s, int ticket, int ok, const char *text)
{
    if (!s || ticket < 0 || ticket >= NTRIGGERS)
        return;
    pthread_mutex_lock(&s->mu);
    trigger *t = &s->trig[ticket];
    if (t->state == T_PENDING) {
        t->state = ok ? T_OK : T_FAILED;
        t->text = xstrdup(text ? text : "");
    }
    pthread_mutex_unlock(&s->mu);
}

/* --- handlers --- */

static int is_job(const rest_server *s, const char *id)
{
    return strcmp(id, jobstate_job_id(s->js)) == 0 || strcmp(id, jobstate_job_name(s->js)) == 0;
}

/* A vertex by id, uid or index; -1 when none. */
static int find_vertex(const rest_server *s, const char *vid)
{
    for (int i = 0; i < jobstate_nvertices(s->js); i++) {
        const js_vertex *v = jobstate_vertex(s->js, i);
        char id[33];
        rest_json_vertex_id(v->uid, id);
        if (strcmp(vid, id) == 0 || strcmp(vid, v->uid) == 0)
            return i;
    }
    char *end;
    long i = strtol(vid, &end, 10);
    return *vid && !*end && i >= 0 && i < jobstate_nvertices(s->js) ? (int)i : -1;
}

/* Bearer token check in constant time for mutating calls. */
static int authorized(const rest_server *s, struct MHD_Connection *c)
{
    if (!s->token)
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    size_t n = strlen(s->token), m = strlen(h);
    unsigned char diff = (unsigned char)(n != m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(s->token[i] ^ (i < m ? h[i] : 0));
    return diff == 0;
}

/* The body as a JSON object: an empty body is {}. NULL with why. */
static json_t *body_object(const req_ctx *r, char *why, size_t n)
{
    if (!r->len)
        return json_object();
    json_error_t je;
    json_t *o = json_loadb(r->body, r->len, 0, &je);
    if (!o) {
        snprintf(why, n, "the request body is not JSON: %s (line %d, column %d)", je.text,
                 je.line, je.column);
        return NULL;
    }
    if (!json_is_object(o)) {
        snprintf(why, n, "the request body must be a JSON object");
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A string or null field: 0 and *out (NULL when absent or null), or -1. */
static int opt_string(json_t *o, const char *key, const char **out, char *why, size_t n)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        snprintf(why, n, "field '%s' must be a string", key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int opt_bool(json_t *o, const char *key, int *out, char *why, size_t n)
{
    json_t *v = json_object_get(o, key);
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        snprintf(why, n, "field '%s' must be true or false", key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* POST /jobs/:id/savepoints {"target-directory", "cancel-job"} and POST
 * /jobs/:id/stop {"targetDirectory", "drain"}: {"request-id"}. */
static enum MHD_Result post_savepoint(rest_server *s, struct MHD_Connection *c,
                                      const req_ctx *r, int stop)
{
    char why[1024];
    json_t *o = body_object(r, why, sizeof why);
    if (!o)
        return send_error(c, MHD_HTTP_BAD_REQUEST, "%s", why);
    const char *dir;
    int flag, rc;
    rc = opt_string(o, stop ? "targetDirectory" : "target-directory", &dir, why, sizeof why);
    if (!rc)
        rc = opt_bool(o, stop ? "drain" : "cancel-job", &flag, why, sizeof why);
    char *target = NULL;
    if (!rc)
        rc = check_target(s, dir, &target, why, sizeof why);
    json_decref(o);
    if (rc)
        return send_error(c, MHD_HTTP_BAD_REQUEST, "%s", why);
    jobstate_lock(s->js);
    int st = jobstate_status(s->js);
    jobstate_unlock(s->js);
    if (js_status_terminal(st)) {
        free(target);
        return send_error(c, MHD_HTTP_CONFLICT, "the job is %s", js_status_name(st));
    }
    /* a savepoint with cancel-job is Flink's older stop */
    int op = stop || flag ? REST_OP_STOP : REST_OP_SAVEPOINT;
    char id[33];
    if (enqueue(s, op, stop && flag, target, id)) {
        free(target);
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "too many requests are waiting for the JobManager; try again");
    }
    log_info("REST: %s requested (request-id %s)", op == REST_OP_STOP ? "stop" : "savepoint", id);
    return send_json(c, MHD_HTTP_ACCEPTED, json_pack("{s:s}", "request-id", id));
}

static enum MHD_Result get_trigger(rest_server *s, struct MHD_Connection *c, const char *tid)
{
    json_t *o = NULL;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < NTRIGGERS && !o; i++) {
        trigger *t = &s->trig[i];
        if (t->state == T_FREE || strcmp(t->id, tid) != 0)
            continue;
        if (t->state == T_PENDING)
            o = json_pack("{s:{s:s}, s:n}", "status", "id", "IN_PROGRESS", "operation");
        else if (t->state == T_OK)
            o = json_pack("{s:{s:s}, s:{s:s}}", "status", "id", "COMPLETED", "operation",
                          "location", t->text);
        else
            o = json_pack("{s:{s:s}, s:{s:{s:s, s:s}}}", "status", "id", "COMPLETED",
                          "operation", "failure-cause", "class", "mpiflow.SavepointException",
                          "stack-trace", t->text);
        t->fetched |= t->state != T_PENDING;
    }
    pthread_mutex_unlock(&s->mu);
    if (!o)
        return send_error(c, MHD_HTTP_NOT_FOUND, "no savepoint or stop with request-id '%s'", tid);
    return send_json(c, MHD_HTTP_OK, o);
}

/* PATCH /jobs/:id?mode=cancel: 202 and {}; the job cancels soon after. */
static enum MHD_Result patch_job(rest_server *s, struct MHD_Connection *c)
{
    const char *mode = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mode");
    if (mode && strcmp(mode, "cancel") != 0)
        return send_error(c, MHD_HTTP_BAD_REQUEST, "mode '%s' is not supported (cancel; stop "
                          "with POST /jobs/:id/stop)", mode);
    jobstate_lock(s->js);
    int st = jobstate_status(s->js);
    jobstate_unlock(s->js);
    if (js_status_terminal(st))
        return send_error(c, MHD_HTTP_CONFLICT, "the job is %s", js_status_name(st));
    char id[33];
    if (enqueue(s, REST_OP_CANCEL, 0, NULL, id))
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "too many requests are waiting for the JobManager; try again");
    log_info("REST: cancel requested");
    return send_json(c, MHD_HTTP_ACCEPTED, json_object());
}

/* GET /metrics: Prometheus text, when the renderer is built in. */
static enum MHD_Result get_metrics(rest_server *s, struct MHD_Connection *c)
{
#ifdef REST_HAVE_PROM
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    prom_ctx ctx = {clock_wall_ms(), host};
    size_t len = 0;
    jobstate_lock(s->js);
    char *txt = prom_render(s->js, &ctx, &len);
    jobstate_unlock(s->js);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, txt, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(txt);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, PROM_CONTENT_TYPE);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
#else
    (void)s;
    return send_error(c, MHD_HTTP_NOT_FOUND, "this build has no Prometheus renderer");
#endif
}

/* GET / and /assets/<name>: the dashboard's embedded files (rest/
 * dashboard.h), gzip-compressed when the client takes it, revalidated
 * by ETag. */
static enum MHD_Result get_asset(struct MHD_Connection *c, const dashboard_file *f)
{
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_IF_NONE_MATCH);
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_ACCEPT_ENCODING);
    int fresh = inm && strstr(inm, f->etag), gz = !fresh && ae && strstr(ae, "gzip");
    struct MHD_Response *r = MHD_create_response_from_buffer(
        fresh ? 0 : gz ? f->gz_len : f->len, (void *)(fresh ? NULL : gz ? f->gz : f->data),
        MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, f->content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, f->etag);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    MHD_add_response_header(r, "Content-Security-Policy", DASHBOARD_CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (gz)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    enum MHD_Result ret = MHD_queue_response(c, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* GET /jobmanager/log (rank 0) and /taskmanagers/:id/log (:id "tm-<rank>"
 * or the rank): the rank's file in log.dir, read from there -- on a
 * cluster a directory every node shares. ?tail=N: its last N bytes. */
static enum MHD_Result get_log(rest_server *s, struct MHD_Connection *c, const char *tm)
{
    const char *dir = s->ji.conf ? conf_str(s->ji.conf, CONF_LOG_DIR) : "";
    int rank = 0;
    if (tm) {
        char *end;
        long r = strtol(strncmp(tm, "tm-", 3) == 0 ? tm + 3 : tm, &end, 10);
        if (*end || r < 1 || r > jobstate_ntms(s->js))
            return send_error(c, MHD_HTTP_NOT_FOUND, "no TaskManager '%s' (tm-1 to tm-%d)", tm,
                              jobstate_ntms(s->js));
        rank = (int)r;
    }
    if (!*dir)
        return send_error(c, MHD_HTTP_NOT_FOUND, "no log files: log.dir is not set (the log "
                          "goes to stderr only)");
    char *path = log_file_path(dir, rank);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        enum MHD_Result ret = send_error(c, MHD_HTTP_NOT_FOUND, "cannot read %s: %s", path,
                                         strerror(errno));
        if (fd >= 0)
            close(fd);
        free(path);
        return ret;
    }
    free(path);
    const char *t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tail");
    uint64_t size = (uint64_t)sb.st_size, off = 0;
    if (t) {
        unsigned long long n = strtoull(t, NULL, 10);
        off = n < size ? size - n : 0;
    }
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(size - off, fd, off);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* `mpiflow history`: the archived answers; everything else is refused. */
static enum MHD_Result route_history(rest_server *s, struct MHD_Connection *c, const char *url,
                                     const char *method, char **seg, int n)
{
    const dashboard_file *asset;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "%s is not allowed: the history "
                          "server only shows archived jobs, which have ended", method);
    if (dashboard_asset(url, &asset) == 0)
        return get_asset(c, asset);
    char why[512];
    json_t *o = history_get(s->hist, seg, n, why, sizeof why);
    if (!o)
        return send_error(c, MHD_HTTP_NOT_FOUND, "%s", why);
    return send_json(c, MHD_HTTP_OK, o);
}

/* Read-only endpoints: a JSON value built under the model's lock. */
static enum MHD_Result get_json(rest_server *s, struct MHD_Connection *c, char **seg, int n)
{
    const jobstate *js = s->js;
    int64_t now = clock_wall_ms();
    json_t *o = NULL;
    const char *missing = NULL;
    jobstate_lock(js);
    if (n == 1 && strcmp(seg[0], "overview") == 0) {
        o = rest_json_overview(js, &s->ji);
    } else if (n == 1 && strcmp(seg[0], "config") == 0) {
        o = rest_json_config();
    } else if (n == 1 && strcmp(seg[0], "taskmanagers") == 0) {
        o = rest_json_taskmanagers(js, &s->ji, now);
    } else if (n == 1 && strcmp(seg[0], "jobs") == 0) {
        o = rest_json_jobs(js);
    } else if (n == 2 && strcmp(seg[0], "jobs") == 0 && strcmp(seg[1], "overview") == 0) {
        o = rest_json_jobs_overview(js, now);
    } else if (n >= 2 && strcmp(seg[0], "jobs") == 0 && !is_job(s, seg[1])) {
        missing = "job";
    } else if (n < 2 || strcmp(seg[0], "jobs") != 0) {
        missing = "path";
    } else if (n == 2) {
        o = rest_json_job(js, &s->ji, now);
    } else if (n == 3 && strcmp(seg[2], "checkpoints") == 0) {
        o = rest_json_checkpoints(js);
    } else if (n == 4 && strcmp(seg[2], "checkpoints") == 0 && strcmp(seg[3], "config") == 0) {
        o = rest_json_checkpoint_config(&s->ji);
        missing = o ? NULL : "checkpointing";
    } else if (n == 3 && strcmp(seg[2], "plan") == 0) {
        o = rest_dash_plan(js);
    } else if (n == 3 && strcmp(seg[2], "network") == 0) {
        o = rest_dash_network(js, now);
    } else if (n == 3 && strcmp(seg[2], "exceptions") == 0) {
        o = rest_json_exceptions(js);
    } else if (n == 3 && strcmp(seg[2], "taskmanagers") == 0) {
        o = rest_json_taskmanagers(js, &s->ji, now);
    } else if (n == 3 && strcmp(seg[2], "vertices") == 0) {
        o = rest_json_job(js, &s->ji, now);
    } else if ((n == 4 || (n == 5 && strcmp(seg[4], "watermarks") == 0)) &&
               strcmp(seg[2], "vertices") == 0) {
        int v = find_vertex(s, seg[3]);
        if (v < 0)
            missing = "vertex";
        else
            o = n == 4 ? rest_json_vertex(js, &s->ji, v, now) : rest_json_watermarks(js, v);
    } else {
        missing = "path";
    }
    jobstate_unlock(js);
    if (o)
        return send_json(c, MHD_HTTP_OK, o);
    if (missing && strcmp(missing, "job") == 0)
        return send_error(c, MHD_HTTP_NOT_FOUND, "Job %s not found (this JobManager runs job "
                          "'%s', id %s)", seg[1], jobstate_job_name(js), jobstate_job_id(js));
    if (missing && strcmp(missing, "vertex") == 0)
        return send_error(c, MHD_HTTP_NOT_FOUND, "no vertex '%s' in job '%s'", seg[3],
                          jobstate_job_name(js));
    if (missing && strcmp(missing, "checkpointing") == 0)
        return send_error(c, MHD_HTTP_NOT_FOUND, "Checkpointing is not enabled for this job "
                          "(execution.checkpointing.interval is 0)");
    return send_error(c, MHD_HTTP_NOT_FOUND, "Not found: no such endpoint");
}

#define MAX_SEGS 8

static enum MHD_Result route(rest_server *s, struct MHD_Connection *c, const char *url,
                             const char *method, const req_ctx *r)
{
    char path[1024];
    if (strlen(url) >= sizeof path)
        return send_error(c, MHD_HTTP_URI_TOO_LONG, "the path is too long");
    snprintf(path, sizeof path, "%s", url);
    char *seg[MAX_SEGS], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n == MAX_SEGS)
            return send_error(c, MHD_HTTP_NOT_FOUND, "Not found: no such endpoint");
        seg[n++] = t;
    }
    if (n && strcmp(seg[0], "v1") == 0) { /* Flink's versioned paths */
        memmove(seg, seg + 1, (size_t)--n * sizeof *seg);
    }
    if (s->hist)
        return route_history(s, c, url, method, seg, n);
    int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    int patch = strcmp(method, MHD_HTTP_METHOD_PATCH) == 0;
    if (n == 1 && strcmp(seg[0], "metrics") == 0 && get)
        return get_metrics(s, c);
    if (get && n == 2 && strcmp(seg[0], "jobmanager") == 0 && strcmp(seg[1], "log") == 0)
        return get_log(s, c, NULL);
    if (get && n == 3 && strcmp(seg[0], "taskmanagers") == 0 && strcmp(seg[2], "log") == 0)
        return get_log(s, c, seg[1]);
    int job_path = n >= 2 && strcmp(seg[0], "jobs") == 0 && strcmp(seg[1], "overview") != 0;
    int mutating = job_path && ((post && n == 3 && (strcmp(seg[2], "savepoints") == 0 ||
                                                   strcmp(seg[2], "stop") == 0)) ||
                                (patch && n == 2));
    if (mutating) {
        if (!authorized(s, c))
            return send_error(c, MHD_HTTP_UNAUTHORIZED, "a valid bearer token is needed "
                              "(Authorization: Bearer <rest.auth.token>)");
        if (!is_job(s, seg[1]))
            return send_error(c, MHD_HTTP_NOT_FOUND, "Job %s not found", seg[1]);
        if (patch)
            return patch_job(s, c);
        return post_savepoint(s, c, r, strcmp(seg[2], "stop") == 0);
    }
    if (get && job_path && n == 4 && strcmp(seg[2], "savepoints") == 0) {
        if (!is_job(s, seg[1]))
            return send_error(c, MHD_HTTP_NOT_FOUND, "Job %s not found", seg[1]);
        return get_trigger(s, c, seg[3]);
    }
    const dashboard_file *asset;
    if (get && dashboard_asset(url, &asset) == 0)
        return get_asset(c, asset);
    if (!get)
        return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "%s is not allowed here", method);
    return get_json(s, c, seg, n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    rest_server *s = cls;
    req_ctx *r = *con_cls;
    if (!r) { /* the headers: refuse an oversize body before reading it */
        r = xcalloc(1, sizeof *r);
        *con_cls = r;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->max_body)
            return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "the request body is larger than "
                              "rest.server.max-content-length (%zu bytes)", s->max_body);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_big && r->len + *upload_size <= s->max_body) {
            r->body = xrealloc(r->body, r->len + *upload_size + 1);
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
        } else {
            r->too_big = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_big)
        return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "the request body is larger than "
                          "rest.server.max-content-length (%zu bytes)", s->max_body);
    return route(s, c, url, method, r);
}

/* The Prometheus port (metrics.reporter.prom.port): GET /metrics, and
 * nothing else. Answers at once, before any body. */
static enum MHD_Result on_prom_request(void *cls, struct MHD_Connection *c, const char *url,
                                       const char *method, const char *version,
                                       const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version, (void)upload, (void)upload_size, (void)con_cls;
    if (strcmp(url, "/metrics") != 0)
        return send_error(c, MHD_HTTP_NOT_FOUND, "Not found: this port serves GET /metrics "
                          "only (metrics.reporter.prom.port)");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "%s is not allowed here", method);
    return get_metrics(cls, c);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    req_ctx *r = *con_cls;
    if (r) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = 0;
    log_debug("REST server: %s", line);
}

/* --- setup --- */

/* Listen on addr at port or the next free one above it (port 0: any).
 * Returns the socket, or -1 with e set. */
static int listen_on(const char *addr, int port, int *bound, const char *what, mpf_err *e)
{
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        err_set(e, MPF_ECONFIG, "rest.address '%s' is not an IPv4 address", addr);
        return -1;
    }
    int last = port ? port + PORT_TRIES - 1 : 0;
    if (last > 65535)
        last = 65535;
    for (int p = port; p <= last; p++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            break;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sa.sin_port = htons((uint16_t)p);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 64) == 0) {
            socklen_t len = sizeof sa;
            getsockname(fd, (struct sockaddr *)&sa, &len);
            *bound = ntohs(sa.sin_port);
            return fd;
        }
        int err = errno;
        close(fd);
        if (err != EADDRINUSE && err != EACCES) {
            err_set(e, MPF_EIO, "%s on %s:%d: %s", what, addr, p, strerror(err));
            return -1;
        }
    }
    err_set(e, MPF_EIO, "%s: ports %d to %d on %s are all taken", what, port, last, addr);
    return -1;
}

/* Serve fd (which it then owns) with handler h, limits from rest.server.*
 * of c: the daemon, or NULL (fd closed). */
static struct MHD_Daemon *serve(rest_server *s, int fd, const conf *c, MHD_AccessHandlerCallback h)
{
    int64_t timeout_s = conf_duration_ns(c, CONF_REST_SERVER_CONNECTION_TIMEOUT) / 1000000000;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, h, s,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)conf_int(c, CONF_REST_SERVER_MAX_CONNECTIONS), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(timeout_s > 0 ? timeout_s : 1), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)conf_size(c, CONF_REST_SERVER_MAX_HEADER_SIZE), MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_END);
    if (!d)
        close(fd);
    return d;
}

/* metrics.reporter.prom.port, when set: a second daemon on rest.address
 * serving GET /metrics only. Failing to start it costs only that page. */
static void start_prom(rest_server *s, const conf *c)
{
    int want = (int)conf_int(c, CONF_METRICS_REPORTER_PROM_PORT);
    if (!want)
        return;
    mpf_err e = {0};
    int fd = listen_on(s->address, want, &s->prom_port, "Prometheus port", &e);
    if (fd >= 0 && !(s->pd = serve(s, fd, c, on_prom_request)))
        err_set(&e, MPF_EIO, "libmicrohttpd could not start on %s:%d", s->address, s->prom_port);
    if (!s->pd) {
        log_warn("no Prometheus port (metrics.reporter.prom.port %d): %s; GET /metrics is on "
                 "the REST port", want, e.msg);
        s->prom_port = 0;
        return;
    }
    const char *host = strcmp(s->address, "0.0.0.0") == 0 ? "127.0.0.1" : s->address;
    log_info("Prometheus metrics at http://%s:%d/metrics%s", host, s->prom_port,
             s->prom_port != want ? " (metrics.reporter.prom.port is taken)" : "");
}

static char *read_token_file(const char *path, mpf_err *e)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        err_set(e, MPF_ECONFIG, "rest.auth.token-file '%s': %s", path, strerror(errno));
        return NULL;
    }
    char line[1024] = "";
    if (!fgets(line, sizeof line, f))
        line[0] = 0;
    fclose(f);
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0]) {
        err_set(e, MPF_ECONFIG, "rest.auth.token-file '%s' is empty", path);
        return NULL;
    }
    return xstrdup(line);
}

static void add_root(rest_server *s, const char *dir)
{
    char *r = resolve_dir(dir);
    if (!r) {
        log_warn("savepoint directory '%s' has a '..' component: not allowed as a REST target",
                 dir);
        return;
    }
    s->allowed = xrealloc(s->allowed, (s->nallowed + 1) * sizeof *s->allowed);
    s->allowed[s->nallowed++] = r;
}

char *rest_discovery_dir(void)
{
    const char *dir = getenv("MPIFLOW_RUN_DIR");
    if (dir && *dir)
        return xasprintf("%s/jobs", dir);
    return xasprintf("/tmp/mpiflow-%u/jobs", (unsigned)getuid());
}

char *rest_discovery_path(const char *jobname)
{
    char *dir = rest_discovery_dir();
    char *p = xasprintf("%s/%s.json", dir, jobname);
    free(dir);
    return p;
}


static void write_discovery(rest_server *s)
{
    const char *name = jobstate_job_name(s->js);
    char *dir = rest_discovery_dir();
    s->disc_path = rest_discovery_path(name);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    const char *tf = conf_str(s->ji.conf, CONF_REST_AUTH_TOKEN_FILE);
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:i, s:s, s:I, s:b}", "job", name, "jid",
                          jobstate_job_id(s->js), "address", s->address, "port", s->port, "url",
                          s->url, "pid", (int)getpid(), "host", host, "start-time",
                          (json_int_t)clock_wall_ms(), "auth", s->token != NULL);
    if (*tf)
        json_object_set_new(o, "token-file", json_string(tf));
    if (s->prom_port)
        json_object_set_new(o, "prom-port", json_integer(s->prom_port));
    char *tmp = xasprintf("%s.tmp.%d", s->disc_path, (int)getpid());
    if (fs_mkdirs(dir, 0700) != 0 || json_dump_file(o, tmp, JSON_INDENT(2)) != 0 ||
        rename(tmp, s->disc_path) != 0) {
        log_warn("could not write the discovery file %s (%s): `mpiflow` commands find this job "
                 "only with --jobmanager %s:%d", s->disc_path, strerror(errno), s->address,
                 s->port);
        unlink(tmp);
        free(s->disc_path);
        s->disc_path = NULL;
    }
    free(tmp);
    free(dir);
    json_decref(o);
}

int rest_start(rest_server **out, const jobstate *js, const rest_job_info *ji, mpf_err *e)
{
    *out = NULL;
    const conf *c = ji->conf;
    if (!conf_bool(c, CONF_REST_ENABLED))
        return 0;
    rest_server *s = xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->js = js;
    s->ji = *ji;
    s->max_body = (size_t)conf_size(c, CONF_REST_SERVER_MAX_CONTENT_LENGTH);
    snprintf(s->address, sizeof s->address, "%s", conf_str(c, CONF_REST_ADDRESS));
    const char *tok = conf_str(c, CONF_REST_AUTH_TOKEN);
    const char *tf = conf_str(c, CONF_REST_AUTH_TOKEN_FILE);
    if (*tok)
        s->token = xstrdup(tok);
    else if (*tf && !(s->token = read_token_file(tf, e)))
        goto fail;
    add_root(s, conf_str(c, CONF_STATE_SAVEPOINTS_DIR));
    char *dirs = xstrdup(conf_str(c, CONF_REST_SAVEPOINT_ALLOWED_DIRS)), *save = NULL;
    for (char *d = strtok_r(dirs, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
        while (*d == ' ')
            d++;
        size_t n = strlen(d);
        while (n && d[n - 1] == ' ')
            d[--n] = 0;
        if (n)
            add_root(s, d);
    }
    free(dirs);
    int fd = listen_on(s->address, (int)conf_int(c, CONF_REST_PORT), &s->port, "REST API", e);
    if (fd < 0)
        goto fail;
    if (!(s->d = serve(s, fd, c, on_request))) {
        err_set(e, MPF_EIO, "REST API: libmicrohttpd could not start on %s:%d", s->address,
                s->port);
        goto fail;
    }
    const char *host = strcmp(s->address, "0.0.0.0") == 0 ? "127.0.0.1" : s->address;
    snprintf(s->url, sizeof s->url, "http://%s:%d", host, s->port);
    if (conf_int(c, CONF_REST_PORT) && s->port != conf_int(c, CONF_REST_PORT))
        log_info("rest.port %lld is taken: the REST API uses port %d",
                 (long long)conf_int(c, CONF_REST_PORT), s->port);
    if (!s->token && strncmp(s->address, "127.", 4) != 0)
        log_warn("the REST API listens on %s without rest.auth.token: anyone who reaches it "
                 "can stop or cancel the job", s->address);
    start_prom(s, c);
    write_discovery(s);
    *out = s;
    return 0;
fail:
    rest_stop(s);
    return e->code;
}

int rest_start_history(rest_server **out, history *h, const conf *c, mpf_err *e)
{
    *out = NULL;
    rest_server *s = xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->hist = h;
    s->max_body = (size_t)conf_size(c, CONF_REST_SERVER_MAX_CONTENT_LENGTH);
    snprintf(s->address, sizeof s->address, "%s", conf_str(c, CONF_HISTORYSERVER_WEB_ADDRESS));
    int fd = listen_on(s->address, (int)conf_int(c, CONF_HISTORYSERVER_WEB_PORT), &s->port,
                       "history server", e);
    if (fd < 0)
        goto fail;
    if (!(s->d = serve(s, fd, c, on_request))) {
        err_set(e, MPF_EIO, "history server: libmicrohttpd could not start on %s:%d",
                s->address, s->port);
        goto fail;
    }
    const char *host = strcmp(s->address, "0.0.0.0") == 0 ? "127.0.0.1" : s->address;
    snprintf(s->url, sizeof s->url, "http://%s:%d", host, s->port);
    *out = s;
    return 0;
fail:
    rest_stop(s);
    return e->code;
}

const char *rest_url(const rest_server *s)
{
    return s ? s->url : "";
}

/* Whether the discovery file at path is this process's. */
static int discovery_is_ours(const char *path)
{
    json_t *o = json_load_file(path, 0, NULL);
    int ours = o && json_integer_value(json_object_get(o, "pid")) == getpid();
    json_decref(o);
    return ours;
}

void rest_stop(rest_server *s)
{
    if (!s)
        return;
    if (s->d) {
        /* let a client polling for a savepoint's outcome see it */
        for (int waited = 0; waited < 2000; waited += 20) {
            int unseen = 0;
            pthread_mutex_lock(&s->mu);
            for (int i = 0; i < NTRIGGERS; i++)
                unseen |= (s->trig[i].state == T_OK || s->trig[i].state == T_FAILED) &&
                          !s->trig[i].fetched;
            pthread_mutex_unlock(&s->mu);
            if (!unseen)
                break;
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(s->d);
    }
    if (s->pd)
        MHD_stop_daemon(s->pd);
    if (s->disc_path && discovery_is_ours(s->disc_path))
        unlink(s->disc_path);
    free(s->disc_path);
    for (size_t i = 0; i < s->nallowed; i++)
        free(s->allowed[i]);
    free(s->allowed);
    for (int i = 0; i < NTRIGGERS; i++)
        free(s->trig[i].text);
    for (size_t i = 0; i < s->qlen; i++)
        free(s->q[(s->qhead + i) % NQUEUE].dir);
    free(s->token);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
