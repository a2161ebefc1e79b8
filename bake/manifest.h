/*
 * The bake manifest: what CI reads after a bake (DESIGN.md §4 step 8). It is
 * written atomically as JSON with exactly the keys image_id, image_name,
 * region, bake_key, cache_hit, run_id, layers (name, repo, ref, commit,
 * sha256) and timings (seconds per step, in order, and total).
 */
#ifndef KILN_BAKE_MANIFEST_H
#define KILN_BAKE_MANIFEST_H

#include <jansson.h>
#include <stddef.h>

#include "kiln/bake.h"

struct kiln_manifest_layer {
	char *name, *repo, *ref, *commit;
	char sha256[65];
};

struct kiln_manifest_step {
	char *name;
	double seconds;
};

struct kiln_manifest {
	char *image_id;
	char *image_name;
	char *region;
	char bake_key[65];
	int cache_hit;
	char *run_id;
	struct kiln_manifest_layer *layers;
	size_t nlayers;
	struct kiln_manifest_step *steps;
	size_t nsteps;
	double started; /* kiln_time_mono() at the start of the bake */
	double total;   /* seconds the bake took, once it is over */
};

void kiln_manifest_init(struct kiln_manifest *m);
void kiln_manifest_release(struct kiln_manifest *m);
void kiln_manifest_add_layer(struct kiln_manifest *m, const char *name, const char *repo,
                             const char *ref, const char *commit, const char *sha256);
/* Record that step `name` took `seconds` (repeated names add up). */
void kiln_manifest_add_step(struct kiln_manifest *m, const char *name, double seconds);
/* The manifest as JSON (kiln_manifest_write() and the accessors: kiln/bake.h). */
json_t *kiln_manifest_json(const struct kiln_manifest *m);

/*
 * The image name "kiln/<profile>/<app-ref>/<first 12 of the bake key>", with
 * characters EC2 refuses in image names replaced by '-' and cut to 128.
 */
char *kiln_bake_image_name(const char *profile, const char *app_ref, const char *bake_key);

#endif
