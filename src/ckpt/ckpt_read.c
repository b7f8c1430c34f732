/* Checkpoint reader (checkpoint layer): opens a chk-<n> or savepoint
 * directory, validates _metadata.h5 and every TaskManager file against
 * it, and delivers blobs by operator uid and key-group range. Indexes are
 * held in memory; blob data is read on demand in windows of consecutive
 * blobs, and each blob's xxh64 is checked before anyone sees it. */
#include "ckpt/h5io.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>
#include "util/xmalloc.h"

enum {
    WINDOW_BYTES = 16 << 20, /* one read covers consecutive blobs up to this */
    GAP_BYTES = 64 << 10,    /* ... and skips holes up to this */
};

typedef struct section {
    const char *what; /* "keyed" or "operator" */
    hid_t data;       /* the *_data dataset */
    uint64_t data_len;
    ckpt_index_row *rows;
    size_t n;
} section;

typedef struct file_op {
    int op; /* index into meta.ops */
    section keyed, oper;
} file_op;

typedef struct tm_file {
    char *name; /* "tm-2.h5", as listed in _metadata.h5 */
    char *path;
    int rank;
    int super; /* superblock version (super_version) */
    hid_t fid;
    uint64_t size;
    size_t nops;
    file_op *ops;
} tm_file;

struct ckpt {
    char *dir;
    ckpt_meta meta;
    uint64_t meta_size;
    int meta_super;
    size_t nfiles;
    tm_file *files;
    uint8_t *buf; /* read buffer */
    size_t bufcap;
};

void ckpt_meta_fini(ckpt_meta *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nops; i++) {
        free(m->ops[i].uid);
        free(m->ops[i].schema);
        free(m->ops[i].kind);
    }
    free(m->ops);
    free(m->job);
    memset(m, 0, sizeof *m);
}

/* Open path read-only; on failure a message saying why. */
static hid_t open_h5(const char *path, mpf_err *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return err_set(e, errno == ENOENT ? MPF_ENOENT : MPF_EIO, "%s: %s", path,
                       strerror(errno)),
               -1;
    hid_t fapl = h5io_fapl(0);
    hid_t f = fapl < 0 ? -1 : H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f < 0) {
        char detail[256];
        h5io_detail(detail, sizeof detail);
        const char *why = h5io_open_failure(path);
        if (detail[0])
            err_set(e, MPF_EIO, "%s: %s (HDF5: %s)", path, why, detail);
        else
            err_set(e, MPF_EIO, "%s: %s", path, why);
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    return f;
}

/* Superblock version of an open file: 0 or 1 for the earliest format
 * (no metadata checksums), 2 or 3 for 1.8 and later; -1 if unknown. */
static int super_version(hid_t f)
{
    H5F_info2_t info;
    return H5Fget_info2(f, &info) < 0 ? -1 : (int)info.super.version;
}

/* The format_version attribute: present and the one we read. */
static int check_version(hid_t f, const char *path, mpf_err *e)
{
    int64_t v;
    int r = h5io_attr_get_int(f, "format_version", &v);
    if (r != 0)
        return err_set(e, MPF_EIO,
                       "%s: not an mpiflow checkpoint file (no format_version attribute)", path);
    if (v != CKPT_FORMAT_VERSION)
        return err_set(e, MPF_EIO, "%s: format version %lld is not supported (this mpiflow reads %d)",
                       path, (long long)v, CKPT_FORMAT_VERSION);
    return 0;
}

static int get_int(hid_t obj, const char *path, const char *name, int64_t lo, int64_t hi,
                   int64_t *v, mpf_err *e)
{
    int r = h5io_attr_get_int(obj, name, v);
    if (r != 0)
        return err_set(e, MPF_EIO, "%s: attribute '%s' is %s", path, name,
                       r > 0 ? "missing" : "not an integer");
    if (*v < lo || *v > hi)
        return err_set(e, MPF_EIO, "%s: attribute '%s' = %lld is out of range", path, name,
                       (long long)*v);
    return 0;
}

static int get_str(hid_t obj, const char *path, const char *name, char **s, mpf_err *e)
{
    int r = h5io_attr_get_str(obj, name, s);
    if (r != 0)
        return err_set(e, MPF_EIO, "%s: attribute '%s' is %s", path, name,
                       r > 0 ? "missing" : "not a string");
    return 0;
}

/* The attributes common to _metadata.h5 and TM files. */
static int read_common(hid_t f, const char *path, ckpt_meta *m, mpf_err *e)
{
    int64_t v;
    int rc;
    if ((rc = check_version(f, path, e)) || (rc = get_str(f, path, "job", &m->job, e)))
        return rc;
    if ((rc = get_int(f, path, "checkpoint_id", INT64_MIN, INT64_MAX, &m->checkpoint_id, e)) ||
        (rc = get_int(f, path, "timestamp_ms", INT64_MIN, INT64_MAX, &m->timestamp_ms, e)) ||
        (rc = get_int(f, path, "max_parallelism", 0, CKPT_MAX_PARALLELISM, &v, e)))
        return rc;
    m->max_parallelism = (int)v;
    return 0;
}

/* Widest fixed-length string column read from _metadata.h5. */
enum { MAX_COLUMN = 1 << 16 };

/* Width of string member name of compound t if it is a fixed-length
 * string of 1 to MAX_COLUMN bytes, else 0. */
static size_t fixed_width(hid_t t, const char *name)
{
    int i = H5Tget_class(t) == H5T_COMPOUND ? H5Tget_member_index(t, name) : -1;
    hid_t mt = i < 0 ? -1 : H5Tget_member_type(t, (unsigned)i);
    size_t w = 0;
    if (mt >= 0 && H5Tget_class(mt) == H5T_STRING && H5Tis_variable_str(mt) == 0)
        w = H5Tget_size(mt);
    if (mt >= 0)
        H5Tclose(mt);
    return w <= MAX_COLUMN ? w : 0;
}

/* The operators row type to expect given the file's: fixed-length
 * strings (this build) with their widths, else the variable-length
 * layout of earlier builds. */
static hid_t pick_op_type(hid_t got, size_t *esize)
{
    size_t len[3] = {fixed_width(got, "uid"), fixed_width(got, "kind"),
                     fixed_width(got, "schema")};
    if (len[0] && len[1] && len[2]) {
        *esize = len[0] + len[1] + 4 + len[2];
        return h5io_op_type_fixed(len, 1);
    }
    *esize = H5IO_OP_ROW_BYTES;
    hid_t str = h5io_str_type();
    hid_t t = str < 0 ? -1 : h5io_op_type(str, 1);
    if (str >= 0)
        H5Tclose(str);
    return t;
}

/* taskmanager_files: fixed-length strings of up to 32 bytes (this
 * build) or variable-length ones (earlier builds). */
static hid_t pick_str_type(hid_t got, size_t *esize)
{
    if (H5Tget_class(got) == H5T_STRING && H5Tis_variable_str(got) == 0 &&
        H5Tget_size(got) >= 1 && H5Tget_size(got) <= 32) {
        *esize = H5Tget_size(got);
        return h5io_fstr_type(*esize);
    }
    *esize = H5IO_STR_BYTES;
    return h5io_str_type();
}

/* Open dataset name under loc (where: "/" or "operator 'x'") and check
 * it against h5io_check_dset(want) in a file of file_size bytes (with
 * pick, want and esize follow from the file's type: pick returns a type
 * the caller does not close). The id and *nelem, or -1 with a message
 * naming what is wrong. */
static hid_t open_dset_pick(hid_t loc, const char *path, const char *where, const char *name,
                            hid_t want, size_t esize, hid_t (*pick)(hid_t, size_t *),
                            uint64_t file_size, uint64_t *nelem, mpf_err *e);
static hid_t open_dset(hid_t loc, const char *path, const char *where, const char *name,
                       hid_t want, size_t esize, uint64_t file_size, uint64_t *nelem, mpf_err *e)
{
    return open_dset_pick(loc, path, where, name, want, esize, NULL, file_size, nelem, e);
}

static hid_t open_dset_pick(hid_t loc, const char *path, const char *where, const char *name,
                            hid_t want, size_t esize, hid_t (*pick)(hid_t, size_t *),
                            uint64_t file_size, uint64_t *nelem, mpf_err *e)
{
    htri_t ex = H5Lexists(loc, name, H5P_DEFAULT);
    if (ex <= 0) {
        if (ex < 0)
            h5io_fail(e, MPF_EIO, "%s: %s: cannot look up dataset '%s'", path, where, name);
        else
            err_set(e, MPF_EIO, "%s: %s: dataset '%s' is missing", path, where, name);
        return -1;
    }
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) {
        h5io_fail(e, MPF_EIO, "%s: %s: cannot open dataset '%s'", path, where, name);
        return -1;
    }
    char why[256];
    hid_t picked = -1;
    if (pick) {
        hid_t got = H5Dget_type(d);
        want = picked = got < 0 ? -1 : pick(got, &esize);
        if (got >= 0)
            H5Tclose(got);
    }
    int ok = want >= 0 && h5io_check_dset(d, want, esize, file_size, nelem, why, sizeof why);
    if (picked >= 0)
        H5Tclose(picked);
    if (!ok) {
        err_set(e, MPF_EIO, "%s: %s: dataset '%s' %s", path, where, name,
                want < 0 ? "cannot be checked" : why);
        H5Dclose(d);
        return -1;
    }
    return d;
}

static int read_metadata(ckpt *c, const char *path, mpf_err *e)
{
    ckpt_meta *m = &c->meta;
    hid_t f = open_h5(path, e), d = -1, ft = -1, str = -1, mt = -1, sp = -1;
    if (f < 0)
        return e ? e->code : MPF_EIO;
    c->meta_super = super_version(f);
    int64_t v;
    int rc = read_common(f, path, m, e);
    if (rc || (rc = get_int(f, path, "num_taskmanagers", 0, CKPT_MAX_TASKMANAGERS, &v, e)))
        goto done;
    m->ntms = (int)v;
    if ((rc = get_int(f, path, "is_savepoint", 0, 1, &v, e)))
        goto done;
    m->is_savepoint = (int)v;

    uint64_t nops;
    d = open_dset_pick(f, path, "/", "operators", -1, 0, pick_op_type, c->meta_size, &nops, e);
    if (d < 0) {
        rc = MPF_EIO;
        goto done;
    }
    if (nops > INT32_MAX) {
        rc = err_set(e, MPF_EIO, "%s: dataset 'operators' has %llu rows", path,
                     (unsigned long long)nops);
        goto done;
    }
    ft = H5Dget_type(d);
    size_t len[3] = {fixed_width(ft, "uid"), fixed_width(ft, "kind"), fixed_width(ft, "schema")};
    if (len[0]) { /* checked: all three fixed */
        size_t row = len[0] + len[1] + 4 + len[2];
        uint8_t *raw = xmalloc(nops ? (size_t)nops * row : 1);
        mt = h5io_op_type_fixed(len, 0);
        if (mt < 0 || (nops && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0)) {
            free(raw);
            rc = h5io_fail(e, MPF_EIO, "%s: cannot read dataset 'operators'", path);
            goto done;
        }
        m->nops = (int)nops;
        m->ops = xcalloc(nops ? (size_t)nops : 1, sizeof *m->ops);
        for (int i = 0; i < m->nops; i++) {
            const char *r = (const char *)raw + (size_t)i * row;
            int32_t par;
            memcpy(&par, r + len[0] + len[1], 4);
            m->ops[i].uid = xstrndup(r, len[0]);
            m->ops[i].kind = xstrndup(r + len[0], len[1]);
            m->ops[i].schema = xstrndup(r + len[0] + len[1] + 4, len[2]);
            m->ops[i].parallelism = par;
        }
        free(raw);
    } else {
        str = h5io_str_type();
        mt = str < 0 ? -1 : h5io_op_type(str, 0);
        ckpt_op_row *rows = xcalloc(nops ? (size_t)nops : 1, sizeof *rows);
        if (mt < 0 || (nops && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0)) {
            free(rows);
            rc = h5io_fail(e, MPF_EIO, "%s: cannot read dataset 'operators'", path);
            goto done;
        }
        m->nops = (int)nops;
        m->ops = xcalloc(nops ? (size_t)nops : 1, sizeof *m->ops);
        for (int i = 0; i < m->nops; i++) {
            m->ops[i].uid = xstrdup(rows[i].uid ? rows[i].uid : "");
            m->ops[i].kind = xstrdup(rows[i].kind ? rows[i].kind : "");
            m->ops[i].schema = xstrdup(rows[i].schema ? rows[i].schema : "");
            m->ops[i].parallelism = rows[i].parallelism;
        }
        if (nops && (sp = H5Dget_space(d)) >= 0)
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, rows);
        free(rows);
    }
    for (int i = 0; i < m->nops; i++) {
        if (!*m->ops[i].uid) {
            rc = err_set(e, MPF_EIO, "%s: operator %d has an empty uid", path, i);
            goto done;
        }
        if (m->ops[i].parallelism < 1 || m->ops[i].parallelism > CKPT_MAX_PARALLELISM) {
            rc = err_set(e, MPF_EIO, "%s: operator %d ('%s') has parallelism %d (1 to %d)", path,
                         i, m->ops[i].uid, m->ops[i].parallelism, CKPT_MAX_PARALLELISM);
            goto done;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(m->ops[i].uid, m->ops[j].uid) == 0) {
                rc = err_set(e, MPF_EIO, "%s: operator '%s' is listed twice", path,
                             m->ops[i].uid);
                goto done;
            }
    }
    H5Dclose(d);
    uint64_t nfiles;
    d = open_dset_pick(f, path, "/", "taskmanager_files", -1, 0, pick_str_type, c->meta_size,
                       &nfiles, e);
    if (d < 0) {
        rc = MPF_EIO;
        goto done;
    }
    if (nfiles != (uint64_t)m->ntms) {
        rc = err_set(e, MPF_EIO, "%s: %llu taskmanager_files for num_taskmanagers = %d", path,
                     (unsigned long long)nfiles, m->ntms);
        goto done;
    }
    char **names;
    size_t nn;
    if (h5io_read_strings(d, &names, &nn) < 0) {
        rc = h5io_fail(e, MPF_EIO, "%s: cannot read dataset 'taskmanager_files'", path);
        goto done;
    }
    c->nfiles = nn;
    c->files = xcalloc(nn ? nn : 1, sizeof *c->files);
    for (size_t i = 0; i < nn; i++) {
        c->files[i].name = names[i];
        c->files[i].fid = -1;
    }
    free(names);
    if (nn != (size_t)m->ntms) {
        rc = err_set(e, MPF_EIO, "%s: %zu taskmanager_files for num_taskmanagers = %d", path, nn,
                     m->ntms);
        goto done;
    }
    for (size_t i = 0; i < nn; i++) {
        /* the writer lists tm-1.h5 .. tm-<N>.h5, in order */
        char want[32];
        snprintf(want, sizeof want, "tm-%zu.h5", i + 1);
        if (strcmp(c->files[i].name, want) != 0) {
            rc = err_set(e, MPF_EIO, "%s: taskmanager_files entry %zu is '%.64s', expected '%s'",
                         path, i, c->files[i].name, want);
            goto done;
        }
        c->files[i].rank = (int)i + 1;
    }
done:
    if (sp >= 0)
        H5Sclose(sp);
    if (mt >= 0)
        H5Tclose(mt);
    if (str >= 0)
        H5Tclose(str);
    if (ft >= 0)
        H5Tclose(ft);
    if (d >= 0)
        H5Dclose(d);
    H5Fclose(f);
    return rc;
}

int ckpt_peek_metadata(const char *dir, int64_t *timestamp_ms, int64_t *id, mpf_err *e)
{
    int rc = h5io_init(e);
    if (rc)
        return rc;
    char *path = xasprintf("%s/%s", dir, CKPT_METADATA_FILE);
    hid_t f = open_h5(path, e);
    if (f < 0) {
        free(path);
        return e ? e->code : MPF_EIO;
    }
    if (!(rc = check_version(f, path, e)) &&
        !(rc = get_int(f, path, "timestamp_ms", INT64_MIN, INT64_MAX, timestamp_ms, e)))
        rc = get_int(f, path, "checkpoint_id", INT64_MIN, INT64_MAX, id, e);
    H5Fclose(f);
    free(path);
    return rc;
}

static int find_op(const ckpt_meta *m, const char *uid)
{
    for (int i = 0; i < m->nops; i++)
        if (strcmp(m->ops[i].uid, uid) == 0)
            return i;
    return -1;
}

/* Read and check one section's index and open its data. */
static int read_section(ckpt *c, tm_file *tf, hid_t g, int op, section *s, int keyed,
                        mpf_err *e)
{
    const ckpt_op_meta *om = &c->meta.ops[op];
    const char *idx_name = keyed ? H5IO_KEYED_INDEX : H5IO_OPERATOR_INDEX;
    const char *data_name = keyed ? H5IO_KEYED_DATA : H5IO_OPERATOR_DATA;
    s->what = keyed ? "keyed" : "operator";
    s->data = -1;
    char where[300];
    snprintf(where, sizeof where, "operator '%s'", om->uid);
    int rc = 0;
    uint64_t n, dl;
    hid_t ft = h5io_index_type(1), mt = -1;
    hid_t di =
        open_dset(g, tf->path, where, idx_name, ft, H5IO_INDEX_ROW_BYTES, tf->size, &n, e);
    if (di < 0) {
        if (ft >= 0)
            H5Tclose(ft);
        return MPF_EIO;
    }
    s->n = (size_t)n;
    s->rows = xcalloc(s->n ? s->n : 1, sizeof *s->rows);
    mt = h5io_index_type(0);
    if (mt < 0 || (s->n && H5Dread(di, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->rows) < 0)) {
        rc = h5io_fail(e, MPF_EIO, "%s: %s: cannot read '%s'", tf->path, where, idx_name);
        goto done;
    }
    if ((s->data = open_dset(g, tf->path, where, data_name, H5T_STD_U8LE, 1, tf->size, &dl, e)) <
        0) {
        rc = MPF_EIO;
        goto done;
    }
    s->data_len = dl;
    for (size_t i = 0; i < s->n; i++) {
        const ckpt_index_row *r = &s->rows[i];
        if (r->length > s->data_len || r->offset > s->data_len - r->length)
            rc = err_set(e, MPF_EIO,
                         "%s: %s: %s blob %zu (offset %" PRIu64 ", length %" PRIu64
                         ") lies outside '%s' (%" PRIu64 " bytes)",
                         tf->path, where, s->what, i, r->offset, r->length, data_name,
                         s->data_len);
        else if (r->subtask < 0 || r->subtask >= om->parallelism)
            rc = err_set(e, MPF_EIO, "%s: %s: %s blob %zu has subtask %d (parallelism %d)",
                         tf->path, where, s->what, i, r->subtask, om->parallelism);
        else if (keyed && (r->key_group < 0 || r->key_group >= c->meta.max_parallelism))
            rc = err_set(e, MPF_EIO, "%s: %s: keyed blob %zu has key group %d (max-parallelism %d)",
                         tf->path, where, i, r->key_group, c->meta.max_parallelism);
        else if (!keyed && r->key_group != -1)
            rc = err_set(e, MPF_EIO, "%s: %s: operator blob %zu has key group %d, not -1",
                         tf->path, where, i, r->key_group);
        if (rc)
            break;
    }
done:
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    H5Dclose(di);
    return rc;
}

/* owner[op][kg]: index+1 of the file holding that key group, for the
 * "stored twice" check. */
static int check_owners(ckpt *c, size_t fi, const file_op *fo, int **owner, mpf_err *e)
{
    const section *s = &fo->keyed;
    if (!owner[fo->op])
        owner[fo->op] = xcalloc((size_t)c->meta.max_parallelism + 1, sizeof(int));
    int *o = owner[fo->op];
    for (size_t i = 0; i < s->n; i++) {
        int kg = s->rows[i].key_group;
        if (o[kg])
            return err_set(e, MPF_EIO, "%s: key group %d of operator '%s' is stored twice (%s and %s)",
                           c->dir, kg, c->meta.ops[fo->op].uid, c->files[o[kg] - 1].name,
                           c->files[fi].name);
        o[kg] = (int)fi + 1;
    }
    return 0;
}

static int read_tm_file(ckpt *c, size_t fi, int **owner, mpf_err *e)
{
    tm_file *tf = &c->files[fi];
    tf->path = xasprintf("%s/%s", c->dir, tf->name);
    struct stat st;
    if (stat(tf->path, &st) != 0)
        return err_set(e, MPF_ENOENT, "%s: %s (listed in %s)", tf->path,
                       errno == ENOENT ? "missing" : strerror(errno), CKPT_METADATA_FILE);
    tf->size = (uint64_t)st.st_size;
    if ((tf->fid = open_h5(tf->path, e)) < 0)
        return e ? e->code : MPF_EIO;
    tf->super = super_version(tf->fid);
    ckpt_meta fm = {0};
    int64_t rank = -1;
    int rc = read_common(tf->fid, tf->path, &fm, e);
    if (!rc && h5io_attr_get_int(tf->fid, "rank", &rank) > 0)
        rc = err_set(e, MPF_EIO, "%s: not a TaskManager checkpoint file (no rank attribute)",
                     tf->path);
    if (!rc)
        rc = get_int(tf->fid, tf->path, "rank", 0, INT32_MAX, &rank, e);
    if (!rc && strcmp(fm.job, c->meta.job) != 0)
        rc = err_set(e, MPF_EIO, "%s: belongs to job '%s', not '%s'", tf->path, fm.job,
                     c->meta.job);
    if (!rc && fm.checkpoint_id != c->meta.checkpoint_id)
        rc = err_set(e, MPF_EIO, "%s: belongs to checkpoint %lld, not %lld", tf->path,
                     (long long)fm.checkpoint_id, (long long)c->meta.checkpoint_id);
    /* 0: written by a build that did not pass the trigger time on */
    if (!rc && fm.timestamp_ms != 0 && fm.timestamp_ms != c->meta.timestamp_ms)
        rc = err_set(e, MPF_EIO, "%s: taken at %lld ms, but %s says %lld ms", tf->path,
                     (long long)fm.timestamp_ms, CKPT_METADATA_FILE,
                     (long long)c->meta.timestamp_ms);
    if (!rc && rank != tf->rank)
        rc = err_set(e, MPF_EIO, "%s: written by rank %lld", tf->path, (long long)rank);
    ckpt_meta_fini(&fm);
    if (rc)
        return rc;

    htri_t ex = H5Lexists(tf->fid, H5IO_OPERATORS_GROUP, H5P_DEFAULT);
    hid_t ops = ex > 0 ? H5Gopen2(tf->fid, H5IO_OPERATORS_GROUP, H5P_DEFAULT) : -1;
    if (ops < 0)
        return err_set(e, MPF_EIO, "%s: group /%s is missing", tf->path, H5IO_OPERATORS_GROUP);
    H5G_info_t info;
    if (H5Gget_info(ops, &info) < 0) {
        H5Gclose(ops);
        return h5io_fail(e, MPF_EIO, "%s: cannot list /%s", tf->path, H5IO_OPERATORS_GROUP);
    }
    if (info.nlinks > (hsize_t)c->meta.nops) {
        H5Gclose(ops);
        return err_set(e, MPF_EIO, "%s: /%s has %llu entries, more than the %d operators in %s",
                       tf->path, H5IO_OPERATORS_GROUP, (unsigned long long)info.nlinks,
                       c->meta.nops, CKPT_METADATA_FILE);
    }
    tf->ops = xcalloc(info.nlinks ? info.nlinks : 1, sizeof *tf->ops);
    for (hsize_t i = 0; i < info.nlinks && !rc; i++) {
        file_op *fo = &tf->ops[tf->nops];
        fo->keyed.data = fo->oper.data = -1;
        char name[1024];
        hid_t g = -1;
        char *uid = NULL;
        if (H5Lget_name_by_idx(ops, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                               H5P_DEFAULT) < 0 ||
            (g = H5Gopen2(ops, name, H5P_DEFAULT)) < 0) {
            rc = h5io_fail(e, MPF_EIO, "%s: cannot open entry %llu of /%s", tf->path,
                           (unsigned long long)i, H5IO_OPERATORS_GROUP);
            break;
        }
        if (h5io_attr_get_str(g, "uid", &uid) != 0) {
            rc = err_set(e, MPF_EIO, "%s: /%s/%s has no uid attribute", tf->path,
                         H5IO_OPERATORS_GROUP, name);
        } else if ((fo->op = find_op(&c->meta, uid)) < 0) {
            rc = err_set(e, MPF_EIO, "%s: operator '%s' is not listed in %s", tf->path, uid,
                         CKPT_METADATA_FILE);
        } else {
            for (size_t j = 0; j < tf->nops; j++)
                if (tf->ops[j].op == fo->op)
                    rc = err_set(e, MPF_EIO, "%s: operator '%s' appears twice", tf->path, uid);
            tf->nops++;
            if (!rc)
                rc = read_section(c, tf, g, fo->op, &fo->keyed, 1, e);
            if (!rc)
                rc = read_section(c, tf, g, fo->op, &fo->oper, 0, e);
            if (!rc)
                rc = check_owners(c, fi, fo, owner, e);
        }
        free(uid);
        H5Gclose(g);
    }
    H5Gclose(ops);
    return rc;
}

/* Grow the read buffer to n bytes. */
static uint8_t *need_buf(ckpt *c, size_t n)
{
    if (n > c->bufcap) {
        free(c->buf);
        c->buf = xmalloc(n);
        c->bufcap = n;
    }
    return c->buf;
}

static int read_bytes(hid_t dset, uint64_t at, void *buf, uint64_t len)
{
    if (!len)
        return 0;
    hsize_t off = at, cnt = len;
    hid_t fs = H5Dget_space(dset), ms = H5Screate_simple(1, &cnt, NULL);
    int rc = -1;
    if (fs >= 0 && ms >= 0 &&
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL) >= 0 &&
        H5Dread(dset, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, buf) >= 0)
        rc = 0;
    hid_t errs = rc ? H5Eget_current_stack() : -1; /* survive the closes */
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    if (errs >= 0)
        H5Eset_current_stack(errs);
    return rc;
}

typedef struct sel_ent {
    uint64_t offset;
    size_t row;
} sel_ent;

static int by_offset(const void *pa, const void *pb)
{
    const sel_ent *a = pa, *b = pb;
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

typedef int (*blob_fn)(void *arg, const ckpt_blob *b, mpf_err *e);

/* Check (and, with fn, deliver) the rows sel[0..n) of section s, reading
 * consecutive blobs together. Without fn, blobs larger than the window
 * are hashed piecewise instead of read whole. */
static int scan(ckpt *c, const tm_file *tf, const file_op *fo, const section *s, size_t *sel,
                size_t n, blob_fn fn, void *arg, mpf_err *e)
{
    const char *uid = c->meta.ops[fo->op].uid;
    sel_ent *ord = xmalloc((n ? n : 1) * sizeof *ord);
    for (size_t i = 0; i < n; i++)
        ord[i] = (sel_ent){s->rows[sel[i]].offset, sel[i]};
    qsort(ord, n, sizeof *ord, by_offset);
    for (size_t i = 0; i < n; i++)
        sel[i] = ord[i].row;
    free(ord);
    for (size_t i = 0; i < n;) {
        const ckpt_index_row *r = &s->rows[sel[i]];
        uint64_t start = r->offset, end = r->offset + r->length;
        size_t j = i + 1;
        if (r->length <= WINDOW_BYTES) {
            while (j < n) {
                const ckpt_index_row *q = &s->rows[sel[j]];
                if (q->offset > end + GAP_BYTES || q->offset + q->length - start > WINDOW_BYTES)
                    break;
                if (q->offset + q->length > end)
                    end = q->offset + q->length;
                j++;
            }
        }
        uint64_t h = 0;
        int piecewise = !fn && end - start > WINDOW_BYTES;
        if (piecewise) {
            XXH64_state_t *st = XXH64_createState();
            uint8_t *b = need_buf(c, WINDOW_BYTES);
            XXH64_reset(st, 0);
            int bad = 0;
            for (uint64_t at = start; at < end && !bad; at += WINDOW_BYTES) {
                uint64_t len = end - at < WINDOW_BYTES ? end - at : WINDOW_BYTES;
                if (read_bytes(s->data, at, b, len) < 0)
                    bad = 1;
                else
                    XXH64_update(st, b, len);
            }
            h = XXH64_digest(st);
            XXH64_freeState(st);
            if (bad)
                return h5io_fail(e, MPF_EIO, "%s: operator '%s': cannot read %s blob %zu",
                                 tf->path, uid, s->what, sel[i]);
        } else if (read_bytes(s->data, start, need_buf(c, end - start ? end - start : 1),
                              end - start) < 0) {
            return h5io_fail(e, MPF_EIO, "%s: operator '%s': cannot read %s blobs %zu..",
                             tf->path, uid, s->what, sel[i]);
        }
        for (size_t k = i; k < j; k++) {
            const ckpt_index_row *q = &s->rows[sel[k]];
            const uint8_t *p = c->buf + (q->offset - start);
            if (!piecewise)
                h = XXH64(q->length ? (const void *)p : "", q->length, 0);
            if (h != q->xxh64) {
                return err_set(e, MPF_EIO,
                               "%s: %s blob %zu (key group %d, subtask %d) of operator '%s' fails "
                               "its checksum",
                               tf->path, s->what, sel[k], q->key_group, q->subtask, uid);
            }
            if (fn) {
                ckpt_blob b = {.uid = uid, .subtask = q->subtask,
                               .kind = q->key_group < 0 ? CKPT_OPERATOR : CKPT_KEYED,
                               .key_group = q->key_group, .data = p, .len = (size_t)q->length};
                int rc = fn(arg, &b, e);
                if (rc)
                    return rc;
            }
        }
        i = j;
    }
    return 0;
}

static int verify_all(ckpt *c, mpf_err *e)
{
    for (size_t fi = 0; fi < c->nfiles; fi++) {
        const tm_file *tf = &c->files[fi];
        for (size_t oi = 0; oi < tf->nops; oi++) {
            const file_op *fo = &tf->ops[oi];
            const section *secs[2] = {&fo->keyed, &fo->oper};
            for (int k = 0; k < 2; k++) {
                size_t *sel = xmalloc((secs[k]->n ? secs[k]->n : 1) * sizeof *sel);
                for (size_t i = 0; i < secs[k]->n; i++)
                    sel[i] = i;
                int rc = scan(c, tf, fo, secs[k], sel, secs[k]->n, NULL, NULL, e);
                free(sel);
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}

int ckpt_open_flags(const char *dir, unsigned flags, ckpt **out, mpf_err *e)
{
    *out = NULL;
    if (!dir)
        return err_set(e, MPF_EINVAL, "ckpt_open: no directory");
    int rc = h5io_init(e);
    if (rc)
        return rc;
    struct stat st;
    if (stat(dir, &st) != 0)
        return err_set(e, errno == ENOENT ? MPF_ENOENT : MPF_EIO, "%s: %s", dir,
                       strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return err_set(e, MPF_EINVAL, "%s: not a directory (give the chk-<n> or savepoint directory)",
                       dir);
    ckpt *c = xcalloc(1, sizeof *c);
    c->dir = xstrdup(dir);
    size_t dl = strlen(c->dir);
    while (dl > 1 && c->dir[dl - 1] == '/')
        c->dir[--dl] = '\0';
    char *mpath = xasprintf("%s/%s", c->dir, CKPT_METADATA_FILE);
    int **owner = NULL;
    if (stat(mpath, &st) != 0) {
        rc = err_set(e, MPF_ENOENT, "%s: not a completed checkpoint (no %s)", c->dir,
                     CKPT_METADATA_FILE);
        goto done;
    }
    c->meta_size = (uint64_t)st.st_size;
    if ((rc = read_metadata(c, mpath, e)))
        goto done;
    owner = xcalloc(c->meta.nops ? (size_t)c->meta.nops : 1, sizeof *owner);
    for (size_t fi = 0; fi < c->nfiles && !rc; fi++)
        rc = read_tm_file(c, fi, owner, e);
    if (!rc && !(flags & CKPT_OPEN_NO_VERIFY))
        rc = verify_all(c, e);
done:
    if (owner)
        for (int i = 0; i < c->meta.nops; i++)
            free(owner[i]);
    free(owner);
    free(mpath);
    if (rc) {
        ckpt_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int ckpt_open(const char *dir, ckpt **out, mpf_err *e)
{
    return ckpt_open_flags(dir, 0, out, e);
}

const ckpt_meta *ckpt_meta_get(const ckpt *c)
{
    return &c->meta;
}

int ckpt_read(ckpt *c, const char *uid, int kg_first, int kg_last, int want_operator,
              int (*fn)(void *arg, const ckpt_blob *b, mpf_err *e), void *arg, mpf_err *e)
{
    int op = find_op(&c->meta, uid);
    if (op < 0)
        return err_set(e, MPF_ENOENT, "%s: operator '%s' is not in this %s", c->dir, uid,
                       c->meta.is_savepoint ? "savepoint" : "checkpoint");
    for (size_t fi = 0; fi < c->nfiles; fi++) {
        const tm_file *tf = &c->files[fi];
        for (size_t oi = 0; oi < tf->nops; oi++) {
            const file_op *fo = &tf->ops[oi];
            if (fo->op != op)
                continue;
            const section *ks = &fo->keyed, *os = &fo->oper;
            size_t cap = ks->n > os->n ? ks->n : os->n, n = 0;
            size_t *sel = xmalloc((cap ? cap : 1) * sizeof *sel);
            for (size_t i = 0; i < ks->n; i++)
                if (ks->rows[i].key_group >= kg_first && ks->rows[i].key_group <= kg_last)
                    sel[n++] = i;
            int rc = scan(c, tf, fo, ks, sel, n, fn, arg, e);
            if (!rc && want_operator) {
                for (n = 0; n < os->n; n++)
                    sel[n] = n;
                rc = scan(c, tf, fo, os, sel, n, fn, arg, e);
            }
            free(sel);
            if (rc)
                return rc;
        }
    }
    return 0;
}

void ckpt_close(ckpt *c)
{
    if (!c)
        return;
    for (size_t fi = 0; fi < c->nfiles; fi++) {
        tm_file *tf = &c->files[fi];
        for (size_t oi = 0; oi < tf->nops; oi++) {
            section *secs[2] = {&tf->ops[oi].keyed, &tf->ops[oi].oper};
            for (int k = 0; k < 2; k++) {
                if (secs[k]->data >= 0)
                    H5Dclose(secs[k]->data);
                free(secs[k]->rows);
            }
        }
        if (tf->fid >= 0)
            H5Fclose(tf->fid);
        free(tf->ops);
        free(tf->name);
        free(tf->path);
    }
    free(c->files);
    ckpt_meta_fini(&c->meta);
    free(c->buf);
    free(c->dir);
    free(c);
}

/* "12.3 MiB" */
static const char *human(uint64_t n, char *buf, size_t cap)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4)
        v /= 1024, u++;
    if (u == 0)
        snprintf(buf, cap, "%" PRIu64 " B", n);
    else
        snprintf(buf, cap, "%.1f %s", v, unit[u]);
    return buf;
}

void ckpt_print_summary(const ckpt *c, FILE *f)
{
    const ckpt_meta *m = &c->meta;
    char hb[32], when[64] = "?";
    int64_t ms = m->timestamp_ms % 1000, s1000 = m->timestamp_ms / 1000;
    if (ms < 0)
        ms += 1000, s1000--;
    time_t secs = (time_t)s1000;
    struct tm tmv;
    if (gmtime_r(&secs, &tmv)) {
        size_t w = strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tmv);
        snprintf(when + w, sizeof when - w, ".%03d UTC", (int)ms);
    }
    uint64_t total = c->meta_size, blob_total = 0;
    for (size_t fi = 0; fi < c->nfiles; fi++)
        total += c->files[fi].size;
    fprintf(f, "%s %lld of job '%s'\n", m->is_savepoint ? "savepoint" : "checkpoint",
            (long long)m->checkpoint_id, m->job);
    fprintf(f, "  directory:        %s\n", c->dir);
    fprintf(f, "  format version:   %d\n", CKPT_FORMAT_VERSION);
    int sv = c->meta_super;
    for (size_t fi = 0; fi < c->nfiles; fi++)
        if (c->files[fi].super < sv)
            sv = c->files[fi].super;
    if (sv >= 2)
        fprintf(f, "  HDF5 metadata:    checksummed (superblock v%d)\n", sv);
    else
        fprintf(f, "  HDF5 metadata:    not checksummed (superblock v%d, earliest format: an "
                   "earlier mpiflow wrote it)\n", sv);
    fprintf(f, "  taken at:         %s (%lld ms)\n", when, (long long)m->timestamp_ms);
    fprintf(f, "  max-parallelism:  %d\n", m->max_parallelism);
    fprintf(f, "  taskmanagers:     %d\n", m->ntms);
    for (size_t fi = 0; fi < c->nfiles; fi++)
        fprintf(f, "    %-16s%s\n", c->files[fi].name, human(c->files[fi].size, hb, sizeof hb));
    fprintf(f, "  operators:        %d\n", m->nops);
    for (int op = 0; op < m->nops; op++) {
        const ckpt_op_meta *om = &m->ops[op];
        uint64_t keyed = 0;
        size_t kgs = 0, nblobs = 0;
        uint64_t *per_sub = xcalloc((size_t)om->parallelism, sizeof *per_sub);
        int any_oper = 0;
        for (size_t fi = 0; fi < c->nfiles; fi++)
            for (size_t oi = 0; oi < c->files[fi].nops; oi++) {
                const file_op *fo = &c->files[fi].ops[oi];
                if (fo->op != op)
                    continue;
                for (size_t i = 0; i < fo->keyed.n; i++) {
                    keyed += fo->keyed.rows[i].length;
                    kgs += fo->keyed.rows[i].length > 0;
                    nblobs++;
                }
                for (size_t i = 0; i < fo->oper.n; i++) {
                    per_sub[fo->oper.rows[i].subtask] += fo->oper.rows[i].length;
                    any_oper = 1;
                }
            }
        fprintf(f, "\noperator '%s'\n", om->uid);
        fprintf(f, "  kind:             %s\n", *om->kind ? om->kind : "-");
        fprintf(f, "  parallelism:      %d\n", om->parallelism);
        fprintf(f, "  schema:           %s\n", *om->schema ? om->schema : "-");
        if (!nblobs)
            fprintf(f, "  keyed state:      none\n");
        else
            fprintf(f, "  keyed state:      %s (%" PRIu64 " bytes) in %zu key groups (%zu blobs)\n",
                    human(keyed, hb, sizeof hb), keyed, kgs, nblobs);
        blob_total += keyed;
        if (!any_oper) {
            fprintf(f, "  operator state:   none\n");
        } else {
            fprintf(f, "  operator state:   bytes per subtask:");
            for (int s = 0; s < om->parallelism; s++) {
                fprintf(f, " %" PRIu64, per_sub[s]);
                blob_total += per_sub[s];
            }
            fprintf(f, "\n");
        }
        free(per_sub);
    }
    fprintf(f, "\ntotal: %s (%" PRIu64 " bytes) in %zu files, state %" PRIu64 " bytes\n",
            human(total, hb, sizeof hb), total, c->nfiles + 1, blob_total);
}
