/*
 * The local cloud's network as EC2 shows it: one region, three zones, one
 * default VPC on the cloud's network (the bridge) and a default subnet per
 * zone; and the account's attributes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "localcloud/describe-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/net-int.h"
#include "localcloud/xml-int.h"

/* Zone `i` of the region: "us-east-1" gives "us-east-1a" and "use1-az1". */
void lc_zone_name(const struct lc_cloud *c, int i, char out[40])
{
	snprintf(out, 40, "%s%c", c->region, 'a' + i);
}

static void zone_id(const struct lc_cloud *c, int i, char out[32])
{
	char abbrev[16] = "";
	size_t n = 0;
	const char *p = c->region;

	/* the first letter of each word and the number: "us-east-1" -> "use1" */
	abbrev[n++] = p[0];
	abbrev[n++] = p[1];
	for (p = strchr(p, '-'); p && n < sizeof(abbrev) - 2; p = strchr(p + 1, '-'))
		abbrev[n++] = p[1];
	abbrev[n] = '\0';
	snprintf(out, 32, "%s-az%d", abbrev, i + 1);
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

json_t *lc_subnet(struct lc_cloud *c, const char *id)
{
	return json_object_get(lc_table(c, "subnets"), id);
}

long long lc_subnet_used(struct lc_cloud *c, const char *subnet_id)
{
	const char *k;
	json_t *v;
	long long n = 0;

	json_object_foreach(lc_instances(c), k, v)
	{
		if (strcmp(lc_str(v, "state"), "terminated") != 0 &&
		    strcmp(lc_str(v, "subnet"), subnet_id) == 0)
			n++;
	}
	json_object_foreach(lc_table(c, "load_balancers"), k, v)
	{
		if (lc_str(v, "subnet") && strcmp(lc_str(v, "subnet"), subnet_id) == 0)
			n++;
	}
	return n;
}

json_t *lc_addresses_used(struct lc_cloud *c)
{
	json_t *used = json_object(), *v;
	const char *k;

	json_object_foreach(lc_instances(c), k, v)
	{
		if (strcmp(lc_str(v, "state"), "terminated") != 0 && lc_str(v, "ip"))
			json_object_set_new(used, lc_str(v, "ip"), json_string(k));
	}
	/* load balancers hold an address of their own on the bridge */
	json_object_foreach(lc_table(c, "load_balancers"), k, v)
	{
		if (lc_str(v, "ip"))
			json_object_set_new(used, lc_str(v, "ip"), json_string(k));
	}
	return used;
}

int lc_address_next(json_t *subnet, json_t *used, uint32_t *out)
{
	uint32_t base, first, last;

	lc_ip_parse(&base, lc_str(subnet, "cidr_base"));
	lc_subnet_range(base, (int)json_integer_value(json_object_get(subnet, "prefix")), &first,
	                &last);
	for (uint32_t ip = first; ip <= last; ip++) {
		char s[16];
		lc_ip_format(s, ip);
		if (json_object_get(used, s) == NULL) {
			*out = ip;
			return 0;
		}
	}
	return -1;
}

/*
 * One default VPC on the bridge's network and one default subnet per zone:
 * /20s on a /16 as AWS does, quarters of smaller networks.
 */
int lc_vpc_setup(struct lc_cloud *c)
{
	json_t *vpcs = lc_table(c, "vpcs"), *subnets = lc_table(c, "subnets");
	const char *vpc_id = NULL, *k;
	char *id;
	json_t *v;
	uint32_t net;
	int prefix;

	if (lc_cidr_parse(&net, &prefix, c->cidr) < 0)
		return kiln_error_prefix(KILN_EINVAL, "--cidr");
	c->subnet_prefix = prefix <= 16 ? 20 : prefix + 2;
	for (int i = 0; i < LC_NZONES; i++)
		c->subnet_base[i] = net + ((uint32_t)i << (32 - c->subnet_prefix));
	json_object_foreach(vpcs, k, v)
	{
		if (strcmp(lc_str(v, "cidr") ? lc_str(v, "cidr") : "", c->cidr) == 0)
			vpc_id = k;
	}
	if (vpc_id != NULL && json_object_size(vpcs) == 1)
		return 0;
	/* a new state directory, or one moved to another network: start the VPC over */
	json_object_clear(vpcs);
	json_object_clear(subnets);
	id = lc_new_id("vpc-");
	json_object_set_new(vpcs, id,
	                    json_pack("{s:s, s:s, s:{}}", "id", id, "cidr", c->cidr, "tags"));
	for (int i = 0; i < LC_NZONES; i++) {
		char *sid = lc_new_id("subnet-"), base[16], zone[40];
		lc_ip_format(base, c->subnet_base[i]);
		lc_zone_name(c, i, zone);
		json_object_set_new(subnets, sid,
		                    json_pack("{s:s, s:s, s:s, s:s, s:i, s:{}}", "id", sid, "vpc",
		                              id, "zone", zone, "cidr_base", base, "prefix",
		                              c->subnet_prefix, "tags"));
		free(sid);
	}
	free(id);
	return lc_state_save(c);
}

/* ---- regions and zones -------------------------------------------------- */

static json_t *regions(struct lc_req *r)
{
	json_t *all = json_object();

	json_object_set_new(all, r->c->region, json_pack("{s:s}", "name", r->c->region));
	return all;
}

static void region_endpoint(struct lc_cloud *c, json_t *res, struct lc_values *out)
{
	(void)res;
	snprintf(out->scratch[0], sizeof(out->scratch[0]), "ec2.%s.amazonaws.com", c->region);
	lc_values_add(out, out->scratch[0]);
}

static const struct lc_field region_fields[] = {
    {"region-name", .key = "name"},
    {"endpoint", .fn = region_endpoint},
    {"opt-in-status", .constant = "opt-in-not-required"},
    {NULL}};

static void region_xml(struct lc_req *r, json_t *region)
{
	lc_xo(r->out, "item");
	lc_xt(r->out, "regionName", lc_str(region, "name"));
	lc_xtf(r->out, "regionEndpoint", "ec2.%s.amazonaws.com", lc_str(region, "name"));
	lc_xt(r->out, "optInStatus", "opt-in-not-required");
	lc_xc(r->out, "item");
}

static int region_check(struct lc_req *r, const char *name)
{
	if (strcmp(name, r->c->region) != 0)
		return lc_invalid(r, "RegionName", name, "The local cloud has one region.");
	return 0;
}

int lc_ec2_describe_regions(struct lc_req *r)
{
	static const struct lc_describe d = {.source = regions,
	                                     .by = {{"RegionName", "name", region_check}},
	                                     .fields = region_fields,
	                                     .set = "regionInfo",
	                                     .item = region_xml};

	return lc_describe(r, &d);
}

static json_t *zones(struct lc_req *r)
{
	json_t *all = json_object();

	for (int i = 0; i < LC_NZONES; i++) {
		char name[40], id[32];
		lc_zone_name(r->c, i, name);
		zone_id(r->c, i, id);
		json_object_set_new(all, name,
		                    json_pack("{s:s, s:s}", "zone", name, "zone_id", id));
	}
	return all;
}

static const struct lc_field zone_fields[] = {{"zone-name", .key = "zone"},
                                              {"availability-zone", .key = "zone"},
                                              {"zone-id", .key = "zone_id"},
                                              {"state", .constant = "available"},
                                              {"region-name", .fn = lc_field_region},
                                              {"zone-type", .constant = "availability-zone"},
                                              {NULL}};

static void zone_xml(struct lc_req *r, json_t *z)
{
	lc_xo(r->out, "item");
	lc_xt(r->out, "zoneName", lc_str(z, "zone"));
	lc_xt(r->out, "zoneId", lc_str(z, "zone_id"));
	lc_xt(r->out, "zoneState", "available");
	lc_xt(r->out, "regionName", r->c->region);
	lc_xt(r->out, "groupName", r->c->region);
	lc_xt(r->out, "networkBorderGroup", r->c->region);
	lc_xt(r->out, "zoneType", "availability-zone");
	lc_xt(r->out, "optInStatus", "opt-in-not-required");
	kiln_buf_puts(r->out, "<messageSet/>");
	lc_xc(r->out, "item");
}

static int zone_check(struct lc_req *r, const char *name)
{
	for (int i = 0; i < LC_NZONES; i++) {
		char zone[40];
		lc_zone_name(r->c, i, zone);
		if (strcmp(zone, name) == 0)
			return 0;
	}
	return lc_invalid(r, "ZoneName", name, "No such availability zone.");
}

int lc_ec2_describe_availability_zones(struct lc_req *r)
{
	static const struct lc_describe d = {.source = zones,
	                                     .by = {{"ZoneName", "zone", zone_check}},
	                                     .fields = zone_fields,
	                                     .set = "availabilityZoneInfo",
	                                     .item = zone_xml};

	return lc_describe(r, &d);
}

int lc_ec2_describe_account_attributes(struct lc_req *r)
{
	const char *attrs[][2] = {
	    {"supported-platforms", "VPC"}, {"default-vpc", lc_default_vpc(r->c)},
	    {"max-instances", "20"},        {"vpc-max-security-groups-per-interface", "5"},
	    {"max-elastic-ips", "5"},       {"vpc-max-elastic-ips", "5"}};
	const char **want;
	size_t nwant = lc_q_list(r, "AttributeName", &want);

	lc_xo(r->out, "accountAttributeSet");
	for (size_t i = 0; i < KILN_ARRAY_SIZE(attrs); i++) {
		if (nwant && !lc_in_list(want, nwant, attrs[i][0]))
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

static const struct lc_field vpc_fields[] = {{"vpc-id", .key = "id"},
                                             {"cidr", .key = "cidr"},
                                             {"cidr-block", .key = "cidr"},
                                             {"cidr-block-association.cidr-block", .key = "cidr"},
                                             {"is-default", .constant = "true"},
                                             {"state", .constant = "available"},
                                             {"owner-id", .fn = lc_field_account},
                                             {NULL}};

static void vpc_xml(struct lc_req *r, json_t *v)
{
	const char *id = lc_str(v, "id");

	lc_xo(r->out, "item");
	lc_xt(r->out, "vpcId", id);
	lc_xt(r->out, "ownerId", r->c->account);
	lc_xt(r->out, "state", "available");
	lc_xt(r->out, "cidrBlock", lc_str(v, "cidr"));
	kiln_buf_puts(r->out, "<cidrBlockAssociationSet><item>");
	lc_xtf(r->out, "associationId", "vpc-cidr-assoc-%s", id + 4);
	lc_xt(r->out, "cidrBlock", lc_str(v, "cidr"));
	kiln_buf_puts(r->out, "<cidrBlockState><state>associated</state></cidrBlockState>");
	kiln_buf_puts(r->out, "</item></cidrBlockAssociationSet>");
	lc_xt(r->out, "dhcpOptionsId", "dopt-00000000000000001");
	lc_xt(r->out, "instanceTenancy", "default");
	lc_xbool(r->out, "isDefault", 1);
	lc_xtags(r->out, "tagSet", json_object_get(v, "tags"));
	lc_xc(r->out, "item");
}

int lc_ec2_describe_vpcs(struct lc_req *r)
{
	static const struct lc_describe d = {
	    .table = "vpcs",
	    .by = {{"VpcId", NULL, NULL, "InvalidVpcID.NotFound", "vpc ID"}},
	    .fields = vpc_fields,
	    .paged = 1,
	    .page_min = 5,
	    .page_max = 1000,
	    .set = "vpcSet",
	    .item = vpc_xml};

	return lc_describe(r, &d);
}

static void subnet_cidr(struct lc_cloud *c, json_t *s, struct lc_values *out)
{
	(void)c;
	snprintf(out->scratch[0], sizeof(out->scratch[0]), "%s/%lld", lc_str(s, "cidr_base"),
	         (long long)json_integer_value(json_object_get(s, "prefix")));
	lc_values_add(out, out->scratch[0]);
}

static const struct lc_field subnet_fields[] = {{"subnet-id", .key = "id"},
                                                {"vpc-id", .key = "vpc"},
                                                {"availability-zone", .key = "zone"},
                                                {"default-for-az", .constant = "true"},
                                                {"defaultForAz", .constant = "true"},
                                                {"state", .constant = "available"},
                                                {"cidr-block", .fn = subnet_cidr},
                                                {"cidr", .fn = subnet_cidr},
                                                {"cidrBlock", .fn = subnet_cidr},
                                                {"owner-id", .fn = lc_field_account},
                                                {NULL}};

static void subnet_xml(struct lc_req *r, json_t *v)
{
	const char *id = lc_str(v, "id");
	int prefix = (int)json_integer_value(json_object_get(v, "prefix"));
	struct lc_values cidr = {.n = 0};

	subnet_cidr(r->c, v, &cidr);
	lc_xo(r->out, "item");
	lc_xt(r->out, "subnetId", id);
	lc_xtf(r->out, "subnetArn", "arn:aws:ec2:%s:%s:subnet/%s", r->c->region, r->c->account, id);
	lc_xt(r->out, "state", "available");
	lc_xt(r->out, "vpcId", lc_str(v, "vpc"));
	lc_xt(r->out, "cidrBlock", cidr.v[0]);
	lc_xtf(r->out, "availableIpAddressCount", "%lld",
	       lc_subnet_capacity(prefix) - lc_subnet_used(r->c, id));
	lc_xt(r->out, "availabilityZone", lc_str(v, "zone"));
	lc_xbool(r->out, "defaultForAz", 1);
	lc_xbool(r->out, "mapPublicIpOnLaunch", 0);
	lc_xt(r->out, "ownerId", r->c->account);
	lc_xtags(r->out, "tagSet", json_object_get(v, "tags"));
	lc_xc(r->out, "item");
}

int lc_ec2_describe_subnets(struct lc_req *r)
{
	static const struct lc_describe d = {
	    .table = "subnets",
	    .by = {{"SubnetId", NULL, NULL, "InvalidSubnetID.NotFound", "subnet ID"}},
	    .fields = subnet_fields,
	    .paged = 1,
	    .page_min = 5,
	    .page_max = 1000,
	    .set = "subnetSet",
	    .item = subnet_xml};

	return lc_describe(r, &d);
}
