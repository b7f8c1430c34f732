/* Sinks that write text (ops layer): `sink: file` writes one part file per
 * subtask into a directory (`path`; "-" means standard output), as CSV
 * (strings quoted when they hold the delimiter, a quote or a line break).
 * A part file is written as `.part-<i>-0.inprogress` and renamed to
 * `part-<i>-0` only when the JobManager announces that the whole job
 * succeeded, so a failed job leaves nothing that looks complete. Before
 * deployment the JobManager creates the directory and refuses to mix
 * output with part files of an earlier run unless `overwrite: true`.
 * `sink: stdout` prints the same lines on the TaskManager's standard
 * output, written in whole lines of at most PIPE_BUF bytes so mpirun does
 * not interleave ranks mid-line. `sink: blackhole` discards records,
 * optionally at a limited rate (for backpressure tests). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "ops/op.h"
#include "util/xmalloc.h"

typedef struct fsink_cfg {
    char *path; /* NULL: stdout */
    char delim;
    int overwrite;
    double rate; /* blackhole */
} fsink_cfg;

/* A part file staged by a checkpoint, published when it completes. */
typedef struct pending_part {
    int64_t ckpt;
    int64_t n; /* part number */
} pending_part;

typedef struct fsink_state {
    FILE *f;              /* the in-progress part, opened on first write */
    char *tmp, *final;    /* its names */
    int64_t part;         /* its number: part-<subtask>-<part> */
    int64_t written;      /* bytes in it */
    pending_part *pend;   /* staged by checkpoints, not yet published */
    int npend, cappend;
    char *out;
    size_t len, cap;
    int committed;
    struct timespec t0;
} fsink_state;

static const char *const fsink_keys[] = {"path", "delimiter", "overwrite", NULL};
static const char *const stdout_keys[] = {"delimiter", NULL};
static const char *const hole_keys[] = {"rows-per-second", NULL};

static int sink_configure(op_spec *s, const conf *c, mpf_err *e)
{
    fsink_cfg *cfg = xcalloc(1, sizeof *cfg);
    const char *path = NULL, *delim = ",";
    int is_file = strcmp(s->kind->name, "file") == 0;
    if ((is_file && ynode_get_str(s->node, "path", 1, &path, e)) ||
        ynode_get_str(s->node, "delimiter", 0, &delim, e) ||
        ynode_get_bool(s->node, "overwrite", 0, &cfg->overwrite, e) ||
        ynode_get_f64(s->node, "rows-per-second", 0, &cfg->rate, e)) {
        free(cfg);
        return err_prefix(e, "operator '%s'", s->uid);
    }
    if (strlen(delim) != 1) {
        free(cfg);
        return err_set(e, MPF_EJOB, "%s: delimiter must be one character", op_where(s));
    }
    cfg->delim = delim[0];
    if (path && strcmp(path, "-") != 0) {
        if (!*path) {
            free(cfg);
            return err_set(e, MPF_EJOB, "%s: path is empty (use '-' for standard output)",
                           op_where(s));
        }
        cfg->path = xstrdup(path);
    }
    s->cfg = cfg;
    schema_copy(&s->out_schema, s->in_schema[0]);
    return 0;
}

static void sink_free(void *p)
{
    fsink_cfg *cfg = p;
    free(cfg->path);
    free(cfg);
}

static int is_part_file(const char *name)
{
    return strncmp(name, "part-", 5) == 0 || strncmp(name, ".part-", 6) == 0;
}

static int mkdirs(const char *path)
{
    char *p = xstrdup(path);
    for (char *q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *q = '/';
    }
    int rc = mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

static int sink_global_init(const op_spec *s, mpf_err *e)
{
    const fsink_cfg *cfg = s->cfg;
    if (!cfg->path)
        return 0;
    if (mkdirs(cfg->path) != 0)
        return err_set(e, MPF_EIO, "%s: cannot create output directory '%s': %s", op_where(s),
                       cfg->path, strerror(errno));
    struct stat sb;
    if (stat(cfg->path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return err_set(e, MPF_EIO, "%s: output path '%s' is not a directory", op_where(s),
                       cfg->path);
    if (access(cfg->path, W_OK | X_OK) != 0)
        return err_set(e, MPF_EIO, "%s: output directory '%s' is not writable: %s", op_where(s),
                       cfg->path, strerror(errno));
    if (s->restoring == 1) /* its parts belong to the restored checkpoint's history */
        return 0;
    DIR *d = opendir(cfg->path);
    if (!d)
        return err_set(e, MPF_EIO, "%s: output directory '%s': %s", op_where(s), cfg->path,
                       strerror(errno));
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) && !rc) {
        if (!is_part_file(de->d_name))
            continue;
        if (s->restoring == 2 && de->d_name[0] == '.') {
            /* staged by an attempt that never completed a checkpoint */
            char *stale = xasprintf("%s/%s", cfg->path, de->d_name);
            unlink(stale);
            free(stale);
            continue;
        }
        if (!cfg->overwrite) {
            rc = err_set(e, MPF_EIO, "%s: output directory '%s' already holds %s from an "
                         "earlier run; remove it or set overwrite: true", op_where(s),
                         cfg->path, de->d_name);
            break;
        }
        char *full = xasprintf("%s/%s", cfg->path, de->d_name);
        if (unlink(full) != 0)
            rc = err_set(e, MPF_EIO, "%s: cannot remove old '%s': %s", op_where(s), full,
                         strerror(errno));
        free(full);
    }
    closedir(d);
    return rc;
}

static int sink_open(op_inst *oi, mpf_err *e)
{
    const fsink_cfg *cfg = oi->spec->cfg;
    fsink_state *st = xcalloc(1, sizeof *st);
    oi->st = st;
    clock_gettime(CLOCK_MONOTONIC, &st->t0);
    st->cap = 1 << 16;
    st->out = xmalloc(st->cap);
    if (strcmp(oi->spec->kind->name, "file") != 0 || !cfg->path)
        return 0;
    (void)e;
    return 0;
}

/* Names of part n of this subtask: in progress, staged, published. */
static char *part_name(const op_inst *oi, int64_t n, const char *state)
{
    const fsink_cfg *cfg = oi->spec->cfg;
    if (strcmp(state, "final") == 0)
        return xasprintf("%s/part-%d-%lld", cfg->path, oi->subtask, (long long)n);
    return xasprintf("%s/.part-%d-%lld.%s", cfg->path, oi->subtask, (long long)n, state);
}

static int open_part(op_inst *oi, mpf_err *e)
{
    fsink_state *st = oi->st;
    free(st->tmp);
    free(st->final);
    st->tmp = part_name(oi, st->part, "inprogress");
    st->final = part_name(oi, st->part, "final");
    st->f = fopen(st->tmp, "w");
    if (!st->f)
        return err_set(e, MPF_EIO, "operator '%s': cannot create '%s': %s", oi->spec->uid,
                       st->tmp, strerror(errno));
    setvbuf(st->f, NULL, _IOFBF, 1 << 20);
    st->written = 0;
    return 0;
}

/* Close the in-progress part durably (fsync). */
static int close_part(op_inst *oi, mpf_err *e)
{
    fsink_state *st = oi->st;
    int bad = fflush(st->f) != 0 || fsync(fileno(st->f)) != 0;
    bad |= fclose(st->f) != 0;
    st->f = NULL;
    if (bad)
        return err_set(e, MPF_EIO, "operator '%s': closing '%s': %s", oi->spec->uid, st->tmp,
                       strerror(errno));
    return 0;
}

/* Write out the buffered lines: to the part file, or to stdout in pieces of
 * whole lines no larger than PIPE_BUF. */
static int sink_flush(op_inst *oi, mpf_err *e)
{
    fsink_state *st = oi->st;
    const fsink_cfg *cfg = oi->spec->cfg;
    if (!st->len)
        return 0;
    if (cfg->path && strcmp(oi->spec->kind->name, "file") == 0) {
        if (!st->f && open_part(oi, e))
            return e->code;
        st->written += (int64_t)st->len;
        if (fwrite(st->out, 1, st->len, st->f) != st->len)
            return err_set(e, MPF_EIO, "operator '%s': writing '%s': %s", oi->spec->uid,
                           st->tmp, strerror(errno));
        st->len = 0;
        return 0;
    }
    size_t off = 0;
    while (off < st->len) {
        size_t n = st->len - off;
        if (n > PIPE_BUF) {
            n = PIPE_BUF;
            while (n > 0 && st->out[off + n - 1] != '\n')
                n--;
            if (n == 0)
                n = PIPE_BUF; /* a single line longer than PIPE_BUF */
        }
        ssize_t w = write(STDOUT_FILENO, st->out + off, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return err_set(e, MPF_EIO, "operator '%s': writing to stdout: %s", oi->spec->uid,
                           strerror(errno));
        off += (size_t)w;
    }
    st->len = 0;
    return 0;
}

static void put(fsink_state *st, const char *s, size_t n)
{
    if (st->len + n > st->cap) {
        while (st->len + n > st->cap)
            st->cap *= 2;
        st->out = xrealloc(st->out, st->cap);
    }
    memcpy(st->out + st->len, s, n);
    st->len += n;
}

static int sink_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    const fsink_cfg *cfg = oi->spec->cfg;
    const schema *sc = oi->spec->in_schema[0];
    fsink_state *st = oi->st;
    char tmp[64];
    for (const uint8_t *r = batch_first(batch); r; r = batch_next(batch, r)) {
        const uint8_t *f = r + REC_LEN_SIZE;
        for (int i = 0; i < sc->n; i++) {
            if (i)
                put(st, &cfg->delim, 1);
            if (sc->f[i].type == FT_STRING) {
                uint32_t n = rd_u32(f);
                const char *s = (const char *)f + 4;
                int quote = 0;
                for (uint32_t k = 0; k < n && !quote; k++)
                    quote = s[k] == cfg->delim || s[k] == '"' || s[k] == '\n' || s[k] == '\r';
                if (!quote) {
                    put(st, s, n);
                } else {
                    put(st, "\"", 1);
                    for (uint32_t k = 0; k < n; k++) {
                        if (s[k] == '"')
                            put(st, "\"", 1);
                        put(st, s + k, 1);
                    }
                    put(st, "\"", 1);
                }
                f += 4 + n;
            } else {
                size_t n = field_format(sc->f[i].type, f, tmp, sizeof tmp);
                put(st, tmp, n);
                f += sc->f[i].type == FT_BOOL ? 1 : 8;
            }
        }
        put(st, "\n", 1);
    }
    return st->len >= (1 << 16) || !cfg->path ? sink_flush(oi, e) : 0;
}

static int sink_finish(op_inst *oi, mpf_err *e)
{
    fsink_state *st = oi->st;
    if (sink_flush(oi, e))
        return e->code;
    if (st->f && fflush(st->f) != 0)
        return err_set(e, MPF_EIO, "operator '%s': writing '%s': %s", oi->spec->uid, st->tmp,
                       strerror(errno));
    return 0;
}

/* Publish staged parts of checkpoints up to id (all: INT64_MAX). A part
 * already published (a restore repeating a commit) is fine. */
static int publish(op_inst *oi, int64_t id, mpf_err *e)
{
    fsink_state *st = oi->st;
    int keep = 0, rc = 0;
    for (int i = 0; i < st->npend; i++) {
        pending_part *p = &st->pend[i];
        if (p->ckpt > id || rc) {
            st->pend[keep++] = *p;
            continue;
        }
        char *from = part_name(oi, p->n, "pending"), *to = part_name(oi, p->n, "final");
        if (rename(from, to) != 0 && !(errno == ENOENT && access(to, F_OK) == 0))
            rc = err_set(e, MPF_EIO, "operator '%s': publishing '%s': %s", oi->spec->uid, from,
                         strerror(errno));
        free(from);
        free(to);
    }
    st->npend = keep;
    return rc;
}

static int sink_commit(op_inst *oi, mpf_err *e)
{
    fsink_state *st = oi->st;
    if (publish(oi, INT64_MAX, e))
        return e->code;
    if (!st->f)
        return 0;
    if (close_part(oi, e))
        return e->code;
    if (rename(st->tmp, st->final) != 0)
        return err_set(e, MPF_EIO, "operator '%s': renaming '%s' to '%s': %s", oi->spec->uid,
                       st->tmp, st->final, strerror(errno));
    st->committed = 1;
    return 0;
}

/* Checkpoint: stage the in-progress part (in-progress -> pending, to be
 * published when the checkpoint completes) and record what is staged and
 * the next part number: [next part i64][n u32] then [ckpt i64][part i64]. */
static int sink_snapshot(op_inst *oi, snap_writer *w, mpf_err *e)
{
    fsink_state *st = oi->st;
    const fsink_cfg *cfg = oi->spec->cfg;
    if (!cfg->path)
        return 0;
    if (sink_flush(oi, e))
        return e->code;
    if (st->f) {
        if (close_part(oi, e))
            return e->code;
        char *pend = part_name(oi, st->part, "pending");
        int bad = rename(st->tmp, pend) != 0;
        free(pend);
        if (bad)
            return err_set(e, MPF_EIO, "operator '%s': staging '%s': %s", oi->spec->uid,
                           st->tmp, strerror(errno));
        if (st->npend == st->cappend) {
            st->cappend = st->cappend ? st->cappend * 2 : 8;
            st->pend = xrealloc(st->pend, (size_t)st->cappend * sizeof *st->pend);
        }
        st->pend[st->npend++] = (pending_part){snap_id(w), st->part};
        st->part++;
    }
    size_t len = 12 + 16 * (size_t)st->npend;
    uint8_t *b = xmalloc(len);
    memcpy(b, &st->part, 8);
    uint32_t n = (uint32_t)st->npend;
    memcpy(b + 8, &n, 4);
    for (int i = 0; i < st->npend; i++) {
        memcpy(b + 12 + 16 * i, &st->pend[i].ckpt, 8);
        memcpy(b + 20 + 16 * i, &st->pend[i].n, 8);
    }
    snap_put(w, SNAP_OPERATOR, -1, b, len);
    free(b);
    return 0;
}

static int sink_checkpoint_complete(op_inst *oi, int64_t id, mpf_err *e)
{
    return ((const fsink_cfg *)oi->spec->cfg)->path ? publish(oi, id, e) : 0;
}

/* Restore: publish what the restored checkpoint staged (it completed),
 * drop parts written after it, and continue after its part numbers. The
 * blob may come from another subtask when the parallelism changed: its
 * parts keep their names. */
static int sink_restore(op_inst *oi, const snap_blob *b, mpf_err *e)
{
    fsink_state *st = oi->st;
    const fsink_cfg *cfg = oi->spec->cfg;
    if (!cfg->path)
        return 0;
    uint32_t n = 0;
    int64_t next = 0;
    if (b->len >= 12) {
        memcpy(&next, b->data, 8);
        memcpy(&n, b->data + 8, 4);
    }
    if (b->len < 12 || b->len != 12 + 16 * (size_t)n || next < 0)
        return err_set(e, MPF_EPARSE, "operator '%s': restored sink state of subtask %d is "
                       "malformed (%zu bytes)", oi->spec->uid, b->subtask, b->len);
    for (uint32_t i = 0; i < n; i++) {
        int64_t part;
        memcpy(&part, b->data + 20 + 16 * i, 8);
        char *from = xasprintf("%s/.part-%d-%lld.pending", cfg->path, b->subtask, (long long)part);
        char *to = xasprintf("%s/part-%d-%lld", cfg->path, b->subtask, (long long)part);
        int bad = rename(from, to) != 0 && !(errno == ENOENT && access(to, F_OK) == 0);
        if (bad)
            err_set(e, MPF_EIO, "operator '%s': committing restored '%s': %s", oi->spec->uid,
                    from, strerror(errno));
        free(from);
        free(to);
        if (bad)
            return e->code;
    }
    /* Parts this subtask number wrote after the checkpoint never counted,
     * not even final ones: a failure while the end of the job was being
     * committed leaves some published, and the replay writes them again. */
    for (int64_t k = next;; k++) {
        char *p = xasprintf("%s/.part-%d-%lld.pending", cfg->path, b->subtask, (long long)k);
        char *q = xasprintf("%s/.part-%d-%lld.inprogress", cfg->path, b->subtask, (long long)k);
        char *f = xasprintf("%s/part-%d-%lld", cfg->path, b->subtask, (long long)k);
        int gone = unlink(p) != 0;
        gone &= unlink(q) != 0;
        gone &= unlink(f) != 0;
        free(p);
        free(q);
        free(f);
        if (gone && k > next + 64)
            break;
    }
    if (b->subtask == oi->subtask && next > st->part)
        st->part = next;
    return 0;
}

static void sink_describe_state(const snap_blob *b, char *buf, size_t n)
{
    int64_t next = 0;
    uint32_t k = 0;
    if (b->len >= 12) {
        memcpy(&next, b->data, 8);
        memcpy(&k, b->data + 8, 4);
    }
    if (b->len < 12 || b->len != 12 + 16 * (size_t)k)
        snprintf(buf, n, "malformed sink state (%zu bytes)", b->len);
    else
        snprintf(buf, n, "next part %lld, %u part(s) staged for commit", (long long)next, k);
}

static void sink_close(op_inst *oi)
{
    fsink_state *st = oi->st;
    if (!st)
        return;
    if (st->f) {
        fclose(st->f);
        unlink(st->tmp); /* not committed: leave nothing behind */
    }
    free(st->pend); /* staged parts stay on disk for a restore */
    free(st->tmp);
    free(st->final);
    free(st->out);
    free(st);
    oi->st = NULL;
}

static void sink_describe(const op_spec *s, char *buf, size_t n)
{
    const fsink_cfg *cfg = s->cfg;
    if (strcmp(s->kind->name, "blackhole") == 0)
        snprintf(buf, n, "discard%s", cfg->rate > 0 ? " (rate-limited)" : "");
    else
        snprintf(buf, n, "csv to %s", cfg->path ? cfg->path : "stdout");
}

const op_kind op_sink_file = {
    .name = "file",
    .role = OP_SINK,
    .min_inputs = 1,
    .max_inputs = 1,
    .keys = fsink_keys,
    .summary = "CSV part files in a directory, committed when the job succeeds",
    .configure = sink_configure,
    .free_cfg = sink_free,
    .describe = sink_describe,
    .global_init = sink_global_init,
    .open = sink_open,
    .process = sink_process,
    .finish = sink_finish,
    .commit = sink_commit,
    .snapshot = sink_snapshot,
    .restore = sink_restore,
    .describe_state = sink_describe_state,
    .checkpoint_complete = sink_checkpoint_complete,
    .close = sink_close,
};

const op_kind op_sink_stdout = {
    .stateless = 1,
    .name = "stdout",
    .role = OP_SINK,
    .min_inputs = 1,
    .max_inputs = 1,
    .keys = stdout_keys,
    .summary = "CSV lines on the TaskManager's standard output",
    .configure = sink_configure,
    .free_cfg = sink_free,
    .describe = sink_describe,
    .open = sink_open,
    .process = sink_process,
    .finish = sink_finish,
    .close = sink_close,
};

static int hole_process(op_inst *oi, int input, const uint8_t *batch, mpf_err *e)
{
    const fsink_cfg *cfg = oi->spec->cfg;
    fsink_state *st = oi->st;
    if (cfg->rate <= 0)
        return 0;
    /* A slow external system: block until the rate allows this batch. */
    double per = cfg->rate / oi->spec->parallelism;
    double due = (double)(oi->records_in) / per;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double el = (double)(now.tv_sec - st->t0.tv_sec) + (now.tv_nsec - st->t0.tv_nsec) / 1e9;
    if (due > el) {
        double d = due - el;
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
    }
    return 0;
}

const op_kind op_sink_blackhole = {
    .stateless = 1,
    .name = "blackhole",
    .role = OP_SINK,
    .min_inputs = 1,
    .max_inputs = 1,
    .keys = hole_keys,
    .summary = "discard records, optionally at a limited rate",
    .configure = sink_configure,
    .free_cfg = sink_free,
    .describe = sink_describe,
    .open = sink_open,
    .process = hole_process,
    .close = sink_close,
};
