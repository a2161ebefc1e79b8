#include "aws/shapes.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/log.h"

/* Enough for any listing kiln makes; a server that keeps handing out new tokens is broken. */
#define MAX_PAGES 1000

void *kiln_aws_vec_push(void *vp, size_t *n, size_t *alloc, size_t elsize)
{
	void **v = vp;
	char *el;

	if (*n == *alloc) {
		*alloc = *alloc ? *alloc * 2 : 4;
		*v = kiln_xrealloc(*v, *alloc * elsize);
	}
	el = (char *)*v + *n * elsize;
	memset(el, 0, elsize);
	(*n)++;
	return el;
}

void kiln_aws_strings_add(struct kiln_aws_strings *l, const char *s)
{
	char **slot = kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*l->v));

	*slot = kiln_xstrdup(s);
}

void kiln_aws_strings_release(struct kiln_aws_strings *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void kiln_aws_tags_add(struct kiln_aws_tags *t, const char *key, const char *value)
{
	struct kiln_aws_tag *tag = kiln_aws_vec_push(&t->v, &t->n, &t->alloc, sizeof(*t->v));

	KILN_ASSERT_ARG(key != NULL);
	tag->key = kiln_xstrdup(key);
	tag->value = value != NULL ? kiln_xstrdup(value) : NULL;
}

const char *kiln_aws_tags_get(const struct kiln_aws_tags *t, const char *key)
{
	size_t i;

	for (i = 0; t != NULL && i < t->n; i++)
		if (strcmp(t->v[i].key, key) == 0)
			return t->v[i].value;
	return NULL;
}

void kiln_aws_tags_release(struct kiln_aws_tags *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		free(t->v[i].key);
		free(t->v[i].value);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

void kiln_aws_filters_add(struct kiln_aws_filters *f, const char *name, const char *value)
{
	struct kiln_aws_filter *flt = NULL;
	size_t i;

	KILN_ASSERT_ARG(name != NULL && value != NULL);
	for (i = 0; i < f->n && flt == NULL; i++)
		if (strcmp(f->v[i].name, name) == 0)
			flt = &f->v[i];
	if (flt == NULL) {
		flt = kiln_aws_vec_push(&f->v, &f->n, &f->alloc, sizeof(*f->v));
		flt->name = kiln_xstrdup(name);
	}
	kiln_aws_strings_add(&flt->values, value);
}

void kiln_aws_filters_release(struct kiln_aws_filters *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->v[i].name);
		kiln_aws_strings_release(&f->v[i].values);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

void kiln_aws_query_strings(struct kiln_query *q, enum kiln_query_list_style style,
                            const char *prefix, const char *const *v, size_t n)
{
	if (v != NULL && n > 0)
		kiln_query_add_list(q, style, prefix, v, n);
}

void kiln_aws_query_tags(struct kiln_query *q, enum kiln_query_list_style style, const char *prefix,
                         const struct kiln_aws_tags *t)
{
	const char *mid = style == KILN_QUERY_MEMBER ? ".member" : "";
	size_t i;

	for (i = 0; t != NULL && i < t->n; i++) {
		kiln_query_addf(q, t->v[i].key, "%s%s.%zu.Key", prefix, mid, i + 1);
		if (t->v[i].value != NULL)
			kiln_query_addf(q, t->v[i].value, "%s%s.%zu.Value", prefix, mid, i + 1);
	}
}

void kiln_aws_query_filters(struct kiln_query *q, enum kiln_query_list_style style,
                            const struct kiln_aws_filters *f)
{
	size_t i, j;

	for (i = 0; f != NULL && i < f->n; i++) {
		const struct kiln_aws_filter *flt = &f->v[i];

		if (style == KILN_QUERY_EC2) {
			kiln_query_addf(q, flt->name, "Filter.%zu.Name", i + 1);
			for (j = 0; j < flt->values.n; j++)
				kiln_query_addf(q, flt->values.v[j], "Filter.%zu.Value.%zu", i + 1,
				                j + 1);
		} else {
			kiln_query_addf(q, flt->name, "Filters.member.%zu.Name", i + 1);
			for (j = 0; j < flt->values.n; j++)
				kiln_query_addf(q, flt->values.v[j],
				                "Filters.member.%zu.Values.member.%zu", i + 1,
				                j + 1);
		}
	}
}

void kiln_aws_query_int(struct kiln_query *q, const char *key, long long v)
{
	char s[32];

	snprintf(s, sizeof(s), "%lld", v);
	kiln_query_add(q, key, s);
}

void kiln_aws_query_bool(struct kiln_query *q, const char *key, int v)
{
	kiln_query_add(q, key, v ? "true" : "false");
}

char *kiln_aws_xml_dup(const struct kiln_xml *x, xmlNodePtr node, const char *path)
{
	const char *s = node != NULL ? kiln_xml_text(x, node, path) : NULL;

	return s != NULL ? kiln_xstrdup(s) : NULL;
}

long long kiln_aws_xml_int(const struct kiln_xml *x, xmlNodePtr node, const char *path,
                           long long def)
{
	const char *s = node != NULL ? kiln_xml_text(x, node, path) : NULL;
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return def;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return def;
	return v;
}

int kiln_aws_xml_bool(const struct kiln_xml *x, xmlNodePtr node, const char *path)
{
	const char *s = node != NULL ? kiln_xml_text(x, node, path) : NULL;

	return s != NULL && strcmp(s, "true") == 0;
}

void kiln_aws_xml_strings(struct kiln_aws_strings *out, const struct kiln_xml *x, xmlNodePtr node,
                          const char *path, const char *field)
{
	xmlNodePtr it;

	for (it = kiln_xml_first_child(node, path); it != NULL; it = kiln_xml_next(it)) {
		const char *s = kiln_xml_text(x, it, field != NULL ? field : "");

		if (s != NULL)
			kiln_aws_strings_add(out, s);
	}
}

void kiln_aws_xml_tags(struct kiln_aws_tags *out, const struct kiln_xml *x, xmlNodePtr node,
                       const char *path, const char *key, const char *value)
{
	xmlNodePtr it;

	for (it = kiln_xml_first_child(node, path); it != NULL; it = kiln_xml_next(it)) {
		const char *k = kiln_xml_text(x, it, key), *v = kiln_xml_text(x, it, value);

		if (k != NULL)
			kiln_aws_tags_add(out, k, v != NULL ? v : "");
	}
}

int kiln_aws_call(struct kiln_aws *aws, enum kiln_aws_service svc, const char *action,
                  const struct kiln_query *params, const char *result_path, kiln_aws_page_fn fn,
                  void *arg)
{
	struct kiln_xml *x = NULL;
	xmlNodePtr result;
	int error;

	/* kiln_aws_query leaves the parameters unchanged (client.h). */
	error = kiln_aws_query(&x, aws, svc, action, (struct kiln_query *)params);
	if (error < 0 || fn == NULL)
		goto done;
	result = kiln_xml_find(kiln_xml_root(x), result_path != NULL ? result_path : "");
	if (result == NULL) {
		error = kiln_error_set(KILN_ERROR, "%s reply lacks '%s'", action, result_path);
		goto done;
	}
	error = fn(arg, x, result);
done:
	kiln_xml_free(x);
	return error;
}

int kiln_aws_paginate(struct kiln_aws *aws, enum kiln_aws_service svc, const char *action,
                      const struct kiln_query *params, const char *token_param,
                      const char *result_path, const char *token_path, kiln_aws_page_fn fn,
                      void *arg)
{
	struct kiln_query page = KILN_QUERY_INIT;
	struct kiln_xml *x = NULL;
	char *token = NULL;
	const char *next;
	xmlNodePtr result;
	size_t i;
	int error = 0, npages;

	for (npages = 0; npages < MAX_PAGES; npages++) {
		kiln_query_release(&page);
		for (i = 0; params != NULL && i < params->count; i++)
			kiln_query_add(&page, params->params[i].key, params->params[i].value);
		if (token != NULL)
			kiln_query_add(&page, token_param, token);
		kiln_xml_free(x);
		x = NULL;
		error = kiln_aws_query(&x, aws, svc, action, &page);
		if (error < 0)
			goto done;
		result = kiln_xml_find(kiln_xml_root(x), result_path);
		if (result == NULL) {
			error =
			    kiln_error_set(KILN_ERROR, "%s reply lacks '%s'", action, result_path);
			goto done;
		}
		error = fn(arg, x, result);
		if (error < 0)
			goto done;
		next = kiln_xml_text(x, result, token_path);
		if (next == NULL || *next == '\0')
			goto done;
		if (token != NULL && strcmp(token, next) == 0) {
			error = kiln_error_set(KILN_ERROR, "%s returned the same page token twice",
			                       action);
			goto done;
		}
		free(token);
		token = kiln_xstrdup(next);
	}
	error = kiln_error_set(KILN_ERROR, "%s: more than %d pages", action, MAX_PAGES);
done:
	kiln_xml_free(x);
	kiln_query_release(&page);
	free(token);
	return error;
}

char *kiln_aws_base64_encode(const void *data, size_t len)
{
	char *out = kiln_xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

static int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int kiln_aws_base64_decode(struct kiln_buf *out, const char *s)
{
	unsigned acc = 0;
	int bits = 0, v, error, pad = 0;

	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
			continue;
		if (*s == '=') {
			pad++;
			continue;
		}
		v = b64_value((unsigned char)*s);
		if (v < 0 || pad > 0)
			return kiln_error_set(KILN_EINVAL, "bad base64 text");
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			error = kiln_buf_putc(out, (char)((acc >> bits) & 0xff));
			if (error < 0)
				return error;
		}
	}
	if (pad > 2 || bits >= 6)
		return kiln_error_set(KILN_EINVAL, "bad base64 text");
	return 0;
}
