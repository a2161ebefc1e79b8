/*
 * The driver of EC2's Describe* calls (describe-int.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "localcloud/cloud-int.h"
#include "localcloud/describe-int.h"
#include "localcloud/xml-int.h"

void lc_values_add(struct lc_values *out, const char *v)
{
	if (v != NULL && out->n < LC_VALUES_MAX)
		out->v[out->n++] = v;
}

void lc_field_account(struct lc_cloud *c, json_t *res, struct lc_values *out)
{
	(void)res;
	lc_values_add(out, c->account);
}

void lc_field_region(struct lc_cloud *c, json_t *res, struct lc_values *out)
{
	(void)res;
	lc_values_add(out, c->region);
}

/* A member's values: a string, each string of an array, a boolean or an integer. */
static void member_values(json_t *v, struct lc_values *out, int *scratch_used)
{
	size_t i;
	json_t *e;

	if (json_is_string(v)) {
		lc_values_add(out, json_string_value(v));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e) lc_values_add(out, json_string_value(e));
	} else if (json_is_boolean(v)) {
		lc_values_add(out, json_is_true(v) ? "true" : "false");
	} else if (json_is_integer(v) && *scratch_used < 2) {
		char *s = out->scratch[(*scratch_used)++];
		snprintf(s, sizeof(out->scratch[0]), "%lld", (long long)json_integer_value(v));
		lc_values_add(out, s);
	}
}

static void field_values(struct lc_cloud *c, const struct lc_field *f, json_t *res,
                         struct lc_values *out)
{
	int used = 0;

	out->n = 0;
	if (f->fn != NULL)
		f->fn(c, res, out);
	else if (f->constant != NULL)
		lc_values_add(out, f->constant);
	else if (f->key != NULL)
		member_values(json_object_get(res, f->key), out, &used);
}

static int is_tag_filter(const char *name)
{
	return strncmp(name, "tag:", 4) == 0 || strcmp(name, "tag-key") == 0 ||
	       strcmp(name, "tag-value") == 0;
}

static void tag_values(const char *name, json_t *res, struct lc_values *out)
{
	json_t *tags = json_object_get(res, "tags"), *v;
	const char *k;

	out->n = 0;
	if (strncmp(name, "tag:", 4) == 0) {
		lc_values_add(out, json_string_value(json_object_get(tags, name + 4)));
		return;
	}
	json_object_foreach(tags, k, v)
	    lc_values_add(out, name[4] == 'k' ? k : json_string_value(v));
}

int lc_filters_parse(struct lc_req *r, const struct lc_field *fields, struct lc_filters *out)
{
	int *idx;
	size_t n = lc_q_indexes(r, "Filter", &idx);

	out->f = NULL;
	out->n = 0;
	if (n > LC_FILTERS_MAX) {
		free(idx);
		return lc_err(r, 400, "FilterLimitExceeded",
		              "The request uses too many filters (%zu; at most %d)", n,
		              LC_FILTERS_MAX);
	}
	out->f = kiln_xcalloc(n + 1, sizeof(*out->f));
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
		if (f->nvalues > LC_FILTER_VALUES_MAX) {
			lc_err(r, 400, "FilterLimitExceeded",
			       "The filter '%s' has too many values (%zu; at most %d)", f->name,
			       f->nvalues, LC_FILTER_VALUES_MAX);
			break;
		}
		if (is_tag_filter(f->name))
			continue;
		for (const struct lc_field *fl = fields; fl && fl->name && !f->field; fl++)
			if (strcmp(fl->name, f->name) == 0)
				f->field = fl;
		if (f->field == NULL) {
			lc_err(r, 400, "InvalidParameterValue", "The filter '%s' is invalid",
			       f->name);
			break;
		}
	}
	free(idx);
	if (r->code[0]) {
		lc_filters_release(out);
		return -1;
	}
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

/*
 * * matches any run, ? one byte, \ makes the next character literal. Linear
 * in practice: on a mismatch only the last * is retried one byte further,
 * so no pattern makes this exponential (O(pattern x value) at worst).
 */
int lc_wildcard(const char *pattern, const char *value)
{
	const char *p = pattern, *v = value, *star_p = NULL, *star_v = NULL;

	while (*v) {
		if (*p == '*') {
			star_p = ++p;
			star_v = v;
			continue;
		}
		if (*p == '?' || (*p == '\\' && p[1] && p[1] == *v) || (*p != '\\' && *p == *v)) {
			p += *p == '\\' ? 2 : 1;
			v++;
			continue;
		}
		if (star_p == NULL)
			return 0;
		p = star_p;
		v = ++star_v;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

int lc_filters_match(struct lc_req *r, const struct lc_filters *f, json_t *res)
{
	struct lc_values vals;

	for (size_t i = 0; i < f->n; i++) {
		int hit = 0;

		if (f->f[i].field != NULL)
			field_values(r->c, f->f[i].field, res, &vals);
		else
			tag_values(f->f[i].name, res, &vals);
		for (int a = 0; a < vals.n && !hit; a++)
			for (size_t b = 0; b < f->f[i].nvalues && !hit; b++)
				hit = lc_wildcard(f->f[i].values[b], vals.v[a]);
		if (!hit)
			return 0;
	}
	return 1;
}

int lc_page_parse(struct lc_req *r, size_t total, long long min, long long max, long long def,
                  struct lc_page *out)
{
	const char *token = lc_q(r, "NextToken");
	unsigned long long start = 0;
	long long n;
	char *end;

	if (lc_q_int(r, "MaxResults", def, min, max, &n) < 0)
		return -1;
	if (token != NULL) {
		errno = 0;
		start = strtoull(token, &end, 10);
		/* an offset this cloud handed out: digits without a leading zero, never 0 */
		if (errno || *end != '\0' || token[0] < '1' || token[0] > '9' || start > total)
			return lc_err(r, 400, "InvalidParameterValue",
			              "Invalid value for NextToken: %s", token);
	}
	out->total = total;
	out->first = (size_t)start;
	out->count = total - out->first < (size_t)n ? total - out->first : (size_t)n;
	return 0;
}

void lc_page_token(struct lc_req *r, const struct lc_page *pg)
{
	if (pg->first + pg->count < pg->total)
		lc_xtf(r->out, "nextToken", "%zu", pg->first + pg->count);
}

/* The values of one selector, checked; *out an object value -> true. */
static int selector_values(struct lc_req *r, const struct lc_selector *s, json_t *table,
                           json_t **out)
{
	const char **vals;
	size_t n;
	int rc = 0;

	*out = NULL;
	if (s->param == NULL)
		return 0;
	n = lc_q_list(r, s->param, &vals);
	if (n > LC_IDS_MAX) {
		free(vals);
		return lc_err(r, 400, "InvalidParameterValue",
		              "Too many values for %s (%zu; at most %d)", s->param, n, LC_IDS_MAX);
	}
	if (n > 0)
		*out = json_object();
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (s->check != NULL) {
			rc = s->check(r, vals[i]);
		} else if (s->member == NULL && json_object_get(table, vals[i]) == NULL) {
			rc =
			    lc_err(r, 400, s->code, "The %s '%s' does not exist", s->what, vals[i]);
		}
		json_object_set_new(*out, vals[i], json_true());
	}
	free(vals);
	if (rc < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

/* Values asked for by member must each have matched a resource. */
static int members_found(struct lc_req *r, const struct lc_selector *s, json_t *want, json_t *found)
{
	const char *k;
	json_t *v;

	if (want == NULL || s->member == NULL || s->check != NULL)
		return 0;
	json_object_foreach(want, k, v)
	{
		if (json_object_get(found, k) == NULL)
			return lc_err(r, 400, s->code, "The %s '%s' does not exist", s->what, k);
	}
	return 0;
}

static int selected(const struct lc_selector *s, json_t *want, const char *key, json_t *res,
                    json_t *found)
{
	const char *v;

	if (want == NULL)
		return 1;
	v = s->member ? json_string_value(json_object_get(res, s->member)) : key;
	if (v == NULL || json_object_get(want, v) == NULL)
		return 0;
	json_object_set_new(found, v, json_true());
	return 1;
}

int lc_describe_select(struct lc_req *r, const struct lc_describe *d, json_t **out)
{
	json_t *table, *want[2] = {NULL, NULL}, *found[2], *res, *list = NULL;
	struct lc_filters f = {NULL, 0};
	const char *k;
	int rc = -1;

	*out = NULL;
	table = d->source ? d->source(r) : json_incref(lc_table(r->c, d->table));
	found[0] = json_object();
	found[1] = json_object();
	if (selector_values(r, &d->by[0], table, &want[0]) < 0 ||
	    selector_values(r, &d->by[1], table, &want[1]) < 0 ||
	    lc_filters_parse(r, d->fields, &f) < 0)
		goto done;
	list = json_array();
	json_object_foreach(table, k, res)
	{
		if (!selected(&d->by[0], want[0], k, res, found[0]) ||
		    !selected(&d->by[1], want[1], k, res, found[1]))
			continue;
		if ((d->keep == NULL || d->keep(r, res)) && lc_filters_match(r, &f, res))
			json_array_append(list, res);
	}
	if (members_found(r, &d->by[0], want[0], found[0]) < 0 ||
	    members_found(r, &d->by[1], want[1], found[1]) < 0)
		goto done;
	*out = list;
	list = NULL;
	rc = 0;
done:
	lc_filters_release(&f);
	json_decref(list);
	for (int i = 0; i < 2; i++) {
		json_decref(want[i]);
		json_decref(found[i]);
	}
	json_decref(table);
	return rc;
}

int lc_describe(struct lc_req *r, const struct lc_describe *d)
{
	struct lc_page pg = {0, 0, 0};
	json_t *list;

	if (lc_describe_select(r, d, &list) < 0)
		return -1;
	pg.count = pg.total = json_array_size(list);
	if (d->paged &&
	    lc_page_parse(r, pg.total, d->page_min, d->page_max, d->page_max, &pg) < 0) {
		json_decref(list);
		return -1;
	}
	lc_xo(r->out, d->set);
	for (size_t i = pg.first; i < pg.first + pg.count; i++)
		d->item(r, json_array_get(list, i));
	lc_xc(r->out, d->set);
	if (d->paged)
		lc_page_token(r, &pg);
	json_decref(list);
	return 0;
}
