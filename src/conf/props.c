/* The configuration property table and typed configuration values (conf
 * layer). conf/keys.def is the single source of truth for every key: its
 * type, default, range, enum spellings and description; it expands into
 * conf_props[] here and into the conf_key enum the getters take. A conf holds one
 * parsed value per table entry plus the text it prints as and where it came
 * from; conf_set is the only way a value changes, so the precedence of
 * defaults < --conf file < job config: < -D is just the order of the calls.
 * Durations and sizes use Apache Flink's syntax (TimeUtils.parseDuration,
 * MemorySize.parse) so Flink users can copy their settings. The list and
 * Markdown printers feed `mpiflow config --list` and docs/CONFIGURATION.md. */
#include "conf/props.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "conf/yamldoc.h"
#include "util/strutil.h"
#include "util/xmalloc.h"

#define NS_PER_US INT64_C(1000)
#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)
#define KIB INT64_C(1024)

/* ---------------------------------------------------------------- table */

const prop_def conf_props[] = {
#define CONF_KEY(id, ...) {__VA_ARGS__},
#include "conf/keys.def"
#undef CONF_KEY
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* ---------------------------------------------------------------- values */

/* One parsed value. text is what conf_text prints and conf_serialize
 * ships; it is canonical, so equal text means equal value. */
typedef struct cval {
    int64_t i;    /* INT, BOOL, DURATION (ns), SIZE (bytes) */
    double d;     /* DOUBLE */
    char *s;      /* STRING; ENUM canonical spelling */
    char *text;   /* formatted value */
    char *origin; /* where it was set; NULL for the built-in default */
} cval;

struct conf {
    size_t n;
    cval *v;
};

static int prop_index(const char *key)
{
    if (!key)
        return -1;
    for (int i = 0; conf_props[i].name; i++)
        if (strcmp(conf_props[i].name, key) == 0)
            return i;
    return -1;
}

static void cval_fini(cval *v)
{
    free(v->s);
    free(v->text);
    free(v->origin);
    memset(v, 0, sizeof *v);
}

static void cval_copy(cval *dst, const cval *src)
{
    *dst = *src;
    dst->s = src->s ? xstrdup(src->s) : NULL;
    dst->text = src->text ? xstrdup(src->text) : NULL;
    dst->origin = src->origin ? xstrdup(src->origin) : NULL;
}

static const char *type_name(prop_type t)
{
    switch (t) {
    case PROP_INT:
        return "int";
    case PROP_DOUBLE:
        return "double";
    case PROP_BOOL:
        return "bool";
    case PROP_DURATION:
        return "duration";
    case PROP_SIZE:
        return "size";
    case PROP_STRING:
        return "string";
    case PROP_ENUM:
        return "enum";
    }
    return "?";
}

/* ---------------------------------------------------------- unit parsing */

typedef struct unit {
    const char *label;
    int64_t mult;
} unit;

/* Flink's TimeUtils labels (singular and plural forms), plus "us" as an
 * ASCII spelling of "µs". */
static const unit duration_units[] = {
    {"ns", 1}, {"nano", 1}, {"nanos", 1}, {"nanosecond", 1},
    {"nanoseconds", 1},
    {"us", NS_PER_US}, {"\xc2\xb5s", NS_PER_US}, {"micro", NS_PER_US},
    {"micros", NS_PER_US}, {"microsecond", NS_PER_US},
    {"microseconds", NS_PER_US},
    {"ms", NS_PER_MS}, {"milli", NS_PER_MS}, {"millis", NS_PER_MS},
    {"millisecond", NS_PER_MS}, {"milliseconds", NS_PER_MS},
    {"s", NS_PER_S}, {"sec", NS_PER_S}, {"secs", NS_PER_S},
    {"second", NS_PER_S}, {"seconds", NS_PER_S},
    {"min", 60 * NS_PER_S}, {"m", 60 * NS_PER_S}, {"minute", 60 * NS_PER_S},
    {"minutes", 60 * NS_PER_S},
    {"h", 3600 * NS_PER_S}, {"hour", 3600 * NS_PER_S},
    {"hours", 3600 * NS_PER_S},
    {"d", 86400 * NS_PER_S}, {"day", 86400 * NS_PER_S},
    {"days", 86400 * NS_PER_S},
    {NULL, 0},
};

/* Flink's MemorySize.MemoryUnit labels; k = 1024. */
static const unit size_units[] = {
    {"b", 1}, {"bytes", 1},
    {"k", KIB}, {"kb", KIB}, {"kibibytes", KIB},
    {"m", KIB * KIB}, {"mb", KIB * KIB}, {"mebibytes", KIB * KIB},
    {"g", KIB * KIB * KIB}, {"gb", KIB * KIB * KIB},
    {"gibibytes", KIB * KIB * KIB},
    {"t", KIB * KIB * KIB * KIB}, {"tb", KIB * KIB * KIB * KIB},
    {"tebibytes", KIB * KIB * KIB * KIB},
    {NULL, 0},
};

/* Java's String.trim(): every byte up to and including ' ' is blank. */
static int is_blank(char c)
{
    return (unsigned char)c <= ' ' && c != '\0';
}

/* The shared shape of Flink's two parsers: trim, a run of ASCII digits
 * (no sign, no fraction), optional blanks, an optional unit matched
 * case-insensitively. An empty unit means bare_mult. On failure why names
 * the reason. */
static int parse_with_units(const char *s, const unit *units,
                            int64_t bare_mult, int64_t *out,
                            const char **why)
{
    if (!s) {
        *why = "empty value";
        return MPF_ECONFIG;
    }
    while (is_blank(*s))
        s++;
    size_t len = strlen(s);
    while (len && is_blank(s[len - 1]))
        len--;
    if (len == 0) {
        *why = "empty value";
        return MPF_ECONFIG;
    }
    size_t pos = 0;
    int64_t num = 0;
    while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
        int d = s[pos] - '0';
        if (num > (INT64_MAX - d) / 10) {
            *why = "numeric overflow";
            return MPF_ECONFIG;
        }
        num = num * 10 + d;
        pos++;
    }
    if (pos == 0) {
        *why = "it must start with a non-negative whole number";
        return MPF_ECONFIG;
    }
    while (pos < len && is_blank(s[pos]))
        pos++;
    char label[32];
    size_t ul = len - pos;
    int64_t mult = bare_mult;
    if (ul > 0) {
        if (ul >= sizeof label) {
            *why = "unknown unit";
            return MPF_ECONFIG;
        }
        for (size_t i = 0; i < ul; i++) {
            char c = s[pos + i];
            label[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        label[ul] = '\0';
        mult = 0;
        for (size_t i = 0; units[i].label; i++) {
            if (strcmp(units[i].label, label) == 0) {
                mult = units[i].mult;
                break;
            }
        }
        if (!mult) {
            *why = "unknown unit";
            return MPF_ECONFIG;
        }
    }
    if (num > INT64_MAX / mult) {
        *why = "numeric overflow";
        return MPF_ECONFIG;
    }
    *out = num * mult;
    return 0;
}

int parse_duration_ns(const char *s, int64_t *ns)
{
    const char *why;
    return parse_with_units(s, duration_units, NS_PER_MS, ns, &why);
}

int parse_size_bytes(const char *s, int64_t *bytes)
{
    const char *why;
    return parse_with_units(s, size_units, 1, bytes, &why);
}

/* Both formatters print in the largest unit that divides the value
 * exactly, as Flink's TimeUtils.formatWithHighestUnit and
 * MemorySize.toString do (but 0 prints as "0 ms" / "0 bytes" and whole
 * days or tebibytes keep their unit). */
static void format_units(int64_t v, const unit *order, size_t n_order,
                         const char *zero, char *buf, size_t n)
{
    if (!buf || n == 0)
        return;
    if (v == 0) {
        snprintf(buf, n, "%s", zero);
        return;
    }
    size_t best = 0;
    for (size_t i = 0; i < n_order; i++)
        if (v % order[i].mult == 0)
            best = i;
    snprintf(buf, n, "%lld %s", (long long)(v / order[best].mult),
             order[best].label);
}

void format_duration(int64_t ns, char *buf, size_t n)
{
    static const unit order[] = {
        {"ns", 1},           {"us", NS_PER_US},         {"ms", NS_PER_MS},
        {"s", NS_PER_S},     {"min", 60 * NS_PER_S},    {"h", 3600 * NS_PER_S},
        {"d", 86400 * NS_PER_S},
    };
    format_units(ns, order, sizeof order / sizeof order[0], "0 ms", buf, n);
}

void format_size(int64_t bytes, char *buf, size_t n)
{
    static const unit order[] = {
        {"bytes", 1},
        {"kb", KIB},
        {"mb", KIB * KIB},
        {"gb", KIB * KIB * KIB},
        {"tb", KIB * KIB * KIB * KIB},
    };
    format_units(bytes, order, sizeof order / sizeof order[0], "0 bytes", buf,
                 n);
}

/* ---------------------------------------------------------- value parsing */

static void trim_copy(const char *s, char *buf, size_t n)
{
    while (is_blank(*s))
        s++;
    size_t len = strlen(s);
    while (len && is_blank(s[len - 1]))
        len--;
    if (len >= n)
        len = n - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
}

/* Java's Long.parseLong on the trimmed text: optional sign, digits. */
static int parse_int(const char *s, int64_t *out)
{
    char buf[64];
    if (strlen(s) >= sizeof buf)
        return MPF_ECONFIG;
    trim_copy(s, buf, sizeof buf);
    const char *p = buf;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!*p)
        return MPF_ECONFIG;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return MPF_ECONFIG;
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10)
            return MPF_ECONFIG;
        v = v * 10 + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char buf[128];
    if (strlen(s) >= sizeof buf)
        return MPF_ECONFIG;
    trim_copy(s, buf, sizeof buf);
    if (!buf[0])
        return MPF_ECONFIG;
    for (const char *p = buf; *p; p++)
        if (!strchr("0123456789.eE+-", *p))
            return MPF_ECONFIG; /* no inf, nan or hex floats */
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end || !isfinite(v) || errno == ERANGE)
        return MPF_ECONFIG;
    *out = v;
    return 0;
}

/* Shortest %g form that reads back as the same double. */
static void format_double(double d, char *buf, size_t n)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

/* Copy the enum spelling of s from p->enums into canon, or return -1. */
static int match_enum(const prop_def *p, const char *s, char *canon,
                      size_t n)
{
    char want[128];
    if (strlen(s) >= sizeof want)
        return -1;
    trim_copy(s, want, sizeof want);
    const char *e = p->enums;
    while (*e) {
        size_t len = strcspn(e, "|");
        if (len == strlen(want) && strncasecmp(e, want, len) == 0 &&
            len < n) {
            memcpy(canon, e, len);
            canon[len] = '\0';
            return 0;
        }
        e += len;
        if (*e == '|')
            e++;
    }
    return -1;
}

/* Closest enum spelling to s, ignoring case, or NULL. */
static const char *enum_hint(const prop_def *p, const char *s, char *buf,
                             size_t n)
{
    char lower[128], cand[16][64];
    const char *cands[17];
    size_t k = 0;
    trim_copy(s, lower, sizeof lower);
    for (char *q = lower; *q; q++)
        *q = (char)((*q >= 'A' && *q <= 'Z') ? *q - 'A' + 'a' : *q);
    for (const char *e = p->enums; *e && k < 16;) {
        size_t len = strcspn(e, "|");
        if (len >= sizeof cand[0])
            len = sizeof cand[0] - 1;
        for (size_t i = 0; i < len; i++)
            cand[k][i] = (char)((e[i] >= 'A' && e[i] <= 'Z') ? e[i] - 'A' + 'a'
                                                              : e[i]);
        cand[k][len] = '\0';
        cands[k] = cand[k];
        k++;
        e += strcspn(e, "|");
        if (*e == '|')
            e++;
    }
    cands[k] = NULL;
    const char *best = str_closest(lower, cands);
    if (!best)
        return NULL;
    /* map back to the canonical spelling */
    return match_enum(p, best, buf, n) == 0 ? buf : NULL;
}

static void format_bound(const prop_def *p, int64_t v, char *buf, size_t n)
{
    if (p->type == PROP_DURATION)
        format_duration(v, buf, n);
    else if (p->type == PROP_SIZE)
        format_size(v, buf, n);
    else
        snprintf(buf, n, "%lld", (long long)v);
}

/* Every numeric key has a range; min == max means the one value that is
 * supported (execution.checkpointing.max-concurrent-checkpoints). */
static int has_range(const prop_def *p)
{
    return (p->type == PROP_INT || p->type == PROP_DOUBLE ||
            p->type == PROP_DURATION || p->type == PROP_SIZE) &&
           p->min <= p->max;
}

/* "values" column: enum spellings or the numeric range, else "". */
static void describe_range(const prop_def *p, const char *sep,
                           const char *quote, char *buf, size_t n)
{
    buf[0] = '\0';
    if (p->type == PROP_ENUM) {
        size_t used = 0;
        for (const char *e = p->enums; *e && used < n;) {
            size_t len = strcspn(e, "|");
            int w = snprintf(buf + used, n - used, "%s%s%.*s%s",
                             used ? sep : "", quote, (int)len, e, quote);
            if (w < 0 || (size_t)w >= n - used)
                break;
            used += (size_t)w;
            e += len;
            if (*e == '|')
                e++;
        }
    } else if (p->type == PROP_BOOL) {
        snprintf(buf, n, "%strue%s%s%sfalse%s", quote, quote, sep, quote,
                 quote);
    } else if (has_range(p)) {
        char lo[48], hi[48];
        format_bound(p, p->min, lo, sizeof lo);
        format_bound(p, p->max, hi, sizeof hi);
        if (p->min == p->max)
            snprintf(buf, n, "%s", lo);
        else
            snprintf(buf, n, "%s .. %s", lo, hi);
    }
}

static int out_of_range(const prop_def *p, const cval *v, char *why,
                        size_t n)
{
    char lo[48], hi[48];
    format_bound(p, p->min, lo, sizeof lo);
    format_bound(p, p->max, hi, sizeof hi);
    if (p->min == p->max)
        snprintf(why, n, "value %s is not supported (the only allowed value is %s)", v->text, lo);
    else
        snprintf(why, n, "value %s is out of range [%s, %s]", v->text, lo, hi);
    return MPF_ECONFIG;
}

/* Parse value for p into out (fresh; caller finalises it on success).
 * On failure returns MPF_ECONFIG with why = "expected ..., got 'v'". */
static int parse_value(const prop_def *p, const char *value, cval *out,
                       char *why, size_t n)
{
    char buf[64];
    const char *reason = NULL;
    memset(out, 0, sizeof *out);
    switch (p->type) {
    case PROP_INT:
        if (parse_int(value, &out->i)) {
            snprintf(why, n, "expected an integer, got '%s'", value);
            return MPF_ECONFIG;
        }
        snprintf(buf, sizeof buf, "%lld", (long long)out->i);
        break;
    case PROP_DOUBLE:
        if (parse_double(value, &out->d)) {
            snprintf(why, n, "expected a number, got '%s'", value);
            return MPF_ECONFIG;
        }
        format_double(out->d, buf, sizeof buf);
        break;
    case PROP_BOOL:
        trim_copy(value, buf, sizeof buf);
        if (str_ieq(buf, "true")) {
            out->i = 1;
        } else if (str_ieq(buf, "false")) {
            out->i = 0;
        } else {
            snprintf(why, n, "expected true or false, got '%s'", value);
            return MPF_ECONFIG;
        }
        snprintf(buf, sizeof buf, "%s", out->i ? "true" : "false");
        break;
    case PROP_DURATION:
        if (parse_with_units(value, duration_units, NS_PER_MS, &out->i,
                             &reason)) {
            snprintf(why, n,
                     "expected a duration such as '100 ms' or '5 s' (units "
                     "ns, us, ms, s, min, h, d; a bare number is ms), got "
                     "'%s': %s",
                     value, reason);
            return MPF_ECONFIG;
        }
        format_duration(out->i, buf, sizeof buf);
        break;
    case PROP_SIZE:
        if (parse_with_units(value, size_units, 1, &out->i, &reason)) {
            snprintf(why, n,
                     "expected a size such as '32 kb' or '64 mb' (units b, "
                     "kb, mb, gb, tb; a bare number is bytes), got '%s': %s",
                     value, reason);
            return MPF_ECONFIG;
        }
        format_size(out->i, buf, sizeof buf);
        break;
    case PROP_STRING:
        if (strpbrk(value, "\r\n")) {
            snprintf(why, n, "value must not contain a line break");
            return MPF_ECONFIG;
        }
        out->s = xstrdup(value);
        out->text = xstrdup(value);
        return 0;
    case PROP_ENUM: {
        char canon[64], hint[64], list[256];
        if (match_enum(p, value, canon, sizeof canon) == 0) {
            out->s = xstrdup(canon);
            out->text = xstrdup(canon);
            return 0;
        }
        describe_range(p, ", ", "", list, sizeof list);
        if (enum_hint(p, value, hint, sizeof hint))
            snprintf(why, n, "expected one of %s, got '%s' (did you mean "
                     "'%s'?)", list, value, hint);
        else
            snprintf(why, n, "expected one of %s, got '%s'", list, value);
        return MPF_ECONFIG;
    }
    }
    out->text = xstrdup(buf);
    int bad = 0;
    if (has_range(p)) {
        if (p->type == PROP_DOUBLE)
            bad = out->d < (double)p->min || out->d > (double)p->max;
        else
            bad = out->i < p->min || out->i > p->max;
    }
    if (bad) {
        out_of_range(p, out, why, n);
        cval_fini(out);
        return MPF_ECONFIG;
    }
    return 0;
}

/* -------------------------------------------------------------- lifecycle */

conf *conf_new(void)
{
    conf *c = xcalloc(1, sizeof *c);
    c->n = (size_t)CONF_NKEYS;
    c->v = xcalloc(c->n, sizeof *c->v);
    for (size_t i = 0; i < c->n; i++) {
        char why[512];
        if (parse_value(&conf_props[i], conf_props[i].defval, &c->v[i], why,
                        sizeof why)) {
            /* A broken default is a bug in conf/keys.def. */
            fprintf(stderr, "mpiflow: bad default for %s: %s\n",
                    conf_props[i].name, why);
            abort();
        }
    }
    return c;
}

conf *conf_dup(const conf *c)
{
    conf *d = xcalloc(1, sizeof *d);
    d->n = c->n;
    d->v = xcalloc(d->n, sizeof *d->v);
    for (size_t i = 0; i < c->n; i++)
        cval_copy(&d->v[i], &c->v[i]);
    return d;
}

void conf_destroy(conf *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        cval_fini(&c->v[i]);
    free(c->v);
    free(c);
}

/* ----------------------------------------------------------------- setters */

static int unknown_key(const char *key, const char *origin, mpf_err *e)
{
    size_t n = (size_t)CONF_NKEYS;
    const char **names = xmalloc((n + 1) * sizeof *names);
    for (size_t i = 0; i < n; i++)
        names[i] = conf_props[i].name;
    names[n] = NULL;
    const char *hint = str_closest(key, names);
    int rc;
    if (hint)
        rc = err_set(e, MPF_ECONFIG,
                     "%s: unknown configuration key '%s' (did you mean "
                     "'%s'?)",
                     origin, key, hint);
    else
        rc = err_set(e, MPF_ECONFIG, "%s: unknown configuration key '%s'",
                     origin, key);
    free(names);
    return rc;
}

int conf_set(conf *c, const char *key, const char *value, const char *origin,
             mpf_err *e)
{
    if (!origin)
        origin = "configuration";
    if (!key)
        return err_set(e, MPF_ECONFIG, "%s: missing configuration key",
                       origin);
    int idx = prop_index(key);
    if (idx < 0)
        return unknown_key(key, origin, e);
    if (!value)
        return err_set(e, MPF_ECONFIG, "%s: key '%s': missing value", origin,
                       key);
    cval nv;
    char why[768];
    if (parse_value(&conf_props[idx], value, &nv, why, sizeof why))
        return err_set(e, MPF_ECONFIG, "%s: key '%s': %s", origin, key, why);
    nv.origin = xstrdup(origin);
    cval_fini(&c->v[idx]);
    c->v[idx] = nv;
    return 0;
}

int conf_set_kv(conf *c, const char *kv, mpf_err *e)
{
    const char *eq = kv ? strchr(kv, '=') : NULL;
    if (!eq)
        return err_set(e, MPF_ECONFIG, "-D: expected key=value, got '%s'",
                       kv ? kv : "");
    /* Blanks around the key are dropped; the value is passed on as is
     * (typed parsers trim it, strings keep it verbatim). */
    const char *k0 = kv, *k1 = eq;
    while (k0 < k1 && is_blank(*k0))
        k0++;
    while (k1 > k0 && is_blank(k1[-1]))
        k1--;
    char *key = xstrndup(k0, (size_t)(k1 - k0));
    int rc = conf_set(c, key, eq + 1, "-D", e);
    free(key);
    return rc;
}

static void node_origin(const ynode *n, char *buf, size_t len)
{
    snprintf(buf, len, "%s:%d:%d", n->file ? n->file : "?", n->line, n->col);
}

/* seen[i] holds the position where property i was set by this YAML map,
 * so a key given twice (flat and nested) is caught. */
static int apply_map(conf *c, const ynode *map, const char *prefix,
                     char **seen, mpf_err *e)
{
    for (size_t i = 0; i < map->n; i++) {
        const ynode *k = map->keys[i], *v = map->items[i];
        char *key = prefix ? xasprintf("%s.%s", prefix, k->str)
                           : xstrdup(k->str);
        char where[512];
        int rc = 0, idx;
        node_origin(v, where, sizeof where);
        switch (v->kind) {
        case YNODE_MAP:
            idx = prop_index(key);
            if (idx >= 0)
                rc = err_set(e, MPF_ECONFIG,
                             "%s: key '%s': expected a single value, got a "
                             "map",
                             where, key);
            else
                rc = apply_map(c, v, key, seen, e);
            break;
        case YNODE_SEQ:
            rc = err_set(e, MPF_ECONFIG,
                         "%s: key '%s': expected a single value, got a "
                         "sequence",
                         where, key);
            break;
        case YNODE_SCALAR:
            rc = conf_set(c, key, ynode_is_null(v) ? "" : v->str, where, e);
            if (rc)
                break;
            idx = prop_index(key);
            if (seen[idx]) {
                rc = err_set(e, MPF_ECONFIG,
                             "%s: key '%s' is set twice (first at %s)", where,
                             key, seen[idx]);
                break;
            }
            seen[idx] = xstrdup(where);
            break;
        }
        free(key);
        if (rc)
            return rc;
    }
    return 0;
}

int conf_apply_yaml(conf *c, const struct ynode *map, mpf_err *e)
{
    char **seen = NULL;
    int rc = 0;

    if (!map || ynode_is_null(map))
        return 0;
    if (map->kind != YNODE_MAP)
        return err_set(e, MPF_ECONFIG,
                       "%s:%d:%d: configuration must be a map of keys to "
                       "values, got a %s",
                       map->file, map->line, map->col,
                       ynode_kind_name(map->kind));
    seen = xcalloc(c->n, sizeof *seen);
    rc = apply_map(c, map, NULL, seen, e);
    /* success and failure share the cleanup */
    for (size_t i = 0; i < c->n; i++)
        free(seen[i]);
    free(seen);
    return rc;
}

int conf_load_file(conf *c, const char *path, mpf_err *e)
{
    char *text = NULL;
    ydoc *doc = NULL;
    size_t len = 0;
    int rc;

    text = ydoc_read_file(path, &len, e);
    if (!text) {
        rc = e ? e->code : MPF_EIO;
        goto fail;
    }
    doc = ydoc_parse(path, text, len, e);
    if (!doc) {
        /* Same message; the code says it is a configuration problem. */
        rc = e ? e->code : MPF_ECONFIG;
        if (rc == MPF_EJOB) {
            rc = MPF_ECONFIG;
            e->code = rc;
        }
        goto fail;
    }
    rc = conf_apply_yaml(c, doc->root, e);
fail:
    ydoc_destroy(doc);
    free(text);
    return rc;
}

/* parallelism.default may not exceed the number of key groups (Flink has
 * the same rule). 0 resolves to the world's slot count only at plan time,
 * so that case is checked by the planner. A heartbeat timeout must leave
 * room for more than one heartbeat. */
int conf_finalize(conf *c, mpf_err *e)
{
    int64_t hbi = conf_duration_ns(c, CONF_HEARTBEAT_INTERVAL);
    int64_t hbt = conf_duration_ns(c, CONF_HEARTBEAT_TIMEOUT);
    if (hbt > 0 && hbt < 2 * hbi) {
        const cval *tv = &c->v[CONF_HEARTBEAT_TIMEOUT];
        return err_set(e, MPF_ECONFIG, "heartbeat.timeout = %.3f s (from %s) must be at least "
                       "twice heartbeat.interval = %.3f s (or 0: off)", (double)hbt / 1e9,
                       tv->origin ? tv->origin : "default", (double)hbi / 1e9);
    }
    int64_t par = conf_int(c, CONF_PARALLELISM_DEFAULT);
    int64_t maxp = conf_int(c, CONF_PIPELINE_MAX_PARALLELISM);
    if (par > maxp) {
        const cval *pv = &c->v[CONF_PARALLELISM_DEFAULT];
        const cval *mv = &c->v[CONF_PIPELINE_MAX_PARALLELISM];
        return err_set(e, MPF_ECONFIG,
                       "parallelism.default = %lld (from %s) is larger than "
                       "pipeline.max-parallelism = %lld (from %s)",
                       (long long)par, pv->origin ? pv->origin : "default",
                       (long long)maxp, mv->origin ? mv->origin : "default");
    }
    return 0;
}

/* ----------------------------------------------------------------- getters */

/* A getter used with an unknown key or the wrong type is a bug in the
 * caller, not a user error, so it stops the process. */
static const cval *typed(const conf *c, conf_key k, prop_type t1, prop_type t2)
{
    if ((unsigned)k >= CONF_NKEYS || (conf_props[k].type != t1 && conf_props[k].type != t2)) {
        fprintf(stderr, "mpiflow: bug: configuration key %d (%s) read as %s\n", (int)k,
                (unsigned)k < CONF_NKEYS ? conf_props[k].name : "?", type_name(t1));
        abort();
    }
    return &c->v[k];
}

int64_t conf_int(const conf *c, conf_key k)
{
    return typed(c, k, PROP_INT, PROP_INT)->i;
}

double conf_double(const conf *c, conf_key k)
{
    return typed(c, k, PROP_DOUBLE, PROP_DOUBLE)->d;
}

int conf_bool(const conf *c, conf_key k)
{
    return (int)typed(c, k, PROP_BOOL, PROP_BOOL)->i;
}

int64_t conf_duration_ns(const conf *c, conf_key k)
{
    return typed(c, k, PROP_DURATION, PROP_DURATION)->i;
}

int64_t conf_size(const conf *c, conf_key k)
{
    return typed(c, k, PROP_SIZE, PROP_SIZE)->i;
}

const char *conf_str(const conf *c, conf_key k)
{
    return typed(c, k, PROP_STRING, PROP_ENUM)->s;
}

const char *conf_text(const conf *c, conf_key k)
{
    if ((unsigned)k >= CONF_NKEYS) {
        fprintf(stderr, "mpiflow: bug: configuration key %d read as text\n", (int)k);
        abort();
    }
    return c->v[k].text;
}

/* The default of property i as conf_text would print it. Caller frees. */
static char *default_text(size_t i)
{
    cval v;
    char why[512];
    if (parse_value(&conf_props[i], conf_props[i].defval, &v, why, sizeof why))
        return xstrdup(conf_props[i].defval);
    char *t = v.text;
    v.text = NULL;
    cval_fini(&v);
    return t;
}

char *conf_serialize(const conf *c)
{
    size_t len = 0, cap = 256;
    char *out = xmalloc(cap);
    out[0] = '\0';
    for (size_t i = 0; i < c->n; i++) {
        char *def = default_text(i);
        int same = strcmp(def, c->v[i].text) == 0;
        free(def);
        if (same)
            continue;
        char *line = xasprintf("%s=%s\n", conf_props[i].name, c->v[i].text);
        size_t ll = strlen(line);
        if (len + ll + 1 > cap) {
            while (len + ll + 1 > cap)
                cap *= 2;
            out = xrealloc(out, cap);
        }
        memcpy(out + len, line, ll + 1);
        len += ll;
        free(line);
    }
    return out;
}

/* ---------------------------------------------------------------- printers */

/* Print text wrapped at width columns, each line indented by indent. */
static void print_wrapped(FILE *f, const char *text, int indent, int width)
{
    const char *s = text;
    while (*s) {
        int col = indent;
        fprintf(f, "%*s", indent, "");
        int first = 1;
        while (*s) {
            size_t w = strcspn(s, " ");
            if (!first && col + 1 + (int)w > width)
                break;
            fprintf(f, "%s%.*s", first ? "" : " ", (int)w, s);
            col += (int)w + (first ? 0 : 1);
            first = 0;
            s += w;
            while (*s == ' ')
                s++;
        }
        fputc('\n', f);
    }
}

void conf_print_list(FILE *f)
{
    for (size_t i = 0; conf_props[i].name; i++) {
        const prop_def *p = &conf_props[i];
        char *def = default_text(i);
        char range[256];
        describe_range(p, "|", "", range, sizeof range);
        char line[512];
        int n = snprintf(line, sizeof line, "    type: %s, default: %s", type_name(p->type),
                         def[0] ? def : "\"\"");
        const char *what = p->type == PROP_ENUM ? "values: " : "range: ";
        /* a long value list goes on its own line, so lines stay in 80 columns */
        int own_line = range[0] && n + 2 + strlen(what) + strlen(range) > 80;
        fprintf(f, "%s\n%s%s%s%s\n", p->name, line,
                range[0] ? (own_line ? "\n    " : ", ") : "", range[0] ? what : "", range);
        print_wrapped(f, p->doc, 4, 78);
        if (conf_props[i + 1].name)
            fputc('\n', f);
        free(def);
    }
}

/* Markdown table cells may not contain '|' unescaped. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else
            fputc(*s, f);
    }
}

void conf_print_markdown(FILE *f)
{
    fputs("# mpiflow configuration\n"
          "\n"
          "This file is generated by `mpiflow config --markdown` from the "
          "property table in `src/conf/keys.def`; do not edit it by hand.\n"
          "\n"
          "## Configuration file\n"
          "\n"
          "`mpiflow run` and `mpiflow validate` (and `mpiflow submit`, for the "
          "runs it launches) read one YAML configuration file, chosen in this "
          "order:\n"
          "\n"
          "1. `--conf FILE`, if given;\n"
          "2. else `$MPIFLOW_CONF_DIR/mpiflow.yaml`, if the environment variable "
          "`MPIFLOW_CONF_DIR` is set and not empty (the file must then exist);\n"
          "3. else `../conf/mpiflow.yaml` relative to the directory of the "
          "`mpiflow` executable (for `build/mpiflow` that is the repository's "
          "`conf/mpiflow.yaml`), if that file exists and is readable;\n"
          "4. else no file: only the job's `config:` map and `-D` change the "
          "defaults.\n"
          "\n"
          "The file is read on rank 0 and its settings are shipped to the "
          "other ranks. An empty file is fine.\n"
          "\n"
          "## Precedence\n"
          "\n"
          "Every key starts at its built-in default. Later sources override "
          "earlier ones:\n"
          "\n"
          "built-in defaults < `--conf` file < the job's `config:` map < "
          "`-D key=value` on the command line\n"
          "\n"
          "Several `-D` options are applied left to right. In YAML, keys may "
          "be written flat (`taskmanager.numberOfTaskSlots: 4`) or as nested "
          "maps (`taskmanager: {numberOfTaskSlots: 4}`); setting the same key "
          "twice in one file is an error. Unknown keys are rejected. "
          "`mpiflow config --list` prints the same table as plain text.\n"
          "\n"
          "## Durations and sizes\n"
          "\n"
          "Durations and sizes use the syntax of Apache Flink: a whole, "
          "non-negative number, optional blanks, then an optional unit, "
          "matched case-insensitively.\n"
          "\n"
          "- Durations: `ns`; `us` or `µs`; `ms`, `milli`, `millis`; `s`, "
          "`sec`, `secs`, `second`, `seconds`; `min`, `m`, `minute`, "
          "`minutes`; `h`, `hour`, `hours`; `d`, `day`, `days` (the long "
          "forms `nano(s)`, `nanosecond(s)`, `micro(s)`, `microsecond(s)`, "
          "`millisecond(s)` work too). A bare number is milliseconds: "
          "`100`, `100ms` and `100 ms` are the same.\n"
          "- Sizes: `b`, `bytes`; `k`, `kb`, `kibibytes`; `m`, `mb`, "
          "`mebibytes`; `g`, `gb`, `gibibytes`; `t`, `tb`, `tebibytes`. "
          "Units are powers of 1024 (`1 kb` = 1024 bytes). A bare number is "
          "bytes.\n"
          "\n"
          "Negative values, fractions and values that overflow a signed "
          "64-bit count of nanoseconds or bytes are rejected. Values are "
          "printed in the largest unit that represents them exactly "
          "(`100 ms`, `32 kb`).\n"
          "\n"
          "## Keys\n"
          "\n"
          "| Key | Type | Default | Range/values | Description |\n"
          "|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; conf_props[i].name; i++) {
        const prop_def *p = &conf_props[i];
        char *def = default_text(i);
        char range[256];
        describe_range(p, ", ", "`", range, sizeof range);
        fprintf(f, "| `%s` | %s | ", p->name, type_name(p->type));
        if (def[0]) {
            fputc('`', f);
            md_cell(f, def);
            fputc('`', f);
        } else {
            fputs("(empty)", f);
        }
        fputs(" | ", f);
        md_cell(f, range);
        fputs(" | ", f);
        md_cell(f, p->doc);
        fputs(" |\n", f);
        free(def);
    }
}

int ynode_get_duration_ns(const struct ynode *map, const char *key, int required, int64_t *ns,
                          mpf_err *e)
{
    const char *v = NULL;
    if (ynode_get_str(map, key, required, &v, e))
        return e->code;
    if (v && parse_duration_ns(v, ns))
        return err_set(e, MPF_EJOB, "%s: %s: expected a duration such as '500ms', '5s' or "
                       "'1h', got '%s'", ynode_pos(ynode_get(map, key)), key, v);
    return 0;
}
