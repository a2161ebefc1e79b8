/*
 * The SSM reply parsers (ssm.c): static to the module, declared here for
 * the unit tests (KILN_UNITTEST).
 */
#ifndef KILN_AWS_SSM_INT_H
#define KILN_AWS_SSM_INT_H

#include <jansson.h>

#include "aws/ssm.h"

#ifdef KILN_UNITTEST
int ssm_parse_parameter(struct kiln_ssm_parameter *p, json_t *obj);
int ssm_parse_parameters(struct kiln_ssm_parameter_list *l, json_t *reply);
#endif

#endif
