/*
 * Listeners: a port of a load balancer and its default action, forward (to
 * one target group, or weighted over several) or fixed-response. Changing
 * the action moves traffic at once (lb.c), with no restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/xml-int.h"

#define LC_LISTENERS_MAX 50
#define LC_FORWARD_MAX   5

static const char *const content_types[] = {"text/plain", "text/css", "text/html",
                                            "application/javascript", "application/json"};

/* ForwardConfig.TargetGroups.member.N, or the action's TargetGroupArn. */
static int forward_groups(struct lc_req *r, const char *p, json_t *action)
{
	const char *single = lc_qf(r, "%s.TargetGroupArn", p);
	json_t *groups = json_array();
	char prefix[128];
	int *idx, rc = 0;
	size_t n;

	snprintf(prefix, sizeof(prefix), "%s.ForwardConfig.TargetGroups.member", p);
	n = lc_q_indexes(r, prefix, &idx);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *arn = lc_qf(r, "%s.%d.TargetGroupArn", prefix, idx[i]);
		char key[160];
		long long w;
		snprintf(key, sizeof(key), "%s.%d.Weight", prefix, idx[i]);
		if (lc_elb_q_int(r, key, 1, 0, 999, &w) < 0)
			rc = -1;
		else if (lc_tg_get(r, arn) == NULL)
			rc = -1;
		else
			json_array_append_new(
			    groups, json_pack("{s:s, s:I}", "arn", arn, "weight", (json_int_t)w));
	}
	free(idx);
	if (rc == 0 && n == 0 && single != NULL) {
		if (lc_tg_get(r, single) == NULL)
			rc = -1;
		else
			json_array_append_new(groups,
			                      json_pack("{s:s, s:i}", "arn", single, "weight", 1));
	}
	if (rc == 0 && n > 0 && single != NULL &&
	    (n != 1 || strcmp(lc_str(json_array_get(groups, 0), "arn"), single) != 0))
		rc = lc_validation(r, "With ForwardConfig, TargetGroupArn must name its one target "
		                      "group");
	if (rc == 0 && json_array_size(groups) == 0)
		rc = lc_validation(r, "A forward action needs a target group");
	if (rc == 0 && json_array_size(groups) > LC_FORWARD_MAX)
		rc = lc_validation(r, "A forward action has at most %d target groups",
		                   LC_FORWARD_MAX);
	if (rc == 0)
		json_object_set_new(action, "groups", json_incref(groups));
	json_decref(groups);
	return rc;
}

static int forward_stickiness(struct lc_req *r, const char *p, json_t *action)
{
	char key[160];
	long long duration;
	int on;

	snprintf(key, sizeof(key), "%s.ForwardConfig.TargetGroupStickinessConfig.Enabled", p);
	if (lc_q_bool(r, key, 0, &on) < 0)
		return -1;
	snprintf(key, sizeof(key), "%s.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds",
	         p);
	if (lc_elb_q_int(r, key, 3600, 1, 604800, &duration) < 0)
		return -1;
	json_object_set_new(action, "sticky", json_boolean(on));
	json_object_set_new(action, "sticky_duration", json_integer(duration));
	return 0;
}

static int fixed_response(struct lc_req *r, const char *p, json_t *action)
{
	const char *status = lc_qf(r, "%s.FixedResponseConfig.StatusCode", p);
	const char *type = lc_qf(r, "%s.FixedResponseConfig.ContentType", p);
	const char *body = lc_qf_raw(r, "%s.FixedResponseConfig.MessageBody", p);
	int known = type == NULL;

	if (status == NULL) {
		char key[128];
		snprintf(key, sizeof(key), "%s.FixedResponseConfig.StatusCode", p);
		return lc_elb_missing(r, key);
	}
	if (strlen(status) != 3 || strspn(status, "0123456789") != 3 ||
	    (status[0] != '2' && status[0] != '4' && status[0] != '5'))
		return lc_validation(r, "StatusCode must be 2XX, 4XX or 5XX, not '%s'", status);
	for (size_t i = 0; i < KILN_ARRAY_SIZE(content_types) && !known; i++)
		known = strcmp(type, content_types[i]) == 0;
	if (!known)
		return lc_validation(r, "ContentType must be text/plain, text/css, text/html, "
		                        "application/javascript or application/json");
	if (body && strlen(body) > 1024)
		return lc_validation(r, "MessageBody is limited to 1024 characters");
	json_object_set_new(action, "status", json_string(status));
	json_object_set_new(action, "content_type", json_string(type ? type : "text/plain"));
	json_object_set_new(action, "body", json_string(body ? body : ""));
	return 0;
}

/* DefaultActions.member.N: one action that ends the request, forward or fixed-response. */
static int request_actions(struct lc_req *r, json_t **out)
{
	int *idx, rc = 0;
	size_t n = lc_q_indexes(r, "DefaultActions.member", &idx);
	json_t *actions = json_array();

	if (n == 0)
		rc = lc_elb_missing(r, "DefaultActions");
	else if (n > 1)
		rc = lc_err(r, 400, "TooManyActions",
		            "The local cloud's listeners take one default action");
	for (size_t i = 0; i < n && rc == 0; i++) {
		char p[64];
		const char *type;
		json_t *a;
		snprintf(p, sizeof(p), "DefaultActions.member.%d", idx[i]);
		type = lc_qf(r, "%s.Type", p);
		if (type == NULL) {
			char key[80];
			snprintf(key, sizeof(key), "%s.Type", p);
			rc = lc_elb_missing(r, key);
			break;
		}
		a = json_pack("{s:s}", "type", type);
		if (strcmp(type, "forward") == 0)
			rc =
			    forward_groups(r, p, a) < 0 || forward_stickiness(r, p, a) < 0 ? -1 : 0;
		else if (strcmp(type, "fixed-response") == 0)
			rc = fixed_response(r, p, a);
		else
			rc = lc_err(
			    r, 400, "InvalidLoadBalancerAction",
			    "Action type '%s' is not supported by the local cloud (forward and "
			    "fixed-response are)",
			    type);
		json_array_append_new(actions, a);
	}
	free(idx);
	if (rc < 0) {
		json_decref(actions);
		return -1;
	}
	*out = actions;
	return 0;
}

/* A target group serves one load balancer at most, as on AWS. */
static int groups_free_for(struct lc_req *r, json_t *actions, const char *lb_arn)
{
	json_t *l = json_pack("{s:O}", "actions", actions), *arns = lc_listener_target_groups(l),
	       *v;
	size_t i;
	int rc = 0;

	json_array_foreach(arns, i, v)
	{
		const char *user = lc_tg_load_balancer(r->c, json_string_value(v));
		if (user && strcmp(user, lb_arn) != 0) {
			rc = lc_err(
			    r, 400, "TargetGroupAssociationLimit",
			    "The following target groups cannot be associated with more than "
			    "one load balancer: %s",
			    json_string_value(v));
			break;
		}
	}
	json_decref(arns);
	json_decref(l);
	return rc;
}

static void action_xml(struct lc_req *r, json_t *a)
{
	json_t *groups = json_object_get(a, "groups"), *g;
	size_t i;

	lc_xo(r->out, "member");
	lc_xt(r->out, "Type", lc_str(a, "type"));
	if (strcmp(lc_str(a, "type"), "fixed-response") == 0) {
		lc_xo(r->out, "FixedResponseConfig");
		lc_xt(r->out, "MessageBody", lc_str(a, "body"));
		lc_xt(r->out, "StatusCode", lc_str(a, "status"));
		lc_xt(r->out, "ContentType", lc_str(a, "content_type"));
		lc_xc(r->out, "FixedResponseConfig");
		lc_xc(r->out, "member");
		return;
	}
	if (json_array_size(groups) == 1)
		lc_xt(r->out, "TargetGroupArn", lc_str(json_array_get(groups, 0), "arn"));
	lc_xo(r->out, "ForwardConfig");
	lc_xo(r->out, "TargetGroups");
	json_array_foreach(groups, i, g)
	{
		lc_xo(r->out, "member");
		lc_xt(r->out, "TargetGroupArn", lc_str(g, "arn"));
		lc_xtf(r->out, "Weight", "%lld",
		       (long long)json_integer_value(json_object_get(g, "weight")));
		lc_xc(r->out, "member");
	}
	lc_xc(r->out, "TargetGroups");
	lc_xo(r->out, "TargetGroupStickinessConfig");
	lc_xbool(r->out, "Enabled", json_is_true(json_object_get(a, "sticky")));
	if (json_is_true(json_object_get(a, "sticky")))
		lc_xtf(r->out, "DurationSeconds", "%lld",
		       (long long)json_integer_value(json_object_get(a, "sticky_duration")));
	lc_xc(r->out, "TargetGroupStickinessConfig");
	lc_xc(r->out, "ForwardConfig");
	lc_xc(r->out, "member");
}

static void listener_xml(struct lc_req *r, json_t *l)
{
	size_t i;
	json_t *a;

	lc_xo(r->out, "member");
	lc_xt(r->out, "ListenerArn", lc_str(l, "arn"));
	lc_xt(r->out, "LoadBalancerArn", lc_str(l, "lb"));
	lc_xtf(r->out, "Port", "%lld", (long long)json_integer_value(json_object_get(l, "port")));
	lc_xt(r->out, "Protocol", "HTTP");
	lc_xo(r->out, "DefaultActions");
	json_array_foreach(json_object_get(l, "actions"), i, a) action_xml(r, a);
	lc_xc(r->out, "DefaultActions");
	lc_xc(r->out, "member");
}

/* The listener of a load balancer on `port`, or NULL. */
static json_t *listener_on(struct lc_cloud *c, const char *lb_arn, long long port)
{
	const char *k;
	json_t *l;

	json_object_foreach(lc_listeners(c), k, l)
	{
		if (strcmp(lc_str(l, "lb"), lb_arn) == 0 &&
		    json_integer_value(json_object_get(l, "port")) == port)
			return l;
	}
	return NULL;
}

static size_t listener_count(struct lc_cloud *c, const char *lb_arn)
{
	const char *k;
	json_t *l;
	size_t n = 0;

	json_object_foreach(lc_listeners(c), k, l) n += strcmp(lc_str(l, "lb"), lb_arn) == 0;
	return n;
}

static int check_protocol(struct lc_req *r)
{
	const char *proto = lc_q(r, "Protocol");

	if (proto && strcmp(proto, "HTTP") != 0)
		return lc_err(r, 400, "UnsupportedProtocol",
		              "The local cloud's listeners speak HTTP only, not %s", proto);
	return 0;
}

static json_t *listener_new(struct lc_req *r, json_t *lb, long long port, json_t *actions,
                            json_t *tags)
{
	char *id = lc_elb_id();
	char *res =
	    kiln_xasprintf("listener/app/%s/%s/%s", lc_str(lb, "name"), lc_str(lb, "id"), id);
	char *arn = lc_elb_arn(r->c, res);
	json_t *l = json_pack("{s:s, s:s, s:s, s:I, s:O, s:O}", "arn", arn, "id", id, "lb",
	                      lc_str(lb, "arn"), "port", (json_int_t)port, "actions", actions,
	                      "tags", tags);

	free(arn);
	free(res);
	free(id);
	return l;
}

int lc_elbv2_create_listener(struct lc_req *r)
{
	json_t *lb = lc_lb_get(r, lc_q(r, "LoadBalancerArn")), *actions = NULL, *tags = NULL, *l;
	long long port;
	int rc = -1;

	if (lb == NULL || check_protocol(r) < 0)
		return -1;
	if (lc_q(r, "Port") == NULL)
		return lc_validation(r, "A listener needs a port");
	if (lc_elb_q_int(r, "Port", 80, 1, 65535, &port) < 0 || request_actions(r, &actions) < 0 ||
	    groups_free_for(r, actions, lc_str(lb, "arn")) < 0 ||
	    lc_elb_q_tags(r, "Tags", &tags) < 0)
		goto done;
	l = listener_on(r->c, lc_str(lb, "arn"), port);
	if (l != NULL && !json_equal(json_object_get(l, "actions"), actions)) {
		lc_err(r, 400, "DuplicateListener", "A listener already exists on port %lld", port);
		goto done;
	}
	if (l == NULL) {
		if (listener_count(r->c, lc_str(lb, "arn")) >= LC_LISTENERS_MAX) {
			lc_err(r, 400, "TooManyListeners",
			       "A load balancer has at most %d listeners", LC_LISTENERS_MAX);
			goto done;
		}
		l = listener_new(r, lb, port, actions, tags);
		json_object_set_new(lc_listeners(r->c), lc_str(l, "arn"), l);
		r->dirty = 1;
	}
	lc_elbv2_sync_later(r, lc_str(lb, "arn"));
	lc_xo(r->out, "Listeners");
	listener_xml(r, l);
	lc_xc(r->out, "Listeners");
	rc = 0;
done:
	json_decref(actions);
	json_decref(tags);
	return rc;
}

int lc_elbv2_describe_listeners(struct lc_req *r)
{
	const char *lb = lc_q(r, "LoadBalancerArn"), **arns, *k;
	size_t narns = lc_q_members(r, "ListenerArns", &arns), first, count;
	json_t *list = json_array(), *l;
	int rc = -1;

	if ((lb == NULL) == (narns == 0)) {
		lc_validation(r, "You must specify either listener ARNs or a load balancer ARN");
		goto done;
	}
	if (lb && lc_lb_get(r, lb) == NULL)
		goto done;
	for (size_t i = 0; i < narns; i++)
		if (lc_listener_get(r, arns[i]) == NULL)
			goto done;
	json_object_foreach(lc_listeners(r->c), k, l)
	{
		if ((lb && strcmp(lc_str(l, "lb"), lb) == 0) || lc_in_list(arns, narns, k))
			json_array_append(list, l);
	}
	if (lc_elb_page(r, json_array_size(list), &first, &count) < 0)
		goto done;
	lc_xo(r->out, "Listeners");
	for (size_t i = first; i < first + count; i++)
		listener_xml(r, json_array_get(list, i));
	lc_xc(r->out, "Listeners");
	lc_elb_next_marker(r, first, count, json_array_size(list));
	rc = 0;
done:
	json_decref(list);
	free(arns);
	return rc;
}

/*
 * The target groups a listener stops forwarding to stay in the load
 * balancer's HAProxy for a minute (health reports them unused at once, as
 * AWS does): a blue-green swap changes one listener, then the other, and
 * the group free in between must not cost a reload and new health checks.
 */
static void keep_recent(struct lc_req *r, json_t *listener)
{
	json_t *lb = json_object_get(lc_lbs(r->c), lc_str(listener, "lb"));
	json_t *arns = lc_listener_target_groups(listener), *recent, *v;
	size_t i;

	if (lb == NULL) {
		json_decref(arns);
		return;
	}
	recent = json_object_get(lb, "recent_groups");
	if (recent == NULL) {
		recent = json_object();
		json_object_set_new(lb, "recent_groups", recent);
	}
	json_array_foreach(arns, i, v)
	    json_object_set_new(recent, json_string_value(v), json_real(kiln_time_now() + 60));
	json_decref(arns);
}

int lc_elbv2_modify_listener(struct lc_req *r)
{
	json_t *l = lc_listener_get(r, lc_q(r, "ListenerArn")), *actions = NULL, *other;
	long long port;

	if (l == NULL || check_protocol(r) < 0)
		return -1;
	if (lc_elb_q_int(r, "Port", json_integer_value(json_object_get(l, "port")), 1, 65535,
	                 &port) < 0)
		return -1;
	other = listener_on(r->c, lc_str(l, "lb"), port);
	if (other != NULL && other != l)
		return lc_err(r, 400, "DuplicateListener", "A listener already exists on port %lld",
		              port);
	/* lists are replaced whole, as AWS does; what is not given stays */
	if (lc_q_has_prefix(r, "DefaultActions.member")) {
		if (request_actions(r, &actions) < 0)
			return -1;
		if (groups_free_for(r, actions, lc_str(l, "lb")) < 0) {
			json_decref(actions);
			return -1;
		}
		keep_recent(r, l);
		json_object_set_new(l, "actions", actions);
	}
	json_object_set_new(l, "port", json_integer(port));
	r->dirty = 1;
	lc_elbv2_sync_later(r, lc_str(l, "lb"));
	lc_xo(r->out, "Listeners");
	listener_xml(r, l);
	lc_xc(r->out, "Listeners");
	return 0;
}

int lc_elbv2_delete_listener(struct lc_req *r)
{
	json_t *l = lc_listener_get(r, lc_q(r, "ListenerArn"));

	if (l == NULL)
		return -1;
	lc_elbv2_sync_later(r, lc_str(l, "lb"));
	keep_recent(r, l);
	json_object_del(lc_listeners(r->c), lc_q(r, "ListenerArn"));
	r->dirty = 1;
	return 0;
}
