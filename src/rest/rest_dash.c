/* The job graph and the network matrix as JSON (rest layer); see
 * rest_dash.h. */
#include "rest/rest_dash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/op.h"
#include "plan/plan.h"
#include "rest/rest_json.h"
#include "util/xmalloc.h"

static json_t *vertex_id(const char *uid)
{
    char id[33];
    rest_json_vertex_id(uid, id);
    return json_string(id);
}

static const char *role_name(int role)
{
    return role == OP_SOURCE ? "source" : role == OP_SINK ? "sink" : "transform";
}

/* The network edge that feeds input k of operator op, or NULL (a chained
 * input, or none). */
static const plan_edge *input_edge(const plan *p, int op, int k)
{
    for (int e = 0; e < p->nedges; e++)
        if (p->edges[e].dst_op == op && p->edges[e].dst_input == k)
            return &p->edges[e];
    return NULL;
}

json_t *rest_dash_plan(const jobstate *js)
{
    const plan *p = jobstate_plan(js);
    const job *j = p->job;
    int *task_of = xcalloc((size_t)j->nops + 1, sizeof *task_of);
    int *pos_of = xcalloc((size_t)j->nops + 1, sizeof *pos_of);
    for (int i = 0; i < j->nops; i++)
        task_of[i] = -1;
    json_t *chains = json_array();
    for (int t = 0; t < p->ntasks; t++) {
        const plan_task *pt = &p->tasks[t];
        json_t *ids = json_array();
        for (int k = 0; k < pt->nops; k++) {
            task_of[pt->ops[k]] = t;
            pos_of[pt->ops[k]] = k;
            json_array_append_new(ids, vertex_id(j->ops[pt->ops[k]].uid));
        }
        json_array_append_new(chains, json_pack("{s:i, s:i, s:o}", "index", t, "parallelism",
                                                pt->parallelism, "nodes", ids));
    }
    json_t *nodes = json_array();
    for (int i = 0; i < j->nops; i++) {
        const op_spec *s = &j->ops[i];
        char desc[512] = "";
        if (s->kind->describe)
            s->kind->describe(s, desc, sizeof desc);
        json_t *inputs = json_array();
        for (int k = 0; k < s->ninputs; k++) {
            const op_spec *in = &j->ops[s->inputs[k]];
            const plan_edge *ed = input_edge(p, i, k);
            int part = ed ? ed->part : PART_FORWARD;
            json_t *x = json_pack("{s:i, s:o, s:s, s:s, s:b, s:i}", "num", k, "id",
                                  vertex_id(in->uid), "ship_strategy", part_kind_name(part),
                                  "exchange", "pipelined_bounded", "chained", ed == NULL,
                                  "channels", ed ? ed->nchan : 0);
            if (part == PART_HASH && s->key_field)
                json_object_set_new(x, "key", json_string(s->key_field));
            if (ed && ed->src_port > 0)
                json_object_set_new(x, "side_output", json_integer(ed->src_port - 1));
            json_array_append_new(inputs, x);
        }
        json_array_append_new(
            nodes, json_pack("{s:o, s:s, s:s, s:s, s:i, s:s, s:i, s:i, s:o}", "id",
                             vertex_id(s->uid), "uid", s->uid, "operator", s->kind->name, "role",
                             role_name(s->kind->role), "parallelism", s->parallelism,
                             "description", desc, "chain", task_of[i], "chain_position",
                             pos_of[i], "inputs", inputs));
    }
    free(task_of);
    free(pos_of);
    return json_pack("{s:{s:s, s:s, s:s, s:o}, s:o}", "plan", "jid", jobstate_job_id(js),
                     "name", jobstate_job_name(js), "type",
                     p->batch_mode ? "BATCH" : "STREAMING", "nodes", nodes, "chains", chains);
}

/* --- the network matrix --- */

enum { N_BYTES, N_BYTES_RATE, N_BATCHES, N_WAITS, N_WAIT_MS, N_WAIT_RATE, N_NAMES };
static const char *const net_names[N_NAMES] = {"bytesSent",   "bytesSentPerSecond",
                                                 "batchesSent", "creditWaits",
                                                 "creditWaitTimeMs",
                                                 "creditWaitTimeMsPerSecond"};

/* A cell's value of metric k, or NULL (not reported). */
static const js_metric *cell(const js_metrics *m, int k)
{
    return js_metrics_get(m, k == N_WAIT_MS ? "creditWaitTimeNs" : net_names[k]);
}

json_t *rest_dash_network(const jobstate *js, int64_t now_ms)
{
    int n = jobstate_ntms(js);
    json_t *ranks = json_array(), *tms = json_array(), *names = json_array();
    json_t *matrix = json_object(), *totals = json_object();
    json_t *rows[N_NAMES], *sent[N_NAMES], *recv[N_NAMES];
    double *colsum = xcalloc((size_t)(n + 1) * N_NAMES, sizeof *colsum);
    for (int k = 0; k < N_NAMES; k++) {
        json_array_append_new(names, json_string(net_names[k]));
        rows[k] = json_array();
        sent[k] = json_array();
        recv[k] = json_array();
    }
    for (int src = 1; src <= n; src++) {
        const js_tm *tm = jobstate_tm(js, src);
        char id[32];
        snprintf(id, sizeof id, "tm-%d", src);
        json_array_append_new(ranks, json_integer(src));
        json_array_append_new(tms, json_pack("{s:i, s:s, s:s?, s:s?, s:I}", "rank", src, "id",
                                             id, "host", tm->host, "binding", tm->binding,
                                             "updated", (json_int_t)tm->updated_ms));
        json_t *row[N_NAMES];
        double rowsum[N_NAMES] = {0};
        for (int k = 0; k < N_NAMES; k++)
            row[k] = json_array();
        for (int dst = 1; dst <= n; dst++) {
            const js_metrics *m = jobstate_peer(js, src, dst);
            for (int k = 0; k < N_NAMES; k++) {
                const js_metric *x = m ? cell(m, k) : NULL;
                if (!x) {
                    json_array_append_new(row[k], json_null());
                    continue;
                }
                double d = k == N_WAIT_MS ? x->d / 1e6 : x->d;
                rowsum[k] += d;
                colsum[dst * N_NAMES + k] += d;
                json_array_append_new(row[k], x->is_real || k == N_WAIT_MS
                                                  ? json_real(d)
                                                  : json_integer((json_int_t)x->i));
            }
        }
        for (int k = 0; k < N_NAMES; k++) {
            json_array_append_new(rows[k], row[k]);
            json_array_append_new(sent[k], json_real(rowsum[k]));
        }
    }
    for (int k = 0; k < N_NAMES; k++) {
        for (int dst = 1; dst <= n; dst++)
            json_array_append_new(recv[k], json_real(colsum[dst * N_NAMES + k]));
        json_object_set_new(matrix, net_names[k], rows[k]);
        json_object_set_new(totals, net_names[k],
                            json_pack("{s:o, s:o}", "sent", sent[k], "received", recv[k]));
    }
    free(colsum);
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "now", (json_int_t)now_ms, "ranks",
                     ranks, "taskmanagers", tms, "metrics", names, "matrix", matrix, "totals",
                     totals);
}
