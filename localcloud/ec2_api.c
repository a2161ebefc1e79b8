/*
 * The local cloud's EC2 API, the part that is state only: regions and zones,
 * the default VPC, security groups, key pairs, tags, launch templates.
 * Instances, images and snapshots are in ec2_instances.c.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/shapes.h"
#include "core/proc.h"
#include "core/util.h"
#include "localcloud/cloud-int.h"
#include "localcloud/ec2-int.h"

/* ---- shared ------------------------------------------------------------- */

int lc_page(struct lc_req *r, size_t total, size_t *first, size_t *count, long long max_default)
{
	const char *token = lc_q(r, "NextToken");
	long long max;
	char *end;
	unsigned long long start = 0;

	if (lc_q_int(r, "MaxResults", max_default, 5, 1000, &max) < 0)
		return -1;
	if (token && *token) {
		start = strtoull(token, &end, 10);
		if (*end != '\0' || start > total)
			return lc_err(r, 400, "InvalidParameterValue",
			              "Invalid value for NextToken: %s", token);
	}
	*first = (size_t)start;
	*count = total - (size_t)start < (size_t)max ? total - (size_t)start : (size_t)max;
	return 0;
}

void lc_next_token(struct lc_req *r, size_t first, size_t count, size_t total)
{
	if (first + count < total)
		lc_xtf(r->out, "nextToken", "%zu", first + count);
}

static int in_list(const char *const *list, size_t n, const char *v)
{
	for (size_t i = 0; i < n; i++)
		if (v && strcmp(list[i], v) == 0)
			return 1;
	return 0;
}

const char *lc_default_vpc(struct lc_cloud *c)
{
	const char *k;
	json_t *v;
	json_object_foreach(lc_table(c, "vpcs"), k, v)
	{
		(void)v;
		return k;
	}
	return NULL;
}

static int one(const char **vals, char scratch[][64], int i, const char *v)
{
	(void)scratch;
	vals[i] = v;
	return v ? 1 : 0;
}

/* ---- regions, zones, account -------------------------------------------- */

static int describe_regions(struct lc_req *r)
{
	lc_xo(r->out, "regionInfo");
	lc_xo(r->out, "item");
	lc_xt(r->out, "regionName", r->c->region);
	lc_xtf(r->out, "regionEndpoint", "ec2.%s.amazonaws.com", r->c->region);
	lc_xt(r->out, "optInStatus", "opt-in-not-required");
	lc_xc(r->out, "item");
	lc_xc(r->out, "regionInfo");
	return 0;
}

static int zone_values(json_t *res, const char *name, const char **vals, int max,
                       char scratch[][64])
{
	(void)max;
	if (strcmp(name, "zone-name") == 0 || strcmp(name, "availability-zone") == 0)
		return one(vals, scratch, 0, lc_str(res, "zone"));
	if (strcmp(name, "zone-id") == 0)
		return one(vals, scratch, 0, lc_str(res, "zone_id"));
	if (strcmp(name, "state") == 0)
		return one(vals, scratch, 0, "available");
	if (strcmp(name, "region-name") == 0)
		return one(vals, scratch, 0, "us-east-1");
	return -1;
}

static int describe_zones(struct lc_req *r)
{
	static const char *const names[] = {"us-east-1a", "us-east-1b", "us-east-1c"};
	static const char *const ids[] = {"use1-az1", "use1-az2", "use1-az4"};
	struct lc_filters f;
	const char **want;
	size_t nwant = lc_q_list(r, "ZoneName", &want);

	if (lc_filters_parse(r, &f, zone_values) < 0) {
		free(want);
		return -1;
	}
	lc_xo(r->out, "availabilityZoneInfo");
	for (int i = 0; i < LC_NZONES; i++) {
		json_t *z = json_pack("{s:s, s:s}", "zone", names[i], "zone_id", ids[i]);
		int m = lc_filters_match(r, &f, z, zone_values);
		json_decref(z);
		if (m < 0)
			break;
		if (!m || (nwant && !in_list(want, nwant, names[i])))
			continue;
		lc_xo(r->out, "item");
		lc_xt(r->out, "zoneName", names[i]);
		lc_xt(r->out, "zoneId", ids[i]);
		lc_xt(r->out, "zoneState", "available");
		lc_xt(r->out, "regionName", r->c->region);
		lc_xt(r->out, "groupName", r->c->region);
		lc_xt(r->out, "networkBorderGroup", r->c->region);
		lc_xt(r->out, "zoneType", "availability-zone");
		lc_xt(r->out, "optInStatus", "opt-in-not-required");
		kiln_buf_puts(r->out, "<messageSet/>");
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "availabilityZoneInfo");
	lc_filters_release(&f);
	free(want);
	return r->code[0] ? -1 : 0;
}

static int describe_account_attributes(struct lc_req *r)
{
	const char *attrs[][2] = {
	    {"supported-platforms", "VPC"}, {"default-vpc", lc_default_vpc(r->c)},
	    {"max-instances", "20"},        {"vpc-max-security-groups-per-interface", "5"},
	    {"max-elastic-ips", "5"},       {"vpc-max-elastic-ips", "5"}};
	const char **want;
	size_t nwant = lc_q_list(r, "AttributeName", &want);

	lc_xo(r->out, "accountAttributeSet");
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		if (nwant && !in_list(want, nwant, attrs[i][0]))
			continue;
		lc_xo(r->out, "item");
		lc_xt(r->out, "attributeName", attrs[i][0]);
		lc_xo(r->out, "attributeValueSet");
		lc_xo(r->out, "item");
		lc_xt(r->out, "attributeValue", attrs[i][1] ? attrs[i][1] : "none");
		lc_xc(r->out, "item");
		lc_xc(r->out, "attributeValueSet");
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "accountAttributeSet");
	free(want);
	return 0;
}

/* ---- VPC and subnets ---------------------------------------------------- */

static int vpc_values(json_t *res, const char *name, const char **vals, int max, char scratch[][64])
{
	(void)max;
	if (strcmp(name, "vpc-id") == 0)
		return one(vals, scratch, 0, lc_str(res, "id"));
	if (strcmp(name, "cidr") == 0 || strcmp(name, "cidr-block") == 0 ||
	    strcmp(name, "cidr-block-association.cidr-block") == 0)
		return one(vals, scratch, 0, lc_str(res, "cidr"));
	if (strcmp(name, "is-default") == 0)
		return one(vals, scratch, 0, "true");
	if (strcmp(name, "state") == 0)
		return one(vals, scratch, 0, "available");
	if (strcmp(name, "owner-id") == 0)
		return one(vals, scratch, 0, "000000000000");
	return -1;
}

static int describe_vpcs(struct lc_req *r)
{
	struct lc_filters f;
	const char **ids, *k;
	size_t nids = lc_q_list(r, "VpcId", &ids);
	json_t *v, *vpcs = lc_table(r->c, "vpcs");
	int rc = 0;

	if (lc_ids_exist(r, ids, nids, "vpcs", "InvalidVpcID.NotFound", "vpc ID") < 0 ||
	    lc_filters_parse(r, &f, vpc_values) < 0) {
		free(ids);
		return -1;
	}
	lc_xo(r->out, "vpcSet");
	json_object_foreach(vpcs, k, v)
	{
		int m = lc_filters_match(r, &f, v, vpc_values);
		if (m < 0) {
			rc = -1;
			break;
		}
		if (!m || (nids && !in_list(ids, nids, k)))
			continue;
		lc_xo(r->out, "item");
		lc_xt(r->out, "vpcId", k);
		lc_xt(r->out, "ownerId", r->c->account);
		lc_xt(r->out, "state", "available");
		lc_xt(r->out, "cidrBlock", lc_str(v, "cidr"));
		kiln_buf_puts(r->out, "<cidrBlockAssociationSet><item>");
		lc_xtf(r->out, "associationId", "vpc-cidr-assoc-%s", k + 4);
		lc_xt(r->out, "cidrBlock", lc_str(v, "cidr"));
		kiln_buf_puts(r->out, "<cidrBlockState><state>associated</state></cidrBlockState>");
		kiln_buf_puts(r->out, "</item></cidrBlockAssociationSet>");
		lc_xt(r->out, "dhcpOptionsId", "dopt-00000000000000001");
		lc_xt(r->out, "instanceTenancy", "default");
		lc_xbool(r->out, "isDefault", 1);
		lc_xtags(r->out, "tagSet", json_object_get(v, "tags"));
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "vpcSet");
	lc_filters_release(&f);
	free(ids);
	return rc;
}

static void subnet_cidr(char out[32], json_t *s)
{
	snprintf(out, 32, "%s/%lld", lc_str(s, "cidr_base"),
	         json_integer_value(json_object_get(s, "prefix")));
}

static int subnet_values(json_t *res, const char *name, const char **vals, int max,
                         char scratch[][64])
{
	(void)max;
	if (strcmp(name, "subnet-id") == 0)
		return one(vals, scratch, 0, lc_str(res, "id"));
	if (strcmp(name, "vpc-id") == 0)
		return one(vals, scratch, 0, lc_str(res, "vpc"));
	if (strcmp(name, "availability-zone") == 0)
		return one(vals, scratch, 0, lc_str(res, "zone"));
	if (strcmp(name, "default-for-az") == 0 || strcmp(name, "defaultForAz") == 0)
		return one(vals, scratch, 0, "true");
	if (strcmp(name, "state") == 0)
		return one(vals, scratch, 0, "available");
	if (strcmp(name, "cidr-block") == 0 || strcmp(name, "cidr") == 0 ||
	    strcmp(name, "cidrBlock") == 0) {
		subnet_cidr(scratch[0], res);
		return one(vals, scratch, 0, scratch[0]);
	}
	return -1;
}

json_t *lc_subnet(struct lc_cloud *c, const char *id)
{
	return json_object_get(lc_table(c, "subnets"), id);
}

static int describe_subnets(struct lc_req *r)
{
	struct lc_filters f;
	const char **ids, *k;
	size_t nids = lc_q_list(r, "SubnetId", &ids);
	json_t *v, *subnets = lc_table(r->c, "subnets");
	int rc = 0;

	if (lc_ids_exist(r, ids, nids, "subnets", "InvalidSubnetID.NotFound", "subnet ID") < 0 ||
	    lc_filters_parse(r, &f, subnet_values) < 0) {
		free(ids);
		return -1;
	}
	lc_xo(r->out, "subnetSet");
	json_object_foreach(subnets, k, v)
	{
		char cidr[32];
		long long prefix = json_integer_value(json_object_get(v, "prefix"));
		int m = lc_filters_match(r, &f, v, subnet_values);
		if (m < 0) {
			rc = -1;
			break;
		}
		if (!m || (nids && !in_list(ids, nids, k)))
			continue;
		subnet_cidr(cidr, v);
		lc_xo(r->out, "item");
		lc_xt(r->out, "subnetId", k);
		lc_xtf(r->out, "subnetArn", "arn:aws:ec2:%s:%s:subnet/%s", r->c->region,
		       r->c->account, k);
		lc_xt(r->out, "state", "available");
		lc_xt(r->out, "vpcId", lc_str(v, "vpc"));
		lc_xt(r->out, "cidrBlock", cidr);
		lc_xtf(r->out, "availableIpAddressCount", "%lld",
		       (1LL << (32 - prefix)) - 5 - lc_subnet_used(r->c, k));
		lc_xt(r->out, "availabilityZone", lc_str(v, "zone"));
		lc_xbool(r->out, "defaultForAz", 1);
		lc_xbool(r->out, "mapPublicIpOnLaunch", 0);
		lc_xt(r->out, "ownerId", r->c->account);
		lc_xtags(r->out, "tagSet", json_object_get(v, "tags"));
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "subnetSet");
	lc_filters_release(&f);
	free(ids);
	return rc;
}

/* ---- security groups ---------------------------------------------------- */

json_t *lc_group_by_name(struct lc_cloud *c, const char *name)
{
	const char *k;
	json_t *v;
	json_object_foreach(lc_table(c, "security_groups"), k, v)
	{
		if (strcmp(lc_str(v, "name"), name) == 0)
			return v;
	}
	return NULL;
}

void lc_ensure_default_group(struct lc_cloud *c)
{
	const char *vpc = lc_default_vpc(c);
	char *id;
	json_t *g;

	if (vpc == NULL || lc_group_by_name(c, "default") != NULL)
		return;
	id = lc_new_id("sg-");
	g = json_pack("{s:s, s:s, s:s, s:s, s:[], s:{}}", "id", id, "name", "default",
	              "description", "default VPC security group", "vpc", vpc, "rules", "tags");
	json_array_append_new(json_object_get(g, "rules"),
	                      json_pack("{s:s, s:b, s:s, s:i, s:i, s:s}", "id",
	                                "sgr-00000000000000001", "egress", 1, "proto", "-1", "from",
	                                -1, "to", -1, "cidr", "0.0.0.0/0"));
	json_object_set_new(lc_table(c, "security_groups"), id, g);
	free(id);
}

static int valid_group_name(const char *s)
{
	if (strlen(s) == 0 || strlen(s) > 255 || strncmp(s, "sg-", 3) == 0)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static int create_security_group(struct lc_req *r)
{
	const char *name = lc_q(r, "GroupName"), *desc = lc_q(r, "GroupDescription");
	const char *vpc = lc_q(r, "VpcId");
	json_t *g, *tags = json_object();
	char *id;

	if (name == NULL) {
		json_decref(tags);
		return lc_missing(r, "GroupName");
	}
	if (desc == NULL) {
		json_decref(tags);
		return lc_missing(r, "GroupDescription");
	}
	if (!valid_group_name(name)) {
		json_decref(tags);
		return lc_err(
		    r, 400, "InvalidParameterValue",
		    "Value (%s) for parameter GroupName is invalid. Group names may not be "
		    "empty, start with sg- or hold characters outside ASCII 32-126.",
		    name);
	}
	if (vpc && json_object_get(lc_table(r->c, "vpcs"), vpc) == NULL) {
		json_decref(tags);
		return lc_err(r, 400, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist",
		              vpc);
	}
	if (vpc == NULL)
		vpc = lc_default_vpc(r->c);
	if (lc_group_by_name(r->c, name)) {
		json_decref(tags);
		return lc_err(r, 400, "InvalidGroup.Duplicate",
		              "The security group '%s' already exists for VPC '%s'", name, vpc);
	}
	if (lc_q_tag_specs(r, "TagSpecification", "security-group", tags) < 0) {
		json_decref(tags);
		return -1;
	}
	id = lc_new_id("sg-");
	g = json_pack("{s:s, s:s, s:s, s:s, s:[], s:o}", "id", id, "name", name, "description",
	              desc, "vpc", vpc, "rules", "tags", tags);
	{
		char *rid = lc_new_id("sgr-");
		json_array_append_new(json_object_get(g, "rules"),
		                      json_pack("{s:s, s:b, s:s, s:i, s:i, s:s}", "id", rid,
		                                "egress", 1, "proto", "-1", "from", -1, "to", -1,
		                                "cidr", "0.0.0.0/0"));
		free(rid);
	}
	json_object_set_new(lc_table(r->c, "security_groups"), id, g);
	r->dirty = 1;
	lc_xt(r->out, "groupId", id);
	lc_xtf(r->out, "securityGroupArn", "arn:aws:ec2:%s:%s:security-group/%s", r->c->region,
	       r->c->account, id);
	lc_xtags(r->out, "tagSet", json_object_get(g, "tags"));
	free(id);
	return 0;
}

/* The group a request names by GroupId or GroupName, or an error. */
static json_t *request_group(struct lc_req *r)
{
	const char *id = lc_q(r, "GroupId"), *name = lc_q(r, "GroupName");
	json_t *g;

	if (id) {
		g = json_object_get(lc_table(r->c, "security_groups"), id);
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

static int delete_security_group(struct lc_req *r)
{
	json_t *g = request_group(r), *inst;
	const char *k;
	char *id;

	if (g == NULL)
		return -1;
	if (strcmp(lc_str(g, "name"), "default") == 0)
		return lc_err(r, 400, "CannotDelete",
		              "the specified group: \"%s\" name: \"default\" "
		              "cannot be deleted by a user",
		              lc_str(g, "id"));
	json_object_foreach(lc_table(r->c, "instances"), k, inst)
	{
		size_t i;
		json_t *sg;
		if (strcmp(lc_str(inst, "state"), "terminated") == 0)
			continue;
		json_array_foreach(json_object_get(inst, "groups"), i, sg)
		{
			if (strcmp(json_string_value(sg), lc_str(g, "id")) == 0)
				return lc_err(r, 400, "DependencyViolation",
				              "resource %s has a dependent object",
				              lc_str(g, "id"));
		}
	}
	id = kiln_xstrdup(lc_str(g, "id"));
	json_object_del(lc_table(r->c, "security_groups"), id);
	r->dirty = 1;
	lc_xt(r->out, "return", "true");
	lc_xt(r->out, "groupId", id);
	free(id);
	return 0;
}

/* The rules of IpPermissions.N (or the legacy top-level form) as JSON. */
static int request_rules(struct lc_req *r, json_t **out)
{
	json_t *rules = json_array();
	int *idx;
	size_t n = lc_q_indexes(r, "IpPermissions", &idx);

	if (n == 0 && lc_q(r, "IpProtocol")) {
		const char *cidr = lc_q(r, "CidrIp");
		long long from, to;
		if (lc_q_int(r, "FromPort", -1, -1, 65535, &from) < 0 ||
		    lc_q_int(r, "ToPort", -1, -1, 65535, &to) < 0) {
			json_decref(rules);
			return -1;
		}
		json_array_append_new(rules, json_pack("{s:s, s:I, s:I, s:s}", "proto",
		                                       lc_q(r, "IpProtocol"), "from", from, "to",
		                                       to, "cidr", cidr ? cidr : "0.0.0.0/0"));
	}
	for (size_t i = 0; i < n; i++) {
		const char *proto = lc_qf(r, "IpPermissions.%d.IpProtocol", idx[i]);
		char key[64], prefix[64];
		long long from = -1, to = -1;
		int *sub;
		size_t m;

		if (proto == NULL) {
			free(idx);
			json_decref(rules);
			return lc_missing(r, "IpPermissions.IpProtocol");
		}
		if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
		    strcmp(proto, "icmp") != 0 && strcmp(proto, "-1") != 0 &&
		    strcmp(proto, "all") != 0 && strspn(proto, "0123456789") != strlen(proto)) {
			free(idx);
			json_decref(rules);
			return lc_err(r, 400, "InvalidParameterValue",
			              "Invalid value '%s' for IP protocol. Unknown protocol.",
			              proto);
		}
		if (strcmp(proto, "all") == 0)
			proto = "-1";
		snprintf(key, sizeof(key), "IpPermissions.%d.FromPort", idx[i]);
		if (lc_q_int(r, key, -1, -1, 65535, &from) < 0) {
			free(idx);
			json_decref(rules);
			return -1;
		}
		snprintf(key, sizeof(key), "IpPermissions.%d.ToPort", idx[i]);
		if (lc_q_int(r, key, -1, -1, 65535, &to) < 0) {
			free(idx);
			json_decref(rules);
			return -1;
		}
		if (strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0) {
			if (from < 0 || to < 0 || from > to) {
				free(idx);
				json_decref(rules);
				return lc_err(r, 400, "InvalidParameterValue",
				              "Invalid port range %lld-%lld for protocol %s", from,
				              to, proto);
			}
		}
		snprintf(prefix, sizeof(prefix), "IpPermissions.%d.IpRanges", idx[i]);
		m = lc_q_indexes(r, prefix, &sub);
		for (size_t j = 0; j < m; j++) {
			const char *cidr = lc_qf(r, "%s.%d.CidrIp", prefix, sub[j]);
			const char *desc = lc_qf(r, "%s.%d.Description", prefix, sub[j]);
			if (cidr == NULL || strchr(cidr, '/') == NULL) {
				free(sub);
				free(idx);
				json_decref(rules);
				return lc_err(r, 400, "InvalidParameterValue",
				              "CIDR block %s is malformed", cidr ? cidr : "(none)");
			}
			json_array_append_new(
			    rules, json_pack("{s:s, s:I, s:I, s:s, s:s?}", "proto", proto, "from",
			                     from, "to", to, "cidr", cidr, "description", desc));
		}
		free(sub);
		snprintf(prefix, sizeof(prefix), "IpPermissions.%d.Groups", idx[i]);
		m = lc_q_indexes(r, prefix, &sub);
		for (size_t j = 0; j < m; j++) {
			const char *gid = lc_qf(r, "%s.%d.GroupId", prefix, sub[j]);
			if (gid == NULL ||
			    json_object_get(lc_table(r->c, "security_groups"), gid) == NULL) {
				free(sub);
				free(idx);
				json_decref(rules);
				return lc_err(r, 400, "InvalidGroup.NotFound",
				              "The security group '%s' does not exist",
				              gid ? gid : "(none)");
			}
			json_array_append_new(rules,
			                      json_pack("{s:s, s:I, s:I, s:s}", "proto", proto,
			                                "from", from, "to", to, "group", gid));
		}
		free(sub);
	}
	free(idx);
	if (json_array_size(rules) == 0) {
		json_decref(rules);
		return lc_missing(r, "IpPermissions");
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

static void rule_xml(struct lc_req *r, json_t *g, json_t *rule)
{
	lc_xo(r->out, "item");
	lc_xt(r->out, "securityGroupRuleId", lc_str(rule, "id"));
	lc_xt(r->out, "groupId", lc_str(g, "id"));
	lc_xt(r->out, "groupOwnerId", r->c->account);
	lc_xbool(r->out, "isEgress", json_is_true(json_object_get(rule, "egress")));
	lc_xt(r->out, "ipProtocol", lc_str(rule, "proto"));
	lc_xtf(r->out, "fromPort", "%lld", json_integer_value(json_object_get(rule, "from")));
	lc_xtf(r->out, "toPort", "%lld", json_integer_value(json_object_get(rule, "to")));
	lc_xt(r->out, "cidrIpv4", lc_str(rule, "cidr"));
	if (lc_str(rule, "group")) {
		lc_xo(r->out, "referencedGroupInfo");
		lc_xt(r->out, "groupId", lc_str(rule, "group"));
		lc_xt(r->out, "userId", r->c->account);
		lc_xc(r->out, "referencedGroupInfo");
	}
	lc_xt(r->out, "description", lc_str(rule, "description"));
	lc_xc(r->out, "item");
}

static int authorize(struct lc_req *r, int egress)
{
	json_t *g = request_group(r), *rules, *rule, *have, *added;
	size_t i, j;

	if (g == NULL || request_rules(r, &rules) < 0)
		return -1;
	have = json_object_get(g, "rules");
	json_array_foreach(rules, i, rule)
	{
		json_array_foreach(have, j, added)
		{
			if (same_rule(added, rule, egress)) {
				json_decref(rules);
				return lc_err(
				    r, 400, "InvalidPermission.Duplicate",
				    "the specified rule \"peer: %s, %s, from port: %lld, to "
				    "port: %lld, ALLOW\" already exists",
				    lc_str(rule, "cidr") ? lc_str(rule, "cidr")
				                         : lc_str(rule, "group"),
				    lc_str(rule, "proto"),
				    json_integer_value(json_object_get(rule, "from")),
				    json_integer_value(json_object_get(rule, "to")));
			}
		}
	}
	lc_xt(r->out, "return", "true");
	lc_xo(r->out, "securityGroupRuleSet");
	json_array_foreach(rules, i, rule)
	{
		char *rid = lc_new_id("sgr-");
		json_object_set_new(rule, "id", json_string(rid));
		json_object_set_new(rule, "egress", json_boolean(egress));
		json_array_append(have, rule);
		rule_xml(r, g, rule);
		free(rid);
	}
	lc_xc(r->out, "securityGroupRuleSet");
	json_decref(rules);
	r->dirty = 1;
	return 0;
}

static int authorize_ingress(struct lc_req *r)
{
	return authorize(r, 0);
}

static int authorize_egress(struct lc_req *r)
{
	return authorize(r, 1);
}

static int revoke_ingress(struct lc_req *r)
{
	json_t *g = request_group(r), *rules, *rule, *have, *h;
	size_t i, j;
	struct kiln_buf unknown = KILN_BUF_INIT, revoked = KILN_BUF_INIT;

	if (g == NULL || request_rules(r, &rules) < 0)
		return -1;
	have = json_object_get(g, "rules");
	json_array_foreach(rules, i, rule)
	{
		int found = 0;
		for (j = 0; j < json_array_size(have) && !found; j++) {
			h = json_array_get(have, j);
			if (same_rule(h, rule, 0)) {
				struct kiln_buf *save = r->out;
				r->out = &revoked;
				rule_xml(r, g, h);
				r->out = save;
				json_array_remove(have, j);
				found = 1;
			}
		}
		if (!found) {
			kiln_buf_puts(&unknown, "<item>");
			lc_xt(&unknown, "ipProtocol", lc_str(rule, "proto"));
			lc_xtf(&unknown, "fromPort", "%lld",
			       json_integer_value(json_object_get(rule, "from")));
			lc_xtf(&unknown, "toPort", "%lld",
			       json_integer_value(json_object_get(rule, "to")));
			if (lc_str(rule, "cidr")) {
				kiln_buf_puts(&unknown, "<ipRanges><item>");
				lc_xt(&unknown, "cidrIp", lc_str(rule, "cidr"));
				kiln_buf_puts(&unknown, "</item></ipRanges>");
			}
			kiln_buf_puts(&unknown, "</item>");
		}
	}
	lc_xt(r->out, "return", "true");
	if (unknown.size) {
		lc_xo(r->out, "unknownIpPermissionSet");
		kiln_buf_put(r->out, unknown.ptr, unknown.size);
		lc_xc(r->out, "unknownIpPermissionSet");
	}
	lc_xo(r->out, "revokedSecurityGroupRuleSet");
	if (revoked.size)
		kiln_buf_put(r->out, revoked.ptr, revoked.size);
	lc_xc(r->out, "revokedSecurityGroupRuleSet");
	kiln_buf_release(&unknown);
	kiln_buf_release(&revoked);
	json_decref(rules);
	r->dirty = 1;
	return 0;
}

/* ipPermissions / ipPermissionsEgress: rules grouped by protocol and ports. */
static void permissions_xml(struct lc_req *r, json_t *g, int egress, const char *name)
{
	json_t *rules = json_object_get(g, "rules"), *a, *b;
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
			       json_integer_value(json_object_get(a, "from")));
			lc_xtf(r->out, "toPort", "%lld",
			       json_integer_value(json_object_get(a, "to")));
		}
		for (int pass = 0; pass < 2; pass++) {
			lc_xo(r->out, pass == 0 ? "groups" : "ipRanges");
			for (size_t j = i; j < n; j++) {
				b = json_array_get(rules, j);
				if (json_is_true(json_object_get(b, "egress")) != egress ||
				    strcmp(lc_str(a, "proto"), lc_str(b, "proto")) != 0 ||
				    json_integer_value(json_object_get(a, "from")) !=
				        json_integer_value(json_object_get(b, "from")) ||
				    json_integer_value(json_object_get(a, "to")) !=
				        json_integer_value(json_object_get(b, "to")))
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
		kiln_buf_puts(r->out, "<ipv6Ranges/><prefixListIds/>");
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, name);
	free(done);
}

static int group_values(json_t *res, const char *name, const char **vals, int max,
                        char scratch[][64])
{
	(void)max;
	if (strcmp(name, "group-id") == 0)
		return one(vals, scratch, 0, lc_str(res, "id"));
	if (strcmp(name, "group-name") == 0)
		return one(vals, scratch, 0, lc_str(res, "name"));
	if (strcmp(name, "vpc-id") == 0)
		return one(vals, scratch, 0, lc_str(res, "vpc"));
	if (strcmp(name, "description") == 0)
		return one(vals, scratch, 0, lc_str(res, "description"));
	if (strcmp(name, "owner-id") == 0)
		return one(vals, scratch, 0, "000000000000");
	return -1;
}

static int describe_security_groups(struct lc_req *r)
{
	struct lc_filters f;
	const char **ids, **names, *k;
	size_t nids = lc_q_list(r, "GroupId", &ids), nnames = lc_q_list(r, "GroupName", &names);
	json_t *v, *groups = lc_table(r->c, "security_groups");
	int rc = 0;

	rc = lc_ids_exist(r, ids, nids, "security_groups", "InvalidGroup.NotFound",
	                  "security group");
	for (size_t i = 0; i < nnames && rc == 0; i++)
		if (lc_group_by_name(r->c, names[i]) == NULL)
			rc = lc_err(r, 400, "InvalidGroup.NotFound",
			            "The security group '%s' does not exist in default VPC '%s'",
			            names[i], lc_default_vpc(r->c));
	if (rc == 0 && lc_filters_parse(r, &f, group_values) == 0) {
		lc_xo(r->out, "securityGroupInfo");
		json_object_foreach(groups, k, v)
		{
			int m = lc_filters_match(r, &f, v, group_values);
			if (m < 0) {
				rc = -1;
				break;
			}
			if (!m || (nids && !in_list(ids, nids, k)) ||
			    (nnames && !in_list(names, nnames, lc_str(v, "name"))))
				continue;
			lc_xo(r->out, "item");
			lc_xt(r->out, "ownerId", r->c->account);
			lc_xt(r->out, "groupId", k);
			lc_xt(r->out, "groupName", lc_str(v, "name"));
			lc_xt(r->out, "groupDescription", lc_str(v, "description"));
			lc_xt(r->out, "vpcId", lc_str(v, "vpc"));
			lc_xtf(r->out, "securityGroupArn", "arn:aws:ec2:%s:%s:security-group/%s",
			       r->c->region, r->c->account, k);
			permissions_xml(r, v, 0, "ipPermissions");
			permissions_xml(r, v, 1, "ipPermissionsEgress");
			lc_xtags(r->out, "tagSet", json_object_get(v, "tags"));
			lc_xc(r->out, "item");
		}
		lc_xc(r->out, "securityGroupInfo");
		lc_filters_release(&f);
	} else {
		rc = -1;
	}
	free(ids);
	free(names);
	return rc;
}

/* ---- key pairs ---------------------------------------------------------- */

static int run_quiet(char *const argv[], struct kiln_buf *out)
{
	struct kiln_buf err = KILN_BUF_INIT;
	int status = 0, rc = kiln_proc_run(&status, out, &err, argv);

	if (rc == 0 && status != 0) {
		kiln_buf_rtrim(&err);
		rc = kiln_error_set(KILN_ERROR, "%s: %s", argv[0], err.ptr ? err.ptr : "failed");
	}
	kiln_buf_release(&err);
	return rc;
}

/* "MD5:aa:bb..." or "SHA256:abc..." from ssh-keygen -l, as EC2 prints fingerprints. */
static int fingerprint(char **out, const char *pub_path, const char *hash)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char *argv[] = {"ssh-keygen", "-l", "-E", (char *)hash, "-f", (char *)pub_path, NULL};
	char *sp, *colon;

	if (run_quiet(argv, &b) < 0) {
		kiln_buf_release(&b);
		return -1;
	}
	/* "256 SHA256:xxxx comment (ED25519)" */
	sp = b.ptr ? strchr(b.ptr, ' ') : NULL;
	colon = sp ? strchr(sp + 1, ':') : NULL;
	if (colon == NULL) {
		kiln_buf_release(&b);
		return kiln_error_set(KILN_EINVAL, "not a public key");
	}
	sp = strchr(colon + 1, ' ');
	if (sp)
		*sp = '\0';
	if (strcmp(hash, "sha256") == 0)
		*out = kiln_xasprintf("%s=", colon + 1);
	else
		*out = kiln_xstrdup(colon + 1);
	kiln_buf_release(&b);
	return 0;
}

static char *colon_hex(const unsigned char *d, unsigned n)
{
	char *out = kiln_xmalloc(n * 3 + 1);
	for (unsigned i = 0; i < n; i++)
		snprintf(out + i * 3, 4, "%02x%s", d[i], i + 1 < n ? ":" : "");
	return out;
}

/* EC2's fingerprint of an RSA key pair it created: SHA-1 of the PKCS#8 DER private key. */
static int rsa_created_fingerprint(char **out, const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	PKCS8_PRIV_KEY_INFO *p8 = pkey ? EVP_PKEY2PKCS8(pkey) : NULL;
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
	int rc = -1;

	if (len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha1(), NULL) == 1) {
		*out = colon_hex(md, mdlen);
		rc = 0;
	}
	if (der)
		OPENSSL_clear_free(der, (size_t)len);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return rc < 0 ? kiln_error_set(KILN_ERROR, "cannot fingerprint the RSA key") : 0;
}

/* EC2's fingerprint of an imported RSA key: MD5 of the DER public key (SubjectPublicKeyInfo). */
static int rsa_imported_fingerprint(char **out, const char *pub_path)
{
	struct kiln_buf pem = KILN_BUF_INIT;
	char *argv[] = {"ssh-keygen", "-e", "-m", "PKCS8", "-f", (char *)pub_path, NULL};
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int len = -1, rc = -1;

	if (run_quiet(argv, &pem) == 0 && (bio = BIO_new_mem_buf(pem.ptr, -1)) != NULL &&
	    (pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) != NULL &&
	    (len = i2d_PUBKEY(pkey, &der)) > 0 &&
	    EVP_Digest(der, (size_t)len, md, &mdlen, EVP_md5(), NULL) == 1) {
		*out = colon_hex(md, mdlen);
		rc = 0;
	}
	OPENSSL_free(der);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	kiln_buf_release(&pem);
	return rc < 0 ? kiln_error_set(KILN_EINVAL, "not an RSA public key") : 0;
}

static int valid_key_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static void key_pair_xml(struct lc_req *r, json_t *k, int with_public)
{
	lc_xt(r->out, "keyPairId", lc_str(k, "id"));
	lc_xt(r->out, "keyName", lc_str(k, "name"));
	lc_xt(r->out, "keyFingerprint", lc_str(k, "fingerprint"));
	lc_xt(r->out, "keyType", lc_str(k, "type"));
	if (with_public)
		lc_xt(r->out, "publicKey", lc_str(k, "public_key"));
	lc_xt(r->out, "createTime", lc_str(k, "created"));
	lc_xtags(r->out, "tagSet", json_object_get(k, "tags"));
}

static int create_key_pair(struct lc_req *r)
{
	const char *name = lc_q(r, "KeyName"), *type = lc_q(r, "KeyType");
	const char *format = lc_q(r, "KeyFormat");
	char *dir = NULL, *priv = NULL, *pub = NULL, *fp = NULL, *id = NULL;
	struct kiln_buf pk = KILN_BUF_INIT, pubtext = KILN_BUF_INIT;
	json_t *tags = json_object(), *k;
	char created[32];
	int rc = -1;

	if (name == NULL) {
		json_decref(tags);
		return lc_missing(r, "KeyName");
	}
	if (!valid_key_name(name)) {
		json_decref(tags);
		return lc_err(r, 400, "InvalidParameterValue",
		              "Value (%s) for parameter KeyName is invalid", name);
	}
	if (type == NULL)
		type = "rsa";
	if (strcmp(type, "rsa") != 0 && strcmp(type, "ed25519") != 0) {
		json_decref(tags);
		return lc_err(
		    r, 400, "InvalidParameterValue",
		    "Value (%s) for parameter KeyType is invalid. Expected rsa or ed25519.", type);
	}
	if (format && strcmp(format, "pem") != 0) {
		json_decref(tags);
		return lc_err(r, 400, "InvalidParameterValue",
		              "Value (%s) for parameter KeyFormat is invalid: the local cloud "
		              "returns pem keys only",
		              format);
	}
	if (json_object_get(lc_table(r->c, "key_pairs"), name)) {
		json_decref(tags);
		return lc_err(r, 400, "InvalidKeyPair.Duplicate",
		              "The keypair '%s' already exists.", name);
	}
	if (lc_q_tag_specs(r, "TagSpecification", "key-pair", tags) < 0) {
		json_decref(tags);
		return -1;
	}
	{
		char *tmp = kiln_path_join(r->c->state_dir, "tmp");
		char *rnd = kiln_id_random("key-", 12);
		kiln_mkdir_p(tmp, 0700);
		dir = kiln_path_join(tmp, rnd);
		free(tmp);
		free(rnd);
	}
	if (kiln_mkdir_p(dir, 0700) < 0)
		goto out;
	priv = kiln_path_join(dir, "key");
	pub = kiln_xasprintf("%s.pub", priv);
	{
		/* rsa in PEM (PKCS#1) and ed25519 in OpenSSH format, as EC2 hands them out */
		char *argv_rsa[] = {"ssh-keygen", "-q",         "-t",  "rsa", "-b",
		                    "2048",       "-m",         "PEM", "-N",  "",
		                    "-C",         (char *)name, "-f",  priv,  NULL};
		char *argv_ed[] = {"ssh-keygen", "-q",         "-t", "ed25519", "-N", "",
		                   "-C",         (char *)name, "-f", priv,      NULL};
		if (run_quiet(strcmp(type, "rsa") == 0 ? argv_rsa : argv_ed, NULL) < 0)
			goto out;
	}
	if (kiln_file_read(&pk, priv) < 0 || kiln_file_read(&pubtext, pub) < 0)
		goto out;
	if (strcmp(type, "rsa") == 0 ? rsa_created_fingerprint(&fp, pk.ptr) < 0
	                             : fingerprint(&fp, pub, "sha256") < 0)
		goto out;
	kiln_buf_rtrim(&pubtext);
	kiln_buf_rtrim(&pk);
	id = lc_new_id("key-");
	lc_now_iso(created);
	k = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "id", id, "name", name, "type", type,
	              "fingerprint", fp, "public_key", pubtext.ptr, "created", created, "tags",
	              tags);
	json_object_set_new(lc_table(r->c, "key_pairs"), name, k);
	r->dirty = 1;
	lc_xt(r->out, "keyName", name);
	lc_xt(r->out, "keyFingerprint", fp);
	lc_xt(r->out, "keyMaterial", pk.ptr);
	lc_xt(r->out, "keyPairId", id);
	lc_xtags(r->out, "tagSet", tags);
	rc = 0;
out:
	if (rc < 0 && !r->code[0])
		lc_err(r, 500, "InternalError", "creating the key pair failed: %s",
		       kiln_error_last());
	if (dir)
		kiln_rm_rf(dir);
	kiln_buf_wipe(&pk);
	kiln_buf_release(&pk);
	kiln_buf_release(&pubtext);
	json_decref(tags);
	free(dir);
	free(priv);
	free(pub);
	free(fp);
	free(id);
	return rc;
}

static int import_key_pair(struct lc_req *r)
{
	const char *name = lc_q(r, "KeyName"), *material = lc_q(r, "PublicKeyMaterial");
	json_t *tags = json_object(), *k;
	struct kiln_buf decoded = KILN_BUF_INIT;
	char *dir = NULL, *pub = NULL, *fp = NULL, *id = NULL, *line = NULL;
	const char *type;
	char created[32];
	int rc = -1;

	if (name == NULL || material == NULL) {
		json_decref(tags);
		return lc_missing(r, name == NULL ? "KeyName" : "PublicKeyMaterial");
	}
	if (!valid_key_name(name)) {
		json_decref(tags);
		return lc_err(r, 400, "InvalidParameterValue",
		              "Value (%s) for parameter KeyName is invalid", name);
	}
	if (json_object_get(lc_table(r->c, "key_pairs"), name)) {
		json_decref(tags);
		return lc_err(r, 400, "InvalidKeyPair.Duplicate",
		              "The keypair '%s' already exists.", name);
	}
	if (lc_q_tag_specs(r, "TagSpecification", "key-pair", tags) < 0) {
		json_decref(tags);
		return -1;
	}
	if (kiln_aws_base64_decode(&decoded, material) < 0 || decoded.size == 0) {
		kiln_error_clear();
		lc_err(r, 400, "InvalidKey.Format",
		       "Key is not in valid OpenSSH public key format");
		goto out;
	}
	line = kiln_xstrndup(decoded.ptr, decoded.size);
	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, "ssh-rsa ", 8) == 0)
		type = "rsa";
	else if (strncmp(line, "ssh-ed25519 ", 12) == 0)
		type = "ed25519";
	else {
		lc_err(r, 400, "InvalidKey.Format",
		       "Key is not in valid OpenSSH public key format (ssh-rsa or ssh-ed25519)");
		goto out;
	}
	{
		char *tmp = kiln_path_join(r->c->state_dir, "tmp");
		char *rnd = kiln_id_random("imp-", 12);
		kiln_mkdir_p(tmp, 0700);
		dir = kiln_path_join(tmp, rnd);
		free(tmp);
		free(rnd);
	}
	pub = kiln_path_join(dir, "key.pub");
	if (kiln_mkdir_p(dir, 0700) < 0 ||
	    kiln_file_write_atomic(pub, line, strlen(line), 0600) < 0)
		goto out;
	if (strcmp(type, "rsa") == 0 ? rsa_imported_fingerprint(&fp, pub) < 0
	                             : fingerprint(&fp, pub, "sha256") < 0) {
		lc_err(r, 400, "InvalidKey.Format",
		       "Key is not in valid OpenSSH public key format");
		goto out;
	}
	id = lc_new_id("key-");
	lc_now_iso(created);
	k = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "id", id, "name", name, "type", type,
	              "fingerprint", fp, "public_key", line, "created", created, "tags", tags);
	json_object_set_new(lc_table(r->c, "key_pairs"), name, k);
	r->dirty = 1;
	lc_xt(r->out, "keyFingerprint", fp);
	lc_xt(r->out, "keyName", name);
	lc_xt(r->out, "keyPairId", id);
	lc_xtags(r->out, "tagSet", tags);
	rc = 0;
out:
	if (rc < 0 && !r->code[0])
		lc_err(r, 500, "InternalError", "importing the key pair failed: %s",
		       kiln_error_last());
	if (dir)
		kiln_rm_rf(dir);
	json_decref(tags);
	kiln_buf_release(&decoded);
	free(line);
	free(dir);
	free(pub);
	free(fp);
	free(id);
	return rc;
}

json_t *lc_key_pair(struct lc_cloud *c, const char *name)
{
	return json_object_get(lc_table(c, "key_pairs"), name);
}

static int key_values(json_t *res, const char *name, const char **vals, int max, char scratch[][64])
{
	(void)max;
	if (strcmp(name, "key-name") == 0)
		return one(vals, scratch, 0, lc_str(res, "name"));
	if (strcmp(name, "key-pair-id") == 0)
		return one(vals, scratch, 0, lc_str(res, "id"));
	if (strcmp(name, "fingerprint") == 0)
		return one(vals, scratch, 0, lc_str(res, "fingerprint"));
	if (strcmp(name, "key-type") == 0)
		return one(vals, scratch, 0, lc_str(res, "type"));
	return -1;
}

static int describe_key_pairs(struct lc_req *r)
{
	struct lc_filters f;
	const char **names, **ids, *k, *inc = lc_q(r, "IncludePublicKey");
	size_t nnames = lc_q_list(r, "KeyName", &names), nids = lc_q_list(r, "KeyPairId", &ids);
	json_t *v, *keys = lc_table(r->c, "key_pairs");
	int rc = 0;

	for (size_t i = 0; i < nnames && rc == 0; i++)
		if (json_object_get(keys, names[i]) == NULL)
			rc = lc_err(r, 400, "InvalidKeyPair.NotFound",
			            "The key pair '%s' does not exist", names[i]);
	for (size_t i = 0; i < nids && rc == 0; i++) {
		const char *kind = NULL;
		if (lc_find_any(r->c, ids[i], &kind) == NULL || strcmp(kind, "key_pairs") != 0)
			rc = lc_err(r, 400, "InvalidKeyPair.NotFound",
			            "The key pair '%s' does not exist", ids[i]);
	}
	if (rc == 0 && lc_filters_parse(r, &f, key_values) == 0) {
		lc_xo(r->out, "keySet");
		json_object_foreach(keys, k, v)
		{
			int m = lc_filters_match(r, &f, v, key_values);
			if (m < 0) {
				rc = -1;
				break;
			}
			if (!m || (nnames && !in_list(names, nnames, k)) ||
			    (nids && !in_list(ids, nids, lc_str(v, "id"))))
				continue;
			lc_xo(r->out, "item");
			key_pair_xml(r, v, inc && strcmp(inc, "true") == 0);
			lc_xc(r->out, "item");
		}
		lc_xc(r->out, "keySet");
		lc_filters_release(&f);
	} else {
		rc = -1;
	}
	free(names);
	free(ids);
	return rc;
}

static int delete_key_pair(struct lc_req *r)
{
	const char *name = lc_q(r, "KeyName"), *id = lc_q(r, "KeyPairId"), *k;
	json_t *keys = lc_table(r->c, "key_pairs"), *v, *found = NULL;
	char *found_id = NULL;

	if (name == NULL && id == NULL)
		return lc_missing(r, "KeyName");
	json_object_foreach(keys, k, v)
	{
		if ((name && strcmp(k, name) == 0) || (id && strcmp(lc_str(v, "id"), id) == 0))
			found = v;
	}
	if (found == NULL && id != NULL)
		return lc_err(r, 400, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist",
		              id);
	lc_xt(r->out, "return", "true");
	if (found) {
		found_id = kiln_xstrdup(lc_str(found, "id"));
		json_object_del(keys, lc_str(found, "name"));
		lc_xt(r->out, "keyPairId", found_id);
		free(found_id);
		r->dirty = 1;
	}
	return 0;
}

/* ---- tags --------------------------------------------------------------- */

static const char *not_found_code(const char *id)
{
	static const struct {
		const char *prefix, *code;
	} codes[] = {{"i-", "InvalidInstanceID.NotFound"},
	             {"ami-", "InvalidAMIID.NotFound"},
	             {"sg-", "InvalidGroup.NotFound"},
	             {"snap-", "InvalidSnapshot.NotFound"},
	             {"lt-", "InvalidLaunchTemplateId.NotFound"},
	             {"key-", "InvalidKeyPair.NotFound"},
	             {"vpc-", "InvalidVpcID.NotFound"},
	             {"subnet-", "InvalidSubnetID.NotFound"}};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strncmp(id, codes[i].prefix, strlen(codes[i].prefix)) == 0)
			return codes[i].code;
	return "InvalidID";
}

const char *lc_resource_type(const char *kind)
{
	static const char *const map[][2] = {
	    {"images", "image"},       {"snapshots", "snapshot"},
	    {"instances", "instance"}, {"security_groups", "security-group"},
	    {"key_pairs", "key-pair"}, {"launch_templates", "launch-template"},
	    {"vpcs", "vpc"},           {"subnets", "subnet"}};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i][0], kind) == 0)
			return map[i][1];
	return kind;
}

static int tagged_resources(struct lc_req *r, json_t **out)
{
	const char **ids;
	size_t n = lc_q_list(r, "ResourceId", &ids);
	json_t *list = json_array();

	if (n == 0) {
		free(ids);
		json_decref(list);
		return lc_missing(r, "ResourceId");
	}
	for (size_t i = 0; i < n; i++) {
		const char *kind;
		json_t *res = lc_find_any(r->c, ids[i], &kind);
		if (res == NULL) {
			lc_err(r, 400, not_found_code(ids[i]), "The ID '%s' does not exist",
			       ids[i]);
			free(ids);
			json_decref(list);
			return -1;
		}
		json_array_append(list, res);
	}
	free(ids);
	*out = list;
	return 0;
}

static int create_tags(struct lc_req *r)
{
	json_t *list, *tags, *res;
	size_t i;

	if (tagged_resources(r, &list) < 0)
		return -1;
	if (lc_q_tags(r, "Tag", &tags) < 0) {
		json_decref(list);
		return -1;
	}
	if (json_object_size(tags) == 0) {
		json_decref(list);
		json_decref(tags);
		return lc_missing(r, "Tag");
	}
	json_array_foreach(list, i, res)
	{
		json_t *have = json_object_get(res, "tags"), *merged;
		if (have == NULL) {
			have = json_object();
			json_object_set_new(res, "tags", have);
		}
		merged = json_copy(have);
		json_object_update(merged, tags);
		if (json_object_size(merged) > 50) {
			json_decref(merged);
			json_decref(list);
			json_decref(tags);
			return lc_err(r, 400, "TagLimitExceeded",
			              "The maximum number of tags per resource is 50");
		}
		json_decref(merged);
	}
	json_array_foreach(list, i, res) json_object_update(json_object_get(res, "tags"), tags);
	json_decref(list);
	json_decref(tags);
	r->dirty = 1;
	lc_xt(r->out, "return", "true");
	return 0;
}

static int delete_tags(struct lc_req *r)
{
	json_t *list, *res;
	int *idx;
	size_t i, n;

	if (tagged_resources(r, &list) < 0)
		return -1;
	n = lc_q_indexes(r, "Tag", &idx);
	json_array_foreach(list, i, res)
	{
		json_t *tags = json_object_get(res, "tags");
		if (n == 0) {
			json_object_clear(tags);
			continue;
		}
		for (size_t j = 0; j < n; j++) {
			const char *k = lc_qf(r, "Tag.%d.Key", idx[j]);
			const char *v = lc_qf(r, "Tag.%d.Value", idx[j]);
			const char *have = k ? json_string_value(json_object_get(tags, k)) : NULL;
			if (have && (v == NULL || strcmp(v, have) == 0))
				json_object_del(tags, k);
		}
	}
	free(idx);
	json_decref(list);
	r->dirty = 1;
	lc_xt(r->out, "return", "true");
	return 0;
}

struct tag_row {
	const char *id, *type, *key, *value;
};

static int describe_tags(struct lc_req *r)
{
	static const char *const kinds[] = {"instances",       "images",           "snapshots",
	                                    "security_groups", "launch_templates", "vpcs",
	                                    "subnets",         "key_pairs"};
	struct lc_filters f;
	struct tag_row *rows = NULL;
	size_t nrows = 0, first, count;
	int rc = 0;

	if (lc_filters_parse(r, &f, NULL) < 0)
		return -1;
	for (size_t t = 0; t < sizeof(kinds) / sizeof(kinds[0]); t++) {
		const char *k, *tk;
		json_t *res, *tv;
		json_object_foreach(lc_table(r->c, kinds[t]), k, res)
		{
			json_object_foreach(json_object_get(res, "tags"), tk, tv)
			{
				const char *id =
				    strcmp(kinds[t], "key_pairs") == 0 ? lc_str(res, "id") : k;
				struct tag_row row = {id, lc_resource_type(kinds[t]), tk,
				                      json_string_value(tv)};
				int keep = 1;
				for (size_t i = 0; i < f.n && keep; i++) {
					const char *val = NULL;
					int hit = 0;
					if (strcmp(f.f[i].name, "resource-id") == 0)
						val = row.id;
					else if (strcmp(f.f[i].name, "resource-type") == 0)
						val = row.type;
					else if (strcmp(f.f[i].name, "key") == 0)
						val = row.key;
					else if (strcmp(f.f[i].name, "value") == 0)
						val = row.value;
					else if (strncmp(f.f[i].name, "tag:", 4) == 0) {
						val = json_string_value(json_object_get(
						    json_object_get(res, "tags"), f.f[i].name + 4));
					} else {
						rc = lc_err(r, 400, "InvalidParameterValue",
						            "The filter '%s' is invalid",
						            f.f[i].name);
						goto out;
					}
					for (size_t j = 0; j < f.f[i].nvalues && !hit; j++)
						hit = val && lc_wildcard(f.f[i].values[j], val);
					keep = hit;
				}
				if (!keep)
					continue;
				rows = kiln_xrealloc(rows, (nrows + 1) * sizeof(*rows));
				rows[nrows++] = row;
			}
		}
	}
	if (lc_page(r, nrows, &first, &count, 1000) < 0) {
		rc = -1;
		goto out;
	}
	lc_xo(r->out, "tagSet");
	for (size_t i = first; i < first + count; i++) {
		lc_xo(r->out, "item");
		lc_xt(r->out, "resourceId", rows[i].id);
		lc_xt(r->out, "resourceType", rows[i].type);
		lc_xt(r->out, "key", rows[i].key);
		lc_xt(r->out, "value", rows[i].value);
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "tagSet");
	lc_next_token(r, first, count, nrows);
out:
	free(rows);
	lc_filters_release(&f);
	return rc;
}

/* ---- launch templates --------------------------------------------------- */

/* LaunchTemplateData.* into the stored form, on top of `base` (a copy). */
static int template_data(struct lc_req *r, json_t *base, json_t **out)
{
	static const char *const scalars[] = {"ImageId", "InstanceType", "KeyName", "UserData",
	                                      "InstanceInitiatedShutdownBehavior"};
	json_t *d = base ? json_deep_copy(base) : json_object();
	const char **list;
	size_t n;
	int *idx;

	for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		const char *v = lc_qf(r, "LaunchTemplateData.%s", scalars[i]);
		if (v)
			json_object_set_new(d, scalars[i], json_string(v));
	}
	n = lc_q_list(r, "LaunchTemplateData.SecurityGroupId", &list);
	if (n) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_string(list[i]));
		json_object_set_new(d, "SecurityGroupIds", a);
	}
	free(list);
	n = lc_q_list(r, "LaunchTemplateData.SecurityGroup", &list);
	if (n) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_string(list[i]));
		json_object_set_new(d, "SecurityGroups", a);
	}
	free(list);
	n = lc_q_indexes(r, "LaunchTemplateData.NetworkInterface", &idx);
	for (size_t i = 0; i < n; i++) {
		const char *subnet =
		    lc_qf(r, "LaunchTemplateData.NetworkInterface.%d.SubnetId", idx[i]);
		if (subnet)
			json_object_set_new(d, "SubnetId", json_string(subnet));
	}
	free(idx);
	n = lc_q_indexes(r, "LaunchTemplateData.TagSpecification", &idx);
	if (n) {
		json_t *specs = json_array();
		for (size_t i = 0; i < n; i++) {
			const char *type =
			    lc_qf(r, "LaunchTemplateData.TagSpecification.%d.ResourceType", idx[i]);
			char prefix[96];
			json_t *tags;
			snprintf(prefix, sizeof(prefix),
			         "LaunchTemplateData.TagSpecification.%d.Tag", idx[i]);
			if (lc_q_tags(r, prefix, &tags) < 0) {
				free(idx);
				json_decref(specs);
				json_decref(d);
				return -1;
			}
			json_array_append_new(specs,
			                      json_pack("{s:s, s:o}", "ResourceType",
			                                type ? type : "instance", "Tags", tags));
		}
		json_object_set_new(d, "TagSpecifications", specs);
	}
	free(idx);
	*out = d;
	return 0;
}

static void template_data_xml(struct lc_req *r, json_t *d)
{
	json_t *v;
	size_t i;

	lc_xo(r->out, "launchTemplateData");
	lc_xt(r->out, "imageId", lc_str(d, "ImageId"));
	lc_xt(r->out, "instanceType", lc_str(d, "InstanceType"));
	lc_xt(r->out, "keyName", lc_str(d, "KeyName"));
	lc_xt(r->out, "userData", lc_str(d, "UserData"));
	lc_xt(r->out, "instanceInitiatedShutdownBehavior",
	      lc_str(d, "InstanceInitiatedShutdownBehavior"));
	if (json_object_get(d, "SecurityGroupIds")) {
		lc_xo(r->out, "securityGroupIdSet");
		json_array_foreach(json_object_get(d, "SecurityGroupIds"), i, v)
		    lc_xt(r->out, "item", json_string_value(v));
		lc_xc(r->out, "securityGroupIdSet");
	}
	if (json_object_get(d, "SecurityGroups")) {
		lc_xo(r->out, "securityGroupSet");
		json_array_foreach(json_object_get(d, "SecurityGroups"), i, v)
		    lc_xt(r->out, "item", json_string_value(v));
		lc_xc(r->out, "securityGroupSet");
	}
	if (lc_str(d, "SubnetId")) {
		lc_xo(r->out, "networkInterfaceSet");
		lc_xo(r->out, "item");
		lc_xt(r->out, "deviceIndex", "0");
		lc_xt(r->out, "subnetId", lc_str(d, "SubnetId"));
		lc_xc(r->out, "item");
		lc_xc(r->out, "networkInterfaceSet");
	}
	if (json_object_get(d, "TagSpecifications")) {
		lc_xo(r->out, "tagSpecificationSet");
		json_array_foreach(json_object_get(d, "TagSpecifications"), i, v)
		{
			lc_xo(r->out, "item");
			lc_xt(r->out, "resourceType", lc_str(v, "ResourceType"));
			lc_xtags(r->out, "tagSet", json_object_get(v, "Tags"));
			lc_xc(r->out, "item");
		}
		lc_xc(r->out, "tagSpecificationSet");
	}
	lc_xc(r->out, "launchTemplateData");
}

static void template_xml(struct lc_req *r, const char *name, json_t *t)
{
	lc_xo(r->out, name);
	lc_xt(r->out, "launchTemplateId", lc_str(t, "id"));
	lc_xt(r->out, "launchTemplateName", lc_str(t, "name"));
	lc_xt(r->out, "createTime", lc_str(t, "created"));
	lc_xtf(r->out, "createdBy", "arn:aws:iam::%s:root", r->c->account);
	lc_xtf(r->out, "defaultVersionNumber", "%lld",
	       json_integer_value(json_object_get(t, "default_version")));
	lc_xtf(r->out, "latestVersionNumber", "%lld",
	       (long long)json_array_size(json_object_get(t, "versions")));
	lc_xtags(r->out, "tagSet", json_object_get(t, "tags"));
	lc_xc(r->out, name);
}

static void version_xml(struct lc_req *r, const char *name, json_t *t, json_t *v)
{
	long long number = json_integer_value(json_object_get(v, "number"));

	lc_xo(r->out, name);
	lc_xt(r->out, "launchTemplateId", lc_str(t, "id"));
	lc_xt(r->out, "launchTemplateName", lc_str(t, "name"));
	lc_xtf(r->out, "versionNumber", "%lld", number);
	lc_xt(r->out, "versionDescription", lc_str(v, "description"));
	lc_xt(r->out, "createTime", lc_str(v, "created"));
	lc_xtf(r->out, "createdBy", "arn:aws:iam::%s:root", r->c->account);
	lc_xbool(r->out, "defaultVersion",
	         number == json_integer_value(json_object_get(t, "default_version")));
	template_data_xml(r, json_object_get(v, "data"));
	lc_xc(r->out, name);
}

static int valid_template_name(const char *s)
{
	size_t n = strlen(s);
	if (n < 3 || n > 128)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789()./_-") ==
	       n;
}

json_t *lc_template(struct lc_req *r, const char *id, const char *name)
{
	const char *k;
	json_t *t;

	if (id) {
		t = json_object_get(lc_table(r->c, "launch_templates"), id);
		if (t == NULL)
			lc_err(
			    r, 400, "InvalidLaunchTemplateId.NotFound",
			    "The specified launch template, with template ID %s, does not exist.",
			    id);
		return t;
	}
	if (name) {
		json_object_foreach(lc_table(r->c, "launch_templates"), k, t)
		{
			if (strcmp(lc_str(t, "name"), name) == 0)
				return t;
		}
		lc_err(r, 400, "InvalidLaunchTemplateName.NotFoundException",
		       "The specified launch template, with template name %s, does not exist.",
		       name);
		return NULL;
	}
	lc_missing(r, "LaunchTemplateId");
	return NULL;
}

json_t *lc_template_version(struct lc_req *r, json_t *t, const char *version)
{
	json_t *versions = json_object_get(t, "versions");
	long long n;
	char *end;

	if (version == NULL || strcmp(version, "$Default") == 0)
		n = json_integer_value(json_object_get(t, "default_version"));
	else if (strcmp(version, "$Latest") == 0)
		n = (long long)json_array_size(versions);
	else {
		n = strtoll(version, &end, 10);
		if (*end != '\0' || end == version)
			n = -1;
	}
	if (n < 1 || n > (long long)json_array_size(versions)) {
		lc_err(r, 400, "InvalidLaunchTemplateId.VersionNotFound",
		       "Could not find launch template version %s for template %s", version,
		       lc_str(t, "id"));
		return NULL;
	}
	return json_array_get(versions, (size_t)(n - 1));
}

static int create_launch_template(struct lc_req *r)
{
	const char *name = lc_q(r, "LaunchTemplateName"), *k;
	json_t *t, *data, *tags = json_object(), *v;
	char created[32], *id;
	int has_data = 0;

	for (size_t i = 0; i < r->q->count; i++)
		has_data |= strncmp(r->q->params[i].key, "LaunchTemplateData.", 19) == 0;
	if (name == NULL) {
		json_decref(tags);
		return lc_missing(r, "LaunchTemplateName");
	}
	if (!has_data) {
		json_decref(tags);
		return lc_missing(r, "LaunchTemplateData");
	}
	if (!valid_template_name(name)) {
		json_decref(tags);
		return lc_err(
		    r, 400, "InvalidLaunchTemplateName.MalformedException",
		    "A launch template name must be between 3 and 128 characters, and may "
		    "contain letters, numbers, and the following characters: - ( ) . / _.'");
	}
	json_object_foreach(lc_table(r->c, "launch_templates"), k, v)
	{
		if (strcmp(lc_str(v, "name"), name) == 0) {
			json_decref(tags);
			return lc_err(r, 400, "InvalidLaunchTemplateName.AlreadyExistsException",
			              "Launch template name already in use.");
		}
	}
	if (lc_q_tag_specs(r, "TagSpecification", "launch-template", tags) < 0 ||
	    template_data(r, NULL, &data) < 0) {
		json_decref(tags);
		return -1;
	}
	id = lc_new_id("lt-");
	lc_now_iso(created);
	t = json_pack("{s:s, s:s, s:s, s:i, s:[{s:i, s:s?, s:s, s:o}], s:o}", "id", id, "name",
	              name, "created", created, "default_version", 1, "versions", "number", 1,
	              "description", lc_q(r, "VersionDescription"), "created", created, "data",
	              data, "tags", tags);
	json_object_set_new(lc_table(r->c, "launch_templates"), id, t);
	r->dirty = 1;
	template_xml(r, "launchTemplate", t);
	free(id);
	return 0;
}

static int create_launch_template_version(struct lc_req *r)
{
	json_t *t = lc_template(r, lc_q(r, "LaunchTemplateId"), lc_q(r, "LaunchTemplateName"));
	json_t *base = NULL, *data, *v;
	const char *source = lc_q(r, "SourceVersion");
	char created[32];

	if (t == NULL)
		return -1;
	if (source) {
		json_t *sv = lc_template_version(r, t, source);
		if (sv == NULL)
			return -1;
		base = json_object_get(sv, "data");
	}
	if (template_data(r, base, &data) < 0)
		return -1;
	lc_now_iso(created);
	v = json_pack("{s:I, s:s?, s:s, s:o}", "number",
	              (json_int_t)json_array_size(json_object_get(t, "versions")) + 1,
	              "description", lc_q(r, "VersionDescription"), "created", created, "data",
	              data);
	json_array_append_new(json_object_get(t, "versions"), v);
	r->dirty = 1;
	version_xml(r, "launchTemplateVersion", t, v);
	return 0;
}

static int modify_launch_template(struct lc_req *r)
{
	json_t *t = lc_template(r, lc_q(r, "LaunchTemplateId"), lc_q(r, "LaunchTemplateName"));
	const char *def = lc_q(r, "SetDefaultVersion");

	if (t == NULL)
		return -1;
	if (def) {
		json_t *v = lc_template_version(r, t, def);
		if (v == NULL)
			return -1;
		json_object_set(t, "default_version", json_object_get(v, "number"));
		r->dirty = 1;
	}
	template_xml(r, "launchTemplate", t);
	return 0;
}

static int delete_launch_template(struct lc_req *r)
{
	json_t *t = lc_template(r, lc_q(r, "LaunchTemplateId"), lc_q(r, "LaunchTemplateName"));
	char *id;

	if (t == NULL)
		return -1;
	template_xml(r, "launchTemplate", t);
	id = kiln_xstrdup(lc_str(t, "id"));
	json_object_del(lc_table(r->c, "launch_templates"), id);
	free(id);
	r->dirty = 1;
	return 0;
}

static int template_values(json_t *res, const char *name, const char **vals, int max,
                           char scratch[][64])
{
	(void)max;
	if (strcmp(name, "launch-template-name") == 0)
		return one(vals, scratch, 0, lc_str(res, "name"));
	if (strcmp(name, "create-time") == 0)
		return one(vals, scratch, 0, lc_str(res, "created"));
	return -1;
}

static int describe_launch_templates(struct lc_req *r)
{
	struct lc_filters f;
	const char **ids, **names, *k;
	size_t nids = lc_q_list(r, "LaunchTemplateId", &ids);
	size_t nnames = lc_q_list(r, "LaunchTemplateName", &names);
	json_t *v;
	int rc = 0;

	for (size_t i = 0; i < nids && rc == 0; i++)
		if (lc_template(r, ids[i], NULL) == NULL)
			rc = -1;
	for (size_t i = 0; i < nnames && rc == 0; i++)
		if (lc_template(r, NULL, names[i]) == NULL)
			rc = -1;
	if (rc == 0 && lc_filters_parse(r, &f, template_values) == 0) {
		lc_xo(r->out, "launchTemplates");
		json_object_foreach(lc_table(r->c, "launch_templates"), k, v)
		{
			int m = lc_filters_match(r, &f, v, template_values);
			if (m < 0) {
				rc = -1;
				break;
			}
			if (!m || (nids && !in_list(ids, nids, k)) ||
			    (nnames && !in_list(names, nnames, lc_str(v, "name"))))
				continue;
			template_xml(r, "item", v);
		}
		lc_xc(r->out, "launchTemplates");
		lc_filters_release(&f);
	} else {
		rc = -1;
	}
	free(ids);
	free(names);
	return rc;
}

static int describe_launch_template_versions(struct lc_req *r)
{
	const char *id = lc_q(r, "LaunchTemplateId"), *name = lc_q(r, "LaunchTemplateName");
	const char **versions;
	size_t nv = lc_q_list(r, "LaunchTemplateVersion", &versions), i;
	json_t *t, *v;

	if (id == NULL && name == NULL) {
		free(versions);
		return lc_missing(r, "LaunchTemplateId");
	}
	t = lc_template(r, id, name);
	if (t == NULL) {
		free(versions);
		return -1;
	}
	for (i = 0; i < nv; i++)
		if (lc_template_version(r, t, versions[i]) == NULL) {
			free(versions);
			return -1;
		}
	lc_xo(r->out, "launchTemplateVersionSet");
	if (nv) {
		for (i = 0; i < nv; i++)
			version_xml(r, "item", t, lc_template_version(r, t, versions[i]));
	} else {
		json_array_foreach(json_object_get(t, "versions"), i, v)
		    version_xml(r, "item", t, v);
	}
	lc_xc(r->out, "launchTemplateVersionSet");
	free(versions);
	return 0;
}

/* ---- dispatch ----------------------------------------------------------- */

static const struct {
	const char *action;
	lc_handler_fn fn;
} handlers[] = {
    {"DescribeRegions", describe_regions},
    {"DescribeAvailabilityZones", describe_zones},
    {"DescribeAccountAttributes", describe_account_attributes},
    {"DescribeVpcs", describe_vpcs},
    {"DescribeSubnets", describe_subnets},
    {"CreateSecurityGroup", create_security_group},
    {"DeleteSecurityGroup", delete_security_group},
    {"AuthorizeSecurityGroupIngress", authorize_ingress},
    {"AuthorizeSecurityGroupEgress", authorize_egress},
    {"RevokeSecurityGroupIngress", revoke_ingress},
    {"DescribeSecurityGroups", describe_security_groups},
    {"CreateKeyPair", create_key_pair},
    {"ImportKeyPair", import_key_pair},
    {"DescribeKeyPairs", describe_key_pairs},
    {"DeleteKeyPair", delete_key_pair},
    {"CreateTags", create_tags},
    {"DeleteTags", delete_tags},
    {"DescribeTags", describe_tags},
    {"CreateLaunchTemplate", create_launch_template},
    {"CreateLaunchTemplateVersion", create_launch_template_version},
    {"ModifyLaunchTemplate", modify_launch_template},
    {"DeleteLaunchTemplate", delete_launch_template},
    {"DescribeLaunchTemplates", describe_launch_templates},
    {"DescribeLaunchTemplateVersions", describe_launch_template_versions},
};

lc_handler_fn lc_ec2_handler(const char *action)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (strcmp(handlers[i].action, action) == 0)
			return handlers[i].fn;
	return NULL;
}
