/*
 * Every ELBv2 action the local cloud answers, what its handlers share, and
 * tags on load balancers, target groups and listeners.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/xml-int.h"

#define LC_ELB_TAGS_MAX 50
#define LC_PAGE_MAX     400

json_t *lc_lbs(struct lc_cloud *c)
{
	return lc_table(c, "load_balancers");
}

json_t *lc_tgs(struct lc_cloud *c)
{
	return lc_table(c, "target_groups");
}

json_t *lc_listeners(struct lc_cloud *c)
{
	return lc_table(c, "listeners");
}

/* "Targets.member.1.Port" -> "targets.1.port": the member path of AWS's validation messages. */
static void member_path(char *out, size_t size, const char *key)
{
	size_t n = 0;
	int start = 1;

	for (const char *p = key; *p && n + 1 < size; p++) {
		if (start && strncmp(p, "member.", 7) == 0) {
			p += 6;
			continue;
		}
		out[n++] = start && *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
		start = *p == '.';
	}
	out[n] = '\0';
}

int lc_elb_missing(struct lc_req *r, const char *name)
{
	char path[128];

	member_path(path, sizeof(path), name);
	return lc_validation(r,
	                     "1 validation error detected: Value null at '%s' failed to satisfy "
	                     "constraint: Member must not be null",
	                     path);
}

int lc_elb_q_int(struct lc_req *r, const char *key, long long def, long long min, long long max,
                 long long *out)
{
	const char *v = lc_q(r, key);
	char path[128];
	long long x;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	member_path(path, sizeof(path), key);
	/* strictly spelt (lc_parse_int): strtoll alone would take " 80" and "+80" */
	if (lc_parse_int(v, &x) < 0)
		return lc_validation(r,
		                     "1 validation error detected: Value '%s' at '%s' failed to "
		                     "satisfy constraint: Member must be an integer",
		                     v, path);
	if (x < min || x > max)
		return lc_validation(
		    r,
		    "1 validation error detected: Value '%lld' at '%s' failed to "
		    "satisfy constraint: Member must have value %s or equal to %lld",
		    x, path, x < min ? "greater than" : "less than", x < min ? min : max);
	*out = x;
	return 0;
}

/* The kinds of ELBv2 resources: their table, ARN, parameter and NotFound error. */
static const struct elb_kind {
	json_t *(*table)(struct lc_cloud *c);
	const char *arn_part, *param, *code, *noun, *Noun;
} kinds[] = {
    {lc_lbs, ":loadbalancer/", "LoadBalancerArn", "LoadBalancerNotFound", "load balancer",
     "Load balancer"},
    {lc_tgs, ":targetgroup/", "TargetGroupArn", "TargetGroupNotFound", "target group",
     "Target group"},
    {lc_listeners, ":listener/", "ListenerArn", "ListenerNotFound", "listener", "Listener"},
};

/* Is `arn` an ARN of `k`'s kind (whether or not it exists)? */
static int arn_is(const struct elb_kind *k, const char *arn)
{
	return strncmp(arn, "arn:aws:elasticloadbalancing:", 29) == 0 &&
	       strstr(arn, k->arn_part) != NULL;
}

/*
 * A resource by ARN, or NULL with AWS's error: ValidationError for what
 * is no ARN of that kind ("'x' is not a valid target group ARN"), else
 * the kind's NotFound.
 */
static json_t *get_kind(struct lc_req *r, const struct elb_kind *k, const char *arn)
{
	json_t *res;

	if (arn == NULL) {
		lc_elb_missing(r, k->param);
		return NULL;
	}
	if (!arn_is(k, arn)) {
		lc_validation(r, "'%s' is not a valid %s ARN", arn, k->noun);
		return NULL;
	}
	res = json_object_get(k->table(r->c), arn);
	if (res == NULL)
		lc_err(r, 400, k->code, "%s '%s' not found", k->Noun, arn);
	return res;
}

json_t *lc_lb_get(struct lc_req *r, const char *arn)
{
	return get_kind(r, &kinds[0], arn);
}

json_t *lc_tg_get(struct lc_req *r, const char *arn)
{
	return get_kind(r, &kinds[1], arn);
}

json_t *lc_listener_get(struct lc_req *r, const char *arn)
{
	return get_kind(r, &kinds[2], arn);
}

char *lc_elb_arn(struct lc_cloud *c, const char *resource)
{
	return kiln_xasprintf("arn:aws:elasticloadbalancing:%s:%s:%s", c->region, c->account,
	                      resource);
}

char *lc_elb_id(void)
{
	return kiln_id_random("", 16);
}

size_t lc_q_members(const struct lc_req *r, const char *name, const char ***out)
{
	char prefix[128];

	snprintf(prefix, sizeof(prefix), "%s.member", name);
	return lc_q_list(r, prefix, out);
}

void lc_xmembers(struct kiln_buf *b, const char *name, json_t *strings)
{
	size_t i;
	json_t *v;

	lc_xo(b, name);
	json_array_foreach(strings, i, v) lc_xt(b, "member", json_string_value(v));
	lc_xc(b, name);
}

int lc_elb_q_tags(struct lc_req *r, const char *name, json_t **out)
{
	char prefix[128];
	int *idx;
	size_t n;
	json_t *tags = json_object();

	snprintf(prefix, sizeof(prefix), "%s.member", name);
	n = lc_q_indexes(r, prefix, &idx);
	for (size_t i = 0; i < n; i++) {
		const char *k = lc_qf(r, "%s.%d.Key", prefix, idx[i]);
		const char *v = lc_qf_raw(r, "%s.%d.Value", prefix, idx[i]);
		if (k == NULL || strlen(k) > 128 || (v && strlen(v) > 256)) {
			free(idx);
			json_decref(tags);
			return lc_validation(r,
			                     "A tag key must be 1 to 128 characters and a value at "
			                     "most 256");
		}
		if (json_object_get(tags, k)) {
			free(idx);
			json_decref(tags);
			return lc_err(r, 400, "DuplicateTagKeys", "Tag key '%s' is given twice", k);
		}
		json_object_set_new(tags, k, json_string(v ? v : ""));
	}
	free(idx);
	if (json_object_size(tags) > LC_ELB_TAGS_MAX) {
		json_decref(tags);
		return lc_err(r, 400, "TooManyTags", "A resource has at most %d tags",
		              LC_ELB_TAGS_MAX);
	}
	*out = tags;
	return 0;
}

int lc_elb_page(struct lc_req *r, size_t total, size_t *first, size_t *count)
{
	const char *marker = lc_q(r, "Marker");
	long long size;
	char *end;
	unsigned long long start = 0;

	if (lc_elb_q_int(r, "PageSize", LC_PAGE_MAX, 1, LC_PAGE_MAX, &size) < 0)
		return -1;
	if (marker != NULL) {
		start = strtoull(marker, &end, 10);
		/* an offset this cloud handed out: digits without a leading zero, never 0 */
		if (*end != '\0' || marker[0] < '1' || marker[0] > '9' || start > total)
			return lc_validation(r, "Invalid value for Marker: %s", marker);
	}
	*first = (size_t)start;
	*count = total - *first < (size_t)size ? total - *first : (size_t)size;
	return 0;
}

void lc_elb_next_marker(struct lc_req *r, size_t first, size_t count, size_t total)
{
	if (first + count < total)
		lc_xtf(r->out, "NextMarker", "%zu", first + count);
}

json_t *lc_listener_target_groups(json_t *listener)
{
	json_t *arns = json_array(), *a, *tg;
	size_t i, j;

	json_array_foreach(json_object_get(listener, "actions"), i, a)
	{
		json_array_foreach(json_object_get(a, "groups"), j, tg)
		    json_array_append(arns, json_object_get(tg, "arn"));
	}
	return arns;
}

const char *lc_tg_load_balancer(struct lc_cloud *c, const char *tg_arn)
{
	const char *k;
	json_t *l;

	json_object_foreach(lc_listeners(c), k, l)
	{
		json_t *arns = lc_listener_target_groups(l), *v;
		size_t i;
		int uses = 0;
		json_array_foreach(arns, i, v) uses |= strcmp(json_string_value(v), tg_arn) == 0;
		json_decref(arns);
		if (uses)
			return lc_str(l, "lb");
	}
	return NULL;
}

static void free_string(void *p)
{
	free(p);
}

void lc_elbv2_sync_later(struct lc_req *r, const char *lb_arn)
{
	if (lb_arn == NULL)
		return;
	if (r->prep_free)
		r->prep_free(r->prep);
	r->prep = kiln_xstrdup(lb_arn);
	r->prep_free = free_string;
}

int lc_elbv2_sync_after(struct lc_req *r)
{
	/* a failure is logged by the sync and tried again by the watcher */
	if (r->prep != NULL)
		lc_lb_sync(r->c, r->prep);
	return 0;
}

/* ---- tags --------------------------------------------------------------- */

static json_t *tagged(struct lc_req *r, const char *arn)
{
	for (size_t i = 0; i < KILN_ARRAY_SIZE(kinds); i++)
		if (arn_is(&kinds[i], arn))
			return get_kind(r, &kinds[i], arn);
	lc_validation(r, "'%s' is not a valid Elastic Load Balancing resource ARN", arn);
	return NULL;
}

/* ResourceArns.member.N: each must exist; the resources in *out (borrowed). */
static int tagged_list(struct lc_req *r, json_t **out)
{
	const char **arns;
	size_t n = lc_q_members(r, "ResourceArns", &arns);
	json_t *list = json_array();
	int rc = n == 0 ? lc_elb_missing(r, "ResourceArns") : 0;

	if (n > 20)
		rc = lc_validation(r, "At most 20 resources per call");
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_t *res = tagged(r, arns[i]);
		if (res == NULL)
			rc = -1;
		else
			json_array_append(list, res);
	}
	free(arns);
	if (rc < 0) {
		json_decref(list);
		return -1;
	}
	*out = list;
	return 0;
}

static int add_tags(struct lc_req *r)
{
	json_t *list, *tags, *res;
	size_t i;
	int rc = -1;

	if (tagged_list(r, &list) < 0)
		return -1;
	if (lc_elb_q_tags(r, "Tags", &tags) < 0) {
		json_decref(list);
		return -1;
	}
	if (json_object_size(tags) == 0) {
		lc_elb_missing(r, "Tags");
		goto done;
	}
	json_array_foreach(list, i, res)
	{
		json_t *merged = json_copy(json_object_get(res, "tags"));
		json_object_update(merged, tags);
		if (json_object_size(merged) > LC_ELB_TAGS_MAX) {
			json_decref(merged);
			lc_err(r, 400, "TooManyTags", "A resource has at most %d tags",
			       LC_ELB_TAGS_MAX);
			goto done;
		}
		json_decref(merged);
	}
	json_array_foreach(list, i, res) json_object_update(json_object_get(res, "tags"), tags);
	r->dirty = 1;
	rc = 0;
done:
	json_decref(tags);
	json_decref(list);
	return rc;
}

static int remove_tags(struct lc_req *r)
{
	const char **keys;
	json_t *list, *res;
	size_t n, i;

	if (tagged_list(r, &list) < 0)
		return -1;
	n = lc_q_members(r, "TagKeys", &keys);
	if (n == 0) {
		free(keys);
		json_decref(list);
		return lc_elb_missing(r, "TagKeys");
	}
	json_array_foreach(list, i, res)
	{
		for (size_t k = 0; k < n; k++)
			json_object_del(json_object_get(res, "tags"), keys[k]);
	}
	free(keys);
	json_decref(list);
	r->dirty = 1;
	return 0;
}

static int describe_tags(struct lc_req *r)
{
	json_t *list, *res;
	size_t i;

	if (tagged_list(r, &list) < 0)
		return -1;
	lc_xo(r->out, "TagDescriptions");
	json_array_foreach(list, i, res)
	{
		const char *k;
		json_t *v;
		lc_xo(r->out, "member");
		lc_xt(r->out, "ResourceArn", lc_str(res, "arn"));
		lc_xo(r->out, "Tags");
		json_object_foreach(json_object_get(res, "tags"), k, v)
		{
			lc_xo(r->out, "member");
			lc_xt(r->out, "Key", k);
			lc_xt(r->out, "Value", json_string_value(v));
			lc_xc(r->out, "member");
		}
		lc_xc(r->out, "Tags");
		lc_xc(r->out, "member");
	}
	lc_xc(r->out, "TagDescriptions");
	json_decref(list);
	return 0;
}

/* Listener rules are not in the local cloud yet: say so clearly. */
static int rules_unsupported(struct lc_req *r)
{
	return lc_err(r, 400, "UnsupportedOperation",
	              "%s: listener rules are not supported by the local cloud yet; use the "
	              "listener's default actions",
	              r->action);
}

static const struct lc_action actions[] = {
    /* loadbalancers.c */
    {"CreateLoadBalancer", lc_elbv2_create_load_balancer, NULL, lc_elbv2_sync_after},
    {"DescribeLoadBalancers", lc_elbv2_describe_load_balancers, NULL, NULL},
    {"DeleteLoadBalancer", lc_elbv2_delete_load_balancer, NULL,
     lc_elbv2_delete_load_balancer_after},
    {"DescribeLoadBalancerAttributes", lc_elbv2_describe_load_balancer_attributes, NULL, NULL},
    {"ModifyLoadBalancerAttributes", lc_elbv2_modify_load_balancer_attributes, NULL,
     lc_elbv2_sync_after},
    {"SetSecurityGroups", lc_elbv2_set_security_groups, NULL, lc_elbv2_sync_after},
    /* targetgroups.c */
    {"CreateTargetGroup", lc_elbv2_create_target_group, NULL, NULL},
    {"DescribeTargetGroups", lc_elbv2_describe_target_groups, NULL, NULL},
    {"ModifyTargetGroup", lc_elbv2_modify_target_group, NULL, lc_elbv2_sync_after},
    {"DeleteTargetGroup", lc_elbv2_delete_target_group, NULL, NULL},
    {"DescribeTargetGroupAttributes", lc_elbv2_describe_target_group_attributes, NULL, NULL},
    {"ModifyTargetGroupAttributes", lc_elbv2_modify_target_group_attributes, NULL,
     lc_elbv2_sync_after},
    /* targets.c */
    {"RegisterTargets", lc_elbv2_register_targets, NULL, lc_elbv2_sync_after},
    {"DeregisterTargets", lc_elbv2_deregister_targets, NULL, lc_elbv2_sync_after},
    {"DescribeTargetHealth", lc_elbv2_describe_target_health, NULL, NULL},
    /* listeners.c */
    {"CreateListener", lc_elbv2_create_listener, NULL, lc_elbv2_sync_after},
    {"DescribeListeners", lc_elbv2_describe_listeners, NULL, NULL},
    {"ModifyListener", lc_elbv2_modify_listener, NULL, lc_elbv2_sync_after},
    {"DeleteListener", lc_elbv2_delete_listener, NULL, lc_elbv2_sync_after},
    /* tags */
    {"AddTags", add_tags, NULL, NULL},
    {"RemoveTags", remove_tags, NULL, NULL},
    {"DescribeTags", describe_tags, NULL, NULL},
    /* not yet */
    {"CreateRule", rules_unsupported, NULL, NULL},
    {"DescribeRules", rules_unsupported, NULL, NULL},
    {"ModifyRule", rules_unsupported, NULL, NULL},
    {"DeleteRule", rules_unsupported, NULL, NULL},
    {"SetRulePriorities", rules_unsupported, NULL, NULL},
    {NULL, NULL, NULL, NULL}};

const struct lc_action *lc_elbv2_action(const char *name)
{
	for (const struct lc_action *a = actions; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}
