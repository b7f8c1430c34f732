/* Job definitions (plan layer): a job YAML file parsed into operator specs,
 * with job parameters substituted. Format:
 *   name: wordcount
 *   parallelism: 3                  # optional
 *   parameters: {input: {default: "...", description: "..."}}
 *   config: {key: value}            # configuration for this job
 *   operators:                      # a list; linear unless `inputs:`
 *     - {uid: lines, source: file, path: "${input}"}
 *     - {uid: words, type: tokenize}
 *     - {uid: out, sink: stdout}
 * Every operator has exactly one of source:/type:/sink:. */
#ifndef MPF_PLAN_JOB_H
#define MPF_PLAN_JOB_H

#include "conf/yamldoc.h"
#include "ops/op.h"
#include "util/err.h"

typedef struct job_param {
    char *name, *value, *description;
    const ynode *node;
    int from_cli; /* value given on the command line, not the job's default */
} job_param;

typedef struct job {
    char *name;
    int parallelism; /* 0 = not set */
    ydoc *doc;
    const ynode *config; /* the config: map or NULL */
    int nparams;
    job_param *params;
    int nops;
    op_spec *ops;
} job;

/* Parse a job from text. params are "name=value" strings (CLI values);
 * naming an undeclared parameter is an error listing the declared ones.
 * Returns 0 or an error (file:line:col in e). Caller owns *out. */
int job_parse(const char *file, const char *text, size_t len, char *const *params,
              int nparams, job **out, mpf_err *e);
void job_destroy(job *j);
/* Print declared parameters with defaults and descriptions. */
void job_print_params(const job *j, FILE *f);

#endif
