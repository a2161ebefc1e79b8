/*
 * What every deploy command shares: the run's set-up and tear-down, its
 * events, the client, the lease, and results (kiln/deploy.h).
 */
#include "aws/sts.h"
#include "bake/target.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "deploy/deploy-int.h"
#include "kiln/policy.h"

#include <string.h>

static const struct kiln_deploy_options default_options = KILN_DEPLOY_OPTIONS_INIT;

void kiln_deploy__say(const struct deploy *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kiln_emit_v(&d->events, KILN_EVENT_PROGRESS, NULL, fmt, ap);
	va_end(ap);
}

void kiln_deploy__warn(const struct deploy *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kiln_emit_v(&d->events, KILN_EVENT_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void kiln_deploy__step_done(struct deploy *d, const char *step)
{
	double now = kiln_time_mono();
	struct kiln_event ev = {.kind = KILN_EVENT_STEP_DONE, .step = step};

	ev.seconds = now - d->step_start;
	if (d->result != NULL) {
		json_t *had = json_object_get(d->result->steps, step);
		json_object_set_new(d->result->steps, step,
		                    json_real(ev.seconds + (had ? json_real_value(had) : 0)));
	}
	kiln_emit_event(&d->events, &ev);
	d->step_start = now;
}

int kiln_deploy__init(struct deploy *d, struct kiln_profile *profile,
                      const struct kiln_deploy_options *opts, const char *stage)
{
	size_t i;

	if (opts == NULL)
		opts = &default_options;
	KILN_ASSERT_ARG(opts->version >= 1 && opts->version <= KILN_DEPLOY_OPTIONS_VERSION);
	memset(d, 0, sizeof(*d));
	d->profile = profile;
	d->spec = &profile->deploy;
	d->opts = opts;
	d->env = kiln_deploy_env_name(profile->env);
	d->run_id = kiln_id_random("deploy-", 12);
	d->stop = opts->stop;
	d->live = d->test_color = -1;
	d->lease = (struct kiln_deploy_lease)KILN_DEPLOY_LEASE_INIT;
	d->step_start = kiln_time_mono();
	kiln_aws_tags_add(&d->tags, TAG_PROFILE, profile->name);
	kiln_aws_tags_add(&d->tags, TAG_ENV, d->env);
	kiln_aws_tags_add(&d->tags, TAG_MANAGED, "true");
	for (i = 0; i < profile->ntags; i++)
		kiln_aws_tags_add(&d->tags, profile->tags[i].key, profile->tags[i].value);
	d->events.cb = opts->on_event;
	d->events.payload = opts->payload;
	d->events.base.stage = stage;
	d->events.base.profile = profile->name;
	d->events.base.env = d->env;
	d->events.base.run_id = d->run_id;
	return kiln_emitter_begin(&d->events);
}

int kiln_deploy__policy(const struct kiln_profile *profile, const struct kiln_deploy_options *opts)
{
	struct kiln_policy_options po = KILN_POLICY_OPTIONS_INIT;

	if (opts == NULL)
		opts = &default_options;
	po.policy_file = opts->policy_file;
	po.app_ref = opts->app_ref;
	po.os_ref = opts->os_ref;
	po.cache_dir = opts->cache_dir;
	po.on_event = opts->on_event;
	po.payload = opts->payload;
	return kiln_policy_check(profile, &po);
}

int kiln_deploy__connect(struct deploy *d)
{
	struct kiln_target t = {0};

	t.name = d->profile->target;
	t.region = d->profile->region;
	t.local_endpoint = d->opts->local_endpoint;
	return kiln_target_client(&d->aws, NULL, &t, &d->events);
}

void kiln_deploy__release(struct deploy *d)
{
	kiln_lease_release(&d->lease);
	kiln_aws_free(d->aws);
	kiln_aws_tags_release(&d->tags);
	free(d->run_id);
	free(d->caller);
	free(d->commits);
	free(d->ev_image);
	free(d->ev_release);
	free(d->url);
	free(d->vpc_id);
	kiln_aws_strings_release(&d->subnets);
	free(d->lb_sg);
	free(d->fleet_sg);
	free(d->lb_arn);
	free(d->lb_dns);
	free(d->tg[0]);
	free(d->tg[1]);
	free(d->prod);
	free(d->test);
	free(d->lt_id);
	kiln_asg_group_list_free(d->groups);
}

int kiln_deploy__whoami(struct deploy *d)
{
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	int error;

	if (d->caller != NULL)
		return 0;
	error = kiln_sts_get_caller_identity(&id, d->aws);
	if (error < 0)
		return kiln_error_prefix(error, "who am I (STS)");
	d->caller = kiln_xstrdup(id.arn != NULL ? id.arn : "");
	d->events.base.caller = d->caller;
	kiln_sts_identity_release(&id);
	return 0;
}

static void own(char **field, const char *value)
{
	char *copy = value != NULL ? kiln_xstrdup(value) : NULL;

	free(*field);
	*field = copy;
}

void kiln_deploy__event_release(struct deploy *d, const char *image_id, const char *release,
                                const char *app_commit)
{
	/* The same image keeps the layers' commits its tags gave (kiln_deploy__event_commits()). */
	int same = d->ev_image != NULL && image_id != NULL && strcmp(d->ev_image, image_id) == 0;

	own(&d->ev_image, image_id);
	own(&d->ev_release, release);
	if (!same || d->commits == NULL) {
		free(d->commits);
		d->commits = app_commit != NULL ? kiln_xasprintf("app=%s", app_commit) : NULL;
	}
	d->events.base.image_id = d->ev_image;
	d->events.base.release = d->ev_release;
	d->events.base.commits = d->commits;
	if (d->url == NULL && d->lb_dns != NULL) {
		d->url = kiln_deploy__url(d, 0);
		d->events.base.url = d->url;
	}
}

void kiln_deploy__event_commits(struct deploy *d, const char *commits)
{
	if (commits == NULL)
		return;
	own(&d->commits, commits);
	d->events.base.commits = d->commits;
}

int kiln_deploy__lease(struct deploy *d)
{
	struct kiln_lease_request req = {0};
	int error;

	error = kiln_deploy__whoami(d);
	if (error < 0)
		return error;
	req.profile = d->profile->name;
	req.env = d->env;
	req.run_id = d->run_id;
	req.caller = d->caller;
	req.state_dir = d->opts->state_dir;
	req.wait = d->opts->lease_wait;
	req.stop = d->stop;
	error = kiln_lease_acquire(&d->lease, d->aws, &req, &d->events);
	if (error >= 0)
		kiln_deploy__step_done(d, "lease");
	return error;
}

int kiln_deploy__tick(struct deploy *d)
{
	if (d->stop != NULL && *d->stop)
		return kiln_error_set(KILN_EINTR, "stopped");
	return kiln_lease_renew(&d->lease);
}

void kiln_deploy__result_set(char **field, const char *value)
{
	free(*field);
	*field = value != NULL ? kiln_xstrdup(value) : NULL;
}

struct kiln_deploy_result *kiln_deploy__result_new(const struct deploy *d, const char *action)
{
	struct kiln_deploy_result *r = kiln_xcalloc(1, sizeof(*r));

	r->profile = kiln_xstrdup(d->profile->name);
	r->env = kiln_xstrdup(d->env);
	r->action = kiln_xstrdup(action);
	r->run_id = kiln_xstrdup(d->run_id);
	r->steps = json_object();
	return r;
}

const char *kiln_deploy_result_action(const struct kiln_deploy_result *r)
{
	return r->action;
}

const char *kiln_deploy_result_url(const struct kiln_deploy_result *r)
{
	return r->url;
}

const char *kiln_deploy_result_test_url(const struct kiln_deploy_result *r)
{
	return r->test_url;
}

const char *kiln_deploy_result_color(const struct kiln_deploy_result *r)
{
	return r->color;
}

const char *kiln_deploy_result_group(const struct kiln_deploy_result *r)
{
	return r->group;
}

const char *kiln_deploy_result_release(const struct kiln_deploy_result *r)
{
	return r->release;
}

const char *kiln_deploy_result_image_id(const struct kiln_deploy_result *r)
{
	return r->image_id;
}

const char *kiln_deploy_result_previous_group(const struct kiln_deploy_result *r)
{
	return r->previous_group;
}

int kiln_deploy_result_to_json(char **out, const struct kiln_deploy_result *r)
{
	json_t *j;

	KILN_ASSERT_ARG(out != NULL && r != NULL);
	j = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s, s:f, "
	              "s:O}",
	              "profile", r->profile, "env", r->env, "action", r->action, "url", r->url,
	              "test_url", r->test_url, "color", r->color, "group", r->group, "release",
	              r->release, "image_id", r->image_id, "app_commit", r->app_commit,
	              "previous_group", r->previous_group, "run_id", r->run_id, "seconds",
	              r->seconds, "steps", r->steps);
	if (j == NULL)
		kiln_die("out of memory");
	*out = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (*out == NULL)
		kiln_die("out of memory");
	return 0;
}

void kiln_deploy_result_free(struct kiln_deploy_result *r)
{
	if (r == NULL)
		return;
	free(r->profile);
	free(r->env);
	free(r->action);
	free(r->url);
	free(r->test_url);
	free(r->color);
	free(r->group);
	free(r->release);
	free(r->image_id);
	free(r->app_commit);
	free(r->previous_group);
	free(r->run_id);
	free(r->message);
	json_decref(r->steps);
	free(r);
}
