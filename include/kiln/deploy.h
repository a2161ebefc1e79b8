/*
 * Deploy: a baked image goes live behind a load balancer, blue-green,
 * without ever changing a running server.
 *
 * Per profile and environment there is one application load balancer with
 * a production listener (deploy.port) and a test listener
 * (deploy.test_port), two target groups (blue, green) and two security
 * groups (the load balancer's: the listeners from deploy.allowed_sources;
 * the fleet's: only the load balancer's group on deploy.instance_port, no
 * SSH). Production forwards to the live colour, the test listener to the
 * idle one, which the load balancer therefore health-checks. Each release
 * is a launch template version and an Auto Scaling group of its own
 * (HealthCheckType ELB) in the idle colour's target group; it goes live by
 * one ModifyListener once its instances are all in service and healthy and
 * its smoke checks pass through the test listener; a smoke failure after
 * the swap swaps back at once. The previous group stays, full size, behind
 * the test listener for deploy.termination_wait_s: a rollback is one
 * ModifyListener. Everything is found by names and tags (kiln:profile,
 * kiln:env, kiln:managed; groups also kiln:color, kiln:release,
 * kiln:image, kiln:app-commit), so a re-run after a crash converges.
 *
 * One deploy at a time per profile and environment: a lease in the cloud
 * (an SSM parameter created only if absent) and a lock on this machine.
 * A failure before the swap removes the new group and leaves live
 * untouched. Progress reaches the caller through the options' events
 * (stage "deploy", "rollback", "promote", "destroy"); nothing is printed.
 */
#ifndef KILN_DEPLOY_H
#define KILN_DEPLOY_H

#include "kiln/event.h"
#include "kiln/profile.h"
#include "kiln/report.h"

/* What a deploy, rollback or promote did. */
struct kiln_deploy_result;

#define KILN_DEPLOY_OPTIONS_VERSION 1

struct kiln_deploy_options {
	unsigned int version; /* KILN_DEPLOY_OPTIONS_VERSION */
	/*
	 * The image to deploy; NULL: the image kiln_bake() made for the
	 * profile's inputs (its layers at app_ref/os_ref, the source image),
	 * found by its kiln:bake-key tag (none: KILN_ENOTFOUND).
	 */
	const char *image_id;
	const char *app_ref; /* the "app" layer's ref, or NULL */
	const char *os_ref;  /* the "os" layer's ref, or NULL */
	/* The release's name (kiln:release); NULL: app_ref, else the image's kiln:app-ref. */
	const char *release;
	int skip_smoke;    /* do not run deploy.smoke (a cloud whose addresses are not reachable) */
	double lease_wait; /* seconds to wait for another deploy's lease; 0: fail at once */
	int force;         /* promote: even when the bake inputs differ */
	/* The organisation's policy (kiln_policy_options'): deploy, rollback and
	 * promote run the policy gate before any cloud call. */
	const char *policy_file;
	/* Each smoke check's result is appended (kiln_report_write_junit()); may be NULL. */
	struct kiln_report *report;
	const char *state_dir; /* locks; NULL: $KILN_STATE_DIR or the default */
	const char *cache_dir; /* layer mirrors, to find the image by bake key; NULL: the default */
	const char
	    *local_endpoint; /* "target": "local"; NULL: $KILN_LOCAL_ENDPOINT or the default */
	/* When it becomes non-zero (a signal handler), the deploy stops before its
	 * next change, removes a group it made that is not live, and fails with
	 * KILN_EINTR. */
	volatile int *stop;
	kiln_event_cb on_event;
	void *payload;
};

#define KILN_DEPLOY_OPTIONS_INIT                                                                   \
	{                                                                                          \
		.version = KILN_DEPLOY_OPTIONS_VERSION                                             \
	}

/*
 * Deploy `profile` (its environment applied) blue-green. Deploying the
 * release already live changes nothing but what drifted. `opts` may be NULL.
 */
int kiln_deploy(struct kiln_deploy_result **out, struct kiln_profile *profile,
                const struct kiln_deploy_options *opts);

/*
 * Put the previous release back: one ModifyListener when its group is
 * still there and healthy, else a deploy of its image (the result's action
 * says "redeployed"). KILN_ENOTFOUND when there is no previous release.
 */
int kiln_rollback(struct kiln_deploy_result **out, struct kiln_profile *profile,
                  const struct kiln_deploy_options *opts);

/*
 * Deploy to `to`'s environment the image live in `from`'s, without a bake.
 * KILN_EINVAL when `to`'s bake inputs would give another bake key than the
 * image's, unless opts->force.
 */
int kiln_promote(struct kiln_deploy_result **out, struct kiln_profile *from,
                 struct kiln_profile *to, const struct kiln_deploy_options *opts);

/* "deployed", "unchanged", "rolled back", "redeployed" or "promoted". */
const char *kiln_deploy_result_action(const struct kiln_deploy_result *r);
/* The production URL ("http://DNS:PORT/") and the test listener's. */
const char *kiln_deploy_result_url(const struct kiln_deploy_result *r);
const char *kiln_deploy_result_test_url(const struct kiln_deploy_result *r);
/* What is live now: colour, group, release, image, app commit (NULL when unknown). */
const char *kiln_deploy_result_color(const struct kiln_deploy_result *r);
const char *kiln_deploy_result_group(const struct kiln_deploy_result *r);
const char *kiln_deploy_result_release(const struct kiln_deploy_result *r);
const char *kiln_deploy_result_image_id(const struct kiln_deploy_result *r);
/* The group kept for an instant rollback, or NULL. */
const char *kiln_deploy_result_previous_group(const struct kiln_deploy_result *r);
/*
 * The result as JSON with the keys profile, env, action, url, test_url,
 * color, group, release, image_id, app_commit, previous_group, run_id,
 * seconds and steps (seconds per step); free() the text.
 */
int kiln_deploy_result_to_json(char **out, const struct kiln_deploy_result *r);
void kiln_deploy_result_free(struct kiln_deploy_result *r);

/*
 * What is deployed for the profile and environment, as JSON (free() it)
 * with the keys profile, env, url, test_url, load_balancer, live_color,
 * live, previous (null when none), lease (null when no deploy runs) and
 * others (groups being deleted or left by a dead run); live and previous
 * each with color, group, release, image_id, app_commit, desired, retire_at
 * and instances (each id, state, health, reason). Changes nothing.
 */
int kiln_deploy_status(char **out, struct kiln_profile *profile,
                       const struct kiln_deploy_options *opts);

/*
 * The image live for the profile and environment (the group production
 * forwards to, its kiln:image tag), found as kiln_deploy_status() finds it:
 * *out is its id (free() it), or NULL when nothing is live. Changes nothing.
 */
int kiln_deploy_live_image(char **out, struct kiln_profile *profile,
                           const struct kiln_deploy_options *opts);

/*
 * Remove everything the deploy made for the profile and environment (not
 * images). *out (may be NULL) is the list as JSON: an array of {kind, id,
 * deleted}. With `dry_run` nothing is removed.
 */
int kiln_destroy(char **out, struct kiln_profile *profile, int dry_run,
                 const struct kiln_deploy_options *opts);

#endif
