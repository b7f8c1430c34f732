/* File-system helpers (util layer): a rename that never replaces its
 * target, for committing output files, and mkdir -p. */
#ifndef MPF_UTIL_FSUTIL_H
#define MPF_UTIL_FSUTIL_H

#include <sys/types.h>

/* Rename from to to unless to exists. Returns 0, or -1 with errno set
 * (EEXIST: to exists and is untouched). Uses renameat2(RENAME_NOREPLACE);
 * on a file system without it, link() then unlink() (a crash between the
 * two leaves both names on one file: see fs_same_file); without hard
 * links, an existence check before rename(), which a concurrent writer
 * of the same name could still race. Any thread. */
int fs_rename_noreplace(const char *from, const char *to);

/* mkdir -p: create path and its missing parents with mode (before the
 * umask). Returns 0 when path is a directory afterwards, or -1 with errno
 * set (ENOTDIR: something else has that name). */
int fs_mkdirs(const char *path, mode_t mode);

/* 1 if a and b both exist and are the same file (device and inode), else
 * 0. */
int fs_same_file(const char *a, const char *b);

#endif
