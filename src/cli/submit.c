/* `mpiflow submit [--restart-attempts N] [--restart-delay D] -- LAUNCHER...`
 * (cli layer): supervise a job across the loss of processes. It runs the
 * launcher command (e.g. `mpirun -np 4 ... mpiflow run job.yaml ...`,
 * or `srun ...` inside a Slurm allocation); when it exits non-zero -- a
 * rank was killed, a node was lost, a task failed -- it waits the delay
 * and runs it again with `--restore auto` appended (the newest completed
 * checkpoint or savepoint of the job, or a fresh start when there is
 * none), Flink's fixed-delay restart strategy, until the job succeeds or
 * the attempts are used up. SIGINT/SIGTERM are passed to the launcher and
 * end supervision (the job stops in order and is not restarted). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli/submit.h"
#include "conf/props.h"
#include "util/xmalloc.h"

static volatile sig_atomic_t child_pid, stop_sig;

static void forward(int sig)
{
    stop_sig = sig;
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

/* Run argv; returns its exit status (128 + signal when killed). */
static int run_once(char **argv)
{
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "mpiflow submit: fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "mpiflow submit: cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    child_pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int cmd_submit(int argc, char **argv)
{
    int64_t attempts = 3, delay_ns = 1000000000;
    int i = 0;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--restart-attempts") == 0 && val) {
            char *end;
            attempts = strtoll(val, &end, 10);
            if (*end || attempts < 0) {
                fprintf(stderr, "mpiflow submit: --restart-attempts needs a number >= 0\n");
                return 2;
            }
            i++;
        } else if (strcmp(argv[i], "--restart-delay") == 0 && val) {
            if (parse_duration_ns(val, &delay_ns)) {
                fprintf(stderr, "mpiflow submit: --restart-delay needs a duration such as 2s\n");
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "usage: mpiflow submit [--restart-attempts N] [--restart-delay D] "
                    "-- LAUNCHER [ARGS]... (e.g. -- mpirun -np 4 mpiflow run job.yaml)\n");
            return 2;
        }
    }
    if (i + 1 >= argc) {
        fprintf(stderr, "mpiflow submit: no launcher command after --\n");
        return 2;
    }
    int n = argc - i - 1;
    char **cmd = xcalloc((size_t)n + 3, sizeof *cmd);
    for (int k = 0; k < n; k++)
        cmd[k] = argv[i + 1 + k];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = 0;
    for (int64_t attempt = 0;; attempt++) {
        rc = run_once(cmd);
        if (rc == 0 || stop_sig)
            break;
        if (attempt >= attempts) {
            fprintf(stderr, "mpiflow submit: the job failed (exit %d) and all %lld restart "
                    "attempt(s) are used up; giving up\n", rc, (long long)attempts);
            break;
        }
        fprintf(stderr, "mpiflow submit: the job failed (exit %d); restart %lld of %lld in "
                "%.3f s from the latest checkpoint\n", rc, (long long)attempt + 1,
                (long long)attempts, (double)delay_ns / 1e9);
        struct timespec ts = {(time_t)(delay_ns / 1000000000), (long)(delay_ns % 1000000000)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop_sig)
            ;
        if (stop_sig)
            break;
        if (attempt == 0) { /* from now on resume from the newest checkpoint */
            cmd[n] = "--restore";
            cmd[n + 1] = "auto";
        }
    }
    free(cmd);
    return rc == 0 ? 0 : 1;
}
