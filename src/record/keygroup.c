/* Key-group ranges per subtask (record layer). */
#include "record/keygroup.h"

keygroup_range keygroup_range_of(int subtask, int max_parallelism, int parallelism)
{
    keygroup_range r;
    int64_t mp = max_parallelism, p = parallelism;
    r.start = (int)((subtask * mp + p - 1) / p);
    r.end = (int)(((subtask + 1) * mp - 1) / p);
    return r;
}
