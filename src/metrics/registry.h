/* Metrics registry (metrics layer): the live metrics of one TaskManager,
 * named as Flink names them (numRecordsIn, busyTimeMsPerSecond, ...), in
 * groups: one per operator subtask and one for the TaskManager itself.
 * A metric does not copy or count anything on the data path: it points at
 * a counter, gauge or histogram the runtime keeps anyway, and is read only
 * when the registry is snapshotted. Meters (the ...PerSecond metrics) are
 * rates of a counter between two snapshots.
 *
 * Snapshot format (the payload of CTL_METRICS), version 1, text, one
 * line per group after the header:
 *
 *   mpiflow-metrics 1 <seq> <wall ms> <ms since the last snapshot>
 *   <scope> <name>=<value> <name>=<value> ...
 *
 * <scope> is what the group was created with ("tm", "op <index>
 * <subtask>", "peer <rank>" for the traffic to one rank); values are decimal integers, or decimals with a '.' for
 * rates; a histogram is <name>_count, <name>_p50_ms, <name>_p99_ms and
 * <name>_max_ms. Readers skip lines and names they do not know, so the
 * format grows by adding names; a change of meaning bumps the version.
 * The caller may add lines of its own (the TaskManager adds host and
 * binding). Single-threaded. */
#ifndef MPF_METRICS_REGISTRY_H
#define MPF_METRICS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include "metrics/histo.h"

#define MREG_VERSION 1

typedef struct mreg mreg;
typedef struct mgroup mgroup;

/* A new, empty registry (ours: mreg_destroy frees it). */
mreg *mreg_new(void);
void mreg_destroy(mreg *r);
/* A new group; scope is copied and starts its line in the snapshot. The
 * group belongs to the registry. */
mgroup *mreg_group(mreg *r, const char *scope);

/* Register a metric of group g. name must outlive the registry (a string
 * literal); the pointed-to value must stay valid until mreg_destroy.
 * counter and gauge: the value as it is. meter: the counter's increase
 * per second between snapshots. time_meter: nanoseconds spent, as
 * milliseconds per second (busyTimeMsPerSecond). */
void mreg_counter(mgroup *g, const char *name, const uint64_t *v);
void mreg_gauge_i64(mgroup *g, const char *name, const int64_t *v);
void mreg_gauge_size(mgroup *g, const char *name, const size_t *v);
/* A gauge that is left out of the snapshot while it is negative (not
 * known, or not measured by this operator). */
void mreg_gauge_known(mgroup *g, const char *name, const int64_t *v);
void mreg_gauge_fn(mgroup *g, const char *name, int64_t (*fn)(const void *ctx),
                   const void *ctx);
void mreg_meter(mgroup *g, const char *name, const uint64_t *v);
void mreg_time_meter(mgroup *g, const char *name, const int64_t *ns);
void mreg_histogram(mgroup *g, const char *name, const histo *h);

/* Number of groups, and of metrics over all groups. */
size_t mreg_ngroups(const mreg *r);
size_t mreg_nmetrics(const mreg *r);

/* Start the meters' first interval at now_ns (monotonic). */
void mreg_start(mreg *r, int64_t now_ns);
/* Read every metric into the snapshot text above (malloc'd, NUL-
 * terminated, caller frees; *len without the NUL); meters then start
 * their next interval. wall_ms goes into the header. */
char *mreg_snapshot(mreg *r, int64_t now_ns, int64_t wall_ms, size_t *len);

#endif
