/*
 * Targets: the cloud a profile bakes in. "aws" is AWS through the normal
 * credential chain, in the profile's region; "local" is kiln's local cloud,
 * started through its API (kiln/cloud.h) when a bake finds nothing
 * answering at its endpoint. A bake records its target in the first note of
 * its run journal, so that `kiln gc --run-id` goes back to the same cloud.
 */
#ifndef KILN_BAKE_TARGET_H
#define KILN_BAKE_TARGET_H

#include "aws/client.h"
#include "core/event.h"

struct kiln_target {
	const char *name;           /* "local" or "aws" */
	const char *region;         /* "aws": NULL for the chain's */
	const char *local_endpoint; /* "local": NULL for $KILN_LOCAL_ENDPOINT, else the default */
	const char *local_cidr;     /* a local cloud started here: NULL for $KILN_LOCAL_CIDR */
	const char *local_init_exe; /* its instances' init; NULL: this program */
	int start_local;            /* start the local cloud when nothing answers */
};

/* KILN_EINVAL unless `name` is "local" or "aws". */
int kiln_target_check(const char *name);

/*
 * The AWS client for `t`; *endpoint (may be NULL) receives the local
 * cloud's endpoint, NULL for "aws". Starting a local cloud is reported to
 * `events` as progress.
 */
int kiln_target_client(struct kiln_aws **out, char **endpoint, const struct kiln_target *t,
                       const struct kiln_emitter *events);

/* What a bake's journal says about its target. */
struct kiln_run_target {
	char *name;     /* "local" or "aws" */
	char *region;   /* may be NULL */
	char *endpoint; /* "local" only, may be NULL */
};

/*
 * Read the target of run `run_id` from the first note of its journal under
 * `state_dir` (NULL: the default). KILN_ENOTFOUND when there is no such
 * journal, or it names no target (runs of older versions).
 */
int kiln_run_target_read(struct kiln_run_target *out, const char *state_dir, const char *run_id);
void kiln_run_target_release(struct kiln_run_target *t);

#endif
