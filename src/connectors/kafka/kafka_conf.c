/* Kafka client configuration from operator options (connectors layer;
 * see kafka_conf.h). */
#include "connectors/kafka/kafka_conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "util/xmalloc.h"

const char *const kafka_conf_keys[] = {"bootstrap-servers", "bootstrap.servers", "properties",
                                       NULL};

void kafka_props_fini(kafka_props *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->key[i]);
        free(p->val[i]);
    }
    free(p->key);
    free(p->val);
    free(p->bootstrap);
    free(p->uid);
    memset(p, 0, sizeof *p);
}

int kafka_props_parse(const ynode *node, const char *uid, const kafka_owned_prop *owned,
                      kafka_props *p, mpf_err *e)
{
    memset(p, 0, sizeof *p);
    const ynode *b1 = ynode_get(node, "bootstrap-servers"), *b2 = ynode_get(node, "bootstrap.servers");
    if (b1 && b2)
        return err_set(e, MPF_EJOB, "%s: operator '%s': give bootstrap-servers or "
                       "bootstrap.servers, not both", ynode_pos(b2), uid);
    const ynode *b = b1 ? b1 : b2;
    if (!b)
        return err_set(e, MPF_EJOB, "%s: operator '%s': missing required key "
                       "'bootstrap-servers' (host:port[,host:port...])", ynode_pos(node), uid);
    if (b->kind != YNODE_SCALAR || !b->str[0])
        return err_set(e, MPF_EJOB, "%s: operator '%s': bootstrap-servers must be "
                       "host:port[,host:port...]", ynode_pos(b), uid);
    const ynode *props = ynode_get(node, "properties");
    if (props && props->kind != YNODE_MAP && !ynode_is_null(props))
        return err_set(e, MPF_EJOB, "%s: operator '%s': properties must be a map of librdkafka "
                       "properties (key: value)", ynode_pos(props), uid);
    size_t np = props && props->kind == YNODE_MAP ? props->n : 0;
    char errstr[512];
    rd_kafka_conf_t *scratch = rd_kafka_conf_new();
    p->uid = xstrdup(uid);
    p->bootstrap = xstrdup(b->str);
    p->key = xcalloc(np + 1, sizeof *p->key);
    p->val = xcalloc(np + 1, sizeof *p->val);
    for (size_t i = 0; i < np; i++) {
        const ynode *k = props->keys[i], *v = props->items[i];
        if (v->kind != YNODE_SCALAR) {
            err_set(e, MPF_EJOB, "%s: operator '%s': property '%s' must be a scalar value",
                    ynode_pos(v), uid, k->str);
            goto fail;
        }
        if (strcmp(k->str, "bootstrap.servers") == 0 ||
            strcmp(k->str, "metadata.broker.list") == 0) {
            err_set(e, MPF_EJOB, "%s: operator '%s': property '%s' is set by the option "
                    "bootstrap-servers", ynode_pos(k), uid, k->str);
            goto fail;
        }
        for (const kafka_owned_prop *o = owned; o && o->key; o++)
            if (strcmp(k->str, o->key) == 0) {
                err_set(e, MPF_EJOB, "%s: operator '%s': property '%s' cannot be set: %s",
                        ynode_pos(k), uid, k->str, o->reason);
                goto fail;
            }
        if (rd_kafka_conf_set(scratch, k->str, v->str, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            err_set(e, MPF_EJOB, "%s: operator '%s': property '%s': %s", ynode_pos(k), uid,
                    k->str, errstr);
            goto fail;
        }
        p->key[p->n] = xstrdup(k->str);
        p->val[p->n++] = xstrdup(v->str);
    }
    if (rd_kafka_conf_set(scratch, "bootstrap.servers", p->bootstrap, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
        err_set(e, MPF_EJOB, "%s: operator '%s': bootstrap-servers: %s", ynode_pos(b), uid,
                errstr);
        goto fail;
    }
    rd_kafka_conf_destroy(scratch);
    return 0;
fail:
    rd_kafka_conf_destroy(scratch);
    kafka_props_fini(p);
    return e->code;
}

/* librdkafka's syslog levels onto the logger's (its errors are mostly a
 * broker that cannot be reached, which it retries: warnings); called on librdkafka's
 * threads (log_write keeps each line whole). */
static void kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    int lvl = level <= 2 ? LOG_ERROR : level <= 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;
    LOG_(lvl, "kafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
}

rd_kafka_conf_t *kafka_conf_build(const kafka_props *p, const char *const *extra, mpf_err *e)
{
    char errstr[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char *client = xasprintf("mpiflow-%s", p->uid);
    const char *key = "client.id", *val = client;
    if (rd_kafka_conf_set(c, key, val, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        goto fail;
    key = "bootstrap.servers";
    val = p->bootstrap;
    if (rd_kafka_conf_set(c, key, val, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        goto fail;
    for (int i = 0; i < p->n; i++) {
        key = p->key[i];
        val = p->val[i];
        if (rd_kafka_conf_set(c, key, val, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    for (int i = 0; extra && extra[i]; i += 2) {
        key = extra[i];
        val = extra[i + 1];
        if (rd_kafka_conf_set(c, key, val, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    rd_kafka_conf_set_log_cb(c, kafka_log);
    free(client);
    return c;
fail:
    err_set(e, MPF_ECONFIG, "operator '%s': property '%s' = '%s': %s", p->uid, key, val, errstr);
    free(client);
    rd_kafka_conf_destroy(c);
    return NULL;
}
