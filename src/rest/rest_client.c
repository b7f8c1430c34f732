/* HTTP client over libcurl (rest layer); see rest_client.h. */
#include "rest/rest_client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include "util/xmalloc.h"

#define MAX_REPLY (64u << 20) /* no JobManager answer is near this */

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    rest_reply *r = arg;
    size_t k = size * n;
    if (r->len + k > MAX_REPLY)
        return 0; /* curl fails the transfer */
    r->body = xrealloc(r->body, r->len + k + 1);
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = 0;
    return k;
}

/* Nothing listens there (any more): refused, or a server that closed
 * the connection without an answer because it was shutting down. */
static int gone(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ||
           rc == CURLE_SEND_ERROR;
}

int rest_http(const char *method, const char *url, const char *token, const char *body,
              long timeout_ms, rest_reply *r, mpf_err *e)
{
    static int inited;
    if (!inited++)
        curl_global_init(CURL_GLOBAL_DEFAULT);
    memset(r, 0, sizeof *r);
    r->body = xstrdup("");
    CURL *c = curl_easy_init();
    if (!c)
        return err_set(e, MPF_EIO, "libcurl could not start a request");
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    char *auth = token ? xasprintf("Authorization: Bearer %s", token) : NULL;
    if (auth)
        hdr = curl_slist_append(hdr, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    int ret = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    else
        ret = err_set(e, gone(rc) ? MPF_ENOENT : MPF_EIO, "%s %s: %s", method, url,
                      errbuf[0] ? errbuf : curl_easy_strerror(rc));
    curl_slist_free_all(hdr);
    free(auth);
    curl_easy_cleanup(c);
    return ret;
}

void rest_reply_fini(rest_reply *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}
