/*
 * Shapes shared by the typed AWS calls (ec2.h, elbv2.h, autoscaling.h):
 * string lists, tag lists and filter lists that callers fill and the calls
 * flatten in each protocol's style, plus the helpers those modules use to
 * read replies and to follow pagination tokens.
 *
 * Every list owns its strings; `_release` frees the contents and leaves an
 * empty list that can be filled again. `_INIT` needs no allocation.
 */
#ifndef KILN_AWS_SHAPES_H
#define KILN_AWS_SHAPES_H

#include "aws/client.h"

struct kiln_aws_strings {
	char **v;
	size_t n, alloc;
};

struct kiln_aws_tag {
	char *key;
	char *value;
};

struct kiln_aws_tags {
	struct kiln_aws_tag *v;
	size_t n, alloc;
};

/* One filter: a name and the values any of which may match. */
struct kiln_aws_filter {
	char *name;
	struct kiln_aws_strings values;
};

struct kiln_aws_filters {
	struct kiln_aws_filter *v;
	size_t n, alloc;
};

#define KILN_AWS_LIST_INIT                                                                         \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void kiln_aws_strings_add(struct kiln_aws_strings *l, const char *s);
void kiln_aws_strings_release(struct kiln_aws_strings *l);

/* Add a tag (a NULL value stays NULL: "any value" for DeleteTags). */
void kiln_aws_tags_add(struct kiln_aws_tags *t, const char *key, const char *value);
/* The value of tag `key`, or NULL; borrowed. */
const char *kiln_aws_tags_get(const struct kiln_aws_tags *t, const char *key);
void kiln_aws_tags_release(struct kiln_aws_tags *t);

/* Add `value` to filter `name`, creating it on first use. */
void kiln_aws_filters_add(struct kiln_aws_filters *f, const char *name, const char *value);
void kiln_aws_filters_release(struct kiln_aws_filters *f);

/*
 * For the service modules.
 */

/* Grow a vector of `elsize` elements by one; returns the new, zeroed element. */
void *kiln_aws_vec_push(void *vp, size_t *n, size_t *alloc, size_t elsize);

/* Prefix.1 (EC2) or Prefix.member.1 (the others) from a NULL-safe array. */
void kiln_aws_query_strings(struct kiln_query *q, enum kiln_query_list_style style,
                            const char *prefix, const char *const *v, size_t n);
/* Prefix.N.Key / Prefix.N.Value (EC2) or Prefix.member.N.Key / .Value. */
void kiln_aws_query_tags(struct kiln_query *q, enum kiln_query_list_style style, const char *prefix,
                         const struct kiln_aws_tags *t);
/* EC2: Filter.N.Name, Filter.N.Value.M; member: Filters.member.N.Values.member.M. */
void kiln_aws_query_filters(struct kiln_query *q, enum kiln_query_list_style style,
                            const struct kiln_aws_filters *f);
void kiln_aws_query_int(struct kiln_query *q, const char *key, long long v);
void kiln_aws_query_bool(struct kiln_query *q, const char *key, int v);

/* A copy of the text at `path` below `node`, or NULL when absent. */
char *kiln_aws_xml_dup(const struct kiln_xml *x, xmlNodePtr node, const char *path);
/* The integer at `path`, or `def` when absent or not a number. */
long long kiln_aws_xml_int(const struct kiln_xml *x, xmlNodePtr node, const char *path,
                           long long def);
/* 1 for "true", 0 otherwise. */
int kiln_aws_xml_bool(const struct kiln_xml *x, xmlNodePtr node, const char *path);
/* Append every text of the list at `path` (item or member children, `field` within each). */
void kiln_aws_xml_strings(struct kiln_aws_strings *out, const struct kiln_xml *x, xmlNodePtr node,
                          const char *path, const char *field);
/* Tags from the list at `path`: children with `key` and `value` fields. */
void kiln_aws_xml_tags(struct kiln_aws_tags *out, const struct kiln_xml *x, xmlNodePtr node,
                       const char *path, const char *key, const char *value);

/* Parse one page; `result` is the element holding the page's results. */
typedef int (*kiln_aws_page_fn)(void *arg, const struct kiln_xml *x, xmlNodePtr result);

/*
 * Call `action` page after page: `token_param` is the request's token name
 * (NextToken, Marker), `token_path` the reply's, below `result_path`
 * (the root for EC2: ""; "DescribeXResult" for the others). Stops on an
 * empty token, a repeated token, or after a bound on pages.
 */
int kiln_aws_paginate(struct kiln_aws *aws, enum kiln_aws_service svc, const char *action,
                      const struct kiln_query *params, const char *token_param,
                      const char *result_path, const char *token_path, kiln_aws_page_fn fn,
                      void *arg);

/* One call whose reply's `result_path` element is handed to `fn` (may be NULL). */
int kiln_aws_call(struct kiln_aws *aws, enum kiln_aws_service svc, const char *action,
                  const struct kiln_query *params, const char *result_path, kiln_aws_page_fn fn,
                  void *arg);

/* Base64 (standard alphabet, padded). */
char *kiln_aws_base64_encode(const void *data, size_t len);
/* Decode into `out` (whitespace ignored); KILN_EINVAL on bad input. */
int kiln_aws_base64_decode(struct kiln_buf *out, const char *s);

#endif
