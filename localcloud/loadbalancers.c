/*
 * Application load balancers: each holds an address of its own on the
 * cloud's bridge (its DNSName is that address, so that it works as written
 * from this host and from instances without a resolver) and runs its own
 * HAProxy (lb.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/ec2-int.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/net-int.h"
#include "localcloud/xml-int.h"

/* us-east-1's hosted zone of application load balancers, as AWS reports it. */
#define LC_ALB_ZONE_ID "Z35SXDOTRQ7X7K"

/* The attributes of an application load balancer and their defaults. */
static const struct {
	const char *key, *def, *kind; /* kind: "bool", "int:MIN:MAX", "str", "enum:a|b" */
} lb_attributes[] = {
    {"deletion_protection.enabled", "false", "bool"},
    {"idle_timeout.timeout_seconds", "60", "int:1:4000"},
    {"routing.http2.enabled", "true", "bool"},
    {"access_logs.s3.enabled", "false", "bool"},
    {"access_logs.s3.bucket", "", "str"},
    {"access_logs.s3.prefix", "", "str"},
    {"routing.http.drop_invalid_header_fields.enabled", "false", "bool"},
    {"routing.http.desync_mitigation_mode", "defensive", "enum:monitor|defensive|strictest"},
    {"load_balancing.cross_zone.enabled", "true", "enum:true"},
};

static int valid_lb_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 32 && s[0] != '-' && s[n - 1] != '-' &&
	       strncmp(s, "internal-", 9) != 0 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

/* The subnets asked for (Subnets or SubnetMappings), in two zones at least, as an ALB needs. */
static int lb_subnets(struct lc_req *r, json_t **out)
{
	const char **ids;
	size_t n = lc_q_members(r, "Subnets", &ids);
	json_t *list = json_array(), *zones = json_object();
	int rc = 0;

	if (n == 0) {
		int *idx;
		size_t m = lc_q_indexes(r, "SubnetMappings.member", &idx);
		free(ids);
		ids = kiln_xcalloc(m + 1, sizeof(*ids));
		for (size_t i = 0; i < m; i++)
			if ((ids[n] = lc_qf(r, "SubnetMappings.member.%d.SubnetId", idx[i])) !=
			    NULL)
				n++;
		free(idx);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_t *s = lc_subnet(r->c, ids[i]);
		if (s == NULL)
			rc = lc_err(r, 400, "SubnetNotFound", "The subnet ID '%s' is not valid",
			            ids[i]);
		else if (json_object_get(zones, lc_str(s, "zone")) != NULL)
			rc = lc_err(
			    r, 400, "InvalidConfigurationRequest",
			    "A load balancer cannot be attached to multiple subnets in the same "
			    "Availability Zone");
		else {
			json_object_set_new(zones, lc_str(s, "zone"), json_true());
			json_array_append_new(list, json_string(ids[i]));
		}
	}
	if (rc == 0 && json_array_size(list) < 2)
		rc = lc_validation(r,
		                   "At least two subnets in two different Availability Zones must "
		                   "be specified");
	free(ids);
	json_decref(zones);
	if (rc < 0) {
		json_decref(list);
		return -1;
	}
	*out = list;
	return 0;
}

/* SecurityGroups.member.N, each existing; the VPC's default group when none. */
static int lb_groups(struct lc_req *r, json_t **out)
{
	const char **ids;
	size_t n = lc_q_members(r, "SecurityGroups", &ids);
	json_t *list = json_array();
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		if (json_object_get(lc_table(r->c, "security_groups"), ids[i]) == NULL)
			rc = lc_err(r, 400, "InvalidSecurityGroup",
			            "Security group '%s' does not exist", ids[i]);
		else
			json_array_append_new(list, json_string(ids[i]));
	}
	free(ids);
	if (rc == 0 && n == 0) {
		json_t *def = lc_group_by_name(r->c, "default");
		if (def)
			json_array_append_new(list, json_string(lc_str(def, "id")));
	}
	if (rc < 0) {
		json_decref(list);
		return -1;
	}
	*out = list;
	return 0;
}

static void lb_xml(struct lc_req *r, json_t *lb)
{
	size_t i;
	json_t *sid;

	lc_xo(r->out, "member");
	lc_xt(r->out, "LoadBalancerArn", lc_str(lb, "arn"));
	lc_xt(r->out, "DNSName", lc_str(lb, "ip"));
	lc_xt(r->out, "CanonicalHostedZoneId", LC_ALB_ZONE_ID);
	lc_xt(r->out, "CreatedTime", lc_str(lb, "created"));
	lc_xt(r->out, "LoadBalancerName", lc_str(lb, "name"));
	lc_xt(r->out, "Scheme", lc_str(lb, "scheme"));
	lc_xt(r->out, "VpcId", lc_str(lb, "vpc"));
	lc_xo(r->out, "State");
	lc_xt(r->out, "Code", lc_str(lb, "state"));
	lc_xt(r->out, "Reason", lc_str(lb, "state_reason"));
	lc_xc(r->out, "State");
	lc_xt(r->out, "Type", "application");
	lc_xo(r->out, "AvailabilityZones");
	json_array_foreach(json_object_get(lb, "subnets"), i, sid)
	{
		json_t *s = lc_subnet(r->c, json_string_value(sid));
		lc_xo(r->out, "member");
		lc_xt(r->out, "ZoneName", s ? lc_str(s, "zone") : NULL);
		lc_xt(r->out, "SubnetId", json_string_value(sid));
		kiln_buf_puts(r->out, "<LoadBalancerAddresses/>");
		lc_xc(r->out, "member");
	}
	lc_xc(r->out, "AvailabilityZones");
	lc_xmembers(r->out, "SecurityGroups", json_object_get(lb, "groups"));
	lc_xt(r->out, "IpAddressType", "ipv4");
	lc_xc(r->out, "member");
}

/* Do two arrays of strings hold the same strings, in any order? */
static int same_strings(json_t *a, json_t *b)
{
	size_t i, j;
	json_t *v, *w;

	if (json_array_size(a) != json_array_size(b))
		return 0;
	json_array_foreach(a, i, v)
	{
		int found = 0;
		json_array_foreach(b, j, w) found |= json_equal(v, w);
		if (!found)
			return 0;
	}
	return 1;
}

/*
 * Same name, same settings: CreateLoadBalancer returns the one there is, as
 * AWS does. Subnets and groups are sets: a client that lists them in
 * another order (as DescribeSubnets happens to return them) asks for the
 * same load balancer.
 */
static int same_settings(json_t *lb, const char *scheme, json_t *subnets, json_t *groups)
{
	return strcmp(lc_str(lb, "scheme"), scheme) == 0 &&
	       same_strings(json_object_get(lb, "subnets"), subnets) &&
	       same_strings(json_object_get(lb, "groups"), groups);
}

static json_t *lb_by_name(struct lc_cloud *c, const char *name)
{
	const char *k;
	json_t *v;

	json_object_foreach(lc_lbs(c), k, v)
	{
		if (strcmp(lc_str(v, "name"), name) == 0)
			return v;
	}
	return NULL;
}

static int lb_options(struct lc_req *r, const char **scheme)
{
	const char *type = lc_q(r, "Type"), *ipt = lc_q(r, "IpAddressType");

	*scheme = lc_q(r, "Scheme") ? lc_q(r, "Scheme") : "internet-facing";
	if (strcmp(*scheme, "internet-facing") != 0 && strcmp(*scheme, "internal") != 0)
		return lc_validation(r, "Scheme must be internet-facing or internal, not '%s'",
		                     *scheme);
	if (type && strcmp(type, "application") != 0)
		return lc_err(r, 400, "InvalidConfigurationRequest",
		              "The local cloud has application load balancers only, not '%s'",
		              type);
	if (ipt && strcmp(ipt, "ipv4") != 0)
		return lc_err(r, 400, "InvalidConfigurationRequest",
		              "The local cloud's load balancers are ipv4 only");
	return 0;
}

/* An address on the first subnet's range, shared with instances. */
static int lb_address(struct lc_req *r, json_t *subnets, char out[16])
{
	json_t *subnet = lc_subnet(r->c, json_string_value(json_array_get(subnets, 0)));
	json_t *used = lc_addresses_used(r->c);
	uint32_t ip;
	int rc = lc_address_next(subnet, used, &ip);

	json_decref(used);
	if (rc < 0)
		return lc_err(r, 400, "InvalidSubnet", "Subnet '%s' has no free address",
		              lc_str(subnet, "id"));
	lc_ip_format(out, ip);
	return 0;
}

static json_t *lb_new(struct lc_req *r, const char *name, const char *scheme, json_t *subnets,
                      json_t *groups, json_t *tags, const char *ip)
{
	char *id = lc_elb_id(), *res = kiln_xasprintf("loadbalancer/app/%s/%s", name, id);
	char *arn = lc_elb_arn(r->c, res), now[32];
	json_t *lb;

	lc_now_iso(now);
	lb = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:O, s:s, s:s, s:{}}", "arn", arn,
	               "id", id, "name", name, "scheme", scheme, "state", "provisioning", "vpc",
	               lc_default_vpc(r->c), "subnets", subnets, "groups", groups, "tags", tags,
	               "ip", ip, "created", now, "attributes");
	json_object_set_new(lb, "subnet", json_copy(json_array_get(subnets, 0)));
	free(arn);
	free(res);
	free(id);
	return lb;
}

int lc_elbv2_create_load_balancer(struct lc_req *r)
{
	const char *name = lc_q(r, "Name"), *scheme;
	json_t *subnets = NULL, *groups = NULL, *tags = NULL, *lb = NULL, *old;
	char ip[16];
	int rc = -1;

	if (name == NULL)
		return lc_elb_missing(r, "Name");
	if (!valid_lb_name(name))
		return lc_validation(r,
		                     "Load balancer name '%s' is not valid: at most 32 letters, "
		                     "digits and hyphens, not starting or ending with a hyphen",
		                     name);
	if (lb_options(r, &scheme) < 0 || lb_subnets(r, &subnets) < 0 ||
	    lb_groups(r, &groups) < 0 || lc_elb_q_tags(r, "Tags", &tags) < 0)
		goto done;
	old = lb_by_name(r->c, name);
	if (old != NULL && !same_settings(old, scheme, subnets, groups)) {
		lc_err(r, 400, "DuplicateLoadBalancerName",
		       "A load balancer with the same name '%s' exists, with other settings", name);
		goto done;
	}
	if (old == NULL) {
		if (lb_address(r, subnets, ip) < 0)
			goto done;
		lb = lb_new(r, name, scheme, subnets, groups, tags, ip);
		json_object_set(lc_lbs(r->c), lc_str(lb, "arn"), lb);
		r->dirty = 1;
	} else {
		lb = json_incref(old);
	}
	lc_elbv2_sync_later(r, lc_str(lb, "arn"));
	lc_xo(r->out, "LoadBalancers");
	lb_xml(r, lb);
	lc_xc(r->out, "LoadBalancers");
	rc = 0;
done:
	json_decref(lb);
	json_decref(subnets);
	json_decref(groups);
	json_decref(tags);
	return rc;
}

int lc_elbv2_describe_load_balancers(struct lc_req *r)
{
	const char **arns, **names;
	size_t narns = lc_q_members(r, "LoadBalancerArns", &arns);
	size_t nnames = lc_q_members(r, "Names", &names), first, count;
	json_t *list = json_array(), *lb;
	const char *k;
	int rc = -1;

	if (narns && nnames) {
		lc_validation(r, "LoadBalancerArns and Names cannot be given together");
		goto done;
	}
	for (size_t i = 0; i < narns; i++)
		if (lc_lb_get(r, arns[i]) == NULL)
			goto done;
	for (size_t i = 0; i < nnames; i++) {
		if (lb_by_name(r->c, names[i]) == NULL) {
			lc_err(r, 400, "LoadBalancerNotFound", "Load balancers '[%s]' not found",
			       names[i]);
			goto done;
		}
	}
	json_object_foreach(lc_lbs(r->c), k, lb)
	{
		if ((narns && !lc_in_list(arns, narns, k)) ||
		    (nnames && !lc_in_list(names, nnames, lc_str(lb, "name"))))
			continue;
		json_array_append(list, lb);
	}
	if (lc_elb_page(r, json_array_size(list), &first, &count) < 0)
		goto done;
	lc_xo(r->out, "LoadBalancers");
	for (size_t i = first; i < first + count; i++)
		lb_xml(r, json_array_get(list, i));
	lc_xc(r->out, "LoadBalancers");
	lc_elb_next_marker(r, first, count, json_array_size(list));
	rc = 0;
done:
	json_decref(list);
	free(arns);
	free(names);
	return rc;
}

static const char *lb_attribute(json_t *lb, const char *key)
{
	const char *v = json_string_value(json_object_get(json_object_get(lb, "attributes"), key));

	for (size_t i = 0; v == NULL && i < KILN_ARRAY_SIZE(lb_attributes); i++)
		if (strcmp(lb_attributes[i].key, key) == 0)
			v = lb_attributes[i].def;
	return v;
}

static void deleted_free(void *p)
{
	json_decref(p);
}

int lc_elbv2_delete_load_balancer(struct lc_req *r)
{
	const char *arn = lc_q(r, "LoadBalancerArn"), *k;
	json_t *lb, *gone = json_array(), *l;
	size_t i;

	if (arn == NULL) {
		json_decref(gone);
		return lc_elb_missing(r, "LoadBalancerArn");
	}
	lb = json_object_get(lc_lbs(r->c), arn);
	/* deleting one that is not there succeeds, as on AWS */
	if (lb == NULL) {
		json_decref(gone);
		return 0;
	}
	if (strcmp(lb_attribute(lb, "deletion_protection.enabled"), "true") == 0) {
		json_decref(gone);
		return lc_err(r, 400, "OperationNotPermitted",
		              "Load balancer '%s' cannot be deleted because deletion protection is "
		              "enabled",
		              arn);
	}
	json_object_foreach(lc_listeners(r->c), k, l)
	{
		if (strcmp(lc_str(l, "lb"), arn) == 0)
			json_array_append_new(gone, json_string(k));
	}
	json_array_foreach(gone, i, l) json_object_del(lc_listeners(r->c), json_string_value(l));
	json_decref(gone);
	r->prep = json_pack("{s:s, s:s}", "arn", arn, "ip", lc_str(lb, "ip"));
	r->prep_free = deleted_free;
	json_object_del(lc_lbs(r->c), arn);
	r->dirty = 1;
	return 0;
}

int lc_elbv2_delete_load_balancer_after(struct lc_req *r)
{
	if (r->prep != NULL)
		lc_lb_remove(r->c, lc_str(r->prep, "arn"), lc_str(r->prep, "ip"));
	return 0;
}

static void lb_attributes_xml(struct lc_req *r, json_t *lb)
{
	lc_xo(r->out, "Attributes");
	for (size_t i = 0; i < KILN_ARRAY_SIZE(lb_attributes); i++) {
		lc_xo(r->out, "member");
		lc_xt(r->out, "Key", lb_attributes[i].key);
		lc_xt(r->out, "Value", lb_attribute(lb, lb_attributes[i].key));
		lc_xc(r->out, "member");
	}
	lc_xc(r->out, "Attributes");
}

int lc_elbv2_describe_load_balancer_attributes(struct lc_req *r)
{
	json_t *lb = lc_lb_get(r, lc_q(r, "LoadBalancerArn"));

	if (lb == NULL)
		return -1;
	lb_attributes_xml(r, lb);
	return 0;
}

/* Is `v` a value of an attribute of `kind`? */
int lc_attribute_valid(const char *kind, const char *v)
{
	if (strcmp(kind, "bool") == 0)
		return strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
	if (strncmp(kind, "int:", 4) == 0) {
		long long min = 0, max = 0, x;
		if (sscanf(kind + 4, "%lld:%lld", &min, &max) != 2 || lc_parse_int(v, &x) < 0)
			return 0;
		return x >= min && x <= max;
	}
	if (strncmp(kind, "enum:", 5) == 0) {
		const char *p = kind + 5;
		size_t n = strlen(v);
		while (p && *p) {
			if (strncmp(p, v, n) == 0 && (p[n] == '|' || p[n] == '\0'))
				return 1;
			p = strchr(p, '|');
			p = p ? p + 1 : NULL;
		}
		return 0;
	}
	return strlen(v) <= 1024;
}

int lc_elbv2_modify_load_balancer_attributes(struct lc_req *r)
{
	json_t *lb = lc_lb_get(r, lc_q(r, "LoadBalancerArn")), *set = json_object();
	int *idx;
	size_t n;
	int rc = 0;

	if (lb == NULL) {
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
		for (a = 0; a < KILN_ARRAY_SIZE(lb_attributes); a++)
			if (k && strcmp(lb_attributes[a].key, k) == 0)
				break;
		if (a == KILN_ARRAY_SIZE(lb_attributes))
			rc = lc_validation(r, "Load balancer attribute key '%s' is not recognized",
			                   k ? k : "");
		else if (v == NULL || !lc_attribute_valid(lb_attributes[a].kind, v))
			rc = lc_validation(r, "Load balancer attribute '%s' cannot be '%s'", k,
			                   v ? v : "");
		else
			json_object_set_new(set, k, json_string(v));
	}
	free(idx);
	if (rc == 0) {
		json_object_update(json_object_get(lb, "attributes"), set);
		r->dirty = 1;
		lc_elbv2_sync_later(r, lc_str(lb, "arn"));
		lb_attributes_xml(r, lb);
	}
	json_decref(set);
	return rc;
}

/* SetSecurityGroups: the list is replaced whole; the listeners' sources follow. */
int lc_elbv2_set_security_groups(struct lc_req *r)
{
	json_t *lb = lc_lb_get(r, lc_q(r, "LoadBalancerArn")), *groups;
	const char **ids;

	if (lb == NULL)
		return -1;
	if (lc_q_members(r, "SecurityGroups", &ids) == 0) {
		free(ids);
		return lc_elb_missing(r, "SecurityGroups");
	}
	free(ids);
	if (lb_groups(r, &groups) < 0)
		return -1;
	json_object_set_new(lb, "groups", groups);
	r->dirty = 1;
	lc_elbv2_sync_later(r, lc_str(lb, "arn"));
	lc_xmembers(r->out, "SecurityGroupIds", groups);
	return 0;
}
