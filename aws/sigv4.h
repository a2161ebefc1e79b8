/*
 * AWS Signature Version 4: signing requests (the client) and verifying them
 * (the local cloud). The canonical request follows the AWS rules exactly and
 * is checked against botocore's signer: URI and query encoded over the
 * RFC 3986 unreserved set, parameters sorted by encoded key then value
 * (repeated keys and empty values kept), header names lower-cased and sorted,
 * header values trimmed with inner runs of spaces folded to one.
 *
 * Nothing here logs a secret; the signing key is derived on the stack and
 * wiped after use.
 */
#ifndef KILN_AWS_SIGV4_H
#define KILN_AWS_SIGV4_H

#include <time.h>

#include "core/buf.h"

/* A request as it goes on (or came off) the wire. */
struct kiln_sigv4_request {
	const char *method;         /* "POST" */
	const char *path;           /* the path as sent, e.g. "/" or "/a%20b" */
	const char *query;          /* the query string as sent, without '?'; NULL or "" */
	const char *const *headers; /* "Name: value" lines, NULL-terminated; must include Host */
	const void *body;
	size_t body_len;
	const char *payload_hash; /* hex sha256 of the body; NULL: computed here */
};

struct kiln_sigv4_key {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL when none */
	const char *region;        /* "us-east-1" */
	const char *service;       /* signing name: "ec2", "elasticloadbalancing", ... */
};

/*
 * The headers the signer adds: X-Amz-Date, X-Amz-Security-Token (when a
 * session token is set) and Authorization. Each is a "Name: value" string
 * owned by the struct; release with kiln_sigv4_signed_release().
 * The request's own headers are signed as botocore signs them (every header
 * given except User-Agent, Expect, X-Amzn-Trace-Id and the like) plus the
 * added X-Amz-Date and X-Amz-Security-Token.
 */
struct kiln_sigv4_signed {
	char *amz_date;       /* "X-Amz-Date: 20261123T052150Z" */
	char *security_token; /* "X-Amz-Security-Token: ..." or NULL */
	char *authorization;  /* "Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
	                         Signature=..." */
};

int kiln_sigv4_sign(struct kiln_sigv4_signed *out, const struct kiln_sigv4_request *req,
                    const struct kiln_sigv4_key *key, time_t now);
void kiln_sigv4_signed_release(struct kiln_sigv4_signed *s);

/* The canonical request and string to sign (for tests and trace output). */
int kiln_sigv4_canonical_request(struct kiln_buf *out, const struct kiln_sigv4_request *req,
                                 const char *signed_headers);

/* Returns the secret for an access key id, or NULL when the key is unknown. */
typedef const char *(*kiln_sigv4_lookup_fn)(void *arg, const char *access_key_id);

/* What verification found out; `error_code` is an AWS error code on failure. */
struct kiln_sigv4_identity {
	char access_key_id[129];
	char region[65];
	char service[65];
	char error_code[64]; /* "IncompleteSignature", "AuthFailure", "SignatureDoesNotMatch",
	                        "RequestExpired" */
};

/*
 * Verify the Authorization header of `req` (header-based signing). Returns 0
 * when the signature is valid for the secret `lookup` gives, KILN_EAUTH
 * otherwise with `out->error_code` and a message in the error slot. A request
 * dated more than `max_skew` seconds from `now` is RequestExpired.
 */
int kiln_sigv4_verify(struct kiln_sigv4_identity *out, const struct kiln_sigv4_request *req,
                      kiln_sigv4_lookup_fn lookup, void *arg, time_t now, int max_skew);

/* RFC 3986 percent-encoding; `encode_slash` 0 keeps '/' (for paths). */
int kiln_uri_encode(struct kiln_buf *out, const char *s, size_t len, int encode_slash);
/* Percent-decoding ('+' stays '+'); KILN_EINVAL on a malformed escape. */
int kiln_uri_decode(struct kiln_buf *out, const char *s, size_t len);

#endif
