/*
 * Refresh: rebake (and redeploy) a profile when its inputs moved, what a
 * timer runs (`kiln refresh`).
 *
 * The inputs now: the newest available source image (bake.source_image),
 * each layer that has `track` at the newest matching tag (the order of
 * versions is in the README), and every other layer at the ref of the
 * reference image (so that a refresh rebakes the release that is live, not
 * the profile's default ref), else at its `ref`. Their bake key is compared
 * with the reference image's: the image live for the profile and
 * environment, else, with nothing deployed, the newest image baked for the
 * profile. The same key: "up to date", after only lookups (the tags of each
 * repository fetched, the source image, what is live and its image).
 * Otherwise the profile is baked (kiln/bake.h; a cache hit when an image of
 * that key exists), a new image gets the image test (kiln/validate.h; an
 * image of a cache hit only when it is about to be deployed), and with
 * `deploy` it is deployed as `kiln release` deploys (kiln/deploy.h).
 *
 * Each stage reports through the options' events as it does on its own;
 * the refresh's own lines have stage "refresh".
 */
#ifndef KILN_REFRESH_H
#define KILN_REFRESH_H

#include <stddef.h>

#include "kiln/event.h"
#include "kiln/profile.h"

/* What a refresh of one profile found and did. */
struct kiln_refresh_result;

#define KILN_REFRESH_OPTIONS_VERSION 1

struct kiln_refresh_options {
	unsigned int version;    /* KILN_REFRESH_OPTIONS_VERSION */
	int deploy;              /* deploy a new image (else bake and test only) */
	int dry_run;             /* find what moved, change nothing */
	const char *policy_file; /* as kiln_policy_options' */
	const char *state_dir;   /* NULL: $KILN_STATE_DIR or the default */
	const char *cache_dir;   /* layer mirrors; NULL: the default */
	/* "target": "local": NULL for $KILN_LOCAL_ENDPOINT, else the default. */
	const char *local_endpoint;
	volatile int *stop; /* as the stages' */
	kiln_event_cb on_event;
	void *payload;
};

#define KILN_REFRESH_OPTIONS_INIT                                                                  \
	{                                                                                          \
		.version = KILN_REFRESH_OPTIONS_VERSION                                            \
	}

/*
 * Refresh `profile` (its environment applied; its layers' refs are set to
 * the inputs found). *out is set whatever happens, with what was found
 * before a failure; the return is 0 or the failure's code. `opts` may be NULL.
 */
int kiln_refresh(struct kiln_refresh_result **out, struct kiln_profile *profile,
                 const struct kiln_refresh_options *opts);

/*
 * "up to date", "refreshed" (baked and tested, deployed with `deploy`),
 * "would refresh" (dry run) or "failed".
 */
const char *kiln_refresh_result_status(const struct kiln_refresh_result *r);
/* Why it moved, one reason each ("os os-1.0.0 -> os-1.1.0"); i < count. */
size_t kiln_refresh_result_reason_count(const struct kiln_refresh_result *r);
const char *kiln_refresh_result_reason(const struct kiln_refresh_result *r, size_t i);
/* The new image (NULL unless baked or found), whether it passed its image test, went live. */
const char *kiln_refresh_result_image_id(const struct kiln_refresh_result *r);
int kiln_refresh_result_tested(const struct kiln_refresh_result *r);
int kiln_refresh_result_deployed(const struct kiln_refresh_result *r);
/*
 * The result as JSON with the keys profile, env, status, reasons, live
 * (the reference image was live: true; the newest baked: false), old_image,
 * old_bake_key, bake_key, image_id, cache_hit, tested, deployed, url and
 * error (null unless failed); free() the text.
 */
int kiln_refresh_result_to_json(char **out, const struct kiln_refresh_result *r);
void kiln_refresh_result_free(struct kiln_refresh_result *r);

#endif
