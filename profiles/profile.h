/*
 * Profiles: one JSON file per application (DESIGN.md section 3). Loading
 * checks everything before any cloud call: JSON syntax, types, required
 * fields, unknown keys (with a "did you mean" hint), and value ranges, for
 * every section, including the ones later stages use. Every problem found is
 * reported, each as "FILE:LINE:COL: message". Then `environments.<env>` is
 * deep-merged over the base and defaults are filled in.
 *
 * Stages read typed, checked specs (profiles/spec.h): the layers, the bake
 * validate, deploy and policy sections, the tags. The effective profile is
 * also kept as JSON (`json`) for `kiln profile show` and the sections not
 * typed yet (hooks), and the file's positions for later stages' messages.
 */
#ifndef KILN_PROFILES_PROFILE_H
#define KILN_PROFILES_PROFILE_H

#include <jansson.h>
#include <stddef.h>

#include "kiln/profile.h"
#include "profiles/position.h"
#include "profiles/spec.h"

/* One layer, in file order (the OS layer is conventionally first). */
struct kiln_layer_spec {
	char *name;     /* "os", "app" */
	char *repo;     /* as written: a path, file://, https://, ssh:// or git@host:path */
	char *repo_url; /* resolved: relative paths made absolute against the profile's directory */
	char *ref;      /* a tag or a full 40-hex commit id */
	/* `kiln refresh` uses the newest tag matching this glob (bake/tag_order.h), or NULL. */
	char *track;
	char *path;       /* subtree to pack, or NULL for the whole tree */
	char **provision; /* provisioner paths inside the layer, in order */
	size_t nprovision;
	/* Where each provisioner is written, "FILE:LINE:COL" (for messages). */
	char **provision_at;
};

struct kiln_profile {
	char *file; /* the path it was loaded from */
	char *dir;  /* the directory of that file */
	char *name;
	char *target; /* "local" or "aws" */
	char *env;    /* the environment applied, or NULL */
	char *region; /* or NULL: the environment's */
	json_t *json; /* the effective profile: overrides applied, defaults filled */
	struct kiln_layer_spec *layers;
	size_t nlayers;
	struct kiln_bake_spec bake;
	struct kiln_validate_spec validate;
	struct kiln_deploy_spec deploy;
	struct kiln_policy_spec policy;
	struct kiln_json_posmap pos; /* of the file's values, for later stages' messages */
	struct kiln_tag_spec *tags;  /* on every resource kiln creates */
	size_t ntags;
};

/* kiln_profile_load() and the accessors are the public API: kiln/profile.h. */

/*
 * "FILE:LINE:COL" of the value at JSON pointer `ptr` of the effective
 * profile ("/deploy/capacity/max"): where the environment's override sets
 * it, else where the base does; a value the file does not write (a
 * default) is placed at the nearest object that holds it. With `at_key`,
 * the key's position rather than the value's. free() it.
 */
char *kiln_profile_where(const struct kiln_profile *profile, const char *ptr, int at_key);

/* The layer called `name`, or NULL. */
const struct kiln_layer_spec *kiln_profile_layer(const struct kiln_profile *profile,
                                                 const char *name);

#endif
