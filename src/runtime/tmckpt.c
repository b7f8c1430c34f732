/* The TaskManager's checkpoint state machine (runtime layer); see
 * tmckpt.h. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include "ckpt/ckpt.h"
#include "runtime/tmckpt.h"
#include "util/log.h"
#include "util/xmalloc.h"

void tmck_init(tmck *c, const char *job, int rank, int maxp)
{
    memset(c, 0, sizeof *c);
    c->job = job;
    c->rank = rank;
    c->maxp = maxp;
    c->write_fn = tmck_write_hdf5;
    snapw_init(&c->collect.w, 0);
    snapw_init(&c->write.w, 0);
}

static void snap_drop(tmck_snap *s)
{
    snapw_fini(&s->w);
    snapw_init(&s->w, 0);
    s->id = 0;
    s->dir[0] = 0;
    s->trigger_ms = 0;
    s->bytes = 0;
    s->align_ns = 0;
}

static void snap_begin(tmck_snap *s, int64_t id)
{
    snap_drop(s);
    s->w.id = id;
    s->id = id;
}

void tmck_reset(tmck *c)
{
    snap_drop(&c->collect);
    snap_drop(&c->write);
    c->writing = 0;
    c->newest = c->aborted = 0;
}

void tmck_fini(tmck *c)
{
    snapw_fini(&c->collect.w);
    snapw_fini(&c->write.w);
}

int tmck_trigger(tmck *c, int64_t id, const char *dir, int64_t trigger_ms)
{
    if (id <= c->aborted || id < c->newest || (c->writing && id <= c->write.id))
        return 0;
    if (c->collect.id != id)
        snap_begin(&c->collect, id); /* an older one still collecting is subsumed */
    c->newest = id;
    snprintf(c->collect.dir, sizeof c->collect.dir, "%s", dir);
    c->collect.trigger_ms = trigger_ms;
    if (id == c->inject_decline) /* at once: the tasks take it, the others go on */
        c->decline_now = id;
    return 1;
}

snap_writer *tmck_snap_for(tmck *c, int64_t id)
{
    if (id <= c->aborted || id < c->collect.id || (c->writing && id <= c->write.id))
        return NULL;
    if (id > c->collect.id) { /* its barrier overtook the trigger */
        if (c->collect.id)
            log_debug("checkpoint %lld subsumed by %lld", (long long)c->collect.id,
                      (long long)id);
        snap_begin(&c->collect, id);
        if (id > c->newest)
            c->newest = id;
    }
    return &c->collect.w;
}

void tmck_alignment(tmck *c, int64_t id, int64_t ns)
{
    if (c->collect.id == id && ns > c->collect.align_ns)
        c->collect.align_ns = ns;
}

void tmck_abort(tmck *c, int64_t id)
{
    if (id > c->aborted)
        c->aborted = id;
    if (c->collect.id && c->collect.id <= id)
        snap_drop(&c->collect);
}

int tmck_busy(const tmck *c)
{
    return c->writing;
}

static void *writer_thread(void *arg)
{
    tmck *c = arg;
    c->rc = c->write_fn(c, &c->write, &c->err);
    atomic_store(&c->done, 1);
    return NULL;
}

int tmck_progress(tmck *c, int64_t min_snapped, char **ack)
{
    *ack = NULL;
    if (c->decline_now) {
        *ack = xasprintf("%lld fail declined on purpose (debug.inject-failure decline=%lld)",
                         (long long)c->decline_now, (long long)c->decline_now);
        c->decline_now = 0;
        return 1;
    }
    if (c->writing) {
        if (!atomic_load(&c->done))
            return 0;
        pthread_join(c->thread, NULL);
        c->writing = 0;
        int64_t id = c->write.id;
        if (c->inject_ckpt == id && !c->rc) {
            log_warn("debug.inject-failure: killing this rank after writing its part of "
                     "checkpoint %lld", (long long)id);
            raise(SIGKILL);
        }
        if (c->rc)
            log_warn("checkpoint %lld: %s", (long long)id, c->err.msg);
        int aborted = id <= c->aborted; /* nobody waits for its answer */
        if (!aborted)
            *ack = c->rc ? xasprintf("%lld fail %s", (long long)id, c->err.msg)
                         : xasprintf("%lld ok %lld %lld", (long long)id,
                                     (long long)c->write.bytes,
                                     (long long)(c->write.align_ns / 1000));
        snap_drop(&c->write);
        return !aborted;
    }
    tmck_snap *s = &c->collect;
    if (!s->id || !s->dir[0] || min_snapped < s->id)
        return 0;
    /* Hand the collected snapshot to the writer (the collect slot is free
     * for the next checkpoint at once). */
    snapw_fini(&c->write.w);
    c->write = *s;
    memset(s, 0, sizeof *s);
    snapw_init(&s->w, 0);
    memset(&c->err, 0, sizeof c->err);
    c->rc = 0;
    atomic_store(&c->done, 0);
    if (pthread_create(&c->thread, NULL, writer_thread, c) != 0) {
        err_set(&c->err, MPF_ERESOURCE, "cannot start the checkpoint writer thread");
    } else {
        c->writing = 1;
        return 0;
    }
    log_warn("checkpoint %lld: %s", (long long)c->write.id, c->err.msg);
    *ack = xasprintf("%lld fail %s", (long long)c->write.id, c->err.msg);
    snap_drop(&c->write);
    return 1;
}

/* Decline a checkpoint that would not fit on its file system (room for
 * twice its blobs plus 256 KiB, for HDF5's own structures) before HDF5
 * starts writing: HDF5 1.10 can crash at exit after a failed close on a
 * full disk. The directory may not exist yet: its nearest parent counts. */
static int check_space(const char *dir, size_t bytes, mpf_err *e)
{
    char *p = xstrdup(dir);
    struct statvfs sv;
    while (statvfs(p, &sv) != 0) {
        char *slash = strrchr(p, '/');
        if (!slash || slash == p) {
            free(p);
            return 0; /* nothing to measure: let the writer report */
        }
        *slash = '\0';
    }
    free(p);
    unsigned long long avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
    unsigned long long need = 2ull * bytes + 256 * 1024;
    if (avail >= need)
        return 0;
    return err_set(e, MPF_EIO, "%s: not enough space for checkpoint state of %zu bytes (%llu "
                   "bytes free)", dir, bytes, avail);
}

int tmck_write_hdf5(const tmck *c, tmck_snap *s, mpf_err *e)
{
    if (snapw_run_deferred(&s->w, e))
        return e->code;
    size_t bytes = 0;
    for (size_t i = 0; i < s->w.n; i++)
        bytes += s->w.v[i].len;
    if (check_space(s->dir, bytes, e))
        return e->code;
    s->bytes = (int64_t)bytes;
    ckpt_blob *b = xcalloc(s->w.n + 1, sizeof *b);
    for (size_t i = 0; i < s->w.n; i++) {
        const snap_entry *x = &s->w.v[i];
        b[i] = (ckpt_blob){x->uid, x->subtask, x->kind == SNAP_KEYED ? CKPT_KEYED : CKPT_OPERATOR,
                           x->key_group, x->data, x->len};
    }
    ckpt_meta m = {0};
    m.job = (char *)c->job;
    m.checkpoint_id = s->id;
    m.timestamp_ms = s->trigger_ms;
    m.max_parallelism = c->maxp;
    int rc = ckpt_write_tm(s->dir, c->rank, &m, b, s->w.n, e);
    free(b);
    return rc;
}
