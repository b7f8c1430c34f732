/* The JobManager's local control socket (net layer); see localsock.h. */
#include "net/localsock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "util/xmalloc.h"

char *localsock_path(const char *configured, const char *job)
{
    if (configured && *configured)
        return xstrdup(configured);
    const char *dir = getenv("MPIFLOW_RUN_DIR");
    return xasprintf("%s/mpiflow-%s.sock", dir && *dir ? dir : "/tmp", job);
}

static int fill_addr(struct sockaddr_un *a, const char *path, mpf_err *e)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a->sun_path)
        return err_set(e, MPF_ERANGE, "control socket path '%s' is longer than %zu bytes", path,
                       sizeof a->sun_path - 1);
    memcpy(a->sun_path, path, strlen(path) + 1);
    return 0;
}

/* Connect to path: a connected fd, or -1 with errno. */
static int dial(const struct sockaddr_un *a)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)a, sizeof *a) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int localsock_listen(const char *path, int *fd, mpf_err *e)
{
    struct sockaddr_un a;
    if (fill_addr(&a, path, e))
        return e->code;
    int probe = dial(&a);
    if (probe >= 0) {
        close(probe);
        return err_set(e, MPF_EIO, "control socket '%s' is in use by another running job of "
                       "the same name", path);
    }
    unlink(path); /* stale: its job is gone */
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return err_set(e, MPF_EIO, "control socket: %s", strerror(errno));
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 8) != 0) {
        err_set(e, MPF_EIO, "control socket '%s': %s", path, strerror(errno));
        close(s);
        return e->code;
    }
    *fd = s;
    return 0;
}

int localsock_accept(int lfd, int *cfd, char *req, size_t n)
{
    if (lfd < 0 || n == 0)
        return 0;
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return 0;
    size_t got = 0;
    while (got + 1 < n) {
        struct pollfd p = {c, POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0)
            break;
        ssize_t r = read(c, req + got, n - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        if (memchr(req, '\n', got))
            break;
    }
    req[got] = '\0';
    char *nl = strchr(req, '\n');
    if (!nl) {
        localsock_reply(c, "error incomplete request (expected one line)");
        return 0;
    }
    *nl = '\0';
    *cfd = c;
    return 1;
}

void localsock_reply(int cfd, const char *line)
{
    if (cfd < 0)
        return;
    size_t len = strlen(line);
    char *buf = xmalloc(len + 2);
    memcpy(buf, line, len);
    buf[len] = '\n';
    size_t off = 0;
    while (off < len + 1) {
        ssize_t w = send(cfd, buf + off, len + 1 - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* the client left; nothing to tell */
        off += (size_t)w;
    }
    free(buf);
    close(cfd);
}

void localsock_close(int lfd, const char *path)
{
    if (lfd < 0)
        return;
    close(lfd);
    if (path)
        unlink(path);
}

int localsock_request(const char *path, const char *req, char *resp, size_t n, mpf_err *e)
{
    struct sockaddr_un a;
    if (fill_addr(&a, path, e))
        return e->code;
    int fd = dial(&a);
    if (fd < 0)
        return err_set(e, MPF_ENOENT, "no running job listens on '%s' (%s); is the job name "
                       "right, and does it run on this node?", path, strerror(errno));
    size_t len = strlen(req);
    char *line = xasprintf("%s\n", req);
    ssize_t w = send(fd, line, len + 1, MSG_NOSIGNAL);
    free(line);
    if (w != (ssize_t)(len + 1)) {
        close(fd);
        return err_set(e, MPF_EIO, "sending to '%s': %s", path, strerror(errno));
    }
    size_t got = 0;
    while (got + 1 < n) {
        ssize_t r = read(fd, resp + got, n - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        if (memchr(resp, '\n', got))
            break;
    }
    close(fd);
    resp[got] = '\0';
    char *nl = strchr(resp, '\n');
    if (!nl)
        return err_set(e, MPF_EIO, "the job at '%s' closed the connection without an answer "
                       "(did it end?)", path);
    *nl = '\0';
    return 0;
}
