/*
 * Garbage collection of a bake's temporaries (issue 5, `kiln gc`). Every
 * temporary a bake creates (builder instance, key pair, security group)
 * carries the tags kiln:role=builder, kiln:run-id and kiln:expires, so gc
 * works from the cloud's tags alone: a deleted journal, a crashed kiln or
 * another machine's bake make no difference.
 *
 * Deletion follows dependencies: instances first (waiting until they are
 * terminated, since a security group in use cannot be deleted), then key
 * pairs, then security groups.
 *
 * kiln_gc() (kiln/gc.h) picks the cloud: the one named, else the target
 * that run's journal records, else AWS; and says which in a progress event.
 */
#ifndef KILN_BAKE_GC_H
#define KILN_BAKE_GC_H

#include <jansson.h>

#include "aws/shapes.h"
#include "kiln/gc.h"

/* Why a resource is collected. */
enum kiln_gc_reason {
	KILN_GC_KEEP = 0,
	KILN_GC_EXPIRED, /* kiln:expires has passed */
	KILN_GC_RUN,     /* kiln:run-id is the run asked for */
};

/*
 * Decide on one resource from its tags: only kiln:role=builder is ever
 * collected; then a matching `run_id` (may be NULL) or a kiln:expires
 * before `now` (seconds since the epoch). A missing or malformed
 * kiln:expires never makes a resource expired.
 */
enum kiln_gc_reason kiln_gc_select(const struct kiln_aws_tags *tags, double now,
                                   const char *run_id);

struct kiln_gc_opts {
	const char *run_id; /* NULL: expired resources only */
	int dry_run;
	double now;          /* 0: the current time */
	double wait_timeout; /* for instances to terminate; 0: 300 s */
};

/*
 * Find and (unless dry_run) delete. `*out` (may be NULL) receives an array
 * of {"kind", "id", "run_id", "reason", "deleted"} in deletion order.
 * A failure to delete one resource is logged as an error and the others
 * are still tried, then the call fails with KILN_ERROR.
 */
int kiln_gc_run(json_t **out, struct kiln_aws *aws, const struct kiln_gc_opts *opts);

/*
 * The deletions gc and a bake's own cleanup share. Each waits with adaptive
 * polling for at most `timeout` seconds and ignores any stop flag: cleanup
 * after Ctrl-C must still finish.
 */
/* Terminate and wait until every instance is terminated (or gone). */
int kiln_gc_terminate_instances(struct kiln_aws *aws, const char *const *ids, size_t n,
                                double timeout);
/* Delete a security group, retrying while a terminating instance still uses it. */
int kiln_gc_delete_security_group(struct kiln_aws *aws, const char *group_id, double timeout);

#endif
