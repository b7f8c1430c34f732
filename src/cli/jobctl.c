/* `mpiflow list|savepoint|stop|cancel|checkpoints|metrics` over a running
 * job's REST API (cli layer); see jobctl.h. */
#include "cli/jobctl.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "rest/rest.h"
#include "rest/rest_client.h"
#include "util/xmalloc.h"

#define CALL_TIMEOUT_MS 10000
#define POLL_NS 100000000L /* between polls of a savepoint's status */

static const char *const commands[] = {"list", "savepoint", "stop", "cancel", "checkpoints",
                                       "metrics", NULL};

int jobctl_is_command(const char *cmd)
{
    for (int i = 0; commands[i]; i++)
        if (strcmp(cmd, commands[i]) == 0)
            return 1;
    return 0;
}

typedef struct opts {
    const char *job, *dir, *jobmanager, *token;
    int drain, json;
} opts;

/* A job's address: base URL and the id to put in paths. */
typedef struct target {
    char base[256];
    char id[256];
    char *token; /* from its discovery file's token-file, or NULL */
} target;

static void usage_line(FILE *f)
{
    fprintf(f, "usage: mpiflow list [--jobmanager HOST:PORT] [--json]\n"
               "       mpiflow savepoint JOB [DIR]\n"
               "       mpiflow stop JOB [--savepointPath DIR] [--drain]\n"
               "       mpiflow cancel JOB\n"
               "       mpiflow checkpoints JOB [--json]\n"
               "       mpiflow metrics JOB [--json]\n"
               "  JOB: the job's name or id; each takes --jobmanager HOST:PORT and --token T\n"
               "  (else $MPIFLOW_REST_TOKEN, else the job's rest.auth.token-file)\n");
}

static void sleep_ns(long ns)
{
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

static int alive(json_t *d)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    const char *h = json_string_value(json_object_get(d, "host"));
    pid_t pid = (pid_t)json_integer_value(json_object_get(d, "pid"));
    if (h && strcmp(h, host) != 0)
        return 1; /* another node's: only a request can tell */
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static char *read_first_line(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char line[1024] = "";
    if (!fgets(line, sizeof line, f))
        line[0] = 0;
    fclose(f);
    line[strcspn(line, "\r\n")] = 0;
    return line[0] ? xstrdup(line) : NULL;
}

static void fill_from_discovery(target *t, json_t *d)
{
    snprintf(t->base, sizeof t->base, "%s", json_string_value(json_object_get(d, "url")));
    snprintf(t->id, sizeof t->id, "%s", json_string_value(json_object_get(d, "jid")));
    const char *tf = json_string_value(json_object_get(d, "token-file"));
    if (tf)
        t->token = read_first_line(tf);
}

/* Only the user's own files count: a discovery file names the URL the
 * CLI sends the token to and the file it reads the token from, so one
 * planted by another user in a shared /tmp could collect it. */
static int trusted(const char *path, int is_dir)
{
    struct stat st;
    if (lstat(path, &st) != 0 || st.st_uid != getuid())
        return 0;
    return is_dir ? S_ISDIR(st.st_mode) && !(st.st_mode & 022) : S_ISREG(st.st_mode);
}

/* The discovery files of running jobs on this node. */
static size_t discovered(json_t ***out)
{
    char *dir = rest_discovery_dir();
    DIR *dp = trusted(dir, 1) ? opendir(dir) : NULL;
    size_t n = 0;
    *out = NULL;
    if (!dp) {
        free(dir);
        return 0;
    }
    for (struct dirent *de; (de = readdir(dp));) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        char *p = xasprintf("%s/%s", dir, de->d_name);
        json_t *d = trusted(p, 0) ? json_load_file(p, 0, NULL) : NULL;
        free(p);
        if (!d || !json_is_string(json_object_get(d, "url")) ||
            !json_is_string(json_object_get(d, "jid")) || !alive(d)) {
            json_decref(d);
            continue;
        }
        *out = xrealloc(*out, (n + 1) * sizeof **out);
        (*out)[n++] = d;
    }
    closedir(dp);
    free(dir);
    return n;
}

static void free_discovered(json_t **d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(d[i]);
    free(d);
}

/* Where job o->job runs: 0, or 1 after printing why not. */
static int resolve(const opts *o, target *t)
{
    memset(t, 0, sizeof *t);
    if (o->jobmanager) {
        snprintf(t->base, sizeof t->base, "%s%s", strstr(o->jobmanager, "://") ? "" : "http://",
                 o->jobmanager);
        /* the name as one path segment, percent-encoded */
        size_t at = 0;
        for (const unsigned char *c = (const unsigned char *)(o->job ? o->job : "");
             *c && at + 4 < sizeof t->id;
             c++) {
            if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                strchr("-._~", *c))
                t->id[at++] = (char)*c;
            else
                at += (size_t)snprintf(t->id + at, sizeof t->id - at, "%%%02X", *c);
        }
        t->id[at] = 0;
        return 0;
    }
    json_t **d;
    size_t n = discovered(&d);
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        const char *name = json_string_value(json_object_get(d[i], "job"));
        const char *jid = json_string_value(json_object_get(d[i], "jid"));
        if ((name && strcmp(name, o->job) == 0) || (jid && strcmp(jid, o->job) == 0)) {
            fill_from_discovery(t, d[i]);
            found = 1;
        }
    }
    free_discovered(d, n);
    if (found)
        return 0;
    char *dir = rest_discovery_dir();
    fprintf(stderr, "mpiflow: error: no running job '%s' on this node (none announced in %s); "
            "is the name right, and does its JobManager run here? Give --jobmanager HOST:PORT "
            "to reach it elsewhere; `mpiflow list` shows the jobs here\n", o->job, dir);
    free(dir);
    return 1;
}

static const char *token_of(const opts *o, const target *t)
{
    if (o->token)
        return o->token;
    const char *env = getenv("MPIFLOW_REST_TOKEN");
    if (env && *env)
        return env;
    return t->token;
}

/* The first message of an {"errors": [...]} body, or the body. */
static const char *error_text(const rest_reply *r, char *buf, size_t n)
{
    json_t *o = json_loadb(r->body, r->len, 0, NULL);
    const char *msg = json_string_value(json_array_get(json_object_get(o, "errors"), 0));
    snprintf(buf, n, "%s (HTTP %ld)", msg ? msg : r->len ? r->body : "no answer", r->status);
    json_decref(o);
    return buf;
}

/* One call; the parsed JSON answer of a 2xx, or NULL after printing why. */
static json_t *call(const opts *o, const target *t, const char *method, const char *path,
                    const char *body, int *gone)
{
    char *url = xasprintf("%s%s", t->base, path);
    rest_reply r;
    mpf_err e = {0};
    int rc = rest_http(method, url, token_of(o, t), body, CALL_TIMEOUT_MS, &r, &e);
    free(url);
    if (gone)
        *gone = rc == MPF_ENOENT;
    if (rc) {
        if (!gone || !*gone)
            fprintf(stderr, "mpiflow: error: %s\n", e.msg);
        rest_reply_fini(&r);
        return NULL;
    }
    json_t *v = NULL;
    if (r.status >= 200 && r.status < 300) {
        v = r.len ? json_loadb(r.body, r.len, 0, NULL) : json_object();
        if (!v)
            fprintf(stderr, "mpiflow: error: the JobManager's answer is not JSON\n");
    } else {
        char buf[1200];
        fprintf(stderr, "mpiflow: error: %s\n", error_text(&r, buf, sizeof buf));
    }
    rest_reply_fini(&r);
    return v;
}

static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    printf("%s\n", s ? s : "null");
    free(s);
}

static void format_time(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%d.%m.%Y %H:%M:%S", &tm);
}

static int64_t num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_real(v) ? (int64_t)json_real_value(v) : (int64_t)json_integer_value(v);
}

static double real(json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* --- list --- */

static void print_overview(json_t *ov, const char *url, int *count)
{
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(ov, "jobs"), i, j) {
        char when[64];
        format_time(num(j, "start-time"), when, sizeof when);
        printf("%s : %s : %s (%s) %s\n", when, str(j, "jid"), str(j, "name"), str(j, "state"),
               url);
        (*count)++;
    }
}

static int cmd_list(const opts *o)
{
    json_t *all = json_array();
    int count = 0, rc = 0;
    if (o->jobmanager) {
        target t;
        resolve(o, &t);
        json_t *ov = call(o, &t, "GET", "/jobs/overview", NULL, NULL);
        if (!ov)
            return 1;
        json_array_extend(all, json_object_get(ov, "jobs"));
        if (!o->json) {
            printf("------------------ Running/Restarting Jobs -------------------\n");
            print_overview(ov, t.base, &count);
        }
        json_decref(ov);
    } else {
        json_t **d;
        size_t n = discovered(&d);
        if (!o->json)
            printf("------------------ Running/Restarting Jobs -------------------\n");
        for (size_t i = 0; i < n; i++) {
            target t = {0};
            fill_from_discovery(&t, d[i]);
            int gone = 0;
            json_t *ov = call(o, &t, "GET", "/jobs/overview", NULL, &gone);
            free(t.token);
            if (!ov)
                continue; /* it ended since it was announced */
            json_array_extend(all, json_object_get(ov, "jobs"));
            if (!o->json)
                print_overview(ov, t.base, &count);
            json_decref(ov);
        }
        free_discovered(d, n);
    }
    if (o->json) {
        json_t *w = json_pack("{s:o}", "jobs", all);
        print_json(w);
        json_decref(w);
        return rc;
    }
    json_decref(all);
    if (!count)
        printf("No running jobs.\n");
    printf("--------------------------------------------------------------\n");
    return rc;
}

/* --- savepoint, stop, cancel --- */

/* Wait for the outcome of trigger id: print the location (0) or the
 * failure (1). */
static int await_trigger(const opts *o, const target *t, const char *what, const char *trig)
{
    char *path = xasprintf("/jobs/%s/savepoints/%s", t->id, trig);
    int rc = 1;
    for (;;) {
        int gone = 0;
        json_t *v = call(o, t, "GET", path, NULL, &gone);
        if (!v) {
            if (gone)
                fprintf(stderr, "mpiflow: error: the job ended before its %s completed\n", what);
            break;
        }
        const char *st = str(json_object_get(v, "status"), "id");
        json_t *op = json_object_get(v, "operation");
        if (strcmp(st, "COMPLETED") == 0) {
            const char *loc = json_string_value(json_object_get(op, "location"));
            const char *cause = str(json_object_get(op, "failure-cause"), "stack-trace");
            if (loc) {
                printf("%s\n", loc);
                rc = 0;
            } else {
                fprintf(stderr, "mpiflow: error: %s\n", *cause ? cause : "the savepoint failed");
            }
            json_decref(v);
            break;
        }
        json_decref(v);
        sleep_ns(POLL_NS);
    }
    free(path);
    return rc;
}

static int cmd_savepoint(const opts *o, const target *t, int stop)
{
    char dir[PATH_MAX + 1] = "";
    if (o->dir && o->dir[0] != '/') { /* relative to here, not to the JobManager */
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd) || snprintf(dir, sizeof dir, "%s/%s", cwd, o->dir) >=
                                            (int)sizeof dir) {
            fprintf(stderr, "mpiflow: error: cannot make '%s' absolute\n", o->dir);
            return 1;
        }
    } else if (o->dir) {
        snprintf(dir, sizeof dir, "%s", o->dir);
    }
    json_t *req = stop ? json_pack("{s:s?, s:b}", "targetDirectory", o->dir ? dir : NULL,
                                   "drain", o->drain)
                       : json_pack("{s:s?, s:b}", "target-directory", o->dir ? dir : NULL,
                                   "cancel-job", 0);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char *path = xasprintf("/jobs/%s/%s", t->id, stop ? "stop" : "savepoints");
    json_t *v = call(o, t, "POST", path, body, NULL);
    free(path);
    free(body);
    if (!v)
        return 1;
    char trig[64];
    snprintf(trig, sizeof trig, "%s", str(v, "request-id"));
    json_decref(v);
    if (!trig[0]) {
        fprintf(stderr, "mpiflow: error: the JobManager gave no request-id\n");
        return 1;
    }
    return await_trigger(o, t, stop ? "stop with savepoint" : "savepoint", trig);
}

static int terminal(const char *st)
{
    return strcmp(st, "CANCELED") == 0 || strcmp(st, "FINISHED") == 0 ||
           strcmp(st, "FAILED") == 0;
}

static int cmd_cancel(const opts *o, const target *t)
{
    char *path = xasprintf("/jobs/%s?mode=cancel", t->id);
    json_t *v = call(o, t, "PATCH", path, NULL, NULL);
    free(path);
    if (!v)
        return 1;
    json_decref(v);
    /* until it is cancelled, or its JobManager has left */
    path = xasprintf("/jobs/%s", t->id);
    int rc = 0;
    for (;;) {
        int gone = 0;
        v = call(o, t, "GET", path, NULL, &gone);
        if (!v) {
            rc = gone ? 0 : 1;
            break;
        }
        const char *st = str(v, "state");
        if (terminal(st)) {
            if (strcmp(st, "CANCELED") != 0) {
                fprintf(stderr, "mpiflow: error: the job ended %s before it was cancelled\n", st);
                rc = 1;
            }
            json_decref(v);
            break;
        }
        json_decref(v);
        sleep_ns(POLL_NS);
    }
    free(path);
    if (!rc)
        printf("Cancelled job %s.\n", t->id);
    return rc;
}

/* --- checkpoints, metrics --- */

static void print_ckpt(const char *what, json_t *c)
{
    if (!json_is_object(c))
        return;
    char when[64];
    format_time(num(c, "trigger_timestamp"), when, sizeof when);
    printf("latest %-9s id %" PRId64 " at %s, %" PRId64 " ms, %" PRId64 " bytes: %s\n", what,
           num(c, "id"), when, num(c, "end_to_end_duration"), num(c, "state_size"),
           *str(c, "external_path") ? str(c, "external_path") : str(c, "failure_message"));
}

/* GET one of the job's resources (fmt has %s for its id). With --json the
 * answer is printed and *v left NULL. Returns the exit code for when *v is
 * NULL. */
static int get_for_table(const opts *o, const target *t, const char *fmt, json_t **v)
{
    char *path = xasprintf(fmt, t->id);
    *v = call(o, t, "GET", path, NULL, NULL);
    free(path);
    if (!*v)
        return 1;
    if (o->json) {
        print_json(*v);
        json_decref(*v);
        *v = NULL;
    }
    return 0;
}

static int cmd_checkpoints(const opts *o, const target *t)
{
    json_t *v;
    int rc = get_for_table(o, t, "/jobs/%s/checkpoints", &v);
    if (!v)
        return rc;
    json_t *n = json_object_get(v, "counts"), *l = json_object_get(v, "latest");
    printf("checkpoints: %" PRId64 " completed (%" PRId64 " of them savepoints), %" PRId64
           " failed, %" PRId64 " in progress, %" PRId64 " restored\n",
           num(n, "completed"), num(n, "savepoints"), num(n, "failed"), num(n, "in_progress"),
           num(n, "restored"));
    print_ckpt("completed", json_object_get(l, "completed"));
    print_ckpt("savepoint", json_object_get(l, "savepoint"));
    print_ckpt("failed", json_object_get(l, "failed"));
    json_t *rs = json_object_get(l, "restored");
    if (json_is_object(rs))
        printf("restored  from %s %" PRId64 ": %s\n",
               json_is_true(json_object_get(rs, "is_savepoint")) ? "savepoint" : "checkpoint",
               num(rs, "id"), str(rs, "external_path"));
    json_t *s = json_object_get(v, "summary");
    json_t *d = json_object_get(s, "end_to_end_duration"), *z = json_object_get(s, "state_size");
    if (num(n, "completed"))
        printf("duration ms: min %" PRId64 " avg %" PRId64 " p50 %.0f p99 %.0f max %" PRId64
               "; size bytes: min %" PRId64 " avg %" PRId64 " p50 %.0f p99 %.0f max %" PRId64
               "\n", num(d, "min"), num(d, "avg"), real(d, "p50"), real(d, "p99"),
               num(d, "max"), num(z, "min"), num(z, "avg"), real(z, "p50"), real(z, "p99"),
               num(z, "max"));
    printf("%8s  %-11s  %-10s  %-19s  %11s  %12s  %s\n", "id", "status", "type", "trigger",
           "duration_ms", "size_bytes", "path or failure");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(v, "history"), i, c) {
        char when[64];
        format_time(num(c, "trigger_timestamp"), when, sizeof when);
        printf("%8" PRId64 "  %-11s  %-10s  %-19s  %11" PRId64 "  %12" PRId64 "  %s\n",
               num(c, "id"), str(c, "status"), str(c, "checkpoint_type"), when,
               num(c, "end_to_end_duration"), num(c, "state_size"),
               *str(c, "external_path") ? str(c, "external_path") : str(c, "failure_message"));
    }
    json_decref(v);
    return 0;
}

static int cmd_metrics(const opts *o, const target *t)
{
    json_t *v;
    int rc = get_for_table(o, t, "/jobs/%s", &v);
    if (!v)
        return rc;
    printf("job '%s' (%s) %s for %.1f s\n", str(v, "name"), str(v, "jid"), str(v, "state"),
           (double)num(v, "duration") / 1e3);
    printf("%-16s %3s %14s %14s %11s %11s %8s %8s %8s %12s\n", "operator", "par", "records_in",
           "records_out", "in_per_s", "out_per_s", "busy", "backpr", "idle", "state_bytes");
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(v, "vertices"), i, x) {
        json_t *m = json_object_get(x, "metrics");
        printf("%-16s %3" PRId64 " %14" PRId64 " %14" PRId64 " %11.0f %11.0f %8.0f %8.0f %8.0f "
               "%12" PRId64 "\n", str(x, "name"), num(x, "parallelism"), num(m, "read-records"),
               num(m, "write-records"), real(m, "numRecordsInPerSecond"),
               real(m, "numRecordsOutPerSecond"), real(m, "busyTimeMsPerSecond"),
               real(m, "backPressuredTimeMsPerSecond"), real(m, "idleTimeMsPerSecond"),
               num(m, "stateSizeBytes"));
    }
    printf("(busy, backpr, idle: ms per second, the busiest subtask's busy and backpressured "
           "time and the idlest's idle time)\n");
    json_decref(v);
    return 0;
}

int cmd_jobctl(const char *cmd, int argc, char **argv)
{
    opts o = {0};
    int listing = strcmp(cmd, "list") == 0;
    int has_dir = strcmp(cmd, "savepoint") == 0;
    int stop = strcmp(cmd, "stop") == 0;
    int json_ok = listing || strcmp(cmd, "checkpoints") == 0 || strcmp(cmd, "metrics") == 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if ((strcmp(a, "--jobmanager") == 0 || strcmp(a, "-m") == 0) && val) {
            o.jobmanager = val;
            i++;
        } else if (strcmp(a, "--token") == 0 && val) {
            o.token = val;
            i++;
        } else if (stop && strcmp(a, "--drain") == 0) {
            o.drain = 1;
        } else if (stop && (strcmp(a, "--savepointPath") == 0 || strcmp(a, "-p") == 0) && val) {
            o.dir = val;
            i++;
        } else if (json_ok && strcmp(a, "--json") == 0) {
            o.json = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage_line(stdout);
            return 0;
        } else if (a[0] == '-' || listing || (o.job && (!has_dir || o.dir))) {
            fprintf(stderr, "mpiflow: error: unexpected argument '%s'\n", a);
            usage_line(stderr);
            return 2;
        } else if (!o.job) {
            o.job = a;
        } else {
            o.dir = a;
        }
    }
    if (listing)
        return cmd_list(&o);
    if (!o.job) {
        fprintf(stderr, "mpiflow: error: %s needs the job's name or id\n", cmd);
        usage_line(stderr);
        return 2;
    }
    target t;
    if (resolve(&o, &t))
        return 1;
    int rc;
    if (strcmp(cmd, "cancel") == 0)
        rc = cmd_cancel(&o, &t);
    else if (strcmp(cmd, "checkpoints") == 0)
        rc = cmd_checkpoints(&o, &t);
    else if (strcmp(cmd, "metrics") == 0)
        rc = cmd_metrics(&o, &t);
    else
        rc = cmd_savepoint(&o, &t, stop);
    free(t.token);
    return rc;
}
