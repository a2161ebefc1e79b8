/*
 * The AWS transport: one libcurl easy handle per endpoint (kept alive
 * between calls), connect and total timeouts, TLS verification on, proxies
 * from the usual environment variables (libcurl's own handling), and reply
 * bodies bounded by a cap. Plus the retry policy the AWS SDKs use: which
 * replies are worth another attempt, exponential backoff with full jitter,
 * a retry quota, and the adaptive mode's client-side rate limiter (a token
 * bucket whose rate follows CUBIC: it drops after throttling and climbs back
 * as calls succeed).
 *
 * A struct kiln_http and a struct kiln_retry are used by one thread at a
 * time. Nothing here logs a header value that could hold a secret:
 * Authorization and X-Amz-Security-Token are redacted from traces.
 */
#ifndef KILN_AWS_HTTP_H
#define KILN_AWS_HTTP_H

#include "core/buf.h"

struct kiln_http_opts {
	long connect_timeout_ms; /* 0: 10 s */
	long timeout_ms;         /* whole exchange; 0: 60 s */
	size_t max_body;         /* reply body cap; 0: 32 MiB */
	int no_proxy;            /* 1: never use a proxy (instance metadata) */
};

struct kiln_http_request {
	const char *method; /* "POST", "GET", "PUT" */
	const char *url;
	const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
	const void *body;
	size_t body_len;
};

struct kiln_http_response {
	long status;          /* 0 when no reply arrived */
	struct kiln_buf body; /* capped by the handle's max_body */
	long connects;        /* new connections opened (0: a kept-alive one was reused) */
	double server_date;   /* the reply's Date header (seconds since the epoch), or 0 */
};

#define KILN_HTTP_RESPONSE_INIT                                                                    \
	{                                                                                          \
		0, KILN_BUF_INIT, 0, 0                                                             \
	}

struct kiln_http;

int kiln_http_new(struct kiln_http **out, const struct kiln_http_opts *opts);
void kiln_http_free(struct kiln_http *h);
void kiln_http_response_release(struct kiln_http_response *r);

/*
 * One exchange, no retries. Returns 0 when a reply arrived (whatever its
 * status), KILN_ETIMEOUT on a timeout, KILN_ETOOBIG when the body passed the
 * cap, KILN_ERROR for other transport failures (with libcurl's message).
 * `out` is reset first and holds the reply (or what arrived of it).
 */
int kiln_http_send(struct kiln_http_response *out, struct kiln_http *h,
                   const struct kiln_http_request *req);

/*
 * The value of header `name` (any case) in the last reply kiln_http_send
 * received on `h`, or NULL when it had none; valid until the next send.
 */
const char *kiln_http_reply_header(struct kiln_http *h, const char *name);

/* Whether a transport error (a kiln_http_send return) is worth retrying. */
int kiln_http_error_retryable(int error);

/* The retry policy and its state; one per client. */
struct kiln_retry {
	int max_attempts;      /* AWS_MAX_ATTEMPTS, default 5 (first try included) */
	double base_transient; /* seconds; backoff base for 5xx and connection errors */
	double base_throttle;  /* seconds; backoff base after throttling */
	double max_backoff;    /* seconds; 20 as in the SDKs */
	int adaptive;          /* the client-side rate limiter (AWS_RETRY_MODE) */

	/* Retry quota (standard mode): retries spend it, successes refill it. */
	int quota;

	/* Adaptive mode: token bucket, measured send rate, CUBIC. */
	int limiter_on;
	double fill_rate, max_capacity, tokens, last_refill;
	double measured_rate, last_tx_bucket;
	int tx_count;
	double w_max, last_max_rate, last_throttle, inflection;
	double slept; /* seconds spent waiting for tokens (for tests and traces) */
};

enum kiln_retry_kind {
	KILN_RETRY_NONE = 0,  /* success or a final error */
	KILN_RETRY_TRANSIENT, /* 5xx, 429 without a code, connection errors */
	KILN_RETRY_TIMEOUT,   /* timeouts: spend more of the quota */
	KILN_RETRY_THROTTLE,  /* throttling codes */
};

/* Defaults, then AWS_MAX_ATTEMPTS and AWS_RETRY_MODE from the environment. */
void kiln_retry_init(struct kiln_retry *r);
/* Whether an AWS error code is one of the throttling codes. */
int kiln_retry_is_throttle_code(const char *code);
/*
 * What kind of failure one attempt was: `error` is the transport result,
 * `status` the HTTP status, `code` the parsed AWS error code ("" when none).
 */
enum kiln_retry_kind kiln_retry_classify(int error, long status, const char *code);
/* Wait for the rate limiter (adaptive mode) before sending an attempt. */
int kiln_retry_before_send(struct kiln_retry *r);
/* Feed the result of an attempt to the rate limiter and the quota. */
void kiln_retry_after_reply(struct kiln_retry *r, enum kiln_retry_kind kind, int attempt);
/*
 * Whether attempt number `attempt` (1-based) may be followed by another one,
 * and how long to wait first (full jitter: uniform in [0, min(max, base*2^(n-1))]).
 */
int kiln_retry_next(double *delay, struct kiln_retry *r, enum kiln_retry_kind kind, int attempt);

/*
 * Tests and tuning: the transport options (read when a client opens its
 * first connection to an endpoint) and the retry policy of a client.
 */
struct kiln_aws;
struct kiln_http_opts *kiln_aws_http_opts(struct kiln_aws *aws);
struct kiln_retry *kiln_aws_retry_policy(struct kiln_aws *aws);

#endif
