/*
 * The fleet: one launch template per profile and environment, a version of
 * it per release, and an Auto Scaling group per release in its colour's
 * target group with HealthCheckType ELB. The gate on a new group is the
 * load balancer's word, not the group's: every one of `desired` instances
 * InService in the group and `healthy` in the target group.
 */
#include "aws/autoscaling.h"
#include "aws/ec2.h"
#include "core/buf.h"
#include "core/util.h"
#include "deploy/deploy-int.h"

#include <string.h>

const char *kiln_deploy__gtag(const struct kiln_asg_group *g, const char *key)
{
	return kiln_aws_tags_get(&g->tags, key);
}

int kiln_deploy__gcolor(const struct kiln_asg_group *g)
{
	return kiln_color_parse(kiln_deploy__gtag(g, TAG_COLOR));
}

int kiln_deploy__gdeleting(const struct kiln_asg_group *g)
{
	return g->status != NULL && strstr(g->status, "Delete") != NULL;
}

/* Ours: the profile's and the environment's (filters are narrowed again here). */
static int ours(const struct deploy *d, const struct kiln_asg_group *g)
{
	const char *p = kiln_deploy__gtag(g, TAG_PROFILE), *e = kiln_deploy__gtag(g, TAG_ENV);

	return p != NULL && e != NULL && strcmp(p, d->profile->name) == 0 &&
	       strcmp(e, d->env) == 0 && kiln_deploy__gtag(g, TAG_MANAGED) != NULL;
}

int kiln_deploy__groups(struct deploy *d)
{
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	struct kiln_asg_group_list *l = NULL, *others;
	size_t i;
	int error;

	kiln_aws_filters_add(&f, "tag:" TAG_PROFILE, d->profile->name);
	kiln_aws_filters_add(&f, "tag:" TAG_ENV, d->env);
	error = kiln_asg_describe_groups(&l, d->aws, NULL, 0, &f, 0);
	kiln_aws_filters_release(&f);
	if (error < 0)
		return kiln_error_prefix(error, "listing the Auto Scaling groups");
	/* Ours stay in `l`, in order; the others move to a list of their own, freed here. */
	others = kiln_xcalloc(1, sizeof(*others));
	others->v = kiln_xcalloc(l->n + 1, sizeof(*others->v));
	for (i = 0; i < l->n;) {
		if (ours(d, &l->v[i])) {
			i++;
			continue;
		}
		others->v[others->n++] = l->v[i];
		memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
		l->n--;
	}
	kiln_asg_group_list_free(others);
	kiln_asg_group_list_free(d->groups);
	d->groups = l;
	return 0;
}

/* The newest group of `color` that is not being deleted and matches `retiring`. */
static const struct kiln_asg_group *group_of(const struct deploy *d, int color)
{
	const struct kiln_asg_group *best = NULL;
	size_t i;

	if (d->groups == NULL || color < 0)
		return NULL;
	for (i = 0; i < d->groups->n; i++) {
		const struct kiln_asg_group *g = &d->groups->v[i];
		if (kiln_deploy__gcolor(g) != color || kiln_deploy__gdeleting(g))
			continue;
		if (best == NULL || strcmp(g->created_time ? g->created_time : "",
		                           best->created_time ? best->created_time : "") > 0)
			best = g;
	}
	return best;
}

const struct kiln_asg_group *kiln_deploy__live_group(const struct deploy *d)
{
	return group_of(d, d->live);
}

const struct kiln_asg_group *kiln_deploy__idle_group(const struct deploy *d)
{
	return d->live >= 0 ? group_of(d, !d->live) : NULL;
}

/* The launch template of the profile and environment: found, or made with `data`. */
static int template_version(char **version, struct deploy *d,
                            const struct kiln_ec2_launch_template_data *data)
{
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	struct kiln_ec2_describe q = {.filters = &f};
	struct kiln_ec2_launch_template_list *l = NULL;
	struct kiln_ec2_launch_template *t = NULL;
	struct kiln_ec2_launch_template_version *v = NULL;
	char *name = kiln_deploy_name(d->profile->name, d->env, NULL, 128);
	int error;

	kiln_aws_filters_add(&f, "launch-template-name", name);
	error = kiln_ec2_describe_launch_templates(&l, d->aws, &q);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		error = 0;
	}
	if (error < 0)
		goto done;
	if (l != NULL && l->n > 0) {
		struct kiln_ec2_create_launch_template_version c = {0};

		free(d->lt_id);
		d->lt_id = kiln_xstrdup(l->v[0].launch_template_id);
		c.launch_template_id = d->lt_id;
		c.version_description = data->image_id;
		c.client_token = d->run_id;
		c.data = data;
		error = kiln_ec2_create_launch_template_version(&v, d->aws, &c);
		if (error >= 0)
			*version = kiln_xasprintf("%lld", v->version_number);
	} else {
		struct kiln_ec2_create_launch_template c = {0};

		c.name = name;
		c.version_description = data->image_id;
		c.client_token = d->run_id;
		c.data = data;
		c.tags = &d->tags;
		error = kiln_ec2_create_launch_template(&t, d->aws, &c);
		if (error >= 0) {
			free(d->lt_id);
			d->lt_id = kiln_xstrdup(t->launch_template_id);
			*version =
			    kiln_xasprintf("%lld", t->latest_version > 0 ? t->latest_version : 1LL);
			kiln_deploy__say(d, "launch template %s (%s) created", d->lt_id, name);
		}
	}
done:
	kiln_ec2_launch_template_list_free(l);
	kiln_ec2_launch_template_free(t);
	kiln_ec2_launch_template_version_free(v);
	kiln_aws_filters_release(&f);
	if (error < 0)
		kiln_error_prefix(error, "launch template '%s'", name);
	free(name);
	return error;
}

/* The group's tags: the deploy's own, colour and release; all propagated to instances. */
static struct kiln_asg_tag *group_tags(size_t *n, struct deploy *d, const char *name, int color,
                                       const struct kiln_release_spec *rel)
{
	struct kiln_asg_tag *t = kiln_xcalloc(d->tags.n + 6, sizeof(*t));
	size_t i, k = 0;

	for (i = 0; i < d->tags.n; i++)
		t[k++] = (struct kiln_asg_tag){name, d->tags.v[i].key, d->tags.v[i].value, 1};
	t[k++] = (struct kiln_asg_tag){name, TAG_COLOR, kiln_color_name(color), 1};
	t[k++] = (struct kiln_asg_tag){name, TAG_RELEASE, rel->release, 1};
	t[k++] = (struct kiln_asg_tag){name, TAG_IMAGE, rel->image_id, 1};
	if (rel->app_commit != NULL)
		t[k++] = (struct kiln_asg_tag){name, TAG_APP_COMMIT, rel->app_commit, 1};
	t[k++] = (struct kiln_asg_tag){name, TAG_RUN_ID, d->run_id, 1};
	*n = k;
	return t;
}

int kiln_deploy__group_create(char **name, struct deploy *d, int color,
                              const struct kiln_release_spec *rel)
{
	struct kiln_ec2_launch_template_data data = {0};
	struct kiln_aws_tags itags = KILN_AWS_LIST_INIT;
	struct kiln_ec2_tag_spec ts = {"instance", &itags};
	struct kiln_asg_group_spec s;
	struct kiln_asg_tag *tags = NULL;
	struct kiln_buf zones = KILN_BUF_INIT;
	const char *sgs[] = {d->fleet_sg}, *tgs[] = {d->tg[color]};
	char *version = NULL, *run6 = kiln_xstrndup(d->run_id + strcspn(d->run_id, "-") + 1, 8);
	size_t i, ntags = 0;
	int error;

	*name = kiln_deploy_group_name(d->profile->name, d->env, color, rel->release, run6);
	for (i = 0; i < d->tags.n; i++)
		kiln_aws_tags_add(&itags, d->tags.v[i].key, d->tags.v[i].value);
	kiln_aws_tags_add(&itags, TAG_ROLE, "fleet");
	data.image_id = rel->image_id;
	data.instance_type = d->spec->instance_type;
	data.security_group_ids = sgs;
	data.n_security_group_ids = 1;
	data.iam_instance_profile_name = d->spec->instance_profile;
	data.tag_specs = &ts;
	data.n_tag_specs = 1;
	error = template_version(&version, d, &data);
	if (error < 0)
		goto done;
	for (i = 0; i < d->subnets.n; i++)
		kiln_buf_printf(&zones, "%s%s", i ? "," : "", d->subnets.v[i]);
	tags = group_tags(&ntags, d, *name, color, rel);
	kiln_asg_group_spec_init(&s);
	s.name = *name;
	s.launch_template_id = d->lt_id;
	s.launch_template_version = version;
	s.min_size = d->spec->capacity_min;
	s.max_size = d->spec->capacity_max;
	s.desired_capacity = d->spec->capacity_desired;
	s.vpc_zone_identifier = zones.ptr;
	s.target_group_arns = tgs;
	s.n_target_group_arns = 1;
	s.health_check_type = "ELB";
	s.health_check_grace_period_s = d->spec->health.grace_period_s;
	s.tags = tags;
	s.n_tags = ntags;
	error = kiln_asg_create_group(d->aws, &s);
	if (error < 0) {
		kiln_error_prefix(error, "creating Auto Scaling group '%s'", *name);
		goto done;
	}
	kiln_deploy__say(d, "group %s created on %s: %d instances of %s (launch template %s v%s)",
	                 *name, kiln_color_name(color), d->spec->capacity_desired, rel->image_id,
	                 d->lt_id, version);
done:
	free(tags);
	free(version);
	free(run6);
	kiln_buf_release(&zones);
	kiln_aws_tags_release(&itags);
	return error;
}

/* Why the group is not ready: each instance's state and health, the last activity. */
static void explain(struct kiln_buf *why, struct deploy *d, const char *name,
                    const struct kiln_asg_group *g, const struct kiln_elbv2_target_health_list *h)
{
	struct kiln_asg_activity_list *al = NULL;
	size_t i, k;

	for (i = 0; g != NULL && i < g->n_instances; i++) {
		const struct kiln_asg_instance *in = &g->instances[i];
		const struct kiln_elbv2_target_health *th = NULL;

		for (k = 0; h != NULL && k < h->n; k++)
			if (strcmp(h->v[k].id, in->instance_id) == 0)
				th = &h->v[k];
		kiln_buf_printf(why, "; %s %s", in->instance_id, in->lifecycle_state);
		if (th != NULL)
			kiln_buf_printf(why, ", target %s%s%s%s%s", th->state,
			                th->reason ? " (" : "", th->reason ? th->reason : "",
			                th->description ? ": " : "",
			                th->description ? th->description : "");
		if (th != NULL && th->reason != NULL)
			kiln_buf_puts(why, ")");
	}
	if (kiln_asg_describe_activities(&al, d->aws, name, NULL, 0, 1) >= 0 && al->n > 0)
		kiln_buf_printf(why, "; last scaling activity: %s: %s",
		                al->v[0].status_code ? al->v[0].status_code : "?",
		                al->v[0].cause         ? al->v[0].cause
		                : al->v[0].description ? al->v[0].description
		                                       : "");
	kiln_error_clear();
	kiln_asg_activity_list_free(al);
}

/* One look: the group's InService ids, and how many of them are healthy. */
static int look(struct kiln_asg_group_list **gl, struct kiln_elbv2_target_health_list **hl,
                int *in_service, int *healthy, struct deploy *d, const char *name, int color)
{
	const char *names[] = {name};
	const char **ids = NULL;
	size_t i, n = 0;
	int error;

	*in_service = *healthy = 0;
	error = kiln_asg_describe_groups(gl, d->aws, names, 1, NULL, 0);
	if (error < 0)
		return error;
	if ((*gl)->n == 0)
		return kiln_error_set(KILN_ERROR, "group '%s' is gone", name);
	ids = kiln_xcalloc((*gl)->v[0].n_instances + 1, sizeof(*ids));
	for (i = 0; i < (*gl)->v[0].n_instances; i++) {
		const struct kiln_asg_instance *in = &(*gl)->v[0].instances[i];
		if (in->lifecycle_state != NULL && strcmp(in->lifecycle_state, "InService") == 0)
			ids[n++] = in->instance_id;
	}
	*in_service = (int)n;
	if (n > 0) {
		error = kiln_deploy__health(hl, d, color, ids, n);
		for (i = 0; error >= 0 && i < (*hl)->n; i++)
			if ((*hl)->v[i].state != NULL && strcmp((*hl)->v[i].state, "healthy") == 0)
				(*healthy)++;
	}
	free(ids);
	return error;
}

int kiln_deploy__group_wait(struct deploy *d, const char *name, int color, int desired)
{
	double start = kiln_time_mono(), deadline = start + d->spec->timeout_s;
	double pause = 0.25, cap = d->spec->health.interval_s / 2.0;
	int in_service = 0, healthy = 0, shown = -1, error;
	struct kiln_buf why = KILN_BUF_INIT;

	if (cap < 1)
		cap = 1;
	for (;;) {
		struct kiln_asg_group_list *gl = NULL;
		struct kiln_elbv2_target_health_list *hl = NULL;

		error = kiln_deploy__tick(d);
		if (error >= 0)
			error = look(&gl, &hl, &in_service, &healthy, d, name, color);
		if (error >= 0 && in_service * 1000 + healthy != shown) {
			kiln_deploy__say(d, "group %s: %d/%d in service, %d/%d healthy", name,
			                 in_service, desired, healthy, desired);
			shown = in_service * 1000 + healthy;
		}
		if (error >= 0 && healthy >= desired) {
			kiln_asg_group_list_free(gl);
			kiln_elbv2_target_health_list_free(hl);
			break;
		}
		if (error >= 0 && kiln_time_mono() + pause > deadline) {
			explain(&why, d, name, gl && gl->n ? &gl->v[0] : NULL, hl);
			error = kiln_error_set(KILN_ETIMEOUT,
			                       "group %s: %d of %d instances healthy after %d s%s",
			                       name, healthy, desired, d->spec->timeout_s, why.ptr);
		}
		kiln_asg_group_list_free(gl);
		kiln_elbv2_target_health_list_free(hl);
		if (error < 0)
			break;
		error = kiln_sleep(pause, d->stop);
		if (error < 0)
			break;
		pause = pause * 2 < cap ? pause * 2 : cap;
	}
	kiln_buf_release(&why);
	return error;
}

int kiln_deploy__group_remove(struct deploy *d, const char *name, const char *why)
{
	int error;

	kiln_deploy__say(d, "removing group %s (%s)", name, why);
	error = kiln_asg_delete_group(d->aws, name, 1);
	/* Already gone, or being deleted: what we want. */
	if (error < 0 && (error == KILN_ENOTFOUND ||
	                  strcmp(kiln_aws_last_error()->code, "ValidationError") == 0 ||
	                  strcmp(kiln_aws_last_error()->code, "ScalingActivityInProgress") == 0)) {
		kiln_error_clear();
		error = 0;
	}
	return error < 0 ? kiln_error_prefix(error, "deleting group '%s'", name) : 0;
}

int kiln_deploy__groups_gone(struct deploy *d, double timeout)
{
	double deadline = kiln_time_mono() + timeout, pause = 0.25;
	int error;

	for (;;) {
		error = kiln_deploy__groups(d);
		if (error < 0 || d->groups->n == 0)
			return error;
		if (kiln_time_mono() + pause > deadline)
			return kiln_error_set(KILN_ETIMEOUT,
			                      "%zu groups still being deleted after %.0f s",
			                      d->groups->n, timeout);
		error = kiln_sleep(pause, NULL);
		if (error < 0)
			return error;
		pause = pause < 2 ? pause * 2 : 2;
	}
}

int kiln_deploy__group_tag(struct deploy *d, const char *name, const char *key, const char *value)
{
	struct kiln_asg_tag t = {name, key, value, 0};
	int error;

	if (value != NULL)
		error = kiln_asg_create_or_update_tags(d->aws, &t, 1);
	else
		error = kiln_asg_delete_tags(d->aws, &t, 1);
	return error < 0 ? kiln_error_prefix(error, "tagging group '%s'", name) : 0;
}

int kiln_deploy__template_find(struct deploy *d)
{
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	struct kiln_ec2_describe q = {.filters = &f};
	struct kiln_ec2_launch_template_list *l = NULL;
	char *name = kiln_deploy_name(d->profile->name, d->env, NULL, 128);
	int error;

	kiln_aws_filters_add(&f, "launch-template-name", name);
	error = kiln_ec2_describe_launch_templates(&l, d->aws, &q);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		error = 0;
	}
	if (error >= 0 && l != NULL && l->n > 0) {
		free(d->lt_id);
		d->lt_id = kiln_xstrdup(l->v[0].launch_template_id);
	}
	kiln_ec2_launch_template_list_free(l);
	kiln_aws_filters_release(&f);
	free(name);
	return error;
}

int kiln_deploy__template_remove(struct deploy *d)
{
	int error = d->lt_id == NULL ? kiln_deploy__template_find(d) : 0;

	if (error >= 0 && d->lt_id != NULL) {
		error = kiln_ec2_delete_launch_template(d->aws, d->lt_id, NULL);
		if (error >= 0)
			kiln_deploy__say(d, "launch template %s deleted", d->lt_id);
	}
	return error;
}
