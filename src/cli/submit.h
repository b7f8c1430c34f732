/* `mpiflow submit`: supervise a launcher command and restart it from the
 * latest checkpoint when it fails, as the job's restart strategy says
 * (cli layer). */
#ifndef MPF_CLI_SUBMIT_H
#define MPF_CLI_SUBMIT_H

/* Run `mpiflow submit` with the arguments after "submit". Returns the exit
 * code: 0 the job succeeded, 1 it failed for good, 2 usage, or the job's
 * 3 (cancelled) or 4 (stopped), passed on. */
int cmd_submit(int argc, char **argv);

#endif
