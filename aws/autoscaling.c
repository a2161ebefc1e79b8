#include "aws/autoscaling.h"
#include "aws/autoscaling-int.h"

#include <string.h>

#define ASG    KILN_AWS_AUTOSCALING
#define MEMBER KILN_QUERY_MEMBER

void kiln_asg_group_spec_init(struct kiln_asg_group_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->min_size = s->max_size = s->desired_capacity = -1;
	s->default_cooldown_s = s->health_check_grace_period_s = -1;
	s->new_instances_protected_from_scale_in = -1;
}

static void query_tags(struct kiln_query *q, const struct kiln_asg_tag *t, size_t n)
{
	size_t i;

	for (i = 0; t != NULL && i < n; i++) {
		KILN_ASSERT_ARG(t[i].group_name != NULL && t[i].key != NULL);
		kiln_query_addf(q, t[i].group_name, "Tags.member.%zu.ResourceId", i + 1);
		kiln_query_addf(q, "auto-scaling-group", "Tags.member.%zu.ResourceType", i + 1);
		kiln_query_addf(q, t[i].key, "Tags.member.%zu.Key", i + 1);
		if (t[i].value != NULL)
			kiln_query_addf(q, t[i].value, "Tags.member.%zu.Value", i + 1);
		if (t[i].propagate_at_launch >= 0)
			kiln_query_addf(q, t[i].propagate_at_launch ? "true" : "false",
			                "Tags.member.%zu.PropagateAtLaunch", i + 1);
	}
}

static void query_int(struct kiln_query *q, const char *key, int v)
{
	if (v >= 0)
		kiln_aws_query_int(q, key, v);
}

static void query_spec(struct kiln_query *q, const struct kiln_asg_group_spec *s, int create)
{
	kiln_query_add(q, "AutoScalingGroupName", s->name);
	if (s->launch_template_id != NULL)
		kiln_query_add(q, "LaunchTemplate.LaunchTemplateId", s->launch_template_id);
	if (s->launch_template_name != NULL)
		kiln_query_add(q, "LaunchTemplate.LaunchTemplateName", s->launch_template_name);
	if (s->launch_template_version != NULL)
		kiln_query_add(q, "LaunchTemplate.Version", s->launch_template_version);
	query_int(q, "MinSize", s->min_size);
	query_int(q, "MaxSize", s->max_size);
	query_int(q, "DesiredCapacity", s->desired_capacity);
	query_int(q, "DefaultCooldown", s->default_cooldown_s);
	kiln_aws_query_strings(q, MEMBER, "AvailabilityZones", s->availability_zones,
	                       s->n_availability_zones);
	if (s->vpc_zone_identifier != NULL)
		kiln_query_add(q, "VPCZoneIdentifier", s->vpc_zone_identifier);
	if (s->health_check_type != NULL)
		kiln_query_add(q, "HealthCheckType", s->health_check_type);
	query_int(q, "HealthCheckGracePeriod", s->health_check_grace_period_s);
	kiln_aws_query_strings(q, MEMBER, "TerminationPolicies", s->termination_policies,
	                       s->n_termination_policies);
	if (s->new_instances_protected_from_scale_in >= 0)
		kiln_aws_query_bool(q, "NewInstancesProtectedFromScaleIn",
		                    s->new_instances_protected_from_scale_in);
	if (!create)
		return;
	kiln_aws_query_strings(q, MEMBER, "TargetGroupARNs", s->target_group_arns,
	                       s->n_target_group_arns);
	query_tags(q, s->tags, s->n_tags);
}

static int simple_call(struct kiln_aws *aws, const char *action, struct kiln_query *q)
{
	int error = kiln_aws_call(aws, ASG, action, q, NULL, NULL, NULL);

	kiln_query_release(q);
	return error;
}

int kiln_asg_create_group(struct kiln_aws *aws, const struct kiln_asg_group_spec *s)
{
	struct kiln_query q = KILN_QUERY_INIT;

	KILN_ASSERT_ARG(aws != NULL && s != NULL && s->name != NULL && s->min_size >= 0 &&
	                s->max_size >= 0);
	/* Exactly one way to launch: kiln only uses launch templates. */
	KILN_ASSERT_ARG(s->launch_template_id != NULL || s->launch_template_name != NULL);
	query_spec(&q, s, 1);
	return simple_call(aws, "CreateAutoScalingGroup", &q);
}

int kiln_asg_update_group(struct kiln_aws *aws, const struct kiln_asg_group_spec *s)
{
	struct kiln_query q = KILN_QUERY_INIT;

	KILN_ASSERT_ARG(aws != NULL && s != NULL && s->name != NULL);
	KILN_ASSERT_ARG(s->n_target_group_arns == 0 && s->n_tags == 0);
	query_spec(&q, s, 0);
	return simple_call(aws, "UpdateAutoScalingGroup", &q);
}

int kiln_asg_delete_group(struct kiln_aws *aws, const char *name, int force)
{
	struct kiln_query q = KILN_QUERY_INIT;

	KILN_ASSERT_ARG(aws != NULL && name != NULL);
	kiln_query_add(&q, "AutoScalingGroupName", name);
	if (force)
		kiln_aws_query_bool(&q, "ForceDelete", 1);
	return simple_call(aws, "DeleteAutoScalingGroup", &q);
}

static void instance_release(struct kiln_asg_instance *in)
{
	free(in->instance_id);
	free(in->group_name);
	free(in->availability_zone);
	free(in->lifecycle_state);
	free(in->health_status);
	free(in->launch_template_id);
	free(in->launch_template_version);
	free(in->instance_type);
}

static int parse_instance(struct kiln_asg_instance *in, const struct kiln_xml *x, xmlNodePtr n)
{
	in->instance_id = kiln_aws_xml_dup(x, n, "InstanceId");
	in->group_name = kiln_aws_xml_dup(x, n, "AutoScalingGroupName");
	in->availability_zone = kiln_aws_xml_dup(x, n, "AvailabilityZone");
	in->lifecycle_state = kiln_aws_xml_dup(x, n, "LifecycleState");
	in->health_status = kiln_aws_xml_dup(x, n, "HealthStatus");
	in->launch_template_id = kiln_aws_xml_dup(x, n, "LaunchTemplate/LaunchTemplateId");
	in->launch_template_version = kiln_aws_xml_dup(x, n, "LaunchTemplate/Version");
	in->instance_type = kiln_aws_xml_dup(x, n, "InstanceType");
	in->protected_from_scale_in = kiln_aws_xml_bool(x, n, "ProtectedFromScaleIn");
	if (in->instance_id == NULL || in->lifecycle_state == NULL)
		return kiln_error_set(KILN_ERROR,
		                      "Auto Scaling instance in reply lacks InstanceId or state");
	return 0;
}

static void group_release(struct kiln_asg_group *g)
{
	size_t i;

	free(g->name);
	free(g->arn);
	free(g->launch_template_id);
	free(g->launch_template_name);
	free(g->launch_template_version);
	free(g->health_check_type);
	free(g->vpc_zone_identifier);
	free(g->created_time);
	free(g->status);
	kiln_aws_strings_release(&g->availability_zones);
	kiln_aws_strings_release(&g->target_group_arns);
	for (i = 0; i < g->n_instances; i++)
		instance_release(&g->instances[i]);
	free(g->instances);
	kiln_aws_tags_release(&g->tags);
}

void kiln_asg_group_list_free(struct kiln_asg_group_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		group_release(&l->v[i]);
	free(l->v);
	free(l);
}

KILN_STATIC int asg_parse_groups(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_asg_group_list *l = arg;
	xmlNodePtr it, in;
	size_t alloc;
	int error;

	for (it = kiln_xml_first_child(result, "AutoScalingGroups"); it; it = kiln_xml_next(it)) {
		struct kiln_asg_group *g = kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*g));

		g->name = kiln_aws_xml_dup(x, it, "AutoScalingGroupName");
		g->arn = kiln_aws_xml_dup(x, it, "AutoScalingGroupARN");
		g->launch_template_id = kiln_aws_xml_dup(x, it, "LaunchTemplate/LaunchTemplateId");
		g->launch_template_name =
		    kiln_aws_xml_dup(x, it, "LaunchTemplate/LaunchTemplateName");
		g->launch_template_version = kiln_aws_xml_dup(x, it, "LaunchTemplate/Version");
		g->min_size = (int)kiln_aws_xml_int(x, it, "MinSize", -1);
		g->max_size = (int)kiln_aws_xml_int(x, it, "MaxSize", -1);
		g->desired_capacity = (int)kiln_aws_xml_int(x, it, "DesiredCapacity", -1);
		g->default_cooldown_s = (int)kiln_aws_xml_int(x, it, "DefaultCooldown", -1);
		g->health_check_grace_period_s =
		    (int)kiln_aws_xml_int(x, it, "HealthCheckGracePeriod", -1);
		g->health_check_type = kiln_aws_xml_dup(x, it, "HealthCheckType");
		g->vpc_zone_identifier = kiln_aws_xml_dup(x, it, "VPCZoneIdentifier");
		g->created_time = kiln_aws_xml_dup(x, it, "CreatedTime");
		g->status = kiln_aws_xml_dup(x, it, "Status");
		kiln_aws_xml_strings(&g->availability_zones, x, it, "AvailabilityZones", "");
		kiln_aws_xml_strings(&g->target_group_arns, x, it, "TargetGroupARNs", "");
		alloc = 0;
		for (in = kiln_xml_first_child(it, "Instances"); in; in = kiln_xml_next(in)) {
			error = parse_instance(kiln_aws_vec_push(&g->instances, &g->n_instances,
			                                         &alloc, sizeof(*g->instances)),
			                       x, in);
			if (error < 0)
				return error;
		}
		kiln_aws_xml_tags(&g->tags, x, it, "Tags", "Key", "Value");
		if (g->name == NULL)
			return kiln_error_set(KILN_ERROR,
			                      "DescribeAutoScalingGroups reply lacks a group name");
	}
	return 0;
}

int kiln_asg_describe_groups(struct kiln_asg_group_list **out, struct kiln_aws *aws,
                             const char *const *names, size_t n,
                             const struct kiln_aws_filters *filters, int max_records)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_asg_group_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	kiln_aws_query_strings(&q, MEMBER, "AutoScalingGroupNames", names, n);
	kiln_aws_query_filters(&q, MEMBER, filters);
	if (max_records > 0)
		kiln_aws_query_int(&q, "MaxRecords", max_records);
	error =
	    kiln_aws_paginate(aws, ASG, "DescribeAutoScalingGroups", &q, "NextToken",
	                      "DescribeAutoScalingGroupsResult", "NextToken", asg_parse_groups, l);
	if (error < 0)
		kiln_asg_group_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

void kiln_asg_instance_list_free(struct kiln_asg_instance_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		instance_release(&l->v[i]);
	free(l->v);
	free(l);
}

KILN_STATIC int asg_parse_instances(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_asg_instance_list *l = arg;
	xmlNodePtr it;
	int error;

	for (it = kiln_xml_first_child(result, "AutoScalingInstances"); it;
	     it = kiln_xml_next(it)) {
		error = parse_instance(kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*l->v)), x,
		                       it);
		if (error < 0)
			return error;
	}
	return 0;
}

int kiln_asg_describe_instances(struct kiln_asg_instance_list **out, struct kiln_aws *aws,
                                const char *const *instance_ids, size_t n, int max_records)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_asg_instance_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	kiln_aws_query_strings(&q, MEMBER, "InstanceIds", instance_ids, n);
	if (max_records > 0)
		kiln_aws_query_int(&q, "MaxRecords", max_records);
	error = kiln_aws_paginate(aws, ASG, "DescribeAutoScalingInstances", &q, "NextToken",
	                          "DescribeAutoScalingInstancesResult", "NextToken",
	                          asg_parse_instances, l);
	if (error < 0)
		kiln_asg_instance_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

int kiln_asg_set_desired_capacity(struct kiln_aws *aws, const char *name, int desired,
                                  int honor_cooldown)
{
	struct kiln_query q = KILN_QUERY_INIT;

	KILN_ASSERT_ARG(aws != NULL && name != NULL && desired >= 0);
	kiln_query_add(&q, "AutoScalingGroupName", name);
	kiln_aws_query_int(&q, "DesiredCapacity", desired);
	if (honor_cooldown)
		kiln_aws_query_bool(&q, "HonorCooldown", 1);
	return simple_call(aws, "SetDesiredCapacity", &q);
}

static int target_groups_call(struct kiln_aws *aws, const char *action, const char *name,
                              const char *const *arns, size_t n)
{
	struct kiln_query q = KILN_QUERY_INIT;

	KILN_ASSERT_ARG(aws != NULL && name != NULL && arns != NULL && n > 0);
	kiln_query_add(&q, "AutoScalingGroupName", name);
	kiln_aws_query_strings(&q, MEMBER, "TargetGroupARNs", arns, n);
	return simple_call(aws, action, &q);
}

int kiln_asg_attach_target_groups(struct kiln_aws *aws, const char *name, const char *const *arns,
                                  size_t n)
{
	return target_groups_call(aws, "AttachLoadBalancerTargetGroups", name, arns, n);
}

int kiln_asg_detach_target_groups(struct kiln_aws *aws, const char *name, const char *const *arns,
                                  size_t n)
{
	return target_groups_call(aws, "DetachLoadBalancerTargetGroups", name, arns, n);
}

void kiln_asg_activity_list_free(struct kiln_asg_activity_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		struct kiln_asg_activity *a = &l->v[i];

		free(a->activity_id);
		free(a->group_name);
		free(a->description);
		free(a->cause);
		free(a->start_time);
		free(a->end_time);
		free(a->status_code);
		free(a->status_message);
	}
	free(l->v);
	free(l);
}

KILN_STATIC int asg_parse_activities(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_asg_activity_list *l = arg;
	xmlNodePtr it;

	for (it = kiln_xml_first_child(result, "Activities"); it; it = kiln_xml_next(it)) {
		struct kiln_asg_activity *a =
		    kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*a));

		a->activity_id = kiln_aws_xml_dup(x, it, "ActivityId");
		a->group_name = kiln_aws_xml_dup(x, it, "AutoScalingGroupName");
		a->description = kiln_aws_xml_dup(x, it, "Description");
		a->cause = kiln_aws_xml_dup(x, it, "Cause");
		a->start_time = kiln_aws_xml_dup(x, it, "StartTime");
		a->end_time = kiln_aws_xml_dup(x, it, "EndTime");
		a->status_code = kiln_aws_xml_dup(x, it, "StatusCode");
		a->status_message = kiln_aws_xml_dup(x, it, "StatusMessage");
		a->progress = (int)kiln_aws_xml_int(x, it, "Progress", 0);
		if (a->activity_id == NULL || a->status_code == NULL)
			return kiln_error_set(
			    KILN_ERROR, "scaling activity in reply lacks ActivityId or StatusCode");
	}
	return 0;
}

int kiln_asg_describe_activities(struct kiln_asg_activity_list **out, struct kiln_aws *aws,
                                 const char *name, const char *const *activity_ids, size_t n,
                                 int max_records)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_asg_activity_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	kiln_aws_query_strings(&q, MEMBER, "ActivityIds", activity_ids, n);
	if (name != NULL)
		kiln_query_add(&q, "AutoScalingGroupName", name);
	if (max_records > 0)
		kiln_aws_query_int(&q, "MaxRecords", max_records);
	error = kiln_aws_paginate(aws, ASG, "DescribeScalingActivities", &q, "NextToken",
	                          "DescribeScalingActivitiesResult", "NextToken",
	                          asg_parse_activities, l);
	if (error < 0)
		kiln_asg_activity_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

int kiln_asg_create_or_update_tags(struct kiln_aws *aws, const struct kiln_asg_tag *tags, size_t n)
{
	struct kiln_query q = KILN_QUERY_INIT;

	KILN_ASSERT_ARG(aws != NULL && tags != NULL && n > 0);
	query_tags(&q, tags, n);
	return simple_call(aws, "CreateOrUpdateTags", &q);
}

int kiln_asg_delete_tags(struct kiln_aws *aws, const struct kiln_asg_tag *tags, size_t n)
{
	struct kiln_query q = KILN_QUERY_INIT;

	KILN_ASSERT_ARG(aws != NULL && tags != NULL && n > 0);
	query_tags(&q, tags, n);
	return simple_call(aws, "DeleteTags", &q);
}
