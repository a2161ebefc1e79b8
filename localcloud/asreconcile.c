/*
 * The Auto Scaling reconciler: a round four times a second on the reaper's
 * thread, under the cloud's lock for the few milliseconds it takes (it
 * only changes the state: machines boot and stop on their runners, load
 * balancers follow on the watcher's next round).
 *
 * Each round, for each group: every instance moves on in its life cycle
 * (Pending -> [Pending:Wait -> Pending:Proceed] -> InService -> Terminating
 * -> [Terminating:Wait -> Terminating:Proceed] -> Terminated); instances in
 * service are health-checked (EC2: the instance is running; ELB: no target
 * group of the group reports it unhealthy after the grace period) and the
 * unhealthy ones replaced; then the group is brought to its desired
 * capacity, launching into the subnet whose zone has fewest instances or
 * taking out of service from the zone with most.
 *
 * A launch is idempotent per activity: the activity is recorded, then
 * RunInstances runs with the activity's id as its client token, and the
 * state is saved by RunInstances before any machine boots. A daemon killed
 * at any point finds on restart either no launch, or the activity and the
 * instance its token made: it adopts the instance and never launches twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "localcloud/autoscaling-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/elbv2-int.h"

#define LC_LAUNCH_RETRY_MIN 10.0
#define LC_LAUNCH_RETRY_MAX 300.0
#define LC_LAUNCHES_A_ROUND 20

static const char *ec2_state(struct lc_cloud *c, const char *id)
{
	json_t *inst = json_object_get(lc_instances(c), id);

	return inst ? lc_str(inst, "state") : "terminated";
}

static json_t *activity_of(struct lc_cloud *c, json_t *inst)
{
	const char *id = lc_str(inst, "activity");

	return id ? json_object_get(lc_activities(c), id) : NULL;
}

static void set_state(json_t *inst, const char *state, double now)
{
	json_object_set_new(inst, "state", json_string(state));
	json_object_set_new(inst, "since", json_real(now));
}

/* Ask EC2 to terminate an instance, as TerminateInstances does. */
static void ec2_terminate(struct lc_cloud *c, const char *id)
{
	struct kiln_query q = KILN_QUERY_INIT;
	char code[96], msg[512];
	const char *s = ec2_state(c, id);

	if (strcmp(s, "terminated") == 0 || strcmp(s, "shutting-down") == 0)
		return;
	kiln_query_add(&q, "Action", "TerminateInstances");
	kiln_query_add(&q, "InstanceId.1", id);
	if (lc_as_call(c, lc_ec2_terminate_instances, &q, code, msg) < 0)
		kiln_log_warn("autoscaling: terminating %s: %s: %s", id, code, msg);
	kiln_query_release(&q);
}

/* ---- launching ---------------------------------------------------------- */

/* The subnet of the group whose zone has the fewest live instances. */
static const char *pick_subnet(json_t *g)
{
	json_t *subnets = json_object_get(g, "subnets"), *v, *inst;
	const char *best = NULL, *k;
	long long best_n = 0;
	size_t i;

	json_array_foreach(subnets, i, v)
	{
		long long n = 0;
		json_object_foreach(json_object_get(g, "instances"), k, inst)
		{
			const char *s = lc_str(inst, "state");
			if (strcmp(lc_str(inst, "subnet"), json_string_value(v)) == 0 &&
			    strncmp(s, "Terminat", 8) != 0)
				n++;
		}
		if (best == NULL || n < best_n) {
			best = json_string_value(v);
			best_n = n;
		}
	}
	return best;
}

static void launch_query(struct kiln_query *q, json_t *g, json_t *a)
{
	json_t *lt = json_object_get(g, "lt"), *tag;
	const char *k;
	int n = 0;

	kiln_query_add(q, "Action", "RunInstances");
	kiln_query_add(q, "LaunchTemplate.LaunchTemplateId", lc_str(lt, "id"));
	kiln_query_add(q, "LaunchTemplate.Version", lc_str(lt, "version"));
	kiln_query_add(q, "SubnetId", lc_str(a, "subnet"));
	kiln_query_add(q, "MinCount", "1");
	kiln_query_add(q, "MaxCount", "1");
	kiln_query_add(q, "ClientToken", lc_str(a, "id"));
	json_object_foreach(json_object_get(g, "tags"), k, tag)
	{
		if (!json_is_true(json_object_get(tag, "propagate")))
			continue;
		if (n == 0)
			kiln_query_add(q, "TagSpecification.1.ResourceType", "instance");
		n++;
		kiln_query_addf(q, k, "TagSpecification.1.Tag.%d.Key", n);
		kiln_query_addf(q, lc_str(tag, "value"), "TagSpecification.1.Tag.%d.Value", n);
	}
}

/* The instance a launch's client token made is the group's, now. */
static void adopt(struct lc_cloud *c, json_t *g, json_t *a, const char *id, double now)
{
	json_t *ec2 = json_object_get(lc_instances(c), id), *inst;
	char *desc = kiln_xasprintf("Launching a new EC2 instance: %s", id);

	inst = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:b}", "id", id, "zone",
	                 lc_str(a, "zone"), "subnet", lc_str(a, "subnet"), "state", "Pending",
	                 "health", "Healthy", "activity", lc_str(a, "id"), "since", now,
	                 "protected", json_is_true(json_object_get(g, "protect")));
	json_object_set_new(inst, "type", json_string(ec2 ? lc_str(ec2, "type") : "m1.small"));
	json_object_set_new(json_object_get(g, "instances"), id, inst);
	if (ec2 != NULL)
		json_object_set_new(json_object_get(ec2, "tags"), "aws:autoscaling:groupName",
		                    json_string(lc_str(g, "name")));
	json_object_set_new(a, "description", json_string(desc));
	json_object_set_new(a, "instance", json_string(id));
	free(desc);
	json_object_del(json_object_get(g, "launching"), lc_str(a, "id"));
	/* the token has done its work: the group records the instance from here on */
	json_object_del(lc_table(c, "client_tokens"), lc_str(a, "id"));
	json_object_set_new(g, "launch_failures", json_integer(0));
}

static void launch_failed(struct lc_cloud *c, json_t *g, json_t *a, const char *msg, double now)
{
	long long fails = json_integer_value(json_object_get(g, "launch_failures")) + 1;
	double wait = LC_LAUNCH_RETRY_MIN * (double)(1LL << (fails < 5 ? fails - 1 : 5));
	char *desc = kiln_xasprintf("Launching a new EC2 instance.  Status Reason: %s. Launching "
	                            "EC2 instance failed.",
	                            msg);

	kiln_log_warn("autoscaling: %s: launch failed: %s", lc_str(g, "name"), msg);
	json_object_set_new(a, "description", json_string(desc));
	free(desc);
	lc_activity_end(c, a, "Failed", msg);
	json_object_del(json_object_get(g, "launching"), lc_str(a, "id"));
	json_object_set_new(g, "launch_failures", json_integer(fails));
	json_object_set_new(
	    g, "retry_at",
	    json_real(now + (wait < LC_LAUNCH_RETRY_MAX ? wait : LC_LAUNCH_RETRY_MAX)));
}

/* Run (or, after a crash, find) the launch of activity `a`. */
static void launch_run(struct lc_cloud *c, json_t *g, json_t *a, double now)
{
	json_t *known = json_object_get(lc_table(c, "client_tokens"), lc_str(a, "id"));
	struct kiln_query q = KILN_QUERY_INIT;
	char code[96], msg[512];

	if (known == NULL) {
		launch_query(&q, g, a);
		if (lc_as_call(c, lc_ec2_run_instances, &q, code, msg) < 0) {
			kiln_query_release(&q);
			launch_failed(c, g, a, msg, now);
			return;
		}
		kiln_query_release(&q);
		known = json_object_get(lc_table(c, "client_tokens"), lc_str(a, "id"));
	}
	if (json_array_size(json_object_get(known, "instances")) == 0) {
		launch_failed(c, g, a, "the launch made no instance", now);
		return;
	}
	adopt(c, g, a, json_string_value(json_array_get(json_object_get(known, "instances"), 0)),
	      now);
}

static void launch_one(struct lc_cloud *c, json_t *g, long long from, long long to, double now)
{
	struct kiln_buf cause = KILN_BUF_INIT;
	const char *subnet = pick_subnet(g);
	json_t *sn = subnet ? lc_subnet(c, subnet) : NULL, *a;
	char at[32];

	kiln_time_iso8601(at, now, 0);
	if (lc_str(g, "cause"))
		kiln_buf_printf(&cause, "%s  ", lc_str(g, "cause"));
	kiln_buf_printf(&cause,
	                "At %s an instance was started in response to a difference between desired "
	                "and actual capacity, increasing the capacity from %lld to %lld.",
	                at, from, to);
	a = lc_activity_new(c, g, "Launching a new EC2 instance", cause.ptr);
	kiln_buf_release(&cause);
	lc_activity_set(a, "PreInService", 30, NULL);
	json_object_set_new(a, "subnet", json_string(subnet ? subnet : ""));
	json_object_set_new(a, "zone", json_string(sn ? lc_str(sn, "zone") : ""));
	json_object_set_new(a, "details",
	                    json_sprintf("{\"Subnet ID\":\"%s\",\"Availability Zone\":\"%s\"}",
	                                 lc_str(a, "subnet"), lc_str(a, "zone")));
	if (json_object_get(g, "launching") == NULL)
		json_object_set_new(g, "launching", json_object());
	json_object_set_new(json_object_get(g, "launching"), lc_str(a, "id"), json_true());
	launch_run(c, g, a, now);
}

/* Launches a crash interrupted: adopt what their token made, or launch now. */
static int launches_resume(struct lc_cloud *c, json_t *g, double now)
{
	json_t *launching = json_object_get(g, "launching"), *ids = json_array(), *v;
	const char *k;
	size_t i;
	int n = 0;

	json_object_foreach(launching, k, v) json_array_append_new(ids, json_string(k));
	json_array_foreach(ids, i, v)
	{
		json_t *a = json_object_get(lc_activities(c), json_string_value(v));
		if (a == NULL)
			json_object_del(launching, json_string_value(v));
		else
			launch_run(c, g, a, now);
		n++;
	}
	json_decref(ids);
	return n;
}

/* ---- the life cycle ----------------------------------------------------- */

static void enter_service(struct lc_cloud *c, json_t *g, json_t *inst, double now)
{
	set_state(inst, "InService", now);
	json_object_set_new(inst, "in_service", json_real(now));
	/* instances that enter service while AddToLoadBalancer is suspended stay out for good */
	if (lc_asg_suspended(g, "AddToLoadBalancer"))
		json_object_set_new(inst, "lb_skip", json_true());
	else
		lc_asg_register(c, inst, json_object_get(g, "tgs"));
	lc_activity_end(c, activity_of(c, inst), "Successful", NULL);
}

/* The machine went away before it served: the launch failed. */
static int launch_lost(struct lc_cloud *c, json_t *g, json_t *inst, const char *s)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "Instance %s became %s before it entered service",
	         lc_str(inst, "id"), s);
	lc_activity_end(c, activity_of(c, inst), "Failed", msg);
	ec2_terminate(c, lc_str(inst, "id"));
	json_object_del(json_object_get(g, "instances"), lc_str(inst, "id"));
	return 1;
}

static int step_pending(struct lc_cloud *c, json_t *g, json_t *inst, double now)
{
	const char *s = ec2_state(c, lc_str(inst, "id"));
	const char *state = lc_str(inst, "state");
	int done;

	if (strcmp(s, "running") != 0 && strcmp(s, "pending") != 0)
		return launch_lost(c, g, inst, s);
	if (strcmp(state, "Pending") == 0) {
		if (strcmp(s, "running") != 0)
			return 0;
		if (!json_is_true(json_object_get(g, "force")) &&
		    lc_lifecycle_wait(g, inst, LC_HOOK_LAUNCHING, now)) {
			set_state(inst, "Pending:Wait", now);
			lc_activity_set(activity_of(c, inst), "MidLifecycleAction", 40, NULL);
			return 1;
		}
		enter_service(c, g, inst, now);
		return 1;
	}
	/* Pending:Wait */
	done = lc_lifecycle_done(g, inst, now);
	if (done == 0)
		return 0;
	json_object_del(inst, "waits");
	if (done < 0) {
		lc_activity_end(
		    c, activity_of(c, inst), "Cancelled",
		    "Instance failed to complete user's Lifecycle Action: Lifecycle Action "
		    "Completed with ABANDON Result");
		lc_asg_instance_retire(c, g, inst,
		                       "taken out of service in response to a lifecycle "
		                       "action result of ABANDON");
		return 1;
	}
	set_state(inst, "Pending:Proceed", now);
	enter_service(c, g, inst, now);
	return 1;
}

/* EC2 and ELB health of an instance in service; 1 when it turned unhealthy. */
static int health_check(struct lc_cloud *c, json_t *g, json_t *inst, double now)
{
	const char *s = ec2_state(c, lc_str(inst, "id"));
	double grace = (double)json_integer_value(json_object_get(g, "grace"));
	json_t *v;
	size_t i;

	if (strcmp(lc_str(inst, "health"), "Unhealthy") == 0 || lc_asg_suspended(g, "HealthCheck"))
		return 0;
	/* a machine that stopped or vanished is unhealthy at once, grace period or not */
	if (strcmp(s, "running") != 0) {
		json_object_set_new(inst, "health", json_string("Unhealthy"));
		json_object_set_new(
		    inst, "health_cause",
		    json_string("taken out of service in response to an EC2 health "
		                "check indicating it has been terminated or stopped"));
		return 1;
	}
	if (strcmp(lc_str(g, "hc_type"), "ELB") != 0 ||
	    now < json_number_value(json_object_get(inst, "in_service")) + grace)
		return 0;
	json_array_foreach(json_object_get(inst, "registered"), i, v)
	{
		json_t *tg = json_object_get(lc_tgs(c), json_string_value(v)), *t;
		const char *k, *state, *reason;
		char desc[128];
		json_object_foreach(json_object_get(tg, "targets"), k, t)
		{
			if (strcmp(lc_str(t, "id"), lc_str(inst, "id")) != 0)
				continue;
			lc_target_health(c, tg, k, t, &state, &reason, desc);
			if (strcmp(state, "unhealthy") == 0) {
				json_object_set_new(inst, "health", json_string("Unhealthy"));
				json_object_set_new(
				    inst, "health_cause",
				    json_string("taken out of service in response to an "
				                "ELB system health check failure"));
				return 1;
			}
		}
	}
	return 0;
}

static int step_in_service(struct lc_cloud *c, json_t *g, json_t *inst, double now)
{
	int changed = health_check(c, g, inst, now);

	if (strcmp(lc_str(inst, "health"), "Unhealthy") == 0 &&
	    !lc_asg_suspended(g, "ReplaceUnhealthy") && !lc_asg_suspended(g, "Terminate")) {
		kiln_log_info("autoscaling: %s: %s is unhealthy: replacing it", lc_str(g, "name"),
		              lc_str(inst, "id"));
		json_object_del(g, "cause");
		lc_asg_instance_retire(c, g, inst,
		                       lc_str(inst, "health_cause")
		                           ? lc_str(inst, "health_cause")
		                           : "taken out of service in response to a health check");
		changed = 1;
	}
	return changed;
}

/* Terminating: drained from its target groups first, then hooks, then terminated. */
static int step_terminating(struct lc_cloud *c, json_t *g, json_t *inst, double now)
{
	const char *state = lc_str(inst, "state");
	json_t *a = activity_of(c, inst), *from;
	int force = json_is_true(json_object_get(g, "force")), done;

	if (strcmp(state, "Terminating") == 0) {
		if (json_object_get(inst, "drain_from") == NULL) {
			from = json_copy(json_object_get(inst, "registered"));
			json_object_set_new(inst, "drain_from", from ? from : json_array());
			lc_asg_deregister(c, inst, json_object_get(inst, "drain_from"));
			if (json_array_size(json_object_get(inst, "drain_from")))
				lc_activity_set(a, "WaitingForELBConnectionDraining", 50, NULL);
			return 1;
		}
		if (lc_asg_still_target(c, lc_str(inst, "id"), json_object_get(inst, "drain_from")))
			return 0;
		if (!force && lc_lifecycle_wait(g, inst, LC_HOOK_TERMINATING, now)) {
			set_state(inst, "Terminating:Wait", now);
			lc_activity_set(a, "MidLifecycleAction", 60, NULL);
			return 1;
		}
		set_state(inst, "Terminating:Proceed", now);
		return 1;
	}
	if (strcmp(state, "Terminating:Wait") == 0) {
		done = force ? 1 : lc_lifecycle_done(g, inst, now);
		if (done == 0)
			return 0;
		json_object_del(inst, "waits");
		set_state(inst, "Terminating:Proceed", now);
		return 1;
	}
	/* Terminating:Proceed */
	if (!json_is_true(json_object_get(inst, "terminate_sent"))) {
		lc_activity_set(a, "InProgress", 80, NULL);
		ec2_terminate(c, lc_str(inst, "id"));
		json_object_set_new(inst, "terminate_sent", json_true());
		return 1;
	}
	if (strcmp(ec2_state(c, lc_str(inst, "id")), "terminated") != 0)
		return 0;
	lc_activity_end(c, a, "Successful", NULL);
	json_object_del(json_object_get(g, "instances"), lc_str(inst, "id"));
	return 1;
}

static int step_instance(struct lc_cloud *c, json_t *g, json_t *inst, double now)
{
	const char *state = lc_str(inst, "state");

	if (strncmp(state, "Pending", 7) == 0)
		return step_pending(c, g, inst, now);
	if (strcmp(state, "InService") == 0)
		return step_in_service(c, g, inst, now);
	if (strncmp(state, "Terminating", 11) == 0)
		return step_terminating(c, g, inst, now);
	return 0;
}

/* ---- capacity ----------------------------------------------------------- */

static int is_live(json_t *inst)
{
	const char *s = lc_str(inst, "state");

	return strncmp(s, "Pending", 7) == 0 || strcmp(s, "InService") == 0;
}

/* Live instances in the zone of `zone`. */
static long long zone_count(json_t *g, const char *zone)
{
	const char *k;
	json_t *inst;
	long long n = 0;

	json_object_foreach(json_object_get(g, "instances"), k, inst) n +=
	    is_live(inst) && strcmp(lc_str(inst, "zone"), zone) == 0;
	return n;
}

/* Is `a` a better choice than `b` for termination under the group's first policy? */
static int terminate_first(json_t *g, json_t *a, json_t *b)
{
	const char *policy =
	    json_string_value(json_array_get(json_object_get(g, "termination_policies"), 0));
	double ta = json_number_value(json_object_get(a, "since"));
	double tb = json_number_value(json_object_get(b, "since"));
	int pa = strncmp(lc_str(a, "state"), "Pending", 7) == 0;
	int pb = strncmp(lc_str(b, "state"), "Pending", 7) == 0;

	if (policy && strcmp(policy, "NewestInstance") == 0)
		return ta > tb;
	if (policy && strcmp(policy, "OldestInstance") == 0)
		return ta < tb;
	/* Default: an instance not yet in service before one serving, then the oldest */
	if (pa != pb)
		return pa;
	return ta < tb;
}

/* The instance to take out for a scale-in: from the zone with most, not protected. */
static json_t *victim(json_t *g)
{
	const char *k;
	json_t *inst, *best = NULL;
	long long best_zone = -1;

	json_object_foreach(json_object_get(g, "instances"), k, inst)
	{
		long long n;
		if (!is_live(inst) || json_is_true(json_object_get(inst, "protected")))
			continue;
		n = zone_count(g, lc_str(inst, "zone"));
		if (best == NULL || n > best_zone ||
		    (n == best_zone && terminate_first(g, inst, best))) {
			best = inst;
			best_zone = n;
		}
	}
	return best;
}

static int scale(struct lc_cloud *c, json_t *g, double now)
{
	long long desired = json_integer_value(json_object_get(g, "desired"));
	long long live = lc_asg_live(g), n;
	int changed = 0;

	if (live == desired) {
		json_object_del(g, "cause");
		return 0;
	}
	if (live < desired) {
		if (lc_asg_suspended(g, "Launch") ||
		    now < json_number_value(json_object_get(g, "retry_at")))
			return 0;
		for (n = 0; n < desired - live && n < LC_LAUNCHES_A_ROUND; n++) {
			size_t before = json_object_size(json_object_get(g, "instances"));
			launch_one(c, g, live, desired, now);
			changed = 1;
			if (json_object_size(json_object_get(g, "instances")) == before)
				break; /* it failed: the group retries later */
		}
		return changed;
	}
	if (lc_asg_suspended(g, "Terminate"))
		return 0;
	for (n = 0; n < live - desired; n++) {
		json_t *inst = victim(g);
		char cause[200];
		if (inst == NULL)
			break;
		snprintf(
		    cause, sizeof(cause),
		    "taken out of service in response to a difference between desired and actual "
		    "capacity, shrinking the capacity from %lld to %lld",
		    live, desired);
		lc_asg_instance_retire(c, g, inst, cause);
		changed = 1;
	}
	return changed;
}

/* One group's round; 1 when the state changed. */
static int reconcile_group(struct lc_cloud *c, json_t *g, double now)
{
	json_t *ids = json_array(), *v;
	const char *k;
	size_t i;
	int changed = launches_resume(c, g, now) > 0;

	json_object_foreach(json_object_get(g, "instances"), k, v)
	    json_array_append_new(ids, json_string(k));
	json_array_foreach(ids, i, v)
	{
		json_t *inst =
		    json_object_get(json_object_get(g, "instances"), json_string_value(v));
		if (inst != NULL)
			changed |= step_instance(c, g, inst, now);
	}
	json_decref(ids);
	if (lc_str(g, "status") != NULL) {
		/* being deleted: gone once its last instance is */
		if (json_object_size(json_object_get(g, "instances")) > 0)
			return changed;
		kiln_log_info("autoscaling: group %s deleted", lc_str(g, "name"));
		lc_activities_group_deleted(c, lc_str(g, "name"));
		json_object_del(lc_asgs(c), lc_str(g, "name"));
		return 1;
	}
	return scale(c, g, now) || changed;
}

void lc_asgs_reconcile(struct lc_cloud *c)
{
	json_t *names = json_array(), *v;
	const char *k;
	size_t i;
	int changed = 0;
	double now = kiln_time_now();

	pthread_mutex_lock(&c->mu);
	json_object_foreach(lc_asgs(c), k, v) json_array_append_new(names, json_string(k));
	json_array_foreach(names, i, v)
	{
		json_t *g = json_object_get(lc_asgs(c), json_string_value(v));
		if (g != NULL)
			changed |= reconcile_group(c, g, now);
	}
	if (changed && lc_state_save(c) < 0)
		kiln_log_warn("autoscaling: saving the state: %s", kiln_error_last());
	pthread_mutex_unlock(&c->mu);
	if (changed)
		pthread_cond_broadcast(&c->cond);
	json_decref(names);
}
