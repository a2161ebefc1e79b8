/*
 * Layers: each of a profile's git repositories pinned at a tag (or a full
 * commit id), turned into a reproducible archive: the same commit always
 * gives the same bytes and sha256. Branches are refused: an image is
 * immutable, so are its inputs.
 */
#ifndef KILN_LAYER_H
#define KILN_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/profile.h"

struct kiln_layer;
struct kiln_layer_list;

/*
 * Fetch every layer's repository into `cache_dir` (NULL: $KILN_CACHE, else
 * $XDG_CACHE_HOME/kiln, else ~/.cache/kiln) and resolve its ref, in profile
 * order. Every layer is resolved before the call returns, so a bad ref
 * anywhere fails before anything is packed. KILN_EINVAL for a branch or a
 * missing tag, KILN_EAUTH when a remote refused the credentials.
 */
int kiln_layer_list_resolve(struct kiln_layer_list **out, const struct kiln_profile *profile,
                            const char *cache_dir);
/* Write each layer's archive NAME-COMMIT12.tar.zst into `out_dir` (NULL: <cache>/layers). */
int kiln_layer_list_pack(struct kiln_layer_list *list, const char *out_dir);
size_t kiln_layer_list_count(const struct kiln_layer_list *list);
/* The i-th layer (i < count), borrowed from the list. */
const struct kiln_layer *kiln_layer_list_get(const struct kiln_layer_list *list, size_t i);
void kiln_layer_list_free(struct kiln_layer_list *list);

const char *kiln_layer_name(const struct kiln_layer *layer);
/* The repository as the profile writes it. */
const char *kiln_layer_repo(const struct kiln_layer *layer);
const char *kiln_layer_ref(const struct kiln_layer *layer);
/* The commit the ref resolved to, 40 hex digits. */
const char *kiln_layer_commit(const struct kiln_layer *layer);
/* The archive's path, size and sha256 (hex); NULL, 0 and "" until packed. */
const char *kiln_layer_archive(const struct kiln_layer *layer);
uint64_t kiln_layer_size(const struct kiln_layer *layer);
const char *kiln_layer_sha256(const struct kiln_layer *layer);

#endif
