/* A job submission (runtime layer): the job file's text, the config file's
 * text, -D overrides, job parameters and -p. The JobManager reads the files
 * and broadcasts the encoded submission; every rank then builds the same
 * configuration and plan from it, so TaskManagers need not see the job or
 * config files, only the data they read and write. */
#ifndef MPF_RUNTIME_SUBMISSION_H
#define MPF_RUNTIME_SUBMISSION_H

#include <stddef.h>
#include "conf/props.h"
#include "plan/plan.h"
#include "util/err.h"

typedef struct submission {
    char *job_path, *job_text;
    char *conf_path, *conf_text; /* NULL when no config file */
    int ndefs, nparams;
    char **defs;   /* "key=value" */
    char **params; /* "name=value" */
    int parallelism;
    char *restore;      /* --restore: "latest" or a path; the JM resolves it */
    int allow_non_restored; /* --allow-non-restored-state */
} submission;

void submission_add_def(submission *s, const char *kv);
void submission_add_param(submission *s, const char *kv);
/* Read job_path and conf_path (if set) into the text fields. */
int submission_read_files(submission *s, mpf_err *e);
char *submission_encode(const submission *s, size_t *len);
int submission_decode(submission *s, const char *buf, size_t len, mpf_err *e);
void submission_fini(submission *s);
/* Configuration (defaults < conf file < job config: < -D) and plan for
 * ntms TaskManagers. On success the caller owns *c and p. */
int submission_plan(const submission *s, int ntms, conf **c, plan *p, mpf_err *e);

#endif
