/* Unit tests for the plan layer: job YAML parsing (operators, inputs,
 * parameters), and planning (operator chaining into tasks, the local
 * pre-aggregation phase, key-by folding, partitioning and channel counts,
 * slot checks and placement). Sources are builtin:sample and generators,
 * so nothing touches the disk. Every error about the YAML must carry a
 * "t.yaml:line:col" position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf/props.h"
#include "plan/job.h"
#include "plan/plan.h"

#define FILE_LABEL "t.yaml"

/* ------------------------------------------------------------- helpers */

static job *parse_ok(const char *text, char *const *params, int nparams)
{
    job *j = NULL;
    mpf_err e = {0};
    if (job_parse(FILE_LABEL, text, strlen(text), params, nparams, &j, &e) != 0)
        fail_msg("job_parse failed: %s", e.msg);
    assert_non_null(j);
    return j;
}

/* Expect job_parse to fail with code; e gets the message. */
static void parse_fails(const char *text, char *const *params, int nparams, int code, mpf_err *e)
{
    job *j = NULL;
    memset(e, 0, sizeof *e);
    int rc = job_parse(FILE_LABEL, text, strlen(text), params, nparams, &j, e);
    if (rc == 0) {
        job_destroy(j);
        fail_msg("job_parse accepted a bad job");
    }
    assert_int_equal(rc, code);
    assert_int_equal(e->code, code);
}

/* Plan text with conf c (defaults when NULL) on ntms TaskManagers. */
static int plan_text(plan *p, const char *text, conf *c, int ntms, int clip, mpf_err *e)
{
    job *j = parse_ok(text, NULL, 0);
    conf *own = c ? NULL : conf_new();
    memset(e, 0, sizeof *e);
    int rc = plan_build(p, j, c ? c : own, ntms, clip, e);
    if (own) {
        /* The plan keeps a pointer to its conf: only tests that look at
         * nothing but the result code use the default one. */
        if (rc == 0)
            plan_fini(p);
        conf_destroy(own);
    }
    return rc;
}

static void plan_ok(plan *p, const char *text, conf *c, int ntms, int clip)
{
    mpf_err e;
    if (plan_text(p, text, c, ntms, clip, &e) != 0)
        fail_msg("plan_build failed: %s", e.msg);
}

static void plan_fails(const char *text, conf *c, int ntms, int clip, int code, mpf_err *e)
{
    plan p;
    int rc = plan_text(&p, text, c, ntms, clip, e);
    if (rc == 0) {
        if (c)
            plan_fini(&p);
        fail_msg("plan_build accepted a bad job");
    }
    if (rc != code)
        fail_msg("expected %s, got %s: %s", mpf_err_name(code), mpf_err_name(rc), e->msg);
    assert_int_equal(e->code, code);
}

static void has(const char *msg, const char *part)
{
    if (!strstr(msg, part))
        fail_msg("message lacks \"%s\": %s", part, msg);
}

static int op_named(const plan *p, const char *uid)
{
    for (int i = 0; i < p->job->nops; i++)
        if (strcmp(p->job->ops[i].uid, uid) == 0)
            return i;
    return -1;
}

static const char *uid_at(const plan *p, int op) { return p->job->ops[op].uid; }

/* "a,b,c": the uids of a task's chain. */
static const char *chain_of(const plan *p, int t, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int k = 0; k < p->tasks[t].nops; k++)
        off += (size_t)snprintf(buf + off, n - off, "%s%s", k ? "," : "",
                                uid_at(p, p->tasks[t].ops[k]));
    return buf;
}

static conf *conf_with(const char *key, const char *value)
{
    conf *c = conf_new();
    mpf_err e;
    if (key && conf_set(c, key, value, "-D", &e) != 0)
        fail_msg("conf_set: %s", e.msg);
    return c;
}

static void conf_put(conf *c, const char *key, const char *value)
{
    mpf_err e;
    if (conf_set(c, key, value, "-D", &e) != 0)
        fail_msg("conf_set: %s", e.msg);
}

/* Channel ids of all edges are distinct and fill [0, nchannels). */
static void check_channels(const plan *p)
{
    unsigned char *used = calloc(p->nchannels + 1, 1);
    uint32_t total = 0;
    for (int k = 0; k < p->nedges; k++) {
        const plan_edge *ed = &p->edges[k];
        int ps = p->tasks[ed->src_task].parallelism, pd = p->tasks[ed->dst_task].parallelism;
        int expect = ed->part == PART_FORWARD ? ps : ps * pd;
        assert_int_equal(ed->nchan, expect);
        for (int s = 0; s < ps; s++) {
            int dmax = ed->part == PART_FORWARD ? 1 : pd;
            for (int d = 0; d < dmax; d++) {
                uint32_t ch = plan_channel(ed, s, ed->part == PART_FORWARD ? s : d, pd);
                assert_true(ch < p->nchannels);
                if (used[ch])
                    fail_msg("channel %u used twice", ch);
                used[ch] = 1;
            }
        }
        total += (uint32_t)ed->nchan;
    }
    assert_int_equal(total, p->nchannels);
    free(used);
}

/* ----------------------------------------------------------- the jobs */

static const char *const WORDCOUNT =
    "name: wc\n"
    "operators:\n"
    "  - uid: lines\n"
    "    source: file\n"
    "    path: builtin:sample\n"
    "  - uid: words\n"
    "    type: tokenize\n"
    "  - uid: counts\n"
    "    type: reduce\n"
    "    key-by: word\n"
    "    function: count\n"
    "  - uid: out\n"
    "    sink: blackhole\n";

/* An unbounded generator with a keyed sum. */
static const char *const STREAMING =
    "name: st\n"
    "operators:\n"
    "  - uid: gen\n"
    "    source: generator\n"
    "    fields:\n"
    "      - {name: k, type: string, cardinality: 10}\n"
    "      - {name: v, type: i64}\n"
    "  - uid: sums\n"
    "    type: reduce\n"
    "    key-by: k\n"
    "    function: sum\n"
    "    field: v\n"
    "  - uid: out\n"
    "    sink: blackhole\n";

/* ----------------------------------------------------------- planning */

static void test_wordcount_two_phase(void **state)
{
    (void)state;
    conf *c = conf_new();
    plan p;
    plan_ok(&p, WORDCOUNT, c, 2, 0);
    char buf[256];
    assert_int_equal(p.batch_mode, 1); /* bounded source, AUTOMATIC */
    assert_int_equal(p.nslots, 2);
    assert_int_equal(p.job->nops, 5);
    int local = op_named(&p, "counts/local");
    assert_true(local >= 0);
    assert_null(p.job->ops[local].node);
    assert_int_equal(p.job->ops[local].part, PART_FORWARD);
    assert_int_equal(p.ntasks, 2);
    assert_string_equal(chain_of(&p, 0, buf, sizeof buf), "lines,words,counts/local");
    assert_string_equal(chain_of(&p, 1, buf, sizeof buf), "counts,out");
    assert_int_equal(p.tasks[0].parallelism, 2);
    assert_int_equal(p.tasks[1].parallelism, 2);
    for (int i = 0; i < p.job->nops; i++)
        assert_int_equal(p.job->ops[i].parallelism, 2);

    assert_int_equal(p.nedges, 1);
    const plan_edge *ed = &p.edges[0];
    assert_int_equal(ed->src_task, 0);
    assert_int_equal(ed->dst_task, 1);
    assert_string_equal(uid_at(&p, ed->src_op), "counts/local");
    assert_string_equal(uid_at(&p, ed->dst_op), "counts");
    assert_int_equal(ed->part, PART_HASH);
    assert_int_equal(ed->key_index, 0);
    assert_int_equal(ed->nchan, 4);
    assert_int_equal(p.nchannels, 4);
    assert_int_equal(p.tasks[0].nout, 1);
    assert_int_equal(p.tasks[1].nin, 1);
    check_channels(&p);

    /* Schemas flowed: words (word:string), counts (word, count). */
    char sch[256];
    schema_format(&p.job->ops[op_named(&p, "words")].out_schema, sch, sizeof sch);
    assert_string_equal(sch, "word:string");
    schema_format(&p.job->ops[op_named(&p, "counts")].out_schema, sch, sizeof sch);
    assert_string_equal(sch, "word:string, count:i64");
    schema_format(&p.job->ops[local].out_schema, sch, sizeof sch);
    assert_string_equal(sch, "word:string, count:i64");
    assert_ptr_equal(p.job->ops[op_named(&p, "counts")].in_schema[0],
                     &p.job->ops[local].out_schema);

    /* plan_print names every task. */
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    plan_print(&p, f);
    fclose(f);
    has(out, "lines -> words -> counts/local");
    has(out, "counts -> out");
    has(out, "BATCH");
    free(out);
    plan_fini(&p);
    conf_destroy(c);
}

static void test_one_phase(void **state)
{
    (void)state;
    conf *c = conf_with("table.optimizer.agg-phase-strategy", "ONE_PHASE");
    plan p;
    plan_ok(&p, WORDCOUNT, c, 3, 0);
    char buf[256];
    assert_int_equal(p.job->nops, 4);
    assert_int_equal(op_named(&p, "counts/local"), -1);
    assert_int_equal(p.ntasks, 2);
    assert_string_equal(chain_of(&p, 0, buf, sizeof buf), "lines,words");
    assert_string_equal(chain_of(&p, 1, buf, sizeof buf), "counts,out");
    assert_int_equal(p.nedges, 1);
    assert_int_equal(p.edges[0].part, PART_HASH);
    assert_int_equal(p.edges[0].key_index, 0);
    assert_int_equal(p.edges[0].nchan, 9);
    assert_int_equal(p.nchannels, 9);
    check_channels(&p);
    plan_fini(&p);
    conf_destroy(c);
}

static void test_streaming_modes(void **state)
{
    (void)state;
    char buf[256];
    /* Unbounded source, AUTO: streaming, one phase. */
    conf *c = conf_new();
    plan p;
    plan_ok(&p, STREAMING, c, 2, 0);
    assert_int_equal(p.batch_mode, 0);
    assert_int_equal(op_named(&p, "sums/local"), -1);
    assert_string_equal(chain_of(&p, 0, buf, sizeof buf), "gen");
    assert_string_equal(chain_of(&p, 1, buf, sizeof buf), "sums,out");
    assert_int_equal(p.edges[0].key_index, 0);
    plan_fini(&p);
    conf_destroy(c);

    /* TWO_PHASE forces the local phase in streaming mode too. */
    c = conf_with("table.optimizer.agg-phase-strategy", "TWO_PHASE");
    plan_ok(&p, STREAMING, c, 2, 0);
    assert_int_equal(p.batch_mode, 0);
    assert_true(op_named(&p, "sums/local") >= 0);
    assert_string_equal(chain_of(&p, 0, buf, sizeof buf), "gen,sums/local");
    assert_int_equal(p.edges[0].key_index, 0);
    plan_fini(&p);
    conf_destroy(c);

    /* A bounded source run as STREAMING: no local phase under AUTO. */
    c = conf_with("execution.runtime-mode", "STREAMING");
    plan_ok(&p, WORDCOUNT, c, 2, 0);
    assert_int_equal(p.batch_mode, 0);
    assert_int_equal(op_named(&p, "counts/local"), -1);
    plan_fini(&p);
    conf_destroy(c);

    /* BATCH with an unbounded source is refused. */
    c = conf_with("execution.runtime-mode", "BATCH");
    mpf_err e;
    plan_fails(STREAMING, c, 2, 0, MPF_EPLAN, &e);
    has(e.msg, "unbounded");
    conf_destroy(c);

    /* The key's position after a value field: key_index follows the
     * input schema in ONE_PHASE and is 0 after the local phase. */
    const char *keyed_second =
        "name: k2\n"
        "operators:\n"
        "  - uid: gen\n"
        "    source: generator\n"
        "    number-of-rows: 10\n"
        "    fields: [{name: v, type: i64}, {name: k, type: string, cardinality: 3}]\n"
        "  - {uid: m, type: reduce, key-by: k, function: max, field: v}\n"
        "  - {uid: out, sink: blackhole}\n";
    c = conf_with("table.optimizer.agg-phase-strategy", "ONE_PHASE");
    plan_ok(&p, keyed_second, c, 1, 0);
    assert_int_equal(p.edges[0].key_index, 1);
    plan_fini(&p);
    conf_destroy(c);
    c = conf_new();
    plan_ok(&p, keyed_second, c, 1, 0);
    assert_true(op_named(&p, "m/local") >= 0);
    assert_int_equal(p.edges[0].key_index, 0);
    plan_fini(&p);
    conf_destroy(c);
}

static void test_key_by_folding(void **state)
{
    (void)state;
    const char *text =
        "name: kb\n"
        "operators:\n"
        "  - {uid: lines, source: file, path: builtin:sample}\n"
        "  - {uid: words, type: tokenize}\n"
        "  - {uid: by-word, type: key-by, key: word}\n"
        "  - {uid: counts, type: reduce, function: count}\n"
        "  - {uid: out, sink: stdout}\n";
    conf *c = conf_with("table.optimizer.agg-phase-strategy", "ONE_PHASE");
    plan p;
    plan_ok(&p, text, c, 2, 0);
    char buf[256];
    assert_int_equal(op_named(&p, "by-word"), -1);
    assert_int_equal(p.job->nops, 4);
    for (int i = 0; i < p.job->nops; i++) {
        assert_int_equal(p.job->ops[i].index, i);
        assert_string_not_equal(p.job->ops[i].kind->name, "key-by");
    }
    const op_spec *counts = &p.job->ops[op_named(&p, "counts")];
    assert_int_equal(counts->part, PART_HASH);
    assert_string_equal(counts->key_field, "word");
    assert_int_equal(counts->ninputs, 1);
    assert_string_equal(uid_at(&p, counts->inputs[0]), "words");
    assert_string_equal(chain_of(&p, 0, buf, sizeof buf), "lines,words");
    assert_string_equal(chain_of(&p, 1, buf, sizeof buf), "counts,out");
    assert_int_equal(p.edges[0].part, PART_HASH);
    plan_fini(&p);
    conf_destroy(c);

    /* One key-by feeding two consumers keys both; the source fans out. */
    const char *fan =
        "name: kb2\n"
        "operators:\n"
        "  - {uid: lines, source: file, path: builtin:sample}\n"
        "  - {uid: words, type: tokenize}\n"
        "  - {uid: by-word, type: key-by, key: word}\n"
        "  - {uid: c1, type: reduce, function: count}\n"
        "  - {uid: s1, sink: blackhole}\n"
        "  - {uid: c2, type: reduce, function: count, inputs: [by-word]}\n"
        "  - {uid: s2, sink: blackhole}\n";
    c = conf_with("table.optimizer.agg-phase-strategy", "ONE_PHASE");
    plan_ok(&p, fan, c, 2, 0);
    assert_int_equal(op_named(&p, "by-word"), -1);
    for (int k = 0; k < 2; k++) {
        const op_spec *r = &p.job->ops[op_named(&p, k ? "c2" : "c1")];
        assert_int_equal(r->part, PART_HASH);
        assert_string_equal(r->key_field, "word");
        assert_string_equal(uid_at(&p, r->inputs[0]), "words");
    }
    assert_int_equal(p.ntasks, 3);
    assert_int_equal(p.nedges, 2);
    assert_int_equal(p.nchannels, 8);
    check_channels(&p);
    plan_fini(&p);
    conf_destroy(c);

    /* key-by with nothing after it, or with a conflicting partition. */
    mpf_err e;
    const char *dangling =
        "name: kb3\n"
        "operators:\n"
        "  - {uid: lines, source: file, path: builtin:sample}\n"
        "  - {uid: by-line, type: key-by, key: line}\n";
    plan_fails(dangling, NULL, 1, 0, MPF_EJOB, &e);
    has(e.msg, "no consumer");
    has(e.msg, FILE_LABEL ":4:5");
    has(e.msg, "'by-line'");
    const char *conflict =
        "name: kb4\n"
        "operators:\n"
        "  - {uid: lines, source: file, path: builtin:sample}\n"
        "  - {uid: by-line, type: key-by, key: line}\n"
        "  - {uid: out, sink: blackhole, partition: rebalance}\n";
    plan_fails(conflict, NULL, 1, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":5:5");
    has(e.msg, "'out'");
}

static void test_channel_counts(void **state)
{
    (void)state;
    /* A source fanned out to two sinks: two FORWARD edges of p channels;
     * a third consumer at another parallelism: REBALANCE, p*q. */
    const char *text =
        "name: fan\n"
        "parallelism: 3\n"
        "operators:\n"
        "  - uid: gen\n"
        "    source: generator\n"
        "    number-of-rows: 100\n"
        "    fields: [{name: n, type: i64, kind: sequence}]\n"
        "  - {uid: a, sink: blackhole, inputs: [gen]}\n"
        "  - {uid: b, sink: blackhole, inputs: gen}\n"
        "  - {uid: c, sink: blackhole, inputs: [gen], parallelism: 2}\n"
        "  - {uid: d, sink: blackhole, inputs: [gen], key-by: n}\n";
    conf *c = conf_with("taskmanager.numberOfTaskSlots", "2");
    plan p;
    plan_ok(&p, text, c, 2, 0);
    assert_int_equal(p.ntasks, 5);
    assert_int_equal(p.nedges, 4);
    int forward = 0;
    for (int k = 0; k < p.nedges; k++) {
        const plan_edge *ed = &p.edges[k];
        const char *dst = uid_at(&p, ed->dst_op);
        assert_string_equal(uid_at(&p, ed->src_op), "gen");
        if (!strcmp(dst, "a") || !strcmp(dst, "b")) {
            assert_int_equal(ed->part, PART_FORWARD);
            assert_int_equal(ed->nchan, 3);
            forward++;
        } else if (!strcmp(dst, "c")) {
            assert_int_equal(ed->part, PART_REBALANCE);
            assert_int_equal(ed->nchan, 6);
        } else {
            assert_string_equal(dst, "d");
            assert_int_equal(ed->part, PART_HASH);
            assert_int_equal(ed->nchan, 9);
        }
    }
    assert_int_equal(forward, 2);
    assert_int_equal(p.nchannels, 3 + 3 + 6 + 9);
    check_channels(&p);
    /* plan_channel: forward s -> s; hash s*pd + d. */
    for (int k = 0; k < p.nedges; k++) {
        const plan_edge *ed = &p.edges[k];
        if (ed->part == PART_FORWARD) {
            assert_int_equal(plan_channel(ed, 2, 2, 3), ed->chan_base + 2);
        } else if (ed->part == PART_HASH) {
            assert_int_equal(plan_channel(ed, 1, 2, 3), ed->chan_base + 5);
            assert_int_equal(plan_channel(ed, 2, 0, 3), ed->chan_base + 6);
        }
    }
    plan_fini(&p);
    conf_destroy(c);

    /* HASH at p: p*p channels, for several p (-p on the command line). */
    for (int par = 1; par <= 6; par++) {
        c = conf_with("table.optimizer.agg-phase-strategy", "ONE_PHASE");
        plan_ok(&p, WORDCOUNT, c, par, par);
        assert_int_equal(p.nedges, 1);
        assert_int_equal(p.edges[0].nchan, par * par);
        assert_int_equal(p.nchannels, (uint32_t)(par * par));
        check_channels(&p);
        plan_fini(&p);
        conf_destroy(c);
    }

    /* A forward edge between tasks of different parallelism is an error. */
    const char *bad =
        "name: fwd\n"
        "operators:\n"
        "  - {uid: lines, source: file, path: builtin:sample, parallelism: 2}\n"
        "  - {uid: out, sink: blackhole, partition: forward, parallelism: 1}\n";
    mpf_err e;
    plan_fails(bad, NULL, 2, 0, MPF_EPLAN, &e);
    has(e.msg, FILE_LABEL ":4:5");
    has(e.msg, "'out'");
}

static void test_placement(void **state)
{
    (void)state;
    conf *c = conf_with("taskmanager.numberOfTaskSlots", "2");
    plan p;
    plan_ok(&p, WORDCOUNT, c, 3, 0);
    assert_int_equal(p.slots_per_tm, 2);
    assert_int_equal(p.nslots, 6);
    assert_int_equal(p.tasks[0].parallelism, 6); /* default: one per slot */
    int expect[] = {1, 1, 2, 2, 3, 3};
    for (int s = 0; s < 6; s++)
        assert_int_equal(plan_rank_of(&p, s), expect[s]);
    plan_fini(&p);
    conf_destroy(c);

    c = conf_new();
    plan_ok(&p, WORDCOUNT, c, 4, 0);
    for (int s = 0; s < 4; s++)
        assert_int_equal(plan_rank_of(&p, s), s + 1);
    plan_fini(&p);
    conf_destroy(c);

    /* parallelism.default and the job's parallelism: -p wins, then the
     * job, then the configuration. */
    c = conf_with("taskmanager.numberOfTaskSlots", "4");
    conf_put(c, "parallelism.default", "3");
    plan_ok(&p, WORDCOUNT, c, 2, 0);
    assert_int_equal(p.tasks[0].parallelism, 3);
    plan_fini(&p);
    plan_ok(&p, WORDCOUNT, c, 2, 5);
    assert_int_equal(p.tasks[0].parallelism, 5);
    plan_fini(&p);
    const char *with_par =
        "name: wp\n"
        "parallelism: 2\n"
        "operators:\n"
        "  - {uid: lines, source: file, path: builtin:sample}\n"
        "  - {uid: out, sink: blackhole, parallelism: 7}\n";
    plan_ok(&p, with_par, c, 2, 0);
    assert_int_equal(p.job->ops[op_named(&p, "lines")].parallelism, 2);
    assert_int_equal(p.job->ops[op_named(&p, "out")].parallelism, 7);
    assert_int_equal(p.ntasks, 2);
    assert_int_equal(p.edges[0].part, PART_REBALANCE);
    assert_int_equal(p.edges[0].nchan, 14);
    plan_fini(&p);
    conf_destroy(c);
}

static void test_not_enough_slots(void **state)
{
    (void)state;
    const char *text =
        "name: big\n"
        "operators:\n"
        "  - {uid: lines, source: file, path: builtin:sample}\n"
        "  - {uid: words, type: tokenize, parallelism: 5}\n"
        "  - {uid: out, sink: blackhole}\n";
    mpf_err e;
    plan_fails(text, NULL, 2, 0, MPF_ERESOURCE, &e);
    has(e.msg, FILE_LABEL ":4:5");
    has(e.msg, "'words'");
    has(e.msg, "parallelism 5");
    has(e.msg, "2 TaskManager(s) x 1 slot(s)");

    /* -p over the slots names the first operator. */
    plan_fails(WORDCOUNT, NULL, 2, 3, MPF_ERESOURCE, &e);
    has(e.msg, "'lines'");
    has(e.msg, FILE_LABEL ":3:5");

    /* More slots make it fit. */
    conf *c = conf_with("taskmanager.numberOfTaskSlots", "3");
    plan p;
    plan_ok(&p, text, c, 2, 0);
    plan_fini(&p);
    conf_destroy(c);

    /* Keyed parallelism beyond max-parallelism. */
    c = conf_with("pipeline.max-parallelism", "4");
    conf_put(c, "taskmanager.numberOfTaskSlots", "8");
    plan_fails(WORDCOUNT, c, 1, 5, MPF_EPLAN, &e);
    has(e.msg, "'counts'");
    has(e.msg, "max-parallelism 4");
    conf_destroy(c);
}

static void test_schema_errors(void **state)
{
    (void)state;
    mpf_err e;
    const char *missing =
        "name: m\n"
        "operators:\n"
        "  - {uid: lines, source: file, path: builtin:sample}\n"
        "  - {uid: words, type: tokenize}\n"
        "  - {uid: counts, type: reduce, key-by: wrod, function: count}\n"
        "  - {uid: out, sink: blackhole}\n";
    plan_fails(missing, NULL, 1, 0, MPF_ESCHEMA, &e);
    has(e.msg, FILE_LABEL ":5:5");
    has(e.msg, "operator 'counts'");
    has(e.msg, "'wrod'");
    has(e.msg, "did you mean 'word'");
    has(e.msg, "word:string");

    /* Through a key-by operator, the error names the consumer. */
    const char *kb =
        "name: m2\n"
        "operators:\n"
        "  - {uid: lines, source: file, path: builtin:sample}\n"
        "  - {uid: by, type: key-by, key: lien}\n"
        "  - {uid: counts, type: reduce, function: count}\n"
        "  - {uid: out, sink: blackhole}\n";
    plan_fails(kb, NULL, 1, 0, MPF_ESCHEMA, &e);
    has(e.msg, "'counts'");
    has(e.msg, "did you mean 'line'");
    has(e.msg, FILE_LABEL ":");

    /* Union of different schemas. */
    const char *uni =
        "name: u\n"
        "operators:\n"
        "  - uid: g1\n"
        "    source: generator\n"
        "    number-of-rows: 5\n"
        "    fields: [{name: k, type: string}, {name: v, type: i64}]\n"
        "  - uid: g2\n"
        "    source: generator\n"
        "    number-of-rows: 5\n"
        "    fields: [{name: k, type: string}, {name: v, type: f64}]\n"
        "  - {uid: all, type: union, inputs: [g1, g2]}\n"
        "  - {uid: out, sink: blackhole}\n";
    plan_fails(uni, NULL, 1, 0, MPF_ESCHEMA, &e);
    has(e.msg, FILE_LABEL ":11:5");
    has(e.msg, "'all'");
    has(e.msg, "v:i64");
    has(e.msg, "v:f64");

    /* The same union with equal schemas plans, and merges two inputs. */
    const char *uni_ok =
        "name: u2\n"
        "operators:\n"
        "  - {uid: g1, source: generator, number-of-rows: 5, fields: [{name: v, type: i64}]}\n"
        "  - {uid: g2, source: generator, number-of-rows: 5, fields: [{name: v, type: i64}]}\n"
        "  - {uid: all, type: union, inputs: [g1, g2]}\n"
        "  - {uid: out, sink: blackhole}\n";
    conf *c = conf_new();
    plan p;
    plan_ok(&p, uni_ok, c, 2, 0);
    char buf[128];
    assert_int_equal(p.ntasks, 3);
    assert_string_equal(chain_of(&p, 2, buf, sizeof buf), "all,out");
    assert_int_equal(p.tasks[2].nin, 2);
    assert_int_equal(p.nchannels, 4);
    for (int k = 0; k < p.nedges; k++)
        assert_int_equal(p.edges[k].dst_input, k);
    check_channels(&p);
    plan_fini(&p);
    conf_destroy(c);

    /* tokenize of a non-string field. */
    const char *tok =
        "name: t\n"
        "operators:\n"
        "  - {uid: g, source: generator, number-of-rows: 5, fields: [{name: v, type: i64}]}\n"
        "  - {uid: w, type: tokenize, field: v}\n"
        "  - {uid: out, sink: blackhole}\n";
    plan_fails(tok, NULL, 1, 0, MPF_ESCHEMA, &e);
    has(e.msg, FILE_LABEL ":4:5");
    has(e.msg, "'w'");
}

/* ------------------------------------------------------------ job parse */

static void test_job_basics(void **state)
{
    (void)state;
    job *j = parse_ok(WORDCOUNT, NULL, 0);
    assert_string_equal(j->name, "wc");
    assert_int_equal(j->parallelism, 0);
    assert_int_equal(j->nops, 4);
    assert_null(j->config);
    assert_int_equal(j->ops[0].kind->role, OP_SOURCE);
    assert_int_equal(j->ops[0].ninputs, 0);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(j->ops[i].index, i);
        assert_int_equal(j->ops[i].ninputs, 1);
        assert_int_equal(j->ops[i].inputs[0], i - 1); /* linear */
    }
    assert_int_equal(j->ops[2].part, PART_HASH);
    assert_string_equal(j->ops[2].key_field, "word");
    assert_int_equal(j->ops[3].kind->role, OP_SINK);
    job_destroy(j);
}

static void test_job_errors(void **state)
{
    (void)state;
    mpf_err e;
    /* Unknown kinds, with suggestions and the position of the value. */
    parse_fails("name: x\n"
                "operators:\n"
                "  - {uid: lines, source: file, path: builtin:sample}\n"
                "  - {uid: words, type: tokenise}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":4:24");
    has(e.msg, "'words'");
    has(e.msg, "unknown type 'tokenise'");
    has(e.msg, "did you mean 'tokenize'");
    parse_fails("name: x\n"
                "operators:\n"
                "  - {uid: lines, source: generatr, fields: [{name: a, type: i64}]}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":3:");
    has(e.msg, "did you mean 'generator'");
    parse_fails("name: x\n"
                "operators:\n"
                "  - {uid: lines, source: file, path: builtin:sample}\n"
                "  - {uid: out, sink: stdot}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, "did you mean 'stdout'");
    has(e.msg, FILE_LABEL ":4:");

    /* inputs: naming a later operator. */
    parse_fails("name: x\n"
                "operators:\n"
                "  - {uid: lines, source: file, path: builtin:sample}\n"
                "  - {uid: early, sink: blackhole, inputs: [words]}\n"
                "  - {uid: words, type: tokenize, inputs: [lines]}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":4:");
    has(e.msg, "'early'");
    has(e.msg, "'words'");
    has(e.msg, "defined before");
    /* ... itself, an unknown uid, a sink. */
    parse_fails("name: x\n"
                "operators:\n"
                "  - {uid: lines, source: file, path: builtin:sample}\n"
                "  - {uid: loop, type: tokenize, inputs: [loop]}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, "defined before");
    parse_fails("name: x\n"
                "operators:\n"
                "  - {uid: lines, source: file, path: builtin:sample}\n"
                "  - {uid: words, type: tokenize, inputs: [lnes]}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, "did you mean 'lines'");
    has(e.msg, FILE_LABEL ":4:");
    parse_fails("name: x\n"
                "operators:\n"
                "  - {uid: lines, source: file, path: builtin:sample}\n"
                "  - {uid: s, sink: blackhole}\n"
                "  - {uid: t, sink: blackhole, inputs: [s]}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, "is a sink");
    has(e.msg, FILE_LABEL ":5:");
    parse_fails("name: x\n"
                "operators:\n"
                "  - {uid: lines, source: file, path: builtin:sample}\n"
                "  - {uid: s, sink: blackhole}\n"
                "  - {uid: t, sink: blackhole}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, "follows sink 's'");
    has(e.msg, FILE_LABEL ":5:5");

    /* First operator not a source; source with inputs; two roles. */
    parse_fails("name: x\noperators:\n  - {uid: w, type: tokenize}\n", NULL, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":3:5");
    has(e.msg, "must be a source");
    parse_fails("name: x\noperators:\n  - {uid: a, source: file, path: builtin:sample}\n"
                "  - {uid: b, source: file, path: builtin:sample, inputs: [a]}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, "cannot have inputs");
    has(e.msg, FILE_LABEL ":4:");
    parse_fails("name: x\noperators:\n  - {uid: a, source: file, sink: stdout}\n", NULL, 0,
                MPF_EJOB, &e);
    has(e.msg, "use one");
    has(e.msg, FILE_LABEL ":3:5");
    /* Unknown option key with a suggestion. */
    parse_fails("name: x\noperators:\n  - {uid: a, source: file, pth: builtin:sample}\n", NULL,
                0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":3:28");
    has(e.msg, "did you mean 'path'");
    /* Bad partition / key combinations and parallelism. */
    parse_fails("name: x\noperators:\n  - {uid: a, source: file, path: p}\n"
                "  - {uid: b, sink: blackhole, partition: hash}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, "needs key-by");
    has(e.msg, FILE_LABEL ":4:");
    parse_fails("name: x\noperators:\n  - {uid: a, source: file, path: p, parallelism: -1}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":3:");
    parse_fails("name: x\nparallelism: 40000\noperators:\n  - {uid: a, source: file, path: p}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":2:");
    /* No operators; not a map; unknown top-level key. */
    parse_fails("name: x\noperators: []\n", NULL, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":2:");
    parse_fails("- a\n- b\n", NULL, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":1:1");
    parse_fails("name: x\noperator: []\n", NULL, 0, MPF_EJOB, &e);
    has(e.msg, "did you mean 'operators'");
    has(e.msg, FILE_LABEL ":2:1");
}

/* plan.h: "Errors name the operator uid and position." The BATCH check
 * should say which source is unbounded, and where it is. */
static void test_batch_unbounded_names_source(void **state)
{
    (void)state;
    conf *c = conf_with("execution.runtime-mode", "BATCH");
    mpf_err e;
    plan_fails(STREAMING, c, 1, 0, MPF_EPLAN, &e);
    conf_destroy(c);
    has(e.msg, "unbounded");
    has(e.msg, "'gen'");
    has(e.msg, FILE_LABEL ":3:5");
}

/* The duplicate's message points at both operators. */
static void test_duplicate_uid(void **state)
{
    (void)state;
    mpf_err e;
    parse_fails("name: x\n"
                "operators:\n"
                "  - {uid: lines, source: file, path: builtin:sample}\n"
                "  - {uid: words, type: tokenize}\n"
                "  - {uid: lines, sink: blackhole}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, "duplicate operator uid 'lines'");
    has(e.msg, FILE_LABEL ":5:11"); /* the second uid value */
    has(e.msg, "first at " FILE_LABEL ":3:5"); /* the first operator */
}

/* ---------------------------------------------------------- parameters */

static const char *const PARAM_JOB =
    "name: pj\n"
    "parameters:\n"
    "  input:\n"
    "    default: builtin:sample\n"
    "    description: text to count\n"
    "  rows: \"25\"\n"
    "  tag: {default: t}\n"
    "operators:\n"
    "  - {uid: lines, source: file, path: \"${input}\"}\n"
    "  - uid: gen\n"
    "    source: generator\n"
    "    number-of-rows: ${rows}\n"
    "    fields: [{name: k, type: string, prefix: \"p-${tag}-$${kept}\"}]\n"
    "  - {uid: out, sink: blackhole, inputs: [lines]}\n"
    "  - {uid: out2, sink: blackhole, inputs: [gen]}\n";

static const char *op_str(const job *j, int op, const char *key)
{
    const char *v = NULL;
    mpf_err e;
    assert_int_equal(ynode_get_str(j->ops[op].node, key, 1, &v, &e), 0);
    return v;
}

static void test_params_defaults_and_cli(void **state)
{
    (void)state;
    job *j = parse_ok(PARAM_JOB, NULL, 0);
    assert_int_equal(j->nparams, 3);
    assert_string_equal(j->params[0].name, "input");
    assert_string_equal(j->params[0].value, "builtin:sample");
    assert_string_equal(j->params[0].description, "text to count");
    assert_string_equal(op_str(j, 0, "path"), "builtin:sample");
    assert_string_equal(op_str(j, 1, "number-of-rows"), "25");
    const ynode *f0 = ynode_get(j->ops[1].node, "fields")->items[0];
    assert_string_equal(ynode_get(f0, "prefix")->str, "p-t-${kept}");
    /* A substituted number still reads as a number, and plans. */
    conf *c = conf_new();
    plan p;
    mpf_err e = {0};
    assert_int_equal(plan_build(&p, j, c, 1, 0, &e), 0);
    assert_int_equal(p.batch_mode, 1); /* number-of-rows bounded the generator */
    plan_fini(&p);
    conf_destroy(c);

    /* CLI values override the defaults; a bare name means "true". */
    char *cli[] = {"input=builtin:sample", "rows=7", "tag"};
    j = parse_ok(PARAM_JOB, cli, 3);
    assert_string_equal(op_str(j, 1, "number-of-rows"), "7");
    f0 = ynode_get(j->ops[1].node, "fields")->items[0];
    assert_string_equal(ynode_get(f0, "prefix")->str, "p-true-${kept}");
    job_destroy(j);

    char *cli2[] = {"input=/data/x=y.txt", "input=builtin:other"};
    j = parse_ok(PARAM_JOB, cli2, 1);
    assert_string_equal(op_str(j, 0, "path"), "/data/x=y.txt");
    job_destroy(j);
    j = parse_ok(PARAM_JOB, cli2, 2); /* the last one wins */
    assert_string_equal(op_str(j, 0, "path"), "builtin:other");
    job_destroy(j);

    /* A parameter without a default must come from the CLI. */
    const char *nodef =
        "name: nd\n"
        "parameters:\n"
        "  input: {description: where}\n"
        "operators:\n"
        "  - {uid: lines, source: file, path: \"${input}\"}\n";
    mpf_err e2;
    parse_fails(nodef, NULL, 0, MPF_EJOB, &e2);
    has(e2.msg, FILE_LABEL ":3:3");
    has(e2.msg, "--input");
    char *given[] = {"input=builtin:sample"};
    j = parse_ok(nodef, given, 1);
    assert_string_equal(op_str(j, 0, "path"), "builtin:sample");
    job_destroy(j);

    /* Substitution also reaches config: and the job name is not special. */
    const char *cfg =
        "name: cf\n"
        "parameters: {slots: \"4\"}\n"
        "config: {taskmanager.numberOfTaskSlots: \"${slots}\"}\n"
        "operators:\n"
        "  - {uid: lines, source: file, path: builtin:sample}\n";
    j = parse_ok(cfg, NULL, 0);
    assert_non_null(j->config);
    assert_string_equal(ynode_get(j->config, "taskmanager.numberOfTaskSlots")->str, "4");
    job_destroy(j);
}

/* Issue 9: the job name is a value like any other, so ${param} in it is
 * substituted (it names checkpoint directories and the discovery file). */
static void test_name_substituted(void **state)
{
    (void)state;
    const char *text =
        "name: \"wc-${run}\"\n"
        "parameters: {run: {default: \"7\"}}\n"
        "operators:\n"
        "  - {uid: lines, source: file, path: builtin:sample}\n"
        "  - {uid: out, sink: blackhole}\n";
    job *j = parse_ok(text, NULL, 0);
    assert_string_equal(j->name, "wc-7");
    job_destroy(j);
    char *cli[] = {"run=nightly"};
    j = parse_ok(text, cli, 1);
    assert_string_equal(j->name, "wc-nightly");
    job_destroy(j);
}

/* Issue 9: an error about a place in the job file starts with
 * FILE:line:col:, also when an operator adds its uid in front. */
static void test_located_errors_start_with_position(void **state)
{
    (void)state;
    static const struct {
        const char *ops, *want;
    } cases[] = {
        {"  - {uid: s, source: file, path: builtin:sample, format: xml}\n",
         FILE_LABEL ":3:58: operator 's': format must be lines or csv, got 'xml'"},
        {"  - {uid: s, source: file, path: builtin:sample}\n"
         "  - {uid: k, type: key-by}\n"
         "  - {uid: o, sink: blackhole}\n",
         FILE_LABEL ":4:5: operator 'k': missing required key 'key'"},
        {"  - {uid: s, source: file, path: builtin:sample}\n"
         "  - {uid: o, sink: file}\n",
         FILE_LABEL ":4:5: operator 'o': missing required key 'path'"},
        {"  - {uid: s, source: file, path: builtin:sample}\n"
         "  - {uid: r, type: reduce, key-by: line, function: sum}\n"
         "  - {uid: o, sink: blackhole}\n",
         FILE_LABEL ":4:5: operator 'r': function sum needs field: NAME"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "name: x\noperators:\n%s", cases[i].ops);
        plan p;
        mpf_err e;
        conf *c = conf_new();
        job *j = parse_ok(text, NULL, 0);
        memset(&e, 0, sizeof e);
        if (plan_build(&p, j, c, 1, 0, &e) == 0)
            fail_msg("case %zu planned", i);
        assert_string_equal(e.msg, cases[i].want);
        conf_destroy(c);
    }
    /* A message that already starts with its position is left alone. */
    mpf_err e = {MPF_EJOB, "t.yaml:3:4: operator 'x': also t.yaml:5:6: here"};
    ydoc_err_location_first(&e, FILE_LABEL);
    assert_string_equal(e.msg, "t.yaml:3:4: operator 'x': also t.yaml:5:6: here");
    mpf_err e2 = {MPF_EJOB, "operator 'x' watermark: t.yaml:12:345: bad"};
    ydoc_err_location_first(&e2, FILE_LABEL);
    assert_string_equal(e2.msg, "t.yaml:12:345: operator 'x' watermark: bad");
    mpf_err e3 = {MPF_EJOB, "operator 'x': t.yaml:12: a data line"};
    ydoc_err_location_first(&e3, FILE_LABEL);
    assert_string_equal(e3.msg, "operator 'x': t.yaml:12: a data line");
}

/* Issue 9: a job without a sink plans (it may be a benchmark of its
 * sources) but carries a warning naming the job and where to add one. */
static void test_no_sink_warns(void **state)
{
    (void)state;
    conf *c = conf_new();
    plan p;
    plan_ok(&p,
            "name: nosink\n"
            "operators:\n"
            "  - {uid: lines, source: file, path: builtin:sample}\n"
            "  - {uid: words, type: tokenize}\n",
            c, 1, 0);
    assert_int_equal(p.nwarnings, 1);
    has(p.warnings[0], FILE_LABEL ":3:3: job 'nosink' has no sink");
    plan_fini(&p);
    plan_ok(&p, WORDCOUNT, c, 1, 0);
    assert_int_equal(p.nwarnings, 0);
    plan_fini(&p);
    conf_destroy(c);
}

static void test_params_errors(void **state)
{
    (void)state;
    mpf_err e;
    /* Undeclared ${x}: position of the scalar and a suggestion. */
    parse_fails("name: pe\n"
                "parameters: {input: builtin:sample}\n"
                "operators:\n"
                "  - {uid: lines, source: file, path: \"${inptu}\"}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":4:38");
    has(e.msg, "undeclared job parameter '${inptu}'");
    has(e.msg, "did you mean 'input'");
    /* No parameters at all. */
    parse_fails("name: pe\n"
                "operators:\n"
                "  - {uid: lines, source: file, path: \"${x}\"}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":3:");
    has(e.msg, "'${x}'");
    has(e.msg, "declare it under parameters");
    /* Unterminated. */
    parse_fails("name: pe\n"
                "parameters: {x: a}\n"
                "operators:\n"
                "  - {uid: lines, source: file, path: \"${x\"}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":4:");
    has(e.msg, "unterminated");

    /* Unknown CLI parameter: suggestion and the declared list. */
    char *cli[] = {"inptu=foo"};
    parse_fails(PARAM_JOB, cli, 1, MPF_EJOB, &e);
    has(e.msg, "unknown job parameter '--inptu'");
    has(e.msg, "did you mean '--input'");
    has(e.msg, "--input, --rows, --tag");
    has(e.msg, "'pj'");
    char *cli2[] = {"zzzzzzzz=1"};
    parse_fails(PARAM_JOB, cli2, 1, MPF_EJOB, &e);
    has(e.msg, "'--zzzzzzzz'");
    has(e.msg, "--input, --rows, --tag");
    assert_null(strstr(e.msg, "did you mean"));
    parse_fails("name: none\noperators:\n  - {uid: a, source: file, path: p}\n", cli2, 1,
                MPF_EJOB, &e);
    has(e.msg, "declares: none");

    /* parameters: must be a map; a parameter a value or a map. */
    parse_fails("name: pe\nparameters: [a]\noperators:\n  - {uid: a, source: file, path: p}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":2:13");
    parse_fails("name: pe\nparameters: {a: [1]}\noperators:\n  - {uid: a, source: file, path: p}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, FILE_LABEL ":2:");
    has(e.msg, "'a'");
    parse_fails("name: pe\nparameters: {a: {defualt: 1}}\n"
                "operators:\n  - {uid: a, source: file, path: p}\n",
                NULL, 0, MPF_EJOB, &e);
    has(e.msg, "did you mean 'default'");
    has(e.msg, FILE_LABEL ":2:");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wordcount_two_phase),
        cmocka_unit_test(test_one_phase),
        cmocka_unit_test(test_streaming_modes),
        cmocka_unit_test(test_key_by_folding),
        cmocka_unit_test(test_channel_counts),
        cmocka_unit_test(test_placement),
        cmocka_unit_test(test_not_enough_slots),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_job_basics),
        cmocka_unit_test(test_job_errors),
        cmocka_unit_test(test_batch_unbounded_names_source),
        cmocka_unit_test(test_duplicate_uid),
        cmocka_unit_test(test_params_defaults_and_cli),
        cmocka_unit_test(test_params_errors),
        cmocka_unit_test(test_name_substituted),
        cmocka_unit_test(test_located_errors_start_with_position),
        cmocka_unit_test(test_no_sink_warns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
