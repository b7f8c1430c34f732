/* The JobManager's local control socket (net layer): a Unix stream socket
 * on rank 0's node through which `mpiflow savepoint|stop|cancel` reach a
 * running job, until the REST endpoint takes over. One request line per
 * connection ("savepoint [DIR]", "stop [--drain] [DIR]", "cancel"); the
 * JobManager answers one line, "ok <text>" or "error <text>", when the
 * request has been carried out, then closes. Never blocks the JobManager:
 * the listening socket is non-blocking and polled from its wait loop. */
#ifndef MPF_NET_LOCALSOCK_H
#define MPF_NET_LOCALSOCK_H

#include <stddef.h>
#include "util/err.h"

/* The socket path of job `job`: `configured` when non-empty, else
 * $MPIFLOW_RUN_DIR (or /tmp)/mpiflow-<job>.sock. Caller frees. */
char *localsock_path(const char *configured, const char *job);

/* Listen on path. A stale socket file (nobody accepting) is replaced;
 * MPF_EIO when a live job already listens there. Returns 0 and *fd. */
int localsock_listen(const char *path, int *fd, mpf_err *e);
/* Accept one pending connection and read its request line (at most n-1
 * bytes, without the newline; a client silent for 1 s is dropped).
 * Returns 1 with *cfd open (answer with localsock_reply), or 0. */
int localsock_accept(int lfd, int *cfd, char *req, size_t n);
/* Send "<line>\n" to the client and close cfd. */
void localsock_reply(int cfd, const char *line);
/* Stop listening and remove the socket file. */
void localsock_close(int lfd, const char *path);

/* Client: send req, wait for the answer line (no time limit: a savepoint
 * may take long) into resp. Returns 0, or MPF_ENOENT/MPF_EIO with e set
 * (no job listening at path, connection lost). */
int localsock_request(const char *path, const char *req, char *resp, size_t n, mpf_err *e);

#endif
