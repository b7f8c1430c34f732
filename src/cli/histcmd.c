/* `mpiflow history` and `mpiflow list --archived` (cli layer); see
 * histcmd.h. */
#include "cli/histcmd.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "conf/props.h"
#include "rest/history.h"
#include "rest/rest.h"
#include "util/log.h"

typedef struct hopts {
    conf *c;
    const char *dir;
    int json;
} hopts;

/* Options shared by both commands; the rest (port, address, --json)
 * through extra. Returns 0, or 2 after printing why. */
static int parse(int argc, char **argv, const char *default_conf, hopts *o, int serve)
{
    mpf_err e = {0};
    o->c = conf_new();
    const char *conf_path = default_conf;
    for (int i = 0; i < argc; i++) /* the file first, so -D wins over it */
        if (strcmp(argv[i], "--conf") == 0 && i + 1 < argc)
            conf_path = argv[++i];
    if (conf_path && conf_load_file(o->c, conf_path, &e))
        goto bad;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--conf") == 0 && val) {
            i++;
        } else if (strncmp(a, "-D", 2) == 0 && (a[2] || val)) {
            if (conf_set_kv(o->c, a[2] ? a + 2 : argv[++i], &e))
                goto bad;
        } else if (serve && strcmp(a, "--port") == 0 && val) {
            if (conf_set(o->c, "historyserver.web.port", val, "--port", &e))
                goto bad;
            i++;
        } else if (serve && strcmp(a, "--address") == 0 && val) {
            if (conf_set(o->c, "historyserver.web.address", val, "--address", &e))
                goto bad;
            i++;
        } else if (!serve && strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (!serve && strcmp(a, "--archived") == 0) {
            /* what brought us here */
        } else if (a[0] != '-' && !o->dir) {
            o->dir = a;
        } else {
            fprintf(stderr, "mpiflow: error: unexpected argument '%s'\nusage: %s\n", a,
                    serve ? "mpiflow history [DIR] [--port P] [--address A] [--conf F] "
                              "[-D KEY=VALUE]..."
                            : "mpiflow list --archived [DIR] [--json] [--conf F] "
                              "[-D KEY=VALUE]...");
            conf_destroy(o->c);
            return 2;
        }
    }
    if (conf_finalize(o->c, &e))
        goto bad;
    if (!o->dir)
        o->dir = conf_str(o->c, CONF_JOBMANAGER_ARCHIVE_FS_DIR);
    if (!*o->dir) {
        fprintf(stderr, "mpiflow: error: which archive directory? Give DIR, or set "
                "jobmanager.archive.fs.dir in the configuration (or with -D)\n");
        conf_destroy(o->c);
        return 2;
    }
    return 0;
bad:
    fprintf(stderr, "mpiflow: error: %s\n", e.msg);
    conf_destroy(o->c);
    return 2;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int cmd_history(int argc, char **argv, const char *default_conf)
{
    hopts o = {0};
    int rc = parse(argc, argv, default_conf, &o, 1);
    if (rc)
        return rc;
    log_init("history", LOG_INFO);
    history *h = history_open(o.dir);
    int bad = 0;
    json_t *ov = history_overview(h, &bad);
    size_t njobs = json_array_size(json_object_get(ov, "jobs"));
    json_decref(ov);
    rest_server *s;
    mpf_err e = {0};
    if (rest_start_history(&s, h, o.c, &e)) {
        fprintf(stderr, "mpiflow: error: %s\n", e.msg);
        history_close(h);
        conf_destroy(o.c);
        return 1;
    }
    log_info("history server at %s: %zu archived job(s) in %s%s (Ctrl-C ends it)", rest_url(s),
             njobs, o.dir, bad ? "; some files there are not job archives" : "");
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!stop) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    rest_stop(s);
    history_close(h);
    conf_destroy(o.c);
    return 0;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void format_time(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%d.%m.%Y %H:%M:%S", &tm);
}

int cmd_list_archived(int argc, char **argv, const char *default_conf)
{
    hopts o = {0};
    int rc = parse(argc, argv, default_conf, &o, 0);
    if (rc)
        return rc;
    history *h = history_open(o.dir);
    json_t *ov = history_overview(h, NULL);
    json_t *jobs = json_object_get(ov, "jobs");
    if (o.json) {
        char *txt = json_dumps(ov, JSON_INDENT(2));
        if (txt)
            puts(txt);
        free(txt);
    } else {
        printf("---------------------- Archived Jobs ----------------------\n");
        size_t i;
        json_t *j;
        json_array_foreach(jobs, i, j) {
            char start[64], end[64];
            format_time(json_integer_value(json_object_get(j, "start-time")), start,
                        sizeof start);
            format_time(json_integer_value(json_object_get(j, "end-time")), end, sizeof end);
            printf("%s : %s : %s (%s) ended %s\n", start, str(j, "jid"), str(j, "name"),
                   str(j, "state"), end);
        }
        if (!json_array_size(jobs))
            printf("No archived jobs in %s.\n", o.dir);
        printf("-----------------------------------------------------------\n");
    }
    json_decref(ov);
    history_close(h);
    conf_destroy(o.c);
    return 0;
}
