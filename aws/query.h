/*
 * The AWS Query protocol's request side: an ordered list of parameters,
 * form-encoded for the body (Action=...&Version=...), and parsed back by the
 * local cloud. Lists are flattened by the caller in the protocol's style:
 * EC2 uses "Name.N" (Filter.1.Value.1), ELBv2, Auto Scaling and STS use
 * "Name.member.N" (Tags.member.1.Key); kiln_query_add_list() does either.
 */
#ifndef KILN_AWS_QUERY_H
#define KILN_AWS_QUERY_H

#include "core/buf.h"

struct kiln_query_param {
	char *key;
	char *value;
};

struct kiln_query {
	struct kiln_query_param *params;
	size_t count;
	size_t alloc;
};

#define KILN_QUERY_INIT                                                                            \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

enum kiln_query_list_style {
	KILN_QUERY_EC2,    /* Prefix.1, Prefix.2 */
	KILN_QUERY_MEMBER, /* Prefix.member.1, Prefix.member.2 */
};

void kiln_query_release(struct kiln_query *q);
void kiln_query_add(struct kiln_query *q, const char *key, const char *value);
void kiln_query_addf(struct kiln_query *q, const char *value, const char *key_fmt, ...)
    KILN_PRINTF(3, 4);
/* Add values[0..n) as Prefix.1.. (or Prefix.member.1..). */
void kiln_query_add_list(struct kiln_query *q, enum kiln_query_list_style style, const char *prefix,
                         const char *const *values, size_t n);
/* The first value of `key`, or NULL. */
const char *kiln_query_get(const struct kiln_query *q, const char *key);
/* application/x-www-form-urlencoded, in insertion order, RFC 3986 encoding. */
int kiln_query_encode(struct kiln_buf *out, const struct kiln_query *q);
/* Parse a form-encoded body or query string ('+' means space); KILN_EINVAL on bad escapes. */
int kiln_query_parse(struct kiln_query *out, const char *s, size_t len);

#endif
