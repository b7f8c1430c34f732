/* Heartbeats between JobManager and TaskManagers (runtime layer); see
 * heartbeat.h. */
#include <stdlib.h>
#include "net/control.h"
#include "runtime/heartbeat.h"
#include "util/xmalloc.h"

void hb_init(heartbeat *h, const conf *c, int lo, int hi, int64_t now_ns)
{
    h->interval_ns = conf_duration_ns(c, CONF_HEARTBEAT_INTERVAL);
    h->timeout_ns = conf_duration_ns(c, CONF_HEARTBEAT_TIMEOUT);
    h->lo = lo;
    h->hi = hi;
    h->last_ns = xcalloc((size_t)hi + 1, sizeof *h->last_ns);
    hb_reset(h, now_ns);
}

void hb_fini(heartbeat *h)
{
    free(h->last_ns);
    h->last_ns = NULL;
}

void hb_reset(heartbeat *h, int64_t now_ns)
{
    for (int r = h->lo; r <= h->hi; r++)
        h->last_ns[r] = now_ns;
    h->next_send_ns = now_ns;
}

void hb_seen(heartbeat *h, int rank, int64_t now_ns)
{
    if (h->last_ns && rank >= h->lo && rank <= h->hi)
        h->last_ns[rank] = now_ns;
}

void hb_send(heartbeat *h, int64_t now_ns)
{
    if (!h->last_ns || h->timeout_ns <= 0 || now_ns < h->next_send_ns)
        return;
    for (int r = h->lo; r <= h->hi; r++)
        ctl_send(r, CTL_HEARTBEAT, "", 0);
    h->next_send_ns = now_ns + h->interval_ns;
}

int hb_check(const heartbeat *h, int64_t now_ns, int64_t *silent_ns)
{
    if (!h->last_ns || h->timeout_ns <= 0)
        return -1;
    for (int r = h->lo; r <= h->hi; r++)
        if (now_ns - h->last_ns[r] > h->timeout_ns) {
            *silent_ns = now_ns - h->last_ns[r];
            return r;
        }
    return -1;
}
