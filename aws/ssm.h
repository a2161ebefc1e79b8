/*
 * Typed SSM Parameter Store calls (JSON 1.1, 2014-11-06): GetParameter and
 * GetParameters with decryption, for profile values kept outside the repo;
 * PutParameter, DeleteParameter and GetParametersByPath, for the deploy
 * lease (a parameter created only if absent: PutParameter without Overwrite
 * fails with "ParameterAlreadyExists", given as KILN_EEXISTS).
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
/* Parameters under `path` ("/kiln/lease/"), every page; `recursive` goes below one level. */
int kiln_ssm_get_parameters_by_path(struct kiln_ssm_parameter_list **out, struct kiln_aws *aws,
                                    const char *path, int recursive, int with_decryption);

struct kiln_ssm_put_parameter {
	const char *name;
	const char *value;
	const char *type;                 /* "String" (NULL), "StringList" or "SecureString" */
	const char *description;          /* or NULL */
	int overwrite;                    /* 0: KILN_EEXISTS when the name exists */
	const struct kiln_aws_tags *tags; /* only when creating (not with overwrite) */
};

/* PutParameter; *version (may be NULL) is the parameter's new version. */
int kiln_ssm_put_parameter(long long *version, struct kiln_aws *aws,
                           const struct kiln_ssm_put_parameter *p);
/* DeleteParameter; KILN_ENOTFOUND when there is no such parameter. */
int kiln_ssm_delete_parameter(struct kiln_aws *aws, const char *name);
void kiln_ssm_parameter_free(struct kiln_ssm_parameter *p);
void kiln_ssm_parameter_list_free(struct kiln_ssm_parameter_list *l);

#endif
