/* Client configuration shared by the Kafka source and sink (connectors
 * layer): the operator options `bootstrap-servers` (or
 * `bootstrap.servers`) and `properties:` (librdkafka properties passed
 * through), checked at plan time against librdkafka itself so that an
 * unknown or malformed property names the operator uid, the key and its
 * file:line:col, and turned into an rd_kafka_conf_t at run time. */
#ifndef MPF_CONNECTORS_KAFKA_CONF_H
#define MPF_CONNECTORS_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include "conf/yamldoc.h"
#include "util/err.h"

/* A property the connector sets itself, with the reason given to a user
 * who sets it under `properties:` (e.g. "offsets are committed on
 * checkpoint completion"). */
typedef struct kafka_owned_prop {
    const char *key, *reason;
} kafka_owned_prop;

/* The parsed options; everything is owned (kafka_props_fini frees). */
typedef struct kafka_props {
    char *uid;       /* operator uid, for run-time messages */
    char *bootstrap; /* "host:port,..." */
    int n;
    char **key, **val; /* `properties:` in file order */
} kafka_props;

/* Plan time: read `bootstrap-servers`/`bootstrap.servers` (required) and
 * `properties:` (optional map of scalars) from the operator's YAML map
 * `node`. Every property is tried on a scratch librdkafka configuration;
 * owned keys (NULL-terminated by key) are refused with their reason, and
 * so is bootstrap.servers among them (use the option). Errors carry
 * "file:line:col: operator '<uid>': ..." (MPF_EJOB). On failure *p holds
 * nothing to free. */
int kafka_props_parse(const ynode *node, const char *uid, const kafka_owned_prop *owned,
                      kafka_props *p, mpf_err *e);
void kafka_props_fini(kafka_props *p);

/* Run time: a new librdkafka configuration with bootstrap.servers, the
 * user's properties, then `extra` (NULL-terminated key, value pairs the
 * connector sets; they override). client.id defaults to "mpiflow-<uid>";
 * librdkafka's log lines go to the mpiflow logger under that name. Returns NULL with e set ("operator
 * '<uid>': property 'k': <librdkafka's reason>") on failure. The caller
 * owns the result (rd_kafka_new takes it over on success). */
rd_kafka_conf_t *kafka_conf_build(const kafka_props *p, const char *const *extra, mpf_err *e);

/* The option keys kafka_props_parse reads ("bootstrap-servers",
 * "bootstrap.servers", "properties", NULL), for a kind's list of keys. */
extern const char *const kafka_conf_keys[];

#endif
