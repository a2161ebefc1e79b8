/*
 * Auto Scaling groups: create, update, delete, describe, their desired
 * capacity and suspended processes. A handler only records what the group
 * should be (and a cause for the activities that follow); the reconciler
 * (asreconcile.c) launches and terminates instances to match.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/autoscaling-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/xml-int.h"

static const char *const health_types[] = {"EC2", "ELB"};
static const char *const termination_policies[] = {"Default",
                                                   "OldestInstance",
                                                   "NewestInstance",
                                                   "OldestLaunchConfiguration",
                                                   "OldestLaunchTemplate",
                                                   "ClosestToNextInstanceHour",
                                                   "AllocationStrategy"};

long long lc_asg_live(json_t *g)
{
	const char *k;
	json_t *inst;
	long long n = 0;

	json_object_foreach(json_object_get(g, "instances"), k, inst)
	{
		const char *s = lc_str(inst, "state");
		if (strncmp(s, "Pending", 7) == 0 || strcmp(s, "InService") == 0)
			n++;
	}
	return n;
}

/* LaunchTemplate.*: a template that exists and a version it has; {id, name, version}. */
static int q_launch_template(struct lc_req *r, json_t **out)
{
	const char *id, *name, *version;
	json_t *t;

	*out = NULL;
	if (lc_as_str(r, "LaunchTemplate.LaunchTemplateId", 255, &id) < 0 ||
	    lc_as_str(r, "LaunchTemplate.LaunchTemplateName", 128, &name) < 0 ||
	    lc_as_str(r, "LaunchTemplate.Version", 255, &version) < 0)
		return -1;
	if (id == NULL && name == NULL)
		return 0;
	if (id != NULL && name != NULL)
		return lc_validation(r, "Valid requests must contain either launchTemplateId or "
		                        "LaunchTemplateName");
	t = lc_template(r, id, name);
	if (t == NULL || lc_template_version(r, t, version) == NULL) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", r->message);
		return lc_validation(r, "You must use a valid fully-formed launch template. %s",
		                     msg);
	}
	*out = json_pack("{s:s, s:s, s:s}", "id", lc_str(t, "id"), "name", lc_str(t, "name"),
	                 "version", version ? version : "$Default");
	return 0;
}

/* What a group may not use in the local cloud: a clear refusal rather than a silent drop. */
static int q_unsupported(struct lc_req *r)
{
	static const char *const params[] = {"LaunchConfigurationName", "InstanceId",
	                                     "MixedInstancesPolicy", "LoadBalancerNames"};

	for (size_t i = 0; i < KILN_ARRAY_SIZE(params); i++)
		if (lc_q(r, params[i]) != NULL || lc_q_has_prefix(r, params[i]))
			return lc_validation(r,
			                     "%s is not supported by the local cloud: use a launch "
			                     "template and target groups",
			                     params[i]);
	return 0;
}

static void add_subnet(json_t *subnets, json_t *zones, json_t *s)
{
	json_array_append_new(subnets, json_string(lc_str(s, "id")));
	for (size_t i = 0; i < json_array_size(zones); i++)
		if (strcmp(json_string_value(json_array_get(zones, i)), lc_str(s, "zone")) == 0)
			return;
	json_array_append_new(zones, json_string(lc_str(s, "zone")));
}

/* VPCZoneIdentifier (subnets) or AvailabilityZones (their default subnets) into g. */
static int q_placement(struct lc_req *r, json_t *g, int required)
{
	const char *vzi, **zones;
	size_t nz;
	json_t *subnets = json_array(), *zlist = json_array();
	int rc = 0;

	if (lc_as_str(r, "VPCZoneIdentifier", 5000, &vzi) < 0 ||
	    lc_as_members(r, "AvailabilityZones", 255, 100, &zones, &nz) < 0)
		goto fail;
	if (vzi != NULL) {
		char *copy = kiln_xstrdup(vzi), *save = NULL;
		for (char *tok = strtok_r(copy, ", ", &save); tok && rc == 0;
		     tok = strtok_r(NULL, ", ", &save)) {
			json_t *s = lc_subnet(r->c, tok);
			if (s == NULL)
				rc = lc_validation(r, "The subnet ID '%s' does not exist", tok);
			else
				add_subnet(subnets, zlist, s);
		}
		free(copy);
	} else {
		for (size_t i = 0; i < nz && rc == 0; i++) {
			const char *k;
			json_t *s, *found = NULL;
			json_object_foreach(lc_table(r->c, "subnets"), k,
			                    s) if (found == NULL &&
			                           strcmp(lc_str(s, "zone"), zones[i]) == 0) found =
			    s;
			if (found == NULL)
				rc = lc_validation(r, "The availability zone '%s' is not legal",
				                   zones[i]);
			else
				add_subnet(subnets, zlist, found);
		}
	}
	free(zones);
	if (rc < 0)
		goto fail;
	if (json_array_size(subnets) == 0) {
		json_decref(subnets);
		json_decref(zlist);
		return required
		           ? lc_validation(r, "At least one Availability Zone or VPC Subnet is "
		                              "required.")
		           : 0;
	}
	json_object_set_new(g, "subnets", subnets);
	json_object_set_new(g, "zones", zlist);
	if (vzi != NULL)
		json_object_set_new(g, "vpc_zone_identifier", json_string(vzi));
	else
		json_object_del(g, "vpc_zone_identifier");
	return 0;
fail:
	json_decref(subnets);
	json_decref(zlist);
	return -1;
}

/* The settings Create and Update share, into g (only those given). */
static int q_settings(struct lc_req *r, json_t *g)
{
	const char *hc, **pol;
	long long grace, cooldown, warmup;
	int protect, rebalance;
	size_t np;

	if (lc_as_str(r, "HealthCheckType", 32, &hc) < 0)
		return -1;
	if (hc && !lc_in_list(health_types, KILN_ARRAY_SIZE(health_types), hc))
		return lc_validation(r, "Invalid health check type '%s': EC2 or ELB", hc);
	if (lc_as_int(r, "HealthCheckGracePeriod", -1, 0, 86400, &grace) < 0 ||
	    lc_as_int(r, "DefaultCooldown", -1, 0, 86400, &cooldown) < 0 ||
	    lc_as_int(r, "DefaultInstanceWarmup", -2, -1, 86400, &warmup) < 0 ||
	    lc_as_bool(r, "NewInstancesProtectedFromScaleIn", -1, &protect) < 0 ||
	    lc_as_bool(r, "CapacityRebalance", -1, &rebalance) < 0 ||
	    lc_as_members(r, "TerminationPolicies", 1600, 10, &pol, &np) < 0)
		return -1;
	for (size_t i = 0; i < np; i++) {
		if (!lc_in_list(termination_policies, KILN_ARRAY_SIZE(termination_policies),
		                pol[i])) {
			int rc = lc_validation(r, "Invalid termination policy '%s'", pol[i]);
			/* the message holds a copy of the name: the list is freed after it */
			free(pol);
			return rc;
		}
	}
	if (np) {
		json_t *list = json_array();
		for (size_t i = 0; i < np; i++)
			json_array_append_new(list, json_string(pol[i]));
		json_object_set_new(g, "termination_policies", list);
	}
	free(pol);
	if (hc)
		json_object_set_new(g, "hc_type", json_string(hc));
	if (grace >= 0)
		json_object_set_new(g, "grace", json_integer(grace));
	if (cooldown >= 0)
		json_object_set_new(g, "cooldown", json_integer(cooldown));
	if (warmup == -1)
		json_object_del(g, "warmup");
	else if (warmup >= 0)
		json_object_set_new(g, "warmup", json_integer(warmup));
	if (protect >= 0)
		json_object_set_new(g, "protect", json_boolean(protect));
	if (rebalance >= 0)
		json_object_set_new(g, "rebalance", json_boolean(rebalance));
	return 0;
}

/* MinSize, MaxSize, DesiredCapacity over the group's: desired follows min and max as on AWS. */
static int q_sizes(struct lc_req *r, json_t *g, int create)
{
	long long min, max, desired;
	long long old_min = json_integer_value(json_object_get(g, "min"));
	long long old_max = json_integer_value(json_object_get(g, "max"));
	long long old_desired = json_integer_value(json_object_get(g, "desired"));

	if (create && lc_q(r, "MinSize") == NULL)
		return lc_validation(r, "1 validation error detected: Value null at 'minSize' "
		                        "failed to satisfy constraint: Member must not be null");
	if (create && lc_q(r, "MaxSize") == NULL)
		return lc_validation(r, "1 validation error detected: Value null at 'maxSize' "
		                        "failed to satisfy constraint: Member must not be null");
	if (lc_as_int(r, "MinSize", old_min, 0, LC_AS_CAPACITY, &min) < 0 ||
	    lc_as_int(r, "MaxSize", old_max, 0, LC_AS_CAPACITY, &max) < 0 ||
	    lc_as_int(r, "DesiredCapacity", -1, 0, LC_AS_CAPACITY, &desired) < 0)
		return -1;
	if (max < min)
		return lc_validation(r,
		                     "Max bound, %lld, must be greater than or equal to min bound, "
		                     "%lld",
		                     max, min);
	if (desired >= 0 && (desired < min || desired > max))
		return lc_validation(r,
		                     "Desired capacity:%lld must be between the specified min size:"
		                     "%lld and max size:%lld",
		                     desired, min, max);
	if (desired < 0)
		desired = create              ? min
		          : old_desired < min ? min
		          : old_desired > max ? max
		                              : old_desired;
	json_object_set_new(g, "min", json_integer(min));
	json_object_set_new(g, "max", json_integer(max));
	json_object_set_new(g, "desired", json_integer(desired));
	return 0;
}

static char *group_arn(struct lc_cloud *c, const char *name)
{
	char *hex = kiln_id_random("", 32);
	char *arn =
	    kiln_xasprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%.8s-%.4s-%.4s-%.4s-"
	                   "%.12s:autoScalingGroupName/%s",
	                   c->region, c->account, hex, hex + 8, hex + 12, hex + 16, hex + 20, name);

	free(hex);
	return arn;
}

/* Everything a create names, checked before the group exists. */
static int create_check(struct lc_req *r, json_t *g)
{
	const char **tgs;
	size_t ntg;
	json_t *lt, *tags, *list;

	if (q_unsupported(r) < 0 || q_launch_template(r, &lt) < 0)
		return -1;
	if (lt == NULL)
		return lc_validation(r,
		                     "Valid requests must contain either LaunchTemplate, "
		                     "LaunchConfigurationName, InstanceId or MixedInstancesPolicy "
		                     "parameter.");
	json_object_set_new(g, "lt", lt);
	if (q_sizes(r, g, 1) < 0 || q_settings(r, g) < 0 || q_placement(r, g, 1) < 0 ||
	    lc_as_members(r, "TargetGroupARNs", 511, LC_AS_TGS_MAX, &tgs, &ntg) < 0)
		return -1;
	if (lc_as_check_target_groups(r, tgs, ntg) < 0) {
		free(tgs);
		return -1;
	}
	list = json_array();
	for (size_t i = 0; i < ntg; i++)
		json_array_append_new(list, json_string(tgs[i]));
	free(tgs);
	json_object_set_new(g, "tgs", list);
	if (lc_as_q_group_tags(r, lc_str(g, "name"), &tags) < 0)
		return -1;
	json_object_set_new(g, "tags", tags);
	return lc_as_q_hook_specs(r, json_object_get(g, "hooks"));
}

int lc_as_create_group(struct lc_req *r)
{
	const char *name;
	char now[32], *arn;
	json_t *g;

	if (lc_as_str(r, "AutoScalingGroupName", 255, &name) < 0)
		return -1;
	if (name == NULL)
		return lc_validation(r,
		                     "1 validation error detected: Value null at "
		                     "'autoScalingGroupName' failed to satisfy constraint: Member "
		                     "must not be null");
	if (json_object_get(lc_asgs(r->c), name) != NULL)
		return lc_err(
		    r, 400, "AlreadyExists",
		    "AutoScalingGroup by this name already exists - A group with the name "
		    "%s already exists",
		    name);
	if (json_object_size(lc_asgs(r->c)) >= LC_AS_GROUPS_MAX)
		return lc_err(r, 400, "LimitExceeded",
		              "You have reached your quota of %d Auto Scaling groups",
		              LC_AS_GROUPS_MAX);
	lc_now_iso(now);
	arn = group_arn(r->c, name);
	g = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:[s], s:o, s:o, s:o, s:b}", "name", name,
	              "arn", arn, "created", now, "hc_type", "EC2", "grace", 0, "cooldown", 300,
	              "termination_policies", "Default", "instances", json_object(), "suspended",
	              json_object(), "hooks", json_object(), "protect", 0);
	free(arn);
	if (create_check(r, g) < 0) {
		json_decref(g);
		return -1;
	}
	lc_asg_cause(g,
	             "a user request created an AutoScalingGroup changing the desired capacity "
	             "from 0 to %lld.",
	             (long long)json_integer_value(json_object_get(g, "desired")));
	json_object_set_new(lc_asgs(r->c), name, g);
	r->dirty = 1;
	return 0;
}

int lc_as_update_group(struct lc_req *r)
{
	json_t *g = lc_asg_get(r, 0), *copy, *lt;
	long long before, after;

	if (g == NULL || q_unsupported(r) < 0)
		return -1;
	/* all or nothing: the changes go to a copy first */
	copy = json_deep_copy(g);
	if (q_launch_template(r, &lt) < 0)
		goto fail;
	if (lt != NULL)
		json_object_set_new(copy, "lt", lt);
	if (q_sizes(r, copy, 0) < 0 || q_settings(r, copy) < 0 || q_placement(r, copy, 0) < 0)
		goto fail;
	before = json_integer_value(json_object_get(g, "desired"));
	after = json_integer_value(json_object_get(copy, "desired"));
	if (before != after)
		lc_asg_cause(
		    copy,
		    "a user request update of AutoScalingGroup constraints to min: %lld, max: "
		    "%lld, desired: %lld changing the desired capacity from %lld to %lld.",
		    (long long)json_integer_value(json_object_get(copy, "min")),
		    (long long)json_integer_value(json_object_get(copy, "max")), after, before,
		    after);
	json_object_set_new(lc_asgs(r->c), lc_str(copy, "name"), copy);
	r->dirty = 1;
	return 0;
fail:
	json_decref(copy);
	return -1;
}

int lc_as_set_desired_capacity(struct lc_req *r)
{
	json_t *g = lc_asg_get(r, 0);
	long long desired, min, max, before;
	int honor;
	double last_end;

	if (g == NULL)
		return -1;
	if (lc_q(r, "DesiredCapacity") == NULL)
		return lc_validation(r,
		                     "1 validation error detected: Value null at "
		                     "'desiredCapacity' failed to satisfy constraint: Member must "
		                     "not be null");
	if (lc_as_int(r, "DesiredCapacity", 0, 0, LC_AS_CAPACITY, &desired) < 0 ||
	    lc_as_bool(r, "HonorCooldown", 0, &honor) < 0)
		return -1;
	min = json_integer_value(json_object_get(g, "min"));
	max = json_integer_value(json_object_get(g, "max"));
	before = json_integer_value(json_object_get(g, "desired"));
	if (desired > max)
		return lc_validation(
		    r,
		    "New SetDesiredCapacity value %lld is above max value %lld for "
		    "the AutoScalingGroup.",
		    desired, max);
	if (desired < min)
		return lc_validation(
		    r,
		    "New SetDesiredCapacity value %lld is below min value %lld for "
		    "the AutoScalingGroup.",
		    desired, min);
	last_end = json_number_value(json_object_get(g, "last_end"));
	if (honor && (lc_asg_busy(r->c, lc_str(g, "name")) ||
	              kiln_time_now() <
	                  last_end + (double)json_integer_value(json_object_get(g, "cooldown"))))
		return lc_err(
		    r, 400, "ScalingActivityInProgress",
		    "Scaling activity is in progress or the group is in its cooldown, and "
		    "blocks this action");
	if (desired != before)
		lc_asg_cause(g,
		             "a user request explicitly set group desired capacity changing the "
		             "desired capacity from %lld to %lld.",
		             before, desired);
	json_object_set_new(g, "desired", json_integer(desired));
	r->dirty = 1;
	return 0;
}

int lc_as_delete_group(struct lc_req *r)
{
	json_t *g = lc_asg_get(r, 1), *inst;
	const char *k;
	int force;

	if (g == NULL || lc_as_bool(r, "ForceDelete", 0, &force) < 0)
		return -1;
	if (!force && json_object_size(json_object_get(g, "instances")) > 0)
		return lc_err(r, 400, "ResourceInUse",
		              "You cannot delete an AutoScalingGroup while there are instances or "
		              "pending Spot instance request(s) still in the group.");
	if (!force && lc_asg_busy(r->c, lc_str(g, "name")))
		return lc_err(r, 400, "ScalingActivityInProgress",
		              "You cannot delete an AutoScalingGroup while there are scaling "
		              "activities in progress for that group.");
	r->dirty = 1;
	if (json_object_size(json_object_get(g, "instances")) == 0) {
		lc_activities_group_deleted(r->c, lc_str(g, "name"));
		json_object_del(lc_asgs(r->c), lc_str(g, "name"));
		return 0;
	}
	/* ForceDelete: every instance drained and terminated, no hook waited for */
	json_object_set_new(g, "status", json_string("Delete in progress"));
	json_object_set_new(g, "force", json_true());
	json_object_set_new(g, "min", json_integer(0));
	json_object_set_new(g, "max", json_integer(0));
	json_object_set_new(g, "desired", json_integer(0));
	lc_asg_cause(g, "a user request deleted the AutoScalingGroup.");
	json_object_foreach(json_object_get(g, "instances"), k, inst)
	{
		json_object_del(inst, "waits");
		lc_asg_instance_retire(r->c, g, inst,
		                       "taken out of service in response to a user "
		                       "request to delete the group");
	}
	return 0;
}

/* ---- describe ----------------------------------------------------------- */

static void strings_xml(struct lc_req *r, const char *name, json_t *list)
{
	size_t i;
	json_t *v;

	lc_xo(r->out, name);
	json_array_foreach(list, i, v) lc_xt(r->out, "member", json_string_value(v));
	lc_xc(r->out, name);
}

static void lt_xml(struct lc_req *r, json_t *lt)
{
	lc_xo(r->out, "LaunchTemplate");
	lc_xt(r->out, "LaunchTemplateId", lc_str(lt, "id"));
	lc_xt(r->out, "LaunchTemplateName", lc_str(lt, "name"));
	lc_xt(r->out, "Version", lc_str(lt, "version"));
	lc_xc(r->out, "LaunchTemplate");
}

static void suspended_xml(struct lc_req *r, json_t *g)
{
	const char *k;
	json_t *v;

	lc_xo(r->out, "SuspendedProcesses");
	json_object_foreach(json_object_get(g, "suspended"), k, v)
	{
		lc_xo(r->out, "member");
		lc_xt(r->out, "ProcessName", k);
		lc_xt(r->out, "SuspensionReason", json_string_value(v));
		lc_xc(r->out, "member");
	}
	lc_xc(r->out, "SuspendedProcesses");
}

static void traffic_xml(struct lc_req *r, json_t *g)
{
	size_t i;
	json_t *v;

	lc_xo(r->out, "TrafficSources");
	json_array_foreach(json_object_get(g, "tgs"), i, v)
	{
		lc_xo(r->out, "member");
		lc_xt(r->out, "Identifier", json_string_value(v));
		lc_xt(r->out, "Type", "elbv2");
		lc_xc(r->out, "member");
	}
	lc_xc(r->out, "TrafficSources");
}

static void group_xml(struct lc_req *r, json_t *g, int with_instances)
{
	const char *k;
	json_t *inst;

	lc_xt(r->out, "AutoScalingGroupName", lc_str(g, "name"));
	lc_xt(r->out, "AutoScalingGroupARN", lc_str(g, "arn"));
	lt_xml(r, json_object_get(g, "lt"));
	lc_xtf(r->out, "MinSize", "%lld", (long long)json_integer_value(json_object_get(g, "min")));
	lc_xtf(r->out, "MaxSize", "%lld", (long long)json_integer_value(json_object_get(g, "max")));
	lc_xtf(r->out, "DesiredCapacity", "%lld",
	       (long long)json_integer_value(json_object_get(g, "desired")));
	lc_xtf(r->out, "DefaultCooldown", "%lld",
	       (long long)json_integer_value(json_object_get(g, "cooldown")));
	strings_xml(r, "AvailabilityZones", json_object_get(g, "zones"));
	kiln_buf_puts(r->out, "<LoadBalancerNames/>");
	strings_xml(r, "TargetGroupARNs", json_object_get(g, "tgs"));
	lc_xt(r->out, "HealthCheckType", lc_str(g, "hc_type"));
	lc_xtf(r->out, "HealthCheckGracePeriod", "%lld",
	       (long long)json_integer_value(json_object_get(g, "grace")));
	lc_xo(r->out, "Instances");
	json_object_foreach(json_object_get(g, "instances"), k, inst) if (with_instances)
	    lc_asg_instance_xml(r, g, inst, 0);
	lc_xc(r->out, "Instances");
	lc_xt(r->out, "CreatedTime", lc_str(g, "created"));
	suspended_xml(r, g);
	lc_xt(r->out, "VPCZoneIdentifier", lc_str(g, "vpc_zone_identifier"));
	kiln_buf_puts(r->out, "<EnabledMetrics/>");
	lc_xt(r->out, "Status", lc_str(g, "status"));
	lc_asg_tags_xml(r, g);
	strings_xml(r, "TerminationPolicies", json_object_get(g, "termination_policies"));
	lc_xbool(r->out, "NewInstancesProtectedFromScaleIn",
	         json_is_true(json_object_get(g, "protect")));
	lc_xtf(r->out, "ServiceLinkedRoleARN",
	       "arn:aws:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/"
	       "AWSServiceRoleForAutoScaling",
	       r->c->account);
	lc_xbool(r->out, "CapacityRebalance", json_is_true(json_object_get(g, "rebalance")));
	if (json_object_get(g, "warmup"))
		lc_xtf(r->out, "DefaultInstanceWarmup", "%lld",
		       (long long)json_integer_value(json_object_get(g, "warmup")));
	traffic_xml(r, g);
}

/* Filters of DescribeAutoScalingGroups: tag:KEY, tag-key, tag-value (exact values). */
static int group_matches(json_t *g, json_t *filters)
{
	size_t i, j;
	json_t *f, *v;

	json_array_foreach(filters, i, f)
	{
		const char *name = lc_str(f, "name"), *k;
		json_t *tag;
		int any = 0;
		json_array_foreach(json_object_get(f, "values"), j, v)
		{
			const char *want = json_string_value(v);
			json_object_foreach(json_object_get(g, "tags"), k, tag)
			{
				if (strncmp(name, "tag:", 4) == 0)
					any |= strcmp(k, name + 4) == 0 &&
					       strcmp(lc_str(tag, "value"), want) == 0;
				else if (strcmp(name, "tag-key") == 0)
					any |= strcmp(k, want) == 0;
				else
					any |= strcmp(lc_str(tag, "value"), want) == 0;
			}
		}
		if (!any)
			return 0;
	}
	return 1;
}

static int by_name(const void *x, const void *y)
{
	return strcmp(lc_str(*(json_t *const *)x, "name"), lc_str(*(json_t *const *)y, "name"));
}

int lc_as_describe_groups(struct lc_req *r)
{
	static const char *const filter_names[] = {"tag:", "tag-key", "tag-value"};
	const char **names = NULL, *k;
	json_t **list = NULL, *filters = NULL, *g;
	size_t nnames, n = 0, first, count;
	int with_instances, rc = -1;

	if (lc_as_members(r, "AutoScalingGroupNames", 255, 1600, &names, &nnames) < 0)
		return -1;
	if (lc_as_bool(r, "IncludeInstances", 1, &with_instances) < 0 ||
	    lc_as_filters(r, filter_names, 3, &filters) < 0)
		goto done;
	list = kiln_xcalloc(json_object_size(lc_asgs(r->c)) + 1, sizeof(*list));
	json_object_foreach(lc_asgs(r->c), k, g)
	{
		if ((nnames == 0 || lc_in_list(names, nnames, k)) && group_matches(g, filters))
			list[n++] = g;
	}
	qsort(list, n, sizeof(*list), by_name);
	if (lc_as_page(r, n, 50, 100, &first, &count) < 0)
		goto done;
	lc_xo(r->out, "AutoScalingGroups");
	for (size_t i = first; i < first + count; i++) {
		lc_xo(r->out, "member");
		group_xml(r, list[i], with_instances);
		lc_xc(r->out, "member");
	}
	lc_xc(r->out, "AutoScalingGroups");
	lc_as_next_token(r, first, count, n);
	rc = 0;
done:
	free(names);
	free(list);
	json_decref(filters);
	return rc;
}

/* ---- processes ---------------------------------------------------------- */

static int processes(struct lc_req *r, int suspend)
{
	json_t *g = lc_asg_get(r, 0), *susp;
	const char **names;
	size_t n;
	char now[32], reason[96];

	if (g == NULL ||
	    lc_as_members(r, "ScalingProcesses", 255, lc_as_nprocesses + 1, &names, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!lc_as_process_valid(names[i])) {
			lc_validation(r, "Process %s is not a valid process", names[i]);
			free(names);
			return -1;
		}
	}
	susp = json_object_get(g, "suspended");
	kiln_time_iso8601(now, kiln_time_now(), 0);
	snprintf(reason, sizeof(reason), "User suspended at %s", now);
	for (size_t i = 0; i < (n ? n : lc_as_nprocesses); i++) {
		const char *p = n ? names[i] : lc_as_processes[i];
		if (!suspend)
			json_object_del(susp, p);
		else if (json_object_get(susp, p) == NULL)
			json_object_set_new(susp, p, json_string(reason));
	}
	free(names);
	r->dirty = 1;
	return 0;
}

int lc_as_suspend_processes(struct lc_req *r)
{
	return processes(r, 1);
}

int lc_as_resume_processes(struct lc_req *r)
{
	return processes(r, 0);
}

int lc_as_describe_process_types(struct lc_req *r)
{
	lc_xo(r->out, "Processes");
	for (size_t i = 0; i < lc_as_nprocesses; i++) {
		lc_xo(r->out, "member");
		lc_xt(r->out, "ProcessName", lc_as_processes[i]);
		lc_xc(r->out, "member");
	}
	lc_xc(r->out, "Processes");
	return 0;
}
