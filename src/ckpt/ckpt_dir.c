/* Checkpoint directories (checkpoint layer): finding the newest completed
 * checkpoint or savepoint of a job, and retention of chk-<n> directories.
 * A directory is complete when it holds _metadata.h5. */
#include "ckpt/h5io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/xmalloc.h"

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_metadata(const char *dir)
{
    char *p = xasprintf("%s/%s", dir, CKPT_METADATA_FILE);
    struct stat st;
    int ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

/* "chk-<n>" with n a plain non-negative decimal: n, else -1. */
static int64_t chk_number(const char *name)
{
    if (strncmp(name, "chk-", 4) != 0 || !name[4])
        return -1;
    int64_t n = 0;
    for (const char *p = name + 4; *p; p++) {
        if (*p < '0' || *p > '9' || n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*p - '0');
    }
    return n;
}

typedef struct candidate {
    int64_t ts, id;
    char *path;
} candidate;

/* Consider every subdirectory of root/job (only chk-<n> ones if chk_only)
 * holding a readable _metadata.h5; keep the newest in *best. */
static void scan_root(const char *root, const char *job, int chk_only, candidate *best)
{
    char *base = xasprintf("%s/%s", root, job);
    DIR *d = opendir(base);
    if (!d) {
        free(base);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || (chk_only && chk_number(de->d_name) < 0))
            continue;
        char *p = xasprintf("%s/%s", base, de->d_name);
        int64_t ts, id;
        mpf_err ignore = {0};
        if (is_dir(p) && has_metadata(p) && ckpt_peek_metadata(p, &ts, &id, &ignore) == 0 &&
            (!best->path || ts > best->ts || (ts == best->ts && id > best->id) ||
             (ts == best->ts && id == best->id && strcmp(p, best->path) > 0))) {
            free(best->path);
            *best = (candidate){ts, id, p};
        } else {
            free(p);
        }
    }
    closedir(d);
    free(base);
}

int ckpt_find_latest(const char *chk_root, const char *sp_root, const char *job, char *path,
                     size_t n, mpf_err *e)
{
    if (!job || !*job || !path || !n)
        return err_set(e, MPF_EINVAL, "ckpt_find_latest: invalid arguments");
    candidate best = {0};
    int have_chk = chk_root && *chk_root, have_sp = sp_root && *sp_root;
    if (have_chk)
        scan_root(chk_root, job, 1, &best);
    if (have_sp)
        scan_root(sp_root, job, 0, &best);
    if (!best.path) {
        if (have_chk && have_sp)
            return err_set(e, MPF_ENOENT,
                           "no completed checkpoint or savepoint of job '%s' in %s/%s or %s/%s",
                           job, chk_root, job, sp_root, job);
        if (have_chk || have_sp)
            return err_set(e, MPF_ENOENT, "no completed %s of job '%s' in %s/%s",
                           have_chk ? "checkpoint" : "savepoint", job,
                           have_chk ? chk_root : sp_root, job);
        return err_set(e, MPF_ENOENT,
                       "no checkpoint or savepoint directory configured to look for job '%s'",
                       job);
    }
    size_t len = strlen(best.path);
    int rc = 0;
    if (len >= n)
        rc = err_set(e, MPF_ERANGE, "%s: path too long", best.path);
    else
        memcpy(path, best.path, len + 1);
    free(best.path);
    return rc;
}

static int rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    int r = type == FTW_DP ? rmdir(p) : unlink(p);
    return r != 0 && errno != ENOENT ? -1 : 0;
}

/* Delete a checkpoint directory: _metadata.h5 first, so that a deletion
 * cut short never leaves something that looks complete. */
static int remove_chk(const char *dir, mpf_err *e)
{
    char *meta = xasprintf("%s/%s", dir, CKPT_METADATA_FILE);
    int r = unlink(meta);
    free(meta);
    if (r != 0 && errno != ENOENT)
        return err_set(e, MPF_EIO, "%s/%s: cannot delete: %s", dir, CKPT_METADATA_FILE,
                       strerror(errno));
    if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return err_set(e, MPF_EIO, "%s: cannot delete: %s", dir, strerror(errno));
    return 0;
}

typedef struct chk_dir {
    int64_t n;
    int complete;
    char *path;
} chk_dir;

static int by_number_desc(const void *pa, const void *pb)
{
    const chk_dir *a = pa, *b = pb;
    return a->n < b->n ? 1 : a->n > b->n ? -1 : 0;
}

int ckpt_retain(const char *chk_root, const char *job, int keep, mpf_err *e)
{
    if (!chk_root || !job || !*job || keep < 0)
        return err_set(e, MPF_EINVAL, "ckpt_retain: invalid arguments (keep = %d)", keep);
    char *base = xasprintf("%s/%s", chk_root, job);
    DIR *d = opendir(base);
    if (!d) {
        int rc = errno == ENOENT ? 0 : err_set(e, MPF_EIO, "%s: %s", base, strerror(errno));
        free(base);
        return rc;
    }
    chk_dir *v = NULL;
    size_t nv = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int64_t num = chk_number(de->d_name);
        if (num < 0)
            continue;
        char *p = xasprintf("%s/%s", base, de->d_name);
        if (!is_dir(p)) {
            free(p);
            continue;
        }
        if (nv == cap)
            v = xrealloc(v, (cap = cap ? 2 * cap : 16) * sizeof *v);
        v[nv++] = (chk_dir){num, has_metadata(p), p};
    }
    closedir(d);
    if (nv)
        qsort(v, nv, sizeof *v, by_number_desc);
    int rc = 0, kept = 0;
    int64_t newest_complete = -1;
    for (size_t i = 0; i < nv; i++)
        if (v[i].complete) {
            newest_complete = v[i].n;
            break;
        }
    for (size_t i = 0; i < nv; i++) {
        int drop;
        if (keep == 0)
            drop = 1;
        else if (v[i].complete)
            drop = ++kept > keep;
        else
            drop = v[i].n < newest_complete;
        if (drop && !rc)
            rc = remove_chk(v[i].path, e);
        free(v[i].path);
    }
    free(v);
    free(base);
    return rc;
}

static char *finished_path(const char *chk_root, const char *job)
{
    return xasprintf("%s/%s/%s", chk_root, job, CKPT_FINISHED_FILE);
}

int ckpt_mark_finished(const char *chk_root, const char *job, mpf_err *e)
{
    char *dir = xasprintf("%s/%s", chk_root, job);
    char *p = finished_path(chk_root, job);
    int rc = ckpt_make_dirs(dir, e);
    int fd = rc ? -1 : open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (!rc && (fd < 0 || fsync(fd) != 0))
        rc = err_set(e, MPF_EIO, "%s: %s", p, strerror(errno));
    if (fd >= 0)
        close(fd);
    int dfd = rc ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(p);
    free(dir);
    return rc;
}

int ckpt_is_finished(const char *chk_root, const char *job)
{
    char *p = finished_path(chk_root, job);
    int yes = access(p, F_OK) == 0;
    free(p);
    return yes;
}

void ckpt_clear_finished(const char *chk_root, const char *job)
{
    char *p = finished_path(chk_root, job);
    unlink(p);
    free(p);
}
