/*
 * kiln_refresh() (kiln/refresh.h): the inputs of a profile now against the
 * image it has, and a bake, an image test and a deploy when they moved.
 *
 * When nothing moved it only looks: the layers' mirrors fetched (tags),
 * DescribeImages for the source image, what the deploy finds live (its
 * load balancer, listeners and groups, all Describe calls), and one
 * DescribeImages for the reference image's tags.
 */
#include "aws/ec2.h"
#include "bake/key.h"
#include "bake/layer.h"
#include "bake/pipeline.h"
#include "bake/target.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/util.h"
#include "kiln/bake.h"
#include "kiln/deploy.h"
#include "kiln/refresh.h"
#include "kiln/validate.h"
#include "pipelines/refresh-int.h"
#include "profiles/profile.h"

#include <string.h>

struct refresh {
	struct kiln_profile *p;
	const struct kiln_refresh_options *opts;
	struct kiln_emitter events;
	struct kiln_refresh_result *r;
	struct kiln_aws *aws;
	struct kiln_aws_tags old; /* the reference image's tags */
	char *source_id;
	struct kiln_layer **layers;
};

static const struct kiln_refresh_options default_options = KILN_REFRESH_OPTIONS_INIT;

static void say(const struct refresh *f, const char *fmt, ...) KILN_PRINTF(2, 3);
static void say(const struct refresh *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kiln_emit_v(&f->events, KILN_EVENT_PROGRESS, NULL, fmt, ap);
	va_end(ap);
}

static void reason(struct refresh *f, const char *fmt, ...) KILN_PRINTF(2, 3);
static void reason(struct refresh *f, const char *fmt, ...)
{
	struct kiln_refresh_result *r = f->r;
	struct kiln_buf b = KILN_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	kiln_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	r->reasons = kiln_xrealloc(r->reasons, (r->nreasons + 1) * sizeof(*r->reasons));
	r->reasons[r->nreasons++] = kiln_buf_detach(&b);
}

/* The tags of image `id`; an image that is gone has none. */
static int image_tags(struct refresh *f, const char *id)
{
	const char *ids[] = {id};
	struct kiln_ec2_describe d = {.ids = ids, .n_ids = 1};
	struct kiln_ec2_image_list *l = NULL;
	size_t i;
	int error;

	error = kiln_ec2_describe_images(&l, f->aws, &d);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		return 0;
	}
	for (i = 0; error >= 0 && l->n > 0 && i < l->v[0].tags.n; i++)
		kiln_aws_tags_add(&f->old, l->v[0].tags.v[i].key, l->v[0].tags.v[i].value);
	kiln_ec2_image_list_free(l);
	return error;
}

static int same_env(const struct kiln_ec2_image *im, const char *env)
{
	const char *e = kiln_aws_tags_get(&im->tags, "kiln:env");

	return env == NULL ? e == NULL : e != NULL && strcmp(e, env) == 0;
}

/* Nothing live: the newest available image baked for the profile and environment. */
static int newest_baked(struct refresh *f)
{
	struct kiln_aws_filters flt = KILN_AWS_LIST_INIT;
	const char *owners[] = {"self"};
	struct kiln_ec2_describe d = {.owners = owners, .n_owners = 1, .filters = &flt};
	struct kiln_ec2_image_list *l = NULL;
	const struct kiln_ec2_image *best = NULL;
	size_t i;
	int error;

	kiln_aws_filters_add(&flt, "tag:kiln:profile", f->p->name);
	kiln_aws_filters_add(&flt, "state", "available");
	error = kiln_ec2_describe_images(&l, f->aws, &d);
	kiln_aws_filters_release(&flt);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		return 0;
	}
	for (i = 0; error >= 0 && i < l->n; i++) {
		const struct kiln_ec2_image *im = &l->v[i];
		if (!same_env(im, f->p->env))
			continue;
		if (best == NULL || strcmp(im->creation_date ? im->creation_date : "",
		                           best->creation_date ? best->creation_date : "") > 0)
			best = im;
	}
	if (best != NULL) {
		const char *key = kiln_aws_tags_get(&best->tags, "kiln:bake-key");
		f->r->old_image = kiln_xstrdup(best->image_id);
		f->r->old_key = key != NULL ? kiln_xstrdup(key) : NULL;
		for (i = 0; i < best->tags.n; i++)
			kiln_aws_tags_add(&f->old, best->tags.v[i].key, best->tags.v[i].value);
	}
	kiln_ec2_image_list_free(l);
	return error;
}

/* The image to compare with: live, else the newest baked; its tags into f->old. */
static int reference(struct refresh *f)
{
	struct kiln_deploy_options o = KILN_DEPLOY_OPTIONS_INIT;
	const char *key;
	char *live = NULL;
	int error;

	o.state_dir = f->opts->state_dir;
	o.local_endpoint = f->opts->local_endpoint;
	o.stop = f->opts->stop;
	error = kiln_deploy_live_image(&live, f->p, &o);
	if (error < 0)
		return kiln_error_prefix(error, "finding what is live");
	if (live == NULL)
		return 0;
	f->r->live = 1;
	f->r->old_image = live;
	error = image_tags(f, live);
	key = kiln_aws_tags_get(&f->old, "kiln:bake-key");
	if (key != NULL)
		f->r->old_key = kiln_xstrdup(key);
	return error;
}

/* Nothing live: an available image of ours with the inputs' key (any profile's bake). */
static int baked_with_key(struct refresh *f)
{
	struct kiln_aws_filters flt = KILN_AWS_LIST_INIT;
	const char *owners[] = {"self"};
	struct kiln_ec2_describe d = {.owners = owners, .n_owners = 1, .filters = &flt};
	struct kiln_ec2_image_list *l = NULL;
	int error;

	kiln_aws_filters_add(&flt, "tag:kiln:bake-key", f->r->key);
	kiln_aws_filters_add(&flt, "state", "available");
	error = kiln_ec2_describe_images(&l, f->aws, &d);
	kiln_aws_filters_release(&flt);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		return 0;
	}
	if (error >= 0 && l->n > 0) {
		f->r->old_image = kiln_xstrdup(l->v[0].image_id);
		f->r->old_key = kiln_xstrdup(f->r->key);
	}
	kiln_ec2_image_list_free(l);
	return error;
}

/* "kiln:os-ref" and the like: what the reference image was baked from. */
static const char *old_tag(const struct refresh *f, const char *layer, const char *what)
{
	char *key = kiln_xasprintf("kiln:%s-%s", layer, what);
	const char *v = kiln_aws_tags_get(&f->old, key);

	free(key);
	return v;
}

/*
 * Each layer's ref now: a tracking layer's newest matching tag; any other at
 * the reference image's ref (the release that is live), else its own.
 */
static int layers(struct refresh *f)
{
	struct kiln_profile *p = f->p;
	size_t i;
	int error = 0;

	f->layers = kiln_xcalloc(p->nlayers + 1, sizeof(*f->layers));
	for (i = 0; i < p->nlayers && error >= 0; i++) {
		struct kiln_layer_spec s = p->layers[i];
		const char *had = old_tag(f, s.name, "ref");

		if (s.track != NULL)
			s.ref = NULL;
		else if (had != NULL)
			s.ref = (char *)had;
		error = kiln_layer_resolve(&f->layers[i], &s, f->opts->cache_dir);
		if (error < 0)
			break;
		free(p->layers[i].ref);
		p->layers[i].ref = kiln_xstrdup(f->layers[i]->ref);
	}
	return error;
}

/* Why the key moved, from the reference image's tags. */
static void reasons(struct refresh *f)
{
	const char *src = kiln_aws_tags_get(&f->old, "kiln:source-image");
	size_t i;

	if (f->r->old_image == NULL) {
		reason(f, "nothing baked yet");
		return;
	}
	if (f->r->old_key == NULL) {
		char *shown = kiln_escape(f->r->old_image);
		reason(f, "image %s has no kiln:bake-key", shown);
		free(shown);
		return;
	}
	if (src != NULL && strcmp(src, f->source_id) != 0) {
		/* Ids and tags come from the cloud: escaped, as the repositories' tags are. */
		char *was = kiln_escape(src), *now = kiln_escape(f->source_id);
		reason(f, "base image %s -> %s", was, now);
		free(was);
		free(now);
	}
	for (i = 0; i < f->p->nlayers; i++) {
		const struct kiln_layer *l = f->layers[i];
		const char *ref = old_tag(f, l->name, "ref"),
		           *commit = old_tag(f, l->name, "commit");
		char *was, *now;

		if (ref == NULL)
			continue;
		/* Tags come from repositories and the cloud: escaped. */
		was = kiln_escape(ref);
		now = kiln_escape(l->ref);
		if (strcmp(ref, l->ref) != 0)
			reason(f, "%s %s -> %s", l->name, was, now);
		else if (commit != NULL && strcmp(commit, l->commit) != 0) {
			char *old = kiln_escape(commit); /* an image's tag */
			reason(f, "%s %s moved: %.12s -> %.12s", l->name, now, old, l->commit);
			free(old);
		}
		free(was);
		free(now);
	}
	if (f->r->nreasons == 0) {
		char *was = kiln_escape(f->r->old_key);
		reason(f, "the profile's bake inputs changed (bake key %.12s -> %.12s)", was,
		       f->r->key);
		free(was);
	}
}

/* The inputs now and their key; 1 in *moved when it is not the reference's. */
static int compare(struct refresh *f, int *moved)
{
	const char **commits = NULL;
	struct kiln_target t = {0};
	size_t i;
	int error;

	*moved = 0;
	t.name = f->p->target;
	t.region = f->p->region;
	t.local_endpoint = f->opts->local_endpoint;
	error = kiln_target_client(&f->aws, NULL, &t, &f->events);
	if (error >= 0)
		error = reference(f);
	if (error >= 0)
		error = layers(f);
	if (error >= 0)
		error = kiln_bake_source_image(&f->source_id, f->aws, f->p);
	if (error < 0)
		return error;
	commits = kiln_xcalloc(f->p->nlayers + 1, sizeof(*commits));
	for (i = 0; i < f->p->nlayers; i++)
		commits[i] = f->layers[i]->commit;
	kiln_bake_key(f->r->key, f->p, f->source_id, commits);
	free(commits);
	if (!f->r->live) {
		/* The newest baked image explains what moved, when nothing has the key. */
		error = baked_with_key(f);
		if (error >= 0 && f->r->old_key == NULL)
			error = newest_baked(f);
		if (error < 0)
			return error;
	}
	*moved = f->r->old_key == NULL || strcmp(f->r->old_key, f->r->key) != 0;
	if (*moved)
		reasons(f);
	return 0;
}

static int bake(struct refresh *f)
{
	struct kiln_bake_options o = KILN_BAKE_OPTIONS_INIT;
	struct kiln_manifest *m = NULL;
	int error;

	o.policy_file = f->opts->policy_file;
	o.state_dir = f->opts->state_dir;
	o.cache_dir = f->opts->cache_dir;
	o.local_endpoint = f->opts->local_endpoint;
	/* layers() fetched every repository a moment ago and fixed its refs */
	o.reuse_mirrors = 1;
	o.stop = f->opts->stop;
	o.on_event = f->opts->on_event;
	o.payload = f->opts->payload;
	error = kiln_bake(&m, f->p, &o);
	if (error < 0)
		return error;
	f->r->image_id = kiln_xstrdup(kiln_manifest_image_id(m));
	f->r->cache_hit = kiln_manifest_cache_hit(m);
	if (strcmp(kiln_manifest_bake_key(m), f->r->key) != 0) {
		kiln_emit(&f->events, KILN_EVENT_WARNING, NULL,
		          "the inputs moved again during the bake: baked key %.12s, not %.12s",
		          kiln_manifest_bake_key(m), f->r->key);
		memcpy(f->r->key, kiln_manifest_bake_key(m), sizeof(f->r->key));
	}
	kiln_manifest_free(m);
	return 0;
}

static int image_test(struct refresh *f)
{
	struct kiln_validate_options o = KILN_VALIDATE_OPTIONS_INIT;
	struct kiln_report *report = NULL;
	int error;

	o.policy_file = f->opts->policy_file;
	o.image_id = f->r->image_id;
	o.state_dir = f->opts->state_dir;
	o.cache_dir = f->opts->cache_dir;
	o.local_endpoint = f->opts->local_endpoint;
	o.stop = f->opts->stop;
	o.on_event = f->opts->on_event;
	o.payload = f->opts->payload;
	kiln_report_new(&report);
	error = kiln_validate(report, f->p, &o);
	kiln_report_free(report);
	if (error < 0)
		return kiln_error_prefix(error, "image test of %s", f->r->image_id);
	f->r->tested = 1;
	return 0;
}

static int deploy(struct refresh *f)
{
	struct kiln_deploy_options o = KILN_DEPLOY_OPTIONS_INIT;
	struct kiln_deploy_result *d = NULL;
	int error;

	o.image_id = f->r->image_id;
	o.policy_file = f->opts->policy_file;
	o.state_dir = f->opts->state_dir;
	o.cache_dir = f->opts->cache_dir;
	o.local_endpoint = f->opts->local_endpoint;
	o.stop = f->opts->stop;
	o.on_event = f->opts->on_event;
	o.payload = f->opts->payload;
	error = kiln_deploy(&d, f->p, &o);
	if (error >= 0) {
		f->r->deployed = 1;
		if (kiln_deploy_result_url(d) != NULL)
			f->r->url = kiln_xstrdup(kiln_deploy_result_url(d));
	}
	kiln_deploy_result_free(d);
	return error;
}

/* The decision to rebake, with its reasons, as a change of its own (the audit log's line). */
static void decided(const struct refresh *f)
{
	struct kiln_buf why = KILN_BUF_INIT;
	size_t i;

	for (i = 0; i < f->r->nreasons; i++)
		kiln_buf_printf(&why, "%s%s", i ? "; " : "", f->r->reasons[i]);
	kiln_emit_change(&f->events, "refresh decision", why.ptr, 0);
	kiln_buf_release(&why);
}

static int run(struct refresh *f)
{
	int moved, error;
	size_t i;

	error = compare(f, &moved);
	if (error < 0)
		return error;
	if (!moved) {
		char *shown = kiln_escape(f->r->old_image);
		say(f, "%s: up to date (bake key %.12s, %s %s)", f->p->name, f->r->key,
		    f->r->live ? "live image" : "image", shown);
		free(shown);
		return 0;
	}
	for (i = 0; i < f->r->nreasons; i++)
		say(f, "%s: %s", f->p->name, f->r->reasons[i]);
	if (f->opts->dry_run) {
		say(f, "%s: would bake (key %.12s), test the image%s", f->p->name, f->r->key,
		    f->opts->deploy ? " and deploy it" : "");
		return 0;
	}
	decided(f);
	error = bake(f);
	/* A cache hit was tested when it was made; tested again before it goes live. */
	if (error >= 0 && (!f->r->cache_hit || f->opts->deploy))
		error = image_test(f);
	if (error >= 0 && f->opts->deploy)
		error = deploy(f);
	return error;
}

int kiln_refresh(struct kiln_refresh_result **out, struct kiln_profile *profile,
                 const struct kiln_refresh_options *opts)
{
	struct refresh f;
	size_t i;
	int error;

	KILN_ASSERT_ARG(out != NULL && profile != NULL);
	if (opts == NULL)
		opts = &default_options;
	KILN_ASSERT_ARG(opts->version >= 1 && opts->version <= KILN_REFRESH_OPTIONS_VERSION);
	memset(&f, 0, sizeof(f));
	f.p = profile;
	f.opts = opts;
	f.r = kiln_xcalloc(1, sizeof(*f.r));
	f.r->profile = kiln_xstrdup(profile->name);
	f.r->env = profile->env != NULL ? kiln_xstrdup(profile->env) : NULL;
	f.events.cb = opts->on_event;
	f.events.payload = opts->payload;
	f.events.base.stage = "refresh";
	f.events.base.profile = profile->name;
	f.events.base.env = profile->env;
	error = kiln_emitter_begin(&f.events);
	if (error >= 0)
		error = run(&f);
	if (error < 0) {
		f.r->status = kiln_xstrdup("failed");
		f.r->error = kiln_xstrdup(kiln_error_last());
	} else {
		f.r->status = kiln_xstrdup(f.r->nreasons == 0 ? "up to date"
		                           : opts->dry_run    ? "would refresh"
		                                              : "refreshed");
	}
	kiln_emitter_end(&f.events, error);
	for (i = 0; f.layers != NULL && i < profile->nlayers; i++)
		kiln_layer_free(f.layers[i]);
	free(f.layers);
	free(f.source_id);
	kiln_aws_tags_release(&f.old);
	kiln_aws_free(f.aws);
	*out = f.r;
	return error;
}
