/*
 * The local cloud's state and the helpers every handler shares: Query
 * parameters, filters, tags, XML writing, atomic saves.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/xml.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "localcloud/cloud-int.h"

static const char *const tables[] = {
    "images",           "snapshots",     "instances", "key_pairs", "security_groups",
    "launch_templates", "client_tokens", "vpcs",      "subnets"};

int lc_err(struct lc_req *r, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	snprintf(r->code, sizeof(r->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	return -1;
}

int lc_missing(struct lc_req *r, const char *name)
{
	return lc_err(r, 400, "MissingParameter", "The request must contain the parameter %s",
	              name);
}

const char *lc_q(const struct lc_req *r, const char *key)
{
	return kiln_query_get(r->q, key);
}

const char *lc_qf(const struct lc_req *r, const char *fmt, ...)
{
	char key[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(key, sizeof(key), fmt, ap);
	va_end(ap);
	return kiln_query_get(r->q, key);
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

size_t lc_q_indexes(const struct lc_req *r, const char *prefix, int **out)
{
	size_t plen = strlen(prefix), n = 0;
	int *idx = NULL;

	for (size_t i = 0; i < r->q->count; i++) {
		const char *k = r->q->params[i].key;
		char *end;
		long v;
		int seen = 0;

		if (strncmp(k, prefix, plen) != 0 || k[plen] != '.')
			continue;
		errno = 0;
		v = strtol(k + plen + 1, &end, 10);
		if (errno || end == k + plen + 1 || (*end != '\0' && *end != '.') || v < 1 ||
		    v > 100000)
			continue;
		for (size_t j = 0; j < n && !seen; j++)
			seen = idx[j] == (int)v;
		if (seen)
			continue;
		idx = kiln_xrealloc(idx, (n + 1) * sizeof(*idx));
		idx[n++] = (int)v;
	}
	if (n)
		qsort(idx, n, sizeof(*idx), cmp_int);
	*out = idx;
	return n;
}

size_t lc_q_list(const struct lc_req *r, const char *prefix, const char ***out)
{
	int *idx;
	size_t n = lc_q_indexes(r, prefix, &idx), m = 0;
	const char **vals = kiln_xcalloc(n + 1, sizeof(*vals));

	for (size_t i = 0; i < n; i++) {
		const char *v = lc_qf(r, "%s.%d", prefix, idx[i]);
		if (v != NULL)
			vals[m++] = v;
	}
	free(idx);
	*out = vals;
	return m;
}

int lc_q_int(struct lc_req *r, const char *key, long long def, long long min, long long max,
             long long *out)
{
	const char *v = lc_q(r, key);
	char *end;
	long long x;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno || end == v || *end != '\0')
		return lc_err(r, 400, "InvalidParameterValue",
		              "Value (%s) for parameter %s is invalid. Expected an integer.", v,
		              key);
	if (x < min || x > max)
		return lc_err(r, 400, "InvalidParameterValue",
		              "Value (%s) for parameter %s is invalid. Expected a value between "
		              "%lld and %lld.",
		              v, key, min, max);
	*out = x;
	return 0;
}

int lc_ids_exist(struct lc_req *r, const char *const *ids, size_t n, const char *table,
                 const char *code, const char *what)
{
	json_t *t = lc_table(r->c, table);

	for (size_t i = 0; i < n; i++)
		if (json_object_get(t, ids[i]) == NULL)
			return lc_err(r, 400, code, "The %s '%s' does not exist", what, ids[i]);
	return 0;
}

static int tag_valid(struct lc_req *r, const char *key, const char *value)
{
	if (key == NULL || *key == '\0')
		return lc_err(r, 400, "InvalidParameterValue", "Tag keys must not be empty");
	if (strlen(key) > 128)
		return lc_err(r, 400, "InvalidParameterValue",
		              "Tag key exceeds the maximum length of 128 characters");
	if (value && strlen(value) > 256)
		return lc_err(r, 400, "InvalidParameterValue",
		              "Tag value exceeds the maximum length of 256 characters");
	if (strncmp(key, "aws:", 4) == 0)
		return lc_err(r, 400, "InvalidParameterValue",
		              "Tag keys starting with 'aws:' are reserved for internal use");
	return 0;
}

int lc_q_tags(struct lc_req *r, const char *prefix, json_t **out)
{
	json_t *tags = json_object();
	int *idx;
	size_t n = lc_q_indexes(r, prefix, &idx);

	for (size_t i = 0; i < n; i++) {
		const char *k = lc_qf(r, "%s.%d.Key", prefix, idx[i]);
		const char *v = lc_qf(r, "%s.%d.Value", prefix, idx[i]);
		if (tag_valid(r, k, v) < 0) {
			free(idx);
			json_decref(tags);
			return -1;
		}
		json_object_set_new(tags, k, json_string(v ? v : ""));
	}
	free(idx);
	*out = tags;
	return 0;
}

int lc_q_tag_specs(struct lc_req *r, const char *prefix, const char *resource_type, json_t *tags)
{
	int *idx;
	size_t n = lc_q_indexes(r, prefix, &idx);
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *type = lc_qf(r, "%s.%d.ResourceType", prefix, idx[i]);
		char sub[128];
		json_t *t;

		if (type == NULL) {
			rc = lc_missing(r, "TagSpecification.ResourceType");
			break;
		}
		if (strcmp(type, resource_type) != 0)
			continue;
		snprintf(sub, sizeof(sub), "%s.%d.Tag", prefix, idx[i]);
		if (lc_q_tags(r, sub, &t) < 0) {
			rc = -1;
			break;
		}
		json_object_update(tags, t);
		json_decref(t);
	}
	free(idx);
	return rc;
}

int lc_filters_parse(struct lc_req *r, struct lc_filters *out, lc_values_fn values)
{
	int *idx;
	size_t n = lc_q_indexes(r, "Filter", &idx);

	out->f = kiln_xcalloc(n + 1, sizeof(*out->f));
	out->n = 0;
	for (size_t i = 0; i < n; i++) {
		struct lc_filter *f = &out->f[out->n];
		char prefix[64];

		f->name = lc_qf(r, "Filter.%d.Name", idx[i]);
		if (f->name == NULL) {
			free(idx);
			lc_filters_release(out);
			return lc_missing(r, "Filter.Name");
		}
		snprintf(prefix, sizeof(prefix), "Filter.%d.Value", idx[i]);
		f->nvalues = lc_q_list(r, prefix, &f->values);
		out->n++;
		if (values && strncmp(f->name, "tag:", 4) != 0 && strcmp(f->name, "tag-key") != 0 &&
		    strcmp(f->name, "tag-value") != 0) {
			static char scratch[4][64];
			const char *vals[4];
			json_t *empty = json_object();
			int known = values(empty, f->name, vals, 4, scratch) >= 0;
			json_decref(empty);
			if (!known) {
				lc_err(r, 400, "InvalidParameterValue",
				       "The filter '%s' is invalid", f->name);
				free(idx);
				lc_filters_release(out);
				return -1;
			}
		}
	}
	free(idx);
	return 0;
}

void lc_filters_release(struct lc_filters *f)
{
	for (size_t i = 0; i < f->n; i++)
		free((void *)f->f[i].values);
	free(f->f);
	f->f = NULL;
	f->n = 0;
}

int lc_wildcard(const char *pattern, const char *value)
{
	return fnmatch(pattern, value, 0) == 0;
}

#define LC_MAX_VALUES 64

int lc_filters_match(struct lc_req *r, const struct lc_filters *f, json_t *res, lc_values_fn values)
{
	static char scratch[LC_MAX_VALUES][64];
	const char *vals[LC_MAX_VALUES];

	for (size_t i = 0; i < f->n; i++) {
		const char *name = f->f[i].name;
		json_t *tags = json_object_get(res, "tags");
		int nv = 0, hit = 0;

		if (strncmp(name, "tag:", 4) == 0) {
			const char *v = json_string_value(json_object_get(tags, name + 4));
			if (v)
				vals[nv++] = v;
		} else if (strcmp(name, "tag-key") == 0 || strcmp(name, "tag-value") == 0) {
			const char *k;
			json_t *v;
			json_object_foreach(tags, k, v)
			{
				if (nv < LC_MAX_VALUES)
					vals[nv++] = name[4] == 'k' ? k : json_string_value(v);
			}
		} else {
			/* Handlers run under cloud->mu, so the scratch space is not shared. */
			nv = values(res, name, vals, LC_MAX_VALUES, scratch);
			if (nv < 0)
				return lc_err(r, 400, "InvalidParameterValue",
				              "The filter '%s' is invalid", name);
		}
		for (int a = 0; a < nv && !hit; a++)
			for (size_t b = 0; b < f->f[i].nvalues && !hit; b++)
				hit = vals[a] && lc_wildcard(f->f[i].values[b], vals[a]);
		if (!hit)
			return 0;
	}
	return 1;
}

/* XML. */
void lc_xo(struct kiln_buf *b, const char *name)
{
	kiln_buf_printf(b, "<%s>", name);
}

void lc_xc(struct kiln_buf *b, const char *name)
{
	kiln_buf_printf(b, "</%s>", name);
}

void lc_xt(struct kiln_buf *b, const char *name, const char *text)
{
	if (text == NULL)
		return;
	kiln_buf_printf(b, "<%s>", name);
	kiln_xml_escape(b, text);
	kiln_buf_printf(b, "</%s>", name);
}

void lc_xtf(struct kiln_buf *b, const char *name, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	lc_xt(b, name, tmp);
}

void lc_xbool(struct kiln_buf *b, const char *name, int v)
{
	lc_xt(b, name, v ? "true" : "false");
}

void lc_xtags(struct kiln_buf *b, const char *name, json_t *tags)
{
	const char *k;
	json_t *v;

	lc_xo(b, name);
	json_object_foreach(tags, k, v)
	{
		lc_xo(b, "item");
		lc_xt(b, "key", k);
		lc_xt(b, "value", json_string_value(v));
		lc_xc(b, "item");
	}
	lc_xc(b, name);
}

const char *lc_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* State. */
json_t *lc_table(struct lc_cloud *c, const char *name)
{
	json_t *t = json_object_get(c->st, name);

	if (t == NULL) {
		t = json_object();
		json_object_set_new(c->st, name, t);
	}
	return t;
}

int lc_state_save(struct lc_cloud *c)
{
	char *path = kiln_path_join(c->state_dir, "state.json");
	char *text = json_dumps(c->st, JSON_COMPACT);
	int rc;

	rc = kiln_file_write_atomic(path, text, strlen(text), 0600);
	if (rc < 0)
		kiln_log_error("saving state: %s", kiln_error_last());
	free(text);
	free(path);
	return rc;
}

int lc_state_load(struct lc_cloud *c)
{
	char *path = kiln_path_join(c->state_dir, "state.json");
	json_t *st = NULL;
	int rc = 0;

	if (access(path, F_OK) == 0) {
		rc = kiln_json_load_file(&st, path);
		if (rc == 0 && !json_is_object(st)) {
			json_decref(st);
			rc = kiln_error_set(KILN_EINVAL, "%s: not a state file", path);
		}
	} else {
		st = json_pack("{s:i}", "version", 1);
	}
	free(path);
	if (rc < 0)
		return rc;
	json_decref(c->st);
	c->st = st;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		lc_table(c, tables[i]);
	return 0;
}

char *lc_new_id(const char *prefix)
{
	return kiln_id_random(prefix, 17);
}

void lc_now_iso(char out[32])
{
	kiln_time_iso8601(out, kiln_time_now(), 1);
}

json_t *lc_find_any(struct lc_cloud *c, const char *id, const char **kind)
{
	static const char *const by_id[] = {"images",          "snapshots",        "instances",
	                                    "security_groups", "launch_templates", "vpcs",
	                                    "subnets"};
	json_t *res;
	const char *name;

	for (size_t i = 0; i < sizeof(by_id) / sizeof(by_id[0]); i++) {
		res = json_object_get(lc_table(c, by_id[i]), id);
		if (res) {
			*kind = by_id[i];
			return res;
		}
	}
	/* key pairs are keyed by name; tags address them by key pair id */
	json_object_foreach(lc_table(c, "key_pairs"), name, res)
	{
		if (strcmp(lc_str(res, "id") ? lc_str(res, "id") : "", id) == 0) {
			*kind = "key_pairs";
			return res;
		}
	}
	return NULL;
}

void lc_ip_format(char out[16], uint32_t ip)
{
	struct in_addr a = {.s_addr = htonl(ip)};
	inet_ntop(AF_INET, &a, out, 16);
}

int lc_ip_parse(uint32_t *out, const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}
