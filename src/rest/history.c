/* The history server's data: job archives read back (rest layer); see
 * history.h. */
#include "rest/history.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "rest/rest_json.h"
#include "util/xmalloc.h"

typedef struct hjob {
    char *jid;
    const char *name;  /* in overview */
    int64_t start;
    json_t *paths;     /* path -> answer */
    json_t *overview;  /* the job's entry of /jobs/overview */
} hjob;

struct history {
    char *dir;
    pthread_mutex_t mu;
    hjob *jobs; /* newest first */
    size_t n;
    int bad;
    int scanned;
    struct timespec mtime;
};

history *history_open(const char *dir)
{
    history *h = xcalloc(1, sizeof *h);
    h->dir = xstrdup(dir);
    pthread_mutex_init(&h->mu, NULL);
    return h;
}

static void drop_jobs(history *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->jobs[i].jid);
        json_decref(h->jobs[i].paths);
    }
    free(h->jobs);
    h->jobs = NULL;
    h->n = 0;
    h->bad = 0;
}

void history_close(history *h)
{
    if (!h)
        return;
    drop_jobs(h);
    pthread_mutex_destroy(&h->mu);
    free(h->dir);
    free(h);
}

/* One archive file: 0 with *j filled, or -1. */
static int load(const char *path, hjob *j)
{
    json_t *o = json_load_file(path, 0, NULL);
    json_t *a = json_object_get(o, "archive");
    if (!json_is_array(a)) {
        json_decref(o);
        return -1;
    }
    memset(j, 0, sizeof *j);
    j->paths = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        const char *p = json_string_value(json_object_get(e, "path"));
        json_t *v = json_object_get(e, "json");
        json_t *body = json_is_string(v) ? json_loads(json_string_value(v), 0, NULL)
                                         : json_incref(v);
        if (p && body)
            json_object_set_new(j->paths, p, body);
        else
            json_decref(body);
    }
    json_decref(o);
    json_t *ov = json_array_get(json_object_get(json_object_get(j->paths, "/jobs/overview"),
                                                "jobs"), 0);
    const char *jid = json_string_value(json_object_get(ov, "jid"));
    if (!jid) {
        json_decref(j->paths);
        return -1;
    }
    j->jid = xstrdup(jid);
    j->overview = ov;
    j->name = json_string_value(json_object_get(ov, "name"));
    j->start = json_integer_value(json_object_get(ov, "start-time"));
    return 0;
}

static int newest_first(const void *a, const void *b)
{
    const hjob *x = a, *y = b;
    return x->start < y->start ? 1 : x->start > y->start ? -1 : strcmp(x->jid, y->jid);
}

/* Read the directory again when it changed. Holds mu. */
static void rescan(history *h)
{
    struct stat sb;
    if (stat(h->dir, &sb) != 0) {
        drop_jobs(h);
        h->scanned = 0;
        return;
    }
    if (h->scanned && sb.st_mtim.tv_sec == h->mtime.tv_sec &&
        sb.st_mtim.tv_nsec == h->mtime.tv_nsec)
        return;
    drop_jobs(h);
    h->scanned = 1;
    h->mtime = sb.st_mtim;
    DIR *d = opendir(h->dir);
    if (!d)
        return;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue; /* ".", "..", and archives being written */
        char *p = xasprintf("%s/%s", h->dir, de->d_name);
        hjob j;
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && load(p, &j) == 0) {
            if (h->n == cap) {
                cap = cap ? 2 * cap : 16;
                h->jobs = xrealloc(h->jobs, cap * sizeof *h->jobs);
            }
            h->jobs[h->n++] = j;
        } else {
            h->bad++;
        }
        free(p);
    }
    closedir(d);
    if (h->n)
        qsort(h->jobs, h->n, sizeof *h->jobs, newest_first);
}

json_t *history_overview(history *h, int *bad)
{
    pthread_mutex_lock(&h->mu);
    rescan(h);
    json_t *a = json_array();
    for (size_t i = 0; i < h->n; i++)
        json_array_append(a, h->jobs[i].overview);
    if (bad)
        *bad = h->bad;
    pthread_mutex_unlock(&h->mu);
    return json_pack("{s:o}", "jobs", a);
}

static const hjob *find_job(const history *h, const char *id)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->jobs[i].jid, id) == 0)
            return &h->jobs[i];
    for (size_t i = 0; i < h->n; i++) /* newest first: the latest run of that name */
        if (h->jobs[i].name && strcmp(h->jobs[i].name, id) == 0)
            return &h->jobs[i];
    return NULL;
}

/* A vertex id of job j by id, uid (its "name") or index; NULL if none. */
static const char *find_vertex(const hjob *j, const char *vid)
{
    char p[128];
    snprintf(p, sizeof p, "/jobs/%s", j->jid);
    json_t *vs = json_object_get(json_object_get(j->paths, p), "vertices");
    size_t i;
    json_t *v;
    json_array_foreach(vs, i, v) {
        const char *id = json_string_value(json_object_get(v, "id"));
        const char *name = json_string_value(json_object_get(v, "name"));
        if ((id && strcmp(id, vid) == 0) || (name && strcmp(name, vid) == 0))
            return id;
    }
    char *end;
    long k = strtol(vid, &end, 10);
    if (*vid && !*end && k >= 0 && (size_t)k < json_array_size(vs))
        return json_string_value(json_object_get(json_array_get(vs, (size_t)k), "id"));
    return NULL;
}

static json_t *overview(const history *h)
{
    int fin = 0, can = 0, failed = 0;
    for (size_t i = 0; i < h->n; i++) {
        const char *st = json_string_value(json_object_get(h->jobs[i].overview, "state"));
        st = st ? st : "";
        fin += strcmp(st, "FINISHED") == 0;
        can += strcmp(st, "CANCELED") == 0;
        failed += strcmp(st, "FAILED") == 0;
    }
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:s}", "taskmanagers", 0,
                     "slots-total", 0, "slots-available", 0, "jobs-running", 0,
                     "jobs-finished", fin, "jobs-cancelled", can, "jobs-failed", failed,
                     "flink-version", "mpiflow " MPIFLOW_VERSION, "flink-commit", "");
}

static json_t *get_locked(history *h, char **seg, int n, char *why, size_t wn)
{
    if (n == 1 && strcmp(seg[0], "overview") == 0)
        return overview(h);
    if (n == 1 && strcmp(seg[0], "config") == 0) {
        json_t *c = rest_json_config();
        json_t *f = json_object_get(c, "features");
        json_object_set_new(f, "web-history", json_true());
        json_object_set_new(f, "web-cancel", json_false());
        return c;
    }
    if (n == 1 && strcmp(seg[0], "taskmanagers") == 0) /* none run here */
        return json_pack("{s:[]}", "taskmanagers");
    if (n == 1 && strcmp(seg[0], "jobs") == 0) {
        json_t *a = json_array();
        for (size_t i = 0; i < h->n; i++)
            json_array_append_new(a, json_pack("{s:s, s:O}", "id", h->jobs[i].jid, "status",
                                               json_object_get(h->jobs[i].overview, "state")));
        return json_pack("{s:o}", "jobs", a);
    }
    if (n == 2 && strcmp(seg[0], "jobs") == 0 && strcmp(seg[1], "overview") == 0) {
        json_t *a = json_array();
        for (size_t i = 0; i < h->n; i++)
            json_array_append(a, h->jobs[i].overview);
        return json_pack("{s:o}", "jobs", a);
    }
    if ((n == 2 && strcmp(seg[0], "jobmanager") == 0 && strcmp(seg[1], "log") == 0) ||
        (n == 3 && strcmp(seg[0], "taskmanagers") == 0 && strcmp(seg[2], "log") == 0)) {
        snprintf(why, wn, "the history server does not serve logs: they are in the job's "
                 "log.dir (jobmanager.log, taskmanager-<rank>.log)");
        return NULL;
    }
    if (n < 2 || strcmp(seg[0], "jobs") != 0) {
        snprintf(why, wn, "Not found: no such endpoint");
        return NULL;
    }
    const hjob *j = find_job(h, seg[1]);
    if (!j) {
        snprintf(why, wn, "Job %s not found in the archive %s", seg[1], h->dir);
        return NULL;
    }
    char p[1024];
    int at = snprintf(p, sizeof p, "/jobs/%s", j->jid);
    if (n == 3 && strcmp(seg[2], "vertices") == 0)
        n = 2; /* the vertices come with the job */
    for (int i = 2; i < n && at > 0 && (size_t)at < sizeof p; i++) {
        const char *s = seg[i];
        if (i == 3 && strcmp(seg[2], "vertices") == 0) {
            s = find_vertex(j, seg[3]);
            if (!s) {
                snprintf(why, wn, "no vertex '%s' in job '%s'", seg[3], j->name ? j->name : "");
                return NULL;
            }
        }
        at += snprintf(p + at, sizeof p - (size_t)at, "/%s", s);
    }
    json_t *v = json_object_get(j->paths, p);
    if (!v) {
        snprintf(why, wn, "Not found: %s is not in the job's archive", p);
        return NULL;
    }
    return json_incref(v);
}

json_t *history_get(history *h, char **seg, int n, char *why, size_t wn)
{
    pthread_mutex_lock(&h->mu);
    rescan(h);
    json_t *v = get_locked(h, seg, n, why, wn);
    pthread_mutex_unlock(&h->mu);
    return v;
}
