/* HDF5 helpers private to src/ckpt (checkpoint layer): file access
 * properties, typed attributes, the index record type, HDF5 error detail
 * for messages, and fsync. Only src/ckpt includes this header, and with it
 * hdf5.h. */
#ifndef MPF_CKPT_H5IO_H
#define MPF_CKPT_H5IO_H

#include <hdf5.h>
#include <stdint.h>
#include "ckpt/ckpt.h"

/* One row of keyed_index / operator_index (memory layout). */
typedef struct ckpt_index_row {
    int32_t key_group;
    int32_t subtask;
    uint64_t offset; /* into the matching *_data dataset */
    uint64_t length;
    uint64_t xxh64; /* XXH64(data, length, seed 0) */
} ckpt_index_row;

/* One row of the operators table in _metadata.h5 (memory layout). */
typedef struct ckpt_op_row {
    char *uid;
    char *kind;
    int32_t parallelism;
    char *schema;
} ckpt_op_row;

/* Names inside the files (docs/CHECKPOINTS.md). */
#define H5IO_OPERATORS_GROUP "operators"
#define H5IO_KEYED_INDEX "keyed_index"
#define H5IO_KEYED_DATA "keyed_data"
#define H5IO_OPERATOR_INDEX "operator_index"
#define H5IO_OPERATOR_DATA "operator_data"

/* H5open and error printing off; idempotent. */
int h5io_init(mpf_err *e);
/* File access properties: sec2 driver, no file locking (NFS, Lustre);
 * for writing (write != 0) the HDF5 1.8 format, whose metadata is
 * checksummed (the earliest format after ckpt_set_legacy_format(1)).
 * Caller closes. */
hid_t h5io_fapl(int write);
/* The innermost message on HDF5's error stack, or "" (buf is returned). */
const char *h5io_detail(char *buf, size_t n);
/* err_set with " (HDF5: <detail>)" appended when HDF5 left one. */
int h5io_fail(mpf_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Longest fixed-length string attribute read (a damaged size would be
 * allocated as given). */
#define H5IO_MAX_FIXED_STR (1 << 20)

/* Is t an integer HDF5 converts plainly: 1, 2, 4 or 8 bytes, all bits
 * used, little- or big-endian? */
int h5io_plain_int(hid_t t);
/* "uint64 LE", "variable-length string", "compound of 5 members in 32
 * bytes", ... into buf (returned). */
const char *h5io_type_name(hid_t t, char *buf, size_t n);
/* Does type got (from a file) have the layout of want (a file type made
 * by h5io_*_type)? Compounds: same size and member count, every member
 * of want at the same offset with the same type. 1 if so; else 0 and why
 * ("member 'offset' has type uint64 LE at byte 248, expected uint64 LE
 * at byte 8"). */
int h5io_type_check(hid_t got, hid_t want, char *why, size_t n);
/* Bytes of one element in the file: an index row, an operators row
 * (three strings and an int32), a variable-length string (a global heap
 * id: 4-byte length, 8-byte address, 4-byte index), a byte. */
#define H5IO_INDEX_ROW_BYTES 32
#define H5IO_OP_ROW_BYTES 52
#define H5IO_STR_BYTES 16

/* Check dataset d before reading it: 1-D, type as h5io_type_check(want),
 * contiguous without filters, storage exactly its extent of elements of
 * esize bytes and inside a file of file_size bytes. 1 and *nelem on
 * success; else 0 and why. HDF5 presents a type holding variable-length
 * strings with the strings as pointers, so member offsets in why are
 * those of that view. */
int h5io_check_dset(hid_t d, hid_t want, size_t esize, uint64_t file_size, uint64_t *nelem,
                    char *why, size_t n);

/* Variable-length UTF-8 string type; caller closes. */
hid_t h5io_str_type(void);
/* The index row type: file = packed little-endian, else native. Caller
 * closes. */
hid_t h5io_index_type(int file);

/* The operators row type over string type str (h5io_str_type): file =
 * packed, else native. Earlier builds wrote it; caller closes. */
hid_t h5io_op_type(hid_t str, int file);
/* Fixed-length UTF-8 string of size bytes (at least 1), NUL-terminated;
 * caller closes. */
hid_t h5io_fstr_type(size_t size);
/* The operators row type written now: uid, kind, parallelism, schema
 * packed in that order, the strings fixed-length of len[0], len[1] and
 * len[2] bytes. file: parallelism little-endian, else native. Caller
 * closes. */
hid_t h5io_op_type_fixed(const size_t len[3], int file);
/* Nonzero after ckpt_set_legacy_format(1). */
int h5io_legacy_format(void);

/* Scalar attributes. put: 0 or -1. get: 0, 1 if absent, -1 if present but
 * not readable as that type. Strings from get are malloc'd (caller frees). */
int h5io_attr_put_int(hid_t obj, const char *name, int64_t v, hid_t ftype);
int h5io_attr_put_str(hid_t obj, const char *name, const char *s);
int h5io_attr_get_int(hid_t obj, const char *name, int64_t *v);
int h5io_attr_get_str(hid_t obj, const char *name, char **out);

/* Read a 1-D dataset of strings, fixed (at most H5IO_MAX_FIXED_STR
 * bytes) or variable-length: *out gets n malloc'd strings (caller frees
 * each and the array). 0 or -1. */
int h5io_read_strings(hid_t dset, char ***out, size_t *n);

/* Classify why path cannot be opened as HDF5: "not an HDF5 file" or
 * "truncated or damaged HDF5 file". */
const char *h5io_open_failure(const char *path);

/* Read only format_version, timestamp_ms and checkpoint_id of
 * <dir>/_metadata.h5 (ckpt_find_latest). */
int ckpt_peek_metadata(const char *dir, int64_t *timestamp_ms, int64_t *id, mpf_err *e);

/* fsync a file or directory by path; errno-based message on failure. */
int h5io_fsync_path(const char *path, mpf_err *e);
/* mkdir -p dir; MPF_EIO naming the part that could not be made. */
int ckpt_make_dirs(const char *dir, mpf_err *e);

#endif
