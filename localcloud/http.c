/*
 * The local cloud's HTTP server (http-int.h): one I/O thread over epoll,
 * a pool of workers for the API.
 *
 * A connection belongs to the I/O thread, except while a worker answers
 * its request: it is then off the epoll set, on the job queue or in a
 * worker, and comes back through the done list and the eventfd. Nothing
 * else is shared between the threads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "localcloud/api-int.h"
#include "localcloud/cloud-int.h"
#include "localcloud/http-int.h"

/* What a connection is doing. */
enum conn_state {
	C_READING, /* receiving a request (or idle between requests) */
	C_QUEUED,  /* a worker has its request */
	C_WRITING, /* sending a reply */
	C_LINGER,  /* the last reply is out: reading what the client still sends, then closing */
};

struct conn {
	int fd;
	uint32_t ip;
	enum conn_state state;
	uint32_t events; /* registered with epoll; 0 when not */
	int close_after; /* the reply being written is the last */
	int dead;        /* closed; freed at the end of the I/O thread's round */
	double last;     /* last traffic either way */
	double started;  /* first byte of the current request; 0 before it */
	struct lc_httpreq req;
	struct kiln_buf pending; /* bytes read after the current request (pipelining) */
	struct kiln_buf out;     /* the reply being written */
	size_t out_off;
	struct conn *prev, *next; /* every connection, for the timeouts */
	struct conn *qnext;       /* on the job queue or the done list */
};

struct lc_http {
	struct lc_cloud *c;
	int port;
	int lfd, epfd, evfd;
	int spare_fd; /* given up to accept (and close) a connection when out of files */
	unsigned limit;
	pthread_t io;
	pthread_t workers[LC_HTTP_THREADS];
	int nworkers;
	int io_started;

	pthread_mutex_t mu; /* the queue, the done list and `stopping` */
	pthread_cond_t cond;
	struct conn *jobs, *jobs_tail;
	struct conn *done;
	int stopping;

	/* the I/O thread's own */
	struct conn *conns;
	struct conn *graveyard; /* closed this round (events may still name them) */
	size_t nconns;
	double last_sweep;
	char *rbuf;
};

/* epoll's data for the two descriptors that are not connections */
static char listen_tag, event_tag;

#define READ_CHUNK (64u << 10)
/* How long a closing connection may still send (its body) before it is cut. */
#define LINGER_SECONDS 2.0

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Status";
	}
}

/* The whole reply into conn->out: its head, and its body unless it answers a HEAD. */
static void format_reply(struct conn *cn, const struct lc_http_reply *reply, int http10)
{
	int head_only = cn->req.method && strcmp(cn->req.method, "HEAD") == 0;

	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	kiln_buf_clear(&cn->out);
	cn->out_off = 0;
	kiln_buf_printf(&cn->out,
	                "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n"
	                "Content-Length: %zu\r\nx-amzn-RequestId: %s\r\n",
	                reply->status, reason(reply->status), date,
	                reply->content_type ? reply->content_type : "text/xml;charset=UTF-8",
	                reply->body.size, reply->request_id);
	if (reply->status == 405)
		kiln_buf_puts(&cn->out, "Allow: GET, POST\r\n");
	if (cn->close_after)
		kiln_buf_puts(&cn->out, "Connection: close\r\n");
	else if (http10)
		kiln_buf_puts(&cn->out, "Connection: keep-alive\r\n");
	kiln_buf_puts(&cn->out, "\r\n");
	if (!head_only)
		kiln_buf_put(&cn->out, reply->body.ptr, reply->body.size);
}

/* ---- epoll and the connection list (I/O thread) ------------------------- */

static void watch(struct lc_http *h, struct conn *cn, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = cn};
	int op = cn->events == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;

	if (events == cn->events)
		return;
	if (epoll_ctl(h->epfd, op, cn->fd, &ev) < 0)
		kiln_log_warn("http: epoll_ctl: %s", strerror(errno));
	cn->events = events;
}

static void conn_free(struct conn *cn)
{
	lc_httpreq_release(&cn->req);
	kiln_buf_release(&cn->pending);
	kiln_buf_release(&cn->out);
	free(cn);
}

/* Closed now, freed after the round: the caller and this round's events may still hold it. */
static void conn_close(struct lc_http *h, struct conn *cn)
{
	if (cn->dead)
		return;
	cn->dead = 1;
	watch(h, cn, 0);
	close(cn->fd);
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		h->conns = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	h->nconns--;
	cn->qnext = h->graveyard;
	h->graveyard = cn;
}

static void bury(struct lc_http *h)
{
	while (h->graveyard) {
		struct conn *next = h->graveyard->qnext;
		conn_free(h->graveyard);
		h->graveyard = next;
	}
}

/* Write what is left of the reply; the connection goes back to reading when it is out. */
static void flush(struct lc_http *h, struct conn *cn);

static void start_reply(struct lc_http *h, struct conn *cn)
{
	cn->state = C_WRITING;
	flush(h, cn);
}

/* A reply the server makes itself, for a request it will not read on. */
static void refuse(struct lc_http *h, struct conn *cn, int status, const char *code,
                   const char *message)
{
	struct lc_http_reply reply;

	lc_api_refuse(h->c, status, code, message, cn->started ? cn->started : kiln_time_mono(),
	              &reply);
	cn->close_after = 1;
	format_reply(cn, &reply, 0);
	kiln_buf_release(&reply.body);
	watch(h, cn, 0);
	start_reply(h, cn);
}

static void enqueue(struct lc_http *h, struct conn *cn)
{
	cn->state = C_QUEUED;
	watch(h, cn, 0);
	pthread_mutex_lock(&h->mu);
	cn->qnext = NULL;
	if (h->jobs_tail)
		h->jobs_tail->qnext = cn;
	else
		h->jobs = cn;
	h->jobs_tail = cn;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->mu);
}

/* What the API takes no request with, once the head is known. */
static int head_refused(struct lc_http *h, struct conn *cn)
{
	const struct lc_httpreq *r = &cn->req;

	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "POST") != 0)
		refuse(h, cn, 405, "MethodNotAllowed",
		       "The Query API takes GET and POST requests only");
	else if (lc_httpreq_header_count(r, "authorization") > 1)
		refuse(h, cn, 400, "InvalidRequest",
		       "The request has more than one Authorization header");
	else
		return 0;
	return 1;
}

/* Bytes from the client: into the parser, and on to a worker when a request is whole. */
static void take(struct lc_http *h, struct conn *cn, const char *data, size_t len)
{
	while (len > 0 && cn->state == C_READING) {
		size_t used;
		enum lc_httpreq_result res;

		if (cn->started == 0)
			cn->started = kiln_time_mono();
		res = lc_httpreq_feed(&cn->req, data, len, &used);
		data += used;
		len -= used;
		if (res == LC_HTTPREQ_ERROR) {
			refuse(h, cn, cn->req.status, cn->req.code, cn->req.message);
			return;
		}
		if (res == LC_HTTPREQ_HEAD) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			if (head_refused(h, cn))
				return;
			/* 25 bytes on a socket that has sent nothing yet; a client that
			 * misses them sends its body after its own short wait */
			if (cn->req.expect_continue && write(cn->fd, cont, sizeof(cont) - 1) < 0)
				kiln_log_debug("http: 100 Continue: %s", strerror(errno));
			res = lc_httpreq_feed(&cn->req, data, 0, &used);
		}
		if (res == LC_HTTPREQ_DONE) {
			kiln_buf_put(&cn->pending, data, len);
			enqueue(h, cn);
			return;
		}
	}
}

static void on_readable(struct lc_http *h, struct conn *cn)
{
	/* a few reads per wakeup, so that one fast client cannot hold the thread */
	for (int i = 0; i < 16 && !cn->dead && (cn->state == C_READING || cn->state == C_LINGER);
	     i++) {
		ssize_t n = read(cn->fd, h->rbuf, READ_CHUNK);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			conn_close(h, cn);
			break;
		}
		if (cn->state == C_LINGER)
			continue;
		cn->last = kiln_time_mono();
		take(h, cn, h->rbuf, (size_t)n);
	}
}

/* The reply is out: the next request, maybe already read. */
static void next_request(struct lc_http *h, struct conn *cn)
{
	struct kiln_buf rest = cn->pending;

	lc_httpreq_release(&cn->req);
	lc_httpreq_init(&cn->req);
	kiln_buf_init(&cn->pending, READ_CHUNK);
	cn->state = C_READING;
	cn->started = 0;
	watch(h, cn, EPOLLIN);
	take(h, cn, rest.ptr, rest.size);
	kiln_buf_release(&rest);
}

static void flush(struct lc_http *h, struct conn *cn)
{
	while (cn->out_off < cn->out.size) {
		ssize_t n = send(cn->fd, cn->out.ptr + cn->out_off, cn->out.size - cn->out_off,
		                 MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if ((n < 0 && errno == EAGAIN) || n == 0) {
			watch(h, cn, EPOLLOUT);
			return;
		}
		if (n < 0) {
			conn_close(h, cn);
			return;
		}
		cn->out_off += (size_t)n;
		cn->last = kiln_time_mono();
	}
	kiln_buf_release(&cn->out);
	cn->out_off = 0;
	if (cn->close_after) {
		/*
		 * Closing with unread bytes (a refused body still arriving) would
		 * reset the connection and could destroy the reply before the client
		 * reads it: end the sending side, and read on for a moment.
		 */
		shutdown(cn->fd, SHUT_WR);
		cn->state = C_LINGER;
		cn->started = kiln_time_mono();
		watch(h, cn, EPOLLIN);
		return;
	}
	next_request(h, cn);
}

/* ---- accepting ---------------------------------------------------------- */

static size_t from_ip(const struct lc_http *h, uint32_t ip)
{
	size_t n = 0;

	for (const struct conn *cn = h->conns; cn; cn = cn->next)
		n += cn->ip == ip;
	return n;
}

/* Over a limit: a short 503 in the API's shape, and the connection closed. */
static void turn_away(struct lc_http *h, int fd)
{
	struct lc_http_reply reply;
	struct conn cn;

	memset(&cn, 0, sizeof(cn));
	cn.close_after = 1;
	kiln_buf_init(&cn.out, KILN_BUF_DEFAULT_CAP);
	lc_api_refuse(h->c, 503, "ServiceUnavailable",
	              "Too many connections; close idle ones and retry", kiln_time_mono(), &reply);
	format_reply(&cn, &reply, 0);
	if (send(fd, cn.out.ptr, cn.out.size, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		kiln_log_debug("http: 503: %s", strerror(errno));
	kiln_buf_release(&reply.body);
	kiln_buf_release(&cn.out);
	close(fd);
}

static void on_accept(struct lc_http *h)
{
	for (int i = 0; i < 256; i++) {
		struct sockaddr_in sa;
		socklen_t salen = sizeof(sa);
		int fd =
		    accept4(h->lfd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *cn;

		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && h->spare_fd >= 0) {
			/* out of descriptors: give one back for long enough to say so */
			close(h->spare_fd);
			fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				turn_away(h, fd);
			h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			continue;
		}
		if (fd < 0)
			return;
		if (h->nconns >= h->limit ||
		    from_ip(h, sa.sin_addr.s_addr) >= (h->limit / 2 < LC_CONNECTIONS_PER_IP
		                                           ? h->limit / 2
		                                           : LC_CONNECTIONS_PER_IP)) {
			turn_away(h, fd);
			continue;
		}
		cn = kiln_xcalloc(1, sizeof(*cn));
		cn->fd = fd;
		cn->ip = sa.sin_addr.s_addr;
		cn->last = kiln_time_mono();
		lc_httpreq_init(&cn->req);
		kiln_buf_init(&cn->pending, READ_CHUNK);
		kiln_buf_init(&cn->out, KILN_BUF_DEFAULT_CAP);
		cn->next = h->conns;
		if (h->conns)
			h->conns->prev = cn;
		h->conns = cn;
		h->nconns++;
		watch(h, cn, EPOLLIN);
	}
}

/* ---- timeouts ----------------------------------------------------------- */

/* Once a second: idle connections closed, requests that take too long refused. */
static void sweep(struct lc_http *h)
{
	double now = kiln_time_mono();
	struct conn *cn, *next;

	if (now - h->last_sweep < 1.0)
		return;
	h->last_sweep = now;
	for (cn = h->conns; cn; cn = next) {
		next = cn->next;
		if (cn->state == C_QUEUED)
			continue;
		if (cn->state == C_LINGER && now - cn->started > LINGER_SECONDS)
			conn_close(h, cn);
		else if (cn->state == C_READING && cn->started > 0 &&
		         (now - cn->last > LC_IDLE_TIMEOUT ||
		          now - cn->started > LC_REQUEST_TIMEOUT))
			refuse(h, cn, 408, "RequestTimeoutException",
			       "The request did not arrive whole in time");
		else if (now - cn->last > LC_IDLE_TIMEOUT)
			conn_close(h, cn);
	}
}

/* Replies the workers finished: out to their clients. */
static void collect_done(struct lc_http *h)
{
	uint64_t n;
	struct conn *done, *next;

	if (read(h->evfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		kiln_log_warn("http: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&h->mu);
	done = h->done;
	h->done = NULL;
	pthread_mutex_unlock(&h->mu);
	for (; done; done = next) {
		next = done->qnext;
		start_reply(h, done);
	}
}

static void *io_main(void *arg)
{
	struct lc_http *h = arg;
	struct epoll_event evs[64];

	for (;;) {
		int n = epoll_wait(h->epfd, evs, KILN_ARRAY_SIZE(evs), 1000);
		int stopping;

		pthread_mutex_lock(&h->mu);
		stopping = h->stopping;
		pthread_mutex_unlock(&h->mu);
		if (stopping)
			break;
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;
			struct conn *cn = tag;
			if (tag == &listen_tag)
				on_accept(h);
			else if (tag == &event_tag)
				collect_done(h);
			else if (cn->dead)
				continue;
			else if (cn->state == C_WRITING)
				flush(h, cn);
			else if (cn->state == C_READING || cn->state == C_LINGER)
				on_readable(h, cn);
		}
		sweep(h);
		bury(h);
	}
	return NULL;
}

/* ---- workers ------------------------------------------------------------ */

static void answer(struct lc_http *h, struct conn *cn)
{
	static const char *const no_headers[] = {NULL};
	struct lc_httpreq *r = &cn->req;
	char *path = kiln_xstrdup(r->target), *qm = strchr(path, '?');
	struct lc_http_request in;
	struct lc_http_reply reply;

	memset(&in, 0, sizeof(in));
	if (qm) {
		*qm = '\0';
		in.query = qm + 1;
	}
	in.method = r->method;
	in.path = path;
	in.headers = r->headers ? (const char *const *)r->headers : no_headers;
	in.body = r->body.ptr;
	in.body_len = r->body.size;
	in.started = cn->started;
	lc_api_handle(h->c, &in, &reply);
	cn->close_after = !r->keep_alive;
	format_reply(cn, &reply, r->minor == 0);
	kiln_buf_release(&reply.body);
	free(path);
}

static void *worker_main(void *arg)
{
	struct lc_http *h = arg;
	uint64_t one = 1;

	for (;;) {
		struct conn *cn;

		pthread_mutex_lock(&h->mu);
		while (h->jobs == NULL && !h->stopping)
			pthread_cond_wait(&h->cond, &h->mu);
		if (h->stopping) {
			pthread_mutex_unlock(&h->mu);
			return NULL;
		}
		cn = h->jobs;
		h->jobs = cn->qnext;
		if (h->jobs == NULL)
			h->jobs_tail = NULL;
		pthread_mutex_unlock(&h->mu);

		answer(h, cn);

		pthread_mutex_lock(&h->mu);
		cn->qnext = h->done;
		h->done = cn;
		pthread_mutex_unlock(&h->mu);
		if (write(h->evfd, &one, sizeof(one)) < 0)
			kiln_log_warn("http: eventfd: %s", strerror(errno));
	}
}

/* ---- start and stop ----------------------------------------------------- */

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

static int listen_on(struct lc_http *h, int port)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	int one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->lfd < 0 || setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(h->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(h->lfd, SOMAXCONN) < 0 ||
	    getsockname(h->lfd, (struct sockaddr *)&sa, &salen) < 0)
		return kiln_error_set(KILN_ERROR,
		                      "cannot listen on 127.0.0.1:%d (is the port in use?): %s",
		                      port, strerror(errno));
	h->port = ntohs(sa.sin_port);
	return 0;
}

static int add_tag(struct lc_http *h, int fd, void *tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};

	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return kiln_error_set(KILN_ERROR, "epoll: %s", strerror(errno));
	return 0;
}

int lc_http_start(struct lc_http **out, struct lc_cloud *c, int port)
{
	struct lc_http *h = kiln_xcalloc(1, sizeof(*h));
	int rc;

	h->c = c;
	h->lfd = h->epfd = h->evfd = h->spare_fd = -1;
	h->limit = connection_limit();
	h->last_sweep = kiln_time_mono();
	h->rbuf = kiln_xmalloc(READ_CHUNK);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cond, NULL);
	rc = listen_on(h, port);
	if (rc == 0) {
		h->epfd = epoll_create1(EPOLL_CLOEXEC);
		h->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (h->epfd < 0 || h->evfd < 0)
			rc = kiln_error_set(KILN_ERROR, "epoll: %s", strerror(errno));
	}
	if (rc == 0)
		rc = add_tag(h, h->lfd, &listen_tag);
	if (rc == 0)
		rc = add_tag(h, h->evfd, &event_tag);
	for (int i = 0; rc == 0 && i < LC_HTTP_THREADS; i++) {
		if (pthread_create(&h->workers[i], NULL, worker_main, h) != 0)
			rc = kiln_error_set(KILN_ERROR, "cannot start the HTTP workers");
		else
			h->nworkers++;
	}
	if (rc == 0 && pthread_create(&h->io, NULL, io_main, h) != 0)
		rc = kiln_error_set(KILN_ERROR, "cannot start the HTTP server thread");
	else if (rc == 0)
		h->io_started = 1;
	if (rc < 0) {
		lc_http_stop(h);
		return rc;
	}
	*out = h;
	return 0;
}

int lc_http_port(const struct lc_http *h)
{
	return h->port;
}

void lc_http_stop(struct lc_http *h)
{
	uint64_t one = 1;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->stopping = 1;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->mu);
	if (h->evfd >= 0 && write(h->evfd, &one, sizeof(one)) < 0)
		kiln_log_warn("http: eventfd: %s", strerror(errno));
	if (h->io_started)
		pthread_join(h->io, NULL);
	for (int i = 0; i < h->nworkers; i++)
		pthread_join(h->workers[i], NULL);
	/* every connection stays on the list while queued or done: the threads are gone */
	while (h->conns)
		conn_close(h, h->conns);
	bury(h);
	if (h->lfd >= 0)
		close(h->lfd);
	if (h->epfd >= 0)
		close(h->epfd);
	if (h->evfd >= 0)
		close(h->evfd);
	if (h->spare_fd >= 0)
		close(h->spare_fd);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cond);
	free(h->rbuf);
	free(h);
}
