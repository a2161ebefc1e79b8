/*
 * Rebuild the world: every profile of a directory, from git and the
 * profiles alone, into a cloud that may hold none of kiln's resources.
 *
 * Each profile (every *.json of the directory) may name, in "after", the
 * profiles that must be live before it deploys. Loading checks every
 * profile and the graph: a missing name or a cycle is KILN_EINVAL with each
 * problem as "FILE:LINE:COL: message", before any cloud call.
 *
 * The rebuild bakes up to `parallel` profiles at a time (a bake whose key
 * has an image already is a cache hit: no machine is launched) and deploys
 * each profile blue-green as soon as it is baked and every profile it comes
 * after is live, up to `parallel` deploys at a time. Deploying the image
 * already live changes nothing, so a second rebuild of an unchanged world
 * makes no image and no release. Each layer repository is fetched once per
 * rebuild, however many profiles use it. A profile that fails stops only
 * the profiles that come after it (directly or not): they are skipped, and
 * the result says which and why; the others go on.
 *
 * A drill does all of this into a fresh local cloud of its own (its own
 * state directory, port and network, its base images made there), runs
 * every profile's deploy.smoke against its production URL, and removes
 * that cloud and everything in it at the end, on failure and on a stop
 * request too. Every profile is baked and deployed there whatever its
 * "target".
 *
 * Each profile's bake and deploy run its hooks and write the audit log
 * (kiln/hooks.h) as `kiln release` does. Events (stage "world", and the
 * bakes' and deploys' own, after the hooks saw them) may come from worker
 * threads, one callback at a time; the event's `profile` says whose.
 */
#ifndef KILN_WORLD_H
#define KILN_WORLD_H

#include <stddef.h>

#include "kiln/event.h"

/* The profiles of a directory, their graph, and after a rebuild what became of each. */
struct kiln_world;

#define KILN_WORLD_OPTIONS_VERSION 1

struct kiln_world_options {
	unsigned int version;    /* KILN_WORLD_OPTIONS_VERSION */
	unsigned int parallel;   /* bakes (and deploys) at a time; 0: 4; at most 64 */
	const char *policy_file; /* as kiln_bake_options' */
	/* As kiln_bake_options' fields of the same names. */
	const char *state_dir;
	const char *cache_dir;
	const char *local_endpoint;
	const char *local_cidr;
	const char *local_init_exe;
	/* A drill: a local cloud of its own on this port and network (0 and NULL:
	 * $KILN_DRILL_PORT and $KILN_DRILL_CIDR, else 4576 and 172.30.0.0/16),
	 * with its state under `drill_dir` (NULL: a new directory under $TMPDIR,
	 * else /tmp, removed at the end). */
	int drill;
	int drill_port;
	const char *drill_cidr;
	const char *drill_dir;
	/* When it becomes non-zero (a signal handler), nothing new starts, the
	 * bakes and deploys running stop and clean up, and the rebuild fails with
	 * KILN_EINTR. */
	volatile int *stop;
	kiln_event_cb on_event;
	void *payload;
	/* Another audit log besides the state directory's (kiln/hooks.h); NULL:
	 * $KILN_AUDIT when set. */
	const char *audit_file;
};

#define KILN_WORLD_OPTIONS_INIT                                                                    \
	{                                                                                          \
		.version = KILN_WORLD_OPTIONS_VERSION                                              \
	}

/* Load and check every *.json of `dir` (`env` applied to each when not NULL), and their graph. */
int kiln_world_load(struct kiln_world **out, const char *dir, const char *env);

/*
 * Rebuild `world` (once per loaded world). 0 when every profile is live;
 * KILN_ERROR when one failed or was skipped (the others went on: the
 * result says which); KILN_EINTR when stopped; for a drill, KILN_ERROR too
 * when its cloud could not be made.
 */
int kiln_world_rebuild(struct kiln_world *world, const struct kiln_world_options *opts);

/* The profiles, in an order where each comes after the profiles it names in "after". */
size_t kiln_world_count(const struct kiln_world *world);
const char *kiln_world_name(const struct kiln_world *world, size_t i);
/* After a rebuild: "live", "failed", "skipped" (or "pending" before). */
const char *kiln_world_result(const struct kiln_world *world, size_t i);
/* Why it failed or was skipped, or NULL. */
const char *kiln_world_reason(const struct kiln_world *world, size_t i);
/* Seconds from the rebuild's start until the profile was live (smoke checks passed in a drill). */
double kiln_world_live_s(const struct kiln_world *world, size_t i);
/* Seconds from the rebuild's start until all were live (or the last ended). */
double kiln_world_total_s(const struct kiln_world *world);

/*
 * The result as JSON: {"profiles": [{name, image_id, bake_s, deploy_s,
 * url, result, reason, cache_hit, action, live_s}, ...], "totals": {profiles,
 * live, failed, skipped, baked, cache_hits, deployed, unchanged, seconds,
 * drill}}; free() the text.
 */
int kiln_world_to_json(char **out, const struct kiln_world *world);
void kiln_world_free(struct kiln_world *world);

#endif
