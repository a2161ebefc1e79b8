/*
 * `kiln destroy`: everything a deploy made for a profile and environment,
 * removed in dependency order: the groups (their instances terminated),
 * the load balancer (its listeners with it), the target groups, the
 * launch template, the security groups, the lease. Images stay. It takes
 * the lease first, so it never races a deploy.
 */
#include "core/util.h"
#include "deploy/deploy-int.h"

#include <string.h>

static void item(json_t *a, const char *kind, const char *id, int deleted)
{
	if (id != NULL)
		json_array_append_new(
		    a, json_pack("{s:s, s:s, s:b}", "kind", kind, "id", id, "deleted", deleted));
}

static void listing(json_t *a, const struct deploy *d, int deleted)
{
	size_t i;

	for (i = 0; d->groups != NULL && i < d->groups->n; i++)
		item(a, "auto-scaling-group", d->groups->v[i].name, deleted);
	item(a, "load-balancer", d->lb_arn, deleted);
	item(a, "listener", d->prod, deleted);
	item(a, "listener", d->test, deleted);
	item(a, "target-group", d->tg[0], deleted);
	item(a, "target-group", d->tg[1], deleted);
	item(a, "launch-template", d->lt_id, deleted);
	item(a, "security-group", d->fleet_sg, deleted);
	item(a, "security-group", d->lb_sg, deleted);
	if (d->lease.name != NULL)
		item(a, "lease", d->lease.name, deleted);
}

static int remove_all(struct deploy *d)
{
	size_t i;
	int error = 0;

	for (i = 0; i < d->groups->n; i++) {
		error = kiln_deploy__group_remove(d, d->groups->v[i].name, "destroy");
		if (error < 0)
			return error;
	}
	if (d->groups->n > 0) {
		/* Instances hold the fleet's security group until they are gone. */
		error = kiln_deploy__groups_gone(d, 600);
		if (error < 0)
			return error;
		kiln_deploy__say(d, "every group and its instances are gone");
	}
	error = kiln_deploy__traffic_remove(d);
	if (error >= 0 && d->lt_id != NULL)
		error = kiln_deploy__template_remove(d);
	return error;
}

int kiln_destroy(char **out, struct kiln_profile *profile, int dry_run,
                 const struct kiln_deploy_options *opts)
{
	struct deploy d;
	json_t *a = json_array();
	int error;

	KILN_ASSERT_ARG(profile != NULL);
	if (out != NULL)
		*out = NULL;
	error = kiln_deploy__init(&d, profile, opts, "destroy");
	d.events.base.dry_run = dry_run;
	if (error >= 0)
		error = kiln_deploy__connect(&d);
	if (error >= 0 && !dry_run)
		error = kiln_deploy__lease(&d);
	if (error >= 0)
		error = kiln_deploy__traffic(&d, 0);
	if (error >= 0)
		error = kiln_deploy__groups(&d);
	if (error >= 0)
		error = kiln_deploy__template_find(&d);
	if (error >= 0)
		listing(a, &d, 0);
	if (error >= 0 && !dry_run) {
		size_t i;
		json_t *it;

		error = remove_all(&d);
		json_array_foreach(a, i, it)
		    json_object_set_new(it, "deleted", json_boolean(error >= 0));
	}
	if (out != NULL && error >= 0) {
		*out = json_dumps(a, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (*out == NULL)
			kiln_die("out of memory");
	}
	json_decref(a);
	kiln_emitter_end(&d.events, error);
	kiln_deploy__release(&d);
	return error;
}
