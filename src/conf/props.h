/* The configuration property table and typed configuration values (conf
 * layer). One table (conf/keys.def) lists every key with its type,
 * default, range, enum values and description; `mpiflow config --list` and
 * docs/CONFIGURATION.md are generated from it. Precedence is applied by
 * calling conf_set in order: defaults < conf file < job config: < -D. */
#ifndef MPF_CONF_PROPS_H
#define MPF_CONF_PROPS_H

#include <stdint.h>
#include <stdio.h>
#include "util/err.h"

struct ynode;

typedef enum prop_type {
    PROP_INT,      /* int64 with [min,max] */
    PROP_DOUBLE,
    PROP_BOOL,     /* true/false (case-insensitive) */
    PROP_DURATION, /* Flink syntax: "100ms", "10 s", "5min"; bare = ms */
    PROP_SIZE,     /* Flink syntax: "32kb", "64 mb"; bare = bytes; k=1024 */
    PROP_STRING,
    PROP_ENUM      /* one of enums ("A|B|C"), matched case-insensitively */
} prop_type;

typedef struct prop_def {
    const char *name;
    prop_type type;
    const char *defval; /* as text, parsed like user input */
    int64_t min, max;   /* INT: value range; DURATION: ns; SIZE: bytes */
    const char *enums;  /* ENUM: "A|B|C" canonical spellings */
    const char *doc;    /* one or two sentences */
} prop_def;

typedef struct conf conf;

/* One id per key, in table order: CONF_PARALLELISM_DEFAULT,
 * CONF_EXECUTION_CHECKPOINTING_INTERVAL, ... (the key's name in capitals,
 * '.' and '-' as '_'). conf_props[k] describes key k. */
typedef enum conf_key {
#define CONF_KEY(id, ...) CONF_##id,
#include "conf/keys.def"
#undef CONF_KEY
    CONF_NKEYS
} conf_key;

/* The table, terminated by an entry with name == NULL. */
extern const prop_def conf_props[];

/* New configuration holding every default. Caller owns; conf_destroy. */
conf *conf_new(void);
conf *conf_dup(const conf *c);
void conf_destroy(conf *c);

/* Set key from text. origin names where the value came from for messages
 * ("conf/mpiflow.yaml:3:5", "-D", "job config"). Errors (MPF_ECONFIG):
 * "<origin>: unknown configuration key 'k' (did you mean 'x'?)",
 * "<origin>: key 'k': expected <type> ..., got 'v'", range/enum errors. */
int conf_set(conf *c, const char *key, const char *value, const char *origin,
             mpf_err *e);
/* Parse "key=value" (the -D form) and conf_set it with origin "-D". */
int conf_set_kv(conf *c, const char *kv, mpf_err *e);
/* Apply a YAML mapping: flat dotted keys ("a.b.c: v") and nested maps
 * (a: {b: {c: v}}) both work; scalars only as values. Positions of the
 * offending node appear in errors. */
int conf_apply_yaml(conf *c, const struct ynode *map, mpf_err *e);
/* Load a YAML config file (empty file is fine) and apply it. */
int conf_load_file(conf *c, const char *path, mpf_err *e);
/* Cross-key checks after all layers are applied. */
int conf_finalize(conf *c, mpf_err *e);

/* Typed getters. Reading a key as another type than the table's is a
 * programming error and aborts. */
int64_t conf_int(const conf *c, conf_key k);
double conf_double(const conf *c, conf_key k);
int conf_bool(const conf *c, conf_key k);
int64_t conf_duration_ns(const conf *c, conf_key k);
int64_t conf_size(const conf *c, conf_key k);
const char *conf_str(const conf *c, conf_key k); /* ENUM: canonical */
/* The value as text, as it would be printed in --list (for any type). */
const char *conf_text(const conf *c, conf_key k);

/* Serialise every non-default value as "key=value\n" lines (for shipping
 * to other ranks); conf_set_kv each line to reproduce. Caller frees. */
char *conf_serialize(const conf *c);

/* Flink-compatible unit parsers. Return 0 or MPF_ECONFIG. */
int parse_duration_ns(const char *s, int64_t *ns);
int parse_size_bytes(const char *s, int64_t *bytes);
/* A duration option of a YAML map (operator options such as `size: 5s`):
 * *ns is left alone when the key is absent and not required. Errors give
 * file:line:col and the key. */
int ynode_get_duration_ns(const struct ynode *map, const char *key, int required, int64_t *ns,
                          mpf_err *e);
/* Format helpers used by --list ("100 ms", "32 kb"). */
void format_duration(int64_t ns, char *buf, size_t n);
void format_size(int64_t bytes, char *buf, size_t n);

/* `mpiflow config --list`: every key, type, default, range and doc. */
void conf_print_list(FILE *f);
/* docs/CONFIGURATION.md content, generated from the table. */
void conf_print_markdown(FILE *f);

#endif
