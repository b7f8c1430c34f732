/* `source: file`: lines or CSV records from a file, a directory of files,
 * or the built-in sample text (`builtin:sample`) (connectors layer).
 *
 * The input is split among subtasks by byte range over the files in name
 * order (hidden files and names starting with '_' skipped). A line belongs
 * to the split in which it starts, so a split that begins mid-line skips
 * to the next line and the last line of a split may run past its end, as
 * Hadoop's text input does. Lines end at '\n'; a trailing '\r' is dropped.
 *
 * format: lines -> (line: string), field name set by `field`.
 * format: csv   -> fields: [{name, type}], delimiter (default ","),
 *                  header (skip each file's first line), RFC 4180 quotes.
 * A CSV record that does not parse fails the job with file:line:col, or is
 * counted and skipped when csv.ignore-parse-errors is true.
 * `rows-per-second` limits the total rate (shared by the subtasks).
 *
 * Checkpoints: each subtask's position, as one SNAP_OPERATOR blob
 * [u32 version 2][u32 splits][u64 fingerprint][u32 split][i64 offset]
 * [i64 line]: the subtask's split count, an XXH3 of its splits (the
 * files' realpaths and byte ranges, so a changed input is refused but the
 * same files spelled another way restore; version 1 hashed the names as
 * spelled and is still read), the split it is
 * reading, the byte offset in that split's file of the next line (-1:
 * the split is not begun) and that line's number (0: unknown). A file
 * source keeps its parallelism across a restore (no union state), so a
 * subtask gets back its own splits and resumes at the next line. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ops/op.h"
#include "connectors/csvrow.h"
#include "connectors/srcutil.h"
#include "record/keygroup.h"
#include "record/segpool.h"
#include "util/xmalloc.h"

extern const char mpf_sample_text[];
extern const size_t mpf_sample_text_len;

#define BUILTIN_PREFIX "builtin:"

typedef struct fsrc_cfg {
    char *path;
    int csv, header, ignore_errors;
    char delim;
    double rate; /* rows per second in total; 0: unlimited */
} fsrc_cfg;

typedef struct fpart {
    char *file; /* path, or NULL for the built-in text */
    int64_t start, end;
} fpart;

typedef struct fsrc_state {
    fpart *parts;
    int nparts, cur;
    int fd;
    int64_t fsize;
    char *buf;
    size_t cap, len, pos; /* buf holds file bytes [buf_off, buf_off+len) */
    int64_t buf_off;
    int64_t line_no; /* line number of the next line; 0 when unknown */
    int started, part_done;
    recbuf rb;
    uint64_t fingerprint; /* of the splits, for checkpoints (version 2) */
    uint64_t fingerprint_v1; /* the same as version 1 checkpoints hashed it */
    srcutil_rate rate;
    int64_t rows;         /* emitted since open (for the rate) */
    int64_t pending0;     /* bytes left at the first poll; -1 before it */
} fsrc_state;

static const char *const fsrc_keys[] = {"path", "format", "field", "fields", "delimiter",
                                        "header", "csv.ignore-parse-errors", "rows-per-second",
                                        NULL};

static int fsrc_configure(op_spec *s, const conf *c, mpf_err *e)
{
    const char *format = "lines", *field = "line", *delim = ",";
    fsrc_cfg *cfg = xcalloc(1, sizeof *cfg);
    if (srcutil_get_input_path(s->node, "path", 1, &cfg->path, e) ||
        ynode_get_str(s->node, "format", 0, &format, e) ||
        ynode_get_str(s->node, "field", 0, &field, e) ||
        ynode_get_str(s->node, "delimiter", 0, &delim, e) ||
        ynode_get_bool(s->node, "header", 0, &cfg->header, e) ||
        ynode_get_bool(s->node, "csv.ignore-parse-errors", 0, &cfg->ignore_errors, e) ||
        ynode_get_f64(s->node, "rows-per-second", 0, &cfg->rate, e))
        goto fail;
    if (cfg->rate < 0) {
        err_set(e, MPF_EJOB, "%s: rows-per-second must not be negative",
                ynode_pos(ynode_get(s->node, "rows-per-second")));
        goto fail;
    }
    if (strlen(delim) != 1) {
        err_set(e, MPF_EJOB, "%s: delimiter must be one character",
                ynode_pos(ynode_get(s->node, "delimiter")));
        goto fail;
    }
    cfg->delim = delim[0];
    if (strncmp(cfg->path, BUILTIN_PREFIX, strlen(BUILTIN_PREFIX)) == 0 &&
        strcmp(cfg->path, BUILTIN_PREFIX "sample") != 0) {
        err_set(e, MPF_EJOB, "%s: unknown built-in input '%s' (there is builtin:sample)",
                ynode_pos(ynode_get(s->node, "path")), cfg->path);
        goto fail;
    }
    if (strcmp(format, "lines") == 0) {
        schema_add(&s->out_schema, field, FT_STRING);
    } else if (strcmp(format, "csv") == 0) {
        cfg->csv = 1;
        const ynode *fl = ynode_get(s->node, "fields");
        if (!fl || fl->kind != YNODE_SEQ || fl->n == 0) {
            err_set(e, MPF_EJOB, "%s: format csv needs fields: [{name, type}, ...]",
                    op_where(s));
            goto fail;
        }
        for (size_t i = 0; i < fl->n; i++) {
            const char *name = NULL, *type = NULL;
            field_type t;
            static const char *const fk[] = {"name", "type", NULL};
            if (ynode_check_keys(fl->items[i], fk, "a CSV field", e) ||
                ynode_get_str(fl->items[i], "name", 1, &name, e) ||
                ynode_get_str(fl->items[i], "type", 1, &type, e))
                goto fail;
            if (field_type_parse(type, &t)) {
                err_set(e, MPF_EJOB, "%s: unknown type '%s' (i64, f64, bool, string, timestamp)",
                        ynode_pos(ynode_get(fl->items[i], "type")), type);
                goto fail;
            }
            if (schema_find(&s->out_schema, name) >= 0) {
                err_set(e, MPF_EJOB, "%s: duplicate field '%s'", ynode_pos(fl->items[i]), name);
                goto fail;
            }
            schema_add(&s->out_schema, name, t);
        }
    } else {
        err_set(e, MPF_EJOB, "%s: format must be lines or csv, got '%s'",
                ynode_pos(ynode_get(s->node, "format")), format);
        goto fail;
    }
    s->cfg = cfg;
    s->bounded = 1;
    return 0;
fail:
    schema_fini(&s->out_schema);
    free(cfg->path);
    free(cfg);
    return err_prefix(e, "operator '%s'", s->uid);
}

static void fsrc_free(void *p)
{
    fsrc_cfg *cfg = p;
    free(cfg->path);
    free(cfg);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of the input in order, with sizes. */
static int list_inputs(const op_spec *s, char ***files, int64_t **sizes, int *n, mpf_err *e)
{
    const fsrc_cfg *cfg = s->cfg;
    struct stat sb;
    *n = 0;
    *files = NULL;
    *sizes = NULL;
    if (strncmp(cfg->path, BUILTIN_PREFIX, strlen(BUILTIN_PREFIX)) == 0) {
        *files = xcalloc(1, sizeof **files);
        *sizes = xmalloc(sizeof **sizes);
        (*sizes)[0] = (int64_t)mpf_sample_text_len;
        *n = 1;
        return 0;
    }
    if (stat(cfg->path, &sb) != 0)
        return err_set(e, MPF_EIO, "%s: input path '%s': %s", op_where(s), cfg->path,
                       strerror(errno));
    if (!S_ISDIR(sb.st_mode)) {
        if (access(cfg->path, R_OK) != 0)
            return err_set(e, MPF_EIO, "%s: input file '%s': %s", op_where(s), cfg->path,
                           strerror(errno));
        *files = xmalloc(sizeof **files);
        (*files)[0] = xstrdup(cfg->path);
        *sizes = xmalloc(sizeof **sizes);
        (*sizes)[0] = sb.st_size;
        *n = 1;
        return 0;
    }
    DIR *d = opendir(cfg->path);
    if (!d)
        return err_set(e, MPF_EIO, "%s: input directory '%s': %s", op_where(s), cfg->path,
                       strerror(errno));
    struct dirent *de;
    int cap = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_')
            continue;
        char *full = xasprintf("%s/%s", cfg->path, de->d_name);
        if (stat(full, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            free(full);
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *files = xrealloc(*files, (size_t)cap * sizeof **files);
        }
        (*files)[(*n)++] = full;
    }
    closedir(d);
    if (*n)
        qsort(*files, (size_t)*n, sizeof **files, name_cmp);
    *sizes = xcalloc((size_t)*n + 1, sizeof **sizes);
    for (int i = 0; i < *n; i++) {
        if (stat((*files)[i], &sb) != 0)
            return err_set(e, MPF_EIO, "%s: input file '%s': %s", op_where(s), (*files)[i],
                           strerror(errno));
        (*sizes)[i] = sb.st_size;
    }
    return 0;
}

static void free_list(char **files, int64_t *sizes, int n)
{
    for (int i = 0; i < n; i++)
        free(files[i]);
    free(files);
    free(sizes);
}

static int fsrc_global_init(const op_spec *s, mpf_err *e)
{
    char **files;
    int64_t *sizes;
    int n;
    int rc = list_inputs(s, &files, &sizes, &n, e);
    free_list(files, sizes, n);
    return rc;
}

static const char *part_name(const fpart *fp)
{
    return fp->file ? fp->file : "builtin:sample";
}

/* Fingerprint of the splits: file names and byte ranges. Version 2 names
 * each file by its realpath, so the same input spelled differently (a
 * relative --input before, an absolute one now) restores; version 1
 * checkpoints hashed the names as spelled (resolved = 0). */
static uint64_t splits_fingerprint(const fsrc_state *st, int resolved)
{
    recbuf fpb;
    recbuf_init(&fpb);
    fpb.len = 0;
    for (int i = 0; i < st->nparts; i++) {
        const char *name = part_name(&st->parts[i]);
        char *real = resolved && st->parts[i].file ? realpath(name, NULL) : NULL;
        if (real)
            name = real;
        size_t nl = strlen(name) + 1;
        while (fpb.cap < fpb.len + nl + 16) {
            fpb.cap *= 2;
            fpb.p = xrealloc(fpb.p, fpb.cap);
        }
        memcpy(fpb.p + fpb.len, name, nl);
        memcpy(fpb.p + fpb.len + nl, &st->parts[i].start, 8);
        memcpy(fpb.p + fpb.len + nl + 8, &st->parts[i].end, 8);
        fpb.len += (uint32_t)(nl + 16);
        free(real);
    }
    uint64_t h = key_hash(fpb.p, fpb.len);
    recbuf_fini(&fpb);
    return h;
}

static int fsrc_open(op_inst *oi, mpf_err *e)
{
    char **files;
    int64_t *sizes;
    int n;
    if (list_inputs(oi->spec, &files, &sizes, &n, e)) {
        free_list(files, sizes, n);
        return e->code;
    }
    fsrc_state *st = xcalloc(1, sizeof *st);
    st->fd = -1;
    st->pending0 = -1;
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        total += sizes[i];
    int p = oi->spec->parallelism, me = oi->subtask;
    int64_t lo = (int64_t)((__int128)total * me / p), hi = (int64_t)((__int128)total * (me + 1) / p);
    st->parts = xcalloc((size_t)n + 1, sizeof *st->parts);
    int64_t base = 0;
    for (int i = 0; i < n; i++) {
        int64_t s0 = lo > base ? lo - base : 0, e0 = hi - base < sizes[i] ? hi - base : sizes[i];
        if (s0 < e0 && s0 < sizes[i]) {
            fpart *fp = &st->parts[st->nparts++];
            fp->file = files[i] ? xstrdup(files[i]) : NULL;
            fp->start = s0;
            fp->end = e0;
        }
        base += sizes[i];
    }
    free_list(files, sizes, n);
    st->fingerprint = splits_fingerprint(st, 1);
    st->fingerprint_v1 = splits_fingerprint(st, 0);
    srcutil_rate_start(&st->rate, ((const fsrc_cfg *)oi->spec->cfg)->rate, p);
    size_t seg = segpool_segment_size();
    st->cap = (seg * 2 > (1u << 20) ? seg * 2 : (1u << 20));
    st->buf = xmalloc(st->cap);
    recbuf_init(&st->rb);
    oi->st = st;
    return 0;
}

/* Read more bytes of the current file into the buffer. Returns bytes read,
 * 0 at EOF, -1 on error. */
static ssize_t fill(fsrc_state *st, mpf_err *e)
{
    fpart *fp = &st->parts[st->cur];
    if (st->pos > 0) {
        memmove(st->buf, st->buf + st->pos, st->len - st->pos);
        st->buf_off += (int64_t)st->pos;
        st->len -= st->pos;
        st->pos = 0;
    }
    if (st->len == st->cap)
        return -2; /* a line longer than the buffer */
    int64_t at = st->buf_off + (int64_t)st->len;
    ssize_t n;
    if (!fp->file) {
        int64_t left = (int64_t)mpf_sample_text_len - at;
        n = left <= 0 ? 0 : (ssize_t)(left < (int64_t)(st->cap - st->len) ? left : (int64_t)(st->cap - st->len));
        if (n > 0)
            memcpy(st->buf + st->len, mpf_sample_text + at, (size_t)n);
    } else {
        do
            n = pread(st->fd, st->buf + st->len, st->cap - st->len, at);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            err_set(e, MPF_EIO, "reading '%s': %s", fp->file, strerror(errno));
            return -1;
        }
    }
    st->len += (size_t)n;
    return n;
}

static int64_t lines_before(const fpart *fp, int64_t off)
{
    int64_t lines = 1;
    if (!fp->file) {
        for (int64_t i = 0; i < off; i++)
            lines += mpf_sample_text[i] == '\n';
        return lines;
    }
    int fd = open(fp->file, O_RDONLY);
    if (fd < 0)
        return 0;
    char buf[65536];
    for (int64_t at = 0; at < off;) {
        ssize_t n = pread(fd, buf, (size_t)(off - at < 65536 ? off - at : 65536), at);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
        at += n;
    }
    close(fd);
    return lines;
}

/* Open the current split and go to its first line, or, when resume >= 0
 * (a restored position), to the line at byte resume (numbered line_no,
 * 0: unknown). */
static int open_part(fsrc_state *st, int64_t resume, int64_t line_no, mpf_err *e)
{
    fpart *fp = &st->parts[st->cur];
    if (fp->file) {
        st->fd = open(fp->file, O_RDONLY);
        if (st->fd < 0)
            return err_set(e, MPF_EIO, "cannot open '%s': %s", fp->file, strerror(errno));
#ifdef POSIX_FADV_SEQUENTIAL
        posix_fadvise(st->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }
    st->len = st->pos = 0;
    st->part_done = 0;
    if (resume >= 0) {
        st->buf_off = resume;
        st->line_no = line_no;
        st->started = 1;
        return 0;
    }
    st->line_no = fp->start == 0 ? 1 : 0;
    /* Begin at the first line that starts inside the split. */
    st->buf_off = fp->start > 0 ? fp->start - 1 : 0;
    if (fp->start > 0) {
        for (;;) {
            if (st->pos >= st->len) {
                ssize_t n = fill(st, e);
                if (n < 0)
                    return e->code;
                if (n == 0) {
                    st->part_done = 1;
                    break;
                }
            }
            char *nl = memchr(st->buf + st->pos, '\n', st->len - st->pos);
            if (nl) {
                st->pos = (size_t)(nl - st->buf) + 1;
                break;
            }
            st->pos = st->len;
        }
    }
    st->started = 1;
    return 0;
}

static void close_part(fsrc_state *st)
{
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
    st->started = 0;
    st->cur++;
}

static int fsrc_read_lines(op_inst *oi, mpf_err *e)
{
    const fsrc_cfg *cfg = oi->spec->cfg;
    fsrc_state *st = oi->st;
    size_t seg = segpool_segment_size(), emitted = 0;
    size_t max_line = seg - BATCH_HDR_SIZE - 8;
    int64_t budget = srcutil_rate_allowed(&st->rate, st->rows, INT64_MAX);
    while (emitted < seg) {
        if (st->cur >= st->nparts)
            return 0;
        if (budget <= 0)
            break;
        fpart *fp = &st->parts[st->cur];
        if (!st->started && open_part(st, -1, 0, e))
            return err_prefix(e, "operator '%s'", oi->spec->uid);
        if (st->part_done || st->buf_off + (int64_t)st->pos >= fp->end) {
            close_part(st);
            continue;
        }
        char *nl = memchr(st->buf + st->pos, '\n', st->len - st->pos);
        if (!nl) {
            ssize_t n = st->len - st->pos > max_line ? -2 : fill(st, e);
            if (n == -1)
                return err_prefix(e, "operator '%s'", oi->spec->uid);
            if (n == -2) {
                int64_t ln = st->line_no ? st->line_no : lines_before(fp, st->buf_off + (int64_t)st->pos);
                return err_set(e, MPF_ETOOBIG, "operator '%s': %s:%lld: line longer than %zu "
                               "bytes does not fit a record batch; raise "
                               "taskmanager.memory.segment-size", oi->spec->uid, part_name(fp),
                               (long long)ln, max_line);
            }
            if (n > 0)
                continue;
            if (st->pos == st->len) { /* EOF exactly after a newline */
                st->part_done = 1;
                continue;
            }
            nl = st->buf + st->len; /* last line without a newline */
        }
        size_t start = st->pos, len = (size_t)(nl - (st->buf + start));
        st->pos = nl < st->buf + st->len ? (size_t)(nl - st->buf) + 1 : st->len;
        if (st->pos == st->len && nl == st->buf + st->len)
            st->part_done = 1;
        int64_t line_no = st->line_no;
        if (st->line_no)
            st->line_no++;
        if (len > max_line) {
            int64_t ln = line_no ? line_no : lines_before(fp, st->buf_off + (int64_t)start);
            return err_set(e, MPF_ETOOBIG, "operator '%s': %s:%lld: line of %zu bytes does not "
                           "fit a record batch; raise taskmanager.memory.segment-size",
                           oi->spec->uid, part_name(fp), (long long)ln, len);
        }
        const char *line = st->buf + start;
        if (len && line[len - 1] == '\r')
            len--;
        if (!cfg->csv) {
            recbuf_begin(&st->rb);
            recbuf_str(&st->rb, line, (uint32_t)len);
            recbuf_end(&st->rb);
        } else {
            int64_t off = st->buf_off + (int64_t)start;
            if (len == 0 || (cfg->header && off == 0))
                continue;
            char why[256];
            if (csvrow_parse(&oi->spec->out_schema, cfg->delim, line, len, &st->rb, why,
                             sizeof why)) {
                if (cfg->ignore_errors) {
                    oi->records_skipped++;
                    continue;
                }
                int64_t ln = line_no ? line_no : lines_before(fp, off);
                return err_set(e, MPF_EPARSE, "operator '%s': %s:%lld: %s (set "
                               "csv.ignore-parse-errors: true to skip bad records)",
                               oi->spec->uid, part_name(fp), (long long)ln, why);
            }
        }
        op_emit(oi, st->rb.p, st->rb.len);
        emitted += st->rb.len;
        st->rows++;
        budget--;
    }
    return MPF_EAGAIN;
}

/* Bytes of this subtask's splits not read yet. */
static int64_t pending_bytes(const fsrc_state *st)
{
    int64_t n = 0;
    for (int i = st->cur; i < st->nparts; i++) {
        const fpart *fp = &st->parts[i];
        int64_t at = fp->start;
        if (i == st->cur && st->started && st->buf_off + (int64_t)st->pos > at)
            at = st->buf_off + (int64_t)st->pos;
        if (fp->end > at)
            n += fp->end - at;
    }
    return n;
}

/* Lines to records, then what is left and what was read (pendingBytes,
 * numBytesIn since open) for the progress the JobManager shows. */
static int fsrc_poll(op_inst *oi, mpf_err *e)
{
    fsrc_state *st = oi->st;
    if (st->pending0 < 0)
        st->pending0 = pending_bytes(st);
    int rc = fsrc_read_lines(oi, e);
    int64_t left = rc == 0 ? 0 : pending_bytes(st);
    oi->pending_bytes = left;
    oi->bytes_in = st->pending0 - left;
    return rc;
}

/* ---- checkpoints ---- */

#define FSNAP_VERSION 2u /* 1: the fingerprint hashed file names as spelled */
#define FSNAP_SIZE 36u

static int fsrc_snapshot(op_inst *oi, snap_writer *w, mpf_err *e)
{
    (void)e;
    fsrc_state *st = oi->st;
    uint32_t cur = (uint32_t)st->cur;
    int64_t next = -1, line = 0;
    if (st->cur < st->nparts && st->started) {
        int64_t off = st->buf_off + (int64_t)st->pos;
        if (st->part_done || off >= st->parts[st->cur].end) {
            cur++; /* this split is read to its end */
        } else {
            next = off;
            line = st->line_no;
        }
    }
    uint8_t b[FSNAP_SIZE];
    uint32_t version = FSNAP_VERSION, nparts = (uint32_t)st->nparts;
    wr_u32(b, version);
    wr_u32(b + 4, nparts);
    wr_u64(b + 8, st->fingerprint);
    wr_u32(b + 16, cur);
    wr_i64(b + 20, next);
    wr_i64(b + 28, line);
    snap_put(w, SNAP_OPERATOR, -1, b, sizeof b);
    return 0;
}

static void fsrc_describe_state(const snap_blob *sb, char *buf, size_t n)
{
    uint32_t nparts, cur;
    int64_t next, line;
    if (sb->len != FSNAP_SIZE) {
        snprintf(buf, n, "malformed position (%zu bytes)", sb->len);
        return;
    }
    nparts = rd_u32(sb->data + 4);
    cur = rd_u32(sb->data + 16);
    next = rd_i64(sb->data + 20);
    line = rd_i64(sb->data + 28);
    if (cur >= nparts)
        snprintf(buf, n, "all %u split(s) read", nparts);
    else if (next < 0)
        snprintf(buf, n, "split %u of %u, not started", cur + 1, nparts);
    else
        snprintf(buf, n, "split %u of %u, next line at byte %lld (line %lld)", cur + 1, nparts,
                 (long long)next, (long long)line);
}

static int fsrc_restore(op_inst *oi, const snap_blob *sb, mpf_err *e)
{
    fsrc_state *st = oi->st;
    if (sb->kind != SNAP_OPERATOR || sb->len != FSNAP_SIZE || sb->subtask != oi->subtask)
        return err_set(e, MPF_EPARSE, "operator '%s' subtask %d: restored source position is "
                       "malformed (%zu bytes of %s state from subtask %d; expected %u bytes "
                       "from subtask %d)", oi->spec->uid, oi->subtask, sb->len,
                       sb->kind == SNAP_KEYED ? "keyed" : "operator", sb->subtask, FSNAP_SIZE,
                       oi->subtask);
    uint32_t version, nparts, cur;
    uint64_t fp;
    int64_t next, line;
    version = rd_u32(sb->data);
    nparts = rd_u32(sb->data + 4);
    fp = rd_u64(sb->data + 8);
    cur = rd_u32(sb->data + 16);
    next = rd_i64(sb->data + 20);
    line = rd_i64(sb->data + 28);
    if (version != FSNAP_VERSION && version != 1)
        return err_set(e, MPF_EPARSE, "operator '%s' subtask %d: restored source position has "
                       "format version %u, expected 1 or %u", oi->spec->uid, oi->subtask,
                       version, FSNAP_VERSION);
    uint64_t want = version == 1 ? st->fingerprint_v1 : st->fingerprint;
    if (nparts != (uint32_t)st->nparts || fp != want) {
        char how[96] = "its files or their sizes differ";
        if (nparts != (uint32_t)st->nparts)
            snprintf(how, sizeof how, "it read %u file splits then and has %d now", nparts,
                     st->nparts);
        return err_set(e, MPF_EPARSE, "operator '%s' subtask %d: the input files changed since "
                       "the checkpoint (%s), so it cannot resume where it was", oi->spec->uid,
                       oi->subtask, how);
    }
    const fpart *p = cur < nparts ? &st->parts[cur] : NULL;
    if (cur > nparts || line < 0 || (next >= 0 && (!p || next < p->start || next >= p->end)) ||
        next < -1)
        return err_set(e, MPF_EPARSE, "operator '%s' subtask %d: restored source position is "
                       "malformed (split %u of %u, offset %lld)", oi->spec->uid, oi->subtask,
                       cur, nparts, (long long)next);
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
    st->started = 0;
    st->cur = (int)cur;
    if (next >= 0 && open_part(st, next, line, e))
        return err_prefix(e, "operator '%s'", oi->spec->uid);
    return 0;
}

static void fsrc_close(op_inst *oi)
{
    fsrc_state *st = oi->st;
    if (!st)
        return;
    if (st->fd >= 0)
        close(st->fd);
    for (int i = 0; i < st->nparts; i++)
        free(st->parts[i].file);
    free(st->parts);
    free(st->buf);
    recbuf_fini(&st->rb);
    free(st);
    oi->st = NULL;
}

static void fsrc_describe(const op_spec *s, char *buf, size_t n)
{
    const fsrc_cfg *cfg = s->cfg;
    snprintf(buf, n, "%s from %s", cfg->csv ? "csv" : "lines", cfg->path);
}

const op_kind op_src_file = {
    .name = "file",
    .role = OP_SOURCE,
    .keys = fsrc_keys,
    .summary = "lines or CSV from a file or directory, split by byte range",
    .configure = fsrc_configure,
    .free_cfg = fsrc_free,
    .describe = fsrc_describe,
    .global_init = fsrc_global_init,
    .open = fsrc_open,
    .poll = fsrc_poll,
    .snapshot = fsrc_snapshot,
    .restore = fsrc_restore,
    .describe_state = fsrc_describe_state,
    .close = fsrc_close,
};
