/* The JSON the dashboard needs beyond the job's vertices (rest layer):
 * the job graph with its edges and chains (Flink's GET /jobs/:id/plan,
 * with mpiflow's chains added) and the rank x rank network matrix (GET
 * /jobs/:id/network, which no Flink endpoint has). Like rest_json.h,
 * each function only reads the model and returns a new jansson value
 * (the caller owns it); the REST server calls them between jobstate_lock
 * and jobstate_unlock. */
#ifndef MPF_REST_DASH_H
#define MPF_REST_DASH_H

#include <jansson.h>
#include <stdint.h>
#include "runtime/jobstate.h"

/* GET /jobs/:id/plan: {"plan": {"jid", "name", "type", "nodes": [{"id",
 * "uid", "operator", "role", "parallelism", "description", "chain",
 * "chain_position", "inputs": [{"num", "id", "ship_strategy", "key",
 * "chained", "channels", "side_output"}]}]}, "chains": [{"index",
 * "parallelism", "nodes": [ids]}]}. Node ids are the vertex ids of GET
 * /jobs/:id. */
json_t *rest_dash_plan(const jobstate *js);

/* GET /jobs/:id/network: {"now", "ranks": [1..n], "taskmanagers":
 * [{"rank", "id", "host", "binding", "updated"}], "metrics": [names],
 * "matrix": {name: [[src row over dst], ...]}, "totals": {name: {"sent":
 * [per src], "received": [per dst]}}}: what each TaskManager last
 * reported of its traffic to each other one (and to itself: its local
 * channels). A cell is null where src has no channel to dst. Names:
 * bytesSent, bytesSentPerSecond, batchesSent, creditWaits,
 * creditWaitTimeMs (time channels from src to dst held a batch waiting
 * for credit, summed over the channels), creditWaitTimeMsPerSecond. */
json_t *rest_dash_network(const jobstate *js, int64_t now_ms);

#endif
