/*
 * Finding an image's units: the services its wants-directories enable, and
 * each unit's file and drop-ins on systemd's search path. Every path is
 * resolved inside the image's root (openat2 with RESOLVE_IN_ROOT: absolute
 * symlinks such as /lib/systemd/system/x.service stay in the image), and only
 * small regular files are read, so a FIFO, a device or a huge file in an
 * image cannot stall or exhaust the init. See units-int.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/common.h"
#include "localcloud/units-int.h"

/* Bounds on what an image can make init read and hold. */
#define UNIT_MAX     ((size_t)256 << 10) /* one file */
#define UNIT_BUDGET  ((size_t)512 << 10) /* a unit's file and drop-ins together */
#define MAX_ENTRIES  4096                /* names read from one directory */
#define MAX_ENABLED  1024                /* wants entries in all */
#define MAX_DROP_INS 64

static const char *const search_path[] = {
    "etc/systemd/system",     "run/systemd/system", "usr/local/lib/systemd/system",
    "usr/lib/systemd/system", "lib/systemd/system",
};

static int open_root(const char *root)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		kiln_error_set(KILN_ERROR, "cannot open '%s': %s", root, strerror(errno));
	return fd;
}

/* `path` (leading '/' or not) inside the root `rootfd`, never outside it. */
static int open_in(int rootfd, const char *path, int flags)
{
	/* openat2() refuses flags O_PATH does not take. */
	int extra = (flags & O_PATH) ? O_CLOEXEC : O_CLOEXEC | O_NOCTTY;
	struct open_how how = {.flags = (unsigned long long)(flags | extra),
	                       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};

	while (*path == '/')
		path++;
	return (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
}

static int read_fd(struct kiln_buf *out, int fd, const char *shown, size_t cap)
{
	char chunk[65536];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return kiln_error_set(KILN_ERROR, "cannot stat '%s': %s", shown, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return kiln_error_set(KILN_EINVAL, "'%s' is not a regular file", shown);
	if ((uintmax_t)st.st_size > cap)
		return kiln_error_set(KILN_ETOOBIG, "'%s' is larger than %zu bytes", shown, cap);
	/* Bounded even if the file grows while it is read. */
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kiln_error_set(KILN_ERROR, "cannot read '%s': %s", shown,
			                      strerror(errno));
		if (out->size + (size_t)n > cap)
			return kiln_error_set(KILN_ETOOBIG, "'%s' is larger than %zu bytes", shown,
			                      cap);
		kiln_buf_put(out, chunk, (size_t)n);
	}
	return 0;
}

static int read_in(struct kiln_buf *out, int rootfd, const char *path, size_t cap)
{
	char *shown = kiln_escape(path);
	int fd, error;

	fd = open_in(rootfd, path, O_RDONLY | O_NONBLOCK);
	if (fd < 0) {
		error = kiln_error_set(errno == ENOENT ? KILN_ENOTFOUND : KILN_ERROR,
		                       "cannot open '%s': %s", shown, strerror(errno));
	} else {
		error = read_fd(out, fd, shown, cap);
		close(fd);
	}
	free(shown);
	return error;
}

int lc_root_read(struct kiln_buf *out, const char *root, const char *path, size_t cap)
{
	int rootfd = open_root(root), error;

	if (rootfd < 0)
		return KILN_ERROR;
	error = read_in(out, rootfd, path, cap);
	close(rootfd);
	return error;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort_unique(struct lc_strv *sv)
{
	size_t n = 0;

	if (sv->n == 0)
		return;
	qsort(sv->v, sv->n, sizeof(*sv->v), cmp_str);
	for (size_t i = 0; i < sv->n; i++) {
		if (n > 0 && strcmp(sv->v[n - 1], sv->v[i]) == 0)
			free(sv->v[i]);
		else
			sv->v[n++] = sv->v[i];
	}
	sv->n = n;
	sv->v[n] = NULL;
}

/* The names in directory `path` inside the root; an absent directory has none. */
static int list_dir(struct lc_strv *out, int rootfd, const char *path)
{
	struct dirent *e;
	size_t n = 0;
	DIR *d;
	int fd;

	fd = open_in(rootfd, path, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return kiln_error_set(KILN_ERROR, "cannot open '/%s': %s", path, strerror(errno));
	}
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return kiln_error_set(KILN_ERROR, "cannot read '/%s': %s", path, strerror(errno));
	}
	while ((e = readdir(d)) != NULL && n++ < MAX_ENTRIES)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			lc_strv_push(out, kiln_xstrdup(e->d_name));
	closedir(d);
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int lc_units_enabled(struct lc_strv *out, struct lc_strv *skipped, const char *root)
{
	struct lc_strv targets = {NULL, 0};
	int rootfd = open_root(root), error;

	if (rootfd < 0)
		return KILN_ERROR;
	error = list_dir(&targets, rootfd, search_path[0]);
	sort_unique(&targets);
	for (size_t i = 0; error == 0 && i < targets.n; i++) {
		struct lc_strv names = {NULL, 0};
		char *dir;

		if (!ends_with(targets.v[i], ".target.wants"))
			continue;
		dir = kiln_xasprintf("%s/%s", search_path[0], targets.v[i]);
		error = list_dir(&names, rootfd, dir);
		for (size_t j = 0; j < names.n; j++) {
			if (out->n + skipped->n >= MAX_ENABLED) {
				free(names.v[j]);
			} else if (lc_unit_name_valid(names.v[j]) &&
			           strstr(names.v[j], "@.") == NULL) {
				lc_strv_push(out, names.v[j]);
			} else {
				lc_strv_push(skipped, kiln_escape(names.v[j]));
				free(names.v[j]);
			}
		}
		free(names.v);
		free(dir);
	}
	sort_unique(out);
	sort_unique(skipped);
	lc_strv_release(&targets);
	close(rootfd);
	return error;
}

/* A link to /dev/null (or an empty file) masks a unit, as in systemd. */
static int masked(int rootfd, const char *dir, const char *name)
{
	char target[16];
	ssize_t n = -1;
	int dfd = open_in(rootfd, dir, O_PATH | O_DIRECTORY);

	if (dfd >= 0) {
		n = readlinkat(dfd, name, target, sizeof(target) - 1);
		close(dfd);
	}
	if (n < 0)
		return 0;
	target[n] = '\0';
	return strcmp(target, "/dev/null") == 0;
}

enum found { ABSENT, FOUND, MASKED };

/*
 * Read `name` from the first directory of `dirs` that has it: *found says
 * whether it was there (its text in `out`, its path in *path) or masked.
 */
static int find_file(enum found *found, struct kiln_buf *out, char **path, size_t *budget,
                     int rootfd, const char *name, const char *const *dirs, size_t ndirs)
{
	*found = ABSENT;
	for (size_t i = 0; i < ndirs; i++) {
		char *p = kiln_xasprintf("%s/%s", dirs[i], name);
		int error;

		if (masked(rootfd, dirs[i], name)) {
			free(p);
			*found = MASKED;
			return 0;
		}
		kiln_buf_clear(out);
		error = read_in(out, rootfd, p, *budget < UNIT_MAX ? *budget : UNIT_MAX);
		if (error == 0)
			*budget -= out->size;
		if (error == KILN_ENOTFOUND) {
			kiln_error_clear();
			free(p);
			continue;
		}
		free(*path);
		*path = kiln_xasprintf("/%s", p);
		free(p);
		if (error == 0)
			*found = out->size == 0 ? MASKED : FOUND;
		return error;
	}
	return 0;
}

/* "a@b.service" -> "a@.service"; NULL for a name that is no instance. */
static char *template_of(const char *name)
{
	const char *at = strchr(name, '@'), *dot = strrchr(name, '.');

	if (at == NULL || dot == NULL || dot == at + 1)
		return NULL;
	return kiln_xasprintf("%.*s%s", (int)(at - name + 1), name, dot);
}

/* The drop-ins of `names` (NAME.d/ *.conf), by file name, the first directory winning. */
static int parse_drop_ins(struct lc_unit *u, int rootfd, const char *const *names, size_t nnames,
                          size_t *budget, const struct lc_unit_ctx *ctx)
{
	struct lc_strv confs = {NULL, 0};
	struct kiln_buf text = KILN_BUF_INIT;
	int error = 0;

	for (size_t n = 0; n < nnames && names[n] != NULL; n++)
		for (size_t i = 0; error == 0 && i < KILN_ARRAY_SIZE(search_path); i++) {
			char *dir = kiln_xasprintf("%s/%s.d", search_path[i], names[n]);
			error = list_dir(&confs, rootfd, dir);
			free(dir);
		}
	sort_unique(&confs);
	for (size_t c = 0; error == 0 && c < confs.n && c < MAX_DROP_INS; c++) {
		enum found found = ABSENT;
		char *path = NULL;
		if (!ends_with(confs.v[c], ".conf"))
			continue;
		for (size_t n = 0; error == 0 && found == ABSENT && n < nnames && names[n]; n++) {
			const char *dirs[KILN_ARRAY_SIZE(search_path)];
			char *d[KILN_ARRAY_SIZE(search_path)];
			for (size_t i = 0; i < KILN_ARRAY_SIZE(search_path); i++)
				dirs[i] = d[i] =
				    kiln_xasprintf("%s/%s.d", search_path[i], names[n]);
			error = find_file(&found, &text, &path, budget, rootfd, confs.v[c], dirs,
			                  KILN_ARRAY_SIZE(search_path));
			for (size_t i = 0; i < KILN_ARRAY_SIZE(search_path); i++)
				free(d[i]);
		}
		/* A masked drop-in hides the same name further down the path: nothing to read. */
		if (error == 0 && found == FOUND)
			error = lc_unit_parse(u, path, text.ptr, text.size, ctx);
		free(path);
	}
	kiln_buf_release(&text);
	lc_strv_release(&confs);
	return error;
}

int lc_unit_load(struct lc_unit **out, const char *root, const char *name,
                 const struct lc_unit_ctx *ctx)
{
	struct kiln_buf text = KILN_BUF_INIT;
	struct lc_unit *u = kiln_xcalloc(1, sizeof(*u));
	char *template = template_of(name);
	const char *names[2] = {name, template};
	enum found found = ABSENT;
	size_t budget = UNIT_BUDGET;
	int rootfd = -1, error = 0;

	*out = NULL;
	lc_unit_init(u, name);
	rootfd = open_root(root);
	if (rootfd < 0) {
		error = KILN_ERROR;
		goto done;
	}
	for (size_t n = 0; error == 0 && found == ABSENT && n < 2 && names[n] != NULL; n++)
		error = find_file(&found, &text, &u->path, &budget, rootfd, names[n], search_path,
		                  KILN_ARRAY_SIZE(search_path));
	if (error == 0 && found == ABSENT)
		error = kiln_error_set(KILN_ENOTFOUND, "no unit file");
	else if (error == 0 && found == MASKED)
		error = kiln_error_set(KILN_EINVAL, "masked");
	if (error == 0)
		error = lc_unit_parse(u, u->path, text.ptr, text.size, ctx);
	if (error == 0)
		error = parse_drop_ins(u, rootfd, names, 2, &budget, ctx);
	if (error == 0)
		error = lc_unit_check(u);
done:
	if (rootfd >= 0)
		close(rootfd);
	if (error == 0)
		*out = u;
	else
		lc_unit_free(u);
	kiln_buf_release(&text);
	free(template);
	return error;
}
