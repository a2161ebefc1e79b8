/*
 * The blue-green strategy (DESIGN.md §5): a new group on the idle colour,
 * gated on health and smoke through the test listener, one ModifyListener
 * to put it live, smoke through production with an automatic swap back,
 * and the previous group kept for an instant rollback. Also the rollback
 * itself and the promotion of one environment's image to another.
 *
 * A re-run after a crash converges: a group the dead run left on the idle
 * colour is adopted when it runs the same release, removed otherwise; a
 * release already live is only checked; the previous group is tagged with
 * its retirement before the swap, so whatever point a run dies at, the
 * next one tells live, previous and leftovers apart from the listener and
 * the tags alone.
 */
#include "aws/ec2.h"
#include "bake/manifest.h"
#include "bake/pipeline.h"
#include "core/util.h"
#include "deploy/deploy-int.h"

#include <string.h>

/*
 * Tests stop a deploy at a named point (KILN_TEST_PAUSE_AT=lease, group,
 * healthy, swap, swapping or swapped) to kill it there; it waits at most ten
 * minutes.
 */
static void pause_at(struct deploy *d, const char *point)
{
	const char *at = getenv("KILN_TEST_PAUSE_AT");

	if (at == NULL || strcmp(at, point) != 0)
		return;
	kiln_deploy__say(d, "pausing at %s (KILN_TEST_PAUSE_AT)", point);
	kiln_sleep(600, d->stop);
}

static int same_release(const struct kiln_asg_group *g, const struct kiln_release_spec *rel)
{
	const char *image = kiln_deploy__gtag(g, TAG_IMAGE);
	const char *release = kiln_deploy__gtag(g, TAG_RELEASE);

	return image != NULL && release != NULL && strcmp(image, rel->image_id) == 0 &&
	       strcmp(release, rel->release) == 0;
}

static void result_live(struct deploy *d, const char *group, int color,
                        const struct kiln_release_spec *rel)
{
	struct kiln_deploy_result *r = d->result;
	char *url = kiln_deploy__url(d, 0), *test = kiln_deploy__url(d, 1);

	kiln_deploy__result_set(&r->group, group);
	kiln_deploy__result_set(&r->color, kiln_color_name(color));
	kiln_deploy__result_set(&r->release, rel->release);
	kiln_deploy__result_set(&r->image_id, rel->image_id);
	kiln_deploy__result_set(&r->app_commit, rel->app_commit);
	free(r->url);
	free(r->test_url);
	r->url = url;
	r->test_url = test;
}

static char *retire_time(const struct deploy *d)
{
	char when[32];

	kiln_time_iso8601(when, kiln_time_now() + d->spec->termination_wait_s, 0);
	return kiln_xstrdup(when);
}

/*
 * The idle colour made ready for the new group: a group of the same release
 * that a dead run left is adopted (*adopt), every other one removed.
 */
static int clear_idle(char **adopt, struct deploy *d, int idle, const struct kiln_release_spec *rel)
{
	size_t i;
	int error;

	*adopt = NULL;
	for (i = 0; i < d->groups->n; i++) {
		const struct kiln_asg_group *g = &d->groups->v[i];
		const char *retire = kiln_deploy__gtag(g, TAG_RETIRE_AT);

		if (kiln_deploy__gcolor(g) == d->live || kiln_deploy__gdeleting(g))
			continue;
		if (*adopt == NULL && retire == NULL && same_release(g, rel)) {
			kiln_deploy__say(d, "group %s of release %s, left by run %s, is taken over",
			                 g->name, rel->release,
			                 kiln_deploy__gtag(g, TAG_RUN_ID)
			                     ? kiln_deploy__gtag(g, TAG_RUN_ID)
			                     : "?");
			*adopt = kiln_xstrdup(g->name);
			continue;
		}
		error = kiln_deploy__group_remove(
		    d, g->name,
		    retire != NULL ? "the previous release, replaced by this one"
		                   : "left on the idle colour by a run that did not finish");
		if (error < 0)
			return error;
	}
	return 0;
}

/* Before the swap: live untouched, the new group removed (unless another run took over). */
static int fail_before_swap(struct deploy *d, const char *name, int error)
{
	char *why = kiln_xstrdup(kiln_error_last());

	if (name != NULL && d->lease.held && error != KILN_EINTR) {
		if (kiln_deploy__group_remove(d, name, "it failed its gate; live is untouched") < 0)
			kiln_deploy__warn(d, "%s", kiln_error_last());
	} else if (name != NULL && error == KILN_EINTR) {
		if (kiln_deploy__group_remove(d, name, "the deploy was stopped") < 0)
			kiln_deploy__warn(d, "%s", kiln_error_last());
	}
	error = kiln_error_set(error, "%s", why);
	free(why);
	return error;
}

/* After a failed smoke check through production: swap back at once. */
static int swap_back(struct deploy *d, const char *name, int old, const char *old_group)
{
	char *why = kiln_xstrdup(kiln_error_last());
	int error;

	kiln_deploy__warn(d, "smoke checks failed through production: swapping back to %s",
	                  kiln_color_name(old));
	error = kiln_deploy__swap(d, old);
	kiln_emit_change(&d->events, "swap back", kiln_color_name(old), error);
	if (error >= 0 && old_group != NULL)
		error = kiln_deploy__group_tag(d, old_group, TAG_RETIRE_AT, NULL);
	if (error >= 0)
		error =
		    kiln_deploy__group_remove(d, name, "it failed its smoke checks after the swap");
	if (error < 0)
		kiln_deploy__warn(d, "rolling back: %s", kiln_error_last());
	error = kiln_error_set(KILN_ERROR, "%s; rolled back automatically to %s", why,
	                       kiln_color_name(old));
	free(why);
	return error;
}

static int smoke_through(struct deploy *d, int test)
{
	char *url = kiln_deploy__url(d, test);
	int error = kiln_deploy__smoke(d, url, test ? "the test listener" : "production");

	free(url);
	return error;
}

/* The new group is healthy and passed its smoke checks: it goes live. */
static int go_live(struct deploy *d, const char *name, int idle, const struct kiln_asg_group *live,
                   const struct kiln_release_spec *rel)
{
	int old = d->live;
	char *old_group = live ? kiln_xstrdup(live->name) : NULL, *when = retire_time(d);
	int error;

	/* A pre_swap hook may refuse: nothing has changed on the live side yet. */
	error = kiln_emit_hook(&d->events, "pre_swap");
	if (error < 0) {
		error = fail_before_swap(d, name, error);
		goto done;
	}
	if (old_group != NULL) {
		/* Before the swap: a run dead after it still knows the old group is the previous.
		 */
		error = kiln_deploy__group_tag(d, old_group, TAG_RETIRE_AT, when);
		if (error >= 0)
			error = kiln_deploy__remember_previous(d, live);
	}
	if (error >= 0)
		error = kiln_deploy__tick(d);
	if (error < 0) {
		error = fail_before_swap(d, name, error);
		goto done;
	}
	pause_at(d, "swap");
	error = kiln_deploy__forward(d, d->prod, idle);
	if (error < 0) {
		error = fail_before_swap(d, name, error);
		goto done;
	}
	d->live = idle;
	kiln_deploy__say(d, "production now forwards to %s (%s)", kiln_color_name(idle), name);
	kiln_emit_change(&d->events, "swap", name, 0);
	pause_at(d, "swapping");
	error = kiln_deploy__forward(d, d->test, old);
	if (error >= 0)
		d->test_color = old;
	kiln_deploy__step_done(d, "swap");
	if (error >= 0)
		kiln_emit_hook(&d->events, "post_swap");
	if (error >= 0 && !d->opts->skip_smoke)
		error = smoke_through(d, 0);
	if (error < 0) {
		error = swap_back(d, name, old, old_group);
		goto done;
	}
	kiln_deploy__step_done(d, "smoke");
	result_live(d, name, idle, rel);
	kiln_deploy__result_set(&d->result->previous_group, old_group);
	if (old_group != NULL)
		kiln_deploy__say(d, "previous group %s stays behind the test listener until %s",
		                 old_group, when);
	pause_at(d, "swapped");
done:
	free(old_group);
	free(when);
	return error;
}

/* The groups listed, the new release rolled out (the events say which release). */
static int rollout(struct deploy *d, const struct kiln_release_spec *rel)
{
	const struct kiln_asg_group *live;
	char *name = NULL;
	int idle, error;

	error = kiln_deploy__groups(d);
	if (error < 0)
		return error;
	live = kiln_deploy__live_group(d);
	idle = !d->live;
	if (live != NULL && same_release(live, rel)) {
		kiln_deploy__say(d, "release %s (%s) is already live in %s: nothing to deploy",
		                 rel->release, rel->image_id, live->name);
		if (kiln_deploy__gtag(live, TAG_RETIRE_AT) != NULL)
			error = kiln_deploy__group_tag(d, live->name, TAG_RETIRE_AT, NULL);
		kiln_deploy__result_set(&d->result->action, "unchanged");
		result_live(d, live->name, d->live, rel);
		return error;
	}
	error = clear_idle(&name, d, idle, rel);
	if (error >= 0 && name == NULL)
		error = kiln_deploy__group_create(&name, d, idle, rel);
	if (error < 0)
		goto done;
	kiln_deploy__step_done(d, "group");
	pause_at(d, "group");
	error = kiln_deploy__group_wait(d, name, idle, d->spec->capacity_desired);
	if (error >= 0)
		kiln_deploy__step_done(d, "healthy");
	if (error >= 0 && !d->opts->skip_smoke)
		error = smoke_through(d, 1);
	if (error < 0) {
		error = fail_before_swap(d, name, error);
		goto done;
	}
	kiln_deploy__step_done(d, "smoke_test");
	pause_at(d, "healthy");
	/* The list may be stale after a long wait; the live group is the same (we hold the lease).
	 */
	error = go_live(d, name, idle, live, rel);
done:
	free(name);
	return error;
}

int kiln_deploy__rollout(struct deploy *d, const struct kiln_release_spec *rel)
{
	/* The events say which release rolls out (and the URL, the load balancer now known). */
	kiln_deploy__event_release(d, rel->image_id, rel->release, rel->app_commit);
	return rollout(d, rel);
}

/* The post_deploy (post_rollback) hook point, with what is live now. */
static void post_hook(struct deploy *d)
{
	const struct kiln_deploy_result *r = d->result;

	kiln_deploy__event_release(d, r->image_id, r->release, r->app_commit);
	d->events.base.url = r->url != NULL ? r->url : d->url;
	kiln_emit_hook(&d->events, strcmp(d->events.base.stage, "rollback") == 0 ? "post_rollback"
	                                                                         : "post_deploy");
}

static int finish(struct deploy *d, int error, struct kiln_deploy_result **out, double started)
{
	d->result->seconds = kiln_time_mono() - started;
	if (error >= 0 && d->lease.held)
		error = kiln_deploy__retain(d);
	if (error >= 0)
		post_hook(d);
	if (error >= 0) {
		*out = d->result;
		d->result = NULL;
	}
	kiln_emitter_end(&d->events, error);
	kiln_deploy_result_free(d->result);
	d->result = NULL;
	kiln_deploy__release(d);
	return error;
}

/* Traffic ensured, lease held, image resolved: the rollout. */
static int deploy_release(struct deploy *d, const struct kiln_release_spec *given)
{
	struct kiln_release_spec rel = {0};
	char *image = NULL, *release = NULL, *commit = NULL, *commits = NULL;
	int error = 0;

	if (given != NULL) {
		rel = *given;
	} else {
		error = kiln_deploy__image(&image, &release, &commit, &commits, d);
		if (error < 0)
			return error;
		rel.image_id = image;
		rel.release = release;
		rel.app_commit = commit;
		kiln_deploy__step_done(d, "image");
	}
	error = kiln_deploy__whoami(d);
	if (error >= 0) {
		kiln_deploy__event_release(d, rel.image_id, rel.release, rel.app_commit);
		kiln_deploy__event_commits(d, commits);
		error = kiln_emit_hook(&d->events, "pre_deploy");
	}
	if (error >= 0)
		error = kiln_deploy__lease(d);
	if (error >= 0)
		pause_at(d, "lease");
	if (error >= 0)
		error = kiln_deploy__traffic(d, 1);
	if (error >= 0) {
		kiln_deploy__step_done(d, "traffic");
		error = kiln_deploy__rollout(d, &rel);
	}
	free(image);
	free(release);
	free(commit);
	free(commits);
	return error;
}

int kiln_deploy(struct kiln_deploy_result **out, struct kiln_profile *profile,
                const struct kiln_deploy_options *opts)
{
	double started = kiln_time_mono();
	struct deploy d;
	int error;

	KILN_ASSERT_ARG(out != NULL && profile != NULL);
	*out = NULL;
	error = kiln_deploy__init(&d, profile, opts, "deploy");
	d.result = kiln_deploy__result_new(&d, "deployed");
	if (error >= 0)
		error = kiln_deploy__policy(profile, d.opts);
	if (error >= 0)
		error = kiln_deploy__connect(&d);
	if (error >= 0)
		error = deploy_release(&d, NULL);
	return finish(&d, error, out, started);
}

/* 1 when `g` has every one of its desired instances in service and healthy now. */
static int ready_now(struct deploy *d, const struct kiln_asg_group *g, int color)
{
	struct kiln_elbv2_target_health_list *hl = NULL;
	const char **ids = kiln_xcalloc(g->n_instances + 1, sizeof(*ids));
	size_t i, n = 0;
	int healthy = 0;

	for (i = 0; i < g->n_instances; i++)
		if (g->instances[i].lifecycle_state != NULL &&
		    strcmp(g->instances[i].lifecycle_state, "InService") == 0)
			ids[n++] = g->instances[i].instance_id;
	if (n > 0 && kiln_deploy__health(&hl, d, color, ids, n) >= 0)
		for (i = 0; i < hl->n; i++)
			healthy += hl->v[i].state != NULL && strcmp(hl->v[i].state, "healthy") == 0;
	kiln_error_clear();
	kiln_elbv2_target_health_list_free(hl);
	free(ids);
	return g->desired_capacity > 0 && healthy >= g->desired_capacity;
}

/* The previous group is there and healthy: one ModifyListener puts it back. */
static int instant_rollback(struct deploy *d, const struct kiln_asg_group *live,
                            const struct kiln_asg_group *prev)
{
	int back = kiln_deploy__gcolor(prev);
	char *when = retire_time(d);
	struct kiln_release_spec rel = {kiln_deploy__gtag(prev, TAG_IMAGE),
	                                kiln_deploy__gtag(prev, TAG_RELEASE),
	                                kiln_deploy__gtag(prev, TAG_APP_COMMIT)};
	int error = 0;

	kiln_deploy__event_release(d, rel.image_id, rel.release, rel.app_commit);
	if (live != NULL) {
		error = kiln_deploy__group_tag(d, live->name, TAG_RETIRE_AT, when);
		if (error >= 0)
			error = kiln_deploy__remember_previous(d, live);
	}
	if (error >= 0) {
		error = kiln_deploy__swap(d, back);
		kiln_emit_change(&d->events, "swap", prev->name, error);
	}
	if (error >= 0)
		kiln_deploy__step_done(d, "swap");
	if (error >= 0)
		error = kiln_deploy__group_tag(d, prev->name, TAG_RETIRE_AT, NULL);
	if (error >= 0) {
		kiln_deploy__say(d, "production forwards to %s again (%s, release %s)",
		                 kiln_color_name(back), prev->name,
		                 rel.release ? rel.release : "?");
		result_live(d, prev->name, back, &rel);
		kiln_deploy__result_set(&d->result->previous_group, live ? live->name : NULL);
	}
	free(when);
	return error;
}

/* The previous group is gone: deploy its image again, from the load balancer's record. */
static int redeploy_previous(struct deploy *d)
{
	struct kiln_elbv2_tag_description_list *tl = NULL;
	const char *arns[] = {d->lb_arn};
	struct kiln_release_spec rel = {0};
	int error;

	error = kiln_elbv2_describe_tags(&tl, d->aws, arns, 1);
	if (error < 0)
		return error;
	if (tl->n > 0) {
		rel.image_id = kiln_aws_tags_get(&tl->v[0].tags, TAG_PREV_IMAGE);
		rel.release = kiln_aws_tags_get(&tl->v[0].tags, TAG_PREV_REL);
		rel.app_commit = kiln_aws_tags_get(&tl->v[0].tags, TAG_PREV_COMMIT);
	}
	if (rel.image_id == NULL || rel.release == NULL) {
		error =
		    kiln_error_set(KILN_ENOTFOUND, "%s/%s has no previous release to roll back to",
		                   d->profile->name, d->env);
	} else {
		kiln_deploy__say(
		    d, "the previous group is gone: redeploying its image %s (release %s)",
		    rel.image_id, rel.release);
		kiln_deploy__result_set(&d->result->action, "redeployed");
		error = kiln_deploy__traffic(d, 1);
		if (error >= 0)
			error = kiln_deploy__rollout(d, &rel);
	}
	kiln_elbv2_tag_description_list_free(tl);
	return error;
}

int kiln_rollback(struct kiln_deploy_result **out, struct kiln_profile *profile,
                  const struct kiln_deploy_options *opts)
{
	double started = kiln_time_mono();
	const struct kiln_asg_group *live, *prev;
	struct deploy d;
	int error;

	KILN_ASSERT_ARG(out != NULL && profile != NULL);
	*out = NULL;
	error = kiln_deploy__init(&d, profile, opts, "rollback");
	d.result = kiln_deploy__result_new(&d, "rolled back");
	if (error >= 0)
		error = kiln_deploy__policy(profile, d.opts);
	if (error >= 0)
		error = kiln_deploy__connect(&d);
	if (error >= 0)
		error = kiln_deploy__lease(&d);
	if (error >= 0)
		error = kiln_deploy__traffic(&d, 0);
	if (error >= 0 && (d.lb_arn == NULL || d.prod == NULL || d.test == NULL))
		error = kiln_error_set(KILN_ENOTFOUND, "nothing of %s/%s is deployed",
		                       profile->name, d.env);
	if (error >= 0)
		error = kiln_deploy__groups(&d);
	if (error < 0)
		return finish(&d, error, out, started);
	live = kiln_deploy__live_group(&d);
	prev = kiln_deploy__idle_group(&d);
	if (prev != NULL && kiln_deploy__gtag(prev, TAG_RETIRE_AT) != NULL &&
	    ready_now(&d, prev, kiln_deploy__gcolor(prev)))
		error = instant_rollback(&d, live, prev);
	else
		error = redeploy_previous(&d);
	return finish(&d, error, out, started);
}

/*
 * The bake key `to`'s inputs give now (the image need not exist), with the
 * layers at the refs the live image was baked from.
 */
static int bake_key_of(char key[65], struct deploy *d, const char *app_ref, const char *os_ref)
{
	struct kiln_bake_options bo = KILN_BAKE_OPTIONS_INIT;
	struct kiln_manifest m;
	int error;

	bo.app_ref = kiln_profile_layer(d->profile, "app") != NULL ? app_ref : NULL;
	bo.os_ref = kiln_profile_layer(d->profile, "os") != NULL ? os_ref : NULL;
	bo.cache_dir = d->opts->cache_dir;
	bo.state_dir = d->opts->state_dir;
	bo.stop = d->stop;
	kiln_manifest_init(&m);
	error = kiln_bake_lookup_run(&m, d->aws, d->profile, &bo);
	if (error == KILN_ENOTFOUND && m.bake_key[0] != '\0') {
		kiln_error_clear();
		error = 0;
	}
	memcpy(key, m.bake_key, 65);
	kiln_manifest_release(&m);
	return error;
}

/*
 * What is live in `from`: its group's release; the image's bake key and
 * the refs it was baked from (owned[3], owned[4], NULL when untagged).
 */
static int live_in(struct kiln_release_spec *rel, char **owned, char key[65],
                   struct kiln_profile *from, const struct kiln_deploy_options *opts)
{
	struct kiln_aws_tags tags = KILN_AWS_LIST_INIT;
	const struct kiln_asg_group *g;
	struct deploy f;
	int error;

	/* Only reads `from`: the audit and the hooks see the promotion once, in `to`. */
	error = kiln_deploy__init(&f, from, opts, "promote");
	f.events.base.dry_run = 1;
	if (error >= 0)
		error = kiln_deploy__connect(&f);
	if (error >= 0)
		error = kiln_deploy__traffic(&f, 0);
	if (error >= 0)
		error = f.lb_arn != NULL ? kiln_deploy__groups(&f) : 0;
	g = error >= 0 ? kiln_deploy__live_group(&f) : NULL;
	if (error >= 0 && g == NULL)
		error =
		    kiln_error_set(KILN_ENOTFOUND, "nothing is live in %s/%s", from->name, f.env);
	if (error >= 0) {
		owned[0] = kiln_xstrdup(kiln_deploy__gtag(g, TAG_IMAGE));
		owned[1] = kiln_xstrdup(kiln_deploy__gtag(g, TAG_RELEASE)
		                            ? kiln_deploy__gtag(g, TAG_RELEASE)
		                            : owned[0]);
		owned[2] = kiln_deploy__gtag(g, TAG_APP_COMMIT)
		               ? kiln_xstrdup(kiln_deploy__gtag(g, TAG_APP_COMMIT))
		               : NULL;
		error = kiln_deploy__image_tags(&tags, &f, owned[0]);
	}
	if (error >= 0) {
		const char *k = kiln_aws_tags_get(&tags, "kiln:bake-key");
		const char *app = kiln_aws_tags_get(&tags, "kiln:app-ref");
		const char *os = kiln_aws_tags_get(&tags, "kiln:os-ref");
		snprintf(key, 65, "%s", k != NULL ? k : "");
		owned[3] = app != NULL ? kiln_xstrdup(app) : NULL;
		owned[4] = os != NULL ? kiln_xstrdup(os) : NULL;
		rel->image_id = owned[0];
		rel->release = owned[1];
		rel->app_commit = owned[2];
		kiln_deploy__say(&f, "live in %s: %s (release %s)", f.env, owned[0], owned[1]);
	}
	kiln_aws_tags_release(&tags);
	kiln_emitter_end(&f.events, error);
	kiln_deploy__release(&f);
	return error;
}

int kiln_promote(struct kiln_deploy_result **out, struct kiln_profile *from,
                 struct kiln_profile *to, const struct kiln_deploy_options *opts)
{
	double started = kiln_time_mono();
	struct kiln_release_spec rel = {0};
	char *owned[5] = {NULL, NULL, NULL, NULL, NULL}, live_key[65] = "", to_key[65] = "";
	size_t i;
	struct deploy d;
	int error;

	KILN_ASSERT_ARG(out != NULL && from != NULL && to != NULL);
	*out = NULL;
	/* The gate for where the image goes, before live_in() reads the cloud. */
	error = kiln_deploy__policy(to, opts);
	if (error >= 0)
		error = live_in(&rel, owned, live_key, from, opts);
	if (error < 0) {
		for (i = 0; i < KILN_ARRAY_SIZE(owned); i++)
			free(owned[i]);
		return error;
	}
	error = kiln_deploy__init(&d, to, opts, "promote");
	d.result = kiln_deploy__result_new(&d, "promoted");
	if (error >= 0)
		error = kiln_deploy__connect(&d);
	if (error >= 0)
		error = bake_key_of(to_key, &d, owned[3], owned[4]);
	if (error >= 0 && strcmp(to_key, live_key) != 0) {
		if (d.opts->force) {
			kiln_deploy__warn(&d,
			                  "%s's bake inputs give key %.12s, the image has %.12s: "
			                  "promoting anyway (--force)",
			                  d.env, to_key, live_key[0] ? live_key : "(none)");
		} else {
			error = kiln_error_set(
			    KILN_EINVAL,
			    "promote: %s's bake inputs give bake key %.12s but the "
			    "image live in %s (%s) has %.12s: its layers, source image "
			    "or bake settings differ; bake for %s, or use --force",
			    d.env, to_key, kiln_deploy_env_name(from->env), rel.image_id,
			    live_key[0] ? live_key : "(none)", d.env);
		}
	}
	if (error >= 0)
		error = deploy_release(&d, &rel);
	error = finish(&d, error, out, started);
	for (i = 0; i < KILN_ARRAY_SIZE(owned); i++)
		free(owned[i]);
	return error;
}
