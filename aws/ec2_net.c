/* EC2 key pairs, security groups, VPCs, subnets and tags. */
#include "aws/ec2.h"
#include "aws/ec2-int.h"

#include <string.h>

#include "core/log.h"

#define EC2 KILN_AWS_EC2

/* Key pairs. */

static void key_pair_release(struct kiln_ec2_key_pair *k)
{
	free(k->key_name);
	free(k->key_pair_id);
	free(k->key_fingerprint);
	free(k->key_type);
	free(k->create_time);
	free(k->public_key);
	if (k->key_material != NULL)
		kiln_free_secret(k->key_material);
	kiln_aws_tags_release(&k->tags);
}

void kiln_ec2_key_pair_free(struct kiln_ec2_key_pair *k)
{
	if (k == NULL)
		return;
	key_pair_release(k);
	free(k);
}

void kiln_ec2_key_pair_list_free(struct kiln_ec2_key_pair_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		key_pair_release(&l->v[i]);
	free(l->v);
	free(l);
}

static void parse_key_pair(struct kiln_ec2_key_pair *k, const struct kiln_xml *x, xmlNodePtr n)
{
	k->key_name = kiln_aws_xml_dup(x, n, "keyName");
	k->key_pair_id = kiln_aws_xml_dup(x, n, "keyPairId");
	k->key_fingerprint = kiln_aws_xml_dup(x, n, "keyFingerprint");
	k->key_type = kiln_aws_xml_dup(x, n, "keyType");
	k->create_time = kiln_aws_xml_dup(x, n, "createTime");
	k->public_key = kiln_aws_xml_dup(x, n, "publicKey");
	kiln_aws_xml_tags(&k->tags, x, n, "tagSet", "key", "value");
}

KILN_STATIC int ec2_parse_created_key(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_ec2_key_pair *k = arg;

	parse_key_pair(k, x, result);
	k->key_material = kiln_aws_xml_dup(x, result, "keyMaterial");
	if (k->key_material == NULL || *k->key_material == '\0' || k->key_name == NULL)
		return kiln_error_set(KILN_ERROR,
		                      "CreateKeyPair reply lacks keyName or keyMaterial");
	/* Before anything can log it. */
	kiln_log_add_secret(k->key_material);
	return 0;
}

int kiln_ec2_create_key_pair(struct kiln_ec2_key_pair **out, struct kiln_aws *aws,
                             const struct kiln_ec2_create_key_pair *o)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_key_pair *k = kiln_xcalloc(1, sizeof(*k));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && o != NULL && o->key_name != NULL);
	*out = NULL;
	kiln_query_add(&q, "KeyName", o->key_name);
	if (o->key_type != NULL)
		kiln_query_add(&q, "KeyType", o->key_type);
	if (o->key_format != NULL)
		kiln_query_add(&q, "KeyFormat", o->key_format);
	kiln_ec2_query_tag_specs(&q, "", o->tag_specs, o->n_tag_specs);
	error = kiln_aws_call(aws, EC2, "CreateKeyPair", &q, "", ec2_parse_created_key, k);
	if (error < 0)
		kiln_ec2_key_pair_free(k);
	else
		*out = k;
	kiln_query_release(&q);
	return error;
}

static int parse_key_pair_id(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	char **out = arg;

	if (kiln_xml_text(x, result, "keyName") == NULL)
		return kiln_error_set(KILN_ERROR, "ImportKeyPair reply lacks keyName");
	if (out != NULL)
		*out = kiln_aws_xml_dup(x, result, "keyPairId");
	return 0;
}

int kiln_ec2_import_key_pair(char **out, struct kiln_aws *aws, const char *key_name,
                             const char *public_key, const struct kiln_ec2_tag_spec *tag_specs,
                             size_t n_tag_specs)
{
	struct kiln_query q = KILN_QUERY_INIT;
	char *b64;
	int error;

	KILN_ASSERT_ARG(aws != NULL && key_name != NULL && public_key != NULL);
	if (out != NULL)
		*out = NULL;
	b64 = kiln_aws_base64_encode(public_key, strlen(public_key));
	kiln_query_add(&q, "KeyName", key_name);
	kiln_query_add(&q, "PublicKeyMaterial", b64);
	kiln_ec2_query_tag_specs(&q, "", tag_specs, n_tag_specs);
	error = kiln_aws_call(aws, EC2, "ImportKeyPair", &q, "", parse_key_pair_id, out);
	free(b64);
	kiln_query_release(&q);
	return error;
}

int kiln_ec2_delete_key_pair(struct kiln_aws *aws, const char *key_name, const char *key_pair_id)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(aws != NULL && (key_name != NULL || key_pair_id != NULL));
	if (key_name != NULL)
		kiln_query_add(&q, "KeyName", key_name);
	if (key_pair_id != NULL)
		kiln_query_add(&q, "KeyPairId", key_pair_id);
	error = kiln_aws_call(aws, EC2, "DeleteKeyPair", &q, NULL, NULL, NULL);
	kiln_query_release(&q);
	return error;
}

KILN_STATIC int ec2_parse_key_pairs(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_ec2_key_pair_list *l = arg;
	xmlNodePtr it;

	for (it = kiln_xml_first_child(result, "keySet"); it; it = kiln_xml_next(it)) {
		struct kiln_ec2_key_pair *k =
		    kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*k));

		parse_key_pair(k, x, it);
		if (k->key_name == NULL)
			return kiln_error_set(KILN_ERROR, "DescribeKeyPairs reply lacks keyName");
	}
	return 0;
}

int kiln_ec2_describe_key_pairs(struct kiln_ec2_key_pair_list **out, struct kiln_aws *aws,
                                const struct kiln_ec2_describe *d, int include_public_key)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_key_pair_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	if (d != NULL) {
		/* DescribeKeyPairs is not paginated: no MaxResults. */
		kiln_aws_query_strings(&q, KILN_QUERY_EC2, "KeyPairId", d->ids, d->n_ids);
		kiln_aws_query_strings(&q, KILN_QUERY_EC2, "KeyName", d->names, d->n_names);
		kiln_aws_query_filters(&q, KILN_QUERY_EC2, d->filters);
	}
	if (include_public_key)
		kiln_aws_query_bool(&q, "IncludePublicKey", 1);
	error = kiln_aws_call(aws, EC2, "DescribeKeyPairs", &q, "", ec2_parse_key_pairs, l);
	if (error < 0)
		kiln_ec2_key_pair_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

/* Security groups. */

static int parse_group_id(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	char **out = arg;

	*out = kiln_aws_xml_dup(x, result, "groupId");
	if (*out == NULL || **out == '\0')
		return kiln_error_set(KILN_ERROR, "CreateSecurityGroup reply lacks groupId");
	return 0;
}

int kiln_ec2_create_security_group(char **out, struct kiln_aws *aws, const char *name,
                                   const char *description, const char *vpc_id,
                                   const struct kiln_ec2_tag_spec *tag_specs, size_t n_tag_specs)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && name != NULL && description != NULL);
	*out = NULL;
	kiln_query_add(&q, "GroupName", name);
	kiln_query_add(&q, "GroupDescription", description);
	if (vpc_id != NULL)
		kiln_query_add(&q, "VpcId", vpc_id);
	kiln_ec2_query_tag_specs(&q, "", tag_specs, n_tag_specs);
	error = kiln_aws_call(aws, EC2, "CreateSecurityGroup", &q, "", parse_group_id, out);
	if (error < 0) {
		free(*out);
		*out = NULL;
	}
	kiln_query_release(&q);
	return error;
}

int kiln_ec2_delete_security_group(struct kiln_aws *aws, const char *group_id)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(aws != NULL && group_id != NULL);
	kiln_query_add(&q, "GroupId", group_id);
	error = kiln_aws_call(aws, EC2, "DeleteSecurityGroup", &q, NULL, NULL, NULL);
	kiln_query_release(&q);
	return error;
}

static int ingress(struct kiln_aws *aws, const char *action, const char *group_id,
                   const struct kiln_ec2_ip_permission *perms, size_t n)
{
	struct kiln_query q = KILN_QUERY_INIT;
	size_t i, j;
	int error;

	KILN_ASSERT_ARG(aws != NULL && group_id != NULL && perms != NULL && n > 0);
	kiln_query_add(&q, "GroupId", group_id);
	for (i = 0; i < n; i++) {
		const struct kiln_ec2_ip_permission *p = &perms[i];

		KILN_ASSERT_ARG(p->ip_protocol != NULL);
		kiln_query_addf(&q, p->ip_protocol, "IpPermissions.%zu.IpProtocol", i + 1);
		if (strcmp(p->ip_protocol, "-1") != 0) {
			char s[16];

			snprintf(s, sizeof(s), "%d", p->from_port);
			kiln_query_addf(&q, s, "IpPermissions.%zu.FromPort", i + 1);
			snprintf(s, sizeof(s), "%d", p->to_port);
			kiln_query_addf(&q, s, "IpPermissions.%zu.ToPort", i + 1);
		}
		for (j = 0; j < p->n_cidrs; j++) {
			kiln_query_addf(&q, p->cidrs[j], "IpPermissions.%zu.IpRanges.%zu.CidrIp",
			                i + 1, j + 1);
			if (p->description != NULL)
				kiln_query_addf(&q, p->description,
				                "IpPermissions.%zu.IpRanges.%zu.Description", i + 1,
				                j + 1);
		}
		for (j = 0; j < p->n_group_ids; j++) {
			kiln_query_addf(&q, p->group_ids[j], "IpPermissions.%zu.Groups.%zu.GroupId",
			                i + 1, j + 1);
			if (p->description != NULL)
				kiln_query_addf(&q, p->description,
				                "IpPermissions.%zu.Groups.%zu.Description", i + 1,
				                j + 1);
		}
	}
	error = kiln_aws_call(aws, EC2, action, &q, NULL, NULL, NULL);
	kiln_query_release(&q);
	return error;
}

int kiln_ec2_authorize_ingress(struct kiln_aws *aws, const char *group_id,
                               const struct kiln_ec2_ip_permission *perms, size_t n)
{
	return ingress(aws, "AuthorizeSecurityGroupIngress", group_id, perms, n);
}

int kiln_ec2_revoke_ingress(struct kiln_aws *aws, const char *group_id,
                            const struct kiln_ec2_ip_permission *perms, size_t n)
{
	return ingress(aws, "RevokeSecurityGroupIngress", group_id, perms, n);
}

void kiln_ec2_security_group_list_free(struct kiln_ec2_security_group_list *l)
{
	size_t i, j;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		struct kiln_ec2_security_group *g = &l->v[i];

		free(g->group_id);
		free(g->group_name);
		free(g->description);
		free(g->vpc_id);
		free(g->owner_id);
		for (j = 0; j < g->n_ingress; j++) {
			free(g->ingress[j].ip_protocol);
			kiln_aws_strings_release(&g->ingress[j].cidrs);
			kiln_aws_strings_release(&g->ingress[j].group_ids);
		}
		free(g->ingress);
		kiln_aws_tags_release(&g->tags);
	}
	free(l->v);
	free(l);
}

KILN_STATIC int ec2_parse_security_groups(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_ec2_security_group_list *l = arg;
	xmlNodePtr it, p;
	size_t alloc;

	for (it = kiln_xml_first_child(result, "securityGroupInfo"); it; it = kiln_xml_next(it)) {
		struct kiln_ec2_security_group *g =
		    kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*g));

		g->group_id = kiln_aws_xml_dup(x, it, "groupId");
		g->group_name = kiln_aws_xml_dup(x, it, "groupName");
		g->description = kiln_aws_xml_dup(x, it, "groupDescription");
		g->vpc_id = kiln_aws_xml_dup(x, it, "vpcId");
		g->owner_id = kiln_aws_xml_dup(x, it, "ownerId");
		alloc = 0;
		for (p = kiln_xml_first_child(it, "ipPermissions"); p; p = kiln_xml_next(p)) {
			struct kiln_ec2_sg_rule *r =
			    kiln_aws_vec_push(&g->ingress, &g->n_ingress, &alloc, sizeof(*r));

			r->ip_protocol = kiln_aws_xml_dup(x, p, "ipProtocol");
			r->from_port = (int)kiln_aws_xml_int(x, p, "fromPort", -1);
			r->to_port = (int)kiln_aws_xml_int(x, p, "toPort", -1);
			kiln_aws_xml_strings(&r->cidrs, x, p, "ipRanges", "cidrIp");
			kiln_aws_xml_strings(&r->group_ids, x, p, "groups", "groupId");
		}
		kiln_aws_xml_tags(&g->tags, x, it, "tagSet", "key", "value");
		if (g->group_id == NULL)
			return kiln_error_set(KILN_ERROR,
			                      "DescribeSecurityGroups reply lacks groupId");
	}
	return 0;
}

int kiln_ec2_describe_security_groups(struct kiln_ec2_security_group_list **out,
                                      struct kiln_aws *aws, const struct kiln_ec2_describe *d)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_security_group_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	kiln_ec2_query_describe(&q, d, "GroupId", "GroupName");
	error = kiln_aws_paginate(aws, EC2, "DescribeSecurityGroups", &q, "NextToken", "",
	                          "nextToken", ec2_parse_security_groups, l);
	if (error < 0)
		kiln_ec2_security_group_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

/* VPCs and subnets. */

void kiln_ec2_vpc_list_free(struct kiln_ec2_vpc_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].vpc_id);
		free(l->v[i].cidr_block);
		free(l->v[i].state);
		free(l->v[i].owner_id);
		kiln_aws_tags_release(&l->v[i].tags);
	}
	free(l->v);
	free(l);
}

KILN_STATIC int ec2_parse_vpcs(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_ec2_vpc_list *l = arg;
	xmlNodePtr it;

	for (it = kiln_xml_first_child(result, "vpcSet"); it; it = kiln_xml_next(it)) {
		struct kiln_ec2_vpc *v = kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*v));

		v->vpc_id = kiln_aws_xml_dup(x, it, "vpcId");
		v->cidr_block = kiln_aws_xml_dup(x, it, "cidrBlock");
		v->state = kiln_aws_xml_dup(x, it, "state");
		v->owner_id = kiln_aws_xml_dup(x, it, "ownerId");
		v->is_default = kiln_aws_xml_bool(x, it, "isDefault");
		kiln_aws_xml_tags(&v->tags, x, it, "tagSet", "key", "value");
		if (v->vpc_id == NULL)
			return kiln_error_set(KILN_ERROR, "DescribeVpcs reply lacks vpcId");
	}
	return 0;
}

int kiln_ec2_describe_vpcs(struct kiln_ec2_vpc_list **out, struct kiln_aws *aws,
                           const struct kiln_ec2_describe *d)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_vpc_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	kiln_ec2_query_describe(&q, d, "VpcId", NULL);
	error = kiln_aws_paginate(aws, EC2, "DescribeVpcs", &q, "NextToken", "", "nextToken",
	                          ec2_parse_vpcs, l);
	if (error < 0)
		kiln_ec2_vpc_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

void kiln_ec2_subnet_list_free(struct kiln_ec2_subnet_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].subnet_id);
		free(l->v[i].vpc_id);
		free(l->v[i].cidr_block);
		free(l->v[i].availability_zone);
		free(l->v[i].state);
		kiln_aws_tags_release(&l->v[i].tags);
	}
	free(l->v);
	free(l);
}

KILN_STATIC int ec2_parse_subnets(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_ec2_subnet_list *l = arg;
	xmlNodePtr it;

	for (it = kiln_xml_first_child(result, "subnetSet"); it; it = kiln_xml_next(it)) {
		struct kiln_ec2_subnet *s = kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*s));

		s->subnet_id = kiln_aws_xml_dup(x, it, "subnetId");
		s->vpc_id = kiln_aws_xml_dup(x, it, "vpcId");
		s->cidr_block = kiln_aws_xml_dup(x, it, "cidrBlock");
		s->availability_zone = kiln_aws_xml_dup(x, it, "availabilityZone");
		s->state = kiln_aws_xml_dup(x, it, "state");
		s->available_ips = kiln_aws_xml_int(x, it, "availableIpAddressCount", 0);
		s->default_for_az = kiln_aws_xml_bool(x, it, "defaultForAz");
		s->map_public_ip_on_launch = kiln_aws_xml_bool(x, it, "mapPublicIpOnLaunch");
		kiln_aws_xml_tags(&s->tags, x, it, "tagSet", "key", "value");
		if (s->subnet_id == NULL)
			return kiln_error_set(KILN_ERROR, "DescribeSubnets reply lacks subnetId");
	}
	return 0;
}

int kiln_ec2_describe_subnets(struct kiln_ec2_subnet_list **out, struct kiln_aws *aws,
                              const struct kiln_ec2_describe *d)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_subnet_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	kiln_ec2_query_describe(&q, d, "SubnetId", NULL);
	error = kiln_aws_paginate(aws, EC2, "DescribeSubnets", &q, "NextToken", "", "nextToken",
	                          ec2_parse_subnets, l);
	if (error < 0)
		kiln_ec2_subnet_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

/* Tags. */

static int tags_call(struct kiln_aws *aws, const char *action, const char *const *ids, size_t n,
                     const struct kiln_aws_tags *tags)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(aws != NULL && ids != NULL && n > 0);
	kiln_aws_query_strings(&q, KILN_QUERY_EC2, "ResourceId", ids, n);
	kiln_aws_query_tags(&q, KILN_QUERY_EC2, "Tag", tags);
	error = kiln_aws_call(aws, EC2, action, &q, NULL, NULL, NULL);
	kiln_query_release(&q);
	return error;
}

int kiln_ec2_create_tags(struct kiln_aws *aws, const char *const *resource_ids, size_t n,
                         const struct kiln_aws_tags *tags)
{
	KILN_ASSERT_ARG(tags != NULL && tags->n > 0);
	return tags_call(aws, "CreateTags", resource_ids, n, tags);
}

int kiln_ec2_delete_tags(struct kiln_aws *aws, const char *const *resource_ids, size_t n,
                         const struct kiln_aws_tags *tags)
{
	return tags_call(aws, "DeleteTags", resource_ids, n, tags);
}

void kiln_ec2_tag_description_list_free(struct kiln_ec2_tag_description_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].resource_id);
		free(l->v[i].resource_type);
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	free(l);
}

KILN_STATIC int ec2_parse_tag_descriptions(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_ec2_tag_description_list *l = arg;
	xmlNodePtr it;

	for (it = kiln_xml_first_child(result, "tagSet"); it; it = kiln_xml_next(it)) {
		struct kiln_ec2_tag_description *t =
		    kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*t));

		t->resource_id = kiln_aws_xml_dup(x, it, "resourceId");
		t->resource_type = kiln_aws_xml_dup(x, it, "resourceType");
		t->key = kiln_aws_xml_dup(x, it, "key");
		t->value = kiln_aws_xml_dup(x, it, "value");
		if (t->resource_id == NULL || t->key == NULL)
			return kiln_error_set(KILN_ERROR,
			                      "DescribeTags reply lacks resourceId or key");
		if (t->value == NULL)
			t->value = kiln_xstrdup("");
	}
	return 0;
}

int kiln_ec2_describe_tags(struct kiln_ec2_tag_description_list **out, struct kiln_aws *aws,
                           const struct kiln_ec2_describe *d)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_tag_description_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	kiln_ec2_query_describe(&q, d, NULL, NULL);
	error = kiln_aws_paginate(aws, EC2, "DescribeTags", &q, "NextToken", "", "nextToken",
	                          ec2_parse_tag_descriptions, l);
	if (error < 0)
		kiln_ec2_tag_description_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}
