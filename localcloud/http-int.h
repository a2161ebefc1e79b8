/*
 * Internal to the local cloud: the HTTP server on 127.0.0.1.
 *
 * One thread does every socket's I/O over epoll and never blocks: it
 * accepts, reads, parses each request as it arrives (httpreq.c) and writes
 * replies. A request read whole goes to a pool of LC_HTTP_THREADS workers,
 * which answer it with lc_api_handle(); a slow handler holds a worker, not
 * the connections of anyone else. Every reply is the API's XML, also for
 * what the server refuses itself (a malformed request, a request line,
 * headers or a body past their caps, a method other than GET and POST, a
 * second Authorization header, a request that did not arrive in time, a
 * connection over the limits): libmicrohttpd answered some of these with
 * HTML of its own and could not be told otherwise.
 *
 * Connections are bounded so that idle or slow clients cannot starve the
 * others: at most LC_CONNECTIONS_MAX at once (LC_CONNECTIONS_PER_IP from
 * one address), each closed after LC_IDLE_TIMEOUT seconds without traffic,
 * and a request must arrive whole within LC_REQUEST_TIMEOUT seconds of its
 * first byte, however slowly it trickles.
 */
#ifndef KILN_LOCALCLOUD_HTTP_INT_H
#define KILN_LOCALCLOUD_HTTP_INT_H

#include "localcloud/httpreq-int.h"

struct lc_cloud;
struct lc_http;

#define LC_HTTP_THREADS       8
#define LC_CONNECTIONS_MAX    8192
#define LC_CONNECTIONS_PER_IP 4096
#define LC_IDLE_TIMEOUT       15
#define LC_REQUEST_TIMEOUT    30

/* Listen on 127.0.0.1:port (0: a free port); KILN_ERROR when the port is taken. */
int lc_http_start(struct lc_http **out, struct lc_cloud *c, int port);
/* The port listened on. */
int lc_http_port(const struct lc_http *h);
/* Stop listening, let the workers finish the requests they hold, close every connection. */
void lc_http_stop(struct lc_http *h);

#endif
