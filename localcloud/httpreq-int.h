/*
 * Internal to the local cloud: one HTTP/1.x request read off a connection,
 * fed in whatever pieces the socket delivers (RFC 9112).
 *
 * The parser is strict where a lenient one would let a hostile client
 * hold the daemon: every byte of the request line is checked as it
 * arrives, so that a client speaking something other than HTTP (a TLS
 * hello, binary noise) is refused at its first wrong byte, not after a
 * timeout; the request line, the header section and the body each have a
 * cap, refused the moment it is passed (a Content-Length past LC_BODY_MAX
 * before a byte of the body is read); framing that two parties could read
 * differently (Content-Length with Transfer-Encoding, two different
 * Content-Lengths, folded header lines) is refused rather than guessed.
 *
 * Whatever it refuses comes back as an HTTP status, an AWS error code and a
 * message, for the server to send in the API's XML error shape. The parser
 * does no I/O and holds no lock: the fuzz target and the unit tests drive
 * it directly.
 */
#ifndef KILN_LOCALCLOUD_HTTPREQ_INT_H
#define KILN_LOCALCLOUD_HTTPREQ_INT_H

#include <stddef.h>

#include "core/buf.h"

#define LC_BODY_MAX         (16u << 20) /* the body, however framed */
#define LC_URL_MAX          (64u << 10) /* the request line */
#define LC_HEADERS_MAX      (64u << 10) /* the header section (and the trailers) */
#define LC_HEADER_LINES_MAX 256

enum lc_httpreq_result {
	LC_HTTPREQ_MORE,  /* every byte given was taken; more are needed */
	LC_HTTPREQ_HEAD,  /* the head is complete (returned once); feed on for the body */
	LC_HTTPREQ_DONE,  /* the request is complete; bytes after it were not taken */
	LC_HTTPREQ_ERROR, /* refused: status, code and message say why */
};

struct lc_httpreq {
	int state;
	struct kiln_buf line; /* the line being read */
	size_t head_bytes;    /* of the request line, then of the header section */
	int leading_crlf;     /* empty lines before the request line */

	/* The head, once LC_HTTPREQ_HEAD was returned. */
	char *method;
	char *target;   /* as sent, with its query string */
	int minor;      /* HTTP/1.<minor> */
	char **headers; /* "Name: value" lines, NULL-terminated */
	size_t nheaders;
	int keep_alive;      /* the connection may carry another request */
	int expect_continue; /* the client waits for "100 Continue" */
	int chunked;
	unsigned long long length; /* Content-Length, or what a chunk has left */
	int content_length_seen;
	struct kiln_buf body;

	/* Why the request was refused. */
	int status;
	const char *code;
	const char *message;
};

void lc_httpreq_init(struct lc_httpreq *r);
/* Free everything; the parser may be initialised again. */
void lc_httpreq_release(struct lc_httpreq *r);
/*
 * Take bytes of the request from data[0..len); *used is how many were
 * taken (all of them unless the request completed or was refused). After
 * LC_HTTPREQ_DONE or LC_HTTPREQ_ERROR nothing more is taken.
 */
enum lc_httpreq_result lc_httpreq_feed(struct lc_httpreq *r, const char *data, size_t len,
                                       size_t *used);
/* The value of header `name` (case-insensitive), or NULL; the first when repeated. */
const char *lc_httpreq_header(const struct lc_httpreq *r, const char *name);
/* How many headers are called `name`. */
size_t lc_httpreq_header_count(const struct lc_httpreq *r, const char *name);

#endif
