/*
 * The request's parameters and errors (request-int.h). Lookups are binary
 * searches over the sorted keys; a list PREFIX.N is the range of keys that
 * start with "PREFIX.", which the sort keeps together.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "localcloud/cloud-int.h"
#include "localcloud/request-int.h"

/* By key, then by arrival, so that the first of equal keys wins, as kiln_query_get() does. */
static int cmp_param(const void *a, const void *b)
{
	const struct lc_param *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return (x->order > y->order) - (x->order < y->order);
}

void lc_params_init(struct lc_params *out, const struct kiln_query *q)
{
	out->n = q->count;
	out->v = kiln_xcalloc(q->count + 1, sizeof(*out->v));
	for (size_t i = 0; i < q->count; i++) {
		out->v[i].key = q->params[i].key;
		out->v[i].value = q->params[i].value;
		out->v[i].order = i;
	}
	qsort(out->v, out->n, sizeof(*out->v), cmp_param);
}

void lc_params_release(struct lc_params *p)
{
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

/* The first index whose key is >= `key` (lower bound). */
static size_t lower_bound(const struct lc_params *p, const char *key)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(p->v[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const char *lc_q_raw(const struct lc_req *r, const char *key)
{
	size_t i = lower_bound(r->p, key);

	return i < r->p->n && strcmp(r->p->v[i].key, key) == 0 ? r->p->v[i].value : NULL;
}

const char *lc_q(const struct lc_req *r, const char *key)
{
	const char *v = lc_q_raw(r, key);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static const char *vlookup(const struct lc_req *r, int raw, const char *fmt, va_list ap)
    KILN_PRINTF(3, 0);
static const char *vlookup(const struct lc_req *r, int raw, const char *fmt, va_list ap)
{
	char key[256];
	int n = vsnprintf(key, sizeof(key), fmt, ap);

	/* Keys are built by handlers from short names: a longer one names nothing. */
	if (n < 0 || (size_t)n >= sizeof(key))
		return NULL;
	return raw ? lc_q_raw(r, key) : lc_q(r, key);
}

const char *lc_qf(const struct lc_req *r, const char *fmt, ...)
{
	va_list ap;
	const char *v;

	va_start(ap, fmt);
	v = vlookup(r, 0, fmt, ap);
	va_end(ap);
	return v;
}

const char *lc_qf_raw(const struct lc_req *r, const char *fmt, ...)
{
	va_list ap;
	const char *v;

	va_start(ap, fmt);
	v = vlookup(r, 1, fmt, ap);
	va_end(ap);
	return v;
}

/* The range [*first, *end) of keys starting with "PREFIX." */
static void prefix_range(const struct lc_req *r, const char *prefix, size_t *first, size_t *end)
{
	struct kiln_buf k = KILN_BUF_INIT;

	kiln_buf_printf(&k, "%s.", prefix);
	*first = lower_bound(r->p, k.ptr);
	/* '/' follows '.': "PREFIX/" bounds every "PREFIX.<anything>" */
	k.ptr[k.size - 1] = '/';
	*end = lower_bound(r->p, k.ptr);
	kiln_buf_release(&k);
}

int lc_q_has_prefix(const struct lc_req *r, const char *prefix)
{
	size_t first, end;

	prefix_range(r, prefix, &first, &end);
	return end > first;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

size_t lc_q_indexes(const struct lc_req *r, const char *prefix, int **out)
{
	size_t plen = strlen(prefix), first, end, n = 0;
	int *idx;

	prefix_range(r, prefix, &first, &end);
	idx = kiln_xcalloc(end - first + 1, sizeof(*idx));
	for (size_t i = first; i < end; i++) {
		const char *k = r->p->v[i].key + plen + 1;
		char *stop;
		long v;

		/* "1", "1.Name": digits only, no sign, no leading zero, as the SDKs write them */
		if (k[0] < '1' || k[0] > '9')
			continue;
		errno = 0;
		v = strtol(k, &stop, 10);
		if (errno || (*stop != '\0' && *stop != '.') || v > 1000000)
			continue;
		/* the sort keeps the keys of one N together: drop repeats of the last */
		if (n > 0 && idx[n - 1] == (int)v)
			continue;
		idx[n++] = (int)v;
	}
	qsort(idx, n, sizeof(*idx), cmp_int);
	{
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (m == 0 || idx[m - 1] != idx[i])
				idx[m++] = idx[i];
		n = m;
	}
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

int lc_validation(struct lc_req *r, const char *fmt, ...)
{
	char msg[sizeof(r->message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return lc_err(r, 400, "ValidationError", "%s", msg);
}

int lc_missing(struct lc_req *r, const char *name)
{
	return lc_err(r, 400, "MissingParameter", "The request must contain the parameter %s",
	              name);
}

int lc_invalid(struct lc_req *r, const char *name, const char *value, const char *expected)
{
	return lc_err(r, 400, "InvalidParameterValue", "Value (%s) for parameter %s is invalid. %s",
	              value, name, expected);
}

int lc_parse_int(const char *v, long long *out)
{
	char *end;

	/* digits with an optional minus, as the SDKs write them: strtoll would also take " +5" */
	if (!(isdigit((unsigned char)v[0]) || (v[0] == '-' && isdigit((unsigned char)v[1]))))
		return -1;
	errno = 0;
	*out = strtoll(v, &end, 10);
	return errno || *end != '\0' ? -1 : 0;
}

int lc_parse_bool(const char *v, int *out)
{
	if (strcmp(v, "true") == 0)
		*out = 1;
	else if (strcmp(v, "false") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

int lc_q_int(struct lc_req *r, const char *key, long long def, long long min, long long max,
             long long *out)
{
	const char *v = lc_q(r, key);
	long long x;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (lc_parse_int(v, &x) < 0)
		return lc_invalid(r, key, v, "Expected an integer.");
	if (x < min || x > max)
		return lc_err(r, 400, "InvalidParameterValue",
		              "Value (%s) for parameter %s is invalid. Expected a value between "
		              "%lld and %lld.",
		              v, key, min, max);
	*out = x;
	return 0;
}

int lc_q_bool(struct lc_req *r, const char *key, int def, int *out)
{
	const char *v = lc_q(r, key);

	*out = def;
	if (v != NULL && lc_parse_bool(v, out) < 0)
		return lc_invalid(r, key, v, "Expected true or false.");
	return 0;
}

int lc_in_list(const char *const *list, size_t n, const char *v)
{
	for (size_t i = 0; i < n; i++)
		if (v && strcmp(list[i], v) == 0)
			return 1;
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
		const char *v = lc_qf_raw(r, "%s.%d.Value", prefix, idx[i]);
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
