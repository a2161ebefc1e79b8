#include "profiles/profile.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/json.h"
#include "core/util.h"
#include "profiles/position.h"
#include "profiles/schema.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Defaults, laid under the profile before use: objects merge, everything
 * else in the profile wins. profiles/README.md documents each one.
 */
static const char defaults_json[] =
    "{"
    "\"target\": \"local\","
    "\"bake\": {"
    "  \"source_image\": {\"name\": \"debian-12-*\", \"owners\": [\"self\"]},"
    "  \"instance_type\": \"t3.small\", \"ssh_user\": \"root\", \"encrypted\": false,"
    "  \"ssh\": {\"host_key_check\": \"strict\", \"timeout_s\": 300, \"port\": 22},"
    "  \"timeout_s\": 3600, \"provision_timeout_s\": 1800,"
    "  \"layer_dir\": \"/opt/kiln/layers\", \"variables\": {}},"
    "\"validate\": {\"checks\": [], \"http\": []},"
    "\"deploy\": {"
    "  \"port\": 80, \"test_port\": 8080, \"instance_port\": 8080,"
    "  \"instance_type\": \"t3.small\", \"internet_facing\": false,"
    "  \"health_check\": {\"path\": \"/health\", \"interval_s\": 5, \"timeout_s\": 2,"
    "                   \"healthy_threshold\": 2, \"unhealthy_threshold\": 2,"
    "                   \"matcher\": \"200\", \"grace_period_s\": 60},"
    "  \"capacity\": {\"min\": 2, \"desired\": 2, \"max\": 4},"
    "  \"smoke\": [], \"keep_previous\": 1, \"termination_wait_s\": 600,"
    "  \"timeout_s\": 900, \"deregistration_delay_s\": 30,"
    "  \"allowed_sources\": [\"0.0.0.0/0\"]},"
    "\"hooks\": {\"pre_bake\": [], \"post_bake\": [], \"pre_deploy\": [], \"pre_swap\": [],"
    "          \"post_swap\": [], \"post_deploy\": [], \"post_rollback\": [],"
    "          \"on_failure\": []},"
    "\"policy\": {\"allow_internet_facing\": false, \"require_encrypted\": false,"
    "           \"allow_fleet_ssh\": false, \"allowed_instance_types\": [],"
    "           \"max_capacity\": 0, \"required_tags\": [], \"allowed_image_owners\": [],"
    "           \"allowed_regions\": [], \"allowed_repos\": [], \"release_refs\": {},"
    "           \"require_signed_tags\": false},"
    "\"tags\": {}"
    "}";

/* Objects merge key by key; any other value in `over` replaces the one in `base`. */
static json_t *deep_merge(const json_t *base, const json_t *over)
{
	json_t *out;
	const char *key;
	json_t *v;

	if (!json_is_object(base) || !json_is_object(over))
		return json_deep_copy(over);
	out = json_deep_copy(base);
	json_object_foreach((json_t *)over, key, v)
	{
		json_t *merged = deep_merge(json_object_get(out, key), v);
		json_object_set_new(out, key, merged);
	}
	return out;
}

/* Add what `defaults` has and `dst` lacks, after the keys the user wrote. */
static void fill_defaults(json_t *dst, const json_t *defaults)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)defaults, key, v)
	{
		json_t *have = json_object_get(dst, key);
		if (have == NULL)
			json_object_set_new(dst, key, json_deep_copy(v));
		else if (json_is_object(have) && json_is_object(v))
			fill_defaults(have, v);
	}
}

/* "git@host:path" and "host:path" (no slash before the colon) name ssh remotes. */
static int is_scp_like(const char *repo)
{
	const char *colon = strchr(repo, ':');
	const char *slash = strchr(repo, '/');

	if (colon == NULL || colon == repo)
		return 0;
	return slash == NULL || slash > colon;
}

static char *resolve_repo(const char *repo, const char *dir)
{
	char *joined, *real;
	char cwd[PATH_MAX];

	if (strstr(repo, "://") != NULL || is_scp_like(repo))
		return kiln_xstrdup(repo);
	joined = kiln_path_join(dir, repo);
	real = realpath(joined, NULL);
	if (real != NULL) {
		free(joined);
		return real;
	}
	/* Missing now: make it absolute anyway, the layer step reports it. */
	if (joined[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL) {
		char *abs = kiln_xasprintf("%s/%s", cwd, joined);
		free(joined);
		return abs;
	}
	return joined;
}

static size_t layer_order(const struct kiln_json_posmap *pos, const char *env, const char *name)
{
	char *ptr = kiln_json_ptr_child("/layers", name);
	const struct kiln_json_pos *p = kiln_json_posmap_get(pos, ptr);

	/* A layer in the base keeps its place even when the override changes it. */
	if (p == NULL)
		p = kiln_json_posmap_get_env(pos, env, ptr);
	free(ptr);
	return p != NULL ? p->order : SIZE_MAX;
}

/* "FILE:LINE:COL" of provisioner `k` of layer `name`. */
static char *provision_at(const struct kiln_profile *profile, const struct kiln_json_posmap *pos,
                          const char *name, size_t k)
{
	char *lptr = kiln_json_ptr_child("/layers", name), *prov, *ptr, idx[32];
	const struct kiln_json_pos *p;
	char *at;

	snprintf(idx, sizeof(idx), "%zu", k);
	prov = kiln_json_ptr_child(lptr, "provision");
	ptr = kiln_json_ptr_child(prov, idx);
	p = kiln_json_posmap_get_env(pos, profile->env, ptr);
	at = kiln_xasprintf("%s:%d:%d", profile->file, p ? p->line : 1, p ? p->col : 1);
	free(lptr);
	free(prov);
	free(ptr);
	return at;
}

static void fill_layers(struct kiln_profile *profile, const struct kiln_json_posmap *pos)
{
	json_t *layers = json_object_get(profile->json, "layers");
	const char *key;
	json_t *v;
	size_t i, j, n = 0;
	size_t *order;

	profile->nlayers = json_object_size(layers);
	profile->layers = kiln_xcalloc(profile->nlayers, sizeof(*profile->layers));
	order = kiln_xcalloc(profile->nlayers, sizeof(*order));
	json_object_foreach(layers, key, v)
	{
		struct kiln_layer_spec *l = &profile->layers[n];
		json_t *prov = json_object_get(v, "provision");
		size_t k;

		if (prov == NULL) {
			prov = json_array();
			json_object_set_new(v, "provision", prov);
		}
		l->name = kiln_xstrdup(key);
		l->repo = kiln_xstrdup(kiln_json_str(v, "repo"));
		l->repo_url = resolve_repo(l->repo, profile->dir);
		l->ref = kiln_xstrdup(kiln_json_str(v, "ref"));
		l->path = kiln_json_str(v, "path") ? kiln_xstrdup(kiln_json_str(v, "path")) : NULL;
		l->nprovision = json_array_size(prov);
		l->provision = kiln_xcalloc(l->nprovision + 1, sizeof(char *));
		l->provision_at = kiln_xcalloc(l->nprovision + 1, sizeof(char *));
		for (k = 0; k < l->nprovision; k++) {
			l->provision[k] = kiln_xstrdup(json_string_value(json_array_get(prov, k)));
			l->provision_at[k] = provision_at(profile, pos, key, k);
		}
		order[n] = layer_order(pos, profile->env, key);
		n++;
	}
	/* File order, whatever order the JSON library keeps keys in. */
	for (i = 1; i < n; i++) {
		for (j = i; j > 0 && order[j - 1] > order[j]; j--) {
			struct kiln_layer_spec t = profile->layers[j];
			size_t o = order[j];
			profile->layers[j] = profile->layers[j - 1];
			profile->layers[j - 1] = t;
			order[j] = order[j - 1];
			order[j - 1] = o;
		}
	}
	free(order);
}

/* The override of environment `env`, or NULL with a problem naming the known ones. */
static const json_t *environment(struct kiln_schema_ctx *ctx, const json_t *envs, const char *env)
{
	const json_t *over = json_is_object(envs) ? json_object_get(envs, env) : NULL;
	struct kiln_buf names = KILN_BUF_INIT;
	const char *key;
	json_t *v;

	if (over != NULL)
		return over;
	json_object_foreach((json_t *)envs, key, v)
	{
		(void)v;
		kiln_buf_printf(&names, "%s'%s'", names.size ? ", " : "", key);
	}
	if (ctx->count > 0)
		kiln_buf_putc(&ctx->problems, '\n');
	kiln_buf_printf(&ctx->problems, "%s: unknown environment '%s' (%s%s)", ctx->file, env,
	                names.size ? "known: " : "the profile defines none", names.ptr);
	ctx->count++;
	kiln_buf_release(&names);
	return NULL;
}

/* Each override is checked on its own, as a partial profile, at its own position. */
static void check_environments(struct kiln_schema_ctx *ctx, const json_t *envs)
{
	const char *key;
	json_t *v;

	if (!json_is_object(envs))
		return;
	json_object_foreach((json_t *)envs, key, v)
	{
		char *bptr, *bdisp;
		json_t *rest;

		if (!json_is_object(v))
			continue; /* already reported by the schema */
		bptr = kiln_json_ptr_child("/environments", key);
		bdisp = kiln_xasprintf("environments.%s", key);
		rest = json_deep_copy(v);
		json_object_del(rest, "name");
		json_object_del(rest, "environments");
		ctx->base_ptr = bptr;
		ctx->base_disp = bdisp;
		ctx->partial = 1;
		kiln_schema_check_profile(ctx, rest);
		ctx->partial = 0;
		ctx->base_ptr = "";
		ctx->base_disp = "";
		json_decref(rest);
		free(bptr);
		free(bdisp);
	}
}

/* The effective profile: the base, the environment's override, then defaults. */
static json_t *effective(const json_t *root, const json_t *over)
{
	json_t *defaults = json_loads(defaults_json, 0, NULL);
	json_t *merged = json_deep_copy(root);

	if (defaults == NULL)
		kiln_die("built-in profile defaults do not parse");
	json_object_del(merged, "environments");
	if (over != NULL) {
		json_t *tmp = deep_merge(merged, over);
		json_decref(merged);
		merged = tmp;
	}
	fill_defaults(merged, defaults);
	json_decref(defaults);
	return merged;
}

/* The profile of the checked, effective `merged` (taken over), its specs filled. */
static struct kiln_profile *typed_profile(const char *path, const char *env, json_t *merged,
                                          const struct kiln_json_posmap *pos)
{
	struct kiln_profile *profile = kiln_xcalloc(1, sizeof(*profile));
	const char *region = kiln_json_str(merged, "region");

	profile->file = kiln_xstrdup(path);
	profile->dir = kiln_path_dirname(path);
	profile->name = kiln_xstrdup(kiln_json_str(merged, "name"));
	profile->target = kiln_xstrdup(kiln_json_str(merged, "target"));
	profile->env = env != NULL ? kiln_xstrdup(env) : NULL;
	profile->region = region != NULL ? kiln_xstrdup(region) : NULL;
	profile->json = merged;
	fill_layers(profile, pos);
	kiln_bake_spec_fill(&profile->bake, json_object_get(merged, "bake"));
	kiln_validate_spec_fill(&profile->validate, json_object_get(merged, "validate"));
	kiln_deploy_spec_fill(&profile->deploy, json_object_get(merged, "deploy"));
	kiln_policy_spec_fill(&profile->policy, json_object_get(merged, "policy"), profile->dir, 1);
	kiln_tag_specs_fill(&profile->tags, &profile->ntags, json_object_get(merged, "tags"));
	/* An HTTP check on the machine goes to the port instances serve on, unless it says. */
	for (size_t i = 0; i < profile->validate.nhttp; i++)
		if (profile->validate.http[i].port == KILN_UNSET)
			profile->validate.http[i].port = profile->deploy.instance_port;
	return profile;
}

int kiln_profile_load(struct kiln_profile **out, const char *path, const char *env)
{
	struct kiln_json_posmap pos = KILN_JSON_POSMAP_INIT;
	struct kiln_schema_ctx ctx = {0};
	struct kiln_buf text = KILN_BUF_INIT;
	json_t *root = NULL, *merged = NULL, *envs;
	const json_t *over = NULL;
	int error = 0;

	KILN_ASSERT_ARG(out != NULL && path != NULL);
	*out = NULL;
	kiln_buf_init(&text, 4 << 20);
	kiln_buf_init(&ctx.problems, 1 << 20);
	error = kiln_file_read(&text, path);
	if (error < 0) {
		if (error == KILN_ETOOBIG)
			kiln_error_set(KILN_EINVAL, "%s:1:1: profile is larger than 4 MiB", path);
		error = KILN_EINVAL;
		goto done;
	}
	/* By length: a NUL inside the file is an error, not its end. */
	error = kiln_json_load_buf(&root, text.ptr, text.size, path);
	if (error < 0)
		goto done;
	error = kiln_json_posmap_build(&pos, text.ptr, text.size);
	if (error < 0) {
		char *why = kiln_xstrdup(kiln_error_last());
		error = kiln_error_set(KILN_EINVAL, "%s:%s", path, why);
		free(why);
		goto done;
	}

	ctx.file = path;
	ctx.pos = &pos;
	ctx.base_ptr = "";
	ctx.base_disp = "";
	kiln_schema_check_profile(&ctx, root);
	envs = json_object_get(root, "environments");
	check_environments(&ctx, envs);
	if (env != NULL)
		over = environment(&ctx, envs, env);
	if (ctx.count > 0) {
		error = kiln_error_set(KILN_EINVAL, "%s", ctx.problems.ptr);
		goto done;
	}

	merged = effective(root, over);
	kiln_schema_check_effective(&ctx, merged, env);
	if (ctx.count > 0) {
		error = kiln_error_set(KILN_EINVAL, "%s", ctx.problems.ptr);
		goto done;
	}

	*out = typed_profile(path, env, merged, &pos);
	/* Kept: later stages point at the values they judge (policy violations). */
	(*out)->pos = pos;
	pos = (struct kiln_json_posmap)KILN_JSON_POSMAP_INIT;
	merged = NULL;
done:
	json_decref(root);
	json_decref(merged);
	kiln_json_posmap_release(&pos);
	kiln_buf_release(&text);
	kiln_buf_release(&ctx.problems);
	return error;
}

void kiln_profile_free(struct kiln_profile *profile)
{
	size_t i, k;

	if (profile == NULL)
		return;
	for (i = 0; i < profile->nlayers; i++) {
		struct kiln_layer_spec *l = &profile->layers[i];
		free(l->name);
		free(l->repo);
		free(l->repo_url);
		free(l->ref);
		free(l->path);
		for (k = 0; k < l->nprovision; k++) {
			free(l->provision[k]);
			free(l->provision_at[k]);
		}
		free(l->provision);
		free(l->provision_at);
	}
	kiln_bake_spec_release(&profile->bake);
	kiln_validate_spec_release(&profile->validate);
	kiln_deploy_spec_release(&profile->deploy);
	kiln_policy_spec_release(&profile->policy);
	kiln_json_posmap_release(&profile->pos);
	kiln_tag_specs_free(profile->tags, profile->ntags);
	free(profile->region);
	free(profile->layers);
	free(profile->file);
	free(profile->dir);
	free(profile->name);
	free(profile->target);
	free(profile->env);
	json_decref(profile->json);
	free(profile);
}

const struct kiln_layer_spec *kiln_profile_layer(const struct kiln_profile *profile,
                                                 const char *name)
{
	size_t i;

	for (i = 0; i < profile->nlayers; i++)
		if (strcmp(profile->layers[i].name, name) == 0)
			return &profile->layers[i];
	return NULL;
}

char *kiln_profile_where(const struct kiln_profile *profile, const char *ptr, int at_key)
{
	return kiln_json_posmap_where(&profile->pos, profile->file, profile->env, ptr, at_key);
}

const char *kiln_profile_name(const struct kiln_profile *profile)
{
	return profile->name;
}

const char *kiln_profile_target(const struct kiln_profile *profile)
{
	return profile->target;
}

const char *kiln_profile_env(const struct kiln_profile *profile)
{
	return profile->env;
}
