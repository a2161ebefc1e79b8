/*
 * Bake: from a profile's tagged layers to a checked machine image.
 *
 * The policy gate (kiln/policy.h) runs first. Then the layers are resolved
 * and packed, the source image found, and the bake
 * key computed from everything that decides the image. An available image
 * already tagged with that key is the result (a cache hit: no machine is
 * launched). Otherwise a temporary builder (key pair, security group,
 * instance) gets the layers over SSH, runs the provisioners and the
 * profile's checks, and becomes the image. The temporaries are removed on
 * every path, a stop request included; a run journal under the state
 * directory records each before it is made.
 *
 * A profile with "target": "local" bakes in kiln's local cloud (kiln/cloud.h)
 * and starts it when nothing answers at its endpoint; "aws" uses the AWS
 * credential chain and the profile's region.
 */
#ifndef KILN_BAKE_H
#define KILN_BAKE_H

#include "kiln/event.h"
#include "kiln/profile.h"
#include "kiln/report.h"

/* What a bake made: the image, the commits of its layers, the steps' times. */
struct kiln_manifest;

#define KILN_BAKE_OPTIONS_VERSION 3

struct kiln_bake_options {
	unsigned int version;  /* KILN_BAKE_OPTIONS_VERSION */
	const char *app_ref;   /* bake this ref of the "app" layer, or NULL */
	const char *os_ref;    /* bake this ref of the "os" layer, or NULL */
	int force;             /* bake even when an image with the bake key exists */
	int keep_on_error;     /* on failure, leave the temporaries for debugging */
	const char *state_dir; /* journals and locks; NULL: $KILN_STATE_DIR or the default */
	const char *cache_dir; /* layer mirrors and archives; NULL: the default */
	/* "target": "local": the cloud's endpoint (NULL: $KILN_LOCAL_ENDPOINT, else
	 * the local cloud's default) and the network of a cloud the bake starts
	 * itself (NULL: $KILN_LOCAL_CIDR, else the local cloud's default). */
	const char *local_endpoint;
	const char *local_cidr;
	/* The init of that cloud's instances (kiln/cloud.h's init_exe): NULL for
	 * this program, which then must hand "cloud __init" to kiln as the kiln
	 * command does; a program that only links libkiln names the kiln binary. */
	const char *local_init_exe;
	/* The source range allowed to SSH into the builder; NULL:
	 * $KILN_BAKE_SSH_CIDR, else this host's address as the builder sees it. */
	const char *ssh_cidr;
	/* When it becomes non-zero (a signal handler), the bake stops, cleans
	 * up and fails with KILN_EINTR. */
	volatile int *stop;
	kiln_event_cb on_event; /* stage "bake" */
	void *payload;
	/* Version 2. */
	/* The organisation's policy (kiln/policy.h): NULL for $KILN_POLICY, else
	 * /etc/kiln/policy.json when present. The policy gate runs before
	 * anything else: a violation fails the bake with KILN_EINVAL before any
	 * repository is packed or cloud called. */
	const char *policy_file;
	/* The policy's rules and the builder's checks, appended; may be NULL. */
	struct kiln_report *report;
	/* Version 3. */
	/* Resolve each layer's tag in the cache's mirror without fetching when the
	 * mirror has it: for a caller that fetched the repositories just before
	 * (kiln_world_rebuild() fetches each once for all its bakes). */
	int reuse_mirrors;
	/* A local cloud that does not answer is an error instead of being started
	 * (a drill's own cloud: a second one must not appear in its place). */
	int no_local_start;
};

#define KILN_BAKE_OPTIONS_INIT                                                                     \
	{                                                                                          \
		.version = KILN_BAKE_OPTIONS_VERSION                                               \
	}

/*
 * Bake `profile` (the refs of opts are applied to it). On success *out is
 * the manifest, for a cache hit too. On failure the error says what failed;
 * a cloud's error keeps its AWS code and message. `opts` may be NULL.
 */
int kiln_bake(struct kiln_manifest **out, struct kiln_profile *profile,
              const struct kiln_bake_options *opts);

/* The image ("ami-..."), its name, the bake key (64 hex), the run id and region. */
const char *kiln_manifest_image_id(const struct kiln_manifest *manifest);
const char *kiln_manifest_image_name(const struct kiln_manifest *manifest);
const char *kiln_manifest_bake_key(const struct kiln_manifest *manifest);
const char *kiln_manifest_run_id(const struct kiln_manifest *manifest);
const char *kiln_manifest_region(const struct kiln_manifest *manifest);
/* 1 when an existing image was reused. */
int kiln_manifest_cache_hit(const struct kiln_manifest *manifest);
/*
 * The manifest as JSON with exactly the keys image_id, image_name, region,
 * bake_key, cache_hit, run_id, layers (name, repo, ref, commit, sha256) and
 * timings (seconds per step and total); free() the text.
 */
int kiln_manifest_to_json(char **out, const struct kiln_manifest *manifest);
/* Write that JSON to `path`, atomically. */
int kiln_manifest_write(const struct kiln_manifest *manifest, const char *path);
void kiln_manifest_free(struct kiln_manifest *manifest);

#endif
