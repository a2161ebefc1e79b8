/*
 * The profile's smoke checks (deploy.smoke) against a listener's URL. The
 * runner is validate/'s (HTTP over libcurl, retries after a swap, bounded
 * timeouts); the deploy only says where and reads the verdict.
 */
#include "core/json.h"
#include "deploy/deploy-int.h"

int kiln_deploy__smoke(struct deploy *d, const char *base_url, const char *where)
{
	const json_t *smoke = json_object_get(json_object_get(d->profile->json, "deploy"), "smoke");
	size_t n = json_array_size(smoke);

	if (n == 0 || d->opts->skip_smoke)
		return 0;
	/* validate/'s smoke runner is not part of this build yet: say so, never pretend. */
	kiln_deploy__warn(d,
	                  "%zu smoke checks through %s (%s) not run: this build has no smoke "
	                  "runner",
	                  n, where, base_url);
	return 0;
}
