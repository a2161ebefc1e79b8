#include "aws/http.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/util.h"

#define DEFAULT_CONNECT_MS 10000L
#define DEFAULT_TIMEOUT_MS 60000L
#define DEFAULT_MAX_BODY   ((size_t)32 << 20)

struct kiln_http {
	CURL *curl;
	struct kiln_http_opts opts;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int kiln_http_new(struct kiln_http **out, const struct kiln_http_opts *opts)
{
	struct kiln_http *h;

	KILN_ASSERT_ARG(out != NULL);
	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK)
		return kiln_error_set(KILN_ERROR, "cannot initialise libcurl: %s",
		                      curl_easy_strerror(curl_init_result));
	h = kiln_xcalloc(1, sizeof(*h));
	if (opts != NULL)
		h->opts = *opts;
	if (h->opts.connect_timeout_ms <= 0)
		h->opts.connect_timeout_ms = DEFAULT_CONNECT_MS;
	if (h->opts.timeout_ms <= 0)
		h->opts.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (h->opts.max_body == 0)
		h->opts.max_body = DEFAULT_MAX_BODY;
	h->curl = curl_easy_init();
	if (h->curl == NULL) {
		free(h);
		return kiln_error_set(KILN_ERROR, "cannot create a libcurl handle");
	}
	*out = h;
	return 0;
}

void kiln_http_free(struct kiln_http *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

void kiln_http_response_release(struct kiln_http_response *r)
{
	if (r == NULL)
		return;
	kiln_buf_release(&r->body);
	r->status = 0;
}

struct sink {
	struct kiln_buf *buf;
	int toobig;
};

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (kiln_buf_put(s->buf, data, n) < 0) {
		s->toobig = 1;
		return 0; /* libcurl aborts the transfer with CURLE_WRITE_ERROR */
	}
	return n;
}

/* Only the Date header is kept: clock skew correction needs the server's time. */
static size_t header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct kiln_http_response *r = arg;
	size_t n = size * nmemb;

	if (n > 5 && n < 128 && strncasecmp(data, "Date:", 5) == 0) {
		char line[128];
		time_t t;
		memcpy(line, data + 5, n - 5);
		line[n - 5] = '\0';
		t = curl_getdate(line, NULL);
		if (t > 0)
			r->server_date = (double)t;
	}
	return n;
}

/* The header names whose values are credentials and must not be traced. */
static int header_is_secret(const char *h)
{
	return strncasecmp(h, "Authorization:", 14) == 0 ||
	       strncasecmp(h, "X-Amz-Security-Token:", 21) == 0 ||
	       strncasecmp(h, "X-aws-ec2-metadata-token:", 25) == 0;
}

static void trace_request(const struct kiln_http_request *req)
{
	const char *const *hp;

	if (!kiln_log_trace_enabled("http"))
		return;
	kiln_log_trace("http", "> %s %s (%zu bytes)", req->method, req->url, req->body_len);
	for (hp = req->headers; hp != NULL && *hp != NULL; hp++) {
		if (header_is_secret(*hp))
			kiln_log_trace("http", ">   %.*s: <redacted>", (int)strcspn(*hp, ":"), *hp);
		else
			kiln_log_trace("http", ">   %s", *hp);
	}
}

static int set_request(struct kiln_http *h, const struct kiln_http_request *req,
                       struct curl_slist **headers, struct sink *sink,
                       struct kiln_http_response *resp)
{
	CURL *c = h->curl;
	const char *const *hp;
	struct curl_slist *l = NULL;

	curl_easy_reset(c);
	for (hp = req->headers; hp != NULL && *hp != NULL; hp++)
		l = curl_slist_append(l, *hp);
	/* No "Expect: 100-continue" round trip; AWS does not need it. */
	l = curl_slist_append(l, "Expect:");
	if (l == NULL)
		kiln_die("out of memory");
	*headers = l;
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, l);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->opts.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->opts.timeout_ms);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (h->opts.no_proxy)
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	/* Refuse early when the server announces a body past the cap. */
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->opts.max_body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		if (strcmp(req->method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	}
	return 0;
}

const char *kiln_http_reply_header(struct kiln_http *h, const char *name)
{
	struct curl_header *hd = NULL;

	if (curl_easy_header(h->curl, name, 0, CURLH_HEADER, -1, &hd) != CURLHE_OK)
		return NULL;
	return hd->value;
}

int kiln_http_send(struct kiln_http_response *out, struct kiln_http *h,
                   const struct kiln_http_request *req)
{
	struct curl_slist *headers = NULL;
	struct sink sink = {&out->body, 0};
	double t0 = kiln_time_mono();
	CURLcode rc;
	int error = 0;

	KILN_ASSERT_ARG(out != NULL && h != NULL && req != NULL && req->url != NULL);
	kiln_buf_release(&out->body);
	kiln_buf_init(&out->body, h->opts.max_body);
	out->status = 0;
	h->errbuf[0] = '\0';
	trace_request(req);
	out->server_date = 0;
	set_request(h, req, &headers, &sink, out);
	rc = curl_easy_perform(h->curl);
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &out->connects);
	if (sink.toobig || rc == CURLE_FILESIZE_EXCEEDED) {
		error = kiln_error_set(KILN_ETOOBIG, "reply from '%s' is larger than %zu bytes",
		                       req->url, h->opts.max_body);
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		error = kiln_error_set(KILN_ETIMEOUT, "'%s' timed out after %.1f s", req->url,
		                       kiln_time_mono() - t0);
	} else if (rc != CURLE_OK) {
		error = kiln_error_set(KILN_ERROR, "cannot reach '%s': %s", req->url,
		                       h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(rc));
	}
	kiln_log_trace("http", "< %ld %s (%zu bytes, %.3f s, %s connection)%s%s", out->status,
	               req->url, out->body.size, kiln_time_mono() - t0,
	               out->connects > 0 ? "new" : "reused", error < 0 ? ": " : "",
	               error < 0 ? kiln_error_last() : "");
	curl_slist_free_all(headers);
	/* The handle keeps the connection; forget the pointers into our stack. */
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, NULL);
	return error;
}

int kiln_http_error_retryable(int error)
{
	return error == KILN_ERROR || error == KILN_ETIMEOUT;
}

/* ---- retry policy ------------------------------------------------------ */

#define QUOTA_INITIAL  500
#define QUOTA_COST     5
#define QUOTA_TIMEOUT  10
#define CUBIC_SCALE    0.4
#define CUBIC_BETA     0.7
#define MIN_FILL_RATE  0.5
#define RATE_SMOOTHING 0.8
#define RATE_BUCKET    0.5

static const char *const throttle_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};

/* Codes the SDKs treat as transient whatever the status. */
static const char *const transient_codes[] = {
    "RequestTimeout",     "RequestTimeoutException", "InternalError",
    "ServiceUnavailable", "IDPCommunicationError",
};

static double random_unit(void)
{
	uint64_t v = 0;

	if (kiln_random_bytes(&v, sizeof(v)) < 0)
		return 0.5;
	return (double)(v >> 11) / (double)(UINT64_C(1) << 53);
}

static double cubic_inflection(double w_max)
{
	return cbrt(w_max * (1.0 - CUBIC_BETA) / CUBIC_SCALE);
}

void kiln_retry_init(struct kiln_retry *r)
{
	const char *v = getenv("AWS_MAX_ATTEMPTS");
	const char *mode = getenv("AWS_RETRY_MODE");
	double now = kiln_time_mono();

	memset(r, 0, sizeof(*r));
	r->max_attempts = 5;
	if (v != NULL && *v != '\0') {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end == '\0' && n >= 1 && n <= 100)
			r->max_attempts = (int)n;
		else
			kiln_log_warn("ignoring AWS_MAX_ATTEMPTS '%s': not a number from 1 to 100",
			              v);
	}
	/* As the Java SDK's standard mode: short waits for blips, longer after throttling. */
	r->base_transient = 0.1;
	r->base_throttle = 0.5;
	r->max_backoff = 20.0;
	r->adaptive =
	    !(mode != NULL && (strcmp(mode, "standard") == 0 || strcmp(mode, "legacy") == 0));
	r->quota = QUOTA_INITIAL;
	r->fill_rate = MIN_FILL_RATE;
	r->max_capacity = 1;
	r->tokens = 0;
	r->last_refill = -1;
	r->last_tx_bucket = floor(now * 2) / 2;
	r->w_max = MIN_FILL_RATE;
	r->last_throttle = now;
	r->inflection = cubic_inflection(r->w_max);
}

int kiln_retry_is_throttle_code(const char *code)
{
	size_t i;

	for (i = 0; code != NULL && i < KILN_ARRAY_SIZE(throttle_codes); i++)
		if (strcmp(code, throttle_codes[i]) == 0)
			return 1;
	return 0;
}

enum kiln_retry_kind kiln_retry_classify(int error, long status, const char *code)
{
	size_t i;

	if (error == KILN_ETIMEOUT)
		return KILN_RETRY_TIMEOUT;
	if (error < 0)
		return kiln_http_error_retryable(error) ? KILN_RETRY_TRANSIENT : KILN_RETRY_NONE;
	if (status >= 200 && status < 300)
		return KILN_RETRY_NONE;
	if (kiln_retry_is_throttle_code(code))
		return KILN_RETRY_THROTTLE;
	for (i = 0; code != NULL && i < KILN_ARRAY_SIZE(transient_codes); i++)
		if (strcmp(code, transient_codes[i]) == 0)
			return KILN_RETRY_TRANSIENT;
	if (status == 429)
		return KILN_RETRY_THROTTLE;
	if (status >= 500 && status != 501)
		return KILN_RETRY_TRANSIENT;
	return KILN_RETRY_NONE;
}

static void bucket_refill(struct kiln_retry *r, double now)
{
	if (r->last_refill < 0) {
		r->last_refill = now;
		return;
	}
	r->tokens = fmin(r->max_capacity, r->tokens + (now - r->last_refill) * r->fill_rate);
	r->last_refill = now;
}

static void bucket_set_rate(struct kiln_retry *r, double rate)
{
	bucket_refill(r, kiln_time_mono());
	r->fill_rate = fmax(rate, MIN_FILL_RATE);
	r->max_capacity = rate >= 1 ? rate : 1;
	r->tokens = fmin(r->tokens, r->max_capacity);
}

int kiln_retry_before_send(struct kiln_retry *r)
{
	int rounds;

	if (!r->adaptive || !r->limiter_on)
		return 0;
	/* Bounded: each wait is at most 1/MIN_FILL_RATE seconds and earns a token. */
	for (rounds = 0; rounds < 8; rounds++) {
		double wait;
		int error;
		bucket_refill(r, kiln_time_mono());
		if (r->tokens >= 1) {
			r->tokens -= 1;
			return 0;
		}
		wait = (1 - r->tokens) / r->fill_rate;
		kiln_log_trace("aws", "rate limiter: waiting %.3f s (%.2f requests/s)", wait,
		               r->fill_rate);
		error = kiln_sleep(wait, NULL);
		if (error < 0)
			return error;
		r->slept += wait;
	}
	return 0;
}

static double measure_rate(struct kiln_retry *r, double now)
{
	double bucket = floor(now * 2) / 2;

	r->tx_count++;
	if (bucket > r->last_tx_bucket) {
		double current = r->tx_count / (bucket - r->last_tx_bucket);
		r->measured_rate =
		    current * RATE_SMOOTHING + r->measured_rate * (1 - RATE_SMOOTHING);
		r->tx_count = 0;
		r->last_tx_bucket = bucket;
	}
	return r->measured_rate;
}

void kiln_retry_after_reply(struct kiln_retry *r, enum kiln_retry_kind kind, int attempt)
{
	double now = kiln_time_mono(), measured, new_rate;

	if (kind == KILN_RETRY_NONE && r->quota < QUOTA_INITIAL)
		r->quota += attempt > 1 ? QUOTA_COST : 1;
	if (r->quota > QUOTA_INITIAL)
		r->quota = QUOTA_INITIAL;
	if (!r->adaptive)
		return;
	measured = measure_rate(r, now);
	if (kind == KILN_RETRY_THROTTLE) {
		double rate = r->limiter_on ? fmin(measured, r->fill_rate) : measured;
		r->w_max = rate;
		r->last_max_rate = rate;
		r->inflection = cubic_inflection(rate);
		r->last_throttle = now;
		new_rate = rate * CUBIC_BETA;
		r->limiter_on = 1;
	} else {
		double dt = now - r->last_throttle - r->inflection;
		new_rate = CUBIC_SCALE * dt * dt * dt + r->w_max;
	}
	bucket_set_rate(r, fmin(new_rate, 2 * measured));
}

int kiln_retry_next(double *delay, struct kiln_retry *r, enum kiln_retry_kind kind, int attempt)
{
	double base, cap;
	int cost;

	*delay = 0;
	if (kind == KILN_RETRY_NONE || attempt >= r->max_attempts)
		return 0;
	cost = kind == KILN_RETRY_TIMEOUT ? QUOTA_TIMEOUT : QUOTA_COST;
	if (r->quota < cost) {
		kiln_log_debug("retry quota exhausted: not retrying");
		return 0;
	}
	r->quota -= cost;
	base = kind == KILN_RETRY_THROTTLE ? r->base_throttle : r->base_transient;
	cap = fmin(r->max_backoff, base * ldexp(1.0, attempt - 1));
	*delay = random_unit() * cap;
	return 1;
}
