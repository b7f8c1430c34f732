/* Joins of two keyed streams (operators layer): the parts shared by `type:
 * join` (join.c), `type: window-join` (join_window.c) and `type:
 * interval-join` (join_interval.c).
 *
 * All three are inner equi-joins over `inputs: [left, right]` with
 * `key-by: [left_key, right_key]` (the planner hash-partitions both inputs
 * by their key, so equal keys meet in one subtask). Output records are the
 * left record's fields, then the right record's fields (a right field
 * whose name is taken gets `right-prefix`, default "r_"), then fields the
 * kind appends (window bounds, join time). Because a record is its fields
 * concatenated after a length prefix, an output record is built by copying
 * both inputs' payloads, without decoding them.
 *
 * Buffered records live in a keyed state store as per-key lists: value =
 * [u32 used][u32 count][entry]*, entry = [i64 time][u32 len][payload],
 * where time is the event time or the arrival time, as the kind needs.
 * A list is created with room for its first entry and doubles when full;
 * jlist_add also builds lists of other entries (window-join's key index).
 * State is per operator instance; key groups are not stored (they follow
 * from the key).
 *
 * Checkpoints: each kind writes one SNAP_KEYED blob per key group, a
 * sequence of entries that each start with a u32 tag:
 *   JSNAP_LIST    [u32 side][u32 klen][key][list]          join, interval-join
 *   JSNAP_WINDOW  [i64 end][u32 side][u32 klen][key][list] window-join
 *                                                          (tumbling, sliding)
 *   JSNAP_SESSION [u32 klen][key][i64 start][i64 end][list left][list right]
 *                                                          window-join (session)
 * where list is [u32 vlen][list value without spare capacity] (vlen 0: no
 * list). Timers, window and session indexes are rebuilt on restore. The
 * snapshot copies the lists (copy-on-write) and serialises them on the
 * checkpoint writer's thread. */
#ifndef MPF_OPS_JOIN_H
#define MPF_OPS_JOIN_H

#include <stdint.h>
#include "ops/op.h"
#include "ops/opstate.h"
#include "state/kstore.h"
#include "state/timers.h"

enum { JOIN_LEFT = 0, JOIN_RIGHT = 1 };

#define JLIST_HDR 8u

/* Plan-time facts every join kind needs. */
typedef struct join_cfg {
    int key[2];  /* key field per input */
    int time[2]; /* event-time (rowtime) field per input, -1: none */
    int nextra;  /* appended i64/timestamp fields */
} join_cfg;

/* Check the inputs (two, hash-partitioned by one key each and, when
 * need_time, with event time) and build s->out_schema: left fields, right
 * fields (clashes prefixed by option right-prefix), then the extra
 * timestamp fields named in extra (NULL-terminated). Fills jc. Errors
 * name the uid and file:line:col. */
int join_configure_common(op_spec *s, int need_time, const char *const *extra, join_cfg *jc,
                          mpf_err *e);

/* Duration option `key` of map in ms. Signed when allow_negative ("-2s").
 * *present (may be NULL) says whether it was given; absent and required
 * is an error. */
int join_duration_ms(const op_spec *s, const ynode *map, const char *key, int required,
                     int allow_negative, int64_t *ms, int *present, mpf_err *e);

/* Run-time helpers shared by the kinds. */
typedef struct join_run {
    kstore lists;   /* (namespace, side, key) -> record list */
    uint8_t *kbuf;  /* scratch for state keys */
    uint32_t kcap;
    uint8_t *obuf;  /* scratch for one output record */
    uint32_t ocap;
} join_run;

void join_run_init(join_run *r);
void join_run_fini(join_run *r);
/* State key [prefix (plen bytes)][side][key] in r->kbuf; returns its
 * length. */
uint32_t join_state_key(join_run *r, const void *prefix, uint32_t plen, int side,
                        const uint8_t *key, uint32_t klen);
/* Append an entry of bytes a[0..alen) b[0..blen) to the list at state key
 * k; *created (may be NULL) says whether the list was new. Returns 0, or
 * MPF_ETOOBIG (with e set) when one key's list would pass 4 GiB. */
int jlist_add(kstore *ks, const uint8_t *k, uint32_t klen, uint64_t h, const void *a,
              uint32_t alen, const void *b, uint32_t blen, int *created, mpf_err *e);
/* Append the entry (time, rec) (jlist_add). */
int jlist_append(kstore *ks, const uint8_t *k, uint32_t klen, uint64_t h, int64_t time,
                 const uint8_t *rec, int *created, mpf_err *e);
/* Append all entries of list value src (not in ks) to the list at k. */
int jlist_append_list(kstore *ks, const uint8_t *k, uint32_t klen, uint64_t h,
                      const uint8_t *src, mpf_err *e);
/* Entries of a list value v: iterate with
 * for (uint32_t off = JLIST_HDR; off < jlist_end(v); off = jlist_next(v, off)) */
static inline uint32_t jlist_end(const uint8_t *v) { return JLIST_HDR + rd_u32(v); }
static inline uint32_t jlist_count(const uint8_t *v) { return rd_u32(v + 4); }
static inline int64_t jlist_time(const uint8_t *v, uint32_t off) { return rd_i64(v + off); }
static inline const uint8_t *jlist_rec(const uint8_t *v, uint32_t off) { return v + off + 8; }
static inline uint32_t jlist_next(const uint8_t *v, uint32_t off)
{
    return off + 8 + rec_size(v + off + 8);
}
/* Keep only entries with time > min_time, in order; returns the entries
 * left. The value keeps its capacity. */
uint32_t jlist_drop_upto(uint8_t *v, int64_t min_time);

/* ---- checkpoints ---- */

enum { JSNAP_LIST = 1, JSNAP_WINDOW = 2, JSNAP_SESSION = 3 };

/* Snapshot r->lists, whose keys are [prefix (plen: 0, or 8 for a window
 * end)][side][key], as JSNAP_LIST (plen 0) or JSNAP_WINDOW entries: the
 * store is copied now and written on the checkpoint writer's thread. */
void join_snapshot_lists(op_inst *oi, const join_run *r, uint32_t plen, snap_writer *w);

/* One entry of a restored join blob; lists point into the blob (NULL
 * when absent), each checked: entries in bounds, count right, every
 * record valid for its side's input schema. */
typedef struct join_snap_ent {
    uint32_t tag;
    int side;            /* JSNAP_LIST, JSNAP_WINDOW */
    int64_t start, end;  /* JSNAP_WINDOW: end; JSNAP_SESSION: both */
    const uint8_t *key;
    uint32_t klen;
    const uint8_t *list[2]; /* JSNAP_SESSION: left, right; else list[0] */
} join_snap_ent;

/* Read the next entry of blob b: 1 with *ent, 0 at the end, or an error
 * (MPF_EPARSE naming the operator, the key group and the problem) when
 * the blob is truncated or malformed, or a key is not of the blob's key
 * group or not in this subtask's range. Never reads outside the blob. */
int join_snap_next(const op_inst *oi, const snap_blob *b, blobrd *r, join_snap_ent *ent,
                   mpf_err *e);
/* The error for a blob entry that parsed but does not fit the kind
 * (e.g. a window entry restored into a session join). */
int join_snap_error(const op_inst *oi, const snap_blob *b, const char *why, mpf_err *e);
/* Add the entries of a restored list to the list at state key k
 * (created when absent). */
int join_restore_list(kstore *ks, const uint8_t *k, uint32_t klen, const uint8_t *list,
                      int *created, mpf_err *e);

/* Restore a blob of JSNAP_LIST entries (regular and interval joins) into
 * r; what names the join in errors. With tm, every restored record gets
 * back its timer: due(ctx, side, record time) rounded up to granule. */
int join_restore_lists(op_inst *oi, const snap_blob *sb, join_run *r, const char *what,
                       timer_svc *tm, int64_t (*due)(const void *ctx, int side, int64_t t),
                       const void *ctx, int64_t granule, mpf_err *e);

/* Emit left ++ right ++ extra[0..nextra) (i64s) as one record. */
void join_emit(op_inst *oi, join_run *r, const uint8_t *left, const uint8_t *right,
               const int64_t *extra, int nextra);

/* a + b, saturating at the int64 limits (event times near WM_MIN/WM_MAX). */
int64_t join_sat_add(int64_t a, int64_t b);
/* a mod b in [0, b) for b > 0, also for negative a. */
static inline int64_t join_floor_mod(int64_t a, int64_t b)
{
    int64_t m = a % b;
    return m < 0 ? m + b : m;
}

#endif
