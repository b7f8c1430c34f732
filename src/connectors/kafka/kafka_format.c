/* Kafka message values onto the source's schema (connectors layer; see
 * kafka_format.h). */
#include "connectors/kafka/kafka_format.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "connectors/csvrow.h"
#include "util/bytes.h"
#include "util/xmalloc.h"

static const char *const meta_names[] = {NULL, "key", "topic", "partition", "offset",
                                         "timestamp"};
static const field_type meta_types[] = {FT_STRING, FT_STRING, FT_STRING, FT_I64, FT_I64,
                                        FT_TIMESTAMP};

const char *kafka_meta_name(int meta)
{
    return meta > KMETA_NONE && meta <= KMETA_TIMESTAMP ? meta_names[meta] : NULL;
}

const char *kafka_format_name(const kafka_format *f)
{
    return f->kind == KFMT_CSV ? "csv" : f->kind == KFMT_JSON ? "json" : "raw";
}

void kafka_format_fini(kafka_format *f)
{
    schema_fini(&f->payload);
    free(f->meta);
    memset(f, 0, sizeof *f);
}

static void add_field(kafka_format *f, schema *out, const char *name, field_type t, int meta)
{
    f->meta = xrealloc(f->meta, (size_t)(f->nout + 1) * sizeof *f->meta);
    f->meta[f->nout++] = meta;
    schema_add(out, name, t);
    if (meta)
        f->nmeta++;
    else
        schema_add(&f->payload, name, t);
}

int kafka_format_configure(const ynode *node, const char *uid, kafka_format *f, schema *out,
                           mpf_err *e)
{
    const char *format = "raw", *delim = ",";
    memset(f, 0, sizeof *f);
    schema_init(&f->payload);
    if (ynode_get_str(node, "format", 0, &format, e) ||
        ynode_get_str(node, "delimiter", 0, &delim, e))
        goto fail;
    if (strcmp(format, "raw") == 0) {
        f->kind = KFMT_RAW;
    } else if (strcmp(format, "csv") == 0) {
        f->kind = KFMT_CSV;
    } else if (strcmp(format, "json") == 0) {
        f->kind = KFMT_JSON;
    } else {
        err_set(e, MPF_EJOB, "%s: format must be raw, csv or json, got '%s'",
                ynode_pos(ynode_get(node, "format")), format);
        goto fail;
    }
    if (strlen(delim) != 1) {
        err_set(e, MPF_EJOB, "%s: delimiter must be one character",
                ynode_pos(ynode_get(node, "delimiter")));
        goto fail;
    }
    if (ynode_get(node, "delimiter") && f->kind != KFMT_CSV) {
        err_set(e, MPF_EJOB, "%s: delimiter is an option of format csv",
                ynode_pos(ynode_get(node, "delimiter")));
        goto fail;
    }
    f->delim = delim[0];
    const ynode *fl = ynode_get(node, "fields");
    if (fl && (fl->kind != YNODE_SEQ || fl->n == 0)) {
        err_set(e, MPF_EJOB, "%s: fields must be a list of {name, type[, metadata]}",
                ynode_pos(fl));
        goto fail;
    }
    for (size_t i = 0; fl && i < fl->n; i++) {
        static const char *const fk[] = {"name", "type", "metadata", NULL};
        const ynode *it = fl->items[i];
        const char *name = NULL, *type = NULL, *meta = NULL;
        if (ynode_check_keys(it, fk, "a Kafka source field", e) ||
            ynode_get_str(it, "name", 1, &name, e) || ynode_get_str(it, "type", 0, &type, e) ||
            ynode_get_str(it, "metadata", 0, &meta, e))
            goto fail;
        int m = KMETA_NONE;
        if (meta) {
            for (int k = KMETA_KEY; k <= KMETA_TIMESTAMP; k++)
                if (strcmp(meta, meta_names[k]) == 0)
                    m = k;
            if (m == KMETA_NONE) {
                err_set(e, MPF_EJOB, "%s: metadata must be key, topic, partition, offset or "
                        "timestamp, got '%s'", ynode_pos(ynode_get(it, "metadata")), meta);
                goto fail;
            }
        }
        field_type t = meta_types[m];
        if (type && field_type_parse(type, &t)) {
            err_set(e, MPF_EJOB, "%s: unknown type '%s' (i64, f64, bool, string, timestamp)",
                    ynode_pos(ynode_get(it, "type")), type);
            goto fail;
        }
        if (!type && !m) {
            err_set(e, MPF_EJOB, "%s: field '%s' needs a type (i64, f64, bool, string, "
                    "timestamp)", ynode_pos(it), name);
            goto fail;
        }
        if (m && t != meta_types[m] && !(m == KMETA_TIMESTAMP && t == FT_I64)) {
            err_set(e, MPF_EJOB, "%s: metadata %s is a %s%s, not %s", ynode_pos(it), meta,
                    field_type_name(meta_types[m]), m == KMETA_TIMESTAMP ? " (or i64 ms)" : "",
                    field_type_name(t));
            goto fail;
        }
        if (schema_find(out, name) >= 0) {
            err_set(e, MPF_EJOB, "%s: duplicate field '%s'", ynode_pos(it), name);
            goto fail;
        }
        add_field(f, out, name, t, m);
    }
    if (f->kind == KFMT_RAW) {
        if (f->payload.n == 0 && !fl) {
            add_field(f, out, "value", FT_STRING, KMETA_NONE);
        } else if (f->payload.n != 1 || f->payload.f[0].type != FT_STRING) {
            err_set(e, MPF_EJOB, "%s: format raw reads the value into one string field "
                    "(and any metadata fields); %d value field(s) declared",
                    ynode_pos(fl), f->payload.n);
            goto fail;
        }
    } else if (f->payload.n == 0) {
        err_set(e, MPF_EJOB, "%s: format %s needs fields: [{name, type}, ...] read from the "
                "value", ynode_pos(fl ? fl : node), kafka_format_name(f));
        goto fail;
    }
    return 0;
fail:
    kafka_format_fini(f);
    return err_prefix(e, "operator '%s'", uid);
}

/* ---- json ---- */

static int json_field(recbuf *rb, const field_def *fd, json_t *v, char *why, size_t whylen)
{
    const char *name = fd->name;
    if (!v || json_is_null(v)) {
        snprintf(why, whylen, "field '%s' is %s", name, v ? "null" : "missing");
        return -1;
    }
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t sn = s ? json_string_length(v) : 0;
    char *end = NULL;
    switch (fd->type) {
    case FT_STRING:
        if (s) {
            recbuf_str(rb, s, (uint32_t)sn);
        } else {
            char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            recbuf_str(rb, text ? text : "", text ? (uint32_t)strlen(text) : 0);
            free(text);
        }
        return 0;
    case FT_I64:
        if (json_is_integer(v)) {
            recbuf_i64(rb, (int64_t)json_integer_value(v));
            return 0;
        }
        if (s && sn) {
            errno = 0;
            long long x = strtoll(s, &end, 10);
            if (!*end && !errno) {
                recbuf_i64(rb, x);
                return 0;
            }
        }
        break;
    case FT_F64:
        if (json_is_number(v)) {
            recbuf_f64(rb, json_number_value(v));
            return 0;
        }
        if (s && sn) {
            errno = 0;
            double x = strtod(s, &end);
            if (!*end && errno != ERANGE) {
                recbuf_f64(rb, x);
                return 0;
            }
        }
        break;
    case FT_BOOL:
        if (json_is_boolean(v)) {
            recbuf_bool(rb, json_is_true(v));
            return 0;
        }
        if (s && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)) {
            recbuf_bool(rb, s[0] == 't');
            return 0;
        }
        break;
    case FT_TIMESTAMP: {
        int64_t ms;
        if (json_is_integer(v)) {
            recbuf_i64(rb, (int64_t)json_integer_value(v));
            return 0;
        }
        if (s && !parse_timestamp(s, sn, &ms)) {
            recbuf_i64(rb, ms);
            return 0;
        }
        break;
    }
    }
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(why, whylen, "field '%s': %.40s is not %s %s", name, text ? text : "?",
             fd->type == FT_I64 ? "an" : "a", field_type_name(fd->type));
    free(text);
    return -1;
}

static int decode_json(const kafka_format *f, const kafka_msg *m, recbuf *rb, char *why,
                       size_t whylen)
{
    json_error_t jerr;
    json_t *root = json_loadb(m->value ? m->value : "", m->len, 0, &jerr);
    if (!root) {
        snprintf(why, whylen, "not JSON: %s at column %d", jerr.text, jerr.column);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(root)) {
        snprintf(why, whylen, "a JSON object was expected, got a JSON %s",
                 json_is_array(root) ? "array" : json_is_string(root) ? "string" : "value");
        goto out;
    }
    recbuf_begin(rb);
    for (int i = 0; i < f->payload.n; i++)
        if (json_field(rb, &f->payload.f[i], json_object_get(root, f->payload.f[i].name), why,
                       whylen))
            goto out;
    recbuf_end(rb);
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* ---- records ---- */

static uint32_t width(field_type t, const uint8_t *p)
{
    if (t == FT_STRING)
        return 4 + rd_u32(p);
    return t == FT_BOOL ? 1 : 8;
}

/* The payload fields into rb (a whole record of f->payload). */
static int decode_payload(const kafka_format *f, const kafka_msg *m, recbuf *rb, char *why,
                          size_t whylen)
{
    const char *v = m->value ? m->value : "";
    size_t len = m->value ? m->len : 0;
    switch (f->kind) {
    case KFMT_RAW:
        recbuf_begin(rb);
        recbuf_str(rb, v, (uint32_t)len);
        recbuf_end(rb);
        return 0;
    case KFMT_CSV:
        while (len && (v[len - 1] == '\n' || v[len - 1] == '\r'))
            len--;
        return csvrow_parse(&f->payload, f->delim, v, len, rb, why, whylen);
    case KFMT_JSON:
        return decode_json(f, m, rb, why, whylen);
    }
    return -1;
}

int kafka_format_decode(const kafka_format *f, const schema *out, const kafka_msg *m,
                        recbuf *rb, recbuf *scratch, char *why, size_t whylen)
{
    if (!f->nmeta)
        return decode_payload(f, m, rb, why, whylen);
    if (f->payload.n && decode_payload(f, m, scratch, why, whylen))
        return -1;
    const uint8_t *p = scratch->p + REC_LEN_SIZE;
    recbuf_begin(rb);
    for (int i = 0; i < f->nout; i++) {
        field_type t = out->f[i].type;
        switch (f->meta[i]) {
        case KMETA_NONE:
            recbuf_raw_field(rb, t, p);
            p += width(t, p);
            break;
        case KMETA_KEY:
            recbuf_str(rb, m->key ? m->key : "", m->key ? (uint32_t)m->key_len : 0);
            break;
        case KMETA_TOPIC:
            recbuf_str(rb, m->topic, (uint32_t)strlen(m->topic));
            break;
        case KMETA_PARTITION:
            recbuf_i64(rb, m->partition);
            break;
        case KMETA_OFFSET:
            recbuf_i64(rb, m->offset);
            break;
        case KMETA_TIMESTAMP:
            recbuf_i64(rb, m->timestamp);
            break;
        }
    }
    recbuf_end(rb);
    return 0;
}
