/*
 * Internals shared by the files of the layer noun (layer.c, layer_archive.c,
 * blobreader.c); not part of the module's interface.
 */
#ifndef KILN_BAKE_LAYER_INT_H
#define KILN_BAKE_LAYER_INT_H

#include <git2.h>
#include <stdint.h>

#include "core/common.h"

/* Initialise libgit2 once per process (thread-safe). */
void kiln_layer__git_setup(void);
/* Set our error from libgit2's last one, after a "context: " of our own. */
int kiln_layer__git_fail(int gerr, const char *fmt, ...) KILN_PRINTF(2, 3);

/* What a tree entry of `mode` is, for messages: "a file", "a directory"... */
const char *kiln_layer__kind(git_filemode_t mode);

/*
 * The tree of commit `commit_hex` (its `subdir` subtree when not NULL), and
 * the commit's time in *mtime. KILN_EINVAL when `subdir` is not a directory.
 */
int kiln_layer__open_tree(git_tree **out, int64_t *mtime, git_repository *repo,
                          const char *commit_hex, const char *subdir);

/*
 * The newest tag of `repo` matching `pattern` (bake/tag_order.h) into *out
 * (free() it); KILN_EINVAL naming the layer when no tag is a candidate.
 */
int kiln_layer__newest_tag(char **out, git_repository *repo, const char *pattern,
                           const char *layer_name);

#endif
