#include "core/common.h"

#include <string.h>

/*
 * One slot per thread, as libgit2 does. Messages are bounded: an error that
 * quotes a remote reply is cut rather than grown without limit.
 */
#define ERROR_MAX 16384

static _Thread_local char error_msg[ERROR_MAX];
static _Thread_local int error_code;

int kiln_error_vset(int code, const char *fmt, va_list ap)
{
	char msg[ERROR_MAX];

	/* through a copy: an argument may be kiln_error_last() itself */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	memcpy(error_msg, msg, sizeof(error_msg));
	error_code = code;
	return code;
}

int kiln_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kiln_error_vset(code, fmt, ap);
	va_end(ap);
	return code;
}

int kiln_error_prefix(int code, const char *fmt, ...)
{
	char prefix[1024], old[ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, error_msg, sizeof(old));
	/* Truncation is intended: the slot bounds every message. */
	if (old[0] != '\0') {
		size_t n = strlen(prefix);
		if (n > sizeof(error_msg) - 3)
			n = sizeof(error_msg) - 3;
		memcpy(error_msg, prefix, n);
		memcpy(error_msg + n, ": ", 2);
		n += 2;
		size_t left = sizeof(error_msg) - n - 1, olen = strlen(old);
		if (olen > left)
			olen = left;
		memcpy(error_msg + n, old, olen);
		error_msg[n + olen] = '\0';
	} else {
		snprintf(error_msg, sizeof(error_msg), "%s", prefix);
	}
	if (error_code == KILN_OK)
		error_code = code;
	return code;
}

const char *kiln_error_last(void)
{
	return error_msg;
}

int kiln_error_last_code(void)
{
	return error_code;
}

void kiln_error_clear(void)
{
	error_msg[0] = '\0';
	error_code = KILN_OK;
}

int kiln_exit_code(int error)
{
	if (error >= 0)
		return 0;
	return error == KILN_EINVAL ? 2 : 1;
}

KILN_NORETURN void kiln_die(const char *fmt, ...)
{
	va_list ap;

	fputs("kiln: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void *kiln_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		kiln_die("out of memory allocating %zu bytes", n);
	return p;
}

void *kiln_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		kiln_die("out of memory allocating %zu x %zu bytes", nmemb, size);
	return p;
}

void *kiln_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		kiln_die("out of memory allocating %zu bytes", n);
	return q;
}

char *kiln_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		kiln_die("out of memory");
	return p;
}

char *kiln_xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		kiln_die("out of memory");
	return p;
}

char *kiln_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&out, fmt, ap);
	va_end(ap);
	if (n < 0)
		kiln_die("out of memory");
	return out;
}

void kiln_free_secret(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}
