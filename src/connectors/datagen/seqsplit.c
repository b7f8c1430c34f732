/* Sequence splits of counter-based sources (connectors layer); see seqsplit.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "connectors/datagen/seqsplit.h"
#include "util/xmalloc.h"

/* Blob: [u32 version 2][u32 count][count x (i64 next, i64 stride, i64 end)].
 * Version 1 (earlier builds) is a bare i64 next with stride = the old
 * parallelism. */
enum { SEQ_BLOB_VERSION = 2, SEQ_MAX_RANGES = 1 << 20 };

static void push(seq_range **v, int *n, int *cap, seq_range r)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *v = xrealloc(*v, (size_t)*cap * sizeof **v);
    }
    (*v)[(*n)++] = r;
}

void seqsplit_init(seqsplit *s, int subtask, int parallelism, int64_t limit)
{
    memset(s, 0, sizeof *s);
    s->limit = limit;
    push(&s->r, &s->n, &s->cap,
         (seq_range){subtask, parallelism, limit < 0 ? INT64_MAX : limit});
}

void seqsplit_fini(seqsplit *s)
{
    free(s->r);
    free(s->old);
    free(s->old_subtask);
    memset(s, 0, sizeof *s);
}

int seqsplit_more(const seqsplit *s)
{
    for (int i = 0; i < s->n; i++)
        if (s->r[i].next < s->r[i].end)
            return 1;
    return 0;
}

int64_t seqsplit_left(const seqsplit *s)
{
    int64_t n = 0;
    for (int i = 0; i < s->n; i++) {
        const seq_range *r = &s->r[i];
        if (r->next >= r->end)
            continue;
        if (r->end == INT64_MAX)
            return -1;
        n += (r->end - r->next + r->stride - 1) / r->stride;
    }
    return n;
}

void seqsplit_snapshot(const seqsplit *s, snap_writer *w)
{
    size_t len = 8 + (size_t)s->n * sizeof(seq_range);
    uint8_t *b = xmalloc(len);
    uint32_t hdr[2] = {SEQ_BLOB_VERSION, (uint32_t)s->n};
    memcpy(b, hdr, sizeof hdr);
    memcpy(b + 8, s->r, (size_t)s->n * sizeof(seq_range));
    snap_put(w, SNAP_OPERATOR, -1, b, len);
    free(b);
}

/* The ranges of a version-2 blob (NULL with *n = -1 when malformed). */
static seq_range *decode(const snap_blob *b, int *n)
{
    *n = -1;
    uint32_t hdr[2];
    if (b->len < sizeof hdr)
        return NULL;
    memcpy(hdr, b->data, sizeof hdr);
    if (hdr[0] != SEQ_BLOB_VERSION || hdr[1] > SEQ_MAX_RANGES ||
        b->len != sizeof hdr + (size_t)hdr[1] * sizeof(seq_range))
        return NULL;
    seq_range *r = xcalloc((size_t)hdr[1] + 1, sizeof *r);
    memcpy(r, b->data + sizeof hdr, (size_t)hdr[1] * sizeof *r);
    for (uint32_t i = 0; i < hdr[1]; i++)
        if (r[i].next < 0 || r[i].stride < 1 || r[i].end < 0) {
            free(r);
            return NULL;
        }
    *n = (int)hdr[1];
    return r;
}

/* Keep a range of old subtask `subtask` until restore_end. */
static void keep_old(seqsplit *s, seq_range r, int subtask)
{
    push(&s->old, &s->nold, &s->capold, r);
    s->old_subtask = xrealloc(s->old_subtask, (size_t)s->capold * sizeof *s->old_subtask);
    s->old_subtask[s->nold - 1] = subtask;
}

int seqsplit_restore(seqsplit *s, const snap_blob *b, mpf_err *e)
{
    if (b->kind != SNAP_OPERATOR || b->subtask < 0 || b->subtask >= SEQ_MAX_RANGES)
        return err_set(e, MPF_EPARSE, "restored source position of subtask %d is not an "
                       "operator-state blob", b->subtask);
    /* Version-1 blobs need the old parallelism; it is known only after all
     * blobs arrived, so they are kept raw until restore_end (in `old`,
     * with stride 0 marking "version 1"). */
    if (b->len == sizeof(int64_t)) {
        int64_t next;
        next = rd_i64(b->data);
        keep_old(s, (seq_range){next, 0, 0}, b->subtask);
    } else {
        int n;
        seq_range *r = decode(b, &n);
        if (!r)
            return err_set(e, MPF_EPARSE, "restored source position of subtask %d is "
                           "malformed (%zu bytes)", b->subtask, b->len);
        for (int i = 0; i < n; i++)
            keep_old(s, r[i], b->subtask);
        free(r);
    }
    if (b->subtask + 1 > s->old_parallelism)
        s->old_parallelism = b->subtask + 1;
    s->restored_blobs++;
    return 0;
}

static int cmp_range(const void *a, const void *b)
{
    const seq_range *x = a, *y = b;
    if (x->next != y->next)
        return x->next < y->next ? -1 : 1;
    return (x->stride > y->stride) - (x->stride < y->stride);
}

int seqsplit_restore_end(seqsplit *s, const op_inst *oi, mpf_err *e)
{
    int64_t limit = s->limit;
    if (!s->restored_blobs)
        return 0; /* no state saved for this operator: a fresh start */
    int rc = 0, P = s->old_parallelism, p = oi->spec->parallelism, k = oi->subtask;
    if (s->restored_blobs != P) {
        rc = err_set(e, MPF_EPARSE, "the checkpoint holds source positions of %d subtask(s) "
                     "numbered up to %d: some are missing or repeated", s->restored_blobs,
                     P - 1);
        goto out;
    }
    for (int i = 0; i < s->nold; i++)
        if (s->old[i].stride == 0) /* version 1: subtask i of P produced i, i + P, ... */
            s->old[i] = (seq_range){s->old[i].next, P, limit < 0 ? INT64_MAX : limit};
    s->n = 0;
    if (P == p) { /* the same split: each subtask gets its own ranges back */
        for (int i = 0; i < s->nold; i++)
            if (s->old_subtask[i] == k && s->old[i].next < s->old[i].end)
                push(&s->r, &s->n, &s->cap, s->old[i]);
        goto out;
    }
    /* Another parallelism: the tails end at the largest end; M is the
     * furthest any tail got. Rows of the tails below M and earlier
     * leftovers are dealt round-robin, rows from M on afresh. */
    int64_t E = 0, M = 0;
    for (int i = 0; i < s->nold; i++)
        E = s->old[i].end > E ? s->old[i].end : E;
    for (int i = 0; i < s->nold; i++)
        if (s->old[i].end == E && s->old[i].next > M)
            M = s->old[i].next;
    M = M < E ? M : E;
    seq_range *left = NULL;
    int nleft = 0, capleft = 0;
    for (int i = 0; i < s->nold; i++) {
        seq_range r = s->old[i];
        if (r.end == E)
            r.end = M;
        if (r.next < r.end)
            push(&left, &nleft, &capleft, r);
    }
    if (nleft)
        qsort(left, (size_t)nleft, sizeof *left, cmp_range);
    if (M + k < E)
        push(&s->r, &s->n, &s->cap, (seq_range){M + k, p, E});
    for (int i = k; i < nleft; i += p)
        push(&s->r, &s->n, &s->cap, left[i]);
    free(left);
out:
    free(s->old);
    free(s->old_subtask);
    s->old = NULL;
    s->old_subtask = NULL;
    s->nold = s->capold = s->old_parallelism = s->restored_blobs = 0;
    return rc;
}

int seqsplit_op_snapshot(op_inst *oi, snap_writer *w, mpf_err *e)
{
    (void)e;
    seqsplit_snapshot(oi->st, w);
    return 0;
}

int seqsplit_op_restore(op_inst *oi, const snap_blob *b, mpf_err *e)
{
    return seqsplit_restore(oi->st, b, e);
}

int seqsplit_op_restore_end(op_inst *oi, mpf_err *e)
{
    return seqsplit_restore_end(oi->st, oi, e);
}

void seqsplit_describe(const snap_blob *b, char *buf, size_t n)
{
    if (b->len == sizeof(int64_t)) {
        int64_t next;
        next = rd_i64(b->data);
        snprintf(buf, n, "next row %lld", (long long)next);
        return;
    }
    int cnt;
    seq_range *r = decode(b, &cnt);
    if (!r) {
        snprintf(buf, n, "malformed position (%zu bytes)", b->len);
        return;
    }
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < cnt && used + 1 < n; i++) {
        int w;
        if (r[i].end == INT64_MAX)
            w = snprintf(buf + used, n - used, "%snext row %lld (every %lld)", i ? "; " : "",
                         (long long)r[i].next, (long long)r[i].stride);
        else
            w = snprintf(buf + used, n - used, "%snext row %lld (every %lld, below %lld)",
                         i ? "; " : "", (long long)r[i].next, (long long)r[i].stride,
                         (long long)r[i].end);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (!cnt)
        snprintf(buf, n, "no rows left");
    free(r);
}
