/* The JobManager's live status line on a terminal (runtime layer): what
 * the status log line says, shorter, redrawn in place every second below
 * the log (util/log.h's live line), with progress and the time left when
 * every source is bounded. Used only when runtime_open_log found that the
 * JobManager's output goes to a terminal; otherwise the periodic status
 * log line (jobstate_tick) goes on as before, for Slurm output files. */
#ifndef MPF_RUNTIME_CONSOLE_H
#define MPF_RUNTIME_CONSOLE_H

#include <stddef.h>
#include <stdint.h>
#include "runtime/jobstate.h"

/* The live line of js at now_ms into buf, at most cols - 1 characters:
 * "<job> RUNNING 12s | 50.0k records/s in, 49.9k out | wm lag 1.2s |
 * backpressured 870 ms/s (sink) | checkpoint 3, 4s ago | 42.0% ETA 0:13"
 * (parts without data left out). Returns its length. */
size_t console_line(const jobstate *js, int64_t now_ms, int cols, char *buf, size_t n);

/* Redraw the live line when a second has passed since the last time
 * (mono_ns: a monotonic clock). Only while the job runs or restarts. */
void console_tick(const jobstate *js, int64_t mono_ns, int64_t now_ms);
/* Take the live line away (the end of the job). */
void console_clear(void);

#endif
