/* A TaskManager's live metrics (runtime layer): builds the metrics
 * registry (metrics/registry.h) over the counters of the local subtasks
 * and the TaskManager, and sends a snapshot to the JobManager as
 * CTL_METRICS every metrics.reporter.interval. The first snapshot of an
 * attempt also carries the host and the core binding ("host <name>",
 * "binding <text>" lines). Runs on the TaskManager's thread only. */
#ifndef MPF_RUNTIME_TMMETRICS_H
#define MPF_RUNTIME_TMMETRICS_H

#include <stdint.h>
#include "conf/props.h"
#include "runtime/task.h"

typedef struct tmmetrics tmmetrics;

/* Register the metrics of tasks[0..ntasks) (which must stay open until
 * tmmetrics_destroy) and of this TaskManager; binding describes its core
 * binding (copied). Ours: free with tmmetrics_destroy (NULL is fine). */
tmmetrics *tmmetrics_new(task_inst *tasks, int ntasks, const conf *c, const char *binding);
void tmmetrics_destroy(tmmetrics *m);
/* Send a snapshot when the interval has passed (now_ns monotonic); the
 * first call starts the first interval. No-op when the interval is 0.
 * jm_heard_ns is when the JobManager was last heard (-1: do not check):
 * a snapshot waits until it was heard after the previous one, so sends to
 * a stopped JobManager do not pile up in flight until heartbeat.timeout
 * ends the world (heartbeat.h). */
void tmmetrics_tick(tmmetrics *m, int64_t now_ns, int64_t jm_heard_ns);
/* The snapshot as tmmetrics_tick would send it (malloc'd; tests). */
char *tmmetrics_snapshot(tmmetrics *m, int64_t now_ns, size_t *len);

#endif
