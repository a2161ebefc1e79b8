/*
 * A webhook: the event JSON POSTed to a URL, signed as GitHub signs its
 * deliveries (X-Kiln-Signature-256: sha256=<HMAC-SHA256 of the body, hex>)
 * with the secret from the environment variable the profile names. A 5xx
 * or 429 reply or a connection failure is retried with exponential backoff
 * and jitter, at most WEBHOOK_ATTEMPTS times and within the hook's time
 * limit; any other reply but a 2xx fails at once.
 *
 * The secret is read when the hook runs, registered with the log's
 * redaction, used for the HMAC and wiped: no message here names it, only
 * the variable that holds it.
 */
#include "hooks/hooks-int.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "aws/http.h"
#include "core/common.h"
#include "core/log.h"
#include "core/util.h"

#define WEBHOOK_ATTEMPTS     4
#define WEBHOOK_BACKOFF_BASE 0.2 /* seconds, doubled per attempt */
#define WEBHOOK_BACKOFF_MAX  5.0
#define WEBHOOK_REPLY_MAX    ((size_t)64 << 10)

void kiln_hook_signature(char out[72], const void *key, size_t keylen, const void *body, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen, body, len, mac, &maclen) == NULL || maclen != 32)
		kiln_die("HMAC-SHA256 failed");
	memcpy(out, "sha256=", 7);
	kiln_hex(out + 7, mac, 32);
	out[71] = '\0';
	explicit_bzero(mac, sizeof(mac));
}

char *kiln_hook_url_shown(const char *url)
{
	const char *scheme_end = strstr(url, "://");
	const char *host = scheme_end != NULL ? scheme_end + 3 : url;
	size_t auth_len = strcspn(host, "/?#");
	const char *at = memchr(host, '@', auth_len);
	const char *rest = at != NULL ? at + 1 : host;
	struct kiln_buf b = KILN_BUF_INIT;

	kiln_buf_put(&b, url, (size_t)(host - url));
	kiln_buf_put(&b, rest, strcspn(rest, "?#"));
	return kiln_buf_detach(&b);
}

void kiln_hook_url_secrets(const char *url)
{
	const char *scheme_end = strstr(url, "://");
	const char *host = scheme_end != NULL ? scheme_end + 3 : url;
	size_t auth_len = strcspn(host, "/?#");
	const char *at = memchr(host, '@', auth_len);
	const char *query = strchr(host, '?');

	if (at != NULL && at > host) {
		struct kiln_buf userinfo = KILN_BUF_INIT;
		kiln_buf_put(&userinfo, host, (size_t)(at - host));
		kiln_log_add_secret(userinfo.ptr);
		kiln_buf_release(&userinfo);
	}
	if (query != NULL && query[1] != '\0' && query[1] != '#') {
		struct kiln_buf q = KILN_BUF_INIT;
		kiln_buf_put(&q, query + 1, strcspn(query + 1, "#"));
		kiln_log_add_secret(q.ptr);
		kiln_buf_release(&q);
	}
}

static int loopback(const char *url)
{
	const char *h = strstr(url, "://");

	h = h != NULL ? h + 3 : url;
	return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost", 9) == 0 ||
	       strncmp(h, "[::1]", 5) == 0;
}

/* 1 when another attempt may succeed. */
static int retryable(int error, long status)
{
	if (error < 0)
		return error == KILN_ETIMEOUT || kiln_http_error_retryable(error);
	return status >= 500 || status == 429;
}

/* One POST; *status is the reply's (0 when none). */
static int post_once(long *status, const struct kiln_hook *hook, const char *body,
                     const char *const *headers, double seconds)
{
	struct kiln_http_opts ho = {0};
	struct kiln_http_request req = {0};
	struct kiln_http_response resp = KILN_HTTP_RESPONSE_INIT;
	struct kiln_http *h = NULL;
	int error;

	ho.timeout_ms = (long)(seconds * 1000) > 100 ? (long)(seconds * 1000) : 100;
	ho.connect_timeout_ms = ho.timeout_ms < 10000 ? ho.timeout_ms : 10000;
	ho.max_body = WEBHOOK_REPLY_MAX;
	ho.no_proxy = loopback(hook->url);
	error = kiln_http_new(&h, &ho);
	if (error < 0)
		return error;
	req.method = "POST";
	req.url = hook->url;
	req.headers = headers;
	req.body = body;
	req.body_len = strlen(body);
	error = kiln_http_send(&resp, h, &req);
	*status = error >= 0 ? resp.status : 0;
	kiln_http_response_release(&resp);
	kiln_http_free(h);
	return error;
}

/* The signature header, from the secret in the named variable (none without one). */
static int sign(char **header, const struct kiln_hook *hook, const char *body)
{
	const char *secret;
	char sig[72];

	*header = NULL;
	if (hook->secret_env == NULL)
		return 0;
	secret = getenv(hook->secret_env);
	if (secret == NULL || secret[0] == '\0')
		return kiln_error_set(KILN_EINVAL, "webhook secret variable %s is not set",
		                      hook->secret_env);
	kiln_log_add_secret(secret);
	kiln_hook_signature(sig, secret, strlen(secret), body, strlen(body));
	*header = kiln_xasprintf("X-Kiln-Signature-256: %s", sig);
	explicit_bzero(sig, sizeof(sig));
	return 0;
}

int kiln_hook_webhook_send(const struct kiln_hook *hook, const char *body, const char *event,
                           volatile int *stop)
{
	double limit = hook->timeout_s > 0 ? hook->timeout_s : KILN_HOOK_WEBHOOK_TIMEOUT;
	double deadline = kiln_time_mono() + limit, backoff = WEBHOOK_BACKOFF_BASE;
	char *shown = kiln_hook_url_shown(hook->url), *sig = NULL, *ev_header;
	const char *headers[5] = {"Content-Type: application/json",
	                          "User-Agent: kiln/" KILN_VERSION, NULL, NULL, NULL};
	long status = 0;
	int error, attempt;

	ev_header = kiln_xasprintf("X-Kiln-Event: %s", event);
	headers[2] = ev_header;
	error = sign(&sig, hook, body);
	headers[3] = sig;
	for (attempt = 1; error >= 0; attempt++) {
		double left = deadline - kiln_time_mono(), pause;
		unsigned char r = 0;

		error = post_once(&status, hook, body, headers, left);
		if (error >= 0 && status >= 200 && status < 300)
			break;
		if (attempt >= WEBHOOK_ATTEMPTS || !retryable(error, status))
			break;
		kiln_random_bytes(&r, 1);
		pause = backoff * (0.5 + r / 512.0);
		backoff = backoff * 2 < WEBHOOK_BACKOFF_MAX ? backoff * 2 : WEBHOOK_BACKOFF_MAX;
		if (kiln_time_mono() + pause >= deadline)
			break;
		kiln_error_clear();
		if (kiln_sleep(pause, stop) < 0) {
			error = kiln_error_set(KILN_EINTR, "webhook %s stopped", shown);
			break;
		}
	}
	if (error >= 0 && (status < 200 || status >= 300))
		error = kiln_error_set(KILN_ERROR, "webhook %s: HTTP %ld after %d attempt%s", shown,
		                       status, attempt, attempt == 1 ? "" : "s");
	else if (error < 0 && error != KILN_EINVAL && error != KILN_EINTR)
		error = kiln_error_prefix(error, "webhook %s (%d attempt%s)", shown, attempt,
		                          attempt == 1 ? "" : "s");
	if (sig != NULL)
		explicit_bzero(sig, strlen(sig));
	free(sig);
	free(ev_header);
	free(shown);
	return error;
}
