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
 *   `keep_on_error` they are left and a progress event names the command
 *   that removes them. What a crash leaves, `kiln gc` finds by tags.
 * - Every wait polls adaptively (bake/poll.h) within the profile's timeouts.
 * - Values of secret variables are registered with the log's redaction and
 *   never formatted into messages.
 *
 * Progress, warnings and the output of remote commands reach the caller
 * as events (options' on_event); nothing is printed. A local cloud that is
 * not running is started through its API (kiln/cloud.h), and a missing
 * debian-12 base image is built the same way. The public entry is
 * kiln_bake() in kiln/bake.h.
 */
#ifndef KILN_BAKE_PIPELINE_H
#define KILN_BAKE_PIPELINE_H

#include "aws/client.h"
#include "bake/manifest.h"
#include "kiln/bake.h"
#include "profiles/profile.h"

/*
 * kiln_bake() with a client of the caller's (a fixture, another account):
 * `out` is initialised by the caller (kiln_manifest_init()) and holds the
 * manifest on success; `opts` may be NULL.
 */
int kiln_bake_run(struct kiln_manifest *out, struct kiln_aws *aws, struct kiln_profile *profile,
                  const struct kiln_bake_options *opts);

/*
 * Without baking: the bake key of the profile's inputs now (layers resolved,
 * not packed; the source image found) in out->bake_key and the available
 * image that carries it in out->image_id. KILN_ENOTFOUND when there is none
 * (out->bake_key is still set). The deploy finds its image this way.
 */
int kiln_bake_lookup_run(struct kiln_manifest *out, struct kiln_aws *aws,
                         struct kiln_profile *profile, const struct kiln_bake_options *opts);

/*
 * The newest available image that the profile's bake.source_image selects
 * (one DescribeImages; a missing local base image is not built), its id
 * into *out (free() it). KILN_ENOTFOUND when none matches.
 */
int kiln_bake_source_image(char **out, struct kiln_aws *aws, const struct kiln_profile *profile);

#endif
