/*
 * Internal to the local cloud: one API request from its bytes to its reply,
 * whatever carried it. http.c hands every request here; the in-process
 * tests call it directly, without a socket, namespaces or root.
 *
 * In order: the SigV4 signature is verified; the Query parameters are
 * parsed and sorted, and must be valid UTF-8 and within the limits; the
 * service (the signature's signing name) and its action pick a handler;
 * the action's prepare step runs without the lock, its handler with it;
 * the state is saved when the handler changed it; the reply is AWS XML
 * (the service's own shape for errors); one JSON line goes to the request
 * log. Nothing a client sends can make this fail to reply.
 */
#ifndef KILN_LOCALCLOUD_API_INT_H
#define KILN_LOCALCLOUD_API_INT_H

#include <stddef.h>

#include "core/buf.h"

struct lc_cloud;

/* A request as it came off the wire. */
struct lc_http_request {
	const char *method;
	const char *path;
	const char *query;          /* without '?', or NULL */
	const char *const *headers; /* "Name: value" lines, NULL-terminated */
	const char *body;
	size_t body_len;
	double started; /* kiln_time_mono() when it arrived */
};

struct lc_http_reply {
	int status;
	char request_id[40];
	struct kiln_buf body;
	const char *content_type; /* NULL: AWS XML; SSM answers JSON (ssm-int.h) */
};

/* Answer one request; `out` is initialised here and released by the caller. */
void lc_api_handle(struct lc_cloud *c, const struct lc_http_request *in, struct lc_http_reply *out);
/*
 * A reply for a request refused before it was read whole (413, 414, 431,
 * a malformed request): the same AWS XML error shape as every other error,
 * logged the same way.
 */
void lc_api_refuse(struct lc_cloud *c, int status, const char *code, const char *message,
                   double started, struct lc_http_reply *out);

/* At most this many parameters in one request (AWS documents no count; bodies hold 16 MiB). */
#define LC_PARAMS_MAX 10000

#endif
