/*
 * A disaster-recovery drill: a local cloud of the drill's own (a new state
 * directory, its own port and network), the source images the profiles
 * ask for made in it, the world rebuilt into it with every profile's smoke
 * checks run against its production URL, and the cloud removed with its
 * directory at the end, whatever happened. The profiles' own targets are
 * set aside: a drill rehearses the rebuild, not the account.
 */
#include "pipelines/world-int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "kiln/cloud.h"

#define DRILL_DEFAULT_PORT 4576
#define DRILL_DEFAULT_CIDR "172.30.0.0/16"
#define DRILL_DOWN_TIMEOUT 120.0

/* The drill cloud's port, or -1 (the error set) for a $KILN_DRILL_PORT that is none. */
static int drill_port(const struct kiln_world_options *o)
{
	const char *v = getenv("KILN_DRILL_PORT");
	char *end;
	long port;

	if (o->drill_port > 0)
		return o->drill_port;
	if (v == NULL || v[0] == '\0')
		return DRILL_DEFAULT_PORT;
	errno = 0;
	port = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
		char *shown = kiln_escape(v);
		kiln_error_set(KILN_EINVAL, "KILN_DRILL_PORT: '%s' is not a port (1-65535)", shown);
		free(shown);
		return -1;
	}
	return (int)port;
}

static const char *drill_cidr(const struct kiln_world_options *o)
{
	const char *v = getenv("KILN_DRILL_CIDR");

	if (o->drill_cidr != NULL)
		return o->drill_cidr;
	return v != NULL && v[0] != '\0' ? v : DRILL_DEFAULT_CIDR;
}

/* Is `path` missing or an empty directory? */
static int dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int empty = 1;

	if (d == NULL)
		return errno == ENOENT;
	while (empty && (e = readdir(d)) != NULL)
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/* The drill's directory: given (made if missing), else a new one under $TMPDIR. */
static int drill_dir(char **out, const struct kiln_world_options *o)
{
	const char *tmp = getenv("TMPDIR");
	char *templ;

	if (o->drill_dir != NULL) {
		/* removed whole at the end: never a directory that holds something already */
		if (!dir_empty(o->drill_dir)) {
			char *shown = kiln_escape(o->drill_dir);
			kiln_error_set(
			    KILN_EINVAL,
			    "drill: '%s' is not empty (the drill removes its directory at "
			    "the end): name a new or empty one",
			    shown);
			free(shown);
			return KILN_EINVAL;
		}
		*out = kiln_xstrdup(o->drill_dir);
		return kiln_mkdir_p(*out, 0700);
	}
	templ = kiln_xasprintf("%s/kiln-drill-XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(templ) == NULL) {
		int e = errno;
		kiln_error_set(KILN_ERROR, "cannot create '%s': %s", templ, strerror(e));
		free(templ);
		return KILN_ERROR;
	}
	*out = templ;
	return 0;
}

/* The name of an image a source filter matches: each wildcard becomes "drill". */
static char *image_name_for(const char *filter)
{
	struct kiln_buf b = KILN_BUF_INIT;

	for (const char *p = filter; *p != '\0'; p++) {
		if (*p == '*' || *p == '?')
			kiln_buf_puts(&b, "drill");
		else
			kiln_buf_putc(&b, *p);
	}
	return kiln_buf_detach(&b);
}

/*
 * One base image (Debian, debootstrapped once per machine) per source image
 * name the profiles ask for. A profile naming its source by id or by tags
 * alone gets nothing here: its bake fails, and the drill says so.
 */
static int base_images(struct kiln_world *w, const char *state)
{
	char **names = kiln_xcalloc(w->n + 1, sizeof(*names));
	size_t nnames = 0;
	int error = 0;

	for (size_t i = 0; i < w->n && error >= 0; i++) {
		const char *filter = w->nodes[i].profile->bake.source_image.name;
		char *name, *id = NULL;
		size_t k;

		if (w->nodes[i].profile->bake.source_image.id != NULL || filter == NULL)
			continue;
		name = image_name_for(filter);
		for (k = 0; k < nnames && strcmp(names[k], name) != 0; k++)
			;
		if (k < nnames) {
			free(name);
			continue;
		}
		names[nnames++] = name;
		kiln_world__say(w, NULL, "drill: making the base image '%s'", name);
		error = kiln_cloud_image_debootstrap(&id, state, name, NULL);
		if (error < 0)
			kiln_error_prefix(error, "drill: the base image '%s'", name);
		free(id);
	}
	for (size_t k = 0; k < nnames; k++)
		free(names[k]);
	free(names);
	return error;
}

static void all_local(struct kiln_world *w)
{
	for (size_t i = 0; i < w->n; i++) {
		struct kiln_profile *p = w->nodes[i].profile;

		free(p->target);
		p->target = kiln_xstrdup("local");
	}
}

/* Stop the drill's cloud and remove its directory; the first failure is kept. */
static int teardown(struct kiln_world *w, const char *dir, const char *state, int error)
{
	int rc = kiln_cloud_down(state, DRILL_DOWN_TIMEOUT);

	if (rc == KILN_ENOTFOUND)
		rc = 0;
	if (rc < 0 && error >= 0)
		error = kiln_error_prefix(rc, "drill: stopping its cloud");
	if (rc >= 0 && kiln_rm_rf(dir) < 0 && error >= 0)
		error = kiln_error_prefix(KILN_ERROR, "drill: removing '%s'", dir);
	kiln_world__say(w, NULL, "drill: %s",
	                rc >= 0 ? "its cloud is removed" : "its cloud could not be stopped");
	return error;
}

int kiln_world__drill(struct kiln_world *w)
{
	const struct kiln_world_options *o = w->opts;
	struct kiln_cloud_opts co = {0};
	struct world_target t = {.smoke = 1};
	char *dir = NULL, *state = NULL, *kstate = NULL, *cache = NULL, *endpoint = NULL;
	int error, up = 0;

	w->drill = 1;
	co.port = drill_port(o);
	if (co.port < 0)
		return KILN_EINVAL;
	error = drill_dir(&dir, o);
	if (error < 0) {
		free(dir);
		return error;
	}
	state = kiln_path_join(dir, "cloud");
	kstate = kiln_path_join(dir, "state");
	cache = kiln_path_join(dir, "cache");
	co.state_dir = state;
	co.cidr = drill_cidr(o);
	co.init_exe = o->local_init_exe;
	kiln_world__say(w, NULL, "drill: starting a local cloud on port %d, network %s", co.port,
	                co.cidr);
	/* Before any thread: the daemon is a fork of this process. */
	error = kiln_cloud_up(&endpoint, &co);
	if (error < 0) {
		kiln_error_prefix(error, "drill: starting its cloud");
		goto done;
	}
	up = 1;
	all_local(w);
	error = base_images(w, state);
	if (error < 0 || (o->stop != NULL && *o->stop))
		goto done;
	t.state_dir = kstate;
	t.cache_dir = cache;
	t.local_endpoint = endpoint;
	t.local_cidr = co.cidr;
	t.local_init_exe = o->local_init_exe;
	error = kiln_world__run(w, &t);
done:
	if (o->stop != NULL && *o->stop && error >= 0)
		error = kiln_error_set(KILN_EINTR, "drill stopped");
	{
		/* The teardown runs whatever the error; keep the first message. */
		int code = error;
		char *msg = error < 0 ? kiln_xstrdup(kiln_error_last()) : NULL;

		if (up || dir != NULL)
			error = teardown(w, dir, state, error);
		if (msg != NULL && error == code)
			kiln_error_set(code, "%s", msg);
		free(msg);
	}
	free(endpoint);
	free(cache);
	free(kstate);
	free(state);
	free(dir);
	return error;
}
