/*
 * The AWS client: one struct kiln_aws per region and credential source.
 * It resolves endpoints and credentials (the SDKs' chain, see creds.h),
 * signs with SigV4, sends with libcurl (one kept-alive handle per endpoint),
 * retries throttling, 5xx and connection errors with backoff and full jitter,
 * and slows itself down after throttling (adaptive retry).
 *
 * A call that AWS rejects returns KILN_ERROR (KILN_EAUTH for
 * authentication failures, KILN_ENOTFOUND for *.NotFound / *NotFound codes)
 * with "CODE: message" in the error slot and the parsed error available from
 * kiln_aws_last_error() on the same thread.
 */
#ifndef KILN_AWS_CLIENT_H
#define KILN_AWS_CLIENT_H

#include <jansson.h>

#include "aws/query.h"
#include "aws/xml.h"

enum kiln_aws_service {
	KILN_AWS_EC2,         /* 2016-11-15, query (Name.N lists), signing name ec2 */
	KILN_AWS_ELBV2,       /* 2015-12-01, query, elasticloadbalancing */
	KILN_AWS_AUTOSCALING, /* 2011-01-01, query, autoscaling */
	KILN_AWS_STS,         /* 2011-06-15, query, sts */
	KILN_AWS_SSM,         /* JSON 1.1, X-Amz-Target AmazonSSM.<Op>, ssm */
	KILN_AWS_NSERVICES
};

struct kiln_aws_config {
	const char *region;            /* NULL: AWS_REGION, AWS_DEFAULT_REGION, the profile */
	const char *profile;           /* NULL: AWS_PROFILE, else "default" */
	const char *endpoint_url;      /* NULL: AWS_ENDPOINT_URL[_<SERVICE>], profile, regional */
	const char *access_key_id;     /* explicit static credentials (the local cloud) */
	const char *secret_access_key; /* or NULL for the chain */
	/*
	 * The static credentials are public (the local cloud's documented
	 * "test"/"test"): not registered with the log's redaction, which would
	 * otherwise turn every "test" in a message into "***".
	 */
	int public_credentials;
};

struct kiln_aws;

int kiln_aws_new(struct kiln_aws **out, const struct kiln_aws_config *cfg);
void kiln_aws_free(struct kiln_aws *aws);

const char *kiln_aws_region(const struct kiln_aws *aws);
const char *kiln_aws_endpoint(const struct kiln_aws *aws, enum kiln_aws_service svc);
/* Where the credentials came from: "environment", "profile:NAME", "assume-role", ... */
int kiln_aws_credential_source(const char **out, struct kiln_aws *aws);

/*
 * One Query-protocol call: sends Action and Version ahead of `params` (which
 * is left unchanged, so it can be reused for the next page), signs, sends
 * with retries, and parses the XML reply into `*out` (caller frees).
 */
int kiln_aws_query(struct kiln_xml **out, struct kiln_aws *aws, enum kiln_aws_service svc,
                   const char *action, struct kiln_query *params);
/* One JSON 1.1 call (SSM): `body` is borrowed, `*out` is a new reference. */
int kiln_aws_json(json_t **out, struct kiln_aws *aws, enum kiln_aws_service svc,
                  const char *operation, json_t *body);

/* The last AWS error seen on this thread (code "" when the last call succeeded). */
const struct kiln_aws_error *kiln_aws_last_error(void);

/*
 * Tests: called with each Query request's parameters just before it is
 * signed and sent (model conformance, call counting).
 */
typedef void (*kiln_aws_request_hook)(void *arg, enum kiln_aws_service svc, const char *action,
                                      const struct kiln_query *params);
void kiln_aws_set_request_hook(struct kiln_aws *aws, kiln_aws_request_hook fn, void *arg);

#endif
