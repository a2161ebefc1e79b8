/*
 * A group's target groups (AttachLoadBalancerTargetGroups and the newer
 * AttachTrafficSources, which name the same thing), and the registration
 * of its instances: through ELBv2's own RegisterTargets and
 * DeregisterTargets handlers, so that a group's targets are exactly those
 * a client registering them would make (initial, then health-checked by
 * HAProxy; deregistered ones drain for the group's delay).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "localcloud/autoscaling-int.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/xml-int.h"

int lc_as_check_target_groups(struct lc_req *r, const char *const *arns, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (json_object_get(lc_tgs(r->c), arns[i]) == NULL)
			return lc_validation(
			    r, "Provided Target Groups may not be valid. Please ensure "
			       "they exist and try again.");
	return 0;
}

static int in_array(json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v) if (strcmp(json_string_value(v), s) == 0) return 1;
	return 0;
}

static void array_remove(json_t *a, const char *s)
{
	for (size_t i = json_array_size(a); i-- > 0;)
		if (strcmp(json_string_value(json_array_get(a, i)), s) == 0)
			json_array_remove(a, i);
}

static int targets_call(struct lc_cloud *c, lc_handler_fn fn, const char *action,
                        const char *tg_arn, const char *id)
{
	struct kiln_query q = KILN_QUERY_INIT;
	char code[96], msg[512];
	int rc;

	kiln_query_add(&q, "Action", action);
	kiln_query_add(&q, "TargetGroupArn", tg_arn);
	kiln_query_add(&q, "Targets.member.1.Id", id);
	rc = lc_as_call(c, fn, &q, code, msg);
	if (rc < 0)
		kiln_log_warn("%s %s in %s: %s: %s", action, id, tg_arn, code, msg);
	kiln_query_release(&q);
	return rc;
}

void lc_asg_register(struct lc_cloud *c, json_t *inst, json_t *arns)
{
	json_t *done = json_object_get(inst, "registered"), *v;
	size_t i;

	if (done == NULL) {
		done = json_array();
		json_object_set_new(inst, "registered", done);
	}
	json_array_foreach(arns, i, v)
	{
		const char *arn = json_string_value(v);
		if (in_array(done, arn) || json_object_get(lc_tgs(c), arn) == NULL)
			continue;
		if (targets_call(c, lc_elbv2_register_targets, "RegisterTargets", arn,
		                 lc_str(inst, "id")) == 0)
			json_array_append_new(done, json_string(arn));
	}
}

void lc_asg_deregister(struct lc_cloud *c, json_t *inst, json_t *arns)
{
	json_t *done = json_object_get(inst, "registered"), *v;
	size_t i;

	json_array_foreach(arns, i, v)
	{
		const char *arn = json_string_value(v);
		if (!in_array(done, arn))
			continue;
		if (json_object_get(lc_tgs(c), arn) != NULL)
			targets_call(c, lc_elbv2_deregister_targets, "DeregisterTargets", arn,
			             lc_str(inst, "id"));
	}
	/* the arrays may be one: copy what to remove first */
	arns = json_copy(arns);
	json_array_foreach(arns, i, v) array_remove(done, json_string_value(v));
	json_decref(arns);
}

int lc_asg_still_target(struct lc_cloud *c, const char *id, json_t *arns)
{
	size_t i;
	json_t *v;

	json_array_foreach(arns, i, v)
	{
		json_t *tg = json_object_get(lc_tgs(c), json_string_value(v)), *t;
		const char *k;
		json_object_foreach(json_object_get(tg, "targets"), k,
		                    t) if (strcmp(lc_str(t, "id"), id) == 0) return 1;
	}
	return 0;
}

/* Attach `arns` (checked) to g: InService instances are registered at once. */
static int attach(struct lc_req *r, json_t *g, const char *const *arns, size_t n)
{
	json_t *tgs = json_object_get(g, "tgs"), *added = json_array(), *inst;
	const char *k;

	if (lc_as_check_target_groups(r, arns, n) < 0) {
		json_decref(added);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!in_array(tgs, arns[i]) && !in_array(added, arns[i]))
			json_array_append_new(added, json_string(arns[i]));
	if (json_array_size(tgs) + json_array_size(added) > LC_AS_TGS_MAX) {
		json_decref(added);
		return lc_err(r, 400, "LimitExceeded",
		              "A group can have at most %d target groups attached", LC_AS_TGS_MAX);
	}
	json_array_extend(tgs, added);
	json_object_foreach(json_object_get(g, "instances"), k, inst)
	{
		if (strcmp(lc_str(inst, "state"), "InService") == 0 &&
		    !lc_asg_suspended(g, "AddToLoadBalancer"))
			lc_asg_register(r->c, inst, added);
	}
	json_decref(added);
	r->dirty = 1;
	return 0;
}

/* Detach `arns`: the group's instances are deregistered (they drain). */
static int detach(struct lc_req *r, json_t *g, const char *const *arns, size_t n)
{
	json_t *gone = json_array(), *inst;
	const char *k;

	for (size_t i = 0; i < n; i++) {
		json_array_append_new(gone, json_string(arns[i]));
		array_remove(json_object_get(g, "tgs"), arns[i]);
	}
	json_object_foreach(json_object_get(g, "instances"), k, inst)
	    lc_asg_deregister(r->c, inst, gone);
	json_decref(gone);
	r->dirty = 1;
	return 0;
}

static int target_groups(struct lc_req *r, int add)
{
	json_t *g = lc_asg_get(r, 0);
	const char **arns;
	size_t n;
	int rc;

	if (g == NULL || lc_as_members(r, "TargetGroupARNs", 511, LC_AS_TGS_MAX, &arns, &n) < 0)
		return -1;
	if (n == 0) {
		free(arns);
		return lc_validation(r,
		                     "1 validation error detected: Value null at "
		                     "'targetGroupARNs' failed to satisfy constraint: Member must "
		                     "not be null");
	}
	rc = add ? attach(r, g, arns, n) : detach(r, g, arns, n);
	free(arns);
	return rc;
}

int lc_as_attach_target_groups(struct lc_req *r)
{
	return target_groups(r, 1);
}

int lc_as_detach_target_groups(struct lc_req *r)
{
	return target_groups(r, 0);
}

/* TrafficSources.member.N.Identifier (Type elbv2, the only kind here). */
static int traffic_sources(struct lc_req *r, int add)
{
	json_t *g = lc_asg_get(r, 0);
	int *idx;
	size_t n;
	const char **arns;
	int rc = 0;

	if (g == NULL)
		return -1;
	n = lc_q_indexes(r, "TrafficSources.member", &idx);
	arns = kiln_xcalloc(n + 1, sizeof(*arns));
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *type = lc_qf(r, "TrafficSources.member.%d.Type", idx[i]);
		arns[i] = lc_qf(r, "TrafficSources.member.%d.Identifier", idx[i]);
		if (arns[i] == NULL)
			rc = lc_validation(r, "A traffic source must have an Identifier");
		else if (type != NULL && strcmp(type, "elbv2") != 0)
			rc = lc_validation(r,
			                   "Traffic source type '%s' is not supported by the local "
			                   "cloud: elbv2",
			                   type);
	}
	if (rc == 0 && n == 0)
		rc = lc_validation(r, "1 validation error detected: Value null at 'trafficSources' "
		                      "failed to satisfy constraint: Member must not be null");
	if (rc == 0 && n > LC_AS_TGS_MAX)
		rc = lc_err(r, 400, "LimitExceeded", "At most %d traffic sources", LC_AS_TGS_MAX);
	if (rc == 0)
		rc = add ? attach(r, g, arns, n) : detach(r, g, arns, n);
	free(idx);
	free(arns);
	return rc;
}

int lc_as_attach_traffic_sources(struct lc_req *r)
{
	return traffic_sources(r, 1);
}

int lc_as_detach_traffic_sources(struct lc_req *r)
{
	return traffic_sources(r, 0);
}

/* "InService" once an instance of the group is healthy in it, else "Added". */
static const char *attachment_state(struct lc_cloud *c, json_t *g, const char *arn)
{
	json_t *tg = json_object_get(lc_tgs(c), arn), *t;
	const char *k;

	json_object_foreach(json_object_get(tg, "targets"), k, t)
	{
		const char *state, *reason;
		char desc[128];
		json_t *inst = json_object_get(json_object_get(g, "instances"), lc_str(t, "id"));
		if (inst == NULL)
			continue;
		lc_target_health(c, tg, k, t, &state, &reason, desc);
		if (strcmp(state, "healthy") == 0)
			return "InService";
	}
	return "Added";
}

static int describe_attached(struct lc_req *r, int traffic)
{
	json_t *g = lc_asg_get(r, 1), *tgs;
	const char *type = NULL;
	size_t first, count;

	if (g == NULL || (traffic && lc_as_str(r, "TrafficSourceType", 255, &type) < 0))
		return -1;
	tgs = json_object_get(g, "tgs");
	if (type != NULL && strcmp(type, "elbv2") != 0)
		tgs = NULL;
	if (lc_as_page(r, json_array_size(tgs), traffic ? 50 : 100, 100, &first, &count) < 0)
		return -1;
	lc_xo(r->out, traffic ? "TrafficSources" : "LoadBalancerTargetGroups");
	for (size_t i = first; i < first + count; i++) {
		const char *arn = json_string_value(json_array_get(tgs, i));
		lc_xo(r->out, "member");
		if (traffic) {
			lc_xt(r->out, "TrafficSource", arn);
			lc_xt(r->out, "State", attachment_state(r->c, g, arn));
			lc_xt(r->out, "Identifier", arn);
			lc_xt(r->out, "Type", "elbv2");
		} else {
			lc_xt(r->out, "LoadBalancerTargetGroupARN", arn);
			lc_xt(r->out, "State", attachment_state(r->c, g, arn));
		}
		lc_xc(r->out, "member");
	}
	lc_xc(r->out, traffic ? "TrafficSources" : "LoadBalancerTargetGroups");
	lc_as_next_token(r, first, count, json_array_size(tgs));
	return 0;
}

int lc_as_describe_target_groups(struct lc_req *r)
{
	return describe_attached(r, 0);
}

int lc_as_describe_traffic_sources(struct lc_req *r)
{
	return describe_attached(r, 1);
}
