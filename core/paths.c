#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/paths.h"
#include "core/util.h"

static const char *env_value(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/*
 * `kiln_var`, else $`xdg_var`/kiln when absolute (the XDG specification
 * ignores relative values), else $HOME/`home_rel`.
 */
static int resolve(char **out, const char *given, const char *kiln_var, const char *xdg_var,
                   const char *home_rel, const char *what)
{
	const char *v;

	KILN_ASSERT_ARG(out != NULL);
	*out = NULL;
	if (given != NULL && given[0] != '\0') {
		*out = kiln_xstrdup(given);
		return 0;
	}
	v = env_value(kiln_var);
	if (v != NULL) {
		*out = kiln_xstrdup(v);
		return 0;
	}
	v = env_value(xdg_var);
	if (v != NULL && v[0] == '/') {
		*out = kiln_path_join(v, "kiln");
		return 0;
	}
	v = env_value("HOME");
	if (v == NULL)
		return kiln_error_set(KILN_EINVAL, "cannot find a %s directory: set %s or HOME",
		                      what, kiln_var);
	*out = kiln_path_join(v, home_rel);
	return 0;
}

int kiln_paths_cache(char **out)
{
	return resolve(out, NULL, "KILN_CACHE", "XDG_CACHE_HOME", ".cache/kiln", "cache");
}

int kiln_paths_state(char **out, const char *given)
{
	return resolve(out, given, "KILN_STATE_DIR", "XDG_STATE_HOME", ".local/state/kiln",
	               "state");
}

const char *kiln_paths_cloud_state(const char *given)
{
	const char *v;

	if (given != NULL && given[0] != '\0')
		return given;
	v = env_value("KILN_CLOUD_STATE_DIR");
	return v != NULL ? v : KILN_CLOUD_DEFAULT_STATE_DIR;
}

int kiln_paths_cache_sub(char **out, const char *sub)
{
	char *cache = NULL;
	int error = kiln_paths_cache(&cache);

	if (error < 0)
		return error;
	*out = kiln_path_join(cache, sub);
	free(cache);
	return 0;
}
