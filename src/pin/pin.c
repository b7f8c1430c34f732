/* CPU pinning with hwloc (pin layer). */
#include "pin/pin.h"

#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>

int pin_to_core(int index, int count, char *desc, size_t n, int *oversubscribed, mpf_err *e)
{
    hwloc_topology_t topo;
    int rc = 0;
    if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0)
        return err_set(e, MPF_EIO, "hwloc could not read the machine topology");
    int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    hwloc_obj_type_t type = HWLOC_OBJ_CORE;
    if (ncores <= 0) {
        type = HWLOC_OBJ_PU;
        ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    }
    if (ncores <= 0) {
        rc = err_set(e, MPF_EIO, "hwloc found no cores to bind to");
        goto out;
    }
    *oversubscribed = count > ncores;
    hwloc_obj_t core = hwloc_get_obj_by_type(topo, type, (unsigned)(index % ncores));
    char *pus = NULL;
    hwloc_bitmap_list_asprintf(&pus, core->cpuset);
    if (hwloc_set_cpubind(topo, core->cpuset, HWLOC_CPUBIND_PROCESS) != 0) {
        rc = err_set(e, MPF_EIO, "binding to core %d failed", index % ncores);
        free(pus);
        goto out;
    }
    snprintf(desc, n, "core %d of %d (PU %s)", index % ncores, ncores, pus ? pus : "?");
    free(pus);
out:
    hwloc_topology_destroy(topo);
    return rc;
}
