#include "core/buf.h"
#include "core/utf8.h"

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

/* Code points a terminal may act on, or that reorder the text around them. */
static int unsafe_code_point(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

static int put_hex(struct kiln_buf *buf, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char esc[4] = {'\\', 'x', 0, 0};
	size_t i;
	int error = 0;

	for (i = 0; i < n && error == 0; i++) {
		esc[2] = hex[p[i] >> 4];
		esc[3] = hex[p[i] & 0xf];
		error = kiln_buf_put(buf, esc, sizeof(esc));
	}
	return error;
}

/* Append what starts at `p` up to the next byte to escape; returns how far it went. */
static size_t put_plain(struct kiln_buf *buf, const unsigned char *p, const unsigned char *end,
                        int backslash, int *error)
{
	const unsigned char *q = p;
	uint32_t cp = 0;
	int n;

	while (q < end) {
		if (((*q >= 0x20 && *q < 0x7f) || *q == '\t') && !(*q == '\\' && backslash)) {
			q++;
			continue;
		}
		n = *q < 0x80 ? -1 : kiln_utf8_decode(&cp, (const char *)q, (size_t)(end - q));
		if (n < 0 || unsafe_code_point(cp) || (*q == '\\' && backslash))
			break;
		q += n;
	}
	*error = kiln_buf_put(buf, p, (size_t)(q - p));
	return (size_t)(q - p);
}

int kiln_buf_put_escaped(struct kiln_buf *buf, const void *data, size_t len, unsigned flags)
{
	const unsigned char *p = data, *end = p + len;
	size_t start = buf->size;
	uint32_t cp = 0;
	int n, error = 0;

	KILN_ASSERT_ARG(buf != NULL && (data != NULL || len == 0));
	while (p < end && error == 0) {
		p += put_plain(buf, p, end, (flags & KILN_ESCAPE_BACKSLASH) != 0, &error);
		if (p == end || error < 0)
			break;
		if (*p == '\\') {
			error = kiln_buf_puts(buf, "\\\\");
			p++;
		} else if ((flags & KILN_ESCAPE_LINES) && *p == '\n') {
			error = kiln_buf_putc(buf, '\n');
			p++;
		} else if ((flags & KILN_ESCAPE_LINES) && *p == '\r' && end - p > 1 &&
		           p[1] == '\n') {
			error = kiln_buf_putc(buf, '\n');
			p += 2;
		} else {
			/* One byte, or the whole of an unsafe but well-formed character. */
			n = *p < 0x80 ? 1
			              : kiln_utf8_decode(&cp, (const char *)p, (size_t)(end - p));
			n = n > 0 ? n : 1;
			error = put_hex(buf, p, (size_t)n);
			p += n;
		}
	}
	/* All or nothing, as every other append. */
	if (error < 0)
		kiln_buf_truncate(buf, start);
	return error;
}

char *kiln_escape(const char *s)
{
	struct kiln_buf out;

	kiln_buf_init(&out, SIZE_MAX / 8);
	kiln_buf_put_escaped(&out, s, strlen(s), 0);
	return kiln_buf_detach(&out);
}
