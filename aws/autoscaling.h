/*
 * Typed Auto Scaling calls (API 2011-01-01) for the deploy: one group per
 * release, launched from a launch template version and attached to a
 * target group; its instances, desired capacity, activities and tags.
 *
 * Inputs are borrowed; unset numbers are -1 and unset strings NULL. Outputs
 * come back through `**out`, owned by the caller and freed with the matching
 * `_free` (NULL is a no-op). Describe calls follow NextToken to the end.
 * Errors are those of kiln_aws_query ("ValidationError" for a missing group
 * on most calls, "AlreadyExists" on a second create).
 */
#ifndef KILN_AWS_AUTOSCALING_H
#define KILN_AWS_AUTOSCALING_H

#include "aws/shapes.h"

/* A group tag; resource id is the group name, resource type "auto-scaling-group". */
struct kiln_asg_tag {
	const char *group_name;
	const char *key;
	const char *value;
	int propagate_at_launch; /* -1, 0, 1 */
};

struct kiln_asg_group_spec {
	const char *name;
	const char *launch_template_id; /* or launch_template_name */
	const char *launch_template_name;
	const char *launch_template_version; /* "$Latest", "3" */
	int min_size, max_size, desired_capacity;
	int default_cooldown_s;
	const char *const *availability_zones;
	size_t n_availability_zones;
	const char *vpc_zone_identifier;      /* comma-separated subnet ids */
	const char *const *target_group_arns; /* create only */
	size_t n_target_group_arns;
	const char *health_check_type; /* "EC2", "ELB" */
	int health_check_grace_period_s;
	const char *const *termination_policies;
	size_t n_termination_policies;
	int new_instances_protected_from_scale_in; /* -1, 0, 1 */
	const struct kiln_asg_tag *tags;           /* create only */
	size_t n_tags;
};

/* Every number in a spec starts unset: call this before filling one. */
void kiln_asg_group_spec_init(struct kiln_asg_group_spec *s);

int kiln_asg_create_group(struct kiln_aws *aws, const struct kiln_asg_group_spec *s);
/* UpdateAutoScalingGroup: only the fields that are set change. */
int kiln_asg_update_group(struct kiln_aws *aws, const struct kiln_asg_group_spec *s);
int kiln_asg_delete_group(struct kiln_aws *aws, const char *name, int force);

struct kiln_asg_instance {
	char *instance_id, *group_name, *availability_zone, *lifecycle_state, *health_status;
	char *launch_template_id, *launch_template_version, *instance_type;
	int protected_from_scale_in;
};

struct kiln_asg_instance_list {
	struct kiln_asg_instance *v;
	size_t n, alloc;
};

struct kiln_asg_group {
	char *name, *arn, *launch_template_id, *launch_template_name, *launch_template_version;
	int min_size, max_size, desired_capacity, default_cooldown_s, health_check_grace_period_s;
	char *health_check_type, *vpc_zone_identifier, *created_time, *status;
	struct kiln_aws_strings availability_zones;
	struct kiln_aws_strings target_group_arns;
	struct kiln_asg_instance *instances;
	size_t n_instances;
	struct kiln_aws_tags tags;
};

struct kiln_asg_group_list {
	struct kiln_asg_group *v;
	size_t n, alloc;
};

/* `names` may be empty (every group); `filters` may be NULL; `max_records` 0: default. */
int kiln_asg_describe_groups(struct kiln_asg_group_list **out, struct kiln_aws *aws,
                             const char *const *names, size_t n,
                             const struct kiln_aws_filters *filters, int max_records);
void kiln_asg_group_list_free(struct kiln_asg_group_list *l);

int kiln_asg_describe_instances(struct kiln_asg_instance_list **out, struct kiln_aws *aws,
                                const char *const *instance_ids, size_t n, int max_records);
void kiln_asg_instance_list_free(struct kiln_asg_instance_list *l);

int kiln_asg_set_desired_capacity(struct kiln_aws *aws, const char *name, int desired,
                                  int honor_cooldown);
int kiln_asg_attach_target_groups(struct kiln_aws *aws, const char *name, const char *const *arns,
                                  size_t n);
int kiln_asg_detach_target_groups(struct kiln_aws *aws, const char *name, const char *const *arns,
                                  size_t n);

struct kiln_asg_activity {
	char *activity_id, *group_name, *description, *cause, *start_time, *end_time;
	char *status_code, *status_message;
	int progress;
};

struct kiln_asg_activity_list {
	struct kiln_asg_activity *v;
	size_t n, alloc;
};

/* Activities of one group (newest first, as the service lists them). */
int kiln_asg_describe_activities(struct kiln_asg_activity_list **out, struct kiln_aws *aws,
                                 const char *name, const char *const *activity_ids, size_t n,
                                 int max_records);
void kiln_asg_activity_list_free(struct kiln_asg_activity_list *l);

int kiln_asg_create_or_update_tags(struct kiln_aws *aws, const struct kiln_asg_tag *tags, size_t n);
int kiln_asg_delete_tags(struct kiln_aws *aws, const struct kiln_asg_tag *tags, size_t n);

#endif
