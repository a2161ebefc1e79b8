/*
 * Internal to the local cloud's daemon: the state every API handler shares,
 * the request being answered, and the helpers the handlers use to read
 * Query parameters and write EC2-shaped XML.
 *
 * Concurrency: libmicrohttpd answers on a thread pool; every handler runs
 * with `cloud->mu` held and works on the JSON state in memory, which is
 * saved (atomically) before the reply goes out when the handler changed it.
 * Slow work (booting and stopping machines, capturing layers) happens in
 * per-instance runner threads and image workers, which take the lock only
 * to read their orders and record the outcome.
 */
#ifndef KILN_LOCALCLOUD_CLOUD_INT_H
#define KILN_LOCALCLOUD_CLOUD_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "aws/query.h"
#include "core/buf.h"
#include "core/common.h"
#include "localcloud/runtime-int.h"

#define LC_EC2_XMLNS "http://ec2.amazonaws.com/doc/2016-11-15/"
#define LC_NZONES    3

struct lc_runner;

struct lc_cloud {
	char *state_dir;
	char *layers_dir;    /* STATE/layers/<layer id>/ */
	char *instances_dir; /* STATE/instances/<instance id>/ */
	char *cache_dir;     /* $KILN_CACHE/localcloud */
	char *self_exe;      /* kiln, for the instances' init */
	int port;
	char cidr[32];
	char region[32];
	char account[16];
	char access_key[64];
	char secret_key[128];

	struct lc_net net;
	uint32_t subnet_base[LC_NZONES];
	int subnet_prefix;

	pthread_mutex_t mu;
	pthread_cond_t cond; /* signalled when an instance's orders or state change */
	json_t *st;          /* the state, saved to STATE/state.json */
	struct lc_runner *runners;
	pthread_t reaper;
	int reaper_started;
	volatile int stopping;
	double started;
	int reqlog_fd;
	double terminated_ttl; /* seconds a terminated instance stays visible */
};

/* The request being answered: parameters in, XML (or an error) out. */
struct lc_req {
	struct lc_cloud *c;
	const struct kiln_query *q;
	struct kiln_buf *out; /* the reply's members, inside <ActionResponse> */
	char request_id[40];
	int status;
	char code[96];
	char message[512];
	int dirty; /* the state changed: save before replying */
};

/* Record an AWS error for the reply; returns -1 for `return lc_err(...)`. */
int lc_err(struct lc_req *r, int status, const char *code, const char *fmt, ...) KILN_PRINTF(4, 5);
/* A 400 InvalidParameterValue / MissingParameter. */
int lc_missing(struct lc_req *r, const char *name);

/* Parameters. */
const char *lc_q(const struct lc_req *r, const char *key);
const char *lc_qf(const struct lc_req *r, const char *fmt, ...) KILN_PRINTF(2, 3);
/* The sorted distinct N of keys "PREFIX.N" and "PREFIX.N.<anything>". */
size_t lc_q_indexes(const struct lc_req *r, const char *prefix, int **out);
/* Values of PREFIX.1, PREFIX.2, ... in index order (borrowed strings). */
size_t lc_q_list(const struct lc_req *r, const char *prefix, const char ***out);
/* Parse an integer parameter; -1 with an InvalidParameterValue when malformed. */
int lc_q_int(struct lc_req *r, const char *key, long long def, long long min, long long max,
             long long *out);
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

/* Filters: Filter.N.Name / Filter.N.Value.M. */
struct lc_filter {
	const char *name;
	const char **values;
	size_t nvalues;
};
struct lc_filters {
	struct lc_filter *f;
	size_t n;
};
typedef int (*lc_values_fn)(json_t *res, const char *name, const char **vals, int max,
                            char scratch[][64]);
/* Parse the filters; a name `values` does not know (NULL: any) is InvalidParameterValue. */
int lc_filters_parse(struct lc_req *r, struct lc_filters *out, lc_values_fn values);
void lc_filters_release(struct lc_filters *f);
/*
 * Does a resource pass every filter? `values` gives the resource's values
 * for a filter name (up to `max`, returns the count, or -1 for a filter this
 * resource type does not know: then the request fails with
 * InvalidParameterValue). Tag filters (tag:KEY, tag-key, tag-value) are
 * answered from the resource's "tags" object.
 */
int lc_filters_match(struct lc_req *r, const struct lc_filters *f, json_t *res,
                     lc_values_fn values);
/* Wildcard match with EC2's * and ?. */
int lc_wildcard(const char *pattern, const char *value);

/* XML. */
void lc_xo(struct kiln_buf *b, const char *name);
void lc_xc(struct kiln_buf *b, const char *name);
void lc_xt(struct kiln_buf *b, const char *name, const char *text);
void lc_xtf(struct kiln_buf *b, const char *name, const char *fmt, ...) KILN_PRINTF(3, 4);
void lc_xbool(struct kiln_buf *b, const char *name, int v);
void lc_xtags(struct kiln_buf *b, const char *name, json_t *tags);
const char *lc_str(json_t *obj, const char *key);

/* State (cloud->mu held). */
json_t *lc_table(struct lc_cloud *c, const char *name);
int lc_state_save(struct lc_cloud *c);
int lc_state_load(struct lc_cloud *c);
char *lc_new_id(const char *prefix);
void lc_now_iso(char out[32]);
/* The resource of any kind with this id (for tags), its table name in *kind. */
json_t *lc_find_any(struct lc_cloud *c, const char *id, const char **kind);

/* The EC2 handlers. */
typedef int (*lc_handler_fn)(struct lc_req *r);
lc_handler_fn lc_ec2_handler(const char *action);
lc_handler_fn lc_ec2_instances_handler(const char *action);

/* Instances: boot, stop and recovery (ec2_instances.c). */
int lc_instances_resume(struct lc_cloud *c);
void lc_instances_shutdown(struct lc_cloud *c);
void lc_instances_expire(struct lc_cloud *c);
/* Layers no image or live instance uses any more are removed. */
void lc_layers_collect(struct lc_cloud *c);

/* Addresses. */
void lc_ip_format(char out[16], uint32_t ip);
int lc_ip_parse(uint32_t *out, const char *s);

#endif
