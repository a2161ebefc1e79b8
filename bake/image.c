/*
 * The image made from the builder (stop, CreateImage with kiln's tags, wait
 * until available), an unfinished one dropped, and the bake's cleanup.
 */
#include "aws/ec2.h"
#include "bake/pipeline-int.h"
#include "bake/poll.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/log.h"
#include "core/util.h"

#include <string.h>

#define CLEANUP_TIMEOUT 300

/* The profile's own tags, which every resource carries. */
static void profile_tags(struct kiln_aws_tags *t, const struct kiln_profile *p)
{
	size_t i;

	for (i = 0; i < p->ntags; i++)
		kiln_aws_tags_add(t, p->tags[i].key, p->tags[i].value);
}

static void cleanup_failed(const char *what, const char *id)
{
	char *msg = kiln_log_redact(kiln_error_last());

	kiln_log_error("cleanup: cannot delete %s %s: %s", what, id, msg);
	free(msg);
}

static int wait_instance_state(struct bake *b, const char *want)
{
	const char *ids[] = {b->builder.instance_id};
	struct kiln_ec2_describe d = {.ids = ids, .n_ids = 1};
	struct kiln_poll poll;
	int error;

	kiln_poll_start(&poll, kiln_bake__left(b), b->stop);
	for (;;) {
		struct kiln_ec2_instance_list *l = NULL;
		int done;
		error = kiln_ec2_describe_instances(&l, b->aws, &d);
		if (error < 0)
			return error;
		done = l->n > 0 && l->v[0].state != NULL && strcmp(l->v[0].state, want) == 0;
		kiln_ec2_instance_list_free(l);
		if (done)
			return 0;
		error = kiln_poll_wait(&poll, "the builder to stop");
		if (error < 0)
			return error;
	}
}

static void image_tags(struct kiln_aws_tags *t, struct bake *b)
{
	size_t i;

	profile_tags(t, b->profile);
	kiln_aws_tags_add(t, "kiln:profile", b->profile->name);
	if (b->profile->env != NULL)
		kiln_aws_tags_add(t, "kiln:env", b->profile->env);
	kiln_aws_tags_add(t, "kiln:bake-key", b->key);
	for (i = 0; i < b->profile->nlayers; i++) {
		const struct kiln_layer *l = b->layers[i];
		char *ref, *commit;
		if (strcmp(l->name, "app") != 0 && strcmp(l->name, "os") != 0)
			continue;
		ref = kiln_xasprintf("kiln:%s-ref", l->name);
		commit = kiln_xasprintf("kiln:%s-commit", l->name);
		kiln_aws_tags_add(t, ref, l->ref);
		kiln_aws_tags_add(t, commit, l->commit);
		free(ref);
		free(commit);
	}
	kiln_aws_tags_add(t, "kiln:source-image", b->source_image_id);
	kiln_aws_tags_add(t, "kiln:version", kiln_version());
	kiln_aws_tags_add(t, "kiln:managed", "true");
}

static int wait_image(struct bake *b)
{
	const char *ids[] = {b->image_id};
	struct kiln_ec2_describe d = {.ids = ids, .n_ids = 1};
	struct kiln_poll poll;
	int error;

	kiln_poll_start(&poll, kiln_bake__left(b), b->stop);
	for (;;) {
		struct kiln_ec2_image_list *l = NULL;
		const char *state;
		error = kiln_ec2_describe_images(&l, b->aws, &d);
		if (error == KILN_ENOTFOUND) {
			kiln_error_clear();
			error = 0;
		}
		if (error < 0)
			return error;
		state = l->n > 0 ? l->v[0].state : NULL;
		if (state != NULL && strcmp(state, "available") == 0) {
			kiln_ec2_image_list_free(l);
			return 0;
		}
		if (state != NULL && (strcmp(state, "failed") == 0 || strcmp(state, "error") == 0 ||
		                      strcmp(state, "invalid") == 0)) {
			error = kiln_error_set(KILN_ERROR, "image %s is %s", b->image_id, state);
			kiln_ec2_image_list_free(l);
			return error;
		}
		kiln_ec2_image_list_free(l);
		error = kiln_poll_wait(&poll, "the image to be available");
		if (error < 0)
			return error;
	}
}

/*
 * Image names are unique per account and region. A forced rebake of the same
 * key would take the name of the image it replaces: it gets the run id after
 * the name instead (found first, not by trying).
 */
static int free_name(struct bake *b)
{
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	const char *owners[] = {"self"};
	struct kiln_ec2_describe d = {.owners = owners, .n_owners = 1, .filters = &f};
	struct kiln_ec2_image_list *l = NULL;
	int error;

	kiln_aws_filters_add(&f, "name", b->m->image_name);
	error = kiln_ec2_describe_images(&l, b->aws, &d);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		error = 0;
	}
	if (error >= 0 && l != NULL && l->n > 0) {
		char *name =
		    kiln_xasprintf("%.*s-%s", 100, b->m->image_name, b->run_id + strlen("bake-"));
		kiln_bake__say(b, "image name %s is taken (--force): naming the new one %s",
		               b->m->image_name, name);
		free(b->m->image_name);
		b->m->image_name = name;
	}
	kiln_aws_filters_release(&f);
	kiln_ec2_image_list_free(l);
	return error;
}

int kiln_bake__image_create(struct bake *b)
{
	const char *ids[] = {b->builder.instance_id};
	struct kiln_aws_tags tags = KILN_AWS_LIST_INIT;
	struct kiln_ec2_tag_spec specs[] = {{"image", &tags}, {"snapshot", &tags}};
	struct kiln_ec2_block_device dev = {.encrypted = 1, .delete_on_termination = -1};
	struct kiln_ec2_create_image o = {.instance_id = b->builder.instance_id,
	                                  .name = b->m->image_name,
	                                  .no_reboot = -1,
	                                  .tag_specs = specs,
	                                  .n_tag_specs = KILN_ARRAY_SIZE(specs)};
	char *desc = NULL;
	int error;

	kiln_bake__say(b, "stopping the builder");
	error = kiln_ec2_stop_instances(NULL, b->aws, ids, 1, 0);
	if (error >= 0)
		error = wait_instance_state(b, "stopped");
	if (error < 0)
		goto done;
	image_tags(&tags, b);
	desc = kiln_xasprintf("kiln bake of %s, key %s", b->profile->name, b->key);
	o.description = desc;
	/* Encrypted at creation: no unencrypted copy ever exists. */
	if (b->bake->encrypted) {
		dev.device_name = b->root_device;
		dev.kms_key_id = b->bake->kms_key_id;
		o.devices = &dev;
		o.n_devices = 1;
	}
	error = free_name(b);
	if (error < 0)
		goto done;
	o.name = b->m->image_name;
	error = kiln_bake__journal(b, "intent", "image", o.name, NULL);
	if (error < 0)
		goto done;
	kiln_bake__say(b, "creating image %s", o.name);
	error = kiln_ec2_create_image(&b->image_id, b->aws, &o);
	if (error < 0)
		goto done;
	error = kiln_bake__journal(b, "created", "image", o.name, b->image_id);
	if (error >= 0)
		error = wait_image(b);
	if (error >= 0)
		kiln_bake__say(b, "image %s is available", b->image_id);
done:
	free(desc);
	kiln_aws_tags_release(&tags);
	return error;
}

/* Deregister an unfinished image and delete the snapshots it made. */
static void drop_image(struct bake *b)
{
	const char *ids[] = {b->image_id};
	struct kiln_ec2_describe d = {.ids = ids, .n_ids = 1};
	struct kiln_ec2_image_list *l = NULL;
	struct kiln_poll poll;
	size_t i;

	/*
	 * An image still being created cannot always be deregistered, and its
	 * snapshots are known only once it is done: wait it out (bounded).
	 */
	kiln_poll_start(&poll, CLEANUP_TIMEOUT, NULL);
	for (;;) {
		kiln_ec2_image_list_free(l);
		l = NULL;
		if (kiln_ec2_describe_images(&l, b->aws, &d) < 0) {
			kiln_error_clear();
			break;
		}
		if (l->n == 0 || l->v[0].state == NULL || strcmp(l->v[0].state, "pending") != 0)
			break;
		if (kiln_poll_wait(&poll, "the unfinished image") < 0)
			break;
	}
	if (kiln_ec2_deregister_image(b->aws, b->image_id) < 0) {
		cleanup_failed("image", b->image_id);
		goto done;
	}
	kiln_bake__journal(b, "deleted", "image", NULL, b->image_id);
	for (i = 0; l != NULL && l->n > 0 && i < l->v[0].n_devices; i++) {
		const char *snap = l->v[0].devices[i].snapshot_id;
		if (snap == NULL)
			continue;
		if (kiln_ec2_delete_snapshot(b->aws, snap) < 0)
			cleanup_failed("snapshot", snap);
		else
			kiln_bake__journal(b, "deleted", "snapshot", NULL, snap);
	}
done:
	kiln_ec2_image_list_free(l);
}

void kiln_bake__cleanup(struct bake *b, int failed)
{
	char *saved = kiln_xstrdup(kiln_error_last());
	int saved_code = kiln_error_last_code();

	if (failed && b->opts->keep_on_error && (kiln_builder_made(&b->builder) || b->image_id)) {
		kiln_ssh_session_free(b->builder.ssh);
		b->builder.ssh = NULL;
		/* The run's journal names its target: gc needs only the run id. */
		kiln_bake__say(b,
		               "--on-error abort: left builder %s, key pair %s, security group %s "
		               "for debugging; remove them with: kiln gc --run-id %s",
		               b->builder.instance_id ? b->builder.instance_id : "(none)",
		               b->builder.key_name ? b->builder.key_name : "(none)",
		               b->builder.group_id ? b->builder.group_id : "(none)", b->run_id);
		goto done;
	}
	if (kiln_builder_made(&b->builder))
		kiln_bake__say(b, "cleaning up the builder's temporaries");
	/* An image that never became available is no use to anyone. */
	if (failed && b->image_id != NULL)
		drop_image(b);
	kiln_builder_cleanup(&b->builder);
done:
	/* The bake's own error is what the caller reports. */
	if (failed)
		kiln_error_set(saved_code, "%s", saved);
	else
		kiln_error_clear();
	free(saved);
}
