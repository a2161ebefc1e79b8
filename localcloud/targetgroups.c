/*
 * Target groups (instance targets over HTTP) and their health check
 * settings, within AWS's ranges and with its defaults; the checks
 * themselves are HAProxy's (lb.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/ec2-int.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/xml-int.h"

static const struct {
	const char *key, *def, *kind;
} tg_attributes[] = {
    {"deregistration_delay.timeout_seconds", "300", "int:0:3600"},
    {"slow_start.duration_seconds", "0", "int:0:900"},
    {"stickiness.enabled", "false", "bool"},
    {"stickiness.type", "lb_cookie", "enum:lb_cookie"},
    {"stickiness.lb_cookie.duration_seconds", "86400", "int:1:604800"},
    {"load_balancing.algorithm.type", "round_robin", "enum:round_robin|least_outstanding_requests"},
};

/* A health check setting: its parameter, range and default. */
static const struct {
	const char *param, *key;
	long long min, max, def;
} hc_numbers[] = {
    {"HealthCheckIntervalSeconds", "interval", 5, 300, 30},
    {"HealthCheckTimeoutSeconds", "timeout", 2, 120, 5},
    {"HealthyThresholdCount", "healthy", 2, 10, 5},
    {"UnhealthyThresholdCount", "unhealthy", 2, 10, 2},
};

const char *lc_tg_attribute(json_t *tg, const char *key)
{
	const char *v = json_string_value(json_object_get(json_object_get(tg, "attributes"), key));

	for (size_t i = 0; v == NULL && i < KILN_ARRAY_SIZE(tg_attributes); i++)
		if (strcmp(tg_attributes[i].key, key) == 0)
			v = tg_attributes[i].def;
	return v;
}

static int valid_tg_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 32 && s[0] != '-' && s[n - 1] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

/*
 * A health check path: '/' then at most 1023 printable ASCII characters,
 * none that HAProxy's configuration would read as more than a path.
 */
static int valid_path(const char *p)
{
	if (p[0] != '/' || strlen(p) > 1024)
		return 0;
	for (; *p; p++)
		if (*p <= ' ' || *p > '~' || strchr("\"'\\#", *p))
			return 0;
	return 1;
}

/* "200", "200,202", "200-299": codes from 200 to 499. */
static int valid_matcher(const char *m)
{
	const char *p = m;

	while (*p) {
		char *end;
		long a, b;
		/* digits only: strtol would also take " 200" and "+200" */
		if (!isdigit((unsigned char)*p))
			return 0;
		a = strtol(p, &end, 10);
		if (a < 200 || a > 499)
			return 0;
		b = a;
		if (*end == '-') {
			p = end + 1;
			if (!isdigit((unsigned char)*p))
				return 0;
			b = strtol(p, &end, 10);
			if (b < a || b > 499)
				return 0;
		}
		if (*end != ',' && *end != '\0')
			return 0;
		p = *end == ',' ? end + 1 : end;
		if (*end == ',' && *p == '\0')
			return 0;
	}
	return m[0] != '\0';
}

/* Health check parameters over `hc` (the group's, or defaults). */
static int hc_params(struct lc_req *r, json_t *hc)
{
	const char *proto = lc_q(r, "HealthCheckProtocol"), *port = lc_q(r, "HealthCheckPort");
	const char *path = lc_q(r, "HealthCheckPath"), *matcher = lc_q(r, "Matcher.HttpCode");
	int enabled;

	for (size_t i = 0; i < KILN_ARRAY_SIZE(hc_numbers); i++) {
		long long v;
		long long cur = json_integer_value(json_object_get(hc, hc_numbers[i].key));
		if (lc_elb_q_int(r, hc_numbers[i].param, cur, hc_numbers[i].min, hc_numbers[i].max,
		                 &v) < 0)
			return -1;
		json_object_set_new(hc, hc_numbers[i].key, json_integer(v));
	}
	if (proto && strcmp(proto, "HTTP") != 0)
		return lc_err(r, 400, "InvalidConfigurationRequest",
		              "The local cloud checks targets over HTTP only, not %s", proto);
	if (port) {
		long long p = 0;
		if (strcmp(port, "traffic-port") != 0 &&
		    (lc_parse_int(port, &p) < 0 || p < 1 || p > 65535))
			return lc_validation(r,
			                     "HealthCheckPort must be traffic-port or 1 to 65535");
		json_object_set_new(hc, "port", json_string(port));
	}
	if (path && !valid_path(path))
		return lc_validation(r, "HealthCheckPath must start with / and hold printable "
		                        "characters only (at most 1024)");
	if (path)
		json_object_set_new(hc, "path", json_string(path));
	if (matcher && !valid_matcher(matcher))
		return lc_validation(r, "Matcher.HttpCode must be codes or ranges from 200 to 499, "
		                        "such as 200 or 200,202 or 200-299");
	if (matcher)
		json_object_set_new(hc, "matcher", json_string(matcher));
	if (lc_q_bool(r, "HealthCheckEnabled", 1, &enabled) < 0)
		return -1;
	if (!enabled)
		return lc_err(r, 400, "InvalidConfigurationRequest",
		              "Health checks cannot be disabled for instance targets");
	/* AWS's answer to a timeout of 5 s (the default) with an interval of 5 s */
	if (json_integer_value(json_object_get(hc, "timeout")) >=
	    json_integer_value(json_object_get(hc, "interval")))
		return lc_validation(r, "Health check interval must be greater than the timeout.");
	return 0;
}

static json_t *hc_defaults(void)
{
	json_t *hc =
	    json_pack("{s:s, s:s, s:s}", "port", "traffic-port", "path", "/", "matcher", "200");

	for (size_t i = 0; i < KILN_ARRAY_SIZE(hc_numbers); i++)
		json_object_set_new(hc, hc_numbers[i].key, json_integer(hc_numbers[i].def));
	return hc;
}

static void tg_xml(struct lc_req *r, json_t *tg)
{
	json_t *hc = json_object_get(tg, "hc"), *lbs = json_array();
	const char *lb = lc_tg_load_balancer(r->c, lc_str(tg, "arn"));

	if (lb)
		json_array_append_new(lbs, json_string(lb));
	lc_xo(r->out, "member");
	lc_xt(r->out, "TargetGroupArn", lc_str(tg, "arn"));
	lc_xt(r->out, "TargetGroupName", lc_str(tg, "name"));
	lc_xt(r->out, "Protocol", "HTTP");
	lc_xtf(r->out, "Port", "%lld", (long long)json_integer_value(json_object_get(tg, "port")));
	lc_xt(r->out, "VpcId", lc_str(tg, "vpc"));
	lc_xt(r->out, "HealthCheckProtocol", "HTTP");
	lc_xt(r->out, "HealthCheckPort", lc_str(hc, "port"));
	lc_xbool(r->out, "HealthCheckEnabled", 1);
	lc_xtf(r->out, "HealthCheckIntervalSeconds", "%lld",
	       (long long)json_integer_value(json_object_get(hc, "interval")));
	lc_xtf(r->out, "HealthCheckTimeoutSeconds", "%lld",
	       (long long)json_integer_value(json_object_get(hc, "timeout")));
	lc_xtf(r->out, "HealthyThresholdCount", "%lld",
	       (long long)json_integer_value(json_object_get(hc, "healthy")));
	lc_xtf(r->out, "UnhealthyThresholdCount", "%lld",
	       (long long)json_integer_value(json_object_get(hc, "unhealthy")));
	lc_xt(r->out, "HealthCheckPath", lc_str(hc, "path"));
	lc_xo(r->out, "Matcher");
	lc_xt(r->out, "HttpCode", lc_str(hc, "matcher"));
	lc_xc(r->out, "Matcher");
	lc_xmembers(r->out, "LoadBalancerArns", lbs);
	lc_xt(r->out, "TargetType", "instance");
	lc_xt(r->out, "ProtocolVersion", "HTTP1");
	lc_xt(r->out, "IpAddressType", "ipv4");
	lc_xc(r->out, "member");
	json_decref(lbs);
}

static json_t *tg_by_name(struct lc_cloud *c, const char *name)
{
	const char *k;
	json_t *v;

	json_object_foreach(lc_tgs(c), k, v)
	{
		if (strcmp(lc_str(v, "name"), name) == 0)
			return v;
	}
	return NULL;
}

/* Protocol, port, VPC and target type of a new group. */
static int tg_basics(struct lc_req *r, long long *port, const char **vpc)
{
	const char *proto = lc_q(r, "Protocol"), *type = lc_q(r, "TargetType");

	if (type && strcmp(type, "instance") != 0)
		return lc_err(r, 400, "InvalidConfigurationRequest",
		              "The local cloud's target groups take instances only, not '%s'",
		              type);
	if (proto == NULL)
		return lc_validation(r,
		                     "A protocol must be specified for an instance target group");
	if (strcmp(proto, "HTTP") != 0)
		return lc_err(r, 400, "InvalidConfigurationRequest",
		              "The local cloud's target groups speak HTTP only, not %s", proto);
	if (lc_q(r, "Port") == NULL)
		return lc_validation(r, "A port must be specified for an instance target group");
	if (lc_elb_q_int(r, "Port", 0, 1, 65535, port) < 0)
		return -1;
	*vpc = lc_q(r, "VpcId");
	if (*vpc == NULL)
		return lc_validation(r, "A VPC ID must be specified for an instance target group");
	if (json_object_get(lc_table(r->c, "vpcs"), *vpc) == NULL)
		return lc_validation(r, "The VPC ID '%s' is not found", *vpc);
	return 0;
}

static json_t *tg_new(struct lc_req *r, const char *name, long long port, const char *vpc,
                      json_t *hc, json_t *tags)
{
	char *id = lc_elb_id(), *res = kiln_xasprintf("targetgroup/%s/%s", name, id);
	char *arn = lc_elb_arn(r->c, res), now[32];
	json_t *tg;

	lc_now_iso(now);
	tg = json_pack("{s:s, s:s, s:s, s:I, s:s, s:O, s:{}, s:{}, s:O, s:s}", "arn", arn, "id", id,
	               "name", name, "port", (json_int_t)port, "vpc", vpc, "hc", hc, "attributes",
	               "targets", "tags", tags, "created", now);
	free(arn);
	free(res);
	free(id);
	return tg;
}

int lc_elbv2_create_target_group(struct lc_req *r)
{
	const char *name = lc_q(r, "Name"), *vpc = NULL;
	json_t *hc = hc_defaults(), *tags = NULL, *tg = NULL, *old;
	long long port;
	int rc = -1;

	if (name == NULL) {
		lc_elb_missing(r, "Name");
		goto done;
	}
	if (!valid_tg_name(name)) {
		lc_validation(r,
		              "Target group name '%s' is not valid: at most 32 letters, digits "
		              "and hyphens, not starting or ending with a hyphen",
		              name);
		goto done;
	}
	if (tg_basics(r, &port, &vpc) < 0 || hc_params(r, hc) < 0 ||
	    lc_elb_q_tags(r, "Tags", &tags) < 0)
		goto done;
	old = tg_by_name(r->c, name);
	if (old != NULL) {
		/* the same settings again: the group there is, as AWS answers */
		if (json_integer_value(json_object_get(old, "port")) != port ||
		    strcmp(lc_str(old, "vpc"), vpc) != 0 ||
		    !json_equal(json_object_get(old, "hc"), hc)) {
			lc_err(r, 400, "DuplicateTargetGroupName",
			       "A target group with the same name '%s' exists, with other settings",
			       name);
			goto done;
		}
		tg = json_incref(old);
	} else {
		tg = tg_new(r, name, port, vpc, hc, tags);
		json_object_set(lc_tgs(r->c), lc_str(tg, "arn"), tg);
		r->dirty = 1;
	}
	lc_xo(r->out, "TargetGroups");
	tg_xml(r, tg);
	lc_xc(r->out, "TargetGroups");
	rc = 0;
done:
	json_decref(tg);
	json_decref(tags);
	json_decref(hc);
	return rc;
}

/* Keep a group in the listing: asked for by ARN or name, used by the load balancer asked for. */
static int tg_selected(struct lc_req *r, json_t *tg, const char *lb, const char **arns,
                       size_t narns, const char **names, size_t nnames)
{
	const char *user;

	if (narns && !lc_in_list(arns, narns, lc_str(tg, "arn")))
		return 0;
	if (nnames && !lc_in_list(names, nnames, lc_str(tg, "name")))
		return 0;
	user = lc_tg_load_balancer(r->c, lc_str(tg, "arn"));
	return lb == NULL || (user && strcmp(user, lb) == 0);
}

int lc_elbv2_describe_target_groups(struct lc_req *r)
{
	const char **arns, **names, *lb = lc_q(r, "LoadBalancerArn"), *k;
	size_t narns = lc_q_members(r, "TargetGroupArns", &arns);
	size_t nnames = lc_q_members(r, "Names", &names), first, count;
	json_t *list = json_array(), *tg;
	int rc = -1;

	if ((narns != 0) + (nnames != 0) + (lb != NULL) > 1) {
		lc_validation(r, "Give one of LoadBalancerArn, TargetGroupArns and Names");
		goto done;
	}
	if (lb && lc_lb_get(r, lb) == NULL)
		goto done;
	for (size_t i = 0; i < narns; i++)
		if (lc_tg_get(r, arns[i]) == NULL)
			goto done;
	for (size_t i = 0; i < nnames; i++) {
		if (tg_by_name(r->c, names[i]) == NULL) {
			lc_err(r, 400, "TargetGroupNotFound",
			       "One or more target groups not found");
			goto done;
		}
	}
	json_object_foreach(lc_tgs(r->c), k, tg)
	{
		if (tg_selected(r, tg, lb, arns, narns, names, nnames))
			json_array_append(list, tg);
	}
	if (lc_elb_page(r, json_array_size(list), &first, &count) < 0)
		goto done;
	lc_xo(r->out, "TargetGroups");
	for (size_t i = first; i < first + count; i++)
		tg_xml(r, json_array_get(list, i));
	lc_xc(r->out, "TargetGroups");
	lc_elb_next_marker(r, first, count, json_array_size(list));
	rc = 0;
done:
	json_decref(list);
	free(arns);
	free(names);
	return rc;
}

int lc_elbv2_modify_target_group(struct lc_req *r)
{
	json_t *tg = lc_tg_get(r, lc_q(r, "TargetGroupArn")), *hc;

	if (tg == NULL)
		return -1;
	hc = json_deep_copy(json_object_get(tg, "hc"));
	if (hc_params(r, hc) < 0) {
		json_decref(hc);
		return -1;
	}
	json_object_set_new(tg, "hc", hc);
	r->dirty = 1;
	lc_elbv2_sync_later(r, lc_tg_load_balancer(r->c, lc_str(tg, "arn")));
	lc_xo(r->out, "TargetGroups");
	tg_xml(r, tg);
	lc_xc(r->out, "TargetGroups");
	return 0;
}

int lc_elbv2_delete_target_group(struct lc_req *r)
{
	const char *arn = lc_q(r, "TargetGroupArn");
	const char *lb;

	if (arn == NULL)
		return lc_elb_missing(r, "TargetGroupArn");
	/* deleting one that is not there succeeds, as on AWS */
	if (json_object_get(lc_tgs(r->c), arn) == NULL)
		return 0;
	lb = lc_tg_load_balancer(r->c, arn);
	if (lb != NULL)
		return lc_err(r, 400, "ResourceInUse",
		              "Target group '%s' is currently in use by a listener or a rule", arn);
	json_object_del(lc_tgs(r->c), arn);
	r->dirty = 1;
	return 0;
}

static void tg_attributes_xml(struct lc_req *r, json_t *tg)
{
	lc_xo(r->out, "Attributes");
	for (size_t i = 0; i < KILN_ARRAY_SIZE(tg_attributes); i++) {
		lc_xo(r->out, "member");
		lc_xt(r->out, "Key", tg_attributes[i].key);
		lc_xt(r->out, "Value", lc_tg_attribute(tg, tg_attributes[i].key));
		lc_xc(r->out, "member");
	}
	lc_xc(r->out, "Attributes");
}

int lc_elbv2_describe_target_group_attributes(struct lc_req *r)
{
	json_t *tg = lc_tg_get(r, lc_q(r, "TargetGroupArn"));

	if (tg == NULL)
		return -1;
	tg_attributes_xml(r, tg);
	return 0;
}

/* slow_start is 0 (off) or 30 to 900 seconds. */
static int check_attribute(struct lc_req *r, const char *k, const char *v, const char *kind)
{
	if (v == NULL || !lc_attribute_valid(kind, v))
		return lc_validation(r, "Target group attribute '%s' cannot be '%s'", k,
		                     v ? v : "");
	if (strcmp(k, "slow_start.duration_seconds") == 0 && atoi(v) != 0 && atoi(v) < 30)
		return lc_validation(r, "slow_start.duration_seconds must be 0 or 30 to 900");
	return 0;
}

int lc_elbv2_modify_target_group_attributes(struct lc_req *r)
{
	json_t *tg = lc_tg_get(r, lc_q(r, "TargetGroupArn")), *set = json_object();
	int *idx, rc = 0;
	size_t n;

	if (tg == NULL) {
		json_decref(set);
		return -1;
	}
	n = lc_q_indexes(r, "Attributes.member", &idx);
	if (n == 0)
		rc = lc_elb_missing(r, "Attributes");
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *k = lc_qf(r, "Attributes.member.%d.Key", idx[i]);
		const char *v = lc_qf_raw(r, "Attributes.member.%d.Value", idx[i]);
		size_t a;
		for (a = 0; a < KILN_ARRAY_SIZE(tg_attributes); a++)
			if (k && strcmp(tg_attributes[a].key, k) == 0)
				break;
		if (a == KILN_ARRAY_SIZE(tg_attributes))
			rc = lc_validation(r, "Target group attribute key '%s' is not recognized",
			                   k ? k : "");
		else if ((rc = check_attribute(r, k, v, tg_attributes[a].kind)) == 0)
			json_object_set_new(set, k, json_string(v));
	}
	free(idx);
	if (rc == 0) {
		json_object_update(json_object_get(tg, "attributes"), set);
		r->dirty = 1;
		lc_elbv2_sync_later(r, lc_tg_load_balancer(r->c, lc_str(tg, "arn")));
		tg_attributes_xml(r, tg);
	}
	json_decref(set);
	return rc;
}
