/*
 * Tags of Auto Scaling groups: CreateOrUpdateTags, DeleteTags, DescribeTags,
 * and the Tags of CreateAutoScalingGroup. A tag with PropagateAtLaunch goes
 * onto every instance the group launches afterwards (asreconcile.c). Kept in
 * the group as key -> {"value", "propagate"}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/autoscaling-int.h"
#include "localcloud/xml-int.h"

struct tag_in {
	const char *group, *key, *value;
	int propagate;
};

/* Tags.member.N, each checked; `group` fills in a missing ResourceId (NULL: required). */
static int q_tags(struct lc_req *r, const char *group, struct tag_in **out, size_t *n)
{
	int *idx;
	size_t m = lc_q_indexes(r, "Tags.member", &idx);
	struct tag_in *t = kiln_xcalloc(m + 1, sizeof(*t));
	int rc = 0;

	for (size_t i = 0; i < m && rc == 0; i++) {
		const char *type = lc_qf(r, "Tags.member.%d.ResourceType", idx[i]);
		const char *prop = lc_qf(r, "Tags.member.%d.PropagateAtLaunch", idx[i]);
		t[i].group = lc_qf(r, "Tags.member.%d.ResourceId", idx[i]);
		t[i].key = lc_qf(r, "Tags.member.%d.Key", idx[i]);
		t[i].value = lc_qf_raw(r, "Tags.member.%d.Value", idx[i]);
		t[i].propagate = prop != NULL && strcmp(prop, "true") == 0;
		if (t[i].group == NULL)
			t[i].group = group;
		if (t[i].group == NULL)
			rc = lc_validation(
			    r,
			    "1 validation error detected: Value null at "
			    "'tags.%d.member.resourceId' failed to satisfy constraint: "
			    "Member must not be null",
			    idx[i]);
		else if (group != NULL && strcmp(t[i].group, group) != 0)
			rc = lc_validation(
			    r, "The tag's ResourceId '%s' is not the group created ('%s')",
			    t[i].group, group);
		else if (type != NULL && strcmp(type, "auto-scaling-group") != 0)
			rc = lc_validation(r, "Invalid resource type '%s': auto-scaling-group",
			                   type);
		else if (t[i].key == NULL || strlen(t[i].key) > 128)
			rc = lc_validation(r, "A tag key must be 1 to 128 characters");
		else if (strncmp(t[i].key, "aws:", 4) == 0)
			rc = lc_validation(
			    r, "Tag keys starting with 'aws:' are reserved for internal "
			       "use");
		else if (t[i].value != NULL && strlen(t[i].value) > 256)
			rc = lc_validation(r, "A tag value must be at most 256 characters");
		else if (prop != NULL && strcmp(prop, "true") != 0 && strcmp(prop, "false") != 0)
			rc = lc_validation(
			    r, "Value '%s' at 'PropagateAtLaunch' is not a valid boolean", prop);
	}
	free(idx);
	if (rc < 0) {
		free(t);
		return -1;
	}
	*out = t;
	*n = m;
	return 0;
}

static json_t *tag_value(const struct tag_in *t)
{
	return json_pack("{s:s, s:b}", "value", t->value ? t->value : "", "propagate",
	                 t->propagate);
}

int lc_as_q_group_tags(struct lc_req *r, const char *group, json_t **out)
{
	struct tag_in *t;
	size_t n;
	json_t *tags;

	if (q_tags(r, group, &t, &n) < 0)
		return -1;
	tags = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(tags, t[i].key, tag_value(&t[i]));
	free(t);
	if (json_object_size(tags) > LC_AS_TAGS_MAX) {
		json_decref(tags);
		return lc_err(r, 400, "LimitExceeded",
		              "The number of tags for %s exceeds the limit of %d", group,
		              LC_AS_TAGS_MAX);
	}
	*out = tags;
	return 0;
}

/* Every tag's group must exist (and not be going); 0 or -1. */
static int groups_exist(struct lc_req *r, const struct tag_in *t, size_t n)
{
	if (n == 0)
		return lc_validation(r,
		                     "1 validation error detected: Value null at 'tags' failed to "
		                     "satisfy constraint: Member must not be null");
	for (size_t i = 0; i < n; i++) {
		json_t *g = json_object_get(lc_asgs(r->c), t[i].group);
		if (g == NULL || lc_str(g, "status") != NULL)
			return lc_validation(
			    r,
			    "AutoScalingGroup name not found - AutoScalingGroup '%s' "
			    "not found",
			    t[i].group);
	}
	return 0;
}

int lc_as_create_or_update_tags(struct lc_req *r)
{
	struct tag_in *t;
	size_t n;

	if (q_tags(r, NULL, &t, &n) < 0)
		return -1;
	if (groups_exist(r, t, n) < 0)
		goto fail;
	/* the limit is checked for every group before any changes */
	for (size_t i = 0; i < n; i++) {
		json_t *tags = json_object_get(json_object_get(lc_asgs(r->c), t[i].group), "tags");
		json_t *after = json_copy(tags);
		for (size_t j = 0; j < n; j++)
			if (strcmp(t[j].group, t[i].group) == 0)
				json_object_set_new(after, t[j].key, json_true());
		if (json_object_size(after) > LC_AS_TAGS_MAX) {
			json_decref(after);
			lc_err(r, 400, "LimitExceeded",
			       "The number of tags for %s exceeds the limit of %d", t[i].group,
			       LC_AS_TAGS_MAX);
			goto fail;
		}
		json_decref(after);
	}
	for (size_t i = 0; i < n; i++)
		json_object_set_new(
		    json_object_get(json_object_get(lc_asgs(r->c), t[i].group), "tags"), t[i].key,
		    tag_value(&t[i]));
	free(t);
	r->dirty = 1;
	return 0;
fail:
	free(t);
	return -1;
}

int lc_as_delete_tags(struct lc_req *r)
{
	struct tag_in *t;
	size_t n;

	if (q_tags(r, NULL, &t, &n) < 0)
		return -1;
	if (groups_exist(r, t, n) < 0) {
		free(t);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		json_object_del(json_object_get(json_object_get(lc_asgs(r->c), t[i].group), "tags"),
		                t[i].key);
	free(t);
	r->dirty = 1;
	return 0;
}

static void tag_xml(struct lc_req *r, const char *group, const char *key, json_t *tag)
{
	lc_xo(r->out, "member");
	lc_xt(r->out, "ResourceId", group);
	lc_xt(r->out, "ResourceType", "auto-scaling-group");
	lc_xt(r->out, "Key", key);
	lc_xt(r->out, "Value", lc_str(tag, "value"));
	lc_xbool(r->out, "PropagateAtLaunch", json_is_true(json_object_get(tag, "propagate")));
	lc_xc(r->out, "member");
}

void lc_asg_tags_xml(struct lc_req *r, json_t *g)
{
	const char *k;
	json_t *tag;

	lc_xo(r->out, "Tags");
	json_object_foreach(json_object_get(g, "tags"), k, tag)
	    tag_xml(r, lc_str(g, "name"), k, tag);
	lc_xc(r->out, "Tags");
}

/* One tag against DescribeTags' filters (values of one filter OR, filters AND). */
static int tag_matches(json_t *filters, const char *group, const char *key, json_t *tag)
{
	size_t i, j;
	json_t *f, *v;

	json_array_foreach(filters, i, f)
	{
		const char *name = lc_str(f, "name"), *have;
		int any = 0;
		have = strcmp(name, "auto-scaling-group") == 0           ? group
		       : strcmp(name, "key") == 0                        ? key
		       : strcmp(name, "value") == 0                      ? lc_str(tag, "value")
		       : json_is_true(json_object_get(tag, "propagate")) ? "true"
		                                                         : "false";
		json_array_foreach(json_object_get(f, "values"), j, v) any |=
		    strcmp(json_string_value(v), have) == 0;
		if (!any)
			return 0;
	}
	return 1;
}

static int by_group_key(const void *x, const void *y)
{
	json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int c = strcmp(lc_str(a, "group"), lc_str(b, "group"));

	return c ? c : strcmp(lc_str(a, "key"), lc_str(b, "key"));
}

int lc_as_describe_tags(struct lc_req *r)
{
	static const char *const filter_names[] = {"auto-scaling-group", "key", "value",
	                                           "propagate-at-launch"};
	json_t *filters, *g, *tag, *rows = json_array(), **list;
	const char *gk, *tk;
	size_t n, first, count;
	int rc = -1;

	if (lc_as_filters(r, filter_names, 4, &filters) < 0) {
		json_decref(rows);
		return -1;
	}
	json_object_foreach(lc_asgs(r->c), gk, g)
	{
		json_object_foreach(json_object_get(g, "tags"), tk,
		                    tag) if (tag_matches(filters, gk, tk, tag))
		    json_array_append_new(
		        rows, json_pack("{s:s, s:s, s:O}", "group", gk, "key", tk, "tag", tag));
	}
	n = json_array_size(rows);
	list = kiln_xcalloc(n + 1, sizeof(*list));
	for (size_t i = 0; i < n; i++)
		list[i] = json_array_get(rows, i);
	qsort(list, n, sizeof(*list), by_group_key);
	if (lc_as_page(r, n, 50, 100, &first, &count) < 0)
		goto done;
	lc_xo(r->out, "Tags");
	for (size_t i = first; i < first + count; i++)
		tag_xml(r, lc_str(list[i], "group"), lc_str(list[i], "key"),
		        json_object_get(list[i], "tag"));
	lc_xc(r->out, "Tags");
	lc_as_next_token(r, first, count, n);
	rc = 0;
done:
	free(list);
	json_decref(rows);
	json_decref(filters);
	return rc;
}
