/*
 * What `kiln gc` collects of deploys, from the cloud's tags alone: previous
 * groups whose kiln:retire-at has passed (never one whose colour production
 * forwards to, nor one whose load balancer cannot be read), and deploy
 * leases that expired (their holder died without giving them back).
 */
#ifndef KILN_DEPLOY_RETENTION_H
#define KILN_DEPLOY_RETENTION_H

#include <jansson.h>

#include "aws/client.h"

/*
 * Find and (unless dry_run) delete; each is appended to `items` as
 * {"kind": "auto-scaling-group" or "lease", "id", "name": null, "run_id",
 * "reason": "retired" or "expired", "deleted"}. `now` 0: the current time.
 * A failure to delete one does not stop the others; the call then fails.
 */
int kiln_deploy_gc_run(json_t *items, struct kiln_aws *aws, double now, int dry_run);

#endif
