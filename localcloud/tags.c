/*
 * Tags on every EC2 resource of the local cloud: CreateTags, DeleteTags,
 * DescribeTags (50 tags per resource, as EC2).
 */
#include <stdlib.h>
#include <string.h>

#include "localcloud/describe-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/xml-int.h"

#define LC_TAGS_MAX 50

/* The tables that hold taggable resources, and EC2's name for their type. */
static const char *const taggable[][2] = {{"instances", "instance"},
                                          {"images", "image"},
                                          {"snapshots", "snapshot"},
                                          {"security_groups", "security-group"},
                                          {"launch_templates", "launch-template"},
                                          {"vpcs", "vpc"},
                                          {"subnets", "subnet"},
                                          {"key_pairs", "key-pair"}};

const char *lc_resource_type(const char *table)
{
	for (size_t i = 0; i < KILN_ARRAY_SIZE(taggable); i++)
		if (strcmp(taggable[i][0], table) == 0)
			return taggable[i][1];
	return table;
}

static const char *not_found_code(const char *id)
{
	static const struct {
		const char *prefix, *code;
	} codes[] = {{"i-", "InvalidInstanceID.NotFound"},
	             {"ami-", "InvalidAMIID.NotFound"},
	             {"sg-", "InvalidGroup.NotFound"},
	             {"snap-", "InvalidSnapshot.NotFound"},
	             {"lt-", "InvalidLaunchTemplateId.NotFound"},
	             {"key-", "InvalidKeyPair.NotFound"},
	             {"vpc-", "InvalidVpcID.NotFound"},
	             {"subnet-", "InvalidSubnetID.NotFound"}};

	for (size_t i = 0; i < KILN_ARRAY_SIZE(codes); i++)
		if (strncmp(id, codes[i].prefix, strlen(codes[i].prefix)) == 0)
			return codes[i].code;
	return "InvalidID";
}

/* ResourceId.N: every one must exist; the resources in *out (borrowed). */
static int tagged_resources(struct lc_req *r, json_t **out)
{
	const char **ids;
	size_t n = lc_q_list(r, "ResourceId", &ids);
	json_t *list;

	if (n == 0) {
		free(ids);
		return lc_missing(r, "ResourceId");
	}
	if (n > LC_IDS_MAX) {
		free(ids);
		return lc_err(r, 400, "InvalidParameterValue", "Too many resource ids (at most %d)",
		              LC_IDS_MAX);
	}
	list = json_array();
	for (size_t i = 0; i < n; i++) {
		const char *kind;
		json_t *res = lc_find_any(r->c, ids[i], &kind);
		if (res == NULL) {
			lc_err(r, 400, not_found_code(ids[i]), "The ID '%s' does not exist",
			       ids[i]);
			free(ids);
			json_decref(list);
			return -1;
		}
		json_array_append(list, res);
	}
	free(ids);
	*out = list;
	return 0;
}

/* Each resource's tags object, created when missing. */
static json_t *tags_of(json_t *res)
{
	json_t *have = json_object_get(res, "tags");

	if (have == NULL) {
		have = json_object();
		json_object_set_new(res, "tags", have);
	}
	return have;
}

int lc_ec2_create_tags(struct lc_req *r)
{
	json_t *list, *tags, *res;
	size_t i;
	int rc = -1;

	if (tagged_resources(r, &list) < 0)
		return -1;
	if (lc_q_tags(r, "Tag", &tags) < 0) {
		json_decref(list);
		return -1;
	}
	if (json_object_size(tags) == 0) {
		lc_missing(r, "Tag");
		goto done;
	}
	/* all or nothing: every resource must stay within the limit */
	json_array_foreach(list, i, res)
	{
		json_t *merged = json_copy(json_object_get(res, "tags"));
		if (merged == NULL)
			merged = json_object();
		json_object_update(merged, tags);
		if (json_object_size(merged) > LC_TAGS_MAX) {
			json_decref(merged);
			lc_err(r, 400, "TagLimitExceeded",
			       "The maximum number of tags per resource is %d", LC_TAGS_MAX);
			goto done;
		}
		json_decref(merged);
	}
	json_array_foreach(list, i, res) json_object_update(tags_of(res), tags);
	r->dirty = 1;
	lc_xt(r->out, "return", "true");
	rc = 0;
done:
	json_decref(list);
	json_decref(tags);
	return rc;
}

int lc_ec2_delete_tags(struct lc_req *r)
{
	json_t *list, *res;
	int *idx;
	size_t i, n;

	if (tagged_resources(r, &list) < 0)
		return -1;
	n = lc_q_indexes(r, "Tag", &idx);
	json_array_foreach(list, i, res)
	{
		json_t *tags = tags_of(res);
		if (n == 0) {
			json_object_clear(tags);
			continue;
		}
		for (size_t j = 0; j < n; j++) {
			const char *k = lc_qf(r, "Tag.%d.Key", idx[j]);
			/* an empty value deletes the tag only when its value is empty */
			const char *v = lc_qf_raw(r, "Tag.%d.Value", idx[j]);
			const char *have = k ? json_string_value(json_object_get(tags, k)) : NULL;
			if (have && (v == NULL || strcmp(v, have) == 0))
				json_object_del(tags, k);
		}
	}
	free(idx);
	json_decref(list);
	r->dirty = 1;
	lc_xt(r->out, "return", "true");
	return 0;
}

/* One row per tag of every resource; each row keeps its resource's tags for tag: filters. */
static json_t *tag_rows(struct lc_req *r)
{
	json_t *rows = json_object();
	size_t n = 0;

	for (size_t t = 0; t < KILN_ARRAY_SIZE(taggable); t++) {
		const char *k, *tk;
		json_t *res, *tv;
		json_object_foreach(lc_table(r->c, taggable[t][0]), k, res)
		{
			const char *id =
			    strcmp(taggable[t][0], "key_pairs") == 0 ? lc_str(res, "id") : k;
			json_object_foreach(json_object_get(res, "tags"), tk, tv)
			{
				char key[32];
				snprintf(key, sizeof(key), "%zu", n++);
				json_object_set_new(rows, key,
				                    json_pack("{s:s, s:s, s:s, s:O, s:O}", "id", id,
				                              "type", taggable[t][1], "key", tk,
				                              "value", tv, "tags",
				                              json_object_get(res, "tags")));
			}
		}
	}
	return rows;
}

static const struct lc_field tag_fields[] = {{"resource-id", .key = "id"},
                                             {"resource-type", .key = "type"},
                                             {"key", .key = "key"},
                                             {"value", .key = "value"},
                                             {NULL}};

static void tag_xml(struct lc_req *r, json_t *row)
{
	lc_xo(r->out, "item");
	lc_xt(r->out, "resourceId", lc_str(row, "id"));
	lc_xt(r->out, "resourceType", lc_str(row, "type"));
	lc_xt(r->out, "key", lc_str(row, "key"));
	lc_xt(r->out, "value", lc_str(row, "value"));
	lc_xc(r->out, "item");
}

int lc_ec2_describe_tags(struct lc_req *r)
{
	static const struct lc_describe d = {.source = tag_rows,
	                                     .fields = tag_fields,
	                                     .paged = 1,
	                                     .page_min = 5,
	                                     .page_max = 1000,
	                                     .set = "tagSet",
	                                     .item = tag_xml};

	return lc_describe(r, &d);
}
