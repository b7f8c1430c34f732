/* What every rank of `mpiflow run` shares (runtime layer): the role
 * dispatch (rank 0 the JobManager, the others TaskManagers), the stop and
 * savepoint signals, and the peak-memory reading of the job summary. The
 * JobManager and the TaskManager both use these, and neither uses the
 * other. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "net/control.h"
#include "net/world.h"
#include "runtime/runtime.h"
#include "util/log.h"
#include "util/fsutil.h"


int runtime_open_log(const conf *c, int rank)
{
    const char *dir = conf_str(c, CONF_LOG_DIR);
    if (*dir) {
        char *path = log_file_path(dir, rank);
        if (fs_mkdirs(dir, 0755) != 0 || log_open_file(path) != 0)
            log_warn("log.dir: cannot write %s (%s): logging to stderr only", path,
                     strerror(errno));
        free(path);
    }
    int tty = strcmp(conf_str(c, CONF_LOG_CONSOLE_STATUS), "off") != 0 &&
              log_stderr_terminal(NULL);
    log_console(tty);
    return tty;
}

long runtime_peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static volatile sig_atomic_t stop_signal, stop_signals, savepoint_signals;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
    stop_signals++;
}

static void on_savepoint_signal(int sig)
{
    (void)sig;
    savepoint_signals++;
}

void runtime_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* mpirun forwards SIGUSR1 to every rank; only the JobManager acts. */
    sa.sa_handler = on_savepoint_signal;
    sigaction(SIGUSR1, &sa, NULL);
}

int runtime_stop_signal(void)
{
    return stop_signal;
}

int runtime_take_stop_signals(void)
{
    int n = stop_signals;
    stop_signals = 0;
    return n;
}

int runtime_take_savepoint_signal(void)
{
    if (!savepoint_signals)
        return 0;
    savepoint_signals = 0;
    return 1;
}

void runtime_check_control(void)
{
    mpf_err e;
    if (!ctl_failed(&e))
        return;
    log_error("%s: the control plane failed; ending the MPI world so the job can be "
              "relaunched from its latest checkpoint (mpiflow submit, --restore auto)", e.msg);
    net_abort(MPF_EXIT_FAILED);
}

int runtime_run(submission *sub)
{
    return net_rank() == 0 ? jm_main(sub) : tm_main();
}
