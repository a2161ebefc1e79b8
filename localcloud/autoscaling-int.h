/*
 * Internal to the local cloud: Auto Scaling (API 2011-01-01) and the
 * reconciler that keeps each group at its desired capacity.
 *
 * The handlers, one file per noun (asgroups.c: groups and their capacity;
 * asinstances.c: a group's instances as the API shows and changes them;
 * asactivities.c: scaling activities; astags.c: tags; astraffic.c: target
 * groups and traffic sources; lifecycle.c: lifecycle hooks and actions;
 * autoscaling.c: the action table and what the handlers share), only change
 * the state. asreconcile.c, run on the reaper's thread four times a second,
 * makes it real: it launches instances through the same handler RunInstances
 * uses (with a client token per activity, so a launch is never repeated
 * after a crash), moves instances through their life cycle, registers them
 * into target groups and drains them before terminating them through
 * TerminateInstances, and replaces instances that fail their health checks.
 *
 * State tables: "autoscaling_groups" keyed by group name (each holds its
 * instances, tags, hooks and suspended processes) and "scaling_activities"
 * keyed by activity id. Everything here runs with cloud->mu held.
 */
#ifndef KILN_LOCALCLOUD_AUTOSCALING_INT_H
#define KILN_LOCALCLOUD_AUTOSCALING_INT_H

#include <jansson.h>

#include "aws/query.h"
#include "localcloud/cloud-int.h"
#include "localcloud/request-int.h"

#define LC_AUTOSCALING_XMLNS "http://autoscaling.amazonaws.com/doc/2011-01-01/"

/* Limits, as AWS's default quotas. */
#define LC_AS_GROUPS_MAX 500
#define LC_AS_TAGS_MAX   50
#define LC_AS_HOOKS_MAX  50
#define LC_AS_TGS_MAX    50
#define LC_AS_ACTIVITIES 200 /* kept per group, newest first */
#define LC_AS_CAPACITY   1000

/* An Auto Scaling action, or NULL. */
const struct lc_action *lc_autoscaling_action(const char *name);

/* ---- autoscaling.c: what the handlers share ----------------------------- */

json_t *lc_asgs(struct lc_cloud *c);
json_t *lc_activities(struct lc_cloud *c);
/* AutoScalingGroupName: a group that exists and is not being deleted, or a ValidationError. */
json_t *lc_asg_get(struct lc_req *r, int deleting_ok);
/* An integer or boolean parameter, with Auto Scaling's ValidationError. */
int lc_as_int(struct lc_req *r, const char *key, long long def, long long min, long long max,
              long long *out);
int lc_as_bool(struct lc_req *r, const char *key, int def, int *out);
/* A string parameter of at most `max` characters, no control bytes; NULL when absent. */
int lc_as_str(struct lc_req *r, const char *key, size_t max, const char **out);
/* The values of NAME.member.N, each checked as lc_as_str(); free *out. */
int lc_as_members(struct lc_req *r, const char *name, size_t max_len, size_t max_n,
                  const char ***out, size_t *n);
/* NextToken/MaxRecords over `total` items: InvalidNextToken, ValidationError. */
int lc_as_page(struct lc_req *r, size_t total, long long def, long long max, size_t *first,
               size_t *count);
void lc_as_next_token(struct lc_req *r, size_t first, size_t count, size_t total);
/* Filters.member.N.Name / Values.member.M into [{name, values[]}] (a new array). */
int lc_as_filters(struct lc_req *r, const char *const *names, size_t n, json_t **out);
/* A process name Auto Scaling knows (Launch, Terminate, HealthCheck, ...). */
int lc_as_process_valid(const char *name);
extern const char *const lc_as_processes[];
extern const size_t lc_as_nprocesses;
int lc_asg_suspended(json_t *g, const char *process);
/* Time as Auto Scaling writes it: 2024-01-02T03:04:05.678Z. */
void lc_as_time(char out[32], double t);

/*
 * Run an action of another service the way its API would (cloud->mu held):
 * the parameters of `q` sorted and handed to `fn`. 0, or -1 with the AWS
 * error in code/message. The reply's members are dropped.
 */
int lc_as_call(struct lc_cloud *c, lc_handler_fn fn, const struct kiln_query *q, char code[96],
               char message[512]);

/* ---- asgroups.c --------------------------------------------------------- */

int lc_as_create_group(struct lc_req *r);
int lc_as_update_group(struct lc_req *r);
int lc_as_delete_group(struct lc_req *r);
int lc_as_describe_groups(struct lc_req *r);
int lc_as_set_desired_capacity(struct lc_req *r);
int lc_as_suspend_processes(struct lc_req *r);
int lc_as_resume_processes(struct lc_req *r);
int lc_as_describe_process_types(struct lc_req *r);
/* Instances that count toward capacity (pending and in service, not leaving). */
long long lc_asg_live(json_t *g);

/* ---- asinstances.c ------------------------------------------------------ */

int lc_as_describe_instances(struct lc_req *r);
int lc_as_set_instance_health(struct lc_req *r);
int lc_as_terminate_instance(struct lc_req *r);
/* <member> of an instance, as DescribeAutoScalingGroups (group 0) or Instances (1) show it. */
void lc_asg_instance_xml(struct lc_req *r, json_t *g, json_t *inst, int with_group);
/* The group holding instance `id`, or NULL. */
json_t *lc_asg_of_instance(struct lc_cloud *c, const char *id, json_t **inst);
/*
 * Take an instance out of service: it goes to Terminating (drained, hooks,
 * then terminated by the reconciler) under a new activity; the activity.
 */
json_t *lc_asg_instance_retire(struct lc_cloud *c, json_t *g, json_t *inst, const char *cause);

/* ---- asactivities.c ----------------------------------------------------- */

int lc_as_describe_activities(struct lc_req *r);
/* A new activity of group `g` (InProgress), in the state; borrowed. */
json_t *lc_activity_new(struct lc_cloud *c, json_t *g, const char *description, const char *cause);
void lc_activity_set(json_t *a, const char *status, int progress, const char *message);
/* Ended: status Successful, Failed or Cancelled, end time now. */
void lc_activity_end(struct lc_cloud *c, json_t *a, const char *status, const char *message);
void lc_activity_xml(struct lc_req *r, json_t *a);
/* Does the group have activities not ended? */
int lc_asg_busy(struct lc_cloud *c, const char *group);
/* The group is gone: its activities stay, marked deleted, for IncludeDeletedGroups. */
void lc_activities_group_deleted(struct lc_cloud *c, const char *group);
/* "At TIME a user request ...": the cause of what a request changed, kept in the group. */
void lc_asg_cause(json_t *g, const char *fmt, ...) KILN_PRINTF(2, 3);

/* ---- astags.c ----------------------------------------------------------- */

int lc_as_create_or_update_tags(struct lc_req *r);
int lc_as_delete_tags(struct lc_req *r);
int lc_as_describe_tags(struct lc_req *r);
/* Tags.member.N of a create (ResourceId defaults to `group`): a new object key -> {value,
 * propagate}. */
int lc_as_q_group_tags(struct lc_req *r, const char *group, json_t **out);
void lc_asg_tags_xml(struct lc_req *r, json_t *g);

/* ---- astraffic.c -------------------------------------------------------- */

int lc_as_attach_target_groups(struct lc_req *r);
int lc_as_detach_target_groups(struct lc_req *r);
int lc_as_describe_target_groups(struct lc_req *r);
int lc_as_attach_traffic_sources(struct lc_req *r);
int lc_as_detach_traffic_sources(struct lc_req *r);
int lc_as_describe_traffic_sources(struct lc_req *r);
/* Each ARN must name a target group of the instances' kind; ValidationError otherwise. */
int lc_as_check_target_groups(struct lc_req *r, const char *const *arns, size_t n);
/* Register / deregister (drain) one instance in the target groups `arns` (an array). */
void lc_asg_register(struct lc_cloud *c, json_t *inst, json_t *arns);
void lc_asg_deregister(struct lc_cloud *c, json_t *inst, json_t *arns);
/* Is the instance still a target (registered or draining) of any of `arns`? */
int lc_asg_still_target(struct lc_cloud *c, const char *id, json_t *arns);

/* ---- lifecycle.c -------------------------------------------------------- */

int lc_as_put_lifecycle_hook(struct lc_req *r);
int lc_as_delete_lifecycle_hook(struct lc_req *r);
int lc_as_describe_lifecycle_hooks(struct lc_req *r);
int lc_as_describe_lifecycle_hook_types(struct lc_req *r);
int lc_as_complete_lifecycle_action(struct lc_req *r);
int lc_as_record_lifecycle_action_heartbeat(struct lc_req *r);
/* LifecycleHookSpecificationList of a create into g["hooks"]. */
int lc_as_q_hook_specs(struct lc_req *r, json_t *hooks);
#define LC_HOOK_LAUNCHING   "autoscaling:EC2_INSTANCE_LAUNCHING"
#define LC_HOOK_TERMINATING "autoscaling:EC2_INSTANCE_TERMINATING"
/*
 * Put an instance in wait for the hooks of `transition`: 1 when it waits
 * (its "waits" set), 0 when the group has none.
 */
int lc_lifecycle_wait(json_t *g, json_t *inst, const char *transition, double now);
/*
 * Where an instance's wait stands: 0 still waiting, 1 every action
 * completed (CONTINUE), -1 abandoned. Timed-out actions take their hook's
 * default result.
 */
int lc_lifecycle_done(json_t *g, json_t *inst, double now);

/* ---- asreconcile.c ------------------------------------------------------ */

/* One round over every group (lock not held): the reaper calls it four times a second. */
void lc_asgs_reconcile(struct lc_cloud *c);

#endif
