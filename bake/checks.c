/*
 * The profile's checks on the builder (DESIGN.md section 7), run by
 * validate/runner.c as an image test runs them, with the release being
 * baked in their environment.
 */
#include "bake/pipeline-int.h"
#include "validate/runner.h"

int kiln_bake__checks(struct bake *b)
{
	/* What a check may compare with: the release being baked (no secrets). */
	const struct kiln_ssh_env env[] = {
	    {"KILN_PROFILE", b->profile->name, 0},
	    {"KILN_APP_REF", b->app_ref ? b->app_ref : "", 0},
	    {"KILN_OS_REF", b->os_ref ? b->os_ref : "", 0},
	};
	const struct kiln_checks_opts o = {.env = env,
	                                   .nenv = KILN_ARRAY_SIZE(env),
	                                   .events = &b->events,
	                                   .report = b->report,
	                                   .where = "on the builder",
	                                   .stop = b->stop};

	return kiln_checks_run(&b->builder, &b->profile->validate, &o);
}
