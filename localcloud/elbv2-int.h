/*
 * Internal to the local cloud: Elastic Load Balancing v2 (application load
 * balancers) on real HAProxy. The handlers, one file per noun
 * (loadbalancers.c, targetgroups.c, targets.c, listeners.c, elbv2.c for the
 * action table, tags and what they share), keep the state; lb.c makes each
 * load balancer's HAProxy match it, at run time when it can (routing,
 * registrations, drains: the runtime API) and by a seamless reload when the
 * configuration must change (a new listener, a new target group behind a
 * listener, health check settings).
 *
 * State tables: "load_balancers", "target_groups" and "listeners", keyed by
 * ARN. A target group's registered targets live in its "targets" object,
 * keyed "<instance id>:<port>".
 */
#ifndef KILN_LOCALCLOUD_ELBV2_INT_H
#define KILN_LOCALCLOUD_ELBV2_INT_H

#include <jansson.h>

#include "localcloud/cloud-int.h"
#include "localcloud/request-int.h"

#define LC_ELBV2_XMLNS "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

/* An ELBv2 action, or NULL. */
const struct lc_action *lc_elbv2_action(const char *name);

/* elbv2.c: what the handlers share. */
json_t *lc_lbs(struct lc_cloud *c);
json_t *lc_tgs(struct lc_cloud *c);
json_t *lc_listeners(struct lc_cloud *c);
/* A resource by ARN, or NULL with ELBv2's NotFound error for its kind. */
json_t *lc_lb_get(struct lc_req *r, const char *arn);
json_t *lc_tg_get(struct lc_req *r, const char *arn);
json_t *lc_listener_get(struct lc_req *r, const char *arn);
/* "arn:aws:elasticloadbalancing:REGION:ACCOUNT:" + `resource`, owned. */
char *lc_elb_arn(struct lc_cloud *c, const char *resource);
/* 16 random hex digits, the id part of ELBv2's ARNs. */
char *lc_elb_id(void);
/* The values of NAME.member.N (the Query protocol's lists in ELBv2), free *out. */
size_t lc_q_members(const struct lc_req *r, const char *name, const char ***out);
/* <name><member>s</member>...</name> for a JSON array of strings. */
void lc_xmembers(struct kiln_buf *b, const char *name, json_t *strings);
/* Tags.member.N.Key/Value into a new object; TooManyTags/ValidationError. */
int lc_elb_q_tags(struct lc_req *r, const char *name, json_t **out);
/* Marker/PageSize (1 to 400) over `total` items. */
int lc_elb_page(struct lc_req *r, size_t total, size_t *first, size_t *count);
void lc_elb_next_marker(struct lc_req *r, size_t first, size_t count, size_t total);
/* Is `v` a value of an attribute of `kind` ("bool", "int:MIN:MAX", "enum:a|b", "str")? */
int lc_attribute_valid(const char *kind, const char *v);
/*
 * A required parameter missing, and a number out of its range, as ELBv2
 * answers them: ValidationError, naming the member as AWS's messages do
 * ("Targets.member.1.Port" is 'targets.1.port'), not EC2's
 * MissingParameter and InvalidParameterValue.
 */
int lc_elb_missing(struct lc_req *r, const char *name);
int lc_elb_q_int(struct lc_req *r, const char *key, long long def, long long min, long long max,
                 long long *out);
/* The target groups a listener's default actions forward to (a new array of ARNs). */
json_t *lc_listener_target_groups(json_t *listener);
/* The load balancer whose listeners forward to `tg_arn`, or NULL. */
const char *lc_tg_load_balancer(struct lc_cloud *c, const char *tg_arn);
/* After-lock step shared by the handlers: sync the load balancer named in r->prep. */
int lc_elbv2_sync_after(struct lc_req *r);
/* Ask for that step: r->prep becomes the load balancer's ARN (NULL: none). */
void lc_elbv2_sync_later(struct lc_req *r, const char *lb_arn);

/* loadbalancers.c */
int lc_elbv2_create_load_balancer(struct lc_req *r);
int lc_elbv2_describe_load_balancers(struct lc_req *r);
int lc_elbv2_delete_load_balancer(struct lc_req *r);
int lc_elbv2_delete_load_balancer_after(struct lc_req *r);
int lc_elbv2_describe_load_balancer_attributes(struct lc_req *r);
int lc_elbv2_modify_load_balancer_attributes(struct lc_req *r);
int lc_elbv2_set_security_groups(struct lc_req *r);

/* targetgroups.c */
int lc_elbv2_create_target_group(struct lc_req *r);
int lc_elbv2_describe_target_groups(struct lc_req *r);
int lc_elbv2_modify_target_group(struct lc_req *r);
int lc_elbv2_delete_target_group(struct lc_req *r);
int lc_elbv2_describe_target_group_attributes(struct lc_req *r);
int lc_elbv2_modify_target_group_attributes(struct lc_req *r);
/* A target group attribute's value (defaults applied), borrowed. */
const char *lc_tg_attribute(json_t *tg, const char *key);

/* targets.c */
int lc_elbv2_register_targets(struct lc_req *r);
int lc_elbv2_deregister_targets(struct lc_req *r);
int lc_elbv2_describe_target_health(struct lc_req *r);

/* listeners.c */
int lc_elbv2_create_listener(struct lc_req *r);
int lc_elbv2_describe_listeners(struct lc_req *r);
int lc_elbv2_modify_listener(struct lc_req *r);
int lc_elbv2_delete_listener(struct lc_req *r);

/* lb.c: each load balancer's HAProxy */
/* Make the HAProxy of `lb_arn` match the state (lock not held); starts, reloads or updates it. */
int lc_lb_sync(struct lc_cloud *c, const char *lb_arn);
/* Stop a deleted load balancer's HAProxy and take its address off the bridge (lock not held). */
void lc_lb_remove(struct lc_cloud *c, const char *lb_arn, const char *ip);
/* After the daemon started: adopt or start every load balancer's HAProxy (lock not held). */
void lc_lbs_resume(struct lc_cloud *c);
/* `kiln cloud down`: stop them all (lock not held). */
void lc_lbs_shutdown(struct lc_cloud *c);
/* Free what the daemon kept of them (the cloud is closing). */
void lc_lbs_release(struct lc_cloud *c);
/*
 * The watcher's round (lock not held): health read from each HAProxy,
 * drains ended, targets of instances that stopped or terminated updated,
 * HAProxy processes that died restarted.
 */
void lc_lbs_watch(struct lc_cloud *c);
/*
 * A target's health as DescribeTargetHealth reports it (state, reason,
 * description), from the last look at its HAProxy (cloud->mu held).
 */
void lc_target_health(struct lc_cloud *c, json_t *tg, const char *key, json_t *target,
                      const char **state, const char **reason, char description[128]);

#endif
