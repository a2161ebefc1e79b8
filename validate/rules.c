/*
 * The policy's static rules, judged from the profile and the two policies
 * alone: no file outside them is read and no network is used. Each rule
 * first refuses a profile policy that asks for more than the organisation
 * allows, then judges the profile's values against the combined rule.
 */
#include "aws/config.h"
#include "core/common.h"
#include "core/util.h"
#include "kiln/cloud.h"
#include "validate/policy.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

static const struct kiln_policy_spec *org_spec(const struct kiln_gate *g)
{
	return g->org != NULL ? &g->org->spec : NULL;
}

static char *idx_ptr(const char *base, size_t i)
{
	char idx[32];

	snprintf(idx, sizeof(idx), "%zu", i);
	return kiln_json_ptr_child(base, idx);
}

/* A boolean allowance the profile may ask for only when the organisation does not forbid it. */
static void allowance(struct kiln_gate *g, const char *key, int mine, int org, const char *what)
{
	char *ptr, *optr;

	if (mine != 1 || org != 0)
		return;
	ptr = kiln_json_ptr_child("/policy", key);
	optr = kiln_json_ptr_child("", key);
	kiln_gate_violation(g, ptr, kiln_gate_org_at(g, optr),
	                    "policy.%s is true, but the organisation does not allow %s", key, what);
	free(ptr);
	free(optr);
}

static void internet_facing(struct kiln_gate *g)
{
	const struct kiln_policy_spec *org = org_spec(g);
	int o = org != NULL ? org->allow_internet_facing : KILN_UNSET;

	allowance(g, "allow_internet_facing", g->mine->allow_internet_facing, o,
	          "internet-facing load balancers");
	if (g->p->deploy.internet_facing && !(g->mine->allow_internet_facing == 1 && o != 0))
		kiln_gate_violation(g, "/deploy/internet_facing",
		                    o == 0 ? kiln_gate_org_at(g, "/allow_internet_facing")
		                           : kiln_gate_mine_at(g, "allow_internet_facing"),
		                    "deploy.internet_facing is true, but internet-facing load "
		                    "balancers are not allowed");
}

static void fleet_ssh(struct kiln_gate *g)
{
	const struct kiln_policy_spec *org = org_spec(g);

	allowance(g, "allow_fleet_ssh", g->mine->allow_fleet_ssh,
	          org != NULL ? org->allow_fleet_ssh : KILN_UNSET, "SSH into fleet instances");
}

static void encrypted(struct kiln_gate *g)
{
	const struct kiln_policy_spec *org = org_spec(g);
	int by_org = org != NULL && org->require_encrypted == 1;

	if ((g->mine->require_encrypted == 1 || by_org) && !g->p->bake.encrypted)
		kiln_gate_violation(g, "/bake/encrypted",
		                    by_org ? kiln_gate_org_at(g, "/require_encrypted")
		                           : kiln_gate_mine_at(g, "require_encrypted"),
		                    "bake.encrypted is false, but images must be encrypted");
}

/* Whether `value` matches one of `patterns` (shell wildcards). */
static int matches(const char *value, char *const *patterns, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fnmatch(patterns[i], value, 0) == 0)
			return 1;
	return 0;
}

static char *list_text(char *const *v, size_t n)
{
	struct kiln_buf b = KILN_BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++)
		kiln_buf_printf(&b, "%s'%s'", i ? ", " : "", v[i]);
	return kiln_buf_detach(&b);
}

/*
 * A list rule: the profile's list may only narrow the organisation's (each
 * of its entries within one of the organisation's, by `within`), and a value
 * must satisfy every list that is set.
 */
struct list_rule {
	const char *key;  /* "allowed_instance_types" */
	const char *what; /* "instance type" */
	int (*within)(const char *inner, const char *outer);
	int (*allows)(const char *value, const char *entry);
};

static int pattern_within(const char *inner, const char *outer)
{
	return fnmatch(outer, inner, 0) == 0;
}

static int pattern_allows(const char *value, const char *entry)
{
	return fnmatch(entry, value, 0) == 0;
}

static void list_lists(const struct list_rule *r, char *const **mine, size_t *nmine,
                       char *const **org, size_t *norg, const struct kiln_policy_spec *m,
                       const struct kiln_policy_spec *o)
{
	/* The three list rules sit at fixed places in the spec; pick by name. */
#define PICK(field)                                                                                \
	do {                                                                                       \
		*mine = m->field;                                                                  \
		*nmine = m->n##field;                                                              \
		*org = o ? o->field : NULL;                                                        \
		*norg = o ? o->n##field : 0;                                                       \
	} while (0)
	if (strcmp(r->key, "allowed_instance_types") == 0)
		PICK(allowed_instance_types);
	else if (strcmp(r->key, "allowed_image_owners") == 0)
		PICK(allowed_image_owners);
	else if (strcmp(r->key, "allowed_regions") == 0)
		PICK(allowed_regions);
	else
		PICK(allowed_repos);
#undef PICK
}

static int any_allows(const struct list_rule *r, const char *value, char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r->allows(value, v[i]))
			return 1;
	return 0;
}

/* The profile's own list against the organisation's. */
static void list_narrows(struct kiln_gate *g, const struct list_rule *r)
{
	char *const *mine, *const *org;
	size_t nmine, norg, i, k;

	list_lists(r, &mine, &nmine, &org, &norg, g->mine, org_spec(g));
	if (norg == 0)
		return;
	for (i = 0; i < nmine; i++) {
		for (k = 0; k < norg; k++)
			if (r->within(mine[i], org[k]))
				break;
		if (k == norg) {
			char *base = kiln_json_ptr_child("/policy", r->key),
			     *ptr = idx_ptr(base, i);
			char *optr = kiln_json_ptr_child("", r->key);
			kiln_gate_violation(
			    g, ptr, kiln_gate_org_at(g, optr),
			    "policy.%s allows '%s', which the organisation does not", r->key,
			    mine[i]);
			free(base);
			free(ptr);
			free(optr);
		}
	}
}

/* `value` (at `ptr`, named `label` in messages) against each list that is set. */
static void list_value(struct kiln_gate *g, const struct list_rule *r, const char *value,
                       const char *ptr, const char *label)
{
	char *const *mine, *const *org;
	size_t nmine, norg;

	list_lists(r, &mine, &nmine, &org, &norg, g->mine, org_spec(g));
	if (nmine > 0 && !any_allows(r, value, mine, nmine)) {
		char *list = list_text(mine, nmine);
		kiln_gate_violation(g, ptr, kiln_gate_mine_at(g, r->key),
		                    "%s '%s' is not an allowed %s (%s)", label, value, r->what,
		                    list);
		free(list);
	}
	if (norg > 0 && !any_allows(r, value, org, norg)) {
		char *list = list_text(org, norg), *optr = kiln_json_ptr_child("", r->key);
		kiln_gate_violation(g, ptr, kiln_gate_org_at(g, optr),
		                    "%s '%s' is not an allowed %s (%s)", label, value, r->what,
		                    list);
		free(list);
		free(optr);
	}
}

static const struct list_rule types_rule = {"allowed_instance_types", "instance type",
                                            pattern_within, pattern_allows};
static const struct list_rule owners_rule = {"allowed_image_owners", "image owner", pattern_within,
                                             pattern_allows};
static const struct list_rule regions_rule = {"allowed_regions", "region", pattern_within,
                                              pattern_allows};
static const struct list_rule repos_rule = {"allowed_repos", "repository source",
                                            kiln_repo_entry_within, kiln_repo_allowed};

static void instance_types(struct kiln_gate *g)
{
	list_narrows(g, &types_rule);
	list_value(g, &types_rule, g->p->bake.instance_type, "/bake/instance_type",
	           "bake.instance_type");
	list_value(g, &types_rule, g->p->deploy.instance_type, "/deploy/instance_type",
	           "deploy.instance_type");
}

static void capacity(struct kiln_gate *g)
{
	const struct kiln_policy_spec *org = org_spec(g);
	struct kiln_policy_effective eff;
	int o = org != NULL ? org->max_capacity : 0, m = g->mine->max_capacity;

	if (m > 0 && o > 0 && m > o)
		kiln_gate_violation(
		    g, "/policy/max_capacity", kiln_gate_org_at(g, "/max_capacity"),
		    "policy.max_capacity is %d, above the organisation's ceiling of %d", m, o);
	kiln_policy_effective(&eff, g->mine, org);
	if (eff.max_capacity > 0 && g->p->deploy.capacity_max > eff.max_capacity)
		kiln_gate_violation(g, "/deploy/capacity/max",
		                    o > 0 && o == eff.max_capacity
		                        ? kiln_gate_org_at(g, "/max_capacity")
		                        : kiln_gate_mine_at(g, "max_capacity"),
		                    "deploy.capacity.max is %d, above the ceiling of %d",
		                    g->p->deploy.capacity_max, eff.max_capacity);
}

static int has_tag(const struct kiln_profile *p, const char *key)
{
	size_t i;

	for (i = 0; i < p->ntags; i++)
		if (strcmp(p->tags[i].key, key) == 0)
			return 1;
	return 0;
}

static void required_tags(struct kiln_gate *g)
{
	const struct kiln_policy_spec *org = org_spec(g);
	size_t i;

	for (i = 0; i < g->mine->nrequired_tags; i++) {
		if (!has_tag(g->p, g->mine->required_tags[i])) {
			char *ptr = idx_ptr("/policy/required_tags", i);
			char *where = kiln_profile_where(g->p, ptr, 0);
			kiln_gate_violation(
			    g, "/tags", kiln_xasprintf("%s: policy.required_tags[%zu]", where, i),
			    "tags: missing the required tag '%s'", g->mine->required_tags[i]);
			free(where);
			free(ptr);
		}
	}
	for (i = 0; org != NULL && i < org->nrequired_tags; i++) {
		if (!has_tag(g->p, org->required_tags[i])) {
			char *ptr = idx_ptr("/required_tags", i);
			kiln_gate_violation(g, "/tags", kiln_gate_org_at(g, ptr),
			                    "tags: missing the required tag '%s'",
			                    org->required_tags[i]);
			free(ptr);
		}
	}
}

static void image_owners(struct kiln_gate *g)
{
	const struct kiln_source_image_spec *src = &g->p->bake.source_image;
	const struct kiln_policy_spec *org = org_spec(g);
	size_t i;

	list_narrows(g, &owners_rule);
	if (g->mine->nallowed_image_owners == 0 && (org == NULL || org->nallowed_image_owners == 0))
		return;
	if (src->id != NULL) {
		kiln_gate_violation(
		    g, "/bake/source_image",
		    org != NULL && org->nallowed_image_owners > 0
		        ? kiln_gate_org_at(g, "/allowed_image_owners")
		        : kiln_gate_mine_at(g, "allowed_image_owners"),
		    "bake.source_image is the image id '%s', whose owner cannot be "
		    "judged before a cloud call: select it by a filter with 'owners'",
		    src->id);
		return;
	}
	if (src->nowners == 0)
		kiln_gate_violation(
		    g, "/bake/source_image",
		    org != NULL && org->nallowed_image_owners > 0
		        ? kiln_gate_org_at(g, "/allowed_image_owners")
		        : kiln_gate_mine_at(g, "allowed_image_owners"),
		    "bake.source_image names no 'owners': any account's image could "
		    "match");
	for (i = 0; i < src->nowners; i++) {
		char *ptr = idx_ptr("/bake/source_image/owners", i);
		char *label = kiln_xasprintf("bake.source_image.owners[%zu]", i);
		list_value(g, &owners_rule, src->owners[i], ptr, label);
		free(ptr);
		free(label);
	}
}

/* The region a profile works in, as the AWS client would find it; NULL when none. */
static char *region_of(const struct kiln_profile *p, const char **ptr, const char **from)
{
	struct kiln_aws_profile ap = {0};
	const char *env;
	char *region = NULL;

	*ptr = "/target";
	if (strcmp(p->target, "local") == 0) {
		*from = "the local cloud's region";
		return kiln_xstrdup(KILN_CLOUD_REGION);
	}
	if (p->region != NULL) {
		*ptr = "/region";
		*from = "region";
		return kiln_xstrdup(p->region);
	}
	*from = "region (from the environment)";
	env = getenv("AWS_REGION");
	if (env == NULL || env[0] == '\0')
		env = getenv("AWS_DEFAULT_REGION");
	if (env != NULL && env[0] != '\0')
		return kiln_xstrdup(env);
	if (kiln_aws_profile_load(&ap, NULL) == 0 && kiln_aws_profile_get(&ap, "region") != NULL)
		region = kiln_xstrdup(kiln_aws_profile_get(&ap, "region"));
	kiln_error_clear();
	kiln_aws_profile_release(&ap);
	return region;
}

static void regions(struct kiln_gate *g)
{
	const char *ptr, *label;
	char *region;

	list_narrows(g, &regions_rule);
	region = region_of(g->p, &ptr, &label);
	if (region == NULL)
		return; /* no region at all: the stage itself says so */
	list_value(g, &regions_rule, region, ptr, label);
	free(region);
}

static void repos(struct kiln_gate *g)
{
	size_t i;

	list_narrows(g, &repos_rule);
	for (i = 0; i < g->p->nlayers; i++) {
		const struct kiln_layer_spec *l = &g->p->layers[i];
		char *lptr = kiln_json_ptr_child("/layers", l->name);
		char *ptr = kiln_json_ptr_child(lptr, "repo");
		char *label = kiln_xasprintf("layers.%s.repo", l->name);

		list_value(g, &repos_rule, l->repo_url, ptr, label);
		free(lptr);
		free(ptr);
		free(label);
	}
}

/* The release: the "app" layer, else the last one (the convention puts the app last). */
static const struct kiln_layer_spec *release_layer(const struct kiln_profile *p)
{
	const struct kiln_layer_spec *l = kiln_profile_layer(p, "app");

	return l != NULL ? l : p->nlayers > 0 ? &p->layers[p->nlayers - 1] : NULL;
}

static void ref_rules(struct kiln_gate *g, const struct kiln_policy_spec *spec, int is_org,
                      const char *ref, const char *ptr, const char *label)
{
	size_t i;

	for (i = 0; spec != NULL && i < spec->nrelease_refs; i++) {
		const struct kiln_ref_rule *rule = &spec->release_refs[i];
		char *rptr, *list, *at;

		if (strcmp(rule->env, "*") != 0 &&
		    (g->p->env == NULL || strcmp(rule->env, g->p->env) != 0))
			continue;
		if (matches(ref, rule->patterns, rule->npatterns))
			continue;
		rptr = kiln_json_ptr_child(is_org ? "/release_refs" : "/policy/release_refs",
		                           rule->env);
		if (is_org) {
			at = kiln_gate_org_at(g, rptr);
		} else {
			char *where = kiln_profile_where(g->p, rptr, 1);
			at = kiln_xasprintf("%s: policy.release_refs.%s", where, rule->env);
			free(where);
		}
		list = list_text(rule->patterns, rule->npatterns);
		kiln_gate_violation(g, ptr, at, "%s '%s' is not a release allowed %s%s (%s)", label,
		                    ref, strcmp(rule->env, "*") == 0 ? "anywhere" : "in ",
		                    strcmp(rule->env, "*") == 0 ? "" : rule->env, list);
		free(list);
		free(rptr);
	}
}

static void release_refs(struct kiln_gate *g)
{
	const struct kiln_layer_spec *l = release_layer(g->p);
	const char *over = NULL, *ref;
	char *lptr, *ptr, *label;

	if (l == NULL)
		return;
	if (strcmp(l->name, "app") == 0)
		over = g->opts->app_ref;
	else if (strcmp(l->name, "os") == 0)
		over = g->opts->os_ref;
	ref = over != NULL ? over : l->ref;
	lptr = kiln_json_ptr_child("/layers", l->name);
	ptr = kiln_json_ptr_child(lptr, "ref");
	label = over != NULL ? kiln_xasprintf("--%s-ref", l->name)
	                     : kiln_xasprintf("layers.%s.ref", l->name);
	ref_rules(g, g->mine, 0, ref, ptr, label);
	ref_rules(g, org_spec(g), 1, ref, ptr, label);
	free(lptr);
	free(ptr);
	free(label);
}

const struct kiln_gate_rule kiln_gate_rules[] = {
    {"allow_internet_facing", internet_facing},
    {"allow_fleet_ssh", fleet_ssh},
    {"require_encrypted", encrypted},
    {"allowed_instance_types", instance_types},
    {"max_capacity", capacity},
    {"required_tags", required_tags},
    {"allowed_image_owners", image_owners},
    {"allowed_regions", regions},
    {"allowed_repos", repos},
    {"release_refs", release_refs},
};
const size_t kiln_gate_nrules = KILN_ARRAY_SIZE(kiln_gate_rules);
