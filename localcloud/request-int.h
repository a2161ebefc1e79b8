/*
 * Internal to the local cloud: one API request while a handler answers it.
 *
 * Parameters arrive as a Query list (Filter.1.Value.2=...). They are sorted
 * once, outside the cloud's lock, so that a handler finds a key in
 * O(log n) and the members of a list (Filter.N, InstanceId.N) in one range
 * of the sorted keys: no request, however many parameters it carries, makes
 * a handler quadratic while it holds the lock.
 *
 * A handler reads parameters, changes the state, writes the members of its
 * reply into `out`, and returns 0; or records an AWS error with lc_err() and
 * returns -1, having changed nothing. Strings returned by the readers are
 * borrowed from the request.
 */
#ifndef KILN_LOCALCLOUD_REQUEST_INT_H
#define KILN_LOCALCLOUD_REQUEST_INT_H

#include <jansson.h>

#include "aws/query.h"
#include "core/buf.h"
#include "core/common.h"

struct lc_cloud;

/* A request's parameters, sorted by key (and by arrival for equal keys). */
struct lc_param {
	const char *key, *value; /* borrowed from the parsed query */
	size_t order;            /* position in the request */
};
struct lc_params {
	struct lc_param *v;
	size_t n;
};

struct lc_req {
	struct lc_cloud *c;
	const struct lc_params *p;
	const char *action;
	struct kiln_buf *out; /* the reply's members, inside <ActionResponse> */
	char request_id[40];
	int status;
	char code[96];
	char message[512];
	int dirty; /* the state changed: save before replying */
	/* What an action's `prepare` made for its handler, freed after the reply. */
	void *prep;
	void (*prep_free)(void *prep);
};

typedef int (*lc_handler_fn)(struct lc_req *r);

/*
 * An action of a service: `fn` runs with the cloud's lock held; `prepare`,
 * when there is one, runs before it without the lock, for slow work that
 * needs no state (making a key, reading a console), and leaves its result
 * in r->prep; `after`, when there is one, runs once `fn` succeeded and the
 * lock is released, before the reply leaves, to make real what `fn`
 * decided (a load balancer's HAProxy updated): a reply means it is done.
 * Tables end with {NULL}.
 */
struct lc_action {
	const char *name;
	lc_handler_fn fn;
	lc_handler_fn prepare;
	lc_handler_fn after;
};

/* Sort `q`'s parameters into `out` (which borrows them). */
void lc_params_init(struct lc_params *out, const struct kiln_query *q);
void lc_params_release(struct lc_params *p);

/* Record an AWS error for the reply; returns -1 for `return lc_err(...)`. */
int lc_err(struct lc_req *r, int status, const char *code, const char *fmt, ...) KILN_PRINTF(4, 5);
/* A ValidationError, as ELBv2 and Auto Scaling report constraint failures. */
int lc_validation(struct lc_req *r, const char *fmt, ...) KILN_PRINTF(2, 3);
/* A 400 MissingParameter. */
int lc_missing(struct lc_req *r, const char *name);
/* A 400 InvalidParameterValue naming the parameter and its value. */
int lc_invalid(struct lc_req *r, const char *name, const char *value, const char *expected);

/*
 * The value of `key`, NULL when absent. An empty value counts as absent, as
 * EC2 treats "VpcId=" (some SDK-based tools send empty members); use
 * lc_q_raw() where an empty string means something (tag values).
 */
const char *lc_q(const struct lc_req *r, const char *key);
const char *lc_q_raw(const struct lc_req *r, const char *key);
const char *lc_qf(const struct lc_req *r, const char *fmt, ...) KILN_PRINTF(2, 3);
const char *lc_qf_raw(const struct lc_req *r, const char *fmt, ...) KILN_PRINTF(2, 3);
/* Is any parameter named PREFIX.<anything> present? */
int lc_q_has_prefix(const struct lc_req *r, const char *prefix);
/* The sorted distinct N of keys "PREFIX.N" and "PREFIX.N.<anything>" (free *out). */
size_t lc_q_indexes(const struct lc_req *r, const char *prefix, int **out);
/* Values of PREFIX.1, PREFIX.2, ... in index order, empty ones left out (free *out). */
size_t lc_q_list(const struct lc_req *r, const char *prefix, const char ***out);
/*
 * The spellings the SDKs send, and no other: an integer is digits with an
 * optional minus (no blanks, no plus), a boolean "true" or "false". 0, or -1
 * when `v` is neither.
 */
int lc_parse_int(const char *v, long long *out);
int lc_parse_bool(const char *v, int *out);
/* An integer parameter within [min, max]; `def` when absent. */
int lc_q_int(struct lc_req *r, const char *key, long long def, long long min, long long max,
             long long *out);
/* A boolean parameter: "true" or "false" exactly, as EC2 documents them; `def` when absent. */
int lc_q_bool(struct lc_req *r, const char *key, int def, int *out);
/* Is `v` one of list[0..n)? */
int lc_in_list(const char *const *list, size_t n, const char *v);

/*
 * Every id of a request's list must name a resource of `table`; else a 400
 * with `code` and "The <what> '<id>' does not exist". Returns 0 or -1.
 */
int lc_ids_exist(struct lc_req *r, const char *const *ids, size_t n, const char *table,
                 const char *code, const char *what);
/* Tags from PREFIX.N.Key / PREFIX.N.Value into a new JSON object. */
int lc_q_tags(struct lc_req *r, const char *prefix, json_t **out);
/* Tags of TagSpecification.N for `resource_type` into `tags` (object). */
int lc_q_tag_specs(struct lc_req *r, const char *prefix, const char *resource_type, json_t *tags);

#endif
