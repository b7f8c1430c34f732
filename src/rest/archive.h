/* Job archives (rest layer): the final state of a job, written by the
 * JobManager when the job ends into jobmanager.archive.fs.dir, and read
 * back by `mpiflow history` (history.h) to serve it as the JobManager
 * did.
 *
 * Format (Flink's job archive, so tools that read those read these): one
 * JSON file per run, named by the job id,
 *   {"archive": [{"path": "/jobs/overview", "json": "<answer as text>"},
 *                {"path": "/jobs/<jid>", "json": "..."}, ...]}
 * holding the answer of every read endpoint of the job: /jobs/overview,
 * /jobs/<jid>, its /vertices/<vid> and their /watermarks, /checkpoints,
 * /checkpoints/config (with checkpointing), /exceptions, /plan, /network
 * and /taskmanagers (the job's TaskManagers; mpiflow's addition). */
#ifndef MPF_REST_ARCHIVE_H
#define MPF_REST_ARCHIVE_H

#include <jansson.h>
#include <stdint.h>
#include "rest/rest_json.h"
#include "util/err.h"

/* The archive of job js as it is now (a new value; the caller owns it).
 * Reads the model: the caller holds jobstate_lock or is its writer. */
json_t *archive_build(const jobstate *js, const rest_job_info *ji, int64_t now_ms);

/* Write the archive of js into dir (created if missing) as <dir>/<jid>,
 * atomically: a temporary name in dir, then rename. 0 and *path (caller
 * frees; path may be NULL), or an error code with e set. */
int archive_write(const jobstate *js, const rest_job_info *ji, const char *dir, char **path,
                  mpf_err *e);

#endif
