/* The job runtime (runtime layer): what `mpiflow run` does on each rank
 * once MPI is up. Rank 0 becomes the JobManager, the others TaskManagers.
 *
 * Life of a job: the JM reads and plans the submission (all errors are
 * found here, before anything runs), runs the operators' global checks,
 * and broadcasts the submission; every TM plans the same, pins itself,
 * opens its subtasks and reports DEPLOYED; the JM sends START; TMs run
 * until their subtasks finish and report FINISHED with metrics; the JM
 * sends COMMIT (sinks make output visible), then SHUTDOWN. Any failure
 * goes to the JM, which sends CANCEL; TMs discard uncommitted output,
 * drain the network so every send completes, report CANCELED and leave on
 * SHUTDOWN. Every rank exits non-zero when the job failed. Unbounded jobs
 * run until stopped by a signal (see runtime_install_signals). */
#ifndef MPF_RUNTIME_RUNTIME_H
#define MPF_RUNTIME_RUNTIME_H

#include "runtime/submission.h"

/* Rank 0: sub holds the submission with file texts read. Other ranks:
 * sub is ignored. Returns the process exit code. */
int runtime_run(submission *sub);
int jm_main(submission *sub);
int tm_main(void);

/* SIGINT and SIGTERM stop the job in order instead of killing the rank:
 * the JobManager tells every TaskManager to end its sources, the rest of
 * the job drains and commits, and every rank exits 0. A TaskManager that
 * receives the signal asks the JobManager to stop. */
void runtime_install_signals(void);
/* The signal that arrived (0: none). */
int runtime_stop_signal(void);
/* Forget it (after the JobManager acted on it, so a second one counts). */
void runtime_clear_stop_signal(void);
/* SIGUSR1 asks for a savepoint: 1 once per arrival (then cleared). */
int runtime_take_savepoint_signal(void);

/* Peak resident set size of this process in KiB (VmHWM), or 0. */
long runtime_peak_rss_kb(void);

#endif
