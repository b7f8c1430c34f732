/* The web dashboard's files (rest layer): HTML, JavaScript and CSS
 * embedded into the binary at build time (src/rest/dashboard/embed.py
 * writes the table from src/rest/dashboard/ and the chart and
 * graph-layout libraries in node_modules), served by the REST server at
 * GET / and /assets/<name>. Nothing is fetched at run time. A build
 * without the libraries serves, at /, a page that says so and how to
 * build with them (dashboard_has_libs is 0). */
#ifndef MPF_REST_DASHBOARD_H
#define MPF_REST_DASHBOARD_H

#include <stddef.h>
#include <stdint.h>

typedef struct dashboard_file {
    const char *name;         /* "index.html", "app.js", ... */
    const char *content_type; /* "text/html; charset=utf-8", ... */
    const uint8_t *data;
    size_t len;
    const uint8_t *gz; /* the same bytes gzip-compressed */
    size_t gz_len;
    const char *etag; /* quoted, as the header carries it */
} dashboard_file;

/* The generated table (dashboard_assets.c in the build tree). */
extern const dashboard_file dashboard_files[];
extern const size_t dashboard_nfiles;
extern const int dashboard_has_libs;

/* The file a GET of URL path serves: "/" and "/index.html" are
 * index.html, "/assets/<name>" is <name>. Returns 0 and *out (static
 * data), or -1 when path is none of the dashboard's. Any thread. */
int dashboard_asset(const char *path, const dashboard_file **out);

/* Headers every dashboard answer carries: the page may load only its
 * own scripts and styles and talk only to this server. */
#define DASHBOARD_CSP                                                                          \
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "                \
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"

#endif
