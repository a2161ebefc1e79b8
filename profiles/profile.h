/*
 * Profiles: one JSON file per application (DESIGN.md section 3). Loading
 * checks everything before any cloud call: JSON syntax, types, required
 * fields, unknown keys (with a "did you mean" hint), and value ranges, for
 * every section, including the ones later stages use. Every problem found is
 * reported, each as "FILE:LINE:COL: message". Then `environments.<env>` is
 * deep-merged over the base and defaults are filled in.
 *
 * The effective profile is kept as JSON (`json`) for the stages that read
 * their own section, with typed fields for what every stage needs.
 */
#ifndef KILN_PROFILES_PROFILE_H
#define KILN_PROFILES_PROFILE_H

#include <jansson.h>
#include <stddef.h>

#include "kiln/profile.h"

/* One layer, in file order (the OS layer is conventionally first). */
struct kiln_layer_spec {
	char *name;     /* "os", "app" */
	char *repo;     /* as written: a path, file://, https://, ssh:// or git@host:path */
	char *repo_url; /* resolved: relative paths made absolute against the profile's directory */
	char *ref;      /* a tag or a full 40-hex commit id */
	char *path;     /* subtree to pack, or NULL for the whole tree */
	char **provision; /* provisioner paths inside the layer, in order */
	size_t nprovision;
};

struct kiln_profile {
	char *file; /* the path it was loaded from */
	char *dir;  /* the directory of that file */
	char *name;
	char *target; /* "local" or "aws" */
	char *env;    /* the environment applied, or NULL */
	json_t *json; /* the effective profile: overrides applied, defaults filled */
	struct kiln_layer_spec *layers;
	size_t nlayers;
};

/* kiln_profile_load() and the accessors are the public API: kiln/profile.h. */

/* The layer called `name`, or NULL. */
const struct kiln_layer_spec *kiln_profile_layer(const struct kiln_profile *profile,
                                                 const char *name);

#endif
