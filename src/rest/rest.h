/* The JobManager's REST API (rest layer; the only user of microhttpd.h):
 * Flink's endpoints over the job-state model, served by libmicrohttpd's
 * own thread beside the JobManager's control loop.
 *
 * Reads take the model's lock (jobstate_lock) for as long as it takes to
 * build one JSON value, then answer outside it. Requests that change the
 * job (savepoint, stop, cancel) are checked here (body, token, target
 * directory) and queued; the control loop takes them with rest_take and
 * carries them out as it did signals, and reports how a savepoint or stop
 * ended with rest_done, which GET /jobs/:id/savepoints/:triggerid shows.
 * Nothing the REST thread does waits for the control loop, and nothing
 * the control loop does waits for a client.
 *
 * While the server runs, a discovery file (rest_discovery_path) says
 * where: {"job", "jid", "address", "port", "pid", "host", ...}, so the
 * CLI finds a job by its name. */
#ifndef MPF_REST_REST_H
#define MPF_REST_REST_H

#include "rest/rest_json.h"
#include "util/err.h"

typedef struct rest_server rest_server;

enum rest_op { REST_OP_SAVEPOINT, REST_OP_STOP, REST_OP_CANCEL };

/* A request for the control loop. */
typedef struct rest_request {
    int op;     /* enum rest_op */
    int drain;  /* REST_OP_STOP: advance event time to the end first */
    char *dir;  /* savepoint target (checked against the allowed directories), or NULL */
    int ticket; /* pass to rest_done when it ends; -1: nobody waits (cancel) */
} rest_request;

/* Start serving job js (which must outlive the server) as configured
 * (rest.*; ji is copied). With rest.enabled false: 0 and *out NULL.
 * Errors (no port, unreadable token file) fill e; the caller decides
 * whether the job runs without REST. Ours: rest_stop frees it. */
int rest_start(rest_server **out, const jobstate *js, const rest_job_info *ji, mpf_err *e);
/* `mpiflow history`: serve the job archives of h (which must outlive the
 * server) on historyserver.web.address:historyserver.web.port (the next
 * free port above it when taken) with the dashboard and the read
 * endpoints; every other method is answered 405. Limits from rest.server.*
 * of c. No discovery file. Ours: rest_stop frees it. */
struct history;
int rest_start_history(rest_server **out, struct history *h, const conf *c, mpf_err *e);
/* Where the server listens ("http://127.0.0.1:8081"), or "". */
const char *rest_url(const rest_server *s);
/* Stop serving and remove the discovery file. A savepoint's outcome that
 * nobody fetched yet is served for up to 2 s more, so a client polling
 * for it (mpiflow stop) sees it before the JobManager leaves. NULL is
 * fine. */
void rest_stop(rest_server *s);

/* Control loop: take the oldest queued request. Returns 1 and fills *r
 * (the caller frees r->dir), or 0 when none waits (or s is NULL). */
int rest_take(rest_server *s, rest_request *r);
/* Control loop: the request with this ticket ended; ok: text is the
 * savepoint's location, else why it failed. A ticket of -1 is ignored. */
void rest_done(rest_server *s, int ticket, int ok, const char *text);

/* The discovery file of job `job`: $MPIFLOW_RUN_DIR/jobs/<job>.json, or
 * /tmp/mpiflow-<uid>/jobs/<job>.json. Caller frees. dir: the folder. */
char *rest_discovery_dir(void);
char *rest_discovery_path(const char *job);

#endif
