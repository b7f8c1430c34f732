/* HDF5 helpers private to src/ckpt (checkpoint layer). */
#include "ckpt/h5io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util/xmalloc.h"

int h5io_init(mpf_err *e)
{
    if (H5open() < 0)
        return err_set(e, MPF_EIO, "cannot initialise the HDF5 library");
    /* Library code does not print: errors travel in mpf_err. The HDF5 we
     * link is not thread-safe, so this setting is process-wide. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return 0;
}

hid_t h5io_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return -1;
    H5Pset_fapl_sec2(fapl);
    /* flock() fails on some shared file systems; checkpoint files are
     * written once by one process and never concurrently opened for
     * writing, so locks add nothing. */
    H5Pset_file_locking(fapl, 0, 1);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_LATEST);
    return fapl;
}

static herr_t detail_walk(unsigned n, const H5E_error2_t *d, void *arg)
{
    char **dst = arg;
    if (n == 0 && d->desc && *d->desc)
        *dst = (char *)d->desc;
    return 0;
}

const char *h5io_detail(char *buf, size_t n)
{
    char *desc = NULL;
    buf[0] = '\0';
    if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, detail_walk, &desc) >= 0 && desc)
        snprintf(buf, n, "%s", desc);
    return buf;
}

int h5io_fail(mpf_err *e, int code, const char *fmt, ...)
{
    char detail[256];
    h5io_detail(detail, sizeof detail);
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, code, fmt, ap);
    va_end(ap);
    if (e && detail[0]) {
        size_t len = strlen(e->msg);
        snprintf(e->msg + len, sizeof e->msg - len, " (HDF5: %s)", detail);
    }
    return code;
}

hid_t h5io_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

hid_t h5io_index_type(int file)
{
    size_t size = file ? 4 + 4 + 8 + 8 + 8 : sizeof(ckpt_index_row);
    hid_t t = H5Tcreate(H5T_COMPOUND, size);
    if (t < 0)
        return -1;
    hid_t i32 = file ? H5T_STD_I32LE : H5T_NATIVE_INT32;
    hid_t u64 = file ? H5T_STD_U64LE : H5T_NATIVE_UINT64;
    size_t o[5];
    if (file) {
        o[0] = 0, o[1] = 4, o[2] = 8, o[3] = 16, o[4] = 24;
    } else {
        o[0] = offsetof(ckpt_index_row, key_group);
        o[1] = offsetof(ckpt_index_row, subtask);
        o[2] = offsetof(ckpt_index_row, offset);
        o[3] = offsetof(ckpt_index_row, length);
        o[4] = offsetof(ckpt_index_row, xxh64);
    }
    if (H5Tinsert(t, "key_group", o[0], i32) < 0 || H5Tinsert(t, "subtask", o[1], i32) < 0 ||
        H5Tinsert(t, "offset", o[2], u64) < 0 || H5Tinsert(t, "length", o[3], u64) < 0 ||
        H5Tinsert(t, "xxh64", o[4], u64) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

hid_t h5io_op_type(hid_t str, int file)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(ckpt_op_row));
    if (t < 0)
        return -1;
    if (H5Tinsert(t, "uid", offsetof(ckpt_op_row, uid), str) < 0 ||
        H5Tinsert(t, "kind", offsetof(ckpt_op_row, kind), str) < 0 ||
        H5Tinsert(t, "parallelism", offsetof(ckpt_op_row, parallelism),
                  file ? H5T_STD_I32LE : H5T_NATIVE_INT32) < 0 ||
        H5Tinsert(t, "schema", offsetof(ckpt_op_row, schema), str) < 0 ||
        (file && H5Tpack(t) < 0)) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

int h5io_attr_put_int(hid_t obj, const char *name, int64_t v, hid_t ftype)
{
    int rc = -1;
    hid_t sp = H5Screate(H5S_SCALAR), a = -1;
    if (sp < 0)
        return -1;
    a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0)
        rc = 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

int h5io_attr_put_str(hid_t obj, const char *name, const char *s)
{
    int rc = -1;
    hid_t st = h5io_str_type(), sp = H5Screate(H5S_SCALAR), a = -1;
    if (st >= 0 && sp >= 0)
        a = H5Acreate2(obj, name, st, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char *v = s ? s : "";
    if (a >= 0 && H5Awrite(a, st, &v) >= 0)
        rc = 0;
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    if (st >= 0)
        H5Tclose(st);
    return rc;
}

/* Open attribute name of obj if it exists and is a scalar (or a
 * one-element array) of the given class: >= 0 id, -2 absent, -1 else. */
static hid_t attr_open(hid_t obj, const char *name, H5T_class_t cls)
{
    htri_t ex = H5Aexists(obj, name);
    if (ex < 0)
        return -1;
    if (ex == 0)
        return -2;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    int ok = t >= 0 && sp >= 0 && H5Tget_class(t) == cls &&
             H5Sget_simple_extent_npoints(sp) == 1;
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    if (!ok) {
        H5Aclose(a);
        return -1;
    }
    return a;
}

int h5io_attr_get_int(hid_t obj, const char *name, int64_t *v)
{
    hid_t a = attr_open(obj, name, H5T_INTEGER);
    if (a < 0)
        return a == -2 ? 1 : -1;
    int rc = H5Aread(a, H5T_NATIVE_INT64, v) < 0 ? -1 : 0;
    H5Aclose(a);
    return rc;
}

int h5io_attr_get_str(hid_t obj, const char *name, char **out)
{
    *out = NULL;
    hid_t a = attr_open(obj, name, H5T_STRING);
    if (a < 0)
        return a == -2 ? 1 : -1;
    int rc = -1;
    hid_t ft = H5Aget_type(a), mt = -1;
    if (ft < 0)
        goto done;
    if (H5Tis_variable_str(ft) > 0) {
        mt = h5io_str_type();
        char *s = NULL;
        if (mt >= 0 && H5Aread(a, mt, &s) >= 0 && s) {
            *out = xstrdup(s);
            H5free_memory(s);
            rc = 0;
        }
    } else {
        size_t len = H5Tget_size(ft);
        mt = H5Tcopy(H5T_C_S1);
        if (mt >= 0 && len > 0 && H5Tset_size(mt, len + 1) >= 0 &&
            H5Tset_strpad(mt, H5T_STR_NULLTERM) >= 0) {
            char *s = xcalloc(1, len + 1);
            if (H5Aread(a, mt, s) >= 0) {
                *out = s;
                rc = 0;
            } else {
                free(s);
            }
        }
    }
done:
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

int h5io_read_strings(hid_t dset, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = -1;
    hid_t sp = H5Dget_space(dset), ft = H5Dget_type(dset), mt = -1;
    if (sp < 0 || ft < 0 || H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) <= 0 ||
        H5Sget_simple_extent_ndims(sp) != 1)
        goto done;
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    if (np < 0)
        goto done;
    size_t cnt = (size_t)np;
    char **raw = xcalloc(cnt ? cnt : 1, sizeof *raw);
    mt = h5io_str_type();
    if (mt < 0 || (cnt && H5Dread(dset, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0)) {
        free(raw);
        goto done;
    }
    char **res = xcalloc(cnt ? cnt : 1, sizeof *res);
    for (size_t i = 0; i < cnt; i++)
        res[i] = xstrdup(raw[i] ? raw[i] : "");
    if (cnt)
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, raw);
    free(raw);
    *out = res;
    *n = cnt;
    rc = 0;
done:
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    if (sp >= 0)
        H5Sclose(sp);
    return rc;
}

const char *h5io_open_failure(const char *path)
{
    /* H5Fis_hdf5 only looks for the signature; a file that has one but
     * does not open is cut short or damaged. */
    return H5Fis_hdf5(path) > 0 ? "truncated or damaged HDF5 file" : "not an HDF5 file";
}

int h5io_fsync_path(const char *path, mpf_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, MPF_EIO, "%s: cannot open to fsync: %s", path, strerror(errno));
    int rc = 0;
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        rc = err_set(e, MPF_EIO, "%s: fsync failed: %s", path, strerror(errno));
    close(fd);
    return rc;
}
