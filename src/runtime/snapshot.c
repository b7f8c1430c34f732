/* Snapshot collection (runtime layer). */
#include "runtime/snapshot.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "util/xmalloc.h"

/* The checkpoint writer shares the cores with the task threads: make it
 * yield to them. SCHED_BATCH takes away its wake-up preemption, nice 10
 * gives it about a tenth of a busy core against a nice-0 thread; idle
 * time still runs it at full speed. Measured on 2 cores shared by 2
 * TaskManagers (BENCHMARKS.md, "Checkpoints"): throughput the same within
 * noise, alignment p99 lower, checkpoints 15-50% longer. Linux applies
 * both per thread, and the writer thread ends with its checkpoint, so
 * nothing is restored. Never on the main thread (a synchronous snapshot,
 * a test). */
static void lower_priority(void)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    if (tid == getpid())
        return;
    struct sched_param sp = {0};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp); /* best effort */
    setpriority(PRIO_PROCESS, (id_t)tid, 10);
}

void snapw_init(snap_writer *w, int64_t id)
{
    memset(w, 0, sizeof *w);
    w->id = id;
}

void snapw_fini(snap_writer *w)
{
    for (size_t i = 0; i < w->n; i++) {
        if (w->v[i].release)
            w->v[i].release(w->v[i].own);
        else
            free(w->v[i].own);
    }
    free(w->v);
    for (size_t i = 0; i < w->ndefer; i++)
        if (w->defer[i].free_fn)
            w->defer[i].free_fn(w->defer[i].ctx);
    free(w->defer);
    memset(w, 0, sizeof *w);
}

void snap_put_ref(snap_writer *w, int kind, int key_group, uint8_t *data, size_t len,
                  void *own, void (*release)(void *own))
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->v = xrealloc(w->v, w->cap * sizeof *w->v);
    }
    snap_entry *s = &w->v[w->n++];
    s->uid = w->uid;
    s->subtask = w->subtask;
    s->kind = kind;
    s->key_group = kind == SNAP_KEYED ? key_group : -1;
    s->data = data;
    s->len = len;
    s->own = own;
    s->release = release;
    w->bytes += len;
}

void snap_put(snap_writer *w, int kind, int key_group, const void *data, size_t len)
{
    uint8_t *copy = xmalloc(len ? len : 1);
    if (len)
        memcpy(copy, data, len);
    snap_put_ref(w, kind, key_group, copy, len, copy, NULL);
}

void snap_defer(snap_writer *w, int (*fn)(void *ctx, snap_writer *w, mpf_err *e),
                void (*free_fn)(void *ctx), void *ctx)
{
    if (w->ndefer == w->capdefer) {
        w->capdefer = w->capdefer ? w->capdefer * 2 : 8;
        w->defer = xrealloc(w->defer, w->capdefer * sizeof *w->defer);
    }
    w->defer[w->ndefer++] = (snap_deferred){fn, free_fn, ctx, w->uid, w->subtask};
}

int snapw_run_deferred(snap_writer *w, mpf_err *e)
{
    lower_priority();
    int rc = 0;
    for (size_t i = 0; i < w->ndefer; i++) {
        snap_deferred *d = &w->defer[i];
        w->uid = d->uid;
        w->subtask = d->subtask;
        if (!rc && d->fn(d->ctx, w, e))
            rc = err_prefix(e, "operator '%s' snapshot of checkpoint %lld", d->uid,
                            (long long)w->id);
        if (d->free_fn)
            d->free_fn(d->ctx);
    }
    w->ndefer = 0;
    return rc;
}

int64_t snap_id(const snap_writer *w)
{
    return w->id;
}

int snapw_ops(snap_writer *w, op_inst *ops, int nops, mpf_err *e)
{
    for (int k = 0; k < nops; k++) {
        op_inst *oi = &ops[k];
        if (!oi->spec->kind->snapshot)
            continue;
        w->uid = oi->spec->uid;
        w->subtask = oi->subtask;
        if (oi->spec->kind->snapshot(oi, w, e))
            return err_prefix(e, "operator '%s' snapshot of checkpoint %lld", oi->spec->uid,
                              (long long)w->id);
    }
    return 0;
}
