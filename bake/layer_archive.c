/*
 * The archive half of layers: a commit's tree walked in order and written as
 * a pax tar, cut into zstd frames compressed on two threads (see layer.h for
 * the guarantees).
 */
#include "bake/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <locale.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"
#include "bake/blobreader.h"
#include "bake/layer-int.h"
#include "bake/zframes.h"

#define CHUNK          (64 * 1024)
#define MAX_TREE_DEPTH 512
#define MAX_LINK       4096
#define MAX_NAME       255 /* NAME_MAX of every Linux file system */

/* libarchive's output goes to the compressor. */
static la_ssize_t archive_out(struct archive *a, void *arg, const void *buf, size_t len)
{
	if (kiln_zframes_write(arg, buf, len) < 0) {
		archive_set_error(a, EIO, "%s", kiln_error_last());
		return -1;
	}
	return (la_ssize_t)len;
}

/* ---- the tree, walked and read ahead by a feeder thread ---- */

/*
 * Inflating blobs costs about as much as compressing them, so a feeder
 * thread walks the tree and reads small blobs whole into a queue bounded in
 * bytes, while the caller's thread formats the tar from it. Large blobs are
 * only announced: the tar thread streams them itself, in chunks.
 *
 * Git sorts a tree's entries by name, a directory as if its name ended in
 * '/', so a depth-first walk visits paths in bytewise order of the archive
 * paths. Each path is still checked against the one before, so a malformed
 * tree cannot change the order silently.
 */
#define FEED_SMALL (1024 * 1024)     /* blobs up to this are read ahead */
#define FEED_BYTES (4 * 1024 * 1024) /* bytes of blobs queued at most */
#define FEED_ITEMS 1024

struct item {
	char *path;  /* directories end in '/', as in the archive */
	char *shown; /* the path escaped, for messages */
	git_filemode_t mode;
	git_oid oid;
	uint64_t size;
	unsigned char *data; /* the content (a symlink's target), or NULL */
};

struct feed {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item q[FEED_ITEMS];
	size_t head, count, bytes;
	int done, abort, failed, code;
	char *errmsg; /* the feeder's error, for the tar thread */
	/* The feeder's own. */
	const char *repo_path;
	git_oid tree;
	git_repository *repo;
	struct kiln_blobreader r;
	struct kiln_buf prev, path;
};

static void item_release(struct item *it)
{
	free(it->path);
	free(it->shown);
	free(it->data);
	memset(it, 0, sizeof(*it));
}

/* Read a blob whole (it is small); symlink targets are checked here. */
static int read_whole(struct feed *f, struct item *it)
{
	size_t len = 0, got;
	int error;

	error = kiln_blobreader_open(&f->r, &it->oid, it->shown, &it->size);
	if (error < 0)
		return error;
	if (it->mode == GIT_FILEMODE_LINK && it->size > MAX_LINK) {
		kiln_blobreader_close(&f->r);
		return kiln_error_set(KILN_EINVAL, "symlink '%s' has a target too long", it->shown);
	}
	if (it->size > FEED_SMALL) {
		kiln_blobreader_close(&f->r);
		return 0; /* the tar thread streams it */
	}
	it->data = kiln_xmalloc((size_t)it->size + 1);
	while (len < it->size) {
		error = kiln_blobreader_read(&f->r, it->data + len, (size_t)it->size - len, &got);
		if (error < 0)
			return error;
		len += got;
	}
	error = kiln_blobreader_read(&f->r, it->data, 0, &got);
	kiln_blobreader_close(&f->r);
	if (error < 0)
		return error;
	it->data[len] = '\0';
	if (it->mode == GIT_FILEMODE_LINK && strlen((char *)it->data) != len)
		return kiln_error_set(KILN_EINVAL, "symlink '%s' has a NUL in its target",
		                      it->shown);
	return 0;
}

static int feed_push(struct feed *f, const git_oid *oid, git_filemode_t mode)
{
	struct item it = {kiln_xstrdup(f->path.ptr), kiln_escape(f->path.ptr), mode, *oid, 0, NULL};
	int error = 0;

	if (mode != GIT_FILEMODE_TREE)
		error = read_whole(f, &it);
	if (error < 0) {
		item_release(&it);
		return error;
	}
	pthread_mutex_lock(&f->mu);
	while (!f->abort && (f->count == FEED_ITEMS ||
	                     (f->count > 0 && it.data != NULL && f->bytes + it.size > FEED_BYTES)))
		pthread_cond_wait(&f->cv, &f->mu);
	if (f->abort) {
		pthread_mutex_unlock(&f->mu);
		item_release(&it);
		return kiln_error_set(KILN_EINTR, "stopped");
	}
	f->q[(f->head + f->count) % FEED_ITEMS] = it;
	f->count++;
	if (it.data != NULL)
		f->bytes += it.size;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

/* HFS+ ignores these code points in names (git's next_hfs_char): all 3 bytes in UTF-8. */
static const unsigned char *skip_hfs_ignored(const unsigned char *p)
{
	for (;;) {
		if (p[0] == 0xe2 && p[1] == 0x80 &&
		    ((p[2] >= 0x8c && p[2] <= 0x8f) || (p[2] >= 0xaa && p[2] <= 0xae)))
			p += 3;
		else if (p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xaa && p[2] <= 0xaf)
			p += 3;
		else if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
			p += 3;
		else
			return p;
	}
}

/* `p` starts with `word` (lowercase ASCII) in any case; *end is past it. */
static int starts_with_folded(const unsigned char **end, const unsigned char *p, const char *word)
{
	for (; *word != '\0'; word++, p++) {
		p = skip_hfs_ignored(p);
		if ((*p >= 'A' && *p <= 'Z' ? *p + 32 : *p) != (unsigned char)*word)
			return 0;
	}
	*end = p;
	return 1;
}

/*
 * Whether a checkout by git would refuse `name` as ".git" (read-cache.c's
 * verify_path with core.protectNTFS and core.protectHFS): in any case, with
 * trailing spaces or dots, as the 8.3 short name "git~1", as an NTFS stream
 * (".git::$INDEX_ALLOCATION") or before a backslash, and with the code points
 * HFS+ ignores anywhere in it. A layer is extracted where repositories may
 * live and be used, so it is refused the same way.
 */
static int is_dotgit(const char *name)
{
	const unsigned char *p = (const unsigned char *)name, *rest = NULL;

	if (!starts_with_folded(&rest, p, ".git") && !starts_with_folded(&rest, p, "git~1"))
		return 0;
	for (;; rest++) {
		rest = skip_hfs_ignored(rest);
		if (*rest == '\0' || *rest == '\\' || *rest == ':')
			return 1;
		if (*rest != ' ' && *rest != '.')
			return 0;
	}
}

/* Why `name` cannot be a name in a layer, or NULL. */
static const char *name_problem(const char *name)
{
	if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr(name, '/') != NULL)
		return "is not a valid name";
	if (strlen(name) > MAX_NAME)
		return "has a name longer than 255 bytes, which no Linux file system takes";
	if (is_dotgit(name))
		return "is a git directory ('.git'), which git itself refuses to check out";
	return NULL;
}

/* One problem at `dir` + `name`, escaped: names come from the repository. */
static int entry_fail(const struct feed *f, const char *name, const char *why)
{
	struct kiln_buf path = KILN_BUF_INIT;
	int error;

	kiln_buf_put_escaped(&path, f->path.ptr, f->path.size, 0);
	kiln_buf_put_escaped(&path, name, strlen(name), 0);
	error = kiln_error_set(KILN_EINVAL, "'%s' %s", path.ptr, why);
	kiln_buf_release(&path);
	return error;
}

const char *kiln_layer__kind(git_filemode_t mode)
{
	switch (mode) {
	case GIT_FILEMODE_TREE:
		return "a directory";
	case GIT_FILEMODE_LINK:
		return "a symlink";
	case GIT_FILEMODE_COMMIT:
		return "a submodule";
	default:
		return "a file";
	}
}

static int by_name(const void *a, const void *b)
{
	return strcmp(git_tree_entry_name(*(const git_tree_entry *const *)a),
	              git_tree_entry_name(*(const git_tree_entry *const *)b));
}

/*
 * Every name of one directory is valid, and none is there twice. A crafted
 * tree can hold one name twice (a file and a directory, a symlink and a
 * directory): git sorts a directory as if its name ended in '/', so the two
 * need not even be neighbours, and extracting both would keep whichever came
 * last, or fail on the builder.
 */
static int check_directory(const struct feed *f, const git_tree *tree)
{
	size_t i, count = git_tree_entrycount(tree);
	const git_tree_entry **v = kiln_xcalloc(count ? count : 1, sizeof(*v));
	int error = 0;

	for (i = 0; i < count && error == 0; i++) {
		const char *why;

		v[i] = git_tree_entry_byindex(tree, i);
		why = name_problem(git_tree_entry_name(v[i]));
		if (why != NULL)
			error = entry_fail(f, git_tree_entry_name(v[i]), why);
	}
	if (error == 0)
		qsort(v, count, sizeof(*v), by_name);
	for (i = 1; i < count && error == 0; i++) {
		git_filemode_t a = git_tree_entry_filemode(v[i - 1]);
		git_filemode_t b = git_tree_entry_filemode(v[i]);
		char *why;

		if (strcmp(git_tree_entry_name(v[i - 1]), git_tree_entry_name(v[i])) != 0)
			continue;
		if (kiln_layer__kind(a) == kiln_layer__kind(b))
			why = kiln_xasprintf("is in the tree twice: it would be ambiguous");
		else
			why = kiln_xasprintf("is both %s and %s in the tree: it would be ambiguous",
			                     kiln_layer__kind(a), kiln_layer__kind(b));
		error = entry_fail(f, git_tree_entry_name(v[i]), why);
		free(why);
	}
	free(v);
	return error;
}

static int walk_tree(struct feed *f, const git_tree *tree, int depth)
{
	size_t i, count = git_tree_entrycount(tree), base = f->path.size;
	int error;

	if (depth > MAX_TREE_DEPTH)
		return entry_fail(f, "", "is nested too deeply");
	error = check_directory(f, tree);
	for (i = 0; i < count && error == 0; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(te);
		git_filemode_t mode = git_tree_entry_filemode(te);

		kiln_buf_truncate(&f->path, base);
		if (mode == GIT_FILEMODE_COMMIT)
			return entry_fail(f, name,
			                  "is a submodule: layers do not follow submodules");
		if (kiln_buf_puts(&f->path, name) < 0 ||
		    (mode == GIT_FILEMODE_TREE && kiln_buf_putc(&f->path, '/') < 0))
			return KILN_ETOOBIG;
		if (f->prev.size > 0 && strcmp(f->prev.ptr, f->path.ptr) >= 0) {
			kiln_buf_truncate(&f->path, base);
			return entry_fail(f, name, "is out of order: the tree is not sorted");
		}
		kiln_buf_clear(&f->prev);
		kiln_buf_put(&f->prev, f->path.ptr, f->path.size);
		error = feed_push(f, git_tree_entry_id(te), mode);
		if (error == 0 && mode == GIT_FILEMODE_TREE) {
			git_tree *sub = NULL;
			error = git_tree_lookup(&sub, f->repo, git_tree_entry_id(te));
			if (error < 0) {
				char *shown = kiln_escape(f->path.ptr);
				error = kiln_layer__git_fail(error, "cannot read directory '%s'",
				                             shown);
				free(shown);
			} else {
				error = walk_tree(f, sub, depth + 1);
			}
			git_tree_free(sub);
		}
	}
	kiln_buf_truncate(&f->path, base);
	return error;
}

static void *feed_main(void *arg)
{
	struct feed *f = arg;
	git_tree *tree = NULL;
	int error;

	kiln_buf_init(&f->prev, 1 << 20);
	kiln_buf_init(&f->path, 1 << 20);
	/* A repository object per thread: libgit2 objects are not shared. */
	error = git_repository_open(&f->repo, f->repo_path);
	if (error < 0)
		error = kiln_layer__git_fail(error, "cannot open '%s'", f->repo_path);
	if (error == 0)
		error = kiln_blobreader_init(&f->r, f->repo);
	if (error == 0) {
		error = git_tree_lookup(&tree, f->repo, &f->tree);
		if (error < 0)
			error = kiln_layer__git_fail(error, "cannot read the tree");
	}
	if (error == 0)
		error = walk_tree(f, tree, 0);
	pthread_mutex_lock(&f->mu);
	if (error < 0 && !f->abort) {
		f->failed = 1;
		f->code = error;
		f->errmsg = kiln_xstrdup(kiln_error_last());
	}
	f->done = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	git_tree_free(tree);
	kiln_blobreader_release(&f->r);
	git_repository_free(f->repo);
	kiln_buf_release(&f->prev);
	kiln_buf_release(&f->path);
	return NULL;
}

/* The next item (0), the end (1), or the feeder's error (<0). */
static int feed_pop(struct feed *f, struct item *out)
{
	int r = 0;

	pthread_mutex_lock(&f->mu);
	while (f->count == 0 && !f->done)
		pthread_cond_wait(&f->cv, &f->mu);
	if (f->count > 0) {
		*out = f->q[f->head % FEED_ITEMS];
		f->head++;
		f->count--;
		if (out->data != NULL)
			f->bytes -= out->size;
		pthread_cond_broadcast(&f->cv);
	} else if (f->failed) {
		r = kiln_error_set(f->code, "%s", f->errmsg);
	} else {
		r = 1;
	}
	pthread_mutex_unlock(&f->mu);
	return r;
}

static void feed_stop(struct feed *f)
{
	struct item it;

	pthread_mutex_lock(&f->mu);
	f->abort = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	while (f->count > 0) {
		it = f->q[f->head % FEED_ITEMS];
		f->head++;
		f->count--;
		item_release(&it);
	}
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f->errmsg);
}

/* ---- writing the archive ---- */

static int write_item(struct archive *a, struct archive_entry *ae, struct kiln_blobreader *r,
                      const struct item *it, int64_t mtime, unsigned char *buf)
{
	uint64_t size = it->size;
	size_t got;
	int error;

	archive_entry_clear(ae);
	archive_entry_set_pathname(ae, it->path);
	archive_entry_set_uid(ae, 0);
	archive_entry_set_gid(ae, 0);
	archive_entry_set_uname(ae, "root");
	archive_entry_set_gname(ae, "root");
	archive_entry_set_mtime(ae, (time_t)mtime, 0);
	switch (it->mode) {
	case GIT_FILEMODE_TREE:
		archive_entry_set_filetype(ae, AE_IFDIR);
		archive_entry_set_perm(ae, 0755);
		break;
	case GIT_FILEMODE_LINK:
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_set_perm(ae, 0777);
		archive_entry_set_symlink(ae, (const char *)it->data);
		break;
	default:
		if (it->data == NULL) {
			error = kiln_blobreader_open(r, &it->oid, it->shown, &size);
			if (error < 0)
				return error;
		}
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, it->mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
		archive_entry_set_size(ae, (la_int64_t)size);
		break;
	}
	/* A warning is a name that is not UTF-8, written as raw bytes. */
	if (archive_write_header(a, ae) < ARCHIVE_WARN)
		return kiln_error_set(KILN_ERROR, "cannot archive '%s': %s", it->shown,
		                      archive_error_string(a));
	if (archive_entry_filetype(ae) != AE_IFREG)
		return 0;
	if (it->data != NULL) {
		if (size > 0 && archive_write_data(a, it->data, (size_t)size) != (la_ssize_t)size)
			return kiln_error_set(KILN_ERROR, "cannot archive '%s': %s", it->shown,
			                      archive_error_string(a));
		return 0;
	}
	for (;;) {
		error = kiln_blobreader_read(r, buf, CHUNK, &got);
		if (error < 0)
			return error;
		if (got == 0)
			break;
		if (archive_write_data(a, buf, got) != (la_ssize_t)got)
			return kiln_error_set(KILN_ERROR, "cannot archive '%s': %s", it->shown,
			                      archive_error_string(a));
	}
	kiln_blobreader_close(r);
	return 0;
}

int kiln_layer__open_tree(git_tree **out, int64_t *mtime, git_repository *repo,
                          const char *commit_hex, const char *subdir)
{
	git_oid oid;
	git_commit *commit = NULL;
	git_tree *root = NULL;
	git_tree_entry *te = NULL;
	char *sub = NULL;
	int error;

	*out = NULL;
	if (git_oid_fromstr(&oid, commit_hex) < 0)
		return kiln_error_set(KILN_EINVAL, "'%s' is not a commit id", commit_hex);
	error = git_commit_lookup(&commit, repo, &oid);
	if (error < 0)
		return kiln_layer__git_fail(error, "cannot read commit %s", commit_hex);
	*mtime = git_commit_time(commit);
	error = git_commit_tree(&root, commit);
	if (error < 0) {
		error = kiln_layer__git_fail(error, "cannot read the tree of %s", commit_hex);
		goto done;
	}
	if (subdir == NULL) {
		*out = root;
		root = NULL;
		goto done;
	}
	/* "./etc/" and "etc" name the same subtree. */
	while (strncmp(subdir, "./", 2) == 0)
		subdir += 2;
	sub = kiln_xstrdup(subdir);
	while (strlen(sub) > 0 && sub[strlen(sub) - 1] == '/')
		sub[strlen(sub) - 1] = '\0';
	if (sub[0] == '\0' || strcmp(sub, ".") == 0) {
		*out = root;
		root = NULL;
		goto done;
	}
	error = git_tree_entry_bypath(&te, root, sub);
	if (error < 0 || git_tree_entry_type(te) != GIT_OBJECT_TREE) {
		error = kiln_error_set(KILN_EINVAL, "path '%s' is not a directory at commit %s",
		                       subdir, commit_hex);
		goto done;
	}
	error = git_tree_lookup(out, repo, git_tree_entry_id(te));
	if (error < 0)
		error = kiln_layer__git_fail(error, "cannot read '%s'", subdir);
done:
	git_tree_entry_free(te);
	git_tree_free(root);
	git_commit_free(commit);
	free(sub);
	return error;
}

/*
 * pax: plain ustar headers, plus an extended header only where ustar falls
 * short (long or non-ASCII paths, big files), whose content depends on the
 * entry alone; GNU tar and busybox read it. No 10240-byte blocking: frames
 * are our blocks, tar needs only 512.
 */
static int start_archive(struct archive *a, struct kiln_zframes *z)
{
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open(a, z, NULL, archive_out, NULL) != ARCHIVE_OK)
		return kiln_error_set(KILN_ERROR, "cannot start the archive: %s",
		                      archive_error_string(a));
	return 0;
}

static int write_archive(struct kiln_zframes *z, git_repository *repo, const char *repo_path,
                         const git_oid *tree, int64_t mtime)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	struct kiln_blobreader r;
	struct feed *f = kiln_xcalloc(1, sizeof(*f));
	unsigned char *buf = kiln_xmalloc(CHUNK);
	/*
	 * libarchive converts names through the thread's locale: pin it, so
	 * that paths are written as the UTF-8 bytes git holds whatever the
	 * caller's locale (names that are not UTF-8 get hdrcharset=BINARY).
	 */
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0), old = (locale_t)0;
	int error, started = 0;

	memset(&r, 0, sizeof(r));
	r.fd = -1;
	if (a == NULL || ae == NULL)
		kiln_die("out of memory");
	if (utf8 == (locale_t)0) {
		error = kiln_error_set(KILN_ERROR, "the C.UTF-8 locale is missing");
		goto done;
	}
	old = uselocale(utf8);
	error = kiln_blobreader_init(&r, repo);
	if (error < 0)
		goto done;
	error = start_archive(a, z);
	if (error < 0)
		goto done;
	f->repo_path = repo_path;
	f->tree = *tree;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if (pthread_create(&f->thread, NULL, feed_main, f) != 0)
		kiln_die("cannot start a thread");
	started = 1;
	for (;;) {
		struct item it;
		int rc = feed_pop(f, &it);
		if (rc < 0) {
			error = rc;
			goto done;
		}
		if (rc == 1)
			break;
		error = write_item(a, ae, &r, &it, mtime, buf);
		item_release(&it);
		if (error < 0)
			goto done;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		error = kiln_error_set(KILN_ERROR, "cannot finish the archive: %s",
		                       archive_error_string(a));
		goto done;
	}
	error = 0;
done:
	if (started)
		feed_stop(f);
	kiln_blobreader_release(&r);
	archive_entry_free(ae);
	archive_write_free(a);
	if (utf8 != (locale_t)0) {
		uselocale(old);
		freelocale(utf8);
	}
	free(f);
	free(buf);
	return error;
}

static int fsync_dir(const char *file)
{
	char *dir = kiln_path_dirname(file);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), error = 0;

	if (fd < 0 || fsync(fd) != 0)
		error = -1;
	if (fd >= 0)
		close(fd);
	free(dir);
	return error;
}

int kiln_layer_pack_commit(uint64_t *size_out, char sha256_out[65], const char *repo_path,
                           const char *commit, const char *subdir, const char *archive_path)
{
	git_repository *repo = NULL;
	git_tree *tree = NULL;
	struct kiln_zframes *z = NULL;
	char *tmp = NULL;
	int64_t mtime = 0;
	int fd = -1, error;

	KILN_ASSERT_ARG(size_out != NULL && sha256_out != NULL && repo_path != NULL &&
	                commit != NULL && archive_path != NULL);
	kiln_layer__git_setup();
	error = git_repository_open(&repo, repo_path);
	if (error < 0) {
		error = kiln_layer__git_fail(error, "cannot open '%s'", repo_path);
		goto done;
	}
	error = kiln_layer__open_tree(&tree, &mtime, repo, commit, subdir);
	if (error < 0)
		goto done;
	tmp = kiln_xasprintf("%s.tmp-XXXXXX", archive_path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0644) != 0) {
		error = kiln_error_set(KILN_ERROR, "cannot create '%s': %s", tmp, strerror(errno));
		goto done;
	}
	error = kiln_zframes_new(&z, fd);
	if (error == 0)
		error = write_archive(z, repo, repo_path, git_tree_id(tree), mtime);
	if (error == 0) {
		error = kiln_zframes_finish(z, size_out, sha256_out);
		if (error < 0)
			kiln_error_prefix(error, "cannot write '%s'", archive_path);
	}
	if (error < 0)
		goto done;
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		error = kiln_error_set(KILN_ERROR, "cannot write '%s': %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1;
	if (rename(tmp, archive_path) != 0) {
		error = kiln_error_set(KILN_ERROR, "cannot rename '%s': %s", tmp, strerror(errno));
		goto done;
	}
	fsync_dir(archive_path);
	free(tmp);
	tmp = NULL;
done:
	kiln_zframes_free(z);
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	git_tree_free(tree);
	git_repository_free(repo);
	free(tmp);
	return error;
}
