/* Records to Kafka message bytes (connectors layer; see kafka_encode.h).
 * jansson builds the json values, so escaping and number formats are
 * its; timestamps are written as the csv format writes them
 * ("YYYY-MM-DD HH:MM:SS.mmm", UTC, Flink's SQL timestamp format). */
#include "connectors/kafka/kafka_encode.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "record/batch.h"
#include "util/xmalloc.h"

/* Room for n more bytes. */
static void kbuf_reserve(kbuf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (b->len + n > cap)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

void kbuf_put(kbuf *b, const void *data, size_t n)
{
    kbuf_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

void kbuf_fini(kbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int kenc_format_parse(const char *s, kenc_format *f)
{
    if (strcmp(s, "raw") == 0)
        *f = KENC_RAW;
    else if (strcmp(s, "csv") == 0)
        *f = KENC_CSV;
    else if (strcmp(s, "json") == 0)
        *f = KENC_JSON;
    else
        return -1;
    return 0;
}

const char *kenc_format_name(kenc_format f)
{
    return f == KENC_RAW ? "raw" : f == KENC_CSV ? "csv" : "json";
}

int kenc_init(kenc *enc, kenc_format f, const schema *sc, const char *value_field, char delim,
              mpf_err *e)
{
    memset(enc, 0, sizeof *enc);
    enc->format = f;
    enc->sc = sc;
    enc->delim = delim;
    enc->field = -1;
    if (f != KENC_RAW) {
        if (value_field)
            return err_set(e, MPF_EJOB, "value-field is for format raw; csv and json write "
                           "every field");
        return 0;
    }
    if (!value_field) {
        if (sc->n != 1)
            return err_set(e, MPF_EJOB, "format raw writes one field, and the input has %d; "
                           "name it with value-field", sc->n);
        enc->field = 0;
        return 0;
    }
    enc->field = schema_find(sc, value_field);
    if (enc->field < 0)
        return err_set(e, MPF_EJOB, "value-field '%s' is not a field of the input", value_field);
    return 0;
}

void kenc_field_text(const schema *sc, const uint8_t *rec, int idx, kbuf *out)
{
    const uint8_t *f = rec_field(sc, rec, idx);
    if (sc->f[idx].type == FT_STRING) {
        kbuf_put(out, f + 4, rd_u32(f));
        return;
    }
    char tmp[64];
    size_t n = field_format(sc->f[idx].type, f, tmp, sizeof tmp);
    kbuf_put(out, tmp, n < sizeof tmp ? n : sizeof tmp);
}

static void csv_value(const kenc *enc, const uint8_t *rec, kbuf *out)
{
    const schema *sc = enc->sc;
    const uint8_t *f = rec + REC_LEN_SIZE;
    char tmp[64];
    for (int i = 0; i < sc->n; i++) {
        if (i)
            kbuf_put(out, &enc->delim, 1);
        if (sc->f[i].type != FT_STRING) {
            size_t n = field_format(sc->f[i].type, f, tmp, sizeof tmp);
            kbuf_put(out, tmp, n < sizeof tmp ? n : sizeof tmp);
            f += sc->f[i].type == FT_BOOL ? 1 : 8;
            continue;
        }
        uint32_t n = rd_u32(f);
        const char *s = (const char *)f + 4;
        int quote = 0;
        for (uint32_t k = 0; k < n && !quote; k++)
            quote = s[k] == enc->delim || s[k] == '"' || s[k] == '\n' || s[k] == '\r';
        if (!quote) {
            kbuf_put(out, s, n);
        } else {
            kbuf_put(out, "\"", 1);
            for (uint32_t k = 0; k < n; k++) {
                if (s[k] == '"')
                    kbuf_put(out, "\"", 1);
                kbuf_put(out, s + k, 1);
            }
            kbuf_put(out, "\"", 1);
        }
        f += 4 + n;
    }
}

static int json_value(const kenc *enc, const uint8_t *rec, kbuf *out, mpf_err *e)
{
    const schema *sc = enc->sc;
    const uint8_t *f = rec + REC_LEN_SIZE;
    json_t *obj = json_object();
    char tmp[64];
    for (int i = 0; i < sc->n; i++) {
        json_t *v = NULL;
        switch (sc->f[i].type) {
        case FT_I64:
            v = json_integer((json_int_t)rd_i64(f));
            f += 8;
            break;
        case FT_F64: {
            double d = rd_f64(f);
            v = isfinite(d) ? json_real(d) : json_null(); /* JSON has no NaN or infinity */
            f += 8;
            break;
        }
        case FT_BOOL:
            v = json_boolean(f[0]);
            f += 1;
            break;
        case FT_TIMESTAMP: {
            size_t n = format_timestamp(rd_i64(f), tmp, sizeof tmp);
            v = json_stringn(tmp, n < sizeof tmp ? n : sizeof tmp);
            f += 8;
            break;
        }
        case FT_STRING: {
            uint32_t n = rd_u32(f);
            v = json_stringn((const char *)f + 4, n);
            f += 4 + n;
            if (!v) {
                json_decref(obj);
                return err_set(e, MPF_EPARSE, "field '%s' is not valid UTF-8, which format "
                               "json cannot write (use csv or raw)", sc->f[i].name);
            }
            break;
        }
        }
        json_object_set_new(obj, sc->f[i].name, v);
    }
    size_t need = json_dumpb(obj, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
    kbuf_reserve(out, need);
    json_dumpb(obj, (char *)out->p + out->len, need, JSON_COMPACT | JSON_PRESERVE_ORDER);
    out->len += need;
    json_decref(obj);
    return 0;
}

int kenc_value(const kenc *enc, const uint8_t *rec, kbuf *out, mpf_err *e)
{
    switch (enc->format) {
    case KENC_RAW: {
        const uint8_t *f = rec_field(enc->sc, rec, enc->field);
        if (enc->sc->f[enc->field].type == FT_STRING)
            kbuf_put(out, f + 4, rd_u32(f));
        else
            kenc_field_text(enc->sc, rec, enc->field, out);
        return 0;
    }
    case KENC_CSV:
        csv_value(enc, rec, out);
        return 0;
    case KENC_JSON:
        return json_value(enc, rec, out, e);
    }
    return 0;
}
