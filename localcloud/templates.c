/*
 * Launch templates and their versions: the launch parameters RunInstances
 * (and Auto Scaling) take from them, stored as EC2 received them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "localcloud/describe-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/xml-int.h"

static json_t *templates(struct lc_cloud *c)
{
	return lc_table(c, "launch_templates");
}

static json_t *string_list(struct lc_req *r, const char *prefix)
{
	const char **list;
	size_t n = lc_q_list(r, prefix, &list);
	json_t *a = NULL;

	if (n) {
		a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_string(list[i]));
	}
	free(list);
	return a;
}

/* LaunchTemplateData.TagSpecification.N into the stored form. */
static int template_tag_specs(struct lc_req *r, json_t *d)
{
	int *idx;
	size_t n = lc_q_indexes(r, "LaunchTemplateData.TagSpecification", &idx);
	json_t *specs = json_array();
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *type =
		    lc_qf(r, "LaunchTemplateData.TagSpecification.%d.ResourceType", idx[i]);
		char prefix[96];
		json_t *tags;
		snprintf(prefix, sizeof(prefix), "LaunchTemplateData.TagSpecification.%d.Tag",
		         idx[i]);
		rc = lc_q_tags(r, prefix, &tags);
		if (rc == 0)
			json_array_append_new(specs,
			                      json_pack("{s:s, s:o}", "ResourceType",
			                                type ? type : "instance", "Tags", tags));
	}
	free(idx);
	if (rc == 0 && n)
		json_object_set_new(d, "TagSpecifications", json_incref(specs));
	json_decref(specs);
	return rc;
}

/* LaunchTemplateData.* into the stored form, on top of `base` (copied). */
static int template_data(struct lc_req *r, json_t *base, json_t **out)
{
	static const char *const scalars[] = {"ImageId", "InstanceType", "KeyName", "UserData",
	                                      "InstanceInitiatedShutdownBehavior"};
	json_t *d = base ? json_deep_copy(base) : json_object(), *list;
	int *idx;
	size_t n;

	for (size_t i = 0; i < KILN_ARRAY_SIZE(scalars); i++) {
		const char *v = lc_qf(r, "LaunchTemplateData.%s", scalars[i]);
		if (v)
			json_object_set_new(d, scalars[i], json_string(v));
	}
	if (lc_str(d, "UserData") && lc_user_data_check(r, lc_str(d, "UserData")) < 0) {
		json_decref(d);
		return -1;
	}
	if ((list = string_list(r, "LaunchTemplateData.SecurityGroupId")) != NULL)
		json_object_set_new(d, "SecurityGroupIds", list);
	if ((list = string_list(r, "LaunchTemplateData.SecurityGroup")) != NULL)
		json_object_set_new(d, "SecurityGroups", list);
	n = lc_q_indexes(r, "LaunchTemplateData.NetworkInterface", &idx);
	for (size_t i = 0; i < n; i++) {
		const char *subnet =
		    lc_qf(r, "LaunchTemplateData.NetworkInterface.%d.SubnetId", idx[i]);
		if (subnet)
			json_object_set_new(d, "SubnetId", json_string(subnet));
	}
	free(idx);
	if (template_tag_specs(r, d) < 0) {
		json_decref(d);
		return -1;
	}
	*out = d;
	return 0;
}

static void string_set_xml(struct lc_req *r, const char *name, json_t *list)
{
	size_t i;
	json_t *v;

	if (list == NULL)
		return;
	lc_xo(r->out, name);
	json_array_foreach(list, i, v) lc_xt(r->out, "item", json_string_value(v));
	lc_xc(r->out, name);
}

static void template_data_xml(struct lc_req *r, json_t *d)
{
	json_t *v;
	size_t i;

	lc_xo(r->out, "launchTemplateData");
	lc_xt(r->out, "imageId", lc_str(d, "ImageId"));
	lc_xt(r->out, "instanceType", lc_str(d, "InstanceType"));
	lc_xt(r->out, "keyName", lc_str(d, "KeyName"));
	lc_xt(r->out, "userData", lc_str(d, "UserData"));
	lc_xt(r->out, "instanceInitiatedShutdownBehavior",
	      lc_str(d, "InstanceInitiatedShutdownBehavior"));
	string_set_xml(r, "securityGroupIdSet", json_object_get(d, "SecurityGroupIds"));
	string_set_xml(r, "securityGroupSet", json_object_get(d, "SecurityGroups"));
	if (lc_str(d, "SubnetId")) {
		lc_xo(r->out, "networkInterfaceSet");
		lc_xo(r->out, "item");
		lc_xt(r->out, "deviceIndex", "0");
		lc_xt(r->out, "subnetId", lc_str(d, "SubnetId"));
		lc_xc(r->out, "item");
		lc_xc(r->out, "networkInterfaceSet");
	}
	if (json_object_get(d, "TagSpecifications")) {
		lc_xo(r->out, "tagSpecificationSet");
		json_array_foreach(json_object_get(d, "TagSpecifications"), i, v)
		{
			lc_xo(r->out, "item");
			lc_xt(r->out, "resourceType", lc_str(v, "ResourceType"));
			lc_xtags(r->out, "tagSet", json_object_get(v, "Tags"));
			lc_xc(r->out, "item");
		}
		lc_xc(r->out, "tagSpecificationSet");
	}
	lc_xc(r->out, "launchTemplateData");
}

static void template_xml(struct lc_req *r, const char *name, json_t *t)
{
	lc_xo(r->out, name);
	lc_xt(r->out, "launchTemplateId", lc_str(t, "id"));
	lc_xt(r->out, "launchTemplateName", lc_str(t, "name"));
	lc_xt(r->out, "createTime", lc_str(t, "created"));
	lc_xtf(r->out, "createdBy", "arn:aws:iam::%s:root", r->c->account);
	lc_xtf(r->out, "defaultVersionNumber", "%lld",
	       (long long)json_integer_value(json_object_get(t, "default_version")));
	lc_xtf(r->out, "latestVersionNumber", "%lld",
	       (long long)json_array_size(json_object_get(t, "versions")));
	lc_xtags(r->out, "tagSet", json_object_get(t, "tags"));
	lc_xc(r->out, name);
}

static void version_xml(struct lc_req *r, const char *name, json_t *t, json_t *v)
{
	long long number = json_integer_value(json_object_get(v, "number"));

	lc_xo(r->out, name);
	lc_xt(r->out, "launchTemplateId", lc_str(t, "id"));
	lc_xt(r->out, "launchTemplateName", lc_str(t, "name"));
	lc_xtf(r->out, "versionNumber", "%lld", number);
	lc_xt(r->out, "versionDescription", lc_str(v, "description"));
	lc_xt(r->out, "createTime", lc_str(v, "created"));
	lc_xtf(r->out, "createdBy", "arn:aws:iam::%s:root", r->c->account);
	lc_xbool(r->out, "defaultVersion",
	         number == json_integer_value(json_object_get(t, "default_version")));
	template_data_xml(r, json_object_get(v, "data"));
	lc_xc(r->out, name);
}

static int valid_template_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 128)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789()./_-") ==
	       n;
}

json_t *lc_template(struct lc_req *r, const char *id, const char *name)
{
	const char *k;
	json_t *t;

	if (id) {
		t = json_object_get(templates(r->c), id);
		if (t == NULL)
			lc_err(
			    r, 400, "InvalidLaunchTemplateId.NotFound",
			    "The specified launch template, with template ID %s, does not exist.",
			    id);
		return t;
	}
	if (name) {
		json_object_foreach(templates(r->c), k, t)
		{
			if (strcmp(lc_str(t, "name"), name) == 0)
				return t;
		}
		lc_err(r, 400, "InvalidLaunchTemplateName.NotFoundException",
		       "The specified launch template, with template name %s, does not exist.",
		       name);
		return NULL;
	}
	lc_missing(r, "LaunchTemplateId");
	return NULL;
}

json_t *lc_template_version(struct lc_req *r, json_t *t, const char *version)
{
	json_t *versions = json_object_get(t, "versions");
	long long n;
	char *end;

	if (version == NULL || strcmp(version, "$Default") == 0)
		n = json_integer_value(json_object_get(t, "default_version"));
	else if (strcmp(version, "$Latest") == 0)
		n = (long long)json_array_size(versions);
	else {
		n = strtoll(version, &end, 10);
		if (*end != '\0' || end == version)
			n = -1;
	}
	if (n < 1 || n > (long long)json_array_size(versions)) {
		lc_err(r, 400, "InvalidLaunchTemplateId.VersionNotFound",
		       "Could not find launch template version %s for template %s",
		       version ? version : "$Default", lc_str(t, "id"));
		return NULL;
	}
	return json_array_get(versions, (size_t)(n - 1));
}

static int check_version_description(struct lc_req *r)
{
	const char *d = lc_q(r, "VersionDescription");

	if (d != NULL && strlen(d) > 255)
		return lc_err(r, 400, "InvalidParameterValue",
		              "VersionDescription is limited to 255 characters");
	return 0;
}

int lc_ec2_create_launch_template(struct lc_req *r)
{
	const char *name = lc_q(r, "LaunchTemplateName"), *k;
	json_t *t, *data, *tags, *v;
	char created[32], *id;

	if (name == NULL)
		return lc_missing(r, "LaunchTemplateName");
	if (!lc_q_has_prefix(r, "LaunchTemplateData"))
		return lc_missing(r, "LaunchTemplateData");
	if (!valid_template_name(name))
		return lc_err(r, 400, "InvalidLaunchTemplateName.MalformedException",
		              "A launch template name must be between 3 and 128 characters, and "
		              "may contain letters, numbers, and the following characters: - ( ) . "
		              "/ _.'");
	if (check_version_description(r) < 0)
		return -1;
	json_object_foreach(templates(r->c), k, v)
	{
		if (strcmp(lc_str(v, "name"), name) == 0)
			return lc_err(r, 400, "InvalidLaunchTemplateName.AlreadyExistsException",
			              "Launch template name already in use.");
	}
	tags = json_object();
	if (lc_q_tag_specs(r, "TagSpecification", "launch-template", tags) < 0 ||
	    template_data(r, NULL, &data) < 0) {
		json_decref(tags);
		return -1;
	}
	id = lc_new_id("lt-");
	lc_now_iso(created);
	t = json_pack("{s:s, s:s, s:s, s:i, s:[{s:i, s:s?, s:s, s:o}], s:o}", "id", id, "name",
	              name, "created", created, "default_version", 1, "versions", "number", 1,
	              "description", lc_q(r, "VersionDescription"), "created", created, "data",
	              data, "tags", tags);
	json_object_set_new(templates(r->c), id, t);
	r->dirty = 1;
	template_xml(r, "launchTemplate", t);
	free(id);
	return 0;
}

int lc_ec2_create_launch_template_version(struct lc_req *r)
{
	json_t *t = lc_template(r, lc_q(r, "LaunchTemplateId"), lc_q(r, "LaunchTemplateName"));
	json_t *base = NULL, *data, *v;
	const char *source = lc_q(r, "SourceVersion");
	char created[32];

	if (t == NULL || check_version_description(r) < 0)
		return -1;
	if (source) {
		json_t *sv = lc_template_version(r, t, source);
		if (sv == NULL)
			return -1;
		base = json_object_get(sv, "data");
	}
	if (template_data(r, base, &data) < 0)
		return -1;
	lc_now_iso(created);
	v = json_pack("{s:I, s:s?, s:s, s:o}", "number",
	              (json_int_t)json_array_size(json_object_get(t, "versions")) + 1,
	              "description", lc_q(r, "VersionDescription"), "created", created, "data",
	              data);
	json_array_append_new(json_object_get(t, "versions"), v);
	r->dirty = 1;
	version_xml(r, "launchTemplateVersion", t, v);
	return 0;
}

int lc_ec2_modify_launch_template(struct lc_req *r)
{
	json_t *t = lc_template(r, lc_q(r, "LaunchTemplateId"), lc_q(r, "LaunchTemplateName"));
	const char *def = lc_q(r, "SetDefaultVersion");

	if (t == NULL)
		return -1;
	if (def) {
		json_t *v = lc_template_version(r, t, def);
		if (v == NULL)
			return -1;
		json_object_set(t, "default_version", json_object_get(v, "number"));
		r->dirty = 1;
	}
	template_xml(r, "launchTemplate", t);
	return 0;
}

int lc_ec2_delete_launch_template(struct lc_req *r)
{
	json_t *t = lc_template(r, lc_q(r, "LaunchTemplateId"), lc_q(r, "LaunchTemplateName"));
	char *id;

	if (t == NULL)
		return -1;
	template_xml(r, "launchTemplate", t);
	id = kiln_xstrdup(lc_str(t, "id"));
	json_object_del(templates(r->c), id);
	free(id);
	r->dirty = 1;
	return 0;
}

static const struct lc_field template_fields[] = {{"launch-template-name", .key = "name"},
                                                  {"launch-template-id", .key = "id"},
                                                  {"create-time", .key = "created"},
                                                  {NULL}};

static void template_item_xml(struct lc_req *r, json_t *t)
{
	template_xml(r, "item", t);
}

static int template_id_check(struct lc_req *r, const char *id)
{
	return lc_template(r, id, NULL) == NULL ? -1 : 0;
}

static int template_name_check(struct lc_req *r, const char *name)
{
	return lc_template(r, NULL, name) == NULL ? -1 : 0;
}

int lc_ec2_describe_launch_templates(struct lc_req *r)
{
	static const struct lc_describe d = {
	    .table = "launch_templates",
	    .by = {{"LaunchTemplateId", NULL, template_id_check},
	           {"LaunchTemplateName", "name", template_name_check}},
	    .fields = template_fields,
	    .paged = 1,
	    .page_min = 1,
	    .page_max = 200,
	    .set = "launchTemplates",
	    .item = template_item_xml};

	return lc_describe(r, &d);
}

int lc_ec2_describe_launch_template_versions(struct lc_req *r)
{
	const char *id = lc_q(r, "LaunchTemplateId"), *name = lc_q(r, "LaunchTemplateName");
	const char **versions;
	size_t nv, i;
	json_t *t, *v;

	if (id == NULL && name == NULL)
		return lc_missing(r, "LaunchTemplateId");
	t = lc_template(r, id, name);
	if (t == NULL)
		return -1;
	nv = lc_q_list(r, "LaunchTemplateVersion", &versions);
	for (i = 0; i < nv; i++) {
		if (lc_template_version(r, t, versions[i]) == NULL) {
			free(versions);
			return -1;
		}
	}
	lc_xo(r->out, "launchTemplateVersionSet");
	if (nv) {
		for (i = 0; i < nv; i++)
			version_xml(r, "item", t, lc_template_version(r, t, versions[i]));
	} else {
		json_array_foreach(json_object_get(t, "versions"), i, v)
		    version_xml(r, "item", t, v);
	}
	lc_xc(r->out, "launchTemplateVersionSet");
	free(versions);
	return 0;
}
