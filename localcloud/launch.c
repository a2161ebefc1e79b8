/*
 * RunInstances: the launch parameters (from the request over a launch
 * template), their checks in EC2's order, addresses from the subnet,
 * ClientToken idempotency, and the new instances handed to their runners.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/ec2-int.h"
#include "localcloud/net-int.h"
#include "localcloud/xml-int.h"

#define LC_LAUNCH_MAX 64

struct launch {
	const char *image_id, *type, *key_name, *subnet_id, *user_data, *behavior, *private_ip;
	json_t *groups; /* security group ids */
	json_t *tags;
	long long min, max;
	/* resolved by launch_check() */
	json_t *image, *key, *subnet;
	uint32_t ip; /* the PrivateIpAddress asked for, or 0 */
};

static void launch_release(struct launch *l)
{
	json_decref(l->groups);
	json_decref(l->tags);
}

/* "t3.micro", "m5.2xlarge", "c6gn.metal": family.size as EC2 names them. */
static int valid_instance_type(const char *t)
{
	static const char *const sizes[] = {"nano",  "micro",  "small", "medium",
	                                    "large", "xlarge", "metal"};
	const char *dot = strchr(t, '.'), *size, *digit = strpbrk(t, "0123456789");
	size_t flen;

	if (dot == NULL || strchr(dot + 1, '.') != NULL)
		return 0;
	flen = (size_t)(dot - t);
	if (flen < 2 || flen > 16 || t[0] < 'a' || t[0] > 'z' ||
	    strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789-") != flen || digit == NULL ||
	    digit > dot)
		return 0;
	size = dot + 1 + strspn(dot + 1, "0123456789");
	for (size_t i = 0; i < KILN_ARRAY_SIZE(sizes); i++) {
		size_t n = strlen(sizes[i]);
		if (strncmp(size, sizes[i], n) == 0 &&
		    (size[n] == '\0' || (strcmp(sizes[i], "metal") == 0 && size[n] == '-')))
			return 1;
	}
	return 0;
}

/* The request's parameters but the token itself, for ClientToken idempotency. */
static char *request_fingerprint(struct lc_req *r)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char hex[65];

	/* the parameters are sorted by key already: the same request gives the same text */
	for (size_t i = 0; i < r->p->n; i++) {
		const struct lc_param *p = &r->p->v[i];
		if (strcmp(p->key, "ClientToken") != 0 && strcmp(p->key, "DryRun") != 0)
			kiln_buf_printf(&b, "%s=%s&", p->key, p->value);
	}
	kiln_sha256_hex(hex, b.ptr, b.size);
	kiln_buf_release(&b);
	return kiln_xstrdup(hex);
}

static int template_groups(struct lc_req *r, struct launch *l, json_t *data)
{
	size_t i;
	json_t *v;

	if (json_object_get(data, "SecurityGroupIds"))
		json_array_extend(l->groups, json_object_get(data, "SecurityGroupIds"));
	json_array_foreach(json_object_get(data, "SecurityGroups"), i, v)
	{
		json_t *g = lc_group_by_name(r->c, json_string_value(v));
		if (g == NULL)
			return lc_err(r, 400, "InvalidGroup.NotFound",
			              "The security group '%s' does not exist",
			              json_string_value(v));
		json_array_append_new(l->groups, json_string(lc_str(g, "id")));
	}
	json_array_foreach(json_object_get(data, "TagSpecifications"), i, v)
	{
		if (strcmp(lc_str(v, "ResourceType"), "instance") == 0)
			json_object_update(l->tags, json_object_get(v, "Tags"));
	}
	return 0;
}

/* LaunchTemplate.*: the template's data under the request's own parameters. */
static int template_params(struct lc_req *r, struct launch *l)
{
	const char *id = lc_q(r, "LaunchTemplate.LaunchTemplateId");
	const char *name = lc_q(r, "LaunchTemplate.LaunchTemplateName");
	json_t *t, *v, *data;

	if (id == NULL && name == NULL)
		return 0;
	t = lc_template(r, id, name);
	v = t ? lc_template_version(r, t, lc_q(r, "LaunchTemplate.Version")) : NULL;
	if (v == NULL)
		return -1;
	data = json_object_get(v, "data");
	l->image_id = lc_str(data, "ImageId");
	l->type = lc_str(data, "InstanceType");
	l->key_name = lc_str(data, "KeyName");
	l->user_data = lc_str(data, "UserData");
	l->behavior = lc_str(data, "InstanceInitiatedShutdownBehavior");
	l->subnet_id = lc_str(data, "SubnetId");
	return template_groups(r, l, data);
}

static void param_over(struct lc_req *r, const char *key, const char **slot)
{
	const char *v = lc_q(r, key);

	if (v != NULL)
		*slot = v;
}

static void interface_params(struct lc_req *r, struct launch *l)
{
	int *idx;
	size_t n = lc_q_indexes(r, "NetworkInterface", &idx);

	for (size_t i = 0; i < n; i++) {
		const char *subnet = lc_qf(r, "NetworkInterface.%d.SubnetId", idx[i]);
		const char *ip = lc_qf(r, "NetworkInterface.%d.PrivateIpAddress", idx[i]);
		const char **gl;
		char prefix[64];
		size_t ng;

		if (subnet != NULL)
			l->subnet_id = subnet;
		if (ip != NULL)
			l->private_ip = ip;
		snprintf(prefix, sizeof(prefix), "NetworkInterface.%d.SecurityGroupId", idx[i]);
		ng = lc_q_list(r, prefix, &gl);
		for (size_t j = 0; j < ng; j++)
			json_array_append_new(l->groups, json_string(gl[j]));
		free(gl);
	}
	free(idx);
}

static int request_groups(struct lc_req *r, struct launch *l)
{
	const char **list;
	size_t n = lc_q_list(r, "SecurityGroupId", &list);
	int rc = 0;

	if (n)
		json_array_clear(l->groups);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(l->groups, json_string(list[i]));
	free(list);
	n = lc_q_list(r, "SecurityGroup", &list);
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_t *g = lc_group_by_name(r->c, list[i]);
		if (g == NULL)
			rc = lc_err(r, 400, "InvalidGroup.NotFound",
			            "The security group '%s' does not exist in default VPC '%s'",
			            list[i], lc_default_vpc(r->c));
		else
			json_array_append_new(l->groups, json_string(lc_str(g, "id")));
	}
	free(list);
	return rc;
}

/* Fill `l` from the request, over the launch template's data when one is named. */
static int launch_params(struct lc_req *r, struct launch *l)
{
	l->groups = json_array();
	l->tags = json_object();
	if (template_params(r, l) < 0)
		return -1;
	param_over(r, "ImageId", &l->image_id);
	param_over(r, "InstanceType", &l->type);
	param_over(r, "KeyName", &l->key_name);
	param_over(r, "UserData", &l->user_data);
	param_over(r, "InstanceInitiatedShutdownBehavior", &l->behavior);
	param_over(r, "SubnetId", &l->subnet_id);
	param_over(r, "PrivateIpAddress", &l->private_ip);
	interface_params(r, l);
	if (request_groups(r, l) < 0 ||
	    lc_q_tag_specs(r, "TagSpecification", "instance", l->tags) < 0)
		return -1;
	if (l->image_id == NULL)
		return lc_missing(r, "ImageId");
	if (l->type == NULL)
		l->type = "m1.small";
	if (!valid_instance_type(l->type))
		return lc_err(r, 400, "InvalidParameterValue",
		              "Invalid value '%s' for InstanceType.", l->type);
	if (l->behavior == NULL)
		l->behavior = "stop";
	if (strcmp(l->behavior, "stop") != 0 && strcmp(l->behavior, "terminate") != 0)
		return lc_invalid(r, "InstanceInitiatedShutdownBehavior", l->behavior,
		                  "Expected stop or terminate.");
	return 0;
}

/* The first subnet of the zone asked for (Placement.AvailabilityZone), or of any. */
static json_t *default_subnet(struct lc_req *r)
{
	const char *zone = lc_q(r, "Placement.AvailabilityZone"), *k;
	json_t *s;

	json_object_foreach(lc_table(r->c, "subnets"), k, s)
	{
		if (zone == NULL || strcmp(zone, lc_str(s, "zone")) == 0)
			return s;
	}
	lc_err(r, 400, "InvalidParameterValue", "Invalid availability zone: [%s]",
	       zone ? zone : "");
	return NULL;
}

static int check_image(struct lc_req *r, struct launch *l)
{
	if (strncmp(l->image_id, "ami-", 4) != 0)
		return lc_err(r, 400, "InvalidAMIID.Malformed",
		              "Invalid id: \"%s\" (expecting \"ami-...\")", l->image_id);
	l->image = json_object_get(lc_table(r->c, "images"), l->image_id);
	if (l->image == NULL)
		return lc_err(r, 400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist",
		              l->image_id);
	if (strcmp(lc_str(l->image, "state"), "available") != 0)
		return lc_err(r, 400, "InvalidAMIID.Unavailable",
		              "The image '%s' is %s, not available", l->image_id,
		              lc_str(l->image, "state"));
	return 0;
}

static int check_groups(struct lc_req *r, struct launch *l)
{
	size_t i;
	json_t *v;

	json_array_foreach(l->groups, i, v)
	{
		if (json_object_get(lc_table(r->c, "security_groups"), json_string_value(v)) ==
		    NULL)
			return lc_err(r, 400, "InvalidGroup.NotFound",
			              "The security group '%s' does not exist",
			              json_string_value(v));
	}
	if (json_array_size(l->groups) == 0) {
		json_t *def = lc_group_by_name(r->c, "default");
		if (def)
			json_array_append_new(l->groups, json_string(lc_str(def, "id")));
	}
	return 0;
}

/* PrivateIpAddress: an address instances may use in the subnet, and free. */
static int check_private_ip(struct lc_req *r, struct launch *l)
{
	uint32_t base, first, last;
	int prefix = (int)json_integer_value(json_object_get(l->subnet, "prefix"));
	json_t *used;
	int rc = 0;

	if (l->private_ip == NULL)
		return 0;
	if (l->max > 1)
		return lc_err(r, 400, "InvalidParameterCombination",
		              "PrivateIpAddress can be given for one instance only");
	lc_ip_parse(&base, lc_str(l->subnet, "cidr_base"));
	lc_subnet_range(base, prefix, &first, &last);
	if (lc_ip_parse(&l->ip, l->private_ip) < 0 || l->ip < first || l->ip > last)
		return lc_err(r, 400, "InvalidParameterValue",
		              "Address %s does not fall within the subnet's address range (%s/%d, "
		              "less the five addresses EC2 keeps)",
		              l->private_ip, lc_str(l->subnet, "cidr_base"), prefix);
	used = lc_addresses_used(r->c);
	if (json_object_get(used, l->private_ip))
		rc = lc_err(r, 400, "InvalidIPAddress.InUse", "Address %s is in use.",
		            l->private_ip);
	json_decref(used);
	return rc;
}

/* Everything the launch names must exist and fit, checked before anything changes. */
static int launch_check(struct lc_req *r, struct launch *l)
{
	long long free_ips;

	if (check_image(r, l) < 0)
		return -1;
	if (l->key_name && (l->key = lc_key_pair(r->c, l->key_name)) == NULL)
		return lc_err(r, 400, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist",
		              l->key_name);
	if (check_groups(r, l) < 0)
		return -1;
	if (l->subnet_id) {
		l->subnet = lc_subnet(r->c, l->subnet_id);
		if (l->subnet == NULL)
			return lc_err(r, 400, "InvalidSubnetID.NotFound",
			              "The subnet ID '%s' does not exist", l->subnet_id);
	} else if ((l->subnet = default_subnet(r)) == NULL) {
		return -1;
	}
	if ((l->user_data && lc_user_data_check(r, l->user_data) < 0) || check_private_ip(r, l) < 0)
		return -1;
	free_ips =
	    lc_subnet_capacity((int)json_integer_value(json_object_get(l->subnet, "prefix"))) -
	    lc_subnet_used(r->c, lc_str(l->subnet, "id"));
	if (free_ips < l->min)
		return lc_err(
		    r, 500, "InsufficientInstanceCapacity",
		    "There are %lld free addresses in subnet %s; %lld instances asked for",
		    free_ips, lc_str(l->subnet, "id"), l->min);
	if (l->max > free_ips)
		l->max = free_ips;
	return 0;
}

/* One new instance; each gets its own copies of the launch's tags and groups. */
static json_t *instance_new(struct lc_req *r, const struct launch *l, const char *id,
                            const char *reservation, long long index, uint32_t ip, const char *now)
{
	const char *token = lc_q(r, "ClientToken");
	char ips[16], host[64], mac[32];
	unsigned char rnd[3];
	json_t *inst;

	lc_ip_format(ips, ip);
	snprintf(host, sizeof(host), "ip-%u-%u-%u-%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
	         ip & 255);
	kiln_random_bytes(rnd, sizeof(rnd));
	snprintf(mac, sizeof(mac), "0e:%02x:%02x:%02x:%02x:%02x", (ip >> 8) & 255, ip & 255, rnd[0],
	         rnd[1], rnd[2]);
	inst =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, "
	              "s:o, s:o, s:o, s:s, s:s, s:s}",
	              "id", id, "image", l->image_id, "type", l->type, "state", "pending", "reason",
	              "", "subnet", lc_str(l->subnet, "id"), "vpc", lc_str(l->subnet, "vpc"),
	              "zone", lc_str(l->subnet, "zone"), "ip", ips, "mac", mac, "hostname", host,
	              "reservation", reservation, "launch_index", (json_int_t)index, "groups",
	              json_deep_copy(l->groups), "tags", json_deep_copy(l->tags), "layers",
	              json_deep_copy(json_object_get(l->image, "layers")), "shutdown_behavior",
	              l->behavior, "created", now, "launched", now);
	json_object_set_new(
	    inst, "login_user",
	    json_string(lc_str(l->image, "login_user") ? lc_str(l->image, "login_user") : "root"));
	if (l->key) {
		json_object_set_new(inst, "key_name", json_string(l->key_name));
		json_object_set_new(inst, "public_key", json_string(lc_str(l->key, "public_key")));
	}
	if (l->user_data)
		json_object_set_new(inst, "user_data", json_string(l->user_data));
	if (token)
		json_object_set_new(inst, "client_token", json_string(token));
	return inst;
}

/* Take back instances a failed launch created (nothing booted them yet). */
static void instances_forget(struct lc_req *r, json_t *created)
{
	size_t i;
	json_t *v;

	json_array_foreach(created, i, v)
	{
		char *dir = lc_instance_dir(r->c, lc_str(v, "id"));
		kiln_rm_rf(dir);
		free(dir);
		json_object_del(lc_instances(r->c), lc_str(v, "id"));
	}
	json_array_clear(created);
}

/* Up to l->max instances in the state; at least l->min or none. */
static int instances_create(struct lc_req *r, const struct launch *l, const char *reservation,
                            json_t *created)
{
	json_t *used = lc_addresses_used(r->c);
	char now[32];

	lc_now_iso(now);
	for (long long n = 0; n < l->max; n++) {
		char *id, *dir, ips[16];
		uint32_t ip = l->ip;
		json_t *inst;

		if (ip == 0 && lc_address_next(l->subnet, used, &ip) < 0)
			break;
		id = lc_new_id("i-");
		dir = lc_instance_dir(r->c, id);
		if (kiln_mkdir_p(dir, 0700) < 0) {
			free(dir);
			free(id);
			break;
		}
		inst = instance_new(r, l, id, reservation, n, ip, now);
		json_object_set_new(lc_instances(r->c), id, inst);
		json_array_append(created, inst);
		lc_ip_format(ips, ip);
		json_object_set_new(used, ips, json_string(id));
		free(dir);
		free(id);
	}
	json_decref(used);
	if (json_array_size(created) >= (size_t)l->min)
		return 0;
	instances_forget(r, created);
	return lc_err(r, 500, "InsufficientInstanceCapacity", "could not create %lld instances: %s",
	              l->min, kiln_error_last());
}

static void reservation_xml(struct lc_req *r, const char *reservation, json_t *list)
{
	size_t i;
	json_t *inst;

	lc_xt(r->out, "reservationId", reservation);
	lc_xt(r->out, "ownerId", r->c->account);
	kiln_buf_puts(r->out, "<groupSet/>");
	lc_xo(r->out, "instancesSet");
	json_array_foreach(list, i, inst) lc_instance_xml(r, inst);
	lc_xc(r->out, "instancesSet");
}

/* A ClientToken seen before: the same request gets the same reservation back. */
static int replay(struct lc_req *r, const char *token, json_t *known)
{
	char *fp = request_fingerprint(r);
	int same = lc_str(known, "request") == NULL || strcmp(lc_str(known, "request"), fp) == 0;
	json_t *list, *v;
	size_t i;

	free(fp);
	if (!same)
		return lc_err(r, 400, "IdempotentParameterMismatch",
		              "The client token %s was used with different parameters", token);
	list = json_array();
	json_array_foreach(json_object_get(known, "instances"), i, v)
	{
		json_t *inst = json_object_get(lc_instances(r->c), json_string_value(v));
		if (inst)
			json_array_append(list, inst);
	}
	reservation_xml(r, lc_str(known, "reservation"), list);
	json_decref(list);
	return 0;
}

static void remember_token(struct lc_req *r, const char *token, const char *reservation,
                           json_t *created)
{
	json_t *ids = json_array(), *v;
	char *fp = request_fingerprint(r);
	size_t i;

	json_array_foreach(created, i, v) json_array_append_new(ids, json_string(lc_str(v, "id")));
	json_object_set_new(lc_table(r->c, "client_tokens"), token,
	                    json_pack("{s:s, s:o, s:s}", "reservation", reservation, "instances",
	                              ids, "request", fp));
	free(fp);
}

static int launch_counts(struct lc_req *r, struct launch *l)
{
	if (lc_q(r, "MinCount") == NULL)
		return lc_missing(r, "MinCount");
	if (lc_q(r, "MaxCount") == NULL)
		return lc_missing(r, "MaxCount");
	if (lc_q_int(r, "MinCount", 1, 1, LC_LAUNCH_MAX, &l->min) < 0 ||
	    lc_q_int(r, "MaxCount", 1, 1, LC_LAUNCH_MAX, &l->max) < 0)
		return -1;
	if (l->min > l->max)
		return lc_err(r, 400, "InvalidParameterValue",
		              "MinCount (%lld) must not be greater than MaxCount (%lld)", l->min,
		              l->max);
	return 0;
}

int lc_ec2_run_instances(struct lc_req *r)
{
	const char *token = lc_q(r, "ClientToken");
	json_t *created = NULL, *v;
	struct launch l;
	char *reservation = NULL;
	size_t i;
	int rc = -1;

	memset(&l, 0, sizeof(l));
	if (token) {
		json_t *known = json_object_get(lc_table(r->c, "client_tokens"), token);
		if (known)
			return replay(r, token, known);
		if (strlen(token) > 64)
			return lc_err(r, 400, "InvalidParameterValue",
			              "Value for parameter ClientToken is too long (at most 64)");
	}
	if (launch_counts(r, &l) < 0)
		return -1;
	if (launch_params(r, &l) < 0 || launch_check(r, &l) < 0)
		goto done;
	reservation = lc_new_id("r-");
	created = json_array();
	if (instances_create(r, &l, reservation, created) < 0)
		goto done;
	if (token)
		remember_token(r, token, reservation, created);
	/* saved before any runner boots: a crash now still knows every instance */
	if (lc_state_save(r->c) < 0) {
		lc_err(r, 500, "InternalError", "saving the state failed: %s", kiln_error_last());
		if (token)
			json_object_del(lc_table(r->c, "client_tokens"), token);
		instances_forget(r, created);
		goto done;
	}
	json_array_foreach(created, i, v)
	{
		if (lc_runner_start(r->c, lc_str(v, "id")) < 0) {
			lc_instance_set_state(v, "terminated", "Server.InternalError");
			lc_instance_state_reason(v, "Server.InternalError", kiln_error_last());
		}
	}
	reservation_xml(r, reservation, created);
	r->dirty = 1;
	rc = 0;
done:
	json_decref(created);
	free(reservation);
	launch_release(&l);
	return rc;
}
