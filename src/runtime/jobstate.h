/* The job-state model (runtime layer, JobManager only): everything known
 * about the running job in one place -- its status and the history of
 * status changes, its vertices (operators) and their subtasks with the
 * latest metrics the TaskManagers reported, the TaskManagers (host, core
 * binding, last heartbeat), checkpoint statistics and history, and the
 * exceptions that failed it. The JobManager's control loop writes it
 * (the jobstate_on_* and jobstate_ckpt_* hooks); the end-of-job summary,
 * the periodic status line and the REST API read it through the read API
 * below.
 *
 * Metrics arrive twice: every metrics.reporter.interval as CTL_METRICS
 * (metrics/registry.h's text format, version 1) and once at the end of
 * an attempt with FINISHED or CANCELED (the TaskManager's "op ..." and
 * "tm ..." lines), which set the final counts the summary prints. Both
 * update the same per-subtask table, by Flink's metric names.
 *
 * Times: *_ms are wall-clock milliseconds since the epoch (the
 * JobManager's clock). The JobManager's thread writes and reads it; the
 * writers take the model's lock themselves, so other threads (the REST
 * server) read it between jobstate_lock and jobstate_unlock. The read API
 * returns pointers into the model that stay valid until the next write
 * (for other threads: until jobstate_unlock). */
#ifndef MPF_RUNTIME_JOBSTATE_H
#define MPF_RUNTIME_JOBSTATE_H

#include <stddef.h>
#include <stdint.h>
#include "conf/props.h"
#include "metrics/histo.h"
#include "plan/plan.h"

/* Flink's JobStatus values that mpiflow goes through. A stop with a
 * savepoint and a drained stop end FINISHED, as in Flink; the exit code
 * tells them apart. */
enum js_status {
    JS_CREATED,
    JS_RUNNING,
    JS_FAILING,
    JS_RESTARTING,
    JS_CANCELLING,
    JS_CANCELED,
    JS_FINISHED,
    JS_FAILED
};
const char *js_status_name(int status);
/* FINISHED, CANCELED and FAILED end the job. */
int js_status_terminal(int status);

typedef struct js_transition {
    int status; /* enum js_status */
    int64_t time_ms;
} js_transition;

/* One metric: integers (counters, gauges) exact in i, rates in d (i is d
 * truncated; d is i for integers). */
typedef struct js_metric {
    char name[48];
    int is_real;
    int64_t i;
    double d;
} js_metric;

typedef struct js_metrics {
    js_metric *v;
    size_t n, cap;
} js_metrics;

typedef struct js_subtask {
    int index;          /* 0-based */
    int rank;           /* the TaskManager it runs on */
    int64_t updated_ms; /* latest metrics; 0: none yet */
    js_metrics m;       /* numRecordsIn, busyTimeMsPerSecond, ... */
} js_subtask;

typedef struct js_vertex {
    int index;          /* the operator's index in the job */
    const char *uid;    /* the plan's strings (valid while the plan is) */
    const char *kind;   /* "generator", "window", ... */
    int role;           /* enum op_role */
    int parallelism;
    js_subtask *subtasks; /* [parallelism] */
} js_vertex;

typedef struct js_tm {
    int rank;
    char *host;              /* NULL until its first CTL_METRICS */
    char *binding;           /* "core 3", "not pinned", ...; NULL until then */
    int64_t last_heartbeat_ms; /* any control message counts; 0: none yet */
    int64_t updated_ms;      /* latest metrics */
    js_metrics m;            /* usedMemorySegments, numBytesOut, ... */
    char *summary;           /* its final line ("peak_rss_kb=... ..."), or NULL */
    js_metrics *peers;       /* [ntms + 1] by destination rank: bytesSent,
                              * creditWaitTimeNs, ... ("peer" lines); or NULL */
} js_tm;

enum js_ckpt_status { JS_CK_IN_PROGRESS, JS_CK_COMPLETED, JS_CK_FAILED };

typedef struct js_checkpoint {
    int64_t id;
    int status;          /* enum js_ckpt_status */
    int savepoint;
    int64_t trigger_ms;
    int64_t duration_ms; /* until completed or failed; -1 while in progress */
    int64_t size_bytes;  /* state bytes over every TaskManager; -1 while in progress */
    int64_t alignment_us; /* longest barrier alignment of a subtask; -1 while in progress */
    char *path;          /* completed: its directory */
    char *failure;       /* failed: why */
} js_checkpoint;

typedef struct js_exception {
    int64_t time_ms;
    char *uid;   /* the operator named in the message, or NULL */
    int subtask; /* 0-based, or -1 */
    int rank;    /* who reported it */
    char *message;
} js_exception;

/* The histograms merged from every TaskManager's final report. */
enum js_histo { JS_H_LATENCY, JS_H_WM_LATENCY, JS_H_ALIGNMENT, JS_H_COUNT };

/* Sums over a vertex's subtasks of the counts the summary prints. */
typedef struct js_totals {
    uint64_t in, out, skipped, state_bytes, state_peak, late;
} js_totals;

typedef struct jobstate jobstate;

/* --- writing (the JobManager's control loop) --- */

/* A model of plan p (which must outlive it) on ntms TaskManagers, in
 * status CREATED at now_ms. Reads metrics.status.interval from c. Ours:
 * free with jobstate_destroy. */
jobstate *jobstate_new(const plan *p, int ntms, const conf *c, int64_t now_ms);
void jobstate_destroy(jobstate *js);
/* A status change (ignored when unchanged). Entering a terminal status
 * marks a checkpoint still in progress failed. */
void jobstate_set_status(jobstate *js, int status, int64_t now_ms);
/* A control message from rank arrived (a heartbeat or any other). */
void jobstate_tm_seen(jobstate *js, int rank, int64_t now_ms);
/* A CTL_METRICS payload from rank. Returns 0, or -1 when it is not
 * version 1 text (nothing is taken). */
int jobstate_on_metrics(jobstate *js, int rank, const char *text, int64_t now_ms);
/* The final metrics of rank's attempt (FINISHED or CANCELED payload). */
void jobstate_on_final(jobstate *js, int rank, const char *text, int64_t now_ms);
/* A restart: the metrics of the failed attempt go; a checkpoint still in
 * progress failed. TaskManagers, checkpoint history, exceptions stay. */
void jobstate_new_attempt(jobstate *js, int64_t now_ms);
void jobstate_ckpt_triggered(jobstate *js, int64_t id, int savepoint, int64_t trigger_ms);
void jobstate_ckpt_completed(jobstate *js, int64_t id, int64_t now_ms, const char *path,
                             int64_t size_bytes, int64_t alignment_us);
void jobstate_ckpt_failed(jobstate *js, int64_t id, int64_t now_ms, const char *why);
/* An exception from rank (0: the JobManager): the message as reported;
 * the operator and subtask it names ("operator 'uid'", "subtask i/n")
 * are picked out of it. */
void jobstate_exception(jobstate *js, int rank, const char *message, int64_t now_ms);
/* While RUNNING, log the status line when metrics.status.interval has
 * passed since the last one (mono_ns: a monotonic clock; 0 interval:
 * never). */
void jobstate_tick(jobstate *js, int64_t mono_ns, int64_t now_ms);
/* The console shows the status live (runtime/console.h): the periodic
 * status line then goes to the log file only (log.dir). */
void jobstate_status_to_file(jobstate *js, int on);

/* The job was restored from checkpoint or savepoint id at path (at the
 * start, or by a restart in the same MPI world). */
void jobstate_restored(jobstate *js, int64_t id, int savepoint, const char *path, int64_t now_ms);

/* --- reading (summary, status line, REST) --- */

/* Hold off the writers while another thread reads (recursive; the
 * JobManager's thread needs no lock to read). Hold it briefly: the
 * control loop waits for it. */
void jobstate_lock(const jobstate *js);
void jobstate_unlock(const jobstate *js);

/* This run's job id, 32 lower-case hex digits as Flink's JobID: random
 * per run of the JobManager, kept across restarts in its MPI world. */
const char *jobstate_job_id(const jobstate *js);
/* The latest restore (at the start or by a restart), or NULL; restores
 * counts them. */
typedef struct js_restore {
    int64_t id;
    int savepoint;
    int64_t time_ms;
    char *path;
} js_restore;
const js_restore *jobstate_last_restore(const jobstate *js, int64_t *restores);

const char *jobstate_job_name(const jobstate *js);
/* The plan the model was made for (its tasks name the operator chains). */
const plan *jobstate_plan(const jobstate *js);
int jobstate_status(const jobstate *js);
/* Status changes, oldest first: i in [0, jobstate_nhistory). */
size_t jobstate_nhistory(const jobstate *js);
const js_transition *jobstate_history(const jobstate *js, size_t i);
/* How often the job entered RESTARTING. */
int jobstate_restarts(const jobstate *js);

/* Vertices in job order: i in [0, jobstate_nvertices); subtasks in
 * v->subtasks[0 .. v->parallelism). */
int jobstate_nvertices(const jobstate *js);
const js_vertex *jobstate_vertex(const jobstate *js, int i);
void jobstate_vertex_totals(const jobstate *js, int i, js_totals *t);
/* Sum of an integer metric over a vertex's subtasks. */
int64_t jobstate_vertex_sum(const jobstate *js, int i, const char *name);
/* A metric of a subtask or TaskManager, or NULL. */
const js_metric *js_metrics_get(const js_metrics *m, const char *name);

/* TaskManagers: rank in [1, jobstate_ntms]. */
int jobstate_ntms(const jobstate *js);
const js_tm *jobstate_tm(const jobstate *js, int rank);

/* The traffic of TaskManager src to TaskManager dst (src itself: its
 * local channels) as src last reported it: bytesSent,
 * bytesSentPerSecond, batchesSent, creditWaits, creditWaitTimeNs,
 * creditWaitTimeMsPerSecond; NULL when src reported no channel to dst
 * in this attempt. A row of the network matrix (GET /jobs/:id/network). */
const js_metrics *jobstate_peer(const jobstate *js, int src, int dst);

/* Checkpoints and savepoints, oldest first, the latest
 * JOBSTATE_CKPT_HISTORY of them: i in [0, jobstate_ncheckpoints). The
 * counts cover all of them. */
#define JOBSTATE_CKPT_HISTORY 64
size_t jobstate_ncheckpoints(const jobstate *js);
const js_checkpoint *jobstate_checkpoint(const jobstate *js, size_t i);
/* The newest checkpoint or savepoint that completed, or NULL. */
const js_checkpoint *jobstate_last_completed(const jobstate *js);
/* Counts: completed periodic checkpoints (savepoints not included),
 * completed savepoints, failed ones (both), in progress. */
void jobstate_ckpt_counts(const jobstate *js, int64_t *completed, int64_t *savepoints,
                          int64_t *failed, int64_t *in_progress);

/* Exceptions, oldest first: i in [0, jobstate_nexceptions). */
size_t jobstate_nexceptions(const jobstate *js);
const js_exception *jobstate_exception_at(const jobstate *js, size_t i);

const histo *jobstate_histo(const jobstate *js, int which);

/* The status line: "job '<name>' RUNNING for 12.0 s: records_in_per_s=..
 * records_out_per_s=.. records_in=.. wm_lag_ms=.. backpressured_ms_per_s=..
 * (<uid>) last_checkpoint=<id> age_s=.. duration_ms=.. size_bytes=..
 * alignment_ms=.." (parts without data are left out; " no metrics yet"
 * after the colon until rates arrive). Returns the length, as snprintf. */
int jobstate_status_line(const jobstate *js, int64_t now_ms, char *buf, size_t n);

/* What the status line says, as numbers (the console's live line
 * formats them its own way). */
typedef struct js_status_info {
    double elapsed_s;           /* since the job started */
    int has_rates;              /* 0: no metrics yet */
    double in_per_s, out_per_s; /* records out of the sources, into the sinks */
    int64_t records_in;         /* records the sources emitted */
    int has_wm_lag;
    int64_t wm_lag_ms;
    double backpressured;         /* largest backPressuredTimeMsPerSecond */
    const char *backpressured_uid; /* its operator, or NULL */
    const js_checkpoint *last_checkpoint; /* or NULL */
    int has_progress;             /* jobstate_progress */
    double progress, eta_s;
} js_status_info;
void jobstate_status_info(const jobstate *js, int64_t now_ms, js_status_info *o);

/* How far a job whose sources are all bounded and say what they have
 * left (pendingRecords: generators; pendingBytes with numBytesIn: files)
 * has read its input: 1 with *fraction in [0, 1] and *eta_s, the seconds
 * left at the sources' current rate (-1: no rate yet); 0 when that is not
 * known. The fraction is that of the least advanced source, the time
 * that of the slowest. */
int jobstate_progress(const jobstate *js, double *fraction, double *eta_s);

#endif
