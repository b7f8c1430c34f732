/* `mpiflow submit`: supervise a launcher command and restart it from the
 * latest checkpoint when it fails (cli layer). */
#ifndef MPF_CLI_SUBMIT_H
#define MPF_CLI_SUBMIT_H

int cmd_submit(int argc, char **argv);

#endif
