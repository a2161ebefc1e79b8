/*
 * Internal to the local cloud's layers: an exact copy of a directory tree.
 */
#ifndef KILN_LOCALCLOUD_TREECOPY_INT_H
#define KILN_LOCALCLOUD_TREECOPY_INT_H

struct lc_tree_opts {
	/* Hard-link regular files instead of copying them (a read-only source). */
	int link;
	/*
	 * The source is an overlay upper directory becoming a layer: keep the
	 * whiteout and opaque markers, drop overlay's other bookkeeping, the
	 * SSH host keys and kiln-init's per-instance state.
	 */
	int capture;
};

/* Copy `src` to `dst`, which must not exist yet. */
int lc_tree_copy(const char *dst, const char *src, const struct lc_tree_opts *opts);

#endif
