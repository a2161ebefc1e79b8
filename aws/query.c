/*
 * The Query protocol's parameter list. Encoding uses the RFC 3986 unreserved
 * set (what the AWS SDKs send, and what SigV4 canonicalizes to), so a body
 * kiln sends is already in canonical form. Parsing accepts what HTML forms
 * and other clients send too: '+' for space, lower-case escapes.
 */
#include <stdarg.h>
#include <string.h>

#include "aws/query.h"
#include "aws/sigv4.h"

void kiln_query_release(struct kiln_query *q)
{
	size_t i;

	if (!q)
		return;
	for (i = 0; i < q->count; i++) {
		free(q->params[i].key);
		free(q->params[i].value);
	}
	free(q->params);
	q->params = NULL;
	q->count = 0;
	q->alloc = 0;
}

/* Takes ownership of `key` and `value`. */
static void add_owned(struct kiln_query *q, char *key, char *value)
{
	if (q->count == q->alloc) {
		q->alloc = q->alloc ? q->alloc * 2 : 16;
		q->params = kiln_xrealloc(q->params, q->alloc * sizeof(*q->params));
	}
	q->params[q->count].key = key;
	q->params[q->count].value = value;
	q->count++;
}

void kiln_query_add(struct kiln_query *q, const char *key, const char *value)
{
	KILN_ASSERT_ARG(q && key);
	add_owned(q, kiln_xstrdup(key), kiln_xstrdup(value ? value : ""));
}

void kiln_query_addf(struct kiln_query *q, const char *value, const char *key_fmt, ...)
{
	struct kiln_buf key = KILN_BUF_INIT;
	va_list ap;

	KILN_ASSERT_ARG(q && key_fmt);
	va_start(ap, key_fmt);
	/* Keys are short names built by kiln; the default cap cannot be hit. */
	if (kiln_buf_vprintf(&key, key_fmt, ap) < 0)
		kiln_die("query parameter name too long");
	va_end(ap);
	add_owned(q, kiln_buf_detach(&key), kiln_xstrdup(value ? value : ""));
}

void kiln_query_add_list(struct kiln_query *q, enum kiln_query_list_style style, const char *prefix,
                         const char *const *values, size_t n)
{
	size_t i;

	KILN_ASSERT_ARG(q && prefix && (values || n == 0));
	for (i = 0; i < n; i++) {
		if (style == KILN_QUERY_MEMBER)
			kiln_query_addf(q, values[i], "%s.member.%zu", prefix, i + 1);
		else
			kiln_query_addf(q, values[i], "%s.%zu", prefix, i + 1);
	}
}

const char *kiln_query_get(const struct kiln_query *q, const char *key)
{
	size_t i;

	KILN_ASSERT_ARG(q && key);
	for (i = 0; i < q->count; i++)
		if (strcmp(q->params[i].key, key) == 0)
			return q->params[i].value;
	return NULL;
}

int kiln_query_encode(struct kiln_buf *out, const struct kiln_query *q)
{
	size_t i;
	int error = 0;

	KILN_ASSERT_ARG(out && q);
	for (i = 0; i < q->count && error == 0; i++) {
		const struct kiln_query_param *p = &q->params[i];

		if (i > 0)
			error = kiln_buf_putc(out, '&');
		if (error == 0)
			error = kiln_uri_encode(out, p->key, strlen(p->key), 1);
		if (error == 0)
			error = kiln_buf_putc(out, '=');
		if (error == 0)
			error = kiln_uri_encode(out, p->value, strlen(p->value), 1);
	}
	return error;
}

/* Form-decode s[0..len): '+' is a space, then percent-escapes. */
static int form_decode(char **out, const char *s, size_t len)
{
	struct kiln_buf plus = KILN_BUF_INIT, dec = KILN_BUF_INIT;
	size_t i;
	int error;

	error = kiln_buf_put(&plus, s, len);
	for (i = 0; error == 0 && i < plus.size; i++)
		if (plus.ptr[i] == '+')
			plus.ptr[i] = ' ';
	if (error == 0)
		error = kiln_uri_decode(&dec, plus.ptr, plus.size);
	if (error == 0 && memchr(dec.ptr, '\0', dec.size))
		error = kiln_error_set(KILN_EINVAL, "an escaped NUL byte is not allowed");
	if (error == 0)
		*out = kiln_buf_detach(&dec);
	kiln_buf_release(&plus);
	kiln_buf_release(&dec);
	return error;
}

int kiln_query_parse(struct kiln_query *out, const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	size_t first = out->count;
	int error = 0;

	KILN_ASSERT_ARG(out && (s || len == 0));
	while (len > 0 && error == 0) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *eq;
		char *key = NULL, *value = NULL;

		if (!amp)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (amp > p) {
			error = form_decode(&key, p, (size_t)((eq ? eq : amp) - p));
			if (error == 0)
				error = eq ? form_decode(&value, eq + 1, (size_t)(amp - eq - 1))
				           : form_decode(&value, "", 0);
			if (error == 0) {
				add_owned(out, key, value);
			} else {
				free(key);
				free(value);
			}
		}
		if (amp == end)
			break;
		p = amp + 1;
	}
	if (error < 0) {
		/* Leave `out` as it was before this call. */
		while (out->count > first) {
			out->count--;
			free(out->params[out->count].key);
			free(out->params[out->count].value);
		}
		return kiln_error_prefix(error, "invalid query string");
	}
	return 0;
}
