/*
 * Internals shared by the files of the deploy (DESIGN.md §5): one struct
 * deploy per command (deploy, rollback, promote, status, destroy), holding
 * the client, the profile's deploy spec, the events and what was found or
 * made in the cloud so far. Each file is one noun:
 *
 *   network.c    the VPC, subnets and security groups
 *   traffic.c    target groups, load balancer, listeners, the swap
 *   fleet.c      launch template versions and Auto Scaling groups, the
 *                wait for healthy instances
 *   bluegreen.c  the strategy: deploy, rollback, promote
 *   retention.c  previous groups and images that are retired, `kiln gc`
 *   status.c     what is live, for people and JSON
 *   destroy.c    everything of a profile and environment removed
 *   image.c      the image to deploy (given, or the bake key's)
 *   smoke.c      the profile's smoke checks through a listener (GET, status, body, latency)
 *
 * Nothing here uses ssh/: a live server is never touched.
 */
#ifndef KILN_DEPLOY_DEPLOY_INT_H
#define KILN_DEPLOY_DEPLOY_INT_H

#include "aws/autoscaling.h"
#include "aws/elbv2.h"
#include "core/event.h"
#include "deploy/lease.h"
#include "deploy/names.h"
#include "kiln/deploy.h"
#include "profiles/profile.h"

/* Tags on everything a deploy makes, and on groups. */
#define TAG_PROFILE     "kiln:profile"
#define TAG_ENV         "kiln:env"
#define TAG_MANAGED     "kiln:managed"
#define TAG_ROLE        "kiln:role"
#define TAG_COLOR       "kiln:color"
#define TAG_RELEASE     "kiln:release"
#define TAG_IMAGE       "kiln:image"
#define TAG_APP_COMMIT  "kiln:app-commit"
#define TAG_RUN_ID      "kiln:run-id"
#define TAG_RETIRE_AT   "kiln:retire-at"
#define TAG_DEPLOYED    "kiln:deployed"
#define TAG_PREV_IMAGE  "kiln:previous-image"
#define TAG_PREV_REL    "kiln:previous-release"
#define TAG_PREV_COMMIT "kiln:previous-app-commit"
#define TAG_PROD_PORT   "kiln:production-port"

/* What a result says happened. */
struct kiln_deploy_result {
	char *profile, *env, *action, *url, *test_url, *color, *group, *release, *image_id;
	char *app_commit, *previous_group, *run_id, *message;
	double seconds;
	json_t *steps; /* {"step": seconds} */
};

struct deploy {
	struct kiln_aws *aws;
	struct kiln_profile *profile;
	const struct kiln_deploy_spec *spec;
	const struct kiln_deploy_options *opts;
	struct kiln_emitter events;
	const char *env; /* kiln_deploy_env_name(profile->env) */
	char *run_id;
	char *caller; /* the STS identity's ARN, once asked (kiln_deploy__whoami()) */
	char *ev_image, *ev_release; /* the events' image and release, owned */
	char *commits;               /* the events' "app=COMMIT", or NULL */
	char *url; /* the events' production URL, once the load balancer is known */
	volatile int *stop;
	double step_start;
	struct kiln_aws_tags tags; /* kiln:profile, kiln:env, kiln:managed and the profile's */
	struct kiln_deploy_lease lease;
	struct kiln_deploy_result *result;

	/* The traffic side, once found or made (traffic.c). */
	char *vpc_id;
	struct kiln_aws_strings subnets;
	char *lb_sg, *fleet_sg;
	char *lb_arn, *lb_dns;
	char *tg[2];       /* target group arns by colour */
	char *prod, *test; /* listener arns */
	int live;          /* the colour production forwards to, -1 when neither */
	int test_color;    /* the colour the test listener forwards to, -1 when neither */

	/* The fleet (fleet.c). */
	char *lt_id;
	struct kiln_asg_group_list *groups; /* this profile and environment's, as last listed */
};

/* Set up and tear down; `stage` names the events ("deploy", "rollback", ...). */
int kiln_deploy__init(struct deploy *d, struct kiln_profile *profile,
                      const struct kiln_deploy_options *opts, const char *stage);
/* The policy gate (kiln/policy.h) for `profile` with opts' refs, before any cloud call. */
int kiln_deploy__policy(const struct kiln_profile *profile, const struct kiln_deploy_options *opts);
/* The client for the profile's target (a local cloud must be running). */
int kiln_deploy__connect(struct deploy *d);
void kiln_deploy__release(struct deploy *d);
void kiln_deploy__say(const struct deploy *d, const char *fmt, ...) KILN_PRINTF(2, 3);
void kiln_deploy__warn(const struct deploy *d, const char *fmt, ...) KILN_PRINTF(2, 3);
void kiln_deploy__step_done(struct deploy *d, const char *step);
/* Who the run acts as (STS), into d->caller and the events, once. */
int kiln_deploy__whoami(struct deploy *d);
/*
 * What the run's events carry from now on (copied): the image, the release,
 * its app commit, and the production URL once the load balancer is known.
 */
void kiln_deploy__event_release(struct deploy *d, const char *image_id, const char *release,
                                const char *app_commit);
/* Every layer's commit for the events ("app=SHA os=SHA"), while the image stays the same. */
void kiln_deploy__event_commits(struct deploy *d, const char *commits);
/* Take the lease for the profile and environment (lease.h). */
int kiln_deploy__lease(struct deploy *d);
/* Renew the lease when due and honour a stop request: every wait calls it. */
int kiln_deploy__tick(struct deploy *d);

/* network.c */
/* The VPC, subnets and the two security groups (made or corrected when `create`). */
int kiln_deploy__network(struct deploy *d, int create);
/* Delete the security groups (after the load balancer and the instances). */
int kiln_deploy__network_remove(struct deploy *d);

/* traffic.c */
/* Find the network, load balancer, target groups and listeners; `create` makes what is missing. */
int kiln_deploy__traffic(struct deploy *d, int create);
/* Point listener `arn` at colour `color`. */
int kiln_deploy__forward(struct deploy *d, const char *arn, int color);
/* Production to `color`, then the test listener to the other colour. */
int kiln_deploy__swap(struct deploy *d, int color);
/* "http://DNS[:PORT]/" of the production (test = 0) or test listener; free() it. */
char *kiln_deploy__url(const struct deploy *d, int test);
/* Target health of `ids` in colour `color`'s target group. */
int kiln_deploy__health(struct kiln_elbv2_target_health_list **out, struct deploy *d, int color,
                        const char *const *ids, size_t n);
/* Remove the listeners, load balancer, target groups and security groups. */
int kiln_deploy__traffic_remove(struct deploy *d);

/* fleet.c */
/* The profile and environment's groups, into d->groups. */
int kiln_deploy__groups(struct deploy *d);
/* A tag of a group, or NULL; the group's colour (-1 when untagged). */
const char *kiln_deploy__gtag(const struct kiln_asg_group *g, const char *key);
int kiln_deploy__gcolor(const struct kiln_asg_group *g);
/* 1 when the group is being deleted. */
int kiln_deploy__gdeleting(const struct kiln_asg_group *g);
/* The live group (in production's colour), or NULL; the previous group likewise. */
const struct kiln_asg_group *kiln_deploy__live_group(const struct deploy *d);
const struct kiln_asg_group *kiln_deploy__idle_group(const struct deploy *d);

/* What a new group runs. */
struct kiln_release_spec {
	const char *image_id;
	const char *release;    /* the app's ref, or the image's */
	const char *app_commit; /* or NULL */
};
/* A new launch template version and group on `color`; *name is the group's. */
int kiln_deploy__group_create(char **name, struct deploy *d, int color,
                              const struct kiln_release_spec *rel);
/* Wait until `desired` instances are InService and healthy in the colour's target group. */
int kiln_deploy__group_wait(struct deploy *d, const char *name, int color, int desired);
/* Delete a group and its instances (ForceDelete); `why` for the progress line. */
int kiln_deploy__group_remove(struct deploy *d, const char *name, const char *why);
/* Wait until none of the profile and environment's groups is left (destroy). */
int kiln_deploy__groups_gone(struct deploy *d, double timeout);
/* Set (value) or remove (NULL) a tag of group `name`. */
int kiln_deploy__group_tag(struct deploy *d, const char *name, const char *key, const char *value);
/* Find the profile and environment's launch template (d->lt_id, NULL when none). */
int kiln_deploy__template_find(struct deploy *d);
/* Remove the launch template. */
int kiln_deploy__template_remove(struct deploy *d);

/* image.c */
/*
 * The image to deploy: opts->image_id, else the one baked for the profile's
 * inputs; with its release, app commit and every layer's commit as the
 * events carry them ("app=SHA os=SHA", from its kiln:LAYER-commit tags).
 */
int kiln_deploy__image(char **image_id, char **release, char **app_commit, char **commits,
                       struct deploy *d);
/* The image's tags (release, commit, bake key), for a given image. */
int kiln_deploy__image_tags(struct kiln_aws_tags *out, struct deploy *d, const char *image_id);

/* smoke.c */
/* The profile's smoke checks against `base_url`; `where` says which listener. */
int kiln_deploy__smoke(struct deploy *d, const char *base_url, const char *where);

/* retention.c */
/* Retire what the retention says: groups past their time, images beyond keep_previous. */
int kiln_deploy__retain(struct deploy *d);
/* Record the previous release on the load balancer, for a rollback after its group is gone. */
int kiln_deploy__remember_previous(struct deploy *d, const struct kiln_asg_group *prev);

/* bluegreen.c */
/* The deploy with traffic found and the lease held: gate, swap, smoke. */
int kiln_deploy__rollout(struct deploy *d, const struct kiln_release_spec *rel);

/* Results. */
struct kiln_deploy_result *kiln_deploy__result_new(const struct deploy *d, const char *action);
void kiln_deploy__result_set(char **field, const char *value);

#endif
