/*
 * `kiln cloud`: the local cloud daemon and the commands that address it;
 * what libkiln's users see of it is include/kiln/cloud.h, this header adds
 * what the kiln command alone needs.
 *
 * One daemon per state directory: it holds STATE/cloud.lock (flock) for its
 * whole life, writes STATE/cloud.pid and STATE/endpoint once it answers, logs
 * to STATE/cloud.log and appends one JSON line per request to
 * STATE/requests.jsonl. Everything else under STATE is its state: state.json
 * (written atomically), layers/ and instances/.
 */
#ifndef KILN_LOCALCLOUD_CLOUD_H
#define KILN_LOCALCLOUD_CLOUD_H

#include <jansson.h>

#include "core/paths.h"
#include "kiln/cloud.h"

/* {"running", "pid", "endpoint", "state_dir", "uptime_seconds", "counts": {...}} */
int kiln_cloud_status(json_t **out, const char *state_dir);

/*
 * The init inside an instance ("kiln cloud __init ..."): the command that
 * dispatches "cloud __init" calls it first thing, with its argv (whole, or
 * from "__init" on). Returns only when the boot fails; exit with its value.
 */
int kiln_cloud_init_main(int argc, char **argv);

#endif
