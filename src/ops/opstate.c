/* Helpers for operator snapshots (ops layer). */
#include "ops/opstate.h"

#include <stdlib.h>
#include "record/keygroup.h"
#include "util/xmalloc.h"

void kgbufs_init(kgbufs *k, const op_inst *oi)
{
    keygroup_range r = keygroup_range_of(oi->subtask, oi->spec->max_parallelism,
                                         oi->spec->parallelism);
    k->first = r.start;
    k->n = r.end >= r.start ? r.end - r.start + 1 : 0;
    k->maxp = oi->spec->max_parallelism;
    k->b = xcalloc((size_t)k->n + 1, sizeof *k->b);
}

recbuf *kgbufs_for(kgbufs *k, const void *key, uint32_t klen)
{
    int kg = keygroup_of(key_hash(key, klen), k->maxp) - k->first;
    if (kg < 0 || kg >= k->n) /* not ours: cannot happen with hash routing */
        kg = 0;
    return &k->b[kg];
}

void kgbuf_put(recbuf *b, const void *p, uint32_t n)
{
    if (b->cap - b->len < n) { /* sizes are 64-bit: a blob may pass 4 GiB */
        size_t need = b->len + n;
        b->cap = need <= (SIZE_MAX - 64) / 2 ? need * 2 + 64 : need;
        b->p = xrealloc(b->p, b->cap);
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

void kgbufs_flush(kgbufs *k, snap_writer *w)
{
    for (int i = 0; i < k->n; i++) {
        if (k->b[i].len)
            snap_put(w, SNAP_KEYED, k->first + i, k->b[i].p, k->b[i].len);
        free(k->b[i].p);
    }
    free(k->b);
    k->b = NULL;
    k->n = 0;
}

int blobrd_error(const op_inst *oi, const snap_blob *b, mpf_err *e)
{
    return err_set(e, MPF_EPARSE, "operator '%s': restored state of key group %d (%zu bytes "
                   "from subtask %d) is malformed", oi->spec->uid, b->key_group, b->len,
                   b->subtask);
}
