/*
 * Internal to the local cloud's EC2 handlers: what ec2_api.c and
 * ec2_instances.c share. Everything here runs with cloud->mu held.
 */
#ifndef KILN_LOCALCLOUD_EC2_INT_H
#define KILN_LOCALCLOUD_EC2_INT_H

#include <jansson.h>

#include "localcloud/cloud-int.h"

/* MaxResults / NextToken over `total` items: the slice to return. */
int lc_page(struct lc_req *r, size_t total, size_t *first, size_t *count, long long max_default);
void lc_next_token(struct lc_req *r, size_t first, size_t count, size_t total);

const char *lc_default_vpc(struct lc_cloud *c);
json_t *lc_subnet(struct lc_cloud *c, const char *id);
/* Addresses of live instances in a subnet. */
long long lc_subnet_used(struct lc_cloud *c, const char *subnet_id);
json_t *lc_group_by_name(struct lc_cloud *c, const char *name);
void lc_ensure_default_group(struct lc_cloud *c);
json_t *lc_key_pair(struct lc_cloud *c, const char *name);
/* "instance", "image", ... for a state table name. */
const char *lc_resource_type(const char *kind);
/* A launch template by id or name, and one of its versions ($Default, $Latest, N). */
json_t *lc_template(struct lc_req *r, const char *id, const char *name);
json_t *lc_template_version(struct lc_req *r, json_t *t, const char *version);

#endif
