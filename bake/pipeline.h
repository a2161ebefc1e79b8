/*
 * The bake pipeline (DESIGN.md §4, issue 5): from a profile's tagged layers
 * to a checked image, over a temporary builder reached by SSH.
 *
 *   layers -> source image -> bake key -> cache? -> builder (key pair,
 *   security group, instance) -> running -> SSH (host key from the console)
 *   -> upload -> provisioners -> checks -> stop -> CreateImage -> available
 *
 * Guarantees:
 * - An available image tagged kiln:bake-key=<key> is reused: no instance is
 *   launched. Two bakes of one key serialise on a lock file named by the key
 *   under the state directory; the second then finds the first's image.
 * - Every temporary carries kiln:run-id, kiln:role=builder, kiln:profile and
 *   kiln:expires, is recorded in the run journal (intent before the create,
 *   id after), and is removed on every path in reverse order of creation,
 *   including a stop requested through `stop` (SIGINT, SIGTERM). With
 *   `keep_on_error` they are left and the command that removes them is
 *   printed. What a crash leaves, `kiln gc` finds by tags.
 * - Every wait polls adaptively (bake/poll.h) within the profile's timeouts.
 * - Values of secret variables are registered with the log's redaction and
 *   never formatted into messages.
 *
 * People's progress goes to stderr (one line per step, unless --quiet);
 * the caller prints the result.
 */
#ifndef KILN_BAKE_PIPELINE_H
#define KILN_BAKE_PIPELINE_H

#include "aws/client.h"
#include "bake/manifest.h"
#include "profiles/profile.h"

struct kiln_bake_opts {
	const char *app_ref;   /* overrides the "app" layer's ref, or NULL */
	const char *os_ref;    /* overrides the "os" layer's ref, or NULL */
	int force;             /* bake even when an image with the key exists */
	int keep_on_error;     /* --on-error abort: leave the temporaries */
	const char *state_dir; /* journals and locks; NULL: kiln_paths_state() */
	const char *cache_dir; /* layer mirrors and archives; NULL: the default */
	volatile int *stop;    /* set by a signal handler to stop the bake */
};

/* What `kiln bake` accepts after the command name. */
struct kiln_bake_args {
	const char *profile;
	const char *env;
	const char *app_ref, *os_ref;
	const char *manifest;
	int force;
	int keep_on_error;
};

/*
 * Parse one argument at argv[*i] into `a`: 1 when taken (*i moves past a
 * value), 0 when it is not one of bake's (the caller tries its own),
 * KILN_EINVAL with a one-line message for a bad or missing value or a
 * second profile.
 */
int kiln_bake_args_parse(struct kiln_bake_args *a, int argc, char **argv, int *i);

/*
 * The AWS client for the profile's target. "local": KILN_LOCAL_ENDPOINT
 * (default http://127.0.0.1:4566) with the local cloud's credentials, in
 * us-east-1, starting the local cloud (`kiln cloud up`) when nothing
 * answers there; "aws": the normal chain and the profile's region.
 */
int kiln_bake_client(struct kiln_aws **out, const struct kiln_profile *profile);
/* The same for a target named directly ("local" or "aws"); `region` may be NULL. */
int kiln_target_client(struct kiln_aws **out, const char *target, const char *region);

/*
 * Bake. Overrides of opts are applied to `profile`'s layers. On success
 * `out` (initialised by the caller) holds the manifest, also for a cache
 * hit. On failure the error slot says what failed; cloud errors keep AWS's
 * code and message.
 */
int kiln_bake_run(struct kiln_manifest *out, struct kiln_aws *aws, struct kiln_profile *profile,
                  const struct kiln_bake_opts *opts);

#endif
