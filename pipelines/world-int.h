/*
 * Internals of the world noun (world.c: loading, the rebuild's scheduler
 * and its result; drill.c: the drill's own cloud). Not part of the
 * module's interface.
 */
#ifndef KILN_PIPELINES_WORLD_INT_H
#define KILN_PIPELINES_WORLD_INT_H

#include <pthread.h>

#include "kiln/world.h"
#include "core/common.h"
#include "pipelines/graph.h"
#include "profiles/profile.h"

enum world_state {
	W_PENDING,
	W_BAKING,
	W_BAKED,
	W_DEPLOYING,
	W_LIVE,
	W_FAILED,
	W_SKIPPED,
};

struct world_node {
	struct kiln_profile *profile;
	char *where;     /* of its name */
	char **after;    /* names, from the profile's "after" */
	char **after_at; /* their positions */
	size_t nafter;
	enum world_state state;
	char *image_id, *url, *reason, *action;
	double bake_s, deploy_s, live_s;
	int baked, cache_hit;
	struct kiln_hooks *hooks; /* the profile's hooks and the audit log, during a rebuild */
	pthread_t bake_thread, deploy_thread;
	int has_bake_thread, has_deploy_thread;
};

/* Where the rebuild bakes and deploys: the options, or a drill's cloud. */
struct world_target {
	const char *state_dir, *cache_dir, *local_endpoint, *local_cidr, *local_init_exe;
	int smoke; /* run deploy.smoke against each live URL (a drill) */
};

struct kiln_world {
	char *dir;
	struct world_node *nodes;
	size_t n;
	struct kiln_graph graph;
	int rebuilt, drill;
	double total_s;
	/* During a rebuild. */
	const struct kiln_world_options *opts;
	struct world_target target;
	pthread_mutex_t mu;     /* the nodes' state and the counts below */
	pthread_cond_t changed; /* a job ended */
	pthread_mutex_t ev_mu;  /* one event callback at a time */
	size_t bakes, deploys;  /* running */
	size_t *prio;           /* the nodes, the longest chains of dependants first */
	double started;
};

/* One PROGRESS line of stage "world" about `node` (or the world: NULL). */
void kiln_world__say(struct kiln_world *w, const struct world_node *node, const char *fmt, ...)
    KILN_PRINTF(3, 4);
/* The rebuild into `t` (world.c). */
int kiln_world__run(struct kiln_world *w, const struct world_target *t);
/* A drill: its own cloud, the rebuild into it, the cloud removed (drill.c). */
int kiln_world__drill(struct kiln_world *w);

#endif
