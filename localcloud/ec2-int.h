/*
 * Internal to the local cloud's EC2 API: the handlers, one per action, in
 * files named after their noun (vpc.c, groups.c, keypairs.c, tags.c,
 * templates.c, instances.c, launch.c, images.c, snapshots.c), the lookups
 * they share, and the instances' runners (runner.c). ec2.c holds the table
 * that maps every EC2 action to its handler.
 *
 * Everything here runs with cloud->mu held, unless it says otherwise.
 */
#ifndef KILN_LOCALCLOUD_EC2_INT_H
#define KILN_LOCALCLOUD_EC2_INT_H

#include <jansson.h>

#include "core/buf.h"
#include "localcloud/cloud-int.h"
#include "localcloud/request-int.h"

#define LC_EC2_XMLNS "http://ec2.amazonaws.com/doc/2016-11-15/"

/* An EC2 action, or NULL. */
const struct lc_action *lc_ec2_action(const char *name);

/* vpc.c: regions, zones, account attributes, the default VPC and its subnets. */
int lc_ec2_describe_regions(struct lc_req *r);
int lc_ec2_describe_availability_zones(struct lc_req *r);
int lc_ec2_describe_account_attributes(struct lc_req *r);
int lc_ec2_describe_vpcs(struct lc_req *r);
int lc_ec2_describe_subnets(struct lc_req *r);
/* One default VPC on the cloud's network and a default subnet per zone. */
int lc_vpc_setup(struct lc_cloud *c);
/* The name and id of zone `i` of the cloud's region ("us-east-1a", "use1-az1"). */
void lc_zone_name(const struct lc_cloud *c, int i, char out[40]);
const char *lc_default_vpc(struct lc_cloud *c);
json_t *lc_subnet(struct lc_cloud *c, const char *id);
/* Addresses held by live instances and load balancers in a subnet. */
long long lc_subnet_used(struct lc_cloud *c, const char *subnet_id);
/* Every address in use on the bridge, as an object address -> owner (instance or LB). */
json_t *lc_addresses_used(struct lc_cloud *c);
/* The first address of `subnet` not in `used`; -1 when it is full. */
int lc_address_next(json_t *subnet, json_t *used, uint32_t *out);

/* groups.c: security groups. */
int lc_ec2_create_security_group(struct lc_req *r);
int lc_ec2_delete_security_group(struct lc_req *r);
int lc_ec2_authorize_security_group_ingress(struct lc_req *r);
int lc_ec2_authorize_security_group_egress(struct lc_req *r);
int lc_ec2_revoke_security_group_ingress(struct lc_req *r);
int lc_ec2_describe_security_groups(struct lc_req *r);
json_t *lc_group_by_name(struct lc_cloud *c, const char *name);
/* The addresses of a group's members (live instances, load balancers), a line each, into `out`. */
void lc_group_members(struct lc_cloud *c, const char *group_id, struct kiln_buf *out);
void lc_ensure_default_group(struct lc_cloud *c);

/* keypairs.c */
int lc_ec2_create_key_pair_prepare(struct lc_req *r);
int lc_ec2_create_key_pair(struct lc_req *r);
int lc_ec2_import_key_pair_prepare(struct lc_req *r);
int lc_ec2_import_key_pair(struct lc_req *r);
int lc_ec2_describe_key_pairs(struct lc_req *r);
int lc_ec2_delete_key_pair(struct lc_req *r);
json_t *lc_key_pair(struct lc_cloud *c, const char *name);

/* tags.c */
int lc_ec2_create_tags(struct lc_req *r);
int lc_ec2_delete_tags(struct lc_req *r);
int lc_ec2_describe_tags(struct lc_req *r);
/* "instance", "image", ... for a state table's name. */
const char *lc_resource_type(const char *table);

/* templates.c: launch templates. */
int lc_ec2_create_launch_template(struct lc_req *r);
int lc_ec2_create_launch_template_version(struct lc_req *r);
int lc_ec2_modify_launch_template(struct lc_req *r);
int lc_ec2_delete_launch_template(struct lc_req *r);
int lc_ec2_describe_launch_templates(struct lc_req *r);
int lc_ec2_describe_launch_template_versions(struct lc_req *r);
/* A launch template by id or name, and one of its versions ($Default, $Latest, N). */
json_t *lc_template(struct lc_req *r, const char *id, const char *name);
json_t *lc_template_version(struct lc_req *r, json_t *t, const char *version);

/* instances.c */
int lc_ec2_describe_instances(struct lc_req *r);
int lc_ec2_describe_instance_status(struct lc_req *r);
int lc_ec2_start_instances(struct lc_req *r);
int lc_ec2_stop_instances(struct lc_req *r);
int lc_ec2_terminate_instances(struct lc_req *r);
int lc_ec2_reboot_instances(struct lc_req *r);
int lc_ec2_get_console_output_prepare(struct lc_req *r);
int lc_ec2_get_console_output(struct lc_req *r);
json_t *lc_instances(struct lc_cloud *c);
char *lc_instance_dir(struct lc_cloud *c, const char *id);
void lc_instance_set_state(json_t *inst, const char *state, const char *reason);
void lc_instance_state_reason(json_t *inst, const char *code, const char *message);
/* One <item> of an instancesSet. */
void lc_instance_xml(struct lc_req *r, json_t *inst);
/* "x86_64" or "arm64", as EC2 names this machine's architecture. */
const char *lc_arch(void);
struct lc_values;
/* The "architecture" filter's value. */
void lc_field_arch(struct lc_cloud *c, json_t *res, struct lc_values *out);
/* "i-" and 8 or 17 lowercase hex digits, as EC2's ids. */
int lc_valid_instance_id(const char *id);
/* User data as EC2 takes it (RunInstances, launch templates): base64 of at most 16 KiB. */
#define LC_USER_DATA_MAX (16 * 1024)
int lc_user_data_check(struct lc_req *r, const char *user_data);
/* Decode base64 into a new buffer (NULL and 0 when empty); -1 when malformed. */
int lc_base64_decode(unsigned char **out, size_t *len, const char *in);

/* launch.c */
int lc_ec2_run_instances(struct lc_req *r);

/* images.c and snapshots.c */
int lc_ec2_create_image(struct lc_req *r);
int lc_ec2_describe_images(struct lc_req *r);
int lc_ec2_deregister_image(struct lc_req *r);
int lc_ec2_register_layer_image_prepare(struct lc_req *r);
int lc_ec2_register_layer_image(struct lc_req *r);
int lc_ec2_describe_snapshots(struct lc_req *r);
int lc_ec2_delete_snapshot(struct lc_req *r);
/* A new snapshot (pending) of `layer` for `image_id`, in the state. */
json_t *lc_snapshot_new(struct lc_cloud *c, const char *layer, const char *image_id,
                        const char *description, json_t *tags, int encrypted, const char *kms);
/* Size in GiB, rounded up, as EC2 reports volume sizes (called without the lock). */
long long lc_dir_size_gib(const char *dir);
/*
 * Layers no image, snapshot or live instance uses any more are taken out of
 * STATE/layers (renamed, under the lock) and removed after it is released
 * by lc_layers_sweep().
 */
void lc_layers_collect(struct lc_cloud *c);
void lc_layers_sweep(struct lc_cloud *c);

/* runner.c: one thread per live instance boots and stops its machine. */
int lc_runner_start(struct lc_cloud *c, const char *id);
/* After a (re)start of the daemon: reap what a crash left, boot what ran. */
int lc_instances_resume(struct lc_cloud *c);
/* Stop every machine and wait for the runners and image workers (lock not held). */
void lc_instances_shutdown(struct lc_cloud *c);
/* Forget instances terminated more than terminated_ttl ago (lock not held). */
void lc_instances_expire(struct lc_cloud *c);

#endif
