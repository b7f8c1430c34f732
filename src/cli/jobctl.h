/* The commands that talk to a running job's REST API, as Flink's CLI
 * (cli layer): list, savepoint, stop, cancel, checkpoints, metrics. A job
 * is found by its name or id through the discovery files its JobManager
 * writes (rest_discovery_dir), or at --jobmanager HOST:PORT. */
#ifndef MPF_CLI_JOBCTL_H
#define MPF_CLI_JOBCTL_H

/* Run command cmd ("list", "savepoint", ...) with the arguments after it.
 * Returns the exit code: 0 done, 1 the request failed or the job is not
 * running, 2 usage. */
int cmd_jobctl(const char *cmd, int argc, char **argv);

/* Whether cmd is one of these commands. */
int jobctl_is_command(const char *cmd);

#endif
