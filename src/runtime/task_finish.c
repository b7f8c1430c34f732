/* The end of a task (runtime layer): its input ends (every input channel
 * delivered END, a source's poll said so, or a stop asked for it), event
 * time advances to the end so that windows and timers fire, the
 * operators finish in chain order (each may take several steps), END goes
 * downstream after the last output, and the task is done once that
 * output has left. */
#include "runtime/task_int.h"

void task_request_stop(task_inst *t)
{
    t->stop_requested = 1;
}

/* An ended channel counts as having delivered the barrier being aligned
 * and leaves the input watermark. */
int finish_input_ended(task_inst *t, int ch, mpf_err *e)
{
    if (align_check(t, e))
        return e->code;
    if (++t->ended_in == t->nin) {
        t->state = TASK_FINISHING;
        return 0;
    }
    return watermark_input_ended(t, ch, e);
}

int finish_step(task_inst *t, mpf_err *e)
{
    int progress = 0;
    if (t->state == TASK_FINISHING && route_ready(t) && t->wm_op < 0) {
        progress = 1;
        /* End of input is the end of event time: fire what is left. */
        if (t->wm < WM_MAX)
            return watermark_advance(t, WM_MAX, e) ? e->code : progress;
        if (t->drain_id) /* the savepoint comes before the operators finish */
            return progress;
        op_inst *oi = &t->ops[t->finish_op];
        int rc = 0;
        e->code = 0; /* without the hook nothing is reported */
        if (oi->spec->kind->finish) {
            const err_ctx *prev = chain_hook_begin(t, t->finish_op, e);
            rc = oi->spec->kind->finish(oi, e);
            err_ctx_swap(prev);
        }
        if (chain_hook_end(t, t->finish_op, rc, e, "finish"))
            return e->code;
        if (rc == 0 && ++t->finish_op == t->nops) {
            route_end(t);
            t->state = TASK_DRAINING;
        }
    }
    if (t->state == TASK_DRAINING && route_ready(t)) {
        t->state = TASK_DONE;
        progress = 1;
    }
    return progress;
}
