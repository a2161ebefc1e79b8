/*
 * Every EC2 action the local cloud answers, and where its handler lives.
 */
#include <string.h>

#include "localcloud/ec2-int.h"
#include "localcloud/firewall-int.h"

static const struct lc_action actions[] = {
    /* vpc.c */
    {"DescribeRegions", lc_ec2_describe_regions, NULL, NULL},
    {"DescribeAvailabilityZones", lc_ec2_describe_availability_zones, NULL, NULL},
    {"DescribeAccountAttributes", lc_ec2_describe_account_attributes, NULL, NULL},
    {"DescribeVpcs", lc_ec2_describe_vpcs, NULL, NULL},
    {"DescribeSubnets", lc_ec2_describe_subnets, NULL, NULL},
    /* groups.c */
    {"CreateSecurityGroup", lc_ec2_create_security_group, NULL, NULL},
    {"DeleteSecurityGroup", lc_ec2_delete_security_group, NULL, NULL},
    /* rules and members change the instances' tables: applied before the reply */
    {"AuthorizeSecurityGroupIngress", lc_ec2_authorize_security_group_ingress, NULL,
     lc_fw_sync_after},
    {"AuthorizeSecurityGroupEgress", lc_ec2_authorize_security_group_egress, NULL, NULL},
    {"RevokeSecurityGroupIngress", lc_ec2_revoke_security_group_ingress, NULL, lc_fw_sync_after},
    {"DescribeSecurityGroups", lc_ec2_describe_security_groups, NULL, NULL},
    /* keypairs.c */
    {"CreateKeyPair", lc_ec2_create_key_pair, lc_ec2_create_key_pair_prepare, NULL},
    {"ImportKeyPair", lc_ec2_import_key_pair, lc_ec2_import_key_pair_prepare, NULL},
    {"DescribeKeyPairs", lc_ec2_describe_key_pairs, NULL, NULL},
    {"DeleteKeyPair", lc_ec2_delete_key_pair, NULL, NULL},
    /* tags.c */
    {"CreateTags", lc_ec2_create_tags, NULL, NULL},
    {"DeleteTags", lc_ec2_delete_tags, NULL, NULL},
    {"DescribeTags", lc_ec2_describe_tags, NULL, NULL},
    /* templates.c */
    {"CreateLaunchTemplate", lc_ec2_create_launch_template, NULL, NULL},
    {"CreateLaunchTemplateVersion", lc_ec2_create_launch_template_version, NULL, NULL},
    {"ModifyLaunchTemplate", lc_ec2_modify_launch_template, NULL, NULL},
    {"DeleteLaunchTemplate", lc_ec2_delete_launch_template, NULL, NULL},
    {"DescribeLaunchTemplates", lc_ec2_describe_launch_templates, NULL, NULL},
    {"DescribeLaunchTemplateVersions", lc_ec2_describe_launch_template_versions, NULL, NULL},
    /* launch.c and instances.c */
    {"RunInstances", lc_ec2_run_instances, NULL, lc_fw_sync_after},
    {"DescribeInstances", lc_ec2_describe_instances, NULL, NULL},
    {"DescribeInstanceStatus", lc_ec2_describe_instance_status, NULL, NULL},
    {"StartInstances", lc_ec2_start_instances, NULL, NULL},
    {"StopInstances", lc_ec2_stop_instances, NULL, NULL},
    {"RebootInstances", lc_ec2_reboot_instances, NULL, NULL},
    {"TerminateInstances", lc_ec2_terminate_instances, NULL, lc_fw_sync_after},
    {"GetConsoleOutput", lc_ec2_get_console_output, lc_ec2_get_console_output_prepare, NULL},
    /* images.c and snapshots.c */
    {"CreateImage", lc_ec2_create_image, NULL, NULL},
    {"DescribeImages", lc_ec2_describe_images, NULL, NULL},
    {"DeregisterImage", lc_ec2_deregister_image, NULL, NULL},
    {"DescribeSnapshots", lc_ec2_describe_snapshots, NULL, NULL},
    {"DeleteSnapshot", lc_ec2_delete_snapshot, NULL, NULL},
    {"KilnRegisterLayerImage", lc_ec2_register_layer_image, lc_ec2_register_layer_image_prepare,
     NULL},
    {NULL, NULL, NULL, NULL}};

const struct lc_action *lc_ec2_action(const char *name)
{
	for (const struct lc_action *a = actions; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}
