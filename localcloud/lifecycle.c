/*
 * Lifecycle hooks and actions. A hook on autoscaling:EC2_INSTANCE_LAUNCHING
 * holds a new instance in Pending:Wait, one on ..._TERMINATING holds a
 * leaving one in Terminating:Wait, until CompleteLifecycleAction (CONTINUE
 * or ABANDON) or the heartbeat timeout (the hook's DefaultResult). Kept in
 * the group: "hooks" name -> settings, and in each waiting instance
 * "waits" hook name -> {token, deadline, global, result}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/autoscaling-int.h"
#include "localcloud/xml-int.h"

#define LC_HEARTBEAT_DEF      3600
#define LC_GLOBAL_TIMEOUT_MAX 172800

static const char *const transitions[] = {LC_HOOK_LAUNCHING, LC_HOOK_TERMINATING};
static const char *const results[] = {"CONTINUE", "ABANDON"};

static const char *qp(struct lc_req *r, const char *prefix, const char *name)
{
	return lc_qf(r, "%s%s", prefix, name);
}

static int valid_hook_name(const char *s)
{
	return s[0] && strlen(s) <= 255 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_/") ==
	           strlen(s);
}

/* One hook's parameters under `prefix` over `old` (NULL: a new hook); a new object. */
static int q_hook(struct lc_req *r, const char *prefix, json_t *old, json_t **out)
{
	const char *transition = qp(r, prefix, "LifecycleTransition");
	const char *result = qp(r, prefix, "DefaultResult");
	const char *meta = qp(r, prefix, "NotificationMetadata");
	const char *hb = qp(r, prefix, "HeartbeatTimeout");
	json_t *h =
	    old ? json_deep_copy(old)
	        : json_pack("{s:i, s:s}", "heartbeat", LC_HEARTBEAT_DEF, "default", "ABANDON");
	char *end;
	long long v;

	if (transition == NULL && old == NULL)
		goto invalid_transition;
	if (transition && !lc_in_list(transitions, 2, transition))
		goto invalid_transition;
	if (result && !lc_in_list(results, 2, result)) {
		json_decref(h);
		return lc_validation(r, "Valid values for DefaultResult are CONTINUE and ABANDON");
	}
	if (hb) {
		v = strtoll(hb, &end, 10);
		if (*end != '\0' || v < 30 || v > 7200) {
			json_decref(h);
			return lc_validation(
			    r, "HeartbeatTimeout must be between 30 and 7200 seconds");
		}
		json_object_set_new(h, "heartbeat", json_integer(v));
	}
	if (meta && strlen(meta) > 4000) {
		json_decref(h);
		return lc_validation(r, "NotificationMetadata is at most 4000 characters");
	}
	if (transition)
		json_object_set_new(h, "transition", json_string(transition));
	if (result)
		json_object_set_new(h, "default", json_string(result));
	if (meta)
		json_object_set_new(h, "metadata", json_string(meta));
	if (qp(r, prefix, "RoleARN"))
		json_object_set_new(h, "role", json_string(qp(r, prefix, "RoleARN")));
	if (qp(r, prefix, "NotificationTargetARN"))
		json_object_set_new(h, "target",
		                    json_string(qp(r, prefix, "NotificationTargetARN")));
	*out = h;
	return 0;
invalid_transition:
	json_decref(h);
	return lc_validation(r, "Invalid LifecycleTransition: %s or %s", LC_HOOK_LAUNCHING,
	                     LC_HOOK_TERMINATING);
}

int lc_as_q_hook_specs(struct lc_req *r, json_t *hooks)
{
	int *idx;
	size_t n = lc_q_indexes(r, "LifecycleHookSpecificationList.member", &idx);
	int rc = 0;

	if (n > LC_AS_HOOKS_MAX)
		rc = lc_err(r, 400, "LimitExceeded", "A group has at most %d lifecycle hooks",
		            LC_AS_HOOKS_MAX);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char prefix[80];
		const char *name;
		json_t *h;
		snprintf(prefix, sizeof(prefix), "LifecycleHookSpecificationList.member.%d.",
		         idx[i]);
		name = qp(r, prefix, "LifecycleHookName");
		if (name == NULL || !valid_hook_name(name))
			rc = lc_validation(r, "Invalid LifecycleHookName '%s'",
			                   name ? name : "null");
		else if (q_hook(r, prefix, NULL, &h) < 0)
			rc = -1;
		else
			json_object_set_new(hooks, name, h);
	}
	free(idx);
	return rc;
}

/* LifecycleHookName: valid, and (must_exist) a hook of the group. */
static const char *q_hook_name(struct lc_req *r, json_t *g, int must_exist)
{
	const char *name = lc_q(r, "LifecycleHookName");

	if (name == NULL || !valid_hook_name(name)) {
		lc_validation(r,
		              "1 validation error detected: Value '%s' at 'lifecycleHookName' "
		              "failed to satisfy constraint: Member must satisfy regular "
		              "expression pattern: [A-Za-z0-9\\-_\\/]+",
		              name ? name : "null");
		return NULL;
	}
	if (must_exist && json_object_get(json_object_get(g, "hooks"), name) == NULL) {
		lc_validation(r, "No Lifecycle Hook found with name %s for group %s", name,
		              lc_str(g, "name"));
		return NULL;
	}
	return name;
}

int lc_as_put_lifecycle_hook(struct lc_req *r)
{
	json_t *g = lc_asg_get(r, 0), *hooks, *h;
	const char *name;

	if (g == NULL || (name = q_hook_name(r, g, 0)) == NULL)
		return -1;
	hooks = json_object_get(g, "hooks");
	if (json_object_get(hooks, name) == NULL && json_object_size(hooks) >= LC_AS_HOOKS_MAX)
		return lc_err(r, 400, "LimitExceeded", "A group has at most %d lifecycle hooks",
		              LC_AS_HOOKS_MAX);
	if (q_hook(r, "", json_object_get(hooks, name), &h) < 0)
		return -1;
	json_object_set_new(hooks, name, h);
	r->dirty = 1;
	return 0;
}

int lc_as_delete_lifecycle_hook(struct lc_req *r)
{
	json_t *g = lc_asg_get(r, 1), *inst;
	const char *name, *k;

	if (g == NULL || (name = q_hook_name(r, g, 1)) == NULL)
		return -1;
	/* instances waiting for it go on */
	json_object_foreach(json_object_get(g, "instances"), k, inst)
	    json_object_del(json_object_get(inst, "waits"), name);
	json_object_del(json_object_get(g, "hooks"), name);
	r->dirty = 1;
	return 0;
}

static void hook_xml(struct lc_req *r, json_t *g, const char *name, json_t *h)
{
	long long hb = json_integer_value(json_object_get(h, "heartbeat"));

	lc_xo(r->out, "member");
	lc_xt(r->out, "LifecycleHookName", name);
	lc_xt(r->out, "AutoScalingGroupName", lc_str(g, "name"));
	lc_xt(r->out, "LifecycleTransition", lc_str(h, "transition"));
	lc_xt(r->out, "NotificationTargetARN", lc_str(h, "target"));
	lc_xt(r->out, "RoleARN", lc_str(h, "role"));
	lc_xt(r->out, "NotificationMetadata", lc_str(h, "metadata"));
	lc_xtf(r->out, "HeartbeatTimeout", "%lld", hb);
	lc_xtf(r->out, "GlobalTimeout", "%lld",
	       hb * 100 < LC_GLOBAL_TIMEOUT_MAX ? hb * 100 : (long long)LC_GLOBAL_TIMEOUT_MAX);
	lc_xt(r->out, "DefaultResult", lc_str(h, "default"));
	lc_xc(r->out, "member");
}

int lc_as_describe_lifecycle_hooks(struct lc_req *r)
{
	json_t *g = lc_asg_get(r, 1), *h;
	const char **names, *k;
	size_t n;

	if (g == NULL || lc_as_members(r, "LifecycleHookNames", 255, 50, &names, &n) < 0)
		return -1;
	lc_xo(r->out, "LifecycleHooks");
	json_object_foreach(json_object_get(g, "hooks"), k,
	                    h) if (n == 0 || lc_in_list(names, n, k)) hook_xml(r, g, k, h);
	lc_xc(r->out, "LifecycleHooks");
	free(names);
	return 0;
}

int lc_as_describe_lifecycle_hook_types(struct lc_req *r)
{
	lc_xo(r->out, "LifecycleHookTypes");
	for (size_t i = 0; i < KILN_ARRAY_SIZE(transitions); i++)
		lc_xt(r->out, "member", transitions[i]);
	lc_xc(r->out, "LifecycleHookTypes");
	return 0;
}

/* The wait for hook `name` named by LifecycleActionToken or InstanceId; NULL with the error. */
static json_t *find_wait(struct lc_req *r, json_t *g, const char *name)
{
	const char *token = lc_q(r, "LifecycleActionToken"), *id = lc_q(r, "InstanceId"), *k;
	json_t *inst;

	if (token == NULL && id == NULL) {
		lc_validation(r, "Either LifecycleActionToken or InstanceId must be given");
		return NULL;
	}
	json_object_foreach(json_object_get(g, "instances"), k, inst)
	{
		json_t *w = json_object_get(json_object_get(inst, "waits"), name);
		if (w == NULL || json_object_get(w, "result") != NULL)
			continue;
		if ((token == NULL || strcmp(lc_str(w, "token"), token) == 0) &&
		    (id == NULL || strcmp(k, id) == 0))
			return w;
	}
	if (id != NULL)
		lc_validation(r, "No active Lifecycle Action found with instance ID %s", id);
	else
		lc_validation(r, "No active Lifecycle Action found with token %s", token);
	return NULL;
}

int lc_as_complete_lifecycle_action(struct lc_req *r)
{
	json_t *g = lc_asg_get(r, 1), *w;
	const char *name, *result = lc_q(r, "LifecycleActionResult");

	if (g == NULL || (name = q_hook_name(r, g, 1)) == NULL)
		return -1;
	if (result == NULL || !lc_in_list(results, 2, result))
		return lc_validation(r, "Valid values for LifecycleActionResult are CONTINUE and "
		                        "ABANDON");
	if ((w = find_wait(r, g, name)) == NULL)
		return -1;
	json_object_set_new(w, "result", json_string(result));
	r->dirty = 1;
	return 0;
}

int lc_as_record_lifecycle_action_heartbeat(struct lc_req *r)
{
	json_t *g = lc_asg_get(r, 1), *w, *h;
	const char *name;
	double deadline, global;

	if (g == NULL || (name = q_hook_name(r, g, 1)) == NULL ||
	    (w = find_wait(r, g, name)) == NULL)
		return -1;
	h = json_object_get(json_object_get(g, "hooks"), name);
	deadline = kiln_time_now() + (double)json_integer_value(json_object_get(h, "heartbeat"));
	global = json_number_value(json_object_get(w, "global"));
	json_object_set_new(w, "deadline", json_real(deadline < global ? deadline : global));
	r->dirty = 1;
	return 0;
}

int lc_lifecycle_wait(json_t *g, json_t *inst, const char *transition, double now)
{
	json_t *waits = json_object(), *h;
	const char *k;

	json_object_foreach(json_object_get(g, "hooks"), k, h)
	{
		long long hb = json_integer_value(json_object_get(h, "heartbeat"));
		long long global =
		    hb * 100 < LC_GLOBAL_TIMEOUT_MAX ? hb * 100 : LC_GLOBAL_TIMEOUT_MAX;
		char *hex;
		char token[40];
		if (strcmp(lc_str(h, "transition"), transition) != 0)
			continue;
		hex = kiln_id_random("", 32);
		snprintf(token, sizeof(token), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		         hex + 16, hex + 20);
		free(hex);
		json_object_set_new(waits, k,
		                    json_pack("{s:s, s:f, s:f}", "token", token, "deadline",
		                              now + (double)hb, "global", now + (double)global));
	}
	if (json_object_size(waits) == 0) {
		json_decref(waits);
		return 0;
	}
	json_object_set_new(inst, "waits", waits);
	return 1;
}

int lc_lifecycle_done(json_t *g, json_t *inst, double now)
{
	json_t *w;
	const char *k;
	int waiting = 0;

	json_object_foreach(json_object_get(inst, "waits"), k, w)
	{
		const char *result = lc_str(w, "result");
		if (result == NULL && now >= json_number_value(json_object_get(w, "deadline"))) {
			json_t *h = json_object_get(json_object_get(g, "hooks"), k);
			result = h ? lc_str(h, "default") : "CONTINUE";
			json_object_set_new(w, "result", json_string(result));
		}
		if (result == NULL)
			waiting = 1;
		else if (strcmp(result, "ABANDON") == 0)
			return -1;
	}
	return waiting ? 0 : 1;
}
