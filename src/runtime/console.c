/* The JobManager's live status line on a terminal (runtime layer); see
 * console.h. */
#include "runtime/console.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "util/log.h"
#include "util/strutil.h"

#define REDRAW_NS 1000000000LL

/* 1234567 -> "1.23M" */
static void si(double v, char *buf, size_t n)
{
    const char *unit[] = {"", "k", "M", "G", "T"};
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    snprintf(buf, n, u ? "%.3g%s" : "%.0f%s", v, unit[u]);
}

/* seconds -> "45s", "12:03", "2:01:07" */
static void hms(double s, char *buf, size_t n)
{
    long t = s < 0 ? 0 : (long)(s + 0.5);
    if (t < 60)
        snprintf(buf, n, "%lds", t);
    else if (t < 3600)
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

size_t console_line(const jobstate *js, int64_t now_ms, int cols, char *buf, size_t n)
{
    size_t at = 0;
#define PUT(...) at = str_appendf(buf, n, at, __VA_ARGS__)
    if (n)
        buf[0] = 0;
    js_status_info o;
    jobstate_status_info(js, now_ms, &o);
    char a[32], b[32];
    hms(o.elapsed_s, a, sizeof a);
    PUT("%s %s %s", jobstate_job_name(js), js_status_name(jobstate_status(js)), a);
    if (o.has_progress) {
        PUT(" | %.1f%%", o.progress * 100);
        if (o.eta_s >= 0) {
            hms(o.eta_s, a, sizeof a);
            PUT(" ETA %s", a);
        }
    }
    if (!o.has_rates) {
        PUT(" | waiting for metrics");
    } else {
        si(o.in_per_s, a, sizeof a);
        si(o.out_per_s, b, sizeof b);
        PUT(" | %s records/s in, %s out", a, b);
    }
    if (o.has_wm_lag)
        PUT(" | wm lag %.1fs", (double)o.wm_lag_ms / 1e3);
    if (o.backpressured_uid && o.backpressured >= 1)
        PUT(" | backpressured %.0f ms/s (%s)", o.backpressured, o.backpressured_uid);
    const js_checkpoint *c = o.last_checkpoint;
    if (c) {
        hms((double)(now_ms - c->trigger_ms - c->duration_ms) / 1e3, a, sizeof a);
        PUT(" | checkpoint %" PRId64 " %s ago", c->id, a);
    }
#undef PUT
    /* one terminal line: a wrapped line could not be redrawn in place */
    size_t max = cols > 1 ? (size_t)cols - 1 : 79;
    if (at >= n)
        at = n ? n - 1 : 0;
    if (at > max) {
        at = max;
        buf[at] = 0;
    }
    return at;
}

static int64_t next_ns;

void console_tick(const jobstate *js, int64_t mono_ns, int64_t now_ms)
{
    if (mono_ns < next_ns)
        return;
    next_ns = mono_ns + REDRAW_NS;
    int st = jobstate_status(js);
    if (st != JS_RUNNING && st != JS_RESTARTING)
        return;
    int cols = 80;
    log_stderr_terminal(&cols);
    char line[512];
    console_line(js, now_ms, cols, line, sizeof line);
    log_live(line);
}

void console_clear(void)
{
    log_live(NULL);
}
