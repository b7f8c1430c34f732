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

static int legacy_format;

void ckpt_set_legacy_format(int on)
{
    legacy_format = on;
}

hid_t h5io_fapl(int write)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return -1;
    H5Pset_fapl_sec2(fapl);
    /* flock() fails on some shared file systems; checkpoint files are
     * written once by one process and never concurrently opened for
     * writing, so locks add nothing. */
    H5Pset_file_locking(fapl, 0, 1);
    /* Writing: the 1.8 format (superblock 2, object headers 2, datatype
     * messages 3), whose metadata carries checksums, so a flipped byte in
     * a header is an error instead of a wrong type; HDF5 1.8 and later
     * read it. Reading keeps the defaults, which open every format. */
    if (write && !legacy_format)
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    else
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

int h5io_legacy_format(void)
{
    return legacy_format;
}

hid_t h5io_fstr_type(size_t size)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    if (H5Tset_size(t, size ? size : 1) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0 ||
        H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

hid_t h5io_op_type_fixed(const size_t len[3], int file)
{
    hid_t s[3] = {-1, -1, -1}, t = -1;
    for (int i = 0; i < 3; i++)
        if ((s[i] = h5io_fstr_type(len[i])) < 0)
            goto done;
    t = H5Tcreate(H5T_COMPOUND, len[0] + len[1] + 4 + len[2]);
    if (t >= 0 &&
        (H5Tinsert(t, "uid", 0, s[0]) < 0 || H5Tinsert(t, "kind", len[0], s[1]) < 0 ||
         H5Tinsert(t, "parallelism", len[0] + len[1],
                   file ? H5T_STD_I32LE : H5T_NATIVE_INT32) < 0 ||
         H5Tinsert(t, "schema", len[0] + len[1] + 4, s[2]) < 0)) {
        H5Tclose(t);
        t = -1;
    }
done:
    for (int i = 0; i < 3; i++)
        if (s[i] >= 0)
            H5Tclose(s[i]);
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
    const char *v = s ? s : "";
    /* Fixed length: the string lives in the (checksummed) object header;
     * a variable-length one lives in the global heap, which has no
     * checksum and which HDF5 1.10 reads without bounds checks. */
    hid_t st = legacy_format ? h5io_str_type() : h5io_fstr_type(strlen(v) + 1);
    hid_t sp = H5Screate(H5S_SCALAR), a = -1;
    if (st >= 0 && sp >= 0)
        a = H5Acreate2(obj, name, st, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && H5Awrite(a, st, legacy_format ? (const void *)&v : (const void *)v) >= 0)
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
    /* Conversion is only trusted from plain integers and from strings of
     * a sane length (a damaged size would be allocated as given). */
    if (ok && cls == H5T_INTEGER)
        ok = h5io_plain_int(t);
    if (ok && cls == H5T_STRING && H5Tis_variable_str(t) <= 0)
        ok = H5Tget_size(t) > 0 && H5Tget_size(t) <= H5IO_MAX_FIXED_STR;
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
            H5Tset_strpad(mt, H5T_STR_NULLTERM) >= 0 &&
            H5Tset_cset(mt, H5Tget_cset(ft)) >= 0) { /* no conversion across sets */
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

int h5io_plain_int(hid_t t)
{
    size_t size = H5Tget_size(t);
    H5T_order_t order = H5Tget_order(t);
    return H5Tget_class(t) == H5T_INTEGER &&
           (size == 1 || size == 2 || size == 4 || size == 8) &&
           H5Tget_precision(t) == 8 * size && H5Tget_offset(t) == 0 &&
           (order == H5T_ORDER_LE || order == H5T_ORDER_BE ||
            (size == 1 && order == H5T_ORDER_NONE));
}

const char *h5io_type_name(hid_t t, char *buf, size_t n)
{
    H5T_class_t cls = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    if (cls == H5T_INTEGER) {
        H5T_sign_t sg = H5Tget_sign(t);
        H5T_order_t order = H5Tget_order(t);
        size_t prec = H5Tget_precision(t);
        int off = H5Tget_offset(t);
        if (prec == 8 * size && off == 0)
            snprintf(buf, n, "%sint%zu%s", sg == H5T_SGN_NONE ? "u" : "", 8 * size,
                     size == 1 ? "" : order == H5T_ORDER_BE ? " BE" : " LE");
        else
            snprintf(buf, n, "integer of %zu bytes with %zu bits at bit %d", size, prec, off);
    } else if (cls == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0)
            snprintf(buf, n, "variable-length string");
        else
            snprintf(buf, n, "string of %zu bytes", size);
    } else if (cls == H5T_COMPOUND) {
        snprintf(buf, n, "compound of %d members in %zu bytes", H5Tget_nmembers(t), size);
    } else {
        static const char *const names[] = {"integer", "float", "time", "string", "bitfield",
                                            "opaque", "compound", "reference", "enum",
                                            "variable-length", "array"};
        if (cls >= 0 && (size_t)cls < sizeof names / sizeof names[0])
            snprintf(buf, n, "%s of %zu bytes", names[cls], size);
        else
            snprintf(buf, n, "unknown type class %d", (int)cls);
    }
    return buf;
}

/* Same member type: strings by kind (HDF5 compares variable-length ones
 * by where they live, memory or file), the rest by H5Tequal. */
static int member_type_ok(hid_t got, hid_t want)
{
    if (H5Tget_class(want) == H5T_STRING)
        return H5Tget_class(got) == H5T_STRING &&
               (H5Tis_variable_str(got) > 0) == (H5Tis_variable_str(want) > 0) &&
               (H5Tis_variable_str(want) > 0 || H5Tget_size(got) == H5Tget_size(want));
    return H5Tget_class(got) == H5Tget_class(want) && H5Tequal(got, want) > 0;
}

int h5io_type_check(hid_t got, hid_t want, char *why, size_t n)
{
    char g[96], w[96];
    H5T_class_t cls = H5Tget_class(want);
    if (cls != H5T_COMPOUND) {
        if (member_type_ok(got, want))
            return 1;
        snprintf(why, n, "has type %s, expected %s", h5io_type_name(got, g, sizeof g),
                 h5io_type_name(want, w, sizeof w));
        return 0;
    }
    int nw = H5Tget_nmembers(want);
    int ng = H5Tget_class(got) == H5T_COMPOUND ? H5Tget_nmembers(got) : -1;
    size_t gsize = H5Tget_size(got), wsize = H5Tget_size(want);
    if (ng != nw || gsize != wsize) {
        snprintf(why, n, "has type %s, expected %s", h5io_type_name(got, g, sizeof g),
                 h5io_type_name(want, w, sizeof w));
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < nw && ok; i++) {
        char *name = H5Tget_member_name(want, (unsigned)i);
        int gi = name ? H5Tget_member_index(got, name) : -1;
        hid_t gt = gi < 0 ? -1 : H5Tget_member_type(got, (unsigned)gi);
        hid_t wt = H5Tget_member_type(want, (unsigned)i);
        size_t go = gi < 0 ? 0 : H5Tget_member_offset(got, (unsigned)gi);
        size_t wo = H5Tget_member_offset(want, (unsigned)i);
        if (gi < 0) {
            snprintf(why, n, "has no member '%s'", name ? name : "?");
            ok = 0;
        } else if (gt < 0 || wt < 0 || go != wo || !member_type_ok(gt, wt)) {
            if (gt >= 0)
                h5io_type_name(gt, g, sizeof g);
            else
                snprintf(g, sizeof g, "(unreadable)");
            snprintf(why, n, "member '%s' has type %s at byte %zu, expected %s at byte %zu", name,
                     g, go, wt >= 0 ? h5io_type_name(wt, w, sizeof w) : "?", wo);
            ok = 0;
        }
        if (gt >= 0)
            H5Tclose(gt);
        if (wt >= 0)
            H5Tclose(wt);
        H5free_memory(name);
    }
    return ok;
}

int h5io_check_dset(hid_t d, hid_t want, size_t esize, uint64_t file_size, uint64_t *nelem,
                    char *why, size_t n)
{
    int ok = 0;
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d), dcpl = H5Dget_create_plist(d);
    hsize_t dim = 0;
    if (sp < 0 || ft < 0 || dcpl < 0) {
        snprintf(why, n, "cannot be inspected");
        goto done;
    }
    if (H5Sget_simple_extent_type(sp) != H5S_SIMPLE || H5Sget_simple_extent_ndims(sp) != 1 ||
        H5Sget_simple_extent_dims(sp, &dim, NULL) != 1) {
        snprintf(why, n, "is not a 1-D array");
        goto done;
    }
    if (!h5io_type_check(ft, want, why, n))
        goto done;
    /* Every dataset is written contiguous and whole (docs/CHECKPOINTS.md),
     * so its storage is exactly its extent and lies inside the file; a
     * damaged extent or layout is caught here before anything is
     * allocated for it. */
    haddr_t at = H5Dget_offset(d);
    hsize_t stored = H5Dget_storage_size(d);
    if (H5Pget_layout(dcpl) != H5D_CONTIGUOUS || H5Pget_nfilters(dcpl) != 0) {
        snprintf(why, n, "is not stored contiguously without filters");
        goto done;
    }
    if (esize == 0 || dim > file_size / esize || stored != dim * esize ||
        (dim && (at == HADDR_UNDEF || at > file_size || stored > file_size - at))) {
        snprintf(why, n,
                 "claims %llu elements of %zu bytes but stores %llu bytes (file of %llu bytes)",
                 (unsigned long long)dim, esize, (unsigned long long)stored,
                 (unsigned long long)file_size);
        goto done;
    }
    *nelem = dim;
    ok = 1;
done:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (ft >= 0)
        H5Tclose(ft);
    if (sp >= 0)
        H5Sclose(sp);
    return ok;
}

int h5io_read_strings(hid_t dset, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = -1;
    hid_t sp = H5Dget_space(dset), ft = H5Dget_type(dset), mt = -1;
    if (sp < 0 || ft < 0 || H5Tget_class(ft) != H5T_STRING || H5Sget_simple_extent_ndims(sp) != 1)
        goto done;
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    if (np < 0)
        goto done;
    size_t cnt = (size_t)np;
    if (H5Tis_variable_str(ft) <= 0) {
        size_t w = H5Tget_size(ft);
        if (w == 0 || w > H5IO_MAX_FIXED_STR || (cnt && w > SIZE_MAX / cnt))
            goto done;
        char *raw = xmalloc(cnt * w + 1);
        if (cnt && H5Dread(dset, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
            free(raw);
            goto done;
        }
        char **res = xcalloc(cnt ? cnt : 1, sizeof *res);
        for (size_t i = 0; i < cnt; i++)
            res[i] = xstrndup(raw + i * w, w);
        free(raw);
        *out = res;
        *n = cnt;
        rc = 0;
        goto done;
    }
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
