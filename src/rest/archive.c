/* Job archives: the JobManager's side (rest layer); see archive.h. */
#include "rest/archive.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rest/rest_dash.h"
#include "util/clock.h"
#include "util/xmalloc.h"
#include "util/fsutil.h"

/* Append {"path", "json"} (value stolen; NULL is skipped). */
static void add(json_t *a, const char *path, json_t *v)
{
    if (!v)
        return;
    char *txt = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(v);
    if (!txt)
        return;
    json_array_append_new(a, json_pack("{s:s, s:s}", "path", path, "json", txt));
    free(txt);
}

json_t *archive_build(const jobstate *js, const rest_job_info *ji, int64_t now_ms)
{
    json_t *a = json_array();
    const char *jid = jobstate_job_id(js);
    char p[256];
    add(a, "/jobs/overview", rest_json_jobs_overview(js, now_ms));
    snprintf(p, sizeof p, "/jobs/%s", jid);
    add(a, p, rest_json_job(js, ji, now_ms));
    for (int i = 0; i < jobstate_nvertices(js); i++) {
        char vid[33];
        rest_json_vertex_id(jobstate_vertex(js, i)->uid, vid);
        snprintf(p, sizeof p, "/jobs/%s/vertices/%s", jid, vid);
        add(a, p, rest_json_vertex(js, ji, i, now_ms));
        snprintf(p, sizeof p, "/jobs/%s/vertices/%s/watermarks", jid, vid);
        add(a, p, rest_json_watermarks(js, i));
    }
    snprintf(p, sizeof p, "/jobs/%s/checkpoints", jid);
    add(a, p, rest_json_checkpoints(js));
    snprintf(p, sizeof p, "/jobs/%s/checkpoints/config", jid);
    add(a, p, rest_json_checkpoint_config(ji));
    snprintf(p, sizeof p, "/jobs/%s/exceptions", jid);
    add(a, p, rest_json_exceptions(js));
    snprintf(p, sizeof p, "/jobs/%s/plan", jid);
    add(a, p, rest_dash_plan(js));
    snprintf(p, sizeof p, "/jobs/%s/network", jid);
    add(a, p, rest_dash_network(js, now_ms));
    snprintf(p, sizeof p, "/jobs/%s/taskmanagers", jid);
    add(a, p, rest_json_taskmanagers(js, ji, now_ms));
    return json_pack("{s:o}", "archive", a);
}


int archive_write(const jobstate *js, const rest_job_info *ji, const char *dir, char **path,
                  mpf_err *e)
{
    if (path)
        *path = NULL;
    if (fs_mkdirs(dir, 0755) != 0)
        return err_set(e, MPF_EIO, "jobmanager.archive.fs.dir '%s': %s", dir, strerror(errno));
    json_t *o = archive_build(js, ji, clock_wall_ms());
    char *final = xasprintf("%s/%s", dir, jobstate_job_id(js));
    char *tmp = xasprintf("%s/.%s.tmp.%d", dir, jobstate_job_id(js), (int)getpid());
    int rc = 0;
    if (json_dump_file(o, tmp, JSON_COMPACT) != 0 || rename(tmp, final) != 0) {
        rc = err_set(e, MPF_EIO, "cannot write the job archive %s: %s", final,
                     strerror(errno));
        unlink(tmp);
    }
    json_decref(o);
    free(tmp);
    if (!rc && path)
        *path = final;
    else
        free(final);
    return rc;
}
