/* Sinks that write text (connectors layer): `sink: file` writes part files per
 * subtask into a directory (`path`; "-" means standard output), as CSV
 * (strings quoted when they hold the delimiter, a quote or a line break).
 * Part n of subtask i is written as `.part-<i>-<n>.inprogress`; without
 * checkpoints it is renamed to `part-<i>-<n>` only when the JobManager
 * announces that the whole job succeeded, so a failed job leaves nothing
 * that looks complete. With checkpoints a barrier stages it
 * (`.part-<i>-<n>.pending`) and the checkpoint's completion publishes it
 * (two-phase commit). Before deployment the JobManager creates the
 * directory and refuses to mix output with part files of an earlier run
 * unless `overwrite: true`.
 *
 * Committed files are never replaced: every publish is a no-replace
 * rename (fs_rename_noreplace), so an existing final name is an error
 * naming it. Names stay unique across restores and rescalings: the
 * state is union state (every subtask gets every old subtask's blob, as
 * Flink's union list state) and carries the next part number of every
 * subtask index the job ever had, so a subtask that did not exist in the
 * restored checkpoint still continues after the parts its index
 * committed in an earlier run; it also numbers past any part of its
 * index already in the directory. Old subtask j's staged parts are
 * committed, and what index j wrote after the checkpoint is removed, by
 * new subtask j mod parallelism. The state records the directory
 * (absolute) with the staged parts, so a
 * restore commits them where they were written, even when the job now
 * writes elsewhere; a restore whose staged parts are gone is refused
 * before anything runs. Restored commits and the removal of what the
 * restored checkpoint does not cover wait for the start hook
 * (sink_start), called when every TaskManager has restored without an
 * error.
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
#include "util/fsutil.h"
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

/* Work a restore leaves for sink_start, when the job starts: commit
 * a restored staged part (to NULL: only check it was committed), or
 * remove what subtask `sub` wrote after the restored checkpoint. */
typedef struct restore_action {
    char *from, *to; /* staged part and its final name */
    char *dir;       /* cleanup: directory, subtask index, first part */
    int sub;
    int64_t first;
    int finals;      /* also published parts (the replay writes them again) */
} restore_action;

typedef struct fsink_state {
    FILE *f;              /* the in-progress part, opened on first write */
    char *tmp, *final;    /* its names */
    char *dir;            /* the output directory, absolute when resolvable */
    int64_t part;         /* its number: part-<subtask>-<part> */
    int64_t written;      /* bytes in it */
    pending_part *pend;   /* staged by checkpoints, not yet published */
    int npend, cappend;
    restore_action *actions; /* what the restore left for sink_start() */
    int nactions;
    int64_t *hw;          /* restored next part number per subtask index, -1 none */
    int nhw;
    int scanned;          /* part numbers are past those in the directory */
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


static int sink_global_init(const op_spec *s, mpf_err *e)
{
    const fsink_cfg *cfg = s->cfg;
    if (!cfg->path)
        return 0;
    if (fs_mkdirs(cfg->path, 0777) != 0)
        return errno == ENOTDIR
                   ? err_set(e, MPF_EIO, "%s: output path '%s' is not a directory", op_where(s),
                             cfg->path)
                   : err_set(e, MPF_EIO, "%s: cannot create output directory '%s': %s",
                             op_where(s), cfg->path, strerror(errno));
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
    /* The state names the directory: absolute, so a restore from another
     * working directory finds the staged parts. */
    st->dir = realpath(cfg->path, NULL);
    if (!st->dir)
        st->dir = xstrdup(cfg->path);
    (void)e;
    return 0;
}

/* Names of part n of subtask sub in dir: in progress, staged, published. */
static char *part_path(const char *dir, int sub, int64_t n, const char *state)
{
    if (strcmp(state, "final") == 0)
        return xasprintf("%s/part-%d-%lld", dir, sub, (long long)n);
    return xasprintf("%s/.part-%d-%lld.%s", dir, sub, (long long)n, state);
}

static char *part_name(const op_inst *oi, int64_t n, const char *state)
{
    return part_path(((const fsink_state *)oi->st)->dir, oi->subtask, n, state);
}

/* Reads a decimal number of at most 18 digits at *p (no sign). */
static int parse_num(const char **p, int64_t *v)
{
    const char *s = *p;
    int64_t x = 0;
    int k = 0;
    for (; *s >= '0' && *s <= '9' && k < 18; s++, k++)
        x = x * 10 + (*s - '0');
    if (!k || (*s >= '0' && *s <= '9'))
        return 0;
    *p = s;
    *v = x;
    return 1;
}

/* Whether name is one of this sink's part files; fills its subtask,
 * number and state ('f' published, 'p' staged, 'i' in progress). */
static int part_parse(const char *name, int *sub, int64_t *n, char *state)
{
    int hidden = name[0] == '.';
    const char *p = name + hidden;
    int64_t s;
    if (strncmp(p, "part-", 5) != 0)
        return 0;
    p += 5;
    if (!parse_num(&p, &s) || s > INT_MAX || *p++ != '-' || !parse_num(&p, n))
        return 0;
    *sub = (int)s;
    if (!hidden && !*p)
        *state = 'f';
    else if (hidden && strcmp(p, ".pending") == 0)
        *state = 'p';
    else if (hidden && strcmp(p, ".inprogress") == 0)
        *state = 'i';
    else
        return 0;
    return 1;
}

/* Number this subtask's parts past every part of its index in the
 * directory (committed by an earlier run, even one at another
 * parallelism), and remove its in-progress files there: they are a
 * failed attempt's (this one has written none yet). */
static int scan_parts(op_inst *oi, mpf_err *e)
{
    fsink_state *st = oi->st;
    DIR *d = opendir(st->dir);
    if (!d)
        return err_set(e, MPF_EIO, "operator '%s': output directory '%s': %s", oi->spec->uid,
                       st->dir, strerror(errno));
    struct dirent *de;
    int sub;
    int64_t n;
    char state;
    while ((de = readdir(d))) {
        if (!part_parse(de->d_name, &sub, &n, &state) || sub != oi->subtask)
            continue;
        if (state == 'i') {
            char *stale = xasprintf("%s/%s", st->dir, de->d_name);
            unlink(stale);
            free(stale);
        } else if (n >= st->part) {
            st->part = n + 1;
        }
    }
    closedir(d);
    st->scanned = 1;
    return 0;
}

static int open_part(op_inst *oi, mpf_err *e)
{
    fsink_state *st = oi->st;
    if (!st->scanned && scan_parts(oi, e))
        return e->code;
    free(st->tmp);
    free(st->final);
    st->tmp = part_name(oi, st->part, "inprogress");
    st->final = part_name(oi, st->part, "final");
    st->f = fopen(st->tmp, "wx");
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

/* Give the staged (or in-progress) file `from` its final name `to`, never
 * replacing a file: an existing `to` is an error naming it, unless it is
 * `from` itself (a link()-then-unlink() commit cut short) or `from` is
 * gone because an earlier attempt committed it (a replayed commit). */
static int commit_file(const op_inst *oi, const char *from, const char *to, mpf_err *e)
{
    if (fs_rename_noreplace(from, to) == 0)
        return 0;
    int err = errno;
    if (err == EEXIST && fs_same_file(from, to)) {
        if (unlink(from) == 0 || errno == ENOENT)
            return 0;
        err = errno;
    } else if (err == ENOENT && access(from, F_OK) != 0 && access(to, F_OK) == 0) {
        return 0;
    } else if (err == EEXIST) {
        return err_set(e, MPF_EIO, "operator '%s': '%s' already exists; not replacing a "
                       "committed file with '%s' (is another job or sink writing part files "
                       "into this directory?)", oi->spec->uid, to, from);
    }
    return err_set(e, MPF_EIO, "operator '%s': committing '%s' as '%s': %s", oi->spec->uid,
                   from, to, strerror(err));
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
        rc = commit_file(oi, from, to, e);
        if (rc)
            st->pend[keep++] = *p;
        free(from);
        free(to);
    }
    st->npend = keep;
    return rc;
}

/* Remove what subtask t->sub wrote in t->dir from part t->first on: the
 * restored checkpoint does not cover it (staged or in progress when the
 * job failed, or published at the end of a job that then failed while
 * committing, which the replay writes again). */
static int remove_after(const op_inst *oi, const restore_action *t, mpf_err *e)
{
    DIR *d = opendir(t->dir);
    if (!d)
        return errno == ENOENT ? 0
                               : err_set(e, MPF_EIO, "operator '%s': output directory '%s': %s",
                                         oi->spec->uid, t->dir, strerror(errno));
    struct dirent *de;
    int sub, rc = 0;
    int64_t n;
    char state;
    while ((de = readdir(d)) && !rc) {
        if (!part_parse(de->d_name, &sub, &n, &state) || sub != t->sub || n < t->first ||
            (state == 'f' && !t->finals))
            continue;
        char *f = xasprintf("%s/%s", t->dir, de->d_name);
        if (unlink(f) != 0 && errno != ENOENT)
            rc = err_set(e, MPF_EIO, "operator '%s': removing '%s', written after the restored "
                         "checkpoint: %s", oi->spec->uid, f, strerror(errno));
        free(f);
    }
    closedir(d);
    return rc;
}

static void actions_free(fsink_state *st)
{
    for (int i = 0; i < st->nactions; i++) {
        free(st->actions[i].from);
        free(st->actions[i].to);
        free(st->actions[i].dir);
    }
    free(st->actions);
    st->actions = NULL;
    st->nactions = 0;
}

/* The restore's work, when the job starts: every TaskManager has restored
 * (and checked its staged parts) by then, so a refused restore has
 * committed and removed nothing. */
static int sink_start(op_inst *oi, mpf_err *e)
{
    fsink_state *st = oi->st;
    int rc = 0;
    for (int i = 0; i < st->nactions && !rc; i++) {
        restore_action *t = &st->actions[i];
        rc = t->from ? commit_file(oi, t->from, t->to, e) : remove_after(oi, t, e);
    }
    actions_free(st);
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
    if (commit_file(oi, st->tmp, st->final, e))
        return e->code;
    st->committed = 1;
    return 0;
}

/* Sink state, one blob per subtask: [-2 i64: this format][next part i64]
 * [dir length u32][dir, absolute, no NUL][n u32] then n times [ckpt i64]
 * [part i64]: the parts staged and not yet known to be published, in
 * dir; then [m u32] and m times [subtask i32][next part i64]: the next
 * part number of every subtask index the job has had (this one's too).
 * Earlier builds wrote [next part i64][n u32][ckpt i64][part i64]...
 * with no directory (it was the sink's path) and no table. */
#define SINK_BLOB_V2 (-2)
#define SINK_MAX_SUBTASKS 32768 /* Flink's largest max-parallelism */

typedef struct sink_blob {
    int64_t next;
    const char *dir; /* NULL: an earlier build's blob */
    uint32_t dirlen, n, m;
    const uint8_t *parts, *table;
} sink_blob;

static int sink_blob_parse(const snap_blob *b, sink_blob *sb)
{
    memset(sb, 0, sizeof *sb);
    int64_t tag = -1;
    if (b->len >= 8)
        tag = rd_i64(b->data);
    size_t at = 0;
    if (tag == SINK_BLOB_V2) {
        if (b->len < 24)
            return -1;
        sb->next = rd_i64(b->data + 8);
        sb->dirlen = rd_u32(b->data + 16);
        if (sb->dirlen == 0 || sb->dirlen > 4096 || b->len < 24 + (size_t)sb->dirlen)
            return -1;
        sb->dir = (const char *)b->data + 20;
        if (memchr(sb->dir, '\0', sb->dirlen))
            return -1;
        at = 20 + sb->dirlen;
    } else {
        if (b->len < 12)
            return -1;
        sb->next = rd_i64(b->data);
        at = 8;
    }
    sb->n = rd_u32(b->data + at);
    at += 4;
    if (sb->next < 0 || sb->n > (b->len - at) / 16)
        return -1;
    sb->parts = b->data + at;
    at += 16 * (size_t)sb->n;
    for (uint32_t i = 0; i < sb->n; i++) {
        int64_t part;
        memcpy(&part, sb->parts + 16 * i + 8, 8);
        if (part < 0 || part >= sb->next)
            return -1;
    }
    if (!sb->dir)
        return b->len == at ? 0 : -1;
    if (b->len - at < 4)
        return -1;
    sb->m = rd_u32(b->data + at);
    at += 4;
    if (sb->m > (b->len - at) / 12 || b->len != at + 12 * (size_t)sb->m)
        return -1;
    sb->table = b->data + at;
    for (uint32_t i = 0; i < sb->m; i++) {
        int32_t sub;
        int64_t next;
        sub = rd_u32(sb->table + 12 * i);
        next = rd_i64(sb->table + 12 * i + 4);
        if (sub < 0 || sub >= SINK_MAX_SUBTASKS || next < 0 ||
            (sub == b->subtask && next != sb->next))
            return -1;
    }
    return 0;
}

/* Raise the restored next part number of subtask index sub to next. */
static void hw_raise(fsink_state *st, int sub, int64_t next)
{
    if (sub >= st->nhw) {
        int n = sub + 1;
        st->hw = xrealloc(st->hw, (size_t)n * sizeof *st->hw);
        for (int i = st->nhw; i < n; i++)
            st->hw[i] = -1;
        st->nhw = n;
    }
    if (next > st->hw[sub])
        st->hw[sub] = next;
}

/* Checkpoint: stage the in-progress part (in-progress -> pending, to be
 * published when the checkpoint completes) and record what is staged, the
 * next part number and the directory (format above). */
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
        int bad = fs_rename_noreplace(st->tmp, pend) != 0;
        if (bad)
            err_set(e, MPF_EIO, "operator '%s': staging '%s' as '%s': %s", oi->spec->uid,
                    st->tmp, pend, strerror(errno));
        free(pend);
        if (bad)
            return e->code;
        if (st->npend == st->cappend) {
            st->cappend = st->cappend ? st->cappend * 2 : 8;
            st->pend = xrealloc(st->pend, (size_t)st->cappend * sizeof *st->pend);
        }
        st->pend[st->npend++] = (pending_part){snap_id(w), st->part};
        st->part++;
    }
    uint32_t dirlen = (uint32_t)strlen(st->dir), n = (uint32_t)st->npend, m = 0;
    int top = st->nhw > oi->subtask ? st->nhw : oi->subtask + 1;
    for (int i = 0; i < top; i++)
        m += i == oi->subtask || (i < st->nhw && st->hw[i] >= 0);
    size_t len = 28 + dirlen + 16 * (size_t)st->npend + 12 * (size_t)m;
    uint8_t *b = xmalloc(len);
    int64_t tag = SINK_BLOB_V2;
    wr_i64(b, tag);
    wr_i64(b + 8, st->part);
    wr_u32(b + 16, dirlen);
    memcpy(b + 20, st->dir, dirlen);
    wr_u32(b + 20 + dirlen, n);
    uint8_t *q = b + 24 + dirlen;
    for (int i = 0; i < st->npend; i++) {
        wr_i64(q + 16 * i, st->pend[i].ckpt);
        wr_i64(q + 16 * i + 8, st->pend[i].n);
    }
    q += 16 * (size_t)st->npend;
    wr_u32(q, m);
    q += 4;
    for (int32_t i = 0; i < top; i++) {
        if (i != oi->subtask && (i >= st->nhw || st->hw[i] < 0))
            continue;
        wr_u32(q, i);
        wr_i64(q + 4, i == oi->subtask ? st->part : st->hw[i]);
        q += 12;
    }
    snap_put(w, SNAP_OPERATOR, -1, b, len);
    free(b);
    return 0;
}

static int sink_checkpoint_complete(op_inst *oi, int64_t id, mpf_err *e)
{
    if (!((const fsink_cfg *)oi->spec->cfg)->path)
        return 0;
    return publish(oi, id, e);
}

static restore_action *action_add(fsink_state *st)
{
    st->actions = xrealloc(st->actions, (size_t)(st->nactions + 1) * sizeof *st->actions);
    restore_action *t = &st->actions[st->nactions++];
    memset(t, 0, sizeof *t);
    return t;
}

/* Restore one old subtask's blob; every subtask gets every blob (union
 * state). All of them raise the next part numbers (this subtask's own
 * continues after them: sink_restore_end). The blob's staged parts
 * belong to subtask (old index mod parallelism): each must still be
 * staged or already published, else the restore is refused now, before
 * anything runs; they are published by sink_start() when the job starts. */
static int sink_restore(op_inst *oi, const snap_blob *b, mpf_err *e)
{
    fsink_state *st = oi->st;
    const fsink_cfg *cfg = oi->spec->cfg;
    if (!cfg->path)
        return 0;
    sink_blob sb;
    if (b->kind != SNAP_OPERATOR || b->subtask < 0 || b->subtask >= SINK_MAX_SUBTASKS ||
        sink_blob_parse(b, &sb) != 0)
        return err_set(e, MPF_EPARSE, "operator '%s': restored sink state of subtask %d is "
                       "malformed (%zu bytes)", oi->spec->uid, b->subtask, b->len);
    hw_raise(st, b->subtask, sb.next);
    for (uint32_t i = 0; i < sb.m; i++) {
        int32_t sub;
        int64_t next;
        sub = rd_u32(sb.table + 12 * i);
        next = rd_i64(sb.table + 12 * i + 4);
        hw_raise(st, sub, next);
    }
    if (b->subtask % oi->spec->parallelism != oi->subtask)
        return 0;
    char *dir = sb.dir ? xstrndup(sb.dir, sb.dirlen) : xstrdup(st->dir);
    int rc = 0;
    for (uint32_t i = 0; i < sb.n && !rc; i++) {
        int64_t part;
        memcpy(&part, sb.parts + 16 * i + 8, 8);
        char *from = part_path(dir, b->subtask, part, "pending");
        char *to = part_path(dir, b->subtask, part, "final");
        int staged = access(from, F_OK) == 0, published = access(to, F_OK) == 0;
        if (!staged && !published)
            rc = err_set(e, MPF_EIO, "operator '%s': the restored checkpoint staged '%s' for "
                         "commit, but neither it nor '%s' exists (was the output directory "
                         "moved or emptied? put the files back, or drop the sink's state: give "
                         "the sink a new uid and pass --allow-non-restored-state)",
                         oi->spec->uid, from, to);
        else if (staged && published && !fs_same_file(from, to))
            rc = err_set(e, MPF_EIO, "operator '%s': the restored checkpoint staged '%s' for "
                         "commit, but '%s' already exists; a committed file is never replaced",
                         oi->spec->uid, from, to);
        if (!rc && staged) {
            restore_action *t = action_add(st);
            t->from = from;
            t->to = to;
        } else {
            free(from);
            free(to);
        }
    }
    /* What it staged or had in progress after the checkpoint, where it
     * wrote, goes when the job starts (sink_start); sink_restore_end
     * schedules the same for this directory. */
    char *real = realpath(dir, NULL);
    if (!rc && strcmp(real ? real : dir, st->dir) != 0) {
        restore_action *t = action_add(st);
        t->dir = dir;
        t->sub = b->subtask;
        t->first = sb.next;
        dir = NULL;
    }
    free(real);
    free(dir);
    return rc;
}

/* After the last blob: this subtask continues after its index's restored
 * part number, and has sink_start remove from this directory every part
 * that an index it now stands for (i mod parallelism = its own) wrote
 * from that index's restored number on: the checkpoint does not cover them (staged or in
 * progress when the job failed, or published at the end of a job that
 * then failed while committing, which the replay writes again), and no
 * part the checkpoint covers has such a number. */
static int sink_restore_end(op_inst *oi, mpf_err *e)
{
    fsink_state *st = oi->st;
    (void)e;
    if (!((const fsink_cfg *)oi->spec->cfg)->path)
        return 0;
    if (oi->subtask < st->nhw && st->hw[oi->subtask] > st->part)
        st->part = st->hw[oi->subtask];
    for (int i = oi->subtask; i < st->nhw; i += oi->spec->parallelism) {
        if (st->hw[i] < 0)
            continue;
        restore_action *t = action_add(st);
        t->dir = xstrdup(st->dir);
        t->sub = i;
        t->first = st->hw[i];
        t->finals = 1;
    }
    return 0;
}

static void sink_describe_state(const snap_blob *b, char *buf, size_t n)
{
    sink_blob sb;
    if (sink_blob_parse(b, &sb) != 0)
        snprintf(buf, n, "malformed sink state (%zu bytes)", b->len);
    else if (!sb.dir)
        snprintf(buf, n, "next part %lld, %u part(s) staged for commit (an earlier build's "
                 "format: in the sink's path)", (long long)sb.next, sb.n);
    else
        snprintf(buf, n, "next part %lld, %u part(s) staged for commit, next part numbers of "
                 "%u subtask index(es); in %.*s", (long long)sb.next, sb.n, sb.m,
                 (int)sb.dirlen, sb.dir);
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
    actions_free(st);
    free(st->hw);
    free(st->pend); /* staged parts stay on disk for a restore */
    free(st->tmp);
    free(st->final);
    free(st->dir);
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
    .restore_end = sink_restore_end,
    .start = sink_start,
    .union_state = 1,
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
