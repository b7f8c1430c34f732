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
 * SHUTDOWN, which carries the exit code every rank returns. Unbounded
 * jobs run until stopped (see runtime_install_signals). */
#ifndef MPF_RUNTIME_RUNTIME_H
#define MPF_RUNTIME_RUNTIME_H

#include "runtime/submission.h"

/* Exit codes of `mpiflow run`: every rank exits with the job's outcome,
 * so mpirun and srun pass it on (USER-GUIDE "Signals and exit codes"). */
enum mpf_exit {
    MPF_EXIT_FINISHED = 0,  /* the sources ended; all output committed */
    MPF_EXIT_FAILED = 1,    /* nothing beyond completed checkpoints committed */
    MPF_EXIT_USAGE = 2,     /* bad command line */
    MPF_EXIT_CANCELLED = 3, /* cancel or a signal: nothing more committed */
    MPF_EXIT_STOPPED = 4    /* stopped early: a savepoint, or drained and committed */
};

/* Rank 0: sub holds the submission with file texts read. Other ranks:
 * sub is ignored. Returns the process exit code (enum mpf_exit). */
int runtime_run(submission *sub);
int jm_main(submission *sub);
int tm_main(void);

/* SIGINT and SIGTERM stop the job in order instead of killing the rank
 * (the JobManager decides how: a savepoint, a drain or a cancel; see
 * on_stop_signal in jobmanager.c). A TaskManager that receives the signal
 * asks the JobManager to stop. */
void runtime_install_signals(void);
/* The last stop signal that arrived (0: none). */
int runtime_stop_signal(void);
/* How many arrived since the last call (the JobManager acts on each). */
int runtime_take_stop_signals(void);
/* SIGUSR1 asks for a savepoint: 1 once per arrival (then cleared). */
int runtime_take_savepoint_signal(void);

/* Once the configuration is known: append this rank's log to its file
 * in log.dir (created if missing; a failure is logged, the job runs
 * on), and on a terminal (log.console.status auto) start console mode
 * (util/log.h). Returns whether stderr is a terminal. */
int runtime_open_log(const conf *c, int rank);

/* Peak resident set size of this process in KiB (VmHWM), or 0. */
long runtime_peak_rss_kb(void);
/* A control message could not be sent or received: the job has lost its
 * coordination, so end the MPI world (exit code failed) for the supervisor
 * to relaunch from the latest checkpoint, as for a lost heartbeat. */
void runtime_check_control(void);

#endif
