/*
 * Internal to the local cloud: the HTTP server (libmicrohttpd) on
 * 127.0.0.1. It reads each request whole within its limits and hands it to
 * lc_api_handle(); what it refuses itself (a body over LC_BODY_MAX, a
 * request line or headers past their limits, a second Authorization
 * header, conflicting Content-Length) gets the same AWS XML error shape.
 *
 * Connections are bounded so that idle or slow clients cannot starve the
 * others: at most LC_CONNECTIONS_MAX at once (LC_CONNECTIONS_PER_IP from
 * one address), each closed after LC_IDLE_TIMEOUT seconds without traffic.
 */
#ifndef KILN_LOCALCLOUD_HTTP_INT_H
#define KILN_LOCALCLOUD_HTTP_INT_H

struct lc_cloud;
struct lc_http;

#define LC_BODY_MAX           (16u << 20)
#define LC_URL_MAX            (64u << 10)
#define LC_HEADERS_MAX        (64u << 10)
#define LC_HTTP_THREADS       8
#define LC_CONNECTIONS_MAX    8192
#define LC_CONNECTIONS_PER_IP 4096
#define LC_IDLE_TIMEOUT       15

/* Listen on 127.0.0.1:port; KILN_ERROR when the port is taken. */
int lc_http_start(struct lc_http **out, struct lc_cloud *c, int port);
/* Stop listening and close every connection. */
void lc_http_stop(struct lc_http *h);

#endif
