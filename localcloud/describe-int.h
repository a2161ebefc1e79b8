/*
 * Internal to the local cloud: EC2's Describe* calls as declarations.
 *
 * Each resource type says, in a table of fields, what value it has for each
 * filter name (a member of its JSON, a constant, or a small function), and
 * in one struct lc_describe which parameters select resources by id or
 * name, how ids are checked, whether the call is paged, and how one item is
 * written. lc_describe() does the rest the same way for every type: ids
 * checked before anything else, filters parsed (unknown names refused) and
 * matched with EC2's wildcards, tag filters (tag:KEY, tag-key, tag-value)
 * answered from the resource's "tags", MaxResults/NextToken, and the list.
 *
 * Limits, as EC2 documents them: at most LC_FILTERS_MAX filters and
 * LC_FILTER_VALUES_MAX values in one filter (FilterLimitExceeded), at most
 * LC_IDS_MAX ids in one list (InvalidParameterValue).
 */
#ifndef KILN_LOCALCLOUD_DESCRIBE_INT_H
#define KILN_LOCALCLOUD_DESCRIBE_INT_H

#include <jansson.h>

#include "localcloud/request-int.h"

#define LC_FILTERS_MAX       50
#define LC_FILTER_VALUES_MAX 200
#define LC_IDS_MAX           1000
#define LC_VALUES_MAX        64

struct lc_cloud;

/* The values a resource has for one filter name. */
struct lc_values {
	const char *v[LC_VALUES_MAX];
	int n;
	char scratch[2][64]; /* room for computed values */
};

typedef void (*lc_field_fn)(struct lc_cloud *c, json_t *res, struct lc_values *out);

/* A filter name and where a resource's values for it come from; tables end with {NULL}. */
struct lc_field {
	const char *name;
	const char *key; /* a member: a string, a boolean, an integer, or an array of strings */
	const char *constant; /* or a fixed value */
	lc_field_fn fn;       /* or computed */
};

/* Computed fields every type may use: the cloud's account id and region. */
void lc_field_account(struct lc_cloud *c, json_t *res, struct lc_values *out);
void lc_field_region(struct lc_cloud *c, json_t *res, struct lc_values *out);
/* Append one value to `out` (ignored when NULL or full). */
void lc_values_add(struct lc_values *out, const char *v);

struct lc_filter {
	const char *name;
	const char **values;
	size_t nvalues;
	const struct lc_field *field; /* NULL for the tag filters */
};
struct lc_filters {
	struct lc_filter *f;
	size_t n;
};

/* Filter.N.Name / Filter.N.Value.M against `fields`; unknown names are InvalidParameterValue. */
int lc_filters_parse(struct lc_req *r, const struct lc_field *fields, struct lc_filters *out);
/* 1 when `res` passes every filter, 0 otherwise. */
int lc_filters_match(struct lc_req *r, const struct lc_filters *f, json_t *res);
void lc_filters_release(struct lc_filters *f);
/* EC2's wildcards: * and ?, with \ escaping them. */
int lc_wildcard(const char *pattern, const char *value);

/* A slice of a listing: MaxResults and NextToken. */
struct lc_page {
	size_t first, count, total;
};
int lc_page_parse(struct lc_req *r, size_t total, long long min, long long max, long long def,
                  struct lc_page *out);
/* <nextToken> when more follows. */
void lc_page_token(struct lc_req *r, const struct lc_page *pg);

/*
 * A parameter list that selects resources (InstanceId.N, GroupName.N): its
 * values must each name a resource, matched against `member` (NULL: the
 * state table's key). `check` reports an id that is malformed or missing;
 * without it, a missing one is a 400 with `code` and "The <what> '<id>'
 * does not exist".
 */
struct lc_selector {
	const char *param;
	const char *member;
	int (*check)(struct lc_req *r, const char *value);
	const char *code, *what;
};

struct lc_describe {
	const char *table;                   /* the state table listed */
	json_t *(*source)(struct lc_req *r); /* or a list made for the call (new reference) */
	struct lc_selector by[2];
	const struct lc_field *fields;
	int (*keep)(struct lc_req *r, json_t *res); /* a further selection, or NULL */
	int paged;                                  /* MaxResults/NextToken */
	long long page_min, page_max;
	const char *set;                             /* the list's element, "imagesSet" */
	void (*item)(struct lc_req *r, json_t *res); /* writes one <item> */
};

/* The resources selected and filtered, in the table's order (a new array). */
int lc_describe_select(struct lc_req *r, const struct lc_describe *d, json_t **out);
/* The whole call: select, page, write `set`. */
int lc_describe(struct lc_req *r, const struct lc_describe *d);

#endif
