/* File-system helpers (util layer): a rename that never replaces its
 * target, for committing output files. */
#ifndef MPF_UTIL_FSUTIL_H
#define MPF_UTIL_FSUTIL_H

/* Rename from to to unless to exists. Returns 0, or -1 with errno set
 * (EEXIST: to exists and is untouched). Uses renameat2(RENAME_NOREPLACE);
 * on a file system without it, link() then unlink() (a crash between the
 * two leaves both names on one file: see fs_same_file); without hard
 * links, an existence check before rename(), which a concurrent writer
 * of the same name could still race. Any thread. */
int fs_rename_noreplace(const char *from, const char *to);

/* 1 if a and b both exist and are the same file (device and inode), else
 * 0. */
int fs_same_file(const char *a, const char *b);

#endif
