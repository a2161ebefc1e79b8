/*
 * Layers: a git repository pinned at a tag or commit, turned into a
 * byte-for-byte reproducible archive (DESIGN.md section 4, step 1).
 *
 * kiln_layer_resolve() clones or fetches the repository into a bare mirror
 * under the cache directory and resolves the layer's ref to a commit. Only
 * tags (annotated or lightweight) and full 40-hex commit ids are accepted:
 * an image is immutable, so its inputs must be too. A tag that points at a
 * different commit than the last time kiln used it is a warning naming both.
 *
 * kiln_layer_pack() writes the commit's tree (or its `path` subtree) as a
 * tar compressed with zstd. Entries are sorted by path (bytes), owned by
 * 0/0 "root", every mtime is the commit time, modes are 0644/0755 as in git,
 * directories 0755, symlinks stay symlinks; nothing depends on the machine,
 * the clone, the locale or the clock, so one commit always gives the same
 * bytes and sha256 (with the same zstd version).
 *
 * The format: POSIX pax (libarchive's "restricted" pax), which is plain
 * ustar unless a path is long or not ASCII, or a file is over 8 GiB; then a
 * pax extended header carries the exact UTF-8 path or size (ustar cannot,
 * GNU tar's own format is not POSIX). No atime, ctime or PID-dependent
 * header names. The tar stream is cut every 2 MiB and each piece is one
 * zstd frame at level 3 with a checksum (zstd and libarchive read the
 * frames as one stream), so that two threads can compress while the output
 * stays independent of the number of threads.
 *
 * Memory stays bounded whatever the size of the files: blobs over 1 MiB are
 * streamed from the object database in chunks, smaller ones are read ahead
 * by a second thread, at most 4 MiB at a time (deltified blobs in packs are
 * the exception: libgit2 rebuilds them whole, and git does not deltify
 * files over core.bigFileThreshold). A gitlink (submodule) is an error
 * naming its path.
 *
 * A tree that would not extract as it reads is refused with KILN_EINVAL
 * (exit 2) naming the path, escaped (names come from the repository): a
 * '.git' path component in any of the forms git's checkout refuses (any
 * case, trailing dots or spaces, "git~1", HFS+'s ignored code points), one
 * name twice in a directory (a file and a directory, a symlink and a
 * directory: crafted trees can hold both), and a name over 255 bytes.
 */
#ifndef KILN_BAKE_LAYER_H
#define KILN_BAKE_LAYER_H

#include <stdint.h>

#include "core/buf.h"
#include "kiln/layer.h"
#include "profiles/profile.h"

struct kiln_layer {
	char *name;          /* the layer's name in the profile */
	char *repo;          /* as written in the profile */
	char *url;           /* what was fetched (relative paths resolved) */
	char *ref;           /* the tag or commit id asked for */
	char *subdir;        /* the subtree to pack, or NULL */
	char **provision;    /* the provisioners, inside the layer */
	char **provision_at; /* where each is written ("FILE:LINE:COL"), or NULL */
	size_t nprovision;
	char *mirror;        /* the bare repository in the cache */
	char commit[41];     /* the resolved commit */
	int64_t commit_time; /* committer time: the mtime of every entry */
	/* Filled by kiln_layer_pack(). */
	char *archive;   /* path of the .tar.zst */
	uint64_t size;   /* bytes in the archive */
	char sha256[65]; /* lowercase hex of the archive */
};

/*
 * Fetch `spec`'s repository into `cache_dir` (NULL: kiln_paths_cache())
 * and resolve its ref. KILN_EINVAL for a branch, a missing tag or commit, or
 * a malformed ref; KILN_EAUTH when the remote refused our credentials;
 * KILN_ERROR for other failures of the remote.
 */
int kiln_layer_resolve(struct kiln_layer **out, const struct kiln_layer_spec *spec,
                       const char *cache_dir);
/*
 * kiln_layer_resolve(), except that with `reuse_mirror` a mirror that has
 * the tag already is not fetched: for a caller that fetched every mirror
 * just before (kiln rebuild-world fetches each repository once).
 */
int kiln_layer_resolve_in(struct kiln_layer **out, const struct kiln_layer_spec *spec,
                          const char *cache_dir, int reuse_mirror);

/*
 * Write the archive `<name>-<commit12>.tar.zst` into `out_dir` (created if
 * missing; NULL: "<cache>/layers") and fill archive, size and sha256. The
 * file appears atomically. First, every provisioner of the layer must be a
 * file in its tree: one that is missing, a directory, a symlink or under
 * something that is not a directory is KILN_EINVAL, reported at its place in
 * the profile ("FILE:LINE:COL: ..."), before anything is written.
 */
int kiln_layer_pack(struct kiln_layer *layer, const char *out_dir);

/* Pack the tree of `commit` (40 hex) of the repository at `repo_path` into
 * `archive_path`; the worker behind kiln_layer_pack(), for tests and
 * benchmarks. `subdir` may be NULL. */
int kiln_layer_pack_commit(uint64_t *size_out, char sha256_out[65], const char *repo_path,
                           const char *commit, const char *subdir, const char *archive_path);

/*
 * The raw bytes of the annotated tag object that the resolved `layer`'s
 * ref names, headers, message and any signature included (what `git
 * cat-file tag` prints). KILN_ENOTFOUND when the ref is a commit id or a
 * lightweight tag (neither carries a signature).
 */
int kiln_layer_tag_object(struct kiln_buf *out, const struct kiln_layer *layer);

void kiln_layer_free(struct kiln_layer *layer);

/* The layers of a profile, in its order (layer_list.c; the API is in kiln/layer.h). */
struct kiln_layer_list {
	struct kiln_layer **v;
	size_t n;
};

#endif
