/*
 * Image layers: plain directories stacked as overlay lower directories. A
 * layer is built under a temporary sibling name and renamed into place, so
 * a layer directory that exists is complete.
 *
 * The debootstrap base is built once per cache directory (under a flock, so
 * concurrent callers wait for one build) and each layer made from it is a
 * tree of hard links to the cached files: lower layers are never written.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/proc.h"
#include "core/util.h"
#include "localcloud/treecopy-int.h"
#include "localcloud/runtime-int.h"

#define DEBIAN_MIRROR        "http://deb.debian.org/debian"
#define DEBOOTSTRAP_PACKAGES "openssh-server,busybox,ca-certificates"

/* "<layer_dir>.tmp-<random>": same directory, so the final rename is atomic. */
static char *tmp_sibling(const char *path)
{
	char *rnd = kiln_id_random("", 8);
	char *tmp = kiln_xasprintf("%s.tmp-%s", path, rnd);

	free(rnd);
	return tmp;
}

static int check_new(const char *layer_dir)
{
	char *parent;
	int error;

	if (access(layer_dir, F_OK) == 0)
		return kiln_error_set(KILN_EEXISTS, "layer '%s' already exists", layer_dir);
	parent = kiln_path_dirname(layer_dir);
	error = kiln_mkdir_p(parent, 0755);
	free(parent);
	return error;
}

static int publish(const char *tmp, const char *layer_dir)
{
	char *parent = kiln_path_dirname(layer_dir);
	int fd, error = 0;

	/* A layer is read-only for everyone but root; overlay needs it readable. */
	if (chmod(tmp, 0755) < 0 || rename(tmp, layer_dir) < 0) {
		error = kiln_error_set(errno == ENOTEMPTY || errno == EEXIST ? KILN_EEXISTS
		                                                             : KILN_ERROR,
		                       "cannot create layer '%s': %s", layer_dir, strerror(errno));
		goto done;
	}
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
done:
	free(parent);
	return error;
}

static void discard(const char *tmp)
{
	lc_unmount_below(tmp);
	if (kiln_rm_rf(tmp) < 0)
		kiln_log_warn("%s", kiln_error_last());
}

/* In a child process: it may chdir(), which libarchive's secure flags need. */
static int extract_here(const char *tarball, char *msg, size_t msglen)
{
	const int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
	                  ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL |
	                  ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	                  ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_SPARSE;
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *entry;
	const void *block;
	size_t size;
	la_int64_t offset;
	int r, rc = 1;

	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_read_support_format_cpio(in);
	archive_write_disk_set_options(out, flags);
	if (archive_read_open_filename(in, tarball, 1 << 16) != ARCHIVE_OK) {
		snprintf(msg, msglen, "%s", archive_error_string(in));
		goto done;
	}
	while ((r = archive_read_next_header(in, &entry)) == ARCHIVE_OK) {
		if (archive_write_header(out, entry) != ARCHIVE_OK) {
			snprintf(msg, msglen, "%s", archive_error_string(out));
			goto done;
		}
		while ((r = archive_read_data_block(in, &block, &size, &offset)) == ARCHIVE_OK) {
			if (archive_write_data_block(out, block, size, offset) != ARCHIVE_OK) {
				snprintf(msg, msglen, "%s", archive_error_string(out));
				goto done;
			}
		}
		if (r != ARCHIVE_EOF) {
			snprintf(msg, msglen, "%s", archive_error_string(in));
			goto done;
		}
		if (archive_write_finish_entry(out) != ARCHIVE_OK) {
			snprintf(msg, msglen, "%s", archive_error_string(out));
			goto done;
		}
	}
	if (r != ARCHIVE_EOF) {
		snprintf(msg, msglen, "%s", archive_error_string(in));
		goto done;
	}
	if (archive_write_close(out) != ARCHIVE_OK) {
		snprintf(msg, msglen, "%s", archive_error_string(out));
		goto done;
	}
	rc = 0;
done:
	archive_read_free(in);
	archive_write_free(out);
	return rc;
}

static int extract_tarball(const char *dir, const char *tarball)
{
	struct kiln_buf msg = KILN_BUF_INIT;
	char chunk[1024];
	int pipefd[2], st = 0, error = 0;
	ssize_t n;
	pid_t pid;

	kiln_buf_init(&msg, 4096);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return kiln_error_set(KILN_ERROR, "cannot create a pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		char m[1024] = "";
		int rc;
		close(pipefd[0]);
		if (chdir(dir) < 0) {
			snprintf(m, sizeof(m), "cannot enter '%s': %s", dir, strerror(errno));
			rc = 1;
		} else {
			rc = extract_here(tarball, m, sizeof(m));
		}
		if (rc != 0 && write(pipefd[1], m, strlen(m)) < 0)
			rc = 2;
		_exit(rc);
	}
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return kiln_error_set(KILN_ERROR, "cannot fork: %s", strerror(errno));
	}
	while ((n = read(pipefd[0], chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || kiln_buf_put(&msg, chunk, (size_t)n) < 0)
			break;
	}
	close(pipefd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		error = kiln_error_set(KILN_EINVAL, "cannot extract '%s': %s", tarball,
		                       msg.size ? msg.ptr : "the extracting process failed");
	kiln_buf_release(&msg);
	return error;
}

int lc_layer_import(const char *layer_dir, const char *rootfs_dir_or_tarball)
{
	static const struct lc_tree_opts copy = {0, 0};
	char *tmp = NULL;
	struct stat st;
	int error;

	KILN_ASSERT_ARG(layer_dir != NULL && rootfs_dir_or_tarball != NULL);
	if (stat(rootfs_dir_or_tarball, &st) < 0)
		return kiln_error_set(errno == ENOENT ? KILN_ENOTFOUND : KILN_ERROR,
		                      "cannot import '%s': %s", rootfs_dir_or_tarball,
		                      strerror(errno));
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return kiln_error_set(KILN_EINVAL,
		                      "cannot import '%s': not a directory or an archive",
		                      rootfs_dir_or_tarball);
	error = check_new(layer_dir);
	if (error < 0)
		return error;
	tmp = tmp_sibling(layer_dir);
	if (S_ISDIR(st.st_mode)) {
		error = lc_tree_copy(tmp, rootfs_dir_or_tarball, &copy);
	} else if (mkdir(tmp, 0700) < 0) {
		error = kiln_error_set(KILN_ERROR, "cannot create directory '%s': %s", tmp,
		                       strerror(errno));
	} else {
		error = extract_tarball(tmp, rootfs_dir_or_tarball);
	}
	if (error == 0)
		error = publish(tmp, layer_dir);
	if (error < 0)
		discard(tmp);
	free(tmp);
	return error;
}

int lc_layer_capture(const char *layer_dir, const char *upper_dir)
{
	static const struct lc_tree_opts capture = {0, 1};
	char *tmp;
	int error;

	KILN_ASSERT_ARG(layer_dir != NULL && upper_dir != NULL);
	error = check_new(layer_dir);
	if (error < 0)
		return error;
	tmp = tmp_sibling(layer_dir);
	error = lc_tree_copy(tmp, upper_dir, &capture);
	if (error == 0)
		error = publish(tmp, layer_dir);
	if (error < 0)
		discard(tmp);
	free(tmp);
	return error;
}

/* The last lines of debootstrap's log, for the error message. */
static void log_tail(struct kiln_buf *out, const char *log)
{
	struct kiln_buf all = KILN_BUF_INIT;
	const char *p;
	int lines = 0;

	if (kiln_file_read(&all, log) < 0) {
		kiln_error_clear();
		goto done;
	}
	kiln_buf_rtrim(&all);
	for (p = all.ptr + all.size; p > all.ptr; p--)
		if (p[-1] == '\n' && ++lines == 2)
			break;
	kiln_buf_puts(out, p);
	for (char *c = out->ptr; *c; c++)
		if (*c == '\n')
			*c = ' ';
done:
	kiln_buf_release(&all);
}

/* Host keys made by openssh-server's postinst and the downloaded packages stay out. */
static void trim_rootfs(const char *root)
{
	static const char *const patterns[] = {"/etc/ssh/ssh_host_*",
	                                       "/var/cache/apt/archives/*.deb"};

	for (size_t i = 0; i < KILN_ARRAY_SIZE(patterns); i++) {
		char *pat = kiln_xasprintf("%s%s", root, patterns[i]);
		glob_t g;
		if (glob(pat, 0, NULL, &g) == 0) {
			for (size_t j = 0; j < g.gl_pathc; j++)
				unlink(g.gl_pathv[j]);
			globfree(&g);
		}
		free(pat);
	}
}

static int run_debootstrap(const char *target, const char *suite, const char *base, const char *log)
{
	const char *mirror = getenv("KILN_DEBIAN_MIRROR");
	char *debs = kiln_xasprintf("--cache-dir=%s/debs", base);
	char *debsdir = kiln_xasprintf("%s/debs", base);
	char *const argv[] = {"debootstrap",
	                      "--variant=minbase",
	                      "--include=" DEBOOTSTRAP_PACKAGES,
	                      debs,
	                      (char *)suite,
	                      (char *)target,
	                      (char *)(mirror && *mirror ? mirror : DEBIAN_MIRROR),
	                      NULL};
	struct kiln_proc proc = KILN_PROC_INIT;
	struct kiln_proc_opts opts = {
	    .in = KILN_PROC_NULL, .out = KILN_PROC_FD, .err = KILN_PROC_FD};
	struct kiln_buf tail = KILN_BUF_INIT;
	int fd, status = 0, error;

	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		error = kiln_error_set(KILN_ERROR, "cannot create '%s': %s", log, strerror(errno));
		goto done;
	}
	error = kiln_mkdir_p(debsdir, 0755);
	if (error < 0)
		goto done;
	opts.out_fd = opts.err_fd = fd;
	kiln_log_info("building the Debian %s base layer with debootstrap (log: %s)", suite, log);
	error = kiln_proc_start(&proc, argv, &opts);
	if (error == 0)
		error = kiln_proc_finish(&proc, &status);
	if (error == 0 && status != 0) {
		log_tail(&tail, log);
		error = kiln_error_set(KILN_ERROR, "debootstrap exited with %d: %s (log: %s)",
		                       status, tail.ptr, log);
	}
done:
	if (fd >= 0)
		close(fd);
	kiln_buf_release(&tail);
	free(debs);
	free(debsdir);
	return error;
}

static int build_base(const char *rootfs, const char *suite, const char *base)
{
	char *tmp = kiln_xasprintf("%s.tmp", rootfs);
	char *log = kiln_xasprintf("%s.log", rootfs);
	int error;

	/* Only the holder of the lock gets here: a leftover is from a crash. */
	discard(tmp);
	error = run_debootstrap(tmp, suite, base, log);
	/* debootstrap mounts /proc and /sys in the target; none may stay. */
	lc_unmount_below(tmp);
	if (error == 0) {
		trim_rootfs(tmp);
		if (rename(tmp, rootfs) < 0)
			error = kiln_error_set(KILN_ERROR, "cannot create '%s': %s", rootfs,
			                       strerror(errno));
	}
	if (error < 0)
		discard(tmp);
	free(tmp);
	free(log);
	return error;
}

int lc_layer_debootstrap(const char *layer_dir, const char *suite, const char *cache_dir)
{
	static const struct lc_tree_opts link = {1, 0};
	struct kiln_lock lock = KILN_LOCK_INIT;
	char *base = NULL, *rootfs = NULL, *lockpath = NULL, *tmp = NULL;
	int error;

	KILN_ASSERT_ARG(layer_dir != NULL && suite != NULL && cache_dir != NULL);
	if (suite[0] == '\0' ||
	    strspn(suite, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(suite))
		return kiln_error_set(KILN_EINVAL, "invalid Debian suite '%s'", suite);
	error = check_new(layer_dir);
	if (error < 0)
		return error;
	base = kiln_xasprintf("%s/localcloud", cache_dir);
	rootfs = kiln_xasprintf("%s/debian-%s-minbase", base, suite);
	lockpath = kiln_xasprintf("%s.lock", rootfs);
	error = kiln_lock_acquire(&lock, lockpath, 3600, NULL);
	if (error < 0)
		goto done;
	if (access(rootfs, F_OK) != 0)
		error = build_base(rootfs, suite, base);
	kiln_lock_release(&lock);
	if (error < 0)
		goto done;
	tmp = tmp_sibling(layer_dir);
	error = lc_tree_copy(tmp, rootfs, &link);
	if (error == 0)
		error = publish(tmp, layer_dir);
	if (error < 0)
		discard(tmp);
done:
	if (error < 0)
		kiln_error_prefix(error, "cannot build the Debian %s layer", suite);
	free(base);
	free(rootfs);
	free(lockpath);
	free(tmp);
	return error;
}
