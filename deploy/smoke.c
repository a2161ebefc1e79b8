/*
 * The profile's smoke checks (deploy.smoke) against a listener's URL, from
 * this host: a GET of each check's path (aws/http.c's transport: bounded
 * connect and total timeouts, a capped body), its status, a substring of
 * its body, its headers (exact values) and its latency compared. A failing check is tried again
 * twice (0.25 s, then 0.5 s later: a listener just swapped may need a moment), then the deploy's
 * error names it with what was found, the status and an escaped excerpt of the body. Every check
 * runs whatever the others gave.
 */
#include <string.h>

#include "aws/http.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/util.h"
#include "deploy/deploy-int.h"

#define SMOKE_ATTEMPTS   3
#define SMOKE_TIMEOUT_MS 10000
#define SMOKE_MAX_BODY   ((size_t)1 << 20)
#define SMOKE_EXCERPT    120

/* 1 when a header of `want` ({name: value}) is not in the reply as it says; `why` says which. */
static int header_mismatch(struct kiln_buf *why, struct kiln_http *h, const json_t *want)
{
	const char *name;
	const json_t *value;

	json_object_foreach((json_t *)want, name, value)
	{
		const char *got = kiln_http_reply_header(h, name);
		const char *expected = json_string_value(value);

		if (got != NULL && expected != NULL && strcmp(got, expected) == 0)
			continue;
		kiln_buf_puts(why, "header ");
		kiln_buf_put_escaped(why, name, strlen(name), 0);
		if (got == NULL) {
			kiln_buf_puts(why, " missing");
		} else {
			kiln_buf_puts(why, " is '");
			kiln_buf_put_escaped(why, got, strlen(got), 0);
			kiln_buf_puts(why, "'");
		}
		kiln_buf_puts(why, ", expected '");
		kiln_buf_put_escaped(why, expected ? expected : "", expected ? strlen(expected) : 0,
		                     0);
		kiln_buf_puts(why, "'");
		return 1;
	}
	return 0;
}

/* One attempt of `check` at `url`; 0 when it held, else what was found is in `why`. */
static int smoke_once(struct kiln_buf *why, struct kiln_http *h, const char *url,
                      const json_t *check)
{
	struct kiln_http_request req = {"GET", url, NULL, NULL, 0};
	struct kiln_http_response r = KILN_HTTP_RESPONSE_INIT;
	long want = (long)kiln_json_int(check, "status", 200);
	long max_ms = (long)kiln_json_int(check, "max_latency_ms", -1);
	const char *contains = kiln_json_str(check, "contains");
	double t0 = kiln_time_mono(), ms;
	int error = kiln_http_send(&r, h, &req);

	ms = (kiln_time_mono() - t0) * 1000;
	kiln_buf_clear(why);
	if (error < 0) {
		kiln_buf_printf(why, "no reply (%s)", kiln_error_last());
	} else if (r.status != want) {
		kiln_buf_printf(why, "status %ld, expected %ld", r.status, want);
		error = KILN_ERROR;
	} else if (contains != NULL &&
	           memmem(r.body.ptr, r.body.size, contains, strlen(contains)) == NULL) {
		kiln_buf_puts(why, "the body does not contain '");
		kiln_buf_put_escaped(why, contains, strlen(contains), 0);
		kiln_buf_printf(why, "' (status %ld)", r.status);
		error = KILN_ERROR;
	} else if (header_mismatch(why, h, json_object_get(check, "header"))) {
		error = KILN_ERROR;
	} else if (max_ms >= 0 && ms > (double)max_ms) {
		kiln_buf_printf(why, "took %.0f ms, at most %ld allowed", ms, max_ms);
		error = KILN_ERROR;
	}
	if (error < 0 && r.status != 0) {
		size_t n = r.body.size < SMOKE_EXCERPT ? r.body.size : SMOKE_EXCERPT;
		kiln_buf_puts(why, "; body: '");
		kiln_buf_put_escaped(why, r.body.ptr, n, 0);
		kiln_buf_puts(why, n < r.body.size ? "...'" : "'");
	}
	kiln_http_response_release(&r);
	return error < 0 ? KILN_ERROR : 0;
}

/* `check` at `base` with its retries; a failure is appended to `failed`. */
static int smoke_check(struct kiln_buf *failed, struct deploy *d, struct kiln_http *h,
                       const char *base, const json_t *check)
{
	const char *path = kiln_json_str(check, "path");
	struct kiln_buf url = KILN_BUF_INIT, why = KILN_BUF_INIT;
	double backoff = 0.25;
	int error = 0;

	kiln_buf_printf(&url, "%.*s%s", (int)(strlen(base) - (base[strlen(base) - 1] == '/')), base,
	                path);
	for (int attempt = 1; attempt <= SMOKE_ATTEMPTS; attempt++, backoff *= 2) {
		error = smoke_once(&why, h, url.ptr, check);
		if (error >= 0 || attempt == SMOKE_ATTEMPTS)
			break;
		error = kiln_sleep(backoff, d->stop);
		if (error < 0)
			break;
	}
	if (error == KILN_EINTR) {
		kiln_error_set(KILN_EINTR, "stopped during the smoke checks");
	} else if (error < 0) {
		kiln_buf_printf(failed, "%sGET %s: %s", failed->size ? "; " : "", path, why.ptr);
	} else {
		kiln_deploy__say(d, "smoke GET %s: passed", path);
	}
	kiln_buf_release(&url);
	kiln_buf_release(&why);
	return error;
}

int kiln_deploy__smoke(struct deploy *d, const char *base_url, const char *where)
{
	const json_t *smoke = json_object_get(json_object_get(d->profile->json, "deploy"), "smoke");
	struct kiln_http_opts hopts = {0, SMOKE_TIMEOUT_MS, SMOKE_MAX_BODY, 0};
	struct kiln_buf failed = KILN_BUF_INIT;
	struct kiln_http *h = NULL;
	size_t n = json_array_size(smoke), nfailed = 0;
	int error;

	if (n == 0 || d->opts->skip_smoke)
		return 0;
	/* The local cloud's load balancers are on this machine: no proxy reaches them. */
	hopts.no_proxy = d->profile->target != NULL && strcmp(d->profile->target, "local") == 0;
	error = kiln_http_new(&h, &hopts);
	if (error < 0)
		return error;
	kiln_deploy__say(d, "%zu smoke check%s through %s (%s)", n, n == 1 ? "" : "s", where,
	                 base_url);
	for (size_t i = 0; i < n && error != KILN_EINTR; i++) {
		const json_t *check = json_array_get(smoke, i);

		error = smoke_check(&failed, d, h, base_url, check);
		nfailed += error < 0 && error != KILN_EINTR;
	}
	kiln_http_free(h);
	if (error != KILN_EINTR && nfailed > 0)
		error =
		    kiln_error_set(KILN_ERROR, "%zu of %zu smoke checks failed through %s (%s): %s",
		                   nfailed, n, where, base_url, failed.ptr);
	else if (error != KILN_EINTR)
		error = 0;
	kiln_buf_release(&failed);
	return error;
}
