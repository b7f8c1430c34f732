/* Keyed state of plugin functions (plugin layer): value, list, map and
 * reducing state on the keyed state store (state/kstore.h), one store per
 * key group of the subtask's range, so a snapshot writes and a restore
 * reads whole key groups.
 *
 * States are declared by name and get small ids in declaration order
 * (plugin_state.decl[id].name maps them back). Layout of a store's
 * entries, for record key K (the key bytes as rec_key gives them):
 *   key [u32 id][K]                      value, list, reducing state, and
 *                                        the directory of a map state
 *   key [u32 id | PSTATE_MAP_ENTRY][u32 len K][K][user key]
 *                                        one entry of a map state
 * Values: value/reducing/map entry [u32 len][u32 0][bytes]; list
 * [u32 used][u32 count] then items [u32 len][u32 0][bytes, padded to 8];
 * map directory [u32 used][u32 count] then [u32 len][user key] per entry.
 * Lists and directories keep spare capacity (used <= value size).
 * Single-threaded, one instance per subtask.
 *
 * Checkpoints write states by name, so a restore puts each one into the
 * state of that name whatever its handle is now. A keyed blob starts with
 * the state table [u32 n] n x [u32 kind][u32 size][u32 nlen][name], then
 * entries, each with a u32 tag first, naming a state by its index in the
 * table:
 *   PSNAP_VALUE [u32 state][u32 klen][K][u32 len][bytes]   value, reducing
 *   PSNAP_LIST  [u32 state][u32 klen][K][u32 n] n x [u32 len][bytes]
 *   PSNAP_MAP   [u32 state][u32 klen][K][u32 n] n x [u32 uklen][ukey][u32 len][bytes]
 * (list items and map entries in their order). The restore rebuilds the
 * entries through the operations below, so restored state has the
 * layout above whatever the blob held. */
#ifndef MPF_OPS_PLUGIN_STATE_H
#define MPF_OPS_PLUGIN_STATE_H

#include <stddef.h>
#include <stdint.h>
#include "mpiflow/plugin.h"
#include "ops/opstate.h"
#include "record/keygroup.h"
#include "state/kstore.h"

#define PSTATE_MAP_ENTRY 0x80000000u

typedef struct pstate_decl {
    char *name;
    int kind;      /* enum mpf_state_kind */
    uint32_t size; /* reducing: accumulator bytes */
    mpf_reduce_fn reduce;
    int pending;   /* restored from a checkpoint, not declared (yet) by
                    * the plugin: no handle is valid for it until then */
} pstate_decl;

/* Entry tags of a plugin's keyed blob; PSNAP_TIMER entries (timers of
 * the key group, plugin.c) are [u32 domain][i64 time][u32 klen][K]. */
enum { PSNAP_VALUE = 1, PSNAP_LIST = 2, PSNAP_MAP = 3, PSNAP_TIMER = 4 };

typedef struct plugin_state {
    int ndecl;
    pstate_decl *decl;
    keygroup_range kg;
    int max_parallelism;
    int nstores;
    kstore *stores; /* [kg - kg.start] */
    uint8_t *kbuf;  /* composite key scratch */
    size_t kcap;
} plugin_state;

/* The state entries of one record key: set per record or timer. */
typedef struct pstate_scope {
    kstore *ks;
    const uint8_t *key;
    uint32_t klen;
} pstate_scope;

void plugin_state_init(plugin_state *ps, keygroup_range kg, int max_parallelism);
void plugin_state_fini(plugin_state *ps);
/* Id of state `name`, declaring it when new; -1 when it exists with
 * another kind or size. A state restored but not declared yet (pending)
 * becomes declared when kind and size match. */
int plugin_state_declare(plugin_state *ps, const char *name, int kind, uint32_t size,
                         mpf_reduce_fn reduce);
/* Scope of a key: 0, or -1 when its key group is not in this subtask's
 * range (*kg gets it). */
int plugin_state_scope(plugin_state *ps, const void *key, uint32_t klen, pstate_scope *sc,
                       int *kg);
size_t plugin_state_bytes(const plugin_state *ps);

/* Operations on state id for the scope's key (id must be declared with a
 * matching kind; the caller checks). Returned pointers stay valid until
 * the next change of the same store. */
const void *plugin_state_value_get(plugin_state *ps, const pstate_scope *sc, int id,
                                   uint32_t *len);
void plugin_state_value_set(plugin_state *ps, const pstate_scope *sc, int id, const void *v,
                            uint32_t len);
void plugin_state_clear(plugin_state *ps, const pstate_scope *sc, int id);
int64_t plugin_state_size(plugin_state *ps, const pstate_scope *sc, int id);
void plugin_state_list_add(plugin_state *ps, const pstate_scope *sc, int id, const void *v,
                           uint32_t len);
int plugin_state_list_next(plugin_state *ps, const pstate_scope *sc, int id, size_t *pos,
                           const void **v, uint32_t *len);
void plugin_state_map_put(plugin_state *ps, const pstate_scope *sc, int id, const void *uk,
                          uint32_t uklen, const void *v, uint32_t len);
const void *plugin_state_map_get(plugin_state *ps, const pstate_scope *sc, int id,
                                 const void *uk, uint32_t uklen, uint32_t *len);
int plugin_state_map_remove(plugin_state *ps, const pstate_scope *sc, int id, const void *uk,
                            uint32_t uklen);
int plugin_state_map_next(plugin_state *ps, const pstate_scope *sc, int id, size_t *pos,
                          const void **uk, uint32_t *uklen, const void **v, uint32_t *len);
void plugin_state_reduce_add(plugin_state *ps, const pstate_scope *sc, int id, const void *v);

/* ---- checkpoints ---- */

/* A copy of the state table (names duplicated), for a copy-on-write
 * snapshot; free it with plugin_state_free_decls. */
pstate_decl *plugin_state_copy_decls(const plugin_state *ps);
void plugin_state_free_decls(pstate_decl *decl, int ndecl);
/* Append the state table to b. */
void plugin_state_write_decls(const pstate_decl *decl, int ndecl, recbuf *b);
/* Append the entries of ks (one key group's store, or a copy of it) to
 * b, states named by their index in decl. Empty stores write nothing. */
void plugin_state_write_entries(kstore *ks, const pstate_decl *decl, int ndecl, recbuf *b);

/* Read a blob's state table and match its states by name: (*map)[i] is
 * the id of table entry i here (malloc'd, *nmap entries). A state not
 * declared here is added as pending. Returns 0, or -1 with why set
 * (truncated table, a state of another kind or size than declared). */
int plugin_state_read_decls(plugin_state *ps, blobrd *r, int **map, int *nmap, char *why,
                            size_t whyn);
/* Restore one entry whose tag (PSNAP_VALUE, _LIST or _MAP) was read,
 * for a key of key group kg. Returns 0, or -1 with why set (truncated,
 * an unknown state, a kind that does not fit the tag, a key of another
 * key group). Reads nothing outside r. */
int plugin_state_read_entry(plugin_state *ps, uint32_t tag, const int *map, int nmap, int kg,
                            blobrd *r, char *why, size_t whyn);

#endif
