/* An HTTP client for the CLI's calls to a JobManager's REST API (rest
 * layer; the only user of curl.h): one request, the whole answer. */
#ifndef MPF_REST_CLIENT_H
#define MPF_REST_CLIENT_H

#include <stddef.h>
#include "util/err.h"

typedef struct rest_reply {
    long status; /* HTTP status */
    char *body;  /* NUL-terminated; ours, rest_reply_fini frees it */
    size_t len;
} rest_reply;

/* method url with body (JSON, or NULL) and, when token is not NULL, an
 * `Authorization: Bearer` header; gives up after timeout_ms. Returns 0
 * with *r filled (any HTTP status), MPF_ENOENT when nothing listens
 * there (refused, or closed without an answer: a server shutting down),
 * or MPF_EIO; e says why. */
int rest_http(const char *method, const char *url, const char *token, const char *body,
              long timeout_ms, rest_reply *r, mpf_err *e);
void rest_reply_fini(rest_reply *r);

#endif
