/* The `mpiflow` command (cli layer): argument parsing and subcommands.
 *   mpiflow run JOB.yaml [--conf F] [-D k=v]... [-p N] [--restore X]
 *               [--allow-non-restored-state] [--PARAM V]...
 *   mpiflow validate JOB.yaml [same options] [--taskmanagers N]
 *   mpiflow config --list | --markdown
 *   mpiflow inspect CHECKPOINT_DIR
 *   mpiflow kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]...
 *   mpiflow submit [--restart-attempts N] [--restart-delay D] -- LAUNCHER...
 *   mpiflow history [DIR] [--port P] | list --archived [DIR]   (job archives)
 *   mpiflow list | savepoint JOB [DIR] | stop JOB [--savepointPath DIR] [--drain] |
 *           cancel JOB | checkpoints JOB | metrics JOB   (over the job's REST API)
 * Exit codes: 0 success, 1 the job failed or was rejected, 2 usage; run
 * and submit also 3 cancelled and 4 stopped (enum mpf_exit). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ckpt/ckpt.h"
#include "cli/histcmd.h"
#include "cli/jobctl.h"
#include "cli/submit.h"
#include "connectors/kafka/kafka_mock.h"
#include "conf/props.h"
#include "net/world.h"
#include "ops/op.h"
#include "plan/plan.h"
#include "runtime/runtime.h"
#include "runtime/submission.h"
#include "util/log.h"
#include "util/xmalloc.h"

static void usage(FILE *f)
{
    fprintf(f,
            "mpiflow %s - stateful stream processing on MPI\n"
            "\n"
            "usage:\n"
            "  mpirun -np N mpiflow run JOB.yaml [options] [--PARAM VALUE]...\n"
            "  mpiflow validate JOB.yaml [options] [--taskmanagers N] [--PARAM VALUE]...\n"
            "  mpiflow config --list | --markdown\n"
            "  mpiflow inspect DIR        summarise and verify a checkpoint or savepoint\n"
            "  mpiflow submit [--restart-attempts N] [--restart-delay D] -- LAUNCHER...\n"
            "                             supervise a job, relaunching it from its latest\n"
            "                             checkpoint after a lost process\n"
            "  mpiflow list               the jobs running on this node\n"
            "  mpiflow list --archived [DIR]  the jobs archived in DIR (jobmanager.archive.fs.dir)\n"
            "  mpiflow history [DIR] [--port P]  serve archived jobs: dashboard and REST API\n"
            "                             (historyserver.web.port, 8082)\n"
            "  mpiflow savepoint JOB [DIR]  take a savepoint of running job JOB\n"
            "  mpiflow stop JOB [--savepointPath DIR] [--drain]  stop JOB with a savepoint\n"
            "  mpiflow cancel JOB         cancel running job JOB (no savepoint)\n"
            "  mpiflow checkpoints JOB [--json]  JOB's checkpoint statistics and history\n"
            "  mpiflow metrics JOB [--json]      JOB's operators: records, rates, busy time\n"
            "                             (JOB: its name or id; these talk to the job's REST\n"
            "                             API, found through $MPIFLOW_RUN_DIR/jobs or\n"
            "                             /tmp/mpiflow-UID/jobs, or at --jobmanager HOST:PORT;\n"
            "                             --token T or $MPIFLOW_REST_TOKEN when it needs one)\n"
            "  mpiflow kafka-mock [--brokers N] [--topic NAME[:P]]...  a mock Kafka cluster\n"
            "                             for trying Kafka jobs (not a real broker)\n"
            "  mpiflow --help | --version\n"
            "\n"
            "options:\n"
            "  --conf FILE        configuration file (default: $MPIFLOW_CONF_DIR/mpiflow.yaml,\n"
            "                     else conf/mpiflow.yaml next to the installation)\n"
            "  -D KEY=VALUE       set a configuration key (wins over files and the job)\n"
            "  -p, --parallelism N  default parallelism of the job's operators\n"
            "  -P NAME=VALUE      set a job parameter (same as --NAME VALUE after JOB)\n"
            "  --restore latest|auto|PATH  (run) resume from a checkpoint or savepoint\n"
            "                     (auto: the latest if there is one, else a fresh start)\n"
            "  --allow-non-restored-state  (run) ignore state of operators the job lacks\n"
            "  --taskmanagers N   (validate) plan for N TaskManagers (default 1)\n"
            "\n"
            "`run` needs at least 2 MPI ranks: rank 0 is the JobManager, ranks 1..N-1\n"
            "TaskManagers. On a shared node pass --mca mpi_yield_when_idle 1.\n",
            MPIFLOW_VERSION);
}

/* Default config file: $MPIFLOW_CONF_DIR/mpiflow.yaml, else
 * <dir of the executable>/../conf/mpiflow.yaml, if it exists. */
static char *default_conf_path(void)
{
    const char *dir = getenv("MPIFLOW_CONF_DIR");
    if (dir && *dir)
        return xasprintf("%s/mpiflow.yaml", dir);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    char *p = xasprintf("%s/../conf/mpiflow.yaml", exe);
    if (access(p, R_OK) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static int parse_int(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

/* Parse run/validate arguments. Returns 0, or 2 after printing an error. */
static int parse_job_args(int argc, char **argv, submission *sub, int *ntms, int validate)
{
    const char *reserved[] = {"conf", "parallelism", "taskmanagers", "help", "restore",
                              "allow-non-restored-state", NULL};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--conf") == 0) {
            if (!val)
                goto missing;
            free(sub->conf_path);
            sub->conf_path = xstrdup(val);
            i++;
        } else if (strncmp(a, "-D", 2) == 0) {
            const char *kv = a[2] ? a + 2 : val;
            if (!kv)
                goto missing;
            if (!strchr(kv, '=')) {
                fprintf(stderr, "mpiflow: error: -D needs KEY=VALUE, got '%s'\n", kv);
                return 2;
            }
            submission_add_def(sub, kv);
            i += a[2] ? 0 : 1;
        } else if (strcmp(a, "-p") == 0 || strcmp(a, "--parallelism") == 0) {
            if (!val)
                goto missing;
            if (parse_int(val, &sub->parallelism)) {
                fprintf(stderr, "mpiflow: error: %s needs a positive number, got '%s'\n", a, val);
                return 2;
            }
            i++;
        } else if (validate && strcmp(a, "--taskmanagers") == 0) {
            if (!val)
                goto missing;
            if (parse_int(val, ntms)) {
                fprintf(stderr, "mpiflow: error: --taskmanagers needs a positive number\n");
                return 2;
            }
            i++;
        } else if (!validate && strcmp(a, "--restore") == 0) {
            if (!val)
                goto missing;
            free(sub->restore);
            sub->restore = xstrdup(val);
            i++;
        } else if (!validate && strcmp(a, "--allow-non-restored-state") == 0) {
            sub->allow_non_restored = 1;
        } else if (strcmp(a, "-P") == 0) {
            if (!val || !strchr(val, '=')) {
                fprintf(stderr, "mpiflow: error: -P needs NAME=VALUE\n");
                return 2;
            }
            submission_add_param(sub, val);
            i++;
        } else if (strncmp(a, "--", 2) == 0 && a[2] && sub->job_path) {
            /* A job parameter: --name value or --name=value. */
            const char *name = a + 2, *eq = strchr(name, '=');
            for (int r = 0; reserved[r]; r++)
                if (strcmp(name, reserved[r]) == 0) {
                    fprintf(stderr, "mpiflow: error: --%s is not allowed here\n", name);
                    return 2;
                }
            char *kv;
            if (eq) {
                kv = xstrdup(name);
            } else {
                if (!val)
                    goto missing;
                kv = xasprintf("%s=%s", name, val);
                i++;
            }
            submission_add_param(sub, kv);
            free(kv);
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "mpiflow: error: unknown option '%s' (see mpiflow --help)\n", a);
            return 2;
        } else if (!sub->job_path) {
            sub->job_path = xstrdup(a);
        } else {
            fprintf(stderr, "mpiflow: error: unexpected argument '%s'; job parameters are "
                    "given as --NAME VALUE\n", a);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "mpiflow: error: %s needs a value\n", a);
        return 2;
    }
    if (!sub->job_path) {
        fprintf(stderr, "mpiflow: error: no job file given (see mpiflow --help)\n");
        return 2;
    }
    if (!sub->conf_path)
        sub->conf_path = default_conf_path();
    return 0;
}

static int cmd_validate(int argc, char **argv)
{
    submission sub = {0};
    int ntms = 1;
    int rc = parse_job_args(argc, argv, &sub, &ntms, 1);
    if (rc) {
        submission_fini(&sub);
        return rc;
    }
    mpf_err e = {0};
    conf *c = NULL;
    plan p;
    rc = submission_read_files(&sub, &e);
    if (!rc)
        rc = submission_plan(&sub, ntms, &c, &p, &e);
    if (rc) {
        fprintf(stderr, "mpiflow: error: %s\n", e.msg);
        submission_fini(&sub);
        return 1;
    }
    plan_print(&p, stdout);
    if (p.job->nparams) {
        printf("\nParameters:\n");
        job_print_params(p.job, stdout);
    }
    plan_fini(&p);
    conf_destroy(c);
    submission_fini(&sub);
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    submission sub = {0};
    int ntms = 0;
    int rc = parse_job_args(argc, argv, &sub, &ntms, 0);
    if (rc) {
        submission_fini(&sub);
        return rc;
    }
    mpf_err e = {0};
    if (net_init(&argc, &argv, &e)) {
        fprintf(stderr, "mpiflow: error: %s\n", e.msg);
        submission_fini(&sub);
        return 1;
    }
    if (net_size() < 2) {
        fprintf(stderr, "mpiflow: error: `mpiflow run` needs at least 2 MPI ranks (a JobManager "
                "and at least one TaskManager), got %d; start it with mpirun -np N, N >= 2\n",
                net_size());
        net_fini();
        submission_fini(&sub);
        return 1;
    }
    runtime_install_signals();
    rc = runtime_run(&sub);
    submission_fini(&sub);
    net_fini();
    return rc;
}

static int cmd_config(int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "--list") == 0) {
        conf_print_list(stdout);
        return 0;
    }
    if (argc == 1 && strcmp(argv[0], "--markdown") == 0) {
        conf_print_markdown(stdout);
        return 0;
    }
    fprintf(stderr, "mpiflow: error: usage: mpiflow config --list | --markdown\n");
    return 2;
}

typedef struct describe_ctx {
    const op_kind *kind;
    const char *uid;
} describe_ctx;

static int describe_blob(void *arg, const ckpt_blob *b, mpf_err *e)
{
    (void)e;
    const describe_ctx *d = arg;
    snap_blob sb = {SNAP_OPERATOR, -1, b->subtask, b->data, b->len};
    char line[256];
    d->kind->describe_state(&sb, line, sizeof line);
    printf("  %s subtask %d: %s\n", d->uid, b->subtask, line);
    return 0;
}

/* Validate a checkpoint (every blob's checksum) and summarise it. */
static int cmd_inspect(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-') {
        fprintf(stderr, "mpiflow: error: usage: mpiflow inspect CHECKPOINT_DIR\n");
        return 2;
    }
    mpf_err e = {0};
    ckpt *c = NULL;
    if (ckpt_lib_init(&e) || ckpt_open(argv[0], &c, &e)) {
        fprintf(stderr, "mpiflow: error: %s\n", e.msg);
        return 1;
    }
    ckpt_print_summary(c, stdout);
    /* Positions of sources and staged parts of sinks, as their kinds read them. */
    const ckpt_meta *m = ckpt_meta_get(c);
    int header = 0;
    for (int i = 0; i < m->nops; i++) {
        const op_kind *k = op_kind_parse_qualified(m->ops[i].kind ? m->ops[i].kind : "");
        if (!k || !k->describe_state)
            continue;
        if (!header++)
            printf("operator state:\n");
        describe_ctx d = {k, m->ops[i].uid};
        if (ckpt_read(c, m->ops[i].uid, 1, 0, 1, describe_blob, &d, &e))
            printf("  %s: %s\n", m->ops[i].uid, e.msg);
    }
    ckpt_close(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("mpiflow %s\n", MPIFLOW_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "validate") == 0)
        return cmd_validate(argc - 2, argv + 2);
    if (strcmp(cmd, "config") == 0)
        return cmd_config(argc - 2, argv + 2);
    if (strcmp(cmd, "inspect") == 0)
        return cmd_inspect(argc - 2, argv + 2);
    if (strcmp(cmd, "kafka-mock") == 0)
        return kafka_mock_main(argc - 1, argv + 1);
    if (strcmp(cmd, "submit") == 0)
        return cmd_submit(argc - 2, argv + 2);
    if (strcmp(cmd, "history") == 0 || strcmp(cmd, "list") == 0) {
        int archived = strcmp(cmd, "history") == 0;
        for (int i = 2; i < argc && !archived; i++)
            archived = strcmp(argv[i], "--archived") == 0;
        if (archived) {
            char *dc = default_conf_path();
            int rc = strcmp(cmd, "history") == 0 ? cmd_history(argc - 2, argv + 2, dc)
                                                 : cmd_list_archived(argc - 2, argv + 2, dc);
            free(dc);
            return rc;
        }
    }
    if (jobctl_is_command(cmd))
        return cmd_jobctl(cmd, argc - 2, argv + 2);
    fprintf(stderr, "mpiflow: error: unknown command '%s' (run, validate, config, inspect, submit, "
            "list, savepoint, stop, cancel, checkpoints, metrics; see --help)\n", cmd);
    return 2;
}
