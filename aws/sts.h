/*
 * AWS Security Token Service: who the caller is (GetCallerIdentity), and
 * temporary credentials for a role (AssumeRole, AssumeRoleWithWebIdentity).
 * Credentials that come back are registered with the logger's redaction
 * before this returns; the caller owns and releases them.
 */
#ifndef KILN_AWS_STS_H
#define KILN_AWS_STS_H

#include "aws/client.h"
#include "aws/creds.h"

struct kiln_sts_identity {
	char *account;
	char *arn;
	char *user_id;
};

#define KILN_STS_IDENTITY_INIT                                                                     \
	{                                                                                          \
		NULL, NULL, NULL                                                                   \
	}

int kiln_sts_get_caller_identity(struct kiln_sts_identity *out, struct kiln_aws *aws);
void kiln_sts_identity_release(struct kiln_sts_identity *id);

struct kiln_sts_role {
	const char *role_arn;
	const char *session_name; /* NULL: "kiln-<time>" */
	const char *external_id;  /* AssumeRole only; NULL when none */
	int duration_s;           /* 0: the service default (one hour) */
};

/* AssumeRole, signed with the client's credentials. */
int kiln_sts_assume_role(struct kiln_creds *out, struct kiln_aws *aws,
                         const struct kiln_sts_role *role);
/* AssumeRoleWithWebIdentity; the call is not signed, `token` is the proof. */
int kiln_sts_assume_role_with_web_identity(struct kiln_creds *out, struct kiln_aws *aws,
                                           const struct kiln_sts_role *role, const char *token);

#endif
