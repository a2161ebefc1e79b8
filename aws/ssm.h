/*
 * Typed SSM Parameter Store calls (JSON 1.1, 2014-11-06): GetParameter and
 * GetParameters with decryption, for profile values kept outside the repo.
 *
 * A SecureString value is a secret: it is registered with the logger's
 * redaction before the call returns, and wiped when the result is freed.
 * Results belong to the caller (`_free`, NULL is a no-op). A missing name
 * is KILN_ENOTFOUND ("ParameterNotFound") for GetParameter, and is listed
 * in `invalid` by GetParameters.
 */
#ifndef KILN_AWS_SSM_H
#define KILN_AWS_SSM_H

#include "aws/shapes.h"

struct kiln_ssm_parameter {
	char *name, *type, *value, *arn, *data_type, *selector;
	long long version;
	int secure; /* a SecureString: `value` is secret */
};

struct kiln_ssm_parameter_list {
	struct kiln_ssm_parameter *v;
	size_t n, alloc;
	struct kiln_aws_strings invalid; /* names the service does not know */
};

int kiln_ssm_get_parameter(struct kiln_ssm_parameter **out, struct kiln_aws *aws, const char *name,
                           int with_decryption);
/* Any number of names; the service takes ten per call, so more make several calls. */
int kiln_ssm_get_parameters(struct kiln_ssm_parameter_list **out, struct kiln_aws *aws,
                            const char *const *names, size_t n, int with_decryption);
void kiln_ssm_parameter_free(struct kiln_ssm_parameter *p);
void kiln_ssm_parameter_list_free(struct kiln_ssm_parameter_list *l);

#endif
