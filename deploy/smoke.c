/*
 * The profile's smoke checks (deploy.smoke) through a listener's URL, from
 * this host, with validate's runner (validate/smoke.h: libcurl, bounded
 * attempts, capped bodies, what a server sends escaped). A deploy tries a
 * failing check at least twice more (0.25 s, then 0.5 s later: a listener
 * just swapped may need a moment). Every check runs whatever the others
 * gave; the deploy's error is one line naming each failure with what was
 * found, and each result goes into the caller's report (kiln deploy
 * --junit) when there is one.
 */
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "deploy/deploy-int.h"
#include "validate/report.h"
#include "validate/smoke.h"

#define SMOKE_MIN_RETRIES 2

/* "; "-joined "LABEL: what was found" of the failed results from `first` on. */
static void failures(struct kiln_buf *out, const struct kiln_report *report, size_t first)
{
	for (size_t i = first; i < kiln_report_count(report); i++) {
		const struct kiln_result *r = kiln_report_result(report, i);

		if (!r->passed)
			kiln_buf_printf(out, "%s%s: %s", out->size ? "; " : "", r->name,
			                r->message);
	}
}

int kiln_deploy__smoke(struct deploy *d, const char *base_url, const char *where)
{
	const struct kiln_deploy_spec *spec = &d->profile->deploy;
	struct kiln_smoke_opts so = {0};
	struct kiln_http_check_spec *checks;
	struct kiln_report *own = NULL, *report = d->opts->report;
	struct kiln_buf why = KILN_BUF_INIT;
	size_t n = spec->nsmoke, first, nfailed = 0;
	int error;

	if (n == 0 || d->opts->skip_smoke)
		return 0;
	if (report == NULL && kiln_report_new(&own) < 0)
		return KILN_ERROR;
	if (own != NULL)
		report = own;
	kiln_report_subject(report, d->profile->name, d->profile->env);
	/* The checks as the profile says, each retried at least SMOKE_MIN_RETRIES times. */
	checks = kiln_xcalloc(n, sizeof(*checks));
	memcpy(checks, spec->smoke, n * sizeof(*checks));
	for (size_t i = 0; i < n; i++)
		if (checks[i].retries < SMOKE_MIN_RETRIES)
			checks[i].retries = SMOKE_MIN_RETRIES;
	kiln_deploy__say(d, "%zu smoke check%s through %s (%s)", n, n == 1 ? "" : "s", where,
	                 base_url);
	so.base_url = base_url;
	so.report = report;
	so.events = &d->events;
	so.stop = d->stop;
	/* The local cloud's load balancers are on this machine: no proxy reaches them. */
	so.no_proxy = d->profile->target != NULL && strcmp(d->profile->target, "local") == 0;
	first = kiln_report_count(report);
	error = kiln_smoke_run(checks, n, &so);
	for (size_t i = first; i < kiln_report_count(report); i++)
		nfailed += !kiln_report_result(report, i)->passed;
	if (error == KILN_EINTR) {
		kiln_error_set(KILN_EINTR, "stopped during the smoke checks");
	} else if (error == KILN_ERROR && nfailed > 0) {
		failures(&why, report, first);
		kiln_error_set(KILN_ERROR, "%zu of %zu smoke checks failed through %s (%s): %s",
		               nfailed, n, where, base_url, why.ptr);
	} else if (error < 0) {
		char *cause = kiln_xstrdup(kiln_error_last());

		kiln_error_set(error, "smoke checks through %s (%s): %s", where, base_url, cause);
		free(cause);
	}
	kiln_buf_release(&why);
	free(checks);
	kiln_report_free(own);
	return error;
}
