/* The job-state model as JSON in the shapes and field names of Flink's
 * REST API (rest layer). Each function builds one response body from the
 * model and returns a new jansson value (the caller owns it:
 * json_decref). They only read: the REST server calls them between
 * jobstate_lock and jobstate_unlock, and the same bodies can be written
 * to an archive at the end of a job (a history server serves them as the
 * JobManager did). Times are wall-clock ms; now_ms is the response's
 * "now". Fields Flink has and mpiflow cannot know (bytes read, JMX
 * ports) are left out rather than faked; fields mpiflow adds use
 * Flink's metric names or say what they are. */
#ifndef MPF_REST_JSON_H
#define MPF_REST_JSON_H

#include <jansson.h>
#include <stdint.h>
#include "conf/props.h"
#include "runtime/jobstate.h"

/* What the serializers need beyond the model. */
typedef struct rest_job_info {
    const conf *conf;         /* the job's configuration */
    const char *no_savepoint; /* why the job cannot take savepoints, or NULL */
    int batch_mode;
    int max_parallelism;
    int slots_per_tm;
} rest_job_info;

/* A vertex's id: 32 hex digits derived from its uid (stable across runs
 * of the same job, as Flink's JobVertexID of an unchanged graph). */
void rest_json_vertex_id(const char *uid, char out[33]);

/* GET /overview: the cluster (one job, its TaskManagers and slots). */
json_t *rest_json_overview(const jobstate *js, const rest_job_info *ji);
/* GET /config: the dashboard's configuration. */
json_t *rest_json_config(void);
/* GET /jobs: {"jobs": [{"id", "status"}]}. */
json_t *rest_json_jobs(const jobstate *js);
/* GET /jobs/overview: {"jobs": [one job's overview]}. */
json_t *rest_json_jobs_overview(const jobstate *js, int64_t now_ms);
/* GET /jobs/:id: the job with its vertices and their aggregated metrics. */
json_t *rest_json_job(const jobstate *js, const rest_job_info *ji, int64_t now_ms);
/* GET /jobs/:id/vertices/:vid: vertex v's subtasks with their metrics. */
json_t *rest_json_vertex(const jobstate *js, const rest_job_info *ji, int v, int64_t now_ms);
/* GET /jobs/:id/vertices/:vid/watermarks. */
json_t *rest_json_watermarks(const jobstate *js, int v);
/* GET /jobs/:id/checkpoints: counts, summary, latest, history. */
json_t *rest_json_checkpoints(const jobstate *js);
/* GET /jobs/:id/checkpoints/config; NULL when checkpointing is off. */
json_t *rest_json_checkpoint_config(const rest_job_info *ji);
/* GET /jobs/:id/exceptions. */
json_t *rest_json_exceptions(const jobstate *js);
/* GET /taskmanagers. */
json_t *rest_json_taskmanagers(const jobstate *js, const rest_job_info *ji, int64_t now_ms);

/* {"errors": [message]}: the body of every 4xx and 5xx answer. */
json_t *rest_json_error(const char *message);

#endif
