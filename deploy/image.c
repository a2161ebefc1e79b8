/*
 * The image a deploy rolls out: the one given, or the one kiln bake made
 * for the profile's inputs as they are now (its kiln:bake-key), found
 * without baking. Its tags name the release and the app's commit.
 */
#include "aws/ec2.h"
#include "bake/manifest.h"
#include "bake/pipeline.h"
#include "core/buf.h"
#include "deploy/deploy-int.h"

#include <string.h>

int kiln_deploy__image_tags(struct kiln_aws_tags *out, struct deploy *d, const char *image_id)
{
	struct kiln_ec2_image_list *l = NULL;
	const char *ids[] = {image_id};
	struct kiln_ec2_describe q = {.ids = ids, .n_ids = 1};
	size_t i;
	int error;

	error = kiln_ec2_describe_images(&l, d->aws, &q);
	if (error >= 0 &&
	    (l->n == 0 || l->v[0].state == NULL || strcmp(l->v[0].state, "available") != 0))
		error = kiln_error_set(KILN_ENOTFOUND, "image %s is not available", image_id);
	for (i = 0; error >= 0 && i < l->v[0].tags.n; i++)
		kiln_aws_tags_add(out, l->v[0].tags.v[i].key, l->v[0].tags.v[i].value);
	kiln_ec2_image_list_free(l);
	return error < 0 ? kiln_error_prefix(error, "image '%s'", image_id) : 0;
}

static int baked_image(char **image_id, struct deploy *d)
{
	struct kiln_bake_options bo = KILN_BAKE_OPTIONS_INIT;
	struct kiln_manifest m;
	int error;

	bo.app_ref = d->opts->app_ref;
	bo.os_ref = d->opts->os_ref;
	bo.cache_dir = d->opts->cache_dir;
	bo.state_dir = d->opts->state_dir;
	bo.stop = d->stop;
	kiln_manifest_init(&m);
	error = kiln_bake_lookup_run(&m, d->aws, d->profile, &bo);
	if (error >= 0) {
		char *shown = kiln_escape(m.image_name ? m.image_name : "");
		kiln_deploy__say(d,
		                 "image %s (%s) has the bake key of the profile's inputs (%.12s)",
		                 m.image_id, shown, m.bake_key);
		free(shown);
		*image_id = m.image_id;
		m.image_id = NULL;
	}
	kiln_manifest_release(&m);
	return error;
}

/* "app=SHA os=SHA" from the image's kiln:LAYER-commit tags, or NULL. */
static char *layer_commits(const struct kiln_aws_tags *tags)
{
	struct kiln_buf list = KILN_BUF_INIT;
	size_t i;

	for (i = 0; i < tags->n; i++) {
		const char *k = tags->v[i].key;
		size_t n = strlen(k);

		if (strncmp(k, "kiln:", 5) != 0 || n <= 12 || strcmp(k + n - 7, "-commit") != 0)
			continue;
		kiln_buf_printf(&list, "%s%.*s=%s", list.size ? " " : "", (int)(n - 12), k + 5,
		                tags->v[i].value);
	}
	return list.size > 0 ? kiln_buf_detach(&list) : (kiln_buf_release(&list), NULL);
}

int kiln_deploy__image(char **image_id, char **release, char **app_commit, char **commits,
                       struct deploy *d)
{
	struct kiln_aws_tags tags = KILN_AWS_LIST_INIT;
	const char *rel, *commit;
	int error = 0;

	*image_id = *release = *app_commit = *commits = NULL;
	if (d->opts->image_id != NULL)
		*image_id = kiln_xstrdup(d->opts->image_id);
	else
		error = baked_image(image_id, d);
	if (error >= 0)
		error = kiln_deploy__image_tags(&tags, d, *image_id);
	if (error < 0)
		goto done;
	rel = d->opts->release != NULL   ? d->opts->release
	      : d->opts->app_ref != NULL ? d->opts->app_ref
	      : kiln_aws_tags_get(&tags, "kiln:app-ref") != NULL
	          ? kiln_aws_tags_get(&tags, "kiln:app-ref")
	          : *image_id;
	*release = kiln_xstrdup(rel);
	commit = kiln_aws_tags_get(&tags, "kiln:app-commit");
	*app_commit = commit != NULL ? kiln_xstrdup(commit) : NULL;
	*commits = layer_commits(&tags);
done:
	kiln_aws_tags_release(&tags);
	if (error < 0) {
		free(*image_id);
		*image_id = NULL;
	}
	return error;
}
