#include "bake/pipeline.h"
#include "aws/ec2.h"
#include "aws/sts.h"
#include "bake/key.h"
#include "bake/pipeline-int.h"
#include "bake/poll.h"
#include "bake/target.h"
#include "core/json.h"
#include "core/lock.h"
#include "core/paths.h"
#include "core/log.h"
#include "core/util.h"
#include "kiln/policy.h"
#include "localcloud/cloud.h"
#include "validate/report.h"

#include <string.h>

#define LOCAL_BASE_IMAGE "debian-12-minbase"

void kiln_bake__say(const struct bake *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kiln_emit_v(&b->events, KILN_EVENT_PROGRESS, NULL, fmt, ap);
	va_end(ap);
}

void kiln_bake__on_line(void *payload, enum kiln_ssh_stream stream, const char *line, size_t len)
{
	const struct kiln_bake_line *l = payload;
	struct kiln_event ev = {.kind = KILN_EVENT_OUTPUT, .label = l->label};
	struct kiln_buf text = KILN_BUF_INIT;
	char *clean;

	if (l->b->events.cb == NULL)
		return;
	/* Escaped: a NUL must not cut the line, nor ESC reach a terminal. */
	kiln_buf_init(&text, SIZE_MAX / 8);
	kiln_buf_put_escaped(&text, line, len, 0);
	clean = kiln_log_redact(text.ptr);
	ev.message = clean;
	ev.stream = stream == KILN_SSH_STDERR ? KILN_EVENT_STDERR : KILN_EVENT_STDOUT;
	kiln_emit_event(&l->b->events, &ev);
	free(clean);
	kiln_buf_release(&text);
}

double kiln_bake__left(const struct bake *b)
{
	double left = b->deadline - kiln_time_mono();

	return left < 1 ? 1 : left;
}

int kiln_bake__journal(struct bake *b, const char *event, const char *kind, const char *token,
                       const char *id)
{
	int error;

	if (b->journal == NULL)
		return 0;
	error = kiln_journal_append(b->journal, event, kind, token, id, NULL);
	return error < 0 ? kiln_error_prefix(error, "run journal") : 0;
}

/* Steps. */

static void step_done(struct bake *b, const char *name)
{
	double now = kiln_time_mono();
	struct kiln_event ev = {.kind = KILN_EVENT_STEP_DONE, .step = name};

	ev.seconds = now - b->step_start;
	kiln_manifest_add_step(b->m, name, ev.seconds);
	kiln_emit_event(&b->events, &ev);
	b->step_start = now;
}

static int apply_overrides(struct bake *b)
{
	struct kiln_profile *p = b->profile;
	const char *over[2] = {b->opts->app_ref, b->opts->os_ref};
	const char *names[2] = {"app", "os"};
	size_t i, k;

	for (k = 0; k < 2; k++) {
		if (over[k] == NULL)
			continue;
		for (i = 0; i < p->nlayers; i++)
			if (strcmp(p->layers[i].name, names[k]) == 0)
				break;
		if (i == p->nlayers)
			return kiln_error_set(KILN_EINVAL,
			                      "--%s-ref: profile '%s' has no layer '%s'", names[k],
			                      p->name, names[k]);
		free(p->layers[i].ref);
		p->layers[i].ref = kiln_xstrdup(over[k]);
	}
	for (i = 0; i < p->nlayers; i++) {
		if (strcmp(p->layers[i].name, "app") == 0)
			b->app_ref = p->layers[i].ref;
		else if (strcmp(p->layers[i].name, "os") == 0)
			b->os_ref = p->layers[i].ref;
	}
	return 0;
}

static int reuse_mirrors(const struct kiln_bake_options *o)
{
	return o->version >= 3 && o->reuse_mirrors;
}

static int step_layers(struct bake *b)
{
	size_t i;
	int error;

	kiln_bake__say(b, "resolving %zu layers", b->profile->nlayers);
	b->layers = kiln_xcalloc(b->profile->nlayers, sizeof(*b->layers));
	for (i = 0; i < b->profile->nlayers; i++) {
		error = kiln_layer_resolve_in(&b->layers[i], &b->profile->layers[i],
		                              b->opts->cache_dir, reuse_mirrors(b->opts));
		if (error < 0)
			return error;
	}
	for (i = 0; i < b->profile->nlayers; i++) {
		struct kiln_layer *l = b->layers[i];
		error = kiln_layer_pack(l, NULL);
		if (error < 0)
			return error;
		kiln_manifest_add_layer(b->m, l->name, l->repo, l->ref, l->commit, l->sha256);
		kiln_bake__say(b, "layer %s: %s at %.12s (%llu bytes)", l->name, l->ref, l->commit,
		               (unsigned long long)l->size);
	}
	step_done(b, "layers");
	return 0;
}

/* The newest available image of a list (ISO dates compare as strings). */
static const struct kiln_ec2_image *newest(const struct kiln_ec2_image_list *l)
{
	const struct kiln_ec2_image *best = NULL;
	size_t i;

	for (i = 0; i < l->n; i++) {
		const struct kiln_ec2_image *im = &l->v[i];
		if (im->state == NULL || strcmp(im->state, "available") != 0)
			continue;
		if (best == NULL || strcmp(im->creation_date ? im->creation_date : "",
		                           best->creation_date ? best->creation_date : "") > 0)
			best = im;
	}
	return best;
}

/* DescribeImages for the source: an id, or a filter of name, owners and tags. */
static int find_source(struct kiln_ec2_image_list **out, struct bake *b,
                       const struct kiln_source_image_spec *src)
{
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	struct kiln_ec2_describe d = {0};
	const char *id = src->id;
	size_t i;
	int error;

	if (id != NULL) {
		d.ids = &id;
		d.n_ids = 1;
	} else {
		if (src->name != NULL)
			kiln_aws_filters_add(&f, "name", src->name);
		for (i = 0; i < src->ntags; i++) {
			char *name = kiln_xasprintf("tag:%s", src->tags[i].key);
			kiln_aws_filters_add(&f, name, src->tags[i].value);
			free(name);
		}
		kiln_aws_filters_add(&f, "state", "available");
		d.owners = (const char **)src->owners;
		d.n_owners = src->nowners;
		d.filters = &f;
	}
	error = kiln_ec2_describe_images(out, b->aws, &d);
	kiln_aws_filters_release(&f);
	return error;
}

/* What the profile asks for, for messages: an id, or the filter. */
static char *source_wanted(const struct kiln_source_image_spec *src)
{
	struct kiln_buf b = KILN_BUF_INIT;
	size_t i;

	if (src->id != NULL)
		return kiln_xstrdup(src->id);
	if (src->name != NULL)
		kiln_buf_printf(&b, "name '%s'", src->name);
	for (i = 0; i < src->ntags; i++)
		kiln_buf_printf(&b, "%stag %s=%s", b.size ? ", " : "", src->tags[i].key,
		                src->tags[i].value);
	for (i = 0; i < src->nowners; i++)
		kiln_buf_printf(&b, "%s%s", i ? ", " : " owned by ", src->owners[i]);
	return kiln_buf_detach(&b);
}

int kiln_bake_source_image(char **out, struct kiln_aws *aws, const struct kiln_profile *profile)
{
	struct bake b = {.aws = aws};
	struct kiln_ec2_image_list *l = NULL;
	const struct kiln_ec2_image *im;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && profile != NULL);
	*out = NULL;
	error = find_source(&l, &b, &profile->bake.source_image);
	im = error >= 0 ? newest(l) : NULL;
	if (im != NULL) {
		*out = kiln_xstrdup(im->image_id);
	} else if (error >= 0 || error == KILN_ENOTFOUND) {
		char *what = source_wanted(&profile->bake.source_image);
		error =
		    kiln_error_set(KILN_ENOTFOUND, "no available source image matches %s", what);
		free(what);
	}
	kiln_ec2_image_list_free(l);
	return error;
}

static int local_base_image(struct bake *b)
{
	int error;

	kiln_bake__say(b,
	               "no image matches debian-12* in the local cloud: building '%s' with "
	               "debootstrap (about a minute, once)",
	               LOCAL_BASE_IMAGE);
	error = kiln_cloud_image_debootstrap(&b->source_image_id, NULL, LOCAL_BASE_IMAGE, NULL);
	return error < 0 ? kiln_error_prefix(error, "building the local base image") : 0;
}

static int step_source(struct bake *b)
{
	const struct kiln_source_image_spec *src = &b->bake->source_image;
	struct kiln_ec2_image_list *l = NULL;
	const struct kiln_ec2_image *im;
	char *shown;
	int error;

	error = find_source(&l, b, src);
	if (error == KILN_ENOTFOUND)
		kiln_error_clear();
	else if (error < 0)
		goto done;
	im = l != NULL ? newest(l) : NULL;
	if (im == NULL && !b->lookup_only && strcmp(b->profile->target, "local") == 0 &&
	    src->name != NULL && strncmp(src->name, "debian-12", 9) == 0) {
		struct kiln_source_image_spec made = {0};

		kiln_ec2_image_list_free(l);
		l = NULL;
		error = local_base_image(b);
		if (error < 0)
			goto done;
		made.id = b->source_image_id;
		error = find_source(&l, b, &made);
		if (error < 0)
			goto done;
		im = newest(l);
	}
	if (im == NULL) {
		char *what = source_wanted(src);
		error =
		    kiln_error_set(KILN_ENOTFOUND, "no available source image matches %s", what);
		free(what);
		goto done;
	}
	free(b->source_image_id);
	b->source_image_id = kiln_xstrdup(im->image_id);
	b->root_device = kiln_xstrdup(im->root_device_name ? im->root_device_name : "/dev/xvda");
	/* The name comes from the cloud. */
	shown = kiln_escape(im->name ? im->name : "no name");
	kiln_bake__say(b, "source image %s (%s)", im->image_id, shown);
	free(shown);
	step_done(b, "source");
done:
	kiln_ec2_image_list_free(l);
	return error;
}

/* An available image of ours tagged with the bake key, or NULL. */
static int cache_lookup(char **out, char **name, struct bake *b)
{
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	const char *owners[] = {"self"};
	struct kiln_ec2_describe d = {.owners = owners, .n_owners = 1, .filters = &f};
	struct kiln_ec2_image_list *l = NULL;
	const struct kiln_ec2_image *im;
	int error;

	*out = NULL;
	kiln_aws_filters_add(&f, "tag:kiln:bake-key", b->key);
	kiln_aws_filters_add(&f, "state", "available");
	error = kiln_ec2_describe_images(&l, b->aws, &d);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		error = 0;
	}
	im = l != NULL ? newest(l) : NULL;
	if (error >= 0 && im != NULL) {
		*out = kiln_xstrdup(im->image_id);
		*name = kiln_xstrdup(im->name ? im->name : "");
	}
	kiln_aws_filters_release(&f);
	kiln_ec2_image_list_free(l);
	return error;
}

static int cache_hit(struct bake *b, int *hit)
{
	char *id = NULL, *name = NULL, *shown;
	int error;

	*hit = 0;
	if (b->opts->force)
		return 0;
	error = cache_lookup(&id, &name, b);
	if (error < 0 || id == NULL)
		return error;
	shown = kiln_escape(name); /* from the cloud */
	kiln_bake__say(b, "cache hit: %s (%s) has bake key %.12s", id, shown, b->key);
	free(shown);
	b->m->image_id = id;
	free(b->m->image_name);
	b->m->image_name = name;
	b->m->cache_hit = 1;
	*hit = 1;
	return 0;
}

static void register_secrets(const struct kiln_profile *p)
{
	size_t i;

	for (i = 0; i < p->bake.nvariables; i++)
		if (p->bake.variables[i].secret)
			kiln_log_add_secret(p->bake.variables[i].value);
}

static int state_dir(char **out, const struct bake *b)
{
	return kiln_paths_state(out, b->opts->state_dir);
}

/* Everything after the cache check, with cleanup on every path. */
static int bake_new(struct bake *b)
{
	char *dir = NULL;
	int error;

	kiln_bake__say(b, "baking %s (run %s, key %.12s)", b->m->image_name, b->run_id, b->key);
	json_t *note = NULL;
	char *runs = NULL;

	error = state_dir(&dir, b);
	if (error < 0)
		goto done;
	runs = kiln_xasprintf("%s/runs", dir);
	error = kiln_journal_open(&b->journal, runs, b->run_id);
	if (error < 0)
		goto done;
	/* Where the run bakes: `kiln gc --run-id` reads it to clean the same cloud. */
	note = json_pack("{s:s, s:s?, s:s?, s:s, s:s, s:s}", "target", b->profile->target, "region",
	                 kiln_aws_region(b->aws), "endpoint", b->endpoint, "profile",
	                 b->profile->name, "bake_key", b->key, "source_image", b->source_image_id);
	if (note == NULL)
		kiln_die("out of memory");
	error = kiln_journal_append(b->journal, "note", "bake", NULL, NULL, note);
	if (error < 0)
		goto done;
	{
		const struct kiln_builder_opts o = {.aws = b->aws,
		                                    .profile = b->profile,
		                                    .run_id = b->run_id,
		                                    .what = "builder",
		                                    .image_id = b->source_image_id,
		                                    .ssh_cidr = b->opts->ssh_cidr,
		                                    .deadline = b->deadline,
		                                    .journal = b->journal,
		                                    .events = &b->events,
		                                    .stop = b->stop};
		kiln_builder_init(&b->builder, &o);
	}
	error = kiln_builder_launch(&b->builder);
	if (error >= 0)
		error = kiln_builder_wait_running(&b->builder);
	if (error >= 0)
		step_done(b, "builder");
	if (error >= 0)
		error = kiln_builder_connect(&b->builder);
	if (error >= 0)
		step_done(b, "ssh");
	if (error >= 0)
		error = kiln_bake__upload(b);
	if (error >= 0)
		step_done(b, "upload");
	if (error >= 0)
		error = kiln_bake__provision(b);
	if (error >= 0)
		step_done(b, "provision");
	if (error >= 0)
		error = kiln_bake__checks(b);
	if (error >= 0)
		step_done(b, "checks");
	if (error >= 0)
		error = kiln_bake__ssh_finish(b);
	if (error >= 0)
		error = kiln_bake__image_create(b);
	if (error >= 0) {
		step_done(b, "image");
		b->m->image_id = b->image_id;
		b->image_id = NULL;
	}
	kiln_bake__cleanup(b, error < 0);
	step_done(b, "cleanup");
done:
	json_decref(note);
	free(runs);
	free(dir);
	return error;
}

static int lock_and_bake(struct bake *b)
{
	struct kiln_lock lock = KILN_LOCK_INIT;
	char *dir = NULL, *path = NULL;
	int hit = 0, error;

	error = state_dir(&dir, b);
	if (error < 0)
		return error;
	path = kiln_xasprintf("%s/locks/bake-%s.lock", dir, b->key);
	error = kiln_lock_acquire(&lock, path, 0, b->stop);
	if (error == KILN_ETIMEOUT) {
		kiln_error_clear();
		kiln_bake__say(b, "another bake of key %.12s is running; waiting for it", b->key);
		error = kiln_lock_acquire(&lock, path, kiln_bake__left(b), b->stop);
		/* The other bake may have made the image meanwhile. */
		if (error >= 0 && !b->opts->force)
			error = cache_hit(b, &hit);
	}
	if (error >= 0 && !hit)
		error = bake_new(b);
	kiln_lock_release(&lock);
	free(path);
	free(dir);
	return error;
}

static void bake_release(struct bake *b)
{
	size_t i;

	for (i = 0; b->layers != NULL && i < b->profile->nlayers; i++)
		kiln_layer_free(b->layers[i]);
	free(b->layers);
	free(b->source_image_id);
	free(b->root_device);
	kiln_journal_close(b->journal);
	kiln_builder_release(&b->builder);
	free(b->image_id);
	free(b->commits);
	free(b->caller);
}

static const struct kiln_bake_options default_options = KILN_BAKE_OPTIONS_INIT;

static void bake_init(struct bake *b, struct kiln_manifest *m, struct kiln_profile *profile,
                      const struct kiln_bake_options *opts)
{
	KILN_ASSERT_ARG(opts->version >= 1 && opts->version <= KILN_BAKE_OPTIONS_VERSION);
	memset(b, 0, sizeof(*b));
	b->profile = profile;
	b->opts = opts;
	b->m = m;
	b->stop = opts->stop;
	b->bake = &profile->bake;
	b->deadline = kiln_time_mono() + (double)b->bake->timeout_s;
	b->step_start = m->started = kiln_time_mono();
	b->run_id = kiln_id_random("bake-", 12);
	m->run_id = b->run_id;
	b->events.cb = opts->on_event;
	b->events.payload = opts->payload;
	b->events.base.stage = "bake";
	b->events.base.profile = profile->name;
	b->events.base.env = profile->env;
	b->events.base.run_id = b->run_id;
	b->report = opts->version >= 2 ? opts->report : NULL;
	if (b->report != NULL)
		kiln_report_subject(b->report, profile->name, profile->env);
	register_secrets(profile);
}

/* The policy gate, before anything else: a violation never reaches a cloud. */
static int bake_policy(struct bake *b)
{
	struct kiln_policy_options po = KILN_POLICY_OPTIONS_INIT;

	po.policy_file = b->opts->version >= 2 ? b->opts->policy_file : NULL;
	po.app_ref = b->opts->app_ref;
	po.os_ref = b->opts->os_ref;
	po.cache_dir = b->opts->cache_dir;
	po.report = b->report;
	po.on_event = b->opts->on_event;
	po.payload = b->opts->payload;
	return kiln_policy_check(b->profile, &po);
}

/*
 * The policy, then the layers, resolved and packed: everything that can be
 * wrong in the profile and its repositories is found here, before any
 * cloud is reached (or a local one started).
 */
static int bake_layers(struct bake *b)
{
	int error = bake_policy(b);

	if (error >= 0)
		error = apply_overrides(b);
	return error < 0 ? error : step_layers(b);
}

/* What the stage's events say it bakes: the app's ref and each layer's commit. */
static void event_inputs(struct bake *b, const char **commits)
{
	struct kiln_buf list = KILN_BUF_INIT;
	size_t i;

	for (i = 0; i < b->profile->nlayers; i++)
		kiln_buf_printf(&list, "%s%s=%s", i ? " " : "", b->profile->layers[i].name,
		                commits[i] ? commits[i] : "");
	free(b->commits);
	b->commits = kiln_buf_detach(&list);
	b->events.base.commits = b->commits;
	b->events.base.release = b->app_ref;
}

/*
 * Who the bake acts as, for its events (the audit log): one STS call. Not
 * knowing is no reason to stop a bake; the calls that matter say why.
 */
static void event_caller(struct bake *b)
{
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;

	if (kiln_sts_get_caller_identity(&id, b->aws) < 0 || id.arn == NULL) {
		kiln_error_clear();
	} else {
		free(b->caller);
		b->caller = kiln_xstrdup(id.arn);
		b->events.base.caller = b->caller;
	}
	kiln_sts_identity_release(&id);
}

/* Everything from the layers (unless done) to the image, with `b->aws` ready. */
static int bake_steps(struct bake *b)
{
	struct kiln_profile *profile = b->profile;
	const char **commits = NULL;
	size_t i;
	int hit = 0, error = 0;

	free(b->m->region);
	b->m->region = kiln_xstrdup(kiln_aws_region(b->aws));
	event_caller(b);
	if (b->layers == NULL)
		error = bake_layers(b);
	if (error >= 0)
		error = step_source(b);
	if (error < 0)
		goto done;
	commits = kiln_xcalloc(profile->nlayers, sizeof(*commits));
	for (i = 0; i < profile->nlayers; i++)
		commits[i] = b->layers[i]->commit;
	kiln_bake_key(b->key, profile, b->source_image_id, commits);
	memcpy(b->m->bake_key, b->key, sizeof(b->key));
	event_inputs(b, commits);
	b->m->image_name =
	    kiln_bake_image_name(profile->name, b->app_ref ? b->app_ref : "noref", b->key);
	error = cache_hit(b, &hit);
	step_done(b, "cache");
	if (error < 0 || hit)
		goto done;
	error = lock_and_bake(b);
done:
	free(commits);
	b->m->total = kiln_time_mono() - b->m->started;
	b->events.base.image_id = b->m->image_id;
	return error;
}

/*
 * The bake key of the profile's inputs and the image that carries it, with
 * no bake: the layers are resolved (fetched, not packed) and the source
 * image found. KILN_ENOTFOUND when no available image has the key (the
 * manifest still holds the key).
 */
int kiln_bake_lookup_run(struct kiln_manifest *out, struct kiln_aws *aws,
                         struct kiln_profile *profile, const struct kiln_bake_options *opts)
{
	const char **commits = NULL;
	char *name = NULL;
	struct bake b;
	size_t i;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && profile != NULL);
	bake_init(&b, out, profile, opts != NULL ? opts : &default_options);
	b.aws = aws;
	b.lookup_only = 1;
	error = apply_overrides(&b);
	if (error < 0)
		goto done;
	b.layers = kiln_xcalloc(profile->nlayers, sizeof(*b.layers));
	commits = kiln_xcalloc(profile->nlayers, sizeof(*commits));
	for (i = 0; i < profile->nlayers && error >= 0; i++) {
		error = kiln_layer_resolve(&b.layers[i], &profile->layers[i], b.opts->cache_dir);
		if (error >= 0)
			commits[i] = b.layers[i]->commit;
	}
	if (error >= 0)
		error = step_source(&b);
	if (error < 0)
		goto done;
	kiln_bake_key(b.key, profile, b.source_image_id, commits);
	memcpy(out->bake_key, b.key, sizeof(b.key));
	error = cache_lookup(&out->image_id, &name, &b);
	if (error >= 0 && out->image_id == NULL)
		error = kiln_error_set(KILN_ENOTFOUND,
		                       "no image of profile '%s' has bake key %.12s (its inputs "
		                       "as they are now): run `kiln bake` or `kiln release` first",
		                       profile->name, b.key);
	if (error >= 0) {
		free(out->image_name);
		out->image_name = name;
		name = NULL;
	}
done:
	free(name);
	free(commits);
	bake_release(&b);
	return error;
}

int kiln_bake_run(struct kiln_manifest *out, struct kiln_aws *aws, struct kiln_profile *profile,
                  const struct kiln_bake_options *opts)
{
	struct bake b;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && profile != NULL);
	bake_init(&b, out, profile, opts != NULL ? opts : &default_options);
	b.aws = aws;
	error = kiln_emitter_begin(&b.events);
	if (error >= 0)
		error = bake_steps(&b);
	kiln_emitter_end(&b.events, error);
	bake_release(&b);
	return error;
}

int kiln_bake(struct kiln_manifest **out, struct kiln_profile *profile,
              const struct kiln_bake_options *opts)
{
	struct kiln_manifest *m = kiln_xmalloc(sizeof(*m));
	struct kiln_target t = {0};
	struct bake b;
	char *endpoint = NULL;
	int error;

	KILN_ASSERT_ARG(out != NULL && profile != NULL);
	*out = NULL;
	if (opts == NULL)
		opts = &default_options;
	kiln_manifest_init(m);
	bake_init(&b, m, profile, opts);
	t.name = profile->target;
	t.region = profile->region;
	t.local_endpoint = opts->local_endpoint;
	t.local_cidr = opts->local_cidr;
	t.local_init_exe = opts->local_init_exe;
	t.start_local = !(opts->version >= 3 && opts->no_local_start);
	error = kiln_emitter_begin(&b.events);
	if (error >= 0)
		error = bake_layers(&b);
	if (error < 0)
		goto done;
	error = kiln_target_client(&b.aws, &endpoint, &t, &b.events);
	if (error < 0)
		goto done;
	b.endpoint = endpoint;
	error = bake_steps(&b);
done:
	kiln_emitter_end(&b.events, error);
	kiln_aws_free(b.aws);
	bake_release(&b);
	free(endpoint);
	if (error < 0)
		kiln_manifest_free(m);
	else
		*out = m;
	return error;
}
