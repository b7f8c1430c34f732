/* Unit tests for the checkpoint hooks of the joins, the plugin operator
 * and the file source (ops layer), driven through their op_kind
 * functions: a snapshot taken mid-stream and restored into a fresh
 * instance -- or into two subtasks of a job with parallelism 2, key
 * groups redistributed -- continues to the same output as an
 * uninterrupted run; every truncation and every single-byte corruption of
 * each blob restores without a crash, either to some valid state or
 * failing with an error that names the operator, and a blob cut short by
 * one byte always fails (nothing is read outside the blob: run under
 * valgrind or ASan to see that); states restored before a plugin
 * declares them are adopted by name; a file source refuses a position
 * in changed input; the socket source is refused with checkpointing on,
 * saying why; and the file sink never replaces a committed file, commits
 * restored staged parts where they were written and keeps part names
 * unique across rescalings (test_file_sink). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "conf/props.h"
#include "ops/op.h"
#include "plugin/plugin_state.h"
#include "plan/job.h"
#include "plan/plan.h"
#include "record/keygroup.h"
#include "record/segpool.h"
#include "runtime/snapshot.h"
#include "capture.h"

/* ------------------------------------------------------------ harness */

/* Output rows as text, one string per record. */
/* The rows of several captures, sorted, one per line. */
static char *rows_text(capture *const *cps, int n)
{
    size_t total = 0, len = 1;
    for (int k = 0; k < n; k++)
        total += cps[k]->n;
    char **all = calloc(total + 1, sizeof *all);
    size_t m = 0;
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < cps[k]->n; i++) {
            all[m++] = cps[k]->rows[i];
            len += strlen(cps[k]->rows[i]) + 1;
        }
    qsort(all, m, sizeof *all, cmp_str);
    char *s = calloc(1, len), *p = s;
    for (size_t i = 0; i < m; i++) {
        size_t l = strlen(all[i]);
        memcpy(p, all[i], l);
        p[l] = '\n';
        p += l + 1;
    }
    free(all);
    return s;
}

/* A planned job and the operator under test (uid j). */
typedef struct hplan {
    conf *c;
    plan p;
    op_spec *spec;
} hplan;

static void hp_build(hplan *h, const char *text, int parallelism)
{
    memset(h, 0, sizeof *h);
    job *j = NULL;
    mpf_err e = {0};
    if (job_parse("t.yaml", text, strlen(text), NULL, 0, &j, &e))
        fail_msg("job_parse: %s", e.msg);
    h->c = conf_new();
    if (conf_set_kv(h->c, "execution.checkpointing.interval=1s", &e))
        fail_msg("conf: %s", e.msg);
    if (plan_build(&h->p, j, h->c, 2, parallelism, &e))
        fail_msg("plan_build: %s", e.msg);
    for (int i = 0; i < h->p.job->nops; i++)
        if (strcmp(h->p.job->ops[i].uid, "j") == 0)
            h->spec = &h->p.job->ops[i];
    assert_non_null(h->spec);
    assert_int_equal(h->spec->parallelism, parallelism);
}

static void hp_fini(hplan *h)
{
    plan_fini(&h->p);
    conf_destroy(h->c);
}

/* One subtask of the operator under test. */
typedef struct inst {
    op_inst oi;
    capture cap;
} inst;

static void inst_open(const hplan *h, inst *in, int subtask)
{
    memset(in, 0, sizeof *in);
    in->cap.c.emit = cap_emit;
    in->cap.sch = &h->spec->out_schema;
    in->oi.spec = h->spec;
    in->oi.subtask = subtask;
    in->oi.conf = h->c;
    in->oi.out = &in->cap.c;
    in->oi.watermark = WM_MIN;
    in->oi.proc_timer = INT64_MAX;
    mpf_err e = {0};
    if (h->spec->kind->open(&in->oi, &e))
        fail_msg("open: %s", e.msg);
}

static void inst_close(inst *in)
{
    in->oi.spec->kind->close(&in->oi);
    cap_fini(&in->cap);
}

/* An input event: a record (fields filled by type: the first string is
 * key, the second cat; timestamps ts; i64 v; f64 amount) or a watermark. */
typedef struct ev {
    int wm, input;
    char key[16], cat[16];
    int64_t ts, v;
    double amount;
} ev;

static void build_rec(const schema *s, const ev *x, recbuf *rb)
{
    int nstr = 0;
    recbuf_begin(rb);
    for (int i = 0; i < s->n; i++) {
        switch (s->f[i].type) {
        case FT_STRING: {
            const char *str = nstr++ ? x->cat : x->key;
            recbuf_str(rb, str, (uint32_t)strlen(str));
            break;
        }
        case FT_TIMESTAMP:
            recbuf_i64(rb, x->ts);
            break;
        case FT_I64:
            recbuf_i64(rb, x->v);
            break;
        case FT_F64:
            recbuf_f64(rb, x->amount);
            break;
        case FT_BOOL:
            recbuf_bool(rb, 0);
            break;
        }
    }
    recbuf_end(rb);
}

static void advance(inst *in, int64_t wm)
{
    in->oi.watermark = wm;
    if (!in->oi.spec->kind->on_watermark)
        return;
    int rc;
    mpf_err e = {0};
    do
        rc = in->oi.spec->kind->on_watermark(&in->oi, wm, &e);
    while (rc == MPF_EAGAIN);
    if (rc)
        fail_msg("on_watermark: %s", e.msg);
}

/* Run events [from, to) on n subtasks, records routed by key group as
 * the planner's hash partitioning does; end: then the final watermark. */
static void run_events(inst *ins, int n, const ev *evs, int from, int to, int end)
{
    static uint8_t seg[1 << 16];
    recbuf rb;
    recbuf_init(&rb);
    const op_spec *s = ins[0].oi.spec;
    for (int i = from; i < to; i++) {
        const ev *x = &evs[i];
        if (x->wm) {
            for (int k = 0; k < n; k++)
                advance(&ins[k], x->ts);
            continue;
        }
        const schema *in = s->in_schema[x->input];
        build_rec(in, x, &rb);
        uint32_t klen;
        const uint8_t *key = rec_key(in, rb.p, s->key_indices ? s->key_indices[x->input] : 0,
                                     &klen);
        int kg = keygroup_of(key_hash(key, klen), s->max_parallelism);
        int sub = keygroup_subtask(kg, s->max_parallelism, n);
        batch_reset(seg, BATCH_DATA);
        assert_int_equal(batch_append(seg, sizeof seg, rb.p, rb.len), 0);
        mpf_err e = {0};
        if (s->kind->process(&ins[sub].oi, x->input, seg, &e))
            fail_msg("process: %s", e.msg);
    }
    recbuf_fini(&rb);
    for (int k = 0; end && k < n; k++)
        advance(&ins[k], WM_MAX);
}

static void snap_take(inst *in, snap_writer *w)
{
    snapw_init(w, 7);
    w->uid = in->oi.spec->uid;
    w->subtask = in->oi.subtask;
    mpf_err e = {0};
    if (in->oi.spec->kind->snapshot(&in->oi, w, &e) || snapw_run_deferred(w, &e))
        fail_msg("snapshot: %s", e.msg);
}

static int give(inst *in, const snap_entry *en, const uint8_t *data, size_t len, mpf_err *e)
{
    snap_blob b = {en->kind, en->key_group, en->subtask, data, len};
    memset(e, 0, sizeof *e);
    return in->oi.spec->kind->restore(&in->oi, &b, e);
}

/* Hand in the blobs of w that belong to its subtask, as the TaskManager
 * does: keyed ones of its key-group range, operator ones of old subtasks
 * s with s mod parallelism = its subtask. */
static void restore_all(inst *in, const snap_writer *w)
{
    const op_spec *s = in->oi.spec;
    keygroup_range r = keygroup_range_of(in->oi.subtask, s->max_parallelism, s->parallelism);
    for (size_t i = 0; i < w->n; i++) {
        const snap_entry *en = &w->v[i];
        if (en->kind == SNAP_KEYED ? en->key_group < r.start || en->key_group > r.end
                                   : en->subtask % s->parallelism != in->oi.subtask)
            continue;
        mpf_err e;
        if (give(in, en, en->data, en->len, &e))
            fail_msg("restore: %s", e.msg);
    }
}

/* Every truncation and every single-byte corruption of every blob of w,
 * restored into a fresh subtask (parallelism 1: every key group is its
 * own): 0 or an error naming operator 'j'; cutting off the last byte is
 * always an error. The damaged blob is a copy of exactly its length, so
 * a read past it is caught by valgrind or ASan. */
static void damage_all(const hplan *h, const snap_writer *w, int *errors)
{
    for (size_t i = 0; i < w->n; i++) {
        const snap_entry *en = &w->v[i];
        for (size_t pass = 0; pass < 2; pass++) {
            for (size_t k = 0; k < en->len; k++) {
                size_t len = pass == 0 ? k : en->len;
                uint8_t *copy = malloc(len ? len : 1);
                memcpy(copy, en->data, len);
                if (pass == 1)
                    copy[k] ^= (uint8_t)(0x5a + k % 7);
                inst in;
                inst_open(h, &in, 0);
                mpf_err e;
                int rc = give(&in, en, copy, len, &e);
                if (rc) {
                    (*errors)++;
                    if (!strstr(e.msg, "'j'"))
                        fail_msg("error without the uid: %s", e.msg);
                } else if (pass == 0 && k == en->len - 1) {
                    fail_msg("blob %zu (%zu bytes) cut by one byte restored without an error",
                             i, en->len);
                }
                inst_close(&in);
                free(copy);
            }
        }
    }
}

/* Snapshot after `split` of the events, restore into parallelism 1 and
 * into parallelism 2, and compare with the uninterrupted run; then damage
 * every blob. */
static void round_trip(const char *job1, const char *job2, const ev *evs, int nev, int split)
{
    hplan h1, h2;
    hp_build(&h1, job1, 1);
    hp_build(&h2, job2, 2);
    /* uninterrupted */
    inst full;
    inst_open(&h1, &full, 0);
    run_events(&full, 1, evs, 0, nev, 1);
    capture *fc[] = {&full.cap};
    char *want = rows_text(fc, 1);
    assert_true(full.cap.n > 20);
    /* up to the snapshot */
    inst pre;
    inst_open(&h1, &pre, 0);
    run_events(&pre, 1, evs, 0, split, 0);
    snap_writer w;
    snap_take(&pre, &w);
    assert_true(w.n > 0);
    for (int p = 1; p <= 2; p++) {
        const hplan *h = p == 1 ? &h1 : &h2;
        inst post[2];
        for (int k = 0; k < p; k++) {
            inst_open(h, &post[k], k);
            restore_all(&post[k], &w);
        }
        run_events(post, p, evs, split, nev, 1);
        capture *cs[] = {&pre.cap, &post[0].cap, &post[1].cap};
        char *got = rows_text(cs, 1 + p);
        if (strcmp(got, want) != 0)
            fail_msg("after a restore at parallelism %d the output differs\n--- expected\n%s"
                     "--- got\n%s", p, want, got);
        free(got);
        for (int k = 0; k < p; k++)
            inst_close(&post[k]);
    }
    int errors = 0;
    damage_all(&h1, &w, &errors);
    assert_true(errors > 0);
    snapw_fini(&w);
    inst_close(&pre);
    inst_close(&full);
    free(want);
    hp_fini(&h1);
    hp_fini(&h2);
}

/* ------------------------------------------------------------ joins */

#define JOIN_SOURCES                                                                          \
    "name: t\n"                                                                               \
    "operators:\n"                                                                            \
    "  - {uid: L, source: generator, number-of-rows: 1, fields: [{name: k, type: string},"    \
    " {name: ts, type: timestamp, kind: event-time}, {name: v, type: i64}],"                  \
    " watermark: {field: ts}}\n"                                                              \
    "  - {uid: R, source: generator, number-of-rows: 1, fields: [{name: k, type: string},"    \
    " {name: ts, type: timestamp, kind: event-time}, {name: w, type: i64}],"                  \
    " watermark: {field: ts}}\n"

/* Records on both inputs, 8 keys, event time ~3 ms per record with a
 * jitter below the watermark delay of 40 ms (nothing is late); a
 * watermark every 16 records. */
static int join_events(ev *evs, int max)
{
    uint64_t z = 12345;
    int n = 0;
    int64_t hi = 0;
    for (int i = 0; n < max - 2; i++) {
        z = z * 6364136223846793005ULL + 1442695040888963407ULL;
        ev *x = &evs[n++];
        memset(x, 0, sizeof *x);
        x->input = (int)((z >> 33) & 1);
        snprintf(x->key, sizeof x->key, "k%d", (int)((z >> 40) % 8));
        x->ts = i * 3 - (int64_t)((z >> 20) % 30);
        x->v = (int64_t)((z >> 12) % 1000);
        if (x->ts > hi)
            hi = x->ts;
        if (i % 16 == 15) {
            ev *m = &evs[n++];
            memset(m, 0, sizeof *m);
            m->wm = 1;
            m->ts = hi - 40;
        }
    }
    return n;
}

static void join_case(const char *op)
{
    char text[8192];
    snprintf(text, sizeof text, JOIN_SOURCES "  - %s\n  - {uid: out, sink: blackhole}\n", op);
    static ev evs[400];
    int n = join_events(evs, 400);
    round_trip(text, text, evs, n, n / 2);
}

static void test_regular_join(void **state)
{
    (void)state;
    join_case("{uid: j, type: join, inputs: [L, R], key-by: [k, k]}");
    join_case("{uid: j, type: join, inputs: [L, R], key-by: [k, k], retention: 1h}");
}

static void test_interval_join(void **state)
{
    (void)state;
    join_case("{uid: j, type: interval-join, inputs: [L, R], key-by: [k, k], lower-bound: -20ms,"
              " upper-bound: 10ms}");
}

static void test_window_join(void **state)
{
    (void)state;
    join_case("{uid: j, type: window-join, inputs: [L, R], key-by: [k, k], window: {type: "
              "tumbling, size: 40ms}}");
    join_case("{uid: j, type: window-join, inputs: [L, R], key-by: [k, k], window: {type: "
              "sliding, size: 60ms, slide: 20ms}}");
    join_case("{uid: j, type: window-join, inputs: [L, R], key-by: [k, k], window: {type: "
              "session, gap: 8ms}}");
}

/* A window-join blob is not a session-join blob, nor keyed state of
 * another key group. */
static void test_join_blob_mismatch(void **state)
{
    (void)state;
    char text[8192];
    snprintf(text, sizeof text, JOIN_SOURCES "  - {uid: j, type: window-join, inputs: [L, R], "
             "key-by: [k, k], window: {type: tumbling, size: 40ms}}\n"
             "  - {uid: out, sink: blackhole}\n");
    char stext[8192];
    snprintf(stext, sizeof stext, JOIN_SOURCES "  - {uid: j, type: window-join, inputs: [L, R], "
             "key-by: [k, k], window: {type: session, gap: 8ms}}\n"
             "  - {uid: out, sink: blackhole}\n");
    static ev evs[200];
    int n = join_events(evs, 200);
    hplan h, hs;
    hp_build(&h, text, 1);
    hp_build(&hs, stext, 1);
    inst a;
    inst_open(&h, &a, 0);
    run_events(&a, 1, evs, 0, n / 2, 0);
    snap_writer w;
    snap_take(&a, &w);
    assert_true(w.n > 0);
    inst b;
    inst_open(&hs, &b, 0);
    mpf_err e;
    assert_int_not_equal(give(&b, &w.v[0], w.v[0].data, w.v[0].len, &e), 0);
    assert_non_null(strstr(e.msg, "operator 'j'"));
    assert_non_null(strstr(e.msg, "session"));
    inst_close(&b);
    inst_open(&h, &b, 0);
    snap_entry other = w.v[0];
    other.key_group = (other.key_group + 1) % h.spec->max_parallelism;
    assert_int_not_equal(give(&b, &other, other.data, other.len, &e), 0);
    assert_non_null(strstr(e.msg, "another key group"));
    inst_close(&b);
    snapw_fini(&w);
    inst_close(&a);
    hp_fini(&h);
    hp_fini(&hs);
}

/* ------------------------------------------------------------ plugins */

/* build/plugins/sessions.so, next to this test's directory; NULL when
 * the example plugins were not built. */
static const char *sessions_plugin(void)
{
    static char path[PATH_MAX + 32];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = 0;
    snprintf(path, sizeof path, "%s/../plugins/sessions.so", exe);
    return access(path, R_OK) == 0 ? path : NULL;
}

/* Transactions of 10 accounts in event-time order, a watermark after
 * each; the sessions plugin keeps value, list, map and reducing state and
 * an event-time timer per account. */
static void test_plugin_sessions(void **state)
{
    (void)state;
    const char *so = sessions_plugin();
    if (!so)
        skip();
    char text[8192];
    snprintf(text, sizeof text,
             "name: t\n"
             "operators:\n"
             "  - {uid: tx, source: generator, number-of-rows: 1, fields: [{name: account, "
             "type: string, kind: random, cardinality: 3}, {name: ts, type: timestamp, kind: "
             "event-time}, {name: amount, type: f64, kind: random}, {name: category, type: "
             "string, kind: random, cardinality: 3}], watermark: {field: ts}}\n"
             "  - {uid: j, type: plugin, plugin: \"%s\", function: sessions, key-by: account,"
             " args: {gap: \"60000\", value: amount, category: category, key-as: account},"
             " output: [{name: account, type: string}, {name: start, type: timestamp},"
             " {name: end, type: timestamp}, {name: count, type: i64}, {name: total, type: f64},"
             " {name: max, type: f64}, {name: categories, type: i64},"
             " {name: top_category, type: string}]}\n"
             "  - {uid: out, sink: blackhole}\n",
             so);
    static ev evs[600];
    static const char *const cats[] = {"food", "fuel", "travel", "books"};
    static const int64_t steps[] = {1000, 3000, 7000, 15000, 30000};
    uint64_t z = 99;
    int64_t ts = 1704067200000;
    int n = 0;
    while (n < 600) {
        z = z * 6364136223846793005ULL + 1442695040888963407ULL;
        ev *x = &evs[n++];
        memset(x, 0, sizeof *x);
        ts += steps[(z >> 30) % 5];
        x->ts = ts;
        snprintf(x->key, sizeof x->key, "a%d", (int)((z >> 40) % 10));
        snprintf(x->cat, sizeof x->cat, "%s", cats[(z >> 50) % 4]);
        x->amount = (double)((z >> 10) % 100000) / 100.0;
        ev *m = &evs[n++];
        memset(m, 0, sizeof *m);
        m->wm = 1;
        m->ts = ts;
    }
    round_trip(text, text, evs, n, n / 2 + 1);
}

/* States are matched by name: one restored before the plugin declares it
 * waits (pending, no handle) and is adopted by a declaration of the same
 * kind; a different kind is refused. */
static void test_plugin_state_by_name(void **state)
{
    (void)state;
    keygroup_range all = {0, 127};
    plugin_state a;
    plugin_state_init(&a, all, 128);
    int sv = plugin_state_declare(&a, "seen", MPF_VALUE_STATE, 0, NULL);
    int sl = plugin_state_declare(&a, "items", MPF_LIST_STATE, 0, NULL);
    int sm = plugin_state_declare(&a, "props", MPF_MAP_STATE, 0, NULL);
    pstate_scope sc;
    int kg;
    assert_int_equal(plugin_state_scope(&a, "key", 3, &sc, &kg), 0);
    plugin_state_value_set(&a, &sc, sv, "yes", 3);
    plugin_state_list_add(&a, &sc, sl, "one", 3);
    plugin_state_list_add(&a, &sc, sl, "two", 3);
    plugin_state_map_put(&a, &sc, sm, "b", 1, "2", 1);
    plugin_state_map_put(&a, &sc, sm, "a", 1, "1", 1);
    recbuf b;
    recbuf_init(&b);
    b.len = 0;
    plugin_state_write_decls(a.decl, a.ndecl, &b);
    plugin_state_write_entries(sc.ks, a.decl, a.ndecl, &b);
    snap_blob sb = {SNAP_KEYED, kg, 0, b.p, b.len};

    /* Restored into a state that declares "props" only, as list: refused. */
    plugin_state c;
    plugin_state_init(&c, all, 128);
    plugin_state_declare(&c, "props", MPF_LIST_STATE, 0, NULL);
    blobrd r;
    blobrd_init(&r, &sb);
    int *map, nmap;
    char why[512];
    assert_int_equal(plugin_state_read_decls(&c, &r, &map, &nmap, why, sizeof why), -1);
    assert_non_null(strstr(why, "'props' was map state and is declared as list state"));
    plugin_state_fini(&c);

    /* Restored first, declared afterwards (in another order). */
    plugin_state_init(&c, all, 128);
    blobrd_init(&r, &sb);
    assert_int_equal(plugin_state_read_decls(&c, &r, &map, &nmap, why, sizeof why), 0);
    assert_int_equal(nmap, 3);
    while (blobrd_more(&r)) {
        uint32_t tag = blobrd_u32(&r);
        if (plugin_state_read_entry(&c, tag, map, nmap, kg, &r, why, sizeof why))
            fail_msg("read_entry: %s", why);
    }
    free(map);
    for (int i = 0; i < c.ndecl; i++)
        assert_true(c.decl[i].pending);
    assert_int_equal(plugin_state_declare(&c, "items", MPF_VALUE_STATE, 0, NULL), -1);
    int cm = plugin_state_declare(&c, "props", MPF_MAP_STATE, 0, NULL);
    int cl = plugin_state_declare(&c, "items", MPF_LIST_STATE, 0, NULL);
    int cv = plugin_state_declare(&c, "seen", MPF_VALUE_STATE, 0, NULL);
    assert_true(cm >= 0 && cl >= 0 && cv >= 0);
    assert_int_equal(plugin_state_scope(&c, "key", 3, &sc, &kg), 0);
    uint32_t len;
    const char *v = plugin_state_value_get(&c, &sc, cv, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "yes", 3);
    size_t pos = 0;
    const void *item;
    assert_int_equal(plugin_state_list_next(&c, &sc, cl, &pos, &item, &len), 1);
    assert_memory_equal(item, "one", 3);
    assert_int_equal(plugin_state_list_next(&c, &sc, cl, &pos, &item, &len), 1);
    assert_memory_equal(item, "two", 3);
    assert_int_equal(plugin_state_list_next(&c, &sc, cl, &pos, &item, &len), 0);
    pos = 0;
    const void *uk;
    uint32_t uklen;
    assert_int_equal(plugin_state_map_next(&c, &sc, cm, &pos, &uk, &uklen, &item, &len), 1);
    assert_memory_equal(uk, "b", 1); /* the map's order is kept */
    assert_int_equal(plugin_state_map_next(&c, &sc, cm, &pos, &uk, &uklen, &item, &len), 1);
    assert_memory_equal(uk, "a", 1);
    assert_int_equal(plugin_state_size(&c, &sc, cm), 2);
    plugin_state_fini(&c);

    /* A key of another key group than the blob's. */
    plugin_state_init(&c, all, 128);
    sb.key_group = (kg + 1) % 128;
    blobrd_init(&r, &sb);
    assert_int_equal(plugin_state_read_decls(&c, &r, &map, &nmap, why, sizeof why), 0);
    uint32_t tag = blobrd_u32(&r);
    assert_int_equal(plugin_state_read_entry(&c, tag, map, nmap, sb.key_group, &r, why,
                                             sizeof why), -1);
    assert_non_null(strstr(why, "key group"));
    free(map);
    plugin_state_fini(&c);
    recbuf_fini(&b);
    plugin_state_fini(&a);
}

/* ------------------------------------------------------------ file source */

static char tmpdir[64];

static void write_inputs(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/opsnap-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    for (int f = 0; f < 3; f++) {
        char path[128];
        snprintf(path, sizeof path, "%s/in-%d.txt", tmpdir, f);
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        for (int i = 0; i < 3000; i++)
            fprintf(fp, "file %d line %d with some words to make it longer\n", f, i);
        fclose(fp);
    }
}

static void remove_inputs(void)
{
    for (int f = 0; f < 3; f++) {
        char path[128];
        snprintf(path, sizeof path, "%s/in-%d.txt", tmpdir, f);
        unlink(path);
    }
    rmdir(tmpdir);
}

static void poll_n(inst *in, int n)
{
    mpf_err e = {0};
    for (int i = 0; n < 0 || i < n; i++) {
        int rc = in->oi.spec->kind->poll(&in->oi, &e);
        if (rc == 0)
            return;
        if (rc != MPF_EAGAIN)
            fail_msg("poll: %s", e.msg);
    }
}

/* Each subtask of parallelism 2 over three files: a snapshot after some
 * batches and a restore read every line once; a damaged position is an
 * error or a valid position; a changed input is refused. */
static void test_file_source(void **state)
{
    (void)state;
    write_inputs();
    char text[8192];
    snprintf(text, sizeof text,
             "name: t\noperators:\n  - {uid: j, source: file, path: \"%s\", parallelism: 2}\n"
             "  - {uid: out, sink: blackhole}\n", tmpdir);
    hplan h;
    hp_build(&h, text, 2);
    for (int sub = 0; sub < 2; sub++) {
        inst full, pre, post;
        inst_open(&h, &full, sub);
        poll_n(&full, -1);
        capture *fc[] = {&full.cap};
        char *want = rows_text(fc, 1);
        assert_true(full.cap.n > 3000);
        for (int polls = 0; polls < 8; polls += 3) {
            inst_open(&h, &pre, sub);
            poll_n(&pre, polls);
            snap_writer w;
            snap_take(&pre, &w);
            assert_int_equal(w.n, 1);
            inst_open(&h, &post, sub);
            restore_all(&post, &w);
            poll_n(&post, -1);
            capture *cs[] = {&pre.cap, &post.cap};
            char *got = rows_text(cs, 2);
            if (strcmp(got, want) != 0)
                fail_msg("subtask %d, snapshot after %d polls: lines lost or repeated", sub,
                         polls);
            free(got);
            inst_close(&post);
            int errors = 0;
            damage_all(&h, &w, &errors); /* (as subtask 0: other subtasks' blobs fail) */
            assert_true(errors > 0);
            snapw_fini(&w);
            inst_close(&pre);
        }
        free(want);
        inst_close(&full);
    }
    /* The input changed after the snapshot: refused. */
    inst pre, post;
    inst_open(&h, &pre, 1);
    poll_n(&pre, 2);
    snap_writer w;
    snap_take(&pre, &w);
    char path[128];
    snprintf(path, sizeof path, "%s/in-1.txt", tmpdir);
    FILE *fp = fopen(path, "a");
    fprintf(fp, "one more line\n");
    fclose(fp);
    inst_open(&h, &post, 1);
    mpf_err e;
    assert_int_not_equal(give(&post, &w.v[0], w.v[0].data, w.v[0].len, &e), 0);
    assert_non_null(strstr(e.msg, "operator 'j' subtask 1: the input files changed"));
    inst_close(&post);
    snapw_fini(&w);
    inst_close(&pre);
    hp_fini(&h);
    remove_inputs();
}

/* ------------------------------------------------------------ socket */

static void test_socket_refused(void **state)
{
    (void)state;
    const char *text = "name: t\noperators:\n  - {uid: s, source: socket, port: 9999}\n"
                       "  - {uid: out, sink: blackhole}\n";
    job *j = NULL;
    mpf_err e = {0};
    assert_int_equal(job_parse("t.yaml", text, strlen(text), NULL, 0, &j, &e), 0);
    conf *c = conf_new();
    assert_int_equal(conf_set_kv(c, "execution.checkpointing.interval=1s", &e), 0);
    plan p;
    assert_int_not_equal(plan_build(&p, j, c, 1, 0, &e), 0);
    assert_non_null(strstr(e.msg, "t.yaml:3:"));
    assert_non_null(strstr(e.msg, "source socket cannot take part in checkpoints"));
    assert_non_null(strstr(e.msg, "cannot be replayed"));
    conf_destroy(c);
}

/* ------------------------------------------------------------ file sink */

/* Rows "k<i>,<i>" for i in [from, to) into a file-sink subtask. */
static void sink_rows(inst *in, int from, int to)
{
    static uint8_t seg[1 << 16];
    recbuf rb;
    recbuf_init(&rb);
    batch_reset(seg, BATCH_DATA);
    for (int i = from; i < to; i++) {
        ev x = {0};
        snprintf(x.key, sizeof x.key, "k%d", i);
        x.v = i;
        build_rec(in->oi.spec->in_schema[0], &x, &rb);
        assert_int_equal(batch_append(seg, sizeof seg, rb.p, rb.len), 0);
    }
    recbuf_fini(&rb);
    mpf_err e = {0};
    if (in->oi.spec->kind->process(&in->oi, 0, seg, &e))
        fail_msg("process: %s", e.msg);
}

/* Checkpoint id of the subtasks ins[0..n): snapshots into w (appended). */
static void sink_snap(inst *ins, int n, snap_writer *w, int64_t id)
{
    snapw_init(w, id);
    for (int k = 0; k < n; k++) {
        w->uid = ins[k].oi.spec->uid;
        w->subtask = ins[k].oi.subtask;
        mpf_err e = {0};
        if (ins[k].oi.spec->kind->snapshot(&ins[k].oi, w, &e))
            fail_msg("snapshot: %s", e.msg);
    }
}

static int sink_complete(inst *in, int64_t id, mpf_err *e)
{
    memset(e, 0, sizeof *e);
    return in->oi.spec->kind->checkpoint_complete(&in->oi, id, e);
}

/* Restore every blob of w into each subtask (union state), then end. */
static void sink_restore_all(inst *ins, int n, const snap_writer *w)
{
    for (int k = 0; k < n; k++) {
        mpf_err e;
        for (size_t i = 0; i < w->n; i++)
            if (give(&ins[k], &w->v[i], w->v[i].data, w->v[i].len, &e))
                fail_msg("restore: %s", e.msg);
        if (ins[k].oi.spec->kind->restore_end(&ins[k].oi, &e))
            fail_msg("restore_end: %s", e.msg);
    }
}

/* The job starts (every TaskManager restored): the start hooks. */
static void sink_start_all(inst *ins, int n)
{
    for (int k = 0; k < n; k++) {
        mpf_err e = {0};
        if (ins[k].oi.spec->kind->start(&ins[k].oi, &e))
            fail_msg("start: %s", e.msg);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *b = calloc(1, 1 << 16);
    size_t n = fread(b, 1, (1 << 16) - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

static int exists(const char *dir, const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void sink_plan(hplan *h, const char *dir, int parallelism)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: t\noperators:\n  - {uid: g, source: generator, number-of-rows: 1, fields: "
             "[{name: k, type: string}, {name: v, type: i64}]}\n"
             "  - {uid: j, sink: file, path: \"%s\"}\n", dir);
    hp_build(h, text, parallelism);
    h->spec->restoring = 1;
}

/* The file sink: a final name that exists is never replaced (an error
 * naming it); staged parts restored into a job writing elsewhere are
 * committed where they were written; a subtask new to the parallelism
 * continues after the parts its index had in an earlier run even when
 * they left the directory; a restore whose staged parts are gone is
 * refused naming them; an earlier build's blob restores; damaged blobs
 * fail naming the operator. */
static void test_file_sink(void **state)
{
    (void)state;
    char base[64], a[96], b[96], p[160];
    snprintf(base, sizeof base, "/tmp/opsnap-sink-XXXXXX");
    assert_non_null(mkdtemp(base));
    snprintf(a, sizeof a, "%s/a", base);
    snprintf(b, sizeof b, "%s/b", base);
    assert_int_equal(mkdir(a, 0777), 0);
    assert_int_equal(mkdir(b, 0777), 0);
    mpf_err e;

    /* 1. parts 0 (published by checkpoint 7) and 1 (staged by 8) in a;
     * a file already named part-0-1 stops checkpoint 8's commit */
    hplan ha;
    sink_plan(&ha, a, 1);
    inst a0;
    inst_open(&ha, &a0, 0);
    snap_writer w1, w2;
    sink_rows(&a0, 0, 10);
    sink_snap(&a0, 1, &w1, 7);
    assert_int_equal(sink_complete(&a0, 7, &e), 0);
    assert_true(exists(a, "part-0-0"));
    sink_rows(&a0, 10, 20);
    sink_snap(&a0, 1, &w2, 8);
    snprintf(p, sizeof p, "%s/part-0-1", a);
    FILE *f = fopen(p, "w");
    fputs("somebody else's\n", f);
    fclose(f);
    assert_int_not_equal(sink_complete(&a0, 8, &e), 0);
    if (!strstr(e.msg, "'j'") || !strstr(e.msg, "part-0-1' already exists"))
        fail_msg("collision error: %s", e.msg);
    char *got = slurp(p);
    assert_string_equal(got, "somebody else's\n");
    free(got);
    assert_true(exists(a, ".part-0-1.pending"));
    unlink(p);
    inst_close(&a0);

    /* 2. w2 restored at parallelism 2, writing into b: part 1 is committed
     * in a when the job starts (not at restore); new parts go to b */
    hplan hb;
    sink_plan(&hb, b, 2);
    inst bs[2];
    for (int k = 0; k < 2; k++)
        inst_open(&hb, &bs[k], k);
    sink_restore_all(bs, 2, &w2);
    assert_false(exists(a, "part-0-1"));
    sink_start_all(bs, 2);
    assert_true(exists(a, "part-0-1"));
    for (int k = 0; k < 2; k++)
        sink_rows(&bs[k], 100 * (k + 1), 100 * (k + 1) + 5);
    snap_writer w3;
    sink_snap(bs, 2, &w3, 9);
    for (int k = 0; k < 2; k++)
        assert_int_equal(sink_complete(&bs[k], 9, &e), 0);
    assert_true(exists(b, "part-0-2") && exists(b, "part-1-0"));
    assert_false(exists(b, "part-0-0") || exists(b, "part-0-1"));
    char buf[256];
    snap_blob sb = {SNAP_OPERATOR, -1, 0, w3.v[0].data, w3.v[0].len};
    ha.spec->kind->describe_state(&sb, buf, sizeof buf);
    if (!strstr(buf, "next part 3, 1 part(s) staged") || !strstr(buf, "/b"))
        fail_msg("describe_state: %s", buf);
    for (int k = 0; k < 2; k++)
        inst_close(&bs[k]);

    /* 3. 2 -> 1 -> 2: subtask 1 of the last run has no blob of its own;
     * part-1-0 was taken away meanwhile, and its name is not reused */
    hplan hc;
    sink_plan(&hc, b, 1);
    inst c0;
    inst_open(&hc, &c0, 0);
    sink_restore_all(&c0, 1, &w3);
    sink_start_all(&c0, 1);
    sink_rows(&c0, 500, 505);
    snap_writer w4;
    sink_snap(&c0, 1, &w4, 10);
    assert_int_equal(sink_complete(&c0, 10, &e), 0);
    assert_true(exists(b, "part-0-3"));
    inst_close(&c0);
    char moved[200];
    snprintf(p, sizeof p, "%s/part-1-0", b);
    snprintf(moved, sizeof moved, "%s/taken", base);
    assert_int_equal(rename(p, moved), 0);
    for (int k = 0; k < 2; k++)
        inst_open(&hb, &bs[k], k);
    sink_restore_all(bs, 2, &w4);
    sink_start_all(bs, 2);
    for (int k = 0; k < 2; k++)
        sink_rows(&bs[k], 600 + 10 * k, 605 + 10 * k);
    snap_writer w5;
    sink_snap(bs, 2, &w5, 11);
    for (int k = 0; k < 2; k++)
        assert_int_equal(sink_complete(&bs[k], 11, &e), 0);
    assert_false(exists(b, "part-1-0"));
    assert_true(exists(b, "part-1-1") && exists(b, "part-0-4"));
    for (int k = 0; k < 2; k++)
        inst_close(&bs[k]);

    /* 4. w2's staged part 1 is gone from a: refused, naming it */
    snprintf(p, sizeof p, "%s/part-0-1", a);
    assert_int_equal(unlink(p), 0);
    inst x;
    inst_open(&ha, &x, 0);
    assert_int_not_equal(give(&x, &w2.v[0], w2.v[0].data, w2.v[0].len, &e), 0);
    if (!strstr(e.msg, "'j'") || !strstr(e.msg, ".part-0-1.pending"))
        fail_msg("missing staged part: %s", e.msg);
    inst_close(&x);

    /* 5. an earlier build's blob ([next][n][ckpt][part], parts in the
     * sink's path) still restores */
    snprintf(p, sizeof p, "%s/.part-0-5.pending", a);
    f = fopen(p, "w");
    fputs("old\n", f);
    fclose(f);
    uint8_t old[28];
    int64_t next = 6, ck = 3, part = 5;
    uint32_t one = 1;
    memcpy(old, &next, 8);
    memcpy(old + 8, &one, 4);
    memcpy(old + 12, &ck, 8);
    memcpy(old + 20, &part, 8);
    snap_entry oe = {"j", 0, SNAP_OPERATOR, -1, old, sizeof old, NULL, NULL};
    inst_open(&ha, &x, 0);
    if (give(&x, &oe, old, sizeof old, &e) || ha.spec->kind->restore_end(&x.oi, &e))
        fail_msg("earlier build's blob: %s", e.msg);
    assert_false(exists(a, "part-0-5"));
    sink_start_all(&x, 1);
    assert_true(exists(a, "part-0-5"));
    snap_blob ob = {SNAP_OPERATOR, -1, 0, old, sizeof old};
    ha.spec->kind->describe_state(&ob, buf, sizeof buf);
    assert_non_null(strstr(buf, "earlier build"));
    inst_close(&x);

    /* 6. damaged blobs: an error naming 'j', or some valid state */
    int errors = 0;
    damage_all(&hb, &w5, &errors);
    assert_true(errors > 0);

    snapw_fini(&w1);
    snapw_fini(&w2);
    snapw_fini(&w3);
    snapw_fini(&w4);
    snapw_fini(&w5);
    hp_fini(&ha);
    hp_fini(&hb);
    hp_fini(&hc);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    segpool_init(32 * 1024);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regular_join),
        cmocka_unit_test(test_interval_join),
        cmocka_unit_test(test_window_join),
        cmocka_unit_test(test_join_blob_mismatch),
        cmocka_unit_test(test_plugin_sessions),
        cmocka_unit_test(test_plugin_state_by_name),
        cmocka_unit_test(test_file_source),
        cmocka_unit_test(test_socket_refused),
        cmocka_unit_test(test_file_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
