/* Checkpoint storage (checkpoint layer): writes and reads the on-disk form
 * of checkpoints and savepoints, one HDF5 file per TaskManager plus the
 * JobManager's _metadata.h5, and manages the chk-<n> directories (latest,
 * retention). The runtime hands in opaque per-operator state blobs; this
 * module knows nothing of their contents. It is the only code that
 * includes hdf5.h; the layout is described in docs/CHECKPOINTS.md.
 *
 * Threads: the HDF5 library mpiflow links is not thread-safe, so in one
 * process only one thread at a time may be inside any ckpt_* function
 * (a TaskManager's background snapshot writer, for example). Call
 * ckpt_lib_init() once from the main thread first. */
#ifndef MPF_CKPT_CKPT_H
#define MPF_CKPT_CKPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "util/err.h"

/* The format version this code writes and the only one it reads. */
#define CKPT_FORMAT_VERSION 1
/* Limits the reader holds every count to before using it; the writer
 * refuses more. Parallelism and max-parallelism: the configuration's
 * limit (pipeline.max-parallelism, an operator's parallelism). The
 * TaskManager limit is ours: a million MPI ranks. */
#define CKPT_MAX_PARALLELISM 32768
#define CKPT_MAX_TASKMANAGERS (1 << 20)
/* Name of the JobManager's file; a directory without it is no checkpoint. */
#define CKPT_METADATA_FILE "_metadata.h5"

enum ckpt_state_kind {
    CKPT_KEYED = 1,    /* one key group's state of one operator */
    CKPT_OPERATOR = 2, /* one subtask's non-keyed state (source positions,
                          sink pending files); redistributed as a list */
};

/* One state blob. Writing: the caller owns every pointer. Reading: the
 * pointers are the checkpoint's and stay valid during the callback only. */
typedef struct ckpt_blob {
    const char *uid;  /* operator uid */
    int subtask;      /* producing subtask, 0-based */
    int kind;         /* enum ckpt_state_kind */
    int key_group;    /* CKPT_KEYED: the key group; CKPT_OPERATOR: -1 */
    const void *data; /* may be NULL when len is 0 */
    size_t len;
} ckpt_blob;

typedef struct ckpt_op_meta {
    char *uid;
    int parallelism;
    char *schema; /* text, e.g. "word:string, count:i64"; NULL writes "" */
    char *kind;   /* "<role>/<name>" (earlier builds: the name); NULL writes "" */
} ckpt_op_meta;

/* What _metadata.h5 records (and, for job and ids, every TM file). */
typedef struct ckpt_meta {
    char *job;
    int64_t checkpoint_id;
    int64_t timestamp_ms; /* Unix time of the trigger, milliseconds */
    int max_parallelism;  /* number of key groups */
    int ntms;             /* TaskManagers: files tm-1.h5 .. tm-<ntms>.h5 */
    int is_savepoint;
    int nops;
    ckpt_op_meta *ops;
} ckpt_meta;

typedef struct ckpt ckpt; /* an open, validated checkpoint */

/* Initialise the HDF5 library and silence its error printing (errors are
 * reported through mpf_err instead). Call once from the main thread after
 * MPI_Init: parallel HDF5 registers an MPI_Finalize hook on first use, an
 * MPI call that must not come from a background thread. Idempotent. */
int ckpt_lib_init(mpf_err *e);

/* Tests and the fuzz harness only: nonzero makes later writes use the
 * HDF5 format that earlier builds wrote, without metadata checksums
 * (H5F_LIBVER_EARLIEST), so that reading such files stays tested.
 * Process-wide, like the rule above. */
void ckpt_set_legacy_format(int on);

/* "<root>/<job>/chk-<id>" into buf; MPF_ERANGE if it does not fit. */
int ckpt_chk_dir(char *buf, size_t n, const char *root, const char *job, int64_t id,
                 mpf_err *e);

/* TaskManager side: write <dir>/tm-<rank>.h5 holding all n blobs (dir is
 * the chk-<n> directory, created with its parents if missing), then fsync
 * it and the directory. m supplies job, checkpoint_id, timestamp_ms and
 * max_parallelism (key groups must be below it when it is > 0); m->ops is
 * not used. A keyed (uid, key group) may appear only once. Data is copied
 * out before return. On failure no partial file is left. Safe from a
 * background thread under the rule at the top of this file. */
int ckpt_write_tm(const char *dir, int rank, const ckpt_meta *m, const ckpt_blob *blobs,
                  size_t n, mpf_err *e);

/* JobManager side, after every TaskManager's file is written: check that
 * tm-1.h5 .. tm-<ntms>.h5 exist, then write <dir>/_metadata.h5 atomically
 * (temporary name, fsync, rename, fsync of the directory). */
int ckpt_write_metadata(const char *dir, const ckpt_meta *m, mpf_err *e);

enum ckpt_open_flag {
    /* Skip reading every blob at open to check its xxh64; ckpt_read still
     * checks each blob it delivers. For restores, which read it all anyway. */
    CKPT_OPEN_NO_VERIFY = 1,
};

/* Open a completed checkpoint or savepoint directory and validate it:
 * _metadata.h5 present, format version known, every tm-*.h5 it lists
 * present and consistent (job, checkpoint id, rank), each operator known,
 * indexes in range, no key group stored twice, and every blob's xxh64.
 * Errors name the file and what is wrong. On success *out is the caller's
 * (ckpt_close); on failure *out is NULL. ckpt_open = flags 0. */
int ckpt_open(const char *dir, ckpt **out, mpf_err *e);
int ckpt_open_flags(const char *dir, unsigned flags, ckpt **out, mpf_err *e);

/* The checkpoint's metadata, owned by c. */
const ckpt_meta *ckpt_meta_get(const ckpt *c);

/* Call fn for every blob of operator uid: keyed ones whose key group is in
 * [kg_first, kg_last] (kg_first > kg_last selects none) and, when
 * want_operator, every operator-state blob. Within one TaskManager file,
 * keyed blobs come in key-group order, then operator blobs in subtask
 * order; files come in rank order. Each blob's checksum is checked before
 * it is delivered. A nonzero return from fn stops the walk and is returned
 * (fn sets e). MPF_ENOENT if uid is not in the checkpoint's operators; an
 * operator that is listed but has no state calls fn zero times. */
int ckpt_read(ckpt *c, const char *uid, int kg_first, int kg_last, int want_operator,
              int (*fn)(void *arg, const ckpt_blob *b, mpf_err *e), void *arg, mpf_err *e);

void ckpt_close(ckpt *c);

/* Newest completed checkpoint (<chk_root>/<job>/chk-<n> with _metadata.h5)
 * or savepoint (any <sp_root>/<job>/<dir> with _metadata.h5) by metadata
 * timestamp, then checkpoint id. Either root may be NULL or "". Directories
 * whose _metadata.h5 cannot be read are skipped. Returns 0 and the
 * directory in path, or MPF_ENOENT naming the directories searched. */
int ckpt_find_latest(const char *chk_root, const char *sp_root, const char *job, char *path,
                     size_t n, mpf_err *e);

/* Retention for <chk_root>/<job>: keep the `keep` (>= 0; 0 deletes every
 * chk-<n>, as when a job finished) completed chk-<n>
 * with the highest n, delete older completed ones and every incomplete one
 * whose n is below the newest completed (newer ones may be in progress).
 * _metadata.h5 goes first, so a half-deleted directory is never complete.
 * Checkpoint ids must increase across restarts for "newest" to hold. */
int ckpt_retain(const char *chk_root, const char *job, int keep, mpf_err *e);

/* <chk_root>/<job>/_finished: the job ran to its end and committed
 * everything, so `--restore auto` (a supervisor's relaunch) has nothing
 * left to do. Written durably before the job's checkpoints are deleted;
 * cleared when the job starts afresh. */
#define CKPT_FINISHED_FILE "_finished"
int ckpt_mark_finished(const char *chk_root, const char *job, mpf_err *e);
int ckpt_is_finished(const char *chk_root, const char *job);
void ckpt_clear_finished(const char *chk_root, const char *job);

/* Human-readable summary for `mpiflow inspect`: job, id, kind, time,
 * max-parallelism, TaskManagers, per operator uid, kind, parallelism,
 * schema, keyed bytes and key groups with state, operator-state bytes per
 * subtask; total size. */
void ckpt_print_summary(const ckpt *c, FILE *f);

/* Free the strings and ops of a ckpt_meta built with malloc (as the reader
 * does) and zero it. Not for metas whose strings the caller does not own. */
void ckpt_meta_fini(ckpt_meta *m);

#endif
