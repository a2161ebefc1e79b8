/*
 * The Elastic Load Balancing v2 reply parsers (elbv2.c): static to the
 * module, declared here for the unit tests (KILN_UNITTEST).
 */
#ifndef KILN_AWS_ELBV2_INT_H
#define KILN_AWS_ELBV2_INT_H

#include "aws/shapes.h"

#ifdef KILN_UNITTEST
int elbv2_parse_load_balancers(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int elbv2_parse_target_groups(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int elbv2_parse_listeners(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int elbv2_parse_target_health(void *arg, const struct kiln_xml *x, xmlNodePtr result);
int elbv2_parse_tag_descriptions(void *arg, const struct kiln_xml *x, xmlNodePtr result);
#endif

#endif
