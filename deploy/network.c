/*
 * The network of a deploy: the VPC and subnets (by tag, else the default
 * VPC's default subnets) and the two security groups. The load balancer's
 * group admits the listener ports from deploy.allowed_sources; the fleet's
 * admits only the load balancer's group, on the instance port. Rules that
 * drifted are put back: missing ones authorized, others revoked (SSH on the
 * fleet is revoked unless policy.allow_fleet_ssh).
 */
#include "aws/ec2.h"
#include "bake/gc.h"
#include "core/json.h"
#include "core/util.h"
#include "deploy/deploy-int.h"

#include <string.h>

static int find_vpc(struct deploy *d)
{
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	struct kiln_ec2_describe q = {.filters = &f};
	struct kiln_ec2_vpc_list *l = NULL;
	int error;

	kiln_aws_filters_add(&f, "is-default", "true");
	error = kiln_ec2_describe_vpcs(&l, d->aws, &q);
	if (error >= 0 && l->n == 0)
		error = kiln_error_set(KILN_ENOTFOUND,
		                       "the account has no default VPC: name the subnets with "
		                       "deploy.subnets.tags");
	if (error >= 0)
		d->vpc_id = kiln_xstrdup(l->v[0].vpc_id);
	kiln_ec2_vpc_list_free(l);
	kiln_aws_filters_release(&f);
	return error;
}

static int find_subnets(struct deploy *d)
{
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	struct kiln_ec2_describe q = {.filters = &f};
	struct kiln_ec2_subnet_list *l = NULL;
	size_t i;
	int error = 0;

	if (d->spec->nsubnet_tags == 0) {
		error = find_vpc(d);
		if (error < 0)
			goto done;
		kiln_aws_filters_add(&f, "vpc-id", d->vpc_id);
		kiln_aws_filters_add(&f, "default-for-az", "true");
	}
	for (i = 0; i < d->spec->nsubnet_tags; i++) {
		char *name = kiln_xasprintf("tag:%s", d->spec->subnet_tags[i].key);
		kiln_aws_filters_add(&f, name, d->spec->subnet_tags[i].value);
		free(name);
	}
	error = kiln_ec2_describe_subnets(&l, d->aws, &q);
	if (error < 0)
		goto done;
	if (l->n == 0) {
		error = kiln_error_set(KILN_ENOTFOUND, "no subnet matches deploy.subnets");
		goto done;
	}
	if (d->vpc_id == NULL)
		d->vpc_id = kiln_xstrdup(l->v[0].vpc_id);
	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].vpc_id, d->vpc_id) != 0) {
			error = kiln_error_set(
			    KILN_EINVAL, "deploy.subnets: the subnets are in several VPCs (%s, %s)",
			    d->vpc_id, l->v[i].vpc_id);
			goto done;
		}
		kiln_aws_strings_add(&d->subnets, l->v[i].subnet_id);
	}
done:
	kiln_ec2_subnet_list_free(l);
	kiln_aws_filters_release(&f);
	return error < 0 ? kiln_error_prefix(error, "finding the network") : 0;
}

/* A rule as the deploy wants it: one port, from a CIDR or from a group. */
struct want {
	int port;
	const char *cidr;
	const char *group;
};

static int rule_wanted(const struct want *w, size_t n, int from, int to, const char *cidr,
                       const char *group)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (w[i].port == from && w[i].port == to &&
		    ((cidr && w[i].cidr && strcmp(cidr, w[i].cidr) == 0) ||
		     (group && w[i].group && strcmp(group, w[i].group) == 0)))
			return 1;
	return 0;
}

static int rule_present(const struct kiln_ec2_security_group *g, const struct want *w)
{
	size_t i, k;

	for (i = 0; i < g->n_ingress; i++) {
		const struct kiln_ec2_sg_rule *r = &g->ingress[i];
		if (strcmp(r->ip_protocol, "tcp") != 0 || r->from_port != w->port ||
		    r->to_port != w->port)
			continue;
		for (k = 0; w->cidr && k < r->cidrs.n; k++)
			if (strcmp(r->cidrs.v[k], w->cidr) == 0)
				return 1;
		for (k = 0; w->group && k < r->group_ids.n; k++)
			if (strcmp(r->group_ids.v[k], w->group) == 0)
				return 1;
	}
	return 0;
}

static int allow_fleet_ssh(const struct deploy *d)
{
	return kiln_json_bool(json_object_get(d->profile->json, "policy"), "allow_fleet_ssh", 0);
}

/* Revoke every source of `g` that `w` does not hold (SSH kept on the fleet when allowed). */
static int revoke_extra(struct deploy *d, const struct kiln_ec2_security_group *g,
                        const struct want *w, size_t n, int keep_ssh)
{
	size_t i, k;
	int error;

	for (i = 0; i < g->n_ingress; i++) {
		const struct kiln_ec2_sg_rule *r = &g->ingress[i];
		int tcp = strcmp(r->ip_protocol, "tcp") == 0;

		if (keep_ssh && tcp && r->from_port <= 22 && r->to_port >= 22)
			continue;
		for (k = 0; k < r->cidrs.n + r->group_ids.n; k++) {
			const char *cidr = k < r->cidrs.n ? r->cidrs.v[k] : NULL;
			const char *grp = k < r->cidrs.n ? NULL : r->group_ids.v[k - r->cidrs.n];
			struct kiln_ec2_ip_permission p = {.ip_protocol = r->ip_protocol,
			                                   .from_port = r->from_port,
			                                   .to_port = r->to_port};

			if (tcp && rule_wanted(w, n, r->from_port, r->to_port, cidr, grp))
				continue;
			p.cidrs = cidr ? &cidr : NULL;
			p.n_cidrs = cidr ? 1 : 0;
			p.group_ids = grp ? &grp : NULL;
			p.n_group_ids = grp ? 1 : 0;
			kiln_deploy__say(d, "security group %s: revoking %s %d-%d from %s (drift)",
			                 g->group_id, r->ip_protocol, r->from_port, r->to_port,
			                 cidr ? cidr : grp);
			error = kiln_ec2_revoke_ingress(d->aws, g->group_id, &p, 1);
			if (error < 0)
				return error;
		}
	}
	return 0;
}

static int authorize_missing(struct deploy *d, const struct kiln_ec2_security_group *g,
                             const char *id, const struct want *w, size_t n)
{
	size_t i;
	int error;

	for (i = 0; i < n; i++) {
		struct kiln_ec2_ip_permission p = {
		    .ip_protocol = "tcp", .from_port = w[i].port, .to_port = w[i].port};

		if (g != NULL && rule_present(g, &w[i]))
			continue;
		p.cidrs = w[i].cidr ? &w[i].cidr : NULL;
		p.n_cidrs = w[i].cidr ? 1 : 0;
		p.group_ids = w[i].group ? &w[i].group : NULL;
		p.n_group_ids = w[i].group ? 1 : 0;
		p.description = "kiln deploy";
		error = kiln_ec2_authorize_ingress(d->aws, id, &p, 1);
		if (error < 0)
			return error;
	}
	return 0;
}

/* The group named `name` in the VPC (made when missing and `create`), its rules as `w`. */
static int ensure_group(char **id, struct deploy *d, const char *role, const struct want *w,
                        size_t n, int create)
{
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	struct kiln_ec2_describe q = {.filters = &f};
	struct kiln_ec2_security_group_list *l = NULL;
	struct kiln_aws_tags tags = KILN_AWS_LIST_INIT;
	struct kiln_ec2_tag_spec spec = {"security-group", &tags};
	char *name = kiln_deploy_name(d->profile->name, d->env, role, 255), *desc;
	size_t i;
	int error;

	kiln_aws_filters_add(&f, "group-name", name);
	kiln_aws_filters_add(&f, "vpc-id", d->vpc_id);
	error = kiln_ec2_describe_security_groups(&l, d->aws, &q);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		error = 0;
	}
	if (error < 0)
		goto done;
	if (l != NULL && l->n > 0) {
		*id = kiln_xstrdup(l->v[0].group_id);
		if (create) {
			error = revoke_extra(d, &l->v[0], w, n,
			                     strcmp(role, "fleet") == 0 && allow_fleet_ssh(d));
			if (error >= 0)
				error = authorize_missing(d, &l->v[0], *id, w, n);
		}
		goto done;
	}
	if (!create) {
		error = KILN_ENOTFOUND;
		goto done;
	}
	for (i = 0; i < d->tags.n; i++)
		kiln_aws_tags_add(&tags, d->tags.v[i].key, d->tags.v[i].value);
	kiln_aws_tags_add(&tags, TAG_ROLE, role);
	desc = kiln_xasprintf("kiln deploy of %s (%s): %s", d->profile->name, d->env,
	                      strcmp(role, "lb") == 0 ? "load balancer" : "fleet");
	error = kiln_ec2_create_security_group(id, d->aws, name, desc, d->vpc_id, &spec, 1);
	free(desc);
	if (error >= 0) {
		kiln_deploy__say(d, "security group %s (%s) created", *id, name);
		error = authorize_missing(d, NULL, *id, w, n);
	}
done:
	kiln_ec2_security_group_list_free(l);
	kiln_aws_filters_release(&f);
	kiln_aws_tags_release(&tags);
	if (error < 0 && error != KILN_ENOTFOUND)
		kiln_error_prefix(error, "security group '%s'", name);
	free(name);
	return error;
}

int kiln_deploy__network(struct deploy *d, int create)
{
	const struct kiln_deploy_spec *s = d->spec;
	struct want *lb = kiln_xcalloc(2 * s->nallowed_sources + 1, sizeof(*lb));
	struct want fleet[1];
	size_t i, n = 0;
	int error;

	error = find_subnets(d);
	if (error < 0)
		goto done;
	for (i = 0; i < s->nallowed_sources; i++) {
		lb[n++] = (struct want){s->port, s->allowed_sources[i], NULL};
		lb[n++] = (struct want){s->test_port, s->allowed_sources[i], NULL};
	}
	error = ensure_group(&d->lb_sg, d, "lb", lb, n, create);
	if (error == KILN_ENOTFOUND && !create)
		error = 0;
	if (error < 0)
		goto done;
	fleet[0] = (struct want){s->instance_port, NULL, d->lb_sg};
	error = ensure_group(&d->fleet_sg, d, "fleet", fleet, 1, create);
	if (error == KILN_ENOTFOUND && !create)
		error = 0;
done:
	free(lb);
	return error;
}

int kiln_deploy__network_remove(struct deploy *d)
{
	char *const ids[] = {d->fleet_sg, d->lb_sg};
	size_t i;
	int error = 0, e;

	for (i = 0; i < KILN_ARRAY_SIZE(ids); i++) {
		if (ids[i] == NULL)
			continue;
		/* A load balancer or instance just deleted may hold it a little longer. */
		e = kiln_gc_delete_security_group(d->aws, ids[i], 300);
		if (e == KILN_ENOTFOUND) {
			kiln_error_clear();
			e = 0;
		}
		if (e < 0)
			error = e;
		else
			kiln_deploy__say(d, "security group %s deleted", ids[i]);
	}
	return error;
}
