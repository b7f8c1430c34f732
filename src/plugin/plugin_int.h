/* Internals shared by the plugin operator (plugin.c) and the API table it
 * hands to plugins (plugin_api.c) (plugin layer). */
#ifndef MPF_OPS_PLUGIN_INT_H
#define MPF_OPS_PLUGIN_INT_H

#include <stdint.h>
#include "mpiflow/plugin.h"
#include "ops/op.h"
#include "plugin/plugin_state.h"
#include "state/timers.h"

/* Plan-time result of `type: plugin`: the loaded library and function. */
typedef struct plugin_cfg {
    void *dl;          /* dlopen handle; closed by free_cfg */
    char *path;        /* the library as loaded */
    const mpf_plugin *desc;
    const mpf_function *fn;
    int nargs;
    char **arg_name, **arg_value;
    int keyed;         /* key-by: state and timers available */
    int *map_from;     /* MPF_MAP: input field prefilled into each output field, or -1 */
} plugin_cfg;

/* A record as the plugin sees it (opaque to plugins). */
struct mpf_rec {
    const uint8_t *p;
    const schema *s;
};

enum plugin_phase { PH_CONFIGURE, PH_OPEN, PH_RECORD, PH_TIMER, PH_CLOSE };

/* One output field of the record being built. */
typedef struct plugin_slot {
    int64_t i;
    double f;
    const uint8_t *ext; /* string bytes outside the arena (input record) */
    uint32_t off, len;  /* string bytes in the arena */
} plugin_slot;

/* Everything behind an mpf_ctx: one per subtask, and one at plan time. */
typedef struct plugin_ctx {
    mpf_ctx pub; /* must stay first: plugins get &pub */
    const op_spec *spec;
    const plugin_cfg *cfg;
    op_inst *oi; /* NULL at plan time */
    enum plugin_phase phase;
    int opened;  /* fn->open was called */
    /* The current record or timer. */
    const struct mpf_rec *cur;
    int64_t cur_ts;
    int have_key;
    pstate_scope scope;
    /* The record being built. */
    int out_port; /* -1: none */
    const schema *out_schema;
    plugin_slot *slots;
    int nslots;
    char *arena;
    uint32_t alen, acap;
    recbuf rb;
    /* Keyed state and timers. */
    plugin_state state;
    timer_svc timers[2]; /* by enum mpf_time_domain */
    /* Errors: msg for the job's error; fatal when an API call was misused. */
    char err[900];
    int fatal;
} plugin_ctx;

/* The API table handed to plugins (static storage). */
const mpf_api *plugin_api(void);

/* Begin a record on a port (port 0: main output), fields zeroed. */
void plugin_out_begin(plugin_ctx *pc, int port);
/* Encode and emit the record being built. */
void plugin_out_emit(plugin_ctx *pc);
/* Schema of stream (MPF_INPUT1/2, MPF_OUTPUT, MPF_SIDE(port)) or NULL. */
const schema *plugin_stream_schema(const plugin_ctx *pc, int stream);
/* Record an error; fatal ones fail the job even when the plugin carries
 * on. Returns MPF_PLUGIN_ERROR. */
int plugin_fail(plugin_ctx *pc, int fatal, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
