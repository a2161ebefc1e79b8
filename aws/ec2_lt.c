/* EC2 launch templates: the deploy's new version per release. */
#include "aws/ec2.h"
#include "aws/ec2-int.h"

#include <string.h>

#define EC2 KILN_AWS_EC2
#define LTD "LaunchTemplateData."

static void query_data(struct kiln_query *q, const struct kiln_ec2_launch_template_data *d,
                       char **b64)
{
	if (d == NULL)
		return;
	if (d->image_id != NULL)
		kiln_query_add(q, LTD "ImageId", d->image_id);
	if (d->instance_type != NULL)
		kiln_query_add(q, LTD "InstanceType", d->instance_type);
	if (d->key_name != NULL)
		kiln_query_add(q, LTD "KeyName", d->key_name);
	if (d->user_data != NULL) {
		*b64 = kiln_aws_base64_encode(d->user_data, strlen(d->user_data));
		kiln_query_add(q, LTD "UserData", *b64);
	}
	kiln_aws_query_strings(q, KILN_QUERY_EC2, LTD "SecurityGroupId", d->security_group_ids,
	                       d->n_security_group_ids);
	if (d->iam_instance_profile_name != NULL)
		kiln_query_add(q, LTD "IamInstanceProfile.Name", d->iam_instance_profile_name);
	if (d->shutdown_behavior != NULL)
		kiln_query_add(q, LTD "InstanceInitiatedShutdownBehavior", d->shutdown_behavior);
	kiln_ec2_query_block_devices(q, LTD, "Ebs", d->devices, d->n_devices);
	kiln_ec2_query_tag_specs(q, LTD, d->tag_specs, d->n_tag_specs);
}

static void template_release(struct kiln_ec2_launch_template *t)
{
	free(t->launch_template_id);
	free(t->launch_template_name);
	free(t->create_time);
	free(t->created_by);
	kiln_aws_tags_release(&t->tags);
}

void kiln_ec2_launch_template_free(struct kiln_ec2_launch_template *t)
{
	if (t == NULL)
		return;
	template_release(t);
	free(t);
}

void kiln_ec2_launch_template_list_free(struct kiln_ec2_launch_template_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		template_release(&l->v[i]);
	free(l->v);
	free(l);
}

static void version_release(struct kiln_ec2_launch_template_version *v)
{
	free(v->launch_template_id);
	free(v->launch_template_name);
	free(v->description);
	free(v->create_time);
	free(v->image_id);
	free(v->instance_type);
	free(v->key_name);
	free(v->user_data);
	kiln_aws_strings_release(&v->security_group_ids);
}

void kiln_ec2_launch_template_version_free(struct kiln_ec2_launch_template_version *v)
{
	if (v == NULL)
		return;
	version_release(v);
	free(v);
}

void kiln_ec2_launch_template_version_list_free(struct kiln_ec2_launch_template_version_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		version_release(&l->v[i]);
	free(l->v);
	free(l);
}

static int parse_template(struct kiln_ec2_launch_template *t, const struct kiln_xml *x,
                          xmlNodePtr n)
{
	t->launch_template_id = kiln_aws_xml_dup(x, n, "launchTemplateId");
	t->launch_template_name = kiln_aws_xml_dup(x, n, "launchTemplateName");
	t->create_time = kiln_aws_xml_dup(x, n, "createTime");
	t->created_by = kiln_aws_xml_dup(x, n, "createdBy");
	t->default_version = kiln_aws_xml_int(x, n, "defaultVersionNumber", 0);
	t->latest_version = kiln_aws_xml_int(x, n, "latestVersionNumber", 0);
	kiln_aws_xml_tags(&t->tags, x, n, "tagSet", "key", "value");
	if (t->launch_template_id == NULL)
		return kiln_error_set(KILN_ERROR,
		                      "launch template in reply lacks launchTemplateId");
	return 0;
}

static int parse_version(struct kiln_ec2_launch_template_version *v, const struct kiln_xml *x,
                         xmlNodePtr n)
{
	struct kiln_buf b = KILN_BUF_INIT;
	const char *ud;
	xmlNodePtr data = kiln_xml_find(n, "launchTemplateData");
	int error = 0;

	v->launch_template_id = kiln_aws_xml_dup(x, n, "launchTemplateId");
	v->launch_template_name = kiln_aws_xml_dup(x, n, "launchTemplateName");
	v->description = kiln_aws_xml_dup(x, n, "versionDescription");
	v->create_time = kiln_aws_xml_dup(x, n, "createTime");
	v->version_number = kiln_aws_xml_int(x, n, "versionNumber", 0);
	v->default_version = kiln_aws_xml_bool(x, n, "defaultVersion");
	v->image_id = kiln_aws_xml_dup(x, data, "imageId");
	v->instance_type = kiln_aws_xml_dup(x, data, "instanceType");
	v->key_name = kiln_aws_xml_dup(x, data, "keyName");
	kiln_aws_xml_strings(&v->security_group_ids, x, data, "securityGroupIdSet", "");
	ud = data != NULL ? kiln_xml_text(x, data, "userData") : NULL;
	if (ud != NULL) {
		error = kiln_aws_base64_decode(&b, ud);
		if (error < 0) {
			kiln_error_prefix(error, "launch template userData");
			goto done;
		}
		v->user_data = kiln_buf_detach(&b);
	}
	if (v->launch_template_id == NULL || v->version_number <= 0)
		error = kiln_error_set(KILN_ERROR,
		                       "launch template version in reply lacks an id or number");
done:
	kiln_buf_release(&b);
	return error;
}

static int parse_created_template(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	xmlNodePtr n = kiln_xml_find(result, "launchTemplate");

	if (n == NULL)
		return kiln_error_set(KILN_ERROR,
		                      "CreateLaunchTemplate reply lacks launchTemplate");
	return parse_template(arg, x, n);
}

int kiln_ec2_create_launch_template(struct kiln_ec2_launch_template **out, struct kiln_aws *aws,
                                    const struct kiln_ec2_create_launch_template *o)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_launch_template *t = kiln_xcalloc(1, sizeof(*t));
	struct kiln_ec2_tag_spec spec = {"launch-template", NULL};
	char *b64 = NULL;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && o != NULL && o->name != NULL);
	*out = NULL;
	kiln_query_add(&q, "LaunchTemplateName", o->name);
	if (o->version_description != NULL)
		kiln_query_add(&q, "VersionDescription", o->version_description);
	if (o->client_token != NULL)
		kiln_query_add(&q, "ClientToken", o->client_token);
	query_data(&q, o->data, &b64);
	if (o->tags != NULL && o->tags->n > 0) {
		spec.tags = o->tags;
		kiln_ec2_query_tag_specs(&q, "", &spec, 1);
	}
	error = kiln_aws_call(aws, EC2, "CreateLaunchTemplate", &q, "", parse_created_template, t);
	if (error < 0)
		kiln_ec2_launch_template_free(t);
	else
		*out = t;
	free(b64);
	kiln_query_release(&q);
	return error;
}

static int parse_created_version(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	xmlNodePtr n = kiln_xml_find(result, "launchTemplateVersion");

	if (n == NULL)
		return kiln_error_set(
		    KILN_ERROR, "CreateLaunchTemplateVersion reply lacks launchTemplateVersion");
	return parse_version(arg, x, n);
}

static void add_template_ref(struct kiln_query *q, const char *id, const char *name)
{
	KILN_ASSERT_ARG(id != NULL || name != NULL);
	if (id != NULL)
		kiln_query_add(q, "LaunchTemplateId", id);
	else
		kiln_query_add(q, "LaunchTemplateName", name);
}

int kiln_ec2_create_launch_template_version(struct kiln_ec2_launch_template_version **out,
                                            struct kiln_aws *aws,
                                            const struct kiln_ec2_create_launch_template_version *o)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_launch_template_version *v = kiln_xcalloc(1, sizeof(*v));
	char *b64 = NULL;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && o != NULL);
	*out = NULL;
	add_template_ref(&q, o->launch_template_id, o->launch_template_name);
	if (o->source_version != NULL)
		kiln_query_add(&q, "SourceVersion", o->source_version);
	if (o->version_description != NULL)
		kiln_query_add(&q, "VersionDescription", o->version_description);
	if (o->client_token != NULL)
		kiln_query_add(&q, "ClientToken", o->client_token);
	query_data(&q, o->data, &b64);
	error = kiln_aws_call(aws, EC2, "CreateLaunchTemplateVersion", &q, "",
	                      parse_created_version, v);
	if (error < 0)
		kiln_ec2_launch_template_version_free(v);
	else
		*out = v;
	free(b64);
	kiln_query_release(&q);
	return error;
}

int kiln_ec2_modify_launch_template(struct kiln_aws *aws, const char *launch_template_id,
                                    const char *launch_template_name, const char *default_version)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(aws != NULL && default_version != NULL);
	add_template_ref(&q, launch_template_id, launch_template_name);
	kiln_query_add(&q, "SetDefaultVersion", default_version);
	error = kiln_aws_call(aws, EC2, "ModifyLaunchTemplate", &q, NULL, NULL, NULL);
	kiln_query_release(&q);
	return error;
}

int kiln_ec2_delete_launch_template(struct kiln_aws *aws, const char *launch_template_id,
                                    const char *launch_template_name)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(aws != NULL);
	add_template_ref(&q, launch_template_id, launch_template_name);
	error = kiln_aws_call(aws, EC2, "DeleteLaunchTemplate", &q, NULL, NULL, NULL);
	kiln_query_release(&q);
	return error;
}

KILN_STATIC int ec2_parse_launch_templates(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_ec2_launch_template_list *l = arg;
	xmlNodePtr it;
	int error;

	for (it = kiln_xml_first_child(result, "launchTemplates"); it; it = kiln_xml_next(it)) {
		error = parse_template(kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*l->v)), x,
		                       it);
		if (error < 0)
			return error;
	}
	return 0;
}

int kiln_ec2_describe_launch_templates(struct kiln_ec2_launch_template_list **out,
                                       struct kiln_aws *aws, const struct kiln_ec2_describe *d)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_launch_template_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	kiln_ec2_query_describe(&q, d, "LaunchTemplateId", "LaunchTemplateName");
	error = kiln_aws_paginate(aws, EC2, "DescribeLaunchTemplates", &q, "NextToken", "",
	                          "nextToken", ec2_parse_launch_templates, l);
	if (error < 0)
		kiln_ec2_launch_template_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

KILN_STATIC int ec2_parse_launch_template_versions(void *arg, const struct kiln_xml *x,
                                                   xmlNodePtr result)
{
	struct kiln_ec2_launch_template_version_list *l = arg;
	xmlNodePtr it;
	int error;

	for (it = kiln_xml_first_child(result, "launchTemplateVersionSet"); it;
	     it = kiln_xml_next(it)) {
		error =
		    parse_version(kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*l->v)), x, it);
		if (error < 0)
			return error;
	}
	return 0;
}

int kiln_ec2_describe_launch_template_versions(struct kiln_ec2_launch_template_version_list **out,
                                               struct kiln_aws *aws, const char *launch_template_id,
                                               const char *launch_template_name,
                                               const char *const *versions, size_t n_versions,
                                               const struct kiln_ec2_describe *d)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_launch_template_version_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	add_template_ref(&q, launch_template_id, launch_template_name);
	kiln_aws_query_strings(&q, KILN_QUERY_EC2, "LaunchTemplateVersion", versions, n_versions);
	if (d != NULL) {
		kiln_aws_query_filters(&q, KILN_QUERY_EC2, d->filters);
		if (d->max_results > 0 && n_versions == 0)
			kiln_aws_query_int(&q, "MaxResults", d->max_results);
	}
	error = kiln_aws_paginate(aws, EC2, "DescribeLaunchTemplateVersions", &q, "NextToken", "",
	                          "nextToken", ec2_parse_launch_template_versions, l);
	if (error < 0)
		kiln_ec2_launch_template_version_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}
