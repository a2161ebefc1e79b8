/*
 * The EC2 calls' reply parsers (ec2.c, ec2_lt.c, ec2_net.c): static to the
 * module, declared here for the unit tests, which build with KILN_UNITTEST
 * and feed them AWS's documented reply shapes.
 */
#ifndef KILN_AWS_EC2_INT_H
#define KILN_AWS_EC2_INT_H

#include "aws/shapes.h"

#ifdef KILN_UNITTEST
int ec2_parse_images(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int ec2_parse_snapshots(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int ec2_parse_instances(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int ec2_parse_instance_status(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int ec2_parse_state_changes(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int ec2_parse_console(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int ec2_parse_created_key(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int ec2_parse_key_pairs(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int ec2_parse_security_groups(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int ec2_parse_vpcs(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int ec2_parse_subnets(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int ec2_parse_tag_descriptions(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int ec2_parse_launch_templates(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int ec2_parse_launch_template_versions(void *arg, const struct kiln_xml *x, xmlNodePtr result);
#endif

#endif
