/*
 * Every EC2 action the local cloud answers, and where its handler lives.
 */
#include <string.h>

#include "localcloud/ec2-int.h"

static const struct lc_action actions[] = {
    /* vpc.c */
    {"DescribeRegions", lc_ec2_describe_regions, NULL},
    {"DescribeAvailabilityZones", lc_ec2_describe_availability_zones, NULL},
    {"DescribeAccountAttributes", lc_ec2_describe_account_attributes, NULL},
    {"DescribeVpcs", lc_ec2_describe_vpcs, NULL},
    {"DescribeSubnets", lc_ec2_describe_subnets, NULL},
    /* groups.c */
    {"CreateSecurityGroup", lc_ec2_create_security_group, NULL},
    {"DeleteSecurityGroup", lc_ec2_delete_security_group, NULL},
    {"AuthorizeSecurityGroupIngress", lc_ec2_authorize_security_group_ingress, NULL},
    {"AuthorizeSecurityGroupEgress", lc_ec2_authorize_security_group_egress, NULL},
    {"RevokeSecurityGroupIngress", lc_ec2_revoke_security_group_ingress, NULL},
    {"DescribeSecurityGroups", lc_ec2_describe_security_groups, NULL},
    /* keypairs.c */
    {"CreateKeyPair", lc_ec2_create_key_pair, lc_ec2_create_key_pair_prepare},
    {"ImportKeyPair", lc_ec2_import_key_pair, lc_ec2_import_key_pair_prepare},
    {"DescribeKeyPairs", lc_ec2_describe_key_pairs, NULL},
    {"DeleteKeyPair", lc_ec2_delete_key_pair, NULL},
    /* tags.c */
    {"CreateTags", lc_ec2_create_tags, NULL},
    {"DeleteTags", lc_ec2_delete_tags, NULL},
    {"DescribeTags", lc_ec2_describe_tags, NULL},
    /* templates.c */
    {"CreateLaunchTemplate", lc_ec2_create_launch_template, NULL},
    {"CreateLaunchTemplateVersion", lc_ec2_create_launch_template_version, NULL},
    {"ModifyLaunchTemplate", lc_ec2_modify_launch_template, NULL},
    {"DeleteLaunchTemplate", lc_ec2_delete_launch_template, NULL},
    {"DescribeLaunchTemplates", lc_ec2_describe_launch_templates, NULL},
    {"DescribeLaunchTemplateVersions", lc_ec2_describe_launch_template_versions, NULL},
    /* launch.c and instances.c */
    {"RunInstances", lc_ec2_run_instances, NULL},
    {"DescribeInstances", lc_ec2_describe_instances, NULL},
    {"DescribeInstanceStatus", lc_ec2_describe_instance_status, NULL},
    {"StartInstances", lc_ec2_start_instances, NULL},
    {"StopInstances", lc_ec2_stop_instances, NULL},
    {"RebootInstances", lc_ec2_reboot_instances, NULL},
    {"TerminateInstances", lc_ec2_terminate_instances, NULL},
    {"GetConsoleOutput", lc_ec2_get_console_output, lc_ec2_get_console_output_prepare},
    /* images.c and snapshots.c */
    {"CreateImage", lc_ec2_create_image, NULL},
    {"DescribeImages", lc_ec2_describe_images, NULL},
    {"DeregisterImage", lc_ec2_deregister_image, NULL},
    {"DescribeSnapshots", lc_ec2_describe_snapshots, NULL},
    {"DeleteSnapshot", lc_ec2_delete_snapshot, NULL},
    {"KilnRegisterLayerImage", lc_ec2_register_layer_image, lc_ec2_register_layer_image_prepare},
    {NULL, NULL, NULL}};

const struct lc_action *lc_ec2_action(const char *name)
{
	for (const struct lc_action *a = actions; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}
