/* `mpiflow history` and `mpiflow list --archived` (cli layer): the job
 * archives that JobManagers wrote into jobmanager.archive.fs.dir, served
 * with the dashboard and the REST read endpoints (Flink's HistoryServer)
 * or listed. */
#ifndef MPF_CLI_HISTCMD_H
#define MPF_CLI_HISTCMD_H

/* mpiflow history [DIR] [--port P] [--address A] [--conf F] [-D k=v]...:
 * serve until SIGINT or SIGTERM. DIR defaults to the configuration's
 * jobmanager.archive.fs.dir; default_conf is the configuration file read
 * when --conf is not given (NULL: none). Returns the exit code. */
int cmd_history(int argc, char **argv, const char *default_conf);

/* mpiflow list --archived [DIR] [--json] [--conf F] [-D k=v]...: the
 * archived jobs, newest first. argv holds the arguments after "list". */
int cmd_list_archived(int argc, char **argv, const char *default_conf);

#endif
