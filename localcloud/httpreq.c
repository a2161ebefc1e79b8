/*
 * An HTTP/1.x request, parsed as it arrives (httpreq-int.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "localcloud/httpreq-int.h"

enum state {
	S_START,      /* before the request line (empty lines are skipped) */
	S_METHOD,     /* the method token */
	S_TARGET,     /* the request target */
	S_VERSION,    /* "HTTP/1.x" */
	S_LINE_END,   /* LF after the version (or CR LF) */
	S_HEADER,     /* header lines, up to the empty one */
	S_HEAD_DONE,  /* HEAD was returned; the body comes next */
	S_BODY,       /* Content-Length bytes */
	S_CHUNK_SIZE, /* chunk-size [ chunk-ext ] CRLF */
	S_CHUNK_DATA,
	S_CHUNK_END, /* CRLF after a chunk's data */
	S_TRAILER,   /* trailer lines, up to the empty one */
	S_DONE,
	S_ERROR,
};

/* Leading empty lines tolerated before a request line (RFC 9112 2.2 asks for one). */
#define LEADING_CRLF_MAX 8
/* A method longer than every method of RFC 9110 and WebDAV. */
#define METHOD_MAX 32
/* A chunk-size line with its extensions. */
#define CHUNK_LINE_MAX 4096

static const char version_prefix[] = "HTTP/";

void lc_httpreq_init(struct lc_httpreq *r)
{
	memset(r, 0, sizeof(*r));
	r->state = S_START;
	kiln_buf_init(&r->line, LC_URL_MAX + LC_HEADERS_MAX);
	kiln_buf_init(&r->body, LC_BODY_MAX);
}

void lc_httpreq_release(struct lc_httpreq *r)
{
	for (size_t i = 0; i < r->nheaders; i++)
		free(r->headers[i]);
	free(r->headers);
	free(r->method);
	free(r->target);
	kiln_buf_release(&r->line);
	kiln_buf_release(&r->body);
	memset(r, 0, sizeof(*r));
}

static enum lc_httpreq_result fail(struct lc_httpreq *r, int status, const char *code,
                                   const char *message)
{
	r->state = S_ERROR;
	r->status = status;
	r->code = code;
	r->message = message;
	return LC_HTTPREQ_ERROR;
}

static enum lc_httpreq_result malformed(struct lc_httpreq *r, const char *message)
{
	return fail(r, 400, "MalformedHttpRequestException", message);
}

/* RFC 9110 5.6.2: the characters of a token. */
static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* ---- the request line, a byte at a time --------------------------------- */

/* One byte of the request line; LC_HTTPREQ_MORE while it is acceptable. */
static enum lc_httpreq_result request_line_byte(struct lc_httpreq *r, unsigned char c)
{
	if (++r->head_bytes > LC_URL_MAX)
		return fail(r, 414, "RequestURITooLong", "The request line exceeds 64 KiB");
	switch (r->state) {
	case S_START:
		if (c == '\r' && r->line.size == 0) {
			kiln_buf_putc(&r->line, '\r');
			return LC_HTTPREQ_MORE;
		}
		if (c == '\n') {
			kiln_buf_clear(&r->line);
			if (++r->leading_crlf > LEADING_CRLF_MAX)
				return malformed(r, "The request has no request line");
			return LC_HTTPREQ_MORE;
		}
		if (r->line.size > 0)
			return malformed(r, "A CR is not followed by LF");
		r->state = S_METHOD;
		/* fall through */
	case S_METHOD:
		if (c == ' ' && r->line.size > 0) {
			r->method = kiln_xstrndup(r->line.ptr, r->line.size);
			kiln_buf_clear(&r->line);
			r->state = S_TARGET;
			return LC_HTTPREQ_MORE;
		}
		if (!is_tchar(c) || r->line.size >= METHOD_MAX)
			return malformed(r, "The request line does not start with an HTTP method");
		break;
	case S_TARGET:
		if (c == ' ' && r->line.size > 0) {
			r->target = kiln_xstrndup(r->line.ptr, r->line.size);
			kiln_buf_clear(&r->line);
			r->state = S_VERSION;
			return LC_HTTPREQ_MORE;
		}
		/* visible ASCII only: clients percent-encode everything else */
		if (c <= 0x20 || c >= 0x7f)
			return malformed(r, "The request target has a character that must be "
			                    "percent-encoded, or no HTTP version follows it");
		break;
	case S_VERSION: {
		size_t at = r->line.size;
		if (at < sizeof(version_prefix) - 1) {
			if (c != (unsigned char)version_prefix[at])
				return malformed(
				    r, "The request line does not end in an HTTP version");
		} else if (at == sizeof(version_prefix) - 1) {
			if (c < '0' || c > '9')
				return malformed(
				    r, "The request line does not end in an HTTP version");
			if (c != '1')
				return fail(r, 505, "HttpVersionNotSupported",
				            "Only HTTP/1.0 and HTTP/1.1 are supported");
		} else if (at == sizeof(version_prefix)) {
			if (c != '.')
				return malformed(
				    r, "The request line does not end in an HTTP version");
		} else {
			if (c < '0' || c > '9')
				return malformed(
				    r, "The request line does not end in an HTTP version");
			r->minor = c - '0';
			kiln_buf_clear(&r->line);
			r->state = S_LINE_END;
			return LC_HTTPREQ_MORE;
		}
		break;
	}
	case S_LINE_END:
		if (c == '\r' && r->line.size == 0) {
			kiln_buf_putc(&r->line, '\r');
			return LC_HTTPREQ_MORE;
		}
		if (c != '\n')
			return malformed(r, "The request line does not end after its HTTP version");
		kiln_buf_clear(&r->line);
		r->head_bytes = 0;
		r->state = S_HEADER;
		return LC_HTTPREQ_MORE;
	default:
		break;
	}
	kiln_buf_putc(&r->line, (char)c);
	return LC_HTTPREQ_MORE;
}

/* ---- lines: headers, chunk sizes, trailers ------------------------------- */

/*
 * Collect a line from data[*i..len) into r->line, taking at most `room`
 * more bytes with its end. Returns 1 when the line is complete (its CR LF
 * or LF removed), 0 when more bytes are needed, -1 when it is too long, -2
 * when it has a CR that does not end it.
 */
static int take_line(struct lc_httpreq *r, const char *data, size_t len, size_t *i, size_t room)
{
	const char *nl = memchr(data + *i, '\n', len - *i);
	size_t n = nl ? (size_t)(nl - (data + *i)) + 1 : len - *i;

	if (n > room || kiln_buf_put(&r->line, data + *i, n) < 0)
		return -1;
	*i += n;
	if (nl == NULL)
		return 0;
	kiln_buf_truncate(&r->line, r->line.size - 1);
	if (r->line.size > 0 && r->line.ptr[r->line.size - 1] == '\r')
		kiln_buf_truncate(&r->line, r->line.size - 1);
	/* a CR anywhere else would end the line for some readers and not for others */
	if (memchr(r->line.ptr, '\r', r->line.size))
		return -2;
	return 1;
}

/* "Name: value" from a header line, into r->headers. */
static enum lc_httpreq_result header_line(struct lc_httpreq *r)
{
	char *line = r->line.ptr, *colon = memchr(line, ':', r->line.size);
	const char *v, *end = line + r->line.size;

	if (line[0] == ' ' || line[0] == '\t')
		return malformed(r, "Folded header lines are not accepted");
	if (colon == NULL || colon == line)
		return malformed(r, "A header line has no name and colon");
	for (const char *p = line; p < colon; p++)
		if (!is_tchar((unsigned char)*p))
			return malformed(r, "A header name has a character a token cannot have");
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (const char *p = v; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return malformed(r, "A header value has a control character");
	}
	if (r->nheaders >= LC_HEADER_LINES_MAX)
		return fail(r, 431, "RequestHeaderFieldsTooLarge",
		            "The request has more than 256 header lines");
	r->headers = kiln_xrealloc(r->headers, (r->nheaders + 2) * sizeof(*r->headers));
	r->headers[r->nheaders++] =
	    kiln_xasprintf("%.*s: %.*s", (int)(colon - line), line, (int)(end - v), v);
	r->headers[r->nheaders] = NULL;
	return LC_HTTPREQ_MORE;
}

const char *lc_httpreq_header(const struct lc_httpreq *r, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < r->nheaders; i++)
		if (strncasecmp(r->headers[i], name, len) == 0 && r->headers[i][len] == ':')
			return r->headers[i] + len + 2;
	return NULL;
}

size_t lc_httpreq_header_count(const struct lc_httpreq *r, const char *name)
{
	size_t len = strlen(name), n = 0;

	for (size_t i = 0; i < r->nheaders; i++)
		if (strncasecmp(r->headers[i], name, len) == 0 && r->headers[i][len] == ':')
			n++;
	return n;
}

/* Does the comma-separated list `v` hold `token` (case-insensitive)? */
static int list_has(const char *v, const char *token)
{
	size_t len = strlen(token);

	while (*v) {
		v += strspn(v, " \t,");
		if (strncasecmp(v, token, len) == 0 && strchr(" \t,", v[len]) != NULL)
			return 1;
		v += strcspn(v, ",");
	}
	return 0;
}

/* Content-Length: the same digits in every such header, within the body cap. */
static enum lc_httpreq_result content_length(struct lc_httpreq *r)
{
	const char *first = NULL;
	size_t len = strlen("content-length");

	for (size_t i = 0; i < r->nheaders; i++) {
		const char *v = r->headers[i] + len + 2;
		if (strncasecmp(r->headers[i], "content-length", len) != 0 ||
		    r->headers[i][len] != ':')
			continue;
		if (*v == '\0' || strspn(v, "0123456789") != strlen(v) || strlen(v) > 18)
			return malformed(r, "Content-Length is not a number of bytes");
		if (first && strcmp(first, v) != 0)
			return malformed(r, "The request has conflicting Content-Length headers");
		first = v;
	}
	if (first == NULL)
		return LC_HTTPREQ_MORE;
	r->content_length_seen = 1;
	r->length = strtoull(first, NULL, 10);
	if (r->length > LC_BODY_MAX)
		return fail(r, 413, "RequestEntityTooLarge", "The request body exceeds 16 MiB");
	return LC_HTTPREQ_MORE;
}

/* The head is complete: how the body is framed and what the connection does next. */
static enum lc_httpreq_result finish_head(struct lc_httpreq *r)
{
	const char *te = lc_httpreq_header(r, "transfer-encoding");
	const char *conn = lc_httpreq_header(r, "connection");
	const char *expect = lc_httpreq_header(r, "expect");

	if (content_length(r) == LC_HTTPREQ_ERROR)
		return LC_HTTPREQ_ERROR;
	if (te != NULL) {
		/* RFC 9112 6.1: with both, a proxy and this server could see different requests */
		if (r->content_length_seen)
			return malformed(r, "The request has both Transfer-Encoding and "
			                    "Content-Length");
		if (r->minor == 0)
			return malformed(r, "HTTP/1.0 has no Transfer-Encoding");
		if (lc_httpreq_header_count(r, "transfer-encoding") > 1 ||
		    strcasecmp(te, "chunked") != 0)
			return fail(r, 501, "NotImplemented",
			            "Only the chunked Transfer-Encoding is implemented");
		r->chunked = 1;
	}
	r->keep_alive = r->minor >= 1;
	if (conn && list_has(conn, "close"))
		r->keep_alive = 0;
	else if (conn && list_has(conn, "keep-alive"))
		r->keep_alive = 1;
	r->expect_continue = r->minor >= 1 && expect && strcasecmp(expect, "100-continue") == 0 &&
	                     (r->chunked || r->length > 0);
	kiln_buf_clear(&r->line);
	r->head_bytes = 0;
	r->state = S_HEAD_DONE;
	return LC_HTTPREQ_HEAD;
}

/* ---- the body ------------------------------------------------------------ */

/* chunk-size [ chunk-ext ]: hex digits, then nothing or extensions (ignored). */
static enum lc_httpreq_result chunk_size(struct lc_httpreq *r)
{
	const char *p = r->line.ptr;
	size_t digits = strspn(p, "0123456789abcdefABCDEF");
	const char *rest = p + digits;

	rest += strspn(rest, " \t");
	if (digits == 0 || digits > 8 || (*rest != '\0' && *rest != ';'))
		return malformed(r, "A chunk does not start with its size");
	r->length = strtoull(p, NULL, 16);
	if (r->length > LC_BODY_MAX - r->body.size)
		return fail(r, 413, "RequestEntityTooLarge", "The request body exceeds 16 MiB");
	r->state = r->length ? S_CHUNK_DATA : S_TRAILER;
	return LC_HTTPREQ_MORE;
}

/* Bytes of the body (Content-Length or a chunk's) from data[*i..len). */
static void body_bytes(struct lc_httpreq *r, const char *data, size_t len, size_t *i)
{
	size_t n = len - *i;

	if (n > r->length)
		n = (size_t)r->length;
	/* the caps were checked against the declared sizes: this cannot fail */
	kiln_buf_put(&r->body, data + *i, n);
	*i += n;
	r->length -= n;
}

/* One line-shaped step of the head, the chunk framing or the trailers. */
static enum lc_httpreq_result line_step(struct lc_httpreq *r, const char *data, size_t len,
                                        size_t *i)
{
	int section = r->state == S_HEADER || r->state == S_TRAILER;
	size_t room = section                    ? LC_HEADERS_MAX - r->head_bytes
	              : r->state == S_CHUNK_SIZE ? CHUNK_LINE_MAX - r->line.size
	                                         : 2 - r->line.size;
	size_t before = *i;
	int got = take_line(r, data, len, i, room);

	if (section)
		r->head_bytes += *i - before;
	if (got == -1 && section)
		return fail(r, 431, "RequestHeaderFieldsTooLarge",
		            "The request headers exceed 64 KiB");
	if (got < 0)
		return malformed(r, r->state == S_HEADER ? "A header line is malformed"
		                                         : "The chunked body is malformed");
	if (got == 0)
		return LC_HTTPREQ_MORE;
	switch (r->state) {
	case S_HEADER:
		if (r->line.size == 0)
			return finish_head(r);
		if (header_line(r) == LC_HTTPREQ_ERROR)
			return LC_HTTPREQ_ERROR;
		break;
	case S_CHUNK_SIZE:
		if (chunk_size(r) == LC_HTTPREQ_ERROR)
			return LC_HTTPREQ_ERROR;
		break;
	case S_CHUNK_END:
		if (r->line.size != 0)
			return malformed(r, "A chunk is longer than its size");
		r->state = S_CHUNK_SIZE;
		break;
	case S_TRAILER:
		if (r->line.size == 0) {
			r->state = S_DONE;
			break;
		}
		if (!memchr(r->line.ptr, ':', r->line.size))
			return malformed(r, "A trailer line has no name and colon");
		break;
	default:
		break;
	}
	kiln_buf_clear(&r->line);
	return LC_HTTPREQ_MORE;
}

enum lc_httpreq_result lc_httpreq_feed(struct lc_httpreq *r, const char *data, size_t len,
                                       size_t *used)
{
	enum lc_httpreq_result res = LC_HTTPREQ_MORE;
	size_t i = 0;

	while (res == LC_HTTPREQ_MORE && r->state != S_ERROR && r->state != S_DONE) {
		if (r->state == S_HEAD_DONE) {
			r->state = r->chunked ? S_CHUNK_SIZE : r->length ? S_BODY : S_DONE;
			continue;
		}
		if (i == len)
			break;
		switch (r->state) {
		case S_START:
		case S_METHOD:
		case S_TARGET:
		case S_VERSION:
		case S_LINE_END:
			res = request_line_byte(r, (unsigned char)data[i++]);
			break;
		case S_BODY:
			body_bytes(r, data, len, &i);
			if (r->length == 0)
				r->state = S_DONE;
			break;
		case S_CHUNK_DATA:
			body_bytes(r, data, len, &i);
			if (r->length == 0)
				r->state = S_CHUNK_END;
			break;
		default:
			res = line_step(r, data, len, &i);
			break;
		}
	}
	*used = i;
	if (res != LC_HTTPREQ_MORE)
		return res;
	if (r->state == S_ERROR)
		return LC_HTTPREQ_ERROR;
	return r->state == S_DONE ? LC_HTTPREQ_DONE : LC_HTTPREQ_MORE;
}
