/*
 * Every Auto Scaling action the local cloud answers, and what its handlers
 * share: group lookup, Auto Scaling's ValidationError for bad parameters,
 * NextToken/MaxRecords paging, filters, process names, and calls into the
 * other services' handlers for the reconciler (autoscaling-int.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/autoscaling-int.h"
#include "localcloud/xml-int.h"

json_t *lc_asgs(struct lc_cloud *c)
{
	return lc_table(c, "autoscaling_groups");
}

json_t *lc_activities(struct lc_cloud *c)
{
	return lc_table(c, "scaling_activities");
}

/* Printable text as the model's XmlString pattern allows: no control bytes but tab and newlines. */
static int text_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') || *p == 0x7f)
			return 0;
	return 1;
}

int lc_as_str(struct lc_req *r, const char *key, size_t max, const char **out)
{
	const char *v = lc_q(r, key);

	*out = v;
	if (v == NULL)
		return 0;
	if (strlen(v) > max)
		return lc_validation(
		    r,
		    "1 validation error detected: Value at '%s' failed to satisfy "
		    "constraint: Member must have length less than or equal to %zu",
		    key, max);
	if (!text_ok(v))
		return lc_validation(
		    r,
		    "1 validation error detected: Value at '%s' failed to satisfy "
		    "constraint: Member must satisfy regular expression pattern: "
		    "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*",
		    key);
	return 0;
}

json_t *lc_asg_get(struct lc_req *r, int deleting_ok)
{
	const char *name;
	json_t *g;

	if (lc_as_str(r, "AutoScalingGroupName", 255, &name) < 0)
		return NULL;
	if (name == NULL) {
		lc_validation(r,
		              "1 validation error detected: Value null at 'autoScalingGroupName' "
		              "failed to satisfy constraint: Member must not be null");
		return NULL;
	}
	g = json_object_get(lc_asgs(r->c), name);
	if (g == NULL) {
		lc_validation(
		    r, "AutoScalingGroup name not found - AutoScalingGroup '%s' not found", name);
		return NULL;
	}
	if (!deleting_ok && lc_str(g, "status") != NULL) {
		lc_validation(r,
		              "AutoScalingGroup name not found - AutoScalingGroup %s is pending "
		              "delete",
		              name);
		return NULL;
	}
	return g;
}

int lc_as_int(struct lc_req *r, const char *key, long long def, long long min, long long max,
              long long *out)
{
	const char *v = lc_q(r, key);
	long long x;

	*out = def;
	if (v == NULL)
		return 0;
	if (lc_parse_int(v, &x) < 0)
		return lc_validation(r, "Value '%s' at '%s' is not a valid integer", v, key);
	if (x < min || x > max)
		return lc_validation(
		    r,
		    "1 validation error detected: Value '%lld' at '%s' failed to "
		    "satisfy constraint: Member must have value between %lld and %lld",
		    x, key, min, max);
	*out = x;
	return 0;
}

int lc_as_bool(struct lc_req *r, const char *key, int def, int *out)
{
	const char *v = lc_q(r, key);

	*out = def;
	if (v != NULL && lc_parse_bool(v, out) < 0)
		return lc_validation(r, "Value '%s' at '%s' is not a valid boolean", v, key);
	return 0;
}

int lc_as_members(struct lc_req *r, const char *name, size_t max_len, size_t max_n,
                  const char ***out, size_t *n)
{
	char prefix[128];
	const char **v;
	size_t m;

	snprintf(prefix, sizeof(prefix), "%s.member", name);
	m = lc_q_list(r, prefix, &v);
	if (m > max_n) {
		free(v);
		return lc_validation(
		    r,
		    "1 validation error detected: Value at '%s' failed to satisfy "
		    "constraint: Member must have length less than or equal to %zu",
		    name, max_n);
	}
	for (size_t i = 0; i < m; i++) {
		if (strlen(v[i]) > max_len || !text_ok(v[i])) {
			free(v);
			return lc_validation(r,
			                     "A member of %s is longer than %zu characters or "
			                     "holds control characters",
			                     name, max_len);
		}
	}
	*out = v;
	*n = m;
	return 0;
}

/*
 * A NextToken is the position of the next item and a check of the listing
 * it came from (its size when made cannot be known later: the position is
 * checked against the listing now, and a token from elsewhere is refused).
 */
int lc_as_page(struct lc_req *r, size_t total, long long def, long long max, size_t *first,
               size_t *count)
{
	const char *token = lc_q(r, "NextToken");
	long long size;
	unsigned long long start = 0;
	char *end;

	if (lc_as_int(r, "MaxRecords", def, 1, max, &size) < 0)
		return -1;
	if (token != NULL) {
		/* an offset this cloud handed out: no 0, no leading zero */
		if (strncmp(token, "kiln-", 5) != 0 || token[5] < '1' || token[5] > '9')
			return lc_err(r, 400, "InvalidNextToken", "The token '%s' is invalid.",
			              token);
		errno = 0;
		start = strtoull(token + 5, &end, 10);
		if (errno || *end != '\0' || start > total)
			return lc_err(r, 400, "InvalidNextToken", "The token '%s' is invalid.",
			              token);
	}
	*first = (size_t)start;
	*count = total - *first < (size_t)size ? total - *first : (size_t)size;
	return 0;
}

void lc_as_next_token(struct lc_req *r, size_t first, size_t count, size_t total)
{
	if (first + count < total)
		lc_xtf(r->out, "NextToken", "kiln-%zu", first + count);
}

int lc_as_filters(struct lc_req *r, const char *const *names, size_t n, json_t **out)
{
	int *idx;
	size_t m = lc_q_indexes(r, "Filters.member", &idx);
	json_t *list = json_array();

	for (size_t i = 0; i < m; i++) {
		const char *name = lc_qf(r, "Filters.member.%d.Name", idx[i]);
		char prefix[64];
		const char **vals;
		size_t nv;
		json_t *values = json_array();
		int known = 0;

		for (size_t k = 0; name && k < n && !known; k++)
			known = strcmp(names[k], name) == 0 ||
			        (strcmp(names[k], "tag:") == 0 && strncmp(name, "tag:", 4) == 0);
		if (!known) {
			struct kiln_buf allowed = KILN_BUF_INIT;
			for (size_t k = 0; k < n; k++)
				kiln_buf_printf(&allowed, "%s%s", k ? " " : "", names[k]);
			lc_validation(r,
			              "Filter type %s is not correct. Allowed Filter types are: %s",
			              name ? name : "null", allowed.ptr);
			kiln_buf_release(&allowed);
			json_decref(values);
			goto fail;
		}
		snprintf(prefix, sizeof(prefix), "Filters.member.%d.Values.member", idx[i]);
		nv = lc_q_list(r, prefix, &vals);
		for (size_t k = 0; k < nv; k++)
			json_array_append_new(values, json_string(vals[k]));
		free(vals);
		json_array_append_new(list,
		                      json_pack("{s:s, s:o}", "name", name, "values", values));
	}
	free(idx);
	*out = list;
	return 0;
fail:
	free(idx);
	json_decref(list);
	return -1;
}

const char *const lc_as_processes[] = {
    "Launch",      "Terminate",       "AddToLoadBalancer", "AlarmNotification", "AZRebalance",
    "HealthCheck", "InstanceRefresh", "ReplaceUnhealthy",  "ScheduledActions",
};
const size_t lc_as_nprocesses = KILN_ARRAY_SIZE(lc_as_processes);

int lc_as_process_valid(const char *name)
{
	return lc_in_list(lc_as_processes, lc_as_nprocesses, name);
}

int lc_asg_suspended(json_t *g, const char *process)
{
	return json_object_get(json_object_get(g, "suspended"), process) != NULL;
}

void lc_as_time(char out[32], double t)
{
	kiln_time_iso8601(out, t, 1);
}

int lc_as_call(struct lc_cloud *c, lc_handler_fn fn, const struct kiln_query *q, char code[96],
               char message[512])
{
	struct lc_params params = {NULL, 0};
	struct kiln_buf members = KILN_BUF_INIT;
	struct lc_req r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.p = &params;
	r.out = &members;
	r.action = kiln_query_get(q, "Action");
	lc_params_init(&params, q);
	rc = fn(&r);
	code[0] = message[0] = '\0';
	if (rc < 0) {
		snprintf(code, 96, "%s", r.code);
		snprintf(message, 512, "%s", r.message);
	}
	/* what an `after` step would do (sync a load balancer), the watcher does within 0.25 s */
	if (r.prep_free)
		r.prep_free(r.prep);
	lc_params_release(&params);
	kiln_buf_release(&members);
	return rc < 0 ? -1 : 0;
}

static const struct lc_action actions[] = {
    /* asgroups.c */
    {"CreateAutoScalingGroup", lc_as_create_group, NULL, NULL},
    {"UpdateAutoScalingGroup", lc_as_update_group, NULL, NULL},
    {"DeleteAutoScalingGroup", lc_as_delete_group, NULL, NULL},
    {"DescribeAutoScalingGroups", lc_as_describe_groups, NULL, NULL},
    {"SetDesiredCapacity", lc_as_set_desired_capacity, NULL, NULL},
    {"SuspendProcesses", lc_as_suspend_processes, NULL, NULL},
    {"ResumeProcesses", lc_as_resume_processes, NULL, NULL},
    {"DescribeScalingProcessTypes", lc_as_describe_process_types, NULL, NULL},
    /* asinstances.c */
    {"DescribeAutoScalingInstances", lc_as_describe_instances, NULL, NULL},
    {"SetInstanceHealth", lc_as_set_instance_health, NULL, NULL},
    {"TerminateInstanceInAutoScalingGroup", lc_as_terminate_instance, NULL, NULL},
    /* asactivities.c */
    {"DescribeScalingActivities", lc_as_describe_activities, NULL, NULL},
    /* astags.c */
    {"CreateOrUpdateTags", lc_as_create_or_update_tags, NULL, NULL},
    {"DeleteTags", lc_as_delete_tags, NULL, NULL},
    {"DescribeTags", lc_as_describe_tags, NULL, NULL},
    /* astraffic.c */
    {"AttachLoadBalancerTargetGroups", lc_as_attach_target_groups, NULL, NULL},
    {"DetachLoadBalancerTargetGroups", lc_as_detach_target_groups, NULL, NULL},
    {"DescribeLoadBalancerTargetGroups", lc_as_describe_target_groups, NULL, NULL},
    {"AttachTrafficSources", lc_as_attach_traffic_sources, NULL, NULL},
    {"DetachTrafficSources", lc_as_detach_traffic_sources, NULL, NULL},
    {"DescribeTrafficSources", lc_as_describe_traffic_sources, NULL, NULL},
    /* lifecycle.c */
    {"PutLifecycleHook", lc_as_put_lifecycle_hook, NULL, NULL},
    {"DeleteLifecycleHook", lc_as_delete_lifecycle_hook, NULL, NULL},
    {"DescribeLifecycleHooks", lc_as_describe_lifecycle_hooks, NULL, NULL},
    {"DescribeLifecycleHookTypes", lc_as_describe_lifecycle_hook_types, NULL, NULL},
    {"CompleteLifecycleAction", lc_as_complete_lifecycle_action, NULL, NULL},
    {"RecordLifecycleActionHeartbeat", lc_as_record_lifecycle_action_heartbeat, NULL, NULL},
    {NULL, NULL, NULL, NULL}};

const struct lc_action *lc_autoscaling_action(const char *name)
{
	for (const struct lc_action *a = actions; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}
