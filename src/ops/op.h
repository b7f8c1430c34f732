/* Operator kinds and instances (ops layer). A kind is a const table of
 * functions registered by name and role (source, transform, sink); adding
 * one touches its own file and one line in registry.c. Plan-time
 * functions (configure, describe, global_init, split_local) see an
 * op_spec; run-time functions see an op_inst, one per subtask. Run-time
 * functions never block on the network: they emit through a collector and
 * the task decides when to call them again. */
#ifndef MPF_OPS_OP_H
#define MPF_OPS_OP_H

#include <stddef.h>
#include <stdint.h>
#include "conf/props.h"
#include "conf/yamldoc.h"
#include "record/batch.h"
#include "record/schema.h"
#include "util/err.h"

typedef struct op_spec op_spec;
typedef struct op_inst op_inst;

enum op_role { OP_SOURCE, OP_TRANSFORM, OP_SINK };

/* Input partitioning (of every input edge of an operator). */
enum part_kind { PART_DEFAULT, PART_FORWARD, PART_HASH, PART_REBALANCE, PART_BROADCAST };
const char *part_kind_name(int part);

/* Checkpoint snapshots: an operator hands its state to the runtime as
 * blobs, keyed state one blob per key group (so a restore with another
 * parallelism can redistribute it) and other state (source positions,
 * pending sink files) as operator blobs, which a restore hands to the
 * subtask of the same index (or index mod the new parallelism), or to
 * every subtask (op_kind.union_state). */
enum snap_kind { SNAP_KEYED = 1, SNAP_OPERATOR = 2 };
typedef struct snap_writer snap_writer;
/* Add one blob (the bytes are copied). */
void snap_put(snap_writer *w, int kind, int key_group, const void *data, size_t len);
/* Add a blob without copying it (the zero-copy snap_put for a deferred
 * snapshot that serialises straight into its own buffers): data[0..len)
 * must stay valid until snapw_fini, which then calls release(own), or
 * free(own) when release is NULL (own NULL: nothing). Many blobs can lie
 * in one buffer: pass it as own with one of them. Blobs adjacent in
 * memory are written to the checkpoint file in place. */
void snap_put_ref(snap_writer *w, int kind, int key_group, uint8_t *data, size_t len,
                  void *own, void (*release)(void *own));
/* The checkpoint being taken. */
int64_t snap_id(const snap_writer *w);
/* Copy-on-write snapshots: finish this operator's snapshot later, on the
 * checkpoint writer's thread, while processing goes on. fn gets ctx (an
 * immutable copy the snapshot hook made) and puts the blobs; free_fn
 * releases ctx afterwards, or when the checkpoint is abandoned. */
void snap_defer(snap_writer *w, int (*fn)(void *ctx, snap_writer *w, mpf_err *e),
                void (*free_fn)(void *ctx), void *ctx);
typedef struct snap_blob {
    int kind, key_group, subtask; /* subtask that wrote it */
    const uint8_t *data;
    size_t len;
} snap_blob;

typedef struct collector collector;
struct collector {
    /* rec is a whole encoded record (length prefix included). */
    void (*emit)(collector *c, const uint8_t *rec, uint32_t len);
};

typedef struct op_kind {
    const char *name;
    enum op_role role;
    int min_inputs, max_inputs; /* max -1: any number */
    const char *const *keys;    /* option keys besides the common ones */
    int single;                 /* always runs with parallelism 1 */
    const char *summary;
    /* Plan time: read s->node, fill s->cfg and s->out_schema from
     * s->in_schema. Errors name the uid and file:line:col. */
    int (*configure)(op_spec *s, const conf *c, mpf_err *e);
    void (*free_cfg)(void *cfg);
    void (*describe)(const op_spec *s, char *buf, size_t n);
    /* JobManager only, before deployment (checks on shared files). */
    int (*global_init)(const op_spec *s, mpf_err *e);
    /* Two-phase aggregation: fill *local (a pre-aggregating twin that runs
     * before the shuffle) and turn s into the merging phase. */
    int (*split_local)(op_spec *s, op_spec *local, mpf_err *e);
    /* Run time. Return values: 0 is success; a failure is a negative
     * MPF_E* code with e set to a message that says what went wrong (it
     * may start with "operator '<uid>'"; the task names the operator and
     * subtask once, keeping the message). MPF_EAGAIN is a progress value,
     * never an error: only poll, finish, on_watermark and on_proc_time
     * return it, to be called again, and never set it in e. A hook that
     * sets e but returns 0 or MPF_EAGAIN fails all the same; one that
     * returns an error code without setting e fails with a generic
     * message naming the hook. */
    int (*open)(op_inst *oi, mpf_err *e);
    /* A batch arrived on logical input `input`. 0 or an error (not
     * MPF_EAGAIN: a batch is processed whole). */
    int (*process)(op_inst *oi, int input, const uint8_t *batch, mpf_err *e);
    /* Sources: emit about one batch; MPF_EAGAIN while more follows, 0 at
     * the end of a bounded input. */
    int (*poll)(op_inst *oi, mpf_err *e);
    /* All inputs ended: emit final results, about a batch per call;
     * MPF_EAGAIN while more follows, 0 when done. */
    int (*finish)(op_inst *oi, mpf_err *e);
    /* Event time advanced to wm (the minimum over the inputs): fire
     * event-time timers and windows up to wm. MPF_EAGAIN while more output
     * follows (called again with the same wm once the output has room), 0
     * when done; the task then forwards wm downstream. */
    int (*on_watermark)(op_inst *oi, int64_t wm, mpf_err *e);
    /* Processing time reached oi->proc_timer (ms since the epoch): fire
     * processing-time timers; set oi->proc_timer to the next one. 0, or
     * MPF_EAGAIN when due timers are left (with proc_timer still due, it
     * is called again at the next step). */
    int (*on_proc_time)(op_inst *oi, int64_t now_ms, mpf_err *e);
    /* Checkpoints. snapshot: write the state as of now (called between
     * batches, with the barrier). restore: one blob of restored state,
     * after open and before any input. checkpoint_complete: checkpoint id
     * is complete everywhere (two-phase-commit sinks publish what they
     * staged up to it). An operator with state but no snapshot cannot run
     * with checkpoints; `stateless` ones need none. */
    int (*snapshot)(op_inst *oi, snap_writer *w, mpf_err *e);
    int (*restore)(op_inst *oi, const snap_blob *b, mpf_err *e);
    /* After the last restored blob (optional). */
    int (*restore_end)(op_inst *oi, mpf_err *e);
    /* Every TaskManager deployed and restored without error; the job
     * starts (optional). Work that must not happen unless the whole job
     * can run -- publishing restored output -- belongs here, not in
     * restore. */
    int (*start)(op_inst *oi, mpf_err *e);
    /* Operator blobs of every old subtask go to every new subtask (Flink's
     * union list state), so the kind can split them itself when the
     * parallelism changed; otherwise subtask i gets those of old subtasks
     * j with j mod parallelism == i. A source with union state may change
     * its parallelism across a restore. */
    int union_state;
    int (*checkpoint_complete)(op_inst *oi, int64_t id, mpf_err *e);
    /* Checkpoint id (and every older one) will never complete: declined,
     * timed out or subsumed (Flink's notifyCheckpointAborted). Optional.
     * checkpoint_complete and checkpoint_aborted run on the task loop and
     * must return quickly: an operator with slow external I/O (a Kafka
     * transaction commit) hands it to a thread of its own and reports the
     * outcome from `service`. */
    int (*checkpoint_aborted)(op_inst *oi, int64_t id, mpf_err *e);
    /* Called on every step of the task (operators that are not sources
     * too, e.g. to poll a producer for delivery reports while no records
     * flow). 0, or an error that fails the task. Optional. */
    int (*service)(op_inst *oi, int64_t now_ns, mpf_err *e);
    /* One line about an operator-state blob this kind wrote (a source's
     * position, a sink's staged parts), for `mpiflow inspect`; the blob
     * may be malformed. Optional. */
    void (*describe_state)(const snap_blob *b, char *buf, size_t n);
    /* Sources that keep event time per split (the Kafka source keeps it
     * per partition): the watermark to emit now under the source's
     * `watermark:` strategy, instead of the task's own (largest event
     * time seen - out-of-orderness - 1). Returns 1 with *wm set (WM_MIN:
     * none yet), or 0 when every split is idle. Called every
     * pipeline.auto-watermark-interval. Optional. */
    int (*split_watermark)(op_inst *oi, int64_t now_ns, int64_t *wm);
    int stateless;
    /* The job succeeded everywhere: make output visible. */
    int (*commit)(op_inst *oi, mpf_err *e);
    /* Release everything; output not committed is discarded. */
    void (*close)(op_inst *oi);
} op_kind;

struct op_spec {
    int index;
    char *uid;
    const op_kind *kind;
    const ynode *node; /* the operator's YAML map; NULL when planner-made */
    int parallelism;   /* 0 until resolved */
    int ninputs;
    int *inputs;       /* op indices */
    const schema **in_schema;
    schema out_schema;
    int part;          /* enum part_kind */
    char *key_field;   /* PART_HASH; "a,b" when key-by lists one per input */
    int key_index;     /* in the (first) input schema */
    int *key_indices;  /* per input */
    void *cfg;
    int bounded;       /* sources: ends by itself */
    int batch_mode;    /* resolved execution.runtime-mode is BATCH */
    int max_parallelism;
    int two_phase;     /* AUTO/TWO_PHASE allows a local pre-aggregation */
    int restoring;     /* 1: the job starts from a checkpoint or savepoint;
                        * 2: --restore auto found none (a fresh start) */
    /* Side outputs declared by configure (op_add_side_output), consumed
     * by operators with `inputs: [uid.name]`. */
    int nside;
    char **side_name;
    schema *side_schema;
    /* Per input: NULL, or the side output name it reads ("uid.name"),
     * resolved to input_port (0: main output, p + 1: side output p). */
    char **input_side;
    int *input_port;
    /* Sources: watermark strategy from `watermark:`; wm_field -1: none. */
    int wm_field;
    int64_t wm_delay_ms;  /* out-of-orderness */
    int64_t wm_idle_ns;   /* idleness; 0: never idle */
    int wm_per_record;    /* emit: per-record (punctuated) instead of periodic */
};

struct op_inst {
    const op_spec *spec;
    int subtask;
    const conf *conf;
    void *st;
    collector *out;
    collector **side;      /* per side output; NULL: nobody consumes it */
    uint64_t records_in, records_out, records_skipped;
    uint64_t late_dropped; /* numLateRecordsDropped */
    size_t state_bytes;
    size_t state_peak;     /* largest state_bytes seen */
    int64_t watermark;     /* current event time (ms) seen by this op */
    int64_t proc_timer;    /* next processing-time timer (ms); INT64_MAX none */
    /* Sources that know how much input is left (Flink's pendingRecords
     * and pendingBytes source metrics; -1: unknown) and how many bytes
     * they read (numBytesIn; -1: not measured). The JobManager's live
     * status line derives progress and the time left from them. */
    int64_t pending_records, pending_bytes, bytes_in;
};

static inline void op_emit(op_inst *oi, const uint8_t *rec, uint32_t len)
{
    oi->records_out++;
    oi->out->emit(oi->out, rec, len);
}

/* Emit to side output `port` (an index from op_add_side_output); records
 * go nowhere when no operator consumes that side output. */
static inline void op_emit_side(op_inst *oi, int port, const uint8_t *rec, uint32_t len)
{
    if (oi->side && oi->side[port])
        oi->side[port]->emit(oi->side[port], rec, len);
}

/* Declare a side output at configure time; returns its port. The schema
 * is copied. */
int op_add_side_output(op_spec *s, const char *name, const schema *sch);

/* Free side-output declarations and input_side/input_port. */
void op_spec_free_sides(op_spec *s);

/* Registry: kind by role and name, or NULL. */
const op_kind *op_kind_find(enum op_role role, const char *name);
/* NULL-terminated names of one role (static storage). */
const char *const *op_kind_names(enum op_role role);
const char *op_role_name(enum op_role role);
/* Whether operators of kind k can take part in checkpoints: they snapshot
 * their state, or keep none. */
static inline int op_kind_checkpointable(const op_kind *k)
{
    return k->snapshot || k->stateless;
}
/* "<role>/<name>" as in the job YAML ("source/file", "type/window",
 * "sink/file"): what checkpoints record as an operator's kind. Caller
 * frees. op_kind_parse_qualified is the reverse (NULL if unknown). */
char *op_kind_qualified(const op_kind *k);
const op_kind *op_kind_parse_qualified(const char *q);

/* Common helper: "file:line:col: operator 'uid'" prefix for messages
 * ("operator 'uid'" for planner-made operators; static storage). */
const char *op_where(const op_spec *s);
/* Say in e which operator subtask failed, once, and while doing what
 * (NULL: nothing to add): "[<doing> ]operator '<uid>' subtask <i>/<n>:
 * <message>". Operators often start their own messages with "operator
 * '<uid>'": such a message gets "[<doing> ]subtask <i>/<n> of " in front,
 * and one that also names the subtask only "<doing> ". */
void op_name_error(mpf_err *e, const op_inst *oi, const char *doing);

#endif
