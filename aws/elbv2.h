/*
 * Typed Elastic Load Balancing v2 calls (API 2015-12-01) for the deploy:
 * load balancers, target groups, listeners (the blue-green swap is one
 * ModifyListener), targets and their health, tags.
 *
 * Inputs are borrowed; unset fields are NULL, 0 or -1 as each says. Outputs
 * come back through `**out`, owned by the caller and freed with the matching
 * `_free` (NULL is a no-op). Describe calls follow NextMarker to the end.
 * Errors are those of kiln_aws_query: "LoadBalancerNotFound",
 * "TargetGroupNotFound" and "ListenerNotFound" give KILN_ENOTFOUND.
 */
#ifndef KILN_AWS_ELBV2_H
#define KILN_AWS_ELBV2_H

#include "aws/shapes.h"

struct kiln_elbv2_load_balancer {
	char *arn, *name, *dns_name, *canonical_hosted_zone_id, *created_time;
	char *scheme, *type, *state, *vpc_id, *ip_address_type;
	struct kiln_aws_strings subnet_ids; /* from AvailabilityZones */
	struct kiln_aws_strings zones;
	struct kiln_aws_strings security_groups;
};

struct kiln_elbv2_load_balancer_list {
	struct kiln_elbv2_load_balancer *v;
	size_t n, alloc;
};

struct kiln_elbv2_create_load_balancer {
	const char *name;
	const char *const *subnets;
	size_t n_subnets;
	const char *const *security_groups;
	size_t n_security_groups;
	const char *scheme;          /* "internet-facing" or "internal" */
	const char *type;            /* "application", "network" */
	const char *ip_address_type; /* "ipv4", "dualstack" */
	const struct kiln_aws_tags *tags;
};

/* Which resources to describe; all may be empty (page_size 0: the service default). */
struct kiln_elbv2_describe {
	const char *const *arns;
	size_t n_arns;
	const char *const *names;
	size_t n_names;
	const char *load_balancer_arn; /* target groups and listeners of one load balancer */
	int page_size;
};

int kiln_elbv2_create_load_balancer(struct kiln_elbv2_load_balancer **out, struct kiln_aws *aws,
                                    const struct kiln_elbv2_create_load_balancer *o);
int kiln_elbv2_describe_load_balancers(struct kiln_elbv2_load_balancer_list **out,
                                       struct kiln_aws *aws, const struct kiln_elbv2_describe *d);
int kiln_elbv2_delete_load_balancer(struct kiln_aws *aws, const char *arn);
/* SetSecurityGroups: the load balancer's groups, replaced whole. */
int kiln_elbv2_set_security_groups(struct kiln_aws *aws, const char *arn,
                                   const char *const *group_ids, size_t n);
void kiln_elbv2_load_balancer_free(struct kiln_elbv2_load_balancer *lb);
void kiln_elbv2_load_balancer_list_free(struct kiln_elbv2_load_balancer_list *l);

/* Health check settings; NULL / 0 / -1 fields are left as they are. */
struct kiln_elbv2_health_check {
	const char *protocol;
	const char *port; /* "traffic-port" or a number */
	const char *path;
	int enabled; /* -1, 0, 1 */
	int interval_s, timeout_s, healthy_threshold, unhealthy_threshold;
	const char *matcher_http_code; /* "200", "200-299" */
};

struct kiln_elbv2_target_group {
	char *arn, *name, *protocol, *vpc_id, *target_type;
	int port;
	char *health_check_protocol, *health_check_port, *health_check_path, *matcher_http_code;
	int health_check_enabled, interval_s, timeout_s, healthy_threshold, unhealthy_threshold;
	struct kiln_aws_strings load_balancer_arns;
};

struct kiln_elbv2_target_group_list {
	struct kiln_elbv2_target_group *v;
	size_t n, alloc;
};

struct kiln_elbv2_create_target_group {
	const char *name;
	const char *protocol; /* "HTTP" */
	int port;
	const char *vpc_id;
	const char *target_type; /* "instance", "ip" */
	struct kiln_elbv2_health_check health;
	const struct kiln_aws_tags *tags;
};

int kiln_elbv2_create_target_group(struct kiln_elbv2_target_group **out, struct kiln_aws *aws,
                                   const struct kiln_elbv2_create_target_group *o);
int kiln_elbv2_describe_target_groups(struct kiln_elbv2_target_group_list **out,
                                      struct kiln_aws *aws, const struct kiln_elbv2_describe *d);
/* ModifyTargetGroup: the health check; `out` may be NULL. */
int kiln_elbv2_modify_target_group(struct kiln_elbv2_target_group **out, struct kiln_aws *aws,
                                   const char *arn, const struct kiln_elbv2_health_check *h);
int kiln_elbv2_delete_target_group(struct kiln_aws *aws, const char *arn);
/*
 * ModifyTargetGroupAttributes: `keys` and `values` (n of each), such as
 * "deregistration_delay.timeout_seconds" = "30". Others stay as they are.
 */
int kiln_elbv2_modify_target_group_attributes(struct kiln_aws *aws, const char *arn,
                                              const char *const *keys, const char *const *values,
                                              size_t n);
void kiln_elbv2_target_group_free(struct kiln_elbv2_target_group *tg);
void kiln_elbv2_target_group_list_free(struct kiln_elbv2_target_group_list *l);

/* A listener's action: "forward" to one target group. */
struct kiln_elbv2_action {
	const char *type;
	const char *target_group_arn;
	int order; /* 0: unset */
};

struct kiln_elbv2_listener {
	char *arn, *load_balancer_arn, *protocol, *ssl_policy;
	int port;
	/* The default actions' types and target groups, in order. */
	struct kiln_aws_strings action_types;
	struct kiln_aws_strings target_group_arns;
};

struct kiln_elbv2_listener_list {
	struct kiln_elbv2_listener *v;
	size_t n, alloc;
};

struct kiln_elbv2_listener_spec {
	const char *protocol; /* "HTTP", "HTTPS" */
	int port;             /* 0: unchanged (modify) */
	const char *ssl_policy;
	const struct kiln_elbv2_action *actions;
	size_t n_actions;
	const char *certificate_arn; /* HTTPS: the default certificate, or NULL */
};

int kiln_elbv2_create_listener(struct kiln_elbv2_listener **out, struct kiln_aws *aws,
                               const char *load_balancer_arn,
                               const struct kiln_elbv2_listener_spec *s,
                               const struct kiln_aws_tags *tags);
/* `d->arns` are listener arns, or `d->load_balancer_arn` names the load balancer. */
int kiln_elbv2_describe_listeners(struct kiln_elbv2_listener_list **out, struct kiln_aws *aws,
                                  const struct kiln_elbv2_describe *d);
/* ModifyListener (the swap); `out` may be NULL. */
int kiln_elbv2_modify_listener(struct kiln_elbv2_listener **out, struct kiln_aws *aws,
                               const char *arn, const struct kiln_elbv2_listener_spec *s);
int kiln_elbv2_delete_listener(struct kiln_aws *aws, const char *arn);
void kiln_elbv2_listener_free(struct kiln_elbv2_listener *li);
void kiln_elbv2_listener_list_free(struct kiln_elbv2_listener_list *l);

/* Targets. */

struct kiln_elbv2_target {
	const char *id; /* instance id or address */
	int port;       /* 0: the target group's */
};

struct kiln_elbv2_target_health {
	char *id, *health_check_port, *state, *reason, *description;
	int port;
};

struct kiln_elbv2_target_health_list {
	struct kiln_elbv2_target_health *v;
	size_t n, alloc;
};

int kiln_elbv2_register_targets(struct kiln_aws *aws, const char *target_group_arn,
                                const struct kiln_elbv2_target *t, size_t n);
int kiln_elbv2_deregister_targets(struct kiln_aws *aws, const char *target_group_arn,
                                  const struct kiln_elbv2_target *t, size_t n);
/* `t` may be NULL: every registered target. */
int kiln_elbv2_describe_target_health(struct kiln_elbv2_target_health_list **out,
                                      struct kiln_aws *aws, const char *target_group_arn,
                                      const struct kiln_elbv2_target *t, size_t n);
void kiln_elbv2_target_health_list_free(struct kiln_elbv2_target_health_list *l);

/* Tags. */

struct kiln_elbv2_tag_description {
	char *resource_arn;
	struct kiln_aws_tags tags;
};

struct kiln_elbv2_tag_description_list {
	struct kiln_elbv2_tag_description *v;
	size_t n, alloc;
};

int kiln_elbv2_add_tags(struct kiln_aws *aws, const char *const *arns, size_t n,
                        const struct kiln_aws_tags *tags);
int kiln_elbv2_remove_tags(struct kiln_aws *aws, const char *const *arns, size_t n,
                           const char *const *keys, size_t n_keys);
/* DescribeTags takes at most 20 arns per call; more are split into several calls. */
int kiln_elbv2_describe_tags(struct kiln_elbv2_tag_description_list **out, struct kiln_aws *aws,
                             const char *const *arns, size_t n);
void kiln_elbv2_tag_description_list_free(struct kiln_elbv2_tag_description_list *l);

#endif
