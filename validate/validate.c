/*
 * kiln_validate() (kiln/validate.h): the policy gate, then the image test
 * and the smoke checks asked for, every result into the caller's report.
 */
#include "bake/target.h"
#include "core/common.h"
#include "core/event.h"
#include "core/util.h"
#include "kiln/policy.h"
#include "kiln/validate.h"
#include "validate/image.h"
#include "validate/report.h"
#include "validate/smoke.h"

#include <string.h>

static const struct kiln_validate_options default_options = KILN_VALIDATE_OPTIONS_INIT;

static int run_policy(struct kiln_report *report, const struct kiln_profile *profile,
                      const struct kiln_validate_options *o)
{
	struct kiln_policy_options po = KILN_POLICY_OPTIONS_INIT;

	po.policy_file = o->policy_file;
	po.app_ref = o->app_ref;
	po.os_ref = o->os_ref;
	po.cache_dir = o->cache_dir;
	po.report = report;
	po.on_event = o->on_event;
	po.payload = o->payload;
	return kiln_policy_check(profile, &po);
}

static int run_image(struct kiln_report *report, const struct kiln_profile *profile,
                     const struct kiln_validate_options *o, struct kiln_emitter *events)
{
	struct kiln_target t = {0};
	struct kiln_aws *aws = NULL;
	char *endpoint = NULL;
	int error;

	t.name = profile->target;
	t.region = profile->region;
	t.local_endpoint = o->local_endpoint;
	t.local_cidr = o->local_cidr;
	t.local_init_exe = o->local_init_exe;
	/* The image lives in a cloud that runs: a fresh local cloud holds no such image. */
	t.start_local = 0;
	error = kiln_target_client(&aws, &endpoint, &t, events);
	if (error >= 0)
		error = kiln_image_test(aws, endpoint, profile, o, events, report);
	kiln_aws_free(aws);
	free(endpoint);
	return error;
}

static int run_smoke(struct kiln_report *report, const struct kiln_profile *profile,
                     const struct kiln_validate_options *o, struct kiln_emitter *events)
{
	struct kiln_smoke_opts so = {0};

	if (profile->deploy.nsmoke == 0) {
		kiln_emit(events, KILN_EVENT_WARNING, NULL,
		          "--url: the profile has no deploy.smoke checks to run");
		return 0;
	}
	so.base_url = o->url;
	so.report = report;
	so.events = events;
	so.stop = o->stop;
	return kiln_smoke_run(profile->deploy.smoke, profile->deploy.nsmoke, &so);
}

static const struct kiln_smoke_options default_smoke_options = KILN_SMOKE_OPTIONS_INIT;

int kiln_validate_smoke(struct kiln_report *report, const struct kiln_profile *profile,
                        const char *base_url, const struct kiln_smoke_options *opts)
{
	struct kiln_emitter events = {0};
	struct kiln_smoke_opts so = {0};

	KILN_ASSERT_ARG(profile != NULL && base_url != NULL);
	if (opts == NULL)
		opts = &default_smoke_options;
	KILN_ASSERT_ARG(opts->version >= 1 && opts->version <= KILN_SMOKE_OPTIONS_VERSION);
	if (kiln_smoke_check_url(base_url) < 0)
		return KILN_EINVAL;
	if (report != NULL)
		kiln_report_subject(report, profile->name, profile->env);
	events.cb = opts->on_event;
	events.payload = opts->payload;
	events.base.stage = opts->event_stage != NULL ? opts->event_stage : "smoke";
	events.base.profile = profile->name;
	events.base.env = profile->env;
	so.base_url = base_url;
	so.report = report;
	so.events = &events;
	so.stop = opts->stop;
	return kiln_smoke_run(profile->deploy.smoke, profile->deploy.nsmoke, &so);
}

/* Keep the first failure's code, and every failure's message. */
static void keep(int *first, struct kiln_buf *why, int error)
{
	if (error >= 0)
		return;
	if (*first >= 0)
		*first = error;
	kiln_buf_printf(why, "%s%s", why->size ? "\n" : "", kiln_error_last());
}

int kiln_validate(struct kiln_report *report, struct kiln_profile *profile,
                  const struct kiln_validate_options *opts)
{
	struct kiln_emitter events = {0};
	struct kiln_buf why = KILN_BUF_INIT;
	int error, first = 0;

	KILN_ASSERT_ARG(report != NULL && profile != NULL);
	if (opts == NULL)
		opts = &default_options;
	KILN_ASSERT_ARG(opts->version >= 1 && opts->version <= KILN_VALIDATE_OPTIONS_VERSION);
	events.cb = opts->on_event;
	events.payload = opts->payload;
	events.base.stage = "validate";
	events.base.profile = profile->name;
	events.base.env = profile->env;
	events.base.image_id = opts->image_id;
	kiln_report_subject(report, profile->name, profile->env);
	error = kiln_emitter_begin(&events);
	/* Bad input and the policy first: on either nothing else runs, no cloud is called. */
	if (error >= 0 && opts->url != NULL)
		error = kiln_smoke_check_url(opts->url);
	if (error >= 0)
		error = run_policy(report, profile, opts);
	if (error < 0)
		goto done;
	if (opts->image_id != NULL) {
		error = run_image(report, profile, opts, &events);
		if (error == KILN_EINTR)
			goto done;
		keep(&first, &why, error);
	}
	if (opts->url != NULL) {
		error = run_smoke(report, profile, opts, &events);
		if (error == KILN_EINTR || error == KILN_EINVAL)
			goto done;
		keep(&first, &why, error);
	}
	error = first;
	if (error < 0)
		kiln_error_set(error, "%s", why.ptr);
done:
	kiln_emitter_end(&events, error);
	kiln_buf_release(&why);
	return error;
}
