/*
 * Internal to the local cloud: SSM Parameter Store in SSM's JSON 1.1
 * protocol (X-Amz-Target "AmazonSSM.<Operation>", bodies and replies
 * application/x-amz-json-1.1, errors {"__type": CODE, "message": ...} with
 * HTTP 400). What kiln's deploy lease needs: PutParameter (without
 * Overwrite it creates only if absent: ParameterAlreadyExists), GetParameter,
 * GetParameters, GetParametersByPath (Recursive, pages of MaxResults up to
 * 10 with NextToken) and DeleteParameter. Values are kept in the state
 * file (mode 0600), SecureString ones too; without WithDecryption a
 * SecureString's value comes back base64-encoded, never as its text.
 */
#ifndef KILN_LOCALCLOUD_SSM_INT_H
#define KILN_LOCALCLOUD_SSM_INT_H

#include <stddef.h>

#include "core/buf.h"

struct lc_cloud;

#define LC_SSM_CONTENT_TYPE "application/x-amz-json-1.1"

struct lc_ssm_reply {
	int status;
	char code[64]; /* the error's code, "" on success */
	struct kiln_buf body;
};

/*
 * Answer one request whose signature was verified: `target` is the
 * X-Amz-Target header (or NULL). Returns the operation's name for the
 * request log (NULL when unknown); out->body is initialised here.
 */
const char *lc_ssm_handle(struct lc_cloud *c, const char *target, const char *body, size_t len,
                          struct lc_ssm_reply *out);

#endif
