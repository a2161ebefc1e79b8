/*
 * The Auto Scaling reply parsers (autoscaling.c): static to the module,
 * declared here for the unit tests (KILN_UNITTEST).
 */
#ifndef KILN_AWS_AUTOSCALING_INT_H
#define KILN_AWS_AUTOSCALING_INT_H

#include "aws/shapes.h"

#ifdef KILN_UNITTEST
int asg_parse_groups(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int asg_parse_instances(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int asg_parse_activities(void *arg, const struct kiln_xml *x, xmlNodePtr result);
#endif

#endif
