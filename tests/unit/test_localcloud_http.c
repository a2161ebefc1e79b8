/*
 * The local cloud's HTTP layer: the request parser from tables of requests
 * (each also fed one byte at a time, so that where the socket splits a
 * request never changes what it means), and the server on a loopback port
 * over an in-process cloud with stand-in machines: garbage and requests past
 * the limits get the API's XML at once, idle connections starve nobody,
 * pipelined, chunked and Expect: 100-continue requests are answered.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aws/sigv4.h"
#include "aws/xml.h"
#include "core/util.h"
#include "localcloud/http-int.h"
#include "localcloud/httpreq-int.h"
#include "tests/fixtures/lc_cloud_fixture.h"

/* ---- the parser ---------------------------------------------------------- */

/* Feed data[0..len) in pieces of `step` bytes; the result, and bytes taken in *taken. */
static enum lc_httpreq_result feed_all(struct lc_httpreq *r, const char *data, size_t len,
                                       size_t step, size_t *taken)
{
	enum lc_httpreq_result res = LC_HTTPREQ_MORE;
	size_t off = 0, used;

	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		res = lc_httpreq_feed(r, data + off, n, &used);
		off += used;
		if (res == LC_HTTPREQ_DONE || res == LC_HTTPREQ_ERROR)
			break;
		res = LC_HTTPREQ_MORE;
	}
	if (res == LC_HTTPREQ_MORE)
		res = lc_httpreq_feed(r, data + off, 0, &used);
	*taken = off;
	return res;
}

struct parse_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in) */
	int status; /* 0: a complete request; -1: more bytes needed */
	const char *body;
};

static const struct parse_case parse_cases[] = {
    {"simple GET", "GET /?Action=X HTTP/1.1\r\nHost: h\r\n\r\n", 0, 0, ""},
    {"POST with a length", "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 0, 0, "abc"},
    {"bare LF lines", "POST / HTTP/1.1\nContent-Length: 3\n\nabc", 0, 0, "abc"},
    {"leading empty line", "\r\nGET / HTTP/1.1\r\n\r\n", 0, 0, ""},
    {"chunked with extension and trailer",
     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n"
     "T: v\r\n\r\n",
     0, 0, "abcde"},
    {"identical lengths", "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", 0,
     0, "ab"},
    {"length with spaces around", "POST / HTTP/1.1\r\nContent-Length:  2 \r\n\r\nab", 0, 0, "ab"},
    {"incomplete head", "GET / HTTP/1.1\r\nHost: h\r\n", 0, -1, NULL},
    {"incomplete body", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", 0, -1, NULL},
    {"TLS hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0, 400, NULL},
    {"NUL first", "\0GET / HTTP/1.1\r\n\r\n", 19, 400, NULL},
    {"lower-case garbage", "hello world\r\n", 0, 400, NULL},
    {"no version", "GET /\r\n\r\n", 0, 400, NULL},
    {"HTTP/2", "GET / HTTP/2.0\r\n\r\n", 0, 505, NULL},
    {"HTTP/0.9 by version", "GET / HTTP/0.9\r\n\r\n", 0, 505, NULL},
    {"space after version", "GET / HTTP/1.1 \r\n\r\n", 0, 400, NULL},
    {"space in target", "GET /a b HTTP/1.1\r\n\r\n", 0, 400, NULL},
    {"raw UTF-8 in target", "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 0, 400, NULL},
    {"NUL in target", "GET /a\0b HTTP/1.1\r\n\r\n", 21, 400, NULL},
    {"CR without LF first", "\rGET / HTTP/1.1\r\n\r\n", 0, 400, NULL},
    {"method too long", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG / HTTP/1.1\r\n\r\n", 0, 400, NULL},
    {"header without colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 0, 400, NULL},
    {"folded header", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 0, 400, NULL},
    {"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 0, 400, NULL},
    {"control in a value", "GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", 0, 400, NULL},
    {"NUL in a value", "GET / HTTP/1.1\r\nX: a\0z\r\n\r\n", 26, 400, NULL},
    {"bare CR in a header", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 0, 400, NULL},
    {"length not a number", "POST / HTTP/1.1\r\nContent-Length: 1a\r\n\r\n", 0, 400, NULL},
    {"length with a sign", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\nx", 0, 400, NULL},
    {"negative length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0, 400, NULL},
    {"length list", "POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\nx", 0, 400, NULL},
    {"conflicting lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0,
     400, NULL},
    {"length past the cap", "POST / HTTP/1.1\r\nContent-Length: 16777217\r\n\r\n", 0, 413, NULL},
    {"huge length", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0, 400,
     NULL},
    {"encoding and length",
     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 0, 400, NULL},
    {"unknown encoding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 501, NULL},
    {"two encodings",
     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 501,
     NULL},
    {"chunked in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 400, NULL},
    {"chunk size garbage", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 400,
     NULL},
    {"chunk past the cap", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFF\r\n", 0,
     413, NULL},
    {"chunk size overflow",
     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n", 0, 400, NULL},
    {"chunk longer than its size",
     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", 0, 400, NULL},
    {"trailer without colon",
     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad\r\n\r\n", 0, 400, NULL},
};

START_TEST(parser_table)
{
	const struct parse_case *c = &parse_cases[_i];
	size_t len = c->len ? c->len : strlen(c->in);
	size_t steps[] = {len ? len : 1, 1, 7};

	for (size_t s = 0; s < KILN_ARRAY_SIZE(steps); s++) {
		struct lc_httpreq r;
		size_t taken;
		enum lc_httpreq_result res;

		lc_httpreq_init(&r);
		res = feed_all(&r, c->in, len, steps[s], &taken);
		if (c->status == 0) {
			ck_assert_msg(res == LC_HTTPREQ_DONE, "%s (step %zu): %d %s", c->name,
			              steps[s], res, r.message ? r.message : "");
			ck_assert_uint_eq(taken, len);
			ck_assert_uint_eq(r.body.size, strlen(c->body));
			ck_assert(memcmp(r.body.ptr, c->body, r.body.size) == 0);
		} else if (c->status < 0) {
			ck_assert_msg(res == LC_HTTPREQ_MORE, "%s (step %zu): %d", c->name,
			              steps[s], res);
		} else {
			ck_assert_msg(res == LC_HTTPREQ_ERROR && r.status == c->status,
			              "%s (step %zu): result %d status %d", c->name, steps[s], res,
			              r.status);
			ck_assert_ptr_nonnull(r.code);
			ck_assert_ptr_nonnull(r.message);
		}
		lc_httpreq_release(&r);
	}
}
END_TEST

/* The limits: request line, header bytes, header lines, empty lines before a request. */
START_TEST(parser_limits)
{
	struct kiln_buf b = KILN_BUF_INIT;
	struct lc_httpreq r;
	size_t taken;

	kiln_buf_puts(&b, "GET /");
	for (size_t i = 0; i < LC_URL_MAX; i++)
		kiln_buf_putc(&b, 'a');
	lc_httpreq_init(&r);
	ck_assert_int_eq(feed_all(&r, b.ptr, b.size, 4096, &taken), LC_HTTPREQ_ERROR);
	ck_assert_int_eq(r.status, 414);
	lc_httpreq_release(&r);

	kiln_buf_clear(&b);
	kiln_buf_puts(&b, "GET / HTTP/1.1\r\nX: ");
	for (size_t i = 0; i < LC_HEADERS_MAX; i++)
		kiln_buf_putc(&b, 'a');
	lc_httpreq_init(&r);
	ck_assert_int_eq(feed_all(&r, b.ptr, b.size, 1000, &taken), LC_HTTPREQ_ERROR);
	ck_assert_int_eq(r.status, 431);
	lc_httpreq_release(&r);

	kiln_buf_clear(&b);
	kiln_buf_puts(&b, "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= LC_HEADER_LINES_MAX; i++)
		kiln_buf_printf(&b, "X-%d: v\r\n", i);
	lc_httpreq_init(&r);
	ck_assert_int_eq(feed_all(&r, b.ptr, b.size, b.size, &taken), LC_HTTPREQ_ERROR);
	ck_assert_int_eq(r.status, 431);
	lc_httpreq_release(&r);

	lc_httpreq_init(&r);
	ck_assert_int_eq(feed_all(&r, "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n", 18, 18, &taken),
	                 LC_HTTPREQ_ERROR);
	lc_httpreq_release(&r);
	kiln_buf_release(&b);
}
END_TEST

/* What the head says about the connection: keep-alive, Expect, headers as lines. */
START_TEST(parser_head)
{
	static const char two[] = "POST /p?q=1 HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
	                          "content-length: 2\r\nX-Amz-Date:\t20260101T000000Z \r\n\r\nab"
	                          "GET / HTTP/1.0\r\n\r\n";
	struct lc_httpreq r;
	size_t taken;

	lc_httpreq_init(&r);
	ck_assert_int_eq(feed_all(&r, two, strlen(two), strlen(two), &taken), LC_HTTPREQ_DONE);
	ck_assert_str_eq(r.method, "POST");
	ck_assert_str_eq(r.target, "/p?q=1");
	ck_assert(r.keep_alive);
	ck_assert(r.expect_continue);
	ck_assert_str_eq(lc_httpreq_header(&r, "x-amz-date"), "20260101T000000Z");
	ck_assert_str_eq(r.headers[3], "X-Amz-Date: 20260101T000000Z");
	ck_assert_uint_eq(lc_httpreq_header_count(&r, "HOST"), 1);
	/* the next request stays for the next parser */
	ck_assert_uint_eq(taken, strlen(two) - strlen("GET / HTTP/1.0\r\n\r\n"));
	lc_httpreq_release(&r);
	lc_httpreq_init(&r);
	ck_assert_int_eq(feed_all(&r, two + taken, strlen(two + taken), 1, &taken),
	                 LC_HTTPREQ_DONE);
	ck_assert(!r.keep_alive);
	lc_httpreq_release(&r);
	lc_httpreq_init(&r);
	ck_assert_int_eq(
	    feed_all(&r, "GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n", 49, 49, &taken),
	    LC_HTTPREQ_DONE);
	ck_assert(!r.keep_alive);
	lc_httpreq_release(&r);
}
END_TEST

/* ---- the server ---------------------------------------------------------- */

static struct lc_cloud cloud;
static char state_dir[64];
static struct lc_http *server;

static void setup(void)
{
	ck_assert_msg(lc_fixture_open(&cloud, state_dir, sizeof(state_dir)) == 0, "%s",
	              kiln_error_last());
	ck_assert_msg(lc_http_start(&server, &cloud, 0) == 0, "%s", kiln_error_last());
}

static void teardown(void)
{
	lc_http_stop(server);
	lc_fixture_close(&cloud, state_dir);
}

static int dial(void)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)lc_http_port(server));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		ck_assert_int_gt(n, 0);
		data += n;
		len -= (size_t)n;
	}
}

struct http_reply {
	int status;
	char head[2048];
	char *body;
	double seconds;
};

/*
 * One reply off `fd`, within `timeout` seconds; status 0 when none came.
 * Bytes past it (the next reply, pipelined) stay in `rest` when given.
 */
static struct http_reply read_reply_rest(int fd, double timeout, struct kiln_buf *rest)
{
	struct kiln_buf in = KILN_BUF_INIT;
	struct http_reply r;
	double t0 = kiln_time_mono();
	size_t hlen = 0, want = 0; /* the head's length (0: not seen yet), the reply's */

	memset(&r, 0, sizeof(r));
	if (rest) {
		kiln_buf_put(&in, rest->ptr, rest->size);
		kiln_buf_clear(rest);
	}
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		char buf[65536];
		const char *end;
		ssize_t n;
		if (hlen == 0 && (end = strstr(in.ptr, "\r\n\r\n")) != NULL) {
			const char *cl;
			hlen = (size_t)(end - in.ptr);
			snprintf(r.head, sizeof(r.head), "%.*s", (int)hlen, in.ptr);
			cl = strcasestr(r.head, "\r\nContent-Length: ");
			want = hlen + 4 + (cl ? strtoul(cl + 18, NULL, 10) : 0);
		}
		if (hlen && in.size >= want)
			break;
		if (poll(&p, 1, (int)((timeout - (kiln_time_mono() - t0)) * 1000)) <= 0)
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		kiln_buf_put(&in, buf, (size_t)n);
	}
	r.seconds = kiln_time_mono() - t0;
	if (hlen) {
		sscanf(r.head, "HTTP/1.1 %d", &r.status);
		r.body = kiln_xstrndup(in.ptr + hlen + 4, want - hlen - 4);
		if (rest && in.size > want)
			kiln_buf_put(rest, in.ptr + want, in.size - want);
	}
	kiln_buf_release(&in);
	return r;
}

static struct http_reply read_reply(int fd, double timeout)
{
	return read_reply_rest(fd, timeout, NULL);
}

/* The reply's body is the API's XML, with an error code when the status says so. */
static const char *xml_code(const struct http_reply *r, char out[96])
{
	struct kiln_xml *x;
	const char *code;

	ck_assert_msg(r->body && kiln_xml_parse(&x, r->body, strlen(r->body)) == 0, "not XML: %s",
	              r->body ? r->body : "(none)");
	code = kiln_xml_text(x, kiln_xml_root(x), "Error/Code");
	if (code == NULL)
		code = kiln_xml_text(x, kiln_xml_root(x), "Errors/Error/Code");
	snprintf(out, 96, "%s", code ? code : "");
	kiln_xml_free(x);
	return out;
}

/* A signed POST of `body`, as bytes for the wire; `framing` replaces Content-Length. */
static char *signed_request(const char *body, const char *framing)
{
	const char *headers[] = {LC_FIXTURE_HOST, LC_FIXTURE_CTYPE, NULL};
	struct kiln_sigv4_signed s;
	char *out, *len = kiln_xasprintf("Content-Length: %zu", strlen(body));

	ck_assert_int_eq(lc_fixture_sign(&s, "ec2", headers, body), 0);
	out = kiln_xasprintf("POST / HTTP/1.1\r\n%s\r\n%s\r\n%s\r\n%s\r\n%s\r\n\r\n%s", headers[0],
	                     headers[1], s.amz_date, s.authorization, framing ? framing : len,
	                     framing ? "" : body);
	kiln_sigv4_signed_release(&s);
	free(len);
	return out;
}

static void reply_release(struct http_reply *r)
{
	free(r->body);
	r->body = NULL;
}

/* Whatever is not HTTP is refused at its first wrong byte, in XML, not after a timeout. */
START_TEST(garbage_is_refused_at_once)
{
	static const char *const garbage[] = {"\x16\x03\x01\x02\x00\x01", "SSH-2.0-OpenSSH_9.2\r\n",
	                                      "\xff\xfe\xfd", "GET /\xff"};
	char code[96];

	for (size_t i = 0; i < KILN_ARRAY_SIZE(garbage); i++) {
		int fd = dial();
		struct http_reply r;
		send_all(fd, garbage[i], strlen(garbage[i]));
		r = read_reply(fd, 5.0);
		ck_assert_msg(r.status == 400, "garbage %zu: status %d", i, r.status);
		ck_assert_msg(r.seconds < 1.0, "garbage %zu took %.1f s", i, r.seconds);
		ck_assert_str_eq(xml_code(&r, code), "MalformedHttpRequestException");
		ck_assert_ptr_nonnull(strstr(r.head, "Connection: close"));
		reply_release(&r);
		close(fd);
	}
}
END_TEST

/* Every refusal of the server itself is the API's XML, with its status. */
START_TEST(refusals_are_xml)
{
	static const struct {
		const char *req;
		int status;
		const char *code;
	} cases[] = {
	    {"PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", 405, "MethodNotAllowed"},
	    {"DELETE / HTTP/1.1\r\nHost: h\r\n\r\n", 405, "MethodNotAllowed"},
	    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 20000000\r\n\r\n", 413,
	     "RequestEntityTooLarge"},
	    {"POST / HTTP/1.1\r\nHost: h\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n", 400,
	     "InvalidRequest"},
	    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400,
	     "MalformedHttpRequestException"},
	    {"GET / HTTP/3.0\r\n\r\n", 505, "HttpVersionNotSupported"},
	    {"POST / HTTP/1.1\r\nTransfer-Encoding: br\r\n\r\n", 501, "NotImplemented"},
	};
	char code[96];

	for (size_t i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
		int fd = dial();
		struct http_reply r;
		send_all(fd, cases[i].req, strlen(cases[i].req));
		r = read_reply(fd, 5.0);
		ck_assert_msg(r.status == cases[i].status, "%s: status %d", cases[i].req, r.status);
		ck_assert_msg(r.seconds < 1.0, "%s took %.1f s", cases[i].req, r.seconds);
		ck_assert_str_eq(xml_code(&r, code), cases[i].code);
		reply_release(&r);
		close(fd);
	}
}
END_TEST

/* 2,000 connections that send nothing: a signed request is still answered within a second. */
START_TEST(idle_connections_starve_nobody)
{
	enum { IDLE = 2000 };
	int *fds = kiln_xcalloc(IDLE, sizeof(*fds)), fd;
	char *req = signed_request("Action=DescribeRegions&Version=2016-11-15", NULL);
	struct http_reply r;

	for (int i = 0; i < IDLE; i++)
		fds[i] = dial();
	fd = dial();
	send_all(fd, req, strlen(req));
	r = read_reply(fd, 5.0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(r.seconds < 1.0, "answered after %.2f s", r.seconds);
	reply_release(&r);
	close(fd);
	for (int i = 0; i < IDLE; i++)
		close(fds[i]);
	free(fds);
	free(req);
}
END_TEST

/* Two requests in one write (the second chunked), answered in order on one connection. */
START_TEST(pipelined_and_chunked)
{
	char *a = signed_request("Action=DescribeRegions&Version=2016-11-15", NULL);
	const char *body = "Action=DescribeAvailabilityZones&Version=2016-11-15";
	char *b = signed_request(body, "Transfer-Encoding: chunked");
	char *both = kiln_xasprintf("%s%s%zx\r\n%s\r\n0\r\n\r\n", a, b, strlen(body), body);
	struct kiln_buf rest = KILN_BUF_INIT;
	int fd = dial();
	struct http_reply r;

	send_all(fd, both, strlen(both));
	r = read_reply_rest(fd, 5.0, &rest);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "DescribeRegionsResponse"));
	reply_release(&r);
	r = read_reply_rest(fd, 5.0, &rest);
	ck_assert_msg(r.status == 200, "%s", r.body ? r.body : "no reply");
	ck_assert_ptr_nonnull(strstr(r.body, "DescribeAvailabilityZonesResponse"));
	reply_release(&r);
	kiln_buf_release(&rest);
	close(fd);
	free(both);
	free(a);
	free(b);
}
END_TEST

/* Expect: 100-continue gets its interim reply, then the answer. */
START_TEST(expect_continue)
{
	const char *body = "Action=DescribeRegions&Version=2016-11-15";
	char *req = signed_request(body, NULL), *split = strstr(req, "\r\n\r\n");
	char *head =
	    kiln_xasprintf("%.*s\r\nExpect: 100-continue\r\n\r\n", (int)(split - req), req);
	char interim[64] = "";
	int fd = dial();
	struct http_reply r;

	send_all(fd, head, strlen(head));
	ck_assert_int_gt(recv(fd, interim, sizeof(interim) - 1, 0), 0);
	ck_assert_str_eq(interim, "HTTP/1.1 100 Continue\r\n\r\n");
	send_all(fd, body, strlen(body));
	r = read_reply(fd, 5.0);
	ck_assert_int_eq(r.status, 200);
	reply_release(&r);
	close(fd);
	free(head);
	free(req);
}
END_TEST

/* Past the connections one address may hold, a client gets a 503 in XML, not a hang. */
START_TEST(connections_over_the_limit_are_turned_away)
{
	/* 600 descriptors: the server keeps 344 connections, 172 from one address */
	struct rlimit rl = {600, 600};
	enum { PER_IP = (600 - 256) / 2 };
	int fds[PER_IP], fd;
	char code[96];
	struct http_reply r;

	lc_http_stop(server);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_msg(lc_http_start(&server, &cloud, 0) == 0, "%s", kiln_error_last());
	for (int i = 0; i < PER_IP; i++)
		fds[i] = dial();
	fd = dial();
	r = read_reply(fd, 5.0);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(xml_code(&r, code), "ServiceUnavailable");
	reply_release(&r);
	close(fd);
	/* one closed, one more fits (once the server has seen the close) */
	close(fds[0]);
	{
		char *req = signed_request("Action=DescribeRegions&Version=2016-11-15", NULL);
		for (int tries = 0; tries < 50; tries++) {
			fds[0] = dial();
			/* a connection turned away may be closed before this is sent: then retry */
			memset(&r, 0, sizeof(r));
			if (send(fds[0], req, strlen(req), MSG_NOSIGNAL) > 0)
				r = read_reply(fds[0], 5.0);
			reply_release(&r);
			if (r.status == 200)
				break;
			close(fds[0]);
			usleep(100 * 1000);
		}
		ck_assert_int_eq(r.status, 200);
		free(req);
	}
	for (int i = 0; i < PER_IP; i++)
		close(fds[i]);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("localcloud_http");
	TCase *parser = tcase_create("parser");
	TCase *srv = tcase_create("server");

	tcase_add_loop_test(parser, parser_table, 0, (int)KILN_ARRAY_SIZE(parse_cases));
	tcase_add_test(parser, parser_limits);
	tcase_add_test(parser, parser_head);
	suite_add_tcase(s, parser);
	tcase_set_timeout(srv, 60);
	tcase_add_checked_fixture(srv, setup, teardown);
	tcase_add_test(srv, garbage_is_refused_at_once);
	tcase_add_test(srv, refusals_are_xml);
	tcase_add_test(srv, idle_connections_starve_nobody);
	tcase_add_test(srv, pipelined_and_chunked);
	tcase_add_test(srv, expect_continue);
	tcase_add_test(srv, connections_over_the_limit_are_turned_away);
	suite_add_tcase(s, srv);
	return s;
}

#include "check_main.h"
