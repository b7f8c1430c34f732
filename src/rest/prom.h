/* Prometheus metrics (rest layer): the job-state model rendered in the
 * Prometheus text exposition format, version 0.0.4, with the names and
 * labels of Flink's PrometheusReporter, so dashboards and alerts written
 * for Flink read mpiflow too. The REST server serves it at GET /metrics.
 *
 * Names: Flink's scope and metric name joined with '_' and every
 * character outside [a-zA-Z0-9_:] replaced by '_':
 * flink_taskmanager_job_task_operator_numRecordsIn{job_id, job_name,
 * task_name, operator_name, subtask_index, tm_id, host},
 * flink_jobmanager_job_* {job_id, job_name, host},
 * flink_taskmanager_Status_* {tm_id, host}. No label
 * names an attempt, so a restarted attempt's series replace the old ones
 * (its counters start over from 0, a counter reset Prometheus' rate()
 * handles). docs/USER-GUIDE.md lists every metric. */
#ifndef MPF_REST_PROM_H
#define MPF_REST_PROM_H

#include <stddef.h>
#include <stdint.h>
#include "runtime/jobstate.h"

/* The Content-Type of the rendered page. */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What the page needs beyond the job state. */
typedef struct prom_ctx {
    int64_t now_ms;   /* wall clock, ms since the epoch (uptime) */
    const char *host; /* the JobManager's host name (label host of the
                       * flink_jobmanager_* metrics); NULL: no such label */
} prom_ctx;

/* The page for js: a malloc'd NUL-terminated string the caller frees
 * (free()); *len (when len is not NULL) its length without the NUL. Does
 * not fail (allocation failure aborts, as xmalloc). Only reads js: call it
 * where js may be read (the JobManager's thread, or under the lock that
 * guards js). */
char *prom_render(const jobstate *js, const prom_ctx *ctx, size_t *len);

#endif
