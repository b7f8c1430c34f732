/* The history server's data (rest layer): the job archives in a
 * directory (archive.h), answering the REST read endpoints as the
 * JobManager answered them while the job ran. `mpiflow history` serves
 * it through the same REST server (rest_start_history) and the same
 * dashboard; `mpiflow list --archived` lists it. The directory is read
 * again whenever it changed (archives are renamed into it whole), so a
 * server that keeps running sees jobs that end later. */
#ifndef MPF_REST_HISTORY_H
#define MPF_REST_HISTORY_H

#include <jansson.h>
#include <stddef.h>

typedef struct history history;

/* Serve the archives in dir (copied). Ours: history_close frees it. */
history *history_open(const char *dir);
void history_close(history *h);

/* The answer to GET of the path split into seg[0 .. n) ("jobs", id,
 * "vertices", ...; no "v1"): a new value (the caller owns it), or NULL
 * with why (a 404). A job is named by id or by name (the newest run of
 * that name), a vertex by id, uid or index. Any thread. */
json_t *history_get(history *h, char **seg, int n, char *why, size_t wn);

/* The archived jobs' overviews, newest first, as GET /jobs/overview
 * answers ({"jobs": [...]}); *bad counts files that are not archives. */
json_t *history_overview(history *h, int *bad);

#endif
