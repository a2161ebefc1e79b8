/*
 * The bake key: the identity of an image's inputs. Two bakes with the same
 * key make the same image, so an available image tagged
 * kiln:bake-key=<key> is reused instead of baking again (DESIGN.md §4).
 *
 * The key is the sha256 of a canonical JSON document (sorted keys, compact)
 * holding: the bake format version, the source image id, each layer's name,
 * commit and subtree in profile order, each layer's provisioners in order,
 * the builder's login user and layer directory, the profile's variables
 * (a secret's name only: rotating a secret does not force a rebake), and
 * the checks. Anything else (tags, deploy settings, the profile's file name)
 * does not change the image and so does not change the key.
 */
#ifndef KILN_BAKE_KEY_H
#define KILN_BAKE_KEY_H

#include "profiles/profile.h"

/* Bumped whenever what a bake produces changes for the same inputs. */
#define KILN_BAKE_FORMAT 1

/*
 * Compute the key into out[65] (lowercase hex). `commits[i]` is the resolved
 * commit of profile->layers[i].
 */
void kiln_bake_key(char out[65], const struct kiln_profile *profile, const char *source_image_id,
                   const char *const commits[]);

/* The canonical document the key hashes (for `--json` output and tests). */
json_t *kiln_bake_key_inputs(const struct kiln_profile *profile, const char *source_image_id,
                             const char *const commits[]);

#endif
