/* Leveled, role-tagged logging to stderr and, optionally, a file (util
 * layer); on a terminal, a live line kept below the log. */
#include "util/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

int log_threshold = LOG_INFO;
static char log_role[32] = "mpiflow";
static int log_fd = -1;      /* the log file, or -1 */
static int log_on_tty;       /* console mode (log_console) */
static char *log_live_text;  /* the live line shown, or NULL */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

#define CLEAR_LINE "\r\033[K"

void log_init(const char *role, int level)
{
    snprintf(log_role, sizeof log_role, "%s", role);
    log_threshold = level;
}

int log_level_parse(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

int log_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    pthread_mutex_lock(&log_mu);
    if (log_fd >= 0)
        close(log_fd);
    log_fd = fd;
    pthread_mutex_unlock(&log_mu);
    return 0;
}

char *log_file_path(const char *dir, int rank)
{
    size_t n = strlen(dir) + 48;
    char *p = malloc(n);
    if (!p)
        abort();
    if (rank == 0)
        snprintf(p, n, "%s/jobmanager.log", dir);
    else
        snprintf(p, n, "%s/taskmanager-%d.log", dir, rank);
    return p;
}

void log_close_file(void)
{
    pthread_mutex_lock(&log_mu);
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
    pthread_mutex_unlock(&log_mu);
}

/* write(2) all of it; a log line that cannot be written is dropped. */
static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

/* stderr, on a terminal: clear what is on the line (our live line, or
 * another rank's that mpirun forwards), write text, redraw ours. One
 * write, so mpirun forwards it whole. Holds log_mu. */
static void to_stderr(const char *text)
{
    if (!log_on_tty) {
        fputs(text, stderr);
        return;
    }
    fflush(stderr);
    size_t n = strlen(text), m = log_live_text ? strlen(log_live_text) : 0;
    char *buf = malloc(n + m + 2 * sizeof CLEAR_LINE);
    if (!buf)
        return;
    size_t at = 0;
    memcpy(buf, CLEAR_LINE, sizeof CLEAR_LINE - 1);
    at += sizeof CLEAR_LINE - 1;
    memcpy(buf + at, text, n);
    at += n;
    if (m) {
        memcpy(buf + at, log_live_text, m);
        at += m;
    }
    write_all(2, buf, at);
    free(buf);
}

/* The line of level with fmt into line: time, level, role, text, '\n'. */
static void format_line(char *line, size_t size, int level, const char *fmt, va_list ap)
{
    static const char *tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, size, "%02d:%02d:%02d.%03ld %s [%s] ",
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     tags[level < 0 ? 0 : level > 3 ? 3 : level], log_role);
    if (n >= 0 && (size_t)n < size)
        vsnprintf(line + n, size - (size_t)n, fmt, ap);
    size_t len = strlen(line);
    if (len + 1 < size) {
        line[len] = '\n';
        line[len + 1] = '\0';
    }
}

void log_write_file(int level, const char *fmt, ...)
{
    if (log_fd < 0 || level < log_threshold)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    format_line(line, sizeof line, level, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_mu);
    if (log_fd >= 0)
        write_all(log_fd, line, strlen(line));
    pthread_mutex_unlock(&log_mu);
}

void log_write(int level, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    format_line(line, sizeof line, level, fmt, ap);
    va_end(ap);
    /* One fputs per line keeps lines whole when mpirun merges ranks. */
    pthread_mutex_lock(&log_mu);
    if (log_fd >= 0)
        write_all(log_fd, line, strlen(line));
    to_stderr(line);
    pthread_mutex_unlock(&log_mu);
}

/* The terminal at fd: 1 and its width in *cols, or 0. */
static int tty_cols(int fd, int *cols)
{
    if (!isatty(fd))
        return 0;
    struct winsize ws;
    if (cols)
        *cols = ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    return 1;
}

int log_stderr_terminal(int *cols)
{
    if (tty_cols(2, cols))
        return 1;
    /* mpirun (and orted) hand a rank a pipe and copy it to their own
     * stderr: look at the parent's. Only a terminal device is opened (a
     * pipe or FIFO could block). */
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/%d/fd/2", (int)getppid());
    ssize_t k = readlink(link, target, sizeof target - 1);
    if (k <= 0)
        return 0;
    target[k] = 0;
    if (strncmp(target, "/dev/pts/", 9) != 0 && strncmp(target, "/dev/tty", 8) != 0)
        return 0;
    int fd = open(link, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return 0;
    int is = tty_cols(fd, cols);
    close(fd);
    return is;
}

void log_console(int on)
{
    pthread_mutex_lock(&log_mu);
    log_on_tty = on;
    pthread_mutex_unlock(&log_mu);
}

void log_live(const char *text)
{
    pthread_mutex_lock(&log_mu);
    if (!log_on_tty) {
        pthread_mutex_unlock(&log_mu);
        return;
    }
    free(log_live_text);
    log_live_text = text && *text ? strdup(text) : NULL;
    fflush(stderr);
    write_all(2, CLEAR_LINE, sizeof CLEAR_LINE - 1);
    if (log_live_text)
        write_all(2, log_live_text, strlen(log_live_text));
    pthread_mutex_unlock(&log_mu);
}
