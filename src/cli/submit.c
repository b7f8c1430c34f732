/* `mpiflow submit [--restart-attempts N] [--restart-delay D] -- LAUNCHER...`
 * (cli layer): supervise a job across the loss of processes. It runs the
 * launcher command (e.g. `mpirun -np 4 ... mpiflow run job.yaml ...`,
 * or `srun ...` inside a Slurm allocation); when it exits non-zero -- a
 * rank was killed, a node was lost, a task failed -- it asks the job's
 * restart strategy (restart-strategy.*, read from the same configuration
 * the job gets: defaults < conf file < job `config:` < -D) whether and
 * when to restart, and runs it again with `--restore auto` appended (the
 * newest completed checkpoint or savepoint of the job, or a fresh start
 * when there is none), until the job finishes, is cancelled or stopped
 * (exit codes 0, 3, 4: passed on) or the strategy gives up (exit 1).
 * --restart-attempts/--restart-delay replace the job's strategy with
 * fixed-delay. SIGINT/SIGTERM are passed to the launcher and end
 * supervision (the job stops in order and is not restarted); SIGUSR1 (take
 * a savepoint) is passed on and supervision goes on. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli/submit.h"
#include "conf/props.h"
#include "conf/yamldoc.h"
#include "plan/job.h"
#include "runtime/restart.h"
#include "runtime/runtime.h"
#include "runtime/submission.h"
#include "util/clock.h"
#include "util/xmalloc.h"

/* --restart-attempts / --restart-delay when only the other one is given. */
#define DEFAULT_ATTEMPTS "3"
#define DEFAULT_DELAY "1s"

static volatile sig_atomic_t child_pid, stop_sig;

static void forward(int sig)
{
    if (sig != SIGUSR1)
        stop_sig = sig;
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

/* Run argv; returns its exit status (128 + signal when killed). The
 * forwarded signals are blocked until child_pid is set, so none is lost
 * between fork and the assignment. */
static int run_once(char **argv)
{
    sigset_t fwd, old;
    sigemptyset(&fwd);
    sigaddset(&fwd, SIGINT);
    sigaddset(&fwd, SIGTERM);
    sigaddset(&fwd, SIGUSR1);
    sigprocmask(SIG_BLOCK, &fwd, &old);
    if (stop_sig) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        return 128 + stop_sig;
    }
    pid_t pid = fork();
    if (pid < 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        fprintf(stderr, "mpiflow submit: fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        /* child_pid is 0 here, so the handlers forward nothing until exec
         * resets them. */
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(argv[0], argv);
        fprintf(stderr, "mpiflow submit: cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    sigprocmask(SIG_SETMASK, &old, NULL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    child_pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Index of `run` in the launcher command: the argument after an element
 * whose basename is mpiflow, else the first `run`; -1 if there is none.
 * *exe is that mpiflow element (NULL when not found). */
static int find_run(char **cmd, int n, const char **exe)
{
    *exe = NULL;
    for (int k = 0; k + 1 < n; k++) {
        const char *slash = strrchr(cmd[k], '/');
        if (strcmp(slash ? slash + 1 : cmd[k], "mpiflow") == 0 && strcmp(cmd[k + 1], "run") == 0) {
            *exe = cmd[k];
            return k + 1;
        }
    }
    for (int k = 0; k < n; k++)
        if (strcmp(cmd[k], "run") == 0)
            return k;
    return -1;
}

/* The config file `mpiflow run` reads without --conf, as default_conf_path
 * in cli/main.c finds it: $MPIFLOW_CONF_DIR/mpiflow.yaml, else
 * ../conf/mpiflow.yaml from the directory of the launched mpiflow (exe, if
 * it names a directory; else this executable), if that file exists. */
static char *run_default_conf(const char *exe)
{
    const char *dir = getenv("MPIFLOW_CONF_DIR");
    if (dir && *dir)
        return xasprintf("%s/mpiflow.yaml", dir);
    char path[PATH_MAX];
    if (exe && strchr(exe, '/')) {
        snprintf(path, sizeof path, "%s", exe);
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0)
            return NULL;
        path[n] = '\0';
    }
    *strrchr(path, '/') = '\0';
    char *p = xasprintf("%s/../conf/mpiflow.yaml", path);
    if (access(p, R_OK) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* The job file, --conf, -D and job parameters among `mpiflow run`'s
 * arguments, parsed as cli/main.c parses them; the other options (-p,
 * --restore, ...) are skipped with their values. */
static void parse_run_args(char **a, int n, submission *sub)
{
    static const char *const with_value[] = {"-p", "--parallelism", "--taskmanagers",
                                             "--restore", NULL};
    static const char *const flags[] = {"--allow-non-restored-state", "--help", "-h", NULL};
    for (int i = 0; i < n; i++) {
        const char *val = i + 1 < n ? a[i + 1] : NULL;
        int skip = 0, flag = 0;
        for (int k = 0; with_value[k]; k++)
            skip |= strcmp(a[i], with_value[k]) == 0;
        for (int k = 0; flags[k]; k++)
            flag |= strcmp(a[i], flags[k]) == 0;
        if (flag) {
            continue;
        } else if (skip) {
            i++;
        } else if (strcmp(a[i], "--conf") == 0 && val) {
            free(sub->conf_path);
            sub->conf_path = xstrdup(val);
            i++;
        } else if (strncmp(a[i], "-D", 2) == 0) {
            const char *kv = a[i][2] ? a[i] + 2 : val;
            i += a[i][2] ? 0 : 1;
            if (kv && strchr(kv, '='))
                submission_add_def(sub, kv);
        } else if (strcmp(a[i], "-P") == 0 && val) {
            if (strchr(val, '='))
                submission_add_param(sub, val);
            i++;
        } else if (strncmp(a[i], "--", 2) == 0 && a[i][2] && sub->job_path) {
            if (strchr(a[i], '=')) {
                submission_add_param(sub, a[i] + 2);
            } else if (val) {
                char *kv = xasprintf("%s=%s", a[i] + 2, val);
                submission_add_param(sub, kv);
                free(kv);
                i++;
            }
        } else if (a[i][0] != '-' && !sub->job_path) {
            sub->job_path = xstrdup(a[i]);
        }
    }
}

/* The configuration the job will run with (defaults < conf file < job
 * config: < -D), built from the launcher command's `mpiflow run`
 * arguments with the same functions the runtime uses. Without a `run` in
 * the command only the default conf file applies. Returns NULL after
 * printing an error. */
static conf *job_conf(char **cmd, int n)
{
    submission sub = {0};
    mpf_err e = {0};
    conf *c = conf_new();
    job *j = NULL;
    const char *exe;
    int r = find_run(cmd, n, &exe);
    if (r >= 0)
        parse_run_args(cmd + r + 1, n - r - 1, &sub);
    if (!sub.conf_path)
        sub.conf_path = run_default_conf(exe);
    if (!sub.job_path)
        fprintf(stderr, "mpiflow submit: no `mpiflow run JOB.yaml` in the launcher command; the "
                "restart strategy comes from %s\n",
                sub.conf_path ? sub.conf_path : "the defaults");
    if (sub.job_path) {
        if (submission_read_files(&sub, &e))
            goto fail;
    } else if (sub.conf_path) {
        size_t len;
        if (!(sub.conf_text = ydoc_read_file(sub.conf_path, &len, &e)))
            goto fail;
    }
    /* The layers in the order of submission_plan. */
    if (sub.conf_text) {
        ydoc *d = ydoc_parse(sub.conf_path, sub.conf_text, strlen(sub.conf_text), &e);
        if (!d)
            goto fail;
        int rc = d->root ? conf_apply_yaml(c, d->root, &e) : 0;
        ydoc_destroy(d);
        if (rc)
            goto fail;
    }
    if (sub.job_text) {
        if (job_parse(sub.job_path, sub.job_text, strlen(sub.job_text), sub.params, sub.nparams,
                      &j, &e))
            goto fail;
        if (j->config && conf_apply_yaml(c, j->config, &e))
            goto fail;
    }
    for (int i = 0; i < sub.ndefs; i++)
        if (conf_set_kv(c, sub.defs[i], &e))
            goto fail;
    if (conf_finalize(c, &e))
        goto fail;
    job_destroy(j);
    submission_fini(&sub);
    return c;
fail:
    fprintf(stderr, "mpiflow submit: error: %s (the job's restart strategy cannot be read; "
            "--restart-attempts N supervises without it)\n", e.msg);
    job_destroy(j);
    conf_destroy(c);
    submission_fini(&sub);
    return NULL;
}

static int usage_error(void)
{
    fprintf(stderr, "usage: mpiflow submit [--restart-attempts N] [--restart-delay D] "
            "-- LAUNCHER [ARGS]... (e.g. -- mpirun -np 4 mpiflow run job.yaml)\n"
            "  restarts as the job's restart-strategy.* configuration says; either option\n"
            "  replaces it with fixed-delay (defaults: %s attempts, %s delay)\n",
            DEFAULT_ATTEMPTS, DEFAULT_DELAY);
    return 2;
}

/* Wait ns unless a stop signal arrives. */
static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop_sig)
        ;
}

int cmd_submit(int argc, char **argv)
{
    const char *attempts = NULL, *delay = NULL;
    int i = 0;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--restart-attempts") == 0 && val) {
            char *end;
            long long v = strtoll(val, &end, 10);
            if (!*val || *end || v < 0) {
                fprintf(stderr, "mpiflow submit: --restart-attempts needs a number >= 0\n");
                return 2;
            }
            attempts = val;
            i++;
        } else if (strcmp(argv[i], "--restart-delay") == 0 && val) {
            int64_t ns;
            if (parse_duration_ns(val, &ns)) {
                fprintf(stderr, "mpiflow submit: --restart-delay needs a duration such as 2s\n");
                return 2;
            }
            delay = val;
            i++;
        } else {
            return usage_error();
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

    conf *c;
    const char *from;
    if (attempts || delay) {
        mpf_err e = {0};
        c = conf_new();
        if (conf_set(c, "restart-strategy.type", "fixed-delay", "submit", &e) ||
            conf_set(c, "restart-strategy.fixed-delay.attempts",
                     attempts ? attempts : DEFAULT_ATTEMPTS, "--restart-attempts", &e) ||
            conf_set(c, "restart-strategy.fixed-delay.delay", delay ? delay : DEFAULT_DELAY,
                     "--restart-delay", &e)) {
            fprintf(stderr, "mpiflow submit: %s\n", e.msg);
            conf_destroy(c);
            free(cmd);
            return 2;
        }
        from = "from --restart-attempts/--restart-delay";
    } else {
        if (!(c = job_conf(cmd, n))) {
            free(cmd);
            return 1;
        }
        from = strcmp(conf_str(c, CONF_RESTART_STRATEGY_TYPE), "auto") != 0
                   ? "from restart-strategy.type"
               : conf_duration_ns(c, CONF_EXECUTION_CHECKPOINTING_INTERVAL) > 0
                   ? "auto, as checkpointing is on"
                   : "auto, as checkpointing is off";
    }
    restart_strategy rs;
    restart_init(&rs, c);
    conf_destroy(c);
    fprintf(stderr, "mpiflow submit: restart strategy '%s' (%s)\n", restart_name(&rs), from);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    int rc = 0;
    for (int launch = 0;; launch++) {
        rc = run_once(cmd);
        if (rc == MPF_EXIT_FINISHED || rc == MPF_EXIT_CANCELLED || rc == MPF_EXIT_STOPPED ||
            stop_sig)
            break; /* an outcome, not a failure (cancel and stop are on purpose) */
        int64_t delay_ns = 0;
        char why[256];
        if (!restart_on_failure(&rs, clock_mono_ns(), &delay_ns, why, sizeof why)) {
            if (rs.kind == RESTART_NONE)
                fprintf(stderr, "mpiflow submit: the job failed (exit %d) and the restart "
                        "strategy 'none' does not restart it (%s; set restart-strategy.type, "
                        "turn on checkpointing, or pass --restart-attempts N)\n", rc, from);
            else
                fprintf(stderr, "mpiflow submit: the job failed (exit %d); %s; giving up\n", rc,
                        why);
            break;
        }
        fprintf(stderr, "mpiflow submit: the job failed (exit %d); %s from the latest "
                "checkpoint\n", rc, why);
        sleep_ns(delay_ns);
        if (stop_sig) {
            fprintf(stderr, "mpiflow submit: stopped by signal %d before the restart; the job "
                    "is not restarted\n", (int)stop_sig);
            break;
        }
        if (launch == 0) { /* from now on resume from the newest checkpoint */
            cmd[n] = "--restore";
            cmd[n + 1] = "auto";
        }
    }
    restart_fini(&rs);
    free(cmd);
    return rc == MPF_EXIT_FINISHED || rc == MPF_EXIT_CANCELLED || rc == MPF_EXIT_STOPPED
               ? rc
               : MPF_EXIT_FAILED;
}
