/*
 * The local cloud's HTTP server (http-int.h), on libmicrohttpd's thread
 * pool with epoll.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "core/log.h"
#include "core/util.h"
#include "localcloud/api-int.h"
#include "localcloud/cloud-int.h"
#include "localcloud/http-int.h"

struct lc_http {
	struct MHD_Daemon *mhd;
	struct lc_cloud *c;
};

/* One request being received. */
struct conn {
	char *url;
	struct kiln_buf body;
	int started;
	int too_big;
	double t0;
};

/* The headers as "Name: value" lines, and what makes a request ambiguous. */
struct headers {
	char **lines;
	size_t n;
	size_t bytes;
	int authorizations;
	const char *content_length;
	int conflicting_length;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
	struct headers *h = cls;

	(void)kind;
	value = value ? value : "";
	h->bytes += strlen(key) + strlen(value) + 4;
	if (strcasecmp(key, "authorization") == 0)
		h->authorizations++;
	if (strcasecmp(key, "content-length") == 0) {
		if (h->content_length && strcmp(h->content_length, value) != 0)
			h->conflicting_length = 1;
		h->content_length = value;
	}
	if (h->n < 256) {
		h->lines = kiln_xrealloc(h->lines, (h->n + 2) * sizeof(*h->lines));
		h->lines[h->n++] = kiln_xasprintf("%s: %s", key, value);
		h->lines[h->n] = NULL;
	}
	return MHD_YES;
}

static void headers_release(struct headers *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->lines[i]);
	free(h->lines);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct lc_http_reply *reply)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = reply->body.size;
	char *data = kiln_buf_detach(&reply->body);

	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
	                        reply->content_type ? reply->content_type
	                                            : "text/xml;charset=UTF-8");
	MHD_add_response_header(resp, "x-amzn-RequestId", reply->request_id);
	ret = MHD_queue_response(conn, (unsigned)reply->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result refuse(struct lc_cloud *c, struct MHD_Connection *conn, int status,
                              const char *code, const char *message, double t0)
{
	struct lc_http_reply reply;
	enum MHD_Result ret;

	lc_api_refuse(c, status, code, message, t0, &reply);
	ret = send_reply(conn, &reply);
	kiln_buf_release(&reply.body);
	return ret;
}

/* Whatever makes the request one the cloud will not read on: a reply for it, else 0. */
static int refusal(const struct headers *h, const char *method, const struct conn *cn, int *status,
                   const char **code, const char **message)
{
	*status = 400;
	if (cn->too_big) {
		*status = 413;
		*code = "RequestEntityTooLarge";
		*message = "The request body exceeds 16 MiB";
	} else if (strlen(cn->url) > LC_URL_MAX) {
		*status = 414;
		*code = "RequestURITooLong";
		*message = "The request URI exceeds 64 KiB";
	} else if (h->bytes > LC_HEADERS_MAX) {
		*status = 431;
		*code = "RequestHeaderFieldsTooLarge";
		*message = "The request headers exceed 64 KiB";
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
		*status = 405;
		*code = "MethodNotAllowed";
		*message = "The Query API takes GET and POST requests only";
	} else if (h->authorizations > 1) {
		*code = "InvalidRequest";
		*message = "The request has more than one Authorization header";
	} else if (h->conflicting_length) {
		*code = "InvalidRequest";
		*message = "The request has conflicting Content-Length headers";
	} else {
		return 0;
	}
	return 1;
}

static enum MHD_Result answer(struct lc_cloud *c, struct MHD_Connection *conn, const char *method,
                              struct conn *cn)
{
	struct headers h;
	struct lc_http_request in;
	struct lc_http_reply reply;
	const char *code, *message;
	char *path = kiln_xstrdup(cn->url), *qm;
	enum MHD_Result ret;
	int status;

	memset(&h, 0, sizeof(h));
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &h);
	if (refusal(&h, method, cn, &status, &code, &message)) {
		ret = refuse(c, conn, status, code, message, cn->t0);
		goto done;
	}
	memset(&in, 0, sizeof(in));
	qm = strchr(path, '?');
	if (qm) {
		*qm = '\0';
		in.query = qm + 1;
	}
	in.method = method;
	in.path = path;
	in.headers = h.lines ? (const char *const *)h.lines : (const char *const[]){NULL};
	in.body = cn->body.ptr;
	in.body_len = cn->body.size;
	in.started = cn->t0;
	lc_api_handle(c, &in, &reply);
	ret = send_reply(conn, &reply);
	kiln_buf_release(&reply.body);
done:
	headers_release(&h);
	free(path);
	return ret;
}

/* The URL as sent (with its query string), before libmicrohttpd decodes it. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct conn *cn = kiln_xcalloc(1, sizeof(*cn));

	(void)cls;
	(void)conn;
	cn->url = kiln_xstrdup(uri);
	kiln_buf_init(&cn->body, LC_BODY_MAX);
	cn->t0 = kiln_time_mono();
	return cn;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
	struct conn *cn = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (cn == NULL)
		return;
	free(cn->url);
	kiln_buf_release(&cn->body);
	free(cn);
	*con_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct lc_http *h = cls;
	struct conn *cn = *con_cls;

	(void)version;
	if (cn == NULL) {
		cn = on_uri(NULL, url, conn);
		*con_cls = cn;
	}
	if (*upload_data_size) {
		/* the body may come with the first call already; past the cap it is dropped */
		if (cn->too_big || kiln_buf_put(&cn->body, upload_data, *upload_data_size) < 0) {
			cn->too_big = 1;
			kiln_buf_release(&cn->body);
			kiln_error_clear();
		}
		*upload_data_size = 0;
		cn->started = 1;
		return MHD_YES;
	}
	if (!cn->started) {
		cn->started = 1;
		return MHD_YES;
	}
	return answer(h->c, conn, method, cn);
}

/* Room for LC_CONNECTIONS_MAX sockets and the daemon's own files. */
static unsigned connection_limit(void)
{
	struct rlimit rl;
	rlim_t want = LC_CONNECTIONS_MAX + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
		return rl.rlim_cur > 512 ? (unsigned)(rl.rlim_cur - 256) : 256;
	return LC_CONNECTIONS_MAX;
}

int lc_http_start(struct lc_http **out, struct lc_cloud *c, int port)
{
	struct lc_http *h = kiln_xcalloc(1, sizeof(*h));
	struct sockaddr_in sa;
	unsigned limit = connection_limit();

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	h->c = c;
	h->mhd = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    on_request, h, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)LC_HTTP_THREADS, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)LC_IDLE_TIMEOUT, MHD_OPTION_CONNECTION_LIMIT, limit,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    limit / 2 < LC_CONNECTIONS_PER_IP ? limit / 2 : (unsigned)LC_CONNECTIONS_PER_IP,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(LC_URL_MAX + LC_HEADERS_MAX + (64 << 10)),
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
	if (h->mhd == NULL) {
		free(h);
		return kiln_error_set(KILN_ERROR,
		                      "cannot listen on 127.0.0.1:%d (is the port in use?)", port);
	}
	*out = h;
	return 0;
}

void lc_http_stop(struct lc_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->mhd);
	free(h);
}
