#include "core/buf.h"

#include <ctype.h>
#include <string.h>

char kiln_buf__empty[1];

void kiln_buf_init(struct kiln_buf *buf, size_t cap)
{
	KILN_ASSERT_ARG(buf != NULL);
	buf->ptr = kiln_buf__empty;
	buf->size = 0;
	buf->asize = 0;
	buf->cap = cap;
}

void kiln_buf_release(struct kiln_buf *buf)
{
	if (buf == NULL)
		return;
	if (buf->asize > 0)
		free(buf->ptr);
	buf->ptr = kiln_buf__empty;
	buf->size = 0;
	buf->asize = 0;
}

void kiln_buf_wipe(struct kiln_buf *buf)
{
	if (buf == NULL)
		return;
	if (buf->asize > 0)
		explicit_bzero(buf->ptr, buf->asize);
	kiln_buf_release(buf);
}

void kiln_buf_clear(struct kiln_buf *buf)
{
	buf->size = 0;
	if (buf->asize > 0)
		buf->ptr[0] = '\0';
}

char *kiln_buf_detach(struct kiln_buf *buf)
{
	char *out;

	if (buf->asize == 0)
		return kiln_xstrdup("");
	out = buf->ptr;
	buf->ptr = kiln_buf__empty;
	buf->size = 0;
	buf->asize = 0;
	return out;
}

int kiln_buf_grow(struct kiln_buf *buf, size_t extra)
{
	size_t need, nsize;

	if (extra > buf->cap || buf->size > buf->cap - extra)
		return kiln_error_set(KILN_ETOOBIG, "data exceeds the limit of %zu bytes",
		                      buf->cap);
	need = buf->size + extra + 1;
	if (need <= buf->asize)
		return 0;
	nsize = buf->asize ? buf->asize : 64;
	while (nsize < need)
		nsize = nsize > SIZE_MAX / 2 ? need : nsize * 2;
	if (buf->asize == 0) {
		buf->ptr = kiln_xmalloc(nsize);
		buf->ptr[0] = '\0';
	} else {
		buf->ptr = kiln_xrealloc(buf->ptr, nsize);
	}
	buf->asize = nsize;
	return 0;
}

int kiln_buf_put(struct kiln_buf *buf, const void *data, size_t len)
{
	int error;

	if (len == 0)
		return 0;
	error = kiln_buf_grow(buf, len);
	if (error < 0)
		return error;
	memcpy(buf->ptr + buf->size, data, len);
	buf->size += len;
	buf->ptr[buf->size] = '\0';
	return 0;
}

int kiln_buf_puts(struct kiln_buf *buf, const char *s)
{
	return kiln_buf_put(buf, s, strlen(s));
}

int kiln_buf_putc(struct kiln_buf *buf, char c)
{
	return kiln_buf_put(buf, &c, 1);
}

int kiln_buf_vprintf(struct kiln_buf *buf, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, error;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return kiln_error_set(KILN_ERROR, "cannot format string");
	error = kiln_buf_grow(buf, (size_t)n);
	if (error < 0)
		return error;
	vsnprintf(buf->ptr + buf->size, (size_t)n + 1, fmt, ap);
	buf->size += (size_t)n;
	return 0;
}

int kiln_buf_printf(struct kiln_buf *buf, const char *fmt, ...)
{
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = kiln_buf_vprintf(buf, fmt, ap);
	va_end(ap);
	return error;
}

void kiln_buf_truncate(struct kiln_buf *buf, size_t len)
{
	if (len >= buf->size)
		return;
	buf->size = len;
	buf->ptr[len] = '\0';
}

void kiln_buf_rtrim(struct kiln_buf *buf)
{
	while (buf->size > 0 && isspace((unsigned char)buf->ptr[buf->size - 1]))
		buf->size--;
	if (buf->asize > 0)
		buf->ptr[buf->size] = '\0';
}
