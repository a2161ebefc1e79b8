#include "deploy/names.h"
#include "core/common.h"
#include "core/util.h"

#include <string.h>

static const char *const colors[] = {"blue", "green"};

const char *kiln_color_name(int color)
{
	return color == KILN_GREEN ? colors[1] : colors[0];
}

int kiln_color_parse(const char *name)
{
	if (name == NULL)
		return -1;
	if (strcmp(name, "blue") == 0)
		return KILN_BLUE;
	if (strcmp(name, "green") == 0)
		return KILN_GREEN;
	return -1;
}

const char *kiln_deploy_env_name(const char *env)
{
	return env != NULL && env[0] != '\0' ? env : "default";
}

/* Keep only what every AWS name accepts; anything else becomes '-'. */
static void sanitize(char *s, const char *extra)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      (*s >= 'A' && *s <= 'Z') || strchr(extra, *s) != NULL))
			*s = '-';
}

/* `whole` cut to `limit` with the hash of the whole at its end; takes `whole` over. */
static char *fit(char *whole, size_t limit)
{
	char hash[65], *cut;
	size_t keep;

	if (strlen(whole) <= limit)
		return whole;
	kiln_sha256_hex(hash, whole, strlen(whole));
	keep = limit - 7;
	while (keep > 0 && whole[keep - 1] == '-')
		keep--;
	cut = kiln_xasprintf("%.*s-%.6s", (int)keep, whole, hash);
	free(whole);
	return cut;
}

char *kiln_deploy_name(const char *profile, const char *env, const char *suffix, size_t limit)
{
	char *whole;

	KILN_ASSERT_ARG(profile != NULL && limit >= 16);
	whole = kiln_xasprintf("kiln-%s-%s%s%s", profile, kiln_deploy_env_name(env),
	                       suffix != NULL ? "-" : "", suffix != NULL ? suffix : "");
	sanitize(whole, "-");
	return fit(whole, limit);
}

char *kiln_deploy_group_name(const char *profile, const char *env, int color, const char *release,
                             const char *run_id)
{
	char *rel = kiln_xstrdup(release != NULL && release[0] != '\0' ? release : "norelease");
	char *whole;

	sanitize(rel, ".-_");
	whole = kiln_xasprintf("kiln-%s-%s-%s-%.64s-%s", profile, kiln_deploy_env_name(env),
	                       kiln_color_name(color), rel, run_id);
	free(rel);
	return fit(whole, 255);
}

char *kiln_deploy_lease_name(const char *profile, const char *env)
{
	return kiln_xasprintf("%s/%s/%s", KILN_DEPLOY_LEASE_PATH, profile,
	                      kiln_deploy_env_name(env));
}
