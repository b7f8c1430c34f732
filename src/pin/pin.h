/* CPU pinning with hwloc (pin layer; the only module that includes
 * <hwloc.h>). TaskManager i of n on a node is bound to core i mod
 * cores; when TaskManagers outnumber cores they share round-robin. */
#ifndef MPF_PIN_PIN_H
#define MPF_PIN_PIN_H

#include <stddef.h>
#include "util/err.h"

/* Bind this process. desc gets e.g. "core 1 of 8 (PU 1)"; *oversubscribed is
 * set when count exceeds the cores. Returns 0 or MPF_EIO. */
int pin_to_core(int index, int count, char *desc, size_t n, int *oversubscribed, mpf_err *e);

#endif
