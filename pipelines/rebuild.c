/*
 * The rebuild of a world: the scheduler, on the caller's thread, starts a
 * thread per bake and per deploy, up to `parallel` of each at a time, and
 * keeps the nodes' states under one mutex. A profile deploys once it is
 * baked and every profile it comes after is live; a failure stops only
 * its dependants (kiln_graph_propagate()). Each repository is fetched once,
 * before the bakes, which then resolve their tags in the fetched mirrors.
 */
#include "pipelines/world-int.h"

#include <stdarg.h>
#include <string.h>

#include "bake/layer.h"
#include "bake/target.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/log.h"
#include "core/util.h"
#include "kiln/bake.h"
#include "kiln/deploy.h"
#include "kiln/hooks.h"
#include "kiln/validate.h"

#define DEFAULT_PARALLEL 4
/* Threads are cheap, a cloud's API rate is not. */
#define MAX_PARALLEL 64

/* Events from every thread reach the caller one at a time. */
static int on_event(const struct kiln_event *ev, void *payload)
{
	struct kiln_world *w = payload;
	int rc = 0;

	if (w->opts->on_event == NULL)
		return 0;
	pthread_mutex_lock(&w->ev_mu);
	rc = w->opts->on_event(ev, w->opts->payload);
	pthread_mutex_unlock(&w->ev_mu);
	return rc;
}

void kiln_world__say(struct kiln_world *w, const struct world_node *node, const char *fmt, ...)
{
	struct kiln_event ev = {.kind = KILN_EVENT_PROGRESS, .stage = "world"};
	struct kiln_buf line = KILN_BUF_INIT;
	char *clean, *redacted;
	va_list ap;

	if (w->opts == NULL || w->opts->on_event == NULL)
		return;
	va_start(ap, fmt);
	kiln_buf_vprintf(&line, fmt, ap);
	va_end(ap);
	/* the values quote clouds, repositories and profiles: escaped once, here */
	redacted = kiln_log_redact(line.ptr);
	clean = kiln_escape(redacted);
	free(redacted);
	ev.message = clean;
	if (node != NULL) {
		ev.profile = node->profile->name;
		ev.env = node->profile->env;
		ev.image_id = node->image_id;
	}
	on_event(&ev, w);
	free(clean);
	kiln_buf_release(&line);
}

/* Jobs. */

struct job {
	struct kiln_world *w;
	struct world_node *n;
};

static void end_job(struct kiln_world *w, struct world_node *n, enum world_state state,
                    const char *what, int error)
{
	pthread_mutex_lock(&w->mu);
	n->state = state;
	if (error < 0)
		n->reason = kiln_xasprintf("%s: %s", what, kiln_error_last());
	if (state == W_LIVE)
		n->live_s = kiln_time_mono() - w->started;
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->mu);
	if (error < 0)
		kiln_world__say(w, n, "%s: failed: %s", n->profile->name, n->reason);
}

static void *bake_job(void *arg)
{
	struct job *j = arg;
	struct kiln_world *w = j->w;
	struct world_node *n = j->n;
	struct kiln_bake_options bo = KILN_BAKE_OPTIONS_INIT;
	struct kiln_manifest *m = NULL;
	double t0 = kiln_time_mono();
	int error;

	bo.state_dir = w->target.state_dir;
	bo.cache_dir = w->target.cache_dir;
	bo.local_endpoint = w->target.local_endpoint;
	bo.local_cidr = w->target.local_cidr;
	bo.local_init_exe = w->target.local_init_exe;
	bo.policy_file = w->opts->policy_file;
	bo.reuse_mirrors = 1;
	bo.no_local_start = w->drill;
	bo.stop = w->opts->stop;
	bo.on_event = kiln_hooks_on_event;
	bo.payload = n->hooks;
	error = kiln_bake(&m, n->profile, &bo);
	n->bake_s = kiln_time_mono() - t0;
	if (error >= 0) {
		n->image_id = kiln_xstrdup(kiln_manifest_image_id(m));
		n->cache_hit = kiln_manifest_cache_hit(m);
		n->baked = 1;
		kiln_world__say(w, n, "%s: %s %s in %.1f s", n->profile->name,
		                n->cache_hit ? "cache hit" : "baked", n->image_id, n->bake_s);
	}
	kiln_manifest_free(m);
	end_job(w, n, error < 0 ? W_FAILED : W_BAKED, "bake", error);
	free(j);
	return NULL;
}

/* A drill checks what a user would see: deploy.smoke against the production URL. */
static int smoke(struct kiln_world *w, struct world_node *n)
{
	struct kiln_smoke_options so = KILN_SMOKE_OPTIONS_INIT;
	int error;

	so.event_stage = "world";
	so.stop = w->opts->stop;
	so.on_event = on_event;
	so.payload = w;
	error = kiln_validate_smoke(NULL, n->profile, n->url, &so);
	if (error >= 0 && n->profile->deploy.nsmoke == 0)
		kiln_world__say(w, n, "%s: no smoke checks (deploy.smoke is empty)",
		                n->profile->name);
	else if (error >= 0)
		kiln_world__say(w, n, "%s: smoke checks passed at %s", n->profile->name, n->url);
	return error;
}

static void *deploy_job(void *arg)
{
	struct job *j = arg;
	struct kiln_world *w = j->w;
	struct world_node *n = j->n;
	struct kiln_deploy_options o = KILN_DEPLOY_OPTIONS_INIT;
	struct kiln_deploy_result *r = NULL;
	double t0 = kiln_time_mono();
	const char *what = "deploy";
	int error;

	o.image_id = n->image_id;
	o.policy_file = w->opts->policy_file;
	o.state_dir = w->target.state_dir;
	o.cache_dir = w->target.cache_dir;
	o.local_endpoint = w->target.local_endpoint;
	o.stop = w->opts->stop;
	o.on_event = kiln_hooks_on_event;
	o.payload = n->hooks;
	error = kiln_deploy(&r, n->profile, &o);
	if (error >= 0) {
		n->url = kiln_xstrdup(kiln_deploy_result_url(r));
		n->action = kiln_xstrdup(kiln_deploy_result_action(r));
		if (w->target.smoke) {
			what = "smoke";
			error = smoke(w, n);
		}
	}
	n->deploy_s = kiln_time_mono() - t0;
	if (error >= 0)
		kiln_world__say(w, n, "%s: %s %s in %.1f s: %s", n->profile->name, n->action,
		                n->image_id, n->deploy_s, n->url);
	kiln_deploy_result_free(r);
	end_job(w, n, error < 0 ? W_FAILED : W_LIVE, what, error);
	free(j);
	return NULL;
}

/* The scheduler: under w->mu. */

static int start(struct kiln_world *w, struct world_node *n, int deploy)
{
	struct job *j = kiln_xmalloc(sizeof(*j));
	int rc;

	j->w = w;
	j->n = n;
	n->state = deploy ? W_DEPLOYING : W_BAKING;
	if (deploy) {
		rc = pthread_create(&n->deploy_thread, NULL, deploy_job, j);
		n->has_deploy_thread = rc == 0;
		w->deploys += rc == 0;
	} else {
		rc = pthread_create(&n->bake_thread, NULL, bake_job, j);
		n->has_bake_thread = rc == 0;
		w->bakes += rc == 0;
	}
	if (rc != 0) {
		free(j);
		n->state = W_FAILED;
		n->reason = kiln_xstrdup("cannot start a thread");
	}
	return rc == 0;
}

/* Nodes that cannot go on because a profile they come after failed or was skipped. */
static void skip_blocked(struct kiln_world *w)
{
	unsigned char *failed = kiln_xcalloc(w->n + 1, 1);
	size_t *why = kiln_xcalloc(w->n + 1, sizeof(*why));

	for (size_t i = 0; i < w->n; i++)
		failed[i] = w->nodes[i].state == W_FAILED || w->nodes[i].state == W_SKIPPED;
	kiln_graph_propagate(&w->graph, failed, why);
	for (size_t i = 0; i < w->n; i++) {
		struct world_node *n = &w->nodes[i];
		const struct world_node *d;

		if (why[i] == KILN_GRAPH_NONE || (n->state != W_PENDING && n->state != W_BAKED))
			continue;
		d = &w->nodes[why[i]];
		n->state = W_SKIPPED;
		n->reason = kiln_xasprintf("after '%s', which %s", d->profile->name,
		                           d->state == W_FAILED ? "failed" : "was skipped");
		kiln_world__say(w, n, "%s: skipped: %s", n->profile->name, n->reason);
	}
	free(failed);
	free(why);
}

static int deps_live(const struct kiln_world *w, size_t i)
{
	const struct kiln_graph_node *g = &w->graph.v[i];

	for (size_t k = 0; k < g->ndeps; k++)
		if (w->nodes[g->deps[k]].state != W_LIVE)
			return 0;
	return 1;
}

/* Start what can start, deploys first (they unblock others); 1 when something runs. */
static int schedule(struct kiln_world *w, size_t parallel, int stopping)
{
	for (size_t k = 0; k < w->n; k++) {
		size_t i = w->prio[k];
		struct world_node *n = &w->nodes[i];

		if (stopping && (n->state == W_PENDING || n->state == W_BAKED)) {
			n->state = W_SKIPPED;
			n->reason = kiln_xstrdup("stopped before it started");
		}
		if (n->state == W_BAKED && w->deploys < parallel && deps_live(w, i))
			start(w, n, 1);
	}
	for (size_t k = 0; k < w->n && w->bakes < parallel; k++) {
		struct world_node *n = &w->nodes[w->prio[k]];

		if (n->state == W_PENDING)
			start(w, n, 0);
	}
	return w->bakes + w->deploys > 0;
}

static void run_all(struct kiln_world *w, size_t parallel)
{
	volatile int *stop = w->opts->stop;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		int stopping = stop != NULL && *stop;
		struct timespec ts;

		skip_blocked(w);
		if (!schedule(w, parallel, stopping))
			break;
		/* Woken by a job's end; a stop request is seen within a quarter second. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->changed, &w->mu, &ts);
		w->bakes = w->deploys = 0;
		for (size_t i = 0; i < w->n; i++) {
			w->bakes += w->nodes[i].state == W_BAKING;
			w->deploys += w->nodes[i].state == W_DEPLOYING;
		}
	}
	pthread_mutex_unlock(&w->mu);
	for (size_t i = 0; i < w->n; i++) {
		if (w->nodes[i].has_bake_thread)
			pthread_join(w->nodes[i].bake_thread, NULL);
		if (w->nodes[i].has_deploy_thread)
			pthread_join(w->nodes[i].deploy_thread, NULL);
		w->nodes[i].has_bake_thread = w->nodes[i].has_deploy_thread = 0;
	}
}

/* The repositories to fetch, shared by the fetching threads. */
struct fetches {
	const struct kiln_layer_spec **v;
	size_t n, next;
	const char *cache_dir;
	pthread_mutex_t mu;
};

static void *fetch_some(void *arg)
{
	struct fetches *f = arg;

	for (;;) {
		struct kiln_layer *l = NULL;
		size_t i;

		pthread_mutex_lock(&f->mu);
		i = f->next++;
		pthread_mutex_unlock(&f->mu);
		if (i >= f->n)
			return NULL;
		if (kiln_layer_resolve(&l, f->v[i], f->cache_dir) < 0)
			kiln_error_clear();
		kiln_layer_free(l);
	}
}

/*
 * Each repository once, whatever number of profiles use it, `parallel` at
 * a time. A failure is left to the bakes: each then fetches on its own and
 * fails in its own profile's name.
 */
static void fetch_repositories(struct kiln_world *w, size_t parallel)
{
	struct fetches f = {.cache_dir = w->target.cache_dir};
	pthread_t *threads;
	size_t nlayers = 0, nthreads = 0;

	for (size_t i = 0; i < w->n; i++)
		nlayers += w->nodes[i].profile->nlayers;
	f.v = kiln_xcalloc(nlayers + 1, sizeof(*f.v));
	for (size_t i = 0; i < w->n; i++) {
		const struct kiln_profile *p = w->nodes[i].profile;

		for (size_t k = 0; k < p->nlayers; k++) {
			const struct kiln_layer_spec *s = &p->layers[k];
			const char *url = s->repo_url != NULL ? s->repo_url : s->repo;
			size_t m;

			for (m = 0; m < f.n; m++) {
				const struct kiln_layer_spec *o = f.v[m];
				if (strcmp(o->repo_url != NULL ? o->repo_url : o->repo, url) == 0)
					break;
			}
			if (m == f.n)
				f.v[f.n++] = s;
		}
	}
	pthread_mutex_init(&f.mu, NULL);
	threads = kiln_xcalloc(parallel + 1, sizeof(*threads));
	for (size_t t = 0; t < parallel && t < f.n; t++)
		if (pthread_create(&threads[nthreads], NULL, fetch_some, &f) == 0)
			nthreads++;
	if (nthreads == 0)
		fetch_some(&f);
	for (size_t t = 0; t < nthreads; t++)
		pthread_join(threads[t], NULL);
	pthread_mutex_destroy(&f.mu);
	kiln_world__say(w, NULL, "fetched %zu repositories for the %zu layers of %zu profiles", f.n,
	                nlayers, w->n);
	free(threads);
	free(f.v);
}

/*
 * A local cloud is started (when nothing answers) here, before any thread:
 * its daemon is a fork of this process.
 */
static int local_cloud(struct kiln_world *w)
{
	struct kiln_target t = {.name = "local", .start_local = 1};
	struct kiln_emitter e = {.cb = on_event, .payload = w};
	struct kiln_aws *aws = NULL;
	int error = 0;

	if (w->drill)
		return 0; /* its cloud is up; a bake finds it gone rather than start another */
	e.base.stage = "world";
	t.local_endpoint = w->target.local_endpoint;
	t.local_cidr = w->target.local_cidr;
	t.local_init_exe = w->target.local_init_exe;
	for (size_t i = 0; i < w->n; i++) {
		if (strcmp(w->nodes[i].profile->target, "local") == 0) {
			error = kiln_target_client(&aws, NULL, &t, &e);
			break;
		}
	}
	kiln_aws_free(aws);
	return error;
}

/* Each profile's hooks, their events going on to the caller's callback. */
static int hooks_new(struct kiln_world *w)
{
	struct kiln_hooks_options ho = KILN_HOOKS_OPTIONS_INIT;
	int error = 0;

	ho.next = on_event;
	ho.next_payload = w;
	ho.state_dir = w->target.state_dir;
	ho.audit_file = w->opts->audit_file;
	ho.stop = w->opts->stop;
	for (size_t i = 0; i < w->n && error >= 0; i++) {
		error = kiln_hooks_new(&w->nodes[i].hooks, w->nodes[i].profile, &ho);
		if (error < 0)
			kiln_error_prefix(error, "profile '%s'", w->nodes[i].profile->name);
	}
	return error;
}

static void hooks_free(struct kiln_world *w)
{
	for (size_t i = 0; i < w->n; i++) {
		kiln_hooks_free(w->nodes[i].hooks);
		w->nodes[i].hooks = NULL;
	}
}

int kiln_world__run(struct kiln_world *w, const struct world_target *t)
{
	size_t parallel = w->opts->parallel > 0 ? w->opts->parallel : DEFAULT_PARALLEL;

	if (parallel > MAX_PARALLEL)
		parallel = MAX_PARALLEL;
	size_t failed = 0;
	int error;

	w->target = *t;
	w->started = kiln_time_mono();
	error = local_cloud(w);
	if (error >= 0)
		error = hooks_new(w);
	if (error < 0) {
		hooks_free(w);
		return error;
	}
	fetch_repositories(w, parallel);
	kiln_world__say(w, NULL, "rebuilding %zu profiles, %zu at a time", w->n, parallel);
	w->prio = kiln_graph_by_height(&w->graph);
	run_all(w, parallel);
	free(w->prio);
	w->prio = NULL;
	hooks_free(w);
	w->total_s = kiln_time_mono() - w->started;
	for (size_t i = 0; i < w->n; i++)
		failed += w->nodes[i].state != W_LIVE;
	if (w->opts->stop != NULL && *w->opts->stop)
		return kiln_error_set(KILN_EINTR, "rebuild stopped: %zu of %zu profiles not live",
		                      failed, w->n);
	if (failed > 0)
		return kiln_error_set(KILN_ERROR, "%zu of %zu profiles are not live", failed, w->n);
	return 0;
}

static const struct kiln_world_options default_options = KILN_WORLD_OPTIONS_INIT;

int kiln_world_rebuild(struct kiln_world *w, const struct kiln_world_options *opts)
{
	struct world_target t = {0};
	int error;

	KILN_ASSERT_ARG(w != NULL && !w->rebuilt);
	if (opts == NULL)
		opts = &default_options;
	KILN_ASSERT_ARG(opts->version >= 1 && opts->version <= KILN_WORLD_OPTIONS_VERSION);
	w->opts = opts;
	w->rebuilt = 1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->ev_mu, NULL);
	pthread_cond_init(&w->changed, NULL);
	if (opts->drill) {
		error = kiln_world__drill(w);
	} else {
		t.state_dir = opts->state_dir;
		t.cache_dir = opts->cache_dir;
		t.local_endpoint = opts->local_endpoint;
		t.local_cidr = opts->local_cidr;
		t.local_init_exe = opts->local_init_exe;
		error = kiln_world__run(w, &t);
	}
	pthread_cond_destroy(&w->changed);
	pthread_mutex_destroy(&w->ev_mu);
	pthread_mutex_destroy(&w->mu);
	w->opts = NULL;
	return error;
}
