/*
 * `kiln status`: what is deployed for a profile and environment, read from
 * the cloud alone (listeners, groups and their tags, target health, the
 * lease). It changes nothing and takes no lease.
 */
#include "core/util.h"
#include "deploy/deploy-int.h"

#include <string.h>

static json_t *group_json(struct deploy *d, const struct kiln_asg_group *g)
{
	struct kiln_elbv2_target_health_list *hl = NULL;
	int color = kiln_deploy__gcolor(g);
	json_t *j, *instances = json_array();
	size_t i, k;

	if (color >= 0 && d->tg[color] != NULL && kiln_deploy__health(&hl, d, color, NULL, 0) < 0)
		kiln_error_clear();
	for (i = 0; i < g->n_instances; i++) {
		const struct kiln_asg_instance *in = &g->instances[i];
		const struct kiln_elbv2_target_health *th = NULL;

		for (k = 0; hl != NULL && k < hl->n; k++)
			if (strcmp(hl->v[k].id, in->instance_id) == 0)
				th = &hl->v[k];
		json_array_append_new(instances,
		                      json_pack("{s:s, s:s?, s:s?, s:s?}", "id", in->instance_id,
		                                "state", in->lifecycle_state, "health",
		                                th ? th->state : "unregistered", "reason",
		                                th ? th->reason : NULL));
	}
	j = json_pack("{s:s?, s:s, s:s?, s:s?, s:s?, s:i, s:s?, s:o}", "color",
	              color >= 0 ? kiln_color_name(color) : NULL, "group", g->name, "release",
	              kiln_deploy__gtag(g, TAG_RELEASE), "image_id",
	              kiln_deploy__gtag(g, TAG_IMAGE), "app_commit",
	              kiln_deploy__gtag(g, TAG_APP_COMMIT), "desired", g->desired_capacity,
	              "retire_at", kiln_deploy__gtag(g, TAG_RETIRE_AT), "instances", instances);
	kiln_elbv2_target_health_list_free(hl);
	if (j == NULL)
		kiln_die("out of memory");
	return j;
}

static json_t *lease_json(struct deploy *d)
{
	struct kiln_lease_holder h;
	char *name = kiln_deploy_lease_name(d->profile->name, d->env), when[32];
	json_t *j = json_null();

	if (kiln_lease_read(&h, d->aws, name) >= 0) {
		kiln_time_iso8601(when, h.expires, 0);
		j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:b}", "run_id", h.run_id, "caller",
		              h.caller, "host", h.host, "pid", (int)h.pid, "expires", when,
		              "expired", h.expires < kiln_time_now());
		kiln_lease_holder_release(&h);
	}
	kiln_error_clear();
	free(name);
	return j;
}

/* Groups on neither side: being deleted, or left by a run that did not finish. */
static json_t *others_json(const struct deploy *d, const struct kiln_asg_group *live,
                           const struct kiln_asg_group *prev)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; d->groups != NULL && i < d->groups->n; i++) {
		const struct kiln_asg_group *g = &d->groups->v[i];
		if (g == live || g == prev)
			continue;
		json_array_append_new(a, json_pack("{s:s, s:s?, s:s?}", "group", g->name, "status",
		                                   g->status, "color",
		                                   kiln_deploy__gtag(g, TAG_COLOR)));
	}
	return a;
}

static int status_json(json_t **out, struct deploy *d)
{
	const struct kiln_asg_group *live = NULL, *prev = NULL;
	char *url = NULL, *test = NULL;
	int error = 0;

	if (d->lb_arn != NULL) {
		error = kiln_deploy__groups(d);
		if (error < 0)
			return error;
		live = kiln_deploy__live_group(d);
		prev = kiln_deploy__idle_group(d);
		/* A group on the idle colour is the previous one only once it has its retirement.
		 */
		if (prev != NULL && kiln_deploy__gtag(prev, TAG_RETIRE_AT) == NULL)
			prev = NULL;
		url = kiln_deploy__url(d, 0);
		test = kiln_deploy__url(d, 1);
	}
	*out = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:o, s:o, s:o, s:o}", "profile",
	                 d->profile->name, "env", d->env, "url", url, "test_url", test,
	                 "load_balancer", d->lb_arn, "live_color",
	                 d->live >= 0 ? kiln_color_name(d->live) : NULL, "live",
	                 live ? group_json(d, live) : json_null(), "previous",
	                 prev ? group_json(d, prev) : json_null(), "lease", lease_json(d), "others",
	                 others_json(d, live, prev));
	free(url);
	free(test);
	if (*out == NULL)
		kiln_die("out of memory");
	return 0;
}

/* A read-only stage: the environment's load balancer and traffic found, nothing changed. */
static int look(struct deploy *d, struct kiln_profile *profile,
                const struct kiln_deploy_options *opts)
{
	int error = kiln_deploy__init(d, profile, opts, "status");

	if (error >= 0)
		error = kiln_deploy__connect(d);
	if (error >= 0)
		error = kiln_deploy__traffic(d, 0);
	return error;
}

int kiln_deploy_status(char **out, struct kiln_profile *profile,
                       const struct kiln_deploy_options *opts)
{
	struct deploy d;
	json_t *j = NULL;
	int error;

	KILN_ASSERT_ARG(out != NULL && profile != NULL);
	*out = NULL;
	error = look(&d, profile, opts);
	if (error >= 0)
		error = status_json(&j, &d);
	if (error >= 0) {
		*out = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (*out == NULL)
			kiln_die("out of memory");
	}
	json_decref(j);
	kiln_emitter_end(&d.events, error);
	kiln_deploy__release(&d);
	return error;
}

int kiln_deploy_live_image(char **out, struct kiln_profile *profile,
                           const struct kiln_deploy_options *opts)
{
	const struct kiln_asg_group *live;
	struct deploy d;
	int error;

	KILN_ASSERT_ARG(out != NULL && profile != NULL);
	*out = NULL;
	error = look(&d, profile, opts);
	if (error >= 0 && d.lb_arn != NULL && d.live >= 0)
		error = kiln_deploy__groups(&d);
	if (error >= 0 && d.groups != NULL) {
		live = kiln_deploy__live_group(&d);
		if (live != NULL && kiln_deploy__gtag(live, TAG_IMAGE) != NULL)
			*out = kiln_xstrdup(kiln_deploy__gtag(live, TAG_IMAGE));
	}
	kiln_emitter_end(&d.events, error);
	kiln_deploy__release(&d);
	return error;
}
