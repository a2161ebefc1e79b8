/*
 * Smoke checks (deploy.smoke[]): HTTP requests from this host, with
 * libcurl, against a base URL (a load balancer's listener, any server).
 * Read-only: every request is a GET. Each check compares the status, a
 * substring of the body, headers and the time taken, and retries a failure
 * up to `retries` more times with a short backoff (from 0.25 s, doubling,
 * at most 2 s between attempts): a listener just swapped may need a moment.
 *
 * Bounds: each attempt has the check's timeout (connect within the lesser
 * of it and 10 s); bodies are read whole but at most 1 MiB is kept;
 * redirects are not followed unless the check says so (then at most 10,
 * http and https only); only http and https are spoken. What a server
 * sends back is escaped before it reaches a message.
 */
#ifndef KILN_VALIDATE_SMOKE_H
#define KILN_VALIDATE_SMOKE_H

#include "core/event.h"
#include "kiln/report.h"
#include "profiles/spec.h"

struct kiln_smoke_opts {
	const char *base_url;              /* "http://host:port" with an optional path prefix */
	const char *stage;                 /* the report's stage: "smoke" unless set */
	struct kiln_report *report;        /* each check's result is appended; may be NULL */
	const struct kiln_emitter *events; /* a progress line per check; may be NULL */
	double first_backoff;              /* seconds before the first retry; 0: 0.25 */
	volatile int *stop;                /* non-zero: stop, KILN_EINTR */
	int no_proxy;                      /* ignore http_proxy & co (servers on this host) */
};

/*
 * Run `checks` in order, every one whatever the others gave. 0 when all
 * passed; KILN_ERROR naming each that failed with what was found;
 * KILN_EINVAL when the base URL is not an http(s) URL.
 */
int kiln_smoke_run(const struct kiln_http_check_spec *checks, size_t n,
                   const struct kiln_smoke_opts *opts);

/* KILN_EINVAL unless `base_url` is an http or https URL. */
int kiln_smoke_check_url(const char *base_url);

/* "GET /path" (with its Host when set), or the check's name; free() it. */
char *kiln_smoke_label(const struct kiln_http_check_spec *check);

#endif
