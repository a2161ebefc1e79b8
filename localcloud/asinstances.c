/*
 * A group's instances as the API shows and changes them:
 * DescribeAutoScalingInstances, SetInstanceHealth and
 * TerminateInstanceInAutoScalingGroup. Each instance of a group is kept in
 * its "instances": {id, zone, subnet, state (the lifecycle state: Pending,
 * Pending:Wait, InService, Terminating, ...), health (Healthy, Unhealthy),
 * type, activity (its current one), registered (target groups), since}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/autoscaling-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/xml-int.h"

void lc_asg_instance_xml(struct lc_req *r, json_t *g, json_t *inst, int with_group)
{
	json_t *lt = json_object_get(g, "lt");

	lc_xo(r->out, "member");
	lc_xt(r->out, "InstanceId", lc_str(inst, "id"));
	lc_xt(r->out, "InstanceType", lc_str(inst, "type"));
	if (with_group)
		lc_xt(r->out, "AutoScalingGroupName", lc_str(g, "name"));
	lc_xt(r->out, "AvailabilityZone", lc_str(inst, "zone"));
	lc_xt(r->out, "LifecycleState", lc_str(inst, "state"));
	lc_xt(r->out, "HealthStatus", lc_str(inst, "health"));
	lc_xo(r->out, "LaunchTemplate");
	lc_xt(r->out, "LaunchTemplateId", lc_str(lt, "id"));
	lc_xt(r->out, "LaunchTemplateName", lc_str(lt, "name"));
	lc_xt(r->out, "Version",
	      lc_str(inst, "lt_version") ? lc_str(inst, "lt_version") : lc_str(lt, "version"));
	lc_xc(r->out, "LaunchTemplate");
	lc_xbool(r->out, "ProtectedFromScaleIn", json_is_true(json_object_get(inst, "protected")));
	lc_xc(r->out, "member");
}

json_t *lc_asg_of_instance(struct lc_cloud *c, const char *id, json_t **inst)
{
	const char *k;
	json_t *g;

	json_object_foreach(lc_asgs(c), k, g)
	{
		json_t *i = json_object_get(json_object_get(g, "instances"), id);
		if (i != NULL) {
			*inst = i;
			return g;
		}
	}
	*inst = NULL;
	return NULL;
}

json_t *lc_asg_instance_retire(struct lc_cloud *c, json_t *g, json_t *inst, const char *cause)
{
	const char *prev = lc_str(inst, "state");
	json_t *old = json_object_get(lc_activities(c),
	                              lc_str(inst, "activity") ? lc_str(inst, "activity") : ""),
	       *a;
	struct kiln_buf full = KILN_BUF_INIT;
	char now[32], *desc;

	if (strncmp(prev, "Terminat", 8) == 0)
		return old;
	/* a launch still in progress ends here */
	if (old != NULL && json_object_get(old, "end") == NULL)
		lc_activity_end(c, old, "Cancelled",
		                "The instance was taken out of service before "
		                "it entered service");
	kiln_time_iso8601(now, kiln_time_now(), 0);
	if (lc_str(g, "cause"))
		kiln_buf_printf(&full, "%s  ", lc_str(g, "cause"));
	kiln_buf_printf(&full, "At %s an instance was %s.", now, cause);
	desc = kiln_xasprintf("Terminating EC2 instance: %s", lc_str(inst, "id"));
	a = lc_activity_new(c, g, desc, full.ptr);
	free(desc);
	kiln_buf_release(&full);
	json_object_set_new(a, "details",
	                    json_sprintf("{\"Subnet ID\":\"%s\",\"Availability Zone\":\"%s\"}",
	                                 lc_str(inst, "subnet"), lc_str(inst, "zone")));
	json_object_set_new(a, "instance", json_string(lc_str(inst, "id")));
	lc_activity_set(a, "InProgress", 50, NULL);
	json_object_set_new(inst, "state", json_string("Terminating"));
	json_object_set_new(inst, "since", json_real(kiln_time_now()));
	json_object_set_new(inst, "activity", json_string(lc_str(a, "id")));
	return a;
}

static int by_id(const void *x, const void *y)
{
	return strcmp(lc_str(json_array_get(*(json_t *const *)x, 1), "id"),
	              lc_str(json_array_get(*(json_t *const *)y, 1), "id"));
}

int lc_as_describe_instances(struct lc_req *r)
{
	const char **ids, *gk, *ik;
	size_t nids, n = 0, first, count;
	json_t *rows = json_array(), *g, *inst, **list = NULL;
	int rc = -1;

	if (lc_as_members(r, "InstanceIds", 19, 50, &ids, &nids) < 0) {
		json_decref(rows);
		return -1;
	}
	json_object_foreach(lc_asgs(r->c), gk, g)
	{
		json_object_foreach(json_object_get(g, "instances"), ik,
		                    inst) if (nids == 0 || lc_in_list(ids, nids, ik))
		    json_array_append_new(rows, json_pack("[O, O]", g, inst));
	}
	n = json_array_size(rows);
	list = kiln_xcalloc(n + 1, sizeof(*list));
	for (size_t i = 0; i < n; i++)
		list[i] = json_array_get(rows, i);
	qsort(list, n, sizeof(*list), by_id);
	if (lc_as_page(r, n, 50, 50, &first, &count) < 0)
		goto done;
	lc_xo(r->out, "AutoScalingInstances");
	for (size_t i = first; i < first + count; i++)
		lc_asg_instance_xml(r, json_array_get(list[i], 0), json_array_get(list[i], 1), 1);
	lc_xc(r->out, "AutoScalingInstances");
	lc_as_next_token(r, first, count, n);
	rc = 0;
done:
	free(ids);
	free(list);
	json_decref(rows);
	return rc;
}

/* InstanceId: an instance of a group; the group, or NULL with a ValidationError. */
static json_t *q_member(struct lc_req *r, json_t **inst)
{
	const char *id;
	json_t *g;

	if (lc_as_str(r, "InstanceId", 19, &id) < 0)
		return NULL;
	if (id == NULL) {
		lc_validation(r,
		              "1 validation error detected: Value null at 'instanceId' failed to "
		              "satisfy constraint: Member must not be null");
		return NULL;
	}
	g = lc_asg_of_instance(r->c, id, inst);
	if (g == NULL)
		lc_validation(r,
		              "Instance Id not found - No managed instance found for instance ID: "
		              "%s",
		              id);
	return g;
}

int lc_as_set_instance_health(struct lc_req *r)
{
	const char *status = lc_q(r, "HealthStatus");
	json_t *inst, *g = q_member(r, &inst);
	int respect;
	double in_service;

	if (g == NULL || lc_as_bool(r, "ShouldRespectGracePeriod", 1, &respect) < 0)
		return -1;
	if (status == NULL || (strcmp(status, "Healthy") != 0 && strcmp(status, "Unhealthy") != 0))
		return lc_validation(r, "Valid values for HealthStatus are Healthy and Unhealthy");
	in_service = json_number_value(json_object_get(inst, "in_service"));
	/* within the grace period (or before service) the call is ignored when it respects it */
	if (respect && (in_service == 0 ||
	                kiln_time_now() <
	                    in_service + (double)json_integer_value(json_object_get(g, "grace"))))
		return 0;
	if (strncmp(lc_str(inst, "state"), "Terminat", 8) != 0) {
		json_object_set_new(inst, "health", json_string(status));
		json_object_set_new(inst, "health_cause",
		                    json_string("taken out of service in response to a user health-"
		                                "check"));
	}
	r->dirty = 1;
	return 0;
}

int lc_as_terminate_instance(struct lc_req *r)
{
	json_t *inst, *g = q_member(r, &inst), *a;
	int decrement;
	long long desired, min;
	char cause[160];

	if (g == NULL)
		return -1;
	if (lc_q(r, "ShouldDecrementDesiredCapacity") == NULL)
		return lc_validation(
		    r, "1 validation error detected: Value null at "
		       "'shouldDecrementDesiredCapacity' failed to satisfy constraint: "
		       "Member must not be null");
	if (lc_as_bool(r, "ShouldDecrementDesiredCapacity", 0, &decrement) < 0)
		return -1;
	desired = json_integer_value(json_object_get(g, "desired"));
	min = json_integer_value(json_object_get(g, "min"));
	if (decrement && strncmp(lc_str(inst, "state"), "Terminat", 8) != 0) {
		if (desired - 1 < min)
			return lc_validation(
			    r,
			    "Currently, desiredSize equals minSize (%lld). Terminating instance "
			    "without replacement will violate group's min size constraint. Either "
			    "set "
			    "shouldDecrementDesiredCapacity flag to false or lower group's min "
			    "size.",
			    min);
		json_object_set_new(g, "desired", json_integer(desired - 1));
		snprintf(cause, sizeof(cause),
		         "taken out of service in response to a user request, shrinking the "
		         "capacity from %lld to %lld",
		         desired, desired - 1);
	} else {
		snprintf(cause, sizeof(cause),
		         "taken out of service in response to a user request");
	}
	json_object_del(g, "cause");
	a = lc_asg_instance_retire(r->c, g, inst, cause);
	lc_xo(r->out, "Activity");
	if (a)
		lc_activity_xml(r, a);
	lc_xc(r->out, "Activity");
	r->dirty = 1;
	return 0;
}
