/*
 * Copy a directory tree exactly: file types (devices and overlay whiteouts
 * included), owners, modes, extended attributes, times, symlinks and hard
 * links. Every step works relative to open directory descriptors and never
 * follows a symlink, so a tree that its owner (an instance's root) can change
 * while it is copied cannot redirect a write outside the destination.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/common.h"
#include "localcloud/treecopy-int.h"

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *path; /* relative to the destination root */
};

struct tree_ctx {
	const struct lc_tree_opts *opts;
	int dst_root;
	struct hardlink *links;
	size_t nlinks, alinks;
	const char *src_top;
};

static int fail(const char *what, const char *rel)
{
	return kiln_error_set(KILN_ERROR, "cannot %s '%s': %s", what, *rel ? rel : ".",
	                      strerror(errno));
}

/* Overlay's bookkeeping that points at the old lower layers must not travel with a layer. */
static int keep_xattr(const struct tree_ctx *c, const char *name)
{
	if (!c->opts->capture || strncmp(name, "trusted.overlay.", 16) != 0)
		return 1;
	return strcmp(name + 16, "opaque") == 0 || strcmp(name + 16, "whiteout") == 0 ||
	       strcmp(name + 16, "whiteouts") == 0;
}

/* Copy the extended attributes of `src` (a /proc/self/fd path or fd) to `dst`. */
static int copy_xattrs(const struct tree_ctx *c, int sfd, int dfd, const char *spath,
                       const char *dpath, const char *rel)
{
	char names[65536], value[65536];
	ssize_t len, vlen;
	int error = 0;

	len = sfd >= 0 ? flistxattr(sfd, names, sizeof(names))
	               : llistxattr(spath, names, sizeof(names));
	if (len < 0)
		return errno == ENOTSUP ? 0 : fail("list the attributes of", rel);
	for (char *n = names; n < names + len; n += strlen(n) + 1) {
		if (!keep_xattr(c, n))
			continue;
		vlen = sfd >= 0 ? fgetxattr(sfd, n, value, sizeof(value))
		                : lgetxattr(spath, n, value, sizeof(value));
		if (vlen < 0) {
			if (errno == ENODATA)
				continue;
			error = fail("read the attributes of", rel);
			break;
		}
		if ((dfd >= 0 ? fsetxattr(dfd, n, value, (size_t)vlen, 0)
		              : lsetxattr(dpath, n, value, (size_t)vlen, 0)) < 0) {
			error = kiln_error_set(KILN_ERROR, "cannot set attribute '%s' on '%s': %s",
			                       n, rel, strerror(errno));
			break;
		}
	}
	return error;
}

static int copy_data(int sfd, int dfd, const char *rel)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = copy_file_range(sfd, NULL, dfd, NULL, (size_t)1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return fail("copy", rel);
		break;
	}
	while ((n = read(sfd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail("read", rel);
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(dfd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return fail("write", rel);
			off += w;
		}
	}
	return 0;
}

static int finish_fd(const struct tree_ctx *c, int sfd, int dfd, const struct stat *st,
                     const char *rel)
{
	struct timespec times[2] = {st->st_atim, st->st_mtim};

	if (fchown(dfd, st->st_uid, st->st_gid) < 0)
		return fail("set the owner of", rel);
	/* After chown, which clears set-id bits. */
	if (fchmod(dfd, st->st_mode & 07777) < 0)
		return fail("set the mode of", rel);
	if (copy_xattrs(c, sfd, dfd, NULL, NULL, rel) < 0)
		return -1;
	if (futimens(dfd, times) < 0)
		return fail("set the times of", rel);
	return 0;
}

static int copy_file(struct tree_ctx *c, int sdir, int ddir, const char *name,
                     const struct stat *st, const char *rel)
{
	int sfd = -1, dfd = -1, error = 0;

	if (c->opts->link && linkat(sdir, name, ddir, name, 0) == 0)
		return 0;
	sfd = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (sfd < 0) {
		/* Gone since it was listed: a running instance changed its files (NoReboot). */
		if (errno != ENOENT)
			error = fail("open", rel);
		goto done;
	}
	dfd = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd < 0) {
		error = fail("create", rel);
		goto done;
	}
	error = copy_data(sfd, dfd, rel);
	if (error == 0)
		error = finish_fd(c, sfd, dfd, st, rel);
done:
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	return error;
}

/* Symlinks, devices, whiteouts, fifos and sockets: no descriptor to work through. */
static int copy_special(const struct tree_ctx *c, int sdir, int ddir, const char *name,
                        const struct stat *st, const char *rel)
{
	struct timespec times[2] = {st->st_atim, st->st_mtim};
	char *spath = kiln_xasprintf("/proc/self/fd/%d/%s", sdir, name);
	char *dpath = kiln_xasprintf("/proc/self/fd/%d/%s", ddir, name);
	char target[4096];
	ssize_t n;
	int error = 0;

	if (S_ISLNK(st->st_mode)) {
		n = readlinkat(sdir, name, target, sizeof(target) - 1);
		if (n < 0) {
			if (errno != ENOENT)
				error = fail("read the link", rel);
			goto done;
		}
		target[n] = '\0';
		if (symlinkat(target, ddir, name) < 0) {
			error = fail("create", rel);
			goto done;
		}
	} else if (mknodat(ddir, name, st->st_mode & (S_IFMT | 0600), st->st_rdev) < 0) {
		error = fail("create", rel);
		goto done;
	}
	if (fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0) {
		error = fail("set the owner of", rel);
		goto done;
	}
	if (!S_ISLNK(st->st_mode) && fchmodat(ddir, name, st->st_mode & 07777, 0) < 0) {
		error = fail("set the mode of", rel);
		goto done;
	}
	error = copy_xattrs(c, -1, -1, spath, dpath, rel);
	if (error == 0 && utimensat(ddir, name, times, AT_SYMLINK_NOFOLLOW) < 0)
		error = fail("set the times of", rel);
done:
	free(spath);
	free(dpath);
	return error;
}

static int skip_entry(const struct tree_ctx *c, const char *rel, const struct stat *st)
{
	if (!c->opts->capture)
		return 0;
	/* A builder's host keys and per-instance state stay out of images. */
	if (S_ISREG(st->st_mode) && strncmp(rel, "etc/ssh/ssh_host_", 17) == 0)
		return 1;
	return strcmp(rel, "var/lib/kiln-init") == 0;
}

static int copy_tree_at(struct tree_ctx *c, int sfd, int dfd, struct kiln_buf *rel);

static int copy_entry(struct tree_ctx *c, int sdir, int ddir, const char *name,
                      struct kiln_buf *rel)
{
	struct stat st;
	int error = 0, sfd = -1, dfd = -1;

	if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : fail("inspect", rel->ptr);
	if (skip_entry(c, rel->ptr, &st))
		return 0;
	if (S_ISDIR(st.st_mode)) {
		sfd = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			return errno == ENOENT ? 0 : fail("open", rel->ptr);
		if (mkdirat(ddir, name, 0700) < 0 ||
		    (dfd = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
		        0) {
			error = fail("create", rel->ptr);
		} else {
			error = copy_tree_at(c, sfd, dfd, rel);
			if (error == 0)
				error = finish_fd(c, sfd, dfd, &st, rel->ptr);
		}
		close(sfd);
		if (dfd >= 0)
			close(dfd);
		return error;
	}
	if (S_ISREG(st.st_mode) && st.st_nlink > 1 && !c->opts->link) {
		for (size_t i = 0; i < c->nlinks; i++)
			if (c->links[i].dev == st.st_dev && c->links[i].ino == st.st_ino)
				return linkat(c->dst_root, c->links[i].path, ddir, name, 0) < 0
				           ? fail("link", rel->ptr)
				           : 0;
		if (c->nlinks == c->alinks) {
			c->alinks = c->alinks ? 2 * c->alinks : 64;
			c->links = kiln_xrealloc(c->links, c->alinks * sizeof(*c->links));
		}
		c->links[c->nlinks].dev = st.st_dev;
		c->links[c->nlinks].ino = st.st_ino;
		c->links[c->nlinks++].path = kiln_xstrdup(rel->ptr);
	}
	if (S_ISREG(st.st_mode))
		return copy_file(c, sdir, ddir, name, &st, rel->ptr);
	return copy_special(c, sdir, ddir, name, &st, rel->ptr);
}

static int copy_tree_at(struct tree_ctx *c, int sfd, int dfd, struct kiln_buf *rel)
{
	int fd = dup(sfd), error = 0;
	size_t base = rel->size;
	struct dirent *de;
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return fail("read directory", rel->ptr);
	}
	while (error == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (base > 0)
			kiln_buf_putc(rel, '/');
		kiln_buf_puts(rel, de->d_name);
		error = copy_entry(c, sfd, dfd, de->d_name, rel);
		kiln_buf_truncate(rel, base);
	}
	if (error == 0 && errno != 0)
		error = fail("read directory", rel->ptr);
	closedir(d);
	return error;
}

int lc_tree_copy(const char *dst, const char *src, const struct lc_tree_opts *opts)
{
	struct tree_ctx c;
	struct kiln_buf rel = KILN_BUF_INIT;
	struct stat st;
	int sfd = -1, dfd = -1, error = 0;

	memset(&c, 0, sizeof(c));
	c.opts = opts;
	c.dst_root = -1;
	kiln_buf_init(&rel, 1 << 20);
	sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || fstat(sfd, &st) < 0) {
		error = kiln_error_set(KILN_ERROR, "cannot open directory '%s': %s", src,
		                       strerror(errno));
		goto done;
	}
	if (mkdir(dst, 0700) < 0 ||
	    (dfd = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		error = kiln_error_set(KILN_ERROR, "cannot create directory '%s': %s", dst,
		                       strerror(errno));
		goto done;
	}
	c.dst_root = dfd;
	error = copy_tree_at(&c, sfd, dfd, &rel);
	if (error == 0)
		error = finish_fd(&c, sfd, dfd, &st, "");
	if (error < 0)
		kiln_error_prefix(error, "cannot copy '%s' to '%s'", src, dst);
done:
	for (size_t i = 0; i < c.nlinks; i++)
		free(c.links[i].path);
	free(c.links);
	kiln_buf_release(&rel);
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	return error;
}
