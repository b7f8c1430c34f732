/* Latency tracking in a task (runtime layer), as Flink's latency markers:
 * sources emit a marker every metrics.latency.interval, tasks pass it on
 * after the data before it to one channel per route (round-robin, as
 * Flink's markers go to one random channel), and sink tasks record its
 * age in a histogram, as well as how long each watermark took from its
 * creation at a source. */
#include "runtime/task_int.h"

#include <stdlib.h>
#include "util/clock.h"
#include "util/xmalloc.h"

void latency_open(task_inst *t, const conf *c)
{
    t->marker_interval_ns = conf_duration_ns(c, CONF_METRICS_LATENCY_INTERVAL);
    if (!t->nroutes) {
        t->lat = xcalloc(1, sizeof *t->lat);
        t->wm_lat = xcalloc(1, sizeof *t->wm_lat);
    }
}

void latency_close(task_inst *t)
{
    free(t->lat);
    free(t->wm_lat);
}

void latency_marker(task_inst *t, int64_t created_ns)
{
    if (!t->nroutes) {
        histo_add_us(t->lat, (clock_wall_ns() - created_ns) / 1000);
        return;
    }
    uint8_t payload[8];
    wr_i64(payload, created_ns);
    route_event_one(t, BATCH_LATENCY, payload, sizeof payload, t->marker_rr++);
}

void latency_source_tick(task_inst *t, int64_t now_ns)
{
    if (t->marker_interval_ns && now_ns >= t->next_marker_ns) {
        t->next_marker_ns = now_ns + t->marker_interval_ns;
        latency_marker(t, clock_wall_ns());
    }
}

/* The final watermark (WM_MAX, the end of input) is not a measurement. */
void latency_watermark(task_inst *t)
{
    if (t->wm_lat && t->wm != WM_MAX && t->wm_created_ns)
        histo_add_us(t->wm_lat, (clock_wall_ns() - t->wm_created_ns) / 1000);
}
