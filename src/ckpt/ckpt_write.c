/* Checkpoint writer (checkpoint layer): a TaskManager's tm-<rank>.h5 and
 * the JobManager's _metadata.h5. Blob data goes to one contiguous u8
 * dataset per operator and state kind, written sequentially in pieces of
 * about 1 MiB, each hashed just before it is written so the caller's
 * memory is read once; writeback is started as we go so the final fsync
 * is short (docs/CHECKPOINTS.md, "Writing performance"). */
#include "ckpt/h5io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "util/xmalloc.h"
#include "util/fsutil.h"

enum {
    PIECE_BYTES = 1 << 20,  /* hashed, then written while still in cache */
    DIRECT_BYTES = 256 << 10, /* memory-adjacent runs this large: in place */
    STAGE_BYTES = 1 << 20,  /* gather buffer for small scattered blobs */
    SYNC_EVERY = 32 << 20,  /* start writeback after this many bytes */
};

int ckpt_lib_init(mpf_err *e)
{
    return h5io_init(e);
}

int ckpt_chk_dir(char *buf, size_t n, const char *root, const char *job, int64_t id,
                 mpf_err *e)
{
    int len = snprintf(buf, n, "%s/%s/chk-%lld", root, job, (long long)id);
    if (len < 0 || (size_t)len >= n)
        return err_set(e, MPF_ERANGE, "checkpoint directory name for job '%s' is too long", job);
    return 0;
}

int ckpt_make_dirs(const char *dir, mpf_err *e)
{
    if (fs_mkdirs(dir, 0777) == 0)
        return 0;
    if (errno == ENOTDIR)
        return err_set(e, MPF_EIO, "%s: not a directory", dir);
    return err_set(e, MPF_EIO, "%s: cannot create directory: %s", dir, strerror(errno));
}

/* Group name for a uid: '%', '/' and a leading '.' are %-escaped (HDF5
 * paths use '/', and "." names the current group). */
static char *escape_uid(const char *uid)
{
    size_t n = strlen(uid);
    char *out = xmalloc(3 * n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)uid[i];
        if (c == '/' || c == '%' || (i == 0 && c == '.'))
            o += sprintf(o, "%%%02X", c);
        else
            *o++ = (char)c;
    }
    *o = '\0';
    return out;
}

/* Sort order of blobs in a file: uid, kind, key group, subtask, then input
 * position (the pointers are into one array, so repeated operator blobs
 * keep their order). */
static int blob_cmp(const void *pa, const void *pb)
{
    const ckpt_blob *a = *(const ckpt_blob *const *)pa, *b = *(const ckpt_blob *const *)pb;
    int c = strcmp(a->uid, b->uid);
    if (c)
        return c;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->kind == CKPT_KEYED && a->key_group != b->key_group)
        return a->key_group < b->key_group ? -1 : 1;
    if (a->subtask != b->subtask)
        return a->subtask < b->subtask ? -1 : 1;
    return a < b ? -1 : a > b;
}

static int check_blobs(const char *path, const ckpt_meta *m, const ckpt_blob *blobs, size_t n,
                       mpf_err *e)
{
    for (size_t i = 0; i < n; i++) {
        const ckpt_blob *b = &blobs[i];
        if (!b->uid || !*b->uid)
            return err_set(e, MPF_EINVAL, "%s: blob %zu has no operator uid", path, i);
        if (b->kind != CKPT_KEYED && b->kind != CKPT_OPERATOR)
            return err_set(e, MPF_EINVAL, "%s: blob %zu of operator '%s' has unknown kind %d",
                           path, i, b->uid, b->kind);
        if (b->subtask < 0)
            return err_set(e, MPF_EINVAL, "%s: blob %zu of operator '%s' has subtask %d", path,
                           i, b->uid, b->subtask);
        if (b->kind == CKPT_KEYED &&
            (b->key_group < 0 || (m->max_parallelism > 0 && b->key_group >= m->max_parallelism)))
            return err_set(e, MPF_EINVAL,
                           "%s: blob %zu of operator '%s' has key group %d (max-parallelism %d)",
                           path, i, b->uid, b->key_group, m->max_parallelism);
        if (b->len && !b->data)
            return err_set(e, MPF_EINVAL, "%s: blob %zu of operator '%s' has no data", path, i,
                           b->uid);
    }
    return 0;
}

/* Per-file write state shared by its datasets. Writeback is started every
 * SYNC_EVERY bytes (sync_file_range), so the disk works while we copy and
 * the closing fsync has little left to do. */
typedef struct file_writer {
    int fd;          /* the HDF5 file's descriptor, or -1 */
    size_t unsynced; /* bytes written since writeback was last started */
    uint8_t *stage;  /* STAGE_BYTES */
    XXH64_state_t *hash;
} file_writer;

/* Writes one *_data dataset sequentially. The caller hands in blobs in
 * pieces of at most PIECE_BYTES, each hashed just before, so every byte is
 * read from memory once: pieces adjacent in memory form a run, written in
 * place once it reaches PIECE_BYTES (or, at a break, DIRECT_BYTES); shorter
 * runs are copied into the staging buffer, written when full. A caller
 * that serialises its state into one buffer pays no copy. */
typedef struct data_writer {
    hid_t dset;
    file_writer *fw;
    size_t staged;      /* bytes in fw->stage */
    uint64_t stage_at;  /* dataset offset of stage[0] */
    const uint8_t *run; /* pending run of memory-adjacent blobs */
    size_t run_len;
} data_writer;

static int dw_write(data_writer *w, uint64_t at, const void *buf, size_t len)
{
    hsize_t off = at, cnt = len;
    hid_t fs = H5Dget_space(w->dset);
    hid_t ms = H5Screate_simple(1, &cnt, NULL);
    int rc = -1;
    if (fs >= 0 && ms >= 0 &&
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL) >= 0 &&
        H5Dwrite(w->dset, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, buf) >= 0)
        rc = 0;
    hid_t errs = rc ? H5Eget_current_stack() : -1; /* survive the closes */
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    if (errs >= 0)
        H5Eset_current_stack(errs);
    file_writer *fw = w->fw;
    if (!rc && fw->fd >= 0 && (fw->unsynced += len) >= SYNC_EVERY) {
        sync_file_range(fw->fd, 0, 0, SYNC_FILE_RANGE_WRITE); /* a hint: errors ignored */
        fw->unsynced = 0;
    }
    return rc;
}

static int dw_flush_stage(data_writer *w)
{
    if (!w->staged)
        return 0;
    int rc = dw_write(w, w->stage_at, w->fw->stage, w->staged);
    w->stage_at += w->staged;
    w->staged = 0;
    return rc;
}

/* Place the pending run: in place if large, else through the stage. */
static int dw_flush_run(data_writer *w)
{
    const uint8_t *p = w->run;
    size_t len = w->run_len;
    w->run = NULL;
    w->run_len = 0;
    if (!len)
        return 0;
    if (len >= DIRECT_BYTES) {
        uint64_t at = w->stage_at + w->staged;
        if (dw_flush_stage(w) < 0 || dw_write(w, at, p, len) < 0)
            return -1;
        w->stage_at = at + len;
        return 0;
    }
    if (w->staged + len > STAGE_BYTES && dw_flush_stage(w) < 0)
        return -1;
    memcpy(w->fw->stage + w->staged, p, len);
    w->staged += len;
    return 0;
}

/* Add len <= PIECE_BYTES bytes at data. */
static int dw_add(data_writer *w, const void *data, size_t len)
{
    if (!len)
        return 0;
    if (!w->run || (const uint8_t *)data != w->run + w->run_len) {
        if (dw_flush_run(w) < 0)
            return -1;
        w->run = data;
    }
    w->run_len += len;
    return w->run_len >= PIECE_BYTES ? dw_flush_run(w) : 0;
}

static int dw_finish(data_writer *w)
{
    return dw_flush_run(w) < 0 || dw_flush_stage(w) < 0 ? -1 : 0;
}

/* Create a contiguous 1-D dataset of n elements of ftype, storage
 * allocated on first write and, unless ftype holds variable-length strings
 * (HDF5 insists on filling those), never pre-filled. */
static hid_t create_1d(hid_t loc, const char *name, hid_t ftype, uint64_t n)
{
    hsize_t dim = n;
    hid_t sp = H5Screate_simple(1, &dim, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
    int vlen = H5Tdetect_class(ftype, H5T_VLEN) > 0 ||
               (H5Tget_class(ftype) == H5T_STRING && H5Tis_variable_str(ftype) > 0) ||
               H5Tget_class(ftype) == H5T_COMPOUND;
    if (sp >= 0 && dcpl >= 0 && H5Pset_layout(dcpl, H5D_CONTIGUOUS) >= 0 &&
        H5Pset_obj_track_times(dcpl, 0) >= 0 &&
        (vlen || H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0) &&
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE) >= 0)
        d = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    hid_t errs = d < 0 ? H5Eget_current_stack() : -1; /* survive the closes */
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (sp >= 0)
        H5Sclose(sp);
    if (errs >= 0)
        H5Eset_current_stack(errs);
    return d;
}

/* Write one section (keyed or operator state) of one operator: the blobs
 * b[0..cnt), all of the same uid and kind. Data first, each piece hashed
 * just before it is placed (so it is still in cache), then the index. */
static int write_section(const char *path, hid_t grp, const char *idx_name,
                         const char *data_name, const ckpt_blob *const *b, size_t cnt,
                         file_writer *fw, hid_t ftype_idx, hid_t mtype_idx, mpf_err *e)
{
    const char *uid = cnt ? b[0]->uid : "";
    uint64_t total = 0;
    for (size_t i = 0; i < cnt; i++)
        total += b[i]->len;
    ckpt_index_row *rows = xcalloc(cnt ? cnt : 1, sizeof *rows);
    int rc = 0;
    hid_t dd = create_1d(grp, data_name, H5T_STD_U8LE, total), di = -1;
    if (dd < 0) {
        rc = h5io_fail(e, MPF_EIO, "%s: cannot create %s of operator '%s'", path, data_name,
                       uid);
        goto done;
    }
    data_writer w = {.dset = dd, .fw = fw};
    XXH64_state_t *hs = fw->hash;
    int bad = 0;
    uint64_t at = 0;
    for (size_t i = 0; i < cnt && !bad; i++) {
        rows[i].key_group = b[i]->kind == CKPT_KEYED ? b[i]->key_group : -1;
        rows[i].subtask = b[i]->subtask;
        rows[i].offset = at;
        rows[i].length = b[i]->len;
        at += b[i]->len;
        XXH64_reset(hs, 0);
        const uint8_t *p = b[i]->data;
        for (size_t left = b[i]->len; left && !bad;) {
            size_t piece = left < PIECE_BYTES ? left : PIECE_BYTES;
            XXH64_update(hs, p, piece);
            bad = dw_add(&w, p, piece) < 0;
            p += piece;
            left -= piece;
        }
        rows[i].xxh64 = XXH64_digest(hs);
    }
    if (bad || dw_finish(&w) < 0) {
        rc = h5io_fail(e, MPF_EIO, "%s: cannot write %s of operator '%s' (%llu bytes)", path,
                       data_name, uid, (unsigned long long)total);
        goto done;
    }
    di = create_1d(grp, idx_name, ftype_idx, cnt);
    if (di < 0 || (cnt && H5Dwrite(di, mtype_idx, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0))
        rc = h5io_fail(e, MPF_EIO, "%s: cannot write %s of operator '%s'", path, idx_name, uid);
done:
    if (di >= 0)
        H5Dclose(di);
    if (dd >= 0)
        H5Dclose(dd);
    free(rows);
    return rc;
}

static int put_file_attrs(hid_t f, const ckpt_meta *m)
{
    return h5io_attr_put_int(f, "format_version", CKPT_FORMAT_VERSION, H5T_STD_I32LE) ||
           h5io_attr_put_str(f, "job", m->job) ||
           h5io_attr_put_int(f, "checkpoint_id", m->checkpoint_id, H5T_STD_I64LE) ||
           h5io_attr_put_int(f, "timestamp_ms", m->timestamp_ms, H5T_STD_I64LE) ||
           h5io_attr_put_int(f, "max_parallelism", m->max_parallelism, H5T_STD_I32LE) ||
           h5io_attr_put_str(f, "writer", "mpiflow " MPIFLOW_VERSION);
}

/* Write every operator's group: order[] is sorted by blob_cmp. */
static int write_operators(const char *path, hid_t f, hid_t fapl, const ckpt_blob *const *order,
                           size_t n, mpf_err *e)
{
    int rc = 0;
    file_writer fw = {.fd = -1};
    void *handle = NULL;
    if (H5Fget_vfd_handle(f, fapl, &handle) >= 0 && handle)
        fw.fd = *(int *)handle; /* the sec2 driver's handle is an int fd */
    hid_t ft = h5io_index_type(1), mt = h5io_index_type(0);
    /* No modification times in object headers: the same state gives the
     * same bytes (the fuzz corpus is generated, and diffs stay readable). */
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    if (gcpl >= 0)
        H5Pset_obj_track_times(gcpl, 0);
    hid_t ops = gcpl < 0 ? -1 : H5Gcreate2(f, H5IO_OPERATORS_GROUP, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (ft < 0 || mt < 0 || ops < 0) {
        rc = h5io_fail(e, MPF_EIO, "%s: cannot create /%s", path, H5IO_OPERATORS_GROUP);
        goto done;
    }
    fw.stage = xmalloc(STAGE_BYTES);
    if (!(fw.hash = XXH64_createState())) {
        rc = err_set(e, MPF_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < n && !rc;) {
        const char *uid = order[i]->uid;
        size_t j = i, k;
        while (j < n && order[j]->kind == CKPT_KEYED && strcmp(order[j]->uid, uid) == 0)
            j++;
        for (k = j; k < n && strcmp(order[k]->uid, uid) == 0;)
            k++;
        char *name = escape_uid(uid);
        hid_t g = H5Gcreate2(ops, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
        free(name);
        if (g < 0 || h5io_attr_put_str(g, "uid", uid))
            rc = h5io_fail(e, MPF_EIO, "%s: cannot create the group of operator '%s'", path,
                           uid);
        if (!rc)
            rc = write_section(path, g, H5IO_KEYED_INDEX, H5IO_KEYED_DATA, order + i, j - i,
                               &fw, ft, mt, e);
        if (!rc)
            rc = write_section(path, g, H5IO_OPERATOR_INDEX, H5IO_OPERATOR_DATA, order + j,
                               k - j, &fw, ft, mt, e);
        if (g >= 0)
            H5Gclose(g);
        i = k;
    }
done:
    if (fw.hash)
        XXH64_freeState(fw.hash);
    free(fw.stage);
    if (ops >= 0)
        H5Gclose(ops);
    if (gcpl >= 0)
        H5Pclose(gcpl);
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    return rc;
}

/* fsync the directory holding path. */
static int fsync_parent(const char *path, mpf_err *e)
{
    char *d = xstrdup(path);
    char *slash = strrchr(d, '/');
    if (slash)
        slash[slash == d ? 1 : 0] = '\0';
    int rc = h5io_fsync_path(slash ? d : ".", e);
    free(d);
    return rc;
}

int ckpt_write_tm(const char *dir, int rank, const ckpt_meta *m, const ckpt_blob *blobs,
                  size_t n, mpf_err *e)
{
    if (!dir || !*dir || !m || !m->job || (n && !blobs) || rank < 0 ||
        m->max_parallelism < 0 || m->max_parallelism > CKPT_MAX_PARALLELISM)
        return err_set(e, MPF_EINVAL, "ckpt_write_tm: invalid arguments");
    int rc = h5io_init(e);
    if (rc)
        return rc;
    /* Written as tm-<rank>.h5.tmp and renamed when complete and synced, so
     * tm-<rank>.h5 is never a partial file, not even after a crash. */
    char *path = xasprintf("%s/tm-%d.h5.tmp", dir, rank);
    char *fin = xasprintf("%s/tm-%d.h5", dir, rank);
    const ckpt_blob **order = NULL;
    hid_t fapl = -1, f = -1;
    if ((rc = check_blobs(fin, m, blobs, n, e)))
        goto done;

    order = xmalloc((n ? n : 1) * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = &blobs[i];
    qsort(order, n, sizeof *order, blob_cmp);
    for (size_t i = 1; i < n; i++) {
        const ckpt_blob *a = order[i - 1], *b = order[i];
        if (a->kind == CKPT_KEYED && b->kind == CKPT_KEYED && a->key_group == b->key_group &&
            strcmp(a->uid, b->uid) == 0) {
            rc = err_set(e, MPF_EINVAL,
                         "%s: key group %d of operator '%s' given twice (subtasks %d and %d)",
                         path, a->key_group, a->uid, a->subtask, b->subtask);
            goto done;
        }
    }
    if ((rc = ckpt_make_dirs(dir, e)))
        goto done;

    fapl = h5io_fapl(1);
    f = fapl < 0 ? -1 : H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) {
        rc = h5io_fail(e, MPF_EIO, "%s: cannot create", path);
        goto done;
    }
    if (h5io_attr_put_int(f, "rank", rank, H5T_STD_I32LE) || put_file_attrs(f, m))
        rc = h5io_fail(e, MPF_EIO, "%s: cannot write attributes", path);
    if (!rc)
        rc = write_operators(path, f, fapl, order, n, e);
    if (H5Fclose(f) < 0 && !rc)
        rc = h5io_fail(e, MPF_EIO, "%s: cannot finish writing", path);
    if (!rc)
        rc = h5io_fsync_path(path, e);
    if (!rc && rename(path, fin) != 0)
        rc = err_set(e, MPF_EIO, "%s: cannot rename to %s: %s", path, fin, strerror(errno));
    if (!rc)
        rc = fsync_parent(fin, e);
    if (rc)
        unlink(path); /* no half-written file: the JM checks presence */
done:
    if (fapl >= 0)
        H5Pclose(fapl);
    free(order);
    free(path);
    free(fin);
    return rc;
}

/* Earlier builds' operators table and file list: variable-length
 * strings (ckpt_set_legacy_format). */
static int write_meta_tables_vlen(const char *tmp, hid_t f, const ckpt_meta *m, mpf_err *e)
{
    int rc = 0, bad;
    hid_t str = h5io_str_type(), ft = -1, mt = -1, d = -1;
    if (str >= 0) {
        ft = h5io_op_type(str, 1);
        mt = h5io_op_type(str, 0);
    }
    ckpt_op_row *rows = xcalloc(m->nops ? (size_t)m->nops : 1, sizeof *rows);
    for (int i = 0; i < m->nops; i++) {
        rows[i].uid = m->ops[i].uid;
        rows[i].kind = m->ops[i].kind ? m->ops[i].kind : "";
        rows[i].parallelism = m->ops[i].parallelism;
        rows[i].schema = m->ops[i].schema ? m->ops[i].schema : "";
    }
    d = ft < 0 || mt < 0 ? -1 : create_1d(f, "operators", ft, (uint64_t)m->nops);
    bad = d < 0 || (m->nops && H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0);
    free(rows);
    if (d >= 0)
        H5Dclose(d);
    if (bad) {
        rc = h5io_fail(e, MPF_EIO, "%s: cannot write the operators table", tmp);
        goto done;
    }
    char **names = xcalloc((size_t)m->ntms + 1, sizeof *names);
    for (int i = 0; i < m->ntms; i++)
        names[i] = xasprintf("tm-%d.h5", i + 1);
    d = create_1d(f, "taskmanager_files", str, (uint64_t)m->ntms);
    bad = d < 0 || (m->ntms && H5Dwrite(d, str, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) < 0);
    for (int i = 0; i < m->ntms; i++)
        free(names[i]);
    free(names);
    if (d >= 0)
        H5Dclose(d);
    if (bad)
        rc = h5io_fail(e, MPF_EIO, "%s: cannot write the file list", tmp);
done:
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    if (str >= 0)
        H5Tclose(str);
    return rc;
}

/* The operators table and the file list with fixed-length strings, each
 * column as wide as its longest value: no global heap, whose objects
 * carry no checksum and which HDF5 1.10 reads without bounds checks. */
static int write_meta_tables(const char *tmp, hid_t f, const ckpt_meta *m, mpf_err *e)
{
    if (h5io_legacy_format())
        return write_meta_tables_vlen(tmp, f, m, e);
    int rc = 0, bad;
    size_t len[3] = {1, 1, 1};
    for (int i = 0; i < m->nops; i++) {
        const char *v[3] = {m->ops[i].uid, m->ops[i].kind ? m->ops[i].kind : "",
                            m->ops[i].schema ? m->ops[i].schema : ""};
        for (int k = 0; k < 3; k++)
            if (strlen(v[k]) + 1 > len[k])
                len[k] = strlen(v[k]) + 1;
    }
    size_t row = len[0] + len[1] + 4 + len[2];
    uint8_t *rows = xcalloc(m->nops ? (size_t)m->nops : 1, row);
    for (int i = 0; i < m->nops; i++) {
        uint8_t *r = rows + (size_t)i * row;
        int32_t par = m->ops[i].parallelism;
        memcpy(r, m->ops[i].uid, strlen(m->ops[i].uid));
        if (m->ops[i].kind)
            memcpy(r + len[0], m->ops[i].kind, strlen(m->ops[i].kind));
        memcpy(r + len[0] + len[1], &par, 4);
        if (m->ops[i].schema)
            memcpy(r + len[0] + len[1] + 4, m->ops[i].schema, strlen(m->ops[i].schema));
    }
    hid_t ft = h5io_op_type_fixed(len, 1), mt = h5io_op_type_fixed(len, 0), d = -1, st = -1;
    d = ft < 0 || mt < 0 ? -1 : create_1d(f, "operators", ft, (uint64_t)m->nops);
    bad = d < 0 || (m->nops && H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0);
    free(rows);
    if (d >= 0)
        H5Dclose(d);
    if (bad) {
        rc = h5io_fail(e, MPF_EIO, "%s: cannot write the operators table", tmp);
        goto done;
    }
    char last[32];
    size_t w = (size_t)snprintf(last, sizeof last, "tm-%d.h5", m->ntms) + 1;
    char *names = xcalloc((size_t)m->ntms + 1, w);
    for (int i = 0; i < m->ntms; i++)
        snprintf(names + (size_t)i * w, w, "tm-%d.h5", i + 1);
    st = h5io_fstr_type(w);
    d = st < 0 ? -1 : create_1d(f, "taskmanager_files", st, (uint64_t)m->ntms);
    bad = d < 0 || (m->ntms && H5Dwrite(d, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) < 0);
    free(names);
    if (d >= 0)
        H5Dclose(d);
    if (bad)
        rc = h5io_fail(e, MPF_EIO, "%s: cannot write the file list", tmp);
done:
    if (st >= 0)
        H5Tclose(st);
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    return rc;
}

static int write_meta_file(const char *tmp, const ckpt_meta *m, mpf_err *e)
{
    int rc = 0;
    hid_t fapl = h5io_fapl(1);
    hid_t f = fapl < 0 ? -1 : H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) {
        rc = h5io_fail(e, MPF_EIO, "%s: cannot create", tmp);
    } else {
        if (put_file_attrs(f, m) ||
            h5io_attr_put_int(f, "num_taskmanagers", m->ntms, H5T_STD_I32LE) ||
            h5io_attr_put_int(f, "is_savepoint", m->is_savepoint ? 1 : 0, H5T_STD_I32LE))
            rc = h5io_fail(e, MPF_EIO, "%s: cannot write attributes", tmp);
        if (!rc)
            rc = write_meta_tables(tmp, f, m, e);
        if (H5Fclose(f) < 0 && !rc)
            rc = h5io_fail(e, MPF_EIO, "%s: cannot finish writing", tmp);
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    return rc;
}

int ckpt_write_metadata(const char *dir, const ckpt_meta *m, mpf_err *e)
{
    if (!dir || !*dir || !m || !m->job || m->ntms < 0 || m->ntms > CKPT_MAX_TASKMANAGERS ||
        m->nops < 0 || (m->nops && !m->ops) || m->max_parallelism < 0 ||
        m->max_parallelism > CKPT_MAX_PARALLELISM)
        return err_set(e, MPF_EINVAL, "ckpt_write_metadata: invalid arguments");
    for (int i = 0; i < m->nops; i++) {
        if (!m->ops[i].uid || !*m->ops[i].uid)
            return err_set(e, MPF_EINVAL, "%s: operator %d has no uid", dir, i);
        if (m->ops[i].parallelism < 1 || m->ops[i].parallelism > CKPT_MAX_PARALLELISM)
            return err_set(e, MPF_EINVAL, "%s: operator '%s' has parallelism %d (1 to %d)", dir,
                           m->ops[i].uid, m->ops[i].parallelism, CKPT_MAX_PARALLELISM);
    }
    int rc = h5io_init(e);
    if (rc)
        return rc;
    for (int r = 1; r <= m->ntms; r++) {
        char *p = xasprintf("%s/tm-%d.h5", dir, r);
        struct stat st;
        int missing = stat(p, &st) != 0;
        free(p);
        if (missing)
            return err_set(e, MPF_ENOENT, "%s/tm-%d.h5: missing, cannot complete checkpoint %lld",
                           dir, r, (long long)m->checkpoint_id);
    }
    char *tmp = xasprintf("%s/%s.tmp", dir, CKPT_METADATA_FILE);
    char *fin = xasprintf("%s/%s", dir, CKPT_METADATA_FILE);
    rc = write_meta_file(tmp, m, e);
    if (!rc)
        rc = h5io_fsync_path(tmp, e);
    if (!rc && rename(tmp, fin) != 0)
        rc = err_set(e, MPF_EIO, "%s: cannot rename to %s: %s", tmp, CKPT_METADATA_FILE,
                     strerror(errno));
    if (rc)
        unlink(tmp);
    else
        rc = h5io_fsync_path(dir, e);
    free(fin);
    free(tmp);
    return rc;
}
