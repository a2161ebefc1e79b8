/*
 * What a refresh of one profile found and did (kiln/refresh.h): read access
 * and JSON. The struct is pipelines/refresh.c's.
 */
#include "core/common.h"
#include "core/util.h"
#include "kiln/refresh.h"
#include "pipelines/refresh-int.h"

#include <jansson.h>

const char *kiln_refresh_result_status(const struct kiln_refresh_result *r)
{
	return r->status;
}

size_t kiln_refresh_result_reason_count(const struct kiln_refresh_result *r)
{
	return r->nreasons;
}

const char *kiln_refresh_result_reason(const struct kiln_refresh_result *r, size_t i)
{
	KILN_ASSERT_ARG(i < r->nreasons);
	return r->reasons[i];
}

const char *kiln_refresh_result_image_id(const struct kiln_refresh_result *r)
{
	return r->image_id;
}

int kiln_refresh_result_tested(const struct kiln_refresh_result *r)
{
	return r->tested;
}

int kiln_refresh_result_deployed(const struct kiln_refresh_result *r)
{
	return r->deployed;
}

int kiln_refresh_result_to_json(char **out, const struct kiln_refresh_result *r)
{
	json_t *j, *reasons = json_array();
	size_t i;

	KILN_ASSERT_ARG(out != NULL && r != NULL);
	for (i = 0; i < r->nreasons; i++)
		json_array_append_new(reasons, json_string(r->reasons[i]));
	j = json_pack("{s:s, s:s?, s:s, s:o, s:b, s:s?, s:s?, s:s?, s:s?, s:b, s:b, s:b, s:s?, "
	              "s:s?}",
	              "profile", r->profile, "env", r->env, "status", r->status, "reasons", reasons,
	              "live", r->live, "old_image", r->old_image, "old_bake_key", r->old_key,
	              "bake_key", r->key[0] ? r->key : NULL, "image_id", r->image_id, "cache_hit",
	              r->cache_hit, "tested", r->tested, "deployed", r->deployed, "url", r->url,
	              "error", r->error);
	if (j == NULL)
		kiln_die("out of memory");
	*out = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (*out == NULL)
		kiln_die("out of memory");
	return 0;
}

void kiln_refresh_result_free(struct kiln_refresh_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nreasons; i++)
		free(r->reasons[i]);
	free(r->reasons);
	free(r->profile);
	free(r->env);
	free(r->status);
	free(r->error);
	free(r->old_image);
	free(r->old_key);
	free(r->image_id);
	free(r->url);
	free(r);
}
