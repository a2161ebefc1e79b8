/*
 * AWS credentials and where they come from: the standard chain in the SDKs'
 * order, and the shared config and credentials files (which also give the
 * region and the endpoint).
 *
 * The chain: environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN) → the profile (AWS_PROFILE or "default") from
 * AWS_SHARED_CREDENTIALS_FILE / ~/.aws/credentials and AWS_CONFIG_FILE /
 * ~/.aws/config: role_arn with source_profile or credential_source (STS
 * AssumeRole), static keys, credential_process → web identity
 * (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN) → container credentials
 * (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI) → instance metadata
 * with IMDSv2 tokens (AWS_EC2_METADATA_SERVICE_ENDPOINT,
 * AWS_EC2_METADATA_DISABLED).
 *
 * Temporary credentials are fetched again five minutes before they expire.
 * Every secret is registered with the logger's redaction and wiped on free.
 */
#ifndef KILN_AWS_CREDS_H
#define KILN_AWS_CREDS_H

#include "aws/config.h"
#include "core/buf.h"

struct kiln_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL for long-term keys */
	double expiration;   /* seconds since the epoch; 0: does not expire */
};

#define KILN_CREDS_INIT                                                                            \
	{                                                                                          \
		NULL, NULL, NULL, 0                                                                \
	}

/* Wipe and free the contents. */
void kiln_creds_release(struct kiln_creds *c);
/* Deep copy into `out` (released first). */
void kiln_creds_copy(struct kiln_creds *out, const struct kiln_creds *c);
/* Register the secret and the token with the logger's redaction. */
void kiln_creds_hide(const struct kiln_creds *c);

/* ---- the provider ------------------------------------------------------ */

struct kiln_creds_provider;
struct kiln_aws_config;

/*
 * The chain for profile `profile` (NULL: the default), using `cfg` for the
 * region and STS endpoint of role assumption. Nothing is fetched yet.
 */
int kiln_creds_chain_new(struct kiln_creds_provider **out, const struct kiln_aws_config *cfg);
/*
 * A provider that always returns these keys (copied), registered with the
 * log's redaction unless `source` is KILN_CREDS_PUBLIC (well-known keys).
 */
#define KILN_CREDS_PUBLIC "public"
int kiln_creds_static_new(struct kiln_creds_provider **out, const char *access_key_id,
                          const char *secret_access_key, const char *session_token,
                          const char *source);
void kiln_creds_provider_free(struct kiln_creds_provider *p);

/*
 * Current credentials: resolved on first use, fetched again when they
 * expire within five minutes. The pointer is borrowed and stays valid until
 * the next call or the free.
 */
int kiln_creds_get(const struct kiln_creds **out, struct kiln_creds_provider *p);
/* Where they came from ("environment", "profile:NAME", "imds", ...); resolves. */
int kiln_creds_source(const char **out, struct kiln_creds_provider *p);

#endif
