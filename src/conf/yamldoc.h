/* YAML documents as a small tree with source positions (conf layer).
 * This is the only module that includes <yaml.h>. Every node remembers the
 * file label, line and column (1-based) where it starts, so every later
 * error about a job or config file can say file:line:col. */
#ifndef MPF_CONF_YAMLDOC_H
#define MPF_CONF_YAMLDOC_H

#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

typedef enum ynode_kind { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP } ynode_kind;

typedef struct ynode ynode;
struct ynode {
    ynode_kind kind;
    const char *file; /* label given to ydoc_parse; owned by the ydoc */
    int line, col;    /* 1-based start position */
    char *str;        /* SCALAR: value, NUL-terminated (may be "") */
    int quoted;       /* SCALAR: was written in quotes */
    int from_cli;     /* SCALAR: holds a job parameter given on the command line */
    size_t n;         /* SEQ: items; MAP: pairs */
    ynode **items;    /* SEQ: items; MAP: values */
    ynode **keys;     /* MAP: keys (always scalars) */
};

typedef struct ydoc {
    char *file;
    ynode *root; /* NULL for an empty document */
} ydoc;

/* Parse one YAML document from memory. file is a label for messages.
 * Anchors/aliases, tags, duplicate keys, non-scalar keys and multiple
 * documents are rejected. On error returns NULL and sets e to
 * "file:line:col: message" (MPF_EJOB). Caller owns the result. */
ydoc *ydoc_parse(const char *file, const char *text, size_t len, mpf_err *e);
void ydoc_destroy(ydoc *d);

/* Read a whole file into a heap buffer (NUL-terminated; *len excludes the
 * NUL). Returns NULL with e set ("path: reason", MPF_EIO) on failure. */
char *ydoc_read_file(const char *path, size_t *len, mpf_err *e);

/* Map lookup; NULL when map is not a map or key is absent. */
ynode *ynode_get(const ynode *map, const char *key);
/* "file:line:col" of a node, in a static thread-unsafe buffer. */
const char *ynode_pos(const ynode *n);
/* True for an unquoted scalar "", "~", "null" or "Null"/"NULL". */
int ynode_is_null(const ynode *n);
const char *ynode_kind_name(ynode_kind k);

/* Typed getters for a key in a map. Return 0 and set *out when present;
 * when absent return MPF_ENOENT if required (error "pos: missing required
 * key 'k'") else 0 leaving *out untouched. Type errors give
 * "pos: key 'k': expected <type>, got '<text>'" (MPF_EJOB). */
int ynode_get_str(const ynode *map, const char *key, int required,
                  const char **out, mpf_err *e);
int ynode_get_i64(const ynode *map, const char *key, int required,
                  int64_t *out, mpf_err *e);
int ynode_get_f64(const ynode *map, const char *key, int required,
                  double *out, mpf_err *e);
int ynode_get_bool(const ynode *map, const char *key, int required,
                   int *out, mpf_err *e);
/* Scalar conversions used by the getters (0 or MPF_EJOB with message). */
int ynode_as_i64(const ynode *n, int64_t *out, mpf_err *e);
int ynode_as_f64(const ynode *n, double *out, mpf_err *e);
int ynode_as_bool(const ynode *n, int *out, mpf_err *e);

/* Keep a YAML location first: when e's message has context in front of a
 * position in file ("operator 'x': job.yaml:3:5: bad value", as
 * err_prefix makes), move the position to the front ("job.yaml:3:5:
 * operator 'x': bad value"), so every located message starts with
 * FILE:line:col: as editors and the other messages expect. */
void ydoc_err_location_first(mpf_err *e, const char *file);

/* Reject keys of map not in allowed (NULL-terminated): error
 * "pos: unknown key 'k' in <what> (did you mean 'x'?)". */
int ynode_check_keys(const ynode *map, const char *const *allowed,
                     const char *what, mpf_err *e);

#endif
