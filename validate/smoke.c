#include "validate/smoke.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/util.h"
#include "validate/report.h"

#include <curl/curl.h>
#include <pthread.h>
#include <strings.h>
#include <string.h>

#define BODY_KEEP     (1 << 20) /* bytes of a body kept for `contains` and messages */
#define HEADERS_KEEP  (64 << 10)
#define EXCERPT       160 /* bytes of a body quoted in a message */
#define CONNECT_MAX_S 10
#define BACKOFF_MAX   2.0

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

char *kiln_smoke_label(const struct kiln_http_check_spec *c)
{
	if (c->name != NULL)
		return kiln_xstrdup(c->name);
	if (c->host != NULL)
		return kiln_xasprintf("GET %s (Host: %s)", c->path, c->host);
	return kiln_xasprintf("GET %s", c->path);
}

/* What one attempt brought back. */
struct reply {
	long status;
	double seconds;
	struct kiln_buf body, headers;
	size_t body_bytes; /* all of them, kept or not */
	char error[CURL_ERROR_SIZE];
	CURLcode code;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n, room = BODY_KEEP - r->body.size;

	/* Read on, keep the first part: a large page is no reason to fail. */
	kiln_buf_put(&r->body, data, len < room ? len : room);
	r->body_bytes += len;
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;

	/* A new status line (a redirect followed, a 100 Continue): only the last reply counts. */
	if (len > 5 && strncmp(data, "HTTP/", 5) == 0)
		kiln_buf_clear(&r->headers);
	if (kiln_buf_put(&r->headers, data, len) < 0)
		return 0; /* headers past their cap end the transfer */
	return len;
}

/* The value of header `name` in the last reply, or NULL; free() it. */
static char *header_value(const struct kiln_buf *headers, const char *name)
{
	const char *p = headers->ptr;
	size_t n = strlen(name);

	while (*p != '\0') {
		size_t len = strcspn(p, "\r\n");
		if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *end = p + len;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			return kiln_xstrndup(v, (size_t)(end - v));
		}
		p += len;
		while (*p == '\r' || *p == '\n')
			p++;
	}
	return NULL;
}

/* The URL of `c` and, for a Host without a port, the connection it goes to instead. */
static int target(char **url, char **connect_to, const char *base,
                  const struct kiln_http_check_spec *c)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *scheme = NULL, *full = NULL;
	size_t n = strlen(base);
	CURLUcode uc;
	int error = 0;

	while (n > 0 && base[n - 1] == '/')
		n--;
	full = kiln_xasprintf("%.*s%s", (int)n, base, c->path);
	uc = curl_url_set(u, CURLUPART_URL, full, 0);
	if (uc == CURLUE_OK)
		uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	if (uc == CURLUE_OK && strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		uc = CURLUE_UNSUPPORTED_SCHEME;
	if (uc == CURLUE_OK)
		uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	if (uc == CURLUE_OK)
		uc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	if (uc != CURLUE_OK) {
		char *shown = kiln_escape(base);
		error = kiln_error_set(KILN_EINVAL, "'%s' is not an http or https URL: %s", shown,
		                       curl_url_strerror(uc));
		free(shown);
		goto done;
	}
	*connect_to = NULL;
	if (c->host != NULL && strchr(c->host, ':') == NULL) {
		/* The name in the URL (so TLS asks for it too), the connection to the base. */
		*connect_to = kiln_xasprintf("%s:%s:%s:%s", c->host, port, host, port);
		curl_url_set(u, CURLUPART_HOST, c->host, 0);
	}
	curl_free(scheme);
	scheme = NULL;
	curl_url_get(u, CURLUPART_URL, &scheme, 0);
	*url = kiln_xstrdup(scheme);
done:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	free(full);
	return error;
}

static void attempt(struct reply *r, CURL *h, const char *url, const char *connect_to,
                    const struct kiln_http_check_spec *c, int no_proxy)
{
	struct curl_slist *hdrs = NULL, *conn = NULL;
	long timeout_ms = (long)c->timeout_s * 1000;
	char *host_header = NULL;
	const char *ca = getenv("SSL_CERT_FILE");

	kiln_buf_clear(&r->body);
	kiln_buf_clear(&r->headers);
	r->body_bytes = 0;
	r->status = 0;
	r->error[0] = '\0';
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, c->follow_redirects ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	                 timeout_ms < CONNECT_MAX_S * 1000 ? timeout_ms : CONNECT_MAX_S * 1000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->error);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln/" KILN_VERSION " smoke");
	if (ca != NULL && ca[0] != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	if (no_proxy)
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	if (connect_to != NULL) {
		conn = curl_slist_append(conn, connect_to);
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, conn);
	} else if (c->host != NULL) {
		host_header = kiln_xasprintf("Host: %s", c->host);
		hdrs = curl_slist_append(hdrs, host_header);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	}
	r->code = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &r->seconds);
	curl_slist_free_all(hdrs);
	curl_slist_free_all(conn);
	free(host_header);
}

/* The start of the body, escaped, for a message. */
static void excerpt(struct kiln_buf *out, const struct reply *r)
{
	size_t n = r->body.size < EXCERPT ? r->body.size : EXCERPT;

	kiln_buf_putc(out, '\'');
	kiln_buf_put_escaped(out, r->body.ptr, n, 0);
	kiln_buf_printf(out, "'%s", r->body_bytes > n ? "..." : "");
}

/* What is wrong with the reply, appended to `why`; 0 when nothing. */
static int judge(struct kiln_buf *why, const struct reply *r, const struct kiln_http_check_spec *c)
{
	size_t i;

	if (r->code != CURLE_OK) {
		char *err = kiln_escape(r->error[0] ? r->error : curl_easy_strerror(r->code));
		kiln_buf_printf(why, "%s", err);
		if (r->status > 0)
			kiln_buf_printf(why, " (status %ld, %zu bytes of body)", r->status,
			                r->body_bytes);
		free(err);
		return 1;
	}
	if (r->status != c->status) {
		kiln_buf_printf(why, "status %ld, expected %d; body: ", r->status, c->status);
		excerpt(why, r);
		return 1;
	}
	if (c->contains != NULL && strstr(r->body.ptr, c->contains) == NULL &&
	    memmem(r->body.ptr, r->body.size, c->contains, strlen(c->contains)) == NULL) {
		char *want = kiln_escape(c->contains);
		kiln_buf_printf(why, "the body does not contain '%s'; it begins: ", want);
		excerpt(why, r);
		free(want);
		return 1;
	}
	for (i = 0; i < c->nheader; i++) {
		char *have = header_value(&r->headers, c->header[i].key);
		char *shown = have != NULL ? kiln_escape(have) : NULL;
		int bad = have == NULL || strcmp(have, c->header[i].value) != 0;

		if (have == NULL)
			kiln_buf_printf(why, "no header %s (expected '%s')", c->header[i].key,
			                c->header[i].value);
		else if (bad)
			kiln_buf_printf(why, "header %s is '%s', expected '%s'", c->header[i].key,
			                shown, c->header[i].value);
		free(have);
		free(shown);
		if (bad)
			return 1;
	}
	if (c->max_latency_ms != KILN_UNSET && r->seconds * 1000 > c->max_latency_ms) {
		kiln_buf_printf(why, "took %.0f ms, more than max_latency_ms %d", r->seconds * 1000,
		                c->max_latency_ms);
		return 1;
	}
	return 0;
}

/* One check, with its retries. 0 passed, 1 failed, KILN_EINTR stopped. */
static int one(CURL *h, const struct kiln_http_check_spec *c, const char *url,
               const char *connect_to, const struct kiln_smoke_opts *o, struct kiln_buf *why,
               double *seconds)
{
	struct reply r = {0};
	double backoff = o->first_backoff > 0 ? o->first_backoff : 0.25;
	int tries = 0, failed = 1;

	kiln_buf_init(&r.body, BODY_KEEP + 1);
	kiln_buf_init(&r.headers, HEADERS_KEEP);
	for (;;) {
		tries++;
		kiln_buf_clear(why);
		attempt(&r, h, url, connect_to, c, o->no_proxy);
		*seconds = r.seconds;
		failed = judge(why, &r, c);
		if (!failed || tries > c->retries)
			break;
		if (kiln_sleep(backoff, o->stop) < 0) {
			failed = KILN_EINTR;
			break;
		}
		backoff = backoff * 2 < BACKOFF_MAX ? backoff * 2 : BACKOFF_MAX;
	}
	if (failed == 1 && tries > 1)
		kiln_buf_printf(why, " (after %d attempts)", tries);
	kiln_buf_release(&r.body);
	kiln_buf_release(&r.headers);
	return failed;
}

int kiln_smoke_run(const struct kiln_http_check_spec *checks, size_t n,
                   const struct kiln_smoke_opts *o)
{
	struct kiln_buf failures = KILN_BUF_INIT, why = KILN_BUF_INIT;
	const char *stage = o->stage != NULL ? o->stage : "smoke";
	CURL *h = NULL;
	size_t i, nfailed = 0;
	int error = 0;

	KILN_ASSERT_ARG(o != NULL && o->base_url != NULL && (checks != NULL || n == 0));
	pthread_once(&curl_once, curl_setup);
	h = curl_easy_init();
	if (h == NULL)
		kiln_die("out of memory");
	for (i = 0; i < n && error >= 0; i++) {
		const struct kiln_http_check_spec *c = &checks[i];
		char *url = NULL, *connect_to = NULL, *label = kiln_smoke_label(c);
		double seconds = 0;
		int failed;

		error = target(&url, &connect_to, o->base_url, c);
		if (error < 0) {
			free(label);
			break;
		}
		failed = one(h, c, url, connect_to, o, &why, &seconds);
		if (failed == KILN_EINTR) {
			error = kiln_error_set(KILN_EINTR, "interrupted");
		} else {
			if (o->report != NULL)
				kiln_report_add(o->report, stage, label, stage, !failed, seconds,
				                why.ptr, NULL);
			if (o->events != NULL)
				kiln_emit(o->events, KILN_EVENT_PROGRESS, stage, "%s %s: %s%s%s",
				          stage, failed ? "FAILED" : "ok", label,
				          failed ? ": " : "", failed ? why.ptr : "");
			if (failed) {
				kiln_buf_printf(&failures, "\n  %s: %s", label, why.ptr);
				nfailed++;
			}
		}
		free(label);
		free(url);
		free(connect_to);
	}
	curl_easy_cleanup(h);
	if (error >= 0 && nfailed > 0)
		error = kiln_error_set(KILN_ERROR, "%zu of %zu %s checks failed against %s:%s",
		                       nfailed, n, stage, o->base_url, failures.ptr);
	kiln_buf_release(&failures);
	kiln_buf_release(&why);
	return error;
}

int kiln_smoke_check_url(const char *base_url)
{
	static const struct kiln_http_check_spec root = {.path = "/"};
	char *url = NULL, *connect_to = NULL;
	int error = target(&url, &connect_to, base_url, &root);

	free(url);
	free(connect_to);
	return error;
}
