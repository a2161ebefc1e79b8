/*
 * Security groups of the default VPC: their rules as EC2 keeps and shows
 * them (ingress and egress, CIDR and group sources, rule ids).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "localcloud/describe-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/net-int.h"
#include "localcloud/xml-int.h"

/* Rules per group and direction, EC2's default quota. */
#define LC_RULES_MAX 60

static json_t *groups(struct lc_cloud *c)
{
	return lc_table(c, "security_groups");
}

json_t *lc_group_by_name(struct lc_cloud *c, const char *name)
{
	const char *k;
	json_t *v;

	json_object_foreach(groups(c), k, v)
	{
		if (strcmp(lc_str(v, "name"), name) == 0)
			return v;
	}
	return NULL;
}

/* A new group with EC2's default egress rule (everything out). */
static json_t *group_new(const char *id, const char *name, const char *desc, const char *vpc,
                         const char *rule_id, json_t *tags)
{
	json_t *g = json_pack("{s:s, s:s, s:s, s:s, s:[], s:O}", "id", id, "name", name,
	                      "description", desc, "vpc", vpc, "rules", "tags", tags);

	json_array_append_new(json_object_get(g, "rules"),
	                      json_pack("{s:s, s:b, s:s, s:i, s:i, s:s}", "id", rule_id, "egress",
	                                1, "proto", "-1", "from", -1, "to", -1, "cidr",
	                                "0.0.0.0/0"));
	return g;
}

void lc_ensure_default_group(struct lc_cloud *c)
{
	const char *vpc = lc_default_vpc(c);
	json_t *tags, *g;
	char *id;

	if (vpc == NULL || lc_group_by_name(c, "default") != NULL)
		return;
	id = lc_new_id("sg-");
	tags = json_object();
	g = group_new(id, "default", "default VPC security group", vpc, "sgr-00000000000000001",
	              tags);
	/* as on AWS, the default group lets its own members in */
	json_array_append_new(json_object_get(g, "rules"),
	                      json_pack("{s:s, s:b, s:s, s:i, s:i, s:s}", "id",
	                                "sgr-00000000000000002", "egress", 0, "proto", "-1", "from",
	                                -1, "to", -1, "group", id));
	json_object_set_new(groups(c), id, g);
	json_decref(tags);
	free(id);
}

void lc_group_members(struct lc_cloud *c, const char *group_id, struct kiln_buf *out)
{
	static const char *const tables[] = {"instances", "load_balancers"};
	const char *k;
	json_t *v, *g;
	size_t i;

	for (size_t t = 0; t < KILN_ARRAY_SIZE(tables); t++) {
		json_object_foreach(lc_table(c, tables[t]), k, v)
		{
			if (lc_str(v, "ip") == NULL ||
			    (lc_str(v, "state") && strcmp(lc_str(v, "state"), "terminated") == 0))
				continue;
			json_array_foreach(json_object_get(v, "groups"), i, g)
			{
				if (strcmp(json_string_value(g), group_id) == 0) {
					kiln_buf_printf(out, "%s\n", lc_str(v, "ip"));
					break;
				}
			}
		}
	}
}

/* EC2 (VPC) group names: 1 to 255 ASCII characters, not starting with sg-. */
static int valid_group_name(const char *s)
{
	if (strlen(s) > 255 || strncmp(s, "sg-", 3) == 0)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

int lc_ec2_create_security_group(struct lc_req *r)
{
	const char *name = lc_q(r, "GroupName"), *desc = lc_q(r, "GroupDescription");
	const char *vpc = lc_q(r, "VpcId");
	json_t *g, *tags = NULL;
	char *id, *rule_id;

	if (name == NULL)
		return lc_missing(r, "GroupName");
	if (desc == NULL)
		return lc_missing(r, "GroupDescription");
	if (!valid_group_name(name))
		return lc_err(r, 400, "InvalidParameterValue",
		              "Value (%s) for parameter GroupName is invalid. Group names may not "
		              "be empty, start with sg- or hold characters outside ASCII 32-126.",
		              name);
	if (strlen(desc) > 255)
		return lc_err(r, 400, "InvalidParameterValue",
		              "Value for parameter GroupDescription is too long (at most 255)");
	if (vpc && json_object_get(lc_table(r->c, "vpcs"), vpc) == NULL)
		return lc_err(r, 400, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist",
		              vpc);
	if (vpc == NULL)
		vpc = lc_default_vpc(r->c);
	if (lc_group_by_name(r->c, name))
		return lc_err(r, 400, "InvalidGroup.Duplicate",
		              "The security group '%s' already exists for VPC '%s'", name, vpc);
	tags = json_object();
	if (lc_q_tag_specs(r, "TagSpecification", "security-group", tags) < 0) {
		json_decref(tags);
		return -1;
	}
	id = lc_new_id("sg-");
	rule_id = lc_new_id("sgr-");
	g = group_new(id, name, desc, vpc, rule_id, tags);
	json_object_set_new(groups(r->c), id, g);
	r->dirty = 1;
	lc_xt(r->out, "groupId", id);
	lc_xtf(r->out, "securityGroupArn", "arn:aws:ec2:%s:%s:security-group/%s", r->c->region,
	       r->c->account, id);
	lc_xtags(r->out, "tagSet", tags);
	json_decref(tags);
	free(rule_id);
	free(id);
	return 0;
}

/* The group a request names by GroupId or GroupName, or an error. */
static json_t *request_group(struct lc_req *r)
{
	const char *id = lc_q(r, "GroupId"), *name = lc_q(r, "GroupName");
	json_t *g;

	if (id) {
		g = json_object_get(groups(r->c), id);
		if (g == NULL)
			lc_err(r, 400, "InvalidGroup.NotFound",
			       "The security group '%s' does not exist", id);
		return g;
	}
	if (name) {
		g = lc_group_by_name(r->c, name);
		if (g == NULL)
			lc_err(r, 400, "InvalidGroup.NotFound",
			       "The security group '%s' does not exist in default VPC '%s'", name,
			       lc_default_vpc(r->c));
		return g;
	}
	lc_missing(r, "GroupId");
	return NULL;
}

/* Does a live instance or another group's rule use group `id`? */
static const char *group_user(struct lc_cloud *c, const char *id)
{
	const char *k;
	json_t *v, *e;
	size_t i;

	json_object_foreach(lc_instances(c), k, v)
	{
		if (strcmp(lc_str(v, "state"), "terminated") == 0)
			continue;
		json_array_foreach(json_object_get(v, "groups"), i, e)
		{
			if (strcmp(json_string_value(e), id) == 0)
				return k;
		}
	}
	json_object_foreach(groups(c), k, v)
	{
		if (strcmp(k, id) == 0)
			continue;
		json_array_foreach(json_object_get(v, "rules"), i, e)
		{
			if (lc_str(e, "group") && strcmp(lc_str(e, "group"), id) == 0)
				return k;
		}
	}
	return NULL;
}

int lc_ec2_delete_security_group(struct lc_req *r)
{
	json_t *g = request_group(r);
	const char *user;
	char *id;

	if (g == NULL)
		return -1;
	if (strcmp(lc_str(g, "name"), "default") == 0)
		return lc_err(r, 400, "CannotDelete",
		              "the specified group: \"%s\" name: \"default\" "
		              "cannot be deleted by a user",
		              lc_str(g, "id"));
	user = group_user(r->c, lc_str(g, "id"));
	if (user != NULL)
		return lc_err(r, 400, "DependencyViolation", "resource %s has a dependent object",
		              lc_str(g, "id"));
	id = kiln_xstrdup(lc_str(g, "id"));
	json_object_del(groups(r->c), id);
	r->dirty = 1;
	lc_xt(r->out, "return", "true");
	lc_xt(r->out, "groupId", id);
	free(id);
	return 0;
}

/* ---- rules -------------------------------------------------------------- */

/* One IpPermissions.N: protocol and ports, then one rule per source. */
struct perm {
	const char *proto;
	long long from, to;
};

static int valid_proto(const char *p)
{
	return strcmp(p, "tcp") == 0 || strcmp(p, "udp") == 0 || strcmp(p, "icmp") == 0 ||
	       strcmp(p, "-1") == 0 || strcmp(p, "all") == 0 ||
	       (strspn(p, "0123456789") == strlen(p) && strlen(p) <= 3 && atoi(p) <= 255);
}

/* PREFIX.NAME, or NAME alone for the legacy top-level form (an empty prefix). */
static void perm_key(char out[96], const char *prefix, const char *name)
{
	snprintf(out, 96, "%s%s%s", prefix, prefix[0] ? "." : "", name);
}

static int perm_parse(struct lc_req *r, const char *prefix, struct perm *p)
{
	const char *proto;
	char key[96];

	perm_key(key, prefix, "IpProtocol");
	proto = lc_q(r, key);
	if (proto == NULL)
		return lc_missing(r, "IpPermissions.IpProtocol");
	if (!valid_proto(proto))
		return lc_err(r, 400, "InvalidParameterValue",
		              "Invalid value '%s' for IP protocol. Unknown protocol.", proto);
	p->proto = strcmp(proto, "all") == 0 ? "-1" : proto;
	perm_key(key, prefix, "FromPort");
	if (lc_q_int(r, key, -1, -1, 65535, &p->from) < 0)
		return -1;
	perm_key(key, prefix, "ToPort");
	if (lc_q_int(r, key, -1, -1, 65535, &p->to) < 0)
		return -1;
	if ((strcmp(p->proto, "tcp") == 0 || strcmp(p->proto, "udp") == 0) &&
	    (p->from < 0 || p->to < 0 || p->from > p->to))
		return lc_err(r, 400, "InvalidParameterValue",
		              "Invalid port range %lld-%lld for protocol %s", p->from, p->to,
		              p->proto);
	return 0;
}

/* An IPv4 CIDR block as a rule's source: any prefix from /0 to /32. */
static int valid_source_cidr(const char *cidr)
{
	const char *slash = strchr(cidr, '/');
	char addr[16];
	uint32_t ip;
	size_t n;

	if (slash == NULL || (n = (size_t)(slash - cidr)) >= sizeof(addr) || slash[1] == '\0' ||
	    strspn(slash + 1, "0123456789") != strlen(slash + 1) || strlen(slash + 1) > 2 ||
	    atoi(slash + 1) > 32)
		return 0;
	memcpy(addr, cidr, n);
	addr[n] = '\0';
	return lc_ip_parse(&ip, addr) == 0;
}

static int add_rule(struct lc_req *r, json_t *rules, const struct perm *p, const char *what,
                    const char *source, const char *desc)
{
	if (desc != NULL && strlen(desc) > 255)
		return lc_err(r, 400, "InvalidParameterValue",
		              "Rule descriptions are limited to 255 characters");
	json_array_append_new(rules,
	                      json_pack("{s:s, s:I, s:I, s:s, s:s?}", "proto", p->proto, "from",
	                                p->from, "to", p->to, what, source, "description", desc));
	return 0;
}

/* The sources of one IpPermissions.N (IpRanges.M, Groups.M) as rules. */
static int perm_sources(struct lc_req *r, const char *prefix, const struct perm *p, json_t *rules)
{
	char sub[96];
	int *idx = NULL, rc = 0;
	size_t n;

	snprintf(sub, sizeof(sub), "%s.IpRanges", prefix);
	n = lc_q_indexes(r, sub, &idx);
	for (size_t j = 0; j < n && rc == 0; j++) {
		const char *cidr = lc_qf(r, "%s.%d.CidrIp", sub, idx[j]);
		if (cidr == NULL || !valid_source_cidr(cidr))
			rc = lc_err(r, 400, "InvalidParameterValue", "CIDR block %s is malformed",
			            cidr ? cidr : "(none)");
		else
			rc = add_rule(r, rules, p, "cidr", cidr,
			              lc_qf(r, "%s.%d.Description", sub, idx[j]));
	}
	free(idx);
	idx = NULL;
	snprintf(sub, sizeof(sub), "%s.Groups", prefix);
	n = rc == 0 ? lc_q_indexes(r, sub, &idx) : 0;
	for (size_t j = 0; j < n && rc == 0; j++) {
		const char *gid = lc_qf(r, "%s.%d.GroupId", sub, idx[j]);
		if (gid == NULL || json_object_get(groups(r->c), gid) == NULL)
			rc = lc_err(r, 400, "InvalidGroup.NotFound",
			            "The security group '%s' does not exist", gid ? gid : "(none)");
		else
			rc = add_rule(r, rules, p, "group", gid,
			              lc_qf(r, "%s.%d.Description", sub, idx[j]));
	}
	free(idx);
	return rc;
}

/* The rules of IpPermissions.N, or of the legacy top-level form (IpProtocol, CidrIp). */
static int request_rules(struct lc_req *r, json_t **out)
{
	json_t *rules = json_array();
	int *idx, rc = 0;
	size_t n = lc_q_indexes(r, "IpPermissions", &idx);

	if (n == 0 && lc_q(r, "IpProtocol")) {
		struct perm p;
		const char *cidr = lc_q(r, "CidrIp");
		rc = perm_parse(r, "", &p);
		if (rc == 0 && cidr != NULL && !valid_source_cidr(cidr))
			rc = lc_err(r, 400, "InvalidParameterValue", "CIDR block %s is malformed",
			            cidr);
		if (rc == 0)
			rc = add_rule(r, rules, &p, "cidr", cidr ? cidr : "0.0.0.0/0", NULL);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct perm p;
		char prefix[48];
		snprintf(prefix, sizeof(prefix), "IpPermissions.%d", idx[i]);
		rc = perm_parse(r, prefix, &p);
		if (rc == 0)
			rc = perm_sources(r, prefix, &p, rules);
	}
	free(idx);
	if (rc == 0 && json_array_size(rules) == 0)
		rc = lc_missing(r, "IpPermissions");
	if (rc < 0) {
		json_decref(rules);
		return -1;
	}
	*out = rules;
	return 0;
}

static int same_rule(json_t *a, json_t *b, int egress)
{
	const char *ca = lc_str(a, "cidr"), *cb = lc_str(b, "cidr");
	const char *ga = lc_str(a, "group"), *gb = lc_str(b, "group");

	return json_is_true(json_object_get(a, "egress")) == egress &&
	       strcmp(lc_str(a, "proto"), lc_str(b, "proto")) == 0 &&
	       json_integer_value(json_object_get(a, "from")) ==
	           json_integer_value(json_object_get(b, "from")) &&
	       json_integer_value(json_object_get(a, "to")) ==
	           json_integer_value(json_object_get(b, "to")) &&
	       ((ca && cb && strcmp(ca, cb) == 0) || (ga && gb && strcmp(ga, gb) == 0));
}

static void rule_xml(struct lc_req *r, struct kiln_buf *b, json_t *g, json_t *rule)
{
	lc_xo(b, "item");
	lc_xt(b, "securityGroupRuleId", lc_str(rule, "id"));
	lc_xt(b, "groupId", lc_str(g, "id"));
	lc_xt(b, "groupOwnerId", r->c->account);
	lc_xbool(b, "isEgress", json_is_true(json_object_get(rule, "egress")));
	lc_xt(b, "ipProtocol", lc_str(rule, "proto"));
	lc_xtf(b, "fromPort", "%lld", (long long)json_integer_value(json_object_get(rule, "from")));
	lc_xtf(b, "toPort", "%lld", (long long)json_integer_value(json_object_get(rule, "to")));
	lc_xt(b, "cidrIpv4", lc_str(rule, "cidr"));
	if (lc_str(rule, "group")) {
		lc_xo(b, "referencedGroupInfo");
		lc_xt(b, "groupId", lc_str(rule, "group"));
		lc_xt(b, "userId", r->c->account);
		lc_xc(b, "referencedGroupInfo");
	}
	lc_xt(b, "description", lc_str(rule, "description"));
	lc_xc(b, "item");
}

static size_t count_rules(json_t *have, int egress)
{
	size_t i, n = 0;
	json_t *rule;

	json_array_foreach(have, i, rule) n +=
	    json_is_true(json_object_get(rule, "egress")) == egress;
	return n;
}

/* Every new rule must be new and the group stay within its quota. */
static int rules_addable(struct lc_req *r, json_t *have, json_t *rules, int egress)
{
	size_t i, j;
	json_t *rule, *added;

	json_array_foreach(rules, i, rule)
	{
		json_array_foreach(have, j, added)
		{
			if (!same_rule(added, rule, egress))
				continue;
			return lc_err(r, 400, "InvalidPermission.Duplicate",
			              "the specified rule \"peer: %s, %s, from port: %lld, to "
			              "port: %lld, ALLOW\" already exists",
			              lc_str(rule, "cidr") ? lc_str(rule, "cidr")
			                                   : lc_str(rule, "group"),
			              lc_str(rule, "proto"),
			              (long long)json_integer_value(json_object_get(rule, "from")),
			              (long long)json_integer_value(json_object_get(rule, "to")));
		}
	}
	if (count_rules(have, egress) + json_array_size(rules) > LC_RULES_MAX)
		return lc_err(r, 400, "RulesPerSecurityGroupLimitExceeded",
		              "The maximum number of rules per security group has been reached "
		              "(%d)",
		              LC_RULES_MAX);
	return 0;
}

static int authorize(struct lc_req *r, int egress)
{
	json_t *g = request_group(r), *rules, *rule, *have;
	size_t i;

	if (g == NULL || request_rules(r, &rules) < 0)
		return -1;
	have = json_object_get(g, "rules");
	if (rules_addable(r, have, rules, egress) < 0) {
		json_decref(rules);
		return -1;
	}
	lc_xt(r->out, "return", "true");
	lc_xo(r->out, "securityGroupRuleSet");
	json_array_foreach(rules, i, rule)
	{
		char *rid = lc_new_id("sgr-");
		json_object_set_new(rule, "id", json_string(rid));
		json_object_set_new(rule, "egress", json_boolean(egress));
		json_array_append(have, rule);
		rule_xml(r, r->out, g, rule);
		free(rid);
	}
	lc_xc(r->out, "securityGroupRuleSet");
	json_decref(rules);
	r->dirty = 1;
	return 0;
}

int lc_ec2_authorize_security_group_ingress(struct lc_req *r)
{
	return authorize(r, 0);
}

int lc_ec2_authorize_security_group_egress(struct lc_req *r)
{
	return authorize(r, 1);
}

/* A rule asked for that the group does not have, as EC2 lists it back. */
static void unknown_xml(struct kiln_buf *b, json_t *rule)
{
	lc_xo(b, "item");
	lc_xt(b, "ipProtocol", lc_str(rule, "proto"));
	lc_xtf(b, "fromPort", "%lld", (long long)json_integer_value(json_object_get(rule, "from")));
	lc_xtf(b, "toPort", "%lld", (long long)json_integer_value(json_object_get(rule, "to")));
	if (lc_str(rule, "cidr")) {
		kiln_buf_puts(b, "<ipRanges><item>");
		lc_xt(b, "cidrIp", lc_str(rule, "cidr"));
		kiln_buf_puts(b, "</item></ipRanges>");
	}
	lc_xc(b, "item");
}

int lc_ec2_revoke_security_group_ingress(struct lc_req *r)
{
	json_t *g = request_group(r), *rules, *rule, *have;
	struct kiln_buf unknown = KILN_BUF_INIT, revoked = KILN_BUF_INIT;
	size_t i, j;

	if (g == NULL || request_rules(r, &rules) < 0)
		return -1;
	have = json_object_get(g, "rules");
	json_array_foreach(rules, i, rule)
	{
		for (j = 0; j < json_array_size(have); j++)
			if (same_rule(json_array_get(have, j), rule, 0))
				break;
		if (j == json_array_size(have)) {
			unknown_xml(&unknown, rule);
			continue;
		}
		rule_xml(r, &revoked, g, json_array_get(have, j));
		json_array_remove(have, j);
	}
	lc_xt(r->out, "return", "true");
	if (unknown.size) {
		lc_xo(r->out, "unknownIpPermissionSet");
		kiln_buf_put(r->out, unknown.ptr, unknown.size);
		lc_xc(r->out, "unknownIpPermissionSet");
	}
	lc_xo(r->out, "revokedSecurityGroupRuleSet");
	kiln_buf_put(r->out, revoked.ptr, revoked.size);
	lc_xc(r->out, "revokedSecurityGroupRuleSet");
	kiln_buf_release(&unknown);
	kiln_buf_release(&revoked);
	json_decref(rules);
	r->dirty = 1;
	return 0;
}

/* ---- describe ----------------------------------------------------------- */

static int same_ports(json_t *a, json_t *b, int egress)
{
	return json_is_true(json_object_get(b, "egress")) == egress &&
	       strcmp(lc_str(a, "proto"), lc_str(b, "proto")) == 0 &&
	       json_integer_value(json_object_get(a, "from")) ==
	           json_integer_value(json_object_get(b, "from")) &&
	       json_integer_value(json_object_get(a, "to")) ==
	           json_integer_value(json_object_get(b, "to"));
}

/* The sources of the rules with a's protocol and ports: groups, then CIDR blocks. */
static void sources_xml(struct lc_req *r, json_t *rules, size_t from, json_t *a, int egress,
                        char *done)
{
	for (int pass = 0; pass < 2; pass++) {
		lc_xo(r->out, pass == 0 ? "groups" : "ipRanges");
		for (size_t j = from; j < json_array_size(rules); j++) {
			json_t *b = json_array_get(rules, j);
			if (!same_ports(a, b, egress))
				continue;
			done[j] = 1;
			if (pass == 0 && lc_str(b, "group")) {
				lc_xo(r->out, "item");
				lc_xt(r->out, "userId", r->c->account);
				lc_xt(r->out, "groupId", lc_str(b, "group"));
				lc_xt(r->out, "description", lc_str(b, "description"));
				lc_xc(r->out, "item");
			} else if (pass == 1 && lc_str(b, "cidr")) {
				lc_xo(r->out, "item");
				lc_xt(r->out, "cidrIp", lc_str(b, "cidr"));
				lc_xt(r->out, "description", lc_str(b, "description"));
				lc_xc(r->out, "item");
			}
		}
		lc_xc(r->out, pass == 0 ? "groups" : "ipRanges");
	}
}

/* ipPermissions / ipPermissionsEgress: rules grouped by protocol and ports. */
static void permissions_xml(struct lc_req *r, json_t *g, int egress, const char *name)
{
	json_t *rules = json_object_get(g, "rules"), *a;
	size_t n = json_array_size(rules);
	char *done = kiln_xcalloc(n + 1, 1);

	lc_xo(r->out, name);
	for (size_t i = 0; i < n; i++) {
		a = json_array_get(rules, i);
		if (done[i] || json_is_true(json_object_get(a, "egress")) != egress)
			continue;
		lc_xo(r->out, "item");
		lc_xt(r->out, "ipProtocol", lc_str(a, "proto"));
		if (strcmp(lc_str(a, "proto"), "-1") != 0) {
			lc_xtf(r->out, "fromPort", "%lld",
			       (long long)json_integer_value(json_object_get(a, "from")));
			lc_xtf(r->out, "toPort", "%lld",
			       (long long)json_integer_value(json_object_get(a, "to")));
		}
		sources_xml(r, rules, i, a, egress, done);
		kiln_buf_puts(r->out, "<ipv6Ranges/><prefixListIds/>");
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, name);
	free(done);
}

static const struct lc_field group_fields[] = {{"group-id", .key = "id"},
                                               {"group-name", .key = "name"},
                                               {"vpc-id", .key = "vpc"},
                                               {"description", .key = "description"},
                                               {"owner-id", .fn = lc_field_account},
                                               {NULL}};

static void group_xml(struct lc_req *r, json_t *v)
{
	const char *id = lc_str(v, "id");

	lc_xo(r->out, "item");
	lc_xt(r->out, "ownerId", r->c->account);
	lc_xt(r->out, "groupId", id);
	lc_xt(r->out, "groupName", lc_str(v, "name"));
	lc_xt(r->out, "groupDescription", lc_str(v, "description"));
	lc_xt(r->out, "vpcId", lc_str(v, "vpc"));
	lc_xtf(r->out, "securityGroupArn", "arn:aws:ec2:%s:%s:security-group/%s", r->c->region,
	       r->c->account, id);
	permissions_xml(r, v, 0, "ipPermissions");
	permissions_xml(r, v, 1, "ipPermissionsEgress");
	lc_xtags(r->out, "tagSet", json_object_get(v, "tags"));
	lc_xc(r->out, "item");
}

static int group_name_check(struct lc_req *r, const char *name)
{
	if (lc_group_by_name(r->c, name) == NULL)
		return lc_err(r, 400, "InvalidGroup.NotFound",
		              "The security group '%s' does not exist in default VPC '%s'", name,
		              lc_default_vpc(r->c));
	return 0;
}

int lc_ec2_describe_security_groups(struct lc_req *r)
{
	static const struct lc_describe d = {
	    .table = "security_groups",
	    .by = {{"GroupId", NULL, NULL, "InvalidGroup.NotFound", "security group"},
	           {"GroupName", "name", group_name_check}},
	    .fields = group_fields,
	    .paged = 1,
	    .page_min = 5,
	    .page_max = 1000,
	    .set = "securityGroupInfo",
	    .item = group_xml};

	return lc_describe(r, &d);
}
