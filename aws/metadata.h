/*
 * Credentials served over HTTP by the machine kiln runs on: the container
 * agent (ECS, EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
 * _FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]) and EC2 instance
 * metadata with IMDSv2 session tokens (AWS_EC2_METADATA_SERVICE_ENDPOINT,
 * _ENDPOINT_MODE, AWS_METADATA_SERVICE_TIMEOUT, _NUM_ATTEMPTS). Neither
 * goes through a proxy; the tokens and keys are registered with the
 * logger's redaction and never put in an error message.
 */
#ifndef KILN_AWS_METADATA_H
#define KILN_AWS_METADATA_H

#include "aws/creds.h"

/* Fetch from the container agent (as configured in the environment). */
int kiln_creds_from_container(struct kiln_creds *out);
/* Fetch the instance role's credentials with an IMDSv2 token. */
int kiln_creds_from_imds(struct kiln_creds *out);

/*
 * Parse a JSON credential document (IMDS, containers, credential_process):
 * AccessKeyId, SecretAccessKey, `token_key` ("Token" or "SessionToken"),
 * Expiration. `what` names the source in error messages.
 */
int kiln_creds_parse_json(struct kiln_creds *out, const char *body, size_t len,
                          const char *token_key, const char *what);

/* Whether a FULL_URI may be used: https, or http to loopback or the agent. */
int kiln_creds_container_url_allowed(const char *url);

/* Where a relative container URI is fetched (the agent; tests point it at a fixture). */
extern const char *kiln_creds_container_host;

#endif
