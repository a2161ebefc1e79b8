/*
 * Typed EC2 calls (API 2016-11-15) for the bake and the deploy: images and
 * snapshots, instances and their console, key pairs, security groups, VPCs
 * and subnets, tags, launch templates.
 *
 * Inputs are borrowed structs whose unset fields are NULL, 0 or -1 as each
 * says; outputs come back through `**out` and belong to the caller, who
 * frees them with the matching `_free` (NULL is a no-op). List calls follow
 * nextToken to the end, so a list holds every result. Errors are those of
 * kiln_aws_query (client.h): KILN_ENOTFOUND for *.NotFound codes, the AWS
 * code and message in the error slot.
 *
 * Private key material from CreateKeyPair is a secret: it is registered with
 * the logger's redaction at once and wiped when freed.
 */
#ifndef KILN_AWS_EC2_H
#define KILN_AWS_EC2_H

#include "aws/shapes.h"

/* Which resources to describe; every field may be left empty. */
struct kiln_ec2_describe {
	const char *const *ids; /* ImageId, InstanceId, SnapshotId, GroupId, VpcId, ... */
	size_t n_ids;
	const char *const *names; /* KeyName, GroupName, LaunchTemplateName */
	size_t n_names;
	const char *const *owners; /* images and snapshots: "self", "amazon", account ids */
	size_t n_owners;
	const struct kiln_aws_filters *filters;
	int max_results; /* page size; 0: the service default */
};

/* A tag specification for a resource being created ("instance", "image", ...). */
struct kiln_ec2_tag_spec {
	const char *resource_type;
	const struct kiln_aws_tags *tags;
};

/* A block device mapping; -1 leaves a tri-state field unset. */
struct kiln_ec2_block_device {
	const char *device_name;
	const char *virtual_name;
	const char *no_device; /* "" to suppress the device */
	const char *snapshot_id;
	int volume_size_gib; /* 0: unset */
	const char *volume_type;
	int iops;      /* 0: unset */
	int encrypted; /* -1, 0, 1 */
	const char *kms_key_id;
	int delete_on_termination; /* -1, 0, 1 */
};

/* Images. */

struct kiln_ec2_image_device {
	char *device_name;
	char *snapshot_id;
	int volume_size_gib;
	int encrypted;
};

struct kiln_ec2_image {
	char *image_id, *name, *description, *state, *owner_id, *creation_date;
	char *architecture, *root_device_name, *root_device_type;
	struct kiln_ec2_image_device *devices;
	size_t n_devices;
	struct kiln_aws_tags tags;
};

struct kiln_ec2_image_list {
	struct kiln_ec2_image *v;
	size_t n, alloc;
};

int kiln_ec2_describe_images(struct kiln_ec2_image_list **out, struct kiln_aws *aws,
                             const struct kiln_ec2_describe *d);
void kiln_ec2_image_list_free(struct kiln_ec2_image_list *l);

struct kiln_ec2_create_image {
	const char *instance_id;
	const char *name;
	const char *description;
	int no_reboot; /* -1, 0, 1 */
	const struct kiln_ec2_block_device *devices;
	size_t n_devices;
	const struct kiln_ec2_tag_spec *tag_specs;
	size_t n_tag_specs;
};

/* CreateImage; `*out` is the new image id. */
int kiln_ec2_create_image(char **out, struct kiln_aws *aws, const struct kiln_ec2_create_image *o);
int kiln_ec2_deregister_image(struct kiln_aws *aws, const char *image_id);

/* Snapshots. */

struct kiln_ec2_snapshot {
	char *snapshot_id, *volume_id, *state, *owner_id, *description, *start_time;
	int volume_size_gib;
	int encrypted;
	struct kiln_aws_tags tags;
};

struct kiln_ec2_snapshot_list {
	struct kiln_ec2_snapshot *v;
	size_t n, alloc;
};

int kiln_ec2_describe_snapshots(struct kiln_ec2_snapshot_list **out, struct kiln_aws *aws,
                                const struct kiln_ec2_describe *d);
void kiln_ec2_snapshot_list_free(struct kiln_ec2_snapshot_list *l);
int kiln_ec2_delete_snapshot(struct kiln_aws *aws, const char *snapshot_id);

/* Instances. */

struct kiln_ec2_instance {
	char *instance_id, *image_id, *instance_type, *key_name, *state;
	int state_code;
	char *private_ip, *public_ip, *private_dns, *public_dns;
	char *subnet_id, *vpc_id, *availability_zone, *launch_time, *state_reason;
	char *client_token;
	struct kiln_aws_strings security_group_ids;
	struct kiln_aws_tags tags;
};

struct kiln_ec2_instance_list {
	struct kiln_ec2_instance *v;
	size_t n, alloc;
};

void kiln_ec2_instance_list_free(struct kiln_ec2_instance_list *l);

struct kiln_ec2_run_instances {
	const char *image_id;
	const char *instance_type;
	int min_count, max_count; /* 0: 1 */
	const char *key_name;
	const char *const *security_group_ids;
	size_t n_security_group_ids;
	const char *subnet_id;
	const char *user_data; /* raw text; sent base64-encoded */
	const struct kiln_ec2_tag_spec *tag_specs;
	size_t n_tag_specs;
	const char *client_token;       /* idempotency token */
	const char *shutdown_behavior;  /* "stop" or "terminate" */
	const char *launch_template_id; /* or launch_template_name */
	const char *launch_template_name;
	const char *launch_template_version;
	const struct kiln_ec2_block_device *devices;
	size_t n_devices;
};

int kiln_ec2_run_instances(struct kiln_ec2_instance_list **out, struct kiln_aws *aws,
                           const struct kiln_ec2_run_instances *o);
int kiln_ec2_describe_instances(struct kiln_ec2_instance_list **out, struct kiln_aws *aws,
                                const struct kiln_ec2_describe *d);

struct kiln_ec2_instance_status {
	char *instance_id, *availability_zone, *state, *system_status, *instance_status;
};

struct kiln_ec2_instance_status_list {
	struct kiln_ec2_instance_status *v;
	size_t n, alloc;
};

/* DescribeInstanceStatus; `include_all` also lists instances that are not running. */
int kiln_ec2_describe_instance_status(struct kiln_ec2_instance_status_list **out,
                                      struct kiln_aws *aws, const struct kiln_ec2_describe *d,
                                      int include_all);
void kiln_ec2_instance_status_list_free(struct kiln_ec2_instance_status_list *l);

/* A state change from Start/Stop/TerminateInstances. */
struct kiln_ec2_state_change {
	char *instance_id, *previous_state, *current_state;
};

struct kiln_ec2_state_change_list {
	struct kiln_ec2_state_change *v;
	size_t n, alloc;
};

void kiln_ec2_state_change_list_free(struct kiln_ec2_state_change_list *l);
/* `out` may be NULL when the caller does not need the changes. */
int kiln_ec2_start_instances(struct kiln_ec2_state_change_list **out, struct kiln_aws *aws,
                             const char *const *ids, size_t n);
int kiln_ec2_stop_instances(struct kiln_ec2_state_change_list **out, struct kiln_aws *aws,
                            const char *const *ids, size_t n, int force);
int kiln_ec2_terminate_instances(struct kiln_ec2_state_change_list **out, struct kiln_aws *aws,
                                 const char *const *ids, size_t n);

/* GetConsoleOutput, decoded; `*out` is "" when the console is still empty. */
int kiln_ec2_get_console_output(char **out, struct kiln_aws *aws, const char *instance_id,
                                int latest);

/* Key pairs. */

struct kiln_ec2_key_pair {
	char *key_name, *key_pair_id, *key_fingerprint, *key_type, *create_time;
	char *public_key;   /* DescribeKeyPairs with the public key */
	char *key_material; /* CreateKeyPair only: the private key, secret */
	struct kiln_aws_tags tags;
};

struct kiln_ec2_key_pair_list {
	struct kiln_ec2_key_pair *v;
	size_t n, alloc;
};

struct kiln_ec2_create_key_pair {
	const char *key_name;
	const char *key_type;   /* "ed25519" or "rsa"; NULL: the service default */
	const char *key_format; /* "pem" or "ppk" */
	const struct kiln_ec2_tag_spec *tag_specs;
	size_t n_tag_specs;
};

int kiln_ec2_create_key_pair(struct kiln_ec2_key_pair **out, struct kiln_aws *aws,
                             const struct kiln_ec2_create_key_pair *o);
/* ImportKeyPair of an OpenSSH public key line; `*out` is the key pair id (may be NULL). */
int kiln_ec2_import_key_pair(char **out, struct kiln_aws *aws, const char *key_name,
                             const char *public_key, const struct kiln_ec2_tag_spec *tag_specs,
                             size_t n_tag_specs);
/* DeleteKeyPair by name or by id (the other NULL). */
int kiln_ec2_delete_key_pair(struct kiln_aws *aws, const char *key_name, const char *key_pair_id);
/* `d->names` are key names, `d->ids` key pair ids. */
int kiln_ec2_describe_key_pairs(struct kiln_ec2_key_pair_list **out, struct kiln_aws *aws,
                                const struct kiln_ec2_describe *d, int include_public_key);
void kiln_ec2_key_pair_free(struct kiln_ec2_key_pair *k);
void kiln_ec2_key_pair_list_free(struct kiln_ec2_key_pair_list *l);

/* Security groups. */

struct kiln_ec2_ip_permission {
	const char *ip_protocol; /* "tcp", "udp", "icmp", "-1" */
	int from_port, to_port;
	const char *const *cidrs;
	size_t n_cidrs;
	const char *const *group_ids; /* source security groups */
	size_t n_group_ids;
	const char *description; /* on each range */
};

/* A rule as described back. */
struct kiln_ec2_sg_rule {
	char *ip_protocol;
	int from_port, to_port;
	struct kiln_aws_strings cidrs;
	struct kiln_aws_strings group_ids;
};

struct kiln_ec2_security_group {
	char *group_id, *group_name, *description, *vpc_id, *owner_id;
	struct kiln_ec2_sg_rule *ingress;
	size_t n_ingress;
	struct kiln_aws_tags tags;
};

struct kiln_ec2_security_group_list {
	struct kiln_ec2_security_group *v;
	size_t n, alloc;
};

/* CreateSecurityGroup; `*out` is the group id. `vpc_id` may be NULL. */
int kiln_ec2_create_security_group(char **out, struct kiln_aws *aws, const char *name,
                                   const char *description, const char *vpc_id,
                                   const struct kiln_ec2_tag_spec *tag_specs, size_t n_tag_specs);
int kiln_ec2_delete_security_group(struct kiln_aws *aws, const char *group_id);
int kiln_ec2_authorize_ingress(struct kiln_aws *aws, const char *group_id,
                               const struct kiln_ec2_ip_permission *perms, size_t n);
int kiln_ec2_revoke_ingress(struct kiln_aws *aws, const char *group_id,
                            const struct kiln_ec2_ip_permission *perms, size_t n);
/* `d->ids` are group ids, `d->names` group names. */
int kiln_ec2_describe_security_groups(struct kiln_ec2_security_group_list **out,
                                      struct kiln_aws *aws, const struct kiln_ec2_describe *d);
void kiln_ec2_security_group_list_free(struct kiln_ec2_security_group_list *l);

/* VPCs and subnets. */

struct kiln_ec2_vpc {
	char *vpc_id, *cidr_block, *state, *owner_id;
	int is_default;
	struct kiln_aws_tags tags;
};

struct kiln_ec2_vpc_list {
	struct kiln_ec2_vpc *v;
	size_t n, alloc;
};

struct kiln_ec2_subnet {
	char *subnet_id, *vpc_id, *cidr_block, *availability_zone, *state;
	long long available_ips;
	int default_for_az, map_public_ip_on_launch;
	struct kiln_aws_tags tags;
};

struct kiln_ec2_subnet_list {
	struct kiln_ec2_subnet *v;
	size_t n, alloc;
};

int kiln_ec2_describe_vpcs(struct kiln_ec2_vpc_list **out, struct kiln_aws *aws,
                           const struct kiln_ec2_describe *d);
void kiln_ec2_vpc_list_free(struct kiln_ec2_vpc_list *l);
int kiln_ec2_describe_subnets(struct kiln_ec2_subnet_list **out, struct kiln_aws *aws,
                              const struct kiln_ec2_describe *d);
void kiln_ec2_subnet_list_free(struct kiln_ec2_subnet_list *l);

/* Tags. */

struct kiln_ec2_tag_description {
	char *resource_id, *resource_type, *key, *value;
};

struct kiln_ec2_tag_description_list {
	struct kiln_ec2_tag_description *v;
	size_t n, alloc;
};

int kiln_ec2_create_tags(struct kiln_aws *aws, const char *const *resource_ids, size_t n,
                         const struct kiln_aws_tags *tags);
/* Tags with a NULL value are deleted whatever their value. */
int kiln_ec2_delete_tags(struct kiln_aws *aws, const char *const *resource_ids, size_t n,
                         const struct kiln_aws_tags *tags);
/* DescribeTags takes only filters (resource-id, key, value, resource-type). */
int kiln_ec2_describe_tags(struct kiln_ec2_tag_description_list **out, struct kiln_aws *aws,
                           const struct kiln_ec2_describe *d);
void kiln_ec2_tag_description_list_free(struct kiln_ec2_tag_description_list *l);

/* Launch templates. */

/* What an instance launched from a template gets. */
struct kiln_ec2_launch_template_data {
	const char *image_id;
	const char *instance_type;
	const char *key_name;
	const char *user_data; /* raw; sent base64-encoded */
	const char *const *security_group_ids;
	size_t n_security_group_ids;
	const char *iam_instance_profile_name;
	const char *shutdown_behavior;
	const struct kiln_ec2_block_device *devices;
	size_t n_devices;
	const struct kiln_ec2_tag_spec *tag_specs; /* for the instances and volumes */
	size_t n_tag_specs;
};

struct kiln_ec2_launch_template {
	char *launch_template_id, *launch_template_name, *create_time, *created_by;
	long long default_version, latest_version;
	struct kiln_aws_tags tags;
};

struct kiln_ec2_launch_template_list {
	struct kiln_ec2_launch_template *v;
	size_t n, alloc;
};

struct kiln_ec2_launch_template_version {
	char *launch_template_id, *launch_template_name, *description, *create_time;
	long long version_number;
	int default_version;
	char *image_id, *instance_type, *key_name;
	char *user_data; /* decoded */
	struct kiln_aws_strings security_group_ids;
};

struct kiln_ec2_launch_template_version_list {
	struct kiln_ec2_launch_template_version *v;
	size_t n, alloc;
};

struct kiln_ec2_create_launch_template {
	const char *name;
	const char *version_description;
	const char *client_token;
	const struct kiln_ec2_launch_template_data *data;
	const struct kiln_aws_tags *tags; /* on the template itself */
};

int kiln_ec2_create_launch_template(struct kiln_ec2_launch_template **out, struct kiln_aws *aws,
                                    const struct kiln_ec2_create_launch_template *o);

struct kiln_ec2_create_launch_template_version {
	const char *launch_template_id; /* or launch_template_name */
	const char *launch_template_name;
	const char *source_version; /* NULL: start from nothing */
	const char *version_description;
	const char *client_token;
	const struct kiln_ec2_launch_template_data *data;
};

int kiln_ec2_create_launch_template_version(
    struct kiln_ec2_launch_template_version **out, struct kiln_aws *aws,
    const struct kiln_ec2_create_launch_template_version *o);
/* ModifyLaunchTemplate: set the default version ("3", "$Latest"). */
int kiln_ec2_modify_launch_template(struct kiln_aws *aws, const char *launch_template_id,
                                    const char *launch_template_name, const char *default_version);
int kiln_ec2_delete_launch_template(struct kiln_aws *aws, const char *launch_template_id,
                                    const char *launch_template_name);
/* `d->ids` are template ids, `d->names` template names. */
int kiln_ec2_describe_launch_templates(struct kiln_ec2_launch_template_list **out,
                                       struct kiln_aws *aws, const struct kiln_ec2_describe *d);
/* Versions of one template; `versions` ("1", "$Latest", "$Default") may be empty. */
int kiln_ec2_describe_launch_template_versions(struct kiln_ec2_launch_template_version_list **out,
                                               struct kiln_aws *aws, const char *launch_template_id,
                                               const char *launch_template_name,
                                               const char *const *versions, size_t n_versions,
                                               const struct kiln_ec2_describe *d);
void kiln_ec2_launch_template_free(struct kiln_ec2_launch_template *t);
void kiln_ec2_launch_template_list_free(struct kiln_ec2_launch_template_list *l);
void kiln_ec2_launch_template_version_free(struct kiln_ec2_launch_template_version *v);
void kiln_ec2_launch_template_version_list_free(struct kiln_ec2_launch_template_version_list *l);

/*
 * For the other EC2 files and the tests: flattening shared by several calls.
 */
void kiln_ec2_query_tag_specs(struct kiln_query *q, const char *prefix,
                              const struct kiln_ec2_tag_spec *specs, size_t n);
void kiln_ec2_query_block_devices(struct kiln_query *q, const char *prefix, const char *ebs,
                                  const struct kiln_ec2_block_device *d, size_t n);
void kiln_ec2_query_describe(struct kiln_query *q, const struct kiln_ec2_describe *d,
                             const char *id_name, const char *name_name);

#endif
