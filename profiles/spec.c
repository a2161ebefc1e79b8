#include "profiles/spec.h"
#include "core/common.h"
#include "core/json.h"
#include "core/util.h"

#include <stddef.h>
#include <string.h>

/*
 * Every value read here was checked by profiles/schema.c and every default
 * filled in: a missing or mistyped value at this point is a bug in kiln, not
 * in the profile.
 */
static char *str_or_null(const json_t *obj, const char *key)
{
	const char *s = kiln_json_str(obj, key);

	return s != NULL ? kiln_xstrdup(s) : NULL;
}

static char *str_required(const json_t *obj, const char *key)
{
	const char *s = kiln_json_str(obj, key);

	if (s == NULL)
		kiln_die("profile: '%s' missing after the schema check", key);
	return kiln_xstrdup(s);
}

void kiln_tag_specs_fill(struct kiln_tag_spec **out, size_t *n, const json_t *tags)
{
	const char *key;
	json_t *v;
	size_t i = 0;

	*n = json_object_size(tags);
	*out = kiln_xcalloc(*n ? *n : 1, sizeof(**out));
	json_object_foreach((json_t *)tags, key, v)
	{
		(*out)[i].key = kiln_xstrdup(key);
		(*out)[i].value = kiln_xstrdup(json_string_value(v));
		i++;
	}
}

void kiln_tag_specs_free(struct kiln_tag_spec *tags, size_t n)
{
	size_t i;

	for (i = 0; tags != NULL && i < n; i++) {
		free(tags[i].key);
		free(tags[i].value);
	}
	free(tags);
}

/* A variable is "value" or {"value": ..., "secret": bool}. */
static void fill_variables(struct kiln_bake_spec *out, const json_t *vars)
{
	const char *name;
	json_t *v;
	size_t i = 0;

	out->nvariables = json_object_size(vars);
	out->variables =
	    kiln_xcalloc(out->nvariables ? out->nvariables : 1, sizeof(*out->variables));
	json_object_foreach((json_t *)vars, name, v)
	{
		struct kiln_variable_spec *var = &out->variables[i++];

		var->name = kiln_xstrdup(name);
		if (json_is_string(v)) {
			var->value = kiln_xstrdup(json_string_value(v));
		} else {
			var->value = str_required(v, "value");
			var->secret = kiln_json_bool(v, "secret", 0);
		}
	}
}

static void fill_source_image(struct kiln_source_image_spec *out, const json_t *src)
{
	const json_t *owners = json_object_get(src, "owners");
	size_t i;

	if (json_is_string(src)) {
		out->id = kiln_xstrdup(json_string_value(src));
		return;
	}
	out->name = str_or_null(src, "name");
	out->nowners = json_array_size(owners);
	out->owners = kiln_xcalloc(out->nowners + 1, sizeof(*out->owners));
	for (i = 0; i < out->nowners; i++)
		out->owners[i] = kiln_xstrdup(json_string_value(json_array_get(owners, i)));
	kiln_tag_specs_fill(&out->tags, &out->ntags, json_object_get(src, "tags"));
}

void kiln_bake_spec_fill(struct kiln_bake_spec *out, const json_t *bake)
{
	const json_t *ssh = json_object_get(bake, "ssh");
	const char *check = kiln_json_str(ssh, "host_key_check");

	memset(out, 0, sizeof(*out));
	fill_source_image(&out->source_image, json_object_get(bake, "source_image"));
	out->instance_type = str_required(bake, "instance_type");
	out->ssh_user = str_required(bake, "ssh_user");
	out->encrypted = kiln_json_bool(bake, "encrypted", 0);
	out->kms_key_id = str_or_null(bake, "kms_key_id");
	out->host_key_check = check != NULL && strcmp(check, "accept-new") == 0
	                          ? KILN_HOST_KEY_ACCEPT_NEW
	                          : KILN_HOST_KEY_STRICT;
	out->ssh_timeout_s = (int)kiln_json_int(ssh, "timeout_s", 300);
	out->ssh_port = (int)kiln_json_int(ssh, "port", 22);
	out->timeout_s = (int)kiln_json_int(bake, "timeout_s", 3600);
	out->provision_timeout_s = (int)kiln_json_int(bake, "provision_timeout_s", 1800);
	out->layer_dir = str_required(bake, "layer_dir");
	fill_variables(out, json_object_get(bake, "variables"));
}

void kiln_bake_spec_release(struct kiln_bake_spec *spec)
{
	size_t i;

	if (spec == NULL)
		return;
	free(spec->source_image.id);
	free(spec->source_image.name);
	for (i = 0; i < spec->source_image.nowners; i++)
		free(spec->source_image.owners[i]);
	free(spec->source_image.owners);
	kiln_tag_specs_free(spec->source_image.tags, spec->source_image.ntags);
	free(spec->instance_type);
	free(spec->ssh_user);
	free(spec->kms_key_id);
	free(spec->layer_dir);
	for (i = 0; i < spec->nvariables; i++) {
		free(spec->variables[i].name);
		kiln_free_secret(spec->variables[i].value);
	}
	free(spec->variables);
	memset(spec, 0, sizeof(*spec));
}

/* Checks: the kind's key holds the subject; the other keys are modifiers. */

static const struct {
	const char *key;
	enum kiln_check_kind kind;
} kinds[] = {
    {"file", KILN_CHECK_FILE},   {"package", KILN_CHECK_PACKAGE}, {"service", KILN_CHECK_SERVICE},
    {"port", KILN_CHECK_PORT},   {"command", KILN_CHECK_COMMAND}, {"user", KILN_CHECK_USER},
    {"group", KILN_CHECK_GROUP},
};

enum ftype { F_STR, F_INT, F_BOOL };

#define FIELD(key, type, member)                                                                   \
	{                                                                                          \
		key, type, offsetof(struct kiln_check_spec, member)                                \
	}

static const struct {
	const char *key;
	enum ftype type;
	size_t off;
} modifiers[] = {
    FIELD("name", F_STR, name),
    FIELD("exists", F_BOOL, exists),
    FIELD("installed", F_BOOL, installed),
    FIELD("running", F_BOOL, running),
    FIELD("enabled", F_BOOL, enabled),
    FIELD("listening", F_BOOL, listening),
    FIELD("mode", F_STR, mode),
    FIELD("owner", F_STR, owner),
    FIELD("group", F_STR, group),
    FIELD("contains", F_STR, contains),
    FIELD("sha256", F_STR, sha256),
    FIELD("exit_code", F_INT, exit_code),
    FIELD("stdout", F_STR, stdout_contains),
    FIELD("timeout_s", F_INT, timeout_s),
};

const char *kiln_check_kind_name(enum kiln_check_kind kind)
{
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(kinds); i++)
		if (kinds[i].kind == kind)
			return kinds[i].key;
	return "check";
}

/* "group" is a file's modifier too: it names the kind only without "file". */
static int is_subject_key(const struct kiln_check_spec *c, const char *key)
{
	return strcmp(key, kiln_check_kind_name(c->kind)) == 0;
}

static void fill_check(struct kiln_check_spec *c, const json_t *j)
{
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(modifiers); i++) {
		char *field = (char *)c + modifiers[i].off;

		if (modifiers[i].type == F_STR)
			*(char **)field = NULL;
		else
			*(int *)field = KILN_UNSET;
	}
	c->port = KILN_UNSET;
	for (i = 0; i < KILN_ARRAY_SIZE(kinds); i++)
		if (json_object_get(j, kinds[i].key) != NULL)
			break;
	if (i == KILN_ARRAY_SIZE(kinds))
		kiln_die("profile: a check without a kind after the schema check");
	c->kind = kinds[i].kind;
	if (c->kind == KILN_CHECK_PORT)
		c->port = (int)kiln_json_int(j, "port", 0);
	else
		c->subject = str_required(j, kinds[i].key);
	for (i = 0; i < KILN_ARRAY_SIZE(modifiers); i++) {
		const json_t *v = json_object_get(j, modifiers[i].key);
		char *field = (char *)c + modifiers[i].off;

		if (v == NULL || is_subject_key(c, modifiers[i].key))
			continue;
		if (modifiers[i].type == F_STR)
			*(char **)field = kiln_xstrdup(json_string_value(v));
		else if (modifiers[i].type == F_INT)
			*(int *)field = (int)json_integer_value(v);
		else
			*(int *)field = json_is_true(v);
	}
}

json_t *kiln_check_spec_json(const struct kiln_check_spec *c)
{
	json_t *j = json_object();
	size_t i;

	if (c->kind == KILN_CHECK_PORT)
		json_object_set_new(j, "port", json_integer(c->port));
	else
		json_object_set_new(j, kiln_check_kind_name(c->kind), json_string(c->subject));
	for (i = 0; i < KILN_ARRAY_SIZE(modifiers); i++) {
		const char *field = (const char *)c + modifiers[i].off;

		if (is_subject_key(c, modifiers[i].key))
			continue;
		if (modifiers[i].type == F_STR && *(char *const *)field != NULL)
			json_object_set_new(j, modifiers[i].key,
			                    json_string(*(char *const *)field));
		else if (modifiers[i].type == F_INT && *(const int *)field != KILN_UNSET)
			json_object_set_new(j, modifiers[i].key, json_integer(*(const int *)field));
		else if (modifiers[i].type == F_BOOL && *(const int *)field != KILN_UNSET)
			json_object_set_new(j, modifiers[i].key, json_boolean(*(const int *)field));
	}
	return j;
}

/* HTTP checks: validate.http[] and deploy.smoke[]. */

static void fill_http_check(struct kiln_http_check_spec *c, const json_t *j)
{
	c->name = str_or_null(j, "name");
	c->path = str_required(j, "path");
	c->port = (int)kiln_json_int(j, "port", KILN_UNSET);
	c->status = (int)kiln_json_int(j, "status", 200);
	c->contains = str_or_null(j, "contains");
	kiln_tag_specs_fill(&c->header, &c->nheader, json_object_get(j, "header"));
	c->timeout_s = (int)kiln_json_int(j, "timeout_s", 10);
	c->max_latency_ms = (int)kiln_json_int(j, "max_latency_ms", KILN_UNSET);
	c->retries = (int)kiln_json_int(j, "retries", 0);
	c->host = str_or_null(j, "host");
	c->follow_redirects = kiln_json_bool(j, "follow_redirects", 0);
}

static void fill_http_checks(struct kiln_http_check_spec **out, size_t *n, const json_t *list)
{
	size_t i;

	*n = json_array_size(list);
	*out = kiln_xcalloc(*n ? *n : 1, sizeof(**out));
	for (i = 0; i < *n; i++)
		fill_http_check(&(*out)[i], json_array_get(list, i));
}

static void http_checks_free(struct kiln_http_check_spec *v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++) {
		free(v[i].name);
		free(v[i].path);
		free(v[i].contains);
		kiln_tag_specs_free(v[i].header, v[i].nheader);
		free(v[i].host);
	}
	free(v);
}

json_t *kiln_http_check_spec_json(const struct kiln_http_check_spec *c)
{
	json_t *j = json_object(), *h = json_object();
	size_t i;

	if (c->name != NULL)
		json_object_set_new(j, "name", json_string(c->name));
	json_object_set_new(j, "path", json_string(c->path));
	if (c->port != KILN_UNSET)
		json_object_set_new(j, "port", json_integer(c->port));
	json_object_set_new(j, "status", json_integer(c->status));
	if (c->contains != NULL)
		json_object_set_new(j, "contains", json_string(c->contains));
	for (i = 0; i < c->nheader; i++)
		json_object_set_new(h, c->header[i].key, json_string(c->header[i].value));
	if (c->nheader > 0)
		json_object_set_new(j, "header", h);
	else
		json_decref(h);
	json_object_set_new(j, "timeout_s", json_integer(c->timeout_s));
	if (c->max_latency_ms != KILN_UNSET)
		json_object_set_new(j, "max_latency_ms", json_integer(c->max_latency_ms));
	if (c->retries > 0)
		json_object_set_new(j, "retries", json_integer(c->retries));
	if (c->host != NULL)
		json_object_set_new(j, "host", json_string(c->host));
	if (c->follow_redirects)
		json_object_set_new(j, "follow_redirects", json_true());
	return j;
}

void kiln_validate_spec_fill(struct kiln_validate_spec *out, const json_t *validate)
{
	const json_t *checks = json_object_get(validate, "checks");
	size_t i;

	out->nchecks = json_array_size(checks);
	out->checks = kiln_xcalloc(out->nchecks ? out->nchecks : 1, sizeof(*out->checks));
	for (i = 0; i < out->nchecks; i++)
		fill_check(&out->checks[i], json_array_get(checks, i));
	fill_http_checks(&out->http, &out->nhttp, json_object_get(validate, "http"));
}

/* Policy rules. */

static void fill_strings(char ***out, size_t *n, const json_t *v)
{
	size_t i;

	/* A pattern rule may be one string. */
	if (json_is_string(v)) {
		*n = 1;
		*out = kiln_xcalloc(2, sizeof(**out));
		(*out)[0] = kiln_xstrdup(json_string_value(v));
		return;
	}
	*n = json_array_size(v);
	*out = kiln_xcalloc(*n + 1, sizeof(**out));
	for (i = 0; i < *n; i++)
		(*out)[i] = kiln_xstrdup(json_string_value(json_array_get(v, i)));
}

static void free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

static int policy_bool(const json_t *policy, const char *key, int defaults)
{
	return kiln_json_bool(policy, key, defaults ? 0 : KILN_UNSET);
}

void kiln_policy_spec_fill(struct kiln_policy_spec *out, const json_t *policy, const char *dir,
                           int defaults)
{
	const json_t *refs = json_object_get(policy, "release_refs");
	const char *signers = kiln_json_str(policy, "allowed_signers");
	const char *env;
	json_t *v;
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	out->allow_internet_facing = policy_bool(policy, "allow_internet_facing", defaults);
	out->require_encrypted = policy_bool(policy, "require_encrypted", defaults);
	out->allow_fleet_ssh = policy_bool(policy, "allow_fleet_ssh", defaults);
	out->require_signed_tags = policy_bool(policy, "require_signed_tags", defaults);
	out->max_capacity = (int)kiln_json_int(policy, "max_capacity", 0);
	fill_strings(&out->allowed_instance_types, &out->nallowed_instance_types,
	             json_object_get(policy, "allowed_instance_types"));
	fill_strings(&out->required_tags, &out->nrequired_tags,
	             json_object_get(policy, "required_tags"));
	fill_strings(&out->allowed_image_owners, &out->nallowed_image_owners,
	             json_object_get(policy, "allowed_image_owners"));
	fill_strings(&out->allowed_regions, &out->nallowed_regions,
	             json_object_get(policy, "allowed_regions"));
	fill_strings(&out->allowed_repos, &out->nallowed_repos,
	             json_object_get(policy, "allowed_repos"));
	out->nrelease_refs = json_object_size(refs);
	out->release_refs =
	    kiln_xcalloc(out->nrelease_refs ? out->nrelease_refs : 1, sizeof(*out->release_refs));
	json_object_foreach((json_t *)refs, env, v)
	{
		out->release_refs[i].env = kiln_xstrdup(env);
		fill_strings(&out->release_refs[i].patterns, &out->release_refs[i].npatterns, v);
		i++;
	}
	if (signers != NULL)
		out->allowed_signers = signers[0] == '/' || dir == NULL
		                           ? kiln_xstrdup(signers)
		                           : kiln_path_join(dir, signers);
}

void kiln_policy_spec_release(struct kiln_policy_spec *spec)
{
	size_t i;

	if (spec == NULL)
		return;
	free_strings(spec->allowed_instance_types, spec->nallowed_instance_types);
	free_strings(spec->required_tags, spec->nrequired_tags);
	free_strings(spec->allowed_image_owners, spec->nallowed_image_owners);
	free_strings(spec->allowed_regions, spec->nallowed_regions);
	free_strings(spec->allowed_repos, spec->nallowed_repos);
	for (i = 0; i < spec->nrelease_refs; i++) {
		free(spec->release_refs[i].env);
		free_strings(spec->release_refs[i].patterns, spec->release_refs[i].npatterns);
	}
	free(spec->release_refs);
	free(spec->allowed_signers);
	memset(spec, 0, sizeof(*spec));
}

void kiln_validate_spec_release(struct kiln_validate_spec *spec)
{
	size_t i, k;

	if (spec == NULL)
		return;
	for (i = 0; i < spec->nchecks; i++) {
		struct kiln_check_spec *c = &spec->checks[i];

		free(c->subject);
		for (k = 0; k < KILN_ARRAY_SIZE(modifiers); k++)
			if (modifiers[k].type == F_STR)
				free(*(char **)((char *)c + modifiers[k].off));
	}
	free(spec->checks);
	http_checks_free(spec->http, spec->nhttp);
	memset(spec, 0, sizeof(*spec));
}

void kiln_deploy_spec_fill(struct kiln_deploy_spec *out, const json_t *deploy)
{
	const json_t *hc = json_object_get(deploy, "health_check");
	const json_t *cap = json_object_get(deploy, "capacity");
	const json_t *sources = json_object_get(deploy, "allowed_sources");
	const json_t *subnets = json_object_get(deploy, "subnets");
	size_t i;

	memset(out, 0, sizeof(*out));
	out->port = (int)kiln_json_int(deploy, "port", 80);
	out->test_port = (int)kiln_json_int(deploy, "test_port", 8080);
	out->instance_port = (int)kiln_json_int(deploy, "instance_port", 8080);
	out->instance_type = str_required(deploy, "instance_type");
	out->internet_facing = kiln_json_bool(deploy, "internet_facing", 0);
	out->health.path = str_required(hc, "path");
	out->health.interval_s = (int)kiln_json_int(hc, "interval_s", 5);
	out->health.timeout_s = (int)kiln_json_int(hc, "timeout_s", 2);
	out->health.healthy_threshold = (int)kiln_json_int(hc, "healthy_threshold", 2);
	out->health.unhealthy_threshold = (int)kiln_json_int(hc, "unhealthy_threshold", 2);
	out->health.matcher = str_required(hc, "matcher");
	out->health.grace_period_s = (int)kiln_json_int(hc, "grace_period_s", 60);
	out->capacity_min = (int)kiln_json_int(cap, "min", 2);
	out->capacity_desired = (int)kiln_json_int(cap, "desired", 2);
	out->capacity_max = (int)kiln_json_int(cap, "max", 4);
	fill_http_checks(&out->smoke, &out->nsmoke, json_object_get(deploy, "smoke"));
	out->keep_previous = (int)kiln_json_int(deploy, "keep_previous", 1);
	out->termination_wait_s = (int)kiln_json_int(deploy, "termination_wait_s", 600);
	out->timeout_s = (int)kiln_json_int(deploy, "timeout_s", 900);
	out->deregistration_delay_s = (int)kiln_json_int(deploy, "deregistration_delay_s", 30);
	out->nallowed_sources = json_array_size(sources);
	out->allowed_sources = kiln_xcalloc(out->nallowed_sources + 1, sizeof(char *));
	for (i = 0; i < out->nallowed_sources; i++)
		out->allowed_sources[i] =
		    kiln_xstrdup(json_string_value(json_array_get(sources, i)));
	kiln_tag_specs_fill(&out->subnet_tags, &out->nsubnet_tags,
	                    json_object_get(subnets, "tags"));
	out->instance_profile = str_or_null(deploy, "instance_profile");
	out->certificate_arn = str_or_null(deploy, "certificate_arn");
}

void kiln_deploy_spec_release(struct kiln_deploy_spec *spec)
{
	size_t i;

	if (spec == NULL)
		return;
	free(spec->instance_type);
	free(spec->health.path);
	free(spec->health.matcher);
	http_checks_free(spec->smoke, spec->nsmoke);
	for (i = 0; i < spec->nallowed_sources; i++)
		free(spec->allowed_sources[i]);
	free(spec->allowed_sources);
	kiln_tag_specs_free(spec->subnet_tags, spec->nsubnet_tags);
	free(spec->instance_profile);
	free(spec->certificate_arn);
	memset(spec, 0, sizeof(*spec));
}
