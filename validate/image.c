#include "validate/image.h"
#include "aws/ec2.h"
#include "bake/builder.h"
#include "core/common.h"
#include "core/journal.h"
#include "core/paths.h"
#include "core/util.h"
#include "validate/runner.h"

#include <string.h>

/* The image, which must exist and be available; its tags say what it was baked from. */
static int find_image(struct kiln_aws_tags *tags, struct kiln_aws *aws, const char *image_id)
{
	const char *ids[] = {image_id};
	struct kiln_ec2_describe d = {.ids = ids, .n_ids = 1};
	struct kiln_ec2_image_list *l = NULL;
	int error;
	size_t i;

	error = kiln_ec2_describe_images(&l, aws, &d);
	if (error == KILN_ENOTFOUND || (error >= 0 && l->n == 0)) {
		kiln_ec2_image_list_free(l);
		return kiln_error_set(KILN_ERROR, "no image %s", image_id);
	}
	if (error < 0)
		return error;
	if (l->v[0].state == NULL || strcmp(l->v[0].state, "available") != 0) {
		error = kiln_error_set(KILN_ERROR, "image %s is %s, not available", image_id,
		                       l->v[0].state ? l->v[0].state : "in no known state");
		kiln_ec2_image_list_free(l);
		return error;
	}
	for (i = 0; i < l->v[0].tags.n; i++)
		kiln_aws_tags_add(tags, l->v[0].tags.v[i].key, l->v[0].tags.v[i].value);
	kiln_ec2_image_list_free(l);
	return 0;
}

/* The run's journal, whose first note names the cloud (`kiln gc --run-id` reads it). */
static int open_journal(struct kiln_journal **out, struct kiln_aws *aws, const char *endpoint,
                        const struct kiln_profile *p, const struct kiln_validate_options *o,
                        const char *run_id)
{
	char *dir = NULL, *runs = NULL;
	json_t *note = NULL;
	int error;

	error = kiln_paths_state(&dir, o->state_dir);
	if (error < 0)
		return error;
	runs = kiln_xasprintf("%s/runs", dir);
	error = kiln_journal_open(out, runs, run_id);
	if (error >= 0) {
		note = json_pack("{s:s, s:s?, s:s?, s:s, s:s}", "target", p->target, "region",
		                 kiln_aws_region(aws), "endpoint", endpoint, "profile", p->name,
		                 "image_test", o->image_id);
		if (note == NULL)
			kiln_die("out of memory");
		error = kiln_journal_append(*out, "note", "validate", NULL, NULL, note);
	}
	json_decref(note);
	free(runs);
	free(dir);
	return error;
}

static int test_on(struct kiln_builder *m, const struct kiln_profile *profile,
                   const struct kiln_validate_options *opts, const struct kiln_aws_tags *tags,
                   struct kiln_report *report)
{
	const char *app = opts->app_ref ? opts->app_ref : kiln_aws_tags_get(tags, "kiln:app-ref");
	const char *os = opts->os_ref ? opts->os_ref : kiln_aws_tags_get(tags, "kiln:os-ref");
	const struct kiln_layer_spec *la = kiln_profile_layer(profile, "app");
	const struct kiln_layer_spec *lo = kiln_profile_layer(profile, "os");
	struct kiln_ssh_env env[3] = {{"KILN_PROFILE", profile->name, 0}};
	struct kiln_checks_opts co = {0};
	int error;

	/* Without tags (an image kiln did not bake), the profile's refs. */
	env[1] = (struct kiln_ssh_env){"KILN_APP_REF", app ? app : la ? la->ref : "", 0};
	env[2] = (struct kiln_ssh_env){"KILN_OS_REF", os ? os : lo ? lo->ref : "", 0};
	co.env = env;
	co.nenv = KILN_ARRAY_SIZE(env);
	co.events = m->o.events;
	co.report = report;
	co.where = "on the image";
	co.stop = opts->stop;
	error = kiln_builder_launch(m);
	if (error >= 0)
		error = kiln_builder_wait_running(m);
	if (error >= 0)
		error = kiln_builder_connect(m);
	if (error >= 0)
		error = kiln_checks_run(m, &profile->validate, &co);
	return error;
}

int kiln_image_test(struct kiln_aws *aws, const char *endpoint, const struct kiln_profile *profile,
                    const struct kiln_validate_options *opts, const struct kiln_emitter *events,
                    struct kiln_report *report)
{
	struct kiln_aws_tags tags = KILN_AWS_LIST_INIT;
	struct kiln_journal *journal = NULL;
	struct kiln_builder m;
	struct kiln_builder_opts bo = {0};
	char *run_id = kiln_id_random("validate-", 12);
	int error;

	kiln_emit(events, KILN_EVENT_PROGRESS, NULL,
	          "image check of %s in a throwaway instance (run %s)", opts->image_id, run_id);
	bo.aws = aws;
	bo.profile = profile;
	bo.run_id = run_id;
	bo.what = "instance";
	bo.image_id = opts->image_id;
	bo.ssh_cidr = opts->ssh_cidr;
	bo.deadline = kiln_time_mono() + profile->bake.timeout_s;
	bo.events = events;
	bo.stop = opts->stop;
	kiln_builder_init(&m, &bo);
	error = find_image(&tags, aws, opts->image_id);
	if (error >= 0)
		error = open_journal(&journal, aws, endpoint, profile, opts, run_id);
	if (error >= 0) {
		m.o.journal = journal;
		error = test_on(&m, profile, opts, &tags, report);
		if (kiln_builder_made(&m))
			kiln_emit(
			    events, KILN_EVENT_PROGRESS, NULL,
			    "removing the throwaway instance, its key pair and its security group");
		kiln_builder_cleanup(&m);
	}
	kiln_builder_release(&m);
	kiln_journal_close(journal);
	kiln_aws_tags_release(&tags);
	free(run_id);
	return error;
}
